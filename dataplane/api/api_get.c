/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * GetShardIterator and GetRecords on a worker. Reads need no hand-off: any worker reads any
 * shard ring's committed prefix lock-free (dataplane/shard/). An iterator is a position (the
 * first record whose sequence number is >= a value) sealed with a MAC (shard_iter.c) together
 * with the stream's name and incarnation tag, the shard and the issue time; GetRecords opens
 * it, reads from the ring into the response, and seals the position after the last record.
 * The MAC key and the iterator clock come from the snapshot in force: the key is control's
 * (so iterators survive a dataplane restart), and the clock is the wall clock plus the test
 * offset, used for iterator issue and expiry times and nothing else.
 * Texts are kinesalite's (../shared/reference/kinesis-api.md §3.3). A CBOR request
 * (c->req.cbor) is decoded by the CBOR decoders and answered by api_cbor.h's writers; a
 * subscription's events (sp_api_sub_mode) stay JSON whatever the request was (§6.2).
 * Runs on worker lcores.
 */
#include <string.h>

#include <spate/assert.h>
#include <spate/err.h>

#include "../shard/shard_iter.h"
#include "../shard/shard_ring.h"
#include "api_cbor.h"
#include "api_req.h"
#include "api_store.h"
#include "api_worker.h"

#define GET_REC_OVERHEAD  200u  /* JSON around one record, without its key and data */
#define GET_KEY_ESC_MAX   6u    /* an escaped key byte takes at most \u00XX */
#define GET_TAIL_BYTES    2048u /* NextShardIterator, MillisBehindLatest, closing */
#define GET_READ_ATTEMPTS 4u    /* reads overrun by a trim before giving up */

SP_STATIC_ASSERT(SP_API_ITER_KEY_BYTES == SP_SHARD_ITER_KEY_BYTES, "control's key is the MAC's");

/*
 * This worker's iterator MAC, keyed for the snapshot in force: re-keyed here, on its own lcore,
 * when a snapshot brings a new key (once per key, not per request; no allocation). api_main.c
 * publishes no snapshot without a key, so the boot placeholder never seals anything.
 */
static struct sp_shard_iter_mac *
get_mac(struct sp_api *api, const struct sp_api_cat *cat)
{
	SP_VERIFY(cat->has_iter && cat->iter_gen != 0);
	if (SP_UNLIKELY(api->iter_gen != cat->iter_gen)) {
		sp_shard_iter_mac_rekey(api->iter, cat->iter.key);
		api->iter_gen = cat->iter_gen;
	}
	return api->iter;
}

/* Iterator time: the request's wall clock plus the test offset (0 outside test mode). */
static uint64_t
get_iter_now(const struct sp_api_conn *c, const struct sp_api_cat *cat)
{
	SP_ASSERT(cat->iter.clock_offset_ms >= -SP_API_ITER_CLOCK_OFFSET_MAX_MS &&
		  cat->iter.clock_offset_ms <= SP_API_ITER_CLOCK_OFFSET_MAX_MS);
	return (uint64_t)((int64_t)c->req.now_ms + cat->iter.clock_offset_ms);
}

static void
get_no_shard(struct sp_api_conn *c, const char *stream, size_t slen, uint32_t idx)
{
	char id[SP_API_SHARD_ID_BYTES];

	sp_api_format_shard_id(idx, id);
	snprintf(c->api->msg, sizeof(c->api->msg),
		 "Shard %s in stream %.*s under account %s does not exist", id, (int)slen, stream,
		 c->req.account);
	sp_api_respond_error(c, SP_KERR_RESOURCE_NOT_FOUND, c->api->msg, false);
}

/* ---- GetShardIterator ---- */

