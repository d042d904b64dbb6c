/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The catalog's enhanced fan-out consumers (tables `consumers` and `consumer_tags`, schema v5):
 * registration, the CREATING -> ACTIVE and DELETING -> gone lifecycle, and the reads the
 * Kinesis consumer operations and the snapshot need.
 *
 * A consumer row carries due_ms: for CREATING the time it becomes ACTIVE, for DELETING the time
 * it goes, 0 for ACTIVE. sp_cat_consumers_advance() moves every row whose time has come in one
 * transaction, so a spate-control killed at any point finds each consumer either before or
 * after its step, never half-way, and takes the step on its first advance after the restart.
 *
 * Invariants: a stream never holds more than the registering caller's limits (total rows, and
 * CREATING rows) — checked inside the insert transaction; (stream, name) and arn are unique;
 * every change to a consumer row bumps catalog_version (the dataplane's snapshot lists
 * consumers: SubscribeToShard resolves ARNs there), tag writes do not. A consumer never
 * outlives its stream: the stream's removal (catalog.c, cat_apply_step) removes its consumers.
 * Runs on spate-control's single thread, like catalog.c.
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

#define CONS_COLS "stream, name, arn, status, created_ms, due_ms"

static void
cons_copy(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(dst, cap, "%s", t != NULL ? (const char *)t : "");
}

static void
cons_read(sqlite3_stmt *st, struct sp_cat_consumer_row *r)
{
	memset(r, 0, sizeof(*r));
	cons_copy(r->stream, sizeof(r->stream), st, 0);
	cons_copy(r->name, sizeof(r->name), st, 1);
	cons_copy(r->arn, sizeof(r->arn), st, 2);
	cons_copy(r->status, sizeof(r->status), st, 3);
	r->created_ms = sqlite3_column_int64(st, 4);
	r->due_ms = sqlite3_column_int64(st, 5);
	SP_ASSERT(r->stream[0] != '\0' && r->name[0] != '\0');
}

/* One int64 from sql with text parameters p1 (and p2, may be NULL). 0 or -EIO. */
static int
cons_query_int(struct sp_cat *cat, const char *sql, const char *p1, const char *p2, int64_t *out)
{
	sqlite3_stmt *st;
	int rc = sp_cati_prepare(cat, sql, &st);

	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, p1);
	if (p2 != NULL) {
		sp_cati_bind_text(st, 2, p2);
	}
	rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -EIO;
	*out = rc == 0 ? sqlite3_column_int64(st, 0) : 0;
	if (rc != 0) {
		SP_CTL_ERR("catalog %s: %.60s: %s", cat->path, sql, sqlite3_errmsg(cat->db));
	}
	sqlite3_finalize(st);
	return rc;
}

struct cons_insert {
	const struct sp_cat_consumer *c;
	size_t max_total;
	size_t max_creating;
};

static int
cons_insert_tags(struct sp_cat *cat, const struct sp_cat_consumer *c)
{
	sqlite3_stmt *st;
	int rc = c->n_tags == 0
		     ? 0
		     : sp_cati_prepare(cat,
				       "INSERT OR REPLACE INTO consumer_tags(arn, key, value)"
				       " VALUES(?1, ?2, ?3)",
				       &st);

	if (rc != 0 || c->n_tags == 0) {
		return rc;
	}
	for (size_t i = 0; i < c->n_tags && rc == 0; i++) {
		SP_VERIFY(c->tags[i].key != NULL);
		sqlite3_reset(st);
		sp_cati_bind_text(st, 1, c->arn);
		sp_cati_bind_text(st, 2, c->tags[i].key);
		sp_cati_bind_text(st, 3, c->tags[i].value != NULL ? c->tags[i].value : "");
		int step = sqlite3_step(st);

		if (step != SQLITE_DONE) {
			rc = sp_cati_step_err(cat, step, "consumer tag");
		}
	}
	sqlite3_finalize(st);
	return rc;
}

