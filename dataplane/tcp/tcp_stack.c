/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-worker stack instance: creation from the memory budget (every pool and table sized
 * here, once), the timer dispatch (retransmission, persist, delayed ACK, SYN-RECEIVED,
 * FIN-WAIT-2 and TIME-WAIT timeouts), and the upper layer's calls (send, recved, close,
 * abort). Runs on the owning worker; sp_tcp_create/destroy on the main lcore before launch
 * and after join.
 */
#include <errno.h>
#include <string.h>

#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_random.h>

#include <spate/assert.h>

#include "tcp_internal.h"
#include "tcp_stack.h"

enum {
	TK_REXMT = 1,
	TK_DELACK = 2,
	TK_CONN = 3,
};

void
sp_tcp_arm_rexmt(struct sp_tcp *tcp, struct sp_tcb *tcb, uint32_t ms)
{
	tcb->in_tlp = false;
	sp_tw_arm(&tcp->wheel, &tcb->t_rexmt, tcp->now_ms + ms);
}

void
sp_tcp_arm_conn(struct sp_tcp *tcp, struct sp_tcb *tcb, uint32_t ms)
{
	sp_tw_arm(&tcp->wheel, &tcb->t_conn, tcp->now_ms + ms);
}

void
sp_tcp_arm_delack(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	if (!sp_tw_armed(&tcb->t_delack)) {
		sp_tw_arm(&tcp->wheel, &tcb->t_delack, tcp->now_ms + SP_TCP_DELACK_MS);
	}
}

static void
tcp_on_rexmt(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	bool persist = tcb->in_persist || (tcb->snd_wnd == 0 && tcb->sndq_bytes > 0);

	if (tcb->state == SP_TCP_SYN_SENT || tcb->state == SP_TCP_SYN_RCVD) {
		/*
		 * The handshake (RFC 6298 5.5-5.7, RFC 9293 3.8.1): resend our SYN or SYN-ACK,
		 * backing off, then give up. An active open (no listener) has an app to tell,
		 * also one that met a simultaneous open in SYN-RECEIVED.
		 */
		bool active = tcb->listener == NULL;
		uint32_t limit = tcb->state == SP_TCP_SYN_SENT ? tcp->conf.syn_retries
							       : SP_TCP_MAX_SYNACK_REXMITS;

		tcb->rtt_timing = false; /* Karn */
		if (++tcb->rto_backoff > limit) {
			tcp->lc->cnt.tcp_attempt_fails++;
			tcp->lc->cnt.tcp_conn_timeouts += active;
			sp_tcp_conn_done(tcp, tcb, SP_TCP_CLOSE_TIMEOUT);
			sp_tcp_conn_free(tcp, tcb);
			return;
		}
		tcb->rto_ms = SP_MIN(tcb->rto_ms * 2, (uint32_t)SP_TCP_RTO_MAX_MS);
		tcp->lc->cnt.tcp_retrans_segs++;
		if (tcb->state == SP_TCP_SYN_SENT) {
			sp_tcp_send_syn(tcp, tcb);
		} else {
			sp_tcp_send_synack(tcp, tcb);
		}
		sp_tcp_arm_rexmt(tcp, tcb, tcb->rto_ms);
		return;
	}
	if ((!persist && tcb->rto_backoff >= SP_TCP_MAX_REXMITS) ||
	    (persist && tcb->zero_wnd_probes >= SP_TCP_MAX_REXMITS)) {
		tcp->lc->cnt.tcp_conn_timeouts++;
		sp_tcp_send_rst(tcp, tcb);
		sp_tcp_conn_done(tcp, tcb, SP_TCP_CLOSE_TIMEOUT);
		sp_tcp_conn_free(tcp, tcb);
		return;
	}
	sp_tcp_rexmit_timeout(tcp, tcb);
}

/*
 * Keepalive (RFC 1122 4.2.3.6), lazily: segments only note when the peer was last heard;
 * this timer, when it fires, either re-arms for the idle time left, or probes (an empty
 * ACK at snd_una - 1, which the peer must answer) and counts unanswered probes.
 */
