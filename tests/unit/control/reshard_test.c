/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of resharding in spate-control (ctl_streams.c's SplitShard, MergeShards and
 * UpdateShardCount; ctl_reshard.c's plans and state machine; catalog_reshard.c), in process
 * against a catalog file: every error text byte for byte, the lineage of each operation, the
 * pending -> switched -> ACTIVE steps driven by "applied", a restart of the catalog between
 * every step, a seeded random walk of 300 reshards that checks the hash-space tiling and the
 * lineage after each one, the rolling UpdateShardCount limit and the expiry of closed shards.
 */
#include <errno.h>
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

#include <spate/seqno.h>

#include "catalog.h"
#include "ctl_reshard.h"
#include "ctl_streams.h"
#include "kin_fx.h"

#define T_MAX   "340282366920938463463374607431768211455"
#define T_HALF  "170141183460469231731687303715884105728"
#define T_UPPER "170141183460469231731687303715884105800" /* inside the upper half */

static int
setup(void **state)
{
	return fx_setup(state, 3, true);
}

static int
teardown(void **state)
{
	return fx_teardown(state);
}

static const char *
status(struct fx *f, const char *name)
{
	static char st[16];
	struct sp_cat_stream_row row;

	assert_int_equal(sp_cat_stream_get(f->cat, name, &row), 0);
	snprintf(st, sizeof(st), "%s", row.status);
	return st;
}

/* Every shard of a stream, as DescribeStream shows them. Caller decrefs. */
static json_t *
shards(struct fx *f, const char *name)
{
	char body[256];
	json_t *j, *s;

	snprintf(body, sizeof(body), "{\"StreamName\":\"%s\"}", name);
	j = expect_ok(f, SP_KOP_LIST_SHARDS, body);
	assert_non_null(j);
	s = json_incref(json_object_get(j, "Shards"));
	json_decref(j);
	assert_true(json_is_array(s));
	return s;
}

static sp_u128
u128(json_t *o, const char *a, const char *b)
{
	const char *s = json_string_value(json_object_get(json_object_get(o, a), b));
	sp_u128 v = 0;

	assert_non_null(s);
	assert_int_equal(sp_u128_parse(s, strlen(s), &v), 0);
	return v;
}

static bool
is_open(json_t *sh)
{
	return json_object_get(json_object_get(sh, "SequenceNumberRange"),
			       "EndingSequenceNumber") == NULL;
}

static json_t *
by_id(json_t *all, const char *id)
{
	size_t i;
	json_t *sh;

	json_array_foreach(all, i, sh)
	{
		if (strcmp(json_string_value(json_object_get(sh, "ShardId")), id) == 0) {
			return sh;
		}
	}
	return NULL;
}

static int
cmp_start(const void *a, const void *b)
{
	sp_u128 x = *(const sp_u128 *)a, y = *(const sp_u128 *)b;

	return x < y ? -1 : x > y;
}

/*
 * The invariants after any sequence of reshards: open shards tile [0, 2^128 - 1] exactly;
 * every child's range is covered by its parents' (which exist and are closed), a split child
 * has one parent, a merge child two adjacent ones; ids are unique. Returns the open count.
 */
static size_t
check_lineage(struct fx *f, const char *name)
{
	json_t *all = shards(f, name);
	sp_u128 starts[2048][2];
	size_t n = 0, i;
	json_t *sh;

	json_array_foreach(all, i, sh)
	{
		const char *p = json_string_value(json_object_get(sh, "ParentShardId"));
		const char *a = json_string_value(json_object_get(sh, "AdjacentParentShardId"));
		sp_u128 s = u128(sh, "HashKeyRange", "StartingHashKey");
		sp_u128 e = u128(sh, "HashKeyRange", "EndingHashKey");

		assert_true(s <= e);
		if (is_open(sh)) {
			assert_true(n < 2048);
			starts[n][0] = s;
			starts[n][1] = e;
			n++;
		}
		json_t *ps = p != NULL ? by_id(all, p) : NULL;
		json_t *as = a != NULL ? by_id(all, a) : NULL;

		/* a parent past its retention is listed no more */
		if (ps != NULL && (a == NULL || as != NULL)) {
			assert_false(is_open(ps));
			if (as == NULL) {
				/* a split child lies inside its parent */
				assert_null(a);
				assert_true(u128(ps, "HashKeyRange", "StartingHashKey") <= s);
				assert_true(e <= u128(ps, "HashKeyRange", "EndingHashKey"));
			} else {
				/* a merge child is exactly its two adjacent parents */
				assert_false(is_open(as));
				assert_true(u128(ps, "HashKeyRange", "StartingHashKey") == s);
				assert_true(u128(ps, "HashKeyRange", "EndingHashKey") + 1 ==
					    u128(as, "HashKeyRange", "StartingHashKey"));
				assert_true(u128(as, "HashKeyRange", "EndingHashKey") == e);
			}
		}
	}
	qsort(starts, n, sizeof(starts[0]), cmp_start);
	assert_true(n > 0);
	assert_true(starts[0][0] == 0);
	for (i = 1; i < n; i++) {
		assert_true(starts[i][0] == starts[i - 1][1] + 1);
	}
	assert_true(starts[n - 1][1] == ~(sp_u128)0);
	json_decref(all);
	return n;
}

/* ---- SplitShard ---- */

static void
test_split(void **state)
{
	struct fx *f = *state;
	json_t *all, *p, *c2, *c3;
	int64_t v;

	fx_create(f, "s", 2);
	assert_null(expect_ok(f, SP_KOP_SPLIT_SHARD,
			      "{\"StreamName\":\"s\",\"ShardToSplit\":\"shardId-000000000000\","
			      "\"NewStartingHashKey\":\"1000\"}"));
	assert_true(f->rep.catalog_changed);
	assert_string_equal(status(f, "s"), "UPDATING");
	all = shards(f, "s");
	assert_int_equal(json_array_size(all), 2); /* until the switch, writes use the parents */
	json_decref(all);
	/* another reshard meanwhile */
	expect_err(f, SP_KOP_SPLIT_SHARD,
		   "{\"StreamName\":\"s\",\"ShardToSplit\":\"1\",\"NewStartingHashKey\":\"" T_UPPER
		   "\"}",
		   "ResourceInUseException",
		   "Stream s under account " T_ACCT " not ACTIVE, instead in state UPDATING");
	v = version(f);
	assert_int_equal(ack(f), 1); /* the switch */
	assert_true(version(f) == v + 1);
	assert_string_equal(status(f, "s"), "UPDATING");
	all = shards(f, "s");
	assert_int_equal(json_array_size(all), 4);
	p = by_id(all, "shardId-000000000000");
	c2 = by_id(all, "shardId-000000000002");
	c3 = by_id(all, "shardId-000000000003");
	assert_false(is_open(p));
	assert_true(is_open(c2) && is_open(c3));
	assert_string_equal(json_string_value(json_object_get(c2, "ParentShardId")),
			    "shardId-000000000000");
	assert_null(json_object_get(c2, "AdjacentParentShardId"));
	assert_true(u128(c2, "HashKeyRange", "StartingHashKey") == 0);
	assert_true(u128(c2, "HashKeyRange", "EndingHashKey") == 999);
	assert_true(u128(c3, "HashKeyRange", "StartingHashKey") == 1000);
	/* the parent's end is above every number it can hold; the children start after */
	{
		struct sp_seqno_fields pf, cf;

		assert_true(
		    sp_seqno_unpack(u128(p, "SequenceNumberRange", "EndingSequenceNumber"), &pf));
		assert_true(pf.counter == SP_SEQNO_COUNTER_MAX && pf.shard_index == 0);
		assert_true(sp_seqno_unpack(
		    u128(c3, "SequenceNumberRange", "StartingSequenceNumber"), &cf));
		assert_true(cf.counter == 0 && cf.shard_index == 3 && cf.epoch == pf.epoch);
		/* the children number in a new epoch: above anything the parent held */
		assert_true(sp_seqno_unpack(
		    u128(p, "SequenceNumberRange", "StartingSequenceNumber"), &pf));
		assert_true(cf.epoch > pf.epoch);
	}
	json_decref(all);
	assert_int_equal(ack(f), 1); /* finish */
	assert_string_equal(status(f, "s"), "ACTIVE");
	assert_int_equal(ack(f), 0);
	assert_int_equal(check_lineage(f, "s"), 3);
}

static void
test_split_errors(void **state)
{
	struct fx *f = *state;

	fx_create(f, "s", 2);
	expect_err(f, SP_KOP_SPLIT_SHARD, "{\"StreamName\":\"s\",\"ShardToSplit\":\"x\"}",
		   "ValidationException",
		   "1 validation error detected: Value null at 'newStartingHashKey' failed to "
		   "satisfy constraint: Member must not be null");
	expect_err(f, SP_KOP_SPLIT_SHARD,
		   "{\"StreamName\":\"s\",\"ShardToSplit\":\"x\",\"NewStartingHashKey\":\"01\"}",
		   "ValidationException",
		   "1 validation error detected: Value '01' at 'newStartingHashKey' failed to "
		   "satisfy constraint: Member must satisfy regular expression pattern: "
		   "0|([1-9]\\d{0,38})");
	expect_err(f, SP_KOP_SPLIT_SHARD,
		   "{\"StreamName\":\"s\",\"ShardToSplit\":\"shard-x\",\"NewStartingHashKey\":"
		   "\"5\"}",
		   "ResourceNotFoundException",
		   "Could not find shard shard-x in stream s under account " T_ACCT ".");
	expect_err(f, SP_KOP_SPLIT_SHARD,
		   "{\"StreamName\":\"s\",\"ShardToSplit\":\"7\",\"NewStartingHashKey\":\"5\"}",
		   "ResourceNotFoundException",
		   "Could not find shard shardId-000000000007 in stream s under account " T_ACCT
		   ".");
	expect_err(f, SP_KOP_SPLIT_SHARD,
		   "{\"StreamName\":\"nope\",\"ShardToSplit\":\"0\",\"NewStartingHashKey\":\"5\"}",
		   "ResourceNotFoundException", "Stream nope under account " T_ACCT " not found.");
	expect_err(f, SP_KOP_SPLIT_SHARD,
		   "{\"StreamName\":\"s\",\"ShardToSplit\":\"0\",\"NewStartingHashKey\":\"1\"}",
		   "InvalidArgumentException",
		   "NewStartingHashKey 1 used in SplitShard() on shard shardId-000000000000 in "
		   "stream s under account " T_ACCT " is not both greater than one plus the "
		   "shard's StartingHashKey 0 and less than the shard's EndingHashKey "
		   "170141183460469231731687303715884105727.");
	expect_err(f, SP_KOP_SPLIT_SHARD,
		   "{\"StreamName\":\"s\",\"ShardToSplit\":\"1\",\"NewStartingHashKey\":\"" T_MAX
		   "\"}",
		   "InvalidArgumentException",
		   "NewStartingHashKey " T_MAX " used in SplitShard() on shard "
		   "shardId-000000000001 in stream s under account " T_ACCT " is not both greater "
		   "than one plus the shard's StartingHashKey " T_HALF " and less than the "
		   "shard's EndingHashKey " T_MAX ".");
	/* 39 digits above 2^128 - 1 */
	expect_err(f, SP_KOP_SPLIT_SHARD,
		   "{\"StreamName\":\"s\",\"ShardToSplit\":\"1\",\"NewStartingHashKey\":"
		   "\"999999999999999999999999999999999999999\"}",
		   "InvalidArgumentException",
		   "NewStartingHashKey 999999999999999999999999999999999999999 used in "
		   "SplitShard() on shard shardId-000000000001 in stream s under account " T_ACCT
		   " is not both greater than one plus the shard's StartingHashKey " T_HALF
		   " and less than the shard's EndingHashKey " T_MAX ".");
	f->ctx.shard_limit = 2;
	expect_err(f, SP_KOP_SPLIT_SHARD,
		   "{\"StreamName\":\"s\",\"ShardToSplit\":\"0\",\"NewStartingHashKey\":\"5\"}",
		   "LimitExceededException",
		   "This request would exceed the shard limit for the account " T_ACCT
		   " in us-east-1. Current shard count for the account: 2. Limit: 2. Number of "
		   "additional shards that would have resulted from this request: 1. Refer to the "
		   "AWS Service Limits page (http://docs.aws.amazon.com/general/latest/gr/"
		   "aws_service_limits.html) for current limits and how to request higher "
		   "limits.");
	f->ctx.shard_limit = 500;
	assert_null(expect_ok(f, SP_KOP_SPLIT_SHARD,
			      "{\"StreamName\":\"s\",\"ShardToSplit\":\"0\",\"NewStartingHashKey\":"
			      "\"5\"}"));
	fx_settle(f);
	expect_err(f, SP_KOP_SPLIT_SHARD,
		   "{\"StreamName\":\"s\",\"ShardToSplit\":\"0\",\"NewStartingHashKey\":\"3\"}",
		   "ResourceInUseException",
		   "Shard shardId-000000000000 in stream s under account " T_ACCT
		   " has already been merged or split, and thus is not eligible for splitting.");
	assert_null(expect_ok(f, SP_KOP_CREATE_STREAM,
			      "{\"StreamName\":\"od\",\"StreamModeDetails\":{\"StreamMode\":"
			      "\"ON_DEMAND\"}}"));
	fx_settle(f);
	expect_err(f, SP_KOP_SPLIT_SHARD,
		   "{\"StreamName\":\"od\",\"ShardToSplit\":\"0\",\"NewStartingHashKey\":\"5\"}",
		   "ValidationException",
		   "Stream od under account " T_ACCT " is in ON_DEMAND mode: shard capacity is "
		   "managed by the service and cannot be changed by this operation.");
}

/* ---- MergeShards ---- */

static void
test_merge(void **state)
{
	struct fx *f = *state;
	json_t *all, *c;

	fx_create(f, "m", 3);
	expect_err(
	    f, SP_KOP_MERGE_SHARDS,
	    "{\"StreamName\":\"m\",\"ShardToMerge\":\"1\",\"AdjacentShardToMerge\":\"0\"}",
	    "InvalidArgumentException",
	    "Shards shardId-000000000001 and shardId-000000000000 in stream m under account " T_ACCT
	    " are not an adjacent pair of shards eligible for merging");
	expect_err(
	    f, SP_KOP_MERGE_SHARDS,
	    "{\"StreamName\":\"m\",\"ShardToMerge\":\"0\",\"AdjacentShardToMerge\":\"2\"}",
	    "InvalidArgumentException",
	    "Shards shardId-000000000000 and shardId-000000000002 in stream m under account " T_ACCT
	    " are not an adjacent pair of shards eligible for merging");
	expect_err(f, SP_KOP_MERGE_SHARDS,
		   "{\"StreamName\":\"m\",\"ShardToMerge\":\"0\",\"AdjacentShardToMerge\":\"a-b\"}",
		   "ResourceNotFoundException",
		   "Could not find shard a-b in stream m under account " T_ACCT ".");
	expect_err(f, SP_KOP_MERGE_SHARDS,
		   "{\"StreamName\":\"m\",\"ShardToMerge\":\"0\",\"AdjacentShardToMerge\":\"9\"}",
		   "ResourceNotFoundException",
		   "Could not find shard shardId-000000000009 in stream m under account " T_ACCT
		   ".");
	expect_err(f, SP_KOP_MERGE_SHARDS, "{\"StreamName\":\"m\",\"ShardToMerge\":\"0\"}",
		   "ValidationException",
		   "1 validation error detected: Value null at 'adjacentShardToMerge' failed to "
		   "satisfy constraint: Member must not be null");
	assert_null(expect_ok(f, SP_KOP_MERGE_SHARDS,
			      "{\"StreamName\":\"m\",\"ShardToMerge\":\"shardId-000000000001\","
			      "\"AdjacentShardToMerge\":\"shardId-000000000002\"}"));
	assert_string_equal(status(f, "m"), "UPDATING");
	fx_settle(f);
	assert_string_equal(status(f, "m"), "ACTIVE");
	all = shards(f, "m");
	c = by_id(all, "shardId-000000000003");
	assert_non_null(c);
	assert_string_equal(json_string_value(json_object_get(c, "ParentShardId")),
			    "shardId-000000000001");
	assert_string_equal(json_string_value(json_object_get(c, "AdjacentParentShardId")),
			    "shardId-000000000002");
	assert_true(u128(c, "HashKeyRange", "EndingHashKey") == ~(sp_u128)0);
	json_decref(all);
	assert_int_equal(check_lineage(f, "m"), 2);
	expect_err(f, SP_KOP_MERGE_SHARDS,
		   "{\"StreamName\":\"m\",\"ShardToMerge\":\"0\",\"AdjacentShardToMerge\":\"1\"}",
		   "ResourceInUseException",
		   "Shard shardId-000000000001 in stream m under account " T_ACCT
		   " has already been merged or split, and thus is not eligible for merging.");
}

/* ---- UpdateShardCount ---- */

static void
expect_scale(struct fx *f, const char *name, int target, int current)
{
	char body[160];
	json_t *j;

	snprintf(body, sizeof(body),
		 "{\"StreamName\":\"%s\",\"TargetShardCount\":%d,\"ScalingType\":"
		 "\"UNIFORM_SCALING\"}",
		 name, target);
	j = expect_ok(f, SP_KOP_UPDATE_SHARD_COUNT, body);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "CurrentShardCount")), current);
	assert_int_equal(json_integer_value(json_object_get(j, "TargetShardCount")), target);
	assert_string_equal(json_string_value(json_object_get(j, "StreamName")), name);
	json_decref(j);
	fx_settle(f);
}

