/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: TCP active opens (dataplane/tcp sp_tcp_connect, SYN-SENT, simultaneous
 * open) against an arbitrary peer. The input is a sequence of operations on one worker's
 * stack on the test harness (an ARP cache, a fake millisecond clock):
 *   connect   open a connection to the peer (198.18.0.1) on one of 4 ports (up to 8 live)
 *   segment   a segment from the peer to one of the connections' ports (or a random one):
 *             flags; seq absolute or relative to what the peer sent so far; ack relative to
 *             the connection's ISN (-2..+5) or absolute; window; up to 40 bytes of raw
 *             options; 0..200 payload bytes; sometimes a bad checksum
 *   time      advance the clock 0..20 s (timers fire: SYN retransmission and give-up)
 *   app       on a connection: send bytes (only once connected), close, abort
 *   arp       the peer answers (or announces) its address
 * Header: 1 byte tcp_syn_retries (1..8), 2 bytes seed for rte_rand (ISNs, ports).
 *
 * Invariants (SP_VERIFY): every callback is for a live connection of ours; connected() at
 * most once, only before closed(), with the TCB ESTABLISHED; closed() exactly once, and
 * nothing after it; send() on a connected connection never fails but for buffer space; every
 * transmitted frame is IPv4/TCP from our address to the peer's, with right checksums; a SYN
 * we send is at the ISN and port of one of our connects (a SYN held in the ARP queue may leave
 * after its connection closed, as in other stacks: the peer's answer then gets a RST); after
 * sp_tcp_destroy every connection has had its closed(), and no mbuf is in use.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_random.h>
#include <rte_tcp.h>

#include <spate/assert.h>

#include "net/arp.h"
#include "net/net.h"
#include "tcp/tcp.h"
#include "tcp/tcp_internal.h"
#include "tcp/tcp_stack.h"
#include "../unit/dataplane/net_harness.h"
#include "../unit/sp_test.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FA_CONNS    8
#define FA_OPS_MAX  512
#define FA_PLEN_MAX 200

struct fa_app {
	struct sp_tcb *tcb; /* NULL once closed() came (or before connect) */
	bool used, connected, closed;
	uint32_t iss;      /* the ISN of its SYN */
	uint16_t lport;    /* network order */
	uint32_t peer_nxt; /* the peer's next sequence number, as the peer sees it */
};

static struct nh g_h;
static struct sp_tcp *g_tcp;
static struct fa_app g_apps[FA_CONNS];
static struct {
	uint16_t lport;
	uint32_t iss;
} g_hist[FA_OPS_MAX]; /* every connect of this input */
static unsigned g_nhist;
static const uint8_t *g_in;
static size_t g_in_n;

static uint64_t
fa_take(unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++) {
		v <<= 8;
		if (g_in_n > 0) {
			v |= *g_in++;
			g_in_n--;
		}
	}
	return v;
}

static struct fa_app *
fa_app_of(void *a, struct sp_tcb *tcb)
{
	struct fa_app *app = a;

	SP_VERIFY(app >= g_apps && app < g_apps + FA_CONNS && app->used);
	SP_VERIFY(!app->closed && app->tcb == tcb);
	return app;
}

static void
fa_recv(void *a, struct sp_tcb *tcb, struct rte_mbuf *chain, uint32_t len)
{
	struct fa_app *app = fa_app_of(a, tcb);

	SP_VERIFY(app->connected && chain->pkt_len == len);
	rte_pktmbuf_free(chain);
	sp_tcp_recved(g_tcp, tcb, len);
}

static void
fa_closed(void *a, struct sp_tcb *tcb, int reason)
{
	struct fa_app *app = fa_app_of(a, tcb);

	SP_VERIFY(reason >= SP_TCP_CLOSE_NORMAL && reason <= SP_TCP_CLOSE_REFUSED);
	/* refused and timed-out opens never connected; a connection that did was not refused */
	SP_VERIFY(reason != SP_TCP_CLOSE_REFUSED || !app->connected);
	app->closed = true;
	app->tcb = NULL;
}

static void
fa_connected(void *a, struct sp_tcb *tcb)
{
	struct fa_app *app = fa_app_of(a, tcb);

	SP_VERIFY(!app->connected && tcb->state == SP_TCP_ESTABLISHED);
	app->connected = true;
}

static const struct sp_tcp_ops fa_ops = {
    .recv = fa_recv, .closed = fa_closed, .connected = fa_connected};

