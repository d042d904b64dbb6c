/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A seeded impairment stage in the packet I/O seam, for tests on a faulty link (the kernel
 * here has no netem): it wraps another sp_pktio and, in both directions, drops, duplicates,
 * holds back (reorders), corrupts and delays frames with configured probabilities. One per
 * worker, on the worker; off unless a fault_* key is set.
 */
#ifndef SP_PKTIO_FAULT_H
#define SP_PKTIO_FAULT_H

#include <stdint.h>

#include <spate/compiler.h>

#include "clock.h"
#include "counters.h"
#include "pktio.h"

struct rte_mempool;

struct sp_fault_conf {
	uint32_t loss_ppm;
	uint32_t dup_ppm;
	uint32_t reorder_ppm;
	uint32_t corrupt_ppm;
	uint32_t delay_us;
	uint32_t jitter_us;
	uint64_t seed;
};

struct sp_pktio_fault;

/* True if any impairment is configured. */
static inline bool
sp_fault_active(const struct sp_fault_conf *c)
{
	return c->loss_ppm | c->dup_ppm | c->reorder_ppm | c->corrupt_ppm | c->delay_us |
	       c->jitter_us;
}

/*
 * Wrap `inner` (boot time). Frames are duplicated into `pool`; impairments are counted in
 * `cnt` (the worker's counters). Returns 0 or -ENOMEM; *io is the pktio to use instead.
 */
SP_MUST_CHECK int sp_pktio_fault_create(struct sp_pktio_fault **out, struct sp_pktio *io,
					struct sp_pktio inner, const struct sp_clock *clk,
					struct rte_mempool *pool, struct sp_counters *cnt,
					const struct sp_fault_conf *conf, int socket);
/* Free every frame still held and the stage itself. */
void sp_pktio_fault_destroy(struct sp_pktio_fault *f);

#endif /* SP_PKTIO_FAULT_H */
