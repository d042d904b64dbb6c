/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/net/rss.c: the Microsoft RSS verification vectors through the
 * reference and table hashes, a differential test against DPDK's rte_softrss over random
 * tuples and keys, the symmetric-key property, the RETA mapping, software steering and the
 * source-port choice. Needs no EAL (rte_softrss is header-inline). Deterministic: fixed seed.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <rte_thash.h>

#include "../sp_test.h"

#include "net/rss.h"

/* Random tuples per differential or property test. */
#define RT_ITERS 200000
/* Random keys in the key differential test, and tuples per key. */
#define RT_KEYS 64
#define RT_TUPLES_PER_KEY 2000
#define RT_SEED 0x5eed2024u

/* The Microsoft default key of the verification suite. */
static const uint8_t g_ms_key[SP_RSS_KEY_LEN] __attribute__((aligned(4))) = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
	0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
	0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

struct rt_vector {
	uint8_t src[4];
	uint16_t sport;
	uint8_t dst[4];
	uint16_t dport;
	uint32_t hash_l3; /* "IPv4 only" */
	uint32_t hash_l4; /* "IPv4 with TCP" */
};

/* Microsoft "Verifying the RSS Hash Calculation", IPv4 table (also 82599 datasheet 7.1.2.8.3). */
static const struct rt_vector g_vectors[] = {
	{{66, 9, 149, 187}, 2794, {161, 142, 100, 80}, 1766, 0x323e8fc2, 0x51ccc178},
	{{199, 92, 111, 2}, 14230, {65, 69, 140, 83}, 4739, 0xd718262a, 0xc626b0ea},
	{{24, 19, 198, 95}, 12898, {12, 22, 207, 184}, 38024, 0xd2d0a5de, 0x5c2b394a},
	{{38, 27, 205, 30}, 48228, {209, 142, 163, 6}, 2217, 0x82989176, 0xafc7327f},
	{{153, 39, 163, 191}, 44251, {202, 188, 127, 2}, 1303, 0x5d1809c5, 0x10e828a2},
};

struct rt_tuple {
	rte_be32_t src;
	rte_be32_t dst;
	rte_be16_t sport;
	rte_be16_t dport;
};

static uint64_t g_rng = RT_SEED;

static uint32_t
rt_rand(void)
{
	/* xorshift64*: fast, deterministic, good enough for tuples. */
	g_rng ^= g_rng >> 12;
	g_rng ^= g_rng << 25;
	g_rng ^= g_rng >> 27;
	return (uint32_t)((g_rng * 0x2545f4914f6cdd1dull) >> 32);
}

static struct rt_tuple
rt_random_tuple(void)
{
	struct rt_tuple t;

	t.src = rt_rand();
	t.dst = rt_rand();
	t.sport = (rte_be16_t)rt_rand();
	t.dport = (rte_be16_t)rt_rand();
	return t;
}

static struct rt_tuple
rt_from_vector(const struct rt_vector *v)
{
	struct rt_tuple t;

	memcpy(&t.src, v->src, 4);
	memcpy(&t.dst, v->dst, 4);
	t.sport = htons(v->sport);
	t.dport = htons(v->dport);
	return t;
}

/* The hash input as the NIC sees it: wire order, 12 bytes. */
static void
rt_wire(const struct rt_tuple *t, uint8_t out[SP_RSS_V4_L4_LEN])
{
	memcpy(out, &t->src, 4);
	memcpy(out + 4, &t->dst, 4);
	memcpy(out + 8, &t->sport, 2);
	memcpy(out + 10, &t->dport, 2);
}

/* DPDK's software RSS: host-order tuple, length in 32-bit words. */
static uint32_t
rt_dpdk(const struct rt_tuple *t, const uint8_t *key, bool l4)
{
	union rte_thash_tuple tuple;

	memset(&tuple, 0, sizeof(tuple));
	tuple.v4.src_addr = ntohl(t->src);
	tuple.v4.dst_addr = ntohl(t->dst);
	tuple.v4.sport = ntohs(t->sport);
	tuple.v4.dport = ntohs(t->dport);
	return rte_softrss((uint32_t *)&tuple, l4 ? RTE_THASH_V4_L4_LEN : RTE_THASH_V4_L3_LEN,
			   key);
}

