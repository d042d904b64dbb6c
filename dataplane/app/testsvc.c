/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Echo, sink, source and relay test services (see testsvc.h), as an upper layer of the TCP
 * stack: the shape HTTP will have. Per-connection state comes from a fixed array sized at start
 * (max_conns), each slot with its SHA-256 context created once, so nothing allocates while
 * serving. A relay is two slots linked through `peer`: the accepted connection and the one it
 * opened; both live on this worker (the active open's source port brings its flow back here).
 * Runs on the worker that owns the connections.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include <spate/assert.h>
#include <spate/err.h>

#include "../tcp/tcp.h"
#include "../tcp/tcp_internal.h"
#include "testsvc.h"

#define SVC_BLOCK          65536u
#define SVC_LINE_MAX       24           /* "N\n" of the source service */
#define SVC_RELAY_LINE_MAX 40           /* "CONNECT 255.255.255.255 65535" is 29 bytes */
#define SVC_ERR_MAX        64           /* "ERR <reason>\n" */
#define SVC_SOURCE_MAX     (1ULL << 40) /* bytes one source request may ask for */

enum svc_kind {
	SVC_ECHO,
	SVC_SINK,
	SVC_SOURCE,
	SVC_RELAY,
	SVC__N,
};

/* Where one side of a relay stands. */
enum svc_relay_state {
	RELAY_LINE,       /* accepted: reading the CONNECT line */
	RELAY_CONNECTING, /* the outbound connection is in its handshake */
	RELAY_OPEN,       /* both up: relaying */
	RELAY_DONE,       /* answered ERR and closed: input is dropped */
};

struct svc_conn {
	struct sp_testsvc *svc;
	struct sp_tcb *tcb;
	enum svc_kind kind;
	EVP_MD_CTX *md;
	/* echo: received, not yet accepted by the send buffer; relay: received on this side, not
	 * yet accepted by the other side's send buffer (its bytes are not sp_tcp_recved yet) */
	struct rte_mbuf *pending;
	uint64_t remaining; /* source: bytes still to send */
	uint64_t offset;    /* source: stream offset of the next byte */
	char line[SVC_RELAY_LINE_MAX];
	uint8_t line_len;
	bool started;
	/* echo: the peer closed while data was pending; relay: FIN the other side once drained */
	bool close_when_drained;
	struct svc_conn *peer; /* relay: the other side, NULL once it is gone */
	enum svc_relay_state rstate;
	bool outbound; /* relay: the side we opened */
	struct svc_conn *next_free;
};

struct svc_listen {
	struct sp_testsvc *svc;
	enum svc_kind kind;
};

struct sp_testsvc {
	struct sp_tcp *tcp;
	struct rte_mempool *pool;
	struct svc_conn *conns;
	uint32_t nb_conns;
	struct svc_conn *free;
	struct svc_listen listen[SVC__N];
	uint8_t block2[2 * SVC_BLOCK]; /* the base block twice: any rotation is contiguous */
};

static int
svc_accept(void *listen_arg, struct sp_tcb *tcb, void **app)
{
	struct svc_listen *l = listen_arg;
	struct sp_testsvc *svc = l->svc;
	struct svc_conn *c = svc->free;

	if (c == NULL) {
		return -ENOSPC;
	}
	svc->free = c->next_free;
	c->tcb = tcb;
	c->kind = l->kind;
	c->pending = NULL;
	c->remaining = 0;
	c->offset = 0;
	c->line_len = 0;
	c->started = false;
	c->close_when_drained = false;
	c->peer = NULL;
	c->rstate = RELAY_LINE;
	c->outbound = false;
	if (c->kind == SVC_SINK) {
		SP_VERIFY(EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) == 1);
	}
	*app = c;
	return 0;
}

