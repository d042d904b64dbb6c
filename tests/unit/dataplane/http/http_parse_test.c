/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/http/http_parse.c. Every test input is parsed whole, split at every
 * byte boundary (strided in the middle of inputs over 4 KiB), byte by byte and at random cut
 * sets, each slice in an exact-size heap copy (ASan sees any read past it), and every way must
 * give the same transcript: events (HEAD_DONE, DONE, error), bytes consumed per request, and
 * every field of every request. Covered: request-line forms and versions, field syntax (tchar,
 * OWS, NUL, bare CR, obs-fold, bare LF), the O(1) known headers and name lookup, Host rules,
 * Content-Length (repeats, lists, overflow, limits), Transfer-Encoding rules (smuggling
 * defence, 501, 400), chunked edge cases (0-size, hex case, huge sizes, extensions, trailers),
 * head and header-count limits exactly at and one past the bound, keep-alive, 100-continue,
 * the HTTP/2 preface, states, reset, sticky errors, pipelining of mixed framing, and random
 * valid requests against a model.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sp_test.h"

#include "http.h"

#define DUMP_CAP (256u * 1024u)
#define SPLIT_ALL_MAX 4096u /* every cut up to this input length */
#define SPLIT_EDGE 512u	    /* above it: every cut this close to either end ... */
#define SPLIT_STRIDE 61u    /* ... and every 61st elsewhere */
#define RANDOM_CUT_SETS 24u
#define RANDOM_CUTS_MAX 9u
#define BODY_SHOWN 64u
#define BIG_BODY (1u << 20)

struct cfg {
	size_t head_cap;
	size_t body_max;
	size_t body_cap;
	bool lazy_body; /* give the body buffer at HEAD_DONE (the server's way) or at reset */
};

static const struct cfg g_cfg = {SP_HTTP_HEAD_MAX_BYTES, BIG_BODY, BIG_BODY, true};

struct dump {
	char s[DUMP_CAP];
	size_t len;
};

static struct dump g_whole, g_split;

/*
 * The runner's head and body buffers, exact-size heap blocks (ASan sees any access past
 * them), kept across runs of the same sizes: a fresh megabyte per run costs an mmap.
 */
static struct {
	size_t head_cap;
	size_t body_cap;
	char *head;
	char *body;
} g_bufs;

static void
bufs_get(const struct cfg *cfg, char **head, char **body)
{
	if (g_bufs.head == NULL || g_bufs.head_cap != cfg->head_cap ||
	    g_bufs.body_cap != cfg->body_cap) {
		free(g_bufs.head);
		free(g_bufs.body);
		g_bufs.head_cap = cfg->head_cap;
		g_bufs.body_cap = cfg->body_cap;
		g_bufs.head = malloc(cfg->head_cap);
		g_bufs.body = cfg->body_cap != 0 ? malloc(cfg->body_cap) : NULL;
		assert_non_null(g_bufs.head);
	}
	*head = g_bufs.head;
	*body = g_bufs.body;
}
static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static uint64_t
rng_next(void)
{
	g_rng ^= g_rng << 13;
	g_rng ^= g_rng >> 7;
	g_rng ^= g_rng << 17;
	return g_rng;
}

static unsigned
rng_below(unsigned n)
{
	return (unsigned)(rng_next() % n);
}

static void dump_add(struct dump *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
dump_add(struct dump *d, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(d->s + d->len, sizeof(d->s) - d->len, fmt, ap);
	va_end(ap);
	assert_true(k >= 0 && (size_t)k < sizeof(d->s) - d->len);
	d->len += (size_t)k;
}

static void
dump_bytes(struct dump *d, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			dump_add(d, "%c", c);
		} else {
			dump_add(d, "\\x%02x", c);
		}
	}
}

static const char *const g_known_names[SP_HTTP_H_COUNT] = {
	"host", "cl", "te", "conn", "expect", "ctype", "target", "auth", "xdate", "date",
	"token", "sha", "origin",
};

/* Which header line a known field points at (by pointer identity). */
static void
dump_known(struct dump *d, const struct sp_http_req *h)
{
	for (unsigned id = 0; id < SP_HTTP_H_COUNT; id++) {
		const char *v, *name, *hv;
		size_t len, nlen, hlen;
		unsigned i;

		if (!sp_http_header(h, (enum sp_http_hdr_id)id, &v, &len)) {
			assert_null(v);
			continue;
		}
		for (i = 0; i < sp_http_header_count(h); i++) {
			sp_http_header_at(h, i, &name, &nlen, &hv, &hlen);
			if (hv == v) {
				break;
			}
		}
		assert_true(i < sp_http_header_count(h));
		assert_int_equal(len, hlen);
		dump_add(d, " %s=%u", g_known_names[id], i);
	}
}

static void
dump_request(struct dump *d, const struct sp_http_req *h)
{
	const char *m, *t, *name, *value;
	size_t mlen, tlen, nlen, vlen;
	uint64_t fnv = 0xcbf29ce484222325ull;

	sp_http_method(h, &m, &mlen);
	sp_http_target(h, &t, &tlen);
	dump_add(d, "m=%.*s t=", (int)mlen, m);
	dump_bytes(d, t, tlen);
	dump_add(d, " f=%d v=%u ka=%d ec=%d ch=%d n=%u", (int)sp_http_target_form(h),
		 sp_http_version(h), sp_http_keep_alive(h), sp_http_expects_continue(h),
		 sp_http_is_chunked(h), sp_http_header_count(h));
	for (unsigned i = 0; i < sp_http_header_count(h); i++) {
		sp_http_header_at(h, i, &name, &nlen, &value, &vlen);
		dump_add(d, " [");
		dump_bytes(d, name, nlen);
		dump_add(d, ": ");
		dump_bytes(d, value, vlen);
		dump_add(d, "]");
	}
	dump_known(d, h);
	dump_add(d, " body=%zu:", sp_http_body_len(h));
	dump_bytes(d, sp_http_body(h), SP_MIN(sp_http_body_len(h), BODY_SHOWN));
	for (size_t i = 0; i < sp_http_body_len(h); i++) {
		fnv = (fnv ^ (uint8_t)sp_http_body(h)[i]) * 0x100000001b3ull;
	}
	if (sp_http_body_len(h) > BODY_SHOWN) {
		dump_add(d, "...#%016llx", (unsigned long long)fnv);
	}
	dump_add(d, "\n");
}

/* After a reset: nothing of the previous request is reachable. */
static void
check_reset(const struct sp_http_req *h)
{
	const char *v, *m;
	size_t len;

	assert_int_equal(sp_http_state(h), SP_HTTP_STATE_IDLE);
	assert_int_equal(sp_http_header_count(h), 0);
	assert_null(sp_http_body(h));
	assert_int_equal(sp_http_body_len(h), 0);
	assert_false(sp_http_head_done(h));
	assert_false(sp_http_keep_alive(h));
	assert_false(sp_http_expects_continue(h));
	assert_int_equal(sp_http_body_hint(h), 0);
	assert_int_equal(sp_http_version(h), 0);
	sp_http_method(h, &m, &len);
	assert_int_equal(len, 0);
	for (unsigned id = 0; id < SP_HTTP_H_COUNT; id++) {
		assert_false(sp_http_header(h, (enum sp_http_hdr_id)id, &v, &len));
	}
}

struct runner {
	const struct cfg *cfg;
	struct sp_http_req h;
	char *head;
	char *body;
	size_t req_used;
	bool stopped;
	struct dump *d;
};

/* One event from sp_http_parse() into the transcript. Returns false when parsing stops. */
static bool
run_event(struct runner *r, int rc, const uint8_t *rest, size_t rest_len)
{
	struct sp_http_req *h = &r->h;
	size_t used = 1;

	if (rc == SP_HTTP_HEAD_DONE) {
		assert_int_equal(sp_http_state(h), SP_HTTP_STATE_BODY);
		assert_true(sp_http_head_done(h));
		dump_add(r->d, "HEAD used=%zu hint=%llu ec=%d\n", r->req_used,
			 (unsigned long long)sp_http_body_hint(h), sp_http_expects_continue(h));
		if (r->cfg->lazy_body && r->body != NULL) {
			sp_http_set_body_buf(h, r->body, r->cfg->body_cap);
		}
		return true;
	}
	if (rc == SP_HTTP_DONE) {
		assert_int_equal(sp_http_state(h), SP_HTTP_STATE_DONE);
		dump_add(r->d, "DONE used=%zu ", r->req_used);
		dump_request(r->d, h);
		sp_http_req_reset(h);
		check_reset(h);
		r->req_used = 0;
		if (!r->cfg->lazy_body && r->body != NULL) {
			sp_http_set_body_buf(h, r->body, r->cfg->body_cap);
		}
		return true;
	}
	assert_true(rc < 0 && rc != SP_AGAIN);
	assert_int_equal(sp_http_state(h), SP_HTTP_STATE_ERROR);
	dump_add(r->d, "ERR %s %d used=%zu\n", sp_http_strerror(rc), sp_http_error_status(rc),
		 r->req_used);
	/* sticky: the same error again, nothing consumed */
	assert_int_equal(sp_http_parse(h, rest, rest_len, &used), rc);
	assert_int_equal(used, 0);
	return false;
}

