/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * io_uring backend of the storage seam. Owns one ring, its registered files and (optionally)
 * one registered buffer arena; used by one worker lcore only, so there is no locking.
 *
 * Invariants: in_flight <= cq_entries (the caller cannot make the completion ring overflow,
 * since submit refuses beyond it); every accepted request yields exactly one completion;
 * a request reaches the kernel only after sp_io_req_check accepted it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spate/assert.h"
#include "spate/compiler.h"

#include "io_check.h"
#include "io_uring.h"

struct sp_io_uring {
	struct io_uring ring;
	unsigned n_files;
	unsigned cq_entries; /* bound on in_flight */
	unsigned in_flight;
	int fds[SP_IO_URING_MAX_FILES];
	uint32_t block[SP_IO_URING_MAX_FILES];
	char *arena; /* registered as fixed buffer 0, or NULL */
	size_t arena_len;
	struct sp_io_uring_stats st;
};

static const struct sp_io_ops io_uring_ops = {
    .submit = sp_io_uring_submit,
    .poll = sp_io_uring_poll,
};

/* Direct-I/O alignment of a regular file: statx's answer, else st_blksize within 512..4096. */
static uint32_t
io_uring_file_block(int fd, const struct stat *sb)
{
	uint32_t bs = 0;
#ifdef STATX_DIOALIGN
	struct statx sx;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 &&
	    (sx.stx_mask & STATX_DIOALIGN) != 0) {
		/* a buffer must satisfy both alignments; use the stricter as the one block */
		bs = SP_MAX(sx.stx_dio_offset_align, sx.stx_dio_mem_align);
	}
#endif
	if (bs == 0) {
		bs = (uint32_t)sb->st_blksize;
	}
	/* 0 (no direct I/O) or an odd value: fall back to a page, which every file system takes */
	if (bs < 512 || bs > 4096 || (bs & (bs - 1)) != 0) {
		bs = 4096;
	}
	return bs;
}

/* Open path for direct I/O; fill *fd and *block. */
static int
io_uring_open(const char *path, uint32_t flags, int *fd, uint32_t *block)
{
	int oflags = O_RDWR | O_DIRECT | O_CLOEXEC;
	if ((flags & SP_IO_URING_F_CREATE) != 0) {
		oflags |= O_CREAT;
	}
	int f = open(path, oflags, 0600);
	if (f < 0) {
		return -errno;
	}
	struct stat sb;
	if (fstat(f, &sb) != 0) {
		int err = -errno;
		close(f);
		return err;
	}
	if (S_ISBLK(sb.st_mode)) {
		int ssz = 0;
		if (ioctl(f, BLKSSZGET, &ssz) != 0) {
			int err = -errno;
			close(f);
			return err;
		}
		*block = (uint32_t)ssz;
	} else if (S_ISREG(sb.st_mode)) {
		*block = io_uring_file_block(f, &sb);
	} else {
		close(f);
		return -EINVAL;
	}
	SP_VERIFY(*block >= 512 && (*block & (*block - 1)) == 0);
	*fd = f;
	return 0;
}

static int
io_uring_cfg_check(const struct sp_io_uring_cfg *cfg)
{
	if (cfg->paths == NULL || cfg->n_files == 0 || cfg->n_files > SP_IO_URING_MAX_FILES) {
		return -EINVAL;
	}
	if (cfg->depth == 0 || cfg->depth > SP_IO_URING_MAX_DEPTH) {
		return -EINVAL;
	}
	if ((cfg->flags & ~SP_IO_URING_F_CREATE) != 0) {
		return -EINVAL;
	}
	if ((cfg->arena == NULL) != (cfg->arena_len == 0) || cfg->arena_len > (1u << 30)) {
		return -EINVAL;
	}
	return 0;
}

int
sp_io_uring_create(const struct sp_io_uring_cfg *cfg, struct sp_io_uring **out)
{
	int err = io_uring_cfg_check(cfg);
	if (err != 0) {
		return err;
	}
	struct sp_io_uring *u = calloc(1, sizeof(*u));
	if (u == NULL) {
		return -ENOMEM;
	}
	for (unsigned i = 0; i < SP_IO_URING_MAX_FILES; i++) {
		u->fds[i] = -1;
	}
	for (unsigned i = 0; i < cfg->n_files; i++) {
		err = io_uring_open(cfg->paths[i], cfg->flags, &u->fds[i], &u->block[i]);
		if (err != 0) {
			goto fail_files;
		}
		u->n_files++;
	}
	/* No SQPOLL (see io_uring.h); completions are reaped by peeking, never by waiting. */
	err = io_uring_queue_init(cfg->depth, &u->ring, 0);
	if (err != 0) {
		goto fail_files;
	}
	u->cq_entries = u->ring.cq.ring_entries;
	err = io_uring_register_files(&u->ring, u->fds, u->n_files);
	if (err != 0) {
		goto fail_ring;
	}
	if (cfg->arena != NULL) {
		struct iovec iov = {.iov_base = cfg->arena, .iov_len = cfg->arena_len};
		err = io_uring_register_buffers(&u->ring, &iov, 1);
		if (err != 0) {
			goto fail_ring;
		}
		u->arena = cfg->arena;
		u->arena_len = cfg->arena_len;
	}
	*out = u;
	return 0;

fail_ring:
	io_uring_queue_exit(&u->ring);
fail_files:
	for (unsigned i = 0; i < u->n_files; i++) {
		close(u->fds[i]);
	}
	free(u);
	return err;
}

void
sp_io_uring_destroy(struct sp_io_uring *u)
{
	if (u == NULL) {
		return;
	}
	/* Queue exit waits for requests still in flight: the kernel must not DMA into freed memory.
	 */
	io_uring_queue_exit(&u->ring);
	for (unsigned i = 0; i < u->n_files; i++) {
		close(u->fds[i]);
	}
	free(u);
}

