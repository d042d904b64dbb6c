/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TLS server contexts (tls.h): certificate chain and key from PEM, protocol and cipher policy,
 * ALPN selection, session-ticket keys with rotation, reference counts. Set-up and reload time
 * only: everything here allocates. The policy and its reasons are in docs/internals/tls.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <spate/assert.h>
#include <spate/err.h>

#include "tls_internal.h"

/*
 * TLS 1.2: forward-secret AEAD suites only (no CBC, no SHA-1 MAC, no static RSA, no DHE).
 * Every current SDK and browser offers one of them. TLS 1.3: OpenSSL's three defaults.
 */
#define TLS_CIPHERS_12                                                                             \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS_SUITES_13 "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define TLS_GROUPS    "X25519:P-256:P-384"
/* OpenSSL security level 2: RSA/DH >= 2048 bits, ECC >= 224 bits, no SHA-1 signatures. */
#define TLS_SECURITY_LEVEL 2
/* TLS 1.3 tickets sent after a full handshake: one is enough for an SDK's connection pool. */
#define TLS_NUM_TICKETS 1

static const unsigned char tls_alpn_h2[] = "h2";
static const unsigned char tls_alpn_http11[] = "http/1.1";

SP_PRINTF(3, 4) static int tls_fail(char *err, size_t cap, const char *fmt, ...)
{
	unsigned long e = ERR_peek_last_error();
	char ossl[160] = "";
	va_list ap;
	int n = 0;

	if (err != NULL && cap > 0) {
		va_start(ap, fmt);
		n = vsnprintf(err, cap, fmt, ap);
		va_end(ap);
		if (e != 0 && n >= 0 && (size_t)n < cap) {
			ERR_error_string_n(e, ossl, sizeof(ossl));
			snprintf(err + n, cap - (size_t)n, ": %s", ossl);
		}
	}
	ERR_clear_error();
	return -EINVAL;
}

SP_PRINTF(3, 4) static void tls_msg(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && cap > 0) {
		va_start(ap, fmt);
		vsnprintf(err, cap, fmt, ap);
		va_end(ap);
	}
}

/* Read a whole file of at most SP_TLS_PEM_MAX bytes into a new buffer. */
static int
tls_read_file(const char *path, char **out, size_t *len, char *err, size_t cap)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	char *buf;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		tls_msg(err, cap, "%s: %s", path, strerror(-rc));
		return rc;
	}
	rc = fstat(fd, &st) != 0 ? -errno : st.st_size > (off_t)SP_TLS_PEM_MAX ? -EFBIG : 0;
	if (rc != 0) {
		close(fd);
		tls_msg(err, cap, "%s: %s", path, strerror(-rc));
		return rc;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	*out = buf;
	*len = got;
	return 0;
}

/* Parse a PEM chain (leaf first) into ctx->leaf and ctx->chain. */
static int
tls_parse_chain(struct sp_tls_ctx *ctx, const char *pem, size_t len, char *err, size_t cap)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	unsigned n = 0;
	X509 *x;

	if (b == NULL) {
		return -ENOMEM;
	}
	ctx->chain = sk_X509_new_null();
	if (ctx->chain == NULL) {
		BIO_free(b);
		return -ENOMEM;
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (++n > SP_TLS_CHAIN_MAX) {
			X509_free(x);
			BIO_free(b);
			return tls_fail(err, cap, "more than %u certificates in the chain",
					SP_TLS_CHAIN_MAX);
		}
		if (ctx->leaf == NULL) {
			ctx->leaf = x;
		} else if (sk_X509_push(ctx->chain, x) == 0) {
			X509_free(x);
			BIO_free(b);
			return -ENOMEM;
		}
	}
	BIO_free(b);
	/* The loop ends on "no start line" at the end of the text; anything else is bad PEM. */
	if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE || ctx->leaf == NULL) {
		return tls_fail(err, cap, "certificate chain: no valid PEM certificate");
	}
	ERR_clear_error();
	return 0;
}

static int
tls_parse_key(struct sp_tls_ctx *ctx, const char *pem, size_t len, char *err, size_t cap)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);

	if (b == NULL) {
		return -ENOMEM;
	}
	ctx->pkey = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	if (ctx->pkey == NULL) {
		return tls_fail(err, cap, "private key: no valid PEM key");
	}
	return 0;
}

