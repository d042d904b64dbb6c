/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * epoll wrapper for spate-control's single-threaded loop. At most SP_CTL_LOOP_BATCH events
 * per wait; callers reap closed objects after each call of sp_ctl_loop_run_once(). Plus the
 * Unix-socket listen helper.
 */
#include <errno.h>
#include <string.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <spate/assert.h>

#include "ctl_loop.h"

#define SP_CTL_LOOP_BATCH 32 /* events handled per epoll_wait */

int
sp_ctl_loop_init(struct sp_ctl_loop *loop)
{
	memset(loop, 0, sizeof(*loop));
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		return -errno;
	}
	return 0;
}

void
sp_ctl_loop_fini(struct sp_ctl_loop *loop)
{
	if (loop->epfd >= 0) {
		close(loop->epfd);
	}
	loop->epfd = -1;
}

static int
loop_ctl(struct sp_ctl_loop *loop, int op, struct sp_ctl_ev *ev, uint32_t events)
{
	struct epoll_event e;

	SP_VERIFY(ev->fd >= 0 && ev->fn != NULL);
	memset(&e, 0, sizeof(e));
	e.events = events;
	e.data.ptr = ev;
	if (epoll_ctl(loop->epfd, op, ev->fd, &e) != 0) {
		return -errno;
	}
	return 0;
}

int
sp_ctl_loop_add(struct sp_ctl_loop *loop, struct sp_ctl_ev *ev, uint32_t events)
{
	return loop_ctl(loop, EPOLL_CTL_ADD, ev, events);
}

int
sp_ctl_loop_mod(struct sp_ctl_loop *loop, struct sp_ctl_ev *ev, uint32_t events)
{
	return loop_ctl(loop, EPOLL_CTL_MOD, ev, events);
}

void
sp_ctl_loop_del(struct sp_ctl_loop *loop, struct sp_ctl_ev *ev)
{
	if (ev->fd >= 0) {
		(void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, ev->fd, NULL);
	}
}

int
sp_ctl_loop_run_once(struct sp_ctl_loop *loop, int timeout_ms)
{
	struct epoll_event evs[SP_CTL_LOOP_BATCH];
	int n = epoll_wait(loop->epfd, evs, SP_CTL_LOOP_BATCH, timeout_ms);

	if (n < 0) {
		return errno == EINTR ? 0 : -errno;
	}
	for (int i = 0; i < n; i++) {
		struct sp_ctl_ev *ev = evs[i].data.ptr;

		SP_VERIFY(ev != NULL && ev->fn != NULL);
		ev->fn(ev, evs[i].events);
	}
	return n;
}

int
sp_ctl_listen_unix(const char *path, unsigned mode)
{
	struct sockaddr_un sa;
	char tmp[sizeof(sa.sun_path)];
	int fd;
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	rc = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (rc < 0 || (size_t)rc >= sizeof(tmp)) {
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, tmp, (size_t)rc + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -errno;
	}
	(void)unlink(tmp);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || chmod(tmp, mode) != 0 ||
	    listen(fd, 64) != 0 || rename(tmp, path) != 0) {
		rc = -errno;
		(void)unlink(tmp);
		close(fd);
		return rc;
	}
	return fd;
}
