/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of control/catalog.c on a real SQLite file in a temporary directory: creation,
 * pragmas, insert and snapshot, version bumps, constraint errors that change nothing,
 * persistence across reopen, refusal of a schema newer than this build, the migration of a
 * version-1 file, the boot epoch and token key across reopen, and the lifecycle calls
 * (mark DELETING, apply an acknowledged version, listing, quota counts), and per-stream write
 * quotas (off by default; set, unchanged, unknown stream, out of range, persistence).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include <spate/seqno.h>

#include "catalog.h"
#include "ctl_log.h"

struct fixture {
	char dir[64];
	char path[128];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/sp_catalog_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, SP_CAT_FILE_NAME);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char p[160];
	const char *suffix[] = {"", "-wal", "-shm"};

	for (size_t i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, suffix[i]);
		unlink(p);
	}
	assert_int_equal(rmdir(f->dir), 0);
	free(f);
	return 0;
}

static int64_t
version(struct sp_cat *cat)
{
	int64_t v = -1;

	assert_int_equal(sp_cat_version(cat, &v), 0);
	return v;
}

static const struct sp_cat_shard g_shards[] = {
	{
		.shard_id = "shardId-000000000001",
		.starting_hash_key = "170141183460469231731687303715884105728",
		.ending_hash_key = "340282366920938463463374607431768211455",
		.starting_seq = "49590338271490256608559692538361571095921575989136588801",
		.owner_lcore = 2,
	},
	{
		.shard_id = "shardId-000000000000",
		.starting_hash_key = "0",
		.ending_hash_key = "170141183460469231731687303715884105727",
		.starting_seq = "49590338271490256608559692538361571095921575989136588800",
		.owner_lcore = 1,
	},
};

static const struct sp_cat_stream g_stream = {
	.name = "orders",
	.arn = "arn:aws:kinesis:us-east-1:000000000000:stream/orders",
	.status = "ACTIVE",
	.mode = "PROVISIONED",
	.retention_hours = 24,
	.created_ms = 1700000000000,
	.encryption = "NONE",
};

