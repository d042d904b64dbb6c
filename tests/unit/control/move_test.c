/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of moving shards between workers (control/catalog_owners.c, ctl_move.c and the
 * shard_move / shard_balance handlers of ctl_admin.c), against a catalog file and a fake
 * dataplane (dp_kctx: workers, applied version, measured load; dp_catalog: the pushed
 * snapshot): the move's one transaction and the snapshot's past_owners; every check of
 * shard_move with its code and text, in order; "still moving" until the dataplane applied the
 * move; a move to the owner changes nothing; the test clock in until_ms; past owners expired by
 * retention (with the test clock's times), with their shard and with their stream, and kept
 * across a restart; shard_balance dry and performed (counts without a sample, loads with one,
 * one push), its params, and the automatic balance's conditions.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "catalog.h"
#include "ctl.h"
#include "ctl_balance.h"
#include "ctl_streams.h"
#include "kin_fx.h"

#define H_MS (3600LL * 1000)

struct mfx {
	struct fx *k; /* catalog file and Kinesis context (kin_fx.h) */
	struct sp_ctl_ctx ctx;
	struct sp_ctl_session sess;
	struct sp_ctl_load load;
	json_t *reply;
	json_t *pushed; /* the snapshot the last push carried */
	int n_pushes;
	bool connected;
	unsigned workers;
	int64_t applied;
};

static void
capture_out(void *arg, const char *line, size_t len)
{
	struct mfx *m = arg;
	json_error_t jerr;

	json_decref(m->reply);
	m->reply = json_loadb(line, len, 0, &jerr);
	assert_non_null(m->reply);
}

static bool
fake_dp_catalog(void *arg)
{
	struct mfx *m = arg;

	m->n_pushes++;
	json_decref(m->pushed);
	assert_int_equal(sp_cat_dataplane_snapshot_json(m->k->cat, &m->pushed), 0);
	return m->connected;
}

static bool
fake_dp_kctx(void *arg, struct sp_ctl_kctx *out)
{
	struct mfx *m = arg;

	out->account = T_ACCT;
	out->region = "us-east-1";
	out->shard_limit = 500;
	out->n_workers = m->connected ? m->workers : 0;
	out->applied = m->applied;
	out->load = &m->load;
	return m->connected;
}

static int
setup(void **state)
{
	struct mfx *m = calloc(1, sizeof(*m));
	void *k;

	assert_non_null(m);
	fx_setup(&k, 3, true);
	m->k = k;
	m->connected = true;
	m->workers = 3;
	m->ctx.state = SP_CTL_RUNTIME;
	m->ctx.cat = m->k->cat;
	m->ctx.dp_catalog = fake_dp_catalog;
	m->ctx.dp_kctx = fake_dp_kctx;
	m->ctx.dp_arg = m;
	m->k->ctx.load = &m->load;
	sp_ctl_session_init(&m->sess, &m->ctx, capture_out, m);
	*state = m;
	return 0;
}

static int
teardown(void **state)
{
	struct mfx *m = *state;
	void *k = m->k;

	sp_ctl_session_fini(&m->sess);
	json_decref(m->reply);
	json_decref(m->pushed);
	sp_ctl_load_fini(&m->load);
	fx_teardown(&k);
	free(m);
	return 0;
}

/* A stream in `status` with shards of these owners (-1: a closed shard), retention 24 h. */
static void
insert(struct mfx *m, const char *name, const char *status, const int *owners, size_t n)
{
	struct sp_cat_stream st = {.name = name,
				   .status = status,
				   .mode = "PROVISIONED",
				   .retention_hours = 24,
				   .created_ms = T_NOW};
	struct sp_cat_shard sh[8];
	char ids[8][32];

	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++) {
		snprintf(ids[i], sizeof(ids[i]), "shardId-%012zu", i);
		sh[i] = (struct sp_cat_shard){.shard_id = ids[i],
					      .starting_hash_key = "0",
					      .ending_hash_key = "1",
					      .starting_seq = "1",
					      .ending_seq = owners[i] < 0 ? "2" : NULL,
					      .owner_lcore = owners[i] < 0 ? 0 : owners[i]};
	}
	assert_int_equal(sp_cat_stream_insert(m->k->cat, &st, sh, n), 0);
}

