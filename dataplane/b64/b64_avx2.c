/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AVX2 base64: 32 characters per 256-bit register. Decoding classifies each byte by its two
 * nibbles (two vpshufb lookups whose AND is non-zero exactly for bytes outside the alphabet),
 * turns characters into 6-bit values with a per-high-nibble offset, and packs four values into
 * three bytes with two multiply-adds and a byte shuffle. Encoding does the reverse: a shuffle
 * spreads three bytes over a dword, two 16-bit multiplies move the four 6-bit fields to their
 * bytes, and a 16-entry lookup gives each field's offset to ASCII.
 *
 * Every quad but the last goes through the vectors; the last quad (the only place pads may
 * be) and the short remainder go to the scalar kernel, so the strict rules live in one place.
 * Bad characters only set bits in an accumulator that is tested once at the end: the error
 * path is rare, and b64.c diagnoses it precisely. Per-function target attributes, so the file
 * builds without -mavx2; b64.c calls it only when the CPU has AVX2. Pure; any lcore.
 */
#include <errno.h>

#include <spate/assert.h>

#include "b64.h"

#if defined(__x86_64__)

#include <immintrin.h>

#define AVX2_FN __attribute__((target("avx2")))
#define AVX2_INLINE static inline __attribute__((target("avx2"), always_inline))

/* The same 16 bytes in both 128-bit lanes: vpshufb looks up within each lane. */
#define AVX2_LUT(b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15)      \
	_mm256_setr_epi8(b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15, \
			 b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15)

/*
 * Classes of high nibble, one bit each: 0x01 for 0x2_ ('+' '/'), 0x02 for 0x3_ (digits),
 * 0x04 for 0x4_ and 0x6_ (letters from 1), 0x08 for 0x5_ and 0x7_ (letters to 0xA), 0x10 for
 * every other high nibble (no alphabet byte). Indexed by the low nibble, the set of classes
 * for which that low nibble is NOT in the alphabet. A byte is bad iff the two AND non-zero.
 */
#define AVX2_CLASS_HI                                                                      \
	AVX2_LUT(0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10, 0x10, \
		 0x10, 0x10, 0x10)
#define AVX2_CLASS_LO                                                                      \
	AVX2_LUT(0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1a, 0x1b, \
		 0x1b, 0x1b, 0x1a)
/*
 * Character to value, by high nibble, except that '/' looks up at index 1 (its high nibble
 * 2 minus 1) so that it can differ from '+': '/' + 16 = 63, '+' + 19 = 62, '0' + 4 = 52,
 * 'A' - 65 = 0, 'a' - 71 = 26.
 */
#define AVX2_DEC_DELTA                                                                     \
	AVX2_LUT(0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0)
/* Per lane: the three value bytes of each dword, most significant first, then nothing. */
#define AVX2_DEC_SHUF AVX2_LUT(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1)
/* Per lane: bytes s0 s1 s2 of each group of three as the dword [s1 s0 s2 s1]. */
#define AVX2_ENC_SHUF AVX2_LUT(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10)
/*
 * Value to character, indexed by 0 for 26..51, 1..12 for 52..63 (value - 51) and 13 for
 * 0..25: 'a' - 26 = 71, '0' - 52 = -4, '+' - 62 = -19, '/' - 63 = -16, 'A' - 0 = 65.
 */
#define AVX2_ENC_DELTA                                                                     \
	AVX2_LUT(71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 65, 0, 0)

/* 32 characters to 6-bit values; the classification bits of bad bytes go into *bad. */
AVX2_INLINE __m256i
avx2_dec_values(__m256i x, __m256i *bad)
{
	const __m256i nib = _mm256_set1_epi8(0x0f);
	__m256i hi = _mm256_and_si256(_mm256_srli_epi32(x, 4), nib);
	__m256i lo = _mm256_and_si256(x, nib);
	__m256i cls = _mm256_and_si256(_mm256_shuffle_epi8(AVX2_CLASS_LO, lo),
				       _mm256_shuffle_epi8(AVX2_CLASS_HI, hi));
	__m256i slash = _mm256_cmpeq_epi8(x, _mm256_set1_epi8('/'));
	__m256i delta = _mm256_shuffle_epi8(AVX2_DEC_DELTA, _mm256_add_epi8(hi, slash));

	*bad = _mm256_or_si256(*bad, cls);
	return _mm256_add_epi8(x, delta);
}

/* 32 values (a b c d per dword) to 24 bytes in the low 24 bytes of the result. */
AVX2_INLINE __m256i
avx2_dec_pack(__m256i v)
{
	/* a * 64 + b and c * 64 + d per 16 bits, then (ab << 12) + cd per 32 bits. */
	__m256i ab = _mm256_maddubs_epi16(v, _mm256_set1_epi32(0x01400140));
	__m256i w = _mm256_madd_epi16(ab, _mm256_set1_epi32(0x00011000));

	w = _mm256_shuffle_epi8(w, AVX2_DEC_SHUF);
	return _mm256_permutevar8x32_epi32(w, _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7));
}

