/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shard placement by measured load, the parts without a catalog (ctl_balance.h): the load
 * sample, the worker of a new shard, and the balance planner.
 *
 * The sample is taken from the dataplane's per-shard counters (status: dataplane.api.shards,
 * records and bytes appended since each ring was created), at most every SP_CHAN_SWEEP_MS by
 * chan_server.c. A shard's rates are the differences of its counters between two samples over
 * the time between them; a moved shard keeps its ring, so its counters run on across a move.
 *
 * The planner is a pure function of per-shard loads, owners and past owners. Each move narrows
 * the gap between the two workers it is between without crossing it (0 < load < gap), so the
 * overall spread never grows, the sum of squared worker loads falls at every move, and the plan
 * ends; a plan stops at max_moves anyway. All on spate-control's single thread.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <spate/assert.h>
#include <spate/kinesis.h>

#include "ctl_balance.h"
#include "ctl_reshard.h"

/* Room for "stream/index". */
#define BAL_KEY_BYTES (SP_K_STREAM_NAME_MAX_CHARS + 24)

static void
bal_key(char *key, const char *stream, int64_t index)
{
	snprintf(key, BAL_KEY_BYTES, "%s/%lld", stream, (long long)index);
}

void
sp_ctl_load_fini(struct sp_ctl_load *l)
{
	if (l == NULL) {
		return;
	}
	json_decref(l->prev);
	json_decref(l->rates);
	memset(l, 0, sizeof(*l));
}

/* One row of a sample: its rates against prev (if any) into rates, its counters into next. */
static int
bal_sample_row(const json_t *row, const json_t *prev, int64_t dt, json_t *next, json_t *rates,
	       int64_t now_ms)
{
	const char *stream = json_string_value(json_object_get(row, "stream"));
	const char *sid = json_string_value(json_object_get(row, "shard"));
	json_int_t recs = json_integer_value(json_object_get(row, "records"));
	json_int_t bytes = json_integer_value(json_object_get(row, "bytes"));
	char key[BAL_KEY_BYTES];
	int64_t idx = 0;

	if (stream == NULL || sid == NULL || sp_ctl_shard_index(sid, &idx) != 0 ||
	    !json_is_true(json_object_get(row, "open"))) {
		return 0;
	}
	bal_key(key, stream, idx);
	if (json_object_set_new(next, key, json_pack("[I,I,I]", recs, bytes, (json_int_t)now_ms)) !=
	    0) {
		return -ENOMEM;
	}
	const json_t *p = json_object_get(prev, key);
	int64_t dr = recs - json_integer_value(json_array_get(p, 0));
	int64_t db = bytes - json_integer_value(json_array_get(p, 1));

	if (!json_is_array(p) || dr < 0 || db < 0) {
		return 0; /* new, or a dataplane that started again: no rate yet */
	}
	json_t *r = json_pack("[f,f]", (double)dr * 1000.0 / (double)dt,
			      (double)db * 1000.0 / (double)dt);

	return r != NULL && json_object_set_new(rates, key, r) == 0 ? 0 : -ENOMEM;
}

int
sp_ctl_load_sample(struct sp_ctl_load *l, const json_t *dataplane, int64_t now_ms)
{
	const json_t *rows = json_object_get(json_object_get(dataplane, "api"), "shards");
	const json_t *row;
	size_t i;
	int rc = 0;

	SP_VERIFY(l != NULL);
	int64_t dt = now_ms - (l->prev != NULL ? l->at_ms : 0);

	if (l->prev != NULL && dt < SP_CTL_LOAD_MIN_INTERVAL_MS) {
		return 0; /* too soon for a rate: the previous sample stands */
	}
	json_t *next = json_object();
	json_t *rates = json_object();

	json_array_foreach(rows, i, row)
	{
		rc = next != NULL && rates != NULL ? bal_sample_row(row, l->prev, dt, next, rates,
								    now_ms)
						   : -ENOMEM;
		if (rc != 0) {
			break;
		}
	}
	if (rc != 0 || next == NULL || rates == NULL) {
		json_decref(next);
		json_decref(rates);
		return -ENOMEM;
	}
	json_decref(l->prev);
	json_decref(l->rates);
	l->prev = next;
	l->rates = rates;
	l->at_ms = now_ms;
	l->samples++;
	return 0;
}

