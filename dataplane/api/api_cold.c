/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Cold reads: GetRecords from a position older than the shard's ring (records of an earlier
 * boot, which live only in the store). The shard's owner holds its log and the I/O queue, so
 * the requester sends it a message (struct sp_api_xcold, in the requester's connection) with
 * a read area and a record array inside the connection's big buffer; the owner plans the read
 * from the log's sparse index, reads through its store (io_uring, polled: no connection waits
 * on another), walks and verifies the frames, and hands the message back. The requester
 * answers from those records, or from the ring when nothing older than the ring is there.
 *
 * Buffer layout (a big buffer): response head | answer JSON ... | read area | record array.
 * The answer is written below the read area, so encoding never overwrites the bytes it reads.
 */
#include <errno.h>
#include <string.h>

#include <rte_ring.h>

#include <spate/assert.h>

#include "api_store.h"
#include "api_worker.h"

#define COLD_FIRST_READ (1u << 20) /* bytes read first; a larger record reads again, whole */
#define COLD_DONE_BATCH 32u
#define COLD_ONE        ((sp_u128)1 << 52) /* one counter step of a sequence number */

static void cold_return(struct sp_api *api, struct sp_api_xcold *x);
static void cold_send(struct sp_api *api, struct sp_api_conn *c, struct sp_api_xcold *x,
		      const struct sp_api_shard *sh);

/* ---- owner ---- */

static void
cold_fail(struct sp_api *api, struct sp_api_xcold *x, int rc)
{
	x->rc = rc;
	x->n = 0;
	cold_return(api, x);
}

static void
cold_submit(struct sp_api *api, struct sp_api_xcold *x)
{
	int rc = sp_store_read(api->store, &x->rd, x->buf, (uint64_t)(uintptr_t)x);

	if (rc != 0) {
		api->cnt.cold_busy++;
		cold_fail(api, x, rc);
	}
}

static int
cold_plan(const struct sp_slog *l, struct sp_api_xcold *x)
{
	return x->by_time ? sp_slog_read_plan_time(l, x->t_ms, x->max_len, &x->rd)
			  : sp_slog_read_plan(l, x->seq, x->max_len, &x->rd);
}

static void
cold_serve(struct sp_api *api, struct sp_api_xcold *x)
{
	struct sp_slog *l =
	    api->store != NULL ? sp_store_log_find(api->store, x->tag, x->shard_index) : NULL;
	int rc;

	api->cnt.cold_reads++;
	if (l == NULL) {
		cold_fail(api, x, -ENOENT);
		return;
	}
	x->max_len = SP_MIN(COLD_FIRST_READ, x->buf_len);
	rc = cold_plan(l, x);
	if (rc != 0) {
		cold_fail(api, x, rc);
		return;
	}
	cold_submit(api, x);
}

/* A read of x completed with res. */
static void
cold_step(struct sp_api *api, struct sp_api_xcold *x, int32_t res)
{
	const struct sp_slog *l = sp_store_log_find(api->store, x->tag, x->shard_index);
	struct sp_slog_info info;
	sp_u128 next;
	uint64_t bytes = 0;
	unsigned k = 0;
	int n;

	SP_VERIFY(l != NULL);
	if (res != (int32_t)x->rd.len) {
		api->cnt.cold_errors++;
		cold_fail(api, x, res < 0 ? res : -EIO);
		return;
	}
	n = sp_slog_read_walk(&x->rd, x->buf, x->recs, x->max_records, &next);
	if (n == 0) {
		cold_submit(api, x); /* the target lies further on: rd describes the next read */
		return;
	}
	if (n == -EMSGSIZE && x->max_len < x->buf_len) {
		x->max_len = x->buf_len; /* a record longer than the first read: read it whole */
		n = cold_plan(l, x);
		if (n == 0) {
			cold_submit(api, x);
			return;
		}
	}
	if (n < 0) {
		api->cnt.cold_errors += n != -ENOENT;
		cold_fail(api, x, n);
		return;
	}
	/* older than the ring only, within the byte budget (the first record always) */
	while (k < (unsigned)n && x->recs[k].seq < x->limit) {
		uint64_t sz = (uint64_t)x->recs[k].key_len + x->recs[k].data_len;

		if (k > 0 && bytes + sz > x->max_bytes) {
			break;
		}
		bytes += sz;
		k++;
	}
	x->sealed = x->rd.sealed;
	if (x->sealed && k > 0) {
		/* sealed at rest: open what goes out, here on the owner (api_seal.c) */
		int rc = sp_api_seal_open_cold(api, x, k);

		if (rc != 0) {
			api->cnt.cold_errors++;
			cold_fail(api, x, rc);
			return;
		}
	}
	sp_slog_info(l, &info);
	x->log_tip_ms = info.max_ms;
	/* nothing stored between the last record returned and the ring's first (a past owner's
	 * part of a moved shard ends where the next store's begins, not the ring) */
	x->cold_end = (k < (unsigned)n && x->recs[k].seq >= x->limit) ||
		      (k > 0 && x->recs[k - 1].seq == info.durable && x->last_holder);
	x->n = k;
	x->rc = k > 0 ? 0 : -ENOENT;
	api->cnt.cold_records += k;
	cold_return(api, x);
}