/* Load chain and key from memory or files (params say which). */
static int
tls_load_pem(struct sp_tls_ctx *ctx, const struct sp_tls_ctx_params *p, char *err, size_t cap)
{
	char *chain = NULL, *key = NULL;
	size_t chain_len = p->chain_len, key_len = p->key_len;
	int rc = 0;

	if ((p->chain_pem != NULL && chain_len > SP_TLS_PEM_MAX) ||
	    (p->key_pem != NULL && key_len > SP_TLS_PEM_MAX)) {
		tls_msg(err, cap, "PEM text over %u bytes", SP_TLS_PEM_MAX);
		return -EFBIG;
	}

	if (p->chain_pem == NULL) {
		if (p->chain_path == NULL) {
			return tls_fail(err, cap, "no certificate chain given");
		}
		rc = tls_read_file(p->chain_path, &chain, &chain_len, err, cap);
	}
	if (rc == 0 && p->key_pem == NULL) {
		if (p->key_path == NULL) {
			rc = tls_fail(err, cap, "no private key given");
		} else {
			rc = tls_read_file(p->key_path, &key, &key_len, err, cap);
		}
	}
	if (rc == 0) {
		rc = tls_parse_chain(ctx, chain ? chain : p->chain_pem, chain_len, err, cap);
	}
	if (rc == 0) {
		rc = tls_parse_key(ctx, key ? key : p->key_pem, key_len, err, cap);
	}
	free(chain);
	if (key != NULL) {
		OPENSSL_cleanse(key, key_len);
		free(key);
	}
	return rc;
}

static void
tls_key_split(struct tls_ticket_key *k, const uint8_t *bytes)
{
	memcpy(k->name, bytes, sizeof(k->name));
	memcpy(k->hmac, bytes + sizeof(k->name), sizeof(k->hmac));
	memcpy(k->aes, bytes + sizeof(k->name) + sizeof(k->hmac), sizeof(k->aes));
}

static int
tls_set_keys(struct sp_tls_ctx *ctx, const struct sp_tls_ticket_keys *t, char *err, size_t cap)
{
	uint8_t rnd[SP_TLS_TICKET_KEY_LEN];

	SP_STATIC_ASSERT(sizeof(struct tls_ticket_key) == SP_TLS_TICKET_KEY_LEN, "ticket key");
	ctx->lifetime_s = t != NULL && t->lifetime_s != 0
			      ? SP_MIN(t->lifetime_s, SP_TLS_TICKET_LIFETIME_MAX_S)
			      : SP_TLS_TICKET_LIFETIME_S;
	if (t == NULL) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			return tls_fail(err, cap, "no randomness for ticket keys");
		}
		tls_key_split(&ctx->cur, rnd);
		OPENSSL_cleanse(rnd, sizeof(rnd));
		return 0;
	}
	if (t->current == NULL) {
		return tls_fail(err, cap, "ticket keys: no current key");
	}
	tls_key_split(&ctx->cur, t->current);
	if (t->previous != NULL) {
		tls_key_split(&ctx->prev, t->previous);
		ctx->has_prev = true;
		if (memcmp(ctx->prev.name, ctx->cur.name, sizeof(ctx->cur.name)) == 0) {
			return tls_fail(err, cap, "ticket keys: current and previous share a name");
		}
	}
	return 0;
}

