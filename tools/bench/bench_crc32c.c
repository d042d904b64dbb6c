/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_crc32c: CRC32C kernels (SSE4.2, table) against zlib's crc32 (another polynomial,
 * there only as a speed reference) at 64 B, 1 KiB, 64 KiB and 1 MiB, in GB/s with ratios to
 * the table kernel; then the segment encoder (append + flush ranges + compact) and the
 * scanner (verifying, with a sparse index) in MB/s and records/s for 100-byte and 10 KiB
 * records. Each cell is the best of BENCH_REPS runs of about MS_PER_RUN milliseconds. The
 * encoder's time includes copying each flushed range into an in-memory image (as a stand-in
 * for the write), which the scanner then reads.
 *
 *   bench_crc32c [MS_PER_RUN]        (default 100)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "bench_rate.h"
#include "crc32c.h"
#include "segment.h"

#define BENCH_REPS  3u
#define BENCH_BLOCK 4096u
#define BENCH_BUF   (64u << 20)  /* encoder buffer; compacted when full */
#define BENCH_SEG   (256u << 20) /* bytes of records in the scanned segment image, at most */
#define BENCH_IDX   1024u

static double g_ms_per_run = 100.0;
static volatile uint32_t g_sink;

static uint32_t
bench_zlib(uint32_t crc, const void *p, size_t n)
{
	return (uint32_t)crc32(crc, p, (uInt)n);
}

/* Best GB/s of fn over len-byte buffers (bench_rate.h). */
static double
bench_crc(bench_crc_fn fn, const uint8_t *buf, size_t len)
{
	return bench_crc_gbps(fn, buf, len, BENCH_REPS, g_ms_per_run, &g_sink);
}

static void
bench_crc_table(const uint8_t *buf)
{
	static const size_t sizes[] = {64, 1024, 64 * 1024, 1024 * 1024};

	printf("CRC32C, GB/s (best of %u runs of %.0f ms)\n", BENCH_REPS, g_ms_per_run);
	printf("%10s %10s %10s %10s %12s %12s\n", "bytes", "table", "sse4.2", "zlib", "sse/table",
	       "sse/zlib");
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		double sw = bench_crc(sp_crc32c_sw, buf, sizes[i]);
		double z = bench_crc(bench_zlib, buf, sizes[i]);
		double hw = sp_crc32c_hw_available() ? bench_crc(sp_crc32c_hw, buf, sizes[i]) : 0;

		printf("%10zu %10.2f %10.2f %10.2f %12.2f %12.2f\n", sizes[i], sw, hw, z, hw / sw,
		       hw / z);
	}
}

/* Encode records of data_len bytes for about g_ms_per_run; returns seconds, fills counts. */
static double
bench_encode_once(uint8_t *wbuf, const uint8_t *data, uint32_t data_len, uint8_t *img,
		  size_t img_cap, uint64_t *recs, size_t *img_len)
{
	struct sp_seg_hdr h = {.block_size = BENCH_BLOCK,
			       .shard_index = 1,
			       .stream_tag = 2,
			       .first_seq = (sp_u128)2 << 32 | 1,
			       .created_ms = 1};
	struct sp_seg_rec r = {.seq = h.first_seq,
			       .arrival_ms = 1700000000000ull,
			       .key = (const uint8_t *)"partition-key-0001",
			       .key_len = 18,
			       .data = data,
			       .data_len = data_len};
	struct sp_seg_writer w;
	double t0 = bench_now(), t;
	uint64_t off;
	size_t pos;
	uint32_t len;

	if (sp_seg_writer_init(&w, wbuf, BENCH_BUF, &h) != 0) {
		abort();
	}
	*recs = 0;
	do {
		for (unsigned i = 0; i < 256; i++) {
			r.seq += (sp_u128)1 << 52;
			r.arrival_ms += (i & 7) == 0;
			if (sp_seg_append(&w, &r) == -ENOBUFS) {
				/* "write" the range into the image while it has room */
				if (sp_seg_flush_range(&w, &off, &pos, &len) &&
				    off + len <= img_cap) {
					memcpy(img + off, wbuf + pos, len);
					*img_len = (size_t)(off + len);
				}
				sp_seg_writer_compact(&w);
				if (sp_seg_append(&w, &r) != 0) {
					abort();
				}
			}
			(*recs)++;
		}
		t = bench_now() - t0;
	} while (t * 1e3 < g_ms_per_run);
	if (sp_seg_flush_range(&w, &off, &pos, &len) && off + len <= img_cap) {
		memcpy(img + off, wbuf + pos, len);
		*img_len = (size_t)(off + len);
	}
	return t;
}

