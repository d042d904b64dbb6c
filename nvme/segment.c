/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Segment encoding and scanning (format: docs/internals/segments.md). Pure functions over
 * caller memory; any thread, no shared state. Fields are little-endian and read through
 * memcpy (frames are packed, so nothing is aligned).
 */
#include "le.h"
#include "segment.h"

#include <errno.h>
#include <string.h>

#include <spate/assert.h>

#include "crc32c.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "segment.c stores fields in host order, which must be little-endian"
#endif

/* Header field offsets. */
#define SEG_H_MAGIC   0
#define SEG_H_VERSION 4
#define SEG_H_HDR_LEN 6
#define SEG_H_BLOCK   8
#define SEG_H_SHARD   12
#define SEG_H_TAG     16
#define SEG_H_FLAGS   20
#define SEG_H_SEQ_LO  24
#define SEG_H_SEQ_HI  32
#define SEG_H_CREATED 40
#define SEG_H_KEY_FP  48
#define SEG_H_CRC     60
/* Frame field offsets. */
#define SEG_F_LEN     0
#define SEG_F_CRC     4
#define SEG_F_SEQ_LO  8
#define SEG_F_SEQ_HI  16
#define SEG_F_MS      24
#define SEG_F_KEY_LEN 32
#define SEG_F_KEY     34
/* The low 52 bits of a sequence number: stream tag and shard index. */
#define SEG_ID_MASK ((UINT64_C(1) << 52) - 1u)

static bool
seg_block_ok(uint32_t b)
{
	return b >= SP_SEG_BLOCK_MIN && b <= SP_SEG_BLOCK_MAX && (b & (b - 1)) == 0;
}

static uint64_t
seg_id(uint32_t stream_tag, uint32_t shard_index)
{
	return (uint64_t)(stream_tag & SP_SEQNO_TAG_MAX) << 32 | shard_index;
}

/* Whether arrival time ms lies more than the allowed step below the largest so far. */
static inline bool
seg_time_back(uint64_t ms, uint64_t max_ms)
{
	return max_ms > SP_SEG_TIME_BACKSTEP_MS && ms < max_ms - SP_SEG_TIME_BACKSTEP_MS;
}

int
sp_seg_hdr_encode(void *buf, const struct sp_seg_hdr *h)
{
	uint8_t *p = buf;

	if (!seg_block_ok(h->block_size) || h->stream_tag > SP_SEQNO_TAG_MAX ||
	    (h->flags & ~SP_SEG_F_SEALED) != 0) {
		return -EINVAL;
	}
	memset(p, 0, h->block_size);
	sp_le_st32(p + SEG_H_MAGIC, SP_SEG_MAGIC);
	sp_le_st16(p + SEG_H_VERSION, SP_SEG_VERSION);
	sp_le_st16(p + SEG_H_HDR_LEN, SP_SEG_HDR_BYTES);
	sp_le_st32(p + SEG_H_BLOCK, h->block_size);
	sp_le_st32(p + SEG_H_SHARD, h->shard_index);
	sp_le_st32(p + SEG_H_TAG, h->stream_tag);
	sp_le_st64(p + SEG_H_SEQ_LO, (uint64_t)h->first_seq);
	sp_le_st64(p + SEG_H_SEQ_HI, (uint64_t)(h->first_seq >> 64));
	sp_le_st64(p + SEG_H_CREATED, h->created_ms);
	sp_le_st32(p + SEG_H_FLAGS, h->flags);
	if ((h->flags & SP_SEG_F_SEALED) != 0) {
		memcpy(p + SEG_H_KEY_FP, h->key_fp, SP_SEG_KEY_FP_BYTES);
	}
	sp_le_st32(p + SEG_H_CRC, sp_crc32c(0, p, SEG_H_CRC));
	return 0;
}

