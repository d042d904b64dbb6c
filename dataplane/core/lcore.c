/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker poll loop and its transmit buffering. Each worker runs sp_lcore_run() on its own
 * lcore: rx burst on its queue of every port, the receive path frame by frame (on a steered
 * port, after handing other workers' flows to them), the frames handed to it, one tx flush
 * per port, then the idle policy. Fixed budgets bound every step (SP_RX_BURST, SP_TX_BUF,
 * SP_TX_RETRIES). No malloc, lock or syscall on this path; the only syscall is the idle sleep,
 * taken when polls have found nothing for idle_polls_before_sleep iterations.
 *
 * Idle policy (docs/DESIGN.md, "Polling on two CPUs"): `spin` polls without pause
 * (production: the core is dedicated). `sleep` counts empty polls; after the threshold it
 * sleeps 1 us, doubling up to idle_sleep_max_us while polls stay empty, and drops back to
 * polling at full speed on the first frame. Frames another worker handed over (net/steer.h)
 * count as received, and a worker never sleeps while one waits in its incoming rings.
 *
 * With an interrupt-thread gate (intr_gate.h), nothing in an iteration touches a port before
 * the gate is passed at its top: the rx bursts, and every tx burst, which all happen inside
 * sp_lcore_poll(). A closed gate is waited out (a pause, or a 1 us sleep under the sleep
 * policy, away from the gate); it closes for microseconds.
 */
#include <rte_branch_prediction.h>
#include <rte_mbuf.h>
#include <rte_pause.h>

#include <spate/assert.h>

#include "../net/arp.h"
#include "../net/net.h"
#include "../net/steer.h"
#include "../tcp/tcp_stack.h"
#include "intr_gate.h"
#include "lcore.h"

static void
lcore_tx_port(struct sp_lcore *lc, unsigned ifidx)
{
	struct sp_txbuf *tb = &lc->tx[ifidx];
	struct sp_queue_counters *qc = &lc->qcnt[ifidx];
	uint16_t port = lc->ifaces[ifidx].port_id;
	uint16_t sent = 0;

	for (unsigned tries = 0; sent < tb->n && tries < SP_TX_RETRIES; tries++) {
		sent += lc->io.ops->tx_burst(lc->io.ctx, port, lc->queue, tb->pkts + sent,
					     (uint16_t)(tb->n - sent));
	}
	SP_VERIFY(sent <= tb->n);
	qc->tx_pkts += sent;
	lc->cnt.tx_pkts += sent;
	if (SP_UNLIKELY(sent < tb->n)) {
		uint16_t dropped = (uint16_t)(tb->n - sent);
		qc->tx_drops += dropped;
		lc->cnt.tx_drop_full += dropped;
		for (uint16_t i = sent; i < tb->n; i++) {
			qc->tx_bytes -= tb->pkts[i]->pkt_len;
			lc->cnt.tx_bytes -= tb->pkts[i]->pkt_len;
		}
		rte_pktmbuf_free_bulk(tb->pkts + sent, dropped);
	}
	tb->n = 0;
}

void
sp_lcore_tx(struct sp_lcore *lc, unsigned ifidx, struct rte_mbuf *m)
{
	struct sp_txbuf *tb;

	SP_VERIFY(ifidx < lc->nb_ifaces);
	tb = &lc->tx[ifidx];
	/* Bytes are counted when queued: after tx_burst the driver owns the mbuf. */
	lc->qcnt[ifidx].tx_bytes += m->pkt_len;
	lc->cnt.tx_bytes += m->pkt_len;
	tb->pkts[tb->n++] = m;
	if (tb->n == SP_TX_BUF) {
		lcore_tx_port(lc, ifidx);
	}
	SP_VERIFY(tb->n < SP_TX_BUF);
}

void
sp_lcore_tx_flush(struct sp_lcore *lc)
{
	for (unsigned i = 0; i < lc->nb_ifaces; i++) {
		if (lc->tx[i].n != 0) {
			lcore_tx_port(lc, i);
		}
	}
}

unsigned
sp_lcore_poll(struct sp_lcore *lc)
{
	struct rte_mbuf *pkts[SP_RX_BURST];
	unsigned total = 0;

	if (lc->tcp != NULL) {
		sp_tcp_rx_begin(lc->tcp);
	}
	if (lc->steer != NULL) {
		/*
		 * Handed-off frames first: they left their port before anything now waiting in our
		 * own queue, and a flow can move between queues (a tap sends a flow to the queue
		 * we last transmitted it on). Handed-off frames count as work, so a worker
		 * receiving them does not sleep.
		 */
		total += sp_steer_drain(lc);
	}
	for (unsigned i = 0; i < lc->nb_ifaces; i++) {
		uint16_t n = lc->io.ops->rx_burst(lc->io.ctx, lc->ifaces[i].port_id, lc->queue,
						  pkts, SP_RX_BURST);
		SP_VERIFY(n <= SP_RX_BURST);
		for (uint16_t j = 0; j < n; j++) {
			lc->qcnt[i].rx_pkts++;
			lc->qcnt[i].rx_bytes += pkts[j]->pkt_len;
			lc->cnt.rx_pkts++;
			lc->cnt.rx_bytes += pkts[j]->pkt_len;
		}
		if (lc->steer != NULL && lc->ifaces[i].steer) {
			sp_steer_rx(lc, i, pkts, n);
		} else {
			for (uint16_t j = 0; j < n; j++) {
				if (j + 1 < n) {
					rte_prefetch0(rte_pktmbuf_mtod(pkts[j + 1], void *));
				}
				sp_net_input(lc, i, pkts[j]);
			}
		}
		total += n;
	}
	if (lc->tcp != NULL) {
		sp_tcp_rx_end(lc->tcp); /* one ACK per connection for what this poll received */
	}
	if (lc->arp != NULL) {
		sp_arp_timers(lc);
	}
	if (lc->tcp != NULL) {
		sp_tcp_timers(lc->tcp);
	}
	if (lc->app_poll != NULL) {
		/* cross-core hand-offs count as work: a worker with messages does not sleep */
		total += lc->app_poll(lc->app_ctx);
	}
	sp_lcore_tx_flush(lc);
	return total;
}

static void
lcore_sleep(struct sp_lcore *lc, uint64_t us)
{
	if (lc->gate != NULL) {
		sp_intr_gate_away(lc->gate, lc->worker);
	}
	lc->clk.ops->sleep_us(lc->clk.ctx, us);
	if (lc->gate != NULL) {
		sp_intr_gate_back(lc->gate, lc->worker);
	}
}

/* Pass the gate at the top of an iteration; false: the worker was stopped while it waited. */
static bool
lcore_gate_pass(struct sp_lcore *lc)
{
	if (SP_LIKELY(sp_intr_gate_enter(lc->gate, lc->worker))) {
		return true;
	}
	lc->cnt.gate_waits++;
	do {
		if (lc->stop) {
			return false;
		}
		if (lc->idle == SP_IDLE_SLEEP) {
			lcore_sleep(lc, 1);
		} else {
			rte_pause();
		}
	} while (!sp_intr_gate_enter(lc->gate, lc->worker));
	return true;
}

/* After the loop: flush what is buffered if the gate lets us, else drop it; then away. */
static void
lcore_exit(struct sp_lcore *lc)
{
	if (lc->gate == NULL || sp_intr_gate_enter(lc->gate, lc->worker)) {
		sp_lcore_tx_flush(lc);
	} else {
		for (unsigned i = 0; i < lc->nb_ifaces; i++) {
			struct sp_txbuf *tb = &lc->tx[i];

			for (uint16_t j = 0; j < tb->n; j++) {
				lc->qcnt[i].tx_bytes -= tb->pkts[j]->pkt_len;
				lc->cnt.tx_bytes -= tb->pkts[j]->pkt_len;
			}
			lc->qcnt[i].tx_drops += tb->n;
			rte_pktmbuf_free_bulk(tb->pkts, tb->n);
			tb->n = 0;
		}
	}
	if (lc->gate != NULL) {
		sp_intr_gate_away(lc->gate, lc->worker);
	}
}

void
sp_lcore_run(struct sp_lcore *lc)
{
	uint64_t t_prev = lc->clk.ops->cycles(lc->clk.ctx);

	lc->idle_run = 0;
	lc->sleep_us = SP_SLEEP_MIN_US;
	if (lc->gate != NULL) {
		sp_intr_gate_back(lc->gate, lc->worker);
	}
	while (!lc->stop) {
		unsigned n;
		uint64_t t_now;

		if (lc->gate != NULL && !lcore_gate_pass(lc)) {
			break;
		}
		n = sp_lcore_poll(lc);

		lc->cnt.polls++;
		if (n != 0) {
			lc->cnt.polls_busy++;
			lc->idle_run = 0;
			lc->sleep_us = SP_SLEEP_MIN_US;
		} else if (lc->idle == SP_IDLE_SLEEP &&
			   ++lc->idle_run >= lc->idle_polls_before_sleep && !sp_steer_pending(lc)) {
			lcore_sleep(lc, lc->sleep_us);
			lc->cnt.sleeps++;
			lc->sleep_us = SP_MIN(lc->sleep_us * 2, lc->idle_sleep_max_us);
		}
		t_now = lc->clk.ops->cycles(lc->clk.ctx);
		if (n != 0) {
			lc->cnt.busy_cycles += t_now - t_prev;
		} else {
			lc->cnt.idle_cycles += t_now - t_prev;
		}
		t_prev = t_now;
	}
	if (lc->app_stop != NULL) {
		/* goodbyes (HTTP/2 GOAWAY): a few more polls send them and take the answers */
		lc->app_stop(lc->app_ctx);
		for (unsigned i = 0; i < SP_LCORE_DRAIN_POLLS; i++) {
			if (lc->gate != NULL && !sp_intr_gate_enter(lc->gate, lc->worker)) {
				break;
			}
			(void)sp_lcore_poll(lc);
			lcore_sleep(lc, 100);
		}
	}
	lcore_exit(lc);
}
