/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reshards in the catalog: the persisted state machine behind SplitShard, MergeShards and
 * UpdateShardCount (control/ctl_reshard.c drives it), the dated stream events that rolling
 * limits count, and the expiry of closed shards.
 *
 * A reshard is one row of `reshards` per stream, and every step is one transaction that also
 * bumps catalog_version:
 *   begin    stream ACTIVE -> UPDATING, row inserted with step 'pending';
 *   switch   parents closed, children inserted, step 'switched';
 *   finish   stream UPDATING -> ACTIVE, row deleted (also how a pending reshard rolls back).
 * A crash between steps leaves the catalog at the last committed step, which the driver
 * continues from; no step can be half done. step_version is the catalog_version the step
 * committed, so the driver knows when the dataplane serves it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include <spate/assert.h>

#include "catalog.h"
#include "catalog_internal.h"
#include "ctl_log.h"

/* The catalog_version the running transaction will commit (it bumps once, at the end). */
#define CAT_NEXT_VERSION_SQL                                                                       \
	"(SELECT CAST(value AS INTEGER) + 1 FROM meta WHERE key = 'catalog_version')"

/* Step one statement; 0, or -EIO after logging what. */
static int
cat_rs_step(struct sp_cat *cat, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		SP_CTL_ERR("catalog %s: %s: %s", cat->path, what, sqlite3_errmsg(cat->db));
		return -EIO;
	}
	return 0;
}

struct cat_rs_begin {
	const char *stream;
	const char *op;
	const char *arg1;
	const char *arg2;
	const char *event; /* NULL: none */
	int64_t now_ms;
};

static int
cat_rs_begin_step(struct sp_cat *cat, void *arg)
{
	const struct cat_rs_begin *b = arg;
	sqlite3_stmt *st;
	int rc = sp_cati_prepare(cat,
				 "UPDATE streams SET status = 'UPDATING'"
				 " WHERE name = ? AND status = 'ACTIVE'",
				 &st);

	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, b->stream);
	rc = cat_rs_step(cat, st, "reshard begin");
	if (rc != 0) {
		return rc;
	}
	if (sqlite3_changes(cat->db) != 1) {
		return -EBUSY; /* not ACTIVE (or gone): nothing changes */
	}
	rc = sp_cati_prepare(cat,
			     "INSERT INTO reshards(stream, op, arg1, arg2, step, step_version,"
			     " started_ms) VALUES(?, ?, ?, ?, 'pending', " CAT_NEXT_VERSION_SQL
			     ", ?)",
			     &st);
	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, b->stream);
	sp_cati_bind_text(st, 2, b->op);
	sp_cati_bind_text(st, 3, b->arg1);
	sp_cati_bind_text(st, 4, b->arg2);
	sqlite3_bind_int64(st, 5, b->now_ms);
	rc = cat_rs_step(cat, st, "reshard insert");
	if (rc != 0 || b->event == NULL) {
		return rc != 0 ? rc : 1;
	}
	rc = sp_cati_prepare(cat, "INSERT INTO stream_events(stream, kind, at_ms) VALUES(?, ?, ?)",
			     &st);
	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, b->stream);
	sp_cati_bind_text(st, 2, b->event);
	sqlite3_bind_int64(st, 3, b->now_ms);
	rc = cat_rs_step(cat, st, "stream event");
	return rc != 0 ? rc : 1;
}

int
sp_cat_reshard_begin(struct sp_cat *cat, const char *stream, const char *op, const char *arg1,
		     const char *arg2, const char *event, int64_t now_ms)
{
	struct cat_rs_begin b = {stream, op, arg1, arg2, event, now_ms};
	int rc;

	SP_VERIFY(cat != NULL && stream != NULL && op != NULL && arg1 != NULL && arg2 != NULL);
	rc = sp_cati_write(cat, cat_rs_begin_step, &b);
	return rc < 0 ? rc : 0;
}