static int64_t
cat_version(struct mfx *m)
{
	return version(m->k);
}

/* The shard object of stream/index in a snapshot. */
static json_t *
snap_shard(json_t *snap, const char *stream, int64_t index)
{
	size_t i, j;
	json_t *s, *sh;

	json_array_foreach(json_object_get(snap, "streams"), i, s)
	{
		if (strcmp(json_string_value(json_object_get(s, "name")), stream) != 0) {
			continue;
		}
		json_array_foreach(json_object_get(s, "shards"), j, sh)
		{
			if (json_integer_value(json_object_get(sh, "index")) == index) {
				return sh;
			}
		}
	}
	fail_msg("no shard %s/%lld in the snapshot", stream, (long long)index);
	return NULL;
}

/* past_owners of stream/index in the current snapshot as "a,b," ("" when left out). */
static const char *
past(struct mfx *m, const char *stream, int64_t index)
{
	static char buf[64];
	json_t *snap;
	size_t i;
	json_t *w;

	assert_int_equal(sp_cat_snapshot_json(m->k->cat, &snap), 0);
	json_t *arr = json_object_get(snap_shard(snap, stream, index), "past_owners");

	buf[0] = '\0';
	assert_true(arr == NULL || json_array_size(arr) > 0);
	json_array_foreach(arr, i, w)
	{
		size_t n = strlen(buf);

		snprintf(buf + n, sizeof(buf) - n, "%lld,", (long long)json_integer_value(w));
	}
	json_decref(snap);
	return buf;
}

static int
owner(struct mfx *m, const char *stream, int64_t index)
{
	json_t *snap;

	assert_int_equal(sp_cat_snapshot_json(m->k->cat, &snap), 0);
	int o = (int)json_integer_value(json_object_get(snap_shard(snap, stream, index),
							 "owner_lcore"));

	json_decref(snap);
	return o;
}

static int
count_past(void *arg, const struct sp_cat_past_owner *p)
{
	int64_t *n = arg;

	(void)p;
	(*n)++;
	return 0;
}

static int64_t
n_past(struct mfx *m)
{
	int64_t n = 0;

	assert_int_equal(sp_cat_past_owner_foreach(m->k->cat, NULL, -1, count_past, &n), 0);
	return n;
}

static int
move_cat(struct mfx *m, const char *stream, int64_t index, int from, int to, int64_t now)
{
	struct sp_cat_move mv = {stream, index, from, to, now};
	int64_t v = -1;
	int64_t before = cat_version(m);
	int rc = sp_cat_shard_move(m->k->cat, &mv, &v);

	assert_int_equal(cat_version(m), rc == 0 ? before + 1 : before);
	if (rc == 0) {
		assert_int_equal(v, before + 1);
	}
	return rc;
}

static int
last_past(void *arg, const struct sp_cat_past_owner *p)
{
	struct sp_cat_past_owner *out = arg;

	*out = *p;
	out->stream = NULL; /* only valid during the callback */
	return 0;
}

