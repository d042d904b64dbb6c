/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hierarchical timer wheel: owns the slot lists, occupancy bitmaps and counters of one struct
 * sp_tw. Each worker lcore has its own wheel and is the only one to touch it (its TCBs'
 * timers, its HTTP timeouts); nothing here is shared or locked.
 *
 * Invariants (checked by sp_tw_check(), the cheap ones on every call):
 *   - an armed timer is on exactly one list (a slot, `due` or `firing`), an unarmed one on
 *     none (pprev == NULL), and t->where names that list;
 *   - occupied[L] has bit i set iff slot[L][i] is non-empty;
 *   - a level-0 timer has cur <= expire < cur + 256 and sits in slot expire & 255, so the
 *     slot visited at tick cur holds exactly the timers due at cur;
 *   - a level-L timer (L >= 1) sits in the slot that cascades at the last multiple of 2^(8L)
 *     not after its expiry (or, beyond the horizon, at the horizon): never after it is due;
 *   - timers on `due` and `firing` have expire < cur; they are dispatched before any slot.
 * Every loop is bounded by the number of armed timers, SP_TW_SLOTS, SP_TW_LEVELS, the caller's
 * budget or SP_TW_ADVANCE_STEPS_MAX.
 */
#include "tcp_timer.h"

#include <string.h>

#include <spate/assert.h>

#define TW_MASK   (SP_TW_SLOTS - 1)
#define TW_WORDS  (SP_TW_SLOTS / 64)
#define TW_NSLOTS (SP_TW_LEVELS * SP_TW_SLOTS)

SP_STATIC_ASSERT(sizeof(struct sp_tw_timer) == 32, "a timer is 32 bytes (three per TCB)");
SP_STATIC_ASSERT(SP_TW_SLOTS % 64 == 0, "occupancy bitmaps are whole words");
SP_STATIC_ASSERT(TW_NSLOTS < SP_TW_WHERE_FIRING, "slot ids fit in sp_tw_timer.where");
SP_STATIC_ASSERT(SP_TW_HORIZON_BITS >= 32, "the wheel covers at least 2^32 ticks");
SP_STATIC_ASSERT(SP_TW_HORIZON_BITS < 62, "cur + horizon cannot overflow");
SP_STATIC_ASSERT(sizeof(struct sp_tw) <= 9 * 1024, "the wheel is fixed size and small");

static inline void
tw_link(struct sp_tw_timer **head, struct sp_tw_timer *t)
{
	t->next = *head;
	if (t->next != NULL) {
		t->next->pprev = &t->next;
	}
	*head = t;
	t->pprev = head;
}

static inline void
tw_unlink(struct sp_tw_timer *t)
{
	SP_ASSERT(*t->pprev == t);
	SP_ASSERT(t->next == NULL || t->next->pprev == &t->next);
	*t->pprev = t->next;
	if (t->next != NULL) {
		t->next->pprev = t->pprev;
	}
	t->next = NULL;
	t->pprev = NULL;
}

static inline void
tw_bit_set(struct sp_tw *w, unsigned level, unsigned idx)
{
	w->occupied[level][idx / 64] |= UINT64_C(1) << (idx % 64);
}

static inline void
tw_bit_clear(struct sp_tw *w, unsigned level, unsigned idx)
{
	w->occupied[level][idx / 64] &= ~(UINT64_C(1) << (idx % 64));
}

/* First occupied slot of `level` at index >= from, or -1. */
static int
tw_find(const struct sp_tw *w, unsigned level, unsigned from)
{
	unsigned i;
	uint64_t word;

	if (from >= SP_TW_SLOTS) {
		return -1;
	}
	word = w->occupied[level][from / 64] & (~UINT64_C(0) << (from % 64));
	for (i = from / 64; i < TW_WORDS; i++) {
		if (i != from / 64) {
			word = w->occupied[level][i];
		}
		if (word != 0) {
			return (int)(i * 64 + (unsigned)__builtin_ctzll(word));
		}
	}
	return -1;
}