static void
test_create_and_pragmas(void **state)
{
	struct fixture *f = *state;
	struct sp_cat *cat;
	int64_t n = -1;

	assert_int_equal(sp_cat_open(f->path, &cat), 0);
	assert_string_equal(sp_cat_path(cat), f->path);
	assert_int_equal(version(cat), 1);
	assert_int_equal(sp_cat_stream_count(cat, &n), 0);
	assert_int_equal(n, 0);
	sp_cat_close(cat);

	/* Look at the file from outside: WAL journal and our schema version. */
	sqlite3 *db;
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), SP_CAT_SCHEMA_VERSION);
	sqlite3_finalize(st);
	/* v4: no shard was ever moved, so no past owner */
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM shard_owners", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void
test_insert_snapshot_reopen(void **state)
{
	struct fixture *f = *state;
	struct sp_cat *cat;
	json_t *snap;
	int64_t n;

	assert_int_equal(sp_cat_open(f->path, &cat), 0);
	assert_int_equal(sp_cat_stream_insert(cat, &g_stream, g_shards, 2), 0);
	assert_int_equal(version(cat), 2);
	struct sp_cat_stream empty = {.name = "audit", .status = "CREATING"};

	assert_int_equal(sp_cat_stream_insert(cat, &empty, NULL, 0), 0);
	assert_int_equal(version(cat), 3);
	sp_cat_close(cat);

	/* Reopen: everything is still there. */
	assert_int_equal(sp_cat_open(f->path, &cat), 0);
	assert_int_equal(version(cat), 3);
	assert_int_equal(sp_cat_stream_count(cat, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(sp_cat_snapshot_json(cat, &snap), 0);
	assert_int_equal(json_integer_value(json_object_get(snap, "catalog_version")), 3);
	json_t *streams = json_object_get(snap, "streams");

	assert_int_equal(json_array_size(streams), 2);
	/* Sorted by name: audit, orders. */
	json_t *a = json_array_get(streams, 0);
	json_t *o = json_array_get(streams, 1);

	assert_string_equal(json_string_value(json_object_get(a, "name")), "audit");
	assert_string_equal(json_string_value(json_object_get(a, "status")), "CREATING");
	assert_int_equal(json_array_size(json_object_get(a, "shards")), 0);
	assert_string_equal(json_string_value(json_object_get(o, "name")), "orders");
	assert_string_equal(json_string_value(json_object_get(o, "arn")), g_stream.arn);
	assert_int_equal(json_integer_value(json_object_get(o, "retention_hours")), 24);
	assert_int_equal(json_integer_value(json_object_get(o, "created_ms")), 1700000000000);
	/* not encrypted: "NONE" and "" (never null: the dataplane reads them as strings) */
	assert_string_equal(json_string_value(json_object_get(o, "key_id")), "");
	assert_string_equal(json_string_value(json_object_get(a, "encryption")), "NONE");
	assert_string_equal(json_string_value(json_object_get(a, "key_id")), "");
	json_t *shards = json_object_get(o, "shards");

	assert_int_equal(json_array_size(shards), 2);
	/* Sorted by shard id. */
	json_t *s0 = json_array_get(shards, 0);

	assert_string_equal(json_string_value(json_object_get(s0, "shard_id")),
			    "shardId-000000000000");
	assert_string_equal(json_string_value(json_object_get(s0, "ending_hash_key")),
			    g_shards[1].ending_hash_key);
	assert_int_equal(json_integer_value(json_object_get(s0, "owner_lcore")), 1);
	assert_true(json_is_null(json_object_get(s0, "parent_shard_id")));
	assert_true(json_is_null(json_object_get(s0, "ending_seq")));
	json_decref(snap);
	sp_cat_close(cat);
}

static void
test_constraints_change_nothing(void **state)
{
	struct fixture *f = *state;
	struct sp_cat *cat;
	int64_t n;

	assert_int_equal(sp_cat_open(f->path, &cat), 0);
	assert_int_equal(sp_cat_stream_insert(cat, &g_stream, g_shards, 2), 0);
	assert_int_equal(version(cat), 2);
	/* Same name again. */
	assert_int_equal(sp_cat_stream_insert(cat, &g_stream, NULL, 0), -EEXIST);
	/* A status outside the CHECK list. */
	struct sp_cat_stream bad = g_stream;

	bad.name = "bad";
	bad.status = "SLEEPING";
	assert_int_equal(sp_cat_stream_insert(cat, &bad, NULL, 0), -EINVAL);
	/* Duplicate shard ids: the stream row must be rolled back too. */
	struct sp_cat_shard dup[2] = {g_shards[0], g_shards[0]};

	bad.status = "ACTIVE";
	assert_int_equal(sp_cat_stream_insert(cat, &bad, dup, 2), -EINVAL);
	bad.name = NULL;
	assert_int_equal(sp_cat_stream_insert(cat, &bad, NULL, 0), -EINVAL);
	assert_int_equal(version(cat), 2);
	assert_int_equal(sp_cat_stream_count(cat, &n), 0);
	assert_int_equal(n, 1);
	sp_cat_close(cat);
}

static void
test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	struct sp_cat *cat;
	sqlite3 *db;
	char sql[64];

	assert_int_equal(sp_cat_open(f->path, &cat), 0);
	sp_cat_close(cat);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SP_CAT_SCHEMA_VERSION + 1);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	cat = (struct sp_cat *)&cat; /* must be reset to NULL on failure */
	assert_int_equal(sp_cat_open(f->path, &cat), -ENOTSUP);
	assert_null(cat);
}

static void
test_unopenable(void **state)
{
	struct fixture *f = *state;
	struct sp_cat *cat;
	char p[160];

	snprintf(p, sizeof(p), "%s/missing/dir/catalog.db", f->dir);
	assert_int_equal(sp_cat_open(p, &cat), -EIO);
	assert_null(cat);
}

