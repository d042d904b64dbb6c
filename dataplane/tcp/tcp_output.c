/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Segment output: building headers and options, slicing the send queue into segments without
 * copying (indirect mbufs referencing the queued data; a copy only where the port cannot send
 * chains), the send loop bounded by the peer's window and the congestion window, ACKs and
 * window updates, RSTs, and the retransmission timeout (RFC 6298 5). No Nagle: responses go
 * out as soon as they are queued. Runs on the worker that owns the connection.
 */
#include <string.h>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include <spate/assert.h>

#include "../net/arp.h"
#include "tcp_internal.h"

#define TCP_TTL 64
#define HDRS_LEN                                                                                   \
	(sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_tcp_hdr))

struct tcp_seg {
	unsigned ifidx;
	const struct rte_ether_addr *dst_mac; /* hint for a neighbour-cache miss, or NULL */
	uint32_t saddr, daddr;                /* network order */
	uint16_t sport, dport;                /* network order */
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t wnd;
	const uint8_t *opts;
	unsigned optlen;
	struct rte_mbuf *payload; /* chain, consumed */
	uint32_t plen;
};

/* Build and queue one segment. Takes ownership of s->payload. Returns 0 or -ENOBUFS. */
static int
tcp_xmit(struct sp_tcp *tcp, const struct tcp_seg *s)
{
	struct sp_lcore *lc = tcp->lc;
	const struct sp_iface *ifc = &lc->ifaces[s->ifidx];
	unsigned thlen = sizeof(struct rte_tcp_hdr) + s->optlen;
	struct rte_mbuf *m = rte_pktmbuf_alloc(lc->pool);
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;
	struct rte_tcp_hdr *th;

	SP_VERIFY(s->optlen % 4 == 0 && s->optlen <= SP_TCP_OPT_MAX_BYTES);
	if (m == NULL || rte_pktmbuf_append(m, (uint16_t)(HDRS_LEN + s->optlen)) == NULL) {
		lc->cnt.tcp_drop_mbuf++;
		rte_pktmbuf_free(m);
		rte_pktmbuf_free(s->payload);
		return -ENOBUFS;
	}
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	ip = (struct rte_ipv4_hdr *)(eth + 1);
	th = (struct rte_tcp_hdr *)(ip + 1);
	rte_ether_addr_copy(&ifc->mac, &eth->src_addr);
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = 0x45;
	ip->type_of_service = 0;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + thlen + s->plen));
	ip->packet_id = 0; /* RFC 6864: atomic datagrams (DF set) need no ID */
	ip->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = TCP_TTL;
	ip->next_proto_id = IPPROTO_TCP;
	ip->hdr_checksum = 0;
	ip->src_addr = s->saddr;
	ip->dst_addr = s->daddr;
	th->src_port = s->sport;
	th->dst_port = s->dport;
	th->sent_seq = rte_cpu_to_be_32(s->seq);
	th->recv_ack = rte_cpu_to_be_32(s->ack);
	th->data_off = (uint8_t)((thlen / 4) << 4);
	th->tcp_flags = s->flags;
	th->rx_win = rte_cpu_to_be_16(s->wnd);
	th->cksum = 0;
	th->tcp_urp = 0;
	if (s->optlen > 0) {
		memcpy(th + 1, s->opts, s->optlen);
	}
	if (s->payload != NULL) {
		if (ifc->tx_multiseg) {
			int rc = rte_pktmbuf_chain(m, s->payload);
			SP_VERIFY(rc == 0);
		} else {
			char *dst = rte_pktmbuf_append(m, (uint16_t)s->plen);
			const void *src;

			SP_VERIFY(dst != NULL);
			/* rte_pktmbuf_read copies only when the bytes are not contiguous: otherwise
			 * it returns a pointer to them and dst is left untouched. */
			src = rte_pktmbuf_read(s->payload, 0, s->plen, dst);
			SP_VERIFY(src != NULL);
			if (src != dst) {
				memcpy(dst, src, s->plen);
			}
			rte_pktmbuf_free(s->payload);
		}
	}
	SP_VERIFY(m->pkt_len == HDRS_LEN + s->optlen + s->plen);
	/* Never build a frame the link cannot carry: a port refuses it and the frames behind it. */
	SP_VERIFY(m->pkt_len <= RTE_ETHER_HDR_LEN + RTE_ETHER_MTU);
	m->l2_len = sizeof(*eth);
	m->l3_len = sizeof(*ip);
	m->l4_len = thlen;
	m->ol_flags = RTE_MBUF_F_TX_IPV4;
	if (ifc->tx_ipv4_cksum) {
		m->ol_flags |= RTE_MBUF_F_TX_IP_CKSUM;
	} else {
		ip->hdr_checksum = rte_ipv4_cksum(ip);
	}
	if (ifc->tx_tcp_cksum) {
		m->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM;
		th->cksum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
	} else {
		th->cksum = sp_tcp_cksum_mbuf(m, ip, sizeof(*eth) + sizeof(*ip));
	}
	lc->cnt.tcp_out_segs++;
	if (s->flags & RTE_TCP_RST_FLAG) {
		lc->cnt.tcp_out_rsts++;
	}
	/* The ARP cache addresses the frame; the hint covers a miss (docs/internals/arp.md). */
	sp_arp_output(lc, s->ifidx, s->daddr, m, s->dst_mac);
	return 0;
}

