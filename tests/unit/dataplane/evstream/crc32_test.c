/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/evstream/crc32.c: check values ("123456789" -> 0xCBF43926 and
 * others); every kernel this CPU runs against a bit-at-a-time reference and against zlib's
 * crc32 (when built with it) on random buffers of every length 0..4096 at 16 alignments, and
 * of shorter lengths at 64; the running state split at every point and into random pieces;
 * zlib-style chaining; kernel names and support.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if SP_TEST_ZLIB
#include <zlib.h>
#endif

#include "../../sp_test.h"

#include "crc32.h"

#define BUF_MAX      4096u
#define ALIGN_ALL    16u /* every length 0..BUF_MAX at these offsets */
#define ALIGN_SHORT  64u /* offsets checked for lengths up to SHORT_MAX */
#define SHORT_MAX    300u
#define SPLIT_ROUNDS 2000u

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint8_t g_buf[BUF_MAX + ALIGN_SHORT];

static uint64_t
rng_next(void)
{
	g_rng ^= g_rng << 13;
	g_rng ^= g_rng >> 7;
	g_rng ^= g_rng << 17;
	return g_rng;
}

/* The definition, one bit at a time: reflected 0xEDB88320, init and xorout all ones. */
static uint32_t
ref_crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++) {
			c = (c >> 1) ^ ((c & 1u) ? 0xedb88320u : 0u);
		}
	}
	return ~c;
}

static int
setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(g_buf); i++) {
		g_buf[i] = (uint8_t)rng_next();
	}
	return 0;
}

static void
test_check_values(void **state)
{
	static const struct {
		const char *s;
		uint32_t crc;
	} v[] = {
	    {"", 0x00000000u},
	    {"a", 0xe8b7be43u},
	    {"abc", 0x352441c2u},
	    {"123456789", 0xcbf43926u},
	    {"The quick brown fox jumps over the lazy dog", 0x414fa339u},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = strlen(v[i].s);

		assert_int_equal(ref_crc32((const uint8_t *)v[i].s, n), v[i].crc);
		assert_int_equal(sp_crc32(0, v[i].s, n), v[i].crc);
		for (int k = 0; k < SP_CRC32_KERNEL_COUNT; k++) {
			if (sp_crc32_kernel_supported(k)) {
				uint32_t s = sp_crc32_update_with(k, sp_crc32_init(), v[i].s, n);

				assert_int_equal(sp_crc32_final(s), v[i].crc);
			}
		}
	}
	/* 0xEDB88320's residue: the CRC of a message followed by its CRC (LE) is constant */
	{
		uint8_t m[13] = "123456789";
		uint32_t c = sp_crc32(0, m, 9);

		memcpy(m + 9, &c, 4);
		assert_int_equal(sp_crc32(0, m, 13), 0x2144df1cu);
	}
}

/* One kernel against the reference (and zlib) at offset off, every length up to max. */
static void
check_kernel(enum sp_crc32_kernel k, size_t off, size_t max)
{
	for (size_t n = 0; n <= max; n++) {
		const uint8_t *p = g_buf + off;
		uint32_t want =
		    sp_crc32_final(sp_crc32_update_with(SP_CRC32_TABLE, sp_crc32_init(), p, n));
		uint32_t got = sp_crc32_final(sp_crc32_update_with(k, sp_crc32_init(), p, n));

		if (got != want) {
			fail_msg("kernel %s, offset %zu, length %zu: 0x%08x, table 0x%08x",
				 sp_crc32_kernel_name(k), off, n, got, want);
		}
#if SP_TEST_ZLIB
		if (k == SP_CRC32_TABLE && want != (uint32_t)crc32(0, p, (uInt)n)) {
			fail_msg("table kernel vs zlib, offset %zu, length %zu", off, n);
		}
#endif
	}
}

