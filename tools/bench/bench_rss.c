/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_rss: nanoseconds per IPv4 4-tuple hash for each Spate path (bit-serial reference,
 * 12-table fast path, 2-table symmetric fold, owner worker) against DPDK's rte_softrss and
 * rte_softrss_be in the same run, with the speed-up over rte_softrss (its ns divided by the
 * path's). A program, never a test.
 *
 *   bench_rss [ITERATIONS [NB_WORKERS]]
 *
 * ITERATIONS per path (default BENCH_DEFAULT_ITERS), best of BENCH_REPS; NB_WORKERS for the
 * owner path (default BENCH_NB_WORKERS), read at run time so the RETA modulo is a real one.
 * The loop XORs independent hashes, so the figures are throughput per hash, not latency.
 *
 * Single-threaded; tuples come from a fixed-seed generator into a small array that stays in
 * L1, so the figures are the hash cost alone, not the cost of fetching packet headers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_thash.h>

#include "net/rss.h"

#define BENCH_DEFAULT_ITERS 4000000u
#define BENCH_MAX_ITERS 1000000000u
#define BENCH_REPS 3
/* Distinct tuples cycled through (power of two). */
#define BENCH_TUPLES 1024u
#define BENCH_SEED 0x5eed2024u
#define BENCH_NB_WORKERS 4

enum bench_path {
	BENCH_GENERIC,
	BENCH_TABLE,
	BENCH_TABLE_L3,
	BENCH_SYM_FOLD,
	BENCH_OWNER,
	BENCH_DPDK,
	BENCH_DPDK_BE,
	BENCH_NB_PATHS,
};

static const char *const g_bench_names[BENCH_NB_PATHS] = {
	[BENCH_GENERIC] = "sp_rss_toeplitz (bit-serial reference)",
	[BENCH_TABLE] = "sp_rss_hash_ipv4_l4 (12 tables)",
	[BENCH_TABLE_L3] = "sp_rss_hash_ipv4_l3 (8 tables, 2-tuple)",
	[BENCH_SYM_FOLD] = "sp_rss_hash_ipv4_l4_sym (2 tables)",
	[BENCH_OWNER] = "sp_rss_owner_ipv4 (fold + RETA)",
	[BENCH_DPDK] = "rte_softrss (baseline)",
	[BENCH_DPDK_BE] = "rte_softrss_be (converted key)",
};

struct bench_tuple {
	rte_be32_t src;
	rte_be32_t dst;
	rte_be16_t sport;
	rte_be16_t dport;
	uint8_t wire[SP_RSS_V4_L4_LEN];
	union rte_thash_tuple host;
};

static struct bench_tuple g_tuples[BENCH_TUPLES];
static struct sp_rss_ctx g_ctx;
static uint32_t g_key_be[SP_RSS_KEY_LEN / 4];
static volatile uint32_t g_sink;
static uint16_t g_nb_workers = BENCH_NB_WORKERS;

static uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
bench_fill(void)
{
	uint64_t s = BENCH_SEED;

	for (uint32_t i = 0; i < BENCH_TUPLES; i++) {
		struct bench_tuple *t = &g_tuples[i];

		s = s * 6364136223846793005ull + 1442695040888963407ull;
		t->src = (rte_be32_t)(s >> 32);
		t->dst = (rte_be32_t)s;
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		t->sport = (rte_be16_t)(s >> 48);
		t->dport = (rte_be16_t)(s >> 16);
		memcpy(t->wire, &t->src, 4);
		memcpy(t->wire + 4, &t->dst, 4);
		memcpy(t->wire + 8, &t->sport, 2);
		memcpy(t->wire + 10, &t->dport, 2);
		memset(&t->host, 0, sizeof(t->host));
		t->host.v4.src_addr = ntohl(t->src);
		t->host.v4.dst_addr = ntohl(t->dst);
		t->host.v4.sport = ntohs(t->sport);
		t->host.v4.dport = ntohs(t->dport);
	}
}

static inline __attribute__((always_inline)) uint32_t
bench_one(enum bench_path p, struct bench_tuple *t)
{
	switch (p) {
	case BENCH_GENERIC:
		return sp_rss_toeplitz(sp_rss_sym_key, SP_RSS_KEY_LEN, t->wire, SP_RSS_V4_L4_LEN);
	case BENCH_TABLE:
		return sp_rss_hash_ipv4_l4(&g_ctx, t->src, t->dst, t->sport, t->dport);
	case BENCH_TABLE_L3:
		return sp_rss_hash_ipv4_l3(&g_ctx, t->src, t->dst);
	case BENCH_SYM_FOLD:
		return sp_rss_hash_ipv4_l4_sym(&g_ctx, t->src, t->dst, t->sport, t->dport);
	case BENCH_OWNER:
		return sp_rss_owner_ipv4(&g_ctx, t->src, t->dst, t->sport, t->dport,
					 g_nb_workers);
	case BENCH_DPDK:
		return rte_softrss((uint32_t *)&t->host, RTE_THASH_V4_L4_LEN, sp_rss_sym_key);
	case BENCH_DPDK_BE:
		return rte_softrss_be((uint32_t *)&t->host, RTE_THASH_V4_L4_LEN,
				      (const uint8_t *)g_key_be);
	case BENCH_NB_PATHS:
		break;
	}
	abort();
}

/*
 * One timed loop per path; the switch is hoisted out of the loop by specialising on the
 * constant `p` (the function is inlined per call site below).
 */
static inline __attribute__((always_inline)) double
bench_run(enum bench_path p, uint32_t iters)
{
	uint32_t acc = 0;
	uint64_t t0 = bench_now_ns();

	for (uint32_t i = 0; i < iters; i++) {
		acc ^= bench_one(p, &g_tuples[i & (BENCH_TUPLES - 1)]);
	}
	g_sink = acc;
	return (double)(bench_now_ns() - t0) / iters;
}

static double
bench_path_ns(enum bench_path p, uint32_t iters)
{
	double best = 1e30;

	for (int r = 0; r < BENCH_REPS; r++) {
		double ns;

		switch (p) {
		case BENCH_GENERIC:
			ns = bench_run(BENCH_GENERIC, iters);
			break;
		case BENCH_TABLE:
			ns = bench_run(BENCH_TABLE, iters);
			break;
		case BENCH_TABLE_L3:
			ns = bench_run(BENCH_TABLE_L3, iters);
			break;
		case BENCH_SYM_FOLD:
			ns = bench_run(BENCH_SYM_FOLD, iters);
			break;
		case BENCH_OWNER:
			ns = bench_run(BENCH_OWNER, iters);
			break;
		case BENCH_DPDK:
			ns = bench_run(BENCH_DPDK, iters);
			break;
		default:
			ns = bench_run(BENCH_DPDK_BE, iters);
			break;
		}
		best = ns < best ? ns : best;
	}
	return best;
}

/* A decimal argument in 1..max. */
static int
bench_arg(const char *s, uint32_t max, uint32_t *out)
{
	char *end = NULL;
	unsigned long v = strtoul(s, &end, 10);

	if (end == s || *end != '\0' || v == 0 || v > max) {
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

/* The paths must agree before their speed means anything. */
static int
bench_check(void)
{
	for (uint32_t i = 0; i < BENCH_TUPLES; i++) {
		uint32_t want = bench_one(BENCH_DPDK, &g_tuples[i]);

		if (bench_one(BENCH_GENERIC, &g_tuples[i]) != want ||
		    bench_one(BENCH_TABLE, &g_tuples[i]) != want ||
		    bench_one(BENCH_SYM_FOLD, &g_tuples[i]) != want ||
		    bench_one(BENCH_DPDK_BE, &g_tuples[i]) != want) {
			fprintf(stderr, "bench_rss: hash mismatch at tuple %" PRIu32 "\n", i);
			return -EPROTO;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	uint32_t iters = BENCH_DEFAULT_ITERS;
	double ns[BENCH_NB_PATHS];

	if (argc > 3 || (argc > 1 && bench_arg(argv[1], BENCH_MAX_ITERS, &iters) != 0)) {
		goto usage;
	}
	if (argc > 2) {
		uint32_t nb;

		if (bench_arg(argv[2], SP_RSS_RETA_SIZE, &nb) != 0) {
			goto usage;
		}
		g_nb_workers = (uint16_t)nb;
	}
	if (sp_rss_ctx_init(&g_ctx, sp_rss_sym_key, SP_RSS_KEY_LEN) != 0) {
		return 1;
	}
	rte_convert_rss_key((const uint32_t *)sp_rss_sym_key, g_key_be, SP_RSS_KEY_LEN);
	bench_fill();
	if (bench_check() != 0) {
		return 1;
	}
	printf("bench_rss: IPv4 4-tuple, symmetric key, %u iterations per path, best of %d, "
	       "%u workers\n",
	       iters, BENCH_REPS, g_nb_workers);
	for (int p = 0; p < BENCH_NB_PATHS; p++) {
		ns[p] = bench_path_ns((enum bench_path)p, iters);
	}
	printf("%-42s %10s %14s\n", "path", "ns/hash", "speed-up");
	for (int p = 0; p < BENCH_NB_PATHS; p++) {
		printf("%-42s %10.2f %13.2fx\n", g_bench_names[p], ns[p], ns[BENCH_DPDK] / ns[p]);
	}
	return 0;
usage:
	fprintf(stderr, "usage: %s [ITERATIONS (1..%u) [NB_WORKERS (1..%u)]]\n", argv[0],
		BENCH_MAX_ITERS, SP_RSS_RETA_SIZE);
	return 2;
}
