/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to the load generator (loadgen.c, loadgen_put.c): its slots and instance.
 */
#ifndef SP_LOADGEN_INTERNAL_H
#define SP_LOADGEN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "../tcp/tcp_internal.h"
#include "loadgen.h"

struct rte_mbuf;
struct sp_tcb;

enum lg_state {
	LG_IDLE,       /* not connected: open at retry_ms */
	LG_CONNECTING, /* SYN out */
	LG_ACTIVE,     /* established */
};

struct lg_slot {
	struct sp_loadgen *lg;
	struct sp_tcb *tcb;
	enum lg_state state;
	uint64_t retry_ms;
	uint32_t want; /* response bytes still expected (crr, rr) */
	bool done;     /* crr: answered, so the reset that follows is ours and no error */
	/* put: the response being read, and this slot's record numbers */
	char *resp;
	uint32_t resp_len;
	uint64_t seq;
	bool due; /* put with a gap: the next request waits for next_ms */
	uint64_t next_ms;
};

struct sp_loadgen {
	struct sp_tcp *tcp;
	struct rte_mempool *pool;
	struct sp_loadgen_conf conf;
	uint32_t next; /* slot the next poll starts its scan at */
	uint32_t idle; /* slots in LG_IDLE */
	bool stopping; /* shutdown: closes are not counted */
	struct lg_slot *slots;
	uint8_t pattern[2048];
	char *body;  /* put: the request body being built (SP_LOADGEN_BODY_MAX) */
	char *resps; /* put: conns x SP_LOADGEN_RESP_MAX */
};

/* The worker whose counters the load generator moves. */
static inline struct sp_lcore *
lg_lc(const struct sp_loadgen *lg)
{
	return lg->tcp->lc;
}

/* put (loadgen_put.c): send the next PutRecords request; false if the slot was reset. */
bool sp_lg_put_request(struct lg_slot *s);
/* put: bytes of the answer arrived (the app owns chain); the next request follows an answer. */
void sp_lg_put_recv(struct lg_slot *s, struct rte_mbuf *chain);
/* put: check the configuration (sizes) at create. 0 or -EINVAL. */
int sp_lg_put_check(const struct sp_loadgen_conf *conf);

#endif /* SP_LOADGEN_INTERNAL_H */