uint32_t
sp_tcp_rcv_window(const struct sp_tcp *tcp, const struct sp_tcb *tcb)
{
	uint32_t used = tcb->rcv_unread + sp_reass_bytes(&tcb->ooo);

	return used >= tcp->conf.rcv_buf ? 0 : tcp->conf.rcv_buf - used;
}

/*
 * The window to advertise now, as a right edge. Never moves the edge left (RFC 9293
 * 3.8.6.2.2), and moves it right only by at least min(rcv_buf / 2, MSS): receiver-side
 * silly-window avoidance (RFC 9293 3.8.6.2.2, RFC 1122 4.2.3.3).
 */
static uint32_t
tcp_rcv_edge(const struct sp_tcp *tcp, const struct sp_tcb *tcb)
{
	uint32_t edge = tcb->rcv_nxt + sp_tcp_rcv_window(tcp, tcb);
	uint32_t step = SP_MIN(tcp->conf.rcv_buf / 2, (uint32_t)tcb->mss);

	if (sp_seq_leq(edge, tcb->rcv_adv)) {
		return tcb->rcv_adv;
	}
	if (sp_seq_lt(tcb->rcv_adv, tcb->rcv_nxt) || edge - tcb->rcv_adv >= step) {
		return edge;
	}
	return tcb->rcv_adv;
}

/*
 * Write a 12-byte timestamps option (RFC 7323 3.2) at o + n, preceded by the two bytes
 * p0 p1 (NOP NOP, or SACK-permitted on a SYN). Returns the new length.
 */
static unsigned
tcp_opt_ts(const struct sp_tcp *tcp, const struct sp_tcb *tcb, uint8_t *o, unsigned n, uint8_t p0,
	   uint8_t p1)
{
	uint32_t val = rte_cpu_to_be_32(sp_tcp_ts_now(tcp));
	uint32_t ecr = rte_cpu_to_be_32(tcb->ts_recent);

	o[n++] = p0;
	o[n++] = p1;
	o[n++] = 8;
	o[n++] = 10;
	memcpy(o + n, &val, 4);
	memcpy(o + n + 4, &ecr, 4);
	return n + 8;
}

void
sp_tcp_dsack_dup(struct sp_tcp *tcp, struct sp_tcb *tcb, uint32_t seq, uint32_t end)
{
	/* Only what could be a resend of data of the last window; older junk is no news. */
	if (!tcb->sack_ok || !sp_seq_lt(seq, tcb->rcv_nxt) || !sp_seq_lt(seq, end) ||
	    tcb->rcv_nxt - seq > tcp->conf.rcv_buf) {
		return;
	}
	end = sp_seq_min(end, tcb->rcv_nxt);
	if (tcb->dsack && sp_seq_leq(tcb->dsack_l, end) && sp_seq_leq(seq, tcb->dsack_r)) {
		/* Overlapping or adjacent to the one not yet reported: one block for both. */
		seq = sp_seq_min(seq, tcb->dsack_l);
		end = sp_seq_max(end, tcb->dsack_r);
	}
	tcb->dsack = true;
	tcb->dsack_l = seq;
	tcb->dsack_r = end;
	tcb->ack_now = true; /* the sender learns at once that it resent needlessly */
	tcp->lc->cnt.tcp_dsack_sent++;
}

/*
 * Options of a non-SYN segment: timestamps, then SACK blocks — a D-SACK first when duplicate
 * data arrived (RFC 2883 4: reported once, in the next ACK), then the queued data's blocks.
 * Returns their length.
 */
static unsigned
tcp_opts_data(struct sp_tcp *tcp, struct sp_tcb *tcb, uint8_t *o)
{
	unsigned n = 0;

	if (tcb->ts_ok) {
		n = tcp_opt_ts(tcp, tcb, o, n, 1, 1);
	}
	if (tcb->sack_ok && (tcb->dsack || !sp_reass_empty(&tcb->ooo))) {
		struct sp_sack_block b[SP_TCP_SACK_BLOCKS_MAX];
		unsigned max = tcb->ts_ok ? 3 : 4, nb = 0;

		if (tcb->dsack && sp_seq_leq(tcb->dsack_r, tcb->rcv_nxt)) {
			b[nb].left = tcb->dsack_l;
			b[nb++].right = tcb->dsack_r;
		}
		tcb->dsack = false;
		if (!sp_reass_empty(&tcb->ooo)) {
			nb += sp_reass_sack_blocks(&tcb->ooo, b + nb, max - nb);
		}
		if (nb > 0) {
			o[n++] = 1;
			o[n++] = 1;
			o[n++] = 5;
			o[n++] = (uint8_t)(2 + 8 * nb);
			for (unsigned i = 0; i < nb; i++) {
				uint32_t l = rte_cpu_to_be_32(b[i].left);
				uint32_t r = rte_cpu_to_be_32(b[i].right);
				memcpy(o + n, &l, 4);
				memcpy(o + n + 4, &r, 4);
				n += 8;
			}
		}
	}
	SP_VERIFY(n <= SP_TCP_OPT_MAX_BYTES && n % 4 == 0);
	return n;
}

static void
tcp_seg_init(struct tcp_seg *s, const struct sp_tcb *tcb)
{
	memset(s, 0, sizeof(*s));
	s->ifidx = tcb->key.ifidx;
	/* The SYN's source MAC for a passive open; none (zero) for an active one. */
	s->dst_mac = rte_is_zero_ether_addr(&tcb->peer_mac) ? NULL : &tcb->peer_mac;
	s->saddr = sp_tcp_key_laddr4(&tcb->key);
	s->daddr = sp_tcp_key_raddr4(&tcb->key);
	s->sport = tcb->key.lport;
	s->dport = tcb->key.rport;
}

