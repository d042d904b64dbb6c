/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for nvme/io_uring.c on a temporary file in /tmp (ext4: O_DIRECT works) and, when
 * running as root with losetup available, on a loop device used as a raw block device:
 * write and read back, RWF_DSYNC, flush, refusal of malformed requests, a full queue accepting
 * fewer, many requests in flight, registered buffers, and poll never waiting.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../sp_test.h"

#include "io_uring.h"
#include "spate/compiler.h"

#define FILE_SIZE (8u << 20)
#define WAIT_NS   (10ull * 1000 * 1000 * 1000) /* bound on waiting for completions */

static char g_path[64];

static uint64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int
setup_file(void **state)
{
	(void)state;
	snprintf(g_path, sizeof(g_path), "/tmp/sp_io_uring_test.XXXXXX");
	int fd = mkstemp(g_path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, FILE_SIZE), 0);
	close(fd);
	return 0;
}

static int
teardown_file(void **state)
{
	(void)state;
	unlink(g_path);
	return 0;
}

static struct sp_io_uring *
open_queue(const char *path, unsigned depth, void *arena, size_t arena_len)
{
	const char *paths[] = {path};
	struct sp_io_uring_cfg cfg = {
	    .paths = paths, .n_files = 1, .depth = depth, .arena = arena, .arena_len = arena_len};
	struct sp_io_uring *u = NULL;
	assert_int_equal(sp_io_uring_create(&cfg, &u), 0);
	return u;
}

static void *
abuf(size_t len)
{
	void *p = NULL;
	assert_int_equal(posix_memalign(&p, 4096, len), 0);
	return p;
}

/* Poll until want completions arrived (bounded); the results land in cpls. */
static void
reap(struct sp_io *io, struct sp_io_cpl *cpls, unsigned want)
{
	unsigned got = 0;
	uint64_t deadline = now_ns() + WAIT_NS;
	while (got < want) {
		int n = io->ops->poll(io->ctx, cpls + got, want - got);
		assert_true(n >= 0);
		got += (unsigned)n;
		if (n == 0) {
			assert_true(now_ns() < deadline);
			usleep(50);
		}
	}
}

/* Submit one request and wait for its completion; returns res. */
static int32_t
do_one(struct sp_io *io, const struct sp_io_req *r)
{
	assert_int_equal(io->ops->submit(io->ctx, r, 1), 1);
	struct sp_io_cpl c;
	reap(io, &c, 1);
	assert_int_equal(c.tag, r->tag);
	return c.res;
}

static void
fill(uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		p[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 9));
	}
}

/* Write, DSYNC write, flush, read back through an io handle on a file or device. */
static void
check_rw(struct sp_io_uring *u)
{
	struct sp_io io = sp_io_uring_io(u);
	uint32_t bs = sp_io_uring_block(u, 0);
	assert_true(bs >= 512 && bs <= 4096);
	size_t len = 64 * 1024;
	uint8_t *w = abuf(len), *r = abuf(len);
	fill(w, len, 1);
	struct sp_io_req req = {
	    .op = SP_IO_WRITE, .file = 0, .offset = 0, .buf = w, .len = (uint32_t)len, .tag = 11};
	assert_int_equal(do_one(&io, &req), (int32_t)len);
	fill(w, len, 2);
	req.offset = 1u << 20;
	req.flags = SP_IO_F_DSYNC;
	req.tag = 12;
	assert_int_equal(do_one(&io, &req), (int32_t)len);
	struct sp_io_req fl = {.op = SP_IO_FLUSH, .file = 0, .tag = 13};
	assert_int_equal(do_one(&io, &fl), 0);

	struct sp_io_req rd = {.op = SP_IO_READ,
			       .file = 0,
			       .offset = 1u << 20,
			       .buf = r,
			       .len = (uint32_t)len,
			       .tag = 14};
	assert_int_equal(do_one(&io, &rd), (int32_t)len);
	assert_memory_equal(r, w, len);
	rd.offset = 0;
	assert_int_equal(do_one(&io, &rd), (int32_t)len);
	fill(w, len, 1);
	assert_memory_equal(r, w, len);
	free(w);
	free(r);
}

static void
test_write_read(void **state)
{
	(void)state;
	struct sp_io_uring *u = open_queue(g_path, 32, NULL, 0);
	check_rw(u);
	struct sp_io_uring_stats st;
	sp_io_uring_stats(u, &st);
	assert_int_equal(st.submitted, 5);
	assert_int_equal(st.completed, 5);
	assert_int_equal(sp_io_uring_in_flight(u), 0);
	assert_int_equal(sp_io_uring_size(u, 0), FILE_SIZE);
	sp_io_uring_destroy(u);
}

