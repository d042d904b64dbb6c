/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/api's CBOR decoders and writers.
 *
 * Differential: each case is a JSON request; the test converts it to CBOR the way the Java SDK
 * encodes requests (indefinite-length maps and arrays, Data as a byte string, Timestamp as
 * tag 1 + integer epoch milliseconds; also once with definite lengths), decodes both, and
 * requires identical results: the same return code, the same error (type, message key, text)
 * and, when accepted, the same fields (slices compared by contents, Data by its decoded
 * bytes). The cases cover every operation's happy path and its type and constraint failures.
 * Then what only CBOR has: a body that is not one map, trailing or truncated bytes, byte
 * strings where a string is expected, unassigned simple values, undefined, tags, non-text keys,
 * indefinite strings in keys and values, float and out-of-range Limit and Timestamp values,
 * base64 text Data, and the zero-copy placement of slices. Last, the response writers read
 * back with the reader, and cut at every length (-ENOSPC, nothing written past cap).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <spate/assert.h>

#include "../../sp_test.h"

#include "api_cbor.h"
#include "api_req.h"
#include "b64.h"
#include "cbor.h"

#define BIG_BODY (16u * 1024u * 1024u)

static char *g_json;    /* BIG_BODY: JSON bodies built by the cases */
static uint8_t *g_cbor; /* BIG_BODY: their CBOR */
static char *g_scratch; /* BIG_BODY */
static uint8_t *g_tmp;  /* BIG_BODY: decoded Data while converting, then CBOR's scratch */
static uint8_t *g_arena_a, *g_arena_b;
static struct sp_api_req_put_records g_pa, g_pb;

static int
setup(void **state)
{
	(void)state;
	g_json = malloc(BIG_BODY);
	g_cbor = malloc(BIG_BODY);
	g_scratch = malloc(BIG_BODY);
	g_tmp = malloc(BIG_BODY);
	g_arena_a = malloc(BIG_BODY);
	g_arena_b = malloc(BIG_BODY);
	return g_json && g_cbor && g_scratch && g_tmp && g_arena_a && g_arena_b ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	free(g_json);
	free(g_cbor);
	free(g_scratch);
	free(g_tmp);
	free(g_arena_a);
	free(g_arena_b);
	return 0;
}

/* ---- JSON to CBOR, as the Java SDK encodes ---- */

static void to_cbor(struct sp_cbor_w *w, json_t *v, const char *key, bool indef);

static void
to_cbor_object(struct sp_cbor_w *w, json_t *v, bool indef)
{
	const char *k;
	json_t *m;

	if (indef) {
		sp_cbor_w_indef(w, SP_CBOR_MAJOR_MAP);
	} else {
		sp_cbor_w_map(w, json_object_size(v));
	}
	json_object_foreach(v, k, m)
	{
		sp_cbor_w_text(w, k, strlen(k));
		to_cbor(w, m, k, indef);
	}
	if (indef) {
		sp_cbor_w_break(w);
	}
}

static void
to_cbor(struct sp_cbor_w *w, json_t *v, const char *key, bool indef)
{
	struct sp_b64_error e;
	size_t i, n;
	json_t *m;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		to_cbor_object(w, v, indef);
		break;
	case JSON_ARRAY:
		if (indef) {
			sp_cbor_w_indef(w, SP_CBOR_MAJOR_ARRAY);
		} else {
			sp_cbor_w_array(w, json_array_size(v));
		}
		json_array_foreach(v, i, m)
		{
			to_cbor(w, m, NULL, indef);
		}
		if (indef) {
			sp_cbor_w_break(w);
		}
		break;
	case JSON_STRING:
		/* Data: raw bytes when it is valid base64 (the SDK's blob), else the text */
		if (key != NULL && strcmp(key, "Data") == 0 &&
		    sp_b64_decode(json_string_value(v), json_string_length(v), g_tmp, &n, &e) ==
			0) {
			sp_cbor_w_bytes(w, g_tmp, n);
		} else {
			sp_cbor_w_text(w, json_string_value(v), json_string_length(v));
		}
		break;
	case JSON_INTEGER:
		if (key != NULL && strcmp(key, "Timestamp") == 0) {
			sp_cbor_w_tag(w, 1);
			sp_cbor_w_int(w, (int64_t)json_integer_value(v) * 1000);
		} else {
			sp_cbor_w_int(w, (int64_t)json_integer_value(v));
		}
		break;
	case JSON_REAL:
		if (key != NULL && strcmp(key, "Timestamp") == 0) {
			/* epoch seconds to milliseconds: the cases use exact binary fractions */
			sp_cbor_w_tag(w, 1);
			sp_cbor_w_int(w, (int64_t)(json_real_value(v) * 1000.0));
		} else {
			sp_cbor_w_float(w, json_real_value(v));
		}
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		sp_cbor_w_bool(w, json_is_true(v));
		break;
	default:
		sp_cbor_w_null(w);
		break;
	}
}

/* The CBOR of a JSON text (an object), into g_cbor; its length. */
static size_t
cbor_of(const char *json, size_t len, bool indef)
{
	json_error_t je;
	json_t *v = json_loadb(json, len, 0, &je);
	struct sp_cbor_w w;
	ssize_t n;

	if (v == NULL) {
		fail_msg("case is not JSON: %s (%.60s)", je.text, json);
	}
	sp_cbor_w_init(&w, g_cbor, BIG_BODY);
	to_cbor(&w, v, NULL, indef);
	json_decref(v);
	n = sp_cbor_w_finish(&w);
	assert_true(n > 0);
	return (size_t)n;
}

