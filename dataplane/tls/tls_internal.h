/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to dataplane/tls: the layout of a context, shared by tls_ctx.c (building it) and
 * tls_conn.c (connections on it).
 */
#ifndef SP_TLS_INTERNAL_H
#define SP_TLS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "tls.h"

/* One session-ticket key, split as SP_TLS_TICKET_KEY_LEN bytes arrive. */
struct tls_ticket_key {
	uint8_t name[16];
	uint8_t hmac[32];
	uint8_t aes[32];
};

struct sp_tls_ctx {
	SSL_CTX *ssl;
	X509 *leaf;
	STACK_OF(X509) * chain; /* intermediates, may be empty */
	EVP_PKEY *pkey;
	EVP_CIPHER *aes; /* AES-256-CBC, fetched once for the ticket callback */
	struct tls_ticket_key cur;
	struct tls_ticket_key prev;
	bool has_prev;
	uint32_t lifetime_s; /* session (ticket) timeout */
	unsigned flags;
	unsigned refs; /* atomic */
};

#endif /* SP_TLS_INTERNAL_H */
