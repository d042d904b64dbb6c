/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the TCP out-of-order queue (dataplane/tcp/tcp_reass.c): trimming of mbuf
 * chains, the overlap and window policy, bounds, SACK ordering, and a model-based randomized
 * test that streams a few hundred KB through reordering, duplication, re-cut overlaps and
 * out-of-window pieces from random ISNs (near 2^32 included) and checks the delivered stream
 * and every SACK answer against a byte-set model. Runs EAL --no-huge for mbufs; every test
 * ends with the mempool's in-use count at 0 and every pool entry returned.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "../sp_test.h"

#include "tcp/tcp_reass.h"
#include "tcp/tcp_seq.h"

#define T_NB_MBUFS 4095
#define T_POOL_ENTRIES 256
#define T_STREAM_LEN (320 * 1024)
#define T_MAX_PIECE 2048 /* bytes per mbuf segment (default data room) */
#define T_MAX_SEG 3000	 /* payload bytes per test segment */
#define T_STEPS_MAX 2000000

static struct rte_mempool *g_mp;
static uint8_t g_stream[T_STREAM_LEN];
static uint8_t g_out[T_STREAM_LEN];
static uint8_t g_held[T_STREAM_LEN]; /* model: offset received and queued, not delivered */
static uint64_t g_rng;
static uint64_t g_drop_full; /* refusals over all model runs: the limit must be exercised */

static uint32_t
rnd(void)
{
	g_rng ^= g_rng << 13;
	g_rng ^= g_rng >> 7;
	g_rng ^= g_rng << 17;
	return (uint32_t)(g_rng >> 16);
}

/* An mbuf chain holding a copy of src[0, len) cut into about `pieces` segments. */
static struct rte_mbuf *
mk_chain(const uint8_t *src, uint32_t len, unsigned pieces)
{
	struct rte_mbuf *head = NULL;
	uint32_t off = 0;

	if (pieces * T_MAX_PIECE < len) {
		pieces = (len + T_MAX_PIECE - 1) / T_MAX_PIECE;
	}
	for (unsigned i = 0; i < pieces || off < len; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(g_mp);
		uint32_t n = (i + 1 >= pieces) ? len - off : (len - off) / (pieces - i);
		char *p;

		assert_non_null(m);
		n = n > T_MAX_PIECE ? T_MAX_PIECE : n;
		p = rte_pktmbuf_append(m, (uint16_t)n);
		assert_true(p != NULL || n == 0);
		if (n > 0) {
			memcpy(p, src + off, n);
		}
		off += n;
		if (head == NULL) {
			head = m;
		} else {
			assert_int_equal(rte_pktmbuf_chain(head, m), 0);
		}
	}
	assert_int_equal(head->pkt_len, len);
	return head;
}

/* Check that chain m holds exactly want[0, len), then free it. */
static void
check_free_chain(struct rte_mbuf *m, const uint8_t *want, uint32_t len)
{
	const char *reason = NULL;
	uint32_t off = 0;

	assert_int_equal(rte_mbuf_check(m, 1, &reason), 0);
	assert_int_equal(m->pkt_len, len);
	for (struct rte_mbuf *s = m; s != NULL; s = s->next) {
		assert_true(off + s->data_len <= len);
		assert_memory_equal(rte_pktmbuf_mtod(s, const uint8_t *), want + off, s->data_len);
		off += s->data_len;
	}
	assert_int_equal(off, len);
	rte_pktmbuf_free(m);
}

static void
pool_setup(struct sp_reass_pool *p, uint32_t n)
{
	assert_int_equal(sp_reass_pool_init(p, n, SOCKET_ID_ANY), 0);
}

static void
pool_teardown(struct sp_reass_pool *p)
{
	assert_int_equal(sp_reass_pool_in_use(p), 0);
	assert_int_equal(p->st.bytes_cur, 0);
	assert_int_equal(p->st.segs_cur, 0);
	sp_reass_pool_fini(p);
	assert_int_equal(rte_mempool_in_use_count(g_mp), 0);
}

