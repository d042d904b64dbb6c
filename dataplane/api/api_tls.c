/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TLS on the API's connections (docs/internals/tls.md, "Wiring"): the connections accepted on
 * tls_port carry a struct sp_tls_conn (dataplane/tls/) between TCP and the unchanged HTTP/1.1
 * parser and HTTP/2 session.
 *
 * Input: TCP's segments are kept as ciphertext (c->tls_in) and fed to the TLS layer only when
 * the parser wants more plaintext (sp_api_conn_pull: c->in holds less than
 * API_TLS_IN_AHEAD); TCP is told the bytes are consumed as they are fed, so a client that sends
 * faster than requests are served fills the receive window and stops. Plaintext is read into
 * mbufs of the worker's pool and appended to c->in; from there on the connection runs as a
 * cleartext one. The peer's FIN reaches the TLS layer only once every ciphertext byte before
 * it has been fed; c->peer_closed then means "no more plaintext" (close_notify, truncation, or
 * a fatal error).
 *
 * Output: sp_api_conn_tx() appends plaintext mbufs to c->tls_pt; the pump gathers up to one
 * record (SP_API_TLS_RECORD) into the worker's stage buffer and encrypts it; OpenSSL's
 * ciphertext goes straight into mbufs (c->tls_ct) through the layer's sink (tls_sink; what
 * it cannot take for want of mbufs waits in the layer and tls_take moves it later), and
 * TCP gets whole mbufs as its send buffer allows.
 * sp_api_conn_tx_space() reports TCP's space less what is queued and the record overhead, so
 * the queues stay within about one send buffer. The pump runs on every tx, on sent() and
 * from the sweep (mbufs that were short come back).
 *
 * Failures: a fatal error's alert (the TLS layer writes one even to plaintext HTTP) is sent,
 * then TCP is closed; output after it is dropped. A close sends close_notify first and FINs
 * once the ciphertext queue is empty.
 *
 * The context: built on the main lcore at boot and on each tls_reload message, published with
 * an atomic store; the one it replaces is dropped after an RCU grace period (the workers'
 * quiescent state is between polls, and they load the pointer only at accept, where
 * sp_tls_conn_new takes its own reference). Ticket keys come from spate-control (tls_keys,
 * after every config and every rotation): the context in force is rekeyed and published the
 * same way, so tickets survive reloads, dataplane restarts and one rotation. Until the first
 * tls_keys arrives the context uses keys drawn at start (tickets it issues then are lost).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include <spate/assert.h>
#include <spate/chan_proto.h>
#include <spate/err.h>
#include <spate/hex.h>

#include "../tcp/tcp.h"
#include "../tls/tls.h"
#include "api_worker.h"

#define RTE_LOGTYPE_SPATE RTE_LOGTYPE_USER1

/* Plaintext decrypted ahead of the parser: beyond this, ciphertext waits (and the window). */
#define API_TLS_IN_AHEAD (64u * 1024u)
/*
 * Bytes a record adds to its plaintext, at most: header 5, then AES-GCM's explicit nonce 8 and
 * tag 16 in TLS 1.2 (TLS 1.3: content type 1 and tag 16).
 */
#define API_TLS_RECORD_OVERHEAD 29u
/* Pump rounds per call (each encrypts one record or moves ciphertext): a bound, not a limit. */
#define API_TLS_PUMP_ROUNDS 64u

/* ---- chains ---- */

/* Drop n bytes from the front of the chain *head whose first segment starts at *off. */
static void
tls_chain_drop(struct rte_mbuf **head, uint32_t *off, uint32_t n)
{
	while (n > 0) {
		struct rte_mbuf *m = *head;
		uint32_t avail;

		SP_VERIFY(m != NULL);
		avail = m->data_len - *off;
		if (n < avail) {
			*off += n;
			return;
		}
		n -= avail;
		*head = m->next;
		if (*head != NULL) {
			(*head)->nb_segs = (uint16_t)(m->nb_segs - 1);
			(*head)->pkt_len = m->pkt_len - m->data_len;
		}
		m->next = NULL;
		m->nb_segs = 1;
		m->pkt_len = m->data_len;
		rte_pktmbuf_free(m);
		*off = 0;
	}
}