static void
test_catalog_move(void **state)
{
	struct mfx *m = *state;
	struct sp_cat_past_owner p;

	insert(m, "s", "ACTIVE", (const int[]){0, 1}, 2);
	insert(m, "c", "ACTIVE", (const int[]){-1, 2}, 2);
	int64_t v = cat_version(m);

	assert_int_equal(move_cat(m, "s", 0, 0, 2, T_NOW), 0);
	assert_int_equal(owner(m, "s", 0), 2);
	assert_string_equal(past(m, "s", 0), "0,");
	assert_string_equal(past(m, "s", 1), ""); /* the member is left out when empty */
	assert_int_equal(sp_cat_past_owner_foreach(m->k->cat, "s", 0, last_past, &p), 0);
	assert_true(p.index == 0 && p.owner == 0 && p.until_ms == T_NOW && p.version == v + 1);
	/* on to 1: both past owners, ascending; never the owner */
	assert_int_equal(move_cat(m, "s", 0, 2, 1, T_NOW + 5), 0);
	assert_string_equal(past(m, "s", 0), "0,2,");
	assert_int_equal(owner(m, "s", 0), 1);

	/* Refusals change nothing (move_cat checks the version). */
	assert_int_equal(move_cat(m, "s", 0, 1, 0, T_NOW), -EEXIST); /* a past owner */
	assert_int_equal(move_cat(m, "s", 0, 0, 2, T_NOW), -ESTALE); /* not the owner now */
	assert_int_equal(move_cat(m, "s", 7, 0, 2, T_NOW), -ENOENT);
	assert_int_equal(move_cat(m, "nope", 0, 0, 2, T_NOW), -ENOENT);
	assert_int_equal(move_cat(m, "c", 0, 0, 1, T_NOW), -ESTALE); /* closed */
	assert_int_equal(sp_cat_reshard_begin(m->k->cat, "s", "split", "1", "1", NULL, T_NOW), 0);
	assert_int_equal(move_cat(m, "s", 1, 1, 2, T_NOW), -EBUSY); /* UPDATING */
	assert_int_equal(sp_cat_reshard_finish(m->k->cat, "s"), 0);
	assert_int_equal(n_past(m), 2);

	/* A restart keeps owners and past owners. */
	fx_reopen(m->k);
	m->ctx.cat = m->k->cat;
	assert_string_equal(past(m, "s", 0), "0,2,");
	assert_int_equal(owner(m, "s", 0), 1);
}

static void
test_past_owner_expiry(void **state)
{
	struct mfx *m = *state;

	insert(m, "s", "ACTIVE", (const int[]){0, 1}, 2);
	assert_int_equal(move_cat(m, "s", 0, 0, 2, T_NOW), 0);
	assert_int_equal(move_cat(m, "s", 1, 1, 0, T_NOW + H_MS), 0);
	int64_t v = cat_version(m);

	/* until_ms + retention (24 h) not past yet: kept, nothing bumped */
	assert_int_equal(sp_cat_expire_closed_shards(m->k->cat, T_NOW + 24 * H_MS), 0);
	assert_int_equal(cat_version(m), v);
	assert_int_equal(sp_cat_expire_closed_shards(m->k->cat, T_NOW + 24 * H_MS + 1), 1);
	assert_int_equal(cat_version(m), v + 1);
	assert_string_equal(past(m, "s", 0), "");
	assert_string_equal(past(m, "s", 1), "1,");
	/* the retention at the sweep counts: raised to 48 h, the other row stays longer */
	assert_int_equal(sp_cat_stream_set_retention(m->k->cat, "s", 48), 1);
	assert_int_equal(sp_cat_expire_closed_shards(m->k->cat, T_NOW + 26 * H_MS), 0);
	assert_int_equal(sp_cat_expire_closed_shards(m->k->cat, T_NOW + 49 * H_MS + 1), 1);
	assert_int_equal(n_past(m), 0);
	/* worker 1 may take shard 1 again */
	assert_int_equal(move_cat(m, "s", 1, 0, 1, T_NOW + 50 * H_MS), 0);

	/* A past owner goes with its shard: closed at T, the shard expires, the row too, though
	 * its own time (a later until_ms here) is not up. */
	insert(m, "x", "ACTIVE", (const int[]){0, 1}, 2);
	assert_int_equal(move_cat(m, "x", 0, 0, 2, T_NOW + 100 * H_MS), 0);
	assert_int_equal(sp_cat_reshard_begin(m->k->cat, "x", "split", "0", "1", NULL, T_NOW), 0);
	const int64_t idx[] = {0};
	const char *const seq[] = {"9"};
	struct sp_cat_reshard_switch sw = {.stream = "x",
					   .now_ms = T_NOW,
					   .nclose = 1,
					   .close_index = idx,
					   .close_seq = seq,
					   .next_shard_index = 2};

	assert_int_equal(sp_cat_reshard_switch(m->k->cat, &sw), 0);
	assert_int_equal(sp_cat_reshard_finish(m->k->cat, "x"), 0);
	assert_int_equal(n_past(m), 2);
	assert_int_equal(sp_cat_expire_closed_shards(m->k->cat, T_NOW + 24 * H_MS + 1), 2);
	assert_int_equal(n_past(m), 1);

	/* ...and with its stream. */
	assert_int_equal(move_cat(m, "x", 1, 1, 2, T_NOW), 0);
	assert_int_equal(n_past(m), 2);
	assert_int_equal(sp_cat_stream_mark_deleting(m->k->cat, "x"), 0);
	assert_true(sp_cat_apply_acked(m->k->cat, cat_version(m)) > 0);
	assert_int_equal(n_past(m), 1);
}

