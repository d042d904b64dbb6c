/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AES-256-GCM for sealed segments (seal.h). OpenSSL's EVP interface: a context is created once
 * per direction and re-keyed with EVP_CipherInit_ex(ctx, NULL, NULL, key, NULL), and each
 * record sets its 12-byte IV the same way, so nothing is allocated per record.
 */
#include "seal.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <spate/assert.h>

#include "le.h"
#include "segment.h"

SP_STATIC_ASSERT(SP_SEAL_FP_BYTES == SP_SEG_KEY_FP_BYTES, "fingerprint width");
SP_STATIC_ASSERT(SP_SEG_NONCE_BYTES == 12, "GCM's 96-bit IV");

static const char k_info[] = "spate seal v1";

int
sp_seal_init(struct sp_seal *s)
{
	memset(s, 0, sizeof(*s));
	s->enc = EVP_CIPHER_CTX_new();
	s->dec = EVP_CIPHER_CTX_new();
	if (s->enc == NULL || s->dec == NULL ||
	    EVP_EncryptInit_ex(s->enc, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_DecryptInit_ex(s->dec, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1) {
		sp_seal_fini(s);
		return -ENOMEM;
	}
	return 0;
}

void
sp_seal_fini(struct sp_seal *s)
{
	EVP_CIPHER_CTX_free(s->enc);
	EVP_CIPHER_CTX_free(s->dec);
	OPENSSL_cleanse(s->key, sizeof(s->key));
	memset(s, 0, sizeof(*s));
}

int
sp_seal_key(struct sp_seal *s, const uint8_t *key)
{
	SP_VERIFY(s->enc != NULL && s->dec != NULL);
	if (s->keyed && CRYPTO_memcmp(s->key, key, SP_SEAL_KEY_BYTES) == 0) {
		return 0;
	}
	s->keyed = 0;
	if (EVP_EncryptInit_ex(s->enc, NULL, NULL, key, NULL) != 1 ||
	    EVP_DecryptInit_ex(s->dec, NULL, NULL, key, NULL) != 1) {
		return -EIO;
	}
	memcpy(s->key, key, SP_SEAL_KEY_BYTES);
	s->keyed = 1;
	return 0;
}

/* One region through the cipher in place (GCM is a stream mode: out length = in length). */
static int
seal_update(EVP_CIPHER_CTX *c, uint8_t *p, size_t n, int enc)
{
	while (n > 0) {
		int chunk = n > INT_MAX ? INT_MAX : (int)n, out = 0;

		if ((enc ? EVP_EncryptUpdate(c, p, &out, p, chunk)
			 : EVP_DecryptUpdate(c, p, &out, p, chunk)) != 1 ||
		    out != chunk) {
			return -EIO;
		}
		p += chunk;
		n -= (size_t)chunk;
	}
	return 0;
}

int
sp_seal_seal(void *arg, const uint8_t *nonce, const uint8_t *aad, uint8_t *a, size_t na, uint8_t *b,
	     size_t nb, uint8_t *tag)
{
	struct sp_seal *s = arg;
	EVP_CIPHER_CTX *c = s->enc;
	int out = 0;

	SP_VERIFY(s->keyed);
	if (EVP_EncryptInit_ex(c, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &out, aad, SP_SEG_AAD_BYTES) != 1 ||
	    seal_update(c, a, na, 1) != 0 || seal_update(c, b, nb, 1) != 0 ||
	    EVP_EncryptFinal_ex(c, tag, &out) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, SP_SEG_TAG_BYTES, tag) != 1) {
		return -EIO;
	}
	return 0;
}

int
sp_seal_open(void *arg, const uint8_t *nonce, const uint8_t *aad, uint8_t *a, size_t na, uint8_t *b,
	     size_t nb, uint8_t *tag)
{
	struct sp_seal *s = arg;
	EVP_CIPHER_CTX *c = s->dec;
	uint8_t end[16];
	int out = 0;

	SP_VERIFY(s->keyed);
	if (EVP_DecryptInit_ex(c, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &out, aad, SP_SEG_AAD_BYTES) != 1 ||
	    seal_update(c, a, na, 0) != 0 || seal_update(c, b, nb, 0) != 0 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, SP_SEG_TAG_BYTES, tag) != 1) {
		return -EIO;
	}
	if (EVP_DecryptFinal_ex(c, end, &out) != 1) {
		/* wrong key or damaged bytes: what was decrypted is not to be trusted */
		OPENSSL_cleanse(a, na);
		OPENSSL_cleanse(b, nb);
		return -EBADMSG;
	}
	return 0;
}

int
sp_seal_shard_key(const uint8_t *master, const char *stream, size_t stream_len, int64_t created_ms,
		  uint32_t shard_index, uint8_t *out)
{
	uint8_t msg[sizeof(k_info) + 128 + 1 + 12];
	unsigned int len = 0;
	size_t n = 0;

	if (stream_len > 128) {
		return -EIO;
	}
	memcpy(msg, k_info, sizeof(k_info)); /* with its NUL */
	n = sizeof(k_info);
	memcpy(msg + n, stream, stream_len);
	n += stream_len;
	msg[n++] = 0;
	sp_le_st64(msg + n, (uint64_t)created_ms);
	n += 8;
	sp_le_st32(msg + n, shard_index);
	n += 4;
	if (HMAC(EVP_sha256(), master, SP_SEAL_KEY_BYTES, msg, n, out, &len) == NULL ||
	    len != SP_SEAL_KEY_BYTES) {
		return -EIO;
	}
	return 0;
}

int
sp_seal_fingerprint(const uint8_t *master, uint8_t *fp)
{
	uint8_t md[32];
	unsigned int len = 0;

	if (EVP_Digest(master, SP_SEAL_KEY_BYTES, md, &len, EVP_sha256(), NULL) != 1 ||
	    len != sizeof(md)) {
		return -EIO;
	}
	memcpy(fp, md, SP_SEAL_FP_BYTES);
	return 0;
}
