/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test services on the TCP stack, for proving the stack against real kernel peers
 * (config key test_services). One instance per worker.
 *   echo   (port 7)  every byte received is sent back, zero copy, with backpressure;
 *   sink   (port 9)  consumes everything; when the peer half-closes, answers the SHA-256 of
 *                    what it received as 64 hex digits and a newline, then closes;
 *   source (port 19) reads a decimal byte count and a newline, sends that many bytes of the
 *                    stream below, then closes;
 *   relay  (port 1080) reads one line "CONNECT a.b.c.d port\n" (IPv4 dotted quad, decimal
 *                    port, at most 40 bytes), actively opens a connection from the same worker
 *                    and interface to that address (sp_tcp_connect: it must be on the
 *                    interface's subnet), answers "OK\n" once it is established, then relays
 *                    bytes both ways, zero copy (received mbufs go to the other connection's
 *                    send queue, each side's receive window held shut while the other's send
 *                    buffer is full). A FIN on one side becomes a FIN on the other once the
 *                    bytes before it are queued; a reset or a timeout on one side resets the
 *                    other. Bytes after the request line are held until the connection is up.
 *                    Failures answer "ERR <reason>\n" and close: a malformed line ("ERR usage:
 *                    CONNECT a.b.c.d port", "ERR line too long", "ERR incomplete request"), a
 *                    refused or unanswered connect ("ERR refused", "ERR timeout"), or the errno
 *                    text of a failed sp_tcp_connect ("ERR Network is unreachable").
 *                    A relay takes two of the service's per-worker slots (max_conns).
 * Source stream: byte at offset o is B[((o & 0xffff) + (o >> 16)) & 0xffff], where
 * B[k] = (7k + 3(k >> 8) + 1) mod 256: each 64 KiB block is the base block rotated by its
 * index, so a lost, repeated or reordered block changes the SHA-256 a client computes.
 */
#ifndef SP_TESTSVC_H
#define SP_TESTSVC_H

#include <stdint.h>

#include <spate/compiler.h>

struct rte_mempool;
struct sp_tcp;
struct sp_testsvc;

#define SP_TESTSVC_PORT_ECHO   7
#define SP_TESTSVC_PORT_SINK   9
#define SP_TESTSVC_PORT_SOURCE 19
#define SP_TESTSVC_PORT_RELAY  1080

/* Create the services of one worker and listen on their ports (boot time). */
SP_MUST_CHECK int sp_testsvc_create(struct sp_testsvc **out, struct sp_tcp *tcp,
				    struct rte_mempool *pool, uint32_t max_conns, int socket);
void sp_testsvc_destroy(struct sp_testsvc *svc);

#endif /* SP_TESTSVC_H */
