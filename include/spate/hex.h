/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hexadecimal digits, in either case: one definition for every parser of hex text (SigV4's
 * percent-decoding, the iterator key in a catalog snapshot).
 */
#ifndef SPATE_HEX_H
#define SPATE_HEX_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/* The value of hex digit c (0-9, a-f, A-F), or -1. */
static inline int
sp_hex_val(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decode 2 * n hex digits of s into out[0..n). Returns 0, or -EINVAL at a non-digit. */
static inline int
sp_hex_decode(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = sp_hex_val(s[2 * i]);
		int lo = sp_hex_val(s[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			return -EINVAL;
		}
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

#endif /* SPATE_HEX_H */