/* Check and free every frame the worker transmitted. */
static void
fa_check_tx(void)
{
	sp_lcore_tx_flush(&g_h.lc);
	for (unsigned i = 0; i < g_h.io.tx_n; i++) {
		struct rte_mbuf *m = g_h.io.tx[i];
		const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(eth + 1);
		const struct rte_tcp_hdr *th;
		uint8_t flat[2048];
		const uint8_t *p;

		if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_ARP)) {
			rte_pktmbuf_free(m);
			continue;
		}
		SP_VERIFY(eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4));
		SP_VERIFY(m->pkt_len <= sizeof(flat));
		p = rte_pktmbuf_read(m, 0, m->pkt_len, flat);
		ip = (const struct rte_ipv4_hdr *)(p + sizeof(*eth));
		th = (const struct rte_tcp_hdr *)(ip + 1);
		SP_VERIFY(ip->next_proto_id == IPPROTO_TCP);
		SP_VERIFY(ip->src_addr == inet_addr(NH_OUR_IP) &&
			  ip->dst_addr == inet_addr(NH_PEER_IP));
		{
			struct rte_ipv4_hdr h = *ip;

			h.hdr_checksum = 0;
			SP_VERIFY(rte_ipv4_cksum(&h) == ip->hdr_checksum);
		}
		SP_VERIFY(sp_tcp_cksum_ok(ip, th, rte_be_to_cpu_16(ip->total_length) - 20u));
		if (th->tcp_flags & RTE_TCP_SYN_FLAG) {
			bool ours = false;

			/*
			 * A SYN (or SYN-ACK) of ours is at the ISN of one of our connects: perhaps
			 * of one already closed, if the SYN waited in the ARP queue meanwhile.
			 */
			for (unsigned k = 0; k < g_nhist; k++) {
				ours |= g_hist[k].lport == th->src_port &&
					g_hist[k].iss == rte_be_to_cpu_32(th->sent_seq);
			}
			SP_VERIFY(ours);
		}
		rte_pktmbuf_free(m);
	}
	g_h.io.tx_n = 0;
}

static void
fa_in(const uint8_t *frame, uint16_t len)
{
	sp_net_input(&g_h.lc, 0, nh_mbuf(&g_h, frame, len));
	fa_check_tx();
}

static void
op_connect(void)
{
	unsigned c = (unsigned)fa_take(1) % FA_CONNS;
	uint16_t port = rte_cpu_to_be_16((uint16_t)(8000 + fa_take(1) % 4));
	struct fa_app *app = &g_apps[c];
	struct sp_tcb *tcb = NULL;
	int rc;

	if (app->used && !app->closed) {
		return;
	}
	memset(app, 0, sizeof(*app));
	app->used = true;
	rc = sp_tcp_connect(g_tcp, 0, inet_addr(NH_PEER_IP), port, &fa_ops, app, &tcb);
	if (rc != 0) {
		SP_VERIFY(rc == -EADDRNOTAVAIL || rc == -ENOSPC);
		app->used = false;
		return;
	}
	SP_VERIFY(tcb->state == SP_TCP_SYN_SENT && tcb->app == app);
	app->tcb = tcb;
	app->iss = tcb->iss;
	app->lport = tcb->key.lport;
	SP_VERIFY(g_nhist < FA_OPS_MAX);
	g_hist[g_nhist].lport = app->lport;
	g_hist[g_nhist].iss = app->iss;
	g_nhist++;
	app->peer_nxt = (uint32_t)fa_take(4);
	fa_check_tx();
}

static void
op_segment(void)
{
	uint8_t buf[RTE_ETHER_HDR_LEN + 20 + 60 + FA_PLEN_MAX];
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)buf;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);
	unsigned c = (unsigned)fa_take(1) % (FA_CONNS + 1);
	uint8_t how = (uint8_t)fa_take(1);
	uint8_t flags = (uint8_t)fa_take(1);
	unsigned optlen = ((unsigned)fa_take(1) % 11) * 4;
	unsigned plen = (unsigned)fa_take(1) % (FA_PLEN_MAX + 1);
	struct fa_app *app = c < FA_CONNS && g_apps[c].used ? &g_apps[c] : NULL;
	uint32_t seq, ack;

	memset(buf, 0, sizeof(buf));
	seq = (how & 1) || app == NULL ? (uint32_t)fa_take(4)
				       : app->peer_nxt + (uint32_t)(int8_t)fa_take(1);
	ack = (how & 2) || app == NULL ? (uint32_t)fa_take(4)
				       : app->iss + (uint32_t)((int)(fa_take(1) % 8) - 2);
	eth->dst_addr = g_h.ifc.mac;
	eth->src_addr = (struct rte_ether_addr){{2, 0, 0, 0, 0, 1}};
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(40u + optlen + plen));
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = inet_addr(NH_PEER_IP);
	ip->dst_addr = inet_addr(NH_OUR_IP);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	th->src_port = rte_cpu_to_be_16((uint16_t)(8000 + (how >> 2) % 4));
	th->dst_port = app != NULL ? app->lport : (uint16_t)fa_take(2);
	th->sent_seq = rte_cpu_to_be_32(seq);
	th->recv_ack = rte_cpu_to_be_32(ack);
	th->data_off = (uint8_t)(((20u + optlen) / 4u) << 4);
	th->tcp_flags = flags;
	th->rx_win = rte_cpu_to_be_16((uint16_t)fa_take(2));
	for (unsigned i = 0; i < optlen; i++) {
		((uint8_t *)(th + 1))[i] = (uint8_t)fa_take(1);
	}
	memset((uint8_t *)(th + 1) + optlen, 'p', plen);
	th->cksum = rte_ipv4_udptcp_cksum(ip, th);
	if ((how & 0xe0) == 0xe0) {
		th->cksum ^= 0x0101; /* a corrupted segment */
	}
	if (app != NULL && (flags & RTE_TCP_SYN_FLAG) && !(how & 1)) {
		app->peer_nxt = seq + 1 + plen;
	} else if (app != NULL && !(how & 1)) {
		app->peer_nxt = seq + plen;
	}
	fa_in(buf, (uint16_t)(RTE_ETHER_HDR_LEN + 40u + optlen + plen));
}

