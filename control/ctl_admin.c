/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Handlers of the control-socket methods that change state; the read-only ones live in
 * ctl_methods.c. Today: stream_quota_set, an operator's per-stream setting that no Kinesis
 * operation reaches (per-shard write quotas, off by default: control/catalog.h), and
 * clock_offset_set, time travel for expiry tests, refused unless spate-control runs with
 * --test-services (held in memory only, never in the catalog file).
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
#include <stdio.h>
#include <string.h>

#include <spate/assert.h>
#include <spate/err.h>
#include <spate/kinesis.h>

#include "catalog.h"
#include "ctl.h"
#include "ctl_log.h"

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
