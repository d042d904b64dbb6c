/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The API's request/response buffers and their lending to TCP as external-buffer mbufs
 * (api_buf.h has the contract, docs/internals/zerocopy.md the design). Owned by one worker;
 * created and destroyed by the main lcore.
 *
 * Invariants: a buffer is on its free stack exactly when its refcount is 0; an owner holds
 * one reference; every attached mbuf (and every clone TCP makes of one) holds one more; the
 * free callback runs on the worker's lcore, or anywhere once the worker has stopped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include <spate/assert.h>

#include "api_buf.h"

static void
buf_push_free(struct sp_api_bufpool *bp, struct sp_api_bufrec *r)
{
	uint32_t id = (uint32_t)(r - bp->recs);

	SP_VERIFY(!r->held && !r->on_free && rte_mbuf_ext_refcnt_read(&r->shinfo) == 0);
	r->on_free = true;
	if (r->big) {
		bp->big_free[bp->nbig_free++] = id;
	} else {
		bp->small_free[bp->nsmall_free++] = id;
	}
	SP_VERIFY(bp->nbig_free + bp->nsmall_free <= bp->nrecs);
}

static void
buf_free_memory(struct sp_api_bufpool *bp)
{
	for (uint32_t i = 0; i < bp->nrecs; i++) {
		if (bp->huge) {
			rte_free(bp->recs[i].p);
			free(bp->recs[i].pages);
		} else {
			free(bp->recs[i].p);
		}
	}
	free(bp->recs);
	free(bp->small_free);
	free(bp->big_free);
	free(bp);
}

/* The last mbuf referencing a buffer its owner had put back was freed. */
static void
buf_release_cb(void *addr, void *opaque)
{
	struct sp_api_bufrec *r = opaque;
	struct sp_api_bufpool *bp = r->pool;

	(void)addr;
	/* TCP's acks and the tx queue are the worker's: nobody else may free its mbufs */
	SP_VERIFY(rte_lcore_id() == bp->lcore || bp->stopped);
	SP_VERIFY(!r->held && !r->on_free);
	if (bp->dead) {
		SP_VERIFY(bp->outstanding > 0);
		if (--bp->outstanding == 0) {
			buf_free_memory(bp);
		}
		return;
	}
	SP_VERIFY(bp->waiting > 0);
	bp->waiting--;
	buf_push_free(bp, r);
}

/*
 * A hugepage buffer's IO addresses, page by page: an rte_malloc'd range is contiguous in
 * virtual memory only, so a piece lent to a NIC must not cross a page (sp_api_bufpool_lend).
 */
static int
buf_map_pages(struct sp_api_bufrec *r)
{
	const struct rte_memseg_list *msl = rte_mem_virt2memseg_list(r->p);
	uint64_t n;

	if (msl == NULL || msl->page_sz == 0) {
		return -EINVAL;
	}
	r->page_bytes = msl->page_sz;
	r->page_base = RTE_ALIGN_FLOOR((uintptr_t)r->p, r->page_bytes);
	n = ((uintptr_t)r->p + r->cap - r->page_base + r->page_bytes - 1) / r->page_bytes;
	r->pages = calloc(n, sizeof(*r->pages));
	if (r->pages == NULL) {
		return -ENOMEM;
	}
	for (uint64_t i = 0; i < n; i++) {
		r->pages[i] = rte_mem_virt2iova((void *)(r->page_base + i * r->page_bytes));
		if (r->pages[i] == RTE_BAD_IOVA) {
			return -EINVAL;
		}
	}
	r->iova = r->pages[0] + ((uintptr_t)r->p - r->page_base);
	return 0;
}

int
sp_api_bufpool_create(struct sp_api_bufpool **out, uint32_t nsmall, uint32_t small_bytes,
		      uint32_t nbig, uint32_t big_bytes, unsigned lcore, int socket)
{
	struct sp_api_bufpool *bp = calloc(1, sizeof(*bp));
	bool va = rte_eal_iova_mode() == RTE_IOVA_VA;
	uint32_t total = nsmall + nbig;

	*out = bp;
	if (bp == NULL) {
		return -ENOMEM;
	}
	bp->lcore = lcore;
	bp->huge = socket >= 0;
	bp->nsmall = nsmall;
	bp->recs = calloc(total, sizeof(*bp->recs));
	bp->small_free = calloc(nsmall > 0 ? nsmall : 1, sizeof(uint32_t));
	bp->big_free = calloc(nbig > 0 ? nbig : 1, sizeof(uint32_t));
	if (bp->recs == NULL || bp->small_free == NULL || bp->big_free == NULL) {
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < total; i++) {
		struct sp_api_bufrec *r = &bp->recs[i];

		r->big = i >= nsmall;
		r->cap = r->big ? big_bytes : small_bytes;
		if (bp->huge) {
			r->p = rte_malloc_socket("api_buf", r->cap, RTE_CACHE_LINE_SIZE, socket);
			if (r->p == NULL) {
				return -ENOMEM;
			}
			if (buf_map_pages(r) != 0) {
				return -ENOMEM;
			}
		} else {
			r->p = malloc(r->cap);
			if (r->p == NULL) {
				return -ENOMEM;
			}
			/* heap: an IO address only where IOVA is the virtual one (zerocopy.md) */
			r->iova = va ? (rte_iova_t)(uintptr_t)r->p : RTE_BAD_IOVA;
		}
		r->pool = bp;
		r->shinfo.free_cb = buf_release_cb;
		r->shinfo.fcb_opaque = r;
		rte_mbuf_ext_refcnt_set(&r->shinfo, 0);
		bp->nrecs++;
		buf_push_free(bp, r);
	}
	return 0;
}

