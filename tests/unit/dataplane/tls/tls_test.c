/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/tls: a real OpenSSL client in the same process talks to
 * struct sp_tls_conn over BIO pairs. TLS 1.2 and 1.3 handshakes (EC and RSA certificates, fed
 * whole and one byte at a time), ALPN (h2, http/1.1, none, only unknown), data both ways in
 * small and large pieces, a truncated record, plaintext HTTP and garbage, a corrupted record,
 * close_notify both ways, the buffer bounds, session tickets across contexts and across key
 * rotation, a certificate reload with a connection open, context errors, allocations in the
 * steady state (counted through CRYPTO_set_mem_functions), and tools/setup/dev-ca.sh when the
 * build passes its path in SP_TLS_DEV_CA.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <spate/err.h>

#include "../../sp_test.h"

#include "tls.h"
#include "tls_fx.h"

#define BIG_LEN                (1024u * 1024u)
#define ALERT_NO_APP_PROTO     120
#define ALERT_BAD_RECORD_MAC   20
#define ALERT_PROTOCOL_VERSION 70
#define ALERT_CLOSE_NOTIFY     0

static const unsigned char alpn_both[] = "\x02h2\x08http/1.1";
static const unsigned char alpn_h2[] = "\x02h2";
static const unsigned char alpn_http11[] = "\x08http/1.1";
static const unsigned char alpn_unknown[] = "\x06spdy/3\x03"
					    "foo";

static struct fx_pki g_ec, g_rsa;

/* ---- allocation counting (OpenSSL's allocator; installed first thing in main) ---- */

struct mem_hdr {
	size_t n;
	size_t pad;
};

static bool g_count;     /* count only while the server's code runs */
static size_t g_allocs;  /* malloc + realloc calls while g_count */
static long long g_live; /* bytes currently allocated */

static void *
mem_malloc(size_t n, const char *file, int line)
{
	struct mem_hdr *h = malloc(sizeof(*h) + n);

	(void)file;
	(void)line;
	if (h == NULL) {
		return NULL;
	}
	h->n = n;
	g_allocs += g_count;
	g_live += (long long)n;
	return h + 1;
}

static void
mem_free(void *p, const char *file, int line)
{
	struct mem_hdr *h;

	(void)file;
	(void)line;
	if (p == NULL) {
		return;
	}
	h = (struct mem_hdr *)p - 1;
	g_live -= (long long)h->n;
	free(h);
}

static void *
mem_realloc(void *p, size_t n, const char *file, int line)
{
	struct mem_hdr *h;

	if (p == NULL) {
		return mem_malloc(n, file, line);
	}
	h = realloc((struct mem_hdr *)p - 1, sizeof(*h) + n);
	if (h == NULL) {
		return NULL;
	}
	g_live += (long long)n - (long long)h->n;
	h->n = n;
	g_allocs += g_count;
	return h + 1;
}

/* ---- helpers ---- */

static struct sp_tls_ctx *
ctx_make(const struct fx_pki *p, const struct sp_tls_ticket_keys *t, unsigned flags)
{
	struct sp_tls_ctx_params prm = fx_params(p);
	struct sp_tls_ctx *ctx = NULL;
	char err[SP_TLS_ERR_MAX];

	prm.tickets = t;
	prm.flags = flags;
	if (sp_tls_ctx_new(&prm, &ctx, err, sizeof(err)) != 0) {
		fail_msg("sp_tls_ctx_new: %s", err);
	}
	return ctx;
}

/* Open a connection pair and run the handshake; asserts it succeeds. */
static struct sp_tls_conn *
open_pair(struct fx_client *cl, SSL_CTX *cctx, struct sp_tls_ctx *ctx, const unsigned char *alpn,
	  size_t alpn_len, SSL_SESSION *sess, size_t chunk)
{
	struct sp_tls_conn *c = sp_tls_conn_new(ctx);

	assert_non_null(c);
	fx_client_new(cl, cctx, alpn, alpn_len, sess);
	assert_int_equal(fx_handshake(cl, c, chunk), 0);
	assert_int_equal(sp_tls_conn_state(c), SP_TLS_OPEN);
	assert_int_equal(SSL_get_verify_result(cl->ssl), X509_V_OK);
	return c;
}

static void
fill(unsigned char *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		b[i] = (unsigned char)(seed + i * 131u + (i >> 9));
	}
}

/* Client -> server: len bytes written in pieces of wpiece, fed in chunks, read in rcap pieces. */
static void
xfer_c2s(struct fx_client *cl, struct sp_tls_conn *c, size_t len, size_t wpiece, size_t chunk,
	 size_t rcap)
{
	unsigned char *src = malloc(len), *dst = malloc(len), rb[16384];
	size_t sent = 0, got = 0;
	unsigned idle = 0;

	assert_true(src && dst);
	fill(src, len, 7);
	while (got < len) {
		size_t moved;

		if (sent < len) {
			int w = SSL_write(cl->ssl, src + sent, (int)SP_MIN(wpiece, len - sent));

			if (w > 0) {
				sent += (size_t)w;
			}
		}
		moved = fx_move(cl, c, chunk);
		for (;;) {
			ssize_t r;

			g_count = true;
			r = sp_tls_conn_read(c, rb, SP_MIN(rcap, sizeof(rb)));
			g_count = false;

			if (r == SP_AGAIN) {
				break;
			}
			if (r <= 0) {
				fail_msg("read: %zd (%s), alert sent %d", r, sp_strerror((int)r),
					 sp_tls_conn_alert_sent(c));
			}
			assert_true(got + (size_t)r <= len);
			memcpy(dst + got, rb, (size_t)r);
			got += (size_t)r;
			moved += (size_t)r;
		}
		idle = moved ? 0 : idle + 1;
		assert_true(idle < 4);
	}
	assert_memory_equal(src, dst, len);
	free(src);
	free(dst);
}

