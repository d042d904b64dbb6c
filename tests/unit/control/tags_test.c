/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the stream administration operations of control/ctl_streams.c and
 * control/catalog_tags.c, in process against an in-memory catalog: AddTagsToStream,
 * RemoveTagsFromStream, ListTagsForStream, TagResource, UntagResource, ListTagsForResource,
 * CreateStream's Tags, Enable/DisableEnhancedMonitoring (and what DescribeStream(Summary) and
 * the snapshot then show) and DescribeLimits. Happy paths, every error and validation text
 * byte for byte, and which operations bump catalog_version.
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

#define T_ARN  "arn:aws:kinesis:us-east-1:" T_ACCT ":stream/"

#define TAG_CHARS                                                                                  \
	"Some tags contain invalid characters. Valid characters: Unicode letters, digits, "        \
	"white space, _ . / = + - % @."
#define TAG_CHARS_RES                                                                              \
	"Some tags contain invalid characters. Valid characters: Unicode letters, digits, "        \
	"white space, _ . : / = + - @."
#define TAG_ILLEGAL                                                                                \
	" because some tags contained illegal characters. The allowed characters are Unicode "     \
	"letters, white-spaces, '_',',','/','=','+','-','@'."
#define TAG_TOO_MANY(s)                                                                            \
	"Failed to add tags to stream " s " under account " T_ACCT " because a given stream "      \
	"cannot have more than 10 tags associated with it."
#define METRICS_ENUM                                                                               \
	"[IncomingBytes, IncomingRecords, OutgoingBytes, OutgoingRecords, "                        \
	"WriteProvisionedThroughputExceeded, ReadProvisionedThroughputExceeded, "                  \
	"IteratorAgeMilliseconds, ALL]"
#define ALL_METRICS                                                                                \
	"[\"IncomingBytes\",\"IncomingRecords\",\"OutgoingBytes\",\"OutgoingRecords\","            \
	"\"WriteProvisionedThroughputExceeded\",\"ReadProvisionedThroughputExceeded\","            \
	"\"IteratorAgeMilliseconds\"]"

static int
setup(void **state)
{
	return fx_setup(state, 2, false);
}

static int
teardown(void **state)
{
	return fx_teardown(state);
}

static void
expect_inval(struct fx *f, enum sp_kop op, const char *body, const char *msg)
{
	expect_err(f, op, body, "InvalidArgumentException", msg);
}

/* Success with exactly this body ("" for none); changed: catalog_changed and a bump. */
static void
expect_body(struct fx *f, enum sp_kop op, const char *body, const char *want, bool changed)
{
	int64_t before = version(f);

	call(f, op, body);
	if (f->rep.err != SP_KERR_NONE) {
		fail_msg("%s: %s: %s", body, sp_kerr_table[f->rep.err].type, f->rep.message);
	}
	assert_int_equal(f->rc, 0);
	assert_int_equal(f->rep.status, 200);
	assert_string_equal(f->rep.body, want);
	assert_int_equal(f->rep.catalog_changed, changed);
	assert_int_equal(version(f), before + (changed ? 1 : 0));
}

/* A tag write: empty reply, and no catalog_version bump (tags are not in the snapshot). */
static void
expect_quiet(struct fx *f, enum sp_kop op, const char *body)
{
	expect_body(f, op, body, "", false);
}

static void
create(struct fx *f, const char *name, int shards, bool active)
{
	char body[256];

	snprintf(body, sizeof(body), "{\"StreamName\":\"%s\",\"ShardCount\":%d}", name, shards);
	expect_body(f, SP_KOP_CREATE_STREAM, body, "", true);
	if (active) {
		assert_true(sp_ctl_kinesis_applied(f->cat, &f->ctx, version(f)) > 0);
	}
}

static void
expect_tags(struct fx *f, const char *body, const char *tags, bool more)
{
	char want[4096];

	snprintf(want, sizeof(want), "{\"Tags\":[%s],\"HasMoreTags\":%s}", tags,
		 more ? "true" : "false");
	expect_body(f, SP_KOP_LIST_TAGS_FOR_STREAM, body, want, false);
}

/* {"StreamName":"<name>","Tags":{"k0":"v",...,"k<n-1>":"v"}} with keys prefixed by p. */
static void
many_tags(char *buf, size_t cap, const char *name, const char *p, int n)
{
	size_t len = (size_t)snprintf(buf, cap, "{\"StreamName\":\"%s\",\"Tags\":{", name);

	for (int i = 0; i < n; i++) {
		len += (size_t)snprintf(buf + len, cap - len, "%s\"%s%02d\":\"v\"", i ? "," : "", p,
					i);
	}
	snprintf(buf + len, cap - len, "}}");
	assert_true(len + 2 < cap);
}

/* ---- AddTagsToStream, RemoveTagsFromStream, ListTagsForStream ---- */