/* Fill ack, window and options of a segment from the TCB and note what it advertised. */
static void
tcp_seg_ack(struct sp_tcp *tcp, struct sp_tcb *tcb, struct tcp_seg *s, uint8_t *opts)
{
	uint32_t edge = tcp_rcv_edge(tcp, tcb);
	uint32_t unit = 1u << tcb->rcv_wscale;
	/* Round up where rounding down would move the advertised right edge left. */
	uint32_t wnd = sp_seq_lt(tcb->rcv_nxt + ((edge - tcb->rcv_nxt) & ~(unit - 1)), tcb->rcv_adv)
			   ? (edge - tcb->rcv_nxt + unit - 1) >> tcb->rcv_wscale
			   : (edge - tcb->rcv_nxt) >> tcb->rcv_wscale;

	s->ack = tcb->rcv_nxt;
	s->flags |= RTE_TCP_ACK_FLAG;
	s->wnd = (uint16_t)SP_MIN(wnd, 65535u);
	tcb->rcv_adv = tcb->rcv_nxt + ((uint32_t)s->wnd << tcb->rcv_wscale);
	s->opts = opts;
	s->optlen = tcp_opts_data(tcp, tcb, opts);
	/* Every segment we send carries this ACK: nothing left to delay. */
	tcb->unacked_segs = 0;
	tcb->ack_now = false;
	sp_tw_cancel(&tcp->wheel, &tcb->t_delack);
}

void
sp_tcp_send_ack(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	uint8_t opts[SP_TCP_OPT_MAX_BYTES];
	struct tcp_seg s;

	tcp_seg_init(&s, tcb);
	s.seq = tcb->snd_nxt;
	tcp_seg_ack(tcp, tcb, &s, opts);
	(void)tcp_xmit(tcp, &s);
}

void
sp_tcp_send_probe(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	uint8_t opts[SP_TCP_OPT_MAX_BYTES];
	struct tcp_seg s;

	tcp_seg_init(&s, tcb);
	s.seq = tcb->snd_una - 1;
	tcp_seg_ack(tcp, tcb, &s, opts);
	(void)tcp_xmit(tcp, &s);
}

void
sp_tcp_send_rst(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	struct tcp_seg s;

	tcp_seg_init(&s, tcb);
	s.seq = tcb->snd_max;
	s.ack = tcb->rcv_nxt;
	s.flags = RTE_TCP_RST_FLAG | RTE_TCP_ACK_FLAG;
	(void)tcp_xmit(tcp, &s);
}

/*
 * A SYN or SYN-ACK at iss. Options: MSS, then SACK-permitted and timestamps, then window scale
 * (the layout Linux uses): all of them on our SYN (an offer), the negotiated ones on a SYN-ACK.
 */
static void
tcp_send_syn_seg(struct sp_tcp *tcp, struct sp_tcb *tcb, bool ack, bool ts, bool sack, bool ws)
{
	uint8_t o[SP_TCP_OPT_MAX_BYTES];
	unsigned n = 0;
	uint16_t mss = rte_cpu_to_be_16(SP_TCP_MSS_MAX);
	struct tcp_seg s;

	o[n++] = 2;
	o[n++] = 4;
	memcpy(o + n, &mss, 2);
	n += 2;
	if (ts) {
		/* SACK-permitted (if any) takes the place of the two NOPs before timestamps. */
		n = tcp_opt_ts(tcp, tcb, o, n, sack ? 4 : 1, sack ? 2 : 1);
	} else if (sack) {
		o[n++] = 1;
		o[n++] = 1;
		o[n++] = 4;
		o[n++] = 2;
	}
	if (ws) {
		o[n++] = 1;
		o[n++] = 3;
		o[n++] = 3;
		o[n++] = tcb->rcv_wscale;
	}
	SP_VERIFY(n % 4 == 0);
	tcp_seg_init(&s, tcb);
	s.seq = tcb->iss;
	s.ack = ack ? tcb->rcv_nxt : 0;
	s.flags = RTE_TCP_SYN_FLAG | (ack ? RTE_TCP_ACK_FLAG : 0);
	/* RFC 7323 2.2: the window in a SYN is never scaled. */
	s.wnd = (uint16_t)SP_MIN(sp_tcp_rcv_window(tcp, tcb), 65535u);
	tcb->rcv_adv = tcb->rcv_nxt + s.wnd;
	s.opts = o;
	s.optlen = n;
	(void)tcp_xmit(tcp, &s);
}

void
sp_tcp_send_synack(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	tcp_send_syn_seg(tcp, tcb, true, tcb->ts_ok, tcb->sack_ok,
			 tcb->rcv_wscale != 0 || tcb->snd_wscale != 0);
}

void
sp_tcp_send_syn(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	/* RFC 7323 2.2: offer window scaling even with a shift of 0, so the peer may scale */
	tcp_send_syn_seg(tcp, tcb, false, true, true, true);
}

