/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Base64 (RFC 4648 §4) for Kinesis record Data: the scalar kernels (the reference every vector
 * kernel is tested against, and the tail of those kernels), the exact error diagnosis, the
 * SerializationException texts, and the run-time kernel choice.
 *
 * Invariants: a kernel's decode/validate verdict on a length that is a multiple of 4 equals
 * the strict rules of b64.h; when it rejects, b64_diagnose() finds the first error in
 * kinesalite's order (length in UTF-16 units, leftmost bad character, last character) from
 * the input alone, so every kernel reports the same error by construction. Nothing allocates.
 *
 * Which lcore: selection runs once on the main lcore at start-up, or on first use (the first
 * uses of several threads wait for one selection); afterwards the dispatch pointer is only
 * read, and every coding call is a pure function of its arguments, safe on any lcore.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spate/assert.h>

#include "b64.h"

/* Marks a byte outside the alphabet in b64_dec ('=' included: pads are handled apart). */
#define B64_BAD 0xffu
#define B64_PAD '='

/* The kernels' entry points. A struct of function pointers, one per kernel. */
struct b64_ops {
	size_t (*encode)(const uint8_t *in, size_t n, char *out);
	int (*decode)(const char *in, size_t len, uint8_t *out, size_t *out_len);
	int (*validate)(const char *in, size_t len, size_t *out_len);
};

