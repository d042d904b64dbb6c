/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One Kinesis shard's records in memory: a ring over caller-provided memory (a hugepage
 * memzone in the dataplane, a static or malloc'd buffer in tests), written by one lcore (the
 * shard's owner) and read lock-free by any lcore. docs/internals/shard-ring.md has the layout
 * and the publication, trim and overrun protocol; docs/internals/seqno.md the numbers.
 *
 * Threads:
 *   writer (owner lcore only)  sp_shard_ring_init, sp_shard_ring_append, sp_shard_ring_trim
 *   readers (any lcore)        everything else; no locks, no stores to the ring
 *
 * Positions are sequence numbers: struct sp_shard_pos means "the first record whose sequence
 * number is >= seq". They are resolved through the sparse index on every read, so a position
 * stays meaningful whatever happens to offsets (trims, a reload by the storage layer).
 *
 * Views returned by sp_shard_ring_read point into the ring. They stay intact until the records
 * are trimmed and their bytes reused; a reader that used them (copied or encoded them) must
 * confirm with sp_shard_ring_read_intact() afterwards and, if that fails, discard its output
 * and read again from the same position.
 */
#ifndef SP_SHARD_RING_H
#define SP_SHARD_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spate/assert.h>
#include <spate/compiler.h>
#include <spate/seqno.h>

/* Records start on 8-byte boundaries; a record's size is rounded up to this. */
#define SP_SHARD_REC_ALIGN 8u
/* One index entry per this many records (counters base, base + 64, ...). */
#define SP_SHARD_INDEX_STRIDE 64u
/*
 * The data region must hold this many records of the largest size: 2 guarantees that an
 * empty ring accepts any record wherever its end lies (the wrap pad is smaller than the
 * record); 4 keeps a largest record from ever waiting for more than a quarter of the ring.
 */
#define SP_SHARD_RING_CAP_MULT 4u
/* Largest key + data a ring may be configured for (reference §5: 10 MiB). */
#define SP_SHARD_RECORD_MAX_LIMIT (10u * 1024u * 1024u)
/* Largest partition key the ring stores (key_len is 16 bits; Kinesis allows 256 chars). */
#define SP_SHARD_KEY_MAX 4096u
/* A reader restarts after an overrun at most this often before giving up with -EAGAIN. */
#define SP_SHARD_READ_RETRIES 8u
/* Memory handed to sp_shard_ring_init must be aligned to this. */
#define SP_SHARD_RING_ALIGN 64u

#define SP_SHARD_REC_MAGIC 0x52505353u /* "SSPR" in memory: a record */
#define SP_SHARD_PAD_MAGIC 0x44415053u /* "SPAD": filler up to the end of the region */

/*
 * The header in front of every record. A record is header, partition key, data, then zero
 * padding to SP_SHARD_REC_ALIGN, contiguous in the region (never split by the wrap). A pad
 * marker is only the first 8 bytes (magic, size) of a header: it always fits, as every free
 * gap at the end of the region is a multiple of 8.
 */
struct sp_shard_rec_hdr {
	uint32_t magic;      /* SP_SHARD_REC_MAGIC or SP_SHARD_PAD_MAGIC */
	uint32_t size;       /* bytes to the next record: header + key + data + padding */
	uint32_t data_len;   /* bytes of data */
	uint16_t key_len;    /* bytes of partition key */
	uint16_t flags;      /* caller's bits, stored and returned as given */
	uint64_t seq_lo;     /* sequence number, low 64 bits */
	uint64_t seq_hi;     /* sequence number, high 64 bits */
	uint64_t arrival_ms; /* ApproximateArrivalTimestamp, ms since the Unix epoch */
	uint32_t check;      /* hash of the fields above and the record's logical offset */
	uint32_t reserved;   /* zero */
};

