/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Resharding: the plans of SplitShard, MergeShards and UpdateShardCount and the driver of their
 * persisted state machine (control/catalog_reshard.c).
 *
 * The operations (ctl_streams.c) only validate and begin: the stream goes UPDATING and a
 * pending reshard is written. Everything after is driven by the dataplane's "applied"
 * acknowledgements, so each step starts from a catalog state the dataplane already serves:
 *   pending, applied  -> switch: parents closed, children inserted (one transaction);
 *   switched, applied -> finish: ACTIVE again.
 * Killing spate-control anywhere leaves the last committed step; the next "applied" after a
 * restart continues from it. A pending reshard whose plan no longer fits the catalog (it
 * cannot happen while the stream is UPDATING, but a catalog edited by hand could) is rolled
 * back: nothing was closed, the stream goes back to ACTIVE.
 *
 * A plan is a sequence of splits and merges over the stream's open shards, sorted by hash key:
 * a split closes one shard and opens two, a merge closes two adjacent ones and opens one. All
 * of one plan commit together: UpdateShardCount's intermediate shards (opened and closed by the
 * same plan) are closed at birth, hold no record, and keep the lineage exact (a child has at
 * most two parents, as Kinesis requires). New open shards go to the workers with the least
 * measured load (ctl_balance.h; a child is expected to carry its parents' load by its share of
 * their hash keys), then the fewest open shards, then the lowest worker.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spate/assert.h>
#include <spate/seqno.h>

#include "catalog.h"
#include "ctl_balance.h"
#include "ctl_log.h"
#include "ctl_reshard.h"
#include "ctl_streams.h"

#define RS_ID_BYTES 32

struct rs_shard {
	sp_u128 start;
	sp_u128 end;
	int64_t index;
	int owner;
	int add; /* position in the plan's add list; -1: an existing shard */
	char id[RS_ID_BYTES];
};

struct rs_plan {
	/* the stream's open shards as the plan goes, sorted by start */
	struct rs_shard *w;
	size_t nw;
	size_t cap;
	/* the stream's open shards before the plan (their measured loads place the children) */
	struct rs_shard *orig;
	size_t norig;
	/* what the switch commits */
	int64_t *close_index;
	char (*close_seq)[SP_U128_DEC_MAX + 1];
	size_t nclose;
	struct sp_cat_shard *add;
	struct {
		char id[RS_ID_BYTES];
		char start[SP_U128_DEC_MAX + 1];
		char end[SP_U128_DEC_MAX + 1];
		char seq[SP_U128_DEC_MAX + 1];
		char ending[SP_U128_DEC_MAX + 1];
		char parent[RS_ID_BYTES];
		char adjacent[RS_ID_BYTES];
	} * txt;
	size_t nadd;
	size_t addcap;
	int64_t next_index;
	uint32_t epoch;
	uint32_t tag;
};

int
sp_ctl_shard_index(const char *s, int64_t *idx)
{
	const char *d = strrchr(s, '-');
	int64_t v = 0;

	d = d != NULL ? d + 1 : s;
	if (*d == '\0') {
		return -EINVAL;
	}
	for (; *d != '\0'; d++) {
		if (*d < '0' || *d > '9') {
			return -EINVAL;
		}
		v = v * 10 + (*d - '0');
		if (v > 2147483647) {
			return -EINVAL;
		}
	}
	*idx = v;
	return 0;
}

static int rs_grow_w(struct rs_plan *p);

/* A catalog row's hash range. 0 or -EINVAL. */
static int
rs_range(const struct sp_cat_shard_row *row, sp_u128 *start, sp_u128 *end)
{
	if (row->starting_hash_key == NULL || row->ending_hash_key == NULL ||
	    sp_u128_parse(row->starting_hash_key, strlen(row->starting_hash_key), start) != 0 ||
	    sp_u128_parse(row->ending_hash_key, strlen(row->ending_hash_key), end) != 0) {
		return -EINVAL;
	}
	return 0;
}