/* The version-1 schema exactly as the first release wrote it. */
static const char g_v1_schema[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
	"INSERT INTO meta(key, value) VALUES('catalog_version', '7');"
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
	" FOREIGN KEY(stream) REFERENCES streams(name));"
	"INSERT INTO streams VALUES('old', 'arn:old', 'ACTIVE', 'PROVISIONED', 24,"
	" 1600000000000, 'NONE', NULL);"
	"INSERT INTO shards VALUES('old', 'shardId-000000000000', '0', '5', NULL, NULL, '1',"
	" NULL, 0);"
	"INSERT INTO shards VALUES('old', 'shardId-000000000003', '6', '9', NULL, NULL, '2',"
	" '3', 1);"
	"PRAGMA user_version = 1;";

static void
test_migrate_from_v1(void **state)
{
	struct fixture *f = *state;
	struct sp_cat *cat;
	struct sp_cat_stream_row row;
	sqlite3 *db;
	json_t *snap;
	uint32_t epoch = 99;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, g_v1_schema, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);

	assert_int_equal(sp_cat_open(f->path, &cat), 0);
	assert_int_equal(version(cat), 7); /* migrating is not a catalog change */
	assert_int_equal(sp_cat_stream_get(cat, "old", &row), 0);
	assert_string_equal(row.status, "ACTIVE");
	assert_int_equal(row.stream_tag, sp_seqno_stream_tag("old", 3, 1600000000000));
	assert_int_equal(row.next_shard_index, 4);
	assert_int_equal(row.max_record_bytes, 1048576);
	assert_int_equal(row.quota_records_per_s, 0); /* off */
	assert_int_equal(row.quota_bytes_per_s, 0);
	assert_int_equal(row.open_shards, 1);
	assert_int_equal(row.delete_version, 0);
	assert_int_equal(sp_cat_epoch(cat, &epoch), 0);
	assert_int_equal(epoch, 0);
	assert_int_equal(sp_cat_snapshot_json(cat, &snap), 0);
	json_t *shards = json_object_get(json_array_get(json_object_get(snap, "streams"), 0),
					 "shards");

	assert_int_equal(json_integer_value(json_object_get(json_array_get(shards, 1), "index")),
			 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(shards, 1),
							      "ending_seq")),
			    "3");
	json_decref(snap);
	/* A key was generated: not all zero. */
	const uint8_t *key = sp_cat_token_key(cat);
	unsigned nz = 0;

	for (size_t i = 0; i < SP_CAT_TOKEN_KEY_BYTES; i++) {
		nz += key[i] != 0;
	}
	assert_true(nz > 0);
	sp_cat_close(cat);

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_stmt *st;

	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), SP_CAT_SCHEMA_VERSION);
	sqlite3_finalize(st);
	/* v4: no shard was ever moved, so no past owner */
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM shard_owners", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void
test_epoch_and_key_persist(void **state)
{
	struct fixture *f = *state;
	struct sp_cat *cat;
	uint8_t key[SP_CAT_TOKEN_KEY_BYTES];
	uint32_t e = 99;
	sqlite3 *db;
	char sql[96];

	assert_int_equal(sp_cat_open(f->path, &cat), 0);
	assert_int_equal(sp_cat_epoch(cat, &e), 0);
	assert_int_equal(e, 0);
	assert_int_equal(sp_cat_epoch_next(cat, &e), 0);
	assert_int_equal(e, 1);
	assert_int_equal(sp_cat_epoch_next(cat, &e), 0);
	assert_int_equal(e, 2);
	assert_int_equal(version(cat), 1); /* the epoch is not catalog content */
	memcpy(key, sp_cat_token_key(cat), sizeof(key));
	sp_cat_close(cat);

	assert_int_equal(sp_cat_open(f->path, &cat), 0);
	assert_int_equal(sp_cat_epoch(cat, &e), 0);
	assert_int_equal(e, 2);
	assert_int_equal(sp_cat_epoch_next(cat, &e), 0);
	assert_int_equal(e, 3);
	assert_memory_equal(sp_cat_token_key(cat), key, sizeof(key));
	sp_cat_close(cat);

	/* The epoch field is 20 bits: at its end the catalog refuses and changes nothing. */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql), "UPDATE meta SET value = '%u' WHERE key = 'epoch'",
		 SP_SEQNO_EPOCH_MAX);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	assert_int_equal(sp_cat_open(f->path, &cat), 0);
	assert_int_equal(sp_cat_epoch_next(cat, &e), -EOVERFLOW);
	assert_int_equal(sp_cat_epoch(cat, &e), 0);
	assert_int_equal(e, SP_SEQNO_EPOCH_MAX);
	sp_cat_close(cat);
}

static int
count_stream(void *arg, const struct sp_cat_stream_row *row)
{
	int *n = arg;

	(*n)++;
	return row->name[0] == 'b' ? 1 : 0; /* stop at "b" */
}

static int
collect_shard(void *arg, const struct sp_cat_shard_row *row)
{
	char *ids = arg;

	strncat(ids, row->shard_id + 8, 64 - strlen(ids) - 1);
	strncat(ids, row->closed_ms < 0 ? "o," : "c,", 64 - strlen(ids) - 1);
	return 0;
}

