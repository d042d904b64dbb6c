/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Thin cmocka wrapper for Spate unit tests (STYLE.md §16). Each test program states what it
 * needs in its meson registration (suite `unit`; EAL-based tests run EAL with --no-huge
 * --no-pci --no-shconf, so they need neither hugepages nor a NIC and are ASan-safe).
 */
#ifndef SP_TEST_H
#define SP_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Bring up EAL for a test program without hugepages or devices. Aborts on failure. */
void sp_test_eal_init(const char *prog);

#endif /* SP_TEST_H */
