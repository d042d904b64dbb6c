/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The latency histogram (dataplane/core/lathist.h): every value lands in a bucket whose range
 * holds it, buckets are ordered and within 12.5 % above 16 us, and percentiles of known
 * distributions come back within that precision, never below the truth.
 */
#include <stdint.h>
#include <stdlib.h>

#include "../sp_test.h"
#include "core/lathist.h"

/* Each value's bucket holds it: top(b - 1) < v <= top(b), and the top is within 1/8 of v. */
static void
test_buckets(void **state)
{
	unsigned prev = 0;

	(void)state;
	for (uint64_t v = 0; v < (UINT64_C(1) << 22); v = v < 64 ? v + 1 : v + v / 37 + 1) {
		unsigned b = sp_lathist_bucket(v);

		assert_true(b < SP_LATHIST_BUCKETS && b >= prev);
		assert_true(sp_lathist_bucket_top(b) >= v);
		assert_true(b == 0 || sp_lathist_bucket_top(b - 1) < v);
		assert_true(sp_lathist_bucket_top(b) - v <= v / 8);
		prev = b;
	}
	assert_int_equal(sp_lathist_bucket(UINT64_MAX), SP_LATHIST_BUCKETS - 1);
	assert_int_equal(sp_lathist_bucket((UINT64_C(1) << 31) - 1), SP_LATHIST_BUCKETS - 1);
}

/* Percentiles of 1..10000 us, uniform: near the truth, never under it; max is exact. */
static void
test_percentiles(void **state)
{
	struct sp_lathist *h = calloc(1, sizeof(*h));
	struct sp_lathist *m = calloc(1, sizeof(*m));
	const double pcts[] = {50, 90, 99, 99.9, 100};

	(void)state;
	assert_non_null(h);
	assert_non_null(m);
	assert_int_equal(sp_lathist_pct(h, 50), 0);
	for (uint64_t v = 10000; v >= 1; v--) {
		sp_lathist_add(v % 2 ? h : m, v);
	}
	sp_lathist_merge(h, m);
	assert_int_equal(h->n, 10000);
	assert_int_equal(h->max_us, 10000);
	for (unsigned i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
		uint64_t truth = (uint64_t)(pcts[i] * 100.0 + 0.5);
		uint64_t got = sp_lathist_pct(h, pcts[i]);

		assert_true(got >= truth && got <= truth + truth / 8);
	}
	/* one outlier among small values: p50 stays small, p100 is it */
	*h = (struct sp_lathist){0};
	for (unsigned i = 0; i < 999; i++) {
		sp_lathist_add(h, 20);
	}
	sp_lathist_add(h, 5000000);
	assert_true(sp_lathist_pct(h, 50) >= 20 && sp_lathist_pct(h, 50) <= 22);
	assert_true(sp_lathist_pct(h, 99.9) <= 22);
	assert_int_equal(sp_lathist_pct(h, 100), 5000000);
	free(h);
	free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buckets),
	    cmocka_unit_test(test_percentiles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