/* Dispatch one line; the reply (owned by m). */
static json_t *
rpc(struct mfx *m, const char *method, const char *params)
{
	char line[1024];

	snprintf(line, sizeof(line), "{\"id\":1,\"method\":\"%s\",\"params\":%s}", method, params);
	json_decref(m->reply);
	m->reply = NULL;
	assert_int_equal(sp_ctl_dispatch_line(&m->sess, line, strlen(line)), 1);
	assert_non_null(m->reply); /* synchronous */
	return m->reply;
}

/* An error reply with exactly this code and message; the catalog did not change. */
static void
expect_rpc_err(struct mfx *m, const char *method, const char *params, int code, const char *msg)
{
	int64_t before = cat_version(m);
	int pushes = m->n_pushes;
	json_t *e = json_object_get(rpc(m, method, params), "error");

	if (e == NULL) {
		fail_msg("%s %s: succeeded, expected %d %s", method, params, code, msg);
	}
	const char *got = json_string_value(json_object_get(e, "message"));

	if (json_integer_value(json_object_get(e, "code")) != code || strcmp(got, msg) != 0) {
		fail_msg("%s %s\n got: %lld %s\nwant: %d %s", method, params,
			 (long long)json_integer_value(json_object_get(e, "code")), got, code, msg);
	}
	assert_int_equal(cat_version(m), before);
	assert_int_equal(m->n_pushes, pushes);
}

static json_t *
expect_rpc_ok(struct mfx *m, const char *method, const char *params)
{
	json_t *r = rpc(m, method, params);
	json_t *res = json_object_get(r, "result");

	if (res == NULL) {
		json_t *e = json_object_get(r, "error");

		fail_msg("%s %s: %s", method, params,
			 json_string_value(json_object_get(e, "message")));
	}
	return res;
}

static void
expect_move_err(struct mfx *m, const char *params, int code, const char *msg)
{
	expect_rpc_err(m, "shard_move", params, code, msg);
}

