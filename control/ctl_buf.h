/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Byte buffers of the control plane's line streams, free of sockets so that unit tests and the
 * fuzzer drive them directly.
 *
 * struct sp_ctl_linebuf splits a byte stream into newline-terminated lines of bounded length.
 * A line longer than the bound is reported once (-EMSGSIZE) and its bytes are discarded up to
 * and including its newline; the stream then resumes with the next line.
 *
 * struct sp_ctl_outbuf queues bytes for a non-blocking socket, bounded so that a peer that
 * does not read cannot make the process grow without limit.
 */
#ifndef SPATE_CONTROL_CTL_BUF_H
#define SPATE_CONTROL_CTL_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include <spate/compiler.h>

struct sp_ctl_linebuf {
	char *buf;
	size_t cap;	/* the line bound, newline included; also the allocation */
	size_t head;	/* first byte of the line being assembled */
	size_t tail;	/* end of the bytes held */
	size_t scanned; /* bytes before this index (from head) hold no newline */
	bool discarding; /* dropping the rest of an over-long line */
};

/* max_line_bytes counts the newline. Returns 0 or -ENOMEM. */
SP_MUST_CHECK int sp_ctl_linebuf_init(struct sp_ctl_linebuf *lb, size_t max_line_bytes);
void sp_ctl_linebuf_fini(struct sp_ctl_linebuf *lb);

/*
 * Where to read the next bytes to, and how many fit (never 0 once sp_ctl_linebuf_next() has
 * returned SP_AGAIN). Follow with sp_ctl_linebuf_commit() of the count actually read.
 */
char *sp_ctl_linebuf_wptr(struct sp_ctl_linebuf *lb, size_t *room);
void sp_ctl_linebuf_commit(struct sp_ctl_linebuf *lb, size_t n);

/* Copy in up to len bytes; returns how many were taken. */
size_t sp_ctl_linebuf_feed(struct sp_ctl_linebuf *lb, const void *data, size_t len);

/*
 * The next complete line, without its newline (and without a '\r' before it). The pointer is
 * valid until the next wptr/feed call. Returns 0, SP_AGAIN (no complete line held), or
 * -EMSGSIZE (a line exceeded the bound; reported once per such line).
 */
SP_MUST_CHECK int sp_ctl_linebuf_next(struct sp_ctl_linebuf *lb, const char **line,
				      size_t *len);

/* Bytes held that are not yet part of a returned line. */
size_t sp_ctl_linebuf_pending(const struct sp_ctl_linebuf *lb);

struct sp_ctl_outbuf {
	char *buf;
	size_t off; /* first byte not yet written */
	size_t len; /* end of the queued bytes */
	size_t cap; /* allocation */
	size_t max; /* bound on queued bytes */
};

void sp_ctl_outbuf_init(struct sp_ctl_outbuf *ob, size_t max_bytes);
void sp_ctl_outbuf_fini(struct sp_ctl_outbuf *ob);

/* Queue bytes. Returns 0, -ENOBUFS (bound exceeded: nothing queued) or -ENOMEM. */
SP_MUST_CHECK int sp_ctl_outbuf_append(struct sp_ctl_outbuf *ob, const void *data, size_t len);

/* Write what is queued to fd. Returns 0 (all written), SP_AGAIN (more left) or -errno. */
SP_MUST_CHECK int sp_ctl_outbuf_flush(struct sp_ctl_outbuf *ob, int fd);

static inline size_t
sp_ctl_outbuf_queued(const struct sp_ctl_outbuf *ob)
{
	return ob->len - ob->off;
}

#endif /* SPATE_CONTROL_CTL_BUF_H */
