/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket: accepts operator clients, splits their bytes into lines, hands the
 * lines to the dispatcher (ctl_dispatch.c) and queues the replies.
 *
 * Per client: a line buffer of SP_CTL_MAX_LINE_BYTES, a reply queue bounded by
 * SP_CTL_MAX_OUTBUF_BYTES (a client that lets it fill is disconnected), and at most
 * SP_CTL_MAX_PENDING_REQS requests in flight (beyond that the server stops reading from the
 * client until replies leave). A client past SP_CTL_MAX_CLIENTS gets one SP_CTL_E_BUSY line
 * and is closed; an over-long line gets -32600 and the connection closes once earlier replies
 * are out (the write side is shut first and input drained, so the peer reads the error rather
 * than a reset). A client that half-closes still gets its replies.
 *
 * Closed clients are freed in sp_ctl_server_service(), after the event batch, never while the
 * dispatcher may be walking their session. All on spate-control's single thread, with
 * level-triggered epoll.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spate/assert.h>
#include <spate/err.h>
#include <spate/limits.h>

#include "ctl.h"
#include "ctl_buf.h"
#include "ctl_log.h"
#include "ctl_loop.h"
#include "ctl_server.h"

#define SP_CTL_ACCEPT_BURST 16 /* connections accepted per listen-socket event */
/*
 * After an over-long line, input is read and dropped until the peer closes, up to this many
 * bytes: closing a Unix socket with unread input would reset the peer before it reads the
 * error reply.
 */
#define SP_CTL_MAX_DISCARD_BYTES (4 * SP_CTL_MAX_LINE_BYTES)

struct ctl_client {
	struct sp_ctl_ev ev;
	struct sp_ctl_server *srv;
	TAILQ_ENTRY(ctl_client) link; /* in srv->clients, then srv->dead */
	struct sp_ctl_linebuf lb;
	struct sp_ctl_outbuf ob;
	struct sp_ctl_session sess;
	uint32_t events;  /* what epoll watches now */
	unsigned serial;  /* for logs */
	bool dead;	  /* fd closed; freed by the next service call */
	bool closing;	  /* no more requests; close when replies are out */
	bool shut;	  /* closing, replies out, write side shut; draining input */
	size_t discarded; /* input bytes dropped while closing */
	bool eof;	  /* peer half-closed; same as closing */
	bool throttled;	  /* SP_CTL_MAX_PENDING_REQS reached; not reading */
};

TAILQ_HEAD(ctl_client_list, ctl_client);

struct sp_ctl_server {
	struct sp_ctl_ev listen_ev;
	struct sp_ctl_loop *loop;
	struct sp_ctl_ctx *ctx;
	char *path;
	struct ctl_client_list clients;
	struct ctl_client_list dead;
	unsigned n_clients;
	unsigned next_serial;
};

static void
ctl_client_kill(struct ctl_client *c, const char *why)
{
	struct sp_ctl_server *srv = c->srv;

	if (c->dead) {
		return;
	}
	SP_CTL_DEBUG("control client %u closed: %s", c->serial, why);
	c->dead = true;
	sp_ctl_loop_del(srv->loop, &c->ev);
	close(c->ev.fd);
	c->ev.fd = -1;
	TAILQ_REMOVE(&srv->clients, c, link);
	TAILQ_INSERT_TAIL(&srv->dead, c, link);
	SP_VERIFY(srv->n_clients > 0);
	srv->n_clients--;
	srv->ctx->n_clients = srv->n_clients;
}

static void
ctl_client_update(struct ctl_client *c)
{
	uint32_t want = 0;

	if (c->dead) {
		return;
	}
	bool idle = !c->throttled && c->sess.n_pending == 0 && sp_ctl_outbuf_queued(&c->ob) == 0;

	if (c->eof && idle) {
		ctl_client_kill(c, "peer closed");
		return;
	}
	if (c->closing && idle && !c->shut) {
		/* Tell the peer we are done; ctl_client_discard() closes on its EOF. */
		(void)shutdown(c->ev.fd, SHUT_WR);
		c->shut = true;
	}
	if (!c->eof && !c->throttled) {
		want |= EPOLLIN; /* while closing, to drop input (ctl_client_discard) */
	}
	if (sp_ctl_outbuf_queued(&c->ob) > 0) {
		want |= EPOLLOUT;
	}
	if (want != c->events) {
		if (sp_ctl_loop_mod(c->srv->loop, &c->ev, want) != 0) {
			ctl_client_kill(c, "epoll_ctl failed");
			return;
		}
		c->events = want;
	}
}

static void
ctl_client_flush(struct ctl_client *c)
{
	int rc = sp_ctl_outbuf_flush(&c->ob, c->ev.fd);

	if (rc != 0 && rc != SP_AGAIN) {
		ctl_client_kill(c, sp_strerror(rc));
	}
}