/* Detach from the front of *chain whole mbufs totalling at most max bytes. */
static struct rte_mbuf *
svc_split(struct rte_mbuf **chain, uint32_t max)
{
	struct rte_mbuf *head = *chain, *m = head, *last = NULL;
	uint32_t len = 0;
	uint16_t segs = 0;

	while (m != NULL && len + m->data_len <= max) {
		len += m->data_len;
		segs++;
		last = m;
		m = m->next;
	}
	if (last == NULL) {
		return NULL;
	}
	if (m == NULL) {
		*chain = NULL;
		return head;
	}
	m->nb_segs = (uint16_t)(head->nb_segs - segs);
	m->pkt_len = head->pkt_len - len;
	last->next = NULL;
	head->nb_segs = segs;
	head->pkt_len = len;
	*chain = m;
	return head;
}

static void
svc_echo_push(struct svc_conn *c)
{
	struct sp_tcp *tcp = c->svc->tcp;

	while (c->pending != NULL) {
		uint32_t space = sp_tcp_send_space(tcp, c->tcb);
		struct rte_mbuf *part = svc_split(&c->pending, space);
		uint32_t n;

		if (part == NULL) {
			return;
		}
		n = part->pkt_len;
		SP_VERIFY(sp_tcp_send(tcp, c->tcb, part) == 0);
		sp_tcp_recved(tcp, c->tcb, n);
		if (c->tcb->state == SP_TCP_CLOSED) {
			return;
		}
	}
	if (c->close_when_drained) {
		c->close_when_drained = false;
		(void)sp_tcp_close(tcp, c->tcb);
	}
}

static void
svc_source_fill(struct svc_conn *c)
{
	struct sp_testsvc *svc = c->svc;

	while (c->remaining > 0) {
		uint32_t space = sp_tcp_send_space(svc->tcp, c->tcb);
		uint32_t room = rte_pktmbuf_data_room_size(svc->pool) - RTE_PKTMBUF_HEADROOM;
		uint32_t n = (uint32_t)SP_MIN((uint64_t)SP_MIN(space, room), c->remaining);
		uint32_t in_block = SVC_BLOCK - (uint32_t)(c->offset & (SVC_BLOCK - 1));
		struct rte_mbuf *m;
		char *p;

		n = SP_MIN(n, in_block);
		if (n == 0 || (m = rte_pktmbuf_alloc(svc->pool)) == NULL) {
			return; /* resumes on the next sent() */
		}
		p = rte_pktmbuf_append(m, (uint16_t)n);
		SP_VERIFY(p != NULL);
		memcpy(p,
		       svc->block2 +
			   (((c->offset & (SVC_BLOCK - 1)) + (c->offset >> 16)) & (SVC_BLOCK - 1)),
		       n);
		SP_VERIFY(sp_tcp_send(svc->tcp, c->tcb, m) == 0);
		c->offset += n;
		c->remaining -= n;
	}
	(void)sp_tcp_close(svc->tcp, c->tcb);
}

static void
svc_source_line(struct svc_conn *c, struct rte_mbuf *chain)
{
	for (struct rte_mbuf *m = chain; m != NULL && !c->started; m = m->next) {
		const char *p = rte_pktmbuf_mtod(m, const char *);

		for (uint16_t i = 0; i < m->data_len && !c->started; i++) {
			if (p[i] == '\n') {
				uint64_t v = 0;
				bool ok = c->line_len > 0;

				for (uint8_t k = 0; k < c->line_len && ok; k++) {
					ok = c->line[k] >= '0' && c->line[k] <= '9';
					v = v * 10 + (uint64_t)(c->line[k] - '0');
				}
				if (!ok || v > SVC_SOURCE_MAX) {
					sp_tcp_abort(c->svc->tcp, c->tcb);
					return;
				}
				c->started = true;
				c->remaining = v;
			} else if (c->line_len < SVC_LINE_MAX) {
				c->line[c->line_len++] = p[i];
			} else {
				sp_tcp_abort(c->svc->tcp, c->tcb);
				return;
			}
		}
	}
	if (c->started) {
		svc_source_fill(c);
	}
}

static const struct sp_tcp_ops svc_ops;

