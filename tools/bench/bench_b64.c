/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_b64: base64 throughput of the b64 kernels against OpenSSL in the same run, for
 * record sizes from a small event to the 1 MiB Kinesis maximum. Decode and validate are
 * timed in MB/s of base64 text consumed, encode in MB/s of raw bytes consumed (MB = 10^6
 * bytes). OpenSSL is EVP_DecodeBlock/EVP_EncodeBlock, its one-shot block calls (the cheapest
 * it has; EVP_DecodeBlock is laxer than our strict decoder and leaves pads as zero bytes).
 * Each cell is the best of BENCH_REPS runs of about the given milliseconds, cycling over a
 * pool of distinct inputs (up to BENCH_POOL_BYTES of raw data). Results are printed, never
 * judged: a timing never fails anything.
 *
 *   bench_b64 [MS_PER_RUN]        (default 40)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "b64.h"

#define BENCH_REPS 3u
#define BENCH_POOL_MAX 64u
#define BENCH_POOL_BYTES (8u << 20)

enum bench_op {
	OP_DECODE,
	OP_VALIDATE,
	OP_ENCODE,
	OP_COUNT,
};

enum bench_col {
	COL_SCALAR,
	COL_AVX2,
	COL_AVX512,
	COL_EVP,
	COL_COUNT,
};

static const char *const bench_op_names[OP_COUNT] = { "decode", "validate", "encode" };
static const char *const bench_col_names[COL_COUNT] = { "scalar", "avx2", "avx512", "EVP" };

/* The pool: cnt inputs of raw bytes each and their encodings, plus output space. */
struct bench_pool {
	size_t raw_len;
	size_t enc_len;
	size_t cnt;
	uint8_t *raw;
	char *enc;
	uint8_t *dec;
	char *enc_out;
};

static volatile size_t g_sink;

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* One call of op by column col on input i of the pool; returns a value to sink. */
static size_t
bench_call(const struct bench_pool *p, enum bench_op op, enum bench_col col, size_t i)
{
	const char *enc = p->enc + i * p->enc_len;
	const uint8_t *raw = p->raw + i * p->raw_len;
	size_t n = 0;

	if (col == COL_EVP) {
		if (op == OP_ENCODE) {
			return (size_t)EVP_EncodeBlock((unsigned char *)p->enc_out, raw,
						       (int)p->raw_len);
		}
		return (size_t)EVP_DecodeBlock(p->dec, (const unsigned char *)enc,
					       (int)p->enc_len);
	}
	switch (op) {
	case OP_DECODE:
		if (sp_b64_decode_with((enum sp_b64_kernel)col, enc, p->enc_len, p->dec, &n,
				       NULL) != 0) {
			return 0;
		}
		return n;
	case OP_VALIDATE:
		if (sp_b64_validate_with((enum sp_b64_kernel)col, enc, p->enc_len, &n, NULL) != 0) {
			return 0;
		}
		return n;
	default:
		return sp_b64_encode_with((enum sp_b64_kernel)col, raw, p->raw_len, p->enc_out);
	}
}

/* Best MB/s over BENCH_REPS runs of about ms milliseconds each. */
static double
bench_cell(const struct bench_pool *p, enum bench_op op, enum bench_col col, double ms)
{
	double bytes_per_call = (double)(op == OP_ENCODE ? p->raw_len : p->enc_len);
	double best = 0;
	unsigned r;

	for (r = 0; r < BENCH_REPS; r++) {
		double t0 = now_ns();
		double t1 = t0;
		size_t calls = 0;

		while (t1 - t0 < ms * 1e6) {
			size_t i;

			for (i = 0; i < p->cnt; i++) {
				g_sink += bench_call(p, op, col, i);
			}
			calls += p->cnt;
			t1 = now_ns();
		}
		if (bytes_per_call * (double)calls * 1e3 / (t1 - t0) > best) {
			best = bytes_per_call * (double)calls * 1e3 / (t1 - t0);
		}
	}
	return best;
}

/* The last call's output must be the pool's last input (or its encoding): 0 or -EIO. */
static int
bench_check(const struct bench_pool *p, enum bench_op op, enum bench_col col)
{
	size_t last = p->cnt - 1;

	(void)bench_call(p, op, col, last);
	if (op == OP_ENCODE) {
		return memcmp(p->enc_out, p->enc + last * p->enc_len, p->enc_len) == 0 ? 0 : -EIO;
	}
	if (op == OP_DECODE) {
		return memcmp(p->dec, p->raw + last * p->raw_len, p->raw_len) == 0 ? 0 : -EIO;
	}
	return bench_call(p, op, col, last) == p->raw_len ? 0 : -EIO;
}

