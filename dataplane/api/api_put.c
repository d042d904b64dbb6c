/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PutRecord and PutRecords on a worker. The request is decoded once (api_req.c), its stream
 * resolved in the snapshot in force, every partition key hashed in one vectorised MD5 batch,
 * each record routed to the open shard holding its hash key, and the records grouped by the
 * worker that owns their shard: this worker's groups are appended at once, the others travel
 * as one message per owner (put ring) and come back with their sequence numbers (put_done
 * ring). The answer goes out when the last group is back; entries keep request order.
 * Owner side (put_serve): resolve the shard again in the owner's own snapshot, decode each
 * record's base64 into this worker's scratch, append the batch to the ring (one publication),
 * report per record. A full ring or a quota refuses records one by one
 * (ProvisionedThroughputExceededException), never the whole call, never silently.
 * Runs on worker lcores only.
 */
#include <string.h>

#include <rte_ring.h>

#include <spate/assert.h>
#include <spate/err.h>

#include "../b64/b64.h"
#include "../md5/md5.h"
#include "../shard/shard_ring.h"
#include "api_req.h"
#include "api_store.h"
#include "api_worker.h"

#define PUT_ARN_PREFIX "arn:aws:kinesis:"

bool
sp_api_stream_selector(struct sp_api_conn *c, const struct sp_api_json_str *name,
		       const struct sp_api_json_str *arn, bool has_name, bool has_arn,
		       const char **out, size_t *out_len)
{
	const char *n = name->ptr;
	size_t nlen = name->len;

	if (has_arn) {
		const char *slash = memchr(arn->ptr, '/', arn->len);
		const char *an = slash != NULL ? slash + 1 : NULL;
		size_t alen = an != NULL ? arn->len - (size_t)(an - arn->ptr) : 0;

		if (an == NULL || arn->len < sizeof(PUT_ARN_PREFIX) - 1 ||
		    memcmp(arn->ptr, PUT_ARN_PREFIX, sizeof(PUT_ARN_PREFIX) - 1) != 0) {
			sp_api_respond_error(c, SP_KERR_INVALID_ARGUMENT,
					     "StreamARN is not a Kinesis stream ARN.", false);
			return false;
		}
		if (has_name && (alen != nlen || memcmp(an, n, nlen) != 0)) {
			sp_api_respond_error(c, SP_KERR_INVALID_ARGUMENT,
					     "StreamARN and StreamName name different streams.",
					     false);
			return false;
		}
		n = an;
		nlen = alen;
	} else if (!has_name) {
		sp_api_respond_error(c, SP_KERR_VALIDATION,
				     "1 validation error detected: Value null at 'streamName' "
				     "failed to satisfy constraint: Member must not be null",
				     false);
		return false;
	}
	*out = n;
	*out_len = nlen;
	return true;
}

const struct sp_api_stream *
sp_api_resolve_stream(struct sp_api_conn *c, const struct sp_api_cat *cat,
		      const struct sp_api_json_str *name, const struct sp_api_json_str *arn,
		      bool has_name, bool has_arn)
{
	struct sp_api *api = c->api;
	const struct sp_api_stream *st;
	const char *n;
	size_t nlen;

	if (!sp_api_stream_selector(c, name, arn, has_name, has_arn, &n, &nlen)) {
		return NULL;
	}
	st = sp_api_cat_stream(cat, n, nlen);
	if (st == NULL || st->status == SP_API_CREATING) {
		snprintf(api->msg, sizeof(api->msg), "Stream %.*s under account %s not found.",
			 (int)nlen, n, c->req.account);
		sp_api_respond_error(c, SP_KERR_RESOURCE_NOT_FOUND, api->msg, false);
		return NULL;
	}
	return st;
}

/* ---- owner side ---- */

static uint8_t
put_status_of(int rc)
{
	return rc == -ENOSPC   ? SP_API_XREC_THROTTLED
	       : rc == -EPIPE ? SP_API_XREC_REROUTE /* sealed: the shard closed */
			      : SP_API_XREC_INTERNAL;
}

/*
 * How many of recs[0..n) the shard's quota admits this second (all when the stream has none).
 * Records are admitted in order: the first refused one ends the admitted prefix, so a shard's
 * accepted records stay in request order.
 */
static uint32_t
put_quota(struct sp_api *api, const struct sp_api_stream *st, uint32_t shard,
	  const struct sp_api_xrec *recs, uint32_t n, uint64_t now_ms)
{
	uint64_t key = ((uint64_t)st->tag << 32 | shard) + 1;
	struct sp_api_quota *q = &api->quota[(key * UINT64_C(0x9E3779B97F4A7C15)) >> 52];
	uint32_t k = 0;

	SP_STATIC_ASSERT(SP_API_QUOTA_SLOTS == 1u << 12, "slot index is the hash's top 12 bits");
	if (st->quota_records_per_s == 0 && st->quota_bytes_per_s == 0) {
		return n;
	}
	if (q->key != key || q->sec != now_ms / 1000u) {
		*q = (struct sp_api_quota){.key = key, .sec = now_ms / 1000u};
	}
	for (; k < n; k++) {
		uint64_t sz = (uint64_t)recs[k].data_len + recs[k].key_len;

		if ((st->quota_records_per_s != 0 && q->records + 1 > st->quota_records_per_s) ||
		    (st->quota_bytes_per_s != 0 && q->bytes + sz > st->quota_bytes_per_s)) {
			break;
		}
		q->records++;
		q->bytes += sz;
	}
	SP_VERIFY(k <= n);
	return k;
}

