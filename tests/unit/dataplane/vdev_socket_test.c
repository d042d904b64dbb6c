/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for stale net_memif socket removal (dataplane/net/vdev_socket.c): a socket file
 * nobody listens on is removed; a live listener, a client's or an abstract socket, another
 * driver's vdev and a regular file are left alone. Sockets live in a temporary directory.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../sp_test.h"

#include "net/vdev_socket.h"

static char g_dir[64];
static char g_path[96];
static char g_vdev[256];

static int
setup(void **state)
{
	(void)state;
	snprintf(g_dir, sizeof(g_dir), "/tmp/sp-vdev-sock.XXXXXX");
	if (mkdtemp(g_dir) == NULL) {
		return -1;
	}
	snprintf(g_path, sizeof(g_path), "%s/memif.sock", g_dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	(void)unlink(g_path);
	return rmdir(g_dir);
}

/* A bound SOCK_SEQPACKET socket at g_path, listening or not (closed: a stale file). */
static int
sock_at(bool listening)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", g_path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (listening) {
		assert_int_equal(listen(fd, 1), 0);
		return fd;
	}
	close(fd);
	return -1;
}

static const char *
vdev(const char *fmt)
{
	snprintf(g_vdev, sizeof(g_vdev), fmt, g_path);
	return g_vdev;
}

static bool
exists(void)
{
	struct stat st;

	return lstat(g_path, &st) == 0;
}

static void
test_stale_socket_removed(void **state)
{
	(void)state;
	(void)sock_at(false);
	assert_true(exists());
	assert_int_equal(
	    sp_vdev_clear_stale_socket(vdev("net_memif0,role=server,socket=%s,socket-abstract=no")),
	    1);
	assert_false(exists());
	/* role defaults to server; order of the keys does not matter */
	(void)sock_at(false);
	assert_int_equal(
	    sp_vdev_clear_stale_socket(vdev("net_memif1,socket-abstract=no,socket=%s")), 1);
	assert_false(exists());
	/* nothing there: nothing to do */
	assert_int_equal(
	    sp_vdev_clear_stale_socket(vdev("net_memif0,socket=%s,socket-abstract=no")), 0);
}

static void
test_live_and_other_cases_left_alone(void **state)
{
	int fd;

	(void)state;
	fd = sock_at(true);
	assert_int_equal(
	    sp_vdev_clear_stale_socket(vdev("net_memif0,socket=%s,socket-abstract=no")), 0);
	assert_true(exists());
	close(fd);
	/* now stale, but: a client does not own the file; abstract sockets have none; not memif */
	assert_int_equal(
	    sp_vdev_clear_stale_socket(vdev("net_memif0,role=client,socket=%s,socket-abstract=no")),
	    0);
	assert_int_equal(sp_vdev_clear_stale_socket(vdev("net_memif0,socket=%s")), 0);
	assert_int_equal(
	    sp_vdev_clear_stale_socket(vdev("net_memif0,socket=%s,socket-abstract=yes")), 0);
	assert_int_equal(sp_vdev_clear_stale_socket(vdev("net_tap0,socket=%s,socket-abstract=no")),
			 0);
	assert_true(exists());
	unlink(g_path);
	/* a regular file is not ours to remove */
	fclose(fopen(g_path, "w"));
	assert_int_equal(
	    sp_vdev_clear_stale_socket(vdev("net_memif0,socket=%s,socket-abstract=no")), -ENOTSOCK);
	assert_true(exists());
}

static void
test_vdev_arg(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(sp_vdev_arg("net_memif0,role=server,id=3", "id", out, sizeof(out)), 0);
	assert_string_equal(out, "3");
	assert_int_equal(sp_vdev_arg("net_memif0,role=server", "rol", out, sizeof(out)), -ENOENT);
	assert_int_equal(sp_vdev_arg("net_memif0", "role", out, sizeof(out)), -ENOENT);
	assert_int_equal(sp_vdev_arg("net_memif0,role=", "role", out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(sp_vdev_arg("net_memif0,socket=/a/long/path", "socket", out, sizeof(out)),
			 -ENAMETOOLONG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_stale_socket_removed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_live_and_other_cases_left_alone, setup, teardown),
	    cmocka_unit_test(test_vdev_arg),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
