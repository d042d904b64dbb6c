/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The JSON writer (api_json.h) and the Kinesis response bodies built on it: error bodies,
 * PutRecord, PutRecords, GetShardIterator and GetRecords. Writes into one caller buffer and
 * never past its capacity: the first write that does not fit sets `overflow`, every later
 * write is dropped, and sp_api_jw_finish() reports -ENOSPC (the caller retries with a bigger
 * buffer or answers InternalFailure). Commas are placed from a bit per open container, so the
 * callers compose shapes from begin/key/value/end calls without tracking separators.
 * Strings are escaped per RFC 8259 §7: '"', '\\' and controls escaped (controls without a
 * short form as \u00XX), valid UTF-8 passed through, an invalid byte replaced by U+FFFD so
 * that a reply is always valid UTF-8 even when a message was cut mid-character.
 *
 * Hot path: a PutRecords entry and a GetRecords record are written in one piece when the
 * buffer has room for the whole of it plus JW_SLACK: one bounds check, the fixed parts copied
 * as constants, strings that need no escaping (sequence numbers, shard ids, most partition
 * keys: checked 16 bytes at a time) copied while they are checked. Anything else (a string to
 * escape, a negative timestamp, the end of the buffer) falls back to the generic calls, which
 * write the same bytes: the output never depends on which path ran (api_json_test.c checks
 * both against a reference built byte by byte).
 * Runs on worker lcores, per response; no allocation, no global state.
 */
#include <errno.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <spate/assert.h>
#include <spate/seqno.h>

#include "api_json.h"
#include "b64.h"

/* Longest decimal of a uint64_t. */
#define JW_U64_DIGITS 20u
/*
 * Bytes the one-piece writers may store past the end of what they keep (whole words and
 * vectors), and so must find free beyond it; they fall back to the generic path otherwise.
 */
#define JW_SLACK 32u
/* Longest sp_api_jw_epoch_ms text: "-9223372036854775.808". */
#define JW_EPOCH_MAX 21u

/* Length of a string literal. */
#define JW_LIT_LEN(lit) (sizeof(lit) - 1u)