int
sp_cat_reshard_foreach(struct sp_cat *cat, sp_cat_reshard_fn fn, void *arg)
{
	sqlite3_stmt *st;
	int cb = 0;
	int rc = sp_cati_prepare(cat,
				 "SELECT stream, op, arg1, arg2, step, step_version, started_ms"
				 " FROM reshards ORDER BY stream",
				 &st);

	SP_VERIFY(fn != NULL);
	if (rc != 0) {
		return rc;
	}
	while (cb == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct sp_cat_reshard r;

		memset(&r, 0, sizeof(r));
		snprintf(r.stream, sizeof(r.stream), "%s",
			 (const char *)sqlite3_column_text(st, 0));
		snprintf(r.op, sizeof(r.op), "%s", (const char *)sqlite3_column_text(st, 1));
		snprintf(r.arg1, sizeof(r.arg1), "%s", (const char *)sqlite3_column_text(st, 2));
		snprintf(r.arg2, sizeof(r.arg2), "%s", (const char *)sqlite3_column_text(st, 3));
		r.switched = strcmp((const char *)sqlite3_column_text(st, 4), "switched") == 0;
		r.step_version = sqlite3_column_int64(st, 5);
		r.started_ms = sqlite3_column_int64(st, 6);
		cb = fn(arg, &r);
	}
	if (cb == 0 && rc != SQLITE_DONE) {
		SP_CTL_ERR("catalog %s: listing reshards: %s", cat->path, sqlite3_errmsg(cat->db));
		cb = -EIO;
	}
	sqlite3_finalize(st);
	return cb < 0 ? cb : 0;
}

static int
cat_rs_close(struct sp_cat *cat, const struct sp_cat_reshard_switch *sw, size_t i)
{
	sqlite3_stmt *st;
	int rc = sp_cati_prepare(cat,
				 "UPDATE shards SET ending_seq = ?, closed_ms = ?"
				 " WHERE stream = ? AND shard_index = ? AND ending_seq IS NULL",
				 &st);

	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, sw->close_seq[i]);
	sqlite3_bind_int64(st, 2, sw->now_ms);
	sp_cati_bind_text(st, 3, sw->stream);
	sqlite3_bind_int64(st, 4, sw->close_index[i]);
	rc = cat_rs_step(cat, st, "closing a shard");
	if (rc == 0 && sqlite3_changes(cat->db) != 1) {
		return -ESTALE; /* not open any more: the plan was made on another state */
	}
	return rc;
}

static int
cat_rs_switch_step(struct sp_cat *cat, void *arg)
{
	const struct sp_cat_reshard_switch *sw = arg;
	sqlite3_stmt *st;
	int rc = sp_cati_prepare(
	    cat,
	    "UPDATE reshards SET step = 'switched', step_version = " CAT_NEXT_VERSION_SQL
	    " WHERE stream = ? AND step = 'pending'",
	    &st);

	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, sw->stream);
	rc = cat_rs_step(cat, st, "reshard switch");
	if (rc == 0 && sqlite3_changes(cat->db) != 1) {
		return -ESTALE;
	}
	for (size_t i = 0; rc == 0 && i < sw->nclose; i++) {
		rc = cat_rs_close(cat, sw, i);
	}
	if (rc == 0) {
		rc = sp_cati_insert_shards(cat, sw->stream, sw->add, sw->nadd, sw->now_ms);
	}
	if (rc == 0) {
		rc = sp_cati_prepare(cat,
				     "UPDATE streams SET next_shard_index = ?"
				     " WHERE name = ? AND next_shard_index <= ?",
				     &st);
	}
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, sw->next_shard_index);
		sp_cati_bind_text(st, 2, sw->stream);
		sqlite3_bind_int64(st, 3, sw->next_shard_index);
		rc = cat_rs_step(cat, st, "next shard index");
	}
	if (rc == 0 && sqlite3_changes(cat->db) != 1) {
		rc = -ESTALE; /* an index would be reused */
	}
	return rc != 0 ? rc : 1;
}

int
sp_cat_reshard_switch(struct sp_cat *cat, const struct sp_cat_reshard_switch *sw)
{
	int rc;

	SP_VERIFY(cat != NULL && sw != NULL && sw->stream != NULL);
	SP_VERIFY(sw->nclose == 0 || (sw->close_index != NULL && sw->close_seq != NULL));
	SP_VERIFY(sw->nadd == 0 || sw->add != NULL);
	rc = sp_cati_write(cat, cat_rs_switch_step, (void *)sw);
	return rc < 0 ? rc : 0;
}

