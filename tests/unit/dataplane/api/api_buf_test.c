/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the API's buffer pool and its lending to TCP (dataplane/api/api_buf.c): a
 * lent buffer is refused to the next taker until the last mbuf pointing into it (or a clone
 * TCP made of one) is freed, then it comes back; the mbufs cover exactly the bytes asked, in
 * pieces of at most SP_API_BUF_PIECE_BYTES; a lend on a dry mempool takes nothing; a pool
 * destroyed with mbufs out lives until the last one (ASan checks the memory). EAL --no-huge.
 */
#include <string.h>

#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_memory.h>

#include "../../sp_test.h"

#include "api/api_buf.h"

#define SMALL_BYTES 100000u
#define BIG_BYTES   300000u

static struct rte_mempool *g_pool;

/* A pool of one small and one big buffer: the second taker of a class finds none. */
static struct sp_api_bufpool *
pool_one_each(void)
{
	struct sp_api_bufpool *bp;

	assert_int_equal(
	    sp_api_bufpool_create(&bp, 1, SMALL_BYTES, 1, BIG_BYTES, rte_lcore_id(), -1), 0);
	return bp;
}

static void
test_put_unlent_frees_at_once(void **state)
{
	struct sp_api_bufpool *bp = pool_one_each();
	struct sp_api_buf a, b;

	(void)state;
	assert_true(sp_api_bufpool_get(bp, false, &a));
	assert_int_equal(a.cap, SMALL_BYTES);
	assert_false(sp_api_bufpool_get(bp, false, &b)); /* only one small */
	assert_false(sp_api_bufpool_lent(bp, &a));
	sp_api_bufpool_put(bp, &a);
	assert_null(a.p);
	assert_int_equal(bp->waiting, 0);
	assert_true(sp_api_bufpool_get(bp, false, &b));
	sp_api_bufpool_put(bp, &b);
	sp_api_bufpool_destroy(bp);
}

static void
test_lend_covers_bytes(void **state)
{
	struct sp_api_bufpool *bp = pool_one_each();
	struct sp_api_buf b;
	struct rte_mbuf *m, *seg;
	uint32_t off = 1000, len = BIG_BYTES - 5000, at = 0;

	(void)state;
	assert_true(sp_api_bufpool_get(bp, true, &b));
	for (uint32_t i = 0; i < b.cap; i++) {
		b.p[i] = (char)(i * 7u + 3u);
	}
	m = sp_api_bufpool_lend(bp, &b, g_pool, b.p + off, len);
	assert_non_null(m);
	assert_int_equal(m->pkt_len, len);
	assert_int_equal(m->nb_segs, (len + SP_API_BUF_PIECE_BYTES - 1) / SP_API_BUF_PIECE_BYTES);
	assert_int_equal(rte_mbuf_ext_refcnt_read(m->shinfo), 1u + m->nb_segs);
	for (seg = m; seg != NULL; seg = seg->next) {
		assert_true(RTE_MBUF_HAS_EXTBUF(seg));
		assert_true(seg->data_len <= SP_API_BUF_PIECE_BYTES);
		/* the bytes are the buffer's own, not a copy */
		assert_ptr_equal(rte_pktmbuf_mtod(seg, char *), b.p + off + at);
		at += seg->data_len;
	}
	assert_int_equal(at, len);
	assert_true(sp_api_bufpool_lent(bp, &b));
	rte_pktmbuf_free(m);
	assert_false(sp_api_bufpool_lent(bp, &b)); /* the owner's reference alone */
	sp_api_bufpool_put(bp, &b);
	assert_int_equal(bp->waiting, 0);
	sp_api_bufpool_destroy(bp);
}

static void
test_reuse_refused_while_referenced(void **state)
{
	struct sp_api_bufpool *bp = pool_one_each();
	struct sp_api_buf b, again;
	struct rte_mbuf *m, *clone;
	char *p;

	(void)state;
	assert_true(sp_api_bufpool_get(bp, false, &b));
	p = b.p;
	memset(p, 'x', 4000);
	m = sp_api_bufpool_lend(bp, &b, g_pool, p, 4000);
	assert_non_null(m);
	/* TCP slices segments with indirect mbufs: a clone keeps the buffer referenced */
	clone = rte_pktmbuf_alloc(g_pool);
	assert_non_null(clone);
	rte_pktmbuf_attach(clone, m);
	sp_api_bufpool_put(bp, &b); /* the exchange is done; the bytes are not acknowledged */
	assert_int_equal(bp->waiting, 1);
	assert_false(sp_api_bufpool_get(bp, false, &again));
	rte_pktmbuf_free(m); /* acknowledged, but a retransmission clone is still out */
	assert_int_equal(bp->waiting, 1);
	assert_false(sp_api_bufpool_get(bp, false, &again));
	assert_memory_equal(rte_pktmbuf_mtod(clone, char *), "xxxx", 4);
	rte_pktmbuf_free(clone); /* the last reference: back on the free stack */
	assert_int_equal(bp->waiting, 0);
	assert_true(sp_api_bufpool_get(bp, false, &again));
	assert_ptr_equal(again.p, p);
	sp_api_bufpool_put(bp, &again);
	sp_api_bufpool_destroy(bp);
}