bool
sp_ctl_load_rates(const struct sp_ctl_load *l, const char *stream, int64_t index,
		  double *records_per_s, double *bytes_per_s)
{
	char key[BAL_KEY_BYTES];
	const json_t *r;

	*records_per_s = 0;
	*bytes_per_s = 0;
	if (l == NULL || l->rates == NULL) {
		return false;
	}
	bal_key(key, stream, index);
	r = json_object_get(l->rates, key);
	if (!json_is_array(r)) {
		return false;
	}
	*records_per_s = json_number_value(json_array_get(r, 0));
	*bytes_per_s = json_number_value(json_array_get(r, 1));
	return true;
}

double
sp_ctl_load_of(const struct sp_ctl_load *l, const char *stream, int64_t index)
{
	double rps, bps;

	(void)sp_ctl_load_rates(l, stream, index, &rps, &bps);
	return rps + bps / SP_CTL_LOAD_BYTES_PER_RECORD;
}

unsigned
sp_ctl_owner_pick(double *loads, int64_t *counts, unsigned n, double expected)
{
	unsigned best = 0;

	SP_VERIFY(n >= 1 && loads != NULL && counts != NULL);
	for (unsigned w = 1; w < n; w++) {
		bool fewer = loads[w] == loads[best] && counts[w] < counts[best];

		if (loads[w] < loads[best] || fewer) {
			best = w;
		}
	}
	loads[best] += expected > 0 ? expected : 0;
	counts[best]++;
	return best;
}

/* ---- The planner ---- */

#define BAL_MAX_WORKERS 64u

struct bal_state {
	const struct sp_ctl_bal_shard *sh;
	size_t n;
	unsigned w;
	int *owner; /* as the plan has moved them */
	bool *moved;
	double load[BAL_MAX_WORKERS];
	int64_t count[BAL_MAX_WORKERS];
	bool by_count; /* every load is 0: balance counts */
};

/* A small margin for sums of doubles. */
static double
bal_eps(double v)
{
	return 1e-9 * (fabs(v) > 1 ? fabs(v) : 1);
}

static void
bal_totals(struct bal_state *s)
{
	double total = 0;

	memset(s->load, 0, sizeof(s->load));
	memset(s->count, 0, sizeof(s->count));
	for (size_t i = 0; i < s->n; i++) {
		int o = s->owner[i];

		if (o >= 0 && (unsigned)o < s->w) {
			s->load[o] += s->sh[i].load > 0 ? s->sh[i].load : 0;
			s->count[o]++;
			total += s->sh[i].load > 0 ? s->sh[i].load : 0;
		}
	}
	s->by_count = !(total > 0);
}

/* x before y: heavier first (desc) or lighter first (!desc); ties: the lower worker. */
static bool
bal_before(const struct bal_state *s, unsigned x, unsigned y, bool desc)
{
	double a = s->by_count ? (double)s->count[x] : s->load[x];
	double b = s->by_count ? (double)s->count[y] : s->load[y];

	if (a != b) {
		return desc ? a > b : a < b;
	}
	return x < y;
}

static void
bal_order(const struct bal_state *s, unsigned *order, bool desc)
{
	for (unsigned i = 0; i < s->w; i++) {
		unsigned v = i;
		unsigned j = i;

		for (; j > 0 && bal_before(s, v, order[j - 1], desc); j--) {
			order[j] = order[j - 1];
		}
		order[j] = v;
	}
}

