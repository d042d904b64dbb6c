/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-worker ARP cache (prefix sp_arp_): IPv4-to-Ethernet bindings of the neighbours this
 * worker talks to, with reachability timeouts and resolution of unknown neighbours
 * (RFC 826, RFC 1122 2.3.2). One instance per worker, touched only by that worker; built on
 * the main lcore before launch. Design and figures: docs/internals/arp.md.
 */
#ifndef SP_ARP_H
#define SP_ARP_H

#include <stdint.h>

#include <spate/compiler.h>
#include <spate/limits.h>

struct rte_ether_addr;
struct rte_mbuf;
struct rte_ring;
struct sp_lcore;
struct sp_arp;

/* Bounds (STYLE.md §11). */
#define SP_ARP_PENDING_MAX     4     /* frames held per unresolved neighbour (oldest dropped) */
#define SP_ARP_RETRANS_MS      1000  /* request spacing: RFC 1122 2.3.2.1, one per second */
#define SP_ARP_STALE_GC_MS     60000 /* a stale entry nobody used is removed after this */
#define SP_ARP_TIMERS_PER_POLL 64    /* timer callbacks per sp_arp_timers() call */

#define SP_ARP_SHARE_PER_POLL 32 /* notes taken from each other worker per poll */

/*
 * Answers shared between workers. A NIC delivers ARP (not hashed by RSS) to one queue, so the
 * worker that asked for a neighbour may never see the reply, and only the passive side has a
 * fallback (the SYN's source MAC). So every worker that confirms a neighbour from an ARP packet
 * addressed to us passes a note (interface, address, MAC) to every other worker, through one
 * single-producer single-consumer ring (rte_ring of SP_ARP_NOTE_BYTES elements) per ordered
 * pair; a worker that has an entry for that neighbour takes the note as a confirmation (which
 * sends what waits for it), and one without ignores it: entries are made only by need.
 */
#define SP_ARP_NOTE_BYTES 12
#define SP_ARP_SHARE_RING 256 /* notes a ring holds; a full one drops (counted) */
struct sp_arp_share {
	uint16_t self;
	uint16_t nb_workers;
	struct rte_ring *out[SP_MAX_WORKERS]; /* to each other worker (NULL for self) */
	struct rte_ring *in[SP_MAX_WORKERS];  /* from each other worker */
};

struct sp_arp_conf {
	uint32_t entries;      /* neighbours per worker, all ports */
	uint32_t reachable_ms; /* base reachable time; each confirmation draws 0.5-1.5x of it */
	uint32_t probes;       /* unanswered requests before an entry is dropped */
	uint64_t seed;         /* of the reachable-time randomisation */
	const struct sp_arp_share *share; /* NULL: one worker, nothing to share */
};

/* Entry states (the subset of RFC 4861's neighbour states an ARP cache needs). */
enum sp_arp_state {
	SP_ARP_NONE = 0,   /* no entry */
	SP_ARP_INCOMPLETE, /* broadcast requests out, no answer yet; frames wait */
	SP_ARP_REACHABLE,  /* confirmed within the reachable time */
	SP_ARP_STALE,      /* not confirmed lately; used as is, probed on first use */
	SP_ARP_PROBE,      /* used while stale: unicast requests re-confirming it */
};

/* Build the cache for lc (boot time). Returns 0, -EINVAL or -ENOMEM. */
SP_MUST_CHECK int sp_arp_create(struct sp_arp **out, struct sp_lcore *lc,
				const struct sp_arp_conf *conf);
/* Free the cache and every frame still waiting in it. NULL is a no-op. */
void sp_arp_destroy(struct sp_arp *arp);

/*
 * Send frame m (Ethernet header with source and type already written) to IPv4 next hop nh
 * (network order) on interface ifidx: fills the destination MAC from the cache and queues it
 * with sp_lcore_tx. Without a usable entry: sends it to `hint` when the caller has one (the
 * Ethernet source of the segment that opened the connection), else holds it until the
 * neighbour answers (at most SP_ARP_PENDING_MAX per neighbour). Either way a missing entry
 * starts resolution. Always takes ownership of m.
 */
void sp_arp_output(struct sp_lcore *lc, unsigned ifidx, uint32_t nh, struct rte_mbuf *m,
		   const struct rte_ether_addr *hint);

/* Advance the cache's clock and run due timers (bounded); call once per poll. */
void sp_arp_timers(struct sp_lcore *lc);

/* The entry for (ifidx, ip): its state, and its MAC in *mac when not NULL. For tests, status. */
enum sp_arp_state sp_arp_lookup(const struct sp_arp *arp, unsigned ifidx, uint32_t ip,
				struct rte_ether_addr *mac);

/* Entries in use (a gauge) and the cache's capacity. */
uint32_t sp_arp_count(const struct sp_arp *arp);
uint32_t sp_arp_capacity(const struct sp_arp *arp);

/*
 * Walk the table and verify its invariants; aborts on a violation. Returns the number of frames
 * held for unresolved neighbours. O(capacity): tests and fuzzers only.
 */
uint32_t sp_arp_check(const struct sp_arp *arp);

#endif /* SP_ARP_H */
