/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the interrupt-thread gate (dataplane/core/intr_gate.c).
 *
 * - The protocol on one thread: closed at start, open/close, what an away worker means.
 * - Threads: two workers poll a buffer that a closer thread frees and replaces each time the
 *   gate is closed (as net_memif unmaps its regions); the workers also sleep away from the
 *   gate at random. A worker reading the old buffer is a use-after-free ASan reports, and
 *   every poll checks that the buffer it reads is the one in force from start to end.
 * - On the real EAL interrupt thread: the gate runs there, and an EAL alarm (also run by that
 *   thread, as memif's socket handler is) checks at every call that no worker is inside a
 *   poll; polls there last 50 us, so without the gate most calls would find one inside.
 * Runs EAL --no-huge.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_alarm.h>

#include "../sp_test.h"

#include "core/intr_gate.h"

#define NW        2
#define BUF_WORDS 256

struct shared {
	struct sp_intr_gate gate;
	uint64_t *volatile buf; /* replaced while the gate is closed */
	volatile uint64_t version;
	volatile int inside[NW];
	volatile bool stop;
	unsigned hold_us; /* how long a poll stays inside (busy) */
	uint64_t polls[NW];
	uint64_t sleeps[NW];
	volatile uint64_t bad;
};

static void
sleep_us(unsigned us)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)us * 1000};

	nanosleep(&ts, NULL);
}

static void
test_single_thread_protocol(void **state)
{
	struct sp_intr_gate *g = calloc(1, sizeof(*g));

	(void)state;
	assert_non_null(g);
	sp_intr_gate_init(g, 1, 0);
	assert_int_equal(g->period_us, SP_INTR_GATE_PERIOD_US);
	/* closed until the gate side first opens it */
	assert_false(sp_intr_gate_enter(g, 0));
	sp_intr_gate_open(g);
	assert_true(sp_intr_gate_enter(g, 0));
	assert_int_equal(g->slot[0].ack, 0);
	/* an away worker does not hold the closer */
	sp_intr_gate_away(g, 0);
	(void)sp_intr_gate_close(g);
	assert_int_equal(g->rounds, 1);
	sp_intr_gate_back(g, 0);
	assert_false(sp_intr_gate_enter(g, 0));
	assert_int_equal(g->slot[0].ack, 1); /* acknowledged the closing generation */
	sp_intr_gate_open(g);
	assert_true(sp_intr_gate_enter(g, 0));
	/* a worker that acknowledged the closing generation does not hold the closer either */
	sp_intr_gate_away(g, 0);
	sp_intr_gate_back(g, 0);
	free(g);
}

struct worker_arg {
	struct shared *sh;
	unsigned w;
};

/* One worker: the lcore loop's shape (gate at the top, away while sleeping). */
static void *
worker_run(void *arg)
{
	struct worker_arg *wa = arg;
	struct shared *sh = wa->sh;
	unsigned w = wa->w;
	unsigned seed = 12345u + w;

	sp_intr_gate_back(&sh->gate, w);
	while (!sh->stop) {
		uint64_t *buf;
		uint64_t v0, sum = 0;

		if (!sp_intr_gate_enter(&sh->gate, w)) {
			sleep_us(1);
			continue;
		}
		sh->inside[w] = 1;
		v0 = sh->version;
		buf = sh->buf;
		for (unsigned i = 0; i < BUF_WORDS; i++) {
			sum += buf[i];
		}
		if (sh->hold_us != 0) {
			struct timespec t0, t1;

			clock_gettime(CLOCK_MONOTONIC, &t0);
			do {
				clock_gettime(CLOCK_MONOTONIC, &t1);
			} while ((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) <
				 (long)sh->hold_us * 1000);
		}
		/* the buffer was not replaced under this poll, and it is whole */
		if (sh->version != v0 || sum != (uint64_t)BUF_WORDS * v0) {
			__atomic_fetch_add(&sh->bad, 1, __ATOMIC_RELAXED);
		}
		sh->inside[w] = 0;
		sh->polls[w]++;
		if (rand_r(&seed) % 64 == 0) {
			sp_intr_gate_away(&sh->gate, w);
			sleep_us(rand_r(&seed) % 50);
			sh->sleeps[w]++;
			sp_intr_gate_back(&sh->gate, w);
		}
	}
	sp_intr_gate_away(&sh->gate, w);
	return NULL;
}