static bool
get_check_type(struct sp_api_conn *c, const struct sp_api_req_get_shard_iterator *r)
{
	struct sp_api *api = c->api;
	bool want_seq = r->type == SP_API_ITER_AT_SEQUENCE_NUMBER ||
			r->type == SP_API_ITER_AFTER_SEQUENCE_NUMBER;
	bool has_seq = (r->has & SP_API_REQ_HAS_SEQ) != 0;

	if (r->type == SP_API_ITER_AT_TIMESTAMP) {
		if (!(r->has & SP_API_REQ_HAS_TIMESTAMP)) {
			sp_api_respond_error(
			    c, SP_KERR_INVALID_ARGUMENT,
			    "Must specify timestampInMillis parameter for iterator "
			    "of type AT_TIMESTAMP. Current request has no timestamp "
			    "parameter.",
			    false);
			return false;
		}
		if ((uint64_t)r->timestamp_ms > c->req.now_ms && r->timestamp_ms > 0) {
			snprintf(api->msg, sizeof(api->msg),
				 "The timestampInMillis parameter cannot be greater than the "
				 "currentTimestampInMillis. timestampInMillis: %lld, "
				 "currentTimestampInMillis: %llu",
				 (long long)r->timestamp_ms, (unsigned long long)c->req.now_ms);
			sp_api_respond_error(c, SP_KERR_INVALID_ARGUMENT, api->msg, false);
			return false;
		}
		return true;
	}
	if (want_seq != has_seq) {
		snprintf(
		    api->msg, sizeof(api->msg),
		    "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
		    "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no "
		    "StartingSequenceNumber. Request specified %s and %s StartingSequenceNumber.",
		    sp_api_iter_type_name(r->type), has_seq ? "also a" : "no");
		sp_api_respond_error(c, SP_KERR_INVALID_ARGUMENT, api->msg, false);
		return false;
	}
	return true;
}

/* StartingSequenceNumber: parse it and check it belongs to this shard of this stream. */
static bool
get_check_seq(struct sp_api_conn *c, const struct sp_api_req_get_shard_iterator *r,
	      const struct sp_api_stream *st, const struct sp_api_shard *sh, sp_u128 *seq)
{
	struct sp_api *api = c->api;
	struct sp_seqno_fields f;
	char id[SP_API_SHARD_ID_BYTES];

	if (sp_u128_parse(r->starting_seq.ptr, r->starting_seq.len, seq) != 0 ||
	    !sp_seqno_unpack(*seq, &f)) {
		snprintf(api->msg, sizeof(api->msg),
			 "StartingSequenceNumber %.*s used in GetShardIterator on shard %s in "
			 "stream %s under account %s is invalid.",
			 (int)r->starting_seq.len, r->starting_seq.ptr, sh->id, st->name,
			 c->req.account);
		sp_api_respond_error(c, SP_KERR_INVALID_ARGUMENT, api->msg, false);
		return false;
	}
	if (f.shard_index != sh->index) {
		sp_api_format_shard_id(f.shard_index, id);
		snprintf(api->msg, sizeof(api->msg),
			 "Invalid StartingSequenceNumber. It encodes %s, while it was used in a "
			 "call to a shard with %s",
			 id, sh->id);
		sp_api_respond_error(c, SP_KERR_INVALID_ARGUMENT, api->msg, false);
		return false;
	}
	if (f.stream_tag != st->tag) {
		snprintf(api->msg, sizeof(api->msg),
			 "StartingSequenceNumber %.*s used in GetShardIterator on shard %s in "
			 "stream %s under account %s is invalid because it did not come from this "
			 "stream.",
			 (int)r->starting_seq.len, r->starting_seq.ptr, sh->id, st->name,
			 c->req.account);
		sp_api_respond_error(c, SP_KERR_INVALID_ARGUMENT, api->msg, false);
		return false;
	}
	return true;
}

/* Stream and shard of a GetShardIterator; NULL after answering. */
static const struct sp_api_shard *
get_locate(struct sp_api_conn *c, const struct sp_api_cat *cat,
	   const struct sp_api_req_get_shard_iterator *r, const struct sp_api_stream **stp)
{
	const struct sp_api_stream *st;
	const struct sp_api_shard *sh;
	uint32_t idx;
	const char *n;
	size_t nlen;

	if (!sp_api_stream_selector(c, &r->stream_name, &r->stream_arn,
				    r->has & SP_API_REQ_HAS_STREAM_NAME,
				    r->has & SP_API_REQ_HAS_STREAM_ARN, &n, &nlen)) {
		return NULL;
	}
	if (sp_api_parse_shard_id(r->shard_id.ptr, r->shard_id.len, &idx) != 0) {
		snprintf(c->api->msg, sizeof(c->api->msg),
			 "Could not find shard %.*s in stream %.*s under account %s.",
			 (int)r->shard_id.len, r->shard_id.ptr, (int)nlen, n, c->req.account);
		sp_api_respond_error(c, SP_KERR_RESOURCE_NOT_FOUND, c->api->msg, false);
		return NULL;
	}
	st = sp_api_cat_stream(cat, n, nlen);
	sh = st != NULL && st->status != SP_API_CREATING ? sp_api_stream_shard(st, idx) : NULL;
	if (sh == NULL) {
		get_no_shard(c, n, nlen, idx);
		return NULL;
	}
	*stp = st;
	return sh;
}