static struct rt_tuple
rt_reverse(const struct rt_tuple *t)
{
	struct rt_tuple r = {t->dst, t->src, t->dport, t->sport};

	return r;
}

static void
test_ctx_init_bounds(void **state)
{
	static struct sp_rss_ctx ctx;
	uint8_t big[SP_RSS_KEY_MAX_LEN + 1];

	(void)state;
	memset(big, 0x6d, sizeof(big));
	assert_int_equal(sp_rss_ctx_init(&ctx, big, SP_RSS_KEY_MIN_LEN - 1), -EINVAL);
	assert_int_equal(sp_rss_ctx_init(&ctx, big, SP_RSS_KEY_MAX_LEN + 1), -EINVAL);
	assert_int_equal(sp_rss_ctx_init(&ctx, big, SP_RSS_KEY_MIN_LEN), 0);
	assert_int_equal(sp_rss_ctx_init(&ctx, g_ms_key, sizeof(g_ms_key)), 0);
	assert_false(ctx.symmetric);
	assert_int_equal(sp_rss_ctx_init(&ctx, sp_rss_sym_key, SP_RSS_KEY_LEN), 0);
	assert_true(ctx.symmetric);
	assert_int_equal(ctx.key_len, SP_RSS_KEY_LEN);
	assert_memory_equal(ctx.key, sp_rss_sym_key, SP_RSS_KEY_LEN);
}

/* Every published IPv4 vector, through the reference, the tables and rte_softrss. */
static void
test_ms_vectors(void **state)
{
	static struct sp_rss_ctx ctx;

	(void)state;
	assert_int_equal(sp_rss_ctx_init(&ctx, g_ms_key, sizeof(g_ms_key)), 0);
	for (size_t i = 0; i < SP_ARRAY_SIZE(g_vectors); i++) {
		const struct rt_vector *v = &g_vectors[i];
		struct rt_tuple t = rt_from_vector(v);
		uint8_t in[SP_RSS_V4_L4_LEN];

		rt_wire(&t, in);
		assert_int_equal(sp_rss_toeplitz(g_ms_key, sizeof(g_ms_key), in, SP_RSS_V4_L3_LEN),
				 v->hash_l3);
		assert_int_equal(sp_rss_toeplitz(g_ms_key, sizeof(g_ms_key), in, SP_RSS_V4_L4_LEN),
				 v->hash_l4);
		assert_int_equal(sp_rss_hash_ipv4_l3(&ctx, t.src, t.dst), v->hash_l3);
		assert_int_equal(sp_rss_hash_ipv4_l4(&ctx, t.src, t.dst, t.sport, t.dport),
				 v->hash_l4);
		assert_int_equal(rt_dpdk(&t, g_ms_key, false), v->hash_l3);
		assert_int_equal(rt_dpdk(&t, g_ms_key, true), v->hash_l4);
	}
}

