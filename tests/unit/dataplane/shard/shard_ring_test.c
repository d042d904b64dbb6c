/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/shard/shard_ring.c: sizes and init checks, append and read of many
 * record sizes through many wraps against a model, full ring and exact fit, the largest record
 * at every end position, seeks by number across index stride boundaries (two base counters),
 * seeks by time over runs of equal timestamps, read limits and MillisBehindLatest, trims and
 * the intact check, counter exhaustion, and a reader thread reading while a writer appends
 * (lossless, then with the writer trimming under it).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sp_test.h"

#include "shard_ring.h"

#define T_EPOCH    7u
#define T_NODE     2u
#define T_TAG      0x5a5a5u
#define T_SHARD    3u
#define T_MAX_KEY  24u
#define T_MAX_DATA 1500u

static uint64_t g_rng = 0x2545f4914f6cdd1dull;

static uint64_t
rng_next(void)
{
	g_rng ^= g_rng << 13;
	g_rng ^= g_rng >> 7;
	g_rng ^= g_rng << 17;
	return g_rng;
}

struct t_ring {
	struct sp_shard_ring *ring;
	void *mem;
};

static int
t_ring_try(struct t_ring *t, size_t bytes, uint32_t max_record, uint64_t first_counter)
{
	struct sp_shard_ring_conf conf = {
	    .id = {.epoch = T_EPOCH, .node = T_NODE, .stream_tag = T_TAG, .shard_index = T_SHARD},
	    .first_counter = first_counter,
	    .max_record_bytes = max_record,
	};

	t->mem = aligned_alloc(SP_SHARD_RING_ALIGN, (bytes + 63) & ~(size_t)63);
	assert_non_null(t->mem);
	return sp_shard_ring_init(t->mem, bytes, &conf, &t->ring);
}

static void
t_ring_new(struct t_ring *t, uint64_t cap, uint32_t max_record, uint64_t first_counter)
{
	struct sp_shard_ring_info info;

	assert_int_equal(t_ring_try(t, sp_shard_ring_mem_bytes(cap), max_record, first_counter), 0);
	sp_shard_ring_info(t->ring, &info);
	assert_true(info.capacity == cap);
}

static void
t_ring_free(struct t_ring *t)
{
	free(t->mem);
	t->mem = NULL;
	t->ring = NULL;
}

static sp_u128
t_seq(uint64_t counter)
{
	struct sp_seqno_fields f = {.epoch = T_EPOCH,
				    .node = T_NODE,
				    .counter = counter,
				    .stream_tag = T_TAG,
				    .shard_index = T_SHARD};

	return sp_seqno_pack(&f);
}

static uint64_t
t_counter(sp_u128 seq)
{
	struct sp_seqno_fields f;

	assert_true(sp_seqno_unpack(seq, &f));
	assert_int_equal(f.epoch, T_EPOCH);
	assert_int_equal(f.shard_index, T_SHARD);
	return f.counter;
}

/* Record contents are a function of the counter, so any reader can check any record. */
struct t_rec {
	uint8_t key[T_MAX_KEY];
	uint8_t data[T_MAX_DATA];
	struct sp_shard_rec_in in;
};

static void
t_rec_make(uint64_t counter, uint32_t data_len, struct t_rec *r)
{
	uint16_t key_len = (uint16_t)(1 + counter % T_MAX_KEY);

	assert_true(data_len <= T_MAX_DATA);
	for (unsigned i = 0; i < key_len; i++) {
		r->key[i] = (uint8_t)('a' + (counter + i) % 26);
	}
	for (unsigned i = 0; i < data_len; i++) {
		r->data[i] = (uint8_t)(counter * 131 + i * 7);
	}
	r->in.key = r->key;
	r->in.key_len = key_len;
	r->in.data = r->data;
	r->in.data_len = data_len;
	r->in.flags = (uint16_t)(counter & 3);
}

/* True when v is record `counter` as t_rec_make built it (data_len given). */
static bool
t_view_ok(const struct sp_shard_rec_view *v, uint64_t counter, uint32_t data_len)
{
	struct t_rec r;

	t_rec_make(counter, data_len, &r);
	return v->seq == t_seq(counter) && v->key_len == r.in.key_len &&
	       memcmp(v->key, r.key, v->key_len) == 0 && v->data_len == data_len &&
	       memcmp(v->data, r.data, data_len) == 0 && v->flags == r.in.flags;
}

/* Data length of record `counter` in the tests that derive it from the counter. */
static uint32_t
t_len_of(uint64_t counter, uint32_t max)
{
	uint64_t h = counter * 0x9e3779b97f4a7c15ull;

	return (uint32_t)((h >> 40) % (max + 1));
}

static int
t_append_one(struct t_ring *t, uint64_t counter, uint32_t data_len, uint64_t now)
{
	struct t_rec r;
	sp_u128 seq = 0;
	int n;

	t_rec_make(counter, data_len, &r);
	n = sp_shard_ring_append(t->ring, &r.in, 1, now, &seq);
	if (n == 1) {
		assert_true(seq == t_seq(counter));
	}
	return n;
}