static void
tcp_on_keepalive(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	uint64_t idle = tcp->now_ms - tcb->last_rx_ms;

	if (tcp->conf.keepalive_idle_ms == 0) {
		return;
	}
	if (tcb->snd_una != tcb->snd_max) {
		/* Data in flight: the retransmission timer watches the peer (as Linux does). */
		sp_tcp_arm_conn(tcp, tcb, tcp->conf.keepalive_idle_ms);
		return;
	}
	if (idle < tcp->conf.keepalive_idle_ms && tcb->keepalive_probes == 0) {
		sp_tcp_arm_conn(tcp, tcb, (uint32_t)(tcp->conf.keepalive_idle_ms - idle));
		return;
	}
	if (tcb->keepalive_probes >= tcp->conf.keepalive_probes) {
		tcp->lc->cnt.tcp_keepalive_drops++;
		tcp->lc->cnt.tcp_conn_timeouts++;
		sp_tcp_send_rst(tcp, tcb);
		sp_tcp_conn_done(tcp, tcb, SP_TCP_CLOSE_TIMEOUT);
		sp_tcp_conn_free(tcp, tcb);
		return;
	}
	tcb->keepalive_probes++;
	tcp->lc->cnt.tcp_keepalive_probes++;
	sp_tcp_send_probe(tcp, tcb);
	sp_tcp_arm_conn(tcp, tcb, tcp->conf.keepalive_intvl_ms);
}

static void
tcp_timer_fire(void *ctx, struct sp_tw_timer *t)
{
	struct sp_tcp *tcp = ctx;
	struct sp_tcb *tcb;

	switch (t->kind) {
	case TK_REXMT:
		tcb = SP_TW_OWNER(t, struct sp_tcb, t_rexmt);
		SP_VERIFY(tcb->in_table);
		tcp_on_rexmt(tcp, tcb);
		break;
	case TK_DELACK:
		tcb = SP_TW_OWNER(t, struct sp_tcb, t_delack);
		SP_VERIFY(tcb->in_table);
		tcp->lc->cnt.tcp_delayed_acks++;
		sp_tcp_send_ack(tcp, tcb);
		break;
	case TK_CONN:
		tcb = SP_TW_OWNER(t, struct sp_tcb, t_conn);
		SP_VERIFY(tcb->in_table);
		if (tcb->state == SP_TCP_ESTABLISHED || tcb->state == SP_TCP_CLOSE_WAIT) {
			tcp_on_keepalive(tcp, tcb);
			break;
		}
		if (tcb->state == SP_TCP_FIN_WAIT_2) {
			uint64_t idle = tcp->now_ms - tcb->last_rx_ms;

			if (idle < SP_TCP_FIN_WAIT_2_MS) {
				/* a half-closed peer still sending: the limit counts from its last
				 */
				sp_tcp_arm_conn(tcp, tcb, (uint32_t)(SP_TCP_FIN_WAIT_2_MS - idle));
				break;
			}
			tcp->lc->cnt.tcp_conn_timeouts++;
			sp_tcp_conn_done(tcp, tcb, SP_TCP_CLOSE_TIMEOUT);
			sp_tcp_conn_free(tcp, tcb); /* abandoned: we closed, the peer went silent */
		} else if (tcb->state == SP_TCP_TIME_WAIT) {
			sp_tcp_conn_free(tcp, tcb); /* 2 MSL over */
		}
		/* Other states: a keepalive deadline left over; the retransmission timer rules. */
		break;
	default:
		SP_VERIFY(0);
	}
}

void
sp_tcp_timers(struct sp_tcp *tcp)
{
	uint64_t cyc = tcp->lc->clk.ops->cycles(tcp->lc->clk.ctx) - tcp->start_cycles;
	uint64_t now = tcp->hz != 0 ? cyc / (tcp->hz / 1000u) : cyc;

	if (now > tcp->now_ms) {
		tcp->now_ms = now;
	}
	/* A budget-limited advance leaves the rest due for the next poll: nothing is lost. */
	unsigned fired = sp_tw_advance(&tcp->wheel, tcp->now_ms, SP_TCP_TIMERS_PER_TICK);

	SP_VERIFY(fired <= SP_TCP_TIMERS_PER_TICK);
}

/* Smallest shift that lets a 16-bit window field express the whole receive buffer. */
static uint8_t
tcp_wscale_for(uint32_t rcv_buf)
{
	uint8_t s = 0;

	while (s < SP_TCP_WSCALE_MAX && (65535u << s) < rcv_buf) {
		s++;
	}
	return s;
}

