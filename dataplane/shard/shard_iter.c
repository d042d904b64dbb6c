/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shard iterator tokens: owns their byte layout, the HMAC-SHA256 that authenticates them, the
 * base64url text form, and the texts of ExpiredIteratorException (Java Date format, computed
 * here with no locale or libc time zone involved).
 *
 * Invariants: a token decodes only if it is, byte for byte, what encode produced under the
 * same key (canonical base64url with zero unused bits, exact length, valid MAC checked in
 * constant time, then field ranges); encode and decode allocate nothing and take no lock.
 * Runs on any worker lcore, each with its own struct sp_shard_iter_mac (the digest context is
 * mutable state); create and destroy run at boot and shutdown.
 *
 * Why the provider's dispatch table: OpenSSL 3.0 frees and reallocates the provider's digest
 * context on every EVP_DigestInit_ex2 and EVP_MD_CTX_copy_ex, so the usual EVP reuse still
 * allocates per call. The provider's own init/update/final functions (public API in
 * <openssl/core_dispatch.h>) re-initialise one context in place. The self-test at create
 * checks the result against OpenSSL's HMAC.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_dispatch.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/provider.h>

#include "shard_iter.h"

#define SHARD_ITER_SHA256_BYTES 32u
#define SHARD_ITER_SHA256_BLOCK 64u
/* Separates these MACs from anything else a key might be used for. */
#define SHARD_ITER_DOMAIN     "spate shard iterator"
#define SHARD_ITER_DOMAIN_LEN (sizeof(SHARD_ITER_DOMAIN) - 1)
/* Days from 0000-03-01 (proleptic Gregorian) to 1970-01-01. */
#define SHARD_ITER_DAYS_0000_03_01_TO_EPOCH 719468u
#define SHARD_ITER_DAYS_400Y                146097u
#define SHARD_ITER_DAYS_100Y                36524u
#define SHARD_ITER_DAYS_4Y                  1461u

/* Byte offsets of the token layout (big-endian integers). */
enum {
	SHARD_ITER_OFF_VERSION = 0,
	SHARD_ITER_OFF_KIND = 1,
	SHARD_ITER_OFF_NAME_LEN = 2,
	SHARD_ITER_OFF_RESERVED = 3,
	SHARD_ITER_OFF_TAG = 4,
	SHARD_ITER_OFF_SHARD = 8,
	SHARD_ITER_OFF_ISSUED = 12,
	SHARD_ITER_OFF_SEQ = 20,
	SHARD_ITER_OFF_NAME = 36,
};
SP_STATIC_ASSERT(SHARD_ITER_OFF_NAME == SP_SHARD_ITER_FIXED_BYTES, "token header layout");

struct sp_shard_iter_mac {
	EVP_MD *md; /* keeps the provider that implements it loaded */
	void *dctx;
	OSSL_FUNC_digest_freectx_fn *freectx;
	OSSL_FUNC_digest_init_fn *init;
	OSSL_FUNC_digest_update_fn *update;
	OSSL_FUNC_digest_final_fn *final;
	uint8_t ipad[SHARD_ITER_SHA256_BLOCK];
	uint8_t opad[SHARD_ITER_SHA256_BLOCK];
};

static const char shard_iter_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* ---- HMAC-SHA256 (RFC 2104) over the provider's digest ---- */

static int
shard_iter_digest(struct sp_shard_iter_mac *m, const uint8_t *pad, const uint8_t *a, size_t alen,
		  const uint8_t *b, size_t blen, uint8_t out[SHARD_ITER_SHA256_BYTES])
{
	size_t outl = 0;

	SP_VERIFY(m->dctx != NULL);
	if (m->init(m->dctx, NULL) != 1 || m->update(m->dctx, pad, SHARD_ITER_SHA256_BLOCK) != 1 ||
	    m->update(m->dctx, a, alen) != 1 || (blen != 0 && m->update(m->dctx, b, blen) != 1) ||
	    m->final(m->dctx, out, &outl, SHARD_ITER_SHA256_BYTES) != 1) {
		return -EIO;
	}
	SP_VERIFY(outl == SHARD_ITER_SHA256_BYTES);
	return 0;
}

