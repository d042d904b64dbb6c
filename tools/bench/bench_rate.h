/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The clock and the checksum-rate loop the CRC benchmarks share (bench_crc32c, bench_evstream):
 * programs, never tests.
 */
#ifndef SP_BENCH_RATE_H
#define SP_BENCH_RATE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* A checksum in zlib's shape: the running value, then the bytes. */
typedef uint32_t (*bench_crc_fn)(uint32_t, const void *, size_t);

/* Seconds on the monotonic clock. */
static inline double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * Best GB/s of fn over len-byte buffers: reps runs of about ms_per_run milliseconds each, 64
 * calls between clock reads; the last value goes to *sink so the calls stay.
 */
static inline double
bench_crc_gbps(bench_crc_fn fn, const uint8_t *buf, size_t len, unsigned reps,
	       double ms_per_run, volatile uint32_t *sink)
{
	double best = 0;

	for (unsigned rep = 0; rep < reps; rep++) {
		double t0 = bench_now(), t;
		uint64_t bytes = 0;
		uint32_t c = 0;

		do {
			for (unsigned i = 0; i < 64; i++) {
				c = fn(c, buf, len);
			}
			bytes += 64u * len;
			t = bench_now() - t0;
		} while (t * 1e3 < ms_per_run);
		*sink = c;
		if (bytes / t / 1e9 > best) {
			best = bytes / t / 1e9;
		}
	}
	return best;
}

#endif /* SP_BENCH_RATE_H */
