/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/tcp/tcp_sack.c, the sender's SACK scoreboard (RFC 6675 4): merging,
 * validation of hostile blocks and D-SACKs (RFC 2883), the bound, IsLost/SetPipe/NextSeg on
 * the "segments 2, 4, 6 of 8 SACKed" pattern, the 2^32 wrap, and a seeded model-based test
 * comparing random block sequences with a byte-map model and RFC 6675's octet-by-octet
 * definitions. SP_SACK_SEED=<n> reruns one seed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../sp_test.h"

#include "tcp/tcp_sack.h"

#define SMSS      1448u
#define DUPTHRESH 3u

static void
update(struct sp_sack_sb *sb, const uint32_t (*blk)[2], unsigned nb, uint32_t una, uint32_t max,
       struct sp_sack_update *u)
{
	sp_sack_sb_update(sb, blk, nb, una, max, u);
	assert_true(sp_sack_sb_valid(sb, una, max));
}

/* Segment k (1-based) of n full segments from base: [base + (k-1)*SMSS, base + k*SMSS). */
static uint32_t
seg(uint32_t base, unsigned k)
{
	return base + (k - 1) * SMSS;
}

static void
test_merge(void **state)
{
	struct sp_sack_sb sb;
	struct sp_sack_update u;
	uint32_t una = 1000, max = 1000 + 10000;
	const uint32_t a[][2] = {{2000, 3000}, {5000, 6000}};
	const uint32_t b[][2] = {{3000, 4000}}; /* touches the first: merges */
	const uint32_t c[][2] = {{2500, 5500}}; /* bridges both */

	(void)state;
	memset(&sb, 0, sizeof(sb));
	update(&sb, a, 2, una, max, &u);
	assert_int_equal(sb.nb, 2);
	assert_int_equal(u.newly_sacked, 2000);
	update(&sb, b, 1, una, max, &u);
	assert_int_equal(sb.nb, 2);
	assert_int_equal(u.newly_sacked, 1000);
	assert_int_equal(sb.r[0].left, 2000);
	assert_int_equal(sb.r[0].right, 4000);
	update(&sb, c, 1, una, max, &u);
	assert_int_equal(sb.nb, 1);
	assert_int_equal(u.newly_sacked, 1000); /* only [4000, 5000) was new */
	assert_int_equal(sb.r[0].left, 2000);
	assert_int_equal(sb.r[0].right, 6000);
	assert_int_equal(sp_sack_bytes_in(&sb, 0, 10000), 4000);
	assert_int_equal(sp_sack_bytes_in(&sb, 2500, 3500), 1000);
	assert_int_equal(sp_sack_bytes_in(&sb, 6000, 7000), 0);
	/* The same blocks again: nothing new (RFC 6675's DupAck needs newly SACKed data). */
	update(&sb, c, 1, una, max, &u);
	assert_int_equal(u.newly_sacked, 0);
	/* The cumulative ACK moves into the range: it is cut, then gone. */
	sp_sack_sb_ack(&sb, 2500);
	assert_int_equal(sb.r[0].left, 2500);
	sp_sack_sb_ack(&sb, 6000);
	assert_true(sp_sack_sb_empty(&sb));
}

static void
test_validation(void **state)
{
	struct sp_sack_sb sb;
	struct sp_sack_update u;
	uint32_t una = 5000, max = 9000;
	const uint32_t bad[][2] = {
	    {6000, 9001}, /* one byte beyond snd_max */
	    {7000, 7000}, /* empty */
	    {8000, 7000}, /* reversed */
	    {1000, 2000}, /* wholly below snd_una, not first: no D-SACK either */
	};
	const uint32_t far[][2] = {{5000 + 0x80000000u, 5100 + 0x80000000u}};

	(void)state;
	memset(&sb, 0, sizeof(sb));
	update(&sb, bad + 1, 3, una, max, &u);
	assert_int_equal(u.bad, 3);
	assert_int_equal(u.dsack, 0);
	assert_true(sp_sack_sb_empty(&sb));
	update(&sb, bad, 1, una, max, &u);
	assert_int_equal(u.bad, 1);
	assert_true(sp_sack_sb_empty(&sb));
	update(&sb, far, 1, una, max, &u); /* 2^31 away: "below" and "above" at once */
	assert_int_equal(u.bad + u.dsack, 1);
	assert_true(sp_sack_sb_empty(&sb));
}

