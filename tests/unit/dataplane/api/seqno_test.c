/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the decimal printing and parsing in include/spate/seqno.h. The printers
 * (sp_u128_format, its portable twin sp_u128_format_swar, sp_u64_digits) are checked byte for
 * byte against a digit-by-digit reference (repeated 128-bit division by 10) on edge values
 * (powers of 2 and 10 and their neighbours, every multiple of 10^32 and its predecessor, where
 * the split's estimate of the top part is one off) and on random values of random bit
 * lengths and random sequence numbers; every printed value parses back to itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sp_test.h"

#include <spate/compiler.h>
#include <spate/seqno.h>

#define RANDOM_VALUES 1000000u
#define BUF_BYTES (SP_U128_DEC_MAX + 1u)
#define GUARD_BYTES 16u
#define GUARD 0xa5
/* Parse a string literal. */
#define PARSE(lit, out) sp_u128_parse(lit, sizeof(lit) - 1, out)

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static uint64_t
rng_next(void)
{
	g_rng ^= g_rng << 13;
	g_rng ^= g_rng >> 7;
	g_rng ^= g_rng << 17;
	return g_rng;
}

/* The reference: one 128-bit division by 10 per digit. */
static size_t
ref_format(sp_u128 v, char *buf)
{
	char tmp[SP_U128_DEC_MAX];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + (unsigned)(v % 10u));
		v /= 10u;
	} while (v != 0);
	for (size_t i = 0; i < n; i++) {
		buf[i] = tmp[n - 1 - i];
	}
	buf[n] = '\0';
	return n;
}

static sp_u128
pow10_u128(unsigned k)
{
	sp_u128 p = 1;

	while (k-- > 0) {
		p *= 10u;
	}
	return p;
}

/* Both printers against the reference; nothing written past the documented buffer. */
static void
check_one(sp_u128 v)
{
	char want[BUF_BYTES], got[BUF_BYTES + GUARD_BYTES];
	size_t n = ref_format(v, want);
	sp_u128 back;

	for (unsigned impl = 0; impl < 2; impl++) {
		size_t m;

		memset(got, GUARD, sizeof(got));
		m = impl == 0 ? sp_u128_format(v, got) : sp_u128_format_swar(v, got);
		if (m != n || memcmp(got, want, n + 1) != 0) {
			fprintf(stderr, "impl %u: %s printed as %.*s (%zu digits)\n", impl, want,
				(int)SP_MIN(m, (size_t)BUF_BYTES), got, m);
			fail();
		}
		for (size_t i = BUF_BYTES; i < sizeof(got); i++) {
			assert_int_equal((uint8_t)got[i], GUARD);
		}
	}
	assert_int_equal(sp_u128_parse(want, n, &back), 0);
	assert_true(back == v);
}

/* The split behind both printers: exact, with its parts in range. */
static void
check_split(sp_u128 v)
{
	const sp_u128 e16 = pow10_u128(16);
	uint64_t a, b, c;

	sp_u128_split16(v, &a, &b, &c);
	assert_true(b < SP_DEC_E16 && c < SP_DEC_E16 && a < 10000000u);
	assert_true(((sp_u128)a * e16 + b) * e16 + c == v);
}

static void
test_edges(void **state)
{
	const sp_u128 max = ~(sp_u128)0;

	(void)state;
	check_one(0);
	check_one(max);
	check_one(max - 1);
	for (unsigned k = 0; k <= SP_U128_DEC_MAX - 1; k++) {
		sp_u128 p = pow10_u128(k);

		check_one(p - 1);
		check_one(p);
		check_one(p + 1);
		check_one(9u * p);
		check_one(p + p / 2u);
	}
	for (unsigned k = 0; k < 128; k++) {
		sp_u128 p = (sp_u128)1 << k;

		check_one(p - 1);
		check_one(p);
		check_one(p + 1);
		check_one(max - p);
	}
	/* The ends of every field of a sequence number, and the version nibbles around it. */
	for (unsigned ver = 0; ver < 16; ver++) {
		sp_u128 top = (sp_u128)ver << 124;

		check_one(top);
		check_one(top | (((sp_u128)1 << 124) - 1));
		check_one(top | (sp_u128)SP_SEQNO_COUNTER_MAX << 52);
	}
}