#define SP_SHARD_REC_HDR_BYTES 48u
SP_STATIC_ASSERT(sizeof(struct sp_shard_rec_hdr) == SP_SHARD_REC_HDR_BYTES, "record header");
SP_STATIC_ASSERT(offsetof(struct sp_shard_rec_hdr, size) == 4, "pad marker is magic + size");
SP_STATIC_ASSERT(offsetof(struct sp_shard_rec_hdr, seq_lo) == 16, "header layout");
SP_STATIC_ASSERT(offsetof(struct sp_shard_rec_hdr, arrival_ms) == 32, "header layout");
SP_STATIC_ASSERT(offsetof(struct sp_shard_rec_hdr, check) == 40, "header layout");
SP_STATIC_ASSERT(SP_SHARD_REC_HDR_BYTES % SP_SHARD_REC_ALIGN == 0, "header keeps alignment");
SP_STATIC_ASSERT(SP_SHARD_RECORD_MAX_LIMIT + SP_SHARD_REC_HDR_BYTES < UINT32_MAX / 2,
		 "a record's size fits the 32-bit size field");

struct sp_shard_ring;

struct sp_shard_ring_conf {
	/* epoch, node, stream_tag, shard_index of every number; counter is ignored */
	struct sp_seqno_fields id;
	/* counter of the first record: 0 means 1 (0 is the shard's StartingSequenceNumber) */
	uint64_t first_counter;
	/* largest key + data accepted, 1..SP_SHARD_RECORD_MAX_LIMIT */
	uint32_t max_record_bytes;
	/*
	 * Readers see only records the writer made visible (sp_shard_ring_set_visible): durable
	 * ack mode, where a record is readable once it is on stable storage. false: committed
	 * records are visible at once.
	 */
	bool gated;
};

/* One record to append. key and data may be NULL when their length is 0. */
struct sp_shard_rec_in {
	const void *key;
	const void *data;
	uint32_t data_len;
	uint16_t key_len;
	uint16_t flags;
};

/* One record read: pointers into the ring (see the intact rule above). */
struct sp_shard_rec_view {
	sp_u128 seq;
	uint64_t arrival_ms;
	const uint8_t *key;
	const uint8_t *data;
	uint32_t data_len;
	uint16_t key_len;
	uint16_t flags;
};

/* Read from the first record whose sequence number is >= seq. */
struct sp_shard_pos {
	sp_u128 seq;
};

struct sp_shard_read_res {
	struct sp_shard_pos next; /* after the last record returned (pos unchanged if none) */
	sp_u128 tip_seq;          /* newest committed record; 0 when the ring never had one */
	uint64_t tip_arrival_ms;  /* its arrival time; 0 when none */
	uint64_t millis_behind;   /* tip arrival - arrival of the next unread record; 0 at tip */
	uint64_t bytes;           /* key + data bytes of the records returned */
	bool at_tip;              /* nothing committed after next */
	uint64_t guard;           /* for sp_shard_ring_read_intact(): oldest offset viewed */
};

/* Writer counters (relaxed atomics inside; sp_shard_ring_stats copies them). */
struct sp_shard_ring_stats {
	uint64_t appended;          /* records */
	uint64_t appended_bytes;    /* key + data */
	uint64_t refused_full;      /* appends stopped because the ring had no room */
	uint64_t refused_too_big;   /* key + data above max_record_bytes, or key too long */
	uint64_t refused_exhausted; /* counter reached SP_SEQNO_COUNTER_MAX */
	uint64_t trimmed;           /* records trimmed */
	uint64_t pads;              /* wrap pads written */
};

struct sp_shard_ring_info {
	uint64_t capacity;      /* data region bytes */
	uint64_t used_bytes;    /* from the trim horizon to the end, pads included */
	uint32_t index_entries; /* size of the sparse index */
	uint32_t max_record_bytes;
	sp_u128 first_seq; /* shard start: the id with counter 0 */
	sp_u128 tip_seq;   /* newest committed record, 0 if none */
	uint64_t tip_arrival_ms;
	uint64_t next_counter; /* counter the next committed record will get */
};

