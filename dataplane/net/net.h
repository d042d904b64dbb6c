/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The receive path's entry point: one Ethernet frame in, consumed (answered, handed up, or
 * dropped with a reason counter). Runs on the worker lcore that received the frame.
 */
#ifndef SP_NET_H
#define SP_NET_H

struct rte_mbuf;
struct sp_lcore;

/*
 * Process frame m received on interface index ifidx of lc. Always takes ownership of m:
 * it is freed, or reused for a reply queued with sp_lcore_tx().
 */
void sp_net_input(struct sp_lcore *lc, unsigned ifidx, struct rte_mbuf *m);

#endif /* SP_NET_H */
