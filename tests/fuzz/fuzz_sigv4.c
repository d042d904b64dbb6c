/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for dataplane/sigv4: arbitrary requests through the verifier, and the same
 * bytes through the credentials-file parser.
 *
 * Input: line 1 is the method, line 2 the request-target, then "name: value" header lines
 * (a line without ':' is a name with an empty value) up to an empty line or
 * FUZZ_SIGV4_MAX_HEADERS; the rest is the body. The seeds (tests/fuzz/corpus/sigv4, written by
 * tests/unit/dataplane/sigv4/gen_vectors.py --corpus) are botocore-signed requests at the fixed
 * clock below, so mutations start from requests that get past every check.
 *
 * Checked: no crash, leak or overflow (sanitizers); a verdict is one of the five the verifier
 * may give, with a message exactly when it refuses; the verdict and message do not depend on
 * the signing-key cache (a long-lived verifier and a fresh one agree, twice) nor on the size of
 * the message buffer (a short buffer gets a prefix of the same text; a 1-byte one, nothing).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <spate/assert.h>

#include "sigv4.h"

#define FUZZ_SIGV4_MAX_HEADERS 64u
#define FUZZ_SIGV4_NOW_MS 1795466236000ull /* 20261123T203716Z: the seeds' signing time */
#define FUZZ_SIGV4_SHORT_MSG 24u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_sigv4_creds[] =
	"[default]\n"
	"aws_access_key_id = AKIDEXAMPLE\n"
	"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n"
	"[session]\n"
	"aws_access_key_id = ASIASESSIONEXAMPLE01\n"
	"aws_secret_access_key = tmpSecret/Key+Example0123456789abcdefGHIJ\n"
	"aws_session_token = FQoGZXIvYXdzEXAMPLE//session+token/with=padding==\n"
	"account_id = 210987654321\n";

static struct sp_sigv4_keys *g_fuzz_keys;
static struct sp_sigv4 *g_fuzz_warm;
static struct sp_sigv4 *g_fuzz_cold;

/* The next line of [*pos, size): returned as (ptr, len); *pos moves past its '\n'. */
static const char *
fuzz_sigv4_line(const uint8_t *data, size_t size, size_t *pos, size_t *len)
{
	const char *s = (const char *)data + *pos;
	const char *nl = memchr(s, '\n', size - *pos);

	SP_VERIFY(*pos <= size);
	*len = nl != NULL ? (size_t)(nl - s) : size - *pos;
	*pos += *len + (nl != NULL);
	SP_VERIFY(*pos <= size);
	return s;
}

static void
fuzz_sigv4_setup(void)
{
	struct sp_sigv4_config cfg;

	if (g_fuzz_keys != NULL) {
		return;
	}
	SP_VERIFY(sp_sigv4_keys_parse(fuzz_sigv4_creds, sizeof(fuzz_sigv4_creds) - 1,
				      "123456789012", &g_fuzz_keys, NULL, 0) == 0);
	cfg = (struct sp_sigv4_config){ .keys = g_fuzz_keys, .region = NULL };
	SP_VERIFY(sp_sigv4_create(&cfg, &g_fuzz_warm) == 0);
	g_fuzz_cold = aligned_alloc(SP_CACHE_LINE, sp_sigv4_footprint());
	SP_VERIFY(g_fuzz_cold != NULL);
}

/* Parse the input into req (headers in hdrs). */
static void
fuzz_sigv4_request(const uint8_t *data, size_t size, struct sp_sigv4_request *req,
		   struct sp_sigv4_header *hdrs)
{
	size_t pos = 0;
	size_t n;
	const char *s;

	memset(req, 0, sizeof(*req));
	req->method = fuzz_sigv4_line(data, size, &pos, &req->method_len);
	req->target = fuzz_sigv4_line(data, size, &pos, &req->target_len);
	req->headers = hdrs;
	while (pos < size && req->n_headers < FUZZ_SIGV4_MAX_HEADERS) {
		struct sp_sigv4_header *h = &hdrs[req->n_headers];
		const char *colon;

		s = fuzz_sigv4_line(data, size, &pos, &n);
		if (n == 0) {
			break;
		}
		colon = memchr(s, ':', n);
		h->name = s;
		h->name_len = colon != NULL ? (size_t)(colon - s) : n;
		h->value = colon != NULL ? colon + 1 : s + n;
		h->value_len = colon != NULL ? n - h->name_len - 1 : 0;
		req->n_headers++;
	}
	req->body = data + pos;
	req->body_len = size - pos;
	req->now_ms = FUZZ_SIGV4_NOW_MS;
	SP_VERIFY(req->n_headers <= FUZZ_SIGV4_MAX_HEADERS && pos <= size);
}