static int
bench_visit(void *arg, const struct sp_seg_rec *r, uint64_t off)
{
	(void)off;
	*(uint64_t *)arg += r->data_len;
	return 0;
}

static void
bench_codec(uint32_t data_len, uint8_t *wbuf, uint8_t *img, const uint8_t *data)
{
	struct sp_seg_index_ent ent[BENCH_IDX];
	struct sp_seg_index idx;
	struct sp_seg_scan s;
	double best_enc = 1e30, best_scan = 1e30;
	uint64_t recs = 0, enc_recs = 0, seen = 0;
	size_t img_len = 0, frame = sp_seg_frame_bytes(18, data_len);

	for (unsigned rep = 0; rep < BENCH_REPS; rep++) {
		double t = bench_encode_once(wbuf, data, data_len, img, BENCH_SEG, &recs, &img_len);

		if (t / (double)recs < best_enc) {
			best_enc = t / (double)recs;
			enc_recs = recs;
		}
	}
	for (unsigned rep = 0; rep < BENCH_REPS; rep++) {
		double t0 = bench_now(), t;

		sp_seg_index_init(&idx, ent, BENCH_IDX, 64, 1u << 20);
		if (sp_seg_scan_all(&s, img, img_len, &idx, bench_visit, &seen) != 0) {
			abort();
		}
		t = bench_now() - t0;
		if (t / (double)s.records < best_scan) {
			best_scan = t / (double)s.records;
		}
	}
	printf("%8u B %14.0f %14.2f %14.0f %14.2f   (%llu encoded, %llu scanned)\n", data_len,
	       1.0 / best_enc, (double)frame / best_enc / 1e6, 1.0 / best_scan,
	       (double)frame / best_scan / 1e6, (unsigned long long)enc_recs,
	       (unsigned long long)s.records);
	g_sink = (uint32_t)seen;
}

int
main(int argc, char **argv)
{
	uint8_t *buf = malloc(1u << 20), *wbuf = aligned_alloc(BENCH_BLOCK, BENCH_BUF);
	uint8_t *img = aligned_alloc(BENCH_BLOCK, BENCH_SEG);

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1) {
		g_ms_per_run = strtod(argv[1], NULL);
	}
	if (buf == NULL || wbuf == NULL || img == NULL || g_ms_per_run <= 0) {
		fprintf(stderr, "usage: bench_crc32c [MS_PER_RUN]\n");
		return 1;
	}
	/* fault every page in now: first touches cost more than the encoder itself in a VM */
	memset(wbuf, 0, BENCH_BUF);
	memset(img, 0, BENCH_SEG);
	for (size_t i = 0; i < (1u << 20); i++) {
		buf[i] = (uint8_t)(i * 2654435761u >> 13);
	}
	printf("sse4.2 kernel: %s\n", sp_crc32c_hw_available() ? "yes" : "not available");
	bench_crc_table(buf);
	printf("\nsegment codec (frame = 38 B + 18 B key + data; MB/s counts frame bytes)\n");
	printf("%10s %14s %14s %14s %14s\n", "data", "enc rec/s", "enc MB/s", "scan rec/s",
	       "scan MB/s");
	bench_codec(100, wbuf, img, buf);
	bench_codec(10 * 1024, wbuf, img, buf);
	free(buf);
	free(wbuf);
	free(img);
	return 0;
}