/* Put an unlinked timer on the list its expiry calls for, relative to w->cur. */
static void
tw_place(struct sp_tw *w, struct sp_tw_timer *t)
{
	uint64_t eff, delta;
	unsigned level, idx, bits;

	SP_ASSERT(t->pprev == NULL);
	if (t->expire < w->cur) {
		tw_link(&w->due, t);
		t->where = SP_TW_WHERE_DUE;
		return;
	}
	eff = t->expire;
	if (eff - w->cur >= SP_TW_HORIZON) {
		eff = w->cur + SP_TW_HORIZON - 1;
		w->stats.parked++;
	}
	delta = eff - w->cur;
	bits = 64u - (unsigned)__builtin_clzll(delta | TW_MASK);
	level = (bits - 1) / SP_TW_SLOT_BITS;
	SP_VERIFY(level < SP_TW_LEVELS);
	idx = (unsigned)(eff >> (level * SP_TW_SLOT_BITS)) & TW_MASK;
	tw_link(&w->slot[level][idx], t);
	tw_bit_set(w, level, idx);
	t->where = (uint16_t)(level * SP_TW_SLOTS + idx);
}

/* Take an armed timer off whatever list it is on, keeping the occupancy bit right. */
static void
tw_detach(struct sp_tw *w, struct sp_tw_timer *t)
{
	unsigned level, idx;

	SP_VERIFY(t->where != SP_TW_WHERE_NONE);
	tw_unlink(t);
	if (t->where < TW_NSLOTS) {
		level = t->where / SP_TW_SLOTS;
		idx = t->where % SP_TW_SLOTS;
		if (w->slot[level][idx] == NULL) {
			tw_bit_clear(w, level, idx);
		}
	}
	t->where = SP_TW_WHERE_NONE;
}

/* Re-place every timer of an upper-level slot; each lands on a lower level (or is parked). */
static void
tw_cascade(struct sp_tw *w, unsigned level, unsigned idx)
{
	struct sp_tw_timer *t, *next;
	uint64_t n;

	t = w->slot[level][idx];
	if (t == NULL) {
		return;
	}
	w->slot[level][idx] = NULL;
	tw_bit_clear(w, level, idx);
	for (n = 0; t != NULL; t = next, n++) {
		SP_VERIFY(n < w->stats.armed);
		SP_VERIFY(t->expire >= w->cur);
		next = t->next;
		t->next = NULL;
		t->pprev = NULL;
		tw_place(w, t);
		SP_ASSERT(t->where != level * SP_TW_SLOTS + idx);
		w->stats.cascaded++;
	}
}

/* Move the wheel's time to `c`, cascading the upper slots whose turn begins at `c`. */
static void
tw_set_cur(struct sp_tw *w, uint64_t c)
{
	unsigned level, idx;

	SP_ASSERT(c > w->cur);
	w->cur = c;
	for (level = 1; level < SP_TW_LEVELS; level++) {
		if ((c & ((UINT64_C(1) << (level * SP_TW_SLOT_BITS)) - 1)) != 0) {
			break;
		}
		idx = (unsigned)(c >> (level * SP_TW_SLOT_BITS)) & TW_MASK;
		tw_cascade(w, level, idx);
	}
}

/*
 * The tick at which an upper-level slot next cascades: slots hold the turns cur>>shift + 1
 * through cur>>shift + 256, so slot `idx` comes d turns ahead, d in [1, 256].
 */
static uint64_t
tw_cascade_tick(uint64_t cur, unsigned level, unsigned idx)
{
	unsigned shift = level * SP_TW_SLOT_BITS;
	unsigned here = (unsigned)(cur >> shift) & TW_MASK;
	uint64_t d = ((idx - here - 1) & TW_MASK) + 1;

	return ((cur >> shift) + d) << shift;
}

/*
 * The next tick at which the wheel has work: a non-empty level-0 slot, or the cascade of a
 * non-empty upper slot. A lower bound on every slotted timer's expiry. SP_TW_NEVER if none.
 */
