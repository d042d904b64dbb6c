/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control's end of the dataplane channel (include/spate/chan_proto.h).
 *
 * One dataplane connection at a time: a second connection while one is live is closed at
 * once. The first message must be a hello with proto == SP_CHAN_PROTO_VERSION, answered by a
 * config message carrying the catalog snapshot; a wrong proto, malformed JSON or an over-long
 * line closes the connection (the dataplane reconnects). Messages of unknown type are counted
 * in ctx->chan_unknown_msgs and ignored.
 *
 * Stats: all `status` requests that arrive while one stats_req is outstanding share it. They
 * finish when the stats with that seq arrive, when SP_CHAN_STATS_TIMEOUT_MS passes (a timerfd;
 * the dataplane counts as connected but not responding), or when the dataplane goes away.
 * Invariant: waiters is non-empty exactly when inflight_seq != 0.
 *
 * Kinesis control operations: every hello bumps the persisted boot epoch (sent in config with
 * the account and region). Every kreq is answered by exactly one kresp, synchronously (the
 * catalog is local); when the operation changed the catalog, a catalog message with the new
 * snapshot goes out first, so the dataplane holds the new state before its client hears back.
 * An applied message moves the stream lifecycle on (ctl_streams.c) and, when that changed the
 * catalog, pushes the next snapshot: the exchange ends once an applied changes nothing.
 * A control-socket method that changed the catalog (ctl_admin.c) has the same catalog
 * message sent through the context's dp_catalog hook. Snapshots sent here carry the
 * shard-iterator settings too (sp_cat_dataplane_snapshot_json()), which catalog_get does not.
 *
 * Load: every SP_CHAN_SWEEP_MS a stats_req of its own (sample_seq, apart from the status
 * requests) samples the dataplane's per-shard counters; the answer feeds the measured load
 * (ctx->load: new shards' owners, shard_balance), ON_DEMAND splits, and automatic balancing
 * (ctx->balance_interval_s). The version the dataplane last applied (applied) tells which
 * shard moves it serves (ctl_move.c).
 *
 * Consumers: a one-shot timerfd (cons_ev) is armed for the earliest due_ms of a CREATING or
 * DELETING consumer (catalog_consumers.c), re-armed after every kreq, catalog change, sweep and
 * firing; when it fires, the due steps are taken and a changed catalog is pushed, so the
 * dataplane learns that a consumer is ACTIVE (SubscribeToShard) without waiting for a request.
 *
 * A closed connection is freed after the event batch (sp_chan_server_service()). All on
 * spate-control's single thread.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <spate/assert.h>
#include <spate/chan_proto.h>
#include <spate/err.h>
#include <spate/limits.h>

#include "catalog.h"
#include "chan_server.h"
#include "ctl.h"
#include "ctl_buf.h"
#include "ctl_log.h"
#include "ctl_loop.h"
#include "ctl_streams.h"
#include "ctl_tickets.h"

/*
 * Queued bytes towards the dataplane: a few snapshots plus the kresps of a burst of forwarded
 * operations (a ListShards page is a few hundred KiB at most).
 */
#define SP_CHAN_MAX_OUTBUF_BYTES (8 * SP_CHAN_MAX_LINE_BYTES)

struct chan_conn {
	struct sp_ctl_ev ev;
	struct sp_chan_server *srv;
	TAILQ_ENTRY(chan_conn) link; /* in srv->dead once closed */
	struct sp_ctl_linebuf lb;
	struct sp_ctl_outbuf ob;
	uint32_t events;
	bool hello; /* said hello with our proto: "connected" */
	bool dead;
	json_int_t pid;
	unsigned workers; /* from hello: the workers that own shards */
};

TAILQ_HEAD(chan_conn_list, chan_conn);
TAILQ_HEAD(chan_req_list, sp_ctl_req);

struct sp_chan_server {
	struct sp_ctl_ev listen_ev;
	struct sp_ctl_ev timer_ev;
	struct sp_ctl_ev sweep_ev; /* periodic: closed shards past their retention, and the
				    * load sample (on-demand capacity, balancing) */
	struct sp_ctl_ev cons_ev;  /* one-shot: the next consumer lifecycle step */
	uint64_t sample_seq;	   /* the stats_req of the load sample in flight, or 0 */
	int64_t applied;	   /* the catalog version the dataplane last said it serves */
	struct sp_ctl_loop *loop;
	struct sp_ctl_ctx *ctx;
	char *path;
	struct chan_conn *conn; /* the live dataplane, or NULL */
	struct chan_conn_list dead;
	struct chan_req_list waiters; /* status requests waiting for inflight_seq */
	uint64_t inflight_seq;	      /* 0: no stats_req outstanding */
	uint64_t next_seq;
	char account[16];	      /* defaults for kreqs that name none */
	char region[SP_CTL_K_REGION_MAX_CHARS + 1];
	unsigned shard_limit;
	unsigned consumer_activate_ms;
	unsigned consumer_delete_ms;
};

static void
chan_timer_set(struct sp_chan_server *srv, unsigned ms)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	int rc = timerfd_settime(srv->timer_ev.fd, 0, &its, NULL);

	SP_VERIFY(rc == 0);
}

