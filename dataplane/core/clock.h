/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Time seam (STYLE.md §15): workers read time and sleep only through this table, so a
 * simulator can run them on virtual time. The real implementation reads the TSC and sleeps
 * with nanosleep (only the idle policy sleeps, never a worker with work to do).
 */
#ifndef SP_CLOCK_H
#define SP_CLOCK_H

#include <stdint.h>

struct sp_clock_ops {
	uint64_t (*cycles)(void *ctx);		   /* monotonic cycle counter */
	uint64_t (*hz)(void *ctx);		   /* cycles per second */
	void (*sleep_us)(void *ctx, uint64_t us); /* give the CPU away for about us */
};

struct sp_clock {
	const struct sp_clock_ops *ops;
	void *ctx;
};

/* TSC and nanosleep. */
extern const struct sp_clock_ops sp_clock_tsc_ops;

#endif /* SP_CLOCK_H */
