/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ARP for IPv4 over Ethernet (RFC 826) and the per-worker neighbour cache (RFC 1122 2.3.2).
 *
 * Input answers requests for our address by turning the request mbuf into the reply in place;
 * probes (sender 0.0.0.0, RFC 5227 2.1.1) for our address are answered too. Every ARP packet
 * also passes the RFC 826 merge rule: an existing entry for the sender is updated from any
 * ARP packet (gratuitous ARP included); an entry is created only when the packet is addressed
 * to us. IP traffic never creates or updates an entry.
 *
 * The cache: a fixed array of entries (a free stack of indices) found through an
 * open-addressing table of (ifidx, ip) keys, linear probing with backward-shift deletion (no
 * tombstones), at most half full. Entries never move, so each embeds its timer, armed on this
 * cache's timer wheel (libsp_tw, 1 ms ticks): one timer per entry, its meaning set by the
 * state (retransmit in INCOMPLETE/PROBE, reachable time in REACHABLE, removal in STALE).
 * Requests to one neighbour are at least SP_ARP_RETRANS_MS apart (RFC 1122 2.3.2.1).
 *
 * Runs on the owning worker only: no lock, no malloc, no syscall after sp_arp_create.
 */
#include <errno.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <spate/assert.h>

#include "../tcp/tcp_timer.h"
#include "arp.h"
#include "net_internal.h"

#define ARP_FRAME_LEN (sizeof(struct rte_ether_hdr) + sizeof(struct rte_arp_hdr))
#define ARP_TK_ENTRY  1
#define ARP_NO_REQ    UINT64_MAX /* last_req_ms before the first request */

struct arp_entry {
	struct sp_tw_timer t;
	uint32_t ip; /* network order */
	uint8_t ifidx;
	uint8_t state; /* enum sp_arp_state */
	uint8_t tries; /* requests sent in this INCOMPLETE or PROBE round */
	uint8_t npend;
	struct rte_ether_addr mac;
	uint64_t last_req_ms;
	struct rte_mbuf *pend[SP_ARP_PENDING_MAX]; /* oldest first */
};

SP_STATIC_ASSERT(sizeof(struct arp_entry) == 88, "docs/internals/arp.md budgets 88 B an entry");

struct arp_slot {
	uint64_t key; /* ifidx << 32 | ip */
	uint32_t ref; /* entry index + 1; 0: empty */
};

/* A confirmed neighbour, passed to the other workers (sp_arp_share). */
struct arp_note {
	uint32_t ip; /* network order */
	struct rte_ether_addr mac;
	uint8_t ifidx;
	uint8_t pad;
};

SP_STATIC_ASSERT(sizeof(struct arp_note) == SP_ARP_NOTE_BYTES, "the share rings' element");

struct sp_arp {
	struct sp_lcore *lc;
	struct sp_arp_conf conf;
	uint64_t now_ms;
	uint64_t hz;
	uint64_t start_cycles;
	uint64_t rng;
	uint32_t nb_used;
	uint32_t slot_bits;
	uint32_t slot_mask;
	uint32_t *free_idx; /* stack: free_idx[0 .. capacity - nb_used) */
	struct arp_slot *slots;
	struct arp_entry *entries;
	struct sp_tw wheel;
};

static uint64_t
arp_key(unsigned ifidx, uint32_t ip)
{
	return (uint64_t)ifidx << 32 | ip;
}

static uint32_t
arp_home(const struct sp_arp *arp, uint64_t key)
{
	return (uint32_t)((key * UINT64_C(0x9e3779b97f4a7c15)) >> (64 - arp->slot_bits));
}

/* Slot holding key, or the empty slot where it would go. Terminates: the table is half full. */
static uint32_t
arp_slot_find(const struct sp_arp *arp, uint64_t key)
{
	uint32_t i = arp_home(arp, key);

	while (arp->slots[i].ref != 0 && arp->slots[i].key != key) {
		i = (i + 1) & arp->slot_mask;
	}
	return i;
}

static struct arp_entry *
arp_find(const struct sp_arp *arp, unsigned ifidx, uint32_t ip)
{
	uint32_t i = arp_slot_find(arp, arp_key(ifidx, ip));

	return arp->slots[i].ref == 0 ? NULL : &arp->entries[arp->slots[i].ref - 1];
}