int
sp_tcp_create(struct sp_tcp **out, struct sp_lcore *lc, const struct sp_tcp_conf *conf)
{
	int socket = (int)rte_lcore_to_socket_id(lc->lcore_id);
	char name[RTE_HASH_NAMESIZE];
	struct rte_hash_parameters hp;
	struct sp_tcp *tcp;
	int rc = -ENOMEM;

	SP_VERIFY(conf->max_conns >= 8 && conf->rcv_buf >= SP_TCP_MSS_MAX);
	tcp = rte_zmalloc_socket("sp_tcp", sizeof(*tcp), SP_CACHE_LINE, socket);
	if (tcp == NULL) {
		return -ENOMEM;
	}
	tcp->lc = lc;
	tcp->conf = *conf;
	tcp->rcv_wscale = tcp_wscale_for(conf->rcv_buf);
	tcp->hz = lc->clk.ops->hz(lc->clk.ctx);
	tcp->start_cycles = lc->clk.ops->cycles(lc->clk.ctx);
	tcp->isn_key[0] = rte_rand();
	tcp->isn_key[1] = rte_rand();
	tcp->cookie_key[0] = rte_rand();
	tcp->cookie_key[1] = rte_rand();
	tcp->challenge_window = UINT64_MAX; /* the first challenge ACK draws a budget */
	tcp->tcbs = rte_zmalloc_socket("sp_tcbs", sizeof(struct sp_tcb) * conf->max_conns,
				       SP_CACHE_LINE, socket);
	tcp->free_idx =
	    rte_malloc_socket("sp_tcb_free", sizeof(uint32_t) * conf->max_conns, 0, socket);
	if (tcp->tcbs == NULL || tcp->free_idx == NULL) {
		goto fail;
	}
	for (uint32_t i = 0; i < conf->max_conns; i++) {
		struct sp_tcb *tcb = &tcp->tcbs[i];

		sp_tw_timer_init(&tcb->t_rexmt, TK_REXMT);
		sp_tw_timer_init(&tcb->t_delack, TK_DELACK);
		sp_tw_timer_init(&tcb->t_conn, TK_CONN);
		tcb->index = i;
		/* Lowest indices first: a fresh stack reuses hot TCBs. */
		tcp->free_idx[conf->max_conns - 1 - i] = i;
	}
	tcp->nb_free = conf->max_conns;
	snprintf(name, sizeof(name), "sp_tcp_%u", lc->lcore_id);
	memset(&hp, 0, sizeof(hp));
	hp.name = name;
	hp.entries = conf->max_conns;
	hp.key_len = sizeof(struct sp_tcp_key);
	hp.hash_func = rte_hash_crc;
	hp.socket_id = socket;
	hp.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE; /* capacity guaranteed, no cuckoo miss */
	tcp->conns = rte_hash_create(&hp);
	snprintf(name, sizeof(name), "sp_tcpclone_%u", lc->lcore_id);
	/* Indirect mbufs: one per payload slice in flight, bounded by the send buffers. */
	tcp->clone_pool = rte_pktmbuf_pool_create(name, conf->clone_mbufs, 256, 0, 0, socket);
	if (tcp->conns == NULL || tcp->clone_pool == NULL) {
		goto fail;
	}
	rc = sp_reass_pool_init(&tcp->reass, conf->reass_segs, socket);
	if (rc != 0) {
		goto fail;
	}
	sp_tw_init(&tcp->wheel, 0, tcp_timer_fire, tcp);
	*out = tcp;
	return 0;
fail:
	rte_hash_free(tcp->conns);
	rte_mempool_free(tcp->clone_pool);
	rte_free(tcp->free_idx);
	rte_free(tcp->tcbs);
	rte_free(tcp);
	return rc;
}

void
sp_tcp_destroy(struct sp_tcp *tcp)
{
	if (tcp == NULL) {
		return;
	}
	for (uint32_t i = 0; i < tcp->conf.max_conns; i++) {
		if (tcp->tcbs[i].in_table) {
			sp_tcp_conn_done(tcp, &tcp->tcbs[i], SP_TCP_CLOSE_ABORTED);
			sp_tcp_conn_free(tcp, &tcp->tcbs[i]);
		}
	}
	sp_reass_pool_fini(&tcp->reass);
	rte_hash_free(tcp->conns);
	rte_mempool_free(tcp->clone_pool);
	rte_free(tcp->free_idx);
	rte_free(tcp->tcbs);
	rte_free(tcp);
}

