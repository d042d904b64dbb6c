/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: arbitrary bytes as an Ethernet frame into the receive path
 * (sp_net_input), through the test harness's packet I/O seam. Invariants checked per input:
 * no crash or sanitizer report; at most one frame answered, and only an ARP reply (42 bytes)
 * or an ICMP echo reply whose IPv4 and ICMP checksums verify and whose source is our address;
 * every mbuf freed or transmitted (no leak). Also runs a second time with the input split
 * into a burst through sp_lcore_poll, to cover the loop.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <spate/assert.h>

#include "net/net.h"
#include "net/net_internal.h"
#include "../unit/dataplane/net_harness.h"
#include "../unit/sp_test.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct nh g_h;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	sp_test_eal_init((*argv)[0]);
	nh_init(&g_h, false);
	return 0;
}

static void
check_reply(const struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	const struct rte_ipv4_hdr *ip;
	const struct rte_icmp_hdr *icmp;

	SP_VERIFY(rte_is_same_ether_addr(&eth->src_addr, &g_h.ifc.mac));
	if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_ARP)) {
		SP_VERIFY(m->pkt_len == 42);
		return;
	}
	SP_VERIFY(eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4));
	ip = (const struct rte_ipv4_hdr *)(eth + 1);
	SP_VERIFY(ip->src_addr == g_h.ifc.ipv4);
	SP_VERIFY(sp_csum_ok(ip, sizeof(*ip)));
	SP_VERIFY(m->pkt_len == sizeof(*eth) + rte_be_to_cpu_16(ip->total_length));
	icmp = (const struct rte_icmp_hdr *)(ip + 1);
	SP_VERIFY(icmp->icmp_type == RTE_IP_ICMP_ECHO_REPLY);
	SP_VERIFY(sp_csum_ok(icmp, rte_be_to_cpu_16(ip->total_length) - sizeof(*ip)));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t len = (uint16_t)SP_MIN(size, (size_t)(RTE_MBUF_DEFAULT_DATAROOM));

	/* One frame straight into the receive path. */
	sp_net_input(&g_h.lc, 0, nh_mbuf(&g_h, data, len));
	sp_lcore_tx_flush(&g_h.lc);
	SP_VERIFY(g_h.io.tx_n <= 1);
	for (unsigned i = 0; i < g_h.io.tx_n; i++) {
		check_reply(g_h.io.tx[i]);
	}
	nh_clear_tx(&g_h);

	/* The same bytes as a burst of frames cut at every 61st byte, through the poll loop. */
	for (size_t off = 0; off < len && g_h.io.rx_n < NH_MAX_FRAMES; off += 61) {
		uint16_t n = (uint16_t)SP_MIN((size_t)61, (size_t)len - off);
		g_h.io.rx[g_h.io.rx_n++] = nh_mbuf(&g_h, data + off, n);
	}
	while (sp_lcore_poll(&g_h.lc) != 0) {
	}
	for (unsigned i = 0; i < g_h.io.tx_n; i++) {
		check_reply(g_h.io.tx[i]);
	}
	nh_clear_tx(&g_h);
	SP_VERIFY(rte_mempool_in_use_count(g_h.pool) == 0);
	return 0;
}