/* HMAC(key, SHARD_ITER_DOMAIN || msg), full length. */
static int
shard_iter_hmac(struct sp_shard_iter_mac *m, const uint8_t *msg, size_t len,
		uint8_t out[SHARD_ITER_SHA256_BYTES])
{
	uint8_t inner[SHARD_ITER_SHA256_BYTES];

	if (shard_iter_digest(m, m->ipad, (const uint8_t *)SHARD_ITER_DOMAIN, SHARD_ITER_DOMAIN_LEN,
			      msg, len, inner) < 0) {
		return -EIO;
	}
	return shard_iter_digest(m, m->opad, inner, sizeof(inner), NULL, 0, out);
}

/* Whether one of the colon-separated names is a name of md. */
static bool
shard_iter_names_match(const EVP_MD *md, const char *names)
{
	char one[64];

	SP_VERIFY(md != NULL);
	SP_VERIFY(names != NULL);
	for (unsigned guard = 0; *names != '\0' && guard < 32; guard++) {
		size_t len = strcspn(names, ":");

		if (len < sizeof(one)) {
			memcpy(one, names, len);
			one[len] = '\0';
			if (EVP_MD_is_a(md, one)) {
				return true;
			}
		}
		names += len + (names[len] == ':' ? 1 : 0);
	}
	return false;
}

/* The provider functions implementing md, found through its algorithm table. */
static int
shard_iter_bind(struct sp_shard_iter_mac *m)
{
	const OSSL_PROVIDER *prov = EVP_MD_get0_provider(m->md);
	const OSSL_ALGORITHM *algs;
	const OSSL_ALGORITHM *alg;
	OSSL_FUNC_digest_newctx_fn *newctx = NULL;
	int no_cache = 0;

	SP_VERIFY(m->md != NULL);
	algs = prov != NULL ? OSSL_PROVIDER_query_operation(prov, OSSL_OP_DIGEST, &no_cache) : NULL;
	alg = algs;
	while (alg != NULL && alg->algorithm_names != NULL &&
	       !shard_iter_names_match(m->md, alg->algorithm_names)) {
		alg++;
	}
	if (alg == NULL || alg->algorithm_names == NULL) {
		if (algs != NULL) {
			OSSL_PROVIDER_unquery_operation(prov, OSSL_OP_DIGEST, algs);
		}
		return -EIO;
	}
	/* The functions are the provider's own: valid while m->md keeps the provider loaded. */
	for (const OSSL_DISPATCH *d = alg->implementation; d->function_id != 0; d++) {
		switch (d->function_id) {
		case OSSL_FUNC_DIGEST_NEWCTX:
			newctx = OSSL_FUNC_digest_newctx(d);
			break;
		case OSSL_FUNC_DIGEST_FREECTX:
			m->freectx = OSSL_FUNC_digest_freectx(d);
			break;
		case OSSL_FUNC_DIGEST_INIT:
			m->init = OSSL_FUNC_digest_init(d);
			break;
		case OSSL_FUNC_DIGEST_UPDATE:
			m->update = OSSL_FUNC_digest_update(d);
			break;
		case OSSL_FUNC_DIGEST_FINAL:
			m->final = OSSL_FUNC_digest_final(d);
			break;
		default:
			break;
		}
	}
	OSSL_PROVIDER_unquery_operation(prov, OSSL_OP_DIGEST, algs);
	if (newctx == NULL || m->freectx == NULL || m->init == NULL || m->update == NULL ||
	    m->final == NULL) {
		return -EIO;
	}
	m->dctx = newctx(OSSL_PROVIDER_get0_provider_ctx(prov));
	SP_VERIFY(m->dctx == NULL || m->init != NULL);
	return m->dctx != NULL ? 0 : -ENOMEM;
}

