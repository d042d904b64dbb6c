/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HTTP/1.1 request parser and response writer (libsp_http). No DPDK: the parser sees
 * (pointer, length) slices, the writer a caller buffer. docs/internals/http.md has the states,
 * limits, keep-alive and pipelining rules and the RFC 9110/9112 sections behind each check.
 *
 * Parsing one request:
 *
 *	sp_http_req_init(&h, head, SP_HTTP_HEAD_MAX_BYTES, SP_K_HTTP_BODY_MAX_BYTES);
 *	for each received segment (p, len):
 *		while (len > 0) {
 *			rc = sp_http_parse(&h, p, len, &used);  p += used; len -= used;
 *			SP_AGAIN:          all consumed; feed the next segment
 *			SP_HTTP_HEAD_DONE: head complete, a body follows: look at Expect and
 *			                   sp_http_body_hint(), sp_http_set_body_buf(), go on
 *			SP_HTTP_DONE:      request complete; serve it, sp_http_req_reset(), and
 *			                   feed the rest of the slice (the next pipelined request)
 *			< 0:               answer sp_http_error_status(rc) and close
 *		}
 *
 * Every pointer the accessors return points into the caller's head or body buffer and is
 * valid until sp_http_req_reset(). Nothing is allocated; no syscall is made.
 */
#ifndef SP_HTTP_H
#define SP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spate/compiler.h>
#include <spate/err.h>

/* ---- Limits ---- */
/* Default head buffer: request line, header fields and chunked trailers together. */
#define SP_HTTP_HEAD_MAX_BYTES (16u * 1024u)
/* Largest head buffer sp_http_req_init() takes: header offsets are 16-bit. */
#define SP_HTTP_HEAD_CAP_LIMIT 65535u
/* Header field lines per request, repeats included (the 101st is 431). */
#define SP_HTTP_MAX_HEADERS 100u
/* Empty lines (CRLF) skipped before a request line (RFC 9112 §2.2); one more is 400. */
#define SP_HTTP_LEADING_CRLF_MAX 4u
/* Hex digits of one chunk-size, leading zeros included. */
#define SP_HTTP_CHUNK_SIZE_DIGITS_MAX 16u
/* Chunk-extension bytes of one request, all chunks together (skipped, never kept). */
#define SP_HTTP_CHUNK_EXT_MAX_BYTES 4096u

/* ---- Return values of sp_http_parse() besides SP_AGAIN and errors ---- */
#define SP_HTTP_DONE 1	    /* a complete request is ready */
#define SP_HTTP_HEAD_DONE 2 /* the head is complete and a body follows */

/*
 * Errors: negative, above the errno range (include/spate/err.h). Each maps to the status the
 * server answers with (sp_http_error_status) before closing the connection.
 */
#define SP_HTTP_ERRORS                                                                     \
	SP_HTTP_ERR(BAD_REQUEST_LINE, 400, "malformed request line")                       \
	SP_HTTP_ERR(BAD_TARGET, 400, "malformed request-target")                           \
	SP_HTTP_ERR(BAD_HEADER, 400, "malformed header field line")                        \
	SP_HTTP_ERR(BAD_LINE_END, 400, "bare LF or CR as a line terminator")               \
	SP_HTTP_ERR(BAD_HOST, 400, "missing, repeated or malformed Host")                  \
	SP_HTTP_ERR(BAD_LENGTH, 400, "malformed or conflicting Content-Length")            \
	SP_HTTP_ERR(BAD_FRAMING, 400, "ambiguous body framing")                            \
	SP_HTTP_ERR(BAD_CHUNK, 400, "malformed chunked body")                              \
	SP_HTTP_ERR(BODY_TOO_LARGE, 413, "body larger than the limit")                     \
	SP_HTTP_ERR(URI_TOO_LONG, 414, "request line larger than the head buffer")         \
	SP_HTTP_ERR(HEAD_TOO_LARGE, 431, "header section larger than the head buffer")     \
	SP_HTTP_ERR(TOO_MANY_HEADERS, 431, "more header lines than SP_HTTP_MAX_HEADERS")   \
	SP_HTTP_ERR(TE_UNSUPPORTED, 501, "transfer coding other than chunked")              \
	SP_HTTP_ERR(VERSION, 505, "HTTP major version other than 1")                       \
	SP_HTTP_ERR(H2_PREFACE, 505, "HTTP/2 prior-knowledge connection preface")

