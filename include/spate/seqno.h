/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sequence numbers and 128-bit decimal values (hash keys), header-only: spate-control computes
 * a shard's StartingSequenceNumber, the dataplane assigns records' numbers, both print and parse
 * them. Layout and the monotonicity argument: docs/internals/seqno.md.
 *
 * A sequence number is an unsigned 128-bit integer shown in decimal. Fields, high to low:
 *
 *   bits 127..124  version        SP_SEQNO_VERSION (1): every number has 38 decimal digits
 *   bits 123..104  epoch          dataplane boot epoch, persisted by spate-control, +1 per boot
 *   bits 103..96   node           node id, 0 on a single appliance
 *   bits  95..52   counter        per shard and epoch: 0 is the shard's start, records count
 *                                 from 1; SP_SEQNO_COUNTER_MAX marks a closed shard's end
 *   bits  51..32   stream tag     20 bits naming the stream's incarnation (name + creation)
 *   bits  31..0    shard index    the N of shardId-N
 *
 * Within a shard, (version, epoch, node, counter) only grows, so numbers strictly increase
 * across reboots (the epoch grows) without persisting a counter per record. Shard index and
 * stream tag make numbers unique in a stream and let GetShardIterator tell a number of another
 * shard or another stream apart, as AWS does.
 */
#ifndef SPATE_SEQNO_H
#define SPATE_SEQNO_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SP_SEQNO_VERSION 1u
#define SP_SEQNO_EPOCH_BITS 20u
#define SP_SEQNO_NODE_BITS 8u
#define SP_SEQNO_COUNTER_BITS 44u
#define SP_SEQNO_TAG_BITS 20u
#define SP_SEQNO_EPOCH_MAX ((1u << SP_SEQNO_EPOCH_BITS) - 1u)
#define SP_SEQNO_NODE_MAX ((1u << SP_SEQNO_NODE_BITS) - 1u)
#define SP_SEQNO_COUNTER_MAX ((UINT64_C(1) << SP_SEQNO_COUNTER_BITS) - 1u)
#define SP_SEQNO_TAG_MAX ((1u << SP_SEQNO_TAG_BITS) - 1u)
/* Longest decimal form of any unsigned 128-bit value, without the NUL. */
#define SP_U128_DEC_MAX 39u

typedef unsigned __int128 sp_u128;

struct sp_seqno_fields {
	uint32_t epoch;
	uint32_t node;
	uint64_t counter;
	uint32_t stream_tag;
	uint32_t shard_index;
};

static inline sp_u128
sp_seqno_pack(const struct sp_seqno_fields *f)
{
	sp_u128 v = (sp_u128)SP_SEQNO_VERSION << 124;

	v |= (sp_u128)(f->epoch & SP_SEQNO_EPOCH_MAX) << 104;
	v |= (sp_u128)(f->node & SP_SEQNO_NODE_MAX) << 96;
	v |= (sp_u128)(f->counter & SP_SEQNO_COUNTER_MAX) << 52;
	v |= (sp_u128)(f->stream_tag & SP_SEQNO_TAG_MAX) << 32;
	v |= (sp_u128)f->shard_index;
	return v;
}

/* Split v into fields. Returns false when the version is not SP_SEQNO_VERSION. */
static inline bool
sp_seqno_unpack(sp_u128 v, struct sp_seqno_fields *f)
{
	f->epoch = (uint32_t)(v >> 104) & SP_SEQNO_EPOCH_MAX;
	f->node = (uint32_t)(v >> 96) & SP_SEQNO_NODE_MAX;
	f->counter = (uint64_t)(v >> 52) & SP_SEQNO_COUNTER_MAX;
	f->stream_tag = (uint32_t)(v >> 32) & SP_SEQNO_TAG_MAX;
	f->shard_index = (uint32_t)v;
	return (uint32_t)(v >> 124) == SP_SEQNO_VERSION;
}

