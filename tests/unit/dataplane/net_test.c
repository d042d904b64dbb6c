/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the receive path (dataplane/net/) and the worker's tx buffering
 * (dataplane/core/lcore.c), through the packet I/O seam with no NIC. Runs EAL --no-huge.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "../sp_test.h"

#include "net/net.h"
#include "net/net_internal.h"
#include "net_harness.h"
#include "tcp/tcp_internal.h"

static uint8_t g_buf[2048];

static void
feed(struct nh *h, uint16_t len)
{
	sp_net_input(&h->lc, 0, nh_mbuf(h, g_buf, len));
	sp_lcore_tx_flush(&h->lc);
}

static void
test_arp_request_for_us(void **state)
{
	struct nh h;
	uint16_t len;
	const struct rte_ether_hdr *eth;
	const struct rte_arp_hdr *arp;

	(void)state;
	nh_init(&h, false);
	len = nh_build_arp(&h, g_buf, RTE_ARP_OP_REQUEST, NH_OUR_IP);
	memset(g_buf + len, 0, 18); /* minimum-frame padding, as on the wire */
	feed(&h, (uint16_t)(len + 18));
	assert_int_equal(h.io.tx_n, 1);
	assert_int_equal(h.lc.cnt.arp_req_in, 1);
	assert_int_equal(h.lc.cnt.arp_reply_out, 1);
	assert_int_equal(h.io.tx[0]->pkt_len, 42);
	eth = rte_pktmbuf_mtod(h.io.tx[0], const struct rte_ether_hdr *);
	arp = (const struct rte_arp_hdr *)(eth + 1);
	assert_true(rte_is_same_ether_addr(&eth->src_addr, &h.ifc.mac));
	assert_int_equal(eth->dst_addr.addr_bytes[5], 0x01);
	assert_int_equal(rte_be_to_cpu_16(arp->arp_opcode), RTE_ARP_OP_REPLY);
	assert_true(rte_is_same_ether_addr(&arp->arp_data.arp_sha, &h.ifc.mac));
	assert_int_equal(arp->arp_data.arp_sip, h.ifc.ipv4);
	assert_int_equal(arp->arp_data.arp_tip, inet_addr(NH_PEER_IP));
	assert_int_equal(arp->arp_data.arp_tha.addr_bytes[5], 0x01);
	nh_fini(&h);
}

static void
test_arp_drops(void **state)
{
	struct nh h;
	uint16_t len;
	struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(g_buf + sizeof(struct rte_ether_hdr));

	(void)state;
	nh_init(&h, false);
	len = nh_build_arp(&h, g_buf, RTE_ARP_OP_REQUEST, "198.18.0.77");
	feed(&h, len);
	assert_int_equal(h.lc.cnt.drop_arp_not_for_us, 1);

	len = nh_build_arp(&h, g_buf, RTE_ARP_OP_REQUEST, NH_OUR_IP);
	feed(&h, (uint16_t)(len - 1));
	assert_int_equal(h.lc.cnt.drop_arp_short, 1);

	arp->arp_hlen = 8;
	feed(&h, len);
	assert_int_equal(h.lc.cnt.drop_arp_format, 1);
	len = nh_build_arp(&h, g_buf, 9, NH_OUR_IP);
	feed(&h, len);
	assert_int_equal(h.lc.cnt.drop_arp_format, 2);

	len = nh_build_arp(&h, g_buf, RTE_ARP_OP_REQUEST, NH_OUR_IP);
	arp->arp_data.arp_sip = inet_addr("255.255.255.255");
	feed(&h, len);
	assert_int_equal(h.lc.cnt.drop_arp_bad_sender, 1);

	/* Replies: to us (counted as such; learned only with a cache), or to someone else. */
	len = nh_build_arp(&h, g_buf, RTE_ARP_OP_REPLY, NH_OUR_IP);
	feed(&h, len);
	assert_int_equal(h.lc.cnt.arp_reply_in, 1);
	len = nh_build_arp(&h, g_buf, RTE_ARP_OP_REPLY, "198.18.0.77");
	feed(&h, len);
	assert_int_equal(h.lc.cnt.arp_other_in, 1);

	/* RFC 5227 probe (sender 0.0.0.0) for our address is answered. */
	len = nh_build_arp(&h, g_buf, RTE_ARP_OP_REQUEST, NH_OUR_IP);
	arp->arp_data.arp_sip = 0;
	feed(&h, len);
	assert_int_equal(h.lc.cnt.arp_reply_out, 1);
	assert_int_equal(h.io.tx_n, 1);
	nh_fini(&h);
}