/* Backward-shift deletion: pull later members of the probe run into the hole. */
static void
arp_slot_delete(struct sp_arp *arp, uint32_t hole)
{
	uint32_t j = hole;

	for (;;) {
		uint32_t k;

		j = (j + 1) & arp->slot_mask;
		if (arp->slots[j].ref == 0) {
			break;
		}
		k = arp_home(arp, arp->slots[j].key);
		/* Move j into the hole unless its home lies cyclically in (hole, j]. */
		if ((hole <= j) ? (k <= hole || k > j) : (k <= hole && k > j)) {
			arp->slots[hole] = arp->slots[j];
			hole = j;
		}
	}
	arp->slots[hole].ref = 0;
}

static uint32_t
arp_rand(struct sp_arp *arp)
{
	/* xorshift64*: a private generator keeps tests with a fake clock reproducible. */
	arp->rng ^= arp->rng >> 12;
	arp->rng ^= arp->rng << 25;
	arp->rng ^= arp->rng >> 27;
	return (uint32_t)((arp->rng * UINT64_C(0x2545f4914f6cdd1d)) >> 32);
}

static uint32_t
arp_idx(const struct sp_arp *arp, const struct arp_entry *e)
{
	return (uint32_t)(e - arp->entries);
}

static void
arp_drop_pending(struct sp_arp *arp, struct arp_entry *e)
{
	SP_VERIFY(e->npend <= SP_ARP_PENDING_MAX);
	if (e->npend > 0) {
		arp->lc->cnt.arp_pending_drops += e->npend;
		rte_pktmbuf_free_bulk(e->pend, e->npend);
		e->npend = 0;
	}
}

static void
arp_free(struct sp_arp *arp, struct arp_entry *e)
{
	uint32_t i = arp_slot_find(arp, arp_key(e->ifidx, e->ip));

	SP_VERIFY(arp->slots[i].ref == arp_idx(arp, e) + 1);
	SP_VERIFY(arp->nb_used > 0);
	sp_tw_cancel(&arp->wheel, &e->t);
	arp_drop_pending(arp, e);
	arp_slot_delete(arp, i);
	e->state = SP_ARP_NONE;
	arp->nb_used--;
	arp->free_idx[arp->conf.entries - 1 - arp->nb_used] = arp_idx(arp, e);
}

/* A new entry for (ifidx, ip) in `state`, or NULL (counted) when the cache is full. */
static struct arp_entry *
arp_alloc(struct sp_arp *arp, unsigned ifidx, uint32_t ip, enum sp_arp_state state)
{
	uint64_t key = arp_key(ifidx, ip);
	uint32_t i = arp_slot_find(arp, key);
	struct arp_entry *e;
	uint32_t idx;

	SP_VERIFY(arp->slots[i].ref == 0);
	if (arp->nb_used == arp->conf.entries) {
		arp->lc->cnt.arp_cache_full++;
		return NULL;
	}
	idx = arp->free_idx[arp->conf.entries - 1 - arp->nb_used];
	arp->nb_used++;
	e = &arp->entries[idx];
	SP_VERIFY(e->state == SP_ARP_NONE && !sp_tw_armed(&e->t) && e->npend == 0);
	e->ip = ip;
	e->ifidx = (uint8_t)ifidx;
	e->state = (uint8_t)state;
	e->tries = 0;
	e->last_req_ms = ARP_NO_REQ;
	memset(&e->mac, 0, sizeof(e->mac));
	arp->slots[i].key = key;
	arp->slots[i].ref = idx + 1;
	return e;
}

/*
 * Send an ARP request for e's address: broadcast, or unicast to e's MAC (a probe, RFC 1122
 * 2.3.2.1 "unicast poll"). At most one per SP_ARP_RETRANS_MS per entry.
 */
