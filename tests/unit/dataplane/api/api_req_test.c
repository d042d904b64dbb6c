/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/api's request decoders (PutRecord, PutRecords, GetShardIterator,
 * GetRecords): each one's happy path and zero-copy output; every SerializationException text
 * by expected type and the "first failure in member order" rule; every ValidationException
 * text, with kinesalite's vectors where they apply (StreamName is optional here, as in the
 * current model); limits at and past their bounds (lengths in UTF-16 units, Data in decoded
 * bytes, 500 records, Limit clamping); escapes and Unicode in keys; member order; duplicate
 * members (last wins); nulls; nested unknown members; Data decoding into an arena.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../sp_test.h"

#include "api_req.h"
#include "b64.h"

#define BIG_BODY (16u * 1024u * 1024u) /* a Data of 10 MiB + 1 in base64 fits */

static char *g_body;	/* BIG_BODY bytes for built bodies */
static char *g_scratch; /* BIG_BODY bytes */
static struct sp_api_req_put_records g_prs;
static struct sp_api_req_err g_err;

static int
setup(void **state)
{
	(void)state;
	g_body = malloc(BIG_BODY);
	g_scratch = malloc(BIG_BODY);
	return g_body != NULL && g_scratch != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	free(g_body);
	free(g_scratch);
	return 0;
}

static int
put_record(const char *body, struct sp_api_req_put_record *out)
{
	return sp_api_req_put_record(body, strlen(body), g_scratch, BIG_BODY, out, &g_err);
}

static int
put_records(const char *body, size_t len)
{
	return sp_api_req_put_records(body, len, g_scratch, BIG_BODY, &g_prs, &g_err);
}

static int
get_iter(const char *body, struct sp_api_req_get_shard_iterator *out)
{
	return sp_api_req_get_shard_iterator(body, strlen(body), g_scratch, BIG_BODY, out, &g_err);
}

static int
get_records(const char *body, struct sp_api_req_get_records *out)
{
	return sp_api_req_get_records(body, strlen(body), g_scratch, BIG_BODY, out, &g_err);
}

/* The last decode refused with kerr and exactly msg (NULL: no message). */
static void
expect_err(enum sp_kerr kerr, const char *msg)
{
	bool same = msg == NULL || (g_err.msg_len == strlen(msg) &&
				    memcmp(g_err.msg, msg, g_err.msg_len) == 0);

	if (g_err.kerr != kerr || (msg == NULL) != !g_err.has_msg || !same) {
		fprintf(stderr, "want %d %s\n got %d %.*s\n", (int)kerr, msg ? msg : "(none)",
			(int)g_err.kerr, (int)g_err.msg_len, g_err.msg);
		fail();
	}
	assert_int_equal(g_err.capital_m, kerr == SP_KERR_SERIALIZATION);
}

static void
expect_serial(const char *msg)
{
	expect_err(SP_KERR_SERIALIZATION, msg);
}

static void
expect_valid(const char *msg)
{
	expect_err(SP_KERR_VALIDATION, msg);
}

static void
str_eq(const struct sp_api_json_str *s, const char *want)
{
	assert_int_equal(s->len, strlen(want));
	assert_memory_equal(s->ptr, want, s->len);
}

/* ---- Happy paths ---- */

static void
test_put_record_ok(void **state)
{
	const char *body = "{\"StreamName\":\"s-1\",\"Data\":\"aGVsbG8=\",\"PartitionKey\":\"pk\","
			   "\"ExplicitHashKey\":\"340282366920938463463374607431768211455\","
			   "\"SequenceNumberForOrdering\":\"0\"}";
	struct sp_api_req_put_record r;
	uint8_t out[8];

	(void)state;
	assert_int_equal(put_record(body, &r), 0);
	assert_int_equal(g_err.kerr, SP_KERR_NONE);
	str_eq(&r.stream_name, "s-1");
	str_eq(&r.rec.key, "pk");
	str_eq(&r.rec.data, "aGVsbG8=");
	str_eq(&r.rec.ehk, "340282366920938463463374607431768211455");
	str_eq(&r.seq_for_ordering, "0");
	assert_int_equal(r.rec.data_len, 5);
	assert_int_equal(r.has, SP_API_REQ_HAS_STREAM_NAME | SP_API_REQ_HAS_SEQ);
	assert_int_equal(r.rec.has, SP_API_REQ_HAS_KEY | SP_API_REQ_HAS_DATA | SP_API_REQ_HAS_EHK);
	/* Zero copy: the slices point into the body. */
	assert_true(r.rec.key.ptr > body && r.rec.key.ptr < body + strlen(body));
	assert_int_equal(r.rec.key.escaped, 0);
	assert_int_equal(sp_api_req_record_data(&r.rec, out), 0);
	assert_memory_equal(out, "hello", 5);

	/* Minimal: no stream selector (the caller resolves it), empty Data. */
	assert_int_equal(put_record("{\"PartitionKey\":\"a\",\"Data\":\"\"}", &r), 0);
	assert_int_equal(r.has, 0);
	assert_int_equal(r.rec.data_len, 0);
	assert_int_equal(r.rec.has, SP_API_REQ_HAS_KEY | SP_API_REQ_HAS_DATA);
	assert_null(r.stream_name.ptr);
	assert_int_equal(sp_api_req_record_data(&r.rec, NULL), 0);

	body = "{\"StreamARN\":\"arn:aws:kinesis:us-east-1:123456789012:stream/s\","
	       "\"PartitionKey\":\"a\",\"Data\":\"AA==\"}";
	assert_int_equal(put_record(body, &r), 0);
	assert_int_equal(r.has, SP_API_REQ_HAS_STREAM_ARN);
	str_eq(&r.stream_arn, "arn:aws:kinesis:us-east-1:123456789012:stream/s");
}

static void
test_put_records_ok(void **state)
{
	const char *body = " {\"Records\":[{\"Data\":\"AQID\",\"PartitionKey\":\"a\"},"
			   "{\"PartitionKey\":\"b\\u00e9\",\"Data\":\"BA==\","
			   "\"ExplicitHashKey\":\"7\"},"
			   "{\"Data\":\"\",\"PartitionKey\":\"c\"}],\"StreamName\":\"st\"} ";
	uint8_t arena[32];
	uint32_t off[3];

	(void)state;
	assert_int_equal(put_records(body, strlen(body)), 0);
	assert_int_equal(g_prs.n, 3);
	str_eq(&g_prs.stream_name, "st");
	assert_int_equal(g_prs.has, SP_API_REQ_HAS_STREAM_NAME);
	str_eq(&g_prs.rec[0].key, "a");
	str_eq(&g_prs.rec[1].key, "b\xc3\xa9");
	assert_int_equal(g_prs.rec[1].key.escaped, 1);
	str_eq(&g_prs.rec[1].ehk, "7");
	assert_int_equal(g_prs.rec[1].has & SP_API_REQ_HAS_EHK, SP_API_REQ_HAS_EHK);
	assert_int_equal(g_prs.rec[0].has & SP_API_REQ_HAS_EHK, 0);
	assert_int_equal(g_prs.rec[0].data_len, 3);
	assert_int_equal(g_prs.rec[1].data_len, 1);
	assert_int_equal(g_prs.rec[2].data_len, 0);
	assert_int_equal(g_prs.data_bytes, 4);
	assert_int_equal(sp_api_req_put_records_arena_bytes(&g_prs), 6);
	assert_int_equal(sp_api_req_put_records_data(&g_prs, arena, 5, off), -ENOSPC);
	assert_int_equal(sp_api_req_put_records_data(&g_prs, arena, sizeof(arena), off), 0);
	assert_memory_equal(arena, "\x01\x02\x03\x04", 4);
	assert_int_equal(off[0], 0);
	assert_int_equal(off[1], 3);
	assert_int_equal(off[2], 4);
}

