/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Messages between lcores for the Kinesis API (STYLE.md §5). Every message object lives in
 * the memory of the request that sent it (a worker's connection slot), never in a pool of the
 * receiver, and comes back to its sender on a separate return ring: the sender owns it again
 * once it is dequeued from the return ring. Rings are single-producer single-consumer, one per
 * ordered pair, created at boot by the main lcore:
 *   put[src][dst]   records for shards owned by dst, and put_done[dst][src] back;
 *   ctl[w]          worker w -> main: a control operation to forward (or a finished one to
 *                   release), and ctl_done[w] main -> worker w: its answer.
 * No pointer into a catalog snapshot crosses cores: a message names its stream and shard, and
 * the receiver resolves them in the snapshot it holds.
 */
#ifndef SP_API_XCORE_H
#define SP_API_XCORE_H

#include <stdbool.h>
#include <stdint.h>

#include <spate/kinesis.h>
#include <spate/seqno.h>

#include "store.h"

#define SP_API_XDRAIN_BURST 32u /* messages taken from one ring per poll */

struct sp_api_req;

/* Per-record outcome of an append. */
enum sp_api_xrec_status {
	SP_API_XREC_OK = 0,
	SP_API_XREC_THROTTLED, /* ProvisionedThroughputExceededException: quota or ring full */
	SP_API_XREC_INTERNAL,  /* InternalFailure */
	SP_API_XREC_NO_STREAM, /* the stream or shard vanished meanwhile */
	SP_API_XREC_NO_SPACE,  /* InternalFailure: the shard's store is full */
	SP_API_XREC_REROUTE,   /* the shard closed (reshard) or moved: route it again */
	SP_API_XREC_KMS,       /* KMSNotFoundException: the stream's key is not in the key file */
};

struct sp_api_xrec {
	const char *key;
	const char *b64; /* Data as it came, base64 (or raw bytes: raw); the owner decodes it */
	uint32_t key_len;
	uint32_t b64_len;
	uint32_t data_len; /* decoded length, validated by the sender */
	uint32_t shard_index;
	uint16_t slot;  /* position in the request's Records */
	uint8_t status; /* enum sp_api_xrec_status, set by the owner */
	bool kms;       /* set by the owner: appended to be sealed at rest (EncryptionType KMS) */
	bool raw;       /* b64 holds the bytes themselves (a CBOR byte string), data_len of them */
	sp_u128 seq;    /* set by the owner */
	sp_u128 hash;   /* the record's hash key: where it goes when routed again */
};

struct sp_api_xput {
	struct sp_api_req *req; /* the sender's request; opaque to the owner */
	uint16_t src;
	uint16_t dst;
	uint32_t tag;
	uint16_t stream_len;
	const char *stream;
	uint64_t now_ms;
	uint32_t n;
	struct sp_api_xrec *recs;
	bool held; /* owner: waiting for its records to be durable (api_store.c) */
	bool waiting; /* owner: waiting for a moved shard's ring to be handed over (api_move.c) */
};

struct sp_api_xctl {
	struct sp_api_req *req; /* the worker's request; opaque to main */
	uint16_t worker;
	bool release; /* worker -> main: done with the answer, free it */
	bool busy;    /* set by the worker when sent; cleared by main (release store) once the
		       * answer's memory is freed: only then may the worker reuse the object */
	enum sp_kop op;
	const char *body;
	uint32_t body_len;
	bool cbor; /* body is CBOR: main translates it to JSON, and a 200 answer back to CBOR */
	char account[16];
	char region[33]; /* SP_SIGV4_REGION_MAX + 1 */
	/* Filled by main. */
	uint64_t id;
	uint64_t deadline_ms;
	uint16_t status;
	enum sp_kerr kerr;
	bool message_key_upper; /* "Message" (SerializationException) instead of "message" */
	char *message;          /* malloc'd by main, freed by main on release */
	char *resp_body;        /* malloc'd by main, freed by main on release */
	size_t resp_len;
};

/*
 * A cold read (api_cold.c): GetRecords from a position older than the shard's ring, served by
 * the shard's owner from its store into the requester's buffer. cold[src][dst] carries it to
 * the owner, cold_done[dst][src] back.
 */
struct sp_api_xcold {
	struct sp_api_req *req; /* the requester's; opaque to the owner */
	uint16_t src;
	uint16_t dst;
	uint32_t tag;
	uint32_t shard_index;
	sp_u128 seq; /* from the first durable record >= seq (or, by_time, arrived >= t_ms) ... */
	bool by_time;
	uint64_t t_ms;
	uint8_t hop;	  /* the store asked: index into the shard's holders (api_cat.h) */
	bool last_holder; /* ... the last of them, the owner's */
	sp_u128 limit; /* ... below limit (the ring's first record: the ring serves from there) */
	/* the stream's name (in the requester's request) and creation: sealed records' keys */
	const char *stream;
	uint16_t stream_len;
	int64_t created_ms;
	unsigned max_records;
	uint64_t max_bytes;
	uint8_t *buf; /* read area in the requester's buffer, block-aligned */
	uint32_t buf_len;
	struct sp_seg_rec *recs; /* max_records entries, in the requester's buffer */
	/* owner's */
	uint32_t max_len;
	struct sp_slog_read rd;
	/* result */
	int rc;        /* 0 (n > 0), -ENOENT (nothing cold at or after seq: read the ring), errno */
	unsigned n;    /* records in recs */
	bool cold_end; /* the records end where the ring begins: the answer may go on there */
	bool sealed;   /* the records were sealed at rest (opened by the owner): EncryptionType */
	uint64_t log_tip_ms; /* largest arrival time in the shard's log */
};

#endif /* SP_API_XCORE_H */
