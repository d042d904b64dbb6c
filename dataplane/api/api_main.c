/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The main lcore's half of the Kinesis API service. Owns:
 *   - catalog snapshots: built from control's catalog messages, published with one release
 *     store, and freed after an RCU grace period (rte_rcu_qsbr: every worker reports a
 *     quiescent state once per poll, between requests, and holds no snapshot pointer across
 *     polls);
 *   - the shard-ring registry: one hugepage memzone per shard, created when a shard first
 *     appears in a snapshot, freed with the snapshot that dropped it (after its grace period);
 *   - forwarding of control operations: workers hand them over on their ctl ring, this file
 *     sends them to spate-control as kreq messages and routes each kresp back to its worker;
 *     a CBOR request's body is translated to JSON on its way out, and a success answer back
 *     to CBOR (api_cbor_json.c; errors the worker writes itself, in CBOR for it).
 * Runs only on the main lcore, from the service loop and the channel hooks; allocation and
 * jansson are fine here. After every snapshot it applies it tells control ("applied"), which
 * moves CREATING streams to ACTIVE: a stream is ACTIVE only once every worker can serve it.
 *
 * Shard iterators are sealed under a key control sends with every snapshot (derived from the
 * catalog's persistent token key), not one made here: an iterator stays valid across a
 * dataplane restart, as AWS's do for their 5 minutes. A snapshot without that key is refused,
 * so no worker ever seals with anything else (data operations answer 503 until a snapshot is
 * in force). A snapshot repeating the current version is applied anyway when its iterator
 * settings differ (a new key, or the test clock offset of clock_offset_set).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_memzone.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <spate/assert.h>
#include <spate/err.h>

#include "../b64/b64.h"
#include "../chan/chan.h"
#include "../md5/md5.h"
#include "../shard/shard_ring.h"
#include "api_cbor.h"
#include "api_internal.h"
#include "api_ring.h"
#include "api_store.h"

#define RTE_LOGTYPE_SPATE RTE_LOGTYPE_USER1

static struct rte_ring *
main_ring(const char *kind, unsigned a, unsigned b, unsigned slots, int socket)
{
	char name[RTE_RING_NAMESIZE];
	struct rte_ring *r;

	snprintf(name, sizeof(name), "spa_%s_%u_%u", kind, a, b);
	r = rte_ring_create(name, slots, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (r == NULL) {
		RTE_LOG(ERR, SPATE, "api: ring %s: %s\n", name, rte_strerror(rte_errno));
	}
	return r;
}

static int
main_rings(struct sp_api_global *g)
{
	/*
	 * A connection has at most one request in flight: one put message per owner, or one
	 * control request plus one release. Rings sized for every connection never fill, so a
	 * hand-off or a return never fails.
	 */
	unsigned ctl_slots = rte_align32pow2(2 * g->conf.max_conns + 1);

	for (unsigned s = 0; s < g->nb_workers; s++) {
		g->ctl[s] = main_ring("ctl", s, 0, ctl_slots, g->socket);
		g->ctl_done[s] = main_ring("ctld", s, 0, ctl_slots, g->socket);
		if (g->ctl[s] == NULL || g->ctl_done[s] == NULL) {
			return -ENOMEM;
		}
		for (unsigned d = 0; d < g->nb_workers; d++) {
			if (s == d) {
				continue;
			}
			g->put[s][d] = main_ring("put", s, d, ctl_slots, g->socket);
			g->put_done[d][s] = main_ring("putd", d, s, ctl_slots, g->socket);
			g->cold[s][d] = main_ring("cold", s, d, ctl_slots, g->socket);
			g->cold_done[d][s] = main_ring("coldd", d, s, ctl_slots, g->socket);
			if (g->put[s][d] == NULL || g->put_done[d][s] == NULL ||
			    g->cold[s][d] == NULL || g->cold_done[d][s] == NULL) {
				return -ENOMEM;
			}
		}
	}
	return 0;
}

int
sp_api_global_create(struct sp_api_global **out, const struct sp_api_conf *conf,
		     unsigned nb_workers, int socket)
{
	struct sp_api_global *g;
	enum sp_md5_kernel md5;
	size_t qsz;
	int rc;

	SP_VERIFY(nb_workers >= 1 && nb_workers <= SP_MAX_WORKERS);
	/*
	 * Choose the coding kernels here, on the main lcore before any worker runs: left to the
	 * first request, two workers would run the self-tests at once over the same static
	 * buffers, fail them, and abort on the scalar one.
	 */
	sp_b64_select();
	md5 = sp_md5_select();
	RTE_LOG(INFO, SPATE, "api: base64 %s, md5 %s\n", sp_b64_kernel_name(),
		sp_md5_kernel_name(md5));
	g = calloc(1, sizeof(*g));
	if (g == NULL) {
		return -ENOMEM;
	}
	g->conf = *conf;
	snprintf(g->credentials_file, sizeof(g->credentials_file), "%s",
		 conf->credentials_file != NULL ? conf->credentials_file : "");
	snprintf(g->account_id, sizeof(g->account_id), "%s", conf->account_id);
	snprintf(g->data_dir, sizeof(g->data_dir), "%s",
		 conf->data_dir != NULL ? conf->data_dir : "");
	g->conf.data_dir = g->data_dir;
	snprintf(g->store_devices, sizeof(g->store_devices), "%s",
		 conf->store_devices != NULL ? conf->store_devices : "");
	g->conf.store_devices = g->store_devices;
	g->conf.credentials_file = g->credentials_file;
	snprintf(g->key_file, sizeof(g->key_file), "%s",
		 conf->key_file != NULL ? conf->key_file : "");
	g->conf.key_file = g->key_file;
	g->conf.account_id = g->account_id;
	g->nb_workers = nb_workers;
	g->socket = socket;
	g->next_ctl_id = 1;
	g->ringreg = calloc(SP_API_RING_REG_MAX, sizeof(*g->ringreg));
	qsz = rte_rcu_qsbr_get_memsize(nb_workers);
	g->qsbr = rte_zmalloc("spa_qsbr", qsz, RTE_CACHE_LINE_SIZE);
	if (g->ringreg == NULL || g->qsbr == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = rte_rcu_qsbr_init(g->qsbr, nb_workers);
	SP_VERIFY(rc == 0);
	rc = main_rings(g);
	if (rc != 0) {
		goto fail;
	}
	rc = sp_api_auth_load(g);
	if (rc == 0) {
		rc = sp_api_seal_load(g);
	}
	if (rc == 0) {
		rc = sp_api_tls_global_init(g);
	}
	if (rc != 0) {
		goto fail;
	}
	*out = g;
	return 0;
fail:
	sp_api_global_destroy(g);
	return rc;
}

static void
main_free_ringent(struct sp_api_global *g, struct sp_api_ringent *e)
{
	sp_api_ring_free(e->mz, e->ring);
	e->mz = NULL;
	e->ring = NULL;
	g->rings_freed++;
}

void
sp_api_global_destroy(struct sp_api_global *g)
{
	if (g == NULL) {
		return;
	}
	for (uint32_t i = 0; i < g->nretired; i++) {
		for (uint32_t k = 0; k < g->retired[i].nrings; k++) {
			main_free_ringent(g, &g->retired[i].rings[k]);
		}
		free(g->retired[i].rings);
		sp_api_cat_free(g->retired[i].cat);
	}
	for (uint32_t i = 0; g->ringreg != NULL && i < g->nrings; i++) {
		main_free_ringent(g, &g->ringreg[i]);
	}
	sp_api_cat_free(g->cat);
	json_decref(g->last_catalog);
	for (unsigned s = 0; s < SP_MAX_WORKERS; s++) {
		rte_ring_free(g->ctl[s]);
		rte_ring_free(g->ctl_done[s]);
		for (unsigned d = 0; d < SP_MAX_WORKERS; d++) {
			rte_ring_free(g->put[s][d]);
			rte_ring_free(g->put_done[s][d]);
			rte_ring_free(g->cold[s][d]);
			rte_ring_free(g->cold_done[s][d]);
		}
	}
	sp_api_auth_free(g);
	sp_api_seal_free(g);
	sp_api_tls_global_fini(g);
	rte_free(g->qsbr);
	free(g->ringreg);
	free(g);
}

/* ---- shard-ring registry ---- */

static struct sp_api_ringent *
main_ring_find(struct sp_api_global *g, const struct sp_api_stream *st,
	       const struct sp_api_shard *sh)
{
	for (uint32_t i = 0; i < g->nrings; i++) {
		struct sp_api_ringent *e = &g->ringreg[i];

		if (e->index == sh->index && e->tag == st->tag &&
		    strcmp(e->stream, st->name) == 0) {
			return e;
		}
	}
	return NULL;
}

struct main_build_ctx {
	struct sp_api_global *g;
	uint64_t version; /* a build number (g->builds), not the catalog version: a catalog is
			   * built again when drained rings leave it */
};

static struct sp_shard_ring *
main_ring_for(void *arg, const struct sp_api_stream *st, const struct sp_api_shard *sh)
{
	struct main_build_ctx *ctx = arg;
	struct sp_api_global *g = ctx->g;
	struct sp_api_ringent *e = main_ring_find(g, st, sh);

	if (e != NULL && !sh->open && e->ring != NULL && sp_shard_ring_drained(e->ring)) {
		/* its owner handed everything to the store: the ring leaves with this build (not
		 * seen: retired, freed after the grace period) and reads go to the store */
		return NULL;
	}
	if (e == NULL && !sh->open && g->data_dir[0] != '\0') {
		/* closed before this process saw it open (a reshard's intermediate shard, or a
		 * shard closed before this boot): no record will ever be appended, and the store
		 * has every one it holds; reads go there */
		g->rings_skipped++;
		return NULL;
	}
	if (e == NULL) {
		if (g->nrings == SP_API_RING_REG_MAX) {
			g->rings_failed++;
			return NULL;
		}
		e = &g->ringreg[g->nrings];
		memset(e, 0, sizeof(*e));
		snprintf(e->stream, sizeof(e->stream), "%s", st->name);
		e->tag = st->tag;
		e->index = sh->index;
		if (sp_api_ring_make(g, st, sh, ++g->ring_seq, &e->mz, &e->ring) != 0) {
			g->rings_failed++;
			return NULL; /* not registered: retried with the next snapshot */
		}
		/* the owner it is made for writes it; a move hands the token on (api_move.c) */
		sp_shard_ring_set_writer(e->ring, sh->owner);
		g->nrings++;
		g->rings_created++;
	}
	e->seen_version = ctx->version;
	return e->ring;
}

/* Move registry entries the new snapshot no longer names into the retired slot r. */
static void
main_collect_dropped(struct sp_api_global *g, uint64_t version, struct sp_api_retired *r)
{
	uint32_t keep = 0, drop = 0;

	for (uint32_t i = 0; i < g->nrings; i++) {
		drop += g->ringreg[i].seen_version != version;
	}
	r->nrings = 0;
	r->rings = NULL;
	if (drop == 0) {
		return;
	}
	r->rings = calloc(drop, sizeof(*r->rings));
	SP_VERIFY(r->rings != NULL);
	for (uint32_t i = 0; i < g->nrings; i++) {
		if (g->ringreg[i].seen_version != version) {
			r->rings[r->nrings++] = g->ringreg[i];
		} else {
			g->ringreg[keep++] = g->ringreg[i];
		}
	}
	g->nrings = keep;
	SP_VERIFY(r->nrings == drop);
}

static void
main_reclaim(struct sp_api_global *g)
{
	uint32_t keep = 0;

	for (uint32_t i = 0; i < g->nretired; i++) {
		struct sp_api_retired *r = &g->retired[i];

		if (rte_rcu_qsbr_check(g->qsbr, r->token, false) != 1) {
			g->retired[keep++] = *r;
			continue;
		}
		for (uint32_t k = 0; k < r->nrings; k++) {
			main_free_ringent(g, &r->rings[k]);
		}
		free(r->rings);
		sp_api_cat_free(r->cat);
	}
	g->nretired = keep;
}

/* Whether the message brings nothing new: an older version, or the same one and settings. */
static bool
main_is_repeat(const struct sp_api_global *g, uint64_t version, const struct sp_api_iter_conf *it)
{
	const struct sp_api_cat *cur = g->cat;

	if (cur == NULL || version > cur->version) {
		return false;
	}
	SP_VERIFY(cur->has_iter);
	return version < cur->version || (memcmp(cur->iter.key, it->key, sizeof(it->key)) == 0 &&
					  cur->iter.clock_offset_ms == it->clock_offset_ms);
}

/* Number the new snapshot's key (workers re-key when it changes) and log what changed. */
static void
main_iter_gen(const struct sp_api_global *g, struct sp_api_cat *cat)
{
	const struct sp_api_cat *cur = g->cat;

	SP_VERIFY(cat->has_iter);
	if (cur == NULL) {
		cat->iter_gen = 1;
	} else if (memcmp(cur->iter.key, cat->iter.key, sizeof(cat->iter.key)) != 0) {
		cat->iter_gen = cur->iter_gen + 1;
		RTE_LOG(WARNING, SPATE,
			"api: shard-iterator key changed (catalog replaced?): "
			"iterators issued before are refused\n");
	} else {
		cat->iter_gen = cur->iter_gen;
	}
	if (cat->iter.clock_offset_ms != (cur != NULL ? cur->iter.clock_offset_ms : 0)) {
		RTE_LOG(WARNING, SPATE, "api: iterator clock offset %lld ms (test mode)\n",
			(long long)cat->iter.clock_offset_ms);
	}
	SP_VERIFY(cat->iter_gen >= 1);
}

/*
 * Build a snapshot of catalog (version: the catalog's) and publish it; the replaced one and
 * the rings no longer named go after the grace period. 0, or a negative errno (logged).
 */
static int
main_publish(struct sp_api_global *g, const json_t *catalog, uint64_t version)
{
	struct main_build_ctx ctx = {.g = g, .version = ++g->builds};
	struct sp_api_cat *cat = NULL;
	struct sp_api_retired *r;
	int rc;

	while (g->nretired == SP_API_RETIRE_MAX) {
		main_reclaim(g); /* workers are polling: the oldest grace period ends soon */
	}
	rc = sp_api_cat_build(catalog, version, g->epoch, g->account, g->region, g->enc_keys,
			      main_ring_for, &ctx, &cat);
	if (rc != 0) {
		RTE_LOG(ERR, SPATE, "api: catalog version %llu refused: %s\n",
			(unsigned long long)version, sp_strerror(rc));
		g->snapshots_bad++;
		return rc;
	}
	main_iter_gen(g, cat);
	r = &g->retired[g->nretired];
	main_collect_dropped(g, ctx.version, r);
	r->cat = g->cat;
	__atomic_store_n(&g->cat, cat, __ATOMIC_RELEASE);
	r->token = rte_rcu_qsbr_start(g->qsbr);
	g->nretired++;
	if (catalog != g->last_catalog) {
		json_decref(g->last_catalog);
		g->last_catalog = json_incref((json_t *)catalog);
	}
	return 0;
}

/* Every open shard's ring is written by the worker the snapshot in force names. */
static bool
main_handed_over(const struct sp_api_global *g)
{
	const struct sp_api_cat *cat = g->cat;

	for (uint32_t s = 0; cat != NULL && s < cat->nstreams; s++) {
		const struct sp_api_stream *st = &cat->streams[s];

		for (uint32_t i = 0; i < st->nshards; i++) {
			const struct sp_api_shard *sh = &st->shards[i];

			if (sh->open && sh->ring != NULL && sh->owner < g->nb_workers &&
			    sp_shard_ring_writer(sh->ring) != sh->owner) {
				return false;
			}
		}
	}
	return true;
}

/*
 * Acknowledge the published version once it is served as it says: a snapshot that moves a
 * shard is applied when the old owner has handed the ring over (api_move.c), so that control
 * never starts a step (a reshard's switch, another move) on a half-moved shard.
 */
static void
main_ack(struct sp_api_global *g, struct sp_chan_client *chan)
{
	if (g->applied_wait == 0) {
		return;
	}
	if (!main_handed_over(g)) {
		g->applied_delays += g->applied_wait != g->applied_delayed;
		g->applied_delayed = g->applied_wait;
		return;
	}
	sp_chan_client_send_applied(chan, g->applied_wait);
	g->applied_wait = 0;
}

static void
main_apply(struct sp_api_global *g, const json_t *msg, struct sp_chan_client *chan)
{
	const json_t *catalog = json_object_get(msg, "catalog");
	json_int_t version = json_integer_value(json_object_get(msg, "catalog_version"));
	struct sp_api_iter_conf iter;
	int rc;

	/* without the key a worker could not seal or open an iterator: nothing to serve with */
	rc = sp_api_iter_conf_parse(catalog, &iter);
	if (rc != 0) {
		RTE_LOG(ERR, SPATE, "api: catalog version %lld refused: iterators: %s\n",
			(long long)version, sp_strerror(rc));
		g->snapshots_bad++;
		return;
	}
	if (main_is_repeat(g, (uint64_t)version, &iter)) {
		if (g->applied_wait == 0) {
			sp_chan_client_send_applied(chan, g->cat->version);
		}
		return; /* a repeat (reconnect): nothing new */
	}
	if (main_publish(g, catalog, (uint64_t)version) != 0) {
		return;
	}
	g->snapshots_applied++;
	g->applied_wait = version;
	main_ack(g, chan);
}

/*
 * Rings of closed shards whose owners drained them (everything durable in the store) leave:
 * the catalog in force is built again without them (main_ring_for), and they are freed after
 * the grace period. Checked every few milliseconds of the main lcore's ticks.
 */
static void
main_release_drained(struct sp_api_global *g, uint64_t now_ms)
{
	bool any = false;

	if (g->last_catalog == NULL || g->cat == NULL || now_ms < g->drain_check_ms) {
		return;
	}
	g->drain_check_ms = now_ms + SP_API_DRAIN_CHECK_MS;
	for (uint32_t i = 0; i < g->nrings && !any; i++) {
		any = g->ringreg[i].ring != NULL && sp_shard_ring_drained(g->ringreg[i].ring);
	}
	if (any && main_publish(g, g->last_catalog, g->cat->version) == 0) {
		g->drain_rebuilds++;
	}
}

void
sp_api_on_config(struct sp_api_global *g, const json_t *msg, struct sp_chan_client *chan)
{
	const char *account = json_string_value(json_object_get(msg, "account"));
	const char *region = json_string_value(json_object_get(msg, "region"));
	const json_t *epoch = json_object_get(msg, "epoch");

	snprintf(g->account, sizeof(g->account), "%s", account != NULL ? account : g->account_id);
	snprintf(g->region, sizeof(g->region), "%s", region != NULL ? region : "us-east-1");
	if (json_is_integer(epoch)) {
		g->epoch = (uint32_t)json_integer_value(epoch) & SP_SEQNO_EPOCH_MAX;
	}
	g->configured = true;
	main_apply(g, msg, chan);
}

void
sp_api_on_catalog(struct sp_api_global *g, const json_t *msg, struct sp_chan_client *chan)
{
	if (!g->configured) {
		g->snapshots_bad++;
		return;
	}
	main_apply(g, msg, chan);
}

/* ---- control-operation forwarding ---- */

void
sp_api_ctl_fail(struct sp_api_xctl *x, enum sp_kerr kerr, const char *message)
{
	SP_VERIFY(kerr != SP_KERR_NONE && kerr < SP_KERR_COUNT);
	x->status = sp_kerr_table[kerr].status;
	x->kerr = kerr;
	x->message_key_upper = false;
	free(x->message);
	x->message = message != NULL ? strdup(message) : NULL;
	free(x->resp_body);
	x->resp_body = NULL;
	x->resp_len = 0;
}

/*
 * A body translated between CBOR and JSON (api_cbor_json.c) into memory malloc'd here: the
 * output starts at twice the input and doubles while it does not fit, up to the bound that
 * always does (bodies are bounded by SP_API_BODY_MAX_BYTES). 0 or a negative errno.
 */
static int
main_translate(bool to_json, const char *in, size_t len, char **out, size_t *out_len)
{
	size_t max = to_json ? SP_API_CBOR_TO_JSON_MAX(len) : SP_API_JSON_TO_CBOR_MAX(len);
	size_t cap = SP_MIN(max, 2u * len + 256u);
	char *scratch = malloc(len + 1u);
	ssize_t n = -ENOMEM;

	while (scratch != NULL) {
		char *buf = malloc(cap);

		if (buf == NULL) {
			n = -ENOMEM;
			break;
		}
		n = to_json ? sp_api_cbor_to_json(in, len, scratch, len + 1u, buf, cap)
			    : sp_api_json_to_cbor(in, len, scratch, len + 1u, buf, cap);
		if (n >= 0) {
			*out = buf;
			*out_len = (size_t)n;
			break;
		}
		free(buf);
		if (n != -ENOSPC || cap == max) {
			break;
		}
		cap = SP_MIN(max, 2u * cap);
	}
	free(scratch);
	return n < 0 ? (int)n : 0;
}

static void
main_ctl_answer(struct sp_api_global *g, struct sp_api_xctl *x)
{
	SP_VERIFY(x->worker < g->nb_workers);
	/* sized for every connection of the worker at once (main_rings) */
	SP_VERIFY(rte_ring_sp_enqueue(g->ctl_done[x->worker], x) == 0);
	g->ctl_answered++;
}

static void
main_ctl_forward(struct sp_api_global *g, struct sp_chan_client *chan, struct sp_api_xctl *x,
		 uint64_t now_ms)
{
	uint64_t id = g->next_ctl_id++;
	unsigned slot = (unsigned)(id % SP_API_CTL_INFLIGHT_MAX);
	char *json = NULL;
	size_t json_len = 0;
	int rc;

	if (g->inflight[slot] != NULL) {
		sp_api_ctl_fail(x, SP_KERR_LIMIT_EXCEEDED, "Rate exceeded for control operations.");
		main_ctl_answer(g, x);
		return;
	}
	if (x->cbor) {
		/* one CBOR map (the worker checked), but JSON may not hold all of it */
		rc = main_translate(true, x->body, x->body_len, &json, &json_len);
		if (rc != 0) {
			sp_api_ctl_fail(
			    x, rc == -ENOMEM ? SP_KERR_INTERNAL_FAILURE : SP_KERR_SERIALIZATION,
			    NULL);
			main_ctl_answer(g, x);
			return;
		}
	}
	x->id = id;
	x->deadline_ms = now_ms + g->conf.ctl_timeout_ms;
	rc = sp_chan_client_send_kreq(chan, id, sp_kop_table[x->op].name, x->account, x->region,
				      x->cbor ? json : x->body, x->cbor ? json_len : x->body_len);
	free(json);
	if (rc == -EINVAL) {
		sp_api_ctl_fail(x, SP_KERR_SERIALIZATION, NULL);
		main_ctl_answer(g, x);
		return;
	}
	if (rc != 0) {
		g->ctl_unavailable++;
		sp_api_ctl_fail(x, SP_KERR_SERVICE_UNAVAILABLE,
				"The control plane is not reachable; retry.");
		main_ctl_answer(g, x);
		return;
	}
	g->inflight[slot] = x;
	g->ctl_forwarded++;
}

static void
main_ctl_timeouts(struct sp_api_global *g, uint64_t now_ms)
{
	for (unsigned i = 0; i < SP_API_CTL_INFLIGHT_MAX; i++) {
		struct sp_api_xctl *x = g->inflight[i];

		if (x != NULL && now_ms >= x->deadline_ms) {
			g->inflight[i] = NULL;
			g->ctl_timeouts++;
			sp_api_ctl_fail(x, SP_KERR_INTERNAL_FAILURE, NULL);
			main_ctl_answer(g, x);
		}
	}
}

void
sp_api_on_kresp(struct sp_api_global *g, const json_t *msg)
{
	json_int_t id = json_integer_value(json_object_get(msg, "id"));
	unsigned slot = (unsigned)((uint64_t)id % SP_API_CTL_INFLIGHT_MAX);
	struct sp_api_xctl *x = g->inflight[slot];
	const char *type = json_string_value(json_object_get(msg, "type"));
	const char *message = json_string_value(json_object_get(msg, "message"));
	const char *key = json_string_value(json_object_get(msg, "message_key"));
	const json_t *body = json_object_get(msg, "body");
	json_int_t status = json_integer_value(json_object_get(msg, "status"));

	if (x == NULL || x->id != (uint64_t)id) {
		return; /* timed out already, or not ours */
	}
	g->inflight[slot] = NULL;
	x->status = status >= 100 && status <= 599 ? (uint16_t)status : 500;
	x->kerr = SP_KERR_NONE;
	for (unsigned k = 1; type != NULL && type[0] != '\0' && k < SP_KERR_COUNT; k++) {
		if (strcmp(type, sp_kerr_table[k].type) == 0) {
			x->kerr = (enum sp_kerr)k;
		}
	}
	if (x->status != 200 && x->kerr == SP_KERR_NONE) {
		x->kerr = SP_KERR_INTERNAL_FAILURE;
	}
	x->message_key_upper = key != NULL && strcmp(key, "Message") == 0;
	x->message = message != NULL && message[0] != '\0' ? strdup(message) : NULL;
	x->resp_len = json_string_length(body);
	x->resp_body = x->resp_len > 0 ? malloc(x->resp_len) : NULL;
	if (x->resp_body != NULL) {
		memcpy(x->resp_body, json_string_value(body), x->resp_len);
	} else {
		x->resp_len = 0;
	}
	if (x->cbor && x->kerr == SP_KERR_NONE && x->resp_len > 0) {
		char *cbor = NULL;
		size_t cbor_len = 0;

		if (main_translate(false, x->resp_body, x->resp_len, &cbor, &cbor_len) != 0) {
			sp_api_ctl_fail(x, SP_KERR_INTERNAL_FAILURE, NULL);
		} else {
			free(x->resp_body);
			x->resp_body = cbor;
			x->resp_len = cbor_len;
		}
	}
	main_ctl_answer(g, x);
}

void
sp_api_on_disconnect(struct sp_api_global *g)
{
	for (unsigned i = 0; i < SP_API_CTL_INFLIGHT_MAX; i++) {
		struct sp_api_xctl *x = g->inflight[i];

		if (x != NULL) {
			g->inflight[i] = NULL;
			g->ctl_unavailable++;
			sp_api_ctl_fail(x, SP_KERR_SERVICE_UNAVAILABLE,
					"The control plane is not reachable; retry.");
			main_ctl_answer(g, x);
		}
	}
}

void
sp_api_main_poll(struct sp_api_global *g, struct sp_chan_client *chan, uint64_t now_ms)
{
	for (unsigned w = 0; w < g->nb_workers; w++) {
		void *objs[SP_API_XDRAIN_BURST];
		unsigned n = rte_ring_sc_dequeue_burst(g->ctl[w], objs, SP_API_XDRAIN_BURST, NULL);

		for (unsigned i = 0; i < n; i++) {
			struct sp_api_xctl *x = objs[i];

			SP_VERIFY(x->worker == w);
			if (x->release) {
				free(x->message);
				free(x->resp_body);
				x->message = NULL;
				x->resp_body = NULL;
				x->release = false;
				/* the worker may reuse the object from now on */
				__atomic_store_n(&x->busy, false, __ATOMIC_RELEASE);
			} else {
				main_ctl_forward(g, chan, x, now_ms);
			}
		}
	}
	main_ctl_timeouts(g, now_ms);
	sp_api_tls_reclaim(g);
	main_ack(g, chan);
	main_release_drained(g, now_ms);
	main_reclaim(g);
}

json_t *
sp_api_status_json(const struct sp_api_global *g)
{
	const struct sp_api_cat *cat = g->cat;
	json_t *o = json_pack(
	    "{s:I, s:I, s:I, s:I, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "catalog_version", (json_int_t)(cat != NULL ? cat->version : 0), "iter_key_gen",
	    (json_int_t)(cat != NULL ? cat->iter_gen : 0), "iter_clock_offset_ms",
	    (json_int_t)(cat != NULL ? cat->iter.clock_offset_ms : 0), "epoch",
	    (json_int_t)g->epoch, "streams", cat != NULL ? (int)cat->nstreams : 0,
	    "snapshots_applied", (json_int_t)g->snapshots_applied, "snapshots_bad",
	    (json_int_t)g->snapshots_bad, "rings", (json_int_t)g->nrings, "rings_created",
	    (json_int_t)g->rings_created, "rings_failed", (json_int_t)g->rings_failed,
	    "rings_freed", (json_int_t)g->rings_freed, "rings_skipped",
	    (json_int_t)g->rings_skipped, "drain_rebuilds", (json_int_t)g->drain_rebuilds,
	    "ctl_forwarded",
	    (json_int_t)g->ctl_forwarded, "ctl_unavailable", (json_int_t)g->ctl_unavailable,
	    "ctl_timeouts", (json_int_t)g->ctl_timeouts);

	if (o != NULL) {
		json_object_set_new(o, "storage", sp_api_store_status_json(g));
		json_object_set_new(o, "reshard", sp_api_reshard_status_json(g));
		json_object_set_new(o, "moves", sp_api_move_status_json(g));
		json_object_set_new(o, "http", sp_api_http_status_json(g));
		sp_api_shardstat_add(g, o);
	}
	return o;
}
