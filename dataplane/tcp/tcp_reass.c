/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP out-of-order queue and SACK blocks (RFC 9293 3.10.7.4, RFC 2018 4, RFC 9293 3.4 for the
 * modulo-2^32 arithmetic). Runs on the worker lcore that owns the connection; the per-worker
 * pool is never shared.
 *
 * Each connection's queue is a singly linked list of entries sorted by sequence number. Each
 * entry holds one mbuf chain whose bytes are exactly [seq, seq + len). Invariants (checked by
 * reass_check in debug builds after every change): entries never overlap and are strictly
 * increasing; len > 0 and m->pkt_len == len; q->bytes and q->nb_segs are the sums; the
 * recent[] seqs each lie in a distinct queued block. Adjacent entries may touch: blocks (for
 * SACK and take) are maximal runs of touching entries.
 *
 * Overlap policy: bytes already queued win at the newcomer's edges (it is trimmed with no
 * copy), and queued entries that the newcomer covers completely are freed and replaced by it.
 * So a segment never needs splitting, and a large retransmission collapses many small entries
 * into one, which returns entries to the pool. Payload is never copied.
 *
 * Bounds: SP_REASS_MAX_SEGS_PER_CONN entries per connection, nb_entries per worker (from the
 * configuration); when either is reached the newcomer is refused, freed and counted
 * (drop_full), and TCP recovers by retransmission. No allocation after sp_reass_pool_init.
 */
#include <errno.h>
#include <string.h>

#include <rte_malloc.h>
#include <rte_mbuf.h>

#include <spate/assert.h>

#include "tcp_reass.h"
#include "tcp_seq.h"

struct sp_reass_ent {
	struct sp_reass_ent *next; /* next higher entry in the queue, or next free entry */
	struct rte_mbuf *m;        /* payload [seq, seq + len), pkt_len == len */
	uint32_t seq;
	uint32_t len;
};

SP_STATIC_ASSERT(sizeof(struct sp_reass_q) <= 64, "the queue is embedded in every TCB");
SP_STATIC_ASSERT(SP_REASS_MAX_SEGS_PER_CONN <= UINT8_MAX, "nb_segs is a uint8_t");
SP_STATIC_ASSERT(SP_REASS_MAX_SEGS_PER_CONN <= 64, "sack_blocks marks blocks in a uint64_t");
SP_STATIC_ASSERT(SP_REASS_SACK_RECENT <= UINT8_MAX, "nb_recent is a uint8_t");

int
sp_reass_pool_init(struct sp_reass_pool *pool, uint32_t nb_entries, int socket_id)
{
	memset(pool, 0, sizeof(*pool));
	if (nb_entries == 0 || nb_entries > SP_REASS_POOL_MAX_ENTRIES) {
		return -EINVAL;
	}
	pool->ents = rte_zmalloc_socket("sp_reass", (size_t)nb_entries * sizeof(pool->ents[0]),
					RTE_CACHE_LINE_SIZE, socket_id);
	if (pool->ents == NULL) {
		return -ENOMEM;
	}
	for (uint32_t i = 0; i + 1 < nb_entries; i++) {
		pool->ents[i].next = &pool->ents[i + 1];
	}
	pool->free = &pool->ents[0];
	pool->nb_ents = nb_entries;
	pool->nb_free = nb_entries;
	return 0;
}

void
sp_reass_pool_fini(struct sp_reass_pool *pool)
{
	SP_VERIFY(pool->nb_free == pool->nb_ents);
	rte_free(pool->ents);
	memset(pool, 0, sizeof(*pool));
}

uint32_t
sp_reass_pool_in_use(const struct sp_reass_pool *pool)
{
	return pool->nb_ents - pool->nb_free;
}

void
sp_reass_q_init(struct sp_reass_q *q)
{
	memset(q, 0, sizeof(*q));
}

static struct sp_reass_ent *
reass_ent_get(struct sp_reass_pool *pool)
{
	struct sp_reass_ent *e = pool->free;

	if (e == NULL) {
		return NULL;
	}
	SP_VERIFY(pool->nb_free > 0);
	pool->free = e->next;
	pool->nb_free--;
	pool->st.segs_cur++;
	e->next = NULL;
	return e;
}

