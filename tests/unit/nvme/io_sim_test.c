/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for nvme/io_sim.c, the simulated disk: the durability rules one by one, tearing,
 * fault injection, refusal of malformed requests, and a seeded property test over thousands of
 * crash points comparing the surviving content with an independent model: every write covered
 * by a completed flush or DSYNC survives intact (unless a later durable write replaced it), and
 * the only other content is a prefix of one non-durable write. SP_IO_SIM_SEED=<n> reruns one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sp_test.h"

#include "io_sim.h"
#include "spate/compiler.h"

#define SECT 512u

static struct sp_io_sim *
mk(uint64_t size, unsigned max_delay, bool reorder, uint64_t seed)
{
	struct sp_io_sim_cfg cfg = {.n_files = 2,
				    .size = size,
				    .sector = SECT,
				    .depth = 64,
				    .seed = seed,
				    .max_delay = max_delay,
				    .reorder = reorder};
	struct sp_io_sim *sim = NULL;
	assert_int_equal(sp_io_sim_create(&cfg, &sim), 0);
	return sim;
}

/* Fill n sectors with the word (id << 32 | sector index): a sector names its write. */
static void
pattern(uint8_t *buf, uint32_t id, uint32_t nsect)
{
	for (uint32_t s = 0; s < nsect; s++) {
		uint64_t word = (uint64_t)id << 32 | s;
		for (uint32_t o = 0; o < SECT; o += 8) {
			memcpy(buf + (size_t)s * SECT + o, &word, 8);
		}
	}
}

/* The write id a sector holds (0: never written), or UINT32_MAX if not one uniform word. */
static uint32_t
sector_id(const uint8_t *p, uint32_t *idx)
{
	uint64_t word;
	memcpy(&word, p, 8);
	for (uint32_t o = 8; o < SECT; o += 8) {
		if (memcmp(p + o, &word, 8) != 0) {
			return UINT32_MAX;
		}
	}
	*idx = (uint32_t)word;
	return (uint32_t)(word >> 32);
}

static void
submit1(struct sp_io_sim *sim, const struct sp_io_req *r)
{
	assert_int_equal(sp_io_sim_submit(sim, r, 1), 1);
}

/* Poll until nothing is in flight; returns completions seen (at most 64). */
static unsigned
drain(struct sp_io_sim *sim, struct sp_io_cpl *cpls)
{
	unsigned got = 0;
	for (int i = 0; i < 1000 && sp_io_sim_in_flight(sim) > 0; i++) {
		got += (unsigned)sp_io_sim_poll(sim, cpls + got, 64 - got);
	}
	assert_int_equal(sp_io_sim_in_flight(sim), 0);
	return got;
}

static struct sp_io_req
wr(int file, uint64_t sect, uint32_t nsect, uint8_t *buf, uint32_t flags, uint64_t tag)
{
	return (struct sp_io_req){.op = SP_IO_WRITE,
				  .flags = flags,
				  .file = file,
				  .offset = sect * SECT,
				  .buf = buf,
				  .len = nsect * SECT,
				  .tag = tag};
}

static uint32_t
id_at(struct sp_io_sim *sim, int file, uint64_t sect)
{
	uint32_t idx = 0;
	return sector_id(sp_io_sim_data(sim, file) + sect * SECT, &idx);
}