static void
test_get_shard_iterator_ok(void **state)
{
	static const char *const types[] = {
		"AFTER_SEQUENCE_NUMBER", "LATEST", "AT_TIMESTAMP", "AT_SEQUENCE_NUMBER",
		"TRIM_HORIZON",
	};
	struct sp_api_req_get_shard_iterator r;
	char body[256];

	(void)state;
	for (unsigned t = 0; t < SP_API_ITER_COUNT; t++) {
		snprintf(body, sizeof(body),
			 "{\"StreamName\":\"s\",\"ShardId\":\"shardId-000000000001\","
			 "\"ShardIteratorType\":\"%s\"}", types[t]);
		assert_int_equal(get_iter(body, &r), 0);
		assert_int_equal(r.type, t);
		assert_string_equal(sp_api_iter_type_name(r.type), types[t]);
		str_eq(&r.shard_id, "shardId-000000000001");
		assert_int_equal(r.has, SP_API_REQ_HAS_STREAM_NAME);
	}
	assert_int_equal(get_iter("{\"ShardId\":\"0\",\"ShardIteratorType\":\"AT_TIMESTAMP\","
				  "\"Timestamp\":1701760153.593,\"StartingSequenceNumber\":\"12\"}",
				  &r), 0);
	assert_true(r.timestamp_ms == 1701760153593ll);
	str_eq(&r.starting_seq, "12");
	assert_int_equal(r.has, SP_API_REQ_HAS_TIMESTAMP | SP_API_REQ_HAS_SEQ);
	/* Integers and exponents are numbers too. */
	assert_int_equal(get_iter("{\"ShardId\":\"0\",\"ShardIteratorType\":\"LATEST\","
				  "\"Timestamp\":1701760153}", &r), 0);
	assert_true(r.timestamp_ms == 1701760153000ll);
	assert_int_equal(get_iter("{\"ShardId\":\"0\",\"ShardIteratorType\":\"LATEST\","
				  "\"Timestamp\":1.5e3}", &r), 0);
	assert_true(r.timestamp_ms == 1500000);
}

static void
test_get_records_ok(void **state)
{
	struct sp_api_req_get_records r;

	(void)state;
	assert_int_equal(get_records("{\"ShardIterator\":\"AAAA\"}", &r), 0);
	str_eq(&r.shard_iterator, "AAAA");
	assert_int_equal(r.limit, 10000);
	assert_int_equal(r.has, 0);
	assert_int_equal(get_records("{\"Limit\":1,\"ShardIterator\":\"x\"}", &r), 0);
	assert_int_equal(r.limit, 1);
	assert_int_equal(r.has, SP_API_REQ_HAS_LIMIT);
	assert_int_equal(get_records("{\"Limit\":10000.9,\"ShardIterator\":\"x\"}", &r), 0);
	assert_int_equal(r.limit, 10000);
	assert_int_equal(get_records("{\"Limit\":1.5e1,\"ShardIterator\":\"x\","
				     "\"StreamARN\":"
				     "\"arn:aws-cn:kinesis:x:000000000000:stream/a\"}",
				     &r), 0);
	assert_int_equal(r.limit, 15);
	assert_int_equal(r.has, SP_API_REQ_HAS_LIMIT | SP_API_REQ_HAS_STREAM_ARN);
}

/* ---- Bodies that are not one JSON object ---- */

static void
test_not_json(void **state)
{
	static const char *const bodies[] = {
		"", " ", "[]", "null", "\"x\"", "{", "{\"Data\":}", "{\"Data\":\"AA==\"}x",
		"{\"a\":\"\\ud800\"}", "{\"a\":\"\xff\"}", "{\"a\":\"\\q\"}", "{\"a\":01}",
		"{\"Records\":[{\"Data\":\"AA==\",}]}", "{\"Records\":[1,]}", "{\"Records\":[}",
		"{\"a\":[1]]}", "{\"a\":1}{}", "{\"a\":\"\t\"}",
	};
	struct sp_api_req_put_record pr;
	struct sp_api_req_get_shard_iterator gi;
	struct sp_api_req_get_records gr;

	(void)state;
	for (size_t i = 0; i < SP_ARRAY_SIZE(bodies); i++) {
		assert_int_equal(put_record(bodies[i], &pr), -EINVAL);
		expect_serial(NULL);
		assert_int_equal(put_records(bodies[i], strlen(bodies[i])), -EINVAL);
		expect_serial(NULL);
		assert_int_equal(get_iter(bodies[i], &gi), -EINVAL);
		expect_serial(NULL);
		assert_int_equal(get_records(bodies[i], &gr), -EINVAL);
		expect_serial(NULL);
	}
	/* Invalid JSON wins over a type failure before it in the body. */
	assert_int_equal(put_record("{\"Data\":true,\"x\":[}", &pr), -EINVAL);
	expect_serial(NULL);
	/* Nesting past the bound, inside an unknown member (the object is level 1). */
	for (unsigned levels = SP_API_JSON_DEPTH_MAX; levels <= SP_API_JSON_DEPTH_MAX + 1;
	     levels++) {
		size_t n = (size_t)snprintf(g_body, 64, "{\"ShardIterator\":\"x\",\"deep\":");

		memset(g_body + n, '[', levels - 1);
		n += levels - 1;
		memset(g_body + n, ']', levels - 1);
		n += levels - 1;
		g_body[n++] = '}';
		if (levels <= SP_API_JSON_DEPTH_MAX) {
			assert_int_equal(sp_api_req_get_records(g_body, n, g_scratch, BIG_BODY, &gr,
								&g_err), 0);
		} else {
			assert_int_equal(sp_api_req_get_records(g_body, n, g_scratch, BIG_BODY, &gr,
								&g_err), -EINVAL);
			expect_serial(NULL);
		}
	}
	/* The caller's sizing: a scratch arena smaller than the body. */
	assert_int_equal(sp_api_req_get_records("{}", 2, g_scratch, 1, &gr, &g_err), -ENOSPC);
	assert_int_equal(g_err.kerr, SP_KERR_INTERNAL_FAILURE);
	assert_false(g_err.has_msg);
}

/* ---- SerializationException texts ---- */

