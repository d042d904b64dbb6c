/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to dataplane/tcp/: the per-worker stack instance, its bounds, and the functions the
 * tcp_*.c files share. Everything here runs on the owning worker only.
 */
#ifndef SP_TCP_INTERNAL_H
#define SP_TCP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include <spate/assert.h>

#include "../core/lcore.h"
#include "tcp.h"
#include "tcp_sack.h"
#include "tcp_seq.h"
#include "tcp_stack.h"

struct rte_hash;

/* Bounds (STYLE.md §11). Per-worker sizes come from the configuration (struct sp_tcp_conf). */
#define SP_TCP_MAX_LISTENERS 8
#define SP_TCP_MSS_MAX 1460	   /* 1500-byte MTU minus IPv4 and TCP headers */
#define SP_TCP_MSS_DEFAULT 536	   /* RFC 9293 3.7.1: when the peer sends no MSS option */
#define SP_TCP_MSS_MIN 88	   /* refuse to segment finer than this (RFC 9293 3.7.1 spirit) */
#define SP_TCP_WSCALE_MAX 14	   /* RFC 7323 2.3 */
#define SP_TCP_OPT_MAX_BYTES 40
#define SP_TCP_SACK_BLOCKS_MAX 4
#define SP_TCP_RTO_INIT_MS 1000	   /* RFC 6298 2.1 */
#define SP_TCP_RTO_MIN_MS 200	   /* below RFC 6298's 1 s, as Linux: a LAN appliance */
#define SP_TCP_RTO_MAX_MS 60000	   /* RFC 6298 2.5 allows a maximum of at least 60 s */
#define SP_TCP_MAX_REXMITS 12	   /* data retransmissions before the connection is dropped */
#define SP_TCP_MAX_SYNACK_REXMITS 5
#define SP_TCP_DELACK_MS 40	   /* delayed-ACK bound (RFC 9293 3.8.6.3: < 500 ms) */
#define SP_TCP_MSL_MS 30000	   /* TIME-WAIT lasts 2 * MSL */
#define SP_TCP_FIN_WAIT_2_MS 60000 /* FIN-WAIT-2 with the peer silent this long is dropped */
#define SP_TCP_DUPACK_THRESH 3	   /* RFC 5681 3.2 */
#define SP_TCP_DUPACK_THRESH_MAX 32 /* adaptive threshold's ceiling under reordering */
#define SP_TCP_INIT_CWND_SEGS 10   /* RFC 6928 */
#define SP_TCP_PERSIST_MIN_MS 200
#define SP_TCP_PTO_MIN_MS 10	   /* floor of the tail loss probe timeout (RFC 8985 7.2) */
#define SP_TCP_WC_DELACK_MS 200   /* RFC 8985 WCDelAckT: a lone segment's ACK may wait this */
#define SP_TCP_PERSIST_MAX_MS 60000
#define SP_TCP_TIMERS_PER_TICK 256 /* timer callbacks per sp_tcp_timers() call */
#define SP_TCP_SEND_SEGS_PER_CALL 64 /* segments one output call may emit */
#define SP_TCP_CHALLENGE_ACKS_PER_S 1000 /* RFC 5961 10: rate limit */
#define SP_TCP_ACK_DEFER_MAX 128 /* connections whose ACK waits for the rx burst's end */


struct sp_tcp_listener {
	uint16_t port; /* network order; 0 = free slot */
	const struct sp_tcp_ops *ops;
	void *arg;
};

struct sp_tcp {
	struct sp_lcore *lc;
	struct sp_tcp_conf conf;
	struct rte_hash *conns;
	struct sp_tcb *tcbs;
	uint32_t *free_idx; /* stack of free TCB indices */
	uint32_t nb_free;
	uint32_t syn_rcvd;  /* half-open connections now */
	uint32_t estab;	    /* connections in ESTABLISHED or later synchronized states */
	uint8_t rcv_wscale; /* our window shift, from conf.rcv_buf */
	struct sp_tcp_listener listeners[SP_TCP_MAX_LISTENERS];
	struct rte_mempool *clone_pool; /* indirect mbufs referencing send-queue data */
	struct sp_tw wheel;
	struct sp_reass_pool reass;
	uint64_t now_ms;	    /* tick of the timer wheel, ms since start */
	uint64_t hz;		    /* clock cycles per second */
	uint64_t start_cycles;
	uint64_t isn_key[2];	    /* RFC 6528 secret */
	uint64_t cookie_key[2];	    /* SYN-cookie secret */
	bool cookies_used;	    /* a SYN cookie was ever sent */
	uint32_t cookies_last_period; /* period of the last SYN cookie sent */
	uint64_t challenge_window;  /* second of the current challenge-ACK budget */
	uint32_t challenge_acks;    /* challenge ACKs sent in that second */
	uint32_t challenge_budget;  /* this second's limit (randomised) */
	/*
	 * ACK coalescing (sp_tcp_rx_begin/end): between the two, an in-order segment that would
	 * send the every-second-segment ACK puts its connection here instead, and one ACK per
	 * connection leaves at the burst's end. Freed TCBs leave a NULL slot.
	 */
	bool in_rx;
	uint16_t nb_deferred;
	struct sp_tcb *deferred[SP_TCP_ACK_DEFER_MAX];
};

