/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Segment arrival (RFC 9293 3.10.7), state by state. Owns: header and checksum validation,
 * LISTEN processing (passive open), SYN-SENT processing (active open), the acceptability test, PAWS
 * (RFC 7323 5), RST and SYN handling with challenge ACKs (RFC 5961 3, 4), ACK processing with RTT
 * sampling (RFC 6298) and NewReno congestion control (RFC 5681, RFC 6582), in-order delivery and
 * the out-of-order queue, FIN processing, TIME-WAIT and its reuse by a new SYN (RFC 6191). Runs on
 * the worker that received the segment, which owns the connection.
 */
#include <string.h>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_random.h>
#include <rte_tcp.h>

#include <spate/assert.h>

#include "tcp_internal.h"

#define PAWS_IDLE_MS (24ULL * 24 * 3600 * 1000) /* RFC 7323 5.5: TS.Recent older is invalid */

/* Everything input needs about the segment, parsed once. */
struct tcp_in {
	unsigned ifidx;
	struct rte_mbuf *m;
	const struct rte_ether_hdr *eth;
	const struct rte_ipv4_hdr *ip;
	const struct rte_tcp_hdr *th;
	uint32_t seq, ack;
	uint32_t plen; /* payload bytes */
	uint32_t hlen; /* bytes before the payload in m */
	uint16_t wnd;
	uint8_t flags;
	struct sp_tcp_opts o;
};

#define F_SYN RTE_TCP_SYN_FLAG
#define F_ACK RTE_TCP_ACK_FLAG
#define F_RST RTE_TCP_RST_FLAG
#define F_FIN RTE_TCP_FIN_FLAG

static bool
tcp_challenge_ok(struct sp_tcp *tcp)
{
	uint64_t sec = tcp->now_ms / 1000;

	if (sec != tcp->challenge_window) {
		/* A randomised budget each second: a fixed one is a side channel (CVE-2016-5696).
		 */
		tcp->challenge_window = sec;
		tcp->challenge_acks = 0;
		tcp->challenge_budget = SP_TCP_CHALLENGE_ACKS_PER_S / 2 +
					(uint32_t)(rte_rand() % SP_TCP_CHALLENGE_ACKS_PER_S);
	}
	if (tcp->challenge_acks >= tcp->challenge_budget) {
		tcp->lc->cnt.tcp_challenge_limited++;
		return false;
	}
	tcp->challenge_acks++;
	tcp->lc->cnt.tcp_challenge_acks++;
	return true;
}

static void
tcp_challenge_ack(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	if (tcp_challenge_ok(tcp)) {
		sp_tcp_send_ack(tcp, tcb);
	}
}

/* RFC 6298 2.2-2.4 with 1 ms granularity; rtt in ms. */
static void
tcp_rtt_sample(struct sp_tcb *tcb, uint32_t rtt_ms)
{
	uint32_t r = rtt_ms * 1000u + 1; /* us; never zero */
	uint32_t rto;

	if (tcb->srtt_us == 0) {
		tcb->srtt_us = r;
		tcb->rttvar_us = r / 2;
	} else {
		uint32_t diff = tcb->srtt_us > r ? tcb->srtt_us - r : r - tcb->srtt_us;

		tcb->rttvar_us = (3 * tcb->rttvar_us + diff) / 4;
		tcb->srtt_us = (7 * tcb->srtt_us + r) / 8;
	}
	rto = (tcb->srtt_us + SP_MAX(1000u, 4 * tcb->rttvar_us)) / 1000u;
	tcb->rto_ms = SP_MIN(SP_MAX(rto, (uint32_t)SP_TCP_RTO_MIN_MS), (uint32_t)SP_TCP_RTO_MAX_MS);
}

static void
tcp_enter_time_wait(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	sp_tcp_set_state(tcp, tcb, SP_TCP_TIME_WAIT);
	sp_tw_cancel(&tcp->wheel, &tcb->t_rexmt);
	sp_tw_cancel(&tcp->wheel, &tcb->t_delack);
	sp_tcp_arm_conn(tcp, tcb, 2 * SP_TCP_MSL_MS);
	tcp->lc->cnt.tcp_closed_normal++;
	sp_tcp_conn_done(tcp, tcb, SP_TCP_CLOSE_NORMAL);
}

static void tcp_conn_input(struct sp_tcp *tcp, struct sp_tcb *tcb, struct tcp_in *in);

/*
 * A half-open connection from LISTEN, by a SYN (irs = its sequence number, iss = our ISN) or
 * by a returning SYN cookie: sequence spaces, MSS (clamped to [SP_TCP_MSS_MIN,
 * SP_TCP_MSS_MAX]), congestion state, SYN-RECEIVED. NULL if the table is full (counted).
 */
static struct sp_tcb *
tcp_passive_tcb(struct sp_tcp *tcp, const struct sp_tcp_listener *l, const struct sp_tcp_key *key,
		const struct tcp_in *in, uint32_t irs, uint32_t iss, uint16_t mss)
{
	struct sp_tcb *tcb = sp_tcp_conn_alloc(tcp, key);

	if (tcb == NULL) {
		return NULL;
	}
	rte_ether_addr_copy(&in->eth->src_addr, &tcb->peer_mac);
	tcb->listener = l;
	tcb->ops = l->ops;
	tcb->irs = irs;
	tcb->rcv_nxt = irs + 1;
	tcb->rcv_adv = tcb->rcv_nxt;
	tcb->iss = iss;
	tcb->snd_una = iss;
	tcb->snd_nxt = iss + 1;
	tcb->snd_max = tcb->snd_nxt;
	tcb->recover = iss; /* RFC 6582 3.2 step 1 */
	tcb->mss = SP_MAX(SP_MIN(mss, (uint16_t)SP_TCP_MSS_MAX), (uint16_t)SP_TCP_MSS_MIN);
	tcb->snd_wl1 = in->seq;
	tcb->snd_wl2 = iss;
	tcb->cwnd = SP_TCP_INIT_CWND_SEGS * (uint32_t)tcb->mss;
	tcb->ssthresh = UINT32_MAX;
	tcb->dupthresh = SP_TCP_DUPACK_THRESH;
	sp_tcp_set_state(tcp, tcb, SP_TCP_SYN_RCVD);
	tcp->lc->cnt.tcp_passive_opens++;
	return tcb;
}

/* Backlog full: answer the SYN with a SYN cookie and keep nothing (tcp_syncookie.c). */
static void
tcp_cookie_synack(struct sp_tcp *tcp, const struct sp_tcp_key *key, struct tcp_in *in)
{
	struct sp_tcb tmp;
	uint16_t mss;

	memset(&tmp, 0, sizeof(tmp));
	tmp.key = *key;
	rte_ether_addr_copy(&in->eth->src_addr, &tmp.peer_mac);
	tmp.rcv_nxt = in->seq + 1;
	tmp.iss = sp_tcp_cookie_make(tcp, key, in->seq,
				     in->o.mss_ok ? in->o.mss : SP_TCP_MSS_DEFAULT, &mss);
	tcp->lc->cnt.tcp_syncookies_sent++;
	sp_tcp_send_synack(tcp, &tmp); /* MSS only: no room to remember other options */
}