/* ---- Comparing results ---- */

/* The same return code and the same error (type, message key, text). */
static void
err_same(int ra, int rb, const struct sp_api_req_err *a, const struct sp_api_req_err *b,
	 const char *json)
{
	if (ra != rb) {
		fail_msg("%.80s: json %d, cbor %d (%.*s / %.*s)", json, ra, rb, (int)a->msg_len,
			 a->msg, (int)b->msg_len, b->msg);
	}
	if (a->kerr != b->kerr || a->has_msg != b->has_msg || a->capital_m != b->capital_m ||
	    a->msg_len != b->msg_len || memcmp(a->msg, b->msg, a->msg_len) != 0) {
		fail_msg("%.80s\n json %d %.*s\n cbor %d %.*s", json, (int)a->kerr, (int)a->msg_len,
			 a->msg, (int)b->kerr, (int)b->msg_len, b->msg);
	}
}

static void
slice_same(const struct sp_api_json_str *a, const struct sp_api_json_str *b)
{
	assert_int_equal(a->len, b->len);
	if (a->len != 0) {
		assert_memory_equal(a->ptr, b->ptr, a->len);
	}
}

static void
rec_same(const struct sp_api_req_record *a, const struct sp_api_req_record *b)
{
	uint8_t *da = g_arena_a, *db = g_arena_b;

	slice_same(&a->key, &b->key);
	slice_same(&a->ehk, &b->ehk);
	assert_int_equal(a->has, b->has);
	assert_int_equal(a->data_len, b->data_len);
	assert_int_equal(sp_api_req_record_data(a, da), 0);
	assert_int_equal(sp_api_req_record_data(b, db), 0);
	if (a->data_len != 0) {
		assert_memory_equal(da, db, a->data_len);
	}
}

/* Decode json and its CBOR (indefinite and definite) with one operation, compare. */
enum op { OP_PUT, OP_PUTS, OP_GSI, OP_GR };

static int
diff_one(enum op op, const char *json, size_t jlen, bool indef)
{
	size_t clen = cbor_of(json, jlen, indef);
	const char *c = (const char *)g_cbor;
	struct sp_api_req_err ea, eb;
	int ra, rb;

	switch (op) {
	case OP_PUT: {
		struct sp_api_req_put_record a, b;

		ra = sp_api_req_put_record(json, jlen, g_scratch, BIG_BODY, &a, &ea);
		rb = sp_api_cbor_put_record(c, clen, (char *)g_tmp, BIG_BODY, &b, &eb);
		if (ra == 0 && rb == 0) {
			slice_same(&a.stream_name, &b.stream_name);
			slice_same(&a.stream_arn, &b.stream_arn);
			slice_same(&a.seq_for_ordering, &b.seq_for_ordering);
			assert_int_equal(a.has, b.has);
			rec_same(&a.rec, &b.rec);
		}
		break;
	}
	case OP_PUTS:
		ra = sp_api_req_put_records(json, jlen, g_scratch, BIG_BODY, &g_pa, &ea);
		rb = sp_api_cbor_put_records(c, clen, (char *)g_tmp, BIG_BODY, &g_pb, &eb);
		if (ra == 0 && rb == 0) {
			slice_same(&g_pa.stream_name, &g_pb.stream_name);
			slice_same(&g_pa.stream_arn, &g_pb.stream_arn);
			assert_int_equal(g_pa.has, g_pb.has);
			assert_int_equal(g_pa.n, g_pb.n);
			assert_true(g_pa.data_bytes == g_pb.data_bytes);
			for (uint32_t i = 0; i < g_pa.n; i++) {
				rec_same(&g_pa.rec[i], &g_pb.rec[i]);
			}
		}
		break;
	case OP_GSI: {
		struct sp_api_req_get_shard_iterator a, b;

		ra = sp_api_req_get_shard_iterator(json, jlen, g_scratch, BIG_BODY, &a, &ea);
		rb = sp_api_cbor_get_shard_iterator(c, clen, (char *)g_tmp, BIG_BODY, &b, &eb);
		if (ra == 0 && rb == 0) {
			slice_same(&a.stream_name, &b.stream_name);
			slice_same(&a.stream_arn, &b.stream_arn);
			slice_same(&a.shard_id, &b.shard_id);
			slice_same(&a.starting_seq, &b.starting_seq);
			assert_int_equal(a.type, b.type);
			assert_true(a.timestamp_ms == b.timestamp_ms);
			assert_int_equal(a.has, b.has);
		}
		break;
	}
	default: {
		struct sp_api_req_get_records a, b;

		ra = sp_api_req_get_records(json, jlen, g_scratch, BIG_BODY, &a, &ea);
		rb = sp_api_cbor_get_records(c, clen, (char *)g_tmp, BIG_BODY, &b, &eb);
		if (ra == 0 && rb == 0) {
			slice_same(&a.shard_iterator, &b.shard_iterator);
			slice_same(&a.stream_arn, &b.stream_arn);
			assert_int_equal(a.limit, b.limit);
			assert_int_equal(a.has, b.has);
		}
		break;
	}
	}
	err_same(ra, rb, &ea, &eb, json);
	return ra;
}

/* Both encodings of the CBOR; returns the (common) result. */
static int
diff(enum op op, const char *json)
{
	int rc = diff_one(op, json, strlen(json), true);

	assert_int_equal(diff_one(op, json, strlen(json), false), rc);
	return rc;
}

/* ---- Differential cases ---- */

