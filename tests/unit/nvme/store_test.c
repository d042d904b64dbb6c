/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for nvme/store.c on the simulated disk:
 *   - format, group commit, the durable watermark, recovery without a crash and cold reads
 *     (by number and by time) returning every record byte-exact;
 *   - geometry and argument refusals, a foreign superblock, no free segment (-ENOSPC);
 *   - write errors retried with the same bytes, new records refused meanwhile;
 *   - torn and corrupted tails cut once (counted, zeroed), earlier data intact;
 *   - the power-loss property over seeded crash points, several crash/recover cycles each:
 *     after every recovery each log holds exactly a prefix of what was appended to it (numbers,
 *     times, keys, data), and that prefix includes every record the durable watermark had
 *     covered before the crash. SP_STORE_SEEDS=<n> runs more, SP_STORE_SEED=<s> one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sp_test.h"

#include "io_sim.h"
#include "seal.h"
#include "spate/compiler.h"
#include "spate/seqno.h"
#include "store.h"

#define SECT      512u
#define SEG_BYTES (256u * 1024u)
#define NSEGS     12u
#define DEV_BYTES (SP_STORE_SB_BYTES + NSEGS * SEG_BYTES)
#define WBUF      (32u * 1024u)
#define NLOGS     3u
#define MAXREC    6000u
#define KEYMAX    40u
#define DATAMAX   3000u

struct mrec {
	sp_u128 seq;
	uint64_t ms;
	uint16_t klen;
	uint32_t dlen;
	uint8_t key[KEYMAX];
	uint8_t *data;
};

struct mlog {
	uint32_t tag, index;
	struct mrec *r; /* every record appended (or recovered), in order */
	uint32_t n;     /* records in r */
	uint32_t acked; /* a prefix the durable watermark covered */
	uint32_t epoch;
	uint64_t counter;
	uint8_t *wbuf;
	struct sp_slog *log;
	bool full;
};

static uint64_t
rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static struct sp_io_sim *
mk_sim(uint64_t seed, unsigned max_delay, bool reorder)
{
	struct sp_io_sim_cfg cfg = {.n_files = 1,
				    .size = DEV_BYTES,
				    .sector = SECT,
				    .depth = 256,
				    .seed = seed,
				    .max_delay = max_delay,
				    .reorder = reorder};
	struct sp_io_sim *sim = NULL;

	assert_int_equal(sp_io_sim_create(&cfg, &sim), 0);
	return sim;
}

static void *g_scratch;

static struct sp_store *
mk_store(struct sp_io_sim *sim, struct sp_store_recovery *rep, int want)
{
	struct sp_store_conf c = {.io = sp_io_sim_io(sim),
				  .file = 0,
				  .size = DEV_BYTES,
				  .block = SECT,
				  .seg_bytes = SEG_BYTES,
				  .max_logs = 16,
				  .index_cap = 16,
				  .index_every_recs = 8,
				  .index_every_bytes = 4096,
				  .scratch = g_scratch,
				  .scratch_len = SEG_BYTES,
				  .now_ms = 1000,
				  .store_id = 42};
	struct sp_store *s = NULL;

	assert_int_equal(sp_store_create(&c, &s), 0);
	assert_int_equal(sp_store_recover(s, rep), want);
	return s;
}

static void
poll_idle(struct sp_store *s)
{
	for (unsigned i = 0; i < 100000 && !sp_store_idle(s); i++) {
		(void)sp_store_poll(s);
	}
	assert_true(sp_store_idle(s));
}

static sp_u128
mseq(const struct mlog *m, uint64_t counter)
{
	struct sp_seqno_fields f = {
	    .epoch = m->epoch, .counter = counter, .stream_tag = m->tag, .shard_index = m->index};

	return sp_seqno_pack(&f);
}

/* A new record for m (not yet appended). */
static struct mrec *
mnew(struct mlog *m, uint64_t *rng, uint64_t ms)
{
	struct mrec *r = &m->r[m->n];

	assert_true(m->n < MAXREC);
	r->seq = mseq(m, ++m->counter);
	r->ms = ms;
	r->klen = (uint16_t)(1 + rnd(rng) % KEYMAX);
	r->dlen = (uint32_t)(rnd(rng) % 8 == 0 ? rnd(rng) % DATAMAX : rnd(rng) % 200);
	for (unsigned i = 0; i < r->klen; i++) {
		r->key[i] = (uint8_t)rnd(rng);
	}
	r->data = malloc(DATAMAX); /* tests may set dlen up to DATAMAX afterwards */
	assert_non_null(r->data);
	for (unsigned i = 0; i < DATAMAX; i++) {
		r->data[i] = (uint8_t)rnd(rng);
	}
	return r;
}

static int
mappend(struct mlog *m, struct mrec *r)
{
	struct sp_seg_rec in = {.seq = r->seq,
				.arrival_ms = r->ms,
				.key = r->key,
				.key_len = r->klen,
				.data = r->data,
				.data_len = r->dlen};
	int rc = sp_slog_append(m->log, &in);

	if (rc == 0) {
		m->n++;
	}
	return rc;
}

