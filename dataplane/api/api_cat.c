/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Catalog snapshots for the workers: built from spate-control's JSON on the main lcore
 * (allocation and jansson are fine there), then read-only. A snapshot never changes after
 * sp_api_cat_build() returns; the main lcore publishes it and frees the one it replaced after
 * an RCU grace period (api_main.c). Lookups below are what workers call per request: a binary
 * search by stream name, an index into the shards array, and a binary search of the open
 * shards by hash key. Invariants checked at build: open shards tile 0..2^128-1 exactly, in
 * order, without gaps or overlaps, so routing always finds exactly one shard.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spate/assert.h>
#include <spate/err.h>
#include <spate/hex.h>

#include "api_cat.h"

static int
cat_str(const json_t *obj, const char *key, const char **out, size_t *len)
{
	const json_t *v = json_object_get(obj, key);

	if (!json_is_string(v)) {
		return -EINVAL;
	}
	*out = json_string_value(v);
	*len = json_string_length(v);
	return 0;
}

static int
cat_u128(const json_t *obj, const char *key, sp_u128 *out)
{
	const char *s;
	size_t len;

	if (cat_str(obj, key, &s, &len) != 0) {
		return -EINVAL;
	}
	return sp_u128_parse(s, len, out) == 0 ? 0 : -EINVAL;
}

static enum sp_api_status
cat_status(const char *s)
{
	if (strcmp(s, "ACTIVE") == 0) {
		return SP_API_ACTIVE;
	}
	if (strcmp(s, "UPDATING") == 0) {
		return SP_API_UPDATING;
	}
	if (strcmp(s, "DELETING") == 0) {
		return SP_API_DELETING;
	}
	return SP_API_CREATING;
}

int
sp_api_parse_shard_id(const char *s, size_t len, uint32_t *idx)
{
	size_t start = 0;
	uint64_t v = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '-') {
			start = i + 1;
		}
	}
	if (start >= len) {
		return -EINVAL;
	}
	while (start + 1 < len && s[start] == '0') {
		start++; /* shardId-000000000005 */
	}
	if (len - start > 10) {
		return -EINVAL;
	}
	for (size_t i = start; i < len; i++) {
		unsigned d = (unsigned)(uint8_t)s[i] - '0';

		if (d > 9) {
			return -EINVAL;
		}
		v = v * 10 + d;
	}
	if (v > INT32_MAX) {
		return -EINVAL;
	}
	*idx = (uint32_t)v;
	return 0;
}

size_t
sp_api_format_shard_id(uint32_t idx, char *buf)
{
	/* "shardId-" and 12 digits: on every PutRecords entry, so no snprintf */
	static const char prefix[] = "shardId-";
	const size_t plen = sizeof(prefix) - 1;

	SP_STATIC_ASSERT(sizeof(prefix) - 1 + 12 < SP_API_SHARD_ID_BYTES, "shard id fits");
	memcpy(buf, prefix, plen);
	sp_u64_digits(idx, buf + plen, 12); /* idx <= 2^32 - 1 < 10^12 */
	buf[plen + 12] = '\0';
	return plen + 12;
}