/* Random tuples under the Microsoft and symmetric keys: ours against rte_softrss. */
static void
test_differential_dpdk(void **state)
{
	static struct sp_rss_ctx ms;
	static struct sp_rss_ctx sym;

	(void)state;
	assert_int_equal(sp_rss_ctx_init(&ms, g_ms_key, sizeof(g_ms_key)), 0);
	assert_int_equal(sp_rss_ctx_init(&sym, sp_rss_sym_key, SP_RSS_KEY_LEN), 0);
	for (unsigned i = 0; i < RT_ITERS; i++) {
		struct rt_tuple t = rt_random_tuple();
		uint8_t in[SP_RSS_V4_L4_LEN];
		uint32_t want4 = rt_dpdk(&t, g_ms_key, true);
		uint32_t swant4 = rt_dpdk(&t, sp_rss_sym_key, true);

		rt_wire(&t, in);
		assert_int_equal(sp_rss_hash_ipv4_l4(&ms, t.src, t.dst, t.sport, t.dport), want4);
		assert_int_equal(sp_rss_hash_ipv4_l3(&ms, t.src, t.dst),
				 rt_dpdk(&t, g_ms_key, false));
		assert_int_equal(sp_rss_hash_ipv4_l4(&sym, t.src, t.dst, t.sport, t.dport), swant4);
		assert_int_equal(sp_rss_hash_ipv4_l4_sym(&sym, t.src, t.dst, t.sport, t.dport),
				 swant4);
		assert_int_equal(sp_rss_hash_ipv4_l3(&sym, t.src, t.dst),
				 rt_dpdk(&t, sp_rss_sym_key, false));
		if (i % 16 == 0) {
			uint32_t ref = sp_rss_toeplitz(g_ms_key, sizeof(g_ms_key), in, sizeof(in));

			assert_int_equal(ref, want4);
		}
	}
}

/* Random keys (40 and 52 bytes): tables against the reference and rte_softrss. */
static void
test_differential_keys(void **state)
{
	static struct sp_rss_ctx ctx;
	uint32_t kw[SP_RSS_KEY_MAX_LEN / 4];
	uint8_t *key = (uint8_t *)kw;

	(void)state;
	for (unsigned k = 0; k < RT_KEYS; k++) {
		size_t klen = k % 2 == 0 ? SP_RSS_KEY_LEN : SP_RSS_KEY_MAX_LEN;

		for (size_t i = 0; i < SP_ARRAY_SIZE(kw); i++) {
			kw[i] = rt_rand();
		}
		assert_int_equal(sp_rss_ctx_init(&ctx, key, klen), 0);
		for (unsigned i = 0; i < RT_TUPLES_PER_KEY; i++) {
			struct rt_tuple t = rt_random_tuple();
			uint8_t in[SP_RSS_V4_L4_LEN];
			uint32_t h = sp_rss_hash_ipv4_l4(&ctx, t.src, t.dst, t.sport, t.dport);

			rt_wire(&t, in);
			assert_int_equal(h, sp_rss_toeplitz(key, klen, in, sizeof(in)));
			assert_int_equal(h, rt_dpdk(&t, key, true));
			assert_int_equal(sp_rss_hash_ipv4_l3(&ctx, t.src, t.dst),
					 sp_rss_toeplitz(key, klen, in, SP_RSS_V4_L3_LEN));
		}
	}
}

/* The reference hash on lengths other than 8 and 12, against rte_softrss (whole words). */
static void
test_generic_lengths(void **state)
{
	uint32_t words[(SP_RSS_KEY_LEN - 4) / 4];
	uint32_t host[SP_ARRAY_SIZE(words)];

	(void)state;
	for (unsigned i = 0; i < 1000; i++) {
		for (size_t w = 0; w < SP_ARRAY_SIZE(words); w++) {
			words[w] = rt_rand();
			host[w] = ntohl(words[w]);
		}
		for (uint32_t n = 0; n <= SP_ARRAY_SIZE(words); n++) {
			assert_int_equal(sp_rss_toeplitz(g_ms_key, sizeof(g_ms_key),
							 (const uint8_t *)words, n * 4),
					 rte_softrss(host, n, g_ms_key));
		}
	}
}

