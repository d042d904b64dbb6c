/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for software flow steering (dataplane/net/steer.c): the owner decision against
 * sp_rss_owner_ipv4(), and the hand-off between two harness workers through their rings —
 * counts, drops on a full ring, frame order, the pending check the idle policy uses, and that
 * every mbuf returns to the receiver's pool. Runs EAL --no-huge.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include "../sp_test.h"

#include "net/rss.h"
#include "net/steer.h"
#include "net_harness.h"

#define NW 2

static uint8_t g_buf[2048];
static struct sp_rss_ctx *g_rss;

/* An IPv4 frame peer:sport -> us:dport with protocol proto and 8 bytes of L4 after the ports. */
static uint16_t
build_l4(struct nh *h, uint8_t proto, uint16_t sport, uint16_t dport, uint16_t frag)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)g_buf;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	uint8_t *l4 = (uint8_t *)(ip + 1);
	struct rte_ether_addr peer = {{0x02, 0, 0, 0, 0, 0x01}};
	uint16_t total = (uint16_t)(sizeof(*ip) + 12);

	memset(g_buf, 0, sizeof(g_buf));
	eth->dst_addr = h->ifc.mac;
	eth->src_addr = peer;
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16(total);
	ip->fragment_offset = rte_cpu_to_be_16(frag);
	ip->time_to_live = 64;
	ip->next_proto_id = proto;
	ip->src_addr = inet_addr(NH_PEER_IP);
	ip->dst_addr = inet_addr(NH_OUR_IP);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	l4[0] = (uint8_t)(sport >> 8);
	l4[1] = (uint8_t)sport;
	l4[2] = (uint8_t)(dport >> 8);
	l4[3] = (uint8_t)dport;
	return (uint16_t)(sizeof(*eth) + total);
}

static uint16_t
want_owner(uint16_t sport, uint16_t dport)
{
	return sp_rss_owner_ipv4(g_rss, inet_addr(NH_PEER_IP), inet_addr(NH_OUR_IP),
				 rte_cpu_to_be_16(sport), rte_cpu_to_be_16(dport), NW);
}

struct pair {
	struct nh h[NW];
	struct sp_steer st[NW];
	struct rte_ring *ring[NW][NW];
};

static void
pair_init(struct pair *p, unsigned ring_size)
{
	static unsigned seq;

	for (unsigned w = 0; w < NW; w++) {
		nh_init(&p->h[w], false);
		memset(&p->st[w], 0, sizeof(p->st[w]));
		p->h[w].ifc.steer = true;
	}
	for (unsigned r = 0; r < NW; r++) {
		for (unsigned o = 0; o < NW; o++) {
			char name[RTE_RING_NAMESIZE];

			p->ring[r][o] = NULL;
			if (r == o) {
				continue;
			}
			snprintf(name, sizeof(name), "st_%u_%u_%u", seq & 0xffffu, r, o);
			p->ring[r][o] = rte_ring_create(name, ring_size, SOCKET_ID_ANY,
							RING_F_SP_ENQ | RING_F_SC_DEQ);
			assert_non_null(p->ring[r][o]);
		}
	}
	seq++;
	for (unsigned w = 0; w < NW; w++) {
		p->st[w].rss = g_rss;
		p->st[w].nb_workers = NW;
		p->st[w].self = (uint16_t)w;
		for (unsigned o = 0; o < NW; o++) {
			p->st[w].out[o] = p->ring[w][o];
			p->st[w].in[o] = p->ring[o][w];
		}
		p->h[w].lc.worker = w;
		p->h[w].lc.steer = &p->st[w];
	}
}

static void
pair_fini(struct pair *p)
{
	for (unsigned r = 0; r < NW; r++) {
		for (unsigned o = 0; o < NW; o++) {
			assert_true(p->ring[r][o] == NULL || rte_ring_empty(p->ring[r][o]));
			rte_ring_free(p->ring[r][o]);
		}
	}
	for (unsigned w = 0; w < NW; w++) {
		nh_fini(&p->h[w]); /* verifies every mbuf came back to its pool */
	}
}

