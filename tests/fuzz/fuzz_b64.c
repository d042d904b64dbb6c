/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer differential target for dataplane/b64. The input is used twice:
 *   - as base64 text: every kernel the CPU supports must give the scalar kernel's verdict,
 *     error (status, position, character, reported length) and output, through both decode
 *     and validate; a valid input must decode as OpenSSL's EVP_DecodeBlock does and encode
 *     back to itself (the canonical form); an error must produce a bounded message;
 *   - as raw bytes: every kernel's encoding must equal EVP_EncodeBlock's and decode back;
 *     that encoding with one byte replaced then goes through the text checks above.
 * Buffers are exact-size heap blocks, and the input is libFuzzer's own exact-size copy, so a
 * kernel that reads or writes one byte too far is caught by ASan.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <spate/assert.h>

#include "b64.h"

/* Inputs past this are cut: the kernels' block structure repeats long before. */
#define FUZZ_B64_MAX (1u << 16)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_b64_check_err(const struct sp_b64_error *a, const struct sp_b64_error *b)
{
	SP_VERIFY(a->status == b->status && a->pos == b->pos);
	SP_VERIFY(a->c == b->c && a->c_len == b->c_len && a->found_len == b->found_len);
}

/* A valid input: OpenSSL agrees on the bytes, and every kernel encodes them back to in. */
static void
fuzz_b64_valid(const char *in, size_t len, const uint8_t *dec, size_t n)
{
	unsigned char *ossl = malloc(len / 4 * 3 + 1);
	char *enc = malloc(len + 1);
	unsigned k;

	SP_VERIFY(ossl != NULL && enc != NULL);
	SP_VERIFY(EVP_DecodeBlock(ossl, (const unsigned char *)in, (int)len) == (int)(len / 4 * 3));
	SP_VERIFY(n <= len / 4 * 3 && memcmp(ossl, dec, n) == 0);
	for (k = 0; k < SP_B64_KERNEL_COUNT; k++) {
		if (!sp_b64_kernel_supported((enum sp_b64_kernel)k)) {
			continue;
		}
		SP_VERIFY(sp_b64_encode_with((enum sp_b64_kernel)k, dec, n, enc) == len);
		SP_VERIFY(memcmp(enc, in, len) == 0);
	}
	free(ossl);
	free(enc);
}

/* An invalid input: the error names a real character, and its message is bounded. */
static void
fuzz_b64_invalid(const char *in, size_t len, const struct sp_b64_error *err)
{
	static char msg[SP_B64_MSG_MAX];
	size_t m;

	SP_VERIFY(err->status != SP_B64_OK);
	if (err->status == SP_B64_BAD_CHAR) {
		SP_VERIFY(err->pos + err->c_len <= len && in[err->pos] == err->c);
	}
	if (err->status == SP_B64_BAD_LENGTH) {
		SP_VERIFY(err->found_len % 4 != 0 && err->found_len <= len);
	}
	m = sp_b64_error_message(err, in, len, msg, sizeof(msg));
	SP_VERIFY(m > 0 && m < sizeof(msg) && msg[m] == '\0' && msg[0] == '\'');
}

/* The input as text through every kernel, against the scalar kernel. */
static void
fuzz_b64_decode(const char *in, size_t len)
{
	size_t cap = sp_b64_decoded_max(len);
	uint8_t *ref = malloc(cap + 1);
	uint8_t *got = malloc(cap + 1);
	struct sp_b64_error rerr;
	struct sp_b64_error gerr;
	size_t rn = 0;
	size_t gn = 0;
	int rc;
	unsigned k;

	SP_VERIFY(ref != NULL && got != NULL);
	rc = sp_b64_decode_with(SP_B64_SCALAR, in, len, ref, &rn, &rerr);
	SP_VERIFY(rc == 0 || rc == -EINVAL);
	for (k = 0; k < SP_B64_KERNEL_COUNT; k++) {
		enum sp_b64_kernel kk = (enum sp_b64_kernel)k;

		if (!sp_b64_kernel_supported(kk)) {
			continue;
		}
		SP_VERIFY(sp_b64_decode_with(kk, in, len, got, &gn, &gerr) == rc);
		fuzz_b64_check_err(&rerr, &gerr);
		SP_VERIFY(gn == rn && (rc != 0 || memcmp(ref, got, rn) == 0));
		SP_VERIFY(sp_b64_validate_with(kk, in, len, &gn, &gerr) == rc);
		fuzz_b64_check_err(&rerr, &gerr);
		SP_VERIFY(gn == rn);
	}
	if (rc == 0) {
		fuzz_b64_valid(in, len, ref, rn);
	} else {
		fuzz_b64_invalid(in, len, &rerr);
	}
	free(ref);
	free(got);
}

/* The input as raw bytes: encode with every kernel, against OpenSSL, and decode back. */
static void
fuzz_b64_encode(const uint8_t *data, size_t size)
{
	size_t el = sp_b64_encoded_len(size);
	unsigned char *ossl = malloc(el + 1);
	char *enc = malloc(el + 1);
	uint8_t *dec = malloc(sp_b64_decoded_max(el) + 1);
	unsigned k;

	SP_VERIFY(ossl != NULL && enc != NULL && dec != NULL);
	SP_VERIFY(EVP_EncodeBlock(ossl, data, (int)size) == (int)el);
	for (k = 0; k < SP_B64_KERNEL_COUNT; k++) {
		enum sp_b64_kernel kk = (enum sp_b64_kernel)k;
		struct sp_b64_error err;
		size_t n = 0;

		if (!sp_b64_kernel_supported(kk)) {
			continue;
		}
		SP_VERIFY(sp_b64_encode_with(kk, data, size, enc) == el);
		SP_VERIFY(memcmp(enc, ossl, el) == 0);
		SP_VERIFY(sp_b64_decode_with(kk, enc, el, dec, &n, &err) == 0);
		SP_VERIFY(n == size && memcmp(dec, data, size) == 0);
	}
	/*
	 * The encoding with one byte replaced (where and by what: the input's first bytes): a
	 * long, nearly valid text, which random inputs seldom are, through the differential.
	 */
	if (size >= 3) {
		ossl[((size_t)data[0] << 8 | data[1]) % el] = data[2];
		fuzz_b64_decode((const char *)ossl, el);
	}
	free(ossl);
	free(enc);
	free(dec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size = SP_MIN(size, (size_t)FUZZ_B64_MAX);
	sp_b64_select();
	fuzz_b64_decode((const char *)data, size);
	fuzz_b64_encode(data, size);
	return 0;
}
