/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_md5: ns per key of the batched MD5 kernels against OpenSSL in the same run, for the
 * key lengths and batch sizes PutRecords sees. OpenSSL is timed two ways: the one-shot MD5()
 * (deprecated in OpenSSL 3 but the cheapest call it has) and EVP_Digest(). Each cell is the
 * best of BENCH_REPS runs of about the given milliseconds over a pool of distinct keys.
 *
 *   bench_md5 [MS_PER_RUN]        (default 40)
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/md5.h>

#include "md5.h"

#define BENCH_POOL 4000u /* distinct keys, a multiple of every batch size below */
#define BENCH_REPS 3u
#define BENCH_MAX_LEN 128u

enum bench_col {
	COL_MD5,
	COL_EVP,
	COL_SCALAR,
	COL_AVX2,
	COL_AVX512,
	COL_COUNT,
};

static const char *const bench_col_names[COL_COUNT] = {
	"MD5()", "EVP", "scalar", "avx2", "avx512",
};

static uint8_t g_pool[BENCH_POOL][BENCH_MAX_LEN];
static struct sp_md5_key g_keys[BENCH_POOL];
static struct sp_md5_digest g_out[BENCH_POOL];
static volatile uint8_t g_sink;

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* One pass over the pool in batches of `batch` with column col. */
static void
bench_pass(enum bench_col col, size_t batch)
{
	sp_md5_batch_fn fn = NULL;
	size_t i;

	switch (col) {
	case COL_MD5:
		for (i = 0; i < BENCH_POOL; i++) {
			MD5(g_keys[i].data, g_keys[i].len, g_out[i].b);
		}
		return;
	case COL_EVP:
		for (i = 0; i < BENCH_POOL; i++) {
			EVP_Digest(g_keys[i].data, g_keys[i].len, g_out[i].b, NULL, EVP_md5(),
				   NULL);
		}
		return;
	case COL_SCALAR:
		fn = sp_md5_kernel_fn(SP_MD5_SCALAR);
		break;
	case COL_AVX2:
		fn = sp_md5_kernel_fn(SP_MD5_AVX2);
		break;
	default:
		fn = sp_md5_kernel_fn(SP_MD5_AVX512);
		break;
	}
	for (i = 0; i < BENCH_POOL; i += batch) {
		fn(&g_keys[i], batch, &g_out[i]);
	}
}

/* Best ns per key over BENCH_REPS runs of about ms milliseconds each. */
static double
bench_cell(enum bench_col col, size_t batch, double ms)
{
	double best = 1e30;
	unsigned r;

	bench_pass(col, batch);
	for (r = 0; r < BENCH_REPS; r++) {
		double t0 = now_ns();
		double t1 = t0;
		size_t keys = 0;

		while (t1 - t0 < ms * 1e6) {
			bench_pass(col, batch);
			keys += BENCH_POOL;
			t1 = now_ns();
		}
		g_sink ^= g_out[keys % BENCH_POOL].b[0];
		if ((t1 - t0) / (double)keys < best) {
			best = (t1 - t0) / (double)keys;
		}
	}
	return best;
}

static int
bench_check(void)
{
	struct sp_md5_digest d;
	size_t i;

	for (i = 0; i < BENCH_POOL; i++) {
		MD5(g_keys[i].data, g_keys[i].len, d.b);
		if (memcmp(&d, &g_out[i], sizeof(d)) != 0) {
			return -EIO;
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const size_t lens[] = { 16, 32, 55, 100 };
	static const size_t batches[] = { 1, 8, 16, 500 };
	bool have[COL_COUNT] = { true, true, true, false, false };
	double ms = argc > 1 ? strtod(argv[1], NULL) : 40.0;
	size_t li;
	size_t bi;
	unsigned c;

	if (ms <= 0) {
		fprintf(stderr, "usage: bench_md5 [MS_PER_RUN]\n");
		return 2;
	}
	have[COL_AVX2] = sp_md5_self_test(SP_MD5_AVX2) == 0;
	have[COL_AVX512] = sp_md5_self_test(SP_MD5_AVX512) == 0;
	srand(1);
	for (li = 0; li < BENCH_POOL; li++) {
		for (bi = 0; bi < BENCH_MAX_LEN; bi++) {
			g_pool[li][bi] = (uint8_t)rand();
		}
	}
	printf("bench_md5: ns per key (best of %u x %.0f ms), x = OpenSSL MD5() / kernel\n",
	       BENCH_REPS, ms);
	printf("%4s %5s", "len", "batch");
	for (c = 0; c < COL_COUNT; c++) {
		printf(" %8s", bench_col_names[c]);
	}
	printf(" %8s %8s %8s\n", "scalar x", "avx2 x", "avx512 x");
	for (li = 0; li < SP_ARRAY_SIZE(lens); li++) {
		for (bi = 0; bi < BENCH_POOL; bi++) {
			g_keys[bi].data = g_pool[bi];
			g_keys[bi].len = lens[li];
		}
		for (bi = 0; bi < SP_ARRAY_SIZE(batches); bi++) {
			double ns[COL_COUNT] = { 0 };

			printf("%4zu %5zu", lens[li], batches[bi]);
			for (c = 0; c < COL_COUNT; c++) {
				if (!have[c]) {
					printf(" %8s", "-");
					continue;
				}
				ns[c] = bench_cell((enum bench_col)c, batches[bi], ms);
				if (bench_check() != 0) {
					fprintf(stderr, "bench_md5: %s gave a wrong digest\n",
						bench_col_names[c]);
					return 1;
				}
				printf(" %8.1f", ns[c]);
				fflush(stdout);
			}
			for (c = COL_SCALAR; c < COL_COUNT; c++) {
				if (have[c]) {
					printf(" %7.1fx", ns[COL_MD5] / ns[c]);
				} else {
					printf(" %8s", "-");
				}
			}
			printf("\n");
		}
	}
	return 0;
}
