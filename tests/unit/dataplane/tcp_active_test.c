/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for TCP active open (dataplane/tcp: sp_tcp_connect and SYN-SENT, RFC 9293
 * 3.10.7.3) on the test harness, with a scripted peer and a fake millisecond clock:
 * - the handshake: ARP first, then a SYN offering every option; the SYN-ACK's options
 *   negotiated (MSS, window scale, timestamps, SACK), the RTT sampled, connected() called,
 *   data both ways;
 * - refusal: a RST acknowledging the SYN ends it (closed(REFUSED)); a RST without ACK is
 *   ignored; an ACK of something else is answered with a RST;
 * - SYN retransmission with backoff and the give-up (closed(TIMEOUT)); after a resent SYN the
 *   first window is one segment and the RTO 3 s (RFC 5681 3.1, RFC 6298 5.7);
 * - a simultaneous open (SYN without ACK: SYN-RECEIVED, then established by the ACK);
 * - the source port: the flow hashes to this worker among several;
 * - argument errors.
 * Runs EAL --no-huge.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include "../sp_test.h"

#include "net/arp.h"
#include "net/net.h"
#include "net/rss.h"
#include "net_harness.h"
#include "tcp/tcp.h"
#include "tcp/tcp_internal.h"
#include "tcp/tcp_stack.h"

#define PEER_PORT 8000
#define F_SYN     RTE_TCP_SYN_FLAG
#define F_ACK     RTE_TCP_ACK_FLAG
#define F_RST     RTE_TCP_RST_FLAG
#define F_PSH     RTE_TCP_PSH_FLAG

/* The app: what the stack told it. */
struct app {
	unsigned connected, closed, recv_bytes;
	int reason;
	struct sp_tcb *tcb;
};

static void
app_recv(void *a, struct sp_tcb *tcb, struct rte_mbuf *chain, uint32_t len)
{
	struct app *app = a;

	(void)tcb;
	app->recv_bytes += len;
	rte_pktmbuf_free(chain);
}

static void
app_closed(void *a, struct sp_tcb *tcb, int reason)
{
	struct app *app = a;

	(void)tcb;
	app->closed++;
	app->reason = reason;
	app->tcb = NULL;
}

static void
app_connected(void *a, struct sp_tcb *tcb)
{
	struct app *app = a;

	assert_ptr_equal(app->tcb, tcb);
	assert_int_equal(tcb->state, SP_TCP_ESTABLISHED);
	app->connected++;
}

static const struct sp_tcp_ops g_ops = {
    .recv = app_recv, .closed = app_closed, .connected = app_connected};

/* A segment the stack sent, decoded. */
struct seg {
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t wnd, sport, dport;
	uint32_t plen;
	struct sp_tcp_opts o;
};

struct fx {
	struct nh h;
	struct sp_tcp *tcp;
	struct sp_rss_ctx rss;
};

static void
fx_up(struct fx *f, uint32_t syn_retries, uint16_t worker, uint16_t nb_workers)
{
	struct sp_arp_conf ac = {.entries = 64, .reachable_ms = 30000, .probes = 3, .seed = 7};
	struct sp_tcp_conf tc = {
	    .max_conns = 64,
	    .rcv_buf = 262144,
	    .snd_buf = 65536,
	    .syn_backlog = 16,
	    .reass_segs = 256,
	    .clone_mbufs = 2047,
	    .syn_retries = syn_retries,
	    .rss = &f->rss,
	    .worker = worker,
	    .nb_workers = nb_workers,
	};

	nh_now_ms = 1000;
	nh_init(&f->h, false);
	f->h.lc.clk.ops = &nh_ms_clock;
	assert_int_equal(sp_rss_ctx_init(&f->rss, sp_rss_sym_key, sizeof(sp_rss_sym_key)), 0);
	assert_int_equal(sp_arp_create(&f->h.lc.arp, &f->h.lc, &ac), 0);
	assert_int_equal(sp_tcp_create(&f->tcp, &f->h.lc, &tc), 0);
	f->h.lc.tcp = f->tcp;
}

static void
fx_down(struct fx *f)
{
	sp_tcp_destroy(f->tcp);
	f->h.lc.tcp = NULL;
	sp_lcore_tx_flush(&f->h.lc); /* RSTs of the aborts: captured, then freed */
	nh_clear_tx(&f->h);
	sp_arp_destroy(f->h.lc.arp);
	f->h.lc.arp = NULL;
	nh_fini(&f->h);
}

/* Move the clock to t ms and run the timers, as the poll loop does. */
static void
fx_at(struct fx *f, uint64_t t)
{
	nh_now_ms = t;
	sp_arp_timers(&f->h.lc);
	sp_tcp_timers(f->tcp);
	sp_lcore_tx_flush(&f->h.lc);
}

static void
fx_in(struct fx *f, const void *frame, uint16_t len)
{
	sp_net_input(&f->h.lc, 0, nh_mbuf(&f->h, frame, len));
	sp_lcore_tx_flush(&f->h.lc);
}

/* The peer answers the stack's ARP request. */
static void
fx_arp_reply(struct fx *f)
{
	uint8_t buf[64];

	fx_in(f, buf, nh_build_arp(&f->h, buf, RTE_ARP_OP_REPLY, NH_OUR_IP));
}

