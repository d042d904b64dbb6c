/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Receive-side scaling in software (STYLE.md §7): the Toeplitz hash bit-exact with NIC RSS, the
 * redirection-table mapping from hash to queue, the owner worker of a flow on ports without RSS,
 * and the choice of a source port whose flow lands on the sending worker.
 *
 * Byte order: addresses and ports are passed as they sit in the IPv4 and TCP headers (network
 * byte order, rte_be32_t / rte_be16_t), and hashed in wire order like a NIC does: source
 * address, destination address, source port, destination port.
 *
 * A struct sp_rss_ctx holds per-key lookup tables built once at start-up by sp_rss_ctx_init();
 * after that it is read-only, so one context may be shared by every lcore. Nothing on the hash
 * path allocates or writes shared memory. See docs/internals/rss.md.
 */
#ifndef SP_RSS_H
#define SP_RSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_byteorder.h>

#include <spate/assert.h>
#include <spate/compiler.h>

/* Length of the RSS key Spate programs into ports; the common size (ixgbe, i40e, mlx5, virtio). */
#define SP_RSS_KEY_LEN 40
/* Longest key a context accepts (i40e and ice use 52 bytes). */
#define SP_RSS_KEY_MAX_LEN 52
/* Hash input lengths in bytes: IPv4 addresses only, and addresses plus TCP/UDP ports. */
#define SP_RSS_V4_L3_LEN 8
#define SP_RSS_V4_L4_LEN 12
/* A key must cover the input plus the 32-bit window slid over its last bit. */
#define SP_RSS_KEY_MIN_LEN (SP_RSS_V4_L4_LEN + 4)
/*
 * Entries of the software redirection table. A NIC indexes its RETA with the low bits of the
 * hash; DPDK drivers fill their default RETA round-robin (reta[i] = i % nb_queues). 128 is the
 * 82599's size, the one the verification vectors come from. Power of two.
 */
#define SP_RSS_RETA_SIZE 128
/* Ephemeral source ports a client may pick: [SP_RSS_PORT_MIN, SP_RSS_PORT_MAX]. */
#define SP_RSS_PORT_MIN 1024
#define SP_RSS_PORT_MAX 65535
#define SP_RSS_PORT_COUNT (SP_RSS_PORT_MAX - SP_RSS_PORT_MIN + 1)
/* Bound on the probes of one sp_rss_pick_sport() call: the whole ephemeral range, once. */
#define SP_RSS_PICK_MAX_PROBES SP_RSS_PORT_COUNT

SP_STATIC_ASSERT((SP_RSS_RETA_SIZE & (SP_RSS_RETA_SIZE - 1)) == 0, "RETA size: power of two");
SP_STATIC_ASSERT(SP_RSS_KEY_LEN >= SP_RSS_KEY_MIN_LEN, "key too short for the IPv4 4-tuple");

/*
 * The symmetric key: the 16-bit pattern 0x6d5a repeated over 40 bytes. Every 32-bit window of
 * it depends only on its bit offset modulo 16, and swapping source and destination moves each
 * input bit by a multiple of 16, so hash(a->b) == hash(b->a). net/port.c programs these bytes.
 */
extern const uint8_t sp_rss_sym_key[SP_RSS_KEY_LEN];

/*
 * Write the symmetric pattern over len bytes, for ports whose key is not SP_RSS_KEY_LEN long
 * (i40e, ice: 52). IPv4 hashes read only the first SP_RSS_KEY_MIN_LEN key bytes, so they equal
 * those under sp_rss_sym_key.
 */
void sp_rss_sym_key_fill(uint8_t *key, size_t len);

/*
 * Per-key lookup tables. tbl[i][b] is the XOR of the 32-bit key windows selected by the set bits
 * of byte value b at input byte position i, so a 12-byte hash is 12 loads and 11 XORs.
 * Read-only after sp_rss_ctx_init().
 */
struct sp_rss_ctx {
	uint32_t tbl[SP_RSS_V4_L4_LEN][256];
	uint8_t key[SP_RSS_KEY_MAX_LEN];
	uint8_t key_len;
	/* Key repeats with a 16-bit period: hashes are symmetric and fold (see rss.c). */
	bool symmetric;
} SP_CACHE_ALIGNED;

/*
 * Build the tables for `key` (key_len bytes, SP_RSS_KEY_MIN_LEN..SP_RSS_KEY_MAX_LEN).
 * Returns 0, or -EINVAL for a key length out of range. Start-up only (12 KiB of tables).
 */
SP_MUST_CHECK int sp_rss_ctx_init(struct sp_rss_ctx *ctx, const uint8_t *key, size_t key_len);

/*
 * Reference Toeplitz hash of `len` input bytes under `key`, bit by bit, as the Microsoft RSS
 * specification defines it. The key must cover the input: key_len >= len + 4 (verified).
 */
uint32_t sp_rss_toeplitz(const uint8_t *key, size_t key_len, const uint8_t *input, size_t len);

