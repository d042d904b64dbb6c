/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP sequence-number arithmetic modulo 2^32 (RFC 9293 3.4): comparisons are valid when the
 * two numbers are less than 2^31 apart, which the window bounds guarantee.
 */
#ifndef SP_TCP_SEQ_H
#define SP_TCP_SEQ_H

#include <stdbool.h>
#include <stdint.h>

static inline bool
sp_seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static inline bool
sp_seq_leq(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

static inline bool
sp_seq_gt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

static inline bool
sp_seq_geq(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) >= 0;
}

/* lo <= s < hi, modulo 2^32. */
static inline bool
sp_seq_in(uint32_t s, uint32_t lo, uint32_t hi)
{
	return sp_seq_geq(s, lo) && sp_seq_lt(s, hi);
}

static inline uint32_t
sp_seq_max(uint32_t a, uint32_t b)
{
	return sp_seq_gt(a, b) ? a : b;
}

static inline uint32_t
sp_seq_min(uint32_t a, uint32_t b)
{
	return sp_seq_lt(a, b) ? a : b;
}

#endif /* SP_TCP_SEQ_H */