/* Count captured ARP requests and TCP segments; decode the last TCP segment into *last. */
static unsigned
fx_tcp_out(struct fx *f, struct seg *last, unsigned *arps)
{
	unsigned n = 0;

	if (arps != NULL) {
		*arps = 0;
	}
	for (unsigned i = 0; i < f->h.io.tx_n; i++) {
		struct rte_mbuf *m = f->h.io.tx[i];
		const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eth + 1);
		const struct rte_tcp_hdr *th = (const struct rte_tcp_hdr *)(ip + 1);
		unsigned doff;

		if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_ARP)) {
			if (arps != NULL) {
				(*arps)++;
			}
			continue;
		}
		assert_int_equal(ip->next_proto_id, IPPROTO_TCP);
		assert_int_equal(rte_pktmbuf_data_len(m), rte_pktmbuf_pkt_len(m));
		assert_true(sp_tcp_cksum_ok(ip, th, rte_be_to_cpu_16(ip->total_length) - 20u));
		assert_true(rte_is_same_ether_addr(&eth->dst_addr,
						   &(struct rte_ether_addr){{2, 0, 0, 0, 0, 1}}));
		n++;
		if (last != NULL) {
			memset(last, 0, sizeof(*last));
			doff = (unsigned)(th->data_off >> 4) * 4u;
			last->flags = th->tcp_flags;
			last->seq = rte_be_to_cpu_32(th->sent_seq);
			last->ack = rte_be_to_cpu_32(th->recv_ack);
			last->wnd = rte_be_to_cpu_16(th->rx_win);
			last->sport = rte_be_to_cpu_16(th->src_port);
			last->dport = rte_be_to_cpu_16(th->dst_port);
			last->plen = rte_be_to_cpu_16(ip->total_length) - 20u - doff;
			assert_int_equal(sp_tcp_opts_parse((const uint8_t *)(th + 1), doff - 20u,
							   (th->tcp_flags & F_SYN) != 0, &last->o),
					 0);
		}
	}
	return n;
}

/* A segment from the peer to our port lport, with options opt[optlen] and len payload bytes. */
static struct rte_mbuf *
fx_seg_mbuf(struct fx *f, uint16_t lport, uint8_t flags, uint32_t seq, uint32_t ack,
	    uint16_t wnd, const uint8_t *opt, unsigned optlen, unsigned len)
{
	uint8_t buf[256];
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)buf;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);
	unsigned l4 = 20u + optlen + len;

	assert_true(optlen % 4 == 0 && sizeof(*eth) + 20u + l4 <= sizeof(buf));
	memset(buf, 0, sizeof(buf));
	eth->dst_addr = f->h.ifc.mac;
	eth->src_addr = (struct rte_ether_addr){{2, 0, 0, 0, 0, 1}};
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(20u + l4));
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = inet_addr(NH_PEER_IP);
	ip->dst_addr = inet_addr(NH_OUR_IP);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	th->src_port = rte_cpu_to_be_16(PEER_PORT);
	th->dst_port = rte_cpu_to_be_16(lport);
	th->sent_seq = rte_cpu_to_be_32(seq);
	th->recv_ack = rte_cpu_to_be_32(ack);
	th->data_off = (uint8_t)(((20u + optlen) / 4u) << 4);
	th->tcp_flags = flags;
	th->rx_win = rte_cpu_to_be_16(wnd);
	if (optlen > 0) {
		memcpy(th + 1, opt, optlen);
	}
	memset((uint8_t *)(th + 1) + optlen, 'x', len);
	th->cksum = rte_ipv4_udptcp_cksum(ip, th);
	return nh_mbuf(&f->h, buf, (uint16_t)(sizeof(*eth) + 20u + l4));
}

/* That segment, processed at once (outside a poll's rx burst). */
static void
fx_seg(struct fx *f, uint16_t lport, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t wnd,
       const uint8_t *opt, unsigned optlen, unsigned len)
{
	sp_net_input(&f->h.lc, 0, fx_seg_mbuf(f, lport, flags, seq, ack, wnd, opt, optlen, len));
	sp_lcore_tx_flush(&f->h.lc);
}

/* That segment, queued for the next poll's rx burst (sp_lcore_poll). */
static void
fx_seg_queue(struct fx *f, uint16_t lport, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t len)
{
	SP_VERIFY(f->h.io.rx_n < NH_MAX_FRAMES);
	f->h.io.rx[f->h.io.rx_n++] = fx_seg_mbuf(f, lport, flags, seq, ack, 8000, NULL, 0, len);
}

/* SYN-ACK options: MSS 1400, SACK-permitted, timestamps (val, ecr), window scale 7. */
static unsigned
synack_opts(uint8_t *o, uint32_t ts_val, uint32_t ts_ecr)
{
	uint32_t v = htonl(ts_val), e = htonl(ts_ecr);

	memcpy(o, (const uint8_t[]){2, 4, 0x05, 0x78, 4, 2, 8, 10}, 8);
	memcpy(o + 8, &v, 4);
	memcpy(o + 12, &e, 4);
	memcpy(o + 16, (const uint8_t[]){1, 3, 3, 7}, 4);
	return 20;
}

/* connect, answer ARP; returns the SYN. */
static struct sp_tcb *
fx_connect(struct fx *f, struct app *app, struct seg *syn)
{
	struct sp_tcb *tcb = NULL;
	unsigned arps;

	memset(app, 0, sizeof(*app));
	assert_int_equal(sp_tcp_connect(f->tcp, 0, inet_addr(NH_PEER_IP),
					rte_cpu_to_be_16(PEER_PORT), &g_ops, app, &tcb),
			 0);
	app->tcb = tcb;
	assert_int_equal(tcb->state, SP_TCP_SYN_SENT);
	sp_lcore_tx_flush(&f->h.lc);
	if (fx_tcp_out(f, syn, &arps) == 1) {
		assert_int_equal(arps, 0); /* the neighbour was known */
	} else {
		/* unknown: an ARP request goes out and the SYN waits for the answer */
		assert_int_equal(arps, 1);
		nh_clear_tx(&f->h);
		fx_arp_reply(f);
		assert_int_equal(fx_tcp_out(f, syn, NULL), 1);
	}
	nh_clear_tx(&f->h);
	return tcb;
}