static void
test_refused(void **state)
{
	(void)state;
	struct sp_io_uring *u = open_queue(g_path, 8, NULL, 0);
	struct sp_io io = sp_io_uring_io(u);
	uint32_t bs = sp_io_uring_block(u, 0);
	uint8_t *b = abuf(2 * bs);
	const struct sp_io_req good = {.op = SP_IO_WRITE, .file = 0, .buf = b, .len = bs};
	struct sp_io_req bad[10];
	for (unsigned i = 0; i < SP_ARRAY_SIZE(bad); i++) {
		bad[i] = good;
	}
	bad[0].offset = 1;            /* misaligned offset */
	bad[1].len = bs + 1;          /* length not a multiple of the block */
	bad[2].buf = b + 1;           /* misaligned buffer */
	bad[3].file = 1;              /* no such file */
	bad[4].file = -1;             /* no such file */
	bad[5].op = (enum sp_io_op)9; /* no such op */
	bad[6].op = SP_IO_READ;       /* DSYNC on a read */
	bad[6].flags = SP_IO_F_DSYNC;
	bad[7].flags = 0x80; /* unknown flag */
	bad[8].len = 0;      /* empty */
	bad[9].buf = NULL;   /* no buffer */
	for (unsigned i = 0; i < SP_ARRAY_SIZE(bad); i++) {
		assert_int_equal(io.ops->submit(io.ctx, &bad[i], 1), -EINVAL);
	}
	struct sp_io_req fl = {.op = SP_IO_FLUSH, .file = 0, .flags = SP_IO_F_DSYNC};
	assert_int_equal(io.ops->submit(io.ctx, &fl, 1), -EINVAL);
	/* a bad request ends the accepted prefix */
	struct sp_io_req mix[3] = {good, bad[0], good};
	assert_int_equal(io.ops->submit(io.ctx, mix, 3), 1);
	struct sp_io_cpl c;
	reap(&io, &c, 1);
	assert_int_equal(c.res, (int32_t)bs);
	assert_int_equal(sp_io_uring_in_flight(u), 0);
	struct sp_io_uring_stats st;
	sp_io_uring_stats(u, &st);
	assert_int_equal(st.refused, SP_ARRAY_SIZE(bad) + 1);
	free(b);
	sp_io_uring_destroy(u);
}

/* A depth-4 queue: each submit takes at most 4, and at most cq_entries (8) are in flight. */
static void
test_sq_full(void **state)
{
	(void)state;
	struct sp_io_uring *u = open_queue(g_path, 4, NULL, 0);
	struct sp_io io = sp_io_uring_io(u);
	uint32_t bs = sp_io_uring_block(u, 0);
	enum { N = 32 };
	uint8_t *b = abuf((size_t)N * bs);
	struct sp_io_req reqs[N];
	for (unsigned i = 0; i < N; i++) {
		reqs[i] = (struct sp_io_req){.op = SP_IO_WRITE,
					     .file = 0,
					     .offset = (uint64_t)i * bs,
					     .buf = b + (size_t)i * bs,
					     .len = bs,
					     .tag = 100 + i};
	}
	unsigned sent = 0, calls = 0;
	int k = io.ops->submit(io.ctx, reqs, N);
	assert_true(k > 0 && k <= 4);
	sent += (unsigned)k;
	/* without polling, the queue fills up and then accepts nothing */
	while ((k = io.ops->submit(io.ctx, reqs + sent, N - sent)) > 0) {
		sent += (unsigned)k;
		assert_true(++calls < N);
	}
	assert_int_equal(k, 0);
	assert_true(sent >= 4 && sent <= 8);
	assert_int_equal(sp_io_uring_in_flight(u), sent);
	/* drain and finish the rest */
	struct sp_io_cpl cpls[N];
	unsigned got = 0;
	uint64_t deadline = now_ns() + WAIT_NS;
	while (got < N) {
		if (sent < N) {
			k = io.ops->submit(io.ctx, reqs + sent, N - sent);
			assert_true(k >= 0);
			sent += (unsigned)k;
		}
		int n = io.ops->poll(io.ctx, cpls + got, N - got);
		assert_true(n >= 0);
		got += (unsigned)n;
		assert_true(now_ns() < deadline);
	}
	uint32_t seen = 0;
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(cpls[i].res, (int32_t)bs);
		assert_true(cpls[i].tag >= 100 && cpls[i].tag < 100 + N);
		seen |= 1u << (cpls[i].tag - 100);
	}
	assert_int_equal(seen, 0xffffffffu);
	struct sp_io_uring_stats st;
	sp_io_uring_stats(u, &st);
	assert_true(st.full >= 2);
	free(b);
	sp_io_uring_destroy(u);
}

