/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SQLite catalog of streams and shards (<data_dir>/catalog.db).
 *
 * Durability: WAL journal with synchronous=FULL, so a committed change survives power loss,
 * and foreign keys on. The schema is versioned with PRAGMA user_version: g_cat_migrations[i]
 * takes the file from version i to i + 1, each in its own transaction together with the new
 * user_version (and the step's C fix-up, if any), so a crash mid-migration leaves the old
 * version intact. A file newer than this build is refused rather than guessed at.
 *
 * Invariants: meta.catalog_version grows by one in the same transaction as every change to
 * streams, shards, their past owners or consumers, and never otherwise; a fresh catalog has
 * version 1.
 * meta.epoch only grows (sp_cat_epoch_next()). A stream's next_shard_index is above every
 * index it ever used, so shard ids are not reused within one incarnation of a stream. Only
 * spate-control's single thread uses the connection; every statement is finalized where it is
 * prepared.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sqlite3.h>

#include <spate/assert.h>
#include <spate/seqno.h>

#include "catalog.h"
#include "catalog_internal.h"
#include "ctl_log.h"


/* One schema step: SQL, then an optional fix-up in C inside the same transaction. */
struct cat_migration {
	const char *sql;
	int (*fixup)(struct sp_cat *cat);
};

static int cat_fixup_v2(struct sp_cat *cat);

/* Migration i: user_version i -> i + 1. Append only; never edit a released entry. */
static const struct cat_migration g_cat_migrations[] = {
	/* 0 -> 1: the Kinesis-shaped tables. */
	{"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
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
	 NULL},
	/*
	 * 1 -> 2: Kinesis control operations. Stream settings the dataplane enforces, lifecycle
	 * versions, shard indices and times, the boot epoch and the token key. The fix-up
	 * computes stream tags, which SQL cannot.
	 */
	{"ALTER TABLE streams ADD COLUMN stream_tag INTEGER NOT NULL DEFAULT 0;"
	 "ALTER TABLE streams ADD COLUMN max_record_bytes INTEGER NOT NULL DEFAULT 1048576;"
	 "ALTER TABLE streams ADD COLUMN quota_records_per_s INTEGER NOT NULL DEFAULT 0;"
	 "ALTER TABLE streams ADD COLUMN quota_bytes_per_s INTEGER NOT NULL DEFAULT 0;"
	 "ALTER TABLE streams ADD COLUMN next_shard_index INTEGER NOT NULL DEFAULT 0;"
	 "ALTER TABLE streams ADD COLUMN create_version INTEGER NOT NULL DEFAULT 0;"
	 "ALTER TABLE streams ADD COLUMN delete_version INTEGER NOT NULL DEFAULT 0;"
	 "ALTER TABLE shards ADD COLUMN shard_index INTEGER NOT NULL DEFAULT 0;"
	 "ALTER TABLE shards ADD COLUMN created_ms INTEGER NOT NULL DEFAULT 0;"
	 "ALTER TABLE shards ADD COLUMN closed_ms INTEGER;"
	 "UPDATE shards SET shard_index = CAST(substr(shard_id, 9) AS INTEGER)"
	 " WHERE shard_id GLOB 'shardId-[0-9]*';"
	 "UPDATE shards SET created_ms = COALESCE((SELECT created_ms FROM streams"
	 " WHERE streams.name = shards.stream), 0);"
	 "UPDATE streams SET next_shard_index = COALESCE((SELECT MAX(shard_index) + 1"
	 " FROM shards WHERE shards.stream = streams.name), 0);"
	 "CREATE INDEX shards_by_index ON shards(stream, shard_index);"
	 "INSERT INTO meta(key, value) VALUES('epoch', '0');"
	 "INSERT INTO meta(key, value) VALUES('token_key', lower(hex(randomblob(32))));",
	 cat_fixup_v2},
	/*
	 * 2 -> 3: stream administration. Reshards in progress (one per stream: the persisted
	 * state machine of SplitShard, MergeShards and UpdateShardCount), tags, shard-level
	 * metrics (a bit set of SP_K_METRIC_*), and dated events for the per-stream rolling
	 * limits (UpdateShardCount, mode switches, encryption changes).
	 */
	{"ALTER TABLE streams ADD COLUMN shard_metrics INTEGER NOT NULL DEFAULT 0;"
	 "CREATE TABLE reshards("
	 " stream TEXT PRIMARY KEY NOT NULL REFERENCES streams(name),"
	 " op TEXT NOT NULL CHECK(op IN ('split','merge','scale')),"
	 " arg1 TEXT NOT NULL,"
	 " arg2 TEXT NOT NULL,"
	 " step TEXT NOT NULL CHECK(step IN ('pending','switched')),"
	 " step_version INTEGER NOT NULL,"
	 " started_ms INTEGER NOT NULL);"
	 "CREATE TABLE tags("
	 " stream TEXT NOT NULL REFERENCES streams(name),"
	 " key TEXT NOT NULL,"
	 " value TEXT NOT NULL,"
	 " PRIMARY KEY(stream, key));"
	 "CREATE TABLE stream_events("
	 " stream TEXT NOT NULL REFERENCES streams(name),"
	 " kind TEXT NOT NULL,"
	 " at_ms INTEGER NOT NULL);"
	 "CREATE INDEX stream_events_by_kind ON stream_events(stream, kind, at_ms);",
	 NULL},
	/*
	 * 3 -> 4: moving shards between workers. Past owners of a shard: workers that held it
	 * before a move (until until_ms) and may still keep records of it in their own store;
	 * version is the catalog_version of the move (catalog_owners.c).
	 */
	{"CREATE TABLE shard_owners("
	 " stream TEXT NOT NULL REFERENCES streams(name),"
	 " shard_index INTEGER NOT NULL,"
	 " owner INTEGER NOT NULL CHECK(owner >= 0),"
	 " until_ms INTEGER NOT NULL,"
	 " version INTEGER NOT NULL,"
	 " PRIMARY KEY(stream, shard_index, owner));",
	 NULL},
	/*
	 * 4 -> 5: enhanced fan-out consumers (catalog_consumers.c). due_ms is when a CREATING
	 * consumer becomes ACTIVE or a DELETING one goes (0 while ACTIVE); tags of a consumer
	 * are keyed by its ARN, which is unique.
	 */
	{"CREATE TABLE consumers("
	 " stream TEXT NOT NULL REFERENCES streams(name),"
	 " name TEXT NOT NULL,"
	 " arn TEXT NOT NULL UNIQUE,"
	 " status TEXT NOT NULL CHECK(status IN ('CREATING','ACTIVE','DELETING')),"
	 " created_ms INTEGER NOT NULL,"
	 " due_ms INTEGER NOT NULL,"
	 " PRIMARY KEY(stream, name));"
	 "CREATE INDEX consumers_by_due ON consumers(status, due_ms);"
	 "CREATE TABLE consumer_tags("
	 " arn TEXT NOT NULL REFERENCES consumers(arn),"
	 " key TEXT NOT NULL,"
	 " value TEXT NOT NULL,"
	 " PRIMARY KEY(arn, key));",
	 NULL},
};

SP_STATIC_ASSERT(SP_ARRAY_SIZE(g_cat_migrations) == SP_CAT_SCHEMA_VERSION,
		 "one migration per schema version");
/* Migration 1 -> 2 spells the quota defaults as the literal 0 (off). */
SP_STATIC_ASSERT(SP_CAT_QUOTA_RECORDS_PER_S_DEFAULT == 0 && SP_CAT_QUOTA_BYTES_PER_S_DEFAULT == 0,
		 "quota column defaults of migration 1 -> 2");

int
sp_cati_exec(struct sp_cat *cat, const char *sql)
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

int
sp_cati_prepare(struct sp_cat *cat, const char *sql, sqlite3_stmt **st)
{
	*st = NULL;
	if (sqlite3_prepare_v2(cat->db, sql, -1, st, NULL) != SQLITE_OK) {
		SP_CTL_ERR("catalog %s: prepare %.60s: %s", cat->path, sql,
			   sqlite3_errmsg(cat->db));
		sqlite3_finalize(*st);
		*st = NULL;
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

/* v2 fix-up: every existing stream gets the tag of its name and creation time. */
static int
cat_fixup_v2(struct sp_cat *cat)
{
	sqlite3_stmt *sel, *upd;
	int rc = sp_cati_prepare(cat, "SELECT name, COALESCE(created_ms, 0) FROM streams", &sel);

	if (rc != 0) {
		return rc;
	}
	rc = sp_cati_prepare(cat, "UPDATE streams SET stream_tag = ? WHERE name = ?", &upd);
	if (rc != 0) {
		sqlite3_finalize(sel);
		return rc;
	}
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(sel, 0);
		size_t len = (size_t)sqlite3_column_bytes(sel, 0);
		uint32_t tag = sp_seqno_stream_tag(name != NULL ? name : "", len,
						   sqlite3_column_int64(sel, 1));

		sqlite3_reset(upd);
		sqlite3_bind_int64(upd, 1, tag);
		sqlite3_bind_text(upd, 2, name != NULL ? name : "", (int)len, SQLITE_TRANSIENT);
		if (sqlite3_step(upd) != SQLITE_DONE) {
			break;
		}
	}
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int
cat_migrate_step(struct sp_cat *cat, int64_t ver)
{
	const struct cat_migration *m = &g_cat_migrations[ver];
	char bump[64];
	int rc;

	SP_VERIFY(ver >= 0 && ver < SP_CAT_SCHEMA_VERSION);
	snprintf(bump, sizeof(bump), "PRAGMA user_version = %lld", (long long)ver + 1);
	rc = sp_cati_exec(cat, "BEGIN IMMEDIATE");
	if (rc == 0) {
		rc = sp_cati_exec(cat, m->sql);
	}
	if (rc == 0 && m->fixup != NULL) {
		rc = m->fixup(cat);
	}
	if (rc == 0) {
		rc = sp_cati_exec(cat, bump);
	}
	if (rc == 0) {
		rc = sp_cati_exec(cat, "COMMIT");
	}
	if (rc != 0) {
		(void)sp_cati_exec(cat, "ROLLBACK");
		return rc;
	}
	SP_CTL_INFO("catalog %s: migrated schema to version %lld", cat->path, (long long)ver + 1);
	return 0;
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
		rc = cat_migrate_step(cat, ver);
		if (rc != 0) {
			return rc;
		}
	}
	return 0;
}

static int
cat_hexval(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	return -1;
}

/* Load meta.token_key (64 lower-case hex digits) into cat->token_key. */
static int
cat_load_token_key(struct sp_cat *cat)
{
	sqlite3_stmt *st;
	int rc = sp_cati_prepare(cat, "SELECT value FROM meta WHERE key = 'token_key'", &st);

	if (rc != 0) {
		return rc;
	}
	rc = -EIO;
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_bytes(st, 0) == 2 * SP_CAT_TOKEN_KEY_BYTES) {
		const char *hex = (const char *)sqlite3_column_text(st, 0);

		rc = 0;
		for (size_t i = 0; i < SP_CAT_TOKEN_KEY_BYTES; i++) {
			int hi = cat_hexval(hex[2 * i]);
			int lo = cat_hexval(hex[2 * i + 1]);

			if (hi < 0 || lo < 0) {
				rc = -EIO;
				break;
			}
			cat->token_key[i] = (uint8_t)(hi << 4 | lo);
		}
	}
	sqlite3_finalize(st);
	if (rc != 0) {
		SP_CTL_ERR("catalog %s: token key missing or malformed", cat->path);
	}
	return rc;
}

static int
cat_configure(struct sp_cat *cat)
{
	int rc;

	sqlite3_busy_timeout(cat->db, 1000);
	rc = sp_cati_exec(cat, "PRAGMA journal_mode=WAL");
	if (rc == 0) {
		rc = sp_cati_exec(cat, "PRAGMA synchronous=FULL");
	}
	if (rc == 0) {
		rc = sp_cati_exec(cat, "PRAGMA foreign_keys=ON");
	}
	if (rc == 0) {
		rc = cat_migrate(cat);
	}
	if (rc == 0) {
		rc = cat_load_token_key(cat);
	}
	return rc;
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
	rc = cat_configure(cat);
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

const uint8_t *
sp_cat_token_key(const struct sp_cat *cat)
{
	SP_VERIFY(cat != NULL);
	return cat->token_key;
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

int
sp_cat_quota_counts(struct sp_cat *cat, int64_t *open_shards, int64_t *creating_streams)
{
	int rc = cat_query_int(cat, "SELECT COUNT(*) FROM shards WHERE ending_seq IS NULL",
			       open_shards);

	if (rc == 0) {
		rc = cat_query_int(cat, "SELECT COUNT(*) FROM streams WHERE status = 'CREATING'",
				   creating_streams);
	}
	return rc;
}

int
sp_cat_epoch(struct sp_cat *cat, uint32_t *epoch)
{
	int64_t v = 0;
	int rc = cat_query_int(cat, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'epoch'",
			       &v);

	SP_VERIFY(epoch != NULL);
	if (rc == 0 && (v < 0 || v > SP_SEQNO_EPOCH_MAX)) {
		SP_CTL_ERR("catalog %s: epoch %lld out of range", cat->path, (long long)v);
		rc = -EIO;
	}
	*epoch = rc == 0 ? (uint32_t)v : 0;
	return rc;
}

/*
 * Run fn inside one write transaction. fn returns < 0 (error: roll back), 0 (nothing changed)
 * or > 0 (changed: catalog_version is bumped in the same transaction). Returns fn's value or
 * -EIO.
 */
int
sp_cati_write(struct sp_cat *cat, int (*fn)(struct sp_cat *cat, void *arg), void *arg)
{
	int rc = sp_cati_exec(cat, "BEGIN IMMEDIATE");
	int res;

	if (rc != 0) {
		return rc;
	}
	res = fn(cat, arg);
	rc = res < 0 ? res : 0;
	if (res > 0) {
		rc = sp_cati_exec(cat, CAT_BUMP_SQL);
	}
	if (rc == 0) {
		rc = sp_cati_exec(cat, "COMMIT");
	}
	if (rc != 0) {
		(void)sp_cati_exec(cat, "ROLLBACK");
		return rc;
	}
	return res;
}

static int
cat_epoch_step(struct sp_cat *cat, void *arg)
{
	uint32_t *epoch = arg;
	uint32_t cur;
	int rc = sp_cat_epoch(cat, &cur);

	if (rc != 0) {
		return rc;
	}
	if (cur >= SP_SEQNO_EPOCH_MAX) {
		return -EOVERFLOW;
	}
	rc = sp_cati_exec(cat, "UPDATE meta SET value = CAST(value AS INTEGER) + 1"
			   " WHERE key = 'epoch'");
	*epoch = cur + 1;
	/* 0, not 1: the epoch is not catalog content, catalog_version stays. */
	return rc;
}

int
sp_cat_epoch_next(struct sp_cat *cat, uint32_t *epoch)
{
	uint32_t e = 0;
	int rc;

	SP_VERIFY(cat != NULL && epoch != NULL);
	rc = sp_cati_write(cat, cat_epoch_step, &e);
	if (rc == -EOVERFLOW) {
		SP_CTL_ERR("catalog %s: boot epoch exhausted (%u boots)", cat->path,
			   SP_SEQNO_EPOCH_MAX);
	}
	if (rc == 0) {
		*epoch = e;
	}
	return rc;
}

void
sp_cati_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL) {
		sqlite3_bind_null(st, i);
	} else {
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	}
}

/* Map a failed step to our errors. */
int
sp_cati_step_err(struct sp_cat *cat, int rc, const char *what)
{
	int ext = sqlite3_extended_errcode(cat->db);

	if (ext == SQLITE_CONSTRAINT_PRIMARYKEY && strcmp(what, "stream") == 0) {
		return -EEXIST;
	}
	SP_CTL_WARN("catalog %s: insert %s: %s", cat->path, what, sqlite3_errmsg(cat->db));
	return (rc == SQLITE_CONSTRAINT) ? -EINVAL : -EIO;
}

/* The N of "shardId-N" (digits only, at most 12 of them), or fallback. */
static int64_t
cat_shard_index(const struct sp_cat_shard *sh)
{
	const char *p = sh->shard_id;
	int64_t v = 0;
	size_t n = 0;

	if (p == NULL || strncmp(p, "shardId-", 8) != 0) {
		return sh->index;
	}
	for (p += 8; *p >= '0' && *p <= '9' && n < 12; p++, n++) {
		v = v * 10 + (*p - '0');
	}
	return (n > 0 && *p == '\0') ? v : sh->index;
}

static int64_t
cat_or(int64_t v, int64_t dflt)
{
	return v > 0 ? v : dflt;
}

struct cat_insert {
	const struct sp_cat_stream *s;
	const struct sp_cat_shard *shards;
	size_t n_shards;
};

static int
cat_insert_stream_row(struct sp_cat *cat, const struct cat_insert *in, int64_t next_index)
{
	const struct sp_cat_stream *s = in->s;
	int64_t ver;
	sqlite3_stmt *st;
	int rc = sp_cat_version(cat, &ver);

	if (rc == 0) {
		rc = sp_cati_prepare(cat,
				 "INSERT INTO streams(name, arn, status, mode, retention_hours,"
				 " created_ms, encryption, key_id, stream_tag, max_record_bytes,"
				 " quota_records_per_s, quota_bytes_per_s, next_shard_index,"
				 " create_version) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
				 &st);
	}
	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, s->name);
	sp_cati_bind_text(st, 2, s->arn);
	sp_cati_bind_text(st, 3, s->status);
	sp_cati_bind_text(st, 4, s->mode);
	sqlite3_bind_int64(st, 5, s->retention_hours);
	sqlite3_bind_int64(st, 6, s->created_ms);
	sp_cati_bind_text(st, 7, s->encryption);
	sp_cati_bind_text(st, 8, s->key_id);
	sqlite3_bind_int64(st, 9, sp_seqno_stream_tag(s->name, strlen(s->name), s->created_ms));
	sqlite3_bind_int64(st, 10, cat_or(s->max_record_bytes, SP_K_RECORD_MAX_BYTES_DEFAULT));
	sqlite3_bind_int64(st, 11,
			   cat_or(s->quota_records_per_s, SP_CAT_QUOTA_RECORDS_PER_S_DEFAULT));
	sqlite3_bind_int64(st, 12, cat_or(s->quota_bytes_per_s, SP_CAT_QUOTA_BYTES_PER_S_DEFAULT));
	sqlite3_bind_int64(st, 13, next_index);
	sqlite3_bind_int64(st, 14, ver + 1); /* the version this transaction commits */
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sp_cati_step_err(cat, rc, "stream");
}

