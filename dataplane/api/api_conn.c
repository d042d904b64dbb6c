/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HTTP/1.1 connections of the Kinesis API on one worker's TCP stack. Owns, per worker: the
 * connection slots, the body/response buffers, the list of connections waiting for one, and
 * the timeouts (slowloris). Runs on its worker only, from TCP callbacks and the worker poll.
 *
 * Flow: TCP hands over received data as mbuf chains; they are appended to the connection's
 * unparsed chain and fed segment by segment to the resumable parser (dataplane/http/). The
 * head is copied into the connection's head buffer; once it is complete a body buffer is
 * taken (small or big by Content-Length); when none is free the connection waits (its unread
 * bytes keep the TCP window closed: backpressure, not failure). A complete request goes to the
 * router; requests of one connection are served one at a time, so pipelined answers leave in
 * order. The response is written into the same buffer and handed to TCP in pieces as its send
 * buffer allows; then the buffer is released and parsing resumes.
 * Invariants: a connection holds at most one buffer; bytes are acknowledged to TCP
 * (sp_tcp_recved) exactly when the parser has consumed them.
 */
#include <string.h>
#include <time.h>

#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include <spate/assert.h>
#include <spate/err.h>

#include "../core/lcore.h"
#include "../core/mbuf_compact.h"
#include "../tcp/tcp.h"
#include "../tcp/tcp_stack.h"
#include "../shard/shard_iter.h"
#include "../sigv4/sigv4.h"
#include "api_json.h"
#include "api_store.h"
#include "api_worker.h"

#define RTE_LOGTYPE_SPATE RTE_LOGTYPE_USER1

uint64_t
sp_api_now_ms(const struct sp_api *api)
{
	const struct sp_clock *clk = &api->lc->clk;
	uint64_t cyc = clk->ops->cycles(clk->ctx);
	uint64_t hz = clk->ops->hz(clk->ctx);

	return (uint64_t)((int64_t)(cyc / (hz / 1000u)) + api->wall_offset_ms);
}

uint64_t
sp_api_cycles(const struct sp_api *api)
{
	const struct sp_clock *clk = &api->lc->clk;

	return clk->ops->cycles(clk->ctx);
}

uint64_t
sp_api_cycles_per_us(const struct sp_api *api)
{
	const struct sp_clock *clk = &api->lc->clk;

	return SP_MAX(clk->ops->hz(clk->ctx) / 1000000u, 1u);
}

/* ---- buffers ---- */

bool
sp_api_buf_get(struct sp_api *api, bool big, struct sp_api_buf *out)
{
	if (!sp_api_bufpool_get(api->bufs, big, out)) {
		return false;
	}
	SP_VERIFY(out->big == big && out->p != NULL);
	return true;
}

/* The owner lets go; mbufs still pointing into it keep it off the free stack (api_buf.h). */
void
sp_api_buf_put(struct sp_api *api, struct sp_api_buf *b)
{
	sp_api_bufpool_put(api->bufs, b);
	SP_VERIFY(b->p == NULL);
}

bool
sp_api_conn_buf_writable(struct sp_api_conn *c)
{
	struct sp_api_buf fresh;

	if (!sp_api_bufpool_lent(c->api->bufs, &c->buf)) {
		return true;
	}
	if (!sp_api_buf_get(c->api, false, &fresh)) {
		return false; /* the acks free one, or this one */
	}
	sp_api_buf_put(c->api, &c->buf);
	c->buf = fresh;
	SP_VERIFY(!sp_api_bufpool_lent(c->api->bufs, &c->buf));
	return true;
}

bool
sp_api_conn_room(struct sp_api_conn *c, size_t need)
{
	struct sp_api_buf big;

	if (c->buf.p != NULL && need + SP_API_RESP_HEAD_BYTES <= c->buf.cap) {
		return true;
	}
	if (need + SP_API_RESP_HEAD_BYTES > SP_API_BIG_BUF_BYTES ||
	    !sp_api_buf_get(c->api, true, &big)) {
		return false;
	}
	sp_api_buf_put(c->api, &c->buf);
	c->buf = big;
	SP_VERIFY(c->buf.cap >= need + SP_API_RESP_HEAD_BYTES);
	return true;
}

/* ---- connection lifecycle ---- */

static void conn_run(struct sp_api_conn *c);
static void conn_parse_loop(struct sp_api_conn *c);

static void
conn_deadline(struct sp_api_conn *c, uint32_t ms)
{
	c->deadline_ms = sp_api_now_ms(c->api) + ms;
}

struct sp_api_conn *
sp_api_conn_take(struct sp_api *api)
{
	struct sp_api_conn *c;

	if (api->nfree_conns == 0) {
		return NULL;
	}
	c = &api->conns[api->free_conns[--api->nfree_conns]];
	SP_VERIFY(c->state == SP_API_CONN_FREE && c->tcb == NULL && c->buf.p == NULL);
	c->nreq = 0;
	c->h2 = NULL;
	c->owner = NULL;
	c->stream_id = 0;
	c->ps = NULL;
	c->in_run = false;
	SP_VERIFY(c->tls == NULL && c->tls_in == NULL && c->tls_pt == NULL && c->tls_ct == NULL);
	return c;
}

void
sp_api_conn_free(struct sp_api_conn *c)
{
	struct sp_api *api = c->api;

	sp_api_tls_release(c);
	sp_api_buf_put(api, &c->buf);
	c->state = SP_API_CONN_FREE;
	c->tcb = NULL;
	c->h2 = NULL;
	c->owner = NULL;
	c->ps = NULL;
	api->free_conns[api->nfree_conns++] = c->idx;
	SP_VERIFY(api->nfree_conns <= api->nconns);
}

static int
conn_accept(void *arg, struct sp_tcb *tcb, void **app)
{
	struct sp_api *api = arg;
	struct sp_api_conn *c = sp_api_conn_take(api);

	if (c == NULL) {
		api->cnt.conns_refused++;
		return -ENOSPC;
	}
	c->tcb = tcb;
	c->state = SP_API_CONN_READ;
	c->in = NULL;
	c->in_off = 0;
	c->out = NULL;
	c->out_len = 0;
	c->close_after = false;
	c->peer_closed = false;
	c->sent_continue = false;
	c->cors = false;
	c->cors_extra = NULL;
	sp_http_req_reset(&c->http);
	conn_deadline(c, api->g->conf.idle_timeout_ms);
	api->cnt.conns_accepted++;
	*app = c;
	return 0;
}

