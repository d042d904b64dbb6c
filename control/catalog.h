/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The catalog: spate-control's durable record of streams and shards, in SQLite at
 * <data_dir>/catalog.db. Every change to streams or shards bumps catalog_version inside the
 * same transaction, so a snapshot's version names exactly one catalog state. The dataplane
 * only ever sees snapshots (sp_cat_snapshot_json()), never the database.
 *
 * Enhanced fan-out consumers (catalog_consumers.c) are catalog content too: the snapshot lists
 * them, and their changes bump catalog_version.
 *
 * Besides streams and shards the catalog keeps two process-wide values that must survive a
 * restart: the dataplane boot epoch (sequence numbers, include/spate/seqno.h) and the key that
 * seals pagination tokens (generated once, when the schema reaches version 2).
 */
#ifndef SPATE_CONTROL_CATALOG_H
#define SPATE_CONTROL_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <spate/compiler.h>
#include <spate/kinesis.h>

/* Schema version this build writes (PRAGMA user_version); newer files are refused. */
#define SP_CAT_SCHEMA_VERSION 5

/* Catalog file name inside the data directory. */
#define SP_CAT_FILE_NAME "catalog.db"

/* Bytes of the token-sealing key. */
#define SP_CAT_TOKEN_KEY_BYTES 32

/*
 * Per-shard write quotas: configuration per stream, enforced by the dataplane on each shard's
 * owner. 0 means off, and off is this appliance's default (AWS's fixed 1000 records/s and
 * 1 MiB/s are a choice, not a default: `stream_quota_set`). When set, the records beyond the
 * quota in one second fail one by one with ProvisionedThroughputExceededException. The upper
 * bound keeps values far inside the dataplane's 32-bit fields.
 */
#define SP_CAT_QUOTA_RECORDS_PER_S_DEFAULT 0
#define SP_CAT_QUOTA_BYTES_PER_S_DEFAULT 0
#define SP_CAT_QUOTA_MAX 1000000000

/* Room for a stream ARN we generate: "arn:aws:kinesis:" region ":" account ":stream/" name. */
#define SP_CAT_ARN_MAX_BYTES 256
/* Room for a status, mode or encryption word plus NUL. */
#define SP_CAT_WORD_MAX_BYTES 16
/* Room for a stream's KeyId as the client gave it (the model's 2048 characters; one that
 * resolved against the key file is ASCII) plus NUL. */
#define SP_CAT_KEY_ID_MAX_BYTES 2049

struct sp_cat;

/* One tag (key 1..128 characters, value 0..256). */
struct sp_cat_tag {
	const char *key;
	const char *value;
};

/*
 * A stream to insert. Strings may be NULL where the column allows it (encryption, key_id,
 * arn). Zero settings take their defaults. The stream tag is derived from name and created_ms
 * (sp_seqno_stream_tag()), never given.
 */
struct sp_cat_stream {
	const char *name;
	const char *arn;
	const char *status; /* CREATING, ACTIVE, UPDATING or DELETING */
	const char *mode;   /* PROVISIONED or ON_DEMAND */
	int64_t retention_hours;
	int64_t created_ms;
	const char *encryption; /* NONE or KMS */
	const char *key_id;
	int64_t max_record_bytes;    /* 0: SP_K_RECORD_MAX_BYTES_DEFAULT */
	int64_t quota_records_per_s; /* 0..SP_CAT_QUOTA_MAX; 0 (the default): off */
	int64_t quota_bytes_per_s;   /* 0..SP_CAT_QUOTA_MAX; 0 (the default): off */
	const struct sp_cat_tag *tags; /* stored with the stream, same transaction */
	size_t n_tags;                 /* distinct keys; the caller keeps to the limit */
};

/*
 * A shard to insert. Hash keys and sequence numbers are decimal strings, as Kinesis shows
 * them. The shard index is the N of a "shardId-N" id; for any other id it is `index`.
 */
struct sp_cat_shard {
	const char *shard_id;
	const char *starting_hash_key;
	const char *ending_hash_key;
	const char *parent_shard_id;	      /* NULL when none */
	const char *adjacent_parent_shard_id; /* NULL when none */
	const char *starting_seq;
	const char *ending_seq; /* NULL while open */
	int owner_lcore;
	int64_t index;
};

