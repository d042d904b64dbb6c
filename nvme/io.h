/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Storage I/O seam (STYLE.md §15), declared ahead of the storage engine so that the layers
 * above are written against it from the start. The durable-storage issue supplies the
 * io_uring implementation (O_DIRECT, registered buffers, batched submit, polled completion)
 * and the simulator a fault-injecting one (latency, torn writes, crash at any point).
 *
 * Contract: submit never blocks and never waits for the device; completions are collected by
 * poll, in any order, each carrying the caller's tag. A worker owns its queue exclusively.
 */
#ifndef SP_NVME_IO_H
#define SP_NVME_IO_H

#include <stddef.h>
#include <stdint.h>

enum sp_io_op {
	SP_IO_WRITE = 1, /* write len bytes at offset, with FUA/RWF_DSYNC when flags say so */
	SP_IO_READ = 2,	 /* read len bytes at offset */
	SP_IO_FLUSH = 3, /* make every completed write durable (fdatasync) */
	SP_IO_ZERO = 4,  /* len bytes at offset read as zeros from now on (durable after a FLUSH) */
};

#define SP_IO_F_DSYNC 0x1u /* this write is durable when it completes */

struct sp_io_req {
	enum sp_io_op op;
	uint32_t flags;
	int file;	 /* index of a file registered with the queue */
	uint64_t offset; /* bytes, aligned to the device's logical block */
	void *buf;	 /* aligned, from hugepage memory */
	uint32_t len;	 /* bytes, a multiple of the logical block */
	uint64_t tag;	 /* returned with the completion */
};

struct sp_io_cpl {
	uint64_t tag;
	int32_t res; /* bytes transferred, or a negative errno (-ENOSPC, -EIO, ...) */
};

struct sp_io_ops {
	/* Queue up to n requests; returns how many were accepted (0..n) or a negative errno. */
	int (*submit)(void *ctx, const struct sp_io_req *reqs, unsigned n);
	/* Collect up to n completions without waiting; returns the count or a negative errno. */
	int (*poll)(void *ctx, struct sp_io_cpl *cpls, unsigned n);
};

struct sp_io {
	const struct sp_io_ops *ops;
	void *ctx;
};

#endif /* SP_NVME_IO_H */
