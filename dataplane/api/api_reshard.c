/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Resharding on the workers. spate-control closes parents and opens children in one snapshot
 * (control/ctl_reshard.c); here:
 *   - each owner seals the rings of its shards a snapshot shows closed, at its first poll under
 *     that snapshot. Records in flight to a parent meanwhile come back to their sender, which
 *     routes them again (api_put.c): a record is appended to exactly one shard, the one the
 *     routing map its owner holds says, and never twice;
 *   - GetRecords at the end of a closed shard (sealed, every record visible, the position past
 *     the last one) leaves NextShardIterator out and names the ChildShards.
 * A reader sees the end only after the owner sealed: a parent that still takes a record in its
 * owner's last poll under the old snapshot has not ended for anyone yet.
 */
#include <errno.h>
#include <string.h>

#include <spate/assert.h>

#include "../shard/shard_ring.h"
#include "api_store.h"
#include "api_worker.h"

static unsigned reshard_drain(struct sp_api *api);

/* Seal the closed shards this worker owns (once per snapshot); drain sealed rings. */
unsigned
sp_api_reshard_poll(struct sp_api *api)
{
	const struct sp_api_cat *cat = sp_api_cat_current(api->g);
	unsigned work = api->ndrain > 0 ? reshard_drain(api) : 0;

	if (cat == NULL || cat->version == api->sealed_version) {
		return work;
	}
	api->sealed_version = cat->version;
	for (uint32_t s = 0; s < cat->nstreams; s++) {
		const struct sp_api_stream *st = &cat->streams[s];

		for (uint32_t i = 0; i < st->nshards; i++) {
			const struct sp_api_shard *sh = &st->shards[i];

			if (sh->open || sh->ring == NULL || sh->owner != api->worker ||
			    sp_shard_ring_sealed(sh->ring)) {
				continue;
			}
			if (sp_shard_ring_writer(sh->ring) != api->worker) {
				/* moved here, closed before the old owner handed it over (control
				 * waits for handovers; this is a belt): seen again next poll */
				api->sealed_version = 0;
				continue;
			}
			sp_shard_ring_seal(sh->ring);
			api->cnt.rings_sealed++;
			if (api->ndrain < SP_API_DRAIN_MAX) {
				/* a full list only means this ring stays until it expires */
				api->drain[api->ndrain++] =
				    (struct sp_api_drain){.tag = st->tag, .index = sh->index};
			}
			work++;
		}
	}
	return work;
}

/*
 * Sealed rings whose records are all durable in the store are drained: the main lcore then
 * builds the snapshot again without them and frees their memory (api_main.c); reads of those
 * shards go to the store. Entries are (tag, index), resolved in the snapshot in force each
 * time: a ring pointer must not be kept across polls.
 */
static unsigned
reshard_drain(struct sp_api *api)
{
	const struct sp_api_cat *cat = sp_api_cat_current(api->g);
	unsigned work = 0;

	for (uint32_t i = 0; cat != NULL && i < api->ndrain;) {
		const struct sp_api_drain *d = &api->drain[i];
		const struct sp_api_stream *st = sp_api_cat_stream_by_tag(cat, d->tag);
		const struct sp_api_shard *sh =
		    st != NULL ? sp_api_stream_shard(st, d->index) : NULL;
		int rc = 0;

		if (sh != NULL && !sh->open && sh->ring != NULL && sh->owner == api->worker &&
		    sp_shard_ring_sealed(sh->ring) && !sp_shard_ring_drained(sh->ring)) {
			rc = sp_api_store_release(api, st, sh);
			if (rc == -EBUSY) {
				i++;
				continue;
			}
			if (rc == 0) {
				sp_shard_ring_set_drained(sh->ring);
				api->cnt.rings_drained++;
				work++;
			}
		}
		api->drain[i] = api->drain[--api->ndrain]; /* done, gone or kept for good */
	}
	return work;
}

unsigned
sp_api_reshard_children(const struct sp_api_stream *st, const struct sp_api_shard *sh,
			struct sp_api_child_text *txt, struct sp_api_jw_child *out)
{
	unsigned n = 0;

	for (unsigned k = 0; k < sh->nchildren; k++) {
		const struct sp_api_shard *c = sp_api_stream_shard(st, sh->children[k]);

		if (c == NULL) {
			continue;
		}
		sp_api_format_shard_id(c->index, txt[n].id);
		for (unsigned p = 0; p < c->nparents; p++) {
			sp_api_format_shard_id(c->parents[p], txt[n].parents[p]);
			out[n].parents[p] = txt[n].parents[p];
		}
		sp_u128_format(c->start_hash, txt[n].start);
		sp_u128_format(c->end_hash, txt[n].end);
		out[n].shard_id = txt[n].id;
		out[n].nparents = c->nparents;
		out[n].start_hash = txt[n].start;
		out[n].end_hash = txt[n].end;
		n++;
	}
	return n;
}

json_t *
sp_api_reshard_status_json(const struct sp_api_global *g)
{
	uint64_t sealed = 0, rerouted = 0, rounds = 0, ends = 0, drained = 0;

	/* plain per-worker counters read from the main lcore: a snapshot, not a transaction */
	for (unsigned w = 0; w < g->nb_workers; w++) {
		const struct sp_api *api = g->workers[w];

		if (api == NULL) {
			continue;
		}
		sealed += api->cnt.rings_sealed;
		rerouted += api->cnt.put_rerouted;
		rounds += api->cnt.put_reroute_rounds;
		ends += api->cnt.shard_ends;
		drained += api->cnt.rings_drained;
	}
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "rings_drained", (json_int_t)drained,
			 "rings_sealed", (json_int_t)sealed, "records_rerouted",
			 (json_int_t)rerouted, "reroute_rounds", (json_int_t)rounds, "shard_ends",
			 (json_int_t)ends);
}