/* Append chain to *head (a chain). False when the chain would exceed the segment count. */
static bool
tls_chain_append(struct rte_mbuf **head, struct rte_mbuf *chain)
{
	if (*head == NULL) {
		*head = chain;
		return true;
	}
	return rte_pktmbuf_chain(*head, chain) == 0;
}

static uint32_t
tls_overhead(uint32_t plain)
{
	return (plain / SP_API_TLS_RECORD + 1u) * API_TLS_RECORD_OVERHEAD;
}

/*
 * The TLS layer's sink: ciphertext as OpenSSL writes it, copied into the tail of c->tls_ct
 * (new mbufs from the worker's pool as needed). Returns the bytes taken; fewer when mbufs ran
 * out (the rest waits in the layer; the sweep or sent() resumes).
 */
static size_t
tls_sink(void *arg, const void *buf, size_t len)
{
	struct sp_api_conn *c = arg;
	const uint8_t *p = buf;
	size_t done = 0;

	while (done < len) {
		struct rte_mbuf *m = c->tls_ct_tail;
		uint16_t room = m != NULL ? rte_pktmbuf_tailroom(m) : 0;
		size_t n;

		if (room == 0) {
			m = rte_pktmbuf_alloc(c->api->pool);
			if (m == NULL) {
				c->api->cnt.mbuf_fail++;
				break;
			}
			if (c->tls_ct_tail == NULL) {
				c->tls_ct = m;
			} else {
				c->tls_ct_tail->next = m;
			}
			c->tls_ct_tail = m;
			room = rte_pktmbuf_tailroom(m);
		}
		n = SP_MIN((size_t)room, len - done);
		memcpy(rte_pktmbuf_mtod_offset(m, uint8_t *, m->data_len), p + done, n);
		m->data_len = (uint16_t)(m->data_len + n);
		m->pkt_len = m->data_len;
		c->tls_ct_len += (uint32_t)n;
		done += n;
	}
	return done;
}

/* ---- accept and release ---- */

bool
sp_api_tls_accept(struct sp_api_conn *c)
{
	struct sp_api *api = c->api;
	struct sp_tls_ctx *ctx = __atomic_load_n(&api->g->tls_ctx, __ATOMIC_ACQUIRE);

	SP_VERIFY(c->tls == NULL && c->tls_in == NULL && c->tls_pt == NULL && c->tls_ct == NULL);
	c->tls_in_off = 0;
	c->tls_pt_off = 0;
	c->tls_pt_len = 0;
	c->tls_ct_tail = NULL;
	c->tls_ct_len = 0;
	c->tls_alpn = SP_TLS_ALPN_PENDING;
	c->tls_up = false;
	c->tls_fin = false;
	c->tls_eof = false;
	c->tls_failed = false;
	c->tls_close = false;
	c->tls_fin_sent = false;
	if (ctx == NULL) {
		return false;
	}
	c->tls = sp_tls_conn_new(ctx); /* takes its own reference: reloads cannot pull it away */
	if (c->tls == NULL) {
		return false;
	}
	sp_tls_conn_set_sink(c->tls, tls_sink, c);
	return true;
}

void
sp_api_tls_release(struct sp_api_conn *c)
{
	struct rte_mbuf *m = c->tls_ct;

	if (c->tls != NULL && !c->tls_up && !c->tls_failed) {
		c->api->cnt.tls_hs_failed++; /* gone before the handshake finished */
	}
	sp_tls_conn_free(c->tls);
	c->tls = NULL;
	rte_pktmbuf_free(c->tls_in);
	rte_pktmbuf_free(c->tls_pt);
	while (m != NULL) {
		struct rte_mbuf *next = m->next;

		m->next = NULL;
		rte_pktmbuf_free(m);
		m = next;
	}
	c->tls_in = NULL;
	c->tls_pt = NULL;
	c->tls_ct = NULL;
	c->tls_ct_tail = NULL;
	c->tls_pt_len = 0;
	c->tls_ct_len = 0;
}

/* ---- output ---- */

