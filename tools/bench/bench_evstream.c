/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_evstream: SubscribeToShardEvent messages (dataplane/evstream) of 100 records with
 * 100-byte and 1 KiB data, encoded from record views as the shard ring gives them (base64
 * into the payload in place, then both CRCs), in messages/s, records/s and GB/s of message
 * bytes; then CRC-32 in GB/s at 64 B, 1 KiB, 64 KiB and 1 MiB for each kernel against zlib's
 * crc32 (when built with it) in the same run, and the decoder (CRC-checking) in GB/s. Each
 * cell is the best of BENCH_REPS runs of about MS_PER_RUN milliseconds.
 *
 *   bench_evstream [MS_PER_RUN]        (default 100)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if SP_BENCH_ZLIB
#include <zlib.h>
#endif

#include "bench_rate.h"
#include "crc32.h"
#include "evstream.h"

#define BENCH_REPS    3u
#define BENCH_RECORDS 100u
#define BENCH_MSG_CAP (1u << 20)

static double g_ms_per_run = 100.0;
static volatile uint32_t g_sink;

/* One event of BENCH_RECORDS records of data_len bytes; returns its length. */
static size_t
bench_event(uint8_t *msg, const uint8_t *data, uint32_t data_len, uint64_t base)
{
	static const char *const seqs[] = {
	    "49590338271490256608559692538361571095921575989136588898",
	    "49590338271490256608559692538361571095921575989136588899"};
	struct sp_evs_sub s;
	ssize_t n;

	sp_evs_sub_begin(&s, msg, BENCH_MSG_CAP);
	for (unsigned i = 0; i < BENCH_RECORDS; i++) {
		struct sp_api_jw_record r = {
		    .seq = seqs[i & 1],
		    .seq_len = 56,
		    .arrival_ms = (int64_t)(base + i),
		    .data = data + (i * 64) % 4096,
		    .data_len = data_len,
		    .key = "partition-key-0001",
		    .key_len = 18,
		    .encryption = "NONE",
		};

		if (!sp_evs_sub_record(&s, &r)) {
			abort();
		}
	}
	n = sp_evs_sub_end(&s, seqs[1], 56, 0, NULL, 0);
	if (n <= 0) {
		abort();
	}
	return (size_t)n;
}

static void
bench_encode(uint8_t *msg, const uint8_t *data, uint32_t data_len)
{
	double best = 1e30;
	size_t len = 0;

	for (unsigned rep = 0; rep < BENCH_REPS; rep++) {
		double t0 = bench_now(), t;
		uint64_t msgs = 0;

		do {
			for (unsigned i = 0; i < 16; i++) {
				len = bench_event(msg, data, data_len, 1700000000000ull + msgs);
				msgs++;
			}
			t = bench_now() - t0;
		} while (t * 1e3 < g_ms_per_run);
		if (t / (double)msgs < best) {
			best = t / (double)msgs;
		}
	}
	printf("%8u B %10zu B %12.0f %12.0f %10.2f\n", data_len, len, 1.0 / best,
	       BENCH_RECORDS / best, (double)len / best / 1e9);
}

static void
bench_decode(uint8_t *msg, const uint8_t *data, uint32_t data_len)
{
	size_t len = bench_event(msg, data, data_len, 1700000000000ull);
	double best = 0;

	for (unsigned rep = 0; rep < BENCH_REPS; rep++) {
		double t0 = bench_now(), t;
		uint64_t bytes = 0;

		do {
			for (unsigned i = 0; i < 16; i++) {
				struct sp_evs_msg m;

				if (sp_evs_decode(msg, len, 0, &m, NULL) != (int)len) {
					abort();
				}
				bytes += len;
			}
			t = bench_now() - t0;
		} while (t * 1e3 < g_ms_per_run);
		if (bytes / t / 1e9 > best) {
			best = bytes / t / 1e9;
		}
	}
	printf("decode %u x %u B records (%zu B message): %.2f GB/s\n", BENCH_RECORDS, data_len,
	       len, best);
}

static uint32_t
bench_table(uint32_t c, const void *p, size_t n)
{
	return sp_crc32_update_with(SP_CRC32_TABLE, c, p, n);
}

static uint32_t
bench_clmul(uint32_t c, const void *p, size_t n)
{
	return sp_crc32_update_with(SP_CRC32_CLMUL, c, p, n);
}

#if SP_BENCH_ZLIB
static uint32_t
bench_zlib(uint32_t c, const void *p, size_t n)
{
	return (uint32_t)crc32(c, p, (uInt)n);
}
#endif

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
	bool clmul = sp_crc32_kernel_supported(SP_CRC32_CLMUL);

	printf("CRC-32 (IEEE), GB/s (best of %u runs of %.0f ms)\n", BENCH_REPS, g_ms_per_run);
	printf("%10s %10s %10s %10s %14s %14s\n", "bytes", "table", "clmul", "zlib", "clmul/table",
	       "clmul/zlib");
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		double tb = bench_crc(bench_table, buf, sizes[i]);
		double cl = clmul ? bench_crc(bench_clmul, buf, sizes[i]) : 0;
#if SP_BENCH_ZLIB
		double z = bench_crc(bench_zlib, buf, sizes[i]);
#else
		double z = 0;
#endif

		printf("%10zu %10.2f %10.2f %10.2f %14.2f %14.2f\n", sizes[i], tb, cl, z, cl / tb,
		       z > 0 ? cl / z : 0);
	}
}

int
main(int argc, char **argv)
{
	uint8_t *buf = malloc(1u << 20), *msg = malloc(BENCH_MSG_CAP);

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1) {
		g_ms_per_run = strtod(argv[1], NULL);
	}
	if (buf == NULL || msg == NULL || g_ms_per_run <= 0) {
		fprintf(stderr, "usage: bench_evstream [MS_PER_RUN]\n");
		return 1;
	}
	memset(msg, 0, BENCH_MSG_CAP);
	for (size_t i = 0; i < (1u << 20); i++) {
		buf[i] = (uint8_t)(i * 2654435761u >> 13);
	}
	printf("crc32 kernel in use: %s\n", sp_crc32_kernel_name(sp_crc32_kernel_active()));
	printf("SubscribeToShardEvent, %u records each (GB/s counts message bytes)\n",
	       BENCH_RECORDS);
	printf("%10s %12s %12s %12s %10s\n", "data", "message", "msgs/s", "records/s", "GB/s");
	bench_encode(msg, buf, 100);
	bench_encode(msg, buf, 1024);
	bench_decode(msg, buf, 1024);
	printf("\n");
	bench_crc_table(buf);
	free(buf);
	free(msg);
	return 0;
}
