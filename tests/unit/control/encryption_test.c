/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of StartStreamEncryption and StopStreamEncryption (control/ctl_streams.c) and
 * sp_cat_stream_set_encryption() (control/catalog_tags.c), in process against an in-memory
 * catalog and a key file parsed from text: the happy paths (alias, key ARN, bare id, by
 * StreamARN; what DescribeStream(Summary) and the snapshot then show; bumps and no bumps),
 * every error text byte for byte in check order, validation and serialization, the limit of
 * 25 changes per rolling day, and a spate-control without a key file.
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

#include <spate/keyfile.h>

#include "catalog.h"
#include "ctl_log.h"
#include "ctl_streams.h"
#include "kin_fx.h"

#define GUID    "2bc3a8f1-0b62-4c1e-9a5c-1f0e3b7d9a44"
#define KEY_ARN "arn:aws:kms:us-east-1:" T_ACCT ":key/" GUID
#define T_ARN   "arn:aws:kinesis:us-east-1:" T_ACCT ":stream/"
#define START   SP_KOP_START_STREAM_ENCRYPTION
#define STOP    SP_KOP_STOP_STREAM_ENCRYPTION
#define BODY(name, type, key)                                                                      \
	"{\"StreamName\":\"" name "\",\"EncryptionType\":\"" type "\",\"KeyId\":\"" key "\"}"

static const char g_keys[] =
    "# test keys\n"
    "alias/aws/kinesis 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n" GUID
    " ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n";

struct efx {
	struct fx *f;
	struct sp_keyfile kf;
};

static int
setup(void **state)
{
	struct efx *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	assert_int_equal(fx_setup((void **)&e->f, 2, false), 0);
	assert_int_equal(sp_keyfile_parse(g_keys, strlen(g_keys), &e->kf), 0);
	e->f->ctx.keys = &e->kf;
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct efx *e = *state;

	fx_teardown((void **)&e->f);
	sp_keyfile_clear(&e->kf);
	free(e);
	return 0;
}

/* Success with an empty body; changed: catalog_changed and one bump, else neither. */
static void
expect_done(struct fx *f, enum sp_kop op, const char *body, bool changed)
{
	int64_t before = version(f);

	call(f, op, body);
	if (f->rep.err != SP_KERR_NONE) {
		fail_msg("%s: %s: %s", body, sp_kerr_table[f->rep.err].type, f->rep.message);
	}
	assert_int_equal(f->rc, 0);
	assert_int_equal(f->rep.status, 200);
	assert_string_equal(f->rep.body, "");
	assert_int_equal(f->rep.catalog_changed, changed);
	assert_int_equal(version(f), before + (changed ? 1 : 0));
}

static void
create(struct fx *f, const char *name, bool active)
{
	char body[256];

	snprintf(body, sizeof(body), "{\"StreamName\":\"%s\",\"ShardCount\":1}", name);
	expect_done(f, SP_KOP_CREATE_STREAM, body, true);
	if (active) {
		assert_true(ack(f) > 0);
	}
}

/* DescribeStream's and DescribeStreamSummary's EncryptionType and KeyId (NULL: absent). */
static void
expect_described(struct fx *f, const char *name, const char *type, const char *key)
{
	static const char *const what[] = {"StreamDescription", "StreamDescriptionSummary"};
	char body[128];

	snprintf(body, sizeof(body), "{\"StreamName\":\"%s\"}", name);
	for (int i = 0; i < 2; i++) {
		json_t *j = expect_ok(
		    f, i == 0 ? SP_KOP_DESCRIBE_STREAM : SP_KOP_DESCRIBE_STREAM_SUMMARY, body);
		json_t *d = json_object_get(j, what[i]);

		assert_string_equal(json_string_value(json_object_get(d, "EncryptionType")), type);
		if (key == NULL) {
			assert_null(json_object_get(d, "KeyId"));
		} else {
			assert_string_equal(json_string_value(json_object_get(d, "KeyId")), key);
		}
		json_decref(j);
	}
}

/* The snapshot's "encryption" and "key_id" of the first stream. */
static void
expect_snapshot(struct fx *f, const char *type, const char *key)
{
	json_t *snap;

	assert_int_equal(sp_cat_snapshot_json(f->cat, &snap), 0);
	json_t *s = json_array_get(json_object_get(snap, "streams"), 0);

	assert_string_equal(json_string_value(json_object_get(s, "encryption")), type);
	assert_string_equal(json_string_value(json_object_get(s, "key_id")), key);
	json_decref(snap);
}