/* ---- requester ---- */

static void
cold_finish(struct sp_api *api, struct sp_api_xcold *x)
{
	struct sp_api_conn *c = x->req->conn;
	const struct sp_api_cat *cat = sp_api_cat_current(api->g);
	const struct sp_api_stream *st = sp_api_cat_stream(cat, c->req.stream, c->req.stream_len);
	const struct sp_api_shard *sh =
	    st != NULL && st->tag == x->tag ? sp_api_stream_shard(st, x->shard_index) : NULL;
	struct sp_shard_ring_info ri;
	uint64_t tip, behind;

	SP_VERIFY(x->src == api->worker);
	if (c->tcb == NULL) {
		sp_api_respond_error(c, SP_KERR_INTERNAL_FAILURE, NULL, false); /* reaps the slot */
		return;
	}
	if (sh == NULL || (sh->ring == NULL && sh->open)) {
		sp_api_get_no_shard(c, c->req.stream, c->req.stream_len, x->shard_index);
		return;
	}
	if (x->rc == -ENOENT && x->hop + 1u < sp_api_shard_holders(sh)) {
		/* a moved shard: nothing at or after the position in this store, ask the next */
		x->hop++;
		x->rc = 0;
		x->n = 0;
		api->cnt.cold_hops++;
		cold_send(api, c, x, sh);
		return;
	}
	if (x->rc == -ENOENT && sh->ring == NULL) {
		if (x->limit == ~(sp_u128)0) {
			/* nothing at or after the position */
			sp_api_get_closed_end(c, cat, st, sh);
		} else {
			/* read only below a ring that has left since: its records are in the store
			 * now, so the same position reads them on the next call */
			sp_api_get_again(c, cat, st, sh, x->by_time ? x->t_ms : x->seq, x->by_time);
		}
		return;
	}
	if (x->rc == -ENOENT && x->by_time) {
		sp_api_get_at_time_ring(c, cat, st, sh, x->t_ms, c->req.get_limit);
		return;
	}
	if (x->rc == -ENOENT) {
		sp_api_get_from_ring(c, cat, st, sh, x->seq, c->req.get_limit, x->limit);
		return;
	}
	if (x->rc == -EBUSY) {
		sp_api_respond_error(c, SP_KERR_THROUGHPUT_EXCEEDED, "Rate exceeded for Shard.",
				     false);
		return;
	}
	if (x->rc != 0) {
		sp_api_respond_error(c, SP_KERR_INTERNAL_FAILURE, NULL, false);
		return;
	}
	SP_VERIFY(x->n > 0 && x->n <= SP_K_GET_RECORDS_MAX_RECORDS);
	for (unsigned i = 0; i < x->n; i++) {
		const struct sp_seg_rec *r = &x->recs[i];

		api->views[i] =
		    (struct sp_shard_rec_view){.seq = r->seq,
					       .arrival_ms = r->arrival_ms,
					       .key = r->key,
					       .key_len = r->key_len,
					       .data = r->data,
					       .data_len = r->data_len,
					       .flags = x->sealed ? SP_API_REC_SEALED : 0u};
	}
	memset(&ri, 0, sizeof(ri));
	if (sh->ring != NULL) {
		sp_shard_ring_info(sh->ring, &ri);
	}
	tip = SP_MAX(ri.tip_arrival_ms, x->log_tip_ms);
	behind = tip > x->recs[x->n - 1].arrival_ms ? tip - x->recs[x->n - 1].arrival_ms : 0;
	if (x->cold_end && x->n < x->max_records && sh->ring != NULL) {
		/* go on into the ring in the same answer, as one log */
		uint64_t bytes = 0;
		struct sp_shard_pos pos = {.seq = x->recs[x->n - 1].seq + 1};
		struct sp_shard_read_res res;
		int m = 0;

		for (unsigned i = 0; i < x->n; i++) {
			bytes += (uint64_t)x->recs[i].key_len + x->recs[i].data_len;
		}
		if (bytes < x->max_bytes) {
			m = sp_shard_ring_read(sh->ring, &pos, x->max_records - x->n,
					       x->max_bytes - bytes, api->views + x->n, &res);
		}
		if (m > 0 && res.bytes + bytes <= x->max_bytes &&
		    !sp_api_cold_trimmed(sh->ring, pos.seq, x->limit) &&
		    sp_api_get_answer_views(c, cat, st, sh, x->n + (unsigned)m, res.millis_behind,
					    c->req.get_json_cap, sh->ring, &res)) {
			return;
		}
	}
	(void)sp_api_get_answer_views(c, cat, st, sh, x->n, behind, c->req.get_json_cap, NULL,
				      NULL);
}

