/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The JSON scanner (api_json.h): a pull parser the request decoders drive over one body.
 * Owns no memory: the body is the caller's, unescaped strings go to the caller's scratch
 * arena. Invariants:
 *   - every byte the caller moves past has been checked against RFC 8259 (grammar, strict
 *     UTF-8 as RFC 3629 defines it, escapes, paired surrogates), so a body the decoders accept
 *     is a valid JSON text and nothing is left unvalidated behind the cursor;
 *   - the scratch arena holds at least the body's length, and an unescaped string is never
 *     longer than its source, so unescaping never checks for room (asserted);
 *   - nesting is bounded by SP_API_JSON_DEPTH_MAX, counted as jansson counts it, and nested
 *     values are skipped without recursion (one bit per open container).
 * String scanning looks at 16 bytes at a time (SSE2, baseline on x86-64) for the bytes that
 * end a plain run: '"', '\\', controls and non-ASCII; base64 Data, most of a PutRecords body,
 * never stops it. Runs on worker lcores, per request; no allocation, no global state.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <spate/assert.h>

#include "api_json.h"

/* Exponents are saturated here while converting: past it every result clamps or is 0. */
#define JSON_EXP_SAT 1000000000ll
/* Decimal digits that always fit in a uint64_t. */
#define JSON_U64_DIGITS 19

/* Bytes that continue a plain string run: printable ASCII except '"' and '\\'. */
static const uint8_t json_plain[256] = {
	[0x20] = 1, [0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7f] = 1,
};

static inline bool
json_is_ws(char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static inline bool
json_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline void
json_ws(struct sp_api_json *js)
{
	const char *p = js->p;

	while (p < js->end && json_is_ws(*p)) {
		p++;
	}
	js->p = p;
}

/* First byte in [p, end) that is not plain string content ('"', '\\', < 0x20, >= 0x80). */
static inline const char *
json_scan_plain(const char *p, const char *end)
{
#ifdef __SSE2__
	const __m128i quote = _mm_set1_epi8('"');
	const __m128i bslash = _mm_set1_epi8('\\');
	const __m128i space = _mm_set1_epi8(' ');

	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
		/* Signed compare: 0x00-0x1f and 0x80-0xff (negative) are both below ' '. */
		__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
						      _mm_cmpeq_epi8(v, bslash)),
					 _mm_cmplt_epi8(v, space));
		unsigned bits = (unsigned)_mm_movemask_epi8(m);

		if (bits != 0) {
			return p + __builtin_ctz(bits);
		}
		p += 16;
	}
#endif
	while (p < end && json_plain[(uint8_t)*p]) {
		p++;
	}
	return p;
}

/*
 * Length of the valid UTF-8 sequence at p (a lead byte >= 0x80), or 0 when it is not one:
 * RFC 3629 §4 (no overlongs, no surrogates, nothing past U+10FFFF), as jansson checks it.
 */
static inline unsigned
json_utf8_len(const char *p, const char *end)
{
	const uint8_t *u = (const uint8_t *)p;
	uint8_t lo = 0x80;
	uint8_t hi = 0xbf;
	unsigned n;

	if (u[0] < 0xc2 || u[0] > 0xf4) {
		return 0;
	}
	if (u[0] < 0xe0) {
		n = 2;
	} else if (u[0] < 0xf0) {
		n = 3;
		lo = u[0] == 0xe0 ? 0xa0 : 0x80;
		hi = u[0] == 0xed ? 0x9f : 0xbf;
	} else {
		n = 4;
		lo = u[0] == 0xf0 ? 0x90 : 0x80;
		hi = u[0] == 0xf4 ? 0x8f : 0xbf;
	}
	if ((size_t)(end - p) < n || u[1] < lo || u[1] > hi) {
		return 0;
	}
	for (unsigned i = 2; i < n; i++) {
		if ((u[i] & 0xc0) != 0x80) {
			return 0;
		}
	}
	return n;
}