/* A valid cookie came back in an ACK: create the connection as SYN-RECEIVED and go on. */
static void
tcp_cookie_open(struct sp_tcp *tcp, const struct sp_tcp_listener *l, const struct sp_tcp_key *key,
		struct tcp_in *in, uint16_t mss)
{
	struct sp_tcb *tcb = tcp_passive_tcb(tcp, l, key, in, in->seq - 1, in->ack - 1, mss);

	if (tcb == NULL) {
		return;
	}
	/* What the stateless SYN-ACK advertised: an unscaled window. */
	tcb->rcv_adv = tcb->rcv_nxt + SP_MIN(sp_tcp_rcv_window(tcp, tcb), 65535u);
	tcp_conn_input(tcp, tcb, in);
}

/* LISTEN (RFC 9293 3.10.7.2): a SYN creates a half-open connection and gets a SYN-ACK. */
static void
tcp_listen_input(struct sp_tcp *tcp, const struct sp_tcp_listener *l, const struct sp_tcp_key *key,
		 struct tcp_in *in)
{
	struct sp_tcb *tcb;
	uint16_t mss;

	if (in->flags & F_RST) {
		return;
	}
	if (in->flags & F_ACK) {
		uint16_t cmss;

		if (!(in->flags & F_SYN) && sp_tcp_cookie_recent(tcp)) {
			if (sp_tcp_cookie_check(tcp, key, in->ack - 1, in->seq - 1, &cmss)) {
				tcp->lc->cnt.tcp_syncookies_ok++;
				tcp_cookie_open(tcp, l, key, in, cmss);
				return;
			}
			tcp->lc->cnt.tcp_syncookies_failed++;
		}
		sp_tcp_reply_rst(tcp, in->ifidx, in->eth, in->ip, in->th, in->plen);
		return;
	}
	if (!(in->flags & F_SYN)) {
		tcp->lc->cnt.tcp_drop_flags++;
		return;
	}
	if (tcp->syn_rcvd >= tcp->conf.syn_backlog) {
		tcp_cookie_synack(tcp, key, in);
		return;
	}
	/* RFC 9293 3.7.1, clamped below so a tiny MSS cannot turn into a packet storm. */
	mss = in->o.mss_ok ? in->o.mss : SP_TCP_MSS_DEFAULT;
	tcb = tcp_passive_tcb(tcp, l, key, in, in->seq, sp_tcp_isn(tcp, key), mss);
	if (tcb == NULL) {
		return;
	}
	if (in->o.ws_ok) {
		tcb->snd_wscale = in->o.wscale;
		tcb->rcv_wscale = tcp->rcv_wscale;
	}
	if (in->o.ts_present) {
		tcb->ts_ok = true;
		tcb->ts_recent = in->o.ts_val;
		tcb->ts_recent_tick = tcp->now_ms;
	}
	tcb->sack_ok = in->o.sack_perm;
	tcb->snd_wnd = in->wnd; /* RFC 7323 2.2: never scaled in a SYN */
	sp_tcp_send_synack(tcp, tcb);
	sp_tcp_arm_rexmt(tcp, tcb, tcb->rto_ms);
}

/* RFC 9293 3.10.7.4 "first": is the segment acceptable? */
static bool
tcp_acceptable(const struct sp_tcb *tcb, const struct tcp_in *in)
{
	uint32_t seg_len =
	    in->plen + ((in->flags & F_SYN) ? 1u : 0u) + ((in->flags & F_FIN) ? 1u : 0u);
	uint32_t wnd = sp_seq_gt(tcb->rcv_adv, tcb->rcv_nxt) ? tcb->rcv_adv - tcb->rcv_nxt : 0;

	if (seg_len == 0) {
		return wnd == 0 ? in->seq == tcb->rcv_nxt
				: sp_seq_in(in->seq, tcb->rcv_nxt, tcb->rcv_nxt + wnd);
	}
	if (wnd == 0) {
		return false;
	}
	return sp_seq_in(in->seq, tcb->rcv_nxt, tcb->rcv_nxt + wnd) ||
	       sp_seq_in(in->seq + seg_len - 1, tcb->rcv_nxt, tcb->rcv_nxt + wnd);
}

/* A RST with an acceptable sequence number (RFC 5961 3.2). Frees the TCB. */
static void
tcp_reset_by_peer(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	int reason = SP_TCP_CLOSE_RESET;

	if (tcb->state == SP_TCP_SYN_RCVD) {
		tcp->lc->cnt.tcp_attempt_fails++;
		if (tcb->listener == NULL) {
			reason = SP_TCP_CLOSE_REFUSED; /* an active open never established */
		}
	} else if (tcb->state == SP_TCP_ESTABLISHED || tcb->state == SP_TCP_CLOSE_WAIT) {
		tcp->lc->cnt.tcp_estab_resets++;
	}
	sp_tcp_conn_done(tcp, tcb, reason);
	sp_tcp_conn_free(tcp, tcb);
}

/*
 * Enter loss recovery (RFC 5681 3.2, RFC 6582 3.2 step 2; RFC 6675 5 step 4). With SACK
 * blocks on the scoreboard it is RFC 6675's: cwnd = ssthresh, resend the segment at snd_una,
 * and sp_tcp_output sends what pipe allows. Without, NewReno's inflated window.
 */
static void
tcp_enter_recovery(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	uint32_t flight = tcb->snd_max - tcb->snd_una;

	SP_VERIFY(!tcb->in_recovery);
	tcb->tlp_ep = false; /* this recovery's window reduction covers the probe's episode */
	if (tcb->ts_ok) {
		tcb->undo_armed = true;
		tcb->undo_cwnd = tcb->cwnd;
		tcb->undo_ssthresh = tcb->ssthresh;
		tcb->undo_tsval = sp_tcp_ts_now(tcp);
	}
	tcb->ssthresh = SP_MAX(flight / 2, 2u * tcb->mss);
	tcb->recover = tcb->snd_max; /* RFC 6675 (4.1) RecoveryPoint = HighData */
	tcb->in_recovery = true;
	tcb->rtt_timing = false;
	tcp->lc->cnt.tcp_fast_rexmits++;
	tcb->sack_rec = tcb->sack_ok && !sp_sack_sb_empty(&tcb->sb);
	if (tcb->sack_rec) {
		tcp->lc->cnt.tcp_sack_recoveries++;
		tcb->cwnd = tcb->ssthresh;          /* (4.2) */
		sp_tcp_sack_rexmit_first(tcp, tcb); /* (4.3); (4.4) in sp_tcp_output */
		return;
	}
	tcb->cwnd = tcb->ssthresh + SP_TCP_DUPACK_THRESH * (uint32_t)tcb->mss;
	sp_tcp_rexmit_one(tcp, tcb);
}

