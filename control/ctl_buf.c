/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Line splitting and bounded output queues for spate-control's sockets (the control socket
 * and the dataplane channel). Pure byte handling: no sockets except the write in
 * sp_ctl_outbuf_flush().
 *
 * Invariants of struct sp_ctl_linebuf: head <= scanned <= tail <= cap, and the bytes in
 * [head, scanned) hold no newline. A line is at most cap bytes, newline included, so the
 * buffer never needs to grow: when head == 0 and tail == cap without a newline, the line is
 * over-long. Runs on spate-control's single thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <spate/assert.h>
#include <spate/err.h>

#include "ctl_buf.h"

int
sp_ctl_linebuf_init(struct sp_ctl_linebuf *lb, size_t max_line_bytes)
{
	SP_VERIFY(max_line_bytes >= 2);
	memset(lb, 0, sizeof(*lb));
	lb->buf = malloc(max_line_bytes);
	if (lb->buf == NULL) {
		return -ENOMEM;
	}
	lb->cap = max_line_bytes;
	return 0;
}

void
sp_ctl_linebuf_fini(struct sp_ctl_linebuf *lb)
{
	free(lb->buf);
	memset(lb, 0, sizeof(*lb));
}

static void
linebuf_compact(struct sp_ctl_linebuf *lb)
{
	SP_VERIFY(lb->head <= lb->scanned && lb->scanned <= lb->tail && lb->tail <= lb->cap);
	if (lb->head == 0) {
		return;
	}
	memmove(lb->buf, lb->buf + lb->head, lb->tail - lb->head);
	lb->tail -= lb->head;
	lb->scanned -= lb->head;
	lb->head = 0;
}

char *
sp_ctl_linebuf_wptr(struct sp_ctl_linebuf *lb, size_t *room)
{
	linebuf_compact(lb);
	*room = lb->cap - lb->tail;
	return lb->buf + lb->tail;
}

void
sp_ctl_linebuf_commit(struct sp_ctl_linebuf *lb, size_t n)
{
	SP_VERIFY(n <= lb->cap - lb->tail);
	lb->tail += n;
}

size_t
sp_ctl_linebuf_feed(struct sp_ctl_linebuf *lb, const void *data, size_t len)
{
	size_t room;
	char *w = sp_ctl_linebuf_wptr(lb, &room);
	size_t n = SP_MIN(room, len);

	memcpy(w, data, n);
	sp_ctl_linebuf_commit(lb, n);
	return n;
}

size_t
sp_ctl_linebuf_pending(const struct sp_ctl_linebuf *lb)
{
	return lb->tail - lb->head;
}

int
sp_ctl_linebuf_next(struct sp_ctl_linebuf *lb, const char **line, size_t *len)
{
	for (;;) {
		SP_VERIFY(lb->head <= lb->scanned && lb->scanned <= lb->tail);
		char *nl = memchr(lb->buf + lb->scanned, '\n', lb->tail - lb->scanned);

		if (nl == NULL) {
			if (lb->discarding) {
				lb->head = lb->tail = lb->scanned = 0;
				return SP_AGAIN;
			}
			lb->scanned = lb->tail;
			if (lb->tail - lb->head >= lb->cap) {
				/* A full buffer without a newline: the line is over the bound. */
				lb->head = lb->tail = lb->scanned = 0;
				lb->discarding = true;
				return -EMSGSIZE;
			}
			return SP_AGAIN;
		}
		size_t end = (size_t)(nl - lb->buf);

		if (lb->discarding) {
			lb->discarding = false;
			lb->head = lb->scanned = end + 1;
			continue;
		}
		*line = lb->buf + lb->head;
		*len = end - lb->head;
		if (*len > 0 && (*line)[*len - 1] == '\r') {
			(*len)--;
		}
		SP_VERIFY(end + 1 - lb->head <= lb->cap);
		lb->head = lb->scanned = end + 1;
		return 0;
	}
}

void
sp_ctl_outbuf_init(struct sp_ctl_outbuf *ob, size_t max_bytes)
{
	memset(ob, 0, sizeof(*ob));
	ob->max = max_bytes;
}

void
sp_ctl_outbuf_fini(struct sp_ctl_outbuf *ob)
{
	free(ob->buf);
	memset(ob, 0, sizeof(*ob));
}

int
sp_ctl_outbuf_append(struct sp_ctl_outbuf *ob, const void *data, size_t len)
{
	SP_VERIFY(ob->off <= ob->len && ob->len <= ob->cap);
	if (len > ob->max - sp_ctl_outbuf_queued(ob)) {
		return -ENOBUFS;
	}
	if (ob->off > 0) {
		memmove(ob->buf, ob->buf + ob->off, ob->len - ob->off);
		ob->len -= ob->off;
		ob->off = 0;
	}
	if (ob->len + len > ob->cap) {
		size_t cap = SP_MAX(ob->cap * 2, (size_t)4096);

		while (cap < ob->len + len) {
			cap *= 2;
		}
		cap = SP_MIN(cap, ob->max);
		char *nb = realloc(ob->buf, cap);

		if (nb == NULL) {
			return -ENOMEM;
		}
		ob->buf = nb;
		ob->cap = cap;
	}
	memcpy(ob->buf + ob->len, data, len);
	ob->len += len;
	return 0;
}

int
sp_ctl_outbuf_flush(struct sp_ctl_outbuf *ob, int fd)
{
	while (ob->off < ob->len) {
		ssize_t n = send(fd, ob->buf + ob->off, ob->len - ob->off, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				return SP_AGAIN;
			}
			return -errno;
		}
		ob->off += (size_t)n;
	}
	ob->off = ob->len = 0;
	return 0;
}