int
sp_cati_insert_shards(struct sp_cat *cat, const char *stream, const struct sp_cat_shard *shards,
		      size_t n, int64_t created_ms)
{
	sqlite3_stmt *st;
	int rc = sp_cati_prepare(cat,
				 "INSERT INTO shards(stream, shard_id, starting_hash_key,"
				 " ending_hash_key, parent_shard_id, adjacent_parent_shard_id,"
				 " starting_seq, ending_seq, owner_lcore, shard_index, created_ms,"
				 " closed_ms) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
				 &st);

	if (rc != 0) {
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		const struct sp_cat_shard *sh = &shards[i];

		sqlite3_reset(st);
		sp_cati_bind_text(st, 1, stream);
		sp_cati_bind_text(st, 2, sh->shard_id);
		sp_cati_bind_text(st, 3, sh->starting_hash_key);
		sp_cati_bind_text(st, 4, sh->ending_hash_key);
		sp_cati_bind_text(st, 5, sh->parent_shard_id);
		sp_cati_bind_text(st, 6, sh->adjacent_parent_shard_id);
		sp_cati_bind_text(st, 7, sh->starting_seq);
		sp_cati_bind_text(st, 8, sh->ending_seq);
		sqlite3_bind_int(st, 9, sh->owner_lcore);
		sqlite3_bind_int64(st, 10, cat_shard_index(sh));
		sqlite3_bind_int64(st, 11, created_ms);
		if (sh->ending_seq != NULL) {
			sqlite3_bind_int64(st, 12, created_ms); /* closed at birth */
		} else {
			sqlite3_bind_null(st, 12);
		}
		rc = sqlite3_step(st);
		if (rc != SQLITE_DONE) {
			int err = sp_cati_step_err(cat, rc, "shard");

			sqlite3_finalize(st);
			return err;
		}
	}
	sqlite3_finalize(st);
	return 0;
}

