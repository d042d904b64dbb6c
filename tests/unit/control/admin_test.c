/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of control/ctl_admin.c through the dispatcher, on an in-memory catalog and a fake
 * dataplane hook: stream_quota_set's success (catalog change, version bump, push through
 * ctx->dp_catalog seeing the new snapshot), an unchanged call (no bump, no push), no dataplane,
 * unknown stream, every kind of bad params, the state mask and a missing catalog;
 * clock_offset_set refused outside test mode, then set, pushed and shown in the dataplane's
 * snapshot only; the shard-iterator key (derived, not the token key, stable across reopens);
 * kinesis through a fake dp_kctx hook (settings and workers used, push on a change only,
 * -32000 for CreateStream and reshards without a dataplane, bad params, no channel).
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
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "catalog.h"
#include "ctl.h"
#include "ctl_log.h"
#include "ctl_streams.h"

struct fixture {
	struct sp_ctl_ctx ctx;
	struct sp_ctl_session sess;
	struct sp_cat *cat;
	json_t *reply;	   /* the last reply line, parsed */
	int n_replies;
	int n_pushes;	   /* dp_catalog calls */
	bool dp_connected; /* what the fake hook answers */
	json_int_t pushed_version;
	json_int_t pushed_records;
	json_int_t pushed_bytes;
	json_int_t pushed_offset; /* iterators.clock_offset_ms of the dataplane's snapshot */
	int n_tls_reloads;	  /* dp_tls_reload calls */
	char tls_cert[64];	  /* what the last one asked for ("-": the files in force) */
	char tls_key[64];
};

static void
capture_out(void *arg, const char *line, size_t len)
{
	struct fixture *f = arg;
	json_error_t jerr;

	assert_true(len > 0 && line[len - 1] == '\n');
	json_decref(f->reply);
	f->reply = json_loadb(line, len, 0, &jerr);
	assert_non_null(f->reply);
	f->n_replies++;
}

/* The fake dataplane: what it would be sent is the snapshot at the time of the push. */
static bool
fake_dp_catalog(void *arg)
{
	struct fixture *f = arg;
	json_t *snap;

	f->n_pushes++;
	assert_int_equal(sp_cat_dataplane_snapshot_json(f->cat, &snap), 0);
	json_t *s = json_array_get(json_object_get(snap, "streams"), 0);
	json_t *it = json_object_get(snap, "iterators");

	assert_true(json_is_integer(json_object_get(it, "clock_offset_ms")));
	f->pushed_offset = json_integer_value(json_object_get(it, "clock_offset_ms"));
	f->pushed_version = json_integer_value(json_object_get(snap, "catalog_version"));
	f->pushed_records = json_integer_value(json_object_get(s, "quota_records_per_s"));
	f->pushed_bytes = json_integer_value(json_object_get(s, "quota_bytes_per_s"));
	json_decref(snap);
	return f->dp_connected;
}

/* The fake dp_kctx hook: two workers while "connected". */
static bool
fake_dp_kctx(void *arg, struct sp_ctl_kctx *out)
{
	struct fixture *f = arg;

	out->account = "210987654321";
	out->region = "eu-west-3";
	out->shard_limit = 20;
	out->n_workers = f->dp_connected ? 2 : 0;
	return f->dp_connected;
}

