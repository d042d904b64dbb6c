/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Creating and driving a worker's TCP stack (dataplane/core and net/ipv4.c use these).
 */
#ifndef SP_TCP_STACK_H
#define SP_TCP_STACK_H

#include <stdint.h>

#include <spate/compiler.h>

struct rte_mbuf;
struct sp_lcore;
struct sp_tcp;
struct sp_rss_ctx;

struct sp_tcp_conf {
	uint32_t max_conns;   /* TCBs per worker */
	uint32_t rcv_buf;     /* bytes per connection */
	uint32_t snd_buf;     /* bytes per connection */
	uint32_t syn_backlog; /* half-open connections per worker */
	uint32_t reass_segs;  /* out-of-order segments queued per worker, all connections */
	uint32_t clone_mbufs; /* indirect mbufs per worker for payload in flight */
	uint32_t keepalive_idle_ms;  /* 0: keepalive off */
	uint32_t keepalive_intvl_ms;
	uint32_t keepalive_probes;
	uint32_t syn_retries; /* active opens: SYN retransmissions before giving up */
	/*
	 * Active opens pick source ports whose flows this worker owns among nb_workers, by the
	 * hash NICs and software steering use (net/rss.h); rss may be NULL with one worker.
	 */
	const struct sp_rss_ctx *rss;
	uint16_t worker;
	uint16_t nb_workers;
};

/* Build a worker's stack from its budget (boot time). Returns 0 or -ENOMEM/-EINVAL. */
SP_MUST_CHECK int sp_tcp_create(struct sp_tcp **out, struct sp_lcore *lc,
				const struct sp_tcp_conf *conf);
void sp_tcp_destroy(struct sp_tcp *tcp);

/* A validated IPv4 datagram carrying TCP (frame in m, IPv4 header of ihl bytes). Owns m. */
void sp_tcp_input(struct sp_tcp *tcp, unsigned ifidx, struct rte_mbuf *m, unsigned ihl);

/*
 * Bracket one poll's received frames: between the two calls, the ACKs that in-order data
 * owes are coalesced to one per connection, sent by sp_tcp_rx_end() (what GRO gives Linux:
 * a burst of segments that arrived together is acknowledged once, not every second segment).
 * Outside the bracket every segment is acknowledged as it is processed.
 */
void sp_tcp_rx_begin(struct sp_tcp *tcp);
void sp_tcp_rx_end(struct sp_tcp *tcp);

/* Advance the stack's clock and fire due timers (bounded); call once per poll. */
void sp_tcp_timers(struct sp_tcp *tcp);

#endif /* SP_TCP_STACK_H */
