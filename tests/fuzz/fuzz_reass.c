/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: the input is a sequence of operations on one TCP out-of-order queue
 * (dataplane/tcp/tcp_reass.c), checked against a byte-set model after each one.
 * Header: 4 bytes ISN, 2 bytes window, 1 byte pool size. Then operations, one opcode byte
 * each, arguments following:
 *   insert   2 bytes offset around the window, 2 bytes length, 1 byte mbuf split; then
 *            take, as a caller would if the segment reached rcv_nxt
 *   advance  2 bytes: in-order data arrived; deliver it and take what the queue completes
 *   take     without advancing: must yield nothing
 *   sack     1 byte max blocks: every block is a maximal run of the model, strictly above
 *            rcv_nxt, no repeats, as many as fit, the first holding the newest segment
 *   flush    the model forgets everything
 * Stream bytes are a function of their offset, so every delivered byte is checked. At the
 * end: flush, every pool entry returned and the mempool's in-use count back to 0.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <spate/assert.h>

#include "tcp/tcp_reass.h"
#include "tcp/tcp_seq.h"
#include "../unit/sp_test.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_NB_MBUFS 1023
#define FZ_WND_MAX 16384     /* window bound */
#define FZ_SEG_MAX 4000      /* payload bytes per insert */
#define FZ_PIECE_MAX 2048    /* bytes per mbuf segment */
#define FZ_CUTS 3	     /* fuzzer-sized pieces per chain; the rest in FZ_PIECE_MAX pieces */
#define FZ_RUNS_MAX (2 * SP_REASS_MAX_SEGS_PER_CONN) /* model runs (the queue has <= 64) */

/*
 * The model: received-but-undelivered stream offsets as sorted, disjoint, non-touching runs
 * [l, r). Offsets count from the ISN; the fuzzer never gets near 2^32 of them, so plain
 * comparisons are right (the queue itself sees sequence numbers that do wrap).
 */
struct fz_run {
	uint32_t l, r;
	uint32_t stamp; /* when a segment last landed in it (merged runs: the newest) */
};

struct fz {
	const uint8_t *p;
	size_t n;
	uint32_t isn;
	uint32_t wnd;
	uint32_t done;	 /* stream offset delivered: rcv_nxt = isn + done */
	uint32_t held;	 /* bytes in the runs */
	int64_t newest;	 /* offset in the block SACK must report first, or -1 */
	uint32_t clock;	 /* stamps accepted segments */
	unsigned nb_runs;
	struct fz_run runs[FZ_RUNS_MAX];
	struct sp_reass_pool pool;
	struct sp_reass_q q;
};

static struct rte_mempool *g_mp;
static uint8_t g_buf[FZ_SEG_MAX];

static uint8_t
fz_byte(uint32_t off)
{
	return (uint8_t)((off * 2654435761u) >> 24 ^ off);
}

static uint32_t
fz_take(struct fz *f, unsigned nbytes)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < nbytes; i++) {
		v = v << 8;
		if (f->n > 0) {
			v |= *f->p++;
			f->n--;
		}
	}
	return v;
}

/* Add [l, r) to the runs, merging every run it overlaps or touches. */
static void
fz_hold(struct fz *f, uint32_t l, uint32_t r, uint32_t stamp)
{
	struct fz_run out[FZ_RUNS_MAX + 1];
	unsigned n = 0, i = 0;

	for (; i < f->nb_runs && f->runs[i].r < l; i++) {
		out[n++] = f->runs[i];
	}
	for (; i < f->nb_runs && f->runs[i].l <= r; i++) {
		l = SP_MIN(l, f->runs[i].l);
		r = SP_MAX(r, f->runs[i].r);
		f->held -= f->runs[i].r - f->runs[i].l;
	}
	out[n++] = (struct fz_run){l, r, stamp};
	f->held += r - l;
	for (; i < f->nb_runs; i++) {
		out[n++] = f->runs[i];
	}
	SP_VERIFY(n <= FZ_RUNS_MAX);
	memcpy(f->runs, out, n * sizeof(out[0]));
	f->nb_runs = n;
}

