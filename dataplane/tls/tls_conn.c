/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TLS connections (tls.h): one SSL per connection on a BIO pair. The SSL owns one end; the
 * other end ("net") is where the caller feeds received ciphertext and takes ciphertext to send.
 * A BIO pair has two fixed ring buffers, allocated with it, so the bytes parked between TCP
 * and OpenSSL are bounded (SP_TLS_RX_BUF, SP_TLS_TX_BUF) and never reallocated.
 *
 * Every OpenSSL call's outcome is folded into: bytes, SP_AGAIN (wait for input or for the
 * output to drain), 0 (peer's close_notify), -EPROTO (fatal, the alert is in the output) or
 * -EPIPE (input ended without close_notify).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
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

struct sp_tls_conn {
	SSL *ssl;
	BIO *net;               /* our end of the pair: feed writes here, take reads here */
	BIO *inner;             /* the SSL's end (owned by the SSL) */
	struct sp_tls_ctx *ctx; /* one reference */
	enum sp_tls_state state;
	int alert_sent; /* -1 or the last AlertDescription */
	int alert_received;
	bool eof; /* sp_tls_conn_eof() was called */
};

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
	c->ssl = SSL_new(ctx->ssl);
	/* The SSL's end buffers its writes (our output); ours buffers our writes (its input). */
	if (c->ssl == NULL ||
	    BIO_new_bio_pair(&c->inner, SP_TLS_TX_BUF, &c->net, SP_TLS_RX_BUF) != 1) {
		SSL_free(c->ssl);
		free(c);
		ERR_clear_error();
		return NULL;
	}
	SSL_set_bio(c->ssl, c->inner, c->inner);
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
	SSL_free(c->ssl); /* frees inner too */
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

	if (c->alert_sent >= 0 || BIO_number_written(c->inner) != 0) {
		return;
	}
	if (reason == SSL_R_HTTP_REQUEST || reason == SSL_R_HTTPS_PROXY_REQUEST ||
	    reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_UNSUPPORTED_PROTOCOL) {
		rec[6] = TLS_ALERT_PROTOCOL_VERSION;
	} else {
		rec[6] = TLS_ALERT_DECODE_ERROR;
	}
	if (BIO_write(c->inner, rec, sizeof(rec)) == (int)sizeof(rec)) {
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
	return BIO_ctrl_pending(c->net);
}

size_t
sp_tls_conn_take(struct sp_tls_conn *c, void *buf, size_t cap)
{
	int n;

	if (cap == 0) {
		return 0;
	}
	n = BIO_read(c->net, buf, (int)SP_MIN(cap, (size_t)INT_MAX));
	return n > 0 ? (size_t)n : 0;
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