/* Feed one slice completely (or until an error). */
static void
run_piece(struct runner *r, const uint8_t *piece, size_t n)
{
	size_t off = 0;

	do {
		size_t used = n + 1;
		int rc = sp_http_parse(&r->h, piece + off, n - off, &used);

		assert_true(used <= n - off);
		off += used;
		r->req_used += used;
		if (rc == SP_AGAIN) {
			assert_int_equal(off, n);
			return;
		}
		if (!run_event(r, rc, piece + off, n - off)) {
			r->stopped = true;
			return;
		}
	} while (off < n);
}

/* Parse in[0..n) cut at cuts[0..ncuts) (ascending, inside (0, n)); transcript into d. */
static void
run(const void *in, size_t n, const size_t *cuts, size_t ncuts, const struct cfg *cfg,
    struct dump *d)
{
	struct runner r = {.cfg = cfg, .d = d};

	d->len = 0;
	d->s[0] = '\0';
	bufs_get(cfg, &r.head, &r.body);
	sp_http_req_init(&r.h, r.head, cfg->head_cap, cfg->body_max);
	check_reset(&r.h);
	if (!cfg->lazy_body && r.body != NULL) {
		sp_http_set_body_buf(&r.h, r.body, cfg->body_cap);
	}
	for (size_t k = 0; k <= ncuts && !r.stopped; k++) {
		size_t a = k == 0 ? 0 : cuts[k - 1];
		size_t b = k == ncuts ? n : cuts[k];
		uint8_t *piece = malloc(b - a + 1);

		assert_true(a <= b && b <= n);
		memcpy(piece, (const uint8_t *)in + a, b - a);
		run_piece(&r, piece, b - a);
		free(piece);
	}
	if (!r.stopped) {
		dump_add(d, "END state=%d pending=%zu\n", (int)sp_http_state(&r.h), r.req_used);
	}
}

static size_t
split_step(size_t c, size_t n)
{
	if (n <= SPLIT_ALL_MAX || c < SPLIT_EDGE || c + SPLIT_EDGE > n) {
		return 1;
	}
	return SPLIT_STRIDE;
}

static int
cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* Random cut sets: up to RANDOM_CUTS_MAX distinct cuts each. */
static void
check_random_cuts(const void *in, size_t n, const struct cfg *cfg)
{
	size_t cuts[RANDOM_CUTS_MAX];

	for (unsigned set = 0; set < RANDOM_CUT_SETS && n > 1; set++) {
		size_t k = 1 + rng_below(RANDOM_CUTS_MAX), m = 0;

		for (size_t i = 0; i < k; i++) {
			cuts[i] = 1 + rng_below((unsigned)(n - 1));
		}
		qsort(cuts, k, sizeof(cuts[0]), cmp_size);
		for (size_t i = 0; i < k; i++) {
			if (m == 0 || cuts[i] != cuts[m - 1]) {
				cuts[m++] = cuts[i];
			}
		}
		run(in, n, cuts, m, cfg, &g_split);
		assert_string_equal(g_split.s, g_whole.s);
	}
}

/* Parse whole into g_whole; every split must give the same transcript. */
static void
check_splits(const void *in, size_t n, const struct cfg *cfg)
{
	size_t *cuts = malloc((n + 1) * sizeof(*cuts));

	assert_non_null(cuts);
	run(in, n, NULL, 0, cfg, &g_whole);
	for (size_t c = 1; c < n; c += split_step(c, n)) {
		run(in, n, &c, 1, cfg, &g_split);
		assert_string_equal(g_split.s, g_whole.s);
	}
	for (size_t i = 1; i < n; i++) {
		cuts[i - 1] = i;
	}
	run(in, n, cuts, n > 0 ? n - 1 : 0, cfg, &g_split); /* byte by byte */
	assert_string_equal(g_split.s, g_whole.s);
	check_random_cuts(in, n, cfg);
	free(cuts);
}

/*
 * The transcript of in (every split, lazy body buffer) must equal expected; with a body
 * buffer as large as body_max, giving it up front must not change anything either.
 */
static void
expect_n(const void *in, size_t n, const struct cfg *cfg, const char *expected)
{
	check_splits(in, n, cfg);
	assert_string_equal(g_whole.s, expected);
	if (cfg->body_cap >= cfg->body_max) {
		struct cfg eager = *cfg;

		eager.lazy_body = false;
		check_splits(in, n, &eager);
		assert_string_equal(g_whole.s, expected);
	}
}

#define EXPECT(in, expected) expect_n(in, sizeof(in) - 1, &g_cfg, expected)
#define EXPECT_CFG(in, cfg, expected) expect_n(in, sizeof(in) - 1, cfg, expected)

/* Only the verdict line matters: the transcript's first line must start with prefix. */
static void
expect_prefix(const char *in, const struct cfg *cfg, const char *prefix)
{
	expect_n(in, strlen(in), cfg, g_whole.s); /* splits agree (compares with itself) */
	if (strncmp(g_whole.s, prefix, strlen(prefix)) != 0) {
		fail_msg("input \"%s\": got \"%s\", want prefix \"%s\"", in, g_whole.s, prefix);
	}
}

#define E400L "ERR malformed request line 400"
#define E400T "ERR malformed request-target 400"
#define E400H "ERR malformed header field line 400"
#define E400E "ERR bare LF or CR as a line terminator 400"
#define E400HOST "ERR missing, repeated or malformed Host 400"
#define E400CL "ERR malformed or conflicting Content-Length 400"
#define E400F "ERR ambiguous body framing 400"
#define E400C "ERR malformed chunked body 400"
#define E413 "ERR body larger than the limit 413"
#define E414 "ERR request line larger than the head buffer 414"
#define E431 "ERR header section larger than the head buffer 431"
#define E431N "ERR more header lines than SP_HTTP_MAX_HEADERS 431"
#define E501 "ERR transfer coding other than chunked 501"
#define E505 "ERR HTTP major version other than 1 505"
#define E505P "ERR HTTP/2 prior-knowledge connection preface 505"

/* ---- basic requests ---- */

static void
test_simple_get(void **state)
{
	(void)state;
	EXPECT("GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	       "DONE used=27 m=GET t=/ f=1 v=11 ka=1 ec=0 ch=0 n=1 [Host: a] host=0 body=0:\n"
	       "END state=0 pending=0\n");
	/* no body framing on a POST: body length 0, straight to DONE */
	EXPECT("POST /x?y=1 HTTP/1.1\r\nhost: h:80\r\n\r\n",
	       "DONE used=36 m=POST t=/x?y=1 f=1 v=11 ka=1 ec=0 ch=0 n=1 [host: h:80] host=0 "
	       "body=0:\nEND state=0 pending=0\n");
	/* an incomplete request: state and pending bytes */
	EXPECT("GET / HTTP/1.1\r\nHost: a\r\n",
	       "END state=1 pending=25\n");
	EXPECT("", "END state=0 pending=0\n");
}