static void put_finish(struct sp_api_conn *c);
static void put_serve_runs(struct sp_api *api, const struct sp_api_stream *st,
			   struct sp_api_xput *x);
static void put_complete(struct sp_api_conn *c);

/*
 * A full ring with storage: drop the records that are durable (cold reads serve them from the
 * store from now on). True when it made room.
 */
static bool
put_trim(struct sp_api *api, const struct sp_api_shard *sh, const struct sp_slog *log)
{
	sp_u128 d = sp_slog_durable(log);
	int64_t k = d != 0 ? sp_shard_ring_trim(sh->ring, d + 1) : 0;

	api->cnt.ring_trims += k > 0;
	api->cnt.ring_trimmed += k > 0 ? (uint64_t)k : 0;
	return k > 0;
}

/* Segment frame bytes of n records (what their log must have room for), sealed or not. */
static uint64_t
put_frame_bytes(const struct sp_api_xrec *recs, uint32_t n, bool sealed)
{
	uint64_t b = 0;

	for (uint32_t i = 0; i < n; i++) {
		b += sp_seg_frame_bytes_as((uint16_t)recs[i].key_len, recs[i].data_len, sealed);
	}
	return b;
}

/* Append one run of records of one shard (x->recs[from..to)) on its owner. */
static void
put_serve_run(struct sp_api *api, const struct sp_api_stream *st, struct sp_api_xput *x,
	      uint32_t from, uint32_t to)
{
	const struct sp_api_shard *sh =
	    st != NULL ? sp_api_stream_shard(st, x->recs[from].shard_index) : NULL;
	struct sp_shard_rec_in in[SP_K_PUT_RECORDS_MAX_ENTRIES];
	sp_u128 seqs[SP_K_PUT_RECORDS_MAX_ENTRIES];
	uint32_t n = to - from, done = 0, admitted;
	size_t off = 0;
	struct sp_slog *log;
	uint16_t flags;
	bool sealed;
	int serr;

	SP_VERIFY(n >= 1 && n <= SP_K_PUT_RECORDS_MAX_ENTRIES);
	if (sh != NULL && (!sh->open || sh->owner != api->worker ||
			   (sh->ring != NULL && sp_shard_ring_writer(sh->ring) != api->worker))) {
		/* closed by a reshard (or moved) since the sender routed them: the sender routes
		 * them again in its snapshot, which is at least as new as ours */
		for (uint32_t i = from; i < to; i++) {
			x->recs[i].status = SP_API_XREC_REROUTE;
		}
		api->cnt.put_rerouted += n;
		return;
	}
	if (sh == NULL || sh->ring == NULL) {
		for (uint32_t i = from; i < to; i++) {
			x->recs[i].status =
			    sh == NULL ? SP_API_XREC_NO_STREAM : SP_API_XREC_INTERNAL;
		}
		return;
	}
	if (st->seal_missing) {
		/* encrypted with a key this dataplane's key file does not hold: refused, never
		 * stored in clear (without a store nothing is at rest: records are only marked) */
		for (uint32_t i = from; i < to; i++) {
			x->recs[i].status = SP_API_XREC_KMS;
		}
		api->cnt.kms_refused += n;
		return;
	}
	sealed = st->seal_key != 0;
	flags = sealed ? (uint16_t)(SP_API_REC_SEALED | st->seal_key << SP_API_REC_KEY_SHIFT) : 0;
	log = sp_api_store_log(api, st, sh, put_frame_bytes(&x->recs[from], n, sealed), &serr);
	if (serr != 0) {
		/* the shard's log cannot take them all now (write errors, no space): refuse what
		 * does not fit before it is numbered, so nothing becomes visible without being
		 * durable; the prefix that fits goes on */
		uint32_t fit = serr == -ENOSPC ? sp_api_store_fit(api, log, &x->recs[from], n,
								 sp_api_seal_fp(api, st))
					       : 0;

		for (uint32_t i = from + fit; i < to; i++) {
			x->recs[i].status =
			    serr == -ENOSPC ? SP_API_XREC_NO_SPACE : SP_API_XREC_INTERNAL;
		}
		api->cnt.store_refused += n - fit;
		if (fit == 0) {
			return;
		}
		to = from + fit;
		n = fit;
	}
	admitted = put_quota(api, st, sh->index, &x->recs[from], n, x->now_ms);
	for (uint32_t i = from + admitted; i < to; i++) {
		x->recs[i].status = SP_API_XREC_THROTTLED;
	}
	api->cnt.quota_refused += n - admitted;
	n = admitted;
	if (n == 0) {
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct sp_api_xrec *r = &x->recs[from + i];
		size_t out_len = 0;
		struct sp_b64_error e;

		SP_VERIFY(off + sp_b64_decoded_max(r->b64_len) <= SP_API_BIG_BUF_BYTES);
		if (r->raw) {
			SP_VERIFY(r->b64_len == r->data_len); /* CBOR: the bytes themselves */
			memcpy(api->scratch + off, r->b64, r->data_len);
			out_len = r->data_len;
		} else {
			SP_VERIFY(sp_b64_decode(r->b64, r->b64_len, api->scratch + off, &out_len,
						&e) == 0);
		}
		SP_VERIFY(out_len == r->data_len);
		in[i] = (struct sp_shard_rec_in){.key = r->key,
						 .data = api->scratch + off,
						 .data_len = r->data_len,
						 .key_len = (uint16_t)r->key_len,
						 .flags = flags};
		off += out_len;
	}
	while (done < n) {
		int rc =
		    sp_shard_ring_append(sh->ring, in + done, n - done, x->now_ms, seqs + done);

		if (rc == -ENOSPC && log != NULL && put_trim(api, sh, log)) {
			continue; /* durable records left the ring: they are read from the store */
		}
		if (rc <= 0) {
			for (uint32_t i = done; i < n; i++) {
				x->recs[from + i].status = put_status_of(rc);
			}
			api->cnt.put_rerouted += rc == -EPIPE ? n - done : 0;
			api->cnt.ring_full += rc == -ENOSPC ? n - done : 0;
			break;
		}
		for (uint32_t i = done; i < done + (uint32_t)rc; i++) {
			x->recs[from + i].status = SP_API_XREC_OK;
			x->recs[from + i].seq = seqs[i];
			x->recs[from + i].kms = sealed;
		}
		done += (uint32_t)rc;
	}
	api->cnt.records_in += done;
	if (done > 0) {
		/* the latency stamp (a gated ring stamps at durability instead) */
		sp_shard_ring_stamp(sh->ring, sp_api_cycles(api));
	}
	if (log != NULL && done > 0) {
		sp_api_store_feed(api, log, sh, put_frame_bytes(&x->recs[from], done, sealed));
	}
}

