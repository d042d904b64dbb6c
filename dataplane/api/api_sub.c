/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SubscribeToShard (enhanced fan-out, kinesis-api.md §3.6, §6) on a worker: an HTTP/2 stream
 * that stays open for up to five minutes and carries AWS event-stream messages.
 *
 * The request is checked like a GetShardIterator (the consumer, which must be ACTIVE in the
 * snapshot, names the stream); the answer's head goes out at once with an `initial-response`
 * event, and the subscription joins this worker's table. Every worker poll looks at each
 * subscription whose previous event has left: records past its position in the shard's ring
 * become one `SubscribeToShardEvent` (Records, ContinuationSequenceNumber = the last record's
 * number, MillisBehindLatest), read with the ring's views and encoded straight into the
 * exchange's buffer; with nothing new, an empty event goes out once a second as a heartbeat.
 * A closed shard read to its end gets a last event with ChildShards and no continuation, and
 * the stream ends; so does every subscription after five minutes.
 *
 * One subscriber per consumer and shard: a second subscription within five seconds of the
 * first is refused with ResourceInUseException; a later one takes over, and the earlier one
 * ends with a ResourceInUseException event. The claims live in a table all workers share
 * (g->sub_claims), one spinlock per entry, taken only when a subscription starts and when a
 * subscription checks whether it was replaced (once per poll, no contention in practice).
 *
 * Framing (§6.3): prelude (total length, headers length, CRC-32 of those 8 bytes), headers
 * (`:event-type`, `:content-type`, `:message-type`, strings), payload, CRC-32 of everything
 * before it, by dataplane/evstream (its PCLMULQDQ CRC-32 where the CPU has it).
 *
 * Over HTTP/2 each event is DATA on the stream; over HTTP/1.1 (boto3) the answer is chunked,
 * one event per chunk (api_conn.c's streaming).
 *
 * An event leaves by reference to the exchange's buffer (api_buf.h): until TCP has freed the
 * mbufs pointing into it, the next event may not be written there. Each turn therefore starts
 * with a buffer no mbuf references: the same one when its bytes are acknowledged, else a
 * fresh one (the old one returns to the pool with its last mbuf); with none free the turn
 * waits for a later poll (buf_lent_waits).
 */
#include <string.h>

#include <rte_spinlock.h>

#include <spate/assert.h>
#include <spate/err.h>
#include <spate/seqno.h>

#include "../evstream/evstream.h"
#include "../shard/shard_ring.h"
#include "api_json.h"
#include "api_req.h"
#include "api_store.h"
#include "api_worker.h"

#define SUB_LIFETIME_MS    (5u * 60u * 1000u)
#define SUB_REPLACE_MS     5000u
#define SUB_HEARTBEAT_MS   1000u
#define SUB_EVENT_HEAD     256u /* prelude and headers, before the payload */
#define SUB_CT_EVENTSTREAM "application/vnd.amazon.eventstream"

/* ---- framing ---- */

/* Bytes the three string headers of hdr take in a message (name_len, name, type, len, value). */
static size_t
sub_headers_len(const char *const hdr[3][2])
{
	size_t n = 0;

	for (unsigned i = 0; i < 3; i++) {
		n += 4 + strlen(hdr[i][0]) + strlen(hdr[i][1]);
	}
	return n;
}

/*
 * Frame the payload (plen bytes, already written, with at least SUB_EVENT_HEAD bytes of room
 * before it and SP_EVS_TRAILER_BYTES after) in place as one message with the three string
 * headers (dataplane/evstream: prelude, headers, both CRC-32s); returns where the message
 * starts, *len its length.
 */
static uint8_t *
sub_frame(uint8_t *payload, size_t plen, const char *const hdr[3][2], uint32_t *len)
{
	size_t hlen = sub_headers_len(hdr), room;
	uint8_t *msg = payload - hlen - SP_EVS_PRELUDE_BYTES;
	struct sp_evs_enc e;
	ssize_t n;

	SP_VERIFY(SP_EVS_PRELUDE_BYTES + hlen <= SUB_EVENT_HEAD &&
		  SUB_EVENT_HEAD <= SP_API_RESP_HEAD_BYTES);
	sp_evs_enc_begin(&e, msg, SP_EVS_PRELUDE_BYTES + hlen + plen + SP_EVS_TRAILER_BYTES);
	for (unsigned i = 0; i < 3; i++) {
		sp_evs_hdr_cstr(&e, hdr[i][0], hdr[i][1]);
	}
	SP_VERIFY(sp_evs_payload_room(&e, &room) == payload && room >= plen);
	sp_evs_payload_commit(&e, plen); /* the payload is there already */
	n = sp_evs_enc_finish(&e);
	SP_VERIFY(n > 0);
	*len = (uint32_t)n;
	return msg;
}

/* The exchange's next bytes to send: an event whose payload was written at sub_payload(). */
static void
sub_queue(struct sp_api_conn *x, size_t plen, const char *event_type, const char *msg_type,
	  const char *type_key)
{
	const char *const hdr[3][2] = {
	    {type_key, event_type},
	    {":content-type", "application/json"},
	    {":message-type", msg_type},
	};
	uint32_t len;
	uint8_t *msg;

	/* the previous event's bytes are acknowledged, or this is a fresh buffer (sub_poll) */
	SP_VERIFY(!sp_api_bufpool_lent(x->api->bufs, &x->buf));
	msg = sub_frame((uint8_t *)x->buf.p + SP_API_RESP_HEAD_BYTES, plen, hdr, &len);

	/* HTTP/1.1 puts the chunk size (and the head, the first time) in front */
	SP_VERIFY(msg - (uint8_t *)x->buf.p >= (ptrdiff_t)SP_API_STREAM_ROOM);
	sp_api_conn_stream_push(x, (char *)msg, len);
}

/* Payloads go where GetRecords writes its answer (the cold path's layout too). */
static uint8_t *
sub_payload(struct sp_api_conn *x)
{
	return (uint8_t *)x->buf.p + SP_API_RESP_HEAD_BYTES;
}

static size_t
sub_payload_cap(const struct sp_api_conn *x)
{
	return x->buf.cap - SP_API_RESP_HEAD_BYTES - SP_EVS_TRAILER_BYTES - 2; /* + chunk's CRLF */
}

/* An exception event (`:exception-type`), then the end of the stream. */
static void
sub_fail(struct sp_api_conn *x, enum sp_kerr kerr, const char *message)
{
	struct sp_api_jw w;
	ssize_t n;

	sp_api_jw_init(&w, (char *)sub_payload(x), sub_payload_cap(x));
	sp_api_jw_obj_begin(&w);
	sp_api_jw_kstr(&w, "message", message, strlen(message));
	sp_api_jw_obj_end(&w);
	n = sp_api_jw_finish(&w);
	SP_VERIFY(n > 0);
	x->api->cnt.sub_failed++;
	sub_queue(x, (size_t)n, sp_kerr_table[kerr].type, "exception", ":exception-type");
	sp_api_conn_stream_end(x);
}

/* ---- the 5-second rule ---- */

static uint64_t
sub_claim_key(const char *arn, size_t len, uint32_t shard)
{
	/* FNV-1a over the ARN, then the shard */
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (size_t i = 0; i < len; i++) {
		h = (h ^ (uint8_t)arn[i]) * UINT64_C(0x100000001b3);
	}
	return (h ^ shard) * UINT64_C(0x100000001b3) | 1; /* never 0 (a free entry) */
}

/* Take the claim for key now: its generation, or 0 when a live subscription is too recent. */
static uint32_t
sub_claim(struct sp_api_global *g, uint64_t key, uint64_t now_ms)
{
	struct sp_api_sub_claim *cl = &g->sub_claims[key % SP_API_SUB_CLAIMS];
	uint32_t gen = 0;

	rte_spinlock_lock(&cl->lock);
	if (cl->key != key || cl->gen == 0 || now_ms >= cl->since_ms + SUB_REPLACE_MS) {
		cl->key = key;
		cl->since_ms = now_ms;
		cl->gen = cl->gen + 1 != 0 ? cl->gen + 1 : 1;
		gen = cl->gen;
	}
	rte_spinlock_unlock(&cl->lock);
	return gen;
}

static bool
sub_replaced(struct sp_api_global *g, const struct sp_api_sub *s)
{
	struct sp_api_sub_claim *cl = &g->sub_claims[s->claim_key % SP_API_SUB_CLAIMS];
	bool replaced;

	rte_spinlock_lock(&cl->lock);
	replaced = cl->key != s->claim_key || cl->gen != s->claim_gen;
	rte_spinlock_unlock(&cl->lock);
	return replaced;
}

/* ---- the request ---- */

struct sub_req {
	struct sp_api_json_str arn, shard_id, type, seq;
	int64_t timestamp_ms;
	bool has_arn, has_shard, has_pos, has_type, has_seq, has_time;
};

static int
sub_str(struct sp_api_json *js, struct sp_api_json_str *out, bool *has)
{
	int k = sp_api_json_value(js, out);

	if (k < 0) {
		return k;
	}
	if (k == SP_API_JSON_NULL) {
		return 0;
	}
	*has = true;
	return k == SP_API_JSON_STRING ? 0 : 1;
}

static int
sub_position(struct sp_api_json *js, struct sub_req *r)
{
	struct sp_api_json_str key, num;
	int rc;

	if (sp_api_json_peek(js) != SP_API_JSON_OBJECT) {
		rc = sp_api_json_skip(js);
		return rc < 0 ? rc : 1;
	}
	r->has_pos = true;
	rc = sp_api_json_obj_enter(js);
	while (rc == 0 && (rc = sp_api_json_obj_next(js, &key)) == 1) {
		if (key.len == 4 && memcmp(key.ptr, "Type", 4) == 0) {
			rc = sub_str(js, &r->type, &r->has_type);
		} else if (key.len == 14 && memcmp(key.ptr, "SequenceNumber", 14) == 0) {
			rc = sub_str(js, &r->seq, &r->has_seq);
		} else if (key.len == 9 && memcmp(key.ptr, "Timestamp", 9) == 0) {
			int k = sp_api_json_value(js, &num);

			rc = k < 0 ? k : 0;
			if (k == SP_API_JSON_NUMBER) {
				r->has_time = true;
				r->timestamp_ms = sp_api_json_num_ms(&num);
			} else if (k >= 0 && k != SP_API_JSON_NULL) {
				rc = 1;
			}
		} else {
			rc = sp_api_json_skip(js);
		}
	}
	return rc;
}

/*
 * Decode; false after answering. Checks: the body (SerializationException), member types,
 * then the required members (ValidationException, kinesalite's texts).
 */
static bool
sub_decode(struct sp_api_conn *x, const char *body, uint32_t len, struct sub_req *r)
{
	struct sp_api *api = x->api;
	struct sp_api_json js;
	struct sp_api_json_str key;
	struct sp_kvalid kv;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = sp_api_json_init(&js, body, len, (char *)body + len,
			      x->buf.cap - SP_API_RESP_HEAD_BYTES - len);
	if (rc == 0) {
		rc = sp_api_json_obj_enter(&js);
	}
	while (rc == 0 && (rc = sp_api_json_obj_next(&js, &key)) == 1) {
		if (key.len == 11 && memcmp(key.ptr, "ConsumerARN", 11) == 0) {
			rc = sub_str(&js, &r->arn, &r->has_arn);
		} else if (key.len == 7 && memcmp(key.ptr, "ShardId", 7) == 0) {
			rc = sub_str(&js, &r->shard_id, &r->has_shard);
		} else if (key.len == 16 && memcmp(key.ptr, "StartingPosition", 16) == 0) {
			rc = sub_position(&js, r);
		} else {
			rc = sp_api_json_skip(&js);
		}
	}
	if (rc == 0) {
		rc = sp_api_json_finish(&js);
	}
	if (rc != 0) {
		sp_api_respond_error(x, SP_KERR_SERIALIZATION,
				     rc > 0 ? "Unexpected value type in payload" : NULL, rc > 0);
		return false;
	}
	sp_kvalid_init(&kv);
	if (!r->has_arn) {
		sp_kvalid_add(&kv, "null", "consumerARN", "Member must not be null");
	}
	if (!r->has_shard) {
		sp_kvalid_add(&kv, "null", "shardId", "Member must not be null");
	}
	if (!r->has_pos) {
		sp_kvalid_add(&kv, "null", "startingPosition", "Member must not be null");
	} else if (!r->has_type) {
		sp_kvalid_add(&kv, "null", "startingPosition.type", "Member must not be null");
	}
	if (kv.n > 0) {
		sp_kvalid_message(&kv, api->msg, sizeof(api->msg));
		sp_api_respond_error(x, SP_KERR_VALIDATION, api->msg, false);
		return false;
	}
	return true;
}

static const char *const sub_types[SP_API_ITER_COUNT] = {
    [SP_API_ITER_AFTER_SEQUENCE_NUMBER] = "AFTER_SEQUENCE_NUMBER",
    [SP_API_ITER_LATEST] = "LATEST",
    [SP_API_ITER_AT_TIMESTAMP] = "AT_TIMESTAMP",
    [SP_API_ITER_AT_SEQUENCE_NUMBER] = "AT_SEQUENCE_NUMBER",
    [SP_API_ITER_TRIM_HORIZON] = "TRIM_HORIZON",
};

/*
 * A ContinuationSequenceNumber for a subscription that has delivered nothing yet, at
 * position pos: a valid number of this shard after which the next record is the one at pos,
 * so that AFTER_SEQUENCE_NUMBER with it resumes right there. pos names a record: the same
 * number one counter step lower; pos is past the tip: the tip; else the shard's start (whose
 * number precedes every record's).
 */
static sp_u128
sub_last_before(const struct sp_api_shard *sh, sp_u128 pos)
{
	struct sp_seqno_fields f;
	struct sp_shard_ring_info ri;

	if (sp_seqno_unpack(pos, &f) && f.shard_index == sh->index && f.counter > 0 &&
	    f.counter != SP_SEQNO_COUNTER_MAX) {
		f.counter--;
		return sp_seqno_pack(&f);
	}
	if (sh->ring != NULL) {
		sp_shard_ring_info(sh->ring, &ri);
		if (ri.tip_seq != 0 && ri.tip_seq < pos) {
			return ri.tip_seq;
		}
	}
	return sh->starting_seq;
}

/* StartingPosition.Type, or SP_API_ITER_COUNT when it names none. */
static enum sp_api_iter_type
sub_type(const struct sp_api_json_str *type)
{
	for (unsigned i = 0; i < SP_API_ITER_COUNT; i++) {
		if (type->len == strlen(sub_types[i]) &&
		    memcmp(type->ptr, sub_types[i], type->len) == 0) {
			return (enum sp_api_iter_type)i;
		}
	}
	return SP_API_ITER_COUNT;
}

/*
 * Where the subscription starts; false after answering. Positions older than the ring (or on
 * a closed shard kept only in the store) are read from the store by the first turns, as
 * GetShardIterator's are by GetRecords.
 */
static bool
sub_start_pos(struct sp_api_conn *x, const struct sub_req *r, const struct sp_api_stream *st,
	      const struct sp_api_shard *sh, sp_u128 *out, sp_u128 *last, uint64_t *t_ms)
{
	struct sp_api *api = x->api;
	struct sp_shard_pos pos = {0};
	enum sp_api_iter_type t;
	struct sp_seqno_fields f;
	sp_u128 seq = 0, first;
	bool stored = api->store != NULL;
	int rc = 0;

	*t_ms = SP_API_SUB_NO_TIME;
	t = sub_type(&r->type);
	if (t == SP_API_ITER_COUNT) {
		snprintf(api->msg, sizeof(api->msg),
			 "1 validation error detected: Value '%.*s' at 'startingPosition.type' "
			 "failed to satisfy constraint: Member must satisfy enum value set: "
			 "[AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, "
			 "AT_TIMESTAMP]",
			 (int)SP_MIN(r->type.len, 256u), r->type.ptr);
		sp_api_respond_error(x, SP_KERR_VALIDATION, api->msg, false);
		return false;
	}
	if (t == SP_API_ITER_AT_SEQUENCE_NUMBER || t == SP_API_ITER_AFTER_SEQUENCE_NUMBER) {
		if (!r->has_seq || sp_u128_parse(r->seq.ptr, r->seq.len, &seq) != 0 ||
		    !sp_seqno_unpack(seq, &f) || f.shard_index != sh->index ||
		    f.stream_tag != st->tag) {
			snprintf(api->msg, sizeof(api->msg),
				 "Invalid StartingSequenceNumber for %s in shard %s of stream %s "
				 "under account %s.",
				 sub_types[t], sh->id, st->name, x->req.account);
			sp_api_respond_error(x, SP_KERR_INVALID_ARGUMENT, api->msg, false);
			return false;
		}
		pos.seq = t == SP_API_ITER_AFTER_SEQUENCE_NUMBER ? seq + 1 : seq;
		/* older than the ring (an earlier boot's, or trimmed from it): the store's */
		if (!stored || (sh->ring != NULL && !sp_api_cold_is(sh->ring, pos.seq, &first))) {
			rc = sp_shard_ring_seek_seq(sh->ring, seq,
						    t == SP_API_ITER_AFTER_SEQUENCE_NUMBER, &pos);
		}
	} else if (t == SP_API_ITER_TRIM_HORIZON && stored) {
		pos.seq = sh->starting_seq; /* the oldest record, wherever it is */
	} else if (t == SP_API_ITER_AT_TIMESTAMP) {
		uint64_t tm = (uint64_t)SP_MAX(r->timestamp_ms, 0);

		if (!r->has_time) {
			sp_api_respond_error(x, SP_KERR_INVALID_ARGUMENT,
					     "Timestamp must be specified for AT_TIMESTAMP.",
					     false);
			return false;
		}
		if (stored && (sh->ring == NULL || sp_api_get_time_cold(sh, tm))) {
			*t_ms = tm; /* the first turn reads the store by time (then by number) */
		} else if (sh->ring == NULL) {
			pos.seq = ~(sp_u128)0; /* no store, no ring: nothing is left of it */
		} else {
			rc = sp_shard_ring_seek_time(sh->ring, tm, &pos);
		}
	} else if (sh->ring == NULL) {
		pos.seq = ~(sp_u128)0; /* a closed shard in the store only: LATEST is its end */
	} else if (t == SP_API_ITER_TRIM_HORIZON) {
		rc = sp_shard_ring_trim_horizon(sh->ring, &pos);
	} else {
		rc = sp_shard_ring_latest(sh->ring, &pos);
	}
	if (rc != 0) {
		sp_api_respond_error(x, SP_KERR_INTERNAL_FAILURE, NULL, false);
		return false;
	}
	*out = pos.seq;
	*last = t == SP_API_ITER_AFTER_SEQUENCE_NUMBER ? seq : sub_last_before(sh, pos.seq);
	return true;
}

/* The consumer, stream and shard a request names; NULL after answering. */
static const struct sp_api_shard *
sub_locate(struct sp_api_conn *x, const struct sp_api_cat *cat, const struct sub_req *r,
	   const struct sp_api_consumer **kp, const struct sp_api_stream **stp)
{
	struct sp_api *api = x->api;
	const struct sp_api_consumer *k = sp_api_cat_consumer(cat, r->arn.ptr, r->arn.len);
	const struct sp_api_stream *st;
	const struct sp_api_shard *sh = NULL;
	uint32_t idx;

	if (k == NULL) {
		snprintf(api->msg, sizeof(api->msg), "Consumer %.*s under account %s not found.",
			 (int)SP_MIN(r->arn.len, 2048u), r->arn.ptr, x->req.account);
		sp_api_respond_error(x, SP_KERR_RESOURCE_NOT_FOUND, api->msg, false);
		return NULL;
	}
	if (!k->active) {
		snprintf(api->msg, sizeof(api->msg), "Consumer %s is not ACTIVE.", k->arn);
		sp_api_respond_error(x, SP_KERR_RESOURCE_IN_USE, api->msg, false);
		return NULL;
	}
	st = sp_api_cat_stream(cat, k->stream, k->stream_len);
	if (st != NULL && sp_api_parse_shard_id(r->shard_id.ptr, r->shard_id.len, &idx) == 0) {
		sh = sp_api_stream_shard(st, idx);
	}
	if (sh == NULL || (sh->ring == NULL && sh->open)) {
		snprintf(api->msg, sizeof(api->msg),
			 "Could not find shard %.*s in stream %s under account %s.",
			 (int)SP_MIN(r->shard_id.len, 256u), r->shard_id.ptr, k->stream,
			 x->req.account);
		sp_api_respond_error(x, SP_KERR_RESOURCE_NOT_FOUND, api->msg, false);
		return NULL;
	}
	*kp = k;
	*stp = st;
	return sh;
}

void
sp_api_op_subscribe(struct sp_api_conn *x, const struct sp_api_cat *cat, const char *body,
		    uint32_t len)
{
	struct sp_api *api = x->api;
	const struct sp_api_consumer *k;
	const struct sp_api_stream *st;
	const struct sp_api_shard *sh;
	struct sp_api_sub *s;
	struct sub_req r;
	sp_u128 pos, last;
	uint64_t key, t_ms;
	uint32_t gen;

	if (!sub_decode(x, body, len, &r) || (sh = sub_locate(x, cat, &r, &k, &st)) == NULL ||
	    !sub_start_pos(x, &r, st, sh, &pos, &last, &t_ms)) {
		return;
	}
	if (api->nsubs == SP_API_SUBS_MAX) {
		sp_api_respond_error(x, SP_KERR_LIMIT_EXCEEDED,
				     "Too many subscriptions on this endpoint; retry later.",
				     false);
		return;
	}
	key = sub_claim_key(k->arn, k->arn_len, sh->index);
	gen = sub_claim(api->g, key, x->req.now_ms);
	if (gen == 0) {
		snprintf(api->msg, sizeof(api->msg),
			 "Another active subscription exists for this consumer: %s:%s.", k->arn,
			 sh->id);
		api->cnt.sub_refused++;
		sp_api_respond_error(x, SP_KERR_RESOURCE_IN_USE, api->msg, false);
		return;
	}
	s = &api->subs[api->nsubs++];
	memset(s, 0, sizeof(*s));
	s->x = x;
	s->tag = st->tag;
	s->shard = sh->index;
	s->stream_len = st->name_len;
	memcpy(s->stream, st->name, st->name_len + 1u);
	s->pos = pos;
	s->t_ms = t_ms;
	s->last = last;
	s->deadline_ms = x->req.now_ms + SUB_LIFETIME_MS;
	s->beat_ms = x->req.now_ms;
	s->claim_key = key;
	s->claim_gen = gen;
	if (x->owner == NULL) {
		/* HTTP/1.1 (boto3): the slot's streaming state, as an h2 stream's */
		x->ps = &api->h2_pseudo[x->idx];
		memset(x->ps, 0, sizeof(*x->ps));
	}
	x->ps->sub = true;
	api->cnt.subscriptions++;
	api->cnt.responses_2xx++;
	sp_api_conn_stream_begin(x, SUB_CT_EVENTSTREAM);
	memcpy(sub_payload(x), "{}", 2);
	sub_queue(x, 2, "initial-response", "event", ":event-type");
}

/* The exchange is gone (stream closed or reset, connection closed): forget its subscription. */
void
sp_api_sub_drop(struct sp_api_conn *x)
{
	struct sp_api *api = x->api;

	for (uint32_t i = 0; i < api->nsubs; i++) {
		if (api->subs[i].x == x) {
			api->subs[i] = api->subs[--api->nsubs];
			x->ps->sub = false;
			return;
		}
	}
	SP_VERIFY(false); /* ps->sub says it is in the table */
}

/* ---- answers of GetRecords' code (api_get.c, api_cold.c) as events ---- */

static struct sp_api_sub *
sub_of(const struct sp_api_conn *x)
{
	struct sp_api *api = x->api;

	for (uint32_t i = 0; i < api->nsubs; i++) {
		if (api->subs[i].x == x) {
			return &api->subs[i];
		}
	}
	return NULL;
}

sp_u128
sp_api_sub_cont(const struct sp_api_conn *x)
{
	const struct sp_api_sub *s = sub_of(x);

	SP_VERIFY(s != NULL);
	return s->last;
}

/* The read is back: the exchange streams again. */
static struct sp_api_sub *
sub_fetched(struct sp_api_conn *x)
{
	struct sp_api_sub *s = sub_of(x);

	SP_VERIFY(s != NULL && x->ps->fetching && x->state == SP_API_CONN_ASYNC);
	x->ps->fetching = false;
	x->state = x->owner != NULL ? SP_API_CONN_SEND : SP_API_CONN_STREAM;
	return s;
}

/*
 * The latency figure: when the event's newest record is the newest readable one, the ring's
 * publish stamp is that record's, and now less it is how long the record took from readable
 * to queued on this subscription (docs/internals/http2.md, "Delivery latency").
 */
static void
sub_sample(struct sp_api *api, const struct sp_api_sub *s, sp_u128 last)
{
	const struct sp_api_cat *cat = sp_api_cat_current(api->g);
	const struct sp_api_stream *st = cat != NULL ? sp_api_cat_stream_by_tag(cat, s->tag) : NULL;
	const struct sp_api_shard *sh = st != NULL ? sp_api_stream_shard(st, s->shard) : NULL;
	uint64_t then, now;

	if (sh == NULL || sh->ring == NULL || !sp_shard_ring_stamp_get(sh->ring, last, &then)) {
		return;
	}
	now = sp_api_cycles(api);
	sp_lathist_add(&api->sub_lat, now > then ? (now - then) / sp_api_cycles_per_us(api) : 0);
}

void
sp_api_sub_deliver(struct sp_api_conn *x, const char *payload, uint32_t len, sp_u128 last,
		   sp_u128 next, bool end)
{
	struct sp_api_sub *s = sub_fetched(x);
	uint64_t now = sp_api_now_ms(x->api);

	if (next != 0) {
		s->pos = next;
		s->t_ms = SP_API_SUB_NO_TIME; /* a number from now on */
	}
	if (payload == NULL || (last == 0 && !end && now < s->beat_ms + SUB_HEARTBEAT_MS)) {
		return; /* nothing to say yet (an empty answer goes out once a second) */
	}
	SP_VERIFY(payload == (const char *)sub_payload(x) && len <= sub_payload_cap(x));
	if (last != 0) {
		s->last = last;
	}
	s->beat_ms = now;
	x->api->cnt.sub_events++;
	sub_queue(x, len, "SubscribeToShardEvent", "event", ":event-type");
	if (last != 0) {
		sub_sample(x->api, s, last);
	}
	if (end) {
		sp_api_conn_stream_end(x);
	}
}

void
sp_api_sub_error(struct sp_api_conn *x, enum sp_kerr kerr, const char *message)
{
	(void)sub_fetched(x);
	if (kerr == SP_KERR_THROUGHPUT_EXCEEDED) {
		return; /* the store is busy: read again on a later turn */
	}
	sub_fail(x, kerr, message != NULL ? message : "Internal failure reading the shard.");
}

/* ---- turns ---- */

/*
 * Between events a subscription holds a small buffer: a big one (taken for a large record or
 * a read of the store) goes back, since a worker has few and a subscription lasts minutes.
 */
static void
sub_shrink(struct sp_api_conn *x)
{
	struct sp_api_buf small;

	if (x->buf.big && x->out_len == 0 && sp_api_buf_get(x->api, false, &small)) {
		sp_api_buf_put(x->api, &x->buf);
		x->buf = small;
	}
}

/* Nothing new in sh's ring past s's position, and no heartbeat due: no read this turn. */
static bool
sub_idle(const struct sp_api_sub *s, const struct sp_api_shard *sh, uint64_t now)
{
	struct sp_shard_ring_info ri;
	sp_u128 first;

	if (sh->ring == NULL || !sh->open || now >= s->beat_ms + SUB_HEARTBEAT_MS ||
	    s->t_ms != SP_API_SUB_NO_TIME || sp_api_cold_is(sh->ring, s->pos, &first)) {
		return false;
	}
	sp_shard_ring_info(sh->ring, &ri);
	return ri.tip_seq < s->pos;
}

/*
 * One subscription's turn: a GetRecords at its position, through the same code (the ring, or
 * the owner's store for older positions, or a closed shard's end), whose answer comes back as
 * an event (sp_api_sub_deliver) now or when the store has read. Returns whether it began one.
 */
static bool
sub_turn(struct sp_api_sub *s, const struct sp_api_cat *cat, uint64_t now)
{
	struct sp_api_conn *x = s->x;
	const struct sp_api_stream *st = sp_api_cat_stream_by_tag(cat, s->tag);
	const struct sp_api_shard *sh = st != NULL ? sp_api_stream_shard(st, s->shard) : NULL;
	sp_u128 checked;

	if (sh == NULL) {
		sub_fail(x, SP_KERR_RESOURCE_NOT_FOUND, "The shard no longer exists.");
		return true;
	}
	if (sub_idle(s, sh, now)) {
		return false;
	}
	x->ps->fetching = true;
	x->state = SP_API_CONN_ASYNC;
	x->req.now_ms = now;
	if (s->t_ms != SP_API_SUB_NO_TIME) {
		/* AT_TIMESTAMP older than the ring: the store by time, else the ring by time */
		if (!sp_api_cold_get_time(x, st, sh, s->t_ms, SP_K_GET_RECORDS_MAX_RECORDS)) {
			sp_api_get_at_time_ring(x, cat, st, sh, s->t_ms,
						SP_K_GET_RECORDS_MAX_RECORDS);
		}
		return true;
	}
	if (sp_api_cold_get(x, st, sh, s->pos, SP_K_GET_RECORDS_MAX_RECORDS, &checked)) {
		return true; /* the store reads: answered now or later */
	}
	if (sh->ring == NULL) {
		sp_api_get_closed_end(x, cat, st, sh); /* no store: nothing is left of it */
		return true;
	}
	sp_api_get_from_ring(x, cat, st, sh, s->pos, SP_K_GET_RECORDS_MAX_RECORDS, checked);
	return true;
}

unsigned
sp_api_sub_poll(struct sp_api *api)
{
	const struct sp_api_cat *cat;
	uint64_t now;
	unsigned work = 0;

	if (api->nsubs == 0) {
		return 0;
	}
	cat = sp_api_cat_current(api->g);
	now = sp_api_now_ms(api);
	for (uint32_t i = 0; i < api->nsubs; i++) {
		struct sp_api_sub *s = &api->subs[i];
		struct sp_api_conn *x = s->x;

		if (x->out_len > 0 || x->ps->stream_end || x->ps->fetching) {
			continue; /* an event still leaving, the stream ending, or a read out */
		}
		sub_shrink(x);
		if (!sp_api_conn_buf_writable(x)) {
			/* the last event is still referenced by TCP and no buffer is free */
			api->cnt.buf_lent_waits++;
			continue;
		}
		if (sub_replaced(api->g, s)) {
			sub_fail(x, SP_KERR_RESOURCE_IN_USE,
				 "Another subscription for this consumer and shard took over.");
			work++;
		} else if (now >= s->deadline_ms) {
			sp_api_conn_stream_end(x); /* five minutes: the client subscribes again */
			work++;
		} else if (cat != NULL && sub_turn(s, cat, now)) {
			work++;
		}
	}
	return work;
}
