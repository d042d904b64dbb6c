/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for api_h2.c: HTTP/2 frames from a client go through nghttp2 and api_h2.c's
 * own callbacks (the file is included here, so its statics are the code under test, not a
 * copy), which write each stream's fields into the HTTP/1.1 parser (dataplane/http) as text.
 * What api_h2.c calls outside itself (the connection table, body buffers, TCP, the router)
 * is this harness: one connection, a pool of exchange slots, real mbufs from an EAL mempool
 * (no hugepages, no device), a send space the input chooses, and a router that answers every
 * request at once with a small body (so answers, flow control and DATA frames run too).
 *
 * Input: byte 0 chooses the send space (nothing, little, plenty), byte 1 the segment size the
 * client's bytes arrive in, byte 2 how many exchange slots and body buffers exist (REFUSED_STREAM
 * paths). The rest is the client's byte stream after the preface (the HTTP/1.1 parser consumes
 * the preface, so the session is told not to expect it), frames from the SETTINGS on.
 *
 * Checked, by wrapping api_h2.c's callbacks (the wrappers record, then call the real ones):
 *   - every request the router gets parsed as exactly the stream's fields: method and target
 *     are :method and :path, the header lines are host (from :authority) then the regular
 *     fields in order (host dropped when :authority is there, values with their OWS trimmed)
 *     and transfer-encoding: chunked when a body comes without content-length; the body is
 *     the DATA received. Nothing injected, nothing lost;
 *   - once a stream's request has ended (END_STREAM), its exchange was dispatched, answered
 *     with an error status (>= 400), or reset: never left waiting;
 *   - a head is refused as too large (431/414) only when the stream's header list is past the
 *     16 KiB it advertised (SETTINGS_MAX_HEADER_LIST_SIZE);
 *   - the server's output is a sequence of whole frames, and at the end of each input every
 *     slot, body buffer and mbuf has been given back (ASan reports leaks and overruns).
 * Any disagreement aborts (SP_VERIFY). docs/internals/http2.md "Fuzzing".
 */
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "../../dataplane/api/api_h2.c"
#include "../unit/sp_test.h"

#define FZ_SLOTS          40u         /* the connection and its exchanges (H2_ATTACH_MAX is 32) */
#define FZ_BODY_MAX       (64u << 10) /* the exchanges' parsers' body limit (413 above it) */
#define FZ_REC_MAX        (48u << 10) /* fields recorded per stream (past it: not compared) */
#define FZ_MBUFS          2047u
#define FZ_HDR_BYTES      3u
#define FZ_LIST_MAX       SP_HTTP_HEAD_MAX_BYTES /* what the session advertises */
#define FZ_FIELD_OVERHEAD 32u                    /* RFC 9113 §6.5.2: each field's size adds 32 */
#define FZ_FRAME_HD       9u
#define FZ_FRAME_MAX      16384u /* DATA payloads nghttp2 writes, answers far shorter */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What one stream sent, recorded from the callbacks' arguments before api_h2.c sees them. */
struct fz_rec {
	char fields[FZ_REC_MAX]; /* regular fields: name, NUL-free value, as (u16 nlen, u16 vlen) */
	uint32_t len;
	uint32_t nfields;
	bool over; /* fields or body past what is recorded: not compared */
	bool has_length;
	bool headers_end; /* END_STREAM on the request's HEADERS */
	uint64_t list_size;
	char method[SP_API_H2_METHOD_MAX];
	char path[SP_API_H2_PATH_MAX];
	char auth[SP_API_H2_AUTH_MAX];
	uint32_t method_len, path_len, auth_len;
	char *body; /* FZ_BODY_MAX */
	uint32_t body_len;
	bool ended; /* END_STREAM seen */
};