void
sp_tcp_reply_rst(struct sp_tcp *tcp, unsigned ifidx, const struct rte_ether_hdr *eth,
		 const struct rte_ipv4_hdr *ip, const struct rte_tcp_hdr *th, uint32_t seg_len)
{
	struct tcp_seg s;

	memset(&s, 0, sizeof(s));
	s.ifidx = ifidx;
	s.dst_mac = &eth->src_addr;
	s.saddr = ip->dst_addr;
	s.daddr = ip->src_addr;
	s.sport = th->dst_port;
	s.dport = th->src_port;
	/* RFC 9293 3.10.7.1 */
	if (th->tcp_flags & RTE_TCP_ACK_FLAG) {
		s.seq = rte_be_to_cpu_32(th->recv_ack);
		s.flags = RTE_TCP_RST_FLAG;
	} else {
		s.seq = 0;
		s.ack = rte_be_to_cpu_32(th->sent_seq) + seg_len;
		s.flags = RTE_TCP_RST_FLAG | RTE_TCP_ACK_FLAG;
	}
	(void)tcp_xmit(tcp, &s);
}

/* Indirect mbufs covering [off, off + len) of the send queue (off from snd_una). */
static struct rte_mbuf *
tcp_sndq_slice(struct sp_tcp *tcp, struct sp_tcb *tcb, uint32_t off, uint32_t len)
{
	struct rte_mbuf *m = tcb->sndq_head, *head = NULL, *tail = NULL;
	uint32_t skip = tcb->sndq_skip + off;

	while (m != NULL && skip >= m->data_len) {
		skip -= m->data_len;
		m = m->next;
	}
	while (len > 0) {
		struct rte_mbuf *c;
		uint32_t n;

		SP_VERIFY(m != NULL);
		n = SP_MIN(len, (uint32_t)m->data_len - skip);
		c = rte_pktmbuf_alloc(tcp->clone_pool);
		if (c == NULL) {
			tcp->lc->cnt.tcp_drop_mbuf++;
			rte_pktmbuf_free(head);
			return NULL;
		}
		rte_pktmbuf_attach(c, m);
		c->data_off = (uint16_t)(c->data_off + skip);
		c->data_len = (uint16_t)n;
		c->pkt_len = n;
		if (head == NULL) {
			head = c;
		} else {
			tail->next = c;
			head->nb_segs++;
			head->pkt_len += n;
		}
		tail = c;
		len -= n;
		skip = 0;
		m = m->next;
	}
	return head;
}

void
sp_tcp_sndq_drop(struct sp_tcp *tcp, struct sp_tcb *tcb, uint32_t n)
{
	(void)tcp;
	SP_VERIFY(n <= tcb->sndq_bytes);
	tcb->sndq_bytes -= n;
	n += tcb->sndq_skip;
	while (tcb->sndq_head != NULL && n >= tcb->sndq_head->data_len) {
		struct rte_mbuf *m = tcb->sndq_head;

		n -= m->data_len;
		tcb->sndq_head = m->next;
		m->next = NULL;
		m->nb_segs = 1;
		m->pkt_len = m->data_len;
		rte_pktmbuf_free_seg(m);
	}
	if (tcb->sndq_head == NULL) {
		tcb->sndq_tail = NULL;
		SP_VERIFY(tcb->sndq_bytes == 0 && n == 0);
	}
	tcb->sndq_skip = n;
}

/*
 * Send one segment of queued data starting at seq: at most len bytes, fewer if the options
 * leave less room (RFC 6691: MSS counts data only, options come out of it), and FIN if the
 * segment reaches the end of the stream and fin is asked. Returns the payload bytes sent, or
 * a negative errno; *fin_sent says whether FIN went out.
 */
static int
tcp_send_data(struct sp_tcp *tcp, struct sp_tcb *tcb, uint32_t seq, uint32_t len, bool fin,
	      bool *fin_sent)
{
	uint8_t opts[SP_TCP_OPT_MAX_BYTES];
	struct tcp_seg s;
	int rc;

	tcp_seg_init(&s, tcb);
	s.seq = seq;
	tcp_seg_ack(tcp, tcb, &s, opts);
	if (len + s.optlen > tcb->mss) {
		len = tcb->mss > s.optlen ? tcb->mss - (uint32_t)s.optlen : 0;
		fin = false; /* the FIN follows the bytes this segment could not carry */
	}
	if (len > 0) {
		s.payload = tcp_sndq_slice(tcp, tcb, seq - tcb->snd_una, len);
		if (s.payload == NULL) {
			return -ENOBUFS;
		}
		s.plen = len;
		s.flags |= RTE_TCP_PSH_FLAG;
	}
	if (fin) {
		s.flags |= RTE_TCP_FIN_FLAG;
	}
	if (sp_seq_lt(seq, tcb->snd_max)) {
		tcp->lc->cnt.tcp_retrans_segs++;
	}
	SP_VERIFY(s.plen + s.optlen <= tcb->mss);
	rc = tcp_xmit(tcp, &s);
	if (rc != 0) {
		return rc;
	}
	if (fin_sent != NULL) {
		*fin_sent = fin;
	}
	return (int)len;
}

void
sp_tcp_send_segment(struct sp_tcp *tcp, struct sp_tcb *tcb, uint32_t seq, uint32_t len, bool fin)
{
	(void)tcp_send_data(tcp, tcb, seq, len, fin, NULL);
}

static bool
tcp_can_send_data(enum sp_tcp_state s)
{
	return s == SP_TCP_ESTABLISHED || s == SP_TCP_CLOSE_WAIT || s == SP_TCP_FIN_WAIT_1 ||
	       s == SP_TCP_CLOSING || s == SP_TCP_LAST_ACK;
}