static void
test_start_stop(void **state)
{
	struct fx *f = ((struct efx *)*state)->f;

	create(f, "s", true);
	expect_described(f, "s", "NONE", NULL);
	expect_snapshot(f, "NONE", "");
	expect_done(f, START, BODY("s", "KMS", "alias/aws/kinesis"), true);
	expect_described(f, "s", "KMS", "alias/aws/kinesis");
	expect_snapshot(f, "KMS", "alias/aws/kinesis");
	/* the same key again: nothing to change */
	expect_done(f, START, BODY("s", "KMS", "alias/aws/kinesis"), false);
	/* another key, by its ARN: stored as the client gave it */
	expect_done(f, START, BODY("s", "KMS", KEY_ARN), true);
	expect_described(f, "s", "KMS", KEY_ARN);
	expect_snapshot(f, "KMS", KEY_ARN);
	/* the bare id of the same key is another KeyId as given: a change */
	expect_done(f, START, BODY("s", "KMS", GUID), true);
	expect_done(f, START,
		    "{\"StreamARN\":\"" T_ARN "s\",\"EncryptionType\":\"KMS\",\"KeyId\":"
		    "\"arn:aws:kms:us-east-1:" T_ACCT ":alias/aws/kinesis\"}",
		    true);
	expect_described(f, "s", "KMS", "arn:aws:kms:us-east-1:" T_ACCT ":alias/aws/kinesis");
	/* Stop: the KeyId is validated, not resolved, and need not be the current one */
	expect_done(f, STOP, BODY("s", "KMS", "alias/anything"), true);
	expect_described(f, "s", "NONE", NULL);
	expect_snapshot(f, "NONE", "");
	/* stopping a stream that is not encrypted is accepted and changes nothing */
	expect_done(f, STOP, BODY("s", "KMS", "alias/aws/kinesis"), false);
	/* still ACTIVE throughout: the switch is immediate */
	json_t *j = expect_ok(f, SP_KOP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"s\"}");

	assert_string_equal(json_string_value(json_object_get(
				json_object_get(j, "StreamDescriptionSummary"), "StreamStatus")),
			    "ACTIVE");
	json_decref(j);
}

static void
test_errors(void **state)
{
	struct fx *f = ((struct efx *)*state)->f;

	expect_err(f, START, BODY("s", "KMS", "alias/aws/kinesis"), "ResourceNotFoundException",
		   "Stream s under account " T_ACCT " not found.");
	expect_err(f, STOP, BODY("s", "KMS", "alias/aws/kinesis"), "ResourceNotFoundException",
		   "Stream s under account " T_ACCT " not found.");
	expect_err(f, START, "{\"EncryptionType\":\"KMS\",\"KeyId\":\"k\"}",
		   "InvalidArgumentException", "Neither StreamName nor StreamARN was provided.");
	create(f, "s", false);
	expect_err(f, START,
		   "{\"StreamName\":\"s\",\"StreamARN\":\"" T_ARN "t\",\"EncryptionType\":\"KMS\","
		   "\"KeyId\":\"k\"}",
		   "InvalidArgumentException",
		   "StreamName s does not match the stream of StreamARN " T_ARN "t.");
	expect_err(f, START,
		   "{\"StreamARN\":\"arn:aws:kinesis:eu-west-1:" T_ACCT ":stream/s\","
		   "\"EncryptionType\":\"KMS\",\"KeyId\":\"k\"}",
		   "ResourceNotFoundException", "Stream s under account " T_ACCT " not found.");
	/* EncryptionType NONE passes the model's enum and fails here, before the state */
	expect_err(f, START, BODY("s", "NONE", "alias/aws/kinesis"), "InvalidArgumentException",
		   "EncryptionType NONE is not valid for StartStreamEncryption: KMS is the only "
		   "valid EncryptionType.");
	expect_err(f, STOP, BODY("s", "NONE", "alias/aws/kinesis"), "InvalidArgumentException",
		   "EncryptionType NONE is not valid for StopStreamEncryption: KMS is the only "
		   "valid EncryptionType.");
	/* CREATING, then the key is judged only once the stream is ACTIVE */
	expect_err(f, START, BODY("s", "KMS", "alias/nope"), "ResourceInUseException",
		   "Stream s under account " T_ACCT " not ACTIVE, instead in state CREATING");
	expect_err(f, STOP, BODY("s", "KMS", "alias/aws/kinesis"), "ResourceInUseException",
		   "Stream s under account " T_ACCT " not ACTIVE, instead in state CREATING");
	assert_true(ack(f) > 0);
	expect_err(f, START, BODY("s", "KMS", "alias/nope"), "KMSNotFoundException",
		   "Key 'alias/nope' does not exist in the key file of this Spate appliance.");
	expect_err(f, START, BODY("s", "KMS", "arn:aws:kms:us-east-1:" T_ACCT ":key/" GUID "x"),
		   "KMSNotFoundException",
		   "Key 'arn:aws:kms:us-east-1:" T_ACCT ":key/" GUID
		   "x' does not exist in the key file of this Spate appliance.");
	assert_int_equal(sp_kerr_table[f->rep.err].status, 400);
	/* ids are case-sensitive */
	expect_err(f, START, BODY("s", "KMS", "ALIAS/AWS/KINESIS"), "KMSNotFoundException",
		   "Key 'ALIAS/AWS/KINESIS' does not exist in the key file of this Spate "
		   "appliance.");
	/* DELETING */
	expect_done(f, SP_KOP_DELETE_STREAM, "{\"StreamName\":\"s\"}", true);
	expect_err(f, START, BODY("s", "KMS", "alias/aws/kinesis"), "ResourceInUseException",
		   "Stream s under account " T_ACCT " not ACTIVE, instead in state DELETING");
}