/* Insert stream bytes [off, off + len) at seq isn + off. */
static int
ins(struct sp_reass_pool *p, struct sp_reass_q *q, uint32_t isn, uint32_t off, uint32_t len,
    uint32_t rcv_nxt, uint32_t wnd)
{
	return sp_reass_insert(p, q, isn + off, mk_chain(g_stream + off, len, 1 + rnd() % 3), len,
			       rcv_nxt, rcv_nxt + wnd);
}

static void
test_pool_init_errors(void **state)
{
	struct sp_reass_pool p;

	(void)state;
	assert_int_equal(sp_reass_pool_init(&p, 0, SOCKET_ID_ANY), -EINVAL);
	assert_int_equal(sp_reass_pool_init(&p, SP_REASS_POOL_MAX_ENTRIES + 1, SOCKET_ID_ANY),
			 -EINVAL);
	pool_setup(&p, 1);
	pool_teardown(&p);
}

static void
test_basic_take(void **state)
{
	struct sp_reass_pool p;
	struct sp_reass_q q;
	struct rte_mbuf *c;
	uint32_t len;
	const uint32_t isn = 1000;

	(void)state;
	pool_setup(&p, T_POOL_ENTRIES);
	sp_reass_q_init(&q);
	assert_true(sp_reass_empty(&q));
	assert_int_equal(ins(&p, &q, isn, 300, 100, isn, 65535), 0);
	assert_int_equal(ins(&p, &q, isn, 100, 200, isn, 65535), 0); /* touches [300, 400) */
	assert_int_equal(ins(&p, &q, isn, 500, 50, isn, 65535), 0);
	assert_int_equal(sp_reass_bytes(&q), 350);
	assert_int_equal(p.st.segs_queued, 3);
	assert_int_equal(sp_reass_take(&p, &q, isn, &c, &len), 0);
	assert_null(c);
	assert_int_equal(len, 0);
	/* The caller delivers [0, 100) in order, then takes the run [100, 400). */
	assert_int_equal(sp_reass_take(&p, &q, isn + 100, &c, &len), 300);
	assert_int_equal(len, 300);
	check_free_chain(c, g_stream + 100, 300);
	assert_int_equal(sp_reass_bytes(&q), 50);
	/* In-order data [400, 520) overlaps the queued [500, 550): the rest comes out trimmed. */
	assert_int_equal(sp_reass_take(&p, &q, isn + 520, &c, &len), 30);
	check_free_chain(c, g_stream + 520, 30);
	assert_true(sp_reass_empty(&q));
	assert_int_equal(p.st.stale, 1);
	/* Entries wholly covered by in-order data are freed. */
	assert_int_equal(ins(&p, &q, isn, 600, 10, isn + 550, 65535), 0);
	assert_int_equal(sp_reass_take(&p, &q, isn + 700, &c, &len), 0);
	assert_null(c);
	assert_int_equal(p.st.stale, 2);
	assert_true(sp_reass_empty(&q));
	pool_teardown(&p);
}