static const char b64_enc[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of alphabet byte c, B64_BAD for any other byte, as a constant expression. */
#define B64_VAL(c)                                                                         \
	((c) >= 'A' && (c) <= 'Z'   ? (c) - 'A'                                                \
	 : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26                                           \
	 : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52                                           \
	 : (c) == '+'               ? 62                                                       \
	 : (c) == '/'               ? 63                                                       \
				    : (int)B64_BAD)
/* E(i), for i = 0..255: the tables below are built by the compiler, not typed in. */
#define B64_R4(E, i) E(i) E((i) + 1) E((i) + 2) E((i) + 3)
#define B64_R16(E, i) B64_R4(E, i) B64_R4(E, (i) + 4) B64_R4(E, (i) + 8) B64_R4(E, (i) + 12)
#define B64_R64(E, i)                                                                      \
	B64_R16(E, i) B64_R16(E, (i) + 16) B64_R16(E, (i) + 32) B64_R16(E, (i) + 48)
#define B64_R256(E) B64_R64(E, 0) B64_R64(E, 64) B64_R64(E, 128) B64_R64(E, 192)

/* The character of 6-bit value v, as a constant expression. */
#define B64_CHR(v)                                                                         \
	((v) < 26   ? 'A' + (v)                                                                \
	 : (v) < 52 ? 'a' + (v) - 26                                                           \
	 : (v) < 62 ? '0' + (v) - 52                                                           \
	 : (v) == 62 ? '+'                                                                     \
		     : '/')
#define B64_R4096(E)                                                                       \
	B64_R256_AT(E, 0) B64_R256_AT(E, 256) B64_R256_AT(E, 512) B64_R256_AT(E, 768)        \
	B64_R256_AT(E, 1024) B64_R256_AT(E, 1280) B64_R256_AT(E, 1536) B64_R256_AT(E, 1792)  \
	B64_R256_AT(E, 2048) B64_R256_AT(E, 2304) B64_R256_AT(E, 2560) B64_R256_AT(E, 2816)  \
	B64_R256_AT(E, 3072) B64_R256_AT(E, 3328) B64_R256_AT(E, 3584) B64_R256_AT(E, 3840)
#define B64_R256_AT(E, i)                                                                  \
	B64_R64(E, i) B64_R64(E, (i) + 64) B64_R64(E, (i) + 128) B64_R64(E, (i) + 192)
/*
 * The two characters of each 12-bit value, first one in the low byte: the scalar encoder
 * turns three bytes into four characters with two loads from this 8 KiB table.
 */
#define B64_E_ENC2(i) (uint16_t)(B64_CHR((i) >> 6) | B64_CHR((i)&63) << 8),
static const uint16_t b64_enc2[4096] = { B64_R4096(B64_E_ENC2) };

/* Each byte's value, B64_BAD (bit 7 set) for bytes outside the alphabet. */
#define B64_E_VAL(i) (uint8_t)B64_VAL(i),
static const uint8_t b64_dec[256] = { B64_R256(B64_E_VAL) };

/*
 * The same, pre-shifted to each character's place in a quad's 24 bits, so that a quad is
 * four loads and three ORs; a bad byte sets B64_BAD_BIT, above the 24 data bits.
 */
#define B64_BAD_BIT 0x01000000u
#define B64_E_SH(i, s) (B64_VAL(i) == (int)B64_BAD ? B64_BAD_BIT : (uint32_t)B64_VAL(i) << (s)),
#define B64_E_D0(i) B64_E_SH(i, 18)
#define B64_E_D1(i) B64_E_SH(i, 12)
#define B64_E_D2(i) B64_E_SH(i, 6)
#define B64_E_D3(i) B64_E_SH(i, 0)
static const uint32_t b64_d0[256] = { B64_R256(B64_E_D0) };
static const uint32_t b64_d1[256] = { B64_R256(B64_E_D1) };
static const uint32_t b64_d2[256] = { B64_R256(B64_E_D2) };
static const uint32_t b64_d3[256] = { B64_R256(B64_E_D3) };

size_t
sp_b64_encoded_len(size_t n)
{
	/* The largest n whose encoded length fits a size_t. */
	SP_VERIFY(n / 3 < SIZE_MAX / 4);
	return (n + 2) / 3 * 4;
}

size_t
sp_b64_decoded_max(size_t len)
{
	return len / 4 * 3;
}

/* ------------------------------------------------------------------ scalar kernels */

size_t
sp_b64_encode_scalar(const uint8_t *in, size_t n, char *out)
{
	char *o = out;
	size_t i;

	SP_VERIFY(n == 0 || (in != NULL && out != NULL));
	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		/* Two 12-bit lookups of two characters each, one 4-byte store. */
		uint32_t q = b64_enc2[w >> 12] | (uint32_t)b64_enc2[w & 0xfff] << 16;

		memcpy(o, &q, sizeof(q));
#else
		o[0] = b64_enc[w >> 18];
		o[1] = b64_enc[(w >> 12) & 63];
		o[2] = b64_enc[(w >> 6) & 63];
		o[3] = b64_enc[w & 63];
#endif
		o += 4;
	}
	if (n - i == 1) {
		o[0] = b64_enc[in[i] >> 2];
		o[1] = b64_enc[(in[i] & 3) << 4];
		o[2] = B64_PAD;
		o[3] = B64_PAD;
		o += 4;
	} else if (n - i == 2) {
		uint32_t w = (uint32_t)in[i] << 8 | in[i + 1];

		o[0] = b64_enc[w >> 10];
		o[1] = b64_enc[(w >> 4) & 63];
		o[2] = b64_enc[(w << 2) & 63];
		o[3] = B64_PAD;
		o += 4;
	}
	SP_ASSERT((size_t)(o - out) == sp_b64_encoded_len(n));
	return (size_t)(o - out);
}

/*
 * The last quad q[0..3], where pads may appear: "xxxx" gives 3 bytes, "xxx=" 2 and "xx==" 1,
 * each only if the unused low bits of its last data character are zero. Writes the bytes to
 * out when out is not NULL. Returns the byte count, or -EINVAL.
 */
static int
b64_last_quad(const uint8_t *q, uint8_t *out)
{
	uint32_t a = b64_dec[q[0]];
	uint32_t b = b64_dec[q[1]];
	uint32_t c = b64_dec[q[2]];
	uint32_t d = b64_dec[q[3]];
	uint32_t w;
	int n = 3;

	if (q[3] == B64_PAD) {
		d = 0;
		n = 2;
		if (q[2] == B64_PAD) {
			c = 0;
			n = 1;
		}
	}
	if (((a | b | c | d) & 0x80) != 0) {
		return -EINVAL;
	}
	w = a << 18 | b << 12 | c << 6 | d;
	/* Canonical form: the bits past the last whole byte are zero. */
	if ((n == 2 && (w & 0xff) != 0) || (n == 1 && (w & 0xffff) != 0)) {
		return -EINVAL;
	}
	if (out != NULL) {
		out[0] = (uint8_t)(w >> 16);
		if (n > 1) {
			out[1] = (uint8_t)(w >> 8);
		}
		if (n > 2) {
			out[2] = (uint8_t)w;
		}
	}
	SP_ASSERT(n >= 1 && n <= 3);
	return n;
}