struct sp_io
sp_io_uring_io(struct sp_io_uring *u)
{
	return (struct sp_io){.ops = &io_uring_ops, .ctx = u};
}

uint32_t
sp_io_uring_block(const struct sp_io_uring *u, int file)
{
	SP_VERIFY(file >= 0 && (unsigned)file < u->n_files);
	return u->block[file];
}

int64_t
sp_io_uring_size(const struct sp_io_uring *u, int file)
{
	SP_VERIFY(file >= 0 && (unsigned)file < u->n_files);
	struct stat sb;
	if (fstat(u->fds[file], &sb) != 0) {
		return -errno;
	}
	if (S_ISBLK(sb.st_mode)) {
		uint64_t bytes = 0;
		if (ioctl(u->fds[file], BLKGETSIZE64, &bytes) != 0) {
			return -errno;
		}
		return (int64_t)bytes;
	}
	return (int64_t)sb.st_size;
}

unsigned
sp_io_uring_in_flight(const struct sp_io_uring *u)
{
	return u->in_flight;
}

void
sp_io_uring_stats(const struct sp_io_uring *u, struct sp_io_uring_stats *st)
{
	*st = u->st;
}

/* Whether [buf, buf + len) lies inside the registered arena (then a FIXED op may be used). */
static bool
io_uring_in_arena(const struct sp_io_uring *u, const void *buf, uint32_t len)
{
	uintptr_t a = (uintptr_t)u->arena, b = (uintptr_t)buf;
	return u->arena != NULL && b >= a && b - a <= u->arena_len && len <= u->arena_len - (b - a);
}

/* Fill sqe from a validated request. */
static void
io_uring_prep(struct sp_io_uring *u, struct io_uring_sqe *sqe, const struct sp_io_req *r)
{
	bool fixed = (r->op == SP_IO_WRITE || r->op == SP_IO_READ) &&
		     io_uring_in_arena(u, r->buf, r->len);
	switch (r->op) {
	case SP_IO_WRITE:
		if (fixed) {
			io_uring_prep_write_fixed(sqe, r->file, r->buf, r->len, r->offset, 0);
		} else {
			io_uring_prep_write(sqe, r->file, r->buf, r->len, r->offset);
		}
		/* per-write O_DSYNC: data and the metadata needed to read it back (FUA on NVMe) */
		sqe->rw_flags = (r->flags & SP_IO_F_DSYNC) != 0 ? RWF_DSYNC : 0;
		break;
	case SP_IO_READ:
		if (fixed) {
			io_uring_prep_read_fixed(sqe, r->file, r->buf, r->len, r->offset, 0);
		} else {
			io_uring_prep_read(sqe, r->file, r->buf, r->len, r->offset);
		}
		break;
	case SP_IO_FLUSH:
		io_uring_prep_fsync(sqe, r->file, IORING_FSYNC_DATASYNC);
		break;
	case SP_IO_ZERO:
		/* files and block devices both take a punched hole (reads as zeros, KEEP_SIZE) */
		io_uring_prep_fallocate(sqe, r->file, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					r->offset, r->len);
		break;
	}
	sqe->flags |= IOSQE_FIXED_FILE; /* r->file is an index into the registered files */
	io_uring_sqe_set_data64(sqe, r->tag);
	u->st.fixed += fixed ? 1 : 0;
}

int
sp_io_uring_submit(void *ctx, const struct sp_io_req *reqs, unsigned n)
{
	struct sp_io_uring *u = ctx;
	unsigned k = 0;
	bool full = false;
	for (; k < n; k++) {
		if (sp_io_req_check(&reqs[k], u->n_files, u->block) != 0) {
			if (k == 0) {
				u->st.refused++;
				return -EINVAL;
			}
			break;
		}
		/* the completion ring could overflow */
		struct io_uring_sqe *sqe =
		    u->in_flight < u->cq_entries ? io_uring_get_sqe(&u->ring) : NULL;
		if (sqe == NULL) {
			full = true; /* accept fewer, never wait */
			break;
		}
		io_uring_prep(u, sqe, &reqs[k]);
		u->in_flight++;
	}
	u->st.full += full ? 1 : 0;
	if (k > 0) {
		/*
		 * One enter for the batch. An error (-EINTR, -EAGAIN) leaves the SQEs in the SQ
		 * ring: they stay accepted and go to the kernel on the next submit or poll.
		 */
		(void)io_uring_submit(&u->ring);
		u->st.enters++;
	}
	u->st.submitted += k;
	SP_VERIFY(u->in_flight <= u->cq_entries);
	return (int)k;
}

int
sp_io_uring_poll(void *ctx, struct sp_io_cpl *cpls, unsigned n)
{
	struct sp_io_uring *u = ctx;
	if (io_uring_sq_ready(&u->ring) > 0) {
		(void)io_uring_submit(&u->ring); /* leftovers of an interrupted submit */
		u->st.enters++;
	}
	unsigned done = 0;
	while (done < n) {
		struct io_uring_cqe *cqes[SP_IO_URING_POLL_BATCH];
		unsigned want = SP_MIN(n - done, (unsigned)SP_IO_URING_POLL_BATCH);
		unsigned got = io_uring_peek_batch_cqe(&u->ring, cqes, want);
		for (unsigned i = 0; i < got; i++) {
			cpls[done + i].tag = io_uring_cqe_get_data64(cqes[i]);
			cpls[done + i].res = cqes[i]->res;
		}
		io_uring_cq_advance(&u->ring, got);
		done += got;
		if (got < want) {
			break;
		}
	}
	SP_VERIFY(done <= u->in_flight);
	u->in_flight -= done;
	u->st.completed += done;
	return (int)done;
}