/* Move the TLS layer's output into ciphertext mbufs. False when mbufs ran out before it did. */
static bool
tls_take(struct sp_api_conn *c)
{
	struct sp_api *api = c->api;

	while (sp_tls_conn_pending(c->tls) > 0) {
		struct rte_mbuf *m = c->tls_ct_tail;
		uint16_t room = m != NULL ? rte_pktmbuf_tailroom(m) : 0;
		size_t n;

		if (room == 0) {
			m = rte_pktmbuf_alloc(api->pool);
			if (m == NULL) {
				api->cnt.mbuf_fail++;
				return false; /* the sweep or sent() resumes */
			}
			if (c->tls_ct_tail == NULL) {
				c->tls_ct = m;
			} else {
				c->tls_ct_tail->next = m;
			}
			c->tls_ct_tail = m;
			room = rte_pktmbuf_tailroom(m);
		}
		n = sp_tls_conn_take(c->tls, rte_pktmbuf_mtod_offset(m, uint8_t *, m->data_len),
				     room);
		SP_VERIFY(n > 0 && n <= room);
		m->data_len = (uint16_t)(m->data_len + n);
		m->pkt_len = m->data_len;
		c->tls_ct_len += (uint32_t)n;
	}
	return true;
}

/* Hand TCP as many whole ciphertext mbufs as its send buffer takes. */
static void
tls_send(struct sp_api_conn *c)
{
	struct sp_api *api = c->api;

	while (c->tls_ct != NULL && c->tcb != NULL && !c->tls_fin_sent) {
		uint32_t space = sp_tcp_send_space(api->tcp, c->tcb);
		struct rte_mbuf *head = c->tls_ct, *last = NULL, *m = head;
		uint32_t len = 0;
		uint16_t segs = 0;

		while (m != NULL && len + m->data_len <= space && segs < UINT16_MAX) {
			len += m->data_len;
			segs++;
			last = m;
			m = m->next;
		}
		if (last == NULL) {
			return; /* resumes from sent() */
		}
		last->next = NULL;
		head->nb_segs = segs;
		head->pkt_len = len;
		if (sp_tcp_send(api->tcp, c->tcb, head) != 0) {
			/* within the space it reported: only a closing connection refuses */
			last->next = m;
			head->nb_segs = 1;
			head->pkt_len = head->data_len;
			c->tls_failed = true;
			return;
		}
		c->tls_ct = m;
		if (m == NULL) {
			c->tls_ct_tail = NULL;
		}
		c->tls_ct_len -= len;
	}
}

/* Copy up to one record of pending plaintext into the stage buffer; returns its length. */
static uint32_t
tls_stage(struct sp_api_conn *c)
{
	uint8_t *stage = c->api->tls_stage;
	struct rte_mbuf *m = c->tls_pt;
	uint32_t off = c->tls_pt_off, n = 0;

	while (m != NULL && n < SP_API_TLS_RECORD) {
		uint32_t k = SP_MIN((uint32_t)m->data_len - off, SP_API_TLS_RECORD - n);

		memcpy(stage + n, rte_pktmbuf_mtod_offset(m, const uint8_t *, off), k);
		n += k;
		off = 0;
		m = m->next;
	}
	return n;
}

/* Encrypt pending plaintext while the layer and the mbufs allow. */
static void
tls_encrypt(struct sp_api_conn *c)
{
	for (unsigned round = 0; round < API_TLS_PUMP_ROUNDS && c->tls_pt_len > 0; round++) {
		size_t before;
		uint32_t n;
		ssize_t w;

		if (!tls_take(c)) {
			return;
		}
		n = tls_stage(c);
		SP_VERIFY(n > 0 && n <= c->tls_pt_len);
		/* a retry after SP_AGAIN passes the same bytes again, and maybe more (allowed) */
		w = sp_tls_conn_write(c->tls, c->api->tls_stage, n);
		if (w > 0) {
			tls_chain_drop(&c->tls_pt, &c->tls_pt_off, (uint32_t)w);
			c->tls_pt_len -= (uint32_t)w;
			continue;
		}
		if (w == SP_AGAIN) {
			before = sp_tls_conn_pending(c->tls);
			if (before == 0 || !tls_take(c)) {
				return; /* handshake not done, or no mbufs: resumed later */
			}
			continue;
		}
		/* -EPROTO, -EPIPE: nothing more can be sent; what is queued is dropped */
		rte_pktmbuf_free(c->tls_pt);
		c->tls_pt = NULL;
		c->tls_pt_off = 0;
		c->tls_pt_len = 0;
		c->tls_failed = true;
		c->tls_close = true; /* FIN: the peer's close brings closed() */
	}
}

