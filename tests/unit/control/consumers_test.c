/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the enhanced fan-out consumer operations (control/ctl_streams.c) and their
 * catalog (control/catalog_consumers.c), in process: RegisterStreamConsumer,
 * DeregisterStreamConsumer, DescribeStreamConsumer, ListStreamConsumers, DeleteStream's
 * EnforceConsumerDeletion and DescribeStreamSummary's ConsumerCount. Every rule and error with
 * its exact __type and message, the timed lifecycle (the clock is the context's now_ms),
 * paging and NextToken expiry, the snapshot's "consumers", and a restart (a file catalog closed
 * and opened again) in the middle of CREATING and DELETING, plus the v4 -> v5 migration.
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
#include <sqlite3.h>

#include "catalog.h"
#include "ctl_log.h"
#include "ctl_streams.h"
#include "kin_fx.h"

#define T_SARN    "arn:aws:kinesis:us-east-1:" T_ACCT ":stream/s"
#define T_SEC     "1700000000" /* T_NOW in whole seconds: the ARN suffix */
#define T_CARN(n) T_SARN "/consumer/" n ":" T_SEC
#define ACTIVATE  1000
#define DELETE    1000
#define CARN_RE                                                                                    \
	"^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/[a-zA-Z0-9_.-]+:" \
	"[0-9]+"

static int
setup_mem(void **state)
{
	int rc = fx_setup(state, 2, false);
	struct fx *f = *state;

	f->ctx.consumer_activate_ms = ACTIVATE;
	f->ctx.consumer_delete_ms = DELETE;
	return rc;
}

static int
setup_file(void **state)
{
	int rc = fx_setup(state, 2, true);
	struct fx *f = *state;

	f->ctx.consumer_activate_ms = ACTIVATE;
	f->ctx.consumer_delete_ms = DELETE;
	return rc;
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

/* Take the consumer steps due at the context's now (what the timer does in spate-control). */
static int
tick(struct fx *f)
{
	int rc = sp_cat_consumers_advance(f->cat, f->ctx.now_ms);

	assert_true(rc >= 0);
	return rc;
}

/* Success with exactly this body ("" for none); changed: catalog_changed and one bump. */
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
	if (strcmp(f->rep.body, want) != 0) {
		fail_msg("%s\n got: %s\nwant: %s", body, f->rep.body, want);
	}
	assert_int_equal(f->rep.catalog_changed, changed);
	assert_int_equal(version(f) > before, changed);
}

/* RegisterStreamConsumer of name on stream s; returns its ConsumerARN (static buffer). */
static const char *
reg(struct fx *f, const char *name)
{
	static char arn[SP_CAT_CONSUMER_ARN_MAX_BYTES];
	char body[256];
	int64_t before = version(f);

	snprintf(body, sizeof(body), "{\"StreamARN\":\"" T_SARN "\",\"ConsumerName\":\"%s\"}",
		 name);
	json_t *j = expect_ok(f, SP_KOP_REGISTER_STREAM_CONSUMER, body);
	json_t *c = json_object_get(j, "Consumer");

	assert_true(f->rep.catalog_changed);
	assert_true(version(f) > before);
	assert_string_equal(json_string_value(json_object_get(c, "ConsumerStatus")), "CREATING");
	snprintf(arn, sizeof(arn), "%s", json_string_value(json_object_get(c, "ConsumerARN")));
	json_decref(j);
	return arn;
}

/* The ConsumerStatus DescribeStreamConsumer shows for ARN arn. */
static void
expect_status(struct fx *f, const char *arn, const char *status)
{
	char body[512];

	snprintf(body, sizeof(body), "{\"ConsumerARN\":\"%s\"}", arn);
	json_t *j = expect_ok(f, SP_KOP_DESCRIBE_STREAM_CONSUMER, body);
	json_t *d = json_object_get(j, "ConsumerDescription");

	assert_string_equal(json_string_value(json_object_get(d, "ConsumerStatus")), status);
	json_decref(j);
}

static int64_t
summary_count(struct fx *f)
{
	json_t *j = expect_ok(f, SP_KOP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"s\"}");
	int64_t n = json_integer_value(
	    json_object_get(json_object_get(j, "StreamDescriptionSummary"), "ConsumerCount"));

	json_decref(j);
	return n;
}

/* ---- RegisterStreamConsumer, DescribeStreamConsumer and the lifecycle ---- */