static const char *const g_put_cases[] = {
    "{\"StreamName\":\"s-1\",\"Data\":\"aGVsbG8=\",\"PartitionKey\":\"pk\","
    "\"ExplicitHashKey\":\"340282366920938463463374607431768211455\","
    "\"SequenceNumberForOrdering\":\"0\"}",
    "{\"StreamARN\":\"arn:aws:kinesis:us-east-1:123456789012:stream/s\",\"Data\":\"\","
    "\"PartitionKey\":\"\\u00e9\\ud83d\\ude00\"}",
    "{\"Data\":\"AA==\",\"PartitionKey\":\"k\",\"Unknown\":{\"a\":[1,2,{\"b\":null}]},"
    "\"StreamName\":null}",
    /* types, first failure in member order */
    "{\"Data\":\"AA==\",\"PartitionKey\":5}",
    "{\"Data\":\"AA==\",\"PartitionKey\":true}",
    "{\"Data\":\"AA==\",\"PartitionKey\":[]}",
    "{\"Data\":\"AA==\",\"PartitionKey\":{}}",
    "{\"Data\":5,\"PartitionKey\":\"k\"}",
    "{\"Data\":false,\"PartitionKey\":\"k\"}",
    "{\"Data\":\"abc\",\"PartitionKey\":\"k\"}",
    "{\"Data\":\"a=bc\",\"PartitionKey\":\"k\"}",
    "{\"Data\":\"AB==\",\"PartitionKey\":\"k\"}",
    "{\"Data\":\"AA==\",\"PartitionKey\":\"k\",\"SequenceNumberForOrdering\":1.5,"
    "\"StreamName\":7}",
    "{\"Data\":\"AA==\",\"PartitionKey\":\"k\",\"ExplicitHashKey\":false}",
    /* constraints */
    "{}",
    "{\"Data\":\"AA==\",\"PartitionKey\":\"\"}",
    "{\"Data\":\"AA==\",\"PartitionKey\":\"k\",\"StreamName\":\"a b\","
    "\"ExplicitHashKey\":\"01\",\"SequenceNumberForOrdering\":\"x\","
    "\"StreamARN\":\"arn:aws:kinesis:r:1:stream/s\"}",
};

static const char *const g_gsi_cases[] = {
    "{\"StreamName\":\"s\",\"ShardId\":\"shardId-000000000000\","
    "\"ShardIteratorType\":\"AT_TIMESTAMP\",\"Timestamp\":1700000000.125}",
    "{\"StreamName\":\"s\",\"ShardId\":\"shardId-000000000000\","
    "\"ShardIteratorType\":\"AT_TIMESTAMP\",\"Timestamp\":1700000000}",
    "{\"StreamName\":\"s\",\"ShardId\":\"shardId-1\",\"ShardIteratorType\":"
    "\"AFTER_SEQUENCE_NUMBER\",\"StartingSequenceNumber\":\"49590338271490256608559692538\"}",
    "{\"ShardId\":\"shardId-1\",\"ShardIteratorType\":\"LATEST\",\"Timestamp\":true}",
    "{\"ShardId\":\"shardId-1\",\"ShardIteratorType\":\"LATEST\",\"Timestamp\":\"x\"}",
    "{\"ShardId\":\"shardId-1\",\"ShardIteratorType\":5}",
    "{\"ShardId\":\"\",\"ShardIteratorType\":\"EARLIEST\"}",
    "{\"StreamName\":\"s\"}",
};

static const char *const g_gr_cases[] = {
    "{\"ShardIterator\":\"AAAA\",\"Limit\":25}",
    "{\"ShardIterator\":\"AAAA\"}",
    "{\"ShardIterator\":\"AAAA\",\"Limit\":10001}",
    "{\"ShardIterator\":\"AAAA\",\"Limit\":0}",
    "{\"ShardIterator\":\"AAAA\",\"Limit\":-5}",
    "{\"ShardIterator\":\"AAAA\",\"Limit\":99999999999}",
    "{\"ShardIterator\":\"AAAA\",\"Limit\":-99999999999}",
    "{\"ShardIterator\":\"AAAA\",\"Limit\":7.75}",
    "{\"ShardIterator\":\"AAAA\",\"Limit\":-0.5}",
    "{\"ShardIterator\":\"AAAA\",\"Limit\":\"5\"}",
    "{\"ShardIterator\":\"AAAA\",\"Limit\":true}",
    "{\"ShardIterator\":5,\"Limit\":[1]}",
    "{\"ShardIterator\":\"\",\"StreamARN\":\"x\"}",
    "{\"Limit\":3}",
};

static void
test_diff_flat(void **state)
{
	(void)state;
	for (size_t i = 0; i < SP_ARRAY_SIZE(g_put_cases); i++) {
		diff(OP_PUT, g_put_cases[i]);
	}
	for (size_t i = 0; i < SP_ARRAY_SIZE(g_gsi_cases); i++) {
		diff(OP_GSI, g_gsi_cases[i]);
	}
	for (size_t i = 0; i < SP_ARRAY_SIZE(g_gr_cases); i++) {
		diff(OP_GR, g_gr_cases[i]);
	}
	/* the happy ones are happy */
	assert_int_equal(diff(OP_PUT, g_put_cases[0]), 0);
	assert_int_equal(diff(OP_GSI, g_gsi_cases[0]), 0);
	assert_int_equal(diff(OP_GR, g_gr_cases[0]), 0);
	assert_int_equal(diff(OP_GR, g_gr_cases[3]), -EINVAL);
}