/* After scaling to n, the open shards are exactly CreateStream(n)'s ranges. */
static void
check_uniform(struct fx *f, const char *name, uint32_t n)
{
	json_t *all = shards(f, name);
	uint32_t seen = 0;
	size_t i;
	json_t *sh;

	json_array_foreach(all, i, sh)
	{
		if (!is_open(sh)) {
			continue;
		}
		sp_u128 s = u128(sh, "HashKeyRange", "StartingHashKey");
		bool found = false;

		for (uint32_t k = 0; k < n; k++) {
			sp_u128 a, b;

			sp_ctl_kinesis_hash_range(n, k, &a, &b);
			if (a == s) {
				assert_true(u128(sh, "HashKeyRange", "EndingHashKey") == b);
				found = true;
			}
		}
		assert_true(found);
		seen++;
	}
	assert_int_equal(seen, n);
	json_decref(all);
	assert_int_equal(check_lineage(f, name), n);
}

static void
test_scale(void **state)
{
	struct fx *f = *state;

	fx_create(f, "u", 3);
	expect_scale(f, "u", 4, 3);
	check_uniform(f, "u", 4);
	expect_scale(f, "u", 7, 4);
	check_uniform(f, "u", 7);
	expect_scale(f, "u", 5, 7);
	check_uniform(f, "u", 5);
	expect_scale(f, "u", 3, 5);
	check_uniform(f, "u", 3);
	expect_scale(f, "u", 3, 3); /* already uniform: nothing to do, still a scaling */
	check_uniform(f, "u", 3);
	expect_err(f, SP_KOP_UPDATE_SHARD_COUNT,
		   "{\"StreamName\":\"u\",\"TargetShardCount\":7,\"ScalingType\":"
		   "\"UNIFORM_SCALING\"}",
		   "LimitExceededException",
		   "UpdateShardCount cannot scale up over double your current open shard count. "
		   "Current open shard count: 3, Target shard count: 7");
	expect_err(f, SP_KOP_UPDATE_SHARD_COUNT,
		   "{\"StreamName\":\"u\",\"TargetShardCount\":1,\"ScalingType\":"
		   "\"UNIFORM_SCALING\"}",
		   "LimitExceededException",
		   "UpdateShardCount cannot scale down below half your current open shard count. "
		   "Current open shard count: 3, Target shard count: 1");
	f->ctx.shard_limit = 4;
	expect_err(f, SP_KOP_UPDATE_SHARD_COUNT,
		   "{\"StreamName\":\"u\",\"TargetShardCount\":5,\"ScalingType\":"
		   "\"UNIFORM_SCALING\"}",
		   "LimitExceededException",
		   "Target shard count or number of open shards cannot be greater than 4. Current "
		   "open shard count: 3, Target shard count: 5");
	f->ctx.shard_limit = 500;
	expect_err(f, SP_KOP_UPDATE_SHARD_COUNT,
		   "{\"StreamName\":\"u\",\"TargetShardCount\":3,\"ScalingType\":\"X\"}",
		   "ValidationException",
		   "1 validation error detected: Value 'X' at 'scalingType' failed to satisfy "
		   "constraint: Member must satisfy enum value set: [UNIFORM_SCALING]");
	expect_err(f, SP_KOP_UPDATE_SHARD_COUNT, "{\"StreamName\":\"u\",\"TargetShardCount\":0}",
		   "ValidationException",
		   "2 validation errors detected: Value null at 'scalingType' failed to satisfy "
		   "constraint: Member must not be null; Value '0' at 'targetShardCount' failed "
		   "to satisfy constraint: Member must have value greater than or equal to 1");
	/* five scalings so far: five more fit the rolling day, the eleventh does not */
	for (int i = 0; i < 5; i++) {
		expect_scale(f, "u", i % 2 == 0 ? 4 : 3, i % 2 == 0 ? 3 : 4);
	}
	expect_err(f, SP_KOP_UPDATE_SHARD_COUNT,
		   "{\"StreamName\":\"u\",\"TargetShardCount\":3,\"ScalingType\":"
		   "\"UNIFORM_SCALING\"}",
		   "LimitExceededException",
		   "Stream u under account " T_ACCT " has already been scaled 10 times in the last "
		   "24 hours, the most UpdateShardCount allows.");
	f->ctx.now_ms += 24LL * 3600 * 1000 + 1;
	expect_scale(f, "u", 3, 4);
}

