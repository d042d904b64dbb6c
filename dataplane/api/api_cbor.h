/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CBOR response bodies for the Kinesis data operations (application/x-amz-cbor-1.1,
 * kinesis-api.md §1.4, docs/internals/cbor.md): the counterparts of api_json.h's writers, with
 * the same inputs, so the router can pick one by Content-Type. As AWS does, the top-level map
 * and the lists in it are indefinite-length (0xbf ... 0xff); inner maps of a known shape are
 * definite. Data goes out as byte strings, timestamps as tag 1 + integer epoch milliseconds,
 * numbers as integers. Text that is not valid UTF-8 (only a corrupted partition key could be)
 * is written with U+FFFD for each invalid byte, as the JSON writer does.
 * The decoders are in api_req.h (sp_api_cbor_*). Runs on worker lcores; no allocation.
 */
#ifndef SP_API_CBOR_H
#define SP_API_CBOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <spate/compiler.h>
#include <spate/kinesis.h>

#include "api_json.h"
#include "cbor.h"

/* CBOR tag of an epoch-based date/time (RFC 8949 §3.4.2); Kinesis puts milliseconds in it. */
#define SP_API_CBOR_TAG_EPOCH 1u

/*
 * Error body {"__type":"<type>","message":"<msg>"} (a definite map) for kerr. msg NULL: no
 * message member. capital_m: the key is "Message". Returns the length or -ENOSPC.
 */
SP_MUST_CHECK ssize_t sp_api_cbor_write_error(char *buf, size_t cap, enum sp_kerr kerr,
					      const char *msg, size_t msg_len, bool capital_m);

/* PutRecord: {"ShardId":..,"SequenceNumber":..,"EncryptionType":"NONE" or "KMS"}. */
SP_MUST_CHECK ssize_t sp_api_cbor_write_put_record(char *buf, size_t cap, const char *shard_id,
						   size_t shard_len, const char *seq,
						   size_t seq_len, bool kms);

/* GetShardIterator: {"ShardIterator":..}. */
SP_MUST_CHECK ssize_t sp_api_cbor_write_shard_iterator(char *buf, size_t cap, const char *it,
						       size_t it_len);

/*
 * PutRecords, entry by entry in request order, into a writer (sp_cbor_w_init on the body
 * buffer, sp_cbor_w_finish at the end: the length or -ENOSPC):
 *   sp_api_cw_put_records_begin(w, failed)    {_ "FailedRecordCount":N,"Records":[_
 *   sp_api_cw_put_records_ok(w, ...)          {"SequenceNumber":..,"ShardId":..}
 *   sp_api_cw_put_records_fail(w, ...)        {"ErrorCode":..,"ErrorMessage":..}
 *   sp_api_cw_put_records_end(w, kms)         ],"EncryptionType":"NONE" (or "KMS")}
 */
void sp_api_cw_put_records_begin(struct sp_cbor_w *w, uint32_t failed);
void sp_api_cw_put_records_ok(struct sp_cbor_w *w, const char *shard_id, size_t shard_len,
			      const char *seq, size_t seq_len);
void sp_api_cw_put_records_fail(struct sp_cbor_w *w, const char *code, size_t code_len,
				const char *msg, size_t msg_len);
void sp_api_cw_put_records_end(struct sp_cbor_w *w, bool kms);

/*
 * GetRecords, with the JSON writer's record and child descriptions (api_json.h):
 *   sp_api_cw_get_records_begin(w)            {_ "Records":[_
 *   sp_api_cw_get_records_record(w, r)        {"SequenceNumber":..,
 *                                              "ApproximateArrivalTimestamp":1(ms),
 *                                              "Data":h'..',"PartitionKey":..
 *                                              [,"EncryptionType":..]}
 *   sp_api_cw_get_records_end(w, next, ...)   ],"NextShardIterator":..,"MillisBehindLatest":N
 *                                              [,"ChildShards":[..]]}
 * next NULL: NextShardIterator left out. children NULL or nchildren 0: no ChildShards.
 */
void sp_api_cw_get_records_begin(struct sp_cbor_w *w);
void sp_api_cw_get_records_record(struct sp_cbor_w *w, const struct sp_api_jw_record *r);
void sp_api_cw_get_records_end(struct sp_cbor_w *w, const char *next, size_t next_len,
			       uint64_t millis_behind, const struct sp_api_jw_child *children,
			       unsigned nchildren);

/*
 * Bodies translated whole (api_cbor_json.c), for the operations not decoded in CBOR: control
 * operations (spate-control speaks JSON) and SubscribeToShard's request. Members named as
 * Kinesis timestamps (Timestamp, StreamCreationTimestamp, ConsumerCreationTimestamp,
 * ApproximateArrivalTimestamp) carry numbers as epoch milliseconds in CBOR (tag 1) and as epoch
 * seconds with a three-digit fraction in JSON; byte strings become base64 text; tags are
 * dropped. Both need scratch_cap >= len (indefinite strings, unescaped strings).
 *
 * sp_api_cbor_to_json: one CBOR map to one JSON object. Returns the JSON length; -EINVAL (or
 * the reader's error) when the body is not one well-formed map, or holds an unassigned simple
 * value; -E2BIG past SP_API_JW_DEPTH_MAX levels; -ENOSPC when out is too small
 * (SP_API_CBOR_TO_JSON_MAX(len) always suffices).
 * sp_api_json_to_cbor: one JSON object to CBOR, maps and arrays indefinite-length (as AWS
 * answers). Returns the CBOR length; -EINVAL (or the scanner's error) when the body is not one
 * JSON object; -ERANGE for a number past 63 characters (not under a timestamp member); -E2BIG
 * past SP_CBOR_W_INDEF_MAX levels; -ENOSPC when out is too small (SP_API_JSON_TO_CBOR_MAX(len)
 * suffices).
 */
#define SP_API_CBOR_TO_JSON_MAX(len) (9u * (size_t)(len) + 64u)
#define SP_API_JSON_TO_CBOR_MAX(len) (4u * (size_t)(len) + 64u)
SP_MUST_CHECK ssize_t sp_api_cbor_to_json(const char *cbor, size_t len, char *scratch,
					  size_t scratch_cap, char *out, size_t cap);
SP_MUST_CHECK ssize_t sp_api_json_to_cbor(const char *json, size_t len, char *scratch,
					  size_t scratch_cap, char *out, size_t cap);

/*
 * A number item (UINT, NINT or FLOAT) as int64, as the decoders and the translation read
 * numbers: clamped, floats truncated toward zero, NaN 0 (api_cbor_req.c).
 */
int64_t sp_api_cbor_num_i64(const struct sp_cbor_item *it);

#endif /* SP_API_CBOR_H */
