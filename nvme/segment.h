/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Segment files: the on-disk form of a shard's log (docs/internals/segments.md has the
 * format byte by byte). This module only encodes and decodes bytes in memory; I/O goes
 * through nvme/io.h elsewhere. No DPDK, no allocation: every buffer and index array is the
 * caller's.
 *
 * Writer: records are appended into a caller-given buffer that mirrors a window of the file;
 * sp_seg_flush_range hands back block-aligned ranges to write. The last block is usually
 * partial (zero-filled after the last record) and is written again by the next flush.
 *
 * Scanner: walks a byte range of a segment, verifying every frame (lengths, CRC32C, sequence
 * order, arrival-time order), stops at the first invalid frame and reports the valid prefix
 * and why it stopped, and fills a bounded sparse index (sequence -> offset, time -> offset).
 * Segments are untrusted input after a crash: every length is checked before use.
 */
#ifndef SP_NVME_SEGMENT_H
#define SP_NVME_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spate/compiler.h>
#include <spate/seqno.h>

#define SP_SEG_MAGIC     0x47535053u /* "SPSG" in file order */
#define SP_SEG_VERSION   1u
#define SP_SEG_HDR_BYTES 64u
/* Logical block: a power of two in this range; the header fills the first block. */
#define SP_SEG_BLOCK_MIN 512u
#define SP_SEG_BLOCK_MAX 65536u
/*
 * Kinesis limits: a partition key is 1-256 UTF-16 units, so up to 768 bytes of UTF-8 (three
 * bytes per unit at most; a surrogate pair is two units and four bytes); data 10 MiB.
 */
#define SP_SEG_KEY_MAX  768u
#define SP_SEG_DATA_MAX (10u * 1024u * 1024u)
/* len, crc, seq (16), arrival_ms, key_len (2), data_len (4) */
#define SP_SEG_FRAME_FIXED 38u
/* the largest frame: a sealed one (its tag, SP_SEG_TAG_BYTES, below) */
#define SP_SEG_FRAME_MAX (SP_SEG_FRAME_FIXED + SP_SEG_KEY_MAX + SP_SEG_DATA_MAX + 16u)
/* How far a record's arrival time may lie below the largest one before it (wall-clock steps). */
#define SP_SEG_TIME_BACKSTEP_MS 600000u

/*
 * Sealed segments (encryption at rest): header flag SP_SEG_F_SEALED and the fingerprint of the
 * key; every frame has SP_SEG_KEY_SEALED in its key length field, its key and data bytes sealed
 * in place by an AEAD with a 16-byte tag (AES-256-GCM in nvme/seal.h), and the tag after the
 * data. The nonce is made from the record's sequence number (sp_seg_rec_nonce): unique per
 * record within a shard, so a sealing key must belong to one shard (seal.h derives one).
 */
#define SP_SEG_F_SEALED     0x1u
#define SP_SEG_KEY_SEALED   0x8000u /* in a frame's key length field */
#define SP_SEG_TAG_BYTES    16u
#define SP_SEG_KEY_FP_BYTES 8u
#define SP_SEG_NONCE_BYTES  12u
/* Authenticated, not sealed: seq (16), arrival_ms (8), key length field (2), data length (4). */
#define SP_SEG_AAD_BYTES 30u

struct sp_seg_hdr {
	uint32_t version;
	uint32_t block_size;
	uint32_t shard_index;
	uint32_t stream_tag;
	sp_u128 first_seq;                   /* every record's sequence number is >= this */
	uint64_t created_ms;                 /* ms since the Unix epoch */
	uint32_t flags;                      /* SP_SEG_F_SEALED or 0 */
	uint8_t key_fp[SP_SEG_KEY_FP_BYTES]; /* sealed: which key (zeros otherwise) */
};

/*
 * An AEAD over two byte ranges in place (a record's key, then its data) with a 12-byte nonce,
 * SP_SEG_AAD_BYTES of additional data and a 16-byte tag: sealing writes the tag, opening
 * checks it. Returns 0, or -EBADMSG when opening finds the tag wrong, another negative errno
 * on failure.
 */