/* A PutRecords body of n records; entry `bad` (if < n) gets the member text `bad_member`. */
static const char *
puts_body(uint32_t n, uint32_t bad, const char *bad_member)
{
	size_t len = 0;

	len +=
	    (size_t)snprintf(g_json + len, BIG_BODY - len, "{\"StreamName\":\"st\",\"Records\":[");
	for (uint32_t i = 0; i < n; i++) {
		len += (size_t)snprintf(g_json + len, BIG_BODY - len,
					"%s{\"Data\":\"AAECAwQ=\",\"PartitionKey\":\"key-%u\"%s%s}",
					i > 0 ? "," : "", i, i == bad ? "," : "",
					i == bad ? bad_member : "");
	}
	len += (size_t)snprintf(g_json + len, BIG_BODY - len, "]}");
	SP_VERIFY(len < BIG_BODY);
	return g_json;
}

static void
test_diff_put_records(void **state)
{
	static const char *const cases[] = {
	    "{\"Records\":[{\"Data\":\"aGk=\",\"PartitionKey\":\"a\"},"
	    "{\"Data\":\"\",\"PartitionKey\":\"b\",\"ExplicitHashKey\":\"7\"}],"
	    "\"StreamName\":\"s\"}",
	    "{\"Records\":[]}",
	    "{\"Records\":null,\"StreamName\":\"s\"}",
	    "{\"Records\":5}",
	    "{\"Records\":{}}",
	    "{\"Records\":[5]}",
	    "{\"Records\":[null]}",
	    "{\"Records\":[[1]]}",
	    "{\"Records\":[{\"Data\":1}]}",
	    "{\"Records\":[{\"Data\":\"AA==\",\"PartitionKey\":\"\"},{\"PartitionKey\":\"x\"}]}",
	    "{\"Records\":[{\"Data\":\"AA==\",\"PartitionKey\":\"k\"}],\"StreamName\":\"\"}",
	    "{\"Records\":[{\"Data\":\"AA==\",\"PartitionKey\":\"k\"}],\"Records\":true}",
	};

	(void)state;
	for (size_t i = 0; i < SP_ARRAY_SIZE(cases); i++) {
		diff(OP_PUTS, cases[i]);
	}
	assert_int_equal(diff(OP_PUTS, cases[0]), 0);
	assert_int_equal(diff(OP_PUTS, puts_body(500, 500, "")), 0);
	assert_int_equal(g_pb.n, 500);
	assert_true(g_pb.rec[499].data_raw && !g_pa.rec[499].data_raw);
	assert_int_equal(diff(OP_PUTS, puts_body(501, 501, "")), -EINVAL);
	assert_int_equal(diff(OP_PUTS, puts_body(600, 550, "\"ExplicitHashKey\":\"x\"")), -EINVAL);
	assert_int_equal(diff(OP_PUTS, puts_body(20, 7, "\"ExplicitHashKey\":1")), -EINVAL);
	assert_int_equal(diff(OP_PUTS, puts_body(20, 7, "\"Data\":\"@@@@\"")), -EINVAL);
}

/* Data at the model's bound and one byte past it, raw in CBOR and base64 in JSON. */
static void
test_diff_data_limit(void **state)
{
	static const char head[] = "{\"PartitionKey\":\"k\",\"Data\":\"";
	size_t n = SP_API_REQ_DATA_MAX + 1, len = sizeof(head) - 1;

	(void)state;
	memcpy(g_json, head, len);
	memset(g_tmp, 0x5a, n);
	len += sp_b64_encode(g_tmp, n, g_json + len);
	memcpy(g_json + len, "\"}", 3);
	assert_int_equal(diff_one(OP_PUT, g_json, len + 2, true), -EINVAL);
	len = sizeof(head) - 1;
	len += sp_b64_encode(g_tmp, n - 1, g_json + len);
	memcpy(g_json + len, "\"}", 3);
	assert_int_equal(diff_one(OP_PUT, g_json, len + 2, true), 0);
}

/* ---- CBOR only ---- */

static struct sp_api_req_err g_err;

static int
cb_put(const uint8_t *b, size_t n, struct sp_api_req_put_record *out)
{
	return sp_api_cbor_put_record((const char *)b, n, g_scratch, BIG_BODY, out, &g_err);
}

static int
cb_gr(const uint8_t *b, size_t n, struct sp_api_req_get_records *out)
{
	return sp_api_cbor_get_records((const char *)b, n, g_scratch, BIG_BODY, out, &g_err);
}

static int
cb_gsi(const uint8_t *b, size_t n, struct sp_api_req_get_shard_iterator *out)
{
	return sp_api_cbor_get_shard_iterator((const char *)b, n, g_scratch, BIG_BODY, out, &g_err);
}

static void
expect(enum sp_kerr kerr, const char *msg)
{
	bool same = msg == NULL ||
		    (g_err.msg_len == strlen(msg) && memcmp(g_err.msg, msg, g_err.msg_len) == 0);

	if (g_err.kerr != kerr || (msg == NULL) != !g_err.has_msg || !same) {
		fail_msg("want %d %s, got %d %.*s", (int)kerr, msg ? msg : "(none)",
			 (int)g_err.kerr, (int)g_err.msg_len, g_err.msg);
	}
}

static size_t
unhex(const char *h, uint8_t *out)
{
	size_t n = 0;

	for (; h[0] != '\0'; h++) {
		unsigned v;

		if (h[0] == ' ') {
			continue;
		}
		SP_VERIFY(h[1] != '\0' && sscanf(h, "%2x", &v) == 1);
		out[n++] = (uint8_t)v;
		h++;
	}
	return n;
}

