/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AVX2 MD5: 8 lanes per 256-bit register, up to MD5_AVX2_WAYS (3) registers interleaved step
 * by step, so 24 keys are in flight and the 64-step dependency chain of one register hides
 * behind the others'. One-block keys (<= 55 bytes) are loaded and padded in registers without
 * reading outside the key, transposed 8x8 into message-word vectors and hashed in one pass;
 * longer keys run block by block, full data blocks read in place.
 * Compiled with per-function target attributes, so the file builds without -mavx2; call it
 * only when the CPU has AVX2 (md5_select.c). Pure function of its input; runs on any lcore.
 */
#include "md5_internal.h"

#if defined(__x86_64__)

#include <immintrin.h>

#define MD5_AVX2_LANES 8u
/* Register groups in flight; see docs/internals/md5.md for the measurements behind it. */
#ifndef MD5_AVX2_WAYS
#define MD5_AVX2_WAYS 3u
#endif
#define MD5_AVX2_GROUP (MD5_AVX2_LANES * MD5_AVX2_WAYS)

#define AVX2_FN __attribute__((target("avx2")))
#define AVX2_INLINE static inline __attribute__((target("avx2"), always_inline))

SP_STATIC_ASSERT(MD5_AVX2_GROUP <= MD5_GROUP_MAX, "group fits the driver's index arrays");
SP_STATIC_ASSERT(MD5_AVX2_WAYS >= 1 && MD5_AVX2_WAYS <= 3, "compress1..3 exist");

#define V_ADD(x, y) _mm256_add_epi32(x, y)
#define V_ROL(x, s) _mm256_or_si256(_mm256_slli_epi32(x, s), _mm256_srli_epi32(x, 32 - (s)))

/*
 * An empty asm that makes x opaque: it stops the compiler from reassociating the sums of a
 * step, which would put the late operand (the function of b) first and lengthen the chain.
 */
AVX2_INLINE __m256i
v_pin(__m256i x)
{
	__asm__("" : "+x"(x));
	return x;
}

/*
 * a += f(b, c, d) for the four functions of RFC 1321 §3.4, arranged so that b, the register
 * written by the previous step, enters as late as possible: G as (~d & c) + (d & b), which
 * equals the RFC's OR because the two terms never share a bit.
 */
#define V_F(a, b, c, d) V_ADD(a, _mm256_xor_si256(d, _mm256_and_si256(b, _mm256_xor_si256(c, d))))
#define V_G(a, b, c, d) V_ADD(v_pin(V_ADD(a, _mm256_andnot_si256(d, c))), _mm256_and_si256(d, b))
#define V_H(a, b, c, d) V_ADD(a, _mm256_xor_si256(b, _mm256_xor_si256(c, d)))
#define V_I(a, b, c, d)                                                                    \
	V_ADD(a, _mm256_xor_si256(c, _mm256_or_si256(b, _mm256_xor_si256(d, ones))))

/* One step: a = b + ((a + w + k[i] + f(b, c, d)) <<< s), with a + w + k[i] off the chain. */
#define V_STEP(FN, a, b, c, d, w, i, s)                                                    \
	do {                                                                               \
		a = v_pin(V_ADD(a, V_ADD(w, _mm256_set1_epi32((int)kt[i]))));             \
		a = FN(a, b, c, d);                                                        \
		a = V_ADD(b, V_ROL(a, s));                                                 \
	} while (0)