static void
test_register_describe_lifecycle(void **state)
{
	struct fx *f = *state;

	fx_create(f, "s", 1);
	expect_body(f, SP_KOP_REGISTER_STREAM_CONSUMER,
		    "{\"StreamARN\":\"" T_SARN "\",\"ConsumerName\":\"c1\"}",
		    "{\"Consumer\":{\"ConsumerName\":\"c1\",\"ConsumerARN\":\"" T_CARN(
			"c1") "\","
			      "\"ConsumerStatus\":\"CREATING\",\"ConsumerCreationTimestamp\":"
			      "1700000000.123}}",
		    true);
	/* by ARN, by StreamARN + name, and by all three: the same description */
	const char *desc =
	    "{\"ConsumerDescription\":{\"ConsumerName\":\"c1\",\"ConsumerARN\":\"" T_CARN(
		"c1") "\",\"ConsumerStatus\":\"CREATING\",\"ConsumerCreationTimestamp\":1700000000."
		      "123,"
		      "\"StreamARN\":\"" T_SARN "\"}}";

	expect_body(f, SP_KOP_DESCRIBE_STREAM_CONSUMER, "{\"ConsumerARN\":\"" T_CARN("c1") "\"}",
		    desc, false);
	expect_body(f, SP_KOP_DESCRIBE_STREAM_CONSUMER,
		    "{\"StreamARN\":\"" T_SARN "\",\"ConsumerName\":\"c1\"}", desc, false);
	expect_body(f, SP_KOP_DESCRIBE_STREAM_CONSUMER,
		    "{\"StreamARN\":\"" T_SARN
		    "\",\"ConsumerName\":\"c1\",\"ConsumerARN\":\"" T_CARN("c1") "\"}",
		    desc, false);
	assert_int_equal(summary_count(f), 1);

	/* one ms before its time still CREATING; at its time ACTIVE, and the catalog moved */
	f->ctx.now_ms = T_NOW + ACTIVATE - 1;
	expect_status(f, T_CARN("c1"), "CREATING");
	assert_false(f->rep.catalog_changed);
	f->ctx.now_ms = T_NOW + ACTIVATE;
	int64_t v = version(f);

	expect_status(f, T_CARN("c1"), "ACTIVE");
	assert_true(f->rep.catalog_changed);
	assert_int_equal(version(f), v + 1);

	/* deregister: DELETING, still described and counted out; gone after its delay */
	expect_body(f, SP_KOP_DEREGISTER_STREAM_CONSUMER, "{\"ConsumerARN\":\"" T_CARN("c1") "\"}",
		    "", true);
	expect_status(f, T_CARN("c1"), "DELETING");
	assert_int_equal(summary_count(f), 0);
	/* again while DELETING: succeeds, changes nothing */
	expect_body(f, SP_KOP_DEREGISTER_STREAM_CONSUMER,
		    "{\"StreamARN\":\"" T_SARN "\",\"ConsumerName\":\"c1\"}", "", false);
	f->ctx.now_ms += DELETE - 1;
	assert_int_equal(tick(f), 0);
	f->ctx.now_ms += 1;
	/* a request takes the due step itself (and says the catalog moved), error or not */
	call(f, SP_KOP_DESCRIBE_STREAM_CONSUMER, "{\"ConsumerARN\":\"" T_CARN("c1") "\"}");
	assert_int_equal(f->rep.err, SP_KERR_RESOURCE_NOT_FOUND);
	assert_true(f->rep.catalog_changed);
	expect_err(f, SP_KOP_DESCRIBE_STREAM_CONSUMER, "{\"ConsumerARN\":\"" T_CARN("c1") "\"}",
		   "ResourceNotFoundException",
		   "Consumer " T_CARN("c1") " under account " T_ACCT " not found.");
	assert_int_equal(tick(f), 0);
}

static void
test_reregister_new_arn(void **state)
{
	struct fx *f = *state;
	char first[SP_CAT_CONSUMER_ARN_MAX_BYTES];

	fx_create(f, "s", 1);
	snprintf(first, sizeof(first), "%s", reg(f, "c"));
	assert_string_equal(first, T_CARN("c"));
	/* a name in use, in any status, cannot be registered again */
	expect_err(f, SP_KOP_REGISTER_STREAM_CONSUMER,
		   "{\"StreamARN\":\"" T_SARN "\",\"ConsumerName\":\"c\"}",
		   "ResourceInUseException",
		   "Consumer c already exists for stream s under account " T_ACCT ".");
	expect_body(f, SP_KOP_DEREGISTER_STREAM_CONSUMER, "{\"ConsumerARN\":\"" T_CARN("c") "\"}",
		    "", true);
	expect_err(f, SP_KOP_REGISTER_STREAM_CONSUMER,
		   "{\"StreamARN\":\"" T_SARN "\",\"ConsumerName\":\"c\"}",
		   "ResourceInUseException",
		   "Consumer c already exists for stream s under account " T_ACCT ".");
	f->ctx.now_ms += DELETE + 5000;
	const char *second = reg(f, "c");

	assert_string_not_equal(second, first);
	assert_string_equal(second, T_SARN "/consumer/c:1700000006");
	/* the old ARN names nothing */
	expect_err(f, SP_KOP_DESCRIBE_STREAM_CONSUMER, "{\"ConsumerARN\":\"" T_CARN("c") "\"}",
		   "ResourceNotFoundException",
		   "Consumer " T_CARN("c") " under account " T_ACCT " not found.");
}