static void
test_handshake_and_data(void **state)
{
	struct fx f;
	struct app app;
	struct seg syn, s;
	uint8_t o[20];
	struct sp_tcb *tcb;
	struct rte_mbuf *m;

	(void)state;
	fx_up(&f, 6, 0, 1);

	tcb = fx_connect(&f, &app, &syn);
	/* the SYN: no ACK, our ISN, every option offered */
	assert_int_equal(syn.flags, F_SYN);
	assert_int_equal(syn.seq, tcb->iss);
	assert_int_equal(syn.dport, PEER_PORT);
	assert_true(syn.sport >= SP_RSS_PORT_MIN && syn.sport <= SP_RSS_PORT_MAX);
	assert_true(syn.o.mss_ok && syn.o.mss == SP_TCP_MSS_MAX);
	assert_true(syn.o.ws_ok && syn.o.wscale == f.tcp->rcv_wscale && syn.o.wscale > 0);
	assert_true(syn.o.sack_perm);
	assert_true(syn.o.ts_present && syn.o.ts_ecr == 0);
	assert_int_equal(f.h.lc.cnt.tcp_active_opens, 1);
	/* 30 ms later the SYN-ACK */
	fx_at(&f, 1030);
	fx_seg(&f, syn.sport, F_SYN | F_ACK, 5000, tcb->iss + 1, 1000, o,
	       synack_opts(o, 777, syn.o.ts_val), 0);
	assert_int_equal(app.connected, 1);
	assert_int_equal(tcb->state, SP_TCP_ESTABLISHED);
	assert_int_equal(fx_tcp_out(&f, &s, NULL), 1);
	assert_int_equal(s.flags, F_ACK);
	assert_int_equal(s.seq, tcb->iss + 1);
	assert_int_equal(s.ack, 5001);
	assert_true(s.o.ts_present && s.o.ts_ecr == 777);
	nh_clear_tx(&f.h);
	assert_int_equal(tcb->mss, 1400);
	assert_int_equal(tcb->snd_wscale, 7);
	assert_true(tcb->ts_ok && tcb->sack_ok);
	assert_int_equal(tcb->snd_wnd, 1000); /* never scaled in a SYN */
	assert_int_equal(tcb->srtt_us / 1000, 30);
	assert_int_equal(tcb->cwnd, SP_TCP_INIT_CWND_SEGS * 1400u);
	assert_int_equal(f.h.lc.cnt.tcp_connects, 1);
	/* data out: 100 bytes at iss + 1 */
	m = rte_pktmbuf_alloc(f.h.pool);
	memset(rte_pktmbuf_append(m, 100), 'a', 100);
	assert_int_equal(sp_tcp_send(f.tcp, tcb, m), 0);
	sp_lcore_tx_flush(&f.h.lc);
	assert_int_equal(fx_tcp_out(&f, &s, NULL), 1);
	assert_int_equal(s.seq, tcb->iss + 1);
	assert_int_equal(s.plen, 100);
	nh_clear_tx(&f.h);
	/* data in: 5 bytes acking ours (scaled window from now on) */
	fx_seg(&f, syn.sport, F_ACK | F_PSH, 5001, tcb->iss + 101, 100, NULL, 0, 5);
	assert_int_equal(app.recv_bytes, 5);
	assert_int_equal(tcb->snd_una, tcb->iss + 101);
	assert_int_equal(tcb->snd_wnd, 100u << 7);
	sp_tcp_recved(f.tcp, tcb, 5);
	nh_clear_tx(&f.h);
	sp_tcp_abort(f.tcp, tcb);
	assert_int_equal(app.closed, 1);
	assert_int_equal(app.reason, SP_TCP_CLOSE_ABORTED);
	fx_down(&f);
}

static void
test_refused_and_bad_answers(void **state)
{
	struct fx f;
	struct app app;
	struct seg syn, s;
	struct sp_tcb *tcb;
	uint32_t free_before;

	(void)state;
	fx_up(&f, 6, 0, 1);
	free_before = f.tcp->nb_free;
	tcb = fx_connect(&f, &app, &syn);
	/* a RST without ACK in SYN-SENT: dropped */
	fx_seg(&f, syn.sport, F_RST, 0, 0, 0, NULL, 0, 0);
	assert_int_equal(tcb->state, SP_TCP_SYN_SENT);
	assert_int_equal(fx_tcp_out(&f, NULL, NULL), 0);
	/* a SYN-ACK acknowledging something else: a RST at its ACK, the connection stays */
	fx_seg(&f, syn.sport, F_SYN | F_ACK, 5000, tcb->iss + 7, 1000, NULL, 0, 0);
	assert_int_equal(tcb->state, SP_TCP_SYN_SENT);
	assert_int_equal(fx_tcp_out(&f, &s, NULL), 1);
	assert_int_equal(s.flags, F_RST);
	assert_int_equal(s.seq, tcb->iss + 7);
	nh_clear_tx(&f.h);
	/* a RST acknowledging our SYN: refused */
	fx_seg(&f, syn.sport, F_RST | F_ACK, 0, tcb->iss + 1, 0, NULL, 0, 0);
	assert_int_equal(app.closed, 1);
	assert_int_equal(app.reason, SP_TCP_CLOSE_REFUSED);
	assert_int_equal(app.connected, 0);
	assert_int_equal(f.tcp->nb_free, free_before);
	assert_int_equal(f.h.lc.cnt.tcp_attempt_fails, 1);
	assert_int_equal(fx_tcp_out(&f, NULL, NULL), 0); /* no RST answers a RST */
	fx_down(&f);
}

static void
test_syn_retransmission_and_timeout(void **state)
{
	struct fx f;
	struct app app;
	struct seg syn, s;
	struct sp_tcb *tcb;
	uint8_t o[20];

	(void)state;
	fx_up(&f, 2, 0, 1);
	tcb = fx_connect(&f, &app, &syn);
	/* RTO 1 s, then 2 s: SYNs at +1 s and +3 s, the same ISN */
	fx_at(&f, 1999);
	assert_int_equal(fx_tcp_out(&f, NULL, NULL), 0);
	fx_at(&f, 2000);
	assert_int_equal(fx_tcp_out(&f, &s, NULL), 1);
	assert_int_equal(s.flags, F_SYN);
	assert_int_equal(s.seq, syn.seq);
	nh_clear_tx(&f.h);
	fx_at(&f, 3999);
	assert_int_equal(fx_tcp_out(&f, NULL, NULL), 0);
	fx_at(&f, 4000);
	assert_int_equal(fx_tcp_out(&f, NULL, NULL), 1);
	nh_clear_tx(&f.h);
	/* two retries spent: at +7 s it gives up */
	fx_at(&f, 7999);
	assert_int_equal(app.closed, 0);
	fx_at(&f, 8000);
	assert_int_equal(app.closed, 1);
	assert_int_equal(app.reason, SP_TCP_CLOSE_TIMEOUT);
	assert_int_equal(fx_tcp_out(&f, NULL, NULL), 0);
	assert_int_equal(f.h.lc.cnt.tcp_attempt_fails, 1);

	/* a SYN-ACK after a resent SYN: one segment of window, RTO 3 s, no RTT sample */
	tcb = fx_connect(&f, &app, &syn);
	fx_at(&f, 9000);
	nh_clear_tx(&f.h);
	fx_seg(&f, syn.sport, F_SYN | F_ACK, 100, tcb->iss + 1, 1000, o,
	       synack_opts(o, 5, syn.o.ts_val), 0);
	assert_int_equal(app.connected, 1);
	assert_int_equal(tcb->cwnd, 1400);
	assert_int_equal(tcb->rto_ms, 3000);
	assert_int_equal(tcb->srtt_us, 0);
	nh_clear_tx(&f.h);
	fx_down(&f);
}