int
sp_seg_hdr_decode(const void *buf, size_t len, struct sp_seg_hdr *h)
{
	static const uint8_t zero[SEG_H_CRC - SEG_H_CREATED - 8];
	const uint8_t *p = buf;
	size_t reserved;

	if (len < SP_SEG_HDR_BYTES) {
		return -EMSGSIZE;
	}
	if (sp_le_ld32(p + SEG_H_MAGIC) != SP_SEG_MAGIC ||
	    sp_le_ld32(p + SEG_H_CRC) != sp_crc32c(0, p, SEG_H_CRC)) {
		return -EINVAL;
	}
	if (sp_le_ld16(p + SEG_H_VERSION) != SP_SEG_VERSION) {
		return -ENOTSUP;
	}
	h->version = SP_SEG_VERSION;
	h->block_size = sp_le_ld32(p + SEG_H_BLOCK);
	h->shard_index = sp_le_ld32(p + SEG_H_SHARD);
	h->stream_tag = sp_le_ld32(p + SEG_H_TAG);
	h->first_seq = (sp_u128)sp_le_ld64(p + SEG_H_SEQ_HI) << 64 | sp_le_ld64(p + SEG_H_SEQ_LO);
	h->created_ms = sp_le_ld64(p + SEG_H_CREATED);
	h->flags = sp_le_ld32(p + SEG_H_FLAGS);
	memset(h->key_fp, 0, sizeof(h->key_fp));
	/* a sealed segment's key fingerprint takes the first reserved bytes */
	reserved = SEG_H_CREATED + 8;
	if ((h->flags & SP_SEG_F_SEALED) != 0) {
		memcpy(h->key_fp, p + SEG_H_KEY_FP, SP_SEG_KEY_FP_BYTES);
		reserved = SEG_H_KEY_FP + SP_SEG_KEY_FP_BYTES;
	}
	if (sp_le_ld16(p + SEG_H_HDR_LEN) != SP_SEG_HDR_BYTES || !seg_block_ok(h->block_size) ||
	    h->stream_tag > SP_SEQNO_TAG_MAX || (h->flags & ~SP_SEG_F_SEALED) != 0 ||
	    memcmp(p + reserved, zero, SEG_H_CRC - reserved) != 0) {
		return -EINVAL;
	}
	return 0;
}

/* The CRC covers the length field and everything after the CRC field. */
static uint32_t
seg_frame_crc(const uint8_t *p, size_t flen)
{
	return sp_crc32c(sp_crc32c(0, p, 4), p + SEG_F_SEQ_LO, flen - SEG_F_SEQ_LO);
}

long
sp_seg_frame_decode(const uint8_t *p, size_t avail, struct sp_seg_rec *r)
{
	uint32_t flen, dlen;
	uint16_t klen, kfield;
	bool sealed;

	if (avail < SP_SEG_FRAME_FIXED) {
		return 0;
	}
	flen = sp_le_ld32(p + SEG_F_LEN);
	kfield = sp_le_ld16(p + SEG_F_KEY_LEN);
	sealed = (kfield & SP_SEG_KEY_SEALED) != 0;
	klen = (uint16_t)(kfield & ~SP_SEG_KEY_SEALED);
	/* the data length field lies after the key: the frame must reach past it */
	if (klen > SP_SEG_KEY_MAX || flen < SP_SEG_FRAME_FIXED + (uint32_t)klen ||
	    flen > SP_SEG_FRAME_MAX) {
		return -EINVAL;
	}
	if (avail < flen) {
		return 0;
	}
	dlen = sp_le_ld32(p + SEG_F_KEY + klen);
	if (dlen > SP_SEG_DATA_MAX || sp_seg_frame_bytes_as(klen, dlen, sealed) != flen) {
		return -EINVAL;
	}
	if (sp_le_ld32(p + SEG_F_CRC) != seg_frame_crc(p, flen)) {
		return -EBADMSG;
	}
	r->seq = (sp_u128)sp_le_ld64(p + SEG_F_SEQ_HI) << 64 | sp_le_ld64(p + SEG_F_SEQ_LO);
	r->arrival_ms = sp_le_ld64(p + SEG_F_MS);
	r->key_len = klen;
	r->key = p + SEG_F_KEY;
	r->data_len = dlen;
	r->data = p + SEG_F_KEY + klen + 4;
	r->tag = sealed ? r->data + dlen : NULL;
	r->sealer = NULL;
	return (long)flen;
}

/* Bits 32..127 of the number (all but the shard index, which the key stands for), LE. */
void
sp_seg_rec_nonce(sp_u128 seq, uint8_t *nonce)
{
	sp_le_st32(nonce, (uint32_t)(seq >> 32));
	sp_le_st64(nonce + 4, (uint64_t)(seq >> 64));
}

