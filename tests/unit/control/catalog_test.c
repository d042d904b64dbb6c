/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of control/catalog.c on a real SQLite file in a temporary directory: creation,
 * pragmas, insert and snapshot, version bumps, constraint errors that change nothing,
 * persistence across reopen, and refusal of a schema newer than this build.
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
	assert_true(json_is_null(json_object_get(o, "key_id")));
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_pragmas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_insert_snapshot_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_constraints_change_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unopenable, setup, teardown),
	};

	sp_ctl_log_set_level(SP_CTL_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