static void
test_simultaneous_open(void **state)
{
	struct fx f;
	struct app app;
	struct seg syn, s;
	struct sp_tcb *tcb;

	(void)state;
	fx_up(&f, 6, 0, 1);
	tcb = fx_connect(&f, &app, &syn);
	/* the peer's own SYN crosses ours (no options: none negotiated) */
	fx_seg(&f, syn.sport, F_SYN, 9000, 0, 4000, NULL, 0, 0);
	assert_int_equal(tcb->state, SP_TCP_SYN_RCVD);
	assert_int_equal(fx_tcp_out(&f, &s, NULL), 1);
	assert_int_equal(s.flags, F_SYN | F_ACK);
	assert_int_equal(s.seq, tcb->iss);
	assert_int_equal(s.ack, 9001);
	assert_false(s.o.ts_present || s.o.sack_perm || s.o.ws_ok);
	nh_clear_tx(&f.h);
	assert_int_equal(app.connected, 0);
	fx_seg(&f, syn.sport, F_ACK, 9001, tcb->iss + 1, 4000, NULL, 0, 0);
	assert_int_equal(app.connected, 1);
	assert_int_equal(tcb->state, SP_TCP_ESTABLISHED);
	assert_int_equal(tcb->mss, SP_TCP_MSS_DEFAULT);
	assert_false(tcb->ts_ok || tcb->sack_ok);
	sp_tcp_abort(f.tcp, tcb);
	nh_clear_tx(&f.h);
	fx_down(&f);
}

/* Linux's side of a simultaneous open: it answers our SYN-ACK with its own SYN-ACK. */
static void
test_simultaneous_open_answered_by_synack(void **state)
{
	struct fx f;
	struct app app;
	struct seg syn;
	struct sp_tcb *tcb;

	(void)state;
	fx_up(&f, 6, 0, 1);
	tcb = fx_connect(&f, &app, &syn);
	fx_seg(&f, syn.sport, F_SYN, 9000, 0, 4000, NULL, 0, 0);
	assert_int_equal(tcb->state, SP_TCP_SYN_RCVD);
	nh_clear_tx(&f.h);
	fx_seg(&f, syn.sport, F_SYN | F_ACK, 9000, tcb->iss + 1, 4000, NULL, 0, 0);
	assert_int_equal(app.connected, 1);
	assert_int_equal(tcb->state, SP_TCP_ESTABLISHED);
	assert_int_equal(tcb->rcv_nxt, 9001);
	sp_tcp_abort(f.tcp, tcb);
	sp_lcore_tx_flush(&f.h.lc);
	nh_clear_tx(&f.h);

	/* and a RST in that SYN-RECEIVED: the open is refused, not reset */
	tcb = fx_connect(&f, &app, &syn);
	fx_seg(&f, syn.sport, F_SYN, 7000, 0, 4000, NULL, 0, 0);
	nh_clear_tx(&f.h);
	fx_seg(&f, syn.sport, F_RST, 7001, 0, 0, NULL, 0, 0);
	assert_int_equal(app.closed, 1);
	assert_int_equal(app.reason, SP_TCP_CLOSE_REFUSED);
	assert_int_equal(app.connected, 0);
	fx_down(&f);
}

/*
 * FIN-WAIT-2 limits silence, not the half-close: a peer that keeps sending after our FIN keeps
 * the connection; 60 s without a segment from it ends it (closed(TIMEOUT)).
 */
static void
test_fin_wait_2_lives_while_the_peer_sends(void **state)
{
	struct fx f;
	struct app app;
	struct seg syn, s;
	struct sp_tcb *tcb;
	uint32_t peer = 5001;

	(void)state;
	fx_up(&f, 6, 0, 1);
	tcb = fx_connect(&f, &app, &syn);
	fx_seg(&f, syn.sport, F_SYN | F_ACK, 5000, tcb->iss + 1, 8000, NULL, 0, 0);
	assert_int_equal(app.connected, 1);
	assert_int_equal(sp_tcp_close(f.tcp, tcb), 0);
	sp_lcore_tx_flush(&f.h.lc);
	assert_int_equal(fx_tcp_out(&f, &s, NULL), 2); /* the handshake's ACK, then our FIN */
	assert_true(s.flags & RTE_TCP_FIN_FLAG);
	nh_clear_tx(&f.h);
	fx_seg(&f, syn.sport, F_ACK, peer, tcb->iss + 2, 8000, NULL, 0, 0);
	assert_int_equal(tcb->state, SP_TCP_FIN_WAIT_2);
	for (unsigned i = 1; i <= 4; i++) {
		fx_at(&f, 1000 + i * 30000ull);
		fx_seg(&f, syn.sport, F_ACK | F_PSH, peer, tcb->iss + 2, 8000, NULL, 0, 10);
		peer += 10;
		assert_int_equal(app.closed, 0);
		sp_tcp_recved(f.tcp, tcb, 10);
	}
	assert_int_equal(app.recv_bytes, 40);
	fx_at(&f, 1000 + 4 * 30000ull + 59999);
	assert_int_equal(app.closed, 0);
	fx_at(&f, 1000 + 4 * 30000ull + 60000);
	assert_int_equal(app.closed, 1);
	assert_int_equal(app.reason, SP_TCP_CLOSE_TIMEOUT);
	sp_lcore_tx_flush(&f.h.lc);
	nh_clear_tx(&f.h);
	fx_down(&f);
}

