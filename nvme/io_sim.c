/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Simulated disk (io_sim.h). Single-threaded, owned by one caller; allocates freely (it is a
 * test tool, never in the appliance's poll loop).
 *
 * Model: each device holds two images. cur is what reads see; dur is what a crash keeps.
 * dur_seq[s] is the completion number of the write whose data sector s of dur holds, so a
 * flush that makes an older write durable never overwrites a newer durable (DSYNC) one.
 * Completed non-durable writes wait in `pending` (with a copy of their data) until a flush
 * covers them or a crash drops them. Write data is copied at submit, as a device reads the
 * buffer at some point before completion.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "spate/assert.h"
#include "spate/compiler.h"

#include "io_check.h"
#include "io_sim.h"

struct sim_req {
	struct sp_io_req req;
	uint8_t *data;       /* write: copy of the caller's buffer */
	uint64_t due;        /* completes on a poll numbered above this */
	uint64_t sub_seq;    /* submission number, 1.. */
	uint64_t flush_mark; /* flush: covers pending writes with cseq up to this */
	int fail;            /* injected error, or 0 */
};

struct sim_write {
	int file;
	uint64_t offset;
	uint32_t len;
	uint64_t tag;
	uint64_t sub_seq;
	uint64_t cseq; /* completion number */
	uint8_t *data;
};

struct sim_dev {
	uint8_t *cur;
	uint8_t *dur;
	uint64_t *dur_seq;
};

struct sp_io_sim {
	struct sp_io_sim_cfg cfg;
	struct sim_dev dev[SP_IO_SIM_MAX_FILES];
	uint32_t block[SP_IO_SIM_MAX_FILES]; /* all cfg.sector; the shape io_check wants */
	struct sim_req *fly;                 /* in flight, in submission order */
	unsigned n_fly;
	struct sim_write *pending; /* completed, not durable, in completion order */
	size_t n_pending, cap_pending;
	uint64_t rng;
	uint64_t polls, last_due, sub_seq, cseq;
	struct sp_io_sim_crash_info crash;
	struct sp_io_sim_stats st;
};

static const struct sp_io_ops sim_ops = {
    .submit = sp_io_sim_submit,
    .poll = sp_io_sim_poll,
};

/* splitmix64: small, seedable, good enough for test schedules. */
static uint64_t
sim_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int
sim_cfg_check(const struct sp_io_sim_cfg *cfg)
{
	if (cfg->n_files == 0 || cfg->n_files > SP_IO_SIM_MAX_FILES) {
		return -EINVAL;
	}
	if (cfg->sector != 512 && cfg->sector != 4096) {
		return -EINVAL;
	}
	if (cfg->size == 0 || cfg->size % cfg->sector != 0 || cfg->size > (1ull << 32)) {
		return -EINVAL;
	}
	if (cfg->depth == 0 || cfg->depth > SP_IO_SIM_MAX_DEPTH) {
		return -EINVAL;
	}
	if (cfg->fail_at != 0 && cfg->fail_err >= 0) {
		return -EINVAL;
	}
	return 0;
}

int
sp_io_sim_create(const struct sp_io_sim_cfg *cfg, struct sp_io_sim **out)
{
	int err = sim_cfg_check(cfg);
	if (err != 0) {
		return err;
	}
	struct sp_io_sim *sim = calloc(1, sizeof(*sim));
	if (sim == NULL) {
		return -ENOMEM;
	}
	sim->cfg = *cfg;
	sim->rng = cfg->seed;
	sim->fly = calloc(cfg->depth, sizeof(*sim->fly));
	if (sim->fly == NULL) {
		goto fail;
	}
	uint64_t nsect = cfg->size / cfg->sector;
	for (unsigned i = 0; i < cfg->n_files; i++) {
		sim->block[i] = cfg->sector;
		sim->dev[i].cur = calloc(1, cfg->size);
		sim->dev[i].dur = calloc(1, cfg->size);
		sim->dev[i].dur_seq = calloc(nsect, sizeof(uint64_t));
		if (sim->dev[i].cur == NULL || sim->dev[i].dur == NULL ||
		    sim->dev[i].dur_seq == NULL) {
			goto fail;
		}
	}
	*out = sim;
	return 0;
fail:
	sp_io_sim_destroy(sim);
	return -ENOMEM;
}

static void
sim_drop_all(struct sp_io_sim *sim)
{
	for (unsigned i = 0; i < sim->n_fly; i++) {
		free(sim->fly[i].data);
	}
	sim->n_fly = 0;
	for (size_t i = 0; i < sim->n_pending; i++) {
		free(sim->pending[i].data);
	}
	sim->n_pending = 0;
}

void
sp_io_sim_destroy(struct sp_io_sim *sim)
{
	if (sim == NULL) {
		return;
	}
	if (sim->fly != NULL) {
		sim_drop_all(sim);
	}
	free(sim->fly);
	free(sim->pending);
	for (unsigned i = 0; i < SP_IO_SIM_MAX_FILES; i++) {
		free(sim->dev[i].cur);
		free(sim->dev[i].dur);
		free(sim->dev[i].dur_seq);
	}
	free(sim);
}

struct sp_io
sp_io_sim_io(struct sp_io_sim *sim)
{
	return (struct sp_io){.ops = &sim_ops, .ctx = sim};
}

const uint8_t *
sp_io_sim_data(const struct sp_io_sim *sim, int file)
{
	SP_VERIFY(file >= 0 && (unsigned)file < sim->cfg.n_files);
	return sim->dev[file].cur;
}

unsigned
sp_io_sim_in_flight(const struct sp_io_sim *sim)
{
	return sim->n_fly;
}

void
sp_io_sim_stats(const struct sp_io_sim *sim, struct sp_io_sim_stats *st)
{
	*st = sim->st;
}

void
sp_io_sim_last_crash(const struct sp_io_sim *sim, struct sp_io_sim_crash_info *info)
{
	*info = sim->crash;
}

/* A request fits the device: io_check covers alignment, this the capacity. */
static int
sim_req_check(const struct sp_io_sim *sim, const struct sp_io_req *r)
{
	int err = sp_io_req_check(r, sim->cfg.n_files, sim->block);
	if (err == 0 && r->op != SP_IO_FLUSH && r->offset + r->len > sim->cfg.size) {
		err = -EINVAL;
	}
	return err;
}

int
sp_io_sim_submit(void *ctx, const struct sp_io_req *reqs, unsigned n)
{
	struct sp_io_sim *sim = ctx;
	unsigned k = 0;
	for (; k < n && sim->n_fly < sim->cfg.depth; k++) {
		const struct sp_io_req *r = &reqs[k];
		if (sim_req_check(sim, r) != 0) {
			if (k == 0) {
				sim->st.refused++;
				return -EINVAL;
			}
			break;
		}
		struct sim_req *q = &sim->fly[sim->n_fly];
		*q =
		    (struct sim_req){.req = *r, .sub_seq = ++sim->sub_seq, .flush_mark = sim->cseq};
		if (r->op == SP_IO_WRITE) {
			q->data = malloc(r->len);
			SP_VERIFY(q->data != NULL);
			memcpy(q->data, r->buf, r->len);
		} else if (r->op == SP_IO_ZERO) {
			q->data = calloc(1, r->len); /* a write of zeros, durable after a flush */
			SP_VERIFY(q->data != NULL);
		}
		uint64_t nth = q->sub_seq;
		if (sim->cfg.fail_at != 0 && nth >= sim->cfg.fail_at &&
		    nth - sim->cfg.fail_at < sim->cfg.fail_count) {
			q->fail = sim->cfg.fail_err;
		}
		uint64_t delay = sim->cfg.max_delay == 0
				     ? 0
				     : sim_rand(&sim->rng) % ((uint64_t)sim->cfg.max_delay + 1);
		q->due = sim->polls + delay;
		if (!sim->cfg.reorder) {
			q->due = SP_MAX(q->due, sim->last_due); /* never before an earlier one */
		}
		sim->last_due = SP_MAX(sim->last_due, q->due);
		sim->n_fly++;
	}
	sim->st.submitted += k;
	return (int)k;
}

/* Copy len bytes of data into dur at offset where dur holds an older write than cseq. */
static void
sim_make_durable(struct sp_io_sim *sim, int file, uint64_t offset, uint32_t len,
		 const uint8_t *data, uint64_t cseq)
{
	struct sim_dev *d = &sim->dev[file];
	uint32_t ss = sim->cfg.sector;
	for (uint32_t o = 0; o < len; o += ss) {
		uint64_t s = (offset + o) / ss;
		if (d->dur_seq[s] < cseq) {
			memcpy(d->dur + offset + o, data + o, ss);
			d->dur_seq[s] = cseq;
		}
	}
}

static void
sim_flush_done(struct sp_io_sim *sim, const struct sim_req *q)
{
	size_t keep = 0;
	for (size_t i = 0; i < sim->n_pending; i++) {
		struct sim_write *w = &sim->pending[i];
		if (w->file == q->req.file && w->cseq <= q->flush_mark) {
			sim_make_durable(sim, w->file, w->offset, w->len, w->data, w->cseq);
			free(w->data);
			sim->st.durable_writes++;
		} else {
			sim->pending[keep++] = *w;
		}
	}
	sim->n_pending = keep;
	sim->st.flushes++;
}

/* Apply a completing request; returns its result for the completion. */
static int32_t
sim_complete(struct sp_io_sim *sim, struct sim_req *q)
{
	const struct sp_io_req *r = &q->req;
	if (q->fail != 0) {
		free(q->data);
		sim->st.failed++;
		return q->fail;
	}
	if (r->op == SP_IO_READ) {
		memcpy(r->buf, sim->dev[r->file].cur + r->offset, r->len);
		return (int32_t)r->len;
	}
	if (r->op == SP_IO_FLUSH) {
		sim_flush_done(sim, q);
		return 0;
	}
	uint64_t cseq = ++sim->cseq;
	int32_t res = r->op == SP_IO_ZERO ? 0 : (int32_t)r->len; /* fallocate's result */
	memcpy(sim->dev[r->file].cur + r->offset, q->data, r->len);
	if ((r->flags & SP_IO_F_DSYNC) != 0) {
		sim_make_durable(sim, r->file, r->offset, r->len, q->data, cseq);
		sim->st.durable_writes++;
		free(q->data);
	} else {
		if (sim->n_pending == sim->cap_pending) {
			sim->cap_pending = sim->cap_pending == 0 ? 64 : 2 * sim->cap_pending;
			sim->pending =
			    realloc(sim->pending, sim->cap_pending * sizeof(*sim->pending));
			SP_VERIFY(sim->pending != NULL);
		}
		sim->pending[sim->n_pending++] = (struct sim_write){
		    .file = r->file,
		    .offset = r->offset,
		    .len = r->len,
		    .tag = r->tag,
		    .sub_seq = q->sub_seq,
		    .cseq = cseq,
		    .data = q->data,
		};
	}
	return res;
}

int
sp_io_sim_poll(void *ctx, struct sp_io_cpl *cpls, unsigned n)
{
	struct sp_io_sim *sim = ctx;
	sim->polls++;
	unsigned pick[SP_IO_SIM_POLL_MAX];
	n = SP_MIN(n, (unsigned)SP_IO_SIM_POLL_MAX);
	unsigned np = 0;
	for (unsigned i = 0; i < sim->n_fly && np < n; i++) {
		if (sim->fly[i].due < sim->polls) {
			pick[np++] = i;
		}
	}
	if (sim->cfg.reorder) {
		for (unsigned i = np; i > 1; i--) {
			unsigned j = (unsigned)(sim_rand(&sim->rng) % i);
			unsigned t = pick[i - 1];
			pick[i - 1] = pick[j];
			pick[j] = t;
		}
	}
	for (unsigned i = 0; i < np; i++) {
		struct sim_req *q = &sim->fly[pick[i]];
		cpls[i] = (struct sp_io_cpl){.tag = q->req.tag, .res = sim_complete(sim, q)};
		q->sub_seq = 0; /* mark done */
	}
	unsigned keep = 0;
	for (unsigned i = 0; i < sim->n_fly; i++) {
		if (sim->fly[i].sub_seq != 0) {
			sim->fly[keep++] = sim->fly[i];
		}
	}
	SP_VERIFY(keep + np == sim->n_fly);
	sim->n_fly = keep;
	sim->st.completed += np;
	return (int)np;
}

/* The most recently submitted non-durable write: in flight (not failing) or pending. */
static bool
sim_newest_write(struct sp_io_sim *sim, struct sim_write *w)
{
	uint64_t best = 0;
	for (unsigned i = 0; i < sim->n_fly; i++) {
		const struct sim_req *q = &sim->fly[i];
		if (q->req.op == SP_IO_WRITE && q->fail == 0 && q->sub_seq > best) {
			best = q->sub_seq;
			*w = (struct sim_write){.file = q->req.file,
						.offset = q->req.offset,
						.len = q->req.len,
						.tag = q->req.tag,
						.sub_seq = q->sub_seq,
						.data = q->data};
		}
	}
	for (size_t i = 0; i < sim->n_pending; i++) {
		if (sim->pending[i].sub_seq > best) {
			best = sim->pending[i].sub_seq;
			*w = sim->pending[i];
		}
	}
	return best != 0;
}

void
sp_io_sim_crash(struct sp_io_sim *sim, uint64_t seed)
{
	uint64_t rng = seed;
	struct sp_io_sim_crash_info info = {.dropped = sim->n_pending};
	for (unsigned i = 0; i < sim->n_fly; i++) {
		info.dropped += sim->fly[i].req.op == SP_IO_WRITE ? 1 : 0;
	}
	struct sim_write w;
	if (sim_newest_write(sim, &w)) {
		uint32_t nsect = w.len / sim->cfg.sector;
		info.torn = true;
		info.tag = w.tag;
		info.file = w.file;
		info.offset = w.offset;
		info.len = w.len;
		info.kept = (uint32_t)(sim_rand(&rng) % ((uint64_t)nsect + 1));
		/*
		 * The kept prefix reaches the medium. A write still in flight is newer than
		 * anything there; a completed one loses to a durable write completed after it.
		 */
		sim_make_durable(sim, w.file, w.offset, info.kept * sim->cfg.sector, w.data,
				 w.cseq != 0 ? w.cseq : ++sim->cseq);
	}
	sim_drop_all(sim);
	for (unsigned i = 0; i < sim->cfg.n_files; i++) {
		memcpy(sim->dev[i].cur, sim->dev[i].dur, sim->cfg.size);
	}
	sim->last_due = sim->polls;
	sim->crash = info;
}