static void
test_tags_round_trip(void **state)
{
	struct fx *f = *state;

	create(f, "s", 1, true);
	expect_tags(f, "{\"StreamName\":\"s\"}", "", false);
	expect_quiet(f, SP_KOP_ADD_TAGS_TO_STREAM,
		     "{\"StreamName\":\"s\",\"Tags\":{\"b\":\"2\",\"a\":\"1\",\"c d\":\"\"}}");
	expect_tags(f, "{\"StreamName\":\"s\"}",
		    "{\"Key\":\"a\",\"Value\":\"1\"},{\"Key\":\"b\",\"Value\":\"2\"},"
		    "{\"Key\":\"c d\",\"Value\":\"\"}",
		    false);
	/* An existing key is overwritten; a null value is stored as "". */
	expect_quiet(f, SP_KOP_ADD_TAGS_TO_STREAM,
		     "{\"StreamARN\":\"" T_ARN "s\",\"Tags\":{\"a\":\"x\",\"e\":null}}");
	expect_tags(f, "{\"StreamName\":\"s\",\"Limit\":2}",
		    "{\"Key\":\"a\",\"Value\":\"x\"},{\"Key\":\"b\",\"Value\":\"2\"}", true);
	expect_tags(f, "{\"StreamName\":\"s\",\"Limit\":2,\"ExclusiveStartTagKey\":\"b\"}",
		    "{\"Key\":\"c d\",\"Value\":\"\"},{\"Key\":\"e\",\"Value\":\"\"}", false);
	expect_tags(f, "{\"StreamName\":\"s\",\"ExclusiveStartTagKey\":\"bz\",\"Limit\":1}",
		    "{\"Key\":\"c d\",\"Value\":\"\"}", true);
	expect_tags(f, "{\"StreamName\":\"s\",\"ExclusiveStartTagKey\":\"zz\"}", "", false);
	/* Limit is floored and clamped as every Integer. */
	expect_tags(f, "{\"StreamName\":\"s\",\"Limit\":1.9}", "{\"Key\":\"a\",\"Value\":\"x\"}",
		    true);
	/* Unknown keys are ignored. */
	expect_quiet(f, SP_KOP_REMOVE_TAGS_FROM_STREAM,
		     "{\"StreamName\":\"s\",\"TagKeys\":[\"a\",\"nope\",\"c d\"]}");
	expect_tags(f, "{\"StreamARN\":\"" T_ARN "s\"}",
		    "{\"Key\":\"b\",\"Value\":\"2\"},{\"Key\":\"e\",\"Value\":\"\"}", false);
	/* Unicode letters (kinesalite's ranges) and the punctuation of the set. */
	expect_quiet(f, SP_KOP_ADD_TAGS_TO_STREAM,
		     "{\"StreamName\":\"s\",\"Tags\":{\"\xc3\xa9t\xc3\xa9\":\"_./=+-@ \","
		     "\"\xe4\xb8\xad\":\"\xea\xb0\x80\"}}");
	expect_tags(f, "{\"StreamName\":\"s\",\"ExclusiveStartTagKey\":\"e\"}",
		    "{\"Key\":\"\xc3\xa9t\xc3\xa9\",\"Value\":\"_./=+-@ \"},"
		    "{\"Key\":\"\xe4\xb8\xad\",\"Value\":\"\xea\xb0\x80\"}",
		    false);
}

static void
test_tags_limit(void **state)
{
	struct fx *f = *state;
	char body[8192];

	create(f, "s", 1, true);
	many_tags(body, sizeof(body), "s", "k", 50);
	expect_quiet(f, SP_KOP_ADD_TAGS_TO_STREAM, body);
	/* Overwriting keeps the count at 50; one new key is one too many. */
	expect_quiet(f, SP_KOP_ADD_TAGS_TO_STREAM,
		     "{\"StreamName\":\"s\",\"Tags\":{\"k07\":\"w\"}}");
	expect_inval(f, SP_KOP_ADD_TAGS_TO_STREAM,
		     "{\"StreamName\":\"s\",\"Tags\":{\"k07\":\"y\",\"new\":\"v\"}}",
		     TAG_TOO_MANY("s"));
	/* Nothing of the refused request was kept. */
	expect_tags(f, "{\"StreamName\":\"s\",\"ExclusiveStartTagKey\":\"k06\",\"Limit\":1}",
		    "{\"Key\":\"k07\",\"Value\":\"w\"}", true);
	expect_tags(f, "{\"StreamName\":\"s\",\"ExclusiveStartTagKey\":\"k49\"}", "", false);
	/* 51 in one request, on a stream without tags. */
	create(f, "t", 1, true);
	many_tags(body, sizeof(body), "t", "k", 51);
	expect_inval(f, SP_KOP_ADD_TAGS_TO_STREAM, body, TAG_TOO_MANY("t"));
	expect_tags(f, "{\"StreamName\":\"t\"}", "", false);
}