static void
test_kernels_lengths_alignments(void **state)
{
	unsigned nk = 0;

	(void)state;
	/* the table kernel against the definition first, then everything against the table */
	for (size_t n = 0; n <= BUF_MAX; n += 1 + n / 64) {
		uint32_t t = sp_crc32_update_with(SP_CRC32_TABLE, sp_crc32_init(), g_buf + 3, n);

		assert_int_equal(sp_crc32_final(t), ref_crc32(g_buf + 3, n));
	}
	for (int k = 0; k < SP_CRC32_KERNEL_COUNT; k++) {
		if (!sp_crc32_kernel_supported(k)) {
			printf("# crc32 kernel %s: not on this CPU\n", sp_crc32_kernel_name(k));
			continue;
		}
		nk++;
		for (size_t off = 0; off < ALIGN_ALL; off++) {
			check_kernel(k, off, BUF_MAX);
		}
		for (size_t off = ALIGN_ALL; off < ALIGN_SHORT; off++) {
			check_kernel(k, off, SHORT_MAX);
		}
	}
	assert_true(nk >= 1);
	printf("# crc32 active kernel: %s\n", sp_crc32_kernel_name(sp_crc32_kernel_active()));
}

static void
test_running_state(void **state)
{
	(void)state;
	for (int k = 0; k < SP_CRC32_KERNEL_COUNT; k++) {
		uint32_t whole;

		if (!sp_crc32_kernel_supported(k)) {
			continue;
		}
		/* two pieces split at every point */
		whole = sp_crc32_update_with(k, sp_crc32_init(), g_buf, SHORT_MAX);
		for (size_t cut = 0; cut <= SHORT_MAX; cut++) {
			uint32_t s = sp_crc32_update_with(k, sp_crc32_init(), g_buf, cut);

			s = sp_crc32_update_with(k, s, g_buf + cut, SHORT_MAX - cut);
			assert_int_equal(s, whole);
		}
		/* random pieces of a long buffer */
		whole = sp_crc32_update_with(k, sp_crc32_init(), g_buf, BUF_MAX);
		for (unsigned r = 0; r < SPLIT_ROUNDS; r++) {
			uint32_t s = sp_crc32_init();
			size_t at = 0;

			while (at < BUF_MAX) {
				size_t n = rng_next() % (r % 2 ? 200 : 1500);

				n = n > BUF_MAX - at ? BUF_MAX - at : n;
				s = sp_crc32_update_with(k, s, g_buf + at, n);
				at += n;
			}
			assert_int_equal(s, whole);
		}
	}
}

static void
test_zlib_style(void **state)
{
	uint32_t whole = sp_crc32(0, g_buf, 1000);

	(void)state;
	assert_int_equal(sp_crc32(sp_crc32(0, g_buf, 333), g_buf + 333, 667), whole);
	assert_int_equal(sp_crc32(whole, NULL, 0), whole);
	assert_int_equal(sp_crc32_final(sp_crc32_update(sp_crc32_init(), g_buf, 1000)), whole);
#if SP_TEST_ZLIB
	assert_int_equal(whole, (uint32_t)crc32(0, g_buf, 1000));
	assert_int_equal(sp_crc32(0x12345678u, g_buf, 77), (uint32_t)crc32(0x12345678u, g_buf, 77));
#endif
}

static void
test_kernel_info(void **state)
{
	(void)state;
	assert_string_equal(sp_crc32_kernel_name(SP_CRC32_TABLE), "table");
	assert_string_equal(sp_crc32_kernel_name(SP_CRC32_CLMUL), "clmul");
	assert_string_equal(sp_crc32_kernel_name(SP_CRC32_KERNEL_COUNT), "?");
	assert_true(sp_crc32_kernel_supported(SP_CRC32_TABLE));
	assert_false(sp_crc32_kernel_supported(SP_CRC32_KERNEL_COUNT));
	assert_true(sp_crc32_kernel_supported(sp_crc32_kernel_active()));
#if defined(__x86_64__)
	/* a CPU with PCLMULQDQ must have the clmul kernel: its self-test must not have failed */
	__builtin_cpu_init();
	assert_int_equal(sp_crc32_kernel_supported(SP_CRC32_CLMUL),
			 __builtin_cpu_supports("pclmul") != 0);
#endif
	/* SPATE_CRC32=table forces the table kernel (the evs_crc32_table registration) */
	if (getenv("SPATE_CRC32") != NULL && strcmp(getenv("SPATE_CRC32"), "table") == 0) {
		assert_int_equal(sp_crc32_kernel_active(), SP_CRC32_TABLE);
	} else if (sp_crc32_kernel_supported(SP_CRC32_CLMUL)) {
		assert_int_equal(sp_crc32_kernel_active(), SP_CRC32_CLMUL);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check_values),  cmocka_unit_test(test_kernels_lengths_alignments),
	    cmocka_unit_test(test_running_state), cmocka_unit_test(test_zlib_style),
	    cmocka_unit_test(test_kernel_info),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