/* Forget everything below offset x. */
static void
fz_unhold_below(struct fz *f, uint32_t x)
{
	unsigned drop = 0;

	while (drop < f->nb_runs && f->runs[drop].r <= x) {
		f->held -= f->runs[drop].r - f->runs[drop].l;
		drop++;
	}
	memmove(f->runs, f->runs + drop, (f->nb_runs - drop) * sizeof(f->runs[0]));
	f->nb_runs -= drop;
	if (f->nb_runs > 0 && f->runs[0].l < x) {
		f->held -= x - f->runs[0].l;
		f->runs[0].l = x;
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	sp_test_eal_init((*argv)[0]);
	g_mp = rte_pktmbuf_pool_create("fz_reass", FZ_NB_MBUFS, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	SP_VERIFY(g_mp != NULL);
	return 0;
}

/* Stream bytes [off, off + len) as a chain cut at `cut`-derived points. */
static struct rte_mbuf *
fz_chain(uint32_t off, uint32_t len, uint8_t cut)
{
	struct rte_mbuf *head = NULL;
	uint32_t pos = 0;

	for (uint32_t i = 0; i < len; i++) {
		g_buf[i] = fz_byte(off + i);
	}
	for (unsigned piece = 0; pos < len || piece == 0; piece++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(g_mp);
		uint32_t n = len - pos;
		char *d;

		if (piece < FZ_CUTS) { /* a few pieces of fuzzer-chosen size, maybe empty */
			n = SP_MIN(n, (uint32_t)(cut & 7) * 300 + (cut >> 3));
		}
		SP_VERIFY(m != NULL);
		n = SP_MIN(n, (uint32_t)FZ_PIECE_MAX);
		d = rte_pktmbuf_append(m, (uint16_t)n);
		SP_VERIFY(d != NULL);
		memcpy(d, g_buf + pos, n);
		pos += n;
		if (head == NULL) {
			head = m;
		} else {
			SP_VERIFY(rte_pktmbuf_chain(head, m) == 0);
		}
		cut = (uint8_t)(cut * 37 + 11);
	}
	SP_VERIFY(head->pkt_len == len);
	return head;
}

/* Take every ready chain from the queue and check it is exactly the model's first run. */
static void
fz_deliver(struct fz *f)
{
	struct rte_mbuf *c;
	uint32_t len;
	int n;

	while ((n = sp_reass_take(&f->pool, &f->q, f->isn + f->done, &c, &len)) > 0) {
		uint32_t off = f->done;

		SP_VERIFY((uint32_t)n == len && c != NULL && c->pkt_len == len);
		SP_VERIFY(f->nb_runs > 0 && f->runs[0].l == off && f->runs[0].r == off + len);
		for (struct rte_mbuf *s = c; s != NULL; s = s->next) {
			const uint8_t *d = rte_pktmbuf_mtod(s, const uint8_t *);

			for (uint16_t i = 0; i < s->data_len; i++, off++) {
				SP_VERIFY(d[i] == fz_byte(off));
			}
		}
		SP_VERIFY(off == f->done + len);
		rte_pktmbuf_free(c);
		fz_unhold_below(f, off);
		f->done = off;
	}
	SP_VERIFY(c == NULL && len == 0);
	SP_VERIFY(f->nb_runs == 0 || f->runs[0].l > f->done);
}

static void
fz_insert(struct fz *f)
{
	uint32_t off = f->done - 2 * FZ_SEG_MAX + fz_take(f, 2) % (f->wnd + 3 * FZ_SEG_MAX);
	uint32_t len = 1 + fz_take(f, 2) % FZ_SEG_MAX;
	uint8_t cut = (uint8_t)fz_take(f, 1);
	int64_t lo = SP_MAX((int64_t)(int32_t)(off - f->done), 0);
	int64_t hi = SP_MIN((int64_t)(int32_t)(off - f->done) + len, (int64_t)f->wnd);
	int rc;

	rc = sp_reass_insert(&f->pool, &f->q, f->isn + off, fz_chain(off, len, cut), len,
			     f->isn + f->done, f->isn + f->done + f->wnd);
	if (rc != 0) {
		SP_VERIFY(rc == -ENOBUFS);
	} else if (lo < hi) {
		fz_hold(f, f->done + (uint32_t)lo, f->done + (uint32_t)hi, ++f->clock);
		f->newest = f->done + lo;
	}
	/* Data at rcv_nxt (the contract's callers deliver that in order): take it at once. */
	fz_deliver(f);
}

static void
fz_advance(struct fz *f)
{
	uint32_t k = 1 + fz_take(f, 2) % FZ_SEG_MAX;

	fz_unhold_below(f, f->done + k);
	f->done += k;
	fz_deliver(f);
}

/* The k-th largest stamp among the runs (k from 0). */
static uint32_t
fz_nth_stamp(const struct fz *f, unsigned k)
{
	uint32_t bound = UINT32_MAX;
	uint32_t best = 0;

	for (unsigned i = 0; i <= k; i++) {
		best = 0;
		for (unsigned j = 0; j < f->nb_runs; j++) {
			if (f->runs[j].stamp < bound && f->runs[j].stamp > best) {
				best = f->runs[j].stamp;
			}
		}
		bound = best;
	}
	return best;
}

static void
fz_sack(struct fz *f)
{
	struct sp_sack_block b[4];
	unsigned max = 1 + fz_take(f, 1) % 4;
	unsigned n = sp_reass_sack_blocks(&f->q, b, max);
	uint64_t seen = 0;

	uint32_t stamp[4];
	unsigned lead = 0;

	SP_VERIFY(n == SP_MIN(f->nb_runs, max));
	for (unsigned i = 0; i < n; i++) {
		uint32_t l = b[i].left - f->isn;
		uint32_t r = b[i].right - f->isn;
		unsigned j = 0;

		SP_VERIFY(sp_seq_gt(b[i].left, f->isn + f->done));
		while (j < f->nb_runs && f->runs[j].l != l) {
			j++;
		}
		SP_VERIFY(j < f->nb_runs && f->runs[j].r == r); /* exactly a model run */
		stamp[i] = f->runs[j].stamp;
		SP_VERIFY((seen & (UINT64_C(1) << (j % 64))) == 0 || j >= 64);
		seen |= UINT64_C(1) << (j % 64);
		for (unsigned k = 0; k < i; k++) {
			SP_VERIFY(b[k].left != b[i].left);
		}
	}
	/*
	 * Order: the most recently changed runs first, newest first (a prefix of some length),
	 * then the rest in sequence order.
	 */
	while (lead < n && stamp[lead] == fz_nth_stamp(f, lead)) {
		lead++;
	}
	for (unsigned i = lead + 1; i < n; i++) {
		SP_VERIFY(sp_seq_lt(b[i - 1].left, b[i].left));
	}
	if (f->newest >= 0 && (uint32_t)f->newest >= f->done) {
		SP_VERIFY(n > 0 && sp_seq_in((uint32_t)f->newest, b[0].left - f->isn,
					     b[0].right - f->isn));
	}
}

static void
fz_flush(struct fz *f)
{
	sp_reass_flush(&f->pool, &f->q);
	SP_VERIFY(sp_reass_empty(&f->q) && sp_reass_bytes(&f->q) == 0);
	f->nb_runs = 0;
	f->held = 0;
	f->newest = -1;
}

static void
fz_op(struct fz *f, uint8_t op)
{
	struct rte_mbuf *c;
	uint32_t len;

	switch (op % 6) {
	case 0:
	case 1:
		fz_insert(f);
		break;
	case 2:
		fz_advance(f);
		break;
	case 3:
		SP_VERIFY(sp_reass_take(&f->pool, &f->q, f->isn + f->done, &c, &len) == 0);
		SP_VERIFY(c == NULL);
		break;
	case 4:
		fz_sack(f);
		break;
	default:
		fz_flush(f);
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {.p = data, .n = size, .newest = -1};
	uint32_t entries;

	f.isn = fz_take(&f, 4);
	f.wnd = 1 + fz_take(&f, 2) % FZ_WND_MAX;
	entries = 1 + fz_take(&f, 1) % (2 * SP_REASS_MAX_SEGS_PER_CONN);
	SP_VERIFY(sp_reass_pool_init(&f.pool, entries, SOCKET_ID_ANY) == 0);
	sp_reass_q_init(&f.q);
	while (f.n > 0) {
		fz_op(&f, (uint8_t)fz_take(&f, 1));
		SP_VERIFY(sp_reass_bytes(&f.q) == f.held);
		SP_VERIFY(f.pool.st.bytes_cur == f.held);
		SP_VERIFY(f.q.nb_segs <= SP_REASS_MAX_SEGS_PER_CONN);
		SP_VERIFY(f.held <= f.wnd);
	}
	fz_flush(&f);
	SP_VERIFY(sp_reass_pool_in_use(&f.pool) == 0);
	sp_reass_pool_fini(&f.pool);
	SP_VERIFY(rte_mempool_in_use_count(g_mp) == 0);
	return 0;
}