/* A stream as read back. Strings are copied (cut to fit); absent ones are "". */
struct sp_cat_stream_row {
	char name[SP_K_STREAM_NAME_MAX_CHARS + 1];
	char arn[SP_CAT_ARN_MAX_BYTES];
	char status[SP_CAT_WORD_MAX_BYTES];
	char mode[SP_CAT_WORD_MAX_BYTES];
	char encryption[SP_CAT_WORD_MAX_BYTES];
	char key_id[SP_CAT_KEY_ID_MAX_BYTES]; /* "" when not encrypted */
	int64_t retention_hours;
	int64_t created_ms;
	int64_t max_record_bytes;
	int64_t quota_records_per_s;
	int64_t quota_bytes_per_s;
	int64_t next_shard_index; /* shard ids are never reused within an incarnation */
	int64_t create_version;	  /* catalog_version that created it */
	int64_t delete_version;	  /* catalog_version that marked it DELETING; 0 otherwise */
	int64_t open_shards;	  /* shards without an ending sequence number; -1 in listings */
	uint32_t stream_tag;
	uint32_t shard_metrics; /* enhanced monitoring: a bit set of SP_K_METRIC_* */
};

/* A shard as read back; strings point into SQLite memory valid only during the callback. */
struct sp_cat_shard_row {
	const char *shard_id;
	const char *starting_hash_key;
	const char *ending_hash_key;
	const char *parent_shard_id;	      /* NULL when none */
	const char *adjacent_parent_shard_id; /* NULL when none */
	const char *starting_seq;
	const char *ending_seq; /* NULL while open */
	int64_t index;
	int64_t created_ms;
	int64_t closed_ms; /* -1 while open */
	int owner_lcore;
};

/* Row callbacks: return 0 to go on, > 0 to stop (not an error), < 0 to fail with that. */
typedef int (*sp_cat_stream_fn)(void *arg, const struct sp_cat_stream_row *row);
typedef int (*sp_cat_shard_fn)(void *arg, const struct sp_cat_shard_row *row);

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
 * Insert a stream and its shards in one transaction that also bumps catalog_version; the new
 * version becomes the stream's create_version. Returns 0, -EEXIST (a stream of that name
 * exists), -EINVAL (a constraint failed: bad status, missing name, duplicate shard id) or
 * -EIO. On error nothing changes.
 */
SP_MUST_CHECK int sp_cat_stream_insert(struct sp_cat *cat, const struct sp_cat_stream *st,
				       const struct sp_cat_shard *shards, size_t n_shards);

/*
 * Set a stream's per-shard write quotas (each 0..SP_CAT_QUOTA_MAX, 0 = off) in one transaction
 * that bumps catalog_version. Returns 1 (changed, version bumped), 0 (the stream already had
 * these values: nothing changes, the version stays), -ENOENT (no such stream), -EINVAL (a
 * value out of range; nothing changes) or -EIO.
 */
SP_MUST_CHECK int sp_cat_stream_set_quota(struct sp_cat *cat, const char *name,
					  int64_t records_per_s, int64_t bytes_per_s);

/*
 * Set a stream's retention (SP_K_RETENTION_HOURS_MIN..SP_K_RETENTION_HOURS_MAX hours) in one
 * transaction that bumps catalog_version. Returns 1 (changed, version bumped), 0 (already that
 * value: nothing changes, the version stays), -ENOENT (no such stream), -EINVAL (out of range;
 * nothing changes) or -EIO. Any state is accepted; the caller decides which states may change.
 */
SP_MUST_CHECK int sp_cat_stream_set_retention(struct sp_cat *cat, const char *name,
					      int64_t hours);

/*
 * Set a stream's largest record (key + data, SP_K_RECORD_MAX_BYTES_DEFAULT..
 * SP_K_RECORD_MAX_BYTES_LIMIT bytes) in one transaction that bumps catalog_version. Returns 1
 * (changed, version bumped), 0 (already that value: nothing changes, the version stays),
 * -ENOENT (no such stream), -EINVAL (out of range; nothing changes) or -EIO. Any state is
 * accepted; the caller decides which states may change.
 */