/* The fake dp_tls_reload hook: records what the dataplane would be sent. */
static bool
fake_dp_tls_reload(void *arg, const char *cert, const char *key)
{
	struct fixture *f = arg;

	f->n_tls_reloads++;
	snprintf(f->tls_cert, sizeof(f->tls_cert), "%s", cert != NULL ? cert : "-");
	snprintf(f->tls_key, sizeof(f->tls_key), "%s", key != NULL ? key : "-");
	return f->dp_connected;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct sp_cat_stream st = {.name = "s", .status = "ACTIVE", .mode = "PROVISIONED"};
	struct sp_cat_shard sh = {.shard_id = "shardId-000000000000", .owner_lcore = 1};

	assert_non_null(f);
	assert_int_equal(sp_cat_open(":memory:", &f->cat), 0);
	assert_int_equal(sp_cat_stream_insert(f->cat, &st, &sh, 1), 0);
	f->ctx.state = SP_CTL_RUNTIME;
	f->ctx.cat = f->cat;
	f->ctx.dp_catalog = fake_dp_catalog;
	f->ctx.dp_kctx = fake_dp_kctx;
	f->ctx.dp_tls_reload = fake_dp_tls_reload;
	f->ctx.dp_arg = f;
	f->dp_connected = true;
	sp_ctl_session_init(&f->sess, &f->ctx, capture_out, f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	sp_ctl_session_fini(&f->sess);
	json_decref(f->reply);
	sp_cat_close(f->cat);
	free(f);
	return 0;
}

/* Dispatch stream_quota_set with this params text; return the reply (owned by f). */
static json_t *
quota_set(struct fixture *f, const char *params)
{
	char line[1024];
	int n = f->n_replies;

	snprintf(line, sizeof(line), "{\"id\":9,\"method\":\"stream_quota_set\",\"params\":%s}",
		 params);
	assert_int_equal(sp_ctl_dispatch_line(&f->sess, line, strlen(line)), 1);
	assert_int_equal(f->n_replies, n + 1); /* synchronous: answered at once */
	assert_int_equal(json_integer_value(json_object_get(f->reply, "id")), 9);
	return f->reply;
}

static json_t *
result(json_t *reply)
{
	json_t *r = json_object_get(reply, "result");

	assert_non_null(r);
	assert_null(json_object_get(reply, "error"));
	return r;
}

/* The error code of reply; *msg gets its message. */
static json_int_t
err(json_t *reply, const char **msg)
{
	json_t *e = json_object_get(reply, "error");

	assert_true(json_is_object(e));
	assert_null(json_object_get(reply, "result"));
	if (msg != NULL) {
		*msg = json_string_value(json_object_get(e, "message"));
	}
	return json_integer_value(json_object_get(e, "code"));
}

static int64_t
version(struct fixture *f)
{
	int64_t v = -1;

	assert_int_equal(sp_cat_version(f->cat, &v), 0);
	return v;
}

static void
test_set_and_push(void **state)
{
	struct fixture *f = *state;
	struct sp_cat_stream_row row;

	assert_int_equal(version(f), 2);
	json_t *r = quota_set(f, "{\"stream\":\"s\",\"records_per_s\":5,\"bytes_per_s\":0}");

	r = result(r);

	assert_string_equal(json_string_value(json_object_get(r, "stream")), "s");
	assert_int_equal(json_integer_value(json_object_get(r, "records_per_s")), 5);
	assert_int_equal(json_integer_value(json_object_get(r, "bytes_per_s")), 0);
	assert_true(json_is_true(json_object_get(r, "changed")));
	assert_true(json_is_true(json_object_get(r, "pushed")));
	assert_int_equal(json_integer_value(json_object_get(r, "catalog_version")), 3);
	/* One push, and it already carried the committed change. */
	assert_int_equal(f->n_pushes, 1);
	assert_int_equal(f->pushed_version, 3);
	assert_int_equal(f->pushed_records, 5);
	assert_int_equal(f->pushed_bytes, 0);
	assert_int_equal(sp_cat_stream_get(f->cat, "s", &row), 0);
	assert_int_equal(row.quota_records_per_s, 5);
	assert_int_equal(row.quota_bytes_per_s, 0);

	/* Same values: nothing changes, nothing is pushed. */
	r = result(quota_set(f, "{\"bytes_per_s\":0,\"records_per_s\":5,\"stream\":\"s\"}"));
	assert_true(json_is_false(json_object_get(r, "changed")));
	assert_true(json_is_false(json_object_get(r, "pushed")));
	assert_int_equal(json_integer_value(json_object_get(r, "catalog_version")), 3);
	assert_int_equal(f->n_pushes, 1);

	/* The upper bound is accepted; back to off. */
	result(quota_set(f, "{\"stream\":\"s\",\"records_per_s\":0,"
			    "\"bytes_per_s\":1000000000}"));
	assert_int_equal(f->pushed_bytes, 1000000000);
	r = result(quota_set(f, "{\"stream\":\"s\",\"records_per_s\":0,\"bytes_per_s\":0}"));
	assert_int_equal(json_integer_value(json_object_get(r, "catalog_version")), 5);
	assert_int_equal(f->n_pushes, 3);
	assert_int_equal(f->pushed_records + f->pushed_bytes, 0);

	/* catalog_get shows what was pushed. */
	const char *line = "{\"id\":1,\"method\":\"catalog_get\"}";

	assert_int_equal(sp_ctl_dispatch_line(&f->sess, line, strlen(line)), 1);
	json_t *st = json_array_get(json_object_get(result(f->reply), "streams"), 0);

	assert_int_equal(json_integer_value(json_object_get(st, "quota_bytes_per_s")), 0);
}

static void
test_no_dataplane(void **state)
{
	struct fixture *f = *state;

	/* Connected never: the hook says so; the change is made all the same. */
	f->dp_connected = false;
	json_t *r = quota_set(f, "{\"stream\":\"s\",\"records_per_s\":1,\"bytes_per_s\":2}");

	r = result(r);

	assert_true(json_is_true(json_object_get(r, "changed")));
	assert_true(json_is_false(json_object_get(r, "pushed")));
	assert_int_equal(f->n_pushes, 1);
	/* No channel at all (no hook). */
	f->ctx.dp_catalog = NULL;
	r = result(quota_set(f, "{\"stream\":\"s\",\"records_per_s\":3,\"bytes_per_s\":2}"));
	assert_true(json_is_true(json_object_get(r, "changed")));
	assert_true(json_is_false(json_object_get(r, "pushed")));
	assert_int_equal(json_integer_value(json_object_get(r, "catalog_version")), 4);
	assert_int_equal(f->n_pushes, 1);
}

static void
test_unknown_stream(void **state)
{
	struct fixture *f = *state;
	const char *msg;

	assert_int_equal(err(quota_set(f, "{\"stream\":\"nope\",\"records_per_s\":5,"
					  "\"bytes_per_s\":0}"),
			     &msg),
			 SP_CTL_E_NOT_FOUND);
	assert_string_equal(msg, "stream \"nope\" not found");
	assert_int_equal(version(f), 2);
	assert_int_equal(f->n_pushes, 0);
}

static void
test_bad_params(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
		"{}",
		"null",
		"{\"records_per_s\":5,\"bytes_per_s\":0}",
		"{\"stream\":\"s\",\"bytes_per_s\":0}",
		"{\"stream\":\"s\",\"records_per_s\":5}",
		"{\"stream\":\"s\",\"records_per_s\":-1,\"bytes_per_s\":0}",
		"{\"stream\":\"s\",\"records_per_s\":5,\"bytes_per_s\":-1}",
		"{\"stream\":\"s\",\"records_per_s\":1000000001,\"bytes_per_s\":0}",
		"{\"stream\":\"s\",\"records_per_s\":5,\"bytes_per_s\":1000000001}",
		"{\"stream\":\"s\",\"records_per_s\":9223372036854775807,\"bytes_per_s\":0}",
		"{\"stream\":\"s\",\"records_per_s\":5.0,\"bytes_per_s\":0}",
		"{\"stream\":\"s\",\"records_per_s\":\"5\",\"bytes_per_s\":0}",
		"{\"stream\":\"s\",\"records_per_s\":true,\"bytes_per_s\":0}",
		"{\"stream\":\"s\",\"records_per_s\":null,\"bytes_per_s\":0}",
		"{\"stream\":5,\"records_per_s\":5,\"bytes_per_s\":0}",
		"{\"stream\":\"\",\"records_per_s\":5,\"bytes_per_s\":0}",
		"{\"stream\":\"a b\",\"records_per_s\":5,\"bytes_per_s\":0}",
		"{\"stream\":\"s\",\"records_per_s\":5,\"bytes_per_s\":0,\"shard\":1}",
	};
	const char *msg;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_int_t code = err(quota_set(f, bad[i]), NULL);

		if (code != SP_CTL_E_INVALID_PARAMS) {
			fail_msg("params %s: code %lld", bad[i], (long long)code);
		}
	}
	/* A name over 128 characters. */
	char params[512];

	snprintf(params, sizeof(params),
		 "{\"stream\":\"%0129d\",\"records_per_s\":5,\"bytes_per_s\":0}", 0);
	assert_int_equal(err(quota_set(f, params), NULL), SP_CTL_E_INVALID_PARAMS);
	/* The messages name the culprit. */
	err(quota_set(f, bad[7]), &msg);
	assert_string_equal(msg, "\"records_per_s\" must be an integer from 0 to 1000000000");
	err(quota_set(f, bad[4]), &msg);
	assert_string_equal(msg, "missing param \"bytes_per_s\"");
	err(quota_set(f, bad[17]), &msg);
	assert_string_equal(msg, "stream_quota_set does not take param \"shard\"");
	assert_int_equal(version(f), 2);
	assert_int_equal(f->n_pushes, 0);
}