/* A connection on tls_port: as above, with TLS state; the handshake has the head timeout. */
static int
conn_accept_tls(void *arg, struct sp_tcb *tcb, void **app)
{
	struct sp_api *api = arg;
	int rc = conn_accept(arg, tcb, app);
	struct sp_api_conn *c = *app;

	if (rc != 0) {
		return rc;
	}
	if (!sp_api_tls_accept(c)) {
		api->cnt.tls_refused++;
		c->tcb = NULL;
		sp_api_conn_free(c);
		*app = NULL;
		return -ENOMEM;
	}
	api->cnt.tls_accepted++;
	conn_deadline(c, api->g->conf.head_timeout_ms);
	return 0;
}

static void
conn_wait_remove(struct sp_api *api, struct sp_api_conn *c)
{
	struct sp_api_conn **pp = &api->wait_head, *prev = NULL;

	while (*pp != NULL && *pp != c) {
		prev = *pp;
		pp = &(*pp)->next_wait;
	}
	if (*pp == c) {
		*pp = c->next_wait;
		if (api->wait_tail == c) {
			api->wait_tail = prev;
		}
	}
	c->next_wait = NULL;
}

static void
conn_closed(void *app, struct sp_tcb *tcb, int reason)
{
	struct sp_api_conn *c = app;
	struct sp_api *api = c->api;

	(void)reason;
	SP_VERIFY(c->tcb == tcb);
	c->tcb = NULL;
	rte_pktmbuf_free(c->in);
	c->in = NULL;
	sp_api_tls_release(c); /* the context reference and the queues go now */
	if (c->owner == NULL && c->ps != NULL && c->ps->sub) {
		sp_api_sub_drop(c); /* an HTTP/1.1 subscription's client went away */
	}
	if (c->state == SP_API_CONN_H2) {
		sp_api_h2_closed(c); /* its streams' exchanges, then the session */
	}
	if (c->state == SP_API_CONN_WAIT_BUF) {
		conn_wait_remove(api, c);
	}
	if (c->state == SP_API_CONN_ASYNC) {
		/* messages still out on other lcores: the slot is freed when they return */
		return;
	}
	sp_api_conn_free(c);
}

/* An async request finished after its connection was closed: free the slot now. */
static void
conn_reap(struct sp_api_conn *c)
{
	sp_api_conn_free(c);
}

static void
conn_recv(void *app, struct sp_tcb *tcb, struct rte_mbuf *chain, uint32_t len)
{
	struct sp_api_conn *c = app;

	SP_VERIFY(c->tcb == tcb && chain->pkt_len == len);
	if (c->tls != NULL) {
		/* ciphertext: decrypted as the parser asks for more (sp_api_conn_pull) */
		if (!sp_api_tls_recv(c, chain)) {
			return;
		}
		if (c->state == SP_API_CONN_H2) {
			sp_api_h2_input(c);
		} else if (c->state == SP_API_CONN_READ) {
			conn_run(c);
		}
		return;
	}
	if (c->in == NULL) {
		c->in = chain;
		c->in_off = 0;
	} else if (rte_pktmbuf_chain(c->in, chain) != 0) {
		/* more segments than a chain holds (compaction failed for lack of mbufs): abuse */
		rte_pktmbuf_free(chain);
		sp_tcp_abort(c->api->tcp, tcb);
		return;
	}
	if (sp_mbuf_chain_sparse(c->in) &&
	    sp_mbuf_chain_compact(&c->in, c->in_off, c->api->pool) == 0) {
		/* tiny segments held while the connection is not reading (core/mbuf_compact.h) */
		c->in_off = 0;
		c->api->lc->cnt.rx_chain_compactions++;
	}
	if (c->state == SP_API_CONN_H2) {
		sp_api_h2_input(c);
	} else if (c->state == SP_API_CONN_READ) {
		conn_run(c);
	}
}

static void
conn_peer_closed(void *app, struct sp_tcb *tcb)
{
	struct sp_api_conn *c = app;

	SP_VERIFY(c->tcb == tcb);
	if (c->tls != NULL) {
		c->tls_fin = true; /* peer_closed once the plaintext before it is read */
	} else {
		c->peer_closed = true;
	}
	if (c->state == SP_API_CONN_H2) {
		sp_api_h2_input(c);
	} else if (c->state == SP_API_CONN_READ) {
		conn_run(c);
	}
}

/* ---- the transport shim: every byte in and out of a connection ---- */

int
sp_api_conn_tx(struct sp_api_conn *c, struct rte_mbuf *chain)
{
	SP_VERIFY(c->tcb != NULL && c->owner == NULL);
	if (c->tls != NULL) {
		sp_api_tls_tx(c, chain); /* always taken: encrypted now or queued */
		return 0;
	}
	return sp_tcp_send(c->api->tcp, c->tcb, chain);
}

uint32_t
sp_api_conn_tx_space(struct sp_api_conn *c)
{
	SP_VERIFY(c->tcb != NULL && c->owner == NULL);
	if (c->tls != NULL) {
		return sp_api_tls_tx_space(c);
	}
	return sp_tcp_send_space(c->api->tcp, c->tcb);
}

bool
sp_api_conn_pull(struct sp_api_conn *c)
{
	if (c->tls != NULL && c->tcb != NULL) {
		return sp_api_tls_pull(c);
	}
	return c->in != NULL;
}

void
sp_api_conn_close(struct sp_api_conn *c)
{
	SP_VERIFY(c->tcb != NULL && c->owner == NULL);
	if (c->tls != NULL) {
		sp_api_tls_close(c); /* close_notify, then FIN once the ciphertext is out */
		return;
	}
	(void)sp_tcp_close(c->api->tcp, c->tcb);
}

/* ---- sending ---- */

/*
 * Copy hd (hd_len bytes, a frame header or nothing) then src (len bytes) into a new mbuf
 * chain, all or nothing.
 */
struct rte_mbuf *
sp_api_pack(struct sp_api *api, const void *hd, uint32_t hd_len, const void *src, uint32_t len)
{
	struct rte_mempool *mp = api->pool;
	uint32_t room = rte_pktmbuf_data_room_size(mp) - RTE_PKTMBUF_HEADROOM;
	struct rte_mbuf *head = NULL, *tail = NULL;
	uint32_t total = hd_len + len, done = 0;

	while (done < total) {
		uint32_t n = SP_MIN(room, total - done);
		struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
		char *p;
		uint32_t from_hd;

		if (m == NULL) {
			rte_pktmbuf_free(head);
			return NULL;
		}
		p = rte_pktmbuf_append(m, (uint16_t)n);
		SP_VERIFY(p != NULL);
		from_hd = done < hd_len ? SP_MIN(n, hd_len - done) : 0;
		if (from_hd > 0) {
			memcpy(p, (const char *)hd + done, from_hd);
		}
		if (n > from_hd) { /* the header is all out: done + from_hd >= hd_len */
			memcpy(p + from_hd, (const char *)src + (done + from_hd - hd_len),
			       n - from_hd);
		}
		if (head == NULL) {
			head = m;
		} else {
			tail->next = m;
			head->nb_segs++;
			head->pkt_len += n;
		}
		tail = m;
		done += n;
	}
	return head;
}

