/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to dataplane/api/: one worker's pool of request/response buffers, lent to TCP by
 * reference (docs/internals/zerocopy.md).
 *
 * Every pooled buffer carries a DPDK external-buffer shared info whose refcount counts its
 * holders: one for the exchange that owns it (taken by sp_api_bufpool_get, dropped by
 * sp_api_bufpool_put) and one per mbuf attached to it (sp_api_bufpool_lend, dropped by
 * rte_pktmbuf_free). A buffer goes back to its free stack only when the last holder lets go:
 * at sp_api_bufpool_put when no mbuf points into it, else from the free callback when TCP
 * frees the last one (its bytes acknowledged, or the connection gone). The owner writes only
 * into a buffer no mbuf references (sp_api_bufpool_lent says whether one does).
 *
 * Runs on its worker's lcore: gets, puts and lends there, and the free callback too (TCP acks
 * and the tx queue are the worker's), which SP_VERIFY checks. Once the worker's loop has ended
 * (sp_api_bufpool_stop) the main lcore may free the last mbufs (stack and port teardown);
 * sp_api_bufpool_destroy with mbufs still out leaves the memory to the last of them.
 */
#ifndef SP_API_BUF_H
#define SP_API_BUF_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include <spate/compiler.h>

/* Largest piece of a buffer one external-buffer mbuf covers (buf_len is 16 bits). */
#define SP_API_BUF_PIECE_BYTES 32768u
/* Mbufs (and TCP's clones of them) that may reference one buffer: the 16-bit refcount's room. */
#define SP_API_BUF_REFS_MAX 60000u

/* A buffer as an exchange holds it (by value; id names its record in the pool). */
struct sp_api_buf {
	char *p;
	uint32_t cap;
	bool big;
	uint32_t id;
};

/* One pooled buffer. */
struct sp_api_bufrec {
	struct rte_mbuf_ext_shared_info shinfo; /* refcnt: the owner + one per attached mbuf */
	struct sp_api_bufpool *pool;
	char *p;
	rte_iova_t iova; /* heap: RTE_BAD_IOVA unless the EAL runs IOVA as VA */
	rte_iova_t *pages; /* hugepages: each page's IO address (not contiguous in PA mode) */
	uintptr_t page_base; /* the page p lies in */
	uint64_t page_bytes;
	uint32_t cap;
	bool big;
	bool held;    /* an owner has it (between get and put) */
	bool on_free; /* on its free stack */
};

struct sp_api_bufpool {
	struct sp_api_bufrec *recs;
	uint32_t nrecs;
	uint32_t *small_free; /* stacks of record ids */
	uint32_t nsmall_free;
	uint32_t *big_free;
	uint32_t nbig_free;
	uint32_t nsmall;
	unsigned lcore;   /* the worker's lcore: the only one that may drop a reference */
	bool huge;        /* buffers from rte_malloc (hugepages), else the heap */
	bool stopped;     /* the worker's loop has ended: teardown frees from the main lcore */
	bool dead;        /* destroyed with mbufs out: the last free callback frees the memory */
	uint32_t waiting; /* buffers put back while mbufs still reference them (a gauge) */
	uint32_t outstanding; /* dead: buffers still referenced */
	uint64_t lent_mbufs;  /* external-buffer mbufs made */
	uint64_t lend_fail;   /* lends that found no mbuf */
};

/*
 * Main lcore, boot: nsmall buffers of small_bytes and nbig of big_bytes for the worker running
 * on lcore. socket < 0: heap memory (touched only when used; an IO address only when the EAL
 * runs IOVA as VA: enough for virtual devices, which read buf_addr). socket >= 0: hugepage
 * memory of that NUMA socket (rte_malloc), whose IO address a NIC can DMA from whatever the
 * IOVA mode. Returns 0 or -ENOMEM (the caller still calls destroy).
 */
SP_MUST_CHECK int sp_api_bufpool_create(struct sp_api_bufpool **out, uint32_t nsmall,
					uint32_t small_bytes, uint32_t nbig, uint32_t big_bytes,
					unsigned lcore, int socket);
/* The worker's loop has ended (called on it, last thing): teardown may free from elsewhere. */
void sp_api_bufpool_stop(struct sp_api_bufpool *bp);
/* Main lcore, shutdown: owners' references drop; memory goes now or with the last mbuf. */
void sp_api_bufpool_destroy(struct sp_api_bufpool *bp);

/* Take a free, unreferenced buffer of the class; false when none is free. */
bool sp_api_bufpool_get(struct sp_api_bufpool *bp, bool big, struct sp_api_buf *out);
/* Drop the owner's reference (b->p NULL: nothing held); b is cleared. */
void sp_api_bufpool_put(struct sp_api_bufpool *bp, struct sp_api_buf *b);
/* Whether mbufs still reference b (its bytes may be in flight: do not write into it). */
bool sp_api_bufpool_lent(const struct sp_api_bufpool *bp, const struct sp_api_buf *b);
/*
 * A chain of external-buffer mbufs (from mp, at most SP_API_BUF_PIECE_BYTES each) over the
 * len bytes at src, which must lie inside b; each holds a reference on b. NULL when mp ran
 * dry (nothing taken).
 */
struct rte_mbuf *sp_api_bufpool_lend(struct sp_api_bufpool *bp, const struct sp_api_buf *b,
				     struct rte_mempool *mp, const char *src, uint32_t len);
/* Whether [src, src + len) lies inside b (a lend may be made of it). */
static inline bool
sp_api_buf_holds(const struct sp_api_buf *b, const char *src, uint32_t len)
{
	return b->p != NULL && src >= b->p && (uint64_t)(src - b->p) + len <= b->cap;
}

#endif /* SP_API_BUF_H */
