/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the per-worker ARP cache (dataplane/net/arp.c) through the packet I/O seam
 * with no NIC and a fake millisecond clock: learning (the RFC 826 merge rule), resolution with
 * held frames, request spacing, reachable-time expiry, unicast probes, failure and removal, and
 * the open-addressing table under churn. Runs EAL --no-huge.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "../sp_test.h"

#include "net/arp.h"
#include "net/net.h"
#include "net_harness.h"

#define REACH_MS 10000u
#define PEER_MAC                                                                                   \
	{                                                                                          \
		{                                                                                  \
			0x02, 0, 0, 0, 0, 0x01                                                     \
		}                                                                                  \
	}

static void
setup(struct nh *h, uint32_t entries)
{
	struct sp_arp_conf conf = {
	    .entries = entries,
	    .reachable_ms = REACH_MS,
	    .probes = 3,
	    .seed = 42,
	};

	nh_now_ms = 0;
	nh_init(h, false);
	h->lc.clk.ops = &nh_ms_clock;
	assert_int_equal(sp_arp_create(&h->lc.arp, &h->lc, &conf), 0);
}

static void
teardown(struct nh *h)
{
	sp_arp_check(h->lc.arp);
	sp_arp_destroy(h->lc.arp);
	h->lc.arp = NULL;
	nh_fini(h);
}

/* Move the fake clock to t ms and run the cache's timers, as the poll loop does. */
static void
at(struct nh *h, uint64_t t)
{
	nh_now_ms = t;
	sp_arp_timers(&h->lc);
	sp_lcore_tx_flush(&h->lc);
	sp_arp_check(h->lc.arp);
}

static uint32_t
ip(const char *s)
{
	return inet_addr(s);
}

/* An ARP packet into the receive path. */
static void
arp_in(struct nh *h, uint16_t op, uint32_t sip, struct rte_ether_addr sha, uint32_t tip)
{
	uint8_t buf[64];
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)buf;
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);

	memset(buf, 0, sizeof(buf));
	if (op == RTE_ARP_OP_REPLY) {
		eth->dst_addr = h->ifc.mac;
	} else {
		memset(&eth->dst_addr, 0xff, sizeof(eth->dst_addr));
	}
	eth->src_addr = sha;
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
	a->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	a->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	a->arp_hlen = 6;
	a->arp_plen = 4;
	a->arp_opcode = rte_cpu_to_be_16(op);
	a->arp_data.arp_sha = sha;
	a->arp_data.arp_sip = sip;
	if (op == RTE_ARP_OP_REPLY) {
		a->arp_data.arp_tha = h->ifc.mac;
	}
	a->arp_data.arp_tip = tip;
	sp_net_input(&h->lc, 0, nh_mbuf(h, buf, 60));
	sp_lcore_tx_flush(&h->lc);
	sp_arp_check(h->lc.arp);
}

/* A frame to send (Ethernet header with a zero destination, and a marker byte). */
static void
out(struct nh *h, uint32_t nh_ip, const struct rte_ether_addr *hint, uint8_t mark)
{
	uint8_t buf[60];
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)buf;

	memset(buf, 0, sizeof(buf));
	eth->src_addr = h->ifc.mac;
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	buf[sizeof(*eth)] = mark;
	sp_arp_output(&h->lc, 0, nh_ip, nh_mbuf(h, buf, sizeof(buf)), hint);
	sp_lcore_tx_flush(&h->lc);
	sp_arp_check(h->lc.arp);
}

static const struct rte_ether_hdr *
tx_eth(const struct nh *h, unsigned i)
{
	assert_true(i < h->io.tx_n);
	return rte_pktmbuf_mtod(h->io.tx[i], const struct rte_ether_hdr *);
}

/* Frame i is an ARP request from us for tip; unicast to `dst` or broadcast when NULL. */
static void
assert_request(const struct nh *h, unsigned i, uint32_t tip, const struct rte_ether_addr *dst)
{
	const struct rte_ether_hdr *eth = tx_eth(h, i);
	const struct rte_arp_hdr *a = (const struct rte_arp_hdr *)(eth + 1);

	assert_int_equal(eth->ether_type, RTE_BE16(RTE_ETHER_TYPE_ARP));
	assert_int_equal(h->io.tx[i]->pkt_len, 42);
	if (dst != NULL) {
		assert_true(rte_is_same_ether_addr(&eth->dst_addr, dst));
	} else {
		assert_true(rte_is_broadcast_ether_addr(&eth->dst_addr));
	}
	assert_int_equal(rte_be_to_cpu_16(a->arp_opcode), RTE_ARP_OP_REQUEST);
	assert_true(rte_is_same_ether_addr(&a->arp_data.arp_sha, &h->ifc.mac));
	assert_int_equal(a->arp_data.arp_sip, h->ifc.ipv4);
	assert_int_equal(a->arp_data.arp_tip, tip);
}

