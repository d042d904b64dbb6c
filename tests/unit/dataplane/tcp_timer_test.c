/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/tcp/tcp_timer.c, the timer wheel: edge cases at level boundaries,
 * beyond the horizon and at a large start tick; dispatches that arm and cancel; budgets; and
 * a seeded model-based test comparing random operation sequences with a naive model. The seed
 * is printed on failure; SP_TW_SEED=<n> reruns one seed.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../sp_test.h"

#include "tcp/tcp_timer.h"

#define UNLIMITED UINT_MAX
#define BIG       (UINT64_C(1) << 40)

/* ---- Deterministic tests: one owner struct with a record of its dispatches. ---- */

#define REC_MAX 4096

struct rec_owner {
	struct sp_tw_timer t;
	uint64_t period;           /* re-arm at expire + period from the dispatch when > 0 */
	struct rec_owner *victim;  /* cancelled from the dispatch when set */
	struct rec_owner *victim2; /* likewise */
	struct rec_owner *mover;   /* moved to expire + 1000 from the dispatch when set */
	uint64_t rearm_now;        /* re-arm for this (past) tick from the dispatch when set */
	unsigned fires;
	uint64_t fired_at[16]; /* the `now` of the advance that fired it */
};

struct rec_ctx {
	struct sp_tw w;
	uint64_t now; /* of the running advance */
	uint64_t log[REC_MAX];
	unsigned nlog;
};

static void
rec_fire(void *ctx, struct sp_tw_timer *t)
{
	struct rec_ctx *c = ctx;
	struct rec_owner *o = SP_TW_OWNER(t, struct rec_owner, t);

	assert_false(sp_tw_armed(t));
	assert_true(c->now >= t->expire || o->rearm_now != 0);
	if (o->fires < SP_ARRAY_SIZE(o->fired_at)) {
		o->fired_at[o->fires] = c->now;
	}
	o->fires++;
	if (c->nlog < REC_MAX) {
		c->log[c->nlog++] = t->expire;
	}
	if (o->victim != NULL) {
		sp_tw_cancel(&c->w, &o->victim->t);
	}
	if (o->victim2 != NULL) {
		sp_tw_cancel(&c->w, &o->victim2->t);
	}
	if (o->mover != NULL) {
		sp_tw_arm(&c->w, &o->mover->t, t->expire + 1000);
	}
	if (o->period != 0) {
		sp_tw_arm(&c->w, t, t->expire + o->period);
	}
	if (o->rearm_now != 0) {
		sp_tw_arm(&c->w, t, o->rearm_now);
	}
}

static unsigned
rec_advance(struct rec_ctx *c, uint64_t now, unsigned budget)
{
	unsigned n;

	c->now = now;
	n = sp_tw_advance(&c->w, now, budget);
	(void)sp_tw_check(&c->w);
	return n;
}

static void
rec_init(struct rec_ctx *c, uint64_t now, struct rec_owner *o, unsigned n)
{
	unsigned i;

	memset(c, 0, sizeof(*c));
	sp_tw_init(&c->w, now, rec_fire, c);
	c->now = now;
	memset(o, 0, n * sizeof(*o));
	for (i = 0; i < n; i++) {
		sp_tw_timer_init(&o[i].t, (uint16_t)i);
	}
}

/* Timers at and around level boundaries fire at exactly their tick, from several origins. */
static void
test_level_boundaries(void **state)
{
	static const uint64_t offs[] = {
	    0x1,     0x2,     0xff,     0x100,     0x101,     0x1ff,      0x200,       0xffff,
	    0x10000, 0x10001, 0xffffff, 0x1000000, 0x1000001, 0xffffffff, 0x100000000, 0x100000001};
	static const uint64_t origins[] = {0, 255, 65535, BIG, BIG + 123, BIG - 1, (BIG << 8) - 7};
	static struct rec_ctx c;
	struct rec_owner o[SP_ARRAY_SIZE(offs)];
	unsigned oi, i;
	uint64_t base;

	(void)state;
	for (oi = 0; oi < SP_ARRAY_SIZE(origins); oi++) {
		base = origins[oi];
		rec_init(&c, base, o, SP_ARRAY_SIZE(offs));
		for (i = 0; i < SP_ARRAY_SIZE(offs); i++) {
			sp_tw_arm(&c.w, &o[i].t, base + offs[i]);
			assert_true(sp_tw_armed(&o[i].t));
		}
		assert_int_equal(sp_tw_check(&c.w), SP_ARRAY_SIZE(offs));
		for (i = 0; i < SP_ARRAY_SIZE(offs); i++) {
			/* The tick before: nothing at or after this one fires. */
			assert_true(sp_tw_next_expiry(&c.w) <= base + offs[i]);
			(void)rec_advance(&c, base + offs[i] - 1, UNLIMITED);
			assert_int_equal(o[i].fires, 0);
			assert_int_equal(rec_advance(&c, base + offs[i], UNLIMITED), 1);
			assert_int_equal(o[i].fires, 1);
			assert_int_equal(o[i].fired_at[0], base + offs[i]);
		}
		assert_int_equal(c.w.stats.armed, 0);
		assert_int_equal(sp_tw_next_expiry(&c.w), SP_TW_NEVER);
		assert_true(c.w.stats.cascaded > 0);
	}
}