/* Finish every waiting status request with dataplane (reference taken). */
static void
chan_finish_waiters(struct sp_chan_server *srv, json_t *dataplane)
{
	struct chan_req_list list;
	struct sp_ctl_req *req;

	/* Detach the list first: finishing a request must not see it. */
	TAILQ_INIT(&list);
	while ((req = TAILQ_FIRST(&srv->waiters)) != NULL) {
		TAILQ_REMOVE(&srv->waiters, req, wait_link);
		TAILQ_INSERT_TAIL(&list, req, wait_link);
	}
	srv->inflight_seq = 0;
	chan_timer_set(srv, 0);
	while ((req = TAILQ_FIRST(&list)) != NULL) {
		TAILQ_REMOVE(&list, req, wait_link);
		sp_ctl_status_finish(req, dataplane != NULL ? json_incref(dataplane) : NULL);
	}
	json_decref(dataplane);
}

static void
chan_conn_kill(struct sp_chan_server *srv, struct chan_conn *c, const char *why)
{
	if (c->dead) {
		return;
	}
	if (c->hello) {
		SP_CTL_INFO("dataplane pid %lld disconnected: %s", (long long)c->pid, why);
	} else {
		SP_CTL_WARN("channel connection closed before hello: %s", why);
	}
	c->dead = true;
	sp_ctl_loop_del(srv->loop, &c->ev);
	close(c->ev.fd);
	c->ev.fd = -1;
	TAILQ_INSERT_TAIL(&srv->dead, c, link);
	if (srv->conn == c) {
		srv->conn = NULL;
		srv->sample_seq = 0; /* its sample will not come back */
		chan_finish_waiters(srv, json_pack("{s:b}", "connected", 0));
	}
}

static void
chan_conn_update(struct sp_chan_server *srv, struct chan_conn *c)
{
	uint32_t want = EPOLLIN;

	if (c->dead) {
		return;
	}
	if (sp_ctl_outbuf_queued(&c->ob) > 0) {
		want |= EPOLLOUT;
	}
	if (want != c->events) {
		if (sp_ctl_loop_mod(srv->loop, &c->ev, want) != 0) {
			chan_conn_kill(srv, c, "epoll_ctl failed");
			return;
		}
		c->events = want;
	}
}

/* Queue one message (reference taken) and try to write it. */
static void
chan_send(struct sp_chan_server *srv, struct chan_conn *c, json_t *msg)
{
	char *buf = msg != NULL ? json_dumps(msg, JSON_COMPACT) : NULL;
	int rc = -ENOMEM;

	json_decref(msg);
	if (buf != NULL) {
		size_t n = strlen(buf);

		buf[n] = '\n'; /* json_dumps leaves the NUL; replace it, length known */
		rc = n + 1 > SP_CHAN_MAX_LINE_BYTES ? -EMSGSIZE : sp_ctl_outbuf_append(&c->ob, buf,
											 n + 1);
		free(buf);
	}
	if (rc == 0) {
		rc = sp_ctl_outbuf_flush(&c->ob, c->ev.fd);
	}
	if (rc != 0 && rc != SP_AGAIN) {
		SP_CTL_ERR("channel: sending to the dataplane: %s", sp_strerror(rc));
		chan_conn_kill(srv, c, sp_strerror(rc));
		return;
	}
	chan_conn_update(srv, c);
}

/* Workers the hello announces: 1..SP_MAX_WORKERS, 1 when absent or out of range. */
static unsigned
chan_hello_workers(json_t *msg)
{
	json_t *w = json_object_get(msg, "workers");
	json_int_t n = json_is_integer(w) ? json_integer_value(w) : 1;

	if (n < 1 || n > SP_MAX_WORKERS) {
		SP_CTL_WARN("channel: hello announces %lld workers; using 1", (long long)n);
		n = 1;
	}
	SP_VERIFY(n >= 1 && n <= SP_MAX_WORKERS);
	return (unsigned)n;
}

/* The ticket keys in force, as a tls_keys message (none when control keeps no keys). */
static void
chan_send_tickets(struct sp_chan_server *srv, struct chan_conn *c)
{
	if (srv->ctx->tickets != NULL && !c->dead) {
		chan_send(srv, c, sp_ctl_tickets_msg(srv->ctx->tickets));
	}
}

