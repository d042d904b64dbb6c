/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * io_uring backend of the storage seam (io.h). One queue per worker, owned exclusively by it.
 * Files (regular files, opened O_DIRECT, or raw block devices: the same code) are opened at
 * create and registered with the ring; a request names one by its index in cfg->paths.
 *
 * Costs: one io_uring_enter per submit() call, whatever the batch size, so the caller batches
 * a group-commit window into one submit; poll() only reads the completion ring (no syscall
 * unless requests are left in the SQ from an interrupted submit). SQPOLL is not used: its
 * kernel thread spins on a CPU of its own, and the appliance has two CPUs that are both
 * busy polling already.
 */
#ifndef SP_NVME_IO_URING_H
#define SP_NVME_IO_URING_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"

#define SP_IO_URING_MAX_FILES  64   /* files per queue */
#define SP_IO_URING_MAX_DEPTH  4096 /* SQ entries per queue */
#define SP_IO_URING_POLL_BATCH 64   /* completions read per peek */

#define SP_IO_URING_F_CREATE 0x1u /* create missing regular files (mode 0600) */

struct sp_io_uring_cfg {
	const char *const *paths; /* files or block devices, index = sp_io_req.file */
	unsigned n_files;         /* 1..SP_IO_URING_MAX_FILES */
	unsigned depth;           /* SQ entries, 1..SP_IO_URING_MAX_DEPTH; in flight <= 2*depth */
	uint32_t flags;           /* SP_IO_URING_F_* */
	void *arena;              /* optional: memory to register (fixed buffers), or NULL */
	size_t arena_len;         /* bytes; at most 1 GiB (a kernel limit per buffer) */
};

struct sp_io_uring_stats {
	uint64_t submitted; /* requests accepted */
	uint64_t completed; /* completions returned by poll */
	uint64_t fixed;     /* of submitted: READ_FIXED/WRITE_FIXED from the arena */
	uint64_t refused;   /* submit() calls that returned -EINVAL */
	uint64_t full;      /* submit() calls that accepted fewer than asked (queue full) */
	uint64_t enters;    /* io_uring_enter syscalls made by submit and poll */
};

struct sp_io_uring;

/*
 * Open cfg->paths (O_RDWR | O_DIRECT), discover each one's logical block, set up the ring,
 * register the files and the arena. Returns 0 and *out, or a negative errno (-EINVAL for a bad
 * cfg or a file that is neither regular nor a block device; open/io_uring errors as they are).
 * Allocates: call at start-up.
 */
int sp_io_uring_create(const struct sp_io_uring_cfg *cfg, struct sp_io_uring **out);
void sp_io_uring_destroy(struct sp_io_uring *u);

/* The seam over this queue. */
struct sp_io sp_io_uring_io(struct sp_io_uring *u);

/*
 * Logical block of file: offsets, lengths and buffer addresses must be multiples of it.
 * BLKSSZGET for a device; for a file, its direct-I/O alignment (statx) or st_blksize.
 */
uint32_t sp_io_uring_block(const struct sp_io_uring *u, int file);

/* Size in bytes of file (a device's capacity, a file's current length), or a negative errno. */
int64_t sp_io_uring_size(const struct sp_io_uring *u, int file);

/* Requests accepted and not yet returned by poll. */
unsigned sp_io_uring_in_flight(const struct sp_io_uring *u);

void sp_io_uring_stats(const struct sp_io_uring *u, struct sp_io_uring_stats *st);

/*
 * The seam's operations, also callable directly. submit: accepts a prefix of reqs, stopping
 * where the queue is full; returns its length, or -EINVAL when reqs[0] is malformed (a bad
 * request later in the array ends the prefix before it). poll: never waits.
 */
int sp_io_uring_submit(void *ctx, const struct sp_io_req *reqs, unsigned n);
int sp_io_uring_poll(void *ctx, struct sp_io_cpl *cpls, unsigned n);

#endif /* SP_NVME_IO_URING_H */