/* ---- State machine across restarts ---- */

static void
test_restart_every_step(void **state)
{
	struct fx *f = *state;

	fx_create(f, "r", 2);
	assert_null(expect_ok(f, SP_KOP_SPLIT_SHARD,
			      "{\"StreamName\":\"r\",\"ShardToSplit\":\"1\",\"NewStartingHashKey\":"
			      "\"" T_UPPER "\"}"));
	fx_reopen(f); /* killed after begin */
	assert_string_equal(status(f, "r"), "UPDATING");
	assert_int_equal(ack(f), 1);
	fx_reopen(f); /* killed after the switch */
	assert_string_equal(status(f, "r"), "UPDATING");
	assert_int_equal(check_lineage(f, "r"), 3);
	assert_int_equal(ack(f), 1);
	fx_reopen(f); /* killed after finishing */
	assert_string_equal(status(f, "r"), "ACTIVE");
	assert_int_equal(ack(f), 0);
	assert_int_equal(check_lineage(f, "r"), 3);
	/* an older "applied" (a dataplane behind) moves nothing */
	assert_null(expect_ok(f, SP_KOP_MERGE_SHARDS,
			      "{\"StreamName\":\"r\",\"ShardToMerge\":\"2\","
			      "\"AdjacentShardToMerge\":\"3\"}"));
	assert_int_equal(sp_ctl_kinesis_applied(f->cat, &f->ctx, version(f) - 1), 0);
	fx_settle(f);
	assert_int_equal(check_lineage(f, "r"), 2);
}

