/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of control/ctl_tickets.c: new keys written with mode 0600 and read back by a
 * second open (a restart), rotation (the old current key becomes previous, the file follows),
 * rotation when due and catch-up at open after one period and after two (no previous key then),
 * a clock that went back, a damaged file replaced, a failed write leaving the keys in force,
 * no temporary file left, and the tls_keys channel message.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <spate/hex.h>

#include "ctl_tickets.h"

#define KEY_LEN SP_CHAN_TLS_TICKET_KEY_LEN
#define PERIOD  3600
#define T0      1700000000

struct fx {
	char dir[64];
	char path[128];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/spate-tickets-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, SP_CTL_TICKETS_FILE_NAME);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char tmp[160];

	snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
	(void)unlink(tmp);
	(void)unlink(f->path);
	assert_int_equal(rmdir(f->dir), 0); /* nothing else left behind */
	free(f);
	return 0;
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static mode_t
file_mode(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 0777;
}

static void
test_new_and_reopen(void **state)
{
	struct fx *f = *state;
	struct sp_ctl_tickets a, b;
	char tmp[160];

	assert_int_equal(sp_ctl_tickets_open(&a, f->path, PERIOD, T0), 0);
	assert_false(a.has_prev);
	assert_int_equal(a.rotated_s, T0);
	assert_int_equal(file_mode(f->path), 0600);
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
	assert_int_equal(access(tmp, F_OK), -1);

	/* a restart within the period: the same keys, not rotated */
	assert_int_equal(sp_ctl_tickets_open(&b, f->path, PERIOD, T0 + PERIOD - 1), 0);
	assert_memory_equal(a.cur, b.cur, KEY_LEN);
	assert_false(b.has_prev);
	assert_int_equal(b.rotated_s, T0);
	assert_int_equal(b.rotations, 0);

	/* two instances drawing keys do not draw the same ones */
	assert_int_equal(unlink(f->path), 0);
	assert_int_equal(sp_ctl_tickets_open(&b, f->path, PERIOD, T0), 0);
	assert_memory_not_equal(a.cur, b.cur, KEY_LEN);
	sp_ctl_tickets_clear(&a);
	sp_ctl_tickets_clear(&b);
}

static void
test_rotate_keeps_previous(void **state)
{
	struct fx *f = *state;
	struct sp_ctl_tickets t, r;
	uint8_t k1[KEY_LEN], k2[KEY_LEN];

	assert_int_equal(sp_ctl_tickets_open(&t, f->path, PERIOD, T0), 0);
	memcpy(k1, t.cur, KEY_LEN);
	assert_int_equal(sp_ctl_tickets_rotate(&t, T0 + 10), 0);
	assert_true(t.has_prev);
	assert_memory_equal(t.prev, k1, KEY_LEN);
	assert_memory_not_equal(t.cur, k1, KEY_LEN);
	assert_int_equal(t.rotated_s, T0 + 10);
	assert_int_equal(t.rotations, 1);
	memcpy(k2, t.cur, KEY_LEN);

	/* persisted: a restart finds both */
	assert_int_equal(sp_ctl_tickets_open(&r, f->path, PERIOD, T0 + 20), 0);
	assert_true(r.has_prev);
	assert_memory_equal(r.cur, k2, KEY_LEN);
	assert_memory_equal(r.prev, k1, KEY_LEN);
	assert_int_equal(file_mode(f->path), 0600);

	/* a second rotation: k1 is gone, k2 is previous */
	assert_int_equal(sp_ctl_tickets_rotate(&t, T0 + 30), 0);
	assert_memory_equal(t.prev, k2, KEY_LEN);
	assert_memory_not_equal(t.cur, k1, KEY_LEN);
	assert_memory_not_equal(t.cur, k2, KEY_LEN);
	assert_int_equal(sp_ctl_tickets_open(&r, f->path, PERIOD, T0 + 40), 0);
	assert_memory_equal(r.prev, k2, KEY_LEN);
	assert_memory_equal(r.cur, t.cur, KEY_LEN);
	sp_ctl_tickets_clear(&t);
	sp_ctl_tickets_clear(&r);
}

