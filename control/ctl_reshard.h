/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Resharding (ctl_reshard.c): plans of SplitShard, MergeShards and UpdateShardCount and the
 * driver of their persisted state machine (catalog_reshard.c).
 */
#ifndef SPATE_CONTROL_CTL_RESHARD_H
#define SPATE_CONTROL_CTL_RESHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <spate/compiler.h>
#include <spate/kinesis.h>
#include <spate/seqno.h>

struct sp_cat;
struct sp_cat_stream_row;
struct sp_ctl_kctx;

/* Workers control balances shards over (the dataplane's SP_MAX_WORKERS bound). */
#define SP_CTL_MAX_WORKERS 64u

/*
 * A shard id as Kinesis accepts it (kinesalite's loose form): the digits after the last '-'
 * (or the whole string), 0..2147483647. Returns 0 or -EINVAL.
 */
SP_MUST_CHECK int sp_ctl_shard_index(const char *s, int64_t *idx);

/* One shard of a stream as resharding sees it. */
struct sp_ctl_shard_ref {
	int64_t index;
	bool open;
	int owner; /* owner_lcore */
	sp_u128 start;
	sp_u128 end;
	char id[SP_K_SHARD_ID_MAX_CHARS + 1];
};

/*
 * The shard of index `index` of stream. Returns 0, -ENOENT (no such shard), -EIO (its hash
 * keys do not parse, or the catalog failed).
 */
SP_MUST_CHECK int sp_ctl_shard_find(struct sp_cat *cat, const char *stream, int64_t index,
				    struct sp_ctl_shard_ref *out);

/*
 * Splits UpdateShardCount to target makes from stream st's open shards (*splits): one per target
 * boundary that is not a shard start already. The stream's open shard count peaks at its open
 * shards + that while the plan runs (AWS counts such transient shards toward the quota).
 * Returns 0, -EINVAL (open shards that do not tile the hash space), -EIO or -ENOMEM.
 */
SP_MUST_CHECK int sp_ctl_reshard_scale_splits(struct sp_cat *cat,
					      const struct sp_cat_stream_row *st, uint32_t target,
					      uint32_t *splits);

/*
 * The dataplane serves catalog version `applied`: move every reshard whose last step it
 * serves one step on (pending -> switched, switched -> done). Returns the number of steps
 * taken (> 0: the catalog changed, push a snapshot) or a negative errno.
 */
SP_MUST_CHECK int sp_ctl_reshard_advance(struct sp_cat *cat, const struct sp_ctl_kctx *ctx,
					 int64_t applied);

/*
 * On-demand capacity (ON_DEMAND streams). The dataplane's per-shard counters are sampled
 * (every SP_CHAN_SWEEP_MS); a shard that took more than split_records_per_s records or
 * split_bytes_per_s bytes a second since the previous sample is split in its middle, through
 * the same state machine as SplitShard (one split per stream per sample; quotas apply). 0
 * turns a bar off. Defaults: a Kinesis shard's write capacity, 1000 records/s and 1 MiB/s.
 */
#define SP_CTL_OD_RECORDS_PER_S_DEFAULT 1000u
#define SP_CTL_OD_BYTES_PER_S_DEFAULT (1u << 20)

struct sp_ctl_od {
	uint32_t split_records_per_s;
	uint32_t split_bytes_per_s;
	json_t *last; /* "stream/shard" -> [records, bytes, ms] of the previous sample */
};

/*
 * Look at one sample (the "dataplane" object of a stats reply). Returns the number of splits
 * begun (> 0: push the catalog) or a negative errno.
 */
SP_MUST_CHECK int sp_ctl_reshard_on_demand(struct sp_cat *cat, const struct sp_ctl_kctx *ctx,
					   struct sp_ctl_od *od, const json_t *dataplane);

#endif /* SPATE_CONTROL_CTL_RESHARD_H */