/* Called for each record read back (the k-th) before it is compared: sealed ones opened. */
typedef void (*read_hook_fn)(void *arg, const struct sp_slog_read *rd, struct sp_seg_rec *r,
			     uint32_t k);

static void read_back_hook(struct sp_store *s, struct mlog *m, uint32_t n, read_hook_fn hook,
			   void *arg);

/* Read the whole log back through cold reads and compare with m->r[0..n). */
static void
read_back(struct sp_store *s, struct sp_io_sim *sim, struct mlog *m, uint32_t n)
{
	(void)sim;
	read_back_hook(s, m, n, NULL, NULL);
}

static void
read_back_hook(struct sp_store *s, struct mlog *m, uint32_t n, read_hook_fn hook, void *arg)
{
	uint8_t *buf = aligned_alloc(SECT, 64 * 1024);
	struct sp_seg_rec out[64];
	sp_u128 pos = 0;
	uint32_t k = 0;

	assert_non_null(buf);
	for (;;) {
		struct sp_slog_read rd;
		sp_u128 next;
		int got;

		if (sp_slog_read_plan(m->log, pos, 64 * 1024, &rd) == -ENOENT) {
			break;
		}
		do {
			struct sp_store_read_cpl done;

			/* through the store's own read path: submit, poll, collect */
			assert_int_equal(sp_store_read(s, &rd, buf, 7), 0);
			while (sp_store_read_done(s, &done, 1) == 0) {
				(void)sp_store_poll(s);
			}
			assert_true(done.tag == 7);
			assert_int_equal(done.res, (int32_t)rd.len);
			got = sp_slog_read_walk(&rd, buf, out, 64, &next);
		} while (got == 0);
		assert_true(got > 0);
		for (int i = 0; i < got; i++, k++) {
			const struct mrec *e = &m->r[k];

			assert_true(k < n);
			if (hook != NULL) {
				hook(arg, &rd, &out[i], k);
			}
			assert_true(out[i].seq == e->seq);
			assert_int_equal(out[i].arrival_ms, e->ms);
			assert_int_equal(out[i].key_len, e->klen);
			assert_int_equal(out[i].data_len, e->dlen);
			assert_memory_equal(out[i].key, e->key, e->klen);
			if (e->dlen > 0) {
				assert_memory_equal(out[i].data, e->data, e->dlen);
			}
		}
		pos = next;
	}
	assert_int_equal(k, n);
	free(buf);
}

static void
mfree(struct mlog *m)
{
	for (uint32_t i = 0; i < MAXREC; i++) {
		free(m->r[i].data);
		m->r[i].data = NULL;
	}
	free(m->r);
	free(m->wbuf);
}

static void
minit(struct mlog *m, uint32_t i)
{
	memset(m, 0, sizeof(*m));
	m->tag = 0x5a5a0 + i;
	m->index = i * 7;
	m->epoch = 1;
	m->r = calloc(MAXREC, sizeof(*m->r));
	m->wbuf = aligned_alloc(SECT, WBUF);
	assert_non_null(m->r);
	assert_non_null(m->wbuf);
}

static void
mattach(struct sp_store *s, struct mlog *m)
{
	assert_int_equal(sp_store_log_attach(s, m->tag, m->index, m->wbuf, WBUF, &m->log), 0);
}

/* --- tests ------------------------------------------------------------------------------ */