/*
 * ACK coalescing: in-order data that arrives in one rx burst is acknowledged once, at the
 * burst's end; outside a burst every second segment is. Out-of-order data is still answered
 * at once (the sender counts duplicate ACKs), and a connection reset in the middle of a burst
 * sends nothing at its end.
 */
static void
test_acks_coalesced_per_rx_burst(void **state)
{
	struct fx f;
	struct app app;
	struct seg syn, s;
	struct sp_tcb *tcb;
	uint32_t peer = 5001;

	(void)state;
	fx_up(&f, 6, 0, 1);
	tcb = fx_connect(&f, &app, &syn);
	fx_seg(&f, syn.sport, F_SYN | F_ACK, 5000, tcb->iss + 1, 8000, NULL, 0, 0);
	assert_int_equal(app.connected, 1);
	nh_clear_tx(&f.h);
	/* 13 segments in one burst: one ACK covering all of them */
	for (unsigned i = 0; i < 13; i++, peer += 100) {
		fx_seg_queue(&f, syn.sport, F_ACK, peer, tcb->iss + 1, 100);
	}
	assert_true(sp_lcore_poll(&f.h.lc) >= 13);
	assert_int_equal(app.recv_bytes, 1300);
	assert_int_equal(fx_tcp_out(&f, &s, NULL), 1);
	assert_int_equal(s.flags, F_ACK);
	assert_int_equal(s.ack, peer);
	assert_int_equal(f.h.lc.cnt.tcp_acks_deferred, 12); /* the 1st would only arm the timer */
	assert_int_equal(f.h.lc.cnt.tcp_acks_burst_end, 1);
	assert_false(tcb->ack_deferred);
	assert_int_equal(f.tcp->nb_deferred, 0);
	nh_clear_tx(&f.h);
	/* outside a burst: every second segment */
	for (unsigned i = 0; i < 4; i++, peer += 100) {
		fx_seg(&f, syn.sport, F_ACK, peer, tcb->iss + 1, 8000, NULL, 0, 100);
	}
	assert_int_equal(fx_tcp_out(&f, &s, NULL), 2);
	assert_int_equal(s.ack, peer);
	nh_clear_tx(&f.h);
	/* two in order, then one beyond a hole: its duplicate ACK leaves at once and carries
	 * the two; nothing more at the burst's end */
	fx_seg_queue(&f, syn.sport, F_ACK, peer, tcb->iss + 1, 100);
	fx_seg_queue(&f, syn.sport, F_ACK, peer + 100, tcb->iss + 1, 100);
	fx_seg_queue(&f, syn.sport, F_ACK, peer + 300, tcb->iss + 1, 100);
	(void)sp_lcore_poll(&f.h.lc);
	assert_int_equal(fx_tcp_out(&f, &s, NULL), 1);
	assert_int_equal(s.ack, peer + 200);
	assert_int_equal(f.h.lc.cnt.tcp_acks_burst_end, 1);
	nh_clear_tx(&f.h);
	/* the hole filled (ACK at once), two more in order, then a RST at RCV.NXT: the
	 * connection goes in the burst and its slot is skipped at the end */
	fx_seg_queue(&f, syn.sport, F_ACK, peer + 200, tcb->iss + 1, 100);
	fx_seg_queue(&f, syn.sport, F_ACK, peer + 400, tcb->iss + 1, 100);
	fx_seg_queue(&f, syn.sport, F_ACK, peer + 500, tcb->iss + 1, 100);
	fx_seg_queue(&f, syn.sport, F_RST, peer + 600, 0, 0);
	(void)sp_lcore_poll(&f.h.lc);
	assert_int_equal(app.closed, 1);
	assert_int_equal(app.reason, SP_TCP_CLOSE_RESET);
	assert_int_equal(app.recv_bytes, 1300 + 400 + 200 + 400);
	assert_int_equal(fx_tcp_out(&f, &s, NULL), 1); /* only the hole's */
	assert_int_equal(s.ack, peer + 400);
	assert_int_equal(f.h.lc.cnt.tcp_acks_burst_end, 1);
	assert_int_equal(f.tcp->nb_deferred, 0);
	nh_clear_tx(&f.h);
	fx_down(&f);
}

/*
 * connect, and at t ms (0: at once) the SYN-ACK offering MSS 1400 and SACK, window 60000;
 * the handshake's ACK is checked and cleared.
 */
static struct sp_tcb *
fx_connect_sack(struct fx *f, struct app *app, struct seg *syn, uint64_t t)
{
	static const uint8_t o[8] = {2, 4, 0x05, 0x78, 1, 1, 4, 2};
	struct sp_tcb *tcb = fx_connect(f, app, syn);

	if (t != 0) {
		fx_at(f, t);
	}
	fx_seg(f, syn->sport, F_SYN | F_ACK, 5000, tcb->iss + 1, 60000, o, 8, 0);
	assert_true(tcb->sack_ok && tcb->mss == 1400);
	assert_int_equal(fx_tcp_out(f, NULL, NULL), 1);
	nh_clear_tx(&f->h);
	return tcb;
}

/* Abort the connection and take the fixture down, dropping every frame sent. */
static void
fx_abort_down(struct fx *f, struct sp_tcb *tcb)
{
	nh_clear_tx(&f->h);
	sp_tcp_abort(f->tcp, tcb);
	nh_clear_tx(&f->h);
	fx_down(f);
}

/* A SACK option (two NOPs, then one block [s, e)); returns its length. */
static unsigned
sack_opt(uint8_t *o, uint32_t s, uint32_t e)
{
	uint32_t bs = htonl(s), be = htonl(e);

	memcpy(o, (const uint8_t[]){1, 1, 5, 10}, 4);
	memcpy(o + 4, &bs, 4);
	memcpy(o + 8, &be, 4);
	return 12;
}

