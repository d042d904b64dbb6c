/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sealing segment frames at rest with AES-256-GCM (OpenSSL EVP): the AEAD that segment.h's
 * sealed segments name (sp_seg_aead_fn), and the key a shard's records are sealed with.
 *
 * Keys: the operator's key file holds 256-bit master keys; a record is never sealed with a
 * master key itself but with a shard key, HMAC-SHA256(master, "spate seal v1" || stream
 * name || NUL || creation ms || shard index), so that the nonce (the record's sequence number
 * without its shard index, segment.h) is unique under every key: shards of one stream and
 * streams whose 20-bit tags collide get different keys. A key's fingerprint (which key sealed
 * a segment, kept in its header) is the first 8 bytes of SHA-256 over the master key.
 *
 * A struct sp_seal holds one cipher context per direction, keyed by sp_seal_key; keying does
 * not allocate, so the owner lcore can re-key as it moves from one shard's records to the
 * next. One thread per struct sp_seal.
 */
#ifndef SP_NVME_SEAL_H
#define SP_NVME_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include <spate/compiler.h>

#define SP_SEAL_KEY_BYTES 32u
#define SP_SEAL_FP_BYTES  8u

struct sp_seal {
	void *enc; /* EVP_CIPHER_CTX, AES-256-GCM */
	void *dec;
	uint8_t key[SP_SEAL_KEY_BYTES]; /* the shard key both contexts hold (valid when keyed) */
	int keyed;
};

/* Create the contexts (allocates; not on the per-packet path). Returns 0 or -ENOMEM. */
SP_MUST_CHECK int sp_seal_init(struct sp_seal *s);
void sp_seal_fini(struct sp_seal *s);
/* Key both directions with a shard key (a no-op when it already holds it). 0 or -EIO. */
SP_MUST_CHECK int sp_seal_key(struct sp_seal *s, const uint8_t *key);

/* sp_seg_aead_fn for a keyed struct sp_seal: seal in place, write the 16-byte tag. */
int sp_seal_seal(void *seal, const uint8_t *nonce, const uint8_t *aad, uint8_t *a, size_t na,
		 uint8_t *b, size_t nb, uint8_t *tag);
/* sp_seg_aead_fn: open in place; -EBADMSG when the tag does not verify. */
int sp_seal_open(void *seal, const uint8_t *nonce, const uint8_t *aad, uint8_t *a, size_t na,
		 uint8_t *b, size_t nb, uint8_t *tag);

/* The shard key for a stream incarnation's shard (see above). 0 or -EIO. */
SP_MUST_CHECK int sp_seal_shard_key(const uint8_t *master, const char *stream, size_t stream_len,
				    int64_t created_ms, uint32_t shard_index, uint8_t *out);
/* A master key's fingerprint. 0 or -EIO. */
SP_MUST_CHECK int sp_seal_fingerprint(const uint8_t *master, uint8_t *fp);

#endif /* SP_NVME_SEAL_H */
