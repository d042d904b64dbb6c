/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Compiler helpers shared by every Spate process. Header-only and free of DPDK so that
 * spate-control and the tools can use it too.
 */
#ifndef SPATE_COMPILER_H
#define SPATE_COMPILER_H

#define SP_LIKELY(x) __builtin_expect(!!(x), 1)
#define SP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define SP_CACHE_LINE 64
#define SP_CACHE_ALIGNED __attribute__((aligned(SP_CACHE_LINE)))
#define SP_COLD __attribute__((cold))
#define SP_NORETURN __attribute__((noreturn))
#define SP_MUST_CHECK __attribute__((warn_unused_result))
#define SP_UNUSED __attribute__((unused))
#define SP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define SP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SP_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SP_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif /* SPATE_COMPILER_H */