static int
cat_insert_rows(struct sp_cat *cat, void *arg)
{
	const struct cat_insert *in = arg;
	int64_t next_index = 0;
	int rc;

	for (size_t i = 0; i < in->n_shards; i++) {
		next_index = SP_MAX(next_index, cat_shard_index(&in->shards[i]) + 1);
	}
	rc = cat_insert_stream_row(cat, in, next_index);
	if (rc == 0) {
		rc = sp_cati_insert_shards(cat, in->s->name, in->shards, in->n_shards,
					   in->s->created_ms);
	}
	if (rc == 0) {
		rc = sp_cati_tags_insert(cat, in->s->name, in->s->tags, in->s->n_tags);
	}
	return rc < 0 ? rc : 1;
}

int
sp_cat_stream_insert(struct sp_cat *cat, const struct sp_cat_stream *st,
		     const struct sp_cat_shard *shards, size_t n_shards)
{
	struct cat_insert in = {.s = st, .shards = shards, .n_shards = n_shards};

	SP_VERIFY(cat != NULL && st != NULL);
	SP_VERIFY(n_shards == 0 || shards != NULL);
	SP_VERIFY(st->n_tags == 0 || st->tags != NULL);
	SP_VERIFY(st->quota_records_per_s <= SP_CAT_QUOTA_MAX &&
		  st->quota_bytes_per_s <= SP_CAT_QUOTA_MAX);
	if (st->name == NULL || st->status == NULL) {
		return -EINVAL;
	}
	int rc = sp_cati_write(cat, cat_insert_rows, &in);

	return rc < 0 ? rc : 0;
}

