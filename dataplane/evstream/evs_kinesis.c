/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The messages of a SubscribeToShard response (kinesis-api.md §6.2-6.3), built on the
 * event-stream encoder: initial-response, SubscribeToShardEvent and the two error forms.
 *
 * A SubscribeToShardEvent's JSON is written by the GetRecords writer (api_json.h) straight
 * into the message's payload area, so a record's bytes are read once, from the shard ring's
 * view, into base64 in the message; the same record JSON as GetRecords, byte for byte. The
 * event keeps SP_EVS_SUB_END_MAX bytes back from the records for its closing members: a
 * record that would eat into them is rolled back (the writer's state is a small struct
 * copied before each record), and the caller ends the event. Any lcore, per message.
 */
#include <errno.h>
#include <string.h>

#include <spate/assert.h>
#include <spate/kinesis.h>
#include <spate/seqno.h>

#include "evstream.h"

/* The closing part's worst case must fit what SP_EVS_SUB_END_MAX keeps back (see the test). */
SP_STATIC_ASSERT(SP_K_SHARD_ID_MAX_CHARS <= 128 && SP_K_SEQNO_MAX_DIGITS <= 129,
		 "SP_EVS_SUB_END_MAX was sized for these");

/* Written into when a message has no payload room left: capacity 0, never touched. */
static char g_evs_no_room[1];

static void
evs_event_headers(struct sp_evs_enc *e, const char *event_type)
{
	sp_evs_hdr_cstr(e, ":message-type", "event");
	sp_evs_hdr_cstr(e, ":event-type", event_type);
	sp_evs_hdr_cstr(e, ":content-type", "application/json");
}

ssize_t
sp_evs_write_initial_response(void *buf, size_t cap)
{
	struct sp_evs_enc e;

	sp_evs_enc_begin(&e, buf, cap);
	evs_event_headers(&e, "initial-response");
	sp_evs_payload(&e, "{}", 2);
	return sp_evs_enc_finish(&e);
}

void
sp_evs_sub_begin(struct sp_evs_sub *s, void *buf, size_t cap)
{
	uint8_t *room;
	size_t n;

	sp_evs_enc_begin(&s->enc, buf, cap);
	evs_event_headers(&s->enc, "SubscribeToShardEvent");
	room = sp_evs_payload_room(&s->enc, &n);
	if (room != NULL) {
		sp_api_jw_init(&s->jw, (char *)room, n);
	} else {
		sp_api_jw_init(&s->jw, g_evs_no_room, 0);
	}
	s->records_max = n > SP_EVS_SUB_END_MAX ? n - SP_EVS_SUB_END_MAX : 0;
	s->nrecords = 0;
	sp_api_jw_get_records_begin(&s->jw);
}

bool
sp_evs_sub_record(struct sp_evs_sub *s, const struct sp_api_jw_record *r)
{
	struct sp_api_jw saved = s->jw;

	SP_VERIFY(s->jw.depth == 2);
	sp_api_jw_get_records_record(&s->jw, r);
	if (s->jw.overflow || s->jw.len > s->records_max) {
		s->jw = saved;
		return false;
	}
	s->nrecords++;
	return true;
}

ssize_t
sp_evs_sub_end(struct sp_evs_sub *s, const char *cont, size_t cont_len, uint64_t millis_behind,
	       const struct sp_api_jw_child *children, unsigned nchildren)
{
	struct sp_api_jw *w = &s->jw;
	ssize_t n;

	SP_VERIFY(w->depth == 2);
	SP_VERIFY(children != NULL || nchildren == 0);
	sp_api_jw_arr_end(w);
	if (cont != NULL) {
		sp_api_jw_kstr(w, "ContinuationSequenceNumber", cont, cont_len);
	}
	sp_api_jw_key(w, "MillisBehindLatest", 18);
	sp_api_jw_u64(w, millis_behind);
	sp_api_jw_child_shards(w, children, nchildren);
	sp_api_jw_obj_end(w);
	n = sp_api_jw_finish(w);
	if (n < 0) {
		sp_evs_enc_fail(&s->enc, (int)n);
	} else {
		sp_evs_payload_commit(&s->enc, (size_t)n);
	}
	return sp_evs_enc_finish(&s->enc);
}

ssize_t
sp_evs_write_exception(void *buf, size_t cap, const char *type, const char *msg, size_t msg_len)
{
	struct sp_evs_enc e;
	struct sp_api_jw w;
	uint8_t *room;
	size_t n;
	ssize_t len;

	sp_evs_enc_begin(&e, buf, cap);
	sp_evs_hdr_cstr(&e, ":message-type", "exception");
	sp_evs_hdr_cstr(&e, ":exception-type", type);
	sp_evs_hdr_cstr(&e, ":content-type", "application/json");
	room = sp_evs_payload_room(&e, &n);
	if (room == NULL) {
		return sp_evs_enc_finish(&e);
	}
	sp_api_jw_init(&w, (char *)room, n);
	sp_api_jw_obj_begin(&w);
	sp_api_jw_kstr(&w, "message", msg, msg_len);
	sp_api_jw_obj_end(&w);
	len = sp_api_jw_finish(&w);
	if (len < 0) {
		sp_evs_enc_fail(&e, (int)len);
	} else {
		sp_evs_payload_commit(&e, (size_t)len);
	}
	return sp_evs_enc_finish(&e);
}

ssize_t
sp_evs_write_error(void *buf, size_t cap, const char *code, const char *msg, size_t msg_len)
{
	struct sp_evs_enc e;

	SP_VERIFY(msg != NULL || msg_len == 0);
	if (msg_len > SP_EVS_VALUE_MAX) {
		msg_len = SP_EVS_VALUE_MAX;
		/* back to the first byte of a UTF-8 character, so that it is not split */
		while (msg_len > 0 && ((uint8_t)msg[msg_len] & 0xc0u) == 0x80u) {
			msg_len--;
		}
	}
	sp_evs_enc_begin(&e, buf, cap);
	sp_evs_hdr_cstr(&e, ":message-type", "error");
	sp_evs_hdr_cstr(&e, ":error-code", code);
	sp_evs_hdr_str(&e, ":error-message", 14, msg, msg_len);
	return sp_evs_enc_finish(&e);
}