static struct rte_mempool *g_mp;
static struct sp_api g_api;
static struct sp_api_global g_glob;
static struct sp_api_conn g_conns[FZ_SLOTS];
static uint32_t g_free[FZ_SLOTS];
static char *g_heads;
static struct fz_rec *g_rec; /* FZ_SLOTS */
static char *g_bodies[FZ_SLOTS];
static uint32_t g_slots_max; /* slots this input may take */
static uint32_t g_bufs_left; /* body buffers this input may take */
static uint32_t g_space;     /* send space the transport reports */
static bool g_closed;        /* the session asked to close or was aborted */
static uint64_t g_out_frame; /* bytes left of the frame being sent */
static uint32_t g_out_hd;    /* bytes of the next frame header gathered */
static uint8_t g_out_hdbuf[FZ_FRAME_HD];
static uint64_t g_now_ms;
static uint8_t g_tcb_dummy;

/* ---- what api_h2.c needs from the rest of the worker ---- */

uint64_t
sp_api_now_ms(const struct sp_api *api)
{
	(void)api;
	return g_now_ms;
}

void
sp_api_request_id(struct sp_api *api, char *out)
{
	(void)api;
	snprintf(out, SP_API_REQUEST_ID_BYTES, "fuzz-%016llx", (unsigned long long)g_now_ms);
}

struct sp_api_conn *
sp_api_conn_take(struct sp_api *api)
{
	struct sp_api_conn *c;

	if (api->nfree_conns == 0 || FZ_SLOTS - api->nfree_conns >= g_slots_max) {
		return NULL;
	}
	c = &api->conns[api->free_conns[--api->nfree_conns]];
	SP_VERIFY(c->state == SP_API_CONN_FREE && c->buf.p == NULL);
	c->h2 = NULL;
	c->owner = NULL;
	c->ps = NULL;
	return c;
}

void
sp_api_conn_free(struct sp_api_conn *c)
{
	free(g_bodies[c->idx]);
	g_bodies[c->idx] = NULL;
	c->buf.p = NULL;
	c->state = SP_API_CONN_FREE;
	c->tcb = NULL;
	c->h2 = NULL;
	c->owner = NULL;
	c->ps = NULL;
	g_api.free_conns[g_api.nfree_conns++] = c->idx;
	SP_VERIFY(g_api.nfree_conns <= FZ_SLOTS);
}

bool
sp_api_conn_take_buffer(struct sp_api_conn *x)
{
	uint64_t hint = sp_http_body_hint(&x->http);

	SP_VERIFY(hint > 0 && hint <= FZ_BODY_MAX && g_bodies[x->idx] == NULL);
	if (g_bufs_left == 0) {
		return false;
	}
	g_bufs_left--;
	g_bodies[x->idx] = malloc(hint); /* exact: ASan sees a byte past it */
	SP_VERIFY(g_bodies[x->idx] != NULL);
	x->buf.p = g_bodies[x->idx];
	sp_http_set_body_buf(&x->http, g_bodies[x->idx], hint);
	return true;
}

bool
sp_api_conn_pull(struct sp_api_conn *c)
{
	return c->in != NULL; /* the driver hands one segment at a time, as TCP does */
}

void
sp_api_conn_consumed(struct sp_api_conn *c, uint32_t n)
{
	SP_VERIFY(c->in != NULL && c->in->next == NULL && c->in_off + n <= c->in->data_len);
	c->in_off += n;
	if (c->in_off == c->in->data_len) {
		rte_pktmbuf_free(c->in);
		c->in = NULL;
		c->in_off = 0;
	}
}

uint32_t
sp_api_conn_tx_space(struct sp_api_conn *c)
{
	SP_VERIFY(c->owner == NULL && c->tcb != NULL);
	return g_space;
}

/* hd then src copied into a new chain of mbufs from the pool, all or nothing. */
struct rte_mbuf *
sp_api_pack(struct sp_api *api, const void *hd, uint32_t hd_len, const void *src, uint32_t len)
{
	const uint8_t *parts[2] = {hd, src};
	uint32_t lens[2] = {hd_len, len};
	struct rte_mbuf *head = NULL, *m = NULL;

	for (unsigned k = 0; k < 2; k++) {
		for (uint32_t off = 0; off < lens[k];) {
			uint32_t n;
			char *p;

			if (m == NULL || rte_pktmbuf_tailroom(m) == 0) {
				struct rte_mbuf *next = rte_pktmbuf_alloc(api->pool);

				if (next == NULL) {
					rte_pktmbuf_free(head);
					return NULL;
				}
				if (head == NULL) {
					head = next;
				} else {
					SP_VERIFY(rte_pktmbuf_chain(head, next) == 0);
				}
				m = next;
			}
			n = SP_MIN(lens[k] - off, (uint32_t)rte_pktmbuf_tailroom(m));
			p = rte_pktmbuf_append(head, (uint16_t)n); /* appends to the last segment */
			SP_VERIFY(p != NULL);
			memcpy(p, parts[k] + off, n);
			off += n;
		}
	}
	return head;
}

