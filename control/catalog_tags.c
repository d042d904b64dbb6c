/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The catalog's stream administration that is not stream lifecycle: tags (table `tags`,
 * schema v3), the shard-level metrics of enhanced monitoring (streams.shard_metrics), stream
 * encryption (streams.encryption and key_id, with a dated 'encryption' stream event per change
 * for the rolling limit) and the account figures DescribeLimits reports.
 *
 * Invariants: a stream never holds more tags than the limit its writer passes (checked inside
 * the write transaction, so two writers cannot both squeeze under it); tag writes never bump
 * catalog_version, because the dataplane's snapshot does not carry tags and a bump would only
 * push an identical snapshot; a metrics or encryption change bumps it, because the snapshot
 * carries shard_metrics, encryption and key_id. Runs on spate-control's single thread, like
 * catalog.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include <spate/assert.h>

#include "catalog.h"
#include "catalog_internal.h"
#include "ctl_log.h"

/* 0 when the stream exists, -ENOENT or -EIO. */
static int
tags_stream_exists(struct sp_cat *cat, const char *stream)
{
	sqlite3_stmt *st;
	int rc = sp_cati_prepare(cat, "SELECT 1 FROM streams WHERE name = ?", &st);

	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, stream);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW) {
		return 0;
	}
	if (rc == SQLITE_DONE) {
		return -ENOENT;
	}
	SP_CTL_ERR("catalog %s: reading stream %s: %s", cat->path, stream, sqlite3_errmsg(cat->db));
	return -EIO;
}

/* Run one prepared statement per key or tag: `bind` binds item i, the stream is ?1. */
static int
tags_each(struct sp_cat *cat, const char *sql, const char *stream, size_t n,
	  void (*bind)(sqlite3_stmt *st, size_t i, const void *items), const void *items)
{
	sqlite3_stmt *st;
	int rc = sp_cati_prepare(cat, sql, &st);

	if (rc != 0) {
		return rc;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		sqlite3_reset(st);
		sp_cati_bind_text(st, 1, stream);
		bind(st, i, items);
		int step = sqlite3_step(st);

		if (step != SQLITE_DONE) {
			rc = sp_cati_step_err(cat, step, "tag");
		}
	}
	sqlite3_finalize(st);
	SP_ASSERT(rc <= 0);
	return rc;
}

static void
tags_bind_tag(sqlite3_stmt *st, size_t i, const void *items)
{
	const struct sp_cat_tag *t = (const struct sp_cat_tag *)items + i;

	SP_VERIFY(t->key != NULL);
	sp_cati_bind_text(st, 2, t->key);
	sp_cati_bind_text(st, 3, t->value != NULL ? t->value : "");
}

static void
tags_bind_key(sqlite3_stmt *st, size_t i, const void *items)
{
	const char *const *keys = items;

	SP_VERIFY(keys[i] != NULL);
	sp_cati_bind_text(st, 2, keys[i]);
}

#define TAGS_UPSERT_SQL "INSERT OR REPLACE INTO tags(stream, key, value) VALUES(?1, ?2, ?3)"

int
sp_cati_tags_insert(struct sp_cat *cat, const char *stream, const struct sp_cat_tag *tags, size_t n)
{
	SP_VERIFY(stream != NULL && (n == 0 || tags != NULL));
	return n == 0 ? 0 : tags_each(cat, TAGS_UPSERT_SQL, stream, n, tags_bind_tag, tags);
}

struct tags_put {
	const char *stream;
	const struct sp_cat_tag *tags;
	size_t n;
	size_t max;
};

static int
tags_count(struct sp_cat *cat, const char *stream, int64_t *count)
{
	sqlite3_stmt *st;
	int rc = sp_cati_prepare(cat, "SELECT COUNT(*) FROM tags WHERE stream = ?", &st);

	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, stream);
	rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -EIO;
	*count = rc == 0 ? sqlite3_column_int64(st, 0) : 0;
	if (rc != 0) {
		SP_CTL_ERR("catalog %s: counting tags: %s", cat->path, sqlite3_errmsg(cat->db));
	}
	sqlite3_finalize(st);
	return rc;
}

