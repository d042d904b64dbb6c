/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/sigv4/sigv4_creds.c: the credentials file. Good files (comments,
 * CRLF, BOM, spacing, ':' delimiters, case of key names, session tokens, account ids), every
 * refusal with its line number and text, the SP_SIGV4_MAX_KEYS bound, the index lookup, and
 * loading from disk (missing, oversized, not a regular file).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../sp_test.h"

#include "sigv4.h"

#define ACCOUNT "123456789012"

static struct sp_sigv4_keys *
parse_ok(const char *text)
{
	struct sp_sigv4_keys *keys = NULL;
	char err[SP_SIGV4_ERR_MAX];
	int rc = sp_sigv4_keys_parse(text, strlen(text), ACCOUNT, &keys, err, sizeof(err));

	if (rc != 0) {
		fail_msg("parse failed (%d): %s", rc, err);
	}
	assert_non_null(keys);
	return keys;
}

static void
parse_bad_n(const char *text, size_t len, const char *want)
{
	struct sp_sigv4_keys *keys = (struct sp_sigv4_keys *)&keys;
	char err[SP_SIGV4_ERR_MAX];
	int rc = sp_sigv4_keys_parse(text, len, ACCOUNT, &keys, err, sizeof(err));

	assert_int_equal(rc, -EINVAL);
	assert_null(keys);
	if (strcmp(err, want) != 0) {
		fail_msg("\n got: [%s]\nwant: [%s]", err, want);
	}
}

static void
parse_bad(const char *text, const char *want)
{
	parse_bad_n(text, strlen(text), want);
}