static void
test_sizes(void **state)
{
	struct t_ring t;
	struct sp_shard_ring_conf conf = {.max_record_bytes = 1024};
	struct sp_shard_ring *r;
	uint64_t min = sp_shard_ring_min_capacity(1024);

	(void)state;
	assert_true(min >= 4 * (48 + 1024));
	for (size_t b = 0; b < 300000; b += 977) {
		uint64_t cap = sp_shard_ring_capacity(b);

		assert_true(cap % SP_SHARD_RING_ALIGN == 0);
		if (cap > 0) {
			assert_true(sp_shard_ring_mem_bytes(cap) <= b);
		}
		assert_true(sp_shard_ring_mem_bytes(cap + SP_SHARD_RING_ALIGN) > b);
	}
	for (uint64_t cap = 64; cap < 2000000; cap = cap * 3 / 2 + 64) {
		cap &= ~63ull;
		assert_true(sp_shard_ring_capacity(sp_shard_ring_mem_bytes(cap)) == cap);
	}
	/* too small, misaligned, fields out of range */
	assert_int_equal(t_ring_try(&t, sp_shard_ring_mem_bytes(min - 64), 1024, 0), -ENOSPC);
	t_ring_free(&t);
	assert_int_equal(t_ring_try(&t, sp_shard_ring_mem_bytes(min), 1024, 0), 0);
	t_ring_free(&t);
	assert_int_equal(t_ring_try(&t, sp_shard_ring_mem_bytes(min), 0, 0), -EINVAL);
	t_ring_free(&t);
	assert_int_equal(t_ring_try(&t, 1 << 20, SP_SHARD_RECORD_MAX_LIMIT + 1, 0), -EINVAL);
	t_ring_free(&t);
	assert_int_equal(t_ring_try(&t, 1 << 20, 1024, SP_SEQNO_COUNTER_MAX), -EINVAL);
	t_ring_free(&t);
	t.mem = aligned_alloc(64, 1 << 16);
	assert_int_equal(sp_shard_ring_init((uint8_t *)t.mem + 8, 60000, &conf, &r), -EINVAL);
	conf.id.epoch = SP_SEQNO_EPOCH_MAX + 1;
	assert_int_equal(sp_shard_ring_init(t.mem, 60000, &conf, &r), -EINVAL);
	conf.id.epoch = 0;
	conf.id.stream_tag = SP_SEQNO_TAG_MAX + 1;
	assert_int_equal(sp_shard_ring_init(t.mem, 60000, &conf, &r), -EINVAL);
	t_ring_free(&t);
}

static void
test_append_read_basic(void **state)
{
	struct t_ring t;
	struct sp_shard_rec_view v[16];
	struct sp_shard_read_res res;
	struct sp_shard_pos pos;
	struct t_rec recs[5];
	struct sp_shard_rec_in in[5];
	sp_u128 seqs[5];
	static const uint64_t nows[5] = {1000, 900, 1100, 1100, 50};
	static const uint64_t want_arrival[5] = {1000, 1000, 1100, 1100, 1100};

	(void)state;
	t_ring_new(&t, 1 << 16, 4096, 0);
	/* empty ring */
	assert_int_equal(sp_shard_ring_latest(t.ring, &pos), 0);
	assert_true(pos.seq == t_seq(1));
	assert_int_equal(sp_shard_ring_read(t.ring, &pos, 16, 1 << 20, v, &res), 0);
	assert_true(res.at_tip && res.tip_seq == 0 && res.next.seq == t_seq(1));
	assert_int_equal(sp_shard_ring_append(t.ring, NULL, 0, 5, NULL), 0);
	/* one record per call: arrival is max(now, previous arrival) */
	for (unsigned i = 0; i < 5; i++) {
		t_rec_make(i + 1, (uint32_t)(i * 100), &recs[i]);
		in[i] = recs[i].in;
		assert_int_equal(sp_shard_ring_append(t.ring, &in[i], 1, nows[i], &seqs[i]), 1);
		assert_true(seqs[i] == t_seq(i + 1));
		assert_true(i == 0 || seqs[i] > seqs[i - 1]);
	}
	assert_int_equal(sp_shard_ring_trim_horizon(t.ring, &pos), 0);
	assert_true(pos.seq == t_seq(1));
	assert_int_equal(sp_shard_ring_read(t.ring, &pos, 16, 1 << 20, v, &res), 5);
	for (unsigned i = 0; i < 5; i++) {
		assert_true(t_view_ok(&v[i], i + 1, (uint32_t)(i * 100)));
		assert_true(v[i].arrival_ms == want_arrival[i]);
		assert_true(((uintptr_t)v[i].key & 7) == 0);
	}
	assert_true(res.at_tip && res.millis_behind == 0 && res.tip_seq == t_seq(5));
	assert_true(res.next.seq == t_seq(6) && res.tip_arrival_ms == 1100);
	/* data 0 + 100 + ... + 400, keys of 2..6 bytes */
	assert_true(res.bytes == 1000 + 2 + 3 + 4 + 5 + 6);
	assert_true(sp_shard_ring_read_intact(t.ring, &res));
	/* a batch: one arrival time for all */
	for (unsigned i = 0; i < 5; i++) {
		t_rec_make(i + 6, 10, &recs[i]);
		in[i] = recs[i].in;
	}
	assert_int_equal(sp_shard_ring_append(t.ring, in, 5, 2000, seqs), 5);
	pos.seq = t_seq(6);
	assert_int_equal(sp_shard_ring_read(t.ring, &pos, 16, 1 << 20, v, &res), 5);
	for (unsigned i = 0; i < 5; i++) {
		assert_true(t_view_ok(&v[i], i + 6, 10) && v[i].arrival_ms == 2000);
		assert_true(seqs[i] == t_seq(i + 6));
	}
	t_ring_free(&t);
}