/* Session output: called by the dispatcher, possibly long after the request arrived. */
static void
ctl_client_out(void *arg, const char *line, size_t len)
{
	struct ctl_client *c = arg;

	if (c->dead) {
		return;
	}
	int rc = sp_ctl_outbuf_append(&c->ob, line, len);

	if (rc != 0) {
		SP_CTL_WARN("control client %u: %zu bytes of replies unread; disconnecting",
			    c->serial, sp_ctl_outbuf_queued(&c->ob));
		ctl_client_kill(c, "reply queue full");
		return;
	}
	ctl_client_flush(c);
	ctl_client_update(c);
}

/* Dispatch complete lines while the client may have more requests in flight. */
static void
ctl_client_lines(struct ctl_client *c)
{
	const char *line;
	size_t len;

	while (!c->dead && !c->closing) {
		if (c->sess.n_pending >= SP_CTL_MAX_PENDING_REQS) {
			c->throttled = true;
			break;
		}
		int rc = sp_ctl_linebuf_next(&c->lb, &line, &len);

		if (rc == SP_AGAIN) {
			break;
		}
		if (rc == -EMSGSIZE) {
			char msg[96];

			snprintf(msg, sizeof(msg), "request line exceeds %d bytes",
				 SP_CTL_MAX_LINE_BYTES);
			SP_CTL_WARN("control client %u: %s; closing", c->serial, msg);
			sp_ctl_session_error(&c->sess, SP_CTL_E_INVALID_REQUEST, msg);
			c->closing = true;
			break;
		}
		SP_VERIFY(rc == 0);
		(void)sp_ctl_dispatch_line(&c->sess, line, len);
	}
	ctl_client_update(c);
}

static void
ctl_client_discard(struct ctl_client *c)
{
	char scratch[4096];
	ssize_t n = recv(c->ev.fd, scratch, sizeof(scratch), 0);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		return;
	}
	if (n <= 0) {
		ctl_client_kill(c, "closed after error");
		return;
	}
	c->discarded += (size_t)n;
	if (c->discarded > SP_CTL_MAX_DISCARD_BYTES) {
		ctl_client_kill(c, "closed after error; input still coming");
	}
}

static void
ctl_client_read(struct ctl_client *c)
{
	size_t room;
	char *w = sp_ctl_linebuf_wptr(&c->lb, &room);

	SP_VERIFY(room > 0);
	ssize_t n = recv(c->ev.fd, w, room, 0);

	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			ctl_client_kill(c, strerror(errno));
		}
		return;
	}
	if (n == 0) {
		/* Half-close: a last line without a newline still counts. */
		if (sp_ctl_linebuf_pending(&c->lb) > 0) {
			(void)sp_ctl_linebuf_feed(&c->lb, "\n", 1);
		}
		ctl_client_lines(c);
		c->eof = true;
		ctl_client_update(c);
		return;
	}
	sp_ctl_linebuf_commit(&c->lb, (size_t)n);
	ctl_client_lines(c);
}

static void
ctl_client_event(struct sp_ctl_ev *ev, uint32_t events)
{
	struct ctl_client *c = (struct ctl_client *)ev;

	if (c->dead) {
		return;
	}
	if ((events & (EPOLLERR | EPOLLHUP)) != 0) {
		ctl_client_kill(c, "hangup");
		return;
	}
	if ((events & EPOLLOUT) != 0) {
		ctl_client_flush(c);
	}
	if ((events & EPOLLIN) != 0 && !c->dead && (c->events & EPOLLIN) != 0) {
		if (c->closing) {
			ctl_client_discard(c);
		} else {
			ctl_client_read(c);
		}
	}
	ctl_client_update(c);
}

static void
ctl_client_free(struct ctl_client *c)
{
	SP_VERIFY(c->dead && c->ev.fd < 0);
	sp_ctl_session_fini(&c->sess);
	sp_ctl_linebuf_fini(&c->lb);
	sp_ctl_outbuf_fini(&c->ob);
	free(c);
}

static void
ctl_server_refuse(int fd)
{
	char *line;
	size_t len;
	char msg[64];

	snprintf(msg, sizeof(msg), "too many clients (max %d)", SP_CTL_MAX_CLIENTS);
	if (sp_ctl_reply_line(NULL, NULL, SP_CTL_E_BUSY, msg, &line, &len) == 0) {
		ssize_t n = send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		(void)n;
		free(line);
	}
	/* Best effort: drop what the client already sent, so closing does not reset it. */
	(void)shutdown(fd, SHUT_WR);
	for (int i = 0; i < 16 && recv(fd, msg, sizeof(msg), MSG_DONTWAIT) > 0; i++) {
	}
	close(fd);
}