static inline void
jw_put(struct sp_api_jw *w, const void *s, size_t n)
{
	if (SP_UNLIKELY(w->overflow || n > w->cap - w->len)) {
		w->overflow = true;
		return;
	}
	if (n == 0) {
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static inline void
jw_byte(struct sp_api_jw *w, char c)
{
	jw_put(w, &c, 1);
}

/* Before a value or a key: the comma that separates it from the previous item, if any. */
static inline void
jw_sep(struct sp_api_jw *w)
{
	uint32_t bit;

	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth == 0) {
		return;
	}
	bit = 1u << (w->depth - 1);
	if (w->nonempty & bit) {
		jw_byte(w, ',');
	}
	w->nonempty |= bit;
}

/*
 * Where n more bytes go, when the buffer has room for them and JW_SLACK beyond; NULL when it
 * does not (or a write already failed): the caller then takes the generic path, which fills
 * the buffer exactly as before and marks the overflow at the first piece that does not fit.
 */
static inline char *
jw_room(struct sp_api_jw *w, size_t n)
{
	if (SP_UNLIKELY(w->overflow || n > w->cap - w->len || w->cap - w->len - n < JW_SLACK)) {
		return NULL;
	}
	return w->buf + w->len;
}

/* jw_sep for a one-piece writer: the comma, if one is due, at p (in room); returns past it. */
static inline char *
jw_sep_at(struct sp_api_jw *w, char *p)
{
	uint32_t bit;

	if (w->after_key) {
		w->after_key = false;
		return p;
	}
	if (w->depth == 0) {
		return p;
	}
	bit = 1u << (w->depth - 1);
	*p = ',';
	p += (w->nonempty & bit) != 0;
	w->nonempty |= bit;
	return p;
}

/* 1 when the container open at the current depth has an item already (a comma goes first). */
static inline unsigned
jw_comma(const struct sp_api_jw *w)
{
	SP_ASSERT(w->depth > 0 && !w->after_key);
	return (w->nonempty >> (w->depth - 1)) & 1u;
}

/*
 * Keep what a one-piece writer put at the current depth up to end: an object item, so the
 * state is the one the generic calls leave (this container and the object's own bit set).
 */
static inline void
jw_commit_item(struct sp_api_jw *w, const char *end)
{
	SP_ASSERT(end > w->buf + w->len && end <= w->buf + w->cap);
	w->len = (size_t)(end - w->buf);
	w->nonempty |= 3u << (w->depth - 1);
}

/* Whether the 8 bytes of x are all plain: no '"', '\\', control, or byte with its top bit. */
static inline bool
jw_word_plain(uint64_t x)
{
	const uint64_t ones = UINT64_C(0x0101010101010101), top = ones * 0x80u;
	uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');

	/* a zero byte in q or b, a byte below 0x20 in x (exact tests for "any" byte) */
	return ((((q - ones) & ~q) | ((b - ones) & ~b) | ((x - ones * 0x20u) & ~x) | x) & top) == 0;
}

/*
 * Copy s[0..n) to dst (exactly n bytes) and tell whether every byte was plain, the set
 * sp_api_json_plain_span accepts: then the JSON string is the bytes themselves. Whole
 * 16-, 8- or 4-byte pieces, the last one overlapping, so no byte loop (below 4 bytes only) and
 * no library call.
 */
static inline bool
jw_copy_plain(char *dst, const char *s, size_t n)
{
	uint64_t x;
	bool plain = true;

	SP_ASSERT((s != NULL && dst != NULL) || n == 0);
	SP_ASSERT(dst + n <= s || s + n <= dst);
#if defined(__SSE2__)
	if (n >= 16) {
		const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
		const __m128i space = _mm_set1_epi8(' ');
		__m128i bad = _mm_setzero_si128(), v;

		for (size_t i = 0;; i = i + 32 <= n ? i + 16 : n - 16) {
			v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
			/* signed: controls and bytes >= 0x80 are both below ' ' */
			bad =
			    _mm_or_si128(bad, _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
									_mm_cmpeq_epi8(v, bslash)),
							   _mm_cmplt_epi8(v, space)));
			_mm_storeu_si128((__m128i *)(void *)(dst + i), v);
			if (i + 16 == n) {
				return _mm_movemask_epi8(bad) == 0;
			}
		}
	}
#endif
	if (n >= 8) {
		for (size_t i = 0;; i = i + 16 <= n ? i + 8 : n - 8) {
			memcpy(&x, s + i, 8);
			plain &= jw_word_plain(x);
			memcpy(dst + i, &x, 8);
			if (i + 8 == n) {
				return plain;
			}
		}
	}
	if (n >= 4) {
		uint32_t lo, hi;

		memcpy(&lo, s, 4);
		memcpy(&hi, s + n - 4, 4);
		memcpy(dst, &lo, 4);
		memcpy(dst + n - 4, &hi, 4);
		return jw_word_plain(lo | (uint64_t)hi << 32);
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];

		plain &= c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
		dst[i] = (char)c;
	}
	return plain;
}

/*
 * Epoch milliseconds ms >= 0 as seconds with three decimals at p ("0.005"), any value: the
 * seconds (below 10^16) in two SWAR words of eight digits, their leading zeros counted from
 * the first nonzero word (one digit stays), the text assembled from word pairs shifted by that
 * count, then '.' and the fraction. Returns the length (5 to 20); stores 24 bytes.
 */
