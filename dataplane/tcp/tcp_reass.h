/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP out-of-order queue and SACK blocks (RFC 9293 3.10.7.4, RFC 2018 4). One struct
 * sp_reass_pool per worker holds a fixed array of entries allocated at start-up; each
 * connection embeds a small struct sp_reass_q (a sorted singly linked list of entries, each
 * one mbuf chain holding payload bytes that arrived beyond rcv_nxt). Touched only by the
 * worker that owns the connection. No DPDK headers here: tcp_types.h embeds the queue.
 * Design, overlap policy and memory budget: docs/internals/tcp-reass.md.
 *
 * Ownership: sp_reass_insert always takes the mbuf (it stores, trims or frees it);
 * sp_reass_take hands a chain to the caller; sp_reass_flush frees everything queued.
 */
#ifndef SP_TCP_REASS_H
#define SP_TCP_REASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spate/compiler.h>

struct rte_mbuf;

/* Bounds (STYLE.md §11). */
#define SP_REASS_MAX_SEGS_PER_CONN 64 /* queued entries per connection */
#define SP_REASS_SACK_RECENT 4	      /* recently changed blocks remembered (RFC 2018: <= 4) */
#define SP_REASS_POOL_MAX_ENTRIES (1u << 24) /* sanity cap on one worker's pool */

/* One SACK block: the half-open sequence range [left, right) (RFC 2018 3). */
struct sp_sack_block {
	uint32_t left;
	uint32_t right;
};

/* One queued run of payload; lives in the pool's array (private to tcp_reass.c). */
struct sp_reass_ent;

/* Per-worker counters (written by the owning worker only). Every drop has its own reason. */
struct sp_reass_stats {
	uint64_t segs_queued;	/* entries stored (a segment, possibly trimmed) */
	uint64_t bytes_in;	/* payload bytes stored, all time */
	uint64_t bytes_cur;	/* payload bytes queued now, all connections */
	uint64_t segs_cur;	/* entries in use now, all connections */
	uint64_t dup;		/* segments freed: every byte was already queued */
	uint64_t overlap_trim;	/* segments trimmed against bytes already queued */
	uint64_t replaced;	/* queued entries freed because a newcomer covered them */
	uint64_t oow_trim;	/* segments trimmed (or dropped) for lying outside the window */
	uint64_t oow_drop;	/* segments freed whole: nothing inside [rcv_nxt, wnd_end) */
	uint64_t drop_full;	/* segments refused: connection limit or pool exhausted */
	uint64_t stale;		/* entries freed by take: in-order data already covered them */
};

struct sp_reass_pool {
	struct sp_reass_ent *ents; /* nb_ents entries, allocated once by sp_reass_pool_init */
	struct sp_reass_ent *free; /* free list */
	uint32_t nb_ents;
	uint32_t nb_free;
	struct sp_reass_stats st;
};

/* Per-connection queue, embedded in the TCB. All-zero bytes are a valid empty queue. */
struct sp_reass_q {
	struct sp_reass_ent *head; /* lowest-sequence entry; NULL: empty */
	uint32_t bytes;	 /* payload bytes queued */
	uint8_t nb_segs; /* entries queued, <= SP_REASS_MAX_SEGS_PER_CONN */
	uint8_t nb_recent;
	uint16_t pad;
	/* Sequence numbers inside recently changed blocks, most recent first (RFC 2018 4). */
	uint32_t recent[SP_REASS_SACK_RECENT];
};

/*
 * Allocate nb_entries entries (boot time only) on NUMA socket socket_id.
 * Returns 0, -EINVAL (nb_entries 0 or above SP_REASS_POOL_MAX_ENTRIES) or -ENOMEM.
 */
SP_MUST_CHECK int sp_reass_pool_init(struct sp_reass_pool *pool, uint32_t nb_entries,
				     int socket_id);
/* Release the entry array. Every queue must have been flushed (verified). */
void sp_reass_pool_fini(struct sp_reass_pool *pool);
/* Entries held by queues now. */
uint32_t sp_reass_pool_in_use(const struct sp_reass_pool *pool);

void sp_reass_q_init(struct sp_reass_q *q);

/*
 * Queue payload m (pkt_len == len, possibly a chain) that starts at sequence seq. Called for
 * data beyond rcv_nxt; the window is [rcv_nxt, rcv_wnd_end) and must be shorter than 2^31.
 * The queue takes ownership of m in every case. Bytes outside the window are trimmed off;
 * bytes already queued are kept and the newcomer is trimmed against them; queued entries
 * that the newcomer covers entirely are replaced by it.
 * Returns 0 when nothing had to be refused (m stored, trimmed, or freed as a duplicate or as
 * wholly out of window), or -ENOBUFS when new bytes were refused for lack of an entry
 * (per-connection or pool limit; m freed, counted in drop_full).
 */
int sp_reass_insert(struct sp_reass_pool *pool, struct sp_reass_q *q, uint32_t seq,
		    struct rte_mbuf *m, uint32_t len, uint32_t rcv_nxt, uint32_t rcv_wnd_end);

/*
 * After the caller advanced rcv_nxt: if the first entry starts at or before rcv_nxt, unlink
 * the contiguous run from there as one mbuf chain (bytes before rcv_nxt trimmed off, no copy)
 * into *chain_out and its length into *len_out, and return that length. Entries wholly
 * before rcv_nxt are freed (counted in stale). Returns 0 with *chain_out NULL when nothing
 * is ready. Stops early if the chain would exceed RTE_MBUF_MAX_NB_SEGS: the caller advances
 * rcv_nxt by *len_out and calls again. The caller owns the chain.
 */
int sp_reass_take(struct sp_reass_pool *pool, struct sp_reass_q *q, uint32_t rcv_nxt,
		  struct rte_mbuf **chain_out, uint32_t *len_out);

/*
 * Up to max SACK blocks for the queued data (RFC 2018 4): the first contains the most
 * recently received segment, the rest follow in most-recently-changed order, then any other
 * queued blocks in sequence order; no block repeats. Precondition: sp_reass_take was called
 * after rcv_nxt last advanced, so every block lies strictly above rcv_nxt. Returns the count.
 */
unsigned sp_reass_sack_blocks(const struct sp_reass_q *q, struct sp_sack_block *out,
			      unsigned max);

/* Free every queued mbuf and entry (connection reset or close). */
void sp_reass_flush(struct sp_reass_pool *pool, struct sp_reass_q *q);

static inline uint32_t
sp_reass_bytes(const struct sp_reass_q *q)
{
	return q->bytes;
}

static inline bool
sp_reass_empty(const struct sp_reass_q *q)
{
	return q->head == NULL;
}

#endif /* SP_TCP_REASS_H */
