/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Little-endian fixed-width fields at any alignment, for the on-disk formats of nvme/
 * (segments.md, store.md). memcpy compiles to one load or store; the formats are defined
 * little-endian and so is every CPU Spate builds for (checked below).
 */
#ifndef SP_NVME_LE_H
#define SP_NVME_LE_H

#include <stdint.h>
#include <string.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "nvme/ on-disk formats are read and written as host integers: little-endian only"
#endif

static inline uint16_t
sp_le_ld16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static inline uint32_t
sp_le_ld32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t
sp_le_ld64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline void
sp_le_st16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static inline void
sp_le_st32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static inline void
sp_le_st64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

#endif /* SP_NVME_LE_H */