/* Bodies that are not one map, or not well-formed: SerializationException, no message. */
static void
test_not_a_map(void **state)
{
	static const char *const bad[] = {
	    "",           "80",           "a0a0",       "c1a0",         "a1",
	    "bf",         "a16144",       "a1614400ff", "ff",           "a1 6144 9f00",
	    "f6",         "6161",         "a1 1c 00",   "a1 6144 f800", "a1 6444617461 f0",
	    "bf 6144 ff", "a1 6162 61ff",
	};
	struct sp_api_req_put_record r;
	uint8_t b[64];

	(void)state;
	for (size_t i = 0; i < SP_ARRAY_SIZE(bad); i++) {
		size_t n = unhex(bad[i], b);

		if (cb_put(b, n, &r) != -EINVAL || g_err.has_msg) {
			fail_msg("'%s' accepted", bad[i]);
		}
		expect(SP_KERR_SERIALIZATION, NULL);
	}
	/* sizing: the caller's bug, InternalFailure */
	assert_int_equal(sp_api_cbor_put_record((const char *)b, 2, g_scratch, 1, &r, &g_err),
			 -ENOSPC);
	assert_int_equal(g_err.kerr, SP_KERR_INTERNAL_FAILURE);
}

/* A writer over a local buffer with the key already written, for hand-built bodies. */
static void
kv(struct sp_cbor_w *w, const char *k)
{
	sp_cbor_w_text(w, k, strlen(k));
}

static void
test_cbor_types(void **state)
{
	struct sp_api_req_put_record r;
	struct sp_api_req_get_records g;
	uint8_t b[256];
	struct sp_cbor_w w;

	(void)state;
	/* a byte string where a String is expected */
	sp_cbor_w_init(&w, b, sizeof(b));
	sp_cbor_w_map(&w, 2);
	kv(&w, "Data");
	sp_cbor_w_bytes(&w, "x", 1);
	kv(&w, "PartitionKey");
	sp_cbor_w_bytes(&w, "k", 1);
	assert_int_equal(cb_put(b, (size_t)sp_cbor_w_finish(&w), &r), -EINVAL);
	expect(SP_KERR_SERIALIZATION,
	       "class java.nio.HeapByteBuffer can not be converted to an String");
	/* ... and where an Integer is */
	sp_cbor_w_init(&w, b, sizeof(b));
	sp_cbor_w_map(&w, 2);
	kv(&w, "ShardIterator");
	kv(&w, "it");
	kv(&w, "Limit");
	sp_cbor_w_bytes(&w, "5", 1);
	assert_int_equal(cb_gr(b, (size_t)sp_cbor_w_finish(&w), &g), -EINVAL);
	expect(SP_KERR_SERIALIZATION,
	       "class java.nio.HeapByteBuffer can not be converted to an Integer");
	/* undefined is null; a non-text key is skipped with its value; tags are dropped */
	sp_cbor_w_init(&w, b, sizeof(b));
	sp_cbor_w_indef(&w, SP_CBOR_MAJOR_MAP);
	sp_cbor_w_uint(&w, 7);
	sp_cbor_w_array(&w, 1);
	sp_cbor_w_uint(&w, 1);
	sp_cbor_w_bytes(&w, "Limit", 5);
	sp_cbor_w_uint(&w, 0);
	kv(&w, "Limit");
	sp_cbor_w_undefined(&w);
	kv(&w, "ShardIterator");
	sp_cbor_w_tag(&w, 32);
	sp_cbor_w_tag(&w, 99);
	kv(&w, "AAAA");
	sp_cbor_w_break(&w);
	assert_int_equal(cb_gr(b, (size_t)sp_cbor_w_finish(&w), &g), 0);
	assert_int_equal(g.has, 0);
	assert_int_equal(g.limit, SP_K_GET_RECORDS_MAX_RECORDS);
	assert_int_equal(g.shard_iterator.len, 4);
	/* a NaN Limit reads as 0, -inf as INT32_MIN: both ValidationException */
	sp_cbor_w_init(&w, b, sizeof(b));
	sp_cbor_w_map(&w, 2);
	kv(&w, "ShardIterator");
	kv(&w, "AAAA");
	kv(&w, "Limit");
	sp_cbor_w_float(&w, NAN);
	assert_int_equal(cb_gr(b, (size_t)sp_cbor_w_finish(&w), &g), -EINVAL);
	expect(SP_KERR_VALIDATION,
	       "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
	       "Member must have value greater than or equal to 1");
	b[w.len - 2] = 0xfc; /* f9 7e00 -> f9 fc00: -Infinity */
	b[w.len - 1] = 0x00;
	assert_int_equal(cb_gr(b, (size_t)sp_cbor_w_finish(&w), &g), -EINVAL);
	expect(SP_KERR_VALIDATION,
	       "1 validation error detected: Value '-2147483648' at 'limit' failed to satisfy "
	       "constraint: Member must have value greater than or equal to 1");
}