/* Serve one owner's message: its records, run by run of one shard. */
static void
put_serve(struct sp_api *api, struct sp_api_xput *x)
{
	const struct sp_api_cat *cat = sp_api_cat_current(api->g);
	const struct sp_api_stream *st = sp_api_cat_stream(cat, x->stream, x->stream_len);

	if (st != NULL && st->tag != x->tag) {
		st =
		    NULL; /* deleted and created again meanwhile: not the stream the client meant */
	}
	SP_VERIFY(x->n >= 1 && x->dst == api->worker);
	if (sp_api_move_must_wait(api, st, x)) {
		/* a shard moving here whose old owner still feeds its part: served once the ring
		 * is ours (eight reroute rounds could pass before that, and fail the records). A
		 * connection has one request in flight: no later record of it overtakes these */
		SP_VERIFY(api->nwaiting < api->waiting_cap);
		x->waiting = true;
		api->waiting[api->nwaiting++] = x;
		api->cnt.put_waits++;
		return;
	}
	put_serve_runs(api, st, x);
}

/* Serve x's records, run by run of one shard; hold x when durable ack mode says so. */
static void
put_serve_runs(struct sp_api *api, const struct sp_api_stream *st, struct sp_api_xput *x)
{
	uint32_t from = 0;

	while (from < x->n) {
		uint32_t to = from + 1;

		while (to < x->n && x->recs[to].shard_index == x->recs[from].shard_index) {
			to++;
		}
		put_serve_run(api, st, x, from, to);
		from = to;
	}
	if (api->g->conf.durable && api->store != NULL) {
		for (uint32_t i = 0; i < x->n; i++) {
			if (x->recs[i].status == SP_API_XREC_OK) {
				sp_api_store_hold(api, x); /* answered once durable */
				break;
			}
		}
	}
}

void
sp_api_put_release(struct sp_api *api, struct sp_api_xput *x)
{
	SP_VERIFY(!x->held && x->dst == api->worker);
	if (x->src == api->worker) {
		struct sp_api_conn *c = x->req->conn;

		SP_VERIFY(c->req.pending > 0);
		if (--c->req.pending == 0) {
			put_complete(c);
		}
		return;
	}
	/* sized like the request ring: never full */
	SP_VERIFY(rte_ring_sp_enqueue(api->g->put_done[api->worker][x->src], x) == 0);
}

/* ---- sender side ---- */

/* Hash keys (MD5 batch) or take ExplicitHashKey; route every record. False: answered. */
static bool
put_route(struct sp_api_conn *c, const struct sp_api_stream *st,
	  const struct sp_api_req_record *recs, uint32_t n, const struct sp_api_shard **route,
	  sp_u128 *hash)
{
	struct sp_api *api = c->api;
	struct sp_md5_key keys[SP_K_PUT_RECORDS_MAX_ENTRIES];
	struct sp_md5_digest dig[SP_K_PUT_RECORDS_MAX_ENTRIES];

	for (uint32_t i = 0; i < n; i++) {
		keys[i] = (struct sp_md5_key){.data = recs[i].key.ptr, .len = recs[i].key.len};
	}
	sp_md5_batch(keys, n, dig);
	for (uint32_t i = 0; i < n; i++) {
		sp_u128 h = 0;

		if (recs[i].has & SP_API_REQ_HAS_EHK) {
			if (sp_u128_parse(recs[i].ehk.ptr, recs[i].ehk.len, &h) != 0) {
				snprintf(api->msg, sizeof(api->msg),
					 "Invalid ExplicitHashKey. ExplicitHashKey must be in the "
					 "range: [0, 2^128-1]. Specified value was %.*s",
					 (int)recs[i].ehk.len, recs[i].ehk.ptr);
				sp_api_respond_error(c, SP_KERR_INVALID_ARGUMENT, api->msg, false);
				return false;
			}
		} else {
			for (unsigned b = 0; b < SP_MD5_DIGEST_LEN; b++) {
				h = (h << 8) | dig[i].b[b];
			}
		}
		hash[i] = h;
		route[i] = sp_api_stream_route(st, h);
		/* an owner this dataplane does not run (restarted with fewer workers): refuse */
		if (route[i] == NULL || route[i]->owner >= api->g->nb_workers) {
			sp_api_respond_error(c, SP_KERR_INTERNAL_FAILURE, NULL, false);
			return false;
		}
	}
	return true;
}