static void
test_durability_rules(void **state)
{
	(void)state;
	struct sp_io_sim *sim = mk(64 * SECT, 0, false, 1);
	struct sp_io_cpl c[64];
	uint8_t *b[4];
	for (uint32_t i = 0; i < 4; i++) {
		b[i] = aligned_alloc(SECT, 4 * SECT);
		pattern(b[i], i + 1, 4);
	}
	struct sp_io_req fl0 = {.op = SP_IO_FLUSH, .file = 0, .tag = 99};

	/* 1 written and flushed; 2 DSYNC; 3 written, flush in the same batch (not covered) */
	struct sp_io_req r1 = wr(0, 0, 4, b[0], 0, 1);
	submit1(sim, &r1);
	assert_int_equal(drain(sim, c), 1);
	submit1(sim, &fl0);
	assert_int_equal(drain(sim, c), 1);
	assert_int_equal(c[0].res, 0);
	struct sp_io_req r2 = wr(0, 8, 4, b[1], SP_IO_F_DSYNC, 2);
	submit1(sim, &r2);
	struct sp_io_req batch[2] = {wr(0, 16, 4, b[2], 0, 3), fl0};
	assert_int_equal(sp_io_sim_submit(sim, batch, 2), 2);
	/* 4 on the other file, flushed only through a flush of file 0: not covered */
	struct sp_io_req r4 = wr(1, 0, 4, b[3], 0, 4);
	submit1(sim, &r4);
	assert_int_equal(drain(sim, c), 4);
	/* 5 on file 1, newest: the one that may be torn */
	struct sp_io_req r5 = wr(1, 8, 4, b[0], 0, 5);
	submit1(sim, &r5);
	/* reads see the current content, durable or not */
	assert_int_equal(id_at(sim, 0, 16), 3);
	assert_int_equal(id_at(sim, 1, 0), 4);

	sp_io_sim_crash(sim, 7);
	struct sp_io_sim_crash_info ci;
	sp_io_sim_last_crash(sim, &ci);
	assert_true(ci.torn);
	assert_int_equal(ci.tag, 5);
	assert_int_equal(ci.dropped, 3);
	assert_int_equal(sp_io_sim_in_flight(sim), 0);
	for (uint64_t s = 0; s < 4; s++) {
		assert_int_equal(id_at(sim, 0, s), 1);
		assert_int_equal(id_at(sim, 0, 8 + s), 2);
		assert_int_equal(id_at(sim, 0, 16 + s), 0);
		assert_int_equal(id_at(sim, 1, s), 0);
		assert_int_equal(id_at(sim, 1, 8 + s), s < ci.kept ? 1u : 0u);
	}
	/* the disk works after the crash, and reads go through the seam too */
	uint8_t *rb = aligned_alloc(SECT, 4 * SECT);
	struct sp_io_req rd = {.op = SP_IO_READ, .file = 0, .buf = rb, .len = 4 * SECT, .tag = 8};
	submit1(sim, &rd);
	assert_int_equal(drain(sim, c), 1);
	assert_int_equal(c[0].res, 4 * SECT);
	assert_memory_equal(rb, b[0], 4 * SECT);
	free(rb);
	for (int i = 0; i < 4; i++) {
		free(b[i]);
	}
	sp_io_sim_destroy(sim);
}

/* A DSYNC write completed after an older pending one survives the older one's later flush. */
static void
test_newer_durable_wins(void **state)
{
	(void)state;
	struct sp_io_sim *sim = mk(16 * SECT, 0, false, 1);
	struct sp_io_cpl c[64];
	uint8_t *a = aligned_alloc(SECT, SECT), *b = aligned_alloc(SECT, SECT);
	pattern(a, 1, 1);
	pattern(b, 2, 1);
	struct sp_io_req r1 = wr(0, 3, 1, a, 0, 1), r2 = wr(0, 3, 1, b, SP_IO_F_DSYNC, 2);
	submit1(sim, &r1);
	drain(sim, c);
	submit1(sim, &r2);
	drain(sim, c);
	struct sp_io_req fl = {.op = SP_IO_FLUSH, .file = 0};
	submit1(sim, &fl);
	drain(sim, c);
	sp_io_sim_crash(sim, 1);
	assert_int_equal(id_at(sim, 0, 3), 2);
	free(a);
	free(b);
	sp_io_sim_destroy(sim);
}

static void
fault_case(int err)
{
	struct sp_io_sim_cfg cfg = {.n_files = 1,
				    .size = 16 * SECT,
				    .sector = SECT,
				    .depth = 8,
				    .fail_at = 2,
				    .fail_count = 2,
				    .fail_err = err};
	struct sp_io_sim *sim = NULL;
	assert_int_equal(sp_io_sim_create(&cfg, &sim), 0);
	uint8_t *b = aligned_alloc(SECT, SECT);
	pattern(b, 1, 1);
	struct sp_io_req reqs[4] = {wr(0, 0, 1, b, 0, 1),
				    wr(0, 1, 1, b, 0, 2),
				    {.op = SP_IO_FLUSH, .file = 0, .tag = 3},
				    wr(0, 2, 1, b, SP_IO_F_DSYNC, 4)};
	assert_int_equal(sp_io_sim_submit(sim, reqs, 4), 4);
	struct sp_io_cpl c[64];
	assert_int_equal(drain(sim, c), 4);
	int32_t want[4] = {SECT, err, err, SECT};
	for (int i = 0; i < 4; i++) {
		assert_int_equal(c[i].tag, (uint64_t)i + 1);
		assert_int_equal(c[i].res, want[i]);
	}
	assert_int_equal(id_at(sim, 0, 0), 1);
	assert_int_equal(id_at(sim, 0, 1), 0); /* the failed write changed nothing */
	struct sp_io_sim_stats st;
	sp_io_sim_stats(sim, &st);
	assert_int_equal(st.failed, 2);
	/* the failed flush made nothing durable: write 1 may only survive as the torn one */
	sp_io_sim_crash(sim, 3);
	struct sp_io_sim_crash_info ci;
	sp_io_sim_last_crash(sim, &ci);
	assert_int_equal(ci.tag, 1);
	assert_int_equal(id_at(sim, 0, 0), ci.kept == 1 ? 1u : 0u);
	assert_int_equal(id_at(sim, 0, 2), 1);
	free(b);
	sp_io_sim_destroy(sim);
}

