/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Software flow steering for ports whose RSS is not confirmed (net_tap here, net_memif): the
 * worker that receives a frame computes its flow's owner with sp_rss_owner_ipv4() (the choice a
 * NIC programmed by net/port.c makes, and the one an active opener aims at) and hands frames it
 * does not own to the owner through one single-producer single-consumer rte_ring per
 * (receiver, owner) pair, in bursts. The owner drains its incoming rings every poll and runs
 * them through sp_net_input() as if received. What stays on the receiving worker: ARP, ICMP,
 * non-IPv4, IPv4 other than TCP/UDP, fragments, and anything too short to carry ports — the
 * receive path validates and answers (or drops and counts) those where they arrived.
 *
 * Ownership: st->out[o] is written only by this worker, st->in[r] read only by it; the rings
 * and the rss context are built by main.c before launch and freed after join. A handed-off
 * mbuf still belongs to the receiver's mempool; the owner frees it there (mempools are
 * multi-consumer safe). No malloc, lock or syscall on these paths.
 */
#ifndef SP_STEER_H
#define SP_STEER_H

#include <stdbool.h>
#include <stdint.h>

#include <spate/limits.h>

struct rte_mbuf;
struct rte_ring;
struct sp_lcore;
struct sp_rss_ctx;

/* Slots of one (receiver, owner) ring; a full ring drops (steer_drop_full). Power of two. */
#define SP_STEER_RING_SIZE 1024
/* Frames staged per owner during one rx burst, and dequeued per incoming ring per poll. */
#define SP_STEER_BURST 32

struct sp_steer {
	const struct sp_rss_ctx *rss; /* symmetric key (shared, read-only) */
	uint16_t nb_workers;
	uint16_t self;
	struct rte_ring *out[SP_MAX_WORKERS]; /* out[o]: self -> o (NULL at self) */
	struct rte_ring *in[SP_MAX_WORKERS];  /* in[r]: r -> self (NULL at self) */
	uint16_t staged[SP_MAX_WORKERS];
	struct rte_mbuf *stage[SP_MAX_WORKERS][SP_STEER_BURST];
};

/*
 * The worker that must process frame m: the owner of its flow for an unfragmented IPv4 TCP or
 * UDP packet, st->self for everything else (including frames too short or malformed to tell:
 * the local receive path drops and counts them).
 */
uint16_t sp_steer_owner(const struct sp_steer *st, const struct rte_mbuf *m);

/*
 * Frames pkts[0..n) received on interface ifidx by lc: hand the others' frames to their owners
 * (one enqueue burst per owner; a full ring drops and counts), then input ours in order.
 * Takes ownership of every frame. lc->steer must be set; n <= SP_STEER_BURST.
 */
void sp_steer_rx(struct sp_lcore *lc, unsigned ifidx, struct rte_mbuf **pkts, uint16_t n);

/* Input up to SP_STEER_BURST frames from each incoming ring. Returns the frames taken. */
unsigned sp_steer_drain(struct sp_lcore *lc);

/* Whether any incoming ring holds a frame (the idle policy must not sleep on them). */
bool sp_steer_pending(const struct sp_lcore *lc);

#endif /* SP_STEER_H */
