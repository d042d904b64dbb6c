/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AVX-512 MD5: 16 lanes per 512-bit register, up to MD5_AVX512_WAYS (4) registers interleaved
 * (64 keys in flight).
 * Each auxiliary function is one vpternlogd and each rotation one vprold, so a step is six
 * instructions and four of latency. A one-block key (<= 55 bytes) is read with a byte-masked
 * load straight into its row register (masked-off bytes are never touched, so nothing past
 * the key is read), padded in the register, and the 16 rows are transposed in registers;
 * longer keys run block by block like the AVX2 kernel. Needs AVX512F, BW and VL; compiled
 * with per-function target attributes; md5_select.c calls it only on such CPUs. Pure
 * function of its input; runs on any lcore.
 */
#include "md5_internal.h"

#if defined(__x86_64__)

#include <immintrin.h>

#define MD5_AVX512_LANES 16u
/* Register groups in flight; see docs/internals/md5.md for the measurements behind it. */
#ifndef MD5_AVX512_WAYS
#define MD5_AVX512_WAYS 4u
#endif
#define MD5_AVX512_GROUP (MD5_AVX512_LANES * MD5_AVX512_WAYS)

#define AVX512_TARGET "avx2,avx512f,avx512bw,avx512vl"
#define AVX512_FN __attribute__((target(AVX512_TARGET)))
#define AVX512_INLINE static inline __attribute__((target(AVX512_TARGET), always_inline))

SP_STATIC_ASSERT(MD5_AVX512_GROUP <= MD5_GROUP_MAX, "group fits the driver's index arrays");
SP_STATIC_ASSERT(MD5_AVX512_WAYS >= 1 && MD5_AVX512_WAYS <= 4, "compress1..4 exist");

/* vpternlogd truth tables (operands b, c, d) of the four functions of RFC 1321 §3.4. */
#define TL_F 0xca /* (b & c) | (~b & d) */
#define TL_G 0xe4 /* (b & d) | (c & ~d) */
#define TL_H 0x96 /* b ^ c ^ d */
#define TL_I 0x39 /* c ^ (b | ~d) */

#define Z_ADD(x, y) _mm512_add_epi32(x, y)

/* An empty asm that makes x opaque, so that the sums of a step are not reassociated. */
AVX512_INLINE __m512i
z_pin(__m512i x)
{
	__asm__("" : "+v"(x));
	return x;
}

/* One step: a = b + ((a + w + k[i] + f(b, c, d)) <<< s), with a + w + k[i] off the chain. */
#define Z_STEP(TL, a, b, c, d, w, i, s)                                                    \
	do {                                                                               \
		a = z_pin(Z_ADD(a, Z_ADD(w, _mm512_set1_epi32((int)kt[i]))));             \
		a = Z_ADD(a, _mm512_ternarylogic_epi32(b, c, d, TL));                      \
		a = Z_ADD(b, _mm512_rol_epi32(a, s));                                      \
	} while (0)

