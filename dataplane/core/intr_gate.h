/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The interrupt-thread gate: keeps the EAL interrupt thread out of a PMD's control path while
 * a worker is inside a poll.
 *
 * Some PMDs run their connection handling on the EAL interrupt thread and tear down memory
 * the datapath reads without waiting for the datapath. DPDK 22.11's net_memif is one: when the
 * peer leaves, memif_disconnect() clears a flag and unmaps the shared regions, while a worker
 * that checked the flag a moment earlier is still copying out of them (observed: a worker
 * segfault in librte_net_memif as dpdk-testpmd exited, docs/DESIGN.md). No ethdev event
 * precedes the unmap, so the application cannot quiesce the port first.
 *
 * Every callback on the interrupt thread runs one after another, so the gate holds that thread
 * inside a callback of its own (on an eventfd that stays readable) for `period_us` at a time,
 * with the gate open: workers poll as usual. To leave, the callback closes the gate and waits
 * until every worker has acknowledged it at the top of its loop, or is away (asleep, not yet
 * started, stopped). Only then does the thread go back to its other sources, memif's among
 * them; the next epoll round calls the gate again, which reopens it. So a PMD callback never
 * runs while a worker is between two loop tops, whatever order epoll returns sources in.
 *
 * Cost: workers pause for the closed window (the wait for acknowledgements plus whatever the
 * interrupt thread has to do, microseconds) once per period, and every other interrupt-thread
 * event waits up to period_us. The gate is on only when a port needs it (sp_port_needs_gate).
 *
 * Ordering: a worker's acknowledgement is a release store after its previous poll, read with
 * acquire by the closer; a worker coming back from away stores its presence and fences before
 * reading the gate, and the closer fences between closing and reading acknowledgements (the
 * Dekker pattern): either the closer sees the worker present and waits, or the worker sees
 * the gate closed.
 */
#ifndef SP_INTR_GATE_H
#define SP_INTR_GATE_H

#include <stdbool.h>
#include <stdint.h>

#include <spate/compiler.h>
#include <spate/limits.h>

struct rte_intr_handle;

#define SP_INTR_GATE_AWAY      UINT64_MAX /* a worker's ack while it cannot be inside a poll */
#define SP_INTR_GATE_PERIOD_US 1000       /* default time the gate stays open per round */

struct sp_intr_gate_slot {
	uint64_t ack; /* generation last acknowledged by this worker, or SP_INTR_GATE_AWAY */
} SP_CACHE_ALIGNED;

struct sp_intr_gate {
	/* (generation << 1) | open; written by the gate side only. */
	uint64_t state SP_CACHE_ALIGNED;

	/* Gate side (the interrupt thread, or a test's thread). */
	unsigned nb_workers;
	uint32_t period_us;
	bool stopping;
	int efd;
	struct rte_intr_handle *ih;
	/* Figures, read by the main lcore for status. */
	uint64_t rounds;            /* times the gate closed */
	uint64_t close_wait_ns_max; /* longest wait for every worker's acknowledgement */
	uint64_t close_wait_ns_sum;

	struct sp_intr_gate_slot slot[SP_MAX_WORKERS];
};

/* Closed, generation 0, every worker away. */
void sp_intr_gate_init(struct sp_intr_gate *g, unsigned nb_workers, uint32_t period_us);

/*
 * Worker side.
 *
 * sp_intr_gate_enter: at the top of every loop iteration. Acknowledges the generation in force
 * (the previous iteration is over) and returns whether the gate is open: if it is not, the
 * worker must not touch a gated port and calls it again until it is.
 */
static inline bool
sp_intr_gate_enter(struct sp_intr_gate *g, unsigned worker)
{
	uint64_t s = __atomic_load_n(&g->state, __ATOMIC_ACQUIRE);

	__atomic_store_n(&g->slot[worker].ack, s >> 1, __ATOMIC_RELEASE);
	return (s & 1) != 0;
}

/* Before the worker sleeps or leaves its loop: it is not inside a poll until it comes back. */
static inline void
sp_intr_gate_away(struct sp_intr_gate *g, unsigned worker)
{
	__atomic_store_n(&g->slot[worker].ack, SP_INTR_GATE_AWAY, __ATOMIC_RELEASE);
}

/* After a sleep, before the next sp_intr_gate_enter: present again (with a full fence). */
static inline void
sp_intr_gate_back(struct sp_intr_gate *g, unsigned worker)
{
	__atomic_store_n(&g->slot[worker].ack, 0, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Gate side: open for the workers. */
void sp_intr_gate_open(struct sp_intr_gate *g);

/*
 * Gate side: close, then wait until every worker has acknowledged the new generation or is
 * away. Returns the nanoseconds waited. Waits for a worker forever: workers do not block.
 */
uint64_t sp_intr_gate_close(struct sp_intr_gate *g);

/*
 * Run the gate on the EAL interrupt thread (an eventfd callback, above). Workers must not be
 * launched before this returns 0; they pass a closed gate until the thread first opens it.
 */
int sp_intr_gate_start(struct sp_intr_gate *g);

/* Leave the interrupt thread to itself again (after the workers have stopped). */
void sp_intr_gate_stop(struct sp_intr_gate *g);

#endif /* SP_INTR_GATE_H */