static size_t
jw_epoch_digits_any(char *p, uint64_t ms)
{
	uint64_t sec = ms / 1000u, frac = ms % 1000u, w[5], o;
	unsigned k, lz, sh;

	SP_ASSERT(sec < SP_DEC_E16);
	w[0] = sp_dec8_swar((uint32_t)(sec / SP_DEC_E8));
	w[1] = sp_dec8_swar((uint32_t)(sec % SP_DEC_E8));
	/* '.' and frac's last three digits (bytes 5..7 of its eight) */
	w[2] = '.' | ((sp_dec8_swar((uint32_t)frac) >> 40) | UINT64_C(0x303030)) << 8;
	w[3] = 0;
	w[4] = 0;
	k = w[0] == 0;
	lz = 8 * k + (unsigned)__builtin_ctzll(w[k] | UINT64_C(1) << 63) / 8;
	w[0] |= SP_DEC_ASCII8;
	w[1] |= SP_DEC_ASCII8;
	sh = 8 * (lz % 8);
	for (unsigned j = 0; j < 3; j++) {
		k = lz / 8 + j;
		o = w[k] >> sh | w[k + 1] << (56 - sh) << 8;
		memcpy(p + 8 * j, &o, 8);
	}
	return 16 - lz + 4;
}

/*
 * Epoch milliseconds ms >= 0 as seconds with three decimals at p ("1701760153.593"); returns
 * the length (5 to 20) and stores up to 24 bytes. Timestamps from 2001 to 2286 have thirteen
 * digits: two SWAR words of ms's digits, and the '.' goes between the tenth and the eleventh
 * with constant shifts.
 */
static inline size_t
jw_epoch_digits(char *p, uint64_t ms)
{
	uint64_t hi, lo, o;

	if (SP_UNLIKELY(ms - UINT64_C(1000000000000) >= UINT64_C(9000000000000))) {
		return jw_epoch_digits_any(p, ms);
	}
	hi = sp_dec8_swar((uint32_t)(ms / SP_DEC_E8)) | SP_DEC_ASCII8;
	lo = sp_dec8_swar((uint32_t)(ms % SP_DEC_E8)) | SP_DEC_ASCII8;
	/* hi's last five digits, lo's first three; lo's next two, '.', its last three */
	o = hi >> 24 | lo << 40;
	memcpy(p, &o, 8);
	o = (lo >> 24 & 0xffffu) | (uint64_t)'.' << 16 | (lo >> 40) << 24;
	memcpy(p + 8, &o, 8);
	return 14;
}

void
sp_api_jw_init(struct sp_api_jw *w, char *buf, size_t cap)
{
	SP_VERIFY(w != NULL);
	SP_VERIFY(buf != NULL || cap == 0);
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->depth = 0;
	w->nonempty = 0;
	w->after_key = false;
	w->overflow = false;
}

static void
jw_open(struct sp_api_jw *w, char c)
{
	jw_sep(w);
	SP_VERIFY(w->depth < SP_API_JW_DEPTH_MAX);
	jw_byte(w, c);
	w->depth++;
	w->nonempty &= ~(1u << (w->depth - 1));
}

static void
jw_close(struct sp_api_jw *w, char c)
{
	SP_VERIFY(w->depth > 0);
	SP_VERIFY(!w->after_key);
	w->depth--;
	jw_byte(w, c);
}

void
sp_api_jw_obj_begin(struct sp_api_jw *w)
{
	jw_open(w, '{');
}

void
sp_api_jw_obj_end(struct sp_api_jw *w)
{
	jw_close(w, '}');
}

void
sp_api_jw_arr_begin(struct sp_api_jw *w)
{
	jw_open(w, '[');
}

void
sp_api_jw_arr_end(struct sp_api_jw *w)
{
	jw_close(w, ']');
}

/* The escape of byte c (a control, '"' or '\\') into e; returns its length. */
static size_t
jw_escape(uint8_t c, char e[6])
{
	static const char hex[] = "0123456789abcdef";

	e[0] = '\\';
	switch (c) {
	case '"':
	case '\\':
		e[1] = (char)c;
		return 2;
	case '\b':
		e[1] = 'b';
		return 2;
	case '\f':
		e[1] = 'f';
		return 2;
	case '\n':
		e[1] = 'n';
		return 2;
	case '\r':
		e[1] = 'r';
		return 2;
	case '\t':
		e[1] = 't';
		return 2;
	default:
		SP_ASSERT(c < 0x20);
		memcpy(e + 1, "u00", 3);
		e[4] = hex[c >> 4];
		e[5] = hex[c & 15];
		return 6;
	}
}