/*
 * Resend the already-sent sequence range [s, e) (e <= snd_max; it may end with our FIN).
 * Returns the sequence space covered (payload, plus one for a FIN), or a negative errno.
 */
static int
tcp_resend(struct sp_tcp *tcp, struct sp_tcb *tcb, uint32_t s, uint32_t e)
{
	uint32_t data_end = tcb->snd_una + tcb->sndq_bytes;
	uint32_t len = sp_seq_lt(s, data_end) ? sp_seq_min(e, data_end) - s : 0;
	bool fin = tcb->fin_sent && sp_seq_gt(e, data_end);
	int n;

	SP_VERIFY(sp_seq_leq(tcb->snd_una, s) && sp_seq_lt(s, e) && sp_seq_leq(e, tcb->snd_max));
	n = tcp_send_data(tcp, tcb, s, len, fin, &fin);
	return n < 0 ? n : n + (fin ? 1 : 0);
}

/* tcp_resend for SACK recovery: counted, and a resend at snd_una noted (rxt_*). */
static int
tcp_sack_resend(struct sp_tcp *tcp, struct sp_tcb *tcb, uint32_t s, uint32_t e)
{
	int n = tcp_resend(tcp, tcb, s, e);

	if (n < 0) {
		return n;
	}
	tcp->lc->cnt.tcp_sack_rexmits++;
	if (s == tcb->snd_una) {
		tcb->rxt_una = s;
		tcb->rxt_max = tcb->snd_max;
		tcb->rxt_head_end = s + (uint32_t)n;
		tcb->rxt_head_lost = false;
	}
	if (!sp_tw_armed(&tcb->t_rexmt)) {
		sp_tcp_arm_rexmt(tcp, tcb, tcb->rto_ms);
	}
	return n;
}

void
sp_tcp_sack_rexmit_first(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	uint32_t s = tcb->snd_una;
	uint32_t e =
	    sp_sack_next_sacked(&tcb->sb, s, sp_seq_min(tcb->snd_max, s + sp_tcp_smss(tcb)));
	int n;

	SP_VERIFY(tcb->sack_rec && sp_seq_lt(s, tcb->snd_max));
	tcb->hi_rxt = s;
	tcb->rescue_rxt = s;
	n = tcp_sack_resend(tcp, tcb, s, e);
	if (n > 0) {
		/* HighRxt and RescueRxt both at its end: no early rescue of the same bytes. */
		tcb->hi_rxt = s + (uint32_t)n;
		tcb->rescue_rxt = tcb->hi_rxt;
	}
	sp_tcp_arm_rexmt(tcp, tcb, tcb->rto_ms);
}

/* NextSeg() rule 2: one segment of new data at snd_max, if the queue and rwnd allow. */
static int
tcp_sack_new_data(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	uint32_t off = tcb->snd_max - tcb->snd_una;
	uint32_t avail = !tcb->fin_sent && off <= tcb->sndq_bytes ? tcb->sndq_bytes - off : 0;
	uint32_t edge = tcb->snd_una + tcb->snd_wnd;
	uint32_t usable = sp_seq_gt(edge, tcb->snd_max) ? edge - tcb->snd_max : 0;
	uint32_t len = SP_MIN(SP_MIN(avail, sp_tcp_smss(tcb)), usable);
	bool fin = tcb->fin_queued && !tcb->fin_sent &&
		   tcb->snd_max + len == tcb->snd_una + tcb->sndq_bytes;
	int n;

	if (len == 0 && !fin) {
		return 0;
	}
	n = tcp_send_data(tcp, tcb, tcb->snd_max, len, fin, &fin);
	if (n < 0) {
		return n;
	}
	tcb->snd_max += (uint32_t)n + (fin ? 1u : 0u);
	tcb->snd_nxt = tcb->snd_max;
	tcb->fin_sent = tcb->fin_sent || fin;
	if (!sp_tw_armed(&tcb->t_rexmt)) {
		sp_tcp_arm_rexmt(tcp, tcb, tcb->rto_ms);
	}
	return n + (fin ? 1 : 0);
}

/*
 * NextSeg() rule 4, the rescue retransmission: once per recovery, when nothing else may
 * go, resend the tail segment ending at snd_max if no SACK lies above it and it was not
 * resent already (a lost tail otherwise waits for the RTO). HighRxt is not moved.
 */
static int
tcp_sack_rescue(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	uint32_t low = tcb->snd_una;
	uint32_t smss = sp_tcp_smss(tcb);
	int n;

	if (sp_seq_lt(tcb->snd_una, tcb->rescue_rxt)) {
		return 0;
	}
	if (!sp_sack_sb_empty(&tcb->sb)) {
		low = sp_seq_max(low, sp_sack_sb_high(&tcb->sb));
	}
	low = sp_seq_max(low, tcb->hi_rxt);
	if (!sp_seq_lt(low, tcb->snd_max)) {
		return 0;
	}
	if (tcb->snd_max - low > smss) {
		low = tcb->snd_max - smss;
	}
	n = tcp_sack_resend(tcp, tcb, low, tcb->snd_max);
	if (n > 0) {
		tcb->rescue_rxt = tcb->recover;
	}
	return n;
}

/*
 * RFC 6675 5 (C): while cwnd - pipe >= 1 SMSS, send what NextSeg() names: a lost hole
 * (rule 1), new data (2), any hole below SACKed data (3), the rescue (4). Returns the
 * segments sent.
 */