static int
cat_rs_finish_step(struct sp_cat *cat, void *arg)
{
	const char *stream = arg;
	sqlite3_stmt *st;
	int changed;
	int rc = sp_cati_prepare(cat, "DELETE FROM reshards WHERE stream = ?", &st);

	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, stream);
	rc = cat_rs_step(cat, st, "reshard finish");
	if (rc != 0) {
		return rc;
	}
	changed = sqlite3_changes(cat->db);
	rc = sp_cati_prepare(cat,
			     "UPDATE streams SET status = 'ACTIVE'"
			     " WHERE name = ? AND status = 'UPDATING'",
			     &st);
	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, stream);
	rc = cat_rs_step(cat, st, "reshard finish");
	changed += sqlite3_changes(cat->db);
	return rc != 0 ? rc : changed > 0;
}

int
sp_cat_reshard_finish(struct sp_cat *cat, const char *stream)
{
	int rc;

	SP_VERIFY(cat != NULL && stream != NULL);
	rc = sp_cati_write(cat, cat_rs_finish_step, (void *)stream);
	return rc < 0 ? rc : 0;
}

int
sp_cat_event_count(struct sp_cat *cat, const char *stream, const char *kind, int64_t since_ms,
		   int64_t *count)
{
	sqlite3_stmt *st;
	int rc = sp_cati_prepare(cat,
				 "SELECT COUNT(*) FROM stream_events"
				 " WHERE stream = ? AND kind = ? AND at_ms > ?",
				 &st);

	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, stream);
	sp_cati_bind_text(st, 2, kind);
	sqlite3_bind_int64(st, 3, since_ms);
	rc = sqlite3_step(st);
	*count = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -EIO;
}

static int
cat_expire_step(struct sp_cat *cat, void *arg)
{
	int64_t now_ms = *(const int64_t *)arg;
	sqlite3_stmt *st;
	int changed;
	int rc = sp_cati_prepare(
	    cat,
	    "DELETE FROM shards WHERE closed_ms IS NOT NULL AND closed_ms < ? - COALESCE("
	    " (SELECT retention_hours FROM streams WHERE streams.name = shards.stream), 24)"
	    " * 3600000",
	    &st);

	if (rc != 0) {
		return rc;
	}
	sqlite3_bind_int64(st, 1, now_ms);
	rc = cat_rs_step(cat, st, "expiring closed shards");
	changed = sqlite3_changes(cat->db);
	if (rc == 0) {
		/* after the shards: the past owners of a shard just removed go with it */
		rc = sp_cati_expire_past_owners(cat, now_ms, &changed);
	}
	if (rc == 0) {
		/* events older than every rolling window (a day) are never counted again */
		rc = sp_cati_prepare(cat, "DELETE FROM stream_events WHERE at_ms < ? - 86400000",
				     &st);
	}
	if (rc == 0) {
		sqlite3_bind_int64(st, 1, now_ms);
		rc = cat_rs_step(cat, st, "old stream events");
	}
	return rc != 0 ? rc : changed;
}

int
sp_cat_expire_closed_shards(struct sp_cat *cat, int64_t now_ms)
{
	SP_VERIFY(cat != NULL);
	return sp_cati_write(cat, cat_expire_step, &now_ms);
}

struct cat_mode {
	const char *stream;
	const char *mode;
	int64_t now_ms;
};

static int
cat_mode_step(struct sp_cat *cat, void *arg)
{
	const struct cat_mode *m = arg;
	sqlite3_stmt *st;
	int rc = sp_cati_prepare(
	    cat, "UPDATE streams SET mode = ?2 WHERE name = ?1 AND mode IS NOT ?2", &st);

	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, m->stream);
	sp_cati_bind_text(st, 2, m->mode);
	rc = cat_rs_step(cat, st, "stream mode");
	if (rc != 0 || sqlite3_changes(cat->db) == 0) {
		return rc;
	}
	rc = sp_cati_prepare(
	    cat, "INSERT INTO stream_events(stream, kind, at_ms) VALUES(?, 'mode', ?)", &st);
	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, m->stream);
	sqlite3_bind_int64(st, 2, m->now_ms);
	rc = cat_rs_step(cat, st, "stream event");
	return rc != 0 ? rc : 1;
}

int
sp_cat_stream_set_mode(struct sp_cat *cat, const char *stream, const char *mode, int64_t now_ms)
{
	struct cat_mode m = {stream, mode, now_ms};

	SP_VERIFY(cat != NULL && stream != NULL && mode != NULL);
	return sp_cati_write(cat, cat_mode_step, &m);
}