static void
test_good(void **state)
{
	static const char text[] =
		"\xef\xbb\xbf# operator keys\r\n"
		"; another comment\r\n"
		"   # indented comment\n"
		"[default]\n"
		"aws_access_key_id=AKIDEXAMPLE\n"
		"AWS_Secret_Access_Key =   wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY  \r\n"
		"\n"
		"[ ci-runner@team.1 ]\t\n"
		"aws_access_key_id: ASIA_SESSION_01\n"
		"aws_secret_access_key\t=\tsecret:with=marks\n"
		"aws_session_token = IQoJb3JpZ2luX2VjE//+==\n"
		"account_id = 000011112222\n"
		"[last]\n"
		"aws_secret_access_key = s\n"
		"aws_access_key_id = K";
	struct sp_sigv4_keys *keys = parse_ok(text);
	const struct sp_sigv4_key *k;

	(void)state;
	assert_int_equal(sp_sigv4_keys_count(keys), 3);
	k = sp_sigv4_keys_get(keys, 0);
	assert_string_equal(k->profile, "default");
	assert_string_equal(k->access_key, "AKIDEXAMPLE");
	assert_int_equal(k->access_key_len, 11);
	assert_string_equal(k->secret, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
	assert_int_equal(k->secret_len, 40);
	assert_null(k->token);
	assert_string_equal(k->account, ACCOUNT);
	assert_int_equal(k->line, 4);
	k = sp_sigv4_keys_get(keys, 1);
	assert_string_equal(k->profile, "ci-runner@team.1");
	assert_string_equal(k->access_key, "ASIA_SESSION_01");
	/* configparser splits at the first '=' or ':', whichever comes first */
	assert_string_equal(k->secret, "secret:with=marks");
	assert_non_null(k->token);
	assert_string_equal(k->token, "IQoJb3JpZ2luX2VjE//+==");
	assert_int_equal(k->token_len, 22);
	assert_string_equal(k->account, "000011112222");
	assert_int_equal(k->line, 8);
	k = sp_sigv4_keys_get(keys, 2);
	assert_string_equal(k->access_key, "K");
	assert_string_equal(k->secret, "s");
	assert_int_equal(sp_sigv4_keys_find(keys, "AKIDEXAMPLE", 11), 0);
	assert_int_equal(sp_sigv4_keys_find(keys, "ASIA_SESSION_01", 15), 1);
	assert_int_equal(sp_sigv4_keys_find(keys, "K", 1), 2);
	assert_int_equal(sp_sigv4_keys_find(keys, "AKIDEXAMPL", 10), -ENOENT);
	assert_int_equal(sp_sigv4_keys_find(keys, "akidexample", 11), -ENOENT);
	assert_int_equal(sp_sigv4_keys_find(keys, "", 0), -ENOENT);
	sp_sigv4_keys_free(keys);
	sp_sigv4_keys_free(NULL);
}

static void
test_bad_lines(void **state)
{
	(void)state;
	parse_bad("", "line 1: no profiles in the file");
	parse_bad("# only a comment\n\n", "line 2: no profiles in the file");
	parse_bad("aws_access_key_id = A\n", "line 1: key 'aws_access_key_id' outside a [profile] "
		  "section");
	parse_bad("[p]\nnot a pair\n", "line 2: expected '[profile]', 'key = value' or a comment");
	parse_bad("[p\n", "line 1: section header without a closing ']'");
	parse_bad("[]\n", "line 1: profile names are 1-64 characters of A-Z a-z 0-9 _ - . @ + = ,");
	parse_bad("[profile x]\n", "line 1: profile names are 1-64 characters of A-Z a-z 0-9 _ - . "
		  "@ + = ,");
	parse_bad("[p]\nregion = us-east-1\n", "line 2: unknown key 'region' (known: "
		  "aws_access_key_id, aws_secret_access_key, aws_session_token, account_id)");
	parse_bad("[p]\naws_access_key_id = A\naws_access_key_id = B\n",
		  "line 3: duplicate aws_access_key_id in profile 'p'");
	parse_bad("[p]\naws_access_key_id =\n", "line 2: empty aws_access_key_id");
	parse_bad("[p]\naws_access_key_id = A # mine\n",
		  "line 2: aws_access_key_id contains whitespace (inline comments are not "
		  "supported)");
	parse_bad("[p]\naws_secret_access_key = s\xc3\xa9\n",
		  "line 2: aws_secret_access_key has a byte outside printable ASCII");
	parse_bad("[p]\naws_access_key_id = A-B\n", "line 2: aws_access_key_id must be 1-128 "
		  "characters of A-Z a-z 0-9 _");
	parse_bad("[p]\naccount_id = 12345678901\n",
		  "line 2: account_id must be exactly 12 digits");
	parse_bad("[p]\naccount_id = 12345678901x\n",
		  "line 2: account_id must be exactly 12 digits");
	parse_bad("[p]\n  aws_access_key_id = A\n", "line 2: indented line (a continuation line to "
		  "the AWS CLI; not supported)");
	parse_bad("[p]\naws_access_key_id = A\n",
		  "line 1: profile 'p' has no aws_secret_access_key");
	parse_bad("[p]\naws_secret_access_key = s\n[q]\n",
		  "line 1: profile 'p' has no aws_access_key_id");
	parse_bad("[p]\naws_access_key_id = A\naws_secret_access_key = s\n"
		  "[q]\naws_access_key_id = B\naws_secret_access_key = s\n"
		  "[p]\n", "line 7: duplicate profile 'p' (line 1)");
	parse_bad("[p]\naws_access_key_id = A\naws_secret_access_key = s\n"
		  "[q]\naws_access_key_id = A\n",
		  "line 5: access key A is already used by profile 'p' (line 1)");
	parse_bad_n("[p]\naws\0_x\n", 11, "line 2: NUL byte");
}

static void
test_bad_lengths(void **state)
{
	static char text[SP_SIGV4_TOKEN_MAX + SP_SIGV4_LINE_MAX];
	int n;

	(void)state;
	n = snprintf(text, sizeof(text), "[p]\naws_access_key_id = %0129d\n", 0);
	assert_true(n > 0);
	parse_bad(text, "line 2: aws_access_key_id must be 1-128 characters of A-Z a-z 0-9 _");
	(void)snprintf(text, sizeof(text), "[p]\naws_secret_access_key = %0129d\n", 0);
	parse_bad(text, "line 2: aws_secret_access_key longer than 128 characters");
	(void)snprintf(text, sizeof(text), "[%065d]\n", 0);
	parse_bad(text, "line 1: profile names are 1-64 characters of A-Z a-z 0-9 _ - . @ + = ,");
	(void)snprintf(text, sizeof(text), "[p]\naws_session_token = %04097d\n", 0);
	parse_bad(text, "line 2: aws_session_token longer than 4096 characters");
	(void)snprintf(text, sizeof(text), "# %0*d\n", SP_SIGV4_LINE_MAX - 1, 0);
	parse_bad(text, "line 1: longer than 4200 bytes");
	/* The longest legal token fits the longest legal line. */
	(void)snprintf(text, sizeof(text), "[p]\naws_access_key_id = A\naws_secret_access_key = s\n"
		       "aws_session_token = %0*d\n", SP_SIGV4_TOKEN_MAX, 0);
	sp_sigv4_keys_free(parse_ok(text));
}

static void
test_max_keys(void **state)
{
	static char text[SP_SIGV4_MAX_KEYS * 128 + 256];
	struct sp_sigv4_keys *keys;
	char id[32];
	size_t o = 0;
	unsigned i;

	(void)state;
	for (i = 0; i < SP_SIGV4_MAX_KEYS; i++) {
		o += (size_t)snprintf(text + o, sizeof(text) - o, "[p%u]\naws_access_key_id = K%u\n"
				      "aws_secret_access_key = s%u\n", i, i, i);
	}
	keys = parse_ok(text);
	assert_int_equal(sp_sigv4_keys_count(keys), SP_SIGV4_MAX_KEYS);
	for (i = 0; i < SP_SIGV4_MAX_KEYS; i++) {
		int n = snprintf(id, sizeof(id), "K%u", i);

		assert_int_equal(sp_sigv4_keys_find(keys, id, (size_t)n), (int)i);
	}
	sp_sigv4_keys_free(keys);
	(void)snprintf(text + o, sizeof(text) - o, "[one-more]\n");
	parse_bad(text, "line 769: more than 256 profiles");
}

static void
test_default_account(void **state)
{
	struct sp_sigv4_keys *keys = (struct sp_sigv4_keys *)&keys;
	char err[SP_SIGV4_ERR_MAX];
	const char *text = "[p]\naws_access_key_id = A\naws_secret_access_key = s\n";

	(void)state;
	assert_int_equal(sp_sigv4_keys_parse(text, strlen(text), "1234", &keys, err, sizeof(err)),
			 -EINVAL);
	assert_null(keys);
	assert_string_equal(err, "default account id must be exactly 12 digits");
	assert_int_equal(sp_sigv4_keys_parse(text, strlen(text), NULL, &keys, NULL, 0), -EINVAL);
	/* A short error buffer is cut, never overflowed. */
	memset(err, 'x', sizeof(err));
	assert_int_equal(sp_sigv4_keys_parse("[p]\n", 4, ACCOUNT, &keys, err, 8), -EINVAL);
	assert_string_equal(err, "line 1:");
	assert_int_equal(err[8], 'x');
}

static void
test_load(void **state)
{
	char path[] = "/tmp/sigv4_creds_XXXXXX";
	static char big[SP_SIGV4_FILE_MAX_BYTES + 2];
	struct sp_sigv4_keys *keys = NULL;
	char err[SP_SIGV4_ERR_MAX + 64];
	char want[SP_SIGV4_ERR_MAX + 64];
	const char *text = "[p]\naws_access_key_id = A\naws_secret_access_key = s\n";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
	assert_int_equal(sp_sigv4_keys_load(path, ACCOUNT, &keys, err, sizeof(err)), 0);
	assert_int_equal(sp_sigv4_keys_count(keys), 1);
	sp_sigv4_keys_free(keys);
	/* A parse error names the file and the line. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "[p]\nx = 1\n", 10), 10);
	assert_int_equal(close(fd), 0);
	assert_int_equal(sp_sigv4_keys_load(path, ACCOUNT, &keys, err, sizeof(err)), -EINVAL);
	(void)snprintf(want, sizeof(want), "%s: line 2: unknown key 'x' (known: aws_access_key_id, "
		       "aws_secret_access_key, aws_session_token, account_id)", path);
	assert_string_equal(err, want);
	/* Oversized files are refused before they are read. */
	memset(big, '#', sizeof(big));
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, big, sizeof(big)), (ssize_t)sizeof(big));
	assert_int_equal(close(fd), 0);
	assert_int_equal(sp_sigv4_keys_load(path, ACCOUNT, &keys, err, sizeof(err)), -EFBIG);
	(void)snprintf(want, sizeof(want), "%s: larger than 1048576 bytes", path);
	assert_string_equal(err, want);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(sp_sigv4_keys_load(path, ACCOUNT, &keys, err, sizeof(err)), -ENOENT);
	(void)snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(err, want);
	assert_int_equal(sp_sigv4_keys_load("/tmp", ACCOUNT, &keys, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "/tmp: not a regular file");
	assert_null(keys);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_bad_lengths),
		cmocka_unit_test(test_max_keys),
		cmocka_unit_test(test_default_account),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