static int
fail_shard(void *arg, const struct sp_cat_shard_row *row)
{
	(void)arg;
	(void)row;
	return -EBADMSG;
}

static void
test_lifecycle_calls(void **state)
{
	struct fixture *f = *state;
	struct sp_cat *cat;
	struct sp_cat_stream_row row;
	int64_t open = -1, creating = -1;

	assert_int_equal(sp_cat_open(f->path, &cat), 0);
	struct sp_cat_stream a = g_stream;

	a.name = "a";
	a.status = "CREATING";
	assert_int_equal(sp_cat_stream_insert(cat, &a, g_shards, 2), 0);
	assert_int_equal(version(cat), 2);
	struct sp_cat_stream b = {.name = "b", .status = "CREATING", .created_ms = 5};

	assert_int_equal(sp_cat_stream_insert(cat, &b, NULL, 0), 0);
	assert_int_equal(sp_cat_stream_get(cat, "a", &row), 0);
	assert_int_equal(row.create_version, 2);
	assert_int_equal(row.next_shard_index, 2);
	assert_int_equal(sp_cat_stream_get(cat, "zz", &row), -ENOENT);
	assert_int_equal(sp_cat_quota_counts(cat, &open, &creating), 0);
	assert_int_equal(open, 2);
	assert_int_equal(creating, 2);

	/* Acknowledging version 2 activates "a" only (b was created at 3). */
	assert_int_equal(sp_cat_apply_acked(cat, 2), 1);
	assert_int_equal(version(cat), 4);
	assert_int_equal(sp_cat_stream_get(cat, "b", &row), 0);
	assert_string_equal(row.status, "CREATING");
	assert_int_equal(sp_cat_apply_acked(cat, 2), 0);
	assert_int_equal(version(cat), 4);

	/* Mark and remove. */
	assert_int_equal(sp_cat_stream_mark_deleting(cat, "zz"), -ENOENT);
	assert_int_equal(sp_cat_stream_mark_deleting(cat, "a"), 0);
	assert_int_equal(version(cat), 5);
	assert_int_equal(sp_cat_stream_get(cat, "a", &row), 0);
	assert_string_equal(row.status, "DELETING");
	assert_int_equal(row.delete_version, 5);
	assert_int_equal(sp_cat_stream_mark_deleting(cat, "a"), 0);
	assert_int_equal(version(cat), 5);
	assert_int_equal(sp_cat_apply_acked(cat, 4), 1); /* b becomes ACTIVE, a stays */
	assert_int_equal(sp_cat_stream_get(cat, "a", &row), 0);
	assert_int_equal(sp_cat_apply_acked(cat, 6), 1);
	assert_int_equal(sp_cat_stream_get(cat, "a", &row), -ENOENT);
	assert_int_equal(sp_cat_quota_counts(cat, &open, &creating), 0);
	assert_int_equal(open, 0);
	assert_int_equal(creating, 0);
	sp_cat_close(cat);

	/* Removal survives a reopen; the name can be used again. */
	assert_int_equal(sp_cat_open(f->path, &cat), 0);
	assert_int_equal(sp_cat_stream_get(cat, "a", &row), -ENOENT);
	assert_int_equal(sp_cat_stream_insert(cat, &a, g_shards, 2), 0);
	sp_cat_close(cat);
}

