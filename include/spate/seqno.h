/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sequence numbers and 128-bit decimal values (hash keys), header-only: spate-control computes
 * a shard's StartingSequenceNumber, the dataplane assigns records' numbers, both print and parse
 * them. Layout and the monotonicity argument: docs/internals/seqno.md.
 *
 * A sequence number is an unsigned 128-bit integer shown in decimal. Fields, high to low:
 *
 *   bits 127..124  version        SP_SEQNO_VERSION (1): every number has 38 decimal digits
 *   bits 123..104  epoch          dataplane boot epoch, persisted by spate-control, +1 per boot
 *   bits 103..96   node           node id, 0 on a single appliance
 *   bits  95..52   counter        per shard and epoch: 0 is the shard's start, records count
 *                                 from 1; SP_SEQNO_COUNTER_MAX marks a closed shard's end
 *   bits  51..32   stream tag     20 bits naming the stream's incarnation (name + creation)
 *   bits  31..0    shard index    the N of shardId-N
 *
 * Within a shard, (version, epoch, node, counter) only grows, so numbers strictly increase
 * across reboots (the epoch grows) without persisting a counter per record. Shard index and
 * stream tag make numbers unique in a stream and let GetShardIterator tell a number of another
 * shard or another stream apart, as AWS does.
 */
#ifndef SPATE_SEQNO_H
#define SPATE_SEQNO_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__) && defined(__x86_64__)
#include <emmintrin.h>
#endif

#define SP_SEQNO_VERSION 1u
#define SP_SEQNO_EPOCH_BITS 20u
#define SP_SEQNO_NODE_BITS 8u
#define SP_SEQNO_COUNTER_BITS 44u
#define SP_SEQNO_TAG_BITS 20u
#define SP_SEQNO_EPOCH_MAX ((1u << SP_SEQNO_EPOCH_BITS) - 1u)
#define SP_SEQNO_NODE_MAX ((1u << SP_SEQNO_NODE_BITS) - 1u)
#define SP_SEQNO_COUNTER_MAX ((UINT64_C(1) << SP_SEQNO_COUNTER_BITS) - 1u)
#define SP_SEQNO_TAG_MAX ((1u << SP_SEQNO_TAG_BITS) - 1u)
/* Longest decimal form of any unsigned 128-bit value, without the NUL. */
#define SP_U128_DEC_MAX 39u

typedef unsigned __int128 sp_u128;

struct sp_seqno_fields {
	uint32_t epoch;
	uint32_t node;
	uint64_t counter;
	uint32_t stream_tag;
	uint32_t shard_index;
};

static inline sp_u128
sp_seqno_pack(const struct sp_seqno_fields *f)
{
	sp_u128 v = (sp_u128)SP_SEQNO_VERSION << 124;

	v |= (sp_u128)(f->epoch & SP_SEQNO_EPOCH_MAX) << 104;
	v |= (sp_u128)(f->node & SP_SEQNO_NODE_MAX) << 96;
	v |= (sp_u128)(f->counter & SP_SEQNO_COUNTER_MAX) << 52;
	v |= (sp_u128)(f->stream_tag & SP_SEQNO_TAG_MAX) << 32;
	v |= (sp_u128)f->shard_index;
	return v;
}

/* Split v into fields. Returns false when the version is not SP_SEQNO_VERSION. */
static inline bool
sp_seqno_unpack(sp_u128 v, struct sp_seqno_fields *f)
{
	f->epoch = (uint32_t)(v >> 104) & SP_SEQNO_EPOCH_MAX;
	f->node = (uint32_t)(v >> 96) & SP_SEQNO_NODE_MAX;
	f->counter = (uint64_t)(v >> 52) & SP_SEQNO_COUNTER_MAX;
	f->stream_tag = (uint32_t)(v >> 32) & SP_SEQNO_TAG_MAX;
	f->shard_index = (uint32_t)v;
	return (uint32_t)(v >> 124) == SP_SEQNO_VERSION;
}