struct rte_mbuf *
sp_api_pack_answer(struct sp_api *api, const struct sp_api_buf *b, const void *hd,
		   uint32_t hd_len, const char *src, uint32_t len)
{
	struct rte_mbuf *head = NULL, *body;

	if (!api->tx_zero_copy || len < SP_API_REF_MIN_BYTES || !sp_api_buf_holds(b, src, len)) {
		body = sp_api_pack(api, hd, hd_len, src, len);
		if (body != NULL) {
			api->cnt.tx_body_copied_bytes += len;
		}
		return body;
	}
	if (hd_len > 0) {
		/* a frame header: copied into an mbuf of its own, the body after it by reference */
		head = sp_api_pack(api, NULL, 0, hd, hd_len);
		if (head == NULL) {
			return NULL;
		}
	}
	body = sp_api_bufpool_lend(api->bufs, b, api->pool, src, len);
	if (body == NULL) {
		rte_pktmbuf_free(head);
		return NULL;
	}
	SP_VERIFY(body->pkt_len == len);
	if (head != NULL && rte_pktmbuf_chain(head, body) != 0) {
		rte_pktmbuf_free(head);
		rte_pktmbuf_free(body);
		return NULL;
	}
	api->cnt.tx_body_ref_bytes += len;
	return head != NULL ? head : body;
}

static void conn_finish_response(struct sp_api_conn *c);

static void conn_push(struct sp_api_conn *c);

/*
 * An HTTP/1.1 streamed answer has sent all it had: wait for the next piece (true), or, when
 * it is ending, send the last chunk and then finish like any answer (false once it has left).
 */
static bool
conn_stream_drained(struct sp_api_conn *c)
{
	static const char last[] = "0\r\n\r\n";

	if (!c->ps->stream_end) {
		c->state = SP_API_CONN_STREAM;
		return true;
	}
	if (!c->ps->last_sent) {
		c->ps->last_sent = true;
		c->out = last;
		c->out_len = sizeof(last) - 1;
		conn_push(c);
		return true;
	}
	if (c->ps->sub) {
		sp_api_sub_drop(c);
	}
	c->ps->streaming = false;
	c->ps = NULL; /* the connection serves plain requests again */
	return false;
}

/* An answer (or a streamed piece) starts leaving: the client must take some of it in time. */
static void
conn_send_begin(struct sp_api_conn *c)
{
	c->state = SP_API_CONN_SEND;
	c->deadline_ms = sp_api_now_ms(c->api) + c->api->g->conf.send_timeout_ms;
}

/* Hand as much of the response to TCP as its send buffer takes. */
static void
conn_push(struct sp_api_conn *c)
{
	struct sp_api *api = c->api;

	while (c->out_len > 0 && c->tcb != NULL) {
		uint32_t space = sp_api_conn_tx_space(c);
		struct rte_mbuf *m;
		uint32_t n;

		if (space == 0) {
			return; /* resumes from sent() */
		}
		m = sp_api_pack_answer(api, &c->buf, NULL, 0, c->out, SP_MIN(space, c->out_len));
		if (m == NULL) {
			api->cnt.mbuf_fail++;
			return; /* resumes from sent() or the poll */
		}
		n = m->pkt_len;
		if (sp_api_conn_tx(c, m) != 0) {
			rte_pktmbuf_free(m);
			return;
		}
		c->out += n;
		c->out_len -= n;
		/* progress: the client took room for these; the clock starts again */
		c->deadline_ms = sp_api_now_ms(api) + api->g->conf.send_timeout_ms;
	}
	if (c->out_len == 0 && c->tcb != NULL) {
		if (c->ps != NULL && c->ps->streaming && conn_stream_drained(c)) {
			return;
		}
		conn_finish_response(c);
	}
}

static void
conn_sent(void *app, struct sp_tcb *tcb, uint32_t acked)
{
	struct sp_api_conn *c = app;

	(void)acked;
	SP_VERIFY(c->tcb == tcb);
	sp_api_tls_pump(c); /* ciphertext queued for send space first */
	if (c->state == SP_API_CONN_SEND) {
		conn_push(c);
	} else if (c->state == SP_API_CONN_H2) {
		sp_api_h2_output(c);
	}
}

static void
conn_finish_response(struct sp_api_conn *c)
{
	struct sp_api *api = c->api;

	SP_VERIFY(c->out_len == 0);
	sp_api_buf_put(api, &c->buf);
	c->out = NULL;
	if (c->close_after) {
		c->state = SP_API_CONN_CLOSING;
		sp_api_conn_close(c);
		return;
	}
	c->state = SP_API_CONN_READ;
	c->sent_continue = false;
	c->cors = false;
	c->cors_extra = NULL;
	sp_http_req_reset(&c->http);
	conn_deadline(c, api->g->conf.idle_timeout_ms);
	conn_run(c); /* pipelined requests already received */
}

static const struct sp_tcp_ops conn_ops = {
    .accept = conn_accept,
    .recv = conn_recv,
    .sent = conn_sent,
    .peer_closed = conn_peer_closed,
    .closed = conn_closed,
};

static const struct sp_tcp_ops conn_tls_ops = {
    .accept = conn_accept_tls,
    .recv = conn_recv,
    .sent = conn_sent,
    .peer_closed = conn_peer_closed,
    .closed = conn_closed,
};

/* ---- responses ---- */

static char *
conn_head_buf(const struct sp_api_conn *c)
{
	return c->api->heads + (size_t)c->idx * SP_HTTP_HEAD_MAX_BYTES;
}

/* With an Origin header (reference §1.1): any origin, and the headers SDKs read. */
#define CONN_CORS_HEADERS                                                                          \
	"Access-Control-Allow-Origin: *\r\n"                                                       \
	"Access-Control-Expose-Headers: x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,"       \
	"x-amz-id-2,x-amzn-ErrorMessage,Date\r\n"

/* xorshift64*: request ids need uniqueness, not secrecy. */
static uint64_t
conn_rand(struct sp_api *api)
{
	uint64_t x = api->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	api->rng = x;
	return x * UINT64_C(0x2545F4914F6CDD1D);
}