/* Bytes 2, 1, 0 of w (its 24 data bits, most significant first) at o, then one spare byte. */
static inline void
b64_store_3of4(uint8_t *o, uint32_t w)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint32_t be = __builtin_bswap32(w << 8);

	memcpy(o, &be, sizeof(be));
#else
	uint32_t be = w << 8;

	memcpy(o, &be, sizeof(be));
#endif
}

int
sp_b64_decode_scalar(const char *in, size_t len, uint8_t *out, size_t *out_len)
{
	const uint8_t *p = (const uint8_t *)in;
	uint8_t *o = out;
	uint32_t bad = 0;
	size_t i;
	int last;

	SP_VERIFY(len % 4 == 0 && out_len != NULL);
	SP_VERIFY(len == 0 || (in != NULL && out != NULL));
	*out_len = 0;
	if (len == 0) {
		return 0;
	}
	/*
	 * Every quad but the last holds four data characters. Its three bytes go out as one
	 * 4-byte store: the byte past them is the next quad's to overwrite, and a next quad
	 * (the last one, at least 1 byte) always follows.
	 */
	for (i = 0; i + 4 < len; i += 4) {
		uint32_t w = b64_d0[p[i]] | b64_d1[p[i + 1]] | b64_d2[p[i + 2]] | b64_d3[p[i + 3]];

		bad |= w;
		b64_store_3of4(o, w);
		o += 3;
	}
	if ((bad & B64_BAD_BIT) != 0) {
		return -EINVAL;
	}
	last = b64_last_quad(p + len - 4, o);
	if (last < 0) {
		return -EINVAL;
	}
	*out_len = (size_t)(o - out) + (size_t)last;
	SP_ASSERT(*out_len <= sp_b64_decoded_max(len));
	return 0;
}

int
sp_b64_validate_scalar(const char *in, size_t len, size_t *out_len)
{
	const uint8_t *p = (const uint8_t *)in;
	uint32_t bad = 0;
	size_t i;
	int last;

	SP_VERIFY(len % 4 == 0 && out_len != NULL);
	SP_VERIFY(len == 0 || in != NULL);
	*out_len = 0;
	if (len == 0) {
		return 0;
	}
	for (i = 0; i + 4 < len; i++) {
		bad |= b64_dec[p[i]];
	}
	if ((bad & 0x80) != 0) {
		return -EINVAL;
	}
	last = b64_last_quad(p + len - 4, NULL);
	if (last < 0) {
		return -EINVAL;
	}
	*out_len = (len - 4) / 4 * 3 + (size_t)last;
	return 0;
}

/* ------------------------------------------------------------------ diagnosis */

/*
 * Bytes of the UTF-8 character at p (rem > 0 bytes left) and the UTF-16 code units it counts
 * for. A byte that does not start a well-formed sequence counts as one byte and one unit (the
 * JSON layer should never hand us one; this only keeps the count defined).
 */
static unsigned
b64_utf8_char(const uint8_t *p, size_t rem, unsigned *units)
{
	unsigned need;
	unsigned k;

	SP_ASSERT(rem > 0);
	*units = 1;
	if (p[0] < 0x80) {
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		need = 2;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		need = 3;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		need = 4;
	} else {
		return 1;
	}
	if (rem < need) {
		return 1;
	}
	for (k = 1; k < need; k++) {
		if ((p[k] & 0xc0) != 0x80) {
			return 1;
		}
	}
	/* A character outside the BMP is a surrogate pair in UTF-16. */
	*units = need == 4 ? 2 : 1;
	return need;
}

/* The length as Java's String.length() and JavaScript's .length see it. */
static size_t
b64_utf16_len(const uint8_t *p, size_t len)
{
	size_t units = 0;
	size_t i = 0;

	while (i < len) {
		unsigned u;

		if (p[i] < 0x80) {
			i++;
			units++;
			continue;
		}
		i += b64_utf8_char(p + i, len - i, &u);
		units += u;
	}
	SP_VERIFY(i == len && units <= len);
	return units;
}