/* Step i of way W: the register rotation a, d, c, b repeats every four steps. */
#define V_SW(FN, i, g, s, W)                                                               \
	if ((i) % 4 == 0) {                                                                \
		V_STEP(FN, a##W, b##W, c##W, d##W, w[W][g], i, s);                         \
	} else if ((i) % 4 == 1) {                                                         \
		V_STEP(FN, d##W, a##W, b##W, c##W, w[W][g], i, s);                         \
	} else if ((i) % 4 == 2) {                                                         \
		V_STEP(FN, c##W, d##W, a##W, b##W, w[W][g], i, s);                         \
	} else {                                                                           \
		V_STEP(FN, b##W, c##W, d##W, a##W, w[W][g], i, s);                         \
	}

/* The steps of 1, 2 or 3 ways, interleaved step by step. */
#define X1(FN, i, g, s) V_SW(FN, i, g, s, 0)
#define X2(FN, i, g, s) X1(FN, i, g, s) V_SW(FN, i, g, s, 1)
#define X3(FN, i, g, s) X2(FN, i, g, s) V_SW(FN, i, g, s, 2)
#define X1_F(i, g, k, s) X1(V_F, i, g, s)
#define X1_G(i, g, k, s) X1(V_G, i, g, s)
#define X1_H(i, g, k, s) X1(V_H, i, g, s)
#define X1_I(i, g, k, s) X1(V_I, i, g, s)
#define X2_F(i, g, k, s) X2(V_F, i, g, s)
#define X2_G(i, g, k, s) X2(V_G, i, g, s)
#define X2_H(i, g, k, s) X2(V_H, i, g, s)
#define X2_I(i, g, k, s) X2(V_I, i, g, s)
#define X3_F(i, g, k, s) X3(V_F, i, g, s)
#define X3_G(i, g, k, s) X3(V_G, i, g, s)
#define X3_H(i, g, k, s) X3(V_H, i, g, s)
#define X3_I(i, g, k, s) X3(V_I, i, g, s)

#define V_LOAD_WAY(W)                                                                      \
	__m256i a##W = st[4 * (W)], b##W = st[4 * (W) + 1];                               \
	__m256i c##W = st[4 * (W) + 2], d##W = st[4 * (W) + 3];
#define V_FOLD_WAY(W)                                                                      \
	st[4 * (W)] = V_ADD(st[4 * (W)], a##W);                                            \
	st[4 * (W) + 1] = V_ADD(st[4 * (W) + 1], b##W);                                    \
	st[4 * (W) + 2] = V_ADD(st[4 * (W) + 2], c##W);                                    \
	st[4 * (W) + 3] = V_ADD(st[4 * (W) + 3], d##W);

/*
 * Fold one block per lane into the state of 1, 2 or 3 register groups (8 lanes each): st[4W ..
 * 4W + 3] are a, b, c, d of group W and w[W][0..15] its message words. Not inlined: the group
 * functions share them, which keeps the hot code within the instruction cache.
 */
static AVX2_FN __attribute__((noinline)) void
avx2_compress1(__m256i *st, const __m256i (*w)[16])
{
	const __m256i ones = _mm256_set1_epi32(-1);
	const uint32_t *kt = md5_k_table();
	V_LOAD_WAY(0)

	MD5_ROUND1(X1_F)
	MD5_ROUND2(X1_G)
	MD5_ROUND3(X1_H)
	MD5_ROUND4(X1_I)
	V_FOLD_WAY(0)
}

static AVX2_FN __attribute__((noinline)) void
avx2_compress2(__m256i *st, const __m256i (*w)[16])
{
	const __m256i ones = _mm256_set1_epi32(-1);
	const uint32_t *kt = md5_k_table();
	V_LOAD_WAY(0)
	V_LOAD_WAY(1)

	MD5_ROUND1(X2_F)
	MD5_ROUND2(X2_G)
	MD5_ROUND3(X2_H)
	MD5_ROUND4(X2_I)
	V_FOLD_WAY(0)
	V_FOLD_WAY(1)
}

static AVX2_FN __attribute__((noinline)) void
avx2_compress3(__m256i *st, const __m256i (*w)[16])
{
	const __m256i ones = _mm256_set1_epi32(-1);
	const uint32_t *kt = md5_k_table();
	V_LOAD_WAY(0)
	V_LOAD_WAY(1)
	V_LOAD_WAY(2)

	MD5_ROUND1(X3_F)
	MD5_ROUND2(X3_G)
	MD5_ROUND3(X3_H)
	MD5_ROUND4(X3_I)
	V_FOLD_WAY(0)
	V_FOLD_WAY(1)
	V_FOLD_WAY(2)
}

/* Run ways = 1 .. MD5_AVX2_WAYS register groups. */
AVX2_INLINE void
avx2_compress(__m256i *st, const __m256i (*w)[16], uint32_t ways)
{
	SP_ASSERT(ways >= 1 && ways <= MD5_AVX2_WAYS);
	if (ways == 1) {
		avx2_compress1(st, w);
	} else if (ways == 2) {
		avx2_compress2(st, w);
	} else {
		avx2_compress3(st, w);
	}
}

/*
 * Transpose 8 rows of 8 dwords: out[j] holds dword j of every row, row i in element i. Written
 * out by hand: gcc -O2 keeps looped versions of this in memory.
 */
AVX2_INLINE void
avx2_transpose8(const __m256i r[8], __m256i out[8])
{
	__m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]);
	__m256i t1 = _mm256_unpackhi_epi32(r[0], r[1]);
	__m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]);
	__m256i t3 = _mm256_unpackhi_epi32(r[2], r[3]);
	__m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]);
	__m256i t5 = _mm256_unpackhi_epi32(r[4], r[5]);
	__m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]);
	__m256i t7 = _mm256_unpackhi_epi32(r[6], r[7]);
	/* u0..u3: dwords 0..3 of rows 0..3 (low half) and dwords 4..7 (high half). */
	__m256i u0 = _mm256_unpacklo_epi64(t0, t2);
	__m256i u1 = _mm256_unpackhi_epi64(t0, t2);
	__m256i u2 = _mm256_unpacklo_epi64(t1, t3);
	__m256i u3 = _mm256_unpackhi_epi64(t1, t3);
	__m256i u4 = _mm256_unpacklo_epi64(t4, t6);
	__m256i u5 = _mm256_unpackhi_epi64(t4, t6);
	__m256i u6 = _mm256_unpacklo_epi64(t5, t7);
	__m256i u7 = _mm256_unpackhi_epi64(t5, t7);

	out[0] = _mm256_permute2x128_si256(u0, u4, 0x20);
	out[1] = _mm256_permute2x128_si256(u1, u5, 0x20);
	out[2] = _mm256_permute2x128_si256(u2, u6, 0x20);
	out[3] = _mm256_permute2x128_si256(u3, u7, 0x20);
	out[4] = _mm256_permute2x128_si256(u0, u4, 0x31);
	out[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
	out[6] = _mm256_permute2x128_si256(u2, u6, 0x31);
	out[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
}

/* Message words w[0..15] of the 8 lanes whose blocks start at rows[0..7]. */
AVX2_INLINE void
avx2_load_words(const uint8_t *const rows[MD5_AVX2_LANES], __m256i w[16])
{
	__m256i lo[MD5_AVX2_LANES];
	__m256i hi[MD5_AVX2_LANES];

#define AVX2_LOAD_ROW(i)                                                                   \
	lo[i] = _mm256_loadu_si256((const __m256i *)rows[i]);                              \
	hi[i] = _mm256_loadu_si256((const __m256i *)(rows[i] + 32));
	AVX2_LOAD_ROW(0) AVX2_LOAD_ROW(1) AVX2_LOAD_ROW(2) AVX2_LOAD_ROW(3)
	AVX2_LOAD_ROW(4) AVX2_LOAD_ROW(5) AVX2_LOAD_ROW(6) AVX2_LOAD_ROW(7)
#undef AVX2_LOAD_ROW
	avx2_transpose8(lo, w);
	avx2_transpose8(hi, w + 8);
}

/*
 * The padded block of a key of at most 55 bytes, built in two registers without touching a
 * byte outside the key: whole dwords through a masked load (masked-off dwords are not read and
 * cannot fault), the 0..3 trailing bytes and the 0x80 byte as one dword blended in at its
 * place, the bit length into dword 14. No store to memory, so no store-forwarding stall.
 */
AVX2_INLINE void
avx2_row_one(const struct sp_md5_key *key, __m256i *lo, __m256i *hi)
{
	const __m256i iota_lo = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
	const __m256i iota_hi = _mm256_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15);
	static const uint8_t none[1];
	size_t len = key->len;
	const uint8_t *p = len != 0 ? key->data : none;
	size_t tail = len & 3;
	uint32_t last = 0;
	__m256i nw;
	__m256i tw;

	SP_ASSERT(len <= SP_MD5_ONE_BLOCK_MAX);
	if (SP_LIKELY(len >= 4)) {
		/* The last four bytes of the key; the trailing ones end up in the low bytes. */
		memcpy(&last, p + len - 4, sizeof(last));
		last = (uint32_t)((uint64_t)last >> (32 - 8 * tail));
	} else if (len > 0) {
		last = p[0] | (uint32_t)p[len / 2] << (8 * (len / 2)) |
		       (uint32_t)p[len - 1] << (8 * (len - 1));
	}
	nw = _mm256_set1_epi32((int)(len >> 2));
	tw = _mm256_set1_epi32((int)(last | 0x80u << (8 * tail)));
	*lo = _mm256_maskload_epi32((const int *)p, _mm256_cmpgt_epi32(nw, iota_lo));
	*hi = _mm256_maskload_epi32((const int *)(p + 32), _mm256_cmpgt_epi32(nw, iota_hi));
	*lo = _mm256_blendv_epi8(*lo, tw, _mm256_cmpeq_epi32(nw, iota_lo));
	*hi = _mm256_blendv_epi8(*hi, tw, _mm256_cmpeq_epi32(nw, iota_hi));
	*hi = _mm256_blend_epi32(*hi, _mm256_set1_epi32((int)(len * 8)), 1 << 6);
}

AVX2_INLINE void
avx2_state_init(__m256i st[4 * MD5_AVX2_WAYS])
{
	uint32_t i;

	for (i = 0; i < MD5_AVX2_WAYS; i++) {
		st[4 * i + 0] = _mm256_set1_epi32((int)MD5_A0);
		st[4 * i + 1] = _mm256_set1_epi32((int)MD5_B0);
		st[4 * i + 2] = _mm256_set1_epi32((int)MD5_C0);
		st[4 * i + 3] = _mm256_set1_epi32((int)MD5_D0);
	}
}

/* Digest j of a register group (a, b, c, d little-endian) into dg[j], for its 8 lanes. */
AVX2_INLINE void
avx2_digests(const __m256i st[4], __m128i dg[MD5_AVX2_LANES])
{
	__m256i t0 = _mm256_unpacklo_epi32(st[0], st[1]);
	__m256i t1 = _mm256_unpackhi_epi32(st[0], st[1]);
	__m256i t2 = _mm256_unpacklo_epi32(st[2], st[3]);
	__m256i t3 = _mm256_unpackhi_epi32(st[2], st[3]);
	/* u0: lanes 0 and 4; u1: 1 and 5; u2: 2 and 6; u3: 3 and 7. */
	__m256i u0 = _mm256_unpacklo_epi64(t0, t2);
	__m256i u1 = _mm256_unpackhi_epi64(t0, t2);
	__m256i u2 = _mm256_unpacklo_epi64(t1, t3);
	__m256i u3 = _mm256_unpackhi_epi64(t1, t3);

	dg[0] = _mm256_castsi256_si128(u0);
	dg[1] = _mm256_castsi256_si128(u1);
	dg[2] = _mm256_castsi256_si128(u2);
	dg[3] = _mm256_castsi256_si128(u3);
	dg[4] = _mm256_extracti128_si256(u0, 1);
	dg[5] = _mm256_extracti128_si256(u1, 1);
	dg[6] = _mm256_extracti128_si256(u2, 1);
	dg[7] = _mm256_extracti128_si256(u3, 1);
}

/* Hash up to MD5_AVX2_GROUP keys of at most 55 bytes each: one block per lane, in registers. */
static AVX2_FN void
avx2_group_one(const struct sp_md5_key *keys, const uint32_t *idx, uint32_t n,
	       struct sp_md5_digest *out)
{
	__m256i lo[MD5_AVX2_GROUP];
	__m256i hi[MD5_AVX2_GROUP];
	__m256i w[MD5_AVX2_WAYS][16];
	__m128i dg[MD5_AVX2_GROUP];
	__m256i st[4 * MD5_AVX2_WAYS];
	uint32_t ways = (n + MD5_AVX2_LANES - 1) / MD5_AVX2_LANES;
	uint32_t j;

	SP_ASSERT(n >= 1 && n <= MD5_AVX2_GROUP);
	for (j = 0; j < n; j++) {
		avx2_row_one(&keys[idx[j]], &lo[j], &hi[j]);
	}
	for (; j < ways * MD5_AVX2_LANES; j++) {
		lo[j] = hi[j] = _mm256_setzero_si256();
	}
	avx2_state_init(st);
	for (j = 0; j < ways; j++) {
		avx2_transpose8(lo + j * MD5_AVX2_LANES, w[j]);
		avx2_transpose8(hi + j * MD5_AVX2_LANES, w[j] + 8);
	}
	avx2_compress(st, (const __m256i(*)[16])w, ways);
	for (j = 0; j < ways; j++) {
		avx2_digests(st + 4 * j, dg + j * MD5_AVX2_LANES);
	}
	for (j = 0; j < n; j++) {
		_mm_storeu_si128((__m128i *)out[idx[j]].b, dg[j]);
	}
}

/*
 * Hash up to MD5_AVX2_GROUP keys of 56..SP_MD5_VEC_MAX_LEN bytes block by block: full data
 * blocks are read in place, the padded tail blocks built on the stack. A lane whose key has
 * ended hashes a zero block that nobody reads; a lane's digest is stored after its last block.
 */
static AVX2_FN void
avx2_group_multi(const struct sp_md5_key *keys, const uint32_t *idx, uint32_t n,
		 struct sp_md5_digest *out)
{
	static const uint8_t zero[MD5_BLOCK];
	uint8_t blk[MD5_AVX2_GROUP][MD5_BLOCK] __attribute__((aligned(32)));
	const uint8_t *rows[MD5_AVX2_GROUP];
	size_t nb[MD5_AVX2_GROUP];
	__m128i dg[MD5_AVX2_GROUP];
	__m256i w[MD5_AVX2_WAYS][16];
	__m256i st[4 * MD5_AVX2_WAYS];
	uint32_t ways = (n + MD5_AVX2_LANES - 1) / MD5_AVX2_LANES;
	size_t maxb = 0;
	size_t k;
	uint32_t j;

	SP_ASSERT(n >= 1 && n <= MD5_AVX2_GROUP);
	for (j = 0; j < n; j++) {
		nb[j] = md5_nblocks(keys[idx[j]].len);
		maxb = SP_MAX(maxb, nb[j]);
	}
	for (; j < MD5_AVX2_GROUP; j++) {
		nb[j] = 0;
		rows[j] = zero;
	}
	SP_VERIFY(maxb <= md5_nblocks(SP_MD5_VEC_MAX_LEN));
	avx2_state_init(st);
	for (k = 0; k < maxb; k++) {
		for (j = 0; j < n; j++) {
			const uint8_t *p = keys[idx[j]].data;
			size_t len = keys[idx[j]].len;

			if ((k + 1) * MD5_BLOCK <= len) {
				rows[j] = p + k * MD5_BLOCK;
			} else if (k < nb[j]) {
				md5_pad_tail(blk[j], p, len, k);
				rows[j] = blk[j];
			} else {
				rows[j] = zero;
			}
		}
		for (j = 0; j < ways; j++) {
			avx2_load_words(rows + j * MD5_AVX2_LANES, w[j]);
		}
		avx2_compress(st, (const __m256i(*)[16])w, ways);
		for (j = 0; j < ways; j++) {
			avx2_digests(st + 4 * j, dg + j * MD5_AVX2_LANES);
		}
		for (j = 0; j < n; j++) {
			if (nb[j] == k + 1) {
				_mm_storeu_si128((__m128i *)out[idx[j]].b, dg[j]);
			}
		}
	}
}

AVX2_FN void
sp_md5_batch_avx2(const struct sp_md5_key *keys, size_t n, struct sp_md5_digest *out)
{
	md5_drive(keys, n, out, MD5_AVX2_GROUP, avx2_group_one, avx2_group_multi);
}

#else /* !__x86_64__ */

/* No AVX2 on this architecture: md5_select.c never picks this kernel; keep it correct. */
void
sp_md5_batch_avx2(const struct sp_md5_key *keys, size_t n, struct sp_md5_digest *out)
{
	sp_md5_batch_scalar(keys, n, out);
}

#endif /* __x86_64__ */
