/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SQLite catalog of streams and shards (<data_dir>/catalog.db).
 *
 * Durability: WAL journal with synchronous=FULL, so a committed change survives power loss,
 * and foreign keys on. The schema is versioned with PRAGMA user_version: g_cat_migrations[i]
 * takes the file from version i to i + 1, each in its own transaction together with the new
 * user_version, so a crash mid-migration leaves the old version intact. A file newer than
 * this build is refused rather than guessed at.
 *
 * Invariant: meta.catalog_version grows by one in the same transaction as every change to
 * streams or shards; a fresh catalog has version 1. Only spate-control's single thread uses
 * the connection.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include <spate/assert.h>

#include "catalog.h"
#include "ctl_log.h"

struct sp_cat {
	sqlite3 *db;
	char *path;
};

/* Migration i: user_version i -> i + 1. Append only; never edit a released entry. */
static const char *const g_cat_migrations[] = {
	/* 0 -> 1: the Kinesis-shaped tables. */
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
	"INSERT INTO meta(key, value) VALUES('catalog_version', '1');"
	"CREATE TABLE streams("
	" name TEXT PRIMARY KEY NOT NULL,"
	" arn TEXT,"
	" status TEXT NOT NULL"
	"  CHECK(status IN ('CREATING','ACTIVE','UPDATING','DELETING')),"
	" mode TEXT,"
	" retention_hours INTEGER,"
	" created_ms INTEGER,"
	" encryption TEXT,"
	" key_id TEXT);"
	"CREATE TABLE shards("
	" stream TEXT NOT NULL,"
	" shard_id TEXT NOT NULL,"
	" starting_hash_key TEXT,"
	" ending_hash_key TEXT,"
	" parent_shard_id TEXT,"
	" adjacent_parent_shard_id TEXT,"
	" starting_seq TEXT,"
	" ending_seq TEXT,"
	" owner_lcore INTEGER,"
	" PRIMARY KEY(stream, shard_id),"
	" FOREIGN KEY(stream) REFERENCES streams(name));",
};

SP_STATIC_ASSERT(SP_ARRAY_SIZE(g_cat_migrations) == SP_CAT_SCHEMA_VERSION,
		 "one migration per schema version");

static int
cat_exec(struct sp_cat *cat, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(cat->db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		SP_CTL_ERR("catalog %s: %s (while running: %.60s)", cat->path,
			   msg != NULL ? msg : sqlite3_errstr(rc), sql);
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int
cat_user_version(struct sp_cat *cat, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(cat->db, "PRAGMA user_version", -1, &st, NULL);

	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		return 0;
	}
	SP_CTL_ERR("catalog %s: reading user_version: %s", cat->path, sqlite3_errmsg(cat->db));
	sqlite3_finalize(st);
	return -EIO;
}

static int
cat_migrate(struct sp_cat *cat)
{
	int64_t ver;
	int rc = cat_user_version(cat, &ver);

	if (rc != 0) {
		return rc;
	}
	if (ver > SP_CAT_SCHEMA_VERSION) {
		SP_CTL_ERR("catalog %s has schema version %lld, newer than this spate-control "
			   "supports (%d); refusing to open it (upgrade spate-control)",
			   cat->path, (long long)ver, SP_CAT_SCHEMA_VERSION);
		return -ENOTSUP;
	}
	if (ver < 0) {
		SP_CTL_ERR("catalog %s has invalid schema version %lld", cat->path,
			   (long long)ver);
		return -EIO;
	}
	for (; ver < SP_CAT_SCHEMA_VERSION; ver++) {
		char bump[64];

		snprintf(bump, sizeof(bump), "PRAGMA user_version = %lld", (long long)ver + 1);
		rc = cat_exec(cat, "BEGIN IMMEDIATE");
		if (rc == 0) {
			rc = cat_exec(cat, g_cat_migrations[ver]);
		}
		if (rc == 0) {
			rc = cat_exec(cat, bump);
		}
		if (rc == 0) {
			rc = cat_exec(cat, "COMMIT");
		}
		if (rc != 0) {
			(void)cat_exec(cat, "ROLLBACK");
			return rc;
		}
		SP_CTL_INFO("catalog %s: migrated schema to version %lld", cat->path,
			    (long long)ver + 1);
	}
	return 0;
}

int
sp_cat_open(const char *path, struct sp_cat **out)
{
	struct sp_cat *cat = calloc(1, sizeof(*cat));
	int rc = -ENOMEM;

	*out = NULL;
	if (cat == NULL) {
		return -ENOMEM;
	}
	cat->path = strdup(path);
	if (cat->path == NULL) {
		goto fail;
	}
	int src = sqlite3_open_v2(path, &cat->db,
				  SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
					  SQLITE_OPEN_NOMUTEX,
				  NULL);

	if (src != SQLITE_OK) {
		SP_CTL_ERR("catalog %s: open: %s", path,
			   cat->db != NULL ? sqlite3_errmsg(cat->db) : sqlite3_errstr(src));
		rc = -EIO;
		goto fail;
	}
	sqlite3_busy_timeout(cat->db, 1000);
	rc = cat_exec(cat, "PRAGMA journal_mode=WAL");
	if (rc == 0) {
		rc = cat_exec(cat, "PRAGMA synchronous=FULL");
	}
	if (rc == 0) {
		rc = cat_exec(cat, "PRAGMA foreign_keys=ON");
	}
	if (rc == 0) {
		rc = cat_migrate(cat);
	}
	if (rc != 0) {
		goto fail;
	}
	*out = cat;
	return 0;
fail:
	sp_cat_close(cat);
	return rc;
}

void
sp_cat_close(struct sp_cat *cat)
{
	if (cat == NULL) {
		return;
	}
	if (cat->db != NULL) {
		int rc = sqlite3_close(cat->db);

		/* Every statement is finalized where it is used; a busy close is a bug. */
		SP_VERIFY(rc == SQLITE_OK);
	}
	free(cat->path);
	free(cat);
}

const char *
sp_cat_path(const struct sp_cat *cat)
{
	return cat->path;
}

static int
cat_query_int(struct sp_cat *cat, const char *sql, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(cat->db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		return 0;
	}
	SP_CTL_ERR("catalog %s: %s: %s", cat->path, sql, sqlite3_errmsg(cat->db));
	sqlite3_finalize(st);
	return -EIO;
}

int
sp_cat_version(struct sp_cat *cat, int64_t *version)
{
	return cat_query_int(cat,
			     "SELECT CAST(value AS INTEGER) FROM meta"
			     " WHERE key = 'catalog_version'",
			     version);
}

int
sp_cat_stream_count(struct sp_cat *cat, int64_t *count)
{
	return cat_query_int(cat, "SELECT COUNT(*) FROM streams", count);
}

static void
cat_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL) {
		sqlite3_bind_null(st, i);
	} else {
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	}
}

