/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-worker counters generated from include/spate/counters.def, and per-(port, queue)
 * counters. Each struct is written by exactly one worker lcore with plain stores; the main
 * lcore reads them (aligned 64-bit loads do not tear on x86-64) and sums them for reports.
 */
#ifndef SP_COUNTERS_H
#define SP_COUNTERS_H

#include <stdint.h>

#include <spate/compiler.h>

struct sp_counters {
#define SP_COUNTER(n, doc) uint64_t n;
#include <spate/counters.def>
#undef SP_COUNTER
} SP_CACHE_ALIGNED;

/* Traffic of one rx/tx queue pair, counted by the worker that owns it. */
struct sp_queue_counters {
	uint64_t rx_pkts;
	uint64_t rx_bytes;
	uint64_t tx_pkts;
	uint64_t tx_bytes;
	uint64_t tx_drops;
};

enum sp_counter_id {
#define SP_COUNTER(n, doc) SP_CNT_##n,
#include <spate/counters.def>
#undef SP_COUNTER
	SP_CNT__COUNT,
};

/* Name and doc line of counter i (i < SP_CNT__COUNT). */
const char *sp_counter_name(unsigned i);
const char *sp_counter_doc(unsigned i);

/* Value of counter i in c, by index (for generic summing and reporting). */
uint64_t sp_counter_get(const struct sp_counters *c, unsigned i);

/* dst += src, counter by counter. */
void sp_counters_add(struct sp_counters *dst, const struct sp_counters *src);

#endif /* SP_COUNTERS_H */