typedef int (*sp_seg_aead_fn)(void *ctx, const uint8_t *nonce, const uint8_t *aad, uint8_t *a,
			      size_t na, uint8_t *b, size_t nb, uint8_t *tag);

/* What seals a record as it is appended: the AEAD and its context, and the key's fingerprint. */
struct sp_seg_sealer {
	sp_seg_aead_fn seal;
	void *ctx;
	uint8_t key_fp[SP_SEG_KEY_FP_BYTES];
};

/* One record, in or out; key and data point into the caller's memory or the segment bytes. */
struct sp_seg_rec {
	sp_u128 seq;
	uint64_t arrival_ms;
	const uint8_t *key;
	const uint8_t *data;
	uint32_t data_len;
	uint16_t key_len;
	/* decoded: the frame's tag, NULL for a clear frame (key and data are then sealed) */
	const uint8_t *tag;
	/* appended: seal with this (NULL: clear), into a segment sealed with the same key */
	const struct sp_seg_sealer *sealer;
};

/* Encode h into the first block of buf (block_size bytes, zeroed after the header). */
int sp_seg_hdr_encode(void *buf, const struct sp_seg_hdr *h) SP_MUST_CHECK;
/*
 * Decode and verify a header from len bytes. Returns 0, -EMSGSIZE (too short), -EINVAL (magic,
 * CRC, block size or reserved bytes wrong) or -ENOTSUP (another format version).
 */
int sp_seg_hdr_decode(const void *buf, size_t len, struct sp_seg_hdr *h) SP_MUST_CHECK;

/* Bytes of a frame for a record with these lengths. */
static inline size_t
sp_seg_frame_bytes(uint16_t key_len, uint32_t data_len)
{
	return SP_SEG_FRAME_FIXED + (size_t)key_len + data_len;
}

/* The same for a frame that is sealed or not. */
static inline size_t
sp_seg_frame_bytes_as(uint16_t key_len, uint32_t data_len, bool sealed)
{
	return sp_seg_frame_bytes(key_len, data_len) + (sealed ? SP_SEG_TAG_BYTES : 0u);
}

/* The nonce and additional data a record's frame is sealed with (what the sealer is given). */
void sp_seg_rec_nonce(sp_u128 seq, uint8_t *nonce);
void sp_seg_rec_aad(const struct sp_seg_rec *r, uint8_t *aad);
/*
 * Open a decoded sealed record in place: its key and data bytes must lie in memory the caller
 * may write (the buffer it decoded from). Returns 0 (key and data now clear, r->tag NULL),
 * -EINVAL for a clear record, or the AEAD's error (-EBADMSG: wrong key or damaged bytes).
 */
int sp_seg_rec_open(struct sp_seg_rec *r, sp_seg_aead_fn open, void *ctx) SP_MUST_CHECK;

/*
 * Decode the frame at p (avail bytes readable). Returns its length, 0 if avail is too short
 * for the whole frame (or its length field), or -EINVAL (length fields inconsistent or beyond
 * the limits) or -EBADMSG (CRC mismatch). The record points into p.
 */
long sp_seg_frame_decode(const uint8_t *p, size_t avail, struct sp_seg_rec *r) SP_MUST_CHECK;

/* --- writer ---------------------------------------------------------------------------- */

struct sp_seg_writer {
	uint8_t *buf;     /* mirrors the file from buf_off on; block-aligned memory */
	size_t cap;       /* bytes of buf, a multiple of block */
	uint64_t buf_off; /* file offset of buf[0], a multiple of block */
	size_t used;      /* bytes of buf holding the header or records */
	size_t flushed;   /* bytes of buf covered by ranges handed out */
	uint32_t block;   /* logical block size */
	uint32_t shard_index;
	uint32_t stream_tag;
	bool sealed; /* a sealed segment: every record comes with a sealer of key_fp */
	uint8_t key_fp[SP_SEG_KEY_FP_BYTES];
	sp_u128 min_seq;  /* the next record's sequence number must be >= this */
	uint64_t max_ms;  /* largest arrival time so far */
	uint64_t records; /* appended since init or resume */
};

/*
 * Start a new segment: the header goes into buf's first block. buf must be block-aligned and
 * hold at least two blocks. Returns 0 or -EINVAL.
 */