/* A gated ring (durable ack mode) shows records only up to what the writer made visible. */
static void
test_visible_gate(void **state)
{
	struct sp_shard_ring_conf conf = {
	    .id = {.epoch = T_EPOCH, .node = T_NODE, .stream_tag = T_TAG, .shard_index = T_SHARD},
	    .max_record_bytes = 4096,
	    .gated = true,
	};
	size_t bytes = sp_shard_ring_mem_bytes(1 << 16);
	void *mem = aligned_alloc(SP_SHARD_RING_ALIGN, bytes);
	struct sp_shard_ring *ring;
	struct sp_shard_rec_view v[16];
	struct sp_shard_read_res res;
	struct sp_shard_pos pos = {.seq = t_seq(1)};
	struct t_rec recs[10];
	struct sp_shard_rec_in in[10];

	(void)state;
	assert_non_null(mem);
	assert_int_equal(sp_shard_ring_init(mem, bytes, &conf, &ring), 0);
	for (unsigned i = 0; i < 10; i++) {
		t_rec_make(i + 1, 20, &recs[i]);
		in[i] = recs[i].in;
	}
	assert_int_equal(sp_shard_ring_append(ring, in, 10, 100, NULL), 10);
	/* nothing visible yet: at the tip, LATEST before the first record */
	assert_int_equal(sp_shard_ring_read(ring, &pos, 16, 1 << 20, v, &res), 0);
	assert_true(res.at_tip && res.tip_seq == 0 && res.next.seq == t_seq(1));
	assert_int_equal(sp_shard_ring_latest(ring, &pos), 0);
	assert_true(pos.seq == t_seq(1));
	/* the writer's own read sees them all */
	assert_int_equal(sp_shard_ring_read_ungated(ring, &pos, 16, 1 << 20, v, &res), 10);
	assert_true(t_view_ok(&v[9], 10, 20));
	/* up to the 4th */
	sp_shard_ring_set_visible(ring, t_seq(4));
	assert_int_equal(sp_shard_ring_read(ring, &pos, 16, 1 << 20, v, &res), 4);
	assert_true(res.at_tip && res.millis_behind == 0 && res.next.seq == t_seq(5));
	assert_true(t_view_ok(&v[3], 4, 20) && res.tip_seq == t_seq(4));
	assert_int_equal(sp_shard_ring_latest(ring, &pos), 0);
	assert_true(pos.seq == t_seq(5));
	/* a number between two records, a lower one (ignored), one past the last committed */
	sp_shard_ring_set_visible(ring, t_seq(6) + 1);
	pos.seq = t_seq(5);
	assert_int_equal(sp_shard_ring_read(ring, &pos, 16, 1 << 20, v, &res), 2);
	sp_shard_ring_set_visible(ring, t_seq(2));
	assert_int_equal(sp_shard_ring_read(ring, &pos, 16, 1 << 20, v, &res), 2);
	sp_shard_ring_set_visible(ring, t_seq(99));
	assert_int_equal(sp_shard_ring_read(ring, &pos, 16, 1 << 20, v, &res), 6);
	assert_true(res.at_tip && res.tip_seq == t_seq(10));
	/* time seeks over many records behind the gate stay bounded walks */
	assert_int_equal(sp_shard_ring_init(mem, bytes, &conf, &ring), 0);
	for (unsigned i = 0; i < 600; i++) {
		assert_int_equal(sp_shard_ring_append(ring, in, 1, 100 + i, NULL), 1);
	}
	sp_shard_ring_set_visible(ring, t_seq(3));
	assert_int_equal(sp_shard_ring_seek_time(ring, 100000, &pos), 0);
	assert_true(pos.seq == t_seq(4)); /* latest as readers see it */
	assert_int_equal(sp_shard_ring_seek_time(ring, 450, &pos), 0);
	assert_true(pos.seq == t_seq(351)); /* a record not yet visible: a position all the same */
	assert_int_equal(sp_shard_ring_read(ring, &pos, 16, 1 << 20, v, &res), 0);
	/* a number of an older epoch shows nothing new on a fresh gated ring */
	assert_int_equal(sp_shard_ring_init(mem, bytes, &conf, &ring), 0);
	assert_int_equal(sp_shard_ring_append(ring, in, 3, 100, NULL), 3);
	sp_shard_ring_set_visible(ring, t_seq(2) - ((sp_u128)1 << 104));
	pos.seq = t_seq(1);
	assert_int_equal(sp_shard_ring_read(ring, &pos, 16, 1 << 20, v, &res), 0);
	free(mem);
}

/*
 * The publish stamp: it belongs to the newest readable record only; a commit behind a gate
 * does not move it, set_visible does; a later publish replaces it; a call that made nothing
 * newer readable keeps the first moment.
 */
static void
test_publish_stamp(void **state)
{
	struct sp_shard_ring_conf conf = {
	    .id = {.epoch = T_EPOCH, .node = T_NODE, .stream_tag = T_TAG, .shard_index = T_SHARD},
	    .max_record_bytes = 4096,
	};
	size_t bytes = sp_shard_ring_mem_bytes(1 << 16);
	void *mem = aligned_alloc(SP_SHARD_RING_ALIGN, bytes);
	struct sp_shard_ring *ring;
	struct t_rec recs[3];
	struct sp_shard_rec_in in[3];
	uint64_t cyc = 0;

	(void)state;
	assert_non_null(mem);
	for (unsigned i = 0; i < 3; i++) {
		t_rec_make(i + 1, 20, &recs[i]);
		in[i] = recs[i].in;
	}
	/* ungated: the stamp follows commits */
	assert_int_equal(sp_shard_ring_init(mem, bytes, &conf, &ring), 0);
	assert_false(sp_shard_ring_stamp_get(ring, t_seq(1), &cyc)); /* never stamped */
	sp_shard_ring_stamp(ring, 100); /* nothing readable yet */
	assert_false(sp_shard_ring_stamp_get(ring, t_seq(1), &cyc));
	assert_int_equal(sp_shard_ring_append(ring, in, 2, 10, NULL), 2);
	sp_shard_ring_stamp(ring, 200);
	assert_true(sp_shard_ring_stamp_get(ring, t_seq(2), &cyc) && cyc == 200);
	assert_false(sp_shard_ring_stamp_get(ring, t_seq(1), &cyc)); /* not the newest */
	sp_shard_ring_stamp(ring, 250); /* nothing new: the first moment stays */
	assert_true(sp_shard_ring_stamp_get(ring, t_seq(2), &cyc) && cyc == 200);
	assert_int_equal(sp_shard_ring_append(ring, in + 2, 1, 10, NULL), 1);
	assert_true(sp_shard_ring_stamp_get(ring, t_seq(2), &cyc)); /* until stamped again */
	sp_shard_ring_stamp(ring, 300);
	assert_false(sp_shard_ring_stamp_get(ring, t_seq(2), &cyc));
	assert_true(sp_shard_ring_stamp_get(ring, t_seq(3), &cyc) && cyc == 300);
	/* gated: commits are not readable, set_visible makes them so */
	conf.gated = true;
	assert_int_equal(sp_shard_ring_init(mem, bytes, &conf, &ring), 0);
	assert_int_equal(sp_shard_ring_append(ring, in, 3, 10, NULL), 3);
	sp_shard_ring_stamp(ring, 400);
	assert_false(sp_shard_ring_stamp_get(ring, t_seq(3), &cyc));
	sp_shard_ring_set_visible(ring, t_seq(2));
	sp_shard_ring_stamp(ring, 500);
	assert_true(sp_shard_ring_stamp_get(ring, t_seq(2), &cyc) && cyc == 500);
	assert_false(sp_shard_ring_stamp_get(ring, t_seq(3), &cyc));
	sp_shard_ring_set_visible(ring, t_seq(3));
	sp_shard_ring_stamp(ring, 600);
	assert_true(sp_shard_ring_stamp_get(ring, t_seq(3), &cyc) && cyc == 600);
	free(mem);
}