size_t
sp_api_stream_arn(const struct sp_api_cat *cat, const struct sp_api_stream *st, char *buf,
		  size_t cap)
{
	int n = snprintf(buf, cap, "arn:aws:kinesis:%s:%s:stream/%s", cat->region, cat->account,
			 st->name);

	SP_VERIFY(n > 0);
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

int
sp_api_iter_conf_parse(const json_t *catalog, struct sp_api_iter_conf *out)
{
	const json_t *it = json_object_get(catalog, "iterators");
	const json_t *off = json_object_get(it, "clock_offset_ms");
	const char *key;
	size_t len;

	SP_VERIFY(out != NULL);
	if (it == NULL) {
		return -ENOENT;
	}
	if (cat_str(it, "key", &key, &len) != 0 || len != 2 * SP_API_ITER_KEY_BYTES ||
	    !json_is_integer(off) || json_integer_value(off) < -SP_API_ITER_CLOCK_OFFSET_MAX_MS ||
	    json_integer_value(off) > SP_API_ITER_CLOCK_OFFSET_MAX_MS) {
		return -EINVAL;
	}
	if (sp_hex_decode(key, out->key, SP_API_ITER_KEY_BYTES) != 0) {
		return -EINVAL;
	}
	out->clock_offset_ms = json_integer_value(off);
	SP_VERIFY(out->clock_offset_ms >= -SP_API_ITER_CLOCK_OFFSET_MAX_MS);
	return 0;
}

/*
 * "past_owners": the workers that held the shard before its owner, oldest first (each store
 * keeps the records its worker appended). Absent or [] when the shard never moved.
 */
static int
cat_past_owners(const json_t *arr, struct sp_api_shard *sh)
{
	const json_t *w;
	size_t i;

	sh->npast = 0;
	if (arr == NULL || json_is_null(arr)) {
		return 0;
	}
	if (!json_is_array(arr) || json_array_size(arr) > SP_API_PAST_OWNERS_MAX) {
		return -EINVAL;
	}
	json_array_foreach(arr, i, w)
	{
		if (!json_is_integer(w) || json_integer_value(w) < 0 ||
		    json_integer_value(w) >= SP_MAX_WORKERS) {
			return -EINVAL;
		}
		sh->past[sh->npast++] = (uint16_t)json_integer_value(w);
	}
	return 0;
}

static int
cat_build_shard(const json_t *js, struct sp_api_shard *sh)
{
	const char *id;
	size_t id_len;
	const json_t *owner = json_object_get(js, "owner_lcore");
	const json_t *end = json_object_get(js, "ending_seq");

	if (cat_str(js, "shard_id", &id, &id_len) != 0 ||
	    sp_api_parse_shard_id(id, id_len, &sh->index) != 0 ||
	    cat_u128(js, "starting_hash_key", &sh->start_hash) != 0 ||
	    cat_u128(js, "ending_hash_key", &sh->end_hash) != 0 ||
	    cat_u128(js, "starting_seq", &sh->starting_seq) != 0 || !json_is_integer(owner) ||
	    json_integer_value(owner) < 0) {
		return -EINVAL;
	}
	if (sh->end_hash < sh->start_hash) {
		return -EINVAL;
	}
	sh->owner = (uint16_t)json_integer_value(owner);
	sh->open = end == NULL || json_is_null(end);
	if (cat_past_owners(json_object_get(js, "past_owners"), sh) != 0) {
		return -EINVAL;
	}
	sh->nparents = 0;
	for (unsigned k = 0; k < 2; k++) {
		const char *pid;
		size_t pid_len;

		if (cat_str(js, k == 0 ? "parent_shard_id" : "adjacent_parent_shard_id", &pid,
			    &pid_len) != 0) {
			break; /* null: no (further) parent */
		}
		if (sp_api_parse_shard_id(pid, pid_len, &sh->parents[k]) != 0) {
			return -EINVAL;
		}
		sh->nparents++;
	}
	sh->id_len = (uint8_t)sp_api_format_shard_id(sh->index, sh->id);
	return 0;
}

static int
cat_cmp_open(const void *a, const void *b, void *arg)
{
	const struct sp_api_shard *shards = arg;
	sp_u128 x = shards[*(const uint32_t *)a].start_hash;
	sp_u128 y = shards[*(const uint32_t *)b].start_hash;

	return x < y ? -1 : x > y;
}

/* Open shards sorted by start, and the tiling check routing relies on. */
static int
cat_index_open(struct sp_api_stream *st)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < st->nshards; i++) {
		if (st->shards[i].open) {
			st->open_by_hash[n++] = i;
		}
	}
	st->nopen = n;
	qsort_r(st->open_by_hash, n, sizeof(uint32_t), cat_cmp_open, st->shards);
	for (uint32_t i = 0; i < n; i++) {
		const struct sp_api_shard *sh = &st->shards[st->open_by_hash[i]];
		sp_u128 want = i == 0 ? 0 : st->shards[st->open_by_hash[i - 1]].end_hash + 1;

		if (sh->start_hash != want) {
			return -EINVAL;
		}
		if (i + 1 == n && sh->end_hash != ~(sp_u128)0) {
			return -EINVAL;
		}
	}
	return 0;
}