SP_MUST_CHECK int sp_cat_stream_set_max_record(struct sp_cat *cat, const char *name,
					       int64_t bytes);

/* Read one stream. Returns 0, -ENOENT or -EIO. */
SP_MUST_CHECK int sp_cat_stream_get(struct sp_cat *cat, const char *name,
				    struct sp_cat_stream_row *out);

/*
 * Call fn for each stream whose name sorts after `after` (NULL: all), in name order (bytewise).
 * Returns 0, fn's negative value, or -EIO.
 */
SP_MUST_CHECK int sp_cat_stream_foreach(struct sp_cat *cat, const char *after,
					sp_cat_stream_fn fn, void *arg);

/*
 * Call fn for each shard of stream whose id sorts after `after` (NULL: all), in shard-index
 * order. Returns 0, fn's negative value, or -EIO.
 */
SP_MUST_CHECK int sp_cat_shard_foreach(struct sp_cat *cat, const char *stream, const char *after,
				       sp_cat_shard_fn fn, void *arg);

/* Account-wide figures for CreateStream's quotas. Returns 0 or -EIO. */
SP_MUST_CHECK int sp_cat_quota_counts(struct sp_cat *cat, int64_t *open_shards,
				      int64_t *creating_streams);

/*
 * Mark a stream DELETING (one transaction, catalog_version bumped; the new version becomes its
 * delete_version), and its consumers with it (DELETING, due at once: they go at the next
 * sp_cat_consumers_advance(), or with the stream). A stream already DELETING is left as it is.
 * Returns 0, -ENOENT or -EIO.
 */
SP_MUST_CHECK int sp_cat_stream_mark_deleting(struct sp_cat *cat, const char *name);

/*
 * The dataplane has applied snapshot `version`: streams CREATING with create_version <= version
 * become ACTIVE, streams DELETING with delete_version <= version are removed with their shards.
 * All of it is one transaction with one catalog_version bump, and only if something changed.
 * Returns the number of streams changed (>= 0) or -EIO.
 */
SP_MUST_CHECK int sp_cat_apply_acked(struct sp_cat *cat, int64_t version);

/* The persisted dataplane boot epoch (0 until the first dataplane said hello). 0 or -EIO. */
SP_MUST_CHECK int sp_cat_epoch(struct sp_cat *cat, uint32_t *epoch);

/*
 * Increment the boot epoch durably and return the new value. Returns 0, -EOVERFLOW when the
 * epoch field of sequence numbers is exhausted (nothing changes), or -EIO.
 */
SP_MUST_CHECK int sp_cat_epoch_next(struct sp_cat *cat, uint32_t *epoch);

/* The key that seals pagination tokens (SP_CAT_TOKEN_KEY_BYTES bytes, fixed per catalog). */
const uint8_t *sp_cat_token_key(const struct sp_cat *cat);

/*
 * The snapshot the dataplane and `catalog_get` see, read in one transaction:
 * {"catalog_version":V,"streams":[{"name":..,"arn":..,"status":..,"mode":..,
 *  "retention_hours":..,"created_ms":..,"encryption":"KMS"|"NONE","key_id":..,"stream_tag":..,
 *  "max_record_bytes":..,"quota_records_per_s":..,"quota_bytes_per_s":..,"shard_metrics":..,
 *  "shards":[{"shard_id":..,"index":..,"starting_hash_key":..,"ending_hash_key":..,
 *  "parent_shard_id":..,"adjacent_parent_shard_id":..,"starting_seq":..,"ending_seq":..,
 *  "owner_lcore":..,"past_owners":[w,..]}]}]}
 * Streams are sorted by name, shards by index; NULL columns are JSON null, but encryption
 * ("NONE" when unset) and key_id (the KeyId as the client gave it, "" when not encrypted).
 * owner_lcore is the worker that owns the shard (appends to it); past_owners, present only when
 * the shard has any, the workers that owned it before a move and may still hold records of it
 * in their own store (oldest ownership first, distinct, never owner_lcore; shard_move,
 * catalog_owners.c).
 * Returns 0 (*out holds a new reference), -EIO or -ENOMEM.
 */