static void
test_kinesis_post(void **state)
{
	static const char req[] =
		"POST / HTTP/1.1\r\n"
		"Host: kinesis.us-east-1.amazonaws.com\r\n"
		"X-Amz-Target: Kinesis_20131202.PutRecord\r\n"
		"Content-Type: application/x-amz-json-1.1\r\n"
		"X-Amz-Date: 20240101T000000Z\r\n"
		"Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
		"X-Amz-Security-Token: tok\r\n"
		"X-Amz-Content-Sha256: abc\r\n"
		"Origin: http://o\r\n"
		"Authorization: AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kinesis/"
		"aws4_request, SignedHeaders=host;x-amz-date, Signature=00\r\n"
		"Expect: 100-continue\r\n"
		"Connection: keep-alive\r\n"
		"User-Agent: test\r\n"
		"Content-Length: 2\r\n"
		"\r\n"
		"{}";

	(void)state;
	EXPECT(req,
	       "HEAD used=498 hint=2 ec=1\n"
	       "DONE used=500 m=POST t=/ f=1 v=11 ka=1 ec=1 ch=0 n=13 "
	       "[Host: kinesis.us-east-1.amazonaws.com] [X-Amz-Target: Kinesis_20131202.PutRecord] "
	       "[Content-Type: application/x-amz-json-1.1] [X-Amz-Date: 20240101T000000Z] "
	       "[Date: Mon, 01 Jan 2024 00:00:00 GMT] [X-Amz-Security-Token: tok] "
	       "[X-Amz-Content-Sha256: abc] [Origin: http://o] "
	       "[Authorization: AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kinesis/"
	       "aws4_request, SignedHeaders=host;x-amz-date, Signature=00] "
	       "[Expect: 100-continue] [Connection: keep-alive] [User-Agent: test] "
	       "[Content-Length: 2] host=0 cl=12 conn=10 expect=9 ctype=2 target=1 auth=8 "
	       "xdate=3 date=4 token=5 sha=6 origin=7 body=2:{}\n"
	       "END state=0 pending=0\n");
}

/* Header lookup by name, repeats in order, values with OWS trimmed, obs-text kept. */
static void
test_header_access(void **state)
{
	static const char req[] = "GET / HTTP/1.1\r\n"
				  "Host: a\r\n"
				  "X-Rep: one\r\n"
				  "x-rep:two  \r\n"
				  "X-REP: \t three\t\r\n"
				  "X-Empty:\r\n"
				  "X-Bin: \x80\xff caf\xc3\xa9\r\n"
				  "\r\n";
	char head[SP_HTTP_HEAD_MAX_BYTES];
	struct sp_http_req h;
	const char *n, *v;
	size_t nl, vl, used;
	int i;

	(void)state;
	EXPECT(req, "DONE used=96 m=GET t=/ f=1 v=11 ka=1 ec=0 ch=0 n=6 [Host: a] [X-Rep: one] "
		    "[x-rep: two] [X-REP: three] [X-Empty: ] [X-Bin: \\x80\\xff caf\\xc3\\xa9] "
		    "host=0 body=0:\nEND state=0 pending=0\n");
	sp_http_req_init(&h, head, sizeof(head), 0);
	assert_int_equal(sp_http_parse(&h, req, sizeof(req) - 1, &used), SP_HTTP_DONE);
	assert_int_equal(used, sizeof(req) - 1);
	i = sp_http_header_find(&h, "x-REP", 5, 0);
	assert_int_equal(i, 1);
	i = sp_http_header_find(&h, "x-REP", 5, (unsigned)i + 1);
	assert_int_equal(i, 2);
	i = sp_http_header_find(&h, "x-REP", 5, (unsigned)i + 1);
	assert_int_equal(i, 3);
	sp_http_header_at(&h, (unsigned)i, &n, &nl, &v, &vl);
	assert_memory_equal(n, "X-REP", 5);
	assert_int_equal(vl, 5);
	assert_memory_equal(v, "three", 5);
	assert_int_equal(sp_http_header_find(&h, "x-REP", 5, (unsigned)i + 1), -ENOENT);
	assert_int_equal(sp_http_header_find(&h, "x-re", 4, 0), -ENOENT);
	assert_int_equal(sp_http_header_find(&h, "X-EMPTY", 7, 0), 4);
	assert_int_equal(sp_http_header_find(&h, "Host", 4, 1), -ENOENT);
	/* "X^Y" must not match "x~y": a case fold only folds letters */
	assert_int_equal(sp_http_header_find(&h, "X-R\x45P", 5, 0), 1);
	assert_false(sp_http_header(&h, SP_HTTP_H_ORIGIN, &v, &vl));
}

/* ---- request line ---- */

static void
test_request_line_forms(void **state)
{
	(void)state;
	EXPECT("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	       "DONE used=31 m=OPTIONS t=* f=3 v=11 ka=1 ec=0 ch=0 n=1 [Host: a] host=0 body=0:\n"
	       "END state=0 pending=0\n");
	EXPECT("GET http://a.b:8080/p/q;x?k=v&w=%20 HTTP/1.1\r\nHost: a.b:8080\r\n\r\n",
	       "DONE used=64 m=GET t=http://a.b:8080/p/q;x?k=v&w=%20 f=2 v=11 ka=1 ec=0 ch=0 n=1 "
	       "[Host: a.b:8080] host=0 body=0:\nEND state=0 pending=0\n");
	EXPECT("get /~a-b_c.d!$&'()*+,;=:@[] HTTP/1.0\r\n\r\n",
	       "DONE used=41 m=get t=/~a-b_c.d!$&'()*+,;=:@[] f=1 v=10 ka=0 ec=0 ch=0 n=0 "
	       "body=0:\nEND state=0 pending=0\n");
	/* a higher 1.x minor is handled as 1.1 (RFC 9112 §2.3) */
	EXPECT("GET / HTTP/1.7\r\nHost: a\r\n\r\n",
	       "DONE used=27 m=GET t=/ f=1 v=11 ka=1 ec=0 ch=0 n=1 [Host: a] host=0 body=0:\n"
	       "END state=0 pending=0\n");
	EXPECT("M-1!#$%&'*+.^_`|~ urn:x HTTP/1.0\r\n\r\n",
	       "DONE used=36 m=M-1!#$%&'*+.^_`|~ t=urn:x f=2 v=10 ka=0 ec=0 ch=0 n=0 body=0:\n"
	       "END state=0 pending=0\n");
}

static void
test_request_line_errors(void **state)
{
	static const char *const bad_line[] = {
		"GET  / HTTP/1.1\r\n",	 "GET /  HTTP/1.1\r\n", "GET\t/ HTTP/1.1\r\n",
		"GET / HTTP/1.1 \r\n",	 " GET / HTTP/1.1\r\n", "GET /\r\n",
		"GET / http/1.1\r\n",	 "GET / HTTP/1.10\r\n", "GET / HTTP/11\r\n",
		"GET / HTTP/1.x\r\n",	 "G(ET / HTTP/1.1\r\n", "GET\r\n",
		"GET / HTTP/1.1\r\r\n",
		"GET /a b HTTP/1.1\r\n", "GET / HTTP/1.\r\n",	"/ HTTP/1.1\r\n",
	};
	static const char *const bad_target[] = {
		"GET * HTTP/1.1\r\n",
		"GET 1.2.3.4:80 HTTP/1.1\r\n",
		"GET /\"x HTTP/1.1\r\n",
		"GET /<x> HTTP/1.1\r\n",
		"GET /{x} HTTP/1.1\r\n",
		"GET /a|b HTTP/1.1\r\n",
		"GET /a\\b HTTP/1.1\r\n",
		"GET /a^b HTTP/1.1\r\n",
		"GET /a`b HTTP/1.1\r\n",
		"GET /a#f HTTP/1.1\r\n",
		"GET /\x80 HTTP/1.1\r\n",
		"GET /a\x01 HTTP/1.1\r\n",
		"GET /a\x7f HTTP/1.1\r\n",
		"GET 1http://a HTTP/1.1\r\n",
		"GET http: HTTP/1.1\r\n",
		"GET ht_tp://a HTTP/1.1\r\n",
		"GET ** HTTP/1.1\r\n",
		"GET [::1]:80 HTTP/1.1\r\n",
	};

	(void)state;
	for (size_t i = 0; i < SP_ARRAY_SIZE(bad_line); i++) {
		expect_prefix(bad_line[i], &g_cfg, E400L);
	}
	/* strings with an embedded NUL are cut by strlen: run them with their real length */
	expect_n("GET / HTTP/1.1\x00\r\n", 17, &g_cfg, E400L " used=17\n");
	expect_n("\x00GET / HTTP/1.1\r\n", 17, &g_cfg, E400L " used=17\n");
	expect_n("GET /\x00 HTTP/1.1\r\n", 17, &g_cfg, E400T " used=17\n");
	for (size_t i = 0; i < SP_ARRAY_SIZE(bad_target); i++) {
		expect_prefix(bad_target[i], &g_cfg, E400T);
	}
	EXPECT("GET / HTTP/2.0\r\n", E505 " used=16\n");
	EXPECT("GET / HTTP/0.9\r\n", E505 " used=16\n");
	EXPECT("GET / HTTP/3.0\r\nHost: a\r\n\r\n", E505 " used=16\n");
	/* the verdict comes as soon as the request line's LF arrives */
	EXPECT("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET  / HTTP/1.1\r\nHost: a\r\n\r\n",
	       "DONE used=27 m=GET t=/ f=1 v=11 ka=1 ec=0 ch=0 n=1 [Host: a] host=0 body=0:\n"
	       E400L " used=17\n");
}