/*
 * The answer path as with api_tx_zero_copy=false: this harness's body buffers are not a pool
 * (api_buf.c's lending has its own unit test), so the DATA payload is copied after its header.
 */
struct rte_mbuf *
sp_api_pack_answer(struct sp_api *api, const struct sp_api_buf *b, const void *hd,
		   uint32_t hd_len, const char *src, uint32_t len)
{
	(void)b;
	return sp_api_pack(api, hd, hd_len, src, len);
}

/* The server's bytes: whole frames, one after another (a frame may span several sends). */
static void
fz_out_bytes(const uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n;) {
		if (g_out_frame > 0) {
			uint32_t k = (uint32_t)SP_MIN((uint64_t)(n - i), g_out_frame);

			g_out_frame -= k;
			i += k;
			continue;
		}
		g_out_hdbuf[g_out_hd++] = p[i++];
		if (g_out_hd == FZ_FRAME_HD) {
			g_out_frame =
			    (uint64_t)g_out_hdbuf[0] << 16 | g_out_hdbuf[1] << 8 | g_out_hdbuf[2];
			SP_VERIFY(g_out_frame <= FZ_FRAME_MAX);
			SP_VERIFY(g_out_hdbuf[3] <= NGHTTP2_CONTINUATION); /* a type we know */
			g_out_hd = 0;
		}
	}
}

int
sp_api_conn_tx(struct sp_api_conn *c, struct rte_mbuf *chain)
{
	SP_VERIFY(c->owner == NULL && c->tcb != NULL && chain->pkt_len <= g_space);
	for (struct rte_mbuf *m = chain; m != NULL; m = m->next) {
		fz_out_bytes(rte_pktmbuf_mtod(m, const uint8_t *), m->data_len);
	}
	rte_pktmbuf_free(chain);
	return 0;
}

void
sp_api_conn_close(struct sp_api_conn *c)
{
	SP_VERIFY(c->owner == NULL && c->tcb != NULL);
	g_closed = true;
}

void
sp_tcp_abort(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	(void)tcp;
	SP_VERIFY(tcb == (struct sp_tcb *)&g_tcb_dummy);
	g_closed = true;
}

void
sp_api_sub_drop(struct sp_api_conn *x)
{
	(void)x;
	SP_VERIFY(false); /* the router here starts no subscription */
}

/* The parser refused the request's body: the answer is that status. */
void
sp_api_respond_raw(struct sp_api_conn *c, uint16_t status, const char *ctype, const char *body,
		   uint32_t len)
{
	SP_VERIFY(c->owner != NULL && c->tcb != NULL && status >= 400 && status < 600);
	SP_VERIFY(c->state == SP_API_CONN_ASYNC && c->ps->failed);
	sp_api_h2_respond(c, status, ctype, SP_KERR_NONE, body, len);
}

/* ---- the router: compare the parsed request with what the stream sent, then answer ---- */

static size_t
fz_trim(const char *v, size_t len, const char **out)
{
	while (len > 0 && (v[0] == ' ' || v[0] == '\t')) {
		v++;
		len--;
	}
	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t')) {
		len--;
	}
	*out = v;
	return len;
}