/* Timestamps: tag 1 + millis, untagged millis, floats (millis, truncated), huge values. */
static void
test_cbor_timestamp(void **state)
{
	static const struct {
		int tag; /* -1: none */
		bool fl;
		double v;
		int64_t want;
	} ts[] = {
	    {1, false, 1700000000123.0, 1700000000123},
	    {-1, false, 1700000000123.0, 1700000000123},
	    {1, true, 1700000000123.75, 1700000000123},
	    {-1, true, -1.5, -1},
	    {0, false, 5.0, 5},
	    {-1, true, 1e300, INT64_MAX},
	    {-1, true, -1e300, INT64_MIN},
	};
	struct sp_api_req_get_shard_iterator o;
	uint8_t b[256];
	struct sp_cbor_w w;

	(void)state;
	for (size_t i = 0; i < SP_ARRAY_SIZE(ts); i++) {
		sp_cbor_w_init(&w, b, sizeof(b));
		sp_cbor_w_indef(&w, SP_CBOR_MAJOR_MAP);
		kv(&w, "ShardId");
		kv(&w, "shardId-000000000001");
		kv(&w, "ShardIteratorType");
		kv(&w, "AT_TIMESTAMP");
		kv(&w, "Timestamp");
		if (ts[i].tag >= 0) {
			sp_cbor_w_tag(&w, (uint64_t)ts[i].tag);
		}
		if (ts[i].fl) {
			sp_cbor_w_float(&w, ts[i].v);
		} else {
			sp_cbor_w_int(&w, (int64_t)ts[i].v);
		}
		sp_cbor_w_break(&w);
		assert_int_equal(cb_gsi(b, (size_t)sp_cbor_w_finish(&w), &o), 0);
		assert_true(o.has & SP_API_REQ_HAS_TIMESTAMP);
		assert_true(o.timestamp_ms == ts[i].want);
	}
	/* the largest negative integer CBOR has clamps too */
	sp_cbor_w_init(&w, b, sizeof(b));
	sp_cbor_w_map(&w, 3);
	kv(&w, "ShardId");
	kv(&w, "s");
	kv(&w, "ShardIteratorType");
	kv(&w, "LATEST");
	kv(&w, "Timestamp");
	sp_cbor_w_head(&w, SP_CBOR_MAJOR_NINT, UINT64_MAX);
	assert_int_equal(cb_gsi(b, (size_t)sp_cbor_w_finish(&w), &o), 0);
	assert_true(o.timestamp_ms == INT64_MIN);
}

/* Zero copy for definite strings; indefinite ones joined in scratch; base64 text Data. */
static void
test_cbor_slices(void **state)
{
	struct sp_api_req_put_record r;
	uint8_t b[256], out[16];
	struct sp_cbor_w w;
	size_t n;

	(void)state;
	sp_cbor_w_init(&w, b, sizeof(b));
	sp_cbor_w_indef(&w, SP_CBOR_MAJOR_MAP);
	sp_cbor_w_indef(&w, SP_CBOR_MAJOR_TEXT); /* "Partition" "Key" */
	kv(&w, "Partition");
	kv(&w, "Key");
	sp_cbor_w_break(&w);
	kv(&w, "pk-1");
	kv(&w, "Data");
	sp_cbor_w_indef(&w, SP_CBOR_MAJOR_BYTES);
	sp_cbor_w_bytes(&w, "\x00\x01", 2);
	sp_cbor_w_bytes(&w, "", 0);
	sp_cbor_w_bytes(&w, "\x02", 1);
	sp_cbor_w_break(&w);
	sp_cbor_w_break(&w);
	n = (size_t)sp_cbor_w_finish(&w);
	assert_int_equal(cb_put(b, n, &r), 0);
	assert_true(r.rec.key.ptr > (const char *)b && r.rec.key.ptr < (const char *)b + n);
	assert_int_equal(r.rec.key.escaped, 0);
	assert_true(r.rec.data_raw);
	assert_int_equal(r.rec.data.escaped, 1);
	assert_true(r.rec.data.ptr >= g_scratch && r.rec.data.ptr < g_scratch + n);
	assert_int_equal(r.rec.data_len, 3);
	assert_int_equal(sp_api_req_record_data(&r.rec, out), 0);
	assert_memory_equal(out, "\x00\x01\x02", 3);
	/* base64 text Data (kinesalite's CBOR clients): validated and decoded as in JSON */
	sp_cbor_w_init(&w, b, sizeof(b));
	sp_cbor_w_map(&w, 2);
	kv(&w, "PartitionKey");
	kv(&w, "k");
	kv(&w, "Data");
	kv(&w, "aGVsbG8=");
	assert_int_equal(cb_put(b, (size_t)sp_cbor_w_finish(&w), &r), 0);
	assert_false(r.rec.data_raw);
	assert_int_equal(r.rec.data_len, 5);
	assert_int_equal(sp_api_req_record_data(&r.rec, out), 0);
	assert_memory_equal(out, "hello", 5);
}

/* PutRecords' Data arena: raw and base64 records side by side. */
static void
test_cbor_put_records_arena(void **state)
{
	uint32_t off[3];
	struct sp_cbor_w w;
	uint8_t *b = g_cbor;

	(void)state;
	sp_cbor_w_init(&w, b, 1024);
	sp_cbor_w_indef(&w, SP_CBOR_MAJOR_MAP);
	kv(&w, "Records");
	sp_cbor_w_array(&w, 3);
	for (int i = 0; i < 3; i++) {
		sp_cbor_w_map(&w, 2);
		kv(&w, "PartitionKey");
		kv(&w, "k");
		kv(&w, "Data");
		if (i == 1) {
			kv(&w, "YWJj"); /* "abc" */
		} else {
			sp_cbor_w_bytes(&w, i == 0 ? "xy" : "z", i == 0 ? 2 : 1);
		}
	}
	kv(&w, "StreamName");
	kv(&w, "s");
	sp_cbor_w_break(&w);
	assert_int_equal(sp_api_cbor_put_records((const char *)b, (size_t)sp_cbor_w_finish(&w),
						 g_scratch, BIG_BODY, &g_pb, &g_err),
			 0);
	assert_int_equal(g_pb.n, 3);
	assert_true(g_pb.data_bytes == 6);
	assert_int_equal(sp_api_req_put_records_data(
			     &g_pb, g_arena_a, sp_api_req_put_records_arena_bytes(&g_pb), off),
			 0);
	assert_memory_equal(g_arena_a, "xyabcz", 6);
	assert_int_equal(off[2], 5);
}