enum sp_http_err_index {
#define SP_HTTP_ERR(id, status, text) SP_HTTP_ERRI_##id,
	SP_HTTP_ERRORS
#undef SP_HTTP_ERR
	SP_HTTP_ERR_COUNT,
};

#define SP_HTTP_ERR_BASE (SP_ERR_BASE + 256)

enum sp_http_err {
#define SP_HTTP_ERR(id, status, text) SP_HTTP_E_##id = -(SP_HTTP_ERR_BASE + SP_HTTP_ERRI_##id),
	SP_HTTP_ERRORS
#undef SP_HTTP_ERR
};

/* ---- Header fields the server reads, found in O(1) ---- */
#define SP_HTTP_KNOWN_HEADERS                                                              \
	SP_HTTP_HDR(HOST, "host")                                                          \
	SP_HTTP_HDR(CONTENT_LENGTH, "content-length")                                      \
	SP_HTTP_HDR(TRANSFER_ENCODING, "transfer-encoding")                                \
	SP_HTTP_HDR(CONNECTION, "connection")                                              \
	SP_HTTP_HDR(EXPECT, "expect")                                                      \
	SP_HTTP_HDR(CONTENT_TYPE, "content-type")                                          \
	SP_HTTP_HDR(X_AMZ_TARGET, "x-amz-target")                                          \
	SP_HTTP_HDR(AUTHORIZATION, "authorization")                                        \
	SP_HTTP_HDR(X_AMZ_DATE, "x-amz-date")                                              \
	SP_HTTP_HDR(DATE, "date")                                                          \
	SP_HTTP_HDR(X_AMZ_SECURITY_TOKEN, "x-amz-security-token")                          \
	SP_HTTP_HDR(X_AMZ_CONTENT_SHA256, "x-amz-content-sha256")                          \
	SP_HTTP_HDR(ORIGIN, "origin")

enum sp_http_hdr_id {
#define SP_HTTP_HDR(id, name) SP_HTTP_H_##id,
	SP_HTTP_KNOWN_HEADERS
#undef SP_HTTP_HDR
	SP_HTTP_H_COUNT,
};

/* Where a connection's parser is, for the server's timeouts. */
enum sp_http_state {
	SP_HTTP_STATE_IDLE = 0, /* no byte of the next request yet */
	SP_HTTP_STATE_HEAD,	/* request line or header fields */
	SP_HTTP_STATE_BODY,	/* body, chunk framing or trailers */
	SP_HTTP_STATE_DONE,	/* a complete request waits for sp_http_req_reset() */
	SP_HTTP_STATE_ERROR,	/* a parse error was returned; the connection must close */
};

enum sp_http_target_form {
	SP_HTTP_TARGET_NONE = 0, /* no request line yet */
	SP_HTTP_TARGET_ORIGIN,	 /* "/path?query" */
	SP_HTTP_TARGET_ABSOLUTE, /* "http://host/path" */
	SP_HTTP_TARGET_ASTERISK, /* "*" (OPTIONS only) */
};

/* One header field line: offsets into the head buffer; the value has its OWS trimmed. */
struct sp_http_hdr {
	uint16_t name_off;
	uint16_t name_len;
	uint16_t value_off;
	uint16_t value_len;
};

/*
 * One connection's request parser. Embed it in the connection; all fields are private to
 * http_parse.c (read them through the accessors below).
 */
struct sp_http_req {
	/* caller memory, set at init (head) or per request (body) */
	char *head;
	uint32_t head_cap;
	size_t body_max; /* configured limit (413 above it) */
	char *body;	 /* NULL until sp_http_set_body_buf() */
	size_t body_cap;

