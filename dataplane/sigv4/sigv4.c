/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SigV4 verification of one request (../shared/reference/kinesis-api.md §1.6, §1.9): choose the
 * header or query form, make AWS's checks in AWS's order with AWS's texts, rebuild the
 * canonical request the way the SDKs build it for a non-S3 service, and compare signatures in
 * constant time. docs/internals/sigv4.md has the order, the texts and the decisions.
 *
 * Runs on every worker lcore, each with its own struct sp_sigv4: nothing in it is shared, and
 * the key table it points to is read-only. The per-request path allocates nothing, takes no
 * lock and makes no system call: scratch space (query parameters) and the signing-key cache
 * live in the verifier, everything else on the stack; the clock is the caller's now_ms.
 *
 * Hashing uses OpenSSL's SHA256_CTX (deprecated in 3.0, hence OPENSSL_SUPPRESS_DEPRECATED):
 * it is a plain struct that can be copied. On OpenSSL 3.0 every EVP_DigestInit allocates its
 * provider context and every EVP_MAC HMAC allocates five times (measured: 1 and 5 mallocs per
 * call), so the EVP objects cannot be "pre-fetched and reused" without a malloc per request.
 * With SHA256_CTX an HMAC keeps its two padded-key states, and running it is two struct copies
 * (same assembly, SHA-NI included, as EVP).
 *
 * Invariants: a cache slot holds HMAC(kSigning) for (key index, scope date, region) of the
 * current key table only (sp_sigv4_set_keys flushes it) and is filled only after a signature
 * made with it verified, so unauthenticated traffic cannot churn it. Messages never overflow
 * the caller's buffer.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <spate/assert.h>
#include <spate/hex.h>

#include "sigv4.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_TERMINATOR "aws4_request"
#define SIGV4_STAMP_LEN 16u	/* 20150830T123600Z */
#define SIGV4_DATE_LEN 8u	/* 20150830 */
#define SIGV4_HASH_LEN 32u
#define SIGV4_HEX_LEN 64u
#define SIGV4_BLOCK 64u		/* SHA-256 block: the HMAC key pad */
#define SIGV4_SKEW_S ((int64_t)(SP_K_SIGV4_SKEW_MS / 1000u))
#define SIGV4_PRESIGN_MAX_S 604800 /* X-Amz-Expires ceiling: 7 days */
#define SIGV4_CACHE_EMPTY UINT32_MAX
/* Largest clock we format: 9999-12-31T23:59:59Z minus the skew, in milliseconds. */
#define SIGV4_NOW_MAX_MS (253402300799000ull - SP_K_SIGV4_SKEW_MS)
/* String-to-sign: algorithm, stamp, scope (date/region/service/terminator), hash, newlines. */
#define SIGV4_STS_MAX (sizeof(SIGV4_ALGORITHM) + SIGV4_STAMP_LEN + SIGV4_DATE_LEN +            \
		       SP_SIGV4_REGION_MAX + sizeof(SP_SIGV4_SERVICE) + sizeof(SIGV4_TERMINATOR) + \
		       SIGV4_HEX_LEN + 8u)
/* Staging of canonical-request bytes before SHA256_Update. */
#define SIGV4_HW_BUF 256u

SP_STATIC_ASSERT(SP_SIGV4_REGION_MAX <= UINT8_MAX, "region length is stored in 8 bits");
SP_STATIC_ASSERT((SP_SIGV4_CACHE_SETS & (SP_SIGV4_CACHE_SETS - 1)) == 0, "sets: power of 2");
SP_STATIC_ASSERT(SP_SIGV4_MAX_QUERY_PARAMS <= UINT16_MAX, "query order is 16 bits");
SP_STATIC_ASSERT(SP_K_SIGV4_SKEW_MS % 60000u == 0, "skew texts count whole minutes");

/* ---- Texts (reference §1.6; docs/internals/sigv4.md marks the inferred ones) ---- */
#define SIGV4_MSG_MISSING "Missing Authentication Token"
#define SIGV4_MSG_BOTH                                                                      \
	"Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP "   \
	"header."
#define SIGV4_MSG_MISMATCH                                                                  \
	"The request signature we calculated does not match the signature you provided. "    \
	"Check your AWS Secret Access Key and signing method. Consult the service "          \
	"documentation for details."
#define SIGV4_MSG_TOKEN "The security token included in the request is invalid."
#define SIGV4_MSG_HOST "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
#define SIGV4_MSG_XDATE "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."

struct sigv4_str {
	const char *p;
	size_t n;
};

/* HMAC-SHA256 with its key absorbed: the states after the inner and outer padded key. */
struct sigv4_hmac {
	SHA256_CTX inner;
	SHA256_CTX outer;
};

/* A cached signing key: HMAC(kSigning, .) for one (key, scope date, region). */
struct sigv4_slot {
	struct sigv4_hmac mac;
	uint32_t key_index;	/* SIGV4_CACHE_EMPTY when free */
	uint32_t date;		/* yyyymmdd as a number */
	uint32_t used;		/* verifier clock at the last use (LRU within the set) */
	uint8_t region_len;
	char region[SP_SIGV4_REGION_MAX];
};

/* One query parameter: percent-decoded form (to find X-Amz-*) and canonical form (to sign). */
struct sigv4_qparam {
	struct sigv4_str key;
	struct sigv4_str val;
	struct sigv4_str ckey;
	struct sigv4_str cval;
};

struct sp_sigv4 {
	const struct sp_sigv4_keys *keys;
	struct sp_sigv4_trace *trace;
	size_t region_len; /* 0: any well-formed region */
	char region[SP_SIGV4_REGION_MAX + 1];
	uint32_t clock;
	unsigned nq;
	bool q_overflow; /* more than the bounds allow: the request cannot verify */
	struct sp_sigv4_stats stats;
	uint16_t qorder[SP_SIGV4_MAX_QUERY_PARAMS];
	struct sigv4_qparam q[SP_SIGV4_MAX_QUERY_PARAMS];
	struct sigv4_slot cache[SP_SIGV4_CACHE_SETS][SP_SIGV4_CACHE_WAYS];
	char qdec[SP_SIGV4_QUERY_MAX_BYTES];
	char qcanon[3 * SP_SIGV4_QUERY_MAX_BYTES];
} SP_CACHE_ALIGNED;

/* The authentication parameters of one request, from the header or the query string. */
struct sigv4_auth {
	bool query;		/* presigned: X-Amz-* query parameters */
	bool x_amz_date;	/* the date came from the X-Amz-Date header */
	bool has_token;
	struct sigv4_str raw;	/* the Authorization header, trimmed */
	struct sigv4_str algorithm;
	struct sigv4_str credential;
	struct sigv4_str signed_headers;
	struct sigv4_str signature;
	struct sigv4_str date;
	struct sigv4_str token;
	struct sigv4_str expires;
	struct sigv4_str part[5]; /* credential: key id, date, region, service, terminator */
	int64_t t;		/* the date, Unix seconds */
	unsigned n_names;
	struct sigv4_str names[SP_SIGV4_MAX_SIGNED_HEADERS];
};

/* A message under construction in the caller's buffer; always NUL-terminated. */
struct sigv4_msg {
	char *buf;
	size_t cap;
	size_t len;
};

/* Canonical-request bytes on their way into SHA-256 (and into the trace, if any). */
struct sigv4_hw {
	SHA256_CTX sha;
	size_t n;
	struct sp_sigv4_trace *trace;
	uint8_t buf[SIGV4_HW_BUF];
};

enum sigv4_cred_part {
	SIGV4_P_KEY = 0,
	SIGV4_P_DATE,
	SIGV4_P_REGION,
	SIGV4_P_SERVICE,
	SIGV4_P_TERM,
};

static const char sigv4_hexdig[] = "0123456789abcdef";
static const char sigv4_hexup[] = "0123456789ABCDEF";

static bool
sigv4_str_eq(struct sigv4_str s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n == n && memcmp(s.p, lit, n) == 0;
}

static char
sigv4_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

/* Whether s equals the lower-case name ci[0..n) ignoring ASCII case. */
static bool
sigv4_ieq(const char *s, size_t sn, const char *ci, size_t n)
{
	size_t i;

	if (sn != n) {
		return false;
	}
	SP_VERIFY(s != NULL && ci != NULL);
	for (i = 0; i < n; i++) {
		if (sigv4_lower(s[i]) != ci[i]) {
			return false;
		}
	}
	SP_ASSERT(i == n);
	return true;
}

