/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CRC-32 (IEEE) kernels, see crc32.h.
 *
 * Table: slicing-by-8, eight 256-entry tables built at load time; eight bytes per step.
 *
 * CLMUL: the message is a polynomial over GF(2) and only its remainder mod P matters, so a
 * 16-byte lane A followed by D bytes can be replaced by A * x^(8D) mod P, added into the lane
 * D bytes later ("folding"). In the reflected bit order a lane's low quadword L holds the
 * coefficients of x^127..x^64 and its high quadword H those of x^63..x^0; with 33-bit
 * constants c = x^e mod P stored reflected and shifted left by one (bit m is x^(32-m)), one
 * carry-less multiply L * c yields L * x^e * x^-32 placed as a lane, hence e = 8D + 32 for L
 * and e = 8D - 32 for H (8D = 128 per lane). Four lanes are folded 64 bytes ahead in parallel
 * (PCLMULQDQ has a latency of several cycles and a throughput of one), then into one lane,
 * then 16 bytes at a time. The last lane X has the same remainder as the message, so the CRC
 * register after the message equals the register after the 16 bytes of X from 0: two table
 * steps finish it, which replaces a Barrett reduction and its own constants. The initial
 * register enters as an xor into the first four bytes (what the table kernel does too). The
 * constants are computed at load time from P by square-and-multiply, not typed in.
 *
 * Selection: at load time, CLMUL when the CPU has PCLMULQDQ, SPATE_CRC32 is not "table", and
 * the kernel matches the table kernel on a self-test; the table kernel otherwise. Any lcore.
 */
#include "crc32.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spate/assert.h>

#if defined(__x86_64__)
#include <emmintrin.h>
#include <wmmintrin.h>
#endif

#define CRC32_POLY 0xedb88320u
/* Shortest buffer the folding kernel takes: four lanes; shorter ones go to the table. */
#define CRC32_FOLD_MIN 64u
/* Self-test: buffer bytes, and the lengths checked at every offset below CRC32_ST_OFFS. */
#define CRC32_ST_BYTES 1100u
#define CRC32_ST_OFFS  16u

static uint32_t g_crc32_table[8][256];
static enum sp_crc32_kernel g_crc32_kernel = SP_CRC32_TABLE;
static bool g_crc32_clmul;
/*
 * Folding constants as (low, high) quadword pairs: [0] folds a lane 64 bytes ahead
 * (x^544, x^480), [1] one lane, 16 bytes ahead (x^160, x^96).
 */
static uint64_t g_crc32_k[2][2];

/* a * b mod P, both in the reflected form where bit 31 is x^0. */
static uint32_t
crc32_mulmod(uint32_t a, uint32_t b)
{
	uint32_t p = 0;

	for (int i = 0; i < 32; i++) {
		if (a & 0x80000000u) {
			p ^= b;
		}
		a <<= 1;
		b = (b >> 1) ^ ((b & 1u) ? CRC32_POLY : 0u);
	}
	return p;
}

/* x^n mod P, reflected (bit 31 is x^0). */
static uint32_t
crc32_xpow(uint32_t n)
{
	uint32_t r = 0x80000000u, s = 0x40000000u; /* 1 and x */

	while (n != 0) {
		if (n & 1u) {
			r = crc32_mulmod(r, s);
		}
		s = crc32_mulmod(s, s);
		n >>= 1;
	}
	return r;
}

/* The fold constant for exponent e: x^e mod P as 33 bits, bit m the coefficient of x^(32-m). */
static uint64_t
crc32_fold_const(uint32_t e)
{
	return (uint64_t)crc32_xpow(e) << 1;
}

static uint32_t
crc32_update_table(uint32_t c, const uint8_t *p, size_t len)
{
	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		w ^= c;
		c = g_crc32_table[7][w & 0xff] ^ g_crc32_table[6][(w >> 8) & 0xff] ^
		    g_crc32_table[5][(w >> 16) & 0xff] ^ g_crc32_table[4][(w >> 24) & 0xff] ^
		    g_crc32_table[3][(w >> 32) & 0xff] ^ g_crc32_table[2][(w >> 40) & 0xff] ^
		    g_crc32_table[1][(w >> 48) & 0xff] ^ g_crc32_table[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len-- > 0) {
		c = (c >> 8) ^ g_crc32_table[0][(c ^ *p++) & 0xffu];
	}
	return c;
}