void
sp_api_request_id(struct sp_api *api, char *out)
{
	uint64_t a = conn_rand(api), b = conn_rand(api);
	int n = snprintf(out, SP_API_REQUEST_ID_BYTES, "%08x-%04x-4%03x-%04x-%012llx",
			 (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
			 (unsigned)((b >> 48) & 0x3fff) | 0x8000,
			 (unsigned long long)(b & UINT64_C(0xffffffffffff)));

	SP_VERIFY(n == SP_API_REQUEST_ID_BYTES - 1);
}

static size_t
conn_write_head(struct sp_api_conn *c, uint16_t status, const char *ctype, uint32_t body_len,
		enum sp_kerr kerr, char *out, size_t cap)
{
	struct sp_api *api = c->api;
	uint64_t now_s = sp_api_now_ms(api) / 1000u;
	char date[64], rid[SP_API_REQUEST_ID_BYTES];
	int n;

	sp_api_request_id(api, rid);
	sp_http_format_date((int64_t)now_s, date, sizeof(date));
	n = snprintf(out, cap,
		     "HTTP/1.1 %u %s\r\n"
		     "x-amzn-RequestId: %s\r\n"
		     "Content-Type: %s\r\n"
		     "Content-Length: %u\r\n"
		     "Date: %s\r\n"
		     "%s%s%s"
		     "%s%s%s"
		     "\r\n",
		     status, sp_http_reason(status), rid, ctype, body_len, date,
		     kerr != SP_KERR_NONE ? "x-amzn-ErrorType: " : "",
		     kerr != SP_KERR_NONE ? sp_kerr_table[kerr].type : "",
		     kerr != SP_KERR_NONE ? "\r\n" : "",
		     c->close_after ? "Connection: close\r\n" : "",
		     c->cors ? CONN_CORS_HEADERS : "", c->cors_extra != NULL ? c->cors_extra : "");
	SP_VERIFY(n > 0 && (size_t)n < cap);
	return (size_t)n;
}

/* The head of a streamed HTTP/1.1 answer: 200, chunked, kept alive after its last chunk. */
static size_t
conn_write_stream_head(struct sp_api_conn *c, char *out, size_t cap)
{
	struct sp_api *api = c->api;
	char date[64], rid[SP_API_REQUEST_ID_BYTES];
	int n;

	sp_api_request_id(api, rid);
	sp_http_format_date((int64_t)(sp_api_now_ms(api) / 1000u), date, sizeof(date));
	n = snprintf(out, cap,
		     "HTTP/1.1 200 OK\r\n"
		     "x-amzn-RequestId: %s\r\n"
		     "Content-Type: %s\r\n"
		     "Transfer-Encoding: chunked\r\n"
		     "Date: %s\r\n"
		     "%s%s"
		     "\r\n",
		     rid, c->ps->stream_ctype, date, c->close_after ? "Connection: close\r\n" : "",
		     c->cors ? CONN_CORS_HEADERS : "");
	SP_VERIFY(n > 0 && (size_t)n < cap);
	return (size_t)n;
}

static void
conn_respond(struct sp_api_conn *c, uint16_t status, const char *ctype, enum sp_kerr kerr,
	     const char *body, uint32_t len)
{
	struct sp_api *api = c->api;
	char *base = c->buf.p != NULL ? c->buf.p : conn_head_buf(c);
	size_t cap = c->buf.p != NULL ? c->buf.cap : SP_HTTP_HEAD_MAX_BYTES;
	char head[SP_API_RESP_HEAD_BYTES];
	size_t hlen;

	SP_VERIFY(c->tcb != NULL);
	SP_VERIFY(!sp_api_bufpool_lent(api->bufs, &c->buf)); /* no byte of it in flight */
	if (len > cap - SP_API_RESP_HEAD_BYTES) {
		/* a bug in a size estimate: answer rather than overflow */
		status = 500;
		kerr = SP_KERR_INTERNAL_FAILURE;
		body = "{\"__type\":\"InternalFailure\"}";
		len = (uint32_t)strlen(body);
	}
	if (body != base + SP_API_RESP_HEAD_BYTES && len > 0) {
		memmove(base + SP_API_RESP_HEAD_BYTES, body, len);
	}
	if (status < 300) {
		api->cnt.responses_2xx++;
	} else if (status < 500) {
		api->cnt.responses_4xx++;
	} else {
		api->cnt.responses_5xx++;
	}
	api->cnt.errors[kerr]++;
	if (c->owner != NULL) {
		sp_api_h2_respond(c, status, ctype, kerr, base + SP_API_RESP_HEAD_BYTES, len);
		return;
	}
	hlen = conn_write_head(c, status, ctype, len, kerr, head, sizeof(head));
	memcpy(base + SP_API_RESP_HEAD_BYTES - hlen, head, hlen);
	c->out = base + SP_API_RESP_HEAD_BYTES - hlen;
	c->out_len = (uint32_t)(hlen + len);
	conn_send_begin(c);
	conn_push(c);
}

void
sp_api_respond(struct sp_api_conn *c, uint16_t status, const char *body, uint32_t len)
{
	if (c->tcb == NULL) {
		conn_reap(c); /* the client went away while the request was in flight */
		return;
	}
	conn_respond(c, status, SP_KINESIS_CONTENT_TYPE_JSON, SP_KERR_NONE, body, len);
}

void
sp_api_respond_raw(struct sp_api_conn *c, uint16_t status, const char *ctype, const char *body,
		   uint32_t len)
{
	if (c->tcb == NULL) {
		conn_reap(c);
		return;
	}
	conn_respond(c, status, ctype, SP_KERR_NONE, body, len);
}

void
sp_api_conn_stream_begin(struct sp_api_conn *c, const char *ctype)
{
	if (c->owner != NULL) {
		sp_api_h2_stream_begin(c, ctype);
		return;
	}
	SP_VERIFY(c->ps != NULL && c->tcb != NULL);
	c->ps->streaming = true;
	c->ps->stream_end = false;
	c->ps->head_pending = true;
	c->ps->last_sent = false;
	c->ps->stream_ctype = ctype;
	c->out = NULL;
	c->out_len = 0;
	c->state = SP_API_CONN_STREAM;
}

void
sp_api_conn_stream_push(struct sp_api_conn *c, char *msg, uint32_t len)
{
	char chunk[16];
	int n;

	if (c->owner != NULL) {
		c->out = msg;
		c->out_len = len;
		sp_api_h2_stream_push(c);
		return;
	}
	SP_VERIFY(c->ps != NULL && c->ps->streaming && c->out_len == 0);
	n = snprintf(chunk, sizeof(chunk), "%x\r\n", len);
	SP_VERIFY(n > 0 && (size_t)n < sizeof(chunk));
	memcpy(msg + len, "\r\n", 2);
	msg -= n;
	memcpy(msg, chunk, (size_t)n);
	len += (uint32_t)n + 2;
	if (c->ps->head_pending) {
		/* the head, then the first chunk: one piece */
		char head[SP_API_RESP_HEAD_BYTES];
		size_t hlen = conn_write_stream_head(c, head, sizeof(head));

		SP_VERIFY(hlen + (size_t)n <= SP_API_STREAM_ROOM);
		msg -= hlen;
		memcpy(msg, head, hlen);
		len += (uint32_t)hlen;
		c->ps->head_pending = false;
	}
	c->out = msg;
	c->out_len = len;
	conn_send_begin(c);
	conn_push(c);
}

void
sp_api_conn_stream_end(struct sp_api_conn *c)
{
	if (c->owner != NULL) {
		sp_api_h2_stream_end(c);
		return;
	}
	c->ps->stream_end = true;
	if (c->state == SP_API_CONN_STREAM && c->out_len == 0 && c->tcb != NULL) {
		conn_send_begin(c);
		conn_push(c); /* nothing queued: the last chunk now */
	}
}

void
sp_api_respond_error(struct sp_api_conn *c, enum sp_kerr kerr, const char *message,
		     bool message_key_upper)
{
	char *base;
	size_t cap;
	ssize_t n;

	SP_VERIFY(kerr != SP_KERR_NONE && kerr < SP_KERR_COUNT);
	if (c->tcb == NULL) {
		conn_reap(c);
		return;
	}
	if (sp_api_sub_mode(c)) {
		sp_api_sub_error(c, kerr, message); /* a subscription's read of the store */
		return;
	}
	base = (c->buf.p != NULL ? c->buf.p : conn_head_buf(c)) + SP_API_RESP_HEAD_BYTES;
	cap = (c->buf.p != NULL ? c->buf.cap : SP_HTTP_HEAD_MAX_BYTES) - SP_API_RESP_HEAD_BYTES;
	/* a CBOR request's errors are CBOR maps (kinesis-api.md §1.4), the same members */
	n = c->req.cbor
		? sp_api_cbor_write_error(base, cap, kerr, message,
					  message != NULL ? strlen(message) : 0, message_key_upper)
		: sp_api_json_write_error(base, cap, kerr, message,
					  message != NULL ? strlen(message) : 0, message_key_upper);
	if (n < 0) {
		/* a message longer than the head buffer (no body buffer held): the type alone */
		n = c->req.cbor ? sp_api_cbor_write_error(base, cap, kerr, NULL, 0, false)
				: sp_api_json_write_error(base, cap, kerr, NULL, 0, false);
	}
	SP_VERIFY(n > 0 && (size_t)n < cap);
	conn_respond(c, sp_kerr_table[kerr].status,
		     c->req.cbor ? SP_KINESIS_CONTENT_TYPE_CBOR : SP_KINESIS_CONTENT_TYPE_JSON,
		     kerr, base, (uint32_t)n);
}

/* A protocol-level refusal (400/408/413/431/...): a short body, then the connection ends. */
static void
conn_http_error(struct sp_api_conn *c, uint16_t status)
{
	char *base = (c->buf.p != NULL ? c->buf.p : conn_head_buf(c)) + SP_API_RESP_HEAD_BYTES;

	c->api->cnt.http_errors++;
	c->close_after = true;
	rte_pktmbuf_free(c->in); /* nothing after a framing error can be trusted */
	c->in = NULL;
	conn_respond(c, status, "text/plain", SP_KERR_NONE, base, 0);
}

/* ---- parsing ---- */

/* Drop parsed bytes from the front of the input chain and reopen the TCP window by as many. */
void
sp_api_conn_consumed(struct sp_api_conn *c, uint32_t n)
{
	struct sp_api *api = c->api;
	uint32_t left = n;

	while (left > 0) {
		struct rte_mbuf *m = c->in;
		uint32_t avail = m->data_len - c->in_off;

		if (left < avail) {
			c->in_off += left;
			break;
		}
		left -= avail;
		c->in = m->next;
		if (c->in != NULL) {
			c->in->nb_segs = (uint16_t)(m->nb_segs - 1);
			c->in->pkt_len = m->pkt_len - m->data_len;
		}
		m->next = NULL;
		m->nb_segs = 1;
		m->pkt_len = m->data_len;
		rte_pktmbuf_free(m);
		c->in_off = 0;
	}
	if (c->tcb != NULL && n > 0 && c->tls == NULL) {
		sp_tcp_recved(api->tcp, c->tcb, n); /* TLS: reopened as the ciphertext is fed */
	}
}

/* Head complete: pick a body buffer by the announced length; false when none is free. */
bool
sp_api_conn_take_buffer(struct sp_api_conn *c)
{
	struct sp_api *api = c->api;
	/* the body, then as much again for the scanner's arena (unescaped strings) */
	uint64_t need = 2 * sp_http_body_hint(&c->http) + SP_API_RESP_HEAD_BYTES;
	bool big = need > SP_API_SMALL_BUF_BYTES;

	if (!sp_api_buf_get(api, big, &c->buf)) {
		return false;
	}
	sp_http_set_body_buf(&c->http, c->buf.p + SP_API_RESP_HEAD_BYTES,
			     (c->buf.cap - SP_API_RESP_HEAD_BYTES) / 2);
	return true;
}

static void
conn_wait_buffer(struct sp_api_conn *c)
{
	struct sp_api *api = c->api;

	c->state = SP_API_CONN_WAIT_BUF;
	c->next_wait = NULL;
	if (api->wait_tail == NULL) {
		api->wait_head = c;
	} else {
		api->wait_tail->next_wait = c;
	}
	api->wait_tail = c;
	api->cnt.buf_waits++;
}

/* The head is in: 100-continue, the body deadline, a buffer. False: stop parsing for now. */
static bool
conn_on_head(struct sp_api_conn *c)
{
	struct sp_api *api = c->api;

	c->close_after = !sp_http_keep_alive(&c->http);
	conn_deadline(c, api->g->conf.body_timeout_ms);
	if (c->buf.p == NULL && !sp_api_conn_take_buffer(c)) {
		conn_wait_buffer(c);
		return false;
	}
	if (sp_http_expects_continue(&c->http) && !c->sent_continue) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		struct rte_mbuf *m = rte_pktmbuf_alloc(api->pool);

		c->sent_continue = true;
		if (m != NULL) {
			memcpy(rte_pktmbuf_append(m, sizeof(cont) - 1), cont, sizeof(cont) - 1);
			if (sp_api_conn_tx(c, m) != 0) {
				rte_pktmbuf_free(
				    m); /* the client sends the body after a pause anyway */
			}
		}
	}
	return true;
}

