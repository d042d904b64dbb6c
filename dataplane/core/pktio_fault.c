/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Impairment stage (see pktio_fault.h). Each direction of each port has a holding queue: a
 * binary min-heap of (release time, frame), bounded by FAULT_HOLD_MAX; a frame that would
 * overflow it is dropped and counted. Received frames enter the rx heap as the inner port
 * delivers them and leave it once due; transmitted frames enter the tx heap and are handed to
 * the inner port once due, on the next rx poll of that port (every poll of the worker visits
 * every port). Held-back ("reordered") frames get an extra 1-3 ms so later frames overtake
 * them. Corruption flips one random bit after the Ethernet header and clears the port's
 * checksum-status flags, so only our own verification can catch it. Deterministic for a
 * given seed and arrival order. Test instrument only: never configured in production.
 */
#include <errno.h>
#include <string.h>

#include <rte_ether.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include <spate/assert.h>
#include <spate/limits.h>

#include "pktio_fault.h"

#define FAULT_HOLD_MAX        8192 /* frames held per port and direction */
#define FAULT_REORDER_MIN_US  1000 /* extra hold of a reordered frame */
#define FAULT_REORDER_SPAN_US 2000
#define FAULT_RX_STAGE        64 /* frames pulled from the inner port per poll */

struct fault_item {
	uint64_t due; /* cycles */
	uint64_t seq; /* arrival order: ties release in order */
	struct rte_mbuf *m;
};

struct fault_heap {
	uint32_t n;
	struct fault_item it[FAULT_HOLD_MAX];
};

struct sp_pktio_fault {
	struct sp_pktio inner;
	const struct sp_clock *clk;
	struct rte_mempool *pool;
	struct sp_counters *cnt;
	struct sp_fault_conf conf;
	uint64_t rng;
	uint64_t seq;
	uint64_t cycles_per_us;
	struct fault_heap rx[SP_MAX_PORTS];
	struct fault_heap tx[SP_MAX_PORTS];
};

static uint64_t
fault_rand(struct sp_pktio_fault *f)
{
	/* xorshift64* */
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return f->rng * 0x2545F4914F6CDD1DULL;
}

static bool
fault_hit(struct sp_pktio_fault *f, uint32_t ppm)
{
	return ppm != 0 && fault_rand(f) % 1000000u < ppm;
}