/*
 * Data over the stream's record limit (the decoder checked only the model's 10 MiB): the
 * ValidationException the model's own check gives, with the stream's limit as the bound, so a
 * default stream answers exactly as AWS's classic 1 MiB check. Every such record is listed.
 */
static SP_COLD void
put_refuse_data(struct sp_api_conn *c, const struct sp_api_stream *st,
		const struct sp_api_req_record *recs, uint32_t n, bool batch)
{
	struct sp_kvalid v;
	char value[96], path[48], constraint[80];

	sp_kvalid_init(&v);
	snprintf(constraint, sizeof(constraint), "Member must have length less than or equal to %u",
		 st->max_record_bytes);
	for (uint32_t i = 0; i < n; i++) {
		if (recs[i].data_len <= st->max_record_bytes) {
			continue;
		}
		snprintf(value, sizeof(value), "'java.nio.HeapByteBuffer[pos=0 lim=%u cap=%u]'",
			 recs[i].data_len, recs[i].data_len);
		if (batch) {
			snprintf(path, sizeof(path), "records.%u.member.data", i + 1);
		} else {
			snprintf(path, sizeof(path), "data");
		}
		sp_kvalid_add(&v, value, path, constraint);
	}
	SP_VERIFY(v.n > 0);
	(void)sp_kvalid_message(&v, c->api->msg, sizeof(c->api->msg));
	sp_api_respond_error(c, SP_KERR_VALIDATION, c->api->msg, false);
}

/*
 * Sizes the decoder cannot know: the stream's record limit (Data alone, then Data with its
 * partition key, as the limit counts both) and the request total, 5 MiB, or 10 MiB on a
 * stream that takes records above 1 MiB (reference §5).
 */
static bool
put_check_sizes(struct sp_api_conn *c, const struct sp_api_stream *st,
		const struct sp_api_req_record *recs, uint32_t n, bool batch)
{
	uint64_t total = 0, max_total = st->max_record_bytes > SP_K_RECORD_MAX_BYTES_DEFAULT
					    ? SP_K_PUT_RECORDS_MAX_BYTES_LARGE
					    : SP_K_PUT_RECORDS_MAX_BYTES;
	uint32_t max_data = 0, over = UINT32_MAX; /* over: first record over with its key */

	for (uint32_t i = 0; i < n; i++) {
		uint64_t sz = (uint64_t)recs[i].data_len + recs[i].key.len;

		max_data = SP_MAX(max_data, recs[i].data_len);
		if (sz > st->max_record_bytes && over == UINT32_MAX) {
			over = i;
		}
		total += sz;
	}
	/* Data alone over the limit is the model-shaped answer and wins over any sum. */
	if (max_data > st->max_record_bytes) {
		put_refuse_data(c, st, recs, n, batch);
		return false;
	}
	if (over != UINT32_MAX) {
		snprintf(c->api->msg, sizeof(c->api->msg),
			 "Record size %llu (data + partition key) exceeds the stream's limit of %u "
			 "bytes.",
			 (unsigned long long)recs[over].data_len + recs[over].key.len,
			 st->max_record_bytes);
		sp_api_respond_error(c, SP_KERR_INVALID_ARGUMENT, c->api->msg, false);
		return false;
	}
	if (batch && total > max_total) {
		sp_api_respond_error(c, SP_KERR_INVALID_ARGUMENT,
				     max_total == SP_K_PUT_RECORDS_MAX_BYTES
					 ? "Records size exceeds 5 MB limit"
					 : "Records size exceeds 10 MB limit",
				     false);
		return false;
	}
	return true;
}

#define PUT_BUCKETS 64u /* distinct shards a request may touch for the counting sort */

static int
put_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t
put_key(const struct sp_api_shard *sh)
{
	SP_VERIFY(sh->index <= 0xffffffffu);
	return (uint64_t)sh->owner << 48 | (uint64_t)(sh->index & 0xffffffffu) << 16;
}

/*
 * Stable counting sort by (owner, shard) when a request touches at most PUT_BUCKETS shards
 * (the common case: a few shards per stream): ~5 ns a record instead of qsort's ~50.
 * Returns false, with ord untouched, when there are more distinct shards.
 */
static bool
put_bucket_sort(uint64_t *ord, const struct sp_api_shard **route, uint32_t n)
{
	const struct sp_api_shard *bshard[PUT_BUCKETS];
	uint32_t bcount[PUT_BUCKETS], bstart[PUT_BUCKETS], nb = 0, last = 0;
	uint8_t bucket[SP_K_PUT_RECORDS_MAX_ENTRIES];

	for (uint32_t i = 0; i < n; i++) {
		uint32_t b = last;

		if (nb == 0 || bshard[b] != route[i]) {
			for (b = 0; b < nb && bshard[b] != route[i]; b++) {
			}
			if (b == nb) {
				if (nb == PUT_BUCKETS) {
					return false;
				}
				bshard[nb] = route[i];
				bcount[nb++] = 0;
			}
			last = b;
		}
		bucket[i] = (uint8_t)b;
		bcount[b]++;
	}
	/* bucket order by key: insertion sort of at most PUT_BUCKETS entries */
	uint32_t order[PUT_BUCKETS], pos = 0;

	for (uint32_t b = 0; b < nb; b++) {
		uint32_t j = b;

		while (j > 0 && put_key(bshard[order[j - 1]]) > put_key(bshard[b])) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = b;
	}
	for (uint32_t k = 0; k < nb; k++) {
		bstart[order[k]] = pos;
		pos += bcount[order[k]];
	}
	SP_VERIFY(pos == n);
	for (uint32_t i = 0; i < n; i++) {
		ord[bstart[bucket[i]]++] = put_key(route[i]) | i;
	}
	return true;
}