static void
conn_run(struct sp_api_conn *c)
{
	if (c->in_run) {
		return; /* a response finished inside the loop below: it continues from there */
	}
	c->in_run = true;
	conn_parse_loop(c);
	c->in_run = false;
}

/*
 * A TLS connection speaks what ALPN chose: "h2" must begin with the preface (RFC 9113 §3.4),
 * http/1.1 must not. Otherwise it is closed (counted) and false returned.
 */
static bool
conn_alpn_ok(struct sp_api_conn *c, int rc)
{
	bool h2 = c->tls_alpn == SP_TLS_ALPN_H2;

	if (c->tls == NULL || c->nreq > 0 || rc == SP_AGAIN || (rc == SP_HTTP_E_H2_PREFACE) == h2) {
		return true;
	}
	c->api->cnt.tls_proto_refused++;
	rte_pktmbuf_free(c->in);
	c->in = NULL;
	c->state = SP_API_CONN_CLOSING;
	sp_api_conn_close(c);
	return false;
}

static void
conn_parse_loop(struct sp_api_conn *c)
{
	while (c->state == SP_API_CONN_READ && c->tcb != NULL) {
		const uint8_t *p;
		size_t avail, used = 0;
		int rc;

		if (c->in == NULL && !sp_api_conn_pull(c)) {
			if (c->peer_closed && c->tcb != NULL) {
				c->state = SP_API_CONN_CLOSING;
				sp_api_conn_close(c);
			}
			return;
		}
		if (sp_http_state(&c->http) == SP_HTTP_STATE_IDLE) {
			conn_deadline(c, c->api->g->conf.head_timeout_ms);
		}
		p = rte_pktmbuf_mtod_offset(c->in, const uint8_t *, c->in_off);
		avail = c->in->data_len - c->in_off;
		rc = sp_http_parse(&c->http, p, avail, &used);
		SP_VERIFY(used <= avail);
		sp_api_conn_consumed(c, (uint32_t)used);
		if (!conn_alpn_ok(c, rc)) {
			return;
		}
		if (rc == SP_AGAIN) {
			continue;
		}
		if (rc == SP_HTTP_HEAD_DONE) {
			if (!conn_on_head(c)) {
				return;
			}
			continue;
		}
		if (rc == SP_HTTP_DONE) {
			/* a request without a body skips SP_HTTP_HEAD_DONE: decide keep-alive here
			 */
			c->close_after = !sp_http_keep_alive(&c->http);
			c->api->cnt.requests++;
			c->nreq++;
			c->state = SP_API_CONN_ASYNC; /* the router decides; it always answers */
			sp_api_dispatch(c);
			continue; /* answered at once: READ again; otherwise the loop ends */
		}
		SP_VERIFY(rc < 0);
		if (rc == SP_HTTP_E_H2_PREFACE && c->nreq == 0 && sp_api_h2_start(c)) {
			return; /* HTTP/2 with prior knowledge: the session has the connection */
		}
		conn_http_error(c, (uint16_t)sp_http_error_status(rc));
		return;
	}
}

