/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Counter table helpers: names, docs and by-index access for the struct generated from
 * include/spate/counters.def. Used on the main lcore (reports) and by tests.
 */
#include "counters.h"

#include <stddef.h>

#include <spate/assert.h>

SP_STATIC_ASSERT(sizeof(struct sp_counters) % SP_CACHE_LINE == 0,
		 "per-worker counters must not share a cache line with anything else");
SP_STATIC_ASSERT(SP_CNT__COUNT * sizeof(uint64_t) <= sizeof(struct sp_counters),
		 "every counter is one uint64_t");

static const char *const counter_names[] = {
#define SP_COUNTER(n, doc) #n,
#include <spate/counters.def>
#undef SP_COUNTER
};

static const char *const counter_docs[] = {
#define SP_COUNTER(n, doc) doc,
#include <spate/counters.def>
#undef SP_COUNTER
};

static const size_t counter_offsets[] = {
#define SP_COUNTER(n, doc) offsetof(struct sp_counters, n),
#include <spate/counters.def>
#undef SP_COUNTER
};

const char *
sp_counter_name(unsigned i)
{
	SP_VERIFY(i < SP_CNT__COUNT);
	return counter_names[i];
}

const char *
sp_counter_doc(unsigned i)
{
	SP_VERIFY(i < SP_CNT__COUNT);
	return counter_docs[i];
}

uint64_t
sp_counter_get(const struct sp_counters *c, unsigned i)
{
	SP_VERIFY(i < SP_CNT__COUNT);
	return *(const uint64_t *)((const char *)c + counter_offsets[i]);
}

void
sp_counters_add(struct sp_counters *dst, const struct sp_counters *src)
{
	for (unsigned i = 0; i < SP_CNT__COUNT; i++) {
		uint64_t *d = (uint64_t *)((char *)dst + counter_offsets[i]);
		*d += sp_counter_get(src, i);
	}
}