static void
test_shard_move_checks(void **state)
{
	struct mfx *m = *state;

	insert(m, "s", "ACTIVE", (const int[]){0, 1}, 2);
	insert(m, "c", "ACTIVE", (const int[]){-1, 2}, 2);
	insert(m, "u", "UPDATING", (const int[]){0}, 1);

	/* params, before anything else */
	expect_move_err(m, "{\"stream\":\"s\",\"shard\":0,\"worker\":1,\"x\":1}", -32602,
			"shard_move does not take param \"x\"");
	expect_move_err(m, "{\"shard\":0,\"worker\":1}", -32602, "missing param \"stream\"");
	expect_move_err(m, "{\"stream\":\"s s\",\"shard\":0,\"worker\":1}", -32602,
			"\"stream\" must be a stream name: 1 to 128 of [a-zA-Z0-9_.-]");
	expect_move_err(m, "{\"stream\":\"s\",\"worker\":1}", -32602, "missing param \"shard\"");
	expect_move_err(m, "{\"stream\":\"s\",\"shard\":\"shardId-x\",\"worker\":1}", -32602,
			"\"shard\" must be a shard id (shardId-000000000007) or its index (7)");
	expect_move_err(m, "{\"stream\":\"s\",\"shard\":-1,\"worker\":1}", -32602,
			"\"shard\" must be a shard id (shardId-000000000007) or its index (7)");
	expect_move_err(m, "{\"stream\":\"s\",\"shard\":0}", -32602, "missing param \"worker\"");
	expect_move_err(m, "{\"stream\":\"s\",\"shard\":0,\"worker\":\"1\"}", -32602,
			"\"worker\" must be an integer from -2147483648 to 2147483647");

	/* then the catalog and the dataplane */
	m->ctx.cat = NULL;
	expect_move_err(m, "{\"stream\":\"s\",\"shard\":0,\"worker\":1}", -32603,
			"catalog not open");
	m->ctx.cat = m->k->cat;
	m->connected = false;
	expect_move_err(m, "{\"stream\":\"s\",\"shard\":0,\"worker\":1}", -32000,
			"no dataplane connected");
	m->connected = true;

	/* stream, shard, open, ACTIVE, worker range */
	expect_move_err(m, "{\"stream\":\"nope\",\"shard\":0,\"worker\":1}", -32003,
			"stream \"nope\" not found");
	expect_move_err(m, "{\"stream\":\"s\",\"shard\":9,\"worker\":1}", -32003,
			"shard shardId-000000000009 of stream s not found");
	expect_move_err(m, "{\"stream\":\"c\",\"shard\":\"shardId-000000000000\",\"worker\":1}",
			-32001,
			"shard shardId-000000000000 of stream c is closed: only open shards move");
	expect_move_err(m, "{\"stream\":\"u\",\"shard\":0,\"worker\":1}", -32001,
			"stream u is not ACTIVE, instead in state UPDATING");
	expect_move_err(m, "{\"stream\":\"s\",\"shard\":0,\"worker\":3}", -32602,
			"worker 3 out of range: the dataplane has 3 workers (0 to 2)");
	expect_move_err(m, "{\"stream\":\"s\",\"shard\":0,\"worker\":-1}", -32602,
			"worker -1 out of range: the dataplane has 3 workers (0 to 2)");
	/* the closed check comes before the range check, the stream's before the shard's */
	expect_move_err(m, "{\"stream\":\"c\",\"shard\":0,\"worker\":7}", -32001,
			"shard shardId-000000000000 of stream c is closed: only open shards move");
	assert_int_equal(m->n_pushes, 0);
}