static void
test_dry_mempool_takes_nothing(void **state)
{
	struct rte_mempool *tiny =
	    rte_pktmbuf_pool_create("zc_tiny", 3, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	struct sp_api_bufpool *bp = pool_one_each();
	struct sp_api_buf b;

	(void)state;
	assert_non_null(tiny);
	assert_true(sp_api_bufpool_get(bp, true, &b));
	/* 8 pieces wanted, 3 mbufs in the pool */
	assert_null(sp_api_bufpool_lend(bp, &b, tiny, b.p, 8 * SP_API_BUF_PIECE_BYTES));
	assert_int_equal(bp->lend_fail, 1);
	assert_false(sp_api_bufpool_lent(bp, &b));
	assert_int_equal(rte_mempool_avail_count(tiny), 3);
	sp_api_bufpool_put(bp, &b);
	assert_int_equal(bp->waiting, 0);
	sp_api_bufpool_destroy(bp);
	rte_mempool_free(tiny);
}

static void
test_destroy_waits_for_last_mbuf(void **state)
{
	struct sp_api_bufpool *bp = pool_one_each();
	struct sp_api_buf held, lent;
	struct rte_mbuf *m1, *m2;

	(void)state;
	assert_true(sp_api_bufpool_get(bp, false, &held));
	assert_true(sp_api_bufpool_get(bp, true, &lent));
	memset(held.p, 'h', 512);
	memset(lent.p, 'l', 512);
	m1 = sp_api_bufpool_lend(bp, &held, g_pool, held.p, 512);
	m2 = sp_api_bufpool_lend(bp, &lent, g_pool, lent.p, 512);
	assert_non_null(m1);
	assert_non_null(m2);
	sp_api_bufpool_put(bp, &lent);
	/* shutdown: one buffer still held by its exchange, both still in a tx queue */
	sp_api_bufpool_stop(bp);
	sp_api_bufpool_destroy(bp);
	/* the memory is still there (ASan would report a use after free) */
	assert_memory_equal(rte_pktmbuf_mtod(m1, char *), "hhhh", 4);
	rte_pktmbuf_free(m1);
	assert_memory_equal(rte_pktmbuf_mtod(m2, char *), "llll", 4);
	rte_pktmbuf_free(m2); /* frees the pool (LeakSanitizer checks) */
}

/*
 * Hugepage buffers (what a port that DMAs gets): the pieces lent never cross a page of the
 * memory (an rte_malloc'd range is contiguous only virtually), and each piece's IO address is
 * the one DPDK's memory map gives for its first byte. Under --no-huge the pages are small, so
 * a 300 kB answer crosses dozens of them.
 */
static void
test_hugepage_pieces_stay_in_a_page(void **state)
{
	struct sp_api_bufpool *bp;
	struct sp_api_buf b;
	struct rte_mbuf *m, *seg;
	uint32_t off = 777, len = BIG_BYTES - 2000, at = 0;
	const struct rte_memseg_list *msl;

	(void)state;
	assert_int_equal(sp_api_bufpool_create(&bp, 1, SMALL_BYTES, 1, BIG_BYTES, rte_lcore_id(),
					       (int)rte_socket_id()),
			 0);
	assert_true(bp->huge);
	assert_true(sp_api_bufpool_get(bp, true, &b));
	msl = rte_mem_virt2memseg_list(b.p);
	assert_non_null(msl);
	m = sp_api_bufpool_lend(bp, &b, g_pool, b.p + off, len);
	assert_non_null(m);
	assert_int_equal(m->pkt_len, len);
	for (seg = m; seg != NULL; seg = seg->next) {
		uintptr_t a = (uintptr_t)rte_pktmbuf_mtod(seg, char *);

		assert_ptr_equal((char *)a, b.p + off + at);
		assert_true(seg->data_len <= SP_API_BUF_PIECE_BYTES);
		/* within one page, at that page's IO address */
		assert_int_equal(a / msl->page_sz, (a + seg->data_len - 1) / msl->page_sz);
		assert_true(rte_pktmbuf_iova(seg) == rte_mem_virt2iova((void *)a));
		at += seg->data_len;
	}
	assert_int_equal(at, len);
	assert_true(m->nb_segs >= (len + SP_API_BUF_PIECE_BYTES - 1) / SP_API_BUF_PIECE_BYTES);
	rte_pktmbuf_free(m);
	assert_false(sp_api_bufpool_lent(bp, &b));
	sp_api_bufpool_put(bp, &b);
	sp_api_bufpool_destroy(bp);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_put_unlent_frees_at_once),
	    cmocka_unit_test(test_lend_covers_bytes),
	    cmocka_unit_test(test_reuse_refused_while_referenced),
	    cmocka_unit_test(test_dry_mempool_takes_nothing),
	    cmocka_unit_test(test_destroy_waits_for_last_mbuf),
	    cmocka_unit_test(test_hugepage_pieces_stay_in_a_page),
	};
	int rc;

	(void)argc;
	sp_test_eal_init(argv[0]);
	g_pool = rte_pktmbuf_pool_create("zc_pool", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					 SOCKET_ID_ANY);
	if (g_pool == NULL) {
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rte_mempool_free(g_pool);
	return rc;
}
