/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for dataplane/shard/shard_iter.c. Three checks per input:
 *   1. the input as a token: decode must refuse it (-EINVAL) unless it is exactly what
 *      encode gives for the fields it decodes to (so nothing but encode's output is accepted:
 *      a forgery would have to break HMAC-SHA256);
 *   2. the input as fields: encode, then decode must give the same fields back;
 *   3. that token with one byte changed (position and value from the input) is refused.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <spate/assert.h>

#include "shard_iter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sp_shard_iter_mac *g_mac;

static const uint8_t fz_key[SP_SHARD_ITER_KEY_BYTES] = "spate fuzz key: 32 bytes exactly";

static uint64_t
fz_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++) {
		v |= (uint64_t)p[i] << (8 * i);
	}
	return v;
}

static void
fz_as_token(const uint8_t *data, size_t size)
{
	struct sp_shard_iter it;
	char again[SP_SHARD_ITER_MAX_CHARS + 1];
	int rc = sp_shard_iter_decode(g_mac, (const char *)data, size, 0, &it);
	int n;

	if (rc == -EINVAL) {
		return;
	}
	SP_VERIFY(rc == 0);
	n = sp_shard_iter_encode(g_mac, &it, again, sizeof(again));
	SP_VERIFY(n > 0 && (size_t)n == size && memcmp(again, data, size) == 0);
}

/* Fields from the input: 36 bytes of numbers, then the name (mapped to legal characters). */
static void
fz_as_fields(const uint8_t *data, size_t size)
{
	static const char legal[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
	struct sp_shard_iter it;
	struct sp_shard_iter got;
	char tok[SP_SHARD_ITER_MAX_CHARS + 1];
	size_t name_len;
	int n;

	if (size < 38) {
		return;
	}
	memset(&it, 0, sizeof(it));
	it.kind = data[0] % 3 == 0   ? SP_SHARD_ITER_AT
		  : data[0] % 3 == 1 ? SP_SHARD_ITER_AFTER
				     : SP_SHARD_ITER_TIME;
	it.stream_tag = (uint32_t)fz_le(data + 2, 4) & SP_SEQNO_TAG_MAX;
	it.shard_index = (uint32_t)fz_le(data + 6, 4);
	it.issued_ms = fz_le(data + 10, 8);
	it.seq = (sp_u128)fz_le(data + 18, 8) << 64 | fz_le(data + 26, 8);
	if (it.kind == SP_SHARD_ITER_TIME) {
		it.seq &= UINT64_MAX; /* milliseconds */
	}
	name_len = SP_MIN(size - 36, (size_t)SP_K_STREAM_NAME_MAX_CHARS);
	name_len = SP_MAX(name_len, (size_t)1);
	for (size_t i = 0; i < name_len; i++) {
		it.name[i] = legal[data[36 + i] % (sizeof(legal) - 1)];
	}
	it.name_len = (uint8_t)name_len;
	n = sp_shard_iter_encode(g_mac, &it, tok, sizeof(tok));
	SP_VERIFY(n > 0 && (size_t)n <= SP_SHARD_ITER_MAX_CHARS);
	SP_VERIFY(sp_shard_iter_decode(g_mac, tok, (size_t)n, it.issued_ms, &got) == 0);
	SP_VERIFY(got.seq == it.seq && got.issued_ms == it.issued_ms && got.kind == it.kind);
	SP_VERIFY(got.stream_tag == it.stream_tag && got.shard_index == it.shard_index);
	SP_VERIFY(got.name_len == it.name_len && memcmp(got.name, it.name, name_len) == 0);
	/* one byte changed to another value */
	{
		size_t at = data[1] % (size_t)n;
		char was = tok[at];

		tok[at] = (char)(data[34] == 0 ? 1 : data[34]) ^ was;
		SP_VERIFY(sp_shard_iter_decode(g_mac, tok, (size_t)n, it.issued_ms, &got) ==
			  -EINVAL);
		tok[at] = was;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (g_mac == NULL) {
		SP_VERIFY(sp_shard_iter_mac_create(fz_key, &g_mac) == 0);
	}
	fz_as_token(data, size);
	fz_as_fields(data, size);
	return 0;
}
