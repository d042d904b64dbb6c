/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HTTP/2 (RFC 9113) on the API's connections: cleartext with prior knowledge (h2c), which is
 * what @aws-sdk/client-kinesis's default handler speaks to an http:// endpoint, and over TLS
 * when ALPN chose "h2" (api_tls.c; the client still sends the preface, RFC 9113 §3.4).
 *
 * The connection's HTTP/1.1 parser recognises the preface (`PRI * HTTP/2.0`, then `SM`) as the
 * first thing on a connection and hands the connection to sp_api_h2_start(). From then on an
 * nghttp2 server session owns the byte stream; nghttp2 does no I/O of its own:
 *   - received mbuf segments go to nghttp2_session_mem_recv() and are acknowledged to TCP as
 *     it consumes them (always all of them: the session never pauses);
 *   - frames leave through our send callbacks, which copy into mbufs only as much as the
 *     connection's transport takes (sp_api_conn_tx_space: TCP's send buffer, less TLS record
 *     overhead on tls_port; NGHTTP2_ERR_WOULDBLOCK otherwise); a response's DATA payload is
 *     not copied: external-buffer mbufs point into the exchange's buffer (api_buf.h), after
 *     the frame header in an mbuf of its own (NGHTTP2_DATA_FLAG_NO_COPY).
 *
 * Each stream is an exchange: a connection slot of its own (api_worker.h) with the same
 * request parser, buffer and request context an HTTP/1.1 connection has, so the router,
 * SigV4 and every operation serve it unchanged. The stream's header fields are written into
 * that parser as HTTP/1.1 text (the request line from :method and :path, Host from
 * :authority), and its DATA as the body; without content-length the DATA go in as chunks.
 * nghttp2 has already checked the fields (RFC 9113 §8.2: names lowercase, no connection
 * fields, pseudo-fields first and complete, content-length equal to the DATA received), and
 * our parser applies its own limits on top (head size, field count, body size).
 *
 * Limits: 16 concurrent streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS), 16 KiB of
 * header fields (SETTINGS_MAX_HEADER_LIST_SIZE, and the parser's head buffer), a stream window
 * of 1 MiB and a connection window of 16 MiB; a stream with no free slot or body buffer is
 * refused with RST_STREAM(REFUSED_STREAM), which clients retry. Malformed frames and flow-
 * control violations end in nghttp2's GOAWAY or RST_STREAM; a stream whose head our parser
 * refuses is reset with PROTOCOL_ERROR, one whose body it refuses (413, a bad chunk) gets
 * that status as its answer. A connection with no stream open for the idle timeout gets
 * GOAWAY(NO_ERROR) and is closed.
 *
 * What allocates: nghttp2 itself (the session at the preface, then stream and HPACK state),
 * through the C library's malloc — per connection and per request, never per packet we
 * copy. docs/internals/http2.md.
 */
#include <stdio.h>
#include <string.h>

#include <nghttp2/nghttp2.h>
#include <rte_mbuf.h>

#include <spate/assert.h>
#include <spate/err.h>

#include "../tcp/tcp.h"
#include "api_worker.h"

#define H2_MAX_STREAMS	    16u
#define H2_STREAM_WINDOW    (1u << 20)
#define H2_CONN_WINDOW	    (16u << 20)
#define H2_HEADER_LIST_MAX  SP_HTTP_HEAD_MAX_BYTES
#define H2_FRAME_HD	    9u
#define H2_DATA_MIN	    4096u /* a DATA frame waits for this much send space (or the rest) */
#define H2_ATTACH_MAX	    (2u * H2_MAX_STREAMS)
#define H2_RESP_FIELDS_MAX  16u
#define H2_CORS_EXTRA_LINES 6u

/* One HTTP/2 connection: its session and the exchanges of its open streams. */
struct sp_api_h2 {
	nghttp2_session *s;
	struct sp_api_conn *conn;
	uint32_t nstreams;
	struct sp_api_conn *streams[H2_ATTACH_MAX];
	bool in_recv;	/* inside mem_recv: callbacks queue, the caller sends */
	bool in_send;	/* inside session_send */
	bool fin_sent;	/* TCP close requested */
	/* frames of one session_send, handed to TCP as one chain (fewer, fuller segments) */
	struct rte_mbuf *out_head;
	struct rte_mbuf *out_tail;
	uint32_t out_len;
};

/* ---- exchanges attached to a session ---- */

static bool
h2_attach(struct sp_api_h2 *h2, struct sp_api_conn *x)
{
	if (h2->nstreams == H2_ATTACH_MAX) {
		return false;
	}
	h2->streams[h2->nstreams++] = x;
	return true;
}

static void
h2_detach(struct sp_api_h2 *h2, struct sp_api_conn *x)
{
	for (uint32_t i = 0; i < h2->nstreams; i++) {
		if (h2->streams[i] == x) {
			h2->streams[i] = h2->streams[--h2->nstreams];
			return;
		}
	}
	SP_VERIFY(false); /* an exchange is attached while its stream is open */
}

/* The stream is over for this exchange: free its slot, or leave that to its answer. */
static void
h2_release(struct sp_api_conn *x)
{
	if (x->ps->sub) {
		sp_api_sub_drop(x); /* a subscription's stream: out of the worker's table */
	}
	x->tcb = NULL;
	if (x->state != SP_API_CONN_ASYNC) {
		sp_api_conn_free(x);
	}
	/* ASYNC: messages are out on other lcores; sp_api_respond*() reaps the slot */
}

/* ---- output ---- */

static void
h2_close_if_done(struct sp_api_h2 *h2)
{
	struct sp_api_conn *c = h2->conn;
	bool want_read = nghttp2_session_want_read(h2->s) != 0;
	bool want_write = nghttp2_session_want_write(h2->s) != 0;

	if (h2->fin_sent || c->tcb == NULL || want_write) {
		return;
	}
	if (!want_read || (c->peer_closed && h2->nstreams == 0)) {
		h2->fin_sent = true;
		sp_api_conn_close(c);
	}
}

/* Send space (the transport's: TLS less record overhead) not yet taken by the chain gathered. */
static uint32_t
h2_space(const struct sp_api_h2 *h2)
{
	uint32_t space = sp_api_conn_tx_space(h2->conn);

	return space > h2->out_len ? space - h2->out_len : 0;
}

static void
h2_gather(struct sp_api_h2 *h2, struct rte_mbuf *m)
{
	h2->out_len += m->pkt_len;
	if (h2->out_head == NULL) {
		h2->out_head = m;
	} else {
		SP_VERIFY(rte_pktmbuf_chain(h2->out_head, m) == 0);
	}
	h2->out_tail = m;
}

/* Send what the session has queued, as far as TCP takes it. */
static void
h2_flush(struct sp_api_h2 *h2)
{
	struct sp_api_conn *c = h2->conn;
	int rv;

	if (h2->in_recv || h2->in_send || c->tcb == NULL) {
		return;
	}
	h2->in_send = true;
	rv = nghttp2_session_send(h2->s);
	h2->in_send = false;
	if (h2->out_head != NULL) {
		struct rte_mbuf *m = h2->out_head;

		h2->out_head = NULL;
		h2->out_tail = NULL;
		h2->out_len = 0;
		if (sp_api_conn_tx(c, m) != 0) {
			/* within the space it reported: only a closing connection refuses */
			rte_pktmbuf_free(m);
			rv = NGHTTP2_ERR_CALLBACK_FAILURE;
		}
	}
	if (rv != 0) {
		c->api->cnt.h2_fatal++;
		sp_tcp_abort(c->api->tcp, c->tcb);
		return;
	}
	h2_close_if_done(h2);
}

static ssize_t
h2_send_cb(nghttp2_session *s, const uint8_t *data, size_t length, int flags, void *user)
{
	struct sp_api_h2 *h2 = user;
	struct sp_api_conn *c = h2->conn;
	struct sp_api *api = c->api;
	struct rte_mbuf *m;
	uint32_t n;

	(void)s;
	(void)flags;
	if (c->tcb == NULL) {
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	n = (uint32_t)SP_MIN(length, h2_space(h2));
	if (n == 0) {
		return NGHTTP2_ERR_WOULDBLOCK;
	}
	m = sp_api_pack(api, NULL, 0, data, n);
	if (m == NULL) {
		api->cnt.mbuf_fail++;
		return NGHTTP2_ERR_WOULDBLOCK; /* the sweep sends again */
	}
	h2_gather(h2, m);
	return (ssize_t)n;
}

/*
 * How much of an answer the next DATA frame carries: what the peer's window and the frame
 * size allow (length), as far as TCP's send space goes; none (DEFERRED until TCP reports
 * space) when that is less than H2_DATA_MIN and less than the rest.
 */
static ssize_t
h2_read_cb(nghttp2_session *s, int32_t stream_id, uint8_t *buf, size_t length,
	   uint32_t *data_flags, nghttp2_data_source *source, void *user)
{
	struct sp_api_h2 *h2 = user;
	struct sp_api_conn *x = source->ptr;
	struct sp_api_conn *c = h2->conn;
	uint32_t space, want;

	(void)s;
	(void)stream_id;
	(void)buf;
	SP_VERIFY(x->owner == c &&
		  (x->state == SP_API_CONN_SEND || (x->ps->streaming && x->out_len == 0)));
	if (c->tcb == NULL) {
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	space = h2_space(h2);
	space = space > H2_FRAME_HD ? space - H2_FRAME_HD : 0;
	want = (uint32_t)SP_MIN((size_t)x->out_len, length);
	if (want == 0 && x->ps->streaming) {
		if (!x->ps->stream_end) {
			x->ps->deferred = true; /* the next event resumes it */
			return NGHTTP2_ERR_DEFERRED;
		}
		*data_flags |= NGHTTP2_DATA_FLAG_EOF;
		return 0;
	}
	if (space < want) {
		if (space < H2_DATA_MIN) {
			x->ps->deferred = true;
			return NGHTTP2_ERR_DEFERRED;
		}
		want = space;
	}
	*data_flags |= NGHTTP2_DATA_FLAG_NO_COPY;
	if (want == x->out_len && (!x->ps->streaming || x->ps->stream_end)) {
		*data_flags |= NGHTTP2_DATA_FLAG_EOF;
	}
	return (ssize_t)want;
}

static int
h2_send_data_cb(nghttp2_session *s, nghttp2_frame *frame, const uint8_t *framehd, size_t length,
		nghttp2_data_source *source, void *user)
{
	struct sp_api_h2 *h2 = user;
	struct sp_api_conn *x = source->ptr;
	struct sp_api_conn *c = h2->conn;
	struct sp_api *api = c->api;
	struct rte_mbuf *m;

	(void)s;
	SP_VERIFY(frame->data.padlen == 0 && length <= x->out_len);
	if (c->tcb == NULL) {
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	if (h2_space(h2) < H2_FRAME_HD + length) {
		return NGHTTP2_ERR_WOULDBLOCK;
	}
	/* the frame header copied, the payload by reference to x's buffer (api_buf.h) */
	m = sp_api_pack_answer(api, &x->buf, framehd, H2_FRAME_HD, x->out, (uint32_t)length);
	if (m == NULL) {
		api->cnt.mbuf_fail++;
		return NGHTTP2_ERR_WOULDBLOCK;
	}
	h2_gather(h2, m);
	x->out += length;
	x->out_len -= (uint32_t)length;
	x->deadline_ms = sp_api_now_ms(api) + api->g->conf.send_timeout_ms; /* progress */
	return 0;
}

static int
h2_frame_send_cb(nghttp2_session *s, const nghttp2_frame *frame, void *user)
{
	struct sp_api_h2 *h2 = user;

	(void)s;
	if (frame->hd.type == NGHTTP2_GOAWAY) {
		h2->conn->api->cnt.h2_goaways++;
	}
	return 0;
}

/* ---- input: a stream's request into its exchange's parser ---- */

static void
h2_reset(struct sp_api_conn *x, uint32_t code)
{
	x->ps->failed = true;
	(void)nghttp2_submit_rst_stream(x->h2->s, NGHTTP2_FLAG_NONE, x->stream_id, code);
}

/*
 * The parser refused the request: reset the stream while its head is incomplete, else answer.
 * A content-length over the body limit is answered (413, as HTTP/1.1 does) even though the
 * parser stopped in the head: the request line is known, and the stream is open.
 */
static void
h2_refuse(struct sp_api_conn *x, int rc)
{
	x->api->cnt.http_errors++;
	if (sp_http_state(&x->http) != SP_HTTP_STATE_BODY &&
	    !(rc == SP_HTTP_E_BODY_TOO_LARGE && x->ps->line_done)) {
		h2_reset(x, NGHTTP2_PROTOCOL_ERROR);
		return;
	}
	x->ps->failed = true;
	x->state = SP_API_CONN_ASYNC; /* as a request does before its answer */
	sp_api_respond_raw(x, (uint16_t)sp_http_error_status(rc), "text/plain", "", 0);
}

static void
h2_dispatch(struct sp_api_conn *x)
{
	struct sp_api *api = x->api;

	x->state = SP_API_CONN_ASYNC; /* the router decides; it always answers */
	x->nreq++;
	api->cnt.requests++;
	sp_api_dispatch(x);
}

/* Feed bytes to the exchange's parser; false when the stream is over for them. */
static bool
h2_feed(struct sp_api_conn *x, const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len > 0 && !x->ps->failed && x->state == SP_API_CONN_READ) {
		size_t used = 0;
		int rc = sp_http_parse(&x->http, b, len, &used);

		SP_VERIFY(used <= len);
		b += used;
		len -= used;
		if (rc == SP_AGAIN) {
			continue;
		}
		if (rc == SP_HTTP_HEAD_DONE) {
			if (!sp_api_conn_take_buffer(x)) {
				x->api->cnt.h2_refused++;
				h2_reset(x, NGHTTP2_REFUSED_STREAM);
				return false;
			}
			x->deadline_ms = sp_api_now_ms(x->api) + x->api->g->conf.body_timeout_ms;
			continue;
		}
		if (rc == SP_HTTP_DONE) {
			if (len > 0) {
				h2_refuse(x, SP_HTTP_E_BAD_LENGTH);
				return false;
			}
			h2_dispatch(x);
			return true;
		}
		SP_VERIFY(rc < 0);
		h2_refuse(x, rc);
		return false;
	}
	return !x->ps->failed;
}

static bool
h2_feed_str(struct sp_api_conn *x, const char *s)
{
	return h2_feed(x, s, strlen(s));
}

/* The request line and Host, once :method and :path are known. */
static bool
h2_request_line(struct sp_api_conn *x)
{
	struct sp_api_h2_pseudo *ps = x->ps;

	if (ps->line_done) {
		return true;
	}
	if (ps->method_len == 0 || ps->path_len == 0) {
		h2_reset(x, NGHTTP2_PROTOCOL_ERROR); /* nghttp2 lets a CONNECT through */
		return false;
	}
	ps->line_done = true;
	if (!h2_feed(x, ps->method, ps->method_len) || !h2_feed_str(x, " ") ||
	    !h2_feed(x, ps->path, ps->path_len) || !h2_feed_str(x, " HTTP/1.1\r\n")) {
		return false;
	}
	if (ps->auth_len > 0) {
		return h2_feed_str(x, "host: ") && h2_feed(x, ps->auth, ps->auth_len) &&
		       h2_feed_str(x, "\r\n");
	}
	return true;
}

static bool
h2_name_is(const uint8_t *name, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(name, lit, len) == 0;
}

static bool
h2_keep(char *dst, size_t cap, const uint8_t *v, size_t len, void *len_out, bool wide)
{
	if (len == 0 || len > cap) {
		return false;
	}
	memcpy(dst, v, len);
	if (wide) {
		*(uint16_t *)len_out = (uint16_t)len;
	} else {
		*(uint8_t *)len_out = (uint8_t)len;
	}
	return true;
}

static struct sp_api_conn *
h2_exchange(struct sp_api_h2 *h2, int32_t stream_id)
{
	struct sp_api_conn *x = nghttp2_session_get_stream_user_data(h2->s, stream_id);

	if (x == NULL || x->ps->failed || x->state != SP_API_CONN_READ) {
		return NULL;
	}
	return x;
}

static int
h2_begin_headers_cb(nghttp2_session *s, const nghttp2_frame *frame, void *user)
{
	struct sp_api_h2 *h2 = user;
	struct sp_api_conn *c = h2->conn;
	struct sp_api *api = c->api;
	struct sp_api_conn *x;

	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
		return 0;
	}
	x = h2->nstreams < H2_ATTACH_MAX ? sp_api_conn_take(api) : NULL;
	if (x == NULL) {
		api->cnt.h2_refused++;
		(void)nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
						NGHTTP2_REFUSED_STREAM);
		return 0;
	}
	x->tcb = c->tcb;
	x->state = SP_API_CONN_READ;
	x->owner = c;
	x->h2 = h2;
	x->stream_id = frame->hd.stream_id;
	x->ps = &api->h2_pseudo[x->idx];
	memset(x->ps, 0, sizeof(*x->ps));
	x->in = NULL;
	x->in_off = 0;
	x->out = NULL;
	x->out_len = 0;
	x->close_after = false;
	x->peer_closed = false;
	x->sent_continue = true; /* no 100 Continue on a stream */
	x->cors = false;
	x->cors_extra = NULL;
	x->next_wait = NULL;
	sp_http_req_reset(&x->http);
	x->deadline_ms = sp_api_now_ms(api) + api->g->conf.head_timeout_ms;
	SP_VERIFY(h2_attach(h2, x));
	SP_VERIFY(nghttp2_session_set_stream_user_data(s, x->stream_id, x) == 0);
	api->cnt.h2_streams++;
	return 0;
}

static int
h2_header_cb(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
	     const uint8_t *value, size_t valuelen, uint8_t flags, void *user)
{
	struct sp_api_h2 *h2 = user;
	struct sp_api_conn *x;
	struct sp_api_h2_pseudo *ps;

	(void)s;
	(void)flags;
	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
		return 0; /* trailers: nothing of ours is in them */
	}
	x = h2_exchange(h2, frame->hd.stream_id);
	if (x == NULL) {
		return 0;
	}
	ps = x->ps;
	if (namelen > 0 && name[0] == ':') {
		bool ok = true;

		if (h2_name_is(name, namelen, ":method")) {
			ok = h2_keep(ps->method, sizeof(ps->method), value, valuelen,
				     &ps->method_len, false);
		} else if (h2_name_is(name, namelen, ":path")) {
			ok = h2_keep(ps->path, sizeof(ps->path), value, valuelen, &ps->path_len,
				     true);
		} else if (h2_name_is(name, namelen, ":authority")) {
			ok = h2_keep(ps->auth, sizeof(ps->auth), value, valuelen, &ps->auth_len,
				     true);
		}
		if (!ok) {
			x->api->cnt.http_errors++;
			h2_reset(x, NGHTTP2_PROTOCOL_ERROR);
		}
		return 0;
	}
	if (!h2_request_line(x)) {
		return 0;
	}
	if (h2_name_is(name, namelen, "host") && ps->auth_len > 0) {
		return 0; /* :authority stands for it (RFC 9113 §8.3.1) */
	}
	if (h2_name_is(name, namelen, "content-length")) {
		ps->has_length = true;
	}
	(void)(h2_feed(x, name, namelen) && h2_feed_str(x, ": ") && h2_feed(x, value, valuelen) &&
	       h2_feed_str(x, "\r\n"));
	return 0;
}