static void
test_shard_move(void **state)
{
	struct mfx *m = *state;
	struct sp_cat_past_owner p;

	insert(m, "s", "ACTIVE", (const int[]){0, 1}, 2);
	m->applied = cat_version(m); /* the dataplane serves the catalog */
	int64_t v = cat_version(m);
	json_t *r = expect_rpc_ok(m, "shard_move",
				  "{\"stream\":\"s\",\"shard\":\"shardId-000000000000\","
				  "\"worker\":2}");

	assert_string_equal(json_string_value(json_object_get(r, "stream")), "s");
	assert_string_equal(json_string_value(json_object_get(r, "shard")), "shardId-000000000000");
	assert_int_equal(json_integer_value(json_object_get(r, "from")), 0);
	assert_int_equal(json_integer_value(json_object_get(r, "to")), 2);
	assert_true(json_is_true(json_object_get(r, "moved")));
	assert_int_equal(json_integer_value(json_object_get(r, "catalog_version")), v + 1);
	assert_int_equal(json_object_size(r), 6);
	/* pushed before the reply, with the new owner and the old one as a past owner */
	assert_int_equal(m->n_pushes, 1);
	json_t *sh = snap_shard(m->pushed, "s", 0);

	assert_int_equal(json_integer_value(json_object_get(sh, "owner_lcore")), 2);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(sh, "past_owners"), 0)),
			 0);
	assert_int_equal(json_array_size(json_object_get(sh, "past_owners")), 1);

	/* The dataplane has not applied it: a worker that is a past owner is refused first,
	 * then any other move of the shard (even to where it is) waits. */
	const char *back = "{\"stream\":\"s\",\"shard\":0,\"worker\":0}";

	expect_move_err(m, back, -32001,
			"worker 0 still holds records of shard shardId-000000000000 from an "
			"earlier ownership (until retention passes); choose another worker");
	expect_move_err(m, "{\"stream\":\"s\",\"shard\":0,\"worker\":1}", -32001,
			"shard shardId-000000000000 is still moving");
	expect_move_err(m, "{\"stream\":\"s\",\"shard\":0,\"worker\":2}", -32001,
			"shard shardId-000000000000 is still moving");
	/* another shard is free to move meanwhile */
	r = expect_rpc_ok(m, "shard_move", "{\"stream\":\"s\",\"shard\":1,\"worker\":1}");
	assert_false(json_is_true(json_object_get(r, "moved"))); /* it is there already */
	assert_int_equal(json_integer_value(json_object_get(r, "from")), 1);
	assert_int_equal(json_integer_value(json_object_get(r, "catalog_version")), v + 1);
	assert_int_equal(m->n_pushes, 1);

	/* applied: the shard moves on, and the test clock dates the past owner */
	m->applied = v + 1;
	sp_cat_clock_offset_allow(m->k->cat);
	assert_int_equal(sp_cat_clock_offset_set(m->k->cat, 5 * H_MS), 1);
	int64_t t0 = (int64_t)time(NULL) * 1000;

	r = expect_rpc_ok(m, "shard_move", "{\"stream\":\"s\",\"shard\":\"7-0\",\"worker\":1}");
	assert_true(json_is_true(json_object_get(r, "moved")));
	assert_int_equal(json_integer_value(json_object_get(r, "from")), 2);
	assert_int_equal(m->n_pushes, 2);
	assert_string_equal(past(m, "s", 0), "0,2,");
	m->applied = v + 2;
	assert_int_equal(sp_cat_past_owner_foreach(m->k->cat, "s", 0, last_past, &p), 0);
	assert_int_equal(p.owner, 2);
	assert_true(p.until_ms >= t0 + 5 * H_MS - 1000 && p.until_ms <= t0 + 5 * H_MS + 2000);
	/* with two past owners of three workers, only the owner is left: moved false */
	r = expect_rpc_ok(m, "shard_move", "{\"stream\":\"s\",\"shard\":0,\"worker\":1}");
	assert_false(json_is_true(json_object_get(r, "moved")));
}

/* A load sample of shards 0..n-1 of stream b with these record counters. */
static void
sample_b(struct sp_ctl_load *l, const int *records, size_t n, int64_t at_ms)
{
	json_t *rows = json_array();

	for (size_t i = 0; i < n; i++) {
		char id[32];

		snprintf(id, sizeof(id), "shardId-%012zu", i);
		json_array_append_new(rows, json_pack("{s:s,s:s,s:b,s:i,s:i}", "stream", "b",
						      "shard", id, "open", 1, "records",
						      records[i], "bytes", 0));
	}
	json_t *dp = json_pack("{s:{s:o}}", "api", "shards", rows);

	assert_int_equal(sp_ctl_load_sample(l, dp, at_ms), 0);
	json_decref(dp);
}

static void
test_shard_balance_params(void **state)
{
	struct mfx *m = *state;

	expect_rpc_err(m, "shard_balance", "{\"x\":1}", -32602,
		       "shard_balance does not take param \"x\"");
	expect_rpc_err(m, "shard_balance", "{\"dry_run\":1}", -32602,
		       "\"dry_run\" must be true or false");
	expect_rpc_err(m, "shard_balance", "{\"max_moves\":257}", -32602,
		       "\"max_moves\" must be an integer from 0 to 256");
	expect_rpc_err(m, "shard_balance", "{\"max_moves\":-1}", -32602,
		       "\"max_moves\" must be an integer from 0 to 256");
	m->ctx.cat = NULL;
	expect_rpc_err(m, "shard_balance", "{}", -32603, "catalog not open");
	m->ctx.cat = m->k->cat;
	m->connected = false;
	expect_rpc_err(m, "shard_balance", "{\"dry_run\":true}", -32000,
		       "no dataplane connected");
}