void
sp_api_put_order(uint64_t *ord, const struct sp_api_shard **route, uint32_t n)
{
	SP_VERIFY(n <= SP_K_PUT_RECORDS_MAX_ENTRIES);
	if (!put_bucket_sort(ord, route, n)) {
		for (uint32_t i = 0; i < n; i++) {
			ord[i] = put_key(route[i]) | i;
		}
		qsort(ord, n, sizeof(ord[0]), put_cmp); /* more shards than buckets: rare */
	}
}

/*
 * Order records by (owner worker, shard, request position) into req->recs, so each owner gets
 * one contiguous run and each shard's records stay in request order inside it. Returns the
 * number of owners; gstart/glen/gowner describe each owner's run.
 */
static uint32_t
put_group(struct sp_api_req *req, const struct sp_api_req_record *recs, uint32_t n,
	  const struct sp_api_shard **route, const sp_u128 *hash, uint32_t *gstart,
	  uint32_t *glen, uint16_t *gowner)
{
	uint64_t ord[SP_K_PUT_RECORDS_MAX_ENTRIES];
	uint32_t ng = 0;

	sp_api_put_order(ord, route, n);
	for (uint32_t p = 0; p < n; p++) {
		uint32_t k = (uint32_t)(ord[p] & 0xffff);
		uint16_t owner = (uint16_t)(ord[p] >> 48);

		if (ng == 0 || gowner[ng - 1] != owner) {
			gstart[ng] = p;
			glen[ng] = 0;
			gowner[ng] = owner;
			ng++;
		}
		glen[ng - 1]++;
		req->recs[p] = (struct sp_api_xrec){.key = recs[k].key.ptr,
						    .b64 = recs[k].data.ptr,
						    .key_len = recs[k].key.len,
						    .b64_len = recs[k].data.len,
						    .data_len = recs[k].data_len,
						    .raw = recs[k].data_raw,
						    .shard_index = route[k]->index,
						    .slot = (uint16_t)k,
						    .hash = hash[k]};
		req->rec_shard[k] = route[k]->index;
	}
	return ng;
}

/*
 * Decode into the connection's buffer: the body, then the scratch arena right after it (the
 * buffer was sized for both).
 */
bool
sp_api_put_decode(struct sp_api_conn *c, const char *body, uint32_t len)
{
	struct sp_api *api = c->api;
	char *scratch = (char *)body + len;
	size_t cap = c->buf.cap - SP_API_RESP_HEAD_BYTES - len;
	struct sp_api_req_err *err = &api->put_err;

	SP_VERIFY(c->req.op == SP_KOP_PUT_RECORD || c->req.op == SP_KOP_PUT_RECORDS);
	api->put_conn = c;
	if (c->req.op == SP_KOP_PUT_RECORD) {
		api->put_rc = c->req.cbor
				  ? sp_api_cbor_put_record(body, len, scratch, cap, &api->p1, err)
				  : sp_api_req_put_record(body, len, scratch, cap, &api->p1, err);
	} else {
		api->put_rc = c->req.cbor
				  ? sp_api_cbor_put_records(body, len, scratch, cap, &api->pr, err)
				  : sp_api_req_put_records(body, len, scratch, cap, &api->pr, err);
	}
	if (api->put_rc != 0 && err->kerr == SP_KERR_SERIALIZATION && !err->has_msg) {
		api->put_conn = NULL;
		sp_api_respond_error(c, SP_KERR_SERIALIZATION, NULL, false);
		return false;
	}
	return true;
}

static void
put_send(struct sp_api_conn *c, const struct sp_api_stream *st, uint32_t ng, const uint32_t *gstart,
	 const uint32_t *glen, const uint16_t *gowner)
{
	struct sp_api *api = c->api;
	struct sp_api_req *req = &c->req;
	struct sp_api_xput *local = NULL;

	req->pending = 0;
	for (uint32_t g = 0; g < ng; g++) {
		struct sp_api_xput *x = &req->xput[g];

		*x = (struct sp_api_xput){.req = req,
					  .src = (uint16_t)api->worker,
					  .dst = gowner[g],
					  .tag = st->tag,
					  .stream_len = st->name_len,
					  .stream = req->stream,
					  .now_ms = req->now_ms,
					  .n = glen[g],
					  .recs = &req->recs[gstart[g]]};
		if (gowner[g] == api->worker) {
			local = x;
			continue;
		}
		if (rte_ring_sp_enqueue(api->g->put[api->worker][gowner[g]], x) != 0) {
			api->cnt.xput_ring_full++;
			for (uint32_t i = 0; i < x->n; i++) {
				x->recs[i].status = SP_API_XREC_THROTTLED;
			}
			continue;
		}
		api->cnt.xput_sent++;
		req->pending++;
	}
	if (local != NULL) {
		local->held = false;
		local->waiting = false;
		put_serve(api, local);
		/* released by api_store.c once durable, or by put_retry once served */
		req->pending += local->held || local->waiting;
	}
	if (req->pending == 0) {
		put_complete(c);
	}
}