/* With sp_rss_sym_key, a flow and its reply hash alike, for 4-tuples and 2-tuples. */
static void
test_symmetric(void **state)
{
	static struct sp_rss_ctx ctx;

	(void)state;
	assert_int_equal(sp_rss_ctx_init(&ctx, sp_rss_sym_key, SP_RSS_KEY_LEN), 0);
	for (unsigned i = 0; i < RT_ITERS; i++) {
		struct rt_tuple t = rt_random_tuple();
		struct rt_tuple r = rt_reverse(&t);
		uint32_t h = sp_rss_hash_ipv4_l4(&ctx, t.src, t.dst, t.sport, t.dport);
		uint16_t nb = (uint16_t)(1 + i % SP_RSS_RETA_SIZE);

		assert_int_equal(h, sp_rss_hash_ipv4_l4(&ctx, r.src, r.dst, r.sport, r.dport));
		assert_int_equal(sp_rss_hash_ipv4_l3(&ctx, t.src, t.dst),
				 sp_rss_hash_ipv4_l3(&ctx, r.src, r.dst));
		assert_int_equal(sp_rss_owner_ipv4(&ctx, t.src, t.dst, t.sport, t.dport, nb),
				 sp_rss_owner_ipv4(&ctx, r.src, r.dst, r.sport, r.dport, nb));
		/* Period 16 in the key: the two halves of the hash are equal. */
		assert_int_equal(h >> 16, h & 0xffff);
	}
}

/* sp_rss_queue against an explicit default RETA; sp_rss_reta_fill against sp_rss_queue. */
static void
test_queue_mapping(void **state)
{
	static const uint16_t sizes[] = {64, 128, 512};
	uint16_t reta[SP_RSS_RETA_SIZE];
	uint16_t port_reta[512];

	(void)state;
	assert_int_equal(sp_rss_reta_fill(port_reta, 0, 1), -EINVAL);
	assert_int_equal(sp_rss_reta_fill(port_reta, 128, 0), -EINVAL);
	assert_int_equal(sp_rss_reta_fill(port_reta, 128, SP_RSS_RETA_SIZE + 1), -EINVAL);
	for (uint16_t nb = 1; nb <= SP_RSS_RETA_SIZE; nb++) {
		for (size_t i = 0; i < SP_RSS_RETA_SIZE; i++) {
			reta[i] = (uint16_t)(i % nb);
		}
		for (unsigned i = 0; i < 2000; i++) {
			uint32_t h = rt_rand();

			assert_int_equal(sp_rss_queue(h, nb), reta[h % SP_RSS_RETA_SIZE]);
		}
		for (size_t s = 0; s < SP_ARRAY_SIZE(sizes); s++) {
			int rc = sp_rss_reta_fill(port_reta, sizes[s], nb);
			bool exact = sizes[s] % SP_RSS_RETA_SIZE == 0 || (64 % nb == 0);

			assert_int_equal(rc, exact ? 0 : -ENOTSUP);
			for (unsigned i = 0; rc == 0 && i < 2000; i++) {
				uint32_t h = rt_rand();

				assert_int_equal(port_reta[h % sizes[s]], sp_rss_queue(h, nb));
			}
		}
	}
}

/* Software steering picks what a NIC with the symmetric key and default RETA would. */
static void
test_owner_matches_nic(void **state)
{
	static struct sp_rss_ctx ctx;

	(void)state;
	assert_int_equal(sp_rss_ctx_init(&ctx, sp_rss_sym_key, SP_RSS_KEY_LEN), 0);
	for (unsigned i = 0; i < RT_ITERS; i++) {
		struct rt_tuple t = rt_random_tuple();
		uint16_t nb = (uint16_t)(1 + i % 16);
		uint32_t nic = rt_dpdk(&t, sp_rss_sym_key, true);

		assert_int_equal(sp_rss_owner_ipv4(&ctx, t.src, t.dst, t.sport, t.dport, nb),
				 (nic % SP_RSS_RETA_SIZE) % nb);
	}
}

static void
rt_pick_one(const struct sp_rss_ctx *ctx, const struct rt_tuple *t, uint16_t nb, uint16_t start)
{
	for (uint16_t w = 0; w < nb; w++) {
		uint16_t port = 0;

		assert_int_equal(sp_rss_pick_sport(ctx, t->src, t->dst, t->dport, w, nb, start,
						   &port),
				 0);
		assert_true(port >= SP_RSS_PORT_MIN);
		assert_int_equal(sp_rss_owner_ipv4(ctx, t->src, t->dst, htons(port), t->dport, nb),
				 w);
		/* The reply, as the peer sends it, reaches the same worker. */
		assert_int_equal(sp_rss_owner_ipv4(ctx, t->dst, t->src, t->dport, htons(port), nb),
				 w);
	}
}