static void
test_listing(void **state)
{
	struct fixture *f = *state;
	struct sp_cat *cat;
	char ids[64] = "";
	int n = 0;

	assert_int_equal(sp_cat_open(f->path, &cat), 0);
	struct sp_cat_stream a = g_stream;
	struct sp_cat_stream b = {.name = "b", .status = "CREATING", .created_ms = 5};

	a.name = "a";
	assert_int_equal(sp_cat_stream_insert(cat, &a, g_shards, 2), 0);
	assert_int_equal(sp_cat_stream_insert(cat, &b, NULL, 0), 0);
	/* Names after "", stopping early; shards in index order. */
	assert_int_equal(sp_cat_stream_foreach(cat, NULL, count_stream, &n), 0);
	assert_int_equal(n, 2);
	n = 0;
	assert_int_equal(sp_cat_stream_foreach(cat, "a", count_stream, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sp_cat_shard_foreach(cat, "a", NULL, collect_shard, ids), 0);
	assert_string_equal(ids, "000000000000o,000000000001o,");
	ids[0] = '\0';
	assert_int_equal(sp_cat_shard_foreach(cat, "a", "shardId-000000000000", collect_shard, ids),
			 0);
	assert_string_equal(ids, "000000000001o,");
	assert_int_equal(sp_cat_shard_foreach(cat, "a", NULL, fail_shard, NULL), -EBADMSG);
	sp_cat_close(cat);
}

/* The quotas of stream `name` in snapshot snap, as "records/bytes". */
static void
snap_quota(json_t *snap, const char *name, char *out, size_t cap)
{
	size_t i;
	json_t *s;

	out[0] = '\0';
	json_array_foreach(json_object_get(snap, "streams"), i, s) {
		json_int_t r = json_integer_value(json_object_get(s, "quota_records_per_s"));
		json_int_t b = json_integer_value(json_object_get(s, "quota_bytes_per_s"));

		if (strcmp(json_string_value(json_object_get(s, "name")), name) == 0) {
			snprintf(out, cap, "%lld/%lld", (long long)r, (long long)b);
		}
	}
}

static void
test_set_quota(void **state)
{
	struct fixture *f = *state;
	struct sp_cat *cat;
	struct sp_cat_stream_row row;
	json_t *snap;
	char q[64];

	assert_int_equal(sp_cat_open(f->path, &cat), 0);
	struct sp_cat_stream b = {.name = "b", .status = "ACTIVE", .created_ms = 5};

	assert_int_equal(sp_cat_stream_insert(cat, &g_stream, g_shards, 2), 0);
	assert_int_equal(sp_cat_stream_insert(cat, &b, NULL, 0), 0);
	assert_int_equal(version(cat), 3);
	/* Off by default, in the row and in the snapshot the dataplane gets. */
	assert_int_equal(sp_cat_stream_get(cat, "orders", &row), 0);
	assert_int_equal(row.quota_records_per_s, 0);
	assert_int_equal(row.quota_bytes_per_s, 0);
	assert_int_equal(sp_cat_snapshot_json(cat, &snap), 0);
	snap_quota(snap, "orders", q, sizeof(q));
	assert_string_equal(q, "0/0");
	json_decref(snap);

	/* A change: one bump, the snapshot shows it, the other stream keeps its values. */
	assert_int_equal(sp_cat_stream_set_quota(cat, "orders", 5, 1048576), 1);
	assert_int_equal(version(cat), 4);
	assert_int_equal(sp_cat_snapshot_json(cat, &snap), 0);
	assert_int_equal(json_integer_value(json_object_get(snap, "catalog_version")), 4);
	snap_quota(snap, "orders", q, sizeof(q));
	assert_string_equal(q, "5/1048576");
	snap_quota(snap, "b", q, sizeof(q));
	assert_string_equal(q, "0/0");
	json_decref(snap);

	/* The same values again change nothing: no bump. */
	assert_int_equal(sp_cat_stream_set_quota(cat, "orders", 5, 1048576), 0);
	assert_int_equal(version(cat), 4);
	/* Either value alone is a change; the bounds are inclusive. */
	assert_int_equal(sp_cat_stream_set_quota(cat, "orders", 5, 0), 1);
	assert_int_equal(sp_cat_stream_set_quota(cat, "orders", SP_CAT_QUOTA_MAX, 0), 1);
	assert_int_equal(version(cat), 6);

	/* Unknown stream and out-of-range values: refused, nothing changes. */
	assert_int_equal(sp_cat_stream_set_quota(cat, "nope", 1, 1), -ENOENT);
	assert_int_equal(sp_cat_stream_set_quota(cat, "orders", -1, 0), -EINVAL);
	assert_int_equal(sp_cat_stream_set_quota(cat, "orders", 0, SP_CAT_QUOTA_MAX + 1), -EINVAL);
	assert_int_equal(version(cat), 6);
	sp_cat_close(cat);

	/* Durable. */
	assert_int_equal(sp_cat_open(f->path, &cat), 0);
	assert_int_equal(version(cat), 6);
	assert_int_equal(sp_cat_stream_get(cat, "orders", &row), 0);
	assert_int_equal(row.quota_records_per_s, SP_CAT_QUOTA_MAX);
	assert_int_equal(row.quota_bytes_per_s, 0);
	sp_cat_close(cat);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_pragmas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_insert_snapshot_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_constraints_change_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unopenable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_from_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_epoch_and_key_persist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lifecycle_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_quota, setup, teardown),
	};

	sp_ctl_log_set_level(SP_CTL_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