/* Bytes already queued win at the newcomer's edges; covered entries are replaced. */
static void
test_overlap_policy(void **state)
{
	static uint8_t alt[1000];
	static uint8_t want[1000];
	struct sp_reass_pool p;
	struct sp_reass_q q;
	struct rte_mbuf *c;
	uint32_t len;

	(void)state;
	memset(alt, 0xee, sizeof(alt));
	pool_setup(&p, T_POOL_ENTRIES);
	sp_reass_q_init(&q);
	assert_int_equal(ins(&p, &q, 0, 100, 100, 0, 65535), 0);
	assert_int_equal(ins(&p, &q, 0, 300, 100, 0, 65535), 0);
	/* [150, 350) of other bytes: only [200, 300) is new. */
	assert_int_equal(sp_reass_insert(&p, &q, 150, mk_chain(alt, 200, 3), 200, 0, 65535), 0);
	assert_int_equal(p.st.overlap_trim, 1);
	assert_int_equal(sp_reass_bytes(&q), 300);
	/* Exact and inner duplicates are freed. */
	assert_int_equal(ins(&p, &q, 0, 100, 100, 0, 65535), 0);
	assert_int_equal(ins(&p, &q, 0, 310, 20, 0, 65535), 0);
	assert_int_equal(p.st.dup, 2);
	assert_int_equal(sp_reass_bytes(&q), 300);
	assert_int_equal(sp_reass_take(&p, &q, 100, &c, &len), 300);
	memcpy(want, g_stream + 100, 100);
	memset(want + 100, 0xee, 100);
	memcpy(want + 200, g_stream + 300, 100);
	check_free_chain(c, want, 300);

	/* A newcomer covering entries replaces them and is trimmed at both ends. */
	assert_int_equal(ins(&p, &q, 0, 1000, 100, 500, 65535), 0);
	assert_int_equal(ins(&p, &q, 0, 1200, 10, 500, 65535), 0);
	assert_int_equal(ins(&p, &q, 0, 1300, 10, 500, 65535), 0);
	assert_int_equal(ins(&p, &q, 0, 1400, 100, 500, 65535), 0);
	assert_int_equal(sp_reass_insert(&p, &q, 1050, mk_chain(alt, 400, 2), 400, 500, 65535),
			 0);
	assert_int_equal(p.st.replaced, 2);
	assert_int_equal(p.st.overlap_trim, 2);
	assert_int_equal(sp_reass_bytes(&q), 500);
	assert_int_equal(sp_reass_take(&p, &q, 1000, &c, &len), 500);
	memcpy(want, g_stream + 1000, 100);
	memset(want + 100, 0xee, 300);
	memcpy(want + 400, g_stream + 1400, 100);
	check_free_chain(c, want, 500);

	/* Spanning two touching entries is a duplicate; reaching past them replaces one. */
	assert_int_equal(ins(&p, &q, 0, 2000, 100, 1500, 65535), 0);
	assert_int_equal(ins(&p, &q, 0, 2100, 100, 1500, 65535), 0);
	assert_int_equal(ins(&p, &q, 0, 2050, 100, 1500, 65535), 0);
	assert_int_equal(p.st.dup, 3);
	assert_int_equal(ins(&p, &q, 0, 2050, 200, 1500, 65535), 0);
	assert_int_equal(p.st.replaced, 3);
	assert_int_equal(q.nb_segs, 2);
	assert_int_equal(sp_reass_bytes(&q), 250);
	assert_int_equal(sp_reass_take(&p, &q, 2000, &c, &len), 250);
	check_free_chain(c, g_stream + 2000, 250);
	pool_teardown(&p);
}

/* RFC 9293 3.10.7.4 window trimming, across the 2^32 wrap. */
static void
test_window_wrap(void **state)
{
	const uint32_t nxt = 0xffffff00u;
	struct sp_reass_pool p;
	struct sp_reass_q q;
	struct sp_sack_block b[4];
	struct rte_mbuf *c;
	uint32_t len;

	(void)state;
	pool_setup(&p, T_POOL_ENTRIES);
	sp_reass_q_init(&q);
	/* Stream offset o sits at sequence nxt + o - 1000. */
	assert_int_equal(ins(&p, &q, nxt - 1000, 1200, 3000, nxt, 1000), 0); /* [1200, 2000) */
	assert_int_equal(p.st.oow_trim, 1);
	assert_int_equal(sp_reass_bytes(&q), 800);
	assert_int_equal(ins(&p, &q, nxt - 1000, 2000, 10, nxt, 1000), 0); /* beyond: freed */
	assert_int_equal(ins(&p, &q, nxt - 1000, 10, 900, nxt, 1000), 0);  /* before: freed */
	assert_int_equal(p.st.oow_drop, 2);
	assert_int_equal(sp_reass_sack_blocks(&q, b, 4), 1);
	assert_int_equal(b[0].left, nxt + 200);
	assert_int_equal(b[0].right, nxt + 1000);
	assert_true(b[0].right < nxt && sp_seq_gt(b[0].right, b[0].left));
	/* Starts before rcv_nxt and reaches the queued bytes: trimmed at both ends. */
	assert_int_equal(ins(&p, &q, nxt - 1000, 500, 750, nxt, 1000), 0);
	assert_int_equal(p.st.oow_trim, 2);
	assert_int_equal(p.st.overlap_trim, 1);
	assert_int_equal(sp_reass_take(&p, &q, nxt, &c, &len), 1000);
	check_free_chain(c, g_stream + 1000, 1000);
	pool_teardown(&p);
}