/*
 * kinesalite's /[^a-zA-Z0-9+\/=]|=[^=]/ : the leftmost character that is outside the alphabet
 * and not '=', or a '=' followed by anything but '='. Returns true and fills err if found.
 */
static bool
b64_find_bad_char(const uint8_t *p, size_t len, struct sp_b64_error *err)
{
	size_t i = 0;

	while (i < len) {
		unsigned units;
		unsigned clen = b64_utf8_char(p + i, len - i, &units);
		bool bad;

		if (p[i] == B64_PAD) {
			bad = i + 1 < len && p[i + 1] != B64_PAD;
		} else {
			bad = b64_dec[p[i]] == B64_BAD;
		}
		if (bad) {
			err->status = SP_B64_BAD_CHAR;
			err->pos = i;
			err->c = (char)p[i];
			err->c_len = (uint8_t)clen;
			return true;
		}
		i += clen;
	}
	SP_VERIFY(i == len);
	return false;
}

/*
 * With only alphabet characters and a trailing run of pads left, kinesalite decodes and
 * re-encodes and compares: that fails for three or more pads, and for a last data character
 * whose unused low bits (2 with one pad, 4 with two) are not zero.
 */
static bool
b64_find_bad_last(const uint8_t *p, size_t len, struct sp_b64_error *err)
{
	size_t pads = 0;
	size_t last;

	while (pads < len && p[len - 1 - pads] == B64_PAD) {
		pads++;
	}
	if (pads == 0) {
		return false;
	}
	err->status = SP_B64_BAD_LAST;
	if (pads >= 3) {
		err->pos = len - pads;
		return true;
	}
	SP_VERIFY(len >= 4);
	last = len - 1 - pads;
	err->pos = last;
	return (b64_dec[p[last]] & (pads == 1 ? 3u : 15u)) != 0;
}

/* The first error of an input some check rejected, in kinesalite's order. */
static void
b64_diagnose(const char *in, size_t len, struct sp_b64_error *err)
{
	const uint8_t *p = (const uint8_t *)in;
	size_t units = b64_utf16_len(p, len);

	memset(err, 0, sizeof(*err));
	if (units % 4 != 0) {
		err->status = SP_B64_BAD_LENGTH;
		err->pos = len;
		err->found_len = units;
		return;
	}
	if (b64_find_bad_char(p, len, err)) {
		return;
	}
	/* A kernel rejected an input the rules accept: a kernel bug, never an input error. */
	SP_VERIFY(b64_find_bad_last(p, len, err));
}

/* ------------------------------------------------------------------ messages */

struct b64_msg {
	char *buf;
	size_t cap; /* bytes usable before the NUL */
	size_t n;
};

static void
b64_msg_put(struct b64_msg *m, const void *s, size_t len)
{
	size_t room = m->cap - m->n;
	size_t k = SP_MIN(room, len);

	SP_ASSERT(m->n <= m->cap);
	if (k > 0) {
		memcpy(m->buf + m->n, s, k);
		m->n += k;
	}
}

static void
b64_msg_str(struct b64_msg *m, const char *s)
{
	b64_msg_put(m, s, strlen(s));
}

static void
b64_msg_dec(struct b64_msg *m, size_t v)
{
	char digits[24];
	size_t k = sizeof(digits);

	do {
		digits[--k] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0 && k > 0);
	SP_VERIFY(v == 0);
	b64_msg_put(m, digits + k, sizeof(digits) - k);
}

/* Bytes of the value to quote: all of it, or SP_B64_MSG_VALUE_MAX cut back to a whole char. */
static size_t
b64_msg_value_len(const char *in, size_t len)
{
	size_t v = len;

	if (v > SP_B64_MSG_VALUE_MAX) {
		v = SP_B64_MSG_VALUE_MAX;
		/* Back off continuation bytes so that no UTF-8 character is split (at most 3). */
		while (v > SP_B64_MSG_VALUE_MAX - 3 && ((uint8_t)in[v] & 0xc0) == 0x80) {
			v--;
		}
	}
	SP_VERIFY(v <= len && v <= SP_B64_MSG_VALUE_MAX);
	return v;
}