static void
test_dsack(void **state)
{
	struct sp_sack_sb sb;
	struct sp_sack_update u;
	uint32_t una = 10000, max = 20000;
	/* RFC 2883 4.1.1: a duplicate below the cumulative ACK, then an ordinary block. */
	const uint32_t below[][2] = {{9000, 10000}, {12000, 13000}};
	/* RFC 2883 4.1.2: a duplicate inside the second block. */
	const uint32_t inside[][2] = {{14500, 15000}, {14000, 16000}};

	(void)state;
	memset(&sb, 0, sizeof(sb));
	update(&sb, below, 2, una, max, &u);
	assert_int_equal(u.dsack, 1);
	assert_int_equal(u.bad, 0);
	assert_int_equal(sb.nb, 1);
	assert_int_equal(sb.r[0].left, 12000);
	assert_int_equal(u.newly_sacked, 1000);
	update(&sb, inside, 2, una, max, &u);
	assert_int_equal(u.dsack, 1);
	assert_int_equal(sb.nb, 2);
	assert_int_equal(sb.r[1].left, 14000);
	assert_int_equal(sb.r[1].right, 16000);
	assert_int_equal(u.newly_sacked, 2000);
	/* A D-SACK alone changes nothing. */
	update(&sb, below, 1, una, max, &u);
	assert_int_equal(u.dsack, 1);
	assert_int_equal(u.newly_sacked, 0);
	assert_int_equal(sb.nb, 2);
}

static void
test_bound(void **state)
{
	struct sp_sack_sb sb;
	struct sp_sack_update u;
	uint32_t una = 0, max = 100000;

	(void)state;
	memset(&sb, 0, sizeof(sb));
	for (unsigned i = 0; i < SP_SACK_SB_MAX; i++) {
		const uint32_t b[][2] = {{1000 + 2000 * i, 2000 + 2000 * i}};

		update(&sb, b, 1, una, max, &u);
		assert_int_equal(u.dropped, 0);
	}
	assert_int_equal(sb.nb, SP_SACK_SB_MAX);
	{
		const uint32_t hi[][2] = {{90000, 91000}};
		const uint32_t lo[][2] = {{100, 200}};

		update(&sb, hi, 1, una, max, &u); /* the lowest range is forgotten */
		assert_int_equal(u.dropped, 1);
		assert_int_equal(sb.nb, SP_SACK_SB_MAX);
		assert_int_equal(sb.r[0].left, 3000);
		assert_int_equal(sb.r[SP_SACK_SB_MAX - 1].left, 90000);
		update(&sb, lo, 1, una, max, &u); /* the newcomer is the lowest: not kept */
		assert_int_equal(u.dropped, 1);
		assert_int_equal(u.newly_sacked, 0);
		assert_int_equal(sb.r[0].left, 3000);
	}
}

