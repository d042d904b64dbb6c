/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test services on the TCP stack, for proving the stack against real kernel peers
 * (config key test_services). One instance per worker.
 *   echo   (port 7)  every byte received is sent back, zero copy, with backpressure;
 *   sink   (port 9)  consumes everything; when the peer half-closes, answers the SHA-256 of
 *                    what it received as 64 hex digits and a newline, then closes;
 *   source (port 19) reads a decimal byte count and a newline, sends that many bytes of the
 *                    stream below, then closes.
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

#define SP_TESTSVC_PORT_ECHO 7
#define SP_TESTSVC_PORT_SINK 9
#define SP_TESTSVC_PORT_SOURCE 19

/* Create the services of one worker and listen on their ports (boot time). */
SP_MUST_CHECK int sp_testsvc_create(struct sp_testsvc **out, struct sp_tcp *tcp,
				    struct rte_mempool *pool, uint32_t max_conns, int socket);
void sp_testsvc_destroy(struct sp_testsvc *svc);

#endif /* SP_TESTSVC_H */
