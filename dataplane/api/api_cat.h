/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The catalog as the workers see it (STYLE.md §6): an immutable snapshot built by the main
 * lcore from spate-control's catalog message, published with one pointer store, read by every
 * worker without locks, and freed only after every worker has passed a quiescent state
 * (rte_rcu_qsbr) — see api_main.c. Streams are sorted by name; each stream's open shards are
 * sorted by starting hash key for routing. Shard rings are not owned by a snapshot: they live
 * in the main lcore's ring registry and outlive the snapshots that point at them.
 */
#ifndef SP_API_CAT_H
#define SP_API_CAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include <spate/compiler.h>
#include <spate/kinesis.h>
#include <spate/keyfile.h>
#include <spate/limits.h>
#include <spate/seqno.h>

struct sp_shard_ring;

/* "shardId-" + 12 digits (indices up to 2^31 fit in 12 digits) + NUL. */
#define SP_API_SHARD_ID_BYTES        24u
#define SP_API_ARN_BYTES             256u
#define SP_API_ACCOUNT_BYTES         16u
#define SP_API_REGION_BYTES          32u
#define SP_API_MAX_STREAMS           4096u  /* streams in one snapshot */
#define SP_API_MAX_SHARDS_PER_STREAM 10000u /* reference §5 */
#define SP_API_PAST_OWNERS_MAX       SP_MAX_WORKERS
#define SP_API_ITER_KEY_BYTES        32u    /* = SP_SHARD_ITER_KEY_BYTES (checked in api_get.c) */
/* Largest test clock offset either way (control's bound, SP_CAT_CLOCK_OFFSET_MAX_MS). */
#define SP_API_ITER_CLOCK_OFFSET_MAX_MS (366LL * 24 * 3600 * 1000)

enum sp_api_status {
	SP_API_CREATING = 0,
	SP_API_ACTIVE,
	SP_API_UPDATING,
	SP_API_DELETING,
};

struct sp_api_shard {
	sp_u128 start_hash;
	sp_u128 end_hash;
	sp_u128 starting_seq;
	uint32_t index; /* the N of shardId-N */
	uint16_t owner; /* worker index that appends to its ring */
	/*
	 * Workers that owned the shard before, oldest first: each one's store keeps the part of
	 * the shard's log it appended (a moved shard; reshard.md "Moving a shard"). A cold read
	 * asks them in this order, then the owner.
	 */
	uint8_t npast;
	uint16_t past[SP_API_PAST_OWNERS_MAX];
	bool open;
	/*
	 * Lineage: parents[0] the ParentShardId, parents[1] the AdjacentParentShardId (a merge
	 * child); children: the shards naming this one as a parent (a closed shard's ChildShards,
	 * at most two: a split's). Parents past retention are still named; children all exist.
	 */
	uint8_t nparents;
	uint8_t nchildren;
	uint32_t parents[2];
	uint32_t children[2];
	uint8_t id_len;
	char id[SP_API_SHARD_ID_BYTES];
	struct sp_shard_ring *ring; /* NULL when its memory could not be reserved */
};

struct sp_api_stream {
	char name[SP_K_STREAM_NAME_MAX_CHARS + 1];
	uint16_t name_len;
	enum sp_api_status status;
	uint32_t tag; /* sp_seqno_stream_tag() of this incarnation */
	int64_t created_ms;
	uint32_t max_record_bytes; /* data + partition key */
	/* Per-shard write quotas (0 = off, the appliance default). */
	uint32_t quota_records_per_s;
	uint32_t quota_bytes_per_s;
	uint64_t retention_ms; /* RetentionPeriodHours: the store keeps records this long */
	/*
	 * StartStreamEncryption: records are sealed at rest with the key of key-file slot
	 * seal_key (1 + its index; 0: the stream is not encrypted). seal_missing: encrypted with
	 * a KeyId this dataplane's key file does not hold: its records are refused.
	 */
	uint16_t seal_key;
	bool seal_missing;
	uint32_t nshards;
	struct sp_api_shard *shards; /* by index */
	uint32_t nopen;
	uint32_t *open_by_hash; /* indices into shards[], sorted by start_hash */
};

/*
 * Shard-iterator settings, from the "iterators" member control adds to the catalog object it
 * sends: the MAC key (derived by control from the catalog's persistent token key, so that an
 * iterator outlives a dataplane restart) and an offset added to iterator issue and expiry
 * times only (test mode, `clock_offset_set`; 0 otherwise).
 */
struct sp_api_iter_conf {
	uint8_t key[SP_API_ITER_KEY_BYTES];
	int64_t clock_offset_ms; /* |offset| <= SP_API_ITER_CLOCK_OFFSET_MAX_MS */
};

/* An enhanced fan-out consumer (the snapshot's "consumers"; SubscribeToShard, api_sub.c). */
struct sp_api_consumer {
	char *arn; /* NUL-terminated, owned by the snapshot */
	uint16_t arn_len;
	bool active;		/* ConsumerStatus ACTIVE (CREATING and DELETING cannot subscribe) */
	uint16_t stream_len;
	char stream[SP_K_STREAM_NAME_MAX_CHARS + 1];
};