/* RFC 9112 §2.2: CRLF only; a bare LF anywhere in the head is refused at once. */
static void
test_line_ends(void **state)
{
	(void)state;
	EXPECT("GET / HTTP/1.1\nHost: a\r\n\r\n", E400E " used=15\n");
	EXPECT("GET / HTTP/1.1\r\nHost: a\n\r\n", E400E " used=24\n");
	EXPECT("GET / HTTP/1.1\r\nHost: a\r\n\n", E400E " used=26\n");
	EXPECT("\nGET / HTTP/1.1\r\n", E400E " used=1\n");
	/* a bare CR inside a line is not a field character */
	EXPECT("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", E400H " used=27\n");
	EXPECT("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", E400H " used=26\n");
	/* leading empty lines before the request line: up to SP_HTTP_LEADING_CRLF_MAX */
	EXPECT("\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	       "DONE used=35 m=GET t=/ f=1 v=11 ka=1 ec=0 ch=0 n=1 [Host: a] host=0 body=0:\n"
	       "END state=0 pending=0\n");
	EXPECT("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n", E400L " used=10\n");
	EXPECT("\r\n", "END state=1 pending=2\n");
	EXPECT("\r", "END state=1 pending=1\n");
}

/* ---- header fields ---- */

static void
test_header_errors(void **state)
{
	static const char *const bad[] = {
		"GET / HTTP/1.1\r\nHost : a\r\n\r\n",	  /* space before the colon (§5.1) */
		"GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", /* obs-fold (§5.2) */
		"GET / HTTP/1.1\r\nHost: a\r\n\tb\r\n\r\n",
		"GET / HTTP/1.1\r\n Host: a\r\n\r\n", /* whitespace after the start line */
		"GET / HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost a\r\n\r\n",
		"GET / HTTP/1.1\r\nX Y: a\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nX(: a\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\x01\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\x7f\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nX\x80: a\r\nHost: a\r\n\r\n",
	};

	(void)state;
	for (size_t i = 0; i < SP_ARRAY_SIZE(bad); i++) {
		expect_prefix(bad[i], &g_cfg, E400H);
	}
	expect_n("GET / HTTP/1.1\r\nX: a\x00 b\r\nHost: a\r\n\r\n", 36, &g_cfg,
		 E400H " used=25\n");
	expect_n("GET / HTTP/1.1\r\nX\x00: a\r\nHost: a\r\n\r\n", 34, &g_cfg,
		 E400H " used=23\n");
}

/* Every octet at every position of a value (the check runs eight octets at a time). */
static void
test_value_octets(void **state)
{
	static const char pre[] = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
	char in[128], head[256];
	struct sp_http_req h;

	(void)state;
	for (unsigned c = 0; c < 256; c++) {
		bool ok = (c >= 0x20 && c != 0x7f) || c == '\t';

		if (c == '\n') {
			continue; /* a line end, not a value octet */
		}
		for (size_t pos = 0; pos < 24; pos++) {
			size_t n = sizeof(pre) - 1, used;
			int rc;

			memcpy(in, pre, n);
			memset(in + n, 'v', 24);
			in[n + pos] = (char)c;
			n += 24;
			memcpy(in + n, "\r\n\r\n", 4);
			n += 4;
			sp_http_req_init(&h, head, sizeof(head), 0);
			rc = sp_http_parse(&h, in, n, &used);
			assert_int_equal(rc, ok ? SP_HTTP_DONE : SP_HTTP_E_BAD_HEADER);
		}
	}
}

static void
test_host_rules(void **state)
{
	(void)state;
	EXPECT("GET / HTTP/1.1\r\nX: a\r\n\r\n", E400HOST " used=24\n");
	EXPECT("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", E400HOST " used=34\n");
	EXPECT("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", E400HOST " used=27\n");
	EXPECT("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", E400HOST " used=27\n");
	EXPECT("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", E400HOST " used=27\n");
	/* HTTP/1.0 needs no Host; an empty Host is valid; IP literals and ports are */
	EXPECT("GET / HTTP/1.0\r\n\r\n",
	       "DONE used=18 m=GET t=/ f=1 v=10 ka=0 ec=0 ch=0 n=0 body=0:\n"
	       "END state=0 pending=0\n");
	EXPECT("GET / HTTP/1.1\r\nHost:\r\n\r\n",
	       "DONE used=25 m=GET t=/ f=1 v=11 ka=1 ec=0 ch=0 n=1 [Host: ] host=0 body=0:\n"
	       "END state=0 pending=0\n");
	EXPECT("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
	       "DONE used=36 m=GET t=/ f=1 v=11 ka=1 ec=0 ch=0 n=1 [Host: [::1]:8080] host=0 "
	       "body=0:\nEND state=0 pending=0\n");
}

/* ---- Content-Length (RFC 9110 §8.6, RFC 9112 §6.3) ---- */

static void
test_content_length(void **state)
{
	(void)state;
	EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 005\r\n\r\nhello",
	       "HEAD used=49 hint=5 ec=0\n"
	       "DONE used=54 m=POST t=/ f=1 v=11 ka=1 ec=0 ch=0 n=2 [Host: a] "
	       "[Content-Length: 005] host=0 cl=1 body=5:hello\nEND state=0 pending=0\n");
	/* leading zeros beyond 20 digits are still the small value (found by fuzz_http) */
	EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0000000000000000000000001\r\n\r\nz",
	       "HEAD used=71 hint=1 ec=0\n"
	       "DONE used=72 m=POST t=/ f=1 v=11 ka=1 ec=0 ch=0 n=2 [Host: a] "
	       "[Content-Length: 0000000000000000000000001] host=0 cl=1 body=1:z\n"
	       "END state=0 pending=0\n");
	/* repeated identical values are one value */
	EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\ncontent-length:  3 \r\n\r\nabc",
	       "HEAD used=68 hint=3 ec=0\n"
	       "DONE used=71 m=POST t=/ f=1 v=11 ka=1 ec=0 ch=0 n=3 [Host: a] "
	       "[Content-Length: 3] [content-length: 3] host=0 cl=1 body=3:abc\n"
	       "END state=0 pending=0\n");
	EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
	       "DONE used=47 m=POST t=/ f=1 v=11 ka=1 ec=0 ch=0 n=2 [Host: a] "
	       "[Content-Length: 0] host=0 cl=1 body=0:\nEND state=0 pending=0\n");
	EXPECT("POST / HTTP/1.1\r\nContent-Length: 3\r\nHost: a\r\nContent-Length: 4\r\n\r\n",
	       E400CL " used=64\n");
	EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n", E400CL " used=48\n");
	EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n", E400CL " used=46\n");
	EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", E400CL " used=46\n");
	EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", E400CL " used=43\n");
	EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x1\r\n\r\n", E400CL " used=47\n");
	/* overflow saturates and is over any limit: 413 as soon as the head ends */
	EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999999\r\n\r\n",
	       E413 " used=72\n");
	EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n",
	       E413 " used=66\n");
}

