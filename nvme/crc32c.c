/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CRC32C kernels. The table kernel is slicing-by-8 (eight 256-entry tables built at load
 * time). The SSE4.2 kernel runs three independent crc32q chains over three thirds of a long
 * buffer, since the instruction has a latency of 3 cycles and a throughput of 1, and joins the
 * chains by shifting the first two over the bytes that follow them: a CRC over n zero bytes is
 * a linear map, applied here as a carry-less multiply by x^(8n) mod P (precomputed per block
 * length) and one more crc32 reduction. Short buffers take a plain 8-bytes-a-step loop.
 */
#include "crc32c.h"

#include <string.h>

#include <spate/assert.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#include <wmmintrin.h>
#endif

#define CRC32C_POLY 0x82f63b78u
/* Bytes per chain in one 3-way step, and the shortest buffer worth splitting. */
#define CRC32C_LANE      1024u
#define CRC32C_SPLIT_MIN (3u * CRC32C_LANE)

static uint32_t g_crc32c_table[8][256];
static bool g_crc32c_hw;
static uint32_t (*g_crc32c_fn)(uint32_t, const void *, size_t) = sp_crc32c_sw;
/* x^(8 * CRC32C_LANE * k - 33) mod P, reflected, for joining chains k lanes apart (k = 1, 2) */
static uint64_t g_crc32c_shift[3];

/* x^n mod P in reflected form (bit 31 is x^0), by square-and-multiply over GF(2). */
static uint32_t
crc32c_mulmod(uint32_t a, uint32_t b)
{
	uint32_t p = 0;

	for (int i = 0; i < 32; i++) {
		if (a & 0x80000000u) {
			p ^= b;
		}
		a <<= 1;
		b = (b >> 1) ^ ((b & 1u) ? CRC32C_POLY : 0u);
	}
	return p;
}

static uint32_t
crc32c_xpow(uint64_t n)
{
	uint32_t r = 0x80000000u, s = 0x40000000u; /* 1 and x */

	while (n != 0) {
		if (n & 1u) {
			r = crc32c_mulmod(r, s);
		}
		s = crc32c_mulmod(s, s);
		n >>= 1;
	}
	return r;
}

__attribute__((constructor)) static void
crc32c_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++) {
			c = (c >> 1) ^ ((c & 1u) ? CRC32C_POLY : 0u);
		}
		g_crc32c_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++) {
		for (int t = 1; t < 8; t++) {
			uint32_t c = g_crc32c_table[t - 1][i];

			g_crc32c_table[t][i] = (c >> 8) ^ g_crc32c_table[0][c & 0xffu];
		}
	}
	for (unsigned k = 1; k <= 2; k++) {
		g_crc32c_shift[k] = crc32c_xpow(8ull * CRC32C_LANE * k - 33);
	}
#if defined(__x86_64__)
	__builtin_cpu_init();
	g_crc32c_hw = __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("pclmul");
	if (g_crc32c_hw) {
		g_crc32c_fn = sp_crc32c_hw;
	}
#endif
}

bool
sp_crc32c_hw_available(void)
{
	return g_crc32c_hw;
}

uint32_t
sp_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t c = ~crc;

	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		w ^= c;
		c = g_crc32c_table[7][w & 0xff] ^ g_crc32c_table[6][(w >> 8) & 0xff] ^
		    g_crc32c_table[5][(w >> 16) & 0xff] ^ g_crc32c_table[4][(w >> 24) & 0xff] ^
		    g_crc32c_table[3][(w >> 32) & 0xff] ^ g_crc32c_table[2][(w >> 40) & 0xff] ^
		    g_crc32c_table[1][(w >> 48) & 0xff] ^ g_crc32c_table[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len-- > 0) {
		c = (c >> 8) ^ g_crc32c_table[0][(c ^ *p++) & 0xffu];
	}
	return ~c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint64_t
crc32c_hw_run(uint64_t c, const uint8_t *p, size_t len)
{
	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		c = _mm_crc32_u64(c, w);
		p += 8;
		len -= 8;
	}
	while (len-- > 0) {
		c = _mm_crc32_u8((uint32_t)c, *p++);
	}
	return c;
}

/*
 * The raw (uninverted) state c moved over n zero bytes: carry-less multiply by the
 * precomputed x^(8n - 33) and one crc32q reduction of the 64-bit product.
 */
__attribute__((target("sse4.2,pclmul"))) static uint32_t
crc32c_shift(uint32_t c, uint64_t k)
{
	__m128i prod =
	    _mm_clmulepi64_si128(_mm_cvtsi32_si128((int)c), _mm_cvtsi64_si128((long long)k), 0x00);

	return (uint32_t)_mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(prod));
}

__attribute__((target("sse4.2"))) static uint64_t
crc32c_hw_3way(uint64_t c0, const uint8_t *p, size_t *len)
{
	while (*len >= CRC32C_SPLIT_MIN) {
		uint64_t c1 = 0, c2 = 0, w0, w1, w2;

		for (size_t i = 0; i < CRC32C_LANE; i += 8) {
			memcpy(&w0, p + i, 8);
			memcpy(&w1, p + CRC32C_LANE + i, 8);
			memcpy(&w2, p + 2 * CRC32C_LANE + i, 8);
			c0 = _mm_crc32_u64(c0, w0);
			c1 = _mm_crc32_u64(c1, w1);
			c2 = _mm_crc32_u64(c2, w2);
		}
		c0 = crc32c_shift((uint32_t)c0, g_crc32c_shift[2]) ^
		     crc32c_shift((uint32_t)c1, g_crc32c_shift[1]) ^ c2;
		p += 3 * CRC32C_LANE;
		*len -= 3 * CRC32C_LANE;
	}
	return c0;
}

uint32_t
sp_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t rest = len;
	uint64_t c = ~crc;

	SP_ASSERT(g_crc32c_hw);
	if (len >= CRC32C_SPLIT_MIN) {
		c = crc32c_hw_3way(c, p, &rest);
		p += len - rest;
	}
	return ~(uint32_t)crc32c_hw_run(c, p, rest);
}
#else
uint32_t
sp_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	SP_VERIFY(false);
	return sp_crc32c_sw(crc, buf, len);
}
#endif

uint32_t
sp_crc32c(uint32_t crc, const void *buf, size_t len)
{
	return g_crc32c_fn(crc, buf, len);
}