/*
 * A duplicate ACK. Recovery starts at the dupthresh-th (RFC 5681 3.2), or earlier when the
 * scoreboard already says snd_una is lost (RFC 6675 5 step 2), once snd_una passed the
 * previous recovery point (RFC 6582 3.2 step 1).
 */
/*
 * Early Retransmit (RFC 5827 3.1): with fewer than four segments outstanding and no new
 * segment the peer's window takes, three duplicate ACKs may never come: the threshold is the
 * outstanding segments less one. Otherwise the connection's threshold.
 */
static uint8_t
tcp_er_thresh(const struct sp_tcb *tcb)
{
	uint32_t smss = sp_tcp_smss(tcb);
	uint32_t flight = tcb->snd_max - tcb->snd_una;
	uint32_t old = (flight + smss - 1) / smss;
	uint32_t unsent = tcb->sndq_bytes > flight ? tcb->sndq_bytes - flight : 0;
	bool more = unsent > 0 && sp_seq_gt(tcb->snd_una + tcb->snd_wnd, tcb->snd_max);

	if (old < 2 || old >= 4 || more) {
		return tcb->dupthresh;
	}
	return (uint8_t)SP_MIN((uint32_t)tcb->dupthresh, old - 1);
}

static void
tcp_dupack(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	/* RFC 6582 asks the ACK to pass recover; RFC 6675 5.1 only to reach it. */
	bool past = tcb->sack_ok ? sp_seq_geq(tcb->snd_una, tcb->recover)
				 : sp_seq_gt(tcb->snd_una, tcb->recover);
	uint8_t thresh = tcp_er_thresh(tcb);

	tcp->lc->cnt.tcp_dupacks_in++;
	if (tcb->dupacks < UINT8_MAX) {
		tcb->dupacks++;
	}
	if (!tcb->in_recovery && past &&
	    (tcb->dupacks == thresh ||
	     (tcb->sack_ok && !sp_sack_sb_empty(&tcb->sb) &&
	      sp_sack_is_lost(&tcb->sb, tcb->snd_una, sp_tcp_smss(tcb), thresh)))) {
		tcp->lc->cnt.tcp_early_rexmits += thresh < tcb->dupthresh;
		tcp_enter_recovery(tcp, tcb);
	} else if (tcb->in_recovery && !tcb->sack_rec) {
		tcb->cwnd += tcb->mss; /* NewReno: each dupack, a segment left the network */
	}
}

/*
 * Eifel detection (RFC 3522): the first ACK of new data after a fast retransmit echoes a TSval
 * older than the retransmission, so the original arrived: the loss was reordering. Undo the
 * window reduction and raise the duplicate-ACK threshold (doubling, bounded), the way adaptive
 * stacks learn a path's reordering degree.
 */
static void
tcp_eifel(struct sp_tcp *tcp, struct sp_tcb *tcb, const struct sp_tcp_opts *o)
{
	if (!tcb->undo_armed) {
		return;
	}
	tcb->undo_armed = false;
	if (!o->ts_present || o->ts_ecr == 0 || !sp_seq_lt(o->ts_ecr, tcb->undo_tsval)) {
		return;
	}
	tcp->lc->cnt.tcp_spurious_rexmits++;
	tcb->cwnd = SP_MAX(tcb->cwnd, tcb->undo_cwnd);
	tcb->ssthresh = SP_MAX(tcb->ssthresh, tcb->undo_ssthresh);
	tcb->in_recovery = false;
	tcb->sack_rec = false;
	tcb->dupacks = 0;
	tcb->dupthresh = (uint8_t)SP_MIN(2u * tcb->dupthresh, (unsigned)SP_TCP_DUPACK_THRESH_MAX);
}

/*
 * Congestion window on an ACK of new data (RFC 5681 3.1, RFC 6582 3.2 steps 3-5). In SACK
 * recovery a partial ACK changes nothing here: RFC 6675 (B)-(C) run in sp_tcp_output, and
 * only an ACK covering RecoveryPoint ends the recovery (A).
 */
static void
tcp_cc_ack(struct sp_tcp *tcp, struct sp_tcb *tcb, uint32_t acked)
{
	if (tcb->in_recovery) {
		if (sp_seq_geq(tcb->snd_una, tcb->recover)) {
			uint32_t flight = tcb->snd_max - tcb->snd_una;

			tcb->cwnd = SP_MIN(tcb->ssthresh, flight + tcb->mss);
			tcb->in_recovery = false;
			tcb->sack_rec = false;
			tcb->dupacks = 0;
		} else if (!tcb->sack_rec) {
			/* Partial ACK: the next hole is lost too; retransmit it now. */
			sp_tcp_rexmit_one(tcp, tcb);
			tcb->cwnd = tcb->cwnd > acked ? tcb->cwnd - acked : 0;
			tcb->cwnd += tcb->mss;
		}
		return;
	}
	tcb->dupacks = 0;
	if (tcb->cwnd < tcb->ssthresh) {
		tcb->cwnd += SP_MIN(acked, (uint32_t)tcb->mss);
	} else {
		tcb->cwnd += SP_MAX(1u, (uint32_t)tcb->mss * tcb->mss / tcb->cwnd);
	}
}

SP_STATIC_ASSERT(SP_TCP_SACK_BLOCKS_MAX <= SP_SACK_BLOCKS_IN_MAX, "scoreboard input bound");

/*
 * The round after an RTO, before the scoreboard takes in's blocks: una is the new cumulative
 * ACK. A block that newly SACKs data below snd_nxt covers resends of this round; if any of
 * it lies at or above rnd_after, it left after the head did, and the head is lost again.
 * (Assumes no reordering, as RFC 6675's rules and RACK's sequence fallback do.)
 */
static void
tcp_rnd_evidence(struct sp_tcb *tcb, const struct tcp_in *in, uint32_t una)
{
	if (!sp_seq_lt(una, tcb->recover)) {
		tcb->rnd = false;
		return;
	}
	sp_tcp_rnd_head(tcb, una);
	for (unsigned i = 0; i < in->o.nb_sack; i++) {
		uint32_t s = sp_seq_max(in->o.sack[i][0], una);
		uint32_t e = sp_seq_min(in->o.sack[i][1], tcb->snd_nxt);

		if (!sp_seq_lt(s, e) || sp_sack_bytes_in(&tcb->sb, s, e) == e - s) {
			continue; /* empty, D-SACK, bogus, or nothing new */
		}
		if (!tcb->rnd_ev || sp_seq_gt(e, tcb->rnd_ev_hi)) {
			tcb->rnd_ev_hi = e;
		}
		tcb->rnd_ev = true;
		s = sp_seq_max(s, tcb->rnd_after);
		if (sp_seq_lt(s, e) && sp_sack_bytes_in(&tcb->sb, s, e) < e - s) {
			tcb->rnd_head_lost = true;
		}
	}
}

