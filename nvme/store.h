/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The store: one file or block device holding the segments of many shard logs
 * (docs/internals/store.md has the layout and the crash argument). A store belongs to one
 * thread at a time (a worker lcore in the dataplane, which owns the shards whose logs it
 * writes); only sp_slog_durable() may be called from any thread. No DPDK; every disk access
 * goes through the I/O seam (nvme/io.h), so the same code runs on io_uring and on the
 * simulated disk. After create and recovery nothing here allocates.
 *
 * Writing: sp_slog_append() encodes records into the log's write buffer; sp_store_poll()
 * submits, per log, one write of everything appended since its last write (group commit: a
 * log has at most one write in flight, records that arrive meanwhile ride the next one) and
 * collects completions, which move the log's durable watermark. Writes carry SP_IO_F_DSYNC,
 * so a completed write is on stable storage.
 *
 * Recovery (sp_store_recover, at start, blocking on the seam): formats an empty store, or reads
 * the superblock and every segment, verifies every frame, cuts torn or corrupt tails (and
 * rewrites the cut blocks as zero fill, so the cut is made once), and rebuilds each log's
 * segment chain and sparse indexes. Sequence numbers after a restart come from a new boot
 * epoch, above everything recovered (docs/internals/seqno.md).
 */
#ifndef SP_NVME_STORE_H
#define SP_NVME_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spate/compiler.h>
#include <spate/seqno.h>

#include "io.h"
#include "segment.h"

#define SP_STORE_VERSION  1u
#define SP_STORE_SB_BYTES 65536u /* superblock region; segment 0 starts right after */
#define SP_STORE_MAX_SEGS (1u << 20)
#define SP_STORE_MAX_LOGS (1u << 20)
/* Smallest segment: a header block and a largest frame, rounded to 1 MiB steps. */
#define SP_STORE_SEG_MIN (SP_SEG_FRAME_MAX + 2u * SP_SEG_BLOCK_MAX)
/* A log's write buffer must hold a largest frame and two blocks. */
#define SP_STORE_WBUF_MIN (SP_SEG_FRAME_MAX + 2u * SP_SEG_BLOCK_MAX)
/* Polls a log waits before retrying a failed write (doubling up to the max). */
#define SP_STORE_RETRY_MIN 16u
#define SP_STORE_RETRY_MAX 4096u
/* Cold reads in flight (or completed, not yet collected) per store. */
#define SP_STORE_READS_MAX 256u

struct sp_store_conf {
	struct sp_io io;
	int file;           /* the store's file index in io */
	uint64_t size;      /* bytes of the file or device to use */
	uint32_t block;     /* its logical block: 512..65536, a power of two */
	uint64_t seg_bytes; /* segment size when formatting (an existing store keeps its own) */
	uint32_t max_logs;  /* shard logs this store can hold */
	uint32_t index_cap; /* sparse-index entries per segment, >= 2 */
	uint32_t index_every_recs;
	uint32_t index_every_bytes;
	/* Recovery's read window: block-aligned, at least SP_STORE_WBUF_MIN bytes. */
	void *scratch;
	size_t scratch_len;
	uint64_t now_ms;   /* wall clock, for a new superblock */
	uint64_t store_id; /* identity written when formatting (random) */
};

/* What recovery found and did. */
struct sp_store_recovery {
	bool formatted;         /* the store was empty and got a superblock */
	uint32_t segs;          /* segments in the store */
	uint32_t segs_used;     /* with a valid header */
	uint32_t bad_headers;   /* non-zero first block that is not a header: freed */
	uint32_t logs;          /* shard logs found */
	uint64_t records;       /* valid records */
	uint64_t bytes_scanned; /* read and verified */
	uint32_t torn;          /* tails cut as torn */
	uint32_t corrupt;       /* tails cut as corrupt (valid data after the damage) */
	uint32_t overlaps;      /* segments whose numbers overlap an earlier one: freed */
	uint64_t cut_bytes;     /* bytes after the cuts that were zeroed */
};

struct sp_store_stats {
	uint64_t appended;       /* records */
	uint64_t appended_bytes; /* frame bytes */
	uint64_t writes;         /* writes submitted */
	uint64_t write_bytes;
	uint64_t write_errors; /* failed completions (each retried) */
	uint64_t segs_opened;  /* segments started */
	uint64_t segs_freed;   /* segments released (retention, deleted streams) and free again */
	uint64_t logs_reused;  /* slots of retired logs given to new ones */
	uint64_t free_errors;  /* failed freeing steps (retried) */
	uint64_t no_space;     /* appends refused: no free segment */
	uint64_t busy;         /* appends deferred: buffer full or rollover waiting */
	uint64_t reads;
	uint64_t read_bytes;
};