static void
test_body_limits(void **state)
{
	struct cfg c = {256, 10, 10, true};
	struct cfg small_buf = {256, 100, 10, true};
	struct cfg small_buf_eager = {256, 100, 10, false};

	(void)state;
	/* exactly at body_max, then one past */
	EXPECT_CFG("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789", &c,
		   "HEAD used=48 hint=10 ec=0\n"
		   "DONE used=58 m=POST t=/ f=1 v=11 ka=1 ec=0 ch=0 n=2 [Host: a] "
		   "[Content-Length: 10] host=0 cl=1 body=10:0123456789\nEND state=0 pending=0\n");
	EXPECT_CFG("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n0123456789", &c,
		   E413 " used=48\n");
	/* a buffer smaller than announced: 413 when the body starts (given lazily) ... */
	EXPECT_CFG("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n0123456789x",
		   &small_buf, "HEAD used=48 hint=11 ec=0\n" E413 " used=48\n");
	/* ... or at the end of the head (given up front) */
	EXPECT_CFG("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n0123456789x",
		   &small_buf_eager, E413 " used=48\n");
	/* chunked: sizes add up to exactly the limit, then one more byte */
	EXPECT_CFG("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
		   "4\r\n0123\r\n6\r\n456789\r\n0\r\n\r\n",
		   &c,
		   "HEAD used=56 hint=10 ec=0\n"
		   "DONE used=81 m=POST t=/ f=1 v=11 ka=1 ec=0 ch=1 n=2 [Host: a] "
		   "[Transfer-Encoding: chunked] host=0 te=1 body=10:0123456789\n"
		   "END state=0 pending=0\n");
	EXPECT_CFG("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
		   "4\r\n0123\r\n7\r\n4567890\r\n0\r\n\r\n",
		   &c, "HEAD used=56 hint=10 ec=0\n" E413 " used=66\n");
	EXPECT_CFG("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
		   "b\r\n0123456789x\r\n0\r\n\r\n",
		   &c, "HEAD used=56 hint=10 ec=0\n" E413 " used=57\n");
	/* chunked into a buffer smaller than body_max: the buffer is the limit */
	EXPECT_CFG("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
		   "b\r\n0123456789x\r\n0\r\n\r\n",
		   &small_buf, "HEAD used=56 hint=100 ec=0\n" E413 " used=57\n");
}

/* ---- Transfer-Encoding (RFC 9112 §6.1, §6.3, §11.2) ---- */

static void
test_transfer_encoding(void **state)
{
	(void)state;
	EXPECT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , Chunked ,\r\n\r\n0\r\n\r\n",
	       "HEAD used=60 hint=1048576 ec=0\n"
	       "DONE used=65 m=POST t=/ f=1 v=11 ka=1 ec=0 ch=1 n=2 [Host: a] "
	       "[Transfer-Encoding: , Chunked ,] host=0 te=1 body=0:\nEND state=0 pending=0\n");
	/* TE with CL, in either order: the smuggling pattern */
	EXPECT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n"
	       "\r\n",
	       E400F " used=75\n");
	EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n"
	       "\r\n",
	       E400F " used=75\n");
	/* HTTP/1.0 has no chunked coding */
	EXPECT("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", E400F " used=47\n");
	/* chunked not final, twice, or absent: the length is unknowable */
	EXPECT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
	       E400F " used=62\n");
	EXPECT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", E400F " used=53\n");
	EXPECT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	       "Transfer-Encoding: chunked\r\n\r\n",
	       E400F " used=84\n");
	EXPECT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", E400F " used=48\n");
	EXPECT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
	       E400F " used=60\n");
	/* chunked final after a coding we do not implement: 501 */
	EXPECT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	       E501 " used=62\n");
	EXPECT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
	       "Transfer-Encoding: chunked\r\n\r\n",
	       E501 " used=81\n");
}

/* ---- chunked bodies (RFC 9112 §7.1) ---- */

#define CH_HEAD "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
#define CH_DONE(used, body)                                                                \
	"HEAD used=56 hint=1048576 ec=0\n"                                                 \
	"DONE used=" used " m=POST t=/ f=1 v=11 ka=1 ec=0 ch=1 n=2 [Host: a] "             \
	"[Transfer-Encoding: chunked] host=0 te=1 body=" body "\nEND state=0 pending=0\n"
#define CH_ERR(err, used) "HEAD used=56 hint=1048576 ec=0\n" err " used=" used "\n"

static void
test_chunked_ok(void **state)
{
	(void)state;
	EXPECT(CH_HEAD "0\r\n\r\n", CH_DONE("61", "0:"));
	EXPECT(CH_HEAD "A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n",
	       CH_DONE("91", "20:0123456789abcdefghij"));
	EXPECT(CH_HEAD "00000000000F\r\n0123456789abcde\r\n000\r\n\r\n",
	       CH_DONE("94", "15:0123456789abcde"));
	/* 16 digits: the bound */
	EXPECT(CH_HEAD "0000000000000003\r\nabc\r\n0000000000000000\r\n\r\n",
	       CH_DONE("99", "3:abc"));
	/* extensions, with BWS, tokens and quoted strings, on data and last chunks */
	EXPECT(CH_HEAD "3;a=b;c\r\nabc\r\n2 \t;x=\"q \\\" s\"\r\nde\r\n0;last\r\n\r\n",
	       CH_DONE("100", "5:abcde"));
	/* trailers are checked and discarded: the header list is unchanged */
	EXPECT(CH_HEAD "1\r\nz\r\n0\r\nX-Trailer: t\r\nOther:\r\n\r\n", CH_DONE("89", "1:z"));
	/* CR and LF inside chunk data are data */
	EXPECT(CH_HEAD "4\r\n\r\n\r\n\r\n0\r\n\r\n", CH_DONE("70", "4:\\x0d\\x0a\\x0d\\x0a"));
}

static void
test_chunked_errors(void **state)
{
	(void)state;
	EXPECT(CH_HEAD "\r\n", CH_ERR(E400C, "57"));
	EXPECT(CH_HEAD "x\r\n", CH_ERR(E400C, "57"));
	EXPECT(CH_HEAD "0x5\r\n", CH_ERR(E400C, "58"));
	EXPECT(CH_HEAD "-1\r\n", CH_ERR(E400C, "57"));
	EXPECT(CH_HEAD ";a\r\n", CH_ERR(E400C, "57"));
	EXPECT(CH_HEAD "5 \r\nabcde\r\n0\r\n\r\n", CH_ERR(E400C, "59"));
	EXPECT(CH_HEAD "5 x\r\nabcde\r\n0\r\n\r\n", CH_ERR(E400C, "59"));
	EXPECT(CH_HEAD "5\nabcde\r\n0\r\n\r\n", CH_ERR(E400C, "58"));
	EXPECT(CH_HEAD "5\rabcde\r\n0\r\n\r\n", CH_ERR(E400C, "59"));
	EXPECT(CH_HEAD "5;a\x01\r\nabcde\r\n0\r\n\r\n", CH_ERR(E400C, "60"));
	EXPECT(CH_HEAD "5;a\nabcde\r\n0\r\n\r\n", CH_ERR(E400C, "60"));
	EXPECT(CH_HEAD "3\r\nabcd\r\n0\r\n\r\n", CH_ERR(E400C, "63"));
	EXPECT(CH_HEAD "3\r\nabc\n0\r\n\r\n", CH_ERR(E400C, "63"));
	EXPECT(CH_HEAD "3\r\nabc\rx0\r\n\r\n", CH_ERR(E400C, "64"));
	/* 17 digits, even all zeros */
	EXPECT(CH_HEAD "00000000000000000\r\n\r\n", CH_ERR(E400C, "73"));
	/* huge sizes: 413 at the digit that crosses the limit */
	EXPECT(CH_HEAD "FFFFFFFFFFFFFFFF\r\n", CH_ERR(E413, "62"));
	EXPECT(CH_HEAD "100001\r\n", CH_ERR(E413, "62"));
	/* trailers: syntax, bare LF, and the head bound */
	EXPECT(CH_HEAD "0\r\nbad trailer\r\n\r\n", CH_ERR(E400H, "72"));
	EXPECT(CH_HEAD "0\r\nX: a\n\r\n", CH_ERR(E400E, "64"));
	EXPECT(CH_HEAD "0\r\nX: a\r\n\n", CH_ERR(E400E, "66"));
}

/* Extension octets (from after the size to the CR) are bounded per request, all chunks. */
static void
test_chunk_ext_bound(void **state)
{
	size_t hl = sizeof(CH_HEAD) - 1;
	char *in = malloc(hl + SP_HTTP_CHUNK_EXT_MAX_BYTES + 64);
	size_t n = hl;
	char want[128];

	(void)state;
	memcpy(in, CH_HEAD, hl);
	/* ";xxx..." on the data chunk and ";" on the last one: exactly the bound */
	memcpy(in + n, "1;", 2);
	n += 2;
	memset(in + n, 'x', SP_HTTP_CHUNK_EXT_MAX_BYTES - 2);
	n += SP_HTTP_CHUNK_EXT_MAX_BYTES - 2;
	memcpy(in + n, "\r\nz\r\n0;\r\n\r\n", 11);
	n += 11;
	check_splits(in, n, &g_cfg);
	snprintf(want, sizeof(want), "DONE used=%zu", n);
	assert_non_null(strstr(g_whole.s, want));
	/* one more: 400 at the last chunk's ';' (the tail is "0;\r\n\r\n") */
	memmove(in + hl + 3, in + hl + 2, n - hl - 2);
	in[hl + 2] = 'x';
	n++;
	check_splits(in, n, &g_cfg);
	snprintf(want, sizeof(want), "HEAD used=%zu hint=1048576 ec=0\n%s used=%zu\n", hl,
		 E400C, n - 4);
	assert_string_equal(g_whole.s, want);
	free(in);
}