SP_MUST_CHECK int sp_cat_snapshot_json(struct sp_cat *cat, json_t **out);

/*
 * ---- Tags, enhanced monitoring, account figures (catalog_tags.c) ----
 *
 * Tags are not catalog content the dataplane sees: their changes commit without a
 * catalog_version bump and push nothing. Shard-level metrics are in the snapshot
 * ("shard_metrics"), so changing them bumps the version like any stream setting.
 */

/* Tag callback: return 0 to go on, > 0 to stop (not an error), < 0 to fail with that. */
typedef int (*sp_cat_tag_fn)(void *arg, const char *key, const char *value);

/*
 * Add or overwrite n tags (distinct keys) of a stream in one transaction. Returns 0, -ENOENT
 * (no such stream), -E2BIG (the stream would then have more than `max` tags; nothing
 * changes) or -EIO.
 */
SP_MUST_CHECK int sp_cat_tags_put(struct sp_cat *cat, const char *stream,
				  const struct sp_cat_tag *tags, size_t n, size_t max);

/* Remove the tags with these keys (unknown keys are ignored). Returns 0, -ENOENT or -EIO. */
SP_MUST_CHECK int sp_cat_tags_remove(struct sp_cat *cat, const char *stream,
				     const char *const *keys, size_t n);

/*
 * Call fn for each tag of stream whose key sorts after `after` (NULL: all), in key order
 * (bytewise). Returns 0, fn's negative value, or -EIO.
 */
SP_MUST_CHECK int sp_cat_tags_foreach(struct sp_cat *cat, const char *stream, const char *after,
				      sp_cat_tag_fn fn, void *arg);

/*
 * Set a stream's shard-level metrics (a bit set of SP_K_METRIC_*) in one transaction that
 * bumps catalog_version. Returns 1 (changed), 0 (already so: no bump), -ENOENT, -EINVAL (bits
 * outside SP_K_METRIC_ALL) or -EIO.
 */
SP_MUST_CHECK int sp_cat_stream_set_metrics(struct sp_cat *cat, const char *name, uint32_t metrics);

/*
 * Set a stream's encryption: "KMS" with a non-empty key_id (the KeyId as the client gave it),
 * or "NONE" with key_id "" (stored as NULL). A change bumps catalog_version and records an
 * 'encryption' stream event at now_ms (the rolling limit of Start/StopStreamEncryption), in
 * one transaction. Returns 1 (changed), 0 (already so: no bump, no event), -ENOENT, -EINVAL
 * (another word, a KMS without key or a NONE with one, a key_id of SP_CAT_KEY_ID_MAX_BYTES or
 * more) or -EIO. Any state is accepted; the caller decides which states may change.
 */
SP_MUST_CHECK int sp_cat_stream_set_encryption(struct sp_cat *cat, const char *name,
					       const char *encryption, const char *key_id,
					       int64_t now_ms);

/* Streams in ON_DEMAND mode, any state (DescribeLimits). Returns 0 or -EIO. */
SP_MUST_CHECK int sp_cat_on_demand_count(struct sp_cat *cat, int64_t *count);

/*
 * ---- Enhanced fan-out consumers (catalog_consumers.c) ----
 *
 * A consumer belongs to one stream, is unique there by name and everywhere by ARN, and goes
 * CREATING -> ACTIVE -> DELETING -> gone. The two timed steps are persisted as due_ms, taken by
 * sp_cat_consumers_advance(); every change to a consumer row bumps catalog_version (the
 * snapshot's "consumers"), tag writes do not.
 */

/* Room for a consumer ARN we generate: stream ARN, "/consumer/", name, ":", epoch seconds. */
#define SP_CAT_CONSUMER_ARN_MAX_BYTES                                                             \
	(SP_CAT_ARN_MAX_BYTES + 10 + SP_K_CONSUMER_NAME_MAX_CHARS + 24)

/* A consumer to register: status CREATING, ACTIVE from due_ms on. */
struct sp_cat_consumer {
	const char *stream;
	const char *name;
	const char *arn;
	int64_t created_ms;
	int64_t due_ms;
	const struct sp_cat_tag *tags; /* stored with it, same transaction */
	size_t n_tags;
};