/* Unlink e (whose predecessor is prev, or the head) and return it to the pool; keeps e->m. */
static void
reass_ent_put(struct sp_reass_pool *pool, struct sp_reass_q *q, struct sp_reass_ent *prev,
	      struct sp_reass_ent *e)
{
	SP_VERIFY(q->nb_segs > 0 && q->bytes >= e->len);
	SP_VERIFY(e >= pool->ents && e < pool->ents + pool->nb_ents);
	if (prev == NULL) {
		q->head = e->next;
	} else {
		prev->next = e->next;
	}
	q->nb_segs--;
	q->bytes -= e->len;
	pool->st.bytes_cur -= e->len;
	pool->st.segs_cur--;
	e->m = NULL;
	e->next = pool->free;
	pool->free = e;
	pool->nb_free++;
}

/*
 * Drop n bytes from the front of chain m (n < pkt_len), freeing segments it empties.
 * Returns the new head.
 */
static struct rte_mbuf *
reass_trim_front(struct rte_mbuf *m, uint32_t n)
{
	SP_VERIFY(n < m->pkt_len);
	while (n >= m->data_len) {
		struct rte_mbuf *next = m->next;

		SP_VERIFY(next != NULL);
		n -= m->data_len;
		next->pkt_len = m->pkt_len - m->data_len;
		next->nb_segs = (uint16_t)(m->nb_segs - 1);
		m->next = NULL;
		m->nb_segs = 1;
		m->pkt_len = m->data_len;
		rte_pktmbuf_free(m);
		m = next;
	}
	if (n > 0) {
		const char *data = rte_pktmbuf_adj(m, (uint16_t)n);

		SP_VERIFY(data != NULL);
	}
	return m;
}

/* Drop n bytes from the back of chain m (n < pkt_len), freeing segments it empties. */
static void
reass_trim_back(struct rte_mbuf *m, uint32_t n)
{
	uint32_t keep = m->pkt_len - n;
	uint32_t acc = 0;
	uint16_t segs = 1;
	struct rte_mbuf *s = m;

	SP_VERIFY(n < m->pkt_len);
	while (acc + s->data_len < keep) {
		acc += s->data_len;
		s = s->next;
		segs++;
		SP_VERIFY(s != NULL);
	}
	s->data_len = (uint16_t)(keep - acc);
	if (s->next != NULL) {
		rte_pktmbuf_free(s->next);
		s->next = NULL;
	}
	m->nb_segs = segs;
	m->pkt_len = keep;
}

static inline uint32_t
reass_end(const struct sp_reass_ent *e)
{
	return e->seq + e->len;
}

/* O(n) invariant check, for SP_ASSERT after every change (debug builds). */
SP_UNUSED static bool
reass_check(const struct sp_reass_q *q)
{
	const struct sp_reass_ent *e;
	uint32_t bytes = 0;
	unsigned segs = 0;
	const char *reason;

	for (e = q->head; e != NULL; e = e->next) {
		if (e->len == 0 || e->m == NULL || e->m->pkt_len != e->len ||
		    rte_mbuf_check(e->m, 1, &reason) != 0) {
			return false;
		}
		if (e->next != NULL && sp_seq_gt(reass_end(e), e->next->seq)) {
			return false;
		}
		bytes += e->len;
		segs++;
	}
	return bytes == q->bytes && segs == q->nb_segs && segs <= SP_REASS_MAX_SEGS_PER_CONN &&
	       q->nb_recent <= SP_REASS_SACK_RECENT;
}

/* Maximal runs of touching entries, lowest first. Returns the count (<= nb_segs). */
static unsigned
reass_blocks(const struct sp_reass_q *q, struct sp_sack_block *b)
{
	unsigned n = 0;

	for (const struct sp_reass_ent *e = q->head; e != NULL; e = e->next) {
		if (n > 0 && b[n - 1].right == e->seq) {
			b[n - 1].right = reass_end(e);
		} else {
			SP_VERIFY(n < SP_REASS_MAX_SEGS_PER_CONN);
			b[n].left = e->seq;
			b[n].right = reass_end(e);
			n++;
		}
	}
	return n;
}

/* Index of the block holding seq s, or -1. */
static int
reass_block_find(const struct sp_sack_block *b, unsigned n, uint32_t s)
{
	for (unsigned i = 0; i < n; i++) {
		if (sp_seq_in(s, b[i].left, b[i].right)) {
			return (int)i;
		}
	}
	return -1;
}

/*
 * RFC 2018 4: remember that the block holding s changed most recently. Older entries in the
 * same block (it may have merged several) are dropped so that each entry names one block.
 */