/* DeleteStream during a reshard: the reshard goes with the stream. */
static void
test_delete_while_updating(void **state)
{
	struct fx *f = *state;

	fx_create(f, "d", 2);
	assert_null(expect_ok(f, SP_KOP_SPLIT_SHARD,
			      "{\"StreamName\":\"d\",\"ShardToSplit\":\"0\",\"NewStartingHashKey\":"
			      "\"77\"}"));
	assert_null(expect_ok(f, SP_KOP_DELETE_STREAM, "{\"StreamName\":\"d\"}"));
	fx_settle(f);
	fx_create(f, "d", 1);
	assert_string_equal(status(f, "d"), "ACTIVE");
	assert_int_equal(check_lineage(f, "d"), 1);
}

/* ---- A random walk: 300 reshards, invariants after each ---- */

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void
test_random_walk(void **state)
{
	struct fx *f = *state;
	uint64_t seed = 0x5eed5eedULL;
	char body[512];

	fx_create(f, "w", 4);
	for (int step = 0; step < 300; step++) {
		json_t *all = shards(f, "w");
		json_t *open[2048];
		size_t n = 0, i;
		json_t *sh;
		int what = (int)(rnd(&seed) % 3);

		json_array_foreach(all, i, sh)
		{
			if (is_open(sh)) {
				open[n++] = sh;
			}
		}
		f->ctx.now_ms += 3 * 3600 * 1000; /* keeps the rolling limit out of the way */
		if (what == 2) {
			uint64_t t = n / 2 + 1 + rnd(&seed) % (n + n / 2);

			t = t > 2 * n ? 2 * n : t;
			t = t > 40 ? 40 : t;
			snprintf(body, sizeof(body),
				 "{\"StreamName\":\"w\",\"TargetShardCount\":%llu,\"ScalingType\":"
				 "\"UNIFORM_SCALING\"}",
				 (unsigned long long)t);
			json_decref(expect_ok(f, SP_KOP_UPDATE_SHARD_COUNT, body));
			fx_settle(f);
			check_uniform(f, "w", (uint32_t)t);
		} else if (what == 1 && n > 1) {
			/* an adjacent pair: sort by start first */
			json_t *a = NULL, *b = NULL;
			size_t k = rnd(&seed) % n;

			for (i = 0; i < n; i++) {
				sp_u128 e = u128(open[k], "HashKeyRange", "EndingHashKey");

				if (e != ~(sp_u128)0 &&
				    u128(open[i], "HashKeyRange", "StartingHashKey") == e + 1) {
					a = open[k];
					b = open[i];
				}
			}
			if (a != NULL) {
				snprintf(body, sizeof(body),
					 "{\"StreamName\":\"w\",\"ShardToMerge\":\"%s\","
					 "\"AdjacentShardToMerge\":\"%s\"}",
					 json_string_value(json_object_get(a, "ShardId")),
					 json_string_value(json_object_get(b, "ShardId")));
				assert_null(expect_ok(f, SP_KOP_MERGE_SHARDS, body));
				fx_settle(f);
			}
		} else {
			json_t *s = open[rnd(&seed) % n];
			sp_u128 lo = u128(s, "HashKeyRange", "StartingHashKey");
			sp_u128 hi = u128(s, "HashKeyRange", "EndingHashKey");
			char k[SP_U128_DEC_MAX + 1];

			if (hi - lo > 4) {
				sp_u128_format(lo + 2 + (hi - lo - 3) / 2, k);
				snprintf(body, sizeof(body),
					 "{\"StreamName\":\"w\",\"ShardToSplit\":\"%s\","
					 "\"NewStartingHashKey\":\"%s\"}",
					 json_string_value(json_object_get(s, "ShardId")), k);
				assert_null(expect_ok(f, SP_KOP_SPLIT_SHARD, body));
				fx_settle(f);
			}
		}
		json_decref(all);
		assert_string_equal(status(f, "w"), "ACTIVE");
		check_lineage(f, "w");
	}
}