/* Server -> client: len bytes written in pieces of wpiece, moved in chunks. */
static void
xfer_s2c(struct fx_client *cl, struct sp_tls_conn *c, size_t len, size_t wpiece, size_t chunk)
{
	unsigned char *src = malloc(len), *dst = malloc(len);
	size_t sent = 0, got = 0;
	unsigned idle = 0;

	assert_true(src && dst);
	fill(src, len, 11);
	while (got < len) {
		size_t moved = 0;

		while (sent < len) {
			ssize_t w;

			g_count = true;
			w = sp_tls_conn_write(c, src + sent, SP_MIN(wpiece, len - sent));
			g_count = false;

			if (w == SP_AGAIN) {
				break;
			}
			assert_true(w > 0);
			assert_true(sp_tls_conn_pending(c) <= SP_TLS_TX_BUF);
			sent += (size_t)w;
			moved += (size_t)w;
		}
		moved += fx_move(cl, c, chunk);
		for (;;) {
			int r = SSL_read(cl->ssl, dst + got, (int)(len - got));

			if (r <= 0) {
				assert_int_equal(SSL_get_error(cl->ssl, r), SSL_ERROR_WANT_READ);
				break;
			}
			got += (size_t)r;
			moved += (size_t)r;
		}
		idle = moved ? 0 : idle + 1;
		assert_true(idle < 4);
	}
	assert_memory_equal(src, dst, len);
	free(src);
	free(dst);
}

static void
close_pair(struct fx_client *cl, struct sp_tls_conn *c)
{
	fx_client_free(cl);
	sp_tls_conn_free(c);
}

static void
one_handshake(const struct fx_pki *p, int version, size_t chunk, const char *cipher_prefix)
{
	struct sp_tls_ctx *ctx = ctx_make(p, NULL, 0);
	SSL_CTX *cctx = fx_client_ctx(p, version);
	struct fx_client cl;
	struct sp_tls_conn *c;
	const char *cipher;

	c = open_pair(&cl, cctx, ctx, alpn_both, sizeof(alpn_both) - 1, NULL, chunk);
	assert_int_equal(sp_tls_conn_version(c), version);
	assert_int_equal(SSL_version(cl.ssl), version);
	assert_int_equal(sp_tls_conn_alpn(c), SP_TLS_ALPN_H2);
	assert_false(sp_tls_conn_resumed(c));
	cipher = SSL_get_cipher_name(cl.ssl);
	if (strncmp(cipher, cipher_prefix, strlen(cipher_prefix)) != 0) {
		fail_msg("cipher %s, expected %s*", cipher, cipher_prefix);
	}
	xfer_c2s(&cl, c, 1000, 1000, 1, 7);
	xfer_s2c(&cl, c, 1000, 1000, 1);
	close_pair(&cl, c);
	SSL_CTX_free(cctx);
	assert_int_equal(sp_tls_ctx_refs(ctx), 1);
	sp_tls_ctx_put(ctx);
}

/* ---- tests ---- */

static void
test_handshake_tls13(void **state)
{
	(void)state;
	one_handshake(&g_ec, TLS1_3_VERSION, 1u << 20, "TLS_AES_128_GCM_SHA256");
	one_handshake(&g_ec, TLS1_3_VERSION, 1, "TLS_AES_128_GCM_SHA256");
	one_handshake(&g_rsa, TLS1_3_VERSION, 1u << 20, "TLS_AES_128_GCM_SHA256");
	one_handshake(&g_rsa, TLS1_3_VERSION, 3, "TLS_AES_128_GCM_SHA256");
}

static void
test_handshake_tls12(void **state)
{
	(void)state;
	one_handshake(&g_ec, TLS1_2_VERSION, 1u << 20, "ECDHE-ECDSA-AES128-GCM-SHA256");
	one_handshake(&g_ec, TLS1_2_VERSION, 1, "ECDHE-ECDSA-AES128-GCM-SHA256");
	one_handshake(&g_rsa, TLS1_2_VERSION, 1u << 20, "ECDHE-RSA-AES128-GCM-SHA256");
	one_handshake(&g_rsa, TLS1_2_VERSION, 5, "ECDHE-RSA-AES128-GCM-SHA256");
}

/* A TLS 1.2 client offering only CBC or SHA-1 suites is refused with handshake_failure. */
static void
test_weak_suites_refused(void **state)
{
	struct sp_tls_ctx *ctx = ctx_make(&g_rsa, NULL, 0);
	SSL_CTX *cctx = fx_client_ctx(&g_rsa, TLS1_2_VERSION);
	struct sp_tls_conn *c = sp_tls_conn_new(ctx);
	struct fx_client cl;

	(void)state;
	assert_int_equal(SSL_CTX_set_cipher_list(cctx, "ECDHE-RSA-AES128-SHA:AES128-SHA:"
						       "ECDHE-RSA-AES128-SHA256:AES128-GCM-SHA256"),
			 1);
	fx_client_new(&cl, cctx, NULL, 0, NULL);
	assert_int_equal(fx_handshake(&cl, c, 1u << 20), -EPROTO);
	assert_int_equal(sp_tls_conn_state(c), SP_TLS_FAILED);
	assert_int_equal(sp_tls_conn_alert_sent(c), SSL_AD_HANDSHAKE_FAILURE);
	close_pair(&cl, c);
	SSL_CTX_free(cctx);
	sp_tls_ctx_put(ctx);
}

static void
alpn_case(struct sp_tls_ctx *ctx, SSL_CTX *cctx, const unsigned char *alpn, size_t len,
	  enum sp_tls_alpn want)
{
	struct fx_client cl;
	struct sp_tls_conn *c = sp_tls_conn_new(ctx);
	const unsigned char *sel = NULL;
	unsigned sel_len = 0;
	int r;