/*
 * A change of some settings of one stream (quota, retention): the SELECT tells whether the
 * stored values differ from ?2.. (so an unchanged value does not bump the version), the
 * UPDATE writes them; both bind the stream name as ?1.
 */
struct cat_setting {
	const char *name;
	const char *what; /* for logs */
	const char *differs_sql;
	const char *update_sql;
	unsigned nvals;
	int64_t vals[2];
};

static void
cat_bind_setting(sqlite3_stmt *st, const struct cat_setting *s)
{
	sp_cati_bind_text(st, 1, s->name);
	for (unsigned i = 0; i < s->nvals; i++) {
		sqlite3_bind_int64(st, (int)i + 2, s->vals[i]);
	}
}

/* 1 when the stream's stored values differ, 0 when they match, -ENOENT or -EIO. */
static int
cat_setting_differs(struct sp_cat *cat, const struct cat_setting *s)
{
	sqlite3_stmt *st;
	int rc = sp_cati_prepare(cat, s->differs_sql, &st);

	if (rc != 0) {
		return rc;
	}
	cat_bind_setting(st, s);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rc = sqlite3_column_int(st, 0) != 0 ? 1 : 0;
	} else if (rc == SQLITE_DONE) {
		rc = -ENOENT;
	} else {
		SP_CTL_ERR("catalog %s: reading %s: %s", cat->path, s->what,
			   sqlite3_errmsg(cat->db));
		rc = -EIO;
	}
	sqlite3_finalize(st);
	return rc;
}

