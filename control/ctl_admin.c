/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Handlers of the control-socket methods that change state; the read-only ones live in
 * ctl_methods.c. Today: stream_quota_set, an operator's per-stream setting that no Kinesis
 * operation reaches (per-shard write quotas, off by default: control/catalog.h), and
 * clock_offset_set, time travel for expiry tests, refused unless spate-control runs with
 * --test-services (held in memory only, never in the catalog file); and kinesis, any Kinesis
 * control operation run from the control socket exactly as the channel runs one the dataplane
 * forwards (ctl_streams.h): same settings, same push when the catalog changed, so a reshard
 * started here advances on the dataplane's applied like one started through HTTP; shard_move
 * and shard_balance, which move open shards between the dataplane's workers (ctl_move.c: the
 * checks, the one transaction per move, the planner's run).
 *
 * Each handler checks all of its params before it touches anything (-32602 names the first
 * bad one, unknown members included), makes its change in one catalog transaction that bumps
 * catalog_version, and, when the catalog changed, has the new snapshot pushed to the
 * dataplane through ctx->dp_catalog -- the very catalog message the channel sends after a
 * Kinesis control operation (chan_server.c) -- before it replies, so the dataplane holds the
 * new state by the time the operator hears back. A dataplane that is not connected gets the
 * state with the config that answers its next hello. All synchronous (the catalog is local),
 * on spate-control's single thread.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <spate/assert.h>
#include <spate/err.h>
#include <spate/kinesis.h>
#include <spate/limits.h>

#include "catalog.h"
#include "ctl.h"
#include "ctl_log.h"
#include "ctl_reshard.h"
#include "ctl_streams.h"
#include "ctl_tickets.h"

/* Refuse any member of params not in names[0..n); answers req and returns false on one. */
static bool
admin_only_members(struct sp_ctl_req *req, const char *const *names, size_t n)
{
	const char *key;
	json_t *v;

	SP_VERIFY(json_is_object(req->params));
	SP_VERIFY(n > 0);
	json_object_foreach(req->params, key, v) {
		bool known = false;

		for (size_t i = 0; i < n && !known; i++) {
			known = strcmp(key, names[i]) == 0;
		}
		if (!known) {
			char msg[SP_CTL_MAX_ERRMSG_BYTES];

			snprintf(msg, sizeof(msg), "%s does not take param \"%.64s\"",
				 req->method->name, key);
			sp_ctl_error(req, SP_CTL_E_INVALID_PARAMS, msg);
			return false;
		}
	}
	return true;
}

/* A Kinesis stream name: [a-zA-Z0-9_.-]{1,SP_K_STREAM_NAME_MAX_CHARS}. */
static bool
admin_name_ok(const char *s, size_t len)
{
	size_t i = 0;

	for (; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-')) {
			break;
		}
	}
	return len > 0 && len <= SP_K_STREAM_NAME_MAX_CHARS && i == len;
}

/* params.stream: a stream name (safe to quote in logs and messages as it is). */
static bool
admin_stream_param(struct sp_ctl_req *req, const char **out)
{
	json_t *v = json_object_get(req->params, "stream");

	SP_VERIFY(out != NULL);
	*out = NULL;
	if (v == NULL) {
		sp_ctl_error(req, SP_CTL_E_INVALID_PARAMS, "missing param \"stream\"");
		return false;
	}
	if (!json_is_string(v) || !admin_name_ok(json_string_value(v), json_string_length(v))) {
		char msg[SP_CTL_MAX_ERRMSG_BYTES];

		snprintf(msg, sizeof(msg),
			 "\"stream\" must be a stream name: 1 to %u of [a-zA-Z0-9_.-]",
			 SP_K_STREAM_NAME_MAX_CHARS);
		sp_ctl_error(req, SP_CTL_E_INVALID_PARAMS, msg);
		return false;
	}
	*out = json_string_value(v);
	SP_VERIFY(*out != NULL);
	return true;
}