/* How many captured TCP segments start at seq. */
static unsigned
fx_sent_at(struct fx *f, uint32_t seq)
{
	unsigned n = 0;

	for (unsigned i = 0; i < f->h.io.tx_n; i++) {
		const struct rte_ether_hdr *eth =
		    rte_pktmbuf_mtod(f->h.io.tx[i], const struct rte_ether_hdr *);
		const struct rte_tcp_hdr *th =
		    (const struct rte_tcp_hdr *)((const struct rte_ipv4_hdr *)(eth + 1) + 1);

		n += eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4) &&
		     rte_be_to_cpu_32(th->sent_seq) == seq;
	}
	return n;
}

/*
 * The round after an RTO: resends leave in sequence order, so a SACK of a later resend
 * while the one at SND.UNA is still missing shows that one lost again; it is resent at
 * once, not after the next (doubled) RTO. SACKs from before the RTO are no such evidence.
 */
static void
test_lost_resend_after_rto_resent_at_once(void **state)
{
	struct fx f;
	struct app app;
	struct seg syn, s;
	struct sp_tcb *tcb;
	uint8_t o[20];
	uint32_t seg[9];
	const uint32_t mss = 1400;

	(void)state;
	fx_up(&f, 6, 0, 1);
	tcb = fx_connect_sack(&f, &app, &syn, 0);
	for (unsigned i = 0; i < 9; i++) {
		seg[i] = tcb->iss + 1 + i * mss;
	}
	for (unsigned i = 0; i < 8; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(f.h.pool);

		memset(rte_pktmbuf_append(m, (uint16_t)mss), 'a' + (int)i, mss);
		assert_int_equal(sp_tcp_send(f.tcp, tcb, m), 0);
	}
	sp_lcore_tx_flush(&f.h.lc);
	assert_int_equal(fx_tcp_out(&f, NULL, NULL), 8);
	nh_clear_tx(&f.h);
	/* before the RTO the peer SACKs segments 5 and 6 (one dupack: no recovery) */
	fx_seg(&f, syn.sport, F_ACK, 5001, seg[0], 60000, o, sack_opt(o, seg[5], seg[7]), 0);
	assert_false(tcb->in_recovery);
	nh_clear_tx(&f.h);
	/* first the tail loss probe (the last segment again), then the RTO: the head again */
	fx_at(&f, 1000 + 30 + 1100);
	assert_int_equal(f.h.lc.cnt.tcp_tlp_probes, 1);
	assert_int_equal(fx_sent_at(&f, seg[7]), 1);
	nh_clear_tx(&f.h);
	fx_at(&f, 1000 + 30 + 2200);
	assert_int_equal(f.h.lc.cnt.tcp_rto_timeouts, 1);
	assert_int_equal(fx_tcp_out(&f, &s, NULL), 1);
	assert_int_equal(s.seq, seg[0]);
	nh_clear_tx(&f.h);
	/* it arrives: the sweep goes on with segments 1 and 2 (the old SACK is no evidence) */
	fx_seg(&f, syn.sport, F_ACK, 5001, seg[1], 60000, o, sack_opt(o, seg[5], seg[7]), 0);
	assert_int_equal(fx_tcp_out(&f, NULL, NULL), 2);
	assert_int_equal(fx_sent_at(&f, seg[1]), 1);
	assert_int_equal(fx_sent_at(&f, seg[2]), 1);
	assert_int_equal(f.h.lc.cnt.tcp_rto_lost_rexmits, 0);
	nh_clear_tx(&f.h);
	/* segment 1's resend is lost, segment 2's arrives: segment 1 goes again at once */
	fx_seg(&f, syn.sport, F_ACK, 5001, seg[1], 60000, o, sack_opt(o, seg[2], seg[3]), 0);
	assert_int_equal(f.h.lc.cnt.tcp_rto_lost_rexmits, 1);
	assert_int_equal(fx_sent_at(&f, seg[1]), 1);
	assert_int_equal(f.h.lc.cnt.tcp_rto_timeouts, 1);
	nh_clear_tx(&f.h);
	/* the same news again is no new evidence */
	fx_seg(&f, syn.sport, F_ACK, 5001, seg[1], 60000, o, sack_opt(o, seg[2], seg[3]), 0);
	assert_int_equal(fx_sent_at(&f, seg[1]), 0);
	assert_int_equal(f.h.lc.cnt.tcp_rto_lost_rexmits, 1);
	nh_clear_tx(&f.h);
	/* everything up to segment 5 arrives: the round goes on from there, 5 and 6 skipped */
	fx_seg(&f, syn.sport, F_ACK, 5001, seg[5], 60000, o, sack_opt(o, seg[5], seg[7]), 0);
	assert_int_equal(fx_sent_at(&f, seg[5]) + fx_sent_at(&f, seg[6]), 0);
	nh_clear_tx(&f.h);
	fx_seg(&f, syn.sport, F_ACK, 5001, seg[8], 60000, NULL, 0, 0);
	assert_int_equal(tcb->snd_una, seg[8]);
	assert_false(tcb->rnd);
	assert_int_equal(f.h.lc.cnt.tcp_rto_timeouts, 1);
	fx_abort_down(&f, tcb);
}

/*
 * D-SACK (RFC 2883): duplicate data, whole or in part, is reported as the first SACK block of
 * the next ACK, below the cumulative ACK, once; a PAWS-dropped old segment's duplicate part
 * too. Peers without SACK get none.
 */