static void
test_round_trip(void **state)
{
	(void)state;
	struct sp_io_sim *sim = mk_sim(1, 3, true);
	struct sp_store_recovery rep;
	struct sp_store *s = mk_store(sim, &rep, 0);
	struct mlog m;
	uint64_t rng = 99;
	struct sp_slog_info info;

	assert_true(rep.formatted);
	assert_int_equal(rep.segs, NSEGS);
	minit(&m, 0);
	mattach(s, &m);
	assert_true(sp_slog_durable(m.log) == 0);
	for (unsigned i = 0; i < 1500; i++) {
		struct mrec *r = mnew(&m, &rng, 5000 + i / 3);
		int rc;

		while ((rc = mappend(&m, r)) == -EAGAIN) {
			(void)sp_store_poll(s);
		}
		assert_int_equal(rc, 0);
		if (i % 17 == 0) {
			(void)sp_store_poll(s);
		}
	}
	poll_idle(s);
	assert_true(sp_slog_durable(m.log) == m.r[m.n - 1].seq);
	sp_slog_info(m.log, &info);
	assert_int_equal(info.records, 1500);
	assert_true(info.segs > 1); /* rolled over */
	read_back(s, sim, &m, m.n);
	/* by time: the first record whose arrival is at or after t (times never go back here) */
	for (uint64_t t = 4990; t <= 5510; t += 37) {
		struct sp_io io = sp_io_sim_io(sim);
		uint8_t *buf = aligned_alloc(SECT, 64 * 1024);
		struct sp_seg_rec out[4];
		struct sp_slog_read rd;
		uint32_t want = 0;
		sp_u128 next;
		int got;

		while (want < m.n && m.r[want].ms < t) {
			want++;
		}
		got = sp_slog_read_plan_time(m.log, t, 64 * 1024, &rd);
		if (want == m.n) {
			assert_int_equal(got, -ENOENT);
			free(buf);
			continue;
		}
		assert_int_equal(got, 0);
		do {
			struct sp_io_req req = {.op = SP_IO_READ,
						.file = rd.file,
						.offset = rd.offset,
						.buf = buf,
						.len = rd.len};
			struct sp_io_cpl cpl;

			assert_int_equal(io.ops->submit(io.ctx, &req, 1), 1);
			while (io.ops->poll(io.ctx, &cpl, 1) == 0) {
			}
			got = sp_slog_read_walk(&rd, buf, out, 4, &next);
		} while (got == 0);
		assert_true(got > 0);
		assert_true(out[0].seq == m.r[want].seq);
		free(buf);
	}
	sp_store_destroy(s);

	/* recover without a crash: everything is there, and the log continues */
	s = mk_store(sim, &rep, 0);
	assert_false(rep.formatted);
	assert_int_equal(rep.logs, 1);
	assert_int_equal(rep.records, 1500);
	assert_int_equal(rep.torn + rep.corrupt, 0);
	mattach(s, &m);
	assert_true(sp_slog_durable(m.log) == m.r[m.n - 1].seq);
	m.epoch = 2;
	m.counter = 0;
	for (unsigned i = 0; i < 300; i++) {
		struct mrec *r = mnew(&m, &rng, 9000 + i);
		int rc;

		while ((rc = mappend(&m, r)) == -EAGAIN) {
			(void)sp_store_poll(s);
		}
		assert_int_equal(rc, 0);
	}
	poll_idle(s);
	read_back(s, sim, &m, m.n);
	sp_store_destroy(s);
	s = mk_store(sim, &rep, 0);
	assert_int_equal(rep.records, 1800);
	mattach(s, &m);
	read_back(s, sim, &m, m.n);
	sp_store_destroy(s);
	mfree(&m);
	sp_io_sim_destroy(sim);
}

static void
test_refusals(void **state)
{
	(void)state;
	struct sp_io_sim *sim = mk_sim(2, 0, false);
	struct sp_store_recovery rep;
	struct sp_store *s = NULL;
	struct sp_store_conf c = {.io = sp_io_sim_io(sim),
				  .size = DEV_BYTES,
				  .block = SECT,
				  .seg_bytes = SEG_BYTES,
				  .max_logs = 2,
				  .index_cap = 4,
				  .index_every_recs = 1,
				  .index_every_bytes = 1,
				  .scratch = g_scratch,
				  .scratch_len = SEG_BYTES};
	struct sp_store_conf bad = c;
	struct mlog m[3];
	uint64_t rng = 5;

	bad.seg_bytes = SEG_BYTES + SECT;
	assert_int_equal(sp_store_create(&bad, &s), -EINVAL);
	bad = c;
	bad.block = 3000;
	assert_int_equal(sp_store_create(&bad, &s), -EINVAL);
	bad = c;
	bad.scratch_len = 64 * 1024;
	assert_int_equal(sp_store_create(&bad, &s), -EINVAL);
	bad = c;
	bad.size = SP_STORE_SB_BYTES + SEG_BYTES - SECT; /* not even one segment */
	assert_int_equal(sp_store_create(&bad, &s), 0);
	assert_int_equal(sp_store_recover(s, &rep), -EINVAL);
	sp_store_destroy(s);

	assert_int_equal(sp_store_create(&c, &s), 0);
	assert_int_equal(sp_store_recover(s, &rep), 0);
	for (unsigned i = 0; i < 3; i++) {
		minit(&m[i], i);
	}
	mattach(s, &m[0]);
	mattach(s, &m[1]);
	assert_int_equal(sp_store_log_attach(s, m[0].tag, m[0].index, m[0].wbuf, WBUF, &m[0].log),
			 -EEXIST);
	assert_int_equal(sp_store_log_attach(s, m[2].tag, m[2].index, m[2].wbuf, WBUF, &m[2].log),
			 -ENOSPC);
	assert_int_equal(sp_store_log_attach(s, 9, 9, m[2].wbuf + 8, WBUF - SECT, &m[2].log),
			 -EINVAL);
	/* another shard's number, a number not above the last, a frame too big */
	{
		struct mrec *r = mnew(&m[0], &rng, 10);
		struct sp_seg_rec in = {
		    .seq = mseq(&m[1], 1), .arrival_ms = 10, .key = r->key, .key_len = 1};

		assert_int_equal(sp_slog_append(m[0].log, &in), -EINVAL);
		assert_int_equal(mappend(&m[0], r), 0);
		in.seq = r->seq;
		assert_int_equal(sp_slog_append(m[0].log, &in), -ERANGE);
		in.seq = r->seq + ((sp_u128)1 << 52);
		in.data_len = WBUF;
		in.data = r->data;
		assert_int_equal(sp_slog_append(m[0].log, &in), -EMSGSIZE);
	}
	/* fill the store: -ENOSPC, counted, nothing lost before it */
	{
		int rc = 0;
		unsigned k = 0;

		while (rc == 0 || rc == -EAGAIN) {
			struct mrec *r = mnew(&m[1], &rng, 20);

			r->dlen = 2500;
			while ((rc = mappend(&m[1], r)) == -EAGAIN) {
				(void)sp_store_poll(s);
			}
			if (rc != 0) {
				m[1].counter--;
				free(r->data);
				r->data = NULL;
			}
			k++;
			assert_true(k < MAXREC);
		}
		assert_int_equal(rc, -ENOSPC);
		poll_idle(s);
		{
			struct sp_store_stats st;

			sp_store_stats(s, &st);
			assert_true(st.no_space >= 1);
		}
		read_back(s, sim, &m[1], m[1].n);
	}
	sp_store_destroy(s);
	for (unsigned i = 0; i < 3; i++) {
		mfree(&m[i]);
	}
	sp_io_sim_destroy(sim);

	/* a superblock of another format */
	sim = mk_sim(3, 0, false);
	{
		struct sp_io io = sp_io_sim_io(sim);
		uint8_t *b = aligned_alloc(SECT, SECT);
		struct sp_io_req w = {
		    .op = SP_IO_WRITE, .flags = SP_IO_F_DSYNC, .buf = b, .len = SECT};
		struct sp_io_cpl cpl;

		memset(b, 0x11, SECT);
		assert_int_equal(io.ops->submit(io.ctx, &w, 1), 1);
		while (io.ops->poll(io.ctx, &cpl, 1) == 0) {
		}
		free(b);
		c.io = io;
		assert_int_equal(sp_store_create(&c, &s), 0);
		assert_int_equal(sp_store_recover(s, &rep), -EINVAL);
		sp_store_destroy(s);
	}
	sp_io_sim_destroy(sim);
}

