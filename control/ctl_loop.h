/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * spate-control's event loop: one epoll instance on one thread. Each watched fd carries a
 * struct sp_ctl_ev whose callback gets the ready events. Objects that close during a batch of
 * events are freed only after the batch (each module's reap function), so that a later event
 * of the same batch never reaches freed memory. Also the Unix-socket listen helper shared by
 * the control socket and the channel.
 */
#ifndef SPATE_CONTROL_CTL_LOOP_H
#define SPATE_CONTROL_CTL_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <spate/compiler.h>

struct sp_ctl_ev;

typedef void (*sp_ctl_ev_fn)(struct sp_ctl_ev *ev, uint32_t events);

struct sp_ctl_ev {
	int fd;
	sp_ctl_ev_fn fn;
};

struct sp_ctl_loop {
	int epfd;
	bool stop;
};

SP_MUST_CHECK int sp_ctl_loop_init(struct sp_ctl_loop *loop);
void sp_ctl_loop_fini(struct sp_ctl_loop *loop);

/* Watch ev->fd for events (EPOLLIN, EPOLLOUT). Return 0 or -errno. */
SP_MUST_CHECK int sp_ctl_loop_add(struct sp_ctl_loop *loop, struct sp_ctl_ev *ev,
				  uint32_t events);
SP_MUST_CHECK int sp_ctl_loop_mod(struct sp_ctl_loop *loop, struct sp_ctl_ev *ev,
				  uint32_t events);
void sp_ctl_loop_del(struct sp_ctl_loop *loop, struct sp_ctl_ev *ev);

/*
 * Listen on a Unix stream socket at path with the given file mode, non-blocking. The socket is
 * bound under a temporary name and renamed into place once listening, so a client that sees
 * the path can connect, and a stale socket from a crashed run is replaced. Returns the fd or
 * -errno (-ENAMETOOLONG when path does not fit sun_path).
 */
SP_MUST_CHECK int sp_ctl_listen_unix(const char *path, unsigned mode);

/* Wait up to timeout_ms (-1: forever) and run the callbacks. Returns events run or -errno. */
int sp_ctl_loop_run_once(struct sp_ctl_loop *loop, int timeout_ms);

#endif /* SPATE_CONTROL_CTL_LOOP_H */