static int
cat_set_setting_step(struct sp_cat *cat, void *arg)
{
	const struct cat_setting *s = arg;
	sqlite3_stmt *st;
	int rc = cat_setting_differs(cat, s);

	if (rc <= 0) {
		return rc; /* unchanged (no bump), unknown or failed */
	}
	rc = sp_cati_prepare(cat, s->update_sql, &st);
	if (rc != 0) {
		return rc;
	}
	cat_bind_setting(st, s);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		SP_CTL_ERR("catalog %s: setting %s of %s: %s", cat->path, s->what, s->name,
			   sqlite3_errmsg(cat->db));
		return -EIO;
	}
	/* The row was read in this same write transaction: it is still there. */
	SP_VERIFY(sqlite3_changes(cat->db) == 1);
	return 1;
}

/* Apply s in one write transaction (bumping the version only on a change). */
static int
cat_set_setting(struct sp_cat *cat, const struct cat_setting *s)
{
	int rc;

	SP_VERIFY(cat != NULL && s->name != NULL && s->nvals <= SP_ARRAY_SIZE(s->vals));
	rc = sp_cati_write(cat, cat_set_setting_step, (void *)s);
	SP_VERIFY(rc <= 1);
	return rc;
}

int
sp_cat_stream_set_quota(struct sp_cat *cat, const char *name, int64_t records_per_s,
			int64_t bytes_per_s)
{
	struct cat_setting s = {
	    .name = name,
	    .what = "quotas",
	    .differs_sql = "SELECT quota_records_per_s != ?2 OR quota_bytes_per_s != ?3"
			   " FROM streams WHERE name = ?1",
	    .update_sql = "UPDATE streams SET quota_records_per_s = ?2, quota_bytes_per_s = ?3"
			  " WHERE name = ?1",
	    .nvals = 2,
	    .vals = {records_per_s, bytes_per_s},
	};

	if (records_per_s < 0 || records_per_s > SP_CAT_QUOTA_MAX || bytes_per_s < 0 ||
	    bytes_per_s > SP_CAT_QUOTA_MAX) {
		return -EINVAL;
	}
	return cat_set_setting(cat, &s);
}

int
sp_cat_stream_set_retention(struct sp_cat *cat, const char *name, int64_t hours)
{
	struct cat_setting s = {
	    .name = name,
	    .what = "retention",
	    .differs_sql = "SELECT retention_hours IS NOT ?2 FROM streams WHERE name = ?1",
	    .update_sql = "UPDATE streams SET retention_hours = ?2 WHERE name = ?1",
	    .nvals = 1,
	    .vals = {hours},
	};

	if (hours < SP_K_RETENTION_HOURS_MIN || hours > SP_K_RETENTION_HOURS_MAX) {
		return -EINVAL;
	}
	return cat_set_setting(cat, &s);
}