static void
ctl_server_accept_one(struct sp_ctl_server *srv, int fd)
{
	struct ctl_client *c = calloc(1, sizeof(*c));

	if (c == NULL || sp_ctl_linebuf_init(&c->lb, SP_CTL_MAX_LINE_BYTES) != 0) {
		SP_CTL_WARN("control socket: no memory for a client");
		free(c);
		close(fd);
		return;
	}
	c->ev.fd = fd;
	c->ev.fn = ctl_client_event;
	c->srv = srv;
	c->serial = ++srv->next_serial;
	c->events = EPOLLIN;
	sp_ctl_outbuf_init(&c->ob, SP_CTL_MAX_OUTBUF_BYTES);
	sp_ctl_session_init(&c->sess, srv->ctx, ctl_client_out, c);
	if (sp_ctl_loop_add(srv->loop, &c->ev, c->events) != 0) {
		sp_ctl_session_fini(&c->sess);
		sp_ctl_linebuf_fini(&c->lb);
		free(c);
		close(fd);
		return;
	}
	TAILQ_INSERT_TAIL(&srv->clients, c, link);
	srv->n_clients++;
	srv->ctx->n_clients = srv->n_clients;
	SP_CTL_DEBUG("control client %u connected (%u clients)", c->serial, srv->n_clients);
}

static void
ctl_server_accept(struct sp_ctl_ev *ev, uint32_t events)
{
	struct sp_ctl_server *srv = (struct sp_ctl_server *)ev;

	(void)events;
	for (int i = 0; i < SP_CTL_ACCEPT_BURST; i++) {
		int fd = accept4(ev->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED) {
				SP_CTL_WARN("control socket: accept: %s", strerror(errno));
			}
			return;
		}
		if (srv->n_clients >= SP_CTL_MAX_CLIENTS) {
			SP_CTL_WARN("control socket: %u clients already; refusing one",
				    srv->n_clients);
			ctl_server_refuse(fd);
			continue;
		}
		ctl_server_accept_one(srv, fd);
	}
}

int
sp_ctl_server_open(struct sp_ctl_loop *loop, struct sp_ctl_ctx *ctx, const char *path,
		   struct sp_ctl_server **out)
{
	struct sp_ctl_server *srv = calloc(1, sizeof(*srv));
	int rc;

	*out = NULL;
	if (srv == NULL) {
		return -ENOMEM;
	}
	srv->loop = loop;
	srv->ctx = ctx;
	TAILQ_INIT(&srv->clients);
	TAILQ_INIT(&srv->dead);
	srv->path = strdup(path);
	if (srv->path == NULL) {
		free(srv);
		return -ENOMEM;
	}
	rc = sp_ctl_listen_unix(path, 0660);
	if (rc < 0) {
		SP_CTL_ERR("control socket %s: %s", path, sp_strerror(rc));
		goto fail;
	}
	srv->listen_ev.fd = rc;
	srv->listen_ev.fn = ctl_server_accept;
	rc = sp_ctl_loop_add(loop, &srv->listen_ev, EPOLLIN);
	if (rc != 0) {
		close(srv->listen_ev.fd);
		unlink(path);
		goto fail;
	}
	SP_CTL_INFO("control socket listening at %s", path);
	*out = srv;
	return 0;
fail:
	free(srv->path);
	free(srv);
	return rc;
}

void
sp_ctl_server_service(struct sp_ctl_server *srv)
{
	struct ctl_client *c;
	struct ctl_client *tmp;

	/* Resuming one client can complete requests of others, even kill them: restart. */
	for (c = TAILQ_FIRST(&srv->clients); c != NULL; c = tmp) {
		tmp = TAILQ_NEXT(c, link);
		if (c->throttled && c->sess.n_pending < SP_CTL_MAX_PENDING_REQS) {
			c->throttled = false;
			ctl_client_lines(c); /* may kill c or others: they move to srv->dead */
			tmp = TAILQ_FIRST(&srv->clients);
		}
	}
	while ((c = TAILQ_FIRST(&srv->dead)) != NULL) {
		TAILQ_REMOVE(&srv->dead, c, link);
		ctl_client_free(c);
	}
}

void
sp_ctl_server_close(struct sp_ctl_server *srv)
{
	struct ctl_client *c;

	if (srv == NULL) {
		return;
	}
	while ((c = TAILQ_FIRST(&srv->clients)) != NULL) {
		ctl_client_kill(c, "shutdown");
	}
	sp_ctl_server_service(srv);
	sp_ctl_loop_del(srv->loop, &srv->listen_ev);
	close(srv->listen_ev.fd);
	if (unlink(srv->path) != 0 && errno != ENOENT) {
		SP_CTL_WARN("control socket: unlink %s: %s", srv->path, strerror(errno));
	}
	free(srv->path);
	free(srv);
}