static int
bench_pool_init(struct bench_pool *p, size_t raw_len)
{
	size_t i;

	p->raw_len = raw_len;
	p->enc_len = sp_b64_encoded_len(raw_len);
	p->cnt = SP_MAX((size_t)1, SP_MIN((size_t)BENCH_POOL_MAX, BENCH_POOL_BYTES / raw_len));
	p->raw = malloc(p->cnt * raw_len);
	p->enc = malloc(p->cnt * p->enc_len);
	p->dec = malloc(raw_len + 3);
	p->enc_out = malloc(p->enc_len + 1);
	if (p->raw == NULL || p->enc == NULL || p->dec == NULL || p->enc_out == NULL) {
		return -ENOMEM;
	}
	for (i = 0; i < p->cnt * raw_len; i++) {
		p->raw[i] = (uint8_t)rand();
	}
	for (i = 0; i < p->cnt; i++) {
		(void)sp_b64_encode_scalar(p->raw + i * raw_len, raw_len, p->enc + i * p->enc_len);
	}
	return 0;
}

static void
bench_pool_free(struct bench_pool *p)
{
	free(p->raw);
	free(p->enc);
	free(p->dec);
	free(p->enc_out);
}

/* One row: every column of op for one size, then the ratios to OpenSSL. */
static int
bench_row(const struct bench_pool *p, enum bench_op op, const bool *have, double ms)
{
	double mbs[COL_COUNT] = { 0 };
	unsigned c;

	printf("%-8s %8zu", bench_op_names[op], p->raw_len);
	for (c = 0; c < COL_COUNT; c++) {
		if (!have[c] || (c == COL_EVP && op == OP_VALIDATE)) {
			printf(" %9s", "-");
			continue;
		}
		mbs[c] = bench_cell(p, op, (enum bench_col)c, ms);
		if (bench_check(p, op, (enum bench_col)c) != 0) {
			fprintf(stderr, "bench_b64: %s %s gave a wrong result\n",
				bench_col_names[c], bench_op_names[op]);
			return -EIO;
		}
		printf(" %9.0f", mbs[c]);
		fflush(stdout);
	}
	for (c = COL_SCALAR; c < COL_EVP; c++) {
		if (have[c] && mbs[COL_EVP] > 0) {
			printf(" %8.2fx", mbs[c] / mbs[COL_EVP]);
		} else {
			printf(" %9s", "-");
		}
	}
	printf("\n");
	return 0;
}

int
main(int argc, char **argv)
{
	static const size_t sizes[] = { 100, 1024, 64 * 1024, 1024 * 1024 };
	bool have[COL_COUNT] = { true, false, false, true };
	double ms = argc > 1 ? strtod(argv[1], NULL) : 40.0;
	size_t si;
	unsigned op;

	if (ms <= 0) {
		fprintf(stderr, "usage: bench_b64 [MS_PER_RUN]\n");
		return 2;
	}
	have[COL_AVX2] = sp_b64_self_test(SP_B64_AVX2) == 0;
	have[COL_AVX512] = sp_b64_self_test(SP_B64_AVX512) == 0;
	srand(1);
	printf("bench_b64: MB/s (best of %u x %.0f ms); decode/validate per base64 byte, encode "
	       "per raw byte; x = kernel / OpenSSL EVP\n", BENCH_REPS, ms);
	printf("%-8s %8s", "op", "raw B");
	for (op = 0; op < COL_COUNT; op++) {
		printf(" %9s", bench_col_names[op]);
	}
	printf(" %9s %9s %9s\n", "scalar x", "avx2 x", "avx512 x");
	for (op = 0; op < OP_COUNT; op++) {
		for (si = 0; si < SP_ARRAY_SIZE(sizes); si++) {
			struct bench_pool p;
			int rc = bench_pool_init(&p, sizes[si]);

			if (rc == 0) {
				rc = bench_row(&p, (enum bench_op)op, have, ms);
			}
			bench_pool_free(&p);
			if (rc != 0) {
				return 1;
			}
		}
	}
	return 0;
}