static unsigned
tcp_sack_output(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	uint32_t smss = sp_tcp_smss(tcb);
	unsigned sent = 0;

	SP_VERIFY(tcb->in_recovery && tcb->sack_rec);
	SP_VERIFY(tcb->snd_nxt == tcb->snd_max);
	if (tcb->rxt_una != tcb->snd_una) {
		/* A new head: if it was resent, it was resent no later than now. */
		tcb->rxt_una = tcb->snd_una;
		tcb->rxt_max = tcb->snd_max;
		tcb->rxt_head_end = tcb->snd_una;
		tcb->rxt_head_lost = false;
	} else if (sp_seq_lt(tcb->snd_una, tcb->hi_rxt) &&
		   (tcb->rxt_head_lost || (!sp_sack_sb_empty(&tcb->sb) &&
					   sp_seq_gt(sp_sack_sb_high(&tcb->sb), tcb->rxt_max)))) {
		/*
		 * Data sent after the resend of the segment at snd_una (new data, or a later
		 * hole) was SACKed, and that segment is still missing: the resend was lost as
		 * well. RFC 6675 would wait for the RTO; resend it now (Linux detects lost
		 * retransmissions the same way). Only the head: later resends may be in flight.
		 */
		uint32_t s = tcb->snd_una;
		uint32_t e = sp_sack_next_sacked(&tcb->sb, s, sp_seq_min(tcb->snd_max, s + smss));

		tcp->lc->cnt.tcp_sack_lost_rexmits++;
		if (tcp_sack_resend(tcp, tcb, s, e) > 0) {
			sent++;
		}
		tcb->rxt_max = tcb->snd_max;
		tcb->rxt_head_lost = false;
	}
	while (sent < SP_TCP_SEND_SEGS_PER_CALL) {
		uint32_t pipe, s, e;
		int n;

		if (sp_seq_lt(tcb->hi_rxt, tcb->snd_una)) {
			tcb->hi_rxt = tcb->snd_una;
		}
		pipe = sp_sack_pipe(&tcb->sb, tcb->snd_una, tcb->snd_max, tcb->hi_rxt, smss,
				    tcb->dupthresh);
		if (tcb->cwnd < pipe + smss) {
			break;
		}
		if (sp_sack_next_hole(&tcb->sb, tcb->snd_una, tcb->hi_rxt, smss, tcb->dupthresh,
				      true, &s, &e)) {
			n = tcp_sack_resend(tcp, tcb, s, e);
			tcb->hi_rxt = n > 0 ? s + (uint32_t)n : tcb->hi_rxt;
		} else if ((n = tcp_sack_new_data(tcp, tcb)) != 0) {
			/* rule 2 sent, or failed */
		} else if (sp_sack_next_hole(&tcb->sb, tcb->snd_una, tcb->hi_rxt, smss,
					     tcb->dupthresh, false, &s, &e)) {
			n = tcp_sack_resend(tcp, tcb, s, e);
			tcb->hi_rxt = n > 0 ? s + (uint32_t)n : tcb->hi_rxt;
		} else {
			n = tcp_sack_rescue(tcp, tcb);
		}
		if (n <= 0) {
			if (n < 0) {
				tcb->ack_now = true; /* pools dry: the ACK is still owed */
			}
			break;
		}
		sent++;
	}
	return sent;
}

/* Where the go-back-N resend of the segment at una ends: one MSS at most, never into SACKed
 * data (an estimate: options may have made it shorter, which only delays the evidence). */
static uint32_t
tcp_rnd_head_end(const struct sp_tcb *tcb, uint32_t una)
{
	return sp_sack_next_sacked(&tcb->sb, una, sp_seq_min(tcb->snd_max, una + tcb->mss));
}

void
sp_tcp_rnd_head(struct sp_tcb *tcb, uint32_t una)
{
	if (tcb->rnd_una == una) {
		return;
	}
	/*
	 * A new head was resent in this round's sequence-order sweep (or is next): what was
	 * newly SACKed above its end this round left after it, so it is lost again.
	 */
	tcb->rnd_una = una;
	tcb->rnd_after = tcp_rnd_head_end(tcb, una);
	tcb->rnd_head_lost = tcb->rnd_ev && sp_seq_lt(una, tcb->snd_nxt) &&
			     sp_seq_gt(tcb->rnd_ev_hi, tcb->rnd_after);
}

/*
 * The round after an RTO: resend the segment at snd_una when SACKs of later resends showed
 * it lost again (tcp_rnd_evidence), instead of waiting for the next, backed-off, RTO (RFC
 * 6675 5.1 forbids a new recovery before snd_una reaches recover). Only the head: later
 * resends may still be in flight. Returns the segments sent.
 */
static unsigned
tcp_rnd_output(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	uint32_t una = tcb->snd_una, e;

	if (tcb->in_recovery || !sp_seq_lt(una, tcb->recover)) {
		tcb->rnd = false;
		return 0;
	}
	sp_tcp_rnd_head(tcb, una);
	if (!tcb->rnd_head_lost || !sp_seq_lt(una, tcb->snd_nxt)) {
		return 0;
	}
	e = tcp_rnd_head_end(tcb, una);
	tcb->rnd_head_lost = false;
	tcb->rnd_after = tcb->snd_nxt;
	tcp->lc->cnt.tcp_rto_lost_rexmits++;
	return tcp_resend(tcp, tcb, una, e) > 0 ? 1u : 0u;
}

