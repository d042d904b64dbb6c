/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AVX-512 (F+BW) base64: 64 characters per 512-bit register, by the same method as the AVX2
 * kernel (b64_avx2.c explains the lookups and the multiply-add packing), with three things
 * only AVX-512 gives: the bad-byte test yields a mask register (vptestmb), the lane compaction
 * after packing is one vpermd over the whole register, and the remainder below one register
 * is loaded and stored with byte masks, which neither read nor write a byte outside the mask
 * (so a buffer ending at a page edge is safe and no scalar loop handles the middle sizes).
 *
 * As in AVX2, every quad but the last goes through the vectors and the last quad goes to the
 * scalar kernel, which owns the pad rules. Only F and BW are needed (no VBMI), so any
 * AVX-512 CPU can run it. Per-function target attributes; b64.c calls it only when the CPU has
 * AVX-512F and BW. Pure; any lcore.
 */
#include <errno.h>

#include <spate/assert.h>

#include "b64.h"

#if defined(__x86_64__)

#include <immintrin.h>

#define AVX512_TARGET "avx2,avx512f,avx512bw"
#define AVX512_FN __attribute__((target(AVX512_TARGET)))
#define AVX512_INLINE static inline __attribute__((target(AVX512_TARGET), always_inline))

/* Characters per register and the bytes they decode to. */
#define Z_CHARS 64u
#define Z_BYTES 48u
#define Z_MASK(n) ((__mmask64)((n) >= 64 ? ~0ull : (1ull << (n)) - 1))

/* The same 16 bytes in each 128-bit lane: vpshufb looks up within each lane. */
#define Z_LUT(b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15)         \
	_mm512_broadcast_i32x4(_mm_setr_epi8(b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, \
					     b12, b13, b14, b15))

/* The tables of b64_avx2.c, where each is explained. */
#define Z_CLASS_HI                                                                         \
	Z_LUT(0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10,    \
	      0x10, 0x10, 0x10)
#define Z_CLASS_LO                                                                         \
	Z_LUT(0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1a, 0x1b,    \
	      0x1b, 0x1b, 0x1a)
#define Z_DEC_DELTA Z_LUT(0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0)
#define Z_DEC_SHUF Z_LUT(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1)
#define Z_ENC_SHUF Z_LUT(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10)
#define Z_ENC_DELTA Z_LUT(71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 65, 0, 0)

/* 64 characters to 6-bit values; *bad gets a bit for every byte outside the alphabet. */
AVX512_INLINE __m512i
z_dec_values(__m512i x, __mmask64 *bad)
{
	const __m512i nib = _mm512_set1_epi8(0x0f);
	__m512i hi = _mm512_and_si512(_mm512_srli_epi32(x, 4), nib);
	__m512i lo = _mm512_and_si512(x, nib);
	__mmask64 slash = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('/'));
	__m512i idx = _mm512_mask_sub_epi8(hi, slash, hi, _mm512_set1_epi8(1));

	*bad = _mm512_test_epi8_mask(_mm512_shuffle_epi8(Z_CLASS_LO, lo),
				     _mm512_shuffle_epi8(Z_CLASS_HI, hi));
	return _mm512_add_epi8(x, _mm512_shuffle_epi8(Z_DEC_DELTA, idx));
}

/* 64 values to 48 bytes at the bottom of the result. */
AVX512_INLINE __m512i
z_dec_pack(__m512i v)
{
	__m512i ab = _mm512_maddubs_epi16(v, _mm512_set1_epi32(0x01400140));
	__m512i w = _mm512_madd_epi16(ab, _mm512_set1_epi32(0x00011000));

	w = _mm512_shuffle_epi8(w, Z_DEC_SHUF);
	return _mm512_permutexvar_epi32(
		_mm512_setr_epi32(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 3, 7, 11, 15), w);
}

/* Decode all of body (a multiple of 4) into out; returns the OR of the bad-byte masks. */
AVX512_INLINE __mmask64
z_dec_body(const char *in, size_t body, uint8_t *out)
{
	__mmask64 bad = 0;
	__mmask64 b;
	size_t i = 0;
	uint8_t *o = out;

	/* Full stores while at least 16 bytes of room follow the 48 written. */
	for (; body - i >= Z_CHARS + 24; i += Z_CHARS, o += Z_BYTES) {
		__m512i v = z_dec_values(_mm512_loadu_si512(in + i), &b);

		bad |= b;
		_mm512_storeu_si512(o, z_dec_pack(v));
	}
	for (; body - i >= Z_CHARS; i += Z_CHARS, o += Z_BYTES) {
		__m512i v = z_dec_values(_mm512_loadu_si512(in + i), &b);

		bad |= b;
		_mm512_mask_storeu_epi8(o, Z_MASK(Z_BYTES), z_dec_pack(v));
	}
	if (i < body) {
		size_t rem = body - i;
		__m512i v = z_dec_values(_mm512_maskz_loadu_epi8(Z_MASK(rem), in + i), &b);

		/* Masked-off bytes load as 0, which is bad: count only the loaded ones. */
		bad |= b & Z_MASK(rem);
		_mm512_mask_storeu_epi8(o, Z_MASK(rem / 4 * 3), z_dec_pack(v));
		o += rem / 4 * 3;
	}
	SP_ASSERT((size_t)(o - out) == body / 4 * 3);
	return bad;
}