	fx_client_new(&cl, cctx, alpn, len, NULL);
	r = fx_handshake(&cl, c, 1u << 20);
	if (want == SP_TLS_ALPN_PENDING) {
		/* refused: fatal no_application_protocol, and the client hears it */
		assert_int_equal(r, -EPROTO);
		assert_int_equal(sp_tls_conn_state(c), SP_TLS_FAILED);
		assert_int_equal(sp_tls_conn_alert_sent(c), ALERT_NO_APP_PROTO);
		assert_int_equal(sp_tls_conn_alpn(c), SP_TLS_ALPN_PENDING);
		assert_int_equal(cl.alert, ALERT_NO_APP_PROTO);
		assert_int_equal(SSL_is_init_finished(cl.ssl), 0);
		ERR_clear_error();
		assert_int_equal(sp_tls_conn_read(c, NULL, 0), -EPROTO);
	} else {
		assert_int_equal(r, 0);
		assert_int_equal(sp_tls_conn_alpn(c), want);
		SSL_get0_alpn_selected(cl.ssl, &sel, &sel_len);
		if (alpn == NULL) {
			assert_int_equal(sel_len, 0); /* nothing said: HTTP/1.1 by default */
		} else {
			assert_int_equal(sel_len, want == SP_TLS_ALPN_H2 ? 2 : 8);
		}
	}
	close_pair(&cl, c);
}

static void
test_alpn(void **state)
{
	struct sp_tls_ctx *ctx = ctx_make(&g_ec, NULL, 0);
	struct sp_tls_ctx *no_h2 = ctx_make(&g_ec, NULL, SP_TLS_F_NO_H2);
	SSL_CTX *c13 = fx_client_ctx(&g_ec, TLS1_3_VERSION);
	SSL_CTX *c12 = fx_client_ctx(&g_ec, TLS1_2_VERSION);

	(void)state;
	for (int v = 0; v < 2; v++) {
		SSL_CTX *cctx = v ? c12 : c13;

		alpn_case(ctx, cctx, alpn_both, sizeof(alpn_both) - 1, SP_TLS_ALPN_H2);
		alpn_case(ctx, cctx, alpn_h2, sizeof(alpn_h2) - 1, SP_TLS_ALPN_H2);
		alpn_case(ctx, cctx, alpn_http11, sizeof(alpn_http11) - 1, SP_TLS_ALPN_HTTP11);
		alpn_case(ctx, cctx, NULL, 0, SP_TLS_ALPN_HTTP11);
		alpn_case(ctx, cctx, alpn_unknown, sizeof(alpn_unknown) - 1, SP_TLS_ALPN_PENDING);
		alpn_case(no_h2, cctx, alpn_both, sizeof(alpn_both) - 1, SP_TLS_ALPN_HTTP11);
		alpn_case(no_h2, cctx, alpn_h2, sizeof(alpn_h2) - 1, SP_TLS_ALPN_PENDING);
	}
	SSL_CTX_free(c13);
	SSL_CTX_free(c12);
	sp_tls_ctx_put(ctx);
	sp_tls_ctx_put(no_h2);
}

static void
test_data(void **state)
{
	struct sp_tls_ctx *ctx = ctx_make(&g_ec, NULL, 0);

	(void)state;
	for (int v = 0; v < 2; v++) {
		SSL_CTX *cctx = fx_client_ctx(&g_ec, v ? TLS1_2_VERSION : TLS1_3_VERSION);
		struct fx_client cl;
		struct sp_tls_conn *c;

		c = open_pair(&cl, cctx, ctx, NULL, 0, NULL, 1u << 20);
		xfer_c2s(&cl, c, 1, 1, 1, 1);
		xfer_c2s(&cl, c, 3000, 1, 1, 1);        /* 1-byte records, 1-byte feeds */
		xfer_c2s(&cl, c, 20000, 20000, 1, 100); /* 1-byte feeds of big records */
		xfer_c2s(&cl, c, BIG_LEN, 16384, 1u << 20, 16384); /* bulk */
		xfer_c2s(&cl, c, BIG_LEN, 65536, 1500, 4000);      /* MSS-sized feeds */
		xfer_s2c(&cl, c, 1, 1, 1);
		xfer_s2c(&cl, c, 3000, 1, 7);
		xfer_s2c(&cl, c, BIG_LEN, 16384, 1u << 20);
		xfer_s2c(&cl, c, BIG_LEN, BIG_LEN, 1500);
		close_pair(&cl, c);
		SSL_CTX_free(cctx);
	}
	sp_tls_ctx_put(ctx);
}

/*
 * A sink that writes straight into the client's input, taking at most a varying share each
 * call (0, 1, 7, 1000, everything...) so that the buffer behind it is used as well.
 */
struct sink_fx {
	struct fx_client *cl;
	unsigned calls;
	size_t sunk;
};

static size_t
sink_to_client(void *arg, const void *buf, size_t len)
{
	static const size_t caps[] = {SIZE_MAX, 0, 1, 7, 1000, SIZE_MAX, 5000, SIZE_MAX};
	struct sink_fx *f = arg;
	size_t cap = caps[f->calls++ % SP_ARRAY_SIZE(caps)]; /* SP_MIN evaluates twice */
	size_t n = SP_MIN(len, cap);

	n = SP_MIN(n, BIO_ctrl_get_write_guarantee(f->cl->net));
	if (n > 0) {
		assert_int_equal(BIO_write(f->cl->net, buf, (int)n), (int)n);
	}
	f->sunk += n;
	return n;
}

