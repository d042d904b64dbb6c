/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Request decoders for the four data operations served on worker lcores: PutRecord,
 * PutRecords, GetShardIterator, GetRecords (docs/internals/api-json.md). Each one scans a JSON
 * body once (api_json.h) and answers in kinesalite's order of checks (kinesis-api.md §1.7):
 *
 *   6. the body is not one JSON object, or not valid JSON (grammar, UTF-8, escapes, lone
 *      surrogates, nesting past SP_API_JSON_DEPTH_MAX)
 *        -> SerializationException without a message: {"__type":"SerializationException"};
 *  10. a member has the wrong type (first failure in the operation's member order, Data's
 *      base64 included)
 *        -> SerializationException with "Message" (capital M), kinesalite's texts (§1.8);
 *  11. constraints (not null, length, pattern, enum, range)
 *        -> ValidationException with "message", every failure up to SP_KVALID_MAX_ITEMS, in
 *           kinesalite's order (validations/<op>.js), built with struct sp_kvalid.
 *
 * Unknown members and null values are ignored; a duplicate member's last value wins (as in
 * jansson and JavaScript's JSON.parse). StreamName and StreamARN are both optional, as in the
 * current service model: the caller resolves the stream (and rejects a request naming none).
 *
 * Output is zero-copy: strings without escapes are slices of the body, strings with escapes
 * live in the scratch arena the caller passes (at least the body's length). Nothing is
 * allocated; the body and the scratch arena must outlive the decoded request.
 */
#ifndef SP_API_REQ_H
#define SP_API_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spate/compiler.h>
#include <spate/kinesis.h>

#include "api_json.h"

/* An error message buffer of this size never cuts a decoder's message. */
#define SP_API_REQ_MSG_MAX (SP_KVALID_MSG_BYTES + 64u)
/*
 * Data's model maximum in decoded bytes: ValidationException beyond it (kinesis-api.md §3.3:
 * the model allows 10 MiB; the stream's own, usually lower, limit is checked once the stream
 * is known, with the same message shape).
 */
#define SP_API_REQ_DATA_MAX SP_K_RECORD_MAX_BYTES_LIMIT

/* Why a request was refused: the reply is sp_api_json_write_error(kerr, msg, capital_m). */
struct sp_api_req_err {
	enum sp_kerr kerr;
	bool has_msg;	/* false: no message member at all */
	bool capital_m; /* the message key is "Message" (SerializationException) */
	size_t msg_len;
	char msg[SP_API_REQ_MSG_MAX]; /* NUL-terminated; may hold other NULs (use msg_len) */
};

/* Members present (the has field of each request). */
#define SP_API_REQ_HAS_STREAM_NAME (1u << 0)
#define SP_API_REQ_HAS_STREAM_ARN (1u << 1)
#define SP_API_REQ_HAS_KEY (1u << 2)	   /* PartitionKey */
#define SP_API_REQ_HAS_DATA (1u << 3)	   /* Data */
#define SP_API_REQ_HAS_EHK (1u << 4)	   /* ExplicitHashKey */
#define SP_API_REQ_HAS_SEQ (1u << 5)	   /* SequenceNumberForOrdering, StartingSequenceNumber */
#define SP_API_REQ_HAS_TIMESTAMP (1u << 6) /* GetShardIterator Timestamp */
#define SP_API_REQ_HAS_LIMIT (1u << 7)	   /* GetRecords Limit */

/* One record to put: PutRecord's, or one PutRecords entry. */
struct sp_api_req_record {
	struct sp_api_json_str data; /* Data: base64 text, already validated; raw bytes when
				      * data_raw (CBOR byte string, data.len == data_len) */
	struct sp_api_json_str key;  /* PartitionKey: UTF-8, 1-256 UTF-16 units */
	struct sp_api_json_str ehk;  /* ExplicitHashKey: decimal digits (HAS_EHK), else empty */
	uint32_t data_len;	     /* Data decoded, bytes */
	uint32_t has;		     /* SP_API_REQ_HAS_KEY | _DATA | _EHK */
	bool data_raw;		     /* data holds the bytes themselves, not base64 */
};

struct sp_api_req_put_record {
	struct sp_api_json_str stream_name;
	struct sp_api_json_str stream_arn;
	struct sp_api_json_str seq_for_ordering; /* HAS_SEQ */
	struct sp_api_req_record rec;
	uint32_t has; /* SP_API_REQ_HAS_STREAM_NAME | _STREAM_ARN | _SEQ */
};

struct sp_api_req_put_records {
	struct sp_api_json_str stream_name;
	struct sp_api_json_str stream_arn;
	uint32_t has;
	uint32_t n;	     /* records, 1..SP_K_PUT_RECORDS_MAX_ENTRIES */
	uint64_t data_bytes; /* sum of rec[].data_len */
	struct sp_api_req_record rec[SP_K_PUT_RECORDS_MAX_ENTRIES];
};

/* ShardIteratorType, in the order the ValidationException lists the enum. */
enum sp_api_iter_type {
	SP_API_ITER_AFTER_SEQUENCE_NUMBER = 0,
	SP_API_ITER_LATEST,
	SP_API_ITER_AT_TIMESTAMP,
	SP_API_ITER_AT_SEQUENCE_NUMBER,
	SP_API_ITER_TRIM_HORIZON,
	SP_API_ITER_COUNT,
};

struct sp_api_req_get_shard_iterator {
	struct sp_api_json_str stream_name;
	struct sp_api_json_str stream_arn;
	struct sp_api_json_str shard_id;
	struct sp_api_json_str starting_seq; /* HAS_SEQ */
	enum sp_api_iter_type type;
	int64_t timestamp_ms; /* HAS_TIMESTAMP: epoch seconds * 1000, truncated */
	uint32_t has;
};

struct sp_api_req_get_records {
	struct sp_api_json_str shard_iterator;
	struct sp_api_json_str stream_arn;
	int32_t limit; /* 1..10000; SP_K_GET_RECORDS_MAX_RECORDS when absent */
	uint32_t has;  /* SP_API_REQ_HAS_LIMIT | _STREAM_ARN */
};

/*
 * Decode body[0..len). scratch holds at least len bytes (strings with escapes). Returns
 *   0        decoded and valid: *out filled;
 *   -EINVAL  refused: *err says how to answer (SerializationException or ValidationException);
 *   -ENOSPC  scratch smaller than len, -EFBIG len past 4 GiB: the caller's sizing is wrong
 *            (*err is InternalFailure, no message).
 * *out is unspecified unless 0 is returned.
 */
SP_MUST_CHECK int sp_api_req_put_record(const char *body, size_t len, char *scratch,
					size_t scratch_cap, struct sp_api_req_put_record *out,
					struct sp_api_req_err *err);
SP_MUST_CHECK int sp_api_req_put_records(const char *body, size_t len, char *scratch,
					 size_t scratch_cap, struct sp_api_req_put_records *out,
					 struct sp_api_req_err *err);
SP_MUST_CHECK int sp_api_req_get_shard_iterator(const char *body, size_t len, char *scratch,
						size_t scratch_cap,
						struct sp_api_req_get_shard_iterator *out,
						struct sp_api_req_err *err);
SP_MUST_CHECK int sp_api_req_get_records(const char *body, size_t len, char *scratch,
					 size_t scratch_cap, struct sp_api_req_get_records *out,
					 struct sp_api_req_err *err);

/*
 * The same four decoders for application/x-amz-cbor-1.1 bodies (api_cbor_req.c,
 * docs/internals/cbor.md): the body must be one CBOR map (else SerializationException without
 * a message, as a JSON body that is not one object); members, checks, texts and results as
 * above. Data comes as a byte string (data_raw, zero copy) or as base64 text; Timestamp as
 * epoch milliseconds (tag 1 or none, integer or float); Limit as an integer or a float
 * (truncated, clamped). scratch joins indefinite-length strings and holds at least len bytes.
 */
SP_MUST_CHECK int sp_api_cbor_put_record(const char *body, size_t len, char *scratch,
					 size_t scratch_cap, struct sp_api_req_put_record *out,
					 struct sp_api_req_err *err);
SP_MUST_CHECK int sp_api_cbor_put_records(const char *body, size_t len, char *scratch,
					  size_t scratch_cap, struct sp_api_req_put_records *out,
					  struct sp_api_req_err *err);
SP_MUST_CHECK int sp_api_cbor_get_shard_iterator(const char *body, size_t len, char *scratch,
						 size_t scratch_cap,
						 struct sp_api_req_get_shard_iterator *out,
						 struct sp_api_req_err *err);
SP_MUST_CHECK int sp_api_cbor_get_records(const char *body, size_t len, char *scratch,
					  size_t scratch_cap, struct sp_api_req_get_records *out,
					  struct sp_api_req_err *err);

/* Name of an iterator type ("AT_TIMESTAMP"...). */
const char *sp_api_iter_type_name(enum sp_api_iter_type t);

/*
 * Decode one record's Data into out, which holds sp_b64_decoded_max(rec->data.len) bytes
 * (rec->data_len rounded up by at most 2): straight into a shard ring slot with that slack.
 * Raw Data (data_raw) is copied: rec->data_len bytes.
 * Returns 0 (rec->data_len bytes written), or -EIO if the text no longer decodes (the body
 * changed under the request: a caller bug).
 */
SP_MUST_CHECK int sp_api_req_record_data(const struct sp_api_req_record *rec, uint8_t *out);

/* Bytes sp_api_req_put_records_data() needs: every record's Data back to back, plus slack. */
size_t sp_api_req_put_records_arena_bytes(const struct sp_api_req_put_records *r);

/*
 * Decode every record's Data into arena, back to back in request order; off[i] (when off is
 * not NULL) is where record i starts. cap must be sp_api_req_put_records_arena_bytes(r) or
 * more. Returns 0, -ENOSPC (arena too small, nothing decoded), or -EIO as above.
 */
SP_MUST_CHECK int sp_api_req_put_records_data(const struct sp_api_req_put_records *r,
					      uint8_t *arena, size_t cap, uint32_t *off);

#endif /* SP_API_REQ_H */