/* ---- the worker's poll: timeouts and waiting connections ---- */

static void
conn_timeout(struct sp_api_conn *c)
{
	struct sp_api *api = c->api;
	enum sp_http_state hs = sp_http_state(&c->http);

	if (hs == SP_HTTP_STATE_IDLE && c->in == NULL) {
		api->cnt.timeouts_idle++;
		c->state = SP_API_CONN_CLOSING;
		sp_api_conn_close(c);
		return;
	}
	if (hs == SP_HTTP_STATE_BODY) {
		api->cnt.timeouts_body++;
	} else {
		api->cnt.timeouts_head++;
	}
	conn_http_error(c, 408);
}

static unsigned
conn_sweep(struct sp_api *api, uint64_t now_ms)
{
	unsigned n = SP_MIN(api->nconns, SP_API_SWEEP_PER_POLL);
	unsigned work = 0;

	for (unsigned i = 0; i < n; i++) {
		struct sp_api_conn *c = &api->conns[api->sweep_cursor];

		api->sweep_cursor = (api->sweep_cursor + 1) % api->nconns;
		if (c->tcb == NULL) {
			continue;
		}
		if (c->tls != NULL) {
			sp_api_tls_pump(c); /* output held for want of mbufs */
			if (c->state == SP_API_CONN_READ && c->in == NULL && c->tls_in != NULL) {
				conn_run(c); /* input held for want of mbufs */
			}
		}
		if (c->tcb == NULL) {
			continue;
		}
		if (c->state == SP_API_CONN_H2 || c->owner != NULL) {
			sp_api_h2_sweep(c, now_ms);
			continue;
		}
		if ((c->state == SP_API_CONN_READ || c->state == SP_API_CONN_WAIT_BUF) &&
		    now_ms >= c->deadline_ms) {
			if (c->state == SP_API_CONN_WAIT_BUF) {
				conn_wait_remove(api, c);
				c->state = SP_API_CONN_READ;
			}
			conn_timeout(c);
			work++;
		} else if (c->state == SP_API_CONN_SEND && now_ms >= c->deadline_ms) {
			/* the client took nothing for send_timeout (a zero window held, or a peer
			 * gone quiet): the answer cannot be delivered; free the slot and buffer */
			api->cnt.timeouts_send++;
			c->state = SP_API_CONN_CLOSING;
			sp_tcp_abort(api->tcp, c->tcb);
			work++;
		} else if (c->state == SP_API_CONN_SEND) {
			conn_push(c); /* mbufs may be back */
		}
	}
	return work;
}

static unsigned
conn_resume_waiting(struct sp_api *api)
{
	unsigned work = 0;

	while (api->wait_head != NULL && work < SP_API_RESUME_PER_POLL) {
		struct sp_api_conn *c = api->wait_head;

		SP_VERIFY(c->state == SP_API_CONN_WAIT_BUF);
		if (!sp_api_conn_take_buffer(c)) {
			break;
		}
		api->wait_head = c->next_wait;
		if (api->wait_head == NULL) {
			api->wait_tail = NULL;
		}
		c->next_wait = NULL;
		c->state = SP_API_CONN_READ;
		if (conn_on_head(c)) {
			conn_run(c);
		}
		work++;
	}
	return work;
}

