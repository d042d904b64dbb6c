/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The CBOR reader and writer of cbor.h (RFC 8949).
 *
 * Reader invariants: rd->p never passes rd->end (every length is compared with the bytes left
 * before it is used); a definite array or map announces at most as many items as bytes are
 * left (each item takes at least one), so a level's count is bounded by the input; a level is
 * pushed only below SP_CBOR_DEPTH_MAX; the scratch arena is written only inside
 * [scratch, scratch + cap). Every call consumes at least one byte or closes a level, so a
 * walk over n bytes makes at most 2n calls.
 * Runs on worker lcores, per request; no allocation, no global state.
 */
#include <errno.h>
#include <float.h>
#include <string.h>

#include <spate/assert.h>

#include "cbor.h"

#define CBOR_AI_1          24u /* additional information: a 1-byte argument follows */
#define CBOR_AI_8          27u /* ... an 8-byte argument */
#define CBOR_AI_INDEF      31u /* indefinite length, or the break (major type 7) */
#define CBOR_BREAK         0xffu
#define CBOR_SIMPLE_FALSE  20u
#define CBOR_SIMPLE_MIN_2B 32u /* a two-byte simple value below this is ill-formed */

/* ---- UTF-8 ---- */

/* Length of the valid UTF-8 sequence at s (s < end), 0 if none starts there. */
static unsigned
cbor_utf8_seq(const uint8_t *s, const uint8_t *end)
{
	uint8_t c = s[0];
	size_t left = (size_t)(end - s);

	if (c < 0x80) {
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		return left >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	}
	if (c >= 0xe0 && c <= 0xef) {
		/* no overlong (E0 80-9F), no surrogates (ED A0-BF) */
		uint8_t lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

		return left >= 3 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		/* no overlong (F0 80-8F), nothing past U+10FFFF (F4 90-BF) */
		uint8_t lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

		return left >= 4 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
			       (s[3] & 0xc0) == 0x80
			   ? 4
			   : 0;
	}
	return 0;
}

size_t
sp_cbor_utf8_valid_prefix(const uint8_t *s, size_t len)
{
	const uint8_t *p = s, *end = s + len;

	while (p < end) {
		uint64_t w;
		unsigned n;

		/* ASCII eight bytes at a time: partition keys, names and base64 are all ASCII */
		if (end - p >= 8) {
			memcpy(&w, p, 8);
			if ((w & 0x8080808080808080ull) == 0) {
				p += 8;
				continue;
			}
		}
		n = cbor_utf8_seq(p, end);
		if (n == 0) {
			break;
		}
		p += n;
	}
	SP_ASSERT(p <= end);
	return (size_t)(p - s);
}

/* ---- Floats ---- */

static double
cbor_bits_double(uint64_t b)
{
	double d;

	memcpy(&d, &b, sizeof(d));
	return d;
}

static uint64_t
cbor_double_bits(double d)
{
	uint64_t b;

	memcpy(&b, &d, sizeof(b));
	return b;
}

double
sp_cbor_half_to_double(uint16_t h)
{
	uint64_t sign = (uint64_t)(h >> 15) << 63;
	unsigned exp = (h >> 10) & 0x1f, mant = h & 0x3ff;

	if (exp == 0) {
		/* zero or subnormal: mant * 2^-24, exact in a double */
		double v = (double)mant * 0x1p-24;

		return sign != 0 ? -v : v;
	}
	if (exp == 0x1f) {
		/* infinity or NaN, payload kept in the top mantissa bits */
		return cbor_bits_double(sign | 0x7ff0000000000000ull | (uint64_t)mant << 42);
	}
	return cbor_bits_double(sign | (uint64_t)(exp - 15 + 1023) << 52 | (uint64_t)mant << 42);
}