/* Beyond the horizon: parked, re-placed, and fired at exactly its tick after big jumps. */
static void
test_far_future(void **state)
{
	static struct rec_ctx c;
	struct rec_owner o[3];
	uint64_t e0 = BIG + (UINT64_C(1) << 36) + 12345, e1 = BIG + (UINT64_C(1) << 33);
	uint64_t now;
	unsigned jumps;

	(void)state;
	rec_init(&c, BIG, o, 3);
	sp_tw_arm(&c.w, &o[0].t, e0);
	sp_tw_arm(&c.w, &o[1].t, e1);
	sp_tw_arm(&c.w, &o[2].t, SP_TW_NEVER);
	assert_true(c.w.stats.parked >= 3);
	assert_true(sp_tw_next_expiry(&c.w) <= e1);
	/* Jumps of about 2^31 - 1 ticks, landing everywhere relative to the slots. */
	for (now = BIG, jumps = 0; now + 0x7fffffff < e0; jumps++) {
		now += 0x7fffffff;
		(void)rec_advance(&c, now, UNLIMITED);
		assert_int_equal(o[0].fires, 0);
		assert_int_equal(o[1].fires, now >= e1 ? 1 : 0);
		assert_true(sp_tw_next_expiry(&c.w) > now);
		assert_true(jumps < 64);
	}
	assert_int_equal(o[1].fired_at[0], BIG + (e1 - BIG + 0x7ffffffe) / 0x7fffffff * 0x7fffffff);
	(void)rec_advance(&c, e0 - 1, UNLIMITED);
	assert_int_equal(o[0].fires, 0);
	assert_int_equal(rec_advance(&c, e0, UNLIMITED), 1);
	assert_int_equal(o[0].fired_at[0], e0);
	/* One jump far beyond the horizon; "never" is still armed and never fires. */
	(void)rec_advance(&c, SP_TW_TICK_MAX, UNLIMITED);
	assert_int_equal(o[2].fires, 0);
	assert_true(sp_tw_armed(&o[2].t));
	sp_tw_cancel(&c.w, &o[2].t);
	assert_int_equal(sp_tw_check(&c.w), 0);
}

/* Arms for a processed tick fire on the next advance, even one with the same `now`. */
static void
test_arm_in_past(void **state)
{
	static struct rec_ctx c;
	struct rec_owner o[4];

	(void)state;
	rec_init(&c, 1000, o, 4);
	assert_int_equal(sp_tw_tick(&c.w), 1001);
	sp_tw_arm(&c.w, &o[0].t, 1000); /* the init tick counts as processed */
	sp_tw_arm(&c.w, &o[1].t, 3);
	sp_tw_arm(&c.w, &o[2].t, 0);
	sp_tw_arm(&c.w, &o[3].t, 1001);
	assert_int_equal(sp_tw_next_expiry(&c.w), 1000);
	assert_int_equal(rec_advance(&c, 1000, UNLIMITED), 3);
	assert_int_equal(o[3].fires, 0);
	assert_int_equal(sp_tw_next_expiry(&c.w), 1001);
	assert_int_equal(rec_advance(&c, 1001, UNLIMITED), 1);
	sp_tw_arm(&c.w, &o[0].t, 1001);
	assert_int_equal(rec_advance(&c, 1001, UNLIMITED), 1);
	assert_int_equal(o[0].fires, 2);
	/* Cancel of an unarmed timer, twice, is harmless. */
	sp_tw_cancel(&c.w, &o[0].t);
	sp_tw_cancel(&c.w, &o[0].t);
	sp_tw_arm(&c.w, &o[0].t, 5);
	sp_tw_cancel(&c.w, &o[0].t);
	sp_tw_cancel(&c.w, &o[0].t);
	assert_int_equal(rec_advance(&c, 5000, UNLIMITED), 0);
	assert_int_equal(c.w.stats.cancels, 1);
}