/* 1024 writes of one block each in batches of 128 with up to 512 in flight, then read back. */
static void
test_many_in_flight(void **state)
{
	(void)state;
	struct sp_io_uring *u = open_queue(g_path, 256, NULL, 0);
	struct sp_io io = sp_io_uring_io(u);
	uint32_t bs = sp_io_uring_block(u, 0);
	enum { N = 1024, BATCH = 128 };
	uint8_t *b = abuf((size_t)N * bs);
	fill(b, (size_t)N * bs, 9);
	struct sp_io_req reqs[N];
	for (unsigned i = 0; i < N; i++) {
		reqs[i] = (struct sp_io_req){.op = SP_IO_WRITE,
					     .file = 0,
					     .offset = (uint64_t)i * bs,
					     .buf = b + (size_t)i * bs,
					     .len = bs,
					     .tag = i};
	}
	static struct sp_io_cpl cpls[N];
	static uint8_t seen[N];
	memset(seen, 0, sizeof(seen));
	unsigned sent = 0, got = 0, peak = 0;
	uint64_t deadline = now_ns() + WAIT_NS;
	while (got < N) {
		if (sent < N) {
			int k = io.ops->submit(io.ctx, reqs + sent, SP_MIN(BATCH, N - sent));
			assert_true(k >= 0);
			sent += (unsigned)k;
		}
		peak = SP_MAX(peak, sp_io_uring_in_flight(u));
		int n = io.ops->poll(io.ctx, cpls, N);
		assert_true(n >= 0);
		for (int i = 0; i < n; i++) {
			assert_int_equal(cpls[i].res, (int32_t)bs);
			assert_true(cpls[i].tag < N && !seen[cpls[i].tag]);
			seen[cpls[i].tag] = 1;
		}
		got += (unsigned)n;
		assert_true(now_ns() < deadline);
	}
	assert_true(peak > 1);
	uint8_t *r = abuf((size_t)N * bs);
	struct sp_io_req rd = {.op = SP_IO_READ, .buf = r, .len = N * bs, .tag = 7};
	assert_int_equal(do_one(&io, &rd), (int32_t)(N * bs));
	assert_memory_equal(r, b, (size_t)N * bs);
	free(r);
	free(b);
	sp_io_uring_destroy(u);
}

/* Buffers inside the registered arena go as WRITE_FIXED/READ_FIXED; others as plain ops. */
static void
test_fixed_buffers(void **state)
{
	(void)state;
	size_t alen = 1u << 20;
	uint8_t *arena = abuf(alen);
	struct sp_io_uring *u = open_queue(g_path, 16, arena, alen);
	struct sp_io io = sp_io_uring_io(u);
	uint32_t len = 128 * 1024;
	fill(arena, len, 5);
	struct sp_io_req w = {.op = SP_IO_WRITE,
			      .flags = SP_IO_F_DSYNC,
			      .offset = 2u << 20,
			      .buf = arena,
			      .len = len,
			      .tag = 1};
	assert_int_equal(do_one(&io, &w), (int32_t)len);
	struct sp_io_req rd = {
	    .op = SP_IO_READ, .offset = 2u << 20, .buf = arena + alen - len, .len = len, .tag = 2};
	assert_int_equal(do_one(&io, &rd), (int32_t)len);
	assert_memory_equal(arena + alen - len, arena, len);
	uint8_t *plain = abuf(len);
	rd.buf = plain;
	assert_int_equal(do_one(&io, &rd), (int32_t)len);
	assert_memory_equal(plain, arena, len);
	struct sp_io_uring_stats st;
	sp_io_uring_stats(u, &st);
	assert_int_equal(st.fixed, 2);
	assert_int_equal(st.submitted, 3);
	free(plain);
	sp_io_uring_destroy(u);
	free(arena);
}

/* Poll on an idle queue and on one with a write outstanding returns at once. */
static void
test_poll_never_waits(void **state)
{
	(void)state;
	struct sp_io_uring *u = open_queue(g_path, 8, NULL, 0);
	struct sp_io io = sp_io_uring_io(u);
	struct sp_io_cpl c[4];
	uint64_t t0 = now_ns();
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(io.ops->poll(io.ctx, c, 4), 0);
	}
	uint64_t idle = now_ns() - t0;
	assert_true(idle < 50ull * 1000 * 1000); /* 1000 polls: far below 50 ms */
	struct sp_io_uring_stats st;
	sp_io_uring_stats(u, &st);
	assert_int_equal(st.enters, 0); /* polling an idle queue costs no syscall */
	sp_io_uring_destroy(u);
}

