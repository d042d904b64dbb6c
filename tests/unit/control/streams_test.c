/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of control/ctl_streams.c, in process against an in-memory catalog: the nine
 * Kinesis control operations (happy paths, every error and validation text byte for byte),
 * hash-range tiling, the CREATING -> ACTIVE and DELETING -> gone lifecycle driven by
 * sp_ctl_kinesis_applied(), and pagination tokens (paging, expiry, tampering).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "catalog.h"
#include "ctl_log.h"
#include "ctl_streams.h"
#include "kin_fx.h"

#define T_MAX  "340282366920938463463374607431768211455"

static int
setup(void **state)
{
	return fx_setup(state, 3, false);
}

static int
teardown(void **state)
{
	return fx_teardown(state);
}

static void
create(struct fx *f, const char *name, int shards)
{
	char body[256];

	snprintf(body, sizeof(body), "{\"StreamName\":\"%s\",\"ShardCount\":%d}", name, shards);
	assert_null(expect_ok(f, SP_KOP_CREATE_STREAM, body));
	assert_true(f->rep.catalog_changed);
}

static json_t *
describe(struct fx *f, const char *body)
{
	json_t *j = expect_ok(f, SP_KOP_DESCRIBE_STREAM, body);

	assert_non_null(j);
	return j;
}

static const char *
sget(json_t *o, const char *path)
{
	char buf[128];
	char *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k != NULL; k = strtok_r(NULL, ".", &save)) {
		o = json_object_get(o, k);
	}
	assert_true(json_is_string(o));
	return json_string_value(o);
}

/* ---- CreateStream ---- */

static void
test_create_and_describe(void **state)
{
	struct fx *f = *state;
	uint32_t epoch;

	assert_int_equal(sp_cat_epoch_next(f->cat, &epoch), 0);
	assert_int_equal(epoch, 1);
	int64_t v0 = version(f);

	create(f, "s1", 3);
	assert_int_equal(version(f), v0 + 1);

	/* CREATING: no shards shown yet (reference §2.6). */
	json_t *d = describe(f, "{\"StreamName\":\"s1\"}");
	json_t *sd = json_object_get(d, "StreamDescription");

	assert_string_equal(sget(sd, "StreamStatus"), "CREATING");
	assert_string_equal(sget(sd, "StreamARN"),
			    "arn:aws:kinesis:us-east-1:" T_ACCT ":stream/s1");
	assert_int_equal(json_array_size(json_object_get(sd, "Shards")), 0);
	assert_true(json_is_false(json_object_get(sd, "HasMoreShards")));
	assert_non_null(strstr(f->rep.body, "\"StreamCreationTimestamp\":1700000000.123,"));
	json_decref(d);
	json_decref(expect_ok(f, SP_KOP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"s1\"}"));
	assert_non_null(strstr(f->rep.body, "\"OpenShardCount\":0,"));

	/* The dataplane applies the snapshot: ACTIVE, one more version. */
	assert_int_equal(ack(f), 1);
	assert_int_equal(version(f), v0 + 2);
	assert_int_equal(ack(f), 0); /* nothing left to move: the exchange ends */
	assert_int_equal(version(f), v0 + 2);

	d = describe(f, "{\"StreamName\":\"s1\"}");
	sd = json_object_get(d, "StreamDescription");
	assert_string_equal(sget(sd, "StreamStatus"), "ACTIVE");
	json_t *shards = json_object_get(sd, "Shards");
	static const char *const ranges[3][2] = {
	    {"0", "113427455640312821154458202477256070484"},
	    {"113427455640312821154458202477256070485", "226854911280625642308916404954512140969"},
	    {"226854911280625642308916404954512140970", T_MAX},
	};

	assert_int_equal(json_array_size(shards), 3);
	for (uint32_t i = 0; i < 3; i++) {
		json_t *s = json_array_get(shards, i);
		char id[32];
		char seq[SP_U128_DEC_MAX + 1];
		struct sp_seqno_fields fl = {.epoch = 1,
					     .stream_tag = sp_seqno_stream_tag("s1", 2, T_NOW),
					     .shard_index = i};

		snprintf(id, sizeof(id), "shardId-%012u", i);
		sp_u128_format(sp_seqno_pack(&fl), seq);
		assert_string_equal(sget(s, "ShardId"), id);
		assert_string_equal(sget(s, "HashKeyRange.StartingHashKey"), ranges[i][0]);
		assert_string_equal(sget(s, "HashKeyRange.EndingHashKey"), ranges[i][1]);
		assert_string_equal(sget(s, "SequenceNumberRange.StartingSequenceNumber"), seq);
		assert_null(json_object_get(json_object_get(s, "SequenceNumberRange"),
					    "EndingSequenceNumber"));
		assert_null(json_object_get(s, "ParentShardId"));
	}
	assert_int_equal(json_integer_value(json_object_get(sd, "RetentionPeriodHours")), 24);
	assert_string_equal(sget(sd, "EncryptionType"), "NONE");
	assert_string_equal(sget(sd, "StreamModeDetails.StreamMode"), "PROVISIONED");
	assert_null(json_object_get(sd, "KeyId"));
	json_decref(d);
}

static void
test_create_snapshot(void **state)
{
	struct fx *f = *state;
	json_t *snap;

	assert_null(
	    expect_ok(f, SP_KOP_CREATE_STREAM,
		      "{\"StreamName\":\"big\",\"ShardCount\":4,\"MaxRecordSizeInKiB\":2048}"));
	assert_int_equal(sp_cat_snapshot_json(f->cat, &snap), 0);
	json_t *st = json_array_get(json_object_get(snap, "streams"), 0);

	assert_string_equal(sget(st, "name"), "big");
	assert_string_equal(sget(st, "status"), "CREATING");
	assert_int_equal(json_integer_value(json_object_get(st, "max_record_bytes")), 2097152);
	/* Per-shard write quotas are off unless an operator sets them (stream_quota_set). */
	assert_int_equal(json_integer_value(json_object_get(st, "quota_records_per_s")), 0);
	assert_int_equal(json_integer_value(json_object_get(st, "quota_bytes_per_s")), 0);
	assert_int_equal(json_integer_value(json_object_get(st, "created_ms")), T_NOW);
	assert_int_equal(json_integer_value(json_object_get(st, "stream_tag")),
			 sp_seqno_stream_tag("big", 3, T_NOW));
	json_t *shards = json_object_get(st, "shards");

	assert_int_equal(json_array_size(shards), 4);
	for (int i = 0; i < 4; i++) {
		json_t *s = json_array_get(shards, (size_t)i);

		assert_int_equal(json_integer_value(json_object_get(s, "index")), i);
		assert_int_equal(json_integer_value(json_object_get(s, "owner_lcore")), i % 3);
		assert_true(json_is_null(json_object_get(s, "ending_seq")));
		assert_true(json_is_null(json_object_get(s, "parent_shard_id")));
	}
	assert_string_equal(sget(json_array_get(shards, 1), "starting_hash_key"),
			    "85070591730234615865843651857942052864");
	json_decref(snap);

	/* The summary shows the setting in KiB. */
	json_t *s = expect_ok(f, SP_KOP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"big\"}");

	assert_int_equal(json_integer_value(json_object_get(
			     json_object_get(s, "StreamDescriptionSummary"), "MaxRecordSizeInKiB")),
			 2048);
	json_decref(s);
}

static void
test_create_on_demand(void **state)
{
	struct fx *f = *state;

	assert_null(expect_ok(f, SP_KOP_CREATE_STREAM,
			      "{\"StreamName\":\"od\",\"StreamModeDetails\":"
			      "{\"StreamMode\":\"ON_DEMAND\"}}"));
	ack(f);
	json_t *d = describe(f, "{\"StreamName\":\"od\"}");
	json_t *sd = json_object_get(d, "StreamDescription");

	assert_int_equal(json_array_size(json_object_get(sd, "Shards")), 4);
	assert_string_equal(sget(sd, "StreamModeDetails.StreamMode"), "ON_DEMAND");
	json_decref(d);
	/* ShardCount is ignored for ON_DEMAND. */
	assert_null(expect_ok(f, SP_KOP_CREATE_STREAM,
			      "{\"StreamName\":\"od2\",\"ShardCount\":9,\"StreamModeDetails\":"
			      "{\"StreamMode\":\"ON_DEMAND\"}}"));
	ack(f);
	d = describe(f, "{\"StreamName\":\"od2\"}");
	assert_int_equal(
	    json_array_size(json_object_get(json_object_get(d, "StreamDescription"), "Shards")), 4);
	json_decref(d);
	/* Explicit PROVISIONED; floored numbers; null members ignored. */
	assert_null(expect_ok(f, SP_KOP_CREATE_STREAM,
			      "{\"StreamName\":\"pv\",\"ShardCount\":2.9,\"Tags\":null,"
			      "\"StreamModeDetails\":{\"StreamMode\":\"PROVISIONED\"},"
			      "\"Tags\":{\"k\":\"v\"},\"WarmThroughputMiBps\":0,\"Unknown\":[1]}"));
	ack(f);
	d = describe(f, "{\"StreamName\":\"pv\"}");
	assert_int_equal(
	    json_array_size(json_object_get(json_object_get(d, "StreamDescription"), "Shards")), 2);
	json_decref(d);
}