static int
rs_load_one(void *arg, const struct sp_cat_shard_row *row)
{
	struct rs_plan *p = arg;
	struct rs_shard *s;

	if (row->ending_seq != NULL) {
		return 0;
	}
	if (rs_grow_w(p) != 0) {
		return -ENOMEM;
	}
	s = &p->w[p->nw];
	memset(s, 0, sizeof(*s));
	if (rs_range(row, &s->start, &s->end) != 0) {
		return -EINVAL;
	}
	s->index = row->index;
	s->owner = row->owner_lcore;
	s->add = -1;
	snprintf(s->id, sizeof(s->id), "%s", row->shard_id);
	p->nw++;
	return 0;
}
static int
rs_cmp_start(const void *a, const void *b)
{
	const struct rs_shard *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static void
rs_free(struct rs_plan *p)
{
	free(p->w);
	free(p->orig);
	free(p->close_index);
	free(p->close_seq);
	free(p->add);
	free(p->txt);
	memset(p, 0, sizeof(*p));
}

/* Load the open shards of stream into p, sorted by start; they must tile the hash space. */
static int
rs_load(struct sp_cat *cat, const struct sp_cat_stream_row *st, struct rs_plan *p)
{
	int rc;

	memset(p, 0, sizeof(*p));
	p->next_index = st->next_shard_index;
	p->tag = st->stream_tag;
	rc = sp_cat_epoch(cat, &p->epoch);
	if (rc == 0) {
		rc = sp_cat_shard_foreach(cat, st->name, NULL, rs_load_one, p);
	}
	if (rc != 0) {
		return rc;
	}
	qsort(p->w, p->nw, sizeof(*p->w), rs_cmp_start);
	for (size_t i = 0; i < p->nw; i++) {
		sp_u128 want = i == 0 ? 0 : p->w[i - 1].end + 1;

		if (p->w[i].start != want || p->w[i].end < p->w[i].start) {
			return -EINVAL;
		}
	}
	if (p->nw == 0 || p->w[p->nw - 1].end != ~(sp_u128)0) {
		return -EINVAL;
	}
	p->orig = malloc(p->nw * sizeof(*p->orig));
	if (p->orig == NULL) {
		return -ENOMEM;
	}
	memcpy(p->orig, p->w, p->nw * sizeof(*p->orig));
	p->norig = p->nw;
	return 0;
}

static sp_u128
rs_seq(const struct rs_plan *p, int64_t index, uint64_t counter)
{
	struct sp_seqno_fields f = {.epoch = p->epoch,
				    .counter = counter,
				    .stream_tag = p->tag,
				    .shard_index = (uint32_t)index};

	return sp_seqno_pack(&f);
}

/* Close the open shard s (an existing one, or one this plan opened). */
static int
rs_close(struct rs_plan *p, const struct rs_shard *s)
{
	sp_u128 end = rs_seq(p, s->index, SP_SEQNO_COUNTER_MAX);

	if (s->add >= 0) {
		sp_u128_format(end, p->txt[s->add].ending);
		p->add[s->add].ending_seq = p->txt[s->add].ending;
		return 0;
	}
	void *ci = realloc(p->close_index, (p->nclose + 1) * sizeof(*p->close_index));

	if (ci == NULL) {
		return -ENOMEM;
	}
	p->close_index = ci;
	void *cs = realloc(p->close_seq, (p->nclose + 1) * sizeof(*p->close_seq));

	if (cs == NULL) {
		return -ENOMEM;
	}
	p->close_seq = cs;
	p->close_index[p->nclose] = s->index;
	sp_u128_format(end, p->close_seq[p->nclose]);
	p->nclose++;
	return 0;
}

/* Open a new shard [start, end] with its parents; *out describes it. */
static int
rs_open(struct rs_plan *p, sp_u128 start, sp_u128 end, const struct rs_shard *parent,
	const struct rs_shard *adjacent, struct rs_shard *out)
{
	if (p->nadd == p->addcap) {
		size_t cap = p->addcap != 0 ? p->addcap * 2 : 8;
		struct sp_cat_shard *add = realloc(p->add, cap * sizeof(*add));

		if (add == NULL) {
			return -ENOMEM;
		}
		p->add = add;
		void *txt = realloc(p->txt, cap * sizeof(*p->txt));

		if (txt == NULL) {
			return -ENOMEM;
		}
		p->txt = txt;
		p->addcap = cap;
		/* the rows point into txt, which may have moved */
		for (size_t i = 0; i < p->nadd; i++) {
			p->add[i].shard_id = p->txt[i].id;
			p->add[i].starting_hash_key = p->txt[i].start;
			p->add[i].ending_hash_key = p->txt[i].end;
			p->add[i].starting_seq = p->txt[i].seq;
			p->add[i].parent_shard_id = p->txt[i].parent;
			p->add[i].adjacent_parent_shard_id =
			    p->txt[i].adjacent[0] != '\0' ? p->txt[i].adjacent : NULL;
			p->add[i].ending_seq =
			    p->txt[i].ending[0] != '\0' ? p->txt[i].ending : NULL;
		}
	}
	size_t k = p->nadd++;

	memset(&p->txt[k], 0, sizeof(p->txt[k]));
	memset(out, 0, sizeof(*out));
	out->start = start;
	out->end = end;
	out->index = p->next_index++;
	out->owner = parent->owner;
	out->add = (int)k;
	snprintf(out->id, sizeof(out->id), "shardId-%012lld", (long long)out->index);
	snprintf(p->txt[k].id, sizeof(p->txt[k].id), "%s", out->id);
	sp_u128_format(start, p->txt[k].start);
	sp_u128_format(end, p->txt[k].end);
	sp_u128_format(rs_seq(p, out->index, 0), p->txt[k].seq);
	snprintf(p->txt[k].parent, sizeof(p->txt[k].parent), "%s", parent->id);
	if (adjacent != NULL) {
		snprintf(p->txt[k].adjacent, sizeof(p->txt[k].adjacent), "%s", adjacent->id);
	}
	p->add[k] = (struct sp_cat_shard){
	    .shard_id = p->txt[k].id,
	    .starting_hash_key = p->txt[k].start,
	    .ending_hash_key = p->txt[k].end,
	    .parent_shard_id = p->txt[k].parent,
	    .adjacent_parent_shard_id = adjacent != NULL ? p->txt[k].adjacent : NULL,
	    .starting_seq = p->txt[k].seq,
	    .owner_lcore = out->owner,
	    .index = out->index,
	};
	return 0;
}

static int
rs_grow_w(struct rs_plan *p)
{
	if (p->nw < p->cap) {
		return 0;
	}
	size_t cap = p->cap != 0 ? p->cap * 2 : 16;
	struct rs_shard *w = realloc(p->w, cap * sizeof(*w));

	if (w == NULL) {
		return -ENOMEM;
	}
	p->w = w;
	p->cap = cap;
	return 0;
}

/* Split open shard w[i] at k (w[i].start < k <= w[i].end): two children replace it. */
static int
rs_split(struct rs_plan *p, size_t i, sp_u128 k)
{
	struct rs_shard s, lo, hi;
	int rc;

	SP_VERIFY(i < p->nw && p->w[i].start < k && k <= p->w[i].end);
	s = p->w[i];
	rc = rs_grow_w(p);
	if (rc == 0) {
		rc = rs_close(p, &s);
	}
	if (rc == 0) {
		rc = rs_open(p, s.start, k - 1, &s, NULL, &lo);
	}
	if (rc == 0) {
		rc = rs_open(p, k, s.end, &s, NULL, &hi);
	}
	if (rc != 0) {
		return rc;
	}
	memmove(&p->w[i + 2], &p->w[i + 1], (p->nw - i - 1) * sizeof(*p->w));
	p->w[i] = lo;
	p->w[i + 1] = hi;
	p->nw++;
	return 0;
}

/* Merge open shards w[i] and w[i + 1]: one child replaces them. */
static int
rs_merge(struct rs_plan *p, size_t i)
{
	struct rs_shard a, b, c;
	int rc;

	SP_VERIFY(i + 1 < p->nw && p->w[i].end + 1 == p->w[i + 1].start);
	a = p->w[i];
	b = p->w[i + 1];
	rc = rs_close(p, &a);
	if (rc == 0) {
		rc = rs_close(p, &b);
	}
	if (rc == 0) {
		rc = rs_open(p, a.start, b.end, &a, &b, &c);
	}
	if (rc != 0) {
		return rc;
	}
	p->w[i] = c;
	memmove(&p->w[i + 1], &p->w[i + 2], (p->nw - i - 2) * sizeof(*p->w));
	p->nw--;
	return 0;
}

static ssize_t
rs_find_index(const struct rs_plan *p, int64_t index)
{
	for (size_t i = 0; i < p->nw; i++) {
		if (p->w[i].index == index) {
			return (ssize_t)i;
		}
	}
	return -1;
}

/* The open shard holding hash h (they tile the space). */
static size_t
rs_find_hash(const struct rs_plan *p, sp_u128 h)
{
	size_t lo = 0, hi = p->nw;

	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (p->w[mid].start <= h) {
			lo = mid;
		} else {
			hi = mid;
		}
	}
	SP_ASSERT(p->w[lo].start <= h && h <= p->w[lo].end);
	return lo;
}