int
sp_cat_stream_set_max_record(struct sp_cat *cat, const char *name, int64_t bytes)
{
	struct cat_setting s = {
	    .name = name,
	    .what = "max record size",
	    .differs_sql = "SELECT max_record_bytes IS NOT ?2 FROM streams WHERE name = ?1",
	    .update_sql = "UPDATE streams SET max_record_bytes = ?2 WHERE name = ?1",
	    .nvals = 1,
	    .vals = {bytes},
	};

	/* The default (1 MiB) is also the smallest size a stream may be given. */
	if (bytes < SP_K_RECORD_MAX_BYTES_DEFAULT || bytes > SP_K_RECORD_MAX_BYTES_LIMIT) {
		return -EINVAL;
	}
	return cat_set_setting(cat, &s);
}

static void
cat_copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(dst, cap, "%s", t != NULL ? (const char *)t : "");
}

void
sp_cati_read_stream(sqlite3_stmt *st, struct sp_cat_stream_row *r)
{
	memset(r, 0, sizeof(*r));
	cat_copy_col(r->name, sizeof(r->name), st, 0);
	cat_copy_col(r->arn, sizeof(r->arn), st, 1);
	cat_copy_col(r->status, sizeof(r->status), st, 2);
	cat_copy_col(r->mode, sizeof(r->mode), st, 3);
	r->retention_hours = sqlite3_column_int64(st, 4);
	r->created_ms = sqlite3_column_int64(st, 5);
	cat_copy_col(r->encryption, sizeof(r->encryption), st, 6);
	cat_copy_col(r->key_id, sizeof(r->key_id), st, 7);
	r->max_record_bytes = sqlite3_column_int64(st, 8);
	r->quota_records_per_s = sqlite3_column_int64(st, 9);
	r->quota_bytes_per_s = sqlite3_column_int64(st, 10);
	r->next_shard_index = sqlite3_column_int64(st, 11);
	r->create_version = sqlite3_column_int64(st, 12);
	r->delete_version = sqlite3_column_int64(st, 13);
	r->stream_tag = (uint32_t)sqlite3_column_int64(st, 14);
	r->shard_metrics = (uint32_t)sqlite3_column_int64(st, 15);
	r->open_shards = sqlite3_column_int64(st, 16);
}

int
sp_cat_stream_get(struct sp_cat *cat, const char *name, struct sp_cat_stream_row *out)
{
	sqlite3_stmt *st;
	int rc = sp_cati_prepare(cat,
			     "SELECT " CAT_STREAM_COLS CAT_OPEN_SHARDS_COL " FROM streams"
			     " WHERE name = ?",
			     &st);

	SP_VERIFY(name != NULL && out != NULL);
	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		sp_cati_read_stream(st, out);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = -ENOENT;
	} else {
		SP_CTL_ERR("catalog %s: reading stream: %s", cat->path, sqlite3_errmsg(cat->db));
		rc = -EIO;
	}
	sqlite3_finalize(st);
	return rc;
}

int
sp_cat_stream_foreach(struct sp_cat *cat, const char *after, sp_cat_stream_fn fn, void *arg)
{
	struct sp_cat_stream_row *row = malloc(sizeof(*row));
	sqlite3_stmt *st;
	int rc;

	SP_VERIFY(fn != NULL);
	if (row == NULL) {
		return -ENOMEM;
	}
	/* BINARY collation: bytewise order, as Kinesis lists names. */
	rc = sp_cati_prepare(cat,
			 "SELECT " CAT_STREAM_COLS CAT_NO_OPEN_SHARDS_COL " FROM streams"
			 " WHERE name > ? ORDER BY name",
			 &st);
	if (rc != 0) {
		free(row);
		return rc;
	}
	sp_cati_bind_text(st, 1, after != NULL ? after : "");
	int cb = 0;

	while (cb == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		sp_cati_read_stream(st, row);
		cb = fn(arg, row);
	}
	if (cb == 0 && rc != SQLITE_DONE) {
		SP_CTL_ERR("catalog %s: listing streams: %s", cat->path, sqlite3_errmsg(cat->db));
		cb = -EIO;
	}
	sqlite3_finalize(st);
	free(row);
	return cb < 0 ? cb : 0;
}

static const char *
cat_text_or_null(sqlite3_stmt *st, int col)
{
	return sqlite3_column_type(st, col) == SQLITE_NULL
		       ? NULL
		       : (const char *)sqlite3_column_text(st, col);
}

void
sp_cati_shard_row(sqlite3_stmt *st, struct sp_cat_shard_row *r)
{
	r->shard_id = (const char *)sqlite3_column_text(st, 0);
	r->starting_hash_key = cat_text_or_null(st, 1);
	r->ending_hash_key = cat_text_or_null(st, 2);
	r->parent_shard_id = cat_text_or_null(st, 3);
	r->adjacent_parent_shard_id = cat_text_or_null(st, 4);
	r->starting_seq = cat_text_or_null(st, 5);
	r->ending_seq = cat_text_or_null(st, 6);
	r->index = sqlite3_column_int64(st, 7);
	r->created_ms = sqlite3_column_int64(st, 8);
	r->closed_ms = sqlite3_column_type(st, 9) == SQLITE_NULL ? -1
								 : sqlite3_column_int64(st, 9);
	r->owner_lcore = sqlite3_column_int(st, 10);
}

