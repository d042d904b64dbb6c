/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fixtures for dataplane/tls's unit test, fuzzer and benchmark: a throw-away PKI made at run
 * time with OpenSSL's API (a CA and a server certificate for "localhost" and 127.0.0.1, EC
 * P-256 or RSA-2048; no private key is ever committed), and a real OpenSSL client on a BIO
 * pair that talks to a struct sp_tls_conn in the same process.
 */
#ifndef SP_TLS_FX_H
#define SP_TLS_FX_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "tls.h"

enum fx_key { FX_EC_P256, FX_RSA_2048, FX_RSA_1024 /* too weak: refused */ };

/* PEM text, each NUL-terminated and malloc'd. */
struct fx_pki {
	char *ca_pem;
	char *chain_pem; /* the server certificate */
	char *key_pem;   /* its private key */
	X509 *ca;
};

/* Make a CA and a server certificate signed by it, whose subject CN is cn. Aborts on failure. */
void fx_pki_make(struct fx_pki *p, enum fx_key kt, const char *cn);
void fx_pki_free(struct fx_pki *p);

/* Server context params over the PEM text (tickets and flags left to the caller). */
struct sp_tls_ctx_params fx_params(const struct fx_pki *p);

/*
 * A client context trusting p's CA and checking the server name "localhost". version: 0 for
 * TLS 1.2 or 1.3, else exactly TLS1_2_VERSION or TLS1_3_VERSION.
 */
SSL_CTX *fx_client_ctx(const struct fx_pki *p, int version);

struct fx_client {
	SSL *ssl;
	BIO *net;  /* our end of the client's BIO pair */
	int alert; /* the last alert the client received, -1 if none */
};

/*
 * A client on cctx. alpn: the wire-format ALPN list (length-prefixed names), NULL for none;
 * sess: a session to resume, or NULL.
 */
void fx_client_new(struct fx_client *cl, SSL_CTX *cctx, const unsigned char *alpn, size_t alpn_len,
		   SSL_SESSION *sess);
void fx_client_free(struct fx_client *cl);

/*
 * Move bytes both ways once: the client's output into the server in feeds of at most chunk
 * bytes (driving the server's handshake after each), and the server's output to the client.
 * Returns the number of bytes moved.
 */
size_t fx_move(struct fx_client *cl, struct sp_tls_conn *c, size_t chunk);

/*
 * Run the handshake to the end on both sides (chunk as fx_move). Returns 0 when both are done,
 * else the server's last result (SP_AGAIN when no side can progress, -EPROTO, ...).
 */
int fx_handshake(struct fx_client *cl, struct sp_tls_conn *c, size_t chunk);

/* After a handshake: let the client read what the server sent (TLS 1.3 tickets) and return
 * its session (NULL when it has no resumable one). */
SSL_SESSION *fx_client_session(struct fx_client *cl);

#endif /* SP_TLS_FX_H */