/* One shard log, as sp_slog_info reports it. */
struct sp_slog_info {
	uint32_t stream_tag;
	uint32_t shard_index;
	uint32_t segs;
	uint64_t records;  /* in the chain (recovered and appended) */
	bool any;          /* at least one record */
	sp_u128 first_seq; /* of the oldest record, when any */
	sp_u128 last_seq;  /* of the newest record appended, when any */
	sp_u128 durable;   /* newest durable record, 0 when none */
	uint64_t max_ms;   /* largest arrival time */
	int err;           /* last write error while it is being retried, else 0 */
	bool attached;     /* has a write buffer */
};

struct sp_store;
struct sp_slog;

/* Allocate the tables (seam, geometry and limits checked). Returns 0, -EINVAL or -ENOMEM. */
SP_MUST_CHECK int sp_store_create(const struct sp_store_conf *conf, struct sp_store **out);
/* Nothing may be in flight (poll until sp_store_idle). */
void sp_store_destroy(struct sp_store *s);

/*
 * Format or recover (blocking: submits and polls the seam until done). Returns 0, -EINVAL
 * (a superblock that is not this format, or geometry the size cannot hold), -ENOTSUP (a later
 * store version), -ENOSPC (more logs than max_logs) or an I/O error.
 */
SP_MUST_CHECK int sp_store_recover(struct sp_store *s, struct sp_store_recovery *rep);

/* The log of (stream_tag, shard_index), recovered or attached earlier; NULL if none. */
struct sp_slog *sp_store_log_find(struct sp_store *s, uint32_t stream_tag, uint32_t shard_index);

/*
 * Give the log of (stream_tag, shard_index) its write buffer (block-aligned, at least
 * SP_STORE_WBUF_MIN bytes, owned by the caller until sp_store_destroy), creating the log if
 * recovery found none (in a retired log's slot once max_logs slots were used: a caller's
 * per-slot state must be reset then). A recovered log continues its newest segment. Returns
 * 0, -EEXIST (already attached), -ENOSPC (max_logs live logs) or -EINVAL.
 */
SP_MUST_CHECK int sp_store_log_attach(struct sp_store *s, uint32_t stream_tag, uint32_t shard_index,
				      void *wbuf, size_t wbuf_len, struct sp_slog **out);

/*
 * Close an attached log for appends for good and give its write buffer back (its shard was
 * closed by a reshard and everything in it is durable): the caller may free the buffer. Reads,
 * retention and drop go on as before; attaching it again fails with -EPERM. Returns 0 or
 * -EBUSY (a write in flight, failing, or bytes not yet written: poll and retry).
 */
SP_MUST_CHECK int sp_slog_detach(struct sp_slog *l);

/*
 * Append one record (attached log; numbers strictly increasing, the log's stream tag and shard
 * index). Returns 0; -EAGAIN (no room until a write completes: poll, then retry); -ENOSPC (no
 * free segment); -EIO or another errno (writes are failing and being retried: refuse new
 * records meanwhile); -EINVAL, -ERANGE, -EMSGSIZE as sp_seg_append.
 */
SP_MUST_CHECK int sp_slog_append(struct sp_slog *l, const struct sp_seg_rec *r);

/*
 * Release l's oldest segments whose records all arrived before t_ms (retention), the tail too
 * when nothing of it waits to be written. They leave the chain now (reads no longer see them)
 * and become free once zeroed durably. Returns the number released.
 */
unsigned sp_slog_expire(struct sp_slog *l, uint64_t t_ms);

/*
 * Release every segment of l and retire it (its stream was deleted): find() no longer returns
 * it. Returns 0, or -EBUSY while a write is in flight (call again after polls).
 */
SP_MUST_CHECK int sp_slog_drop(struct sp_slog *l);

/* Logs of the store, by slot (0..sp_store_nlogs - 1), dead ones included (check with info). */
uint32_t sp_store_nlogs(const struct sp_store *s);
struct sp_slog *sp_store_log_at(struct sp_store *s, uint32_t slot);
bool sp_slog_dead(const struct sp_slog *l);

/* Newest durable record's number (0 when none): any thread. */
sp_u128 sp_slog_durable(const struct sp_slog *l);

void sp_slog_info(const struct sp_slog *l, struct sp_slog_info *out);

/* The log's number in its store, 0..max_logs - 1 (for the caller's per-log tables). */
uint32_t sp_slog_slot(const struct sp_slog *l);