/* The half-precision bits holding v exactly, or -1 (v not NaN). */
static int32_t
cbor_double_to_half(double v)
{
	uint64_t b = cbor_double_bits(v);
	uint32_t sign = (uint32_t)(b >> 63) << 15;
	int exp = (int)((b >> 52) & 0x7ff) - 1023;
	uint64_t mant = b & 0xfffffffffffffull;

	if ((b << 1) == 0) {
		return (int32_t)sign; /* +0, -0 */
	}
	if (exp == 1024) {
		return mant == 0 ? (int32_t)(sign | 0x7c00) : -1; /* infinity (NaN: caller) */
	}
	if (exp >= -14 && exp <= 15) {
		if ((mant & ((1ull << 42) - 1)) != 0) {
			return -1;
		}
		return (int32_t)(sign | (uint32_t)(exp + 15) << 10 | (uint32_t)(mant >> 42));
	}
	if (exp >= -24 && exp < -14) {
		unsigned s = (unsigned)(28 - exp); /* 43..52 */
		uint64_t m = mant | 1ull << 52;

		if ((m & ((1ull << s) - 1)) != 0) {
			return -1;
		}
		return (int32_t)(sign | (uint32_t)(m >> s));
	}
	return -1;
}

/* ---- Reader ---- */

int
sp_cbor_rd_init(struct sp_cbor_rd *rd, const uint8_t *buf, size_t len, uint8_t *scratch,
		size_t scratch_cap)
{
	SP_VERIFY(rd != NULL && (buf != NULL || len == 0));
	SP_VERIFY(scratch != NULL || scratch_cap == 0);
	if (len > UINT32_MAX) {
		return -EFBIG;
	}
	/* no arithmetic on NULL: an empty input or arena may come as NULL */
	rd->p = buf;
	rd->end = buf != NULL ? buf + len : buf;
	rd->out = scratch;
	rd->out_end = scratch != NULL ? scratch + scratch_cap : scratch;
	rd->depth = 0;
	rd->tagged = false;
	rd->top_done = false;
	return 0;
}

/* The argument of a head whose additional information is ai (< 28). */
static inline int
cbor_arg(struct sp_cbor_rd *rd, unsigned ai, uint64_t *arg)
{
	const uint8_t *p = rd->p;
	size_t left = (size_t)(rd->end - p);
	uint32_t v32;
	uint16_t v16;

	if (SP_LIKELY(ai < CBOR_AI_1)) {
		*arg = ai;
		return 0;
	}
	switch (ai) {
	case CBOR_AI_1:
		if (left < 1) {
			return -EMSGSIZE;
		}
		*arg = p[0];
		rd->p = p + 1;
		return 0;
	case CBOR_AI_1 + 1:
		if (left < 2) {
			return -EMSGSIZE;
		}
		memcpy(&v16, p, 2);
		*arg = __builtin_bswap16(v16);
		rd->p = p + 2;
		return 0;
	case CBOR_AI_1 + 2:
		if (left < 4) {
			return -EMSGSIZE;
		}
		memcpy(&v32, p, 4);
		*arg = __builtin_bswap32(v32);
		rd->p = p + 4;
		return 0;
	case CBOR_AI_8:
		if (left < 8) {
			return -EMSGSIZE;
		}
		memcpy(arg, p, 8);
		*arg = __builtin_bswap64(*arg);
		rd->p = p + 8;
		return 0;
	default:
		return -EINVAL; /* 28-30 reserved; 31 handled by the callers */
	}
}

/* A definite string's contents: n bytes at p, within the input; text checked for UTF-8. */
static inline int
cbor_span(struct sp_cbor_rd *rd, bool text, uint64_t n, const uint8_t **at)
{
	if (n > (uint64_t)(rd->end - rd->p)) {
		return -EMSGSIZE;
	}
	if (text && !sp_cbor_utf8_ok(rd->p, (size_t)n)) {
		return -EINVAL;
	}
	*at = rd->p;
	rd->p += n;
	return 0;
}