/* A dispatch re-arming itself: periodic timers, and "again now" that must not spin. */
static void
test_periodic(void **state)
{
	static struct rec_ctx c;
	struct rec_owner o[3];
	uint64_t now;
	unsigned calls;

	(void)state;
	rec_init(&c, BIG, o, 3);
	o[0].period = 7;
	o[1].period = 300;
	sp_tw_arm(&c.w, &o[0].t, BIG + 7);
	sp_tw_arm(&c.w, &o[1].t, BIG + 300);
	for (now = BIG; now < BIG + 3000; now += 1) {
		(void)rec_advance(&c, now, UNLIMITED);
	}
	(void)rec_advance(&c, BIG + 9000, UNLIMITED); /* one step over many periods */
	assert_int_equal(o[0].fires, 9000 / 7);
	assert_int_equal(o[1].fires, 30);
	for (calls = 1; calls < SP_ARRAY_SIZE(o[0].fired_at); calls++) {
		assert_int_equal(o[0].fired_at[calls], BIG + 7 * (calls + 1));
	}
	/* Re-arm for a processed tick from its own dispatch: once per advance call. */
	o[2].rearm_now = BIG;
	sp_tw_arm(&c.w, &o[2].t, BIG + 9000);
	for (calls = 0; calls < 5; calls++) {
		(void)rec_advance(&c, BIG + 9000, UNLIMITED);
	}
	assert_int_equal(o[2].fires, 5);
	assert_true(sp_tw_armed(&o[2].t));
}

/* A dispatch cancels or moves the next timer of the same slot. */
static void
test_same_slot(void **state)
{
	static struct rec_ctx c;
	struct rec_owner o[6];
	unsigned i;

	(void)state;
	rec_init(&c, 0, o, 6);
	/* Three timers on one tick, each cancelling the other two: exactly one fires. */
	for (i = 0; i < 3; i++) {
		o[i].victim = &o[(i + 1) % 3];
		o[i].victim2 = &o[(i + 2) % 3];
		sp_tw_arm(&c.w, &o[i].t, 600);
	}
	/* Two more on one tick reached by cascade; each moves the other 1000 ticks on. */
	o[3].mover = &o[4];
	o[4].mover = &o[3];
	sp_tw_arm(&c.w, &o[3].t, 70000);
	sp_tw_arm(&c.w, &o[4].t, 70000);
	/* A timer that cancels itself (already unarmed: harmless). */
	o[5].victim = &o[5];
	sp_tw_arm(&c.w, &o[5].t, 600);
	assert_int_equal(rec_advance(&c, 600, UNLIMITED), 2);
	assert_int_equal(o[0].fires + o[1].fires + o[2].fires, 1);
	assert_int_equal(o[5].fires, 1);
	assert_int_equal(sp_tw_check(&c.w), 2);
	assert_int_equal(rec_advance(&c, 70000, UNLIMITED), 1);
	assert_int_equal(o[3].fires + o[4].fires, 1);
	assert_int_equal(rec_advance(&c, 70999, UNLIMITED), 0);
	assert_int_equal(rec_advance(&c, 71000, UNLIMITED), 1);
	assert_int_equal(o[3].fires + o[4].fires, 2);
	assert_int_equal(o[3].fires, 1);
	/* Only the other one was moved and fired; the last one to fire was not moved again. */
	assert_false(sp_tw_armed(&o[3].t) && sp_tw_armed(&o[4].t));
}

