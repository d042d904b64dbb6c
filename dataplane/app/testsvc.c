/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Echo, sink and source test services (see testsvc.h), as an upper layer of the TCP stack:
 * the shape HTTP will have. Per-connection state comes from a fixed array sized at start
 * (max_conns), each slot with its SHA-256 context created once, so nothing allocates while
 * serving. Runs on the worker that owns the connections.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include <spate/assert.h>

#include "../tcp/tcp.h"
#include "../tcp/tcp_internal.h"
#include "testsvc.h"

#define SVC_BLOCK      65536u
#define SVC_LINE_MAX   24           /* "N\n" of the source service */
#define SVC_SOURCE_MAX (1ULL << 40) /* bytes one source request may ask for */

enum svc_kind {
	SVC_ECHO,
	SVC_SINK,
	SVC_SOURCE,
	SVC__N,
};

struct svc_conn {
	struct sp_testsvc *svc;
	struct sp_tcb *tcb;
	enum svc_kind kind;
	EVP_MD_CTX *md;
	struct rte_mbuf *pending; /* echo: received, not yet accepted by the send buffer */
	uint64_t remaining;       /* source: bytes still to send */
	uint64_t offset;          /* source: stream offset of the next byte */
	char line[SVC_LINE_MAX];
	uint8_t line_len;
	bool started;
	bool close_when_drained; /* echo: the peer closed while data was pending */
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

	(void)tcb;
	(void)reason;
	rte_pktmbuf_free(c->pending);
	c->pending = NULL;
	c->tcb = NULL;
	c->next_free = c->svc->free;
	c->svc->free = c;
}

static const struct sp_tcp_ops svc_ops = {
    .accept = svc_accept,
    .recv = svc_recv,
    .sent = svc_sent,
    .peer_closed = svc_peer_closed,
    .closed = svc_closed,
};

int
sp_testsvc_create(struct sp_testsvc **out, struct sp_tcp *tcp, struct rte_mempool *pool,
		  uint32_t max_conns, int socket)
{
	static const uint16_t ports[SVC__N] = {SP_TESTSVC_PORT_ECHO, SP_TESTSVC_PORT_SINK,
					       SP_TESTSVC_PORT_SOURCE};
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