/* A JSON string: s[0..len) escaped, in quotes. */
static void
jw_string(struct sp_api_jw *w, const char *s, size_t len)
{
	const char *end = s + len;
	const char *p = s;
	char *out = jw_room(w, len + 2);

	SP_ASSERT(s != NULL || len == 0);
	/* most strings need no escape: copied while checked, in one piece */
	if (out != NULL && jw_copy_plain(out + 1, s, len)) {
		out[0] = '"';
		out[len + 1] = '"';
		w->len += len + 2;
		return;
	}
	jw_byte(w, '"');
	while (p < end) {
		size_t run = sp_api_json_plain_span(p, (size_t)(end - p));
		uint8_t c;
		unsigned n;
		char e[6];

		jw_put(w, p, run);
		p += run;
		if (p == end) {
			break;
		}
		c = (uint8_t)*p;
		if (c < 0x80) {
			jw_put(w, e, jw_escape(c, e));
			n = 1;
		} else if ((n = sp_api_json_utf8_len(p, end)) != 0) {
			jw_put(w, p, n);
		} else {
			jw_put(w, "\\ufffd", 6);
			n = 1;
		}
		p += n;
	}
	jw_byte(w, '"');
}

void
sp_api_jw_key(struct sp_api_jw *w, const char *key, size_t len)
{
	SP_VERIFY(w->depth > 0 && !w->after_key);
	jw_sep(w);
	jw_string(w, key, len);
	jw_byte(w, ':');
	w->after_key = true;
}

void
sp_api_jw_str(struct sp_api_jw *w, const char *s, size_t len)
{
	jw_sep(w);
	jw_string(w, s, len);
}

void
sp_api_jw_kstr(struct sp_api_jw *w, const char *key, const char *s, size_t len)
{
	sp_api_jw_key(w, key, strlen(key));
	sp_api_jw_str(w, s, len);
}

void
sp_api_jw_raw(struct sp_api_jw *w, const char *s, size_t len)
{
	SP_ASSERT(len > 0);
	jw_sep(w);
	jw_put(w, s, len);
}

/* Decimal digits of v, right-aligned in d[JW_U64_DIGITS]; returns the first one. */
static char *
jw_u64_digits(uint64_t v, char d[JW_U64_DIGITS])
{
	char *p = d + JW_U64_DIGITS;

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	SP_ASSERT(p >= d);
	return p;
}

void
sp_api_jw_u64(struct sp_api_jw *w, uint64_t v)
{
	char d[JW_U64_DIGITS];
	char *p = jw_u64_digits(v, d);

	sp_api_jw_raw(w, p, (size_t)(d + JW_U64_DIGITS - p));
}

void
sp_api_jw_i64(struct sp_api_jw *w, int64_t v)
{
	char d[JW_U64_DIGITS + 1];
	char *p = jw_u64_digits(v < 0 ? 0 - (uint64_t)v : (uint64_t)v, d + 1);

	if (v < 0) {
		*--p = '-';
	}
	sp_api_jw_raw(w, p, (size_t)(d + sizeof(d) - p));
}

void
sp_api_jw_bool(struct sp_api_jw *w, bool v)
{
	sp_api_jw_raw(w, v ? "true" : "false", v ? 4 : 5);
}