void
sp_api_tls_pump(struct sp_api_conn *c)
{
	if (c->tls == NULL || c->tcb == NULL) {
		return;
	}
	if (!c->tls_failed) {
		tls_encrypt(c);
	}
	if (c->tls_close && c->tls_up && !c->tls_failed && c->tls_pt_len == 0 &&
	    sp_tls_conn_state(c->tls) != SP_TLS_CLOSING && tls_take(c)) {
		int rc = sp_tls_conn_shutdown(c->tls); /* SP_AGAIN: the next pump retries */

		c->tls_failed = rc == -EPROTO;
	}
	(void)tls_take(c); /* handshake flights, tickets, alerts, close_notify */
	tls_send(c);
	if (c->tls_close && !c->tls_fin_sent && c->tls_ct == NULL && c->tcb != NULL &&
	    (c->tls_pt_len == 0 || c->tls_failed) && sp_tls_conn_pending(c->tls) == 0) {
		c->tls_fin_sent = true;
		(void)sp_tcp_close(c->api->tcp, c->tcb);
	}
}

void
sp_api_tls_tx(struct sp_api_conn *c, struct rte_mbuf *chain)
{
	uint32_t len = chain->pkt_len;

	if (c->tls_failed || c->tls_close || !tls_chain_append(&c->tls_pt, chain)) {
		/* the connection is ending (or the chain is absurdly long): drop */
		rte_pktmbuf_free(chain);
		return;
	}
	if (c->tls_pt == chain) {
		c->tls_pt_off = 0;
	}
	c->tls_pt_len += len;
	sp_api_tls_pump(c);
}

uint32_t
sp_api_tls_tx_space(struct sp_api_conn *c)
{
	uint32_t space = sp_tcp_send_space(c->api->tcp, c->tcb);
	uint64_t queued = (uint64_t)c->tls_ct_len + sp_tls_conn_pending(c->tls) + c->tls_pt_len +
			  (c->tls_pt_len > 0 ? tls_overhead(c->tls_pt_len) : 0);
	uint32_t avail;

	if (c->tls_failed || c->tls_close || queued >= space) {
		return 0;
	}
	avail = space - (uint32_t)queued;
	return avail > tls_overhead(avail) ? avail - tls_overhead(avail) : 0;
}

void
sp_api_tls_close(struct sp_api_conn *c)
{
	c->tls_close = true; /* the pump queues close_notify after the plaintext, then FINs */
	sp_api_tls_pump(c);
}

/* ---- input ---- */

bool
sp_api_tls_recv(struct sp_api_conn *c, struct rte_mbuf *chain)
{
	if (c->tls_failed || c->tls_eof) {
		/* after the end nothing more is read: drop it and keep the window open */
		uint32_t len = chain->pkt_len;

		rte_pktmbuf_free(chain);
		sp_tcp_recved(c->api->tcp, c->tcb, len);
		return true;
	}
	if (!tls_chain_append(&c->tls_in, chain)) {
		/* more segments than a chain holds: abuse (as on the cleartext port) */
		rte_pktmbuf_free(chain);
		sp_tcp_abort(c->api->tcp, c->tcb);
		return false;
	}
	if (c->tls_in == chain) {
		c->tls_in_off = 0;
	}
	return true;
}

/* Feed received ciphertext while the layer takes it; TCP hears the bytes are consumed. */
static uint32_t
tls_feed(struct sp_api_conn *c)
{
	uint32_t fed = 0;

	while (c->tls_in != NULL) {
		const uint8_t *p =
		    rte_pktmbuf_mtod_offset(c->tls_in, const uint8_t *, c->tls_in_off);
		uint32_t avail = c->tls_in->data_len - c->tls_in_off;
		ssize_t took = sp_tls_conn_feed(c->tls, p, avail);

		if (took <= 0) {
			break; /* the layer's input ring is full (or it ended) */
		}
		tls_chain_drop(&c->tls_in, &c->tls_in_off, (uint32_t)took);
		fed += (uint32_t)took;
	}
	if (fed > 0 && c->tcb != NULL) {
		sp_tcp_recved(c->api->tcp, c->tcb, fed);
	}
	if (c->tls_in == NULL && c->tls_fin && !c->tls_eof) {
		c->tls_eof = true;
		sp_tls_conn_eof(c->tls);
	}
	return fed;
}

