/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of control/ctl_dispatch.c and ctl_methods.c without sockets: JSON-RPC error
 * codes, the method table, state masks, in-order replies of asynchronous requests, and
 * requests that outlive their session.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "catalog.h"
#include "ctl.h"

#define MAX_REPLIES 16

struct capture {
	json_t *replies[MAX_REPLIES];
	int n;
};

static void
capture_out(void *arg, const char *line, size_t len)
{
	struct capture *cap = arg;
	json_error_t jerr;

	assert_true(len > 0);
	assert_int_equal(line[len - 1], '\n');
	assert_null(memchr(line, '\n', len - 1)); /* exactly one line */
	assert_true(cap->n < MAX_REPLIES);
	cap->replies[cap->n] = json_loadb(line, len, 0, &jerr);
	assert_non_null(cap->replies[cap->n]);
	cap->n++;
}

static void
capture_clear(struct capture *cap)
{
	for (int i = 0; i < cap->n; i++) {
		json_decref(cap->replies[i]);
	}
	cap->n = 0;
}

struct fixture {
	struct sp_ctl_ctx ctx;
	struct sp_ctl_session sess;
	struct capture cap;
	struct sp_ctl_req *parked[8]; /* status requests held by the fake dataplane */
	int n_parked;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->ctx.state = SP_CTL_RUNTIME;
	f->ctx.name = "test";
	f->ctx.pid = getpid();
	f->ctx.start_ms = sp_ctl_now_ms();
	sp_ctl_session_init(&f->sess, &f->ctx, capture_out, &f->cap);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	sp_ctl_session_fini(&f->sess);
	capture_clear(&f->cap);
	free(f);
	return 0;
}

/* Dispatch a line and return the single reply it produced (owned by the capture). */
static json_t *
call(struct fixture *f, const char *line)
{
	capture_clear(&f->cap);
	assert_int_equal(sp_ctl_dispatch_line(&f->sess, line, strlen(line)), 1);
	assert_int_equal(f->cap.n, 1);
	json_t *r = f->cap.replies[0];

	assert_string_equal(json_string_value(json_object_get(r, "jsonrpc")), "2.0");
	return r;
}

static json_int_t
err_code(json_t *reply)
{
	json_t *e = json_object_get(reply, "error");

	assert_true(json_is_object(e));
	assert_null(json_object_get(reply, "result"));
	assert_true(json_is_string(json_object_get(e, "message")));
	return json_integer_value(json_object_get(e, "code"));
}

static void
test_errors(void **state)
{
	struct fixture *f = *state;
	json_t *r;

	r = call(f, "{\"id\":1,\"method\":\"ping\"");
	assert_int_equal(err_code(r), SP_CTL_E_PARSE);
	assert_true(json_is_null(json_object_get(r, "id")));
	assert_int_equal(err_code(call(f, "not json")), SP_CTL_E_PARSE);
	assert_int_equal(err_code(call(f, "{\"id\":1,\"id\":2,\"method\":\"ping\"}")),
			 SP_CTL_E_PARSE);
	assert_int_equal(err_code(call(f, "[{\"id\":1,\"method\":\"ping\"}]")),
			 SP_CTL_E_INVALID_REQUEST);
	assert_int_equal(err_code(call(f, "42")), SP_CTL_E_INVALID_REQUEST);
	r = call(f, "{\"id\":7}");
	assert_int_equal(err_code(r), SP_CTL_E_INVALID_REQUEST);
	assert_int_equal(json_integer_value(json_object_get(r, "id")), 7);
	assert_int_equal(err_code(call(f, "{\"id\":1,\"method\":5}")), SP_CTL_E_INVALID_REQUEST);
	assert_int_equal(err_code(call(f, "{\"id\":[1],\"method\":\"ping\"}")),
			 SP_CTL_E_INVALID_REQUEST);
	assert_int_equal(err_code(call(f, "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}")),
			 SP_CTL_E_INVALID_REQUEST);
	r = call(f, "{\"id\":\"x\",\"method\":\"no_such_method\"}");
	assert_int_equal(err_code(r), SP_CTL_E_METHOD_NOT_FOUND);
	assert_string_equal(json_string_value(json_object_get(r, "id")), "x");
	assert_int_equal(err_code(call(f, "{\"id\":1,\"method\":\"ping\",\"params\":[1]}")),
			 SP_CTL_E_INVALID_PARAMS);
	assert_int_equal(err_code(call(f, "{\"id\":1,\"method\":\"ping\",\"params\":{\"a\":1}}")),
			 SP_CTL_E_INVALID_PARAMS);
	/* Non-ASCII in a quoted name still yields valid JSON (capture_out parses it). */
	r = call(f, "{\"id\":1,\"method\":\"\xc3\xa9\xc3\xa9\xc3\xa9\"}");
	assert_int_equal(err_code(r), SP_CTL_E_METHOD_NOT_FOUND);
}