static void
test_owner_decision(void **state)
{
	struct nh h;
	struct sp_steer st;
	unsigned seen[NW] = {0};

	(void)state;
	nh_init(&h, false);
	memset(&st, 0, sizeof(st));
	st.rss = g_rss;
	st.nb_workers = NW;
	st.self = 1;
	for (uint16_t sport = 40000; sport < 40200; sport++) {
		uint16_t len = build_l4(&h, IPPROTO_TCP, sport, 4567, RTE_IPV4_HDR_DF_FLAG);
		struct rte_mbuf *m = nh_mbuf(&h, g_buf, len);
		uint16_t o = sp_steer_owner(&st, m);

		assert_int_equal(o, want_owner(sport, 4567));
		seen[o]++;
		rte_pktmbuf_free(m);
		/* UDP is steered by the same 4-tuple hash. */
		len = build_l4(&h, IPPROTO_UDP, sport, 4567, 0);
		m = nh_mbuf(&h, g_buf, len);
		assert_int_equal(sp_steer_owner(&st, m), want_owner(sport, 4567));
		rte_pktmbuf_free(m);
	}
	/* Both workers own a share of 200 flows. */
	assert_true(seen[0] > 50 && seen[1] > 50);

	/* What stays on the receiving worker (self = 1), whoever would own its ports. */
	{
		uint16_t sport = 40000;
		struct rte_mbuf *m;
		uint16_t len;

		while (want_owner(sport, 4567) == 1) {
			sport++;
		}
		/* ICMP */
		len = build_l4(&h, IPPROTO_ICMP, sport, 4567, 0);
		m = nh_mbuf(&h, g_buf, len);
		assert_int_equal(sp_steer_owner(&st, m), 1);
		rte_pktmbuf_free(m);
		/* fragments: first (MF) and later (offset) */
		len = build_l4(&h, IPPROTO_TCP, sport, 4567, RTE_IPV4_HDR_MF_FLAG);
		m = nh_mbuf(&h, g_buf, len);
		assert_int_equal(sp_steer_owner(&st, m), 1);
		rte_pktmbuf_free(m);
		len = build_l4(&h, IPPROTO_TCP, sport, 4567, 3);
		m = nh_mbuf(&h, g_buf, len);
		assert_int_equal(sp_steer_owner(&st, m), 1);
		rte_pktmbuf_free(m);
		/* too short to hold the ports */
		len = build_l4(&h, IPPROTO_TCP, sport, 4567, 0);
		m = nh_mbuf(&h, g_buf, (uint16_t)(sizeof(struct rte_ether_hdr) + 22));
		assert_int_equal(sp_steer_owner(&st, m), 1);
		rte_pktmbuf_free(m);
		/* not IPv4: ARP */
		len = nh_build_arp(&h, g_buf, RTE_ARP_OP_REQUEST, NH_OUR_IP);
		m = nh_mbuf(&h, g_buf, len);
		assert_int_equal(sp_steer_owner(&st, m), 1);
		rte_pktmbuf_free(m);
		/* IPv4 version field wrong */
		len = build_l4(&h, IPPROTO_TCP, sport, 4567, 0);
		g_buf[sizeof(struct rte_ether_hdr)] = 0x65;
		m = nh_mbuf(&h, g_buf, len);
		assert_int_equal(sp_steer_owner(&st, m), 1);
		rte_pktmbuf_free(m);
	}
	nh_fini(&h);
}

/* Worker 0 receives UDP frames of many flows and ARP; each frame is processed by its owner. */
static void
test_handoff(void **state)
{
	struct pair p;
	unsigned own[NW] = {0};
	uint16_t len;
	unsigned n = 0;

	(void)state;
	pair_init(&p, SP_STEER_RING_SIZE);
	for (uint16_t sport = 50000; sport < 50000 + SP_STEER_BURST - 1; sport++) {
		len = build_l4(&p.h[0], IPPROTO_UDP, sport, 9, 0);
		p.h[0].io.rx[p.h[0].io.rx_n++] = nh_mbuf(&p.h[0], g_buf, len);
		own[want_owner(sport, 9)]++;
		n++;
	}
	len = nh_build_arp(&p.h[0], g_buf, RTE_ARP_OP_REQUEST, NH_OUR_IP);
	p.h[0].io.rx[p.h[0].io.rx_n++] = nh_mbuf(&p.h[0], g_buf, len);
	assert_true(own[0] > 0 && own[1] > 0);

	assert_false(sp_steer_pending(&p.h[1].lc));
	assert_int_equal(sp_lcore_poll(&p.h[0].lc), n + 1);
	assert_int_equal(p.h[0].lc.cnt.rx_pkts, n + 1);
	assert_int_equal(p.h[0].lc.cnt.steer_out, own[1]);
	assert_int_equal(p.h[0].lc.cnt.steer_drop_full, 0);
	/* Worker 0 processed its own flows (UDP is not served: drop_ip_proto) and the ARP. */
	assert_int_equal(p.h[0].lc.cnt.drop_ip_proto, own[0]);
	assert_int_equal(p.h[0].lc.cnt.arp_req_in, 1);
	assert_int_equal(p.h[0].io.tx_n, 1); /* the ARP reply */
	/* Worker 1 has frames waiting: its idle policy must not sleep on them. */
	assert_true(sp_steer_pending(&p.h[1].lc));
	assert_int_equal(p.h[1].lc.cnt.drop_ip_proto, 0);

	/* Worker 1's poll takes them as received work. */
	assert_int_equal(sp_lcore_poll(&p.h[1].lc), own[1]);
	assert_int_equal(p.h[1].lc.cnt.steer_in, own[1]);
	assert_int_equal(p.h[1].lc.cnt.rx_pkts, 0);
	assert_int_equal(p.h[1].lc.cnt.drop_ip_proto, own[1]);
	assert_false(sp_steer_pending(&p.h[1].lc));
	/* An empty poll after that is idle work for both. */
	assert_int_equal(sp_lcore_poll(&p.h[1].lc), 0);
	assert_int_equal(sp_lcore_poll(&p.h[0].lc), 0);
	pair_fini(&p);
}

