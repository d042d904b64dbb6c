/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hierarchical timer wheel (prefix sp_tw_), one per worker lcore. Timers are intrusive: a
 * struct sp_tw_timer lives inside its owner (a TCB, an HTTP connection) and the wheel only
 * links it; arm, re-arm and cancel are O(1) and never allocate. Time is in ticks chosen by the
 * caller (the TCP stack uses 1 ms) and is passed in; the wheel reads no clock.
 *
 * Expiry goes through one dispatch function per wheel, given at sp_tw_init(), which receives
 * the timer; the owner finds itself with SP_TW_OWNER() (container_of) and switches on
 * t->kind. Why not a callback pointer per timer: it would make every timer 40 bytes instead of
 * 32 (three timers per TCB, hundreds of thousands of TCBs per core), a stray write into an
 * owner would become a jump to an arbitrary address instead of an unknown `kind` that the
 * dispatcher rejects, and the stack has a small fixed set of timer kinds anyway. The cost: all
 * modules sharing one wheel agree on one kind numbering (docs/internals/timer-wheel.md).
 *
 * The layout, invariants and measured costs are in docs/internals/timer-wheel.md. Included by
 * tcp_types.h, so this header holds the types plus a few inline helpers and includes only
 * <stdint.h>, <stdbool.h>, <stddef.h> and spate/compiler.h.
 */
#ifndef SP_TCP_TIMER_H
#define SP_TCP_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spate/compiler.h>

/* Geometry: SP_TW_LEVELS levels of SP_TW_SLOTS slots; level L slots are 2^(8L) ticks wide. */
#define SP_TW_SLOT_BITS    8
#define SP_TW_SLOTS        (1u << SP_TW_SLOT_BITS)
#define SP_TW_LEVELS       4
#define SP_TW_HORIZON_BITS (SP_TW_SLOT_BITS * SP_TW_LEVELS)
/*
 * Farthest a timer is placed ahead of the wheel (2^32 ticks: 49.7 days at 1 ms). A timer due
 * later is parked at the horizon and re-placed when it gets there: never lost, never early.
 */
#define SP_TW_HORIZON (UINT64_C(1) << SP_TW_HORIZON_BITS)
/* Largest `now` the wheel accepts (keeps cur + horizon far from overflow). */
#define SP_TW_TICK_MAX (UINT64_MAX >> 2)
/* Expiry value meaning "never" for callers that want one; arming with it parks the timer. */
#define SP_TW_NEVER UINT64_MAX
/*
 * Slot visits (level-0 ticks with timers, or cascades of an upper slot) one sp_tw_advance()
 * call makes besides firing. A bound on per-call latency; only jumps of ~2^40 ticks with far
 * timers spread over many slots come near it. If it is hit the call returns early with the
 * wheel behind `now` (counted in stats.step_capped) and the next call carries on.
 */
#define SP_TW_ADVANCE_STEPS_MAX 65536u

/* Values of sp_tw_timer.where that are not slots. */
#define SP_TW_WHERE_NONE   0xffffu
#define SP_TW_WHERE_DUE    0xfffeu
#define SP_TW_WHERE_FIRING 0xfffdu

struct sp_tw_timer {
	struct sp_tw_timer *next;   /* in its slot (or due) list */
	struct sp_tw_timer **pprev; /* the pointer that points at us; NULL when not armed */
	uint64_t expire;            /* requested expiry tick, as given to sp_tw_arm() */
	uint16_t where;             /* level * SP_TW_SLOTS + slot, or SP_TW_WHERE_* */
	uint16_t kind;              /* the owner's timer kind, for the dispatch function */
	uint32_t aux;               /* the owner's; the wheel never reads or writes it */
};

/*
 * Called once per expired timer from sp_tw_advance(). The timer is already unarmed; the
 * function may arm or cancel any timer of this wheel, this one included.
 */
typedef void (*sp_tw_fire_fn)(void *ctx, struct sp_tw_timer *t);