/* ---- head limits ---- */

/* A request whose head is exactly len bytes: a long target or a long header value. */
static size_t
make_head(char *out, size_t len, bool long_target)
{
	static const char tail[] = " HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char pre[] = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
	size_t n;

	if (long_target) {
		memcpy(out, "GET /", 5);
		n = len - (sizeof(tail) - 1);
		memset(out + 5, 'a', n - 5);
		memcpy(out + n, tail, sizeof(tail) - 1);
		n += sizeof(tail) - 1;
	} else {
		memcpy(out, pre, sizeof(pre) - 1);
		n = len - 4;
		memset(out + sizeof(pre) - 1, 'v', n - (sizeof(pre) - 1));
		memcpy(out + n, "\r\n\r\n", 4);
		n += 4;
	}
	assert_int_equal(n, len);
	return n;
}

/* "GET /aaa... HTTP/1.1\r\n", len bytes. */
static size_t
make_line(char *out, size_t len)
{
	static const char ver[] = " HTTP/1.1\r\n";

	memcpy(out, "GET /", 5);
	memset(out + 5, 'a', len - 5 - (sizeof(ver) - 1));
	memcpy(out + len - (sizeof(ver) - 1), ver, sizeof(ver) - 1);
	return len;
}

/*
 * The head buffer holds exactly cap bytes: a head of cap bytes passes, cap + 1 is 431 at byte
 * cap + 1; a request line (CRLF included) of cap bytes fits and one of cap + 1 is 414.
 */
static void
check_head_bound(size_t cap, bool long_target)
{
	struct cfg c = {cap, 16, 16, true};
	char *in = malloc(cap + 32);
	size_t n = make_head(in, cap, long_target);
	char want[80];

	check_splits(in, n, &c);
	snprintf(want, sizeof(want), "DONE used=%zu m=GET", cap);
	assert_true(strncmp(g_whole.s, want, strlen(want)) == 0);
	n = make_head(in, cap + 1, long_target);
	check_splits(in, n, &c);
	snprintf(want, sizeof(want), "%s used=%zu\n", E431, cap + 1);
	assert_string_equal(g_whole.s, want);
	if (long_target) {
		/* a request line of cap bytes: complete, then the next byte does not fit */
		n = make_line(in, cap);
		check_splits(in, n, &c);
		snprintf(want, sizeof(want), "END state=1 pending=%zu\n", cap);
		assert_string_equal(g_whole.s, want);
		in[n] = 'H';
		check_splits(in, n + 1, &c);
		snprintf(want, sizeof(want), "%s used=%zu\n", E431, cap + 1);
		assert_string_equal(g_whole.s, want);
		/* one byte longer: the line is incomplete when the buffer is full */
		n = make_line(in, cap + 1);
		check_splits(in, n, &c);
		snprintf(want, sizeof(want), "%s used=%zu\n", E414, cap + 1);
		assert_string_equal(g_whole.s, want);
	}
	free(in);
}

static void
test_head_limits(void **state)
{
	(void)state;
	check_head_bound(64, true);
	check_head_bound(64, false);
	check_head_bound(1000, true);
	check_head_bound(1000, false);
	check_head_bound(SP_HTTP_HEAD_MAX_BYTES, true);
	check_head_bound(SP_HTTP_HEAD_MAX_BYTES, false);
	/* 414 only while the request line is incomplete */
	EXPECT_CFG("GET /aaaaaaaaaaaaaaaa", (&(struct cfg){16, 0, 0, true}), E414 " used=17\n");
	EXPECT_CFG("GET / HTTP/1.1\r\nHost: a", (&(struct cfg){20, 0, 0, true}), E431 " used=21\n");
}

static void
check_header_count(unsigned n_headers, const char *want_prefix)
{
	char *in = malloc(64 + n_headers * 16);
	size_t n = (size_t)snprintf(in, 64, "GET / HTTP/1.1\r\nHost: a\r\n");

	for (unsigned i = 1; i < n_headers; i++) {
		n += (size_t)snprintf(in + n, 16, "X%u: %u\r\n", i, i);
	}
	memcpy(in + n, "\r\n", 2);
	n += 2;
	check_splits(in, n, &g_cfg);
	if (strncmp(g_whole.s, want_prefix, strlen(want_prefix)) != 0) {
		fail_msg("%u headers: got %.80s", n_headers, g_whole.s);
	}
	free(in);
}

static void
test_header_count_limit(void **state)
{
	(void)state;
	check_header_count(SP_HTTP_MAX_HEADERS, "DONE");
	check_header_count(SP_HTTP_MAX_HEADERS + 1, E431N);
}

/* ---- connection semantics ---- */

static void
test_keep_alive(void **state)
{
	static const struct {
		const char *in;
		bool ka;
	} cases[] = {
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: CLOSE\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: te\r\nConnection: ,close,\r\n\r\n",
		 false},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n", true},
		{"GET / HTTP/1.0\r\n\r\n", false},
		{"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
		{"GET / HTTP/1.0\r\nConnection: foo, keep-alive\r\n\r\n", true},
		{"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", false},
	};

	(void)state;
	for (size_t i = 0; i < SP_ARRAY_SIZE(cases); i++) {
		expect_prefix(cases[i].in, &g_cfg, "DONE");
		assert_non_null(strstr(g_whole.s, cases[i].ka ? " ka=1 " : " ka=0 "));
	}
}

static void
test_expect_continue(void **state)
{
	(void)state;
	EXPECT("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx",
	       "HEAD used=69 hint=1 ec=1\n"
	       "DONE used=70 m=POST t=/ f=1 v=11 ka=1 ec=1 ch=0 n=3 [Host: a] "
	       "[Expect: 100-Continue] [Content-Length: 1] host=0 cl=2 expect=1 body=1:x\n"
	       "END state=0 pending=0\n");
	EXPECT(CH_HEAD, "HEAD used=56 hint=1048576 ec=0\nEND state=2 pending=56\n");
	EXPECT("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
	       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	       "HEAD used=78 hint=1048576 ec=1\n"
	       "DONE used=83 m=POST t=/ f=1 v=11 ka=1 ec=1 ch=1 n=3 [Host: a] "
	       "[Expect: 100-continue] [Transfer-Encoding: chunked] host=0 te=2 expect=1 "
	       "body=0:\nEND state=0 pending=0\n");
	/* no body: nothing to wait for */
	EXPECT("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
	       "DONE used=50 m=POST t=/ f=1 v=11 ka=1 ec=0 ch=0 n=2 [Host: a] "
	       "[Expect: 100-continue] host=0 expect=1 body=0:\nEND state=0 pending=0\n");
	/* HTTP/1.0: ignored (RFC 9110 §10.1.1) */
	EXPECT("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
	       "HEAD used=60 hint=1 ec=0\n"
	       "DONE used=61 m=POST t=/ f=1 v=10 ka=0 ec=0 ch=0 n=2 "
	       "[Expect: 100-continue] [Content-Length: 1] cl=1 expect=0 body=1:x\n"
	       "END state=0 pending=0\n");
	/* other expectations are not ours to refuse */
	EXPECT("POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx",
	       "HEAD used=63 hint=1 ec=0\n"
	       "DONE used=64 m=POST t=/ f=1 v=11 ka=1 ec=0 ch=0 n=3 [Host: a] "
	       "[Expect: 200-ok] [Content-Length: 1] host=0 cl=2 expect=1 body=1:x\n"
	       "END state=0 pending=0\n");
}

/* RFC 9113 §3.4: the prior-knowledge preface gets its own code, after exactly 24 bytes. */
static void
test_h2_preface(void **state)
{
	(void)state;
	EXPECT("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", E505P " used=24\n");
	EXPECT("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04", E505P " used=24\n");
	EXPECT("PRI * HTTP/2.0\r\n\r\nSM\r\n", "END state=1 pending=22\n");
	EXPECT("PRI * HTTP/2.0\r\n\r\nSX\r\n\r\n", E400L " used=20\n");
	EXPECT("PRI * HTTP/2.0\r\nHost: a\r\n\r\n", E400L " used=17\n");
	EXPECT("PRI / HTTP/2.0\r\n\r\nSM\r\n\r\n", E505 " used=16\n");
	EXPECT("PRI * HTTP/1.1\r\nHost: a\r\n\r\n", E400T " used=16\n");
	assert_int_equal(sp_http_error_status(SP_HTTP_E_H2_PREFACE), 505);
}