/* tcp_conn.c */
struct sp_tcb *sp_tcp_conn_lookup(struct sp_tcp *tcp, const struct sp_tcp_key *key);
struct sp_tcb *sp_tcp_conn_alloc(struct sp_tcp *tcp, const struct sp_tcp_key *key);
void sp_tcp_conn_free(struct sp_tcp *tcp, struct sp_tcb *tcb);
void sp_tcp_set_state(struct sp_tcp *tcp, struct sp_tcb *tcb, enum sp_tcp_state s);
void sp_tcp_conn_done(struct sp_tcp *tcp, struct sp_tcb *tcb, int reason);
const struct sp_tcp_listener *sp_tcp_listener_find(const struct sp_tcp *tcp, uint16_t port_be);
uint32_t sp_tcp_isn(struct sp_tcp *tcp, const struct sp_tcp_key *key);
uint64_t sp_siphash(const uint64_t key[2], const void *data, size_t len);

/* tcp_syncookie.c */
uint32_t sp_tcp_cookie_make(struct sp_tcp *tcp, const struct sp_tcp_key *key, uint32_t peer_isn,
			    uint16_t peer_mss, uint16_t *mss_out);
bool sp_tcp_cookie_recent(const struct sp_tcp *tcp);
bool sp_tcp_cookie_check(const struct sp_tcp *tcp, const struct sp_tcp_key *key, uint32_t cookie,
			 uint32_t peer_isn, uint16_t *mss_out);

/* tcp_opts.c: parsed options of one segment. */
struct sp_tcp_opts {
	bool mss_ok, ws_ok, sack_perm, ts_present;
	uint16_t mss;
	uint8_t wscale;
	uint32_t ts_val, ts_ecr;
	uint8_t nb_sack;
	uint32_t sack[SP_TCP_SACK_BLOCKS_MAX][2];
};
/* Parse len bytes of options. Returns 0, or -EINVAL for a malformed option list. */
int sp_tcp_opts_parse(const uint8_t *p, unsigned len, bool syn, struct sp_tcp_opts *o);

/* tcp_output.c */
void sp_tcp_output(struct sp_tcp *tcp, struct sp_tcb *tcb);
void sp_tcp_send_ack(struct sp_tcp *tcp, struct sp_tcb *tcb);
void sp_tcp_send_synack(struct sp_tcp *tcp, struct sp_tcb *tcb);
/* Our SYN (active open), offering every option. */
void sp_tcp_send_syn(struct sp_tcp *tcp, struct sp_tcb *tcb);
void sp_tcp_send_rst(struct sp_tcp *tcp, struct sp_tcb *tcb);
/* An empty ACK at snd_una - 1: the peer must answer with its current ACK and window. */
void sp_tcp_send_probe(struct sp_tcp *tcp, struct sp_tcb *tcb);
void sp_tcp_rexmit_timeout(struct sp_tcp *tcp, struct sp_tcb *tcb);
void sp_tcp_rexmit_one(struct sp_tcp *tcp, struct sp_tcb *tcb);
/* RFC 6675 5 step (4.3): on entering SACK recovery, resend the segment at snd_una. */
void sp_tcp_sack_rexmit_first(struct sp_tcp *tcp, struct sp_tcb *tcb);
void sp_tcp_send_segment(struct sp_tcp *tcp, struct sp_tcb *tcb, uint32_t seq, uint32_t len,
			 bool fin);
uint32_t sp_tcp_rcv_window(const struct sp_tcp *tcp, const struct sp_tcb *tcb);
/* A RST answering segment th (RFC 9293 3.10.7.1) without a TCB. */
void sp_tcp_reply_rst(struct sp_tcp *tcp, unsigned ifidx, const struct rte_ether_hdr *eth,
		      const struct rte_ipv4_hdr *ip, const struct rte_tcp_hdr *th,
		      uint32_t seg_len);