/* The 20-bit tag of a stream incarnation: FNV-1a of the name, mixed with the creation time. */
static inline uint32_t
sp_seqno_stream_tag(const char *name, size_t len, int64_t created_ms)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (size_t i = 0; i < len; i++) {
		h = (h ^ (uint8_t)name[i]) * UINT64_C(0x100000001b3);
	}
	h ^= (uint64_t)created_ms;
	h *= UINT64_C(0x9e3779b97f4a7c15);
	return (uint32_t)(h >> 44) & SP_SEQNO_TAG_MAX;
}

/* Digits of a 64-bit value into buf, right-aligned in exactly width digits (zero-padded). */
static inline void
sp_u64_digits(uint64_t v, char *buf, unsigned width)
{
	static const char pairs[] = "00010203040506070809101112131415161718192021222324"
				    "25262728293031323334353637383940414243444546474849"
				    "50515253545556575859606162636465666768697071727374"
				    "75767778798081828384858687888990919293949596979899";
	unsigned i = width;

	while (i >= 2) {
		unsigned d = (unsigned)(v % 100u);

		v /= 100u;
		buf[--i] = pairs[2 * d + 1];
		buf[--i] = pairs[2 * d];
	}
	if (i == 1) {
		buf[0] = (char)('0' + (unsigned)(v % 10u));
	}
}

/* (hi:lo) / d for hi < d: one x86 divq instead of a 128-bit library division. */
static inline uint64_t
sp_u128_divq(uint64_t hi, uint64_t lo, uint64_t d, uint64_t *rem)
{
#if defined(__x86_64__)
	uint64_t q, r;

	__asm__("divq %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "rm"(d));
	*rem = r;
	return q;
#else
	sp_u128 v = (sp_u128)hi << 64 | lo;

	*rem = (uint64_t)(v % d);
	return (uint64_t)(v / d);
#endif
}

/*
 * Print v in decimal into buf (at least SP_U128_DEC_MAX + 1 bytes). Returns the length. Two
 * 128-by-64-bit divisions by 10^19 split v into three 64-bit chunks (2^128 < 10^39), printed
 * two digits at a time: a sequence number costs tens of ns, not 38 128-bit divisions.
 */
static inline size_t
sp_u128_format(sp_u128 v, char *buf)
{
	const uint64_t e19 = UINT64_C(10000000000000000000);
	uint64_t h = (uint64_t)(v >> 64), l = (uint64_t)v;
	uint64_t qh = h / e19, r, lo, mid, hi, q;
	char tmp[SP_U128_DEC_MAX + 1];
	size_t n = SP_U128_DEC_MAX, start = 0;

	q = sp_u128_divq(h % e19, l, e19, &lo); /* v = (qh:q) * 10^19 + lo */
	hi = sp_u128_divq(qh, q, e19, &r);	 /* qh < 10^19 always */
	mid = r;
	sp_u64_digits(hi, tmp, 1);
	sp_u64_digits(mid, tmp + 1, 19);
	sp_u64_digits(lo, tmp + 20, 19);
	while (start < n - 1 && tmp[start] == '0') {
		start++;
	}
	for (size_t i = start; i < n; i++) {
		buf[i - start] = tmp[i];
	}
	buf[n - start] = '\0';
	return n - start;
}

/*
 * Parse a decimal string of exactly len bytes (digits only, no sign, no spaces; leading zeros
 * allowed). Returns 0, -EINVAL (empty or a non-digit) or -ERANGE (above 2^128 - 1).
 */
static inline int
sp_u128_parse(const char *s, size_t len, sp_u128 *out)
{
	const sp_u128 max = ~(sp_u128)0;
	sp_u128 v = 0;

	if (len == 0) {
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(uint8_t)s[i] - '0';

		if (d > 9) {
			return -EINVAL;
		}
		if (v > (max - d) / 10u) {
			/* keep scanning: a non-digit later is still -EINVAL */
			for (size_t j = i + 1; j < len; j++) {
				if ((unsigned)(uint8_t)s[j] - '0' > 9) {
					return -EINVAL;
				}
			}
			return -ERANGE;
		}
		v = v * 10u + d;
	}
	*out = v;
	return 0;
}

#endif /* SPATE_SEQNO_H */
