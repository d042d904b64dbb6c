/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-shard live figures for the dataplane's status (dataplane.api.shards): for every shard of
 * the snapshot in force, its owner worker, open or closed, whether its ring is sealed, and the
 * records and bytes appended to the ring since it was created. spatectl turns two samples into
 * rates (`spatectl shards`).
 *
 * Main lcore only: it is the snapshot's writer, so g->cat cannot be retired under it. The ring
 * counters are relaxed atomics the owners bump; a status is a sample, not a transaction.
 */
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "../shard/shard_ring.h"
#include "api_cat.h"
#include "api_internal.h"
#include "api_store.h"

/* One row per shard; a status line stays bounded on a catalog of many thousand shards. */
#define SP_API_SHARDSTAT_MAX 4096u

static json_t *
shardstat_row(const struct sp_api_stream *st, const struct sp_api_shard *sh)
{
	struct sp_shard_ring_stats rs = {0};
	json_t *sealed = json_null(); /* no ring: closed and read from the store, or no memory */
	json_t *writer = json_null();
	json_t *past = json_array();
	json_t *row;

	if (sh->ring != NULL) {
		uint32_t w = sp_shard_ring_writer(sh->ring);

		sp_shard_ring_stats(sh->ring, &rs);
		sealed = json_boolean(sp_shard_ring_sealed(sh->ring));
		writer = w == SP_SHARD_WRITER_NONE ? json_null() : json_integer(w);
	}
	for (unsigned k = 0; past != NULL && k < sh->npast; k++) {
		json_array_append_new(past, json_integer(sh->past[k]));
	}
	row = json_pack("{s:s#, s:s#, s:i, s:b, s:o, s:I, s:I}", "stream", st->name,
			(int)st->name_len, "shard", sh->id, (int)sh->id_len, "owner",
			(int)sh->owner, "open", sh->open, "sealed", sealed, "records",
			(json_int_t)rs.appended, "bytes", (json_int_t)rs.appended_bytes);
	if (row != NULL) {
		/* the worker appending now (a move's old owner until it hands over) */
		json_object_set_new(row, "writer", writer);
		json_object_set_new(row, "past_owners", past != NULL ? past : json_array());
	} else {
		json_decref(writer);
		json_decref(past);
	}
	return row;
}

void
sp_api_shardstat_add(const struct sp_api_global *g, json_t *o)
{
	const struct sp_api_cat *cat = g->cat;
	json_t *rows = json_array();
	uint32_t n = 0;
	bool cut = false;

	if (rows == NULL) {
		return;
	}
	for (uint32_t s = 0; cat != NULL && s < cat->nstreams && !cut; s++) {
		const struct sp_api_stream *st = &cat->streams[s];

		for (uint32_t i = 0; i < st->nshards; i++) {
			if (n == SP_API_SHARDSTAT_MAX) {
				cut = true;
				break;
			}
			json_array_append_new(rows, shardstat_row(st, &st->shards[i]));
			n++;
		}
	}
	json_object_set_new(o, "shards", rows);
	json_object_set_new(o, "shards_cut", json_boolean(cut));
}