static void
test_dsack_reports_duplicates(void **state)
{
	struct fx f;
	struct app app;
	struct seg syn, s;
	struct sp_tcb *tcb;

	(void)state;
	fx_up(&f, 6, 0, 1);
	tcb = fx_connect_sack(&f, &app, &syn, 0);
	fx_seg(&f, syn.sport, F_ACK, 5001, tcb->iss + 1, 60000, NULL, 0, 100);
	fx_seg(&f, syn.sport, F_ACK, 5101, tcb->iss + 1, 60000, NULL, 0, 100);
	nh_clear_tx(&f.h);
	/* the whole of the first again */
	fx_seg(&f, syn.sport, F_ACK, 5001, tcb->iss + 1, 60000, NULL, 0, 100);
	assert_int_equal(fx_tcp_out(&f, &s, NULL), 1);
	assert_int_equal(s.ack, 5201);
	assert_int_equal(s.o.nb_sack, 1);
	assert_int_equal(s.o.sack[0][0], 5001);
	assert_int_equal(s.o.sack[0][1], 5101);
	nh_clear_tx(&f.h);
	/* half old, half new: the old half, with the ACK sent at once */
	fx_seg(&f, syn.sport, F_ACK, 5151, tcb->iss + 1, 60000, NULL, 0, 100);
	assert_int_equal(fx_tcp_out(&f, &s, NULL), 1);
	assert_int_equal(s.ack, 5251);
	assert_int_equal(s.o.nb_sack, 1);
	assert_int_equal(s.o.sack[0][0], 5151);
	assert_int_equal(s.o.sack[0][1], 5201);
	nh_clear_tx(&f.h);
	/* reported once: a segment beyond a hole gets its SACK block only */
	fx_seg(&f, syn.sport, F_ACK, 5351, tcb->iss + 1, 60000, NULL, 0, 100);
	assert_int_equal(fx_tcp_out(&f, &s, NULL), 1);
	assert_int_equal(s.ack, 5251);
	assert_int_equal(s.o.nb_sack, 1);
	assert_int_equal(s.o.sack[0][0], 5351);
	nh_clear_tx(&f.h);
	/* a duplicate while data is queued: the D-SACK first, then the queued block */
	fx_seg(&f, syn.sport, F_ACK, 5201, tcb->iss + 1, 60000, NULL, 0, 50);
	assert_int_equal(fx_tcp_out(&f, &s, NULL), 1);
	assert_int_equal(s.o.nb_sack, 2);
	assert_int_equal(s.o.sack[0][0], 5201);
	assert_int_equal(s.o.sack[0][1], 5251);
	assert_int_equal(s.o.sack[1][0], 5351);
	assert_int_equal(f.h.lc.cnt.tcp_dsack_sent, 3);
	fx_abort_down(&f, tcb);
	/* no SACK negotiated: no blocks at all */
	fx_up(&f, 6, 0, 1);
	tcb = fx_connect(&f, &app, &syn);
	fx_seg(&f, syn.sport, F_SYN | F_ACK, 9000, tcb->iss + 1, 60000, NULL, 0, 0);
	fx_seg(&f, syn.sport, F_ACK, 9001, tcb->iss + 1, 60000, NULL, 0, 100);
	nh_clear_tx(&f.h);
	fx_seg(&f, syn.sport, F_ACK, 9001, tcb->iss + 1, 60000, NULL, 0, 100);
	assert_int_equal(fx_tcp_out(&f, &s, NULL), 1);
	assert_int_equal(s.o.nb_sack, 0);
	assert_int_equal(f.h.lc.cnt.tcp_dsack_sent, 0);
	fx_abort_down(&f, tcb);
}

/* Connected with MSS 1400 and SACK, SRTT 30 ms; 2000 bytes sent as 1400 + 600 at t=1030. */
static struct sp_tcb *
fx_two_segments(struct fx *f, struct app *app, struct seg *syn)
{
	struct sp_tcb *tcb = fx_connect_sack(f, app, syn, 1030);

	assert_true(tcb->srtt_us / 1000 == 30);
	for (unsigned i = 0; i < 2; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(f->h.pool);

		memset(rte_pktmbuf_append(m, 1000), 'a', 1000);
		assert_int_equal(sp_tcp_send(f->tcp, tcb, m), 0);
	}
	sp_lcore_tx_flush(&f->h.lc);
	assert_int_equal(fx_tcp_out(f, NULL, NULL), 2); /* 1400, 600 */
	nh_clear_tx(&f->h);
	return tcb;
}

/*
 * Tail loss probe (RFC 8985 7) and Early Retransmit (RFC 5827). The first segment of two is
 * lost and the second's ACK too: at 2 x SRTT the last segment goes again; the peer's answer
 * (a D-SACK for the probe, a SACK of the second) is one duplicate ACK, which with two
 * segments out is enough to resend the first — no RTO.
 */
static void
test_tail_loss_probe_and_early_retransmit(void **state)
{
	struct fx f;
	struct app app;
	struct seg syn, s;
	struct sp_tcb *tcb;
	uint8_t o[20];
	uint32_t a;

	(void)state;
	fx_up(&f, 6, 0, 1);
	tcb = fx_two_segments(&f, &app, &syn);
	a = tcb->iss + 1;
	fx_at(&f, 1089);
	assert_int_equal(fx_tcp_out(&f, NULL, NULL), 0);
	fx_at(&f, 1090);
	assert_int_equal(f.h.lc.cnt.tcp_tlp_probes, 1);
	assert_int_equal(fx_tcp_out(&f, &s, NULL), 1);
	assert_int_equal(s.seq, a + 1400);
	assert_int_equal(s.plen, 600);
	nh_clear_tx(&f.h);
	/* D-SACK for the probe, SACK for the second segment */
	memcpy(o, (const uint8_t[]){1, 1, 5, 18}, 4);
	for (unsigned k = 0; k < 2; k++) {
		uint32_t l = htonl(a + 1400), r = htonl(a + 2000);

		memcpy(o + 4 + 8 * k, &l, 4);
		memcpy(o + 8 + 8 * k, &r, 4);
	}
	fx_seg(&f, syn.sport, F_ACK, 5001, a, 60000, o, 20, 0);
	assert_int_equal(f.h.lc.cnt.tcp_early_rexmits, 1);
	assert_int_equal(f.h.lc.cnt.tcp_fast_rexmits, 1);
	assert_int_equal(fx_sent_at(&f, a), 1);
	assert_false(tcb->tlp_ep);
	assert_int_equal(f.h.lc.cnt.tcp_tlp_recoveries, 0);
	nh_clear_tx(&f.h);
	fx_seg(&f, syn.sport, F_ACK, 5001, a + 2000, 60000, NULL, 0, 0);
	assert_int_equal(f.h.lc.cnt.tcp_rto_timeouts, 0);
	fx_abort_down(&f, tcb);
}

/*
 * The second segment is lost and the first one's ACK too: the probe repairs the loss. Once
 * data sent after the probe is acknowledged with no D-SACK for it, the window is halved.
 */
