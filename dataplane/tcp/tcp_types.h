/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP types: connection key, states, the TCB. Types only (STYLE.md §2): includes nothing but
 * other type headers. One TCB per connection, from the owning worker's fixed TCB array;
 * touched only by that worker.
 */
#ifndef SP_TCP_TYPES_H
#define SP_TCP_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>

#include "tcp_reass.h"
#include "tcp_sack.h"
#include "tcp_timer.h"

/* RFC 9293 3.3.2 states, in the order of the state diagram. */
enum sp_tcp_state {
	SP_TCP_CLOSED = 0,
	SP_TCP_LISTEN,
	SP_TCP_SYN_SENT,
	SP_TCP_SYN_RCVD,
	SP_TCP_ESTABLISHED,
	SP_TCP_FIN_WAIT_1,
	SP_TCP_FIN_WAIT_2,
	SP_TCP_CLOSE_WAIT,
	SP_TCP_CLOSING,
	SP_TCP_LAST_ACK,
	SP_TCP_TIME_WAIT,
	SP_TCP__NSTATES,
};

/*
 * Connection key, sized for IPv6 (ARCHITECTURE.md: "connection keys are sized for IPv6 even
 * while only IPv4 is served"). IPv4 addresses sit in the first 4 bytes, the rest zero.
 * Addresses and ports in network order. No padding holes: it is hashed as bytes.
 */
struct sp_tcp_key {
	uint8_t raddr[16];
	uint8_t laddr[16];
	uint16_t rport;
	uint16_t lport;
	uint16_t family; /* AF_INET */
	uint16_t ifidx;	 /* interface the connection lives on */
};

/* Why a connection ended, for the upper layer's closed() callback. */
enum sp_tcp_close_reason {
	SP_TCP_CLOSE_NORMAL = 0,  /* both FINs exchanged */
	SP_TCP_CLOSE_RESET,	  /* the peer reset it */
	SP_TCP_CLOSE_TIMEOUT,	  /* retransmissions or keepalives exhausted */
	SP_TCP_CLOSE_ABORTED,	  /* we reset it (sp_tcp_abort or a limit) */
	SP_TCP_CLOSE_REFUSED,	  /* our SYN was answered with a RST (active open) */
};

struct sp_tcp_listener;
struct sp_tcp_ops;

/* Transmission control block (RFC 9293 3.3.1). Field names follow the RFC where it has one. */
struct sp_tcb {
	struct sp_tcp_key key;
	enum sp_tcp_state state;
	uint32_t index; /* in the worker's TCB array */
	struct rte_ether_addr peer_mac;
	const struct sp_tcp_listener *listener; /* passive opens: where it came in; else NULL */
	const struct sp_tcp_ops *ops;		 /* the upper layer serving it */
	void *app; /* upper layer's per-connection context */

	/* Send sequence space. */
	uint32_t iss;
	uint32_t snd_una;
	uint32_t snd_nxt;
	uint32_t snd_max; /* highest sequence sent + 1 (snd_nxt rewinds on retransmit) */
	uint32_t snd_wnd; /* peer's window, already scaled */
	uint32_t snd_wl1;
	uint32_t snd_wl2;
	uint16_t mss;	     /* effective send MSS (peer's MSS option, our limit, options) */
	uint8_t snd_wscale; /* peer's shift (applied to windows it sends) */
	uint8_t rcv_wscale; /* our shift (applied to windows we send) */

	/* Receive sequence space. */
	uint32_t irs;
	uint32_t rcv_nxt;
	uint32_t rcv_adv;    /* right edge of the window we last advertised */
	uint32_t rcv_unread; /* bytes delivered to the app and not yet consumed (sp_tcp_recved) */

	/* Options negotiated on the SYN. */
	bool ts_ok;
	bool sack_ok;
	uint32_t ts_recent;	/* RFC 7323 TS.Recent */
	uint64_t ts_recent_tick; /* when TS.Recent was set, for the 24-day PAWS rule */

	/* Send queue: payload from snd_una on, as a chain of data mbufs. */
	struct rte_mbuf *sndq_head;
	struct rte_mbuf *sndq_tail;
	uint32_t sndq_bytes;  /* bytes queued, acked ones excluded */
	uint32_t sndq_skip;   /* bytes of sndq_head already acked (partially acked mbuf) */
	bool fin_queued;      /* the app closed: FIN follows the queued data */
	bool fin_sent;

