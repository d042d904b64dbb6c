/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AWS event-stream messages (application/vnd.amazon.eventstream), the framing of
 * SubscribeToShard's HTTP/2 response (kinesis-api.md §6.2-6.3; docs/internals/evstream.md):
 *
 *   | total_len u32 | headers_len u32 | prelude_crc u32 | headers | payload | message_crc u32 |
 *
 * big-endian; prelude_crc is the CRC-32 (IEEE, crc32.h) of the first 8 bytes, message_crc the
 * CRC-32 of every byte before it. A header is name_len u8 (1..255), the name, a type byte and
 * the value: 0 true and 1 false (no value), 2 byte (int8), 3 int16, 4 int32, 5 int64, 6 bytes
 * and 7 string (u16 length, then the bytes), 8 timestamp (int64 milliseconds), 9 uuid (16 bytes).
 *
 *   encoder  writes one message into a caller buffer: sp_evs_enc_begin() reserves the prelude,
 *            sp_evs_hdr_*() append headers, sp_evs_payload*() append the payload (bytes, a list
 *            of segments, or written in place through sp_evs_payload_room/commit), and
 *            sp_evs_enc_finish() fills in the lengths and both CRCs. Errors are sticky, as in
 *            the JSON writer: the first one stops every later write and finish reports it.
 *   decoder  validates one message (lengths, prelude CRC, every header's bounds and type,
 *            message CRC) and gives its headers and payload as slices of the input; on failure
 *            it says which rule broke, where, and the values it saw.
 *
 * The Kinesis messages built on the encoder (initial-response, SubscribeToShardEvent with its
 * JSON payload, exceptions) are at the end. Nothing allocates or keeps state between calls;
 * any lcore.
 */
#ifndef SP_EVSTREAM_H
#define SP_EVSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <spate/compiler.h>

#include "api_json.h"

/* total_len, headers_len and prelude_crc. */
#define SP_EVS_PRELUDE_BYTES 12u
/* The message CRC after the payload. */
#define SP_EVS_TRAILER_BYTES 4u
/* Smallest message: no headers, no payload. */
#define SP_EVS_MIN_BYTES (SP_EVS_PRELUDE_BYTES + SP_EVS_TRAILER_BYTES)
/*
 * Size limits a service must enforce on what it sends (Smithy's event-stream specification):
 * encoded headers at most 128 KiB, payload at most 24 MiB. The decoder checks neither (the
 * same specification tells clients not to); its caller bounds the whole message instead.
 */
#define SP_EVS_HEADERS_MAX (128u * 1024u)
#define SP_EVS_PAYLOAD_MAX (24u * 1024u * 1024u)
/* Header names: 1..255 bytes on the wire. */
#define SP_EVS_NAME_MAX 255u
/*
 * Longest bytes or string value the encoder writes: the specification's 2^15 - 1 (the wire's
 * u16 would allow 65535; AWS's C runtime refuses above INT16_MAX too). The decoder takes any
 * u16 length.
 */
#define SP_EVS_VALUE_MAX  32767u
#define SP_EVS_UUID_BYTES 16u

enum sp_evs_type {
	SP_EVS_TRUE = 0,
	SP_EVS_FALSE = 1,
	SP_EVS_BYTE = 2,
	SP_EVS_INT16 = 3,
	SP_EVS_INT32 = 4,
	SP_EVS_INT64 = 5,
	SP_EVS_BYTES = 6,
	SP_EVS_STRING = 7,
	SP_EVS_TIMESTAMP = 8,
	SP_EVS_UUID = 9,
	SP_EVS_TYPE_COUNT
};

/* A piece of payload: n bytes at p (p may be NULL when n is 0). */
struct sp_evs_seg {
	const void *p;
	size_t n;
};

/* ---- Encoder ---- */

struct sp_evs_enc {
	uint8_t *buf;
	size_t cap;
	size_t len;         /* bytes written, prelude included */
	size_t headers_end; /* offset where the headers end (set at the first payload byte) */
	bool in_payload;    /* a payload call was made: no more headers */
	int err;            /* the first error, 0 if none (sticky) */
};

/*
 * Start a message in buf[0..cap): the prelude's 12 bytes are reserved (written at finish).
 * A cap below SP_EVS_MIN_BYTES makes every later call a no-op and finish return -ENOSPC.
 */
void sp_evs_enc_begin(struct sp_evs_enc *e, void *buf, size_t cap);

/*
 * Headers, in the order called. name is name_len bytes, 1..SP_EVS_NAME_MAX (else -EINVAL);
 * bytes and string values hold at most SP_EVS_VALUE_MAX bytes (else -EINVAL); a header after
 * the first payload call is -EINVAL; one that does not fit is -ENOSPC; a name already used in
 * this message is -EEXIST (the specification allows each name once).
 */