/* RFC 7301 §3.2: the server's preference wins; a client offering neither gets fatal 120. */
static int
tls_alpn_select(SSL *s, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
		unsigned int inlen, void *arg)
{
	const struct sp_tls_ctx *ctx = arg;
	bool h2 = false, http11 = false;
	unsigned i = 0;

	(void)s;
	while (i < inlen) {
		unsigned n = in[i++];

		if (n > inlen - i) {
			break;
		}
		if (n == 2 && memcmp(in + i, tls_alpn_h2, 2) == 0) {
			h2 = true;
		} else if (n == 8 && memcmp(in + i, tls_alpn_http11, 8) == 0) {
			http11 = true;
		}
		i += n;
	}
	if (h2 && (ctx->flags & SP_TLS_F_NO_H2) == 0) {
		*out = tls_alpn_h2;
		*outlen = 2;
		return SSL_TLSEXT_ERR_OK;
	}
	if (http11) {
		*out = tls_alpn_http11;
		*outlen = 8;
		return SSL_TLSEXT_ERR_OK;
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/*
 * Ticket protection (RFC 5077 §4 layout, as OpenSSL builds it): AES-256-CBC under the current
 * key, HMAC-SHA256 over it. Opening accepts the current and the previous key; a ticket under
 * the previous key, or any TLS 1.3 ticket, is answered with a fresh one (return 2).
 */
static int
tls_ticket_cb(SSL *s, unsigned char key_name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
	      EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	const struct sp_tls_ctx *ctx = SSL_CTX_get_app_data(SSL_get_SSL_CTX(s));
	const struct tls_ticket_key *k;
	OSSL_PARAM params[3];
	int ret = 1;

	if (enc) {
		k = &ctx->cur;
		memcpy(key_name, k->name, sizeof(k->name));
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(ctx->aes)) != 1 ||
		    EVP_EncryptInit_ex2(cctx, ctx->aes, k->aes, iv, NULL) != 1) {
			return -1;
		}
	} else {
		if (memcmp(key_name, ctx->cur.name, sizeof(ctx->cur.name)) == 0) {
			k = &ctx->cur;
		} else if (ctx->has_prev &&
			   memcmp(key_name, ctx->prev.name, sizeof(ctx->prev.name)) == 0) {
			k = &ctx->prev;
			ret = 2;
		} else {
			return 0; /* unknown key: a full handshake */
		}
		if (EVP_DecryptInit_ex2(cctx, ctx->aes, k->aes, iv, NULL) != 1) {
			return -1;
		}
		/*
		 * TLS 1.3 clients use a ticket once (RFC 8446 §C.4; OpenSSL's does): unless we
		 * answer "renew", OpenSSL sends no new ticket after a resumption and the client's
		 * next connection is a full handshake.
		 */
		if (SSL_version(s) == TLS1_3_VERSION) {
			ret = 2;
		}
	}
	params[0] =
	    OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)k->hmac, sizeof(k->hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	if (EVP_MAC_CTX_set_params(hctx, params) != 1) {
		return -1;
	}
	return ret;
}