/* The max-min spread over the workers if load d moved from hi to lo. */
static double
bal_spread_after(const struct bal_state *s, unsigned hi, unsigned lo, double d)
{
	double mx = -INFINITY, mn = INFINITY;

	for (unsigned w = 0; w < s->w; w++) {
		double v = s->load[w] - (w == hi ? d : 0) + (w == lo ? d : 0);

		mx = v > mx ? v : mx;
		mn = v < mn ? v : mn;
	}
	return mx - mn;
}

/* The shard of hi to move to lo, or -1. */
static ssize_t
bal_pick(const struct bal_state *s, unsigned hi, unsigned lo)
{
	double gap = s->load[hi] - s->load[lo];
	double best_spread = 0, best_gap = 0;
	ssize_t best = -1;

	for (size_t i = 0; i < s->n; i++) {
		const struct sp_ctl_bal_shard *sh = &s->sh[i];

		if (s->owner[i] != (int)hi || !sh->movable || s->moved[i] ||
		    ((sh->past >> lo) & 1) != 0) {
			continue;
		}
		if (s->by_count) {
			return (ssize_t)i; /* counts: any shard does, the first one */
		}
		double g = fabs(gap - 2 * sh->load);

		if (!(sh->load > 0) || !(g + bal_eps(gap) < gap)) {
			continue; /* it would not narrow the gap between the two */
		}
		double sp = bal_spread_after(s, hi, lo, sh->load);

		if (best < 0 || sp + bal_eps(sp) < best_spread ||
		    (fabs(sp - best_spread) <= bal_eps(sp) && g + bal_eps(g) < best_gap)) {
			best = (ssize_t)i;
			best_spread = sp;
			best_gap = g;
		}
	}
	return best;
}

/* One move into *out; false when no pair of workers has a move that helps. */
static bool
bal_step(struct bal_state *s, struct sp_ctl_bal_move *out)
{
	unsigned desc[BAL_MAX_WORKERS], asc[BAL_MAX_WORKERS];

	bal_totals(s);
	bal_order(s, desc, true);
	bal_order(s, asc, false);
	for (unsigned a = 0; a < s->w; a++) {
		unsigned hi = desc[a];

		for (unsigned b = 0; b < s->w; b++) {
			unsigned lo = asc[b];
			bool enough = s->by_count ? s->count[hi] - s->count[lo] > 1
						  : s->load[hi] - s->load[lo] > 0;

			if (!enough) {
				break; /* the next ones are heavier still */
			}
			ssize_t i = bal_pick(s, hi, lo);

			if (i >= 0) {
				*out = (struct sp_ctl_bal_move){(size_t)i, (int)hi, (int)lo,
								s->sh[i].load};
				s->owner[i] = (int)lo;
				s->moved[i] = true;
				return true;
			}
		}
	}
	return false;
}

int
sp_ctl_balance_plan(const struct sp_ctl_bal_shard *shards, size_t n, unsigned workers,
		    size_t max_moves, struct sp_ctl_bal_move *moves)
{
	struct bal_state s = {.sh = shards, .n = n, .w = workers};
	size_t k = 0;

	SP_VERIFY(workers >= 1 && workers <= BAL_MAX_WORKERS);
	SP_VERIFY(n == 0 || shards != NULL);
	SP_VERIFY(max_moves == 0 || moves != NULL);
	if (n == 0 || max_moves == 0) {
		return 0;
	}
	s.owner = malloc(n * sizeof(*s.owner));
	s.moved = calloc(n, sizeof(*s.moved));
	if (s.owner == NULL || s.moved == NULL) {
		free(s.owner);
		free(s.moved);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		s.owner[i] = shards[i].owner;
	}
	while (k < max_moves && bal_step(&s, &moves[k])) {
		SP_ASSERT(moves[k].from != moves[k].to);
		k++;
	}
	free(s.owner);
	free(s.moved);
	SP_VERIFY(k <= max_moves && k <= (size_t)INT32_MAX);
	return (int)k;
}