	/* Retransmission (RFC 6298) and congestion control (RFC 5681, RFC 6582). */
	uint32_t srtt_us;
	uint32_t rttvar_us;
	uint32_t rto_ms;
	uint8_t rto_backoff; /* consecutive timeouts */
	bool rtt_timing;     /* Karn: a segment is being timed */
	uint32_t rtt_seq;
	uint64_t rtt_start_tick;
	uint32_t cwnd;
	uint32_t ssthresh;
	uint32_t recover; /* NewReno: snd_max when recovery started */
	uint8_t dupacks;
	uint8_t dupthresh; /* adaptive: raised when reordering made a retransmit spurious */
	bool in_recovery;
	/* Eifel (RFC 3522): what a spurious fast retransmit cost, to undo it. */
	bool undo_armed;
	uint32_t undo_cwnd;
	uint32_t undo_ssthresh;
	uint32_t undo_tsval; /* our TSval when we retransmitted */
	/* SACK-based loss recovery (RFC 6675); NewReno above when the peer sends no blocks. */
	bool sack_rec;	     /* this recovery is RFC 6675's (cwnd = ssthresh, pipe, NextSeg) */
	uint32_t hi_rxt;     /* RFC 6675 HighRxt + 1: end of the highest retransmitted byte */
	uint32_t rescue_rxt; /* RescueRxt + 1: rule 4 may fire once snd_una reaches it */
	uint32_t rxt_una;     /* snd_una when rxt_max was taken */
	uint32_t rxt_max;     /* snd_max when the segment at rxt_una was resent (or later) */
	uint32_t rxt_head_end; /* end of that resend */
	bool rxt_head_lost;    /* a hole resent after it was SACKed: it was lost again */
	struct sp_sack_sb sb; /* what the peer SACKed above snd_una */
	/*
	 * The round after an RTO (SACK peers): from the RTO until snd_una reaches recover, the
	 * go-back-N resends leave in sequence order, so data SACKed that was resent after the
	 * segment at snd_una last left shows that segment lost again (tcp_rnd_*, tcp.md 5).
	 */
	bool rnd;
	bool rnd_head_lost; /* the segment at rnd_una is lost again: resend it now */
	bool rnd_ev;	    /* rnd_ev_hi is set */
	uint32_t rnd_una;   /* the head the marks below are for */
	uint32_t rnd_after; /* [rnd_after, snd_nxt) left after the head's last transmission */
	uint32_t rnd_ev_hi; /* end of the highest block newly SACKed below snd_nxt this round */

	/* RFC 2883: duplicate data received, reported as the first SACK block of our next ACK. */
	bool dsack;
	uint32_t dsack_l, dsack_r;
	/* Delayed ACK: full segments received since our last ACK. */
	uint8_t unacked_segs;
	bool ack_now;
	bool ack_deferred; /* listed in tcp->deferred: its ACK leaves at the rx burst's end */
	bool closed_by_app;
	bool in_table; /* linked in the connection hash table */
	uint8_t zero_wnd_probes;
	bool in_persist;	/* t_rexmt is the persist timer */
	bool in_tlp;		/* t_rexmt is the tail loss probe timer (PTO) */
	bool tlp_ep;		/* a probe is out: until past tlp_high, or a D-SACK of it */
	bool tlp_retrans;	/* that probe resent the last segment (no new data could go) */
	uint32_t tlp_high;	/* snd_max after the probe */
	uint8_t persist_backoff; /* probes since the window closed (interval doubling) */
	uint8_t keepalive_probes; /* sent since the peer was last heard */
	uint64_t last_rx_ms;	  /* when the peer was last heard (keepalive) */

	struct sp_reass_q ooo;

	struct sp_tw_timer t_rexmt;   /* retransmission or persist */
	struct sp_tw_timer t_delack;  /* delayed ACK */
	struct sp_tw_timer t_conn;    /* SYN-RCVD, keepalive, FIN-WAIT-2, TIME-WAIT */
};

#endif /* SP_TCP_TYPES_H */