#define T_BOOL_STR "class java.lang.Boolean can not be converted to an String"
#define T_NUM_STR                                                                          \
	"class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted " \
	"to an String"
#define T_BOOL_BLOB "class java.lang.Boolean can not be converted to a Blob"
#define T_NUM_BLOB                                                                         \
	"class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted " \
	"to a Blob"
#define T_BOOL_INT "class java.lang.Boolean can not be converted to an Integer"
#define T_STR_INT "class java.lang.String can not be converted to an Integer"
#define T_BOOL_TS "class java.lang.Boolean can not be converted to milliseconds since epoch"
#define T_STR_TS "class java.lang.String can not be converted to milliseconds since epoch"
#define T_LIST "Start of list found where not expected"
#define T_STRUCT "Start of structure or map found where not expected."

static void
test_types_string(void **state)
{
	static const char *const members[] = {
		"StreamName", "StreamARN", "PartitionKey", "ExplicitHashKey",
		"SequenceNumberForOrdering",
	};
	struct sp_api_req_put_record r;
	char body[256];

	(void)state;
	for (size_t m = 0; m < SP_ARRAY_SIZE(members); m++) {
		struct {
			const char *value;
			const char *text;
		} cases[] = {
			{ "true", T_BOOL_STR }, { "false", T_BOOL_STR }, { "0", T_NUM_STR },
			{ "-1.5e3", T_NUM_STR }, { "[]", T_LIST }, { "[\"a\"]", T_LIST },
			{ "{}", T_STRUCT }, { "{\"a\":1}", T_STRUCT },
		};

		for (size_t c = 0; c < SP_ARRAY_SIZE(cases); c++) {
			snprintf(body, sizeof(body), "{\"%s\":%s}", members[m], cases[c].value);
			assert_int_equal(put_record(body, &r), -EINVAL);
			expect_serial(cases[c].text);
		}
	}
}

static void
test_types_blob(void **state)
{
	struct sp_api_req_put_record r;

	(void)state;
	assert_int_equal(put_record("{\"Data\":true}", &r), -EINVAL);
	expect_serial(T_BOOL_BLOB);
	assert_int_equal(put_record("{\"Data\":12}", &r), -EINVAL);
	expect_serial(T_NUM_BLOB);
	assert_int_equal(put_record("{\"Data\":[]}", &r), -EINVAL);
	expect_serial(T_LIST);
	assert_int_equal(put_record("{\"Data\":{}}", &r), -EINVAL);
	expect_serial(T_STRUCT);
	assert_int_equal(put_record("{\"Data\":\"abc\"}", &r), -EINVAL);
	expect_serial("'abc' can not be converted to a Blob: Base64 encoded length is expected a "
		      "multiple of 4 bytes but found: 3");
	assert_int_equal(put_record("{\"Data\":\"ab!d\"}", &r), -EINVAL);
	expect_serial("'ab!d' can not be converted to a Blob: Invalid Base64 character: '!'");
	assert_int_equal(put_record("{\"Data\":\"AB==\"}", &r), -EINVAL);
	expect_serial("'AB==' can not be converted to a Blob: Invalid last non-pad Base64 "
		      "character dectected");
	/* The value in the message is the unescaped string. */
	assert_int_equal(put_record("{\"Data\":\"a\\u0062c\"}", &r), -EINVAL);
	expect_serial("'abc' can not be converted to a Blob: Base64 encoded length is expected a "
		      "multiple of 4 bytes but found: 3");
	/* In a PutRecords entry too. */
	assert_int_equal(put_records("{\"Records\":[{\"Data\":\"A===\"}]}",
				     strlen("{\"Records\":[{\"Data\":\"A===\"}]}")), -EINVAL);
	expect_serial("'A===' can not be converted to a Blob: Invalid last non-pad Base64 "
		      "character dectected");
}

static void
test_types_number_and_time(void **state)
{
	struct sp_api_req_get_records gr;
	struct sp_api_req_get_shard_iterator gi;

	(void)state;
	assert_int_equal(get_records("{\"Limit\":true}", &gr), -EINVAL);
	expect_serial(T_BOOL_INT);
	assert_int_equal(get_records("{\"Limit\":\"5\"}", &gr), -EINVAL);
	expect_serial(T_STR_INT);
	assert_int_equal(get_records("{\"Limit\":[5]}", &gr), -EINVAL);
	expect_serial(T_LIST);
	assert_int_equal(get_records("{\"Limit\":{}}", &gr), -EINVAL);
	expect_serial(T_STRUCT);
	assert_int_equal(get_iter("{\"Timestamp\":false}", &gi), -EINVAL);
	expect_serial(T_BOOL_TS);
	assert_int_equal(get_iter("{\"Timestamp\":\"2015-01-01\"}", &gi), -EINVAL);
	expect_serial(T_STR_TS);
	assert_int_equal(get_iter("{\"Timestamp\":[]}", &gi), -EINVAL);
	expect_serial(T_LIST);
	assert_int_equal(get_iter("{\"Timestamp\":{}}", &gi), -EINVAL);
	expect_serial(T_STRUCT);
	assert_int_equal(get_iter("{\"ShardIteratorType\":1}", &gi), -EINVAL);
	expect_serial(T_NUM_STR);
	assert_int_equal(get_records("{\"ShardIterator\":false}", &gr), -EINVAL);
	expect_serial(T_BOOL_STR);
}

static void
test_types_list_and_struct(void **state)
{
	static const struct {
		const char *body;
		const char *text;
	} cases[] = {
		{ "{\"Records\":true}", "Expected list or null" },
		{ "{\"Records\":5}", "Expected list or null" },
		{ "{\"Records\":\"x\"}", "Expected list or null" },
		{ "{\"Records\":{}}", T_STRUCT },
		{ "{\"Records\":[5]}", "Expected null" },
		{ "{\"Records\":[\"x\"]}", "Expected null" },
		{ "{\"Records\":[false]}", "Expected null" },
		{ "{\"Records\":[[]]}", T_LIST },
		{ "{\"Records\":[{\"PartitionKey\":1}]}", T_NUM_STR },
		{ "{\"Records\":[{\"ExplicitHashKey\":[]}]}", T_LIST },
		{ "{\"Records\":[{\"Data\":{}}]}", T_STRUCT },
	};

	(void)state;
	for (size_t i = 0; i < SP_ARRAY_SIZE(cases); i++) {
		assert_int_equal(put_records(cases[i].body, strlen(cases[i].body)), -EINVAL);
		expect_serial(cases[i].text);
	}
}