static void
test_register_limits(void **state)
{
	struct fx *f = *state;
	char name[16];

	fx_create(f, "s", 1);
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "c%02d", i);
		reg(f, name);
	}
	expect_err(f, SP_KOP_REGISTER_STREAM_CONSUMER,
		   "{\"StreamARN\":\"" T_SARN "\",\"ConsumerName\":\"c05\"}",
		   "LimitExceededException",
		   "Stream s under account " T_ACCT " already has 5 consumers in CREATING state; "
		   "wait for one to become ACTIVE.");
	for (int i = 5; i < 20; i++) {
		f->ctx.now_ms += ACTIVATE; /* the earlier ones are ACTIVE by now */
		snprintf(name, sizeof(name), "c%02d", i);
		reg(f, name);
	}
	f->ctx.now_ms += ACTIVATE;
	call(f, SP_KOP_LIST_STREAM_CONSUMERS, "{\"StreamARN\":\"" T_SARN "\"}"); /* take steps */
	expect_err(
	    f, SP_KOP_REGISTER_STREAM_CONSUMER,
	    "{\"StreamARN\":\"" T_SARN "\",\"ConsumerName\":\"c20\"}", "LimitExceededException",
	    "Stream s under account " T_ACCT " already has 20 registered consumers, the most "
	    "a stream may have.");
	assert_int_equal(summary_count(f), 20);
	/* a DELETING consumer still counts until it is gone */
	expect_body(f, SP_KOP_DEREGISTER_STREAM_CONSUMER,
		    "{\"StreamARN\":\"" T_SARN "\",\"ConsumerName\":\"c00\"}", "", true);
	expect_err(
	    f, SP_KOP_REGISTER_STREAM_CONSUMER,
	    "{\"StreamARN\":\"" T_SARN "\",\"ConsumerName\":\"c20\"}", "LimitExceededException",
	    "Stream s under account " T_ACCT " already has 20 registered consumers, the most "
	    "a stream may have.");
	f->ctx.now_ms += DELETE;
	reg(f, "c20");
	/* another stream has its own count */
	fx_create(f, "t", 1);
	expect_body(f, SP_KOP_REGISTER_STREAM_CONSUMER,
		    "{\"StreamARN\":\"arn:aws:kinesis:us-east-1:" T_ACCT ":stream/t\","
		    "\"ConsumerName\":\"c00\"}",
		    "{\"Consumer\":{\"ConsumerName\":\"c00\",\"ConsumerARN\":\"arn:aws:kinesis:"
		    "us-east-1:" T_ACCT ":stream/t/consumer/c00:1700000017\",\"ConsumerStatus\":"
		    "\"CREATING\",\"ConsumerCreationTimestamp\":1700000017.123}}",
		    true);
}