/* params[key]: a JSON integer (not a real) in [min, max]. */
static bool
admin_int_param(struct sp_ctl_req *req, const char *key, int64_t min, int64_t max, int64_t *out)
{
	json_t *v = json_object_get(req->params, key);
	char msg[SP_CTL_MAX_ERRMSG_BYTES];

	SP_VERIFY(min < max && out != NULL);
	if (v == NULL) {
		snprintf(msg, sizeof(msg), "missing param \"%s\"", key);
		sp_ctl_error(req, SP_CTL_E_INVALID_PARAMS, msg);
		return false;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		snprintf(msg, sizeof(msg), "\"%s\" must be an integer from %lld to %lld", key,
			 (long long)min, (long long)max);
		sp_ctl_error(req, SP_CTL_E_INVALID_PARAMS, msg);
		return false;
	}
	*out = json_integer_value(v);
	return true;
}

/* params[key]: a JSON integer (not a real) in [0, max]. */
static bool
admin_count_param(struct sp_ctl_req *req, const char *key, int64_t max, int64_t *out)
{
	SP_VERIFY(max > 0);
	return admin_int_param(req, key, 0, max, out);
}

/* Answer a failed catalog change: unknown stream, or spate-control's own failure. */
static void
admin_cat_error(struct sp_ctl_req *req, int rc, const char *stream)
{
	char msg[SP_CTL_MAX_ERRMSG_BYTES];

	SP_VERIFY(rc < 0);
	if (rc == -ENOENT) {
		snprintf(msg, sizeof(msg), "stream \"%.128s\" not found", stream);
		sp_ctl_error(req, SP_CTL_E_NOT_FOUND, msg);
		return;
	}
	/* -EINVAL cannot happen: the params were checked against the same bounds. */
	SP_VERIFY(rc != -EINVAL);
	snprintf(msg, sizeof(msg), "catalog update failed: %s", sp_strerror(rc));
	sp_ctl_error(req, SP_CTL_E_INTERNAL, msg);
}

void
sp_ctl_m_stream_quota_set(struct sp_ctl_req *req)
{
	static const char *const members[] = {"stream", "records_per_s", "bytes_per_s"};
	struct sp_ctl_ctx *ctx = req->ctx;
	const char *stream;
	int64_t records;
	int64_t bytes;
	int64_t ver = -1;

	SP_VERIFY(req->method != NULL && req->method->handler == sp_ctl_m_stream_quota_set);
	if (!admin_only_members(req, members, SP_ARRAY_SIZE(members)) ||
	    !admin_stream_param(req, &stream) ||
	    !admin_count_param(req, "records_per_s", SP_CAT_QUOTA_MAX, &records) ||
	    !admin_count_param(req, "bytes_per_s", SP_CAT_QUOTA_MAX, &bytes)) {
		return;
	}
	if (ctx->cat == NULL) {
		sp_ctl_error(req, SP_CTL_E_INTERNAL, "catalog not open");
		return;
	}
	int rc = sp_cat_stream_set_quota(ctx->cat, stream, records, bytes);

	if (rc < 0) {
		admin_cat_error(req, rc, stream);
		return;
	}
	SP_VERIFY(rc == 0 || rc == 1);
	/* Pushed only on a change: an unchanged catalog keeps its version and its snapshot. */
	bool pushed = rc == 1 && ctx->dp_catalog != NULL && ctx->dp_catalog(ctx->dp_arg);

	if (sp_cat_version(ctx->cat, &ver) != 0) {
		ver = -1; /* committed all the same; the reply shows null */
	}
	if (rc == 1) {
		SP_CTL_INFO("stream %s: per-shard quotas %lld records/s, %lld bytes/s (0 = off); "
			    "catalog version %lld, %s",
			    stream, (long long)records, (long long)bytes, (long long)ver,
			    pushed ? "pushed to the dataplane" : "no dataplane connected");
	}
	sp_ctl_reply(req, json_pack("{s:s,s:I,s:I,s:b,s:o,s:b}", "stream", stream,
				    "records_per_s", (json_int_t)records, "bytes_per_s",
				    (json_int_t)bytes, "changed", rc == 1, "catalog_version",
				    ver >= 0 ? json_integer(ver) : json_null(), "pushed", pushed));
}

