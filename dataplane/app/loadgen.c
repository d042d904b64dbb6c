/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The load generator (loadgen.h): fixed connection slots driven by the TCP callbacks; the
 * worker's poll only opens slots that are due. Runs on the worker that owns the connections.
 */
#include <errno.h>
#include <string.h>

#include <rte_malloc.h>
#include <rte_mbuf.h>

#include <spate/assert.h>

#include "../tcp/tcp.h"
#include "../tcp/tcp_internal.h"
#include "loadgen_internal.h"

int
sp_loadgen_mode_parse(const char *s, enum sp_loadgen_mode *mode)
{
	static const char *const names[] = {"crr", "rr", "bulk", "put"};

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*mode = (enum sp_loadgen_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Send one request of msg bytes. False if the pool is dry (the slot is reset). */
static bool
lg_request(struct lg_slot *s)
{
	struct sp_loadgen *lg = s->lg;
	struct rte_mbuf *m = rte_pktmbuf_alloc(lg->pool);

	if (m == NULL) {
		sp_tcp_abort(lg->tcp, s->tcb); /* counted by lg_closed */
		return false;
	}
	memcpy(rte_pktmbuf_append(m, (uint16_t)lg->conf.msg), lg->pattern, lg->conf.msg);
	/* a fresh connection's send buffer always has room for one small request */
	SP_VERIFY(sp_tcp_send(lg->tcp, s->tcb, m) == 0);
	s->want = lg->conf.msg;
	return true;
}

/* bulk: fill the send buffer with whole mbufs of the pattern. */
static void
lg_fill(struct lg_slot *s)
{
	struct sp_loadgen *lg = s->lg;
	uint32_t room = rte_pktmbuf_data_room_size(lg->pool) - RTE_PKTMBUF_HEADROOM;

	room = SP_MIN(room, (uint32_t)sizeof(lg->pattern));
	while (s->tcb != NULL && sp_tcp_send_space(lg->tcp, s->tcb) >= room) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(lg->pool);

		if (m == NULL) {
			if (sp_tcp_send_space(lg->tcp, s->tcb) == lg->tcp->conf.snd_buf) {
				/* nothing queued: no sent() will come back to refill */
				sp_tcp_abort(lg->tcp, s->tcb);
			}
			return; /* else resumes on the next sent() */
		}
		memcpy(rte_pktmbuf_append(m, (uint16_t)room), lg->pattern, room);
		SP_VERIFY(sp_tcp_send(lg->tcp, s->tcb, m) == 0);
	}
}

static void
lg_connected(void *app, struct sp_tcb *tcb)
{
	struct lg_slot *s = app;

	SP_VERIFY(s->tcb == tcb && s->state == LG_CONNECTING);
	s->state = LG_ACTIVE;
	lg_lc(s->lg)->cnt.lg_connects++;
	if (s->lg->conf.mode == SP_LOADGEN_BULK) {
		lg_fill(s);
	} else if (s->lg->conf.mode == SP_LOADGEN_PUT) {
		(void)sp_lg_put_request(s);
	} else {
		(void)lg_request(s);
	}
}

static void
lg_recv(void *app, struct sp_tcb *tcb, struct rte_mbuf *chain, uint32_t len)
{
	struct lg_slot *s = app;
	struct sp_loadgen *lg = s->lg;

	if (lg->conf.mode == SP_LOADGEN_PUT && s->state == LG_ACTIVE) {
		sp_tcp_recved(lg->tcp, tcb, len);
		sp_lg_put_recv(s, chain); /* frees chain */
		return;
	}
	rte_pktmbuf_free(chain);
	sp_tcp_recved(lg->tcp, tcb, len);
	if (lg->conf.mode == SP_LOADGEN_BULK || s->state != LG_ACTIVE) {
		return; /* a sink says nothing; anything else is ignored */
	}
	lg_lc(lg)->cnt.lg_bytes_in += len;
	if (len < s->want) {
		s->want -= len;
		return;
	}
	/* an echo never answers more than it was sent: len > want is its bug, not ours */
	lg_lc(lg)->cnt.lg_transactions++;
	s->want = 0;
	if (lg->conf.mode == SP_LOADGEN_CRR) {
		s->done = true;
		sp_tcp_abort(lg->tcp, tcb); /* closed() makes the slot due at once */
	} else {
		(void)lg_request(s);
	}
}

static void
lg_sent(void *app, struct sp_tcb *tcb, uint32_t acked)
{
	struct lg_slot *s = app;

	(void)tcb;
	lg_lc(s->lg)->cnt.lg_bytes_out += acked;
	if (s->lg->conf.mode == SP_LOADGEN_BULK && s->state == LG_ACTIVE) {
		lg_fill(s);
	}
}

static void
lg_peer_closed(void *app, struct sp_tcb *tcb)
{
	struct lg_slot *s = app;

	sp_tcp_abort(s->lg->tcp, tcb); /* the services never close first: lg_closed counts it */
}

static void
lg_closed(void *app, struct sp_tcb *tcb, int reason)
{
	struct lg_slot *s = app;
	struct sp_loadgen *lg = s->lg;
	uint64_t now = lg->tcp->now_ms;

	SP_VERIFY(s->tcb == tcb && s->state != LG_IDLE);
	if (lg->stopping) {
		(void)reason; /* shutdown resets every connection: not the peer's doing */
	} else if (s->state == LG_CONNECTING) {
		lg_lc(lg)->cnt.lg_connect_fails++;
		s->retry_ms = now + SP_LOADGEN_RETRY_MS;
	} else {
		/* crr resets its own connections once answered; anything else ended early */
		if (!s->done) {
			lg_lc(lg)->cnt.lg_errors++;
		}
		s->retry_ms = now;
	}
	s->done = false;
	s->tcb = NULL;
	s->due = false;
	s->state = LG_IDLE;
	lg->idle++;
}

static const struct sp_tcp_ops lg_ops = {
    .recv = lg_recv,
    .sent = lg_sent,
    .peer_closed = lg_peer_closed,
    .closed = lg_closed,
    .connected = lg_connected,
};

unsigned
sp_loadgen_poll(void *arg)
{
	struct sp_loadgen *lg = arg;
	uint64_t now = lg->tcp->now_ms;
	unsigned opens = 0;

	/* put with a gap: requests that waited their turn */
	for (uint32_t i = 0; lg->conf.gap_ms != 0 && i < lg->conf.conns; i++) {
		struct lg_slot *s = &lg->slots[i];

		if (s->state == LG_ACTIVE && s->due && s->next_ms <= now) {
			s->due = false;
			(void)sp_lg_put_request(s);
			opens++;
		}
	}
	for (uint32_t n = 0;
	     lg->idle > 0 && n < lg->conf.conns && opens < SP_LOADGEN_OPENS_PER_POLL; n++) {
		struct lg_slot *s = &lg->slots[lg->next];
		int rc;

		lg->next = lg->next + 1 == lg->conf.conns ? 0 : lg->next + 1;
		if (s->state != LG_IDLE || s->retry_ms > now) {
			continue;
		}
		opens++;
		rc = sp_tcp_connect(lg->tcp, lg->conf.ifidx, lg->conf.target, lg->conf.port,
				    &lg_ops, s, &s->tcb);
		if (rc != 0) {
			/* no TCB or source port free now (TIME-WAIT of others): later */
			lg_lc(lg)->cnt.lg_connect_fails++;
			s->tcb = NULL;
			s->retry_ms = now + SP_LOADGEN_RETRY_MS;
			continue;
		}
		s->state = LG_CONNECTING;
		lg->idle--;
	}
	return opens;
}

int
sp_loadgen_create(struct sp_loadgen **out, struct sp_tcp *tcp, struct rte_mempool *pool,
		  const struct sp_loadgen_conf *conf, int socket)
{
	struct sp_loadgen *lg;

	if (conf->conns == 0 || conf->port == 0 ||
	    (conf->mode != SP_LOADGEN_BULK && (conf->msg == 0 || conf->msg > SP_LOADGEN_MSG_MAX)) ||
	    (conf->mode == SP_LOADGEN_PUT && sp_lg_put_check(conf) != 0)) {
		return -EINVAL;
	}
	lg = rte_zmalloc_socket("sp_loadgen", sizeof(*lg), 64, socket);
	if (lg == NULL) {
		return -ENOMEM;
	}
	lg->slots =
	    rte_zmalloc_socket("sp_loadgen_s", sizeof(*lg->slots) * conf->conns, 64, socket);
	if (lg->slots == NULL) {
		rte_free(lg);
		return -ENOMEM;
	}
	if (conf->mode == SP_LOADGEN_PUT) {
		lg->body = rte_malloc_socket("sp_loadgen_b", SP_LOADGEN_BODY_MAX, 64, socket);
		lg->resps = rte_malloc_socket(
		    "sp_loadgen_r", (size_t)SP_LOADGEN_RESP_MAX * conf->conns, 64, socket);
		if (lg->body == NULL || lg->resps == NULL) {
			sp_loadgen_destroy(lg);
			return -ENOMEM;
		}
	}
	lg->tcp = tcp;
	lg->pool = pool;
	lg->conf = *conf;
	for (uint32_t i = 0; i < conf->conns; i++) {
		lg->slots[i] = (struct lg_slot){.lg = lg, .state = LG_IDLE};
		if (lg->resps != NULL) {
			lg->slots[i].resp = lg->resps + (size_t)SP_LOADGEN_RESP_MAX * i;
		}
	}
	lg->idle = conf->conns;
	for (unsigned k = 0; k < sizeof(lg->pattern); k++) {
		lg->pattern[k] = (uint8_t)('a' + k % 26);
	}
	*out = lg;
	return 0;
}

void
sp_loadgen_stop(struct sp_loadgen *lg)
{
	if (lg != NULL) {
		lg->stopping = true;
	}
}

void
sp_loadgen_destroy(struct sp_loadgen *lg)
{
	if (lg == NULL) {
		return;
	}
	/* the stack went first (sp_tcp_destroy reported every connection closed) */
	for (uint32_t i = 0; lg->slots != NULL && i < lg->conf.conns; i++) {
		SP_VERIFY(lg->slots[i].tcb == NULL);
	}
	rte_free(lg->body);
	rte_free(lg->resps);
	rte_free(lg->slots);
	rte_free(lg);
}