/* A consumer as read back (strings copied). */
struct sp_cat_consumer_row {
	char stream[SP_K_STREAM_NAME_MAX_CHARS + 1];
	char name[SP_K_CONSUMER_NAME_MAX_CHARS + 1];
	char arn[SP_CAT_CONSUMER_ARN_MAX_BYTES];
	char status[SP_CAT_WORD_MAX_BYTES]; /* CREATING, ACTIVE or DELETING */
	int64_t created_ms;
	int64_t due_ms; /* CREATING: when it becomes ACTIVE; DELETING: when it goes; ACTIVE: 0 */
};

typedef int (*sp_cat_consumer_fn)(void *arg, const struct sp_cat_consumer_row *row);

/*
 * Register a consumer, CREATING, in one transaction that bumps catalog_version. Checked inside
 * it, in this order: -ENOENT (no such stream), -EEXIST (the stream has a consumer of that name,
 * in any status, or the ARN is taken), -E2BIG (the stream has max_total consumers, any status),
 * -EBUSY (it has max_creating consumers CREATING). Returns 0 or one of those, -EINVAL or -EIO;
 * on error nothing changes.
 */
SP_MUST_CHECK int sp_cat_consumer_insert(struct sp_cat *cat, const struct sp_cat_consumer *c,
					 size_t max_total, size_t max_creating);

/* Read the consumer `name` of stream. Returns 0, -ENOENT or -EIO. */
SP_MUST_CHECK int sp_cat_consumer_get(struct sp_cat *cat, const char *stream, const char *name,
				      struct sp_cat_consumer_row *out);

/* Read the consumer with this ARN. Returns 0, -ENOENT or -EIO. */
SP_MUST_CHECK int sp_cat_consumer_get_arn(struct sp_cat *cat, const char *arn,
					  struct sp_cat_consumer_row *out);

/*
 * Call fn for each consumer of stream whose name sorts after `after` (NULL: all), in name
 * order (bytewise); stream NULL: every consumer, by stream and name (after ignored). Returns
 * 0, fn's negative value, or -EIO.
 */
SP_MUST_CHECK int sp_cat_consumer_foreach(struct sp_cat *cat, const char *stream,
					  const char *after, sp_cat_consumer_fn fn, void *arg);

/* Consumers of stream that are not DELETING (ConsumerCount). Returns 0 or -EIO. */
SP_MUST_CHECK int sp_cat_consumer_count(struct sp_cat *cat, const char *stream, int64_t *live);

/*
 * Deregister: the consumer goes DELETING, to be removed from due_ms on (one transaction,
 * catalog_version bumped). Returns 1 (marked), 0 (already DELETING: nothing changes), -ENOENT or
 * -EIO.
 */
SP_MUST_CHECK int sp_cat_consumer_mark_deleting(struct sp_cat *cat, const char *arn,
						int64_t due_ms);

/*
 * Take every timed step due at now_ms in one transaction: CREATING consumers whose due_ms has
 * come become ACTIVE, DELETING ones are removed with their tags. Returns the number of
 * consumers changed (> 0: catalog_version was bumped), or -EIO.
 */
SP_MUST_CHECK int sp_cat_consumers_advance(struct sp_cat *cat, int64_t now_ms);

/* The earliest due_ms of a CREATING or DELETING consumer. Returns 0, -ENOENT (none) or -EIO. */
SP_MUST_CHECK int sp_cat_consumer_next_due(struct sp_cat *cat, int64_t *due_ms);

/* Call fn for each tag of the consumer with this ARN, in key order. 0, fn's value < 0, -EIO. */
SP_MUST_CHECK int sp_cat_consumer_tags_foreach(struct sp_cat *cat, const char *arn,
					       sp_cat_tag_fn fn, void *arg);

/*
 * ---- Shard-iterator settings: sent to the dataplane only ----
 *
 * The dataplane seals shard iterators under a key derived here from the token key (HMAC-SHA256
 * of it with a fixed label), so an iterator stays valid across a dataplane restart, and for as
 * long as the catalog file lives; the token key itself never leaves spate-control. A clock
 * offset, for tests only, moves the time iterators and NextTokens are issued and expire at.
 */