/* Our HMAC against OpenSSL's on a fixed message, so a wrong binding never signs a token. */
static int
shard_iter_selftest(struct sp_shard_iter_mac *m, const uint8_t *key)
{
	static const uint8_t msg[] = "self-test: the quick brown fox jumps over the lazy dog";
	uint8_t buf[SHARD_ITER_DOMAIN_LEN + sizeof(msg)];
	uint8_t ours[SHARD_ITER_SHA256_BYTES];
	uint8_t ref[EVP_MAX_MD_SIZE];
	unsigned int ref_len = 0;

	SP_VERIFY(m->dctx != NULL && key != NULL);
	memcpy(buf, SHARD_ITER_DOMAIN, SHARD_ITER_DOMAIN_LEN);
	memcpy(buf + SHARD_ITER_DOMAIN_LEN, msg, sizeof(msg));
	if (shard_iter_hmac(m, msg, sizeof(msg), ours) < 0 ||
	    HMAC(EVP_sha256(), key, SP_SHARD_ITER_KEY_BYTES, buf, sizeof(buf), ref, &ref_len) ==
		NULL) {
		return -EIO;
	}
	SP_VERIFY(ref_len == SHARD_ITER_SHA256_BYTES);
	return memcmp(ours, ref, SHARD_ITER_SHA256_BYTES) == 0 ? 0 : -EIO;
}

/* The key's HMAC pad blocks (RFC 2104 §2: the key, zero-padded to the block, XOR ipad/opad). */
static void
shard_iter_set_key(struct sp_shard_iter_mac *m, const uint8_t *key)
{
	SP_STATIC_ASSERT(SP_SHARD_ITER_KEY_BYTES <= SHARD_ITER_SHA256_BLOCK, "key used unhashed");
	SP_VERIFY(m != NULL && key != NULL);
	for (unsigned i = 0; i < SHARD_ITER_SHA256_BLOCK; i++) {
		uint8_t k = i < SP_SHARD_ITER_KEY_BYTES ? key[i] : 0;

		m->ipad[i] = k ^ 0x36;
		m->opad[i] = k ^ 0x5c;
	}
}

int
sp_shard_iter_mac_create(const uint8_t *key, struct sp_shard_iter_mac **out)
{
	struct sp_shard_iter_mac *m;
	int rc;

	SP_VERIFY(key != NULL && out != NULL);
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		return -ENOMEM;
	}
	shard_iter_set_key(m, key);
	m->md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
	rc = m->md != NULL ? shard_iter_bind(m) : -EIO;
	if (rc == 0) {
		rc = shard_iter_selftest(m, key);
	}
	if (rc < 0) {
		sp_shard_iter_mac_destroy(m);
		return rc;
	}
	SP_VERIFY(m->dctx != NULL && m->init != NULL);
	*out = m;
	return 0;
}

void
sp_shard_iter_mac_rekey(struct sp_shard_iter_mac *m, const uint8_t *key)
{
	/* the digest binding is the one create tested; only the pads depend on the key */
	SP_VERIFY(m != NULL && m->dctx != NULL);
	shard_iter_set_key(m, key);
}

void
sp_shard_iter_mac_destroy(struct sp_shard_iter_mac *m)
{
	if (m == NULL) {
		return;
	}
	if (m->dctx != NULL) {
		m->freectx(m->dctx);
	}
	EVP_MD_free(m->md);
	OPENSSL_cleanse(m, sizeof(*m));
	free(m);
}

/* ---- base64url without padding ---- */