static void
test_tags_errors(void **state)
{
	struct fx *f = *state;

	create(f, "s", 1, false);
	/* Any state: kinesalite looks the stream up and nothing else. */
	expect_quiet(f, SP_KOP_ADD_TAGS_TO_STREAM, "{\"StreamName\":\"s\",\"Tags\":{\"a\":\"1\"}}");
	expect_err(f, SP_KOP_ADD_TAGS_TO_STREAM, "{\"StreamName\":\"x\",\"Tags\":{\"a\":\"1\"}}",
		   "ResourceNotFoundException", "Stream x under account " T_ACCT " not found.");
	expect_err(f, SP_KOP_REMOVE_TAGS_FROM_STREAM, "{\"StreamName\":\"x\",\"TagKeys\":[\"a\"]}",
		   "ResourceNotFoundException", "Stream x under account " T_ACCT " not found.");
	expect_err(f, SP_KOP_LIST_TAGS_FOR_STREAM, "{\"StreamName\":\"x\"}",
		   "ResourceNotFoundException", "Stream x under account " T_ACCT " not found.");
	/* The stream is looked up before the tags are judged. */
	expect_err(f, SP_KOP_ADD_TAGS_TO_STREAM, "{\"StreamName\":\"x\",\"Tags\":{\"a$\":\"1\"}}",
		   "ResourceNotFoundException", "Stream x under account " T_ACCT " not found.");
	expect_inval(f, SP_KOP_ADD_TAGS_TO_STREAM, "{\"Tags\":{\"a\":\"1\"}}",
		     "Neither StreamName nor StreamARN was provided.");
	expect_inval(f, SP_KOP_LIST_TAGS_FOR_STREAM,
		     "{\"StreamName\":\"s\",\"StreamARN\":\"" T_ARN "t\"}",
		     "StreamName s does not match the stream of StreamARN " T_ARN "t.");
	/* Characters: keys and values; '%' has its own text; ':' is not in the stream set. */
	expect_inval(f, SP_KOP_ADD_TAGS_TO_STREAM, "{\"StreamName\":\"s\",\"Tags\":{\"a$\":\"1\"}}",
		     TAG_CHARS);
	expect_inval(f, SP_KOP_ADD_TAGS_TO_STREAM,
		     "{\"StreamName\":\"s\",\"Tags\":{\"a\":\"1\\t\"}}", TAG_CHARS);
	expect_inval(f, SP_KOP_ADD_TAGS_TO_STREAM,
		     "{\"StreamName\":\"s\",\"Tags\":{\"aws:x\":\"1\"}}", TAG_CHARS);
	expect_inval(f, SP_KOP_ADD_TAGS_TO_STREAM,
		     "{\"StreamName\":\"s\",\"Tags\":{\"a\":\"\xf0\x9f\x98\x80\"}}", TAG_CHARS);
	/* Invalid characters win over '%', wherever they are. */
	expect_inval(f, SP_KOP_ADD_TAGS_TO_STREAM,
		     "{\"StreamName\":\"s\",\"Tags\":{\"a%\":\"1\",\"b\":\"#\"}}", TAG_CHARS);
	expect_inval(f, SP_KOP_ADD_TAGS_TO_STREAM,
		     "{\"StreamName\":\"s\",\"Tags\":{\"a\":\"50%\"}}",
		     "Failed to add tags to stream s under account " T_ACCT TAG_ILLEGAL);
	expect_inval(f, SP_KOP_REMOVE_TAGS_FROM_STREAM,
		     "{\"StreamName\":\"s\",\"TagKeys\":[\"a\",\"b!\"]}", TAG_CHARS);
	expect_inval(f, SP_KOP_REMOVE_TAGS_FROM_STREAM,
		     "{\"StreamName\":\"s\",\"TagKeys\":[\"%\"]}",
		     "Failed to remove tags from stream s under account " T_ACCT TAG_ILLEGAL);
	/* None of it changed the tag the stream had. */
	expect_tags(f, "{\"StreamName\":\"s\"}", "{\"Key\":\"a\",\"Value\":\"1\"}", false);
}