/* Map a failed step to our errors. */
static int
cat_step_err(struct sp_cat *cat, int rc, const char *what)
{
	int ext = sqlite3_extended_errcode(cat->db);

	if (ext == SQLITE_CONSTRAINT_PRIMARYKEY && strcmp(what, "stream") == 0) {
		return -EEXIST;
	}
	SP_CTL_WARN("catalog %s: insert %s: %s", cat->path, what, sqlite3_errmsg(cat->db));
	return (rc == SQLITE_CONSTRAINT) ? -EINVAL : -EIO;
}

static int
cat_insert_rows(struct sp_cat *cat, const struct sp_cat_stream *s,
		const struct sp_cat_shard *shards, size_t n_shards)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(cat->db,
				    "INSERT INTO streams(name, arn, status, mode, retention_hours,"
				    " created_ms, encryption, key_id) VALUES(?,?,?,?,?,?,?,?)",
				    -1, &st, NULL);

	if (rc != SQLITE_OK) {
		return cat_step_err(cat, rc, "prepare");
	}
	cat_bind_text(st, 1, s->name);
	cat_bind_text(st, 2, s->arn);
	cat_bind_text(st, 3, s->status);
	cat_bind_text(st, 4, s->mode);
	sqlite3_bind_int64(st, 5, s->retention_hours);
	sqlite3_bind_int64(st, 6, s->created_ms);
	cat_bind_text(st, 7, s->encryption);
	cat_bind_text(st, 8, s->key_id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		return cat_step_err(cat, rc, "stream");
	}
	rc = sqlite3_prepare_v2(cat->db,
				"INSERT INTO shards(stream, shard_id, starting_hash_key,"
				" ending_hash_key, parent_shard_id, adjacent_parent_shard_id,"
				" starting_seq, ending_seq, owner_lcore) VALUES(?,?,?,?,?,?,?,?,?)",
				-1, &st, NULL);
	if (rc != SQLITE_OK) {
		return cat_step_err(cat, rc, "prepare");
	}
	for (size_t i = 0; i < n_shards; i++) {
		const struct sp_cat_shard *sh = &shards[i];

		sqlite3_reset(st);
		cat_bind_text(st, 1, s->name);
		cat_bind_text(st, 2, sh->shard_id);
		cat_bind_text(st, 3, sh->starting_hash_key);
		cat_bind_text(st, 4, sh->ending_hash_key);
		cat_bind_text(st, 5, sh->parent_shard_id);
		cat_bind_text(st, 6, sh->adjacent_parent_shard_id);
		cat_bind_text(st, 7, sh->starting_seq);
		cat_bind_text(st, 8, sh->ending_seq);
		sqlite3_bind_int(st, 9, sh->owner_lcore);
		rc = sqlite3_step(st);
		if (rc != SQLITE_DONE) {
			int err = cat_step_err(cat, rc, "shard");

			sqlite3_finalize(st);
			return err;
		}
	}
	sqlite3_finalize(st);
	return 0;
}