static void
reass_recent_note(struct sp_reass_q *q, uint32_t s)
{
	struct sp_sack_block b[SP_REASS_MAX_SEGS_PER_CONN];
	unsigned nb = reass_blocks(q, b);
	int at = reass_block_find(b, nb, s);
	uint32_t keep[SP_REASS_SACK_RECENT];
	unsigned k = 0;

	SP_VERIFY(at >= 0);
	keep[k++] = s;
	for (unsigned i = 0; i < q->nb_recent && k < SP_REASS_SACK_RECENT; i++) {
		if (!sp_seq_in(q->recent[i], b[at].left, b[at].right)) {
			keep[k++] = q->recent[i];
		}
	}
	memcpy(q->recent, keep, k * sizeof(keep[0]));
	q->nb_recent = (uint8_t)k;
}

/* Forget recent[] entries below seq s (delivered, or about to be). */
static void
reass_recent_prune(struct sp_reass_q *q, uint32_t s)
{
	unsigned k = 0;

	for (unsigned i = 0; i < q->nb_recent; i++) {
		if (sp_seq_geq(q->recent[i], s)) {
			q->recent[k++] = q->recent[i];
		}
	}
	q->nb_recent = (uint8_t)k;
}

/*
 * RFC 9293 3.10.7.4: keep only the part of [seq, seq + len) inside [rcv_nxt, rcv_nxt + wnd).
 * Returns the trimmed chain with its start in *seq, or NULL when nothing is left (m freed).
 */
static struct rte_mbuf *
reass_clip_window(struct sp_reass_pool *pool, struct rte_mbuf *m, uint32_t *seq, uint32_t len,
		  uint32_t rcv_nxt, uint32_t wnd)
{
	int64_t lo = (int32_t)(*seq - rcv_nxt); /* offsets from rcv_nxt */
	int64_t hi = lo + len;
	uint64_t front = lo < 0 ? (uint64_t)-lo : 0;
	uint64_t back = hi > (int64_t)wnd ? (uint64_t)(hi - wnd) : 0;

	if (front == 0 && back == 0) {
		return m;
	}
	if (front + back >= len) {
		rte_pktmbuf_free(m);
		pool->st.oow_drop++;
		return NULL;
	}
	pool->st.oow_trim++;
	if (back > 0) {
		reass_trim_back(m, (uint32_t)back);
	}
	if (front > 0) {
		m = reass_trim_front(m, (uint32_t)front);
		*seq = rcv_nxt;
	}
	return m;
}

/*
 * Trim m = [*start, *end) against the queue: the entry before it wins over its front, the
 * first entry reaching past its end wins over its back, and entries in between are freed.
 * Returns the trimmed chain, or NULL if every byte was already queued (m freed).
 */
static struct rte_mbuf *
reass_overlap(struct sp_reass_pool *pool, struct sp_reass_q *q, struct sp_reass_ent *prev,
	      struct rte_mbuf *m, uint32_t *start, uint32_t *end)
{
	struct sp_reass_ent *n;
	bool trimmed = false;

	if (prev != NULL && sp_seq_gt(reass_end(prev), *start)) {
		if (sp_seq_geq(reass_end(prev), *end)) {
			rte_pktmbuf_free(m);
			pool->st.dup++;
			return NULL;
		}
		m = reass_trim_front(m, reass_end(prev) - *start);
		*start = reass_end(prev);
		trimmed = true;
	}
	n = prev != NULL ? prev->next : q->head;
	while (n != NULL && sp_seq_lt(n->seq, *end)) {
		struct sp_reass_ent *next = n->next;

		SP_VERIFY(sp_seq_geq(n->seq, *start));
		if (sp_seq_gt(reass_end(n), *end)) {
			if (n->seq == *start) { /* prev and n already hold every byte */
				rte_pktmbuf_free(m);
				pool->st.dup++;
				return NULL;
			}
			reass_trim_back(m, *end - n->seq);
			*end = n->seq;
			trimmed = true;
			break;
		}
		rte_pktmbuf_free(n->m);
		reass_ent_put(pool, q, prev, n);
		pool->st.replaced++;
		n = next;
	}
	if (trimmed) {
		pool->st.overlap_trim++;
	}
	return m;
}

