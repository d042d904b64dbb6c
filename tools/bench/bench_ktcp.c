/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_ktcp: the load generator's three workloads (dataplane/app/loadgen.h) on kernel
 * sockets, one thread, epoll; and the test services' echo and sink on kernel sockets. A
 * program, never a test: tools/bench/tcp_tap.py runs it against Spate's test services over
 * net_tap and against itself over a veth pair, and prints the ratio.
 *
 *   bench_ktcp server ADDR              echo on port 7, sink on port 9 (until killed)
 *   bench_ktcp crr|rr|bulk ADDR CONNS SECONDS [MSG]
 *       prints one line: mode, seconds, transactions (crr: connections), bytes sent
 *
 * crr resets its connections (SO_LINGER 0) like the load generator, so neither side keeps
 * TIME-WAIT state.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4096
#define BUF       65536

enum mode { CRR, RR, BULK };

struct conn {
	int fd;
	bool connecting;
	uint32_t want;
};

static uint8_t g_buf[BUF];
static struct conn g_conns[MAX_CONNS];

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static int
ep_add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = {.events = events, .data.u64 = data};

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* ---- server: echo (7) and sink (9) ---- */

static int
listen_on(const char *addr, uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (fd < 0 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		die("listen socket");
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 4096) != 0) {
		die("bind/listen");
	}
	return fd;
}

static int
run_server(const char *addr)
{
	int ep = epoll_create1(0);
	int echo = listen_on(addr, 7), sink = listen_on(addr, 9);
	struct epoll_event evs[256];

	ep_add(ep, echo, EPOLLIN, (uint64_t)echo << 1);
	ep_add(ep, sink, EPOLLIN, (uint64_t)sink << 1);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		for (int i = 0; i < n; i++) {
			int fd = (int)(evs[i].data.u64 >> 1);
			bool is_echo = (evs[i].data.u64 & 1) != 0;

			if (fd == echo || fd == sink) {
				int c;

				while ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					int one = 1;

					setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					ep_add(ep, c, EPOLLIN, ((uint64_t)c << 1) | (fd == echo));
				}
				continue;
			}
			for (;;) {
				ssize_t r = read(fd, g_buf, sizeof(g_buf));

				if (r > 0) {
					/* echo: small requests; a short write is not worth a queue
					 * here */
					if (is_echo && write(fd, g_buf, (size_t)r) < 0) {
						r = 0;
					}
					continue;
				}
				if (r == 0 || errno != EAGAIN) {
					close(fd);
				}
				break;
			}
		}
	}
	return 0;
}

/* ---- client ---- */

static struct sockaddr_in g_peer;
static enum mode g_mode;
static uint32_t g_msg = 64;
static uint64_t g_trans, g_bytes;

static void
c_open(int ep, unsigned i)
{
	struct conn *c = &g_conns[i];
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		die("socket");
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (g_mode == CRR) {
		struct linger l = {.l_onoff = 1, .l_linger = 0};

		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	if (connect(c->fd, (struct sockaddr *)&g_peer, sizeof(g_peer)) != 0 &&
	    errno != EINPROGRESS) {
		die("connect");
	}
	c->connecting = true;
	ep_add(ep, c->fd, EPOLLOUT | EPOLLIN, i);
}

static void
c_request(int ep, unsigned i)
{
	struct conn *c = &g_conns[i];
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = i};

	if (g_mode == BULK) {
		ev.events = EPOLLOUT;
	} else {
		if (write(c->fd, g_buf, g_msg) != (ssize_t)g_msg) {
			die("write");
		}
		g_bytes += g_msg;
		c->want = g_msg;
	}
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void
c_event(int ep, unsigned i, uint32_t events)
{
	struct conn *c = &g_conns[i];

	if (c->connecting) {
		int err = 0;
		socklen_t len = sizeof(err);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			errno = err;
			die("connect");
		}
		c->connecting = false;
		c_request(ep, i);
		return;
	}
	if (g_mode == BULK) {
		ssize_t w = write(c->fd, g_buf, sizeof(g_buf));

		if (w > 0) {
			g_bytes += (uint64_t)w;
		}
		return;
	}
	if (events & EPOLLIN) {
		ssize_t r = read(c->fd, g_buf, sizeof(g_buf));

		if (r <= 0) {
			die("read");
		}
		if ((uint32_t)r < c->want) {
			c->want -= (uint32_t)r;
			return;
		}
		g_trans++;
		if (g_mode == CRR) {
			close(c->fd); /* SO_LINGER 0: a RST */
			c_open(ep, i);
		} else {
			c_request(ep, i);
		}
	}
}

static int
run_client(const char *mode, const char *addr, unsigned conns, double seconds)
{
	struct epoll_event evs[256];
	int ep = epoll_create1(0);
	double t0, t1;

	g_mode = strcmp(mode, "crr") == 0 ? CRR : strcmp(mode, "rr") == 0 ? RR : BULK;
	g_peer.sin_family = AF_INET;
	g_peer.sin_port = htons(g_mode == BULK ? 9 : 7);
	if (inet_pton(AF_INET, addr, &g_peer.sin_addr) != 1 || conns == 0 || conns > MAX_CONNS) {
		fprintf(stderr, "bad address or connection count\n");
		return 2;
	}
	memset(g_buf, 'k', sizeof(g_buf));
	for (unsigned i = 0; i < conns; i++) {
		c_open(ep, i);
	}
	t0 = now_s();
	t1 = t0;
	while (t1 - t0 < seconds) {
		int n = epoll_wait(ep, evs, 256, 100);

		for (int i = 0; i < n; i++) {
			c_event(ep, (unsigned)evs[i].data.u64, evs[i].events);
		}
		t1 = now_s();
	}
	printf("mode=%s seconds=%.2f transactions=%llu bytes=%llu\n", mode, t1 - t0,
	       (unsigned long long)g_trans, (unsigned long long)g_bytes);
	return 0;
}

/* A decimal number in [1, max], or 0 when the text is not one. */
static unsigned long
arg_num(const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	return errno != 0 || *s == '\0' || *end != '\0' || v > max ? 0 : v;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "server") == 0) {
		return run_server(argv[2]);
	}
	if (argc >= 5 && (strcmp(argv[1], "crr") == 0 || strcmp(argv[1], "rr") == 0 ||
			  strcmp(argv[1], "bulk") == 0)) {
		if (argc == 6) {
			g_msg = (uint32_t)arg_num(argv[5], BUF);
			if (g_msg == 0 || g_msg > BUF) {
				return 2;
			}
		}
		return run_client(argv[1], argv[2], (unsigned)arg_num(argv[3], MAX_CONNS),
				  strtod(argv[4], NULL));
	}
	fprintf(stderr, "usage: bench_ktcp server ADDR | bench_ktcp crr|rr|bulk ADDR CONNS "
			"SECONDS [MSG]\n");
	return 2;
}