/* The same data both ways with a sink receiving the ciphertext: from the handshake on. */
static void
test_sink(void **state)
{
	struct sp_tls_ctx *ctx = ctx_make(&g_ec, NULL, 0);

	(void)state;
	for (int v = 0; v < 2; v++) {
		SSL_CTX *cctx = fx_client_ctx(&g_ec, v ? TLS1_2_VERSION : TLS1_3_VERSION);
		struct sink_fx f = {0};
		size_t hs_sunk;
		struct fx_client cl;
		struct sp_tls_conn *c = sp_tls_conn_new(ctx);

		assert_non_null(c);
		fx_client_new(&cl, cctx, NULL, 0, NULL);
		f.cl = &cl;
		sp_tls_conn_set_sink(c, sink_to_client, &f);
		assert_int_equal(fx_handshake(&cl, c, 1u << 20), 0);
		assert_int_equal(SSL_get_verify_result(cl.ssl), X509_V_OK);
		assert_true(f.sunk > 0); /* the server's flight went (partly) through the sink */
		hs_sunk = f.sunk;
		xfer_s2c(&cl, c, 1, 1, 1);
		xfer_s2c(&cl, c, 3000, 1, 7);
		xfer_s2c(&cl, c, BIG_LEN, 16384, 1u << 20);
		xfer_s2c(&cl, c, BIG_LEN, BIG_LEN, 1500);
		xfer_c2s(&cl, c, BIG_LEN, 65536, 1500, 4000);
		print_message("# sink: %zu bytes of ciphertext after the handshake (of ~%u)\n",
			      f.sunk - hs_sunk, 2 * BIG_LEN);
		assert_true(f.sunk - hs_sunk > 16384); /* records went through the sink */
		assert_int_equal(sp_tls_conn_shutdown(c), 0);
		(void)fx_move(&cl, c, 1u << 20);
		assert_int_equal(sp_tls_conn_pending(c), 0);
		assert_int_equal(SSL_read(cl.ssl, (char[1]){0}, 1), 0); /* close_notify arrived */
		close_pair(&cl, c);
		SSL_CTX_free(cctx);
	}
	sp_tls_ctx_put(ctx);
}

/* Half a record: a wait state; then FIN: a truncation, not a clean end. */
static void
test_truncated(void **state)
{
	struct sp_tls_ctx *ctx = ctx_make(&g_ec, NULL, 0);
	SSL_CTX *cctx = fx_client_ctx(&g_ec, 0);
	unsigned char rec[512], out[64];
	struct fx_client cl;
	struct sp_tls_conn *c;
	int n;

	(void)state;
	c = open_pair(&cl, cctx, ctx, NULL, 0, NULL, 1u << 20);
	assert_int_equal(SSL_write(cl.ssl, "hello, truncated world", 22), 22);
	n = BIO_read(cl.net, rec, sizeof(rec));
	assert_true(n > 22);
	assert_int_equal(sp_tls_conn_feed(c, rec, (size_t)n - 1), n - 1);
	assert_int_equal(sp_tls_conn_read(c, out, sizeof(out)), SP_AGAIN);
	assert_int_equal(sp_tls_conn_state(c), SP_TLS_OPEN);
	sp_tls_conn_eof(c);
	assert_int_equal(sp_tls_conn_read(c, out, sizeof(out)), -EPIPE);
	assert_int_equal(sp_tls_conn_state(c), SP_TLS_FAILED);
	assert_int_equal(sp_tls_conn_feed(c, rec + n - 1, 1), -EPIPE);
	close_pair(&cl, c);

	/* a FIN with no record at all is a truncation too (no close_notify) */
	c = open_pair(&cl, cctx, ctx, NULL, 0, NULL, 1u << 20);
	sp_tls_conn_eof(c);
	assert_int_equal(sp_tls_conn_read(c, out, sizeof(out)), -EPIPE);
	close_pair(&cl, c);

	/* and a FIN in the middle of the handshake */
	c = sp_tls_conn_new(ctx);
	assert_int_equal(sp_tls_conn_feed(c, "\x16\x03\x01\x00\x10\x01", 6), 6);
	assert_int_equal(sp_tls_conn_handshake(c), SP_AGAIN);
	sp_tls_conn_eof(c);
	assert_int_equal(sp_tls_conn_handshake(c), -EPIPE);
	sp_tls_conn_free(c);
	SSL_CTX_free(cctx);
	sp_tls_ctx_put(ctx);
}

/* Input that is not TLS ends in an alert the peer can read and the failed state. */
static void
not_tls(struct sp_tls_ctx *ctx, const void *in, size_t len, size_t chunk, int want_alert)
{
	struct sp_tls_conn *c = sp_tls_conn_new(ctx);
	unsigned char out[64];
	size_t off = 0, n;
	int r = SP_AGAIN;

	while (off < len && r == SP_AGAIN) {
		size_t piece = SP_MIN(chunk, len - off);

		assert_int_equal(sp_tls_conn_feed(c, (const char *)in + off, piece), piece);
		off += piece;
		r = sp_tls_conn_handshake(c);
	}
	assert_int_equal(r, -EPROTO);
	assert_int_equal(sp_tls_conn_state(c), SP_TLS_FAILED);
	assert_int_equal(sp_tls_conn_alert_sent(c), want_alert);
	n = sp_tls_conn_take(c, out, sizeof(out));
	/* one plaintext fatal alert record: type 21, version, length 2, level 2, description */
	assert_int_equal(n, 7);
	assert_int_equal(out[0], 21);
	assert_int_equal(out[3], 0);
	assert_int_equal(out[4], 2);
	assert_int_equal(out[5], 2);
	assert_int_equal(out[6], sp_tls_conn_alert_sent(c));
	assert_int_equal(sp_tls_conn_feed(c, "x", 1), -EPIPE);
	assert_int_equal(sp_tls_conn_read(c, out, sizeof(out)), -EPROTO);
	assert_int_equal(sp_tls_conn_write(c, "x", 1), -EPROTO);
	assert_int_equal(sp_tls_conn_shutdown(c), -EPROTO);
	sp_tls_conn_free(c);
}