void
sp_api_jw_epoch_ms(struct sp_api_jw *w, int64_t ms)
{
	uint64_t a = ms < 0 ? 0 - (uint64_t)ms : (uint64_t)ms;
	char d[1 + JW_U64_DIGITS + 4];
	char *tail = d + sizeof(d) - 4;
	char *p;

	p = jw_room(w, 1 + JW_EPOCH_MAX);
	if (ms >= 0 && p != NULL) {
		p = jw_sep_at(w, p);
		w->len = (size_t)(p + jw_epoch_digits(p, (uint64_t)ms) - w->buf);
		return;
	}
	/* Plain decimal, never exponent form (kinesis-api.md §1.3): seconds '.' three digits. */
	tail[0] = '.';
	tail[1] = (char)('0' + a % 1000 / 100);
	tail[2] = (char)('0' + a % 100 / 10);
	tail[3] = (char)('0' + a % 10);
	p = jw_u64_digits(a / 1000, tail - JW_U64_DIGITS);
	if (ms < 0) {
		*--p = '-';
	}
	SP_ASSERT(p >= d);
	sp_api_jw_raw(w, p, (size_t)(d + sizeof(d) - p));
}

void
sp_api_jw_b64(struct sp_api_jw *w, const uint8_t *data, size_t n)
{
	size_t need = sp_b64_encoded_len(n);

	SP_ASSERT(data != NULL || n == 0);
	jw_sep(w);
	jw_byte(w, '"');
	if (w->overflow || need > w->cap - w->len) {
		w->overflow = true;
		return;
	}
	if (n != 0) {
		size_t k = sp_b64_encode(data, n, w->buf + w->len);

		SP_VERIFY(k == need);
	}
	w->len += need;
	jw_byte(w, '"');
}

ssize_t
sp_api_jw_finish(struct sp_api_jw *w)
{
	if (w->overflow) {
		return -ENOSPC;
	}
	SP_VERIFY(w->depth == 0 && !w->after_key);
	SP_ASSERT(w->len <= w->cap);
	return (ssize_t)w->len;
}

ssize_t
sp_api_json_write_error(char *buf, size_t cap, enum sp_kerr kerr, const char *msg,
			size_t msg_len, bool capital_m)
{
	struct sp_api_jw w;
	const char *type;

	SP_VERIFY(kerr > SP_KERR_NONE && kerr < SP_KERR_COUNT);
	type = sp_kerr_table[kerr].type;
	sp_api_jw_init(&w, buf, cap);
	sp_api_jw_obj_begin(&w);
	sp_api_jw_kstr(&w, "__type", type, strlen(type));
	if (msg != NULL) {
		sp_api_jw_kstr(&w, capital_m ? "Message" : "message", msg, msg_len);
	}
	sp_api_jw_obj_end(&w);
	return sp_api_jw_finish(&w);
}

ssize_t
sp_api_json_write_put_record(char *buf, size_t cap, const char *shard_id, size_t shard_len,
			     const char *seq, size_t seq_len, bool kms)
{
	static const char k_id[] = "{\"ShardId\":\"";
	static const char k_seq[] = "\",\"SequenceNumber\":\"";
	static const char k_none[] = "\",\"EncryptionType\":\"NONE\"}";
	static const char k_kms[] = "\",\"EncryptionType\":\"KMS\"}";
	const char *k_end = kms ? k_kms : k_none;
	size_t end_len = kms ? JW_LIT_LEN(k_kms) : JW_LIT_LEN(k_none);
	struct sp_api_jw w;
	char *p;

	SP_ASSERT(shard_id != NULL && seq != NULL);
	sp_api_jw_init(&w, buf, cap);
	p = jw_room(&w, JW_LIT_LEN(k_id) + shard_len + JW_LIT_LEN(k_seq) + seq_len + end_len);
	if (p != NULL) {
		memcpy(p, k_id, JW_LIT_LEN(k_id));
		p += JW_LIT_LEN(k_id);
		if (jw_copy_plain(p, shard_id, shard_len) &&
		    jw_copy_plain(p + shard_len + JW_LIT_LEN(k_seq), seq, seq_len)) {
			memcpy(p + shard_len, k_seq, JW_LIT_LEN(k_seq));
			p += shard_len + JW_LIT_LEN(k_seq) + seq_len;
			memcpy(p, k_end, end_len);
			return (ssize_t)(p + end_len - buf);
		}
	}
	sp_api_jw_obj_begin(&w);
	sp_api_jw_kstr(&w, "ShardId", shard_id, shard_len);
	sp_api_jw_kstr(&w, "SequenceNumber", seq, seq_len);
	sp_api_jw_kstr(&w, "EncryptionType", kms ? "KMS" : "NONE", kms ? 3 : 4);
	sp_api_jw_obj_end(&w);
	return sp_api_jw_finish(&w);
}