/* Whitespace that canonical header values trim and collapse (Python's str.split(), ASCII). */
static bool
sigv4_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static struct sigv4_str
sigv4_trim(struct sigv4_str s)
{
	SP_VERIFY(s.p != NULL || s.n == 0);
	while (s.n > 0 && sigv4_ws(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n > 0 && sigv4_ws(s.p[s.n - 1])) {
		s.n--;
	}
	SP_ASSERT(s.n == 0 || (!sigv4_ws(s.p[0]) && !sigv4_ws(s.p[s.n - 1])));
	return s;
}

/* The first header named lname (lower case), trimmed; false when there is none. */
static bool
sigv4_header(const struct sp_sigv4_request *req, const char *lname, struct sigv4_str *out)
{
	size_t n = strlen(lname);
	unsigned i;

	SP_VERIFY(req != NULL && out != NULL);
	for (i = 0; i < req->n_headers; i++) {
		const struct sp_sigv4_header *h = &req->headers[i];

		if (sigv4_ieq(h->name, h->name_len, lname, n)) {
			*out = sigv4_trim((struct sigv4_str){ h->value, h->value_len });
			return true;
		}
	}
	SP_ASSERT(i == req->n_headers);
	out->p = NULL;
	out->n = 0;
	return false;
}

/* ---- Messages ---- */

static void
sigv4_put(struct sigv4_msg *m, const char *p, size_t n)
{
	size_t room;

	SP_VERIFY(m->cap > 0 && m->len < m->cap);
	room = m->cap - 1 - m->len;
	if (n > room) {
		n = room;
	}
	if (n > 0) {
		memcpy(m->buf + m->len, p, n);
	}
	m->len += n;
	m->buf[m->len] = '\0';
	SP_ASSERT(m->len < m->cap);
}

static void
sigv4_puts(struct sigv4_msg *m, const char *s)
{
	sigv4_put(m, s, strlen(s));
}

static void
sigv4_putv(struct sigv4_msg *m, struct sigv4_str s)
{
	sigv4_put(m, s.p, s.n);
}

/* ---- Time: ISO 8601 basic format <-> Unix seconds (proleptic Gregorian, UTC) ---- */

static int64_t
sigv4_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe;
	unsigned doy;
	unsigned doe;

	SP_VERIFY(m >= 1 && m <= 12 && d >= 1 && d <= 31);
	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	SP_ASSERT(doe < 146097);
	return era * 146097 + (int64_t)doe - 719468;
}

static void
sigv4_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe;
	unsigned yoe;
	unsigned doy;
	unsigned mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	SP_VERIFY(doe < 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
	SP_ASSERT(*m >= 1 && *m <= 12 && *d >= 1 && *d <= 31);
}

static unsigned
sigv4_days_in_month(int64_t y, unsigned m)
{
	static const uint8_t days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	SP_VERIFY(m >= 1 && m <= 12);
	return days[m - 1] + (m == 2 && leap);
}