static int
tags_put_step(struct sp_cat *cat, void *arg)
{
	const struct tags_put *p = arg;
	int64_t count = 0;
	int rc = tags_stream_exists(cat, p->stream);

	if (rc == 0) {
		rc = sp_cati_tags_insert(cat, p->stream, p->tags, p->n);
	}
	if (rc == 0) {
		rc = tags_count(cat, p->stream, &count);
	}
	if (rc == 0 && count > (int64_t)p->max) {
		rc = -E2BIG; /* rolled back: the stream keeps the tags it had */
	}
	/* 0, not 1: tags are not in the dataplane's snapshot, catalog_version stays. */
	return rc;
}

int
sp_cat_tags_put(struct sp_cat *cat, const char *stream, const struct sp_cat_tag *tags, size_t n,
		size_t max)
{
	struct tags_put p = {.stream = stream, .tags = tags, .n = n, .max = max};

	SP_VERIFY(cat != NULL && stream != NULL);
	SP_VERIFY(n == 0 || tags != NULL);
	int rc = sp_cati_write(cat, tags_put_step, &p);

	SP_ASSERT(rc <= 0);
	return rc;
}

struct tags_remove {
	const char *stream;
	const char *const *keys;
	size_t n;
};

static int
tags_remove_step(struct sp_cat *cat, void *arg)
{
	const struct tags_remove *p = arg;
	int rc = tags_stream_exists(cat, p->stream);

	if (rc == 0 && p->n > 0) {
		rc = tags_each(cat, "DELETE FROM tags WHERE stream = ?1 AND key = ?2", p->stream,
			       p->n, tags_bind_key, p->keys);
	}
	return rc; /* never a bump, as for tags_put_step */
}

int
sp_cat_tags_remove(struct sp_cat *cat, const char *stream, const char *const *keys, size_t n)
{
	struct tags_remove p = {.stream = stream, .keys = keys, .n = n};

	SP_VERIFY(cat != NULL && stream != NULL);
	SP_VERIFY(n == 0 || keys != NULL);
	int rc = sp_cati_write(cat, tags_remove_step, &p);

	SP_ASSERT(rc <= 0);
	return rc;
}

int
sp_cat_tags_foreach(struct sp_cat *cat, const char *stream, const char *after, sp_cat_tag_fn fn,
		    void *arg)
{
	sqlite3_stmt *st;
	int cb = 0;
	/* BINARY collation: bytewise UTF-8, which is code-point order. */
	int rc = sp_cati_prepare(cat,
				 "SELECT key, value FROM tags WHERE stream = ? AND key > ?"
				 " ORDER BY key",
				 &st);

	SP_VERIFY(stream != NULL && fn != NULL);
	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, stream);
	sp_cati_bind_text(st, 2, after != NULL ? after : "");
	while (cb == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		const char *v = (const char *)sqlite3_column_text(st, 1);

		SP_ASSERT(k != NULL);
		cb = fn(arg, k, v != NULL ? v : "");
	}
	if (cb == 0 && rc != SQLITE_DONE) {
		SP_CTL_ERR("catalog %s: listing tags: %s", cat->path, sqlite3_errmsg(cat->db));
		cb = -EIO;
	}
	sqlite3_finalize(st);
	return cb < 0 ? cb : 0;
}

struct metrics_set {
	const char *name;
	uint32_t metrics;
};

static int
metrics_set_step(struct sp_cat *cat, void *arg)
{
	const struct metrics_set *m = arg;
	sqlite3_stmt *st;
	int rc = sp_cati_prepare(cat, "SELECT shard_metrics FROM streams WHERE name = ?", &st);

	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, m->name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rc = (uint32_t)sqlite3_column_int64(st, 0) != m->metrics ? 1 : 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : -EIO;
	}
	sqlite3_finalize(st);
	if (rc != 1) {
		return rc; /* unchanged (no bump), unknown or failed */
	}
	rc = sp_cati_prepare(cat, "UPDATE streams SET shard_metrics = ?2 WHERE name = ?1", &st);
	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, m->name);
	sqlite3_bind_int64(st, 2, m->metrics);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		SP_CTL_ERR("catalog %s: setting metrics of %s: %s", cat->path, m->name,
			   sqlite3_errmsg(cat->db));
		return -EIO;
	}
	SP_VERIFY(sqlite3_changes(cat->db) == 1); /* read in this same transaction */
	return 1;
}

