/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of shard placement by measured load (control/ctl_balance.c, and the owners
 * ctl_streams.c and ctl_reshard.c give new shards): the load sample (rates over the interval,
 * a sample too soon, counters that went back, closed shards, load = records/s + bytes/s /
 * 1024), the worker of a new shard (load, then count, then index), the balance planner with no
 * SQLite (loads, shard counts when every load is 0, past-owner exclusion, shards that may not
 * move, max_moves, ties at the top, nothing to do when balanced), and the owners CreateStream
 * and SplitShard give by measured load, the count-based choice without a sample.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "catalog.h"
#include "ctl_balance.h"
#include "ctl_reshard.h"
#include "ctl_streams.h"
#include "kin_fx.h"

/* A stats "dataplane" object with rows "stream/index/open/records/bytes", ';'-separated. */
static json_t *
dp_rows(const char *spec)
{
	json_t *rows = json_array();
	char buf[1024];
	char *save = NULL;

	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *t = strtok_r(buf, ";", &save); t != NULL; t = strtok_r(NULL, ";", &save)) {
		char stream[64], id[32];
		int idx, open;
		long long recs, bytes;

		assert_int_equal(sscanf(t, "%63[^/]/%d/%d/%lld/%lld", stream, &idx, &open, &recs,
					&bytes),
				 5);
		snprintf(id, sizeof(id), "shardId-%012d", idx);
		json_array_append_new(rows,
				      json_pack("{s:s,s:s,s:i,s:b,s:b,s:I,s:I}", "stream", stream,
						"shard", id, "owner", 0, "open", open, "sealed", 0,
						"records", (json_int_t)recs, "bytes",
						(json_int_t)bytes));
	}
	return json_pack("{s:{s:o,s:b}}", "api", "shards", rows, "shards_cut", 0);
}

static void
sample(struct sp_ctl_load *l, const char *spec, int64_t at_ms)
{
	json_t *dp = dp_rows(spec);

	assert_int_equal(sp_ctl_load_sample(l, dp, at_ms), 0);
	json_decref(dp);
}

static void
test_load_sample(void **state)
{
	struct sp_ctl_load l = {0};
	double r, b;

	(void)state;
	assert_false(sp_ctl_load_rates(NULL, "s", 0, &r, &b));
	assert_true(sp_ctl_load_of(NULL, "s", 0) == 0);
	sample(&l, "s/0/1/100/1000;s/1/1/0/0;s/2/0/5/5", 10000);
	assert_int_equal(l.samples, 1);
	assert_false(sp_ctl_load_rates(&l, "s", 0, &r, &b)); /* one sample: no rate yet */

	/* 2 s later: 200 records/s and 2048 bytes/s on shard 0, nothing on 1, 2 closed */
	sample(&l, "s/0/1/500/5096;s/1/1/0/0;s/2/0/50/50;t/0/1/7/7", 12000);
	assert_true(sp_ctl_load_rates(&l, "s", 0, &r, &b));
	assert_true(fabs(r - 200) < 1e-9 && fabs(b - 2048) < 1e-9);
	assert_true(fabs(sp_ctl_load_of(&l, "s", 0) - 202) < 1e-9); /* 200 + 2048 / 1024 */
	assert_true(sp_ctl_load_rates(&l, "s", 1, &r, &b));
	assert_true(r == 0 && b == 0);
	assert_false(sp_ctl_load_rates(&l, "s", 2, &r, &b)); /* closed: not a load */
	assert_false(sp_ctl_load_rates(&l, "t", 0, &r, &b)); /* new: no rate yet */

	/* Too soon (under a second): nothing changes, the rates stand. */
	sample(&l, "s/0/1/999999/0", 12500);
	assert_int_equal(l.samples, 2);
	assert_true(fabs(sp_ctl_load_of(&l, "s", 0) - 202) < 1e-9);

	/* A dataplane that started again: counters went back, no rate for that interval. */
	sample(&l, "s/0/1/10/10;t/0/1/1007/7", 14000);
	assert_false(sp_ctl_load_rates(&l, "s", 0, &r, &b));
	assert_true(sp_ctl_load_rates(&l, "t", 0, &r, &b));
	assert_true(fabs(r - 500) < 1e-9 && b == 0);
	assert_false(sp_ctl_load_rates(&l, "s", 1, &r, &b)); /* not in this sample: dropped */

	/* Rows without a usable id are skipped; an empty sample drops every rate. */
	json_t *dp = json_pack("{s:{s:[{s:s,s:b}]}}", "api", "shards", "shard", "x", "open", 1);

	assert_int_equal(sp_ctl_load_sample(&l, dp, 20000), 0);
	json_decref(dp);
	assert_false(sp_ctl_load_rates(&l, "t", 0, &r, &b));
	sp_ctl_load_fini(&l);
	assert_null(l.rates);
}