static void
check_echo_reply(struct nh *h, struct rte_mbuf *m, uint16_t payload_len, bool offload)
{
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eth + 1);
	const struct rte_icmp_hdr *icmp = (const struct rte_icmp_hdr *)(ip + 1);
	const uint8_t *data = (const uint8_t *)(icmp + 1);

	assert_int_equal(m->pkt_len, sizeof(*eth) + sizeof(*ip) + sizeof(*icmp) + payload_len);
	assert_true(rte_is_same_ether_addr(&eth->src_addr, &h->ifc.mac));
	assert_int_equal(ip->src_addr, h->ifc.ipv4);
	assert_int_equal(ip->dst_addr, inet_addr(NH_PEER_IP));
	assert_int_equal(ip->time_to_live, 64);
	if (offload) {
		assert_int_equal(ip->hdr_checksum, 0);
		assert_true(m->ol_flags & RTE_MBUF_F_TX_IP_CKSUM);
		assert_true(m->ol_flags & RTE_MBUF_F_TX_IPV4);
		assert_int_equal(m->l2_len, sizeof(*eth));
		assert_int_equal(m->l3_len, sizeof(*ip));
	} else {
		assert_true(sp_csum_ok(ip, sizeof(*ip)));
		assert_int_equal(m->ol_flags, 0);
	}
	assert_int_equal(icmp->icmp_type, RTE_IP_ICMP_ECHO_REPLY);
	assert_int_equal(icmp->icmp_ident, RTE_BE16(0x4242));
	assert_int_equal(icmp->icmp_seq_nb, RTE_BE16(7));
	assert_true(sp_csum_ok(icmp, sizeof(*icmp) + payload_len));
	for (uint16_t i = 0; i < payload_len; i++) {
		assert_int_equal(data[i], (uint8_t)(i * 7 + 3));
	}
}

static void
test_icmp_echo(void **state)
{
	static const uint16_t sizes[] = {0, 1, 7, 56, 1000, 1472};
	struct nh h;

	(void)state;
	for (int offload = 0; offload <= 1; offload++) {
		nh_init(&h, offload != 0);
		for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			uint16_t len =
			    nh_build_icmp_echo(&h, g_buf, sizes[i], sizes[i] < 18 ? 18 : 0);
			feed(&h, len);
			assert_int_equal(h.io.tx_n, 1);
			check_echo_reply(&h, h.io.tx[0], sizes[i], offload != 0);
			nh_clear_tx(&h);
		}
		assert_int_equal(h.lc.cnt.icmp_echo_in, 6);
		assert_int_equal(h.lc.cnt.icmp_echo_reply_out, 6);
		nh_fini(&h);
	}
}

/* A mutation of a valid 56-byte echo request, and the counter it must move. */
struct drop_case {
	const char *what;
	void (*mutate)(uint8_t *f, uint16_t *len);
	size_t counter; /* offsetof(struct sp_counters, x) */
};

#define IP(f)   ((struct rte_ipv4_hdr *)((f) + sizeof(struct rte_ether_hdr)))
#define ICMP(f) ((struct rte_icmp_hdr *)((f) + sizeof(struct rte_ether_hdr) + 20))

static void
fix_ip_csum(uint8_t *f)
{
	IP(f)->hdr_checksum = 0;
	IP(f)->hdr_checksum = rte_ipv4_cksum(IP(f));
}

