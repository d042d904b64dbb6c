/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shard record ring: owns one shard's records in memory, their sequence numbers, the
 * sparse index and the lock-free read protocol (docs/internals/shard-ring.md).
 *
 * Runs on the shard's owner lcore for init, append and trim (the single writer of every
 * field below) and on any lcore for reads, seeks and stats (loads only). Invariants:
 *   - logical offsets only grow; a record's bytes are at data[offset % cap], contiguous;
 *   - trim <= end, end - trim <= cap, and every byte of [trim, end) belongs to a committed
 *     record or a pad and is never written again until trim passes it;
 *   - counters are dense: base, base + 1, ... in offset order, below SP_SEQNO_COUNTER_MAX;
 *   - arrival times never decrease in offset order;
 *   - index entry k describes counter base + k * SP_SHARD_INDEX_STRIDE, and the index is big
 *     enough that no entry of an untrimmed record is ever overwritten.
 * Publication: a batch's bytes, index entries and commit slot are stored first, then the
 * batch generation with one release store. Overrun: a reader validates what it read by
 * loading the trim horizon again after an acquire fence; bytes at offsets >= that horizon
 * cannot have been reused, because the writer reuses bytes only after moving the horizon past
 * them and issues a release fence between the two.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "shard_ring.h"

#define SHARD_RING_MAGIC 0x474e5253u /* "SRNG" */
/* Commit slots: a reader's slot is reused only after the writer published this many batches. */
#define SHARD_COMMIT_SLOTS 16u
/* Entries beyond the most that untrimmed records can use (see shard_index_entries). */
#define SHARD_INDEX_SLACK 3u
/* Records (and pads) a walk may step over: an index stride, a wrap pad, and margin. */
#define SHARD_WALK_MAX (2u * SP_SHARD_INDEX_STRIDE + 4u)
/* Data bytes covered by one index entry in the worst case (every record empty). */
#define SHARD_INDEX_SPAN ((uint64_t)SP_SHARD_INDEX_STRIDE * SP_SHARD_REC_HDR_BYTES)
#define SHARD_LOW_BITS   52u

struct shard_commit {
	_Atomic uint64_t end;         /* logical end of the newest committed record */
	_Atomic uint64_t tip_counter; /* its counter; base - 1 while the ring is empty */
	_Atomic uint64_t tip_arrival; /* its arrival time */
};

/* Index entry: a seqlock of its own (counter 0 while being rewritten; no record has 0). */
struct shard_ient {
	_Atomic uint64_t counter;
	_Atomic uint64_t off;
	_Atomic uint64_t arrival;
};

struct shard_wstate {
	uint64_t end;          /* == the published end between batches */
	uint64_t trim;         /* == trim_off */
	uint64_t trim_counter; /* counter of the first untrimmed record (next_counter if none) */
	uint64_t next_counter;
	uint64_t last_arrival;
	uint64_t gen;
};

struct shard_stats {
	_Atomic uint64_t appended;
	_Atomic uint64_t appended_bytes;
	_Atomic uint64_t refused_full;
	_Atomic uint64_t refused_too_big;
	_Atomic uint64_t refused_exhausted;
	_Atomic uint64_t trimmed;
	_Atomic uint64_t pads;
};

struct sp_shard_ring {
	/* Set at init, then only read (any lcore). */
	sp_u128 id_seq; /* the shard's numbers with counter 0 */
	uint32_t magic;
	uint32_t max_record;
	uint32_t nidx;
	uint64_t cap;
	uint64_t base; /* counter of the first record */
	uint8_t *data;
	struct shard_ient *idx;

	/* Writer lcore only. */
	struct shard_wstate w SP_CACHE_ALIGNED;
	struct shard_stats st;

	/* Written by the writer, read by everyone. */
	_Atomic uint64_t trim_off SP_CACHE_ALIGNED;
	_Atomic uint64_t commit_gen;
	_Atomic uint64_t visible; /* readers see counters up to this (durable ack mode) */
	/* 0 while the shard takes records; once sealed, the counter after its last record */
	_Atomic uint64_t sealed_next;
	_Atomic bool drained; /* sealed and nothing of it needed any more: memory may go */
	_Atomic uint32_t writer; /* the writer token (sp_shard_ring_set_writer) */
	struct shard_commit slots[SHARD_COMMIT_SLOTS];
	/* the publish stamp (sp_shard_ring_stamp): odd sequence while being written */
	_Atomic uint64_t stamp_seq SP_CACHE_ALIGNED;
	_Atomic uint64_t stamp_counter;
	_Atomic uint64_t stamp_cycles;
};

/* What a reader works from: consistent trim horizon, end and tip. */
struct shard_snap {
	uint64_t trim;
	uint64_t end;
	uint64_t tip_counter; /* newest record a reader may see (the visible gate applied) */
	uint64_t tip_arrival;
	uint64_t end_counter; /* newest committed record: end's, gate or not (walks to end) */
};

enum shard_by { SHARD_BY_COUNTER, SHARD_BY_TIME };

/* A logical offset and its place in the region, kept together so that a walk divides once. */
struct shard_cur {
	uint64_t off;
	uint64_t phys;
};

