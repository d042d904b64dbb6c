/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for dataplane/shard/shard_ring.c: the input is a ring shape (capacity
 * multiple, first counter near 1 or near exhaustion) followed by a sequence of operations
 * (append batches, reads, seeks by number and by time, trims, horizon/latest/info), each
 * applied to a small ring and to a plain in-memory model of it. Every result must match the
 * model exactly: return values and reasons, sequence numbers, arrival times, record bytes,
 * next positions, at-tip and MillisBehindLatest, and every read must stay intact (one thread:
 * nothing can overrun it). The model states the placement rule (8-byte records, a pad when a
 * record does not fit before the end of the region, refuse when the ring would hold more than
 * its capacity) independently of the ring's code.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <spate/assert.h>

#include "shard_ring.h"

#define FZ_MAX_RECORD 512u
#define FZ_MAX_RECS   (1u << 14)
#define FZ_MAX_BATCH  8u
#define FZ_MAX_READ   16u
#define FZ_MEM_BYTES  (1u << 16)
#define FZ_SHARD      1000u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_rec {
	uint64_t off;
	uint64_t arrival;
	uint32_t data_len;
	uint16_t key_len;
};

struct fz_model {
	uint64_t cap;
	uint64_t base; /* counter of recs[0] */
	uint64_t lo;   /* first untrimmed counter */
	uint64_t hi;   /* next counter */
	uint64_t end;
	uint64_t trim;
	uint64_t last_arrival;
	uint64_t now;
	struct fz_rec recs[FZ_MAX_RECS];
};

struct fz_in {
	const uint8_t *p;
	size_t n;
};

static _Alignas(64) uint8_t g_mem[FZ_MEM_BYTES];
static struct fz_model g_m;
static uint8_t g_data[FZ_MAX_RECORD + 1];
static uint8_t g_key[FZ_MAX_RECORD + 1];

static unsigned
fz_byte(struct fz_in *in)
{
	if (in->n == 0) {
		return 0;
	}
	in->n--;
	return *in->p++;
}

static sp_u128
fz_seq(uint64_t counter)
{
	struct sp_seqno_fields f = {
	    .epoch = 3, .node = 1, .counter = counter, .stream_tag = 77, .shard_index = FZ_SHARD};

	return sp_seqno_pack(&f);
}

static struct fz_rec *
fz_rec(uint64_t counter)
{
	SP_VERIFY(counter >= g_m.base && counter - g_m.base < FZ_MAX_RECS);
	return &g_m.recs[counter - g_m.base];
}

/* Record contents are a function of the counter and the lengths. */
static void
fz_fill(uint64_t counter, uint16_t key_len, uint32_t data_len)
{
	for (unsigned i = 0; i < key_len; i++) {
		g_key[i] = (uint8_t)('a' + (counter + i) % 26);
	}
	for (unsigned i = 0; i < data_len; i++) {
		g_data[i] = (uint8_t)(counter * 131 + i * 7);
	}
}

/* The model's placement of one record; 0 or why it is refused. */
static int
fz_model_place(uint64_t counter, uint16_t key_len, uint32_t data_len, uint64_t arrival)
{
	uint64_t size = (48u + key_len + data_len + 7u) & ~7ull;
	uint64_t room = g_m.cap - g_m.end % g_m.cap;
	uint64_t need = size <= room ? size : room + size;
	struct fz_rec *r;

	if ((uint64_t)key_len + data_len > FZ_MAX_RECORD) {
		return -EMSGSIZE;
	}
	if (counter >= SP_SEQNO_COUNTER_MAX) {
		return -EOVERFLOW;
	}
	if (g_m.end + need - g_m.trim > g_m.cap) {
		return -ENOSPC;
	}
	g_m.end += need - size;
	r = fz_rec(counter);
	r->off = g_m.end;
	r->arrival = arrival;
	r->key_len = key_len;
	r->data_len = data_len;
	g_m.end += size;
	return 0;
}