void
sp_ctl_m_clock_offset_set(struct sp_ctl_req *req)
{
	static const char *const members[] = {"ms"};
	struct sp_ctl_ctx *ctx = req->ctx;
	int64_t ms;

	SP_VERIFY(req->method != NULL && req->method->handler == sp_ctl_m_clock_offset_set);
	if (!admin_only_members(req, members, SP_ARRAY_SIZE(members)) ||
	    !admin_int_param(req, "ms", -SP_CAT_CLOCK_OFFSET_MAX_MS, SP_CAT_CLOCK_OFFSET_MAX_MS,
			     &ms)) {
		return;
	}
	if (ctx->cat == NULL) {
		sp_ctl_error(req, SP_CTL_E_INTERNAL, "catalog not open");
		return;
	}
	int rc = sp_cat_clock_offset_set(ctx->cat, ms);

	if (rc == -EPERM) {
		sp_ctl_error(req, SP_CTL_E_STATE,
			     "clock_offset_set is for tests: spate-control runs without "
			     "--test-services");
		return;
	}
	/* -EINVAL cannot happen: the param was checked against the same bound. */
	SP_VERIFY(rc == 0 || rc == 1);
	/* It travels with the snapshot; the dataplane applies it though the version stays. */
	bool pushed = rc == 1 && ctx->dp_catalog != NULL && ctx->dp_catalog(ctx->dp_arg);

	if (rc == 1) {
		SP_CTL_WARN("test clock offset now %lld ms (iterator and NextToken expiry), %s",
			    (long long)ms,
			    pushed ? "pushed to the dataplane" : "no dataplane connected");
	}
	sp_ctl_reply(req, json_pack("{s:I,s:b,s:b}", "ms", (json_int_t)ms, "changed", rc == 1,
				    "pushed", pushed));
}

/*
 * Operations that cannot run without a dataplane: new shards get owner_lcore = index %
 * workers, which only the connected dataplane's hello tells. The others run against the
 * catalog alone; a dataplane that connects later gets their result with its config.
 */
static bool
admin_kop_needs_dp(enum sp_kop op)
{
	return op == SP_KOP_CREATE_STREAM || op == SP_KOP_SPLIT_SHARD ||
	       op == SP_KOP_MERGE_SHARDS || op == SP_KOP_UPDATE_SHARD_COUNT;
}