static void
h2_end_of_request(struct sp_api_conn *x)
{
	if (x->ps->chunked) {
		(void)h2_feed_str(x, "0\r\n\r\n");
	}
}

static int
h2_frame_recv_cb(nghttp2_session *s, const nghttp2_frame *frame, void *user)
{
	struct sp_api_h2 *h2 = user;
	struct sp_api_conn *x;
	bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;

	(void)s;
	if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) {
		return 0;
	}
	x = h2_exchange(h2, frame->hd.stream_id);
	if (x == NULL) {
		return 0;
	}
	if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
		if (!h2_request_line(x)) {
			return 0;
		}
		if (!x->ps->has_length && !end) {
			x->ps->chunked = true;
			if (!h2_feed_str(x, "transfer-encoding: chunked\r\n")) {
				return 0;
			}
		}
		if (!h2_feed_str(x, "\r\n") || !end) {
			return 0;
		}
	} else if (!end) {
		return 0;
	}
	h2_end_of_request(x);
	return 0;
}

static int
h2_data_chunk_cb(nghttp2_session *s, uint8_t flags, int32_t stream_id, const uint8_t *data,
		 size_t len, void *user)
{
	struct sp_api_h2 *h2 = user;
	struct sp_api_conn *x = h2_exchange(h2, stream_id);
	char size[24];

	(void)s;
	(void)flags;
	if (x == NULL || len == 0) {
		return 0;
	}
	if (!x->ps->chunked) {
		(void)h2_feed(x, data, len);
		return 0;
	}
	snprintf(size, sizeof(size), "%zx\r\n", len);
	(void)(h2_feed_str(x, size) && h2_feed(x, data, len) && h2_feed_str(x, "\r\n"));
	return 0;
}