void
sp_tcp_output(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	unsigned sent = 0;

	if (tcb->state == SP_TCP_CLOSED) {
		return;
	}
	if (tcb->rnd && tcp_can_send_data(tcb->state)) {
		sent = tcp_rnd_output(tcp, tcb);
	}
	if (tcb->in_recovery && tcb->sack_rec && tcp_can_send_data(tcb->state)) {
		sent += tcp_sack_output(tcp, tcb);
	}
	while (!(tcb->in_recovery && tcb->sack_rec) && tcp_can_send_data(tcb->state) &&
	       sent < SP_TCP_SEND_SEGS_PER_CALL) {
		uint32_t off = tcb->snd_nxt - tcb->snd_una;
		uint32_t avail = off <= tcb->sndq_bytes ? tcb->sndq_bytes - off : 0;
		/* Limited Transmit (RFC 3042): the first two duplicate ACKs each let one new
		 * segment out, so a small window still collects enough for fast retransmit. */
		uint32_t lt =
		    (!tcb->in_recovery && tcb->dupacks > 0 && tcb->dupacks < tcb->dupthresh)
			? SP_MIN((uint32_t)tcb->dupacks, 2u) * tcb->mss
			: 0;
		uint32_t wnd = SP_MIN(tcb->snd_wnd, tcb->cwnd + lt);
		uint32_t edge = tcb->snd_una + wnd;
		uint32_t usable = sp_seq_gt(edge, tcb->snd_nxt) ? edge - tcb->snd_nxt : 0;
		uint32_t len = SP_MIN(SP_MIN(avail, (uint32_t)tcb->mss), usable);
		bool fin;
		int n;

		if (sp_seq_lt(tcb->snd_nxt, tcb->snd_max) && !sp_sack_sb_empty(&tcb->sb)) {
			/* Resending after an RTO: what the peer SACKed need not go again (RFC
			 * 6675 5.1), so skip it and stop at the next SACKed range. */
			uint32_t nx = sp_sack_skip(&tcb->sb, tcb->snd_nxt);

			if (nx != tcb->snd_nxt) {
				tcb->snd_nxt = nx;
				continue;
			}
			len = SP_MIN(len, sp_sack_next_sacked(&tcb->sb, nx, tcb->snd_max) - nx);
		}
		/* The FIN sits at the sequence number after the last queued byte. */
		fin = tcb->fin_queued && tcb->snd_nxt + len == tcb->snd_una + tcb->sndq_bytes;

		if (len == 0 && !fin) {
			break;
		}
		n = tcp_send_data(tcp, tcb, tcb->snd_nxt, len, fin, &fin);
		if (n < 0) {
			/* Pools dry: the ACK this segment carried is still owed; retry on a timer.
			 */
			tcb->ack_now = true;
			if (!sp_tw_armed(&tcb->t_rexmt)) {
				sp_tcp_arm_rexmt(tcp, tcb, tcb->rto_ms);
			}
			break;
		}
		len = (uint32_t)n;
		if (!tcb->rtt_timing && !tcb->ts_ok && len > 0 && tcb->snd_nxt == tcb->snd_max) {
			tcb->rtt_timing = true;
			tcb->rtt_seq = tcb->snd_nxt;
			tcb->rtt_start_tick = tcp->now_ms;
		}
		tcb->snd_nxt += len + (fin ? 1u : 0u);
		if (fin) {
			tcb->fin_sent = true;
		}
		tcb->snd_max = sp_seq_max(tcb->snd_max, tcb->snd_nxt);
		if (!sp_tw_armed(&tcb->t_rexmt) || tcb->in_persist || tcb->in_tlp) {
			/* Data in flight: the persist timer (if any) becomes the RTO, or the loss
			 * probe timer, which new data restarts (RFC 8985 7.2). */
			tcb->in_persist = false;
			tcb->persist_backoff = 0;
			if (!sp_tcp_arm_pto(tcp, tcb)) {
				sp_tcp_arm_rexmt(tcp, tcb, tcb->rto_ms);
			}
		} else {
			(void)sp_tcp_arm_pto(tcp, tcb); /* the RTO runs; a probe may come sooner */
		}
		sent++;
	}
	/* Data waits on a zero window with nothing in flight: probe it (RFC 9293 3.8.6.1). */
	if (tcp_can_send_data(tcb->state) && tcb->snd_wnd == 0 && tcb->sndq_bytes > 0 &&
	    !sp_tw_armed(&tcb->t_rexmt)) {
		sp_tcp_arm_rexmt(tcp, tcb, SP_MAX(tcb->rto_ms, (uint32_t)SP_TCP_PERSIST_MIN_MS));
	}
	if (sent == 0 && tcb->ack_now) {
		sp_tcp_send_ack(tcp, tcb);
	}
}

bool
sp_tcp_arm_pto(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	uint32_t flight = tcb->snd_max - tcb->snd_una;
	uint32_t pto = SP_MAX(2u * (tcb->srtt_us / 1000u), (uint32_t)SP_TCP_PTO_MIN_MS);

	/* RFC 8985 7.2: open state, SACK, an RTT sample, no probe outstanding, no backoff. */
	if (!tcb->sack_ok || !tcp_can_send_data(tcb->state) || tcb->in_recovery || tcb->rnd ||
	    tcb->tlp_ep || tcb->in_persist || flight == 0 || tcb->srtt_us == 0 ||
	    tcb->rto_backoff != 0) {
		return false;
	}
	if (flight <= sp_tcp_smss(tcb)) {
		pto += SP_TCP_WC_DELACK_MS; /* a lone segment's ACK may be delayed */
	}
	if (pto >= tcb->rto_ms) {
		return false;
	}
	sp_tcp_arm_rexmt(tcp, tcb, pto);
	tcb->in_tlp = true;
	return true;
}

