/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control-socket method table, generated from include/spate/ctl_methods.def, and the
 * handlers of the read-only methods: rpc_get_methods, ping, status, catalog_get and keys_list
 * (methods that change state have their handlers in ctl_admin.c).
 *
 * Every handler answers through sp_ctl_reply()/sp_ctl_error() exactly once. `status` is the
 * only one that may answer later: it asks the dataplane through ctx->dp_stats and is finished
 * by sp_ctl_status_finish() when the stats arrive, time out, or the dataplane goes away.
 * None of these handlers changes any state. Runs on spate-control's single thread.
 */
#include <errno.h>
#include <string.h>

#include <spate/assert.h>
#include <spate/err.h>
#include <spate/keyfile.h>

#include "spate_version.h"

#include "catalog.h"
#include "ctl.h"
#include "ctl_tickets.h"

static const struct sp_ctl_method g_ctl_methods[] = {
#define SP_CTL_METHOD(name, mask, params, help) {#name, (mask), (params), (help), sp_ctl_m_##name},
#include <spate/ctl_methods.def>
#undef SP_CTL_METHOD
};

size_t
sp_ctl_method_count(void)
{
	return SP_ARRAY_SIZE(g_ctl_methods);
}

const struct sp_ctl_method *
sp_ctl_method_at(size_t i)
{
	SP_VERIFY(i < SP_ARRAY_SIZE(g_ctl_methods));
	return &g_ctl_methods[i];
}

const struct sp_ctl_method *
sp_ctl_method_find(const char *name)
{
	for (size_t i = 0; i < SP_ARRAY_SIZE(g_ctl_methods); i++) {
		if (strcmp(g_ctl_methods[i].name, name) == 0) {
			return &g_ctl_methods[i];
		}
	}
	return NULL;
}

void
sp_ctl_m_rpc_get_methods(struct sp_ctl_req *req)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr != NULL && i < SP_ARRAY_SIZE(g_ctl_methods); i++) {
		const struct sp_ctl_method *m = &g_ctl_methods[i];
		json_t *states = json_array();

		if ((m->state_mask & SP_CTL_STARTUP) != 0) {
			json_array_append_new(states, json_string("startup"));
		}
		if ((m->state_mask & SP_CTL_RUNTIME) != 0) {
			json_array_append_new(states, json_string("runtime"));
		}
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:o}", "name", m->name, "params",
						     m->params, "help", m->help, "states",
						     states));
	}
	sp_ctl_reply(req, arr != NULL ? json_pack("{s:o}", "methods", arr) : NULL);
}

void
sp_ctl_m_ping(struct sp_ctl_req *req)
{
	sp_ctl_reply(req, json_pack("{s:b}", "pong", 1));
}

void
sp_ctl_m_catalog_get(struct sp_ctl_req *req)
{
	json_t *snap;

	if (req->ctx->cat == NULL) {
		sp_ctl_error(req, SP_CTL_E_INTERNAL, "catalog not open");
		return;
	}
	int rc = sp_cat_snapshot_json(req->ctx->cat, &snap);

	if (rc != 0) {
		char msg[128];

		snprintf(msg, sizeof(msg), "catalog read failed: %s", sp_strerror(rc));
		sp_ctl_error(req, SP_CTL_E_INTERNAL, msg);
		return;
	}
	sp_ctl_reply(req, snap);
}