static void
tls_handshake_done(struct sp_api_conn *c)
{
	struct sp_api *api = c->api;

	c->tls_up = true;
	c->tls_alpn = (uint8_t)sp_tls_conn_alpn(c->tls);
	api->cnt.tls_handshakes++;
	if (sp_tls_conn_version(c->tls) == 0x0304) {
		api->cnt.tls_v13++;
	} else {
		api->cnt.tls_v12++;
	}
	if (c->tls_alpn == SP_TLS_ALPN_H2) {
		api->cnt.tls_alpn_h2++;
	} else {
		api->cnt.tls_alpn_http11++;
	}
	api->cnt.tls_resumed += sp_tls_conn_resumed(c->tls);
	c->deadline_ms = sp_api_now_ms(api) + api->g->conf.idle_timeout_ms;
}

/* The input ended (close_notify, truncation, a fatal error): no more plaintext. */
static void
tls_input_end(struct sp_api_conn *c, ssize_t r)
{
	struct sp_api *api = c->api;

	if (r == -EPROTO) {
		c->tls_failed = true;
		if (!c->tls_up) {
			api->cnt.tls_hs_failed++;
		}
		api->cnt.tls_alerts_sent += sp_tls_conn_alert_sent(c->tls) >= 0;
	} else if (r == 0) {
		api->cnt.tls_close_notify++;
	} else if (c->tls_up) {
		api->cnt.tls_truncated++;
	} else {
		api->cnt.tls_hs_failed++;
		c->tls_failed = true; /* counted: not again at release */
	}
	rte_pktmbuf_free(c->tls_in);
	c->tls_in = NULL;
	c->peer_closed = true;
}

/* A fresh mbuf of plaintext appended to c->in; the layer's result (bytes, SP_AGAIN, end). */
static ssize_t
tls_read_one(struct sp_api_conn *c)
{
	struct sp_api *api = c->api;
	struct rte_mbuf *m = rte_pktmbuf_alloc(api->pool);
	ssize_t n;

	if (m == NULL) {
		api->cnt.mbuf_fail++;
		return -ENOBUFS;
	}
	n = sp_tls_conn_read(c->tls, rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_tailroom(m));
	if (n <= 0) {
		rte_pktmbuf_free(m);
		return n;
	}
	m->data_len = (uint16_t)n;
	m->pkt_len = (uint32_t)n;
	if (c->in == NULL) {
		c->in = m;
		c->in_off = 0;
	} else if (rte_pktmbuf_chain(c->in, m) != 0) {
		rte_pktmbuf_free(m); /* unreachable within API_TLS_IN_AHEAD; counted as a failure */
		return -EPROTO;
	}
	return n;
}

bool
sp_api_tls_pull(struct sp_api_conn *c)
{
	unsigned rounds = 0;

	SP_VERIFY(c->tls != NULL);
	while (!c->peer_closed && c->tcb != NULL &&
	       (c->in == NULL || c->in->pkt_len - c->in_off < API_TLS_IN_AHEAD)) {
		uint32_t fed = tls_feed(c);
		ssize_t r = tls_read_one(c);

		SP_VERIFY(++rounds < 1u << 20); /* each round feeds or reads something */
		if (!c->tls_up && sp_tls_conn_state(c->tls) != SP_TLS_HANDSHAKE &&
		    sp_tls_conn_state(c->tls) != SP_TLS_FAILED) {
			tls_handshake_done(c);
		}
		if (r > 0 || (r == SP_AGAIN && fed > 0)) {
			continue;
		}
		if (r == SP_AGAIN || r == -ENOBUFS) {
			break; /* more ciphertext needed, or mbufs (the sweep comes back) */
		}
		tls_input_end(c, r);
	}
	sp_api_tls_pump(c); /* handshake answers, tickets, an alert */
	return c->in != NULL;
}

/* ---- status ---- */

