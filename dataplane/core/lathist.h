/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A latency histogram for counters (log-linear, as HdrHistogram does it at low precision):
 * values in microseconds; below 16 us one bucket per microsecond, above that 8 buckets per
 * power of two, so a percentile read back is within 12.5 % of the truth. Up to 2^31 us; larger
 * values land in the last bucket. One writer (the lcore that owns it); readers on another lcore
 * sum buckets that are plain uint64_t words, a snapshot like every other counter.
 * No DPDK; no allocation.
 */
#ifndef SP_LATHIST_H
#define SP_LATHIST_H

#include <stdint.h>

#define SP_LATHIST_SUB_BITS 3u                          /* 8 buckets per power of two */
#define SP_LATHIST_LINEAR   (2u << SP_LATHIST_SUB_BITS) /* 16: values below are exact */
#define SP_LATHIST_MAX_BITS 31u
#define SP_LATHIST_BUCKETS                                                                         \
	(SP_LATHIST_LINEAR +                                                                       \
	 (SP_LATHIST_MAX_BITS - SP_LATHIST_SUB_BITS - 1u) * (1u << SP_LATHIST_SUB_BITS))

struct sp_lathist {
	uint64_t n;
	uint64_t max_us;
	uint64_t b[SP_LATHIST_BUCKETS];
};

static inline unsigned
sp_lathist_bucket(uint64_t us)
{
	unsigned msb, sub;

	if (us < SP_LATHIST_LINEAR) {
		return (unsigned)us;
	}
	if (us >= (UINT64_C(1) << SP_LATHIST_MAX_BITS)) {
		return SP_LATHIST_BUCKETS - 1u;
	}
	msb = 63u - (unsigned)__builtin_clzll(us); /* >= SUB_BITS + 1 */
	sub = (unsigned)(us >> (msb - SP_LATHIST_SUB_BITS)) & ((1u << SP_LATHIST_SUB_BITS) - 1u);
	return SP_LATHIST_LINEAR + (msb - SP_LATHIST_SUB_BITS - 1u) * (1u << SP_LATHIST_SUB_BITS) +
	       sub;
}

/* The largest value bucket i holds (what a percentile reports: never below the truth). */
static inline uint64_t
sp_lathist_bucket_top(unsigned i)
{
	unsigned k, sub, msb;

	if (i < SP_LATHIST_LINEAR) {
		return i;
	}
	k = i - SP_LATHIST_LINEAR;
	msb = k / (1u << SP_LATHIST_SUB_BITS) + SP_LATHIST_SUB_BITS + 1u;
	sub = k % (1u << SP_LATHIST_SUB_BITS);
	return (UINT64_C(1) << msb) + ((uint64_t)(sub + 1u) << (msb - SP_LATHIST_SUB_BITS)) - 1u;
}

static inline void
sp_lathist_add(struct sp_lathist *h, uint64_t us)
{
	h->b[sp_lathist_bucket(us)]++;
	h->n++;
	h->max_us = us > h->max_us ? us : h->max_us;
}

static inline void
sp_lathist_merge(struct sp_lathist *into, const struct sp_lathist *h)
{
	for (unsigned i = 0; i < SP_LATHIST_BUCKETS; i++) {
		into->b[i] += h->b[i];
	}
	into->n += h->n;
	into->max_us = h->max_us > into->max_us ? h->max_us : into->max_us;
}

/* The pct-th percentile (0 < pct <= 100) as its bucket's top, capped by the max seen; 0 if empty.
 */
static inline uint64_t
sp_lathist_pct(const struct sp_lathist *h, double pct)
{
	uint64_t want, seen = 0;

	if (h->n == 0) {
		return 0;
	}
	want = (uint64_t)((double)h->n * pct / 100.0 + 0.999999);
	want = want == 0 ? 1 : want;
	for (unsigned i = 0; i < SP_LATHIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			uint64_t top = sp_lathist_bucket_top(i);
			return top < h->max_us ? top : h->max_us;
		}
	}
	return h->max_us;
}

#endif /* SP_LATHIST_H */