static void
test_tags_validation(void **state)
{
	struct fx *f = *state;
	char body[8192];
	char want[8192];
	char k129[130];

	memset(k129, 'k', 129);
	k129[129] = '\0';
	expect_valid(f, SP_KOP_ADD_TAGS_TO_STREAM, "{\"StreamName\":\"s\"}",
		     "1 validation error detected: Value null at 'tags' failed to satisfy "
		     "constraint: Member must not be null");
	expect_valid(f, SP_KOP_ADD_TAGS_TO_STREAM, "{\"StreamName\":\"s!\",\"Tags\":{}}",
		     "2 validation errors detected: Value '{}' at 'tags' failed to satisfy "
		     "constraint: Member must have length greater than or equal to 1; Value 's!' "
		     "at 'streamName' failed to satisfy constraint: Member must satisfy regular "
		     "expression pattern: [a-zA-Z0-9_.-]+");
	snprintf(body, sizeof(body), "{\"StreamName\":\"s\",\"Tags\":{\"%s\":\"v\",\"\":\"w\"}}",
		 k129);
	snprintf(want, sizeof(want),
		 "1 validation error detected: Value '{%s=v, =w}' at 'tags' failed to satisfy "
		 "constraint: Map keys must satisfy constraint: [Member must have length less than "
		 "or equal to 128, Member must have length greater than or equal to 1]",
		 k129);
	expect_valid(f, SP_KOP_ADD_TAGS_TO_STREAM, body, want);
	expect_ser(f, SP_KOP_ADD_TAGS_TO_STREAM, "{\"StreamName\":\"s\",\"Tags\":[]}",
		   "Start of list found where not expected");
	expect_ser(f, SP_KOP_ADD_TAGS_TO_STREAM, "{\"StreamName\":\"s\",\"Tags\":{\"a\":1}}",
		   "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be "
		   "converted to an String");
	/* TagKeys: a list of 1..50 strings of 1..128 characters. */
	expect_valid(f, SP_KOP_REMOVE_TAGS_FROM_STREAM, "{\"StreamName\":\"s\"}",
		     "1 validation error detected: Value null at 'tagKeys' failed to satisfy "
		     "constraint: Member must not be null");
	expect_valid(f, SP_KOP_REMOVE_TAGS_FROM_STREAM, "{\"StreamName\":\"s\",\"TagKeys\":[]}",
		     "1 validation error detected: Value '[]' at 'tagKeys' failed to satisfy "
		     "constraint: Member must have length greater than or equal to 1");
	expect_valid(f, SP_KOP_REMOVE_TAGS_FROM_STREAM,
		     "{\"StreamName\":\"s\",\"TagKeys\":[\"a\",\"\",null]}",
		     "1 validation error detected: Value '[a, , null]' at 'tagKeys' failed to "
		     "satisfy constraint: Member must satisfy constraint: [Member must have length "
		     "less than or equal to 128, Member must have length greater than or equal to "
		     "1]");
	size_t len = (size_t)snprintf(body, sizeof(body), "{\"StreamName\":\"s\",\"TagKeys\":[");
	size_t wl = (size_t)snprintf(want, sizeof(want), "1 validation error detected: Value '[");

	for (int i = 0; i < 51; i++) {
		len += (size_t)snprintf(body + len, sizeof(body) - len, "%s\"k\"", i ? "," : "");
		wl += (size_t)snprintf(want + wl, sizeof(want) - wl, "%sk", i ? ", " : "");
	}
	snprintf(body + len, sizeof(body) - len, "]}");
	snprintf(want + wl, sizeof(want) - wl,
		 "]' at 'tagKeys' failed to satisfy constraint: Member must have length less than "
		 "or equal to 50");
	expect_valid(f, SP_KOP_REMOVE_TAGS_FROM_STREAM, body, want);
	expect_ser(f, SP_KOP_REMOVE_TAGS_FROM_STREAM, "{\"StreamName\":\"s\",\"TagKeys\":\"a\"}",
		   "Expected list or null");
	expect_ser(f, SP_KOP_REMOVE_TAGS_FROM_STREAM, "{\"StreamName\":\"s\",\"TagKeys\":{}}",
		   "Start of structure or map found where not expected.");
	expect_ser(f, SP_KOP_REMOVE_TAGS_FROM_STREAM, "{\"StreamName\":\"s\",\"TagKeys\":[true]}",
		   "class java.lang.Boolean can not be converted to an String");
}

static void
test_list_tags_validation(void **state)
{
	struct fx *f = *state;

	/* ListTagsForStream: Limit 1..50, ExclusiveStartTagKey 1..128, in kinesalite's order. */
	expect_valid(f, SP_KOP_LIST_TAGS_FOR_STREAM,
		     "{\"StreamName\":\"s\",\"ExclusiveStartTagKey\":\"\",\"Limit\":51}",
		     "2 validation errors detected: Value '51' at 'limit' failed to satisfy "
		     "constraint: Member must have value less than or equal to 50; Value '' at "
		     "'exclusiveStartTagKey' failed to satisfy constraint: Member must have length "
		     "greater than or equal to 1");
	expect_valid(f, SP_KOP_LIST_TAGS_FOR_STREAM, "{\"StreamName\":\"s\",\"Limit\":0}",
		     "1 validation error detected: Value '0' at 'limit' failed to satisfy "
		     "constraint: Member must have value greater than or equal to 1");
	expect_ser(f, SP_KOP_LIST_TAGS_FOR_STREAM, "{\"StreamName\":\"s\",\"Limit\":\"5\"}",
		   "class java.lang.String can not be converted to an Integer");
}

