/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-worker connection table and TCB lifecycle. Owns: the stack instance (create/destroy),
 * the TCB array and its free stack (sized once from sp_tcp_conf.max_conns: no allocation
 * after start), the connection hash (rte_hash, single writer: this worker), listeners,
 * initial sequence numbers (RFC 6528), state transitions and their counters, and the glue to
 * the timer wheel. Runs only on the owning worker.
 *
 * Lifecycle rule: a TCB leaves the table exactly once, through sp_tcp_conn_free(), which
 * cancels its timers and frees every mbuf it holds. The upper layer learns of the end
 * through exactly one closed() callback (sp_tcp_conn_done()), after which tcb->app is NULL.
 * Callers check tcb->state == SP_TCP_CLOSED after any callback: an upper layer may abort.
 */
#include <errno.h>
#include <string.h>

#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_random.h>

#include <spate/assert.h>

#include "../net/rss.h"
#include "tcp_internal.h"

SP_STATIC_ASSERT(sizeof(struct sp_tcp_key) == 40, "connection key is hashed as bytes");

static const char *const tcp_state_names[SP_TCP__NSTATES] = {
    "CLOSED",     "LISTEN",     "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1",
    "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING",  "LAST-ACK",     "TIME-WAIT",
};

const char *
sp_tcp_state_name(enum sp_tcp_state s)
{
	return (unsigned)s < SP_TCP__NSTATES ? tcp_state_names[s] : "?";
}

/* SipHash-2-4 (Aumasson and Bernstein), for ISNs and SYN cookies: keyed, fast, short input. */
#define SIP_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIP_ROUND(v0, v1, v2, v3)                                                                  \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = SIP_ROTL(v1, 13);                                                             \
		v1 ^= v0;                                                                          \
		v0 = SIP_ROTL(v0, 32);                                                             \
		v2 += v3;                                                                          \
		v3 = SIP_ROTL(v3, 16);                                                             \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = SIP_ROTL(v3, 21);                                                             \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = SIP_ROTL(v1, 17);                                                             \
		v1 ^= v2;                                                                          \
		v2 = SIP_ROTL(v2, 32);                                                             \
	} while (0)

uint64_t
sp_siphash(const uint64_t key[2], const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t v0 = 0x736f6d6570736575ULL ^ key[0], v1 = 0x646f72616e646f6dULL ^ key[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ key[0], v3 = 0x7465646279746573ULL ^ key[1];
	uint64_t b = (uint64_t)len << 56, m;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&m, p + i, 8);
		v3 ^= m;
		SIP_ROUND(v0, v1, v2, v3);
		SIP_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (size_t j = 0; i + j < len; j++) {
		b |= (uint64_t)p[i + j] << (8 * j);
	}
	v3 ^= b;
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	for (int r = 0; r < 4; r++) {
		SIP_ROUND(v0, v1, v2, v3);
	}
	return v0 ^ v1 ^ v2 ^ v3;
}

/* RFC 6528: ISN = M + F(4-tuple, secret), M a 4-microsecond clock. */
uint32_t
sp_tcp_isn(struct sp_tcp *tcp, const struct sp_tcp_key *key)
{
	uint64_t cycles = tcp->lc->clk.ops->cycles(tcp->lc->clk.ctx) - tcp->start_cycles;
	uint64_t m = tcp->hz != 0 ? cycles / (tcp->hz / 250000 + 1) : cycles;

	return (uint32_t)m + (uint32_t)sp_siphash(tcp->isn_key, key, sizeof(*key));
}

/*
 * A source port for an active open to raddr:rport whose flow this worker owns and whose
 * 4-tuple is free, from a random start (RFC 6056 3.3.1's spirit: not predictable). With one
 * worker every port qualifies. Returns 0 with key->lport set, or -EADDRNOTAVAIL.
 */
static int
tcp_pick_lport(struct sp_tcp *tcp, struct sp_tcp_key *key)
{
	uint32_t laddr = sp_tcp_key_laddr4(key), raddr = sp_tcp_key_raddr4(key);
	uint16_t start =
	    (uint16_t)(SP_RSS_PORT_MIN + rte_rand() % (SP_RSS_PORT_MAX - SP_RSS_PORT_MIN + 1u));

	/* a few tries past ports whose 4-tuple is taken (TIME-WAIT, a live connection) */
	for (unsigned tries = 0; tries < 64; tries++) {
		uint16_t port = start;

		if (tcp->conf.nb_workers > 1) {
			int rc =
			    sp_rss_pick_sport(tcp->conf.rss, laddr, raddr, key->rport,
					      tcp->conf.worker, tcp->conf.nb_workers, start, &port);

			if (rc != 0) {
				return rc;
			}
		}
		key->lport = rte_cpu_to_be_16(port);
		if (sp_tcp_conn_lookup(tcp, key) == NULL &&
		    sp_tcp_listener_find(tcp, key->lport) == NULL) {
			return 0;
		}
		start = port == SP_RSS_PORT_MAX ? SP_RSS_PORT_MIN : (uint16_t)(port + 1);
	}
	return -EADDRNOTAVAIL;
}