/* The pattern of the integration test: 8 segments sent, the peer SACKs 2, 4 and 6. */
static void
check_246(uint32_t base)
{
	struct sp_sack_sb sb;
	struct sp_sack_update u;
	uint32_t max = seg(base, 9), s, e, hi_rxt;
	const uint32_t b[][2] = {{seg(base, 6), seg(base, 7)},
				 {seg(base, 4), seg(base, 5)},
				 {seg(base, 2), seg(base, 3)}};
	const uint32_t more[][2] = {{seg(base, 6), seg(base, 9)}}; /* 7 and 8 arrive late */

	memset(&sb, 0, sizeof(sb));
	update(&sb, b, 3, base, max, &u);
	assert_int_equal(u.newly_sacked, 3 * SMSS);
	assert_int_equal(sb.nb, 3);
	/* IsLost: 1 has three SACKed ranges above; 3 has two (2 * SMSS, not more); 5 one. */
	assert_true(sp_sack_is_lost(&sb, seg(base, 1), SMSS, DUPTHRESH));
	assert_false(sp_sack_is_lost(&sb, seg(base, 3), SMSS, DUPTHRESH));
	assert_false(sp_sack_is_lost(&sb, seg(base, 5), SMSS, DUPTHRESH));
	assert_false(sp_sack_is_lost(&sb, seg(base, 7), SMSS, DUPTHRESH));
	/* SetPipe: 3, 5, 7, 8 in the network; 1 lost and not yet resent. */
	assert_int_equal(sp_sack_pipe(&sb, base, max, base, SMSS, DUPTHRESH), 4 * SMSS);
	/* NextSeg rule 1: segment 1; after resending it, no lost hole is left. */
	assert_true(sp_sack_next_hole(&sb, base, base, SMSS, DUPTHRESH, true, &s, &e));
	assert_int_equal(s, seg(base, 1));
	assert_int_equal(e, seg(base, 2));
	hi_rxt = e;
	assert_int_equal(sp_sack_pipe(&sb, base, max, hi_rxt, SMSS, DUPTHRESH), 5 * SMSS);
	assert_false(sp_sack_next_hole(&sb, base, hi_rxt, SMSS, DUPTHRESH, true, &s, &e));
	/* Rule 3 (not lost, below SACKed data): 3, then 5, never 7 or 8. */
	assert_true(sp_sack_next_hole(&sb, base, hi_rxt, SMSS, DUPTHRESH, false, &s, &e));
	assert_int_equal(s, seg(base, 3));
	assert_int_equal(e, seg(base, 4));
	assert_true(sp_sack_next_hole(&sb, base, e, SMSS, DUPTHRESH, false, &s, &e));
	assert_int_equal(s, seg(base, 5));
	assert_false(sp_sack_next_hole(&sb, base, e, SMSS, DUPTHRESH, false, &s, &e));
	/* 7 and 8 SACKed later: 3 and 5 become lost (more than 2 * SMSS above each). */
	update(&sb, more, 1, base, max, &u);
	assert_int_equal(u.newly_sacked, 2 * SMSS);
	assert_true(sp_sack_is_lost(&sb, seg(base, 3), SMSS, DUPTHRESH));
	assert_true(sp_sack_is_lost(&sb, seg(base, 5), SMSS, DUPTHRESH));
	assert_true(sp_sack_next_hole(&sb, base, hi_rxt, SMSS, DUPTHRESH, true, &s, &e));
	assert_int_equal(s, seg(base, 3));
	/* Only the resent segment 1 is in the network now. */
	assert_int_equal(sp_sack_pipe(&sb, base, max, hi_rxt, SMSS, DUPTHRESH), SMSS);
	/* Skipping SACKed data when resending in slow start after an RTO. */
	assert_int_equal(sp_sack_skip(&sb, seg(base, 2) + 5), seg(base, 3));
	assert_int_equal(sp_sack_skip(&sb, seg(base, 3)), seg(base, 3));
	assert_int_equal(sp_sack_next_sacked(&sb, seg(base, 3), max), seg(base, 4));
	assert_int_equal(sp_sack_next_sacked(&sb, seg(base, 6), max), max);
}

static void
test_pattern_246(void **state)
{
	(void)state;
	check_246(1000);
	check_246(0xFFFFFFFFu - 3 * SMSS); /* across the 2^32 wrap */
	check_246(0x7FFFFFF0u);
}

/* Holes longer than SMSS come out one SMSS at a time; a short hole is not padded. */
static void
test_next_hole_sizes(void **state)
{
	struct sp_sack_sb sb;
	struct sp_sack_update u;
	uint32_t s, e;
	const uint32_t b[][2] = {{10000, 11000}};

	(void)state;
	memset(&sb, 0, sizeof(sb));
	update(&sb, b, 1, 0, 20000, &u);
	assert_true(sp_sack_next_hole(&sb, 0, 0, SMSS, 1, true, &s, &e));
	assert_int_equal(s, 0);
	assert_int_equal(e, SMSS);
	assert_true(sp_sack_next_hole(&sb, 0, 9500, SMSS, 1, true, &s, &e));
	assert_int_equal(s, 9500);
	assert_int_equal(e, 10000);
	assert_false(sp_sack_next_hole(&sb, 0, 10000, SMSS, 1, true, &s, &e));
}

/* ---- Model-based: random blocks against a byte map and the RFC's octet definitions. ---- */

#define MODEL_SPAN  4096u
#define MODEL_SMSS  100u
#define MODEL_STEPS 400
#define MODEL_SEEDS 32