/* A reshard closes a shard: sealed, it takes nothing more and ends only once all is visible. */
static void
test_seal_and_end(void **state)
{
	struct sp_shard_ring_conf conf = {
	    .id = {.epoch = T_EPOCH, .node = T_NODE, .stream_tag = T_TAG, .shard_index = T_SHARD},
	    .max_record_bytes = 4096,
	    .gated = true,
	};
	size_t bytes = sp_shard_ring_mem_bytes(1 << 16);
	void *mem = aligned_alloc(SP_SHARD_RING_ALIGN, bytes);
	struct sp_shard_ring *ring;
	struct t_rec recs[3];
	struct sp_shard_rec_in in[3];

	(void)state;
	assert_non_null(mem);
	/* an empty shard closed at once (a reshard's intermediate): ended everywhere */
	assert_int_equal(sp_shard_ring_init(mem, bytes, &conf, &ring), 0);
	assert_false(sp_shard_ring_ended(ring, t_seq(0)));
	sp_shard_ring_seal(ring);
	assert_true(sp_shard_ring_sealed(ring));
	assert_true(sp_shard_ring_ended(ring, t_seq(0)));
	assert_true(sp_shard_ring_ended(ring, t_seq(0) - ((sp_u128)1 << 104))); /* older epoch */
	/* three records, sealed before they are visible (durable) */
	assert_int_equal(sp_shard_ring_init(mem, bytes, &conf, &ring), 0);
	for (unsigned i = 0; i < 3; i++) {
		t_rec_make(i + 1, 20, &recs[i]);
		in[i] = recs[i].in;
	}
	assert_int_equal(sp_shard_ring_append(ring, in, 3, 100, NULL), 3);
	sp_shard_ring_seal(ring);
	sp_shard_ring_seal(ring); /* idempotent */
	assert_int_equal(sp_shard_ring_append(ring, in, 1, 100, NULL), -EPIPE);
	assert_int_equal(sp_shard_ring_append(ring, in, 0, 100, NULL), 0);
	assert_false(sp_shard_ring_ended(ring, t_seq(4))); /* not all visible yet */
	sp_shard_ring_set_visible(ring, t_seq(2));
	assert_false(sp_shard_ring_ended(ring, t_seq(4)));
	sp_shard_ring_set_visible(ring, t_seq(3));
	assert_true(sp_shard_ring_ended(ring, t_seq(4)));
	assert_true(sp_shard_ring_ended(ring, t_seq(3) + 1)); /* AFTER the last record */
	assert_false(sp_shard_ring_ended(ring, t_seq(3)));  /* the last one is still ahead */
	assert_false(sp_shard_ring_ended(ring, t_seq(0)));
	free(mem);
}

/*
 * The writer token and the next number a new writer's log starts at: a ring is made with no
 * writer; a move hands the token on, and the numbering goes on where the old writer stopped.
 */
static void
test_writer_handover(void **state)
{
	struct sp_shard_ring_conf conf = {
	    .id = {.epoch = T_EPOCH, .node = T_NODE, .stream_tag = T_TAG, .shard_index = T_SHARD},
	    .max_record_bytes = 4096,
	};
	size_t bytes = sp_shard_ring_mem_bytes(1 << 16);
	void *mem = aligned_alloc(SP_SHARD_RING_ALIGN, bytes);
	struct sp_shard_ring *ring;
	struct t_rec recs[2];
	struct sp_shard_rec_in in[2];
	sp_u128 seqs[2];

	(void)state;
	assert_non_null(mem);
	assert_int_equal(sp_shard_ring_init(mem, bytes, &conf, &ring), 0);
	assert_int_equal(sp_shard_ring_writer(ring), SP_SHARD_WRITER_NONE);
	assert_true(sp_shard_ring_next_seq(ring) == t_seq(1));
	sp_shard_ring_set_writer(ring, 0);
	assert_int_equal(sp_shard_ring_writer(ring), 0);
	for (unsigned i = 0; i < 2; i++) {
		t_rec_make(i + 1, 20, &recs[i]);
		in[i] = recs[i].in;
	}
	assert_int_equal(sp_shard_ring_append(ring, in, 2, 100, seqs), 2);
	assert_true(seqs[1] == t_seq(2));
	/* the old writer stopped at counter 2: the new one's log starts at 3 */
	sp_shard_ring_set_writer(ring, 3);
	assert_int_equal(sp_shard_ring_writer(ring), 3);
	assert_true(sp_shard_ring_next_seq(ring) == t_seq(3));
	assert_int_equal(sp_shard_ring_append(ring, in, 1, 101, seqs), 1);
	assert_true(seqs[0] == t_seq(3));
	assert_true(sp_shard_ring_next_seq(ring) == t_seq(4));
	free(mem);
}

/* Model of what the ring holds: counters [lo, hi) with their data lengths. */
struct t_model {
	uint64_t lo;
	uint64_t hi;
	uint32_t len[1 << 14];
};

static void
t_model_check_read(struct t_ring *t, const struct t_model *m, uint64_t from)
{
	struct sp_shard_rec_view v[40];
	struct sp_shard_read_res res;
	struct sp_shard_pos pos = {t_seq(from)};
	uint64_t want = SP_MAX(from, m->lo);
	int n;

	n = sp_shard_ring_read(t->ring, &pos, 40, UINT64_MAX, v, &res);
	assert_true(n >= 0);
	assert_int_equal((uint64_t)n, SP_MIN(40, m->hi - want));
	for (int i = 0; i < n; i++) {
		assert_true(t_view_ok(&v[i], want + (uint64_t)i, m->len[(want + i) % (1 << 14)]));
	}
	assert_true(res.at_tip == (want + (uint64_t)n == m->hi));
	assert_true(sp_shard_ring_read_intact(t->ring, &res));
}

