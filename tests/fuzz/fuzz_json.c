/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer differential target for dataplane/api's JSON scanner and request decoders, with
 * jansson (json_loadb, JSON_ALLOW_NUL) as the reference. For every input:
 *   1. the scanner accepts it as one object iff jansson does, and then both read the same
 *      tree (strings byte-exact after unescaping, numbers through the same strtoll/strtod).
 *      Allowed differences, all valid RFC 8259 that jansson cannot represent and AWS takes:
 *      integers past int64 and reals past double range (json_error_numeric_overflow), and
 *      NUL bytes in keys (json_error_null_byte_in_key). A raw NUL byte is never valid JSON,
 *      and the scanner must refuse it; jansson is not asked (it drops a NUL that follows a
 *      literal or a number: "[null\0]" loads);
 *   2. each of the four decoders refuses with a message-less SerializationException iff the
 *      scanner refuses the body, and never crashes or reads outside it (the scratch arena is
 *      exactly the body's length, so ASan sees any overrun of the bound);
 *   3. an accepted request's members equal jansson's values (strings byte-exact, Limit and
 *      Timestamp within the rounding of a double); PutRecords Data decodes into its arena;
 *   4. every refusal renders as an error body that jansson parses.
 * Any disagreement aborts (SP_VERIFY).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <spate/assert.h>

#include "api_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *walk_value(struct sp_api_json *js, int *rc);

static json_t *
walk_number(const struct sp_api_json_str *s)
{
	char buf[512];
	json_t *real;

	/* Past int64 or double range jansson refuses the document: any placeholder will do. */
	if (s->len >= sizeof(buf)) {
		return json_string("long number");
	}
	memcpy(buf, s->ptr, s->len);
	buf[s->len] = '\0';
	if (strpbrk(buf, ".eE") == NULL) {
		return json_integer(strtoll(buf, NULL, 10));
	}
	real = json_real(strtod(buf, NULL));
	return real != NULL ? real : json_string("infinite number");
}

static json_t *
walk_container(struct sp_api_json *js, int *rc, bool obj)
{
	json_t *c = obj ? json_object() : json_array();
	struct sp_api_json_str key;
	int r = 0;

	*rc = obj ? sp_api_json_obj_enter(js) : sp_api_json_arr_enter(js);
	while (*rc == 0) {
		json_t *v;

		r = obj ? sp_api_json_obj_next(js, &key) : sp_api_json_arr_next(js);
		if (r != 1) {
			break;
		}
		v = walk_value(js, rc);
		if (v == NULL) {
			break;
		}
		if (obj) {
			json_object_setn_new_nocheck(c, key.ptr, key.len, v);
		} else {
			json_array_append_new(c, v);
		}
	}
	if (*rc == 0 && r < 0) {
		*rc = r;
	}
	if (*rc != 0) {
		json_decref(c);
		return NULL;
	}
	return c;
}

static json_t *
walk_value(struct sp_api_json *js, int *rc)
{
	struct sp_api_json_str s;
	int kind = sp_api_json_peek(js);

	if (kind == SP_API_JSON_OBJECT || kind == SP_API_JSON_ARRAY) {
		return walk_container(js, rc, kind == SP_API_JSON_OBJECT);
	}
	kind = sp_api_json_value(js, &s);
	*rc = kind < 0 ? kind : 0;
	switch (kind) {
	case SP_API_JSON_STRING:
		return json_stringn_nocheck(s.ptr, s.len);
	case SP_API_JSON_NUMBER:
		return walk_number(&s);
	case SP_API_JSON_TRUE:
		return json_true();
	case SP_API_JSON_FALSE:
		return json_false();
	case SP_API_JSON_NULL:
		return json_null();
	default:
		return NULL;
	}
}

/* The scanner's tree of the body as one object, or NULL. */
static json_t *
scan_doc(const char *doc, size_t len, char *scratch)
{
	struct sp_api_json js;
	json_t *t;
	int rc;

	SP_VERIFY(sp_api_json_init(&js, doc, len, scratch, len) == 0);
	if (sp_api_json_peek(&js) != SP_API_JSON_OBJECT) {
		return NULL;
	}
	t = walk_container(&js, &rc, true);
	if (t != NULL && sp_api_json_finish(&js) != 0) {
		json_decref(t);
		t = NULL;
	}
	return t;
}

/* A member of jansson's tree as a string equal to s, or absent/null when s is empty. */
static void
check_str(const json_t *ref, const char *name, const struct sp_api_json_str *s, bool present)
{
	const json_t *v = json_object_get(ref, name);

	if (!present) {
		SP_VERIFY(v == NULL || json_is_null(v));
		return;
	}
	SP_VERIFY(json_is_string(v));
	SP_VERIFY(json_string_length(v) == s->len);
	SP_VERIFY(s->len == 0 || memcmp(json_string_value(v), s->ptr, s->len) == 0);
}

/* A decoder's refusal renders as a reply jansson reads. */
static void
check_reply(const struct sp_api_req_err *err)
{
	char buf[SP_API_REQ_MSG_MAX * 7 + 128];
	ssize_t n;
	json_t *t;

	SP_VERIFY(err->kerr == SP_KERR_SERIALIZATION || err->kerr == SP_KERR_VALIDATION);
	SP_VERIFY(err->capital_m == (err->kerr == SP_KERR_SERIALIZATION));
	n = sp_api_json_write_error(buf, sizeof(buf), err->kerr, err->has_msg ? err->msg : NULL,
				    err->msg_len, err->capital_m);
	SP_VERIFY(n > 0);
	t = json_loadb(buf, (size_t)n, JSON_ALLOW_NUL, NULL);
	SP_VERIFY(t != NULL);
	json_decref(t);
}

/* After a decode: refused for syntax iff the scanner refused; a refusal renders. */
static bool
check_verdict(int rc, const struct sp_api_req_err *err, bool scanned)
{
	SP_VERIFY(rc == 0 || rc == -EINVAL);
	if (rc == 0) {
		SP_VERIFY(scanned && err->kerr == SP_KERR_NONE);
		return true;
	}
	SP_VERIFY(scanned == (err->kerr != SP_KERR_SERIALIZATION || err->has_msg));
	check_reply(err);
	return false;
}

static void
fuzz_put_record(const char *doc, size_t len, char *scratch, const json_t *ref, bool scanned)
{
	struct sp_api_req_put_record r;
	struct sp_api_req_err err;
	uint8_t *out;
	int rc = sp_api_req_put_record(doc, len, scratch, len, &r, &err);

	if (!check_verdict(rc, &err, scanned) || ref == NULL) {
		return;
	}
	check_str(ref, "PartitionKey", &r.rec.key, true);
	check_str(ref, "Data", &r.rec.data, true);
	check_str(ref, "ExplicitHashKey", &r.rec.ehk, r.rec.has & SP_API_REQ_HAS_EHK);
	check_str(ref, "StreamName", &r.stream_name, r.has & SP_API_REQ_HAS_STREAM_NAME);
	check_str(ref, "StreamARN", &r.stream_arn, r.has & SP_API_REQ_HAS_STREAM_ARN);
	check_str(ref, "SequenceNumberForOrdering", &r.seq_for_ordering,
		  r.has & SP_API_REQ_HAS_SEQ);
	out = malloc(r.rec.data_len + 3);
	SP_VERIFY(out != NULL);
	SP_VERIFY(sp_api_req_record_data(&r.rec, out) == 0);
	free(out);
}

static void
fuzz_put_records(const char *doc, size_t len, char *scratch, const json_t *ref, bool scanned)
{
	static struct sp_api_req_put_records r;
	static uint32_t off[SP_K_PUT_RECORDS_MAX_ENTRIES];
	struct sp_api_req_err err;
	const json_t *records;
	uint8_t *arena;
	int rc = sp_api_req_put_records(doc, len, scratch, len, &r, &err);

	if (!check_verdict(rc, &err, scanned) || ref == NULL) {
		return;
	}
	records = json_object_get(ref, "Records");
	SP_VERIFY(json_is_array(records) && json_array_size(records) == r.n);
	for (uint32_t i = 0; i < r.n; i++) {
		const json_t *e = json_array_get(records, i);

		check_str(e, "PartitionKey", &r.rec[i].key, true);
		check_str(e, "Data", &r.rec[i].data, true);
		check_str(e, "ExplicitHashKey", &r.rec[i].ehk, r.rec[i].has & SP_API_REQ_HAS_EHK);
	}
	check_str(ref, "StreamName", &r.stream_name, r.has & SP_API_REQ_HAS_STREAM_NAME);
	arena = malloc(sp_api_req_put_records_arena_bytes(&r));
	SP_VERIFY(arena != NULL);
	SP_VERIFY(sp_api_req_put_records_data(&r, arena, sp_api_req_put_records_arena_bytes(&r),
					      off) == 0);
	free(arena);
}

/* jansson's number truncated toward zero: equal to ours up to a double's rounding. */
static void
check_num(const json_t *v, int64_t got, double scale)
{
	double d;

	SP_VERIFY(json_is_number(v));
	d = json_number_value(v) * scale;
	if (fabs(d) < 1e15) {
		SP_VERIFY(fabs(trunc(d) - (double)got) <= 1.0);
	}
}

static void
fuzz_get(const char *doc, size_t len, char *scratch, const json_t *ref, bool scanned)
{
	struct sp_api_req_get_shard_iterator gi;
	struct sp_api_req_get_records gr;
	struct sp_api_req_err err;
	int rc;

	rc = sp_api_req_get_shard_iterator(doc, len, scratch, len, &gi, &err);
	if (check_verdict(rc, &err, scanned) && ref != NULL) {
		check_str(ref, "ShardId", &gi.shard_id, true);
		check_str(ref, "StartingSequenceNumber", &gi.starting_seq,
			  gi.has & SP_API_REQ_HAS_SEQ);
		SP_VERIFY(strcmp(json_string_value(json_object_get(ref, "ShardIteratorType")),
				 sp_api_iter_type_name(gi.type)) == 0);
		if (gi.has & SP_API_REQ_HAS_TIMESTAMP) {
			check_num(json_object_get(ref, "Timestamp"), gi.timestamp_ms, 1000.0);
		}
	}
	rc = sp_api_req_get_records(doc, len, scratch, len, &gr, &err);
	if (check_verdict(rc, &err, scanned) && ref != NULL) {
		check_str(ref, "ShardIterator", &gr.shard_iterator, true);
		if (gr.has & SP_API_REQ_HAS_LIMIT) {
			check_num(json_object_get(ref, "Limit"), gr.limit, 1.0);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *doc = (const char *)data;
	/* Exactly the body's length: the bound the decoders promise to stay within. */
	char *scratch = malloc(size != 0 ? size : 1);
	json_error_t e;
	json_t *ref;
	json_t *got;
	enum json_error_code code = json_error_unknown;

	SP_VERIFY(scratch != NULL);
	ref = json_loadb(doc, size, JSON_ALLOW_NUL, &e);
	if (ref == NULL) {
		code = json_error_code(&e);
	} else if (!json_is_object(ref)) {
		json_decref(ref);
		ref = NULL;
		code = json_error_invalid_syntax;
	}
	got = scan_doc(doc, size, scratch);
	if (memchr(doc, '\0', size) != NULL) {
		SP_VERIFY(got == NULL);
		json_decref(ref);
		ref = NULL;
	} else if (ref == NULL) {
		SP_VERIFY(got == NULL || code == json_error_numeric_overflow ||
			  code == json_error_null_byte_in_key);
	} else {
		SP_VERIFY(got != NULL);
		SP_VERIFY(json_equal(ref, got));
	}
	fuzz_put_record(doc, size, scratch, ref, got != NULL);
	fuzz_put_records(doc, size, scratch, ref, got != NULL);
	fuzz_get(doc, size, scratch, ref, got != NULL);
	json_decref(ref);
	json_decref(got);
	free(scratch);
	return 0;
}