static void
m_eth_short(uint8_t *f, uint16_t *len)
{
	(void)f;
	*len = 13;
}
static void
m_eth_other_mac(uint8_t *f, uint16_t *len)
{
	(void)len;
	f[5] = 0x99;
}
static void
m_eth_bad_src(uint8_t *f, uint16_t *len)
{
	(void)len;
	f[6] = 0x01;
}
static void
m_eth_vlan(uint8_t *f, uint16_t *len)
{
	(void)len;
	f[12] = 0x81;
	f[13] = 0x00;
}
static void
m_eth_ipv6(uint8_t *f, uint16_t *len)
{
	(void)len;
	f[12] = 0x86;
	f[13] = 0xdd;
}
static void
m_eth_bcast_other(uint8_t *f, uint16_t *len)
{
	(void)len;
	memset(f, 0xff, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
}
static void
m_eth_bcast_unicast_ip(uint8_t *f, uint16_t *len)
{
	(void)len;
	memset(f, 0xff, 6);
}
static void
m_ip_short(uint8_t *f, uint16_t *len)
{
	(void)f;
	*len = 14 + 19;
}
static void
m_ip_version(uint8_t *f, uint16_t *len)
{
	(void)len;
	IP(f)->version_ihl = 0x65;
	fix_ip_csum(f);
}
static void
m_ip_ihl_small(uint8_t *f, uint16_t *len)
{
	(void)len;
	IP(f)->version_ihl = 0x44;
}
static void
m_ip_ihl_big(uint8_t *f, uint16_t *len)
{
	*len = 14 + 40;
	IP(f)->version_ihl = 0x4f;
}
static void
m_ip_len_big(uint8_t *f, uint16_t *len)
{
	(void)len;
	IP(f)->total_length = rte_cpu_to_be_16(2000);
	fix_ip_csum(f);
}
static void
m_ip_len_small(uint8_t *f, uint16_t *len)
{
	(void)len;
	IP(f)->total_length = rte_cpu_to_be_16(10);
	fix_ip_csum(f);
}
static void
m_ip_csum(uint8_t *f, uint16_t *len)
{
	(void)len;
	IP(f)->hdr_checksum ^= 0x0101;
}
static void
m_ip_options(uint8_t *f, uint16_t *len)
{
	(void)len;
	IP(f)->version_ihl = 0x46; /* header now swallows the ICMP header's first word */
	fix_ip_csum(f);
}
static void
m_ip_frag_mf(uint8_t *f, uint16_t *len)
{
	(void)len;
	IP(f)->fragment_offset = RTE_BE16(RTE_IPV4_HDR_MF_FLAG);
	fix_ip_csum(f);
}
static void
m_ip_frag_off(uint8_t *f, uint16_t *len)
{
	(void)len;
	IP(f)->fragment_offset = RTE_BE16(100);
	fix_ip_csum(f);
}
static void
m_ip_src_bcast(uint8_t *f, uint16_t *len)
{
	(void)len;
	IP(f)->src_addr = inet_addr("255.255.255.255");
	fix_ip_csum(f);
}
static void
m_ip_src_loop(uint8_t *f, uint16_t *len)
{
	(void)len;
	IP(f)->src_addr = inet_addr("127.0.0.1");
	fix_ip_csum(f);
}
static void
m_ip_dst_bcast(uint8_t *f, uint16_t *len)
{
	(void)len;
	memset(f, 0xff, 6);
	IP(f)->dst_addr = inet_addr("255.255.255.255");
	fix_ip_csum(f);
}
static void
m_ip_dst_subnet_bcast(uint8_t *f, uint16_t *len)
{
	(void)len;
	IP(f)->dst_addr = inet_addr("198.18.0.255");
	fix_ip_csum(f);
}
static void
m_ip_dst_other(uint8_t *f, uint16_t *len)
{
	(void)len;
	IP(f)->dst_addr = inet_addr("198.18.0.3");
	fix_ip_csum(f);
}
static void
m_ip_proto(uint8_t *f, uint16_t *len)
{
	(void)len;
	IP(f)->next_proto_id = IPPROTO_TCP;
	fix_ip_csum(f);
}
static void
m_icmp_short(uint8_t *f, uint16_t *len)
{
	IP(f)->total_length = rte_cpu_to_be_16(20 + 4);
	fix_ip_csum(f);
	*len = 14 + 20 + 4;
}
static void
m_icmp_csum(uint8_t *f, uint16_t *len)
{
	(void)len;
	ICMP(f)->icmp_cksum ^= 0x0001;
}
static void
m_icmp_type(uint8_t *f, uint16_t *len)
{
	(void)len;
	ICMP(f)->icmp_cksum =
	    sp_csum_update16(ICMP(f)->icmp_cksum, RTE_BE16(0x0800), RTE_BE16(0x0d00));
	ICMP(f)->icmp_type = 13; /* timestamp request */
}

#define DC(w, fn, c)                                                                               \
	{                                                                                          \
		w, fn, offsetof(struct sp_counters, c)                                             \
	}
static const struct drop_case drop_cases[] = {
    DC("short frame", m_eth_short, drop_eth_short),
    DC("other MAC", m_eth_other_mac, drop_eth_not_for_us),
    DC("multicast src", m_eth_bad_src, drop_eth_bad_src),
    DC("VLAN", m_eth_vlan, drop_eth_type),
    DC("IPv6", m_eth_ipv6, drop_eth_type),
    DC("bcast non-IP", m_eth_bcast_other, drop_eth_bcast),
    DC("bcast with unicast IP", m_eth_bcast_unicast_ip, drop_eth_bcast),
    DC("IP short", m_ip_short, drop_ip_short),
    DC("IP version", m_ip_version, drop_ip_version),
    DC("IHL < 5", m_ip_ihl_small, drop_ip_ihl),
    DC("IHL beyond frame", m_ip_ihl_big, drop_ip_ihl),
    DC("total length > frame", m_ip_len_big, drop_ip_len),
    DC("total length < IHL", m_ip_len_small, drop_ip_len),
    DC("IP checksum", m_ip_csum, drop_ip_csum),
    DC("IP options", m_ip_options, drop_ip_options),
    DC("fragment MF", m_ip_frag_mf, drop_ip_frag),
    DC("fragment offset", m_ip_frag_off, drop_ip_frag),
    DC("src broadcast", m_ip_src_bcast, drop_ip_bad_src),
    DC("src loopback", m_ip_src_loop, drop_ip_bad_src),
    DC("dst 255.255.255.255", m_ip_dst_bcast, drop_ip_bcast),
    DC("dst subnet broadcast", m_ip_dst_subnet_bcast, drop_ip_bcast),
    DC("dst other host", m_ip_dst_other, drop_ip_not_for_us),
    DC("TCP not served yet", m_ip_proto, drop_ip_proto),
    DC("ICMP short", m_icmp_short, drop_icmp_short),
    DC("ICMP checksum", m_icmp_csum, drop_icmp_csum),
    DC("ICMP type", m_icmp_type, drop_icmp_type),
};

static void
test_drop_reasons(void **state)
{
	struct nh h;

	(void)state;
	nh_init(&h, false);
	for (unsigned i = 0; i < sizeof(drop_cases) / sizeof(drop_cases[0]); i++) {
		const struct drop_case *dc = &drop_cases[i];
		struct sp_counters before = h.lc.cnt;
		uint16_t len = nh_build_icmp_echo(&h, g_buf, 56, 0);
		unsigned moved = 0;

		dc->mutate(g_buf, &len);
		feed(&h, len);
		for (unsigned c = 0; c < SP_CNT__COUNT; c++) {
			uint64_t d = sp_counter_get(&h.lc.cnt, c) - sp_counter_get(&before, c);
			size_t off = (size_t)c * sizeof(uint64_t);
			if (off == dc->counter) {
				if (d != 1) {
					fail_msg("%s: %s moved by %lu", dc->what,
						 sp_counter_name(c), (unsigned long)d);
				}
				moved++;
			} else if (d != 0 && strncmp(sp_counter_name(c), "drop_", 5) == 0) {
				fail_msg("%s: unexpected %s", dc->what, sp_counter_name(c));
			}
		}
		assert_int_equal(moved, 1);
		if (h.io.tx_n != 0) {
			fail_msg("%s: answered", dc->what);
		}
	}
	nh_fini(&h);
}

static void
test_csum_update(void **state)
{
	uint8_t buf[64];

	(void)state;
	srand(42);
	for (int iter = 0; iter < 10000; iter++) {
		uint16_t csum, old_word, new_word;
		unsigned w = (unsigned)rand() % 32;

		for (unsigned i = 0; i < sizeof(buf); i++) {
			buf[i] = (uint8_t)rand();
		}
		buf[0] = 0;
		buf[1] = 0;
		csum = (uint16_t)~rte_raw_cksum(buf, sizeof(buf));
		memcpy(buf, &csum, 2);
		if (w == 0) {
			w = 1;
		}
		memcpy(&old_word, buf + 2 * w, 2);
		new_word = (uint16_t)rand();
		memcpy(buf + 2 * w, &new_word, 2);
		csum = sp_csum_update16(csum, old_word, new_word);
		memcpy(buf, &csum, 2);
		assert_true(sp_csum_ok(buf, sizeof(buf)));
	}
}

static void
test_tx_buffer_and_drops(void **state)
{
	struct nh h;

	(void)state;
	nh_init(&h, false);
	/* A full tx buffer flushes by itself. */
	for (unsigned i = 0; i < SP_TX_BUF; i++) {
		uint16_t len = nh_build_icmp_echo(&h, g_buf, 8, 0);
		sp_net_input(&h.lc, 0, nh_mbuf(&h, g_buf, len));
	}
	assert_int_equal(h.io.tx_n, SP_TX_BUF);
	assert_int_equal(h.lc.cnt.tx_pkts, SP_TX_BUF);
	nh_clear_tx(&h);
	/* A port that refuses everything: frames are dropped, counted and freed. */
	h.io.tx_accept = 0;
	for (unsigned i = 0; i < 5; i++) {
		uint16_t len = nh_build_icmp_echo(&h, g_buf, 8, 0);
		sp_net_input(&h.lc, 0, nh_mbuf(&h, g_buf, len));
	}
	sp_lcore_tx_flush(&h.lc);
	assert_int_equal(h.lc.cnt.tx_drop_full, 5);
	assert_int_equal(h.lc.qcnt[0].tx_drops, 5);
	assert_int_equal(h.lc.cnt.tx_pkts, SP_TX_BUF);
	assert_int_equal(h.lc.cnt.tx_bytes, h.lc.qcnt[0].tx_bytes);
	assert_int_equal(h.lc.cnt.tx_bytes, SP_TX_BUF * (14 + 20 + 8 + 8));
	nh_fini(&h); /* verifies that no mbuf leaked */
}

static void
test_poll_counts_queues(void **state)
{
	struct nh h;

	(void)state;
	nh_init(&h, false);
	for (unsigned i = 0; i < 40; i++) {
		uint16_t len = nh_build_icmp_echo(&h, g_buf, 16, 0);
		h.io.rx[h.io.rx_n++] = nh_mbuf(&h, g_buf, len);
	}
	assert_int_equal(sp_lcore_poll(&h.lc), SP_RX_BURST);
	assert_int_equal(sp_lcore_poll(&h.lc), 40 - SP_RX_BURST);
	assert_int_equal(sp_lcore_poll(&h.lc), 0);
	assert_int_equal(h.lc.qcnt[0].rx_pkts, 40);
	assert_int_equal(h.lc.cnt.rx_pkts, 40);
	assert_int_equal(h.lc.cnt.rx_bytes, 40 * (14 + 20 + 8 + 16));
	assert_int_equal(h.lc.qcnt[0].tx_pkts, 40);
	assert_int_equal(h.io.tx_n, 40);
	nh_fini(&h);
}

/* Records the idle policy's sleeps; injects a frame after the 3rd, stops after the 8th. */
struct idle_rec {
	struct nh *h;
	uint64_t sleeps[16];
	unsigned n;
	unsigned cycles_calls;
};

static uint64_t
rec_cycles(void *ctx)
{
	struct idle_rec *r = ctx;

	/* Spin policy never sleeps: stop it after a bounded number of iterations. */
	if (++r->cycles_calls > 200 && r->h->lc.idle == SP_IDLE_SPIN) {
		r->h->lc.stop = true;
	}
	return r->cycles_calls;
}

static uint64_t
rec_hz(void *ctx)
{
	(void)ctx;
	return 1;
}

static void
rec_sleep(void *ctx, uint64_t us)
{
	struct idle_rec *r = ctx;

	r->sleeps[r->n++] = us;
	if (r->n == 3) {
		uint16_t len = nh_build_icmp_echo(r->h, g_buf, 8, 0);
		r->h->io.rx[r->h->io.rx_n++] = nh_mbuf(r->h, g_buf, len);
	}
	if (r->n == 8) {
		r->h->lc.stop = true;
	}
}

static const struct sp_clock_ops rec_clock = {
    .cycles = rec_cycles,
    .hz = rec_hz,
    .sleep_us = rec_sleep,
};

static void
test_idle_policy(void **state)
{
	static const uint64_t expect[] = {1, 2, 4, 1, 2, 4, 8, 8};
	struct idle_rec r;
	struct nh h;

	(void)state;
	nh_init(&h, false);
	memset(&r, 0, sizeof(r));
	r.h = &h;
	h.lc.clk.ops = &rec_clock;
	h.lc.clk.ctx = &r;
	h.lc.idle_polls_before_sleep = 3;
	h.lc.idle_sleep_max_us = 8;
	sp_lcore_run(&h.lc);
	/* 2 empty polls, sleeps 1 2 4, a busy poll resets, 2 empty, sleeps 1 2 4 8 8. */
	assert_int_equal(r.n, 8);
	assert_memory_equal(r.sleeps, expect, sizeof(expect));
	assert_int_equal(h.lc.cnt.polls, 13);
	assert_int_equal(h.lc.cnt.polls_busy, 1);
	assert_int_equal(h.lc.cnt.sleeps, 8);
	assert_int_equal(h.lc.cnt.icmp_echo_reply_out, 1);
	assert_true(h.lc.cnt.busy_cycles > 0);
	assert_true(h.lc.cnt.idle_cycles > h.lc.cnt.busy_cycles);

	/* spin: never sleeps. */
	memset(&h.lc.cnt, 0, sizeof(h.lc.cnt));
	h.lc.stop = false;
	h.lc.idle = SP_IDLE_SPIN;
	r.n = 0;
	sp_lcore_run(&h.lc);
	assert_int_equal(r.n, 0);
	assert_int_equal(h.lc.cnt.sleeps, 0);
	assert_true(h.lc.cnt.polls > 50);
	nh_fini(&h);
}

/*
 * The chain checksum equals the checksum of the same bytes laid out flat, for chains cut at
 * odd and even places (the case DPDK 22.11's rte_raw_cksum_mbuf gets wrong).
 */
static void
test_cksum_chain(void **state)
{
	static uint8_t flat[8192];
	struct nh h;

	(void)state;
	nh_init(&h, false);
	srand(7);
	for (int iter = 0; iter < 2000; iter++) {
		uint32_t total = 1 + (uint32_t)rand() % 6000, done = 0, off;
		struct rte_mbuf *head = NULL;

		for (uint32_t i = 0; i < total; i++) {
			flat[i] = (uint8_t)rand();
		}
		/* Large sums make the carries matter: bias toward 0xff bytes. */
		if (iter % 2 == 0) {
			memset(flat, 0xff, total / 2);
		}
		while (done < total) {
			uint32_t n = SP_MIN(total - done, 1 + (uint32_t)rand() % 1600);
			struct rte_mbuf *m = nh_mbuf(&h, flat + done, (uint16_t)n);

			if (head == NULL) {
				head = m;
			} else {
				assert_int_equal(rte_pktmbuf_chain(head, m), 0);
			}
			done += n;
		}
		off = (uint32_t)rand() % total;
		assert_int_equal(sp_cksum_chain(head, off, total - off),
				 rte_raw_cksum(flat + off, total - off));
		rte_pktmbuf_free(head);
	}
	nh_fini(&h);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_arp_request_for_us), cmocka_unit_test(test_arp_drops),
	    cmocka_unit_test(test_icmp_echo),          cmocka_unit_test(test_drop_reasons),
	    cmocka_unit_test(test_csum_update),        cmocka_unit_test(test_tx_buffer_and_drops),
	    cmocka_unit_test(test_poll_counts_queues), cmocka_unit_test(test_idle_policy),
	    cmocka_unit_test(test_cksum_chain),
	};

	(void)argc;
	sp_test_eal_init(argv[0]);
	return cmocka_run_group_tests_name("net", tests, NULL, NULL);
}