int sp_seg_writer_init(struct sp_seg_writer *w, void *buf, size_t cap,
		       const struct sp_seg_hdr *h) SP_MUST_CHECK;
/*
 * Continue a segment whose valid prefix ends at end_off (as a scan reported): buf must hold
 * the file's block containing end_off (the caller read it), at buf[0]. next_min_seq is the
 * smallest sequence number the next record may have, max_ms the largest arrival time seen.
 * Returns 0 or -EINVAL.
 */
int sp_seg_writer_resume(struct sp_seg_writer *w, void *buf, size_t cap, const struct sp_seg_hdr *h,
			 uint64_t end_off, sp_u128 next_min_seq, uint64_t max_ms) SP_MUST_CHECK;
/*
 * Append one record. Returns 0; -EINVAL (a length over the limits, the sequence number of
 * another shard or stream, a sealer of another key than the segment's, none for a sealed
 * segment or one for a clear segment); -EIO (the sealer failed); -ERANGE (sequence number not
 * above the last, or arrival time more than SP_SEG_TIME_BACKSTEP_MS below the largest);
 * -ENOBUFS (no room: flush, wait for the write, sp_seg_writer_compact, then retry; a record
 * that does not fit an empty buffer gets -EMSGSIZE).
 */
int sp_seg_append(struct sp_seg_writer *w, const struct sp_seg_rec *r) SP_MUST_CHECK;
/*
 * The block-aligned range to write for everything appended since the last call: file offset
 * *off, bytes buf + *pos, length *len (blocks). Zero-fills the rest of the last block. Returns
 * false when nothing is new. Appending while the write is in flight changes only bytes after
 * the flushed records (the zero fill), which the next flush writes again.
 */
bool sp_seg_flush_range(struct sp_seg_writer *w, uint64_t *off, size_t *pos, uint32_t *len);
/* After every range was written: keep only the last partial block, at buf[0]. */
void sp_seg_writer_compact(struct sp_seg_writer *w);

/* File offset just after the last record. */
static inline uint64_t
sp_seg_writer_end(const struct sp_seg_writer *w)
{
	return w->buf_off + w->used;
}

/* --- sparse index ----------------------------------------------------------------------- */

struct sp_seg_index_ent {
	sp_u128 seq;     /* of the record at off */
	uint64_t max_ms; /* largest arrival time of the records up to and including it */
	uint64_t off;    /* file offset of the record's frame */
};

/*
 * An entry for the first record, then one whenever every_recs records or every_bytes bytes
 * passed since the last entry. When the array is full, every other entry is dropped and both
 * strides double, so any segment fits a fixed array.
 */
struct sp_seg_index {
	struct sp_seg_index_ent *ent;
	uint32_t cap; /* >= 2 */
	uint32_t n;
	uint32_t every_recs;
	uint32_t every_bytes;
	uint32_t recs_since;
	uint64_t last_off;
};

void sp_seg_index_init(struct sp_seg_index *idx, struct sp_seg_index_ent *ent, uint32_t cap,
		       uint32_t every_recs, uint32_t every_bytes);
/*
 * Note a record (frame at off, running largest arrival time max_ms) as a scan does: a writer
 * keeps the index of the segment it fills with it.
 */
void sp_seg_index_add(struct sp_seg_index *idx, sp_u128 seq, uint64_t max_ms, uint64_t off);
/*
 * Where to start a forward walk for the first record with sequence number >= seq (or, for
 * _time, the first whose running largest arrival time is >= t_ms): a frame offset, and the
 * running largest arrival time before it. data_off is the first record's offset (used when
 * the index is empty or every entry is past the target).
 */
uint64_t sp_seg_index_seek_seq(const struct sp_seg_index *idx, sp_u128 seq, uint64_t data_off);
uint64_t sp_seg_index_seek_time(const struct sp_seg_index *idx, uint64_t t_ms, uint64_t data_off,
				uint64_t *max_ms);