static void
test_no_key_file(void **state)
{
	struct fx *f = ((struct efx *)*state)->f;

	f->ctx.keys = NULL;
	create(f, "s", true);
	expect_err(f, START, BODY("s", "KMS", "alias/aws/kinesis"), "KMSNotFoundException",
		   "Key 'alias/aws/kinesis' does not exist: this Spate appliance has no key file "
		   "(spate-control --key-file), so no KeyId can be resolved.");
	/* Stop resolves nothing: it works without a key file */
	expect_done(f, STOP, BODY("s", "KMS", "alias/aws/kinesis"), false);
}

static void
test_validation(void **state)
{
	struct fx *f = ((struct efx *)*state)->f;
	char *body = malloc(2200);

	assert_non_null(body);
	expect_valid(f, START, "{\"StreamName\":\"s\"}",
		     "2 validation errors detected: Value null at 'encryptionType' failed to "
		     "satisfy constraint: Member must not be null; Value null at 'keyId' failed to "
		     "satisfy constraint: Member must not be null");
	expect_valid(f, STOP, "{\"StreamName\":\"s\",\"KeyId\":\"k\"}",
		     "1 validation error detected: Value null at 'encryptionType' failed to "
		     "satisfy constraint: Member must not be null");
	expect_valid(
	    f, START, BODY("s", "AES", ""),
	    "2 validation errors detected: Value 'AES' at 'encryptionType' failed to "
	    "satisfy constraint: Member must satisfy enum value set: [NONE, KMS]; Value '' "
	    "at 'keyId' failed to satisfy constraint: Member must have length greater "
	    "than or equal to 1");
	expect_valid(f, STOP, BODY("a b", "kms", "k"),
		     "2 validation errors detected: Value 'a b' at 'streamName' failed to satisfy "
		     "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; "
		     "Value 'kms' at 'encryptionType' failed to satisfy constraint: Member must "
		     "satisfy enum value set: [NONE, KMS]");
	/* KeyId: 2048 characters pass validation (then are not found), 2049 do not */
	create(f, "s", true);
	int n =
	    snprintf(body, 2200, "{\"StreamName\":\"s\",\"EncryptionType\":\"KMS\",\"KeyId\":\"");

	memset(body + n, 'k', 2048);
	snprintf(body + n + 2048, 2200 - (size_t)n - 2048, "\"}");
	call(f, START, body);
	assert_string_equal(sp_kerr_table[f->rep.err].type, "KMSNotFoundException");
	memset(body + n, 'k', 2049);
	snprintf(body + n + 2049, 2200 - (size_t)n - 2049, "\"}");
	call(f, STOP, body);
	assert_string_equal(sp_kerr_table[f->rep.err].type, "ValidationException");
	assert_non_null(strstr(f->rep.message, "at 'keyId' failed to satisfy constraint: Member "
					       "must have length less than or equal to 2048"));
	free(body);
	/* member types */
	expect_ser(f, START, "{\"StreamName\":\"s\",\"EncryptionType\":1,\"KeyId\":\"k\"}",
		   "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be "
		   "converted to an String");
	expect_ser(f, STOP, "{\"StreamName\":\"s\",\"EncryptionType\":\"KMS\",\"KeyId\":[]}",
		   "Start of list found where not expected");
	expect_ser(f, START, "[]", "");
}