void sp_evs_hdr_bool(struct sp_evs_enc *e, const char *name, size_t name_len, bool v);
void sp_evs_hdr_byte(struct sp_evs_enc *e, const char *name, size_t name_len, int8_t v);
void sp_evs_hdr_i16(struct sp_evs_enc *e, const char *name, size_t name_len, int16_t v);
void sp_evs_hdr_i32(struct sp_evs_enc *e, const char *name, size_t name_len, int32_t v);
void sp_evs_hdr_i64(struct sp_evs_enc *e, const char *name, size_t name_len, int64_t v);
void sp_evs_hdr_bytes(struct sp_evs_enc *e, const char *name, size_t name_len, const void *v,
		      size_t v_len);
void sp_evs_hdr_str(struct sp_evs_enc *e, const char *name, size_t name_len, const char *v,
		    size_t v_len);
void sp_evs_hdr_timestamp(struct sp_evs_enc *e, const char *name, size_t name_len,
			  int64_t epoch_ms);
void sp_evs_hdr_uuid(struct sp_evs_enc *e, const char *name, size_t name_len,
		     const uint8_t uuid[SP_EVS_UUID_BYTES]);
/* A string header whose name and value are NUL-terminated literals or strings. */
void sp_evs_hdr_cstr(struct sp_evs_enc *e, const char *name, const char *v);

/* Append payload bytes (-ENOSPC when they do not fit). */
void sp_evs_payload(struct sp_evs_enc *e, const void *p, size_t n);
/* Append n segments in order, each copied once. */
void sp_evs_payload_segs(struct sp_evs_enc *e, const struct sp_evs_seg *segs, unsigned n);
/*
 * Write payload in place: the free bytes after the payload so far (room for the trailer kept
 * back) and their count in *room (0 and NULL after an error). sp_evs_payload_commit(e, n)
 * then appends the first n of them (n <= *room, else -ENOSPC).
 */
uint8_t *sp_evs_payload_room(struct sp_evs_enc *e, size_t *room);
void sp_evs_payload_commit(struct sp_evs_enc *e, size_t n);
/* Record an error found by the caller while writing in place (sticky like the others). */
void sp_evs_enc_fail(struct sp_evs_enc *e, int err);

/*
 * Fill in total_len, headers_len and both CRCs. Returns the message length, or the first
 * error: -ENOSPC (did not fit), -EINVAL (bad header), -EEXIST (a header name twice),
 * -EMSGSIZE (headers above SP_EVS_HEADERS_MAX or payload above SP_EVS_PAYLOAD_MAX). The
 * message is buf[0..length).
 */
SP_MUST_CHECK ssize_t sp_evs_enc_finish(struct sp_evs_enc *e);

/* ---- Decoder ---- */

/* What the decoder found wrong; sp_evs_err_name() names each. */
enum sp_evs_status {
	SP_EVS_OK = 0,
	SP_EVS_E_TOTAL_SHORT, /* total_len < 16 */
	SP_EVS_E_TOTAL_BIG,   /* total_len above the caller's bound */
	SP_EVS_E_HEADERS_LEN, /* headers_len > total_len - 16 */
	SP_EVS_E_PRELUDE_CRC, /* prelude_crc is not the CRC of the first 8 bytes */
	SP_EVS_E_MESSAGE_CRC, /* message_crc is not the CRC of the bytes before it */
	SP_EVS_E_NAME_EMPTY,  /* a header's name_len is 0 */
	SP_EVS_E_NAME_TRUNC,  /* a header's name, or its type byte, runs past the headers */
	SP_EVS_E_TYPE,        /* a header's type byte is above 9 */
	SP_EVS_E_VALUE_TRUNC, /* a header's value (or its u16 length) runs past the headers */
	SP_EVS_STATUS_COUNT
};

struct sp_evs_err {
	enum sp_evs_status status;
	/* Byte offset in the message of the field at fault (the header's first byte for names). */
	uint32_t offset;
	/*
	 * The values at fault: TOTAL_*: total_len and the bound (or 16); HEADERS_LEN: headers_len
	 * and total_len; *_CRC: the CRC in the message and the CRC computed; NAME_*: name_len
	 * and the header bytes left; TYPE: the type byte and 9; VALUE_TRUNC: the value's length
	 * and the header bytes left.
	 */
	uint32_t got;
	uint32_t want;
};

/* A decoded message: slices of the input. */
struct sp_evs_msg {
	uint32_t total_len;
	uint32_t headers_len;
	uint32_t payload_len;
	uint32_t nheaders;
	const uint8_t *headers; /* headers_len bytes */
	const uint8_t *payload; /* payload_len bytes */
};

/* One decoded header. String and bytes values point into the message. */
struct sp_evs_hdr {
	const char *name;
	uint8_t name_len;
	enum sp_evs_type type;
	union {
		bool b;    /* TRUE, FALSE */
		int64_t i; /* BYTE, INT16, INT32, INT64, TIMESTAMP (sign-extended) */
		struct {   /* BYTES, STRING */
			const uint8_t *p;
			uint16_t len;
		} s;
		const uint8_t *uuid; /* UUID: 16 bytes */
	} v;
};