static void
fz_op_append(struct sp_shard_ring *ring, struct fz_in *in)
{
	static struct sp_shard_rec_in recs[FZ_MAX_BATCH];
	static uint8_t bufs[FZ_MAX_BATCH][2][FZ_MAX_RECORD + 1];
	sp_u128 seqs[FZ_MAX_BATCH];
	unsigned n = 1 + fz_byte(in) % FZ_MAX_BATCH;
	unsigned delta = fz_byte(in);
	uint64_t now;
	uint64_t arrival;
	unsigned ok = 0;
	int why = 0;
	int got;

	if (g_m.hi - g_m.base + n >= FZ_MAX_RECS) {
		return;
	}
	/* the clock mostly moves on, sometimes back */
	now = delta < 200 ? g_m.now + delta : (g_m.now > delta ? g_m.now - delta : 0);
	g_m.now = now;
	arrival = SP_MAX(now, g_m.last_arrival);
	for (unsigned i = 0; i < n; i++) {
		unsigned b = fz_byte(in);
		uint16_t key_len = (uint16_t)(b % 33);
		uint32_t data_len = b >= 250 ? FZ_MAX_RECORD + 1 - key_len
					     : (uint32_t)(fz_byte(in) * (b % 3 + 1)) %
						   (FZ_MAX_RECORD - key_len + 1);

		fz_fill(g_m.hi + i, key_len, data_len);
		memcpy(bufs[i][0], g_key, key_len);
		memcpy(bufs[i][1], g_data, SP_MIN(data_len, FZ_MAX_RECORD));
		recs[i] = (struct sp_shard_rec_in){.key = bufs[i][0],
						   .key_len = key_len,
						   .data = bufs[i][1],
						   .data_len = data_len,
						   .flags = (uint16_t)b};
		if (why == 0) {
			why = fz_model_place(g_m.hi + i, key_len, data_len, arrival);
			ok += why == 0;
		}
	}
	got = sp_shard_ring_append(ring, recs, n, now, seqs);
	SP_VERIFY(got == (ok > 0 ? (int)ok : why));
	for (unsigned i = 0; i < ok; i++) {
		SP_VERIFY(seqs[i] == fz_seq(g_m.hi + i));
	}
	if (ok > 0) {
		g_m.hi += ok;
		g_m.last_arrival = arrival;
	}
}

/* A number near the live range, and the counter of the first record >= it. */
static sp_u128
fz_pick_seq(struct fz_in *in, bool after, uint64_t *want)
{
	unsigned b = fz_byte(in);
	uint64_t span = g_m.hi - g_m.lo + 6;
	uint64_t c = g_m.lo > 3 ? g_m.lo - 3 : 0;
	sp_u128 s;

	c += (b | fz_byte(in) << 8) % span;
	c = SP_MIN(c, SP_SEQNO_COUNTER_MAX);
	s = fz_seq(c);
	/* below, at or above the shard's own number for that counter */
	switch (b % 5) {
	case 0:
		s -= 1;
		*want = after ? c : c;
		break;
	case 1:
		s += 1;
		*want = c + 1;
		break;
	case 2:
		s = b & 0x20 ? 0 : ~(sp_u128)0;
		*want = s == 0 ? (after ? 0 : 0) : UINT64_MAX;
		break;
	default:
		*want = after ? c + 1 : c;
		break;
	}
	if (s == ~(sp_u128)0) {
		*want = UINT64_MAX;
	}
	return s;
}

/* The position the ring must give for "first >= counter want" (target is the number asked). */
static sp_u128
fz_expect_pos(uint64_t want, sp_u128 target)
{
	uint64_t c = SP_MAX(want, g_m.lo);
	sp_u128 latest = fz_seq(g_m.hi);

	if (want != UINT64_MAX && c < g_m.hi) {
		return fz_seq(c);
	}
	return target > latest ? target : latest;
}

static void
fz_op_seek_seq(const struct sp_shard_ring *ring, struct fz_in *in)
{
	bool after = fz_byte(in) & 1;
	uint64_t want = 0;
	sp_u128 s = fz_pick_seq(in, after, &want);
	sp_u128 target = after && s != ~(sp_u128)0 ? s + 1 : s;
	struct sp_shard_pos pos;

	SP_VERIFY(sp_shard_ring_seek_seq(ring, s, after, &pos) == 0);
	SP_VERIFY(pos.seq == fz_expect_pos(want, target));
}

static void
fz_check_view(const struct sp_shard_rec_view *v, uint64_t c)
{
	const struct fz_rec *r = fz_rec(c);

	fz_fill(c, r->key_len, r->data_len);
	SP_VERIFY(v->seq == fz_seq(c) && v->arrival_ms == r->arrival);
	SP_VERIFY(v->key_len == r->key_len && v->data_len == r->data_len);
	SP_VERIFY(memcmp(v->key, g_key, r->key_len) == 0);
	SP_VERIFY(memcmp(v->data, g_data, r->data_len) == 0);
}

static void
fz_op_read(const struct sp_shard_ring *ring, struct fz_in *in)
{
	static struct sp_shard_rec_view v[FZ_MAX_READ];
	struct sp_shard_read_res res;
	uint64_t want = 0;
	struct sp_shard_pos pos = {fz_pick_seq(in, false, &want)};
	unsigned max_records = fz_byte(in) % (FZ_MAX_READ + 1);
	uint64_t max_bytes = (uint64_t)fz_byte(in) * 8;
	uint64_t c = want == UINT64_MAX ? g_m.hi : SP_MAX(want, g_m.lo);
	uint64_t bytes = 0;
	unsigned n = 0;
	int got;

	while (c < g_m.hi && n < max_records) {
		uint64_t len = fz_rec(c)->key_len + fz_rec(c)->data_len;

		if (n > 0 && bytes + len > max_bytes) {
			break;
		}
		bytes += len;
		n++;
		c++;
	}
	got = sp_shard_ring_read(ring, &pos, max_records, max_bytes, v, &res);
	SP_VERIFY(got == (int)n && res.bytes == bytes);
	for (unsigned i = 0; i < n; i++) {
		fz_check_view(&v[i], c - n + i);
	}
	SP_VERIFY(res.next.seq == (n > 0 ? fz_seq(c) : pos.seq));
	SP_VERIFY(res.at_tip == (c >= g_m.hi));
	SP_VERIFY(res.tip_seq == (g_m.hi > g_m.base ? fz_seq(g_m.hi - 1) : 0));
	SP_VERIFY(res.tip_arrival_ms == (g_m.hi > g_m.base ? g_m.last_arrival : 0));
	SP_VERIFY(res.millis_behind == (c < g_m.hi ? g_m.last_arrival - fz_rec(c)->arrival : 0));
	SP_VERIFY(sp_shard_ring_read_intact(ring, &res));
}