ssize_t
sp_api_json_write_shard_iterator(char *buf, size_t cap, const char *it, size_t it_len)
{
	struct sp_api_jw w;

	SP_ASSERT(it != NULL);
	sp_api_jw_init(&w, buf, cap);
	sp_api_jw_obj_begin(&w);
	sp_api_jw_kstr(&w, "ShardIterator", it, it_len);
	sp_api_jw_obj_end(&w);
	return sp_api_jw_finish(&w);
}

void
sp_api_jw_put_records_begin(struct sp_api_jw *w, uint32_t failed)
{
	SP_VERIFY(w->depth == 0);
	sp_api_jw_obj_begin(w);
	sp_api_jw_key(w, "FailedRecordCount", 17);
	sp_api_jw_u64(w, failed);
	sp_api_jw_key(w, "Records", 7);
	sp_api_jw_arr_begin(w);
}

void
sp_api_jw_put_records_ok(struct sp_api_jw *w, const char *shard_id, size_t shard_len,
			 const char *seq, size_t seq_len)
{
	static const char k_seq[] = "{\"SequenceNumber\":\"";
	static const char k_id[] = "\",\"ShardId\":\"";
	char *p;

	SP_VERIFY(w->depth == 2);
	SP_ASSERT(shard_id != NULL && seq != NULL);
	/* one piece: [,]{"SequenceNumber":"<seq>","ShardId":"<shard_id>"} */
	p = jw_room(w, 1 + JW_LIT_LEN(k_seq) + seq_len + JW_LIT_LEN(k_id) + shard_len + 2);
	if (p != NULL && !w->after_key) {
		*p = ',';
		p += jw_comma(w);
		memcpy(p, k_seq, JW_LIT_LEN(k_seq));
		p += JW_LIT_LEN(k_seq);
		if (jw_copy_plain(p, seq, seq_len) &&
		    jw_copy_plain(p + seq_len + JW_LIT_LEN(k_id), shard_id, shard_len)) {
			memcpy(p + seq_len, k_id, JW_LIT_LEN(k_id));
			p += seq_len + JW_LIT_LEN(k_id) + shard_len;
			memcpy(p, "\"}", 2);
			jw_commit_item(w, p + 2);
			return;
		}
	}
	sp_api_jw_obj_begin(w);
	sp_api_jw_kstr(w, "SequenceNumber", seq, seq_len);
	sp_api_jw_kstr(w, "ShardId", shard_id, shard_len);
	sp_api_jw_obj_end(w);
}

void
sp_api_jw_put_records_fail(struct sp_api_jw *w, const char *code, size_t code_len,
			   const char *msg, size_t msg_len)
{
	SP_VERIFY(w->depth == 2);
	sp_api_jw_obj_begin(w);
	sp_api_jw_kstr(w, "ErrorCode", code, code_len);
	sp_api_jw_kstr(w, "ErrorMessage", msg, msg_len);
	sp_api_jw_obj_end(w);
}

void
sp_api_jw_put_records_end(struct sp_api_jw *w, bool kms)
{
	SP_VERIFY(w->depth == 2);
	sp_api_jw_arr_end(w);
	sp_api_jw_kstr(w, "EncryptionType", kms ? "KMS" : "NONE", kms ? 3 : 4);
	sp_api_jw_obj_end(w);
}