static void
test_faults(void **state)
{
	(void)state;
	fault_case(-EIO);
	fault_case(-ENOSPC);
}

static void
test_refused(void **state)
{
	(void)state;
	struct sp_io_sim *sim = mk(16 * SECT, 0, false, 1);
	uint8_t *b = aligned_alloc(SECT, 2 * SECT);
	struct sp_io_req bad[5] = {wr(0, 16, 1, b, 0, 1), wr(0, 15, 2, b, 0, 2),
				   wr(2, 0, 1, b, 0, 3), wr(0, 0, 1, b + 8, 0, 4),
				   wr(0, 0, 1, b, 0x4, 5)};
	bad[4].flags = 0x4;
	for (int i = 0; i < 5; i++) {
		assert_int_equal(sp_io_sim_submit(sim, &bad[i], 1), -EINVAL);
	}
	struct sp_io_req mix[2] = {wr(0, 0, 1, b, 0, 1), bad[0]};
	assert_int_equal(sp_io_sim_submit(sim, mix, 2), 1);
	struct sp_io_sim_cfg cfg = {.n_files = 1, .size = 1000, .sector = SECT, .depth = 1};
	struct sp_io_sim *s2 = NULL;
	assert_int_equal(sp_io_sim_create(&cfg, &s2), -EINVAL);
	free(b);
	sp_io_sim_destroy(sim);
}

/* Delays and reordering: completions come late and out of order, all exactly once. */
static void
test_reorder(void **state)
{
	(void)state;
	struct sp_io_sim *sim = mk(64 * SECT, 5, true, 42);
	uint8_t *b = aligned_alloc(SECT, SECT);
	pattern(b, 1, 1);
	struct sp_io_req reqs[32];
	for (unsigned i = 0; i < 32; i++) {
		reqs[i] = wr(0, i, 1, b, 0, i);
	}
	assert_int_equal(sp_io_sim_submit(sim, reqs, 32), 32);
	struct sp_io_cpl c[64];
	unsigned got = 0, polls = 0, inversions = 0;
	while (got < 32) {
		got += (unsigned)sp_io_sim_poll(sim, c + got, 64 - got);
		assert_true(++polls < 100);
	}
	uint32_t seen = 0;
	for (unsigned i = 0; i < 32; i++) {
		seen |= 1u << c[i].tag;
		inversions += i > 0 && c[i].tag < c[i - 1].tag;
	}
	assert_int_equal(seen, 0xffffffffu);
	assert_true(inversions > 0);
	assert_true(polls > 1);
	free(b);
	sp_io_sim_destroy(sim);
}

/* ---- property test: random workloads, one crash each, against a model ---- */

#define P_SECTS  128u /* sectors per device */
#define P_FILES  2u
#define P_WRITES 256u /* writes per run, bound */

struct p_write {
	int file;
	uint32_t sect, n;
	bool dsync, done, durable;
	uint64_t cseq;
};

struct p_model {
	struct p_write w[P_WRITES + 1]; /* by id, 1.. */
	uint32_t nw;
	uint64_t cseq;
	uint32_t dur_id[P_FILES][P_SECTS]; /* durable content per sector: write id */
	uint64_t dur_cseq[P_FILES][P_SECTS];
	uint64_t flush_mark[64]; /* by flush tag - base */
	int flush_file[64];
};

#define FLUSH_TAG 1000000u

static void
p_durable(struct p_model *m, uint32_t id)
{
	struct p_write *w = &m->w[id];
	w->durable = true;
	for (uint32_t s = w->sect; s < w->sect + w->n; s++) {
		if (m->dur_cseq[w->file][s] < w->cseq) {
			m->dur_cseq[w->file][s] = w->cseq;
			m->dur_id[w->file][s] = id;
		}
	}
}

static void
p_complete(struct p_model *m, const struct sp_io_cpl *c)
{
	if (c->tag >= FLUSH_TAG) {
		uint32_t k = (uint32_t)(c->tag - FLUSH_TAG);
		assert_int_equal(c->res, 0);
		for (uint32_t id = 1; id <= m->nw; id++) {
			struct p_write *w = &m->w[id];
			if (w->done && !w->durable && w->file == m->flush_file[k] &&
			    w->cseq <= m->flush_mark[k]) {
				p_durable(m, id);
			}
		}
		return;
	}
	struct p_write *w = &m->w[c->tag];
	assert_int_equal(c->res, (int32_t)(w->n * SECT));
	w->done = true;
	w->cseq = ++m->cseq;
	if (w->dsync) {
		p_durable(m, (uint32_t)c->tag);
	}
}