static void
test_create_errors(void **state)
{
	struct fx *f = *state;

	create(f, "dup", 1);
	expect_err(f, SP_KOP_CREATE_STREAM, "{\"StreamName\":\"dup\",\"ShardCount\":1}",
		   "ResourceInUseException", "Stream dup under account " T_ACCT " already exists.");
	expect_err(f, SP_KOP_CREATE_STREAM, "{\"StreamName\":\"many\",\"ShardCount\":500}",
		   "LimitExceededException",
		   "This request would exceed the shard limit for the account " T_ACCT
		   " in us-east-1. Current shard count for the account: 1. Limit: 500. Number of "
		   "additional shards that would have resulted from this request: 500. Refer to "
		   "the AWS Service Limits page (http://docs.aws.amazon.com/general/latest/gr/"
		   "aws_service_limits.html) for current limits and how to request higher limits.");
	/* Integers clamp at 2^31 - 1; kinesalite 3.3.3 caps ShardCount at 100000. */
	expect_valid(f, SP_KOP_CREATE_STREAM,
		     "{\"StreamName\":\"huge\",\"ShardCount\":100000000000}",
		     "1 validation error detected: Value '2147483647' at 'shardCount' failed to "
		     "satisfy constraint: Member must have value less than or equal to 100000");
	f->ctx.shard_limit = 20000;
	expect_err(f, SP_KOP_CREATE_STREAM, "{\"StreamName\":\"wide\",\"ShardCount\":10001}",
		   "LimitExceededException",
		   "ShardCount 10001 is above the limit of 10000 shards per stream.");
	/* Five streams CREATING (dup is one): the sixth is refused. */
	create(f, "c2", 1);
	create(f, "c3", 1);
	create(f, "c4", 1);
	create(f, "c5", 1);
	expect_err(f, SP_KOP_CREATE_STREAM, "{\"StreamName\":\"c6\",\"ShardCount\":1}",
		   "LimitExceededException",
		   "The account " T_ACCT " in us-east-1 already has 5 streams in CREATING state; "
		   "wait for one to become ACTIVE.");
	ack(f);
	create(f, "c6", 1);
}

static void
test_create_validation(void **state)
{
	struct fx *f = *state;
	char body[512];
	char msg[1024];
	char name[130];

	expect_valid(f, SP_KOP_CREATE_STREAM, "{}",
		     "2 validation errors detected: Value null at 'shardCount' failed to satisfy "
		     "constraint: Member must not be null; Value null at 'streamName' failed to "
		     "satisfy constraint: Member must not be null");
	expect_valid(f, SP_KOP_CREATE_STREAM, "{\"StreamName\":\"\",\"ShardCount\":0}",
		     "3 validation errors detected: Value '0' at 'shardCount' failed to satisfy "
		     "constraint: Member must have value greater than or equal to 1; Value '' at "
		     "'streamName' failed to satisfy constraint: Member must satisfy regular "
		     "expression pattern: [a-zA-Z0-9_.-]+; Value '' at 'streamName' failed to "
		     "satisfy constraint: Member must have length greater than or equal to 1");
	memset(name, 'a', 129);
	name[129] = '\0';
	snprintf(body, sizeof(body), "{\"StreamName\":\"%s\",\"ShardCount\":100000}", name);
	snprintf(msg, sizeof(msg),
		 "1 validation error detected: Value '%s' at 'streamName' failed to satisfy "
		 "constraint: Member must have length less than or equal to 128",
		 name);
	expect_valid(f, SP_KOP_CREATE_STREAM, body, msg);
	expect_valid(f, SP_KOP_CREATE_STREAM,
		     "{\"StreamName\":\"a\",\"ShardCount\":-3.5,\"MaxRecordSizeInKiB\":1023,"
		     "\"WarmThroughputMiBps\":-1}",
		     "3 validation errors detected: Value '-4' at 'shardCount' failed to satisfy "
		     "constraint: Member must have value greater than or equal to 1; Value '-1' at "
		     "'warmThroughputMiBps' failed to satisfy constraint: Member must have value "
		     "greater than or equal to 0; Value '1023' at 'maxRecordSizeInKiB' failed to "
		     "satisfy constraint: Member must have value greater than or equal to 1024");
	expect_valid(f, SP_KOP_CREATE_STREAM,
		     "{\"StreamName\":\"a\",\"ShardCount\":1,\"MaxRecordSizeInKiB\":10241}",
		     "1 validation error detected: Value '10241' at 'maxRecordSizeInKiB' failed to "
		     "satisfy constraint: Member must have value less than or equal to 10240");
	expect_valid(f, SP_KOP_CREATE_STREAM,
		     "{\"StreamName\":\"a\",\"ShardCount\":1,\"StreamModeDetails\":{}}",
		     "1 validation error detected: Value null at 'streamModeDetails.streamMode' "
		     "failed to satisfy constraint: Member must not be null");
	expect_valid(f, SP_KOP_CREATE_STREAM,
		     "{\"StreamName\":\"a b\",\"StreamModeDetails\":{\"StreamMode\":\"FAST\"}}",
		     "3 validation errors detected: Value null at 'shardCount' failed to satisfy "
		     "constraint: Member must not be null; Value 'a b' at 'streamName' failed to "
		     "satisfy constraint: Member must satisfy regular expression pattern: "
		     "[a-zA-Z0-9_.-]+; Value 'FAST' at 'streamModeDetails.streamMode' failed to "
		     "satisfy constraint: Member must satisfy enum value set: [PROVISIONED, "
		     "ON_DEMAND]");
	expect_valid(f, SP_KOP_CREATE_STREAM, "{\"StreamName\":\"a\",\"ShardCount\":1,\"Tags\":{}}",
		     "1 validation error detected: Value '{}' at 'tags' failed to satisfy "
		     "constraint: Member must have length greater than or equal to 1");
	expect_valid(
	    f, SP_KOP_CREATE_STREAM,
	    "{\"StreamName\":\"a\",\"ShardCount\":1,\"Tags\":{\"\":\"v\",\"k\":null}}",
	    "1 validation error detected: Value '{=v, k=null}' at 'tags' failed to satisfy "
	    "constraint: Map keys must satisfy constraint: [Member must have length less "
	    "than or equal to 128, Member must have length greater than or equal to 1]");
}

/* Lengths count UTF-16 units: 128 astral characters are 256 units. */
static void
test_create_utf16_length(void **state)
{
	struct fx *f = *state;
	struct {
		char s[128 * 4 + 64];
	} big;
	size_t n = (size_t)snprintf(big.s, sizeof(big.s), "{\"StreamName\":\"");

	for (int i = 0; i < 128; i++) {
		memcpy(big.s + n, "\xf0\x9f\x98\x80", 4);
		n += 4;
	}
	snprintf(big.s + n, sizeof(big.s) - n, "\",\"ShardCount\":1}");
	call(f, SP_KOP_CREATE_STREAM, big.s);
	assert_string_equal(sp_kerr_table[f->rep.err].type, "ValidationException");
	assert_non_null(
	    strstr(f->rep.message, "2 validation errors detected: Value '\xf0\x9f\x98\x80"));
	assert_non_null(
	    strstr(f->rep.message, "Member must have length less than or equal to 128"));
}

static void
test_serialization(void **state)
{
	struct fx *f = *state;

	expect_ser(f, SP_KOP_CREATE_STREAM, "{\"StreamName\":true}",
		   "class java.lang.Boolean can not be converted to an String");
	expect_ser(f, SP_KOP_CREATE_STREAM, "{\"StreamName\":5}",
		   "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be "
		   "converted to an String");
	expect_ser(f, SP_KOP_CREATE_STREAM, "{\"StreamName\":[]}",
		   "Start of list found where not expected");
	expect_ser(f, SP_KOP_CREATE_STREAM, "{\"StreamName\":{}}",
		   "Start of structure or map found where not expected.");
	/* Member order, not body order: ShardCount is checked first. */
	expect_ser(f, SP_KOP_CREATE_STREAM, "{\"StreamName\":5,\"ShardCount\":\"3\"}",
		   "class java.lang.String can not be converted to an Integer");
	expect_ser(f, SP_KOP_CREATE_STREAM, "{\"ShardCount\":false}",
		   "class java.lang.Boolean can not be converted to an Integer");
	expect_ser(f, SP_KOP_CREATE_STREAM, "{\"StreamModeDetails\":\"x\"}", "Expected null");
	expect_ser(f, SP_KOP_CREATE_STREAM, "{\"StreamModeDetails\":[1]}",
		   "Start of list found where not expected");
	expect_ser(f, SP_KOP_CREATE_STREAM, "{\"StreamModeDetails\":{\"StreamMode\":1}}",
		   "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be "
		   "converted to an String");
	expect_ser(f, SP_KOP_CREATE_STREAM, "{\"Tags\":\"x\"}", "Expected map or null");
	expect_ser(f, SP_KOP_CREATE_STREAM, "{\"Tags\":[]}",
		   "Start of list found where not expected");
	expect_ser(f, SP_KOP_CREATE_STREAM, "{\"Tags\":{\"a\":1}}",
		   "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be "
		   "converted to an String");
	expect_ser(f, SP_KOP_DELETE_STREAM, "{\"EnforceConsumerDeletion\":\"yes\"}",
		   "'YES' can not be converted to an Boolean");
	expect_ser(f, SP_KOP_DELETE_STREAM, "{\"EnforceConsumerDeletion\":1}",
		   "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be "
		   "converted to an Boolean");
	expect_ser(f, SP_KOP_LIST_SHARDS, "{\"StreamCreationTimestamp\":\"x\"}",
		   "class java.lang.String can not be converted to milliseconds since epoch");
	expect_ser(f, SP_KOP_LIST_SHARDS, "{\"StreamCreationTimestamp\":true}",
		   "class java.lang.Boolean can not be converted to milliseconds since epoch");
	expect_ser(f, SP_KOP_LIST_SHARDS, "{\"ShardFilter\":{\"Timestamp\":{}}}",
		   "Start of structure or map found where not expected.");
	expect_ser(f, SP_KOP_LIST_STREAMS, "{\"Limit\":\"1\"}",
		   "class java.lang.String can not be converted to an Integer");
	/* Step 6: not an object, no message. */
	expect_ser(f, SP_KOP_LIST_STREAMS, "[]", "");
	expect_ser(f, SP_KOP_LIST_STREAMS, "not json", "");
	expect_ser(f, SP_KOP_LIST_STREAMS, "", "");
	expect_err(f, SP_KOP_PUT_RECORD, "{}", "UnknownOperationException", "");
	expect_err(f, SP_KOP_UNKNOWN, "{}", "UnknownOperationException", "");
	expect_err(f, SP_KOP_UPDATE_STREAM_WARM_THROUGHPUT, "{}", "UnknownOperationException", "");
}