/* UpdateShardCount: split at every target boundary, then merge within every target range. */
static int
rs_scale(struct rs_plan *p, uint32_t target)
{
	int rc = 0;

	for (uint32_t t = 1; rc == 0 && t < target; t++) {
		sp_u128 b, e;
		size_t i;

		sp_ctl_kinesis_hash_range(target, t, &b, &e);
		i = rs_find_hash(p, b);
		if (p->w[i].start != b) {
			rc = rs_split(p, i, b);
		}
	}
	for (uint32_t t = 0; rc == 0 && t < target; t++) {
		sp_u128 b, e;
		size_t i;

		sp_ctl_kinesis_hash_range(target, t, &b, &e);
		i = rs_find_hash(p, b);
		SP_VERIFY(p->w[i].start == b);
		while (rc == 0 && p->w[i].end != e) {
			SP_VERIFY(p->w[i].end < e);
			rc = rs_merge(p, i);
		}
	}
	SP_VERIFY(rc != 0 || p->nw == target);
	return rc;
}

int
sp_ctl_reshard_scale_splits(struct sp_cat *cat, const struct sp_cat_stream_row *st,
			    uint32_t target, uint32_t *splits)
{
	struct rs_plan p;
	int rc = rs_load(cat, st, &p);

	*splits = 0;
	for (uint32_t t = 1; rc == 0 && t < target; t++) {
		sp_u128 b, e;

		sp_ctl_kinesis_hash_range(target, t, &b, &e);
		*splits += p.w[rs_find_hash(&p, b)].start != b; /* not a shard start yet */
	}
	rs_free(&p);
	return rc;
}

