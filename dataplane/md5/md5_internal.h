/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to dataplane/md5: the RFC 1321 constants, block padding shared by every kernel, and
 * the batch driver that sorts keys into one-block groups, multi-block groups and scalar keys.
 */
#ifndef SP_MD5_INTERNAL_H
#define SP_MD5_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include <spate/assert.h>

#include "md5.h"

#define MD5_BLOCK 64u
/* Byte offset of the 64-bit message length in bits, in the last block. */
#define MD5_LEN_OFF 56u

#define MD5_A0 0x67452301u
#define MD5_B0 0xefcdab89u
#define MD5_C0 0x98badcfeu
#define MD5_D0 0x10325476u

/*
 * The 64 steps of RFC 1321 §3.4 as X-macro rows: MD5_ROUNDS(S) expands S(i, g, k, s) for step
 * i, message word g, additive constant k (floor(abs(sin(i + 1)) * 2^32)) and rotation s.
 * Each kernel defines S for its own lane width.
 */
#define MD5_ROUND1(S)                                                                      \
	S(0, 0, 0xd76aa478u, 7) S(1, 1, 0xe8c7b756u, 12) S(2, 2, 0x242070dbu, 17)          \
	S(3, 3, 0xc1bdceeeu, 22) S(4, 4, 0xf57c0fafu, 7) S(5, 5, 0x4787c62au, 12)          \
	S(6, 6, 0xa8304613u, 17) S(7, 7, 0xfd469501u, 22) S(8, 8, 0x698098d8u, 7)          \
	S(9, 9, 0x8b44f7afu, 12) S(10, 10, 0xffff5bb1u, 17) S(11, 11, 0x895cd7beu, 22)     \
	S(12, 12, 0x6b901122u, 7) S(13, 13, 0xfd987193u, 12) S(14, 14, 0xa679438eu, 17)    \
	S(15, 15, 0x49b40821u, 22)
#define MD5_ROUND2(S)                                                                      \
	S(16, 1, 0xf61e2562u, 5) S(17, 6, 0xc040b340u, 9) S(18, 11, 0x265e5a51u, 14)       \
	S(19, 0, 0xe9b6c7aau, 20) S(20, 5, 0xd62f105du, 5) S(21, 10, 0x02441453u, 9)       \
	S(22, 15, 0xd8a1e681u, 14) S(23, 4, 0xe7d3fbc8u, 20) S(24, 9, 0x21e1cde6u, 5)      \
	S(25, 14, 0xc33707d6u, 9) S(26, 3, 0xf4d50d87u, 14) S(27, 8, 0x455a14edu, 20)      \
	S(28, 13, 0xa9e3e905u, 5) S(29, 2, 0xfcefa3f8u, 9) S(30, 7, 0x676f02d9u, 14)       \
	S(31, 12, 0x8d2a4c8au, 20)
#define MD5_ROUND3(S)                                                                      \
	S(32, 5, 0xfffa3942u, 4) S(33, 8, 0x8771f681u, 11) S(34, 11, 0x6d9d6122u, 16)      \
	S(35, 14, 0xfde5380cu, 23) S(36, 1, 0xa4beea44u, 4) S(37, 4, 0x4bdecfa9u, 11)      \
	S(38, 7, 0xf6bb4b60u, 16) S(39, 10, 0xbebfbc70u, 23) S(40, 13, 0x289b7ec6u, 4)     \
	S(41, 0, 0xeaa127fau, 11) S(42, 3, 0xd4ef3085u, 16) S(43, 6, 0x04881d05u, 23)      \
	S(44, 9, 0xd9d4d039u, 4) S(45, 12, 0xe6db99e5u, 11) S(46, 15, 0x1fa27cf8u, 16)     \
	S(47, 2, 0xc4ac5665u, 23)
#define MD5_ROUND4(S)                                                                      \
	S(48, 0, 0xf4292244u, 6) S(49, 7, 0x432aff97u, 10) S(50, 14, 0xab9423a7u, 15)      \
	S(51, 5, 0xfc93a039u, 21) S(52, 12, 0x655b59c3u, 6) S(53, 3, 0x8f0ccc92u, 10)      \
	S(54, 10, 0xffeff47du, 15) S(55, 1, 0x85845dd1u, 21) S(56, 8, 0x6fa87e4fu, 6)      \
	S(57, 15, 0xfe2ce6e0u, 10) S(58, 6, 0xa3014314u, 15) S(59, 13, 0x4e0811a1u, 21)    \
	S(60, 4, 0xf7537e82u, 6) S(61, 11, 0xbd3af235u, 10) S(62, 2, 0x2ad7d2bbu, 15)      \
	S(63, 9, 0xeb86d391u, 21)

#define MD5_K_ENTRY(i, g, k, s) k,
/*
 * The additive constants as a table, for the vector kernels: read through a pointer that the
 * compiler cannot see through (md5_k_table), each becomes a broadcast load instead of an
 * immediate moved through a general register into a vector, which costs two extra uops.
 */
static const uint32_t md5_k[64] = {
	MD5_ROUND1(MD5_K_ENTRY) MD5_ROUND2(MD5_K_ENTRY) MD5_ROUND3(MD5_K_ENTRY)
	MD5_ROUND4(MD5_K_ENTRY)
};
#undef MD5_K_ENTRY

static inline const uint32_t *
md5_k_table(void)
{
	const uint32_t *k = md5_k;

	__asm__("" : "+r"(k));
	return k;
}