static void
test_shard_balance(void **state)
{
	struct mfx *m = *state;

	m->workers = 2;
	insert(m, "b", "ACTIVE", (const int[]){0, 0, 0, 0}, 4);
	insert(m, "u", "UPDATING", (const int[]){0, 0}, 2);
	m->applied = cat_version(m);

	/* No sample: shard counts. Worker 0 has 6 open shards (2 of u, which may not move). */
	int64_t v = cat_version(m);
	json_t *r = expect_rpc_ok(m, "shard_balance", "{\"dry_run\":true}");
	json_t *mv = json_object_get(r, "moves");

	assert_true(json_is_true(json_object_get(r, "dry_run")));
	assert_int_equal(json_array_size(mv), 3); /* 6/0 -> 3/3 */
	assert_string_equal(json_string_value(json_object_get(json_array_get(mv, 0), "stream")),
			    "b");
	assert_string_equal(json_string_value(json_object_get(json_array_get(mv, 2), "shard")),
			    "shardId-000000000002");
	json_t *w1 = json_array_get(json_object_get(r, "workers"), 1);

	assert_int_equal(json_integer_value(json_object_get(w1, "worker")), 1);
	assert_int_equal(json_integer_value(json_object_get(w1, "shards")), 3);
	assert_true(json_real_value(json_object_get(w1, "load")) == 0);
	assert_int_equal(cat_version(m), v); /* dry: nothing changed, nothing pushed */
	assert_int_equal(m->n_pushes, 0);
	r = expect_rpc_ok(m, "shard_balance", "{\"max_moves\":0}");
	assert_int_equal(json_array_size(json_object_get(r, "moves")), 0);
	assert_int_equal(m->n_pushes, 0);

	/* A sample: b/0 500 records/s, b/1 300, b/2 200 (1000 on worker 0): b/0 alone evens it. */
	sample_b(&m->load, (const int[]){0, 0, 0}, 3, 1000);
	sample_b(&m->load, (const int[]){1000, 600, 400}, 3, 3000);
	r = expect_rpc_ok(m, "shard_balance", "{}");
	mv = json_object_get(r, "moves");
	assert_false(json_is_true(json_object_get(r, "dry_run")));
	assert_int_equal(json_array_size(mv), 1);
	json_t *m0 = json_array_get(mv, 0);

	assert_string_equal(json_string_value(json_object_get(m0, "shard")),
			    "shardId-000000000000");
	assert_int_equal(json_integer_value(json_object_get(m0, "from")), 0);
	assert_int_equal(json_integer_value(json_object_get(m0, "to")), 1);
	assert_true(json_real_value(json_object_get(m0, "load")) == 500);
	json_t *w0 = json_array_get(json_object_get(r, "workers"), 0);

	assert_int_equal(json_integer_value(json_object_get(w0, "shards")), 5);
	assert_true(json_real_value(json_object_get(w0, "load")) == 500);
	assert_int_equal(cat_version(m), v + 1);
	assert_int_equal(m->n_pushes, 1);
	assert_int_equal(owner(m, "b", 0), 1);
	assert_string_equal(past(m, "b", 0), "0,");
	/* balanced now: nothing more */
	r = expect_rpc_ok(m, "shard_balance", "{}");
	assert_int_equal(json_array_size(json_object_get(r, "moves")), 0);
	assert_int_equal(m->n_pushes, 1);
}