/*
 * Decode the message at the start of buf[0..len). max_total bounds total_len (0: only the
 * u32 field bounds it). Returns the message length (> 0; further bytes are not looked at),
 * SP_AGAIN when buf holds less than the prelude or than total_len, or -EBADMSG with *err
 * saying what is wrong (err may be NULL). The checks run in this order: total_len,
 * headers_len, prelude CRC (before anything trusts the lengths), message CRC, then the headers
 * one by one, so that a corrupt body is reported as a CRC error, not as whatever it decodes
 * to. SP_AGAIN for a partial message comes after the prelude checks: the prelude is sound.
 */
SP_MUST_CHECK int sp_evs_decode(const void *buf, size_t len, uint32_t max_total,
				struct sp_evs_msg *m, struct sp_evs_err *err);

/*
 * Walk the headers of a decoded message: *pos starts at 0; returns 1 with the next header in
 * *h, 0 after the last one. The decoder validated them, so this cannot fail.
 */
int sp_evs_hdr_next(const struct sp_evs_msg *m, uint32_t *pos, struct sp_evs_hdr *h);

/* The first header named name, or false. */
bool sp_evs_hdr_find(const struct sp_evs_msg *m, const char *name, size_t name_len,
		     struct sp_evs_hdr *h);

/* "TOTAL_SHORT", ...: the status's name; "?" for anything else. */
const char *sp_evs_err_name(enum sp_evs_status s);

/*
 * A one-line description of err, e.g. "prelude CRC mismatch at offset 8: message has
 * 0x12345678, computed 0x9abcdef0". Writes at most cap bytes including the NUL; returns the
 * length it would have written (as snprintf).
 */
size_t sp_evs_err_format(const struct sp_evs_err *err, char *buf, size_t cap);

/* ---- SubscribeToShard messages (kinesis-api.md §6.2) ---- */

/* Bytes of the three headers an event carries, for sizing buffers. */
#define SP_EVS_EVENT_HEADERS_MAX 128u

/*
 * The first message of a subscription: :message-type event, :event-type initial-response,
 * :content-type application/json, payload {}. Returns its length or a negative errno.
 */
SP_MUST_CHECK ssize_t sp_evs_write_initial_response(void *buf, size_t cap);

/*
 * A SubscribeToShardEvent, its JSON written straight into the payload:
 *   sp_evs_sub_begin(s, buf, cap)        headers, then {"Records":[
 *   sp_evs_sub_record(s, r)              one record, as GetRecords writes it
 *   sp_evs_sub_end(s, cont, ...)         ],"ContinuationSequenceNumber":"<cont>",
 *                                        "MillisBehindLatest":N[,"ChildShards":[..]]}
 * cont NULL leaves ContinuationSequenceNumber out (the shard's end, where ChildShards names
 * the children).
 *
 * Records stop SP_EVS_SUB_END_MAX bytes short of the buffer's end, which the closing part
 * then always fits in (cont a sequence number, at most two children with shard ids of at most
 * SP_K_SHARD_ID_MAX_CHARS plain characters and decimal hash keys). So a caller fills an event
 * until a record does not fit, then ends it.
 */
#define SP_EVS_SUB_END_MAX 2048u

struct sp_evs_sub {
	struct sp_evs_enc enc;
	struct sp_api_jw jw;
	size_t records_max; /* jw.len at which records stop: its capacity - SP_EVS_SUB_END_MAX */
	uint32_t nrecords;
};

void sp_evs_sub_begin(struct sp_evs_sub *s, void *buf, size_t cap);
/*
 * Append one record: true, or false when it does not fit (the event is then as before it, so
 * the caller ends it and carries the record over to the next event).
 */
SP_MUST_CHECK bool sp_evs_sub_record(struct sp_evs_sub *s, const struct sp_api_jw_record *r);
/* Close the JSON and the message: its length, or a negative errno (as sp_evs_enc_finish). */
SP_MUST_CHECK ssize_t sp_evs_sub_end(struct sp_evs_sub *s, const char *cont, size_t cont_len,
				     uint64_t millis_behind, const struct sp_api_jw_child *children,
				     unsigned nchildren);

/*
 * A modeled error inside the stream: :message-type exception, :exception-type <type> (e.g.
 * "ResourceInUseException"), :content-type application/json, payload {"message":"<msg>"}.
 */
SP_MUST_CHECK ssize_t sp_evs_write_exception(void *buf, size_t cap, const char *type,
					     const char *msg, size_t msg_len);

/*
 * An unmodeled error: :message-type error, :error-code <code>, :error-message <msg>, no
 * payload. A message longer than SP_EVS_VALUE_MAX is cut (at a UTF-8 character boundary).
 */
SP_MUST_CHECK ssize_t sp_evs_write_error(void *buf, size_t cap, const char *code, const char *msg,
					 size_t msg_len);

#endif /* SP_EVSTREAM_H */