/* Frame i is a data frame with marker `mark` sent to `dst`. */
static void
assert_data(const struct nh *h, unsigned i, const struct rte_ether_addr *dst, uint8_t mark)
{
	const struct rte_ether_hdr *eth = tx_eth(h, i);

	assert_int_equal(eth->ether_type, RTE_BE16(RTE_ETHER_TYPE_IPV4));
	assert_true(rte_is_same_ether_addr(&eth->dst_addr, dst));
	assert_int_equal(((const uint8_t *)(eth + 1))[0], mark);
}

static void
test_learn_merge_rule(void **state)
{
	struct rte_ether_addr peer = PEER_MAC, other = {{0x02, 0, 0, 0, 0, 0x77}}, mac;
	struct nh h;

	(void)state;
	setup(&h, 64);
	/* Not addressed to us: a request for someone else, a gratuitous ARP, a reply elsewhere. */
	arp_in(&h, RTE_ARP_OP_REQUEST, ip("198.18.0.1"), peer, ip("198.18.0.9"));
	arp_in(&h, RTE_ARP_OP_REQUEST, ip("198.18.0.1"), peer, ip("198.18.0.1"));
	arp_in(&h, RTE_ARP_OP_REPLY, ip("198.18.0.1"), peer, ip("198.18.0.9"));
	/* A probe (sender 0.0.0.0), a sender claiming our address, an off-subnet sender. */
	arp_in(&h, RTE_ARP_OP_REQUEST, 0, peer, h.ifc.ipv4);
	arp_in(&h, RTE_ARP_OP_REQUEST, h.ifc.ipv4, peer, h.ifc.ipv4);
	arp_in(&h, RTE_ARP_OP_REQUEST, ip("198.19.0.1"), peer, h.ifc.ipv4);
	assert_int_equal(sp_arp_count(h.lc.arp), 0);
	assert_int_equal(h.lc.cnt.arp_learned, 0);
	nh_clear_tx(&h);

	/* A request for us creates the entry (and is answered). */
	arp_in(&h, RTE_ARP_OP_REQUEST, ip("198.18.0.1"), peer, h.ifc.ipv4);
	assert_int_equal(h.io.tx_n, 1);
	assert_int_equal(sp_arp_lookup(h.lc.arp, 0, ip("198.18.0.1"), &mac), SP_ARP_REACHABLE);
	assert_true(rte_is_same_ether_addr(&mac, &peer));
	assert_int_equal(h.lc.cnt.arp_learned, 1);

	/* Gratuitous ARP with a new MAC updates the existing entry, unconfirmed: stale. */
	arp_in(&h, RTE_ARP_OP_REQUEST, ip("198.18.0.1"), other, ip("198.18.0.1"));
	assert_int_equal(sp_arp_lookup(h.lc.arp, 0, ip("198.18.0.1"), &mac), SP_ARP_STALE);
	assert_true(rte_is_same_ether_addr(&mac, &other));
	assert_int_equal(h.lc.cnt.arp_updated, 1);
	/* The same MAC again changes nothing; a reply to us confirms it. */
	arp_in(&h, RTE_ARP_OP_REQUEST, ip("198.18.0.1"), other, ip("198.18.0.1"));
	assert_int_equal(h.lc.cnt.arp_updated, 1);
	arp_in(&h, RTE_ARP_OP_REPLY, ip("198.18.0.1"), other, h.ifc.ipv4);
	assert_int_equal(sp_arp_lookup(h.lc.arp, 0, ip("198.18.0.1"), NULL), SP_ARP_REACHABLE);
	assert_int_equal(h.lc.cnt.arp_reply_in, 1);
	/* A reply to us from a stranger is learned too (we may have asked on another worker). */
	arp_in(&h, RTE_ARP_OP_REPLY, ip("198.18.0.5"), peer, h.ifc.ipv4);
	assert_int_equal(sp_arp_count(h.lc.arp), 2);
	teardown(&h);
}