/* An indefinite string: definite chunks of the same major type up to the break, joined. */
static SP_COLD int
cbor_chunks(struct sp_cbor_rd *rd, unsigned major, struct sp_cbor_item *it)
{
	uint8_t *start = rd->out;
	uint64_t total = 0;

	for (;;) {
		const uint8_t *at;
		uint64_t n;
		uint8_t ib;
		int rc;

		if (rd->p >= rd->end) {
			return -EMSGSIZE;
		}
		ib = *rd->p++;
		if (ib == CBOR_BREAK) {
			break;
		}
		if ((ib >> 5) != major || (ib & 31) == CBOR_AI_INDEF) {
			return -EINVAL; /* RFC 8949 §3.2.3: definite chunks of the same type only */
		}
		rc = cbor_arg(rd, ib & 31, &n);
		rc = rc < 0 ? rc : cbor_span(rd, major == SP_CBOR_MAJOR_TEXT, n, &at);
		if (rc < 0) {
			return rc;
		}
		if (n > (uint64_t)(rd->out_end - rd->out)) {
			return -ENOSPC;
		}
		if (n != 0) {
			memcpy(rd->out, at, (size_t)n);
			rd->out += n;
		}
		total += n;
	}
	SP_ASSERT(start == NULL || start + total == rd->out);
	it->ptr = start != NULL ? start : rd->p; /* a non-NULL pointer even when empty */
	it->u = total;
	it->indef = 1;
	return 0;
}

/* An array or map head: open its level. n is its item count (keys and values for a map). */
static inline int
cbor_open(struct sp_cbor_rd *rd, bool map, bool indef, uint64_t n)
{
	struct sp_cbor_level *lv;

	if (rd->depth >= SP_CBOR_DEPTH_MAX) {
		return -E2BIG;
	}
	if (!indef && (n > (uint64_t)(rd->end - rd->p) || (map && n > UINT64_MAX / 2) ||
		       (map && 2 * n > (uint64_t)(rd->end - rd->p)))) {
		return -EMSGSIZE; /* more items than bytes left: each item takes one at least */
	}
	lv = &rd->lv[rd->depth++];
	lv->left = map ? 2 * n : n;
	lv->map = map;
	lv->indef = indef;
	lv->odd = 0;
	return 0;
}

/* Major type 7: simple values and floats. */
static int
cbor_simple(struct sp_cbor_rd *rd, unsigned ai, struct sp_cbor_item *it)
{
	uint64_t v;
	int rc;

	if (ai == CBOR_AI_INDEF) {
		return -EINVAL; /* a break where none may be */
	}
	rc = cbor_arg(rd, ai, &v);
	if (rc < 0) {
		return rc;
	}
	if (ai < CBOR_AI_1) {
		it->type = ai < CBOR_SIMPLE_FALSE
			       ? SP_CBOR_SIMPLE
			       : (uint8_t)(SP_CBOR_FALSE + ai - CBOR_SIMPLE_FALSE);
	} else if (ai == CBOR_AI_1) {
		if (v < CBOR_SIMPLE_MIN_2B) {
			return -EINVAL; /* RFC 8949 §3.3 */
		}
		it->type = SP_CBOR_SIMPLE;
	} else {
		it->type = SP_CBOR_FLOAT;
		it->fbits = (uint8_t)(8u << (ai - CBOR_AI_1)); /* 25, 26, 27: 16, 32, 64 */
		if (ai == CBOR_AI_1 + 1) {
			it->f = sp_cbor_half_to_double((uint16_t)v);
		} else if (ai == CBOR_AI_1 + 2) {
			float f;
			uint32_t b = (uint32_t)v;

			memcpy(&f, &b, sizeof(f));
			it->f = (double)f;
		} else {
			it->f = cbor_bits_double(v);
		}
	}
	it->u = v;
	return 0;
}