static void
arp_request(struct sp_arp *arp, struct arp_entry *e, bool unicast)
{
	struct sp_lcore *lc = arp->lc;
	const struct sp_iface *ifc = &lc->ifaces[e->ifidx];
	struct rte_ether_hdr *eth;
	struct rte_arp_hdr *ah;
	struct rte_mbuf *m;

	if (e->last_req_ms != ARP_NO_REQ && arp->now_ms - e->last_req_ms < SP_ARP_RETRANS_MS) {
		lc->cnt.arp_req_ratelimited++;
		return;
	}
	m = rte_pktmbuf_alloc(lc->pool);
	if (m == NULL || rte_pktmbuf_append(m, ARP_FRAME_LEN) == NULL) {
		lc->cnt.arp_drop_nombuf++;
		rte_pktmbuf_free(m);
		return;
	}
	e->last_req_ms = arp->now_ms;
	e->tries++;
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	ah = (struct rte_arp_hdr *)(eth + 1);
	if (unicast) {
		rte_ether_addr_copy(&e->mac, &eth->dst_addr);
		lc->cnt.arp_probe_out++;
	} else {
		memset(&eth->dst_addr, 0xff, sizeof(eth->dst_addr));
	}
	rte_ether_addr_copy(&ifc->mac, &eth->src_addr);
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
	ah->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	ah->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ah->arp_hlen = RTE_ETHER_ADDR_LEN;
	ah->arp_plen = 4;
	ah->arp_opcode = RTE_BE16(RTE_ARP_OP_REQUEST);
	rte_ether_addr_copy(&ifc->mac, &ah->arp_data.arp_sha);
	ah->arp_data.arp_sip = ifc->ipv4;
	/* RFC 826 leaves the target hardware address unset; zero, as Linux sends it. */
	memset(&ah->arp_data.arp_tha, 0, sizeof(ah->arp_data.arp_tha));
	ah->arp_data.arp_tip = e->ip;
	m->ol_flags = 0;
	lc->cnt.arp_req_out++;
	sp_lcore_tx(lc, e->ifidx, m);
}

static void
arp_arm(struct sp_arp *arp, struct arp_entry *e, uint64_t ms)
{
	sp_tw_arm(&arp->wheel, &e->t, arp->now_ms + ms);
}

/* Send the frames waiting for e to its (now known) MAC. */
static void
arp_flush(struct sp_arp *arp, struct arp_entry *e)
{
	SP_VERIFY(!rte_is_zero_ether_addr(&e->mac));
	for (uint8_t i = 0; i < e->npend; i++) {
		struct rte_ether_hdr *eth = rte_pktmbuf_mtod(e->pend[i], struct rte_ether_hdr *);

		rte_ether_addr_copy(&e->mac, &eth->dst_addr);
		sp_lcore_tx(arp->lc, e->ifidx, e->pend[i]);
	}
	e->npend = 0;
}

/* Reachability confirmed: REACHABLE for 0.5-1.5x the base time (Linux's randomisation). */
static void
arp_confirm(struct sp_arp *arp, struct arp_entry *e)
{
	uint32_t base = arp->conf.reachable_ms;

	e->state = SP_ARP_REACHABLE;
	e->tries = 0;
	arp_arm(arp, e, base / 2 + arp_rand(arp) % base);
	arp_flush(arp, e);
}

static void
arp_make_stale(struct sp_arp *arp, struct arp_entry *e)
{
	e->state = SP_ARP_STALE;
	e->tries = 0;
	arp_arm(arp, e, SP_ARP_STALE_GC_MS);
}

static bool
arp_on_link(const struct sp_iface *ifc, uint32_t ip)
{
	return ((ip ^ ifc->ipv4) & ifc->ipv4_mask) == 0 && ip != ifc->ipv4 && ip != ifc->ipv4_bcast;
}

/*
 * The RFC 826 merge rule for sender (sip, sha) of a valid ARP packet. `for_us`: its target
 * is our address (a request for us, or a reply to us).
 */
/* Tell the other workers that (ifidx, ip) answered from mac (sp_arp_share). */
static void
arp_share(struct sp_arp *arp, unsigned ifidx, uint32_t ip, const struct rte_ether_addr *mac)
{
	const struct sp_arp_share *sh = arp->conf.share;
	struct arp_note note = {.ip = ip, .mac = *mac, .ifidx = (uint8_t)ifidx};

	if (sh == NULL) {
		return;
	}
	for (unsigned w = 0; w < sh->nb_workers; w++) {
		if (w == sh->self) {
			continue;
		}
		if (rte_ring_enqueue_elem(sh->out[w], &note, sizeof(note)) == 0) {
			arp->lc->cnt.arp_shared_out++;
		} else {
			arp->lc->cnt.arp_share_drops++; /* that worker asks again itself */
		}
	}
}

