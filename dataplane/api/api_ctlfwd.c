/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control operations, worker side: CreateStream, DescribeStream and the other catalog
 * operations are answered by spate-control. The worker hands the request (its body stays in
 * the connection's buffer) to the main lcore on its ctl ring and keeps serving; the answer
 * comes back on ctl_done, is written into the connection, and the message goes back to main
 * once more (release) so main frees the answer's memory — the worker never frees what main
 * allocated. A CBOR request goes as it came, flagged: main translates the body to JSON and a
 * success answer back to CBOR (api_main.c); errors are written here, in CBOR for it.
 * Runs on the connection's worker.
 */
#include <string.h>

#include <rte_ring.h>

#include <spate/assert.h>

#include "api_worker.h"

/* Hand the request to main. The message must be free (released by main). */
static void
ctl_send(struct sp_api_conn *c)
{
	struct sp_api *api = c->api;
	struct sp_api_xctl *x = &c->req.xctl;

	SP_VERIFY(!__atomic_load_n(&x->busy, __ATOMIC_ACQUIRE));
	x->req = &c->req;
	x->worker = (uint16_t)api->worker;
	x->release = false;
	x->op = c->req.op;
	x->cbor = c->req.cbor;
	memcpy(x->account, c->req.account, sizeof(x->account));
	memcpy(x->region, c->req.region, sizeof(x->region));
	x->status = 0;
	x->kerr = SP_KERR_NONE;
	x->message = NULL;
	x->resp_body = NULL;
	x->resp_len = 0;
	x->busy = true;
	/* sized for a request and a release per connection (api_main.c): never full */
	SP_VERIFY(rte_ring_sp_enqueue(api->g->ctl[api->worker], x) == 0);
	c->req.pending = 1;
}

void
sp_api_op_control(struct sp_api_conn *c, const char *body, uint32_t len)
{
	struct sp_api *api = c->api;
	struct sp_api_xctl *x = &c->req.xctl;

	x->body = body;
	x->body_len = len;
	if (__atomic_load_n(&x->busy, __ATOMIC_ACQUIRE)) {
		/*
		 * The previous answer on this connection (pipelined requests) is still being
		 * released by main: wait for it from the poll (a millisecond at most).
		 */
		SP_VERIFY(api->nctlwait < api->nconns);
		api->ctlwait[(api->ctlwait_head + api->nctlwait++) % api->nconns] = c->idx;
		c->req.pending = 1;
		return;
	}
	ctl_send(c);
}

/* Connections whose control request waited for its message to come free. */
static unsigned
ctl_resume(struct sp_api *api)
{
	unsigned work = 0;

	while (api->nctlwait > 0) {
		struct sp_api_conn *c = &api->conns[api->ctlwait[api->ctlwait_head]];

		if (__atomic_load_n(&c->req.xctl.busy, __ATOMIC_ACQUIRE)) {
			break; /* FIFO: main releases in order */
		}
		api->ctlwait_head = (api->ctlwait_head + 1) % api->nconns;
		api->nctlwait--;
		ctl_send(c);
		work++;
	}
	return work;
}

static void
ctl_answer(struct sp_api *api, struct sp_api_xctl *x)
{
	struct sp_api_conn *c = x->req->conn;

	SP_VERIFY(x->busy && c->req.pending == 1);
	c->req.pending = 0;
	if (x->kerr != SP_KERR_NONE) {
		sp_api_respond_error(c, x->kerr, x->message, x->message_key_upper);
	} else if (c->tcb != NULL && !sp_api_conn_room(c, x->resp_len)) {
		sp_api_respond_error(c, SP_KERR_SERVICE_UNAVAILABLE, "Retry the request.", false);
	} else {
		sp_api_respond_enc(c, x->status, x->resp_body, (uint32_t)x->resp_len);
	}
	x->release = true;
	/* sized for a request and a release per connection (api_main.c): never full */
	if (rte_ring_sp_enqueue(api->g->ctl[api->worker], x) != 0) {
		SP_VERIFY(false && "ctl ring full on release");
	}
}

unsigned
sp_api_ctl_poll(struct sp_api *api)
{
	void *objs[SP_API_XDRAIN_BURST];
	unsigned n = rte_ring_sc_dequeue_burst(api->g->ctl_done[api->worker], objs,
					       SP_API_XDRAIN_BURST, NULL);

	for (unsigned i = 0; i < n; i++) {
		ctl_answer(api, objs[i]);
	}
	return n + ctl_resume(api);
}