static void
test_state_and_no_catalog(void **state)
{
	struct fixture *f = *state;
	const char *ok = "{\"stream\":\"s\",\"records_per_s\":5,\"bytes_per_s\":0}";

	f->ctx.state = SP_CTL_STARTUP;
	assert_int_equal(err(quota_set(f, ok), NULL), SP_CTL_E_STATE);
	f->ctx.state = SP_CTL_RUNTIME;
	f->ctx.cat = NULL;
	assert_int_equal(err(quota_set(f, ok), NULL), SP_CTL_E_INTERNAL);
	assert_int_equal(version(f), 2);
	assert_int_equal(f->n_pushes, 0);
	/* The method is listed, runtime only. */
	const char *line = "{\"id\":1,\"method\":\"rpc_get_methods\"}";
	const struct sp_ctl_method *m = sp_ctl_method_find("stream_quota_set");

	assert_non_null(m);
	assert_int_equal(m->state_mask, SP_CTL_RUNTIME);
	assert_int_equal(sp_ctl_dispatch_line(&f->sess, line, strlen(line)), 1);
	assert_non_null(json_object_get(f->reply, "result"));
}

/* Dispatch clock_offset_set with this params text; return the reply (owned by f). */
static json_t *
clock_set(struct fixture *f, const char *params)
{
	char line[512];
	int n = f->n_replies;

	snprintf(line, sizeof(line), "{\"id\":7,\"method\":\"clock_offset_set\",\"params\":%s}",
		 params);
	assert_int_equal(sp_ctl_dispatch_line(&f->sess, line, strlen(line)), 1);
	assert_int_equal(f->n_replies, n + 1);
	assert_int_equal(json_integer_value(json_object_get(f->reply, "id")), 7);
	return f->reply;
}