static void
test_tick_and_catch_up(void **state)
{
	struct fx *f = *state;
	struct sp_ctl_tickets t, r;
	uint8_t k1[KEY_LEN], k2[KEY_LEN];

	assert_int_equal(sp_ctl_tickets_open(&t, f->path, PERIOD, T0), 0);
	memcpy(k1, t.cur, KEY_LEN);
	assert_int_equal(sp_ctl_tickets_tick(&t, T0 + PERIOD - 1), 0);
	assert_int_equal(sp_ctl_tickets_tick(&t, T0 - 5000), 0); /* the clock went back */
	assert_memory_equal(t.cur, k1, KEY_LEN);
	assert_int_equal(sp_ctl_tickets_tick(&t, T0 + PERIOD), 1);
	assert_memory_equal(t.prev, k1, KEY_LEN);
	assert_int_equal(t.rotated_s, T0 + PERIOD);
	memcpy(k2, t.cur, KEY_LEN);

	/* control down for one period and a half: one rotation at open, k2 kept as previous */
	assert_int_equal(sp_ctl_tickets_open(&r, f->path, PERIOD, T0 + PERIOD + PERIOD * 3 / 2), 0);
	assert_true(r.has_prev);
	assert_memory_equal(r.prev, k2, KEY_LEN);
	assert_memory_not_equal(r.cur, k2, KEY_LEN);

	/* down for two periods or more: every key is stale, a fresh one and no previous */
	assert_int_equal(sp_ctl_tickets_open(&t, f->path, PERIOD, r.rotated_s + 2 * PERIOD), 0);
	assert_false(t.has_prev);
	assert_memory_not_equal(t.cur, r.cur, KEY_LEN);
	assert_memory_not_equal(t.cur, r.prev, KEY_LEN);
	assert_int_equal(sp_ctl_tickets_open(&r, f->path, PERIOD, t.rotated_s), 0);
	assert_false(r.has_prev);
	assert_memory_equal(r.cur, t.cur, KEY_LEN);
	sp_ctl_tickets_clear(&t);
	sp_ctl_tickets_clear(&r);
}

static void
test_damaged_and_mode(void **state)
{
	struct fx *f = *state;
	struct sp_ctl_tickets t, r;

	write_file(f->path, "{\"format\":1,\"rotated_at\":5,\"current\":\"abcd\"}", 0600);
	assert_int_equal(sp_ctl_tickets_open(&t, f->path, PERIOD, T0), 0);
	assert_false(t.has_prev);
	assert_int_equal(t.rotated_s, T0);
	assert_int_equal(sp_ctl_tickets_open(&r, f->path, PERIOD, T0), 0);
	assert_memory_equal(r.cur, t.cur, KEY_LEN); /* the replacement was written */

	/* a file others may read is made private at open */
	assert_int_equal(chmod(f->path, 0644), 0);
	assert_int_equal(sp_ctl_tickets_open(&r, f->path, PERIOD, T0), 0);
	assert_int_equal(file_mode(f->path), 0600);
	assert_memory_equal(r.cur, t.cur, KEY_LEN);
	sp_ctl_tickets_clear(&t);
	sp_ctl_tickets_clear(&r);
}

static void
test_failed_write_keeps_keys(void **state)
{
	struct fx *f = *state;
	struct sp_ctl_tickets t, r;
	uint8_t k1[KEY_LEN];
	char tmp[160];

	/* a directory where the temporary file goes: the write fails (even for root) */
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
	assert_int_equal(sp_ctl_tickets_open(&t, f->path, PERIOD, T0), 0);
	memcpy(k1, t.cur, KEY_LEN);
	assert_int_equal(mkdir(tmp, 0700), 0);
	assert_int_equal(sp_ctl_tickets_rotate(&t, T0 + 1), -EEXIST);
	assert_memory_equal(t.cur, k1, KEY_LEN);
	assert_false(t.has_prev);
	assert_int_equal(t.rotated_s, T0);
	assert_int_equal(rmdir(tmp), 0);
	assert_int_equal(sp_ctl_tickets_open(&r, f->path, PERIOD, T0 + 2), 0);
	assert_memory_equal(r.cur, k1, KEY_LEN);
	sp_ctl_tickets_clear(&t);
	sp_ctl_tickets_clear(&r);
}

static void
test_message(void **state)
{
	struct fx *f = *state;
	struct sp_ctl_tickets t;
	uint8_t got[KEY_LEN];
	json_t *m;

	assert_int_equal(sp_ctl_tickets_open(&t, f->path, 7, T0), 0);
	m = sp_ctl_tickets_msg(&t);
	assert_non_null(m);
	assert_string_equal(json_string_value(json_object_get(m, "msg")), SP_CHAN_MSG_TLS_KEYS);
	assert_int_equal(json_integer_value(json_object_get(m, "rotate_s")), 7);
	assert_null(json_object_get(m, "previous"));
	assert_int_equal(
	    sp_hex_decode(json_string_value(json_object_get(m, "current")), got, KEY_LEN), 0);
	assert_memory_equal(got, t.cur, KEY_LEN);
	json_decref(m);

	assert_int_equal(sp_ctl_tickets_rotate(&t, T0 + 7), 0);
	m = sp_ctl_tickets_msg(&t);
	assert_non_null(m);
	assert_int_equal(json_string_length(json_object_get(m, "previous")), 2 * KEY_LEN);
	assert_int_equal(
	    sp_hex_decode(json_string_value(json_object_get(m, "previous")), got, KEY_LEN), 0);
	assert_memory_equal(got, t.prev, KEY_LEN);
	json_decref(m);
	sp_ctl_tickets_clear(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_new_and_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rotate_keeps_previous, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tick_and_catch_up, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_damaged_and_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failed_write_keeps_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_message, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
