/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The scalar MD5 of RFC 1321, one key at a time: the reference the vector kernels are
 * self-tested and unit-tested against, the kernel of CPUs without AVX2, and the path of keys
 * too long for the vector lanes. Pure function of its input; runs on any lcore.
 */
#include "md5_internal.h"

static inline uint32_t
md5_rol(uint32_t x, unsigned s)
{
	return (x << s) | (x >> (32 - s));
}

static inline uint32_t
md5_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The four auxiliary functions of RFC 1321 §3.4, written with few dependent operations. */
#define MD5_F(b, c, d) ((d) ^ ((b) & ((c) ^ (d))))
#define MD5_G(b, c, d) ((c) ^ ((d) & ((b) ^ (c))))
#define MD5_H(b, c, d) ((b) ^ (c) ^ (d))
#define MD5_I(b, c, d) ((c) ^ ((b) | ~(d)))

/*
 * The step index i picks the function and the register rotation: step i updates register
 * (-i mod 4) of (a, b, c, d), i.e. a, d, c, b, a, ...
 */
#define MD5_FN(i, b, c, d)                                                                 \
	((i) < 16 ? MD5_F(b, c, d) : (i) < 32 ? MD5_G(b, c, d) : (i) < 48 ? MD5_H(b, c, d)  \
							 : MD5_I(b, c, d))
#define MD5_STEP(a, b, c, d, i, g, k, s)                                                   \
	do {                                                                               \
		a += MD5_FN(i, b, c, d) + w[g] + (k);                                      \
		a = b + md5_rol(a, s);                                                     \
	} while (0)
#define MD5_S(i, g, k, s)                                                                  \
	if ((i) % 4 == 0) {                                                                \
		MD5_STEP(a, b, c, d, i, g, k, s);                                          \
	} else if ((i) % 4 == 1) {                                                         \
		MD5_STEP(d, a, b, c, i, g, k, s);                                          \
	} else if ((i) % 4 == 2) {                                                         \
		MD5_STEP(c, d, a, b, i, g, k, s);                                          \
	} else {                                                                           \
		MD5_STEP(b, c, d, a, i, g, k, s);                                          \
	}

/* RFC 1321 §3.4: fold one 64-byte block into the state. */
static void
md5_compress(uint32_t st[4], const uint8_t *blk)
{
	uint32_t w[16];
	uint32_t a = st[0];
	uint32_t b = st[1];
	uint32_t c = st[2];
	uint32_t d = st[3];
	unsigned j;

	for (j = 0; j < 16; j++) {
		w[j] = md5_le32(blk + 4 * j);
	}
	MD5_ROUND1(MD5_S)
	MD5_ROUND2(MD5_S)
	MD5_ROUND3(MD5_S)
	MD5_ROUND4(MD5_S)
	st[0] += a;
	st[1] += b;
	st[2] += c;
	st[3] += d;
}

void
sp_md5_one(const void *data, size_t len, struct sp_md5_digest *out)
{
	const uint8_t *p = data;
	uint32_t st[4] = { MD5_A0, MD5_B0, MD5_C0, MD5_D0 };
	uint8_t blk[MD5_BLOCK];
	size_t full = len / MD5_BLOCK;
	size_t nb = md5_nblocks(len);
	size_t k;
	unsigned j;

	SP_VERIFY(out != NULL);
	SP_VERIFY(len == 0 || data != NULL);
	for (k = 0; k < full; k++) {
		md5_compress(st, p + k * MD5_BLOCK);
	}
	for (k = full; k < nb; k++) {
		md5_pad_tail(blk, p, len, k);
		md5_compress(st, blk);
	}
	for (j = 0; j < 4; j++) {
		md5_store_le64(blk, st[j]);
		memcpy(out->b + 4 * j, blk, 4);
	}
}

void
sp_md5_batch_scalar(const struct sp_md5_key *keys, size_t n, struct sp_md5_digest *out)
{
	size_t i;

	SP_VERIFY(n == 0 || (keys != NULL && out != NULL));
	for (i = 0; i < n; i++) {
		sp_md5_one(keys[i].data, keys[i].len, &out[i]);
	}
}