static void
chan_on_hello(struct sp_chan_server *srv, struct chan_conn *c, json_t *msg)
{
	json_t *proto = json_object_get(msg, "proto");
	json_t *snap;
	int64_t ver;
	uint32_t epoch;

	if (!json_is_integer(proto) || json_integer_value(proto) != SP_CHAN_PROTO_VERSION) {
		SP_CTL_ERR("channel: dataplane speaks proto %lld, we speak %d; closing",
			   json_is_integer(proto) ? (long long)json_integer_value(proto) : -1LL,
			   SP_CHAN_PROTO_VERSION);
		chan_conn_kill(srv, c, "protocol version mismatch");
		return;
	}
	c->pid = json_integer_value(json_object_get(msg, "pid"));
	c->workers = chan_hello_workers(msg);
	const char *name = json_string_value(json_object_get(msg, "name"));

	/* A new boot epoch for every hello: sequence numbers keep growing across restarts. */
	if (srv->ctx->cat == NULL || sp_cat_epoch_next(srv->ctx->cat, &epoch) != 0 ||
	    sp_cat_dataplane_snapshot_json(srv->ctx->cat, &snap) != 0) {
		chan_conn_kill(srv, c, "catalog unreadable");
		return;
	}
	ver = json_integer_value(json_object_get(snap, "catalog_version"));
	SP_CTL_INFO("dataplane pid %lld (%s, %u workers) connected%s; epoch %u, catalog version "
		    "%lld",
		    (long long)c->pid, name != NULL ? name : "?", c->workers,
		    c->hello ? " again" : "", epoch, (long long)ver);
	c->hello = true;
	chan_send(srv, c,
		  json_pack("{s:s,s:i,s:I,s:o,s:I,s:s,s:s}", "msg", SP_CHAN_MSG_CONFIG, "proto",
			    SP_CHAN_PROTO_VERSION, "catalog_version", (json_int_t)ver, "catalog",
			    snap, "epoch", (json_int_t)epoch, "account", srv->account, "region",
			    srv->region));
	chan_send_tickets(srv, c);
}

/* Send the current snapshot as a catalog message. */
static void
chan_push_catalog(struct sp_chan_server *srv, struct chan_conn *c)
{
	json_t *snap;
	int rc = sp_cat_dataplane_snapshot_json(srv->ctx->cat, &snap);

	SP_VERIFY(c->hello);
	if (rc != 0) {
		/* The dataplane would miss a change for good: make it reconnect and resync. */
		chan_conn_kill(srv, c, "catalog unreadable");
		return;
	}
	json_int_t ver = json_integer_value(json_object_get(snap, "catalog_version"));

	SP_VERIFY(ver > 0);
	SP_CTL_DEBUG("channel: pushing catalog version %lld", (long long)ver);
	chan_send(srv, c,
		  json_pack("{s:s,s:I,s:o}", "msg", SP_CHAN_MSG_CATALOG, "catalog_version", ver,
			    "catalog", snap));
}

static uint64_t
chan_wall_ms(void)
{
	struct timespec ts;

	SP_VERIFY(clock_gettime(CLOCK_REALTIME, &ts) == 0);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool
chan_account_ok(const char *s)
{
	size_t n = 0;

	for (; s != NULL && s[n] >= '0' && s[n] <= '9'; n++) {
	}
	return s != NULL && n == 12 && s[n] == '\0';
}

static bool
chan_region_ok(const char *s)
{
	size_t n = 0;

	for (; s != NULL && ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') ||
			     s[n] == '-');
	     n++) {
	}
	return s != NULL && n > 0 && n <= SP_CTL_K_REGION_MAX_CHARS && s[n] == '\0';
}

/* The kresp of reply r to the kreq with id (reference taken). */
static json_t *
chan_kresp(json_t *id, const struct sp_ctl_kreply *r)
{
	SP_VERIFY(r->err < SP_KERR_COUNT && r->body != NULL);
	json_t *m = json_pack("{s:s,s:o,s:i,s:s,s:s,s:s}", "msg", SP_CHAN_MSG_KRESP, "id", id,
			      "status", (int)r->status, "type", sp_kerr_table[r->err].type,
			      "message", r->message, "message_key",
			      r->message_upper ? "Message" : "message");
	json_t *body = json_stringn(r->body, r->body_len);

	if (m == NULL || body == NULL || json_object_set_new(m, "body", body) != 0) {
		/* Only an allocation failure gets here; chan_send() then drops the connection. */
		json_decref(m);
		return NULL;
	}
	return m;
}

/* What a Kinesis operation runs with on this channel: settings, the time, c's workers. */
static struct sp_ctl_kctx
chan_kctx(const struct sp_chan_server *srv, const struct chan_conn *c)
{
	return (struct sp_ctl_kctx){
	    .account = srv->account,
	    .region = srv->region,
	    .now_ms = (int64_t)chan_wall_ms(),
	    .n_workers = c->workers,
	    .shard_limit = srv->shard_limit,
	    .keys = srv->ctx->keys,
	    .load = &srv->ctx->load,
	    .applied = srv->applied,
	    .consumer_activate_ms = srv->consumer_activate_ms,
	    .consumer_delete_ms = srv->consumer_delete_ms,
	};
}

/* Arm cons_ev for the earliest consumer step (disarm when none is pending). */
static void
chan_consumers_arm(struct sp_chan_server *srv)
{
	struct itimerspec its;
	int64_t due = 0;
	int rc = srv->ctx->cat != NULL ? sp_cat_consumer_next_due(srv->ctx->cat, &due) : -ENOENT;

	memset(&its, 0, sizeof(its));
	if (rc == 0) {
		int64_t wait = SP_MAX(due - (int64_t)chan_wall_ms(), (int64_t)1);

		its.it_value.tv_sec = wait / 1000;
		its.it_value.tv_nsec = (long)(wait % 1000) * 1000000L;
	} else if (rc != -ENOENT) {
		/* the sweep arms it again in SP_CHAN_SWEEP_MS */
		SP_CTL_ERR("consumers: reading the next step: %s", sp_strerror(rc));
	}
	SP_VERIFY(timerfd_settime(srv->cons_ev.fd, 0, &its, NULL) == 0);
}