unsigned
sp_api_worker_poll(struct sp_api *api)
{
	unsigned work = 0;

	work += sp_api_reshard_poll(api); /* seal closed shards before serving appends */
	work += sp_api_move_poll(api);    /* hand moved shards' rings to their new owner */
	work += sp_api_put_poll(api);
	work += sp_api_store_poll(api);
	work += sp_api_cold_poll(api);
	work += sp_api_ctl_poll(api);
	work += sp_api_sub_poll(api);
	work += conn_resume_waiting(api);
	work += conn_sweep(api, sp_api_now_ms(api));
	/* between requests: this worker holds no snapshot pointer now */
	rte_rcu_qsbr_quiescent(api->g->qsbr, api->worker);
	return work;
}

/* Requests and HTTP/2 sessions, summed over the workers (plain counters: a snapshot). */
json_t *
sp_api_http_status_json(const struct sp_api_global *g)
{
	struct sp_api_counters t = {0};
	struct sp_lathist lat = {0};
	uint64_t bufs_waiting = 0;
	bool zero_copy = false, bufs_huge = false;
	json_t *o;

	for (unsigned w = 0; w < g->nb_workers; w++) {
		const struct sp_api *api = g->workers[w];

		if (api == NULL) {
			continue;
		}
		sp_lathist_merge(&lat, &api->sub_lat);
		t.requests += api->cnt.requests;
		t.responses_2xx += api->cnt.responses_2xx;
		t.responses_4xx += api->cnt.responses_4xx;
		t.responses_5xx += api->cnt.responses_5xx;
		t.http_errors += api->cnt.http_errors;
		t.h2_sessions += api->cnt.h2_sessions;
		t.h2_streams += api->cnt.h2_streams;
		t.h2_refused += api->cnt.h2_refused;
		t.h2_goaways += api->cnt.h2_goaways;
		t.h2_stream_resets += api->cnt.h2_stream_resets;
		t.h2_fatal += api->cnt.h2_fatal;
		t.subscriptions += api->cnt.subscriptions;
		t.sub_refused += api->cnt.sub_refused;
		t.sub_events += api->cnt.sub_events;
		t.sub_failed += api->cnt.sub_failed;
		t.sub_open += api->nsubs; /* (a gauge, summed in a counters struct) */
		t.timeouts_head += api->cnt.timeouts_head;
		t.timeouts_body += api->cnt.timeouts_body;
		t.timeouts_idle += api->cnt.timeouts_idle;
		t.timeouts_send += api->cnt.timeouts_send;
		t.tx_body_ref_bytes += api->cnt.tx_body_ref_bytes;
		t.tx_body_copied_bytes += api->cnt.tx_body_copied_bytes;
		t.buf_lent_waits += api->cnt.buf_lent_waits;
		bufs_waiting += api->bufs != NULL ? api->bufs->waiting : 0;
		zero_copy = zero_copy || api->tx_zero_copy;
		bufs_huge = bufs_huge || (api->bufs != NULL && api->bufs->huge);
	}
	o = json_pack(
	    "{s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I}, "
	    "s:{s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I}}, s:o}",
	    "requests", (json_int_t)t.requests, "responses_2xx", (json_int_t)t.responses_2xx,
	    "responses_4xx", (json_int_t)t.responses_4xx, "responses_5xx",
	    (json_int_t)t.responses_5xx, "http_errors", (json_int_t)t.http_errors, "h2", "sessions",
	    (json_int_t)t.h2_sessions, "streams", (json_int_t)t.h2_streams, "refused",
	    (json_int_t)t.h2_refused, "goaways", (json_int_t)t.h2_goaways, "stream_resets",
	    (json_int_t)t.h2_stream_resets, "fatal", (json_int_t)t.h2_fatal, "subscriptions",
	    "begun", (json_int_t)t.subscriptions, "open", (json_int_t)t.sub_open, "refused",
	    (json_int_t)t.sub_refused, "events", (json_int_t)t.sub_events, "failed",
	    (json_int_t)t.sub_failed, "delivery_us", "samples", (json_int_t)lat.n, "p50",
	    (json_int_t)sp_lathist_pct(&lat, 50), "p90", (json_int_t)sp_lathist_pct(&lat, 90),
	    "p99", (json_int_t)sp_lathist_pct(&lat, 99), "p999",
	    (json_int_t)sp_lathist_pct(&lat, 99.9), "max", (json_int_t)lat.max_us, "tls",
	    sp_api_tls_status_json(g));
	/* zero copy (api_buf.h): answer bytes by reference and copied, buffers held by mbufs */
	if (o != NULL) {
		json_object_set_new(o, "timeouts",
				    json_pack("{s:I, s:I, s:I, s:I}", "head",
					      (json_int_t)t.timeouts_head, "body",
					      (json_int_t)t.timeouts_body, "idle",
					      (json_int_t)t.timeouts_idle, "send",
					      (json_int_t)t.timeouts_send));
		json_object_set_new(o, "tx_zero_copy", json_boolean(zero_copy));
		json_object_set_new(o, "bufs_hugepages", json_boolean(bufs_huge));
		json_object_set_new(o, "tx_body_ref_bytes",
				    json_integer((json_int_t)t.tx_body_ref_bytes));
		json_object_set_new(o, "tx_body_copied_bytes",
				    json_integer((json_int_t)t.tx_body_copied_bytes));
		json_object_set_new(o, "bufs_waiting_refs", json_integer((json_int_t)bufs_waiting));
		json_object_set_new(o, "buf_lent_waits",
				    json_integer((json_int_t)t.buf_lent_waits));
	}
	return o;
}

/* sp_api_worker_poll as the worker loop's app_poll. */
static unsigned
api_worker_poll(void *api)
{
	return sp_api_worker_poll(api);
}

/* The worker stops: HTTP/2 connections get GOAWAY (NO_ERROR) while the stack still runs. */
static void
api_worker_stop(void *arg)
{
	struct sp_api *api = arg;

	for (uint32_t i = 0; i < api->nconns; i++) {
		if (api->conns[i].state == SP_API_CONN_H2 && api->conns[i].tcb != NULL) {
			sp_api_h2_goaway(&api->conns[i]);
		}
	}
	/* after the drain polls the main lcore tears the stack down: it frees the last mbufs */
	sp_api_bufpool_stop(api->bufs);
}

/* ---- boot and shutdown (main lcore) ---- */

