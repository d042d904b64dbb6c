/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_tls: the TLS layer (dataplane/tls) against plain OpenSSL on memory BIOs, in the same
 * run, on one core:
 *   - TLS 1.3 full handshakes/s (ECDHE x25519) with an ECDSA P-256 and an RSA-2048 certificate;
 *   - TLS 1.3 resumed handshakes/s (session tickets, psk_dhe_ke, so still one x25519);
 *   - bulk MB/s (10^6 bytes) of 16 KiB writes: the server encrypting (write + take the
 *     ciphertext) and decrypting (feed + read).
 * "plain" is an SSL_CTX with the same protocol policy and OpenSSL's built-in ticket keys, on a
 * pair of BIO_s_mem, driven with SSL_do_handshake/SSL_read/SSL_write directly.
 * The client (an OpenSSL SSL in the same thread) is the same for both. Handshake rates are
 * given twice: per server-side CPU time (only the server's calls are timed: the figure a
 * server core reaches) and per wall time of the pair. Each cell is the best of BENCH_REPS runs
 * of about MS_PER_RUN milliseconds. Results are printed, never judged.
 *
 *   bench_tls [MS_PER_RUN]        (default 300)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <spate/assert.h>
#include <spate/err.h>

#include "tls.h"
#include "tls_fx.h"

#define BENCH_REPS 3u
#define BENCH_REC  16384u
#define BENCH_BUF  65536u

enum bench_kind { K_OURS, K_PLAIN };

static const char *const bench_kind_names[] = {"spate tls", "plain OpenSSL"};

/* The server under test: ours or plain OpenSSL on memory BIOs. */
struct bench_srv {
	enum bench_kind kind;
	struct sp_tls_conn *c;
	SSL *ssl;
	BIO *rbio, *wbio;
};

/* Both servers' contexts for one certificate. */
struct bench_ctxs {
	struct sp_tls_ctx *ours;
	SSL_CTX *plain;
	SSL_CTX *client;
};