void
sp_api_jw_get_records_begin(struct sp_api_jw *w)
{
	SP_VERIFY(w->depth == 0);
	sp_api_jw_obj_begin(w);
	sp_api_jw_key(w, "Records", 7);
	sp_api_jw_arr_begin(w);
}

/* A GetRecords record's members from PartitionKey's value on, through the generic calls. */
static void
jw_record_tail(struct sp_api_jw *w, const struct sp_api_jw_record *r)
{
	sp_api_jw_str(w, r->key, r->key_len);
	if (r->encryption != NULL) {
		sp_api_jw_kstr(w, "EncryptionType", r->encryption, strlen(r->encryption));
	}
	sp_api_jw_obj_end(w);
}

/*
 * One piece, up to and including the key "PartitionKey" (then the same as the generic calls
 * leave it: inside the record, after a key), or false when it does not apply.
 */
static bool
jw_record_head(struct sp_api_jw *w, const struct sp_api_jw_record *r, size_t tail_max, char **end)
{
	static const char k_seq[] = "{\"SequenceNumber\":\"";
	static const char k_ts[] = "\",\"ApproximateArrivalTimestamp\":";
	static const char k_data[] = ",\"Data\":\"";
	static const char k_key[] = "\",\"PartitionKey\":";
	size_t b64 = sp_b64_encoded_len(r->data_len);
	char *p = jw_room(w, 1 + JW_LIT_LEN(k_seq) + r->seq_len + JW_LIT_LEN(k_ts) + JW_EPOCH_MAX +
				 JW_LIT_LEN(k_data) + b64 + JW_LIT_LEN(k_key) + tail_max);

	if (p == NULL || w->after_key || r->arrival_ms < 0) {
		return false;
	}
	*p = ',';
	p += jw_comma(w);
	memcpy(p, k_seq, JW_LIT_LEN(k_seq));
	p += JW_LIT_LEN(k_seq);
	if (!jw_copy_plain(p, r->seq, r->seq_len)) {
		return false;
	}
	p += r->seq_len;
	memcpy(p, k_ts, JW_LIT_LEN(k_ts));
	p += JW_LIT_LEN(k_ts);
	p += jw_epoch_digits(p, (uint64_t)r->arrival_ms);
	memcpy(p, k_data, JW_LIT_LEN(k_data));
	p += JW_LIT_LEN(k_data);
	if (b64 != 0) {
		SP_VERIFY(sp_b64_encode(r->data, r->data_len, p) == b64);
	}
	p += b64;
	memcpy(p, k_key, JW_LIT_LEN(k_key));
	*end = p + JW_LIT_LEN(k_key);
	return true;
}

void
sp_api_jw_get_records_record(struct sp_api_jw *w, const struct sp_api_jw_record *r)
{
	static const char k_enc[] = ",\"EncryptionType\":\"";
	size_t enc_len = r->encryption != NULL ? strlen(r->encryption) : 0;
	/* "<key>"[,"EncryptionType":"<encryption>"]} */
	size_t enc_max = r->encryption != NULL ? JW_LIT_LEN(k_enc) + enc_len + 1 : 0;
	size_t tail = 2 + r->key_len + enc_max + 1;
	char *p;

	SP_VERIFY(w->depth == 2);
	SP_ASSERT(r->seq != NULL && r->key != NULL);
	if (jw_record_head(w, r, tail, &p)) {
		char *q = p + 1 + r->key_len;

		if (jw_copy_plain(p + 1, r->key, r->key_len) &&
		    (r->encryption == NULL ||
		     jw_copy_plain(q + 1 + JW_LIT_LEN(k_enc), r->encryption, enc_len))) {
			*p = '"';
			*q++ = '"';
			if (r->encryption != NULL) {
				memcpy(q, k_enc, JW_LIT_LEN(k_enc));
				q += JW_LIT_LEN(k_enc) + enc_len;
				*q++ = '"';
			}
			*q++ = '}';
			jw_commit_item(w, q);
			return;
		}
		/* a key or encryption to escape: keep the head, the rest as the generic calls do */
		jw_commit_item(w, p);
		w->depth++;
		w->after_key = true;
		jw_record_tail(w, r);
		return;
	}
	sp_api_jw_obj_begin(w);
	sp_api_jw_kstr(w, "SequenceNumber", r->seq, r->seq_len);
	sp_api_jw_key(w, "ApproximateArrivalTimestamp", 27);
	sp_api_jw_epoch_ms(w, r->arrival_ms);
	sp_api_jw_key(w, "Data", 4);
	sp_api_jw_b64(w, r->data, r->data_len);
	sp_api_jw_key(w, "PartitionKey", 12);
	jw_record_tail(w, r);
}