void
sp_seg_rec_aad(const struct sp_seg_rec *r, uint8_t *aad)
{
	uint16_t kfield =
	    (uint16_t)(r->key_len | (r->tag != NULL || r->sealer != NULL ? SP_SEG_KEY_SEALED : 0u));

	sp_le_st64(aad, (uint64_t)r->seq);
	sp_le_st64(aad + 8, (uint64_t)(r->seq >> 64));
	sp_le_st64(aad + 16, r->arrival_ms);
	sp_le_st16(aad + 24, kfield);
	sp_le_st32(aad + 26, r->data_len);
}

int
sp_seg_rec_open(struct sp_seg_rec *r, sp_seg_aead_fn open, void *ctx)
{
	uint8_t nonce[SP_SEG_NONCE_BYTES], aad[SP_SEG_AAD_BYTES], tag[SP_SEG_TAG_BYTES];
	int rc;

	if (r->tag == NULL) {
		return -EINVAL;
	}
	sp_seg_rec_nonce(r->seq, nonce);
	sp_seg_rec_aad(r, aad);
	memcpy(tag, r->tag, sizeof(tag));
	/* the caller's own buffer: the record points into it read-only only by type */
	rc = open(ctx, nonce, aad, (uint8_t *)(uintptr_t)r->key, r->key_len,
		  (uint8_t *)(uintptr_t)r->data, r->data_len, tag);
	if (rc == 0) {
		r->tag = NULL;
	}
	return rc;
}

/* --- writer ---------------------------------------------------------------------------- */

static int
seg_writer_setup(struct sp_seg_writer *w, void *buf, size_t cap, const struct sp_seg_hdr *h)
{
	if (!seg_block_ok(h->block_size) || cap % h->block_size != 0 || cap < 2u * h->block_size ||
	    ((uintptr_t)buf % h->block_size) != 0) {
		return -EINVAL;
	}
	memset(w, 0, sizeof(*w));
	w->buf = buf;
	w->cap = cap;
	w->block = h->block_size;
	w->shard_index = h->shard_index;
	w->stream_tag = h->stream_tag;
	w->sealed = (h->flags & SP_SEG_F_SEALED) != 0;
	memcpy(w->key_fp, h->key_fp, sizeof(w->key_fp));
	w->min_seq = h->first_seq;
	return 0;
}

int
sp_seg_writer_init(struct sp_seg_writer *w, void *buf, size_t cap, const struct sp_seg_hdr *h)
{
	int rc = seg_writer_setup(w, buf, cap, h);

	if (rc != 0) {
		return rc;
	}
	rc = sp_seg_hdr_encode(buf, h);
	if (rc != 0) {
		return rc;
	}
	w->used = h->block_size;
	w->max_ms = 0;
	return 0;
}

int
sp_seg_writer_resume(struct sp_seg_writer *w, void *buf, size_t cap, const struct sp_seg_hdr *h,
		     uint64_t end_off, sp_u128 next_min_seq, uint64_t max_ms)
{
	int rc = seg_writer_setup(w, buf, cap, h);

	if (rc != 0) {
		return rc;
	}
	if (end_off < h->block_size || next_min_seq < h->first_seq) {
		return -EINVAL;
	}
	w->buf_off = end_off - end_off % w->block;
	w->used = (size_t)(end_off - w->buf_off);
	w->flushed = w->used;
	w->min_seq = next_min_seq;
	w->max_ms = max_ms;
	/* the rest of the block was zero fill on disk; make sure it is here too */
	memset(w->buf + w->used, 0, w->block - w->used);
	return 0;
}