static void
test_create_with_tags(void **state)
{
	struct fx *f = *state;
	char body[16384];

	/* Stored with the stream (listed while it is still CREATING). */
	expect_body(f, SP_KOP_CREATE_STREAM,
		    "{\"StreamName\":\"c\",\"ShardCount\":1,\"Tags\":{\"team\":\"data\"}}", "",
		    true);
	expect_tags(f, "{\"StreamName\":\"c\"}", "{\"Key\":\"team\",\"Value\":\"data\"}", false);
	/* The rules of AddTagsToStream; nothing is created on a refusal. */
	expect_inval(f, SP_KOP_CREATE_STREAM,
		     "{\"StreamName\":\"d\",\"ShardCount\":1,\"Tags\":{\"a&b\":\"1\"}}", TAG_CHARS);
	expect_inval(f, SP_KOP_CREATE_STREAM,
		     "{\"StreamName\":\"d\",\"ShardCount\":1,\"Tags\":{\"a\":\"%\"}}",
		     "Failed to add tags to stream d under account " T_ACCT TAG_ILLEGAL);
	many_tags(body, sizeof(body), "d", "k", 51);
	snprintf(body + strlen(body) - 1, sizeof(body) - strlen(body) + 1, ",\"ShardCount\":1}");
	expect_inval(f, SP_KOP_CREATE_STREAM, body, TAG_TOO_MANY("d"));
	expect_err(f, SP_KOP_LIST_TAGS_FOR_STREAM, "{\"StreamName\":\"d\"}",
		   "ResourceNotFoundException", "Stream d under account " T_ACCT " not found.");
	many_tags(body, sizeof(body), "d", "k", 50);
	snprintf(body + strlen(body) - 1, sizeof(body) - strlen(body) + 1, ",\"ShardCount\":1}");
	expect_body(f, SP_KOP_CREATE_STREAM, body, "", true);
	/* Deleted with the stream: a new incarnation starts without tags. */
	expect_body(f, SP_KOP_DELETE_STREAM, "{\"StreamName\":\"c\"}", "", true);
	assert_true(sp_ctl_kinesis_applied(f->cat, &f->ctx, version(f)) > 0);
	create(f, "c", 1, false);
	expect_tags(f, "{\"StreamName\":\"c\"}", "", false);
}

/* ---- TagResource, UntagResource, ListTagsForResource ---- */

static void
test_resource_tags(void **state)
{
	struct fx *f = *state;

	create(f, "r", 1, true);
	expect_body(f, SP_KOP_LIST_TAGS_FOR_RESOURCE, "{\"ResourceARN\":\"" T_ARN "r\"}",
		    "{\"Tags\":[]}", false);
	/* ':' is in the resource set; the stream and resource calls see the same tags. */
	expect_quiet(f, SP_KOP_TAG_RESOURCE,
		     "{\"ResourceARN\":\"" T_ARN "r\",\"Tags\":{\"app:name\":\"x\",\"b\":\"\"}}");
	expect_quiet(f, SP_KOP_ADD_TAGS_TO_STREAM, "{\"StreamName\":\"r\",\"Tags\":{\"c\":\"3\"}}");
	expect_body(f, SP_KOP_LIST_TAGS_FOR_RESOURCE, "{\"ResourceARN\":\"" T_ARN "r\"}",
		    "{\"Tags\":[{\"Key\":\"app:name\",\"Value\":\"x\"},{\"Key\":\"b\",\"Value\":"
		    "\"\"},{\"Key\":\"c\",\"Value\":\"3\"}]}",
		    false);
	expect_quiet(f, SP_KOP_UNTAG_RESOURCE,
		     "{\"ResourceARN\":\"" T_ARN "r\",\"TagKeys\":[\"b\",\"zz\"]}");
	expect_tags(f, "{\"StreamName\":\"r\"}",
		    "{\"Key\":\"app:name\",\"Value\":\"x\"},{\"Key\":\"c\",\"Value\":\"3\"}",
		    false);
}

