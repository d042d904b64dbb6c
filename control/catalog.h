/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The catalog: spate-control's durable record of streams and shards, in SQLite at
 * <data_dir>/catalog.db. Every change bumps catalog_version inside the same transaction, so a
 * snapshot's version names exactly one catalog state. The dataplane only ever sees snapshots
 * (sp_cat_snapshot_json()), never the database.
 */
#ifndef SPATE_CONTROL_CATALOG_H
#define SPATE_CONTROL_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <spate/compiler.h>

/* Schema version this build writes (PRAGMA user_version); newer files are refused. */
#define SP_CAT_SCHEMA_VERSION 1

/* Catalog file name inside the data directory. */
#define SP_CAT_FILE_NAME "catalog.db"

struct sp_cat;

/* A stream row. Strings may be NULL where the column allows it (encryption, key_id, arn). */
struct sp_cat_stream {
	const char *name;
	const char *arn;
	const char *status; /* CREATING, ACTIVE, UPDATING or DELETING */
	const char *mode;   /* PROVISIONED or ON_DEMAND */
	int64_t retention_hours;
	int64_t created_ms;
	const char *encryption; /* NONE or KMS */
	const char *key_id;
};

/* A shard row. Hash keys and sequence numbers are decimal strings, as Kinesis shows them. */
struct sp_cat_shard {
	const char *shard_id;
	const char *starting_hash_key;
	const char *ending_hash_key;
	const char *parent_shard_id;	      /* NULL when none */
	const char *adjacent_parent_shard_id; /* NULL when none */
	const char *starting_seq;
	const char *ending_seq; /* NULL while open */
	int owner_lcore;
};

/*
 * Open (creating and migrating as needed) the catalog at path. Returns 0, -ENOTSUP when the
 * file's schema is newer than SP_CAT_SCHEMA_VERSION, -EIO on a database error (logged) or
 * -ENOMEM.
 */
SP_MUST_CHECK int sp_cat_open(const char *path, struct sp_cat **out);
void sp_cat_close(struct sp_cat *cat);

const char *sp_cat_path(const struct sp_cat *cat);

/* Current catalog_version. Returns 0 or -EIO. */
SP_MUST_CHECK int sp_cat_version(struct sp_cat *cat, int64_t *version);

/* Number of streams. Returns 0 or -EIO. */
SP_MUST_CHECK int sp_cat_stream_count(struct sp_cat *cat, int64_t *count);

/*
 * Insert a stream and its shards in one transaction that also bumps catalog_version.
 * Returns 0, -EEXIST (a stream of that name exists), -EINVAL (a constraint failed: bad status,
 * missing name, duplicate shard id) or -EIO. On error nothing changes.
 */
SP_MUST_CHECK int sp_cat_stream_insert(struct sp_cat *cat, const struct sp_cat_stream *st,
				       const struct sp_cat_shard *shards, size_t n_shards);

/*
 * The snapshot the dataplane and `catalog_get` see, read in one transaction:
 * {"catalog_version":V,"streams":[{"name":..,"arn":..,"status":..,"mode":..,
 *  "retention_hours":..,"created_ms":..,"encryption":..,"key_id":..,"shards":[{..}]}]}
 * Streams are sorted by name, shards by shard_id; NULL columns are JSON null.
 * Returns 0 (*out holds a new reference), -EIO or -ENOMEM.
 */
SP_MUST_CHECK int sp_cat_snapshot_json(struct sp_cat *cat, json_t **out);

#endif /* SPATE_CONTROL_CATALOG_H */