/* The first type failure in the operation's member order, wherever it is in the body. */
static void
test_types_order(void **state)
{
	struct sp_api_req_put_record r;
	struct sp_api_req_get_shard_iterator gi;
	const char *body;

	(void)state;
	/* PutRecord order: SequenceNumberForOrdering, PartitionKey, ExplicitHashKey, Data, ... */
	assert_int_equal(put_record("{\"StreamName\":1,\"Data\":true,\"PartitionKey\":[]}", &r),
			 -EINVAL);
	expect_serial(T_LIST);
	assert_int_equal(put_record("{\"StreamName\":1,\"Data\":true}", &r), -EINVAL);
	expect_serial(T_BOOL_BLOB);
	assert_int_equal(put_record("{\"PartitionKey\":{},\"SequenceNumberForOrdering\":2}", &r),
			 -EINVAL);
	expect_serial(T_NUM_STR);
	/* Type failures come before constraint failures. */
	assert_int_equal(put_record("{\"StreamName\":\"\",\"Data\":\"abc\"}", &r), -EINVAL);
	expect_serial("'abc' can not be converted to a Blob: Base64 encoded length is expected a "
		      "multiple of 4 bytes but found: 3");
	/* PutRecords: Records (entries in order, members in order) before StreamName. */
	body = "{\"StreamName\":true,\"Records\":[{\"PartitionKey\":\"a\",\"Data\":\"AA==\"},"
	       "{\"Data\":\"abc\",\"PartitionKey\":7},{\"Data\":5}]}";
	assert_int_equal(put_records(body, strlen(body)), -EINVAL);
	expect_serial(T_NUM_STR);
	body = "{\"StreamName\":true,\"Records\":[{\"PartitionKey\":\"a\",\"Data\":\"AA==\"}]}";
	assert_int_equal(put_records(body, strlen(body)), -EINVAL);
	expect_serial(T_BOOL_STR);
	/* GetShardIterator: ShardId, ShardIteratorType, StartingSequenceNumber, StreamName,
	 * Timestamp, StreamARN. */
	assert_int_equal(get_iter("{\"Timestamp\":\"x\",\"StreamName\":false}", &gi), -EINVAL);
	expect_serial(T_BOOL_STR);
	assert_int_equal(get_iter("{\"StreamARN\":1,\"Timestamp\":\"x\"}", &gi), -EINVAL);
	expect_serial(T_STR_TS);
}

/* ---- ValidationException texts ---- */

#define V_NULL(p) "Value null at '" p "' failed to satisfy constraint: Member must not be null"
#define NAME_RE "[a-zA-Z0-9_.-]+"
#define HASH_RE "0|([1-9]\\d{0,38})"
#define SEQ_RE "0|([1-9]\\d{0,128})"
#define ARN_RE "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+"
#define ITER_ENUM                                                                          \
	"[AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON]"

static void
test_valid_put_record(void **state)
{
	struct sp_api_req_put_record r;
	char *name = calloc(1, 200);
	char *key = calloc(1, 300);
	size_t n;

	(void)state;
	assert_int_equal(put_record("{}", &r), -EINVAL);
	expect_valid("2 validation errors detected: " V_NULL("partitionKey") "; " V_NULL("data"));
	assert_int_equal(put_record("{\"StreamName\":\"\",\"PartitionKey\":\"\",\"Data\":\"\","
				    "\"ExplicitHashKey\":\"\",\"SequenceNumberForOrdering\":\"\"}",
				    &r), -EINVAL);
	expect_valid("5 validation errors detected: "
		     "Value '' at 'sequenceNumberForOrdering' failed to satisfy constraint: Member "
		     "must satisfy regular expression pattern: " SEQ_RE "; "
		     "Value '' at 'partitionKey' failed to satisfy constraint: Member must have "
		     "length greater than or equal to 1; "
		     "Value '' at 'explicitHashKey' failed to satisfy constraint: Member must "
		     "satisfy regular expression pattern: " HASH_RE "; "
		     "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy "
		     "regular expression pattern: " NAME_RE "; "
		     "Value '' at 'streamName' failed to satisfy constraint: Member must have "
		     "length "
		     "greater than or equal to 1");

	/* kinesalite's "long StreamName" vector, at the model's Data limit (10 MiB today). */
	memset(name, 'a', 129);
	memset(key, 'a', 257);
	n = (size_t)snprintf(g_body, BIG_BODY,
			     "{\"StreamName\":\"%s\",\"PartitionKey\":\"%s\","
			     "\"ExplicitHashKey\":\"\","
			     "\"Data\":\"", name, key);
	n += sp_b64_encode((const uint8_t *)g_scratch, SP_API_REQ_DATA_MAX + 1, g_body + n);
	memcpy(g_body + n, "\"}", 3);
	assert_int_equal(put_record(g_body, &r), -EINVAL);
	snprintf(g_body, BIG_BODY, "4 validation errors detected: "
		 "Value '%s' at 'partitionKey' failed to satisfy constraint: Member must have "
		 "length less than or equal to 256; "
		 "Value '' at 'explicitHashKey' failed to satisfy constraint: Member must satisfy "
		 "regular expression pattern: " HASH_RE "; "
		 "Value 'java.nio.HeapByteBuffer[pos=0 lim=%u cap=%u]' at 'data' failed "
		 "to satisfy constraint: Member must have length less than or equal to %u; "
		 "Value '%s' at 'streamName' failed to satisfy constraint: Member must have length "
		 "less than or equal to 128", key, SP_API_REQ_DATA_MAX + 1, SP_API_REQ_DATA_MAX + 1,
		 SP_API_REQ_DATA_MAX, name);
	expect_valid(g_body);
	free(name);
	free(key);
}

/* Data at its limit passes, one byte more fails (decoded bytes, not base64 characters). */
static void
test_valid_data_limit(void **state)
{
	struct sp_api_req_put_record r;
	size_t n;

	(void)state;
	for (size_t len = SP_API_REQ_DATA_MAX - 1; len <= SP_API_REQ_DATA_MAX + 1; len++) {
		n = (size_t)snprintf(g_body, 64, "{\"PartitionKey\":\"k\",\"Data\":\"");
		memset(g_scratch, 0x5a, len);
		n += sp_b64_encode((const uint8_t *)g_scratch, len, g_body + n);
		memcpy(g_body + n, "\"}", 3);
		if (len <= SP_API_REQ_DATA_MAX) {
			assert_int_equal(put_record(g_body, &r), 0);
			assert_int_equal(r.rec.data_len, len);
		} else {
			char want[256];

			assert_int_equal(put_record(g_body, &r), -EINVAL);
			snprintf(want, sizeof(want),
				 "1 validation error detected: Value "
				 "'java.nio.HeapByteBuffer[pos=0 lim=%u cap=%u]' at 'data' "
				 "failed to satisfy constraint: Member must have length less "
				 "than or equal to %u",
				 SP_API_REQ_DATA_MAX + 1, SP_API_REQ_DATA_MAX + 1,
				 SP_API_REQ_DATA_MAX);
			expect_valid(want);
		}
	}
}

