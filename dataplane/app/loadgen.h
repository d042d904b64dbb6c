/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The load generator: TCP clients on the worker's own stack (active opens, sp_tcp_connect),
 * for benchmarks between two Spate dataplanes (tools/bench/tcp-memif.sh) and for load tests.
 * One instance per worker, `conns` connection slots, each one of:
 *   crr   connect, send `msg` bytes, read `msg` bytes back, reset (RST: no TIME-WAIT on either
 *         side), connect again: connections per second (netperf TCP_CRR's shape);
 *   rr    connect once, then send `msg` bytes and read `msg` bytes back, again and again:
 *         transactions per second on standing connections (TCP_RR);
 *   bulk  connect once, keep the send buffer full: bytes per second to a sink (TCP_STREAM);
 *   put   a Kinesis producer: PutRecords of `records` records of `msg` bytes to `stream`,
 *         SigV4-signed, one request in flight per connection (HTTP/1.1 keep-alive). Slot k of
 *         worker w writes partition key "lg-w<w>-s<k>" and data "<w>.<k>.<n>" padded with '.'
 *         to msg bytes, n counting from 0 per slot: a reader can check every record it sees
 *         once, in order per key. Records are never retried (a failed one is only counted).
 * The peer is an echo service for crr and rr, a sink for bulk (the test services of a second
 * dataplane, or any kernel server), a Spate API for put. Figures are the worker counters lg_*
 * (counters.def), sampled twice by whoever measures. A slot whose open fails (refused, timed out,
 * no port) tries again after SP_LOADGEN_RETRY_MS. Nothing allocates once created but payload mbufs
 * from the worker's pool; no connect storm: at most SP_LOADGEN_OPENS_PER_POLL opens per poll.
 */
#ifndef SP_LOADGEN_H
#define SP_LOADGEN_H

#include <stdint.h>

#include <spate/compiler.h>

#include "../sigv4/sigv4.h"

struct rte_mempool;
struct sp_tcp;
struct sp_loadgen;

#define SP_LOADGEN_RETRY_MS       200
#define SP_LOADGEN_OPENS_PER_POLL 32
#define SP_LOADGEN_MSG_MAX        1024
#define SP_LOADGEN_BODY_MAX       65536 /* put: request body bound (records x msg) */
#define SP_LOADGEN_RESP_MAX       65536 /* put: answer bound (500 results fit) */

enum sp_loadgen_mode {
	SP_LOADGEN_CRR,
	SP_LOADGEN_RR,
	SP_LOADGEN_BULK,
	SP_LOADGEN_PUT,
};

struct sp_loadgen_conf {
	enum sp_loadgen_mode mode;
	unsigned ifidx;  /* interface whose subnet holds the target */
	uint32_t target; /* IPv4, network order */
	uint16_t port;   /* network order */
	uint32_t conns;  /* connection slots on this worker */
	uint32_t msg;    /* request (= response) bytes, crr and rr; record bytes, put */
	/* put */
	uint32_t worker;         /* this worker's index (in keys and data) */
	uint32_t records;        /* per PutRecords, 1..500 */
	uint32_t gap_ms;         /* pause between a slot's answer and its next request */
	char stream[129];        /* StreamName */
	char host[64];           /* Host header: the target, as text */
	char region[32];         /* SigV4 scope */
	struct sp_sigv4_key key; /* the signing identity (no session token) */
};

/* Parse "crr", "rr", "bulk" or "put". Returns 0 or -EINVAL. */
SP_MUST_CHECK int sp_loadgen_mode_parse(const char *s, enum sp_loadgen_mode *mode);

/* Create a worker's load generator (boot time); it opens its connections from its first poll. */
SP_MUST_CHECK int sp_loadgen_create(struct sp_loadgen **out, struct sp_tcp *tcp,
				    struct rte_mempool *pool, const struct sp_loadgen_conf *conf,
				    int socket);
/* Before the stack is destroyed at shutdown: its closes are not counted as errors. */
void sp_loadgen_stop(struct sp_loadgen *lg);
/* After the worker stopped and its stack was destroyed. */
void sp_loadgen_destroy(struct sp_loadgen *lg);

/* The worker loop's app_poll: opens what is due. Returns the opens attempted. */
unsigned sp_loadgen_poll(void *lg);

#endif /* SP_LOADGEN_H */