/*
 * Walk the verified bytes buf (file offsets buf_off..buf_off + len, a valid prefix as a scan
 * reported) from frame offset from_off for the first record with seq >= seq, or with running
 * largest arrival time >= t_ms (max_ms: the running value before from_off). Returns 0 with
 * *off set, or -ENOENT (none in the range) or -EBADMSG (a bad frame: not a verified prefix).
 */
int sp_seg_find_seq(const uint8_t *buf, uint64_t buf_off, size_t len, uint64_t from_off,
		    sp_u128 seq, uint64_t *off) SP_MUST_CHECK;
int sp_seg_find_time(const uint8_t *buf, uint64_t buf_off, size_t len, uint64_t from_off,
		     uint64_t max_ms, uint64_t t_ms, uint64_t *off) SP_MUST_CHECK;

/* --- scanner ---------------------------------------------------------------------------- */

enum sp_seg_stop {
	SP_SEG_STOP_NONE = 0, /* not stopped: more bytes may follow (sp_seg_scan, final false) */
	SP_SEG_STOP_CLEAN,    /* the range ends at a frame boundary, or zero fill to its end */
	SP_SEG_STOP_TORN,     /* an incomplete or bad last frame, nothing valid after it */
	SP_SEG_STOP_CORRUPT,  /* a bad frame followed by a valid one: damage inside the log */
};

enum sp_seg_why {
	SP_SEG_OK = 0,
	SP_SEG_WHY_SHORT,      /* the frame runs past the end of the range */
	SP_SEG_WHY_ZERO_DIRTY, /* a zero length field, but non-zero bytes after it */
	SP_SEG_WHY_LENGTH,     /* length fields inconsistent or over the limits */
	SP_SEG_WHY_CRC,        /* CRC32C mismatch */
	SP_SEG_WHY_SEQ,        /* not strictly above the previous (or below first_seq) */
	SP_SEG_WHY_IDENTITY,   /* the sequence number names another shard or stream */
	SP_SEG_WHY_TIME,       /* arrival time too far below the largest before it */
	SP_SEG_WHY_SEALING,    /* a clear frame in a sealed segment, or a sealed one in a clear */
};

typedef int (*sp_seg_visit_fn)(void *arg, const struct sp_seg_rec *r, uint64_t off);

struct sp_seg_scan {
	/* set by sp_seg_scan_init */
	struct sp_seg_hdr hdr;
	struct sp_seg_index *idx; /* may be NULL */
	sp_seg_visit_fn visit;    /* may be NULL; a nonzero return stops the scan with it */
	void *visit_arg;
	/* progress */
	uint64_t next_off; /* file offset of the next frame: the valid prefix's end */
	sp_u128 last_seq;  /* of the last valid record */
	uint64_t max_ms;   /* largest arrival time among the valid records */
	uint64_t records;  /* valid records */
	bool any;          /* at least one valid record */
	/* result */
	enum sp_seg_stop stop;
	enum sp_seg_why why;
};

/* Prepare a scan of a segment with header h, from its first record. */
void sp_seg_scan_init(struct sp_seg_scan *s, const struct sp_seg_hdr *h, struct sp_seg_index *idx,
		      sp_seg_visit_fn visit, void *arg);
/*
 * Walk buf (file offsets buf_off..buf_off + len, which must include s->next_off) from
 * s->next_off. With final false, a frame that runs past the end is left for the next call
 * (read more from s->next_off and call again); with final true the range is the whole
 * segment. Returns the number of valid records walked, or the visitor's nonzero return.
 * s->stop tells whether the scan is over and why.
 */
long sp_seg_scan(struct sp_seg_scan *s, const uint8_t *buf, uint64_t buf_off, size_t len,
		 bool final);
/*
 * Whole segment in memory: verify the header at buf[0], scan the rest with final true.
 * Returns 0 (see s->stop for the tail; it stays SP_SEG_STOP_NONE if the visitor ended the
 * scan) or a header error as sp_seg_hdr_decode (-EMSGSIZE also when len < block_size).
 */
int sp_seg_scan_all(struct sp_seg_scan *s, const uint8_t *buf, size_t len, struct sp_seg_index *idx,
		    sp_seg_visit_fn visit, void *arg) SP_MUST_CHECK;

#endif /* SP_NVME_SEGMENT_H */
