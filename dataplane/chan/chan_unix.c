/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unix stream socket transport for the channel. Non-blocking throughout; main lcore only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "chan.h"

void
sp_chan_unix_init(struct sp_chan_unix *u, const char *path)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->path, sizeof(u->path), "%s", path);
	u->fd = -1;
}

static int
chan_unix_connect(void *ctx)
{
	struct sp_chan_unix *u = ctx;
	struct sockaddr_un sa;
	int rc;

	if (u->fd >= 0 && u->connecting) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
			return -errno;
		}
		if (err != 0) {
			return -err;
		}
		u->connecting = false;
		return 0;
	}
	if (u->fd < 0) {
		u->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (u->fd < 0) {
			return -errno;
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", u->path);
	rc = connect(u->fd, (struct sockaddr *)&sa, sizeof(sa));
	if (rc == 0) {
		u->connecting = false;
		return 0;
	}
	if (errno == EINPROGRESS || errno == EAGAIN) {
		u->connecting = true;
		return -EAGAIN;
	}
	return -errno;
}

static ssize_t
chan_unix_send(void *ctx, const void *buf, size_t len)
{
	struct sp_chan_unix *u = ctx;
	ssize_t n = send(u->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n < 0) {
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? -EAGAIN : -errno;
	}
	return n;
}

static ssize_t
chan_unix_recv(void *ctx, void *buf, size_t len)
{
	struct sp_chan_unix *u = ctx;
	ssize_t n = recv(u->fd, buf, len, MSG_DONTWAIT);

	if (n < 0) {
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? -EAGAIN : -errno;
	}
	return n;
}

static void
chan_unix_close(void *ctx)
{
	struct sp_chan_unix *u = ctx;

	if (u->fd >= 0) {
		close(u->fd);
	}
	u->fd = -1;
	u->connecting = false;
}

const struct sp_chan_transport_ops sp_chan_unix_ops = {
	.connect = chan_unix_connect,
	.send = chan_unix_send,
	.recv = chan_unix_recv,
	.close = chan_unix_close,
};