static void
jw_child(struct sp_api_jw *w, const struct sp_api_jw_child *c)
{
	SP_VERIFY(c->nparents <= 2);
	sp_api_jw_obj_begin(w);
	sp_api_jw_kstr(w, "ShardId", c->shard_id, strlen(c->shard_id));
	sp_api_jw_key(w, "ParentShards", 12);
	sp_api_jw_arr_begin(w);
	for (unsigned i = 0; i < c->nparents; i++) {
		sp_api_jw_str(w, c->parents[i], strlen(c->parents[i]));
	}
	sp_api_jw_arr_end(w);
	sp_api_jw_key(w, "HashKeyRange", 12);
	sp_api_jw_obj_begin(w);
	sp_api_jw_kstr(w, "StartingHashKey", c->start_hash, strlen(c->start_hash));
	sp_api_jw_kstr(w, "EndingHashKey", c->end_hash, strlen(c->end_hash));
	sp_api_jw_obj_end(w);
	sp_api_jw_obj_end(w);
}

static void jw_records_end(struct sp_api_jw *w, const char *pos_key, const char *pos,
			   size_t pos_len, uint64_t millis_behind,
			   const struct sp_api_jw_child *children, unsigned nchildren);

void
sp_api_jw_child_shards(struct sp_api_jw *w, const struct sp_api_jw_child *children,
		       unsigned nchildren)
{
	SP_VERIFY(children != NULL || nchildren == 0);
	if (nchildren == 0) {
		return;
	}
	sp_api_jw_key(w, "ChildShards", 11);
	sp_api_jw_arr_begin(w);
	for (unsigned i = 0; i < nchildren; i++) {
		jw_child(w, &children[i]);
	}
	sp_api_jw_arr_end(w);
}

void
sp_api_jw_get_records_end(struct sp_api_jw *w, const char *next, size_t next_len,
			  uint64_t millis_behind, const struct sp_api_jw_child *children,
			  unsigned nchildren)
{
	jw_records_end(w, "NextShardIterator", next, next_len, millis_behind, children, nchildren);
}

void
sp_api_jw_sub_event_end(struct sp_api_jw *w, const char *cont, size_t cont_len,
			uint64_t millis_behind, const struct sp_api_jw_child *children,
			unsigned nchildren)
{
	jw_records_end(w, "ContinuationSequenceNumber", cont, cont_len, millis_behind, children,
		       nchildren);
}

/* ],"<pos_key>":<pos>,"MillisBehindLatest":N[,"ChildShards":[..]]} */
static void
jw_records_end(struct sp_api_jw *w, const char *pos_key, const char *pos, size_t pos_len,
	       uint64_t millis_behind, const struct sp_api_jw_child *children, unsigned nchildren)
{
	SP_VERIFY(w->depth == 2);
	SP_VERIFY(children != NULL || nchildren == 0);
	sp_api_jw_arr_end(w);
	if (pos != NULL) {
		sp_api_jw_kstr(w, pos_key, pos, pos_len);
	}
	sp_api_jw_key(w, "MillisBehindLatest", 18);
	sp_api_jw_u64(w, millis_behind);
	sp_api_jw_child_shards(w, children, nchildren);
	sp_api_jw_obj_end(w);
}
