/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/shard/shard_iter.c: round trips over the field ranges, every
 * single-bit flip and every truncation refused, other keys and padding refused, authentic
 * tokens with out-of-range fields refused (MACs made here with OpenSSL's HMAC), the expiry
 * boundary, the ExpiredIteratorException text of reference §2.5, Java dates against
 * strftime, and no allocation by encode or decode (OpenSSL's allocator hooks count).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "../../sp_test.h"

#include "shard_iter.h"

/* The token layout and MAC domain, restated so that tests can forge authentic tokens. */
#define T_DOMAIN "spate shard iterator"
#define T_FIXED  36u

static uint64_t g_rng = 0x853c49e6748fea9bull;
static long g_allocs;

static uint64_t
rng_next(void)
{
	g_rng ^= g_rng << 13;
	g_rng ^= g_rng >> 7;
	g_rng ^= g_rng << 17;
	return g_rng;
}

static void *
t_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	g_allocs++;
	return malloc(n);
}

static void *
t_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	g_allocs++;
	return realloc(p, n);
}

static void
t_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

static const uint8_t g_key[SP_SHARD_ITER_KEY_BYTES] = {
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
    0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0,
};

static struct sp_shard_iter_mac *
t_mac(void)
{
	struct sp_shard_iter_mac *m = NULL;

	assert_int_equal(sp_shard_iter_mac_create(g_key, &m), 0);
	assert_non_null(m);
	return m;
}

static void
t_iter(struct sp_shard_iter *it, const char *name, enum sp_shard_iter_kind kind, sp_u128 seq)
{
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	it->name_len = (uint8_t)strlen(name);
	memcpy(it->name, name, it->name_len);
	it->stream_tag = 0x12345;
	it->shard_index = 7;
	it->seq = seq;
	it->issued_ms = 1421889722000ull;
}

static void
t_same(const struct sp_shard_iter *a, const struct sp_shard_iter *b)
{
	assert_true(a->seq == b->seq);
	assert_true(a->issued_ms == b->issued_ms);
	assert_int_equal(a->stream_tag, b->stream_tag);
	assert_int_equal(a->shard_index, b->shard_index);
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->name_len, b->name_len);
	assert_memory_equal(a->name, b->name, a->name_len);
	assert_int_equal(b->name[b->name_len], '\0');
}

static void
test_round_trip(void **state)
{
	struct sp_shard_iter_mac *m = t_mac();
	char name[SP_K_STREAM_NAME_MAX_CHARS + 1];
	static const char alphabet[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";

	(void)state;
	for (unsigned i = 0; i < 2000; i++) {
		struct sp_shard_iter it;
		struct sp_shard_iter got;
		char tok[SP_SHARD_ITER_MAX_CHARS + 1];
		char tok2[SP_SHARD_ITER_MAX_CHARS + 1];
		unsigned len = 1 + i % SP_K_STREAM_NAME_MAX_CHARS;
		int n;

		for (unsigned j = 0; j < len; j++) {
			name[j] = alphabet[rng_next() % (sizeof(alphabet) - 1)];
		}
		name[len] = '\0';
		t_iter(&it, name, i % 2 ? SP_SHARD_ITER_AT : SP_SHARD_ITER_AFTER,
		       (sp_u128)rng_next() << 64 | rng_next());
		it.seq = i == 0 ? 0 : i == 1 ? ~(sp_u128)0 : it.seq;
		it.stream_tag =
		    i == 2 ? SP_SEQNO_TAG_MAX : (uint32_t)(rng_next() & SP_SEQNO_TAG_MAX);
		it.shard_index = i == 3 ? UINT32_MAX : (uint32_t)rng_next();
		it.issued_ms = rng_next() >> 20;
		n = sp_shard_iter_encode(m, &it, tok, sizeof(tok));
		assert_true(n >= (int)SP_SHARD_ITER_MIN_CHARS && n <= (int)SP_SHARD_ITER_MAX_CHARS);
		assert_int_equal(strlen(tok), (size_t)n);
		assert_int_equal(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					     "0123456789-_"),
				 (size_t)n);
		assert_int_equal(sp_shard_iter_decode(m, tok, (size_t)n, it.issued_ms, &got), 0);
		t_same(&it, &got);
		/* deterministic: the same fields give the same token */
		assert_int_equal(sp_shard_iter_encode(m, &got, tok2, sizeof(tok2)), n);
		assert_string_equal(tok, tok2);
	}
	assert_true(SP_SHARD_ITER_MAX_CHARS <= 512);
	sp_shard_iter_mac_destroy(m);
}