static void
test_balance_auto(void **state)
{
	struct mfx *m = *state;
	struct sp_ctl_kctx kctx = {.n_workers = 2, .now_ms = T_NOW, .load = &m->load};
	int64_t last = 0;

	insert(m, "b", "ACTIVE", (const int[]){0, 0, 0, 1}, 4);
	kctx.applied = cat_version(m);
	json_t *dp0 = json_pack("{s:{s:[{s:s,s:s,s:b,s:i,s:i},{s:s,s:s,s:b,s:i,s:i}]}}", "api",
				"shards", "stream", "b", "shard", "shardId-000000000000", "open",
				1, "records", 0, "bytes", 0, "stream", "b", "shard",
				"shardId-000000000001", "open", 1, "records", 0, "bytes", 0);
	/* 1000 records/s and 1 MiB/s (2024 load) on b/0, 500 records/s on b/1 */
	json_t *dp1 = json_pack("{s:{s:[{s:s,s:s,s:b,s:i,s:i},{s:s,s:s,s:b,s:i,s:i}]}}", "api",
				"shards", "stream", "b", "shard", "shardId-000000000000", "open",
				1, "records", 1000, "bytes", 1048576, "stream", "b", "shard",
				"shardId-000000000001", "open", 1, "records", 500, "bytes", 0);

	assert_int_equal(sp_ctl_load_sample(&m->load, dp0, 1000), 0);
	assert_int_equal(sp_ctl_load_sample(&m->load, dp1, 2000), 0);
	json_decref(dp0);
	json_decref(dp1);
	assert_true(sp_ctl_load_of(&m->load, "b", 0) == 2024);

	/* off, or a single worker: nothing */
	assert_int_equal(sp_ctl_balance_auto(m->k->cat, &kctx, 0, 50000, &last), 0);
	kctx.n_workers = 1;
	assert_int_equal(sp_ctl_balance_auto(m->k->cat, &kctx, 10, 50000, &last), 0);
	kctx.n_workers = 2;
	assert_int_equal(last, 0);
	/* 2524 on worker 0, 0 on 1: uneven and worth it -> b/0 moves (2524 - 2024 = 500 left) */
	assert_int_equal(sp_ctl_balance_auto(m->k->cat, &kctx, 10, 50000, &last), 1);
	assert_int_equal(last, 50000);
	assert_int_equal(owner(m, "b", 0), 1);
	/* within the interval: not again, whatever the loads */
	kctx.applied = cat_version(m);
	assert_int_equal(sp_ctl_balance_auto(m->k->cat, &kctx, 10, 59999, &last), 0);
	/* 500 and 2024 now: ratio above 1.5 and a spread of 1524 -> b/1 (500) would leave
	 * 0 / 2524: it does not narrow the gap, so nothing moves, but the run counts */
	assert_int_equal(sp_ctl_balance_auto(m->k->cat, &kctx, 10, 60000, &last), 0);
	assert_int_equal(last, 60000);
	/* a spread under SP_CTL_BALANCE_MIN_SPREAD (600 records/s on b/1 alone) is left alone */
	struct sp_ctl_load l2 = {0};

	dp0 = json_pack("{s:{s:[{s:s,s:s,s:b,s:i,s:i}]}}", "api", "shards", "stream", "b",
			"shard", "shardId-000000000001", "open", 1, "records", 0, "bytes", 0);
	dp1 = json_pack("{s:{s:[{s:s,s:s,s:b,s:i,s:i}]}}", "api", "shards", "stream", "b",
			"shard", "shardId-000000000001", "open", 1, "records", 600, "bytes", 0);
	assert_int_equal(sp_ctl_load_sample(&l2, dp0, 1000), 0);
	assert_int_equal(sp_ctl_load_sample(&l2, dp1, 2000), 0);
	json_decref(dp0);
	json_decref(dp1);
	kctx.load = &l2;
	assert_int_equal(sp_ctl_balance_auto(m->k->cat, &kctx, 10, 90000, &last), 0);
	assert_int_equal(last, 60000);
	sp_ctl_load_fini(&l2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_catalog_move, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_past_owner_expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shard_move_checks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shard_move, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shard_balance_params, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shard_balance, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_balance_auto, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