/* Budgets: nothing lost, order kept, the wheel does not run past unfired timers. */
static void
test_budget(void **state)
{
	static struct rec_ctx c;
	static struct rec_owner o[1000];
	unsigned i, n, total = 0, calls;

	(void)state;
	rec_init(&c, 0, o, 1000);
	for (i = 0; i < 1000; i++) {
		sp_tw_arm(&c.w, &o[i].t, 100 + i % 10 * 50); /* ten ticks, some via cascade */
	}
	assert_int_equal(rec_advance(&c, 50, 0), 0);
	for (calls = 0; total < 1000; calls++) {
		n = rec_advance(&c, 1000, 7);
		assert_true(n <= 7);
		total += n;
		assert_true(calls < 1000);
		if (total < 1000) {
			assert_int_equal(n, 7);
			assert_true(sp_tw_next_expiry(&c.w) <= 1000);
		}
	}
	assert_int_equal(total, 1000);
	assert_int_equal(c.nlog, 1000);
	for (i = 1; i < c.nlog; i++) {
		assert_true(c.log[i - 1] <= c.log[i]);
	}
	for (i = 0; i < 1000; i++) {
		assert_int_equal(o[i].fires, 1);
	}
	assert_int_equal(sp_tw_next_expiry(&c.w), SP_TW_NEVER);
	assert_int_equal(sp_tw_tick(&c.w), 1001);
}

/* next_expiry: exact near, a lower bound far, "due" when something is pending. */
static void
test_next_expiry(void **state)
{
	static struct rec_ctx c;
	struct rec_owner o[3];

	(void)state;
	rec_init(&c, BIG, o, 3);
	assert_int_equal(sp_tw_next_expiry(&c.w), SP_TW_NEVER);
	sp_tw_arm(&c.w, &o[0].t, BIG + 100000);
	assert_true(sp_tw_next_expiry(&c.w) > BIG);
	assert_true(sp_tw_next_expiry(&c.w) <= BIG + 100000);
	sp_tw_arm(&c.w, &o[1].t, BIG + 5);
	assert_int_equal(sp_tw_next_expiry(&c.w), BIG + 5);
	sp_tw_arm(&c.w, &o[2].t, BIG - 5);
	assert_true(sp_tw_next_expiry(&c.w) <= BIG);
	sp_tw_cancel(&c.w, &o[2].t);
	sp_tw_cancel(&c.w, &o[1].t);
	(void)rec_advance(&c, BIG + 99999, UNLIMITED);
	assert_int_equal(sp_tw_next_expiry(&c.w), BIG + 100000);
}

/* Far timers in many top-level slots and one enormous jump: the step cap, then catch-up. */
static void
test_step_cap(void **state)
{
	static struct rec_ctx c;
	static struct rec_owner o[64];
	uint64_t now = 0, target;
	unsigned i, calls;

	(void)state;
	rec_init(&c, 0, o, 64);
	for (i = 0; i < 64; i++) {
		sp_tw_arm(&c.w, &o[i].t, (UINT64_C(1) << 44) + i);
		now += UINT64_C(1) << 26;
		(void)rec_advance(&c, now, UNLIMITED);
	}
	/* About 4096 re-parkings per timer: several calls, each stopped by the cap. */
	target = (UINT64_C(1) << 44) + 31;
	for (calls = 0; sp_tw_tick(&c.w) <= target; calls++) {
		assert_true(calls < 64);
		(void)rec_advance(&c, target, UNLIMITED);
	}
	assert_true(calls > 1);
	assert_true(c.w.stats.step_capped > 0);
	assert_int_equal(c.w.stats.fired, 32);
	(void)rec_advance(&c, target + 32, UNLIMITED);
	assert_int_equal(c.w.stats.fired, 64);
	for (i = 0; i < 64; i++) {
		assert_int_equal(o[i].fires, 1);
		assert_true(o[i].fired_at[0] >= (UINT64_C(1) << 44) + i);
	}
}

/* ---- The model-based test. ---- */

#define MODEL_TIMERS      2048
#define MODEL_OPS         30000
#define MODEL_SEEDS       6
#define MODEL_CHECK_EVERY 64

struct m_timer {
	struct sp_tw_timer t;
	uint64_t e;       /* requested expiry */
	uint64_t must_by; /* for past arms: the advance call that fires it */
	bool armed;
	bool past; /* armed for a tick the wheel had already processed */
};

struct model {
	struct sp_tw w;
	struct m_timer tm[MODEL_TIMERS];
	uint64_t seed, rng, op;
	uint64_t now;      /* last `now` given (or the init tick) */
	uint64_t adv;      /* advance calls started */
	uint64_t last_key; /* order check within one advance */
	uint64_t armed;
	unsigned fired_now;
	bool chaos; /* dispatches arm and cancel random timers */
};

static struct model g_m;

#define MCHECK(cond)                                                                               \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			print_error("model: seed %" PRIu64 " op %" PRIu64 " now %" PRIu64          \
				    ": %s (line %d)\n",                                            \
				    g_m.seed, g_m.op, g_m.now, #cond, __LINE__);                   \
			fail();                                                                    \
		}                                                                                  \
	} while (0)