/* Chosen ports land on the wanted worker; over all ports each worker gets its RETA share. */
static void
test_pick_sport(void **state)
{
	static const uint16_t nbs[] = {1, 2, 3, 4, 5, 7, 8, 16, 128};
	static struct sp_rss_ctx ctx;
	uint32_t count[SP_RSS_RETA_SIZE];
	uint16_t port;

	(void)state;
	assert_int_equal(sp_rss_ctx_init(&ctx, sp_rss_sym_key, SP_RSS_KEY_LEN), 0);
	for (size_t k = 0; k < SP_ARRAY_SIZE(nbs); k++) {
		uint16_t nb = nbs[k];
		struct rt_tuple t = rt_random_tuple();

		rt_pick_one(&ctx, &t, nb, (uint16_t)rt_rand());
		rt_pick_one(&ctx, &t, nb, SP_RSS_PORT_MAX); /* wraps to SP_RSS_PORT_MIN */
		rt_pick_one(&ctx, &t, nb, 0);		    /* raised to SP_RSS_PORT_MIN */
		assert_int_equal(sp_rss_pick_sport(&ctx, t.src, t.dst, t.dport, nb, nb, 5000,
						   &port),
				 -EADDRNOTAVAIL);
		memset(count, 0, sizeof(count));
		for (uint32_t p = SP_RSS_PORT_MIN; p <= SP_RSS_PORT_MAX; p++) {
			count[sp_rss_owner_ipv4(&ctx, t.src, t.dst, htons((uint16_t)p), t.dport,
						nb)]++;
		}
		for (uint16_t w = 0; w < nb; w++) {
			/* Worker w holds ceil or floor of 128 / nb RETA entries. */
			uint32_t entries = SP_RSS_RETA_SIZE / nb + (w < SP_RSS_RETA_SIZE % nb);
			uint32_t want = SP_RSS_PORT_COUNT / SP_RSS_RETA_SIZE * entries;

			/* Exact: the excluded ports 0-1023 cover every low-7-bit class 8 times. */
			assert_int_equal(count[w], want);
		}
	}
}

/* The exported key is the 0x6d5a pattern; a 52-byte fill of it hashes IPv4 alike. */
static void
test_sym_key_bytes(void **state)
{
	static struct sp_rss_ctx c40;
	static struct sp_rss_ctx c52;
	uint8_t key[SP_RSS_KEY_MAX_LEN];

	(void)state;
	for (size_t i = 0; i < SP_RSS_KEY_LEN; i++) {
		assert_int_equal(sp_rss_sym_key[i], i % 2 == 0 ? 0x6d : 0x5a);
	}
	sp_rss_sym_key_fill(key, sizeof(key));
	assert_memory_equal(key, sp_rss_sym_key, SP_RSS_KEY_LEN);
	assert_int_equal(key[SP_RSS_KEY_MAX_LEN - 2], 0x6d);
	assert_int_equal(key[SP_RSS_KEY_MAX_LEN - 1], 0x5a);
	assert_int_equal(sp_rss_ctx_init(&c40, sp_rss_sym_key, SP_RSS_KEY_LEN), 0);
	assert_int_equal(sp_rss_ctx_init(&c52, key, sizeof(key)), 0);
	assert_true(c52.symmetric);
	assert_memory_equal(c40.tbl, c52.tbl, sizeof(c40.tbl));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctx_init_bounds),
		cmocka_unit_test(test_sym_key_bytes),
		cmocka_unit_test(test_ms_vectors),
		cmocka_unit_test(test_differential_dpdk),
		cmocka_unit_test(test_differential_keys),
		cmocka_unit_test(test_generic_lengths),
		cmocka_unit_test(test_symmetric),
		cmocka_unit_test(test_queue_mapping),
		cmocka_unit_test(test_owner_matches_nic),
		cmocka_unit_test(test_pick_sport),
	};
	return cmocka_run_group_tests_name("rss", tests, NULL, NULL);
}