/* ---- Hash ranges ---- */

static void
check_tiling(uint32_t n)
{
	sp_u128 prev_end = 0;

	for (uint32_t i = 0; i < n; i++) {
		sp_u128 s, e;

		sp_ctl_kinesis_hash_range(n, i, &s, &e);
		assert_true(s <= e);
		if (i == 0) {
			assert_true(s == 0);
		} else {
			assert_true(s == prev_end + 1);
		}
		prev_end = e;
	}
	assert_true(prev_end == ~(sp_u128)0);
}

static void
test_hash_ranges(void **state)
{
	static const char *const want[][3] = {
	    {"0", "170141183460469231731687303715884105727", NULL},
	    {"170141183460469231731687303715884105728", T_MAX, NULL},
	    {"0", "113427455640312821154458202477256070484", NULL},
	    {"113427455640312821154458202477256070485", "226854911280625642308916404954512140969",
	     NULL},
	    {"226854911280625642308916404954512140970", T_MAX, NULL},
	};
	char s[SP_U128_DEC_MAX + 1], e[SP_U128_DEC_MAX + 1];
	sp_u128 a, b;

	(void)state;
	for (uint32_t n = 1; n <= 10; n++) {
		check_tiling(n);
	}
	check_tiling(4096);
	check_tiling(10000);
	sp_ctl_kinesis_hash_range(1, 0, &a, &b);
	assert_true(a == 0 && b == ~(sp_u128)0);
	for (uint32_t i = 0; i < 5; i++) {
		uint32_t n = i < 2 ? 2 : 3;

		sp_ctl_kinesis_hash_range(n, i < 2 ? i : i - 2, &a, &b);
		sp_u128_format(a, s);
		sp_u128_format(b, e);
		assert_string_equal(s, want[i][0]);
		assert_string_equal(e, want[i][1]);
	}
	/* N = 4: step 2^126 exactly. */
	sp_ctl_kinesis_hash_range(4, 1, &a, &b);
	sp_u128_format(a, s);
	assert_string_equal(s, "85070591730234615865843651857942052864");
	sp_ctl_kinesis_hash_range(4096, 1, &a, &b);
	assert_true(a == (sp_u128)1 << 116);
}

/* ---- DeleteStream and the lifecycle ---- */

static void
test_delete_lifecycle(void **state)
{
	struct fx *f = *state;
	json_t *d;

	expect_err(f, SP_KOP_DELETE_STREAM, "{\"StreamName\":\"nope\"}",
		   "ResourceNotFoundException", "Stream nope under account " T_ACCT " not found.");
	create(f, "gone", 2);
	int64_t v = version(f);

	/* Deleting while CREATING is allowed (kinesalite). */
	assert_null(expect_ok(f, SP_KOP_DELETE_STREAM,
			      "{\"StreamName\":\"gone\",\"EnforceConsumerDeletion\":true}"));
	assert_true(f->rep.catalog_changed);
	assert_int_equal(version(f), v + 1);
	d = describe(f, "{\"StreamName\":\"gone\"}");
	assert_string_equal(sget(json_object_get(d, "StreamDescription"), "StreamStatus"),
			    "DELETING");
	json_decref(d);
	/* Again: still DELETING, nothing changes. */
	assert_null(expect_ok(f, SP_KOP_DELETE_STREAM, "{\"StreamName\":\"gone\"}"));
	assert_false(f->rep.catalog_changed);
	assert_int_equal(version(f), v + 1);
	/* An old acknowledgement removes nothing; the current one removes it. */
	assert_int_equal(sp_ctl_kinesis_applied(f->cat, &f->ctx, v), 0);
	assert_int_equal(sp_ctl_kinesis_applied(f->cat, &f->ctx, -1), 0);
	assert_int_equal(ack(f), 1);
	assert_int_equal(version(f), v + 2);
	expect_err(f, SP_KOP_DESCRIBE_STREAM, "{\"StreamName\":\"gone\"}",
		   "ResourceNotFoundException", "Stream gone under account " T_ACCT " not found.");

	/* A new incarnation starts over at shardId-000000000000 with a new tag. */
	f->ctx.now_ms += 5000;
	create(f, "gone", 1);
	ack(f);
	d = describe(f, "{\"StreamName\":\"gone\"}");
	json_t *sh =
	    json_array_get(json_object_get(json_object_get(d, "StreamDescription"), "Shards"), 0);

	assert_string_equal(sget(sh, "ShardId"), "shardId-000000000000");
	json_decref(d);
	struct sp_cat_stream_row row;

	assert_int_equal(sp_cat_stream_get(f->cat, "gone", &row), 0);
	assert_int_equal(row.stream_tag, sp_seqno_stream_tag("gone", 4, T_NOW + 5000));
	assert_int_equal(row.next_shard_index, 1);

	/* Delete an ACTIVE stream: DELETING still lists its shards, then it goes. */
	assert_null(expect_ok(f, SP_KOP_DELETE_STREAM, "{\"StreamName\":\"gone\"}"));
	d = expect_ok(f, SP_KOP_LIST_STREAMS, "{}");
	assert_int_equal(json_array_size(json_object_get(d, "StreamNames")), 1);
	json_decref(d);
	assert_int_equal(ack(f), 1);
	d = expect_ok(f, SP_KOP_LIST_STREAMS, "{}");
	assert_int_equal(json_array_size(json_object_get(d, "StreamNames")), 0);
	json_decref(d);
}

static void
test_delete_validation(void **state)
{
	struct fx *f = *state;

	expect_err(f, SP_KOP_DELETE_STREAM, "{}", "InvalidArgumentException",
		   "Neither StreamName nor StreamARN was provided.");
	expect_valid(f, SP_KOP_DELETE_STREAM, "{\"StreamName\":\"\"}",
		     "2 validation errors detected: Value '' at 'streamName' failed to satisfy "
		     "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; "
		     "Value '' at 'streamName' failed to satisfy constraint: Member must have "
		     "length greater than or equal to 1");
	expect_valid(f, SP_KOP_DELETE_STREAM, "{\"StreamARN\":\"arn:x\"}",
		     "1 validation error detected: Value 'arn:x' at 'streamARN' failed to satisfy "
		     "constraint: Member must satisfy regular expression pattern: "
		     "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+");
	expect_valid(f, SP_KOP_DELETE_STREAM,
		     "{\"StreamARN\":\"arn:aws:kinesis:us-east-1:123456789012:stream/a b\"}",
		     "1 validation error detected: Value 'arn:aws:kinesis:us-east-1:123456789012:"
		     "stream/a b' at 'streamARN' failed to satisfy constraint: Member must satisfy "
		     "regular expression pattern: arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+");
	expect_valid(f, SP_KOP_DELETE_STREAM,
		     "{\"StreamARN\":\"arn:aws:kinesis:us-east-1:12345678901:stream/a\"}",
		     "1 validation error detected: Value 'arn:aws:kinesis:us-east-1:12345678901:"
		     "stream/a' at 'streamARN' failed to satisfy constraint: Member must satisfy "
		     "regular expression pattern: arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+");
	/* Line terminators are not "." in the ARN pattern. */
	call(f, SP_KOP_DELETE_STREAM,
	     "{\"StreamARN\":\"arn:aws\\n:kinesis:us-east-1:123456789012:stream/a\"}");
	assert_int_equal(f->rep.err, SP_KERR_VALIDATION);
	/* A well-formed ARN from another partition parses; the stream is simply not there. */
	expect_err(f, SP_KOP_DELETE_STREAM,
		   "{\"StreamARN\":\"arn:aws-cn:kinesis:cn-north-1:123456789012:stream/x.y\"}",
		   "ResourceNotFoundException", "Stream x.y under account " T_ACCT " not found.");
}

