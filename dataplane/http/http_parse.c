/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Resumable HTTP/1.1 request parser (RFC 9112 message syntax, RFC 9110 semantics). It owns one
 * connection's request state (struct sp_http_req) and the two caller buffers it fills: the
 * head buffer receives the request line, the header field lines and, later, the chunked
 * trailers; the body buffer receives the body, contiguous. It runs on the worker lcore that
 * owns the connection and is fed one slice of an mbuf chain at a time.
 *
 * Invariants: line_start <= head_len <= head_cap; the head is copied line by line (memchr for
 * LF, one memcpy) and each line is checked once, when its LF arrives, so a request split at
 * any byte gives the same verdict, fields and consumed counts as the whole; header offsets
 * point below head_end and stay valid until reset; body_len <= the body limit; no byte past
 * the end of the current request is ever consumed (pipelining). Errors are sticky.
 * No allocation, no syscall; every loop is bounded by the slice or a named limit.
 */
#include <errno.h>
#include <string.h>

#include <spate/assert.h>

#include "http.h"
#include "http_internal.h"

#define T HTTP_C_TCHAR
#define U HTTP_C_TARGET
#define H HTTP_C_HOST
#define X HTTP_C_HEX

/* Ranges do not overlap: each octet is listed once with all its classes. */
const uint8_t sp_http_class[256] = {
	['0' ... '9'] = T | U | H | X,
	['A' ... 'F'] = T | U | H | X,
	['G' ... 'Z'] = T | U | H,
	['a' ... 'f'] = T | U | H | X,
	['g' ... 'z'] = T | U | H,
	['!'] = T | U | H,
	['#'] = T,
	['$'] = T | U | H,
	['%'] = T | U | H,
	['&'] = T | U | H,
	['\''] = T | U | H,
	['('] = U | H,
	[')'] = U | H,
	['*'] = T | U | H,
	['+'] = T | U | H,
	[','] = U | H,
	['-'] = T | U | H,
	['.'] = T | U | H,
	['/'] = U,
	[':'] = U | H,
	[';'] = U | H,
	['='] = U | H,
	['?'] = U,
	['@'] = U,
	['['] = U | H,
	[']'] = U | H,
	['^'] = T,
	['_'] = T | U | H,
	['`'] = T,
	['|'] = T,
	['~'] = T | U | H,
};

#undef T
#undef U
#undef H
#undef X

static const struct {
	const char *name; /* lower case */
	uint8_t len;
} http_known[SP_HTTP_H_COUNT] = {
#define SP_HTTP_HDR(id, name) [SP_HTTP_H_##id] = {name, sizeof(name) - 1},
	SP_HTTP_KNOWN_HEADERS
#undef SP_HTTP_HDR
};

static const struct {
	uint16_t status;
	const char *text;
} http_errs[SP_HTTP_ERR_COUNT] = {
#define SP_HTTP_ERR(id, status, text) [SP_HTTP_ERRI_##id] = {status, text},
	SP_HTTP_ERRORS
#undef SP_HTTP_ERR
};

/* The HTTP/2 connection preface after its first line "PRI * HTTP/2.0\r\n" (RFC 9113 §3.4). */
static const char http_h2_tail[] = "\r\nSM\r\n\r\n";
#define HTTP_H2_TAIL_LEN (sizeof(http_h2_tail) - 1)

/* ---- lifecycle ---- */

void
sp_http_req_init(struct sp_http_req *h, char *head, size_t head_cap, size_t body_max)
{
	SP_VERIFY(h != NULL && head != NULL);
	SP_VERIFY(head_cap > 0 && head_cap <= SP_HTTP_HEAD_CAP_LIMIT);
	h->head = head;
	h->head_cap = (uint32_t)head_cap;
	h->body_max = body_max;
	sp_http_req_reset(h);
}

void
sp_http_req_reset(struct sp_http_req *h)
{
	char *head = h->head;
	uint32_t head_cap = h->head_cap;
	size_t body_max = h->body_max;

	SP_VERIFY(head != NULL && head_cap <= SP_HTTP_HEAD_CAP_LIMIT);
	/* everything before the header table; entries past nhdrs are unreachable */
	memset(h, 0, offsetof(struct sp_http_req, hdrs));
	h->head = head;
	h->head_cap = head_cap;
	h->body_max = body_max;
	SP_ASSERT(h->ps == HTTP_PS_LINE && h->nhdrs == 0 && h->body == NULL);
}

void
sp_http_set_body_buf(struct sp_http_req *h, char *buf, size_t cap)
{
	SP_VERIFY(buf != NULL || cap == 0);
	SP_VERIFY(h->body_len == 0); /* nothing stored yet: no byte would be lost */
	h->body = buf;
	h->body_cap = cap;
}