#define SP_CAT_ITER_KEY_BYTES 32
/* Largest clock offset either way: a year is plenty for expiry tests. */
#define SP_CAT_CLOCK_OFFSET_MAX_MS (366LL * 24 * 3600 * 1000)

/* The shard-iterator key (fixed per catalog, like the token key it is derived from). */
void sp_cat_iter_key(const struct sp_cat *cat, uint8_t out[SP_CAT_ITER_KEY_BYTES]);

/* Test mode (spate-control --test-services): let sp_cat_clock_offset_set() work. */
void sp_cat_clock_offset_allow(struct sp_cat *cat);

/*
 * Set the test clock offset (memory only; a restarted spate-control starts at 0). Returns 1
 * (changed), 0 (already ms), -EPERM (not allowed: production) or -EINVAL (|ms| above
 * SP_CAT_CLOCK_OFFSET_MAX_MS).
 */
SP_MUST_CHECK int sp_cat_clock_offset_set(struct sp_cat *cat, int64_t ms);

/* The test clock offset: 0 unless set in test mode. */
int64_t sp_cat_clock_offset_ms(const struct sp_cat *cat);

/*
 * The snapshot as the channel sends it: sp_cat_snapshot_json()'s, plus
 * "iterators":{"key":"<64 hex digits>","clock_offset_ms":N}. Not for `catalog_get`: the key
 * is for the dataplane only. Returns 0, -EIO or -ENOMEM.
 */
SP_MUST_CHECK int sp_cat_dataplane_snapshot_json(struct sp_cat *cat, json_t **out);

/*
 * ---- Reshards (catalog_reshard.c) ----
 *
 * The persisted state machine of SplitShard, MergeShards and UpdateShardCount: one row per
 * stream in reshard, every step one transaction that bumps catalog_version.
 */
#define SP_CAT_RESHARD_ARG_BYTES 64

struct sp_cat_reshard {
	char stream[SP_K_STREAM_NAME_MAX_CHARS + 1];
	char op[8]; /* "split", "merge" or "scale" */
	char arg1[SP_CAT_RESHARD_ARG_BYTES];
	char arg2[SP_CAT_RESHARD_ARG_BYTES];
	bool switched;	      /* false: pending (parents still open) */
	int64_t step_version; /* catalog_version the last step committed */
	int64_t started_ms;
};

typedef int (*sp_cat_reshard_fn)(void *arg, const struct sp_cat_reshard *r);

/*
 * Begin a reshard: the stream goes ACTIVE -> UPDATING and a pending row is written; with
 * event non-NULL a dated stream event of that kind is recorded too (rolling limits). Returns 0,
 * -EBUSY (the stream is not ACTIVE, or gone: nothing changes) or -EIO.
 */
SP_MUST_CHECK int sp_cat_reshard_begin(struct sp_cat *cat, const char *stream, const char *op,
				       const char *arg1, const char *arg2, const char *event,
				       int64_t now_ms);

/* Call fn for every reshard in progress, by stream name. 0, fn's negative value or -EIO. */
SP_MUST_CHECK int sp_cat_reshard_foreach(struct sp_cat *cat, sp_cat_reshard_fn fn, void *arg);

/*
 * The switch of a pending reshard: close the shards close_index[i] (open ones; their
 * EndingSequenceNumber close_seq[i], closed at now_ms), insert add[] (an add with ending_seq
 * set is an intermediate shard, closed at birth), raise next_shard_index, and mark the reshard
 * switched. add[i].index must be >= the stream's next_shard_index.
 */
struct sp_cat_reshard_switch {
	const char *stream;
	int64_t now_ms;
	size_t nclose;
	const int64_t *close_index;
	const char *const *close_seq;
	size_t nadd;
	const struct sp_cat_shard *add;
	int64_t next_shard_index;
};

/*
 * Returns 0, -ESTALE (not pending, a shard to close is not open, or an index would be reused:
 * nothing changes), -EINVAL (a row failed a constraint) or -EIO.
 */
SP_MUST_CHECK int sp_cat_reshard_switch(struct sp_cat *cat, const struct sp_cat_reshard_switch *sw);