size_t
sp_b64_error_message(const struct sp_b64_error *e, const char *in, size_t len, char *buf,
		     size_t cap)
{
	struct b64_msg m = { buf, cap > 0 ? cap - 1 : 0, 0 };

	SP_VERIFY(e != NULL && (len == 0 || in != NULL));
	SP_VERIFY(cap == 0 || buf != NULL);
	if (cap == 0 || e->status == SP_B64_OK) {
		if (cap > 0) {
			buf[0] = '\0';
		}
		return 0;
	}
	b64_msg_put(&m, "'", 1);
	b64_msg_put(&m, in, b64_msg_value_len(in, len));
	b64_msg_str(&m, "' can not be converted to a Blob: ");
	switch (e->status) {
	case SP_B64_BAD_LENGTH:
		b64_msg_str(&m, "Base64 encoded length is expected a multiple of 4 bytes but "
				"found: ");
		b64_msg_dec(&m, e->found_len);
		break;
	case SP_B64_BAD_CHAR:
		SP_VERIFY(e->c_len >= 1 && e->c_len <= 4 && e->pos + e->c_len <= len);
		b64_msg_str(&m, "Invalid Base64 character: '");
		b64_msg_put(&m, in + e->pos, e->c_len);
		b64_msg_put(&m, "'", 1);
		break;
	default:
		SP_VERIFY(e->status == SP_B64_BAD_LAST);
		/* "dectected" is how AWS spells it. */
		b64_msg_str(&m, "Invalid last non-pad Base64 character dectected");
		break;
	}
	buf[m.n] = '\0';
	return m.n;
}

/* ------------------------------------------------------------------ kernel table */

static const char *const b64_kernel_names[SP_B64_KERNEL_COUNT] = {
	[SP_B64_SCALAR] = "scalar",
	[SP_B64_AVX2] = "avx2",
	[SP_B64_AVX512] = "avx512",
};

static const struct b64_ops b64_kernels[SP_B64_KERNEL_COUNT] = {
	[SP_B64_SCALAR] = { sp_b64_encode_scalar, sp_b64_decode_scalar, sp_b64_validate_scalar },
	[SP_B64_AVX2] = { sp_b64_encode_avx2, sp_b64_decode_avx2, sp_b64_validate_avx2 },
	[SP_B64_AVX512] = { sp_b64_encode_avx512, sp_b64_decode_avx512, sp_b64_validate_avx512 },
};

/* Written by selection only (main lcore); read with acquire loads on any lcore. */
static const struct b64_ops *g_b64_ops;
static enum sp_b64_kernel g_b64_kernel = SP_B64_SCALAR;

static const struct b64_ops *
b64_active(void)
{
	const struct b64_ops *ops = __atomic_load_n(&g_b64_ops, __ATOMIC_ACQUIRE);

	if (SP_UNLIKELY(ops == NULL)) {
		sp_b64_select();
		ops = __atomic_load_n(&g_b64_ops, __ATOMIC_ACQUIRE);
	}
	SP_VERIFY(ops != NULL);
	return ops;
}

static const struct b64_ops *
b64_kernel_ops(enum sp_b64_kernel k)
{
	SP_VERIFY(sp_b64_kernel_supported(k));
	SP_VERIFY(b64_kernels[k].decode != NULL);
	return &b64_kernels[k];
}

const char *
sp_b64_kernel_name_of(enum sp_b64_kernel k)
{
	if ((unsigned)k >= SP_B64_KERNEL_COUNT) {
		return "?";
	}
	return b64_kernel_names[k];
}

bool
sp_b64_kernel_supported(enum sp_b64_kernel k)
{
	switch (k) {
	case SP_B64_SCALAR:
		return true;
#if defined(__x86_64__)
	case SP_B64_AVX2:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx2");
	case SP_B64_AVX512:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512f") &&
		       __builtin_cpu_supports("avx512bw");
#endif
	default:
		return false;
	}
}

/* ------------------------------------------------------------------ public calls */

static size_t
b64_encode_ops(const struct b64_ops *ops, const uint8_t *in, size_t n, char *out)
{
	size_t w;

	SP_VERIFY(n == 0 || (in != NULL && out != NULL));
	w = ops->encode(in, n, out);
	SP_VERIFY(w == sp_b64_encoded_len(n));
	return w;
}

