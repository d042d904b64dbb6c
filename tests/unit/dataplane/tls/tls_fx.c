/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fixtures for dataplane/tls (tls_fx.h): a run-time PKI and an in-process OpenSSL client.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <spate/assert.h>
#include <spate/err.h>

#include "tls_fx.h"

#define FX_CLIENT_BUF 65536u
#define FX_DAY_S      (24 * 3600L)

static EVP_PKEY *
fx_key_make(enum fx_key kt)
{
	EVP_PKEY *k = kt == FX_RSA_2048   ? EVP_RSA_gen(2048)
		      : kt == FX_RSA_1024 ? EVP_RSA_gen(1024)
					  : EVP_EC_gen("P-256");

	SP_VERIFY(k != NULL);
	return k;
}

static void
fx_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *e;

	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	SP_VERIFY(e != NULL);
	SP_VERIFY(X509_add_ext(x, e, -1) == 1);
	X509_EXTENSION_free(e);
}

/* A certificate for key k named cn, signed by issuer/ikey (self-signed when issuer is NULL). */
static X509 *
fx_cert_make(EVP_PKEY *k, const char *cn, X509 *issuer, EVP_PKEY *ikey, long serial)
{
	X509 *x = X509_new();
	X509_NAME *name;

	SP_VERIFY(x != NULL);
	SP_VERIFY(X509_set_version(x, 2) == 1);
	SP_VERIFY(ASN1_INTEGER_set(X509_get_serialNumber(x), serial) == 1);
	SP_VERIFY(X509_gmtime_adj(X509_getm_notBefore(x), -FX_DAY_S) != NULL);
	SP_VERIFY(X509_gmtime_adj(X509_getm_notAfter(x), FX_DAY_S) != NULL);
	SP_VERIFY(X509_set_pubkey(x, k) == 1);
	name = X509_get_subject_name(x);
	SP_VERIFY(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn,
					     -1, -1, 0) == 1);
	SP_VERIFY(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) == 1);
	if (issuer == NULL) {
		fx_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
		fx_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
		fx_ext(x, x, NID_subject_key_identifier, "hash");
	} else {
		fx_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
		fx_ext(x, issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
		fx_ext(x, issuer, NID_ext_key_usage, "serverAuth");
		fx_ext(x, issuer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
		fx_ext(x, issuer, NID_authority_key_identifier, "keyid");
	}
	SP_VERIFY(X509_sign(x, ikey ? ikey : k, EVP_sha256()) > 0);
	return x;
}

static char *
fx_bio_text(BIO *b)
{
	char *data;
	long n = BIO_get_mem_data(b, &data);
	char *s = malloc((size_t)n + 1);

	SP_VERIFY(s != NULL);
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	BIO_free(b);
	return s;
}

void
fx_pki_make(struct fx_pki *p, enum fx_key kt, const char *cn)
{
	EVP_PKEY *cakey = fx_key_make(FX_EC_P256);
	EVP_PKEY *k = fx_key_make(kt);
	X509 *leaf;
	BIO *b;

	memset(p, 0, sizeof(*p));
	p->ca = fx_cert_make(cakey, "Spate test CA", NULL, NULL, 1);
	leaf = fx_cert_make(k, cn, p->ca, cakey, 2);
	b = BIO_new(BIO_s_mem());
	SP_VERIFY(b != NULL && PEM_write_bio_X509(b, p->ca) == 1);
	p->ca_pem = fx_bio_text(b);
	b = BIO_new(BIO_s_mem());
	SP_VERIFY(b != NULL && PEM_write_bio_X509(b, leaf) == 1);
	p->chain_pem = fx_bio_text(b);
	b = BIO_new(BIO_s_mem());
	SP_VERIFY(b != NULL && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1);
	p->key_pem = fx_bio_text(b);
	X509_free(leaf);
	EVP_PKEY_free(k);
	EVP_PKEY_free(cakey);
}

void
fx_pki_free(struct fx_pki *p)
{
	free(p->ca_pem);
	free(p->chain_pem);
	free(p->key_pem);
	X509_free(p->ca);
	memset(p, 0, sizeof(*p));
}

struct sp_tls_ctx_params
fx_params(const struct fx_pki *p)
{
	struct sp_tls_ctx_params prm = {
	    .chain_pem = p->chain_pem,
	    .chain_len = strlen(p->chain_pem),
	    .key_pem = p->key_pem,
	    .key_len = strlen(p->key_pem),
	};

	return prm;
}

SSL_CTX *
fx_client_ctx(const struct fx_pki *p, int version)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());

	SP_VERIFY(cctx != NULL);
	SP_VERIFY(X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), p->ca) == 1);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	SP_VERIFY(SSL_CTX_set_min_proto_version(cctx, version ? version : TLS1_2_VERSION) == 1);
	SP_VERIFY(SSL_CTX_set_max_proto_version(cctx, version ? version : TLS1_3_VERSION) == 1);
	SSL_CTX_set_session_cache_mode(cctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
	return cctx;
}

