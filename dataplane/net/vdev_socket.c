/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Stale net_memif server sockets (vdev_socket.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vdev_socket.h"

int
sp_vdev_arg(const char *vdev, const char *key, char *out, size_t out_len)
{
	size_t klen = strlen(key);
	const char *p = strchr(vdev, ',');

	while (p != NULL) {
		const char *item = p + 1;
		const char *end = strchr(item, ',');
		size_t ilen = end != NULL ? (size_t)(end - item) : strlen(item);

		if (ilen > klen && strncmp(item, key, klen) == 0 && item[klen] == '=') {
			size_t vlen = ilen - klen - 1;

			if (vlen >= out_len) {
				return -ENAMETOOLONG;
			}
			memcpy(out, item + klen + 1, vlen);
			out[vlen] = '\0';
			return 0;
		}
		p = end;
	}
	return -ENOENT;
}

/* Whether a process accepts connections on the socket file at path. */
static int
socket_listened(const char *path)
{
	struct sockaddr_un sa;
	int fd, rc;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -errno;
	}
	rc = connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) == 0 ? 1 : -errno;
	close(fd);
	if (rc == -ECONNREFUSED) {
		return 0;
	}
	/* a listener of another socket type still counts as live (EPROTOTYPE) */
	return rc == -EPROTOTYPE ? 1 : rc;
}

int
sp_vdev_clear_stale_socket(const char *vdev)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char val[16];
	struct stat st;
	int rc;

	if (strncmp(vdev, "net_memif", strlen("net_memif")) != 0) {
		return 0;
	}
	/* the PMD's defaults: role=server, socket-abstract=yes */
	if (sp_vdev_arg(vdev, "role", val, sizeof(val)) == 0 && strcmp(val, "server") != 0) {
		return 0;
	}
	if (sp_vdev_arg(vdev, "socket-abstract", val, sizeof(val)) != 0 || strcmp(val, "no") != 0) {
		return 0;
	}
	rc = sp_vdev_arg(vdev, "socket", path, sizeof(path));
	if (rc != 0) {
		return rc == -ENOENT ? 0 : rc;
	}
	if (lstat(path, &st) != 0) {
		return errno == ENOENT ? 0 : -errno;
	}
	if (!S_ISSOCK(st.st_mode)) {
		return -ENOTSOCK;
	}
	rc = socket_listened(path);
	if (rc != 0) {
		return rc > 0 ? 0 : rc;
	}
	return unlink(path) == 0 ? 1 : -errno;
}