static void
test_bounds(void **state)
{
	struct sp_reass_pool p;
	struct sp_reass_q q, q2;
	unsigned i;

	(void)state;
	pool_setup(&p, SP_REASS_MAX_SEGS_PER_CONN + 8);
	sp_reass_q_init(&q);
	sp_reass_q_init(&q2);
	for (i = 0; i < SP_REASS_MAX_SEGS_PER_CONN; i++) {
		assert_int_equal(ins(&p, &q, 0, 10 + 20 * i, 10, 0, 65535), 0);
	}
	assert_int_equal(ins(&p, &q, 0, 5000, 10, 0, 65535), -ENOBUFS);
	assert_int_equal(ins(&p, &q, 0, 5, 3, 0, 65535), -ENOBUFS);
	assert_int_equal(p.st.drop_full, 2);
	/* Still accepted when full: duplicates, and newcomers that replace entries. */
	assert_int_equal(ins(&p, &q, 0, 10, 10, 0, 65535), 0);
	assert_int_equal(ins(&p, &q, 0, 5, 40, 0, 65535), 0); /* covers [10,20) and [30,40) */
	assert_int_equal(p.st.replaced, 2);
	assert_int_equal(q.nb_segs, SP_REASS_MAX_SEGS_PER_CONN - 1);
	assert_int_equal(ins(&p, &q, 0, 5000, 10, 0, 65535), 0);
	assert_int_equal(q.nb_segs, SP_REASS_MAX_SEGS_PER_CONN);
	/* The pool runs dry for the second connection. */
	for (i = 0; i < 8; i++) {
		assert_int_equal(ins(&p, &q2, 0, 10 + 20 * i, 10, 0, 65535), 0);
	}
	assert_int_equal(ins(&p, &q2, 0, 1000, 10, 0, 65535), -ENOBUFS);
	assert_int_equal(p.st.drop_full, 3);
	assert_int_equal(sp_reass_pool_in_use(&p), SP_REASS_MAX_SEGS_PER_CONN + 8);
	sp_reass_flush(&p, &q);
	sp_reass_flush(&p, &q2);
	assert_true(sp_reass_empty(&q) && sp_reass_empty(&q2));
	assert_int_equal(sp_reass_bytes(&q), 0);
	pool_teardown(&p);
}

static void
expect_blocks(const struct sp_reass_q *q, unsigned max, const uint32_t *lr, unsigned n)
{
	struct sp_sack_block b[4];

	assert_int_equal(sp_reass_sack_blocks(q, b, max), n);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(b[i].left, lr[2 * i]);
		assert_int_equal(b[i].right, lr[2 * i + 1]);
	}
}