int
sp_seg_append(struct sp_seg_writer *w, const struct sp_seg_rec *r)
{
	size_t flen;
	uint8_t *p;

	SP_VERIFY(w->used <= w->cap && w->flushed <= w->used);
	if (r->key_len > SP_SEG_KEY_MAX || r->data_len > SP_SEG_DATA_MAX ||
	    ((uint64_t)r->seq & SEG_ID_MASK) != seg_id(w->stream_tag, w->shard_index) ||
	    (r->sealer != NULL) != w->sealed ||
	    (r->sealer != NULL && memcmp(r->sealer->key_fp, w->key_fp, SP_SEG_KEY_FP_BYTES) != 0)) {
		return -EINVAL;
	}
	if (r->seq < w->min_seq || seg_time_back(r->arrival_ms, w->max_ms)) {
		return -ERANGE;
	}
	flen = sp_seg_frame_bytes_as(r->key_len, r->data_len, w->sealed);
	if (flen > w->cap - w->used) {
		return flen > w->cap - w->block ? -EMSGSIZE : -ENOBUFS;
	}
	p = w->buf + w->used;
	sp_le_st32(p + SEG_F_LEN, (uint32_t)flen);
	sp_le_st64(p + SEG_F_SEQ_LO, (uint64_t)r->seq);
	sp_le_st64(p + SEG_F_SEQ_HI, (uint64_t)(r->seq >> 64));
	sp_le_st64(p + SEG_F_MS, r->arrival_ms);
	sp_le_st16(p + SEG_F_KEY_LEN,
		   (uint16_t)(r->key_len | (w->sealed ? SP_SEG_KEY_SEALED : 0u)));
	if (r->key_len > 0) {
		memcpy(p + SEG_F_KEY, r->key, r->key_len);
	}
	sp_le_st32(p + SEG_F_KEY + r->key_len, r->data_len);
	if (r->data_len > 0) {
		memcpy(p + SEG_F_KEY + r->key_len + 4, r->data, r->data_len);
	}
	if (w->sealed) {
		uint8_t nonce[SP_SEG_NONCE_BYTES], aad[SP_SEG_AAD_BYTES];
		uint8_t *data = p + SEG_F_KEY + r->key_len + 4;

		sp_seg_rec_nonce(r->seq, nonce);
		sp_seg_rec_aad(r, aad);
		if (r->sealer->seal(r->sealer->ctx, nonce, aad, p + SEG_F_KEY, r->key_len, data,
				    r->data_len, data + r->data_len) != 0) {
			memset(p, 0, flen); /* nothing half-sealed stays in the buffer */
			return -EIO;
		}
	}
	sp_le_st32(p + SEG_F_CRC, seg_frame_crc(p, flen));
	w->used += flen;
	w->min_seq = r->seq + 1;
	if (r->arrival_ms > w->max_ms) {
		w->max_ms = r->arrival_ms;
	}
	w->records++;
	return 0;
}

bool
sp_seg_flush_range(struct sp_seg_writer *w, uint64_t *off, size_t *pos, uint32_t *len)
{
	size_t start, end;

	SP_VERIFY(w->flushed <= w->used && w->used <= w->cap);
	if (w->flushed == w->used) {
		return false;
	}
	start = w->flushed - w->flushed % w->block;
	end = (w->used + w->block - 1) / w->block * w->block;
	SP_VERIFY(end <= w->cap);
	memset(w->buf + w->used, 0, end - w->used);
	*off = w->buf_off + start;
	*pos = start;
	*len = (uint32_t)(end - start);
	w->flushed = w->used;
	return true;
}

void
sp_seg_writer_compact(struct sp_seg_writer *w)
{
	size_t keep = w->used - w->used % w->block;

	SP_VERIFY(w->flushed == w->used);
	if (keep == 0) {
		return;
	}
	memmove(w->buf, w->buf + keep, w->used - keep);
	w->buf_off += keep;
	w->used -= keep;
	w->flushed = w->used;
}

/* --- sparse index ----------------------------------------------------------------------- */

void
sp_seg_index_init(struct sp_seg_index *idx, struct sp_seg_index_ent *ent, uint32_t cap,
		  uint32_t every_recs, uint32_t every_bytes)
{
	SP_VERIFY(cap >= 2 && every_recs >= 1 && every_bytes >= 1);
	memset(idx, 0, sizeof(*idx));
	idx->ent = ent;
	idx->cap = cap;
	idx->every_recs = every_recs;
	idx->every_bytes = every_bytes;
}

void
sp_seg_index_add(struct sp_seg_index *idx, sp_u128 seq, uint64_t max_ms, uint64_t off)
{
	if (idx->n > 0 && idx->recs_since < idx->every_recs &&
	    off - idx->last_off < idx->every_bytes) {
		idx->recs_since++;
		return;
	}
	if (idx->n == idx->cap) {
		/* thin: keep entries 0, 2, 4, ... and space new ones twice as far */
		uint32_t k = 0;

		for (uint32_t i = 0; i < idx->n; i += 2) {
			idx->ent[k++] = idx->ent[i];
		}
		idx->n = k;
		idx->every_recs =
		    idx->every_recs > UINT32_MAX / 2 ? UINT32_MAX : idx->every_recs * 2;
		idx->every_bytes =
		    idx->every_bytes > UINT32_MAX / 2 ? UINT32_MAX : idx->every_bytes * 2;
	}
	SP_VERIFY(idx->n < idx->cap);
	idx->ent[idx->n++] = (struct sp_seg_index_ent){.seq = seq, .max_ms = max_ms, .off = off};
	idx->last_off = off;
	idx->recs_since = 1;
}

