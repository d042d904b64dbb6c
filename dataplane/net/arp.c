/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ARP for IPv4 over Ethernet (RFC 826): answers requests for our address by turning the
 * request mbuf into the reply in place. Probes (sender 0.0.0.0, RFC 5227 2.1.1) for our address
 * are answered too, so a host probing for a conflict learns the address is taken. The cache of
 * learned neighbours (needed once we originate traffic) arrives with the TCP stack; until then
 * other ARP traffic is counted and dropped. Runs on the receiving worker.
 */
#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include <spate/assert.h>

#include "net_internal.h"

#define ARP_FRAME_LEN (sizeof(struct rte_ether_hdr) + sizeof(struct rte_arp_hdr))

void
sp_arp_input(struct sp_lcore *lc, const struct sp_iface *ifc, unsigned ifidx, struct rte_mbuf *m)
{
	struct rte_ether_hdr *eth;
	struct rte_arp_hdr *arp;
	struct rte_arp_ipv4 *a;
	uint16_t op;
	uint32_t sip;

	if (SP_UNLIKELY(m->data_len < ARP_FRAME_LEN)) {
		SP_NET_DROP(lc, m, drop_arp_short);
		return;
	}
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	arp = (struct rte_arp_hdr *)(eth + 1);
	a = &arp->arp_data;
	op = rte_be_to_cpu_16(arp->arp_opcode);
	if (SP_UNLIKELY(arp->arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) ||
			arp->arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) ||
			arp->arp_hlen != RTE_ETHER_ADDR_LEN || arp->arp_plen != 4 ||
			(op != RTE_ARP_OP_REQUEST && op != RTE_ARP_OP_REPLY))) {
		SP_NET_DROP(lc, m, drop_arp_format);
		return;
	}
	sip = a->arp_sip;
	if (SP_UNLIKELY(!rte_is_unicast_ether_addr(&a->arp_sha) ||
			rte_is_zero_ether_addr(&a->arp_sha) || sp_ipv4_is_multicast(sip) ||
			sp_ipv4_is_limited_bcast(sip) || sip == ifc->ipv4_bcast)) {
		SP_NET_DROP(lc, m, drop_arp_bad_sender);
		return;
	}
	if (op != RTE_ARP_OP_REQUEST) {
		lc->cnt.arp_other_in++;
		rte_pktmbuf_free(m);
		return;
	}
	if (a->arp_tip != ifc->ipv4) {
		SP_NET_DROP(lc, m, drop_arp_not_for_us);
		return;
	}
	lc->cnt.arp_req_in++;

	/* Build the reply in place (RFC 826, "Packet Reception"). */
	rte_ether_addr_copy(&a->arp_sha, &eth->dst_addr);
	rte_ether_addr_copy(&ifc->mac, &eth->src_addr);
	arp->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
	rte_ether_addr_copy(&a->arp_sha, &a->arp_tha);
	a->arp_tip = sip;
	rte_ether_addr_copy(&ifc->mac, &a->arp_sha);
	a->arp_sip = ifc->ipv4;
	/* Drop any trailer the sender padded the request with. */
	if (m->data_len > ARP_FRAME_LEN) {
		int rc = rte_pktmbuf_trim(m, (uint16_t)(m->data_len - ARP_FRAME_LEN));
		SP_VERIFY(rc == 0);
	}
	SP_VERIFY(m->pkt_len == ARP_FRAME_LEN);
	m->ol_flags = 0;
	lc->cnt.arp_reply_out++;
	sp_lcore_tx(lc, ifidx, m);
}
