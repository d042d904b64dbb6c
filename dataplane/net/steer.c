/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Software flow steering (steer.h): the owner decision, the hand-off in bursts, and the drain.
 * Runs on worker lcores only. Frame order within a flow is kept: a flow's frames all take the
 * same path (its one ring, FIFO), and one receiver's frames of a flow arrive in queue order.
 */
#include <rte_branch_prediction.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <spate/assert.h>

#include "../core/lcore.h"
#include "net.h"
#include "rss.h"
#include "steer.h"

/* Bytes of an L4 header holding the two ports. */
#define STEER_PORTS_LEN 4

/* One rx burst fits in one owner's stage. */
SP_STATIC_ASSERT(SP_RX_BURST <= SP_STEER_BURST, "an rx burst must fit a steering stage");

uint16_t
sp_steer_owner(const struct sp_steer *st, const struct rte_mbuf *m)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	const struct rte_ether_hdr *eth = (const struct rte_ether_hdr *)p;
	const struct rte_ipv4_hdr *ip;
	const rte_be16_t *ports;
	uint32_t ihl;

	if (m->data_len < sizeof(*eth) + sizeof(*ip) ||
	    eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4)) {
		return st->self;
	}
	ip = (const struct rte_ipv4_hdr *)(p + sizeof(*eth));
	ihl = (uint32_t)(ip->version_ihl & 0x0f) * 4u;
	if ((ip->version_ihl >> 4) != 4 || ihl < sizeof(*ip) ||
	    (ip->next_proto_id != IPPROTO_TCP && ip->next_proto_id != IPPROTO_UDP) ||
	    (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) !=
		0 ||
	    m->data_len < sizeof(*eth) + ihl + STEER_PORTS_LEN) {
		return st->self;
	}
	ports = (const rte_be16_t *)(p + sizeof(*eth) + ihl);
	return sp_rss_owner_ipv4(st->rss, ip->src_addr, ip->dst_addr, ports[0], ports[1],
				 st->nb_workers);
}

void
sp_steer_rx(struct sp_lcore *lc, unsigned ifidx, struct rte_mbuf **pkts, uint16_t n)
{
	struct sp_steer *st = lc->steer;
	uint16_t mine = 0;

	SP_VERIFY(st != NULL && n <= SP_STEER_BURST && ifidx < lc->nb_ifaces);
	for (uint16_t j = 0; j < n; j++) {
		uint16_t o = sp_steer_owner(st, pkts[j]);

		SP_VERIFY(o < st->nb_workers);
		if (o == st->self) {
			pkts[mine++] = pkts[j];
			continue;
		}
		/* The owner maps the port id back to its interface index. */
		pkts[j]->port = lc->ifaces[ifidx].port_id;
		st->stage[o][st->staged[o]++] = pkts[j];
	}
	/* Hand off first: the owner works on its share while we process ours. */
	for (uint16_t o = 0; o < st->nb_workers; o++) {
		uint16_t k = st->staged[o], sent;

		if (k == 0) {
			continue;
		}
		sent = (uint16_t)rte_ring_enqueue_burst(st->out[o], (void **)st->stage[o], k, NULL);
		lc->cnt.steer_out += sent;
		if (SP_UNLIKELY(sent < k)) {
			lc->cnt.steer_drop_full += (uint64_t)(k - sent);
			rte_pktmbuf_free_bulk(st->stage[o] + sent, (unsigned)(k - sent));
		}
		st->staged[o] = 0;
	}
	for (uint16_t j = 0; j < mine; j++) {
		if (j + 1 < mine) {
			rte_prefetch0(rte_pktmbuf_mtod(pkts[j + 1], void *));
		}
		sp_net_input(lc, ifidx, pkts[j]);
	}
}

/* Interface index of DPDK port id `port`, or nb_ifaces when none. */
static unsigned
steer_ifidx(const struct sp_lcore *lc, uint16_t port)
{
	unsigned i = 0;

	while (i < lc->nb_ifaces && lc->ifaces[i].port_id != port) {
		i++;
	}
	return i;
}

unsigned
sp_steer_drain(struct sp_lcore *lc)
{
	struct sp_steer *st = lc->steer;
	struct rte_mbuf *pkts[SP_STEER_BURST];
	unsigned total = 0;

	SP_VERIFY(st != NULL);
	for (uint16_t r = 0; r < st->nb_workers; r++) {
		unsigned n;

		if (r == st->self) {
			continue;
		}
		n = rte_ring_dequeue_burst(st->in[r], (void **)pkts, SP_STEER_BURST, NULL);
		SP_VERIFY(n <= SP_STEER_BURST);
		lc->cnt.steer_in += n;
		for (unsigned j = 0; j < n; j++) {
			unsigned ifidx = steer_ifidx(lc, pkts[j]->port);

			if (j + 1 < n) {
				rte_prefetch0(rte_pktmbuf_mtod(pkts[j + 1], void *));
			}
			/* The receiver stamped a port it serves, and both serve the same ports. */
			SP_VERIFY(ifidx < lc->nb_ifaces);
			sp_net_input(lc, ifidx, pkts[j]);
		}
		total += n;
	}
	return total;
}

bool
sp_steer_pending(const struct sp_lcore *lc)
{
	const struct sp_steer *st = lc->steer;

	if (st == NULL) {
		return false;
	}
	for (uint16_t r = 0; r < st->nb_workers; r++) {
		if (r != st->self && !rte_ring_empty(st->in[r])) {
			return true;
		}
	}
	return false;
}