/* Drop the first n bytes of chain; returns what is left (NULL when nothing is). */
static struct rte_mbuf *
svc_trim(struct rte_mbuf *chain, uint32_t n)
{
	uint32_t left;
	uint16_t segs;

	SP_VERIFY(chain != NULL && n <= chain->pkt_len);
	if (n == chain->pkt_len) {
		rte_pktmbuf_free(chain);
		return NULL;
	}
	left = chain->pkt_len - n;
	segs = chain->nb_segs;
	while (n >= chain->data_len) { /* ends: the chain holds more than n bytes */
		struct rte_mbuf *next = chain->next;

		n -= chain->data_len;
		chain->next = NULL;
		rte_pktmbuf_free_seg(chain);
		chain = next;
		segs--;
	}
	chain->data_off = (uint16_t)(chain->data_off + n);
	chain->data_len = (uint16_t)(chain->data_len - n);
	chain->pkt_len = left;
	chain->nb_segs = segs;
	SP_VERIFY(segs >= 1 && left >= chain->data_len);
	return chain;
}

/* Queue a short text on c's connection. Returns 0, -ENOMEM (mbuf pool empty) or sp_tcp_send's. */
static int
svc_send_text(struct svc_conn *c, const char *text, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(c->svc->pool);
	char *p;
	int rc;

	SP_VERIFY(c->tcb != NULL && len > 0 && len <= SVC_ERR_MAX);
	if (m == NULL || (p = rte_pktmbuf_append(m, len)) == NULL) {
		rte_pktmbuf_free(m);
		return -ENOMEM;
	}
	memcpy(p, text, len);
	rc = sp_tcp_send(c->svc->tcp, c->tcb, m);
	if (rc != 0) {
		rte_pktmbuf_free(m);
	}
	return rc;
}

/*
 * Answer "ERR <reason>" and close (FIN, never a reset: no callback may free c under the
 * caller). The client may go on sending; that input is dropped.
 */
static void
svc_relay_fail(struct svc_conn *c, const char *reason)
{
	char text[SVC_ERR_MAX];
	int n = snprintf(text, sizeof(text), "ERR %s\n", reason);

	SP_VERIFY(!c->outbound && c->peer == NULL);
	SP_VERIFY(n > 0 && (size_t)n < sizeof(text));
	c->rstate = RELAY_DONE;
	c->svc->tcp->lc->cnt.testsvc_relay_fails++;
	(void)svc_send_text(c, text, (uint16_t)n); /* without an mbuf the client sees EOF only */
	(void)sp_tcp_close(c->svc->tcp, c->tcb);
}

/* A decimal number of 1 to 5 digits, at most max, from *p on; advances *p. */
static bool
svc_parse_uint(const char **p, const char *end, uint32_t max, uint32_t *out)
{
	const char *s = *p;
	uint32_t v = 0;

	while (s < end && s - *p < 5 && *s >= '0' && *s <= '9') {
		v = v * 10 + (uint32_t)(*s - '0');
		s++;
	}
	if (s == *p || v > max) {
		return false;
	}
	*p = s;
	*out = v;
	return true;
}

/* "CONNECT a.b.c.d port" (without its newline; a CR before it is allowed). */
static bool
svc_relay_parse(const char *s, uint32_t len, uint32_t *addr_be, uint16_t *port_be)
{
	static const char verb[] = "CONNECT ";
	const char *end = s + len;
	uint32_t addr = 0, v;

	SP_VERIFY(len <= SVC_RELAY_LINE_MAX);
	if (len > 0 && s[len - 1] == '\r') {
		end--;
	}
	if (len < sizeof(verb) - 1 || memcmp(s, verb, sizeof(verb) - 1) != 0) {
		return false;
	}
	s += sizeof(verb) - 1;
	for (unsigned i = 0; i < 4; i++) {
		if (!svc_parse_uint(&s, end, 255, &v) || s == end || *s != (i < 3 ? '.' : ' ')) {
			return false;
		}
		s++;
		addr = addr << 8 | v;
	}
	if (!svc_parse_uint(&s, end, 65535, &v) || v == 0 || s != end) {
		return false;
	}
	*addr_be = rte_cpu_to_be_32(addr);
	*port_be = rte_cpu_to_be_16((uint16_t)v);
	return true;
}