void
sp_api_op_put(struct sp_api_conn *c, const struct sp_api_cat *cat)
{
	struct sp_api *api = c->api;
	const struct sp_api_req_put_records *prp = &api->pr;
	const struct sp_api_req_put_record *p1 = &api->p1;
	const struct sp_api_req_record *recs;
	const struct sp_api_shard *route[SP_K_PUT_RECORDS_MAX_ENTRIES];
	sp_u128 hash[SP_K_PUT_RECORDS_MAX_ENTRIES];
	uint32_t gstart[SP_MAX_WORKERS], glen[SP_MAX_WORKERS], n, ng;
	uint16_t gowner[SP_MAX_WORKERS];
	const struct sp_api_stream *st;
	bool batch = c->req.op == SP_KOP_PUT_RECORDS;

	SP_VERIFY(api->put_conn == c); /* decoded by this dispatch's step 6 */
	api->put_conn = NULL;
	if (api->put_rc != 0) {
		const struct sp_api_req_err *err = &api->put_err;

		sp_api_respond_error(c, err->kerr, err->has_msg ? err->msg : NULL, err->capital_m);
		return;
	}
	st = batch ? sp_api_resolve_stream(c, cat, &prp->stream_name, &prp->stream_arn,
					   prp->has & SP_API_REQ_HAS_STREAM_NAME,
					   prp->has & SP_API_REQ_HAS_STREAM_ARN)
		   : sp_api_resolve_stream(c, cat, &p1->stream_name, &p1->stream_arn,
					   p1->has & SP_API_REQ_HAS_STREAM_NAME,
					   p1->has & SP_API_REQ_HAS_STREAM_ARN);
	if (st == NULL) {
		return;
	}
	recs = batch ? prp->rec : &p1->rec;
	n = batch ? prp->n : 1;
	if (!put_check_sizes(c, st, recs, n, batch) || !put_route(c, st, recs, n, route, hash)) {
		return;
	}
	memcpy(c->req.stream, st->name, st->name_len + 1u);
	c->req.stream_len = st->name_len;
	c->req.nrecs = n;
	c->req.tag = st->tag;
	c->req.reroutes = 0;
	ng = put_group(&c->req, recs, n, route, hash, gstart, glen, gowner);
	SP_VERIFY(ng >= 1 && ng <= api->g->nb_workers);
	put_send(c, st, ng, gstart, glen, gowner);
}

/* ---- completion ---- */

/* Rounds a record may be routed again before it fails (a snapshot change takes one). */
#define PUT_REROUTE_ROUNDS 8u

/*
 * Records whose shard closed (or moved) on the way: route them again in the snapshot in force,
 * which is at least as new as the one their owner refused them in (the owner read it before
 * handing them back), and send them to their new owners. The records already appended keep
 * their place; each record is still appended exactly once.
 */
static void
put_reroute(struct sp_api_conn *c)
{
	struct sp_api *api = c->api;
	struct sp_api_req *req = &c->req;
	const struct sp_api_cat *cat = sp_api_cat_current(api->g);
	const struct sp_api_stream *st = sp_api_cat_stream(cat, req->stream, req->stream_len);
	struct sp_api_xrec moved[SP_K_PUT_RECORDS_MAX_ENTRIES];
	const struct sp_api_shard *route[SP_K_PUT_RECORDS_MAX_ENTRIES];
	uint64_t ord[SP_K_PUT_RECORDS_MAX_ENTRIES];
	uint32_t gstart[SP_MAX_WORKERS], glen[SP_MAX_WORKERS];
	uint16_t gowner[SP_MAX_WORKERS];
	uint32_t keep = 0, n = 0, ng = 0;

	if (st != NULL && st->tag != req->tag) {
		st = NULL; /* deleted and created again: not the stream the client wrote to */
	}
	for (uint32_t p = 0; p < req->nrecs; p++) {
		struct sp_api_xrec *r = &req->recs[p];

		if (r->status != SP_API_XREC_REROUTE) {
			req->recs[keep++] = *r;
			continue;
		}
		route[n] = st != NULL ? sp_api_stream_route(st, r->hash) : NULL;
		if (route[n] == NULL || route[n]->owner >= api->g->nb_workers) {
			r->status = st == NULL ? SP_API_XREC_NO_STREAM : SP_API_XREC_INTERNAL;
			req->recs[keep++] = *r;
			continue;
		}
		moved[n++] = *r;
	}
	SP_VERIFY(keep + n == req->nrecs);
	if (n == 0) {
		put_finish(c);
		return;
	}
	/* the moved records after the kept ones, one run per new owner, request order kept */
	sp_api_put_order(ord, route, n);
	for (uint32_t p = 0; p < n; p++) {
		uint32_t k = (uint32_t)(ord[p] & 0xffff);
		uint16_t owner = (uint16_t)(ord[p] >> 48);
		struct sp_api_xrec *r = &req->recs[keep + p];

		if (ng == 0 || gowner[ng - 1] != owner) {
			gstart[ng] = keep + p;
			glen[ng] = 0;
			gowner[ng] = owner;
			ng++;
		}
		glen[ng - 1]++;
		*r = moved[k];
		r->shard_index = route[k]->index;
		r->status = SP_API_XREC_OK;
		req->rec_shard[r->slot] = r->shard_index;
	}
	api->cnt.put_reroute_rounds++;
	put_send(c, st, ng, gstart, glen, gowner);
}