static void
test_register_errors(void **state)
{
	struct fx *f = *state;

	expect_err(f, SP_KOP_REGISTER_STREAM_CONSUMER,
		   "{\"StreamARN\":\"" T_SARN "\",\"ConsumerName\":\"c\"}",
		   "ResourceNotFoundException", "Stream s under account " T_ACCT " not found.");
	/* a stream of another region is another stream */
	fx_create(f, "s", 1);
	expect_err(f, SP_KOP_REGISTER_STREAM_CONSUMER,
		   "{\"StreamARN\":\"arn:aws:kinesis:eu-west-1:" T_ACCT ":stream/s\","
		   "\"ConsumerName\":\"c\"}",
		   "ResourceNotFoundException", "Stream s under account " T_ACCT " not found.");
	/* CREATING streams take no consumers */
	assert_null(expect_ok(f, SP_KOP_CREATE_STREAM, "{\"StreamName\":\"n\",\"ShardCount\":1}"));
	expect_err(f, SP_KOP_REGISTER_STREAM_CONSUMER,
		   "{\"StreamARN\":\"arn:aws:kinesis:us-east-1:" T_ACCT ":stream/n\","
		   "\"ConsumerName\":\"c\"}",
		   "ResourceInUseException",
		   "Stream n under account " T_ACCT " not ACTIVE, instead in state CREATING");
	/* validation: every failure, the model's order */
	expect_valid(f, SP_KOP_REGISTER_STREAM_CONSUMER, "{}",
		     "2 validation errors detected: Value null at 'streamARN' failed to satisfy "
		     "constraint: Member must not be null; Value null at 'consumerName' failed to "
		     "satisfy constraint: Member must not be null");
	expect_valid(f, SP_KOP_REGISTER_STREAM_CONSUMER,
		     "{\"StreamARN\":\"" T_SARN "\",\"ConsumerName\":\"a b\"}",
		     "1 validation error detected: Value 'a b' at 'consumerName' failed to satisfy "
		     "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
	expect_valid(
	    f, SP_KOP_REGISTER_STREAM_CONSUMER, "{\"StreamARN\":\"nope\",\"ConsumerName\":\"\"}",
	    "3 validation errors detected: Value 'nope' at 'streamARN' failed to satisfy "
	    "constraint: Member must satisfy regular expression pattern: "
	    "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+; Value '' at 'consumerName' failed to "
	    "satisfy constraint: Member must satisfy regular expression pattern: "
	    "[a-zA-Z0-9_.-]+; Value '' at 'consumerName' failed to satisfy constraint: "
	    "Member must have length greater than or equal to 1");
	expect_ser(f, SP_KOP_REGISTER_STREAM_CONSUMER,
		   "{\"StreamARN\":\"" T_SARN "\",\"ConsumerName\":5}",
		   "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be "
		   "converted to an String");
	/* tags: the resource family's characters, at most 50 */
	expect_inval(f, SP_KOP_REGISTER_STREAM_CONSUMER,
		     "{\"StreamARN\":\"" T_SARN "\",\"ConsumerName\":\"c\",\"Tags\":{\"a%\":\"\"}}",
		     "Some tags contain invalid characters. Valid characters: Unicode letters, "
		     "digits, white space, _ . : / = + - @.");
}

static void
test_register_tags(void **state)
{
	struct fx *f = *state;

	fx_create(f, "s", 1);
	json_t *j = expect_ok(f, SP_KOP_REGISTER_STREAM_CONSUMER,
			      "{\"StreamARN\":\"" T_SARN "\",\"ConsumerName\":\"c\","
			      "\"Tags\":{\"b\":\"2\",\"a\":\"1\"}}");

	assert_non_null(j);
	json_decref(j);
	expect_body(f, SP_KOP_LIST_TAGS_FOR_RESOURCE, "{\"ResourceARN\":\"" T_CARN("c") "\"}",
		    "{\"Tags\":[{\"Key\":\"a\",\"Value\":\"1\"},{\"Key\":\"b\",\"Value\":\"2\"}]}",
		    false);
	/* the stream's own tags are apart */
	expect_body(f, SP_KOP_LIST_TAGS_FOR_RESOURCE, "{\"ResourceARN\":\"" T_SARN "\"}",
		    "{\"Tags\":[]}", false);
	expect_err(f, SP_KOP_LIST_TAGS_FOR_RESOURCE,
		   "{\"ResourceARN\":\"" T_SARN "/consumer/x:1\"}", "ResourceNotFoundException",
		   "Consumer " T_SARN "/consumer/x:1 under account " T_ACCT " not found.");
}

/* ---- Deregister/DescribeStreamConsumer: how a consumer is named ---- */

static void
test_consumer_selector(void **state)
{
	struct fx *f = *state;
	static const enum sp_kop ops[] = {SP_KOP_DESCRIBE_STREAM_CONSUMER,
					  SP_KOP_DEREGISTER_STREAM_CONSUMER};

	fx_create(f, "s", 1);
	fx_create(f, "t", 1);
	reg(f, "c");
	for (size_t i = 0; i < SP_ARRAY_SIZE(ops); i++) {
		enum sp_kop op = ops[i];

		expect_inval(f, op, "{}",
			     "Either ConsumerARN or both StreamARN and ConsumerName must be "
			     "provided.");
		expect_inval(f, op, "{\"StreamARN\":\"" T_SARN "\"}",
			     "Either ConsumerARN or both StreamARN and ConsumerName must be "
			     "provided.");
		expect_inval(f, op, "{\"ConsumerName\":\"c\"}",
			     "Either ConsumerARN or both StreamARN and ConsumerName must be "
			     "provided.");
		expect_inval(
		    f, op, "{\"ConsumerARN\":\"" T_CARN("c") "\",\"ConsumerName\":\"d\"}",
		    "ConsumerName d does not match the consumer of ConsumerARN " T_CARN("c") ".");
		expect_inval(f, op,
			     "{\"ConsumerARN\":\"" T_CARN("c") "\",\"StreamARN\":\"arn:aws:kinesis:"
							       "us-east-1:" T_ACCT ":stream/t\"}",
			     "StreamARN arn:aws:kinesis:us-east-1:" T_ACCT
			     ":stream/t does not match "
			     "the stream of ConsumerARN " T_CARN("c") ".");
		expect_err(f, op, "{\"ConsumerARN\":\"" T_SARN "/consumer/c:1\"}",
			   "ResourceNotFoundException",
			   "Consumer " T_SARN "/consumer/c:1 under account " T_ACCT " not found.");
		expect_err(f, op, "{\"StreamARN\":\"" T_SARN "\",\"ConsumerName\":\"d\"}",
			   "ResourceNotFoundException",
			   "Consumer d of stream s under account " T_ACCT " not found.");
		expect_err(f, op,
			   "{\"StreamARN\":\"arn:aws:kinesis:us-east-1:" T_ACCT ":stream/u\","
			   "\"ConsumerName\":\"c\"}",
			   "ResourceNotFoundException",
			   "Stream u under account " T_ACCT " not found.");
		/* the consumer of t named c does not exist: names are per stream */
		expect_err(f, op,
			   "{\"StreamARN\":\"arn:aws:kinesis:us-east-1:" T_ACCT ":stream/t\","
			   "\"ConsumerName\":\"c\"}",
			   "ResourceNotFoundException",
			   "Consumer c of stream t under account " T_ACCT " not found.");
		expect_valid(
		    f, op, "{\"ConsumerARN\":\"" T_SARN "/consumer/c\"}",
		    "1 validation error detected: Value '" T_SARN "/consumer/c' at "
		    "'consumerARN' failed to satisfy constraint: Member must satisfy regular "
		    "expression pattern: " CARN_RE);
		expect_valid(
		    f, op, "{\"ConsumerARN\":\"" T_SARN "/consumer/c d:1\"}",
		    "1 validation error detected: Value '" T_SARN "/consumer/c d:1' at "
		    "'consumerARN' failed to satisfy constraint: Member must satisfy regular "
		    "expression pattern: " CARN_RE);
		expect_valid(
		    f, op,
		    "{\"ConsumerARN\":\"arn:aws:kinesis:us-east-1:1234:stream/s/consumer/c:1\"}",
		    "1 validation error detected: Value 'arn:aws:kinesis:us-east-1:1234:"
		    "stream/s/consumer/c:1' at 'consumerARN' failed to satisfy constraint: "
		    "Member must satisfy regular expression pattern: " CARN_RE);
	}
	/* a well-formed ARN of any partition shape passes step 11 and is simply not found */
	expect_err(f, SP_KOP_DESCRIBE_STREAM_CONSUMER,
		   "{\"ConsumerARN\":\"arn:aws-cn:kinesis:x:" T_ACCT
		   ":foo/stream/s/consumer/c:9\"}",
		   "ResourceNotFoundException",
		   "Consumer arn:aws-cn:kinesis:x:" T_ACCT ":foo/stream/s/consumer/c:9 under "
		   "account " T_ACCT " not found.");
}

/* ---- ListStreamConsumers ---- */

static char g_token[4096];

/* ListStreamConsumers with body; the names listed (comma-joined) and the NextToken. */
static void
list(struct fx *f, const char *body, const char *want_names, bool more)
{
	char names[512] = "";
	size_t i;
	json_t *c;
	json_t *j = expect_ok(f, SP_KOP_LIST_STREAM_CONSUMERS, body);
	json_t *tok = json_object_get(j, "NextToken");

	json_array_foreach(json_object_get(j, "Consumers"), i, c)
	{
		size_t n = strlen(names);

		snprintf(names + n, sizeof(names) - n, "%s%s", i ? "," : "",
			 json_string_value(json_object_get(c, "ConsumerName")));
		assert_non_null(json_object_get(c, "ConsumerARN"));
		assert_non_null(json_object_get(c, "ConsumerStatus"));
		assert_true(json_is_number(json_object_get(c, "ConsumerCreationTimestamp")));
	}
	assert_string_equal(names, want_names);
	assert_int_equal(tok != NULL, more);
	snprintf(g_token, sizeof(g_token), "%s", tok != NULL ? json_string_value(tok) : "");
	json_decref(j);
}

/* The next page after g_token, max a page (0: MaxResults absent). */
static void
list_next(struct fx *f, int max, const char *want_names, bool more)
{
	char body[4300];
	char mr[32] = "";

	if (max > 0) {
		snprintf(mr, sizeof(mr), ",\"MaxResults\":%d", max);
	}
	snprintf(body, sizeof(body), "{\"StreamARN\":\"" T_SARN "\",\"NextToken\":\"%s\"%s}",
		 g_token, mr);
	list(f, body, want_names, more);
}

static void
test_list_paging(void **state)
{
	struct fx *f = *state;

	fx_create(f, "s", 1);
	expect_body(f, SP_KOP_LIST_STREAM_CONSUMERS, "{\"StreamARN\":\"" T_SARN "\"}",
		    "{\"Consumers\":[]}", false);
	reg(f, "e");
	reg(f, "a");
	reg(f, "d");
	f->ctx.now_ms += ACTIVATE;
	reg(f, "b"); /* CREATING while the others are ACTIVE: every status is listed */
	reg(f, "c");
	list(f, "{\"StreamARN\":\"" T_SARN "\"}", "a,b,c,d,e", false);
	list(f, "{\"StreamARN\":\"" T_SARN "\",\"MaxResults\":2}", "a,b", true);
	list_next(f, 2, "c,d", true);
	list_next(f, 2, "e", false);
	list(f, "{\"StreamARN\":\"" T_SARN "\",\"MaxResults\":10000}", "a,b,c,d,e", false);
	list(f, "{\"StreamARN\":\"" T_SARN "\",\"MaxResults\":5}", "a,b,c,d,e", false);
	list(f, "{\"StreamARN\":\"" T_SARN "\",\"MaxResults\":4}", "a,b,c,d", true);
	/* the stream's creation second matches; another second is another stream */
	list(f, "{\"StreamARN\":\"" T_SARN "\",\"StreamCreationTimestamp\":1700000000.9}",
	     "a,b,c,d,e", false);
	expect_err(f, SP_KOP_LIST_STREAM_CONSUMERS,
		   "{\"StreamARN\":\"" T_SARN "\",\"StreamCreationTimestamp\":1700000001}",
		   "ResourceNotFoundException", "Stream s under account " T_ACCT " not found.");
	list(f,
	     "{\"StreamARN\":\"" T_SARN "\",\"MaxResults\":3,\"StreamCreationTimestamp\":"
	     "1700000000}",
	     "a,b,c", true);
	list_next(f, 0, "d,e", false); /* MaxResults is per call: absent, the default */
}

static void
test_list_body_and_errors(void **state)
{
	struct fx *f = *state;
	char body[4300];

	fx_create(f, "s", 1);
	fx_create(f, "t", 1);
	reg(f, "a");
	expect_body(f, SP_KOP_LIST_STREAM_CONSUMERS, "{\"StreamARN\":\"" T_SARN "\"}",
		    "{\"Consumers\":[{\"ConsumerName\":\"a\",\"ConsumerARN\":\"" T_CARN(
			"a") "\","
			     "\"ConsumerStatus\":\"CREATING\",\"ConsumerCreationTimestamp\":"
			     "1700000000.123}]}",
		    false);
	reg(f, "b");
	list(f, "{\"StreamARN\":\"" T_SARN "\",\"MaxResults\":1}", "a", true);
	snprintf(body, sizeof(body),
		 "{\"StreamARN\":\"" T_SARN
		 "\",\"NextToken\":\"%s\",\"StreamCreationTimestamp\":1}",
		 g_token);
	expect_inval(f, SP_KOP_LIST_STREAM_CONSUMERS, body,
		     "NextToken and StreamCreationTimestamp cannot be provided together.");
	/* a token of s is not one of t */
	snprintf(body, sizeof(body),
		 "{\"StreamARN\":\"arn:aws:kinesis:us-east-1:" T_ACCT ":stream/t\","
		 "\"NextToken\":\"%s\"}",
		 g_token);
	expect_inval(f, SP_KOP_LIST_STREAM_CONSUMERS, body, "Invalid NextToken.");
	/* tampered, or another operation's token */
	expect_inval(f, SP_KOP_LIST_STREAM_CONSUMERS,
		     "{\"StreamARN\":\"" T_SARN "\",\"NextToken\":\"AAAA\"}", "Invalid NextToken.");
	json_t *j = expect_ok(f, SP_KOP_LIST_STREAMS, "{\"Limit\":1}");

	snprintf(body, sizeof(body), "{\"StreamARN\":\"" T_SARN "\",\"NextToken\":\"%s\"}",
		 json_string_value(json_object_get(j, "NextToken")));
	json_decref(j);
	expect_inval(f, SP_KOP_LIST_STREAM_CONSUMERS, body, "Invalid NextToken.");
	/* 300 s later the token still works; a millisecond after that it has expired */
	f->ctx.consumer_activate_ms = 10 * 60 * 1000; /* keep the clock jump free of steps */
	f->ctx.now_ms += ACTIVATE;
	assert_true(tick(f) > 0);
	f->ctx.now_ms = T_NOW + 300000;
	list_next(f, 1, "b", false);
	list(f, "{\"StreamARN\":\"" T_SARN "\",\"MaxResults\":1}", "a", true);
	f->ctx.now_ms += 300001;
	snprintf(body, sizeof(body), "{\"StreamARN\":\"" T_SARN "\",\"NextToken\":\"%s\"}",
		 g_token);
	expect_err(f, SP_KOP_LIST_STREAM_CONSUMERS, body, "ExpiredNextTokenException",
		   "The NextToken has expired: it was issued more than 300 seconds ago.");
	/* validation */
	expect_valid(f, SP_KOP_LIST_STREAM_CONSUMERS, "{\"MaxResults\":0}",
		     "2 validation errors detected: Value null at 'streamARN' failed to satisfy "
		     "constraint: Member must not be null; Value '0' at 'maxResults' failed to "
		     "satisfy constraint: Member must have value greater than or equal to 1");
	expect_valid(f, SP_KOP_LIST_STREAM_CONSUMERS,
		     "{\"StreamARN\":\"" T_SARN "\",\"MaxResults\":10001,\"NextToken\":\"\"}",
		     "2 validation errors detected: Value '' at 'nextToken' failed to satisfy "
		     "constraint: Member must have length greater than or equal to 1; Value "
		     "'10001' at 'maxResults' failed to satisfy constraint: Member must have value "
		     "less than or equal to 10000");
	expect_err(f, SP_KOP_LIST_STREAM_CONSUMERS,
		   "{\"StreamARN\":\"arn:aws:kinesis:us-east-1:" T_ACCT ":stream/u\"}",
		   "ResourceNotFoundException", "Stream u under account " T_ACCT " not found.");
}

/* ---- DeleteStream, DescribeStreamSummary, the snapshot ---- */

static int
count_consumer(void *arg, const struct sp_cat_consumer_row *row)
{
	(void)row;
	(*(int *)arg)++;
	return 0;
}

static void
test_delete_stream_with_consumers(void **state)
{
	struct fx *f = *state;

	fx_create(f, "s", 1);
	reg(f, "a");
	reg(f, "b");
	assert_int_equal(summary_count(f), 2);
	expect_err(f, SP_KOP_DELETE_STREAM, "{\"StreamName\":\"s\"}", "ResourceInUseException",
		   "Stream s under account " T_ACCT " has 2 registered consumer(s); deregister "
		   "them first, or set EnforceConsumerDeletion to delete them with the stream.");
	expect_err(f, SP_KOP_DELETE_STREAM,
		   "{\"StreamName\":\"s\",\"EnforceConsumerDeletion\":false}",
		   "ResourceInUseException",
		   "Stream s under account " T_ACCT " has 2 registered consumer(s); deregister "
		   "them first, or set EnforceConsumerDeletion to delete them with the stream.");
	/* deregistered (DELETING) consumers hold nothing back */
	expect_body(f, SP_KOP_DEREGISTER_STREAM_CONSUMER, "{\"ConsumerARN\":\"" T_CARN("b") "\"}",
		    "", true);
	expect_err(f, SP_KOP_DELETE_STREAM, "{\"StreamARN\":\"" T_SARN "\"}",
		   "ResourceInUseException",
		   "Stream s under account " T_ACCT " has 1 registered consumer(s); deregister "
		   "them first, or set EnforceConsumerDeletion to delete them with the stream.");
	expect_body(f, SP_KOP_DELETE_STREAM,
		    "{\"StreamName\":\"s\",\"EnforceConsumerDeletion\":true}", "", true);
	/* its consumers went DELETING with it, due at once: the next request takes the step */
	call(f, SP_KOP_DESCRIBE_STREAM_CONSUMER, "{\"ConsumerARN\":\"" T_CARN("a") "\"}");
	assert_int_equal(f->rep.err, SP_KERR_RESOURCE_NOT_FOUND);
	assert_true(f->rep.catalog_changed);
	fx_settle(f);
	expect_err(f, SP_KOP_DESCRIBE_STREAM_CONSUMER, "{\"ConsumerARN\":\"" T_CARN("b") "\"}",
		   "ResourceNotFoundException",
		   "Consumer " T_CARN("b") " under account " T_ACCT " not found.");
	/* the same name again: a new stream without consumers */
	fx_create(f, "s", 1);
	assert_int_equal(summary_count(f), 0);
	expect_body(f, SP_KOP_DELETE_STREAM, "{\"StreamName\":\"s\"}", "", true);
	/* the stream's removal takes the consumers it still has, without any timed step */
	fx_settle(f);
	fx_create(f, "s", 1);
	reg(f, "z");
	assert_int_equal(sp_cat_stream_mark_deleting(f->cat, "s"), 0);
	fx_settle(f);
	int n = 0;

	assert_int_equal(sp_cat_consumer_foreach(f->cat, NULL, NULL, count_consumer, &n), 0);
	assert_int_equal(n, 0);
}

static void
test_snapshot(void **state)
{
	struct fx *f = *state;
	json_t *snap = NULL;
	char *text;

	fx_create(f, "s", 1);
	reg(f, "b");
	reg(f, "a");
	assert_int_equal(sp_cat_snapshot_json(f->cat, &snap), 0);
	text = json_dumps(json_object_get(snap, "consumers"), JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(
	    text,
	    "[{\"arn\":\"" T_CARN(
		"a") "\",\"created_ms\":1700000000123,\"name\":\"a\","
		     "\"status\":\"CREATING\",\"stream\":\"s\"},{\"arn\":\"" T_CARN(
			 "b") "\","
			      "\"created_ms\":1700000000123,\"name\":\"b\",\"status\":\"CREATING\","
			      "\"stream\":\"s\"}]");
	free(text);
	json_decref(snap);
	f->ctx.now_ms += ACTIVATE;
	assert_int_equal(tick(f), 2);
	assert_int_equal(sp_cat_snapshot_json(f->cat, &snap), 0);
	text = json_dumps(
	    json_object_get(json_array_get(json_object_get(snap, "consumers"), 0), "status"),
	    JSON_ENCODE_ANY);
	assert_string_equal(text, "\"ACTIVE\"");
	free(text);
	json_decref(snap);
	/* every consumer, across streams */
	int n = 0;

	assert_int_equal(sp_cat_consumer_foreach(f->cat, NULL, NULL, count_consumer, &n), 0);
	assert_int_equal(n, 2);
}

/* ---- Restarts and the migration ---- */

static void
test_restart_mid_lifecycle(void **state)
{
	struct fx *f = *state;

	fx_create(f, "s", 1);
	reg(f, "a");
	reg(f, "b");
	/* killed while both are CREATING; restarted after a's time */
	fx_reopen(f);
	expect_status(f, T_CARN("a"), "CREATING");
	f->ctx.now_ms += ACTIVATE;
	fx_reopen(f);
	int64_t due = 0;

	assert_int_equal(sp_cat_consumer_next_due(f->cat, &due), 0);
	assert_int_equal(due, T_NOW + ACTIVATE);
	assert_int_equal(tick(f), 2);
	expect_status(f, T_CARN("a"), "ACTIVE");
	/* killed while a is DELETING */
	expect_body(f, SP_KOP_DEREGISTER_STREAM_CONSUMER, "{\"ConsumerARN\":\"" T_CARN("a") "\"}",
		    "", true);
	fx_reopen(f);
	expect_status(f, T_CARN("a"), "DELETING");
	assert_int_equal(sp_cat_consumer_next_due(f->cat, &due), 0);
	assert_int_equal(due, f->ctx.now_ms + DELETE);
	f->ctx.now_ms += DELETE;
	fx_reopen(f);
	assert_int_equal(tick(f), 1);
	fx_reopen(f);
	expect_err(f, SP_KOP_DESCRIBE_STREAM_CONSUMER, "{\"ConsumerARN\":\"" T_CARN("a") "\"}",
		   "ResourceNotFoundException",
		   "Consumer " T_CARN("a") " under account " T_ACCT " not found.");
	expect_status(f, T_CARN("b"), "ACTIVE");
	assert_int_equal(summary_count(f), 1);
}

static void
test_migration_v4(void **state)
{
	struct fx *f = *state;
	sqlite3 *db;

	fx_create(f, "s", 1);
	sp_cat_close(f->cat);
	f->cat = NULL;
	/* what a v4 catalog file looks like: no consumer tables */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "DROP TABLE consumer_tags; DROP TABLE consumers;"
				      " PRAGMA user_version = 4;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(sp_cat_open(f->path, &f->cat), 0);
	assert_int_equal(summary_count(f), 0);
	reg(f, "a");
	f->ctx.now_ms += ACTIVATE;
	expect_status(f, T_CARN("a"), "ACTIVE");
	/* a file from a newer build is refused */
	sp_cat_close(f->cat);
	f->cat = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 6;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(sp_cat_open(f->path, &f->cat), -ENOTSUP);
	assert_null(f->cat);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_register_describe_lifecycle, setup_mem, teardown),
	    cmocka_unit_test_setup_teardown(test_reregister_new_arn, setup_mem, teardown),
	    cmocka_unit_test_setup_teardown(test_register_limits, setup_mem, teardown),
	    cmocka_unit_test_setup_teardown(test_register_errors, setup_mem, teardown),
	    cmocka_unit_test_setup_teardown(test_register_tags, setup_mem, teardown),
	    cmocka_unit_test_setup_teardown(test_consumer_selector, setup_mem, teardown),
	    cmocka_unit_test_setup_teardown(test_list_paging, setup_mem, teardown),
	    cmocka_unit_test_setup_teardown(test_list_body_and_errors, setup_mem, teardown),
	    cmocka_unit_test_setup_teardown(test_delete_stream_with_consumers, setup_mem, teardown),
	    cmocka_unit_test_setup_teardown(test_snapshot, setup_mem, teardown),
	    cmocka_unit_test_setup_teardown(test_restart_mid_lifecycle, setup_file, teardown),
	    cmocka_unit_test_setup_teardown(test_migration_v4, setup_file, teardown),
	};

	sp_ctl_log_set_level(SP_CTL_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