static void
test_resolve_holds_frames(void **state)
{
	struct rte_ether_addr peer = PEER_MAC;
	uint32_t dst = ip("198.18.0.1");
	struct nh h;

	(void)state;
	setup(&h, 64);
	out(&h, dst, NULL, 1);
	assert_int_equal(h.io.tx_n, 1);
	assert_request(&h, 0, dst, NULL);
	assert_int_equal(sp_arp_lookup(h.lc.arp, 0, dst, NULL), SP_ARP_INCOMPLETE);
	/* Five more: four are held at most, the oldest make room; no second request yet. */
	for (uint8_t k = 2; k <= 6; k++) {
		out(&h, dst, NULL, k);
	}
	assert_int_equal(h.io.tx_n, 1);
	assert_int_equal(h.lc.cnt.arp_pending_drops, 2);
	assert_int_equal(h.lc.cnt.arp_cache_miss, 6);
	assert_int_equal(h.lc.cnt.arp_req_out, 1);
	assert_int_equal(h.lc.cnt.arp_req_ratelimited, 0); /* only the timer resends */
	nh_clear_tx(&h);

	/* The reply releases the held frames, in order, to the answered MAC. */
	at(&h, 300);
	arp_in(&h, RTE_ARP_OP_REPLY, dst, peer, h.ifc.ipv4);
	assert_int_equal(h.io.tx_n, 4);
	for (unsigned i = 0; i < 4; i++) {
		assert_data(&h, i, &peer, (uint8_t)(3 + i));
	}
	assert_int_equal(sp_arp_lookup(h.lc.arp, 0, dst, NULL), SP_ARP_REACHABLE);
	nh_clear_tx(&h);
	out(&h, dst, NULL, 9);
	assert_int_equal(h.lc.cnt.arp_cache_hit, 1);
	assert_data(&h, 0, &peer, 9);
	teardown(&h);
}

/*
 * Two workers sharing confirmations (sp_arp_share): worker 1 asks for a neighbour, the reply
 * lands on worker 0 (as a NIC's one ARP queue would deliver it); worker 0 learns it and passes
 * the note; worker 1 takes it at its next poll and sends what it held. A worker without an
 * entry ignores a note, and a full ring drops (counted) instead of blocking.
 */
static void
test_shared_confirmation(void **state)
{
	struct rte_ether_addr peer = PEER_MAC;
	uint32_t dst = ip("198.18.0.1"), other = ip("198.18.0.9");
	struct sp_arp_share sh[2];
	struct rte_ring *r01, *r10;
	struct sp_arp_conf conf = {.entries = 64, .reachable_ms = REACH_MS, .probes = 3, .seed = 1};
	struct nh h[2];

	(void)state;
	r01 = rte_ring_create_elem("arpt_01", SP_ARP_NOTE_BYTES, 4, SOCKET_ID_ANY,
				   RING_F_SP_ENQ | RING_F_SC_DEQ);
	r10 = rte_ring_create_elem("arpt_10", SP_ARP_NOTE_BYTES, 4, SOCKET_ID_ANY,
				   RING_F_SP_ENQ | RING_F_SC_DEQ);
	assert_non_null(r01);
	assert_non_null(r10);
	memset(sh, 0, sizeof(sh));
	for (unsigned w = 0; w < 2; w++) {
		sh[w].self = (uint16_t)w;
		sh[w].nb_workers = 2;
	}
	sh[0].out[1] = r01;
	sh[1].in[0] = r01;
	sh[1].out[0] = r10;
	sh[0].in[1] = r10;
	nh_now_ms = 0;
	for (unsigned w = 0; w < 2; w++) {
		nh_init(&h[w], false);
		h[w].lc.clk.ops = &nh_ms_clock;
		conf.share = &sh[w];
		assert_int_equal(sp_arp_create(&h[w].lc.arp, &h[w].lc, &conf), 0);
	}
	out(&h[1], dst, NULL, 7); /* held; a request goes out */
	assert_int_equal(h[1].io.tx_n, 1);
	assert_request(&h[1], 0, dst, NULL);
	nh_clear_tx(&h[1]);
	/* the reply arrives on worker 0, which has no entry: it learns (addressed to us), shares */
	arp_in(&h[0], RTE_ARP_OP_REPLY, dst, peer, h[0].ifc.ipv4);
	assert_int_equal(sp_arp_lookup(h[0].lc.arp, 0, dst, NULL), SP_ARP_REACHABLE);
	assert_int_equal(h[0].lc.cnt.arp_shared_out, 1);
	assert_int_equal(sp_arp_lookup(h[1].lc.arp, 0, dst, NULL), SP_ARP_INCOMPLETE);
	at(&h[1], 5);
	assert_int_equal(h[1].lc.cnt.arp_shared_in, 1);
	assert_int_equal(sp_arp_lookup(h[1].lc.arp, 0, dst, NULL), SP_ARP_REACHABLE);
	assert_int_equal(h[1].io.tx_n, 1);
	assert_data(&h[1], 0, &peer, 7);
	nh_clear_tx(&h[1]);
	/* a note for a neighbour worker 0 never asked for makes no entry there */
	arp_in(&h[1], RTE_ARP_OP_REQUEST, other, peer, h[1].ifc.ipv4); /* it resolves us */
	nh_clear_tx(&h[1]);
	at(&h[0], 6);
	assert_int_equal(h[0].lc.cnt.arp_shared_in, 1);
	assert_int_equal(sp_arp_lookup(h[0].lc.arp, 0, other, NULL), SP_ARP_NONE);
	/* the ring to worker 1 holds 3 (a ring of 4): the fourth and fifth are dropped */
	for (unsigned k = 0; k < 5; k++) {
		arp_in(&h[0], RTE_ARP_OP_REPLY, dst, peer, h[0].ifc.ipv4);
	}
	assert_int_equal(h[0].lc.cnt.arp_share_drops, 2);
	for (unsigned w = 0; w < 2; w++) {
		nh_clear_tx(&h[w]);
		teardown(&h[w]);
	}
	rte_ring_free(r01);
	rte_ring_free(r10);
}