/* min(body_max, body_cap) once a buffer is set. */
static size_t
http_body_limit(const struct sp_http_req *h)
{
	return h->body != NULL ? SP_MIN(h->body_max, h->body_cap) : h->body_max;
}

/* ---- small helpers ---- */

/* a[0..len) equals the lower-case literal lc, ignoring the case of a. */
static bool
http_ieq_lc(const char *a, const char *lc, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (http_lower((uint8_t)a[i]) != (uint8_t)lc[i]) {
			return false;
		}
	}
	return true;
}

static bool
http_ieq(const char *a, const char *b, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (http_lower((uint8_t)a[i]) != http_lower((uint8_t)b[i])) {
			return false;
		}
	}
	return true;
}

static unsigned
http_known_id(const char *name, size_t len)
{
	for (unsigned i = 0; i < SP_HTTP_H_COUNT; i++) {
		if (http_known[i].len == len && http_ieq_lc(name, http_known[i].name, len)) {
			return i;
		}
	}
	return SP_HTTP_H_COUNT;
}

static bool
http_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Next element of a comma-separated list (RFC 9110 §5.6.1): OWS trimmed, empty elements
 * skipped. False at the end of the value.
 */
static bool
http_list_next(const char *v, size_t len, size_t *pos, const char **elem, size_t *elen)
{
	SP_ASSERT(*pos <= len);
	while (*pos < len) {
		size_t s = *pos, e;
		const char *comma = memchr(v + s, ',', len - s);

		e = comma != NULL ? (size_t)(comma - v) : len;
		*pos = comma != NULL ? e + 1 : len;
		while (s < e && http_is_ows(v[s])) {
			s++;
		}
		while (e > s && http_is_ows(v[e - 1])) {
			e--;
		}
		if (e > s) {
			*elem = v + s;
			*elen = e - s;
			SP_ASSERT(*pos <= len);
			return true;
		}
	}
	return false;
}

/* Index of the next line at or after from named like known field id, or nhdrs. */
static unsigned
http_next_known(const struct sp_http_req *h, unsigned id, unsigned from)
{
	for (unsigned i = from; i < h->nhdrs; i++) {
		const struct sp_http_hdr *f = &h->hdrs[i];

		if (f->name_len == http_known[id].len &&
		    http_ieq_lc(h->head + f->name_off, http_known[id].name, f->name_len)) {
			return i;
		}
	}
	return h->nhdrs;
}

/*
 * Calls fn on every element of every line of known field id, in order (the lines of a list
 * field combine into one list, RFC 9110 §5.3).
 */
typedef void (*http_elem_fn)(void *arg, const char *elem, size_t len);

static void
http_each_elem(const struct sp_http_req *h, unsigned id, http_elem_fn fn, void *arg)
{
	unsigned i;

	SP_VERIFY(id < SP_HTTP_H_COUNT);
	if (h->known[id] == 0) {
		return;
	}
	for (i = h->known[id] - 1u; i < h->nhdrs; i = http_next_known(h, id, i + 1)) {
		const struct sp_http_hdr *f = &h->hdrs[i];
		const char *elem;
		size_t pos = 0, elen;

		while (http_list_next(h->head + f->value_off, f->value_len, &pos, &elem, &elen)) {
			fn(arg, elem, elen);
		}
	}
}

/* ---- request line (RFC 9112 §3) ---- */