static uint64_t
tw_next_event(const struct sp_tw *w)
{
	unsigned here = (unsigned)w->cur & TW_MASK;
	unsigned level;
	uint64_t best = SP_TW_NEVER, ev;
	int k;

	k = tw_find(w, 0, here);
	if (k >= 0) {
		return w->cur + (unsigned)k - here; /* before any cascade: nothing is earlier */
	}
	k = tw_find(w, 0, 0);
	if (k >= 0) {
		best = w->cur + SP_TW_SLOTS - here + (unsigned)k;
	}
	for (level = 1; level < SP_TW_LEVELS; level++) {
		here = (unsigned)(w->cur >> (level * SP_TW_SLOT_BITS)) & TW_MASK;
		k = tw_find(w, level, here + 1);
		if (k < 0) {
			k = tw_find(w, level, 0);
		}
		if (k >= 0) {
			ev = tw_cascade_tick(w->cur, level, (unsigned)k);
			best = SP_MIN(best, ev);
		}
	}
	return best;
}

/*
 * Put `list` (a slot's or `due`) in front of w->firing, marking its timers as firing.
 * O(len(list)); every timer passes here once per expiry, so it is O(1) per dispatch.
 */
static void
tw_to_firing(struct sp_tw *w, struct sp_tw_timer *list)
{
	struct sp_tw_timer *t, *last = NULL;
	uint64_t n;

	if (list == NULL) {
		return;
	}
	for (t = list, n = 0; t != NULL; t = t->next, n++) {
		SP_VERIFY(n < w->stats.armed);
		SP_ASSERT(t->expire < w->cur);
		t->where = SP_TW_WHERE_FIRING;
		last = t;
	}
	last->next = w->firing;
	if (w->firing != NULL) {
		w->firing->pprev = &last->next;
	}
	w->firing = list;
	list->pprev = &w->firing;
}

void
sp_tw_init(struct sp_tw *w, uint64_t now, sp_tw_fire_fn fire, void *ctx)
{
	SP_VERIFY(fire != NULL);
	SP_VERIFY(now <= SP_TW_TICK_MAX);
	memset(w, 0, sizeof(*w));
	w->cur = now + 1;
	w->fire = fire;
	w->ctx = ctx;
}

void
sp_tw_arm(struct sp_tw *w, struct sp_tw_timer *t, uint64_t expire)
{
	SP_VERIFY((t->pprev == NULL) == (t->where == SP_TW_WHERE_NONE));
	if (t->pprev != NULL) {
		tw_detach(w, t);
	} else {
		w->stats.armed++;
	}
	w->stats.arms++;
	t->expire = expire;
	tw_place(w, t);
	SP_ASSERT(*t->pprev == t);
}

void
sp_tw_cancel(struct sp_tw *w, struct sp_tw_timer *t)
{
	SP_VERIFY((t->pprev == NULL) == (t->where == SP_TW_WHERE_NONE));
	if (t->pprev == NULL) {
		return;
	}
	SP_VERIFY(w->stats.armed > 0);
	tw_detach(w, t);
	w->stats.armed--;
	w->stats.cancels++;
}

/* Dispatch from w->firing until it is empty or `fired` reaches `budget`. */
static unsigned
tw_dispatch(struct sp_tw *w, unsigned fired, unsigned budget)
{
	struct sp_tw_timer *t;

	while (w->firing != NULL && fired < budget) {
		t = w->firing;
		SP_VERIFY(t->where == SP_TW_WHERE_FIRING);
		tw_unlink(t);
		t->where = SP_TW_WHERE_NONE;
		w->stats.armed--;
		w->stats.fired++;
		fired++;
		w->fire(w->ctx, t);
	}
	return fired;
}

