/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer differential target for dataplane/md5: the input is cut into a batch of keys (a
 * length byte, 255 meaning a two-byte little-endian length follows, then that many bytes,
 * clipped at the end of the input); the scalar kernel, the selected kernel, every other kernel
 * the CPU supports and OpenSSL must all give the same digests. Keys point into the input
 * itself, so a kernel that reads past a key's end is caught by ASan at the end of the input.
 */
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include <spate/assert.h>

#include "md5.h"

/* Keys per fuzzed batch: past the largest vector group (64), so a partial group follows. */
#define FUZZ_MD5_MAX_KEYS 100u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Cut the input into keys; returns how many. */
static size_t
fuzz_md5_keys(const uint8_t *data, size_t size, struct sp_md5_key *keys)
{
	size_t pos = 0;
	size_t n = 0;

	while (pos < size && n < FUZZ_MD5_MAX_KEYS) {
		size_t len = data[pos++];

		if (len == 255 && pos + 2 <= size) {
			len = (size_t)data[pos] | (size_t)data[pos + 1] << 8;
			pos += 2;
		}
		len = SP_MIN(len, size - pos);
		keys[n].data = data + pos;
		keys[n].len = len;
		pos += len;
		n++;
	}
	SP_VERIFY(pos <= size && n <= FUZZ_MD5_MAX_KEYS);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sp_md5_key keys[FUZZ_MD5_MAX_KEYS];
	struct sp_md5_digest ref[FUZZ_MD5_MAX_KEYS];
	struct sp_md5_digest got[FUZZ_MD5_MAX_KEYS];
	struct sp_md5_digest ossl;
	size_t n = fuzz_md5_keys(data, size, keys);
	unsigned k;
	size_t i;

	(void)sp_md5_select();
	sp_md5_batch_scalar(keys, n, ref);
	for (i = 0; i < n; i++) {
		unsigned int dlen = 0;

		SP_VERIFY(EVP_Digest(keys[i].len != 0 ? keys[i].data : "", keys[i].len, ossl.b,
				     &dlen, EVP_md5(), NULL) == 1);
		SP_VERIFY(dlen == SP_MD5_DIGEST_LEN);
		SP_VERIFY(memcmp(&ossl, &ref[i], sizeof(ossl)) == 0);
	}
	sp_md5_batch(keys, n, got);
	SP_VERIFY(n == 0 || memcmp(ref, got, n * sizeof(got[0])) == 0);
	for (k = 0; k < SP_MD5_KERNEL_COUNT; k++) {
		sp_md5_batch_fn fn = sp_md5_kernel_fn((enum sp_md5_kernel)k);

		if (fn == NULL) {
			continue;
		}
		memset(got, 0, sizeof(got));
		fn(keys, n, got);
		SP_VERIFY(n == 0 || memcmp(ref, got, n * sizeof(got[0])) == 0);
	}
	return 0;
}