int
sp_reass_insert(struct sp_reass_pool *pool, struct sp_reass_q *q, uint32_t seq, struct rte_mbuf *m,
		uint32_t len, uint32_t rcv_nxt, uint32_t rcv_wnd_end)
{
	uint32_t wnd = rcv_wnd_end - rcv_nxt;
	struct sp_reass_ent *prev = NULL;
	struct sp_reass_ent *e;
	uint32_t start, end;

	SP_VERIFY(m != NULL && m->pkt_len == len);
	SP_VERIFY(wnd < (UINT32_C(1) << 31));
	if (len == 0) {
		rte_pktmbuf_free(m);
		pool->st.dup++;
		return 0;
	}
	m = reass_clip_window(pool, m, &seq, len, rcv_nxt, wnd);
	if (m == NULL) {
		return 0;
	}
	start = seq;
	end = seq + m->pkt_len;
	for (e = q->head; e != NULL && sp_seq_leq(e->seq, start); e = e->next) {
		prev = e;
	}
	m = reass_overlap(pool, q, prev, m, &start, &end);
	if (m == NULL) {
		reass_recent_note(q, seq); /* a duplicate still triggers its block first */
		return 0;
	}
	if (q->nb_segs >= SP_REASS_MAX_SEGS_PER_CONN || (e = reass_ent_get(pool)) == NULL) {
		rte_pktmbuf_free(m);
		pool->st.drop_full++;
		return -ENOBUFS;
	}
	e->m = m;
	e->seq = start;
	e->len = end - start;
	SP_VERIFY(e->len == m->pkt_len);
	if (prev == NULL) {
		e->next = q->head;
		q->head = e;
	} else {
		e->next = prev->next;
		prev->next = e;
	}
	q->nb_segs++;
	q->bytes += e->len;
	pool->st.segs_queued++;
	pool->st.bytes_in += e->len;
	pool->st.bytes_cur += e->len;
	reass_recent_note(q, start);
	SP_ASSERT(reass_check(q));
	return 0;
}

int
sp_reass_take(struct sp_reass_pool *pool, struct sp_reass_q *q, uint32_t rcv_nxt,
	      struct rte_mbuf **chain_out, uint32_t *len_out)
{
	struct sp_reass_ent *e;
	struct rte_mbuf *head, *tail;
	uint32_t end;

	*chain_out = NULL;
	*len_out = 0;
	while ((e = q->head) != NULL && sp_seq_leq(reass_end(e), rcv_nxt)) {
		rte_pktmbuf_free(e->m);
		reass_ent_put(pool, q, NULL, e);
		pool->st.stale++;
	}
	if (e == NULL || sp_seq_gt(e->seq, rcv_nxt)) {
		reass_recent_prune(q, rcv_nxt);
		SP_ASSERT(reass_check(q));
		return 0;
	}
	head = e->m;
	if (e->seq != rcv_nxt) {
		head = reass_trim_front(head, rcv_nxt - e->seq);
		pool->st.stale++;
	}
	end = reass_end(e);
	reass_ent_put(pool, q, NULL, e);
	tail = rte_pktmbuf_lastseg(head);
	while ((e = q->head) != NULL && e->seq == end &&
	       (unsigned)head->nb_segs + e->m->nb_segs <= RTE_MBUF_MAX_NB_SEGS) {
		tail->next = e->m;
		head->nb_segs = (uint16_t)(head->nb_segs + e->m->nb_segs);
		head->pkt_len += e->len;
		tail = rte_pktmbuf_lastseg(e->m);
		end = reass_end(e);
		reass_ent_put(pool, q, NULL, e);
	}
	SP_VERIFY(head->pkt_len == end - rcv_nxt && head->pkt_len < (UINT32_C(1) << 31));
	reass_recent_prune(q, end);
	SP_ASSERT(reass_check(q));
	*chain_out = head;
	*len_out = head->pkt_len;
	return (int)head->pkt_len;
}

unsigned
sp_reass_sack_blocks(const struct sp_reass_q *q, struct sp_sack_block *out, unsigned max)
{
	struct sp_sack_block b[SP_REASS_MAX_SEGS_PER_CONN];
	unsigned nb = reass_blocks(q, b);
	uint64_t used = 0;
	unsigned n = 0;

	for (unsigned i = 0; i < q->nb_recent && n < max; i++) {
		int at = reass_block_find(b, nb, q->recent[i]);

		if (at >= 0 && (used & (UINT64_C(1) << at)) == 0) {
			used |= UINT64_C(1) << at;
			out[n++] = b[at];
		}
	}
	/* RFC 2018 4: report as many distinct blocks as fit; the rest in sequence order. */
	for (unsigned i = 0; i < nb && n < max; i++) {
		if ((used & (UINT64_C(1) << i)) == 0) {
			used |= UINT64_C(1) << i;
			out[n++] = b[i];
		}
	}
	return n;
}

void
sp_reass_flush(struct sp_reass_pool *pool, struct sp_reass_q *q)
{
	struct sp_reass_ent *e;

	while ((e = q->head) != NULL) {
		rte_pktmbuf_free(e->m);
		reass_ent_put(pool, q, NULL, e);
	}
	SP_VERIFY(q->bytes == 0 && q->nb_segs == 0);
	q->nb_recent = 0;
}