static void
test_wrap_many_sizes(void **state)
{
	struct t_ring t;
	struct t_model *m = calloc(1, sizeof(*m));
	struct sp_shard_ring_stats st;

	(void)state;
	assert_non_null(m);
	/* a small ring: several hundred laps over the run */
	t_ring_new(&t, sp_shard_ring_min_capacity(T_MAX_DATA + T_MAX_KEY), T_MAX_DATA + T_MAX_KEY,
		   0);
	m->lo = m->hi = 1;
	for (unsigned iter = 0; iter < 60000; iter++) {
		uint32_t len = (uint32_t)(rng_next() % 4 == 0 ? rng_next() % (T_MAX_DATA + 1)
							      : rng_next() % 64);
		int n = t_append_one(&t, m->hi, len, iter);

		if (n == -ENOSPC) {
			/* trim a random part of what is held, then read from a random place */
			uint64_t upto = m->lo + rng_next() % (m->hi - m->lo + 1);

			assert_true(sp_shard_ring_trim(t.ring, t_seq(upto)) ==
				    (int64_t)(upto - m->lo));
			m->lo = upto;
			t_model_check_read(&t, m, m->lo + rng_next() % (m->hi - m->lo + 1));
			t_model_check_read(&t, m, m->lo > 3 ? m->lo - 3 : 0);
			continue;
		}
		assert_int_equal(n, 1);
		m->len[m->hi % (1 << 14)] = len;
		m->hi++;
		assert_true(m->hi - m->lo < (1 << 14));
	}
	sp_shard_ring_stats(t.ring, &st);
	assert_true(st.appended == m->hi - 1 && st.trimmed == m->lo - 1);
	assert_true(st.pads > 100 && st.refused_full > 100);
	t_ring_free(&t);
	free(m);
}

static void
test_full_and_exact_fit(void **state)
{
	struct t_ring t;
	struct t_rec r[3];
	struct sp_shard_rec_in in[3];
	struct sp_shard_ring_stats st;
	struct sp_shard_ring_info info;
	/* key 1 + data 15 + header 48: 64 bytes, so 67 of them fill 4288 bytes exactly */
	const uint64_t cap = sp_shard_ring_min_capacity(1024);
	const uint64_t per = cap / 64;
	uint64_t c = 1;

	(void)state;
	assert_true(cap % 64 == 0);
	t_ring_new(&t, cap, 1024, 0);
	for (unsigned i = 0; i < 3; i++) {
		t_rec_make(0, 15, &r[i]);
		r[i].in.key_len = 1;
		in[i] = r[i].in;
	}
	for (; c <= per; c++) {
		assert_int_equal(sp_shard_ring_append(t.ring, in, 1, 0, NULL), 1);
	}
	sp_shard_ring_info(t.ring, &info);
	assert_true(info.used_bytes == cap);
	assert_int_equal(sp_shard_ring_append(t.ring, in, 1, 0, NULL), -ENOSPC);
	/* one trimmed: exactly one fits, at physical 0 without a pad */
	assert_true(sp_shard_ring_trim(t.ring, t_seq(2)) == 1);
	assert_int_equal(sp_shard_ring_append(t.ring, in, 3, 0, NULL), 1);
	assert_int_equal(sp_shard_ring_append(t.ring, in + 1, 2, 0, NULL), -ENOSPC);
	/* two trimmed: a batch of three stops after two; the rest says why */
	assert_true(sp_shard_ring_trim(t.ring, t_seq(4)) == 2);
	assert_int_equal(sp_shard_ring_append(t.ring, in, 3, 0, NULL), 2);
	assert_int_equal(sp_shard_ring_append(t.ring, in + 2, 1, 0, NULL), -ENOSPC);
	sp_shard_ring_stats(t.ring, &st);
	assert_true(st.pads == 0 && st.refused_full == 5 && st.appended == per + 3);
	/* trim beyond the end clamps to the end; then the ring takes a full lap again */
	assert_true(sp_shard_ring_trim(t.ring, ~(sp_u128)0) == (int64_t)per);
	assert_true(sp_shard_ring_trim(t.ring, ~(sp_u128)0) == 0);
	for (unsigned i = 0; i < per; i++) {
		assert_int_equal(sp_shard_ring_append(t.ring, in, 1, 0, NULL), 1);
	}
	assert_int_equal(sp_shard_ring_append(t.ring, in, 1, 0, NULL), -ENOSPC);
	t_ring_free(&t);
}

static void
test_max_record_anywhere(void **state)
{
	struct t_ring t;
	struct sp_shard_rec_view v[2];
	struct sp_shard_read_res res;
	struct sp_shard_pos pos;
	static uint8_t big[1024 + 8];
	struct sp_shard_rec_in rec = {.key = "k", .key_len = 1, .data = big, .data_len = 1023};
	struct sp_shard_rec_in filler = {.key = "f", .key_len = 1, .data = big};
	uint64_t c = 1;

	(void)state;
	memset(big, 0xab, sizeof(big));
	t_ring_new(&t, sp_shard_ring_min_capacity(1024), 1024, 0);
	for (unsigned i = 0; i < 400; i++) {
		filler.data_len = (uint32_t)(rng_next() % 1000);
		assert_int_equal(sp_shard_ring_append(t.ring, &filler, 1, i, NULL), 1);
		c++;
		assert_true(sp_shard_ring_trim(t.ring, t_seq(c)) == 1);
		/* the ring is empty, its end anywhere: the largest record must fit */
		assert_int_equal(sp_shard_ring_append(t.ring, &rec, 1, i, NULL), 1);
		pos.seq = t_seq(c);
		assert_int_equal(sp_shard_ring_read(t.ring, &pos, 2, 1, v, &res), 1);
		assert_true(v[0].data_len == 1023 && memcmp(v[0].data, big, 1023) == 0);
		c++;
		assert_true(sp_shard_ring_trim(t.ring, t_seq(c)) == 1);
	}
	/* too big, key too long */
	rec.data_len = 1024;
	assert_int_equal(sp_shard_ring_append(t.ring, &rec, 1, 0, NULL), -EMSGSIZE);
	rec.data_len = 0;
	rec.key_len = SP_SHARD_KEY_MAX + 1;
	rec.key = big;
	assert_int_equal(sp_shard_ring_append(t.ring, &rec, 1, 0, NULL), -EMSGSIZE);
	t_ring_free(&t);
}

