/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the nvme/segment scanner: segment files are untrusted input after a
 * crash. Byte 0 picks the mode: odd, the rest is a whole segment (header included); even,
 * the rest is the record area behind a valid header made here (block 512, fixed stream tag
 * and shard), so mutations reach the frames without first having to fix a header CRC.
 * Checks, besides ASan/UBSan: the valid prefix lies inside the input and is what a scan in
 * random-sized chunks finds too; the records it reports, encoded again by the writer, give
 * back the prefix byte for byte; index lookups agree with a linear walk.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <spate/assert.h>

#include "segment.h"

#define FUZZ_SEG_BLOCK    512u
#define FUZZ_SEG_TAG      0x5a5a5u
#define FUZZ_SEG_SHARD    7u
#define FUZZ_SEG_MAX      (1u << 16)
#define FUZZ_SEG_RECS_MAX 4096u
#define FUZZ_SEG_IDX      8u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_seg_ctx {
	struct sp_seg_rec recs[FUZZ_SEG_RECS_MAX];
	uint64_t offs[FUZZ_SEG_RECS_MAX];
	unsigned n;
};

static struct fuzz_seg_ctx g_fuzz_seg;

static int
fuzz_seg_visit(void *arg, const struct sp_seg_rec *r, uint64_t off)
{
	struct fuzz_seg_ctx *c = arg;

	SP_VERIFY(c->n < FUZZ_SEG_RECS_MAX);
	c->recs[c->n] = *r;
	c->offs[c->n++] = off;
	return 0;
}

/* The reported records written again must give the scanned prefix byte for byte. */
static void
fuzz_seg_reencode(const uint8_t *seg, const struct sp_seg_scan *s)
{
	size_t cap = (size_t)(s->next_off + FUZZ_SEG_BLOCK) / FUZZ_SEG_BLOCK * FUZZ_SEG_BLOCK +
		     FUZZ_SEG_BLOCK;
	uint8_t *buf = aligned_alloc(FUZZ_SEG_BLOCK, cap);
	struct sp_seg_writer w;
	uint64_t off;
	size_t pos;
	uint32_t len;

	SP_VERIFY(buf != NULL);
	SP_VERIFY(sp_seg_writer_init(&w, buf, cap, &s->hdr) == 0);
	for (unsigned i = 0; i < g_fuzz_seg.n; i++) {
		SP_VERIFY(sp_seg_writer_end(&w) == g_fuzz_seg.offs[i]);
		SP_VERIFY(sp_seg_append(&w, &g_fuzz_seg.recs[i]) == 0);
	}
	SP_VERIFY(sp_seg_writer_end(&w) == s->next_off);
	if (sp_seg_flush_range(&w, &off, &pos, &len)) {
		SP_VERIFY(off == 0 && pos == 0 && len >= s->next_off);
	}
	/* the header block: only its first 64 bytes are defined */
	SP_VERIFY(memcmp(buf, seg, SP_SEG_HDR_BYTES) == 0);
	SP_VERIFY(memcmp(buf + s->hdr.block_size, seg + s->hdr.block_size,
			 (size_t)s->next_off - s->hdr.block_size) == 0);
	free(buf);
}

static void
fuzz_seg_chunked(const uint8_t *seg, size_t len, const struct sp_seg_scan *whole, uint8_t salt)
{
	struct sp_seg_scan s;
	uint64_t step = 1 + salt % 97;

	sp_seg_scan_init(&s, &whole->hdr, NULL, NULL, NULL);
	while (s.stop == SP_SEG_STOP_NONE) {
		uint64_t start = s.next_off;
		size_t win = (size_t)(len - start < step ? len - start : step);

		(void)sp_seg_scan(&s, seg + start, start, win, start + win == len);
		step = step * 3 + 1;
	}
	SP_VERIFY(s.records == whole->records && s.next_off == whole->next_off);
	/* torn versus corrupt may differ: a window shows less of what follows a bad frame */
	SP_VERIFY(s.why == whole->why);
	SP_VERIFY((s.stop == SP_SEG_STOP_CLEAN) == (whole->stop == SP_SEG_STOP_CLEAN));
}

static void
fuzz_seg_lookups(const uint8_t *seg, const struct sp_seg_scan *s, const struct sp_seg_index *idx)
{
	uint64_t db = s->hdr.block_size, off, max_ms, run = 0;

	for (unsigned i = 0; i < g_fuzz_seg.n; i++) {
		const struct sp_seg_rec *r = &g_fuzz_seg.recs[i];

		off = sp_seg_index_seek_seq(idx, r->seq, db);
		SP_VERIFY(sp_seg_find_seq(seg, 0, (size_t)s->next_off, off, r->seq, &off) == 0);
		SP_VERIFY(off == g_fuzz_seg.offs[i]);
		if (r->arrival_ms > run) {
			run = r->arrival_ms;
			off = sp_seg_index_seek_time(idx, run, db, &max_ms);
			SP_VERIFY(sp_seg_find_time(seg, 0, (size_t)s->next_off, off, max_ms, run,
						   &off) == 0);
			SP_VERIFY(off == g_fuzz_seg.offs[i]);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sp_seg_index_ent ent[FUZZ_SEG_IDX];
	struct sp_seg_index idx;
	struct sp_seg_scan s;
	uint8_t *seg;
	size_t len;

	if (size < 1 || size > FUZZ_SEG_MAX) {
		return 0;
	}
	if (data[0] & 1u) {
		len = size - 1;
		seg = malloc(len + 1);
		SP_VERIFY(seg != NULL);
		memcpy(seg, data + 1, len);
	} else {
		struct sp_seg_hdr h = {.block_size = FUZZ_SEG_BLOCK,
				       .shard_index = FUZZ_SEG_SHARD,
				       .stream_tag = FUZZ_SEG_TAG,
				       .first_seq = (sp_u128)FUZZ_SEG_TAG << 32 | FUZZ_SEG_SHARD,
				       .created_ms = 1};

		len = FUZZ_SEG_BLOCK + size - 1;
		seg = malloc(len);
		SP_VERIFY(seg != NULL);
		SP_VERIFY(sp_seg_hdr_encode(seg, &h) == 0);
		memcpy(seg + FUZZ_SEG_BLOCK, data + 1, size - 1);
	}
	g_fuzz_seg.n = 0;
	sp_seg_index_init(&idx, ent, FUZZ_SEG_IDX, 1 + data[0] % 4, 64);
	if (sp_seg_scan_all(&s, seg, len, &idx, fuzz_seg_visit, &g_fuzz_seg) == 0) {
		SP_VERIFY(s.stop != SP_SEG_STOP_NONE);
		SP_VERIFY(s.next_off >= s.hdr.block_size && s.next_off <= len);
		SP_VERIFY(s.records == g_fuzz_seg.n);
		SP_VERIFY((s.stop == SP_SEG_STOP_CLEAN) == (s.why == SP_SEG_OK));
		fuzz_seg_reencode(seg, &s);
		fuzz_seg_chunked(seg, len, &s, data[0]);
		fuzz_seg_lookups(seg, &s, &idx);
	}
	free(seg);
	return 0;
}