static bool
tcp_app_can_send(enum sp_tcp_state s)
{
	return s == SP_TCP_ESTABLISHED || s == SP_TCP_CLOSE_WAIT;
}

uint32_t
sp_tcp_send_space(const struct sp_tcp *tcp, const struct sp_tcb *tcb)
{
	if (!tcp_app_can_send(tcb->state) || tcb->fin_queued) {
		return 0;
	}
	return tcb->sndq_bytes >= tcp->conf.snd_buf ? 0 : tcp->conf.snd_buf - tcb->sndq_bytes;
}

int
sp_tcp_send(struct sp_tcp *tcp, struct sp_tcb *tcb, struct rte_mbuf *chain)
{
	uint32_t len = chain->pkt_len;

	if (!tcp_app_can_send(tcb->state) || tcb->fin_queued) {
		return -EPIPE;
	}
	if (len > sp_tcp_send_space(tcp, tcb)) {
		return -ENOBUFS;
	}
	if (len == 0) {
		rte_pktmbuf_free(chain);
		return 0;
	}
	if (tcb->sndq_tail == NULL) {
		tcb->sndq_head = chain;
		tcb->sndq_skip = 0;
	} else {
		tcb->sndq_tail->next = chain;
	}
	tcb->sndq_tail = rte_pktmbuf_lastseg(chain);
	tcb->sndq_bytes += len;
	sp_tcp_output(tcp, tcb);
	return 0;
}

void
sp_tcp_recved(struct sp_tcp *tcp, struct sp_tcb *tcb, uint32_t n)
{
	uint32_t before = sp_tcp_rcv_window(tcp, tcb);

	SP_VERIFY(n <= tcb->rcv_unread);
	tcb->rcv_unread -= n;
	/* Window update when the window grew from below one MSS, or by half the buffer. */
	if (tcb->state >= SP_TCP_ESTABLISHED && tcb->state != SP_TCP_TIME_WAIT &&
	    (before < tcb->mss || sp_tcp_rcv_window(tcp, tcb) - before >= tcp->conf.rcv_buf / 2) &&
	    sp_seq_gt(tcb->rcv_nxt + sp_tcp_rcv_window(tcp, tcb), tcb->rcv_adv)) {
		sp_tcp_send_ack(tcp, tcb);
	}
}

int
sp_tcp_close(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	if (tcb->fin_queued || tcb->state == SP_TCP_CLOSED) {
		return -EPIPE;
	}
	tcb->closed_by_app = true;
	switch (tcb->state) {
	case SP_TCP_ESTABLISHED:
		sp_tcp_set_state(tcp, tcb, SP_TCP_FIN_WAIT_1);
		break;
	case SP_TCP_CLOSE_WAIT:
		sp_tcp_set_state(tcp, tcb, SP_TCP_LAST_ACK);
		break;
	default:
		return -EPIPE;
	}
	tcb->fin_queued = true;
	sp_tcp_output(tcp, tcb);
	return 0;
}

void
sp_tcp_abort(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	if (tcb->state == SP_TCP_CLOSED) {
		return;
	}
	tcp->lc->cnt.tcp_aborts++;
	/* RFC 9293 3.10.5: in SYN-SENT the TCB just goes (the peer has nothing to reset) */
	if (tcb->state != SP_TCP_TIME_WAIT && tcb->state != SP_TCP_SYN_SENT) {
		sp_tcp_send_rst(tcp, tcb);
	}
	sp_tcp_conn_done(tcp, tcb, SP_TCP_CLOSE_ABORTED);
	sp_tcp_conn_free(tcp, tcb);
}

/* Retransmit the first unacknowledged segment (fast retransmit, NewReno partial ACK). */
void
sp_tcp_rexmit_one(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	uint32_t flight = tcb->snd_max - tcb->snd_una;
	/* Retransmit only what was sent: never new data, never beyond the window. */
	uint32_t len = SP_MIN(SP_MIN(tcb->sndq_bytes, (uint32_t)tcb->mss), flight);
	bool fin = tcb->fin_queued && len == tcb->sndq_bytes &&
		   sp_seq_gt(tcb->snd_max, tcb->snd_una + tcb->sndq_bytes);

	if (len == 0 && !fin) {
		return;
	}
	sp_tcp_send_segment(tcp, tcb, tcb->snd_una, len, fin);
	sp_tcp_arm_rexmt(tcp, tcb, tcb->rto_ms);
}
