/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CRC-32 as zlib, PNG and Ethernet compute it (IEEE 802.3; reflected polynomial 0xEDB88320,
 * initial value and final xor 0xFFFFFFFF; check value of "123456789" is 0xCBF43926): the two
 * checksums of every AWS event-stream message (docs/internals/evstream.md). Not CRC32C, the
 * storage checksum in nvme/crc32c.h, whose polynomial differs.
 *
 * Two kernels give identical results: a portable slicing-by-8 table and, on x86-64 CPUs with
 * PCLMULQDQ, carry-less-multiply folding of four 16-byte lanes. The faster one the CPU runs is
 * chosen once at load time, after a self-test against the table kernel; SPATE_CRC32=table
 * forces the table kernel. Thread-safe, no state besides read-only tables; no allocation.
 *
 * Two ways to call it:
 *   running state   s = sp_crc32_init(); s = sp_crc32_update(s, a, n); ...; sp_crc32_final(s)
 *                   (the state is the raw register: not inverted between pieces);
 *   zlib style      c = sp_crc32(0, a, n); c = sp_crc32(c, b, m) gives the CRC of a||b, the
 *                   same numbers as zlib's crc32().
 */
#ifndef SP_EVS_CRC32_H
#define SP_EVS_CRC32_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spate/compiler.h>

/* The register before any byte. */
#define SP_CRC32_INIT 0xffffffffu

enum sp_crc32_kernel {
	SP_CRC32_TABLE = 0,
	SP_CRC32_CLMUL,
	SP_CRC32_KERNEL_COUNT,
};

static inline uint32_t
sp_crc32_init(void)
{
	return SP_CRC32_INIT;
}

/* The state after buf[0..len) (buf may be NULL when len is 0), with the selected kernel. */
uint32_t sp_crc32_update(uint32_t state, const void *buf, size_t len);

/* The CRC of everything the state went over. */
static inline uint32_t
sp_crc32_final(uint32_t state)
{
	return ~state;
}

/* zlib's convention: crc is a previous result (0 to start); returns the finished CRC. */
uint32_t sp_crc32(uint32_t crc, const void *buf, size_t len);

/* The update through one kernel (tests, benchmarks). k must be supported (SP_VERIFY). */
uint32_t sp_crc32_update_with(enum sp_crc32_kernel k, uint32_t state, const void *buf, size_t len);

/* Whether this CPU and build run kernel k. */
bool sp_crc32_kernel_supported(enum sp_crc32_kernel k);

/* The kernel sp_crc32_update() uses. */
enum sp_crc32_kernel sp_crc32_kernel_active(void);

/* "table", "clmul"; "?" for anything else. */
const char *sp_crc32_kernel_name(enum sp_crc32_kernel k);

#endif /* SP_EVS_CRC32_H */