	/* progress */
	uint8_t ps;	     /* internal state (http_internal.h) */
	bool started;	     /* a byte of this request has arrived */
	bool head_done;
	uint8_t crlf_skipped; /* leading empty lines */
	uint8_t h2_matched;   /* bytes of the HTTP/2 preface tail matched */
	int err;	      /* sticky error, 0 when none */
	uint32_t head_len;    /* bytes copied into head */
	uint32_t line_start;  /* offset of the line being received */
	uint32_t head_end;    /* length of the head once complete (trailers go after it) */
	uint64_t chunk_left;  /* data bytes left in the current chunk */
	uint32_t chunk_digits;
	uint32_t chunk_ext;   /* extension bytes so far, all chunks */

	/* the request */
	uint16_t method_len; /* the method starts at head[0] */
	uint16_t target_off;
	uint16_t target_len;
	uint8_t version;     /* 10 or 11 (HTTP/1.2..1.9 are handled as 1.1) */
	uint8_t target_form; /* enum sp_http_target_form */
	bool chunked;
	bool has_length;
	bool keep_alive;
	bool expect_continue;
	uint64_t content_length; /* saturates at UINT64_MAX */
	size_t body_len;
	uint16_t nhdrs;
	uint8_t known[SP_HTTP_H_COUNT]; /* 1 + index of the first line with that name; 0: none */
	struct sp_http_hdr hdrs[SP_HTTP_MAX_HEADERS];
};

/* ---- Parser ---- */

/*
 * Prepare a parser. head (head_cap bytes, at most SP_HTTP_HEAD_CAP_LIMIT) receives each
 * request's request line, header fields and trailers; body_max bounds every body (413). The
 * body buffer is given per request with sp_http_set_body_buf().
 */
void sp_http_req_init(struct sp_http_req *h, char *head, size_t head_cap, size_t body_max);

/*
 * Start the next request: forget the previous one (header offsets, body buffer, error) and
 * keep the head buffer and body_max. Call after SP_HTTP_DONE before feeding more bytes.
 */
void sp_http_req_reset(struct sp_http_req *h);

/*
 * Give the body buffer (contiguous, cap bytes). Allowed until the first body byte is stored:
 * right after init/reset or at SP_HTTP_HEAD_DONE. The body limit becomes min(body_max, cap).
 * A body that arrives with no buffer set is a programmer error (SP_VERIFY).
 */
void sp_http_set_body_buf(struct sp_http_req *h, char *buf, size_t cap);

/*
 * Feed len bytes at data (data may be NULL when len is 0). *consumed is set to the bytes
 * used, always <= len. Returns:
 *   SP_AGAIN           everything consumed, the request is not complete;
 *   SP_HTTP_HEAD_DONE  the head is complete and a body follows (Content-Length > 0 or
 *                      chunked); bytes after *consumed are body: feed them next;
 *   SP_HTTP_DONE       the request is complete; bytes after *consumed belong to the next
 *                      request (pipelining): sp_http_req_reset() first. A request without
 *                      a body goes straight to SP_HTTP_DONE (no SP_HTTP_HEAD_DONE);
 *   SP_HTTP_E_*        parse error; sticky: later calls return it again and consume nothing.
 * Calling it again after SP_HTTP_DONE without a reset is a programmer error.
 */
int sp_http_parse(struct sp_http_req *h, const void *data, size_t len, size_t *consumed)
	SP_MUST_CHECK;

/* HTTP status for an error from sp_http_parse() (500 for anything else). */
int sp_http_error_status(int err);

/* Name of an error for logs ("malformed request line"); falls back to sp_strerror(). */
const char *sp_http_strerror(int err);

enum sp_http_state sp_http_state(const struct sp_http_req *h);

/* ---- The parsed request (valid from SP_HTTP_HEAD_DONE / SP_HTTP_DONE until reset) ---- */

static inline bool
sp_http_head_done(const struct sp_http_req *h)
{
	return h->head_done;
}

static inline void
sp_http_method(const struct sp_http_req *h, const char **m, size_t *len)
{
	*m = h->head;
	*len = h->method_len;
}

/* The raw request-target, e.g. "/" or "/?Action=x" or "http://host/path". */
static inline void
sp_http_target(const struct sp_http_req *h, const char **t, size_t *len)
{
	*t = h->head + h->target_off;
	*len = h->target_len;
}

static inline enum sp_http_target_form
sp_http_target_form(const struct sp_http_req *h)
{
	return (enum sp_http_target_form)h->target_form;
}

