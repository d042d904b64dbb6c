/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hot-path JSON for the Kinesis data operations (docs/internals/api-json.md):
 *
 *   scanner  a pull parser over one request body: the caller walks the document (enter an
 *            object, next member, read a value, skip a value) and every byte it passes over is
 *            validated against RFC 8259 (grammar, UTF-8, escapes, surrogate pairs). Strings
 *            without escapes come back as slices of the body (zero copy); strings with escapes
 *            are unescaped into a scratch arena the caller gives once per body. No allocation,
 *            no recursion (nested values are skipped with a bit stack), a named depth bound.
 *   writer   a bounded JSON writer into a caller buffer: objects, arrays, keys, escaped
 *            strings, raw numbers, base64 values, epoch-seconds timestamps; a write that does
 *            not fit marks the writer, and sp_api_jw_finish() then returns -ENOSPC.
 *
 * The four request decoders (PutRecord, PutRecords, GetShardIterator, GetRecords) sit on top,
 * in api_req.h. jansson stays the reference: fuzz_json checks that the scanner accepts
 * exactly what json_loadb() accepts as an object (the exceptions are listed there).
 * Everything here runs on worker lcores, per request, and keeps no state between calls.
 */
#ifndef SP_API_JSON_H
#define SP_API_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <spate/compiler.h>
#include <spate/kinesis.h>

/*
 * Deepest value the scanner accepts: the outermost object is at depth 1, its member values at
 * depth 2, and so on. Same bound and same counting as jansson's JSON_PARSER_MAX_DEPTH, so
 * that the two agree on every input; the skip bit stack costs one bit per level.
 */
#define SP_API_JSON_DEPTH_MAX 2048u

/* What the next value is (sp_api_json_peek) or what a read value was (sp_api_json_value). */
enum sp_api_json_kind {
	SP_API_JSON_ABSENT = 0, /* not in the body (decoders: also after a null) */
	SP_API_JSON_NULL,
	SP_API_JSON_FALSE,
	SP_API_JSON_TRUE,
	SP_API_JSON_NUMBER,
	SP_API_JSON_STRING,
	SP_API_JSON_ARRAY,
	SP_API_JSON_OBJECT,
};

/*
 * A string (unescaped UTF-8, may hold NUL bytes) or a number's text. ptr points into the body
 * or into the scratch arena; both outlive the scanner. len 0 with ptr NULL: nothing.
 */
struct sp_api_json_str {
	const char *ptr;
	uint32_t len;
	uint32_t escaped; /* 1: unescaped into the scratch arena; 0: a slice of the body */
};

/* Scanner state: one per body, on the caller's stack. Fields are private to the scanner. */
struct sp_api_json {
	const char *p;	 /* next byte */
	const char *end; /* one past the last byte of the body */
	char *out;	 /* next free byte of the scratch arena */
	char *out_end;
	uint32_t depth;	  /* containers open */
	bool after_value; /* a value just ended: ',' or a closing bracket comes next */
};

/*
 * Start scanning body[0..len). scratch holds unescaped strings; it must hold at least len
 * bytes (an unescaped string is never longer than its source, so len always suffices).
 * Returns 0, -ENOSPC when scratch_cap < len, -EFBIG when len does not fit 32 bits.
 */
SP_MUST_CHECK int sp_api_json_init(struct sp_api_json *js, const char *body, size_t len,
				   char *scratch, size_t scratch_cap);

/*
 * The reads below return a negative errno when the body is not valid JSON there:
 *   -EINVAL  grammar, UTF-8, escape or surrogate error, or a premature end;
 *   -E2BIG   nesting deeper than SP_API_JSON_DEPTH_MAX.
 * After an error the scanner must not be used again.
 */

/* Kind of the next value (leading whitespace skipped), or -EINVAL if nothing valid starts. */
SP_MUST_CHECK int sp_api_json_peek(struct sp_api_json *js);

/* Consume '{' (resp. '['). 0 or a negative errno. */
SP_MUST_CHECK int sp_api_json_obj_enter(struct sp_api_json *js);
SP_MUST_CHECK int sp_api_json_arr_enter(struct sp_api_json *js);

/*
 * Next member of the object entered last: 1 with its key (unescaped) and the ':' consumed,
 * the value to be read next; 0 when the object closed ('}' consumed); negative on error.
 */
SP_MUST_CHECK int sp_api_json_obj_next(struct sp_api_json *js, struct sp_api_json_str *key);

/* Next element of the array entered last: 1 when a value follows, 0 when ']' closed it. */
SP_MUST_CHECK int sp_api_json_arr_next(struct sp_api_json *js);