AVX512_FN int
sp_b64_decode_avx512(const char *in, size_t len, uint8_t *out, size_t *out_len)
{
	size_t body;
	size_t tail = 0;

	SP_VERIFY(len % 4 == 0 && out_len != NULL);
	SP_VERIFY(len == 0 || (in != NULL && out != NULL));
	*out_len = 0;
	if (len == 0) {
		return 0;
	}
	body = len - 4;
	if (z_dec_body(in, body, out) != 0) {
		return -EINVAL;
	}
	if (sp_b64_decode_scalar(in + body, 4, out + body / 4 * 3, &tail) != 0) {
		return -EINVAL;
	}
	*out_len = body / 4 * 3 + tail;
	return 0;
}

AVX512_FN int
sp_b64_validate_avx512(const char *in, size_t len, size_t *out_len)
{
	__mmask64 bad = 0;
	__mmask64 b;
	size_t body;
	size_t i = 0;
	size_t tail = 0;

	SP_VERIFY(len % 4 == 0 && out_len != NULL);
	SP_VERIFY(len == 0 || in != NULL);
	*out_len = 0;
	if (len == 0) {
		return 0;
	}
	body = len - 4;
	for (; body - i >= Z_CHARS; i += Z_CHARS) {
		(void)z_dec_values(_mm512_loadu_si512(in + i), &b);
		bad |= b;
	}
	if (i < body) {
		(void)z_dec_values(_mm512_maskz_loadu_epi8(Z_MASK(body - i), in + i), &b);
		bad |= b & Z_MASK(body - i);
	}
	if (bad != 0 || sp_b64_validate_scalar(in + body, 4, &tail) != 0) {
		return -EINVAL;
	}
	*out_len = body / 4 * 3 + tail;
	return 0;
}

/* 48 input bytes at the bottom of x to 64 characters. */
AVX512_INLINE __m512i
z_enc_chars(__m512i x)
{
	__m512i t0;
	__m512i t1;
	__m512i idx;
	__m512i r;

	/* Lane k gets input dwords 3k..3k+2, i.e. bytes 12k..12k+11 at its start. */
	x = _mm512_permutexvar_epi32(
		_mm512_setr_epi32(0, 1, 2, 2, 3, 4, 5, 5, 6, 7, 8, 8, 9, 10, 11, 11), x);
	x = _mm512_shuffle_epi8(x, Z_ENC_SHUF);
	t0 = _mm512_mulhi_epu16(_mm512_and_si512(x, _mm512_set1_epi32(0x0fc0fc00)),
				_mm512_set1_epi32(0x04000040));
	t1 = _mm512_mullo_epi16(_mm512_and_si512(x, _mm512_set1_epi32(0x003f03f0)),
				_mm512_set1_epi32(0x01000010));
	idx = _mm512_or_si512(t0, t1);
	r = _mm512_subs_epu8(idx, _mm512_set1_epi8(51));
	r = _mm512_mask_mov_epi8(r, _mm512_cmplt_epi8_mask(idx, _mm512_set1_epi8(26)),
				 _mm512_set1_epi8(13));
	return _mm512_add_epi8(idx, _mm512_shuffle_epi8(Z_ENC_DELTA, r));
}

AVX512_FN size_t
sp_b64_encode_avx512(const uint8_t *in, size_t n, char *out)
{
	size_t i = 0;
	char *o = out;
	size_t groups;

	SP_VERIFY(n == 0 || (in != NULL && out != NULL));
	if (n == 0) {
		return 0;
	}
	/* A plain 64-byte load while 64 bytes are there, a masked one of 48 otherwise. */
	for (; n - i >= Z_CHARS; i += Z_BYTES, o += Z_CHARS) {
		_mm512_storeu_si512(o, z_enc_chars(_mm512_loadu_si512(in + i)));
	}
	for (; n - i >= Z_BYTES; i += Z_BYTES, o += Z_CHARS) {
		__m512i x = _mm512_maskz_loadu_epi8(Z_MASK(Z_BYTES), in + i);

		_mm512_storeu_si512(o, z_enc_chars(x));
	}
	groups = (n - i) / 3;
	if (groups > 0) {
		__m512i x = _mm512_maskz_loadu_epi8(Z_MASK(groups * 3), in + i);

		_mm512_mask_storeu_epi8(o, Z_MASK(groups * 4), z_enc_chars(x));
		i += groups * 3;
		o += groups * 4;
	}
	o += sp_b64_encode_scalar(in + i, n - i, o);
	SP_ASSERT((size_t)(o - out) == sp_b64_encoded_len(n));
	return (size_t)(o - out);
}

#else /* !__x86_64__ */

/* No AVX-512 on this architecture: b64.c never picks these; keep them correct anyway. */
size_t
sp_b64_encode_avx512(const uint8_t *in, size_t n, char *out)
{
	return sp_b64_encode_scalar(in, n, out);
}

int
sp_b64_decode_avx512(const char *in, size_t len, uint8_t *out, size_t *out_len)
{
	return sp_b64_decode_scalar(in, len, out, out_len);
}

int
sp_b64_validate_avx512(const char *in, size_t len, size_t *out_len)
{
	return sp_b64_validate_scalar(in, len, out_len);
}

#endif /* __x86_64__ */
