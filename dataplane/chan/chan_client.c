/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The channel protocol, dataplane side (include/spate/chan_proto.h). Owns the connection
 * state, the line framing and the reaction to each control message. Runs on the main lcore
 * only, from its service loop, and never blocks: connect, send and recv are all non-blocking,
 * and a dead peer is retried with exponential backoff (SP_CHAN_BACKOFF_MIN_MS .. _MAX_MS).
 * Workers keep serving traffic whatever the channel's state.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_log.h>

#include <spate/assert.h>
#include <spate/chan_proto.h>
#include <spate/err.h>
#include <spate/limits.h>

#include "chan.h"

#define RTE_LOGTYPE_SPATE RTE_LOGTYPE_USER1

#define CHAN_RECV_CHUNK 65536 /* bytes read per recv call */
#define CHAN_IO_BUDGET 64     /* recv/send calls per poll: bounded work per service tick */

int
sp_chan_client_init(struct sp_chan_client *c, struct sp_chan_transport tr, const char *name,
		    long pid, sp_chan_stats_fn fn, void *arg)
{
	memset(c, 0, sizeof(*c));
	c->tr = tr;
	c->stats_fn = fn;
	c->stats_arg = arg;
	c->pid = pid;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->backoff_ms = SP_CHAN_BACKOFF_MIN_MS;
	c->in = malloc(SP_CHAN_MAX_LINE_BYTES);
	c->out = malloc(SP_CHAN_OUT_BYTES);
	if (c->in == NULL || c->out == NULL) {
		sp_chan_client_fini(c);
		return -ENOMEM;
	}
	return 0;
}

void
sp_chan_client_fini(struct sp_chan_client *c)
{
	if (c->connected) {
		c->tr.ops->close(c->tr.ctx);
		c->connected = false;
	}
	free(c->in);
	free(c->out);
	c->in = NULL;
	c->out = NULL;
}

static void
chan_disconnect(struct sp_chan_client *c, uint64_t now_ms, const char *why)
{
	if (c->connected) {
		RTE_LOG(WARNING, SPATE, "channel: disconnected (%s); retrying\n", why);
		c->disconnects++;
	}
	c->tr.ops->close(c->tr.ctx);
	c->connected = false;
	c->configured = false;
	if (c->hooks.on_disconnect != NULL) {
		c->hooks.on_disconnect(c->hooks.arg);
	}
	c->in_len = 0;
	c->out_len = 0;
	c->next_attempt_ms = now_ms + c->backoff_ms;
	c->backoff_ms = SP_MIN(c->backoff_ms * 2, (uint64_t)SP_CHAN_BACKOFF_MAX_MS);
}

/* Queue one message as a line. Drops it (counted as bad) if the queue is full. */
static void
chan_send_json(struct sp_chan_client *c, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	size_t n;

	json_decref(msg);
	if (text == NULL) {
		c->msgs_bad++;
		return;
	}
	n = strlen(text);
	if (c->out_len + n + 1 > SP_CHAN_OUT_BYTES) {
		RTE_LOG(WARNING, SPATE, "channel: output queue full, message dropped\n");
		c->msgs_bad++;
		free(text);
		return;
	}
	memcpy(c->out + c->out_len, text, n);
	c->out[c->out_len + n] = '\n';
	c->out_len += n + 1;
	c->msgs_out++;
	free(text);
}

static void
chan_send_hello(struct sp_chan_client *c)
{
	json_t *m = json_pack("{s:s, s:i, s:I, s:s, s:i}", "msg", SP_CHAN_MSG_HELLO, "proto",
			      SP_CHAN_PROTO_VERSION, "pid", (json_int_t)c->pid, "name", c->name,
			      "workers", (int)c->workers);

	SP_VERIFY(m != NULL);
	chan_send_json(c, m);
}

static void
chan_on_snapshot(struct sp_chan_client *c, json_t *msg, bool is_config)
{
	json_t *v = json_object_get(msg, "catalog_version");

	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		c->msgs_bad++;
		return;
	}
	if (is_config && c->hooks.on_config != NULL) {
		c->hooks.on_config(c->hooks.arg, msg);
	} else if (!is_config && c->hooks.on_catalog != NULL) {
		c->hooks.on_catalog(c->hooks.arg, msg);
	}
	c->catalog_version = (uint64_t)json_integer_value(v);
	if (!c->configured) {
		RTE_LOG(INFO, SPATE, "channel: configuration received (catalog version %lu)\n",
			(unsigned long)c->catalog_version);
	}
	c->configured = true;
}

static void
chan_on_stats_req(struct sp_chan_client *c, json_t *msg)
{
	json_t *seq = json_object_get(msg, "seq");
	json_t *reply, *dp;

	if (!json_is_integer(seq)) {
		c->msgs_bad++;
		return;
	}
	dp = c->stats_fn(c->stats_arg);
	SP_VERIFY(dp != NULL);
	reply = json_pack("{s:s, s:O, s:o}", "msg", SP_CHAN_MSG_STATS, "seq", seq, "dataplane",
			  dp);
	SP_VERIFY(reply != NULL);
	chan_send_json(c, reply);
}

