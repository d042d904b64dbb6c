/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * IPv4 input (RFC 791, RFC 1122 3.2.1): validates the header of every datagram before
 * anything above reads it, then delivers datagrams for our address to their protocol.
 * Policy, with the counter that records each refusal:
 *   - options are not served (drop_ip_options): nothing we speak needs them, and source
 *     routes are an attack surface;
 *   - fragments are not reassembled (drop_ip_frag): Kinesis clients send TCP with path MTU
 *     discovery, so a fragment is either an attack or a misconfigured peer;
 *   - datagrams to a broadcast/multicast address, or link-layer broadcasts carrying a unicast
 *     destination, are discarded (RFC 1122 3.3.6).
 * Runs on the receiving worker.
 */
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <spate/assert.h>

#include "../tcp/tcp_stack.h"
#include "net_internal.h"

#define IPV4_MIN_HDR 20u

void
sp_ip_input(struct sp_lcore *lc, const struct sp_iface *ifc, unsigned ifidx, struct rte_mbuf *m,
	    enum sp_l2_cast cast)
{
	struct rte_ipv4_hdr *ip;
	uint32_t l3_len, ihl, total;
	uint64_t csum_flags;

	SP_VERIFY(m->data_len >= sizeof(struct rte_ether_hdr));
	l3_len = m->data_len - (uint32_t)sizeof(struct rte_ether_hdr);
	if (SP_UNLIKELY(l3_len < IPV4_MIN_HDR)) {
		SP_NET_DROP(lc, m, drop_ip_short);
		return;
	}
	ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, sizeof(struct rte_ether_hdr));
	if (SP_UNLIKELY((ip->version_ihl >> 4) != 4)) {
		SP_NET_DROP(lc, m, drop_ip_version);
		return;
	}
	ihl = (uint32_t)(ip->version_ihl & 0x0f) * 4u;
	if (SP_UNLIKELY(ihl < IPV4_MIN_HDR || ihl > l3_len)) {
		SP_NET_DROP(lc, m, drop_ip_ihl);
		return;
	}
	total = rte_be_to_cpu_16(ip->total_length);
	if (SP_UNLIKELY(total < ihl || total > l3_len)) {
		SP_NET_DROP(lc, m, drop_ip_len);
		return;
	}
	csum_flags = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
	if (csum_flags == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
	    (csum_flags != RTE_MBUF_F_RX_IP_CKSUM_GOOD && !sp_csum_ok(ip, ihl))) {
		SP_NET_DROP(lc, m, drop_ip_csum);
		return;
	}
	if (SP_UNLIKELY(sp_ipv4_is_multicast(ip->src_addr) ||
			sp_ipv4_is_limited_bcast(ip->src_addr) ||
			ip->src_addr == ifc->ipv4_bcast || sp_ipv4_is_zero_net(ip->src_addr) ||
			sp_ipv4_is_loopback(ip->src_addr))) {
		SP_NET_DROP(lc, m, drop_ip_bad_src);
		return;
	}
	if (ip->dst_addr != ifc->ipv4) {
		if (sp_ipv4_is_limited_bcast(ip->dst_addr) || ip->dst_addr == ifc->ipv4_bcast ||
		    sp_ipv4_is_multicast(ip->dst_addr)) {
			SP_NET_DROP(lc, m, drop_ip_bcast);
		} else {
			SP_NET_DROP(lc, m, drop_ip_not_for_us);
		}
		return;
	}
	if (SP_UNLIKELY(cast != SP_L2_UNICAST)) {
		/* RFC 1122 3.3.6: link-layer broadcast with a unicast IP destination. */
		SP_NET_DROP(lc, m, drop_eth_bcast);
		return;
	}
	if (SP_UNLIKELY((ip->fragment_offset &
			 RTE_BE16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) != 0)) {
		SP_NET_DROP(lc, m, drop_ip_frag);
		return;
	}
	if (SP_UNLIKELY(ihl != IPV4_MIN_HDR)) {
		SP_NET_DROP(lc, m, drop_ip_options);
		return;
	}
	/* Cut the link-layer padding so that upper layers see exactly the datagram. */
	if (total < l3_len) {
		int rc = rte_pktmbuf_trim(m, (uint16_t)(l3_len - total));
		SP_VERIFY(rc == 0);
	}
	SP_VERIFY(m->data_len == sizeof(struct rte_ether_hdr) + total);

	switch (ip->next_proto_id) {
	case IPPROTO_ICMP:
		sp_icmp_input(lc, ifc, ifidx, m, ihl);
		return;
	case IPPROTO_TCP:
		if (lc->tcp != NULL) {
			sp_tcp_input(lc->tcp, ifidx, m, ihl);
			return;
		}
		SP_NET_DROP(lc, m, drop_ip_proto);
		return;
	default:
		SP_NET_DROP(lc, m, drop_ip_proto);
		return;
	}
}