static void
chan_on_kreq(struct sp_chan_server *srv, struct chan_conn *c, json_t *msg)
{
	const char *op = json_string_value(json_object_get(msg, "op"));
	json_t *body = json_object_get(msg, "body");
	const char *account = json_string_value(json_object_get(msg, "account"));
	const char *region = json_string_value(json_object_get(msg, "region"));
	json_t *id = json_object_get(msg, "id");
	struct sp_ctl_kctx kctx = chan_kctx(srv, c);
	enum sp_kop kop = op != NULL ? sp_kop_lookup(op, strlen(op)) : SP_KOP_UNKNOWN;
	struct sp_ctl_kreply *r = malloc(sizeof(*r));

	/* a request may name its own account and region; the configured ones otherwise */
	kctx.account = chan_account_ok(account) ? account : kctx.account;
	kctx.region = chan_region_ok(region) ? region : kctx.region;
	SP_VERIFY(c->hello && kctx.n_workers >= 1);
	if (r == NULL || srv->ctx->cat == NULL) {
		SP_CTL_ERR("channel: kreq %s not served: %s", op != NULL ? op : "?",
			   r == NULL ? "no memory" : "no catalog");
		free(r);
		/* No kresp is possible: closing makes the dataplane fail its pending requests. */
		chan_conn_kill(srv, c, "kreq not served");
		return;
	}
	/* A body that is not a string is not a JSON object either: SerializationException. */
	int rc = sp_ctl_kinesis(srv->ctx->cat, &kctx, kop,
				json_is_string(body) ? json_string_value(body) : "",
				json_is_string(body) ? json_string_length(body) : 0, r);

	if (rc != 0) {
		SP_CTL_WARN("channel: kreq %s answered InternalFailure: %s", op, sp_strerror(rc));
	}
	if (r->catalog_changed) {
		chan_push_catalog(srv, c);
	}
	if (!c->dead) {
		chan_send(srv, c, chan_kresp(json_incref(id != NULL ? id : json_null()), r));
	}
	chan_consumers_arm(srv);
	sp_ctl_kreply_fini(r);
	free(r);
}

static void
chan_on_applied(struct sp_chan_server *srv, struct chan_conn *c, json_t *msg)
{
	json_t *v = json_object_get(msg, "catalog_version");
	int rc;

	SP_VERIFY(c->hello);
	if (!json_is_integer(v) || srv->ctx->cat == NULL) {
		SP_CTL_WARN("channel: applied without a catalog_version; ignored");
		return;
	}
	struct sp_ctl_kctx kctx = chan_kctx(srv, c);

	srv->applied = json_integer_value(v);
	rc = sp_ctl_kinesis_applied(srv->ctx->cat, &kctx, json_integer_value(v));
	if (rc > 0) {
		chan_push_catalog(srv, c);
	} else if (rc < 0) {
		SP_CTL_ERR("channel: applying catalog version %lld failed: %s",
			   (long long)json_integer_value(v), sp_strerror(rc));
	}
}

static void chan_on_sample(struct sp_chan_server *srv, struct chan_conn *c, const json_t *dp);

static void
chan_on_stats(struct sp_chan_server *srv, json_t *msg)
{
	json_t *seq = json_object_get(msg, "seq");
	json_t *dp = json_object_get(msg, "dataplane");

	if (srv->sample_seq != 0 && json_is_integer(seq) &&
	    (uint64_t)json_integer_value(seq) == srv->sample_seq && srv->conn != NULL) {
		chan_on_sample(srv, srv->conn, dp);
		return;
	}
	if (srv->inflight_seq == 0 || !json_is_integer(seq) ||
	    (uint64_t)json_integer_value(seq) != srv->inflight_seq) {
		SP_CTL_DEBUG("channel: stats for seq %lld not awaited; ignored",
			     json_is_integer(seq) ? (long long)json_integer_value(seq) : -1LL);
		return;
	}
	if (!json_is_object(dp)) {
		SP_CTL_WARN("channel: stats without a dataplane object");
		dp = json_object();
	} else {
		dp = json_deep_copy(dp);
	}
	if (dp != NULL) {
		json_object_set_new(dp, "connected", json_true());
	}
	chan_finish_waiters(srv, dp);
}

static void
chan_on_line(struct sp_chan_server *srv, struct chan_conn *c, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *msg = json_loadb(line, len, 0, &jerr);
	const char *type = json_string_value(json_object_get(msg, "msg"));

	if (type == NULL) {
		SP_CTL_ERR("channel: malformed message (%s); closing",
			   msg == NULL ? jerr.text : "no \"msg\" member");
		json_decref(msg);
		chan_conn_kill(srv, c, "malformed message");
		return;
	}
	bool needs_hello = strcmp(type, SP_CHAN_MSG_STATS) == 0 ||
			   strcmp(type, SP_CHAN_MSG_KREQ) == 0 ||
			   strcmp(type, SP_CHAN_MSG_APPLIED) == 0;

	if (strcmp(type, SP_CHAN_MSG_HELLO) == 0) {
		chan_on_hello(srv, c, msg);
	} else if (needs_hello && !c->hello) {
		chan_conn_kill(srv, c, "message before hello");
	} else if (strcmp(type, SP_CHAN_MSG_STATS) == 0) {
		chan_on_stats(srv, msg);
	} else if (strcmp(type, SP_CHAN_MSG_KREQ) == 0) {
		chan_on_kreq(srv, c, msg);
	} else if (strcmp(type, SP_CHAN_MSG_APPLIED) == 0) {
		chan_on_applied(srv, c, msg);
	} else {
		srv->ctx->chan_unknown_msgs++;
		SP_CTL_DEBUG("channel: unknown message type \"%.40s\" ignored", type);
	}
	json_decref(msg);
}

