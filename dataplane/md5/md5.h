/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Batched MD5 (RFC 1321) for Kinesis partition keys: N keys in, N digests out.
 *
 * PutRecords hashes all its partition keys in one call. Keys of at most SP_MD5_ONE_BLOCK_MAX
 * (55) bytes fit one padded 64-byte block and take the fast path of the vector kernels (8 lanes
 * per AVX2 register, 16 per AVX-512 register, several registers interleaved); longer keys are
 * hashed block by block in lanes of their own, and keys over SP_MD5_VEC_MAX_LEN bytes by the
 * scalar code. Every kernel gives the same digests; none allocates.
 *
 * The kernel is chosen once, at start-up, by sp_md5_select() from the CPU flags (or the
 * SPATE_MD5 environment variable: scalar, avx2 or avx512) and self-tested against the scalar
 * reference; sp_md5_batch() selects lazily if nobody did. Select on the main lcore before the
 * workers start; afterwards sp_md5_batch() is safe on any lcore (it only reads).
 */
#ifndef SP_MD5_H
#define SP_MD5_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spate/compiler.h>

/* Longest key that fits one padded block: 64 bytes minus the 0x80 byte and the bit length. */
#define SP_MD5_ONE_BLOCK_MAX 55u
/* Keys longer than this go to the scalar code even when a vector kernel is active. */
#define SP_MD5_VEC_MAX_LEN 1024u
#define SP_MD5_DIGEST_LEN 16u

/* One key to hash. data may be NULL when len is 0. */
struct sp_md5_key {
	const void *data;
	size_t len;
};

/* An MD5 digest, in the byte order of RFC 1321 (as printed in hex). */
struct sp_md5_digest {
	uint8_t b[SP_MD5_DIGEST_LEN];
};

/* The digest read as a 128-bit big-endian unsigned integer: the Kinesis hash key. */
struct sp_md5_hashkey {
	uint64_t hi;
	uint64_t lo;
};

enum sp_md5_kernel {
	SP_MD5_SCALAR = 0,
	SP_MD5_AVX2,
	SP_MD5_AVX512,
	SP_MD5_KERNEL_COUNT,
};

/* A batch kernel: out[i] = MD5(keys[i]) for i < n. keys and out may be NULL when n is 0. */
typedef void (*sp_md5_batch_fn)(const struct sp_md5_key *keys, size_t n,
				struct sp_md5_digest *out);

/* Hash a batch with the selected kernel (selects on first use). */
void sp_md5_batch(const struct sp_md5_key *keys, size_t n, struct sp_md5_digest *out);

/* Hash one key with the scalar reference. */
void sp_md5_one(const void *data, size_t len, struct sp_md5_digest *out);

/* The kernels themselves. Call the AVX ones only when sp_md5_kernel_supported() says so. */
void sp_md5_batch_scalar(const struct sp_md5_key *keys, size_t n, struct sp_md5_digest *out);
void sp_md5_batch_avx2(const struct sp_md5_key *keys, size_t n, struct sp_md5_digest *out);
void sp_md5_batch_avx512(const struct sp_md5_key *keys, size_t n, struct sp_md5_digest *out);

/*
 * Choose the kernel: SPATE_MD5 if set (and supported), else the widest the CPU supports. The
 * choice is self-tested against the scalar reference; on a mismatch the scalar kernel is used
 * and the mismatch is logged to stderr. Returns the kernel in use. Idempotent.
 */
enum sp_md5_kernel sp_md5_select(void);

/*
 * Force a kernel (tests, benchmarks). Returns 0, -EINVAL for an unknown kernel, -ENOTSUP when
 * the CPU (or the build) lacks it, -EIO when its self-test fails (the previous kernel stays).
 */
int sp_md5_force(enum sp_md5_kernel k) SP_MUST_CHECK;

/* Whether this CPU and build can run kernel k. */
bool sp_md5_kernel_supported(enum sp_md5_kernel k);

/* The kernel in use (selecting first if nobody did). */
enum sp_md5_kernel sp_md5_kernel_active(void);

/* "scalar", "avx2", "avx512"; "?" for anything else. */
const char *sp_md5_kernel_name(enum sp_md5_kernel k);

/* The batch function of kernel k, or NULL when unsupported. Does not self-test. */
sp_md5_batch_fn sp_md5_kernel_fn(enum sp_md5_kernel k);

/* Run kernel k over the fixed self-test vectors: 0 or -EIO (-ENOTSUP if unsupported). */
int sp_md5_self_test(enum sp_md5_kernel k) SP_MUST_CHECK;

/* The Kinesis hash key of a digest: its 16 bytes as a big-endian 128-bit integer. */
static inline struct sp_md5_hashkey
sp_md5_hashkey(const struct sp_md5_digest *d)
{
	struct sp_md5_hashkey h = { 0, 0 };
	unsigned i;

	for (i = 0; i < 8; i++) {
		h.hi = (h.hi << 8) | d->b[i];
		h.lo = (h.lo << 8) | d->b[8 + i];
	}
	return h;
}

/* The same as one unsigned __int128. */
static inline unsigned __int128
sp_md5_hashkey_u128(const struct sp_md5_digest *d)
{
	struct sp_md5_hashkey h = sp_md5_hashkey(d);

	return ((unsigned __int128)h.hi << 64) | h.lo;
}

/* -1, 0 or 1 as a is below, equal to or above b. */
static inline int
sp_md5_hashkey_cmp(const struct sp_md5_hashkey *a, const struct sp_md5_hashkey *b)
{
	if (a->hi != b->hi) {
		return a->hi < b->hi ? -1 : 1;
	}
	if (a->lo != b->lo) {
		return a->lo < b->lo ? -1 : 1;
	}
	return 0;
}

#endif /* SP_MD5_H */