/* The "control" half of the status reply. */
static json_t *
ctl_status_control(struct sp_ctl_ctx *ctx)
{
	int64_t ver = -1;
	int64_t streams = -1;
	json_t *o = json_object();

	if (o == NULL) {
		return NULL;
	}
	if (ctx->cat != NULL) {
		if (sp_cat_version(ctx->cat, &ver) != 0) {
			ver = -1;
		}
		if (sp_cat_stream_count(ctx->cat, &streams) != 0) {
			streams = -1;
		}
	}
	json_object_set_new(o, "pid", json_integer(ctx->pid));
	json_object_set_new(o, "name", json_string(ctx->name != NULL ? ctx->name : ""));
	json_object_set_new(o, "version", json_string(SPATE_VERSION));
	json_object_set_new(o, "uptime_s", json_integer((json_int_t)((sp_ctl_now_ms() -
								       ctx->start_ms) / 1000)));
	json_object_set_new(o, "data_dir", json_string(ctx->data_dir != NULL ? ctx->data_dir : ""));
	json_object_set_new(o, "run_dir", json_string(ctx->run_dir != NULL ? ctx->run_dir : ""));
	json_object_set_new(o, "catalog",
			    ctx->cat != NULL ? json_string(sp_cat_path(ctx->cat)) : json_null());
	json_object_set_new(o, "catalog_version", ver >= 0 ? json_integer(ver) : json_null());
	json_object_set_new(o, "streams", streams >= 0 ? json_integer(streams) : json_null());
	json_object_set_new(o, "clients", json_integer(ctx->n_clients));
	json_object_set_new(o, "chan_unknown_msgs",
			    json_integer((json_int_t)ctx->chan_unknown_msgs));
	json_object_set_new(o, "requests", json_integer((json_int_t)ctx->n_requests));
	if (ctx->tickets != NULL) {
		/* when the TLS ticket keys last rotated, never the keys */
		json_object_set_new(o, "tls_tickets",
				    json_pack("{s:I,s:I,s:I,s:b}", "rotate_s",
					      (json_int_t)ctx->tickets->rotate_s, "rotated_at",
					      (json_int_t)ctx->tickets->rotated_s, "rotations",
					      (json_int_t)ctx->tickets->rotations, "previous_key",
					      ctx->tickets->has_prev));
	}
	return o;
}

void
sp_ctl_status_finish(struct sp_ctl_req *req, json_t *dataplane)
{
	SP_VERIFY(req->method != NULL && req->method->handler == sp_ctl_m_status);
	if (dataplane == NULL) {
		sp_ctl_reply(req, NULL);
		return;
	}
	json_t *control = ctl_status_control(req->ctx);

	if (control == NULL) {
		json_decref(dataplane);
		sp_ctl_reply(req, NULL);
		return;
	}
	sp_ctl_reply(req, json_pack("{s:o,s:o}", "control", control, "dataplane", dataplane));
}

void
sp_ctl_m_status(struct sp_ctl_req *req)
{
	struct sp_ctl_ctx *ctx = req->ctx;

	if (ctx->dp_stats != NULL && ctx->dp_stats(ctx->dp_arg, req) == 0) {
		return; /* the channel finishes it */
	}
	sp_ctl_status_finish(req, json_pack("{s:b}", "connected", 0));
}

/*
 * keys_list: {"key_file":PATH|null,"keys":[{"id":ID,"fingerprint":HEX}]}, in file order. The
 * fingerprint is the first 8 bytes of SHA-256 over the key, in hex: enough to tell keys apart
 * and to match the dataplane's records, nothing about the key. Key bytes never leave.
 */
void
sp_ctl_m_keys_list(struct sp_ctl_req *req)
{
	const struct sp_keyfile *kf = req->ctx->keys;
	json_t *arr = json_array();

	for (size_t i = 0; arr != NULL && kf != NULL && i < kf->n; i++) {
		char fp[2 * SP_KEYFILE_FP_BYTES + 1];

		sp_keyfile_fp_hex(&kf->keys[i], fp);
		if (json_array_append_new(arr, json_pack("{s:s,s:s}", "id", kf->keys[i].id,
							 "fingerprint", fp)) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	SP_ASSERT(arr == NULL || kf != NULL || json_array_size(arr) == 0);
	sp_ctl_reply(req, arr == NULL ? NULL
				      : json_pack("{s:o,s:o}", "key_file",
						  req->ctx->key_file != NULL
						      ? json_string(req->ctx->key_file)
						      : json_null(),
						  "keys", arr));
}