static void
test_garbage(void **state)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
	static const char post[] =
	    "POST / HTTP/1.1\r\nX-Amz-Target: Kinesis_20131202.PutRecord\r\n";
	/* a handshake record holding a ClientHello whose body is nonsense */
	static const unsigned char bad_hello[] = {0x16, 0x03, 0x01, 0x00, 0x08, 0x01, 0x00,
						  0x00, 0x04, 0xff, 0xff, 0xff, 0xff};
	/* a record claiming 64 KiB */
	static const unsigned char huge[] = {0x16, 0x03, 0x01, 0xff, 0xff, 0x01};
	struct sp_tls_ctx *ctx = ctx_make(&g_ec, NULL, 0);

	(void)state;
	/* OpenSSL sends nothing for these two; the alert is ours */
	not_tls(ctx, http, sizeof(http) - 1, 1u << 20, ALERT_PROTOCOL_VERSION);
	not_tls(ctx, http, sizeof(http) - 1, 1, ALERT_PROTOCOL_VERSION);
	not_tls(ctx, post, sizeof(post) - 1, 3, ALERT_PROTOCOL_VERSION);
	not_tls(ctx, "\x00\x00\x00\x00\x00\x00\x00\x00", 8, 1u << 20, ALERT_PROTOCOL_VERSION);
	/* OpenSSL's own: decode_error, record_overflow */
	not_tls(ctx, bad_hello, sizeof(bad_hello), 1u << 20, 50);
	not_tls(ctx, huge, sizeof(huge), 1, 22);
	sp_tls_ctx_put(ctx);
}

/* A record corrupted after the handshake: bad_record_mac, and the client sees it. */
static void
test_corrupt_record(void **state)
{
	struct sp_tls_ctx *ctx = ctx_make(&g_ec, NULL, 0);

	(void)state;
	for (int v = 0; v < 2; v++) {
		SSL_CTX *cctx = fx_client_ctx(&g_ec, v ? TLS1_2_VERSION : TLS1_3_VERSION);
		unsigned char rec[512], out[64];
		struct fx_client cl;
		struct sp_tls_conn *c;
		int n;

		c = open_pair(&cl, cctx, ctx, NULL, 0, NULL, 1u << 20);
		assert_int_equal(SSL_write(cl.ssl, "abcdefgh", 8), 8);
		n = BIO_read(cl.net, rec, sizeof(rec));
		assert_true(n > 8);
		rec[n - 3] ^= 0x40;
		assert_int_equal(sp_tls_conn_feed(c, rec, (size_t)n), n);
		assert_int_equal(sp_tls_conn_read(c, out, sizeof(out)), -EPROTO);
		assert_int_equal(sp_tls_conn_alert_sent(c), ALERT_BAD_RECORD_MAC);
		assert_true(sp_tls_conn_pending(c) > 0);
		fx_move(&cl, c, 1u << 20);
		assert_true(SSL_read(cl.ssl, out, sizeof(out)) <= 0);
		assert_int_equal(cl.alert, ALERT_BAD_RECORD_MAC);
		ERR_clear_error();
		close_pair(&cl, c);
		SSL_CTX_free(cctx);
	}
	sp_tls_ctx_put(ctx);
}

static void
test_close_notify(void **state)
{
	struct sp_tls_ctx *ctx = ctx_make(&g_ec, NULL, 0);
	SSL_CTX *cctx = fx_client_ctx(&g_ec, 0);
	unsigned char out[64];
	struct fx_client cl;
	struct sp_tls_conn *c;
	int r;

	(void)state;
	/* ours: the client reads a clean end */
	c = open_pair(&cl, cctx, ctx, NULL, 0, NULL, 1u << 20);
	assert_int_equal(sp_tls_conn_shutdown(c), 0);
	assert_int_equal(sp_tls_conn_state(c), SP_TLS_CLOSING);
	assert_int_equal(sp_tls_conn_alert_sent(c), ALERT_CLOSE_NOTIFY);
	assert_int_equal(sp_tls_conn_write(c, "x", 1), -EPIPE);
	fx_move(&cl, c, 1u << 20);
	r = SSL_read(cl.ssl, out, sizeof(out));
	assert_int_equal(r, 0);
	assert_int_equal(SSL_get_error(cl.ssl, r), SSL_ERROR_ZERO_RETURN);
	close_pair(&cl, c);

	/* theirs: read returns 0 after the data before it */
	c = open_pair(&cl, cctx, ctx, NULL, 0, NULL, 1u << 20);
	assert_int_equal(SSL_write(cl.ssl, "bye", 3), 3);
	assert_true(SSL_shutdown(cl.ssl) >= 0);
	fx_move(&cl, c, 2);
	assert_int_equal(sp_tls_conn_read(c, out, sizeof(out)), 3);
	assert_memory_equal(out, "bye", 3);
	assert_int_equal(sp_tls_conn_read(c, out, sizeof(out)), 0);
	assert_int_equal(sp_tls_conn_state(c), SP_TLS_PEER_CLOSED);
	assert_int_equal(sp_tls_conn_alert_received(c), ALERT_CLOSE_NOTIFY);
	assert_int_equal(sp_tls_conn_feed(c, "x", 1), -EPIPE);
	close_pair(&cl, c);
	SSL_CTX_free(cctx);
	sp_tls_ctx_put(ctx);
}

/* The fixed buffers: feeding stops at SP_TLS_RX_BUF, writing at SP_TLS_TX_BUF. */
static void
test_bounds(void **state)
{
	struct sp_tls_ctx *ctx = ctx_make(&g_ec, NULL, 0);
	SSL_CTX *cctx = fx_client_ctx(&g_ec, 0);
	unsigned char *big = calloc(1, BIG_LEN);
	struct fx_client cl;
	struct sp_tls_conn *c;
	size_t written = 0;
	ssize_t n;

	(void)state;
	assert_non_null(big);
	c = open_pair(&cl, cctx, ctx, NULL, 0, NULL, 1u << 20);
	n = sp_tls_conn_feed(c, big, BIG_LEN);
	assert_int_equal(n, SP_TLS_RX_BUF);
	assert_int_equal(sp_tls_conn_feed(c, big, 1), 0);
	for (;;) {
		n = sp_tls_conn_write(c, big + written, BIG_LEN - written);
		if (n == SP_AGAIN) {
			break;
		}
		assert_true(n > 0 && n <= 16384);
		written += (size_t)n;
	}
	assert_true(sp_tls_conn_pending(c) <= SP_TLS_TX_BUF);
	assert_true(written < 3 * 16384);
	close_pair(&cl, c);
	free(big);
	SSL_CTX_free(cctx);
	sp_tls_ctx_put(ctx);
}

