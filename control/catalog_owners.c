/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shard ownership in the catalog: moving an open shard to another worker, and the past owners
 * of a shard (table `shard_owners`, schema v4).
 *
 * A past owner is a worker that held the shard before a move and may still keep records of it
 * in its own store (the dataplane's stores are per worker). Its row says until when it owned
 * the shard (until_ms, the test clock included) and the catalog_version of the move. It goes
 * when until_ms + the stream's retention is past (the 5 s sweep, sp_cat_expire_closed_shards())
 * and with its shard or stream. While it exists the shard is never moved back to that worker:
 * one store holds at most one part of a shard's log.
 *
 * A move is one transaction that also bumps catalog_version: the owner changes and the old
 * owner becomes a past owner together, so a crash leaves the move done or not done, and the
 * snapshot that names the new owner already names the old one among the past owners.
 *
 * Invariants: a shard's current owner is never among its past owners (moves to a past owner are
 * refused; the snapshot leaves such a row out all the same); (stream, shard_index, owner) is
 * unique. Single thread, like catalog.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include <spate/assert.h>

#include "catalog.h"
#include "catalog_internal.h"
#include "ctl_log.h"

/* Step one statement to its end and finalize it; 0, or -EIO after logging what. */
static int
owners_step(struct sp_cat *cat, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		SP_CTL_ERR("catalog %s: %s: %s", cat->path, what, sqlite3_errmsg(cat->db));
		return -EIO;
	}
	return 0;
}

int
sp_cati_past_owners_json(struct sp_cat *cat, const char *stream, json_t *shards)
{
	sqlite3_stmt *st;
	size_t i = 0;
	int rc = sp_cati_prepare(cat,
				 "SELECT shard_index, owner FROM shard_owners o WHERE stream = ?1"
				 " AND NOT EXISTS(SELECT 1 FROM shards s WHERE s.stream = ?1"
				 "  AND s.shard_index = o.shard_index AND s.owner_lcore = o.owner)"
				 " ORDER BY shard_index, until_ms, owner",
				 &st);

	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, stream);
	/* Both are in index order: walk the shards alongside the rows. Per shard, oldest
	 * ownership first: each store holds the part its worker appended, in that order, and a
	 * cold read asks them so (dataplane/api/api_cold.c). */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t idx = sqlite3_column_int64(st, 0);
		json_t *sh = NULL;

		while (i < json_array_size(shards)) {
			sh = json_array_get(shards, i);
			json_int_t si = json_integer_value(json_object_get(sh, "index"));

			if (si >= idx) {
				sh = si == idx ? sh : NULL;
				break;
			}
			sh = NULL;
			i++;
		}
		if (sh == NULL) {
			continue; /* a row of a shard already gone: the sweep removes it */
		}
		json_t *arr = json_object_get(sh, "past_owners");

		if (arr == NULL) {
			arr = json_array();
			if (arr == NULL || json_object_set_new(sh, "past_owners", arr) != 0) {
				sqlite3_finalize(st);
				return -ENOMEM;
			}
		}
		if (json_array_append_new(arr, json_integer(sqlite3_column_int64(st, 1))) != 0) {
			sqlite3_finalize(st);
			return -ENOMEM;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		SP_CTL_ERR("catalog %s: snapshot past owners: %s", cat->path,
			   sqlite3_errmsg(cat->db));
		return -EIO;
	}
	return 0;
}

int
sp_cat_past_owner_foreach(struct sp_cat *cat, const char *stream, int64_t index,
			  sp_cat_past_owner_fn fn, void *arg)
{
	sqlite3_stmt *st;
	int cb = 0;
	int rc = sp_cati_prepare(cat,
				 "SELECT stream, shard_index, owner, until_ms, version"
				 " FROM shard_owners WHERE (?1 IS NULL OR stream = ?1)"
				 " AND (?2 < 0 OR shard_index = ?2)"
				 " ORDER BY stream, shard_index, owner",
				 &st);

	SP_VERIFY(cat != NULL && fn != NULL);
	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, stream);
	sqlite3_bind_int64(st, 2, stream != NULL ? index : -1);
	while (cb == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct sp_cat_past_owner p = {
		    .stream = (const char *)sqlite3_column_text(st, 0),
		    .index = sqlite3_column_int64(st, 1),
		    .owner = sqlite3_column_int(st, 2),
		    .until_ms = sqlite3_column_int64(st, 3),
		    .version = sqlite3_column_int64(st, 4),
		};

		cb = fn(arg, &p);
	}
	if (cb == 0 && rc != SQLITE_DONE) {
		SP_CTL_ERR("catalog %s: listing past owners: %s", cat->path,
			   sqlite3_errmsg(cat->db));
		cb = -EIO;
	}
	sqlite3_finalize(st);
	return cb < 0 ? cb : 0;
}

int
sp_cat_open_shard_foreach(struct sp_cat *cat, sp_cat_open_shard_fn fn, void *arg)
{
	sqlite3_stmt *st;
	int cb = 0;
	int rc = sp_cati_prepare(cat,
				 "SELECT s.stream, t.status, s.shard_id, s.shard_index,"
				 " s.owner_lcore FROM shards s JOIN streams t ON t.name = s.stream"
				 " WHERE s.ending_seq IS NULL ORDER BY s.stream, s.shard_index,"
				 " s.shard_id",
				 &st);

	SP_VERIFY(cat != NULL && fn != NULL);
	if (rc != 0) {
		return rc;
	}
	while (cb == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct sp_cat_open_shard s = {
		    .stream = (const char *)sqlite3_column_text(st, 0),
		    .status = (const char *)sqlite3_column_text(st, 1),
		    .shard_id = (const char *)sqlite3_column_text(st, 2),
		    .index = sqlite3_column_int64(st, 3),
		    .owner = sqlite3_column_int(st, 4),
		};

		cb = fn(arg, &s);
	}
	if (cb == 0 && rc != SQLITE_DONE) {
		SP_CTL_ERR("catalog %s: listing open shards: %s", cat->path,
			   sqlite3_errmsg(cat->db));
		cb = -EIO;
	}
	sqlite3_finalize(st);
	return cb < 0 ? cb : 0;
}