static void
b64_error_clear(struct sp_b64_error *err)
{
	if (err != NULL) {
		memset(err, 0, sizeof(*err));
	}
}

static int
b64_decode_ops(const struct b64_ops *ops, const char *in, size_t len, uint8_t *out,
	       size_t *out_len, struct sp_b64_error *err)
{
	SP_VERIFY(out_len != NULL && (len == 0 || in != NULL));
	SP_VERIFY(len < 4 || out != NULL);
	if (SP_LIKELY(len % 4 == 0) && ops->decode(in, len, out, out_len) == 0) {
		SP_ASSERT(*out_len <= sp_b64_decoded_max(len));
		b64_error_clear(err);
		return 0;
	}
	*out_len = 0;
	if (err != NULL) {
		b64_diagnose(in, len, err);
	}
	return -EINVAL;
}

static int
b64_validate_ops(const struct b64_ops *ops, const char *in, size_t len, size_t *out_len,
		 struct sp_b64_error *err)
{
	SP_VERIFY(out_len != NULL && (len == 0 || in != NULL));
	if (SP_LIKELY(len % 4 == 0) && ops->validate(in, len, out_len) == 0) {
		SP_ASSERT(*out_len <= sp_b64_decoded_max(len));
		b64_error_clear(err);
		return 0;
	}
	*out_len = 0;
	if (err != NULL) {
		b64_diagnose(in, len, err);
	}
	return -EINVAL;
}

size_t
sp_b64_encode(const uint8_t *in, size_t n, char *out)
{
	return b64_encode_ops(b64_active(), in, n, out);
}

int
sp_b64_decode(const char *in, size_t len, uint8_t *out, size_t *out_len,
	      struct sp_b64_error *err)
{
	return b64_decode_ops(b64_active(), in, len, out, out_len, err);
}

int
sp_b64_validate(const char *in, size_t len, size_t *out_len, struct sp_b64_error *err)
{
	return b64_validate_ops(b64_active(), in, len, out_len, err);
}

size_t
sp_b64_encode_with(enum sp_b64_kernel k, const uint8_t *in, size_t n, char *out)
{
	return b64_encode_ops(b64_kernel_ops(k), in, n, out);
}

int
sp_b64_decode_with(enum sp_b64_kernel k, const char *in, size_t len, uint8_t *out,
		   size_t *out_len, struct sp_b64_error *err)
{
	return b64_decode_ops(b64_kernel_ops(k), in, len, out, out_len, err);
}

int
sp_b64_validate_with(enum sp_b64_kernel k, const char *in, size_t len, size_t *out_len,
		     struct sp_b64_error *err)
{
	return b64_validate_ops(b64_kernel_ops(k), in, len, out_len, err);
}

/* ------------------------------------------------------------------ self-test */

/* Longest self-test input in bytes: several 48-byte AVX-512 blocks plus every tail. */
#define B64_TEST_MAXLEN 200u
#define B64_TEST_ENC_MAX ((B64_TEST_MAXLEN + 2) / 3 * 4)
/* Input bytes of the every-byte test: 72 characters, past one 64-character register. */
#define B64_TEST_BYTES_LEN 54u

struct b64_vector {
	const char *raw;
	const char *enc;
};