static int
conn_bufs_create(struct sp_api *api, const struct sp_api_conf *conf)
{
	int socket = conf->bufs_huge ? (int)rte_lcore_to_socket_id(api->lc->lcore_id) : -1;
	int rc;

	api->tx_zero_copy = conf->tx_zero_copy;
	rc = sp_api_bufpool_create(&api->bufs, conf->small_bufs, SP_API_SMALL_BUF_BYTES,
				   conf->big_bufs, SP_API_BIG_BUF_BYTES, api->lc->lcore_id, socket);
	if (rc != 0 && conf->bufs_huge) {
		RTE_LOG(ERR, SPATE,
			"api: worker %u: no hugepages for its buffers (%u MiB: raise mem_mb)\n",
			api->worker,
			(unsigned)(((uint64_t)conf->small_bufs * SP_API_SMALL_BUF_BYTES +
				    (uint64_t)conf->big_bufs * SP_API_BIG_BUF_BYTES) >>
				   20));
	}
	return rc;
}

static int
conn_verifier(struct sp_api *api)
{
	struct sp_sigv4_config sc = {.keys = api->g->keys, .region = NULL};

	if (api->g->keys == NULL) {
		api->sigv4 = NULL; /* no credentials: the router refuses every request */
		return 0;
	}
	return sp_sigv4_create(&sc, &api->sigv4);
}

/* Buffers, HTTP/2, SigV4, the iterator MAC and the store (recovered) of a new worker. */
static int
conn_worker_parts(struct sp_api *api, const struct sp_api_conf *conf)
{
	/*
	 * Any key passes create's self-test; the real one comes with each snapshot and api_get.c
	 * re-keys before the first use (no data operation runs without one).
	 */
	static const uint8_t placeholder[SP_SHARD_ITER_KEY_BYTES];
	int rc = conn_bufs_create(api, conf);

	if (rc == 0) {
		rc = sp_api_h2_init(api);
	}
	if (rc == 0) {
		rc = conn_verifier(api);
	}
	if (rc == 0) {
		rc = sp_shard_iter_mac_create(placeholder, &api->iter);
	}
	if (rc == 0) {
		rc = sp_api_store_open(api); /* recovery: before the worker serves anything */
	}
	return rc;
}

int
sp_api_worker_create(struct sp_api_global *g, struct sp_lcore *lc)
{
	const struct sp_api_conf *conf = &g->conf;
	struct sp_api *api = calloc(1, sizeof(*api));
	struct timespec rt;
	int rc;

	if (api == NULL) {
		return -ENOMEM;
	}
	SP_VERIFY(lc->tcp != NULL && lc->worker < g->nb_workers);
	api->g = g;
	api->lc = lc;
	api->tcp = lc->tcp;
	api->pool = lc->pool;
	api->worker = lc->worker;
	api->nconns = conf->max_conns;
	clock_gettime(CLOCK_REALTIME, &rt);
	api->wall_offset_ms = 0;
	api->wall_offset_ms = (int64_t)rt.tv_sec * 1000 + rt.tv_nsec / 1000000 -
			      (int64_t)sp_api_now_ms(api); /* realtime minus the seam's clock */
	api->rng = (uint64_t)rt.tv_nsec * UINT64_C(0x9E3779B97F4A7C15) + lc->worker + 1;
	g->workers[lc->worker] = api;
	api->conns = calloc(api->nconns, sizeof(*api->conns));
	api->free_conns = calloc(api->nconns, sizeof(uint32_t));
	api->ctlwait = calloc(api->nconns, sizeof(uint32_t));
	api->heads = malloc((size_t)api->nconns * SP_HTTP_HEAD_MAX_BYTES);
	api->scratch = malloc(SP_API_BIG_BUF_BYTES);
	api->tls_stage = malloc(SP_API_TLS_RECORD);
	/* every connection of every worker may have one message here */
	api->waiting_cap = g->nb_workers * api->nconns + 1;
	api->waiting = calloc(api->waiting_cap, sizeof(*api->waiting));
	if (api->conns == NULL || api->free_conns == NULL || api->ctlwait == NULL ||
	    api->heads == NULL || api->scratch == NULL || api->waiting == NULL ||
	    api->tls_stage == NULL) {
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < api->nconns; i++) {
		struct sp_api_conn *c = &api->conns[i];

		c->api = api;
		c->idx = i;
		c->req.conn = c;
		sp_http_req_init(&c->http, api->heads + (size_t)i * SP_HTTP_HEAD_MAX_BYTES,
				 SP_HTTP_HEAD_MAX_BYTES, SP_API_BODY_MAX_BYTES);
		api->free_conns[api->nfree_conns++] = api->nconns - 1 - i;
	}
	rc = conn_worker_parts(api, conf);
	if (rc == 0) {
		rc = sp_tcp_listen(api->tcp, conf->port, &conn_ops, api);
	}
	if (rc == 0 && g->tls_ctx != NULL) {
		rc = sp_tcp_listen(api->tcp, conf->tls_port, &conn_tls_ops, api);
	}
	if (rc != 0) {
		return rc;
	}
	SP_VERIFY(lc->app_poll == NULL); /* one application per worker */
	SP_VERIFY(rte_rcu_qsbr_thread_register(g->qsbr, lc->worker) == 0);
	rte_rcu_qsbr_thread_online(g->qsbr, lc->worker);
	lc->api = api;
	lc->app_poll = api_worker_poll;
	lc->app_stop = api_worker_stop;
	lc->app_ctx = api;
	return 0;
}

void
sp_api_worker_destroy(struct sp_api_global *g, unsigned worker)
{
	struct sp_api *api = g->workers[worker];

	if (api == NULL) {
		return;
	}
	for (uint32_t i = 0; api->conns != NULL && i < api->nconns; i++) {
		rte_pktmbuf_free(api->conns[i].in);
		sp_api_tls_release(&api->conns[i]);
	}
	sp_api_h2_fini(api); /* sessions still open (the stack is gone: nothing is sent) */
	sp_api_store_close(api); /* reads into the buffers are over */
	/* mbufs still in a tx queue keep their buffers until the port is closed (api_buf.h) */
	sp_api_bufpool_destroy(api->bufs);
	api->bufs = NULL;
	sp_sigv4_destroy(api->sigv4);
	sp_shard_iter_mac_destroy(api->iter);
	free(api->conns);
	free(api->free_conns);
	free(api->ctlwait);
	free(api->heads);
	free(api->scratch);
	free(api->tls_stage);
	free(api->waiting);
	g->workers[worker] = NULL;
	free(api);
}