static void
test_write_errors(void **state)
{
	(void)state;
	/* fresh store: superblock read and write, NSEGS header reads, then data writes */
	struct sp_io_sim_cfg cfg = {.n_files = 1,
				    .size = DEV_BYTES,
				    .sector = SECT,
				    .depth = 64,
				    .seed = 4,
				    .fail_at = 1 + 1 + NSEGS + 2, /* the second data write */
				    .fail_count = 3,
				    .fail_err = -EIO};
	struct sp_io_sim *sim = NULL;
	struct sp_store_recovery rep;
	struct sp_store *s;
	struct sp_store_stats st;
	struct mlog m;
	uint64_t rng = 8;
	int rc;

	assert_int_equal(sp_io_sim_create(&cfg, &sim), 0);
	s = mk_store(sim, &rep, 0);
	minit(&m, 0);
	mattach(s, &m);
	assert_int_equal(mappend(&m, mnew(&m, &rng, 1)), 0);
	poll_idle(s);
	assert_true(sp_slog_durable(m.log) == m.r[0].seq);
	assert_int_equal(mappend(&m, mnew(&m, &rng, 2)), 0);
	(void)sp_store_poll(s); /* submit: this write fails */
	(void)sp_store_poll(s);
	{
		struct sp_slog_info info;

		sp_slog_info(m.log, &info);
		assert_int_equal(info.err, -EIO);
	}
	rc = mappend(&m, mnew(&m, &rng, 3));
	assert_int_equal(rc, -EIO); /* refused while the write is retried */
	m.counter--;
	poll_idle(s); /* retried (after backoff) until it succeeds */
	sp_store_stats(s, &st);
	assert_int_equal(st.write_errors, 3);
	assert_true(sp_slog_durable(m.log) == m.r[1].seq);
	sp_store_destroy(s);
	s = mk_store(sim, &rep, 0);
	mattach(s, &m);
	read_back(s, sim, &m, 2);
	sp_store_destroy(s);
	mfree(&m);
	sp_io_sim_destroy(sim);
}