static void
test_unanswered_requests_fail(void **state)
{
	uint32_t dst = ip("198.18.0.7");
	struct nh h;

	(void)state;
	setup(&h, 64);
	out(&h, dst, NULL, 1);
	assert_int_equal(h.lc.cnt.arp_req_out, 1);
	/* One request per second: none before 1000 ms, then the next, up to `probes` (3). */
	at(&h, 999);
	assert_int_equal(h.lc.cnt.arp_req_out, 1);
	at(&h, 1000);
	assert_int_equal(h.lc.cnt.arp_req_out, 2);
	out(&h, dst, NULL, 2);
	at(&h, 1999);
	assert_int_equal(h.lc.cnt.arp_req_out, 2);
	at(&h, 2000);
	assert_int_equal(h.lc.cnt.arp_req_out, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_request(&h, i, dst, NULL);
	}
	at(&h, 2999);
	assert_int_equal(sp_arp_lookup(h.lc.arp, 0, dst, NULL), SP_ARP_INCOMPLETE);
	/* A second after the third request the entry goes, with what it held. */
	at(&h, 3000);
	assert_int_equal(h.lc.cnt.arp_req_out, 3);
	assert_int_equal(h.lc.cnt.arp_failed, 1);
	assert_int_equal(h.lc.cnt.arp_pending_drops, 2);
	assert_int_equal(sp_arp_lookup(h.lc.arp, 0, dst, NULL), SP_ARP_NONE);
	assert_int_equal(sp_arp_count(h.lc.arp), 0);
	/* Still needed: the next frame starts a new resolution, still >= 1 s after the last. */
	out(&h, dst, NULL, 3);
	assert_int_equal(h.lc.cnt.arp_req_out, 4);
	assert_request(&h, 3, dst, NULL);
	teardown(&h);
}