/* The same bytes as a credentials file: refused with a message, or a consistent table. */
static void
fuzz_sigv4_creds_file(const uint8_t *data, size_t size)
{
	struct sp_sigv4_keys *keys = NULL;
	char err[SP_SIGV4_ERR_MAX];
	unsigned i;
	int rc = sp_sigv4_keys_parse((const char *)data, size, "123456789012", &keys, err,
				     sizeof(err));

	SP_VERIFY(rc == 0 || rc == -EINVAL);
	SP_VERIFY((rc == 0) == (keys != NULL));
	if (rc != 0) {
		SP_VERIFY(strncmp(err, "line ", 5) == 0);
		return;
	}
	for (i = 0; i < sp_sigv4_keys_count(keys); i++) {
		const struct sp_sigv4_key *k = sp_sigv4_keys_get(keys, i);

		SP_VERIFY(sp_sigv4_keys_find(keys, k->access_key, k->access_key_len) == (int)i);
		SP_VERIFY(strlen(k->secret) == k->secret_len && strlen(k->account) == 12);
	}
	sp_sigv4_keys_free(keys);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sp_sigv4_header hdrs[FUZZ_SIGV4_MAX_HEADERS];
	static char msg1[SP_SIGV4_MSG_MAX];
	static char msg2[SP_SIGV4_MSG_MAX];
	static char msg3[SP_SIGV4_MSG_MAX];
	char shortmsg[FUZZ_SIGV4_SHORT_MSG];
	struct sp_sigv4_request req;
	struct sp_sigv4_result res;
	struct sp_sigv4_config cfg;
	enum sp_kerr v1;
	enum sp_kerr v2;
	enum sp_kerr v3;
	enum sp_kerr v4;
	enum sp_kerr v5;

	fuzz_sigv4_setup();
	fuzz_sigv4_request(data, size, &req, hdrs);
	cfg = (struct sp_sigv4_config){ .keys = g_fuzz_keys, .region = NULL };
	SP_VERIFY(sp_sigv4_init(g_fuzz_cold, &cfg) == 0);
	v1 = sp_sigv4_verify(g_fuzz_warm, &req, &res, msg1, sizeof(msg1));
	v2 = sp_sigv4_verify(g_fuzz_cold, &req, &res, msg2, sizeof(msg2));
	v3 = sp_sigv4_verify(g_fuzz_warm, &req, &res, msg3, sizeof(msg3));
	v4 = sp_sigv4_verify(g_fuzz_cold, &req, &res, shortmsg, sizeof(shortmsg));
	SP_VERIFY(strncmp(msg1, shortmsg, strlen(shortmsg)) == 0);
	v5 = sp_sigv4_verify(g_fuzz_cold, &req, &res, shortmsg, 1);
	SP_VERIFY(v1 == SP_KERR_NONE || v1 == SP_KERR_MISSING_AUTH_TOKEN ||
		  v1 == SP_KERR_INCOMPLETE_SIGNATURE || v1 == SP_KERR_INVALID_SIGNATURE ||
		  v1 == SP_KERR_UNRECOGNIZED_CLIENT);
	SP_VERIFY(v1 == v2 && v1 == v3 && v1 == v4 && v1 == v5);
	SP_VERIFY(strcmp(msg1, msg2) == 0 && strcmp(msg1, msg3) == 0 && shortmsg[0] == '\0');
	SP_VERIFY((v1 == SP_KERR_NONE) == (msg1[0] == '\0'));
	if (v1 == SP_KERR_NONE) {
		SP_VERIFY(res.key_index < sp_sigv4_keys_count(g_fuzz_keys));
		SP_VERIFY(res.region_len >= 1 && strlen(res.region) == res.region_len);
	}
	sp_sigv4_fini(g_fuzz_cold);
	fuzz_sigv4_creds_file(data, size);
	return 0;
}