/* Flip or cut bytes of the newest segment on the durable image, then recover. */
static void
test_torn_and_corrupt(void **state)
{
	(void)state;
	for (int mode = 0; mode < 2; mode++) {
		struct sp_io_sim *sim = mk_sim(5, 0, false);
		struct sp_store_recovery rep;
		struct sp_store *s = mk_store(sim, &rep, 0);
		struct sp_io io = sp_io_sim_io(sim);
		struct mlog m;
		uint64_t rng = 11;
		uint8_t *blk = aligned_alloc(SECT, SECT);
		uint64_t victim_off;
		uint32_t keep;

		minit(&m, 1);
		mattach(s, &m);
		for (unsigned i = 0; i < 40; i++) {
			struct mrec *r = mnew(&m, &rng, 100 + i);

			r->dlen = 100;
			assert_int_equal(mappend(&m, r), 0);
		}
		poll_idle(s);
		sp_store_destroy(s);
		/* record k's frame: header block + k frames of 38 + klen + 100 bytes */
		victim_off = SP_STORE_SB_BYTES + SECT;
		keep = 30;
		for (unsigned i = 0; i < keep; i++) {
			victim_off += 38u + m.r[i].klen + 100u;
		}
		/* frame 30: mode 0 cuts it in the middle (zeros after), mode 1 flips one byte */
		{
			uint64_t b = victim_off + 38 + m.r[keep].klen + 50;
			struct sp_io_req rq = {
			    .op = SP_IO_READ, .buf = blk, .len = SECT, .offset = b - b % SECT};
			struct sp_io_cpl cpl;

			assert_int_equal(io.ops->submit(io.ctx, &rq, 1), 1);
			while (io.ops->poll(io.ctx, &cpl, 1) == 0) {
			}
			if (mode == 0) {
				memset(blk + b % SECT, 0, SECT - b % SECT); /* cut mid-frame */
			} else {
				blk[b % SECT] ^= 0x40;
			}
			rq.op = SP_IO_WRITE;
			rq.flags = SP_IO_F_DSYNC;
			assert_int_equal(io.ops->submit(io.ctx, &rq, 1), 1);
			while (io.ops->poll(io.ctx, &cpl, 1) == 0) {
			}
			if (mode == 0) {
				memset(blk, 0, SECT);
				for (uint64_t o = rq.offset + SECT;
				     o < SP_STORE_SB_BYTES + SEG_BYTES; o += SECT) {
					rq.offset = o;
					assert_int_equal(io.ops->submit(io.ctx, &rq, 1), 1);
					while (io.ops->poll(io.ctx, &cpl, 1) == 0) {
					}
				}
			}
		}
		s = mk_store(sim, &rep, 0);
		assert_int_equal(rep.records, keep);
		assert_int_equal(rep.torn, mode == 0 ? 1 : 0);
		assert_int_equal(rep.corrupt, mode == 1 ? 1 : 0);
		assert_true(rep.cut_bytes > 0);
		mattach(s, &m);
		read_back(s, sim, &m, keep);
		/* continue after the cut: the next records follow the kept prefix */
		m.n = keep;
		m.epoch = 2;
		m.counter = 0;
		for (unsigned i = 0; i < 10; i++) {
			free(m.r[m.n].data);
			assert_int_equal(mappend(&m, mnew(&m, &rng, 500 + i)), 0);
		}
		poll_idle(s);
		sp_store_destroy(s);
		/* the cut was made once: a second recovery finds a clean log */
		s = mk_store(sim, &rep, 0);
		assert_int_equal(rep.torn + rep.corrupt, 0);
		assert_int_equal(rep.records, keep + 10);
		mattach(s, &m);
		read_back(s, sim, &m, m.n);
		sp_store_destroy(s);
		mfree(&m);
		free(blk);
		sp_io_sim_destroy(sim);
	}
}

/* Retention and deleted streams: segments leave the chain, are zeroed, become free again. */
static void
test_release(void **state)
{
	(void)state;
	struct sp_io_sim *sim = mk_sim(6, 2, true);
	struct sp_store_recovery rep;
	struct sp_store *s = mk_store(sim, &rep, 0);
	struct sp_store_stats st;
	struct sp_slog_info info;
	struct mlog m[2];
	uint64_t rng = 21;
	uint32_t kept;
	int rc;

	minit(&m[0], 0);
	minit(&m[1], 1);
	mattach(s, &m[0]);
	mattach(s, &m[1]);
	/* log 0 fills the store with records one ms apart, until no segment is left */
	do {
		struct mrec *r = mnew(&m[0], &rng, 1000 + m[0].n);

		r->dlen = 2000;
		while ((rc = mappend(&m[0], r)) == -EAGAIN) {
			(void)sp_store_poll(s);
		}
		if (rc != 0) {
			m[0].counter--;
		}
	} while (rc == 0);
	assert_int_equal(rc, -ENOSPC);
	poll_idle(s);
	assert_int_equal(mappend(&m[1], mnew(&m[1], &rng, 5)), -ENOSPC);
	m[1].counter--;
	free(m[1].r[m[1].n].data); /* not appended: mnew makes it again */
	m[1].r[m[1].n].data = NULL;
	/* expire everything before the middle record: whole segments only */
	sp_slog_info(m[0].log, &info);
	assert_int_equal(info.segs, NSEGS);
	assert_true(sp_slog_expire(m[0].log, 1000 + m[0].n / 2) > 0);
	sp_slog_info(m[0].log, &info);
	kept = (uint32_t)info.records;
	assert_true(kept < m[0].n && kept >= m[0].n / 2);
	assert_true(info.first_seq == m[0].r[m[0].n - kept].seq);
	poll_idle(s);
	sp_store_stats(s, &st);
	assert_true(st.segs_freed > 0 && st.free_errors == 0);
	/* space again: log 1 writes */
	assert_int_equal(mappend(&m[1], mnew(&m[1], &rng, 6)), 0);
	poll_idle(s);
	sp_store_destroy(s);
	/* the released segments stay released after a restart; the rest reads back */
	s = mk_store(sim, &rep, 0);
	assert_int_equal(rep.records, kept + 1);
	assert_int_equal(rep.torn + rep.corrupt, 0);
	mattach(s, &m[0]);
	mattach(s, &m[1]);
	for (uint32_t i = 0; i < m[0].n - kept; i++) {
		free(m[0].r[i].data); /* expired */
	}
	memmove(m[0].r, m[0].r + (m[0].n - kept), kept * sizeof(m[0].r[0]));
	for (uint32_t i = kept; i < m[0].n; i++) {
		m[0].r[i].data = NULL; /* moved */
	}
	m[0].n = kept;
	read_back(s, sim, &m[0], kept);
	read_back(s, sim, &m[1], 1);
	/* a deleted stream: every segment released, the log gone */
	assert_int_equal(sp_slog_drop(m[0].log), 0);
	assert_null(sp_store_log_find(s, m[0].tag, m[0].index));
	poll_idle(s);
	sp_store_destroy(s);
	s = mk_store(sim, &rep, 0);
	assert_int_equal(rep.logs, 1);
	assert_int_equal(rep.records, 1);
	sp_store_destroy(s);
	mfree(&m[0]);
	mfree(&m[1]);
	sp_io_sim_destroy(sim);
}