static size_t
shard_iter_b64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0;
	size_t i = 0;

	SP_VERIFY(n <= SP_SHARD_ITER_MAX_BYTES);
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = shard_iter_b64[v >> 18];
		out[o++] = shard_iter_b64[v >> 12 & 63];
		out[o++] = shard_iter_b64[v >> 6 & 63];
		out[o++] = shard_iter_b64[v & 63];
	}
	if (n - i == 1) {
		out[o++] = shard_iter_b64[in[i] >> 2];
		out[o++] = shard_iter_b64[(in[i] & 3) << 4];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];

		out[o++] = shard_iter_b64[v >> 10];
		out[o++] = shard_iter_b64[v >> 4 & 63];
		out[o++] = shard_iter_b64[(v & 15) << 2];
	}
	SP_VERIFY(o == SP_SHARD_ITER_CHARS(n));
	return o;
}

static int
shard_iter_b64_val(char c)
{
	if (c >= 'A' && c <= 'Z') {
		return c - 'A';
	}
	if (c >= 'a' && c <= 'z') {
		return c - 'a' + 26;
	}
	if (c >= '0' && c <= '9') {
		return c - '0' + 52;
	}
	return c == '-' ? 62 : c == '_' ? 63 : -1;
}

/*
 * Decode len characters into out (room for len * 3 / 4 bytes). Refuses any character outside
 * the alphabet, a length of 1 mod 4, and set bits below the last byte, so that exactly one
 * text decodes to given bytes and no flipped bit goes unnoticed.
 */
static int
shard_iter_b64_decode(const char *s, size_t len, uint8_t *out, size_t *n)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;

	SP_VERIFY(out != NULL && n != NULL);
	if (len % 4 == 1) {
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		int v = shard_iter_b64_val(s[i]);

		if (v < 0) {
			return -EINVAL;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0) {
		return -EINVAL;
	}
	SP_VERIFY(bits < 6 && o == len * 3 / 4);
	*n = o;
	return 0;
}

/* ---- layout ---- */

static void
shard_iter_put_be(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++) {
		p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	}
}

static uint64_t
shard_iter_get_be(const uint8_t *p, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++) {
		v = v << 8 | p[i];
	}
	return v;
}

static bool
shard_iter_name_ok(const char *name, size_t len)
{
	if (len < 1 || len > SP_K_STREAM_NAME_MAX_CHARS) {
		return false;
	}
	SP_ASSERT(name != NULL);
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-')) {
			return false;
		}
	}
	return true;
}

static bool
shard_iter_fields_ok(const struct sp_shard_iter *it)
{
	return (it->kind == SP_SHARD_ITER_AT || it->kind == SP_SHARD_ITER_AFTER ||
		(it->kind == SP_SHARD_ITER_TIME && (it->seq >> 64) == 0)) &&
	       it->stream_tag <= SP_SEQNO_TAG_MAX && shard_iter_name_ok(it->name, it->name_len);
}

int
sp_shard_iter_encode(struct sp_shard_iter_mac *m, const struct sp_shard_iter *it, char *out,
		     size_t cap)
{
	uint8_t buf[SP_SHARD_ITER_MAX_BYTES];
	uint8_t mac[SHARD_ITER_SHA256_BYTES];
	size_t n;
	size_t chars;

	SP_VERIFY(m != NULL && it != NULL);
	SP_VERIFY(out != NULL || cap == 0);
	if (!shard_iter_fields_ok(it)) {
		return -EINVAL;
	}
	n = SP_SHARD_ITER_FIXED_BYTES + it->name_len;
	chars = SP_SHARD_ITER_CHARS(n + SP_SHARD_ITER_MAC_BYTES);
	if (cap < chars + 1) {
		return -ENOSPC;
	}
	buf[SHARD_ITER_OFF_VERSION] = SP_SHARD_ITER_VERSION;
	buf[SHARD_ITER_OFF_KIND] = (uint8_t)it->kind;
	buf[SHARD_ITER_OFF_NAME_LEN] = it->name_len;
	buf[SHARD_ITER_OFF_RESERVED] = 0;
	shard_iter_put_be(buf + SHARD_ITER_OFF_TAG, it->stream_tag, 4);
	shard_iter_put_be(buf + SHARD_ITER_OFF_SHARD, it->shard_index, 4);
	shard_iter_put_be(buf + SHARD_ITER_OFF_ISSUED, it->issued_ms, 8);
	shard_iter_put_be(buf + SHARD_ITER_OFF_SEQ, (uint64_t)(it->seq >> 64), 8);
	shard_iter_put_be(buf + SHARD_ITER_OFF_SEQ + 8, (uint64_t)it->seq, 8);
	memcpy(buf + SHARD_ITER_OFF_NAME, it->name, it->name_len);
	if (shard_iter_hmac(m, buf, n, mac) < 0) {
		return -EIO;
	}
	memcpy(buf + n, mac, SP_SHARD_ITER_MAC_BYTES);
	SP_VERIFY(shard_iter_b64_encode(buf, n + SP_SHARD_ITER_MAC_BYTES, out) == chars);
	out[chars] = '\0';
	return (int)chars;
}

