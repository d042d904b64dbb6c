/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Moving a shard between workers (docs/internals/reshard.md, "Moving a shard"). spate-control
 * names a new owner in one snapshot; the ring stays where it is (shared memory, its numbering
 * goes on) and only the right to write it moves, as the ring's writer token:
 *   - the old owner, at its first poll under that snapshot, stops appending (put_serve_run
 *     refuses records of shards it no longer owns: their senders route them again), feeds
 *     what it appended to its own store, and once all of it is durable lets go of the shard's
 *     write buffer (which lives in the ring's memory) and stores the new owner's index in
 *     the token;
 *   - the new owner keeps the messages carrying records for the shard (whole, in arrival
 *     order) until the token is its own, then appends, attaching a log in its own store that
 *     starts at the ring's next number;
 *   - the main lcore acknowledges the snapshot to control only when every open shard's ring
 *     is with the worker the snapshot names (api_main.c), so no reshard step or second move
 *     starts on a half-moved shard.
 * Each store then holds one contiguous part of the shard's log. The snapshot lists the past
 * owners oldest first; a cold read asks each store in that order, then the owner's
 * (api_cold.c), and the first with a record at or after the position answers.
 */
#include <errno.h>
#include <stdlib.h>

#include <spate/assert.h>

#include "../shard/shard_ring.h"
#include "api_internal.h"
#include "api_store.h"
#include "api_worker.h"

/* Whether (tag, index) is on the moving list already. */
static bool
move_listed(const struct sp_api *api, uint32_t tag, uint32_t index)
{
	for (uint32_t i = 0; i < api->nmoving; i++) {
		if (api->moving[i].tag == tag && api->moving[i].index == index) {
			return true;
		}
	}
	return false;
}

/* At the first poll under a snapshot: the rings this worker writes but no longer owns. */
static void
move_collect(struct sp_api *api, const struct sp_api_cat *cat)
{
	bool full = false;

	for (uint32_t s = 0; s < cat->nstreams; s++) {
		const struct sp_api_stream *st = &cat->streams[s];

		for (uint32_t i = 0; i < st->nshards; i++) {
			const struct sp_api_shard *sh = &st->shards[i];

			if (sh->ring == NULL || sh->owner == api->worker ||
			    sp_shard_ring_writer(sh->ring) != api->worker ||
			    move_listed(api, st->tag, sh->index)) {
				continue;
			}
			if (api->nmoving == SP_API_DRAIN_MAX) {
				full = true; /* looked at again next poll */
				continue;
			}
			api->moving[api->nmoving++] =
			    (struct sp_api_drain){.tag = st->tag, .index = sh->index};
		}
	}
	api->moved_version = full ? 0 : cat->version;
}

unsigned
sp_api_move_poll(struct sp_api *api)
{
	const struct sp_api_cat *cat = sp_api_cat_current(api->g);
	unsigned work = 0;

	if (cat == NULL) {
		return 0;
	}
	if (cat->version != api->moved_version) {
		move_collect(api, cat);
	}
	/* entries are (tag, index), resolved in the snapshot in force each time */
	for (uint32_t i = 0; i < api->nmoving;) {
		const struct sp_api_drain *d = &api->moving[i];
		const struct sp_api_stream *st = sp_api_cat_stream_by_tag(cat, d->tag);
		const struct sp_api_shard *sh =
		    st != NULL ? sp_api_stream_shard(st, d->index) : NULL;

		if (sh != NULL && sh->ring != NULL && sh->owner != api->worker &&
		    sp_shard_ring_writer(sh->ring) == api->worker) {
			if (sp_api_store_hand_over(api, st, sh) != 0) {
				i++; /* records still on their way to this worker's store */
				continue;
			}
			/* release: the new owner sees every byte and field written here */
			sp_shard_ring_set_writer(sh->ring, sh->owner);
			api->cnt.moves_out++;
			work++;
		}
		/* handed over, gone, or owned here again before it was handed over */
		api->moving[i] = api->moving[--api->nmoving];
	}
	return work;
}

bool
sp_api_move_must_wait(const struct sp_api *api, const struct sp_api_stream *st,
		      const struct sp_api_xput *x)
{
	uint32_t last = UINT32_MAX;

	if (st == NULL) {
		return false;
	}
	for (uint32_t i = 0; i < x->n; i++) {
		const struct sp_api_shard *sh;

		if (x->recs[i].shard_index == last) {
			continue;
		}
		last = x->recs[i].shard_index;
		sh = sp_api_stream_shard(st, last);
		if (sh != NULL && sh->open && sh->owner == api->worker && sh->ring != NULL &&
		    sp_shard_ring_writer(sh->ring) != api->worker) {
			return true;
		}
	}
	return false;
}

json_t *
sp_api_move_status_json(const struct sp_api_global *g)
{
	uint64_t out = 0, waits = 0, hops = 0;

	/* plain per-worker counters read from the main lcore: a snapshot, not a transaction */
	for (unsigned w = 0; w < g->nb_workers; w++) {
		const struct sp_api *api = g->workers[w];

		if (api != NULL) {
			out += api->cnt.moves_out;
			waits += api->cnt.put_waits;
			hops += api->cnt.cold_hops;
		}
	}
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "handovers", (json_int_t)out, "put_waits",
			 (json_int_t)waits, "cold_hops", (json_int_t)hops, "applied_delays",
			 (json_int_t)g->applied_delays, "applied_waiting",
			 (json_int_t)g->applied_wait);
}