/*
 * End a reshard (switched: done; pending: rolled back, nothing was closed): the row goes and
 * the stream UPDATING -> ACTIVE. Returns 0 or -EIO.
 */
SP_MUST_CHECK int sp_cat_reshard_finish(struct sp_cat *cat, const char *stream);

/* Stream events of kind after since_ms (rolling limits). 0 or -EIO. */
SP_MUST_CHECK int sp_cat_event_count(struct sp_cat *cat, const char *stream, const char *kind,
				     int64_t since_ms, int64_t *count);

/*
 * Retention of closed shards: remove every shard closed longer than its stream's retention
 * before now_ms (Kinesis: EXPIRED, listed nowhere), and every past owner (catalog_owners.c)
 * whose until_ms + its stream's retention is before now_ms or whose shard is gone. Returns the
 * number of rows removed, shards and past owners (the version is bumped when > 0), or -EIO.
 */
SP_MUST_CHECK int sp_cat_expire_closed_shards(struct sp_cat *cat, int64_t now_ms);

/*
 * Switch a stream's capacity mode (PROVISIONED or ON_DEMAND) and record a 'mode' stream event
 * at now_ms (the rolling limit of UpdateStreamMode). Returns 1 (changed, version bumped), 0
 * (already that mode: nothing changes) or -EIO.
 */
SP_MUST_CHECK int sp_cat_stream_set_mode(struct sp_cat *cat, const char *stream, const char *mode,
					 int64_t now_ms);

/*
 * ---- Shard owners (catalog_owners.c) ----
 *
 * Moving an open shard to another worker, and the shard's past owners: workers that owned it
 * before a move and may still keep records of it in their own store, until until_ms + the
 * stream's retention (removed by sp_cat_expire_closed_shards()) or until the shard or stream
 * goes. A shard is never moved back to a past owner.
 */

/* A past owner of a shard; strings point into SQLite memory valid only during the callback. */
struct sp_cat_past_owner {
	const char *stream;
	int64_t index;	  /* the shard's index */
	int owner;	  /* the worker */
	int64_t until_ms; /* when the move took the shard away from it (test clock included) */
	int64_t version;  /* the catalog_version that committed that move */
};

typedef int (*sp_cat_past_owner_fn)(void *arg, const struct sp_cat_past_owner *p);

/*
 * Call fn for each past owner of shard `index` of stream (index < 0: of all its shards;
 * stream NULL: of every shard), by stream, index and owner. Returns 0, fn's negative value, or
 * -EIO.
 */
SP_MUST_CHECK int sp_cat_past_owner_foreach(struct sp_cat *cat, const char *stream,
					    int64_t index, sp_cat_past_owner_fn fn, void *arg);

/* An open shard of any stream; strings valid only during the callback. */
struct sp_cat_open_shard {
	const char *stream;
	const char *status; /* the stream's */
	const char *shard_id;
	int64_t index;
	int owner;
};

typedef int (*sp_cat_open_shard_fn)(void *arg, const struct sp_cat_open_shard *s);

/* Call fn for every open shard, by stream and index. 0, fn's negative value, or -EIO. */
SP_MUST_CHECK int sp_cat_open_shard_foreach(struct sp_cat *cat, sp_cat_open_shard_fn fn,
					    void *arg);

/* A move of open shard `index` of stream from worker `from` (its owner now) to `to`. */
struct sp_cat_move {
	const char *stream;
	int64_t index;
	int from;
	int to;		/* != from */
	int64_t now_ms; /* the past owner's until_ms */
};

/*
 * One transaction that bumps catalog_version: owner_lcore = to, and `from` becomes a past
 * owner (until now_ms, version = the new catalog_version, returned in *version). Returns 0,
 * -ENOENT (no such stream or shard), -ESTALE (the shard is closed, or its owner is not `from`),
 * -EBUSY (the stream is not ACTIVE), -EEXIST (`to` is a past owner of the shard) or -EIO; on
 * error nothing changes.
 */
SP_MUST_CHECK int sp_cat_shard_move(struct sp_cat *cat, const struct sp_cat_move *mv,
				    int64_t *version);

#endif /* SPATE_CONTROL_CATALOG_H */