/* Hash keys in [start, end] as a double (2^128 keys do not fit an sp_u128). */
static double
rs_keys(sp_u128 start, sp_u128 end)
{
	return (double)(end - start) + 1.0;
}

/*
 * The load a new shard is expected to carry: its share, by hash keys, of the measured load of
 * each shard the stream had open before the plan (a split's child half its parent's, a
 * merge's child both parents').
 */
static double
rs_expected(const struct sp_ctl_kctx *ctx, const char *stream, const struct rs_plan *p,
	    const struct rs_shard *s)
{
	double e = 0;

	for (size_t i = 0; ctx->load != NULL && i < p->norig; i++) {
		const struct rs_shard *o = &p->orig[i];
		sp_u128 lo = SP_MAX(o->start, s->start);
		sp_u128 hi = SP_MIN(o->end, s->end);

		if (lo <= hi) {
			e += sp_ctl_load_of(ctx->load, stream, o->index) * rs_keys(lo, hi) /
			     rs_keys(o->start, o->end);
		}
	}
	return e;
}

/*
 * Give each shard the plan left open to a worker: the least measured load, then the fewest
 * open shards, then the lowest worker (sp_ctl_owner_pick()), counting every other stream's
 * open shards, this stream's shards that stay, and the new shards placed before.
 */