int
sp_cat_stream_set_metrics(struct sp_cat *cat, const char *name, uint32_t metrics)
{
	struct metrics_set m = {.name = name, .metrics = metrics};

	SP_VERIFY(cat != NULL && name != NULL);
	if ((metrics & ~SP_K_METRIC_ALL) != 0) {
		return -EINVAL;
	}
	int rc = sp_cati_write(cat, metrics_set_step, &m);

	SP_ASSERT(rc <= 1);
	return rc;
}

struct enc_set {
	const char *name;
	const char *encryption;
	const char *key_id;
	int64_t now_ms;
};

/* Set encryption and key_id when they differ, and date an 'encryption' stream event. */
static int
enc_set_step(struct sp_cat *cat, void *arg)
{
	const struct enc_set *e = arg;
	sqlite3_stmt *st;
	int rc = sp_cati_prepare(cat,
				 "SELECT COALESCE(encryption, 'NONE') IS NOT ?2"
				 " OR COALESCE(key_id, '') IS NOT ?3 FROM streams WHERE name = ?1",
				 &st);

	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, e->name);
	sp_cati_bind_text(st, 2, e->encryption);
	sp_cati_bind_text(st, 3, e->key_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rc = sqlite3_column_int64(st, 0) != 0 ? 1 : 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : -EIO;
	}
	sqlite3_finalize(st);
	if (rc != 1) {
		return rc; /* unchanged (no bump, no event), unknown or failed */
	}
	rc = sp_cati_prepare(cat,
			     "UPDATE streams SET encryption = ?2, key_id = NULLIF(?3, '')"
			     " WHERE name = ?1",
			     &st);
	if (rc == 0) {
		sp_cati_bind_text(st, 1, e->name);
		sp_cati_bind_text(st, 2, e->encryption);
		sp_cati_bind_text(st, 3, e->key_id);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(st);
	}
	if (rc == 0) {
		SP_VERIFY(sqlite3_changes(cat->db) == 1); /* read in this same transaction */
		rc = sp_cati_prepare(cat,
				     "INSERT INTO stream_events(stream, kind, at_ms)"
				     " VALUES(?, 'encryption', ?)",
				     &st);
	}
	if (rc == 0) {
		sp_cati_bind_text(st, 1, e->name);
		sqlite3_bind_int64(st, 2, e->now_ms);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
		sqlite3_finalize(st);
	}
	if (rc != 0) {
		SP_CTL_ERR("catalog %s: setting encryption of %s: %s", cat->path, e->name,
			   sqlite3_errmsg(cat->db));
		return -EIO;
	}
	return 1;
}

int
sp_cat_stream_set_encryption(struct sp_cat *cat, const char *name, const char *encryption,
			     const char *key_id, int64_t now_ms)
{
	struct enc_set e = {name, encryption, key_id, now_ms};
	bool kms;

	SP_VERIFY(cat != NULL && name != NULL && encryption != NULL && key_id != NULL);
	kms = strcmp(encryption, "KMS") == 0;
	if ((!kms && strcmp(encryption, "NONE") != 0) || kms != (key_id[0] != '\0') ||
	    strlen(key_id) >= SP_CAT_KEY_ID_MAX_BYTES) {
		return -EINVAL;
	}
	int rc = sp_cati_write(cat, enc_set_step, &e);

	SP_ASSERT(rc <= 1);
	return rc;
}

int
sp_cat_on_demand_count(struct sp_cat *cat, int64_t *count)
{
	sqlite3_stmt *st;
	int rc = sp_cati_prepare(cat, "SELECT COUNT(*) FROM streams WHERE mode = 'ON_DEMAND'", &st);

	SP_VERIFY(cat != NULL && count != NULL);
	if (rc != 0) {
		return rc;
	}
	rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -EIO;
	*count = rc == 0 ? sqlite3_column_int64(st, 0) : 0;
	if (rc != 0) {
		SP_CTL_ERR("catalog %s: counting streams: %s", cat->path, sqlite3_errmsg(cat->db));
	}
	sqlite3_finalize(st);
	SP_ASSERT(*count >= 0);
	return rc;
}