/*
 * RFC 6675 Update(): record the SACK blocks of an acceptable ACK on the scoreboard, after
 * validating them against [ack, snd_max] (tcp_sack.c). Returns the bytes newly SACKed.
 */
static uint32_t
tcp_sack_input(struct sp_tcp *tcp, struct sp_tcb *tcb, const struct tcp_in *in)
{
	uint32_t una = sp_seq_gt(in->ack, tcb->snd_una) ? in->ack : tcb->snd_una;
	/* Holes resent after the segment at snd_una, while snd_una stays (no ACK advance). */
	bool watch = tcb->in_recovery && tcb->sack_rec && una == tcb->snd_una &&
		     tcb->rxt_una == tcb->snd_una && sp_seq_lt(tcb->snd_una, tcb->hi_rxt) &&
		     sp_seq_lt(tcb->rxt_head_end, tcb->hi_rxt);
	uint32_t before = 0;
	struct sp_sack_update su;

	SP_VERIFY(in->o.nb_sack <= SP_TCP_SACK_BLOCKS_MAX);
	if (!tcb->sack_ok || in->o.nb_sack == 0) {
		return 0;
	}
	if (watch) {
		before = sp_sack_bytes_in(&tcb->sb, tcb->rxt_head_end, tcb->hi_rxt);
	}
	if (tcb->rnd) {
		tcp_rnd_evidence(tcb, in, una);
	}
	sp_sack_sb_update(&tcb->sb, (const uint32_t(*)[2])in->o.sack, in->o.nb_sack, una,
			  tcb->snd_max, &su);
	if (watch && sp_sack_bytes_in(&tcb->sb, tcb->rxt_head_end, tcb->hi_rxt) > before) {
		/* A later resend arrived and the earlier one at snd_una did not: lost again. */
		tcb->rxt_head_lost = true;
	}
	tcp->lc->cnt.tcp_dsack_rcvd += su.dsack;
	if (su.dsack > 0 && tcb->tlp_ep && sp_seq_lt(in->o.sack[0][0], tcb->tlp_high) &&
	    sp_seq_geq(in->o.sack[0][1], tcb->tlp_high)) {
		tcb->tlp_ep = false; /* the probe was a duplicate: it repaired nothing */
	}
	tcp->lc->cnt.tcp_sack_bad_blocks += su.bad;
	return su.newly_sacked;
}

/*
 * RFC 8985 7.4: data sent after a probe was acknowledged and no D-SACK said the probe was a
 * duplicate. A probe that resent the last segment then repaired a loss: reduce the window as
 * a fast recovery would (ssthresh = cwnd / 2). A probe of new data leaves detection to SACK.
 */
static void
tcp_tlp_end(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	tcb->tlp_ep = false;
	if (tcb->tlp_retrans && !tcb->in_recovery) {
		tcp->lc->cnt.tcp_tlp_recoveries++;
		tcb->ssthresh = SP_MAX(tcb->cwnd / 2, 2u * tcb->mss);
		tcb->cwnd = tcb->ssthresh;
	}
}

/* RFC 9293 3.10.7.4 "fifth": ACK processing in a synchronized state. Returns false if the
 * segment must be dropped here (the TCB may then be gone). */
static bool
tcp_ack_input(struct sp_tcp *tcp, struct sp_tcb *tcb, struct tcp_in *in)
{
	uint32_t max_wnd = SP_MAX(tcb->snd_wnd, 65535u);
	uint32_t wnd = (uint32_t)in->wnd << tcb->snd_wscale;
	uint32_t sent = 0;
	bool fin_done = false;

	if (sp_seq_gt(in->ack, tcb->snd_max)) {
		tcp->lc->cnt.tcp_drop_bad_ack++;
		sp_tcp_send_ack(tcp, tcb);
		return false;
	}
	if (sp_seq_lt(in->ack, tcb->snd_una - max_wnd)) {
		tcp->lc->cnt.tcp_drop_bad_ack++;
		tcp_challenge_ack(tcp, tcb); /* RFC 5961 5.2 */
		return false;
	}
	tcb->zero_wnd_probes = 0; /* the peer answers: alive, whatever its window */
	(void)tcp_sack_input(tcp, tcb, in);
	if (sp_seq_gt(in->ack, tcb->snd_una)) {
		uint32_t acked = in->ack - tcb->snd_una;
		uint32_t data = SP_MIN(acked, tcb->sndq_bytes);
		bool fin_acked = tcb->fin_queued && acked > tcb->sndq_bytes;

		if (tcb->ts_ok && in->o.ts_present && in->o.ts_ecr != 0 &&
		    sp_seq_leq(in->o.ts_ecr, sp_tcp_ts_now(tcp)) &&
		    sp_tcp_ts_now(tcp) - in->o.ts_ecr <= SP_TCP_RTO_MAX_MS) {
			/* Only sane echoes: a TSecr from the future or far past is no RTT. */
			tcp_rtt_sample(tcb, sp_tcp_ts_now(tcp) - in->o.ts_ecr);
		} else if (tcb->rtt_timing && sp_seq_gt(in->ack, tcb->rtt_seq)) {
			tcp_rtt_sample(tcb, (uint32_t)(tcp->now_ms - tcb->rtt_start_tick));
			tcb->rtt_timing = false;
		}
		sp_tcp_sndq_drop(tcp, tcb, data);
		tcb->snd_una = in->ack;
		sp_sack_sb_ack(&tcb->sb, tcb->snd_una);
		if (sp_seq_lt(tcb->snd_nxt, tcb->snd_una)) {
			tcb->snd_nxt = tcb->snd_una;
		}
		tcp_cc_ack(tcp, tcb, acked);
		tcp_eifel(tcp, tcb, &in->o);
		tcb->rto_backoff = 0;
		tcb->zero_wnd_probes = 0;
		if (tcb->tlp_ep && sp_seq_gt(tcb->snd_una, tcb->tlp_high)) {
			tcp_tlp_end(tcp, tcb);
		}
		if (tcb->rnd && !sp_seq_lt(tcb->snd_una, tcb->recover)) {
			tcb->rnd = false; /* the round after the RTO is over */
		}
		if (tcb->snd_una == tcb->snd_max) {
			sp_tw_cancel(&tcp->wheel, &tcb->t_rexmt);
		} else if (!sp_tcp_arm_pto(tcp, tcb)) {
			sp_tcp_arm_rexmt(tcp, tcb, tcb->rto_ms);
		}
		sent = data;
		fin_done = fin_acked;
	} else if (in->ack == tcb->snd_una && in->plen == 0 && !(in->flags & (F_SYN | F_FIN)) &&
		   (wnd == tcb->snd_wnd || (tcb->sack_ok && in->o.nb_sack > 0)) && wnd != 0 &&
		   tcb->snd_max != tcb->snd_una) {
		/* RFC 5681's duplicate ACK, or RFC 6675's: one carrying SACK information (the
		 * window of a SACK-capable receiver moves as its application reads). */
		tcp_dupack(tcp, tcb);
	}
	/* Window update (RFC 9293 3.10.7.4): only from a newer segment. */
	if (sp_seq_lt(tcb->snd_wl1, in->seq) ||
	    (tcb->snd_wl1 == in->seq && sp_seq_leq(tcb->snd_wl2, in->ack))) {
		tcb->snd_wnd = wnd;
		tcb->snd_wl1 = in->seq;
		tcb->snd_wl2 = in->ack;
	}
	/* The app hears of freed send space only now, with the peer's window applied:
	 * whatever it sends at once must respect that window (RFC 9293 3.8.6). */
	if (sent > 0 && tcb->app != NULL && tcb->ops->sent != NULL) {
		tcb->ops->sent(tcb->app, tcb, sent);
		if (tcb->state == SP_TCP_CLOSED) {
			return false;
		}
	}
	if (fin_done) {
		switch (tcb->state) {
		case SP_TCP_FIN_WAIT_1:
			sp_tcp_set_state(tcp, tcb, SP_TCP_FIN_WAIT_2);
			sp_tcp_arm_conn(tcp, tcb, SP_TCP_FIN_WAIT_2_MS);
			break;
		case SP_TCP_CLOSING:
			tcp_enter_time_wait(tcp, tcb);
			break;
		case SP_TCP_LAST_ACK:
			tcp->lc->cnt.tcp_closed_normal++;
			sp_tcp_conn_done(tcp, tcb, SP_TCP_CLOSE_NORMAL);
			sp_tcp_conn_free(tcp, tcb);
			return false;
		default:
			break;
		}
	}
	return true;
}