static void
test_resource_tags_errors(void **state)
{
	struct fx *f = *state;

	create(f, "r", 1, true);
	expect_quiet(f, SP_KOP_TAG_RESOURCE,
		     "{\"ResourceARN\":\"" T_ARN "r\",\"Tags\":{\"app:name\":\"x\",\"c\":\"3\"}}");
	expect_inval(f, SP_KOP_TAG_RESOURCE,
		     "{\"ResourceARN\":\"" T_ARN "r\",\"Tags\":{\"AWS:owner\":\"x\"}}",
		     "Tag keys beginning with aws: are reserved for AWS use.");
	expect_inval(f, SP_KOP_TAG_RESOURCE,
		     "{\"ResourceARN\":\"" T_ARN "r\",\"Tags\":{\"a\":\"5%\"}}", TAG_CHARS_RES);
	expect_inval(f, SP_KOP_UNTAG_RESOURCE,
		     "{\"ResourceARN\":\"" T_ARN "r\",\"TagKeys\":[\"a#\"]}", TAG_CHARS_RES);
	expect_err(f, SP_KOP_TAG_RESOURCE,
		   "{\"ResourceARN\":\"" T_ARN "nope\",\"Tags\":{\"a\":\"1\"}}",
		   "ResourceNotFoundException", "Stream nope under account " T_ACCT " not found.");
	expect_err(f, SP_KOP_LIST_TAGS_FOR_RESOURCE,
		   "{\"ResourceARN\":\"arn:aws:kinesis:eu-west-1:" T_ACCT ":stream/r\"}",
		   "ResourceNotFoundException", "Stream r under account " T_ACCT " not found.");
	expect_err(f, SP_KOP_LIST_TAGS_FOR_RESOURCE,
		   "{\"ResourceARN\":\"" T_ARN "r/consumer/c:1700000000\"}",
		   "ResourceNotFoundException",
		   "Consumer " T_ARN "r/consumer/c:1700000000 under account " T_ACCT " not found.");
	expect_err(f, SP_KOP_UNTAG_RESOURCE,
		   "{\"ResourceARN\":\"arn:aws:kinesis:us-east-1:" T_ACCT ":x/stream/r\","
		   "\"TagKeys\":[\"a\"]}",
		   "ResourceNotFoundException",
		   "Resource arn:aws:kinesis:us-east-1:" T_ACCT ":x/stream/r under account " T_ACCT
		   " not found.");
	/* Validation: the resource pattern and both members' presence. */
	expect_valid(f, SP_KOP_TAG_RESOURCE, "{}",
		     "2 validation errors detected: Value null at 'tags' failed to satisfy "
		     "constraint: Member must not be null; Value null at 'resourceARN' failed to "
		     "satisfy constraint: Member must not be null");
	expect_valid(f, SP_KOP_LIST_TAGS_FOR_RESOURCE, "{\"ResourceARN\":\"arn:aws:s3:::b\"}",
		     "1 validation error detected: Value 'arn:aws:s3:::b' at 'resourceARN' failed "
		     "to satisfy constraint: Member must satisfy regular expression pattern: "
		     "arn:aws.*:kinesis:.*:\\d{12}:.*stream/\\S+");
	expect_valid(f, SP_KOP_UNTAG_RESOURCE, "{\"ResourceARN\":\"" T_ARN "\",\"TagKeys\":[]}",
		     "2 validation errors detected: Value '[]' at 'tagKeys' failed to satisfy "
		     "constraint: Member must have length greater than or equal to 1; Value '" T_ARN
		     "' at 'resourceARN' failed to satisfy constraint: Member must satisfy regular "
		     "expression pattern: arn:aws.*:kinesis:.*:\\d{12}:.*stream/\\S+");
	expect_valid(f, SP_KOP_LIST_TAGS_FOR_RESOURCE,
		     "{\"ResourceARN\":\"arn:aws:kinesis:us-east-1:12345678901:stream/r\"}",
		     "1 validation error detected: Value 'arn:aws:kinesis:us-east-1:12345678901:"
		     "stream/r' at 'resourceARN' failed to satisfy constraint: Member must satisfy "
		     "regular expression pattern: arn:aws.*:kinesis:.*:\\d{12}:.*stream/\\S+");
	/* A resource has 50 tags at most, as a stream. */
	char body[8192];

	/* with app:name and c: 50 */
	many_tags(body, sizeof(body), "r", "k", 48);
	expect_quiet(f, SP_KOP_ADD_TAGS_TO_STREAM, body);
	expect_inval(f, SP_KOP_TAG_RESOURCE,
		     "{\"ResourceARN\":\"" T_ARN "r\",\"Tags\":{\"z\":\"1\"}}",
		     "Failed to tag resource " T_ARN "r under account " T_ACCT " because a given "
		     "resource cannot have more than 50 tags associated with it.");
}

/* ---- Enhanced monitoring ---- */

static void
expect_metrics_shown(struct fx *f, const char *name, const char *list)
{
	char body[128];
	char want[1024];
	json_t *j;
	json_error_t jerr;

	snprintf(want, sizeof(want), "[{\"ShardLevelMetrics\":%s}]", list);
	snprintf(body, sizeof(body), "{\"StreamName\":\"%s\"}", name);
	for (int k = 0; k < 2; k++) {
		call(f, k == 0 ? SP_KOP_DESCRIBE_STREAM : SP_KOP_DESCRIBE_STREAM_SUMMARY, body);
		assert_int_equal(f->rep.err, SP_KERR_NONE);
		j = json_loadb(f->rep.body, f->rep.body_len, 0, &jerr);
		assert_non_null(j);
		json_t *d =
		    json_object_get(j, k == 0 ? "StreamDescription" : "StreamDescriptionSummary");
		char *em = json_dumps(json_object_get(d, "EnhancedMonitoring"), JSON_COMPACT);

		assert_non_null(em);
		assert_string_equal(em, want);
		free(em);
		json_decref(j);
	}
}

static void
expect_monitoring(struct fx *f, enum sp_kop op, const char *metrics, const char *cur,
		  const char *desired, bool changed)
{
	char body[512];
	char want[2048];

	snprintf(body, sizeof(body), "{\"StreamName\":\"m\",\"ShardLevelMetrics\":%s}", metrics);
	snprintf(want, sizeof(want),
		 "{\"StreamName\":\"m\",\"StreamARN\":\"" T_ARN "m\",\"CurrentShardLevelMetrics\":"
		 "%s,\"DesiredShardLevelMetrics\":%s}",
		 cur, desired);
	expect_body(f, op, body, want, changed);
}

