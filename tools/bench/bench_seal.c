/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Encryption at rest, what it costs (a program, never a test): records appended through the
 * segment writer clear and sealed (AES-256-GCM in place, nvme/seal.c), and sealed records
 * opened, for several record sizes; each sealed figure as a ratio to the clear appends
 * measured in the same run. Usage: bench_seal [ms per figure, default 400].
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "seal.h"
#include "segment.h"

#define BLOCK 4096u
#define BUF   (8u << 20)

static double g_ms = 400;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A segment writer on wbuf (sealed when sealer != NULL) and the record to append to it. */
static struct sp_seg_rec
start(struct sp_seg_writer *w, uint8_t *wbuf, const uint8_t *data, uint32_t data_len,
      const struct sp_seg_sealer *sealer)
{
	struct sp_seg_hdr h = {.block_size = BLOCK,
			       .shard_index = 1,
			       .stream_tag = 2,
			       .first_seq = (sp_u128)2 << 32 | 1,
			       .created_ms = 1,
			       .flags = sealer != NULL ? SP_SEG_F_SEALED : 0u};

	if (sealer != NULL) {
		memcpy(h.key_fp, sealer->key_fp, sizeof(h.key_fp));
	}
	if (sp_seg_writer_init(w, wbuf, BUF, &h) != 0) {
		abort();
	}
	return (struct sp_seg_rec){.seq = h.first_seq,
				   .arrival_ms = 1700000000000ull,
				   .key = (const uint8_t *)"partition-key-0001",
				   .key_len = 18,
				   .data = data,
				   .data_len = data_len,
				   .sealer = sealer};
}

/* Append records of data_len bytes for g_ms (sealed when sealer != NULL); records/s. */
static double
run_append(uint8_t *wbuf, const uint8_t *data, uint32_t data_len,
	   const struct sp_seg_sealer *sealer)
{
	struct sp_seg_writer w;
	struct sp_seg_rec r = start(&w, wbuf, data, data_len, sealer);
	uint64_t n = 0;
	double t0 = now_s(), t;

	do {
		for (unsigned i = 0; i < 256; i++) {
			r.seq += (sp_u128)1 << 52;
			if (sp_seg_append(&w, &r) == -ENOBUFS) {
				uint64_t off;
				size_t pos;
				uint32_t len;

				(void)sp_seg_flush_range(&w, &off, &pos, &len);
				sp_seg_writer_compact(&w);
				if (sp_seg_append(&w, &r) != 0) {
					abort();
				}
			}
			n++;
		}
		t = now_s() - t0;
	} while (t * 1e3 < g_ms);
	return (double)n / t;
}

/* Open (decrypt and verify) one sealed frame's copy again and again; records/s. */
static double
run_open(struct sp_seal *seal, uint8_t *wbuf, const uint8_t *data, uint32_t data_len,
	 const struct sp_seg_sealer *sealer)
{
	struct sp_seg_writer w;
	struct sp_seg_rec r = start(&w, wbuf, data, data_len, sealer);
	size_t flen = sp_seg_frame_bytes_as(18, data_len, true);
	uint8_t *frame = malloc(flen), *work = malloc(flen);
	uint64_t n = 0;
	double t0, t;

	r.seq += (sp_u128)1 << 52;
	if (frame == NULL || work == NULL || sp_seg_append(&w, &r) != 0) {
		abort();
	}
	memcpy(frame, wbuf + BLOCK, flen);
	t0 = now_s();
	do {
		for (unsigned i = 0; i < 64; i++) {
			struct sp_seg_rec d;

			memcpy(work, frame, flen);
			if (sp_seg_frame_decode(work, flen, &d) != (long)flen ||
			    sp_seg_rec_open(&d, sp_seal_open, seal) != 0) {
				abort();
			}
			n++;
		}
		t = now_s() - t0;
	} while (t * 1e3 < g_ms);
	free(frame);
	free(work);
	return (double)n / t;
}

int
main(int argc, char **argv)
{
	static const uint32_t sizes[] = {100, 1024, 25600, 1048576};
	uint8_t master[SP_SEAL_KEY_BYTES] = {7}, key[SP_SEAL_KEY_BYTES];
	struct sp_seal seal;
	struct sp_seg_sealer sealer = {.seal = sp_seal_seal, .ctx = &seal};
	uint8_t *wbuf = aligned_alloc(BLOCK, BUF), *data = malloc(1048576);

	if (argc > 1) {
		g_ms = atof(argv[1]);
	}
	if (wbuf == NULL || data == NULL || sp_seal_init(&seal) != 0 ||
	    sp_seal_shard_key(master, "bench", 5, 1, 1, key) != 0 || sp_seal_key(&seal, key) != 0 ||
	    sp_seal_fingerprint(master, sealer.key_fp) != 0) {
		fprintf(stderr, "bench_seal: set-up failed\n");
		return 1;
	}
	for (uint32_t i = 0; i < 1048576; i++) {
		data[i] = (uint8_t)(i * 131u);
	}
	printf("%-9s %14s %14s %8s %14s %10s\n", "record", "clear rec/s", "sealed rec/s", "ratio",
	       "opened rec/s", "sealed GB/s");
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint32_t len = sizes[s];
		double clear = run_append(wbuf, data, len, NULL);
		double sealed = run_append(wbuf, data, len, &sealer);
		double opened = run_open(&seal, wbuf, data, len, &sealer);

		printf("%-9u %14.0f %14.0f %8.2f %14.0f %10.2f\n", len, clear, sealed,
		       sealed / clear, opened, sealed * (len + 18) / 1e9);
	}
	sp_seal_fini(&seal);
	free(wbuf);
	free(data);
	return 0;
}