struct sp_api_cat {
	uint64_t version;
	uint32_t epoch;
	bool has_iter; /* carried "iterators" (api_main.c publishes no snapshot without) */
	struct sp_api_iter_conf iter;
	uint64_t iter_gen; /* set by api_main.c: >= 1, and changes exactly when iter.key does */
	char account[SP_API_ACCOUNT_BYTES];
	char region[SP_API_REGION_BYTES];
	uint32_t nstreams;
	struct sp_api_stream *streams; /* sorted by name */
	uint64_t *by_tag;              /* tag << 32 | index into streams, sorted */
	uint32_t nconsumers;
	struct sp_api_consumer *consumers; /* sorted by ARN */
};

/* Retention when the catalog names none (the Kinesis default). */
#define SP_API_RETENTION_HOURS_DEFAULT 24u

/* Shard ring lookup the builder calls for every shard (the main lcore's registry). */
typedef struct sp_shard_ring *(*sp_api_ring_fn)(void *arg, const struct sp_api_stream *st,
						const struct sp_api_shard *sh);

/*
 * Build a snapshot from the "catalog" object of a channel message (main lcore; allocates).
 * Returns 0, -EINVAL for a malformed catalog (nothing built) or -ENOMEM.
 */
SP_MUST_CHECK int sp_api_cat_build(const json_t *catalog, uint64_t version, uint32_t epoch,
				   const char *account, const char *region,
				   const struct sp_keyfile *keys, sp_api_ring_fn ring_fn,
				   void *ring_arg, struct sp_api_cat **out);
void sp_api_cat_free(struct sp_api_cat *cat);

/* The consumer with this ARN, or NULL. */
const struct sp_api_consumer *sp_api_cat_consumer(const struct sp_api_cat *cat, const char *arn,
						  size_t len);

/*
 * The "iterators" member of a catalog object: {"key": 64 hex digits, "clock_offset_ms": N}.
 * Returns 0, -ENOENT (absent) or -EINVAL (malformed, or the offset out of bounds).
 */
SP_MUST_CHECK int sp_api_iter_conf_parse(const json_t *catalog, struct sp_api_iter_conf *out);

/* The stream named name[0..len), or NULL. */
/* A stream by its tag (20 bits: two streams may share one; any of them is returned). */
const struct sp_api_stream *sp_api_cat_stream_by_tag(const struct sp_api_cat *cat, uint32_t tag);
/* Whether any stream of this tag has shard idx (a log of that shard still has a reader). */
bool sp_api_cat_tag_has_shard(const struct sp_api_cat *cat, uint32_t tag, uint32_t idx);
const struct sp_api_stream *sp_api_cat_stream(const struct sp_api_cat *cat, const char *name,
					      size_t len);

/* The shard of index idx, or NULL. */
const struct sp_api_shard *sp_api_stream_shard(const struct sp_api_stream *st, uint32_t idx);

/* The stores holding sh's records in order: past owners (oldest first), then the owner. */
static inline unsigned
sp_api_shard_holders(const struct sp_api_shard *sh)
{
	return sh->npast + 1u;
}

static inline uint16_t
sp_api_shard_holder(const struct sp_api_shard *sh, unsigned k)
{
	return k < sh->npast ? sh->past[k] : sh->owner;
}

/* The open shard whose hash range holds h (open shards tile the space), or NULL if none. */
const struct sp_api_shard *sp_api_stream_route(const struct sp_api_stream *st, sp_u128 h);

/*
 * The order a PutRecords' records travel in: ord[i] = owner << 48 | shard index << 16 | request
 * position, sorted, so each owner worker gets one run and each shard's records keep request
 * order (api_put.c; a counting sort for up to 64 shards, qsort above).
 */
void sp_api_put_order(uint64_t *ord, const struct sp_api_shard **route, uint32_t n);

/*
 * Parse a ShardId the way kinesalite accepts it: the digits after the last '-' (or the whole
 * string), 0..2147483647. Returns 0 or -EINVAL.
 */
SP_MUST_CHECK int sp_api_parse_shard_id(const char *s, size_t len, uint32_t *idx);

/* Format "shardId-%012u" into buf (SP_API_SHARD_ID_BYTES). Returns the length. */
size_t sp_api_format_shard_id(uint32_t idx, char *buf);

/*
 * Shard ids kept formatted while one answer is written: a PutRecords batch touches few shards,
 * in any order, and names one on every entry. Direct-mapped by index.
 */
#define SP_API_SHARD_IDS_SLOTS 16u
struct sp_api_shard_ids {
	uint32_t index[SP_API_SHARD_IDS_SLOTS];
	uint8_t len[SP_API_SHARD_IDS_SLOTS]; /* 0: empty (an id is never empty) */
	char id[SP_API_SHARD_IDS_SLOTS][SP_API_SHARD_ID_BYTES];
};

static inline void
sp_api_shard_ids_init(struct sp_api_shard_ids *c)
{
	memset(c->len, 0, sizeof(c->len));
}

/* The id of shard idx (NUL-terminated); *len its length. */
static inline const char *
sp_api_shard_ids_get(struct sp_api_shard_ids *c, uint32_t idx, size_t *len)
{
	uint32_t h = idx % SP_API_SHARD_IDS_SLOTS;

	if (c->len[h] == 0 || c->index[h] != idx) {
		c->index[h] = idx;
		c->len[h] = (uint8_t)sp_api_format_shard_id(idx, c->id[h]);
	}
	*len = c->len[h];
	return c->id[h];
}

/* "arn:aws:kinesis:<region>:<account>:stream/<name>" into buf. Returns the length. */
size_t sp_api_stream_arn(const struct sp_api_cat *cat, const struct sp_api_stream *st, char *buf,
			 size_t cap);

#endif /* SP_API_CAT_H */
