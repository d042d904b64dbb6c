/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Moving shards between workers and balancing them, the catalog side (ctl_balance.h):
 * `shard_move`'s checks and its one transaction, the per-worker figures read from the catalog,
 * and a balance run, by hand (`shard_balance`) or every balance_interval_s after a sample.
 *
 * A move is one catalog transaction (sp_cat_shard_move()): the new owner and the old owner's
 * past-owner row commit together with a catalog_version bump, so a crash leaves the move or
 * not, and there is no state machine to drive. The dataplane learns it from the snapshot pushed
 * after it (the caller pushes); until it applies that version the shard counts as "still
 * moving" and no further move of it is taken. A shard never goes back to a past owner: that
 * worker's store may still hold records of the shard (until the stream's retention passes).
 *
 * Times: a past owner's until_ms is the wall clock plus the test clock offset, the clock the
 * retention sweep expires it by. All on spate-control's single thread.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <spate/assert.h>
#include <spate/err.h>
#include <spate/kinesis.h>

#include "catalog.h"
#include "ctl.h"
#include "ctl_balance.h"
#include "ctl_log.h"
#include "ctl_reshard.h"
#include "ctl_streams.h"

struct mv_loads {
	const struct sp_ctl_load *load;
	const char *except;
	unsigned n;
	double *loads;
	int64_t *counts;
	double total;
	int64_t shards;
};

static int
mv_loads_one(void *arg, const struct sp_cat_open_shard *s)
{
	struct mv_loads *m = arg;
	double l;

	if (m->except != NULL && strcmp(s->stream, m->except) == 0) {
		return 0;
	}
	l = sp_ctl_load_of(m->load, s->stream, s->index);
	m->total += l;
	m->shards++;
	if (s->owner >= 0 && (unsigned)s->owner < m->n) {
		m->loads[s->owner] += l;
		m->counts[s->owner]++;
	}
	return 0;
}

int
sp_ctl_worker_loads(struct sp_cat *cat, const struct sp_ctl_load *load, const char *except,
		    unsigned n, double *loads, int64_t *counts, double *mean)
{
	struct mv_loads m = {load, except, n, loads, counts, 0, 0};
	int rc;

	SP_VERIFY(cat != NULL && loads != NULL && counts != NULL);
	for (unsigned w = 0; w < n; w++) {
		loads[w] = 0;
		counts[w] = 0;
	}
	rc = sp_cat_open_shard_foreach(cat, mv_loads_one, &m);
	if (mean != NULL) {
		*mean = m.shards > 0 ? m.total / (double)m.shards : 0;
	}
	return rc;
}