/* ---- Selector ---- */

static void
test_selector(void **state)
{
	struct fx *f = *state;
	json_t *d;

	create(f, "sel", 1);
	d = describe(f, "{\"StreamARN\":\"arn:aws:kinesis:us-east-1:" T_ACCT ":stream/sel\"}");
	assert_string_equal(sget(json_object_get(d, "StreamDescription"), "StreamName"), "sel");
	json_decref(d);
	d = describe(f, "{\"StreamName\":\"sel\",\"StreamId\":\"ignored\",\"StreamARN\":"
			"\"arn:aws:kinesis:us-east-1:" T_ACCT ":stream/sel\"}");
	json_decref(d);
	expect_err(f, SP_KOP_DESCRIBE_STREAM,
		   "{\"StreamName\":\"other\",\"StreamARN\":\"arn:aws:kinesis:us-east-1:" T_ACCT
		   ":stream/sel\"}",
		   "InvalidArgumentException",
		   "StreamName other does not match the stream of StreamARN "
		   "arn:aws:kinesis:us-east-1:" T_ACCT ":stream/sel.");
	expect_err(f, SP_KOP_DESCRIBE_STREAM,
		   "{\"StreamARN\":\"arn:aws:kinesis:eu-west-1:" T_ACCT ":stream/sel\"}",
		   "ResourceNotFoundException", "Stream sel under account " T_ACCT " not found.");
	expect_err(f, SP_KOP_DESCRIBE_STREAM_SUMMARY, "{}", "InvalidArgumentException",
		   "Neither StreamName nor StreamARN was provided.");
	expect_err(f, SP_KOP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"zz\"}",
		   "ResourceNotFoundException", "Stream zz under account " T_ACCT " not found.");
	/* The account of messages is the caller's. */
	f->ctx.account = "000000000001";
	expect_err(f, SP_KOP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"zz\"}",
		   "ResourceNotFoundException", "Stream zz under account 000000000001 not found.");
}

/* ---- DescribeStream and DescribeStreamSummary ---- */

static void
test_describe_paging(void **state)
{
	struct fx *f = *state;
	json_t *d, *sd;
	char name[130];
	char body[600];
	char msg[1200];

	create(f, "p", 7);
	ack(f);
	d = describe(f, "{\"StreamName\":\"p\",\"Limit\":3}");
	sd = json_object_get(d, "StreamDescription");
	assert_int_equal(json_array_size(json_object_get(sd, "Shards")), 3);
	assert_true(json_is_true(json_object_get(sd, "HasMoreShards")));
	json_decref(d);
	d = describe(f, "{\"StreamName\":\"p\",\"Limit\":3,"
			"\"ExclusiveStartShardId\":\"shardId-000000000005\"}");
	sd = json_object_get(d, "StreamDescription");
	assert_int_equal(json_array_size(json_object_get(sd, "Shards")), 1);
	assert_string_equal(sget(json_array_get(json_object_get(sd, "Shards"), 0), "ShardId"),
			    "shardId-000000000006");
	assert_true(json_is_false(json_object_get(sd, "HasMoreShards")));
	json_decref(d);

	/* Limit above 100 yields at most 100. */
	create(f, "wide", 120);
	ack(f);
	d = describe(f, "{\"StreamName\":\"wide\",\"Limit\":10000}");
	sd = json_object_get(d, "StreamDescription");
	assert_int_equal(json_array_size(json_object_get(sd, "Shards")), 100);
	assert_true(json_is_true(json_object_get(sd, "HasMoreShards")));
	json_decref(d);

	expect_valid(
	    f, SP_KOP_DESCRIBE_STREAM,
	    "{\"StreamName\":\"\",\"Limit\":0,\"ExclusiveStartShardId\":\"\"}",
	    "5 validation errors detected: Value '0' at 'limit' failed to satisfy "
	    "constraint: Member must have value greater than or equal to 1; Value '' at "
	    "'exclusiveStartShardId' failed to satisfy constraint: Member must satisfy "
	    "regular expression pattern: [a-zA-Z0-9_.-]+; Value '' at "
	    "'exclusiveStartShardId' failed to satisfy constraint: Member must have length "
	    "greater than or equal to 1; Value '' at 'streamName' failed to satisfy "
	    "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; "
	    "Value '' at 'streamName' failed to satisfy constraint: Member must have "
	    "length greater than or equal to 1");
	memset(name, 'a', 129);
	name[129] = '\0';
	snprintf(body, sizeof(body),
		 "{\"StreamName\":\"%s\",\"Limit\":100000,\"ExclusiveStartShardId\":\"%s\"}", name,
		 name);
	snprintf(msg, sizeof(msg),
		 "3 validation errors detected: Value '100000' at 'limit' failed to satisfy "
		 "constraint: Member must have value less than or equal to 10000; Value '%s' at "
		 "'exclusiveStartShardId' failed to satisfy constraint: Member must have length "
		 "less than or equal to 128; Value '%s' at 'streamName' failed to satisfy "
		 "constraint: Member must have length less than or equal to 128",
		 name, name);
	expect_valid(f, SP_KOP_DESCRIBE_STREAM, body, msg);
}

static void
test_summary_exact(void **state)
{
	struct fx *f = *state;

	create(f, "s1", 2);
	ack(f);
	json_decref(expect_ok(f, SP_KOP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"s1\"}"));
	assert_string_equal(
	    f->rep.body,
	    "{\"StreamDescriptionSummary\":{\"StreamName\":\"s1\",\"StreamARN\":"
	    "\"arn:aws:kinesis:us-east-1:123456789012:stream/s1\",\"StreamStatus\":\"ACTIVE\","
	    "\"StreamModeDetails\":{\"StreamMode\":\"PROVISIONED\"},\"RetentionPeriodHours\":24,"
	    "\"StreamCreationTimestamp\":1700000000.123,\"EnhancedMonitoring\":"
	    "[{\"ShardLevelMetrics\":[]}],\"EncryptionType\":\"NONE\",\"OpenShardCount\":2,"
	    "\"ConsumerCount\":0,\"MaxRecordSizeInKiB\":1024}}");
	/* Whole seconds print with one fractional digit, as AWS shows them. */
	f->ctx.now_ms = 1572297168000LL;
	create(f, "s2", 1);
	json_decref(expect_ok(f, SP_KOP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"s2\"}"));
	assert_non_null(strstr(f->rep.body, "\"StreamCreationTimestamp\":1572297168.0,"));
	f->ctx.now_ms = 1572297168120LL;
	create(f, "s3", 1);
	json_decref(expect_ok(f, SP_KOP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"s3\"}"));
	assert_non_null(strstr(f->rep.body, "\"StreamCreationTimestamp\":1572297168.12,"));
	expect_valid(f, SP_KOP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"a/b\"}",
		     "1 validation error detected: Value 'a/b' at 'streamName' failed to satisfy "
		     "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
}

/* ---- ListStreams ---- */

static void
test_list_streams(void **state)
{
	struct fx *f = *state;
	json_t *l;
	char body[800];

	create(f, "b", 1);
	create(f, "a", 1);
	create(f, "c", 1);
	l = expect_ok(f, SP_KOP_LIST_STREAMS, "{}");
	assert_int_equal(json_array_size(json_object_get(l, "StreamNames")), 3);
	assert_string_equal(json_string_value(json_array_get(json_object_get(l, "StreamNames"), 0)),
			    "a");
	assert_true(json_is_false(json_object_get(l, "HasMoreStreams")));
	assert_null(json_object_get(l, "NextToken"));
	json_t *sum = json_array_get(json_object_get(l, "StreamSummaries"), 2);

	assert_string_equal(sget(sum, "StreamName"), "c");
	assert_string_equal(sget(sum, "StreamStatus"), "CREATING");
	assert_string_equal(sget(sum, "StreamModeDetails.StreamMode"), "PROVISIONED");
	assert_string_equal(sget(sum, "StreamARN"),
			    "arn:aws:kinesis:us-east-1:" T_ACCT ":stream/c");
	json_decref(l);
	assert_non_null(strstr(f->rep.body, "\"StreamCreationTimestamp\":1700000000.123}"));

	l = expect_ok(f, SP_KOP_LIST_STREAMS, "{\"Limit\":2}");
	assert_int_equal(json_array_size(json_object_get(l, "StreamNames")), 2);
	assert_true(json_is_true(json_object_get(l, "HasMoreStreams")));
	snprintf(body, sizeof(body), "{\"NextToken\":\"%s\",\"Limit\":2}", sget(l, "NextToken"));
	json_decref(l);
	l = expect_ok(f, SP_KOP_LIST_STREAMS, body);
	assert_int_equal(json_array_size(json_object_get(l, "StreamNames")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(l, "StreamNames"), 0)),
			    "c");
	assert_true(json_is_false(json_object_get(l, "HasMoreStreams")));
	json_decref(l);
	l = expect_ok(f, SP_KOP_LIST_STREAMS, "{\"ExclusiveStartStreamName\":\"a\",\"Limit\":1}");
	assert_string_equal(json_string_value(json_array_get(json_object_get(l, "StreamNames"), 0)),
			    "b");
	json_decref(l);

	expect_valid(f, SP_KOP_LIST_STREAMS, "{\"ExclusiveStartStreamName\":\"\",\"Limit\":0}",
		     "3 validation errors detected: Value '0' at 'limit' failed to satisfy "
		     "constraint: Member must have value greater than or equal to 1; Value '' at "
		     "'exclusiveStartStreamName' failed to satisfy constraint: Member must satisfy "
		     "regular expression pattern: [a-zA-Z0-9_.-]+; Value '' at "
		     "'exclusiveStartStreamName' failed to satisfy constraint: Member must have "
		     "length greater than or equal to 1");
	expect_valid(f, SP_KOP_LIST_STREAMS, "{\"Limit\":1000000,\"NextToken\":\"\"}",
		     "2 validation errors detected: Value '1000000' at 'limit' failed to satisfy "
		     "constraint: Member must have value less than or equal to 10000; Value '' at "
		     "'nextToken' failed to satisfy constraint: Member must have length greater "
		     "than or equal to 1");
	expect_err(f, SP_KOP_LIST_STREAMS, "{\"NextToken\":\"garbage\"}",
		   "InvalidArgumentException", "Invalid NextToken.");
}

