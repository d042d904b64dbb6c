/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_timer: nanoseconds per timer-wheel operation with many timers armed. A program, never
 * a test.
 *
 *   bench_timer [NB_TIMERS]
 *
 * NB_TIMERS (default BENCH_DEFAULT_TIMERS) timers, touched in a shuffled order so that each
 * operation pays for a cold owner, as with TCBs spread over a worker's TCB array. Rows:
 *   arm            unarmed timer to now + 200..120000 ticks (an RTO's range at 1 ms)
 *   move           armed timer re-armed to a new expiry (an RTO restarted by an ACK)
 *   cancel         armed timer cancelled
 *   move-hot       re-arm within a set of BENCH_HOT_TIMERS timers that stays in cache (one
 *                  busy connection's RTO restarted by each ACK): the wheel's own cost
 *   advance-idle   sp_tw_advance(now + 1) with every timer armed but none due
 *   fire           per timer fired, ticking one by one through 65536 ticks; cascades included
 * Best of BENCH_REPS runs. Single-threaded, fixed seed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <spate/compiler.h>

#include "tcp/tcp_timer.h"

#define BENCH_DEFAULT_TIMERS 1000000u
#define BENCH_MAX_TIMERS     100000000u
#define BENCH_REPS           3
#define BENCH_SEED           UINT64_C(0x5eed2024)
#define BENCH_IDLE_TICKS     1000000u
#define BENCH_FIRE_TICKS     65536u
#define BENCH_RTO_MIN        200u
#define BENCH_RTO_SPAN       119800u
#define BENCH_HOT_TIMERS     1024u
#define BENCH_HOT_MOVES      4000000u

enum bench_row {
	BENCH_ARM,
	BENCH_MOVE,
	BENCH_CANCEL,
	BENCH_MOVE_HOT,
	BENCH_IDLE,
	BENCH_FIRE,
	BENCH__ROWS,
};

static const char *const bench_rows[BENCH__ROWS] = {
    "arm", "move", "cancel", "move-hot", "advance-idle", "fire",
};

struct bench_owner {
	struct sp_tw_timer t;
	uint64_t payload[4]; /* a little owner state, as a TCB would have around its timer */
};

struct bench {
	struct sp_tw w;
	struct bench_owner *own;
	uint32_t *order;
	uint64_t *exp;
	unsigned n;
	uint64_t fired;
	uint64_t rng;
};

static uint64_t
bench_rand(struct bench *b)
{
	uint64_t x = b->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	b->rng = x;
	return x * UINT64_C(2685821657736338717);
}

static uint64_t
bench_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
bench_fire(void *ctx, struct sp_tw_timer *t)
{
	struct bench *b = ctx;
	struct bench_owner *o = SP_TW_OWNER(t, struct bench_owner, t);

	o->payload[0]++;
	b->fired++;
}

/* Fresh wheel at tick 0, all timers unarmed, new expiries in [lo, lo + span). */
static void
bench_reset(struct bench *b, uint64_t lo, uint64_t span)
{
	unsigned i;

	sp_tw_init(&b->w, 0, bench_fire, b);
	for (i = 0; i < b->n; i++) {
		sp_tw_timer_init(&b->own[i].t, 0);
		b->exp[i] = lo + bench_rand(b) % span;
	}
}

static void
bench_arm_all(struct bench *b)
{
	unsigned i;

	for (i = 0; i < b->n; i++) {
		sp_tw_arm(&b->w, &b->own[b->order[i]].t, b->exp[i]);
	}
}

/* One measurement of each row; figures in ns per operation. */
static void
bench_once(struct bench *b, double ns[BENCH__ROWS])
{
	uint64_t t0, now;
	unsigned i, got = 0, hot = SP_MIN(b->n, BENCH_HOT_TIMERS);

	bench_reset(b, BENCH_RTO_MIN, BENCH_RTO_SPAN);
	t0 = bench_ns();
	bench_arm_all(b);
	ns[BENCH_ARM] = (double)(bench_ns() - t0) / b->n;

	for (i = 0; i < b->n; i++) {
		b->exp[i] = BENCH_RTO_MIN + bench_rand(b) % BENCH_RTO_SPAN;
	}
	t0 = bench_ns();
	bench_arm_all(b);
	ns[BENCH_MOVE] = (double)(bench_ns() - t0) / b->n;

	t0 = bench_ns();
	for (i = 0; i < b->n; i++) {
		sp_tw_cancel(&b->w, &b->own[b->order[i]].t);
	}
	ns[BENCH_CANCEL] = (double)(bench_ns() - t0) / b->n;

	bench_reset(b, BENCH_RTO_MIN, BENCH_RTO_SPAN);
	bench_arm_all(b);
	t0 = bench_ns();
	for (i = 0; i < BENCH_HOT_MOVES; i++) {
		sp_tw_arm(&b->w, &b->own[i % hot].t, b->exp[i % b->n]);
	}
	ns[BENCH_MOVE_HOT] = (double)(bench_ns() - t0) / BENCH_HOT_MOVES;

	/* Level 2 and beyond the idle window's reach: nothing due, nothing cascades. */
	bench_reset(b, UINT64_C(1) << 21, UINT64_C(1) << 21);
	bench_arm_all(b);
	t0 = bench_ns();
	for (now = 1; now <= BENCH_IDLE_TICKS; now++) {
		got += sp_tw_advance(&b->w, now, UINT32_MAX);
	}
	ns[BENCH_IDLE] = (double)(bench_ns() - t0) / BENCH_IDLE_TICKS;
	if (got != 0) {
		fprintf(stderr, "bench_timer: %u timers fired in the idle window\n", got);
		exit(1);
	}

	bench_reset(b, 1, BENCH_FIRE_TICKS);
	bench_arm_all(b);
	b->fired = 0;
	t0 = bench_ns();
	for (now = 1; now <= BENCH_FIRE_TICKS; now++) {
		got += sp_tw_advance(&b->w, now, UINT32_MAX);
	}
	ns[BENCH_FIRE] = (double)(bench_ns() - t0) / b->n;
	if (got != b->n || b->fired != b->n || sp_tw_check(&b->w) != 0) {
		fprintf(stderr, "bench_timer: fired %u of %u\n", got, b->n);
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	static struct bench b;
	double best[BENCH__ROWS], cur[BENCH__ROWS];
	unsigned i, j, rep;
	uint32_t tmp;
	char *end;
	unsigned long n = BENCH_DEFAULT_TIMERS;

	if (argc > 1) {
		n = strtoul(argv[1], &end, 10);
		if (*end != '\0' || n == 0 || n > BENCH_MAX_TIMERS) {
			fprintf(stderr, "usage: bench_timer [NB_TIMERS (1..%u)]\n",
				BENCH_MAX_TIMERS);
			return 2;
		}
	}
	b.n = (unsigned)n;
	b.rng = BENCH_SEED;
	b.own = calloc(b.n, sizeof(*b.own));
	b.order = calloc(b.n, sizeof(*b.order));
	b.exp = calloc(b.n, sizeof(*b.exp));
	if (b.own == NULL || b.order == NULL || b.exp == NULL) {
		fprintf(stderr, "bench_timer: out of memory\n");
		return 1;
	}
	for (i = 0; i < b.n; i++) {
		b.order[i] = i;
	}
	for (i = b.n - 1; i > 0; i--) { /* Fisher-Yates */
		j = (unsigned)(bench_rand(&b) % (i + 1));
		tmp = b.order[i];
		b.order[i] = b.order[j];
		b.order[j] = tmp;
	}
	for (i = 0; i < BENCH__ROWS; i++) {
		best[i] = 1e30;
	}
	for (rep = 0; rep < BENCH_REPS; rep++) {
		bench_once(&b, cur);
		for (i = 0; i < BENCH__ROWS; i++) {
			best[i] = SP_MIN(best[i], cur[i]);
		}
	}
	printf("bench_timer: %u timers (%zu bytes each), best of %d\n", b.n,
	       sizeof(struct sp_tw_timer), BENCH_REPS);
	printf("%-14s %10s\n", "operation", "ns/op");
	for (i = 0; i < BENCH__ROWS; i++) {
		printf("%-14s %10.1f\n", bench_rows[i], best[i]);
	}
	free(b.own);
	free(b.order);
	free(b.exp);
	return 0;
}