static int
t_encode(struct sp_shard_iter_mac *m, const char *name, char *tok, size_t cap)
{
	struct sp_shard_iter it;

	t_iter(&it, name, SP_SHARD_ITER_AT, (sp_u128)0x1234 << 80 | 99);
	return sp_shard_iter_encode(m, &it, tok, cap);
}

static void
test_bit_flips_and_truncations(void **state)
{
	struct sp_shard_iter_mac *m = t_mac();
	struct sp_shard_iter got;
	static const char *const names[] = {"a", "ab", "abc", "my-stream.v2_x"};

	(void)state;
	for (unsigned k = 0; k < SP_ARRAY_SIZE(names); k++) {
		char tok[SP_SHARD_ITER_MAX_CHARS + 8];
		int n = t_encode(m, names[k], tok, sizeof(tok));
		unsigned flips = 0;

		assert_true(n > 0);
		assert_int_equal(sp_shard_iter_decode(m, tok, (size_t)n, 0, &got), 0);
		for (int i = 0; i < n; i++) {
			for (unsigned b = 0; b < 8; b++) {
				tok[i] ^= (char)(1u << b);
				assert_int_equal(sp_shard_iter_decode(m, tok, (size_t)n, 0, &got),
						 -EINVAL);
				tok[i] ^= (char)(1u << b);
				flips++;
			}
		}
		assert_int_equal(flips, 8u * (unsigned)n);
		for (int len = 0; len < n; len++) {
			assert_int_equal(sp_shard_iter_decode(m, tok, (size_t)len, 0, &got),
					 -EINVAL);
			/* and the tail alone */
			assert_int_equal(
			    sp_shard_iter_decode(m, tok + len + 1, (size_t)(n - len - 1), 0, &got),
			    -EINVAL);
		}
		/* extended, padded */
		memcpy(tok + n, "AAAA", 5);
		for (int extra = 1; extra <= 4; extra++) {
			assert_int_equal(sp_shard_iter_decode(m, tok, (size_t)(n + extra), 0, &got),
					 -EINVAL);
		}
		memcpy(tok + n, "==", 3);
		assert_int_equal(sp_shard_iter_decode(m, tok, (size_t)n + 2, 0, &got), -EINVAL);
	}
	assert_int_equal(sp_shard_iter_decode(m, "", 0, 0, &got), -EINVAL);
	sp_shard_iter_mac_destroy(m);
}

static void
test_other_key(void **state)
{
	struct sp_shard_iter_mac *a = t_mac();
	struct sp_shard_iter_mac *b = NULL;
	uint8_t key2[SP_SHARD_ITER_KEY_BYTES];
	char tok[SP_SHARD_ITER_MAX_CHARS + 1];
	struct sp_shard_iter got;
	int n;

	(void)state;
	memcpy(key2, g_key, sizeof(key2));
	key2[31] ^= 1;
	assert_int_equal(sp_shard_iter_mac_create(key2, &b), 0);
	n = t_encode(a, "stream", tok, sizeof(tok));
	assert_true(n > 0);
	assert_int_equal(sp_shard_iter_decode(b, tok, (size_t)n, 0, &got), -EINVAL);
	assert_int_equal(sp_shard_iter_decode(a, tok, (size_t)n, 0, &got), 0);
	sp_shard_iter_mac_destroy(a);
	sp_shard_iter_mac_destroy(b);
}

/* base64url of raw bytes + a valid MAC over them, as encode would make it. */
static size_t
t_forge(const uint8_t *raw, size_t n, char *out)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t buf[512];
	uint8_t msg[600];
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	size_t o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	memcpy(msg, T_DOMAIN, strlen(T_DOMAIN));
	memcpy(msg + strlen(T_DOMAIN), raw, n);
	assert_non_null(
	    HMAC(EVP_sha256(), g_key, sizeof(g_key), msg, strlen(T_DOMAIN) + n, mac, &mac_len));
	memcpy(buf, raw, n);
	memcpy(buf + n, mac, SP_SHARD_ITER_MAC_BYTES);
	for (size_t i = 0; i < n + SP_SHARD_ITER_MAC_BYTES; i++) {
		acc = acc << 8 | buf[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = b64[(acc >> bits) & 63];
		}
	}
	if (bits > 0) {
		out[o++] = b64[(acc << (6 - bits)) & 63];
	}
	out[o] = '\0';
	return o;
}