/* The 20-bit tag of a stream incarnation: FNV-1a of the name, mixed with the creation time. */
static inline uint32_t
sp_seqno_stream_tag(const char *name, size_t len, int64_t created_ms)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (size_t i = 0; i < len; i++) {
		h = (h ^ (uint8_t)name[i]) * UINT64_C(0x100000001b3);
	}
	h ^= (uint64_t)created_ms;
	h *= UINT64_C(0x9e3779b97f4a7c15);
	return (uint32_t)(h >> 44) & SP_SEQNO_TAG_MAX;
}

/*
 * Decimal printing. Hot: every PutRecords entry and every GetRecords record prints a sequence
 * number, so nothing below loops per digit or divides at run time more than once. Digits come
 * from SWAR arithmetic (one word holds several lanes; each lane is split by a multiply with a
 * reciprocal, exact for the lane's range) and, on x86-64, from the same steps on SSE2 lanes.
 * Byte lane 0 holds the most significant digit, which is memory order on little-endian
 * machines only.
 */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "seqno.h prints digits in little-endian byte order"
#endif

#define SP_DEC_E8 UINT64_C(100000000)
#define SP_DEC_E16 UINT64_C(10000000000000000)
#define SP_DEC_ASCII8 UINT64_C(0x3030303030303030) /* '0' in each byte */

/*
 * The eight decimal digits of v < 10^8 as byte values 0..9, the most significant in the lowest
 * byte: v into 4-digit halves (32-bit lanes), those into 2-digit quarters (16-bit lanes), those
 * into digits. x * 10486 >> 20 is x / 100 for x < 10^4, x * 103 >> 10 is x / 10 for x < 100;
 * no product crosses into the next lane.
 */
static inline uint64_t
sp_dec8_swar(uint32_t v)
{
	uint32_t hi = v / 10000u;
	uint64_t x = hi | (uint64_t)(v - hi * 10000u) << 32;
	uint64_t y = (x * 10486u) >> 20 & UINT64_C(0x0000007f0000007f);

	x = y | (x - y * 100u) << 16;
	y = (x * 103u) >> 10 & UINT64_C(0x000f000f000f000f);
	return y | (x - y * 10u) << 8;
}

/* Digits of a 64-bit value into buf, right-aligned in exactly width digits (zero-padded). */
static inline void
sp_u64_digits(uint64_t v, char *buf, unsigned width)
{
	uint64_t d;

	while (width >= 8) {
		d = sp_dec8_swar((uint32_t)(v % SP_DEC_E8)) | SP_DEC_ASCII8;
		width -= 8;
		memcpy(buf + width, &d, 8);
		v /= SP_DEC_E8;
	}
	if (width > 0) {
		d = sp_dec8_swar((uint32_t)(v % SP_DEC_E8)) | SP_DEC_ASCII8;
		memcpy(buf, (const char *)&d + 8 - width, width);
	}
}