static inline uint64_t
shard_align(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static inline uint64_t
shard_rec_size(uint64_t key_len, uint64_t data_len)
{
	return shard_align(SP_SHARD_REC_HDR_BYTES + key_len + data_len, SP_SHARD_REC_ALIGN);
}

static inline void
shard_stat_add(_Atomic uint64_t *c, uint64_t v)
{
	/* single writer: a relaxed load and store, no locked instruction */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

static inline uint64_t
shard_mix(uint64_t x)
{
	x ^= x >> 29;
	x *= UINT64_C(0x9e3779b97f4a7c15);
	x ^= x >> 32;
	x *= UINT64_C(0xd6e8feb86659fd93);
	return x ^ (x >> 32);
}

/*
 * Header check value: binds every field to the record's logical offset (an older lap's record
 * at the same physical place does not verify). Each word is multiplied by its own odd constant
 * (a bijection, so a change to any one word always changes the sum) and the products, which
 * the CPU computes in parallel, are folded by one mix: a walk verifies up to a stride of
 * headers per seek, so this is on the read path.
 */
static uint32_t
shard_check(const struct sp_shard_rec_hdr *h, uint64_t off)
{
	uint64_t w0 = (uint64_t)h->magic << 32 | h->size;
	uint64_t w1 = (uint64_t)h->data_len << 32 | (uint64_t)h->key_len << 16 | h->flags;
	uint64_t x = off * UINT64_C(0x9e3779b97f4a7c15) ^ w0 * UINT64_C(0xc2b2ae3d27d4eb4f) ^
		     w1 * UINT64_C(0x165667b19e3779f9) ^ h->seq_lo * UINT64_C(0xd6e8feb86659fd93) ^
		     h->seq_hi * UINT64_C(0xff51afd7ed558ccd) ^
		     h->arrival_ms * UINT64_C(0xc4ceb9fe1a85ec53);

	return (uint32_t)shard_mix(x);
}

static inline uint64_t
shard_hdr_counter(const struct sp_shard_rec_hdr *h)
{
	return (h->seq_lo >> SHARD_LOW_BITS | h->seq_hi << (64 - SHARD_LOW_BITS)) &
	       SP_SEQNO_COUNTER_MAX;
}

static inline sp_u128
shard_hdr_seq(const struct sp_shard_rec_hdr *h)
{
	return (sp_u128)h->seq_hi << 64 | h->seq_lo;
}

sp_u128
sp_shard_ring_seq(const struct sp_shard_ring *ring, uint64_t counter)
{
	SP_VERIFY(counter <= SP_SEQNO_COUNTER_MAX);
	return ring->id_seq | (sp_u128)counter << SHARD_LOW_BITS;
}

/* Smallest counter c with seq(c) >= s; SP_SEQNO_COUNTER_MAX + 1 when there is none. */
static uint64_t
shard_target(const struct sp_shard_ring *ring, sp_u128 s)
{
	const sp_u128 top = sp_shard_ring_seq(ring, SP_SEQNO_COUNTER_MAX);
	const uint64_t low_mask = (UINT64_C(1) << SHARD_LOW_BITS) - 1;
	uint64_t c;

	if (s <= ring->id_seq) {
		return 0;
	}
	if (s > top) {
		return SP_SEQNO_COUNTER_MAX + 1;
	}
	/* s lies between two numbers of this shard, so it has their version, epoch and node */
	c = (uint64_t)(s >> SHARD_LOW_BITS) & SP_SEQNO_COUNTER_MAX;
	if (((uint64_t)s & low_mask) > ((uint64_t)ring->id_seq & low_mask)) {
		c++;
	}
	SP_VERIFY(c <= SP_SEQNO_COUNTER_MAX);
	SP_ASSERT(sp_shard_ring_seq(ring, c) >= s);
	return c;
}

static inline struct shard_cur
shard_cur_at(const struct sp_shard_ring *ring, uint64_t off)
{
	return (struct shard_cur){off, off % ring->cap};
}

/* Past a record or pad of size bytes (never beyond the region's end: headers check that). */
static inline void
shard_cur_step(const struct sp_shard_ring *ring, struct shard_cur *c, uint32_t size)
{
	c->off += size;
	c->phys += size;
	if (c->phys == ring->cap) {
		c->phys = 0;
	}
}

/* ---- index ---- */

static uint32_t
shard_index_entries(uint64_t cap)
{
	/* Untrimmed records fit in cap bytes at >= 48 bytes each, so they use at most
	 * cap / SHARD_INDEX_SPAN + 2 entries; the slack keeps their entries from being reused. */
	uint64_t n = cap / SHARD_INDEX_SPAN + SHARD_INDEX_SLACK;

	SP_VERIFY(n <= UINT32_MAX);
	return (uint32_t)n;
}

static bool
shard_ient_get(const struct sp_shard_ring *ring, uint64_t k, uint64_t *off, uint64_t *arrival)
{
	const struct shard_ient *e = &ring->idx[k % ring->nidx];
	uint64_t want = ring->base + k * SP_SHARD_INDEX_STRIDE;
	uint64_t c1;
	uint64_t c2;

	SP_ASSERT(ring->nidx > 0 && want >= ring->base);
	SP_ASSERT(k <= SP_SEQNO_COUNTER_MAX / SP_SHARD_INDEX_STRIDE);
	c1 = atomic_load_explicit(&e->counter, memory_order_acquire);
	*off = atomic_load_explicit(&e->off, memory_order_relaxed);
	*arrival = atomic_load_explicit(&e->arrival, memory_order_relaxed);
	atomic_thread_fence(memory_order_acquire);
	c2 = atomic_load_explicit(&e->counter, memory_order_relaxed);
	return c1 == want && c2 == want;
}

static void
shard_ient_put(struct sp_shard_ring *ring, uint64_t k, uint64_t off, uint64_t arrival)
{
	struct shard_ient *e = &ring->idx[k % ring->nidx];
	uint64_t counter = ring->base + k * SP_SHARD_INDEX_STRIDE;

	SP_VERIFY(counter != 0);
	SP_ASSERT(off >= ring->w.trim);
	atomic_store_explicit(&e->counter, 0, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&e->off, off, memory_order_relaxed);
	atomic_store_explicit(&e->arrival, arrival, memory_order_relaxed);
	atomic_store_explicit(&e->counter, counter, memory_order_release);
}

/* ---- reading headers ---- */

/*
 * The header at logical offset off < end. Returns 1 (a record), 0 (a pad; h->size is its
 * length) or -ESTALE when the bytes are not a valid header for this offset, which is either
 * an overrun (the caller checks the trim horizon) or corruption.
 */
static int
shard_hdr_read(const struct sp_shard_ring *ring, const struct shard_cur *c, uint64_t end,
	       struct sp_shard_rec_hdr *h)
{
	uint64_t off = c->off;
	uint64_t room = ring->cap - c->phys;
	const uint8_t *p = ring->data + c->phys;

	SP_ASSERT(off < end && c->phys == off % ring->cap);
	SP_VERIFY(c->phys < ring->cap && c->phys % SP_SHARD_REC_ALIGN == 0);
	memcpy(h, p, 8);
	if (h->magic == SP_SHARD_PAD_MAGIC) {
		/* a pad always has a committed record after it */
		return h->size == room && off + room < end ? 0 : -ESTALE;
	}
	if (h->magic != SP_SHARD_REC_MAGIC || room < SP_SHARD_REC_HDR_BYTES) {
		return -ESTALE;
	}
	memcpy(h, p, sizeof(*h));
	if (h->magic != SP_SHARD_REC_MAGIC || h->size > room || h->size > end - off ||
	    h->size != shard_rec_size(h->key_len, h->data_len) || h->reserved != 0 ||
	    h->check != shard_check(h, off)) {
		return -ESTALE;
	}
	return 1;
}

/*
 * From *c (a record or pad boundary) to the first record whose counter (or arrival) is
 * >= key. Returns 1 with *c and *h at that record, 0 at end (c->off = end), -ESTALE (overrun,
 * or more than SHARD_WALK_MAX steps, which the index sizing rules out unless the writer
 * overran us).
 */
static int
shard_walk(const struct sp_shard_ring *ring, struct shard_cur *c, uint64_t end, enum shard_by by,
	   uint64_t key, struct sp_shard_rec_hdr *h)
{
	SP_VERIFY(c->off <= end);
	for (unsigned step = 0; step < SHARD_WALK_MAX; step++) {
		int r;

		if (c->off >= end) {
			SP_VERIFY(c->off == end);
			return 0;
		}
		r = shard_hdr_read(ring, c, end, h);
		if (r < 0) {
			return r;
		}
		if (r == 1 &&
		    (by == SHARD_BY_COUNTER ? shard_hdr_counter(h) : h->arrival_ms) >= key) {
			return 1;
		}
		shard_cur_step(ring, c, h->size);
	}
	return -ESTALE;
}

/* ---- reader protocol ---- */

static int
shard_snapshot_gated(const struct sp_shard_ring *ring, struct shard_snap *s, bool gate)
{
	SP_VERIFY(ring->magic == SHARD_RING_MAGIC);
	for (unsigned i = 0; i < SP_SHARD_READ_RETRIES; i++) {
		uint64_t g;
		uint64_t g2;
		uint64_t vis;
		const struct shard_commit *c;

		/* Trim first: the writer trims only what it published, so end >= trim below. */
		s->trim = atomic_load_explicit(&ring->trim_off, memory_order_acquire);
		g = atomic_load_explicit(&ring->commit_gen, memory_order_acquire);
		c = &ring->slots[g % SHARD_COMMIT_SLOTS];
		s->end = atomic_load_explicit(&c->end, memory_order_relaxed);
		s->tip_counter = atomic_load_explicit(&c->tip_counter, memory_order_relaxed);
		s->tip_arrival = atomic_load_explicit(&c->tip_arrival, memory_order_relaxed);
		vis = atomic_load_explicit(&ring->visible, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		g2 = atomic_load_explicit(&ring->commit_gen, memory_order_relaxed);
		/* Slot g is rewritten only while batch g + SLOTS is built, after g + SLOTS - 1.
		 * end - trim above cap means trim is older than end: the writer trimmed and
		 * appended in between, so load both again. */
		if (g2 - g < SHARD_COMMIT_SLOTS - 1 && s->end - s->trim <= ring->cap) {
			SP_VERIFY(s->trim <= s->end);
			/* records above the visible gate are not there yet for readers */
			s->end_counter = s->tip_counter;
			s->tip_counter = gate ? SP_MIN(s->tip_counter, vis) : s->tip_counter;
			return 0;
		}
	}
	return -EAGAIN;
}

static int
shard_snapshot(const struct sp_shard_ring *ring, struct shard_snap *s)
{
	return shard_snapshot_gated(ring, s, true);
}

/* True when nothing at logical offsets >= guard was reused before this call. */
static bool
shard_intact(const struct sp_shard_ring *ring, uint64_t guard)
{
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(&ring->trim_off, memory_order_relaxed) <= guard;
}

/* A walk or header check failed: fine if the writer overran us, corruption if it did not. */
static void
shard_stale(const struct sp_shard_ring *ring, uint64_t guard)
{
	SP_VERIFY(!shard_intact(ring, guard));
}

/* First record with counter >= c (*at): *from is where the walk started (the guard). */
static int
shard_locate(const struct sp_shard_ring *ring, const struct shard_snap *s, uint64_t c,
	     uint64_t *from, struct shard_cur *at, struct sp_shard_rec_hdr *h)
{
	uint64_t off;
	uint64_t arrival;

	SP_VERIFY(s->trim <= s->end);
	*from = s->trim;
	if (c > s->tip_counter) {
		at->off = s->end;
		return 0;
	}
	if (c > ring->base) {
		uint64_t k = (c - ring->base) / SP_SHARD_INDEX_STRIDE;

		if (shard_ient_get(ring, k, &off, &arrival) && off >= s->trim && off < s->end) {
			*from = off;
		}
	}
	SP_ASSERT(*from <= s->end);
	*at = shard_cur_at(ring, *from);
	return shard_walk(ring, at, s->end, SHARD_BY_COUNTER, c, h);
}

static sp_u128
shard_latest_seq(const struct sp_shard_ring *ring, const struct shard_snap *s)
{
	SP_VERIFY(s->tip_counter + 1 >= ring->base);
	return sp_shard_ring_seq(ring, s->tip_counter + 1);
}

static void
shard_view(const struct sp_shard_ring *ring, const struct shard_cur *c,
	   const struct sp_shard_rec_hdr *h, struct sp_shard_rec_view *v)
{
	const uint8_t *p = ring->data + c->phys;

	SP_ASSERT(h->magic == SP_SHARD_REC_MAGIC);
	SP_ASSERT(p + h->size <= ring->data + ring->cap);
	v->seq = shard_hdr_seq(h);
	v->arrival_ms = h->arrival_ms;
	v->key = p + SP_SHARD_REC_HDR_BYTES;
	v->key_len = h->key_len;
	v->data = v->key + h->key_len;
	v->data_len = h->data_len;
	v->flags = h->flags;
}

/* One attempt; *from is where it started reading headers (what must still be intact). */
static int
shard_read_once(const struct sp_shard_ring *ring, const struct shard_snap *s,
		const struct sp_shard_pos *pos, unsigned max_records, uint64_t max_bytes,
		struct sp_shard_rec_view *out, struct sp_shard_read_res *res, uint64_t *from)
{
	struct sp_shard_rec_hdr h;
	struct shard_cur cur;
	unsigned n = 0;
	int r;

	res->next = *pos;
	res->bytes = 0;
	res->millis_behind = 0;
	r = shard_locate(ring, s, shard_target(ring, pos->seq), from, &cur, &h);
	/* the views' bytes start at the first record returned */
	res->guard = cur.off;
	if (r == 1 && shard_hdr_counter(&h) > s->tip_counter) {
		r = 0; /* behind the visible gate */
	}
	while (r == 1 && n < max_records) {
		uint64_t len = (uint64_t)h.key_len + h.data_len;

		if (n > 0 && res->bytes + len > max_bytes) {
			break;
		}
		shard_view(ring, &cur, &h, &out[n]);
		res->bytes += len;
		n++;
		res->next.seq = sp_shard_ring_seq(ring, shard_hdr_counter(&h) + 1);
		shard_cur_step(ring, &cur, h.size);
		r = shard_walk(ring, &cur, s->end, SHARD_BY_COUNTER, 0, &h);
		if (r == 1 && shard_hdr_counter(&h) > s->tip_counter) {
			r = 0;
		}
	}
	if (r < 0) {
		return r;
	}
	res->at_tip = r == 0;
	if (r == 1) {
		SP_VERIFY(s->tip_arrival >= h.arrival_ms);
		res->millis_behind = s->tip_arrival - h.arrival_ms;
	}
	SP_VERIFY(n <= max_records);
	return (int)n;
}

static int
shard_read(const struct sp_shard_ring *ring, const struct sp_shard_pos *pos, unsigned max_records,
	   uint64_t max_bytes, struct sp_shard_rec_view *out, struct sp_shard_read_res *res,
	   bool gate)
{
	SP_VERIFY(pos != NULL && res != NULL);
	SP_VERIFY(out != NULL || max_records == 0);
	SP_VERIFY(max_records <= INT32_MAX);
	for (unsigned i = 0; i < SP_SHARD_READ_RETRIES; i++) {
		struct shard_snap s;
		uint64_t from;
		int n;

		if (shard_snapshot_gated(ring, &s, gate) < 0) {
			continue;
		}
		n = shard_read_once(ring, &s, pos, max_records, max_bytes, out, res, &from);
		if (n >= 0 && shard_intact(ring, from)) {
			SP_VERIFY(res->guard >= from);
			res->tip_seq = s.tip_counter >= ring->base
					   ? sp_shard_ring_seq(ring, s.tip_counter)
					   : 0;
			res->tip_arrival_ms = s.tip_arrival;
			return n;
		}
		if (n < 0) {
			shard_stale(ring, from);
		}
	}
	return -EAGAIN;
}

int
sp_shard_ring_read(const struct sp_shard_ring *ring, const struct sp_shard_pos *pos,
		   unsigned max_records, uint64_t max_bytes, struct sp_shard_rec_view *out,
		   struct sp_shard_read_res *res)
{
	return shard_read(ring, pos, max_records, max_bytes, out, res, true);
}

int
sp_shard_ring_read_ungated(const struct sp_shard_ring *ring, const struct sp_shard_pos *pos,
			   unsigned max_records, uint64_t max_bytes, struct sp_shard_rec_view *out,
			   struct sp_shard_read_res *res)
{
	return shard_read(ring, pos, max_records, max_bytes, out, res, false);
}

bool
sp_shard_ring_read_intact(const struct sp_shard_ring *ring, const struct sp_shard_read_res *res)
{
	SP_VERIFY(ring->magic == SHARD_RING_MAGIC);
	SP_VERIFY(res != NULL);
	return shard_intact(ring, res->guard);
}

/* ---- seeks ---- */

int
sp_shard_ring_seek_seq(const struct sp_shard_ring *ring, sp_u128 seq, bool after,
		       struct sp_shard_pos *pos)
{
	/* seq + 1 saturates: the largest value is above every number of this shard anyway */
	sp_u128 target = after && seq != ~(sp_u128)0 ? seq + 1 : seq;
	uint64_t c = shard_target(ring, target);

	SP_VERIFY(pos != NULL);
	for (unsigned i = 0; i < SP_SHARD_READ_RETRIES; i++) {
		struct shard_snap s;
		struct sp_shard_rec_hdr h;
		uint64_t from;
		struct shard_cur at;
		int r;

		if (shard_snapshot(ring, &s) < 0) {
			continue;
		}
		r = shard_locate(ring, &s, c, &from, &at, &h);
		if (r < 0) {
			shard_stale(ring, from);
			continue;
		}
		if (!shard_intact(ring, from)) {
			continue;
		}
		if (r == 1) {
			pos->seq = shard_hdr_seq(&h);
		} else {
			sp_u128 latest = shard_latest_seq(ring, &s);

			pos->seq = target > latest ? target : latest;
		}
		SP_ASSERT(pos->seq >= target);
		return 0;
	}
	return -EAGAIN;
}

/* Entry k is untrimmed and its record arrived at or after t. */
static bool
shard_time_pred(const struct sp_shard_ring *ring, const struct shard_snap *s, uint64_t k,
		uint64_t t, uint64_t *off)
{
	uint64_t arrival;

	return shard_ient_get(ring, k, off, &arrival) && *off >= s->trim && *off < s->end &&
	       arrival >= t;
}

static int
shard_seek_time_once(const struct sp_shard_ring *ring, const struct shard_snap *s, uint64_t t,
		     struct sp_shard_pos *pos, uint64_t *from)
{
	struct sp_shard_rec_hdr h;
	struct shard_cur cur;
	uint64_t k_hi;
	uint64_t lo;
	uint64_t hi;
	uint64_t off;
	uint64_t arrival;
	int r;

	*from = s->trim;
	if (s->tip_counter < ring->base) {
		pos->seq = shard_latest_seq(ring, s);
		return 0;
	}
	/* every committed record's entry: the walk below runs to end, past the visible gate */
	k_hi = (s->end_counter - ring->base) / SP_SHARD_INDEX_STRIDE;
	lo = k_hi >= ring->nidx ? k_hi - ring->nidx + 1 : 0;
	hi = k_hi + 1;
	/* First entry with the predicate: trimmed entries come first and arrivals never
	 * decrease, so the predicate is false then true along the index. */
	for (unsigned step = 0; lo < hi && step < 64; step++) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (shard_time_pred(ring, s, mid, t, &off)) {
			hi = mid;
		} else {
			lo = mid + 1;
		}
	}
	SP_VERIFY(lo == hi);
	if (lo > 0 && shard_ient_get(ring, lo - 1, &off, &arrival) && off >= s->trim &&
	    off < s->end) {
		*from = off;
	}
	SP_ASSERT(*from >= s->trim && *from <= s->end);
	cur = shard_cur_at(ring, *from);
	r = shard_walk(ring, &cur, s->end, SHARD_BY_TIME, t, &h);
	if (r >= 0) {
		pos->seq = r == 1 ? shard_hdr_seq(&h) : shard_latest_seq(ring, s);
	}
	return r;
}

int
sp_shard_ring_seek_time(const struct sp_shard_ring *ring, uint64_t t_ms, struct sp_shard_pos *pos)
{
	SP_VERIFY(pos != NULL);
	SP_VERIFY(ring->magic == SHARD_RING_MAGIC);
	for (unsigned i = 0; i < SP_SHARD_READ_RETRIES; i++) {
		struct shard_snap s;
		uint64_t from;
		int r;

		if (shard_snapshot(ring, &s) < 0) {
			continue;
		}
		r = shard_seek_time_once(ring, &s, t_ms, pos, &from);
		if (r < 0) {
			shard_stale(ring, from);
			continue;
		}
		if (shard_intact(ring, from)) {
			return 0;
		}
	}
	return -EAGAIN;
}

int
sp_shard_ring_trim_horizon(const struct sp_shard_ring *ring, struct sp_shard_pos *pos)
{
	/* The shard's start number resolves to the oldest untrimmed record. */
	return sp_shard_ring_seek_seq(ring, ring->id_seq, false, pos);
}

int
sp_shard_ring_latest(const struct sp_shard_ring *ring, struct sp_shard_pos *pos)
{
	struct shard_snap s;
	int r;

	SP_VERIFY(pos != NULL);
	r = shard_snapshot(ring, &s);
	if (r < 0) {
		return r;
	}
	pos->seq = shard_latest_seq(ring, &s);
	SP_VERIFY(pos->seq > ring->id_seq);
	return 0;
}

/* ---- writer ---- */

/* Room check, wrap pad, header and payload of one record at *endp. */
static int
shard_append_one(struct sp_shard_ring *ring, const struct sp_shard_rec_in *r, uint64_t counter,
		 uint64_t arrival, uint64_t *endp)
{
	struct sp_shard_rec_hdr h;
	uint64_t end = *endp;
	uint64_t size = shard_rec_size(r->key_len, r->data_len);
	uint64_t phys = end % ring->cap;
	uint64_t room = ring->cap - phys;
	uint8_t *p;

	SP_VERIFY(end % SP_SHARD_REC_ALIGN == 0 && end >= ring->w.trim);
	if (r->key_len > SP_SHARD_KEY_MAX ||
	    (uint64_t)r->key_len + r->data_len > ring->max_record) {
		shard_stat_add(&ring->st.refused_too_big, 1);
		return -EMSGSIZE;
	}
	if (counter >= SP_SEQNO_COUNTER_MAX) {
		shard_stat_add(&ring->st.refused_exhausted, 1);
		return -EOVERFLOW;
	}
	if (end + (size <= room ? size : room + size) - ring->w.trim > ring->cap) {
		shard_stat_add(&ring->st.refused_full, 1);
		return -ENOSPC;
	}
	if (size > room) {
		h.magic = SP_SHARD_PAD_MAGIC;
		h.size = (uint32_t)room;
		memcpy(ring->data + phys, &h, 8);
		shard_stat_add(&ring->st.pads, 1);
		end += room;
		phys = 0;
	}
	SP_VERIFY(phys + size <= ring->cap && phys % SP_SHARD_REC_ALIGN == 0);
	memset(&h, 0, sizeof(h));
	h.magic = SP_SHARD_REC_MAGIC;
	h.size = (uint32_t)size;
	h.data_len = r->data_len;
	h.key_len = r->key_len;
	h.flags = r->flags;
	h.seq_lo = (uint64_t)sp_shard_ring_seq(ring, counter);
	h.seq_hi = (uint64_t)(sp_shard_ring_seq(ring, counter) >> 64);
	h.arrival_ms = arrival;
	h.check = shard_check(&h, end);
	p = ring->data + phys;
	/* zero the tail padding first: the copies below overwrite all but the padding */
	memset(p + size - SP_SHARD_REC_ALIGN, 0, SP_SHARD_REC_ALIGN);
	memcpy(p, &h, sizeof(h));
	if (r->key_len != 0) {
		memcpy(p + SP_SHARD_REC_HDR_BYTES, r->key, r->key_len);
	}
	if (r->data_len != 0) {
		memcpy(p + SP_SHARD_REC_HDR_BYTES + r->key_len, r->data, r->data_len);
	}
	if ((counter - ring->base) % SP_SHARD_INDEX_STRIDE == 0) {
		shard_ient_put(ring, (counter - ring->base) / SP_SHARD_INDEX_STRIDE, end, arrival);
	}
	*endp = end + size;
	return 0;
}

static void
shard_publish(struct sp_shard_ring *ring, uint64_t end, uint64_t next_counter, uint64_t arrival)
{
	uint64_t g = ring->w.gen + 1;
	struct shard_commit *c = &ring->slots[g % SHARD_COMMIT_SLOTS];

	SP_VERIFY(end > ring->w.end && end - ring->w.trim <= ring->cap);
	SP_VERIFY(next_counter > ring->w.next_counter);
	atomic_store_explicit(&c->end, end, memory_order_relaxed);
	atomic_store_explicit(&c->tip_counter, next_counter - 1, memory_order_relaxed);
	atomic_store_explicit(&c->tip_arrival, arrival, memory_order_relaxed);
	/* the one release store of the batch: bytes, index entries and slot become visible */
	atomic_store_explicit(&ring->commit_gen, g, memory_order_release);
	shard_stat_add(&ring->st.appended, next_counter - ring->w.next_counter);
	ring->w.gen = g;
	ring->w.end = end;
	ring->w.next_counter = next_counter;
	ring->w.last_arrival = arrival;
}

int
sp_shard_ring_append(struct sp_shard_ring *ring, const struct sp_shard_rec_in *in, unsigned n,
		     uint64_t now_ms, sp_u128 *seq_out)
{
	uint64_t end = ring->w.end;
	uint64_t counter = ring->w.next_counter;
	uint64_t arrival = SP_MAX(now_ms, ring->w.last_arrival);
	uint64_t bytes = 0;
	unsigned i;
	int err = 0;

	SP_VERIFY(ring->magic == SHARD_RING_MAGIC);
	SP_VERIFY((in != NULL || n == 0) && n <= INT32_MAX);
	if (atomic_load_explicit(&ring->sealed_next, memory_order_relaxed) != 0) {
		return n == 0 ? 0 : -EPIPE; /* closed by a reshard: never another record */
	}
	/* Order earlier trims (trim_off stores) before the stores below reuse freed bytes. */
	atomic_thread_fence(memory_order_release);
	for (i = 0; i < n; i++) {
		err = shard_append_one(ring, &in[i], counter, arrival, &end);
		if (err < 0) {
			break;
		}
		if (seq_out != NULL) {
			seq_out[i] = sp_shard_ring_seq(ring, counter);
		}
		bytes += (uint64_t)in[i].key_len + in[i].data_len;
		counter++;
	}
	if (i > 0) {
		shard_publish(ring, end, counter, arrival);
		shard_stat_add(&ring->st.appended_bytes, bytes);
	}
	return i > 0 || n == 0 ? (int)i : err;
}

int64_t
sp_shard_ring_trim(struct sp_shard_ring *ring, sp_u128 upto)
{
	struct shard_wstate *w = &ring->w;
	struct sp_shard_rec_hdr h;
	struct shard_cur cur;
	uint64_t c = SP_MIN(shard_target(ring, upto), w->next_counter);
	uint64_t from = w->trim;
	uint64_t off = w->end;
	uint64_t arrival;
	int64_t n;

	SP_VERIFY(ring->magic == SHARD_RING_MAGIC);
	if (c <= w->trim_counter) {
		return 0;
	}
	if (c < w->next_counter) {
		uint64_t k = (c - ring->base) / SP_SHARD_INDEX_STRIDE;
		uint64_t e;

		if (shard_ient_get(ring, k, &e, &arrival) && e >= w->trim) {
			from = e;
		}
		cur = shard_cur_at(ring, from);
		/* the writer's own records: always found, never stale */
		SP_VERIFY(shard_walk(ring, &cur, w->end, SHARD_BY_COUNTER, c, &h) == 1);
		SP_VERIFY(shard_hdr_counter(&h) == c);
		off = cur.off;
	}
	n = (int64_t)(c - w->trim_counter);
	w->trim = off;
	w->trim_counter = c;
	atomic_store_explicit(&ring->trim_off, off, memory_order_release);
	shard_stat_add(&ring->st.trimmed, (uint64_t)n);
	return n;
}

/* ---- init and sizes ---- */

static size_t
shard_meta_bytes(void)
{
	return shard_align(sizeof(struct sp_shard_ring), SP_SHARD_RING_ALIGN);
}

uint64_t
sp_shard_ring_min_capacity(uint32_t max_record_bytes)
{
	return shard_align(SP_SHARD_RING_CAP_MULT * shard_rec_size(0, max_record_bytes),
			   SP_SHARD_RING_ALIGN);
}

size_t
sp_shard_ring_mem_bytes(uint64_t capacity)
{
	uint64_t idx = (uint64_t)shard_index_entries(capacity) * sizeof(struct shard_ient);

	return shard_meta_bytes() + shard_align(idx, SP_SHARD_RING_ALIGN) + capacity;
}

uint64_t
sp_shard_ring_capacity(size_t bytes)
{
	const uint64_t unit = SHARD_INDEX_SPAN + sizeof(struct shard_ient);
	uint64_t fixed = sp_shard_ring_mem_bytes(0);
	uint64_t cap;

	if (bytes < sp_shard_ring_mem_bytes(SP_SHARD_RING_ALIGN)) {
		return 0;
	}
	/* each SHARD_INDEX_SPAN data bytes cost one more index entry */
	cap = (bytes - fixed) / unit * SHARD_INDEX_SPAN +
	      (bytes - fixed) % unit * SHARD_INDEX_SPAN / unit;
	cap &= ~(uint64_t)(SP_SHARD_RING_ALIGN - 1);
	/* the estimate is within a few alignment units: settle on the largest that fits */
	for (unsigned i = 0; i < 16 && cap > 0 && sp_shard_ring_mem_bytes(cap) > bytes; i++) {
		cap -= SP_SHARD_RING_ALIGN;
	}
	for (unsigned i = 0; i < 16 && sp_shard_ring_mem_bytes(cap + SP_SHARD_RING_ALIGN) <= bytes;
	     i++) {
		cap += SP_SHARD_RING_ALIGN;
	}
	SP_VERIFY(sp_shard_ring_mem_bytes(cap) <= bytes);
	SP_ASSERT(sp_shard_ring_mem_bytes(cap + SP_SHARD_RING_ALIGN) > bytes);
	return cap;
}

static int
shard_conf_check(const void *mem, const struct sp_shard_ring_conf *conf)
{
	const struct sp_seqno_fields *id = &conf->id;

	if (((uintptr_t)mem & (SP_SHARD_RING_ALIGN - 1)) != 0 || id->epoch > SP_SEQNO_EPOCH_MAX ||
	    id->node > SP_SEQNO_NODE_MAX || id->stream_tag > SP_SEQNO_TAG_MAX ||
	    conf->first_counter >= SP_SEQNO_COUNTER_MAX || conf->max_record_bytes == 0 ||
	    conf->max_record_bytes > SP_SHARD_RECORD_MAX_LIMIT) {
		return -EINVAL;
	}
	return 0;
}

int
sp_shard_ring_init(void *mem, size_t bytes, const struct sp_shard_ring_conf *conf,
		   struct sp_shard_ring **out)
{
	struct sp_shard_ring *ring = mem;
	struct sp_seqno_fields id;
	uint64_t cap;

	SP_VERIFY(mem != NULL && conf != NULL && out != NULL);
	if (shard_conf_check(mem, conf) < 0) {
		return -EINVAL;
	}
	cap = sp_shard_ring_capacity(bytes);
	if (cap < sp_shard_ring_min_capacity(conf->max_record_bytes)) {
		return -ENOSPC;
	}
	memset(ring, 0, sizeof(*ring));
	id = conf->id;
	id.counter = 0;
	ring->id_seq = sp_seqno_pack(&id);
	ring->max_record = conf->max_record_bytes;
	ring->cap = cap;
	ring->nidx = shard_index_entries(cap);
	ring->base = conf->first_counter == 0 ? 1 : conf->first_counter;
	ring->idx = (struct shard_ient *)((uint8_t *)mem + shard_meta_bytes());
	ring->data = (uint8_t *)mem + sp_shard_ring_mem_bytes(cap) - cap;
	memset(ring->idx, 0, (size_t)ring->nidx * sizeof(struct shard_ient));
	ring->w.next_counter = ring->base;
	ring->w.trim_counter = ring->base;
	atomic_store_explicit(&ring->slots[0].tip_counter, ring->base - 1, memory_order_relaxed);
	atomic_store_explicit(&ring->visible, conf->gated ? ring->base - 1 : UINT64_MAX,
			      memory_order_relaxed);
	atomic_store_explicit(&ring->writer, SP_SHARD_WRITER_NONE, memory_order_relaxed);
	ring->magic = SHARD_RING_MAGIC;
	SP_VERIFY(ring->data + cap <= (uint8_t *)mem + bytes);
	SP_VERIFY((uint8_t *)(ring->idx + ring->nidx) <= ring->data);
	*out = ring;
	return 0;
}

void
sp_shard_ring_set_visible(struct sp_shard_ring *ring, sp_u128 upto)
{
	uint64_t t = upto == ~(sp_u128)0 ? SP_SEQNO_COUNTER_MAX + 1 : shard_target(ring, upto + 1);
	uint64_t c = t > ring->base ? t - 1 : ring->base - 1;

	SP_VERIFY(ring->magic == SHARD_RING_MAGIC);
	/* never past what was committed, never backwards */
	c = SP_MIN(c, ring->w.next_counter - 1);
	if (c > atomic_load_explicit(&ring->visible, memory_order_relaxed)) {
		atomic_store_explicit(&ring->visible, c, memory_order_release);
	}
}

void
sp_shard_ring_stamp(struct sp_shard_ring *ring, uint64_t cycles)
{
	uint64_t tip = ring->w.next_counter - 1;
	uint64_t vis = atomic_load_explicit(&ring->visible, memory_order_relaxed);
	uint64_t q = atomic_load_explicit(&ring->stamp_seq, memory_order_relaxed);

	SP_VERIFY(ring->magic == SHARD_RING_MAGIC && (q & 1u) == 0);
	if (q != 0 && atomic_load_explicit(&ring->stamp_counter, memory_order_relaxed) ==
			  SP_MIN(tip, vis)) {
		return; /* nothing newer became readable: the stamp stays the first moment */
	}
	atomic_store_explicit(&ring->stamp_seq, q + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&ring->stamp_counter, SP_MIN(tip, vis), memory_order_relaxed);
	atomic_store_explicit(&ring->stamp_cycles, cycles, memory_order_relaxed);
	atomic_store_explicit(&ring->stamp_seq, q + 2, memory_order_release);
}

bool
sp_shard_ring_stamp_get(const struct sp_shard_ring *ring, sp_u128 seq, uint64_t *cycles)
{
	uint64_t q = atomic_load_explicit(&ring->stamp_seq, memory_order_acquire);
	uint64_t c = atomic_load_explicit(&ring->stamp_counter, memory_order_relaxed);
	uint64_t t = atomic_load_explicit(&ring->stamp_cycles, memory_order_relaxed);

	atomic_thread_fence(memory_order_acquire);
	if ((q & 1u) != 0 || q == 0 ||
	    atomic_load_explicit(&ring->stamp_seq, memory_order_relaxed) != q ||
	    c < ring->base || sp_shard_ring_seq(ring, c) != seq) {
		return false;
	}
	*cycles = t;
	return true;
}

void
sp_shard_ring_seal(struct sp_shard_ring *ring)
{
	SP_VERIFY(ring->magic == SHARD_RING_MAGIC);
	if (atomic_load_explicit(&ring->sealed_next, memory_order_relaxed) == 0) {
		SP_VERIFY(ring->w.next_counter >= 1);
		atomic_store_explicit(&ring->sealed_next, ring->w.next_counter,
				      memory_order_release);
	}
}

bool
sp_shard_ring_sealed(const struct sp_shard_ring *ring)
{
	SP_VERIFY(ring->magic == SHARD_RING_MAGIC);
	return atomic_load_explicit(&ring->sealed_next, memory_order_acquire) != 0;
}

void
sp_shard_ring_set_drained(struct sp_shard_ring *ring)
{
	SP_VERIFY(ring->magic == SHARD_RING_MAGIC);
	SP_VERIFY(atomic_load_explicit(&ring->sealed_next, memory_order_relaxed) != 0);
	atomic_store_explicit(&ring->drained, true, memory_order_release);
}

bool
sp_shard_ring_drained(const struct sp_shard_ring *ring)
{
	SP_VERIFY(ring->magic == SHARD_RING_MAGIC);
	return atomic_load_explicit(&ring->drained, memory_order_acquire);
}

sp_u128
sp_shard_ring_next_seq(const struct sp_shard_ring *ring)
{
	SP_VERIFY(ring->magic == SHARD_RING_MAGIC);
	return sp_shard_ring_seq(ring, ring->w.next_counter);
}

void
sp_shard_ring_set_writer(struct sp_shard_ring *ring, uint32_t writer)
{
	SP_VERIFY(ring->magic == SHARD_RING_MAGIC);
	atomic_store_explicit(&ring->writer, writer, memory_order_release);
}

uint32_t
sp_shard_ring_writer(const struct sp_shard_ring *ring)
{
	SP_VERIFY(ring->magic == SHARD_RING_MAGIC);
	return atomic_load_explicit(&ring->writer, memory_order_acquire);
}

bool
sp_shard_ring_ended(const struct sp_shard_ring *ring, sp_u128 pos)
{
	uint64_t next = atomic_load_explicit(&ring->sealed_next, memory_order_acquire);
	struct shard_snap s;

	SP_VERIFY(ring->magic == SHARD_RING_MAGIC);
	if (next == 0 || shard_snapshot(ring, &s) != 0) {
		return false;
	}
	/* every record is visible (durable, when gated) and pos is past the last one; a position
	 * older than the ring's numbers reads from its first record */
	return s.tip_counter + 1 >= next && SP_MAX(shard_target(ring, pos), ring->base) >= next;
}

/* ---- observation ---- */

void
sp_shard_ring_stats(const struct sp_shard_ring *ring, struct sp_shard_ring_stats *out)
{
	const struct shard_stats *st = &ring->st;

	SP_VERIFY(ring->magic == SHARD_RING_MAGIC);
	SP_VERIFY(out != NULL);
	out->appended = atomic_load_explicit(&st->appended, memory_order_relaxed);
	out->appended_bytes = atomic_load_explicit(&st->appended_bytes, memory_order_relaxed);
	out->refused_full = atomic_load_explicit(&st->refused_full, memory_order_relaxed);
	out->refused_too_big = atomic_load_explicit(&st->refused_too_big, memory_order_relaxed);
	out->refused_exhausted = atomic_load_explicit(&st->refused_exhausted, memory_order_relaxed);
	out->trimmed = atomic_load_explicit(&st->trimmed, memory_order_relaxed);
	out->pads = atomic_load_explicit(&st->pads, memory_order_relaxed);
}

void
sp_shard_ring_info(const struct sp_shard_ring *ring, struct sp_shard_ring_info *out)
{
	struct shard_snap s = {0};

	SP_VERIFY(ring->magic == SHARD_RING_MAGIC);
	SP_VERIFY(out != NULL);
	memset(out, 0, sizeof(*out));
	out->capacity = ring->cap;
	out->index_entries = ring->nidx;
	out->max_record_bytes = ring->max_record;
	out->first_seq = ring->id_seq;
	if (shard_snapshot(ring, &s) == 0) {
		out->used_bytes = s.end - s.trim;
		out->tip_seq =
		    s.tip_counter >= ring->base ? sp_shard_ring_seq(ring, s.tip_counter) : 0;
		out->tip_arrival_ms = s.tip_arrival;
		out->next_counter = s.tip_counter + 1;
	}
}
