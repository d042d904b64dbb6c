/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: arbitrary bytes as an Ethernet frame into the receive path
 * (sp_net_input), through the test harness's packet I/O seam. Invariants checked per input:
 * no crash or sanitizer report; at most one frame answered, and only an ARP reply (42 bytes)
 * or an ICMP echo reply whose IPv4 and ICMP checksums verify and whose source is our address;
 * every mbuf freed or transmitted (no leak). Also runs a second time with the input split
 * into a burst through sp_lcore_poll, to cover the loop. The worker has an ARP cache (small,
 * so that it fills), which every ARP input goes through; a third stage sends a frame to a next
 * hop taken from the input through sp_arp_output and moves the fake clock by an amount from
 * the input, so resolution, held frames, expiry, probes and removal all run. Its invariants:
 * the cache's own (sp_arp_check), only ARP (ours or replies) and the sent frame leave, and
 * every mbuf not transmitted is held by the cache.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <spate/assert.h>

#include "net/arp.h"
#include "net/net.h"
#include "net/net_internal.h"
#include "../unit/dataplane/net_harness.h"
#include "../unit/sp_test.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct nh g_h;
static uint64_t g_ms;

#define FZ_ETHERTYPE 0x88b5 /* IEEE local experimental: the frames stage three sends */

static uint64_t
fz_cycles(void *ctx)
{
	(void)ctx;
	return g_ms;
}

static uint64_t
fz_hz(void *ctx)
{
	(void)ctx;
	return 1000;
}

static void
fz_sleep(void *ctx, uint64_t us)
{
	(void)ctx;
	(void)us;
}

static const struct sp_clock_ops fz_clock = {
    .cycles = fz_cycles,
    .hz = fz_hz,
    .sleep_us = fz_sleep,
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	struct sp_arp_conf ac = {.entries = 32, .reachable_ms = 1000, .probes = 2, .seed = 1};

	sp_test_eal_init((*argv)[0]);
	nh_init(&g_h, false);
	g_h.lc.clk.ops = &fz_clock;
	SP_VERIFY(sp_arp_create(&g_h.lc.arp, &g_h.lc, &ac) == 0);
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
	if (eth->ether_type == RTE_BE16(FZ_ETHERTYPE)) {
		SP_VERIFY(rte_is_unicast_ether_addr(&eth->dst_addr) &&
			  !rte_is_zero_ether_addr(&eth->dst_addr));
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
	unsigned answers = 0;

	/* One frame straight into the receive path: at most one answer (an ARP reply it carries
	 * may also release frames the cache held from stage three). */
	sp_net_input(&g_h.lc, 0, nh_mbuf(&g_h, data, len));
	sp_lcore_tx_flush(&g_h.lc);
	for (unsigned i = 0; i < g_h.io.tx_n; i++) {
		const struct rte_ether_hdr *eth =
		    rte_pktmbuf_mtod(g_h.io.tx[i], const struct rte_ether_hdr *);

		answers += eth->ether_type != RTE_BE16(FZ_ETHERTYPE);
		check_reply(g_h.io.tx[i]);
	}
	SP_VERIFY(answers <= 1);
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
	SP_VERIFY(rte_mempool_in_use_count(g_h.pool) == sp_arp_check(g_h.lc.arp));

	/* Stage three: a frame to a next hop from the input, then time moves on. */
	if (len >= 6) {
		static const struct rte_ether_addr hint = {{0x02, 0, 0, 0, 0, 0x99}};
		uint8_t frame[60] = {0};
		struct rte_ether_hdr *eth = (struct rte_ether_hdr *)frame;
		uint32_t nh;

		/* Mostly our /24 (198.18.0.x), sometimes anything. */
		memcpy(&nh, data + 1, 4);
		if ((data[5] & 2) == 0) {
			nh = rte_cpu_to_be_32(0xc6120000u | data[1]);
		}
		eth->src_addr = g_h.ifc.mac;
		eth->ether_type = RTE_BE16(FZ_ETHERTYPE);
		sp_arp_output(&g_h.lc, 0, nh, nh_mbuf(&g_h, frame, sizeof(frame)),
			      (data[5] & 1) ? &hint : NULL);
		g_ms += (uint64_t)data[0] * 32u;
		sp_arp_timers(&g_h.lc);
		sp_lcore_tx_flush(&g_h.lc);
		for (unsigned i = 0; i < g_h.io.tx_n; i++) {
			check_reply(g_h.io.tx[i]);
		}
		nh_clear_tx(&g_h);
		SP_VERIFY(rte_mempool_in_use_count(g_h.pool) == sp_arp_check(g_h.lc.arp));
	}
	return 0;
}
