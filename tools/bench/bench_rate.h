/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Clocks and timing loops the benchmarks share: the checksum-rate loop (bench_crc32c,
 * bench_evstream) and the best-ns-per-call loop (bench_json, bench_cbor). Programs, never
 * tests.
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

/* The calling thread's CPU time in nanoseconds (a system call: read it every few calls). */
static inline double
bench_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/*
 * Best ns per call of fn(arg) over reps runs of about ms milliseconds of CPU time each, the
 * clock read every batch calls.
 */
static inline double
bench_best_ns(void (*fn)(unsigned), unsigned arg, unsigned reps, unsigned batch, double ms)
{
	double best = 1e30;

	for (unsigned r = 0; r < reps; r++) {
		double t0 = bench_cpu_ns(), t1;
		unsigned calls = 0;

		do {
			for (unsigned b = 0; b < batch; b++) {
				fn(arg);
			}
			calls += batch;
			t1 = bench_cpu_ns();
		} while (t1 - t0 < ms * 1e6);
		if ((t1 - t0) / calls < best) {
			best = (t1 - t0) / calls;
		}
	}
	return best;
}

#endif /* SP_BENCH_RATE_H */