/* GetShardIterator's answer {"ShardIterator":it} in the request's encoding, sent. */
static void
get_iterator_answer(struct sp_api_conn *c, const char *it, size_t it_len)
{
	char *out = c->buf.p + SP_API_RESP_HEAD_BYTES;
	size_t cap = c->buf.cap - SP_API_RESP_HEAD_BYTES;
	ssize_t n = c->req.cbor ? sp_api_cbor_write_shard_iterator(out, cap, it, it_len)
				: sp_api_json_write_shard_iterator(out, cap, it, it_len);

	SP_VERIFY(n > 0);
	sp_api_respond_enc(c, 200, out, (uint32_t)n);
}

/* Seal a position into an iterator string; returns its length. */
static size_t
get_seal_kind(struct sp_api_conn *c, const struct sp_api_cat *cat, const struct sp_api_stream *st,
	      const struct sp_api_shard *sh, sp_u128 pos, enum sp_shard_iter_kind kind, char *out,
	      size_t cap)
{
	struct sp_shard_iter it = {
	    .seq = pos,
	    .issued_ms = get_iter_now(c, cat),
	    .stream_tag = st->tag,
	    .shard_index = sh->index,
	    .kind = kind,
	    .name_len = (uint8_t)st->name_len,
	};
	int n;

	memcpy(it.name, st->name, st->name_len + 1u);
	n = sp_shard_iter_encode(get_mac(c->api, cat), &it, out, cap);
	SP_VERIFY(n > 0 && (size_t)n < cap);
	return (size_t)n;
}

static size_t
get_seal(struct sp_api_conn *c, const struct sp_api_cat *cat, const struct sp_api_stream *st,
	 const struct sp_api_shard *sh, sp_u128 pos, char *out, size_t cap)
{
	return get_seal_kind(c, cat, st, sh, pos, SP_SHARD_ITER_AT, out, cap);
}

/*
 * AT_TIMESTAMP where the answer may lie in the store: the ring's oldest record arrived at or
 * after t (or it has none) and records left the ring before it (trimmed, or an earlier
 * boot's). Then the iterator keeps the time and GetRecords resolves it where the records are.
 */
bool
sp_api_get_time_cold(const struct sp_api_shard *sh, uint64_t t)
{
	struct sp_shard_pos th;
	struct sp_shard_rec_view v;
	struct sp_shard_read_res res;
	int n;

	if (sp_shard_ring_trim_horizon(sh->ring, &th) != 0) {
		return true;
	}
	if (th.seq <= sp_shard_ring_seq(sh->ring, 1) &&
	    sh->starting_seq >= sp_shard_ring_seq(sh->ring, 0)) {
		return false; /* nothing ever left this ring: it has every record */
	}
	n = sp_shard_ring_read(sh->ring, &th, 1, UINT64_MAX, &v, &res);
	return n <= 0 || v.arrival_ms >= t;
}

/*
 * GetShardIterator on a closed shard that has no ring (opened and closed by one reshard, or
 * closed before this boot): every position is a number, resolved in the store at GetRecords.
 * LATEST is past every number the shard can hold.
 */
static void
get_iterator_ringless(struct sp_api_conn *c, const struct sp_api_cat *cat,
		      const struct sp_api_stream *st, const struct sp_api_shard *sh,
		      const struct sp_api_req_get_shard_iterator *r, sp_u128 seq)
{
	char it[SP_K_SHARD_ITERATOR_MAX_CHARS + 1];
	enum sp_shard_iter_kind kind = SP_SHARD_ITER_AT;
	sp_u128 pos;

	switch (r->type) {
	case SP_API_ITER_AT_SEQUENCE_NUMBER:
		pos = seq;
		break;
	case SP_API_ITER_AFTER_SEQUENCE_NUMBER:
		pos = seq + 1;
		break;
	case SP_API_ITER_AT_TIMESTAMP:
		pos = (uint64_t)SP_MAX(r->timestamp_ms, 0);
		kind = SP_SHARD_ITER_TIME;
		break;
	case SP_API_ITER_TRIM_HORIZON:
		pos = sh->starting_seq;
		break;
	default:
		pos = ~(sp_u128)0;
		break;
	}
	get_iterator_answer(c, it, get_seal_kind(c, cat, st, sh, pos, kind, it, sizeof(it)));
}

