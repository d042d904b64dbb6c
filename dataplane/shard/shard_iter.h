/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shard iterator tokens: what GetShardIterator hands out and GetRecords takes back. A token is
 * opaque to clients, authenticated (HMAC-SHA256 under a 32-byte key, truncated to 16 bytes),
 * at most SP_SHARD_ITER_MAX_CHARS characters of the base64url alphabet (A-Z a-z 0-9 - _), so
 * it needs no escaping in JSON or URLs. It carries everything GetRecords needs: the stream name
 * (GetRecords gets nothing else), the stream tag (so a token outlives neither a deleted nor a
 * re-created stream), the shard index, AT or AFTER a sequence number, and the issue time.
 * It is signed, not encrypted: the fields are readable by whoever holds the token.
 *
 * One struct sp_shard_iter_mac per lcore (it holds a digest context that every call reuses, so
 * encode and decode allocate nothing); create it at boot on that lcore's behalf, and give it
 * the key shared by every lcore (at create, or later with sp_shard_iter_mac_rekey).
 * docs/internals/shard-ring.md describes the token layout.
 */
#ifndef SP_SHARD_ITER_H
#define SP_SHARD_ITER_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include <spate/assert.h>
#include <spate/compiler.h>
#include <spate/kinesis.h>
#include <spate/seqno.h>

#define SP_SHARD_ITER_KEY_BYTES 32u
#define SP_SHARD_ITER_MAC_BYTES 16u /* HMAC-SHA256 truncated (RFC 2104 §5: >= half) */
#define SP_SHARD_ITER_VERSION   1u
/* version, kind, name length, reserved, tag, shard index, issue time, sequence number */
#define SP_SHARD_ITER_FIXED_BYTES 36u
#define SP_SHARD_ITER_MAX_BYTES                                                                    \
	(SP_SHARD_ITER_FIXED_BYTES + SP_K_STREAM_NAME_MAX_CHARS + SP_SHARD_ITER_MAC_BYTES)
/* base64url without padding: 4 characters per 3 bytes, 2 or 3 for a last partial group */
#define SP_SHARD_ITER_CHARS(bytes)                                                                 \
	((bytes) / 3u * 4u + ((bytes) % 3u == 0 ? 0u : (bytes) % 3u + 1u))
#define SP_SHARD_ITER_MAX_CHARS SP_SHARD_ITER_CHARS(SP_SHARD_ITER_MAX_BYTES)
#define SP_SHARD_ITER_MIN_CHARS                                                                    \
	SP_SHARD_ITER_CHARS(SP_SHARD_ITER_FIXED_BYTES + 1u + SP_SHARD_ITER_MAC_BYTES)
SP_STATIC_ASSERT(SP_SHARD_ITER_MAX_CHARS <= SP_K_SHARD_ITERATOR_MAX_CHARS,
		 "a token fits the API's ShardIterator length limit");

/* Decode result for a token that is authentic but older than SP_K_ITERATOR_LIFETIME_MS. */
#define SP_SHARD_ITER_EXPIRED (-ETIMEDOUT)

/* "Thu Jan 22 01:22:02 UTC 2015": 28 characters for years 1000..9999, NUL included below. */
#define SP_SHARD_ITER_DATE_BYTES        40u
#define SP_SHARD_ITER_EXPIRED_MSG_BYTES 256u

enum sp_shard_iter_kind {
	SP_SHARD_ITER_AT = 1,    /* from the first record with number >= seq */
	SP_SHARD_ITER_AFTER = 2, /* from the first record with number > seq */
	SP_SHARD_ITER_TIME = 3,  /* from the first record that arrived at or after seq (ms) */
};

struct sp_shard_iter {
	sp_u128 seq;
	uint64_t issued_ms; /* ms since the Unix epoch */
	uint32_t stream_tag;
	uint32_t shard_index;
	enum sp_shard_iter_kind kind;
	uint8_t name_len;                          /* 1..SP_K_STREAM_NAME_MAX_CHARS */
	char name[SP_K_STREAM_NAME_MAX_CHARS + 1]; /* [a-zA-Z0-9_.-]; NUL-terminated by decode */
};

struct sp_shard_iter_mac;

/*
 * Boot time: a MAC context over key (SP_SHARD_ITER_KEY_BYTES), self-tested against OpenSSL's
 * HMAC. Returns 0, -ENOMEM, or -EIO (OpenSSL has no usable SHA-256 or the self-test failed).
 */
SP_MUST_CHECK int sp_shard_iter_mac_create(const uint8_t *key, struct sp_shard_iter_mac **out);
/*
 * Seal and check with key (SP_SHARD_ITER_KEY_BYTES) from now on, on the lcore that owns m.
 * Allocates nothing and cannot fail: the key only changes the precomputed HMAC pads.
 */
void sp_shard_iter_mac_rekey(struct sp_shard_iter_mac *m, const uint8_t *key);
void sp_shard_iter_mac_destroy(struct sp_shard_iter_mac *m);

/*
 * Write the token for it into out (cap bytes, NUL-terminated). Returns its length, -EINVAL
 * (a field out of range: kind, name length or characters, stream tag), -ENOSPC (cap too
 * small; SP_SHARD_ITER_MAX_CHARS + 1 always suffices) or -EIO (digest failure).
 */
SP_MUST_CHECK int sp_shard_iter_encode(struct sp_shard_iter_mac *m, const struct sp_shard_iter *it,
				       char *out, size_t cap);

/*
 * Check and decode s[0..len). Returns 0; -EINVAL for anything not produced by encode under
 * this key (forged, altered, truncated, malformed: InvalidArgumentException "Invalid
 * ShardIterator."); SP_SHARD_ITER_EXPIRED when authentic but issued_ms +
 * SP_K_ITERATOR_LIFETIME_MS < now_ms (out is filled: the message needs issued_ms); -EIO on a
 * digest failure. out is left undefined on -EINVAL.
 */
SP_MUST_CHECK int sp_shard_iter_decode(struct sp_shard_iter_mac *m, const char *s, size_t len,
				       uint64_t now_ms, struct sp_shard_iter *out);

/*
 * ms as java.util.Date.toString() prints it in UTC ("EEE MMM dd HH:mm:ss zzz yyyy", English
 * names whatever the locale). Returns the length written (cut to cap - 1 if needed).
 */
size_t sp_shard_iter_java_date(uint64_t ms, char *buf, size_t cap);

/* ExpiredIteratorException's message (reference §2.5). Returns its length (cut like above). */
size_t sp_shard_iter_expired_msg(uint64_t issued_ms, uint64_t now_ms, char *buf, size_t cap);

#endif /* SP_SHARD_ITER_H */
