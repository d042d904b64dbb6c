/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Simulated disk behind the storage seam (io.h), for power-loss tests and the deterministic
 * simulator. Each file is an in-memory device of cfg->size bytes with cfg->sector sectors.
 *
 * Timing: a request completes on a later poll (after 0..max_delay further polls, seeded);
 * with reorder, completions come in any order, else in submission order. A write or read
 * takes effect when it completes; reads see the current content.
 *
 * Durability (what a crash keeps): a write is durable when it completed with SP_IO_F_DSYNC,
 * or when it completed before a FLUSH of its file was submitted and that FLUSH completed
 * (fdatasync's rule: it covers the writes completed before the call). sp_io_sim_crash drops
 * every other write, requests in flight included, except that the most recently submitted
 * non-durable write may be torn: its first k sectors (k seeded, 0..all) survive.
 *
 * Faults: requests number fail_at .. fail_at + fail_count - 1 (1-based, in submission order)
 * complete with fail_err and have no effect; a failed FLUSH makes nothing durable.
 */
#ifndef SP_NVME_IO_SIM_H
#define SP_NVME_IO_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "io.h"

#define SP_IO_SIM_MAX_FILES 16
#define SP_IO_SIM_MAX_DEPTH 4096
#define SP_IO_SIM_POLL_MAX  64 /* completions returned per poll, at most */

struct sp_io_sim_cfg {
	unsigned n_files;   /* 1..SP_IO_SIM_MAX_FILES devices */
	uint64_t size;      /* bytes per device, a multiple of sector */
	uint32_t sector;    /* 512 or 4096: the logical block and the unit of tearing */
	unsigned depth;     /* requests in flight, 1..SP_IO_SIM_MAX_DEPTH */
	uint64_t seed;      /* completion timing and order */
	unsigned max_delay; /* extra polls before a completion, 0.. */
	bool reorder;       /* completions in any order */
	uint64_t fail_at;   /* first failing request, 1-based; 0 = none */
	unsigned fail_count;
	int fail_err; /* -EIO, -ENOSPC, ... */
};

/* What the last crash did, for tests. */
struct sp_io_sim_crash_info {
	uint64_t dropped; /* non-durable writes lost (the torn one included) */
	bool torn;        /* a write was torn (possibly at 0 or all of its sectors) */
	uint64_t tag;     /* the torn write: its tag, file, offset, length, sectors kept */
	int file;
	uint64_t offset;
	uint32_t len;
	uint32_t kept;
};

struct sp_io_sim_stats {
	uint64_t submitted, completed, failed, refused, flushes, durable_writes;
};

struct sp_io_sim;

/* Devices start zero-filled and durable. Returns 0 and *out, -EINVAL or -ENOMEM. */
int sp_io_sim_create(const struct sp_io_sim_cfg *cfg, struct sp_io_sim **out);
void sp_io_sim_destroy(struct sp_io_sim *sim);

struct sp_io sp_io_sim_io(struct sp_io_sim *sim);

/* Power loss: see above. Requests in flight vanish (no completions); the sim stays usable. */
void sp_io_sim_crash(struct sp_io_sim *sim, uint64_t seed);
void sp_io_sim_last_crash(const struct sp_io_sim *sim, struct sp_io_sim_crash_info *info);

/* Current content of a device (what a read returns now), size bytes. */
const uint8_t *sp_io_sim_data(const struct sp_io_sim *sim, int file);

unsigned sp_io_sim_in_flight(const struct sp_io_sim *sim);
void sp_io_sim_stats(const struct sp_io_sim *sim, struct sp_io_sim_stats *st);

/* The seam's operations: same acceptance rules as the io_uring backend (io_uring.h). */
int sp_io_sim_submit(void *ctx, const struct sp_io_req *reqs, unsigned n);
int sp_io_sim_poll(void *ctx, struct sp_io_cpl *cpls, unsigned n);

#endif /* SP_NVME_IO_SIM_H */