/* Value of a hex digit, or -1. */
static inline int
json_hex(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	c = (char)(c | 0x20); /* ASCII lower case */
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static inline int
json_hex4(const char *p)
{
	int v = 0;

	for (unsigned i = 0; i < 4; i++) {
		int d = json_hex(p[i]);

		if (d < 0) {
			return -1;
		}
		v = v << 4 | d;
	}
	SP_ASSERT(v >= 0 && v <= 0xffff);
	return v;
}

/* UTF-8 of code point cp into dst (when not NULL); returns its length. */
static inline unsigned
json_utf8_put(char *dst, uint32_t cp)
{
	uint8_t b[4];
	unsigned n;

	SP_ASSERT(cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff));
	if (cp < 0x80) {
		b[0] = (uint8_t)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (uint8_t)(0xc0 | cp >> 6);
		b[1] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (uint8_t)(0xe0 | cp >> 12);
		b[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (uint8_t)(0xf0 | cp >> 18);
		b[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
		b[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		b[3] = (uint8_t)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (dst != NULL) {
		memcpy(dst, b, n);
	}
	return n;
}

/*
 * The \u escape at p (p[0] == '\\', p[1] == 'u'): a BMP code point, or a high surrogate that
 * a low-surrogate escape must follow (RFC 8259 §7). Writes its UTF-8 to dst (if not NULL) and
 * sets *wrote; returns the source bytes used, 0 when invalid.
 */
static unsigned
json_escape_u(const char *p, const char *end, char *dst, unsigned *wrote)
{
	int cp;
	int lo;

	if (end - p < 6 || (cp = json_hex4(p + 2)) < 0) {
		return 0;
	}
	if (cp >= 0xdc00 && cp <= 0xdfff) {
		return 0; /* a low surrogate alone */
	}
	if (cp < 0xd800 || cp > 0xdbff) {
		*wrote = json_utf8_put(dst, (uint32_t)cp);
		return 6;
	}
	if (end - p < 12 || p[6] != '\\' || p[7] != 'u') {
		return 0; /* a high surrogate alone */
	}
	lo = json_hex4(p + 8);
	if (lo < 0xdc00 || lo > 0xdfff) {
		return 0;
	}
	*wrote = json_utf8_put(dst, 0x10000u + ((uint32_t)(cp - 0xd800) << 10) +
					    (uint32_t)(lo - 0xdc00));
	SP_ASSERT(*wrote == 4);
	return 12;
}

/* The escape at p (p[0] == '\\'), as json_escape_u. */
static inline unsigned
json_escape(const char *p, const char *end, char *dst, unsigned *wrote)
{
	char c;

	SP_ASSERT(p < end && *p == '\\');
	if (end - p < 2) {
		return 0;
	}
	switch (p[1]) {
	case '"':
	case '\\':
	case '/':
		c = p[1];
		break;
	case 'b':
		c = '\b';
		break;
	case 'f':
		c = '\f';
		break;
	case 'n':
		c = '\n';
		break;
	case 'r':
		c = '\r';
		break;
	case 't':
		c = '\t';
		break;
	case 'u':
		return json_escape_u(p, end, dst, wrote);
	default:
		return 0;
	}
	if (dst != NULL) {
		*dst = c;
	}
	*wrote = 1;
	return 2;
}

/*
 * The rest of a string that has escapes: s is its first byte, q the first escape. The string
 * goes to the scratch arena, unescaped.
 */
static int
json_string_esc(struct sp_api_json *js, const char *s, const char *q, struct sp_api_json_str *out)
{
	const char *end = js->end;
	char *d = js->out;
	unsigned n;
	unsigned w;

	SP_ASSERT(q < end && *q == '\\');
	memcpy(d, s, (size_t)(q - s));
	d += q - s;
	while (q < end) {
		uint8_t c = (uint8_t)*q;

		if (c == '"') {
			out->ptr = js->out;
			out->len = (uint32_t)(d - js->out);
			out->escaped = 1;
			js->out = d;
			js->p = q + 1;
			SP_ASSERT(js->out <= js->out_end);
			return 0;
		}
		if (c == '\\') {
			n = json_escape(q, end, d, &w);
			d += w;
		} else if (c >= 0x80) {
			n = json_utf8_len(q, end);
			memcpy(d, q, n);
			d += n;
		} else if (c < 0x20) {
			return -EINVAL;
		} else {
			n = (unsigned)(json_scan_plain(q, end) - q);
			memcpy(d, q, n);
			d += n;
		}
		if (n == 0) {
			return -EINVAL;
		}
		q += n;
	}
	return -EINVAL;
}

/* A string whose opening quote was consumed: a slice of the body if it has no escapes. */
static int
json_string(struct sp_api_json *js, struct sp_api_json_str *out)
{
	const char *s = js->p;
	const char *q = s;
	const char *end = js->end;

	for (;;) {
		uint8_t c;
		unsigned n;

		q = json_scan_plain(q, end);
		if (q == end) {
			return -EINVAL;
		}
		c = (uint8_t)*q;
		if (SP_LIKELY(c == '"')) {
			out->ptr = s;
			out->len = (uint32_t)(q - s);
			out->escaped = 0;
			js->p = q + 1;
			return 0;
		}
		if (c == '\\') {
			return json_string_esc(js, s, q, out);
		}
		if (c < 0x20 || (n = json_utf8_len(q, end)) == 0) {
			return -EINVAL;
		}
		q += n;
	}
}

/* A string whose opening quote was consumed, validated and passed over (nothing written). */
static int
json_string_skip(struct sp_api_json *js)
{
	const char *q = js->p;
	const char *end = js->end;

	for (;;) {
		unsigned n;
		unsigned w;

		q = json_scan_plain(q, end);
		if (q == end) {
			return -EINVAL;
		}
		if (*q == '"') {
			js->p = q + 1;
			return 0;
		}
		if (*q == '\\') {
			n = json_escape(q, end, NULL, &w);
		} else if ((uint8_t)*q < 0x20) {
			n = 0;
		} else {
			n = json_utf8_len(q, end);
		}
		if (n == 0) {
			return -EINVAL;
		}
		q += n;
	}
}

/* A number (RFC 8259 §6): its text in *out. */
static int
json_number(struct sp_api_json *js, struct sp_api_json_str *out)
{
	const char *s = js->p;
	const char *p = s;
	const char *end = js->end;

	if (p < end && *p == '-') {
		p++;
	}
	if (p == end || !json_is_digit(*p)) {
		return -EINVAL;
	}
	if (*p++ != '0') {
		while (p < end && json_is_digit(*p)) {
			p++;
		}
	}
	if (p < end && *p == '.') {
		if (++p == end || !json_is_digit(*p)) {
			return -EINVAL;
		}
		while (p < end && json_is_digit(*p)) {
			p++;
		}
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		if (++p < end && (*p == '+' || *p == '-')) {
			p++;
		}
		if (p == end || !json_is_digit(*p)) {
			return -EINVAL;
		}
		while (p < end && json_is_digit(*p)) {
			p++;
		}
	}
	SP_ASSERT(p > s && p <= end);
	out->ptr = s;
	out->len = (uint32_t)(p - s);
	out->escaped = 0;
	js->p = p;
	return 0;
}

/* true, false or null: its kind. */
static int
json_literal(struct sp_api_json *js)
{
	size_t room = (size_t)(js->end - js->p);

	if (room >= 4 && memcmp(js->p, "true", 4) == 0) {
		js->p += 4;
		return SP_API_JSON_TRUE;
	}
	if (room >= 5 && memcmp(js->p, "false", 5) == 0) {
		js->p += 5;
		return SP_API_JSON_FALSE;
	}
	if (room >= 4 && memcmp(js->p, "null", 4) == 0) {
		js->p += 4;
		return SP_API_JSON_NULL;
	}
	return -EINVAL;
}

unsigned
sp_api_json_utf8_len(const char *p, const char *end)
{
	SP_ASSERT(p < end);
	return (uint8_t)*p < 0x80 ? 1 : json_utf8_len(p, end);
}

int
sp_api_json_init(struct sp_api_json *js, const char *body, size_t len, char *scratch,
		 size_t scratch_cap)
{
	SP_VERIFY(js != NULL);
	SP_VERIFY(body != NULL || len == 0);
	if (len > UINT32_MAX) {
		return -EFBIG;
	}
	if (scratch_cap < len || (scratch == NULL && len != 0)) {
		return -ENOSPC;
	}
	/* No arithmetic on NULL (an empty body may come without a buffer). */
	js->p = body != NULL ? body : "";
	js->end = js->p + len;
	js->out = scratch;
	js->out_end = scratch != NULL ? scratch + scratch_cap : NULL;
	js->depth = 0;
	js->after_value = false;
	return 0;
}

int
sp_api_json_peek(struct sp_api_json *js)
{
	json_ws(js);
	if (js->p == js->end) {
		return -EINVAL;
	}
	switch (*js->p) {
	case '{':
		return SP_API_JSON_OBJECT;
	case '[':
		return SP_API_JSON_ARRAY;
	case '"':
		return SP_API_JSON_STRING;
	case 't':
		return SP_API_JSON_TRUE;
	case 'f':
		return SP_API_JSON_FALSE;
	case 'n':
		return SP_API_JSON_NULL;
	default:
		return *js->p == '-' || json_is_digit(*js->p) ? SP_API_JSON_NUMBER : -EINVAL;
	}
}

static int
json_enter(struct sp_api_json *js, char open)
{
	json_ws(js);
	if (js->p == js->end || *js->p != open) {
		return -EINVAL;
	}
	/* The container is a value at depth + 1 (jansson's count: the top level is 1). */
	if (js->depth >= SP_API_JSON_DEPTH_MAX) {
		return -E2BIG;
	}
	js->p++;
	js->depth++;
	js->after_value = false;
	return 0;
}

int
sp_api_json_obj_enter(struct sp_api_json *js)
{
	return json_enter(js, '{');
}

int
sp_api_json_arr_enter(struct sp_api_json *js)
{
	return json_enter(js, '[');
}

/*
 * At a member or element position: ',' after a value, or the closing bracket. Returns 1 when
 * an item follows, 0 when the container closed, -EINVAL otherwise.
 */
static inline int
json_next(struct sp_api_json *js, char close)
{
	json_ws(js);
	if (js->p == js->end) {
		return -EINVAL;
	}
	if (*js->p == close) {
		SP_VERIFY(js->depth > 0);
		js->p++;
		js->depth--;
		js->after_value = true;
		return 0;
	}
	if (js->after_value) {
		if (*js->p != ',') {
			return -EINVAL;
		}
		js->p++;
		js->after_value = false;
	}
	return 1;
}

int
sp_api_json_obj_next(struct sp_api_json *js, struct sp_api_json_str *key)
{
	int rc = json_next(js, '}');

	if (rc <= 0) {
		return rc;
	}
	/* A key must follow: this also rejects "{," and the trailing comma of "{"a":1,}". */
	json_ws(js);
	if (js->p == js->end || *js->p != '"') {
		return -EINVAL;
	}
	js->p++;
	rc = json_string(js, key);
	if (rc < 0) {
		return rc;
	}
	json_ws(js);
	if (js->p == js->end || *js->p != ':') {
		return -EINVAL;
	}
	js->p++;
	SP_ASSERT(!js->after_value);
	return 1;
}

int
sp_api_json_arr_next(struct sp_api_json *js)
{
	int rc = json_next(js, ']');

	/* After a ',' the value read that follows rejects a ']' ("[1,]") by itself. */
	SP_ASSERT(rc != 1 || !js->after_value);
	return rc;
}

/* One open container per bit, set for an object: skip's stack. */
struct json_bits {
	uint64_t w[SP_API_JSON_DEPTH_MAX / 64];
};

static inline void
json_bit_set(struct json_bits *b, uint32_t i, bool v)
{
	uint64_t m = 1ull << (i & 63);

	b->w[i >> 6] = v ? b->w[i >> 6] | m : b->w[i >> 6] & ~m;
}

static inline bool
json_bit(const struct json_bits *b, uint32_t i)
{
	return (b->w[i >> 6] >> (i & 63)) & 1;
}

enum json_skip_state { SKIP_VALUE, SKIP_KEY, SKIP_AFTER };

/* One scalar value at js->p (string, number or literal), passed over. */
static int
json_skip_scalar(struct sp_api_json *js)
{
	struct sp_api_json_str num;
	int rc;

	if (*js->p == '"') {
		js->p++;
		return json_string_skip(js);
	}
	if (*js->p == '-' || json_is_digit(*js->p)) {
		return json_number(js, &num);
	}
	rc = json_literal(js);
	return rc < 0 ? rc : 0;
}

/* SKIP_VALUE: open a container (pushing its kind) or pass a scalar. The next state or < 0. */
static int
json_skip_value(struct sp_api_json *js, struct json_bits *stack, uint32_t *lvl)
{
	char c;
	int rc;

	json_ws(js);
	if (js->p == js->end) {
		return -EINVAL;
	}
	if (js->depth + *lvl >= SP_API_JSON_DEPTH_MAX) {
		return -E2BIG;
	}
	c = *js->p;
	if (c != '{' && c != '[') {
		rc = json_skip_scalar(js);
		return rc < 0 ? rc : SKIP_AFTER;
	}
	js->p++;
	json_bit_set(stack, *lvl, c == '{');
	(*lvl)++;
	json_ws(js);
	if (js->p < js->end && *js->p == (c == '{' ? '}' : ']')) {
		js->p++;
		(*lvl)--;
		return SKIP_AFTER;
	}
	return c == '{' ? SKIP_KEY : SKIP_VALUE;
}

/* SKIP_KEY: "key" then ':'. */
static int
json_skip_key(struct sp_api_json *js)
{
	int rc;

	json_ws(js);
	if (js->p == js->end || *js->p != '"') {
		return -EINVAL;
	}
	js->p++;
	rc = json_string_skip(js);
	if (rc < 0) {
		return rc;
	}
	json_ws(js);
	if (js->p == js->end || *js->p != ':') {
		return -EINVAL;
	}
	js->p++;
	return SKIP_VALUE;
}

/* SKIP_AFTER: ',' or the close of the innermost open container. */
static int
json_skip_after(struct sp_api_json *js, const struct json_bits *stack, uint32_t *lvl)
{
	bool obj;

	SP_ASSERT(*lvl > 0);
	obj = json_bit(stack, *lvl - 1);
	json_ws(js);
	if (js->p == js->end) {
		return -EINVAL;
	}
	if (*js->p == ',') {
		js->p++;
		return obj ? SKIP_KEY : SKIP_VALUE;
	}
	if (*js->p != (obj ? '}' : ']')) {
		return -EINVAL;
	}
	js->p++;
	(*lvl)--;
	return SKIP_AFTER;
}

int
sp_api_json_skip(struct sp_api_json *js)
{
	struct json_bits stack;
	uint32_t lvl = 0; /* containers this skip opened */
	int state = SKIP_VALUE;

	SP_VERIFY(js->depth <= SP_API_JSON_DEPTH_MAX);
	do {
		switch (state) {
		case SKIP_VALUE:
			state = json_skip_value(js, &stack, &lvl);
			break;
		case SKIP_KEY:
			state = json_skip_key(js);
			break;
		default:
			state = json_skip_after(js, &stack, &lvl);
			break;
		}
	} while (state >= 0 && !(state == SKIP_AFTER && lvl == 0));
	if (state < 0) {
		return state;
	}
	SP_ASSERT(lvl == 0 && js->p <= js->end);
	js->after_value = true;
	return 0;
}

int
sp_api_json_value(struct sp_api_json *js, struct sp_api_json_str *out)
{
	int kind;
	int rc;

	out->ptr = NULL;
	out->len = 0;
	out->escaped = 0;
	kind = sp_api_json_peek(js);
	if (kind < 0) {
		return kind;
	}
	if (js->depth >= SP_API_JSON_DEPTH_MAX) {
		return -E2BIG;
	}
	switch (kind) {
	case SP_API_JSON_STRING:
		js->p++;
		rc = json_string(js, out);
		break;
	case SP_API_JSON_NUMBER:
		rc = json_number(js, out);
		break;
	case SP_API_JSON_ARRAY:
	case SP_API_JSON_OBJECT:
		rc = sp_api_json_skip(js);
		break;
	default:
		rc = json_literal(js);
		kind = rc;
		break;
	}
	if (rc < 0) {
		return rc;
	}
	js->after_value = true;
	SP_ASSERT(kind > SP_API_JSON_ABSENT && kind <= SP_API_JSON_OBJECT);
	return kind;
}

int
sp_api_json_finish(struct sp_api_json *js)
{
	SP_VERIFY(js->depth == 0);
	json_ws(js);
	return js->p == js->end ? 0 : -EINVAL;
}

/* i-th significant digit of a number's mantissa: the integer digits, then the fraction's. */
static inline unsigned
json_digit_at(const char *ip, int64_t ni, const char *fp, int64_t i)
{
	return (unsigned)((i < ni ? ip[i] : fp[i - ni]) - '0');
}

/*
 * trunc(|x| * 10^k) of the number text in num, exactly; *over when it needs more than
 * JSON_U64_DIGITS digits. The text is valid JSON number grammar (the scanner's output).
 */
static uint64_t
json_num_scaled(const struct sp_api_json_str *num, int k, bool *neg, bool *over)
{
	const char *p = num->ptr;
	const char *e = p + num->len;
	const char *ip, *fp = NULL;
	int64_t ni, nf = 0, exp = 0, lz = 0, m;
	uint64_t v = 0;

	SP_VERIFY(num->ptr != NULL && num->len > 0);
	*neg = *p == '-';
	*over = false;
	p += *neg;
	for (ip = p; p < e && json_is_digit(*p); p++) {
	}
	ni = p - ip;
	if (p < e && *p == '.') {
		for (fp = ++p; p < e && json_is_digit(*p); p++) {
		}
		nf = p - fp;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		bool eneg = *++p == '-';

		for (p += (*p == '+' || *p == '-'); p < e; p++) {
			exp = SP_MIN(exp * 10 + (*p - '0'), JSON_EXP_SAT);
		}
		exp = eneg ? -exp : exp;
	}
	while (lz < ni + nf && json_digit_at(ip, ni, fp, lz) == 0) {
		lz++;
	}
	/* Digits left of the point once scaled: significant digits + exponent - fraction + k. */
	m = (ni + nf - lz) + exp - nf + k;
	if (lz == ni + nf || m <= 0) {
		return 0;
	}
	if (m > JSON_U64_DIGITS) {
		*over = true;
		return UINT64_MAX;
	}
	for (int64_t i = 0; i < m; i++) {
		v = v * 10 + (lz + i < ni + nf ? json_digit_at(ip, ni, fp, lz + i) : 0);
	}
	return v;
}

int32_t
sp_api_json_num_int32(const struct sp_api_json_str *num)
{
	bool neg, over;
	uint64_t v = json_num_scaled(num, 0, &neg, &over);

	if (neg) {
		return over || v > (uint64_t)INT32_MAX + 1 ? INT32_MIN : (int32_t)-(int64_t)v;
	}
	return over || v > INT32_MAX ? INT32_MAX : (int32_t)v;
}

int64_t
sp_api_json_num_ms(const struct sp_api_json_str *num)
{
	bool neg, over;
	uint64_t v = json_num_scaled(num, 3, &neg, &over);

	if (neg) {
		return over || v > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)v;
	}
	return over || v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

size_t
sp_api_json_utf16_len(const char *s, size_t len)
{
	size_t n = 0;
	size_t i = 0;

	SP_ASSERT(s != NULL || len == 0);
	/* ASCII eight bytes at a time: one unit per byte. */
	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, s + i, 8);
		if (w & 0x8080808080808080ull) {
			break;
		}
		n += 8;
	}
	/* One unit per character (every byte but continuations), two for 4-byte sequences. */
	for (; i < len; i++) {
		uint8_t c = (uint8_t)s[i];

		n += (c & 0xc0) != 0x80;
		n += c >= 0xf0;
	}
	SP_ASSERT(n <= 2 * len);
	return n;
}

size_t
sp_api_json_plain_span(const char *s, size_t len)
{
	const char *end = json_scan_plain(s, s + len);

	SP_ASSERT(end >= s && end <= s + len);
	return (size_t)(end - s);
}