/* RFC 4648 §10. */
static const struct b64_vector b64_rfc_vectors[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

/* Self-test scratch: selection runs on one thread (the main lcore) at a time. */
static uint8_t g_b64_raw[B64_TEST_MAXLEN + 8];
static char g_b64_enc_ref[B64_TEST_ENC_MAX];
static char g_b64_enc_got[B64_TEST_ENC_MAX];
static uint8_t g_b64_dec_got[B64_TEST_ENC_MAX];

/* The kernel against RFC 4648's vectors: 0 or -EIO. */
static int
b64_test_rfc(const struct b64_ops *ops)
{
	size_t i;

	for (i = 0; i < SP_ARRAY_SIZE(b64_rfc_vectors); i++) {
		const struct b64_vector *v = &b64_rfc_vectors[i];
		size_t rl = strlen(v->raw);
		size_t el = strlen(v->enc);
		size_t n = 0;

		SP_VERIFY(el == sp_b64_encoded_len(rl));
		if (ops->encode((const uint8_t *)v->raw, rl, g_b64_enc_got) != el ||
		    memcmp(g_b64_enc_got, v->enc, el) != 0) {
			return -EIO;
		}
		if (ops->decode(v->enc, el, g_b64_dec_got, &n) != 0 || n != rl ||
		    memcmp(g_b64_dec_got, v->raw, rl) != 0) {
			return -EIO;
		}
	}
	return 0;
}

/*
 * Verdicts of the kernel and the scalar code on enc (elen chars) with the character at each
 * position replaced by each of a few probes ('=', a bad byte, a valid one): they must agree.
 */
static int
b64_test_mutations(const struct b64_ops *ops, size_t elen)
{
	static const char probes[] = { '=', '*', 'B', (char)0xc3 };
	size_t i;
	unsigned k;

	for (i = 0; i < elen; i++) {
		char keep = g_b64_enc_ref[i];

		for (k = 0; k < SP_ARRAY_SIZE(probes); k++) {
			size_t n1 = 0;
			size_t n2 = 0;
			int want;

			g_b64_enc_ref[i] = probes[k];
			want = sp_b64_validate_scalar(g_b64_enc_ref, elen, &n1);
			if (ops->validate(g_b64_enc_ref, elen, &n2) != want ||
			    ops->decode(g_b64_enc_ref, elen, g_b64_dec_got, &n2) != want) {
				g_b64_enc_ref[i] = keep;
				return -EIO;
			}
		}
		g_b64_enc_ref[i] = keep;
	}
	return 0;
}

/*
 * Every byte value at every position of one long input (every offset within a 64-character
 * register, and then some): the kernel's verdicts must be the scalar code's.
 */
static int
b64_test_every_byte(const struct b64_ops *ops)
{
	size_t elen = sp_b64_encode_scalar(g_b64_raw, B64_TEST_BYTES_LEN, g_b64_enc_ref);
	size_t i;
	unsigned c;

	SP_VERIFY(elen <= B64_TEST_ENC_MAX);
	for (i = 0; i < elen; i++) {
		char keep = g_b64_enc_ref[i];

		for (c = 0; c < 256; c++) {
			size_t n1 = 0;
			size_t n2 = 0;
			int want;

			g_b64_enc_ref[i] = (char)c;
			want = sp_b64_validate_scalar(g_b64_enc_ref, elen, &n1);
			if (ops->validate(g_b64_enc_ref, elen, &n2) != want ||
			    ops->decode(g_b64_enc_ref, elen, g_b64_dec_got, &n2) != want) {
				g_b64_enc_ref[i] = keep;
				return -EIO;
			}
		}
		g_b64_enc_ref[i] = keep;
	}
	return 0;
}

/* The kernel against the scalar code for every input length 0..B64_TEST_MAXLEN: 0 or -EIO. */
static int
b64_test_against_scalar(const struct b64_ops *ops)
{
	size_t n;

	for (n = 0; n <= B64_TEST_MAXLEN; n++) {
		const uint8_t *raw = g_b64_raw + n % 8;
		size_t elen = sp_b64_encode_scalar(raw, n, g_b64_enc_ref);
		size_t dlen = 0;

		if (ops->encode(raw, n, g_b64_enc_got) != elen ||
		    memcmp(g_b64_enc_ref, g_b64_enc_got, elen) != 0) {
			return -EIO;
		}
		if (ops->decode(g_b64_enc_ref, elen, g_b64_dec_got, &dlen) != 0 || dlen != n ||
		    memcmp(g_b64_dec_got, raw, n) != 0) {
			return -EIO;
		}
		if (ops->validate(g_b64_enc_ref, elen, &dlen) != 0 || dlen != n) {
			return -EIO;
		}
		/* Mutations cost O(n^2): every length up to 100, then every tenth. */
		if ((n <= 100 || n % 10 == 0) && b64_test_mutations(ops, elen) != 0) {
			return -EIO;
		}
	}
	return 0;
}

int
sp_b64_self_test(enum sp_b64_kernel k)
{
	size_t i;
	int rc;

	if ((unsigned)k >= SP_B64_KERNEL_COUNT) {
		return -EINVAL;
	}
	if (!sp_b64_kernel_supported(k)) {
		return -ENOTSUP;
	}
	for (i = 0; i < sizeof(g_b64_raw); i++) {
		g_b64_raw[i] = (uint8_t)(i * 167 + 13);
	}
	rc = b64_test_rfc(&b64_kernels[SP_B64_SCALAR]);
	if (rc == 0) {
		rc = b64_test_rfc(&b64_kernels[k]);
	}
	if (rc == 0 && k != SP_B64_SCALAR) {
		rc = b64_test_against_scalar(&b64_kernels[k]);
	}
	if (rc == 0 && k != SP_B64_SCALAR) {
		rc = b64_test_every_byte(&b64_kernels[k]);
	}
	return rc;
}

/* ------------------------------------------------------------------ selection */

static void
b64_install(enum sp_b64_kernel k)
{
	SP_VERIFY((unsigned)k < SP_B64_KERNEL_COUNT);
	SP_VERIFY(b64_kernels[k].encode != NULL);
	g_b64_kernel = k;
	__atomic_store_n(&g_b64_ops, &b64_kernels[k], __ATOMIC_RELEASE);
}

int
sp_b64_force(enum sp_b64_kernel k)
{
	int rc = sp_b64_self_test(k);

	if (rc != 0) {
		return rc;
	}
	b64_install(k);
	return 0;
}

/* The kernel SPATE_B64 names, or SP_B64_KERNEL_COUNT when unset or unknown. */
static enum sp_b64_kernel
b64_env_kernel(void)
{
	const char *v = getenv("SPATE_B64");
	unsigned k;

	if (v == NULL || v[0] == '\0') {
		return SP_B64_KERNEL_COUNT;
	}
	for (k = 0; k < SP_B64_KERNEL_COUNT; k++) {
		if (strcmp(v, b64_kernel_names[k]) == 0) {
			return (enum sp_b64_kernel)k;
		}
	}
	fprintf(stderr, "spate: b64: SPATE_B64=%s is not scalar, avx2 or avx512; ignored\n", v);
	return SP_B64_KERNEL_COUNT;
}

/* sp_b64_select's work, run once (b64_select_guard): a kernel forced before is kept. */
static void
b64_select_once(void)
{
	enum sp_b64_kernel want;
	int k;

	if (__atomic_load_n(&g_b64_ops, __ATOMIC_ACQUIRE) != NULL) {
		return;
	}
	want = b64_env_kernel();
	if (want != SP_B64_KERNEL_COUNT) {
		int rc = sp_b64_force(want);

		if (rc == 0) {
			return;
		}
		fprintf(stderr, "spate: b64: SPATE_B64=%s unusable (%s); choosing from CPU flags\n",
			b64_kernel_names[want], strerror(-rc));
	}
	for (k = SP_B64_KERNEL_COUNT - 1; k > SP_B64_SCALAR; k--) {
		int rc;

		if (!sp_b64_kernel_supported((enum sp_b64_kernel)k)) {
			continue;
		}
		rc = sp_b64_force((enum sp_b64_kernel)k);
		if (rc == 0) {
			return;
		}
		fprintf(stderr, "spate: b64: %s kernel failed its self-test (%s); not used\n",
			b64_kernel_names[k], strerror(-rc));
	}
	/* The scalar code is the reference; if it fails RFC 4648 nothing can be trusted. */
	SP_VERIFY(sp_b64_self_test(SP_B64_SCALAR) == 0);
	b64_install(SP_B64_SCALAR);
}

/*
 * Selection installs each candidate to self-test it, so two threads selecting at once (the
 * first coding calls of two workers, when nobody selected at start-up) would test each
 * other's kernels and fail. pthread_once makes the others wait for the one selection; it is
 * reached only while no kernel is installed, never on the coding path afterwards.
 */
void
sp_b64_select(void)
{
	static pthread_once_t b64_select_guard = PTHREAD_ONCE_INIT;

	if (__atomic_load_n(&g_b64_ops, __ATOMIC_ACQUIRE) != NULL) {
		return;
	}
	SP_VERIFY(pthread_once(&b64_select_guard, b64_select_once) == 0);
}

enum sp_b64_kernel
sp_b64_kernel_active(void)
{
	(void)b64_active();
	return g_b64_kernel;
}

const char *
sp_b64_kernel_name(void)
{
	return sp_b64_kernel_name_of(sp_b64_kernel_active());
}