static void
fz_op_seek_time(const struct sp_shard_ring *ring, struct fz_in *in)
{
	unsigned b = fz_byte(in);
	uint64_t t = g_m.now + 16 > b ? g_m.now + 16 - b : 0;
	uint64_t c = g_m.lo;
	struct sp_shard_pos pos;

	while (c < g_m.hi && fz_rec(c)->arrival < t) {
		c++;
	}
	SP_VERIFY(sp_shard_ring_seek_time(ring, t, &pos) == 0);
	SP_VERIFY(pos.seq == fz_seq(c));
}

static void
fz_op_trim(struct sp_shard_ring *ring, struct fz_in *in)
{
	uint64_t want = 0;
	sp_u128 s = fz_pick_seq(in, false, &want);
	uint64_t c = SP_MIN(want, g_m.hi);
	int64_t n = c > g_m.lo ? (int64_t)(c - g_m.lo) : 0;

	SP_VERIFY(sp_shard_ring_trim(ring, s) == n);
	if (n > 0) {
		g_m.lo = c;
		g_m.trim = c < g_m.hi ? fz_rec(c)->off : g_m.end;
	}
}

static void
fz_op_observe(const struct sp_shard_ring *ring)
{
	struct sp_shard_pos pos;
	struct sp_shard_ring_info info;
	struct sp_shard_ring_stats st;

	SP_VERIFY(sp_shard_ring_trim_horizon(ring, &pos) == 0);
	SP_VERIFY(pos.seq == fz_seq(g_m.lo < g_m.hi ? g_m.lo : g_m.hi));
	SP_VERIFY(sp_shard_ring_latest(ring, &pos) == 0);
	SP_VERIFY(pos.seq == fz_seq(g_m.hi));
	sp_shard_ring_info(ring, &info);
	SP_VERIFY(info.capacity == g_m.cap && info.next_counter == g_m.hi);
	/* the model's trim offset is at a record or the end; the ring's may sit before a pad */
	SP_VERIFY(info.used_bytes >= g_m.end - g_m.trim && info.used_bytes <= g_m.cap);
	sp_shard_ring_stats(ring, &st);
	SP_VERIFY(st.appended == g_m.hi - g_m.base && st.trimmed == g_m.lo - g_m.base);
}

static struct sp_shard_ring *
fz_setup(struct fz_in *in)
{
	unsigned b = fz_byte(in);
	uint64_t cap = sp_shard_ring_min_capacity(FZ_MAX_RECORD) * (1 + b % 4) + (b / 4 % 8) * 64;
	struct sp_shard_ring_conf conf = {
	    .id = {.epoch = 3, .node = 1, .stream_tag = 77, .shard_index = FZ_SHARD},
	    .first_counter = fz_byte(in) >= 240 ? SP_SEQNO_COUNTER_MAX - 1 - fz_byte(in) % 64 : 0,
	    .max_record_bytes = FZ_MAX_RECORD,
	};
	struct sp_shard_ring *ring = NULL;

	SP_VERIFY(sp_shard_ring_mem_bytes(cap) <= sizeof(g_mem));
	SP_VERIFY(sp_shard_ring_init(g_mem, sp_shard_ring_mem_bytes(cap), &conf, &ring) == 0);
	memset(&g_m, 0, offsetof(struct fz_model, recs));
	g_m.cap = cap;
	g_m.base = g_m.lo = g_m.hi = conf.first_counter == 0 ? 1 : conf.first_counter;
	return ring;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = {data, size};
	struct sp_shard_ring *ring = fz_setup(&in);

	while (in.n > 0) {
		switch (fz_byte(&in) % 7) {
		case 0:
		case 1:
			fz_op_append(ring, &in);
			break;
		case 2:
			fz_op_read(ring, &in);
			break;
		case 3:
			fz_op_seek_seq(ring, &in);
			break;
		case 4:
			fz_op_seek_time(ring, &in);
			break;
		case 5:
			fz_op_trim(ring, &in);
			break;
		default:
			fz_op_observe(ring);
			break;
		}
	}
	fz_op_observe(ring);
	return 0;
}