static void
t_raw(uint8_t *raw, const char *name)
{
	size_t len = strlen(name);

	memset(raw, 0, T_FIXED);
	raw[0] = SP_SHARD_ITER_VERSION;
	raw[1] = SP_SHARD_ITER_AT;
	raw[2] = (uint8_t)len;
	raw[7] = 5; /* stream tag 5 */
	memcpy(raw + T_FIXED, name, len);
}

static void
test_authentic_but_invalid(void **state)
{
	struct sp_shard_iter_mac *m = t_mac();
	struct sp_shard_iter got;
	uint8_t raw[T_FIXED + 200];
	char tok[600];
	size_t n;

	(void)state;
	/* the forger reproduces encode exactly */
	t_raw(raw, "stream");
	n = t_forge(raw, T_FIXED + 6, tok);
	assert_int_equal(sp_shard_iter_decode(m, tok, n, 0, &got), 0);
	assert_string_equal(got.name, "stream");
	assert_int_equal(got.stream_tag, 5);
	/* then each field out of range, MAC valid */
	raw[0] = 2;
	assert_int_equal(sp_shard_iter_decode(m, tok, t_forge(raw, T_FIXED + 6, tok), 0, &got),
			 -EINVAL);
	t_raw(raw, "stream");
	raw[1] = 4;
	assert_int_equal(sp_shard_iter_decode(m, tok, t_forge(raw, T_FIXED + 6, tok), 0, &got),
			 -EINVAL);
	t_raw(raw, "stream");
	raw[1] = 3; /* a time iterator whose "number" is not 64-bit milliseconds */
	memset(raw + 20, 0xff, 16);
	assert_int_equal(sp_shard_iter_decode(m, tok, t_forge(raw, T_FIXED + 6, tok), 0, &got),
			 -EINVAL);
	t_raw(raw, "stream");
	raw[1] = 0;
	assert_int_equal(sp_shard_iter_decode(m, tok, t_forge(raw, T_FIXED + 6, tok), 0, &got),
			 -EINVAL);
	t_raw(raw, "stream");
	raw[3] = 1;
	assert_int_equal(sp_shard_iter_decode(m, tok, t_forge(raw, T_FIXED + 6, tok), 0, &got),
			 -EINVAL);
	t_raw(raw, "stream");
	raw[5] = 0x10; /* tag 0x100005: above 20 bits */
	assert_int_equal(sp_shard_iter_decode(m, tok, t_forge(raw, T_FIXED + 6, tok), 0, &got),
			 -EINVAL);
	t_raw(raw, "str am");
	assert_int_equal(sp_shard_iter_decode(m, tok, t_forge(raw, T_FIXED + 6, tok), 0, &got),
			 -EINVAL);
	t_raw(raw, "stream");
	raw[2] = 5; /* length field disagrees with the size */
	assert_int_equal(sp_shard_iter_decode(m, tok, t_forge(raw, T_FIXED + 6, tok), 0, &got),
			 -EINVAL);
	t_raw(raw, "");
	assert_int_equal(sp_shard_iter_decode(m, tok, t_forge(raw, T_FIXED, tok), 0, &got),
			 -EINVAL);
	memset(raw + T_FIXED, 'a', 129);
	raw[2] = 129;
	assert_int_equal(sp_shard_iter_decode(m, tok, t_forge(raw, T_FIXED + 129, tok), 0, &got),
			 -EINVAL);
	sp_shard_iter_mac_destroy(m);
}