static void
test_owner_pick(void **state)
{
	double loads[3] = {5, 1, 1};
	int64_t counts[3] = {0, 4, 2};

	(void)state;
	/* least load first: 1 and 2 tie at load 1, 2 has fewer shards */
	assert_int_equal(sp_ctl_owner_pick(loads, counts, 3, 3), 2);
	assert_true(loads[2] == 4 && counts[2] == 3);
	assert_int_equal(sp_ctl_owner_pick(loads, counts, 3, 3), 1); /* load 1 < 4 */
	assert_true(loads[1] == 4 && counts[1] == 5);
	/* 4 and 4: 2 has fewer shards; then 1 and 0... */
	assert_int_equal(sp_ctl_owner_pick(loads, counts, 3, 0), 2);

	/* No load: fewest shards, then the lowest worker: i % n on an empty appliance. */
	double z[3] = {0};
	int64_t c[3] = {0};

	for (unsigned i = 0; i < 7; i++) {
		assert_int_equal(sp_ctl_owner_pick(z, c, 3, 0), i % 3);
	}
}

/* Shorthand for planner inputs. */
#define SH(l, o) {.load = (l), .owner = (o), .movable = true}

static int
plan(const struct sp_ctl_bal_shard *sh, size_t n, unsigned w, size_t max,
     struct sp_ctl_bal_move *mv)
{
	int k = sp_ctl_balance_plan(sh, n, w, max, mv);

	assert_true(k >= 0 && (size_t)k <= max);
	return k;
}

static void
test_plan_loads(void **state)
{
	struct sp_ctl_bal_move mv[8];

	(void)state;
	/* 10 on worker 0, nothing on 1: the 5 makes them even; then nothing helps. */
	struct sp_ctl_bal_shard a[] = {SH(5, 0), SH(3, 0), SH(2, 0)};

	assert_int_equal(plan(a, 3, 2, 8, mv), 1);
	assert_int_equal(mv[0].shard, 0);
	assert_int_equal(mv[0].from, 0);
	assert_int_equal(mv[0].to, 1);
	assert_true(mv[0].load == 5);

	/* 10 vs 1: the 4 leaves 6/5 (the 6 would leave 4/7); then nothing narrows 6/5. */
	struct sp_ctl_bal_shard b[] = {SH(6, 0), SH(1, 1), SH(4, 0)};

	assert_int_equal(plan(b, 3, 2, 8, mv), 1);
	assert_int_equal(mv[0].shard, 2);

	/* Three workers (12, 3, 0): the most loaded gives to the least loaded first. */
	struct sp_ctl_bal_shard c[] = {SH(4, 0), SH(4, 0), SH(4, 0), SH(2, 1), SH(1, 1)};

	assert_int_equal(plan(c, 5, 3, 1, mv), 1);
	assert_true(mv[0].shard == 0 && mv[0].from == 0 && mv[0].to == 2 && mv[0].load == 4);
	/* then 8, 3, 4 -> 4, 7, 4 -> 6, 5, 4: spread 12, 5, 3, 2 */
	assert_int_equal(plan(c, 5, 3, 8, mv), 3);
	assert_true(mv[1].shard == 1 && mv[1].from == 0 && mv[1].to == 1);
	assert_true(mv[2].shard == 3 && mv[2].from == 1 && mv[2].to == 0);

	/* Balanced, or no shard that narrows the gap: nothing. */
	struct sp_ctl_bal_shard d[] = {SH(5, 0), SH(5, 1)};

	assert_int_equal(plan(d, 2, 2, 8, mv), 0);
	struct sp_ctl_bal_shard e[] = {SH(10, 0), SH(9, 1)}; /* moving 10 gives 0/19 */

	assert_int_equal(plan(e, 2, 2, 8, mv), 0);
	assert_int_equal(plan(e, 0, 2, 8, mv), 0);
	assert_int_equal(plan(e, 2, 1, 8, mv), 0); /* one worker */

	/* Two workers tied at the top: each gives one shard to an idle one. */
	struct sp_ctl_bal_shard f[] = {SH(5, 0), SH(5, 0), SH(5, 1), SH(5, 1)};

	assert_int_equal(plan(f, 4, 4, 8, mv), 2);
	assert_true(mv[0].from == 0 && mv[0].to == 2);
	assert_true(mv[1].from == 1 && mv[1].to == 3);

	/* max_moves bounds the plan; max 0 plans nothing. */
	struct sp_ctl_bal_shard g[] = {SH(1, 0), SH(1, 0), SH(1, 0), SH(1, 0),
				       SH(1, 0), SH(1, 0), SH(1, 0), SH(1, 0)};

	assert_int_equal(plan(g, 8, 4, 8, mv), 6);
	assert_int_equal(plan(g, 8, 4, 2, mv), 2);
	assert_int_equal(plan(g, 8, 4, 0, mv), 0);
}