static double g_srv_ns; /* time spent in the server's calls */

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The plain server context: our policy by hand (tls_ctx.c), OpenSSL's own ticket keys. */
static SSL_CTX *
bench_plain_ctx(const struct fx_pki *p)
{
	SSL_CTX *s = SSL_CTX_new(TLS_server_method());
	BIO *b = BIO_new_mem_buf(p->chain_pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	EVP_PKEY *k;

	BIO_free(b);
	b = BIO_new_mem_buf(p->key_pem, -1);
	k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	SP_VERIFY(s != NULL && x != NULL && k != NULL);
	SP_VERIFY(SSL_CTX_set_min_proto_version(s, TLS1_2_VERSION) == 1);
	SP_VERIFY(SSL_CTX_set_ciphersuites(s, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
					      "TLS_CHACHA20_POLY1305_SHA256") == 1);
	SP_VERIFY(SSL_CTX_set1_groups_list(s, "X25519:P-256:P-384") == 1);
	SSL_CTX_set_options(s, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(s, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(s, 1);
	SP_VERIFY(SSL_CTX_use_certificate(s, x) == 1 && SSL_CTX_use_PrivateKey(s, k) == 1);
	X509_free(x);
	EVP_PKEY_free(k);
	return s;
}

static void
bench_ctxs_make(struct bench_ctxs *cx, const struct fx_pki *p)
{
	struct sp_tls_ctx_params prm = fx_params(p);
	char err[SP_TLS_ERR_MAX];

	if (sp_tls_ctx_new(&prm, &cx->ours, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_tls: %s\n", err);
		exit(1);
	}
	cx->plain = bench_plain_ctx(p);
	cx->client = fx_client_ctx(p, TLS1_3_VERSION);
	SP_VERIFY(SSL_CTX_set1_groups_list(cx->client, "X25519") == 1);
}

static void
bench_ctxs_free(struct bench_ctxs *cx)
{
	sp_tls_ctx_put(cx->ours);
	SSL_CTX_free(cx->plain);
	SSL_CTX_free(cx->client);
}

static void
srv_new(struct bench_srv *s, enum bench_kind kind, const struct bench_ctxs *cx)
{
	double t0 = now_ns();

	memset(s, 0, sizeof(*s));
	s->kind = kind;
	if (kind == K_OURS) {
		s->c = sp_tls_conn_new(cx->ours);
		SP_VERIFY(s->c != NULL);
	} else {
		s->ssl = SSL_new(cx->plain);
		s->rbio = BIO_new(BIO_s_mem());
		s->wbio = BIO_new(BIO_s_mem());
		SP_VERIFY(s->ssl != NULL && s->rbio != NULL && s->wbio != NULL);
		SSL_set_bio(s->ssl, s->rbio, s->wbio);
		SSL_set_accept_state(s->ssl);
	}
	g_srv_ns += now_ns() - t0;
}

static void
srv_free(struct bench_srv *s)
{
	double t0 = now_ns();

	sp_tls_conn_free(s->c);
	SSL_free(s->ssl); /* frees both BIOs */
	g_srv_ns += now_ns() - t0;
}

/* Feed all of buf (the caller keeps record sizes below the receive buffer's). */
static void
srv_feed(struct bench_srv *s, const void *buf, size_t len)
{
	double t0 = now_ns();

	if (s->kind == K_OURS) {
		size_t off = 0;

		while (off < len) {
			ssize_t n = sp_tls_conn_feed(s->c, (const char *)buf + off, len - off);

			SP_VERIFY(n > 0);
			off += (size_t)n;
		}
	} else {
		SP_VERIFY(BIO_write(s->rbio, buf, (int)len) == (int)len);
	}
	g_srv_ns += now_ns() - t0;
}

/* 0 done, SP_AGAIN, or an error. */
static int
srv_handshake(struct bench_srv *s)
{
	double t0 = now_ns();
	int r;

	if (s->kind == K_OURS) {
		r = sp_tls_conn_handshake(s->c);
	} else {
		r = SSL_do_handshake(s->ssl);
		if (r == 1) {
			r = 0;
		} else {
			r = SSL_get_error(s->ssl, r) == SSL_ERROR_WANT_READ ? SP_AGAIN : -EPROTO;
		}
	}
	g_srv_ns += now_ns() - t0;
	return r;
}

static size_t
srv_take(struct bench_srv *s, void *buf, size_t cap)
{
	double t0 = now_ns();
	size_t n;

	if (s->kind == K_OURS) {
		n = sp_tls_conn_take(s->c, buf, cap);
	} else {
		int r = BIO_read(s->wbio, buf, (int)cap);

		n = r > 0 ? (size_t)r : 0;
	}
	g_srv_ns += now_ns() - t0;
	return n;
}

static ssize_t
srv_write(struct bench_srv *s, const void *buf, size_t len)
{
	double t0 = now_ns();
	ssize_t n;

	if (s->kind == K_OURS) {
		n = sp_tls_conn_write(s->c, buf, len);
	} else {
		n = SSL_write(s->ssl, buf, (int)len);
	}
	g_srv_ns += now_ns() - t0;
	return n;
}

static ssize_t
srv_read(struct bench_srv *s, void *buf, size_t cap)
{
	double t0 = now_ns();
	ssize_t n;

	if (s->kind == K_OURS) {
		n = sp_tls_conn_read(s->c, buf, cap);
	} else {
		n = SSL_read(s->ssl, buf, (int)cap);
		if (n <= 0) {
			n = SP_AGAIN;
		}
	}
	g_srv_ns += now_ns() - t0;
	return n;
}

static bool
srv_resumed(const struct bench_srv *s)
{
	return s->kind == K_OURS ? sp_tls_conn_resumed(s->c) : SSL_session_reused(s->ssl) == 1;
}

/* Move bytes both ways once; returns the count. */
static size_t
bench_move(struct fx_client *cl, struct bench_srv *s)
{
	static unsigned char buf[BENCH_BUF];
	size_t moved = 0, n;
	int r;

	while ((r = BIO_read(cl->net, buf, SP_TLS_RX_BUF)) > 0) {
		srv_feed(s, buf, (size_t)r);
		moved += (size_t)r;
		if (srv_handshake(s) == -EPROTO) {
			return moved;
		}
	}
	while ((n = srv_take(s, buf, BIO_ctrl_get_write_guarantee(cl->net))) > 0) {
		SP_VERIFY(BIO_write(cl->net, buf, (int)n) == (int)n);
		moved += n;
	}
	return moved;
}

/*
 * One handshake, resuming sess when not NULL. With want_next, returns the client's new session
 * (TLS 1.3 tickets are single-use for OpenSSL's client), else NULL.
 */
static SSL_SESSION *
bench_one(const struct bench_ctxs *cx, enum bench_kind kind, SSL_SESSION *sess, bool want_next,
	  bool *resumed)
{
	struct bench_srv s;
	struct fx_client cl;
	SSL_SESSION *next = NULL;
	unsigned char b[64];
	int cr;

	srv_new(&s, kind, cx);
	fx_client_new(&cl, cx->client, NULL, 0, sess);
	for (;;) {
		cr = SSL_do_handshake(cl.ssl);
		if (bench_move(&cl, &s) == 0) {
			break;
		}
	}
	SP_VERIFY(cr == 1 && srv_handshake(&s) == 0);
	*resumed = srv_resumed(&s);
	if (want_next) {
		/* the ticket: read it, keep the session good with a close_notify */
		SP_VERIFY(SSL_read(cl.ssl, b, sizeof(b)) <= 0);
		next = SSL_get1_session(cl.ssl);
		(void)SSL_shutdown(cl.ssl);
	}
	ERR_clear_error();
	fx_client_free(&cl);
	srv_free(&s);
	return next;
}

/* Handshakes/s (server CPU, pair wall) of one kind, full or resumed. */
static void
bench_handshakes(const struct bench_ctxs *cx, enum bench_kind kind, bool resume, double ms,
		 double *srv_rate, double *wall_rate)
{
	SSL_SESSION *sess = NULL;
	bool resumed;

	*srv_rate = 0;
	*wall_rate = 0;
	if (resume) {
		sess = bench_one(cx, kind, NULL, true, &resumed);
	}
	for (unsigned rep = 0; rep < BENCH_REPS; rep++) {
		double t0 = now_ns(), t1;
		unsigned n = 0;

		g_srv_ns = 0;
		do {
			SSL_SESSION *next = bench_one(cx, kind, sess, resume, &resumed);

			SP_VERIFY(resumed == resume);
			SSL_SESSION_free(sess);
			sess = next;
			n++;
			t1 = now_ns();
		} while (t1 - t0 < ms * 1e6);
		*srv_rate = SP_MAX(*srv_rate, n / (g_srv_ns / 1e9));
		*wall_rate = SP_MAX(*wall_rate, n / ((t1 - t0) / 1e9));
	}
	SSL_SESSION_free(sess);
}

/* The sink as the API uses it: ciphertext copied into the caller's buffers (here one). */
static size_t
bench_sink(void *arg, const void *buf, size_t len)
{
	memcpy(arg, buf, SP_MIN(len, (size_t)BENCH_BUF));
	return len;
}

/* Encrypting with a sink (spate only): MB/s of plaintext, server calls only. */
static double
bench_bulk_sink(struct bench_srv *s, const unsigned char *plain, unsigned char *out, double ms)
{
	double best = 0;

	sp_tls_conn_set_sink(s->c, bench_sink, out);
	for (unsigned rep = 0; rep < BENCH_REPS; rep++) {
		double t0 = now_ns(), t1;
		size_t bytes = 0;

		g_srv_ns = 0;
		do {
			ssize_t w = srv_write(s, plain, BENCH_REC);

			SP_VERIFY(w == (ssize_t)BENCH_REC);
			SP_VERIFY(srv_take(s, out, BENCH_BUF) == 0);
			bytes += (size_t)w;
			t1 = now_ns();
		} while (t1 - t0 < ms * 1e6);
		best = SP_MAX(best, bytes / (g_srv_ns / 1e3));
	}
	sp_tls_conn_set_sink(s->c, NULL, NULL);
	return best;
}

/*
 * Bulk MB/s through the server: encrypting (write + take; for spate also write with a sink,
 * *enc_sink) and decrypting (feed + read).
 */
static void
bench_bulk(const struct bench_ctxs *cx, enum bench_kind kind, double ms, double *enc, double *dec,
	   double *enc_sink)
{
	static unsigned char plain[BENCH_REC], out[BENCH_BUF], rec[BENCH_BUF];
	struct bench_srv s;
	struct fx_client cl;
	int cr;

	memset(plain, 0xa5, sizeof(plain));
	srv_new(&s, kind, cx);
	fx_client_new(&cl, cx->client, NULL, 0, NULL);
	do {
		cr = SSL_do_handshake(cl.ssl);
	} while (bench_move(&cl, &s) > 0);
	SP_VERIFY(cr == 1);
	*enc = 0;
	*dec = 0;
	for (unsigned rep = 0; rep < BENCH_REPS; rep++) {
		double t0 = now_ns(), t1;
		size_t bytes = 0;

		g_srv_ns = 0;
		do {
			ssize_t w = srv_write(&s, plain, sizeof(plain));

			SP_VERIFY(w == (ssize_t)sizeof(plain));
			while (srv_take(&s, out, sizeof(out)) > 0) {
			}
			bytes += (size_t)w;
			t1 = now_ns();
		} while (t1 - t0 < ms * 1e6);
		*enc = SP_MAX(*enc, bytes / (g_srv_ns / 1e3));
	}
	*enc_sink = kind == K_OURS ? bench_bulk_sink(&s, plain, out, ms) : 0;
	for (unsigned rep = 0; rep < BENCH_REPS; rep++) {
		double t0 = now_ns(), t1;
		size_t bytes = 0;

		g_srv_ns = 0;
		do {
			int n;

			/* the client encrypts one record (untimed); the server feeds and reads it
			 */
			SP_VERIFY(SSL_write(cl.ssl, plain, sizeof(plain)) == (int)sizeof(plain));
			n = BIO_read(cl.net, rec, sizeof(rec));
			SP_VERIFY(n > 0);
			for (int off = 0; off < n;) {
				int piece = SP_MIN(n - off, (int)SP_TLS_RX_BUF);

				srv_feed(&s, rec + off, (size_t)piece);
				off += piece;
				while (srv_read(&s, out, sizeof(out)) > 0) {
				}
			}
			bytes += sizeof(plain);
			t1 = now_ns();
		} while (t1 - t0 < ms * 1e6);
		*dec = SP_MAX(*dec, bytes / (g_srv_ns / 1e3));
	}
	fx_client_free(&cl);
	srv_free(&s);
}

static void
bench_cert(const char *label, enum fx_key kt, double ms)
{
	struct fx_pki p;
	struct bench_ctxs cx;
	double srv[2][2], wall[2][2];

	fx_pki_make(&p, kt, "localhost");
	bench_ctxs_make(&cx, &p);
	for (int resume = 0; resume < 2; resume++) {
		for (int k = 0; k < 2; k++) {
			bench_handshakes(&cx, (enum bench_kind)k, resume, ms, &srv[resume][k],
					 &wall[resume][k]);
		}
		printf("%-9s %-8s | %9.0f %9.0f %6.3f | %9.0f %9.0f %6.3f\n", label,
		       resume ? "resumed" : "full", srv[resume][K_OURS], srv[resume][K_PLAIN],
		       srv[resume][K_OURS] / srv[resume][K_PLAIN], wall[resume][K_OURS],
		       wall[resume][K_PLAIN], wall[resume][K_OURS] / wall[resume][K_PLAIN]);
	}
	bench_ctxs_free(&cx);
	fx_pki_free(&p);
}

int
main(int argc, char **argv)
{
	double ms = argc > 1 ? strtod(argv[1], NULL) : 300;
	struct fx_pki p;
	struct bench_ctxs cx;
	double enc[2], dec[2], enc_sink[2];

	if (ms <= 0) {
		fprintf(stderr, "usage: bench_tls [MS_PER_RUN]\n");
		return 2;
	}
	printf("TLS 1.3 handshakes/s, x25519, one core; server CPU only | pair wall time\n");
	printf("%-9s %-8s | %9s %9s %6s | %9s %9s %6s\n", "cert", "kind", "spate", "plain", "ratio",
	       "spate", "plain", "ratio");
	bench_cert("P-256", FX_EC_P256, ms);
	bench_cert("RSA-2048", FX_RSA_2048, ms);

	fx_pki_make(&p, FX_EC_P256, "localhost");
	bench_ctxs_make(&cx, &p);
	for (int k = 0; k < 2; k++) {
		bench_bulk(&cx, (enum bench_kind)k, ms, &enc[k], &dec[k], &enc_sink[k]);
	}
	printf(
	    "\nbulk, TLS 1.3 AES-128-GCM, 16 KiB writes, MB/s of plaintext (server calls only)\n");
	printf("%-14s %9s %9s\n", "", "encrypt", "decrypt");
	for (int k = 0; k < 2; k++) {
		printf("%-14s %9.0f %9.0f\n", bench_kind_names[k], enc[k], dec[k]);
	}
	printf("%-14s %9.3f %9.3f\n", "ratio", enc[K_OURS] / enc[K_PLAIN],
	       dec[K_OURS] / dec[K_PLAIN]);
	printf("spate tls, encrypt into a sink (one copy, no take): %.0f MB/s, %.3f of write + "
	       "take\n",
	       enc_sink[K_OURS], enc_sink[K_OURS] / enc[K_OURS]);
	bench_ctxs_free(&cx);
	fx_pki_free(&p);
	return 0;
}