static void
test_list_streams_cap(void **state)
{
	struct fx *f = *state;
	char name[16];

	f->ctx.shard_limit = 1000;
	for (int i = 0; i < 102; i++) {
		snprintf(name, sizeof(name), "s%03d", i);
		create(f, name, 1);
		ack(f); /* keep fewer than five CREATING */
	}
	json_t *l = expect_ok(f, SP_KOP_LIST_STREAMS, "{\"Limit\":10000}");

	assert_int_equal(json_array_size(json_object_get(l, "StreamNames")), 100);
	assert_int_equal(json_array_size(json_object_get(l, "StreamSummaries")), 100);
	assert_true(json_is_true(json_object_get(l, "HasMoreStreams")));
	json_decref(l);
}

/* ---- ListShards ---- */

static json_t *
list_shards(struct fx *f, const char *body, size_t want, bool more)
{
	json_t *l = expect_ok(f, SP_KOP_LIST_SHARDS, body);

	assert_int_equal(json_array_size(json_object_get(l, "Shards")), want);
	assert_int_equal(json_object_get(l, "NextToken") != NULL, more);
	return l;
}

static void
test_list_shards_paging(void **state)
{
	struct fx *f = *state;
	char body[1024];
	json_t *l;

	create(f, "ls", 5);
	ack(f);
	l = list_shards(f, "{\"StreamName\":\"ls\"}", 5, false);
	assert_string_equal(sget(json_array_get(json_object_get(l, "Shards"), 4), "ShardId"),
			    "shardId-000000000004");
	json_decref(l);
	l = list_shards(f, "{\"StreamName\":\"ls\",\"MaxResults\":2}", 2, true);
	snprintf(body, sizeof(body), "{\"NextToken\":\"%s\",\"MaxResults\":2}",
		 sget(l, "NextToken"));
	json_decref(l);
	l = list_shards(f, body, 2, true);
	assert_string_equal(sget(json_array_get(json_object_get(l, "Shards"), 0), "ShardId"),
			    "shardId-000000000002");
	char tok[700];

	snprintf(tok, sizeof(tok), "%s", sget(l, "NextToken"));
	json_decref(l);
	snprintf(body, sizeof(body), "{\"NextToken\":\"%s\"}", tok);
	l = list_shards(f, body, 1, false);
	assert_string_equal(sget(json_array_get(json_object_get(l, "Shards"), 0), "ShardId"),
			    "shardId-000000000004");
	json_decref(l);

	/* Still valid at 300 s, expired after. */
	f->ctx.now_ms += 300000;
	json_decref(list_shards(f, body, 1, false));
	f->ctx.now_ms += 1;
	expect_err(f, SP_KOP_LIST_SHARDS, body, "ExpiredNextTokenException",
		   "The NextToken has expired: it was issued more than 300 seconds ago.");
	f->ctx.now_ms = T_NOW;

	/* Tampering: every changed character is caught. */
	for (size_t i = 0; i < strlen(tok); i += 7) {
		char bad[700];

		snprintf(bad, sizeof(bad), "%s", tok);
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		snprintf(body, sizeof(body), "{\"NextToken\":\"%s\"}", bad);
		expect_err(f, SP_KOP_LIST_SHARDS, body, "InvalidArgumentException",
			   "Invalid NextToken.");
	}
	snprintf(body, sizeof(body), "{\"NextToken\":\"%.*s\"}", (int)strlen(tok) - 1, tok);
	expect_err(f, SP_KOP_LIST_SHARDS, body, "InvalidArgumentException", "Invalid NextToken.");
	/* A ListStreams token is no ListShards token. */
	create(f, "ls2", 1);
	l = expect_ok(f, SP_KOP_LIST_STREAMS, "{\"Limit\":1}");
	snprintf(body, sizeof(body), "{\"NextToken\":\"%s\"}", sget(l, "NextToken"));
	json_decref(l);
	expect_err(f, SP_KOP_LIST_SHARDS, body, "InvalidArgumentException", "Invalid NextToken.");
	/* ExclusiveStartShardId pages too. */
	json_decref(list_shards(f,
				"{\"StreamName\":\"ls\",\"ExclusiveStartShardId\":"
				"\"shardId-000000000001\",\"MaxResults\":2}",
				2, true));
}

static void
test_list_shards_token_gone(void **state)
{
	struct fx *f = *state;
	char body[1024];
	json_t *l;

	create(f, "tg", 3);
	ack(f);
	l = list_shards(f, "{\"StreamName\":\"tg\",\"MaxResults\":1}", 1, true);
	snprintf(body, sizeof(body), "{\"NextToken\":\"%s\"}", sget(l, "NextToken"));
	json_decref(l);
	json_decref(expect_ok(f, SP_KOP_DELETE_STREAM, "{\"StreamName\":\"tg\"}"));
	ack(f);
	f->ctx.now_ms += 10;
	create(f, "tg", 3);
	ack(f);
	expect_err(f, SP_KOP_LIST_SHARDS, body, "ResourceNotFoundException",
		   "Stream tg under account " T_ACCT " not found.");
}

static void
test_list_shards_rules(void **state)
{
	struct fx *f = *state;

	expect_err(f, SP_KOP_LIST_SHARDS, "{}", "InvalidArgumentException",
		   "Either NextToken or StreamName should be provided.");
	expect_err(f, SP_KOP_LIST_SHARDS, "{\"StreamName\":\"x\",\"NextToken\":\"t\"}",
		   "InvalidArgumentException",
		   "NextToken and StreamName cannot be provided together.");
	expect_err(f, SP_KOP_LIST_SHARDS,
		   "{\"StreamARN\":\"arn:aws:kinesis:us-east-1:" T_ACCT ":stream/x\","
		   "\"NextToken\":\"t\"}",
		   "InvalidArgumentException",
		   "NextToken and StreamARN cannot be provided together.");
	expect_err(f, SP_KOP_LIST_SHARDS, "{\"ExclusiveStartShardId\":\"x\",\"NextToken\":\"t\"}",
		   "InvalidArgumentException",
		   "NextToken and ExclusiveStartShardId cannot be provided together.");
	expect_err(f, SP_KOP_LIST_SHARDS, "{\"StreamCreationTimestamp\":1,\"NextToken\":\"t\"}",
		   "InvalidArgumentException",
		   "NextToken and StreamCreationTimestamp cannot be provided together.");
	expect_err(f, SP_KOP_LIST_SHARDS,
		   "{\"StreamName\":\"x\",\"ShardFilter\":{\"Type\":\"AFTER_SHARD_ID\"}}",
		   "InvalidArgumentException",
		   "ShardFilter of type AFTER_SHARD_ID needs a ShardId.");
	expect_err(f, SP_KOP_LIST_SHARDS,
		   "{\"StreamName\":\"x\",\"ShardFilter\":{\"Type\":\"FROM_TIMESTAMP\"}}",
		   "InvalidArgumentException",
		   "ShardFilter of type FROM_TIMESTAMP needs a Timestamp.");
	expect_err(f, SP_KOP_LIST_SHARDS, "{\"StreamName\":\"x\"}", "ResourceNotFoundException",
		   "Stream x under account " T_ACCT " not found.");
	create(f, "cr", 2);
	/* CREATING: no shards yet, as DescribeStream shows them (kinesalite). */
	json_decref(list_shards(f, "{\"StreamName\":\"cr\"}", 0, false));
	expect_valid(f, SP_KOP_LIST_SHARDS,
		     "{\"StreamName\":\"x\",\"ShardFilter\":{\"ShardId\":\"a\"}}",
		     "1 validation error detected: Value null at 'shardFilter.type' failed to "
		     "satisfy constraint: Member must not be null");
	/* Eleven failures: ten are listed, and the count says ten. */
	expect_valid(f, SP_KOP_LIST_SHARDS,
		     "{\"ExclusiveStartShardId\":\"\",\"MaxResults\":0,\"NextToken\":\"\","
		     "\"StreamName\":\"\",\"ShardFilter\":{\"Type\":\"X\",\"ShardId\":\"\"},"
		     "\"StreamARN\":\"\"}",
		     "10 validation errors detected: Value '' at 'exclusiveStartShardId' failed to "
		     "satisfy constraint: Member must satisfy regular expression pattern: "
		     "[a-zA-Z0-9_.-]+; Value '' at 'exclusiveStartShardId' failed to satisfy "
		     "constraint: Member must have length greater than or equal to 1; Value '0' at "
		     "'maxResults' failed to satisfy constraint: Member must have value greater "
		     "than or equal to 1; Value '' at 'nextToken' failed to satisfy constraint: "
		     "Member must have length greater than or equal to 1; Value '' at 'streamName' "
		     "failed to satisfy constraint: Member must satisfy regular expression "
		     "pattern: [a-zA-Z0-9_.-]+; Value '' at 'streamName' failed to satisfy "
		     "constraint: Member must have length greater than or equal to 1; Value 'X' at "
		     "'shardFilter.type' failed to satisfy constraint: Member must satisfy enum "
		     "value set: [AFTER_SHARD_ID, AT_TRIM_HORIZON, FROM_TRIM_HORIZON, AT_LATEST, "
		     "AT_TIMESTAMP, FROM_TIMESTAMP]; Value '' at 'shardFilter.shardId' failed to "
		     "satisfy constraint: Member must satisfy regular expression pattern: "
		     "[a-zA-Z0-9_.-]+; Value '' at 'shardFilter.shardId' failed to satisfy "
		     "constraint: Member must have length greater than or equal to 1; Value '' at "
		     "'streamARN' failed to satisfy constraint: Member must satisfy regular "
		     "expression pattern: arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+");
}

