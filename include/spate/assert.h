/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Assertions in three tiers (STYLE.md §10):
 *   SP_VERIFY(expr)    always on, release builds included; for cheap checks. Aborts with file,
 *                      line, expression and the context the process registered.
 *   SP_ASSERT(expr)    debug builds only (NDEBUG unset); for O(n) checks. Does not evaluate
 *                      its argument when off.
 *   SP_STATIC_ASSERT   compile-time size and offset pins for wire and disk structs.
 * Counting of tolerable anomalies (SP_COUNT_IF) lives with the counters of each subsystem.
 */
#ifndef SPATE_ASSERT_H
#define SPATE_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#include "compiler.h"

/*
 * A process may register a context hook (e.g. the dataplane prints the lcore id); it is
 * called once before abort. Defined weak so that every binary links without one.
 */
void sp_panic_context(FILE *out) __attribute__((weak));

SP_COLD SP_NORETURN static inline void
sp_panic(const char *file, int line, const char *expr)
{
	fprintf(stderr, "spate: VERIFY failed at %s:%d: %s\n", file, line, expr);
	if (sp_panic_context != NULL) {
		sp_panic_context(stderr);
	}
	fflush(stderr);
	abort();
}

#define SP_VERIFY(expr)                                                                    \
	do {                                                                               \
		if (SP_UNLIKELY(!(expr))) {                                                \
			sp_panic(__FILE__, __LINE__, #expr);                               \
		}                                                                          \
	} while (0)

#ifdef NDEBUG
#define SP_ASSERT(expr)                                                                    \
	do {                                                                               \
		(void)sizeof(expr);                                                        \
	} while (0)
#else
#define SP_ASSERT(expr) SP_VERIFY(expr)
#endif

#define SP_STATIC_ASSERT(expr, msg) _Static_assert(expr, msg)

#endif /* SPATE_ASSERT_H */