static void
test_tail_loss_probe_repairs_a_loss(void **state)
{
	struct fx f;
	struct app app;
	struct seg syn;
	struct sp_tcb *tcb;
	struct rte_mbuf *m;
	uint32_t a, cwnd;

	(void)state;
	fx_up(&f, 6, 0, 1);
	tcb = fx_two_segments(&f, &app, &syn);
	a = tcb->iss + 1;
	fx_at(&f, 1090);
	assert_int_equal(fx_sent_at(&f, a + 1400), 1);
	nh_clear_tx(&f.h);
	cwnd = tcb->cwnd;
	fx_seg(&f, syn.sport, F_ACK, 5001, a + 2000, 60000, NULL, 0, 0);
	assert_true(tcb->tlp_ep); /* everything acknowledged, nothing past the probe yet */
	m = rte_pktmbuf_alloc(f.h.pool);
	memset(rte_pktmbuf_append(m, 500), 'b', 500);
	assert_int_equal(sp_tcp_send(f.tcp, tcb, m), 0);
	sp_lcore_tx_flush(&f.h.lc);
	nh_clear_tx(&f.h);
	fx_seg(&f, syn.sport, F_ACK, 5001, a + 2500, 60000, NULL, 0, 0);
	assert_false(tcb->tlp_ep);
	assert_int_equal(f.h.lc.cnt.tcp_tlp_recoveries, 1);
	assert_true(tcb->cwnd < cwnd);
	assert_int_equal(f.h.lc.cnt.tcp_rto_timeouts, 0);
	fx_abort_down(&f, tcb);
}

static void
test_source_port_owned_by_this_worker(void **state)
{
	struct fx f;
	struct app apps[24];
	uint16_t seen[24];

	(void)state;
	fx_up(&f, 6, 2, 4);
	for (unsigned i = 0; i < 24; i++) {
		struct sp_tcb *tcb = NULL;
		uint16_t rport = rte_cpu_to_be_16((uint16_t)(PEER_PORT + i % 3));

		memset(&apps[i], 0, sizeof(apps[i]));
		assert_int_equal(
		    sp_tcp_connect(f.tcp, 0, inet_addr(NH_PEER_IP), rport, &g_ops, &apps[i], &tcb),
		    0);
		apps[i].tcb = tcb;
		/* the peer's answer, hashed as a NIC or software steering hashes it */
		assert_int_equal(sp_rss_owner_ipv4(&f.rss, inet_addr(NH_PEER_IP),
						   inet_addr(NH_OUR_IP), rport, tcb->key.lport, 4),
				 2);
		seen[i] = tcb->key.lport;
		for (unsigned j = 0; j < i; j++) {
			assert_false(seen[j] == seen[i] && apps[j].tcb->key.rport == rport);
		}
	}
	for (unsigned i = 0; i < 24; i++) {
		sp_tcp_abort(f.tcp, apps[i].tcb);
		assert_int_equal(apps[i].closed, 1);
	}
	nh_clear_tx(&f.h);
	fx_down(&f);
}

static void
test_connect_errors(void **state)
{
	struct fx f;
	struct app app;
	struct sp_tcb *tcb = NULL;
	struct sp_tcp_ops no_connected = g_ops;
	struct sp_arp *arp;
	uint16_t port = rte_cpu_to_be_16(PEER_PORT);

	(void)state;
	memset(&app, 0, sizeof(app));
	no_connected.connected = NULL;
	fx_up(&f, 6, 0, 1);
	assert_int_equal(sp_tcp_connect(f.tcp, 1, inet_addr(NH_PEER_IP), port, &g_ops, &app, &tcb),
			 -EINVAL);
	assert_int_equal(
	    sp_tcp_connect(f.tcp, 0, inet_addr(NH_PEER_IP), port, &no_connected, &app, &tcb),
	    -EINVAL);
	assert_int_equal(
	    sp_tcp_connect(f.tcp, 0, inet_addr("198.19.0.1"), port, &g_ops, &app, &tcb),
	    -ENETUNREACH);
	assert_int_equal(sp_tcp_connect(f.tcp, 0, inet_addr(NH_OUR_IP), port, &g_ops, &app, &tcb),
			 -ENETUNREACH);
	assert_int_equal(
	    sp_tcp_connect(f.tcp, 0, inet_addr("198.18.0.255"), port, &g_ops, &app, &tcb),
	    -ENETUNREACH);
	assert_int_equal(
	    sp_tcp_connect(f.tcp, 0, inet_addr("198.18.0.0"), port, &g_ops, &app, &tcb),
	    -ENETUNREACH);
	assert_int_equal(sp_tcp_connect(f.tcp, 0, inet_addr(NH_PEER_IP), 0, &g_ops, &app, &tcb),
			 -ENETUNREACH);
	arp = f.h.lc.arp;
	f.h.lc.arp = NULL;
	assert_int_equal(sp_tcp_connect(f.tcp, 0, inet_addr(NH_PEER_IP), port, &g_ops, &app, &tcb),
			 -EHOSTUNREACH);
	f.h.lc.arp = arp;
	assert_null(tcb);
	assert_int_equal(f.h.lc.cnt.tcp_active_opens, 0);
	fx_down(&f);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_handshake_and_data),
	    cmocka_unit_test(test_refused_and_bad_answers),
	    cmocka_unit_test(test_syn_retransmission_and_timeout),
	    cmocka_unit_test(test_simultaneous_open),
	    cmocka_unit_test(test_simultaneous_open_answered_by_synack),
	    cmocka_unit_test(test_fin_wait_2_lives_while_the_peer_sends),
	    cmocka_unit_test(test_acks_coalesced_per_rx_burst),
	    cmocka_unit_test(test_lost_resend_after_rto_resent_at_once),
	    cmocka_unit_test(test_dsack_reports_duplicates),
	    cmocka_unit_test(test_tail_loss_probe_and_early_retransmit),
	    cmocka_unit_test(test_tail_loss_probe_repairs_a_loss),
	    cmocka_unit_test(test_source_port_owned_by_this_worker),
	    cmocka_unit_test(test_connect_errors),
	};

	(void)argc;
	sp_test_eal_init(argv[0]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