/* Check the crashed content against the model; returns the id of the torn write or 0. */
static uint32_t
p_check(struct sp_io_sim *sim, const struct p_model *m, uint64_t seed)
{
	uint32_t torn = 0, torn_max = 0;
	for (unsigned f = 0; f < P_FILES; f++) {
		for (uint32_t s = 0; s < P_SECTS; s++) {
			uint32_t idx = 0;
			uint32_t id = sector_id(sp_io_sim_data(sim, (int)f) + s * SECT, &idx);
			if (id == m->dur_id[f][s]) {
				continue;
			}
			/* not the durable content: must be one non-durable write's own sector */
			if (id == UINT32_MAX || id == 0 || id > m->nw ||
			    (torn != 0 && id != torn)) {
				fail_msg("seed %" PRIu64 ": file %u sector %u holds %u, want %u",
					 seed, f, s, id, m->dur_id[f][s]);
			}
			const struct p_write *w = &m->w[id];
			assert_false(w->durable);
			assert_int_equal(w->file, (int)f);
			assert_int_equal(w->sect + idx, s);
			torn = id;
			torn_max = SP_MAX(torn_max, idx + 1);
		}
	}
	struct sp_io_sim_crash_info ci;
	sp_io_sim_last_crash(sim, &ci);
	if (torn != 0) {
		assert_true(ci.torn);
		assert_int_equal(ci.tag, torn);
		assert_true(torn_max <= ci.kept); /* only a prefix of it */
	}
	return torn;
}

/* Runs with content from a torn write after the crash, and with durable content: not vacuous. */
static unsigned g_torn_runs, g_durable_runs;

static void
p_run(uint64_t seed)
{
	uint64_t rng = seed * 0x9e3779b97f4a7c15ull + 1;
	struct sp_io_sim *sim = mk(P_SECTS * SECT, (unsigned)(seed % 4), seed % 3 != 0, seed);
	static struct p_model m;
	memset(&m, 0, sizeof(m));
	static uint8_t buf[(size_t)P_WRITES * 8 * SECT] __attribute__((aligned(SECT)));
	struct sp_io_cpl c[64];
	unsigned nflush = 0, steps = 20 + (unsigned)(seed % 300);
	for (unsigned step = 0; step < steps && m.nw < P_WRITES; step++) {
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		unsigned r = (unsigned)(rng >> 33);
		if (r % 8 < 4 && sp_io_sim_in_flight(sim) < 64) {
			uint32_t id = ++m.nw, n = 1 + (r >> 4) % 8;
			struct p_write *w = &m.w[id];
			*w = (struct p_write){.file = (int)((r >> 8) % P_FILES),
					      .sect = (r >> 12) % (P_SECTS - n + 1),
					      .n = n,
					      .dsync = (r >> 20) % 4 == 0};
			uint8_t *b = buf + (size_t)(id - 1) * 8 * SECT;
			pattern(b, id, n);
			struct sp_io_req q =
			    wr(w->file, w->sect, n, b, w->dsync ? SP_IO_F_DSYNC : 0, id);
			submit1(sim, &q);
		} else if (r % 8 == 4 && nflush < 64 && sp_io_sim_in_flight(sim) < 64) {
			m.flush_mark[nflush] = m.cseq; /* covers writes completed so far */
			m.flush_file[nflush] = (int)((r >> 8) % P_FILES);
			struct sp_io_req q = {.op = SP_IO_FLUSH,
					      .file = m.flush_file[nflush],
					      .tag = FLUSH_TAG + nflush};
			nflush++;
			submit1(sim, &q);
		} else {
			int n = sp_io_sim_poll(sim, c, 64);
			for (int i = 0; i < n; i++) {
				p_complete(&m, &c[i]);
			}
		}
	}
	sp_io_sim_crash(sim, seed ^ 0x5eed);
	g_torn_runs += p_check(sim, &m, seed) != 0;
	for (uint32_t id = 1; id <= m.nw; id++) {
		if (m.w[id].durable) {
			g_durable_runs++;
			break;
		}
	}
	sp_io_sim_destroy(sim);
}

static void
test_crash_property(void **state)
{
	(void)state;
	const char *one = getenv("SP_IO_SIM_SEED");
	if (one != NULL) {
		p_run(strtoull(one, NULL, 10));
		return;
	}
	for (uint64_t seed = 1; seed <= 5000; seed++) {
		p_run(seed);
	}
	assert_true(g_torn_runs > 1000);
	assert_true(g_durable_runs > 4000);
	print_message("5000 crashes: %u with a torn write, %u with durable writes\n", g_torn_runs,
		      g_durable_runs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_durability_rules), cmocka_unit_test(test_newer_durable_wins),
	    cmocka_unit_test(test_faults),           cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_reorder),          cmocka_unit_test(test_crash_property),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