/* RFC 2018 4: the newest segment's block first, then most recently changed. */
static void
test_sack_order(void **state)
{
	struct sp_reass_pool p;
	struct sp_reass_q q;
	struct rte_mbuf *c;
	uint32_t len;

	(void)state;
	pool_setup(&p, T_POOL_ENTRIES);
	sp_reass_q_init(&q);
	expect_blocks(&q, 4, NULL, 0);
	assert_int_equal(ins(&p, &q, 0, 100, 10, 0, 65535), 0);
	assert_int_equal(ins(&p, &q, 0, 200, 10, 0, 65535), 0);
	assert_int_equal(ins(&p, &q, 0, 300, 10, 0, 65535), 0);
	expect_blocks(&q, 4, (const uint32_t[]){300, 310, 200, 210, 100, 110}, 3);
	assert_int_equal(ins(&p, &q, 0, 110, 5, 0, 65535), 0);
	expect_blocks(&q, 4, (const uint32_t[]){100, 115, 300, 310, 200, 210}, 3);
	expect_blocks(&q, 2, (const uint32_t[]){100, 115, 300, 310}, 2);
	/* A duplicate still names its block first. */
	assert_int_equal(ins(&p, &q, 0, 200, 10, 0, 65535), 0);
	expect_blocks(&q, 3, (const uint32_t[]){200, 210, 100, 115, 300, 310}, 3);
	/* Bridging two blocks merges them into one, reported once. */
	assert_int_equal(ins(&p, &q, 0, 210, 90, 0, 65535), 0);
	expect_blocks(&q, 4, (const uint32_t[]){200, 310, 100, 115}, 2);
	/* More blocks than remembered: older ones follow in sequence order. */
	for (uint32_t s = 400; s < 1000; s += 100) {
		assert_int_equal(ins(&p, &q, 0, s, 10, 0, 65535), 0);
	}
	expect_blocks(&q, 4, (const uint32_t[]){900, 910, 800, 810, 700, 710, 600, 610}, 4);
	assert_int_equal(ins(&p, &q, 0, 100, 10, 0, 65535), 0);
	expect_blocks(&q, 4, (const uint32_t[]){100, 115, 900, 910, 800, 810, 700, 710}, 4);
	/* Delivered blocks vanish; no block at or below rcv_nxt. */
	assert_int_equal(sp_reass_take(&p, &q, 100, &c, &len), 15);
	rte_pktmbuf_free(c);
	expect_blocks(&q, 4, (const uint32_t[]){900, 910, 800, 810, 700, 710, 200, 310}, 4);
	sp_reass_flush(&p, &q);
	expect_blocks(&q, 4, NULL, 0);
	pool_teardown(&p);
}

/* ---- Model-based randomized test. ---- */

struct model {
	uint32_t isn;
	uint32_t wnd;
	uint32_t done; /* stream bytes delivered; rcv_nxt = isn + done */
	uint32_t held; /* bytes set in g_held */
	uint32_t top;  /* no byte at or above this offset is held */
	uint32_t max_seg; /* payload bytes per arrival, at most */
	uint32_t len;	  /* stream bytes to deliver */
	uint32_t runs;	  /* maximal runs of held bytes (kept incrementally) */
	struct sp_reass_pool p;
	struct sp_reass_q q;
};

static bool
run_start(uint32_t o)
{
	return g_held[o] && (o == 0 || !g_held[o - 1]);
}

/* Mark [lo, hi) held: the new run absorbs every run it touches. */
static void
model_set(struct model *md, uint32_t lo, uint32_t hi)
{
	uint32_t touched = (lo > 0 && g_held[lo - 1]) ? 1 : 0;

	for (uint32_t o = lo; o <= hi && o < md->len; o++) {
		touched += run_start(o);
	}
	for (uint32_t o = lo; o < hi; o++) {
		md->held += !g_held[o];
		g_held[o] = 1;
	}
	md->runs = md->runs + 1 - touched;
	md->top = hi > md->top ? hi : md->top;
}

/* Clear [from, to); nothing below from is held. A run reaching past to survives from to. */
static void
model_clear(struct model *md, uint32_t from, uint32_t to)
{
	uint32_t starts = 0;
	bool split = to < md->len && g_held[to] && g_held[to - 1];

	for (uint32_t o = from; o < to; o++) {
		starts += run_start(o);
	}
	for (uint32_t o = from; o < to; o++) {
		md->held -= g_held[o];
		g_held[o] = 0;
	}
	md->runs = md->runs - starts + (split ? 1 : 0);
}