#if defined(__x86_64__)
/* The lane x moved over the distance k was built for. */
__attribute__((target("pclmul"))) static inline __m128i
crc32_fold(__m128i x, __m128i k)
{
	return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

__attribute__((target("pclmul"))) static uint32_t
crc32_update_clmul(uint32_t c, const uint8_t *p, size_t len)
{
	__m128i k4, k1, x0, x1, x2, x3;
	uint8_t last[16];

	if (len < CRC32_FOLD_MIN) {
		return crc32_update_table(c, p, len);
	}
	k4 = _mm_set_epi64x((long long)g_crc32_k[0][1], (long long)g_crc32_k[0][0]);
	k1 = _mm_set_epi64x((long long)g_crc32_k[1][1], (long long)g_crc32_k[1][0]);
	x0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), _mm_cvtsi32_si128((int)c));
	x1 = _mm_loadu_si128((const __m128i *)(p + 16));
	x2 = _mm_loadu_si128((const __m128i *)(p + 32));
	x3 = _mm_loadu_si128((const __m128i *)(p + 48));
	p += 64;
	len -= 64;
	while (len >= 64) {
		x0 = _mm_xor_si128(crc32_fold(x0, k4), _mm_loadu_si128((const __m128i *)p));
		x1 = _mm_xor_si128(crc32_fold(x1, k4), _mm_loadu_si128((const __m128i *)(p + 16)));
		x2 = _mm_xor_si128(crc32_fold(x2, k4), _mm_loadu_si128((const __m128i *)(p + 32)));
		x3 = _mm_xor_si128(crc32_fold(x3, k4), _mm_loadu_si128((const __m128i *)(p + 48)));
		p += 64;
		len -= 64;
	}
	x0 = _mm_xor_si128(crc32_fold(x0, k1), x1);
	x0 = _mm_xor_si128(crc32_fold(x0, k1), x2);
	x0 = _mm_xor_si128(crc32_fold(x0, k1), x3);
	while (len >= 16) {
		x0 = _mm_xor_si128(crc32_fold(x0, k1), _mm_loadu_si128((const __m128i *)p));
		p += 16;
		len -= 16;
	}
	_mm_storeu_si128((__m128i *)last, x0);
	return crc32_update_table(crc32_update_table(0, last, sizeof(last)), p, len);
}
#else
static uint32_t
crc32_update_clmul(uint32_t c, const uint8_t *p, size_t len)
{
	SP_VERIFY(false);
	return crc32_update_table(c, p, len);
}
#endif

/* The CLMUL kernel against the table one: every length up to the buffer, some offsets. */
static bool
crc32_self_test(void)
{
	uint8_t buf[CRC32_ST_BYTES];
	uint32_t x = 2463534242u;

	for (size_t i = 0; i < sizeof(buf); i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
	for (size_t off = 0; off < CRC32_ST_OFFS; off++) {
		for (size_t n = 0; off + n <= sizeof(buf); n += 1 + (n >= 256) * 7) {
			uint32_t s = (uint32_t)(n * 0x9e3779b9u);

			if (crc32_update_clmul(s, buf + off, n) !=
			    crc32_update_table(s, buf + off, n)) {
				return false;
			}
		}
	}
	return true;
}

__attribute__((constructor)) static void
crc32_load(void)
{
	const char *env = getenv("SPATE_CRC32");

	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++) {
			c = (c >> 1) ^ ((c & 1u) ? CRC32_POLY : 0u);
		}
		g_crc32_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++) {
		for (int t = 1; t < 8; t++) {
			uint32_t c = g_crc32_table[t - 1][i];

			g_crc32_table[t][i] = (c >> 8) ^ g_crc32_table[0][c & 0xffu];
		}
	}
	g_crc32_k[0][0] = crc32_fold_const(4 * 128 + 32);
	g_crc32_k[0][1] = crc32_fold_const(4 * 128 - 32);
	g_crc32_k[1][0] = crc32_fold_const(128 + 32);
	g_crc32_k[1][1] = crc32_fold_const(128 - 32);
#if defined(__x86_64__)
	__builtin_cpu_init();
	g_crc32_clmul = __builtin_cpu_supports("pclmul");
#endif
	if (!g_crc32_clmul) {
		return;
	}
	if (!crc32_self_test()) {
		fprintf(stderr, "spate: crc32: clmul kernel failed its self-test; using table\n");
		g_crc32_clmul = false;
		return;
	}
	if (env == NULL || strcmp(env, "table") != 0) {
		g_crc32_kernel = SP_CRC32_CLMUL;
	}
}

bool
sp_crc32_kernel_supported(enum sp_crc32_kernel k)
{
	return k == SP_CRC32_TABLE || (k == SP_CRC32_CLMUL && g_crc32_clmul);
}

enum sp_crc32_kernel
sp_crc32_kernel_active(void)
{
	return g_crc32_kernel;
}

const char *
sp_crc32_kernel_name(enum sp_crc32_kernel k)
{
	switch (k) {
	case SP_CRC32_TABLE:
		return "table";
	case SP_CRC32_CLMUL:
		return "clmul";
	default:
		return "?";
	}
}

uint32_t
sp_crc32_update_with(enum sp_crc32_kernel k, uint32_t state, const void *buf, size_t len)
{
	SP_VERIFY(sp_crc32_kernel_supported(k));
	SP_VERIFY(buf != NULL || len == 0);
	if (k == SP_CRC32_CLMUL) {
		return crc32_update_clmul(state, buf, len);
	}
	return crc32_update_table(state, buf, len);
}

uint32_t
sp_crc32_update(uint32_t state, const void *buf, size_t len)
{
	SP_ASSERT(buf != NULL || len == 0);
	if (g_crc32_kernel == SP_CRC32_CLMUL) {
		return crc32_update_clmul(state, buf, len);
	}
	return crc32_update_table(state, buf, len);
}

uint32_t
sp_crc32(uint32_t crc, const void *buf, size_t len)
{
	return ~sp_crc32_update(~crc, buf, len);
}