/* ---- Expiry of closed shards ---- */

static void
test_expiry(void **state)
{
	struct fx *f = *state;
	json_t *all;

	fx_create(f, "x", 1);
	assert_null(expect_ok(f, SP_KOP_SPLIT_SHARD,
			      "{\"StreamName\":\"x\",\"ShardToSplit\":\"0\",\"NewStartingHashKey\":"
			      "\"77\"}"));
	fx_settle(f);
	assert_int_equal(sp_cat_expire_closed_shards(f->cat, T_NOW + 24LL * 3600 * 1000), 0);
	all = shards(f, "x");
	assert_int_equal(json_array_size(all), 3);
	json_decref(all);
	assert_int_equal(sp_cat_expire_closed_shards(f->cat, T_NOW + 24LL * 3600 * 1000 + 1), 1);
	all = shards(f, "x");
	assert_int_equal(json_array_size(all), 2);
	json_decref(all);
	assert_int_equal(check_lineage(f, "x"), 2); /* a parent may be gone: still consistent */
}

/* ---- UpdateStreamMode ---- */

static void
test_update_mode(void **state)
{
	struct fx *f = *state;
	const char *arn = "arn:aws:kinesis:us-east-1:" T_ACCT ":stream/m";
	char od[256], prov[256];

	fx_create(f, "m", 2);
	snprintf(od, sizeof(od),
		 "{\"StreamARN\":\"%s\",\"StreamModeDetails\":{\"StreamMode\":\"ON_DEMAND\"}}",
		 arn);
	snprintf(prov, sizeof(prov),
		 "{\"StreamARN\":\"%s\",\"StreamModeDetails\":{\"StreamMode\":\"PROVISIONED\"}}",
		 arn);
	expect_err(f, SP_KOP_UPDATE_STREAM_MODE, "{\"StreamARN\":\"x\"}", "ValidationException",
		   "2 validation errors detected: Value 'x' at 'streamARN' failed to satisfy "
		   "constraint: Member must satisfy regular expression pattern: "
		   "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+; Value null at 'streamModeDetails' "
		   "failed to satisfy constraint: Member must not be null");
	expect_err(f, SP_KOP_UPDATE_STREAM_MODE, prov, "InvalidArgumentException",
		   "Stream m under account " T_ACCT " is already in PROVISIONED mode.");
	assert_null(expect_ok(f, SP_KOP_UPDATE_STREAM_MODE, od));
	assert_true(f->rep.catalog_changed);
	expect_err(f, SP_KOP_SPLIT_SHARD,
		   "{\"StreamName\":\"m\",\"ShardToSplit\":\"0\",\"NewStartingHashKey\":\"5\"}",
		   "ValidationException",
		   "Stream m under account " T_ACCT " is in ON_DEMAND mode: shard capacity is "
		   "managed by the service and cannot be changed by this operation.");
	assert_null(expect_ok(f, SP_KOP_UPDATE_STREAM_MODE, prov));
	expect_err(f, SP_KOP_UPDATE_STREAM_MODE, od, "LimitExceededException",
		   "Stream m under account " T_ACCT " has already switched capacity mode 2 times "
		   "in the last 24 hours, the most UpdateStreamMode allows.");
	f->ctx.now_ms += 24LL * 3600 * 1000 + 1;
	assert_null(expect_ok(f, SP_KOP_UPDATE_STREAM_MODE, od));
	assert_int_equal(check_lineage(f, "m"), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_split, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_split_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_merge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scale, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restart_every_step, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delete_while_updating, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_random_walk, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_update_mode, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