/* Fields of an authenticated token; -EINVAL if one is out of range (never encoded so). */
static int
shard_iter_parse(const uint8_t *buf, size_t n, struct sp_shard_iter *out)
{
	SP_VERIFY(n == SP_SHARD_ITER_FIXED_BYTES + buf[SHARD_ITER_OFF_NAME_LEN]);
	out->kind = (enum sp_shard_iter_kind)buf[SHARD_ITER_OFF_KIND];
	out->name_len = buf[SHARD_ITER_OFF_NAME_LEN];
	out->stream_tag = (uint32_t)shard_iter_get_be(buf + SHARD_ITER_OFF_TAG, 4);
	out->shard_index = (uint32_t)shard_iter_get_be(buf + SHARD_ITER_OFF_SHARD, 4);
	out->issued_ms = shard_iter_get_be(buf + SHARD_ITER_OFF_ISSUED, 8);
	out->seq = (sp_u128)shard_iter_get_be(buf + SHARD_ITER_OFF_SEQ, 8) << 64 |
		   shard_iter_get_be(buf + SHARD_ITER_OFF_SEQ + 8, 8);
	SP_VERIFY(out->name_len <= SP_K_STREAM_NAME_MAX_CHARS);
	memcpy(out->name, buf + SHARD_ITER_OFF_NAME, out->name_len);
	out->name[out->name_len] = '\0';
	if (buf[SHARD_ITER_OFF_RESERVED] != 0 || !shard_iter_fields_ok(out)) {
		return -EINVAL;
	}
	return 0;
}

int
sp_shard_iter_decode(struct sp_shard_iter_mac *m, const char *s, size_t len, uint64_t now_ms,
		     struct sp_shard_iter *out)
{
	uint8_t buf[SP_SHARD_ITER_MAX_BYTES];
	uint8_t mac[SHARD_ITER_SHA256_BYTES];
	size_t n;

	SP_VERIFY(m != NULL && out != NULL);
	SP_VERIFY(s != NULL || len == 0);
	if (len < SP_SHARD_ITER_MIN_CHARS || len > SP_SHARD_ITER_MAX_CHARS ||
	    shard_iter_b64_decode(s, len, buf, &n) < 0) {
		return -EINVAL;
	}
	n -= SP_SHARD_ITER_MAC_BYTES;
	if (buf[SHARD_ITER_OFF_VERSION] != SP_SHARD_ITER_VERSION ||
	    n != SP_SHARD_ITER_FIXED_BYTES + buf[SHARD_ITER_OFF_NAME_LEN]) {
		return -EINVAL;
	}
	if (shard_iter_hmac(m, buf, n, mac) < 0) {
		return -EIO;
	}
	if (CRYPTO_memcmp(mac, buf + n, SP_SHARD_ITER_MAC_BYTES) != 0 ||
	    shard_iter_parse(buf, n, out) < 0) {
		return -EINVAL;
	}
	if (now_ms > out->issued_ms && now_ms - out->issued_ms > SP_K_ITERATOR_LIFETIME_MS) {
		return SP_SHARD_ITER_EXPIRED;
	}
	return 0;
}