json_t *
sp_api_tls_status_json(const struct sp_api_global *g)
{
	struct sp_api_counters t = {0};

	for (unsigned w = 0; w < g->nb_workers; w++) {
		const struct sp_api *api = g->workers[w];

		if (api == NULL) {
			continue;
		}
		t.tls_accepted += api->cnt.tls_accepted;
		t.tls_refused += api->cnt.tls_refused;
		t.tls_handshakes += api->cnt.tls_handshakes;
		t.tls_hs_failed += api->cnt.tls_hs_failed;
		t.tls_v12 += api->cnt.tls_v12;
		t.tls_v13 += api->cnt.tls_v13;
		t.tls_alpn_h2 += api->cnt.tls_alpn_h2;
		t.tls_alpn_http11 += api->cnt.tls_alpn_http11;
		t.tls_resumed += api->cnt.tls_resumed;
		t.tls_alerts_sent += api->cnt.tls_alerts_sent;
		t.tls_proto_refused += api->cnt.tls_proto_refused;
		t.tls_truncated += api->cnt.tls_truncated;
		t.tls_close_notify += api->cnt.tls_close_notify;
	}
	return json_pack(
	    "{s:b, s:i, s:s, s:I, s:I, s:I, s:s, s:I, s:I, s:I, s:I, "
	    "s:{s:I, s:I}, s:{s:I, s:I}, s:I, s:I, s:I, s:I, s:I, s:{s:s, s:b, s:I, s:I, s:I}}",
	    "enabled", g->tls_ctx != NULL, "port", (int)g->conf.tls_port, "cert", g->tls_cert,
	    "generation", (json_int_t)g->tls_generation, "reloads", (json_int_t)g->tls_reloads,
	    "reload_failed", (json_int_t)g->tls_reload_failed, "last_error", g->tls_last_error,
	    "accepted", (json_int_t)t.tls_accepted, "refused", (json_int_t)t.tls_refused,
	    "handshakes", (json_int_t)t.tls_handshakes, "handshakes_failed",
	    (json_int_t)t.tls_hs_failed, "version", "tls1_2", (json_int_t)t.tls_v12, "tls1_3",
	    (json_int_t)t.tls_v13, "alpn", "h2", (json_int_t)t.tls_alpn_h2, "http/1.1",
	    (json_int_t)t.tls_alpn_http11, "resumed", (json_int_t)t.tls_resumed, "alerts_sent",
	    (json_int_t)t.tls_alerts_sent, "protocol_refused", (json_int_t)t.tls_proto_refused,
	    "truncated", (json_int_t)t.tls_truncated, "close_notify",
	    (json_int_t)t.tls_close_notify, "tickets", "keys",
	    g->tls_ticket_from_ctl ? "control" : "local", "previous_key",
	    (int)g->tls_ticket_has_prev, "lifetime_s",
	    (json_int_t)(g->tls_ticket_lifetime_s != 0 ? g->tls_ticket_lifetime_s
						       : SP_TLS_TICKET_LIFETIME_S),
	    "updates", (json_int_t)g->tls_ticket_updates, "refused", (json_int_t)g->tls_ticket_bad);
}

/* ---- the context (main lcore) ---- */

/* Build a context from cert/key; 0 or a negative errno with the reason in g->tls_last_error. */
static int
tls_build(struct sp_api_global *g, const char *cert, const char *key, struct sp_tls_ctx **out)
{
	struct sp_tls_ticket_keys tk = {
	    .current = g->tls_ticket_key,
	    .previous = g->tls_ticket_has_prev ? g->tls_ticket_prev : NULL,
	    .lifetime_s = g->tls_ticket_lifetime_s,
	};
	struct sp_tls_ctx_params p = {
	    .chain_path = cert,
	    .key_path = key,
	    .tickets = &tk,
	    .flags = 0, /* h2 offered: api_h2.c serves it */
	};
	char err[SP_TLS_ERR_MAX];
	int rc = sp_tls_ctx_new(&p, out, err, sizeof(err));

	if (rc != 0) {
		snprintf(g->tls_last_error, sizeof(g->tls_last_error), "%s", err);
		RTE_LOG(ERR, SPATE, "api: TLS context from %s, %s: %s\n", cert, key, err);
	}
	return rc;
}