struct owners_move {
	const struct sp_cat_move *mv;
	int64_t version; /* the version the move commits */
};

/* The shard as the move finds it: -ENOENT, -ESTALE (closed, or owned by another than from),
 * -EBUSY (its stream is not ACTIVE), -EEXIST (to is a past owner), 0 or -EIO. */
static int
owners_move_check(struct sp_cat *cat, const struct sp_cat_move *mv)
{
	sqlite3_stmt *st;
	int rc = sp_cati_prepare(cat,
				 "SELECT s.owner_lcore, s.ending_seq IS NULL, t.status = 'ACTIVE',"
				 " EXISTS(SELECT 1 FROM shard_owners o WHERE o.stream = s.stream"
				 "  AND o.shard_index = s.shard_index AND o.owner = ?3)"
				 " FROM shards s JOIN streams t ON t.name = s.stream"
				 " WHERE s.stream = ?1 AND s.shard_index = ?2",
				 &st);

	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, mv->stream);
	sqlite3_bind_int64(st, 2, mv->index);
	sqlite3_bind_int(st, 3, mv->to);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_int(st, 1) == 0 || sqlite3_column_int(st, 0) != mv->from) {
			rc = -ESTALE;
		} else if (sqlite3_column_int(st, 2) == 0) {
			rc = -EBUSY;
		} else {
			rc = sqlite3_column_int(st, 3) != 0 ? -EEXIST : 0;
		}
	} else if (rc == SQLITE_DONE) {
		rc = -ENOENT;
	} else {
		SP_CTL_ERR("catalog %s: reading shard %lld of %s: %s", cat->path,
			   (long long)mv->index, mv->stream, sqlite3_errmsg(cat->db));
		rc = -EIO;
	}
	sqlite3_finalize(st);
	return rc;
}

static int
owners_move_step(struct sp_cat *cat, void *arg)
{
	struct owners_move *m = arg;
	const struct sp_cat_move *mv = m->mv;
	sqlite3_stmt *st;
	int64_t ver;
	int rc = owners_move_check(cat, mv);

	if (rc == 0) {
		rc = sp_cat_version(cat, &ver);
	}
	if (rc == 0) {
		m->version = ver + 1; /* the version this transaction commits */
		rc = sp_cati_prepare(cat,
				     "UPDATE shards SET owner_lcore = ?3 WHERE stream = ?1"
				     " AND shard_index = ?2 AND ending_seq IS NULL",
				     &st);
	}
	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, mv->stream);
	sqlite3_bind_int64(st, 2, mv->index);
	sqlite3_bind_int(st, 3, mv->to);
	rc = owners_step(cat, st, "moving a shard");
	if (rc == 0 && sqlite3_changes(cat->db) != 1) {
		return -ESTALE; /* two open shards of one index: a hand-edited catalog */
	}
	if (rc == 0) {
		/* OR REPLACE: a row of the old owner can only be one a hand edit left behind */
		rc = sp_cati_prepare(cat,
				     "INSERT OR REPLACE INTO shard_owners(stream, shard_index,"
				     " owner, until_ms, version) VALUES(?, ?, ?, ?, ?)",
				     &st);
	}
	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, mv->stream);
	sqlite3_bind_int64(st, 2, mv->index);
	sqlite3_bind_int(st, 3, mv->from);
	sqlite3_bind_int64(st, 4, mv->now_ms);
	sqlite3_bind_int64(st, 5, m->version);
	rc = owners_step(cat, st, "recording a past owner");
	return rc != 0 ? rc : 1;
}

int
sp_cat_shard_move(struct sp_cat *cat, const struct sp_cat_move *mv, int64_t *version)
{
	struct owners_move m = {.mv = mv};
	int rc;

	SP_VERIFY(cat != NULL && mv != NULL && mv->stream != NULL && version != NULL);
	SP_VERIFY(mv->from >= 0 && mv->to >= 0 && mv->from != mv->to);
	rc = sp_cati_write(cat, owners_move_step, &m);
	if (rc < 0) {
		return rc;
	}
	SP_VERIFY(rc == 1 && m.version > 0);
	*version = m.version;
	return 0;
}

int
sp_cati_expire_past_owners(struct sp_cat *cat, int64_t now_ms, int *changed)
{
	sqlite3_stmt *st;
	int rc = sp_cati_prepare(
	    cat,
	    "DELETE FROM shard_owners WHERE until_ms < ? - COALESCE("
	    " (SELECT retention_hours FROM streams WHERE streams.name = shard_owners.stream), 24)"
	    " * 3600000 OR NOT EXISTS(SELECT 1 FROM shards s WHERE s.stream = shard_owners.stream"
	    "  AND s.shard_index = shard_owners.shard_index)",
	    &st);

	if (rc != 0) {
		return rc;
	}
	sqlite3_bind_int64(st, 1, now_ms);
	rc = owners_step(cat, st, "expiring past owners");
	if (rc == 0) {
		*changed += sqlite3_changes(cat->db);
	}
	return rc;
}
