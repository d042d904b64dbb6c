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
 * Runs on worker lcores, per response; no allocation, no global state.
 */
#include <errno.h>
#include <string.h>

#include <spate/assert.h>

#include "api_json.h"
#include "b64.h"

/* Longest decimal of a uint64_t. */
#define JW_U64_DIGITS 20u

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

	SP_ASSERT(s != NULL || len == 0);
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
			     const char *seq, size_t seq_len)
{
	struct sp_api_jw w;

	SP_ASSERT(shard_id != NULL && seq != NULL);
	sp_api_jw_init(&w, buf, cap);
	sp_api_jw_obj_begin(&w);
	sp_api_jw_kstr(&w, "ShardId", shard_id, shard_len);
	sp_api_jw_kstr(&w, "SequenceNumber", seq, seq_len);
	sp_api_jw_kstr(&w, "EncryptionType", "NONE", 4);
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
	SP_VERIFY(w->depth == 2);
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
sp_api_jw_put_records_end(struct sp_api_jw *w)
{
	SP_VERIFY(w->depth == 2);
	sp_api_jw_arr_end(w);
	sp_api_jw_kstr(w, "EncryptionType", "NONE", 4);
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

void
sp_api_jw_get_records_record(struct sp_api_jw *w, const struct sp_api_jw_record *r)
{
	SP_VERIFY(w->depth == 2);
	SP_ASSERT(r->seq != NULL && r->key != NULL);
	sp_api_jw_obj_begin(w);
	sp_api_jw_kstr(w, "SequenceNumber", r->seq, r->seq_len);
	sp_api_jw_key(w, "ApproximateArrivalTimestamp", 27);
	sp_api_jw_epoch_ms(w, r->arrival_ms);
	sp_api_jw_key(w, "Data", 4);
	sp_api_jw_b64(w, r->data, r->data_len);
	sp_api_jw_kstr(w, "PartitionKey", r->key, r->key_len);
	if (r->encryption != NULL) {
		sp_api_jw_kstr(w, "EncryptionType", r->encryption, strlen(r->encryption));
	}
	sp_api_jw_obj_end(w);
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

void
sp_api_jw_get_records_end(struct sp_api_jw *w, const char *next, size_t next_len,
			  uint64_t millis_behind, const struct sp_api_jw_child *children,
			  unsigned nchildren)
{
	SP_VERIFY(w->depth == 2);
	SP_VERIFY(children != NULL || nchildren == 0);
	sp_api_jw_arr_end(w);
	if (next != NULL) {
		sp_api_jw_kstr(w, "NextShardIterator", next, next_len);
	}
	sp_api_jw_key(w, "MillisBehindLatest", 18);
	sp_api_jw_u64(w, millis_behind);
	if (nchildren != 0) {
		sp_api_jw_key(w, "ChildShards", 11);
		sp_api_jw_arr_begin(w);
		for (unsigned i = 0; i < nchildren; i++) {
			jw_child(w, &children[i]);
		}
		sp_api_jw_arr_end(w);
	}
	sp_api_jw_obj_end(w);
}