static int
mv_fail(struct sp_ctl_move_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
mv_fail(struct sp_ctl_move_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* A shard's past owners as the checks see them. */
struct mv_past {
	int to;
	bool to_is_past;
	int64_t max_version; /* the latest move of the shard, 0 if none */
};

static int
mv_past_one(void *arg, const struct sp_cat_past_owner *p)
{
	struct mv_past *m = arg;

	m->to_is_past = m->to_is_past || p->owner == m->to;
	m->max_version = p->version > m->max_version ? p->version : m->max_version;
	return 0;
}

/* Stream, shard, state: the checks before the worker's. 0 or -1 with err. */
static int
mv_check_shard(struct sp_cat *cat, struct sp_ctl_move *mv, struct sp_ctl_shard_ref *ref,
	       struct sp_ctl_move_err *err)
{
	struct sp_cat_stream_row *st = malloc(sizeof(*st));
	int rc = st == NULL ? -ENOMEM : sp_cat_stream_get(cat, mv->stream, st);

	snprintf(mv->shard_id, sizeof(mv->shard_id), "shardId-%012lld", (long long)mv->index);
	if (rc == 0) {
		rc = sp_ctl_shard_find(cat, mv->stream, mv->index, ref);
		if (rc == -ENOENT) {
			free(st);
			return mv_fail(err, SP_CTL_E_NOT_FOUND, "shard %s of stream %s not found",
				       mv->shard_id, mv->stream);
		}
	} else if (rc == -ENOENT) {
		free(st);
		return mv_fail(err, SP_CTL_E_NOT_FOUND, "stream \"%s\" not found", mv->stream);
	}
	if (rc != 0) {
		free(st);
		return mv_fail(err, SP_CTL_E_INTERNAL, "catalog read failed: %s", sp_strerror(rc));
	}
	snprintf(mv->shard_id, sizeof(mv->shard_id), "%s", ref->id);
	mv->from = ref->owner;
	rc = 0;
	if (!ref->open) {
		rc = mv_fail(err, SP_CTL_E_STATE,
			     "shard %s of stream %s is closed: only open shards move", ref->id,
			     mv->stream);
	} else if (strcmp(st->status, "ACTIVE") != 0) {
		rc = mv_fail(err, SP_CTL_E_STATE, "stream %s is not ACTIVE, instead in state %s",
			     mv->stream, st->status);
	}
	free(st);
	return rc;
}

int
sp_ctl_move_shard(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, struct sp_ctl_move *mv,
		  struct sp_ctl_move_err *err)
{
	struct sp_ctl_shard_ref ref;
	struct mv_past past = {.to = mv->to};
	int rc;

	SP_VERIFY(cat != NULL && ctx != NULL && mv != NULL && mv->stream != NULL && err != NULL);
	mv->moved = false;
	mv->catalog_version = 0;
	if (ctx->n_workers == 0) {
		return mv_fail(err, SP_CTL_E_DP_NOT_CONNECTED, "no dataplane connected");
	}
	if (mv_check_shard(cat, mv, &ref, err) != 0) {
		return -1;
	}
	if (mv->to < 0 || (unsigned)mv->to >= ctx->n_workers) {
		return mv_fail(err, SP_CTL_E_INVALID_PARAMS,
			       "worker %d out of range: the dataplane has %u workers (0 to %u)",
			       mv->to, ctx->n_workers, ctx->n_workers - 1);
	}
	rc = sp_cat_past_owner_foreach(cat, mv->stream, mv->index, mv_past_one, &past);
	if (rc != 0) {
		return mv_fail(err, SP_CTL_E_INTERNAL, "catalog read failed: %s", sp_strerror(rc));
	}
	if (past.to_is_past) {
		return mv_fail(err, SP_CTL_E_STATE,
			       "worker %d still holds records of shard %s from an earlier "
			       "ownership (until retention passes); choose another worker",
			       mv->to, ref.id);
	}
	if (past.max_version > ctx->applied) {
		return mv_fail(err, SP_CTL_E_STATE, "shard %s is still moving", ref.id);
	}
	if (mv->to == mv->from) {
		rc = sp_cat_version(cat, &mv->catalog_version);
		return rc == 0 ? 0
			       : mv_fail(err, SP_CTL_E_INTERNAL, "catalog read failed: %s",
					 sp_strerror(rc));
	}
	struct sp_cat_move cm = {
	    .stream = mv->stream,
	    .index = mv->index,
	    .from = mv->from,
	    .to = mv->to,
	    .now_ms = ctx->now_ms + sp_cat_clock_offset_ms(cat),
	};

	rc = sp_cat_shard_move(cat, &cm, &mv->catalog_version);
	if (rc != 0) {
		/* the checks above read the same rows: only a catalog failure gets here */
		return mv_fail(err, SP_CTL_E_INTERNAL, "catalog update failed: %s",
			       sp_strerror(rc));
	}
	mv->moved = true;
	SP_CTL_INFO("shard %s of %s moved from worker %d to worker %d; catalog version %lld",
		    ref.id, mv->stream, mv->from, mv->to, (long long)mv->catalog_version);
	return 0;
}

/* ---- Balance runs ---- */

struct mv_name {
	char stream[SP_K_STREAM_NAME_MAX_CHARS + 1];
	char id[SP_K_SHARD_ID_MAX_CHARS + 1];
	int64_t index;
};

/* The planner's input: every open shard, by stream and index. */
struct mv_plan {
	const struct sp_ctl_kctx *ctx;
	struct sp_ctl_bal_shard *sh;
	struct mv_name *names;
	size_t n;
	size_t cap;
};

static int
mv_plan_shard(void *arg, const struct sp_cat_open_shard *s)
{
	struct mv_plan *p = arg;

	if (p->n == p->cap) {
		size_t cap = p->cap != 0 ? p->cap * 2 : 64;
		struct sp_ctl_bal_shard *sh = realloc(p->sh, cap * sizeof(*sh));

		if (sh == NULL) {
			return -ENOMEM;
		}
		p->sh = sh;
		struct mv_name *names = realloc(p->names, cap * sizeof(*names));

		if (names == NULL) {
			return -ENOMEM;
		}
		p->names = names;
		p->cap = cap;
	}
	p->sh[p->n] = (struct sp_ctl_bal_shard){
	    .load = sp_ctl_load_of(p->ctx->load, s->stream, s->index),
	    .owner = s->owner,
	    .movable = strcmp(s->status, "ACTIVE") == 0,
	};
	snprintf(p->names[p->n].stream, sizeof(p->names[p->n].stream), "%s", s->stream);
	snprintf(p->names[p->n].id, sizeof(p->names[p->n].id), "%s", s->shard_id);
	p->names[p->n].index = s->index;
	p->n++;
	return 0;
}

/* The open shard (stream, index), or -1; names are in (stream, index) order. */
static ssize_t
mv_plan_find(const struct mv_plan *p, const char *stream, int64_t index)
{
	size_t lo = 0, hi = p->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(p->names[mid].stream, stream);

		if (c == 0) {
			c = p->names[mid].index < index ? -1 : p->names[mid].index > index;
		}
		if (c == 0) {
			return (ssize_t)mid;
		}
		if (c < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return -1;
}

static int
mv_plan_past(void *arg, const struct sp_cat_past_owner *po)
{
	struct mv_plan *p = arg;
	ssize_t i = mv_plan_find(p, po->stream, po->index);

	if (i < 0) {
		return 0; /* a closed shard's */
	}
	if (po->owner >= 0 && po->owner < 64) {
		p->sh[i].past |= (uint64_t)1 << po->owner;
	}
	if (po->version > p->ctx->applied) {
		p->sh[i].movable = false; /* still moving */
	}
	return 0;
}

static json_t *
mv_workers_json(const struct mv_plan *p, unsigned workers)
{
	double load[SP_CTL_MAX_WORKERS] = {0};
	int64_t count[SP_CTL_MAX_WORKERS] = {0};
	json_t *arr = json_array();

	for (size_t i = 0; i < p->n; i++) {
		int o = p->sh[i].owner;

		if (o >= 0 && (unsigned)o < workers) {
			load[o] += p->sh[i].load;
			count[o]++;
		}
	}
	for (unsigned w = 0; arr != NULL && w < workers; w++) {
		json_array_append_new(arr, json_pack("{s:i,s:I,s:f}", "worker", (int)w, "shards",
						     (json_int_t)count[w], "load", load[w]));
	}
	return arr;
}

/* Perform (or, dry, only list) the planned moves; the report's "moves". */
static int
mv_perform(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, struct mv_plan *p,
	   const struct sp_ctl_bal_move *moves, size_t k, bool dry_run, json_t *out)
{
	int done = 0;

	for (size_t i = 0; i < k; i++) {
		const struct sp_ctl_bal_move *m = &moves[i];
		struct mv_name *nm = &p->names[m->shard];
		struct sp_ctl_move mv = {.stream = nm->stream, .index = nm->index, .to = m->to};
		struct sp_ctl_move_err err = {.msg = "it is there already"};

		/* the plan read the catalog just now: a refusal here is a catalog failure */
		if (!dry_run && (sp_ctl_move_shard(cat, ctx, &mv, &err) != 0 || !mv.moved)) {
			SP_CTL_WARN("balance: shard %s of %s not moved to worker %d: %s", nm->id,
				    nm->stream, m->to, err.msg);
			continue;
		}
		done += dry_run ? 0 : 1;
		p->sh[m->shard].owner = m->to;
		json_array_append_new(out, json_pack("{s:s,s:s,s:i,s:i,s:f}", "stream", nm->stream,
						     "shard", nm->id, "from", m->from, "to", m->to,
						     "load", m->load));
	}
	return done;
}

int
sp_ctl_balance_run(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, bool dry_run,
		   size_t max_moves, json_t **report)
{
	struct mv_plan p = {.ctx = ctx};
	unsigned workers = SP_MIN(ctx->n_workers, SP_CTL_MAX_WORKERS);
	struct sp_ctl_bal_move *moves = calloc(max_moves + 1, sizeof(*moves));
	json_t *arr = json_array();
	int rc = moves == NULL || arr == NULL ? -ENOMEM : 0;

	SP_VERIFY(cat != NULL && report != NULL && workers >= 1);
	*report = NULL;
	if (rc == 0) {
		rc = sp_cat_open_shard_foreach(cat, mv_plan_shard, &p);
	}
	if (rc == 0) {
		rc = sp_cat_past_owner_foreach(cat, NULL, -1, mv_plan_past, &p);
	}
	if (rc == 0) {
		rc = sp_ctl_balance_plan(p.sh, p.n, workers, max_moves, moves);
	}
	if (rc >= 0) {
		rc = mv_perform(cat, ctx, &p, moves, (size_t)rc, dry_run, arr);
		*report = json_pack("{s:O,s:o,s:b}", "moves", arr, "workers",
				    mv_workers_json(&p, workers), "dry_run", dry_run);
		if (*report == NULL) {
			rc = rc > 0 ? rc : -ENOMEM; /* moves made must still be pushed */
		}
	}
	json_decref(arr);
	free(moves);
	free(p.sh);
	free(p.names);
	return rc;
}

int
sp_ctl_balance_auto(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, unsigned interval_s,
		    int64_t now_ms, int64_t *last_ms)
{
	double loads[SP_CTL_MAX_WORKERS];
	int64_t counts[SP_CTL_MAX_WORKERS];
	unsigned n = SP_MIN(ctx->n_workers, SP_CTL_MAX_WORKERS);
	double mx = 0, mn = INFINITY;
	json_t *report = NULL;
	int rc;

	if (interval_s == 0 || n < 2 || ctx->load == NULL ||
	    (*last_ms != 0 && now_ms - *last_ms < (int64_t)interval_s * 1000)) {
		return 0;
	}
	rc = sp_ctl_worker_loads(cat, ctx->load, NULL, n, loads, counts, NULL);
	if (rc != 0) {
		return rc;
	}
	for (unsigned w = 0; w < n; w++) {
		mx = loads[w] > mx ? loads[w] : mx;
		mn = loads[w] < mn ? loads[w] : mn;
	}
	if (!(mx > SP_CTL_BALANCE_RATIO * mn) || mx - mn < SP_CTL_BALANCE_MIN_SPREAD) {
		return 0; /* even enough */
	}
	*last_ms = now_ms;
	SP_CTL_INFO("balance: worker loads from %.0f to %.0f; balancing (every %u s at most)", mn,
		    mx, interval_s);
	rc = sp_ctl_balance_run(cat, ctx, false, SP_CTL_BALANCE_MAX_MOVES_DEFAULT, &report);
	json_decref(report);
	return rc;
}