static void
test_clock_offset_needs_test_mode(void **state)
{
	struct fixture *f = *state;
	const char *msg;

	assert_int_equal(err(clock_set(f, "{\"ms\":301000}"), &msg), SP_CTL_E_STATE);
	assert_string_equal(msg, "clock_offset_set is for tests: spate-control runs without "
				 "--test-services");
	assert_int_equal(sp_cat_clock_offset_ms(f->cat), 0);
	assert_int_equal(sp_cat_clock_offset_set(f->cat, 5), -EPERM);
	assert_int_equal(f->n_pushes, 0);
	const struct sp_ctl_method *m = sp_ctl_method_find("clock_offset_set");

	assert_non_null(m);
	assert_int_equal(m->state_mask, SP_CTL_RUNTIME);
}

static void
test_clock_offset_set_and_push(void **state)
{
	struct fixture *f = *state;
	json_t *r;

	sp_cat_clock_offset_allow(f->cat);
	r = result(clock_set(f, "{\"ms\":301000}"));
	assert_int_equal(json_integer_value(json_object_get(r, "ms")), 301000);
	assert_true(json_is_true(json_object_get(r, "changed")));
	assert_true(json_is_true(json_object_get(r, "pushed")));
	assert_int_equal(f->n_pushes, 1);
	assert_int_equal(f->pushed_offset, 301000);
	/* Not a catalog change: the version stays (the dataplane applies it all the same). */
	assert_int_equal(f->pushed_version, 2);
	assert_int_equal(version(f), 2);
	assert_int_equal(sp_cat_clock_offset_ms(f->cat), 301000);

	/* The same again: nothing pushed. Negative offsets and both bounds are accepted. */
	r = result(clock_set(f, "{\"ms\":301000}"));
	assert_true(json_is_false(json_object_get(r, "changed")));
	assert_true(json_is_false(json_object_get(r, "pushed")));
	assert_int_equal(f->n_pushes, 1);
	result(clock_set(f, "{\"ms\":-31622400000}"));
	assert_int_equal(f->pushed_offset, -SP_CAT_CLOCK_OFFSET_MAX_MS);
	result(clock_set(f, "{\"ms\":31622400000}"));
	assert_int_equal(f->pushed_offset, SP_CAT_CLOCK_OFFSET_MAX_MS);

	/* No dataplane: set all the same, its next hello's config carries it. */
	f->dp_connected = false;
	r = result(clock_set(f, "{\"ms\":0}"));
	assert_true(json_is_true(json_object_get(r, "changed")));
	assert_true(json_is_false(json_object_get(r, "pushed")));
	assert_int_equal(sp_cat_clock_offset_ms(f->cat), 0);
	assert_int_equal(f->n_pushes, 4);
}