static void
test_ping_and_ids(void **state)
{
	struct fixture *f = *state;
	json_t *r;

	r = call(f, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{}}");
	assert_true(json_is_true(json_object_get(json_object_get(r, "result"), "pong")));
	assert_int_equal(json_integer_value(json_object_get(r, "id")), 1);
	r = call(f, "{\"id\":\"abc\",\"method\":\"ping\"}");
	assert_string_equal(json_string_value(json_object_get(r, "id")), "abc");
	r = call(f, "{\"method\":\"ping\",\"params\":null}");
	assert_true(json_is_null(json_object_get(r, "id")));
	assert_non_null(json_object_get(r, "result"));
	/* Blank lines are not requests. */
	capture_clear(&f->cap);
	assert_int_equal(sp_ctl_dispatch_line(&f->sess, "", 0), 0);
	assert_int_equal(sp_ctl_dispatch_line(&f->sess, " \t ", 3), 0);
	assert_int_equal(f->cap.n, 0);
}

static void
test_rpc_get_methods(void **state)
{
	struct fixture *f = *state;
	static const char *const want[] = {
#define SP_CTL_METHOD(name, mask, params, help) #name,
#include <spate/ctl_methods.def>
#undef SP_CTL_METHOD
	};
	json_t *r = call(f, "{\"id\":1,\"method\":\"rpc_get_methods\"}");
	json_t *methods = json_object_get(json_object_get(r, "result"), "methods");

	assert_int_equal(sp_ctl_method_count(), sizeof(want) / sizeof(want[0]));
	assert_int_equal(json_array_size(methods), sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		json_t *m = json_array_get(methods, i);

		assert_string_equal(json_string_value(json_object_get(m, "name")), want[i]);
		assert_true(json_is_string(json_object_get(m, "params")));
		assert_true(strlen(json_string_value(json_object_get(m, "help"))) > 0);
		assert_non_null(sp_ctl_method_find(want[i]));
		assert_ptr_equal(sp_ctl_method_find(want[i]), sp_ctl_method_at(i));
	}
	assert_null(sp_ctl_method_find("rpc_get_method"));
}

static void
test_state_mask(void **state)
{
	struct fixture *f = *state;

	f->ctx.state = SP_CTL_STARTUP;
	assert_int_equal(err_code(call(f, "{\"id\":1,\"method\":\"status\"}")), SP_CTL_E_STATE);
	assert_int_equal(err_code(call(f, "{\"id\":1,\"method\":\"catalog_get\"}")),
			 SP_CTL_E_STATE);
	assert_non_null(json_object_get(call(f, "{\"id\":1,\"method\":\"ping\"}"), "result"));
	f->ctx.state = SP_CTL_RUNTIME;
	assert_non_null(json_object_get(call(f, "{\"id\":1,\"method\":\"status\"}"), "result"));
}

static void
test_status_not_connected(void **state)
{
	struct fixture *f = *state;
	json_t *r = call(f, "{\"id\":1,\"method\":\"status\"}");
	json_t *res = json_object_get(r, "result");
	json_t *ctl = json_object_get(res, "control");
	json_t *dp = json_object_get(res, "dataplane");

	assert_int_equal(json_integer_value(json_object_get(ctl, "pid")), getpid());
	assert_string_equal(json_string_value(json_object_get(ctl, "name")), "test");
	assert_true(json_is_string(json_object_get(ctl, "version")));
	assert_true(json_is_integer(json_object_get(ctl, "uptime_s")));
	assert_true(json_is_integer(json_object_get(ctl, "clients")));
	assert_true(json_is_integer(json_object_get(ctl, "chan_unknown_msgs")));
	assert_int_equal(json_object_size(dp), 1);
	assert_true(json_is_false(json_object_get(dp, "connected")));
	/* No catalog in this context: catalog_get reports an internal error. */
	assert_int_equal(err_code(call(f, "{\"id\":1,\"method\":\"catalog_get\"}")),
			 SP_CTL_E_INTERNAL);
}