static void
chan_conn_read(struct sp_chan_server *srv, struct chan_conn *c)
{
	size_t room;
	char *w = sp_ctl_linebuf_wptr(&c->lb, &room);
	const char *line;
	size_t len;
	int rc;

	SP_VERIFY(room > 0);
	ssize_t n = recv(c->ev.fd, w, room, 0);

	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			return;
		}
		chan_conn_kill(srv, c, n == 0 ? "peer closed" : strerror(errno));
		return;
	}
	sp_ctl_linebuf_commit(&c->lb, (size_t)n);
	while (!c->dead && (rc = sp_ctl_linebuf_next(&c->lb, &line, &len)) != SP_AGAIN) {
		if (rc == -EMSGSIZE) {
			SP_CTL_ERR("channel: message over %d bytes; closing",
				   SP_CHAN_MAX_LINE_BYTES);
			chan_conn_kill(srv, c, "message too long");
			return;
		}
		if (len > 0) {
			chan_on_line(srv, c, line, len);
		}
	}
}

static void
chan_conn_event(struct sp_ctl_ev *ev, uint32_t events)
{
	struct chan_conn *c = (struct chan_conn *)ev;
	struct sp_chan_server *srv = c->srv;

	if (c->dead) {
		return;
	}
	if ((events & EPOLLOUT) != 0) {
		int rc = sp_ctl_outbuf_flush(&c->ob, c->ev.fd);

		if (rc != 0 && rc != SP_AGAIN) {
			chan_conn_kill(srv, c, sp_strerror(rc));
			return;
		}
	}
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
		/* A hangup reads as 0 bytes (or an error) after any data still queued. */
		chan_conn_read(srv, c);
	}
	chan_conn_update(srv, c);
}

static void
chan_conn_free(struct chan_conn *c)
{
	SP_VERIFY(c->dead && c->ev.fd < 0);
	sp_ctl_linebuf_fini(&c->lb);
	sp_ctl_outbuf_fini(&c->ob);
	free(c);
}

static void
chan_accept_one(struct sp_chan_server *srv, int fd)
{
	struct chan_conn *c;

	if (srv->conn != NULL) {
		SP_CTL_WARN("channel: a dataplane is already connected; refusing another");
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL || sp_ctl_linebuf_init(&c->lb, SP_CHAN_MAX_LINE_BYTES) != 0) {
		SP_CTL_ERR("channel: no memory for a connection");
		free(c);
		close(fd);
		return;
	}
	c->ev.fd = fd;
	c->ev.fn = chan_conn_event;
	c->srv = srv;
	c->events = EPOLLIN;
	c->workers = 1;
	sp_ctl_outbuf_init(&c->ob, SP_CHAN_MAX_OUTBUF_BYTES);
	if (sp_ctl_loop_add(srv->loop, &c->ev, c->events) != 0) {
		sp_ctl_linebuf_fini(&c->lb);
		free(c);
		close(fd);
		return;
	}
	srv->conn = c;
	SP_CTL_DEBUG("channel: connection accepted; waiting for hello");
}

static void
chan_accept(struct sp_ctl_ev *ev, uint32_t events)
{
	struct sp_chan_server *srv = (struct sp_chan_server *)ev;

	(void)events;
	for (;;) {
		int fd = accept4(ev->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED) {
				SP_CTL_WARN("channel: accept: %s", strerror(errno));
			}
			return;
		}
		chan_accept_one(srv, fd);
	}
}

static void
chan_timer(struct sp_ctl_ev *ev, uint32_t events)
{
	struct sp_chan_server *srv = (struct sp_chan_server *)((char *)ev -
								offsetof(struct sp_chan_server,
									 timer_ev));
	uint64_t ticks;
	ssize_t n = read(ev->fd, &ticks, sizeof(ticks));

	(void)events;
	if (n != (ssize_t)sizeof(ticks) || srv->inflight_seq == 0) {
		return;
	}
	SP_CTL_WARN("channel: dataplane did not answer stats_req %llu within %d ms",
		    (unsigned long long)srv->inflight_seq, SP_CHAN_STATS_TIMEOUT_MS);
	chan_finish_waiters(srv, json_pack("{s:b,s:b}", "connected", 1, "responding", 0));
}

static void chan_consumers_fire(struct sp_ctl_ev *ev, uint32_t events);

/* The consumer timer: created, in the loop, and armed (steps due while down: at once). */
static int
chan_consumers_open(struct sp_chan_server *srv)
{
	int rc;

	SP_VERIFY(srv->cons_ev.fd < 0);
	srv->cons_ev.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (srv->cons_ev.fd < 0) {
		return -errno;
	}
	srv->cons_ev.fn = chan_consumers_fire;
	rc = sp_ctl_loop_add(srv->loop, &srv->cons_ev, EPOLLIN);
	if (rc == 0) {
		chan_consumers_arm(srv);
	}
	return rc;
}