static void
key_bytes(uint8_t *k, uint8_t tag)
{
	for (unsigned i = 0; i < SP_TLS_TICKET_KEY_LEN; i++) {
		k[i] = (uint8_t)(tag * 37u + i);
	}
}

/* A full handshake on ctx; returns the client's resumable session. */
static SSL_SESSION *
get_session(struct sp_tls_ctx *ctx, SSL_CTX *cctx)
{
	struct fx_client cl;
	struct sp_tls_conn *c = open_pair(&cl, cctx, ctx, NULL, 0, NULL, 1u << 20);
	SSL_SESSION *s;

	assert_false(sp_tls_conn_resumed(c));
	s = fx_client_session(&cl);
	assert_non_null(s);
	assert_true(SSL_SESSION_has_ticket(s));
	/* a client closing without close_notify marks its session bad (OpenSSL does) */
	assert_true(SSL_shutdown(cl.ssl) >= 0);
	close_pair(&cl, c);
	return s;
}

/*
 * Resume s on ctx (consumes s); returns whether it was resumed (the handshake must succeed
 * either way). With next, also returns the client's session after it (a fresh ticket).
 */
static bool
try_resume_next(struct sp_tls_ctx *ctx, SSL_CTX *cctx, SSL_SESSION *s, SSL_SESSION **next)
{
	struct fx_client cl;
	struct sp_tls_conn *c = open_pair(&cl, cctx, ctx, NULL, 0, s, 1u << 20);
	bool r = sp_tls_conn_resumed(c);

	SSL_SESSION_free(s);
	assert_int_equal(r, SSL_session_reused(cl.ssl) == 1);
	xfer_c2s(&cl, c, 100, 100, 1u << 20, 100);
	if (next != NULL) {
		*next = fx_client_session(&cl);
		assert_non_null(*next);
	}
	assert_true(SSL_shutdown(cl.ssl) >= 0); /* keeps the session resumable on the client */
	close_pair(&cl, c);
	return r;
}

static bool
try_resume(struct sp_tls_ctx *ctx, SSL_CTX *cctx, SSL_SESSION *s)
{
	return try_resume_next(ctx, cctx, s, NULL);
}

static void
test_resumption(void **state)
{
	uint8_t k1[SP_TLS_TICKET_KEY_LEN], k2[SP_TLS_TICKET_KEY_LEN], k3[SP_TLS_TICKET_KEY_LEN];
	struct sp_tls_ticket_keys t1 = {.current = k1};
	struct sp_tls_ticket_keys t21 = {.current = k2, .previous = k1};
	struct sp_tls_ticket_keys t32 = {.current = k3, .previous = k2};
	struct sp_tls_ctx *a, *b, *rot, *rot2, *other;
	char err[SP_TLS_ERR_MAX];

	(void)state;
	key_bytes(k1, 1);
	key_bytes(k2, 2);
	key_bytes(k3, 3);
	a = ctx_make(&g_ec, &t1, 0);
	b = ctx_make(&g_ec, &t1, 0);      /* another context, the same keys */
	other = ctx_make(&g_ec, NULL, 0); /* its own random keys */
	assert_int_equal(sp_tls_ctx_rekey(b, &t21, &rot, err, sizeof(err)), 0);
	assert_int_equal(sp_tls_ctx_rekey(rot, &t32, &rot2, err, sizeof(err)), 0);
	for (int v = 0; v < 2; v++) {
		SSL_CTX *cctx = fx_client_ctx(&g_ec, v ? TLS1_2_VERSION : TLS1_3_VERSION);
		SSL_SESSION *s1, *s2;

		/* a fresh ticket each time: OpenSSL's TLS 1.3 client uses a ticket once */
		assert_true(try_resume(a, cctx, get_session(a, cctx)));
		assert_true(try_resume(b, cctx, get_session(a, cctx)));     /* across contexts */
		assert_true(try_resume(rot, cctx, get_session(a, cctx)));   /* k1 now previous */
		assert_false(try_resume(rot2, cctx, get_session(a, cctx))); /* k1 retired */
		assert_false(try_resume(other, cctx, get_session(a, cctx)));
		assert_true(try_resume(rot2, cctx, get_session(rot, cctx))); /* sealed with k2 */
		assert_false(try_resume(a, cctx, get_session(rot, cctx)));
		/* a resumption hands out a fresh ticket that resumes again, sealed with the
		 * current key even when the old one was opened with the previous key */
		assert_true(try_resume_next(rot, cctx, get_session(a, cctx), &s1));
		assert_true(try_resume_next(rot2, cctx, s1, &s2));
		assert_true(try_resume_next(rot2, cctx, s2, &s1));
		assert_false(try_resume(rot, cctx, s1)); /* k3 is not known to rot */
		SSL_CTX_free(cctx);
	}
	sp_tls_ctx_put(a);
	sp_tls_ctx_put(b);
	sp_tls_ctx_put(rot);
	sp_tls_ctx_put(rot2);
	sp_tls_ctx_put(other);
}

static void
assert_peer_cn(struct fx_client *cl, const char *cn)
{
	X509 *x = SSL_get1_peer_certificate(cl->ssl);
	char got[64] = "";

	assert_non_null(x);
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, got, sizeof(got));
	assert_string_equal(got, cn);
	X509_free(x);
}