static bool
item_before(const struct fault_item *a, const struct fault_item *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static bool
heap_push(struct fault_heap *h, struct fault_item item)
{
	uint32_t i;

	if (h->n == FAULT_HOLD_MAX) {
		return false;
	}
	i = h->n++;
	while (i > 0 && item_before(&item, &h->it[(i - 1) / 2])) {
		h->it[i] = h->it[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->it[i] = item;
	return true;
}

static struct rte_mbuf *
heap_pop_due(struct fault_heap *h, uint64_t now)
{
	struct rte_mbuf *m;
	struct fault_item last;
	uint32_t i = 0;

	if (h->n == 0 || h->it[0].due > now) {
		return NULL;
	}
	m = h->it[0].m;
	last = h->it[--h->n];
	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= h->n) {
			break;
		}
		if (c + 1 < h->n && item_before(&h->it[c + 1], &h->it[c])) {
			c++;
		}
		if (!item_before(&h->it[c], &last)) {
			break;
		}
		h->it[i] = h->it[c];
		i = c;
	}
	h->it[i] = last;
	return m;
}

/* Decide a frame's fate and queue it (and its duplicate) for release. Owns m. */
static void
fault_admit(struct sp_pktio_fault *f, struct fault_heap *h, struct rte_mbuf *m, uint64_t now)
{
	const struct sp_fault_conf *c = &f->conf;
	uint64_t delay_us = c->delay_us;
	struct rte_mbuf *dup = NULL;

	if (fault_hit(f, c->loss_ppm)) {
		f->cnt->fault_drops++;
		rte_pktmbuf_free(m);
		return;
	}
	if (fault_hit(f, c->corrupt_ppm) && m->pkt_len > RTE_ETHER_HDR_LEN && m->nb_segs == 1) {
		uint32_t at = RTE_ETHER_HDR_LEN +
			      (uint32_t)(fault_rand(f) % (m->data_len - RTE_ETHER_HDR_LEN));
		uint8_t *p = rte_pktmbuf_mtod_offset(m, uint8_t *, at);

		*p ^= (uint8_t)(1u << (fault_rand(f) % 8));
		m->ol_flags &= ~(RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK);
		f->cnt->fault_corrupts++;
	}
	if (fault_hit(f, c->dup_ppm)) {
		dup = rte_pktmbuf_copy(m, f->pool, 0, UINT32_MAX);
		if (dup != NULL) {
			dup->ol_flags = m->ol_flags;
			dup->l2_len = m->l2_len;
			dup->l3_len = m->l3_len;
			dup->l4_len = m->l4_len;
			f->cnt->fault_dups++;
		}
	}
	if (c->jitter_us != 0) {
		uint64_t j = fault_rand(f) % (2ULL * c->jitter_us + 1);

		delay_us = delay_us + j > c->jitter_us ? delay_us + j - c->jitter_us : 0;
	}
	if (fault_hit(f, c->reorder_ppm)) {
		delay_us += FAULT_REORDER_MIN_US + fault_rand(f) % FAULT_REORDER_SPAN_US;
		f->cnt->fault_reorders++;
	}
	if (delay_us != 0) {
		f->cnt->fault_delayed++;
	}
	for (struct rte_mbuf *x = m; x != NULL; x = (x == m) ? dup : NULL) {
		struct fault_item it = {now + delay_us * f->cycles_per_us, f->seq++, x};

		if (!heap_push(h, it)) {
			f->cnt->fault_overflow++;
			rte_pktmbuf_free(x);
		}
	}
}

/* Hand every due tx frame of this port to the inner port (bounded by the heap size). */
static void
fault_tx_release(struct sp_pktio_fault *f, uint16_t port, uint16_t queue, uint64_t now)
{
	struct fault_heap *h = &f->tx[port];
	struct rte_mbuf *m;

	while ((m = heap_pop_due(h, now)) != NULL) {
		if (f->inner.ops->tx_burst(f->inner.ctx, port, queue, &m, 1) != 1) {
			f->cnt->fault_overflow++;
			rte_pktmbuf_free(m);
		}
	}
}

static uint16_t
fault_rx(void *ctx, uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	struct sp_pktio_fault *f = ctx;
	struct rte_mbuf *in[FAULT_RX_STAGE];
	uint64_t now = f->clk->ops->cycles(f->clk->ctx);
	uint16_t got, k = 0;
	struct rte_mbuf *m;

	SP_VERIFY(port < SP_MAX_PORTS);
	fault_tx_release(f, port, queue, now);
	got = f->inner.ops->rx_burst(f->inner.ctx, port, queue, in, FAULT_RX_STAGE);
	for (uint16_t i = 0; i < got; i++) {
		fault_admit(f, &f->rx[port], in[i], now);
	}
	while (k < n && (m = heap_pop_due(&f->rx[port], now)) != NULL) {
		pkts[k++] = m;
	}
	return k;
}

static uint16_t
fault_tx(void *ctx, uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	struct sp_pktio_fault *f = ctx;
	uint64_t now = f->clk->ops->cycles(f->clk->ctx);

	SP_VERIFY(port < SP_MAX_PORTS);
	for (uint16_t i = 0; i < n; i++) {
		fault_admit(f, &f->tx[port], pkts[i], now);
	}
	fault_tx_release(f, port, queue, now);
	return n; /* all taken: dropped, held or sent */
}

static const struct sp_pktio_ops fault_ops = {
    .rx_burst = fault_rx,
    .tx_burst = fault_tx,
};

int
sp_pktio_fault_create(struct sp_pktio_fault **out, struct sp_pktio *io, struct sp_pktio inner,
		      const struct sp_clock *clk, struct rte_mempool *pool, struct sp_counters *cnt,
		      const struct sp_fault_conf *conf, int socket)
{
	struct sp_pktio_fault *f = rte_zmalloc_socket("sp_fault", sizeof(*f), 64, socket);

	if (f == NULL) {
		return -ENOMEM;
	}
	f->inner = inner;
	f->clk = clk;
	f->pool = pool;
	f->cnt = cnt;
	f->conf = *conf;
	f->rng = conf->seed * 0x9E3779B97F4A7C15ULL + 1; /* never zero for xorshift */
	f->cycles_per_us = clk->ops->hz(clk->ctx) / 1000000u;
	if (f->cycles_per_us == 0) {
		f->cycles_per_us = 1;
	}
	io->ops = &fault_ops;
	io->ctx = f;
	*out = f;
	return 0;
}

void
sp_pktio_fault_destroy(struct sp_pktio_fault *f)
{
	if (f == NULL) {
		return;
	}
	for (unsigned p = 0; p < SP_MAX_PORTS; p++) {
		for (uint32_t i = 0; i < f->rx[p].n; i++) {
			rte_pktmbuf_free(f->rx[p].it[i].m);
		}
		for (uint32_t i = 0; i < f->tx[p].n; i++) {
			rte_pktmbuf_free(f->tx[p].it[i].m);
		}
	}
	rte_free(f);
}
