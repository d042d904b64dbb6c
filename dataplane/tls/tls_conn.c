/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TLS connections (tls.h): one SSL per connection. Input: a BIO pair; the SSL reads one end,
 * the caller feeds received ciphertext into the other ("net"), a fixed ring of SP_TLS_RX_BUF.
 * Output: a BIO of our own (tls_out_*) that hands each piece of ciphertext OpenSSL writes to
 * the caller's sink (sp_tls_conn_set_sink: straight into the caller's buffers, one copy)
 * and keeps what the sink does not take, or everything when there is no sink, in a fixed
 * buffer of SP_TLS_TX_BUF for sp_tls_conn_take(). Nothing is reallocated after creation.
 *
 * Every OpenSSL call's outcome is folded into: bytes, SP_AGAIN (wait for input or for the
 * output to drain), 0 (peer's close_notify), -EPROTO (fatal, the alert is in the output) or
 * -EPIPE (input ended without close_notify).
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <spate/assert.h>
#include <spate/err.h>

#include "tls_internal.h"

/* RFC 8446 §6 AlertDescription values we make ourselves. */
#define TLS_ALERT_FATAL            2
#define TLS_ALERT_PROTOCOL_VERSION 70
#define TLS_ALERT_DECODE_ERROR     50
#define TLS_CONTENT_ALERT          21
/* The pair's other ring (the SSL's end writing) is unused: output goes through tls_out. */
#define TLS_PAIR_UNUSED_BUF 64

struct sp_tls_conn {
	SSL *ssl;
	BIO *net;               /* our end of the input pair: feed writes here */
	BIO *inner;             /* the SSL's end of the pair (owned by the SSL) */
	BIO *out;               /* the SSL's output BIO (tls_out_*, owned by the SSL) */
	struct sp_tls_ctx *ctx; /* one reference */
	enum sp_tls_state state;
	int alert_sent; /* -1 or the last AlertDescription */
	int alert_received;
	bool eof; /* sp_tls_conn_eof() was called */
	sp_tls_sink_fn sink;
	void *sink_arg;
	uint32_t out_off; /* ciphertext waiting for take: out_buf[out_off, out_len) */
	uint32_t out_len;
	uint8_t out_buf[SP_TLS_TX_BUF];
};

/* ---- the output BIO ---- */

static CRYPTO_ONCE tls_out_once = CRYPTO_ONCE_STATIC_INIT;
static BIO_METHOD *tls_out_method; /* made once, kept for the process's life */

/*
 * OpenSSL writes a record (or part of one after a retry): the sink first, when nothing waits
 * (order), then the buffer. Taking part is fine (OpenSSL writes the rest next); taking
 * nothing is a retry (SSL_ERROR_WANT_WRITE: the caller takes output and writes again).
 */
static int
tls_out_write(BIO *b, const char *data, int dlen)
{
	struct sp_tls_conn *c = BIO_get_data(b);
	size_t len = dlen > 0 ? (size_t)dlen : 0, took = 0, room;

	BIO_clear_retry_flags(b);
	if (c->out_off == c->out_len && c->sink != NULL && len > 0) {
		took = c->sink(c->sink_arg, data, len);
		SP_VERIFY(took <= len);
		c->out_off = 0;
		c->out_len = 0;
	}
	room = sizeof(c->out_buf) - c->out_len;
	if (room < len - took && c->out_off > 0) {
		memmove(c->out_buf, c->out_buf + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
		room = sizeof(c->out_buf) - c->out_len;
	}
	room = SP_MIN(room, len - took);
	memcpy(c->out_buf + c->out_len, data + took, room);
	c->out_len += (uint32_t)room;
	took += room;
	if (took == 0 && len > 0) {
		BIO_set_retry_write(b);
		return -1;
	}
	return (int)took;
}

static long
tls_out_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	const struct sp_tls_conn *c = BIO_get_data(b);

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1; /* nothing is held back: taken or waiting for take */
	case BIO_CTRL_PENDING:
	case BIO_CTRL_WPENDING:
		return (long)(c->out_len - c->out_off);
	default:
		return 0;
	}
}

static int
tls_out_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void
tls_out_method_make(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "spate tls out");

	if (m != NULL &&
	    (BIO_meth_set_write(m, tls_out_write) != 1 || BIO_meth_set_ctrl(m, tls_out_ctrl) != 1 ||
	     BIO_meth_set_create(m, tls_out_create) != 1)) {
		BIO_meth_free(m);
		m = NULL;
	}
	tls_out_method = m;
}

/* Alerts, both ways, as OpenSSL reports them (where: SSL_CB_READ_ALERT / SSL_CB_WRITE_ALERT). */
static void
tls_info_cb(const SSL *s, int where, int ret)
{
	struct sp_tls_conn *c = SSL_get_app_data(s);

	if (c == NULL || (where & SSL_CB_ALERT) == 0) {
		return;
	}
	if (where & SSL_CB_WRITE) {
		c->alert_sent = ret & 0xff;
	} else {
		c->alert_received = ret & 0xff;
	}
}

