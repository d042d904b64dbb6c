/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Real clock: rte_rdtsc for time, nanosleep for the idle policy. Any lcore may use it.
 */
#include <time.h>

#include <rte_cycles.h>

#include "clock.h"

static uint64_t
clock_tsc_cycles(void *ctx)
{
	(void)ctx;
	return rte_rdtsc();
}

static uint64_t
clock_tsc_hz(void *ctx)
{
	(void)ctx;
	return rte_get_tsc_hz();
}

static void
clock_tsc_sleep_us(void *ctx, uint64_t us)
{
	struct timespec ts = {
		.tv_sec = (time_t)(us / 1000000),
		.tv_nsec = (long)((us % 1000000) * 1000),
	};

	(void)ctx;
	nanosleep(&ts, NULL);
}

const struct sp_clock_ops sp_clock_tsc_ops = {
	.cycles = clock_tsc_cycles,
	.hz = clock_tsc_hz,
	.sleep_us = clock_tsc_sleep_us,
};