/* Recount the runs from scratch (O(window)), to check the incremental count. */
static uint32_t
model_runs(const struct model *md)
{
	uint32_t runs = 0;

	for (uint32_t o = md->done; o < md->top; o++) {
		runs += run_start(o);
	}
	return runs;
}

/* Check the SACK answer for max blocks against the model's runs; first must hold newest. */
static void
model_check_sack(const struct model *md, unsigned max, int64_t newest)
{
	struct sp_sack_block b[4];
	unsigned n = sp_reass_sack_blocks(&md->q, b, max);
	uint32_t lim = md->top;

	assert_int_equal(n, md->runs < max ? md->runs : max);
	for (unsigned i = 0; i < n; i++) {
		uint32_t l = b[i].left - md->isn;
		uint32_t r = b[i].right - md->isn;

		assert_true(sp_seq_gt(b[i].left, md->isn + md->done));
		assert_true(l > md->done && l < r && r <= lim && r <= md->done + md->wnd);
		assert_true(!g_held[l - 1] && (r == md->len || !g_held[r]));
		for (uint32_t o = l; o < r; o++) {
			assert_true(g_held[o]);
		}
		for (unsigned j = 0; j < i; j++) {
			assert_true(b[j].left != b[i].left);
		}
	}
	if (newest >= 0 && (uint32_t)newest >= md->done) {
		assert_true(n > 0);
		assert_true(sp_seq_in(md->isn + (uint32_t)newest, b[0].left, b[0].right));
	}
}

/* In-order data up to offset end arrived: deliver it, then take what the queue completes. */
static void
model_advance(struct model *md, uint32_t end)
{
	struct rte_mbuf *c;
	const char *reason = NULL;
	const void *p;
	uint32_t len;
	int n;

	memcpy(g_out + md->done, g_stream + md->done, end - md->done);
	model_clear(md, md->done, end);
	md->done = end;
	while ((n = sp_reass_take(&md->p, &md->q, md->isn + md->done, &c, &len)) > 0) {
		assert_int_equal((uint32_t)n, len);
		assert_true(md->done + len <= md->len);
		assert_int_equal(rte_mbuf_check(c, 1, &reason), 0);
		p = rte_pktmbuf_read(c, 0, len, g_out + md->done);
		assert_non_null(p);
		if (p != g_out + md->done) {
			memcpy(g_out + md->done, p, len);
		}
		for (uint32_t o = md->done; o < md->done + len; o++) {
			assert_true(g_held[o]);
		}
		assert_true(md->done + len == md->len || !g_held[md->done + len]);
		model_clear(md, md->done, md->done + len);
		assert_memory_equal(g_out + md->done, g_stream + md->done, len);
		rte_pktmbuf_free(c);
		md->done += len;
	}
	assert_null(c);
}

/* One arrival of stream bytes [off, off + len). Returns the newest queued offset, or -1. */
static int64_t
model_arrive(struct model *md, uint32_t off, uint32_t len)
{
	uint32_t lo = off > md->done ? off : md->done;
	uint32_t hi = off + len < md->done + md->wnd ? off + len : md->done + md->wnd;
	int rc;

	if (off <= md->done && off + len > md->done) {
		model_advance(md, off + len);
		return -1;
	}
	rc = sp_reass_insert(&md->p, &md->q, md->isn + off,
			     mk_chain(g_stream + off, len, 1 + rnd() % 3), len,
			     md->isn + md->done, md->isn + md->done + md->wnd);
	if (rc != 0) {
		assert_int_equal(rc, -ENOBUFS);
		return -1;
	}
	if (lo >= hi) {
		return -1;
	}
	model_set(md, lo, hi);
	return lo;
}