struct sp_tw_stats {
	uint64_t armed;       /* gauge: timers armed now */
	uint64_t arms;        /* sp_tw_arm() calls (a move counts once) */
	uint64_t cancels;     /* sp_tw_cancel() calls that unlinked an armed timer */
	uint64_t fired;       /* dispatch calls */
	uint64_t cascaded;    /* timers moved down from an upper level */
	uint64_t parked;      /* placements beyond the horizon */
	uint64_t step_capped; /* advances stopped by SP_TW_ADVANCE_STEPS_MAX */
};

struct sp_tw {
	uint64_t cur; /* next tick to process: every tick < cur is done */
	sp_tw_fire_fn fire;
	void *ctx;
	/* Timers due but not yet dispatched (armed in the past, or left by a budget stop). */
	struct sp_tw_timer *due;
	/* The list being dispatched; what a budget stop leaves here goes first next call. */
	struct sp_tw_timer *firing;
	bool in_advance;
	struct sp_tw_stats stats;
	/* Bit set when the slot's list is non-empty. */
	uint64_t occupied[SP_TW_LEVELS][SP_TW_SLOTS / 64];
	struct sp_tw_timer *slot[SP_TW_LEVELS][SP_TW_SLOTS];
};

/* Owner of an embedded timer, e.g. SP_TW_OWNER(t, struct sp_tcb, t_rexmt). */
#define SP_TW_OWNER(t, type, member) ((type *)(void *)((char *)(t) - (offsetof(type, member))))

/*
 * Set up an empty wheel whose ticks up to and including `now` count as processed. `fire` is
 * called with `ctx` for each expiring timer. No allocation; the wheel is fixed size.
 */
void sp_tw_init(struct sp_tw *w, uint64_t now, sp_tw_fire_fn fire, void *ctx);

/* Make `t` an unarmed timer of kind `kind`. Must be called once before first use. */
static inline void
sp_tw_timer_init(struct sp_tw_timer *t, uint16_t kind)
{
	t->next = NULL;
	t->pprev = NULL;
	t->expire = 0;
	t->where = SP_TW_WHERE_NONE;
	t->kind = kind;
	t->aux = 0;
}

static inline bool
sp_tw_armed(const struct sp_tw_timer *t)
{
	return t->pprev != NULL;
}

/*
 * Arm `t` to fire at the first sp_tw_advance() whose `now` >= expire. Arming an armed timer
 * moves it. An expiry already processed (< sp_tw_tick(w)) fires on the next advance call,
 * never within the running one. O(1).
 */
void sp_tw_arm(struct sp_tw *w, struct sp_tw_timer *t, uint64_t expire);

/* Disarm `t`; harmless when it is not armed. O(1). */
void sp_tw_cancel(struct sp_tw *w, struct sp_tw_timer *t);

/*
 * Fire, through the dispatch function, the timers with expire <= now, in non-decreasing
 * expiry order (any order within one tick; timers armed in the past count as due at the tick
 * they were armed), at most `budget` of them. Returns how many fired. When the budget stops
 * it, the rest fire first on the next call. `now` must not go backwards and must be
 * <= SP_TW_TICK_MAX.
 */
SP_MUST_CHECK unsigned sp_tw_advance(struct sp_tw *w, uint64_t now, unsigned budget);

/*
 * A tick no timer fires before: exact when the nearest timer is within SP_TW_SLOTS ticks,
 * otherwise the tick at which its upper-level slot cascades (earlier, never later). A value
 * <= the last `now` means "due already"; SP_TW_NEVER when nothing is armed. O(levels).
 */
uint64_t sp_tw_next_expiry(const struct sp_tw *w);

/* The next tick the wheel will process (every tick before it is done). */
static inline uint64_t
sp_tw_tick(const struct sp_tw *w)
{
	return w->cur;
}

/*
 * Walk the whole wheel and verify its invariants (list links, occupancy bits, placement of
 * each timer relative to the current tick, the armed gauge); aborts on a violation. Returns
 * the number of armed timers. O(armed + slots): for tests and debug dumps, not the hot path.
 */
uint64_t sp_tw_check(const struct sp_tw *w);

#endif /* SP_TCP_TIMER_H */
