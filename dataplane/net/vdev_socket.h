/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A net_memif server's socket file left behind by a process that died (a crash, SIGKILL)
 * makes the next start fail in the PMD's probe ("Address already in use"). Before EAL init,
 * the dataplane removes it if nothing listens on it any more. Main thread, start-up only.
 */
#ifndef SP_VDEV_SOCKET_H
#define SP_VDEV_SOCKET_H

#include <stddef.h>

/*
 * For a vdev argument string ("net_memif0,role=server,socket=/run/x.sock,socket-abstract=no"):
 * if it names a net_memif server with a filesystem socket (socket-abstract=no; abstract
 * sockets leave no file) and that file is a socket nobody accepts on, unlink it.
 * Returns 1 if a stale socket was removed, 0 if there was nothing to do (not memif, client
 * role, abstract socket, no file, or a live listener: the PMD then reports the conflict),
 * or a negative errno (the path is not a socket, or too long).
 */
int sp_vdev_clear_stale_socket(const char *vdev);

/*
 * The value of `key` in a vdev argument string (key=value pairs after the first comma) copied
 * into out; 0 if found, -ENOENT if absent, -ENAMETOOLONG if it does not fit.
 */
int sp_vdev_arg(const char *vdev, const char *key, char *out, size_t out_len);

#endif /* SP_VDEV_SOCKET_H */
