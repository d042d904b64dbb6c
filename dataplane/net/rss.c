/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Toeplitz hashing for RSS (Microsoft "Verifying the RSS Hash Calculation"; 82599 datasheet
 * 7.1.2.8): the reference bit-serial hash, the per-key lookup tables behind the fast paths in
 * rss.h, the source-port search of an active open, and the RETA fill that makes a port agree
 * with software steering.
 *
 * Toeplitz: for every set input bit at offset p (most significant bit of byte 0 first), XOR in
 * the 32 key bits starting at bit p. The hash is linear over GF(2), so the contributions of one
 * input byte can be tabulated: tbl[i][b] for byte position i and byte value b.
 *
 * Invariants: a context is immutable after sp_rss_ctx_init() and may be read by every lcore at
 * once; symmetric is true only when every key byte equals the one two places before it. The
 * init runs on the main lcore at start-up; everything else runs on any lcore and never
 * allocates.
 */
#include <errno.h>
#include <string.h>

#include <spate/assert.h>

#include "rss.h"

/* Aligned like a 32-bit word, so that word-wise readers (rte_softrss) may use it too. */
const uint8_t sp_rss_sym_key[SP_RSS_KEY_LEN] __attribute__((aligned(4))) = {
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

/* Bytes a 32-bit window starting inside one byte may span. */
#define RSS_WINDOW_BYTES 5

/* The 32 key bits starting at bit `bit` (MSB of key[0] is bit 0); bits past the key are 0. */
static uint32_t
rss_window(const uint8_t *key, size_t key_len, size_t bit)
{
	uint64_t w = 0;
	size_t byte = bit / 8;

	for (size_t i = 0; i < RSS_WINDOW_BYTES; i++) {
		w <<= 8;
		if (byte + i < key_len) {
			w |= key[byte + i];
		}
	}
	return (uint32_t)(w >> (8 - bit % 8));
}

uint32_t
sp_rss_toeplitz(const uint8_t *key, size_t key_len, const uint8_t *input, size_t len)
{
	uint32_t hash = 0;
	uint32_t win;

	SP_VERIFY(key != NULL && (input != NULL || len == 0));
	SP_VERIFY(key_len >= len + 4);
	win = (uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 | (uint32_t)key[2] << 8 | key[3];
	for (size_t i = 0; i < len; i++) {
		/* Key byte i + 4 feeds the window while input byte i is consumed. */
		uint8_t next = key[i + 4];

		for (unsigned b = 0; b < 8; b++) {
			if (input[i] & (0x80u >> b)) {
				hash ^= win;
			}
			win = win << 1 | ((next >> (7 - b)) & 1u);
		}
	}
	return hash;
}

void
sp_rss_sym_key_fill(uint8_t *key, size_t len)
{
	SP_VERIFY(key != NULL || len == 0);
	for (size_t i = 0; i < len; i++) {
		key[i] = sp_rss_sym_key[i % 2];
	}
}

static bool
rss_key_symmetric(const uint8_t *key, size_t key_len)
{
	for (size_t i = 2; i < key_len; i++) {
		if (key[i] != key[i - 2]) {
			return false;
		}
	}
	return true;
}

int
sp_rss_ctx_init(struct sp_rss_ctx *ctx, const uint8_t *key, size_t key_len)
{
	SP_VERIFY(ctx != NULL && key != NULL);
	if (key_len < SP_RSS_KEY_MIN_LEN || key_len > SP_RSS_KEY_MAX_LEN) {
		return -EINVAL;
	}
	memset(ctx, 0, sizeof(*ctx));
	memcpy(ctx->key, key, key_len);
	ctx->key_len = (uint8_t)key_len;
	ctx->symmetric = rss_key_symmetric(key, key_len);
	for (size_t pos = 0; pos < SP_RSS_V4_L4_LEN; pos++) {
		uint32_t win[8];

		/* win[b]: the window of bit b (MSB first) of byte pos. */
		for (unsigned b = 0; b < 8; b++) {
			win[b] = rss_window(key, key_len, pos * 8 + b);
		}
		/* Each value is a smaller one plus its lowest set bit: linearity. */
		for (unsigned v = 1; v < 256; v++) {
			unsigned low = (unsigned)__builtin_ctz(v);

			ctx->tbl[pos][v] = ctx->tbl[pos][v & (v - 1)] ^ win[7 - low];
		}
	}
	/* Pair check: the tables reproduce the reference hash on a fixed input. */
	{
		static const uint8_t probe[SP_RSS_V4_L4_LEN] = {
			0x42, 0x09, 0x95, 0xbb, 0xa1, 0x8e, 0x64, 0x50, 0x0a, 0xea, 0x06, 0xe6,
		};
		uint32_t want = sp_rss_toeplitz(key, key_len, probe, sizeof(probe));
		uint32_t got = 0;

		for (size_t i = 0; i < sizeof(probe); i++) {
			got ^= ctx->tbl[i][probe[i]];
		}
		SP_VERIFY(got == want);
	}
	return 0;
}

int
sp_rss_pick_sport(const struct sp_rss_ctx *ctx, rte_be32_t src_ip, rte_be32_t dst_ip,
		  rte_be16_t dst_port, uint16_t want_worker, uint16_t nb_workers,
		  uint16_t start_port, uint16_t *out_port)
{
	uint32_t port = start_port < SP_RSS_PORT_MIN ? SP_RSS_PORT_MIN : start_port;

	SP_VERIFY(ctx != NULL && out_port != NULL && ctx->symmetric);
	SP_VERIFY(nb_workers >= 1 && nb_workers <= SP_RSS_RETA_SIZE);
	if (want_worker >= nb_workers) {
		return -EADDRNOTAVAIL;
	}
	for (uint32_t n = 0; n < SP_RSS_PICK_MAX_PROBES; n++) {
		rte_be16_t sport = rte_cpu_to_be_16((uint16_t)port);

		if (sp_rss_owner_ipv4(ctx, src_ip, dst_ip, sport, dst_port, nb_workers) ==
		    want_worker) {
			*out_port = (uint16_t)port;
			SP_VERIFY(*out_port >= SP_RSS_PORT_MIN);
			return 0;
		}
		port = port == SP_RSS_PORT_MAX ? SP_RSS_PORT_MIN : port + 1;
	}
	return -EADDRNOTAVAIL;
}

int
sp_rss_reta_fill(uint16_t *reta, uint16_t reta_size, uint16_t nb_queues)
{
	SP_VERIFY(reta != NULL);
	if (reta_size == 0 || nb_queues == 0 || nb_queues > SP_RSS_RETA_SIZE) {
		return -EINVAL;
	}
	for (uint32_t i = 0; i < reta_size; i++) {
		reta[i] = (uint16_t)((i % SP_RSS_RETA_SIZE) % nb_queues);
	}
	/*
	 * The port indexes with hash % reta_size. When SP_RSS_RETA_SIZE divides reta_size, entry
	 * hash % reta_size holds (hash % SP_RSS_RETA_SIZE) % nb_queues: exact. Otherwise the
	 * table is plain round-robin, and (hash % reta_size) % nb_queues equals the software
	 * choice only when nb_queues divides both sizes.
	 */
	if (reta_size % SP_RSS_RETA_SIZE == 0) {
		return 0;
	}
	for (uint32_t i = 0; i < reta_size; i++) {
		reta[i] = (uint16_t)(i % nb_queues);
	}
	return reta_size % nb_queues == 0 && SP_RSS_RETA_SIZE % nb_queues == 0 ? 0 : -ENOTSUP;
}
