/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TCP stack's upper-layer interface (what HTTP and the test services use). One stack
 * instance per worker lcore; every call below is made on that worker, and every callback runs
 * on it, from inside sp_tcp_input() or sp_tcp_timers(). No call blocks.
 *
 * Buffers are mbufs both ways, zero copy:
 *   - received data reaches recv() as an mbuf chain holding exactly the new in-order payload;
 *     the app owns the chain and calls sp_tcp_recved() once it has consumed the bytes, which
 *     reopens the receive window (the window never promises more than the per-connection
 *     receive buffer minus what the app still holds);
 *   - sp_tcp_send() takes a chain of payload mbufs (ordinary or external-buffer ones) and
 *     keeps it until the peer acknowledges it; segments reference it through clones.
 */
#ifndef SP_TCP_H
#define SP_TCP_H

#include <stdint.h>

#include <spate/compiler.h>

#include "tcp_types.h"

struct rte_mbuf;
struct sp_lcore;
struct sp_tcp;

struct sp_tcp_ops {
	/*
	 * A connection completed the handshake on a listening port. Return 0 and set *app to
	 * accept it, or a negative errno to reset it.
	 */
	int (*accept)(void *listen_arg, struct sp_tcb *tcb, void **app);
	/* New in-order data: the app owns `chain` (len bytes). */
	void (*recv)(void *app, struct sp_tcb *tcb, struct rte_mbuf *chain, uint32_t len);
	/* The peer acknowledged `acked` more bytes: send-buffer space freed. */
	void (*sent)(void *app, struct sp_tcb *tcb, uint32_t acked);
	/*
	 * The peer sent FIN while we could still send (ESTABLISHED): no more data will arrive;
	 * we may still send (half-close). After our own sp_tcp_close, the peer's FIN is reported
	 * by closed(NORMAL) alone, once both FINs are acknowledged.
	 */
	void (*peer_closed)(void *app, struct sp_tcb *tcb);
	/* The connection is gone (reason: enum sp_tcp_close_reason); tcb is invalid after. */
	void (*closed)(void *app, struct sp_tcb *tcb, int reason);
	/*
	 * An active open (sp_tcp_connect) completed the handshake: the connection is
	 * ESTABLISHED and may send. Not used by listeners (accept is theirs).
	 */
	void (*connected)(void *app, struct sp_tcb *tcb);
};

/* Listen on port (host order) of every interface. Returns 0, -EADDRINUSE or -ENOSPC. */
SP_MUST_CHECK int sp_tcp_listen(struct sp_tcp *tcp, uint16_t port, const struct sp_tcp_ops *ops,
				void *listen_arg);

/*
 * Active open (RFC 9293 3.10.1) to raddr:rport (both network order) from interface ifidx's
 * address, with a source port whose flow this worker owns (net/rss.h: the queue a NIC with our
 * key delivers it to, or the worker software steering hands it to), so every segment of the
 * connection comes back to this stack. raddr must be on ifidx's subnet (no routing). The SYN
 * offers MSS, window scaling, SACK and timestamps; it is resent with exponential backoff
 * (RFC 6298) up to the configured SYN retries.
 *
 * On success returns 0 and *tcb (state SYN-SENT); app is the connection's context from now on:
 * connected() follows the handshake; closed() reports a failure (SP_TCP_CLOSE_REFUSED: the
 * peer answered with a RST; SP_TCP_CLOSE_TIMEOUT: no answer) and no other callback comes
 * before it. Data may be queued with sp_tcp_send() only after connected().
 * Errors: -EINVAL (ifidx out of range, or ops lacks recv/closed/connected), -ENETUNREACH
 * (raddr not on the interface's subnet), -EHOSTUNREACH (the worker has no ARP cache),
 * -EADDRNOTAVAIL (no free source port for this worker), -ENOSPC (no free TCB).
 */
SP_MUST_CHECK int sp_tcp_connect(struct sp_tcp *tcp, unsigned ifidx, uint32_t raddr, uint16_t rport,
				 const struct sp_tcp_ops *ops, void *app, struct sp_tcb **tcb);

/*
 * Queue a chain of payload mbufs for sending; takes ownership. Returns 0, -ENOBUFS if it would
 * exceed the send buffer (the chain is NOT taken: retry after a sent() callback), -EPIPE
 * after sp_tcp_close() or in a state that cannot send.
 */
SP_MUST_CHECK int sp_tcp_send(struct sp_tcp *tcp, struct sp_tcb *tcb, struct rte_mbuf *chain);

/* Bytes sp_tcp_send() would accept now. */
uint32_t sp_tcp_send_space(const struct sp_tcp *tcp, const struct sp_tcb *tcb);

/* The app consumed n bytes it received: reopen the window (sends a window update if due). */
void sp_tcp_recved(struct sp_tcp *tcp, struct sp_tcb *tcb, uint32_t n);

/* Send FIN once the queued data is out (half-close). Returns 0 or -EPIPE if already closed. */
int sp_tcp_close(struct sp_tcp *tcp, struct sp_tcb *tcb);

/* Reset the connection now; closed() is called with SP_TCP_CLOSE_ABORTED. */
void sp_tcp_abort(struct sp_tcp *tcp, struct sp_tcb *tcb);

const char *sp_tcp_state_name(enum sp_tcp_state s);

#endif /* SP_TCP_H */