static void
test_list_shards_filters(void **state)
{
	struct fx *f = *state;
	char body[512];
	json_t *l;

	create(f, "fl", 4);
	ack(f);
	json_decref(list_shards(
	    f, "{\"StreamName\":\"fl\",\"ShardFilter\":{\"Type\":\"AT_LATEST\"}}", 4, false));
	json_decref(list_shards(f,
				"{\"StreamName\":\"fl\",\"ShardFilter\":{\"Type\":"
				"\"FROM_TRIM_HORIZON\"}}",
				4, false));
	json_decref(list_shards(f,
				"{\"StreamName\":\"fl\",\"ShardFilter\":{\"Type\":"
				"\"AT_TRIM_HORIZON\"}}",
				4, false));
	l = list_shards(f,
			"{\"StreamName\":\"fl\",\"ShardFilter\":{\"Type\":\"AFTER_SHARD_ID\","
			"\"ShardId\":\"shardId-000000000001\"},\"MaxResults\":1}",
			1, true);
	assert_string_equal(sget(json_array_get(json_object_get(l, "Shards"), 0), "ShardId"),
			    "shardId-000000000002");
	/* The token keeps the filter. */
	snprintf(body, sizeof(body), "{\"NextToken\":\"%s\"}", sget(l, "NextToken"));
	json_decref(l);
	l = list_shards(f, body, 1, false);
	assert_string_equal(sget(json_array_get(json_object_get(l, "Shards"), 0), "ShardId"),
			    "shardId-000000000003");
	json_decref(l);
	/* Timestamps before creation clamp to it; after it, all open shards qualify. */
	json_decref(list_shards(f,
				"{\"StreamName\":\"fl\",\"ShardFilter\":{\"Type\":\"AT_TIMESTAMP\","
				"\"Timestamp\":1000}}",
				4, false));
	json_decref(
	    list_shards(f,
			"{\"StreamName\":\"fl\",\"ShardFilter\":{\"Type\":\"FROM_TIMESTAMP\","
			"\"Timestamp\":1800000000.5}}",
			4, false));
	/* StreamCreationTimestamp must name this incarnation (to the second). */
	json_decref(list_shards(f, "{\"StreamName\":\"fl\",\"StreamCreationTimestamp\":1700000000}",
				4, false));
	json_decref(list_shards(
	    f, "{\"StreamName\":\"fl\",\"StreamCreationTimestamp\":1700000000.123}", 4, false));
	expect_err(f, SP_KOP_LIST_SHARDS,
		   "{\"StreamName\":\"fl\",\"StreamCreationTimestamp\":1600000000}",
		   "ResourceNotFoundException", "Stream fl under account " T_ACCT " not found.");
}

static void
test_list_shards_cap(void **state)
{
	struct fx *f = *state;
	char body[1024];
	json_t *l;

	f->ctx.shard_limit = 5000;
	create(f, "k", 1500);
	ack(f);
	l = list_shards(f, "{\"StreamName\":\"k\",\"MaxResults\":10000}", 1000, true);
	snprintf(body, sizeof(body), "{\"NextToken\":\"%s\",\"MaxResults\":10000}",
		 sget(l, "NextToken"));
	json_decref(l);
	l = list_shards(f, body, 500, false);
	assert_string_equal(sget(json_array_get(json_object_get(l, "Shards"), 499), "ShardId"),
			    "shardId-000000001499");
	json_decref(l);
	/* The snapshot of a wide stream still tiles the hash space. */
	json_t *snap;

	assert_int_equal(sp_cat_snapshot_json(f->cat, &snap), 0);
	json_t *shards =
	    json_object_get(json_array_get(json_object_get(snap, "streams"), 0), "shards");

	assert_int_equal(json_array_size(shards), 1500);
	assert_string_equal(sget(json_array_get(shards, 1499), "ending_hash_key"), T_MAX);
	json_decref(snap);
}

/* ---- Increase/DecreaseStreamRetentionPeriod ---- */

#define T_INC SP_KOP_INCREASE_RETENTION
#define T_DEC SP_KOP_DECREASE_RETENTION

/* {"StreamName":name,"RetentionPeriodHours":hours} into buf. */
static const char *
ret_body(char *buf, size_t cap, const char *name, const char *hours)
{
	snprintf(buf, cap, "{\"StreamName\":\"%s\",\"RetentionPeriodHours\":%s}", name, hours);
	return buf;
}

/* A successful change (or none, when the value is the current one). */
static void
ret_ok(struct fx *f, enum sp_kop op, const char *name, const char *hours, bool changed)
{
	char body[256];
	int64_t v = version(f);

	assert_null(expect_ok(f, op, ret_body(body, sizeof(body), name, hours)));
	assert_int_equal(f->rep.body_len, 0);
	assert_int_equal(f->rep.catalog_changed, changed);
	assert_int_equal(version(f), v + (changed ? 1 : 0));
}

static void
ret_err(struct fx *f, enum sp_kop op, const char *name, const char *hours, const char *type,
	const char *msg)
{
	char body[256];
	int64_t v = version(f);

	expect_err(f, op, ret_body(body, sizeof(body), name, hours), type, msg);
	assert_int_equal(version(f), v);
}

/* RetentionPeriodHours as DescribeStream, DescribeStreamSummary and the snapshot show it. */
static void
ret_shown(struct fx *f, const char *name, json_int_t want)
{
	char body[256];
	json_t *j, *sd;

	snprintf(body, sizeof(body), "{\"StreamName\":\"%s\"}", name);
	j = describe(f, body);
	assert_int_equal(json_integer_value(json_object_get(
			     json_object_get(j, "StreamDescription"), "RetentionPeriodHours")),
			 want);
	json_decref(j);
	j = expect_ok(f, SP_KOP_DESCRIBE_STREAM_SUMMARY, body);
	sd = json_object_get(j, "StreamDescriptionSummary");
	assert_int_equal(json_integer_value(json_object_get(sd, "RetentionPeriodHours")), want);
	json_decref(j);
	assert_int_equal(sp_cat_snapshot_json(f->cat, &j), 0);
	json_t *st = json_array_get(json_object_get(j, "streams"), 0);

	assert_string_equal(sget(st, "name"), name);
	assert_int_equal(json_integer_value(json_object_get(st, "retention_hours")), want);
	json_decref(j);
}

static void
test_retention_change(void **state)
{
	struct fx *f = *state;

	create(f, "r", 2);
	ack(f);
	ret_shown(f, "r", 24);
	ret_ok(f, T_INC, "r", "48", true);
	ret_shown(f, "r", 48);
	/* Equal values pass either way, without a catalog change. */
	ret_ok(f, T_INC, "r", "48", false);
	ret_ok(f, T_DEC, "r", "48", false);
	ret_ok(f, T_INC, "r", "8760", true);
	ret_shown(f, "r", 8760);
	/* Integer semantics: floored (100.9 -> 100). */
	ret_ok(f, T_DEC, "r", "100.9", true);
	ret_shown(f, "r", 100);
	ret_ok(f, T_DEC, "r", "24", true);
	ret_shown(f, "r", 24);
	/* By ARN, and by both (StreamId ignored). */
	assert_null(expect_ok(f, T_INC,
			      "{\"StreamARN\":\"arn:aws:kinesis:us-east-1:" T_ACCT
			      ":stream/r\",\"RetentionPeriodHours\":168}"));
	assert_true(f->rep.catalog_changed);
	assert_null(expect_ok(f, T_DEC,
			      "{\"StreamName\":\"r\",\"StreamId\":\"x\",\"StreamARN\":"
			      "\"arn:aws:kinesis:us-east-1:" T_ACCT
			      ":stream/r\",\"RetentionPeriodHours\":25}"));
	assert_true(f->rep.catalog_changed);
	ret_shown(f, "r", 25);
	/* The catalog accepts only 24..8760 and knows which streams exist. */
	assert_int_equal(sp_cat_stream_set_retention(f->cat, "r", 23), -EINVAL);
	assert_int_equal(sp_cat_stream_set_retention(f->cat, "r", 8761), -EINVAL);
	assert_int_equal(sp_cat_stream_set_retention(f->cat, "nope", 48), -ENOENT);
	assert_int_equal(sp_cat_stream_set_retention(f->cat, "r", 25), 0);
	ret_shown(f, "r", 25);
}