static int
rs_owners(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const char *stream, struct rs_plan *p)
{
	double load[SP_CTL_MAX_WORKERS];
	int64_t count[SP_CTL_MAX_WORKERS];
	unsigned n = SP_MIN(ctx->n_workers, SP_CTL_MAX_WORKERS);
	int rc;

	SP_VERIFY(n >= 1);
	/* the other streams' open shards, then what this stream keeps where it is */
	rc = sp_ctl_worker_loads(cat, ctx->load, stream, n, load, count, NULL);
	if (rc != 0) {
		return rc;
	}
	for (size_t i = 0; i < p->nw; i++) {
		if (p->w[i].add < 0 && p->w[i].owner >= 0 && (unsigned)p->w[i].owner < n) {
			load[p->w[i].owner] += sp_ctl_load_of(ctx->load, stream, p->w[i].index);
			count[p->w[i].owner]++;
		}
	}
	for (size_t i = 0; i < p->nw; i++) {
		struct rs_shard *s = &p->w[i];

		if (s->add < 0) {
			continue;
		}
		s->owner = (int)sp_ctl_owner_pick(load, count, n, rs_expected(ctx, stream, p, s));
		p->add[s->add].owner_lcore = s->owner;
	}
	return 0;
}

/* Build the plan of reshard r on the stream's current shards. -ESTALE: it no longer fits. */
static int
rs_build(const struct sp_cat_reshard *r, struct rs_plan *p)
{
	int64_t a = 0, b = 0;
	sp_u128 k;
	ssize_t i, j;

	if (strcmp(r->op, "split") == 0) {
		if (sp_ctl_shard_index(r->arg1, &a) != 0 ||
		    sp_u128_parse(r->arg2, strlen(r->arg2), &k) != 0) {
			return -ESTALE;
		}
		i = rs_find_index(p, a);
		if (i < 0 || k <= p->w[i].start || k > p->w[i].end) {
			return -ESTALE;
		}
		return rs_split(p, (size_t)i, k);
	}
	if (strcmp(r->op, "merge") == 0) {
		if (sp_ctl_shard_index(r->arg1, &a) != 0 || sp_ctl_shard_index(r->arg2, &b) != 0) {
			return -ESTALE;
		}
		i = rs_find_index(p, a);
		j = rs_find_index(p, b);
		if (i < 0 || j != i + 1) {
			return -ESTALE;
		}
		return rs_merge(p, (size_t)i);
	}
	if (strcmp(r->op, "scale") == 0) {
		if (sp_ctl_shard_index(r->arg1, &a) != 0 || a < 1 ||
		    a > SP_CTL_K_SHARDS_PER_STREAM_MAX) {
			return -ESTALE;
		}
		return rs_scale(p, (uint32_t)a);
	}
	return -ESTALE;
}

/* The switch step of a pending reshard; a plan that no longer fits rolls it back. */
static int
rs_switch(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct sp_cat_reshard *r)
{
	struct sp_cat_stream_row *st = malloc(sizeof(*st));
	struct rs_plan p;
	int rc = st == NULL ? -ENOMEM : sp_cat_stream_get(cat, r->stream, st);

	memset(&p, 0, sizeof(p));
	if (rc == 0 && strcmp(st->status, "UPDATING") != 0) {
		rc = -ESTALE; /* being deleted: nothing to reshard */
	}
	if (rc == 0) {
		rc = rs_load(cat, st, &p);
	}
	if (rc == 0) {
		/*
		 * The children number in an epoch of their own, above every epoch in use, so each
		 * of their numbers is above each of their parents' (SequenceNumberForOrdering
		 * across a reshard; seqno.md). A switch that fails after this wastes one epoch.
		 */
		rc = sp_cat_epoch_next(cat, &p.epoch);
	}
	if (rc == 0) {
		rc = rs_build(r, &p);
	}
	if (rc == 0) {
		rc = rs_owners(cat, ctx, r->stream, &p);
	}
	if (rc == 0) {
		const char **seqs = calloc(p.nclose + 1, sizeof(*seqs));
		struct sp_cat_reshard_switch sw = {
		    .stream = r->stream,
		    .now_ms = ctx->now_ms,
		    .nclose = p.nclose,
		    .close_index = p.close_index,
		    .close_seq = seqs,
		    .nadd = p.nadd,
		    .add = p.add,
		    .next_shard_index = p.next_index,
		};

		for (size_t i = 0; seqs != NULL && i < p.nclose; i++) {
			seqs[i] = p.close_seq[i];
		}
		rc = seqs == NULL ? -ENOMEM : sp_cat_reshard_switch(cat, &sw);
		free(seqs);
		if (rc == 0) {
			SP_CTL_INFO("reshard %s of %s (%s %s): %zu shard(s) closed, %zu opened, "
				    "%zu open now",
				    r->op, r->stream, r->arg1, r->arg2, p.nclose, p.nadd, p.nw);
		}
	}
	rs_free(&p);
	free(st);
	if (rc == -ESTALE || rc == -EINVAL || rc == -ENOENT) {
		SP_CTL_WARN("reshard %s of %s (%s %s) no longer fits the catalog (%s): rolled back",
			    r->op, r->stream, r->arg1, r->arg2, strerror(-rc));
		rc = rc == -ENOENT ? 0 : sp_cat_reshard_finish(cat, r->stream);
	}
	return rc;
}