/* Header line i of the parsed request is name: value (the value compared OWS-trimmed). */
static void
fz_expect_line(const struct sp_http_req *h, unsigned i, const char *name, size_t nlen,
	       const char *value, size_t vlen)
{
	const char *n, *v, *tv;
	size_t nl, vl, tl = fz_trim(value, vlen, &tv);

	SP_VERIFY(i < sp_http_header_count(h));
	sp_http_header_at(h, i, &n, &nl, &v, &vl);
	SP_VERIFY(nl == nlen && memcmp(n, name, nlen) == 0);
	SP_VERIFY(vl == tl && (tl == 0 || memcmp(v, tv, tl) == 0));
}

static void
fz_check_request(const struct sp_api_conn *x, const struct fz_rec *r)
{
	const struct sp_http_req *h = &x->http;
	const char *p, *m, *t;
	size_t ml, tl;
	unsigned i = 0;
	bool chunked = !r->has_length && !r->headers_end;

	sp_http_method(h, &m, &ml);
	sp_http_target(h, &t, &tl);
	SP_VERIFY(ml == r->method_len && memcmp(m, r->method, ml) == 0);
	SP_VERIFY(tl == r->path_len && memcmp(t, r->path, tl) == 0);
	SP_VERIFY(sp_http_version(h) == 11 && sp_http_is_chunked(h) == chunked);
	if (r->auth_len > 0) {
		fz_expect_line(h, i++, "host", 4, r->auth, r->auth_len);
	}
	p = r->fields;
	for (uint32_t f = 0; f < r->nfields; f++) {
		uint16_t nl, vl;

		memcpy(&nl, p, 2);
		memcpy(&vl, p + 2, 2);
		if (!(r->auth_len > 0 && nl == 4 && memcmp(p + 4, "host", 4) == 0)) {
			fz_expect_line(h, i++, p + 4, nl, p + 4 + nl, vl);
		}
		p += 4u + nl + vl;
	}
	if (chunked) {
		fz_expect_line(h, i++, "transfer-encoding", 17, "chunked", 7);
	}
	SP_VERIFY(i == sp_http_header_count(h)); /* nothing injected */
	SP_VERIFY(sp_http_body_len(h) == r->body_len);
	SP_VERIFY(r->body_len == 0 || memcmp(sp_http_body(h), r->body, r->body_len) == 0);
}

void
sp_api_dispatch(struct sp_api_conn *x)
{
	static const char body[] = "{}";
	const struct fz_rec *r = &g_rec[x->idx];

	SP_VERIFY(x->owner != NULL && x->state == SP_API_CONN_ASYNC && !x->ps->failed);
	SP_VERIFY(sp_http_state(&x->http) == SP_HTTP_STATE_DONE);
	if (!r->over) {
		fz_check_request(x, r);
	}
	sp_api_h2_respond(x, 200, "application/x-amz-json-1.1", SP_KERR_NONE, body,
			  sizeof(body) - 1);
}

/* ---- wrappers around api_h2.c's callbacks: record, then call the real one ---- */

static struct fz_rec *
fz_rec_of(nghttp2_session *s, int32_t stream_id)
{
	struct sp_api_conn *x = nghttp2_session_get_stream_user_data(s, stream_id);

	return x != NULL ? &g_rec[x->idx] : NULL;
}

static int
fz_begin_headers_cb(nghttp2_session *s, const nghttp2_frame *frame, void *user)
{
	int rv = h2_begin_headers_cb(s, frame, user);
	struct fz_rec *r = fz_rec_of(s, frame->hd.stream_id);

	if (r != NULL && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
		char *body = r->body;

		memset(r, 0, offsetof(struct fz_rec, body));
		r->body = body;
		r->body_len = 0;
		r->ended = false;
	}
	return rv;
}

static void
fz_keep(char *dst, uint32_t *len, size_t cap, const uint8_t *v, size_t vlen, bool *over)
{
	if (vlen > cap) {
		*over = true;
		return;
	}
	memcpy(dst, v, vlen);
	*len = (uint32_t)vlen;
}