/*
 * RFC 8985 7.3: the loss probe timer fired. Send one segment of new data if the peer's
 * window takes it (cwnd aside), else the last segment again, so that its ACK (with SACK)
 * brings loss detection instead of an RTO; then the RTO.
 */
static void
tcp_tlp_fire(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	uint32_t cwnd = tcb->cwnd, max = tcb->snd_max;
	uint32_t data_end = tcb->snd_una + tcb->sndq_bytes;

	if (tcb->snd_una == tcb->snd_max) {
		return;
	}
	if (tcb->in_recovery || tcb->rnd) {
		/* a recovery came first: the RTO guards it */
		sp_tcp_arm_rexmt(tcp, tcb, tcb->rto_ms);
		return;
	}
	tcp->lc->cnt.tcp_tlp_probes++;
	tcb->tlp_ep = true; /* before output: no second probe timer for this episode */
	tcb->cwnd = tcb->snd_max - tcb->snd_una + tcb->mss;
	sp_tcp_output(tcp, tcb);
	tcb->cwnd = cwnd;
	tcb->tlp_retrans = tcb->snd_max == max;
	if (tcb->tlp_retrans) {
		/* The last segment as it was cut: full payloads from snd_una, the rest last. */
		uint32_t sent_end = sp_seq_min(tcb->snd_max, data_end);
		uint32_t dflight = sent_end - tcb->snd_una;
		uint32_t unit = tcb->mss - (tcb->ts_ok ? 12u : 0u);
		uint32_t tail = dflight % unit != 0 ? dflight % unit : SP_MIN(dflight, unit);

		(void)tcp_resend(tcp, tcb, sent_end - tail, tcb->snd_max);
	}
	tcb->tlp_high = tcb->snd_max;
	sp_tcp_arm_rexmt(tcp, tcb, tcb->rto_ms);
}

/* RFC 6298 5.4-5.7 and RFC 5681 3.1 (loss window); also the persist timer's probe. */
void
sp_tcp_rexmit_timeout(struct sp_tcp *tcp, struct sp_tcb *tcb)
{
	uint32_t flight = tcb->snd_max - tcb->snd_una;
	bool tlp = tcb->in_tlp;

	tcb->in_tlp = false;
	if (tlp && !(tcb->snd_wnd == 0 && tcb->sndq_bytes > 0)) {
		tcp_tlp_fire(tcp, tcb);
		return;
	}
	if (tcb->snd_wnd == 0 && tcb->sndq_bytes > 0) {
		/*
		 * Persist (RFC 9293 3.8.6.1, RFC 1122 4.2.2.17): probe the zero window with a
		 * segment the peer must answer with its current window. We send an ACK carrying
		 * the already-acknowledged sequence number snd_una - 1 and no data (as Linux
		 * does), so a refused probe byte never has to be accounted or resent.
		 */
		tcp->lc->cnt.tcp_persist_probes++;
		if (tcb->zero_wnd_probes < 255) {
			tcb->zero_wnd_probes++;
		}
		sp_tcp_send_probe(tcp, tcb);
		tcb->in_persist = true;
		if (tcb->persist_backoff < 16) {
			tcb->persist_backoff++;
		}
		sp_tcp_arm_rexmt(tcp, tcb,
				 SP_MIN((uint32_t)SP_TCP_PERSIST_MAX_MS,
					SP_MAX(tcb->rto_ms, (uint32_t)SP_TCP_PERSIST_MIN_MS)
					    << SP_MIN(tcb->persist_backoff, (uint8_t)8)));
		return;
	}
	tcp->lc->cnt.tcp_rto_timeouts++;
	tcb->undo_armed = false;
	tcb->tlp_ep = false;
	tcb->recover = tcb->snd_max; /* RFC 6582 3.2 step 4 */
	tcb->ssthresh = SP_MAX(flight / 2, 2u * tcb->mss);
	tcb->cwnd = tcb->mss;
	tcb->in_recovery = false;
	tcb->dupacks = 0;
	tcb->rtt_timing = false; /* Karn's algorithm */
	tcb->rto_backoff++;
	/*
	 * RFC 6675 5.1: the SACK recovery ends; retransmission marks go (every hole is resent
	 * in slow start), SACKed ranges stay so they are skipped. A second timeout in a row
	 * suggests the peer reneged (RFC 2018 8): forget them too.
	 */
	tcb->sack_rec = false;
	tcb->hi_rxt = tcb->snd_una;
	if (tcb->rto_backoff >= 2) {
		sp_sack_sb_reset(&tcb->sb);
	}
	/* A new round: no evidence yet; the marks name the head at the first output. */
	tcb->rnd = tcb->sack_ok;
	tcb->rnd_ev = false;
	tcb->rnd_head_lost = false;
	tcb->rnd_una = tcb->snd_una - 1;
	tcb->rto_ms = SP_MIN(tcb->rto_ms * 2, (uint32_t)SP_TCP_RTO_MAX_MS);
	/* Go back to the first unacknowledged byte; a FIN sent follows the data again. */
	tcb->snd_nxt = tcb->snd_una;
	sp_tcp_arm_rexmt(tcp, tcb, tcb->rto_ms);
	sp_tcp_output(tcp, tcb);
}