/* ---- Java Date.toString() in UTC ---- */

struct shard_iter_civil {
	uint64_t year;
	unsigned month; /* 1..12 */
	unsigned day;   /* 1..31 */
};

/*
 * Calendar date of a day count since 1970-01-01. Counts from 0000-03-01 so that the leap day
 * ends each cycle: 400 years are 146097 days, the first three centuries of a cycle 36524 each,
 * a 4-year group 1461 (the last group of a century without its leap day is shorter, and the
 * min() calls absorb that), and the year inside a group is min(day / 365, 3).
 */
static void
shard_iter_civil_from_days(uint64_t days, struct shard_iter_civil *c)
{
	/* March-based month lengths; February last. */
	static const uint8_t mlen[12] = {31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 31, 29};
	uint64_t z = days + SHARD_ITER_DAYS_0000_03_01_TO_EPOCH;
	uint64_t doe = z % SHARD_ITER_DAYS_400Y;
	uint64_t cent = SP_MIN(doe / SHARD_ITER_DAYS_100Y, 3u);
	uint64_t quad;
	uint64_t yr;
	unsigned m = 0;

	doe -= cent * SHARD_ITER_DAYS_100Y;
	quad = doe / SHARD_ITER_DAYS_4Y;
	doe -= quad * SHARD_ITER_DAYS_4Y;
	yr = SP_MIN(doe / 365u, 3u);
	doe -= yr * 365u;
	SP_VERIFY(doe < 366);
	while (m < 11 && doe >= mlen[m]) {
		doe -= mlen[m];
		m++;
	}
	c->year =
	    z / SHARD_ITER_DAYS_400Y * 400u + cent * 100u + quad * 4u + yr + (m >= 10 ? 1u : 0u);
	c->month = m >= 10 ? m - 9 : m + 3;
	c->day = (unsigned)doe + 1;
	SP_VERIFY(c->day <= 31 && c->month >= 1 && c->month <= 12);
}

size_t
sp_shard_iter_java_date(uint64_t ms, char *buf, size_t cap)
{
	static const char wdays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	uint64_t secs = ms / 1000u;
	uint64_t days = secs / 86400u;
	unsigned sod = (unsigned)(secs % 86400u);
	struct shard_iter_civil c;
	int k;

	SP_VERIFY(buf != NULL && cap > 0);
	shard_iter_civil_from_days(days, &c);
	/* 1970-01-01 was a Thursday */
	k = snprintf(buf, cap, "%s %s %02u %02u:%02u:%02u UTC %llu", wdays[(days + 4) % 7],
		     months[c.month - 1], c.day, sod / 3600u, sod / 60u % 60u, sod % 60u,
		     (unsigned long long)c.year);
	SP_VERIFY(k > 0);
	return (size_t)k < cap ? (size_t)k : cap - 1;
}

size_t
sp_shard_iter_expired_msg(uint64_t issued_ms, uint64_t now_ms, char *buf, size_t cap)
{
	char then[SP_SHARD_ITER_DATE_BYTES];
	char now[SP_SHARD_ITER_DATE_BYTES];
	int k;

	SP_VERIFY(buf != NULL && cap > 0);
	sp_shard_iter_java_date(issued_ms, then, sizeof(then));
	sp_shard_iter_java_date(now_ms, now, sizeof(now));
	k = snprintf(buf, cap,
		     "Iterator expired. The iterator was created at time %s while right now it is "
		     "%s which is further in the future than the tolerated delay of %u "
		     "milliseconds.",
		     then, now, SP_K_ITERATOR_LIFETIME_MS);
	SP_VERIFY(k > 0);
	return (size_t)k < cap ? (size_t)k : cap - 1;
}
