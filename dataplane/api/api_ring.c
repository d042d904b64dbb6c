/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shard-ring memory for the registry of api_main.c (main lcore, at snapshot build time).
 * A shard's ring takes shard_ring_mb of hugepage memory on the main lcore's socket; its
 * sequence numbers carry the boot epoch in force, so a ring made after a restart numbers
 * above every ring of an earlier boot (docs/internals/seqno.md).
 */
#include <errno.h>
#include <stdio.h>

#include <rte_errno.h>
#include <rte_log.h>
#include <rte_memzone.h>

#include <spate/assert.h>
#include <spate/err.h>
#include <spate/kinesis.h>

#include "../shard/shard_ring.h"
#include "api_internal.h"
#include "api_ring.h"
#include "api_store.h"

#define RTE_LOGTYPE_SPATE RTE_LOGTYPE_USER1

int
sp_api_ring_make(struct sp_api_global *g, const struct sp_api_stream *st,
		 const struct sp_api_shard *sh, uint64_t seq, const struct rte_memzone **mz,
		 struct sp_shard_ring **ring)
{
	struct sp_seqno_fields start;
	/*
	 * Numbers carry the boot epoch, or the shard's own when that is newer: spate-control
	 * starts each reshard's children in a fresh epoch, so every number of a child is above
	 * every number of its parents (SequenceNumberForOrdering holds across a reshard).
	 */
	uint32_t epoch = sp_seqno_unpack(sh->starting_seq, &start) && start.epoch > g->epoch
			     ? start.epoch
			     : g->epoch;
	struct sp_shard_ring_conf rc = {
	    .id = {.epoch = epoch,
		   .node = 0,
		   .counter = 0,
		   .stream_tag = st->tag,
		   .shard_index = sh->index},
	    .first_counter = 0,
	    .max_record_bytes = SP_K_RECORD_MAX_BYTES_LIMIT,
	    .gated = g->conf.durable,
	};
	char name[RTE_MEMZONE_NAMESIZE];
	const struct rte_memzone *z;
	size_t bytes;
	int rc2;

	snprintf(name, sizeof(name), "spr_%llu", (unsigned long long)seq);
	/* with storage, the shard's write buffer follows the ring (api_store.h) */
	bytes = g->data_dir[0] == '\0'
		    ? g->conf.shard_ring_bytes
		    : sp_api_store_wbuf_off(g->conf.shard_ring_bytes) + sp_api_store_wbuf_bytes();
	z = rte_memzone_reserve_aligned(name, bytes, g->socket, 0, SP_API_WBUF_ALIGN);
	if (z == NULL) {
		RTE_LOG(ERR, SPATE, "api: stream %s shard %u: no memory for a %u MiB ring: %s\n",
			st->name, sh->index, g->conf.shard_ring_bytes >> 20,
			rte_strerror(rte_errno));
		return -ENOMEM;
	}
	/*
	 * The ring takes records up to the 10 MiB ceiling, whatever the stream's limit is now:
	 * UpdateMaxRecordSize changes that limit (the API's check) without remaking rings. A ring
	 * too small for four such records takes the stream's own limit; raising it later then
	 * needs a larger shard_ring_mb (the ring refuses what it cannot hold, counted).
	 */
	rc2 = sp_shard_ring_init(z->addr, g->conf.shard_ring_bytes, &rc, ring);
	if (rc2 == -ENOSPC && st->max_record_bytes < rc.max_record_bytes) {
		RTE_LOG(WARNING, SPATE,
			"api: stream %s shard %u: a %u MiB ring holds records of up to %u bytes "
			"only (shard_ring_mb >= 41 for 10 MiB records)\n",
			st->name, sh->index, g->conf.shard_ring_bytes >> 20, st->max_record_bytes);
		rc.max_record_bytes = st->max_record_bytes;
		rc2 = sp_shard_ring_init(z->addr, g->conf.shard_ring_bytes, &rc, ring);
	}
	if (rc2 != 0) {
		RTE_LOG(ERR, SPATE, "api: stream %s shard %u: ring layout: %s\n", st->name,
			sh->index, sp_strerror(rc2));
		rte_memzone_free(z);
		return rc2;
	}
	SP_VERIFY(*ring != NULL);
	*mz = z;
	return 0;
}

void
sp_api_ring_free(const struct rte_memzone *mz, struct sp_shard_ring *ring)
{
	(void)ring; /* lives inside the memzone */
	if (mz != NULL) {
		SP_VERIFY(rte_memzone_free(mz) == 0);
	}
}