/* The decimal value of s[0..n), all digits (checked by the caller). */
static unsigned
sigv4_dec(const char *s, size_t n)
{
	unsigned v = 0;
	size_t i;

	SP_VERIFY(n <= 9);
	for (i = 0; i < n; i++) {
		SP_ASSERT(s[i] >= '0' && s[i] <= '9');
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return v;
}

/* Parse yyyymmddThhmmssZ (every field in range) into Unix seconds. */
static bool
sigv4_parse_stamp(struct sigv4_str s, int64_t *t)
{
	static const char shape[] = "dddddddd" "T" "dddddd" "Z";
	unsigned mo;
	unsigned d;
	int64_t y;
	size_t i;

	SP_STATIC_ASSERT(sizeof(shape) - 1 == SIGV4_STAMP_LEN, "stamp shape");
	if (s.n != SIGV4_STAMP_LEN) {
		return false;
	}
	for (i = 0; i < SIGV4_STAMP_LEN; i++) {
		bool digit = s.p[i] >= '0' && s.p[i] <= '9';

		if (shape[i] == 'd' ? !digit : s.p[i] != shape[i]) {
			return false;
		}
	}
	y = sigv4_dec(s.p, 4);
	mo = sigv4_dec(s.p + 4, 2);
	d = sigv4_dec(s.p + 6, 2);
	if (mo < 1 || mo > 12 || d < 1 || d > sigv4_days_in_month(y, mo) ||
	    sigv4_dec(s.p + 9, 2) > 23 || sigv4_dec(s.p + 11, 2) > 59 ||
	    sigv4_dec(s.p + 13, 2) > 59) {
		return false;
	}
	*t = sigv4_days_from_civil(y, mo, d) * 86400 + sigv4_dec(s.p + 9, 2) * 3600 +
	     sigv4_dec(s.p + 11, 2) * 60 + sigv4_dec(s.p + 13, 2);
	SP_ASSERT(*t >= sigv4_days_from_civil(y, mo, d) * 86400);
	return true;
}

static void
sigv4_put2(char *o, unsigned v)
{
	SP_VERIFY(v < 100);
	o[0] = (char)('0' + v / 10);
	o[1] = (char)('0' + v % 10);
}

/* Format Unix seconds t (years 0..9999) as yyyymmddThhmmssZ. */
static void
sigv4_fmt_stamp(int64_t t, char out[SIGV4_STAMP_LEN + 1])
{
	int64_t days = (t >= 0 ? t : t - 86399) / 86400;
	int64_t secs = t - days * 86400;
	int64_t y;
	unsigned m;
	unsigned d;

	sigv4_civil_from_days(days, &y, &m, &d);
	SP_VERIFY(y >= 0 && y <= 9999 && secs >= 0 && secs < 86400);
	sigv4_put2(out, (unsigned)(y / 100));
	sigv4_put2(out + 2, (unsigned)(y % 100));
	sigv4_put2(out + 4, m);
	sigv4_put2(out + 6, d);
	out[8] = 'T';
	sigv4_put2(out + 9, (unsigned)(secs / 3600));
	sigv4_put2(out + 11, (unsigned)(secs / 60 % 60));
	sigv4_put2(out + 13, (unsigned)(secs % 60));
	out[15] = 'Z';
	out[16] = '\0';
}

/* Append the decimal form of v. */
static void
sigv4_put_uint(struct sigv4_msg *m, uint64_t v)
{
	char d[24];
	size_t i = sizeof(d);

	do {
		SP_VERIFY(i > 0);
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	SP_ASSERT(i < sizeof(d));
	sigv4_put(m, d + i, sizeof(d) - i);
}

/* ---- HMAC-SHA256 over copyable SHA256_CTX states ---- */

static void
sigv4_hex(const uint8_t *b, size_t n, char *out)
{
	size_t i;

	SP_VERIFY(b != NULL && out != NULL);
	for (i = 0; i < n; i++) {
		out[2 * i] = sigv4_hexdig[b[i] >> 4];
		out[2 * i + 1] = sigv4_hexdig[b[i] & 15];
	}
	SP_ASSERT(i == n);
}

/*
 * SHA-256 of one buffer. Not OpenSSL's one-shot SHA256(): in 3.0 that goes through
 * EVP_Q_digest, which fetches and allocates (the no-allocation test caught it).
 */
static void
sigv4_sha256(const void *p, size_t n, uint8_t out[SIGV4_HASH_LEN])
{
	SHA256_CTX c;

	SP_VERIFY(p != NULL || n == 0);
	SP_VERIFY(SHA256_Init(&c) == 1 && SHA256_Update(&c, n > 0 ? p : "", n) == 1);
	SP_VERIFY(SHA256_Final(out, &c) == 1);
}

static void
sigv4_hmac_init(struct sigv4_hmac *h, const uint8_t *key, size_t n)
{
	uint8_t k[SIGV4_BLOCK];
	uint8_t pad[SIGV4_BLOCK];
	unsigned i;

	SP_VERIFY(h != NULL && (key != NULL || n == 0));
	memset(k, 0, sizeof(k));
	if (n > SIGV4_BLOCK) {
		sigv4_sha256(key, n, k); /* RFC 2104: long keys are hashed first */
	} else if (n > 0) {
		memcpy(k, key, n);
	}
	for (i = 0; i < SIGV4_BLOCK; i++) {
		pad[i] = k[i] ^ 0x36;
	}
	SP_VERIFY(SHA256_Init(&h->inner) == 1 && SHA256_Update(&h->inner, pad, SIGV4_BLOCK) == 1);
	for (i = 0; i < SIGV4_BLOCK; i++) {
		pad[i] = k[i] ^ 0x5c;
	}
	SP_VERIFY(SHA256_Init(&h->outer) == 1 && SHA256_Update(&h->outer, pad, SIGV4_BLOCK) == 1);
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(pad, sizeof(pad));
}

static void
sigv4_hmac_run(const struct sigv4_hmac *h, const void *msg, size_t n, uint8_t out[SIGV4_HASH_LEN])
{
	SHA256_CTX c = h->inner;

	SP_VERIFY(SHA256_Update(&c, msg, n) == 1);
	SP_VERIFY(SHA256_Final(out, &c) == 1);
	c = h->outer;
	SP_VERIFY(SHA256_Update(&c, out, SIGV4_HASH_LEN) == 1);
	SP_VERIFY(SHA256_Final(out, &c) == 1);
}

/*
 * kSigning of reference §1.9 step 3 for a date (8 digits) and region, absorbed into *out (a
 * verifier's cache miss, or a signature of sp_sigv4_sign_post: four HMACs).
 */
static void
sigv4_derive_raw(const struct sp_sigv4_key *k, const char *date, const char *region,
		 size_t region_len, struct sigv4_hmac *out)
{
	uint8_t kbuf[4 + SP_SIGV4_SECRET_MAX];
	uint8_t d[SIGV4_HASH_LEN];
	struct sigv4_hmac h;

	SP_VERIFY(k->secret_len <= SP_SIGV4_SECRET_MAX);
	memcpy(kbuf, "AWS4", 4);
	memcpy(kbuf + 4, k->secret, k->secret_len);
	sigv4_hmac_init(&h, kbuf, 4u + k->secret_len);
	sigv4_hmac_run(&h, date, SIGV4_DATE_LEN, d);
	sigv4_hmac_init(&h, d, sizeof(d));
	sigv4_hmac_run(&h, region, region_len, d);
	sigv4_hmac_init(&h, d, sizeof(d));
	sigv4_hmac_run(&h, SP_SIGV4_SERVICE, sizeof(SP_SIGV4_SERVICE) - 1, d);
	sigv4_hmac_init(&h, d, sizeof(d));
	sigv4_hmac_run(&h, SIGV4_TERMINATOR, sizeof(SIGV4_TERMINATOR) - 1, d);
	sigv4_hmac_init(out, d, sizeof(d));
	OPENSSL_cleanse(kbuf, sizeof(kbuf));
	OPENSSL_cleanse(d, sizeof(d));
	OPENSSL_cleanse(&h, sizeof(h));
}

static void
sigv4_derive(const struct sp_sigv4_key *k, const struct sigv4_auth *a, struct sigv4_hmac *out)
{
	SP_VERIFY(a->part[SIGV4_P_DATE].n == SIGV4_DATE_LEN);
	sigv4_derive_raw(k, a->part[SIGV4_P_DATE].p, a->part[SIGV4_P_REGION].p,
			 a->part[SIGV4_P_REGION].n, out);
}

int
sp_sigv4_sign_post(const struct sp_sigv4_key *key, const char *region, const char *host,
		   const char *content_type, const char *amz_target, const char *amz_date,
		   const void *body, size_t body_len, char *out, size_t out_cap)
{
	char canon[1024], sts[SIGV4_STS_MAX + 64];
	char body_hex[SIGV4_HEX_LEN + 1], canon_hex[SIGV4_HEX_LEN + 1], sig_hex[SIGV4_HEX_LEN + 1];
	uint8_t hash[SIGV4_HASH_LEN];
	struct sigv4_hmac kmac;
	int n;

	if (strlen(amz_date) != SIGV4_STAMP_LEN || strlen(region) > SP_SIGV4_REGION_MAX) {
		return -EINVAL;
	}
	sigv4_sha256(body, body_len, hash);
	sigv4_hex(hash, sizeof(hash), body_hex);
	body_hex[SIGV4_HEX_LEN] = '\0';
	/* the canonical request of a POST to "/" with no query and these four headers (§1.9) */
	n = snprintf(canon, sizeof(canon),
		     "POST\n/\n\ncontent-type:%s\nhost:%s\nx-amz-date:%s\nx-amz-target:%s\n\n"
		     "content-type;host;x-amz-date;x-amz-target\n%s",
		     content_type, host, amz_date, amz_target, body_hex);
	if (n < 0 || (size_t)n >= sizeof(canon)) {
		return -ENAMETOOLONG;
	}
	sigv4_sha256(canon, (size_t)n, hash);
	sigv4_hex(hash, sizeof(hash), canon_hex);
	canon_hex[SIGV4_HEX_LEN] = '\0';
	n = snprintf(sts, sizeof(sts), SIGV4_ALGORITHM "\n%s\n%.8s/%s/" SP_SIGV4_SERVICE
		     "/" SIGV4_TERMINATOR "\n%s", amz_date, amz_date, region, canon_hex);
	SP_VERIFY(n > 0 && (size_t)n < sizeof(sts));
	sigv4_derive_raw(key, amz_date, region, strlen(region), &kmac);
	sigv4_hmac_run(&kmac, sts, (size_t)n, hash);
	OPENSSL_cleanse(&kmac, sizeof(kmac));
	sigv4_hex(hash, sizeof(hash), sig_hex);
	sig_hex[SIGV4_HEX_LEN] = '\0';
	n = snprintf(out, out_cap, "%s Credential=%.*s/%.8s/%s/%s/%s, SignedHeaders=%s%s",
		     SIGV4_ALGORITHM, (int)key->access_key_len, key->access_key, amz_date,
		     region, SP_SIGV4_SERVICE, SIGV4_TERMINATOR,
		     "content-type;host;x-amz-date;x-amz-target, Signature=", sig_hex);
	return n < 0 || (size_t)n >= out_cap ? -ENAMETOOLONG : n;
}

/* ---- Canonical request writer ---- */

static void
sigv4_hw_init(struct sigv4_hw *w, struct sp_sigv4_trace *trace)
{
	SP_VERIFY(w != NULL);
	SP_VERIFY(SHA256_Init(&w->sha) == 1);
	w->n = 0;
	w->trace = trace;
	if (trace != NULL) {
		trace->creq_len = 0;
	}
}

static void
sigv4_hw_flush(struct sigv4_hw *w)
{
	SP_VERIFY(w->n <= SIGV4_HW_BUF);
	if (w->n > 0) {
		SP_VERIFY(SHA256_Update(&w->sha, w->buf, w->n) == 1);
	}
	w->n = 0;
}

static void
sigv4_hw_put(struct sigv4_hw *w, const void *p, size_t n)
{
	struct sp_sigv4_trace *tr = w->trace;

	SP_VERIFY(w->n <= SIGV4_HW_BUF && (p != NULL || n == 0));
	if (n == 0) {
		return;
	}
	if (tr != NULL && tr->creq != NULL && tr->creq_cap > 0) {
		size_t room = tr->creq_len < tr->creq_cap - 1 ? tr->creq_cap - 1 - tr->creq_len : 0;

		memcpy(tr->creq + tr->creq_len, p, SP_MIN(room, n));
		tr->creq[tr->creq_len + SP_MIN(room, n)] = '\0';
	}
	if (tr != NULL) {
		tr->creq_len += n;
	}
	if (w->n + n > SIGV4_HW_BUF) {
		sigv4_hw_flush(w);
	}
	if (n >= SIGV4_HW_BUF) {
		SP_VERIFY(SHA256_Update(&w->sha, p, n) == 1);
		return;
	}
	memcpy(w->buf + w->n, p, n);
	w->n += n;
	SP_ASSERT(w->n <= SIGV4_HW_BUF);
}

static void
sigv4_hw_putv(struct sigv4_hw *w, struct sigv4_str s)
{
	sigv4_hw_put(w, s.p, s.n);
}

static void
sigv4_hw_final(struct sigv4_hw *w, uint8_t out[SIGV4_HASH_LEN])
{
	sigv4_hw_flush(w);
	SP_VERIFY(w->n == 0);
	SP_VERIFY(SHA256_Final(out, &w->sha) == 1);
}

static bool
sigv4_unreserved(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/*
 * URI-encode s into dst (room for 3 * s.n bytes): RFC 3986 unreserved bytes and, when
 * keep_slash, '/' stay; every other byte becomes %XX (upper-case hex). Returns the length.
 */
static size_t
sigv4_encode(struct sigv4_str s, char *dst, bool keep_slash)
{
	size_t o = 0;
	size_t i;

	SP_VERIFY(dst != NULL || s.n == 0);
	for (i = 0; i < s.n; i++) {
		uint8_t c = (uint8_t)s.p[i];

		if (sigv4_unreserved(c) || (keep_slash && c == '/')) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '%';
			dst[o++] = sigv4_hexup[c >> 4];
			dst[o++] = sigv4_hexup[c & 15];
		}
	}
	SP_ASSERT(o <= 3 * s.n);
	return o;
}

/* Encode s into the writer, a bounded chunk at a time. */
static void
sigv4_hw_encoded(struct sigv4_hw *w, struct sigv4_str s)
{
	char chunk[3 * 64];

	SP_VERIFY(w != NULL);
	while (s.n > 0) {
		struct sigv4_str piece = { s.p, SP_MIN(s.n, (size_t)64) };

		sigv4_hw_put(w, chunk, sigv4_encode(piece, chunk, false));
		s.p += piece.n;
		s.n -= piece.n;
	}
	SP_ASSERT(s.n == 0);
}

/* Percent-decode s into dst (room for s.n bytes); a '%' without two hex digits is literal. */
static size_t
sigv4_decode(struct sigv4_str s, char *dst)
{
	size_t o = 0;
	size_t i;

	SP_VERIFY(dst != NULL || s.n == 0);
	for (i = 0; i < s.n; i++) {
		int hi = -1;
		int lo = -1;

		if (s.p[i] == '%' && i + 2 < s.n) {
			hi = sp_hex_val(s.p[i + 1]);
			lo = sp_hex_val(s.p[i + 2]);
		}
		if (hi >= 0 && lo >= 0) {
			dst[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			dst[o++] = s.p[i];
		}
	}
	SP_ASSERT(o <= s.n);
	return o;
}

/* Byte order of two strings (shorter first on a common prefix), as Python's sorted() does. */
static int
sigv4_cmp(struct sigv4_str a, struct sigv4_str b)
{
	size_t n = SP_MIN(a.n, b.n);
	int c = n > 0 ? memcmp(a.p, b.p, n) : 0;

	if (c != 0) {
		return c;
	}
	return a.n < b.n ? -1 : (a.n > b.n ? 1 : 0);
}

static bool
sigv4_qparam_before(const struct sigv4_qparam *x, const struct sigv4_qparam *y)
{
	int c = sigv4_cmp(x->ckey, y->ckey);

	return c < 0 || (c == 0 && sigv4_cmp(x->cval, y->cval) < 0);
}

/* Decode, re-encode and sort the query parameters into sv (bounded by the SP_SIGV4_* limits). */
static void
sigv4_query_parse(struct sp_sigv4 *sv, struct sigv4_str q)
{
	size_t dpos = 0;
	size_t cpos = 0;
	size_t i = 0;
	unsigned j;

	sv->nq = 0;
	sv->q_overflow = q.n > SP_SIGV4_QUERY_MAX_BYTES;
	while (!sv->q_overflow && i < q.n) {
		const char *amp = memchr(q.p + i, '&', q.n - i);
		size_t end = amp != NULL ? (size_t)(amp - q.p) : q.n;
		struct sigv4_str kv = { q.p + i, end - i };
		const char *eq = memchr(kv.p, '=', kv.n);
		struct sigv4_str k = { kv.p, eq != NULL ? (size_t)(eq - kv.p) : kv.n };
		struct sigv4_str v = { eq != NULL ? eq + 1 : kv.p,
				       eq != NULL ? kv.n - k.n - 1 : 0 };
		struct sigv4_qparam *qp = &sv->q[sv->nq];

		i = end + 1;
		if (kv.n == 0) {
			continue;
		}
		if (sv->nq == SP_SIGV4_MAX_QUERY_PARAMS) {
			sv->q_overflow = true;
			break;
		}
		qp->key = (struct sigv4_str){ sv->qdec + dpos, sigv4_decode(k, sv->qdec + dpos) };
		dpos += qp->key.n;
		qp->val = (struct sigv4_str){ sv->qdec + dpos, sigv4_decode(v, sv->qdec + dpos) };
		dpos += qp->val.n;
		qp->ckey = (struct sigv4_str){ sv->qcanon + cpos,
					       sigv4_encode(qp->key, sv->qcanon + cpos, false) };
		cpos += qp->ckey.n;
		qp->cval = (struct sigv4_str){ sv->qcanon + cpos,
					       sigv4_encode(qp->val, sv->qcanon + cpos, false) };
		cpos += qp->cval.n;
		/* Insertion sort: at most SP_SIGV4_MAX_QUERY_PARAMS entries. */
		for (j = sv->nq; j > 0 && sigv4_qparam_before(qp, &sv->q[sv->qorder[j - 1]]); j--) {
			sv->qorder[j] = sv->qorder[j - 1];
		}
		sv->qorder[j] = (uint16_t)sv->nq++;
	}
	SP_VERIFY(dpos <= sizeof(sv->qdec) && cpos <= sizeof(sv->qcanon));
	SP_VERIFY(sv->nq <= SP_SIGV4_MAX_QUERY_PARAMS);
}

/* The first query parameter whose decoded name is name, or NULL. */
static const struct sigv4_qparam *
sigv4_query_find(const struct sp_sigv4 *sv, const char *name)
{
	unsigned i;

	SP_VERIFY(sv->nq <= SP_SIGV4_MAX_QUERY_PARAMS);
	for (i = 0; i < sv->nq; i++) {
		if (sigv4_str_eq(sv->q[i].key, name)) {
			return &sv->q[i];
		}
	}
	SP_ASSERT(i == sv->nq);
	return NULL;
}

/* Canonical query: sorted key=value pairs (X-Amz-Signature left out when presigned). */
static void
sigv4_hw_query(struct sigv4_hw *w, const struct sp_sigv4 *sv, bool presigned)
{
	bool first = true;
	unsigned i;

	SP_VERIFY(!sv->q_overflow);
	for (i = 0; i < sv->nq; i++) {
		const struct sigv4_qparam *qp = &sv->q[sv->qorder[i]];

		if (presigned && sigv4_str_eq(qp->key, "X-Amz-Signature")) {
			continue;
		}
		if (!first) {
			sigv4_hw_put(w, "&", 1);
		}
		sigv4_hw_putv(w, qp->ckey);
		sigv4_hw_put(w, "=", 1);
		sigv4_hw_putv(w, qp->cval);
		first = false;
	}
	SP_ASSERT(i == sv->nq);
}

/*
 * Canonical URI of a non-S3 service, as botocore and the other SDKs build it: dot segments
 * and empty segments removed, then every byte but unreserved ones and '/' URI-encoded. The
 * path arrives already encoded, so '%' becomes %25: the "double encoding". False when the
 * path has more than SP_SIGV4_MAX_PATH_SEGMENTS segments.
 */
static bool
sigv4_hw_path(struct sigv4_hw *w, struct sigv4_str path)
{
	struct sigv4_str seg[SP_SIGV4_MAX_PATH_SEGMENTS];
	unsigned k = 0;
	unsigned j;
	size_t i = 0;

	if (path.n == 0) {
		sigv4_hw_put(w, "/", 1);
		return true;
	}
	while (i < path.n) {
		const char *slash = memchr(path.p + i, '/', path.n - i);
		size_t end = slash != NULL ? (size_t)(slash - path.p) : path.n;
		struct sigv4_str s = { path.p + i, end - i };

		i = end + 1;
		if (s.n == 0 || sigv4_str_eq(s, ".")) {
			continue;
		}
		if (sigv4_str_eq(s, "..")) {
			k -= k > 0;
			continue;
		}
		if (k == SP_SIGV4_MAX_PATH_SEGMENTS) {
			return false;
		}
		seg[k++] = s;
	}
	SP_VERIFY(k <= SP_SIGV4_MAX_PATH_SEGMENTS);
	if (path.p[0] == '/') {
		sigv4_hw_put(w, "/", 1);
	}
	for (j = 0; j < k; j++) {
		if (j > 0) {
			sigv4_hw_put(w, "/", 1);
		}
		sigv4_hw_encoded(w, seg[j]);
	}
	if (path.p[path.n - 1] == '/' && k > 0) {
		sigv4_hw_put(w, "/", 1);
	}
	return true;
}

/* One header value: trimmed, every inner run of whitespace as one space. */
static void
sigv4_hw_value(struct sigv4_hw *w, struct sigv4_str v)
{
	char chunk[128];
	size_t o = 0;
	bool gap = false;
	size_t i;

	v = sigv4_trim(v);
	for (i = 0; i < v.n; i++) {
		if (sigv4_ws(v.p[i])) {
			gap = true;
			continue;
		}
		if (o + 2 > sizeof(chunk)) {
			sigv4_hw_put(w, chunk, o);
			o = 0;
		}
		if (gap) {
			chunk[o++] = ' ';
			gap = false;
		}
		chunk[o++] = v.p[i];
	}
	SP_VERIFY(o <= sizeof(chunk));
	sigv4_hw_put(w, chunk, o);
}

/* name:value lines of the signed headers; repeated headers joined by ',' in arrival order. */
static void
sigv4_hw_headers(struct sigv4_hw *w, const struct sp_sigv4_request *req,
		 const struct sigv4_auth *a)
{
	unsigned j;
	unsigned i;

	SP_VERIFY(a->n_names >= 1 && a->n_names <= SP_SIGV4_MAX_SIGNED_HEADERS);
	for (j = 0; j < a->n_names; j++) {
		struct sigv4_str name = a->names[j];
		bool first = true;

		sigv4_hw_putv(w, name);
		sigv4_hw_put(w, ":", 1);
		for (i = 0; i < req->n_headers; i++) {
			const struct sp_sigv4_header *h = &req->headers[i];

			if (!sigv4_ieq(h->name, h->name_len, name.p, name.n)) {
				continue;
			}
			if (!first) {
				sigv4_hw_put(w, ",", 1);
			}
			sigv4_hw_value(w, (struct sigv4_str){ h->value, h->value_len });
			first = false;
		}
		sigv4_hw_put(w, "\n", 1);
	}
	SP_ASSERT(j == a->n_names);
}

/*
 * Split SignedHeaders into a->names. The list must already be canonical (lower case,
 * strictly sorted, no empty name, at most SP_SIGV4_MAX_SIGNED_HEADERS): the client signed it
 * verbatim, so any other list cannot match a signature we would compute.
 */
static bool
sigv4_split_names(struct sigv4_auth *a)
{
	struct sigv4_str s = a->signed_headers;
	size_t i = 0;
	size_t c;

	a->n_names = 0;
	SP_VERIFY(s.n > 0);
	for (;;) {
		const char *semi = memchr(s.p + i, ';', s.n - i);
		size_t end = semi != NULL ? (size_t)(semi - s.p) : s.n;
		struct sigv4_str name = { s.p + i, end - i };

		if (name.n == 0 || a->n_names == SP_SIGV4_MAX_SIGNED_HEADERS) {
			return false;
		}
		for (c = 0; c < name.n; c++) {
			if (sigv4_lower(name.p[c]) != name.p[c] || sigv4_ws(name.p[c])) {
				return false;
			}
		}
		if (a->n_names > 0 && sigv4_cmp(a->names[a->n_names - 1], name) >= 0) {
			return false;
		}
		a->names[a->n_names++] = name;
		if (semi == NULL) {
			break;
		}
		i = end + 1;
	}
	SP_VERIFY(a->n_names >= 1);
	return true;
}

/* Whether the SignedHeaders list names lname, ignoring case (AWS's own membership tests). */
static bool
sigv4_signed_has(struct sigv4_str list, const char *lname)
{
	size_t ln = strlen(lname);
	size_t i = 0;

	SP_VERIFY(list.p != NULL || list.n == 0);
	while (i <= list.n) {
		const char *semi = list.n > i ? memchr(list.p + i, ';', list.n - i) : NULL;
		size_t end = semi != NULL ? (size_t)(semi - list.p) : list.n;

		if (sigv4_ieq(list.p + i, end - i, lname, ln)) {
			return true;
		}
		i = end + 1;
	}
	SP_ASSERT(i > list.n);
	return false;
}

/* The SHA-256 of the canonical request (reference §1.9 step 1); false if a bound is exceeded. */
static bool
sigv4_canonical(struct sp_sigv4 *sv, const struct sp_sigv4_request *req,
		const struct sigv4_auth *a, struct sigv4_str path, const char *body_hex,
		uint8_t out[SIGV4_HASH_LEN])
{
	struct sigv4_hw w;

	SP_VERIFY(!sv->q_overflow && a->n_names > 0);
	sigv4_hw_init(&w, sv->trace);
	sigv4_hw_put(&w, req->method, req->method_len);
	sigv4_hw_put(&w, "\n", 1);
	if (!sigv4_hw_path(&w, path)) {
		return false;
	}
	sigv4_hw_put(&w, "\n", 1);
	sigv4_hw_query(&w, sv, a->query);
	sigv4_hw_put(&w, "\n", 1);
	sigv4_hw_headers(&w, req, a);
	sigv4_hw_put(&w, "\n", 1);
	sigv4_hw_putv(&w, a->signed_headers);
	sigv4_hw_put(&w, "\n", 1);
	sigv4_hw_put(&w, body_hex, SIGV4_HEX_LEN);
	sigv4_hw_final(&w, out);
	SP_ASSERT(sv->trace == NULL || sv->trace->creq_len > SIGV4_HEX_LEN);
	return true;
}

/* ---- The checks, in AWS's order (docs/internals/sigv4.md) ---- */

/* Split the request-target; an absolute-form target loses its scheme and authority. */
static void
sigv4_split_target(const struct sp_sigv4_request *req, struct sigv4_str *path,
		   struct sigv4_str *query)
{
	const char *p = req->target;
	size_t n = req->target_len;
	const char *qm;

	SP_VERIFY(p != NULL || n == 0);
	if ((n >= 7 && sigv4_ieq(p, 7, "http://", 7)) ||
	    (n >= 8 && sigv4_ieq(p, 8, "https://", 8))) {
		size_t skip = p[4] == ':' ? 7 : 8;

		p += skip;
		n -= skip;
		while (n > 0 && *p != '/' && *p != '?') {
			p++;
			n--;
		}
	}
	qm = n > 0 ? memchr(p, '?', n) : NULL;
	*path = (struct sigv4_str){ p, qm != NULL ? (size_t)(qm - p) : n };
	*query = (struct sigv4_str){ qm != NULL ? qm + 1 : p + n,
				     qm != NULL ? n - path->n - 1 : 0 };
	SP_ASSERT(path->n + query->n + (qm != NULL) == n);
}

/*
 * One space- or comma-separated piece of the Authorization header after the algorithm:
 * Credential=, Signature= or SignedHeaders= (the last occurrence wins; a bare name clears the
 * parameter; the value ends at a second '=', as AWS splits them).
 */
static void
sigv4_header_param(struct sigv4_auth *a, struct sigv4_str tok)
{
	const char *eq;
	struct sigv4_str key;
	struct sigv4_str *dst = NULL;

	tok = sigv4_trim(tok);
	eq = tok.n > 0 ? memchr(tok.p, '=', tok.n) : NULL;
	key = (struct sigv4_str){ tok.p, eq != NULL ? (size_t)(eq - tok.p) : tok.n };
	if (sigv4_str_eq(key, "Credential")) {
		dst = &a->credential;
	} else if (sigv4_str_eq(key, "Signature")) {
		dst = &a->signature;
	} else if (sigv4_str_eq(key, "SignedHeaders")) {
		dst = &a->signed_headers;
	} else {
		return;
	}
	SP_VERIFY(dst != NULL);
	if (eq == NULL) {
		*dst = (struct sigv4_str){ NULL, 0 };
		return;
	}
	dst->p = eq + 1;
	dst->n = tok.n - key.n - 1;
	eq = dst->n > 0 ? memchr(dst->p, '=', dst->n) : NULL;
	if (eq != NULL) {
		dst->n = (size_t)(eq - dst->p);
	}
	SP_ASSERT(dst->n < tok.n);
}

/* Header form: parse, then list every missing part (IncompleteSignatureException). */
static enum sp_kerr
sigv4_header_incomplete(const struct sp_sigv4_request *req, struct sigv4_auth *a,
			struct sigv4_msg *m)
{
	static const char *const what[3] = { "Credential", "Signature", "SignedHeaders" };
	struct sigv4_str *got[3] = { &a->credential, &a->signature, &a->signed_headers };
	const char *p = a->raw.p;
	const char *end = a->raw.p + a->raw.n;
	unsigned missing = 0;
	unsigned i;

	SP_VERIFY(a->raw.n > 0 && m->len == 0);
	for (;;) {
		const char *q = p;

		while (q < end && *q != ',' && *q != ' ') {
			q++;
		}
		if (p == a->raw.p) {
			a->algorithm = (struct sigv4_str){ p, (size_t)(q - p) };
		} else if (q > p) {
			sigv4_header_param(a, (struct sigv4_str){ p, (size_t)(q - p) });
		}
		if (q == end) {
			break;
		}
		p = q + 1;
	}
	for (i = 0; i < 3; i++) {
		if (got[i]->n == 0) {
			missing++;
			sigv4_puts(m, "Authorization header requires '");
			sigv4_puts(m, what[i]);
			sigv4_puts(m, "' parameter. ");
		}
	}
	a->x_amz_date = sigv4_header(req, "x-amz-date", &a->date) && a->date.n > 0;
	if (!a->x_amz_date && !(sigv4_header(req, "date", &a->date) && a->date.n > 0)) {
		missing++;
		sigv4_puts(m, "Authorization header requires existence of either a 'X-Amz-Date' or "
			      "a 'Date' header. ");
	}
	a->has_token = sigv4_header(req, "x-amz-security-token", &a->token) && a->token.n > 0;
	/* Decided on the count, not on the text: the caller's buffer may hold none of it. */
	if (missing == 0) {
		return SP_KERR_NONE;
	}
	sigv4_puts(m, "Authorization=");
	sigv4_putv(m, a->raw);
	return SP_KERR_INCOMPLETE_SIGNATURE;
}

/* Query form (presigned): every X-Amz-* parameter must be there and non-empty. */
static enum sp_kerr
sigv4_query_incomplete(const struct sp_sigv4 *sv, const struct sp_sigv4_request *req,
		       struct sigv4_auth *a, struct sigv4_msg *m)
{
	static const char *const what[5] = { "X-Amz-Algorithm", "X-Amz-Credential",
					     "X-Amz-Signature", "X-Amz-SignedHeaders",
					     "X-Amz-Date" };
	struct sigv4_str *got[5] = { &a->algorithm, &a->credential, &a->signature,
				     &a->signed_headers, &a->date };
	const struct sigv4_qparam *qp;
	unsigned missing = 0;
	unsigned i;

	SP_VERIFY(a->query && m->len == 0);
	for (i = 0; i < 5; i++) {
		qp = sigv4_query_find(sv, what[i]);
		if (qp != NULL && qp->val.n > 0) {
			*got[i] = qp->val;
			continue;
		}
		missing++;
		sigv4_puts(m, "AWS query-string parameters must include '");
		sigv4_puts(m, what[i]);
		sigv4_puts(m, "'. ");
	}
	if (missing > 0) {
		sigv4_puts(m, "Re-examine the query-string parameters.");
		return SP_KERR_INCOMPLETE_SIGNATURE;
	}
	qp = sigv4_query_find(sv, "X-Amz-Expires");
	a->expires = qp != NULL ? qp->val : (struct sigv4_str){ NULL, 0 };
	qp = sigv4_query_find(sv, "X-Amz-Security-Token");
	if (qp != NULL && qp->val.n > 0) {
		a->token = qp->val;
	} else {
		(void)sigv4_header(req, "x-amz-security-token", &a->token);
	}
	a->has_token = a->token.n > 0;
	SP_ASSERT(a->date.n > 0 && a->credential.n > 0);
	return SP_KERR_NONE;
}

/* Header or query form; or the refusal when neither or both carry authentication. */
static enum sp_kerr
sigv4_select(struct sp_sigv4 *sv, const struct sp_sigv4_request *req, struct sigv4_auth *a,
	     struct sigv4_str *path, struct sigv4_msg *m)
{
	struct sigv4_str query;
	bool has_header;

	SP_VERIFY(m->len == 0);
	sigv4_split_target(req, path, &query);
	sigv4_query_parse(sv, query);
	has_header = sigv4_header(req, "authorization", &a->raw) && a->raw.n > 0;
	a->query = sigv4_query_find(sv, "X-Amz-Algorithm") != NULL;
	if (has_header && a->query) {
		sigv4_puts(m, SIGV4_MSG_BOTH);
		return SP_KERR_INVALID_SIGNATURE;
	}
	if (!has_header && !a->query) {
		sigv4_puts(m, SIGV4_MSG_MISSING);
		return SP_KERR_MISSING_AUTH_TOKEN;
	}
	SP_ASSERT(has_header != a->query);
	if (a->query) {
		return sigv4_query_incomplete(sv, req, a, m);
	}
	return sigv4_header_incomplete(req, a, m);
}

/* X-Amz-Expires of a presigned request: seconds 0..604800, or -1 when absent or malformed. */
static int64_t
sigv4_expires(struct sigv4_str e)
{
	size_t i;

	if (e.n == 0 || e.n > 6) {
		return -1;
	}
	for (i = 0; i < e.n; i++) {
		if (e.p[i] < '0' || e.p[i] > '9') {
			return -1;
		}
	}
	SP_ASSERT(i == e.n);
	return sigv4_dec(e.p, e.n) <= SIGV4_PRESIGN_MAX_S ? (int64_t)sigv4_dec(e.p, e.n) : -1;
}

static void
sigv4_put_stamp(struct sigv4_msg *m, int64_t t)
{
	char s[SIGV4_STAMP_LEN + 1];

	sigv4_fmt_stamp(t, s);
	sigv4_put(m, s, SIGV4_STAMP_LEN);
}

/* Clock skew: the request time within SP_K_SIGV4_SKEW_MS of now, compared in whole seconds. */
static enum sp_kerr
sigv4_check_time(const struct sigv4_auth *a, uint64_t now_ms, struct sigv4_msg *m)
{
	int64_t now = (int64_t)(now_ms / 1000u);
	int64_t exp = a->query ? sigv4_expires(a->expires) : -1;
	bool late = a->t < now - SIGV4_SKEW_S;

	SP_VERIFY(now_ms <= SIGV4_NOW_MAX_MS);
	if (late || a->t > now + SIGV4_SKEW_S) {
		sigv4_puts(m, late ? "Signature expired: " : "Signature not yet current: ");
		sigv4_putv(m, a->date);
		sigv4_puts(m, late ? " is now earlier than " : " is still later than ");
		sigv4_put_stamp(m, late ? now - SIGV4_SKEW_S : now + SIGV4_SKEW_S);
		sigv4_puts(m, " (");
		sigv4_put_stamp(m, now);
		sigv4_puts(m, late ? " - " : " + ");
		sigv4_put_uint(m, SP_K_SIGV4_SKEW_MS / 60000u);
		sigv4_puts(m, " min.)");
		return SP_KERR_INVALID_SIGNATURE;
	}
	if (exp >= 0 && now > a->t + exp) {
		/* A presigned URL past its own X-Amz-Expires (the text is ours, by analogy). */
		sigv4_puts(m, "Signature expired: ");
		sigv4_putv(m, a->date);
		sigv4_puts(m, " is now earlier than ");
		sigv4_put_stamp(m, now - exp);
		sigv4_puts(m, " (");
		sigv4_put_stamp(m, now);
		sigv4_puts(m, " - ");
		sigv4_put_uint(m, (uint64_t)exp);
		sigv4_puts(m, " sec.)");
		return SP_KERR_INVALID_SIGNATURE;
	}
	SP_ASSERT(m->len == 0);
	return SP_KERR_NONE;
}

/* SignedHeaders must name the host (and X-Amz-Date when that header dates the request). */
static enum sp_kerr
sigv4_check_signed(const struct sigv4_auth *a, struct sigv4_msg *m)
{
	SP_VERIFY(a->signed_headers.n > 0 && m->len == 0);
	if (!sigv4_signed_has(a->signed_headers, "host") &&
	    !sigv4_signed_has(a->signed_headers, ":authority")) {
		sigv4_puts(m, SIGV4_MSG_HOST);
		return SP_KERR_INVALID_SIGNATURE;
	}
	if (!a->query && a->x_amz_date && !sigv4_signed_has(a->signed_headers, "x-amz-date")) {
		sigv4_puts(m, SIGV4_MSG_XDATE);
		return SP_KERR_INVALID_SIGNATURE;
	}
	SP_ASSERT(m->len == 0);
	return SP_KERR_NONE;
}

/* Credential = keyid/date/region/service/terminator (trailing slashes ignored, as AWS does). */
static enum sp_kerr
sigv4_split_credential(struct sigv4_auth *a, struct sigv4_msg *m)
{
	struct sigv4_str c = a->credential;
	unsigned k = 0;
	size_t start = 0;
	size_t i;

	SP_VERIFY(c.n > 0 && m->len == 0);
	while (c.n > 0 && c.p[c.n - 1] == '/') {
		c.n--;
	}
	for (i = 0; c.n > 0 && i <= c.n && k <= 5; i++) {
		if (i == c.n || c.p[i] == '/') {
			if (k < 5) {
				a->part[k] = (struct sigv4_str){ c.p + start, i - start };
			}
			k++;
			start = i + 1;
		}
	}
	if (k != 5) {
		sigv4_puts(m, "Credential must have exactly 5 slash-delimited elements, e.g. "
			      "keyid/date/region/service/term, got '");
		sigv4_putv(m, a->credential);
		sigv4_puts(m, "'");
		return SP_KERR_INCOMPLETE_SIGNATURE;
	}
	SP_ASSERT(a->part[SIGV4_P_TERM].p + a->part[SIGV4_P_TERM].n == c.p + c.n);
	return SP_KERR_NONE;
}

/* A region we can sign for and put in ARNs: 1..SP_SIGV4_REGION_MAX of [a-z0-9-]. */
static bool
sigv4_region_ok(struct sigv4_str r)
{
	size_t i;

	if (r.n == 0 || r.n > SP_SIGV4_REGION_MAX) {
		return false;
	}
	for (i = 0; i < r.n; i++) {
		char c = r.p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
			return false;
		}
	}
	SP_ASSERT(i == r.n);
	return true;
}

/* The scope's region, service, terminator and date; every failure listed, in AWS's order. */
static enum sp_kerr
sigv4_check_scope(const struct sp_sigv4 *sv, const struct sigv4_auth *a, struct sigv4_msg *m)
{
	struct sigv4_str region = a->part[SIGV4_P_REGION];
	struct sigv4_str day = { a->date.p, SIGV4_DATE_LEN };
	bool bad = false;

	SP_VERIFY(a->date.n == SIGV4_STAMP_LEN && m->len == 0);
	if (!sigv4_region_ok(region) ||
	    (sv->region_len > 0 && !sigv4_str_eq(region, sv->region))) {
		bad = true;
		sigv4_puts(m, "Credential should be scoped to a valid region, not '");
		sigv4_putv(m, region);
		sigv4_puts(m, "'. ");
	}
	if (!sigv4_str_eq(a->part[SIGV4_P_SERVICE], SP_SIGV4_SERVICE)) {
		bad = true;
		sigv4_puts(m, "Credential should be scoped to correct service: '" SP_SIGV4_SERVICE
			      "'. ");
	}
	if (!sigv4_str_eq(a->part[SIGV4_P_TERM], SIGV4_TERMINATOR)) {
		bad = true;
		sigv4_puts(m, "Credential should be scoped with a valid terminator: '"
			      SIGV4_TERMINATOR "', not '");
		sigv4_putv(m, a->part[SIGV4_P_TERM]);
		sigv4_puts(m, "'. ");
	}
	if (sigv4_cmp(a->part[SIGV4_P_DATE], day) != 0) {
		bad = true;
		sigv4_puts(m, "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
			      "version of date from HTTP: '");
		sigv4_putv(m, a->part[SIGV4_P_DATE]);
		sigv4_puts(m, "' != '");
		sigv4_putv(m, day);
		sigv4_puts(m, "', from '");
		sigv4_putv(m, a->date);
		sigv4_puts(m, "'.");
	}
	return bad ? SP_KERR_INVALID_SIGNATURE : SP_KERR_NONE;
}

/* After completeness: date format, skew, signed host, algorithm, credential, scope. */
static enum sp_kerr
sigv4_precheck(const struct sp_sigv4 *sv, const struct sp_sigv4_request *req,
	       struct sigv4_auth *a, struct sigv4_msg *m)
{
	enum sp_kerr e;

	SP_VERIFY(a->date.n > 0 && a->signed_headers.n > 0);
	if (!sigv4_parse_stamp(a->date, &a->t)) {
		sigv4_puts(m, "Date must be in ISO-8601 'basic format'. Got '");
		sigv4_putv(m, a->date);
		sigv4_puts(m, "'. See http://en.wikipedia.org/wiki/ISO_8601");
		return SP_KERR_INCOMPLETE_SIGNATURE;
	}
	e = sigv4_check_time(a, req->now_ms, m);
	if (e == SP_KERR_NONE) {
		e = sigv4_check_signed(a, m);
	}
	if (e == SP_KERR_NONE && !sigv4_str_eq(a->algorithm, SIGV4_ALGORITHM)) {
		if (a->query) {
			sigv4_puts(m, SIGV4_MSG_MISSING);
			return SP_KERR_MISSING_AUTH_TOKEN;
		}
		sigv4_puts(m, "Unsupported AWS 'algorithm': '");
		sigv4_putv(m, a->algorithm);
		sigv4_puts(m, "' (only " SIGV4_ALGORITHM " for now). ");
		return SP_KERR_INCOMPLETE_SIGNATURE;
	}
	if (e == SP_KERR_NONE) {
		e = sigv4_split_credential(a, m);
	}
	if (e == SP_KERR_NONE) {
		e = sigv4_check_scope(sv, a, m);
	}
	SP_ASSERT(e != SP_KERR_NONE || m->len == 0);
	return e;
}

/* ---- Signing-key cache ---- */

static uint32_t
sigv4_scope_date(const struct sigv4_auth *a)
{
	SP_VERIFY(a->part[SIGV4_P_DATE].n == SIGV4_DATE_LEN);
	return sigv4_dec(a->part[SIGV4_P_DATE].p, SIGV4_DATE_LEN);
}

static struct sigv4_slot *
sigv4_cache_set(struct sp_sigv4 *sv, unsigned key_index, uint32_t date, struct sigv4_str region)
{
	uint32_t h = (2166136261u ^ key_index) * 16777619u;
	size_t i;

	SP_VERIFY(region.n <= SP_SIGV4_REGION_MAX);
	h = (h ^ date) * 16777619u;
	for (i = 0; i < region.n; i++) {
		h = (h ^ (uint8_t)region.p[i]) * 16777619u;
	}
	h ^= h >> 16;
	SP_ASSERT((h & (SP_SIGV4_CACHE_SETS - 1)) < SP_SIGV4_CACHE_SETS);
	return sv->cache[h & (SP_SIGV4_CACHE_SETS - 1)];
}

static struct sigv4_slot *
sigv4_cache_find(struct sp_sigv4 *sv, unsigned key_index, uint32_t date, struct sigv4_str region)
{
	struct sigv4_slot *set = sigv4_cache_set(sv, key_index, date, region);
	unsigned w;

	SP_VERIFY(key_index != SIGV4_CACHE_EMPTY);
	for (w = 0; w < SP_SIGV4_CACHE_WAYS; w++) {
		struct sigv4_slot *s = &set[w];

		if (s->key_index == key_index && s->date == date && s->region_len == region.n &&
		    memcmp(s->region, region.p, region.n) == 0) {
			s->used = ++sv->clock;
			return s;
		}
	}
	SP_ASSERT(w == SP_SIGV4_CACHE_WAYS);
	return NULL;
}

/* Insert into the least recently used way (a wrap of the clock only misorders one choice). */
static void
sigv4_cache_put(struct sp_sigv4 *sv, unsigned key_index, uint32_t date, struct sigv4_str region,
		const struct sigv4_hmac *mac)
{
	struct sigv4_slot *set = sigv4_cache_set(sv, key_index, date, region);
	struct sigv4_slot *victim = &set[0];
	unsigned w;

	for (w = 0; w < SP_SIGV4_CACHE_WAYS && victim->key_index != SIGV4_CACHE_EMPTY; w++) {
		if (set[w].key_index == SIGV4_CACHE_EMPTY || set[w].used < victim->used) {
			victim = &set[w];
		}
	}
	sv->stats.cache_evictions += victim->key_index != SIGV4_CACHE_EMPTY;
	victim->mac = *mac;
	victim->key_index = key_index;
	victim->date = date;
	victim->used = ++sv->clock;
	victim->region_len = (uint8_t)region.n;
	memcpy(victim->region, region.p, region.n);
	SP_VERIFY(victim->region_len == region.n && victim->key_index == key_index);
}

static void
sigv4_cache_flush(struct sp_sigv4 *sv)
{
	unsigned s;
	unsigned w;

	OPENSSL_cleanse(sv->cache, sizeof(sv->cache));
	for (s = 0; s < SP_SIGV4_CACHE_SETS; s++) {
		for (w = 0; w < SP_SIGV4_CACHE_WAYS; w++) {
			sv->cache[s][w].key_index = SIGV4_CACHE_EMPTY;
		}
	}
	SP_VERIFY(s == SP_SIGV4_CACHE_SETS);
	sv->clock = 0;
}

/* ---- Signature ---- */

/* String-to-sign (reference §1.9 step 2) into out[SIGV4_STS_MAX]; returns its length. */
static size_t
sigv4_string_to_sign(const struct sigv4_auth *a, const uint8_t creq[SIGV4_HASH_LEN], char *out)
{
	struct sigv4_msg m = { out, SIGV4_STS_MAX, 0 };
	char hex[SIGV4_HEX_LEN];
	unsigned i;

	SP_VERIFY(a->part[SIGV4_P_REGION].n <= SP_SIGV4_REGION_MAX);
	sigv4_puts(&m, SIGV4_ALGORITHM "\n");
	sigv4_putv(&m, a->date);
	sigv4_puts(&m, "\n");
	for (i = SIGV4_P_DATE; i <= SIGV4_P_TERM; i++) {
		sigv4_putv(&m, a->part[i]);
		sigv4_puts(&m, i < SIGV4_P_TERM ? "/" : "\n");
	}
	sigv4_hex(creq, SIGV4_HASH_LEN, hex);
	sigv4_put(&m, hex, sizeof(hex));
	SP_VERIFY(m.len < SIGV4_STS_MAX - 1); /* never cut: every part is bounded */
	return m.len;
}

static void
sigv4_trace_sts(struct sp_sigv4_trace *tr, const char *sts, size_t n)
{
	if (tr == NULL) {
		return;
	}
	tr->sts_len = n;
	if (tr->sts != NULL && tr->sts_cap > 0) {
		size_t k = SP_MIN(n, tr->sts_cap - 1);

		memcpy(tr->sts, sts, k);
		tr->sts[k] = '\0';
		SP_ASSERT(k < tr->sts_cap);
	}
}

/* HMAC the string-to-sign with the (cached or freshly derived) signing key; compare. */
static bool
sigv4_sign_compare(struct sp_sigv4 *sv, const struct sigv4_auth *a, unsigned key_index,
		   const char *sts, size_t sts_len)
{
	struct sigv4_str region = a->part[SIGV4_P_REGION];
	uint32_t date = sigv4_scope_date(a);
	struct sigv4_slot *slot = sigv4_cache_find(sv, key_index, date, region);
	struct sigv4_hmac fresh;
	uint8_t sig[SIGV4_HASH_LEN];
	char hex[SIGV4_HEX_LEN];
	bool ok;

	SP_VERIFY(key_index < sp_sigv4_keys_count(sv->keys));
	if (slot != NULL) {
		sv->stats.cache_hits++;
		sigv4_hmac_run(&slot->mac, sts, sts_len, sig);
	} else {
		sv->stats.cache_misses++;
		sigv4_derive(sp_sigv4_keys_get(sv->keys, key_index), a, &fresh);
		sigv4_hmac_run(&fresh, sts, sts_len, sig);
	}
	sigv4_hex(sig, sizeof(sig), hex);
	ok = a->signature.n == SIGV4_HEX_LEN &&
	     CRYPTO_memcmp(hex, a->signature.p, SIGV4_HEX_LEN) == 0;
	if (slot == NULL) {
		if (ok) {
			sigv4_cache_put(sv, key_index, date, region, &fresh);
		}
		OPENSSL_cleanse(&fresh, sizeof(fresh));
	}
	SP_ASSERT(!ok || sigv4_cache_find(sv, key_index, date, region) != NULL);
	return ok;
}

/* Canonical request, string-to-sign, signature (reference §1.9 steps 1-3). */
static enum sp_kerr
sigv4_check_signature(struct sp_sigv4 *sv, const struct sp_sigv4_request *req,
		      struct sigv4_auth *a, struct sigv4_str path, unsigned key_index,
		      struct sigv4_msg *m)
{
	uint8_t body[SIGV4_HASH_LEN];
	uint8_t creq[SIGV4_HASH_LEN];
	char body_hex[SIGV4_HEX_LEN];
	char sts[SIGV4_STS_MAX];
	struct sigv4_str v;
	size_t sts_len;

	SP_VERIFY(req->body != NULL || req->body_len == 0);
	if (sv->q_overflow || !sigv4_split_names(a)) {
		goto mismatch;
	}
	if (req->body_sha256 != NULL) {
		memcpy(body, req->body_sha256, sizeof(body));
	} else {
		sigv4_sha256(req->body, req->body_len, body);
	}
	sigv4_hex(body, sizeof(body), body_hex);
	/* A payload hash the client declared is what it signed: it must be this body's. */
	if (sigv4_header(req, "x-amz-content-sha256", &v) &&
	    (v.n != SIGV4_HEX_LEN || memcmp(v.p, body_hex, SIGV4_HEX_LEN) != 0)) {
		goto mismatch;
	}
	if (!sigv4_canonical(sv, req, a, path, body_hex, creq)) {
		goto mismatch;
	}
	sts_len = sigv4_string_to_sign(a, creq, sts);
	sigv4_trace_sts(sv->trace, sts, sts_len);
	if (sigv4_sign_compare(sv, a, key_index, sts, sts_len)) {
		return SP_KERR_NONE;
	}
mismatch:
	sigv4_puts(m, SIGV4_MSG_MISMATCH);
	SP_ASSERT(m->len > 0 || m->cap == 1);
	return SP_KERR_INVALID_SIGNATURE;
}

/* The session token the request carries must be the key's, or absent for a key without one. */
static enum sp_kerr
sigv4_check_token(const struct sp_sigv4_key *k, const struct sigv4_auth *a, struct sigv4_msg *m)
{
	bool ok;

	SP_VERIFY(k != NULL && m->len == 0);
	if (k->token == NULL) {
		ok = !a->has_token;
	} else {
		ok = a->has_token && a->token.n == k->token_len &&
		     CRYPTO_memcmp(a->token.p, k->token, k->token_len) == 0;
	}
	if (ok) {
		return SP_KERR_NONE;
	}
	sigv4_puts(m, SIGV4_MSG_TOKEN);
	SP_ASSERT(!ok);
	return SP_KERR_UNRECOGNIZED_CLIENT;
}

static void
sigv4_result(const struct sp_sigv4 *sv, const struct sigv4_auth *a, unsigned key_index,
	     struct sp_sigv4_result *res)
{
	const struct sp_sigv4_key *k = sp_sigv4_keys_get(sv->keys, key_index);
	struct sigv4_str region = a->part[SIGV4_P_REGION];

	SP_VERIFY(region.n >= 1 && region.n <= SP_SIGV4_REGION_MAX);
	res->key_index = key_index;
	res->access_key = k->access_key;
	res->account = k->account;
	res->profile = k->profile;
	memcpy(res->region, region.p, region.n);
	res->region[region.n] = '\0';
	res->region_len = region.n;
	res->request_time_s = a->t;
	SP_ASSERT(strlen(res->account) == SP_SIGV4_ACCOUNT_LEN);
}

enum sp_kerr
sp_sigv4_verify(struct sp_sigv4 *sv, const struct sp_sigv4_request *req,
		struct sp_sigv4_result *res, char *msg, size_t msg_cap)
{
	struct sigv4_msg m = { msg, msg_cap, 0 };
	struct sigv4_auth a;
	struct sigv4_str path;
	enum sp_kerr e;
	int idx = -1;

	SP_VERIFY(sv != NULL && sv->keys != NULL && req != NULL && res != NULL);
	SP_VERIFY(msg != NULL && msg_cap > 0 && (req->headers != NULL || req->n_headers == 0));
	SP_VERIFY(req->method != NULL || req->method_len == 0);
	msg[0] = '\0';
	memset(&a, 0, sizeof(a));
	e = sigv4_select(sv, req, &a, &path, &m);
	if (e == SP_KERR_NONE) {
		e = sigv4_precheck(sv, req, &a, &m);
	}
	if (e == SP_KERR_NONE) {
		idx = sp_sigv4_keys_find(sv->keys, a.part[SIGV4_P_KEY].p, a.part[SIGV4_P_KEY].n);
		if (idx < 0) {
			sigv4_puts(&m, SIGV4_MSG_TOKEN);
			e = SP_KERR_UNRECOGNIZED_CLIENT;
		}
	}
	if (e == SP_KERR_NONE) {
		e = sigv4_check_signature(sv, req, &a, path, (unsigned)idx, &m);
	}
	if (e == SP_KERR_NONE) {
		e = sigv4_check_token(sp_sigv4_keys_get(sv->keys, (unsigned)idx), &a, &m);
	}
	if (e == SP_KERR_NONE) {
		sigv4_result(sv, &a, (unsigned)idx, res);
	}
	SP_VERIFY((unsigned)e < SP_KERR_COUNT);
	sv->stats.verdicts[e]++;
	SP_ASSERT(e != SP_KERR_NONE || m.len == 0);
	return e;
}

/* ---- Life cycle (init time, on the lcore that will own the verifier) ---- */

size_t
sp_sigv4_footprint(void)
{
	return sizeof(struct sp_sigv4);
}

int
sp_sigv4_init(struct sp_sigv4 *sv, const struct sp_sigv4_config *cfg)
{
	size_t rl;

	if (sv == NULL || cfg == NULL || cfg->keys == NULL) {
		return -EINVAL;
	}
	rl = cfg->region != NULL ? strlen(cfg->region) : 0;
	if (rl > 0 && !sigv4_region_ok((struct sigv4_str){ cfg->region, rl })) {
		return -EINVAL;
	}
	SP_VERIFY(rl <= SP_SIGV4_REGION_MAX);
	memset(sv, 0, sizeof(*sv));
	sv->keys = cfg->keys;
	memcpy(sv->region, cfg->region != NULL ? cfg->region : "", rl);
	sv->region[rl] = '\0';
	sv->region_len = rl;
	sigv4_cache_flush(sv);
	SP_ASSERT(sv->cache[0][0].key_index == SIGV4_CACHE_EMPTY);
	return 0;
}

int
sp_sigv4_create(const struct sp_sigv4_config *cfg, struct sp_sigv4 **out)
{
	size_t size = (sizeof(struct sp_sigv4) + SP_CACHE_LINE - 1) & ~(size_t)(SP_CACHE_LINE - 1);
	struct sp_sigv4 *sv;
	int rc;

	if (out == NULL) {
		return -EINVAL;
	}
	*out = NULL;
	SP_VERIFY(size >= sizeof(struct sp_sigv4) && size % SP_CACHE_LINE == 0);
	sv = aligned_alloc(SP_CACHE_LINE, size);
	if (sv == NULL) {
		return -ENOMEM;
	}
	rc = sp_sigv4_init(sv, cfg);
	if (rc != 0) {
		free(sv);
		return rc;
	}
	*out = sv;
	return 0;
}

void
sp_sigv4_fini(struct sp_sigv4 *sv)
{
	if (sv == NULL) {
		return;
	}
	sigv4_cache_flush(sv);
	sv->keys = NULL;
}

void
sp_sigv4_destroy(struct sp_sigv4 *sv)
{
	sp_sigv4_fini(sv);
	free(sv);
}

void
sp_sigv4_set_keys(struct sp_sigv4 *sv, const struct sp_sigv4_keys *keys)
{
	SP_VERIFY(sv != NULL && keys != NULL);
	sigv4_cache_flush(sv);
	sv->keys = keys;
	SP_ASSERT(sv->clock == 0);
}

void
sp_sigv4_set_trace(struct sp_sigv4 *sv, struct sp_sigv4_trace *trace)
{
	SP_VERIFY(sv != NULL);
	sv->trace = trace;
}

void
sp_sigv4_stats(const struct sp_sigv4 *sv, struct sp_sigv4_stats *out)
{
	SP_VERIFY(sv != NULL && out != NULL);
	*out = sv->stats;
}