static int64_t
admin_wall_ms(void)
{
	struct timespec ts;

	SP_VERIFY(clock_gettime(CLOCK_REALTIME, &ts) == 0);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* params.op: the name of a control-side Kinesis operation. */
static bool
admin_kop_param(struct sp_ctl_req *req, enum sp_kop *out)
{
	json_t *v = json_object_get(req->params, "op");
	char msg[SP_CTL_MAX_ERRMSG_BYTES];

	*out = SP_KOP_UNKNOWN;
	if (v == NULL) {
		sp_ctl_error(req, SP_CTL_E_INVALID_PARAMS, "missing param \"op\"");
		return false;
	}
	if (json_is_string(v)) {
		*out = sp_kop_lookup(json_string_value(v), json_string_length(v));
	}
	if (*out == SP_KOP_UNKNOWN || sp_kop_table[*out].where != SP_KOP_CONTROL) {
		snprintf(msg, sizeof(msg),
			 "\"op\" must name a Kinesis control operation spate-control serves "
			 "(e.g. \"DescribeStreamSummary\", \"SplitShard\")");
		sp_ctl_error(req, SP_CTL_E_INVALID_PARAMS, msg);
		return false;
	}
	return true;
}

/* The reply object of a finished operation; NULL only without memory. */
static json_t *
admin_kreply_json(const struct sp_ctl_kreply *r, bool pushed)
{
	json_t *body = json_null();

	SP_VERIFY(r->err < SP_KERR_COUNT && r->body != NULL);
	if (r->body_len > 0) {
		json_error_t jerr;

		/* ctl_streams.c writes valid JSON: only a lack of memory fails here. */
		body = json_loadb(r->body, r->body_len, 0, &jerr);
		if (body == NULL) {
			return NULL;
		}
	}
	return json_pack("{s:i,s:s,s:s,s:o,s:b,s:b}", "status", (int)r->status, "type",
			 sp_kerr_table[r->err].type, "message", r->message, "body", body,
			 "catalog_changed", r->catalog_changed, "pushed", pushed);
}

void
sp_ctl_m_kinesis(struct sp_ctl_req *req)
{
	static const char *const members[] = {"op", "body"};
	struct sp_ctl_ctx *ctx = req->ctx;
	struct sp_ctl_kctx kctx = {0};
	json_t *body = json_object_get(req->params, "body");
	enum sp_kop op;

	SP_VERIFY(req->method != NULL && req->method->handler == sp_ctl_m_kinesis);
	if (!admin_only_members(req, members, SP_ARRAY_SIZE(members)) ||
	    !admin_kop_param(req, &op)) {
		return;
	}
	if (body != NULL && !json_is_object(body)) {
		sp_ctl_error(req, SP_CTL_E_INVALID_PARAMS,
			     "\"body\" must be a JSON object (the operation's request)");
		return;
	}
	if (ctx->cat == NULL || ctx->dp_kctx == NULL) {
		sp_ctl_error(req, SP_CTL_E_INTERNAL,
			     ctx->cat == NULL ? "catalog not open" : "no channel");
		return;
	}
	bool connected = ctx->dp_kctx(ctx->dp_arg, &kctx);
	const char *name = sp_kop_table[op].name;

	if (admin_kop_needs_dp(op) && (!connected || kctx.n_workers == 0)) {
		char msg[SP_CTL_MAX_ERRMSG_BYTES];

		snprintf(msg, sizeof(msg),
			 "%s needs the dataplane (its workers own the new shards) and none is "
			 "connected",
			 name);
		sp_ctl_error(req, SP_CTL_E_DP_NOT_CONNECTED, msg);
		return;
	}
	kctx.now_ms = admin_wall_ms();
	/* A missing body is an empty request, as an HTTP client sending {} would give. */
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : strdup("{}");
	struct sp_ctl_kreply *r = malloc(sizeof(*r));

	if (text == NULL || r == NULL) {
		free(text);
		free(r);
		sp_ctl_error(req, SP_CTL_E_INTERNAL, "out of memory");
		return;
	}
	int rc = sp_ctl_kinesis(ctx->cat, &kctx, op, text, strlen(text), r);

	free(text);
	if (rc != 0) {
		SP_CTL_WARN("control socket: %s answered InternalFailure: %s", name,
			    sp_strerror(rc));
	}
	/* Pushed before the reply, as the channel does: the dataplane then drives a reshard. */
	bool pushed = r->catalog_changed && ctx->dp_catalog != NULL && ctx->dp_catalog(ctx->dp_arg);

	if (r->catalog_changed) {
		SP_CTL_INFO("control socket: %s changed the catalog, %s", name,
			    pushed ? "pushed to the dataplane" : "no dataplane connected");
	}
	sp_ctl_reply(req, admin_kreply_json(r, pushed));
	sp_ctl_kreply_fini(r);
	free(r);
}

/*
 * The bars above which ON_DEMAND streams' shards are split (memory only, like the test clock:
 * a restarted spate-control starts from the defaults, a Kinesis shard's write capacity).
 */
void
sp_ctl_m_on_demand_set(struct sp_ctl_req *req)
{
	static const char *const members[] = {"split_records_per_s", "split_bytes_per_s"};
	struct sp_ctl_ctx *ctx = req->ctx;
	int64_t recs, bytes;

	SP_VERIFY(req->method != NULL && req->method->handler == sp_ctl_m_on_demand_set);
	if (!admin_only_members(req, members, SP_ARRAY_SIZE(members)) ||
	    !admin_int_param(req, "split_records_per_s", 0, UINT32_MAX, &recs) ||
	    !admin_int_param(req, "split_bytes_per_s", 0, UINT32_MAX, &bytes)) {
		return;
	}
	ctx->od.split_records_per_s = (uint32_t)recs;
	ctx->od.split_bytes_per_s = (uint32_t)bytes;
	SP_CTL_INFO("on-demand capacity: split shards above %lld records/s or %lld bytes/s",
		    (long long)recs, (long long)bytes);
	sp_ctl_reply(req, json_pack("{s:I,s:I}", "split_records_per_s", (json_int_t)recs,
				    "split_bytes_per_s", (json_int_t)bytes));
}

/* params.shard: a shard id ("shardId-000000000007", or Kinesis's looser forms) or its index. */
static bool
admin_shard_param(struct sp_ctl_req *req, int64_t *out)
{
	json_t *v = json_object_get(req->params, "shard");

	if (v == NULL) {
		sp_ctl_error(req, SP_CTL_E_INVALID_PARAMS, "missing param \"shard\"");
		return false;
	}
	if ((json_is_string(v) && sp_ctl_shard_index(json_string_value(v), out) == 0) ||
	    (json_is_integer(v) && json_integer_value(v) >= 0 &&
	     json_integer_value(v) <= INT32_MAX)) {
		*out = json_is_integer(v) ? json_integer_value(v) : *out;
		return true;
	}
	sp_ctl_error(req, SP_CTL_E_INVALID_PARAMS,
		     "\"shard\" must be a shard id (shardId-000000000007) or its index (7)");
	return false;
}

/* The dataplane's settings for a move: false after answering when none is connected. */
static bool
admin_move_kctx(struct sp_ctl_req *req, struct sp_ctl_kctx *kctx)
{
	struct sp_ctl_ctx *ctx = req->ctx;

	if (ctx->cat == NULL) {
		sp_ctl_error(req, SP_CTL_E_INTERNAL, "catalog not open");
		return false;
	}
	/* the workers a shard may go to are the connected dataplane's (its hello) */
	if (ctx->dp_kctx == NULL || !ctx->dp_kctx(ctx->dp_arg, kctx) || kctx->n_workers == 0) {
		sp_ctl_error(req, SP_CTL_E_DP_NOT_CONNECTED, "no dataplane connected");
		return false;
	}
	kctx->now_ms = admin_wall_ms();
	return true;
}

void
sp_ctl_m_shard_move(struct sp_ctl_req *req)
{
	static const char *const members[] = {"stream", "shard", "worker"};
	struct sp_ctl_ctx *ctx = req->ctx;
	struct sp_ctl_kctx kctx = {0};
	struct sp_ctl_move mv = {0};
	struct sp_ctl_move_err err;
	int64_t worker;

	SP_VERIFY(req->method != NULL && req->method->handler == sp_ctl_m_shard_move);
	if (!admin_only_members(req, members, SP_ARRAY_SIZE(members)) ||
	    !admin_stream_param(req, &mv.stream) || !admin_shard_param(req, &mv.index) ||
	    !admin_int_param(req, "worker", INT32_MIN, INT32_MAX, &worker) ||
	    !admin_move_kctx(req, &kctx)) {
		return;
	}
	mv.to = (int)worker;
	if (sp_ctl_move_shard(ctx->cat, &kctx, &mv, &err) != 0) {
		sp_ctl_error(req, err.code, err.msg);
		return;
	}
	/* Pushed before the reply: the dataplane serves the new owner when the operator hears. */
	if (mv.moved && ctx->dp_catalog != NULL) {
		(void)ctx->dp_catalog(ctx->dp_arg);
	}
	sp_ctl_reply(req, json_pack("{s:s,s:s,s:i,s:i,s:b,s:I}", "stream", mv.stream, "shard",
				    mv.shard_id, "from", mv.from, "to", mv.to, "moved", mv.moved,
				    "catalog_version", (json_int_t)mv.catalog_version));
}

void
sp_ctl_m_shard_balance(struct sp_ctl_req *req)
{
	static const char *const members[] = {"dry_run", "max_moves"};
	struct sp_ctl_ctx *ctx = req->ctx;
	struct sp_ctl_kctx kctx = {0};
	json_t *dry = json_object_get(req->params, "dry_run");
	int64_t max_moves = SP_CTL_BALANCE_MAX_MOVES_DEFAULT;
	json_t *report = NULL;

	SP_VERIFY(req->method != NULL && req->method->handler == sp_ctl_m_shard_balance);
	if (!admin_only_members(req, members, SP_ARRAY_SIZE(members))) {
		return;
	}
	if (dry != NULL && !json_is_boolean(dry)) {
		sp_ctl_error(req, SP_CTL_E_INVALID_PARAMS, "\"dry_run\" must be true or false");
		return;
	}
	if (json_object_get(req->params, "max_moves") != NULL &&
	    !admin_int_param(req, "max_moves", 0, SP_CTL_BALANCE_MAX_MOVES, &max_moves)) {
		return;
	}
	if (!admin_move_kctx(req, &kctx)) {
		return;
	}
	int rc = sp_ctl_balance_run(ctx->cat, &kctx, json_is_true(dry), (size_t)max_moves,
				    &report);

	if (rc > 0 && ctx->dp_catalog != NULL) {
		(void)ctx->dp_catalog(ctx->dp_arg); /* one push for all the moves */
	}
	if (report == NULL) {
		char msg[SP_CTL_MAX_ERRMSG_BYTES];

		snprintf(msg, sizeof(msg), "balance failed: %s",
			 sp_strerror(rc < 0 ? rc : -ENOMEM));
		sp_ctl_error(req, SP_CTL_E_INTERNAL, msg);
		return;
	}
	if (rc > 0) {
		SP_CTL_INFO("balance: %d shard(s) moved", rc);
	}
	sp_ctl_reply(req, report);
}

/* A string member that, when present, must be a non-empty path; *out NULL when absent. */
static bool
admin_path_param(struct sp_ctl_req *req, const char *key, const char **out)
{
	json_t *v = json_object_get(req->params, key);
	char msg[SP_CTL_MAX_ERRMSG_BYTES];

	*out = NULL;
	if (v == NULL) {
		return true;
	}
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) >= SP_PATH_MAX_BYTES) {
		snprintf(msg, sizeof(msg), "%s: a path of 1 to %u bytes", key,
			 SP_PATH_MAX_BYTES - 1);
		sp_ctl_error(req, SP_CTL_E_INVALID_PARAMS, msg);
		return false;
	}
	*out = json_string_value(v);
	return true;
}