static void
test_limit(void **state)
{
	struct fx *f = ((struct efx *)*state)->f;
	int64_t t0 = f->ctx.now_ms;

	create(f, "s", true);
	create(f, "other", true);
	for (int i = 0; i < SP_CTL_K_ENCRYPTION_PER_DAY; i++) {
		f->ctx.now_ms = t0 + i * 1000;
		expect_done(f, i % 2 == 0 ? START : STOP, BODY("s", "KMS", "alias/aws/kinesis"),
			    true);
	}
	/* 25 changes in the last day: refused, also a request that would change nothing */
	f->ctx.now_ms = t0 + 30000;
	expect_err(f, STOP, BODY("s", "KMS", "alias/aws/kinesis"), "LimitExceededException",
		   "Stream s under account " T_ACCT " has already changed its encryption 25 times "
		   "in the last 24 hours, the most StartStreamEncryption and StopStreamEncryption "
		   "allow.");
	expect_err(f, START, BODY("s", "KMS", GUID), "LimitExceededException",
		   "Stream s under account " T_ACCT " has already changed its encryption 25 times "
		   "in the last 24 hours, the most StartStreamEncryption and StopStreamEncryption "
		   "allow.");
	/* per stream */
	expect_done(f, START, BODY("other", "KMS", GUID), true);
	/* a rolling day: the first change leaves the window, one more is allowed */
	f->ctx.now_ms = t0 + 24LL * 3600 * 1000;
	expect_done(f, STOP, BODY("s", "KMS", "k"), true);
	expect_err(f, START, BODY("s", "KMS", GUID), "LimitExceededException",
		   "Stream s under account " T_ACCT " has already changed its encryption 25 times "
		   "in the last 24 hours, the most StartStreamEncryption and StopStreamEncryption "
		   "allow.");
	f->ctx.now_ms = t0 + 24LL * 3600 * 1000 + 1000;
	expect_done(f, START, BODY("s", "KMS", GUID), true);
}

static void
test_catalog_setter(void **state)
{
	struct fx *f = ((struct efx *)*state)->f;
	char big[SP_CAT_KEY_ID_MAX_BYTES + 1];
	struct sp_cat_stream_row row;

	create(f, "s", true);
	int64_t v = version(f);

	assert_int_equal(sp_cat_stream_set_encryption(f->cat, "nope", "KMS", "k", T_NOW), -ENOENT);
	assert_int_equal(sp_cat_stream_set_encryption(f->cat, "s", "AES", "k", T_NOW), -EINVAL);
	assert_int_equal(sp_cat_stream_set_encryption(f->cat, "s", "KMS", "", T_NOW), -EINVAL);
	assert_int_equal(sp_cat_stream_set_encryption(f->cat, "s", "NONE", "k", T_NOW), -EINVAL);
	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(sp_cat_stream_set_encryption(f->cat, "s", "KMS", big, T_NOW), -EINVAL);
	assert_int_equal(sp_cat_stream_set_encryption(f->cat, "s", "NONE", "", T_NOW), 0);
	assert_int_equal(version(f), v);
	/* the longest KeyId fits the row */
	big[sizeof(big) - 2] = '\0';
	assert_int_equal(sp_cat_stream_set_encryption(f->cat, "s", "KMS", big, T_NOW), 1);
	assert_int_equal(sp_cat_stream_get(f->cat, "s", &row), 0);
	assert_string_equal(row.encryption, "KMS");
	assert_string_equal(row.key_id, big);
	assert_int_equal(version(f), v + 1);
	int64_t n = 0;

	assert_int_equal(sp_cat_event_count(f->cat, "s", "encryption", T_NOW - 1, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sp_cat_stream_set_encryption(f->cat, "s", "NONE", "", T_NOW), 1);
	assert_int_equal(sp_cat_stream_get(f->cat, "s", &row), 0);
	assert_string_equal(row.encryption, "NONE");
	assert_string_equal(row.key_id, "");
	assert_int_equal(version(f), v + 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_start_stop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_key_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_catalog_setter, setup, teardown),
	};

	sp_ctl_log_set_level(SP_CTL_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