/* ---- Writers ---- */

/* Read a whole body back: returns the next item, failing the test on a reader error. */
static struct sp_cbor_item
rd_next(struct sp_cbor_rd *rd)
{
	struct sp_cbor_item it;

	assert_int_equal(sp_cbor_next(rd, &it), 1);
	return it;
}

static void
rd_text(struct sp_cbor_rd *rd, const char *want)
{
	struct sp_cbor_item it = rd_next(rd);

	assert_int_equal(it.type, SP_CBOR_TEXT);
	assert_int_equal(it.u, strlen(want));
	assert_memory_equal(it.ptr, want, it.u);
}

static void
rd_end(struct sp_cbor_rd *rd)
{
	struct sp_cbor_item it;

	assert_int_equal(sp_cbor_next(rd, &it), 0);
}

static void
test_write_small(void **state)
{
	uint8_t b[512];
	struct sp_cbor_rd rd;
	struct sp_cbor_item it;
	ssize_t n;

	(void)state;
	n = sp_api_cbor_write_error((char *)b, sizeof(b), SP_KERR_SERIALIZATION, NULL, 0, true);
	assert_true(n > 0);
	assert_int_equal(sp_cbor_rd_init(&rd, b, (size_t)n, NULL, 0), 0);
	assert_int_equal(rd_next(&rd).type, SP_CBOR_MAP);
	rd_text(&rd, "__type");
	rd_text(&rd, "SerializationException");
	rd_end(&rd);
	rd_end(&rd);
	assert_int_equal(sp_cbor_finish(&rd), 0);
	/* invalid UTF-8 in a message comes out as U+FFFD */
	n = sp_api_cbor_write_error((char *)b, sizeof(b), SP_KERR_VALIDATION,
				    "a\xff"
				    "b",
				    3, false);
	assert_int_equal(sp_cbor_rd_init(&rd, b, (size_t)n, NULL, 0), 0);
	it = rd_next(&rd);
	assert_int_equal(it.u, 2);
	rd_text(&rd, "__type");
	rd_text(&rd, "ValidationException");
	rd_text(&rd, "message");
	rd_text(&rd, "a\xef\xbf\xbd"
		     "b");
	n = sp_api_cbor_write_put_record((char *)b, sizeof(b), "shardId-000000000001", 20, "49", 2,
					 true);
	assert_int_equal(sp_cbor_rd_init(&rd, b, (size_t)n, NULL, 0), 0);
	it = rd_next(&rd);
	assert_true(it.type == SP_CBOR_MAP && it.indef);
	rd_text(&rd, "ShardId");
	rd_text(&rd, "shardId-000000000001");
	rd_text(&rd, "SequenceNumber");
	rd_text(&rd, "49");
	rd_text(&rd, "EncryptionType");
	rd_text(&rd, "KMS");
	rd_end(&rd);
	assert_int_equal(sp_cbor_check(b, (size_t)n, NULL, 0), 0);
	n = sp_api_cbor_write_shard_iterator((char *)b, sizeof(b), "AAAAit", 6);
	assert_int_equal(sp_cbor_rd_init(&rd, b, (size_t)n, NULL, 0), 0);
	(void)rd_next(&rd);
	rd_text(&rd, "ShardIterator");
	rd_text(&rd, "AAAAit");
	rd_end(&rd);
	/* every cut is -ENOSPC and nothing lands past cap */
	for (size_t cap = 0; cap < (size_t)n; cap++) {
		memset(b, 0xee, sizeof(b));
		assert_int_equal(sp_api_cbor_write_shard_iterator((char *)b, cap, "AAAAit", 6),
				 -ENOSPC);
		assert_int_equal(b[cap], 0xee);
	}
}

/* The GetRecords body of the test: 2 records, a next iterator and two children. */
static ssize_t
write_get_records(uint8_t *b, size_t cap)
{
	static const uint8_t data[3] = {0, 0xff, 7};
	const struct sp_api_jw_record recs[2] = {
	    {.seq = "1",
	     .seq_len = 1,
	     .arrival_ms = 1700000000123,
	     .data = data,
	     .data_len = 3,
	     .key = "k1",
	     .key_len = 2,
	     .encryption = NULL},
	    {.seq = "2",
	     .seq_len = 1,
	     .arrival_ms = 5,
	     .data = NULL,
	     .data_len = 0,
	     .key = "k2",
	     .key_len = 2,
	     .encryption = "KMS"},
	};
	const struct sp_api_jw_child ch[2] = {
	    {.shard_id = "shardId-2",
	     .parents = {"shardId-1"},
	     .nparents = 1,
	     .start_hash = "0",
	     .end_hash = "9"},
	    {.shard_id = "shardId-3",
	     .parents = {"shardId-1", "shardId-0"},
	     .nparents = 2,
	     .start_hash = "10",
	     .end_hash = "20"},
	};
	struct sp_cbor_w w;

	sp_cbor_w_init(&w, b, cap);
	sp_api_cw_get_records_begin(&w);
	sp_api_cw_get_records_record(&w, &recs[0]);
	sp_api_cw_get_records_record(&w, &recs[1]);
	sp_api_cw_get_records_end(&w, "next", 4, 42, ch, 2);
	return sp_cbor_w_finish(&w);
}