struct sp_tls_conn *
sp_tls_conn_new(struct sp_tls_ctx *ctx)
{
	struct sp_tls_conn *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		return NULL;
	}
	c->alert_sent = -1;
	c->alert_received = -1;
	if (CRYPTO_THREAD_run_once(&tls_out_once, tls_out_method_make) != 1 ||
	    tls_out_method == NULL) {
		free(c);
		ERR_clear_error();
		return NULL;
	}
	c->ssl = SSL_new(ctx->ssl);
	c->out = BIO_new(tls_out_method);
	/* Our end of the pair buffers our writes (its input); the SSL's end writes nothing. */
	if (c->ssl == NULL || c->out == NULL ||
	    BIO_new_bio_pair(&c->inner, TLS_PAIR_UNUSED_BUF, &c->net, SP_TLS_RX_BUF) != 1) {
		SSL_free(c->ssl);
		BIO_free(c->out);
		free(c);
		ERR_clear_error();
		return NULL;
	}
	BIO_set_data(c->out, c);
	SSL_set_bio(c->ssl, c->inner, c->out);
	SSL_set_app_data(c->ssl, c);
	SSL_set_info_callback(c->ssl, tls_info_cb);
	SSL_set_accept_state(c->ssl);
	sp_tls_ctx_get(ctx);
	c->ctx = ctx;
	return c;
}

void
sp_tls_conn_free(struct sp_tls_conn *c)
{
	if (c == NULL) {
		return;
	}
	SSL_free(c->ssl); /* frees inner and out too */
	BIO_free(c->net);
	sp_tls_ctx_put(c->ctx);
	free(c);
}

ssize_t
sp_tls_conn_feed(struct sp_tls_conn *c, const void *buf, size_t len)
{
	int n;

	if (c->eof || c->state == SP_TLS_FAILED || c->state == SP_TLS_PEER_CLOSED) {
		return -EPIPE;
	}
	if (len == 0) {
		return 0;
	}
	n = BIO_write(c->net, buf, (int)SP_MIN(len, (size_t)INT_MAX));
	return n > 0 ? n : 0; /* -1 with retry set: the buffer is full */
}

void
sp_tls_conn_eof(struct sp_tls_conn *c)
{
	if (!c->eof) {
		c->eof = true;
		(void)BIO_shutdown_wr(c->net);
	}
}

/*
 * Fatal before we sent a byte: OpenSSL sends no alert to what is not TLS at all (an HTTP
 * request, a wrong record version), which would leave a plaintext client waiting. Write the
 * alert record ourselves: nothing is encrypted yet, so a plaintext record is what the peer
 * expects (RFC 8446 §5.1, §6.2).
 */
static void
tls_alert_unprompted(struct sp_tls_conn *c, int reason)
{
	uint8_t rec[7] = {TLS_CONTENT_ALERT, 0x03, 0x03, 0x00, 0x02, TLS_ALERT_FATAL, 0};

	if (c->alert_sent >= 0 || BIO_number_written(c->out) != 0) {
		return;
	}
	if (reason == SSL_R_HTTP_REQUEST || reason == SSL_R_HTTPS_PROXY_REQUEST ||
	    reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_UNSUPPORTED_PROTOCOL) {
		rec[6] = TLS_ALERT_PROTOCOL_VERSION;
	} else {
		rec[6] = TLS_ALERT_DECODE_ERROR;
	}
	if (BIO_write(c->out, rec, sizeof(rec)) == (int)sizeof(rec)) {
		c->alert_sent = rec[6];
	}
}

/* Map the result r of an SSL call to the API's values; records a fatal error. */
static int
tls_result(struct sp_tls_conn *c, int r)
{
	int reason;

	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return SP_AGAIN;
	case SSL_ERROR_ZERO_RETURN:
		c->state = SP_TLS_PEER_CLOSED;
		return 0;
	default:
		break;
	}
	reason = ERR_GET_REASON(ERR_peek_last_error());
	ERR_clear_error();
	c->state = SP_TLS_FAILED;
	if (reason == SSL_R_UNEXPECTED_EOF_WHILE_READING && c->eof) {
		return -EPIPE;
	}
	tls_alert_unprompted(c, reason);
	return -EPROTO;
}

int
sp_tls_conn_handshake(struct sp_tls_conn *c)
{
	int r;

	switch (c->state) {
	case SP_TLS_HANDSHAKE:
		break;
	case SP_TLS_FAILED:
		return -EPROTO;
	default:
		return 0;
	}
	ERR_clear_error();
	r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		c->state = SP_TLS_OPEN;
		return 0;
	}
	r = tls_result(c, r);
	return r == 0 ? -EPIPE : r; /* close_notify before the handshake ends */
}