/* The next consumer step is due: take every step due now, push what changed, arm again. */
static void
chan_consumers_fire(struct sp_ctl_ev *ev, uint32_t events)
{
	struct sp_chan_server *srv = (struct sp_chan_server *)((char *)ev -
								offsetof(struct sp_chan_server,
									 cons_ev));
	uint64_t ticks;
	ssize_t n = read(ev->fd, &ticks, sizeof(ticks));
	int rc;

	(void)events;
	if (n != (ssize_t)sizeof(ticks) || srv->ctx->cat == NULL) {
		return;
	}
	rc = sp_cat_consumers_advance(srv->ctx->cat, (int64_t)chan_wall_ms());
	if (rc > 0 && sp_chan_server_connected(srv)) {
		chan_push_catalog(srv, srv->conn);
	} else if (rc < 0) {
		SP_CTL_ERR("consumers: taking due steps: %s", sp_strerror(rc));
	}
	chan_consumers_arm(srv);
}

/*
 * Every SP_CHAN_SWEEP_MS: remove closed shards older than their stream's retention (Kinesis
 * lists them nowhere after that), and past owners whose records are past it, and tell the
 * dataplane, which then drops their rings and logs. "Now" follows the test clock, as the
 * dataplane's retention does. Then retry failed reshard steps, and ask the connected dataplane
 * for a load sample (chan_on_sample()).
 */
static void chan_tickets_tick(struct sp_chan_server *srv);

static void
chan_sweep(struct sp_ctl_ev *ev, uint32_t events)
{
	struct sp_chan_server *srv = (struct sp_chan_server *)((char *)ev -
								offsetof(struct sp_chan_server,
									 sweep_ev));
	uint64_t ticks;
	ssize_t n = read(ev->fd, &ticks, sizeof(ticks));
	int rc;

	(void)events;
	if (n != (ssize_t)sizeof(ticks) || srv->ctx->cat == NULL) {
		return;
	}
	rc = sp_cat_expire_closed_shards(srv->ctx->cat,
					 (int64_t)chan_wall_ms() +
					     sp_cat_clock_offset_ms(srv->ctx->cat));
	if (rc > 0) {
		SP_CTL_INFO("retention: %d closed shard(s) and past owner(s) expired", rc);
		if (sp_chan_server_connected(srv)) {
			chan_push_catalog(srv, srv->conn);
		}
	} else if (rc < 0) {
		SP_CTL_ERR("retention: expiring closed shards: %s", sp_strerror(rc));
	}
	chan_consumers_arm(srv); /* after an error, or a clock step */
	chan_tickets_tick(srv);  /* TLS ticket keys: a rotation every rotate_s */
	/* reshard steps that failed at their applied are retried here */
	if (sp_chan_server_connected(srv) && srv->applied > 0) {
		struct sp_ctl_kctx kctx = chan_kctx(srv, srv->conn);

		if (sp_ctl_reshard_advance(srv->ctx->cat, &kctx, srv->applied) > 0) {
			chan_push_catalog(srv, srv->conn);
		}
	}
	/* the load sample: per-shard counters, looked at when the stats come back. One not
	 * answered by now is given up (its answer, if it comes, is ignored) and asked again. */
	if (sp_chan_server_connected(srv)) {
		if (srv->sample_seq != 0) {
			SP_CTL_DEBUG("channel: load sample %llu not answered; asking again",
				     (unsigned long long)srv->sample_seq);
		}
		srv->sample_seq = ++srv->next_seq;
		chan_send(srv, srv->conn,
			  json_pack("{s:s,s:I}", "msg", SP_CHAN_MSG_STATS_REQ, "seq",
				    (json_int_t)srv->sample_seq));
	}
}

/*
 * The load sample came back: keep the per-shard rates (new shards' owners and balancing),
 * split the ON_DEMAND shards above their write capacity, and balance when it is due.
 */
static void
chan_on_sample(struct sp_chan_server *srv, struct chan_conn *c, const json_t *dp)
{
	struct sp_ctl_kctx kctx = chan_kctx(srv, c);
	struct sp_ctl_ctx *ctx = srv->ctx;
	int64_t on_demand = 0;
	int changed = 0;
	int rc;

	srv->sample_seq = 0;
	if (ctx->cat == NULL || !json_is_object(dp)) {
		return;
	}
	if (sp_ctl_load_sample(&ctx->load, dp, (int64_t)sp_ctl_now_ms()) != 0) {
		SP_CTL_ERR("load sample: out of memory");
	}
	/* on-demand capacity: only when an ON_DEMAND stream exists */
	rc = sp_cat_on_demand_count(ctx->cat, &on_demand);
	if (rc == 0 && on_demand > 0) {
		rc = sp_ctl_reshard_on_demand(ctx->cat, &kctx, &ctx->od, dp);
	}
	if (rc < 0) {
		SP_CTL_ERR("on-demand capacity: %s", sp_strerror(rc));
	}
	changed += SP_MAX(rc, 0);
	rc = sp_ctl_balance_auto(ctx->cat, &kctx, ctx->balance_interval_s,
				 (int64_t)sp_ctl_now_ms(), &ctx->balance_last_ms);
	if (rc < 0) {
		SP_CTL_ERR("balance: %s", sp_strerror(rc));
	}
	changed += SP_MAX(rc, 0);
	if (changed > 0) {
		chan_push_catalog(srv, c);
	}
}

