/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for dataplane/tls: arbitrary bytes as a client's first flight into a fresh
 * server connection. The first input byte picks how the rest is split into feeds (0: one feed,
 * n: pieces of n bytes); the handshake is driven after each feed and the output taken. Every
 * input must end in a wait state (SP_AGAIN, state HANDSHAKE) or an error (-EPROTO or -EPIPE,
 * state FAILED); after a wait, an end of input must turn into an error. The output never
 * exceeds SP_TLS_TX_BUF, a failure before any output leaves exactly one alert record, and
 * LeakSanitizer checks that freeing the connection gives everything back.
 * One context (EC P-256 certificate made at start-up) serves every input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include <spate/assert.h>
#include <spate/err.h>

#include "tls.h"
#include "tls_fx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sp_tls_ctx *g_ctx;

static struct sp_tls_ctx *
fuzz_tls_ctx(void)
{
	static struct fx_pki pki;
	struct sp_tls_ctx_params prm;
	char err[SP_TLS_ERR_MAX];

	if (g_ctx == NULL) {
		fx_pki_make(&pki, FX_EC_P256, "localhost");
		prm = fx_params(&pki);
		SP_VERIFY(sp_tls_ctx_new(&prm, &g_ctx, err, sizeof(err)) == 0);
	}
	return g_ctx;
}

/* Take all output; returns its size (bounded by the transmit buffer). */
static size_t
fuzz_tls_drain(struct sp_tls_conn *c, uint8_t *first, size_t first_cap, size_t *first_len)
{
	static uint8_t buf[SP_TLS_TX_BUF + 1];
	size_t total = 0, n;

	SP_VERIFY(sp_tls_conn_pending(c) <= SP_TLS_TX_BUF);
	while ((n = sp_tls_conn_take(c, buf, sizeof(buf))) > 0) {
		if (total == 0 && first != NULL) {
			*first_len = SP_MIN(n, first_cap);
			memcpy(first, buf, *first_len);
		}
		total += n;
	}
	return total;
}

static void
fuzz_tls_check_end(struct sp_tls_conn *c, int r)
{
	if (r == SP_AGAIN) {
		SP_VERIFY(sp_tls_conn_state(c) == SP_TLS_HANDSHAKE);
	} else {
		SP_VERIFY(r == -EPROTO || r == -EPIPE);
		SP_VERIFY(sp_tls_conn_state(c) == SP_TLS_FAILED);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sp_tls_conn *c;
	size_t off = 1, chunk, out = 0, first_len = 0;
	uint8_t first[8];
	int r = SP_AGAIN;

	if (size < 1) {
		return 0;
	}
	chunk = data[0] == 0 ? size : data[0];
	c = sp_tls_conn_new(fuzz_tls_ctx());
	SP_VERIFY(c != NULL);
	while (off < size && r == SP_AGAIN) {
		size_t piece = SP_MIN(chunk, size - off);
		ssize_t n = sp_tls_conn_feed(c, data + off, piece);

		SP_VERIFY(n >= 0 && (size_t)n <= piece);
		off += (size_t)n;
		r = sp_tls_conn_handshake(c);
		SP_VERIFY(r != 0); /* no client completes a handshake without our keys */
		fuzz_tls_check_end(c, r);
		out += fuzz_tls_drain(c, out == 0 ? first : NULL, sizeof(first), &first_len);
	}
	if (r == SP_AGAIN) {
		sp_tls_conn_eof(c);
		r = sp_tls_conn_handshake(c);
		SP_VERIFY(r == -EPIPE || r == -EPROTO);
		fuzz_tls_check_end(c, r);
		out += fuzz_tls_drain(c, out == 0 ? first : NULL, sizeof(first), &first_len);
	}
	if (r == -EPROTO && first_len > 0 && first[0] == 21) {
		/* an alert first: the one we make when nothing was sent (type 21, length 2) */
		SP_VERIFY(out == 7 && first_len == 7 && first[4] == 2 && first[5] == 2);
	}
	SP_VERIFY(sp_tls_conn_feed(c, data, size) == -EPIPE);
	sp_tls_conn_free(c);
	return 0;
}
