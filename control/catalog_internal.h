/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the catalog's source files share (catalog.c, catalog_owners.c, catalog_reshard.c,
 * catalog_tags.c): the connection and the statement helpers. Nothing outside control/catalog*.c
 * includes this. Every helper logs its own SQLite errors and maps them to -EIO.
 */
#ifndef SPATE_CONTROL_CATALOG_INTERNAL_H
#define SPATE_CONTROL_CATALOG_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "catalog.h"

struct sp_cat {
	sqlite3 *db;
	char *path;
	uint8_t token_key[SP_CAT_TOKEN_KEY_BYTES];
	/* Test mode only (sp_cat_clock_offset_allow): held in memory, never written to the file. */
	bool clock_offset_allowed;
	int64_t clock_offset_ms;
};

/* Columns of a stream row, in the order sp_cati_read_stream() expects, but open_shards. */
#define CAT_STREAM_COLS                                                                    \
	"name, arn, status, mode, retention_hours, created_ms, encryption, key_id,"        \
	" max_record_bytes, quota_records_per_s, quota_bytes_per_s, next_shard_index,"     \
	" create_version, delete_version, stream_tag, shard_metrics"
/* The last column: counted for one stream, not for listings (-1 there). */
#define CAT_OPEN_SHARDS_COL                                                                \
	", (SELECT COUNT(*) FROM shards WHERE shards.stream = streams.name"                \
	"  AND shards.ending_seq IS NULL)"
#define CAT_NO_OPEN_SHARDS_COL ", -1"

/* Columns of a shard row, in the order sp_cati_shard_row() expects. */
#define CAT_SHARD_COLS                                                                     \
	"shard_id, starting_hash_key, ending_hash_key, parent_shard_id,"                   \
	" adjacent_parent_shard_id, starting_seq, ending_seq, shard_index, created_ms,"     \
	" closed_ms, owner_lcore"

#define CAT_BUMP_SQL                                                                       \
	"UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'catalog_version'"

/* Run sql (one or more statements, no results). 0 or -EIO. */
int sp_cati_exec(struct sp_cat *cat, const char *sql);

/* Prepare sql into *st (NULL on failure). 0 or -EIO. */
int sp_cati_prepare(struct sp_cat *cat, const char *sql, sqlite3_stmt **st);

/*
 * One write transaction (BEGIN IMMEDIATE ... COMMIT) around fn: fn > 0 means it changed the
 * catalog, and catalog_version is bumped in the same transaction; fn < 0 rolls back. Returns
 * fn's value or -EIO.
 */
int sp_cati_write(struct sp_cat *cat, int (*fn)(struct sp_cat *cat, void *arg), void *arg);

/* Bind s (NULL: SQL NULL) to parameter i; s must outlive the statement's use. */
void sp_cati_bind_text(sqlite3_stmt *st, int i, const char *s);

/* Run one statement bound to version; add the rows it changed to *changed (may be NULL). */
int sp_cati_exec_version(struct sp_cat *cat, const char *sql, int64_t version, int *changed);

/* Read the current row of a "SELECT " CAT_STREAM_COLS CAT_OPEN_SHARDS_COL statement. */
void sp_cati_read_stream(sqlite3_stmt *st, struct sp_cat_stream_row *r);

/* Read the current row of a "SELECT " CAT_SHARD_COLS statement. */
void sp_cati_shard_row(sqlite3_stmt *st, struct sp_cat_shard_row *r);

/* Insert the tags of a new stream (inside its insert transaction). 0, -EINVAL or -EIO. */
int sp_cati_tags_insert(struct sp_cat *cat, const char *stream, const struct sp_cat_tag *tags,
			size_t n);

/*
 * Insert shards[0..n) of stream, created at created_ms (a shard with an ending_seq is closed at
 * the same time: a reshard's intermediate shard). The index is the N of "shardId-N", else
 * sh->index. Returns 0, -EINVAL (a constraint failed) or -EIO.
 */
int sp_cati_insert_shards(struct sp_cat *cat, const char *stream, const struct sp_cat_shard *shards,
			  size_t n, int64_t created_ms);

/*
 * Give each shard object of stream's snapshot array `shards` (in index order) its
 * "past_owners" array (catalog_owners.c): left out when the shard has none. 0, -ENOMEM or -EIO.
 */
int sp_cati_past_owners_json(struct sp_cat *cat, const char *stream, json_t *shards);

/* Remove the past owners past their retention or without a shard; add the count to *changed. */
int sp_cati_expire_past_owners(struct sp_cat *cat, int64_t now_ms, int *changed);

/* Map a failed insert step to -EEXIST (stream primary key), -EINVAL or -EIO. */
int sp_cati_step_err(struct sp_cat *cat, int rc, const char *what);

#endif /* SPATE_CONTROL_CATALOG_INTERNAL_H */