static int
cons_insert_step(struct sp_cat *cat, void *arg)
{
	const struct cons_insert *in = arg;
	const struct sp_cat_consumer *c = in->c;
	int64_t n = 0;
	sqlite3_stmt *st;
	int rc =
	    cons_query_int(cat, "SELECT COUNT(*) FROM streams WHERE name = ?", c->stream, NULL, &n);

	if (rc == 0 && n == 0) {
		return -ENOENT;
	}
	if (rc == 0) {
		rc = cons_query_int(cat,
				    "SELECT COUNT(*) FROM consumers WHERE stream = ? AND name = ?",
				    c->stream, c->name, &n);
	}
	if (rc == 0 && n > 0) {
		return -EEXIST;
	}
	if (rc == 0) {
		rc = cons_query_int(cat, "SELECT COUNT(*) FROM consumers WHERE stream = ?",
				    c->stream, NULL, &n);
	}
	if (rc == 0 && n >= (int64_t)in->max_total) {
		return -E2BIG;
	}
	if (rc == 0) {
		rc = cons_query_int(cat,
				    "SELECT COUNT(*) FROM consumers WHERE stream = ?"
				    " AND status = 'CREATING'",
				    c->stream, NULL, &n);
	}
	if (rc == 0 && n >= (int64_t)in->max_creating) {
		return -EBUSY;
	}
	if (rc == 0) {
		rc = sp_cati_prepare(cat,
				     "INSERT INTO consumers(" CONS_COLS ")"
				     " VALUES(?1, ?2, ?3, 'CREATING', ?4, ?5)",
				     &st);
	}
	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, c->stream);
	sp_cati_bind_text(st, 2, c->name);
	sp_cati_bind_text(st, 3, c->arn);
	sqlite3_bind_int64(st, 4, c->created_ms);
	sqlite3_bind_int64(st, 5, c->due_ms);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		/* the arn is unique too: a consumer of the same name registered in the same second
		 */
		int ext = sqlite3_extended_errcode(cat->db);

		return ext == SQLITE_CONSTRAINT_UNIQUE ? -EEXIST
						       : sp_cati_step_err(cat, rc, "consumer");
	}
	rc = cons_insert_tags(cat, c);
	return rc < 0 ? rc : 1;
}

int
sp_cat_consumer_insert(struct sp_cat *cat, const struct sp_cat_consumer *c, size_t max_total,
		       size_t max_creating)
{
	struct cons_insert in = {.c = c, .max_total = max_total, .max_creating = max_creating};

	SP_VERIFY(cat != NULL && c != NULL && c->stream != NULL && c->name != NULL);
	SP_VERIFY(c->arn != NULL && (c->n_tags == 0 || c->tags != NULL));
	int rc = sp_cati_write(cat, cons_insert_step, &in);

	SP_ASSERT(rc <= 1);
	return rc < 0 ? rc : 0;
}

/* One row of sql bound to p1 (and p2, may be NULL). 0, -ENOENT or -EIO. */
static int
cons_get(struct sp_cat *cat, const char *sql, const char *p1, const char *p2,
	 struct sp_cat_consumer_row *out)
{
	sqlite3_stmt *st;
	int rc = sp_cati_prepare(cat, sql, &st);

	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, p1);
	if (p2 != NULL) {
		sp_cati_bind_text(st, 2, p2);
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		cons_read(st, out);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = -ENOENT;
	} else {
		SP_CTL_ERR("catalog %s: reading consumer: %s", cat->path, sqlite3_errmsg(cat->db));
		rc = -EIO;
	}
	sqlite3_finalize(st);
	return rc;
}

int
sp_cat_consumer_get(struct sp_cat *cat, const char *stream, const char *name,
		    struct sp_cat_consumer_row *out)
{
	SP_VERIFY(cat != NULL && stream != NULL && name != NULL && out != NULL);
	return cons_get(cat, "SELECT " CONS_COLS " FROM consumers WHERE stream = ?1 AND name = ?2",
			stream, name, out);
}

int
sp_cat_consumer_get_arn(struct sp_cat *cat, const char *arn, struct sp_cat_consumer_row *out)
{
	SP_VERIFY(cat != NULL && arn != NULL && out != NULL);
	return cons_get(cat, "SELECT " CONS_COLS " FROM consumers WHERE arn = ?1", arn, NULL, out);
}

int
sp_cat_consumer_foreach(struct sp_cat *cat, const char *stream, const char *after,
			sp_cat_consumer_fn fn, void *arg)
{
	struct sp_cat_consumer_row row;
	sqlite3_stmt *st;
	int cb = 0;
	int rc = sp_cati_prepare(cat,
				 "SELECT " CONS_COLS " FROM consumers"
				 " WHERE (?1 IS NULL OR stream = ?1) AND (?1 IS NULL OR name > ?2)"
				 " ORDER BY stream, name",
				 &st);

	SP_VERIFY(fn != NULL);
	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, stream);
	sp_cati_bind_text(st, 2, after != NULL ? after : "");
	while (cb == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		cons_read(st, &row);
		cb = fn(arg, &row);
	}
	if (cb == 0 && rc != SQLITE_DONE) {
		SP_CTL_ERR("catalog %s: listing consumers: %s", cat->path, sqlite3_errmsg(cat->db));
		cb = -EIO;
	}
	sqlite3_finalize(st);
	return cb < 0 ? cb : 0;
}

int
sp_cat_consumer_count(struct sp_cat *cat, const char *stream, int64_t *live)
{
	SP_VERIFY(cat != NULL && stream != NULL && live != NULL);
	return cons_query_int(cat,
			      "SELECT COUNT(*) FROM consumers WHERE stream = ?"
			      " AND status != 'DELETING'",
			      stream, NULL, live);
}

struct cons_mark {
	const char *arn;
	int64_t due_ms;
};