void
sp_api_get_again(struct sp_api_conn *c, const struct sp_api_cat *cat,
		 const struct sp_api_stream *st, const struct sp_api_shard *sh, sp_u128 pos,
		 bool by_time)
{
	char it[SP_K_SHARD_ITERATOR_MAX_CHARS + 1];
	char *out = c->buf.p + SP_API_RESP_HEAD_BYTES;
	size_t cap = c->buf.cap - SP_API_RESP_HEAD_BYTES;
	size_t it_len;
	ssize_t len;

	if (sp_api_sub_mode(c)) {
		/* a subscription: nothing yet, at the same position */
		sp_api_sub_deliver(c, NULL, 0, 0, by_time ? 0 : pos, false);
		return;
	}
	it_len = get_seal_kind(c, cat, st, sh, pos, by_time ? SP_SHARD_ITER_TIME : SP_SHARD_ITER_AT,
			       it, sizeof(it));
	if (c->req.cbor) {
		struct sp_cbor_w cw;

		sp_cbor_w_init(&cw, (uint8_t *)out, cap);
		sp_api_cw_get_records_begin(&cw);
		sp_api_cw_get_records_end(&cw, it, it_len, 0, NULL, 0);
		len = sp_cbor_w_finish(&cw);
	} else {
		struct sp_api_jw w;

		sp_api_jw_init(&w, out, cap);
		sp_api_jw_get_records_begin(&w);
		sp_api_jw_get_records_end(&w, it, it_len, 0, NULL, 0);
		len = sp_api_jw_finish(&w);
	}
	SP_VERIFY(len > 0);
	sp_api_respond_enc(c, 200, out, (uint32_t)len);
}

void
sp_api_get_closed_end(struct sp_api_conn *c, const struct sp_api_cat *cat,
		      const struct sp_api_stream *st, const struct sp_api_shard *sh)
{
	struct sp_api *api = c->api;
	struct sp_api_child_text txt[2];
	struct sp_api_jw_child kids[2];
	struct sp_api_jw w;
	ssize_t len;

	(void)cat;
	SP_VERIFY(!sh->open);
	if (c->req.cbor && !sp_api_sub_mode(c)) {
		struct sp_cbor_w cw;

		sp_cbor_w_init(&cw, (uint8_t *)c->buf.p + SP_API_RESP_HEAD_BYTES,
			       c->buf.cap - SP_API_RESP_HEAD_BYTES);
		sp_api_cw_get_records_begin(&cw);
		sp_api_cw_get_records_end(&cw, NULL, 0, 0, kids,
					  sp_api_reshard_children(st, sh, txt, kids));
		len = sp_cbor_w_finish(&cw);
		SP_VERIFY(len > 0);
		api->cnt.shard_ends++;
		sp_api_respond_enc(c, 200, c->buf.p + SP_API_RESP_HEAD_BYTES, (uint32_t)len);
		return;
	}
	sp_api_jw_init(&w, c->buf.p + SP_API_RESP_HEAD_BYTES, c->buf.cap - SP_API_RESP_HEAD_BYTES);
	sp_api_jw_get_records_begin(&w);
	if (sp_api_sub_mode(c)) {
		sp_api_jw_sub_event_end(&w, NULL, 0, 0, kids,
					sp_api_reshard_children(st, sh, txt, kids));
	} else {
		sp_api_jw_get_records_end(&w, NULL, 0, 0, kids,
					  sp_api_reshard_children(st, sh, txt, kids));
	}
	len = sp_api_jw_finish(&w);
	SP_VERIFY(len > 0);
	api->cnt.shard_ends++;
	if (sp_api_sub_mode(c)) {
		sp_api_sub_deliver(c, c->buf.p + SP_API_RESP_HEAD_BYTES, (uint32_t)len, 0, 0,
				   true);
		return;
	}
	sp_api_respond(c, 200, c->buf.p + SP_API_RESP_HEAD_BYTES, (uint32_t)len);
}