/* Lengths are UTF-16 units, as Java counts them. */
static void
test_valid_key_units(void **state)
{
	struct sp_api_req_put_record r;
	size_t n;

	(void)state;
	/* 256 two-byte characters: 512 bytes, 256 units: fits. */
	n = (size_t)snprintf(g_body, 64, "{\"Data\":\"\",\"PartitionKey\":\"");
	for (unsigned i = 0; i < 256; i++) {
		memcpy(g_body + n, "\xc3\xa9", 2);
		n += 2;
	}
	memcpy(g_body + n, "\"}", 3);
	assert_int_equal(put_record(g_body, &r), 0);
	assert_int_equal(r.rec.key.len, 512);
	/* 128 emoji (2 units each) fit; 129 do not; as \u escapes too. */
	for (unsigned count = 128; count <= 129; count++) {
		n = (size_t)snprintf(g_body, 64, "{\"Data\":\"\",\"PartitionKey\":\"");
		for (unsigned i = 0; i < count; i++) {
			if (i % 2) {
				memcpy(g_body + n, "\xf0\x9f\x98\x80", 4);
				n += 4;
			} else {
				memcpy(g_body + n, "\\ud83d\\ude00", 12);
				n += 12;
			}
		}
		memcpy(g_body + n, "\"}", 3);
		if (count == 128) {
			assert_int_equal(put_record(g_body, &r), 0);
			assert_int_equal(r.rec.key.len, 512);
		} else {
			assert_int_equal(put_record(g_body, &r), -EINVAL);
			assert_int_equal(g_err.kerr, SP_KERR_VALIDATION);
			assert_non_null(strstr(g_err.msg, "at 'partitionKey' failed to satisfy "
							  "constraint: Member must have length "
							  "less "
							  "than or equal to 256"));
		}
	}
}

static const struct {
	const char *member;
	const char *value;
	bool ok;
} g_pattern_cases[] = {
	{ "ExplicitHashKey", "0", true },
	{ "ExplicitHashKey", "1", true },
	{ "ExplicitHashKey", "340282366920938463463374607431768211456", true },
	{ "ExplicitHashKey", "999999999999999999999999999999999999999", true },
	{ "ExplicitHashKey", "1000000000000000000000000000000000000000", false },
	{ "ExplicitHashKey", "01", false },
	{ "ExplicitHashKey", "00", false },
	/* kinesalite's JS regex, anchored outside the alternation, takes this one. */
	{ "ExplicitHashKey", "0abc", false },
	{ "ExplicitHashKey", "abc1", false },
	{ "ExplicitHashKey", "-1", false },
	{ "ExplicitHashKey", "1 ", false },
	{ "StreamName", "a", true },
	{ "StreamName", "A-z_0.9", true },
	{ "StreamName", "a b", false },
	{ "StreamName", "a/b", false },
	{ "StreamName", "\xc3\xa9", false },
	{ "StreamARN", "arn:aws:kinesis:us-east-1:123456789012:stream/s", true },
	{ "StreamARN", "arn:aws-us-gov:kinesis::123456789012:stream/a/b", true },
	{ "StreamARN", "arn:aws:kinesis:r:123456789012:x:kinesis:r:123456789012:stream/s",
	  true },
	{ "StreamARN", "arn:aws:kinesis:a:kinesis:b:123456789012:stream/\xc3\xa9", true },
	{ "StreamARN", "arn:aws:kinesis:us-east-1:12345678901:stream/s", false },
	{ "StreamARN", "arn:aws:kinesis:us-east-1:1234567890123:stream/s", false },
	{ "StreamARN", "arn:aws:kinesis:us-east-1:123456789012:stream/", false },
	{ "StreamARN", "arn:aws:kinesis:us-east-1:123456789012:stream/a b", false },
	{ "StreamARN", "arn:aws:kinesis:us-\\nx:123456789012:stream/s", false },
	{ "StreamARN", "arn:aws:kinesis:us-\\u2028:123456789012:stream/s", false },
	{ "StreamARN", "arn:aws:kinesis:x:123456789012:stream/a\\u2028", true },
	{ "StreamARN", "arn:aws:kinesis:x:123456789012:stream/a\\u000b", false },
	{ "StreamARN", "arn:aws:firehose:x:123456789012:stream/s", false },
	{ "StreamARN", "arn:awskinesis:x:123456789012:stream/s", false },
	{ "StreamARN", "xarn:aws:kinesis:x:123456789012:stream/s", false },
	{ "SequenceNumberForOrdering", "0", true },
	{ "SequenceNumberForOrdering",
	  "49600871682979337187563555549332609155523708941634633746", true },
	{ "SequenceNumberForOrdering", "012", false },
};

static void
test_valid_patterns(void **state)
{
	struct sp_api_req_put_record r;
	char body[512];

	(void)state;
	for (size_t i = 0; i < SP_ARRAY_SIZE(g_pattern_cases); i++) {
		snprintf(body, sizeof(body), "{\"PartitionKey\":\"k\",\"Data\":\"\",\"%s\":\"%s\"}",
			 g_pattern_cases[i].member, g_pattern_cases[i].value);
		if (put_record(body, &r) != (g_pattern_cases[i].ok ? 0 : -EINVAL)) {
			fprintf(stderr, "%s %s\n", g_pattern_cases[i].member,
				g_pattern_cases[i].value);
			fail();
		}
		if (!g_pattern_cases[i].ok) {
			assert_int_equal(g_err.kerr, SP_KERR_VALIDATION);
			assert_non_null(strstr(g_err.msg, "Member must satisfy regular expression "
							  "pattern: "));
		}
	}
	/* 129 digits of sequence number pass, 130 fail; the ARN pattern's text. */
	for (unsigned digits = 129; digits <= 130; digits++) {
		char seq[140];

		memset(seq, '1', digits);
		seq[digits] = '\0';
		snprintf(body, sizeof(body), "{\"PartitionKey\":\"k\",\"Data\":\"\","
			 "\"SequenceNumberForOrdering\":\"%s\"}", seq);
		assert_int_equal(put_record(body, &r), digits == 129 ? 0 : -EINVAL);
	}
	assert_int_equal(put_record("{\"PartitionKey\":\"k\",\"Data\":\"\",\"StreamARN\":\"x\"}",
				    &r), -EINVAL);
	expect_valid("1 validation error detected: Value 'x' at 'streamARN' failed to satisfy "
		     "constraint: Member must satisfy regular expression pattern: " ARN_RE);
}

