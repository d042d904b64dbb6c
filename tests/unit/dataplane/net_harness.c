/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test double for the packet I/O seam (see net_harness.h). Single-threaded, test code only.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <spate/assert.h>

#include "net_harness.h"

static uint16_t
nh_rx(void *ctx, uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	struct nh_io *io = ctx;
	uint16_t k = (uint16_t)SP_MIN((unsigned)n, io->rx_n);

	(void)port;
	(void)queue;
	memcpy(pkts, io->rx, k * sizeof(pkts[0]));
	memmove(io->rx, io->rx + k, (io->rx_n - k) * sizeof(io->rx[0]));
	io->rx_n -= k;
	return k;
}

static uint16_t
nh_tx(void *ctx, uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
	struct nh_io *io = ctx;
	uint16_t k = (uint16_t)SP_MIN((unsigned)n, io->tx_accept);

	(void)port;
	(void)queue;
	k = (uint16_t)SP_MIN((unsigned)k, NH_MAX_FRAMES - io->tx_n);
	memcpy(io->tx + io->tx_n, pkts, k * sizeof(pkts[0]));
	io->tx_n += k;
	return k;
}

static const struct sp_pktio_ops nh_ops = {
    .rx_burst = nh_rx,
    .tx_burst = nh_tx,
};

static uint64_t
nh_cycles(void *ctx)
{
	(void)ctx;
	return 0;
}

static uint64_t
nh_hz(void *ctx)
{
	(void)ctx;
	return 1;
}

static void
nh_sleep(void *ctx, uint64_t us)
{
	(void)ctx;
	(void)us;
}

static const struct sp_clock_ops nh_clock = {
    .cycles = nh_cycles,
    .hz = nh_hz,
    .sleep_us = nh_sleep,
};

uint64_t nh_now_ms;

static uint64_t
nh_ms_cycles(void *ctx)
{
	(void)ctx;
	return nh_now_ms;
}

static uint64_t
nh_ms_hz(void *ctx)
{
	(void)ctx;
	return 1000; /* one cycle per millisecond */
}

const struct sp_clock_ops nh_ms_clock = {
    .cycles = nh_ms_cycles,
    .hz = nh_ms_hz,
    .sleep_us = nh_sleep,
};

void
nh_init(struct nh *h, bool tx_ipv4_cksum)
{
	static unsigned seq;
	char name[32];
	struct rte_ether_addr mac = {{0x02, 0, 0, 0, 0, 0x02}};

	memset(h, 0, sizeof(*h));
	snprintf(name, sizeof(name), "nh_pool_%u", seq++);
	h->pool =
	    rte_pktmbuf_pool_create(name, 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	SP_VERIFY(h->pool != NULL);
	h->ifc.port_id = 0;
	h->ifc.mac = mac;
	h->ifc.ipv4 = inet_addr(NH_OUR_IP);
	h->ifc.prefix_len = 24;
	h->ifc.ipv4_mask = inet_addr("255.255.255.0");
	h->ifc.ipv4_bcast = inet_addr("198.18.0.255");
	h->ifc.tx_ipv4_cksum = tx_ipv4_cksum;
	snprintf(h->ifc.name, sizeof(h->ifc.name), "test0");
	h->io.tx_accept = NH_MAX_FRAMES;
	h->lc.io.ops = &nh_ops;
	h->lc.io.ctx = &h->io;
	h->lc.clk.ops = &nh_clock;
	h->lc.nb_ifaces = 1;
	h->lc.ifaces = &h->ifc;
	h->lc.pool = h->pool;
	h->lc.idle = SP_IDLE_SLEEP;
	h->lc.idle_polls_before_sleep = 1;
	h->lc.idle_sleep_max_us = 8;
}

void
nh_clear_tx(struct nh *h)
{
	for (unsigned i = 0; i < h->io.tx_n; i++) {
		rte_pktmbuf_free(h->io.tx[i]);
	}
	h->io.tx_n = 0;
}

void
nh_fini(struct nh *h)
{
	nh_clear_tx(h);
	for (unsigned i = 0; i < h->io.rx_n; i++) {
		rte_pktmbuf_free(h->io.rx[i]);
	}
	h->io.rx_n = 0;
	/* Every mbuf the receive path took must have been freed or transmitted. */
	SP_VERIFY(rte_mempool_in_use_count(h->pool) == 0);
	rte_mempool_free(h->pool);
}

struct rte_mbuf *
nh_mbuf(struct nh *h, const void *frame, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(h->pool);
	char *p;

	SP_VERIFY(m != NULL);
	p = rte_pktmbuf_append(m, len);
	SP_VERIFY(p != NULL || len == 0);
	if (len > 0) {
		memcpy(p, frame, len);
	}
	return m;
}

uint16_t
nh_build_arp(struct nh *h, uint8_t *buf, uint16_t op, const char *target_ip)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)buf;
	struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);
	struct rte_ether_addr peer = {{0x02, 0, 0, 0, 0, 0x01}};

	(void)h;
	memset(eth->dst_addr.addr_bytes, 0xff, RTE_ETHER_ADDR_LEN);
	eth->src_addr = peer;
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
	arp->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	arp->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	arp->arp_hlen = 6;
	arp->arp_plen = 4;
	arp->arp_opcode = rte_cpu_to_be_16(op);
	arp->arp_data.arp_sha = peer;
	arp->arp_data.arp_sip = inet_addr(NH_PEER_IP);
	memset(&arp->arp_data.arp_tha, 0, sizeof(arp->arp_data.arp_tha));
	arp->arp_data.arp_tip = inet_addr(target_ip);
	return (uint16_t)(sizeof(*eth) + sizeof(*arp));
}

uint16_t
nh_build_icmp_echo(struct nh *h, uint8_t *buf, uint16_t payload_len, uint16_t pad)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)buf;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_icmp_hdr *icmp = (struct rte_icmp_hdr *)(ip + 1);
	uint8_t *data = (uint8_t *)(icmp + 1);
	struct rte_ether_addr peer = {{0x02, 0, 0, 0, 0, 0x01}};
	uint16_t total = (uint16_t)(sizeof(*ip) + sizeof(*icmp) + payload_len);

	eth->dst_addr = h->ifc.mac;
	eth->src_addr = peer;
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16(total);
	ip->packet_id = RTE_BE16(0x1234);
	ip->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_ICMP;
	ip->src_addr = inet_addr(NH_PEER_IP);
	ip->dst_addr = inet_addr(NH_OUR_IP);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	icmp->icmp_type = RTE_IP_ICMP_ECHO_REQUEST;
	icmp->icmp_code = 0;
	icmp->icmp_cksum = 0;
	icmp->icmp_ident = RTE_BE16(0x4242);
	icmp->icmp_seq_nb = RTE_BE16(7);
	for (uint16_t i = 0; i < payload_len; i++) {
		data[i] = (uint8_t)(i * 7 + 3);
	}
	icmp->icmp_cksum = (uint16_t)~rte_raw_cksum(icmp, sizeof(*icmp) + payload_len);
	memset(data + payload_len, 0xee, pad); /* link-layer padding after the datagram */
	return (uint16_t)(sizeof(*eth) + total + pad);
}