static sp_u128
t_seq_low(uint64_t counter, uint32_t shard_index)
{
	struct sp_seqno_fields f = {.epoch = T_EPOCH,
				    .node = T_NODE,
				    .counter = counter,
				    .stream_tag = T_TAG,
				    .shard_index = shard_index};

	return sp_seqno_pack(&f);
}

static void
t_seek_expect(struct t_ring *t, sp_u128 seq, bool after, sp_u128 want)
{
	struct sp_shard_pos pos;

	assert_int_equal(sp_shard_ring_seek_seq(t->ring, seq, after, &pos), 0);
	assert_true(pos.seq == want);
}

static void
t_stride_run(uint64_t base)
{
	struct t_ring t;
	const uint64_t total = 6 * SP_SHARD_INDEX_STRIDE + 5;
	uint64_t c = base;
	struct sp_seqno_fields lo_epoch = {.epoch = T_EPOCH - 1, .counter = 99999};
	struct sp_seqno_fields hi_epoch = {.epoch = T_EPOCH + 1};
	struct sp_shard_rec_view v;
	struct sp_shard_read_res res;
	struct sp_shard_pos pos;

	t_ring_new(&t, 1 << 20, 4096, base);
	/* batches of awkward sizes so that index entries land at every place in a batch */
	for (unsigned b = 1; c < base + total; b = b % 67 + 1) {
		struct sp_shard_rec_in in[67];
		unsigned n = (unsigned)SP_MIN(b, base + total - c);

		for (unsigned i = 0; i < n; i++) {
			/* contents are not checked here; sizes vary so offsets do */
			in[i] = (struct sp_shard_rec_in){.key = "xxxxxxxxxxxxxxxx",
							 .key_len = (uint16_t)(1 + (c + i) % 16)};
		}
		assert_int_equal(sp_shard_ring_append(t.ring, in, n, c, NULL), (int)n);
		c += n;
	}
	for (c = base; c < base + total; c++) {
		sp_u128 next = t_seq(c + 1);

		t_seek_expect(&t, t_seq(c), false, t_seq(c));
		t_seek_expect(&t, t_seq(c), true, next);
		t_seek_expect(&t, t_seq(c) - 1, false, t_seq(c));
		t_seek_expect(&t, t_seq_low(c, T_SHARD + 1), false, next);
		t_seek_expect(&t, t_seq_low(c, T_SHARD - 1), true, t_seq(c));
		pos.seq = t_seq(c);
		assert_int_equal(sp_shard_ring_read(t.ring, &pos, 1, 0, &v, &res), 1);
		assert_true(v.seq == t_seq(c) && res.next.seq == next);
		assert_true(res.at_tip == (c + 1 == base + total));
	}
	/* numbers outside this shard's range: before it is the start, after it stays put */
	lo_epoch.stream_tag = T_TAG;
	t_seek_expect(&t, sp_seqno_pack(&lo_epoch), false, t_seq(base));
	t_seek_expect(&t, 0, false, t_seq(base));
	t_seek_expect(&t, sp_seqno_pack(&hi_epoch), false, sp_seqno_pack(&hi_epoch));
	t_seek_expect(&t, ~(sp_u128)0, true, ~(sp_u128)0);
	t_seek_expect(&t, t_seq(base + total + 50), false, t_seq(base + total + 50));
	/* trimmed numbers resolve to the trim horizon */
	assert_true(sp_shard_ring_trim(t.ring, t_seq(base + 100)) == 100);
	t_seek_expect(&t, t_seq(base + 3), false, t_seq(base + 100));
	t_seek_expect(&t, t_seq(base + 99), true, t_seq(base + 100));
	assert_int_equal(sp_shard_ring_trim_horizon(t.ring, &pos), 0);
	assert_true(pos.seq == t_seq(base + 100));
	/* everything trimmed: positions point at what comes next */
	assert_true(sp_shard_ring_trim(t.ring, ~(sp_u128)0) == (int64_t)(total - 100));
	t_seek_expect(&t, t_seq(base + 3), false, t_seq(base + total));
	assert_int_equal(sp_shard_ring_trim_horizon(t.ring, &pos), 0);
	assert_true(pos.seq == t_seq(base + total));
	t_ring_free(&t);
}

static void
test_index_stride_boundaries(void **state)
{
	(void)state;
	t_stride_run(1);
	t_stride_run(1000003);
}

static void
test_time_seek_equal_timestamps(void **state)
{
	struct t_ring t;
	struct sp_shard_pos pos;
	enum { N = 700 };
	uint64_t arrival[N + 1];
	uint64_t last = 0;
	uint64_t trim = 1;

	(void)state;
	t_ring_new(&t, 1 << 18, 4096, 0);
	for (uint64_t c = 1; c <= N; c++) {
		/* runs of 37 equal times across stride boundaries, and a clock that steps back */
		uint64_t now = 1000 + (c / 37) * 10 - (c % 50 == 0 ? 500 : 0);

		assert_int_equal(t_append_one(&t, c, 3, now), 1);
		last = SP_MAX(last, now);
		arrival[c] = last;
	}
	for (unsigned round = 0; round < 2; round++) {
		for (uint64_t tm = 900; tm <= last + 20; tm++) {
			uint64_t want = trim;

			while (want <= N && arrival[want] < tm) {
				want++;
			}
			assert_int_equal(sp_shard_ring_seek_time(t.ring, tm, &pos), 0);
			assert_true(pos.seq == t_seq(want));
		}
		if (round == 0) {
			trim = 333;
			assert_true(sp_shard_ring_trim(t.ring, t_seq(trim)) == 332);
		}
	}
	/* empty ring: latest */
	assert_true(sp_shard_ring_trim(t.ring, ~(sp_u128)0) > 0);
	assert_int_equal(sp_shard_ring_seek_time(t.ring, 0, &pos), 0);
	assert_true(pos.seq == t_seq(N + 1));
	t_ring_free(&t);
}