/*
 * Whether need more frame bytes of records sealed with the key of fingerprint key_fp (NULL:
 * clear records) can be taken now: 0, the write error being retried, or -ENOSPC (the tail
 * segment cannot hold them, or is sealed otherwise, and no segment is free). A hint for
 * refusing records before they are numbered; sp_slog_append decides.
 */
int sp_slog_state(const struct sp_slog *l, uint64_t need, const uint8_t *key_fp);
/* Frame bytes of such records the log can take now without a free segment (UINT64_MAX when
 * one is free). */
uint64_t sp_slog_room(const struct sp_slog *l, const uint8_t *key_fp);

/* Submit pending writes, collect completions. Returns the number of events handled. */
unsigned sp_store_poll(struct sp_store *s);

/* True when no write or read is in flight and nothing appended waits for a write. */
bool sp_store_idle(const struct sp_store *s);

void sp_store_stats(const struct sp_store *s, struct sp_store_stats *out);

/* --- cold reads ------------------------------------------------------------------------ */

/*
 * A read of durable records from the segments: sp_slog_read_plan picks the segment and the
 * block-aligned byte range holding the first durable record with number >= seq (or, by time,
 * whose running largest arrival time is >= t_ms), the caller reads it (through the seam, into
 * aligned memory), then sp_slog_read_walk decodes records from it.
 */
struct sp_slog_read {
	uint32_t seg;     /* segment number in the store */
	int file;         /* seam file index */
	uint64_t offset;  /* file offset to read, block-aligned */
	uint32_t len;     /* bytes to read, block multiple */
	uint64_t seg_off; /* segment offset of buf[0] */
	uint64_t from;    /* segment offset of the first frame to look at */
	uint64_t end;     /* segment offset where this read's durable bytes end */
	bool sealed;      /* the segment is sealed (its records come with tags: open them) */
	uint8_t key_fp[SP_SEG_KEY_FP_BYTES]; /* sealed: the fingerprint of the key */
	/* private to store.c */
	uint64_t base;    /* file offset of the segment */
	uint64_t dur_end; /* the segment's durable end at planning */
	uint32_t block;
	uint32_t max_len;
	uint64_t max_ms; /* running largest arrival time before from (time seeks) */
	sp_u128 seq;     /* target number (by seq) */
	uint64_t t_ms;   /* target time (by time) */
	bool by_time;
};

/*
 * Plan a read of at most max_len bytes (a block multiple, >= two blocks). Returns 0, or -ENOENT
 * when no durable record at or after the target is in the segments (read the ring).
 */
SP_MUST_CHECK int sp_slog_read_plan(const struct sp_slog *l, sp_u128 seq, uint32_t max_len,
				    struct sp_slog_read *rd);
SP_MUST_CHECK int sp_slog_read_plan_time(const struct sp_slog *l, uint64_t t_ms, uint32_t max_len,
					 struct sp_slog_read *rd);

/*
 * Decode up to max (>= 1) records from buf (rd->len bytes read at rd->offset), from the first
 * at or after the target on. Records point into buf; *next_seq is the number after the last one
 * (the target if none). Returns the count (> 0), or:
 *   0          the target lies past this read: rd now describes the next read; read it, walk again;
 *   -ENOENT    no durable record at or after the target in this segment (by time: none yet);
 *   -EMSGSIZE  a record longer than max_len: plan again with max_len >= SP_STORE_WBUF_MIN;
 *   -EBADMSG   the bytes do not verify (the medium changed under a verified range).
 */
SP_MUST_CHECK int sp_slog_read_walk(struct sp_slog_read *rd, const uint8_t *buf,
				    struct sp_seg_rec *out, unsigned max, sp_u128 *next_seq);

/* A completed cold read: the caller's tag and the bytes read or a negative errno. */
struct sp_store_read_cpl {
	uint64_t tag;
	int32_t res;
};

/*
 * Submit the read rd describes into buf (block-aligned, rd->len bytes) on the store's queue;
 * its completion is collected by sp_store_poll and handed out by sp_store_read_done with tag
 * (below 2^62). Returns 0 or -EBUSY (SP_STORE_READS_MAX reads outstanding, or the queue is full).
 */
SP_MUST_CHECK int sp_store_read(struct sp_store *s, const struct sp_slog_read *rd, void *buf,
				uint64_t tag);
/* Completed reads since the last call (at most max). */
unsigned sp_store_read_done(struct sp_store *s, struct sp_store_read_cpl *out, unsigned max);

#endif /* SP_NVME_STORE_H */