/* One head (and a string's contents) at rd->p. */
static inline int
cbor_item(struct sp_cbor_rd *rd, struct sp_cbor_item *it)
{
	unsigned major, ai;
	uint8_t ib;
	int rc;

	if (rd->p >= rd->end) {
		return -EMSGSIZE;
	}
	ib = *rd->p++;
	major = ib >> 5;
	ai = ib & 31;
	it->indef = 0;
	it->fbits = 0;
	it->ptr = NULL;
	if (major == SP_CBOR_MAJOR_SIMPLE) {
		return cbor_simple(rd, ai, it);
	}
	it->type = (uint8_t)major; /* SP_CBOR_UINT..SP_CBOR_TAG match the major types */
	if (ai == CBOR_AI_INDEF) {
		switch (major) {
		case SP_CBOR_MAJOR_BYTES:
		case SP_CBOR_MAJOR_TEXT:
			return cbor_chunks(rd, major, it);
		case SP_CBOR_MAJOR_ARRAY:
		case SP_CBOR_MAJOR_MAP:
			it->indef = 1;
			it->u = 0;
			return cbor_open(rd, major == SP_CBOR_MAJOR_MAP, true, 0);
		default:
			return -EINVAL; /* integers and tags have no indefinite form */
		}
	}
	rc = cbor_arg(rd, ai, &it->u);
	if (rc < 0) {
		return rc;
	}
	switch (major) {
	case SP_CBOR_MAJOR_BYTES:
	case SP_CBOR_MAJOR_TEXT:
		return cbor_span(rd, major == SP_CBOR_MAJOR_TEXT, it->u, &it->ptr);
	case SP_CBOR_MAJOR_ARRAY:
	case SP_CBOR_MAJOR_MAP:
		return cbor_open(rd, major == SP_CBOR_MAJOR_MAP, false, it->u);
	default:
		return 0;
	}
}

int
sp_cbor_next(struct sp_cbor_rd *rd, struct sp_cbor_item *it)
{
	struct sp_cbor_level *lv = NULL;
	int rc;

	if (rd->depth == 0) {
		if (rd->top_done) {
			return 0;
		}
	} else {
		lv = &rd->lv[rd->depth - 1];
		if (!rd->tagged && lv->indef && rd->p < rd->end && *rd->p == CBOR_BREAK) {
			if (lv->odd) {
				return -EINVAL; /* a map's key without its value */
			}
			rd->p++;
			rd->depth--;
			return 0;
		}
		if (!rd->tagged && !lv->indef && lv->left == 0) {
			rd->depth--;
			return 0;
		}
	}
	rc = cbor_item(rd, it);
	if (rc < 0) {
		return rc;
	}
	if (it->type == SP_CBOR_TAG) {
		rd->tagged = true; /* its item takes the container's slot */
		return 1;
	}
	rd->tagged = false;
	if (lv == NULL) {
		rd->top_done = true;
	} else if (lv->indef) {
		lv->odd ^= lv->map;
	} else {
		SP_ASSERT(lv->left > 0);
		lv->left--;
	}
	return 1;
}

int
sp_cbor_skip(struct sp_cbor_rd *rd, const struct sp_cbor_item *it)
{
	struct sp_cbor_item in = *it;
	uint32_t d0;
	int rc;

	while (in.type == SP_CBOR_TAG) {
		rc = sp_cbor_next(rd, &in);
		if (rc < 0) {
			return rc;
		}
		SP_VERIFY(rc == 1); /* after a tag the reader always reads an item */
	}
	if (in.type != SP_CBOR_ARRAY && in.type != SP_CBOR_MAP) {
		return 0;
	}
	SP_VERIFY(rd->depth > 0);
	d0 = rd->depth;
	do {
		rc = sp_cbor_next(rd, &in);
		if (rc < 0) {
			return rc;
		}
	} while (rc == 1 || rd->depth >= d0);
	SP_ASSERT(rd->depth == d0 - 1);
	return 0;
}

int
sp_cbor_skip_next(struct sp_cbor_rd *rd)
{
	struct sp_cbor_item it;
	int rc = sp_cbor_next(rd, &it);

	if (rc <= 0) {
		return rc;
	}
	rc = sp_cbor_skip(rd, &it);
	return rc < 0 ? rc : 1;
}

int
sp_cbor_finish(const struct sp_cbor_rd *rd)
{
	if (rd->depth != 0 || !rd->top_done || rd->tagged || rd->p != rd->end) {
		return -EINVAL;
	}
	return 0;
}

