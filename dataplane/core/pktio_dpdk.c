/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK ethdev implementation of the packet I/O seam. Called by worker lcores on their own
 * queue pairs only, so it needs no locking (ethdev queues are single-threaded by contract).
 */
#include <rte_ethdev.h>

#include "pktio.h"

static uint16_t
pktio_dpdk_rx(void *ctx, uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	(void)ctx;
	return rte_eth_rx_burst(port, queue, pkts, n);
}

static uint16_t
pktio_dpdk_tx(void *ctx, uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	(void)ctx;
	return rte_eth_tx_burst(port, queue, pkts, n);
}

const struct sp_pktio_ops sp_pktio_dpdk_ops = {
	.rx_burst = pktio_dpdk_rx,
	.tx_burst = pktio_dpdk_tx,
};