static void
test_bad_cfg(void **state)
{
	(void)state;
	const char *paths[] = {"/nonexistent/sp_io_uring"};
	struct sp_io_uring_cfg cfg = {.paths = paths, .n_files = 1, .depth = 8};
	struct sp_io_uring *u = NULL;
	assert_int_equal(sp_io_uring_create(&cfg, &u), -ENOENT);
	cfg.depth = 0;
	assert_int_equal(sp_io_uring_create(&cfg, &u), -EINVAL);
	/* F_CREATE makes a missing file; an empty file still reports its block */
	char fresh[64];
	snprintf(fresh, sizeof(fresh), "/tmp/sp_io_uring_new.%d", (int)getpid());
	const char *fp[] = {fresh};
	cfg = (struct sp_io_uring_cfg){
	    .paths = fp, .n_files = 1, .depth = 8, .flags = SP_IO_URING_F_CREATE};
	int err = sp_io_uring_create(&cfg, &u);
	unlink(fresh);
	assert_int_equal(err, 0);
	assert_true(sp_io_uring_block(u, 0) >= 512);
	assert_int_equal(sp_io_uring_size(u, 0), 0);
	sp_io_uring_destroy(u);
	cfg.flags = 0x8; /* unknown flag */
	assert_int_equal(sp_io_uring_create(&cfg, &u), -EINVAL);
	const char *dir[] = {"/tmp"};
	cfg = (struct sp_io_uring_cfg){.paths = dir, .n_files = 1, .depth = 8};
	assert_true(sp_io_uring_create(&cfg, &u) < 0);
}

/* Run a shell command, capturing its first output line; returns its exit status. */
static int
run(const char *cmd, char *out, size_t outlen)
{
	FILE *p = popen(cmd, "r");
	if (p == NULL) {
		return -1;
	}
	if (out != NULL && (fgets(out, (int)outlen, p) == NULL)) {
		out[0] = '\0';
	}
	if (out != NULL) {
		out[strcspn(out, "\n")] = '\0';
	}
	return pclose(p);
}

/* Loop device state, released by loop_teardown whatever the test's outcome. */
static char g_img[64], g_dev[64];
static struct sp_io_uring *g_loop_u;

static int
loop_teardown(void **state)
{
	(void)state;
	sp_io_uring_destroy(g_loop_u);
	g_loop_u = NULL;
	if (g_dev[0] != '\0') {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "/usr/sbin/losetup -d %s", g_dev);
		int rc = run(cmd, NULL, 0);
		if (rc != 0) {
			fprintf(stderr, "losetup -d %s failed: %d\n", g_dev, rc);
		}
		g_dev[0] = '\0';
	}
	if (g_img[0] != '\0') {
		unlink(g_img);
		g_img[0] = '\0';
	}
	return 0;
}

/* The same code on a raw block device: a loop device over a 64 MiB file. */
static void
test_loop_device(void **state)
{
	(void)state;
	if (geteuid() != 0 || access("/usr/sbin/losetup", X_OK) != 0) {
		skip();
	}
	snprintf(g_img, sizeof(g_img), "/tmp/sp_io_loop.XXXXXX");
	int fd = mkstemp(g_img);
	assert_true(fd >= 0);
	int rc = ftruncate(fd, 64 << 20);
	close(fd);
	assert_int_equal(rc, 0);
	char cmd[128], dev[64];
	snprintf(cmd, sizeof(cmd), "/usr/sbin/losetup -f --show %s 2>/dev/null", g_img);
	if (run(cmd, dev, sizeof(dev)) != 0 || strncmp(dev, "/dev/loop", 9) != 0) {
		skip(); /* no loop devices here (a container): nothing to test */
	}
	snprintf(g_dev, sizeof(g_dev), "%s", dev);
	const char *paths[] = {g_dev};
	struct sp_io_uring_cfg cfg = {.paths = paths, .n_files = 1, .depth = 16};
	assert_int_equal(sp_io_uring_create(&cfg, &g_loop_u), 0);
	struct stat sb;
	assert_int_equal(stat(g_dev, &sb), 0);
	assert_true(S_ISBLK(sb.st_mode));
	assert_int_equal(sp_io_uring_size(g_loop_u, 0), 64 << 20);
	check_rw(g_loop_u);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_write_read),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_sq_full),
	    cmocka_unit_test(test_many_in_flight),
	    cmocka_unit_test(test_fixed_buffers),
	    cmocka_unit_test(test_poll_never_waits),
	    cmocka_unit_test(test_bad_cfg),
	    cmocka_unit_test_teardown(test_loop_device, loop_teardown),
	};
	return cmocka_run_group_tests(tests, setup_file, teardown_file);
}