/* ---- pipelining ---- */

static void
test_pipelined(void **state)
{
	static const char in[] =
		"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
		"POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nabcd"
		"\r\n" /* a stray CRLF after a body (RFC 9112 §2.2) */
		"POST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
		"2\r\nef\r\n1;x\r\ng\r\n0\r\nT: 1\r\n\r\n"
		"POST /4 HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi"
		"GET /5 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
		"GET /6 HTTP/1.1\r\nHo";

	(void)state;
	EXPECT(in,
	       "DONE used=28 m=GET t=/1 f=1 v=11 ka=1 ec=0 ch=0 n=1 [Host: a] host=0 body=0:\n"
	       "HEAD used=48 hint=4 ec=0\n"
	       "DONE used=52 m=POST t=/2 f=1 v=11 ka=1 ec=0 ch=0 n=2 [Host: a] "
	       "[Content-Length: 4] host=0 cl=1 body=4:abcd\n"
	       "HEAD used=59 hint=1048576 ec=0\n"
	       "DONE used=85 m=POST t=/3 f=1 v=11 ka=1 ec=0 ch=1 n=2 [Host: a] "
	       "[Transfer-Encoding: chunked] host=0 te=1 body=3:efg\n"
	       "HEAD used=63 hint=2 ec=0\n"
	       "DONE used=65 m=POST t=/4 f=1 v=10 ka=1 ec=0 ch=0 n=2 "
	       "[Connection: keep-alive] [Content-Length: 2] cl=1 conn=0 body=2:hi\n"
	       "DONE used=47 m=GET t=/5 f=1 v=11 ka=0 ec=0 ch=0 n=2 [Host: a] "
	       "[Connection: close] host=0 conn=1 body=0:\n"
	       "END state=1 pending=19\n");
	/* an error in the third request leaves the first two served */
	EXPECT("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: b\r\n\r\n"
	       "GET / HTTP/1.1\r\nHost a\r\n\r\n",
	       "DONE used=27 m=GET t=/ f=1 v=11 ka=1 ec=0 ch=0 n=1 [Host: a] host=0 body=0:\n"
	       "DONE used=27 m=GET t=/ f=1 v=11 ka=1 ec=0 ch=0 n=1 [Host: b] host=0 body=0:\n"
	       E400H " used=24\n");
}

/* ---- states, reset, sticky errors, the error table ---- */

static void
test_states_and_reset(void **state)
{
	static const char req[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
	char head[128], body[8];
	struct sp_http_req h;
	size_t used = 99;
	int rc;

	(void)state;
	sp_http_req_init(&h, head, sizeof(head), sizeof(body));
	assert_int_equal(sp_http_state(&h), SP_HTTP_STATE_IDLE);
	assert_int_equal(sp_http_parse(&h, NULL, 0, &used), SP_AGAIN);
	assert_int_equal(used, 0);
	assert_int_equal(sp_http_state(&h), SP_HTTP_STATE_IDLE);
	assert_int_equal(sp_http_parse(&h, req, 1, &used), SP_AGAIN);
	assert_int_equal(sp_http_state(&h), SP_HTTP_STATE_HEAD);
	rc = sp_http_parse(&h, req + 1, sizeof(req) - 2, &used);
	assert_int_equal(rc, SP_HTTP_HEAD_DONE);
	assert_int_equal(used, sizeof(req) - 5);
	assert_int_equal(sp_http_state(&h), SP_HTTP_STATE_BODY);
	assert_int_equal(sp_http_body_hint(&h), 3);
	assert_null(sp_http_body(&h));
	sp_http_set_body_buf(&h, body, sizeof(body));
	assert_int_equal(sp_http_parse(&h, NULL, 0, &used), SP_AGAIN);
	assert_int_equal(sp_http_parse(&h, "ab", 2, &used), SP_AGAIN);
	assert_int_equal(sp_http_state(&h), SP_HTTP_STATE_BODY);
	assert_int_equal(sp_http_parse(&h, "cGET", 4, &used), SP_HTTP_DONE);
	assert_int_equal(used, 1);
	assert_int_equal(sp_http_state(&h), SP_HTTP_STATE_DONE);
	assert_ptr_equal(sp_http_body(&h), body);
	sp_http_req_reset(&h);
	check_reset(&h);
	/* an error is sticky until reset */
	rc = sp_http_parse(&h, "GET\t/ HTTP/1.1\r\nmore", 20, &used);
	assert_int_equal(rc, SP_HTTP_E_BAD_REQUEST_LINE);
	assert_int_equal(used, 16);
	assert_int_equal(sp_http_state(&h), SP_HTTP_STATE_ERROR);
	assert_int_equal(sp_http_parse(&h, "x", 1, &used), rc);
	assert_int_equal(used, 0);
	sp_http_req_reset(&h);
	check_reset(&h);
	assert_int_equal(sp_http_parse(&h, "GET / HTTP/1.0\r\n\r\n", 18, &used), SP_HTTP_DONE);
}

static void
test_error_table(void **state)
{
	static const struct {
		int err;
		int status;
	} map[] = {
		{SP_HTTP_E_BAD_REQUEST_LINE, 400}, {SP_HTTP_E_BAD_TARGET, 400},
		{SP_HTTP_E_BAD_HEADER, 400},	   {SP_HTTP_E_BAD_LINE_END, 400},
		{SP_HTTP_E_BAD_HOST, 400},	   {SP_HTTP_E_BAD_LENGTH, 400},
		{SP_HTTP_E_BAD_FRAMING, 400},	   {SP_HTTP_E_BAD_CHUNK, 400},
		{SP_HTTP_E_BODY_TOO_LARGE, 413},   {SP_HTTP_E_URI_TOO_LONG, 414},
		{SP_HTTP_E_HEAD_TOO_LARGE, 431},   {SP_HTTP_E_TOO_MANY_HEADERS, 431},
		{SP_HTTP_E_TE_UNSUPPORTED, 501},   {SP_HTTP_E_VERSION, 505},
		{SP_HTTP_E_H2_PREFACE, 505},
	};

	(void)state;
	assert_int_equal(SP_ARRAY_SIZE(map), SP_HTTP_ERR_COUNT);
	for (size_t i = 0; i < SP_ARRAY_SIZE(map); i++) {
		assert_int_equal(sp_http_error_status(map[i].err), map[i].status);
		assert_true(map[i].err < -SP_ERR_BASE && map[i].err != SP_AGAIN);
		assert_true(strlen(sp_http_strerror(map[i].err)) > 5);
		for (size_t j = 0; j < i; j++) {
			assert_true(map[i].err != map[j].err);
		}
	}
	assert_int_equal(sp_http_error_status(SP_AGAIN), 500);
	assert_int_equal(sp_http_error_status(-ENOMEM), 500);
	assert_int_equal(sp_http_error_status(0), 500);
	assert_int_equal(sp_http_error_status(-2147483647 - 1), 500);
	assert_string_equal(sp_http_strerror(SP_AGAIN), "SP_AGAIN");
}

/* ---- random valid requests against a model ---- */

#define RQ_MAX 6u
#define RQ_BYTES (64u * 1024u)

struct model_req {
	char method[16];
	char target[64];
	unsigned version;
	unsigned nh; /* headers including Host/framing */
	char names[12][24];
	char values[12][48];
	char body[2048];
	size_t body_len;
	bool chunked;
	bool ka;
	size_t wire_len;
};

static void
gen_token(char *out, size_t n)
{
	static const char tchars[] = "!#$%&'*+-.^_`|~0123456789"
				     "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

	for (size_t i = 0; i < n; i++) {
		out[i] = tchars[rng_below(sizeof(tchars) - 1)];
	}
	out[n] = '\0';
}

/* A value with no OWS at either end (the parser trims it). */
static void
gen_value(char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned r = rng_below(100);
		char c = (char)(0x21 + rng_below(0x7f - 0x21));

		if (r < 10 && i > 0 && i + 1 < n) {
			c = r < 5 ? ' ' : '\t';
		} else if (r < 15) {
			c = (char)(0x80 + rng_below(0x80));
		}
		out[i] = c;
	}
	out[n] = '\0';
}