static void
arp_learn(struct sp_arp *arp, unsigned ifidx, uint32_t sip, const struct rte_ether_addr *sha,
	  bool for_us)
{
	const struct sp_iface *ifc = &arp->lc->ifaces[ifidx];
	struct arp_entry *e = arp_find(arp, ifidx, sip);
	bool changed;

	if (e == NULL) {
		if (!for_us || !arp_on_link(ifc, sip)) {
			return;
		}
		e = arp_alloc(arp, ifidx, sip, SP_ARP_REACHABLE);
		if (e == NULL) {
			return;
		}
		arp->lc->cnt.arp_learned++;
		rte_ether_addr_copy(sha, &e->mac);
		arp_confirm(arp, e);
		arp_share(arp, ifidx, sip, sha);
		return;
	}
	changed = e->state != SP_ARP_INCOMPLETE && !rte_is_same_ether_addr(&e->mac, sha);
	if (changed) {
		arp->lc->cnt.arp_updated++;
	}
	rte_ether_addr_copy(sha, &e->mac);
	if (for_us) {
		/* A reply to us, or the neighbour resolving us right now: it is there. */
		arp_confirm(arp, e);
		arp_share(arp, ifidx, sip, sha);
	} else if (e->state == SP_ARP_INCOMPLETE || changed) {
		/* Heard, not confirmed (gratuitous ARP, a request for someone else). */
		arp_flush(arp, e);
		arp_make_stale(arp, e);
	}
}

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
	/* A probe (sender 0.0.0.0) binds nothing; a sender claiming our address is not learned. */
	if (lc->arp != NULL && sip != 0 && sip != ifc->ipv4) {
		arp_learn(lc->arp, ifidx, sip, &a->arp_sha, a->arp_tip == ifc->ipv4);
	}
	if (op != RTE_ARP_OP_REQUEST) {
		if (a->arp_tip == ifc->ipv4) {
			lc->cnt.arp_reply_in++;
		} else {
			lc->cnt.arp_other_in++;
		}
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

/* Hold m for e; the oldest waiting frame makes room (RFC 1122 2.3.2.2: keep the latest). */
static void
arp_hold(struct sp_arp *arp, struct arp_entry *e, struct rte_mbuf *m)
{
	SP_VERIFY(e->npend <= SP_ARP_PENDING_MAX);
	if (e->npend == SP_ARP_PENDING_MAX) {
		arp->lc->cnt.arp_pending_drops++;
		rte_pktmbuf_free(e->pend[0]);
		memmove(e->pend, e->pend + 1, (SP_ARP_PENDING_MAX - 1) * sizeof(e->pend[0]));
		e->npend--;
	}
	e->pend[e->npend++] = m;
}

static void
arp_send_to(struct sp_lcore *lc, unsigned ifidx, struct rte_mbuf *m,
	    const struct rte_ether_addr *mac)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);

	rte_ether_addr_copy(mac, &eth->dst_addr);
	sp_lcore_tx(lc, ifidx, m);
}

void
sp_arp_output(struct sp_lcore *lc, unsigned ifidx, uint32_t nh, struct rte_mbuf *m,
	      const struct rte_ether_addr *hint)
{
	struct sp_arp *arp = lc->arp;
	struct arp_entry *e;

	SP_VERIFY(ifidx < lc->nb_ifaces);
	SP_VERIFY(m->data_len >= sizeof(struct rte_ether_hdr));
	if (arp == NULL) {
		/* No cache (a stack test without one): only the hint can address the frame. */
		SP_VERIFY(hint != NULL);
		arp_send_to(lc, ifidx, m, hint);
		return;
	}
	e = arp_find(arp, ifidx, nh);
	if (SP_LIKELY(e != NULL && e->state != SP_ARP_INCOMPLETE)) {
		lc->cnt.arp_cache_hit++;
		if (e->state == SP_ARP_STALE) {
			/* Used while stale: keep using it, and re-confirm it by unicast. */
			e->state = SP_ARP_PROBE;
			e->tries = 0;
			arp_request(arp, e, true);
			arp_arm(arp, e, SP_ARP_RETRANS_MS);
		}
		arp_send_to(lc, ifidx, m, &e->mac);
		return;
	}
	lc->cnt.arp_cache_miss++;
	if (e == NULL && arp_on_link(&lc->ifaces[ifidx], nh)) {
		e = arp_alloc(arp, ifidx, nh, SP_ARP_INCOMPLETE);
		if (e != NULL) {
			arp_request(arp, e, false);
			arp_arm(arp, e, SP_ARP_RETRANS_MS);
		}
	}
	if (hint != NULL) {
		lc->cnt.arp_hint_tx++;
		arp_send_to(lc, ifidx, m, hint);
	} else if (e != NULL) {
		arp_hold(arp, e, m);
	} else if (!arp_on_link(&lc->ifaces[ifidx], nh)) {
		SP_NET_DROP(lc, m, arp_drop_no_route);
	} else {
		SP_NET_DROP(lc, m, arp_pending_drops); /* the cache is full (counted too) */
	}
}