static int
fz_header_cb(nghttp2_session *s, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
	     const uint8_t *value, size_t valuelen, uint8_t flags, void *user)
{
	struct fz_rec *r = fz_rec_of(s, frame->hd.stream_id);

	if (r != NULL && frame->hd.type == NGHTTP2_HEADERS &&
	    frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
		r->list_size += namelen + valuelen + FZ_FIELD_OVERHEAD;
		if (h2_name_is(name, namelen, ":method")) {
			fz_keep(r->method, &r->method_len, sizeof(r->method), value, valuelen,
				&r->over);
		} else if (h2_name_is(name, namelen, ":path")) {
			fz_keep(r->path, &r->path_len, sizeof(r->path), value, valuelen, &r->over);
		} else if (h2_name_is(name, namelen, ":authority")) {
			fz_keep(r->auth, &r->auth_len, sizeof(r->auth), value, valuelen, &r->over);
		} else if (namelen > 0 && name[0] != ':') {
			if (4u + namelen + valuelen > FZ_REC_MAX - r->len || namelen > UINT16_MAX ||
			    valuelen > UINT16_MAX) {
				r->over = true;
			} else {
				uint16_t nl = (uint16_t)namelen, vl = (uint16_t)valuelen;

				memcpy(r->fields + r->len, &nl, 2);
				memcpy(r->fields + r->len + 2, &vl, 2);
				memcpy(r->fields + r->len + 4, name, namelen);
				memcpy(r->fields + r->len + 4 + namelen, value, valuelen);
				r->len += 4u + nl + vl;
				r->nfields++;
			}
			r->has_length |= h2_name_is(name, namelen, "content-length");
		}
	}
	return h2_header_cb(s, frame, name, namelen, value, valuelen, flags, user);
}

static int
fz_data_chunk_cb(nghttp2_session *s, uint8_t flags, int32_t stream_id, const uint8_t *data,
		 size_t len, void *user)
{
	struct fz_rec *r = fz_rec_of(s, stream_id);

	if (r != NULL) {
		if (len > FZ_BODY_MAX - r->body_len) {
			r->over = true;
		} else if (len > 0) {
			memcpy(r->body + r->body_len, data, len);
			r->body_len += (uint32_t)len;
		}
	}
	return h2_data_chunk_cb(s, flags, stream_id, data, len, user);
}

static int
fz_frame_recv_cb(nghttp2_session *s, const nghttp2_frame *frame, void *user)
{
	bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
	bool ours = frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA;
	struct sp_api_conn *x = ours ? h2_exchange(user, frame->hd.stream_id) : NULL;
	int rv;

	if (x != NULL && frame->hd.type == NGHTTP2_HEADERS &&
	    frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
		g_rec[x->idx].headers_end = end;
	}
	rv = h2_frame_recv_cb(s, frame, user);
	if (x != NULL && end) {
		/* the request is over: dispatched (answered), refused with a status, or reset */
		SP_VERIFY(x->state != SP_API_CONN_READ || x->ps->failed);
		g_rec[x->idx].ended = true;
	}
	return rv;
}

static int
fz_stream_close_cb(nghttp2_session *s, int32_t stream_id, uint32_t error_code, void *user)
{
	struct sp_api_conn *x = nghttp2_session_get_stream_user_data(s, stream_id);

	if (x != NULL) {
		const struct fz_rec *r = &g_rec[x->idx];
		int err = x->http.err;

		/* too large only past the header list size the session advertised */
		SP_VERIFY((err != SP_HTTP_E_HEAD_TOO_LARGE && err != SP_HTTP_E_URI_TOO_LONG) ||
			  r->over || r->list_size > FZ_LIST_MAX);
	}
	return h2_stream_close_cb(s, stream_id, error_code, user);
}