void
sp_ctl_m_tls_reload(struct sp_ctl_req *req)
{
	static const char *const members[] = {"cert", "key"};
	struct sp_ctl_ctx *ctx = req->ctx;
	const char *cert, *key;

	SP_VERIFY(req->method != NULL && req->method->handler == sp_ctl_m_tls_reload);
	if (!admin_only_members(req, members, SP_ARRAY_SIZE(members)) ||
	    !admin_path_param(req, "cert", &cert) || !admin_path_param(req, "key", &key)) {
		return;
	}
	if (ctx->dp_tls_reload == NULL || !ctx->dp_tls_reload(ctx->dp_arg, cert, key)) {
		sp_ctl_error(req, SP_CTL_E_STATE, "no dataplane connected");
		return;
	}
	SP_CTL_INFO("tls_reload sent to the dataplane (%s, %s)", cert != NULL ? cert : "in force",
		    key != NULL ? key : "in force");
	/* the dataplane answers nothing: status shows api.http.tls.generation and last_error */
	sp_ctl_reply(req, json_pack("{s:b}", "sent", 1));
}

void
sp_ctl_m_tls_ticket_rotate(struct sp_ctl_req *req)
{
	struct sp_ctl_ctx *ctx = req->ctx;
	bool sent;
	int rc;

	SP_VERIFY(req->method != NULL && req->method->handler == sp_ctl_m_tls_ticket_rotate);
	if (json_object_size(req->params) != 0) {
		sp_ctl_error(req, SP_CTL_E_INVALID_PARAMS, "tls_ticket_rotate takes no params");
		return;
	}
	if (ctx->tickets == NULL) {
		sp_ctl_error(req, SP_CTL_E_STATE, "no ticket keys");
		return;
	}
	rc = sp_ctl_tickets_rotate(ctx->tickets, sp_ctl_wall_s());
	if (rc != 0) {
		char msg[SP_CTL_MAX_ERRMSG_BYTES];

		snprintf(msg, sizeof(msg), "ticket keys: %s", sp_strerror(rc));
		sp_ctl_error(req, SP_CTL_E_INTERNAL, msg);
		return;
	}
	sent = ctx->dp_tls_keys != NULL && ctx->dp_tls_keys(ctx->dp_arg);
	SP_CTL_INFO("ticket keys rotated on request%s", sent ? "" : " (no dataplane connected)");
	sp_ctl_reply(req, json_pack("{s:I,s:I,s:b}", "rotated_at",
				    (json_int_t)ctx->tickets->rotated_s, "rotations",
				    (json_int_t)ctx->tickets->rotations, "sent", sent));
}