static void
test_encode_refuses(void **state)
{
	struct sp_shard_iter_mac *m = t_mac();
	struct sp_shard_iter it;
	char tok[SP_SHARD_ITER_MAX_CHARS + 1];
	int n;

	(void)state;
	t_iter(&it, "s", SP_SHARD_ITER_AT, 1);
	it.kind = (enum sp_shard_iter_kind)0;
	assert_int_equal(sp_shard_iter_encode(m, &it, tok, sizeof(tok)), -EINVAL);
	it.kind = (enum sp_shard_iter_kind)4;
	assert_int_equal(sp_shard_iter_encode(m, &it, tok, sizeof(tok)), -EINVAL);
	/* a time iterator holds milliseconds: 64 bits */
	t_iter(&it, "s", SP_SHARD_ITER_TIME, (sp_u128)1 << 64);
	assert_int_equal(sp_shard_iter_encode(m, &it, tok, sizeof(tok)), -EINVAL);
	t_iter(&it, "s", SP_SHARD_ITER_TIME, UINT64_MAX);
	n = sp_shard_iter_encode(m, &it, tok, sizeof(tok));
	assert_true(n > 0);
	{
		struct sp_shard_iter got;

		assert_int_equal(sp_shard_iter_decode(m, tok, (size_t)n, it.issued_ms, &got), 0);
		assert_int_equal(got.kind, SP_SHARD_ITER_TIME);
		assert_true(got.seq == UINT64_MAX);
	}
	t_iter(&it, "s/x", SP_SHARD_ITER_AT, 1);
	assert_int_equal(sp_shard_iter_encode(m, &it, tok, sizeof(tok)), -EINVAL);
	t_iter(&it, "s", SP_SHARD_ITER_AT, 1);
	it.name_len = 0;
	assert_int_equal(sp_shard_iter_encode(m, &it, tok, sizeof(tok)), -EINVAL);
	it.name_len = SP_K_STREAM_NAME_MAX_CHARS + 1;
	assert_int_equal(sp_shard_iter_encode(m, &it, tok, sizeof(tok)), -EINVAL);
	t_iter(&it, "s", SP_SHARD_ITER_AT, 1);
	it.stream_tag = SP_SEQNO_TAG_MAX + 1;
	assert_int_equal(sp_shard_iter_encode(m, &it, tok, sizeof(tok)), -EINVAL);
	t_iter(&it, "s", SP_SHARD_ITER_AT, 1);
	n = sp_shard_iter_encode(m, &it, tok, sizeof(tok));
	assert_int_equal(n, (int)SP_SHARD_ITER_MIN_CHARS);
	assert_int_equal(sp_shard_iter_encode(m, &it, tok, (size_t)n), -ENOSPC);
	assert_int_equal(sp_shard_iter_encode(m, &it, tok, (size_t)n + 1), n);
	memset(it.name, 'x', SP_K_STREAM_NAME_MAX_CHARS);
	it.name_len = SP_K_STREAM_NAME_MAX_CHARS;
	assert_int_equal(sp_shard_iter_encode(m, &it, tok, sizeof(tok)),
			 (int)SP_SHARD_ITER_MAX_CHARS);
	sp_shard_iter_mac_destroy(m);
}

static void
test_expiry(void **state)
{
	struct sp_shard_iter_mac *m = t_mac();
	struct sp_shard_iter it;
	struct sp_shard_iter got;
	char tok[SP_SHARD_ITER_MAX_CHARS + 1];
	const uint64_t t0 = 1421889722000ull;
	size_t n;

	(void)state;
	t_iter(&it, "s", SP_SHARD_ITER_AFTER, 5);
	it.issued_ms = t0;
	n = (size_t)sp_shard_iter_encode(m, &it, tok, sizeof(tok));
	assert_int_equal(sp_shard_iter_decode(m, tok, n, t0 - 100000, &got), 0);
	assert_int_equal(sp_shard_iter_decode(m, tok, n, t0, &got), 0);
	assert_int_equal(sp_shard_iter_decode(m, tok, n, t0 + 300000, &got), 0);
	memset(&got, 0, sizeof(got));
	assert_int_equal(sp_shard_iter_decode(m, tok, n, t0 + 300001, &got), SP_SHARD_ITER_EXPIRED);
	t_same(&it, &got);
	assert_int_equal(sp_shard_iter_decode(m, tok, n, UINT64_MAX, &got), SP_SHARD_ITER_EXPIRED);
	/* an expired forgery is still just invalid */
	tok[n - 1] = tok[n - 1] == 'A' ? 'B' : 'A';
	assert_int_equal(sp_shard_iter_decode(m, tok, n, t0 + 300001, &got), -EINVAL);
	sp_shard_iter_mac_destroy(m);
}