/* Every message of a PutRecord(s) is back: route refused records again, or answer. */
static void
put_complete(struct sp_api_conn *c)
{
	struct sp_api_req *req = &c->req;
	bool again = false;

	SP_VERIFY(req->pending == 0);
	for (uint32_t p = 0; p < req->nrecs && !again; p++) {
		again = req->recs[p].status == SP_API_XREC_REROUTE;
	}
	if (!again) {
		put_finish(c);
		return;
	}
	if (++req->reroutes > PUT_REROUTE_ROUNDS) {
		/* the catalog kept moving under these records: fail them, never drop them */
		for (uint32_t p = 0; p < req->nrecs; p++) {
			if (req->recs[p].status == SP_API_XREC_REROUTE) {
				req->recs[p].status = SP_API_XREC_INTERNAL;
			}
		}
		put_finish(c);
		return;
	}
	put_reroute(c);
}

static const char *
put_fail_code(uint8_t status, enum sp_kerr *kerr)
{
	switch (status) {
	case SP_API_XREC_THROTTLED:
		*kerr = SP_KERR_THROUGHPUT_EXCEEDED;
		break;
	case SP_API_XREC_NO_STREAM:
		*kerr = SP_KERR_RESOURCE_NOT_FOUND;
		break;
	case SP_API_XREC_KMS:
		*kerr = SP_KERR_KMS_NOT_FOUND;
		break;
	default:
		*kerr = SP_KERR_INTERNAL_FAILURE;
		break;
	}
	return sp_kerr_table[*kerr].type;
}

static size_t
put_fail_msg(const struct sp_api_req *req, uint32_t shard, uint8_t status, enum sp_kerr kerr,
	     char *buf, size_t cap)
{
	char id[SP_API_SHARD_ID_BYTES];
	int n;

	sp_api_format_shard_id(shard, id);
	if (status == SP_API_XREC_NO_SPACE) {
		n = snprintf(buf, cap,
			     "Internal Service Failure: storage full for shard %s in stream %s; "
			     "records are refused until space is freed.",
			     id, req->stream);
	} else if (kerr == SP_KERR_THROUGHPUT_EXCEEDED) {
		n = snprintf(buf, cap, "Rate exceeded for shard %s in stream %s under account %s.",
			     id, req->stream, req->account);
	} else if (kerr == SP_KERR_KMS_NOT_FOUND) {
		/* Spate's text: the KeyId is in the catalog, its key not in this node's key file */
		n = snprintf(buf, cap,
			     "The KMS key of stream %s under account %s is not in this node's key "
			     "file; records are refused until the operator adds it.",
			     req->stream, req->account);
	} else if (kerr == SP_KERR_RESOURCE_NOT_FOUND) {
		n = snprintf(buf, cap, "Stream %s under account %s not found.", req->stream,
			     req->account);
	} else {
		n = snprintf(buf, cap, "Internal Service Failure");
	}
	return n > 0 ? SP_MIN((size_t)n, cap - 1) : 0;
}

static void
put_finish_one(struct sp_api_conn *c)
{
	struct sp_api_req *req = &c->req;
	const struct sp_api_xrec *r = &req->recs[0];
	char seq[SP_U128_DEC_MAX + 1], id[SP_API_SHARD_ID_BYTES];
	char *out = c->buf.p + SP_API_RESP_HEAD_BYTES;
	size_t cap = c->buf.cap - SP_API_RESP_HEAD_BYTES;
	enum sp_kerr kerr;
	ssize_t n;

	if (r->status != SP_API_XREC_OK) {
		(void)put_fail_code(r->status, &kerr);
		put_fail_msg(req, r->shard_index, r->status, kerr, c->api->msg,
			     sizeof(c->api->msg));
		sp_api_respond_error(c, kerr,
				     kerr == SP_KERR_INTERNAL_FAILURE &&
					     r->status != SP_API_XREC_NO_SPACE
					 ? NULL
					 : c->api->msg,
				     false);
		return;
	}
	if (req->cbor) {
		n = sp_api_cbor_write_put_record(out, cap, id,
						 sp_api_format_shard_id(r->shard_index, id), seq,
						 sp_u128_format(r->seq, seq), r->kms);
	} else {
		n = sp_api_json_write_put_record(out, cap, id,
						 sp_api_format_shard_id(r->shard_index, id), seq,
						 sp_u128_format(r->seq, seq), r->kms);
	}
	SP_VERIFY(n > 0);
	sp_api_respond_enc(c, 200, out, (uint32_t)n);
}

/*
 * The PutRecords answer's writer: JSON or CBOR, as the request came (the same entries through
 * the writers' twin calls, api_json.h and api_cbor.h).
 */
struct put_batch_w {
	bool cbor;
	struct sp_api_jw jw;
	struct sp_cbor_w cw;
};

static void
put_bw_begin(struct put_batch_w *b, char *out, size_t cap, uint32_t failed)
{
	if (b->cbor) {
		sp_cbor_w_init(&b->cw, (uint8_t *)out, cap);
		sp_api_cw_put_records_begin(&b->cw, failed);
	} else {
		sp_api_jw_init(&b->jw, out, cap);
		sp_api_jw_put_records_begin(&b->jw, failed);
	}
}

static void
put_bw_ok(struct put_batch_w *b, const char *id, size_t id_len, const char *seq, size_t seq_len)
{
	if (b->cbor) {
		sp_api_cw_put_records_ok(&b->cw, id, id_len, seq, seq_len);
	} else {
		sp_api_jw_put_records_ok(&b->jw, id, id_len, seq, seq_len);
	}
}