/* Streams come and go for as long as the process runs: retired logs' slots are reused. */
static void
test_log_reuse(void **state)
{
	(void)state;
	struct sp_io_sim *sim = mk_sim(7, 1, false);
	struct sp_store_recovery rep;
	struct sp_store_conf c = {.io = sp_io_sim_io(sim),
				  .size = DEV_BYTES,
				  .block = SECT,
				  .seg_bytes = SEG_BYTES,
				  .max_logs = 4,
				  .index_cap = 4,
				  .index_every_recs = 8,
				  .index_every_bytes = 4096,
				  .scratch = g_scratch,
				  .scratch_len = SEG_BYTES};
	struct sp_store *s = NULL;
	struct sp_store_stats st;
	uint8_t *wbuf[4];
	struct sp_slog *live[4] = {0};
	uint32_t tags[4] = {0};
	uint8_t key[1] = {'k'};

	assert_int_equal(sp_store_create(&c, &s), 0);
	assert_int_equal(sp_store_recover(s, &rep), 0);
	for (unsigned i = 0; i < 4; i++) {
		wbuf[i] = aligned_alloc(SECT, WBUF);
		assert_non_null(wbuf[i]);
	}
	for (uint32_t round = 0; round < 300; round++) {
		unsigned k = round % 4;
		uint32_t tag = 1000 + round;
		struct sp_seqno_fields f = {.epoch = 1, .counter = 1, .stream_tag = tag};
		struct sp_seg_rec r = {
		    .seq = sp_seqno_pack(&f), .arrival_ms = 5, .key = key, .key_len = 1};

		if (live[k] != NULL) {
			assert_int_equal(sp_slog_drop(live[k]), 0);
			assert_null(sp_store_log_find(s, tags[k], 0));
			poll_idle(s); /* its segment freed, its slot idle */
		}
		assert_int_equal(sp_store_log_attach(s, tag, 0, wbuf[k], WBUF, &live[k]), 0);
		tags[k] = tag;
		assert_int_equal(sp_slog_append(live[k], &r), 0);
		poll_idle(s);
		for (unsigned j = 0; j < 4; j++) {
			assert_true(live[j] == NULL || sp_store_log_find(s, tags[j], 0) == live[j]);
		}
	}
	sp_store_stats(s, &st);
	assert_true(st.logs_reused >= 290);
	sp_store_destroy(s);
	/* after a restart: exactly the four live logs */
	assert_int_equal(sp_store_create(&c, &s), 0);
	assert_int_equal(sp_store_recover(s, &rep), 0);
	assert_int_equal(rep.logs, 4);
	assert_int_equal(rep.records, 4);
	for (unsigned j = 0; j < 4; j++) {
		assert_non_null(sp_store_log_find(s, tags[j], 0));
		free(wbuf[j]);
	}
	sp_store_destroy(s);
	sp_io_sim_destroy(sim);
}

/*
 * Sealed records: clear, sealed with key A, sealed with key B, clear again. Each change of key
 * (or of sealing) starts a new segment; after a restart the segments are found sealed or not
 * with their key's fingerprint, and cold reads open the sealed records byte-exact.
 */
struct sealer_fx {
	uint8_t master[SP_SEAL_KEY_BYTES];
	struct sp_seal seal;
	struct sp_seg_sealer sealer;
};

static void
sealer_init(struct sealer_fx *x, uint8_t fill, const struct mlog *m)
{
	uint8_t key[SP_SEAL_KEY_BYTES];

	memset(x->master, fill, sizeof(x->master));
	assert_int_equal(sp_seal_init(&x->seal), 0);
	assert_int_equal(sp_seal_shard_key(x->master, "st", 2, 77, m->index, key), 0);
	assert_int_equal(sp_seal_key(&x->seal, key), 0);
	x->sealer = (struct sp_seg_sealer){.seal = sp_seal_seal, .ctx = &x->seal};
	assert_int_equal(sp_seal_fingerprint(x->master, x->sealer.key_fp), 0);
}

struct sealed_check {
	struct sealer_fx *a, *b;
	const struct sp_seg_sealer **with; /* per run of 10 records: the sealer, or NULL */
	uint32_t sealed;
};