static void
test_read_limits(void **state)
{
	struct t_ring t;
	struct sp_shard_rec_view v[10];
	struct sp_shard_read_res res;
	struct sp_shard_pos pos = {t_seq(1)};

	(void)state;
	t_ring_new(&t, 1 << 16, 4096, 0);
	for (uint64_t c = 1; c <= 10; c++) {
		assert_int_equal(
		    t_append_one(&t, c, (uint32_t)(101 - (1 + c % T_MAX_KEY)), 1000 + c * 10), 1);
	}
	/* 101 bytes each (key + data) */
	assert_int_equal(sp_shard_ring_read(t.ring, &pos, 10, 250, v, &res), 2);
	assert_true(res.bytes == 202 && !res.at_tip && res.next.seq == t_seq(3));
	assert_true(res.millis_behind == 1100 - 1030 && res.tip_arrival_ms == 1100);
	assert_int_equal(sp_shard_ring_read(t.ring, &pos, 10, 202, v, &res), 2);
	assert_int_equal(sp_shard_ring_read(t.ring, &pos, 10, 201, v, &res), 1);
	/* the first record always comes, whatever max_bytes says */
	assert_int_equal(sp_shard_ring_read(t.ring, &pos, 10, 0, v, &res), 1);
	assert_true(res.bytes == 101 && res.millis_behind == 1100 - 1020);
	assert_int_equal(sp_shard_ring_read(t.ring, &pos, 3, UINT64_MAX, v, &res), 3);
	assert_int_equal(sp_shard_ring_read(t.ring, &pos, 0, UINT64_MAX, NULL, &res), 0);
	assert_true(!res.at_tip && res.next.seq == pos.seq && res.millis_behind == 90);
	pos.seq = t_seq(9);
	assert_int_equal(sp_shard_ring_read(t.ring, &pos, 10, UINT64_MAX, v, &res), 2);
	assert_true(res.at_tip && res.millis_behind == 0 && res.next.seq == t_seq(11));
	assert_int_equal(sp_shard_ring_latest(t.ring, &pos), 0);
	assert_int_equal(sp_shard_ring_read(t.ring, &pos, 10, UINT64_MAX, v, &res), 0);
	assert_true(res.at_tip && res.next.seq == t_seq(11) && res.tip_seq == t_seq(10));
	t_ring_free(&t);
}

static void
test_trim_and_intact(void **state)
{
	struct t_ring t;
	struct sp_shard_rec_view v[8];
	struct sp_shard_read_res res;
	struct sp_shard_read_res res2;
	struct sp_shard_pos pos = {t_seq(1)};
	uint64_t c = 1;

	(void)state;
	t_ring_new(&t, sp_shard_ring_min_capacity(1024), 1024, 0);
	for (; c <= 8; c++) {
		assert_int_equal(t_append_one(&t, c, 100, 0), 1);
	}
	assert_int_equal(sp_shard_ring_read(t.ring, &pos, 8, UINT64_MAX, v, &res), 8);
	pos.seq = t_seq(5);
	assert_int_equal(sp_shard_ring_read(t.ring, &pos, 8, UINT64_MAX, v, &res2), 4);
	/* a trim past a view's record makes the read not intact (even before its bytes are
	 * reused: the check is conservative); views after the trim horizon stay intact */
	assert_true(sp_shard_ring_trim(t.ring, t_seq(3)) == 2);
	assert_false(sp_shard_ring_read_intact(t.ring, &res));
	assert_true(sp_shard_ring_read_intact(t.ring, &res2));
	assert_true(sp_shard_ring_trim(t.ring, t_seq(3)) == 0);
	assert_true(sp_shard_ring_trim(t.ring, t_seq(2)) == 0);
	/* a read from a trimmed position starts at the trim horizon */
	pos.seq = t_seq(1);
	assert_int_equal(sp_shard_ring_read(t.ring, &pos, 1, UINT64_MAX, v, &res), 1);
	assert_true(t_view_ok(&v[0], 3, 100));
	assert_true(sp_shard_ring_trim(t.ring, t_seq(100)) == 6);
	while (t_append_one(&t, c, 100, 0) == 1) {
		c++;
	}
	assert_false(sp_shard_ring_read_intact(t.ring, &res2));
	t_ring_free(&t);
}

static void
test_counter_exhaustion(void **state)
{
	struct t_ring t;
	struct t_rec r;
	struct sp_shard_rec_in in[5];
	sp_u128 seqs[5];
	struct sp_shard_ring_stats st;
	struct sp_shard_pos pos;
	struct sp_shard_rec_view v[5];
	struct sp_shard_read_res res;
	const uint64_t first = SP_SEQNO_COUNTER_MAX - 3;

	(void)state;
	t_ring_new(&t, 1 << 16, 4096, first);
	t_rec_make(1, 10, &r);
	for (unsigned i = 0; i < 5; i++) {
		in[i] = r.in;
	}
	assert_int_equal(sp_shard_ring_append(t.ring, in, 5, 7, seqs), 3);
	assert_true(seqs[2] == t_seq(SP_SEQNO_COUNTER_MAX - 1));
	assert_int_equal(sp_shard_ring_append(t.ring, in, 2, 7, seqs), -EOVERFLOW);
	assert_int_equal(sp_shard_ring_append(t.ring, in, 1, 7, seqs), -EOVERFLOW);
	sp_shard_ring_stats(t.ring, &st);
	assert_true(st.refused_exhausted == 3 && st.appended == 3);
	assert_int_equal(sp_shard_ring_latest(t.ring, &pos), 0);
	assert_true(pos.seq == t_seq(SP_SEQNO_COUNTER_MAX));
	assert_int_equal(sp_shard_ring_trim_horizon(t.ring, &pos), 0);
	assert_int_equal(sp_shard_ring_read(t.ring, &pos, 5, UINT64_MAX, v, &res), 3);
	assert_true(t_counter(v[0].seq) == first && res.at_tip);
	assert_true(res.next.seq == t_seq(SP_SEQNO_COUNTER_MAX));
	assert_true(sp_shard_ring_trim(t.ring, ~(sp_u128)0) == 3);
	assert_int_equal(sp_shard_ring_append(t.ring, in, 1, 7, seqs), -EOVERFLOW);
	t_ring_free(&t);
}