int
sp_cat_shard_foreach(struct sp_cat *cat, const char *stream, const char *after,
		     sp_cat_shard_fn fn, void *arg)
{
	struct sp_cat_shard_row row;
	sqlite3_stmt *st;
	int cb = 0;
	int rc = sp_cati_prepare(cat,
			     "SELECT " CAT_SHARD_COLS " FROM shards WHERE stream = ?"
			     " AND shard_id > ? ORDER BY shard_index, shard_id",
			     &st);

	SP_VERIFY(stream != NULL && fn != NULL);
	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, stream);
	sp_cati_bind_text(st, 2, after != NULL ? after : "");
	while (cb == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		sp_cati_shard_row(st, &row);
		cb = fn(arg, &row);
	}
	if (cb == 0 && rc != SQLITE_DONE) {
		SP_CTL_ERR("catalog %s: listing shards: %s", cat->path, sqlite3_errmsg(cat->db));
		cb = -EIO;
	}
	sqlite3_finalize(st);
	return cb < 0 ? cb : 0;
}

static int
cat_mark_deleting(struct sp_cat *cat, void *arg)
{
	const char *name = arg;
	sqlite3_stmt *st;
	int rc = sp_cati_prepare(cat,
			     "UPDATE streams SET status = 'DELETING', delete_version ="
			     " (SELECT CAST(value AS INTEGER) + 1 FROM meta"
			     "  WHERE key = 'catalog_version')"
			     " WHERE name = ? AND status != 'DELETING'",
			     &st);

	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, name);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		SP_CTL_ERR("catalog %s: marking %s DELETING: %s", cat->path, name,
			   sqlite3_errmsg(cat->db));
		return -EIO;
	}
	if (sqlite3_changes(cat->db) == 0) {
		return 0;
	}
	/* its consumers go with it (DeleteStream checked EnforceConsumerDeletion) */
	rc = sp_cati_prepare(cat,
			     "UPDATE consumers SET status = 'DELETING', due_ms = 0"
			     " WHERE stream = ? AND status != 'DELETING'",
			     &st);
	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, name);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		SP_CTL_ERR("catalog %s: marking the consumers of %s DELETING: %s", cat->path, name,
			   sqlite3_errmsg(cat->db));
		return -EIO;
	}
	return 1;
}

int
sp_cat_stream_mark_deleting(struct sp_cat *cat, const char *name)
{
	struct sp_cat_stream_row *row = malloc(sizeof(*row));
	int rc;

	SP_VERIFY(cat != NULL && name != NULL);
	if (row == NULL) {
		return -ENOMEM;
	}
	rc = sp_cat_stream_get(cat, name, row);
	free(row);
	if (rc == 0) {
		rc = sp_cati_write(cat, cat_mark_deleting, (void *)name);
	}
	return rc < 0 ? rc : 0;
}

/* Run one UPDATE/DELETE bound to version; add the rows it changed to *changed. */
int
sp_cati_exec_version(struct sp_cat *cat, const char *sql, int64_t version, int *changed)
{
	sqlite3_stmt *st;
	int rc = sp_cati_prepare(cat, sql, &st);

	if (rc != 0) {
		return rc;
	}
	sqlite3_bind_int64(st, 1, version);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		SP_CTL_ERR("catalog %s: %.60s: %s", cat->path, sql, sqlite3_errmsg(cat->db));
		return -EIO;
	}
	if (changed != NULL) {
		*changed += sqlite3_changes(cat->db);
	}
	return 0;
}

static int
cat_apply_step(struct sp_cat *cat, void *arg)
{
	int64_t version = *(const int64_t *)arg;
	int changed = 0;
	int rc = sp_cati_exec_version(cat,
				  "UPDATE streams SET status = 'ACTIVE'"
				  " WHERE status = 'CREATING' AND create_version <= ?",
				  version, &changed);

	/* Rows that reference their stream first. */
	static const char *const dependents[] = {
	    "DELETE FROM shards WHERE stream IN (SELECT name FROM"
	    " streams WHERE status = 'DELETING' AND delete_version <= ?)",
	    "DELETE FROM reshards WHERE stream IN (SELECT name FROM"
	    " streams WHERE status = 'DELETING' AND delete_version <= ?)",
	    "DELETE FROM tags WHERE stream IN (SELECT name FROM"
	    " streams WHERE status = 'DELETING' AND delete_version <= ?)",
	    "DELETE FROM stream_events WHERE stream IN (SELECT name FROM"
	    " streams WHERE status = 'DELETING' AND delete_version <= ?)",
	    "DELETE FROM shard_owners WHERE stream IN (SELECT name FROM"
	    " streams WHERE status = 'DELETING' AND delete_version <= ?)",
	    "DELETE FROM consumer_tags WHERE arn IN (SELECT arn FROM consumers WHERE stream IN"
	    " (SELECT name FROM streams WHERE status = 'DELETING' AND delete_version <= ?))",
	    "DELETE FROM consumers WHERE stream IN (SELECT name FROM"
	    " streams WHERE status = 'DELETING' AND delete_version <= ?)",
	};

	for (size_t i = 0; rc == 0 && i < SP_ARRAY_SIZE(dependents); i++) {
		rc = sp_cati_exec_version(cat, dependents[i], version, NULL);
	}
	if (rc == 0) {
		rc = sp_cati_exec_version(cat,
				      "DELETE FROM streams WHERE status = 'DELETING'"
				      " AND delete_version <= ?",
				      version, &changed);
	}
	return rc < 0 ? rc : changed;
}