static void
test_expiry_and_probes(void **state)
{
	struct rte_ether_addr peer = PEER_MAC;
	uint32_t dst = ip("198.18.0.1");
	struct nh h;
	uint64_t t;

	(void)state;
	setup(&h, 64);
	arp_in(&h, RTE_ARP_OP_REQUEST, dst, peer, h.ifc.ipv4);
	nh_clear_tx(&h);
	/* Reachable for at least half the base time and at most 1.5 times it. */
	at(&h, REACH_MS / 2 - 1);
	assert_int_equal(sp_arp_lookup(h.lc.arp, 0, dst, NULL), SP_ARP_REACHABLE);
	for (t = REACH_MS / 2; t <= REACH_MS * 3 / 2; t += 100) {
		at(&h, t);
		if (sp_arp_lookup(h.lc.arp, 0, dst, NULL) == SP_ARP_STALE) {
			break;
		}
	}
	assert_true(t <= REACH_MS * 3 / 2);
	assert_int_equal(h.lc.cnt.arp_expired, 1);
	assert_int_equal(h.io.tx_n, 0); /* going stale sends nothing */

	/* Used while stale: the frame goes to the stale MAC, and a unicast probe with it. */
	out(&h, dst, NULL, 1);
	assert_int_equal(h.io.tx_n, 2);
	assert_request(&h, 0, dst, &peer);
	assert_data(&h, 1, &peer, 1);
	assert_int_equal(sp_arp_lookup(h.lc.arp, 0, dst, NULL), SP_ARP_PROBE);
	assert_int_equal(h.lc.cnt.arp_probe_out, 1);
	/* An answer confirms it again. */
	at(&h, t + 500);
	arp_in(&h, RTE_ARP_OP_REPLY, dst, peer, h.ifc.ipv4);
	assert_int_equal(sp_arp_lookup(h.lc.arp, 0, dst, NULL), SP_ARP_REACHABLE);
	nh_clear_tx(&h);

	/* Stale again, used, and this time the neighbour is silent: three probes, then gone. */
	t += 500 + REACH_MS * 3 / 2;
	at(&h, t);
	assert_int_equal(sp_arp_lookup(h.lc.arp, 0, dst, NULL), SP_ARP_STALE);
	out(&h, dst, NULL, 2);
	at(&h, t + 1000);
	at(&h, t + 2000);
	assert_int_equal(h.lc.cnt.arp_probe_out, 4);
	out(&h, dst, NULL, 3); /* the stale MAC stays in use while probing */
	assert_data(&h, h.io.tx_n - 1, &peer, 3);
	at(&h, t + 3000);
	assert_int_equal(sp_arp_lookup(h.lc.arp, 0, dst, NULL), SP_ARP_NONE);
	assert_int_equal(h.lc.cnt.arp_failed, 1);
	assert_int_equal(h.lc.cnt.arp_req_out, 4);
	teardown(&h);
}

static void
test_stale_unused_removed(void **state)
{
	struct rte_ether_addr peer = PEER_MAC;
	uint32_t dst = ip("198.18.0.1");
	struct nh h;

	(void)state;
	setup(&h, 64);
	arp_in(&h, RTE_ARP_OP_REQUEST, dst, peer, h.ifc.ipv4);
	at(&h, REACH_MS * 3 / 2);
	assert_int_equal(sp_arp_lookup(h.lc.arp, 0, dst, NULL), SP_ARP_STALE);
	at(&h, REACH_MS * 3 / 2 + SP_ARP_STALE_GC_MS - 1);
	assert_int_equal(sp_arp_lookup(h.lc.arp, 0, dst, NULL), SP_ARP_STALE);
	at(&h, REACH_MS * 3 / 2 + SP_ARP_STALE_GC_MS);
	assert_int_equal(sp_arp_lookup(h.lc.arp, 0, dst, NULL), SP_ARP_NONE);
	assert_int_equal(h.lc.cnt.arp_gc, 1);
	assert_int_equal(h.lc.cnt.arp_req_out, 0); /* nobody needed it: never probed */
	teardown(&h);
}

static void
test_hint_and_no_route(void **state)
{
	struct rte_ether_addr peer = PEER_MAC, syn_src = {{0x02, 0, 0, 0, 0, 0x42}};
	uint32_t dst = ip("198.18.0.1");
	struct nh h;

	(void)state;
	setup(&h, 64);
	/* A miss with a hint: sent to the hint at once, and the cache starts resolving. */
	out(&h, dst, &syn_src, 1);
	assert_int_equal(h.io.tx_n, 2);
	assert_request(&h, 0, dst, NULL);
	assert_data(&h, 1, &syn_src, 1);
	assert_int_equal(h.lc.cnt.arp_hint_tx, 1);
	arp_in(&h, RTE_ARP_OP_REPLY, dst, peer, h.ifc.ipv4);
	nh_clear_tx(&h);
	/* Once resolved, the cache wins over the hint. */
	out(&h, dst, &syn_src, 2);
	assert_data(&h, 0, &peer, 2);
	nh_clear_tx(&h);
	/* Off our subnet: there is no gateway, so only a hint can address it. */
	out(&h, ip("203.0.113.9"), &syn_src, 3);
	assert_data(&h, 0, &syn_src, 3);
	out(&h, ip("203.0.113.9"), NULL, 4);
	assert_int_equal(h.io.tx_n, 1);
	assert_int_equal(h.lc.cnt.arp_drop_no_route, 1);
	assert_int_equal(sp_arp_count(h.lc.arp), 1);
	teardown(&h);
}