#define T_NULL_RET                                                                         \
	"Value null at 'retentionPeriodHours' failed to satisfy constraint: Member must not "  \
	"be null"
#define T_PAT_NAME "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
#define T_PAT_ARN                                                                          \
	"Member must satisfy regular expression pattern: arn:aws.*:kinesis:.*:\\d{12}:"        \
	"stream/\\S+"
#define T_RET_MIN "Minimum allowed retention period is 24 hours. Requested retention period "
#define T_RET_MAX "Maximum allowed retention period is 8760 hours. Requested retention period "
#define T_ARN_R "arn:aws:kinesis:us-east-1:" T_ACCT ":stream/r"

/* Steps 6, 10 and 11 and the selector: the same for both operations. */
static void
ret_errors_request(struct fx *f, enum sp_kop op)
{
	expect_valid(f, op, "{\"StreamName\":\"r\"}", "1 validation error detected: " T_NULL_RET);
	expect_valid(f, op, "{\"StreamName\":\"r\",\"RetentionPeriodHours\":null}",
		     "1 validation error detected: " T_NULL_RET);
	/* Member order: retentionPeriodHours, streamName, streamARN. */
	expect_valid(f, op, "{\"StreamARN\":\"x\",\"StreamName\":\"a b\"}",
		     "3 validation errors detected: " T_NULL_RET "; Value 'a b' at 'streamName' "
		     "failed to satisfy constraint: " T_PAT_NAME "; Value 'x' at 'streamARN' "
		     "failed to satisfy constraint: " T_PAT_ARN);
	expect_ser(f, op, "{\"StreamName\":\"r\",\"RetentionPeriodHours\":\"48\"}",
		   "class java.lang.String can not be converted to an Integer");
	expect_ser(f, op, "{\"StreamName\":\"r\",\"RetentionPeriodHours\":true}",
		   "class java.lang.Boolean can not be converted to an Integer");
	expect_ser(f, op, "{\"StreamName\":\"r\",\"RetentionPeriodHours\":[48]}",
		   "Start of list found where not expected");
	expect_ser(f, op, "{\"StreamName\":\"r\",\"RetentionPeriodHours\":{}}",
		   "Start of structure or map found where not expected.");
	expect_ser(f, op, "{\"StreamName\":5,\"RetentionPeriodHours\":\"x\"}",
		   "class java.lang.String can not be converted to an Integer");
	expect_ser(f, op, "{\"RetentionPeriodHours\":48,\"StreamName\":false}",
		   "class java.lang.Boolean can not be converted to an String");
	expect_ser(f, op, "[48]", "");
	expect_err(f, op, "{\"RetentionPeriodHours\":48}", "InvalidArgumentException",
		   "Neither StreamName nor StreamARN was provided.");
	expect_err(f, op,
		   "{\"StreamName\":\"q\",\"RetentionPeriodHours\":48,\"StreamARN\":\"" T_ARN_R
		   "\"}",
		   "InvalidArgumentException",
		   "StreamName q does not match the stream of StreamARN " T_ARN_R ".");
}

/* Step 12 on a CREATING stream "r": lookup, range, then state. */
static void
ret_errors_creating(struct fx *f, enum sp_kop op)
{
	/* The stream is looked up before the value is judged (kinesalite). */
	ret_err(f, op, "nope", "1", "ResourceNotFoundException",
		"Stream nope under account " T_ACCT " not found.");
	expect_err(f, op,
		   "{\"StreamARN\":\"arn:aws:kinesis:eu-west-1:" T_ACCT
		   ":stream/r\",\"RetentionPeriodHours\":48}",
		   "ResourceNotFoundException", "Stream r under account " T_ACCT " not found.");
	/* The range comes before the stream's state. */
	ret_err(f, op, "r", "23", "InvalidArgumentException",
		T_RET_MIN "(23 hours) is too short.");
	ret_err(f, op, "r", "-5", "InvalidArgumentException",
		T_RET_MIN "(-5 hours) is too short.");
	ret_err(f, op, "r", "23.99", "InvalidArgumentException",
		T_RET_MIN "(23 hours) is too short.");
	ret_err(f, op, "r", "8761", "InvalidArgumentException",
		T_RET_MAX "(8761 hours) is too long.");
	/* Clamped at Integer's maximum before the check. */
	ret_err(f, op, "r", "1e12", "InvalidArgumentException",
		T_RET_MAX "(2147483647 hours) is too long.");
	ret_err(f, op, "r", "48", "ResourceInUseException",
		"Stream r under account " T_ACCT " not ACTIVE, instead in state CREATING");
	ret_err(f, op, "r", "24", "ResourceInUseException",
		"Stream r under account " T_ACCT " not ACTIVE, instead in state CREATING");
}

static void
test_retention_errors(void **state)
{
	struct fx *f = *state;

	create(f, "r", 1);
	ret_errors_request(f, T_INC);
	ret_errors_request(f, T_DEC);
	ret_errors_creating(f, T_INC);
	ret_errors_creating(f, T_DEC);
	ack(f);
	ret_ok(f, T_INC, "r", "72", true);
	ret_err(f, T_INC, "r", "48", "InvalidArgumentException",
		"Requested retention period (48 hours) for stream r can not be shorter than "
		"existing retention period (72 hours). Use DecreaseRetentionPeriod API.");
	ret_err(f, T_DEC, "r", "100", "InvalidArgumentException",
		"Requested retention period (100 hours) for stream r can not be longer than "
		"existing retention period (72 hours). Use IncreaseRetentionPeriod API.");
	/* By ARN, the message names the stream. */
	expect_err(f, T_INC, "{\"StreamARN\":\"" T_ARN_R "\",\"RetentionPeriodHours\":71}",
		   "InvalidArgumentException",
		   "Requested retention period (71 hours) for stream r can not be shorter than "
		   "existing retention period (72 hours). Use DecreaseRetentionPeriod API.");
	ret_shown(f, "r", 72);
	/* A DELETING stream is not ACTIVE either. */
	assert_null(expect_ok(f, SP_KOP_DELETE_STREAM, "{\"StreamName\":\"r\"}"));
	ret_err(f, T_DEC, "r", "24", "ResourceInUseException",
		"Stream r under account " T_ACCT " not ACTIVE, instead in state DELETING");
	ret_err(f, T_INC, "r", "100", "ResourceInUseException",
		"Stream r under account " T_ACCT " not ACTIVE, instead in state DELETING");
	ack(f);
	ret_err(f, T_INC, "r", "100", "ResourceNotFoundException",
		"Stream r under account " T_ACCT " not found.");
}

/* ---- UpdateMaxRecordSize ---- */

#define T_MRS   SP_KOP_UPDATE_MAX_RECORD_SIZE
#define T_ARN_M "arn:aws:kinesis:us-east-1:" T_ACCT ":stream/m"
#define T_MRS_NULL                                                                                 \
	"Value null at 'maxRecordSizeInKiB' failed to satisfy constraint: Member must not be "     \
	"null"

/* {"StreamARN":<ARN of name>,"MaxRecordSizeInKiB":kib} into buf. */
static const char *
mrs_body(char *buf, size_t cap, const char *name, const char *kib)
{
	snprintf(buf, cap,
		 "{\"StreamARN\":\"arn:aws:kinesis:us-east-1:" T_ACCT
		 ":stream/%s\",\"MaxRecordSizeInKiB\":%s}",
		 name, kib);
	return buf;
}

/* A successful update (or none, when the value is the current one). */
static void
mrs_ok(struct fx *f, const char *name, const char *kib, bool changed)
{
	char body[256];
	int64_t v = version(f);

	assert_null(expect_ok(f, T_MRS, mrs_body(body, sizeof(body), name, kib)));
	assert_int_equal(f->rep.body_len, 0);
	assert_int_equal(f->rep.catalog_changed, changed);
	assert_int_equal(version(f), v + (changed ? 1 : 0));
}

static void
mrs_err(struct fx *f, const char *body, const char *type, const char *msg)
{
	int64_t v = version(f);

	expect_err(f, T_MRS, body, type, msg);
	assert_int_equal(version(f), v);
}