/* Return a slot to the free list (its connection is gone or was never made). */
static void
svc_release(struct svc_conn *c)
{
	SP_VERIFY(c->svc->free != c); /* not freed twice (the cheap half of the check) */
	rte_pktmbuf_free(c->pending);
	c->pending = NULL;
	c->tcb = NULL;
	c->peer = NULL;
	c->next_free = c->svc->free;
	c->svc->free = c;
}

/* The CONNECT line is complete: open the outbound side from a free slot. */
static void
svc_relay_request(struct svc_conn *c)
{
	struct sp_testsvc *svc = c->svc;
	struct svc_conn *o;
	uint32_t addr;
	uint16_t port;
	int rc;

	SP_VERIFY(c->rstate == RELAY_LINE && c->peer == NULL && !c->outbound);
	if (!svc_relay_parse(c->line, c->line_len, &addr, &port)) {
		svc_relay_fail(c, "usage: CONNECT a.b.c.d port");
		return;
	}
	o = svc->free;
	if (o == NULL) {
		svc_relay_fail(c, sp_strerror(-ENOSPC));
		return;
	}
	svc->free = o->next_free;
	o->kind = SVC_RELAY;
	o->tcb = NULL;
	o->pending = NULL;
	o->close_when_drained = false;
	o->outbound = true;
	o->rstate = RELAY_CONNECTING;
	o->peer = c;
	rc = sp_tcp_connect(svc->tcp, c->tcb->key.ifidx, addr, port, &svc_ops, o, &o->tcb);
	if (rc != 0) {
		svc_release(o);
		svc_relay_fail(c, sp_strerror(rc));
		return;
	}
	c->peer = o;
	c->rstate = RELAY_CONNECTING;
}

/*
 * Collect the CONNECT line from chain; returns the bytes it took (the newline included).
 * Sets rstate: still RELAY_LINE without a newline, else CONNECTING or DONE.
 */
static uint32_t
svc_relay_line(struct svc_conn *c, const struct rte_mbuf *chain)
{
	uint32_t used = 0;

	SP_VERIFY(c->rstate == RELAY_LINE);
	for (const struct rte_mbuf *m = chain; m != NULL; m = m->next) {
		const char *p = rte_pktmbuf_mtod(m, const char *);

		for (uint16_t i = 0; i < m->data_len; i++) {
			used++;
			if (p[i] == '\n') {
				svc_relay_request(c);
				return used;
			}
			if (c->line_len == SVC_RELAY_LINE_MAX) {
				svc_relay_fail(c, "line too long");
				return chain->pkt_len; /* the rest goes too */
			}
			c->line[c->line_len++] = p[i];
		}
	}
	SP_VERIFY(used == chain->pkt_len);
	return used;
}

/*
 * Move c's pending bytes into its peer's send queue as far as the peer's send buffer takes
 * them, reopening c's window by what was taken; then the FIN if c's remote closed. A side
 * whose connection already ended (tcb NULL, see svc_relay_closed) is released once drained.
 */
static void
svc_relay_push(struct svc_conn *c)
{
	struct sp_tcp *tcp = c->svc->tcp;
	struct svc_conn *p = c->peer;

	SP_VERIFY(p != NULL && p->peer == c && p->tcb != NULL);
	SP_VERIFY(c->rstate == RELAY_OPEN && p->rstate == RELAY_OPEN);
	while (c->pending != NULL) {
		struct rte_mbuf *part = svc_split(&c->pending, sp_tcp_send_space(tcp, p->tcb));
		uint32_t n;

		if (part == NULL) {
			return; /* resumes on the peer's sent() */
		}
		n = part->pkt_len;
		SP_VERIFY(sp_tcp_send(tcp, p->tcb, part) == 0);
		if (c->tcb != NULL) {
			sp_tcp_recved(tcp, c->tcb, n);
		}
	}
	if (c->close_when_drained) {
		c->close_when_drained = false;
		(void)sp_tcp_close(tcp, p->tcb);
	}
	if (c->tcb == NULL) {
		p->peer = NULL;
		svc_release(c);
	}
}

