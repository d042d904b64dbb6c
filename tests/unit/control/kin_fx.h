/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fixture the unit tests of spate-control's Kinesis operations share (streams_test.c,
 * tags_test.c, reshard_test.c): a catalog (in memory, or a file that can be closed and opened
 * again to stand for a restart), the operation context, and checks of replies that compare
 * types and messages byte for byte. Include after <cmocka.h> and <jansson.h>.
 */
#ifndef SPATE_TESTS_CONTROL_KIN_FX_H
#define SPATE_TESTS_CONTROL_KIN_FX_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "ctl_streams.h"

#define T_NOW  1700000000123LL
#define T_ACCT "123456789012"

struct fx {
	struct sp_cat *cat;
	struct sp_ctl_kctx ctx;
	struct sp_ctl_kreply rep;
	int rc;
	char dir[64];  /* a file catalog's directory ("" for :memory:) */
	char path[96]; /* its catalog file */
};

/* A fixture on an in-memory catalog (file false) or a catalog file in a new directory. */
static inline int
fx_setup(void **state, unsigned n_workers, bool file)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	if (file) {
		snprintf(f->dir, sizeof(f->dir), "/tmp/sp_kin_fx.XXXXXX");
		assert_non_null(mkdtemp(f->dir));
		snprintf(f->path, sizeof(f->path), "%s/catalog.db", f->dir);
	}
	assert_int_equal(sp_cat_open(file ? f->path : ":memory:", &f->cat), 0);
	f->ctx = (struct sp_ctl_kctx){
	    .account = T_ACCT,
	    .region = "us-east-1",
	    .now_ms = T_NOW,
	    .n_workers = n_workers,
	    .shard_limit = 500,
	};
	*state = f;
	return 0;
}

static inline int
fx_teardown(void **state)
{
	struct fx *f = *state;
	char p[160];

	sp_ctl_kreply_fini(&f->rep);
	sp_cat_close(f->cat);
	if (f->dir[0] != '\0') {
		for (const char *const *s = (const char *const[]){"", "-wal", "-shm", NULL}; *s;
		     s++) {
			snprintf(p, sizeof(p), "%s%s", f->path, *s);
			(void)unlink(p);
		}
		(void)rmdir(f->dir);
	}
	free(f);
	return 0;
}

/* Close and open a file catalog again: what a SIGKILLed spate-control finds on restart. */
static inline void
fx_reopen(struct fx *f)
{
	assert_true(f->dir[0] != '\0');
	sp_cat_close(f->cat);
	assert_int_equal(sp_cat_open(f->path, &f->cat), 0);
}

static inline void
call(struct fx *f, enum sp_kop op, const char *body)
{
	sp_ctl_kreply_fini(&f->rep);
	f->rc = sp_ctl_kinesis(f->cat, &f->ctx, op, body, strlen(body), &f->rep);
	assert_non_null(f->rep.body);
	assert_int_equal(strlen(f->rep.body), f->rep.body_len);
}

static inline int64_t
version(struct fx *f)
{
	int64_t v = -1;

	assert_int_equal(sp_cat_version(f->cat, &v), 0);
	return v;
}

/* An error reply of type `type` with exactly this message; the catalog is untouched. */
static inline void
expect_err(struct fx *f, enum sp_kop op, const char *body, const char *type, const char *msg)
{
	int64_t before = version(f);

	call(f, op, body);
	assert_int_equal(f->rc, 0);
	if (f->rep.err == SP_KERR_NONE) {
		fail_msg("%s: succeeded, expected %s: %s", body, type, msg);
	}
	if (strcmp(sp_kerr_table[f->rep.err].type, type) != 0 || strcmp(f->rep.message, msg)) {
		fail_msg("%s\n got: %s: %s\nwant: %s: %s", body, sp_kerr_table[f->rep.err].type,
			 f->rep.message, type, msg);
	}
	assert_int_equal(f->rep.status, sp_kerr_table[f->rep.err].status);
	assert_int_equal(f->rep.body_len, 0);
	assert_int_equal(f->rep.message_upper, strcmp(type, "SerializationException") == 0);
	assert_false(f->rep.catalog_changed);
	assert_int_equal(version(f), before);
}

static inline void
expect_valid(struct fx *f, enum sp_kop op, const char *body, const char *msg)
{
	expect_err(f, op, body, "ValidationException", msg);
}

static inline void
expect_ser(struct fx *f, enum sp_kop op, const char *body, const char *msg)
{
	expect_err(f, op, body, "SerializationException", msg);
}

/* A successful reply; its body parsed (NULL for an empty body). Caller decrefs. */
static inline json_t *
expect_ok(struct fx *f, enum sp_kop op, const char *body)
{
	json_error_t jerr;
	json_t *j;

	call(f, op, body);
	if (f->rep.err != SP_KERR_NONE) {
		fail_msg("%s: %s: %s", body, sp_kerr_table[f->rep.err].type, f->rep.message);
	}
	assert_int_equal(f->rc, 0);
	assert_int_equal(f->rep.status, 200);
	if (f->rep.body_len == 0) {
		return NULL;
	}
	j = json_loadb(f->rep.body, f->rep.body_len, 0, &jerr);
	assert_non_null(j);
	return j;
}

/* The dataplane acknowledges the current catalog; returns what that moved (>= 0). */
static inline int
ack(struct fx *f)
{
	int rc = sp_ctl_kinesis_applied(f->cat, &f->ctx, version(f));

	assert_true(rc >= 0);
	return rc;
}

/* Acknowledge until nothing moves: a reshard (or any step driven by applied) runs to its end. */
static inline void
fx_settle(struct fx *f)
{
	for (int i = 0; i < 8 && ack(f) > 0; i++) {
	}
	assert_int_equal(ack(f), 0);
}

/* CreateStream with shards shards, acknowledged until it settles. */
static inline void
fx_create(struct fx *f, const char *name, int shards)
{
	char body[256];

	snprintf(body, sizeof(body), "{\"StreamName\":\"%s\",\"ShardCount\":%d}", name, shards);
	assert_null(expect_ok(f, SP_KOP_CREATE_STREAM, body));
	fx_settle(f);
}

#endif /* SPATE_TESTS_CONTROL_KIN_FX_H */