struct rs_advance {
	struct sp_cat *cat;
	const struct sp_ctl_kctx *ctx;
	int64_t applied;
	struct sp_cat_reshard *due;
	size_t ndue;
	size_t cap;
};

static int
rs_collect(void *arg, const struct sp_cat_reshard *r)
{
	struct rs_advance *a = arg;

	if (r->step_version > a->applied) {
		return 0; /* the dataplane does not serve this step yet */
	}
	if (a->ndue == a->cap) {
		size_t cap = a->cap != 0 ? a->cap * 2 : 8;
		struct sp_cat_reshard *due = realloc(a->due, cap * sizeof(*due));

		if (due == NULL) {
			return -ENOMEM;
		}
		a->due = due;
		a->cap = cap;
	}
	a->due[a->ndue++] = *r;
	return 0;
}

int
sp_ctl_reshard_advance(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, int64_t applied)
{
	struct rs_advance a = {.cat = cat, .ctx = ctx, .applied = applied};
	int rc = sp_cat_reshard_foreach(cat, rs_collect, &a);
	int moved = 0;

	/* collected first, stepped after: a step writes the table the listing reads; a step that
	 * fails stays due (retried at the next applied or sweep), the others go on */
	for (size_t i = 0; rc == 0 && i < a.ndue; i++) {
		const struct sp_cat_reshard *r = &a.due[i];
		int step =
		    r->switched ? sp_cat_reshard_finish(cat, r->stream) : rs_switch(cat, ctx, r);

		if (step != 0) {
			SP_CTL_ERR("reshard %s of %s: step failed (%s); retried later", r->op,
				   r->stream, strerror(-step));
			continue;
		}
		moved++;
		if (r->switched) {
			SP_CTL_INFO("reshard %s of %s done: ACTIVE", r->op, r->stream);
		}
	}
	free(a.due);
	return moved > 0 || rc == 0 ? moved : rc;
}

/* ---- On-demand capacity: split a shard whose measured write load is above the bar ------- */

struct rs_find {
	struct sp_ctl_shard_ref *ref;
	int rc;
};

static int
rs_find_one(void *arg, const struct sp_cat_shard_row *row)
{
	struct rs_find *f = arg;

	if (row->index != f->ref->index) {
		return 0;
	}
	f->ref->open = row->ending_seq == NULL;
	f->ref->owner = row->owner_lcore;
	snprintf(f->ref->id, sizeof(f->ref->id), "%s", row->shard_id);
	f->rc = rs_range(row, &f->ref->start, &f->ref->end) == 0 ? 0 : -EIO;
	return 1;
}

int
sp_ctl_shard_find(struct sp_cat *cat, const char *stream, int64_t index,
		  struct sp_ctl_shard_ref *out)
{
	struct rs_find f = {.ref = out, .rc = -ENOENT};
	int rc;

	memset(out, 0, sizeof(*out));
	out->index = index;
	rc = sp_cat_shard_foreach(cat, stream, NULL, rs_find_one, &f);
	return rc != 0 ? rc : f.rc;
}