static void
svc_relay_recv(struct svc_conn *c, struct rte_mbuf *chain, uint32_t len)
{
	struct sp_tcp *tcp = c->svc->tcp;

	SP_VERIFY(c->kind == SVC_RELAY && c->tcb != NULL && chain->pkt_len == len);
	if (c->rstate == RELAY_LINE) {
		uint32_t used = svc_relay_line(c, chain);

		chain = svc_trim(chain, used);
		sp_tcp_recved(tcp, c->tcb, used);
		len -= used;
		if (chain == NULL) {
			return;
		}
		SP_VERIFY(chain->pkt_len == len && c->rstate != RELAY_LINE);
	}
	if (c->rstate == RELAY_DONE) {
		rte_pktmbuf_free(chain);
		sp_tcp_recved(tcp, c->tcb, len);
		return;
	}
	if (c->peer == NULL || c->peer->tcb == NULL) {
		/* the other side ended cleanly, so this one's remote had closed: cannot happen */
		rte_pktmbuf_free(chain);
		sp_tcp_abort(tcp, c->tcb);
		return;
	}
	if (c->pending == NULL) {
		c->pending = chain;
	} else if (rte_pktmbuf_chain(c->pending, chain) != 0) {
		rte_pktmbuf_free(chain); /* beyond 65535 segments: impossible within rcv_buf */
		sp_tcp_abort(tcp, c->tcb);
		return;
	}
	if (c->rstate == RELAY_OPEN) {
		svc_relay_push(c);
	}
}

/* The outbound side is established: answer OK, then forward what the client sent so far. */
static void
svc_connected(void *app, struct sp_tcb *tcb)
{
	struct svc_conn *o = app;
	struct svc_conn *c = o->peer;
	struct sp_tcp *tcp = o->svc->tcp;

	SP_VERIFY(o->tcb == tcb && o->outbound && o->rstate == RELAY_CONNECTING);
	SP_VERIFY(c != NULL && c->peer == o && c->rstate == RELAY_CONNECTING);
	o->rstate = RELAY_OPEN;
	c->rstate = RELAY_OPEN;
	tcp->lc->cnt.testsvc_relays++;
	if (svc_send_text(c, "OK\n", 3) != 0) {
		sp_tcp_abort(tcp, c->tcb); /* its closed() resets o as well */
		return;
	}
	svc_relay_push(c);
}

/* The remote of c sent FIN: pass it on once c's bytes are queued on the other side. */
static void
svc_relay_peer_closed(struct svc_conn *c)
{
	struct sp_tcp *tcp = c->svc->tcp;

	SP_VERIFY(c->kind == SVC_RELAY && c->tcb != NULL);
	switch (c->rstate) {
	case RELAY_LINE:
		svc_relay_fail(c, "incomplete request");
		return;
	case RELAY_DONE:
		(void)sp_tcp_close(tcp, c->tcb); /* already closing: a no-op */
		return;
	case RELAY_CONNECTING:
		c->close_when_drained = true; /* svc_connected's push passes it on */
		return;
	case RELAY_OPEN:
		if (c->peer == NULL) {
			(void)sp_tcp_close(tcp, c->tcb);
			return;
		}
		if (c->peer->tcb == NULL) {
			return; /* the other side's last bytes drain into c, then its FIN */
		}
		c->close_when_drained = true;
		svc_relay_push(c);
		return;
	}
	SP_VERIFY(0);
}

static const char *
svc_relay_reason(int reason)
{
	switch (reason) {
	case SP_TCP_CLOSE_REFUSED:
		return "refused";
	case SP_TCP_CLOSE_TIMEOUT:
		return "timeout";
	case SP_TCP_CLOSE_RESET:
		return "reset";
	case SP_TCP_CLOSE_ABORTED:
		return "aborted";
	default:
		return "closed";
	}
}

/*
 * Relay side c's connection is gone. If it ended cleanly with bytes still pending, they go on
 * to the other side, then its FIN: c's slot stays (tcb NULL) until svc_relay_push drains it;
 * the stack tells only closed() of a FIN that met ours (FIN-WAIT), so this is the FIN too.
 * Otherwise c's slot is freed and the other side, p: answers ERR if c was our connect that
 * failed; is closed if c ended cleanly (p's remote had closed first, so p's FIN is queued
 * already and this is a no-op); else is reset (a reset, timeout or abort, or stranded bytes).
 */