static void
gen_request_line(struct model_req *m)
{
	static const char tch[] = "abcXYZ019-._~!$&'()*+,;=:@/?%[]";
	size_t tl = 1 + rng_below(40);

	gen_token(m->method, 1 + rng_below(10));
	m->target[0] = '/';
	for (size_t i = 1; i < tl; i++) {
		m->target[i] = tch[rng_below(sizeof(tch) - 1)];
	}
	m->target[tl] = '\0';
	m->version = rng_below(4) == 0 ? 10 : 11;
}

/* Random headers: never a known framing name (the generator adds those itself). */
static void
gen_headers(struct model_req *m)
{
	unsigned extra = rng_below(8);

	m->nh = 0;
	if (m->version == 11) {
		snprintf(m->names[m->nh], sizeof(m->names[0]), "%s",
			 rng_below(2) ? "host" : "Host");
		gen_value(m->values[m->nh], rng_below(2) ? 0 : 1 + rng_below(3));
		for (char *p = m->values[m->nh]; *p != '\0'; p++) {
			*p = 'h'; /* Host characters only */
		}
		m->nh++;
	}
	for (unsigned i = 0; i < extra; i++) {
		snprintf(m->names[m->nh], sizeof(m->names[0]), "Z-");
		gen_token(m->names[m->nh] + 2, 1 + rng_below(12));
		gen_value(m->values[m->nh], rng_below(40));
		m->nh++;
	}
}

/* Serialise m (with random framing and chunking) into out; returns the wire length. */
static size_t
gen_wire(struct model_req *m, char *out)
{
	size_t n = (size_t)snprintf(out, RQ_BYTES, "%s %s HTTP/1.%c\r\n", m->method, m->target,
				    m->version == 10 ? '0' : '1');
	size_t left;

	for (unsigned i = 0; i < m->nh; i++) {
		const char *ows = rng_below(3) == 0 ? " \t" : rng_below(2) ? " " : "";

		n += (size_t)snprintf(out + n, RQ_BYTES - n, "%s:%s%s%s\r\n", m->names[i], ows,
				      m->values[i], rng_below(3) == 0 ? "\t " : "");
	}
	n += (size_t)snprintf(out + n, RQ_BYTES - n, "\r\n");
	if (!m->chunked) {
		memcpy(out + n, m->body, m->body_len);
		return n + m->body_len;
	}
	for (left = m->body_len; left > 0;) {
		size_t c = 1 + rng_below((unsigned)SP_MIN(left, 300u));

		n += (size_t)snprintf(out + n, RQ_BYTES - n, "%zX%s\r\n", c,
				      rng_below(4) == 0 ? ";e=\"v\"" : "");
		memcpy(out + n, m->body + (m->body_len - left), c);
		n += c;
		memcpy(out + n, "\r\n", 2);
		n += 2;
		left -= c;
	}
	n += (size_t)snprintf(out + n, RQ_BYTES - n, "0\r\n%s\r\n",
			      rng_below(3) == 0 ? "Trail: x\r\n" : "");
	return n;
}

static void
gen_request(struct model_req *m, char *out, size_t *n)
{
	unsigned framing = rng_below(3); /* none, Content-Length, chunked */
	unsigned conn = rng_below(3);	 /* none, close, keep-alive */

	memset(m, 0, sizeof(*m));
	gen_request_line(m);
	gen_headers(m);
	m->chunked = framing == 2 && m->version == 11;
	m->body_len = framing == 0 ? 0 : rng_below(sizeof(m->body) + 1);
	for (size_t i = 0; i < m->body_len; i++) {
		m->body[i] = (char)rng_next();
	}
	if (m->chunked) {
		snprintf(m->names[m->nh], sizeof(m->names[0]), "transfer-ENCODING");
		snprintf(m->values[m->nh++], sizeof(m->values[0]), "chunked");
	} else if (framing != 0) {
		snprintf(m->names[m->nh], sizeof(m->names[0]), "Content-Length");
		snprintf(m->values[m->nh++], sizeof(m->values[0]), "%zu", m->body_len);
	}
	if (conn != 0) {
		snprintf(m->names[m->nh], sizeof(m->names[0]), "Connection");
		snprintf(m->values[m->nh++], sizeof(m->values[0]), "%s",
			 conn == 1 ? "close" : "keep-alive");
	}
	m->ka = conn != 1 && (m->version == 11 || conn == 2);
	m->wire_len = gen_wire(m, out + *n);
	*n += m->wire_len;
}

static void
model_check(const struct model_req *m, const struct sp_http_req *h)
{
	const char *p, *v;
	size_t len, vlen;

	sp_http_method(h, &p, &len);
	assert_int_equal(len, strlen(m->method));
	assert_memory_equal(p, m->method, len);
	sp_http_target(h, &p, &len);
	assert_int_equal(len, strlen(m->target));
	assert_memory_equal(p, m->target, len);
	assert_int_equal(sp_http_version(h), m->version);
	assert_int_equal(sp_http_keep_alive(h), m->ka);
	assert_int_equal(sp_http_is_chunked(h), m->chunked);
	assert_int_equal(sp_http_header_count(h), m->nh);
	for (unsigned i = 0; i < m->nh; i++) {
		sp_http_header_at(h, i, &p, &len, &v, &vlen);
		assert_int_equal(len, strlen(m->names[i]));
		assert_memory_equal(p, m->names[i], len);
		assert_int_equal(vlen, strlen(m->values[i]));
		assert_memory_equal(v, m->values[i], vlen);
	}
	assert_int_equal(sp_http_body_len(h), m->body_len);
	assert_true(m->body_len == 0 || memcmp(sp_http_body(h), m->body, m->body_len) == 0);
}

static void
test_random_model(void **state)
{
	static struct model_req models[RQ_MAX];
	char *wire = malloc(RQ_BYTES * RQ_MAX);

	(void)state;
	for (unsigned round = 0; round < 300; round++) {
		unsigned nreq = 1 + rng_below(RQ_MAX), got = 0;
		size_t n = 0;
		char *head = malloc(SP_HTTP_HEAD_MAX_BYTES), *body = malloc(4096);
		struct sp_http_req h;

		for (unsigned i = 0; i < nreq; i++) {
			gen_request(&models[i], wire, &n);
		}
		sp_http_req_init(&h, head, SP_HTTP_HEAD_MAX_BYTES, 4096);
		for (size_t off = 0; off < n;) {
			size_t piece = 1 + rng_below(rng_below(2) ? 7 : 1500), used;
			int rc;

			piece = SP_MIN(piece, n - off);
			rc = sp_http_parse(&h, wire + off, piece, &used);
			off += used;
			if (rc == SP_HTTP_HEAD_DONE) {
				sp_http_set_body_buf(&h, body, 4096);
			} else if (rc == SP_HTTP_DONE) {
				model_check(&models[got++], &h);
				sp_http_req_reset(&h);
			} else {
				assert_int_equal(rc, SP_AGAIN);
			}
		}
		assert_int_equal(got, nreq);
		assert_int_equal(sp_http_state(&h), SP_HTTP_STATE_IDLE);
		if (round < 40) {
			/* transcripts agree over every split of a prefix */
			check_splits(wire, SP_MIN(n, (size_t)1500), &g_cfg);
		}
		free(head);
		free(body);
	}
	free(wire);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_get),
		cmocka_unit_test(test_kinesis_post),
		cmocka_unit_test(test_header_access),
		cmocka_unit_test(test_request_line_forms),
		cmocka_unit_test(test_request_line_errors),
		cmocka_unit_test(test_line_ends),
		cmocka_unit_test(test_header_errors),
		cmocka_unit_test(test_value_octets),
		cmocka_unit_test(test_host_rules),
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_body_limits),
		cmocka_unit_test(test_transfer_encoding),
		cmocka_unit_test(test_chunked_ok),
		cmocka_unit_test(test_chunked_errors),
		cmocka_unit_test(test_chunk_ext_bound),
		cmocka_unit_test(test_head_limits),
		cmocka_unit_test(test_header_count_limit),
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_expect_continue),
		cmocka_unit_test(test_h2_preface),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_states_and_reset),
		cmocka_unit_test(test_error_table),
		cmocka_unit_test(test_random_model),
	};

	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	free(g_bufs.head);
	free(g_bufs.body);
	return rc;
}