/* An entry's timer: what it means depends on the state (see the file header). */
static void
arp_timer_fire(void *ctx, struct sp_tw_timer *t)
{
	struct sp_arp *arp = ctx;
	struct arp_entry *e = SP_TW_OWNER(t, struct arp_entry, t);

	SP_VERIFY(t->kind == ARP_TK_ENTRY);
	switch (e->state) {
	case SP_ARP_INCOMPLETE:
	case SP_ARP_PROBE:
		if (e->tries >= arp->conf.probes) {
			arp->lc->cnt.arp_failed++;
			arp_free(arp, e);
			return;
		}
		arp_request(arp, e, e->state == SP_ARP_PROBE);
		arp_arm(arp, e, SP_ARP_RETRANS_MS);
		return;
	case SP_ARP_REACHABLE:
		arp->lc->cnt.arp_expired++;
		arp_make_stale(arp, e);
		return;
	case SP_ARP_STALE:
		arp->lc->cnt.arp_gc++;
		arp_free(arp, e);
		return;
	default:
		SP_VERIFY(0);
	}
}

static uint64_t
arp_clock_ms(const struct sp_arp *arp)
{
	uint64_t cyc = arp->lc->clk.ops->cycles(arp->lc->clk.ctx) - arp->start_cycles;

	/* Split so that neither the product overflows nor a slow clock (hz < 1000) divides by 0. */
	return cyc / arp->hz * 1000u + cyc % arp->hz * 1000u / arp->hz;
}

/*
 * Other workers' confirmations: an entry we have for the neighbour is confirmed (and sends
 * what waits for it); none is made for a neighbour we do not need.
 */
static void
arp_take_notes(struct sp_arp *arp)
{
	const struct sp_arp_share *sh = arp->conf.share;

	for (unsigned w = 0; w < sh->nb_workers; w++) {
		struct arp_note notes[SP_ARP_SHARE_PER_POLL];
		unsigned n;

		if (w == sh->self) {
			continue;
		}
		n = rte_ring_dequeue_burst_elem(sh->in[w], notes, sizeof(notes[0]),
						SP_ARP_SHARE_PER_POLL, NULL);
		for (unsigned i = 0; i < n; i++) {
			struct arp_entry *e;

			arp->lc->cnt.arp_shared_in++;
			if (notes[i].ifidx >= arp->lc->nb_ifaces) {
				continue;
			}
			e = arp_find(arp, notes[i].ifidx, notes[i].ip);
			if (e == NULL) {
				continue;
			}
			if (e->state != SP_ARP_INCOMPLETE &&
			    !rte_is_same_ether_addr(&e->mac, &notes[i].mac)) {
				arp->lc->cnt.arp_updated++;
			}
			rte_ether_addr_copy(&notes[i].mac, &e->mac);
			arp_confirm(arp, e);
		}
	}
}

void
sp_arp_timers(struct sp_lcore *lc)
{
	struct sp_arp *arp = lc->arp;
	uint64_t now = arp_clock_ms(arp);
	unsigned fired;

	if (now > arp->now_ms) {
		arp->now_ms = now;
	}
	/* A budget-limited advance leaves the rest due for the next poll. */
	fired = sp_tw_advance(&arp->wheel, arp->now_ms, SP_ARP_TIMERS_PER_POLL);
	SP_VERIFY(fired <= SP_ARP_TIMERS_PER_POLL);
	if (arp->conf.share != NULL) {
		arp_take_notes(arp);
	}
}