static void
svc_relay_closed(struct svc_conn *c, int reason)
{
	struct sp_tcp *tcp = c->svc->tcp;
	struct svc_conn *p = c->peer;
	bool connecting = c->outbound && c->rstate == RELAY_CONNECTING;

	SP_VERIFY(p != NULL && p->peer == c);
	c->tcb = NULL;
	if (p->tcb == NULL) {
		svc_release(p); /* it was draining into c: nowhere to go now */
		svc_release(c);
		return;
	}
	if (reason == SP_TCP_CLOSE_NORMAL && c->pending != NULL && p->rstate == RELAY_OPEN) {
		c->close_when_drained = true;
		svc_relay_push(c);
		return;
	}
	svc_release(c);
	p->peer = NULL;
	if (connecting) {
		SP_VERIFY(p->rstate == RELAY_CONNECTING);
		if (p->pending != NULL) {
			sp_tcp_recved(tcp, p->tcb, p->pending->pkt_len);
			rte_pktmbuf_free(p->pending);
			p->pending = NULL;
		}
		p->close_when_drained = false;
		svc_relay_fail(p, svc_relay_reason(reason));
		return;
	}
	if (reason == SP_TCP_CLOSE_NORMAL && p->rstate == RELAY_OPEN && p->pending == NULL) {
		(void)sp_tcp_close(tcp, p->tcb);
		return;
	}
	sp_tcp_abort(tcp, p->tcb); /* its closed() comes back here with no peer */
}

static void
svc_recv(void *app, struct sp_tcb *tcb, struct rte_mbuf *chain, uint32_t len)
{
	struct svc_conn *c = app;
	struct sp_tcp *tcp = c->svc->tcp;

	SP_VERIFY(c->tcb == tcb && chain->pkt_len == len);
	switch (c->kind) {
	case SVC_ECHO:
		if (c->pending == NULL) {
			c->pending = chain;
		} else if (rte_pktmbuf_chain(c->pending, chain) != 0) {
			rte_pktmbuf_free(
			    chain); /* beyond 65535 segments: impossible within rcv_buf */
			sp_tcp_abort(tcp, tcb);
			return;
		}
		svc_echo_push(c);
		return;
	case SVC_SINK:
		for (struct rte_mbuf *m = chain; m != NULL; m = m->next) {
			SP_VERIFY(
			    EVP_DigestUpdate(c->md, rte_pktmbuf_mtod(m, void *), m->data_len) == 1);
		}
		rte_pktmbuf_free(chain);
		sp_tcp_recved(tcp, tcb, len);
		return;
	case SVC_SOURCE:
		if (!c->started) {
			svc_source_line(c, chain);
		}
		rte_pktmbuf_free(chain);
		if (tcb->state != SP_TCP_CLOSED) {
			sp_tcp_recved(tcp, tcb, len);
		}
		return;
	case SVC_RELAY:
		svc_relay_recv(c, chain, len);
		return;
	default:
		SP_VERIFY(0);
	}
}

static void
svc_sent(void *app, struct sp_tcb *tcb, uint32_t acked)
{
	struct svc_conn *c = app;

	(void)acked;
	(void)tcb;
	if (c->kind == SVC_ECHO) {
		svc_echo_push(c);
	} else if (c->kind == SVC_SOURCE && c->started) {
		svc_source_fill(c);
	} else if (c->kind == SVC_RELAY && c->rstate == RELAY_OPEN && c->peer != NULL) {
		svc_relay_push(c->peer); /* room on this side for what the other received */
	}
}