unsigned
sp_tw_advance(struct sp_tw *w, uint64_t now, unsigned budget)
{
	struct sp_tw_timer *list;
	unsigned fired = 0, steps, idx;
	uint64_t ev;

	SP_VERIFY(!w->in_advance); /* no advance from inside a dispatch */
	SP_VERIFY(now <= SP_TW_TICK_MAX);
	SP_VERIFY(now + 1 >= w->cur); /* time does not go backwards */
	w->in_advance = true;
	/* Arms in the past so far go first; those made by the dispatches below wait a call. */
	tw_to_firing(w, w->due);
	w->due = NULL;
	for (steps = 0;; steps++) {
		fired = tw_dispatch(w, fired, budget);
		if (w->firing != NULL || fired == budget || w->cur > now) {
			break;
		}
		if (steps == SP_TW_ADVANCE_STEPS_MAX) {
			w->stats.step_capped++;
			break;
		}
		ev = tw_next_event(w);
		SP_ASSERT(ev >= w->cur);
		if (ev > now) {
			tw_set_cur(w, now + 1); /* the ticks skipped hold nothing */
			break;
		}
		if (ev > w->cur) {
			tw_set_cur(w, ev); /* to the next occupied tick or cascade */
			continue;
		}
		/*
		 * Tick cur is due and its level-0 slot is occupied: take the slot, move past the
		 * tick (so that arms for it made while dispatching wait for the next call), fire.
		 */
		idx = (unsigned)w->cur & TW_MASK;
		list = w->slot[0][idx];
		SP_VERIFY(list != NULL);
		w->slot[0][idx] = NULL;
		tw_bit_clear(w, 0, idx);
		tw_set_cur(w, w->cur + 1);
		tw_to_firing(w, list);
	}
	w->in_advance = false;
	return fired;
}

uint64_t
sp_tw_next_expiry(const struct sp_tw *w)
{
	if (w->due != NULL || w->firing != NULL) {
		return w->cur - 1;
	}
	if (w->stats.armed == 0) {
		return SP_TW_NEVER;
	}
	return tw_next_event(w);
}

/* Verify one list's links and where-tags; returns its length. */
static uint64_t
tw_check_list(const struct sp_tw *w, struct sp_tw_timer *const *head, uint16_t where)
{
	const struct sp_tw_timer *t;
	struct sp_tw_timer *const *pprev = head;
	uint64_t n = 0;

	for (t = *head; t != NULL; t = t->next) {
		SP_VERIFY(n < w->stats.armed);
		SP_VERIFY(t->pprev == pprev);
		SP_VERIFY(t->where == where);
		pprev = &t->next;
		n++;
	}
	return n;
}

/* Verify a slotted timer fires neither early nor late relative to the current tick. */
static void
tw_check_placement(const struct sp_tw *w, const struct sp_tw_timer *t, unsigned level, unsigned idx)
{
	uint64_t ev;

	SP_VERIFY(t->expire >= w->cur);
	if (level == 0) {
		SP_VERIFY(t->expire - w->cur < SP_TW_SLOTS);
		SP_VERIFY((t->expire & TW_MASK) == idx);
		return;
	}
	ev = tw_cascade_tick(w->cur, level, idx);
	SP_VERIFY(ev <= t->expire);
	if (level < SP_TW_LEVELS - 1) {
		SP_VERIFY(t->expire - ev < (UINT64_C(1) << (level * SP_TW_SLOT_BITS)));
	}
}

uint64_t
sp_tw_check(const struct sp_tw *w)
{
	const struct sp_tw_timer *t;
	unsigned level, idx;
	uint64_t total = 0;
	bool bit;

	total += tw_check_list(w, &w->due, SP_TW_WHERE_DUE);
	total += tw_check_list(w, &w->firing, SP_TW_WHERE_FIRING);
	for (t = w->due; t != NULL; t = t->next) {
		SP_VERIFY(t->expire < w->cur);
	}
	for (level = 0; level < SP_TW_LEVELS; level++) {
		for (idx = 0; idx < SP_TW_SLOTS; idx++) {
			bit = (w->occupied[level][idx / 64] >> (idx % 64)) & 1;
			SP_VERIFY(bit == (w->slot[level][idx] != NULL));
			total += tw_check_list(w, &w->slot[level][idx],
					       (uint16_t)(level * SP_TW_SLOTS + idx));
			for (t = w->slot[level][idx]; t != NULL; t = t->next) {
				tw_check_placement(w, t, level, idx);
			}
		}
	}
	SP_VERIFY(total == w->stats.armed);
	return total;
}