static void
test_write_get_records(void **state)
{
	uint8_t b[1024];
	struct sp_cbor_rd rd;
	struct sp_cbor_item it;
	ssize_t n = write_get_records(b, sizeof(b));

	(void)state;
	assert_true(n > 0);
	assert_int_equal(sp_cbor_check(b, (size_t)n, NULL, 0), 0);
	assert_int_equal(sp_cbor_rd_init(&rd, b, (size_t)n, NULL, 0), 0);
	it = rd_next(&rd);
	assert_true(it.type == SP_CBOR_MAP && it.indef);
	rd_text(&rd, "Records");
	it = rd_next(&rd);
	assert_true(it.type == SP_CBOR_ARRAY && it.indef);
	it = rd_next(&rd);
	assert_true(it.type == SP_CBOR_MAP && it.u == 4);
	rd_text(&rd, "SequenceNumber");
	rd_text(&rd, "1");
	rd_text(&rd, "ApproximateArrivalTimestamp");
	it = rd_next(&rd);
	assert_true(it.type == SP_CBOR_TAG && it.u == 1);
	it = rd_next(&rd);
	assert_true(it.type == SP_CBOR_UINT && it.u == 1700000000123u);
	rd_text(&rd, "Data");
	it = rd_next(&rd);
	assert_true(it.type == SP_CBOR_BYTES && it.u == 3);
	assert_memory_equal(it.ptr, "\x00\xff\x07", 3);
	rd_text(&rd, "PartitionKey");
	rd_text(&rd, "k1");
	rd_end(&rd);
	it = rd_next(&rd);
	assert_true(it.type == SP_CBOR_MAP && it.u == 5);
	assert_int_equal(sp_cbor_skip(&rd, &it), 0);
	rd_end(&rd); /* Records */
	rd_text(&rd, "NextShardIterator");
	rd_text(&rd, "next");
	rd_text(&rd, "MillisBehindLatest");
	assert_int_equal(rd_next(&rd).u, 42);
	rd_text(&rd, "ChildShards");
	it = rd_next(&rd);
	assert_true(it.type == SP_CBOR_ARRAY && it.u == 2);
	it = rd_next(&rd);
	assert_true(it.type == SP_CBOR_MAP && it.u == 3);
	rd_text(&rd, "ShardId");
	rd_text(&rd, "shardId-2");
	rd_text(&rd, "ParentShards");
	assert_int_equal(rd_next(&rd).u, 1);
	rd_text(&rd, "shardId-1");
	rd_end(&rd);
	rd_text(&rd, "HashKeyRange");
	assert_int_equal(rd_next(&rd).u, 2);
	rd_text(&rd, "StartingHashKey");
	rd_text(&rd, "0");
	rd_text(&rd, "EndingHashKey");
	rd_text(&rd, "9");
	for (size_t cap = 0; cap < (size_t)n; cap++) {
		memset(b, 0xee, sizeof(b));
		assert_int_equal(write_get_records(b, cap), -ENOSPC);
		assert_int_equal(b[cap], 0xee);
	}
}

static void
test_write_put_records(void **state)
{
	uint8_t b[512];
	struct sp_cbor_w w;
	struct sp_cbor_rd rd;
	struct sp_cbor_item it;
	ssize_t n;

	(void)state;
	sp_cbor_w_init(&w, b, sizeof(b));
	sp_api_cw_put_records_begin(&w, 1);
	sp_api_cw_put_records_ok(&w, "shardId-1", 9, "4955", 4);
	sp_api_cw_put_records_fail(&w, "InternalFailure", 15, "Internal Service Failure", 24);
	sp_api_cw_put_records_end(&w, false);
	n = sp_cbor_w_finish(&w);
	assert_true(n > 0);
	assert_int_equal(sp_cbor_rd_init(&rd, b, (size_t)n, NULL, 0), 0);
	(void)rd_next(&rd);
	rd_text(&rd, "FailedRecordCount");
	assert_int_equal(rd_next(&rd).u, 1);
	rd_text(&rd, "Records");
	it = rd_next(&rd);
	assert_true(it.type == SP_CBOR_ARRAY && it.indef);
	assert_int_equal(rd_next(&rd).u, 2);
	rd_text(&rd, "SequenceNumber");
	rd_text(&rd, "4955");
	rd_text(&rd, "ShardId");
	rd_text(&rd, "shardId-1");
	rd_end(&rd);
	assert_int_equal(rd_next(&rd).u, 2);
	rd_text(&rd, "ErrorCode");
	rd_text(&rd, "InternalFailure");
	rd_text(&rd, "ErrorMessage");
	rd_text(&rd, "Internal Service Failure");
	rd_end(&rd);
	rd_end(&rd);
	rd_text(&rd, "EncryptionType");
	rd_text(&rd, "NONE");
	rd_end(&rd);
	rd_end(&rd);
	assert_int_equal(sp_cbor_finish(&rd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_diff_flat),         cmocka_unit_test(test_diff_put_records),
	    cmocka_unit_test(test_diff_data_limit),   cmocka_unit_test(test_not_a_map),
	    cmocka_unit_test(test_cbor_types),        cmocka_unit_test(test_cbor_timestamp),
	    cmocka_unit_test(test_cbor_slices),       cmocka_unit_test(test_cbor_put_records_arena),
	    cmocka_unit_test(test_write_small),       cmocka_unit_test(test_write_get_records),
	    cmocka_unit_test(test_write_put_records),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