static void
put_bw_fail(struct put_batch_w *b, const char *code, const char *msg, size_t msg_len)
{
	if (b->cbor) {
		sp_api_cw_put_records_fail(&b->cw, code, strlen(code), msg, msg_len);
	} else {
		sp_api_jw_put_records_fail(&b->jw, code, strlen(code), msg, msg_len);
	}
}

static ssize_t
put_bw_end(struct put_batch_w *b, bool kms)
{
	if (b->cbor) {
		sp_api_cw_put_records_end(&b->cw, kms);
		return sp_cbor_w_finish(&b->cw);
	}
	sp_api_jw_put_records_end(&b->jw, kms);
	return sp_api_jw_finish(&b->jw);
}

static void
put_finish_batch(struct sp_api_conn *c)
{
	struct sp_api_req *req = &c->req;
	uint16_t pos[SP_K_PUT_RECORDS_MAX_ENTRIES];
	char seq[SP_U128_DEC_MAX + 1], msg[384];
	struct put_batch_w w = {.cbor = req->cbor};
	struct sp_api_shard_ids ids;
	uint32_t failed = 0;
	bool kms = false;
	ssize_t n;

	sp_api_shard_ids_init(&ids);
	for (uint32_t p = 0; p < req->nrecs; p++) {
		pos[req->recs[p].slot] = (uint16_t)p;
		failed += req->recs[p].status != SP_API_XREC_OK;
		/* the batch's EncryptionType: KMS when its records were sealed (a batch that
		 * straddles a StartStreamEncryption says KMS if any was) */
		kms |= req->recs[p].status == SP_API_XREC_OK && req->recs[p].kms;
	}
	put_bw_begin(&w, c->buf.p + SP_API_RESP_HEAD_BYTES, c->buf.cap - SP_API_RESP_HEAD_BYTES,
		     failed);
	for (uint32_t k = 0; k < req->nrecs; k++) {
		const struct sp_api_xrec *r = &req->recs[pos[k]];
		enum sp_kerr kerr;

		if (r->status == SP_API_XREC_OK) {
			size_t id_len;
			const char *id = sp_api_shard_ids_get(&ids, r->shard_index, &id_len);

			put_bw_ok(&w, id, id_len, seq, sp_u128_format(r->seq, seq));
		} else {
			const char *code = put_fail_code(r->status, &kerr);

			size_t mlen =
			    put_fail_msg(req, r->shard_index, r->status, kerr, msg, sizeof(msg));

			put_bw_fail(&w, code, msg, mlen);
		}
	}
	n = put_bw_end(&w, kms);
	SP_VERIFY(n > 0);
	sp_api_respond_enc(c, 200, c->buf.p + SP_API_RESP_HEAD_BYTES, (uint32_t)n);
}

static void
put_finish(struct sp_api_conn *c)
{
	SP_VERIFY(c->req.pending == 0);
	if (c->req.op == SP_KOP_PUT_RECORD) {
		put_finish_one(c);
	} else {
		put_finish_batch(c);
	}
}

/* Serve the messages that waited for a moved shard's ring, in arrival order. */
static unsigned
put_retry(struct sp_api *api)
{
	const struct sp_api_cat *cat = sp_api_cat_current(api->g);
	uint32_t keep = 0;
	unsigned work = 0;

	for (uint32_t i = 0; i < api->nwaiting; i++) {
		struct sp_api_xput *x = api->waiting[i];
		const struct sp_api_stream *st = sp_api_cat_stream(cat, x->stream, x->stream_len);

		if (st != NULL && st->tag != x->tag) {
			st = NULL;
		}
		if (sp_api_move_must_wait(api, st, x)) {
			api->waiting[keep++] = x;
			continue;
		}
		x->waiting = false;
		put_serve_runs(api, st, x);
		work++;
		if (!x->held) {
			sp_api_put_release(api, x);
		}
	}
	api->nwaiting = keep;
	return work;
}

unsigned
sp_api_put_poll(struct sp_api *api)
{
	struct sp_api_global *g = api->g;
	unsigned work = api->nwaiting > 0 ? put_retry(api) : 0;

	for (unsigned o = 0; o < g->nb_workers; o++) {
		void *objs[SP_API_XDRAIN_BURST];
		unsigned n;

		if (o == api->worker) {
			continue;
		}
		/* records other workers hand us */
		n = rte_ring_sc_dequeue_burst(g->put[o][api->worker], objs, SP_API_XDRAIN_BURST,
					      NULL);
		for (unsigned i = 0; i < n; i++) {
			struct sp_api_xput *x = objs[i];

			x->held = false;
			x->waiting = false;
			put_serve(api, x);
			api->cnt.xput_served++;
			if (!x->held && !x->waiting) {
				sp_api_put_release(api, x);
			}
		}
		work += n;
		/* our records coming back */
		n = rte_ring_sc_dequeue_burst(g->put_done[o][api->worker], objs,
					      SP_API_XDRAIN_BURST, NULL);
		for (unsigned i = 0; i < n; i++) {
			struct sp_api_xput *x = objs[i];
			struct sp_api_conn *c = x->req->conn;

			SP_VERIFY(x->src == api->worker && c->req.pending > 0);
			if (--c->req.pending == 0) {
				put_complete(c);
			}
		}
		work += n;
	}
	return work;
}