/*
 * Read the next value whatever it is: strings unescaped into *out, numbers as their text in
 * *out, literals as their kind, arrays and objects skipped (validated). Returns the kind, or a
 * negative errno.
 */
SP_MUST_CHECK int sp_api_json_value(struct sp_api_json *js, struct sp_api_json_str *out);

/* Skip the next value, validating every byte. 0 or a negative errno. */
SP_MUST_CHECK int sp_api_json_skip(struct sp_api_json *js);

/* After the top-level value: only whitespace may remain. 0 or -EINVAL. */
SP_MUST_CHECK int sp_api_json_finish(struct sp_api_json *js);

/*
 * Number conversions of a number's text (as sp_api_json_value gives it). Exact decimal
 * arithmetic, no floating point, so that 2.9999999999999999999 stays below 3:
 *   int32_trunc   the value truncated toward zero and clamped to [INT32_MIN, INT32_MAX]
 *                 (kinesis-api.md §1.8: numbers are truncated, Integer clamps);
 *   ms_trunc      value * 1000 truncated toward zero, clamped to int64 (epoch seconds with a
 *                 fraction, as Kinesis JSON timestamps are, to milliseconds).
 */
int32_t sp_api_json_num_int32(const struct sp_api_json_str *num);
int64_t sp_api_json_num_ms(const struct sp_api_json_str *num);

/* String length in UTF-16 code units (Java and JavaScript String.length) of valid UTF-8. */
size_t sp_api_json_utf16_len(const char *s, size_t len);

/*
 * Length of the leading run of s[0..len) that a JSON string holds as is: printable ASCII but
 * '"' and '\\' (the writer copies such runs, the scanner stops at anything else).
 */
size_t sp_api_json_plain_span(const char *s, size_t len);

/*
 * Length of the valid UTF-8 sequence starting at p (p < end), 1 for ASCII, 0 when the bytes
 * there are not one (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF).
 */
unsigned sp_api_json_utf8_len(const char *p, const char *end);

/* ---- Writer ---- */

/* Nesting the writer tracks (the Kinesis shapes use 4). */
#define SP_API_JW_DEPTH_MAX 32u

struct sp_api_jw {
	char *buf;
	size_t cap;
	size_t len;
	uint32_t depth;
	uint32_t nonempty; /* bit d: the container at depth d has an item already */
	bool after_key;	   /* a key was written, its value comes next (no comma) */
	bool overflow;	   /* a write did not fit: sp_api_jw_finish() fails */
};

/*
 * Write into buf[0..cap). Bytes past the length written so far are scratch until written:
 * a record is assembled in place (whole words and vectors, some stored past its end) and kept
 * only when it is complete, so they may change even when the body ends before them.
 */
void sp_api_jw_init(struct sp_api_jw *w, char *buf, size_t cap);
void sp_api_jw_obj_begin(struct sp_api_jw *w);
void sp_api_jw_obj_end(struct sp_api_jw *w);
void sp_api_jw_arr_begin(struct sp_api_jw *w);
void sp_api_jw_arr_end(struct sp_api_jw *w);
/* A member key (written as a JSON string, escaped). */
void sp_api_jw_key(struct sp_api_jw *w, const char *key, size_t len);
/* A string value: RFC 8259 escaping, control characters as \u00XX, invalid UTF-8 as U+FFFD. */
void sp_api_jw_str(struct sp_api_jw *w, const char *s, size_t len);
/* A value written verbatim (a number's text, true, false, null). */
void sp_api_jw_raw(struct sp_api_jw *w, const char *s, size_t len);
void sp_api_jw_u64(struct sp_api_jw *w, uint64_t v);
void sp_api_jw_i64(struct sp_api_jw *w, int64_t v);
void sp_api_jw_bool(struct sp_api_jw *w, bool v);
/* A string value holding base64 (sp_b64_encode) of data[0..n). */
void sp_api_jw_b64(struct sp_api_jw *w, const uint8_t *data, size_t n);
/* Epoch milliseconds as epoch seconds with a three-digit fraction: 1701760153.593. */
void sp_api_jw_epoch_ms(struct sp_api_jw *w, int64_t ms);
/* Key and value in one call: "key":"s". */
void sp_api_jw_kstr(struct sp_api_jw *w, const char *key, const char *s, size_t len);
/* Bytes written so far, or -ENOSPC when something did not fit. Checks the nesting closed. */
SP_MUST_CHECK ssize_t sp_api_jw_finish(struct sp_api_jw *w);

/* ---- Kinesis response bodies (each returns the body length or -ENOSPC) ---- */

