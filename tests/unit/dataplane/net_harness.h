/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A worker with no NIC, for unit tests and the frame fuzzer: a struct sp_lcore whose packet
 * I/O seam hands out frames the test queued and captures what the worker transmits, over one
 * interface (MAC 02:00:00:00:00:02, 198.18.0.2/24). Needs EAL (sp_test_eal_init) for mbufs.
 */
#ifndef SP_NET_HARNESS_H
#define SP_NET_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/lcore.h"

#define NH_MAX_FRAMES 256

struct nh_io {
	struct rte_mbuf *rx[NH_MAX_FRAMES]; /* frames the next rx_burst returns */
	unsigned rx_n;
	struct rte_mbuf *tx[NH_MAX_FRAMES]; /* frames the worker transmitted */
	unsigned tx_n;
	unsigned tx_accept; /* frames tx_burst accepts per call (0: refuse all) */
};

struct nh {
	struct sp_lcore lc;
	struct sp_iface ifc;
	struct nh_io io;
	struct rte_mempool *pool;
};

/* Peer addresses used by the frame builders. */
#define NH_PEER_IP "198.18.0.1"
#define NH_OUR_IP  "198.18.0.2"

/* A clock a test moves by hand: cycles are milliseconds (nh_now_ms); sleeping does nothing.
 * nh_init installs a clock that stands still; set h->lc.clk.ops = &nh_ms_clock for this one. */
extern uint64_t nh_now_ms;
extern const struct sp_clock_ops nh_ms_clock;

void nh_init(struct nh *h, bool tx_ipv4_cksum);
void nh_fini(struct nh *h); /* frees captured frames; verifies no mbuf leaked */

/* An mbuf holding a copy of len bytes of frame. */
struct rte_mbuf *nh_mbuf(struct nh *h, const void *frame, uint16_t len);

/* Build frames into buf; return their length. */
uint16_t nh_build_arp(struct nh *h, uint8_t *buf, uint16_t op, const char *target_ip);
uint16_t nh_build_icmp_echo(struct nh *h, uint8_t *buf, uint16_t payload_len, uint16_t pad);

/* Free every captured tx frame. */
void nh_clear_tx(struct nh *h);

#endif /* SP_NET_HARNESS_H */