static void
test_valid_lengths(void **state)
{
	struct sp_api_req_get_shard_iterator gi;
	struct sp_api_req_get_records gr;
	static char s[3000];
	static char body[8192];

	(void)state;
	/* StreamName and ShardId: 128 pass, 129 fail. */
	memset(s, 'a', 129);
	s[128] = '\0';
	snprintf(body, sizeof(body), "{\"StreamName\":\"%s\",\"ShardId\":\"%s\","
		 "\"ShardIteratorType\":\"LATEST\"}", s, s);
	assert_int_equal(get_iter(body, &gi), 0);
	s[128] = 'a';
	s[129] = '\0';
	snprintf(body, sizeof(body), "{\"StreamName\":\"%s\",\"ShardId\":\"%s\","
		 "\"ShardIteratorType\":\"LATEST\"}", s, s);
	assert_int_equal(get_iter(body, &gi), -EINVAL);
	snprintf(body, sizeof(body), "2 validation errors detected: "
		 "Value '%s' at 'shardId' failed to satisfy constraint: Member must have length "
		 "less than or equal to 128; "
		 "Value '%s' at 'streamName' failed to satisfy constraint: Member must have length "
		 "less than or equal to 128", s, s);
	expect_valid(body);
	/* ShardIterator: 512 pass, 513 fail. */
	memset(s, 'b', 513);
	s[512] = '\0';
	snprintf(body, sizeof(body), "{\"ShardIterator\":\"%s\"}", s);
	assert_int_equal(get_records(body, &gr), 0);
	s[512] = 'b';
	s[513] = '\0';
	snprintf(body, sizeof(body), "{\"ShardIterator\":\"%s\"}", s);
	assert_int_equal(get_records(body, &gr), -EINVAL);
	snprintf(body, sizeof(body), "1 validation error detected: Value '%s' at 'shardIterator' "
		 "failed to satisfy constraint: Member must have length less than or equal to 512",
		 s);
	expect_valid(body);
	/* StreamARN: 2048 characters pass the length check, 2049 fail it. */
	for (size_t len = 2048; len <= 2049; len++) {
		int n = snprintf(s, sizeof(s), "arn:aws:kinesis:x:123456789012:stream/");

		memset(s + n, 'c', len - (size_t)n);
		s[len] = '\0';
		snprintf(body, sizeof(body), "{\"ShardIterator\":\"i\",\"StreamARN\":\"%s\"}", s);
		assert_int_equal(get_records(body, &gr), len == 2048 ? 0 : -EINVAL);
	}
	assert_non_null(strstr(g_err.msg, "at 'streamARN' failed to satisfy constraint: Member "
					  "must have length less than or equal to 2048"));
	/* A value past SP_B64_MSG_VALUE_MAX bytes is quoted cut (at a character boundary). */
	memset(s, 'd', 2000);
	memcpy(s + SP_B64_MSG_VALUE_MAX - 1, "\xc3\xa9", 2);
	s[2000] = '\0';
	snprintf(body, sizeof(body), "{\"ShardIterator\":\"%s\"}", s);
	assert_int_equal(get_records(body, &gr), -EINVAL);
	s[SP_B64_MSG_VALUE_MAX - 1] = '\0';
	snprintf(body, sizeof(body), "1 validation error detected: Value '%s' at 'shardIterator' "
		 "failed to satisfy constraint: Member must have length less than or equal to 512",
		 s);
	expect_valid(body);
}

static void
test_valid_get_shard_iterator(void **state)
{
	struct sp_api_req_get_shard_iterator gi;

	(void)state;
	assert_int_equal(get_iter("{}", &gi), -EINVAL);
	expect_valid("2 validation errors detected: " V_NULL("shardId") "; "
		     V_NULL("shardIteratorType"));
	/* kinesalite's "empty StreamName" vector, with today's enum. */
	assert_int_equal(get_iter("{\"StreamName\":\"\",\"ShardIteratorType\":\"\","
				  "\"ShardId\":\"\","
				  "\"StartingSequenceNumber\":\"\"}", &gi), -EINVAL);
	expect_valid("6 validation errors detected: "
		     "Value '' at 'shardId' failed to satisfy constraint: Member must satisfy "
		     "regular expression pattern: " NAME_RE "; "
		     "Value '' at 'shardId' failed to satisfy constraint: Member must have length "
		     "greater than or equal to 1; "
		     "Value '' at 'shardIteratorType' failed to satisfy constraint: Member must "
		     "satisfy enum value set: " ITER_ENUM "; "
		     "Value '' at 'startingSequenceNumber' failed to satisfy constraint: Member "
		     "must "
		     "satisfy regular expression pattern: " SEQ_RE "; "
		     "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy "
		     "regular expression pattern: " NAME_RE "; "
		     "Value '' at 'streamName' failed to satisfy constraint: Member must have "
		     "length "
		     "greater than or equal to 1");
	assert_int_equal(get_iter("{\"ShardId\":\"0\",\"ShardIteratorType\":\"latest\"}", &gi),
			 -EINVAL);
	expect_valid("1 validation error detected: Value 'latest' at 'shardIteratorType' failed "
		     "to satisfy constraint: Member must satisfy enum value set: " ITER_ENUM);
}

static void
test_valid_get_records(void **state)
{
	static const struct {
		const char *limit;
		const char *msg;
	} cases[] = {
		{ "0", "Value '0' at 'limit' failed to satisfy constraint: Member must have value "
		       "greater than or equal to 1" },
		{ "0.99", "Value '0' at 'limit' failed to satisfy constraint: Member must have "
			  "value "
			  "greater than or equal to 1" },
		{ "-1.9", "Value '-1' at 'limit' failed to satisfy constraint: Member must have "
			  "value greater than or equal to 1" },
		{ "10001", "Value '10001' at 'limit' failed to satisfy constraint: Member must "
			   "have "
			   "value less than or equal to 10000" },
		{ "1e10", "Value '2147483647' at 'limit' failed to satisfy constraint: Member must "
			  "have value less than or equal to 10000" },
		{ "99999999999999999999999", "Value '2147483647' at 'limit' failed to satisfy "
					     "constraint: Member must have value less than or "
					     "equal to 10000" },
		{ "-99999999999", "Value '-2147483648' at 'limit' failed to satisfy constraint: "
				  "Member must have value greater than or equal to 1" },
	};
	struct sp_api_req_get_records gr;
	char body[128];
	char want[256];

	(void)state;
	assert_int_equal(get_records("{}", &gr), -EINVAL);
	expect_valid("1 validation error detected: " V_NULL("shardIterator"));
	assert_int_equal(get_records("{\"ShardIterator\":\"\",\"Limit\":0}", &gr), -EINVAL);
	expect_valid("2 validation errors detected: Value '0' at 'limit' failed to satisfy "
		     "constraint: Member must have value greater than or equal to 1; Value '' at "
		     "'shardIterator' failed to satisfy constraint: Member must have length "
		     "greater "
		     "than or equal to 1");
	for (size_t i = 0; i < SP_ARRAY_SIZE(cases); i++) {
		snprintf(body, sizeof(body), "{\"ShardIterator\":\"x\",\"Limit\":%s}",
			 cases[i].limit);
		assert_int_equal(get_records(body, &gr), -EINVAL);
		snprintf(want, sizeof(want), "1 validation error detected: %s", cases[i].msg);
		expect_valid(want);
	}
}

/* Append a PutRecords body of n entries built by entry(i) to g_body; returns its length. */
static size_t
records_body(unsigned n, const char *stream, const char *(*entry)(unsigned i, char *buf))
{
	char ebuf[512];
	size_t len = (size_t)snprintf(g_body, BIG_BODY, "{\"StreamName\":\"%s\",\"Records\":[",
				      stream);

	for (unsigned i = 0; i < n; i++) {
		len += (size_t)snprintf(g_body + len, BIG_BODY - len, "%s%s", i ? "," : "",
					entry(i, ebuf));
	}
	len += (size_t)snprintf(g_body + len, BIG_BODY - len, "]}");
	return len;
}