/* Each shard's children, from their parent fields (parents past retention are absent). */
static int
cat_link_children(struct sp_api_stream *st)
{
	for (uint32_t i = 0; i < st->nshards; i++) {
		const struct sp_api_shard *c = &st->shards[i];

		for (unsigned k = 0; k < c->nparents; k++) {
			struct sp_api_shard *p =
			    (struct sp_api_shard *)sp_api_stream_shard(st, c->parents[k]);

			if (p == NULL) {
				continue;
			}
			/* a parent is closed, older, and splits in two at most */
			if (p->nchildren == 2 || p->open || p->index >= c->index) {
				return -EINVAL;
			}
			p->children[p->nchildren++] = c->index;
		}
	}
	return 0;
}

/* "encryption": "KMS" with "key_id": which key of the dataplane's file seals the records. */
static void
cat_stream_seal(const json_t *js, const struct sp_keyfile *keys, struct sp_api_stream *st)
{
	const char *enc = json_string_value(json_object_get(js, "encryption"));
	const char *id = json_string_value(json_object_get(js, "key_id"));
	const struct sp_key *k;

	st->seal_key = 0;
	st->seal_missing = false;
	if (enc == NULL || strcmp(enc, "KMS") != 0) {
		return;
	}
	k = keys != NULL && id != NULL ? sp_keyfile_find(keys, id) : NULL;
	if (k == NULL) {
		st->seal_missing = true;
		return;
	}
	SP_VERIFY(k >= keys->keys && k < keys->keys + keys->n);
	st->seal_key = (uint16_t)(k - keys->keys + 1);
}

static int
cat_build_stream(const json_t *js, const struct sp_keyfile *keys, struct sp_api_stream *st,
		 sp_api_ring_fn ring_fn, void *arg)
{
	const char *name, *status;
	size_t name_len, status_len;
	const json_t *shards = json_object_get(js, "shards");
	const json_t *v;
	size_t i;
	int rc;

	if (cat_str(js, "name", &name, &name_len) != 0 || name_len == 0 ||
	    name_len > SP_K_STREAM_NAME_MAX_CHARS ||
	    cat_str(js, "status", &status, &status_len) != 0 || !json_is_array(shards) ||
	    json_array_size(shards) > SP_API_MAX_SHARDS_PER_STREAM) {
		return -EINVAL;
	}
	memcpy(st->name, name, name_len);
	st->name[name_len] = '\0';
	st->name_len = (uint16_t)name_len;
	st->status = cat_status(status);
	st->created_ms = json_integer_value(json_object_get(js, "created_ms"));
	v = json_object_get(js, "stream_tag");
	st->tag = json_is_integer(v) ? (uint32_t)json_integer_value(v) & SP_SEQNO_TAG_MAX
				     : sp_seqno_stream_tag(name, name_len, st->created_ms);
	v = json_object_get(js, "max_record_bytes");
	st->max_record_bytes = json_is_integer(v) && json_integer_value(v) > 0
				   ? (uint32_t)json_integer_value(v)
				   : SP_K_RECORD_MAX_BYTES_DEFAULT;
	SP_VERIFY(st->max_record_bytes <= SP_K_RECORD_MAX_BYTES_LIMIT);
	st->quota_records_per_s =
	    (uint32_t)json_integer_value(json_object_get(js, "quota_records_per_s"));
	st->quota_bytes_per_s =
	    (uint32_t)json_integer_value(json_object_get(js, "quota_bytes_per_s"));
	v = json_object_get(js, "retention_hours");
	st->retention_ms = (uint64_t)(json_is_integer(v) && json_integer_value(v) > 0
					  ? json_integer_value(v)
					  : SP_API_RETENTION_HOURS_DEFAULT) *
			   3600000u;
	cat_stream_seal(js, keys, st);
	st->nshards = (uint32_t)json_array_size(shards);
	st->shards = calloc(st->nshards + 1, sizeof(*st->shards));
	st->open_by_hash = calloc(st->nshards + 1, sizeof(uint32_t));
	if (st->shards == NULL || st->open_by_hash == NULL) {
		return -ENOMEM;
	}
	json_array_foreach(shards, i, v)
	{
		rc = cat_build_shard(v, &st->shards[i]);
		if (rc != 0) {
			return rc;
		}
		if (i > 0 && st->shards[i].index <= st->shards[i - 1].index) {
			return -EINVAL; /* control sorts by shard id: indices strictly increase */
		}
	}
	rc = st->nshards == 0 ? 0 : cat_index_open(st);
	if (rc == 0) {
		rc = cat_link_children(st);
	}
	if (rc != 0) {
		return rc;
	}
	for (uint32_t k = 0; k < st->nshards; k++) {
		st->shards[k].ring = ring_fn(arg, st, &st->shards[k]);
	}
	return 0;
}

