/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Encryption at rest for streams under StartStreamEncryption (docs/internals/encryption.md).
 *
 * The key file (config key key_file, the same file spate-control resolves KeyIds against) is
 * loaded once at boot and read-only after. The catalog names each encrypted stream's KeyId;
 * the snapshot build turns it into a key-file slot (api_cat.c). An owner appending records of
 * an encrypted stream marks them in the ring (SP_API_REC_SEALED and the slot); as it feeds them
 * to the shard's log it seals them with the shard key (nvme/seal.h: HMAC of the master key,
 * the stream's name and creation, the shard index), made when the feed first meets that slot
 * and kept in the feed. Rings hold clear records (memory, not rest); segments hold sealed
 * ones, naming their key by fingerprint, so cold reads find the master key by fingerprint and
 * make the shard key from the stream the requester names. Everything runs on the owner lcore:
 * one struct sp_seal per worker, re-keyed as it moves between shards (no allocation).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_log.h>

#include <openssl/crypto.h>

#include <spate/assert.h>
#include <spate/keyfile.h>

#include "api_store.h"
#include "api_worker.h"
#include "api_xcore.h"

#define RTE_LOGTYPE_SPATE RTE_LOGTYPE_USER1

int
sp_api_seal_load(struct sp_api_global *g)
{
	struct sp_keyfile *kf;
	int rc;

	g->enc_keys = NULL;
	if (g->key_file[0] == '\0') {
		RTE_LOG(INFO, SPATE, "api: no key_file: encrypted streams' records are refused\n");
		return 0;
	}
	kf = calloc(1, sizeof(*kf));
	if (kf == NULL) {
		return -ENOMEM;
	}
	rc = sp_keyfile_load(g->key_file, kf);
	if (rc != 0) {
		RTE_LOG(ERR, SPATE,
			"api: key_file %s not loaded (%s): encrypted streams' records are "
			"refused\n",
			g->key_file, kf->err);
		sp_keyfile_clear(kf);
		free(kf);
		return 0;
	}
	RTE_LOG(INFO, SPATE, "api: %zu encryption key(s) from %s\n", kf->n, g->key_file);
	g->enc_keys = kf;
	return 0;
}

void
sp_api_seal_free(struct sp_api_global *g)
{
	if (g->enc_keys != NULL) {
		sp_keyfile_clear(g->enc_keys);
		free(g->enc_keys);
		g->enc_keys = NULL;
	}
}

int
sp_api_seal_open(struct sp_api *api)
{
	return sp_seal_init(&api->seal);
}

void
sp_api_seal_close(struct sp_api *api)
{
	if (api->seal.enc != NULL) {
		sp_seal_fini(&api->seal);
	}
	OPENSSL_cleanse(api->cold_key, sizeof(api->cold_key));
}

void
sp_api_seal_feed_init(struct sp_api_feed *f, const struct sp_api_stream *st, uint32_t shard_index)
{
	SP_VERIFY(st->name_len < sizeof(f->stream));
	memcpy(f->stream, st->name, st->name_len + 1u);
	f->stream_len = st->name_len;
	f->created_ms = st->created_ms;
	f->index = shard_index;
	f->keyed = 0;
	OPENSSL_cleanse(f->shard_key, sizeof(f->shard_key));
}

/* The key-file entry of slot (1-based), or NULL. */
static const struct sp_key *
seal_slot_key(const struct sp_api *api, uint16_t slot)
{
	const struct sp_keyfile *kf = api->g->enc_keys;

	return kf != NULL && slot >= 1 && slot <= kf->n ? &kf->keys[slot - 1] : NULL;
}

const uint8_t *
sp_api_seal_fp(const struct sp_api *api, const struct sp_api_stream *st)
{
	const struct sp_key *k = seal_slot_key(api, st->seal_key);

	return k != NULL ? k->fp : NULL;
}

int
sp_api_seal_for(struct sp_api *api, struct sp_api_feed *f, uint16_t flags,
		const struct sp_seg_sealer **out)
{
	uint16_t slot = (uint16_t)(flags >> SP_API_REC_KEY_SHIFT);
	const struct sp_key *k;

	*out = NULL;
	if ((flags & SP_API_REC_SEALED) == 0) {
		return 0;
	}
	if (f->keyed != slot) {
		k = seal_slot_key(api, slot);
		if (k == NULL || sp_seal_shard_key(k->key, f->stream, f->stream_len, f->created_ms,
						   f->index, f->shard_key) != 0) {
			api->cnt.seal_errors++;
			return -ENOKEY;
		}
		f->keyed = slot;
		f->sealer = (struct sp_seg_sealer){.seal = sp_seal_seal, .ctx = &api->seal};
		memcpy(f->sealer.key_fp, k->fp, sizeof(f->sealer.key_fp));
	}
	if (sp_seal_key(&api->seal, f->shard_key) != 0) {
		api->cnt.seal_errors++;
		return -EIO;
	}
	*out = &f->sealer;
	return 0;
}

int
sp_api_seal_open_cold(struct sp_api *api, struct sp_api_xcold *x, unsigned n)
{
	const struct sp_keyfile *kf = api->g->enc_keys;
	const struct sp_key *k = kf != NULL ? sp_keyfile_find_fp(kf, x->rd.key_fp) : NULL;
	uint16_t slot;

	if (k == NULL) {
		api->cnt.seal_errors++;
		return -ENOKEY; /* the key that sealed these records left the key file */
	}
	slot = (uint16_t)(k - kf->keys + 1);
	if (api->cold_keyed_slot != slot || api->cold_keyed_tag != x->tag ||
	    api->cold_keyed_index != x->shard_index || api->cold_keyed_created != x->created_ms ||
	    api->cold_keyed_name_len != x->stream_len ||
	    memcmp(api->cold_keyed_name, x->stream, x->stream_len) != 0) {
		api->cold_keyed_slot = 0;
		if (sp_seal_shard_key(k->key, x->stream, x->stream_len, x->created_ms,
				      x->shard_index, api->cold_key) != 0) {
			api->cnt.seal_errors++;
			return -EIO;
		}
		api->cold_keyed_slot = slot;
		api->cold_keyed_tag = x->tag;
		api->cold_keyed_index = x->shard_index;
		api->cold_keyed_created = x->created_ms;
		memcpy(api->cold_keyed_name, x->stream, x->stream_len);
		api->cold_keyed_name_len = x->stream_len;
	}
	if (sp_seal_key(&api->seal, api->cold_key) != 0) {
		api->cnt.seal_errors++;
		return -EIO;
	}
	for (unsigned i = 0; i < n; i++) {
		int rc = sp_seg_rec_open(&x->recs[i], sp_seal_open, &api->seal);

		if (rc != 0) {
			api->cnt.seal_errors++;
			return rc;
		}
	}
	api->cnt.opened_records += n;
	return 0;
}