/* Hand len in-order bytes (rcv_nxt already covers them) to the app. Consumes m. */
static void
tcp_deliver(struct sp_tcp *tcp, struct sp_tcb *tcb, struct rte_mbuf *m, uint32_t len)
{
	if (tcb->app == NULL) {
		rte_pktmbuf_free(m); /* the app closed its side: nobody reads */
		return;
	}
	tcb->rcv_unread += len;
	tcb->ops->recv(tcb->app, tcb, m, len);
	(void)tcp;
}

/*
 * Leave the ACK this connection owes to sp_tcp_rx_end(). False outside an rx bracket or when
 * the list is full: then the ACK goes now.
 */
static bool
tcp_ack_defer(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	if (!tcp->in_rx) {
		return false;
	}
	if (!tcb->ack_deferred) {
		if (tcp->nb_deferred == SP_TCP_ACK_DEFER_MAX) {
			return false;
		}
		tcp->deferred[tcp->nb_deferred++] = tcb;
		tcb->ack_deferred = true;
	}
	tcp->lc->cnt.tcp_acks_deferred++;
	return true;
}

void
sp_tcp_rx_begin(struct sp_tcp *tcp)
{
	SP_VERIFY(!tcp->in_rx && tcp->nb_deferred == 0);
	tcp->in_rx = true;
}

void
sp_tcp_rx_end(struct sp_tcp *tcp)
{
	SP_VERIFY(tcp->in_rx);
	tcp->in_rx = false;
	for (uint16_t i = 0; i < tcp->nb_deferred; i++) {
		struct sp_tcb *tcb = tcp->deferred[i];

		if (tcb == NULL) {
			continue; /* freed in the burst */
		}
		SP_VERIFY(tcb->ack_deferred && tcb->in_table);
		tcb->ack_deferred = false;
		/* Anything sent since (an answer from recv(), a FIN's ACK) carried the ACK. */
		if (tcb->unacked_segs != 0) {
			tcb->ack_now = true;
			tcp->lc->cnt.tcp_acks_burst_end++;
			sp_tcp_output(tcp, tcb);
		}
	}
	tcp->nb_deferred = 0;
}

/*
 * Delayed ACK (RFC 5681 4.2, RFC 9293 3.8.6.3) for an in-order segment: every second segment
 * (at the rx burst's end inside one), or at once when it filled a hole; else the timer.
 * Decided before delivery: if the app answers at once, its data carries the ACK.
 */
static void
tcp_ack_policy(struct sp_tcp *tcp, struct sp_tcb *tcb, bool hole_filled)
{
	if (hole_filled) {
		tcb->ack_now = true;
	} else if (++tcb->unacked_segs >= 2) {
		if (!tcp_ack_defer(tcp, tcb)) {
			tcb->ack_now = true;
		}
	} else {
		sp_tcp_arm_delack(tcp, tcb);
	}
}

/* RFC 9293 3.10.7.4 "seventh": segment text. Consumes in->m. */
static void
tcp_data_input(struct sp_tcp *tcp, struct sp_tcb *tcb, struct tcp_in *in)
{
	struct rte_mbuf *m = in->m;
	uint32_t seq = in->seq, len = in->plen;

	in->m = NULL;
	if (rte_pktmbuf_adj(m, (uint16_t)in->hlen) == NULL) {
		rte_pktmbuf_free(m);
		return;
	}
	SP_VERIFY(m->pkt_len == len);
	if (sp_seq_lt(seq, tcb->rcv_nxt)) {
		uint32_t cut = tcb->rcv_nxt - seq;

		sp_tcp_dsack_dup(tcp, tcb, seq, seq + len);
		if (cut >= len) {
			rte_pktmbuf_free(m);
			tcb->ack_now = true;
			return;
		}
		(void)rte_pktmbuf_adj(m, (uint16_t)cut);
		seq += cut;
		len -= cut;
	}
	if (sp_seq_gt(seq + len, tcb->rcv_adv)) {
		uint32_t over = seq + len - tcb->rcv_adv;

		if (over >= len) {
			rte_pktmbuf_free(m);
			tcb->ack_now = true;
			return;
		}
		(void)rte_pktmbuf_trim(m, (uint16_t)over);
		len -= over;
		in->flags &= (uint8_t)~F_FIN; /* the FIN lay beyond the window */
	}
	if (seq != tcb->rcv_nxt) {
		tcp->lc->cnt.tcp_ooo_segs++;
		(void)sp_reass_insert(&tcp->reass, &tcb->ooo, seq, m, len, tcb->rcv_nxt,
				      tcb->rcv_adv);
		tcb->ack_now = true; /* RFC 5681 4.2: immediate (duplicate) ACK */
		return;
	}
	tcp_ack_policy(tcp, tcb, !sp_reass_empty(&tcb->ooo));
	/*
	 * Advance past this segment and everything it made contiguous in the out-of-order
	 * queue before the app runs: what the app sends from recv() carries this ACK, and its
	 * SACK blocks must all lie above it (RFC 2018 4). One delivery for the whole run.
	 */
	tcb->rcv_nxt += len;
	while (!sp_reass_empty(&tcb->ooo)) {
		struct rte_mbuf *chain = NULL;
		uint32_t n = 0;

		if (sp_reass_take(&tcp->reass, &tcb->ooo, tcb->rcv_nxt, &chain, &n) <= 0 ||
		    chain == NULL) {
			break;
		}
		SP_VERIFY(rte_pktmbuf_chain(m, chain) == 0); /* <= 64 entries: far below 65535 */
		tcb->rcv_nxt += n;
		len += n;
	}
	tcp_deliver(tcp, tcb, m, len);
}