uint64_t
sp_seg_index_seek_seq(const struct sp_seg_index *idx, sp_u128 seq, uint64_t data_off)
{
	uint32_t lo = 0, hi = idx->n; /* the answer is the last entry with ent.seq <= seq */

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (idx->ent[mid].seq <= seq) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo == 0 ? data_off : idx->ent[lo - 1].off;
}

uint64_t
sp_seg_index_seek_time(const struct sp_seg_index *idx, uint64_t t_ms, uint64_t data_off,
		       uint64_t *max_ms)
{
	uint32_t lo = 0, hi = idx->n; /* the last entry with ent.max_ms < t_ms */

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (idx->ent[mid].max_ms < t_ms) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	if (lo == 0) {
		*max_ms = 0;
		return data_off;
	}
	/*
	 * Any start value below t_ms gives the same answer, since only records reaching t_ms
	 * end the walk: the entry's own running max is one (the exact one before it is unknown).
	 */
	*max_ms = idx->ent[lo - 1].max_ms;
	return idx->ent[lo - 1].off;
}

int
sp_seg_find_seq(const uint8_t *buf, uint64_t buf_off, size_t len, uint64_t from_off, sp_u128 seq,
		uint64_t *off)
{
	struct sp_seg_rec r;
	uint64_t o = from_off;
	long n;

	SP_VERIFY(from_off >= buf_off && from_off - buf_off <= len);
	while (o < buf_off + len) {
		n = sp_seg_frame_decode(buf + (o - buf_off), (size_t)(buf_off + len - o), &r);
		if (n <= 0) {
			return -EBADMSG;
		}
		if (r.seq >= seq) {
			*off = o;
			return 0;
		}
		o += (uint64_t)n;
	}
	return -ENOENT;
}

int
sp_seg_find_time(const uint8_t *buf, uint64_t buf_off, size_t len, uint64_t from_off,
		 uint64_t max_ms, uint64_t t_ms, uint64_t *off)
{
	struct sp_seg_rec r;
	uint64_t o = from_off;
	long n;

	SP_VERIFY(from_off >= buf_off && from_off - buf_off <= len);
	while (o < buf_off + len) {
		n = sp_seg_frame_decode(buf + (o - buf_off), (size_t)(buf_off + len - o), &r);
		if (n <= 0) {
			return -EBADMSG;
		}
		if (r.arrival_ms > max_ms) {
			max_ms = r.arrival_ms;
		}
		if (max_ms >= t_ms) {
			*off = o;
			return 0;
		}
		o += (uint64_t)n;
	}
	return -ENOENT;
}

/* --- scanner ---------------------------------------------------------------------------- */

void
sp_seg_scan_init(struct sp_seg_scan *s, const struct sp_seg_hdr *h, struct sp_seg_index *idx,
		 sp_seg_visit_fn visit, void *arg)
{
	memset(s, 0, sizeof(*s));
	s->hdr = *h;
	s->idx = idx;
	s->visit = visit;
	s->visit_arg = arg;
	s->next_off = h->block_size;
}

/* Why r may not follow the records before it, or SP_SEG_OK. */
static enum sp_seg_why
seg_check_order(const struct sp_seg_scan *s, const struct sp_seg_rec *r)
{
	if (((uint64_t)r->seq & SEG_ID_MASK) != seg_id(s->hdr.stream_tag, s->hdr.shard_index)) {
		return SP_SEG_WHY_IDENTITY;
	}
	if ((r->tag != NULL) != ((s->hdr.flags & SP_SEG_F_SEALED) != 0)) {
		return SP_SEG_WHY_SEALING;
	}
	if (r->seq < s->hdr.first_seq || (s->any && r->seq <= s->last_seq)) {
		return SP_SEG_WHY_SEQ;
	}
	if (seg_time_back(r->arrival_ms, s->max_ms)) {
		return SP_SEG_WHY_TIME;
	}
	return SP_SEG_OK;
}

static bool
seg_all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != 0) {
			return false;
		}
	}
	return true;
}

