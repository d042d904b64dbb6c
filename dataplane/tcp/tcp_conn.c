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
	const struct sp_tcp_listener *l = tcb->listener;

	(void)tcp;
	tcb->app = NULL;
	tcb->listener = NULL;
	if (app != NULL && l != NULL) {
		l->ops->closed(app, tcb, reason);
	}
}