/* The setting as DescribeStreamSummary (KiB) and the snapshot (bytes) show it. */
static void
mrs_shown(struct fx *f, const char *name, json_int_t kib)
{
	char body[256];
	json_t *j;

	snprintf(body, sizeof(body), "{\"StreamName\":\"%s\"}", name);
	j = expect_ok(f, SP_KOP_DESCRIBE_STREAM_SUMMARY, body);
	assert_int_equal(json_integer_value(json_object_get(
			     json_object_get(j, "StreamDescriptionSummary"), "MaxRecordSizeInKiB")),
			 kib);
	json_decref(j);
	/* DescribeStream's output has no such member in the model. */
	j = describe(f, body);
	assert_null(json_object_get(json_object_get(j, "StreamDescription"), "MaxRecordSizeInKiB"));
	json_decref(j);
	assert_int_equal(sp_cat_snapshot_json(f->cat, &j), 0);
	json_t *st = json_array_get(json_object_get(j, "streams"), 0);

	assert_string_equal(sget(st, "name"), name);
	assert_int_equal(json_integer_value(json_object_get(st, "max_record_bytes")), kib * 1024);
	json_decref(j);
}

static void
test_max_record_change(void **state)
{
	struct fx *f = *state;

	create(f, "m", 2);
	ack(f);
	mrs_shown(f, "m", 1024);
	mrs_ok(f, "m", "2048", true);
	mrs_shown(f, "m", 2048);
	/* The same value again: success without a catalog change. */
	mrs_ok(f, "m", "2048", false);
	mrs_shown(f, "m", 2048);
	/* Both ends of the range; Integer semantics (floored). */
	mrs_ok(f, "m", "10240", true);
	mrs_shown(f, "m", 10240);
	mrs_ok(f, "m", "1024", true);
	mrs_shown(f, "m", 1024);
	mrs_ok(f, "m", "4096.9", true);
	mrs_shown(f, "m", 4096);
	/* By StreamName (our extension), and by both (StreamId ignored). */
	assert_null(expect_ok(f, T_MRS, "{\"StreamName\":\"m\",\"MaxRecordSizeInKiB\":3072}"));
	assert_true(f->rep.catalog_changed);
	assert_null(expect_ok(f, T_MRS,
			      "{\"StreamName\":\"m\",\"StreamId\":\"x\",\"StreamARN\":\"" T_ARN_M
			      "\",\"MaxRecordSizeInKiB\":5120}"));
	assert_true(f->rep.catalog_changed);
	mrs_shown(f, "m", 5120);
	/* The catalog accepts only 1 MiB..10 MiB and knows which streams exist. */
	assert_int_equal(sp_cat_stream_set_max_record(f->cat, "m", 1048575), -EINVAL);
	assert_int_equal(sp_cat_stream_set_max_record(f->cat, "m", 10485761), -EINVAL);
	assert_int_equal(sp_cat_stream_set_max_record(f->cat, "nope", 2097152), -ENOENT);
	assert_int_equal(sp_cat_stream_set_max_record(f->cat, "m", 5120 * 1024), 0);
	mrs_shown(f, "m", 5120);
}

/* Steps 6, 10 and 11 and the selector. */
static void
mrs_errors_request(struct fx *f)
{
	mrs_err(f, "{\"StreamARN\":\"" T_ARN_M "\"}", "ValidationException",
		"1 validation error detected: " T_MRS_NULL);
	mrs_err(f, "{\"StreamARN\":\"" T_ARN_M "\",\"MaxRecordSizeInKiB\":null}",
		"ValidationException", "1 validation error detected: " T_MRS_NULL);
	mrs_err(f, "{\"StreamARN\":\"" T_ARN_M "\",\"MaxRecordSizeInKiB\":1023}",
		"ValidationException",
		"1 validation error detected: Value '1023' at 'maxRecordSizeInKiB' failed to "
		"satisfy constraint: Member must have value greater than or equal to 1024");
	mrs_err(f, "{\"StreamARN\":\"" T_ARN_M "\",\"MaxRecordSizeInKiB\":10241}",
		"ValidationException",
		"1 validation error detected: Value '10241' at 'maxRecordSizeInKiB' failed to "
		"satisfy constraint: Member must have value less than or equal to 10240");
	mrs_err(f, "{\"StreamARN\":\"" T_ARN_M "\",\"MaxRecordSizeInKiB\":-1}",
		"ValidationException",
		"1 validation error detected: Value '-1' at 'maxRecordSizeInKiB' failed to "
		"satisfy constraint: Member must have value greater than or equal to 1024");
	/* Clamped at Integer's maximum before the check. */
	mrs_err(f, "{\"StreamARN\":\"" T_ARN_M "\",\"MaxRecordSizeInKiB\":1e12}",
		"ValidationException",
		"1 validation error detected: Value '2147483647' at 'maxRecordSizeInKiB' failed "
		"to satisfy constraint: Member must have value less than or equal to 10240");
	/* Member order: streamARN, maxRecordSizeInKiB, streamName. */
	mrs_err(f, "{\"StreamName\":\"a b\",\"StreamARN\":\"x\"}", "ValidationException",
		"3 validation errors detected: Value 'x' at 'streamARN' failed to satisfy "
		"constraint: " T_PAT_ARN "; " T_MRS_NULL "; Value 'a b' at 'streamName' failed "
		"to satisfy constraint: " T_PAT_NAME);
	/* Range errors come before the lookup (step 11 before step 12). */
	mrs_err(f, "{\"StreamName\":\"nope\",\"MaxRecordSizeInKiB\":1000}", "ValidationException",
		"1 validation error detected: Value '1000' at 'maxRecordSizeInKiB' failed to "
		"satisfy constraint: Member must have value greater than or equal to 1024");
	mrs_err(f, "{\"StreamARN\":\"" T_ARN_M "\",\"MaxRecordSizeInKiB\":\"2048\"}",
		"SerializationException",
		"class java.lang.String can not be converted to an Integer");
	mrs_err(f, "{\"StreamARN\":\"" T_ARN_M "\",\"MaxRecordSizeInKiB\":true}",
		"SerializationException",
		"class java.lang.Boolean can not be converted to an Integer");
	mrs_err(f, "{\"StreamARN\":\"" T_ARN_M "\",\"MaxRecordSizeInKiB\":[2048]}",
		"SerializationException", "Start of list found where not expected");
	mrs_err(f, "{\"StreamARN\":\"" T_ARN_M "\",\"MaxRecordSizeInKiB\":{}}",
		"SerializationException", "Start of structure or map found where not expected.");
	/* The first failure in member order wins: StreamARN before MaxRecordSizeInKiB. */
	mrs_err(f, "{\"MaxRecordSizeInKiB\":\"x\",\"StreamARN\":5}", "SerializationException",
		"class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be "
		"converted to an String");
	mrs_err(f, "[2048]", "SerializationException", "");
	mrs_err(f, "{\"MaxRecordSizeInKiB\":2048}", "InvalidArgumentException",
		"Neither StreamName nor StreamARN was provided.");
	mrs_err(f,
		"{\"StreamName\":\"q\",\"MaxRecordSizeInKiB\":2048,\"StreamARN\":\"" T_ARN_M "\"}",
		"InvalidArgumentException",
		"StreamName q does not match the stream of StreamARN " T_ARN_M ".");
}

static void
test_max_record_errors(void **state)
{
	struct fx *f = *state;
	char body[256];

	create(f, "m", 1);
	mrs_errors_request(f);
	mrs_err(f, mrs_body(body, sizeof(body), "nope", "2048"), "ResourceNotFoundException",
		"Stream nope under account " T_ACCT " not found.");
	mrs_err(f,
		"{\"StreamARN\":\"arn:aws:kinesis:eu-west-1:" T_ACCT
		":stream/m\",\"MaxRecordSizeInKiB\":2048}",
		"ResourceNotFoundException", "Stream m under account " T_ACCT " not found.");
	mrs_err(f, mrs_body(body, sizeof(body), "m", "2048"), "ResourceInUseException",
		"Stream m under account " T_ACCT " not ACTIVE, instead in state CREATING");
	/* Also when the value would not change anything. */
	mrs_err(f, mrs_body(body, sizeof(body), "m", "1024"), "ResourceInUseException",
		"Stream m under account " T_ACCT " not ACTIVE, instead in state CREATING");
	ack(f);
	mrs_ok(f, "m", "8192", true);
	mrs_shown(f, "m", 8192);
	/* A DELETING stream is not ACTIVE either; once gone it is not found. */
	assert_null(expect_ok(f, SP_KOP_DELETE_STREAM, "{\"StreamName\":\"m\"}"));
	mrs_err(f, mrs_body(body, sizeof(body), "m", "2048"), "ResourceInUseException",
		"Stream m under account " T_ACCT " not ACTIVE, instead in state DELETING");
	ack(f);
	mrs_err(f, mrs_body(body, sizeof(body), "m", "2048"), "ResourceNotFoundException",
		"Stream m under account " T_ACCT " not found.");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_describe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_on_demand, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_utf16_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_serialization, setup, teardown),
		cmocka_unit_test(test_hash_ranges),
		cmocka_unit_test_setup_teardown(test_delete_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_selector, setup, teardown),
		cmocka_unit_test_setup_teardown(test_describe_paging, setup, teardown),
		cmocka_unit_test_setup_teardown(test_summary_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_streams, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_streams_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_shards_paging, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_shards_token_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_shards_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_shards_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_shards_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_record_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_record_errors, setup, teardown),
	};

	sp_ctl_log_set_level(SP_CTL_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
