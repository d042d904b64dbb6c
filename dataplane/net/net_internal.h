/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to net/: per-protocol input functions and checksum helpers. Every function takes
 * the worker's struct sp_lcore and owns the mbuf it is given (frees it or transmits it).
 */
#ifndef SP_NET_INTERNAL_H
#define SP_NET_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ip.h>
#include <rte_mbuf.h>

#include "../core/lcore.h"

/* How the frame was addressed at layer 2; IPv4 applies RFC 1122 3.3.6 with it. */
enum sp_l2_cast {
	SP_L2_UNICAST,
	SP_L2_BROADCAST,
	SP_L2_MULTICAST,
};

void sp_arp_input(struct sp_lcore *lc, const struct sp_iface *ifc, unsigned ifidx,
		  struct rte_mbuf *m);
void sp_ip_input(struct sp_lcore *lc, const struct sp_iface *ifc, unsigned ifidx,
		 struct rte_mbuf *m, enum sp_l2_cast cast);
void sp_icmp_input(struct sp_lcore *lc, const struct sp_iface *ifc, unsigned ifidx,
		   struct rte_mbuf *m, unsigned ihl_bytes);

/* Drop m, counting the reason. */
#define SP_NET_DROP(lc, m, reason)                                                          \
	do {                                                                                \
		(lc)->cnt.reason++;                                                         \
		rte_pktmbuf_free(m);                                                        \
	} while (0)

/*
 * RFC 1624 eqn. 3: the Internet checksum after one 16-bit word of the covered data changes
 * from old_word to new_word (all values in network order).
 */
static inline uint16_t
sp_csum_update16(uint16_t csum, uint16_t old_word, uint16_t new_word)
{
	uint32_t sum = (uint16_t)~csum;

	sum += (uint16_t)~old_word;
	sum += new_word;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* True if the Internet checksum over len bytes at p verifies (sums to 0xffff). */
static inline bool
sp_csum_ok(const void *p, size_t len)
{
	return rte_raw_cksum(p, len) == 0xffff;
}

/* Class of an IPv4 address (network order) for validation. */
static inline bool
sp_ipv4_is_multicast(uint32_t a_be)
{
	return (rte_be_to_cpu_32(a_be) & 0xf0000000u) == 0xe0000000u;
}

static inline bool
sp_ipv4_is_limited_bcast(uint32_t a_be)
{
	return a_be == 0xffffffffu;
}

static inline bool
sp_ipv4_is_zero_net(uint32_t a_be)
{
	return (rte_be_to_cpu_32(a_be) & 0xff000000u) == 0;
}

static inline bool
sp_ipv4_is_loopback(uint32_t a_be)
{
	return (rte_be_to_cpu_32(a_be) & 0xff000000u) == 0x7f000000u;
}

#endif /* SP_NET_INTERNAL_H */
