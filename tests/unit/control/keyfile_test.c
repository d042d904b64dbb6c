/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of common/keyfile.c (library sp_keyfile): a good file with comments and blank
 * lines, every load error and the line it names (bad hex, wrong length, duplicate id, too
 * many fields), KeyId normalization of the ARN forms, lookups by id and by fingerprint, and
 * loading from a file (mode and a missing path).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include <spate/keyfile.h>

#define K0   "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define K1   "FFEEDDCCBBAA99887766554433221100ffeeddccbbaa99887766554433221100"
#define GUID "2bc3a8f1-0b62-4c1e-9a5c-1f0e3b7d9a44"

static struct sp_keyfile *
kf_new(void)
{
	struct sp_keyfile *kf = calloc(1, sizeof(*kf));

	assert_non_null(kf);
	return kf;
}

static void
parse_bad(const char *text, const char *err)
{
	struct sp_keyfile *kf = kf_new();

	assert_int_equal(sp_keyfile_parse(text, strlen(text), kf), -EINVAL);
	if (strcmp(kf->err, err) != 0) {
		fail_msg("%s\n got: %s\nwant: %s", text, kf->err, err);
	}
	assert_int_equal(kf->n, 0);
	/* never key material in a message */
	assert_null(strstr(kf->err, "0001020304"));
	free(kf);
}

static void
test_good(void **state)
{
	static const char text[] = "# Spate keys\n"
				   "\n"
				   "   # indented comment\n"
				   "alias/aws/kinesis " K0 "\n"
				   "\t" GUID "\t " K1 " \r\n"
				   "arn:aws:kms:us-east-1:123456789012:alias/mine " K0;
	struct sp_keyfile *kf = kf_new();
	uint8_t md[SHA256_DIGEST_LENGTH];
	char hex[2 * SP_KEYFILE_FP_BYTES + 1];

	(void)state;
	assert_int_equal(sp_keyfile_parse(text, strlen(text), kf), 0);
	assert_int_equal(kf->n, 3);
	assert_string_equal(kf->keys[0].id, "alias/aws/kinesis");
	assert_string_equal(kf->keys[1].id, GUID);
	assert_string_equal(kf->keys[2].id, "alias/mine");
	assert_int_equal(kf->keys[0].key[0], 0x00);
	assert_int_equal(kf->keys[0].key[31], 0x1f);
	assert_int_equal(kf->keys[1].key[0], 0xff);
	assert_int_equal(kf->keys[1].key[31], 0x00);
	SHA256(kf->keys[1].key, SP_KEYFILE_KEY_BYTES, md);
	assert_memory_equal(kf->keys[1].fp, md, SP_KEYFILE_FP_BYTES);
	/* the same key under two ids: same fingerprint; the first wins a lookup */
	assert_memory_equal(kf->keys[0].fp, kf->keys[2].fp, SP_KEYFILE_FP_BYTES);
	assert_ptr_equal(sp_keyfile_find_fp(kf, kf->keys[1].fp), &kf->keys[1]);
	assert_ptr_equal(sp_keyfile_find_fp(kf, kf->keys[2].fp), &kf->keys[0]);
	assert_null(sp_keyfile_find_fp(kf, (const uint8_t[8]){1, 2, 3, 4, 5, 6, 7, 8}));
	sp_keyfile_fp_hex(&kf->keys[1], hex);
	assert_int_equal(strlen(hex), 16);
	for (size_t i = 0; i < SP_KEYFILE_FP_BYTES; i++) {
		char b[3];

		snprintf(b, sizeof(b), "%02x", md[i]);
		assert_memory_equal(hex + 2 * i, b, 2);
	}
	sp_keyfile_clear(kf);
	assert_int_equal(kf->n, 0);
	assert_int_equal(kf->keys[1].key[0], 0);
	free(kf);
}

static void
test_empty(void **state)
{
	struct sp_keyfile *kf = kf_new();

	(void)state;
	assert_int_equal(sp_keyfile_parse("", 0, kf), 0);
	assert_int_equal(kf->n, 0);
	assert_int_equal(sp_keyfile_parse("# nothing\n\n  \n", 14, kf), 0);
	assert_int_equal(sp_keyfile_parse("a\0b", 3, kf), -EINVAL);
	assert_string_equal(kf->err, "line 1: NUL byte");
	assert_int_equal(kf->n, 0);
	assert_null(sp_keyfile_find(kf, "alias/aws/kinesis"));
	free(kf);
}

static void
test_bad(void **state)
{
	(void)state;
	parse_bad("alias/a " K0
		  "\nalias/b 0g0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c"
		  "1d1e1f\n",
		  "line 2: key of alias/b has a character that is not a hex digit");
	parse_bad("# c\nalias/a 0001\n",
		  "line 2: key of alias/a must be 64 hex digits (256 bits), not 4 characters");
	parse_bad("alias/a " K0 "00\n",
		  "line 1: key of alias/a must be 64 hex digits (256 bits), not 66 characters");
	parse_bad("alias/a " K0 "\n\n" GUID " " K1 "\nalias/a " K1 "\n",
		  "line 4: duplicate key id alias/a");
	/* duplicates are judged after normalization */
	parse_bad(GUID " " K0 "\narn:aws:kms:eu-west-1:111122223333:key/" GUID " " K1 "\n",
		  "line 2: duplicate key id " GUID);
	parse_bad("alias/a\n", "line 1: expected \"<key-id> <64 hex digits>\"");
	parse_bad("alias/a " K0 " extra\n", "line 1: expected \"<key-id> <64 hex digits>\"");
	parse_bad("alias/\xc3\xa9 " K0 "\n",
		  "line 1: key id has a character that is not printable ASCII");
	/* the wrong way round: the key is where the id goes, and must not be echoed */
	parse_bad(K0 " alias/aws/kinesis\n", "line 1: the key id is 64 hex digits, like a key: is "
					     "the line \"<key-id> <64 hex digits>\"?");
}