int
sp_cat_stream_insert(struct sp_cat *cat, const struct sp_cat_stream *st,
		     const struct sp_cat_shard *shards, size_t n_shards)
{
	SP_VERIFY(cat != NULL && st != NULL);
	SP_VERIFY(n_shards == 0 || shards != NULL);
	if (st->name == NULL || st->status == NULL) {
		return -EINVAL;
	}
	int rc = cat_exec(cat, "BEGIN IMMEDIATE");

	if (rc != 0) {
		return rc;
	}
	rc = cat_insert_rows(cat, st, shards, n_shards);
	if (rc == 0) {
		rc = cat_exec(cat, "UPDATE meta SET value = CAST(value AS INTEGER) + 1"
				   " WHERE key = 'catalog_version'");
	}
	if (rc == 0) {
		rc = cat_exec(cat, "COMMIT");
	}
	if (rc != 0) {
		(void)cat_exec(cat, "ROLLBACK");
	}
	return rc;
}

/* Column i of the current row as JSON: text, integer or null. */
static json_t *
cat_col_json(sqlite3_stmt *st, int i)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_NULL:
		return json_null();
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(st, i));
	default: {
		const unsigned char *t = sqlite3_column_text(st, i);
		int n = sqlite3_column_bytes(st, i);

		/* NULL from jansson means invalid UTF-8; the member is then left out. */
		return t != NULL ? json_stringn((const char *)t, (size_t)n) : json_null();
	}
	}
}

/* Build an array of objects, one per row of sql, members named by the result columns. */
static int
cat_rows_json(struct sp_cat *cat, const char *sql, const char *bind, json_t **out)
{
	sqlite3_stmt *st = NULL;
	json_t *arr = json_array();
	int rc;

	*out = NULL;
	if (arr == NULL) {
		return -ENOMEM;
	}
	if (sqlite3_prepare_v2(cat->db, sql, -1, &st, NULL) != SQLITE_OK) {
		goto fail;
	}
	if (bind != NULL) {
		sqlite3_bind_text(st, 1, bind, -1, SQLITE_STATIC);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *row = json_object();

		if (row == NULL || json_array_append_new(arr, row) != 0) {
			sqlite3_finalize(st);
			json_decref(arr);
			return -ENOMEM;
		}
		for (int i = 0; i < sqlite3_column_count(st); i++) {
			json_object_set_new(row, sqlite3_column_name(st, i), cat_col_json(st, i));
		}
	}
	if (rc != SQLITE_DONE) {
		goto fail;
	}
	sqlite3_finalize(st);
	*out = arr;
	return 0;
fail:
	SP_CTL_ERR("catalog %s: snapshot: %s", cat->path, sqlite3_errmsg(cat->db));
	sqlite3_finalize(st);
	json_decref(arr);
	return -EIO;
}

static int
cat_snapshot_locked(struct sp_cat *cat, json_t *snap)
{
	int64_t ver;
	json_t *streams;
	size_t i;
	json_t *s;
	int rc = sp_cat_version(cat, &ver);

	if (rc == 0) {
		rc = cat_rows_json(cat,
				   "SELECT name, arn, status, mode, retention_hours, created_ms,"
				   " encryption, key_id FROM streams ORDER BY name",
				   NULL, &streams);
	}
	if (rc != 0) {
		return rc;
	}
	json_object_set_new(snap, "catalog_version", json_integer(ver));
	json_object_set_new(snap, "streams", streams);
	json_array_foreach(streams, i, s) {
		json_t *shards;
		const char *name = json_string_value(json_object_get(s, "name"));

		rc = cat_rows_json(cat,
				   "SELECT shard_id, starting_hash_key, ending_hash_key,"
				   " parent_shard_id, adjacent_parent_shard_id, starting_seq,"
				   " ending_seq, owner_lcore FROM shards WHERE stream = ?"
				   " ORDER BY shard_id",
				   name != NULL ? name : "", &shards);
		if (rc != 0) {
			return rc;
		}
		json_object_set_new(s, "shards", shards);
	}
	return 0;
}

int
sp_cat_snapshot_json(struct sp_cat *cat, json_t **out)
{
	json_t *snap = json_object();
	int rc;

	*out = NULL;
	if (snap == NULL) {
		return -ENOMEM;
	}
	/* One read transaction: version, streams and shards describe the same state. */
	rc = cat_exec(cat, "BEGIN");
	if (rc == 0) {
		rc = cat_snapshot_locked(cat, snap);
		int end = cat_exec(cat, rc == 0 ? "COMMIT" : "ROLLBACK");

		if (rc == 0) {
			rc = end;
		}
	}
	if (rc != 0) {
		json_decref(snap);
		return rc;
	}
	*out = snap;
	return 0;
}