/* A port not marked steer keeps every frame on the worker that polled it. */
static void
test_unsteered_port(void **state)
{
	struct pair p;
	unsigned n = 0;

	(void)state;
	pair_init(&p, SP_STEER_RING_SIZE);
	p.h[0].ifc.steer = false;
	for (uint16_t sport = 50000; sport < 50016; sport++) {
		uint16_t len = build_l4(&p.h[0], IPPROTO_UDP, sport, 9, 0);

		p.h[0].io.rx[p.h[0].io.rx_n++] = nh_mbuf(&p.h[0], g_buf, len);
		n++;
	}
	assert_int_equal(sp_lcore_poll(&p.h[0].lc), n);
	assert_int_equal(p.h[0].lc.cnt.steer_out, 0);
	assert_int_equal(p.h[0].lc.cnt.drop_ip_proto, n);
	assert_false(sp_steer_pending(&p.h[1].lc));
	pair_fini(&p);
}

/* A full ring drops (counted, mbufs freed); the owner still gets what fit, in order. */
static void
test_ring_full(void **state)
{
	struct pair p;
	struct rte_mbuf *got[SP_STEER_BURST];
	uint16_t sports[SP_STEER_BURST];
	unsigned want = 0, fit = 7; /* a ring of 8 holds 7 */
	uint16_t sport = 1024;

	(void)state;
	pair_init(&p, 8);
	while (want < 20) {
		if (want_owner(sport, 9) == 1) {
			uint16_t len = build_l4(&p.h[0], IPPROTO_UDP, sport, 9, 0);

			p.h[0].io.rx[p.h[0].io.rx_n++] = nh_mbuf(&p.h[0], g_buf, len);
			sports[want++] = sport;
		}
		sport++;
	}
	sp_lcore_poll(&p.h[0].lc);
	assert_int_equal(p.h[0].lc.cnt.steer_out, fit);
	assert_int_equal(p.h[0].lc.cnt.steer_drop_full, want - fit);
	assert_int_equal(rte_ring_count(p.ring[0][1]), fit);
	/* FIFO: the first frames of the burst are the ones that fit, stamped with the port. */
	assert_int_equal(rte_ring_dequeue_burst(p.ring[0][1], (void **)got, fit, NULL), fit);
	for (unsigned i = 0; i < fit; i++) {
		const uint8_t *l4 = rte_pktmbuf_mtod_offset(got[i], const uint8_t *,
							    sizeof(struct rte_ether_hdr) +
								sizeof(struct rte_ipv4_hdr));

		assert_int_equal(l4[0] << 8 | l4[1], sports[i]);
		assert_int_equal(got[i]->port, p.h[0].ifc.port_id);
	}
	rte_pktmbuf_free_bulk(got, fit);
	pair_fini(&p);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_owner_decision),
	    cmocka_unit_test(test_handoff),
	    cmocka_unit_test(test_unsteered_port),
	    cmocka_unit_test(test_ring_full),
	};
	int rc;

	(void)argc;
	sp_test_eal_init(argv[0]);
	g_rss = rte_zmalloc("steer_test_rss", sizeof(*g_rss), 64);
	SP_VERIFY(g_rss != NULL);
	SP_VERIFY(sp_rss_ctx_init(g_rss, sp_rss_sym_key, sizeof(sp_rss_sym_key)) == 0);
	rc = cmocka_run_group_tests_name("steer", tests, NULL, NULL);
	rte_free(g_rss);
	return rc;
}
