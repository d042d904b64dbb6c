/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ethernet demultiplexing: the first stop of every received frame. Checks the frame's size and
 * addressing and hands ARP and IPv4 up; everything else is dropped with a reason counter.
 * Runs on the worker that received the frame; touches only that worker's state.
 */
#include <rte_ether.h>
#include <rte_mbuf.h>

#include <spate/assert.h>

#include "net.h"
#include "net_internal.h"

void
sp_net_input(struct sp_lcore *lc, unsigned ifidx, struct rte_mbuf *m)
{
	const struct sp_iface *ifc;
	const struct rte_ether_hdr *eth;
	enum sp_l2_cast cast;
	uint16_t type;

	SP_VERIFY(ifidx < lc->nb_ifaces);
	ifc = &lc->ifaces[ifidx];

	if (SP_UNLIKELY(m->nb_segs != 1)) {
		SP_NET_DROP(lc, m, drop_frame_chained);
		return;
	}
	if (SP_UNLIKELY(m->data_len < sizeof(struct rte_ether_hdr))) {
		SP_NET_DROP(lc, m, drop_eth_short);
		return;
	}
	eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	if (SP_UNLIKELY(!rte_is_unicast_ether_addr(&eth->src_addr) ||
			rte_is_zero_ether_addr(&eth->src_addr))) {
		SP_NET_DROP(lc, m, drop_eth_bad_src);
		return;
	}
	if (rte_is_broadcast_ether_addr(&eth->dst_addr)) {
		cast = SP_L2_BROADCAST;
	} else if (rte_is_multicast_ether_addr(&eth->dst_addr)) {
		cast = SP_L2_MULTICAST;
	} else if (rte_is_same_ether_addr(&eth->dst_addr, &ifc->mac)) {
		cast = SP_L2_UNICAST;
	} else {
		SP_NET_DROP(lc, m, drop_eth_not_for_us);
		return;
	}

	type = rte_be_to_cpu_16(eth->ether_type);
	switch (type) {
	case RTE_ETHER_TYPE_ARP:
		/* ARP requests are broadcast; replies may be unicast. Multicast ARP is not. */
		if (cast == SP_L2_MULTICAST) {
			SP_NET_DROP(lc, m, drop_eth_bcast);
			return;
		}
		sp_arp_input(lc, ifc, ifidx, m);
		return;
	case RTE_ETHER_TYPE_IPV4:
		sp_ip_input(lc, ifc, ifidx, m, cast);
		return;
	default:
		if (cast != SP_L2_UNICAST) {
			SP_NET_DROP(lc, m, drop_eth_bcast);
		} else {
			SP_NET_DROP(lc, m, drop_eth_type);
		}
		return;
	}
}