static void
fx_client_info(const SSL *s, int where, int ret)
{
	struct fx_client *cl = SSL_get_app_data(s);

	if ((where & SSL_CB_READ_ALERT) == SSL_CB_READ_ALERT) {
		cl->alert = ret & 0xff;
	}
}

void
fx_client_new(struct fx_client *cl, SSL_CTX *cctx, const unsigned char *alpn, size_t alpn_len,
	      SSL_SESSION *sess)
{
	BIO *inner;

	cl->ssl = SSL_new(cctx);
	SP_VERIFY(cl->ssl != NULL);
	SP_VERIFY(BIO_new_bio_pair(&inner, FX_CLIENT_BUF, &cl->net, FX_CLIENT_BUF) == 1);
	SSL_set_bio(cl->ssl, inner, inner);
	cl->alert = -1;
	SSL_set_app_data(cl->ssl, cl);
	SSL_set_info_callback(cl->ssl, fx_client_info);
	SP_VERIFY(SSL_set1_host(cl->ssl, "localhost") == 1);
	SP_VERIFY(SSL_set_tlsext_host_name(cl->ssl, "localhost") == 1);
	if (alpn != NULL) {
		/* 0 is success for this one call */
		SP_VERIFY(SSL_set_alpn_protos(cl->ssl, alpn, (unsigned)alpn_len) == 0);
	}
	if (sess != NULL) {
		SP_VERIFY(SSL_set_session(cl->ssl, sess) == 1);
	}
	SSL_set_connect_state(cl->ssl);
}

void
fx_client_free(struct fx_client *cl)
{
	SSL_free(cl->ssl);
	BIO_free(cl->net);
	memset(cl, 0, sizeof(*cl));
}

size_t
fx_move(struct fx_client *cl, struct sp_tls_conn *c, size_t chunk)
{
	unsigned char buf[FX_CLIENT_BUF];
	size_t moved = 0;
	int n;

	/* client -> server, at most chunk bytes per feed, consumed only as the server takes them */
	for (;;) {
		char *p;
		ssize_t f;
		int hs;

		n = BIO_nread0(cl->net, &p);
		if (n <= 0) {
			break;
		}
		f = sp_tls_conn_feed(c, p, SP_MIN((size_t)n, chunk));
		if (f <= 0) {
			break; /* full (the caller must read first), closed or failed */
		}
		SP_VERIFY(BIO_nread(cl->net, &p, (int)f) == (int)f);
		moved += (size_t)f;
		if (sp_tls_conn_state(c) == SP_TLS_HANDSHAKE) {
			hs = sp_tls_conn_handshake(c);
			(void)hs; /* fx_handshake() looks at the outcome */
		}
	}
	/* server -> client */
	while (sp_tls_conn_pending(c) > 0) {
		size_t room = BIO_ctrl_get_write_guarantee(cl->net);
		size_t t;

		if (room == 0) {
			break;
		}
		t = sp_tls_conn_take(c, buf, SP_MIN(room, sizeof(buf)));
		SP_VERIFY(BIO_write(cl->net, buf, (int)t) == (int)t);
		moved += t;
	}
	return moved;
}

int
fx_handshake(struct fx_client *cl, struct sp_tls_conn *c, size_t chunk)
{
	int srv = SP_AGAIN, cli = 0;

	for (;;) {
		cli = SSL_do_handshake(cl->ssl);
		if (cli <= 0) {
			int e = SSL_get_error(cl->ssl, cli);

			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
				ERR_clear_error();
			}
		}
		srv = sp_tls_conn_handshake(c);
		if (fx_move(cl, c, chunk) == 0) {
			srv = sp_tls_conn_handshake(c);
			cli = SSL_do_handshake(cl->ssl);
			if (cli <= 0) {
				ERR_clear_error();
			}
			if (fx_move(cl, c, chunk) == 0) {
				break;
			}
		}
	}
	return srv == 0 && cli == 1 ? 0 : srv;
}

SSL_SESSION *
fx_client_session(struct fx_client *cl)
{
	unsigned char b[16];
	SSL_SESSION *s;

	if (SSL_read(cl->ssl, b, sizeof(b)) <= 0) {
		ERR_clear_error();
	}
	s = SSL_get1_session(cl->ssl);
	if (s != NULL && !SSL_SESSION_is_resumable(s)) {
		SSL_SESSION_free(s);
		s = NULL;
	}
	return s;
}