/* Step i of way W: the register rotation a, d, c, b repeats every four steps. */
#define Z_SW(TL, i, g, s, W)                                                               \
	if ((i) % 4 == 0) {                                                                \
		Z_STEP(TL, a##W, b##W, c##W, d##W, w[W][g], i, s);                         \
	} else if ((i) % 4 == 1) {                                                         \
		Z_STEP(TL, d##W, a##W, b##W, c##W, w[W][g], i, s);                         \
	} else if ((i) % 4 == 2) {                                                         \
		Z_STEP(TL, c##W, d##W, a##W, b##W, w[W][g], i, s);                         \
	} else {                                                                           \
		Z_STEP(TL, b##W, c##W, d##W, a##W, w[W][g], i, s);                         \
	}

/* The steps of 1 to 4 ways, interleaved step by step. */
#define Z1(TL, i, g, s) Z_SW(TL, i, g, s, 0)
#define Z2(TL, i, g, s) Z1(TL, i, g, s) Z_SW(TL, i, g, s, 1)
#define Z3(TL, i, g, s) Z2(TL, i, g, s) Z_SW(TL, i, g, s, 2)
#define Z4(TL, i, g, s) Z3(TL, i, g, s) Z_SW(TL, i, g, s, 3)
#define Z_ROUNDS(ZN)                                                                       \
	MD5_ROUND1(ZN##_F) MD5_ROUND2(ZN##_G) MD5_ROUND3(ZN##_H) MD5_ROUND4(ZN##_I)
#define Z1_F(i, g, k, s) Z1(TL_F, i, g, s)
#define Z1_G(i, g, k, s) Z1(TL_G, i, g, s)
#define Z1_H(i, g, k, s) Z1(TL_H, i, g, s)
#define Z1_I(i, g, k, s) Z1(TL_I, i, g, s)
#define Z2_F(i, g, k, s) Z2(TL_F, i, g, s)
#define Z2_G(i, g, k, s) Z2(TL_G, i, g, s)
#define Z2_H(i, g, k, s) Z2(TL_H, i, g, s)
#define Z2_I(i, g, k, s) Z2(TL_I, i, g, s)
#define Z3_F(i, g, k, s) Z3(TL_F, i, g, s)
#define Z3_G(i, g, k, s) Z3(TL_G, i, g, s)
#define Z3_H(i, g, k, s) Z3(TL_H, i, g, s)
#define Z3_I(i, g, k, s) Z3(TL_I, i, g, s)
#define Z4_F(i, g, k, s) Z4(TL_F, i, g, s)
#define Z4_G(i, g, k, s) Z4(TL_G, i, g, s)
#define Z4_H(i, g, k, s) Z4(TL_H, i, g, s)
#define Z4_I(i, g, k, s) Z4(TL_I, i, g, s)

#define Z_LOAD_WAY(W)                                                                      \
	__m512i a##W = st[4 * (W)], b##W = st[4 * (W) + 1];                               \
	__m512i c##W = st[4 * (W) + 2], d##W = st[4 * (W) + 3];
#define Z_FOLD_WAY(W)                                                                      \
	st[4 * (W)] = Z_ADD(st[4 * (W)], a##W);                                            \
	st[4 * (W) + 1] = Z_ADD(st[4 * (W) + 1], b##W);                                    \
	st[4 * (W) + 2] = Z_ADD(st[4 * (W) + 2], c##W);                                    \
	st[4 * (W) + 3] = Z_ADD(st[4 * (W) + 3], d##W);

/*
 * Fold one block per lane into the state of 1 to 4 register groups (16 lanes each): st[4W ..
 * 4W + 3] are a, b, c, d of group W and w[W][0..15] its message words. Not inlined: the group
 * functions share them, which keeps the hot code within the instruction cache.
 */
static AVX512_FN __attribute__((noinline)) void
avx512_compress1(__m512i *st, const __m512i (*w)[16])
{
	const uint32_t *kt = md5_k_table();
	Z_LOAD_WAY(0)

	Z_ROUNDS(Z1)
	Z_FOLD_WAY(0)
}

static AVX512_FN __attribute__((noinline)) void
avx512_compress2(__m512i *st, const __m512i (*w)[16])
{
	const uint32_t *kt = md5_k_table();
	Z_LOAD_WAY(0)
	Z_LOAD_WAY(1)

	Z_ROUNDS(Z2)
	Z_FOLD_WAY(0)
	Z_FOLD_WAY(1)
}

static AVX512_FN __attribute__((noinline)) void
avx512_compress3(__m512i *st, const __m512i (*w)[16])
{
	const uint32_t *kt = md5_k_table();
	Z_LOAD_WAY(0)
	Z_LOAD_WAY(1)
	Z_LOAD_WAY(2)

	Z_ROUNDS(Z3)
	Z_FOLD_WAY(0)
	Z_FOLD_WAY(1)
	Z_FOLD_WAY(2)
}

static AVX512_FN __attribute__((noinline)) void
avx512_compress4(__m512i *st, const __m512i (*w)[16])
{
	const uint32_t *kt = md5_k_table();
	Z_LOAD_WAY(0)
	Z_LOAD_WAY(1)
	Z_LOAD_WAY(2)
	Z_LOAD_WAY(3)

	Z_ROUNDS(Z4)
	Z_FOLD_WAY(0)
	Z_FOLD_WAY(1)
	Z_FOLD_WAY(2)
	Z_FOLD_WAY(3)
}

/* Run ways = 1 .. MD5_AVX512_WAYS register groups. */
AVX512_INLINE void
avx512_compress(__m512i *st, const __m512i (*w)[16], uint32_t ways)
{
	SP_ASSERT(ways >= 1 && ways <= MD5_AVX512_WAYS);
	if (ways == 1) {
		avx512_compress1(st, w);
	} else if (ways == 2) {
		avx512_compress2(st, w);
	} else if (ways == 3) {
		avx512_compress3(st, w);
	} else {
		avx512_compress4(st, w);
	}
}

/*
 * Transpose 16 rows of 16 dwords in place: afterwards r[j] holds dword j of every row, row i in
 * element i. Dwords, then qwords within 128-bit lanes, then 128-bit lanes across registers.
 */
AVX512_INLINE void
avx512_transpose16(__m512i r[16])
{
	__m512i t[16];
	__m512i u[16];
	unsigned i;

	for (i = 0; i < 8; i++) {
		t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
		t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
	}
	/* u[4i + c]: in 128-bit lane L, dword 4L + c of rows 4i .. 4i + 3. */
	for (i = 0; i < 4; i++) {
		u[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i + 0], t[4 * i + 2]);
		u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i + 0], t[4 * i + 2]);
		u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
		u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
	}
	for (i = 0; i < 4; i++) {
		__m512i p0 = _mm512_shuffle_i32x4(u[i], u[4 + i], 0x44);
		__m512i p1 = _mm512_shuffle_i32x4(u[i], u[4 + i], 0xee);
		__m512i q0 = _mm512_shuffle_i32x4(u[8 + i], u[12 + i], 0x44);
		__m512i q1 = _mm512_shuffle_i32x4(u[8 + i], u[12 + i], 0xee);

		r[0 + i] = _mm512_shuffle_i32x4(p0, q0, 0x88);
		r[4 + i] = _mm512_shuffle_i32x4(p0, q0, 0xdd);
		r[8 + i] = _mm512_shuffle_i32x4(p1, q1, 0x88);
		r[12 + i] = _mm512_shuffle_i32x4(p1, q1, 0xdd);
	}
}

/* The padded block of a key of at most 55 bytes, built in a register. */
AVX512_INLINE __m512i
avx512_row_one(const struct sp_md5_key *key)
{
	static const uint8_t none[1];
	size_t len = key->len;
	const void *p = len != 0 ? key->data : none;
	__m512i r;

	SP_ASSERT(len <= SP_MD5_ONE_BLOCK_MAX);
	r = _mm512_maskz_loadu_epi8(((__mmask64)1 << len) - 1, p);
	r = _mm512_mask_mov_epi8(r, (__mmask64)1 << len, _mm512_set1_epi8((char)0x80));
	return _mm512_mask_mov_epi32(r, (__mmask16)(1u << 14), _mm512_set1_epi32((int)(len * 8)));
}

AVX512_INLINE void
avx512_state_init(__m512i st[4 * MD5_AVX512_WAYS])
{
	uint32_t i;

	for (i = 0; i < MD5_AVX512_WAYS; i++) {
		st[4 * i + 0] = _mm512_set1_epi32((int)MD5_A0);
		st[4 * i + 1] = _mm512_set1_epi32((int)MD5_B0);
		st[4 * i + 2] = _mm512_set1_epi32((int)MD5_C0);
		st[4 * i + 3] = _mm512_set1_epi32((int)MD5_D0);
	}
}

/* Digest j of a register group (a, b, c, d little-endian) into dg[j], for its 16 lanes. */
AVX512_INLINE void
avx512_digests(const __m512i st[4], __m128i dg[MD5_AVX512_LANES])
{
	__m512i t0 = _mm512_unpacklo_epi32(st[0], st[1]);
	__m512i t1 = _mm512_unpackhi_epi32(st[0], st[1]);
	__m512i t2 = _mm512_unpacklo_epi32(st[2], st[3]);
	__m512i t3 = _mm512_unpackhi_epi32(st[2], st[3]);
	__m512i u[4];
	unsigned c;

	/* u[c]: in 128-bit lane L, the digest of lane 4L + c. */
	u[0] = _mm512_unpacklo_epi64(t0, t2);
	u[1] = _mm512_unpackhi_epi64(t0, t2);
	u[2] = _mm512_unpacklo_epi64(t1, t3);
	u[3] = _mm512_unpackhi_epi64(t1, t3);
	for (c = 0; c < 4; c++) {
		dg[c] = _mm512_castsi512_si128(u[c]);
		dg[4 + c] = _mm512_extracti32x4_epi32(u[c], 1);
		dg[8 + c] = _mm512_extracti32x4_epi32(u[c], 2);
		dg[12 + c] = _mm512_extracti32x4_epi32(u[c], 3);
	}
}

/* Hash up to MD5_AVX512_GROUP keys of at most 55 bytes each: one block per lane, in registers. */
static AVX512_FN void
avx512_group_one(const struct sp_md5_key *keys, const uint32_t *idx, uint32_t n,
		 struct sp_md5_digest *out)
{
	__m512i w[MD5_AVX512_WAYS][16];
	__m128i dg[MD5_AVX512_GROUP];
	__m512i st[4 * MD5_AVX512_WAYS];
	uint32_t ways = (n + MD5_AVX512_LANES - 1) / MD5_AVX512_LANES;
	uint32_t j;

	SP_ASSERT(n >= 1 && n <= MD5_AVX512_GROUP);
	for (j = 0; j < n; j++) {
		w[j / MD5_AVX512_LANES][j % MD5_AVX512_LANES] = avx512_row_one(&keys[idx[j]]);
	}
	for (; j < ways * MD5_AVX512_LANES; j++) {
		w[j / MD5_AVX512_LANES][j % MD5_AVX512_LANES] = _mm512_setzero_si512();
	}
	avx512_state_init(st);
	for (j = 0; j < ways; j++) {
		avx512_transpose16(w[j]);
	}
	avx512_compress(st, (const __m512i(*)[16])w, ways);
	for (j = 0; j < ways; j++) {
		avx512_digests(st + 4 * j, dg + j * MD5_AVX512_LANES);
	}
	for (j = 0; j < n; j++) {
		_mm_storeu_si128((__m128i *)out[idx[j]].b, dg[j]);
	}
}

/*
 * Hash up to MD5_AVX512_GROUP keys of 56..SP_MD5_VEC_MAX_LEN bytes block by block: full data
 * blocks are read in place, the padded tail blocks built on the stack. A lane whose key has
 * ended hashes a zero block that nobody reads; a lane's digest is stored after its last block.
 */
static AVX512_FN void
avx512_group_multi(const struct sp_md5_key *keys, const uint32_t *idx, uint32_t n,
		   struct sp_md5_digest *out)
{
	uint8_t blk[MD5_AVX512_GROUP][MD5_BLOCK] __attribute__((aligned(64)));
	size_t nb[MD5_AVX512_GROUP];
	__m128i dg[MD5_AVX512_GROUP];
	__m512i w[MD5_AVX512_WAYS][16];
	__m512i st[4 * MD5_AVX512_WAYS];
	uint32_t ways = (n + MD5_AVX512_LANES - 1) / MD5_AVX512_LANES;
	size_t maxb = 0;
	size_t k;
	uint32_t j;

	SP_ASSERT(n >= 1 && n <= MD5_AVX512_GROUP);
	for (j = 0; j < n; j++) {
		nb[j] = md5_nblocks(keys[idx[j]].len);
		maxb = SP_MAX(maxb, nb[j]);
	}
	SP_VERIFY(maxb <= md5_nblocks(SP_MD5_VEC_MAX_LEN));
	avx512_state_init(st);
	for (k = 0; k < maxb; k++) {
		for (j = 0; j < ways * MD5_AVX512_LANES; j++) {
			__m512i *row = &w[j / MD5_AVX512_LANES][j % MD5_AVX512_LANES];
			const uint8_t *p = j < n ? keys[idx[j]].data : NULL;
			size_t len = j < n ? keys[idx[j]].len : 0;

			if ((k + 1) * MD5_BLOCK <= len) {
				*row = _mm512_loadu_si512(p + k * MD5_BLOCK);
			} else if (j < n && k < nb[j]) {
				md5_pad_tail(blk[j], p, len, k);
				*row = _mm512_load_si512(blk[j]);
			} else {
				*row = _mm512_setzero_si512();
			}
		}
		for (j = 0; j < ways; j++) {
			avx512_transpose16(w[j]);
		}
		avx512_compress(st, (const __m512i(*)[16])w, ways);
		for (j = 0; j < ways; j++) {
			avx512_digests(st + 4 * j, dg + j * MD5_AVX512_LANES);
		}
		for (j = 0; j < n; j++) {
			if (nb[j] == k + 1) {
				_mm_storeu_si128((__m128i *)out[idx[j]].b, dg[j]);
			}
		}
	}
}

AVX512_FN void
sp_md5_batch_avx512(const struct sp_md5_key *keys, size_t n, struct sp_md5_digest *out)
{
	md5_drive(keys, n, out, MD5_AVX512_GROUP, avx512_group_one, avx512_group_multi);
}

#else /* !__x86_64__ */

/* No AVX-512 on this architecture: md5_select.c never picks this kernel; keep it correct. */
void
sp_md5_batch_avx512(const struct sp_md5_key *keys, size_t n, struct sp_md5_digest *out)
{
	sp_md5_batch_scalar(keys, n, out);
}

#endif /* __x86_64__ */