static void
cold_return(struct sp_api *api, struct sp_api_xcold *x)
{
	SP_VERIFY(x->dst == api->worker);
	if (x->src == api->worker) {
		cold_finish(api, x);
		return;
	}
	/* sized like the request ring: never full */
	SP_VERIFY(rte_ring_sp_enqueue(api->g->cold_done[api->worker][x->src], x) == 0);
}

bool
sp_api_cold_is(const struct sp_shard_ring *ring, sp_u128 pos, sp_u128 *ring_first)
{
	struct sp_shard_pos th;
	sp_u128 first = sp_shard_ring_seq(ring, 1);

	if (sp_shard_ring_trim_horizon(ring, &th) != 0) {
		th.seq = first; /* overrun by trims: the next check decides */
	}
	*ring_first = th.seq;
	if (pos < sp_shard_ring_seq(ring, 0)) {
		return true; /* an earlier boot's numbers */
	}
	/* trimmed: the record pos names (counter space) is older than the ring's first */
	return th.seq > first && pos + COLD_ONE <= th.seq;
}

bool
sp_api_cold_trimmed(const struct sp_shard_ring *ring, sp_u128 pos, sp_u128 checked)
{
	struct sp_shard_pos th;

	if (sp_shard_ring_trim_horizon(ring, &th) != 0) {
		return true; /* overrun by trims: surely past */
	}
	return th.seq > checked && pos + COLD_ONE <= th.seq;
}

/*
 * Send x to the store it is at (x->hop of sh's holders: past owners oldest first, then the
 * owner), or serve it here when that store is this worker's.
 */
static void
cold_send(struct sp_api *api, struct sp_api_conn *c, struct sp_api_xcold *x,
	  const struct sp_api_shard *sh)
{
	x->dst = sp_api_shard_holder(sh, x->hop);
	x->last_holder = x->hop + 1u >= sp_api_shard_holders(sh);
	if (x->dst == api->worker) {
		cold_serve(api, x);
	} else if (x->dst >= api->g->nb_workers ||
		   rte_ring_sp_enqueue(api->g->cold[api->worker][x->dst], x) != 0) {
		sp_api_respond_error(c, SP_KERR_THROUGHPUT_EXCEEDED, "Rate exceeded for Shard.",
				     false);
	}
}