static uint64_t *
buf_new(uint64_t version)
{
	uint64_t *b = malloc(BUF_WORDS * sizeof(*b));

	for (unsigned i = 0; i < BUF_WORDS; i++) {
		b[i] = version;
	}
	return b;
}

static void
workers_start(struct shared *sh, pthread_t *t, struct worker_arg *wa)
{
	for (unsigned w = 0; w < NW; w++) {
		wa[w] = (struct worker_arg){sh, w};
		assert_int_equal(pthread_create(&t[w], NULL, worker_run, &wa[w]), 0);
	}
}

static void
workers_join(struct shared *sh, pthread_t *t)
{
	sh->stop = true;
	for (unsigned w = 0; w < NW; w++) {
		assert_int_equal(pthread_join(t[w], NULL), 0);
	}
}

static void
test_threads_never_see_a_replaced_buffer(void **state)
{
	struct shared *sh = calloc(1, sizeof(*sh));
	struct worker_arg wa[NW];
	pthread_t t[NW];
	unsigned closed_inside = 0;

	(void)state;
	sp_intr_gate_init(&sh->gate, NW, 20);
	sh->version = 1;
	sh->buf = buf_new(1);
	workers_start(sh, t, wa);
	for (unsigned round = 0; round < 2000; round++) {
		uint64_t *old;

		sp_intr_gate_open(&sh->gate);
		sleep_us(round % 7 == 0 ? 0 : 20);
		(void)sp_intr_gate_close(&sh->gate);
		for (unsigned w = 0; w < NW; w++) {
			closed_inside += sh->inside[w] != 0;
		}
		/* what memif_disconnect does to the regions: gone, and new ones later */
		old = sh->buf;
		sh->version++;
		sh->buf = buf_new(sh->version);
		free(old);
	}
	sp_intr_gate_open(&sh->gate);
	workers_join(sh, t);
	assert_int_equal(closed_inside, 0);
	assert_int_equal(sh->bad, 0);
	assert_int_equal(sh->gate.rounds, 2000);
	for (unsigned w = 0; w < NW; w++) {
		assert_true(sh->polls[w] > 0);
		assert_true(sh->sleeps[w] > 0);
	}
	free(sh->buf);
	free(sh);
}

static volatile uint64_t g_alarm_calls, g_alarm_inside;

/* On the EAL interrupt thread, like memif's socket handler. */
static void
alarm_check(void *arg)
{
	struct shared *sh = arg;

	for (unsigned w = 0; w < NW; w++) {
		g_alarm_inside += sh->inside[w] != 0;
	}
	g_alarm_calls++;
	if (!sh->stop) {
		(void)rte_eal_alarm_set(200, alarm_check, sh);
	}
}

static void
test_on_the_eal_interrupt_thread(void **state)
{
	struct shared *sh = calloc(1, sizeof(*sh));
	struct worker_arg wa[NW];
	pthread_t t[NW];

	(void)state;
	sp_intr_gate_init(&sh->gate, NW, 500);
	sh->hold_us = 50; /* polls long enough for a race to show */
	sh->version = 1;
	sh->buf = buf_new(1);
	assert_int_equal(sp_intr_gate_start(&sh->gate), 0);
	workers_start(sh, t, wa);
	assert_int_equal(rte_eal_alarm_set(200, alarm_check, sh), 0);
	while (g_alarm_calls < 200) {
		sleep_us(1000);
	}
	workers_join(sh, t);
	(void)rte_eal_alarm_cancel(alarm_check, sh);
	sp_intr_gate_stop(&sh->gate);
	assert_int_equal(g_alarm_inside, 0);
	assert_int_equal(sh->bad, 0);
	assert_true(sh->gate.rounds >= 100);
	for (unsigned w = 0; w < NW; w++) {
		assert_true(sh->polls[w] > 0);
	}
	/* stopped: the interrupt thread no longer holds it */
	assert_null(sh->gate.ih);
	assert_int_equal(sh->gate.efd, -1);
	free(sh->buf);
	free(sh);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_single_thread_protocol),
	    cmocka_unit_test(test_threads_never_see_a_replaced_buffer),
	    cmocka_unit_test(test_on_the_eal_interrupt_thread),
	};

	(void)argc;
	sp_test_eal_init(argv[0]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