/*
 * The split estimates the top part from the high 64 bits alone: it is one short just below a
 * multiple of 10^32 (and, from rounding, just above some). Every multiple and its neighbours.
 */
static void
test_split_boundaries(void **state)
{
	const sp_u128 e32 = pow10_u128(32);
	const sp_u128 max = ~(sp_u128)0;

	(void)state;
	for (sp_u128 k = 1; k <= max / e32; k++) {
		sp_u128 v = k * e32;

		check_split(v - 1);
		check_split(v);
		check_split(v + 1);
		if (k % 4096u == 0) {
			check_one(v - 1);
			check_one(v);
		}
	}
	check_one(max / e32 * e32 - 1);
	for (unsigned i = 0; i < 100000; i++) {
		/* high half fixed, low half at both ends: the estimate ignores the low half */
		sp_u128 h = (sp_u128)rng_next() << 64;

		check_split(h);
		check_split(h | UINT64_MAX);
	}
}

static void
test_random(void **state)
{
	(void)state;
	for (unsigned i = 0; i < RANDOM_VALUES; i++) {
		sp_u128 v = (sp_u128)rng_next() << 64 | rng_next();
		unsigned bits = (unsigned)(rng_next() % 129u);

		v = bits == 0 ? 0 : v >> (128u - bits);
		check_one(v);
	}
}

static void
test_seqnos(void **state)
{
	(void)state;
	for (unsigned i = 0; i < RANDOM_VALUES / 4u; i++) {
		struct sp_seqno_fields f = {
		    .epoch = (uint32_t)rng_next(),
		    .node = (uint32_t)rng_next(),
		    .counter = rng_next() >> (rng_next() % 64u),
		    .stream_tag = (uint32_t)rng_next(),
		    .shard_index = (uint32_t)(rng_next() >> (rng_next() % 64u)),
		};
		sp_u128 v = sp_seqno_pack(&f);
		char buf[BUF_BYTES];

		check_one(v);
		/* version 1 numbers all have 38 digits (docs/internals/seqno.md) */
		assert_int_equal(sp_u128_format(v, buf), 38);
	}
}

/* The SWAR lanes: every 4-digit half and 2-digit quarter value, then random values. */
static void
test_dec8(void **state)
{
	(void)state;
	for (uint32_t i = 0; i < 200000u; i++) {
		uint32_t v = i < 10000u ? i * 10001u : (uint32_t)(rng_next() % 100000000u);
		uint64_t d = sp_dec8_swar(v);

		for (unsigned k = 8; k-- > 0;) {
			assert_int_equal((unsigned)(d >> (8 * k) & 0xff), v % 10u);
			v /= 10u;
		}
	}
}

static void
test_u64_digits(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 100000u; i++) {
		uint64_t v = rng_next() >> (rng_next() % 64u);
		unsigned width = (unsigned)(rng_next() % 21u);
		char want[32], got[32];

		/* width digits of v modulo 10^width, zero-padded */
		snprintf(want, sizeof(want), "%020llu", (unsigned long long)v);
		memset(got, GUARD, sizeof(got));
		sp_u64_digits(v, got, width);
		assert_memory_equal(got, want + 20 - width, width);
		assert_int_equal((uint8_t)got[width], GUARD);
	}
}

static void
test_parse(void **state)
{
	sp_u128 v = 7;

	(void)state;
	assert_int_equal(PARSE("", &v), -EINVAL);
	assert_int_equal(PARSE("12a", &v), -EINVAL);
	assert_int_equal(PARSE("-1", &v), -EINVAL);
	assert_int_equal(PARSE("340282366920938463463374607431768211456", &v), -ERANGE);
	assert_int_equal(PARSE("3402823669209384634633746074317682114550", &v), -ERANGE);
	/* out of range, and a non-digit later: -EINVAL wins */
	assert_int_equal(PARSE("3402823669209384634633746074317682114550x", &v), -EINVAL);
	assert_true(v == 7);
	assert_int_equal(PARSE("000000000000000000000000000000000000000000042", &v), 0);
	assert_true(v == 42);
	assert_int_equal(PARSE("340282366920938463463374607431768211455", &v), 0);
	assert_true(v == ~(sp_u128)0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_split_boundaries),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_seqnos),
		cmocka_unit_test(test_dec8),
		cmocka_unit_test(test_u64_digits),
		cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