static const char *
entry_ok(unsigned i, char *buf)
{
	snprintf(buf, 512, "{\"PartitionKey\":\"k%u\",\"Data\":\"AAAA\"}", i);
	return buf;
}

static const char *
entry_empty_key(unsigned i, char *buf)
{
	(void)i;
	snprintf(buf, 512, "{\"PartitionKey\":\"\",\"Data\":\"\"}");
	return buf;
}

static const char *
entry_last_bad(unsigned i, char *buf)
{
	snprintf(buf, 512, "{\"PartitionKey\":\"%s\",\"Data\":\"\"}", i == 500 ? "" : "k");
	return buf;
}

static void
test_valid_put_records(void **state)
{
	size_t len;

	(void)state;
	assert_int_equal(put_records("{}", strlen("{}")), -EINVAL);
	expect_valid("1 validation error detected: " V_NULL("records"));
	assert_int_equal(put_records("{\"StreamName\":\"\",\"Records\":[]}",
				     strlen("{\"StreamName\":\"\",\"Records\":[]}")), -EINVAL);
	expect_valid("3 validation errors detected: "
		     "Value '[]' at 'records' failed to satisfy constraint: Member must have "
		     "length "
		     "greater than or equal to 1; "
		     "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy "
		     "regular expression pattern: " NAME_RE "; "
		     "Value '' at 'streamName' failed to satisfy constraint: Member must have "
		     "length "
		     "greater than or equal to 1");
	len = (size_t)snprintf(g_body, BIG_BODY,
			       "{\"StreamName\":\"\",\"Records\":[{\"PartitionKey\":"
			       "\"\",\"Data\":\"\",\"ExplicitHashKey\":\"\"},{},null]}");
	assert_int_equal(put_records(g_body, len), -EINVAL);
	expect_valid("8 validation errors detected: "
		     "Value '' at 'records.1.member.partitionKey' failed to satisfy constraint: "
		     "Member must have length greater than or equal to 1; "
		     "Value '' at 'records.1.member.explicitHashKey' failed to satisfy constraint: "
		     "Member must satisfy regular expression pattern: " HASH_RE "; "
		     V_NULL("records.2.member.partitionKey") "; "
		     V_NULL("records.2.member.data") "; "
		     V_NULL("records.3.member.partitionKey") "; "
		     V_NULL("records.3.member.data") "; "
		     "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy "
		     "regular expression pattern: " NAME_RE "; "
		     "Value '' at 'streamName' failed to satisfy constraint: Member must have "
		     "length "
		     "greater than or equal to 1");

}

static void
test_valid_put_records_bounds(void **state)
{
	size_t len;
	char *want = malloc(8192);
	size_t w;

	(void)state;
	/* 500 records: the bound. */
	len = records_body(500, "s", entry_ok);
	assert_int_equal(put_records(g_body, len), 0);
	assert_int_equal(g_prs.n, 500);
	str_eq(&g_prs.rec[499].key, "k499");
	assert_int_equal(g_prs.data_bytes, 1500);

	/* 501 records: the list's length first, then 9 entries (10 items at most). */
	len = records_body(501, "", entry_empty_key);
	assert_int_equal(put_records(g_body, len), -EINVAL);
	assert_int_equal(g_err.kerr, SP_KERR_VALIDATION);
	w = (size_t)snprintf(want, 8192, "10 validation errors detected: Value '[");
	assert_int_equal(memcmp(g_err.msg, want, w), 0);
	assert_non_null(strstr(g_err.msg, "com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@"
					  "c965e310, com.amazonaws.kinesis.v20131202."));
	/* The 501-entry list is cut (AWS's is 33 KB long), the other items still follow. */
	assert_non_null(strstr(g_err.msg, "@c965e310, ...]' at 'records' failed to satisfy "
					  "constraint: Member must have length less than or equal "
					  "to 500; Value '' at 'records.1.member.partitionKey'"));
	assert_non_null(strstr(g_err.msg, "; Value '' at 'records.9.member.partitionKey' failed to "
					  "satisfy constraint: Member must have length greater "
					  "than or equal to 1"));
	assert_null(strstr(g_err.msg, "records.10.member"));
	assert_true(g_err.msg_len <= SP_KVALID_MSG_BYTES + 40);

	/* 501 records, only the 501st failing: it is listed past the kept 500. */
	len = records_body(501, "s", entry_last_bad);
	assert_int_equal(put_records(g_body, len), -EINVAL);
	assert_int_equal(g_err.kerr, SP_KERR_VALIDATION);
	assert_true(strncmp(g_err.msg, "2 validation errors detected: Value '[", 38) == 0);
	assert_non_null(strstr(g_err.msg, "Member must have length less than or equal to 500"));
	w = strlen("; Value '' at 'records.501.member.partitionKey' failed to satisfy constraint: "
		   "Member must have length greater than or equal to 1");
	assert_true(g_err.msg_len > w);
	assert_memory_equal(g_err.msg + g_err.msg_len - w,
			    "; Value '' at 'records.501.member.partitionKey' failed to satisfy "
			    "constraint: Member must have length greater than or equal to 1", w);
	free(want);
}

/* ---- Member order, escapes in keys, duplicates, nulls, unknown members ---- */

static void
test_member_order(void **state)
{
	static const char *const members[] = {
		"\"StreamName\":\"s\"", "\"Data\":\"AQ==\"", "\"PartitionKey\":\"p\"",
		"\"ExplicitHashKey\":\"5\"",
	};
	struct sp_api_req_put_record r;
	char body[256];

	(void)state;
	/* All 24 orders. */
	for (unsigned p = 0; p < 24; p++) {
		unsigned idx[4] = { 0, 1, 2, 3 };
		unsigned k = p;

		for (unsigned i = 0; i < 4; i++) {
			unsigned j = i + k % (4 - i);
			unsigned t = idx[i];

			k /= 4 - i;
			idx[i] = idx[j];
			idx[j] = t;
		}
		snprintf(body, sizeof(body), "{%s,%s,%s,%s}", members[idx[0]], members[idx[1]],
			 members[idx[2]], members[idx[3]]);
		assert_int_equal(put_record(body, &r), 0);
		str_eq(&r.stream_name, "s");
		str_eq(&r.rec.key, "p");
		str_eq(&r.rec.ehk, "5");
		assert_int_equal(r.rec.data_len, 1);
	}
}

static void
test_escaped_keys(void **state)
{
	struct sp_api_req_put_record r;
	const char *body = "{\"\\u0053tream\\u004eame\":\"s\\u002d1\","
			   "\"D\\u0061ta\":\"AQ\\u003d\\u003d\","
			   "\"Partition\\u004bey\":\"\\ud83d\\ude00\\/\\\"\\n\"}";

	(void)state;
	assert_int_equal(put_record(body, &r), 0);
	str_eq(&r.stream_name, "s-1");
	assert_int_equal(r.stream_name.escaped, 1);
	str_eq(&r.rec.data, "AQ==");
	assert_int_equal(r.rec.data_len, 1);
	str_eq(&r.rec.key, "\xf0\x9f\x98\x80/\"\n");
	/* A key that only looks like a member once unescaped wrongly stays unknown. */
	assert_int_equal(put_record("{\"PartitionKey \":\"x\",\"Data\":\"\"}", &r), -EINVAL);
	expect_valid("1 validation error detected: " V_NULL("partitionKey"));
	/* Member names are case-sensitive. */
	assert_int_equal(put_record("{\"partitionKey\":\"x\",\"Data\":\"\"}", &r), -EINVAL);
	expect_valid("1 validation error detected: " V_NULL("partitionKey"));
}