static int
cons_mark_step(struct sp_cat *cat, void *arg)
{
	const struct cons_mark *m = arg;
	int64_t n = 0;
	sqlite3_stmt *st;
	int rc =
	    cons_query_int(cat, "SELECT COUNT(*) FROM consumers WHERE arn = ?", m->arn, NULL, &n);

	if (rc == 0 && n == 0) {
		return -ENOENT;
	}
	if (rc == 0) {
		rc = sp_cati_prepare(cat,
				     "UPDATE consumers SET status = 'DELETING', due_ms = ?2"
				     " WHERE arn = ?1 AND status != 'DELETING'",
				     &st);
	}
	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, m->arn);
	sqlite3_bind_int64(st, 2, m->due_ms);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		SP_CTL_ERR("catalog %s: marking consumer DELETING: %s", cat->path,
			   sqlite3_errmsg(cat->db));
		return -EIO;
	}
	return sqlite3_changes(cat->db) > 0 ? 1 : 0;
}

int
sp_cat_consumer_mark_deleting(struct sp_cat *cat, const char *arn, int64_t due_ms)
{
	struct cons_mark m = {.arn = arn, .due_ms = due_ms};

	SP_VERIFY(cat != NULL && arn != NULL);
	int rc = sp_cati_write(cat, cons_mark_step, &m);

	SP_ASSERT(rc <= 1);
	return rc;
}

static int
cons_advance_step(struct sp_cat *cat, void *arg)
{
	int64_t now = *(const int64_t *)arg;
	int changed = 0;
	int rc = sp_cati_exec_version(cat,
				      "UPDATE consumers SET status = 'ACTIVE', due_ms = 0"
				      " WHERE status = 'CREATING' AND due_ms <= ?",
				      now, &changed);

	if (rc == 0) {
		rc = sp_cati_exec_version(cat,
					  "DELETE FROM consumer_tags WHERE arn IN (SELECT arn FROM"
					  " consumers WHERE status = 'DELETING' AND due_ms <= ?)",
					  now, NULL);
	}
	if (rc == 0) {
		rc = sp_cati_exec_version(cat,
					  "DELETE FROM consumers WHERE status = 'DELETING'"
					  " AND due_ms <= ?",
					  now, &changed);
	}
	SP_ASSERT(changed >= 0);
	return rc < 0 ? rc : changed;
}

int
sp_cat_consumers_advance(struct sp_cat *cat, int64_t now_ms)
{
	int64_t due = 0;
	int rc;

	SP_VERIFY(cat != NULL);
	/* A read first: most calls find nothing due and need no write transaction. */
	rc = sp_cat_consumer_next_due(cat, &due);
	if (rc == -ENOENT || (rc == 0 && due > now_ms)) {
		return 0;
	}
	if (rc != 0) {
		return rc;
	}
	rc = sp_cati_write(cat, cons_advance_step, &now_ms);
	if (rc > 0) {
		SP_CTL_INFO("catalog %s: %d consumer(s) moved on", cat->path, rc);
	}
	return rc;
}

int
sp_cat_consumer_next_due(struct sp_cat *cat, int64_t *due_ms)
{
	sqlite3_stmt *st;
	int rc = sp_cati_prepare(cat,
				 "SELECT MIN(due_ms) FROM consumers"
				 " WHERE status IN ('CREATING', 'DELETING')",
				 &st);

	SP_VERIFY(due_ms != NULL);
	if (rc != 0) {
		return rc;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*due_ms = sqlite3_column_int64(st, 0);
		rc = 0;
	} else if (rc == SQLITE_ROW) {
		rc = -ENOENT;
	} else {
		SP_CTL_ERR("catalog %s: next consumer step: %s", cat->path,
			   sqlite3_errmsg(cat->db));
		rc = -EIO;
	}
	sqlite3_finalize(st);
	return rc;
}

int
sp_cat_consumer_tags_foreach(struct sp_cat *cat, const char *arn, sp_cat_tag_fn fn, void *arg)
{
	sqlite3_stmt *st;
	int cb = 0;
	int rc = sp_cati_prepare(
	    cat, "SELECT key, value FROM consumer_tags WHERE arn = ? ORDER BY key", &st);

	SP_VERIFY(arn != NULL && fn != NULL);
	if (rc != 0) {
		return rc;
	}
	sp_cati_bind_text(st, 1, arn);
	while (cb == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		cb = fn(arg, (const char *)sqlite3_column_text(st, 0),
			(const char *)sqlite3_column_text(st, 1));
	}
	if (cb == 0 && rc != SQLITE_DONE) {
		SP_CTL_ERR("catalog %s: listing consumer tags: %s", cat->path,
			   sqlite3_errmsg(cat->db));
		cb = -EIO;
	}
	sqlite3_finalize(st);
	return cb < 0 ? cb : 0;
}