/* Make ctx the one new connections get; the old one goes after a grace period. */
static void
tls_publish(struct sp_api_global *g, struct sp_tls_ctx *ctx)
{
	struct sp_tls_ctx *old = __atomic_exchange_n(&g->tls_ctx, ctx, __ATOMIC_ACQ_REL);

	g->tls_generation++;
	if (old == NULL) {
		return;
	}
	while (g->ntls_retired == SP_API_TLS_RETIRE_MAX) {
		sp_api_tls_reclaim(g); /* reloads faster than grace periods: wait for one */
	}
	g->tls_retired[g->ntls_retired].ctx = old;
	g->tls_retired[g->ntls_retired].token = rte_rcu_qsbr_start(g->qsbr);
	g->ntls_retired++;
}

void
sp_api_tls_reclaim(struct sp_api_global *g)
{
	uint32_t keep = 0;

	for (uint32_t i = 0; i < g->ntls_retired; i++) {
		if (rte_rcu_qsbr_check(g->qsbr, g->tls_retired[i].token, false) != 1) {
			g->tls_retired[keep++] = g->tls_retired[i];
			continue;
		}
		sp_tls_ctx_put(g->tls_retired[i].ctx); /* connections on it hold their own */
	}
	g->ntls_retired = keep;
}

int
sp_api_tls_global_init(struct sp_api_global *g)
{
	const struct sp_api_conf *conf = &g->conf;
	struct sp_tls_ctx *ctx;
	int rc;

	snprintf(g->tls_cert, sizeof(g->tls_cert), "%s",
		 conf->tls_cert != NULL ? conf->tls_cert : "");
	snprintf(g->tls_key, sizeof(g->tls_key), "%s", conf->tls_key != NULL ? conf->tls_key : "");
	g->conf.tls_cert = g->tls_cert;
	g->conf.tls_key = g->tls_key;
	if (conf->tls_port == 0 || g->tls_cert[0] == '\0' || g->tls_key[0] == '\0') {
		g->conf.tls_port = 0;
		RTE_LOG(INFO, SPATE, "api: TLS off (tls_port, tls_cert and tls_key turn it on)\n");
		return 0;
	}
	if (RAND_bytes(g->tls_ticket_key, sizeof(g->tls_ticket_key)) != 1) {
		return -EIO;
	}
	rc = tls_build(g, g->tls_cert, g->tls_key, &ctx);
	if (rc != 0) {
		return rc;
	}
	tls_publish(g, ctx);
	RTE_LOG(INFO, SPATE, "api: TLS on port %u, certificate %s\n", (unsigned)conf->tls_port,
		g->tls_cert);
	return 0;
}

void
sp_api_tls_global_fini(struct sp_api_global *g)
{
	for (uint32_t i = 0; i < g->ntls_retired; i++) {
		sp_tls_ctx_put(g->tls_retired[i].ctx);
	}
	g->ntls_retired = 0;
	sp_tls_ctx_put(g->tls_ctx);
	g->tls_ctx = NULL;
	OPENSSL_cleanse(g->tls_ticket_key, sizeof(g->tls_ticket_key));
	OPENSSL_cleanse(g->tls_ticket_prev, sizeof(g->tls_ticket_prev));
}

void
sp_api_on_tls_reload(struct sp_api_global *g, const json_t *msg)
{
	const char *cert = json_string_value(json_object_get(msg, "cert"));
	const char *key = json_string_value(json_object_get(msg, "key"));
	struct sp_tls_ctx *ctx;

	if (g->conf.tls_port == 0) {
		g->tls_reload_failed++;
		snprintf(g->tls_last_error, sizeof(g->tls_last_error), "%s", "TLS is off");
		return;
	}
	cert = cert != NULL && cert[0] != '\0' ? cert : g->tls_cert;
	key = key != NULL && key[0] != '\0' ? key : g->tls_key;
	if (strlen(cert) >= sizeof(g->tls_cert) || strlen(key) >= sizeof(g->tls_key)) {
		g->tls_reload_failed++;
		snprintf(g->tls_last_error, sizeof(g->tls_last_error), "%s", "path too long");
		return;
	}
	if (tls_build(g, cert, key, &ctx) != 0) {
		g->tls_reload_failed++;
		return; /* the context in force stays */
	}
	if (cert != g->tls_cert) {
		snprintf(g->tls_cert, sizeof(g->tls_cert), "%s", cert);
	}
	if (key != g->tls_key) {
		snprintf(g->tls_key, sizeof(g->tls_key), "%s", key);
	}
	tls_publish(g, ctx);
	g->tls_reloads++;
	g->tls_last_error[0] = '\0';
	RTE_LOG(INFO, SPATE, "api: TLS context %llu from %s\n",
		(unsigned long long)g->tls_generation, g->tls_cert);
}