/* Hash of the IPv4 2-tuple (addresses only), as a NIC's "IPv4" hash type computes it. */
static inline uint32_t
sp_rss_hash_ipv4_l3(const struct sp_rss_ctx *ctx, rte_be32_t src_ip, rte_be32_t dst_ip)
{
	uint32_t s = rte_be_to_cpu_32(src_ip);
	uint32_t d = rte_be_to_cpu_32(dst_ip);

	return ctx->tbl[0][s >> 24] ^ ctx->tbl[1][(s >> 16) & 0xff] ^ ctx->tbl[2][(s >> 8) & 0xff] ^
	       ctx->tbl[3][s & 0xff] ^ ctx->tbl[4][d >> 24] ^ ctx->tbl[5][(d >> 16) & 0xff] ^
	       ctx->tbl[6][(d >> 8) & 0xff] ^ ctx->tbl[7][d & 0xff];
}

/* Hash of the IPv4 4-tuple, as a NIC's "IPv4 TCP" / "IPv4 UDP" hash types compute it. */
static inline uint32_t
sp_rss_hash_ipv4_l4(const struct sp_rss_ctx *ctx, rte_be32_t src_ip, rte_be32_t dst_ip,
		    rte_be16_t src_port, rte_be16_t dst_port)
{
	uint32_t p = (uint32_t)rte_be_to_cpu_16(src_port) << 16 | rte_be_to_cpu_16(dst_port);

	return sp_rss_hash_ipv4_l3(ctx, src_ip, dst_ip) ^ ctx->tbl[8][p >> 24] ^
	       ctx->tbl[9][(p >> 16) & 0xff] ^ ctx->tbl[10][(p >> 8) & 0xff] ^
	       ctx->tbl[11][p & 0xff];
}

/*
 * The 4-tuple hash under a symmetric key (ctx->symmetric, verified), in 2 loads: with a 16-bit
 * key period, the hash depends only on the XOR of the six 16-bit words of the input.
 * Equal to sp_rss_hash_ipv4_l4() for such a key.
 */
static inline uint32_t
sp_rss_hash_ipv4_l4_sym(const struct sp_rss_ctx *ctx, rte_be32_t src_ip, rte_be32_t dst_ip,
			rte_be16_t src_port, rte_be16_t dst_port)
{
	uint32_t x = src_ip ^ dst_ip;
	uint16_t w;

	SP_VERIFY(ctx->symmetric);
	w = rte_be_to_cpu_16((rte_be16_t)((x >> 16) ^ x ^ src_port ^ dst_port));
	return ctx->tbl[0][w >> 8] ^ ctx->tbl[1][w & 0xff];
}

/*
 * The queue a NIC with a default redirection table picks for `hash`: reta[hash % RETA_SIZE]
 * with reta[i] = i % nb_queues. nb_queues is 1..SP_RSS_RETA_SIZE (verified).
 */
static inline uint16_t
sp_rss_queue(uint32_t hash, uint16_t nb_queues)
{
	SP_VERIFY(nb_queues >= 1 && nb_queues <= SP_RSS_RETA_SIZE);
	return (uint16_t)((hash & (SP_RSS_RETA_SIZE - 1)) % nb_queues);
}

/*
 * The worker that owns a TCP/UDP flow over IPv4 among nb_workers: the same for both directions,
 * and the queue a NIC programmed with sp_rss_sym_key and the default RETA delivers it to. For
 * ports without RSS, the receiving worker hands the packet to this one. ctx must hold a
 * symmetric key (verified).
 */
static inline uint16_t
sp_rss_owner_ipv4(const struct sp_rss_ctx *ctx, rte_be32_t src_ip, rte_be32_t dst_ip,
		  rte_be16_t src_port, rte_be16_t dst_port, uint16_t nb_workers)
{
	return sp_rss_queue(sp_rss_hash_ipv4_l4_sym(ctx, src_ip, dst_ip, src_port, dst_port),
			    nb_workers);
}

/*
 * Active open: find a source port for the flow src_ip:? -> dst_ip:dst_port whose owner is
 * want_worker. Scans upward from start_port (host byte order; raised to SP_RSS_PORT_MIN if
 * below), wrapping within [SP_RSS_PORT_MIN, SP_RSS_PORT_MAX], at most SP_RSS_PICK_MAX_PROBES
 * ports. On success stores the port (host byte order) in *out_port and returns 0; returns
 * -EADDRNOTAVAIL when no port maps to want_worker. Expected probes: about nb_workers.
 */
SP_MUST_CHECK int sp_rss_pick_sport(const struct sp_rss_ctx *ctx, rte_be32_t src_ip,
				    rte_be32_t dst_ip, rte_be16_t dst_port, uint16_t want_worker,
				    uint16_t nb_workers, uint16_t start_port, uint16_t *out_port);

/*
 * Fill a port's redirection table of reta_size entries so that the port delivers each flow to
 * the queue sp_rss_queue() names: reta[i] = (i % SP_RSS_RETA_SIZE) % nb_queues. Returns 0 when
 * hardware and software then agree for every hash (reta_size a multiple of SP_RSS_RETA_SIZE,
 * or nb_queues dividing reta_size), -ENOTSUP when they cannot (the table is still filled
 * round-robin), -EINVAL for nb_queues out of 1..SP_RSS_RETA_SIZE or reta_size 0.
 */
SP_MUST_CHECK int sp_rss_reta_fill(uint16_t *reta, uint16_t reta_size, uint16_t nb_queues);

#endif /* SP_RSS_H */
