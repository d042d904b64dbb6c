/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for nvme/crc32c: RFC 3720 B.4 vectors and the "123456789" check value through
 * every kernel; the table and SSE4.2 kernels against a bit-at-a-time reference over random
 * lengths (0..20000, across the 3-way split threshold) and every start alignment 0..15, in
 * exact-size heap buffers; incremental CRCs equal one-shot ones.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sp_test.h"

#include "crc32c.h"

#define RAND_ROUNDS  3000u
#define RAND_LEN_MAX 20000u

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static uint64_t
rng_next(void)
{
	g_rng ^= g_rng << 13;
	g_rng ^= g_rng >> 7;
	g_rng ^= g_rng << 17;
	return g_rng;
}

/* Bit at a time, straight from the definition. */
static uint32_t
ref_crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
	uint32_t c = ~crc;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++) {
			c = (c >> 1) ^ ((c & 1u) ? 0x82f63b78u : 0u);
		}
	}
	return ~c;
}

static void
check_all(const uint8_t *p, size_t n, uint32_t want)
{
	assert_int_equal(ref_crc32c(0, p, n), want);
	assert_int_equal(sp_crc32c_sw(0, p, n), want);
	assert_int_equal(sp_crc32c(0, p, n), want);
	if (sp_crc32c_hw_available()) {
		assert_int_equal(sp_crc32c_hw(0, p, n), want);
	}
}

static void
test_rfc3720_vectors(void **state)
{
	static const uint8_t pdu[48] = {
	    0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
	    0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
	    0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	uint8_t b[32];

	(void)state;
	memset(b, 0, sizeof(b));
	check_all(b, 32, 0x8a9136aau);
	memset(b, 0xff, sizeof(b));
	check_all(b, 32, 0x62a8ab43u);
	for (int i = 0; i < 32; i++) {
		b[i] = (uint8_t)i;
	}
	check_all(b, 32, 0x46dd794eu);
	for (int i = 0; i < 32; i++) {
		b[i] = (uint8_t)(31 - i);
	}
	check_all(b, 32, 0x113fdb5cu);
	check_all(pdu, sizeof(pdu), 0xd9963a56u);
	check_all((const uint8_t *)"123456789", 9, 0xe3069283u);
	check_all(b, 0, 0);
}

static void
test_random_lengths_alignments(void **state)
{
	(void)state;
	printf("# sse4.2 kernel %s\n", sp_crc32c_hw_available() ? "tested" : "not available");
	for (unsigned round = 0; round < RAND_ROUNDS; round++) {
		size_t align = round % 16;
		size_t n = (round < 200) ? round : (size_t)(rng_next() % RAND_LEN_MAX);
		uint8_t *m = malloc(align + n + 1);
		uint8_t *p = m + align;
		uint32_t seed = (round & 1) ? (uint32_t)rng_next() : 0;
		uint32_t want;

		assert_non_null(m);
		for (size_t i = 0; i < n; i++) {
			p[i] = (uint8_t)rng_next();
		}
		want = ref_crc32c(seed, p, n);
		assert_int_equal(sp_crc32c_sw(seed, p, n), want);
		assert_int_equal(sp_crc32c(seed, p, n), want);
		if (sp_crc32c_hw_available()) {
			assert_int_equal(sp_crc32c_hw(seed, p, n), want);
		}
		free(m);
	}
}

static void
test_incremental(void **state)
{
	enum { N = 10000 };
	uint8_t *p = malloc(N);

	(void)state;
	assert_non_null(p);
	for (size_t i = 0; i < N; i++) {
		p[i] = (uint8_t)rng_next();
	}
	for (unsigned round = 0; round < 500; round++) {
		size_t cut = (size_t)(rng_next() % (N + 1));
		uint32_t whole = sp_crc32c(0, p, N);

		assert_int_equal(sp_crc32c(sp_crc32c(0, p, cut), p + cut, N - cut), whole);
		assert_int_equal(sp_crc32c_sw(sp_crc32c(0, p, cut), p + cut, N - cut), whole);
	}
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc3720_vectors),
	    cmocka_unit_test(test_random_lengths_alignments),
	    cmocka_unit_test(test_incremental),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