/* The context's dp_catalog hook: a control-socket method changed the catalog. */
static bool
chan_dp_catalog(void *arg)
{
	struct sp_chan_server *srv = arg;
	struct chan_conn *c = srv->conn;

	SP_VERIFY(srv->ctx->cat != NULL);
	chan_consumers_arm(srv); /* a `kinesis` method may have registered a consumer */
	if (c == NULL || c->dead || !c->hello) {
		return false; /* its next hello's config carries the new state */
	}
	chan_push_catalog(srv, c);
	/* A failed push kills the connection; the dataplane resyncs when it says hello again. */
	return !c->dead;
}

/* The context's dp_kctx hook: the settings a control-socket `kinesis` operation runs with. */
static bool
chan_dp_kctx(void *arg, struct sp_ctl_kctx *out)
{
	struct sp_chan_server *srv = arg;
	bool connected = sp_chan_server_connected(srv);

	out->account = srv->account;
	out->region = srv->region;
	out->shard_limit = srv->shard_limit;
	out->keys = srv->ctx->keys;
	out->n_workers = connected ? srv->conn->workers : 0;
	out->load = &srv->ctx->load;
	out->applied = srv->applied;
	out->consumer_activate_ms = srv->consumer_activate_ms;
	out->consumer_delete_ms = srv->consumer_delete_ms;
	return connected;
}

/* The context's dp_tls_reload hook: the dataplane builds the context and reports in its stats. */
static bool
chan_dp_tls_reload(void *arg, const char *cert, const char *key)
{
	struct sp_chan_server *srv = arg;
	struct chan_conn *c = srv->conn;
	json_t *msg;

	if (c == NULL || c->dead || !c->hello) {
		return false;
	}
	msg = json_pack("{s:s}", "msg", SP_CHAN_MSG_TLS_RELOAD);
	if (msg != NULL && cert != NULL) {
		json_object_set_new(msg, "cert", json_string(cert));
	}
	if (msg != NULL && key != NULL) {
		json_object_set_new(msg, "key", json_string(key));
	}
	chan_send(srv, c, msg);
	return !c->dead;
}

/* The context's dp_tls_keys hook: the ticket keys in force to the dataplane. */
static bool
chan_dp_tls_keys(void *arg)
{
	struct sp_chan_server *srv = arg;
	struct chan_conn *c = srv->conn;

	if (c == NULL || c->dead || !c->hello) {
		return false; /* its next hello gets them */
	}
	chan_send_tickets(srv, c);
	return !c->dead;
}

/* Rotate the ticket keys when a period has passed and hand the new ones over. */
static void
chan_tickets_tick(struct sp_chan_server *srv)
{
	int rc;

	if (srv->ctx->tickets == NULL) {
		return;
	}
	rc = sp_ctl_tickets_tick(srv->ctx->tickets, sp_ctl_wall_s());
	if (rc < 0) {
		SP_CTL_ERR("ticket keys: rotation failed, the keys in force stay: %s",
			   sp_strerror(rc));
	} else if (rc > 0) {
		SP_CTL_INFO("ticket keys rotated%s",
			    chan_dp_tls_keys(srv) ? "" : " (the dataplane gets them at its hello)");
	}
}

/* The context's dp_stats hook. */
static int
chan_dp_stats(void *arg, struct sp_ctl_req *req)
{
	struct sp_chan_server *srv = arg;
	struct chan_conn *c = srv->conn;

	if (c == NULL || c->dead || !c->hello) {
		return -ENOTCONN;
	}
	SP_VERIFY((srv->inflight_seq == 0) == TAILQ_EMPTY(&srv->waiters));
	TAILQ_INSERT_TAIL(&srv->waiters, req, wait_link);
	if (srv->inflight_seq != 0) {
		return 0; /* shares the outstanding stats_req */
	}
	srv->inflight_seq = ++srv->next_seq;
	chan_timer_set(srv, SP_CHAN_STATS_TIMEOUT_MS);
	/* A failed send kills the connection, which finishes req: it is still "taken". */
	chan_send(srv, c, json_pack("{s:s,s:I}", "msg", SP_CHAN_MSG_STATS_REQ, "seq",
				    (json_int_t)srv->inflight_seq));
	return 0;
}

bool
sp_chan_server_connected(const struct sp_chan_server *srv)
{
	return srv->conn != NULL && srv->conn->hello && !srv->conn->dead;
}

