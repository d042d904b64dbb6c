/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for receive-chain compaction (dataplane/core/mbuf_compact.c): which chains are
 * sparse, the bytes after compaction (from an offset into the first segment), the segment
 * count, all-or-nothing on a short pool, and no mbuf leaked. Runs EAL --no-huge.
 */
#include <errno.h>
#include <string.h>

#include <rte_mbuf.h>

#include "../sp_test.h"

#include "core/mbuf_compact.h"

static struct rte_mempool *g_pool;

/* A chain of n segments, segment i holding (i % 3) + 1 bytes of a running counter. */
static struct rte_mbuf *
tiny_chain(unsigned n, uint32_t *len)
{
	struct rte_mbuf *head = NULL;
	uint8_t v = 0;

	*len = 0;
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(g_pool);
		uint16_t k = (uint16_t)(i % 3 + 1);
		uint8_t *p;

		assert_non_null(m);
		p = (uint8_t *)rte_pktmbuf_append(m, k);
		for (uint16_t j = 0; j < k; j++) {
			p[j] = v++;
		}
		*len += k;
		if (head == NULL) {
			head = m;
		} else {
			assert_int_equal(rte_pktmbuf_chain(head, m), 0);
		}
	}
	return head;
}

static void
test_sparse(void **state)
{
	uint32_t len;
	struct rte_mbuf *m = tiny_chain(SP_MBUF_SPARSE_SEGS - 1, &len);

	(void)state;
	assert_false(sp_mbuf_chain_sparse(m)); /* short chains are never worth it */
	rte_pktmbuf_free(m);
	m = tiny_chain(SP_MBUF_SPARSE_SEGS, &len);
	assert_true(sp_mbuf_chain_sparse(m));
	rte_pktmbuf_free(m);
	/* full segments are not sparse however many */
	m = NULL;
	for (unsigned i = 0; i < SP_MBUF_SPARSE_SEGS; i++) {
		struct rte_mbuf *s = rte_pktmbuf_alloc(g_pool);

		memset(rte_pktmbuf_append(s, 1000), 1, 1000);
		if (m == NULL) {
			m = s;
		} else {
			assert_int_equal(rte_pktmbuf_chain(m, s), 0);
		}
	}
	assert_false(sp_mbuf_chain_sparse(m));
	rte_pktmbuf_free(m);
	assert_int_equal(rte_mempool_in_use_count(g_pool), 0);
}

static void
test_compact_bytes_and_count(void **state)
{
	uint32_t len, room = rte_pktmbuf_data_room_size(g_pool) - RTE_PKTMBUF_HEADROOM;
	struct rte_mbuf *m = tiny_chain(3000, &len);
	const uint8_t *p;
	uint8_t buf[8192];
	uint32_t off = 1; /* the application already parsed one byte of the first segment */

	(void)state;
	assert_int_equal(sp_mbuf_chain_compact(&m, off, g_pool), 0);
	assert_int_equal(m->pkt_len, len - off);
	assert_int_equal(m->nb_segs, (len - off + room - 1) / room);
	assert_int_equal(rte_mbuf_check(m, 1, NULL), 0);
	assert_true(m->pkt_len <= sizeof(buf));
	p = rte_pktmbuf_read(m, 0, m->pkt_len, buf);
	for (uint32_t i = 0; i < m->pkt_len; i++) {
		assert_int_equal(p[i], (uint8_t)(i + off));
	}
	rte_pktmbuf_free(m);
	assert_int_equal(rte_mempool_in_use_count(g_pool), 0);
}

static void
test_short_pool_leaves_the_chain(void **state)
{
	struct rte_mempool *small =
	    rte_pktmbuf_pool_create("mc_small", 4, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	uint32_t len;
	struct rte_mbuf *m = tiny_chain(6000, &len), *orig = m;

	(void)state;
	assert_non_null(small);
	/* 12000 bytes need 7 mbufs of the small pool, which has 4 */
	assert_int_equal(sp_mbuf_chain_compact(&m, 0, small), -ENOMEM);
	assert_ptr_equal(m, orig);
	assert_int_equal(m->nb_segs, 6000);
	assert_int_equal(rte_mempool_in_use_count(small), 0);
	rte_pktmbuf_free(m);
	rte_mempool_free(small);
	assert_int_equal(rte_mempool_in_use_count(g_pool), 0);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sparse),
	    cmocka_unit_test(test_compact_bytes_and_count),
	    cmocka_unit_test(test_short_pool_leaves_the_chain),
	};

	(void)argc;
	sp_test_eal_init(argv[0]);
	g_pool = rte_pktmbuf_pool_create("mc_pool", 8191, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					 SOCKET_ID_ANY);
	if (g_pool == NULL) {
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