int
sp_cbor_check(const uint8_t *buf, size_t len, uint8_t *scratch, size_t scratch_cap)
{
	struct sp_cbor_rd rd;
	int rc = sp_cbor_rd_init(&rd, buf, len, scratch, scratch_cap);

	rc = rc < 0 ? rc : sp_cbor_skip_next(&rd);
	if (rc < 0) {
		return rc;
	}
	SP_ASSERT(rc == 1 && rd.depth == 0);
	return sp_cbor_finish(&rd);
}

/* ---- Writer ---- */

void
sp_cbor_w_init(struct sp_cbor_w *w, uint8_t *buf, size_t cap)
{
	SP_VERIFY(w != NULL && (buf != NULL || cap == 0));
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->open = 0;
	w->overflow = false;
}

static void
cbor_put(struct sp_cbor_w *w, const void *p, size_t n)
{
	if (w->overflow || w->cap - w->len < n) {
		w->overflow = true;
		return;
	}
	if (n != 0) {
		memcpy(w->buf + w->len, p, n);
	}
	w->len += n;
	SP_ASSERT(w->len <= w->cap);
}

/* A head with an argument of 1 << (ai - 24) bytes, big-endian (§3). */
static void
cbor_head_n(struct sp_cbor_w *w, unsigned major, unsigned ai, uint64_t arg)
{
	uint8_t h[9];
	unsigned n = ai < CBOR_AI_1 ? 0 : 1u << (ai - CBOR_AI_1);

	h[0] = (uint8_t)(major << 5 | ai);
	for (unsigned i = 0; i < n; i++) {
		h[1 + i] = (uint8_t)(arg >> (8 * (n - 1 - i)));
	}
	cbor_put(w, h, 1 + n);
}

void
sp_cbor_w_head(struct sp_cbor_w *w, enum sp_cbor_major major, uint64_t arg)
{
	uint8_t *p = sp_cbor_w_room(w, sp_cbor_head_len(arg));

	SP_ASSERT((unsigned)major <= SP_CBOR_MAJOR_SIMPLE);
	if (p != NULL) {
		sp_cbor_head_put(p, major, arg);
	}
}

void
sp_cbor_w_uint(struct sp_cbor_w *w, uint64_t v)
{
	sp_cbor_w_head(w, SP_CBOR_MAJOR_UINT, v);
}

void
sp_cbor_w_int(struct sp_cbor_w *w, int64_t v)
{
	if (v >= 0) {
		sp_cbor_w_head(w, SP_CBOR_MAJOR_UINT, (uint64_t)v);
	} else {
		sp_cbor_w_head(w, SP_CBOR_MAJOR_NINT, (uint64_t)(-(v + 1)));
	}
}

void
sp_cbor_w_bytes(struct sp_cbor_w *w, const void *p, size_t n)
{
	uint8_t *q = sp_cbor_w_room(w, sp_cbor_head_len(n) + n);

	SP_ASSERT(p != NULL || n == 0);
	if (q != NULL) {
		q = sp_cbor_head_put(q, SP_CBOR_MAJOR_BYTES, n);
		if (n != 0) {
			memcpy(q, p, n);
		}
	}
}

void
sp_cbor_w_raw(struct sp_cbor_w *w, const void *p, size_t n)
{
	SP_ASSERT(p != NULL || n == 0);
	cbor_put(w, p, n);
}

void
sp_cbor_w_text(struct sp_cbor_w *w, const char *s, size_t n)
{
	uint8_t *p = sp_cbor_w_room(w, sp_cbor_head_len(n) + n);

	SP_ASSERT(s != NULL || n == 0);
	SP_ASSERT(n == 0 || sp_cbor_utf8_valid_prefix((const uint8_t *)s, n) == n);
	if (p != NULL) {
		p = sp_cbor_head_put(p, SP_CBOR_MAJOR_TEXT, n);
		if (n != 0) {
			memcpy(p, s, n);
		}
	}
}