/* Lay the cold read out in c's big buffer and send it to the shard's owner. */
static void
cold_start(struct sp_api_conn *c, const struct sp_api_stream *st, const struct sp_api_shard *sh,
	   uint32_t limit, sp_u128 ring_first, sp_u128 pos, bool by_time, uint64_t t_ms)
{
	struct sp_api *api = c->api;
	struct sp_api_xcold *x = &c->req.xcold;
	size_t recs_bytes = (size_t)SP_K_GET_RECORDS_MAX_RECORDS * sizeof(struct sp_seg_rec);
	size_t area = (size_t)sp_api_store_wbuf_bytes();
	uint8_t *base, *recs, *rbuf;

	if (!sp_api_conn_room(c, SP_API_BIG_BUF_BYTES - SP_API_RESP_HEAD_BYTES)) {
		sp_api_respond_error(c, SP_KERR_THROUGHPUT_EXCEEDED, "Rate exceeded for Shard.",
				     false);
		return;
	}
	base = (uint8_t *)c->buf.p + SP_API_RESP_HEAD_BYTES;
	recs =
	    (uint8_t *)(((uintptr_t)(base + (c->buf.cap - SP_API_RESP_HEAD_BYTES) - recs_bytes)) &
			~(uintptr_t)15);
	rbuf = (uint8_t *)(((uintptr_t)(recs - area)) & ~(uintptr_t)(SP_API_WBUF_ALIGN - 1));
	SP_VERIFY(rbuf > base + SP_K_GET_RECORDS_MAX_BYTES);
	memcpy(c->req.stream, st->name, st->name_len + 1u);
	c->req.stream_len = st->name_len;
	c->req.get_limit = limit;
	c->req.get_json_cap = (uint32_t)(rbuf - base);
	*x = (struct sp_api_xcold){
	    .req = &c->req,
	    .src = (uint16_t)api->worker,
	    .dst = sp_api_shard_holder(sh, 0),
	    .tag = st->tag,
	    .shard_index = sh->index,
	    .seq = pos,
	    .by_time = by_time,
	    .t_ms = t_ms,
	    .limit = ring_first,
	    .stream = c->req.stream,
	    .stream_len = st->name_len,
	    .created_ms = st->created_ms,
	    .max_records = SP_MIN(limit, SP_K_GET_RECORDS_MAX_RECORDS),
	    /* the answer's base64 must fit below the read area */
	    .max_bytes =
		SP_MIN((uint64_t)SP_K_GET_RECORDS_MAX_BYTES, (uint64_t)(rbuf - base) * 3 / 4),
	    .buf = rbuf,
	    .buf_len = (uint32_t)area,
	    .recs = (struct sp_seg_rec *)recs,
	};
	cold_send(api, c, x, sh);
}

bool
sp_api_cold_get(struct sp_api_conn *c, const struct sp_api_stream *st,
		const struct sp_api_shard *sh, sp_u128 pos, uint32_t limit, sp_u128 *checked)
{
	sp_u128 ring_first;

	*checked = 0;
	if (c->api->store == NULL) {
		return false;
	}
	if (sh->ring == NULL) {
		/* a closed shard without a ring: everything it holds is in the store */
		cold_start(c, st, sh, limit, ~(sp_u128)0, pos, false, 0);
		return true;
	}
	if (!sp_api_cold_is(sh->ring, pos, &ring_first)) {
		*checked = ring_first;
		return false;
	}
	cold_start(c, st, sh, limit, ring_first, pos, false, 0);
	return true;
}

bool
sp_api_cold_get_time(struct sp_api_conn *c, const struct sp_api_stream *st,
		     const struct sp_api_shard *sh, uint64_t t_ms, uint32_t limit)
{
	struct sp_shard_pos th;

	if (c->api->store == NULL) {
		return false;
	}
	if (sh->ring == NULL) {
		th.seq = ~(sp_u128)0; /* ring-less closed shard: all in the store */
	} else if (sp_shard_ring_trim_horizon(sh->ring, &th) != 0) {
		return false;
	}
	cold_start(c, st, sh, limit, th.seq, 0, true, t_ms);
	return true;
}

unsigned
sp_api_cold_poll(struct sp_api *api)
{
	struct sp_api_global *g = api->g;
	unsigned work = 0;

	for (unsigned o = 0; o < g->nb_workers; o++) {
		void *objs[COLD_DONE_BATCH];
		unsigned n;

		if (o == api->worker) {
			continue;
		}
		n = rte_ring_sc_dequeue_burst(g->cold[o][api->worker], objs, COLD_DONE_BATCH, NULL);
		for (unsigned i = 0; i < n; i++) {
			cold_serve(api, objs[i]);
		}
		work += n;
		n = rte_ring_sc_dequeue_burst(g->cold_done[o][api->worker], objs, COLD_DONE_BATCH,
					      NULL);
		for (unsigned i = 0; i < n; i++) {
			cold_finish(api, objs[i]);
		}
		work += n;
	}
	if (api->store != NULL) {
		struct sp_store_read_cpl done[COLD_DONE_BATCH];
		unsigned n = sp_store_read_done(api->store, done, COLD_DONE_BATCH);

		for (unsigned i = 0; i < n; i++) {
			cold_step(api, (struct sp_api_xcold *)(uintptr_t)done[i].tag, done[i].res);
		}
		work += n;
	}
	return work;
}