/* Blocks a message of len bytes pads to: data, the 0x80 byte, zeros, 8 length bytes. */
static inline size_t
md5_nblocks(size_t len)
{
	return (len + 8) / MD5_BLOCK + 1;
}

static inline void
md5_store_le64(uint8_t *p, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(p, &v, sizeof(v));
#else
	unsigned i;

	for (i = 0; i < 8; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
	}
#endif
}

/*
 * Copy len <= 63 bytes with at most two overlapping fixed-size moves, so that short keys cost
 * no call into memcpy. Bytes of dst past len are not touched.
 */
static inline void
md5_copy_short(uint8_t *dst, const uint8_t *src, size_t len)
{
	if (len >= 32) {
		memcpy(dst, src, 32);
		memcpy(dst + len - 32, src + len - 32, 32);
	} else if (len >= 16) {
		memcpy(dst, src, 16);
		memcpy(dst + len - 16, src + len - 16, 16);
	} else if (len >= 8) {
		memcpy(dst, src, 8);
		memcpy(dst + len - 8, src + len - 8, 8);
	} else if (len >= 4) {
		memcpy(dst, src, 4);
		memcpy(dst + len - 4, src + len - 4, 4);
	} else if (len > 0) {
		dst[0] = src[0];
		dst[len / 2] = src[len / 2];
		dst[len - 1] = src[len - 1];
	}
}

/* The one padded block of a key of at most SP_MD5_ONE_BLOCK_MAX bytes. */
static inline void
md5_pad_one(uint8_t blk[MD5_BLOCK], const void *data, size_t len)
{
	SP_ASSERT(len <= SP_MD5_ONE_BLOCK_MAX);
	memset(blk, 0, MD5_BLOCK);
	md5_copy_short(blk, data, len);
	blk[len] = 0x80;
	md5_store_le64(blk + MD5_LEN_OFF, (uint64_t)len * 8);
}

/*
 * Block k of a message of len bytes, for a block that is not all data (k >= len / 64): the
 * tail of the data, the 0x80 byte if it falls in this block, the bit length if it is the last.
 */
static inline void
md5_pad_tail(uint8_t blk[MD5_BLOCK], const uint8_t *data, size_t len, size_t k)
{
	size_t off = k * MD5_BLOCK;

	SP_ASSERT(off + MD5_BLOCK > len && k < md5_nblocks(len));
	memset(blk, 0, MD5_BLOCK);
	if (off < len) {
		md5_copy_short(blk, data + off, len - off);
	}
	if (off <= len) {
		blk[len - off] = 0x80;
	}
	if (k + 1 == md5_nblocks(len)) {
		md5_store_le64(blk + MD5_LEN_OFF, (uint64_t)len * 8);
	}
}

/*
 * A vector kernel's group function: hash keys[idx[j]] into out[idx[j]] for j < n, where n is
 * at most the kernel's group size and every key is at most SP_MD5_VEC_MAX_LEN bytes.
 */
typedef void (*md5_group_fn)(const struct sp_md5_key *keys, const uint32_t *idx, uint32_t n,
			     struct sp_md5_digest *out);

/* Up to 64 lanes in flight (AVX-512, four registers). */
#define MD5_GROUP_MAX 64u

/*
 * The batch driver shared by the vector kernels. One-block keys are gathered into groups of
 * `group` lanes, multi-block keys into groups of their own (so short keys never wait on long
 * ones), and keys over SP_MD5_VEC_MAX_LEN go to the scalar code; a lone leftover key is cheaper
 * in scalar than in a mostly empty register. Inlined into each kernel so that the group calls
 * are direct.
 */
static inline void
md5_drive(const struct sp_md5_key *keys, size_t n, struct sp_md5_digest *out, uint32_t group,
	  md5_group_fn one_block, md5_group_fn multi_block)
{
	uint32_t sidx[MD5_GROUP_MAX];
	uint32_t lidx[MD5_GROUP_MAX];
	uint32_t ns = 0;
	uint32_t nl = 0;
	size_t i;

	SP_VERIFY(n == 0 || (keys != NULL && out != NULL));
	SP_VERIFY(group <= MD5_GROUP_MAX && n <= UINT32_MAX);
	for (i = 0; i < n; i++) {
		size_t len = keys[i].len;

		if (SP_LIKELY(len <= SP_MD5_ONE_BLOCK_MAX)) {
			sidx[ns++] = (uint32_t)i;
			if (ns == group) {
				one_block(keys, sidx, ns, out);
				ns = 0;
			}
		} else if (len <= SP_MD5_VEC_MAX_LEN) {
			lidx[nl++] = (uint32_t)i;
			if (nl == group) {
				multi_block(keys, lidx, nl, out);
				nl = 0;
			}
		} else {
			sp_md5_one(keys[i].data, len, &out[i]);
		}
	}
	if (ns == 1) {
		sp_md5_one(keys[sidx[0]].data, keys[sidx[0]].len, &out[sidx[0]]);
	} else if (ns > 1) {
		one_block(keys, sidx, ns, out);
	}
	if (nl == 1) {
		sp_md5_one(keys[lidx[0]].data, keys[lidx[0]].len, &out[lidx[0]]);
	} else if (nl > 1) {
		multi_block(keys, lidx, nl, out);
	}
}

#endif /* SP_MD5_INTERNAL_H */