ssize_t
sp_tls_conn_read(struct sp_tls_conn *c, void *buf, size_t cap)
{
	int r;

	if (c->state == SP_TLS_HANDSHAKE) {
		r = sp_tls_conn_handshake(c);
		if (r != 0) {
			return r;
		}
	}
	if (c->state == SP_TLS_FAILED) {
		return -EPROTO;
	}
	if (c->state == SP_TLS_PEER_CLOSED) {
		return 0;
	}
	if (cap == 0) {
		return SP_AGAIN;
	}
	ERR_clear_error();
	r = SSL_read(c->ssl, buf, (int)SP_MIN(cap, (size_t)INT_MAX));
	if (r > 0) {
		return r;
	}
	return tls_result(c, r);
}

ssize_t
sp_tls_conn_write(struct sp_tls_conn *c, const void *buf, size_t len)
{
	int r;

	switch (c->state) {
	case SP_TLS_HANDSHAKE:
		r = sp_tls_conn_handshake(c);
		if (r != 0) {
			return r == -EPIPE ? -EPIPE : (r == SP_AGAIN ? SP_AGAIN : -EPROTO);
		}
		break;
	case SP_TLS_FAILED:
		return -EPROTO;
	case SP_TLS_CLOSING:
		return -EPIPE;
	default:
		break;
	}
	if (len == 0) {
		return 0;
	}
	ERR_clear_error();
	r = SSL_write(c->ssl, buf, (int)SP_MIN(len, (size_t)INT_MAX));
	if (r > 0) {
		return r;
	}
	r = tls_result(c, r);
	return r == 0 ? -EPIPE : r;
}

size_t
sp_tls_conn_pending(const struct sp_tls_conn *c)
{
	return c->out_len - c->out_off;
}

size_t
sp_tls_conn_take(struct sp_tls_conn *c, void *buf, size_t cap)
{
	size_t n = SP_MIN(cap, (size_t)(c->out_len - c->out_off));

	memcpy(buf, c->out_buf + c->out_off, n);
	c->out_off += (uint32_t)n;
	if (c->out_off == c->out_len) {
		c->out_off = 0;
		c->out_len = 0;
	}
	return n;
}

void
sp_tls_conn_set_sink(struct sp_tls_conn *c, sp_tls_sink_fn sink, void *arg)
{
	c->sink = sink;
	c->sink_arg = arg;
}

int
sp_tls_conn_shutdown(struct sp_tls_conn *c)
{
	int r;

	switch (c->state) {
	case SP_TLS_FAILED:
		return -EPROTO;
	case SP_TLS_HANDSHAKE:
		/* Nothing negotiated to close: the caller just closes TCP. */
		c->state = SP_TLS_CLOSING;
		return 0;
	default:
		break;
	}
	ERR_clear_error();
	r = SSL_shutdown(c->ssl);
	if (r >= 0) {
		c->state = SP_TLS_CLOSING;
		return 0;
	}
	if (SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_WRITE) {
		return SP_AGAIN;
	}
	/* Already closed by the peer's alert or ours: nothing more to say. */
	ERR_clear_error();
	c->state = SP_TLS_CLOSING;
	return 0;
}

enum sp_tls_state
sp_tls_conn_state(const struct sp_tls_conn *c)
{
	return c->state;
}

enum sp_tls_alpn
sp_tls_conn_alpn(const struct sp_tls_conn *c)
{
	const unsigned char *p = NULL;
	unsigned int n = 0;

	if (c->state == SP_TLS_HANDSHAKE || c->state == SP_TLS_FAILED) {
		return SP_TLS_ALPN_PENDING;
	}
	SSL_get0_alpn_selected(c->ssl, &p, &n);
	return n == 2 && memcmp(p, "h2", 2) == 0 ? SP_TLS_ALPN_H2 : SP_TLS_ALPN_HTTP11;
}

int
sp_tls_conn_version(const struct sp_tls_conn *c)
{
	if (c->state == SP_TLS_HANDSHAKE || c->state == SP_TLS_FAILED) {
		return 0;
	}
	return SSL_version(c->ssl);
}

bool
sp_tls_conn_resumed(const struct sp_tls_conn *c)
{
	return SSL_session_reused(c->ssl) == 1;
}

int
sp_tls_conn_alert_sent(const struct sp_tls_conn *c)
{
	return c->alert_sent;
}

int
sp_tls_conn_alert_received(const struct sp_tls_conn *c)
{
	return c->alert_received;
}

const struct sp_tls_ctx *
sp_tls_conn_ctx(const struct sp_tls_conn *c)
{
	return c->ctx;
}