/*
 * Error body {"__type":"<type>","message":"<msg>"} for kerr (sp_kerr_table). msg NULL: no
 * message member ({"__type":"SerializationException"}). capital_m: the key is "Message"
 * (kinesalite's SerializationException; clients read either).
 */
SP_MUST_CHECK ssize_t sp_api_json_write_error(char *buf, size_t cap, enum sp_kerr kerr,
					      const char *msg, size_t msg_len, bool capital_m);

/* PutRecord: {"ShardId":..,"SequenceNumber":..,"EncryptionType":"NONE" or "KMS"}. */
SP_MUST_CHECK ssize_t sp_api_json_write_put_record(char *buf, size_t cap, const char *shard_id,
						   size_t shard_len, const char *seq,
						   size_t seq_len, bool kms);

/* GetShardIterator: {"ShardIterator":..}. */
SP_MUST_CHECK ssize_t sp_api_json_write_shard_iterator(char *buf, size_t cap, const char *it,
						       size_t it_len);

/*
 * PutRecords, written entry by entry in request order:
 *   sp_api_jw_put_records_begin(w, failed)    {"FailedRecordCount":N,"Records":[
 *   sp_api_jw_put_records_ok(w, ...)          {"SequenceNumber":..,"ShardId":..}
 *   sp_api_jw_put_records_fail(w, ...)        {"ErrorCode":..,"ErrorMessage":..}
 *   sp_api_jw_put_records_end(w, kms)         ],"EncryptionType":"NONE" (or "KMS")}
 */
void sp_api_jw_put_records_begin(struct sp_api_jw *w, uint32_t failed);
void sp_api_jw_put_records_ok(struct sp_api_jw *w, const char *shard_id, size_t shard_len,
			      const char *seq, size_t seq_len);
void sp_api_jw_put_records_fail(struct sp_api_jw *w, const char *code, size_t code_len,
				const char *msg, size_t msg_len);
void sp_api_jw_put_records_end(struct sp_api_jw *w, bool kms);

/* One GetRecords record. encryption NULL: the member is left out. */
struct sp_api_jw_record {
	const char *seq;
	size_t seq_len;
	int64_t arrival_ms;
	const uint8_t *data;
	size_t data_len;
	const char *key;
	size_t key_len;
	const char *encryption;
};

/* One ChildShards entry of a GetRecords at a closed shard's end. */
struct sp_api_jw_child {
	const char *shard_id;
	const char *parents[2]; /* NUL-terminated shard ids; nparents of them */
	unsigned nparents;
	const char *start_hash; /* decimal, NUL-terminated */
	const char *end_hash;
};

/*
 * GetRecords:
 *   sp_api_jw_get_records_begin(w)            {"Records":[
 *   sp_api_jw_get_records_record(w, r)        {"SequenceNumber":..,
 *                                              "ApproximateArrivalTimestamp":..,"Data":..,
 *                                              "PartitionKey":..[,"EncryptionType":..]}
 *   sp_api_jw_get_records_end(w, next, ...)   ],"NextShardIterator":..,"MillisBehindLatest":N
 *                                              [,"ChildShards":[..]]}
 * next NULL: NextShardIterator left out (closed shard read to its end). children NULL or
 * nchildren 0: no ChildShards member.
 */
void sp_api_jw_get_records_begin(struct sp_api_jw *w);
/*
 * The member "ChildShards":[{"ShardId":..,"ParentShards":[..],"HashKeyRange":{..}},..] of the
 * object open at w (GetRecords, SubscribeToShardEvent); nothing when nchildren is 0.
 */
void sp_api_jw_child_shards(struct sp_api_jw *w, const struct sp_api_jw_child *children,
			    unsigned nchildren);
void sp_api_jw_get_records_record(struct sp_api_jw *w, const struct sp_api_jw_record *r);
void sp_api_jw_get_records_end(struct sp_api_jw *w, const char *next, size_t next_len,
			       uint64_t millis_behind, const struct sp_api_jw_child *children,
			       unsigned nchildren);
/*
 * A SubscribeToShardEvent's payload (kinesis-api.md §6.2): begun and filled as GetRecords',
 * then ],"ContinuationSequenceNumber":..,"MillisBehindLatest":N[,"ChildShards":[..]]}; cont
 * NULL leaves the continuation out (the final event at a closed shard's end).
 */
void sp_api_jw_sub_event_end(struct sp_api_jw *w, const char *cont, size_t cont_len,
			     uint64_t millis_behind, const struct sp_api_jw_child *children,
			     unsigned nchildren);

#endif /* SP_API_JSON_H */