static uint64_t
rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static bool
model_lost(const uint8_t *map, uint32_t off, uint32_t end, uint32_t dt)
{
	uint32_t ranges = 0, bytes = 0;

	for (uint32_t i = off + 1; i < end; i++) {
		bytes += map[i];
		ranges += map[i] && !map[i - 1];
	}
	return ranges >= dt || bytes > (dt - 1) * MODEL_SMSS;
}

static void
model_run(uint64_t seed)
{
	static uint8_t map[MODEL_SPAN];
	struct sp_sack_sb sb;
	uint64_t x = seed | 1;
	uint32_t base = (uint32_t)rnd(&x), una = 0, end = MODEL_SPAN;
	bool dropped = false;

	memset(&sb, 0, sizeof(sb));
	memset(map, 0, sizeof(map));
	for (int step = 0; step < MODEL_STEPS; step++) {
		uint32_t blk[SP_SACK_BLOCKS_IN_MAX][2];
		unsigned nb = 1 + (unsigned)(rnd(&x) % SP_SACK_BLOCKS_IN_MAX);
		struct sp_sack_update u;
		uint32_t hi = una + (uint32_t)(rnd(&x) % (end - una + 1)), dt = 1 + rnd(&x) % 4;
		uint32_t pipe = 0, s, e;

		if (rnd(&x) % 8 == 0) {
			una += (uint32_t)(rnd(&x) % (end - una + 1) / 4);
		}
		for (unsigned k = 0; k < nb; k++) {
			uint32_t l = (uint32_t)(rnd(&x) % (MODEL_SPAN + 64));
			uint32_t len = (uint32_t)(rnd(&x) % 300);

			blk[k][0] = base + l;
			blk[k][1] = base + l + len;
		}
		sp_sack_sb_update(&sb, (const uint32_t(*)[2])blk, nb, base + una, base + end, &u);
		if (u.dropped) {
			dropped = true;
		}
		assert_true(sp_sack_sb_valid(&sb, base + una, base + end));
		for (unsigned k = 0; k < nb; k++) {
			uint32_t l = blk[k][0] - base, r = blk[k][1] - base;

			if (k == 0 && u.dsack) {
				continue;
			}
			if (l < r && r <= end && r > una) {
				for (uint32_t i = l < una ? una : l; i < r; i++) {
					map[i] = 1;
				}
			}
		}
		memset(map, 0, una);
		if (dropped) {
			return; /* the model keeps everything; the board forgot: stop comparing */
		}
		for (uint32_t i = una; i < end; i++) {
			assert_int_equal(sp_sack_is_sacked(&sb, base + i), map[i]);
			if (!map[i]) {
				pipe += !model_lost(map, i, end, dt);
				pipe += i < hi;
			}
		}
		s = sp_sack_pipe(&sb, base + una, base + end, base + hi, MODEL_SMSS, dt);
		assert_int_equal(s, pipe);
		for (uint32_t i = una; i < end; i += 37) {
			if (!map[i]) {
				assert_int_equal(sp_sack_is_lost(&sb, base + i, MODEL_SMSS, dt),
						 model_lost(map, i, end, dt));
			}
		}
		if (sp_sack_next_hole(&sb, base + una, base + hi, MODEL_SMSS, dt, false, &s, &e)) {
			s -= base;
			e -= base;
			assert_true(s >= una && s >= hi && s < e && e - s <= MODEL_SMSS);
			for (uint32_t i = (una > hi ? una : hi); i < s; i++) {
				assert_int_equal(map[i], 1);
			}
			for (uint32_t i = s; i < e; i++) {
				assert_int_equal(map[i], 0);
			}
		}
	}
}

static void
test_model(void **state)
{
	const char *env = getenv("SP_SACK_SEED");
	uint64_t base;

	(void)state;
	if (env != NULL) {
		model_run(strtoull(env, NULL, 0));
		return;
	}
	base = (uint64_t)time(NULL);
	for (uint64_t s = 0; s < MODEL_SEEDS; s++) {
		fprintf(stderr, "seed %" PRIu64 "\n", base * 64 + s);
		model_run(base * 64 + s);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_merge),       cmocka_unit_test(test_validation),
	    cmocka_unit_test(test_dsack),       cmocka_unit_test(test_bound),
	    cmocka_unit_test(test_pattern_246), cmocka_unit_test(test_next_hole_sizes),
	    cmocka_unit_test(test_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