/* read_back_hook: the k-th record is sealed exactly when it was written sealed; open it. */
static void
sealed_hook(void *arg, const struct sp_slog_read *rd, struct sp_seg_rec *r, uint32_t k)
{
	struct sealed_check *v = arg;
	const struct sp_seg_sealer *w = v->with[k / 10];

	assert_int_equal(rd->sealed, w != NULL);
	assert_int_equal(r->tag != NULL, w != NULL);
	if (w != NULL) {
		struct sealer_fx *x = w == &v->a->sealer ? v->a : v->b;

		assert_memory_equal(rd->key_fp, w->key_fp, SP_SEG_KEY_FP_BYTES);
		assert_int_equal(sp_seg_rec_open(r, sp_seal_open, &x->seal), 0);
		v->sealed++;
	}
}

static void
test_sealed(void **state)
{
	struct sp_io_sim *sim = mk_sim(11, 2, true);
	struct sp_store_recovery rep;
	struct sp_store *s = mk_store(sim, &rep, 0);
	struct sp_store_stats st0, st;
	struct sealer_fx a, b;
	const struct sp_seg_sealer *with[4];
	uint64_t rng = 5;
	struct mlog m;
	struct sealed_check v = {.a = &a, .b = &b, .with = with};

	(void)state;
	minit(&m, 1);
	mattach(s, &m);
	sealer_init(&a, 0xa1, &m);
	sealer_init(&b, 0xb2, &m);
	with[0] = NULL;
	with[1] = &a.sealer;
	with[2] = &b.sealer;
	with[3] = NULL;
	sp_store_stats(s, &st0);
	for (unsigned run = 0; run < 4; run++) {
		for (unsigned i = 0; i < 10; i++) {
			struct mrec *r = mnew(&m, &rng, 100 + m.n);
			struct sp_seg_rec in = {.seq = r->seq,
						.arrival_ms = r->ms,
						.key = r->key,
						.key_len = r->klen,
						.data = r->data,
						.data_len = r->dlen,
						.sealer = with[run]};
			int rc = sp_slog_append(m.log, &in);

			if (rc == -EAGAIN) { /* the old tail's last write must complete first */
				poll_idle(s);
				rc = sp_slog_append(m.log, &in);
			}
			assert_int_equal(rc, 0);
			m.n++;
		}
	}
	poll_idle(s);
	sp_store_stats(s, &st);
	assert_int_equal(st.segs_opened - st0.segs_opened, 4);
	sp_store_destroy(s);
	/* a restart: the sealing of each segment comes from its header */
	s = mk_store(sim, &rep, 0);
	m.log = sp_store_log_find(s, m.tag, m.index);
	assert_non_null(m.log);
	read_back_hook(s, &m, 40, sealed_hook, &v);
	assert_int_equal(v.sealed, 20);
	sp_seal_fini(&a.seal);
	sp_seal_fini(&b.seal);
	mfree(&m);
	sp_store_destroy(s);
	sp_io_sim_destroy(sim);
}

/*
 * A full store and a change of sealing: the clear tail still has room, but sealed records
 * cannot go there and no segment is free. The space checks say so before anything is
 * numbered, the sealed append is refused, and the clear tail keeps its room.
 */
static void
test_sealed_full(void **state)
{
	struct sp_io_sim *sim = mk_sim(12, 1, false);
	struct sp_store_recovery rep;
	struct sp_store *s = mk_store(sim, &rep, 0);
	struct sealer_fx a;
	uint64_t rng = 9, room;
	struct mlog m;
	struct mrec *r;
	struct sp_seg_rec in;

	(void)state;
	minit(&m, 2);
	mattach(s, &m);
	sealer_init(&a, 0xc3, &m);
	/* clear records until no segment is free and the tail has room for some more */
	while (sp_slog_room(m.log, NULL) == UINT64_MAX) {
		int rc;

		r = mnew(&m, &rng, 100 + m.n);
		r->dlen = 2000;
		rc = mappend(&m, r);
		if (rc == -EAGAIN) {
			poll_idle(s);
			rc = mappend(&m, r);
		}
		assert_int_equal(rc, 0);
	}
	poll_idle(s);
	room = sp_slog_room(m.log, NULL);
	assert_true(room > 4096 && room < SEG_BYTES);
	assert_int_equal(sp_slog_state(m.log, 500, NULL), 0);
	assert_int_equal(sp_slog_room(m.log, a.sealer.key_fp), 0);
	assert_int_equal(sp_slog_state(m.log, 500, a.sealer.key_fp), -ENOSPC);
	r = mnew(&m, &rng, 100 + m.n);
	r->dlen = 100;
	in = (struct sp_seg_rec){.seq = r->seq,
				 .arrival_ms = r->ms,
				 .key = r->key,
				 .key_len = r->klen,
				 .data = r->data,
				 .data_len = r->dlen,
				 .sealer = &a.sealer};
	assert_int_equal(sp_slog_append(m.log, &in), -ENOSPC);
	/* the clear tail is still open with its room: the same record goes in clear */
	assert_int_equal(sp_slog_room(m.log, NULL), room);
	assert_int_equal(mappend(&m, r), 0);
	poll_idle(s);
	read_back(s, sim, &m, m.n);
	sp_seal_fini(&a.seal);
	mfree(&m);
	sp_store_destroy(s);
	sp_io_sim_destroy(sim);
}

