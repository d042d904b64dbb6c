/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ICMP (RFC 792): echo requests to our address are answered in place; every other type is
 * counted and dropped (errors about our own traffic matter once we originate TCP, and arrive
 * with the TCP stack). The reply keeps the request's identifier, sequence and data (RFC 1122
 * 3.2.2.6). Its IPv4 header checksum is left to the port when it offers the offload; the ICMP
 * checksum is updated incrementally (RFC 1624), since only the type word changes.
 * Runs on the receiving worker.
 */
#include <string.h>

#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <spate/assert.h>

#include "net_internal.h"

#define ICMP_REPLY_TTL 64

void
sp_icmp_input(struct sp_lcore *lc, const struct sp_iface *ifc, unsigned ifidx,
	      struct rte_mbuf *m, unsigned ihl_bytes)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_icmp_hdr *icmp = (struct rte_icmp_hdr *)((char *)ip + ihl_bytes);
	uint32_t icmp_len = rte_be_to_cpu_16(ip->total_length) - ihl_bytes;
	uint16_t old_word, new_word;

	SP_VERIFY(ihl_bytes == sizeof(*ip));
	SP_VERIFY(m->data_len == sizeof(*eth) + ihl_bytes + icmp_len);

	if (SP_UNLIKELY(icmp_len < sizeof(*icmp))) {
		SP_NET_DROP(lc, m, drop_icmp_short);
		return;
	}
	if (SP_UNLIKELY(!sp_csum_ok(icmp, icmp_len))) {
		SP_NET_DROP(lc, m, drop_icmp_csum);
		return;
	}
	if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || icmp->icmp_code != 0) {
		SP_NET_DROP(lc, m, drop_icmp_type);
		return;
	}
	lc->cnt.icmp_echo_in++;

	/* ICMP: type 8 -> 0; the word holding type and code changes, nothing else does. */
	memcpy(&old_word, icmp, sizeof(old_word));
	icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	memcpy(&new_word, icmp, sizeof(new_word));
	icmp->icmp_cksum = sp_csum_update16(icmp->icmp_cksum, old_word, new_word);

	/* IPv4: swap addresses, fresh TTL, no options (checked by sp_ip_input). */
	ip->dst_addr = ip->src_addr;
	ip->src_addr = ifc->ipv4;
	ip->time_to_live = ICMP_REPLY_TTL;
	ip->hdr_checksum = 0;
	m->ol_flags = 0;
	if (ifc->tx_ipv4_cksum) {
		m->l2_len = sizeof(*eth);
		m->l3_len = sizeof(*ip);
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
	} else {
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	}

	/* Ethernet: back to the sender. */
	rte_ether_addr_copy(&eth->src_addr, &eth->dst_addr);
	rte_ether_addr_copy(&ifc->mac, &eth->src_addr);

	lc->cnt.icmp_echo_reply_out++;
	sp_lcore_tx(lc, ifidx, m);
}