void
sp_api_op_get_iterator(struct sp_api_conn *c, const struct sp_api_cat *cat, const char *body,
		       uint32_t len)
{
	struct sp_api_req_get_shard_iterator r;
	struct sp_api_req_err err;
	const struct sp_api_stream *st = NULL;
	const struct sp_api_shard *sh;
	struct sp_shard_pos pos = {0};
	char it[SP_K_SHARD_ITERATOR_MAX_CHARS + 1];
	size_t scap = c->buf.cap - SP_API_RESP_HEAD_BYTES - len; /* scratch: after the body */
	sp_u128 seq = 0, first;
	bool stored = c->api->store != NULL;
	enum sp_shard_iter_kind kind = SP_SHARD_ITER_AT;
	int rc = (c->req.cbor ? sp_api_cbor_get_shard_iterator : sp_api_req_get_shard_iterator)(
	    body, len, (char *)body + len, scap, &r, &err);

	if (rc != 0) {
		sp_api_respond_error(c, err.kerr, err.has_msg ? err.msg : NULL, err.capital_m);
		return;
	}
	sh = get_locate(c, cat, &r, &st);
	if (sh == NULL || !get_check_type(c, &r)) {
		return;
	}
	if ((r.has & SP_API_REQ_HAS_SEQ) && r.type != SP_API_ITER_AT_TIMESTAMP &&
	    !get_check_seq(c, &r, st, sh, &seq)) {
		return;
	}
	if (sh->ring == NULL && !sh->open) {
		/* a closed shard without a ring: positions the store resolves at GetRecords */
		get_iterator_ringless(c, cat, st, sh, &r, seq);
		return;
	}
	if (sh->ring == NULL) {
		sp_api_respond_error(c, SP_KERR_INTERNAL_FAILURE, NULL, false);
		return;
	}
	switch (r.type) {
	case SP_API_ITER_AT_SEQUENCE_NUMBER:
	case SP_API_ITER_AFTER_SEQUENCE_NUMBER:
		pos.seq = r.type == SP_API_ITER_AFTER_SEQUENCE_NUMBER ? seq + 1 : seq;
		if (stored && sp_api_cold_is(sh->ring, pos.seq, &first)) {
			/*
			 * older than the ring (an earlier boot's, or trimmed from the ring in this
			 * one): a position the store resolves at GetRecords
			 */
			break;
		}
		rc = sp_shard_ring_seek_seq(sh->ring, seq,
					    r.type == SP_API_ITER_AFTER_SEQUENCE_NUMBER, &pos);
		break;
	case SP_API_ITER_AT_TIMESTAMP:
		if (stored && sp_api_get_time_cold(sh, (uint64_t)SP_MAX(r.timestamp_ms, 0))) {
			pos.seq = (uint64_t)SP_MAX(r.timestamp_ms, 0);
			kind = SP_SHARD_ITER_TIME;
			break;
		}
		rc = sp_shard_ring_seek_time(sh->ring, (uint64_t)SP_MAX(r.timestamp_ms, 0), &pos);
		break;
	case SP_API_ITER_TRIM_HORIZON:
		if (stored) {
			pos.seq = sh->starting_seq; /* the oldest record, wherever it is */
			break;
		}
		rc = sp_shard_ring_trim_horizon(sh->ring, &pos);
		break;
	default:
		rc = sp_shard_ring_latest(sh->ring, &pos);
		break;
	}
	if (rc != 0) {
		sp_api_respond_error(c, SP_KERR_INTERNAL_FAILURE, NULL, false);
		return;
	}
	get_iterator_answer(c, it, get_seal_kind(c, cat, st, sh, pos.seq, kind, it, sizeof(it)));
}

/* ---- GetRecords ---- */

/*
 * The encoded answer out: GetRecords' 200, or a subscription's event (api_sub.c), which moves
 * to just after the last record (or to next_pos when there was none and next_pos is not 0).
 */
static void
get_deliver(struct sp_api_conn *c, uint32_t blen, const struct sp_shard_rec_view *v, unsigned n,
	    sp_u128 next_pos, bool ended)
{
	if (sp_api_sub_mode(c)) {
		sp_api_sub_deliver(c, c->buf.p + SP_API_RESP_HEAD_BYTES, blen,
				   n > 0 ? v[n - 1].seq : 0, n > 0 ? v[n - 1].seq + 1 : next_pos,
				   ended);
		return;
	}
	sp_api_respond_enc(c, 200, c->buf.p + SP_API_RESP_HEAD_BYTES, blen);
}