void
sp_cbor_w_array(struct sp_cbor_w *w, uint64_t n)
{
	sp_cbor_w_head(w, SP_CBOR_MAJOR_ARRAY, n);
}

void
sp_cbor_w_map(struct sp_cbor_w *w, uint64_t npairs)
{
	sp_cbor_w_head(w, SP_CBOR_MAJOR_MAP, npairs);
}

void
sp_cbor_w_indef(struct sp_cbor_w *w, enum sp_cbor_major major)
{
	uint8_t b = (uint8_t)((unsigned)major << 5 | CBOR_AI_INDEF);

	SP_VERIFY(major >= SP_CBOR_MAJOR_BYTES && major <= SP_CBOR_MAJOR_MAP);
	SP_VERIFY(w->open < SP_CBOR_W_INDEF_MAX);
	w->open++;
	cbor_put(w, &b, 1);
}

void
sp_cbor_w_break(struct sp_cbor_w *w)
{
	uint8_t b = CBOR_BREAK;

	SP_VERIFY(w->open > 0);
	w->open--;
	cbor_put(w, &b, 1);
}

void
sp_cbor_w_tag(struct sp_cbor_w *w, uint64_t tag)
{
	sp_cbor_w_head(w, SP_CBOR_MAJOR_TAG, tag);
}

void
sp_cbor_w_simple(struct sp_cbor_w *w, uint8_t v)
{
	SP_VERIFY(v < CBOR_SIMPLE_FALSE || v >= CBOR_SIMPLE_MIN_2B);
	sp_cbor_w_head(w, SP_CBOR_MAJOR_SIMPLE, v);
}

void
sp_cbor_w_bool(struct sp_cbor_w *w, bool v)
{
	sp_cbor_w_head(w, SP_CBOR_MAJOR_SIMPLE, v ? CBOR_SIMPLE_FALSE + 1 : CBOR_SIMPLE_FALSE);
}

void
sp_cbor_w_null(struct sp_cbor_w *w)
{
	sp_cbor_w_head(w, SP_CBOR_MAJOR_SIMPLE, CBOR_SIMPLE_FALSE + 2);
}

void
sp_cbor_w_undefined(struct sp_cbor_w *w)
{
	sp_cbor_w_head(w, SP_CBOR_MAJOR_SIMPLE, CBOR_SIMPLE_FALSE + 3);
}

void
sp_cbor_w_float_bits(struct sp_cbor_w *w, unsigned fbits, uint64_t bits)
{
	SP_VERIFY(fbits == 16 || fbits == 32 || fbits == 64);
	/* 16, 32, 64 -> additional information 25, 26, 27 */
	cbor_head_n(w, SP_CBOR_MAJOR_SIMPLE, fbits == 16 ? 25u : fbits == 32 ? 26u : 27u, bits);
}

void
sp_cbor_w_float(struct sp_cbor_w *w, double v)
{
	int32_t h;

	if (v != v) {
		sp_cbor_w_float_bits(w, 16, 0x7e00); /* §4.2.2: NaN as its half form */
		return;
	}
	h = cbor_double_to_half(v);
	if (h >= 0) {
		sp_cbor_w_float_bits(w, 16, (uint64_t)h);
		return;
	}
	if ((v >= -FLT_MAX && v <= FLT_MAX) && (double)(float)v == v) {
		float f = (float)v;
		uint32_t b;

		memcpy(&b, &f, sizeof(b));
		sp_cbor_w_float_bits(w, 32, b);
		return;
	}
	/* infinities are halves: only finite doubles get here */
	sp_cbor_w_float_bits(w, 64, cbor_double_bits(v));
}

ssize_t
sp_cbor_w_finish(const struct sp_cbor_w *w)
{
	if (w->overflow) {
		return -ENOSPC;
	}
	if (w->open != 0) {
		return -EINVAL;
	}
	SP_ASSERT(w->len <= w->cap);
	return (ssize_t)w->len;
}