static int
h2_stream_close_cb(nghttp2_session *s, int32_t stream_id, uint32_t error_code, void *user)
{
	struct sp_api_h2 *h2 = user;
	struct sp_api_conn *x = nghttp2_session_get_stream_user_data(s, stream_id);

	if (x == NULL) {
		return 0;
	}
	if (error_code != NGHTTP2_NO_ERROR || x->out_len > 0 || x->state != SP_API_CONN_SEND) {
		x->api->cnt.h2_stream_resets++;
	}
	h2_detach(h2, x);
	h2_release(x);
	return 0;
}

/* ---- the answer of an exchange ---- */

/* Lowercase copy of a field name into dst (HTTP/2 field names are lowercase). */
static size_t
h2_lower(char *dst, size_t cap, const char *src, size_t len)
{
	size_t n = SP_MIN(len, cap);

	for (size_t i = 0; i < n; i++) {
		char ch = src[i];

		dst[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
	}
	return n;
}

static void
h2_nv(nghttp2_nv *nv, const char *name, size_t nlen, const char *value, size_t vlen)
{
	nv->name = (uint8_t *)(uintptr_t)name;
	nv->namelen = nlen;
	nv->value = (uint8_t *)(uintptr_t)value;
	nv->valuelen = vlen;
	nv->flags = NGHTTP2_NV_FLAG_NONE;
}

#define H2_NV_LIT(nv, name, value, vlen) h2_nv(nv, name, sizeof(name) - 1, value, vlen)

void
sp_api_h2_respond(struct sp_api_conn *x, uint16_t status, const char *ctype, enum sp_kerr kerr,
		  const char *body, uint32_t len)
{
	struct sp_api_h2 *h2 = x->h2;
	struct sp_api *api = x->api;
	nghttp2_nv nv[H2_RESP_FIELDS_MAX];
	char st[8], clen[16], date[64], rid[SP_API_REQUEST_ID_BYTES];
	char names[H2_CORS_EXTRA_LINES][64];
	nghttp2_data_provider prd = {.source = {.ptr = x}, .read_callback = h2_read_cb};
	size_t n = 0, ne = 0;
	int rv;

	SP_VERIFY(x->owner != NULL && x->tcb != NULL && h2 != NULL);
	snprintf(st, sizeof(st), "%u", status);
	snprintf(clen, sizeof(clen), "%u", len);
	sp_api_request_id(api, rid);
	sp_http_format_date((int64_t)(sp_api_now_ms(api) / 1000u), date, sizeof(date));
	H2_NV_LIT(&nv[n++], ":status", st, strlen(st));
	H2_NV_LIT(&nv[n++], "x-amzn-requestid", rid, strlen(rid));
	H2_NV_LIT(&nv[n++], "content-type", ctype, strlen(ctype));
	H2_NV_LIT(&nv[n++], "content-length", clen, strlen(clen));
	H2_NV_LIT(&nv[n++], "date", date, strlen(date));
	if (kerr != SP_KERR_NONE) {
		const char *t = sp_kerr_table[kerr].type;

		H2_NV_LIT(&nv[n++], "x-amzn-errortype", t, strlen(t));
	}
	if (x->cors) {
		static const char expose[] = "x-amzn-RequestId,x-amzn-ErrorType,x-amz-request-id,"
					     "x-amz-id-2,x-amzn-ErrorMessage,Date";

		H2_NV_LIT(&nv[n++], "access-control-allow-origin", "*", 1);
		H2_NV_LIT(&nv[n++], "access-control-expose-headers", expose, sizeof(expose) - 1);
	}
	/* a preflight's echoed fields: "Name: value\r\n" lines */
	for (const char *p = x->cors_extra; p != NULL && *p != '\0';) {
		const char *eol = strstr(p, "\r\n");
		const char *colon = eol != NULL ? memchr(p, ':', (size_t)(eol - p)) : NULL;
		const char *v;
		size_t nl;

		if (colon == NULL || ne == H2_CORS_EXTRA_LINES || n == H2_RESP_FIELDS_MAX) {
			break;
		}
		nl = h2_lower(names[ne], sizeof(names[ne]), p, (size_t)(colon - p));
		for (v = colon + 1; v < eol && *v == ' '; v++) {
		}
		h2_nv(&nv[n++], names[ne++], nl, v, (size_t)(eol - v));
		p = eol + 2;
	}
	x->out = body;
	x->out_len = len;
	x->state = SP_API_CONN_SEND;
	x->deadline_ms = sp_api_now_ms(api) + api->g->conf.send_timeout_ms;
	rv = nghttp2_submit_response(h2->s, x->stream_id, nv, n, len > 0 ? &prd : NULL);
	if (rv != 0) {
		/* the stream cannot take an answer any more (it is being reset): let it go */
		api->cnt.h2_stream_resets++;
		(void)nghttp2_submit_rst_stream(h2->s, NGHTTP2_FLAG_NONE, x->stream_id,
						NGHTTP2_INTERNAL_ERROR);
	}
	h2_flush(h2);
}

void
sp_api_h2_stream_begin(struct sp_api_conn *x, const char *ctype)
{
	struct sp_api_h2 *h2 = x->h2;
	struct sp_api *api = x->api;
	nghttp2_nv nv[4];
	char date[64], rid[SP_API_REQUEST_ID_BYTES];
	nghttp2_data_provider prd = {.source = {.ptr = x}, .read_callback = h2_read_cb};

	SP_VERIFY(x->owner != NULL && x->tcb != NULL && h2 != NULL);
	sp_api_request_id(api, rid);
	sp_http_format_date((int64_t)(sp_api_now_ms(api) / 1000u), date, sizeof(date));
	H2_NV_LIT(&nv[0], ":status", "200", 3);
	H2_NV_LIT(&nv[1], "x-amzn-requestid", rid, strlen(rid));
	H2_NV_LIT(&nv[2], "content-type", ctype, strlen(ctype));
	H2_NV_LIT(&nv[3], "date", date, strlen(date));
	x->out = NULL;
	x->out_len = 0;
	x->state = SP_API_CONN_SEND;
	x->ps->streaming = true;
	x->ps->stream_end = false;
	if (nghttp2_submit_response(h2->s, x->stream_id, nv, SP_ARRAY_SIZE(nv), &prd) != 0) {
		api->cnt.h2_stream_resets++;
		(void)nghttp2_submit_rst_stream(h2->s, NGHTTP2_FLAG_NONE, x->stream_id,
						NGHTTP2_INTERNAL_ERROR);
	}
	h2_flush(h2);
}

void
sp_api_h2_stream_push(struct sp_api_conn *x)
{
	SP_VERIFY(x->ps->streaming && x->tcb != NULL);
	/* a piece queued: the client has send_timeout to let some of it through */
	x->deadline_ms = sp_api_now_ms(x->api) + x->api->g->conf.send_timeout_ms;
	if (x->ps->deferred) {
		x->ps->deferred = false;
		(void)nghttp2_session_resume_data(x->h2->s, x->stream_id);
	}
	h2_flush(x->h2);
}

void
sp_api_h2_stream_end(struct sp_api_conn *x)
{
	x->ps->stream_end = true;
	sp_api_h2_stream_push(x);
}

/* ---- the connection ---- */

bool
sp_api_h2_start(struct sp_api_conn *c)
{
	struct sp_api *api = c->api;
	struct sp_api_h2 *h2 = &api->h2s[c->idx];
	nghttp2_settings_entry iv[] = {
	    {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2_MAX_STREAMS},
	    {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_STREAM_WINDOW},
	    {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, H2_HEADER_LIST_MAX},
	};

	memset(h2, 0, sizeof(*h2));
	h2->conn = c;
	if (nghttp2_session_server_new2(&h2->s, api->h2_callbacks, h2, api->h2_option) != 0) {
		return false;
	}
	if (nghttp2_submit_settings(h2->s, NGHTTP2_FLAG_NONE, iv, SP_ARRAY_SIZE(iv)) != 0 ||
	    nghttp2_session_set_local_window_size(h2->s, NGHTTP2_FLAG_NONE, 0, H2_CONN_WINDOW) !=
		0) {
		nghttp2_session_del(h2->s);
		h2->s = NULL;
		return false;
	}
	c->h2 = h2;
	c->state = SP_API_CONN_H2;
	sp_http_req_reset(&c->http); /* the preface is not a request */
	c->deadline_ms = sp_api_now_ms(api) + api->g->conf.idle_timeout_ms;
	api->cnt.h2_sessions++;
	sp_api_h2_input(c); /* frames that came with the preface */
	return true;
}

void
sp_api_h2_input(struct sp_api_conn *c)
{
	struct sp_api_h2 *h2 = c->h2;
	struct sp_api *api = c->api;

	SP_VERIFY(c->state == SP_API_CONN_H2 && h2 != NULL);
	h2->in_recv = true;
	while (c->tcb != NULL && (c->in != NULL || sp_api_conn_pull(c))) {
		const uint8_t *p = rte_pktmbuf_mtod_offset(c->in, const uint8_t *, c->in_off);
		size_t avail = c->in->data_len - c->in_off;
		ssize_t rv = nghttp2_session_mem_recv(h2->s, p, avail);

		if (rv < 0) {
			/* flooding, an allocation failure: nothing more can be read or trusted */
			h2->in_recv = false;
			api->cnt.h2_fatal++;
			rte_pktmbuf_free(c->in);
			c->in = NULL;
			sp_tcp_abort(api->tcp, c->tcb);
			return;
		}
		SP_VERIFY((size_t)rv == avail); /* this session never pauses */
		sp_api_conn_consumed(c, (uint32_t)rv);
	}
	h2->in_recv = false;
	c->deadline_ms = sp_api_now_ms(api) + api->g->conf.idle_timeout_ms;
	if (c->peer_closed && c->in == NULL) {
		/* the client sends no more: answer what is open, then end */
		(void)nghttp2_session_terminate_session(h2->s, NGHTTP2_NO_ERROR);
	}
	h2_flush(h2);
}

void
sp_api_h2_output(struct sp_api_conn *c)
{
	struct sp_api_h2 *h2 = c->h2;

	SP_VERIFY(c->state == SP_API_CONN_H2 && h2 != NULL);
	for (uint32_t i = 0; i < h2->nstreams; i++) {
		struct sp_api_conn *x = h2->streams[i];

		if (x->ps->deferred) {
			x->ps->deferred = false;
			(void)nghttp2_session_resume_data(h2->s, x->stream_id);
		}
	}
	h2_flush(h2);
}

void
sp_api_h2_closed(struct sp_api_conn *c)
{
	struct sp_api_h2 *h2 = c->h2;

	SP_VERIFY(c->state == SP_API_CONN_H2 && h2 != NULL);
	while (h2->nstreams > 0) {
		struct sp_api_conn *x = h2->streams[--h2->nstreams];

		if (x->state != SP_API_CONN_SEND || x->out_len > 0) {
			c->api->cnt.h2_stream_resets++;
		}
		h2_release(x);
	}
	nghttp2_session_del(h2->s); /* calls none of our callbacks */
	h2->s = NULL;
	c->h2 = NULL;
	c->state = SP_API_CONN_CLOSING;
}

void
sp_api_h2_sweep(struct sp_api_conn *c, uint64_t now_ms)
{
	struct sp_api *api = c->api;

	if (c->owner != NULL) {
		/* a stream whose request stopped arriving: slowloris on one stream */
		if (c->state == SP_API_CONN_READ && !c->ps->failed && now_ms >= c->deadline_ms) {
			if (sp_http_state(&c->http) == SP_HTTP_STATE_BODY) {
				api->cnt.timeouts_body++;
			} else {
				api->cnt.timeouts_head++;
			}
			h2_reset(c, NGHTTP2_CANCEL);
			h2_flush(c->h2);
		} else if (c->state == SP_API_CONN_SEND && c->out_len > 0 && !c->ps->failed &&
			   now_ms >= c->deadline_ms) {
			/* an answer the client lets none of through (no WINDOW_UPDATE) */
			api->cnt.timeouts_send++;
			h2_reset(c, NGHTTP2_CANCEL);
			h2_flush(c->h2);
		}
		return;
	}
	if (c->h2->nstreams == 0 && now_ms >= c->deadline_ms &&
	    nghttp2_session_want_read(c->h2->s)) {
		api->cnt.timeouts_idle++;
		(void)nghttp2_session_terminate_session(c->h2->s, NGHTTP2_NO_ERROR);
	}
	sp_api_h2_output(c); /* output held for want of mbufs, streams deferred */
}

void
sp_api_h2_goaway(struct sp_api_conn *c)
{
	SP_VERIFY(c->state == SP_API_CONN_H2 && c->h2 != NULL);
	(void)nghttp2_session_terminate_session(c->h2->s, NGHTTP2_NO_ERROR);
	h2_flush(c->h2);
}

int
sp_api_h2_init(struct sp_api *api)
{
	nghttp2_session_callbacks *cbs;
	nghttp2_option *opt;

	api->h2s = calloc(api->nconns, sizeof(*api->h2s));
	api->h2_pseudo = calloc(api->nconns, sizeof(*api->h2_pseudo));
	if (api->h2s == NULL || api->h2_pseudo == NULL ||
	    nghttp2_session_callbacks_new(&cbs) != 0) {
		return -ENOMEM;
	}
	api->h2_callbacks = cbs;
	nghttp2_session_callbacks_set_send_callback(cbs, h2_send_cb);
	nghttp2_session_callbacks_set_send_data_callback(cbs, h2_send_data_cb);
	nghttp2_session_callbacks_set_on_frame_send_callback(cbs, h2_frame_send_cb);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, h2_begin_headers_cb);
	nghttp2_session_callbacks_set_on_header_callback(cbs, h2_header_cb);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, h2_frame_recv_cb);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, h2_data_chunk_cb);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, h2_stream_close_cb);
	if (nghttp2_option_new(&opt) != 0) {
		return -ENOMEM;
	}
	api->h2_option = opt;
	/* the connection's parser has consumed the preface */
	nghttp2_option_set_no_recv_client_magic(opt, 1);
	return 0;
}

void
sp_api_h2_fini(struct sp_api *api)
{
	for (uint32_t i = 0; api->h2s != NULL && i < api->nconns; i++) {
		if (api->h2s[i].s != NULL) {
			nghttp2_session_del(api->h2s[i].s);
			api->h2s[i].s = NULL;
		}
	}
	nghttp2_session_callbacks_del(api->h2_callbacks);
	nghttp2_option_del(api->h2_option);
	api->h2_callbacks = NULL;
	api->h2_option = NULL;
	free(api->h2s);
	free(api->h2_pseudo);
	api->h2s = NULL;
	api->h2_pseudo = NULL;
}