/* ---- a reader thread against a writer ---- */

#define CONC_TOTAL    200000u
#define CONC_MAX_DATA 700u

struct conc {
	struct t_ring t;
	bool lossless;             /* writer trims only what the reader consumed */
	_Atomic uint64_t consumed; /* reader: next counter it needs */
	_Atomic bool done;
	uint64_t overruns;
	uint64_t gaps;
	uint64_t reads;
};

/* Counter of a number of this test's shard (abort, not cmocka: this runs in a thread). */
static uint64_t
conc_counter(sp_u128 seq)
{
	struct sp_seqno_fields f;

	SP_VERIFY(sp_seqno_unpack(seq, &f) && f.epoch == T_EPOCH && f.shard_index == T_SHARD);
	return f.counter;
}

/* Check one read's views; commits want and last_arrival only when all are right. */
static bool
conc_check(struct conc *cs, const struct sp_shard_rec_view *v, int n, uint64_t *want,
	   uint64_t *last_arrival)
{
	uint64_t w = *want;
	uint64_t a = *last_arrival;
	uint64_t gaps = 0;

	for (int i = 0; i < n; i++) {
		uint64_t c = conc_counter(v[i].seq);

		if (c < w || (i > 0 && c != w) || v[i].arrival_ms < a ||
		    !t_view_ok(&v[i], c, t_len_of(c, CONC_MAX_DATA))) {
			return false;
		}
		gaps += c > w;
		w = c + 1;
		a = v[i].arrival_ms;
	}
	cs->gaps += gaps;
	*want = w;
	*last_arrival = a;
	return true;
}

static void *
conc_reader(void *arg)
{
	struct conc *cs = arg;
	static struct sp_shard_rec_view v[64];
	struct sp_shard_read_res res;
	struct sp_shard_pos pos = {t_seq(1)};
	uint64_t want = 1;
	uint64_t last_arrival = 0;

	while (want <= CONC_TOTAL) {
		int n = sp_shard_ring_read(cs->t.ring, &pos, 64, 1 << 16, v, &res);
		uint64_t w = want;
		uint64_t a = last_arrival;
		uint64_t gaps = cs->gaps;
		bool ok;

		SP_VERIFY(n >= 0 || n == -EAGAIN);
		cs->reads++;
		ok = n >= 0 && conc_check(cs, v, n, &w, &a);
		if (n < 0 || !sp_shard_ring_read_intact(cs->t.ring, &res)) {
			/* overrun: what we saw may be torn; read again from the same position */
			SP_VERIFY(!cs->lossless);
			cs->overruns++;
			cs->gaps = gaps;
			continue;
		}
		/* intact views must be exactly right */
		SP_VERIFY(ok);
		want = w;
		last_arrival = a;
		pos = res.next;
		atomic_store_explicit(&cs->consumed, want, memory_order_release);
		if (n == 0) {
			sched_yield();
		}
	}
	return NULL;
}

static void
conc_write(struct conc *cs)
{
	uint64_t c = 1;
	uint64_t trimmed = 1;

	while (c <= CONC_TOTAL) {
		static struct t_rec r[32];
		struct sp_shard_rec_in in[32];
		unsigned n = (unsigned)SP_MIN(1 + rng_next() % 32, CONC_TOTAL + 1 - c);
		int got;

		for (unsigned i = 0; i < n; i++) {
			t_rec_make(c + i, t_len_of(c + i, CONC_MAX_DATA), &r[i]);
			in[i] = r[i].in;
		}
		got = sp_shard_ring_append(cs->t.ring, in, n, c / 1000, NULL);
		if (got > 0) {
			c += (uint64_t)got;
			continue;
		}
		SP_VERIFY(got == -ENOSPC);
		if (cs->lossless) {
			uint64_t upto = atomic_load_explicit(&cs->consumed, memory_order_acquire);

			trimmed += (uint64_t)sp_shard_ring_trim(cs->t.ring, t_seq(upto));
			sched_yield();
		} else {
			uint64_t upto = trimmed + (c - trimmed) / 2 + 1;

			SP_VERIFY(sp_shard_ring_trim(cs->t.ring, t_seq(upto)) > 0);
			trimmed = upto;
		}
	}
}

static void
conc_run(bool lossless)
{
	struct conc *cs = calloc(1, sizeof(*cs));
	pthread_t th;

	assert_non_null(cs);
	cs->lossless = lossless;
	atomic_store(&cs->consumed, 1);
	/* 64 KiB: the writer laps the region every few hundred records */
	t_ring_new(&cs->t, 1 << 16, 4096, 0);
	assert_int_equal(pthread_create(&th, NULL, conc_reader, cs), 0);
	conc_write(cs);
	assert_int_equal(pthread_join(th, NULL), 0);
	printf("# %s: %llu reads, %llu overruns, %llu gaps\n", lossless ? "lossless" : "overrun",
	       (unsigned long long)cs->reads, (unsigned long long)cs->overruns,
	       (unsigned long long)cs->gaps);
	if (lossless) {
		assert_true(cs->gaps == 0 && cs->overruns == 0);
	}
	t_ring_free(&cs->t);
	free(cs);
}

static void
test_concurrent_lossless(void **state)
{
	(void)state;
	conc_run(true);
}

static void
test_concurrent_overrun(void **state)
{
	(void)state;
	conc_run(false);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_append_read_basic),
	    cmocka_unit_test(test_visible_gate),
	    cmocka_unit_test(test_publish_stamp),
	    cmocka_unit_test(test_seal_and_end),
	    cmocka_unit_test(test_writer_handover),
	    cmocka_unit_test(test_wrap_many_sizes),
	    cmocka_unit_test(test_full_and_exact_fit),
	    cmocka_unit_test(test_max_record_anywhere),
	    cmocka_unit_test(test_index_stride_boundaries),
	    cmocka_unit_test(test_time_seek_equal_timestamps),
	    cmocka_unit_test(test_read_limits),
	    cmocka_unit_test(test_trim_and_intact),
	    cmocka_unit_test(test_counter_exhaustion),
	    cmocka_unit_test(test_concurrent_lossless),
	    cmocka_unit_test(test_concurrent_overrun),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