/* Smallest data region for records of up to max_record_bytes (key + data). */
uint64_t sp_shard_ring_min_capacity(uint32_t max_record_bytes);

/* Memory sp_shard_ring_init needs for a data region of capacity bytes (index included). */
size_t sp_shard_ring_mem_bytes(uint64_t capacity);

/* Data region a ring gets from bytes of memory (0 when too small for any ring). */
uint64_t sp_shard_ring_capacity(size_t bytes);

/*
 * Lay a ring out over mem[0..bytes) (SP_SHARD_RING_ALIGN-aligned; boot time, writer lcore).
 * The ring keeps pointers into mem: the memory must outlive it and must not move.
 * Returns 0, -EINVAL (misaligned memory, a field of conf out of range) or -ENOSPC (the data
 * region would be smaller than sp_shard_ring_min_capacity(conf->max_record_bytes)).
 */
SP_MUST_CHECK int sp_shard_ring_init(void *mem, size_t bytes, const struct sp_shard_ring_conf *conf,
				     struct sp_shard_ring **out);

/*
 * Append in[0..n) in order (writer lcore). Each record gets the next counter and an arrival
 * time of max(now_ms, previous arrival); seq_out[i] (may be NULL) receives its number. The
 * batch is published with one release store at the end. Stops at the first record that cannot
 * be appended. Returns the number appended when that is > 0 or n == 0, otherwise why the first
 * record was refused: -ENOSPC (no room until a trim), -EMSGSIZE (key + data above the ring's
 * max_record_bytes or key above SP_SHARD_KEY_MAX), -EOVERFLOW (counter exhausted: the shard
 * must be closed). Appending the rest of a partial batch again gives the reason it stopped.
 */
SP_MUST_CHECK int sp_shard_ring_append(struct sp_shard_ring *ring, const struct sp_shard_rec_in *in,
				       unsigned n, uint64_t now_ms, sp_u128 *seq_out);

/*
 * Drop every record whose number is < upto (writer lcore). Records are never dropped
 * otherwise; a full ring refuses appends. Returns the number of records trimmed (>= 0).
 */
int64_t sp_shard_ring_trim(struct sp_shard_ring *ring, sp_u128 upto);

/*
 * Read up to max_records committed records from pos (any lcore). Stops before a record that
 * would take the key + data total above max_bytes, but always returns the first record
 * available, even alone above max_bytes (a 10 MiB record must be readable with a 10 MiB cap).
 * Returns the number of views written (0 when pos is at the tip) or -EAGAIN when the writer
 * trimmed under the reader SP_SHARD_READ_RETRIES times in a row.
 */
SP_MUST_CHECK int sp_shard_ring_read(const struct sp_shard_ring *ring,
				     const struct sp_shard_pos *pos, unsigned max_records,
				     uint64_t max_bytes, struct sp_shard_rec_view *out,
				     struct sp_shard_read_res *res);

/* The same, past the visible gate: the writer's own view (it feeds the storage engine). */
SP_MUST_CHECK int sp_shard_ring_read_ungated(const struct sp_shard_ring *ring,
					     const struct sp_shard_pos *pos, unsigned max_records,
					     uint64_t max_bytes, struct sp_shard_rec_view *out,
					     struct sp_shard_read_res *res);

/* After using the views of a read: true when none of their bytes can have been reused. */
bool sp_shard_ring_read_intact(const struct sp_shard_ring *ring,
			       const struct sp_shard_read_res *res);

/*
 * The position of the first committed record with number >= seq (> seq when after). When no
 * such record is committed, the position that will read the first record above seq once it
 * arrives. Returns 0 or -EAGAIN (see sp_shard_ring_read).
 */
SP_MUST_CHECK int sp_shard_ring_seek_seq(const struct sp_shard_ring *ring, sp_u128 seq, bool after,
					 struct sp_shard_pos *pos);

/*
 * The position of the first untrimmed record with arrival_ms >= t_ms (AT_TIMESTAMP; a time
 * before the trim horizon gives the trim horizon), or latest when there is none. 0 or -EAGAIN.
 */
