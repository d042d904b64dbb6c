/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * struct sp_lcore: everything one worker lcore owns (STYLE.md §4). One per worker, in a
 * cache-aligned array built by main.c before launch; passed explicitly as the first argument
 * of every hot-path function. Nothing in it is written by another lcore except `stop`, which
 * the main lcore sets once at shutdown. The main lcore reads the counters for reports.
 */
#ifndef SP_LCORE_H
#define SP_LCORE_H

#include <stdbool.h>
#include <stdint.h>

#include <spate/compiler.h>
#include <spate/limits.h>

#include "../dp_config.h"
#include "../net/iface.h"
#include "clock.h"
#include "counters.h"
#include "pktio.h"

struct rte_mbuf;
struct rte_mempool;
struct sp_arp;
struct sp_tcp;
struct sp_api;
struct sp_steer;
struct sp_intr_gate;

#define SP_RX_BURST 32	   /* frames taken from one rx queue per poll */
#define SP_TX_BUF 64	   /* frames buffered per port before a tx burst */
#define SP_TX_RETRIES 8	   /* tx bursts tried on a full queue before dropping */
#define SP_SLEEP_MIN_US 1 /* first idle sleep; doubles up to idle_sleep_max_us */

struct sp_txbuf {
	uint16_t n;
	struct rte_mbuf *pkts[SP_TX_BUF];
};

/* Polls a stopping worker makes after app_stop(), 100 us apart, for its goodbyes to leave. */
#define SP_LCORE_DRAIN_POLLS 64u

struct sp_lcore {
	/* Identity: written before launch, read-only afterwards. */
	unsigned lcore_id;
	unsigned worker; /* index among workers, 0..workers-1 */
	uint16_t queue;	 /* the rx/tx queue this worker owns on every port */

	/* Seams to the outside world. */
	struct sp_pktio io;
	struct sp_clock clk;

	/* Ports, read-only after start (shared by all workers). */
	unsigned nb_ifaces;
	const struct sp_iface *ifaces;
	struct rte_mempool *pool; /* this worker's mbufs (its rx queues allocate from it) */
	struct sp_arp *arp;	  /* this worker's neighbour cache (NULL: answer ARP only) */
	struct sp_tcp *tcp;	  /* this worker's TCP stack (NULL: TCP not served) */
	struct sp_api *api;	  /* this worker's Kinesis API service (NULL: not served) */
	/* The application's per-poll work (cross-core rings, timeouts; the load generator's
	 * connects) on app_ctx; returns work done. A pointer, not a call, so the stack's library
	 * does not link the layers above it. */
	unsigned (*app_poll)(void *app_ctx);
	/* Called once when the worker is told to stop (NULL: nothing to say goodbye to); the
	 * worker then polls SP_LCORE_DRAIN_POLLS more times so that what it queued leaves. */
	void (*app_stop)(void *app_ctx);
	void *app_ctx;
	/* Software flow steering (net/steer.h) for ports with iface.steer; NULL: off. */
	struct sp_steer *steer;
	/* The interrupt-thread gate (core/intr_gate.h), shared; NULL: no port needs it. */
	struct sp_intr_gate *gate;

	/* Idle policy and its state. */
	enum sp_idle_policy idle;
	uint32_t idle_polls_before_sleep;
	uint32_t idle_sleep_max_us;
	uint32_t idle_run; /* empty polls in a row */
	uint32_t sleep_us; /* next sleep length */

	/* Set by the main lcore at shutdown; the worker loop exits when it sees it. */
	volatile bool stop;

	struct sp_txbuf tx[SP_MAX_PORTS];

	struct sp_counters cnt;
	struct sp_queue_counters qcnt[SP_MAX_PORTS];
} SP_CACHE_ALIGNED;

/*
 * Queue a frame for transmission on interface index ifidx (not the DPDK port id); flushes
 * when the buffer fills. Takes ownership of m in every case.
 */
void sp_lcore_tx(struct sp_lcore *lc, unsigned ifidx, struct rte_mbuf *m);

/* Transmit every buffered frame; frames the port refuses after SP_TX_RETRIES are dropped. */
void sp_lcore_tx_flush(struct sp_lcore *lc);

/*
 * One poll of every port: rx, input (or hand-off to the flow's owner on a steered port), the
 * frames other workers handed over, timers, app work, tx flush. Returns the work done.
 */
unsigned sp_lcore_poll(struct sp_lcore *lc);

/*
 * The worker loop: poll until lc->stop, applying the idle policy. With a gate, every
 * iteration starts by passing it (waiting while it is closed), and the worker is away from it
 * while it sleeps.
 */
void sp_lcore_run(struct sp_lcore *lc);

#endif /* SP_LCORE_H */