static void
test_duplicates(void **state)
{
	struct sp_api_req_put_record r;
	const char *body;

	(void)state;
	assert_int_equal(put_record("{\"PartitionKey\":\"a\",\"Data\":\"\",\"PartitionKey\":\"b\"}",
				    &r), 0);
	str_eq(&r.rec.key, "b");
	/* The first value's type failure is gone with it. */
	assert_int_equal(put_record("{\"Data\":true,\"PartitionKey\":\"a\",\"Data\":\"AAAA\"}", &r),
			 0);
	assert_int_equal(r.rec.data_len, 3);
	/* And a later bad value replaces a good one. */
	assert_int_equal(put_record("{\"Data\":\"AAAA\",\"PartitionKey\":\"a\",\"Data\":7}", &r),
			 -EINVAL);
	expect_serial(T_NUM_BLOB);
	/* A later null removes the member. */
	assert_int_equal(put_record("{\"StreamName\":\"s\",\"PartitionKey\":\"a\",\"Data\":\"\","
				    "\"StreamName\":null}", &r), 0);
	assert_int_equal(r.has & SP_API_REQ_HAS_STREAM_NAME, 0);
	/* Records twice: the last list is the request. */
	body = "{\"Records\":[{\"Data\":\"!\"},{}],\"Records\":[{\"PartitionKey\":\"z\","
	       "\"Data\":\"\"}]}";
	assert_int_equal(put_records(body, strlen(body)), 0);
	assert_int_equal(g_prs.n, 1);
	str_eq(&g_prs.rec[0].key, "z");
	body = "{\"Records\":[{\"PartitionKey\":\"z\",\"Data\":\"\"}],\"Records\":null}";
	assert_int_equal(put_records(body, strlen(body)), -EINVAL);
	expect_valid("1 validation error detected: " V_NULL("records"));
	/* Inside an entry too. */
	body = "{\"Records\":[{\"PartitionKey\":\"\",\"Data\":\"\",\"PartitionKey\":\"y\"}]}";
	assert_int_equal(put_records(body, strlen(body)), 0);
	str_eq(&g_prs.rec[0].key, "y");
}

static void
test_nulls_and_unknown(void **state)
{
	struct sp_api_req_put_record r;
	struct sp_api_req_get_records gr;
	const char *body;

	(void)state;
	assert_int_equal(put_record("{\"StreamName\":null,\"ExplicitHashKey\":null,"
				    "\"PartitionKey\":"
				    "\"a\",\"Data\":\"\",\"SequenceNumberForOrdering\":null}", &r),
			 0);
	assert_int_equal(r.has, 0);
	assert_int_equal(r.rec.has & SP_API_REQ_HAS_EHK, 0);
	assert_int_equal(put_record("{\"PartitionKey\":null,\"Data\":null}", &r), -EINVAL);
	expect_valid("2 validation errors detected: " V_NULL("partitionKey") "; " V_NULL("data"));
	body = "{\"Unknown\":{\"a\":[1,{\"b\":null,\"Data\":true}],\"c\":\"\\u00e9\"},"
	       "\"ShardIterator\":\"it\",\"Also\":[[[]]],\"More\":-1.5e-7,\"Limit\":null,"
	       "\"Bool\":false}";
	assert_int_equal(get_records(body, &gr), 0);
	str_eq(&gr.shard_iterator, "it");
	assert_int_equal(gr.has, 0);
	/* Unknown members inside an entry, and members of other operations. */
	body = "{\"Records\":[{\"PartitionKey\":\"a\",\"Data\":\"\",\"Extra\":{\"x\":[1,2]},"
	       "\"SequenceNumberForOrdering\":5}],\"Limit\":\"x\"}";
	assert_int_equal(put_records(body, strlen(body)), 0);
	assert_int_equal(g_prs.n, 1);
}

/* The refusal renders as a reply body that jansson reads back. */
static void
test_error_reply(void **state)
{
	struct sp_api_req_put_record r;
	char buf[SP_API_REQ_MSG_MAX + 128];
	json_error_t e;
	json_t *t;
	ssize_t n;

	(void)state;
	assert_int_equal(put_record("{\"PartitionKey\":\"k\",\"Data\":\"\","
				    "\"StreamName\":\"\\t\\\"\\n\\u0001\"}", &r), -EINVAL);
	n = sp_api_json_write_error(buf, sizeof(buf), g_err.kerr, g_err.msg, g_err.msg_len,
				    g_err.capital_m);
	assert_true(n > 0);
	t = json_loadb(buf, (size_t)n, 0, &e);
	assert_non_null(t);
	assert_string_equal(json_string_value(json_object_get(t, "__type")),
			    "ValidationException");
	assert_string_equal(json_string_value(json_object_get(t, "message")),
			    "1 validation error detected: Value '\t\"\n\x01' at 'streamName' "
			    "failed to satisfy constraint: Member must satisfy regular expression "
			    "pattern: " NAME_RE);
	json_decref(t);
	assert_int_equal(put_record("{\"Data\":false}", &r), -EINVAL);
	n = sp_api_json_write_error(buf, sizeof(buf), g_err.kerr, g_err.msg, g_err.msg_len,
				    g_err.capital_m);
	assert_memory_equal(buf, "{\"__type\":\"SerializationException\",\"Message\":\"" T_BOOL_BLOB
			    "\"}", (size_t)n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_record_ok),
		cmocka_unit_test(test_put_records_ok),
		cmocka_unit_test(test_get_shard_iterator_ok),
		cmocka_unit_test(test_get_records_ok),
		cmocka_unit_test(test_not_json),
		cmocka_unit_test(test_types_string),
		cmocka_unit_test(test_types_blob),
		cmocka_unit_test(test_types_number_and_time),
		cmocka_unit_test(test_types_list_and_struct),
		cmocka_unit_test(test_types_order),
		cmocka_unit_test(test_valid_put_record),
		cmocka_unit_test(test_valid_data_limit),
		cmocka_unit_test(test_valid_key_units),
		cmocka_unit_test(test_valid_patterns),
		cmocka_unit_test(test_valid_lengths),
		cmocka_unit_test(test_valid_get_shard_iterator),
		cmocka_unit_test(test_valid_get_records),
		cmocka_unit_test(test_valid_put_records),
		cmocka_unit_test(test_valid_put_records_bounds),
		cmocka_unit_test(test_member_order),
		cmocka_unit_test(test_escaped_keys),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_nulls_and_unknown),
		cmocka_unit_test(test_error_reply),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