/* Decode `body` characters (a multiple of 32 is consumed) into out; returns chars consumed. */
AVX2_INLINE size_t
avx2_dec_body(const char *in, size_t body, uint8_t *out, __m256i *bad)
{
	size_t i = 0;
	uint8_t *o = out;

	/* Full 32-byte stores while at least 8 output bytes of room follow the 24 written. */
	while (body - i >= 32 + 12) {
		__m256i v = avx2_dec_values(_mm256_loadu_si256((const __m256i *)(in + i)), bad);

		_mm256_storeu_si256((__m256i *)o, avx2_dec_pack(v));
		i += 32;
		o += 24;
	}
	if (body - i >= 32) {
		__m256i v = avx2_dec_values(_mm256_loadu_si256((const __m256i *)(in + i)), bad);
		__m256i w = avx2_dec_pack(v);

		_mm_storeu_si128((__m128i *)o, _mm256_castsi256_si128(w));
		_mm_storel_epi64((__m128i *)(o + 16), _mm256_extracti128_si256(w, 1));
		i += 32;
		o += 24;
	}
	SP_ASSERT(i <= body && (size_t)(o - out) == i / 4 * 3);
	return i;
}

AVX2_FN int
sp_b64_decode_avx2(const char *in, size_t len, uint8_t *out, size_t *out_len)
{
	__m256i bad = _mm256_setzero_si256();
	size_t done = 0;
	size_t tail = 0;

	SP_VERIFY(len % 4 == 0 && out_len != NULL);
	SP_VERIFY(len == 0 || (in != NULL && out != NULL));
	if (len == 0) {
		*out_len = 0;
		return 0;
	}
	if (len > 4) {
		done = avx2_dec_body(in, len - 4, out, &bad);
	}
	if (!_mm256_testz_si256(bad, bad)) {
		*out_len = 0;
		return -EINVAL;
	}
	if (sp_b64_decode_scalar(in + done, len - done, out + done / 4 * 3, &tail) != 0) {
		*out_len = 0;
		return -EINVAL;
	}
	*out_len = done / 4 * 3 + tail;
	return 0;
}

AVX2_FN int
sp_b64_validate_avx2(const char *in, size_t len, size_t *out_len)
{
	__m256i bad = _mm256_setzero_si256();
	size_t body = len > 4 ? len - 4 : 0;
	size_t i = 0;
	size_t tail = 0;

	SP_VERIFY(len % 4 == 0 && out_len != NULL);
	SP_VERIFY(len == 0 || in != NULL);
	if (len == 0) {
		*out_len = 0;
		return 0;
	}
	for (; body - i >= 32; i += 32) {
		(void)avx2_dec_values(_mm256_loadu_si256((const __m256i *)(in + i)), &bad);
	}
	if (!_mm256_testz_si256(bad, bad) || sp_b64_validate_scalar(in + i, len - i, &tail) != 0) {
		*out_len = 0;
		return -EINVAL;
	}
	*out_len = i / 4 * 3 + tail;
	return 0;
}

/* 24 input bytes (12 at the start of each lane, as [s1 s0 s2 s1] dwords) to 32 characters. */
AVX2_INLINE __m256i
avx2_enc_chars(__m256i x)
{
	__m256i t0;
	__m256i t1;
	__m256i idx;
	__m256i r;

	x = _mm256_shuffle_epi8(x, AVX2_ENC_SHUF);
	/* Low word s0 s1: field 0 at bits 10..15 (>> 10), field 1 at 4..9 (<< 4 to byte 1). */
	/* High word s1 s2: field 2 at bits 6..11 (>> 6), field 3 at 0..5 (<< 8 to byte 3). */
	t0 = _mm256_mulhi_epu16(_mm256_and_si256(x, _mm256_set1_epi32(0x0fc0fc00)),
				_mm256_set1_epi32(0x04000040));
	t1 = _mm256_mullo_epi16(_mm256_and_si256(x, _mm256_set1_epi32(0x003f03f0)),
				_mm256_set1_epi32(0x01000010));
	idx = _mm256_or_si256(t0, t1);
	r = _mm256_subs_epu8(idx, _mm256_set1_epi8(51));
	r = _mm256_or_si256(r, _mm256_and_si256(_mm256_cmpgt_epi8(_mm256_set1_epi8(26), idx),
						_mm256_set1_epi8(13)));
	return _mm256_add_epi8(idx, _mm256_shuffle_epi8(AVX2_ENC_DELTA, r));
}

AVX2_FN size_t
sp_b64_encode_avx2(const uint8_t *in, size_t n, char *out)
{
	size_t i = 0;
	char *o = out;

	SP_VERIFY(n == 0 || (in != NULL && out != NULL));
	if (n == 0) {
		return 0;
	}
	/* Each step reads 28 bytes (16 at i, 16 at i + 12) and consumes 24. */
	for (; n - i >= 28; i += 24) {
		__m128i lo = _mm_loadu_si128((const __m128i *)(in + i));
		__m128i hi = _mm_loadu_si128((const __m128i *)(in + i + 12));
		__m256i x = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);

		_mm256_storeu_si256((__m256i *)o, avx2_enc_chars(x));
		o += 32;
	}
	o += sp_b64_encode_scalar(in + i, n - i, o);
	SP_ASSERT((size_t)(o - out) == sp_b64_encoded_len(n));
	return (size_t)(o - out);
}

#else /* !__x86_64__ */

/* No AVX2 on this architecture: b64.c never picks these; keep them correct anyway. */
size_t
sp_b64_encode_avx2(const uint8_t *in, size_t n, char *out)
{
	return sp_b64_encode_scalar(in, n, out);
}

int
sp_b64_decode_avx2(const char *in, size_t len, uint8_t *out, size_t *out_len)
{
	return sp_b64_decode_scalar(in, len, out, out_len);
}

int
sp_b64_validate_avx2(const char *in, size_t len, size_t *out_len)
{
	return sp_b64_validate_scalar(in, len, out_len);
}

#endif /* __x86_64__ */