/* A random segment: mostly around the window, some in order, some behind, some beyond. */
static void
model_pick(const struct model *md, uint32_t *off, uint32_t *len)
{
	uint32_t r = rnd() % 100;
	int64_t o;

	*len = (rnd() % 2 == 0) ? 1 + rnd() % 64 : 1 + rnd() % md->max_seg;
	if (r < 4) {
		o = md->done;
	} else if (r < 14) {
		o = (int64_t)md->done - (int64_t)(rnd() % 2000);
	} else if (r < 94) {
		o = (int64_t)md->done + rnd() % md->wnd;
	} else {
		o = (int64_t)md->done + md->wnd - 1000 + rnd() % 3000;
	}
	o = o < 0 ? 0 : o;
	o = o >= md->len ? md->len - 1 : o;
	*off = (uint32_t)o;
	if (*off + *len > md->len) {
		*len = md->len - *off;
	}
}

static void
model_run(uint64_t seed, uint32_t isn, uint32_t wnd, uint32_t max_seg, uint32_t len)
{
	struct model md = {.isn = isn, .wnd = wnd, .max_seg = max_seg, .len = len};
	unsigned steps = 0;

	g_rng = seed;
	for (uint32_t i = 0; i < T_STREAM_LEN; i++) {
		g_stream[i] = (uint8_t)rnd();
	}
	memset(g_held, 0, sizeof(g_held));
	memset(g_out, 0, sizeof(g_out));
	pool_setup(&md.p, T_POOL_ENTRIES);
	sp_reass_q_init(&md.q);
	while (md.done < md.len) {
		uint32_t off, n;
		int64_t newest;

		assert_true(++steps < T_STEPS_MAX);
		model_pick(&md, &off, &n);
		newest = model_arrive(&md, off, n);
		assert_int_equal(sp_reass_bytes(&md.q), md.held);
		assert_int_equal(md.p.st.bytes_cur, md.held);
		if (steps % 64 == 0) {
			assert_int_equal(model_runs(&md), md.runs);
		}
		model_check_sack(&md, 1 + rnd() % 4, newest);
	}
	assert_memory_equal(g_out, g_stream, md.len);
	assert_true(sp_reass_empty(&md.q));
	assert_true(md.p.st.dup > 0 && md.p.st.overlap_trim > 0 && md.p.st.oow_trim > 0);
	assert_true(md.p.st.replaced > 0 && md.p.st.stale > 0 && md.p.st.oow_drop > 0);
	g_drop_full += md.p.st.drop_full;
	sp_reass_flush(&md.p, &md.q);
	pool_teardown(&md.p);
}

static void
test_model_random(void **state)
{
	static const uint32_t isns[] = {0xffffff00u, 0, 0x7fffff00u, 0xfffe8000u};

	(void)state;
	for (unsigned i = 0; i < 8; i++) {
		uint64_t seed = 0x9e3779b97f4a7c15ull * (i + 1);
		uint32_t isn;
		uint32_t wnd;

		g_rng = seed;
		isn = i < SP_ARRAY_SIZE(isns) ? isns[i] : rnd() * 65537u;
		wnd = (i % 2 == 0) ? 65535 : 4096 + rnd() % (256 * 1024);
		model_run(seed, isn, wnd, T_MAX_SEG, T_STREAM_LEN);
		/* Small segments: the per-connection limit is reached. */
		model_run(seed + 1, isn, 16384 + rnd() % 16384, 200, T_STREAM_LEN / 8);
	}
	assert_true(g_drop_full > 0);
}

static int
group_setup(void **state)
{
	(void)state;
	g_mp = rte_pktmbuf_pool_create("reass_test", T_NB_MBUFS, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	g_rng = 88172645463325252ull;
	for (uint32_t i = 0; i < T_STREAM_LEN; i++) {
		g_stream[i] = (uint8_t)rnd();
	}
	return g_mp == NULL ? -1 : 0;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pool_init_errors), cmocka_unit_test(test_basic_take),
	    cmocka_unit_test(test_overlap_policy),   cmocka_unit_test(test_window_wrap),
	    cmocka_unit_test(test_bounds),	     cmocka_unit_test(test_sack_order),
	    cmocka_unit_test(test_model_random),
	};

	(void)argc;
	sp_test_eal_init(argv[0]);
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