SP_MUST_CHECK int sp_shard_ring_seek_time(const struct sp_shard_ring *ring, uint64_t t_ms,
					  struct sp_shard_pos *pos);

/* The oldest untrimmed record (TRIM_HORIZON), or latest when none is left. 0 or -EAGAIN. */
SP_MUST_CHECK int sp_shard_ring_trim_horizon(const struct sp_shard_ring *ring,
					     struct sp_shard_pos *pos);

/* Just after the newest committed record (LATEST). 0 or -EAGAIN. */
SP_MUST_CHECK int sp_shard_ring_latest(const struct sp_shard_ring *ring, struct sp_shard_pos *pos);

/*
 * Gated ring (writer lcore): records with numbers <= upto become visible to readers (reads,
 * the tip, LATEST). Never moves backwards, never past the last committed record.
 */
void sp_shard_ring_set_visible(struct sp_shard_ring *ring, sp_u128 upto);

/*
 * Close the shard for good (writer lcore; a reshard closed it): appends fail with -EPIPE from
 * now on. Idempotent.
 */
void sp_shard_ring_seal(struct sp_shard_ring *ring);
bool sp_shard_ring_sealed(const struct sp_shard_ring *ring);

/*
 * A sealed ring whose records all live elsewhere now (the store has them, durable): its owner
 * says so (writer lcore), and whoever owns the memory may free it once no reader can hold it.
 */
void sp_shard_ring_set_drained(struct sp_shard_ring *ring);
bool sp_shard_ring_drained(const struct sp_shard_ring *ring);

/*
 * The writer token: which lcore-level writer (an index the caller chooses) may append, trim,
 * seal and publish visibility. A ring is made with none (SP_SHARD_WRITER_NONE); moving a shard
 * between writers hands the token over: the old writer stops writing, then stores the new
 * writer's index (release); the new writer starts once it loads its own index (acquire), so
 * it sees every byte and field the old one wrote (docs/internals/reshard.md, "Moving a shard").
 */
#define SP_SHARD_WRITER_NONE UINT32_MAX
void sp_shard_ring_set_writer(struct sp_shard_ring *ring, uint32_t writer);
uint32_t sp_shard_ring_writer(const struct sp_shard_ring *ring);

/*
 * True when the ring is sealed, every record it holds is visible, and it holds no record at or
 * after pos: a reader at pos has read the shard to its end (any lcore). A pos older than the
 * ring's numbers counts as its start: the caller has ruled out older records elsewhere (the
 * store).
 */
bool sp_shard_ring_ended(const struct sp_shard_ring *ring, sp_u128 pos);

void sp_shard_ring_stats(const struct sp_shard_ring *ring, struct sp_shard_ring_stats *out);
void sp_shard_ring_info(const struct sp_shard_ring *ring, struct sp_shard_ring_info *out);

/*
 * The publish stamp, for latency figures (a SubscribeToShard event's commit-to-send time): the
 * writer notes a cycle count just after it made records readable (a commit of an ungated
 * ring, or sp_shard_ring_set_visible of a gated one; a call that made nothing newer readable
 * keeps the earlier stamp). sp_shard_ring_stamp_get gives it back
 * only when the newest readable record is seq, i.e. the stamp is that record's: false when
 * a newer publish replaced it, or a concurrent one is being written. A seqlock; the writer
 * never waits.
 */
void sp_shard_ring_stamp(struct sp_shard_ring *ring, uint64_t cycles);
bool sp_shard_ring_stamp_get(const struct sp_shard_ring *ring, sp_u128 seq, uint64_t *cycles);

/* Writer lcore: the number the next record appended will get. */
sp_u128 sp_shard_ring_next_seq(const struct sp_shard_ring *ring);

/* The number a record of this ring with this counter has. */
sp_u128 sp_shard_ring_seq(const struct sp_shard_ring *ring, uint64_t counter);

#endif /* SP_SHARD_RING_H */