/* RFC 2883: report [seq, end) below rcv_nxt (clipped) as duplicate data in the next ACK. */
void sp_tcp_dsack_dup(struct sp_tcp *tcp, struct sp_tcb *tcb, uint32_t seq, uint32_t end);
/* The round after an RTO (tcp_output.c): make the marks name the head at una. */
void sp_tcp_rnd_head(struct sp_tcb *tcb, uint32_t una);
/* Drop acknowledged bytes from the front of the send queue. */
void sp_tcp_sndq_drop(struct sp_tcp *tcp, struct sp_tcb *tcb, uint32_t n);

/* tcp_timer glue (tcp_conn.c) */
void sp_tcp_arm_rexmt(struct sp_tcp *tcp, struct sp_tcb *tcb, uint32_t ms);
/* Arm t_rexmt as the tail loss probe timer if a probe may be sent (RFC 8985 7.2); false if
 * not (the caller arms the RTO). tcp_output.c. */
bool sp_tcp_arm_pto(struct sp_tcp *tcp, struct sp_tcb *tcb);
void sp_tcp_arm_conn(struct sp_tcp *tcp, struct sp_tcb *tcb, uint32_t ms);
void sp_tcp_arm_delack(struct sp_tcp *tcp, struct sp_tcb *tcb);

static inline uint32_t
sp_tcp_key_raddr4(const struct sp_tcp_key *k)
{
	uint32_t a;

	memcpy(&a, k->raddr, sizeof(a));
	return a;
}

static inline uint32_t
sp_tcp_key_laddr4(const struct sp_tcp_key *k)
{
	uint32_t a;

	memcpy(&a, k->laddr, sizeof(a));
	return a;
}

/*
 * TCP checksum over the pseudo-header and l4_len contiguous bytes: true if it verifies.
 * (rte_ipv4_udptcp_cksum_verify is experimental in DPDK 22.11; these use stable pieces.)
 */
static inline bool
sp_tcp_cksum_ok(const struct rte_ipv4_hdr *ip, const void *l4, uint32_t l4_len)
{
	uint32_t sum = (uint32_t)rte_raw_cksum(l4, l4_len) + rte_ipv4_phdr_cksum(ip, 0);

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/*
 * One's-complement sum (folded, not inverted) of len bytes of chain m from offset off.
 * Each segment's sum is folded to 16 bits first, then byte-swapped if the segment starts at an
 * odd offset of the covered data (RFC 1071 2(B): byte order independence). DPDK 22.11's
 * rte_raw_cksum_mbuf swaps the unfolded sum and loses carries: wrong for such chains.
 */
static inline uint16_t
sp_cksum_chain(const struct rte_mbuf *m, uint32_t off, uint32_t len)
{
	uint32_t sum = 0, done = 0;

	for (; m != NULL && len > 0; m = m->next) {
		uint32_t n;
		uint32_t s;

		if (off >= m->data_len) {
			off -= m->data_len;
			continue;
		}
		n = SP_MIN((uint32_t)m->data_len - off, len);
		s = rte_raw_cksum(rte_pktmbuf_mtod_offset(m, const void *, off), n);
		if (done & 1) {
			s = ((s & 0xff) << 8) | (s >> 8);
		}
		sum += s;
		done += n;
		len -= n;
		off = 0;
	}
	SP_VERIFY(len == 0);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* TCP checksum of a segment whose TCP header starts at l4_off of chain m (field zeroed). */
static inline uint16_t
sp_tcp_cksum_mbuf(const struct rte_mbuf *m, const struct rte_ipv4_hdr *ip, uint32_t l4_off)
{
	uint32_t sum = (uint32_t)sp_cksum_chain(m, l4_off, m->pkt_len - l4_off) +
		       rte_ipv4_phdr_cksum(ip, 0);

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Payload bytes a full segment carries: RFC 6675's SMSS (the MSS less the timestamps). */
static inline uint32_t
sp_tcp_smss(const struct sp_tcb *tcb)
{
	return (uint32_t)tcb->mss - (tcb->ts_ok ? 12u : 0u);
}

/* RFC 7323 timestamp clock: 1 ms ticks. */
static inline uint32_t
sp_tcp_ts_now(const struct sp_tcp *tcp)
{
	return (uint32_t)tcp->now_ms;
}

#endif /* SP_TCP_INTERNAL_H */