int
sp_arp_create(struct sp_arp **out, struct sp_lcore *lc, const struct sp_arp_conf *conf)
{
	int socket = lc->lcore_id == LCORE_ID_ANY ? SOCKET_ID_ANY
						  : (int)rte_lcore_to_socket_id(lc->lcore_id);
	uint32_t bits = 1;
	struct sp_arp *arp;

	if (conf->entries == 0 || conf->entries > (1u << 24) || conf->reachable_ms == 0 ||
	    conf->probes == 0 || conf->probes > 255) {
		return -EINVAL;
	}
	while ((1u << bits) < conf->entries * 2) {
		bits++;
	}
	arp = rte_zmalloc_socket("sp_arp", sizeof(*arp), SP_CACHE_LINE, socket);
	if (arp == NULL) {
		return -ENOMEM;
	}
	arp->lc = lc;
	arp->conf = *conf;
	arp->rng = conf->seed != 0 ? conf->seed : UINT64_C(0x853c49e6748fea9b);
	arp->hz = lc->clk.ops->hz(lc->clk.ctx);
	SP_VERIFY(arp->hz != 0);
	arp->start_cycles = lc->clk.ops->cycles(lc->clk.ctx);
	arp->slot_bits = bits;
	arp->slot_mask = (1u << bits) - 1;
	arp->slots = rte_zmalloc_socket("sp_arp_slots", sizeof(arp->slots[0]) << bits,
					SP_CACHE_LINE, socket);
	arp->entries = rte_zmalloc_socket("sp_arp_entries", sizeof(arp->entries[0]) * conf->entries,
					  SP_CACHE_LINE, socket);
	arp->free_idx =
	    rte_malloc_socket("sp_arp_free", sizeof(uint32_t) * conf->entries, 0, socket);
	if (arp->slots == NULL || arp->entries == NULL || arp->free_idx == NULL) {
		sp_arp_destroy(arp);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < conf->entries; i++) {
		sp_tw_timer_init(&arp->entries[i].t, ARP_TK_ENTRY);
		/* Lowest indices on top: a fresh cache reuses hot entries. */
		arp->free_idx[conf->entries - 1 - i] = i;
	}
	sp_tw_init(&arp->wheel, 0, arp_timer_fire, arp);
	*out = arp;
	return 0;
}

void
sp_arp_destroy(struct sp_arp *arp)
{
	if (arp == NULL) {
		return;
	}
	for (uint32_t i = 0; arp->entries != NULL && i < arp->conf.entries; i++) {
		rte_pktmbuf_free_bulk(arp->entries[i].pend, arp->entries[i].npend);
	}
	rte_free(arp->free_idx);
	rte_free(arp->entries);
	rte_free(arp->slots);
	rte_free(arp);
}

enum sp_arp_state
sp_arp_lookup(const struct sp_arp *arp, unsigned ifidx, uint32_t ip, struct rte_ether_addr *mac)
{
	const struct arp_entry *e = arp_find(arp, ifidx, ip);

	if (e == NULL) {
		return SP_ARP_NONE;
	}
	if (mac != NULL) {
		*mac = e->mac;
	}
	return (enum sp_arp_state)e->state;
}

uint32_t
sp_arp_count(const struct sp_arp *arp)
{
	return arp->nb_used;
}

uint32_t
sp_arp_capacity(const struct sp_arp *arp)
{
	return arp->conf.entries;
}

uint32_t
sp_arp_check(const struct sp_arp *arp)
{
	uint32_t in_table = 0, in_use = 0, held = 0;

	for (uint32_t i = 0; i <= arp->slot_mask; i++) {
		const struct arp_slot *s = &arp->slots[i];
		const struct arp_entry *e;

		if (s->ref == 0) {
			continue;
		}
		in_table++;
		SP_VERIFY(s->ref <= arp->conf.entries);
		e = &arp->entries[s->ref - 1];
		SP_VERIFY(e->state != SP_ARP_NONE && arp_key(e->ifidx, e->ip) == s->key);
		/* Every slot from the key's home up to it is occupied (no broken probe run). */
		for (uint32_t j = arp_home(arp, s->key); j != i; j = (j + 1) & arp->slot_mask) {
			SP_VERIFY(arp->slots[j].ref != 0);
		}
		/* Every state gives an entry its timer (retransmit, reachable or removal). */
		SP_VERIFY(sp_tw_armed(&e->t));
		SP_VERIFY(e->npend == 0 || e->state == SP_ARP_INCOMPLETE);
		SP_VERIFY(e->npend <= SP_ARP_PENDING_MAX);
		held += e->npend;
	}
	for (uint32_t i = 0; i < arp->conf.entries; i++) {
		in_use += arp->entries[i].state != SP_ARP_NONE;
	}
	SP_VERIFY(in_table == arp->nb_used && in_use == arp->nb_used);
	SP_VERIFY(in_table * 2 <= arp->slot_mask + 1);
	return held;
}