/* (hi:lo) / d for hi < d: one x86 divq instead of a 128-bit library division. */
static inline uint64_t
sp_u128_divq(uint64_t hi, uint64_t lo, uint64_t d, uint64_t *rem)
{
#if defined(__x86_64__)
	uint64_t q, r;

	__asm__("divq %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "rm"(d));
	*rem = r;
	return q;
#else
	sp_u128 v = (sp_u128)hi << 64 | lo;

	*rem = (uint64_t)(v % d);
	return (uint64_t)(v / d);
#endif
}

/*
 * v = a * 10^32 + b * 10^16 + c with b, c < 10^16 and a < 10^7 (2^128 < 3.5 * 10^38). One
 * divq gives c and the low 64 bits of v / 10^16 (75 bits). a comes from v's high half h alone,
 * in parallel: h * floor(2^170 / 10^32) / 2^106 is below v / 10^32 by less than 2^-41 (the low
 * half left out, the reciprocal rounded down), so its floor is a or a - 1, and one compare of
 * b against 10^16 tells. The printers are latency-bound: this keeps the chain from v to the
 * digits at one divq and two multiplies.
 */
static inline void
sp_u128_split16(sp_u128 v, uint64_t *a, uint64_t *b, uint64_t *c)
{
	uint64_t h = (uint64_t)(v >> 64);
	uint64_t qh = h / SP_DEC_E16; /* v / 10^16 = qh:ql, qh < 1845 */
	uint64_t ql = sp_u128_divq(h - qh * SP_DEC_E16, (uint64_t)v, SP_DEC_E16, c);
	uint64_t ae = (uint64_t)(((sp_u128)h * UINT64_C(0xcfb11ead453994ba)) >> 106);
	uint64_t be = ql - ae * SP_DEC_E16; /* below 2 * 10^16, so exact modulo 2^64 */
	uint64_t fix = 0 - (uint64_t)(be >= SP_DEC_E16);

	*a = ae - fix;
	*b = be - (fix & SP_DEC_E16);
}

/*
 * Print v in decimal into buf (at least SP_U128_DEC_MAX + 1 bytes, all of which it may
 * write). Returns the length; a NUL follows the digits. Portable SWAR version: five words of
 * eight digits, the leading zeros counted from the first nonzero word, and the 40-byte result
 * assembled from word pairs shifted by that count, without a branch.
 */
static inline size_t
sp_u128_format_swar(sp_u128 v, char *buf)
{
	uint64_t a, b, c, w[11] = {0}, o;
	unsigned k, lz, s;

	sp_u128_split16(v, &a, &b, &c);
	w[0] = sp_dec8_swar((uint32_t)a);
	w[1] = sp_dec8_swar((uint32_t)(b / SP_DEC_E8));
	w[2] = sp_dec8_swar((uint32_t)(b % SP_DEC_E8));
	w[3] = sp_dec8_swar((uint32_t)(c / SP_DEC_E8));
	w[4] = sp_dec8_swar((uint32_t)(c % SP_DEC_E8));
	/* the last digit always counts (bit 63 stands in for it): "0" has one digit */
	k = (unsigned)__builtin_ctz((w[0] != 0) | (w[1] != 0) << 1 | (w[2] != 0) << 2 |
				    (w[3] != 0) << 3 | 1u << 4);
	lz = 8 * k + (unsigned)__builtin_ctzll(w[k] | UINT64_C(1) << 63) / 8;
	s = 8 * (lz % 8);
	for (unsigned i = 0; i < 5; i++) {
		w[i] |= SP_DEC_ASCII8; /* w[5..10] stay 0: the NUL and what follows */
	}
	for (unsigned j = 0; j < 5; j++) {
		k = lz / 8 + j;
		o = w[k] >> s | w[k + 1] << (56 - s) << 8;
		memcpy(buf + 8 * j, &o, 8);
	}
	return SP_U128_DEC_MAX + 1 - lz;
}

#if defined(__SSE2__) && defined(__x86_64__)
/*
 * The sixteen digit values (0..9 per byte, most significant first) of the two numbers below
 * 10^8 in x's 64-bit lanes: the steps of sp_dec8_swar on SSE2 lanes. x / 10^4 is
 * x * 0xd1b71759 >> 45 for x < 2^32, x / 100 is (x * 5243 >> 16) >> 3 for x < 43690,
 * x / 10 is x * 6554 >> 16 for x < 16384.
 */
static inline __m128i
sp_dec16_sse2(__m128i x)
{
	__m128i q, r, k2559 = _mm_set1_epi16(2559);

	/* gcc turns a multiply by this constant into four shifts and adds; one pmullw is less */
	__asm__("" : "+x"(k2559));
	q = _mm_srli_epi64(_mm_mul_epu32(x, _mm_set1_epi64x(0xd1b71759)), 45);
	r = _mm_sub_epi32(x, _mm_mul_epu32(q, _mm_set1_epi64x(10000)));
	x = _mm_or_si128(q, _mm_slli_epi64(r, 32));
	q = _mm_srli_epi16(_mm_mulhi_epu16(x, _mm_set1_epi32(5243)), 3);
	r = _mm_sub_epi16(x, _mm_mullo_epi16(q, _mm_set1_epi32(100)));
	x = _mm_or_si128(q, _mm_slli_epi32(r, 16));
	q = _mm_mulhi_epu16(x, _mm_set1_epi16(6554));
	/* tens | units << 8 = q + (x - 10q) * 256 = x * 256 - q * 2559 */
	return _mm_sub_epi16(_mm_slli_epi16(x, 8), _mm_mullo_epi16(q, k2559));
}
#endif

/*
 * Print v in decimal into buf (at least SP_U128_DEC_MAX + 1 bytes, all of which it may
 * write). Returns the length; a NUL follows the digits. On x86-64, for v >= 10^32 (33 to 39
 * digits: every sequence number): 40 digits in three SSE2 registers (d0: a and b's upper half,
 * d1: b's lower and c's upper half, d2: c's lower half), the leading zeros (1 to 7, all in a)
 * counted from a itself, d0 shifted left by that many bytes, d1 and d2 stored right after it.
 * Smaller values take the portable path.
 */
static inline __attribute__((always_inline)) size_t
sp_u128_format(sp_u128 v, char *buf)
{
#if defined(__SSE2__) && defined(__x86_64__)
	static const uint32_t p10[8] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000};
	const __m128i ascii = _mm_set1_epi8('0');
	uint64_t a, b, c;
	__m128i d0, d1, d2;
	unsigned t;
	int lz;

	sp_u128_split16(v, &a, &b, &c);
	if (__builtin_expect(a == 0, 0)) {
		return sp_u128_format_swar(v, buf);
	}
	/* a's digits: floor(log10(2^bits)) = bits * 1233 >> 12, or one more */
	t = ((32u - (unsigned)__builtin_clz((uint32_t)a)) * 1233u) >> 12;
	lz = 8 - (int)t - ((uint32_t)a >= p10[t]);
	d0 = sp_dec16_sse2(_mm_set_epi64x((long long)(b / SP_DEC_E8), (long long)a));
	d1 = sp_dec16_sse2(_mm_set_epi64x((long long)(c / SP_DEC_E8), (long long)(b % SP_DEC_E8)));
	d2 = sp_dec16_sse2(_mm_cvtsi64_si128((long long)(c % SP_DEC_E8)));
	/* d0 >> 8 * lz as one 128-bit value: SSE2 shifts only 64-bit lanes by a count register */
	d0 = _mm_or_si128(d0, ascii);
	d0 = _mm_or_si128(_mm_srl_epi64(d0, _mm_cvtsi32_si128(8 * lz)),
			  _mm_sll_epi64(_mm_srli_si128(d0, 8), _mm_cvtsi32_si128(64 - 8 * lz)));
	_mm_storeu_si128((__m128i *)(void *)buf, d0);
	_mm_storeu_si128((__m128i *)(void *)(buf + 16 - lz), _mm_or_si128(d1, ascii));
	_mm_storel_epi64((__m128i *)(void *)(buf + 32 - lz), _mm_or_si128(d2, ascii));
	buf[(int)SP_U128_DEC_MAX + 1 - lz] = '\0';
	return (size_t)((int)SP_U128_DEC_MAX + 1 - lz);
#else
	return sp_u128_format_swar(v, buf);
#endif
}

/*
 * Parse a decimal string of exactly len bytes (digits only, no sign, no spaces; leading zeros
 * allowed). Returns 0, -EINVAL (empty or a non-digit) or -ERANGE (above 2^128 - 1).
 */
static inline int
sp_u128_parse(const char *s, size_t len, sp_u128 *out)
{
	const sp_u128 max = ~(sp_u128)0;
	sp_u128 v = 0;

	if (len == 0) {
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(uint8_t)s[i] - '0';

		if (d > 9) {
			return -EINVAL;
		}
		if (v > (max - d) / 10u) {
			/* keep scanning: a non-digit later is still -EINVAL */
			for (size_t j = i + 1; j < len; j++) {
				if ((unsigned)(uint8_t)s[j] - '0' > 9) {
					return -EINVAL;
				}
			}
			return -ERANGE;
		}
		v = v * 10u + d;
	}
	*out = v;
	return 0;
}

#endif /* SPATE_SEQNO_H */