int
sp_cat_apply_acked(struct sp_cat *cat, int64_t version)
{
	SP_VERIFY(cat != NULL);
	SP_VERIFY(version >= 0);
	return sp_cati_write(cat, cat_apply_step, &version);
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
	json_t *consumers;
	size_t i;
	json_t *s;
	int rc = sp_cat_version(cat, &ver);

	if (rc == 0) {
		rc = cat_rows_json(cat,
				   "SELECT name, arn, status, mode, retention_hours, created_ms,"
				   " COALESCE(encryption, 'NONE') AS encryption,"
				   " COALESCE(key_id, '') AS key_id, stream_tag, max_record_bytes,"
				   " quota_records_per_s, quota_bytes_per_s, shard_metrics"
				   " FROM streams ORDER BY name",
				   NULL, &streams);
	}
	if (rc != 0) {
		return rc;
	}
	json_object_set_new(snap, "catalog_version", json_integer(ver));
	json_object_set_new(snap, "streams", streams);
	/* SubscribeToShard resolves a ConsumerARN to its stream and status here */
	rc = cat_rows_json(cat,
			   "SELECT stream, name, arn, status, created_ms FROM consumers"
			   " ORDER BY stream, name",
			   NULL, &consumers);
	if (rc != 0) {
		return rc;
	}
	json_object_set_new(snap, "consumers", consumers);
	json_array_foreach(streams, i, s) {
		json_t *shards;
		const char *name = json_string_value(json_object_get(s, "name"));

		rc = cat_rows_json(cat,
				   "SELECT shard_id, shard_index AS \"index\", starting_hash_key,"
				   " ending_hash_key, parent_shard_id, adjacent_parent_shard_id,"
				   " starting_seq, ending_seq, owner_lcore FROM shards"
				   " WHERE stream = ? ORDER BY shard_index, shard_id",
				   name != NULL ? name : "", &shards);
		if (rc == 0) {
			rc = sp_cati_past_owners_json(cat, name != NULL ? name : "", shards);
		}
		if (rc != 0) {
			json_decref(shards);
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
	rc = sp_cati_exec(cat, "BEGIN");
	if (rc == 0) {
		rc = cat_snapshot_locked(cat, snap);
		int end = sp_cati_exec(cat, rc == 0 ? "COMMIT" : "ROLLBACK");

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

/* ---- What only the dataplane gets: shard-iterator settings ---- */

/* Derivation label of the iterator key: another label would give an unrelated key. */
#define CAT_ITER_KEY_LABEL "spate shard iterator key v1"

void
sp_cat_iter_key(const struct sp_cat *cat, uint8_t out[SP_CAT_ITER_KEY_BYTES])
{
	static const char label[] = CAT_ITER_KEY_LABEL;
	unsigned int len = 0;

	SP_VERIFY(cat != NULL && out != NULL);
	SP_STATIC_ASSERT(SP_CAT_ITER_KEY_BYTES == 32, "HMAC-SHA256 output");
	/* One-way: the dataplane holding this key learns nothing about the token key. */
	SP_VERIFY(HMAC(EVP_sha256(), cat->token_key, SP_CAT_TOKEN_KEY_BYTES,
		       (const unsigned char *)label, sizeof(label) - 1, out, &len) != NULL);
	SP_VERIFY(len == SP_CAT_ITER_KEY_BYTES);
}

void
sp_cat_clock_offset_allow(struct sp_cat *cat)
{
	SP_VERIFY(cat != NULL);
	cat->clock_offset_allowed = true;
}

int
sp_cat_clock_offset_set(struct sp_cat *cat, int64_t ms)
{
	SP_VERIFY(cat != NULL);
	if (!cat->clock_offset_allowed) {
		return -EPERM;
	}
	if (ms < -SP_CAT_CLOCK_OFFSET_MAX_MS || ms > SP_CAT_CLOCK_OFFSET_MAX_MS) {
		return -EINVAL;
	}
	if (ms == cat->clock_offset_ms) {
		return 0;
	}
	cat->clock_offset_ms = ms;
	return 1;
}

int64_t
sp_cat_clock_offset_ms(const struct sp_cat *cat)
{
	SP_VERIFY(cat != NULL);
	SP_ASSERT(cat->clock_offset_ms == 0 || cat->clock_offset_allowed);
	return cat->clock_offset_ms;
}

int
sp_cat_dataplane_snapshot_json(struct sp_cat *cat, json_t **out)
{
	uint8_t key[SP_CAT_ITER_KEY_BYTES];
	char hex[2 * SP_CAT_ITER_KEY_BYTES + 1];
	json_t *it;
	int rc = sp_cat_snapshot_json(cat, out);

	if (rc != 0) {
		return rc;
	}
	SP_VERIFY(*out != NULL);
	sp_cat_iter_key(cat, key);
	for (size_t i = 0; i < sizeof(key); i++) {
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	}
	OPENSSL_cleanse(key, sizeof(key));
	it = json_pack("{s:s,s:I}", "key", hex, "clock_offset_ms",
		       (json_int_t)sp_cat_clock_offset_ms(cat));
	OPENSSL_cleanse(hex, sizeof(hex));
	if (it == NULL || json_object_set_new(*out, "iterators", it) != 0) {
		json_decref(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}