static uint64_t
m_rand(void)
{
	uint64_t x = g_m.rng; /* xorshift64* */

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	g_m.rng = x;
	return x * UINT64_C(2685821657736338717);
}

static uint64_t
m_below(uint64_t n)
{
	return n == 0 ? 0 : m_rand() % n;
}

/* An expiry relative to `now`, biased to the interesting places. */
static uint64_t
m_expiry(uint64_t now)
{
	static const uint64_t offs[] = {0x0,        0x1,         0xff,       0x100,    0x101,
					0xffff,     0x10000,     0x10001,    0xffffff, 0x1000000,
					0xffffffff, 0x100000000, 0x100000001};
	uint64_t back;

	switch (m_below(10)) {
	case 0:
		back = m_below(2000);
		return now > back ? now - back : 0;
	case 1:
		return now + offs[m_below(SP_ARRAY_SIZE(offs))];
	case 2: /* on or next to an aligned boundary of some level */
		back = (uint64_t)1 << (8 * (1 + m_below(3)));
		return ((now / back) + 1 + m_below(3)) * back - 1 + m_below(3);
	case 3:
		return now + m_below(UINT64_C(1) << 17);
	case 4:
		return now + m_below(UINT64_C(1) << 26);
	case 5:
		return m_below(50) == 0 ? SP_TW_NEVER : now + m_below(UINT64_C(1) << 35);
	default:
		return now + m_below(600);
	}
}

static void
m_arm(unsigned i, uint64_t e)
{
	struct m_timer *x = &g_m.tm[i];

	sp_tw_arm(&g_m.w, &x->t, e);
	MCHECK(sp_tw_armed(&x->t));
	if (!x->armed) {
		g_m.armed++;
	}
	x->armed = true;
	x->e = e;
	x->past = e < sp_tw_tick(&g_m.w);
	x->must_by = g_m.adv + 1;
}

static void
m_cancel(unsigned i)
{
	struct m_timer *x = &g_m.tm[i];

	sp_tw_cancel(&g_m.w, &x->t);
	MCHECK(!sp_tw_armed(&x->t));
	if (x->armed) {
		g_m.armed--;
	}
	x->armed = false;
}

static void
m_fire(void *ctx, struct sp_tw_timer *t)
{
	struct m_timer *x = SP_TW_OWNER(t, struct m_timer, t);
	uint64_t key;

	MCHECK(ctx == &g_m);
	MCHECK(x->armed); /* exactly once per arm, never after a cancel */
	MCHECK(x->e == t->expire);
	if (x->past) {
		MCHECK(g_m.adv >= x->must_by); /* not within the call that armed it */
		key = 0;
	} else {
		MCHECK(g_m.now >= x->e); /* never early */
		key = x->e;
	}
	MCHECK(key >= g_m.last_key); /* non-decreasing expiry */
	g_m.last_key = key;
	x->armed = false;
	g_m.armed--;
	g_m.fired_now++;
	if (!g_m.chaos) {
		return;
	}
	switch (m_below(8)) {
	case 0: /* periodic, sometimes for a processed tick */
		m_arm((unsigned)(x - g_m.tm), x->e + m_below(400));
		break;
	case 1:
		m_cancel((unsigned)m_below(MODEL_TIMERS));
		break;
	case 2:
		m_arm((unsigned)m_below(MODEL_TIMERS), m_expiry(g_m.now));
		break;
	case 3: /* the next one of the same tick, if any */
		if (g_m.w.firing != NULL) {
			m_cancel((unsigned)(SP_TW_OWNER(g_m.w.firing, struct m_timer, t) - g_m.tm));
		}
		break;
	default:
		break;
	}
}

/* Every timer due by `now` has fired, except the past arms made during this call. */
static void
m_check_complete(void)
{
	unsigned i;
	const struct m_timer *x;

	MCHECK(sp_tw_tick(&g_m.w) == g_m.now + 1);
	for (i = 0; i < MODEL_TIMERS; i++) {
		x = &g_m.tm[i];
		MCHECK(sp_tw_armed(&x->t) == x->armed);
		if (!x->armed) {
			continue;
		}
		if (x->past) {
			MCHECK(x->must_by > g_m.adv);
		} else {
			MCHECK(x->e > g_m.now);
		}
	}
}