/* RFC 9293 3.10.7.4 "eighth": FIN. */
static void
tcp_fin_input(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	tcb->rcv_nxt++;
	tcb->ack_now = true;
	/* Out-of-order data beyond the FIN can never be delivered: drop it, as Linux does,
	 * rather than go on SACKing bytes past the end of the peer's stream. */
	sp_reass_flush(&tcp->reass, &tcb->ooo);
	switch (tcb->state) {
	case SP_TCP_ESTABLISHED:
		sp_tcp_set_state(tcp, tcb, SP_TCP_CLOSE_WAIT);
		if (tcb->app != NULL && tcb->ops->peer_closed != NULL) {
			tcb->ops->peer_closed(tcb->app, tcb);
		}
		break;
	case SP_TCP_FIN_WAIT_1:
		sp_tcp_set_state(tcp, tcb, SP_TCP_CLOSING);
		break;
	case SP_TCP_FIN_WAIT_2:
		sp_tw_cancel(&tcp->wheel, &tcb->t_conn);
		tcp_enter_time_wait(tcp, tcb);
		break;
	case SP_TCP_TIME_WAIT:
		sp_tcp_arm_conn(tcp, tcb, 2 * SP_TCP_MSL_MS);
		break;
	default:
		tcb->rcv_nxt--; /* CLOSE-WAIT, CLOSING, LAST-ACK: a repeated FIN, already counted */
		break;
	}
}

/* An active open is ESTABLISHED: tell the app. False if the app closed it at once. */
static bool
tcp_connected(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	tcp->lc->cnt.tcp_connects++;
	tcb->last_rx_ms = tcp->now_ms;
	if (tcp->conf.keepalive_idle_ms != 0) {
		sp_tcp_arm_conn(tcp, tcb, tcp->conf.keepalive_idle_ms);
	}
	tcb->ops->connected(tcb->app, tcb);
	return tcb->state != SP_TCP_CLOSED;
}

/*
 * The options of the peer's SYN (or SYN-ACK) against what our SYN offered (everything): the
 * send MSS (clamped to [SP_TCP_MSS_MIN, SP_TCP_MSS_MAX]), window scaling only if both sides
 * sent it (RFC 7323 2.2), timestamps likewise (RFC 7323 3.2), SACK if the peer permits it.
 */
static void
tcp_syn_sent_options(struct sp_tcp *tcp, struct sp_tcb *tcb, const struct tcp_in *in)
{
	uint16_t mss = in->o.mss_ok ? in->o.mss : SP_TCP_MSS_DEFAULT;

	tcb->mss = SP_MAX(SP_MIN(mss, (uint16_t)SP_TCP_MSS_MAX), (uint16_t)SP_TCP_MSS_MIN);
	if (in->o.ws_ok) {
		tcb->snd_wscale = SP_MIN(in->o.wscale, (uint8_t)SP_TCP_WSCALE_MAX);
		tcb->rcv_wscale = tcp->rcv_wscale;
	} else {
		tcb->snd_wscale = 0;
		tcb->rcv_wscale = 0;
	}
	tcb->ts_ok = in->o.ts_present;
	if (tcb->ts_ok) {
		tcb->ts_recent = in->o.ts_val;
		tcb->ts_recent_tick = tcp->now_ms;
	}
	tcb->sack_ok = in->o.sack_perm;
	tcb->snd_wnd = in->wnd; /* RFC 7323 2.2: never scaled in a SYN */
	tcb->snd_wl1 = in->seq;
}

/*
 * SYN-SENT (RFC 9293 3.10.7.3): our SYN is out. An ACK must acknowledge exactly it, else it
 * gets a RST; a RST carrying that ACK refuses the connection; a SYN with the ACK establishes
 * it (we ACK); a SYN alone is a simultaneous open (SYN-RECEIVED, we send SYN-ACK). Data or a
 * FIN on the SYN is not taken: it is unacknowledged, so the peer sends it again.
 */
static void
tcp_syn_sent_input(struct sp_tcp *tcp, struct sp_tcb *tcb, struct tcp_in *in)
{
	uint8_t f = in->flags;
	bool ack_ok = false;
	bool retransmitted = tcb->rto_backoff > 0;

	if (f & F_ACK) {
		if (!sp_seq_gt(in->ack, tcb->iss) || sp_seq_gt(in->ack, tcb->snd_max)) {
			tcp->lc->cnt.tcp_drop_bad_ack++;
			if (!(f & F_RST)) {
				sp_tcp_reply_rst(tcp, in->ifidx, in->eth, in->ip, in->th, in->plen);
			}
			return;
		}
		ack_ok = true;
	}
	if (f & F_RST) {
		if (ack_ok) {
			/* RFC 5961 3.2 adds nothing here: the ACK already proves the RST is fresh
			 */
			tcp->lc->cnt.tcp_attempt_fails++;
			sp_tcp_conn_done(tcp, tcb, SP_TCP_CLOSE_REFUSED);
			sp_tcp_conn_free(tcp, tcb);
		}
		return;
	}
	if (!(f & F_SYN)) {
		tcp->lc->cnt.tcp_drop_flags++;
		return;
	}
	if (rte_is_zero_ether_addr(&tcb->peer_mac)) {
		rte_ether_addr_copy(&in->eth->src_addr, &tcb->peer_mac);
	}
	tcb->irs = in->seq;
	tcb->rcv_nxt = in->seq + 1;
	tcb->rcv_adv = tcb->rcv_nxt;
	tcp_syn_sent_options(tcp, tcb, in);
	if (!ack_ok) {
		/* rto_backoff stays: a resent SYN still means IW 1 and RTO 3 s once established */
		sp_tcp_set_state(tcp, tcb, SP_TCP_SYN_RCVD);
		tcb->cwnd = (retransmitted ? 1u : SP_TCP_INIT_CWND_SEGS) * (uint32_t)tcb->mss;
		tcb->rtt_timing = false;
		sp_tcp_send_synack(tcp, tcb);
		sp_tcp_arm_rexmt(tcp, tcb, tcb->rto_ms);
		return;
	}
	tcb->snd_una = in->ack;
	tcb->snd_wl2 = in->ack;
	if (tcb->rtt_timing) {
		tcp_rtt_sample(tcb, (uint32_t)(tcp->now_ms - tcb->rtt_start_tick));
		tcb->rtt_timing = false;
	} else {
		/* RFC 6298 5.7: 3 s after a retransmitted SYN without an RTT sample */
		tcb->rto_ms = retransmitted ? 3 * SP_TCP_RTO_INIT_MS : SP_TCP_RTO_INIT_MS;
	}
	tcb->rto_backoff = 0;
	/* RFC 5681 3.1: one segment if the SYN had to be resent, else RFC 6928's ten */
	tcb->cwnd = (retransmitted ? 1u : SP_TCP_INIT_CWND_SEGS) * (uint32_t)tcb->mss;
	sp_tw_cancel(&tcp->wheel, &tcb->t_rexmt);
	sp_tcp_set_state(tcp, tcb, SP_TCP_ESTABLISHED);
	sp_tcp_send_ack(tcp, tcb);
	(void)tcp_connected(tcp, tcb);
}