int
sp_chan_client_send_kreq(struct sp_chan_client *c, uint64_t id, const char *op,
			 const char *account, const char *region, const char *body, size_t len)
{
	json_t *text, *m;
	uint64_t before = c->msgs_bad;

	if (!c->connected || !c->configured) {
		return -ENOTCONN;
	}
	text = json_stringn(body, len);
	if (text == NULL) {
		return -EINVAL;
	}
	m = json_pack("{s:s, s:I, s:s, s:s, s:s, s:o}", "msg", SP_CHAN_MSG_KREQ, "id",
		      (json_int_t)id, "op", op, "account", account, "region", region, "body", text);
	SP_VERIFY(m != NULL);
	chan_send_json(c, m);
	return c->msgs_bad == before ? 0 : -ENOBUFS;
}

void
sp_chan_client_send_applied(struct sp_chan_client *c, uint64_t version)
{
	json_t *m;

	if (!c->connected) {
		return;
	}
	m = json_pack("{s:s, s:I}", "msg", SP_CHAN_MSG_APPLIED, "catalog_version",
		      (json_int_t)version);
	SP_VERIFY(m != NULL);
	chan_send_json(c, m);
}

void
sp_chan_client_handle_line(struct sp_chan_client *c, const char *line, size_t len)
{
	json_error_t err;
	json_t *msg = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
	const char *type;

	c->msgs_in++;
	if (msg == NULL || !json_is_object(msg)) {
		c->msgs_bad++;
		json_decref(msg);
		return;
	}
	type = json_string_value(json_object_get(msg, "msg"));
	if (type == NULL) {
		c->msgs_bad++;
	} else if (strcmp(type, SP_CHAN_MSG_CONFIG) == 0) {
		json_t *proto = json_object_get(msg, "proto");
		if (!json_is_integer(proto) ||
		    json_integer_value(proto) != SP_CHAN_PROTO_VERSION) {
			c->msgs_bad++;
		} else {
			chan_on_snapshot(c, msg, true);
		}
	} else if (strcmp(type, SP_CHAN_MSG_CATALOG) == 0) {
		chan_on_snapshot(c, msg, false);
	} else if (strcmp(type, SP_CHAN_MSG_KRESP) == 0) {
		if (c->hooks.on_kresp != NULL) {
			c->hooks.on_kresp(c->hooks.arg, msg);
		}
	} else if (strcmp(type, SP_CHAN_MSG_STATS_REQ) == 0) {
		chan_on_stats_req(c, msg);
	} else if (strcmp(type, SP_CHAN_MSG_TLS_RELOAD) == 0) {
		if (c->hooks.on_tls_reload != NULL) {
			c->hooks.on_tls_reload(c->hooks.arg, msg);
		}
	} else if (strcmp(type, SP_CHAN_MSG_TLS_KEYS) == 0) {
		if (c->hooks.on_tls_keys != NULL) {
			c->hooks.on_tls_keys(c->hooks.arg, msg);
		}
	} else {
		c->msgs_unknown++;
	}
	json_decref(msg);
}

/* Split received bytes into lines. Returns 0, or -EMSGSIZE if a line exceeds the bound. */
static int
chan_consume(struct sp_chan_client *c)
{
	size_t start = 0;

	for (size_t i = 0; i < c->in_len; i++) {
		if (c->in[i] == '\n') {
			sp_chan_client_handle_line(c, c->in + start, i - start);
			start = i + 1;
		}
	}
	if (start > 0) {
		memmove(c->in, c->in + start, c->in_len - start);
		c->in_len -= start;
	}
	return c->in_len >= SP_CHAN_MAX_LINE_BYTES ? -EMSGSIZE : 0;
}

static int
chan_do_io(struct sp_chan_client *c)
{
	for (unsigned i = 0; i < CHAN_IO_BUDGET; i++) {
		size_t room = SP_CHAN_MAX_LINE_BYTES - c->in_len;
		ssize_t n = c->tr.ops->recv(c->tr.ctx, c->in + c->in_len,
					    SP_MIN(room, (size_t)CHAN_RECV_CHUNK));
		int rc;

		if (n == -EAGAIN) {
			break;
		}
		if (n <= 0) {
			return n == 0 ? -ECONNRESET : (int)n;
		}
		c->in_len += (size_t)n;
		rc = chan_consume(c);
		if (rc != 0) {
			return rc;
		}
	}
	for (unsigned i = 0; i < CHAN_IO_BUDGET && c->out_len > 0; i++) {
		ssize_t n = c->tr.ops->send(c->tr.ctx, c->out, c->out_len);

		if (n == -EAGAIN) {
			break;
		}
		if (n < 0) {
			return (int)n;
		}
		SP_VERIFY((size_t)n <= c->out_len);
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	return 0;
}

void
sp_chan_client_poll(struct sp_chan_client *c, uint64_t now_ms)
{
	int rc;

	if (!c->connected) {
		if (now_ms < c->next_attempt_ms) {
			return;
		}
		rc = c->tr.ops->connect(c->tr.ctx);
		if (rc == -EAGAIN) {
			return;
		}
		if (rc != 0) {
			chan_disconnect(c, now_ms, sp_strerror(rc));
			return;
		}
		c->connected = true;
		c->connects++;
		c->backoff_ms = SP_CHAN_BACKOFF_MIN_MS;
		RTE_LOG(INFO, SPATE, "channel: connected to spate-control\n");
		chan_send_hello(c);
	}
	rc = chan_do_io(c);
	if (rc != 0) {
		chan_disconnect(c, now_ms, sp_strerror(rc));
	}
}