static void
test_clock_offset_bad_params(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
		"{}",
		"null",
		"{\"ms\":31622400001}",
		"{\"ms\":-31622400001}",
		"{\"ms\":9223372036854775807}",
		"{\"ms\":1.5}",
		"{\"ms\":\"5\"}",
		"{\"ms\":null}",
		"{\"ms\":5,\"s\":1}",
	};
	const char *msg;

	sp_cat_clock_offset_allow(f->cat);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_int_t code = err(clock_set(f, bad[i]), NULL);

		if (code != SP_CTL_E_INVALID_PARAMS) {
			fail_msg("params %s: code %lld", bad[i], (long long)code);
		}
	}
	err(clock_set(f, bad[2]), &msg);
	assert_string_equal(msg,
			    "\"ms\" must be an integer from -31622400000 to 31622400000");
	err(clock_set(f, bad[0]), &msg);
	assert_string_equal(msg, "missing param \"ms\"");
	assert_int_equal(sp_cat_clock_offset_ms(f->cat), 0);
	assert_int_equal(f->n_pushes, 0);
	f->ctx.cat = NULL;
	assert_int_equal(err(clock_set(f, "{\"ms\":1}"), NULL), SP_CTL_E_INTERNAL);
}

/* The key in the dataplane's snapshot, as bytes. */
static void
snapshot_iter_key(struct sp_cat *cat, uint8_t out[SP_CAT_ITER_KEY_BYTES])
{
	json_t *snap;

	assert_int_equal(sp_cat_dataplane_snapshot_json(cat, &snap), 0);
	const char *hex =
	    json_string_value(json_object_get(json_object_get(snap, "iterators"), "key"));

	assert_non_null(hex);
	assert_int_equal(strlen(hex), 2 * SP_CAT_ITER_KEY_BYTES);
	for (size_t i = 0; i < SP_CAT_ITER_KEY_BYTES; i++) {
		unsigned v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	json_decref(snap);
}

static void
test_iter_key(void **state)
{
	struct fixture *f = *state;
	uint8_t k1[SP_CAT_ITER_KEY_BYTES], k2[SP_CAT_ITER_KEY_BYTES], ref[EVP_MAX_MD_SIZE];
	static const char label[] = "spate shard iterator key v1";
	unsigned int ref_len = 0;
	char path[] = "/tmp/spate-admin-test-XXXXXX";
	char db[sizeof(path) + 16];
	struct sp_cat *cat;
	json_t *snap;

	/* HMAC-SHA256(token key, label): never the token key itself. */
	snapshot_iter_key(f->cat, k1);
	assert_non_null(HMAC(EVP_sha256(), sp_cat_token_key(f->cat), SP_CAT_TOKEN_KEY_BYTES,
			     (const unsigned char *)label, sizeof(label) - 1, ref, &ref_len));
	assert_int_equal(ref_len, SP_CAT_ITER_KEY_BYTES);
	assert_memory_equal(k1, ref, SP_CAT_ITER_KEY_BYTES);
	assert_memory_not_equal(k1, sp_cat_token_key(f->cat), SP_CAT_ITER_KEY_BYTES);
	/* catalog_get's snapshot does not carry it. */
	assert_int_equal(sp_cat_snapshot_json(f->cat, &snap), 0);
	assert_null(json_object_get(snap, "iterators"));
	json_decref(snap);

	/* The same key after a reopen (a restart), another for another catalog. */
	assert_non_null(mkdtemp(path));
	snprintf(db, sizeof(db), "%s/catalog.db", path);
	assert_int_equal(sp_cat_open(db, &cat), 0);
	snapshot_iter_key(cat, k1);
	sp_cat_close(cat);
	assert_int_equal(sp_cat_open(db, &cat), 0);
	snapshot_iter_key(cat, k2);
	sp_cat_close(cat);
	assert_memory_equal(k1, k2, SP_CAT_ITER_KEY_BYTES);
	snapshot_iter_key(f->cat, k2);
	assert_memory_not_equal(k1, k2, SP_CAT_ITER_KEY_BYTES);
	for (int i = 0; i < 3; i++) {
		char file[sizeof(db) + 8];

		snprintf(file, sizeof(file), "%s%s", db, i == 0 ? "" : i == 1 ? "-wal" : "-shm");
		(void)unlink(file); /* SQLite's side files may or may not be there */
	}
	assert_int_equal(rmdir(path), 0);
}

/* Dispatch kinesis with this params text; return the reply (owned by f). */
static json_t *
kinesis(struct fixture *f, const char *params)
{
	char line[1024];
	int n = f->n_replies;

	snprintf(line, sizeof(line), "{\"id\":9,\"method\":\"kinesis\",\"params\":%s}", params);
	assert_int_equal(sp_ctl_dispatch_line(&f->sess, line, strlen(line)), 1);
	assert_int_equal(f->n_replies, n + 1);
	return f->reply;
}

static void
test_kinesis(void **state)
{
	struct fixture *f = *state;
	json_t *r;

	/* Read-only: no change, no push. */
	r = result(
	    kinesis(f, "{\"op\":\"DescribeStreamSummary\",\"body\":{\"StreamName\":\"s\"}}"));
	assert_int_equal(json_integer_value(json_object_get(r, "status")), 200);
	assert_string_equal(json_string_value(json_object_get(r, "type")), "");
	assert_false(json_is_true(json_object_get(r, "catalog_changed")));
	assert_int_equal(f->n_pushes, 0);

	/* A change is pushed before the reply; the new ARN names the hook's region and account. */
	r = result(kinesis(f, "{\"op\":\"CreateStream\",\"body\":{\"StreamName\":\"t\","
			      "\"ShardCount\":3}}"));
	assert_int_equal(json_integer_value(json_object_get(r, "status")), 200);
	assert_true(json_is_true(json_object_get(r, "catalog_changed")));
	assert_true(json_is_true(json_object_get(r, "pushed")));
	assert_int_equal(f->n_pushes, 1);
	r = result(
	    kinesis(f, "{\"op\":\"DescribeStreamSummary\",\"body\":{\"StreamName\":\"t\"}}"));
	const char *arn = json_string_value(json_object_get(
	    json_object_get(json_object_get(r, "body"), "StreamDescriptionSummary"), "StreamARN"));

	assert_non_null(arn);
	assert_non_null(strstr(arn, "eu-west-3:210987654321"));

	/* The hook's shard limit holds: 1 + 3 open, 17 more is one too many. */
	r = result(kinesis(f, "{\"op\":\"CreateStream\",\"body\":{\"StreamName\":\"u\","
			      "\"ShardCount\":17}}"));
	assert_int_equal(json_integer_value(json_object_get(r, "status")), 400);
	assert_string_equal(json_string_value(json_object_get(r, "type")),
			    "LimitExceededException");
	assert_true(json_is_null(json_object_get(r, "body")));
	assert_int_equal(f->n_pushes, 1);

	/* Without a dataplane: read-only runs, CreateStream and reshards do not. */
	f->dp_connected = false;
	r = result(kinesis(f, "{\"op\":\"ListStreams\"}"));
	assert_int_equal(
	    json_array_size(json_object_get(json_object_get(r, "body"), "StreamNames")), 2);
	assert_int_equal(err(kinesis(f, "{\"op\":\"UpdateShardCount\",\"body\":{}}"), NULL),
			 -32000);
	assert_int_equal(err(kinesis(f, "{\"op\":\"MergeShards\",\"body\":{}}"), NULL), -32000);
	assert_int_equal(err(kinesis(f, "{\"op\":\"CreateStream\",\"body\":{}}"), NULL), -32000);
	assert_int_equal(f->n_pushes, 1);
}

static void
test_kinesis_bad_params(void **state)
{
	static const char *const bad[] = {
	    "{}",
	    "{\"op\":1}",
	    "{\"op\":\"GetRecords\"}",
	    "{\"op\":\"UpdateStreamWarmThroughput\"}",
	    "{\"op\":\"Nope\"}",
	    "{\"op\":\"ListStreams\",\"body\":\"{}\"}",
	    "{\"op\":\"ListStreams\",\"extra\":1}",
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < SP_ARRAY_SIZE(bad); i++) {
		assert_int_equal(err(kinesis(f, bad[i]), NULL), -32602);
	}
	f->ctx.dp_kctx = NULL;
	assert_int_equal(err(kinesis(f, "{\"op\":\"ListStreams\"}"), NULL), -32603);
	assert_int_equal(f->n_pushes, 0);
}

/* Dispatch tls_reload with this params text; return the reply (owned by f). */
static json_t *
tls_reload(struct fixture *f, const char *params)
{
	char line[1024];
	int n = f->n_replies;

	snprintf(line, sizeof(line), "{\"id\":4,\"method\":\"tls_reload\",\"params\":%s}",
		 params);
	assert_int_equal(sp_ctl_dispatch_line(&f->sess, line, strlen(line)), 1);
	assert_int_equal(f->n_replies, n + 1);
	return f->reply;
}

static void
test_tls_reload(void **state)
{
	struct fixture *f = *state;
	const char *msg;
	json_t *r = result(tls_reload(f, "{}"));

	assert_true(json_is_true(json_object_get(r, "sent")));
	assert_int_equal(f->n_tls_reloads, 1);
	assert_string_equal(f->tls_cert, "-");
	assert_string_equal(f->tls_key, "-");
	r = result(tls_reload(f, "{\"cert\":\"/a/c.pem\",\"key\":\"/a/k.pem\"}"));
	assert_int_equal(f->n_tls_reloads, 2);
	assert_string_equal(f->tls_cert, "/a/c.pem");
	assert_string_equal(f->tls_key, "/a/k.pem");
	/* bad params: nothing sent */
	assert_int_equal(err(tls_reload(f, "{\"cert\":\"\"}"), &msg), SP_CTL_E_INVALID_PARAMS);
	assert_int_equal(err(tls_reload(f, "{\"key\":7}"), &msg), SP_CTL_E_INVALID_PARAMS);
	assert_int_equal(err(tls_reload(f, "{\"certificate\":\"/a\"}"), &msg),
			 SP_CTL_E_INVALID_PARAMS);
	assert_int_equal(f->n_tls_reloads, 2);
	/* no dataplane, no channel */
	f->dp_connected = false;
	assert_int_equal(err(tls_reload(f, "{}"), &msg), SP_CTL_E_STATE);
	assert_string_equal(msg, "no dataplane connected");
	f->ctx.dp_tls_reload = NULL;
	assert_int_equal(err(tls_reload(f, "{}"), &msg), SP_CTL_E_STATE);
	assert_int_equal(f->n_tls_reloads, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_set_and_push, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_dataplane, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_params, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_and_no_catalog, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clock_offset_needs_test_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clock_offset_set_and_push, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clock_offset_bad_params, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iter_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kinesis, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kinesis_bad_params, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_reload, setup, teardown),
	};

	sp_ctl_log_set_level(SP_CTL_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