/* One seed: cycles of random appends and polls, a crash, recovery, checks. */
static void
crash_run(uint64_t seed, unsigned *torn_runs, unsigned *lost_unacked)
{
	uint64_t rng = seed * 7919 + 1;
	struct sp_io_sim *sim = mk_sim(seed, (unsigned)(rnd(&rng) % 6), rnd(&rng) % 2 == 0);
	struct sp_store_recovery rep;
	struct sp_store *s = mk_store(sim, &rep, 0);
	struct mlog m[NLOGS];
	uint64_t ms = 1000000;

	for (unsigned i = 0; i < NLOGS; i++) {
		minit(&m[i], i);
	}
	for (unsigned cycle = 0; cycle < 3; cycle++) {
		unsigned steps = (unsigned)(rnd(&rng) % 400);
		struct sp_io_sim_crash_info ci;

		for (unsigned i = 0; i < NLOGS; i++) {
			mattach(s, &m[i]);
			m[i].full = false;
		}
		for (unsigned k = 0; k < steps; k++) {
			struct mlog *l = &m[rnd(&rng) % NLOGS];

			if (rnd(&rng) % 3 == 0) {
				(void)sp_store_poll(s);
			} else if (!l->full && l->n < MAXREC - 1) {
				struct mrec *r = mnew(l, &rng, ms += rnd(&rng) % 3);
				int rc = mappend(l, r);

				if (rc != 0) {
					assert_true(rc == -EAGAIN || rc == -ENOSPC);
					l->counter--;
					free(r->data);
					r->data = NULL;
					l->full = rc == -ENOSPC;
				}
			}
			/* what the watermark covers now must survive any crash from here on */
			for (unsigned i = 0; i < NLOGS; i++) {
				sp_u128 d = sp_slog_durable(m[i].log);

				while (m[i].acked < m[i].n && m[i].r[m[i].acked].seq <= d) {
					m[i].acked++;
				}
			}
		}
		sp_io_sim_crash(sim, rnd(&rng));
		sp_io_sim_last_crash(sim, &ci);
		*torn_runs += ci.torn;
		/* the store's memory is gone with the process; recover from the device */
		sp_store_destroy(s);
		s = mk_store(sim, &rep, 0);
		for (unsigned i = 0; i < NLOGS; i++) {
			struct sp_slog *l = sp_store_log_find(s, m[i].tag, m[i].index);
			struct sp_slog_info info = {0};
			uint32_t got = 0;

			if (l != NULL) {
				sp_slog_info(l, &info);
				got = (uint32_t)info.records;
			}
			/* a prefix, at least what was acknowledged */
			if (got < m[i].acked || got > m[i].n) {
				fail_msg("seed %" PRIu64
					 " cycle %u log %u: recovered %u, acked %u, "
					 "appended %u",
					 seed, cycle, i, got, m[i].acked, m[i].n);
			}
			*lost_unacked += m[i].n - got;
			for (uint32_t k = got; k < m[i].n; k++) {
				free(m[i].r[k].data);
				m[i].r[k].data = NULL;
			}
			m[i].n = got;
			m[i].acked = got; /* recovered records are durable and visible now */
			if (l != NULL) {
				m[i].log = l;
				read_back(s, sim, &m[i], got);
				assert_true(sp_slog_durable(l) ==
					    (got > 0 ? m[i].r[got - 1].seq : 0));
			}
			m[i].epoch++;
			m[i].counter = 0;
		}
	}
	sp_store_destroy(s);
	for (unsigned i = 0; i < NLOGS; i++) {
		mfree(&m[i]);
	}
	sp_io_sim_destroy(sim);
}

static void
test_power_loss(void **state)
{
	(void)state;
	const char *one = getenv("SP_STORE_SEED");
	const char *many = getenv("SP_STORE_SEEDS");
	unsigned seeds = many != NULL ? (unsigned)strtoul(many, NULL, 10) : 1000;
	unsigned torn = 0, lost = 0;

	if (one != NULL) {
		crash_run(strtoull(one, NULL, 10), &torn, &lost);
		return;
	}
	for (unsigned i = 1; i <= seeds; i++) {
		crash_run(i, &torn, &lost);
	}
	print_message("%u seeds x 3 crashes: %u with a torn write, %u unacknowledged records "
		      "lost (allowed)\n",
		      seeds, torn, lost);
	assert_true(torn > 0);
}

static int
setup(void **state)
{
	(void)state;
	g_scratch = aligned_alloc(65536, SEG_BYTES);
	return g_scratch == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(g_scratch);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),   cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_write_errors), cmocka_unit_test(test_torn_and_corrupt),
	    cmocka_unit_test(test_release),      cmocka_unit_test(test_log_reuse),
	    cmocka_unit_test(test_power_loss),   cmocka_unit_test(test_sealed),
	    cmocka_unit_test(test_sealed_full),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