/* request-target (RFC 9112 §3.2): origin-form, absolute-form, or '*' for OPTIONS. */
static int
http_check_target(struct sp_http_req *h, const char *t, size_t n, bool options)
{
	size_t i = 0;

	SP_VERIFY(n > 0 && t >= h->head);
	SP_ASSERT(h->target_form == SP_HTTP_TARGET_NONE);
	if (n == 1 && t[0] == '*') {
		h->target_form = SP_HTTP_TARGET_ASTERISK;
		return options ? SP_AGAIN : SP_HTTP_E_BAD_TARGET;
	}
	for (i = 0; i < n; i++) {
		if ((sp_http_class[(uint8_t)t[i]] & HTTP_C_TARGET) == 0) {
			return SP_HTTP_E_BAD_TARGET;
		}
	}
	if (t[0] == '/') {
		h->target_form = SP_HTTP_TARGET_ORIGIN;
		return SP_AGAIN;
	}
	/* absolute-URI: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" hier-part */
	if (!((t[0] | 0x20) >= 'a' && (t[0] | 0x20) <= 'z')) {
		return SP_HTTP_E_BAD_TARGET; /* authority-form (CONNECT) is not served */
	}
	for (i = 1; i < n && t[i] != ':'; i++) {
		uint8_t c = (uint8_t)t[i];

		if (!(((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '-' || c == '.')) {
			return SP_HTTP_E_BAD_TARGET;
		}
	}
	if (i + 1 >= n) {
		return SP_HTTP_E_BAD_TARGET; /* no ':' or nothing after it */
	}
	h->target_form = SP_HTTP_TARGET_ABSOLUTE;
	return SP_AGAIN;
}

static bool
http_is_h2_preface(const char *line, size_t n)
{
	static const char first[] = "PRI * HTTP/2.0";

	return n == sizeof(first) - 1 && memcmp(line, first, n) == 0;
}

/* method SP request-target SP HTTP-version; line has no CRLF. */
static int
http_request_line(struct sp_http_req *h, const char *line, size_t n)
{
	const char *v;
	size_t i = 0, t;

	SP_VERIFY(line == h->head); /* leading empty lines were dropped: the method is head[0] */
	SP_VERIFY(h->target_form == SP_HTTP_TARGET_NONE);
	while (i < n && http_is_tchar((uint8_t)line[i])) {
		i++;
	}
	if (i == 0 || i >= n || line[i] != ' ') {
		return SP_HTTP_E_BAD_REQUEST_LINE;
	}
	h->method_len = (uint16_t)i;
	t = ++i;
	while (i < n && line[i] != ' ') {
		i++;
	}
	if (i == t || n - i != 9) { /* SP + "HTTP/x.y" */
		return SP_HTTP_E_BAD_REQUEST_LINE;
	}
	v = line + i + 1;
	if (memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
	    v[7] < '0' || v[7] > '9') {
		return SP_HTTP_E_BAD_REQUEST_LINE;
	}
	h->target_off = (uint16_t)t;
	h->target_len = (uint16_t)(i - t);
	if (v[5] != '1') {
		if (http_is_h2_preface(line, n)) {
			h->target_form = SP_HTTP_TARGET_ASTERISK;
			h->ps = HTTP_PS_H2_TAIL;
			return SP_AGAIN;
		}
		return SP_HTTP_E_VERSION;
	}
	/* RFC 9112 §2.3: a higher 1.x minor is handled as the highest we implement, 1.1 */
	h->version = v[7] == '0' ? 10 : 11;
	return http_check_target(h, line + t, i - t, h->method_len == 7 &&
				 memcmp(line, "OPTIONS", 7) == 0);
}

/* ---- header fields (RFC 9112 §5, RFC 9110 §5.5) ---- */

/*
 * Every octet a field-value octet (VCHAR, obs-text, SP, HTAB)? Values are most of a head's
 * bytes, so eight are tested at once: a word passes when none of its bytes is below 0x20 or
 * equal to 0x7f (the classic "has a byte less than n" test; obs-text bytes, >= 0x80, never
 * trigger it). A flagged word (usually an HTAB) is settled octet by octet.
 */
static bool
http_field_value_ok(const char *v, size_t n)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	size_t k = 0;

	for (; k + 8 <= n; k += 8) {
		uint64_t x, del;

		memcpy(&x, v + k, 8);
		del = x ^ (ones * 0x7f); /* a zero byte where x has 0x7f */
		if ((((x - ones * 0x20) & ~x) | ((del - ones) & ~del)) & high) {
			for (size_t j = k; j < k + 8; j++) {
				if (!http_is_field_char((uint8_t)v[j])) {
					return false;
				}
			}
		}
	}
	for (; k < n; k++) {
		if (!http_is_field_char((uint8_t)v[k])) {
			return false;
		}
	}
	SP_ASSERT(k == n);
	return true;
}

/*
 * field-line = field-name ":" OWS field-value OWS. No whitespace before the colon (§5.1) and
 * no obs-fold (§5.2): a line starting with SP/HTAB has no name and fails here. The value is
 * VCHAR / obs-text / SP / HTAB only: NUL, CR and other controls are refused.
 */
static int
http_field_split(const char *line, size_t n, size_t *name_len, size_t *voff, size_t *vlen)
{
	size_t i = 0, v, e;

	SP_ASSERT(line != NULL && n > 0);
	while (i < n && http_is_tchar((uint8_t)line[i])) {
		i++;
	}
	if (i == 0 || i >= n || line[i] != ':') {
		return SP_HTTP_E_BAD_HEADER;
	}
	v = i + 1;
	while (v < n && http_is_ows(line[v])) {
		v++;
	}
	e = n;
	while (e > v && http_is_ows(line[e - 1])) {
		e--;
	}
	if (!http_field_value_ok(line + v, e - v)) {
		return SP_HTTP_E_BAD_HEADER;
	}
	*name_len = i;
	*voff = v;
	*vlen = e - v;
	SP_ASSERT(v <= e && e <= n);
	return 0;
}

/* Content-Length = 1*DIGIT (RFC 9110 §8.6); saturates so that any overflow is > body_max. */
static int
http_content_length(struct sp_http_req *h, const char *v, size_t n)
{
	uint64_t x = 0;

	if (n == 0) {
		return SP_HTTP_E_BAD_LENGTH;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(uint8_t)v[i] - '0';

		if (d > 9) {
			return SP_HTTP_E_BAD_LENGTH; /* a list "5, 5" is refused too */
		}
		x = x > (UINT64_MAX - d) / 10 ? UINT64_MAX : x * 10 + d;
	}
	/* repeated lines must agree (RFC 9112 §6.3 item 5) */
	if (h->has_length && h->content_length != x) {
		return SP_HTTP_E_BAD_LENGTH;
	}
	h->has_length = true;
	h->content_length = x;
	SP_ASSERT(n > 0 && h->content_length == x);
	return SP_AGAIN;
}

static int
http_host(const struct sp_http_req *h, const char *v, size_t n)
{
	if (h->known[SP_HTTP_H_HOST] != 0) {
		return SP_HTTP_E_BAD_HOST; /* more than one Host line (RFC 9112 §3.2) */
	}
	for (size_t i = 0; i < n; i++) {
		if ((sp_http_class[(uint8_t)v[i]] & HTTP_C_HOST) == 0) {
			return SP_HTTP_E_BAD_HOST;
		}
	}
	return SP_AGAIN;
}

/* A complete field line at head[off .. off + n) (no CRLF): record it. */
static int
http_header_line(struct sp_http_req *h, uint32_t off, size_t n)
{
	const char *line = h->head + off;
	size_t name_len, voff, vlen;
	unsigned id;
	int rc;

	SP_VERIFY(off + n + 2 == h->head_len && h->nhdrs <= SP_HTTP_MAX_HEADERS);
	if (h->nhdrs == SP_HTTP_MAX_HEADERS) {
		return SP_HTTP_E_TOO_MANY_HEADERS;
	}
	rc = http_field_split(line, n, &name_len, &voff, &vlen);
	if (rc != 0) {
		return rc;
	}
	id = http_known_id(line, name_len);
	rc = SP_AGAIN;
	if (id == SP_HTTP_H_HOST) {
		rc = http_host(h, line + voff, vlen);
	} else if (id == SP_HTTP_H_CONTENT_LENGTH) {
		rc = http_content_length(h, line + voff, vlen);
	}
	if (rc != SP_AGAIN) {
		return rc;
	}
	if (id < SP_HTTP_H_COUNT && h->known[id] == 0) {
		h->known[id] = (uint8_t)(h->nhdrs + 1);
	}
	h->hdrs[h->nhdrs++] = (struct sp_http_hdr){
		.name_off = (uint16_t)off,
		.name_len = (uint16_t)name_len,
		.value_off = (uint16_t)(off + voff),
		.value_len = (uint16_t)vlen,
	};
	SP_ASSERT(off + voff + vlen <= h->head_len);
	return SP_AGAIN;
}

/* ---- end of the head: framing and connection decisions ---- */

struct http_te {
	unsigned n;
	unsigned chunked;
	bool last_chunked;
};

static void
http_te_elem(void *arg, const char *e, size_t len)
{
	struct http_te *te = arg;
	bool chunked = len == 7 && http_ieq_lc(e, "chunked", 7);

	te->n++;
	te->chunked += chunked;
	te->last_chunked = chunked;
}

/*
 * Transfer-Encoding (RFC 9112 §6.1, §6.3): chunked must be the final coding and appear once
 * (else the length is unknowable: 400); any coding before it is one we do not implement (501).
 */
static int
http_transfer_encoding(struct sp_http_req *h)
{
	struct http_te te = {0, 0, false};

	SP_VERIFY(h->known[SP_HTTP_H_TRANSFER_ENCODING] != 0);
	if (h->version == 10 || h->has_length) {
		/* §6.1: HTTP/1.0 + TE is faulty framing; §6.3/§11.2: TE + CL is smuggling */
		return SP_HTTP_E_BAD_FRAMING;
	}
	http_each_elem(h, SP_HTTP_H_TRANSFER_ENCODING, http_te_elem, &te);
	if (!te.last_chunked || te.chunked != 1) {
		return SP_HTTP_E_BAD_FRAMING;
	}
	if (te.n != 1) {
		return SP_HTTP_E_TE_UNSUPPORTED;
	}
	h->chunked = true;
	SP_ASSERT(te.n == 1 && te.chunked == 1);
	return SP_AGAIN;
}

struct http_conn_opts {
	bool close;
	bool keep_alive;
};

static void
http_conn_elem(void *arg, const char *e, size_t len)
{
	struct http_conn_opts *o = arg;

	if (len == 5 && http_ieq_lc(e, "close", 5)) {
		o->close = true;
	} else if (len == 10 && http_ieq_lc(e, "keep-alive", 10)) {
		o->keep_alive = true;
	}
}

static void
http_expect_elem(void *arg, const char *e, size_t len)
{
	bool *cont = arg;

	if (len == 12 && http_ieq_lc(e, "100-continue", 12)) {
		*cont = true;
	}
}

/* The empty line after the header fields: decide framing, persistence and 100-continue. */
static int
http_head_end(struct sp_http_req *h)
{
	struct http_conn_opts co = {false, false};
	bool cont = false;
	int rc;

	SP_VERIFY(h->version == 10 || h->version == 11);
	SP_ASSERT(!h->head_done && h->line_start + 2 == h->head_len);
	h->head_end = h->head_len;
	if (h->version == 11 && h->known[SP_HTTP_H_HOST] == 0) {
		return SP_HTTP_E_BAD_HOST; /* RFC 9112 §3.2 */
	}
	if (h->known[SP_HTTP_H_TRANSFER_ENCODING] != 0) {
		rc = http_transfer_encoding(h);
		if (rc != SP_AGAIN) {
			return rc;
		}
	}
	if (h->content_length > http_body_limit(h)) {
		return SP_HTTP_E_BODY_TOO_LARGE; /* announced: refuse before any body byte */
	}
	/* RFC 9112 §9.3: close wins; 1.1 persists; 1.0 only with keep-alive */
	http_each_elem(h, SP_HTTP_H_CONNECTION, http_conn_elem, &co);
	h->keep_alive = !co.close && (h->version == 11 || co.keep_alive);
	/* RFC 9110 §10.1.1: ignored in HTTP/1.0; meaningless without a body */
	http_each_elem(h, SP_HTTP_H_EXPECT, http_expect_elem, &cont);
	h->head_done = true;
	if (h->chunked) {
		h->expect_continue = cont && h->version == 11;
		h->ps = HTTP_PS_CH_SIZE;
		return SP_HTTP_HEAD_DONE;
	}
	if (h->content_length > 0) {
		h->expect_continue = cont && h->version == 11;
		h->ps = HTTP_PS_BODY_CL;
		return SP_HTTP_HEAD_DONE;
	}
	h->ps = HTTP_PS_DONE; /* RFC 9112 §6.3 item 7: no framing, no body */
	return SP_HTTP_DONE;
}

/* ---- lines ---- */

static int
http_overflow(const struct sp_http_req *h)
{
	if (h->ps == HTTP_PS_LINE && h->target_form == SP_HTTP_TARGET_NONE) {
		return SP_HTTP_E_URI_TOO_LONG;
	}
	return SP_HTTP_E_HEAD_TOO_LARGE;
}

/*
 * Copy input up to and including the next LF into the head buffer. Returns 1 when a line
 * ending in CRLF is complete at [line_start, head_len), 0 when the input ran out first, or an
 * error: a bare LF (RFC 9112 §2.2: we do not accept LF alone as a terminator), or no room
 * (then *pos counts the first byte that did not fit).
 */
static int
http_take_line(struct sp_http_req *h, const uint8_t *p, size_t len, size_t *pos)
{
	const uint8_t *s = p + *pos;
	size_t avail = len - *pos;
	const uint8_t *lf = memchr(s, '\n', avail);
	size_t n = lf != NULL ? (size_t)(lf - s) + 1 : avail;
	size_t room = h->head_cap - h->head_len;

	SP_VERIFY(*pos < len && h->line_start <= h->head_len && h->head_len <= h->head_cap);
	h->started = true;
	if (n > room) {
		*pos += room + 1;
		return http_overflow(h);
	}
	memcpy(h->head + h->head_len, s, n);
	h->head_len += (uint32_t)n;
	*pos += n;
	SP_ASSERT(h->head_len <= h->head_cap && *pos <= len);
	if (lf == NULL) {
		return 0;
	}
	if (h->head_len - h->line_start < 2 || h->head[h->head_len - 2] != '\r') {
		return SP_HTTP_E_BAD_LINE_END;
	}
	return 1;
}

/* A complete head line at [line_start, head_len). */
static int
http_head_line(struct sp_http_req *h)
{
	uint32_t off = h->line_start;
	size_t n = h->head_len - off - 2;
	int rc;

	SP_VERIFY(h->head_len >= off + 2 && h->ps == HTTP_PS_LINE);
	if (h->target_form == SP_HTTP_TARGET_NONE) {
		if (n == 0) {
			/* RFC 9112 §2.2: ignore a few empty lines before the request line */
			if (++h->crlf_skipped > SP_HTTP_LEADING_CRLF_MAX) {
				return SP_HTTP_E_BAD_REQUEST_LINE;
			}
			h->head_len = 0;
			h->line_start = 0;
			return SP_AGAIN;
		}
		rc = http_request_line(h, h->head + off, n);
	} else if (n == 0) {
		return http_head_end(h);
	} else {
		rc = http_header_line(h, off, n);
	}
	h->line_start = h->head_len;
	SP_ASSERT(h->line_start <= h->head_cap);
	return rc;
}

static int
http_h2_preface(struct sp_http_req *h, const uint8_t *p, size_t len, size_t *pos)
{
	SP_VERIFY(h->ps == HTTP_PS_H2_TAIL && h->h2_matched < HTTP_H2_TAIL_LEN);
	while (*pos < len) {
		if (p[(*pos)++] != (uint8_t)http_h2_tail[h->h2_matched]) {
			return SP_HTTP_E_BAD_REQUEST_LINE;
		}
		if (++h->h2_matched == HTTP_H2_TAIL_LEN) {
			return SP_HTTP_E_H2_PREFACE;
		}
	}
	return SP_AGAIN;
}

static int
http_head(struct sp_http_req *h, const uint8_t *p, size_t len, size_t *pos)
{
	SP_VERIFY(h->ps == HTTP_PS_LINE || h->ps == HTTP_PS_H2_TAIL);
	while (*pos < len) {
		int rc;

		if (h->ps == HTTP_PS_H2_TAIL) {
			return http_h2_preface(h, p, len, pos);
		}
		rc = http_take_line(h, p, len, pos);
		if (rc <= 0) {
			return rc == 0 ? SP_AGAIN : rc;
		}
		rc = http_head_line(h);
		if (rc != SP_AGAIN) {
			return rc;
		}
	}
	SP_ASSERT(*pos == len);
	return SP_AGAIN;
}

/* ---- body (RFC 9112 §6, §7.1) ---- */

static size_t
http_store(struct sp_http_req *h, const uint8_t *s, size_t n)
{
	SP_VERIFY(h->body != NULL); /* the caller gives a buffer at SP_HTTP_HEAD_DONE */
	SP_VERIFY(h->body_len + n <= h->body_cap);
	memcpy(h->body + h->body_len, s, n);
	h->body_len += n;
	return n;
}

static int
http_body_cl(struct sp_http_req *h, const uint8_t *p, size_t len, size_t *pos)
{
	size_t n;

	SP_VERIFY(h->ps == HTTP_PS_BODY_CL && h->body_len < h->content_length);
	if (h->content_length > http_body_limit(h)) {
		return SP_HTTP_E_BODY_TOO_LARGE; /* the buffer given is smaller than announced */
	}
	n = SP_MIN(h->content_length - h->body_len, len - *pos);
	if (n > 0) {
		*pos += http_store(h, p + *pos, n);
	}
	SP_ASSERT(h->body_len <= h->content_length && *pos <= len);
	if (h->body_len == h->content_length) {
		h->ps = HTTP_PS_DONE;
		return SP_HTTP_DONE;
	}
	return SP_AGAIN;
}

static int
http_hexval(uint8_t c)
{
	if ((sp_http_class[c] & HTTP_C_HEX) == 0) {
		return -1;
	}
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* chunk-size [ chunk-ext ] CRLF, one octet at a time (the line is short and rare). */
static int
http_chunk_size_octet(struct sp_http_req *h, uint8_t c)
{
	int d = http_hexval(c);

	SP_VERIFY(h->ps == HTTP_PS_CH_SIZE && h->chunk_digits <= SP_HTTP_CHUNK_SIZE_DIGITS_MAX);
	if (d >= 0) {
		if (++h->chunk_digits > SP_HTTP_CHUNK_SIZE_DIGITS_MAX) {
			return SP_HTTP_E_BAD_CHUNK;
		}
		/* 16 digits fit 64 bits; the limit check keeps it far below that anyway */
		h->chunk_left = h->chunk_left << 4 | (uint64_t)d;
		if (h->chunk_left > http_body_limit(h) - h->body_len) {
			return SP_HTTP_E_BODY_TOO_LARGE;
		}
		return SP_AGAIN;
	}
	if (h->chunk_digits == 0) {
		return SP_HTTP_E_BAD_CHUNK;
	}
	if (c == '\r') {
		h->ps = HTTP_PS_CH_SIZE_LF;
		return SP_AGAIN;
	}
	if (c != ';' && !http_is_ows((char)c)) {
		return SP_HTTP_E_BAD_CHUNK;
	}
	/* every octet between the size and the CR counts against the extension bound */
	if (++h->chunk_ext > SP_HTTP_CHUNK_EXT_MAX_BYTES) {
		return SP_HTTP_E_BAD_CHUNK;
	}
	h->ps = c == ';' ? HTTP_PS_CH_EXT : HTTP_PS_CH_WS;
	SP_ASSERT(h->ps != HTTP_PS_CH_SIZE);
	return SP_AGAIN;
}

/* Extensions (RFC 9112 §7.1.1) are skipped: their bytes are counted, checked, never kept. */
static int
http_chunk_ext_octet(struct sp_http_req *h, uint8_t c)
{
	SP_VERIFY(h->ps == HTTP_PS_CH_WS || h->ps == HTTP_PS_CH_EXT);
	if (c == '\r' && h->ps == HTTP_PS_CH_EXT) {
		h->ps = HTTP_PS_CH_SIZE_LF;
		return SP_AGAIN;
	}
	if (++h->chunk_ext > SP_HTTP_CHUNK_EXT_MAX_BYTES) {
		return SP_HTTP_E_BAD_CHUNK;
	}
	if (h->ps == HTTP_PS_CH_WS) {
		/* BWS after the size may only lead to ';' */
		if (c == ';') {
			h->ps = HTTP_PS_CH_EXT;
		} else if (!http_is_ows((char)c)) {
			return SP_HTTP_E_BAD_CHUNK;
		}
		return SP_AGAIN;
	}
	SP_ASSERT(h->chunk_ext <= SP_HTTP_CHUNK_EXT_MAX_BYTES);
	return http_is_field_char(c) ? SP_AGAIN : SP_HTTP_E_BAD_CHUNK;
}

/* Octets of the chunk framing around the data. */
static int
http_chunk_octet(struct sp_http_req *h, uint8_t c)
{
	switch (h->ps) {
	case HTTP_PS_CH_SIZE:
		return http_chunk_size_octet(h, c);
	case HTTP_PS_CH_WS:
	case HTTP_PS_CH_EXT:
		return http_chunk_ext_octet(h, c);
	case HTTP_PS_CH_SIZE_LF:
		if (c != '\n') {
			return SP_HTTP_E_BAD_CHUNK;
		}
		if (h->chunk_left == 0) {
			h->ps = HTTP_PS_TRAILER; /* last-chunk: trailers go after the head */
			SP_VERIFY(h->head_len == h->head_end);
			h->line_start = h->head_len;
		} else {
			h->ps = HTTP_PS_CH_DATA;
		}
		return SP_AGAIN;
	case HTTP_PS_CH_DATA_CR:
		h->ps = HTTP_PS_CH_DATA_LF;
		return c == '\r' ? SP_AGAIN : SP_HTTP_E_BAD_CHUNK;
	case HTTP_PS_CH_DATA_LF:
		h->ps = HTTP_PS_CH_SIZE;
		h->chunk_digits = 0;
		SP_ASSERT(h->chunk_left == 0);
		return c == '\n' ? SP_AGAIN : SP_HTTP_E_BAD_CHUNK;
	default:
		SP_VERIFY(false);
	}
	return SP_HTTP_E_BAD_CHUNK;
}

/* Trailer fields (RFC 9112 §7.1.2): checked like header fields, bounded by the head buffer,
 * then discarded (nothing we serve reads them).
 */
static int
http_trailer(struct sp_http_req *h, const uint8_t *p, size_t len, size_t *pos)
{
	size_t n, name_len, voff, vlen;
	int rc = http_take_line(h, p, len, pos);

	SP_VERIFY(h->ps == HTTP_PS_TRAILER && h->head_end <= h->line_start);
	if (rc <= 0) {
		return rc == 0 ? SP_AGAIN : rc;
	}
	n = h->head_len - h->line_start - 2;
	if (n == 0) {
		h->head_len = h->head_end;
		h->line_start = h->head_end;
		h->ps = HTTP_PS_DONE;
		return SP_HTTP_DONE;
	}
	rc = http_field_split(h->head + h->line_start, n, &name_len, &voff, &vlen);
	h->line_start = h->head_len;
	SP_ASSERT(h->head_len <= h->head_cap);
	return rc != 0 ? rc : SP_AGAIN;
}

static int
http_chunked(struct sp_http_req *h, const uint8_t *p, size_t len, size_t *pos)
{
	SP_VERIFY(h->chunked && h->ps >= HTTP_PS_CH_SIZE && h->ps <= HTTP_PS_TRAILER);
	while (*pos < len) {
		int rc;

		if (h->ps == HTTP_PS_CH_DATA) {
			size_t n = (size_t)SP_MIN(h->chunk_left, (uint64_t)(len - *pos));

			if (h->chunk_left > http_body_limit(h) - h->body_len) {
				return SP_HTTP_E_BODY_TOO_LARGE; /* buffer < body_max */
			}

			*pos += http_store(h, p + *pos, n);
			h->chunk_left -= n;
			if (h->chunk_left == 0) {
				h->ps = HTTP_PS_CH_DATA_CR;
			}
			continue;
		}
		if (h->ps == HTTP_PS_TRAILER) {
			rc = http_trailer(h, p, len, pos);
		} else {
			rc = http_chunk_octet(h, p[(*pos)++]);
		}
		if (rc != SP_AGAIN) {
			return rc;
		}
	}
	SP_ASSERT(*pos == len);
	return SP_AGAIN;
}

/* ---- the entry point ---- */

int
sp_http_parse(struct sp_http_req *h, const void *data, size_t len, size_t *consumed)
{
	const uint8_t *p = data;
	size_t pos = 0;
	int rc;

	SP_VERIFY(h->head != NULL && consumed != NULL && (len == 0 || p != NULL));
	SP_VERIFY(h->ps != HTTP_PS_DONE); /* sp_http_req_reset() before the next request */
	*consumed = 0;
	if (h->ps == HTTP_PS_ERROR) {
		return h->err;
	}
	if (h->ps == HTTP_PS_LINE || h->ps == HTTP_PS_H2_TAIL) {
		rc = http_head(h, p, len, &pos);
	} else if (h->ps == HTTP_PS_BODY_CL) {
		rc = http_body_cl(h, p, len, &pos);
	} else {
		rc = http_chunked(h, p, len, &pos);
	}
	SP_VERIFY(pos <= len);
	*consumed = pos;
	if (rc < 0 && rc != SP_AGAIN) {
		h->err = rc;
		h->ps = HTTP_PS_ERROR;
	}
	return rc;
}

/* ---- queries ---- */

int
sp_http_error_status(int err)
{
	long long idx = -(long long)err - SP_HTTP_ERR_BASE;

	if (err >= 0 || idx < 0 || idx >= SP_HTTP_ERR_COUNT) {
		return 500;
	}
	SP_ASSERT(http_errs[idx].status >= 400);
	return http_errs[idx].status;
}

const char *
sp_http_strerror(int err)
{
	long long idx = -(long long)err - SP_HTTP_ERR_BASE;

	if (err >= 0 || idx < 0 || idx >= SP_HTTP_ERR_COUNT) {
		return sp_strerror(err);
	}
	SP_ASSERT(http_errs[idx].text != NULL);
	return http_errs[idx].text;
}

enum sp_http_state
sp_http_state(const struct sp_http_req *h)
{
	switch (h->ps) {
	case HTTP_PS_LINE:
		return h->started ? SP_HTTP_STATE_HEAD : SP_HTTP_STATE_IDLE;
	case HTTP_PS_H2_TAIL:
		return SP_HTTP_STATE_HEAD;
	case HTTP_PS_DONE:
		return SP_HTTP_STATE_DONE;
	case HTTP_PS_ERROR:
		return SP_HTTP_STATE_ERROR;
	default:
		SP_VERIFY(h->head_done);
		return SP_HTTP_STATE_BODY;
	}
}

void
sp_http_header_at(const struct sp_http_req *h, unsigned i, const char **name, size_t *name_len,
		  const char **value, size_t *value_len)
{
	const struct sp_http_hdr *f;

	SP_VERIFY(i < h->nhdrs);
	f = &h->hdrs[i];
	SP_ASSERT(f->value_off + f->value_len <= h->head_len);
	*name = h->head + f->name_off;
	*name_len = f->name_len;
	*value = h->head + f->value_off;
	*value_len = f->value_len;
}

bool
sp_http_header(const struct sp_http_req *h, enum sp_http_hdr_id id, const char **value,
	       size_t *len)
{
	const struct sp_http_hdr *f;

	SP_VERIFY((unsigned)id < SP_HTTP_H_COUNT);
	if (h->known[id] == 0) {
		*value = NULL;
		*len = 0;
		return false;
	}
	f = &h->hdrs[h->known[id] - 1u];
	SP_ASSERT(h->known[id] <= h->nhdrs);
	*value = h->head + f->value_off;
	*len = f->value_len;
	return true;
}

int
sp_http_header_find(const struct sp_http_req *h, const char *name, size_t name_len,
		    unsigned from)
{
	SP_VERIFY(name != NULL || name_len == 0);
	SP_VERIFY(h->nhdrs <= SP_HTTP_MAX_HEADERS);
	for (unsigned i = from; i < h->nhdrs; i++) {
		const struct sp_http_hdr *f = &h->hdrs[i];

		if (f->name_len == name_len && http_ieq(h->head + f->name_off, name, name_len)) {
			return (int)i;
		}
	}
	return -ENOENT;
}