static uint64_t
m_step(void)
{
	switch (m_below(16)) {
	case 0:
		return 0;
	case 1:
		return 1;
	case 2:
		return m_below(70000);
	case 3:
		return m_below(UINT64_C(1) << 25);
	case 4:
		return m_below(200) == 0 ? BIG : m_below(UINT64_C(1) << 34);
	default:
		return m_below(300);
	}
}

static void
m_advance(uint64_t now, unsigned budget)
{
	unsigned n;

	g_m.now = now;
	g_m.adv++;
	g_m.last_key = 0;
	g_m.fired_now = 0;
	n = sp_tw_advance(&g_m.w, now, budget);
	MCHECK(n == g_m.fired_now);
	MCHECK(n <= budget);
	MCHECK(g_m.w.stats.step_capped == 0);
	MCHECK(g_m.w.stats.armed == g_m.armed);
	if (n < budget) {
		m_check_complete();
	}
	if (g_m.adv % MODEL_CHECK_EVERY == 0) {
		MCHECK(sp_tw_check(&g_m.w) == g_m.armed);
	}
}

static void
model_run(uint64_t seed)
{
	unsigned i, r, rounds;
	uint64_t start;

	memset(&g_m, 0, sizeof(g_m));
	g_m.seed = seed;
	g_m.rng = seed * UINT64_C(0x9e3779b97f4a7c15) + 1;
	start = (seed & 1) ? BIG + m_below(UINT64_C(1) << 32) : m_below(1000);
	g_m.now = start;
	g_m.chaos = (seed & 2) != 0;
	sp_tw_init(&g_m.w, start, m_fire, &g_m);
	for (i = 0; i < MODEL_TIMERS; i++) {
		sp_tw_timer_init(&g_m.tm[i].t, (uint16_t)i);
	}
	for (g_m.op = 0; g_m.op < MODEL_OPS; g_m.op++) {
		r = (unsigned)m_below(100);
		if (r < 45) {
			m_arm((unsigned)m_below(MODEL_TIMERS), m_expiry(g_m.now));
		} else if (r < 60) {
			m_cancel((unsigned)m_below(MODEL_TIMERS));
		} else if (r < 95) {
			m_advance(g_m.now + m_step(),
				  m_below(4) == 0 ? 1 + (unsigned)m_below(8) : UNLIMITED);
		} else {
			MCHECK(sp_tw_next_expiry(&g_m.w) <= g_m.now || g_m.armed == 0 ||
			       sp_tw_next_expiry(&g_m.w) >= sp_tw_tick(&g_m.w));
		}
	}
	/* Drain: every finite timer fires, at its tick, with budgets. */
	for (rounds = 0; rounds < 1000; rounds++) {
		m_advance(g_m.now + (UINT64_C(1) << 36), 1 + (unsigned)m_below(5000));
	}
	m_advance(g_m.now, UNLIMITED);
	MCHECK(sp_tw_check(&g_m.w) == g_m.armed);
	for (i = 0; i < MODEL_TIMERS; i++) {
		MCHECK(!g_m.tm[i].armed || g_m.tm[i].e > g_m.now);
	}
	MCHECK(g_m.w.stats.fired > 0 && g_m.w.stats.cascaded > 0);
	print_message("model seed %" PRIu64 ": %" PRIu64 " arms, %" PRIu64 " fired, %" PRIu64
		      " cascaded, %" PRIu64 " parked, %" PRIu64 " advances\n",
		      seed, g_m.w.stats.arms, g_m.w.stats.fired, g_m.w.stats.cascaded,
		      g_m.w.stats.parked, g_m.adv);
}

static void
test_model(void **state)
{
	const char *env = getenv("SP_TW_SEED");
	uint64_t base, s;

	(void)state;
	if (env != NULL) {
		model_run(strtoull(env, NULL, 0));
		return;
	}
	base = (uint64_t)time(NULL);
	for (s = 0; s < MODEL_SEEDS; s++) {
		model_run(base * 8 + s);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_level_boundaries),
	    cmocka_unit_test(test_far_future),
	    cmocka_unit_test(test_arm_in_past),
	    cmocka_unit_test(test_periodic),
	    cmocka_unit_test(test_same_slot),
	    cmocka_unit_test(test_budget),
	    cmocka_unit_test(test_next_expiry),
	    cmocka_unit_test(test_step_cap),
	    cmocka_unit_test(test_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