/* How many of the n views read fit the answer buffer once encoded. */
static unsigned
get_fit(const struct sp_shard_rec_view *v, unsigned n, size_t cap)
{
	size_t need = GET_TAIL_BYTES;
	unsigned k = 0;

	for (; k < n; k++) {
		need += GET_REC_OVERHEAD + (size_t)v[k].key_len * GET_KEY_ESC_MAX +
			(((size_t)v[k].data_len + 2) / 3) * 4;
		if (need > cap) {
			break;
		}
	}
	return k;
}

/* The view's record as the writers take it (seq: its text buffer). */
static struct sp_api_jw_record
get_jw_record(const struct sp_shard_rec_view *v, char *seq)
{
	return (struct sp_api_jw_record){
	    .seq = seq,
	    .seq_len = sp_u128_format(v->seq, seq),
	    .arrival_ms = (int64_t)v->arrival_ms,
	    .data = v->data,
	    .data_len = v->data_len,
	    .key = (const char *)v->key,
	    .key_len = v->key_len,
	    .encryption = (v->flags & SP_API_REC_SEALED) != 0 ? "KMS" : "NONE",
	};
}

/*
 * get_answer for a CBOR request (never a subscription's event): the same answer with
 * api_cbor.h's writer. Every record takes fewer bytes than in JSON (raw Data, raw key), so
 * get_fit()'s JSON sizes bound it.
 */
static uint32_t
get_answer_cbor(struct sp_api_conn *c, const struct sp_api_cat *cat, const struct sp_api_stream *st,
		const struct sp_api_shard *sh, const struct sp_shard_rec_view *v, unsigned n,
		sp_u128 next, uint64_t millis_behind, size_t cap, bool ended)
{
	char it[SP_K_SHARD_ITERATOR_MAX_CHARS + 1], seq[SP_U128_DEC_MAX + 1];
	struct sp_cbor_w w;
	ssize_t len;

	sp_cbor_w_init(&w, (uint8_t *)c->buf.p + SP_API_RESP_HEAD_BYTES, cap);
	sp_api_cw_get_records_begin(&w);
	for (unsigned i = 0; i < n; i++) {
		struct sp_api_jw_record r = get_jw_record(&v[i], seq);

		sp_api_cw_get_records_record(&w, &r);
	}
	if (ended) {
		struct sp_api_child_text txt[2];
		struct sp_api_jw_child kids[2];

		sp_api_cw_get_records_end(&w, NULL, 0, 0, kids,
					  sp_api_reshard_children(st, sh, txt, kids));
	} else {
		sp_api_cw_get_records_end(&w, it, get_seal(c, cat, st, sh, next, it, sizeof(it)),
					  millis_behind, NULL, 0);
	}
	len = sp_cbor_w_finish(&w);
	SP_VERIFY(len > 0); /* get_fit() sized it */
	return (uint32_t)len;
}

/* Encode the answer into the connection's buffer; returns its length. */
static uint32_t
get_answer(struct sp_api_conn *c, const struct sp_api_cat *cat, const struct sp_api_stream *st,
	   const struct sp_api_shard *sh, const struct sp_shard_rec_view *v, unsigned n,
	   sp_u128 next_pos, uint64_t millis_behind, size_t cap, bool may_end, bool *ended)
{
	struct sp_api *api = c->api;
	char it[SP_K_SHARD_ITERATOR_MAX_CHARS + 1], seq[SP_U128_DEC_MAX + 1];
	struct sp_api_jw w;
	sp_u128 next = n > 0 ? v[n - 1].seq + 1 : next_pos;
	ssize_t len;

	SP_VERIFY(cap <= c->buf.cap - SP_API_RESP_HEAD_BYTES);
	*ended = may_end && !sh->open && sh->ring != NULL && sp_shard_ring_ended(sh->ring, next);
	if (c->req.cbor && !sp_api_sub_mode(c)) {
		api->cnt.shard_ends += *ended;
		api->cnt.records_out += n;
		return get_answer_cbor(c, cat, st, sh, v, n, next, millis_behind, cap, *ended);
	}
	sp_api_jw_init(&w, c->buf.p + SP_API_RESP_HEAD_BYTES, cap);
	sp_api_jw_get_records_begin(&w);
	for (unsigned i = 0; i < n; i++) {
		struct sp_api_jw_record r = get_jw_record(&v[i], seq);

		sp_api_jw_get_records_record(&w, &r);
	}
	if (*ended) {
		/* a closed shard read to its end: no next iterator, its children instead */
		struct sp_api_child_text txt[2];
		struct sp_api_jw_child kids[2];
		unsigned nk = sp_api_reshard_children(st, sh, txt, kids);

		if (sp_api_sub_mode(c)) {
			sp_api_jw_sub_event_end(&w, NULL, 0, 0, kids, nk);
		} else {
			sp_api_jw_get_records_end(&w, NULL, 0, 0, kids, nk);
		}
		api->cnt.shard_ends++;
	} else if (sp_api_sub_mode(c)) {
		sp_u128 cont = n > 0 ? v[n - 1].seq : sp_api_sub_cont(c);

		sp_api_jw_sub_event_end(&w, seq, sp_u128_format(cont, seq), millis_behind, NULL, 0);
	} else {
		sp_api_jw_get_records_end(&w, it, get_seal(c, cat, st, sh, next, it, sizeof(it)),
					  millis_behind, NULL, 0);
	}
	len = sp_api_jw_finish(&w);
	SP_VERIFY(len > 0); /* get_fit() sized it */
	api->cnt.records_out += n;
	return (uint32_t)len;
}

