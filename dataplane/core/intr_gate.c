/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The interrupt-thread gate (intr_gate.h): the open/close protocol, and its callback on the
 * EAL interrupt thread.
 *
 * rte_intr_instance_alloc() and the handle setters are still experimental in 22.11, and they
 * are the only way to build an interrupt handle since 21.11 made it opaque: this file (only)
 * opts in.
 */
#define ALLOW_EXPERIMENTAL_API 1

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_interrupts.h>
#include <rte_pause.h>

#include <spate/assert.h>

#include "intr_gate.h"

#define GATE_SPINS 256 /* pauses between acknowledgement checks before sleeping */

static uint64_t
gate_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
gate_sleep_us(uint32_t us)
{
	struct timespec ts = {.tv_sec = us / 1000000u, .tv_nsec = (long)(us % 1000000u) * 1000};

	nanosleep(&ts, NULL);
}

void
sp_intr_gate_init(struct sp_intr_gate *g, unsigned nb_workers, uint32_t period_us)
{
	SP_VERIFY(nb_workers <= SP_MAX_WORKERS);
	memset(g, 0, sizeof(*g));
	g->nb_workers = nb_workers;
	g->period_us = period_us != 0 ? period_us : SP_INTR_GATE_PERIOD_US;
	g->efd = -1;
	for (unsigned w = 0; w < SP_MAX_WORKERS; w++) {
		g->slot[w].ack = SP_INTR_GATE_AWAY;
	}
}

void
sp_intr_gate_open(struct sp_intr_gate *g)
{
	uint64_t s = __atomic_load_n(&g->state, __ATOMIC_RELAXED);

	SP_VERIFY((s & 1) == 0);
	__atomic_store_n(&g->state, s | 1, __ATOMIC_RELEASE);
}

static bool
gate_all_acked(const struct sp_intr_gate *g, uint64_t gen)
{
	for (unsigned w = 0; w < g->nb_workers; w++) {
		uint64_t ack = __atomic_load_n(&g->slot[w].ack, __ATOMIC_ACQUIRE);

		/* a worker never acknowledges a generation that has not been published */
		SP_VERIFY(ack == SP_INTR_GATE_AWAY || ack <= gen);
		if (ack != SP_INTR_GATE_AWAY && ack != gen) {
			return false;
		}
	}
	return true;
}

uint64_t
sp_intr_gate_close(struct sp_intr_gate *g)
{
	uint64_t s = __atomic_load_n(&g->state, __ATOMIC_RELAXED);
	uint64_t gen = (s >> 1) + 1;
	uint64_t t0 = gate_now_ns();
	uint64_t waited;
	unsigned spins = 0;

	SP_VERIFY((s & 1) == 1);
	__atomic_store_n(&g->state, gen << 1, __ATOMIC_SEQ_CST);
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* pairs with sp_intr_gate_back() */
	while (!gate_all_acked(g, gen)) {
		if (++spins < GATE_SPINS) {
			rte_pause();
		} else {
			gate_sleep_us(10);
		}
	}
	waited = gate_now_ns() - t0;
	g->rounds++;
	g->close_wait_ns_sum += waited;
	if (waited > g->close_wait_ns_max) {
		g->close_wait_ns_max = waited;
	}
	return waited;
}

/*
 * On the interrupt thread, called again on every epoll round (the eventfd stays readable):
 * open, hold the thread for a period, close. Whatever the thread runs between two calls runs
 * with the gate closed.
 */
static void
gate_callback(void *arg)
{
	struct sp_intr_gate *g = arg;
	uint64_t one;

	if (__atomic_load_n(&g->stopping, __ATOMIC_ACQUIRE)) {
		/* drain the eventfd so the thread stops calling us until we are unregistered */
		(void)!read(g->efd, &one, sizeof(one));
		return;
	}
	sp_intr_gate_open(g);
	gate_sleep_us(g->period_us);
	(void)sp_intr_gate_close(g);
}

int
sp_intr_gate_start(struct sp_intr_gate *g)
{
	uint64_t one = 1;
	int rc;

	g->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (g->efd < 0) {
		return -errno;
	}
	if (write(g->efd, &one, sizeof(one)) != (ssize_t)sizeof(one)) {
		rc = -errno;
		goto fail;
	}
	g->ih = rte_intr_instance_alloc(RTE_INTR_INSTANCE_F_PRIVATE);
	if (g->ih == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	if (rte_intr_type_set(g->ih, RTE_INTR_HANDLE_EXT) != 0 ||
	    rte_intr_fd_set(g->ih, g->efd) != 0) {
		rc = -EINVAL;
		goto fail;
	}
	rc = rte_intr_callback_register(g->ih, gate_callback, g);
	if (rc != 0) {
		goto fail;
	}
	return 0;
fail:
	rte_intr_instance_free(g->ih);
	g->ih = NULL;
	close(g->efd);
	g->efd = -1;
	return rc;
}

void
sp_intr_gate_stop(struct sp_intr_gate *g)
{
	int rc;

	if (g->ih == NULL) {
		return;
	}
	__atomic_store_n(&g->stopping, true, __ATOMIC_RELEASE);
	/* -EAGAIN while the callback runs (at most a period): try again */
	while ((rc = rte_intr_callback_unregister(g->ih, gate_callback, g)) == -EAGAIN) {
		gate_sleep_us(100);
	}
	SP_VERIFY(rc >= 0);
	rte_intr_instance_free(g->ih);
	g->ih = NULL;
	close(g->efd);
	g->efd = -1;
}