/* One key of a tls_keys message: exactly 2 * SP_TLS_TICKET_KEY_LEN hex digits. */
static bool
tls_key_hex(const json_t *v, uint8_t *out)
{
	return json_is_string(v) && json_string_length(v) == 2u * SP_TLS_TICKET_KEY_LEN &&
	       sp_hex_decode(json_string_value(v), out, SP_TLS_TICKET_KEY_LEN) == 0;
}

void
sp_api_on_tls_keys(struct sp_api_global *g, const json_t *msg)
{
	const json_t *prev = json_object_get(msg, "previous");
	const json_t *period = json_object_get(msg, "rotate_s");
	uint8_t cur_b[SP_TLS_TICKET_KEY_LEN], prev_b[SP_TLS_TICKET_KEY_LEN];
	struct sp_tls_ctx *ctx;
	char err[SP_TLS_ERR_MAX];
	int rc;

	SP_STATIC_ASSERT(SP_CHAN_TLS_TICKET_KEY_LEN == SP_TLS_TICKET_KEY_LEN, "ticket key length");
	if (!tls_key_hex(json_object_get(msg, "current"), cur_b) ||
	    (prev != NULL && !tls_key_hex(prev, prev_b)) || !json_is_integer(period) ||
	    json_integer_value(period) < 1 ||
	    json_integer_value(period) > (json_int_t)SP_TLS_TICKET_LIFETIME_MAX_S ||
	    (prev != NULL && memcmp(cur_b, prev_b, 16) == 0)) {
		g->tls_ticket_bad++;
		RTE_LOG(ERR, SPATE, "api: tls_keys message refused (malformed)\n");
		goto out;
	}
	if (g->tls_ticket_from_ctl && memcmp(cur_b, g->tls_ticket_key, sizeof(cur_b)) == 0 &&
	    (prev != NULL) == g->tls_ticket_has_prev &&
	    (prev == NULL || memcmp(prev_b, g->tls_ticket_prev, sizeof(prev_b)) == 0) &&
	    g->tls_ticket_lifetime_s == (uint32_t)json_integer_value(period)) {
		goto out; /* the same keys again (a new hello): nothing to do */
	}
	memcpy(g->tls_ticket_key, cur_b, sizeof(cur_b));
	if (prev != NULL) {
		memcpy(g->tls_ticket_prev, prev_b, sizeof(prev_b));
	} else {
		OPENSSL_cleanse(g->tls_ticket_prev, sizeof(g->tls_ticket_prev));
	}
	g->tls_ticket_has_prev = prev != NULL;
	g->tls_ticket_lifetime_s = (uint32_t)json_integer_value(period);
	g->tls_ticket_from_ctl = true;
	g->tls_ticket_updates++;
	if (g->conf.tls_port == 0 || g->tls_ctx == NULL) {
		goto out; /* TLS off: kept for nothing, harmless */
	}
	{
		struct sp_tls_ticket_keys tk = {
		    .current = g->tls_ticket_key,
		    .previous = g->tls_ticket_has_prev ? g->tls_ticket_prev : NULL,
		    .lifetime_s = g->tls_ticket_lifetime_s,
		};

		/* the main lcore is the only publisher: g->tls_ctx cannot change under us */
		rc = sp_tls_ctx_rekey(g->tls_ctx, &tk, &ctx, err, sizeof(err));
	}
	if (rc != 0) {
		g->tls_ticket_bad++;
		snprintf(g->tls_last_error, sizeof(g->tls_last_error), "%s", err);
		RTE_LOG(ERR, SPATE, "api: TLS ticket keys refused: %s\n", err);
		goto out;
	}
	tls_publish(g, ctx);
	RTE_LOG(INFO, SPATE, "api: TLS context %llu with control's ticket keys (%s previous)\n",
		(unsigned long long)g->tls_generation, g->tls_ticket_has_prev ? "a" : "no");
out:
	OPENSSL_cleanse(cur_b, sizeof(cur_b));
	OPENSSL_cleanse(prev_b, sizeof(prev_b));
}