/* Protocol policy on a fresh SSL_CTX. */
static int
tls_policy(struct sp_tls_ctx *ctx, char *err, size_t cap)
{
	SSL_CTX *s = ctx->ssl;
	long mode = SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER;

	if (SSL_CTX_set_min_proto_version(s, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(s, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(s, TLS_CIPHERS_12) != 1 ||
	    SSL_CTX_set_ciphersuites(s, TLS_SUITES_13) != 1 ||
	    SSL_CTX_set1_groups_list(s, TLS_GROUPS) != 1) {
		return tls_fail(err, cap, "protocol policy refused");
	}
	SSL_CTX_set_security_level(s, TLS_SECURITY_LEVEL);
	SSL_CTX_set_options(s, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
				   SSL_OP_PRIORITIZE_CHACHA | SSL_OP_NO_COMPRESSION);
	if (ctx->flags & SP_TLS_F_RELEASE_BUFFERS) {
		mode |= SSL_MODE_RELEASE_BUFFERS;
	}
	SSL_CTX_set_mode(s, mode);
	/* Stateless tickets only: no server-side cache to lock or to grow. */
	SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(s, TLS_NUM_TICKETS);
	SSL_CTX_set_timeout(s, (long)ctx->lifetime_s);
	SSL_CTX_set_alpn_select_cb(s, tls_alpn_select, ctx);
	if (SSL_CTX_set_tlsext_ticket_key_evp_cb(s, tls_ticket_cb) != 1) {
		return tls_fail(err, cap, "ticket callback refused");
	}
	return 0;
}

/* Certificate, chain and key into the SSL_CTX; checks the key matches and is strong enough. */
static int
tls_use_cert(struct sp_tls_ctx *ctx, char *err, size_t cap)
{
	int i;

	if (SSL_CTX_use_certificate(ctx->ssl, ctx->leaf) != 1) {
		return tls_fail(err, cap, "certificate refused");
	}
	for (i = 0; i < sk_X509_num(ctx->chain); i++) {
		if (SSL_CTX_add1_chain_cert(ctx->ssl, sk_X509_value(ctx->chain, i)) != 1) {
			return tls_fail(err, cap, "chain certificate %d refused", i + 1);
		}
	}
	if (SSL_CTX_use_PrivateKey(ctx->ssl, ctx->pkey) != 1 ||
	    SSL_CTX_check_private_key(ctx->ssl) != 1) {
		return tls_fail(err, cap, "private key refused");
	}
	return 0;
}

static void
tls_ctx_free(struct sp_tls_ctx *ctx)
{
	SSL_CTX_free(ctx->ssl);
	X509_free(ctx->leaf);
	sk_X509_pop_free(ctx->chain, X509_free);
	EVP_PKEY_free(ctx->pkey);
	EVP_CIPHER_free(ctx->aes);
	OPENSSL_cleanse(&ctx->cur, sizeof(ctx->cur));
	OPENSSL_cleanse(&ctx->prev, sizeof(ctx->prev));
	free(ctx);
}

/* Everything after the certificate and key are in ctx. Frees ctx on failure. */
static int
tls_ctx_finish(struct sp_tls_ctx *ctx, const struct sp_tls_ticket_keys *t, struct sp_tls_ctx **out,
	       char *err, size_t cap)
{
	int rc;

	ctx->refs = 1;
	ctx->aes = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
	ctx->ssl = SSL_CTX_new_ex(NULL, NULL, TLS_server_method());
	if (ctx->aes == NULL || ctx->ssl == NULL) {
		tls_ctx_free(ctx);
		ERR_clear_error();
		return -ENOMEM;
	}
	SSL_CTX_set_app_data(ctx->ssl, ctx);
	rc = tls_set_keys(ctx, t, err, cap);
	if (rc == 0) {
		rc = tls_policy(ctx, err, cap);
	}
	if (rc == 0) {
		rc = tls_use_cert(ctx, err, cap);
	}
	if (rc != 0) {
		tls_ctx_free(ctx);
		return rc;
	}
	*out = ctx;
	return 0;
}

int
sp_tls_ctx_new(const struct sp_tls_ctx_params *p, struct sp_tls_ctx **out, char *err, size_t cap)
{
	struct sp_tls_ctx *ctx;
	int rc;

	*out = NULL;
	if (err != NULL && cap > 0) {
		err[0] = '\0';
	}
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		return -ENOMEM;
	}
	ctx->flags = p->flags;
	rc = tls_load_pem(ctx, p, err, cap);
	if (rc != 0) {
		tls_ctx_free(ctx);
		return rc;
	}
	return tls_ctx_finish(ctx, p->tickets, out, err, cap);
}

int
sp_tls_ctx_rekey(const struct sp_tls_ctx *old, const struct sp_tls_ticket_keys *t,
		 struct sp_tls_ctx **out, char *err, size_t cap)
{
	struct sp_tls_ctx *ctx;

	*out = NULL;
	if (err != NULL && cap > 0) {
		err[0] = '\0';
	}
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		return -ENOMEM;
	}
	ctx->flags = old->flags;
	ctx->chain = X509_chain_up_ref(old->chain);
	if (ctx->chain == NULL || X509_up_ref(old->leaf) != 1) {
		tls_ctx_free(ctx);
		return -ENOMEM;
	}
	ctx->leaf = old->leaf;
	if (EVP_PKEY_up_ref(old->pkey) != 1) {
		tls_ctx_free(ctx);
		return -ENOMEM;
	}
	ctx->pkey = old->pkey;
	return tls_ctx_finish(ctx, t, out, err, cap);
}

void
sp_tls_ctx_get(struct sp_tls_ctx *ctx)
{
	unsigned before = __atomic_fetch_add(&ctx->refs, 1, __ATOMIC_RELAXED);

	SP_VERIFY(before > 0);
}

void
sp_tls_ctx_put(struct sp_tls_ctx *ctx)
{
	unsigned before;

	if (ctx == NULL) {
		return;
	}
	before = __atomic_fetch_sub(&ctx->refs, 1, __ATOMIC_ACQ_REL);
	SP_VERIFY(before > 0);
	if (before == 1) {
		tls_ctx_free(ctx);
	}
}

unsigned
sp_tls_ctx_refs(const struct sp_tls_ctx *ctx)
{
	return __atomic_load_n(&ctx->refs, __ATOMIC_RELAXED);
}