int
sp_tcp_connect(struct sp_tcp *tcp, unsigned ifidx, uint32_t raddr, uint16_t rport,
	       const struct sp_tcp_ops *ops, void *app, struct sp_tcb **out)
{
	const struct sp_iface *ifc;
	struct sp_tcp_key key;
	struct sp_tcb *tcb;
	int rc;

	if (ifidx >= tcp->lc->nb_ifaces || ops == NULL || ops->recv == NULL ||
	    ops->closed == NULL || ops->connected == NULL) {
		return -EINVAL;
	}
	if (tcp->lc->arp == NULL) {
		return -EHOSTUNREACH; /* no neighbour cache to find the peer's MAC (stack tests) */
	}
	ifc = &tcp->lc->ifaces[ifidx];
	/* on the subnet, and not us, its broadcast or (below /31) its network address */
	if (((raddr ^ ifc->ipv4) & ifc->ipv4_mask) != 0 || raddr == ifc->ipv4 ||
	    raddr == ifc->ipv4_bcast ||
	    (ifc->prefix_len < 31 && raddr == (raddr & ifc->ipv4_mask)) || rport == 0) {
		return -ENETUNREACH;
	}
	memset(&key, 0, sizeof(key));
	memcpy(key.raddr, &raddr, 4);
	memcpy(key.laddr, &ifc->ipv4, 4);
	key.rport = rport;
	key.family = AF_INET;
	key.ifidx = (uint16_t)ifidx;
	rc = tcp_pick_lport(tcp, &key);
	if (rc != 0) {
		return rc;
	}
	tcb = sp_tcp_conn_alloc(tcp, &key);
	if (tcb == NULL) {
		return -ENOSPC;
	}
	tcb->ops = ops;
	tcb->app = app;
	tcb->iss = sp_tcp_isn(tcp, &key);
	tcb->snd_una = tcb->iss;
	tcb->snd_nxt = tcb->iss + 1;
	tcb->snd_max = tcb->snd_nxt;
	tcb->snd_wl2 = tcb->iss;
	tcb->recover = tcb->iss; /* RFC 6582 3.2 step 1 */
	tcb->rcv_wscale = tcp->rcv_wscale;
	tcb->cwnd = SP_TCP_INIT_CWND_SEGS * (uint32_t)tcb->mss;
	tcb->ssthresh = UINT32_MAX;
	tcb->dupthresh = SP_TCP_DUPACK_THRESH;
	tcb->rtt_timing = true; /* the SYN's round trip is the first RTT sample */
	tcb->rtt_seq = tcb->iss;
	tcb->rtt_start_tick = tcp->now_ms;
	sp_tcp_set_state(tcp, tcb, SP_TCP_SYN_SENT);
	tcp->lc->cnt.tcp_active_opens++;
	sp_tcp_send_syn(tcp, tcb);
	sp_tcp_arm_rexmt(tcp, tcb, tcb->rto_ms);
	*out = tcb;
	return 0;
}

const struct sp_tcp_listener *
sp_tcp_listener_find(const struct sp_tcp *tcp, uint16_t port_be)
{
	for (unsigned i = 0; i < SP_TCP_MAX_LISTENERS; i++) {
		if (tcp->listeners[i].port == port_be && port_be != 0) {
			return &tcp->listeners[i];
		}
	}
	return NULL;
}

int
sp_tcp_listen(struct sp_tcp *tcp, uint16_t port, const struct sp_tcp_ops *ops, void *arg)
{
	uint16_t be = rte_cpu_to_be_16(port);

	SP_VERIFY(ops != NULL && ops->accept != NULL && ops->recv != NULL && ops->closed != NULL);
	if (port == 0) {
		return -EINVAL;
	}
	if (sp_tcp_listener_find(tcp, be) != NULL) {
		return -EADDRINUSE;
	}
	for (unsigned i = 0; i < SP_TCP_MAX_LISTENERS; i++) {
		if (tcp->listeners[i].port == 0) {
			tcp->listeners[i] = (struct sp_tcp_listener){be, ops, arg};
			return 0;
		}
	}
	return -ENOSPC;
}