/* GetRecords from a time iterator: the store first when it may hold the answer. */
static void
get_records_at_time(struct sp_api_conn *c, const struct sp_api_cat *cat,
		    const struct sp_api_stream *st, const struct sp_api_shard *sh, uint64_t t,
		    uint32_t limit)
{
	if (c->api->store != NULL && sp_api_cold_get_time(c, st, sh, t, limit)) {
		return;
	}
	sp_api_get_at_time_ring(c, cat, st, sh, t, limit);
}

void
sp_api_get_at_time_ring(struct sp_api_conn *c, const struct sp_api_cat *cat,
			const struct sp_api_stream *st, const struct sp_api_shard *sh, uint64_t t,
			uint32_t limit)
{
	struct sp_shard_pos pos;

	if (sp_shard_ring_seek_time(sh->ring, t, &pos) != 0) {
		sp_api_respond_error(c, SP_KERR_INTERNAL_FAILURE, NULL, false);
		return;
	}
	sp_api_get_from_ring(c, cat, st, sh, pos.seq, limit, 0);
}

void
sp_api_op_get_records(struct sp_api_conn *c, const struct sp_api_cat *cat, const char *body,
		      uint32_t len)
{
	struct sp_api *api = c->api;
	struct sp_api_req_get_records r;
	struct sp_api_req_err err;
	struct sp_shard_iter it;
	sp_u128 pos, checked;
	const struct sp_api_stream *st;
	const struct sp_api_shard *sh;
	int rc;

	rc = c->req.cbor
		 ? sp_api_cbor_get_records(body, len, (char *)body + len,
					   c->buf.cap - SP_API_RESP_HEAD_BYTES - len, &r, &err)
		 : sp_api_req_get_records(body, len, (char *)body + len,
					  c->buf.cap - SP_API_RESP_HEAD_BYTES - len, &r, &err);
	if (rc != 0) {
		sp_api_respond_error(c, err.kerr, err.has_msg ? err.msg : NULL, err.capital_m);
		return;
	}
	rc = sp_shard_iter_decode(get_mac(api, cat), r.shard_iterator.ptr, r.shard_iterator.len,
				  get_iter_now(c, cat), &it);
	if (rc == SP_SHARD_ITER_EXPIRED) {
		sp_shard_iter_expired_msg(it.issued_ms, get_iter_now(c, cat), api->msg,
					  sizeof(api->msg));
		sp_api_respond_error(c, SP_KERR_EXPIRED_ITERATOR, api->msg, false);
		return;
	}
	if (rc != 0) {
		sp_api_respond_error(c, SP_KERR_INVALID_ARGUMENT, "Invalid ShardIterator.", false);
		return;
	}
	st = sp_api_cat_stream(cat, it.name, it.name_len);
	sh =
	    st != NULL && st->tag == it.stream_tag ? sp_api_stream_shard(st, it.shard_index) : NULL;
	if (sh == NULL || (sh->ring == NULL && sh->open)) {
		get_no_shard(c, it.name, it.name_len, it.shard_index);
		return;
	}
	if (sh->ring == NULL) {
		/* a closed shard kept only in the store (or, without one, empty) */
		uint32_t lim = (uint32_t)r.limit;
		bool sent;

		if (it.kind == SP_SHARD_ITER_TIME) {
			sent = sp_api_cold_get_time(c, st, sh, (uint64_t)it.seq, lim);
		} else {
			pos = it.kind == SP_SHARD_ITER_AFTER ? it.seq + 1 : it.seq;
			sent = sp_api_cold_get(c, st, sh, pos, lim, &checked);
		}
		if (!sent) {
			sp_api_get_closed_end(c, cat, st, sh);
		}
		return;
	}
	if (it.kind == SP_SHARD_ITER_TIME) {
		get_records_at_time(c, cat, st, sh, (uint64_t)it.seq, (uint32_t)r.limit);
		return;
	}
	pos = it.kind == SP_SHARD_ITER_AFTER ? it.seq + 1 : it.seq;
	if (sp_api_cold_get(c, st, sh, pos, (uint32_t)r.limit, &checked)) {
		return; /* older than the ring: the owner reads its store */
	}
	sp_api_get_from_ring(c, cat, st, sh, pos, (uint32_t)r.limit, checked);
}