/*
 * The frame at p (n bytes to the end of the range) is bad: torn or corrupt? Corrupt when the
 * bad frame's own length leads to a frame that verifies and would follow in order — evidence
 * of valid data after the damage. Only a hint for logs and counters; the cut is the same.
 */
static enum sp_seg_stop
seg_classify(const struct sp_seg_scan *s, const uint8_t *p, size_t n)
{
	struct sp_seg_rec r;
	uint32_t flen = sp_le_ld32(p + SEG_F_LEN);
	long m;

	if (n < SP_SEG_FRAME_FIXED || flen < SP_SEG_FRAME_FIXED || flen >= n) {
		return SP_SEG_STOP_TORN;
	}
	m = sp_seg_frame_decode(p + flen, n - flen, &r);
	if (m > 0 && seg_check_order(s, &r) == SP_SEG_OK) {
		return SP_SEG_STOP_CORRUPT;
	}
	return SP_SEG_STOP_TORN;
}

static bool
seg_stop_at(struct sp_seg_scan *s, const uint8_t *p, size_t n, long rc, bool final)
{
	if (rc == 0) {
		/* too short for the frame: wait for more, or the tail was torn */
		if (n >= 4 && sp_le_ld32(p) == 0) {
			goto zero;
		}
		if (!final) {
			return false;
		}
		s->stop = n == 0 ? SP_SEG_STOP_CLEAN : SP_SEG_STOP_TORN;
		s->why = n == 0 ? SP_SEG_OK : SP_SEG_WHY_SHORT;
		return true;
	}
	if (sp_le_ld32(p) == 0) {
		goto zero;
	}
	s->why = rc == -EBADMSG ? SP_SEG_WHY_CRC : SP_SEG_WHY_LENGTH;
	s->stop = seg_classify(s, p, n);
	return true;
zero:
	/* zero fill ends the log; anything non-zero after it is a torn write */
	if (!final && !seg_all_zero(p, n)) {
		s->stop = SP_SEG_STOP_TORN;
		s->why = SP_SEG_WHY_ZERO_DIRTY;
		return true;
	}
	if (!final) {
		return false;
	}
	s->stop = seg_all_zero(p, n) ? SP_SEG_STOP_CLEAN : SP_SEG_STOP_TORN;
	s->why = s->stop == SP_SEG_STOP_CLEAN ? SP_SEG_OK : SP_SEG_WHY_ZERO_DIRTY;
	return true;
}

long
sp_seg_scan(struct sp_seg_scan *s, const uint8_t *buf, uint64_t buf_off, size_t len, bool final)
{
	struct sp_seg_rec r;
	long walked = 0, rc;

	SP_VERIFY(s->next_off >= buf_off && s->next_off - buf_off <= len);
	while (s->stop == SP_SEG_STOP_NONE) {
		size_t at = (size_t)(s->next_off - buf_off), n = len - at;
		const uint8_t *p = buf + at;
		enum sp_seg_why why;

		rc = n == 0 ? 0 : sp_seg_frame_decode(p, n, &r);
		if (rc <= 0) {
			if (!seg_stop_at(s, p, n, rc, final)) {
				break;
			}
			continue;
		}
		why = seg_check_order(s, &r);
		if (why != SP_SEG_OK) {
			s->why = why;
			s->stop = seg_classify(s, p, n);
			break;
		}
		if (s->visit != NULL) {
			int v = s->visit(s->visit_arg, &r, s->next_off);

			if (v != 0) {
				return v;
			}
		}
		s->max_ms = r.arrival_ms > s->max_ms ? r.arrival_ms : s->max_ms;
		if (s->idx != NULL) {
			sp_seg_index_add(s->idx, r.seq, s->max_ms, s->next_off);
		}
		s->last_seq = r.seq;
		s->any = true;
		s->records++;
		s->next_off += (uint64_t)rc;
		walked++;
	}
	return walked;
}

int
sp_seg_scan_all(struct sp_seg_scan *s, const uint8_t *buf, size_t len, struct sp_seg_index *idx,
		sp_seg_visit_fn visit, void *arg)
{
	struct sp_seg_hdr h;
	int rc = sp_seg_hdr_decode(buf, len, &h);

	if (rc != 0) {
		return rc;
	}
	if (len < h.block_size) {
		return -EMSGSIZE;
	}
	sp_seg_scan_init(s, &h, idx, visit, arg);
	(void)sp_seg_scan(s, buf, 0, len, true);
	return 0;
}