static void
test_too_many(void **state)
{
	size_t cap = (SP_KEYFILE_MAX_KEYS + 1) * 100;
	char *text = malloc(cap);
	size_t n = 0;
	struct sp_keyfile *kf = kf_new();

	(void)state;
	assert_non_null(text);
	for (unsigned i = 0; i <= SP_KEYFILE_MAX_KEYS; i++) {
		n += (size_t)snprintf(text + n, cap - n, "alias/k%u %s\n", i, K0);
	}
	assert_int_equal(sp_keyfile_parse(text, n, kf), -EINVAL);
	assert_string_equal(kf->err, "line 257: more than 256 keys");
	free(text);
	free(kf);
}

static void
norm_is(const char *in, const char *want)
{
	char out[SP_KEYFILE_ID_MAX_BYTES + 1];
	int n = sp_keyfile_normalize(in, out, sizeof(out));

	assert_int_equal(n, (int)strlen(want));
	if (strcmp(out, want) != 0) {
		fail_msg("%s -> %s, want %s", in, out, want);
	}
}

static void
test_normalize(void **state)
{
	char small[8];

	(void)state;
	norm_is(GUID, GUID);
	norm_is("alias/aws/kinesis", "alias/aws/kinesis");
	norm_is("arn:aws:kms:us-east-1:123456789012:key/" GUID, GUID);
	norm_is("arn:aws:kms:us-east-1:123456789012:alias/aws/kinesis", "alias/aws/kinesis");
	norm_is("arn:aws-cn:kms:cn-north-1:123456789012:alias/x", "alias/x");
	norm_is("arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/k1", "k1");
	/* not KMS ARNs: kept as they are */
	norm_is("arn:aws:kms:us-east-1:12345678901:key/k1",
		"arn:aws:kms:us-east-1:12345678901:key/k1");
	norm_is("arn:aws:kms:us-east-1:123456789012:key/",
		"arn:aws:kms:us-east-1:123456789012:key/");
	norm_is("arn:aws:s3:us-east-1:123456789012:key/k1",
		"arn:aws:s3:us-east-1:123456789012:key/k1");
	norm_is("arn:awsx:kms:us-east-1:123456789012:key/k1",
		"arn:awsx:kms:us-east-1:123456789012:key/k1");
	norm_is("arn:aws:kms:us-east-1:123456789012:grant/k1",
		"arn:aws:kms:us-east-1:123456789012:grant/k1");
	assert_int_equal(sp_keyfile_normalize("alias/toolong", small, sizeof(small)),
			 -ENAMETOOLONG);
}

static void
test_find(void **state)
{
	static const char text[] = "alias/aws/kinesis " K0 "\n" GUID " " K1 "\n";
	struct sp_keyfile *kf = kf_new();
	char big[SP_KEYFILE_ID_MAX_BYTES + 64];

	(void)state;
	assert_int_equal(sp_keyfile_parse(text, strlen(text), kf), 0);
	assert_ptr_equal(sp_keyfile_find(kf, "alias/aws/kinesis"), &kf->keys[0]);
	assert_ptr_equal(
	    sp_keyfile_find(kf, "arn:aws:kms:us-east-1:123456789012:alias/aws/kinesis"),
	    &kf->keys[0]);
	assert_ptr_equal(sp_keyfile_find(kf, GUID), &kf->keys[1]);
	assert_ptr_equal(sp_keyfile_find(kf, "arn:aws:kms:eu-west-1:111122223333:key/" GUID),
			 &kf->keys[1]);
	assert_null(sp_keyfile_find(kf, "alias/other"));
	assert_null(sp_keyfile_find(kf, "ALIAS/AWS/KINESIS"));
	assert_null(
	    sp_keyfile_find(kf, "arn:aws:kms:us-east-1:123456789012:key/alias/aws/kinesis"));
	assert_null(sp_keyfile_find(kf, ""));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_null(sp_keyfile_find(kf, big));
	free(kf);
}

static void
test_load(void **state)
{
	char path[] = "/tmp/sp_keyfile_test.XXXXXX";
	int fd = mkstemp(path);
	static const char text[] = "alias/aws/kinesis " K0 "\n";
	struct sp_keyfile *kf = kf_new();

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(sp_keyfile_load(path, kf), 0);
	assert_int_equal(kf->n, 1);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(sp_keyfile_load(path, kf), -ENOENT);
	assert_int_equal(kf->n, 0);
	assert_non_null(strstr(kf->err, "No such file"));
	free(kf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),      cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_bad),       cmocka_unit_test(test_too_many),
	    cmocka_unit_test(test_normalize), cmocka_unit_test(test_find),
	    cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