/* 10 for HTTP/1.0, 11 for HTTP/1.1 and later 1.x; 0 before the request line. */
static inline unsigned
sp_http_version(const struct sp_http_req *h)
{
	return h->version;
}

/* Whether the connection stays open after this request (RFC 9112 §9.3). */
static inline bool
sp_http_keep_alive(const struct sp_http_req *h)
{
	return h->head_done && h->keep_alive;
}

/* HTTP/1.1 request with a body and "Expect: 100-continue" (RFC 9110 §10.1.1). */
static inline bool
sp_http_expects_continue(const struct sp_http_req *h)
{
	return h->head_done && h->expect_continue;
}

static inline bool
sp_http_is_chunked(const struct sp_http_req *h)
{
	return h->chunked;
}

/*
 * Body bytes to reserve once the head is done: Content-Length, body_max for chunked (the
 * worst case), 0 without a body.
 */
static inline uint64_t
sp_http_body_hint(const struct sp_http_req *h)
{
	return h->chunked ? h->body_max : h->content_length;
}

/* The body received so far (complete at SP_HTTP_DONE); NULL with length 0 before a buffer. */
static inline const char *
sp_http_body(const struct sp_http_req *h)
{
	return h->body;
}

static inline size_t
sp_http_body_len(const struct sp_http_req *h)
{
	return h->body_len;
}

/* Header field lines in arrival order, repeats included (what SigV4 canonicalises). */
static inline unsigned
sp_http_header_count(const struct sp_http_req *h)
{
	return h->nhdrs;
}

void sp_http_header_at(const struct sp_http_req *h, unsigned i, const char **name,
		       size_t *name_len, const char **value, size_t *value_len);

/* First line of a known field: true and its value, or false when absent. */
bool sp_http_header(const struct sp_http_req *h, enum sp_http_hdr_id id, const char **value,
		    size_t *len);

/*
 * Index of the first line at or after from whose name equals name[0..name_len) ignoring
 * ASCII case, or -ENOENT. Walk repeats with from = previous index + 1.
 */
int sp_http_header_find(const struct sp_http_req *h, const char *name, size_t name_len,
			unsigned from);

/* ---- Response writer (http_resp.c) ---- */

/* The fixed-length IMF-fixdate (RFC 9110 §5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT". */
#define SP_HTTP_DATE_LEN 29u

/* Reason phrase of a status code ("OK"), "" for codes outside the table. */
const char *sp_http_reason(unsigned status);

/*
 * Write the IMF-fixdate of epoch_s (seconds since 1970-01-01 UTC) and a NUL into out.
 * Returns SP_HTTP_DATE_LEN, -ENOSPC when cap < SP_HTTP_DATE_LEN + 1, or -EINVAL outside
 * years 0000..9999. Pure arithmetic: no locale, no time zone, no syscall.
 */
int sp_http_format_date(int64_t epoch_s, char *out, size_t cap);

/*
 * A response head under construction in a caller buffer. Calls append; the first failure
 * sticks (-ENOSPC when the buffer is full, -EINVAL for a name that is not a token or a value
 * with CR, LF or NUL) and sp_http_resp_end() reports it.
 */
struct sp_http_resp {
	char *buf;
	size_t cap;
	size_t len;
	int err;
};

void sp_http_resp_init(struct sp_http_resp *r, char *buf, size_t cap);
/* "HTTP/1.1 <status> <reason>\r\n"; status in 100..599. */
int sp_http_resp_status(struct sp_http_resp *r, unsigned status);
int sp_http_resp_header(struct sp_http_resp *r, const char *name, size_t name_len,
			const char *value, size_t value_len);
/* The same with NUL-terminated strings. */
int sp_http_resp_header_str(struct sp_http_resp *r, const char *name, const char *value);
int sp_http_resp_content_length(struct sp_http_resp *r, uint64_t len);
int sp_http_resp_date(struct sp_http_resp *r, int64_t epoch_s);
/* "Connection: close". */
int sp_http_resp_close(struct sp_http_resp *r);
/* The empty line that ends the head. Returns the head's length, or the sticky error. */
int sp_http_resp_end(struct sp_http_resp *r) SP_MUST_CHECK;

#endif /* SP_HTTP_H */