/* A reload while a connection is open: it keeps its context; new ones get the new one. */
static void
test_reload(void **state)
{
	struct fx_pki p1, p2;
	struct sp_tls_ctx *live, *old;
	SSL_CTX *c1, *c2;
	struct fx_client cl1, cl2;
	struct sp_tls_conn *a, *b;

	(void)state;
	fx_pki_make(&p1, FX_EC_P256, "one");
	fx_pki_make(&p2, FX_EC_P256, "two");
	c1 = fx_client_ctx(&p1, 0);
	c2 = fx_client_ctx(&p2, 0);
	live = ctx_make(&p1, NULL, 0);
	a = open_pair(&cl1, c1, live, NULL, 0, NULL, 1u << 20);
	assert_peer_cn(&cl1, "one");
	assert_int_equal(sp_tls_ctx_refs(live), 2);

	/* the publisher swaps in the new context and drops its reference to the old one */
	old = live;
	live = ctx_make(&p2, NULL, 0);
	sp_tls_ctx_put(old);
	assert_int_equal(sp_tls_ctx_refs(old), 1); /* only the open connection holds it */
	assert_ptr_equal(sp_tls_conn_ctx(a), old);

	b = open_pair(&cl2, c2, live, NULL, 0, NULL, 1u << 20);
	assert_peer_cn(&cl2, "two");
	xfer_c2s(&cl1, a, 50000, 4000, 1000, 3000);
	xfer_s2c(&cl1, a, 50000, 4000, 1000);
	xfer_c2s(&cl2, b, 5000, 4000, 1000, 3000);
	close_pair(&cl1, a); /* frees the old context (ASan would catch a use after free) */
	xfer_s2c(&cl2, b, 5000, 4000, 1000);
	close_pair(&cl2, b);
	assert_int_equal(sp_tls_ctx_refs(live), 1);
	sp_tls_ctx_put(live);
	SSL_CTX_free(c1);
	SSL_CTX_free(c2);
	fx_pki_free(&p1);
	fx_pki_free(&p2);
}

static int
ctx_err(struct sp_tls_ctx_params *prm, const char *want)
{
	struct sp_tls_ctx *ctx = (struct sp_tls_ctx *)&ctx;
	char err[SP_TLS_ERR_MAX];
	int rc = sp_tls_ctx_new(prm, &ctx, err, sizeof(err));

	assert_int_not_equal(rc, 0);
	assert_null(ctx);
	if (strstr(err, want) == NULL) {
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
	}
	return rc;
}

static void
test_ctx_errors(void **state)
{
	struct sp_tls_ctx_params prm = fx_params(&g_ec);
	uint8_t k[SP_TLS_TICKET_KEY_LEN];
	struct sp_tls_ticket_keys same = {.current = k, .previous = k};
	struct fx_pki weak;

	(void)state;
	prm.chain_pem = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
	prm.chain_len = strlen(prm.chain_pem);
	assert_int_equal(ctx_err(&prm, "certificate"), -EINVAL);
	prm = fx_params(&g_ec);
	prm.chain_len = 0;
	assert_int_equal(ctx_err(&prm, "certificate"), -EINVAL);
	prm = fx_params(&g_ec);
	prm.key_pem = g_rsa.key_pem; /* a key that is not the certificate's */
	prm.key_len = strlen(g_rsa.key_pem);
	assert_int_equal(ctx_err(&prm, "private key refused"), -EINVAL);
	prm = fx_params(&g_ec);
	prm.key_len = 20;
	assert_int_equal(ctx_err(&prm, "private key"), -EINVAL);
	prm = fx_params(&g_ec);
	prm.chain_len = SP_TLS_PEM_MAX + 1;
	assert_int_equal(ctx_err(&prm, "PEM text over"), -EFBIG);
	prm = fx_params(&g_ec);
	prm.chain_pem = NULL;
	prm.chain_path = "/nonexistent/chain.pem";
	assert_int_equal(ctx_err(&prm, "/nonexistent/chain.pem"), -ENOENT);
	prm = fx_params(&g_ec);
	prm.key_pem = NULL;
	assert_int_equal(ctx_err(&prm, "no private key"), -EINVAL);
	prm = fx_params(&g_ec);
	key_bytes(k, 9);
	prm.tickets = &same;
	assert_int_equal(ctx_err(&prm, "share a name"), -EINVAL);
	fx_pki_make(&weak, FX_RSA_1024, "weak");
	prm = fx_params(&weak);
	assert_int_equal(ctx_err(&prm, "certificate refused"), -EINVAL);
	fx_pki_free(&weak);
}

/*
 * Allocations in the steady state, counted in the server's calls only. OpenSSL 3.0 builds
 * record headers and TLS 1.3 AAD with WPACKETs whose bookkeeping it allocates and frees within
 * the call (40-byte blocks): one per TLS 1.3 record read, three per record written. Bounded,
 * short-lived, and left to the allocator (docs/internals/tls.md). SP_TLS_F_RELEASE_BUFFERS adds
 * the record buffers' malloc and free per burst. Prints the bytes an idle connection holds.
 */
struct alloc_figures {
	size_t reads;        /* allocations while reading 300 KB */
	size_t writes;       /* allocations while writing 300 KB in 16 KiB pieces */
	size_t small_writes; /* allocations while writing 300 KB in 1000-byte pieces */
	long long idle;      /* bytes held by an idle established connection */
};