static void
test_monitoring(void **state)
{
	struct fx *f = *state;
	json_t *snap;

	create(f, "m", 2, true);
	expect_metrics_shown(f, "m", "[]");
	expect_monitoring(f, SP_KOP_ENABLE_ENHANCED_MONITORING,
			  "[\"OutgoingBytes\",\"IncomingBytes\"]", "[]",
			  "[\"IncomingBytes\",\"OutgoingBytes\"]", true);
	expect_metrics_shown(f, "m", "[\"IncomingBytes\",\"OutgoingBytes\"]");
	/* The same set again: no bump, no push. */
	expect_monitoring(f, SP_KOP_ENABLE_ENHANCED_MONITORING, "[\"IncomingBytes\"]",
			  "[\"IncomingBytes\",\"OutgoingBytes\"]",
			  "[\"IncomingBytes\",\"OutgoingBytes\"]", false);
	/* The snapshot carries the bit set. */
	assert_int_equal(sp_cat_snapshot_json(f->cat, &snap), 0);
	assert_int_equal(json_integer_value(json_object_get(
			     json_array_get(json_object_get(snap, "streams"), 0), "shard_metrics")),
			 SP_K_METRIC_INCOMING_BYTES | SP_K_METRIC_OUTGOING_BYTES);
	json_decref(snap);
	expect_monitoring(f, SP_KOP_ENABLE_ENHANCED_MONITORING, "[\"ALL\"]",
			  "[\"IncomingBytes\",\"OutgoingBytes\"]", ALL_METRICS, true);
	expect_metrics_shown(f, "m", ALL_METRICS);
	expect_monitoring(f, SP_KOP_DISABLE_ENHANCED_MONITORING,
			  "[\"IteratorAgeMilliseconds\",\"IncomingRecords\",\"IncomingRecords\"]",
			  ALL_METRICS,
			  "[\"IncomingBytes\",\"OutgoingBytes\",\"OutgoingRecords\","
			  "\"WriteProvisionedThroughputExceeded\","
			  "\"ReadProvisionedThroughputExceeded\"]",
			  true);
	expect_monitoring(f, SP_KOP_DISABLE_ENHANCED_MONITORING, "[\"ALL\"]",
			  "[\"IncomingBytes\",\"OutgoingBytes\",\"OutgoingRecords\","
			  "\"WriteProvisionedThroughputExceeded\","
			  "\"ReadProvisionedThroughputExceeded\"]",
			  "[]", true);
	expect_monitoring(f, SP_KOP_DISABLE_ENHANCED_MONITORING, "[\"IncomingBytes\"]", "[]", "[]",
			  false);
	expect_metrics_shown(f, "m", "[]");
	/* By ARN. */
	expect_body(
	    f, SP_KOP_ENABLE_ENHANCED_MONITORING,
	    "{\"StreamARN\":\"" T_ARN "m\",\"ShardLevelMetrics\":[\"IteratorAgeMilliseconds\"]}",
	    "{\"StreamName\":\"m\",\"StreamARN\":\"" T_ARN "m\",\"CurrentShardLevelMetrics\":"
	    "[],\"DesiredShardLevelMetrics\":[\"IteratorAgeMilliseconds\"]}",
	    true);
}