/* Begin a split of shard idx of an ON_DEMAND stream in its middle. 1: begun; 0: not now. */
static int
rs_auto_split(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const char *stream, int64_t idx)
{
	struct sp_cat_stream_row *st = malloc(sizeof(*st));
	struct sp_ctl_shard_ref f;
	char a[24], k[SP_U128_DEC_MAX + 1];
	int64_t open = 0, creating = 0;
	int rc = st == NULL ? -ENOMEM : sp_cat_stream_get(cat, stream, st);

	rc = rc == -ENOENT ? 1 : rc; /* deleted since the sample */
	if (rc == 0 && (strcmp(st->status, "ACTIVE") != 0 || strcmp(st->mode, "ON_DEMAND") != 0 ||
			st->open_shards + 1 > (int64_t)SP_CTL_K_SHARDS_PER_STREAM_MAX)) {
		rc = 1; /* not on demand, busy, or at the per-stream bound */
	}
	if (rc == 0) {
		rc = sp_cat_quota_counts(cat, &open, &creating);
		rc = rc == 0 && open + 1 > (int64_t)ctx->shard_limit ? 1 : rc;
	}
	if (rc == 0) {
		rc = sp_ctl_shard_find(cat, stream, idx, &f);
		rc = rc == -ENOENT || (rc == 0 && (!f.open || f.end - f.start < 4)) ? 1 : rc;
	}
	if (rc == 0) {
		snprintf(a, sizeof(a), "%lld", (long long)idx);
		sp_u128_format(f.start + (f.end - f.start) / 2 + 1, k);
		rc = sp_cat_reshard_begin(cat, stream, "split", a, k, "autosplit", ctx->now_ms);
		rc = rc == -EBUSY ? 1 : rc;
		if (rc == 0) {
			SP_CTL_INFO(
			    "on-demand: %s shard %lld is above its write capacity: split at %s",
			    stream, (long long)idx, k);
		}
	}
	free(st);
	return rc == 0 ? 1 : rc < 0 ? rc : 0;
}

int
sp_ctl_reshard_on_demand(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, struct sp_ctl_od *od,
			 const json_t *dataplane)
{
	const json_t *shards = json_object_get(json_object_get(dataplane, "api"), "shards");
	json_t *seen = json_object();
	const json_t *row;
	size_t i;
	int begun = 0;

	if (seen == NULL) {
		return -ENOMEM;
	}
	if (od->last == NULL) {
		od->last = json_object();
	}
	json_array_foreach(shards, i, row)
	{
		const char *stream = json_string_value(json_object_get(row, "stream"));
		const char *sid = json_string_value(json_object_get(row, "shard"));
		int64_t idx = 0;
		json_int_t recs = json_integer_value(json_object_get(row, "records"));
		json_int_t bytes = json_integer_value(json_object_get(row, "bytes"));
		char key[SP_K_STREAM_NAME_MAX_CHARS + 32];
		json_t *prev;

		if (stream == NULL || sid == NULL || sp_ctl_shard_index(sid, &idx) != 0 ||
		    !json_is_true(json_object_get(row, "open"))) {
			continue;
		}
		snprintf(key, sizeof(key), "%s/%lld", stream, (long long)idx);
		prev = json_object_get(od->last, key);
		if (json_is_array(prev) && !json_object_get(seen, stream)) {
			int64_t dt = ctx->now_ms - json_integer_value(json_array_get(prev, 2));
			int64_t dr = recs - json_integer_value(json_array_get(prev, 0));
			int64_t db = bytes - json_integer_value(json_array_get(prev, 1));

			/* rates over at least a second; one split per stream per look */
			if (dt >= 1000 && dr >= 0 && db >= 0 &&
			    ((od->split_records_per_s > 0 &&
			      dr * 1000 > (int64_t)od->split_records_per_s * dt) ||
			     (od->split_bytes_per_s > 0 &&
			      db * 1000 > (int64_t)od->split_bytes_per_s * dt))) {
				int rc = rs_auto_split(cat, ctx, stream, idx);

				if (rc < 0) {
					json_decref(seen);
					return rc;
				}
				begun += rc;
				json_object_set_new(seen, stream, json_true());
			}
		}
		json_object_set_new(od->last, key,
				    json_pack("[I,I,I]", recs, bytes, (json_int_t)ctx->now_ms));
	}
	json_decref(seen);
	return begun;
}
