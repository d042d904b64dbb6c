/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Error conventions (STYLE.md §9), one across every process:
 *   (a) operations return 0 or a negative errno;
 *   (b) burst and I/O functions return a count, or a negative errno;
 *   (c) resumable parsers return SP_AGAIN when they need more input.
 * Spate-specific codes sit above the errno range.
 */
#ifndef SPATE_ERR_H
#define SPATE_ERR_H

#include <errno.h>
#include <string.h>

#define SP_ERR_BASE 4096
#define SP_AGAIN (-(SP_ERR_BASE + 1))	  /* resumable: feed more input */
#define SP_EPROTO_VER (-(SP_ERR_BASE + 2)) /* peer speaks another protocol version */

/* Name of an error value for logs: "SP_AGAIN", or strerror() of the errno. */
static inline const char *
sp_strerror(int err)
{
	if (err == SP_AGAIN) {
		return "SP_AGAIN";
	}
	if (err == SP_EPROTO_VER) {
		return "protocol version mismatch";
	}
	return strerror(err < 0 ? -err : err);
}

#endif /* SPATE_ERR_H */