static void
test_plan_counts(void **state)
{
	struct sp_ctl_bal_move mv[8];

	(void)state;
	/* Every load 0: counts, moved while they differ by more than one. */
	struct sp_ctl_bal_shard a[] = {SH(0, 0), SH(0, 0), SH(0, 0), SH(0, 0)};

	assert_int_equal(plan(a, 4, 2, 8, mv), 2);
	assert_true(mv[0].shard == 0 && mv[0].to == 1);
	assert_true(mv[1].shard == 1 && mv[1].to == 1);
	struct sp_ctl_bal_shard b[] = {SH(0, 0), SH(0, 0), SH(0, 0), SH(0, 1), SH(0, 1)};

	assert_int_equal(plan(b, 5, 2, 8, mv), 0); /* 3 and 2 */
	assert_int_equal(plan(b, 5, 3, 8, mv), 1); /* 3, 2, 0: one to worker 2 */
	assert_true(mv[0].from == 0 && mv[0].to == 2);
	/* A shard with load makes it a load plan: the idle shards stay. */
	struct sp_ctl_bal_shard c[] = {SH(0, 0), SH(0, 0), SH(0, 0), SH(1, 1)};

	assert_int_equal(plan(c, 4, 2, 8, mv), 0);
}

static void
test_plan_exclusions(void **state)
{
	struct sp_ctl_bal_move mv[8];

	(void)state;
	/* Worker 1 (idle) is a past owner of both shards of worker 0: one goes to 2 instead. */
	struct sp_ctl_bal_shard a[] = {
	    {.load = 4, .owner = 0, .movable = true, .past = 1u << 1},
	    {.load = 4, .owner = 0, .movable = true, .past = 1u << 1},
	    SH(1, 2),
	};

	assert_int_equal(plan(a, 3, 3, 1, mv), 1);
	assert_true(mv[0].shard == 0 && mv[0].from == 0 && mv[0].to == 2);
	/* With two workers the past owner is the only target: nothing moves... */
	assert_int_equal(plan(a, 2, 2, 8, mv), 0);
	/* ...until a shard is free to go there. */
	a[1].past = 1u << 2;
	assert_int_equal(plan(a, 2, 2, 8, mv), 1);
	assert_true(mv[0].shard == 1 && mv[0].to == 1);

	/* A shard that may not move (stream not ACTIVE, or still moving) is counted only. */
	struct sp_ctl_bal_shard b[] = {
	    {.load = 6, .owner = 0, .movable = false},
	    SH(2, 0),
	};

	assert_int_equal(plan(b, 2, 2, 8, mv), 1);
	assert_true(mv[0].shard == 1 && mv[0].to == 1);
	struct sp_ctl_bal_shard c[] = {{.load = 6, .owner = 0}, {.load = 2, .owner = 0}};

	assert_int_equal(plan(c, 2, 2, 8, mv), 0);

	/* An owner outside the workers is counted nowhere and never moved. */
	struct sp_ctl_bal_shard d[] = {SH(9, 5), SH(1, 1)};

	assert_int_equal(plan(d, 2, 2, 8, mv), 0);
	/* Counts: the first shard is a past owner's of 1, the second goes. */
	struct sp_ctl_bal_shard e[] = {
	    {.owner = 0, .movable = true, .past = 1u << 1},
	    SH(0, 0),
	    SH(0, 0),
	};

	assert_int_equal(plan(e, 3, 2, 8, mv), 1);
	assert_int_equal(mv[0].shard, 1);
}

/* Seeded random plans: the rules hold whatever the input. */
static void
test_plan_random(void **state)
{
	enum { N = 40, W = 5, MAX = 12 };
	struct sp_ctl_bal_shard sh[N];
	struct sp_ctl_bal_move mv[MAX];
	unsigned seed = 12345;

	(void)state;
	for (int round = 0; round < 500; round++) {
		double before[W] = {0}, after[W] = {0};
		int owner[N];
		int times[N] = {0};

		for (int i = 0; i < N; i++) {
			sh[i] = (struct sp_ctl_bal_shard){
			    .load = (double)(rand_r(&seed) % 4 == 0 ? 0 : rand_r(&seed) % 1000),
			    .owner = rand_r(&seed) % (W + 1) == W ? 0 : rand_r(&seed) % W,
			    .movable = rand_r(&seed) % 8 != 0,
			    .past = (uint64_t)(rand_r(&seed) % 4 == 0 ? 1u << (rand_r(&seed) % W)
								       : 0),
			};
			sh[i].past &= ~((uint64_t)1 << sh[i].owner);
			owner[i] = sh[i].owner;
			before[owner[i]] += sh[i].load;
		}
		int k = plan(sh, N, W, MAX, mv);

		for (int m = 0; m < k; m++) {
			size_t i = mv[m].shard;

			assert_true(i < N && sh[i].movable);
			assert_int_equal(mv[m].from, owner[i]);
			assert_true(mv[m].to != mv[m].from && mv[m].to >= 0 && mv[m].to < W);
			assert_true(((sh[i].past >> mv[m].to) & 1) == 0);
			assert_int_equal(++times[i], 1); /* once per plan */
			owner[i] = mv[m].to;
		}
		for (int i = 0; i < N; i++) {
			after[owner[i]] += sh[i].load;
		}
		double bmax = 0, bmin = 1e18, amax = 0, amin = 1e18;

		for (int w = 0; w < W; w++) {
			bmax = before[w] > bmax ? before[w] : bmax;
			bmin = before[w] < bmin ? before[w] : bmin;
			amax = after[w] > amax ? after[w] : amax;
			amin = after[w] < amin ? after[w] : amin;
		}
		assert_true(amax - amin <= bmax - bmin + 1e-6); /* the spread never grows */
	}
}