void
sp_api_bufpool_stop(struct sp_api_bufpool *bp)
{
	if (bp != NULL) {
		__atomic_store_n(&bp->stopped, true, __ATOMIC_RELEASE);
	}
}

void
sp_api_bufpool_destroy(struct sp_api_bufpool *bp)
{
	if (bp == NULL) {
		return;
	}
	bp->stopped = true;
	bp->dead = true;
	for (uint32_t i = 0; i < bp->nrecs; i++) {
		struct sp_api_bufrec *r = &bp->recs[i];

		if (r->held) {
			r->held = false; /* its exchange is gone with the worker */
			if (rte_mbuf_ext_refcnt_update(&r->shinfo, -1) == 0) {
				continue;
			}
		} else if (r->on_free || rte_mbuf_ext_refcnt_read(&r->shinfo) == 0) {
			continue;
		}
		bp->outstanding++; /* mbufs still out (a tx queue not flushed yet) */
	}
	if (bp->outstanding == 0) {
		buf_free_memory(bp);
	}
}

bool
sp_api_bufpool_get(struct sp_api_bufpool *bp, bool big, struct sp_api_buf *out)
{
	struct sp_api_bufrec *r;
	uint32_t id;

	if (big) {
		if (bp->nbig_free == 0) {
			return false;
		}
		id = bp->big_free[--bp->nbig_free];
	} else {
		if (bp->nsmall_free == 0) {
			return false;
		}
		id = bp->small_free[--bp->nsmall_free];
	}
	r = &bp->recs[id];
	SP_VERIFY(r->on_free && !r->held && r->big == big &&
		  rte_mbuf_ext_refcnt_read(&r->shinfo) == 0);
	r->on_free = false;
	r->held = true;
	rte_mbuf_ext_refcnt_set(&r->shinfo, 1); /* the owner's reference */
	*out = (struct sp_api_buf){.p = r->p, .cap = r->cap, .big = big, .id = id};
	return true;
}

void
sp_api_bufpool_put(struct sp_api_bufpool *bp, struct sp_api_buf *b)
{
	struct sp_api_bufrec *r;

	if (b->p == NULL) {
		return;
	}
	SP_VERIFY(b->id < bp->nrecs);
	r = &bp->recs[b->id];
	SP_VERIFY(r->held && r->p == b->p && rte_mbuf_ext_refcnt_read(&r->shinfo) >= 1);
	r->held = false;
	b->p = NULL;
	b->cap = 0;
	if (rte_mbuf_ext_refcnt_update(&r->shinfo, -1) == 0) {
		buf_push_free(bp, r);
	} else {
		bp->waiting++; /* back to the free stack from the last mbuf's free callback */
	}
}

bool
sp_api_bufpool_lent(const struct sp_api_bufpool *bp, const struct sp_api_buf *b)
{
	const struct sp_api_bufrec *r;

	if (b->p == NULL) {
		return false;
	}
	SP_VERIFY(b->id < bp->nrecs);
	r = &bp->recs[b->id];
	SP_VERIFY(r->held && r->p == b->p);
	return rte_mbuf_ext_refcnt_read(&r->shinfo) > 1;
}

struct rte_mbuf *
sp_api_bufpool_lend(struct sp_api_bufpool *bp, const struct sp_api_buf *b, struct rte_mempool *mp,
		    const char *src, uint32_t len)
{
	struct sp_api_bufrec *r = &bp->recs[b->id];
	struct rte_mbuf *head = NULL, *tail = NULL;
	uint32_t done = 0;

	SP_VERIFY(b->id < bp->nrecs && r->held && r->p == b->p && sp_api_buf_holds(b, src, len));
	/* pieces: len / PIECE + 1, and one more at each hugepage boundary crossed */
	SP_VERIFY(rte_mbuf_ext_refcnt_read(&r->shinfo) + len / SP_API_BUF_PIECE_BYTES + 2 +
		      (r->pages != NULL ? len / r->page_bytes + 1 : 0) <
		  SP_API_BUF_REFS_MAX);
	while (done < len) {
		uint32_t n = RTE_MIN(SP_API_BUF_PIECE_BYTES, len - done);
		uint64_t off = (uint64_t)(src + done - r->p);
		rte_iova_t io = r->iova == RTE_BAD_IOVA ? RTE_BAD_IOVA : r->iova + off;
		struct rte_mbuf *m;

		if (r->pages != NULL) {
			/* hugepages: a piece within one page, at that page's IO address */
			uintptr_t a = (uintptr_t)r->p + off;
			uint64_t pg = (a - r->page_base) / r->page_bytes;
			uint64_t in_page = a - r->page_base - pg * r->page_bytes;

			n = (uint32_t)RTE_MIN((uint64_t)n, r->page_bytes - in_page);
			io = r->pages[pg] + in_page;
		}
		m = rte_pktmbuf_alloc(mp);
		if (m == NULL) {
			bp->lend_fail++;
			rte_pktmbuf_free(head); /* drops the references taken so far */
			return NULL;
		}
		rte_mbuf_ext_refcnt_update(&r->shinfo, 1);
		rte_pktmbuf_attach_extbuf(m, r->p + off, io, (uint16_t)n, &r->shinfo);
		m->data_len = (uint16_t)n;
		m->pkt_len = n;
		if (head == NULL) {
			head = m;
		} else {
			tail->next = m;
			head->nb_segs++;
			head->pkt_len += n;
		}
		tail = m;
		done += n;
		bp->lent_mbufs++;
	}
	return head;
}