static void
op_time(void)
{
	uint64_t until = nh_now_ms + fa_take(2) % 20001;

	while (nh_now_ms < until) {
		nh_now_ms = SP_MIN(until, nh_now_ms + 250);
		sp_arp_timers(&g_h.lc);
		sp_tcp_timers(g_tcp);
		fa_check_tx();
	}
}

static void
op_app(void)
{
	struct fa_app *app = &g_apps[fa_take(1) % FA_CONNS];
	uint8_t what = (uint8_t)fa_take(1) % 3;

	if (!app->used || app->closed || app->tcb == NULL) {
		return;
	}
	if (what == 0 && app->connected) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(g_h.pool);
		uint16_t n = (uint16_t)(1 + fa_take(2) % 1400);
		int rc;

		SP_VERIFY(m != NULL);
		memset(rte_pktmbuf_append(m, n), 's', n);
		rc = sp_tcp_send(g_tcp, app->tcb, m);
		if (rc != 0) {
			SP_VERIFY(rc == -ENOBUFS || rc == -EPIPE);
			rte_pktmbuf_free(m);
		}
	} else if (what == 1) {
		int rc = sp_tcp_close(g_tcp, app->tcb);

		SP_VERIFY(rc == 0 || rc == -EPIPE);
	} else {
		sp_tcp_abort(g_tcp, app->tcb);
		SP_VERIFY(app->closed);
	}
	fa_check_tx();
}

static void
op_arp(void)
{
	uint8_t buf[64];
	uint16_t op = (fa_take(1) & 1) ? RTE_ARP_OP_REPLY : RTE_ARP_OP_REQUEST;

	fa_in(buf, nh_build_arp(&g_h, buf, op, NH_OUR_IP));
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	sp_test_eal_init((*argv)[0]);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sp_arp_conf ac = {.entries = 16, .reachable_ms = 30000, .probes = 3, .seed = 3};
	struct sp_tcp_conf tc = {
	    .max_conns = 16,
	    .rcv_buf = 16384,
	    .snd_buf = 16384,
	    .syn_backlog = 8,
	    .reass_segs = 64,
	    .clone_mbufs = 1023,
	    .nb_workers = 1,
	};

	g_in = data;
	g_in_n = size;
	tc.syn_retries = 1 + (uint32_t)(fa_take(1) % 8);
	rte_srand(fa_take(2) + 1);
	nh_now_ms = 1000;
	memset(g_apps, 0, sizeof(g_apps));
	g_nhist = 0;
	nh_init(&g_h, false);
	g_h.lc.clk.ops = &nh_ms_clock;
	SP_VERIFY(sp_arp_create(&g_h.lc.arp, &g_h.lc, &ac) == 0);
	SP_VERIFY(sp_tcp_create(&g_tcp, &g_h.lc, &tc) == 0);
	g_h.lc.tcp = g_tcp;
	for (unsigned n = 0; n < FA_OPS_MAX && g_in_n > 0; n++) {
		switch (fa_take(1) % 6) {
		case 0:
			op_connect();
			break;
		case 1:
		case 2:
			op_segment();
			break;
		case 3:
			op_time();
			break;
		case 4:
			op_app();
			break;
		default:
			op_arp();
			break;
		}
	}
	sp_tcp_destroy(g_tcp); /* every live connection gets closed() */
	g_h.lc.tcp = NULL;
	fa_check_tx();
	for (unsigned c = 0; c < FA_CONNS; c++) {
		SP_VERIFY(!g_apps[c].used || g_apps[c].closed);
	}
	sp_arp_destroy(g_h.lc.arp);
	g_h.lc.arp = NULL;
	nh_fini(&g_h); /* verifies no mbuf of the worker's pool is in use */
	return 0;
}