void
sp_api_get_from_ring(struct sp_api_conn *c, const struct sp_api_cat *cat,
		     const struct sp_api_stream *st, const struct sp_api_shard *sh, sp_u128 at,
		     uint32_t limit, sp_u128 checked)
{
	struct sp_api *api = c->api;
	struct sp_shard_read_res res;
	struct sp_shard_pos pos = {.seq = at};
	uint32_t blen;
	bool ended;
	int rc = 0;

	/* a big buffer when one is free; the small one otherwise (fewer records) */
	(void)sp_api_conn_room(c, SP_API_BIG_BUF_BYTES - SP_API_RESP_HEAD_BYTES);
	for (unsigned attempt = 0; attempt < GET_READ_ATTEMPTS; attempt++) {
		size_t cap = c->buf.cap - SP_API_RESP_HEAD_BYTES;
		uint64_t max_bytes = SP_MIN((uint64_t)SP_K_GET_RECORDS_MAX_BYTES, cap * 3 / 4);
		unsigned want = (unsigned)SP_MIN(limit, SP_K_GET_RECORDS_MAX_RECORDS);

		rc = sp_shard_ring_read(sh->ring, &pos, want, max_bytes, api->views, &res);
		if (rc < 0) {
			break;
		}
		if (checked != 0 && sp_api_cold_trimmed(sh->ring, pos.seq, checked)) {
			/* trimmed under us after the cold check: the client retries, from the store
			 */
			sp_api_respond_error(c, SP_KERR_THROUGHPUT_EXCEEDED,
					     "Rate exceeded for Shard.", false);
			return;
		}
		rc = (int)get_fit(api->views, (unsigned)rc, cap);
		blen = get_answer(c, cat, st, sh, api->views, (unsigned)rc, res.next.seq,
				  res.millis_behind, cap, true, &ended);
		if (sp_shard_ring_read_intact(sh->ring, &res)) {
			/* encoded from records nobody trimmed meanwhile */
			get_deliver(c, blen, api->views, (unsigned)rc, res.next.seq, ended);
			return;
		}
		/* a trim overran the read: encode again from the same position */
	}
	sp_api_respond_error(c, SP_KERR_INTERNAL_FAILURE, NULL, false);
}

bool
sp_api_get_answer_views(struct sp_api_conn *c, const struct sp_api_cat *cat,
			const struct sp_api_stream *st, const struct sp_api_shard *sh, unsigned n,
			uint64_t millis_behind, size_t cap, const struct sp_shard_ring *ring,
			const struct sp_shard_read_res *res)
{
	struct sp_api *api = c->api;
	unsigned k = get_fit(api->views, n, cap);
	uint32_t blen;
	bool ended;

	SP_VERIFY(k > 0 || n == 0);
	/* the end only after records of the ring: a store-only answer may have more behind it */
	blen = get_answer(c, cat, st, sh, api->views, k, 0, millis_behind, cap, ring != NULL,
			  &ended);
	if (ring != NULL && !sp_shard_ring_read_intact(ring, res)) {
		return false; /* views from the ring were overrun: the caller answers without */
	}
	get_deliver(c, blen, api->views, k, 0, ended);
	return true;
}

void
sp_api_get_no_shard(struct sp_api_conn *c, const char *stream, size_t slen, uint32_t idx)
{
	get_no_shard(c, stream, slen, idx);
}
