/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Compacting a received chain. The stack delivers data zero copy, one mbuf per segment, and
 * an application that holds data it cannot parse yet keeps those mbufs. A peer sending tiny
 * segments would make a few hundred kilobytes of window cost hundreds of thousands of mbufs
 * and drain the worker's pool for every connection. An application that holds a chain calls
 * sp_mbuf_chain_sparse() on it as it grows and, when true, sp_mbuf_chain_compact(): the
 * bytes move into as few full mbufs as they need (Linux collapses its receive queue for the
 * same reason). The copy only happens on sparse chains, so a well-behaved peer never pays it.
 */
#ifndef SP_MBUF_COMPACT_H
#define SP_MBUF_COMPACT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include <spate/compiler.h>

/* A chain this long is checked for sparseness; below it, no chain is worth compacting. */
#define SP_MBUF_SPARSE_SEGS 128u
/* Sparse: fewer bytes per segment than this on average. */
#define SP_MBUF_SPARSE_BYTES 256u

static inline bool
sp_mbuf_chain_sparse(const struct rte_mbuf *m)
{
	return m->nb_segs >= SP_MBUF_SPARSE_SEGS &&
	       m->pkt_len < (uint32_t)m->nb_segs * SP_MBUF_SPARSE_BYTES;
}

/*
 * Copy the bytes of *chain from offset off on into new mbufs from pool, filled to their data
 * room, and free the old chain; *chain becomes the new one (offset 0). Returns 0, or -ENOMEM
 * when the pool is short (the old chain is then left as it was).
 */
SP_MUST_CHECK int sp_mbuf_chain_compact(struct rte_mbuf **chain, uint32_t off,
					struct rte_mempool *pool);

#endif /* SP_MBUF_COMPACT_H */