static void
svc_peer_closed(void *app, struct sp_tcb *tcb)
{
	struct svc_conn *c = app;
	struct sp_tcp *tcp = c->svc->tcp;

	if (c->kind == SVC_SINK) {
		unsigned char d[32];
		unsigned int dlen = 0;
		struct rte_mbuf *m = rte_pktmbuf_alloc(c->svc->pool);
		char *p;

		SP_VERIFY(EVP_DigestFinal_ex(c->md, d, &dlen) == 1 && dlen == 32);
		if (m == NULL || (p = rte_pktmbuf_append(m, 65)) == NULL) {
			rte_pktmbuf_free(m);
			sp_tcp_abort(tcp, tcb);
			return;
		}
		for (unsigned i = 0; i < 32; i++) {
			static const char hex[] = "0123456789abcdef";
			p[2 * i] = hex[d[i] >> 4];
			p[2 * i + 1] = hex[d[i] & 15];
		}
		p[64] = '\n';
		if (sp_tcp_send(tcp, tcb, m) != 0) {
			rte_pktmbuf_free(m);
		}
		(void)sp_tcp_close(tcp, tcb);
	} else if (c->kind == SVC_RELAY) {
		svc_relay_peer_closed(c);
	} else if (c->kind == SVC_ECHO) {
		if (c->pending == NULL) {
			(void)sp_tcp_close(tcp, tcb);
		} else {
			c->close_when_drained = true;
		}
	} else if (!c->started || c->remaining == 0) {
		(void)sp_tcp_close(tcp, tcb);
	}
}

static void
svc_closed(void *app, struct sp_tcb *tcb, int reason)
{
	struct svc_conn *c = app;

	SP_VERIFY(c->tcb == tcb);
	SP_VERIFY(c->peer == NULL || c->peer->peer == c);
	if (c->peer != NULL) {
		svc_relay_closed(c, reason);
		return;
	}
	svc_release(c);
}

static const struct sp_tcp_ops svc_ops = {
    .accept = svc_accept,
    .recv = svc_recv,
    .sent = svc_sent,
    .peer_closed = svc_peer_closed,
    .closed = svc_closed,
    .connected = svc_connected,
};

int
sp_testsvc_create(struct sp_testsvc **out, struct sp_tcp *tcp, struct rte_mempool *pool,
		  uint32_t max_conns, int socket)
{
	static const uint16_t ports[SVC__N] = {SP_TESTSVC_PORT_ECHO, SP_TESTSVC_PORT_SINK,
					       SP_TESTSVC_PORT_SOURCE, SP_TESTSVC_PORT_RELAY};
	struct sp_testsvc *svc = rte_zmalloc_socket("sp_testsvc", sizeof(*svc), 64, socket);
	int rc;

	if (svc == NULL) {
		return -ENOMEM;
	}
	svc->tcp = tcp;
	svc->pool = pool;
	svc->nb_conns = max_conns;
	svc->conns =
	    rte_zmalloc_socket("sp_testsvc_c", sizeof(struct svc_conn) * max_conns, 64, socket);
	if (svc->conns == NULL) {
		rte_free(svc);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < max_conns; i++) {
		svc->conns[i].svc = svc;
		svc->conns[i].md = EVP_MD_CTX_new();
		if (svc->conns[i].md == NULL) {
			sp_testsvc_destroy(svc);
			return -ENOMEM;
		}
		svc->conns[i].next_free = svc->free;
		svc->free = &svc->conns[i];
	}
	for (uint32_t k = 0; k < SVC_BLOCK; k++) {
		svc->block2[k] = (uint8_t)(7 * k + 3 * (k >> 8) + 1);
		svc->block2[k + SVC_BLOCK] = svc->block2[k];
	}
	for (unsigned k = 0; k < SVC__N; k++) {
		svc->listen[k] = (struct svc_listen){svc, (enum svc_kind)k};
		rc = sp_tcp_listen(tcp, ports[k], &svc_ops, &svc->listen[k]);
		if (rc != 0) {
			sp_testsvc_destroy(svc);
			return rc;
		}
	}
	*out = svc;
	return 0;
}

void
sp_testsvc_destroy(struct sp_testsvc *svc)
{
	if (svc == NULL) {
		return;
	}
	for (uint32_t i = 0; i < svc->nb_conns; i++) {
		rte_pktmbuf_free(svc->conns[i].pending);
		EVP_MD_CTX_free(svc->conns[i].md);
	}
	rte_free(svc->conns);
	rte_free(svc);
}