static void
steady_allocs(unsigned flags, struct alloc_figures *f)
{
	struct sp_tls_ctx *ctx = ctx_make(&g_ec, NULL, flags);
	SSL_CTX *cctx = fx_client_ctx(&g_ec, TLS1_3_VERSION);
	struct fx_client cl;
	struct sp_tls_conn *c;
	long long before, live;

	c = sp_tls_conn_new(ctx);
	assert_non_null(c);
	fx_client_new(&cl, cctx, NULL, 0, NULL);
	assert_int_equal(fx_handshake(&cl, c, 1u << 20), 0);
	xfer_c2s(&cl, c, 100000, 16384, 1500, 16384); /* warm up both directions */
	xfer_s2c(&cl, c, 100000, 16384, 1500);
	live = g_live;
	g_allocs = 0;
	xfer_c2s(&cl, c, 300000, 16384, 1500, 16384);
	f->reads = g_allocs;
	g_allocs = 0;
	xfer_s2c(&cl, c, 300000, 16384, 1500);
	f->writes = g_allocs;
	g_allocs = 0;
	xfer_s2c(&cl, c, 300000, 1000, 1500);
	f->small_writes = g_allocs;
	if (flags == 0) {
		assert_true(g_live == live); /* nothing kept */
	}
	/* the server's share: what freeing it gives back */
	before = g_live;
	sp_tls_conn_free(c);
	f->idle = before - g_live;
	fx_client_free(&cl);
	SSL_CTX_free(cctx);
	sp_tls_ctx_put(ctx);
}

static void
test_steady_state_allocs(void **state)
{
	struct alloc_figures keep, rel;
	const size_t records = (300000 + 16383) / 16384, small = 300;

	(void)state;
	steady_allocs(0, &keep);
	steady_allocs(SP_TLS_F_RELEASE_BUFFERS, &rel);
	printf("# server allocations reading / writing 300 KB (16 KiB, 1000 B writes): "
	       "%zu / %zu, %zu (buffers kept); %zu / %zu, %zu (released)\n",
	       keep.reads, keep.writes, keep.small_writes, rel.reads, rel.writes, rel.small_writes);
	printf("# an idle established TLS 1.3 connection holds %lld bytes (buffers kept), "
	       "%lld bytes (released)\n",
	       keep.idle, rel.idle);
	assert_true(keep.reads <= records);
	assert_true(keep.writes <= 3 * records);
	assert_true(keep.small_writes <= 3 * small);
	assert_true(rel.reads > keep.reads);
	assert_true(rel.idle < keep.idle);
	assert_true(keep.idle < 128 * 1024);
}

/* tools/setup/dev-ca.sh: a CA and a server certificate the client accepts; a rerun keeps them. */
static void
run_dev_ca(const char *script, const char *dir)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "bash '%s' '%s' localhost 127.0.0.1 >/dev/null", script, dir);
	assert_int_equal(system(cmd), 0);
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = calloc(1, 65536);

	assert_non_null(f);
	assert_non_null(buf);
	assert_true(fread(buf, 1, 65535, f) > 0);
	fclose(f);
	return buf;
}

static void
test_dev_ca(void **state)
{
	const char *script = getenv("SP_TLS_DEV_CA");
	char dir[] = "/tmp/sp_tls_dev_ca_XXXXXX", path[2][256], cmd[300];
	struct sp_tls_ctx_params prm = {0};
	struct sp_tls_ctx *ctx;
	struct fx_pki ca = {0};
	struct fx_client cl;
	struct sp_tls_conn *c;
	char err[SP_TLS_ERR_MAX], *before, *after;
	SSL_CTX *cctx;
	BIO *b;

	(void)state;
	if (script == NULL) {
		skip();
	}
	assert_non_null(mkdtemp(dir));
	run_dev_ca(script, dir);
	snprintf(path[0], sizeof(path[0]), "%s/server.crt", dir);
	snprintf(path[1], sizeof(path[1]), "%s/ca.crt", dir);
	before = slurp(path[0]);
	run_dev_ca(script, dir);
	after = slurp(path[0]);
	assert_string_equal(before, after); /* idempotent: still valid, kept */
	prm.chain_path = path[0];
	snprintf(cmd, sizeof(cmd), "%s/server.key", dir);
	prm.key_path = cmd;
	assert_int_equal(sp_tls_ctx_new(&prm, &ctx, err, sizeof(err)), 0);
	b = BIO_new_file(path[1], "r");
	assert_non_null(b);
	ca.ca = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(ca.ca);
	cctx = fx_client_ctx(&ca, 0);
	c = open_pair(&cl, cctx, ctx, alpn_both, sizeof(alpn_both) - 1, NULL, 1u << 20);
	assert_true(SSL_set1_host(cl.ssl, "127.0.0.1") == 1);
	close_pair(&cl, c);
	/* the IP address is a subjectAltName too */
	c = sp_tls_conn_new(ctx);
	fx_client_new(&cl, cctx, NULL, 0, NULL);
	assert_int_equal(SSL_set1_host(cl.ssl, NULL), 1);
	assert_int_equal(X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(cl.ssl), "127.0.0.1"), 1);
	assert_int_equal(fx_handshake(&cl, c, 1u << 20), 0);
	assert_int_equal(SSL_get_verify_result(cl.ssl), X509_V_OK);
	close_pair(&cl, c);
	SSL_CTX_free(cctx);
	X509_free(ca.ca);
	sp_tls_ctx_put(ctx);
	free(before);
	free(after);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_handshake_tls13),
	    cmocka_unit_test(test_handshake_tls12),
	    cmocka_unit_test(test_weak_suites_refused),
	    cmocka_unit_test(test_alpn),
	    cmocka_unit_test(test_data),
	    cmocka_unit_test(test_sink),
	    cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_corrupt_record),
	    cmocka_unit_test(test_close_notify),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_resumption),
	    cmocka_unit_test(test_reload),
	    cmocka_unit_test(test_ctx_errors),
	    cmocka_unit_test(test_steady_state_allocs),
	    cmocka_unit_test(test_dev_ca),
	};
	int rc;

	/* before OpenSSL allocates anything */
	if (CRYPTO_set_mem_functions(mem_malloc, mem_realloc, mem_free) != 1) {
		fprintf(stderr, "CRYPTO_set_mem_functions failed\n");
		return 1;
	}
	fx_pki_make(&g_ec, FX_EC_P256, "localhost");
	fx_pki_make(&g_rsa, FX_RSA_2048, "localhost");
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	fx_pki_free(&g_ec);
	fx_pki_free(&g_rsa);
	return rc;
}
