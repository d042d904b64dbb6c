/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of control/ctl_buf.c: line framing across split reads, CRLF, over-long lines
 * and recovery after them, and the bounded output queue.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <spate/err.h>

#include "ctl_buf.h"

/* Next line as a NUL-terminated copy in out, or the linebuf's return code. */
static int
next_str(struct sp_ctl_linebuf *lb, char *out, size_t cap)
{
	const char *line;
	size_t len;
	int rc = sp_ctl_linebuf_next(lb, &line, &len);

	if (rc == 0) {
		assert_true(len < cap);
		memcpy(out, line, len);
		out[len] = '\0';
	}
	return rc;
}

static void
test_split_reads(void **state)
{
	struct sp_ctl_linebuf lb;
	char s[64];

	(void)state;
	assert_int_equal(sp_ctl_linebuf_init(&lb, 64), 0);
	assert_int_equal(next_str(&lb, s, sizeof(s)), SP_AGAIN);
	assert_int_equal(sp_ctl_linebuf_feed(&lb, "abc", 3), 3);
	assert_int_equal(next_str(&lb, s, sizeof(s)), SP_AGAIN);
	assert_int_equal(sp_ctl_linebuf_feed(&lb, "def\nxy", 6), 6);
	assert_int_equal(next_str(&lb, s, sizeof(s)), 0);
	assert_string_equal(s, "abcdef");
	assert_int_equal(next_str(&lb, s, sizeof(s)), SP_AGAIN);
	assert_int_equal(sp_ctl_linebuf_pending(&lb), 2);
	assert_int_equal(sp_ctl_linebuf_feed(&lb, "z\r\n\n1\n2\n", 8), 8);
	assert_int_equal(next_str(&lb, s, sizeof(s)), 0);
	assert_string_equal(s, "xyz"); /* CR before LF stripped */
	assert_int_equal(next_str(&lb, s, sizeof(s)), 0);
	assert_string_equal(s, ""); /* empty lines are lines */
	assert_int_equal(next_str(&lb, s, sizeof(s)), 0);
	assert_string_equal(s, "1");
	assert_int_equal(next_str(&lb, s, sizeof(s)), 0);
	assert_string_equal(s, "2");
	assert_int_equal(next_str(&lb, s, sizeof(s)), SP_AGAIN);
	assert_int_equal(sp_ctl_linebuf_pending(&lb), 0);
	sp_ctl_linebuf_fini(&lb);
}

/* One byte at a time, through wptr/commit, many lines: compaction keeps everything. */
static void
test_byte_at_a_time(void **state)
{
	struct sp_ctl_linebuf lb;
	const char *in = "hello world\nsecond line\nthird\n";
	char s[64];
	int got = 0;

	(void)state;
	assert_int_equal(sp_ctl_linebuf_init(&lb, 16), 0);
	for (size_t i = 0; i < strlen(in); i++) {
		size_t room;
		char *w = sp_ctl_linebuf_wptr(&lb, &room);

		assert_true(room > 0);
		*w = in[i];
		sp_ctl_linebuf_commit(&lb, 1);
		while (next_str(&lb, s, sizeof(s)) == 0) {
			const char *want[] = {"hello world", "second line", "third"};

			assert_true(got < 3);
			assert_string_equal(s, want[got]);
			got++;
		}
	}
	assert_int_equal(got, 3);
	sp_ctl_linebuf_fini(&lb);
}

static void
test_max_line(void **state)
{
	struct sp_ctl_linebuf lb;
	char s[64];

	(void)state;
	assert_int_equal(sp_ctl_linebuf_init(&lb, 8), 0);
	/* 7 bytes + newline == the bound: accepted. */
	assert_int_equal(sp_ctl_linebuf_feed(&lb, "1234567\n", 8), 8);
	assert_int_equal(next_str(&lb, s, sizeof(s)), 0);
	assert_string_equal(s, "1234567");
	/* 8 bytes without a newline fill the buffer: over-long, reported once. */
	assert_int_equal(sp_ctl_linebuf_feed(&lb, "12345678", 8), 8);
	assert_int_equal(next_str(&lb, s, sizeof(s)), -EMSGSIZE);
	/* The rest of that line is dropped, then framing resumes. */
	assert_int_equal(sp_ctl_linebuf_feed(&lb, "9abcdefg", 8), 8);
	assert_int_equal(next_str(&lb, s, sizeof(s)), SP_AGAIN);
	assert_int_equal(sp_ctl_linebuf_feed(&lb, "xx\nok\n", 6), 6);
	assert_int_equal(next_str(&lb, s, sizeof(s)), 0);
	assert_string_equal(s, "ok");
	assert_int_equal(next_str(&lb, s, sizeof(s)), SP_AGAIN);
	sp_ctl_linebuf_fini(&lb);
}

/* feed() takes only what fits; the caller drains and feeds the rest. */
static void
test_feed_partial(void **state)
{
	struct sp_ctl_linebuf lb;
	char s[64];
	const char *in = "ab\ncd\nef\n";

	(void)state;
	assert_int_equal(sp_ctl_linebuf_init(&lb, 4), 0);
	size_t n = sp_ctl_linebuf_feed(&lb, in, strlen(in));

	assert_int_equal(n, 4);
	assert_int_equal(next_str(&lb, s, sizeof(s)), 0);
	assert_string_equal(s, "ab");
	assert_int_equal(next_str(&lb, s, sizeof(s)), SP_AGAIN);
	n += sp_ctl_linebuf_feed(&lb, in + n, strlen(in) - n);
	assert_int_equal(n, 7);
	assert_int_equal(next_str(&lb, s, sizeof(s)), 0);
	assert_string_equal(s, "cd");
	sp_ctl_linebuf_fini(&lb);
}

static void
test_outbuf(void **state)
{
	struct sp_ctl_outbuf ob;
	int sv[2];
	char buf[64];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	sp_ctl_outbuf_init(&ob, 10);
	assert_int_equal(sp_ctl_outbuf_append(&ob, "hello", 5), 0);
	assert_int_equal(sp_ctl_outbuf_append(&ob, "world", 5), 0);
	assert_int_equal(sp_ctl_outbuf_append(&ob, "!", 1), -ENOBUFS);
	assert_int_equal(sp_ctl_outbuf_queued(&ob), 10);
	assert_int_equal(sp_ctl_outbuf_flush(&ob, sv[0]), 0);
	assert_int_equal(sp_ctl_outbuf_queued(&ob), 0);
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 10);
	assert_memory_equal(buf, "helloworld", 10);
	/* Fill the socket until the flush cannot finish: SP_AGAIN, bytes stay queued. */
	int rc = 0;

	for (int i = 0; i < 1000000 && rc == 0; i++) {
		assert_int_equal(sp_ctl_outbuf_append(&ob, "0123456789", 10), 0);
		rc = sp_ctl_outbuf_flush(&ob, sv[0]);
	}
	assert_int_equal(rc, SP_AGAIN);
	assert_true(sp_ctl_outbuf_queued(&ob) > 0);
	close(sv[1]);
	assert_int_equal(sp_ctl_outbuf_flush(&ob, sv[0]), -EPIPE);
	close(sv[0]);
	sp_ctl_outbuf_fini(&ob);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_reads),
		cmocka_unit_test(test_byte_at_a_time),
		cmocka_unit_test(test_max_line),
		cmocka_unit_test(test_feed_partial),
		cmocka_unit_test(test_outbuf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