static int
cat_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
cat_cmp_stream(const void *a, const void *b)
{
	const struct sp_api_stream *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static int
cat_cmp_consumer(const void *a, const void *b)
{
	const struct sp_api_consumer *x = a, *y = b;

	return strcmp(x->arn, y->arn);
}

/* The snapshot's "consumers" (absent from older controls: none). */
static int
cat_build_consumers(const json_t *arr, struct sp_api_cat *cat)
{
	const json_t *js;
	size_t i;

	if (arr == NULL) {
		return 0;
	}
	if (!json_is_array(arr) ||
	    json_array_size(arr) > (size_t)SP_API_MAX_STREAMS * SP_K_CONSUMERS_PER_STREAM_MAX) {
		return -EINVAL;
	}
	cat->consumers = calloc(json_array_size(arr) + 1, sizeof(*cat->consumers));
	if (cat->consumers == NULL) {
		return -ENOMEM;
	}
	json_array_foreach(arr, i, js)
	{
		struct sp_api_consumer *k = &cat->consumers[cat->nconsumers];
		const char *arn, *stream, *status;
		size_t alen, slen, tlen;

		if (cat_str(js, "arn", &arn, &alen) != 0 || cat_str(js, "stream", &stream, &slen) ||
		    cat_str(js, "status", &status, &tlen) || alen > SP_K_CONSUMER_ARN_MAX_CHARS ||
		    slen > SP_K_STREAM_NAME_MAX_CHARS) {
			return -EINVAL;
		}
		k->arn = strndup(arn, alen);
		if (k->arn == NULL) {
			return -ENOMEM;
		}
		cat->nconsumers++;
		k->arn_len = (uint16_t)alen;
		k->active = strcmp(status, "ACTIVE") == 0;
		k->stream_len = (uint16_t)slen;
		memcpy(k->stream, stream, slen);
	}
	qsort(cat->consumers, cat->nconsumers, sizeof(*cat->consumers), cat_cmp_consumer);
	return 0;
}

const struct sp_api_consumer *
sp_api_cat_consumer(const struct sp_api_cat *cat, const char *arn, size_t len)
{
	uint32_t lo = 0, hi = cat->nconsumers;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct sp_api_consumer *k = &cat->consumers[mid];
		int c = memcmp(k->arn, arn, SP_MIN((size_t)k->arn_len, len));

		if (c == 0) {
			c = k->arn_len < len ? -1 : k->arn_len > len;
		}
		if (c == 0) {
			return k;
		}
		if (c < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return NULL;
}

int
sp_api_cat_build(const json_t *catalog, uint64_t version, uint32_t epoch, const char *account,
		 const char *region, const struct sp_keyfile *keys, sp_api_ring_fn ring_fn,
		 void *ring_arg, struct sp_api_cat **out)
{
	const json_t *streams = json_object_get(catalog, "streams");
	struct sp_api_cat *cat;
	const json_t *js;
	size_t i;
	int rc = 0;

	if (!json_is_array(streams) || json_array_size(streams) > SP_API_MAX_STREAMS) {
		return -EINVAL;
	}
	cat = calloc(1, sizeof(*cat));
	if (cat == NULL) {
		return -ENOMEM;
	}
	cat->version = version;
	cat->epoch = epoch;
	rc = sp_api_iter_conf_parse(catalog, &cat->iter);
	if (rc == -EINVAL) {
		goto fail;
	}
	cat->has_iter = rc == 0; /* optional here: tools build catalogs without one */
	rc = 0;
	snprintf(cat->account, sizeof(cat->account), "%s", account);
	snprintf(cat->region, sizeof(cat->region), "%s", region);
	cat->nstreams = (uint32_t)json_array_size(streams);
	cat->streams = calloc(cat->nstreams + 1, sizeof(*cat->streams));
	if (cat->streams == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	json_array_foreach(streams, i, js)
	{
		rc = cat_build_stream(js, keys, &cat->streams[i], ring_fn, ring_arg);
		if (rc != 0) {
			goto fail;
		}
	}
	qsort(cat->streams, cat->nstreams, sizeof(*cat->streams), cat_cmp_stream);
	for (uint32_t k = 1; k < cat->nstreams; k++) {
		if (strcmp(cat->streams[k - 1].name, cat->streams[k].name) == 0) {
			rc = -EINVAL;
			goto fail;
		}
	}
	/* by stream tag, for the storage sweep (a log knows only its tag) */
	cat->by_tag = calloc(cat->nstreams + 1, sizeof(*cat->by_tag));
	if (cat->by_tag == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	for (uint32_t k = 0; k < cat->nstreams; k++) {
		cat->by_tag[k] = (uint64_t)cat->streams[k].tag << 32 | k;
	}
	qsort(cat->by_tag, cat->nstreams, sizeof(*cat->by_tag), cat_cmp_u64);
	rc = cat_build_consumers(json_object_get(catalog, "consumers"), cat);
	if (rc != 0) {
		goto fail;
	}
	*out = cat;
	return 0;
fail:
	sp_api_cat_free(cat);
	return rc;
}

void
sp_api_cat_free(struct sp_api_cat *cat)
{
	if (cat == NULL) {
		return;
	}
	for (uint32_t i = 0; cat->streams != NULL && i < cat->nstreams; i++) {
		free(cat->streams[i].shards);
		free(cat->streams[i].open_by_hash);
	}
	free(cat->streams);
	free(cat->by_tag);
	for (uint32_t i = 0; cat->consumers != NULL && i < cat->nconsumers; i++) {
		free(cat->consumers[i].arn);
	}
	free(cat->consumers);
	free(cat);
}

bool
sp_api_cat_tag_has_shard(const struct sp_api_cat *cat, uint32_t tag, uint32_t idx)
{
	uint32_t lo = 0, hi = cat->nstreams;

	while (lo < hi) { /* the first entry of tag */
		uint32_t mid = lo + (hi - lo) / 2;

		if ((uint32_t)(cat->by_tag[mid] >> 32) < tag) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	for (; lo < cat->nstreams && (uint32_t)(cat->by_tag[lo] >> 32) == tag; lo++) {
		if (sp_api_stream_shard(&cat->streams[(uint32_t)cat->by_tag[lo]], idx) != NULL) {
			return true;
		}
	}
	return false;
}

const struct sp_api_stream *
sp_api_cat_stream_by_tag(const struct sp_api_cat *cat, uint32_t tag)
{
	uint32_t lo = 0, hi = cat->nstreams;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint32_t t = (uint32_t)(cat->by_tag[mid] >> 32);

		if (t == tag) {
			return &cat->streams[(uint32_t)cat->by_tag[mid]];
		}
		if (t < tag) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return NULL;
}

const struct sp_api_stream *
sp_api_cat_stream(const struct sp_api_cat *cat, const char *name, size_t len)
{
	uint32_t lo = 0, hi = cat->nstreams;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct sp_api_stream *st = &cat->streams[mid];
		size_t n = SP_MIN(len, (size_t)st->name_len);
		int c = memcmp(name, st->name, n);

		if (c == 0) {
			c = len < st->name_len ? -1 : len > st->name_len;
		}
		if (c == 0) {
			return st;
		}
		if (c < 0) {
			hi = mid;
		} else {
			lo = mid + 1;
		}
	}
	return NULL;
}

const struct sp_api_shard *
sp_api_stream_shard(const struct sp_api_stream *st, uint32_t idx)
{
	uint32_t lo = 0, hi = st->nshards;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (st->shards[mid].index == idx) {
			return &st->shards[mid];
		}
		if (st->shards[mid].index < idx) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return NULL;
}

const struct sp_api_shard *
sp_api_stream_route(const struct sp_api_stream *st, sp_u128 h)
{
	uint32_t lo = 0, hi = st->nopen;

	if (st->nopen == 0) {
		return NULL;
	}
	/* last open shard whose start <= h */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (st->shards[st->open_by_hash[mid]].start_hash <= h) {
			lo = mid;
		} else {
			hi = mid;
		}
	}
	SP_ASSERT(st->shards[st->open_by_hash[lo]].start_hash <= h);
	SP_VERIFY(h <= st->shards[st->open_by_hash[lo]].end_hash);
	return &st->shards[st->open_by_hash[lo]];
}