struct sp_tcb *
sp_tcp_conn_lookup(struct sp_tcp *tcp, const struct sp_tcp_key *key)
{
	void *data = NULL;

	if (rte_hash_lookup_data(tcp->conns, key, &data) < 0) {
		return NULL;
	}
	return data;
}

static bool
tcp_state_synced(enum sp_tcp_state s)
{
	return s >= SP_TCP_ESTABLISHED;
}

void
sp_tcp_set_state(struct sp_tcp *tcp, struct sp_tcb *tcb, enum sp_tcp_state s)
{
	bool was = tcp_state_synced(tcb->state) && tcb->state != SP_TCP_TIME_WAIT;
	bool now = tcp_state_synced(s) && s != SP_TCP_TIME_WAIT;

	SP_VERIFY((unsigned)s < SP_TCP__NSTATES);
	if (tcb->state == SP_TCP_SYN_RCVD) {
		SP_VERIFY(tcp->syn_rcvd > 0);
		tcp->syn_rcvd--;
	}
	if (s == SP_TCP_SYN_RCVD) {
		tcp->syn_rcvd++;
	}
	if (!was && now) {
		tcp->estab++;
	} else if (was && !now) {
		SP_VERIFY(tcp->estab > 0);
		tcp->estab--;
	}
	tcb->state = s;
}

struct sp_tcb *
sp_tcp_conn_alloc(struct sp_tcp *tcp, const struct sp_tcp_key *key)
{
	struct sp_tcb *tcb;
	uint32_t idx;
	int rc;

	if (tcp->nb_free == 0) {
		tcp->lc->cnt.tcp_drop_conn_limit++;
		return NULL;
	}
	idx = tcp->free_idx[--tcp->nb_free];
	SP_VERIFY(idx < tcp->conf.max_conns);
	tcb = &tcp->tcbs[idx];
	SP_VERIFY(tcb->state == SP_TCP_CLOSED && !tcb->in_table);
	memset(tcb, 0, offsetof(struct sp_tcb, t_rexmt));
	tcb->index = idx;
	tcb->key = *key;
	rc = rte_hash_add_key_data(tcp->conns, key, tcb);
	if (rc < 0) {
		tcp->free_idx[tcp->nb_free++] = idx;
		tcp->lc->cnt.tcp_drop_conn_limit++;
		return NULL;
	}
	tcb->in_table = true;
	tcb->rto_ms = SP_TCP_RTO_INIT_MS;
	tcb->mss = SP_TCP_MSS_DEFAULT;
	return tcb;
}

void
sp_tcp_conn_free(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	int rc;

	SP_VERIFY(tcb->in_table);
	if (tcb->ack_deferred) {
		for (uint16_t i = 0; i < tcp->nb_deferred; i++) {
			if (tcp->deferred[i] == tcb) {
				tcp->deferred[i] = NULL;
			}
		}
		tcb->ack_deferred = false;
	}
	sp_tw_cancel(&tcp->wheel, &tcb->t_rexmt);
	sp_tw_cancel(&tcp->wheel, &tcb->t_delack);
	sp_tw_cancel(&tcp->wheel, &tcb->t_conn);
	sp_reass_flush(&tcp->reass, &tcb->ooo);
	if (tcb->sndq_head != NULL) {
		rte_pktmbuf_free(tcb->sndq_head);
	}
	tcb->sndq_head = NULL;
	tcb->sndq_tail = NULL;
	tcb->sndq_bytes = 0;
	rc = rte_hash_del_key(tcp->conns, &tcb->key);
	SP_VERIFY(rc >= 0);
	sp_tcp_set_state(tcp, tcb, SP_TCP_CLOSED);
	tcb->in_table = false;
	tcb->app = NULL;
	SP_VERIFY(tcp->nb_free < tcp->conf.max_conns);
	tcp->free_idx[tcp->nb_free++] = tcb->index;
}

void
sp_tcp_conn_done(struct sp_tcp *tcp, struct sp_tcb *tcb, int reason)
{
	void *app = tcb->app;
	const struct sp_tcp_ops *ops = tcb->ops;

	(void)tcp;
	tcb->app = NULL;
	tcb->listener = NULL;
	tcb->ops = NULL;
	if (app != NULL && ops != NULL) {
		ops->closed(app, tcb, reason);
	}
}