static void
test_table_churn(void **state)
{
	enum { CAP = 48, ADDRS = 1000 };
	struct rte_ether_addr mac = PEER_MAC;
	struct nh h;
	uint32_t seed = 7;
	uint64_t t = 0;

	(void)state;
	setup(&h, CAP);
	/* A /16 so that many neighbours fit; addresses collide in the table's probe runs. */
	h.ifc.ipv4 = ip("198.18.0.2");
	h.ifc.ipv4_mask = ip("255.255.0.0");
	h.ifc.ipv4_bcast = ip("198.18.255.255");
	for (unsigned k = 0; k < 4000; k++) {
		uint32_t a;

		seed = seed * 1103515245u + 12345u;
		a = htonl(0xc6120000u | (1u + (seed >> 8) % ADDRS));
		mac.addr_bytes[5] = (uint8_t)seed;
		mac.addr_bytes[0] = 0x02;
		if (seed & 0x10000) {
			arp_in(&h, RTE_ARP_OP_REQUEST, a, mac, h.ifc.ipv4);
		} else {
			out(&h, a, NULL, 0);
		}
		assert_true(sp_arp_count(h.lc.arp) <= CAP);
		if (k % 50 == 0) {
			t += 997;
			at(&h, t);
		}
		nh_clear_tx(&h);
	}
	assert_true(h.lc.cnt.arp_cache_full > 0);
	/* Everything times out in the end: the table empties completely. */
	for (unsigned k = 0; k < 100; k++) {
		t += 1000;
		at(&h, t);
	}
	assert_true(h.lc.cnt.arp_failed > 0 && h.lc.cnt.arp_gc > 0);
	assert_int_equal(sp_arp_count(h.lc.arp), 0);
	teardown(&h);
}

static void
test_rate_limit(void **state)
{
	struct rte_ether_addr peer = PEER_MAC, other = {{0x02, 0, 0, 0, 0, 0x77}};
	uint32_t dst = ip("198.18.0.1");
	struct nh h;

	(void)state;
	setup(&h, 64);
	out(&h, dst, NULL, 1);
	at(&h, 10);
	arp_in(&h, RTE_ARP_OP_REPLY, dst, peer, h.ifc.ipv4);
	at(&h, 20);
	arp_in(&h, RTE_ARP_OP_REQUEST, dst, other, dst); /* gratuitous, new MAC: stale */
	assert_int_equal(sp_arp_lookup(h.lc.arp, 0, dst, NULL), SP_ARP_STALE);
	nh_clear_tx(&h);
	/* Used at once: a probe is due, but the last request went out 30 ms ago. */
	at(&h, 30);
	out(&h, dst, NULL, 2);
	assert_int_equal(h.io.tx_n, 1);
	assert_data(&h, 0, &other, 2);
	assert_int_equal(h.lc.cnt.arp_req_ratelimited, 1);
	assert_int_equal(sp_arp_lookup(h.lc.arp, 0, dst, NULL), SP_ARP_PROBE);
	/* The probe leaves with the retransmission timer, a second after the first use. */
	at(&h, 1029);
	assert_int_equal(h.lc.cnt.arp_probe_out, 0);
	at(&h, 1030);
	assert_int_equal(h.lc.cnt.arp_probe_out, 1);
	assert_request(&h, 1, dst, &other);
	teardown(&h);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_learn_merge_rule),
	    cmocka_unit_test(test_resolve_holds_frames),
	    cmocka_unit_test(test_shared_confirmation),
	    cmocka_unit_test(test_unanswered_requests_fail),
	    cmocka_unit_test(test_expiry_and_probes),
	    cmocka_unit_test(test_stale_unused_removed),
	    cmocka_unit_test(test_hint_and_no_route),
	    cmocka_unit_test(test_table_churn),
	    cmocka_unit_test(test_rate_limit),
	};

	(void)argc;
	sp_test_eal_init(argv[0]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