/* SYN-RECEIVED + ACK of our SYN: the connection is established and offered to the app. */
static bool
tcp_established(struct sp_tcp *tcp, struct sp_tcb *tcb, struct tcp_in *in)
{
	if (!sp_seq_gt(in->ack, tcb->snd_una) || sp_seq_gt(in->ack, tcb->snd_max)) {
		sp_tcp_reply_rst(tcp, in->ifidx, in->eth, in->ip, in->th, in->plen);
		return false;
	}
	sp_tcp_set_state(tcp, tcb, SP_TCP_ESTABLISHED);
	tcb->snd_una = in->ack;
	tcb->snd_wnd = (uint32_t)in->wnd << tcb->snd_wscale;
	tcb->snd_wl1 = in->seq;
	tcb->snd_wl2 = in->ack;
	/* RFC 6298 5.7: 3 s if the SYN-ACK had to be retransmitted and no RTT was sampled. */
	tcb->rto_ms = tcb->rto_backoff > 0 ? 3 * SP_TCP_RTO_INIT_MS : SP_TCP_RTO_INIT_MS;
	tcb->rto_backoff = 0;
	sp_tw_cancel(&tcp->wheel, &tcb->t_rexmt);
	if (tcb->listener == NULL) {
		/* our own active open, through a simultaneous open (RFC 9293 3.10.7.3) */
		return tcp_connected(tcp, tcb);
	}
	if (tcb->ops->accept(tcb->listener->arg, tcb, &tcb->app) != 0) {
		tcb->app = NULL;
		tcp->lc->cnt.tcp_attempt_fails++;
		sp_tcp_abort(tcp, tcb);
		return false;
	}
	tcp->lc->cnt.tcp_accepts++;
	if (tcb->state != SP_TCP_CLOSED && tcp->conf.keepalive_idle_ms != 0) {
		sp_tcp_arm_conn(tcp, tcb, tcp->conf.keepalive_idle_ms);
	}
	return tcb->state != SP_TCP_CLOSED;
}

/* A segment for an existing connection. */
static void
tcp_conn_input(struct sp_tcp *tcp, struct sp_tcb *tcb, struct tcp_in *in)
{
	uint8_t f = in->flags;

	if (tcb->state == SP_TCP_TIME_WAIT && (f & F_FIN) && !(f & (F_SYN | F_RST)) &&
	    in->seq + in->plen + 1 == tcb->rcv_nxt) {
		/* The peer retransmitted its FIN: our last ACK was lost. ACK, restart 2 MSL. */
		sp_tcp_send_ack(tcp, tcb);
		sp_tcp_arm_conn(tcp, tcb, 2 * SP_TCP_MSL_MS);
		return;
	}
	if (tcb->state >= SP_TCP_ESTABLISHED && (f & F_SYN) && !(f & F_RST)) {
		tcp_challenge_ack(tcp, tcb); /* RFC 5961 4.2: whatever its sequence number */
		return;
	}
	if (tcb->state == SP_TCP_SYN_RCVD && (f & F_SYN) && !(f & (F_ACK | F_RST)) &&
	    in->seq == tcb->irs) {
		sp_tcp_send_synack(tcp, tcb); /* the peer missed our SYN-ACK */
		return;
	}
	if (tcb->state == SP_TCP_SYN_RCVD && tcb->listener == NULL &&
	    (f & (F_SYN | F_ACK | F_RST)) == (F_SYN | F_ACK) && in->seq == tcb->irs &&
	    in->ack == tcb->snd_nxt) {
		/*
		 * Simultaneous open: the peer's SYN-ACK acknowledges our SYN. Its SYN is the one
		 * we already took (seq = IRS), so take the rest as an ACK at rcv_nxt, as Linux
		 * does; else it is out of window, and a peer that considers itself established
		 * after it sends nothing more until our SYN-ACK is resent.
		 */
		in->seq++;
		in->flags &= (uint8_t)~F_SYN;
		f = in->flags;
	}
	/* PAWS (RFC 7323 5.3 R1-R3). */
	if (tcb->ts_ok && in->o.ts_present && !(f & F_RST) &&
	    sp_seq_lt(in->o.ts_val, tcb->ts_recent) &&
	    tcp->now_ms - tcb->ts_recent_tick < PAWS_IDLE_MS) {
		tcp->lc->cnt.tcp_drop_paws++;
		sp_tcp_dsack_dup(tcp, tcb, in->seq, in->seq + in->plen); /* as Linux does */
		sp_tcp_send_ack(tcp, tcb);
		return;
	}
	/*
	 * RFC 9293 3.10.7.4: with a zero receive window no segment is acceptable, "but special
	 * allowance should be made to accept valid ACKs": a peer's window probe at rcv_nxt
	 * carries the ACK of our data. Discard its data, keep its ACK. Without this, a zero
	 * window on both sides (an echo whose send buffer is full) deadlocks.
	 */
	if (in->plen > 0 && in->seq == tcb->rcv_nxt && !sp_seq_gt(tcb->rcv_adv, tcb->rcv_nxt)) {
		tcp->lc->cnt.tcp_zero_window_drops++;
		in->plen = 0;
		in->flags &= (uint8_t)~F_FIN;
		tcb->ack_now = true;
	}
	if (!tcp_acceptable(tcb, in)) {
		tcp->lc->cnt.tcp_drop_out_of_window++;
		if (!(f & F_RST)) {
			/* A segment wholly below rcv_nxt is a duplicate: say so (RFC 2883). */
			sp_tcp_dsack_dup(tcp, tcb, in->seq, in->seq + in->plen);
			sp_tcp_send_ack(tcp, tcb);
		}
		return;
	}
	tcb->last_rx_ms = tcp->now_ms; /* keepalive: only acceptable segments count */
	tcb->keepalive_probes = 0;
	/* RFC 7323 4.3: remember the timestamp of a segment that covers rcv_nxt. */
	if (tcb->ts_ok && in->o.ts_present && sp_seq_leq(in->seq, tcb->rcv_nxt) &&
	    sp_seq_geq(in->o.ts_val, tcb->ts_recent)) {
		tcb->ts_recent = in->o.ts_val;
		tcb->ts_recent_tick = tcp->now_ms;
	}
	if (f & F_RST) {
		if (in->seq == tcb->rcv_nxt) {
			tcp_reset_by_peer(tcp, tcb);
		} else {
			tcp_challenge_ack(tcp, tcb); /* RFC 5961 3.2 */
		}
		return;
	}
	if (f & F_SYN) {
		tcp_challenge_ack(tcp, tcb); /* RFC 5961 4.2 */
		return;
	}
	if (!(f & F_ACK)) {
		tcp->lc->cnt.tcp_drop_no_ack++;
		return;
	}
	if (tcb->state == SP_TCP_SYN_RCVD && !tcp_established(tcp, tcb, in)) {
		return;
	}
	if (!tcp_ack_input(tcp, tcb, in)) {
		return;
	}
	if (tcb->state == SP_TCP_TIME_WAIT) {
		if (f & F_FIN) {
			tcp_fin_input(tcp, tcb);
			sp_tcp_send_ack(tcp, tcb);
		}
		return;
	}
	if (in->plen > 0) {
		if (tcb->state == SP_TCP_ESTABLISHED || tcb->state == SP_TCP_FIN_WAIT_1 ||
		    tcb->state == SP_TCP_FIN_WAIT_2) {
			uint32_t end = in->seq + in->plen;

			tcp_data_input(tcp, tcb, in);
			if (tcb->state == SP_TCP_CLOSED) {
				return;
			}
			if ((f & F_FIN) && (in->flags & F_FIN) && end == tcb->rcv_nxt) {
				tcp_fin_input(tcp, tcb);
			}
		}
	} else if ((f & F_FIN) && in->seq == tcb->rcv_nxt) {
		tcp_fin_input(tcp, tcb);
	}
	if (tcb->state != SP_TCP_CLOSED) {
		sp_tcp_output(tcp, tcb);
	}
}