static void
test_monitoring_errors(void **state)
{
	struct fx *f = *state;

	expect_err(f, SP_KOP_ENABLE_ENHANCED_MONITORING,
		   "{\"StreamName\":\"m\",\"ShardLevelMetrics\":[\"ALL\"]}",
		   "ResourceNotFoundException", "Stream m under account " T_ACCT " not found.");
	create(f, "m", 1, false);
	expect_err(f, SP_KOP_DISABLE_ENHANCED_MONITORING,
		   "{\"StreamName\":\"m\",\"ShardLevelMetrics\":[\"ALL\"]}",
		   "ResourceInUseException",
		   "Stream m under account " T_ACCT " not ACTIVE, instead in state CREATING");
	expect_inval(f, SP_KOP_ENABLE_ENHANCED_MONITORING, "{\"ShardLevelMetrics\":[\"ALL\"]}",
		     "Neither StreamName nor StreamARN was provided.");
	expect_valid(f, SP_KOP_ENABLE_ENHANCED_MONITORING, "{\"StreamName\":\"m\"}",
		     "1 validation error detected: Value null at 'shardLevelMetrics' failed to "
		     "satisfy constraint: Member must not be null");
	expect_valid(f, SP_KOP_ENABLE_ENHANCED_MONITORING,
		     "{\"StreamName\":\"m\",\"ShardLevelMetrics\":[]}",
		     "1 validation error detected: Value '[]' at 'shardLevelMetrics' failed to "
		     "satisfy constraint: Member must have length greater than or equal to 1");
	expect_valid(f, SP_KOP_DISABLE_ENHANCED_MONITORING,
		     "{\"StreamName\":\"m\",\"ShardLevelMetrics\":[\"ALL\",\"Bytes\"]}",
		     "1 validation error detected: Value '[ALL, Bytes]' at 'shardLevelMetrics' "
		     "failed to satisfy constraint: Member must satisfy constraint: [Member must "
		     "satisfy enum value set: " METRICS_ENUM "]");
	expect_valid(
	    f, SP_KOP_ENABLE_ENHANCED_MONITORING,
	    "{\"StreamName\":\"m\",\"ShardLevelMetrics\":[\"ALL\",\"ALL\",\"ALL\",\"ALL\","
	    "\"ALL\",\"ALL\",\"ALL\",\"all\"]}",
	    "2 validation errors detected: Value '[ALL, ALL, ALL, ALL, ALL, ALL, ALL, all]' "
	    "at 'shardLevelMetrics' failed to satisfy constraint: Member must have length "
	    "less than or equal to 7; Value '[ALL, ALL, ALL, ALL, ALL, ALL, ALL, all]' at "
	    "'shardLevelMetrics' failed to satisfy constraint: Member must satisfy "
	    "constraint: [Member must satisfy enum value set: " METRICS_ENUM "]");
	expect_ser(f, SP_KOP_ENABLE_ENHANCED_MONITORING,
		   "{\"StreamName\":\"m\",\"ShardLevelMetrics\":\"ALL\"}", "Expected list or null");
}

/* ---- DescribeLimits ---- */

static void
test_describe_limits(void **state)
{
	struct fx *f = *state;

	expect_body(f, SP_KOP_DESCRIBE_LIMITS, "{}",
		    "{\"ShardLimit\":500,\"OpenShardCount\":0,\"OnDemandStreamCount\":0,"
		    "\"OnDemandStreamCountLimit\":50}",
		    false);
	create(f, "a", 3, true);
	expect_body(f, SP_KOP_CREATE_STREAM,
		    "{\"StreamName\":\"b\",\"StreamModeDetails\":{\"StreamMode\":\"ON_DEMAND\"}}",
		    "", true);
	f->ctx.shard_limit = 20;
	/* Unknown members are ignored; CREATING streams count as CreateStream counts them. */
	expect_body(f, SP_KOP_DESCRIBE_LIMITS, "{\"Whatever\":1}",
		    "{\"ShardLimit\":20,\"OpenShardCount\":7,\"OnDemandStreamCount\":1,"
		    "\"OnDemandStreamCountLimit\":50}",
		    false);
	expect_err(f, SP_KOP_DESCRIBE_LIMITS, "[]", "SerializationException", "");
	expect_err(f, SP_KOP_DESCRIBE_LIMITS, "", "SerializationException", "");
}

/* ---- The catalog functions' own contract ---- */

static int
count_tag(void *arg, const char *key, const char *value)
{
	(void)key;
	(void)value;
	(*(int *)arg)++;
	return 0;
}

static void
test_catalog_tags(void **state)
{
	struct fx *f = *state;
	const struct sp_cat_tag t[] = {{"a", "1"}, {"b", NULL}};
	const char *const keys[] = {"a"};
	int n = 0;

	assert_int_equal(sp_cat_tags_put(f->cat, "x", t, 2, 50), -ENOENT);
	assert_int_equal(sp_cat_tags_remove(f->cat, "x", keys, 1), -ENOENT);
	assert_int_equal(sp_cat_stream_set_metrics(f->cat, "x", 1), -ENOENT);
	create(f, "s", 1, true);
	int64_t v = version(f);

	assert_int_equal(sp_cat_tags_put(f->cat, "s", t, 2, 1), -E2BIG);
	assert_int_equal(sp_cat_tags_foreach(f->cat, "s", NULL, count_tag, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(sp_cat_tags_put(f->cat, "s", t, 2, 2), 0);
	assert_int_equal(sp_cat_tags_remove(f->cat, "s", keys, 1), 0);
	assert_int_equal(sp_cat_tags_foreach(f->cat, "s", NULL, count_tag, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(version(f), v);
	assert_int_equal(sp_cat_stream_set_metrics(f->cat, "s", SP_K_METRIC_ALL + 1), -EINVAL);
	assert_int_equal(sp_cat_stream_set_metrics(f->cat, "s", SP_K_METRIC_ALL), 1);
	assert_int_equal(sp_cat_stream_set_metrics(f->cat, "s", SP_K_METRIC_ALL), 0);
	assert_int_equal(version(f), v + 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_tags_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tags_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tags_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tags_validation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_list_tags_validation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_with_tags, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resource_tags, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resource_tags_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_monitoring, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_monitoring_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_describe_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_catalog_tags, setup, teardown),
	};

	sp_ctl_log_set_level(SP_CTL_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
