/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet I/O seam (STYLE.md §15): everything a worker sends to or receives from a port goes
 * through this table. The DPDK implementation (pktio_dpdk.c) calls rte_eth_rx/tx_burst; tests,
 * fuzzers and the future simulator supply their own. Frames are rte_mbufs from the worker's
 * own mempool in every implementation.
 */
#ifndef SP_PKTIO_H
#define SP_PKTIO_H

#include <stdint.h>

struct rte_mbuf;

struct sp_pktio_ops {
	/* Receive up to n frames from (port, queue). Returns the count received. */
	uint16_t (*rx_burst)(void *ctx, uint16_t port, uint16_t queue, struct rte_mbuf **pkts,
			     uint16_t n);
	/*
	 * Hand up to n frames to (port, queue) for transmission. Returns the count accepted;
	 * the caller still owns the rest.
	 */
	uint16_t (*tx_burst)(void *ctx, uint16_t port, uint16_t queue, struct rte_mbuf **pkts,
			     uint16_t n);
};

struct sp_pktio {
	const struct sp_pktio_ops *ops;
	void *ctx;
};

/* The real implementation over DPDK ethdev queues (ctx unused). */
extern const struct sp_pktio_ops sp_pktio_dpdk_ops;

#endif /* SP_PKTIO_H */