/* Header, checksum and option checks. Returns false (counted) if the segment is invalid. */
static bool
tcp_parse(struct sp_tcp *tcp, struct tcp_in *in, unsigned ihl)
{
	struct sp_lcore *lc = tcp->lc;
	const struct sp_iface *ifc = &lc->ifaces[in->ifidx];
	uint32_t l4_len = rte_be_to_cpu_16(in->ip->total_length) - ihl;
	unsigned doff;
	uint64_t ck = in->m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;

	if (l4_len < sizeof(struct rte_tcp_hdr)) {
		lc->cnt.tcp_drop_short++;
		return false;
	}
	in->th = (const struct rte_tcp_hdr *)((const uint8_t *)in->ip + ihl);
	doff = (unsigned)(in->th->data_off >> 4) * 4u;
	if (doff < sizeof(struct rte_tcp_hdr) || doff > l4_len) {
		lc->cnt.tcp_drop_offset++;
		return false;
	}
	if (ck == RTE_MBUF_F_RX_L4_CKSUM_BAD ||
	    (!(ifc->rx_tcp_cksum && ck == RTE_MBUF_F_RX_L4_CKSUM_GOOD) &&
	     !sp_tcp_cksum_ok(in->ip, in->th, l4_len))) {
		lc->cnt.tcp_drop_csum++;
		return false;
	}
	in->flags = in->th->tcp_flags &
		    (F_SYN | F_ACK | F_RST | F_FIN | RTE_TCP_PSH_FLAG | RTE_TCP_URG_FLAG);
	if ((in->flags & (F_SYN | F_RST)) == (F_SYN | F_RST) ||
	    (in->flags & (F_SYN | F_FIN)) == (F_SYN | F_FIN) ||
	    (in->flags & (F_SYN | F_ACK | F_RST | F_FIN)) == 0) {
		lc->cnt.tcp_drop_flags++;
		return false;
	}
	if (sp_tcp_opts_parse((const uint8_t *)(in->th + 1), doff - sizeof(struct rte_tcp_hdr),
			      (in->flags & F_SYN) != 0, &in->o) != 0) {
		lc->cnt.tcp_drop_opts++;
		return false;
	}
	in->seq = rte_be_to_cpu_32(in->th->sent_seq);
	in->ack = rte_be_to_cpu_32(in->th->recv_ack);
	in->wnd = rte_be_to_cpu_16(in->th->rx_win);
	in->plen = l4_len - doff;
	in->hlen = (uint32_t)sizeof(struct rte_ether_hdr) + ihl + doff;
	lc->cnt.tcp_in_segs++;
	return true;
}

void
sp_tcp_input(struct sp_tcp *tcp, unsigned ifidx, struct rte_mbuf *m, unsigned ihl)
{
	struct tcp_in in;
	struct sp_tcp_key key;
	struct sp_tcb *tcb;
	const struct sp_tcp_listener *l;

	memset(&in, 0, sizeof(in));
	in.ifidx = ifidx;
	in.m = m;
	in.eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	in.ip = (const struct rte_ipv4_hdr *)(in.eth + 1);
	if (!tcp_parse(tcp, &in, ihl)) {
		rte_pktmbuf_free(m);
		return;
	}
	memset(&key, 0, sizeof(key));
	memcpy(key.raddr, &in.ip->src_addr, 4);
	memcpy(key.laddr, &in.ip->dst_addr, 4);
	key.rport = in.th->src_port;
	key.lport = in.th->dst_port;
	key.family = AF_INET;
	key.ifidx = (uint16_t)ifidx;
	tcb = sp_tcp_conn_lookup(tcp, &key);
	if (tcb != NULL && tcb->state == SP_TCP_TIME_WAIT && (in.flags & F_SYN) &&
	    !(in.flags & (F_ACK | F_RST)) &&
	    ((tcb->ts_ok && in.o.ts_present)
		 ? (sp_seq_gt(in.o.ts_val, tcb->ts_recent) ||
		    (in.o.ts_val == tcb->ts_recent && sp_seq_gt(in.seq, tcb->rcv_nxt)))
		 : sp_seq_gt(in.seq, tcb->rcv_nxt))) {
		/* RFC 6191: a new incarnation may take over a TIME-WAIT connection. */
		tcp->lc->cnt.tcp_tw_reuse++;
		sp_tcp_conn_free(tcp, tcb);
		tcb = NULL;
	}
	if (tcb != NULL && tcb->state == SP_TCP_SYN_SENT) {
		tcp_syn_sent_input(tcp, tcb, &in);
	} else if (tcb != NULL) {
		tcp_conn_input(tcp, tcb, &in);
	} else if ((l = sp_tcp_listener_find(tcp, key.lport)) != NULL) {
		tcp_listen_input(tcp, l, &key, &in);
	} else {
		tcp->lc->cnt.tcp_drop_no_listener++;
		if (!(in.flags & F_RST)) {
			uint32_t seg_len = in.plen + ((in.flags & F_SYN) ? 1u : 0u) +
					   ((in.flags & F_FIN) ? 1u : 0u);
			sp_tcp_reply_rst(tcp, ifidx, in.eth, in.ip, in.th, seg_len);
		}
	}
	if (in.m != NULL) {
		rte_pktmbuf_free(in.m);
	}
}
