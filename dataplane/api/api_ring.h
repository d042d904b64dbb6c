/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shard rings in hugepage memory (main lcore): one memzone per shard, laid out by
 * dataplane/shard/ for the shard's sequence-number identity. Memory ack mode: a full ring
 * refuses writes (ProvisionedThroughputExceededException), it never overwrites.
 */
#ifndef SP_API_RING_H
#define SP_API_RING_H

#include <stdint.h>

#include <spate/compiler.h>

#include "api_cat.h"

struct rte_memzone;
struct sp_api_global;
struct sp_shard_ring;

/*
 * Reserve and lay out the ring of shard sh of stream st (name seq: a unique number for the
 * memzone's name). Returns 0 or a negative errno (logged, counted by the caller).
 */
SP_MUST_CHECK int sp_api_ring_make(struct sp_api_global *g, const struct sp_api_stream *st,
				   const struct sp_api_shard *sh, uint64_t seq,
				   const struct rte_memzone **mz, struct sp_shard_ring **ring);
void sp_api_ring_free(const struct rte_memzone *mz, struct sp_shard_ring *ring);

#endif /* SP_API_RING_H */