static void
test_expired_message(void **state)
{
	char buf[SP_SHARD_ITER_EXPIRED_MSG_BYTES];
	char small[20];
	size_t n;

	(void)state;
	/* reference §2.5 */
	n = sp_shard_iter_expired_msg(1421889722000ull, 1421890030000ull, buf, sizeof(buf));
	assert_string_equal(buf, "Iterator expired. The iterator was created at time Thu Jan 22 "
				 "01:22:02 UTC 2015 while right now it is Thu Jan 22 01:27:10 UTC "
				 "2015 which is further in the future than the tolerated delay of "
				 "300000 milliseconds.");
	assert_int_equal(n, strlen(buf));
	n = sp_shard_iter_expired_msg(0, 0, small, sizeof(small));
	assert_int_equal(n, sizeof(small) - 1);
	assert_int_equal(strlen(small), sizeof(small) - 1);
}

static void
t_date(uint64_t ms, const char *want)
{
	char buf[SP_SHARD_ITER_DATE_BYTES];

	assert_int_equal(sp_shard_iter_java_date(ms, buf, sizeof(buf)), strlen(want));
	assert_string_equal(buf, want);
}

static void
test_java_date(void **state)
{
	(void)state;
	t_date(0, "Thu Jan 01 00:00:00 UTC 1970");
	t_date(999, "Thu Jan 01 00:00:00 UTC 1970");
	t_date(951782400000ull, "Tue Feb 29 00:00:00 UTC 2000");
	t_date(951868799999ull, "Tue Feb 29 23:59:59 UTC 2000");
	t_date(4107542400000ull, "Mon Mar 01 00:00:00 UTC 2100");
	t_date(1709164800000ull, "Thu Feb 29 00:00:00 UTC 2024");
	t_date(253402300799000ull, "Fri Dec 31 23:59:59 UTC 9999");
	/* against the C library (C locale, UTC), years 1970..9999 */
	for (unsigned i = 0; i < 200000; i++) {
		uint64_t ms = rng_next() % 253402300800000ull;
		time_t secs = (time_t)(ms / 1000);
		struct tm tm;
		char want[64];
		char got[SP_SHARD_ITER_DATE_BYTES];

		assert_non_null(gmtime_r(&secs, &tm));
		assert_true(strftime(want, sizeof(want), "%a %b %d %H:%M:%S UTC %Y", &tm) > 0);
		sp_shard_iter_java_date(ms, got, sizeof(got));
		assert_string_equal(got, want);
	}
}

static void
test_no_allocation(void **state)
{
	struct sp_shard_iter_mac *m = t_mac();
	struct sp_shard_iter it;
	struct sp_shard_iter got;
	char tok[SP_SHARD_ITER_MAX_CHARS + 1];
	long before;
	int n = 0;

	(void)state;
	t_iter(&it, "stream-name", SP_SHARD_ITER_AT, 42);
	/* warm up (first use may set up per-thread OpenSSL state) */
	assert_true(sp_shard_iter_encode(m, &it, tok, sizeof(tok)) > 0);
	before = g_allocs;
	for (unsigned i = 0; i < 10000; i++) {
		it.issued_ms = i;
		n = sp_shard_iter_encode(m, &it, tok, sizeof(tok));
		assert_true(n > 0);
		assert_int_equal(sp_shard_iter_decode(m, tok, (size_t)n, i, &got), 0);
		tok[3] ^= 1;
		assert_int_equal(sp_shard_iter_decode(m, tok, (size_t)n, i, &got), -EINVAL);
	}
	assert_int_equal(g_allocs - before, 0);
	assert_true(g_allocs > 0); /* the hooks were in place */
	sp_shard_iter_mac_destroy(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_allocation),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_bit_flips_and_truncations),
	    cmocka_unit_test(test_other_key),
	    cmocka_unit_test(test_authentic_but_invalid),
	    cmocka_unit_test(test_encode_refuses),
	    cmocka_unit_test(test_expiry),
	    cmocka_unit_test(test_expired_message),
	    cmocka_unit_test(test_java_date),
	};

	/* before any other OpenSSL call, so that every allocation is counted */
	if (CRYPTO_set_mem_functions(t_malloc, t_realloc, t_free) != 1) {
		fprintf(stderr, "CRYPTO_set_mem_functions failed\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