/* ---- the driver ---- */

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	nghttp2_session_callbacks *cbs;

	(void)argc;
	sp_test_eal_init((*argv)[0]);
	g_mp = rte_pktmbuf_pool_create("fz_h2", FZ_MBUFS, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	g_heads = malloc((size_t)FZ_SLOTS * SP_HTTP_HEAD_MAX_BYTES);
	g_rec = calloc(FZ_SLOTS, sizeof(*g_rec));
	SP_VERIFY(g_mp != NULL && g_heads != NULL && g_rec != NULL);
	g_glob.conf.head_timeout_ms = 10000;
	g_glob.conf.body_timeout_ms = 10000;
	g_glob.conf.idle_timeout_ms = 60000;
	g_api.g = &g_glob;
	g_api.pool = g_mp;
	g_api.conns = g_conns;
	g_api.nconns = FZ_SLOTS;
	g_api.free_conns = g_free;
	for (uint32_t i = 0; i < FZ_SLOTS; i++) {
		g_rec[i].body = malloc(FZ_BODY_MAX);
		SP_VERIFY(g_rec[i].body != NULL);
		g_conns[i].api = &g_api;
		g_conns[i].idx = i;
		sp_http_req_init(&g_conns[i].http, g_heads + (size_t)i * SP_HTTP_HEAD_MAX_BYTES,
				 SP_HTTP_HEAD_MAX_BYTES, FZ_BODY_MAX);
	}
	SP_VERIFY(sp_api_h2_init(&g_api) == 0);
	cbs = g_api.h2_callbacks;
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, fz_begin_headers_cb);
	nghttp2_session_callbacks_set_on_header_callback(cbs, fz_header_cb);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, fz_frame_recv_cb);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, fz_data_chunk_cb);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, fz_stream_close_cb);
	return 0;
}

static void
fz_reset(const uint8_t *hdr)
{
	static const uint32_t spaces[] = {0, 64, 1500, 16384 + FZ_FRAME_HD, 65535};

	g_api.nfree_conns = 0;
	for (uint32_t i = FZ_SLOTS; i-- > 0;) {
		SP_VERIFY(g_conns[i].state == SP_API_CONN_FREE && g_bodies[i] == NULL);
		g_free[g_api.nfree_conns++] = i;
	}
	g_space = spaces[hdr[0] % (sizeof(spaces) / sizeof(spaces[0]))];
	g_slots_max = 1u + hdr[2] % FZ_SLOTS;
	g_bufs_left = hdr[2] >> 4 == 0 ? 1u : FZ_SLOTS;
	g_closed = false;
	g_out_frame = 0;
	g_out_hd = 0;
	g_now_ms = 1000;
}

/* The client's bytes in segments, as TCP hands them over; then its FIN. */
static void
fz_feed(struct sp_api_conn *c, const uint8_t *data, size_t size, size_t seg)
{
	for (size_t off = 0; off < size && !g_closed && c->tcb != NULL; off += seg) {
		size_t n = SP_MIN(seg, size - off);
		struct rte_mbuf *m = rte_pktmbuf_alloc(g_mp);
		char *p = m != NULL ? rte_pktmbuf_append(m, (uint16_t)n) : NULL;

		SP_VERIFY(p != NULL);
		memcpy(p, data + off, n);
		c->in = m;
		c->in_off = 0;
		sp_api_h2_input(c);
		SP_VERIFY(c->in == NULL); /* the session took it all (or aborted and freed it) */
		g_now_ms += 10;
		sp_api_h2_output(c);
	}
	if (!g_closed && c->tcb != NULL) {
		c->peer_closed = true;
		sp_api_h2_input(c); /* no more bytes: the session answers what is open, then ends */
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sp_api_conn *c;
	size_t seg;

	if (size < FZ_HDR_BYTES) {
		return 0;
	}
	fz_reset(data);
	seg = 1u + (size_t)data[1] * 8u;
	c = sp_api_conn_take(&g_api);
	SP_VERIFY(c != NULL);
	c->tcb = (struct sp_tcb *)&g_tcb_dummy;
	c->state = SP_API_CONN_READ;
	c->in = NULL;
	c->peer_closed = false;
	if (sp_api_h2_start(c)) {
		fz_feed(c, data + FZ_HDR_BYTES, size - FZ_HDR_BYTES, seg);
		sp_api_h2_closed(c); /* TCP's close: every stream let go, the session deleted */
	}
	sp_api_conn_free(c);
	SP_VERIFY(g_api.nfree_conns == FZ_SLOTS); /* every exchange given back */
	SP_VERIFY(rte_mempool_in_use_count(g_mp) == 0);
	return 0;
}
