/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CRC32C (Castagnoli, reflected polynomial 0x82f63b78), the checksum of every record and
 * segment header on disk. Two kernels give identical results: the SSE4.2 crc32 instruction
 * and a portable slicing-by-8 table; sp_crc32c uses the first when the CPU has it (decided
 * once, at load time). Thread-safe, no state besides the read-only tables.
 *
 * Convention: crc is the previous result (0 to start) and the return value is the finished
 * CRC, so sp_crc32c(sp_crc32c(0, a, n), b, m) == sp_crc32c(0, a||b, n + m).
 */
#ifndef SP_NVME_CRC32C_H
#define SP_NVME_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The fastest kernel this CPU runs. */
uint32_t sp_crc32c(uint32_t crc, const void *buf, size_t len);
/* Portable table kernel, on any CPU. */
uint32_t sp_crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* SSE4.2 kernel: call only when sp_crc32c_hw_available(). */
uint32_t sp_crc32c_hw(uint32_t crc, const void *buf, size_t len);
/* Whether this CPU has SSE4.2 (and the build targets x86-64). */
bool sp_crc32c_hw_available(void);

#endif /* SP_NVME_CRC32C_H */