/* ---- Owners of new shards ---- */

static int
setup(void **state)
{
	return fx_setup(state, 2, false);
}

static int
teardown(void **state)
{
	return fx_teardown(state);
}

struct owners {
	int owner[16];
	int64_t n;
};

static int
owners_one(void *arg, const struct sp_cat_shard_row *row)
{
	struct owners *o = arg;

	if (row->ending_seq == NULL && row->index < 16) {
		o->owner[row->index] = row->owner_lcore;
		o->n++;
	}
	return 0;
}

static struct owners
owners(struct fx *f, const char *stream)
{
	struct owners o;

	memset(&o, 0xff, sizeof(o.owner));
	o.n = 0;
	assert_int_equal(sp_cat_shard_foreach(f->cat, stream, NULL, owners_one, &o), 0);
	return o;
}

static void
test_new_owners_by_count(void **state)
{
	struct fx *f = *state;

	/* No sample: fewest open shards, then the lowest worker, over every stream. */
	fx_create(f, "a", 3);
	struct owners o = owners(f, "a");

	assert_true(o.owner[0] == 0 && o.owner[1] == 1 && o.owner[2] == 0);
	fx_create(f, "b", 3); /* worker 1 has one shard fewer: it gets the first */
	o = owners(f, "b");
	assert_true(o.owner[0] == 1 && o.owner[1] == 0 && o.owner[2] == 1);
}

static void
test_new_owners_by_load(void **state)
{
	struct fx *f = *state;
	struct sp_ctl_load l = {0};

	fx_create(f, "a", 2); /* shard 0 on worker 0, shard 1 on worker 1 */
	f->ctx.load = &l;
	/* worker 0 writes 1000 records/s, worker 1 100 */
	sample(&l, "a/0/1/0/0;a/1/1/0/0", 1000);
	sample(&l, "a/0/1/1000/0;a/1/1/100/0", 2000);

	/* One new shard: the less loaded worker, though it has as many shards. */
	fx_create(f, "b", 1);
	assert_int_equal(owners(f, "b").owner[0], 1);
	/* Three: each counts as the mean open shard (1100 / 3 = 366.7) once placed: worker 1
	 * goes 100, 466.7, 833.3, still below worker 0's 1000, and takes all three though it
	 * already has more shards. */
	fx_create(f, "c", 3);
	struct owners o = owners(f, "c");

	assert_true(o.owner[0] == 1 && o.owner[1] == 1 && o.owner[2] == 1);

	/* A split of the hot shard a/0 in its middle: each child expects half of its 1000.
	 * Worker 0 then carries nothing, worker 1 a/1 (100) and b, c (unmeasured): the first
	 * child goes to worker 0 (0 -> 500), the second to worker 1 (100 -> 600). */
	assert_null(expect_ok(f, SP_KOP_SPLIT_SHARD,
			      "{\"StreamName\":\"a\",\"ShardToSplit\":\"shardId-000000000000\","
			      "\"NewStartingHashKey\":"
			      "\"85070591730234615865843651857942052864\"}"));
	fx_settle(f);
	o = owners(f, "a");
	assert_int_equal(o.n, 3);
	assert_int_equal(o.owner[1], 1);
	assert_int_equal(o.owner[2], 0);
	assert_int_equal(o.owner[3], 1);
	sp_ctl_load_fini(&l);
	f->ctx.load = NULL;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_load_sample),
	    cmocka_unit_test(test_owner_pick),
	    cmocka_unit_test(test_plan_loads),
	    cmocka_unit_test(test_plan_counts),
	    cmocka_unit_test(test_plan_exclusions),
	    cmocka_unit_test(test_plan_random),
	    cmocka_unit_test_setup_teardown(test_new_owners_by_count, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_new_owners_by_load, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
