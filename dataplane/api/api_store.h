/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to dataplane/api/: each worker's storage (nvme/store.h) — its store file on
 * io_uring, the shard logs of the shards it owns, feeding committed ring records into them,
 * publishing what is durable to readers (the ring's visible gate) and answering PutRecord(s)
 * in durable ack mode once their records are on stable storage. docs/internals/store.md.
 */
#ifndef SP_API_STORE_H
#define SP_API_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <spate/compiler.h>
#include <spate/seqno.h>

struct sp_api;
struct sp_api_xput;
struct sp_api_stream;
struct sp_api_shard;
struct sp_slog;
struct sp_api_global;
struct sp_api_xrec;

/* Bytes of a shard's write buffer, placed after its ring in the ring's memzone. */
#define SP_API_WBUF_ALIGN 65536u
uint64_t sp_api_store_wbuf_bytes(void);
/* Where a ring made for ring_bytes of memory keeps its write buffer (offset, address). */
uint64_t sp_api_store_wbuf_off(uint64_t ring_bytes);
uint8_t *sp_api_store_wbuf(void *ring_mem, uint64_t ring_bytes);

/* Boot (main lcore, before the worker runs): open or create, then recover, the worker's store. */
SP_MUST_CHECK int sp_api_store_open(struct sp_api *api);
void sp_api_store_close(struct sp_api *api);

/*
 * Owner, before appending records of sh to its ring: the shard's log, attached on first use.
 * NULL when the worker has no storage. *err: 0, or why records must be refused now (a write
 * error being retried, -ENOSPC, or the log could not be attached).
 */
struct sp_slog *sp_api_store_log(struct sp_api *api, const struct sp_api_stream *st,
				 const struct sp_api_shard *sh, uint64_t need, int *err);

/* How many of recs[0..n) (in order) the log can take now, after what it has pending. */
uint32_t sp_api_store_fit(struct sp_api *api, const struct sp_slog *log,
			  const struct sp_api_xrec *recs, uint32_t n, const uint8_t *key_fp);

/* Owner, after appending records of bytes (segment frames): feed them to the shard's log. */
void sp_api_store_feed(struct sp_api *api, struct sp_slog *log, const struct sp_api_shard *sh,
		       uint64_t bytes);

/* Owner: hold x until every record it appended is durable (durable ack mode). */
void sp_api_store_hold(struct sp_api *api, struct sp_api_xput *x);

/* Worker poll: feed, submit and complete writes, publish durability, release held puts. */
unsigned sp_api_store_poll(struct sp_api *api);

/* Status (main lcore): the workers' storage counters summed, and what recovery found. */
json_t *sp_api_store_status_json(const struct sp_api_global *g);

/*
 * A closed, sealed shard's ring: let the store give back the write buffer that lives in the
 * ring's memory, once everything fed from the ring is durable. 0: the ring's memory is no
 * longer the store's (or never was); -EBUSY: not yet; -ENOTSUP: no store, the ring must stay.
 */
int sp_api_store_release(struct sp_api *api, const struct sp_api_stream *st,
			 const struct sp_api_shard *sh);

/*
 * A moved shard's ring, on its old owner: the same, for an open shard this worker wrote until
 * the snapshot named another owner. 0: the ring may be handed over (without a store at once);
 * -EBUSY: not yet.
 */
int sp_api_store_hand_over(struct sp_api *api, const struct sp_api_stream *st,
			   const struct sp_api_shard *sh);

/*
 * Encryption at rest (api_seal.c; docs/internals/encryption.md). Ring records of an encrypted
 * stream carry SP_API_REC_SEALED and the key-file slot of their key in their flags; the owner
 * seals them as it feeds them to the store, and opens them for cold reads.
 */
#define SP_API_REC_SEALED    0x1u
#define SP_API_REC_KEY_SHIFT 1
struct sp_api_feed;
struct sp_api_xcold;
struct sp_seg_sealer;

/* Boot (main lcore): load key_file, if any. A bad file is logged and leaves no keys. */
SP_MUST_CHECK int sp_api_seal_load(struct sp_api_global *g);
void sp_api_seal_free(struct sp_api_global *g);
/* The fingerprint of the key st's records are sealed with now, NULL when clear. */
const uint8_t *sp_api_seal_fp(const struct sp_api *api, const struct sp_api_stream *st);
/* Worker boot/teardown: the cipher contexts. */
SP_MUST_CHECK int sp_api_seal_open(struct sp_api *api);
void sp_api_seal_close(struct sp_api *api);
/* Owner, attaching a feed: note whose records it carries (keys are made per shard). */
void sp_api_seal_feed_init(struct sp_api_feed *f, const struct sp_api_stream *st,
			   uint32_t shard_index);
/*
 * Owner, feeding a ring record with these flags: the sealer to append it with (keyed), NULL
 * for a clear record in *out. Returns 0, or -ENOKEY (its key is not in the file: never
 * happens for records the owner accepted, as the file does not change).
 */
SP_MUST_CHECK int sp_api_seal_for(struct sp_api *api, struct sp_api_feed *f, uint16_t flags,
				  const struct sp_seg_sealer **out);
/* Owner, a cold read of a sealed segment: open x->recs[0..n) in place. 0 or -errno. */
SP_MUST_CHECK int sp_api_seal_open_cold(struct sp_api *api, struct sp_api_xcold *x, unsigned n);

/* Moves' counters summed over workers (main lcore; api_move.c). */
json_t *sp_api_move_status_json(const struct sp_api_global *g);

/* Resharding counters summed over workers (main lcore; api_reshard.c). */
json_t *sp_api_reshard_status_json(const struct sp_api_global *g);
/* Requests and HTTP/2 sessions over every worker (api_conn.c). */
json_t *sp_api_http_status_json(const struct sp_api_global *g);

/*
 * Per-shard figures into o (main lcore; api_shardstat.c): "shards", one row per shard of the
 * snapshot in force, at most 4096, and "shards_cut", true when rows were left out.
 */
void sp_api_shardstat_add(const struct sp_api_global *g, json_t *o);

#endif /* SP_API_STORE_H */