/* Fake dataplane hook: park status requests. */
static int
park_stats(void *arg, struct sp_ctl_req *req)
{
	struct fixture *f = arg;

	assert_true(f->n_parked < 8);
	f->parked[f->n_parked++] = req;
	return 0;
}

static void
test_async_in_order(void **state)
{
	struct fixture *f = *state;
	const char *lines[] = {
		"{\"id\":1,\"method\":\"status\"}",
		"{\"id\":2,\"method\":\"ping\"}",
		"{\"id\":3,\"method\":\"status\"}",
		"{\"id\":4,\"method\":\"nope\"}",
	};

	f->ctx.dp_stats = park_stats;
	f->ctx.dp_arg = f;
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(sp_ctl_dispatch_line(&f->sess, lines[i], strlen(lines[i])), 1);
	}
	/* ping and the error are answered but wait behind status 1. */
	assert_int_equal(f->cap.n, 0);
	assert_int_equal(f->n_parked, 2);
	assert_int_equal(f->sess.n_pending, 4);
	sp_ctl_status_finish(f->parked[1], json_pack("{s:b,s:i}", "connected", 1, "pid", 99));
	assert_int_equal(f->cap.n, 0);
	sp_ctl_status_finish(f->parked[0], json_pack("{s:b}", "connected", 0));
	assert_int_equal(f->cap.n, 4);
	for (int i = 0; i < 4; i++) {
		json_t *id = json_object_get(f->cap.replies[i], "id");

		assert_int_equal(json_integer_value(id), i + 1);
	}
	json_t *dp3 = json_object_get(json_object_get(f->cap.replies[2], "result"), "dataplane");

	assert_int_equal(json_integer_value(json_object_get(dp3, "pid")), 99);
	assert_int_equal(err_code(f->cap.replies[3]), SP_CTL_E_METHOD_NOT_FOUND);
	assert_int_equal(f->sess.n_pending, 0);
}

/* A session that goes away while its request is pending: the late reply is dropped. */
static void
test_detached(void **state)
{
	struct fixture *f = *state;
	struct sp_ctl_session s2;
	struct capture cap2 = {.n = 0};
	const char *line = "{\"id\":1,\"method\":\"status\"}";

	f->ctx.dp_stats = park_stats;
	f->ctx.dp_arg = f;
	sp_ctl_session_init(&s2, &f->ctx, capture_out, &cap2);
	assert_int_equal(sp_ctl_dispatch_line(&s2, line, strlen(line)), 1);
	assert_int_equal(f->n_parked, 1);
	sp_ctl_session_fini(&s2);
	assert_null(f->parked[0]->session);
	sp_ctl_status_finish(f->parked[0], json_pack("{s:b}", "connected", 0));
	assert_int_equal(cap2.n, 0);
}

static void
test_catalog_methods(void **state)
{
	struct fixture *f = *state;
	char dir[] = "/tmp/sp_dispatch_test.XXXXXX";
	char path[256];
	struct sp_cat *cat;
	struct sp_cat_stream st = {.name = "s1", .status = "ACTIVE", .mode = "PROVISIONED"};
	struct sp_cat_shard sh = {.shard_id = "shardId-000000000000", .owner_lcore = 1};

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/catalog.db", dir);
	assert_int_equal(sp_cat_open(path, &cat), 0);
	assert_int_equal(sp_cat_stream_insert(cat, &st, &sh, 1), 0);
	f->ctx.cat = cat;

	json_t *res = json_object_get(call(f, "{\"id\":1,\"method\":\"catalog_get\"}"), "result");

	assert_int_equal(json_integer_value(json_object_get(res, "catalog_version")), 2);
	json_t *s1 = json_array_get(json_object_get(res, "streams"), 0);

	assert_string_equal(json_string_value(json_object_get(s1, "name")), "s1");
	assert_int_equal(json_array_size(json_object_get(s1, "shards")), 1);
	res = json_object_get(call(f, "{\"id\":2,\"method\":\"status\"}"), "result");
	json_t *ctl = json_object_get(res, "control");

	assert_int_equal(json_integer_value(json_object_get(ctl, "catalog_version")), 2);
	assert_int_equal(json_integer_value(json_object_get(ctl, "streams")), 1);
	assert_string_equal(json_string_value(json_object_get(ctl, "catalog")), path);
	f->ctx.cat = NULL;
	sp_cat_close(cat);
	unlink(path);
	snprintf(path, sizeof(path), "%s/catalog.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/catalog.db-shm", dir);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ping_and_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rpc_get_methods, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_mask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_not_connected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_async_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_methods, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