int
sp_chan_server_open(struct sp_ctl_loop *loop, struct sp_ctl_ctx *ctx, const char *path,
		    const struct sp_chan_kconf *kconf, struct sp_chan_server **out)
{
	struct sp_chan_server *srv = calloc(1, sizeof(*srv));
	int rc = -ENOMEM;

	*out = NULL;
	SP_VERIFY(kconf != NULL && kconf->shard_limit > 0);
	if (srv == NULL) {
		return -ENOMEM;
	}
	if (!chan_account_ok(kconf->account) || !chan_region_ok(kconf->region)) {
		free(srv);
		return -EINVAL;
	}
	snprintf(srv->account, sizeof(srv->account), "%s", kconf->account);
	snprintf(srv->region, sizeof(srv->region), "%s", kconf->region);
	srv->shard_limit = kconf->shard_limit;
	srv->consumer_activate_ms = kconf->consumer_activate_ms;
	srv->consumer_delete_ms = kconf->consumer_delete_ms;
	srv->loop = loop;
	srv->ctx = ctx;
	srv->listen_ev.fd = -1;
	srv->timer_ev.fd = -1;
	srv->sweep_ev.fd = -1;
	srv->cons_ev.fd = -1;
	TAILQ_INIT(&srv->dead);
	TAILQ_INIT(&srv->waiters);
	srv->path = strdup(path);
	if (srv->path == NULL) {
		goto fail;
	}
	srv->timer_ev.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (srv->timer_ev.fd < 0) {
		rc = -errno;
		goto fail;
	}
	srv->timer_ev.fn = chan_timer;
	rc = sp_ctl_loop_add(loop, &srv->timer_ev, EPOLLIN);
	if (rc != 0) {
		goto fail;
	}
	srv->sweep_ev.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (srv->sweep_ev.fd < 0) {
		rc = -errno;
		goto fail;
	}
	{
		struct itimerspec its = {
		    .it_value = {.tv_sec = SP_CHAN_SWEEP_MS / 1000},
		    .it_interval = {.tv_sec = SP_CHAN_SWEEP_MS / 1000},
		};

		SP_VERIFY(timerfd_settime(srv->sweep_ev.fd, 0, &its, NULL) == 0);
	}
	srv->sweep_ev.fn = chan_sweep;
	rc = sp_ctl_loop_add(loop, &srv->sweep_ev, EPOLLIN);
	if (rc != 0) {
		goto fail;
	}
	rc = chan_consumers_open(srv);
	if (rc != 0) {
		goto fail;
	}
	rc = sp_ctl_listen_unix(path, 0660);
	if (rc < 0) {
		SP_CTL_ERR("channel socket %s: %s", path, sp_strerror(rc));
		goto fail;
	}
	srv->listen_ev.fd = rc;
	srv->listen_ev.fn = chan_accept;
	rc = sp_ctl_loop_add(loop, &srv->listen_ev, EPOLLIN);
	if (rc != 0) {
		unlink(path);
		goto fail;
	}
	ctx->dp_stats = chan_dp_stats;
	ctx->dp_catalog = chan_dp_catalog;
	ctx->dp_kctx = chan_dp_kctx;
	ctx->dp_tls_reload = chan_dp_tls_reload;
	ctx->dp_tls_keys = chan_dp_tls_keys;
	ctx->dp_arg = srv;
	SP_CTL_INFO("channel socket listening at %s", path);
	*out = srv;
	return 0;
fail:
	if (srv->timer_ev.fd >= 0) {
		sp_ctl_loop_del(loop, &srv->timer_ev);
		close(srv->timer_ev.fd);
	}
	if (srv->sweep_ev.fd >= 0) {
		sp_ctl_loop_del(loop, &srv->sweep_ev);
		close(srv->sweep_ev.fd);
	}
	if (srv->cons_ev.fd >= 0) {
		sp_ctl_loop_del(loop, &srv->cons_ev);
		close(srv->cons_ev.fd);
	}
	if (srv->listen_ev.fd >= 0) {
		close(srv->listen_ev.fd);
	}
	free(srv->path);
	free(srv);
	return rc;
}

void
sp_chan_server_service(struct sp_chan_server *srv)
{
	struct chan_conn *c;

	while ((c = TAILQ_FIRST(&srv->dead)) != NULL) {
		TAILQ_REMOVE(&srv->dead, c, link);
		chan_conn_free(c);
	}
}

void
sp_chan_server_close(struct sp_chan_server *srv)
{
	if (srv == NULL) {
		return;
	}
	if (srv->conn != NULL) {
		chan_conn_kill(srv, srv->conn, "shutdown");
	}
	SP_VERIFY(TAILQ_EMPTY(&srv->waiters));
	sp_chan_server_service(srv);
	if (srv->ctx->dp_arg == srv) {
		srv->ctx->dp_stats = NULL;
		srv->ctx->dp_catalog = NULL;
		srv->ctx->dp_kctx = NULL;
		srv->ctx->dp_tls_reload = NULL;
		srv->ctx->dp_tls_keys = NULL;
		srv->ctx->dp_arg = NULL;
	}
	sp_ctl_loop_del(srv->loop, &srv->listen_ev);
	close(srv->listen_ev.fd);
	sp_ctl_loop_del(srv->loop, &srv->timer_ev);
	close(srv->timer_ev.fd);
	sp_ctl_loop_del(srv->loop, &srv->sweep_ev);
	close(srv->sweep_ev.fd);
	sp_ctl_loop_del(srv->loop, &srv->cons_ev);
	close(srv->cons_ev.fd);
	if (unlink(srv->path) != 0 && errno != ENOENT) {
		SP_CTL_WARN("channel socket: unlink %s: %s", srv->path, strerror(errno));
	}
	free(srv->path);
	free(srv);
}
