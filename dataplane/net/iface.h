/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One served interface: a DPDK port with its address and what its hardware offloads.
 * Built by net/port.c at start and read-only afterwards; every worker reads it.
 */
#ifndef SP_IFACE_H
#define SP_IFACE_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>

struct sp_iface {
	uint16_t port_id;
	struct rte_ether_addr mac;
	uint32_t ipv4;	     /* our address, network order */
	uint32_t ipv4_mask;  /* network order */
	uint32_t ipv4_bcast; /* directed broadcast of our subnet, network order */
	uint8_t prefix_len;
	bool tx_ipv4_cksum; /* the port computes IPv4 header checksums on tx */
	bool rx_ipv4_cksum; /* the port flags IPv4 header checksums on rx */
	bool tx_tcp_cksum;  /* the port computes TCP checksums on tx */
	bool rx_tcp_cksum;  /* the port flags TCP checksums on rx */
	bool tx_multiseg;   /* the port sends mbuf chains (header + payload clones) */
	bool rss;	    /* the port hashes flows to queues */
	bool steer;	    /* workers hand flows to their owners in software (net/steer.h) */
	bool intr_gate;	    /* its PMD needs the interrupt-thread gate (core/intr_gate.h) */
	char name[64];	    /* ethdev name, e.g. net_tap0 */
	char ipv4_text[32]; /* as configured, a.b.c.d/len */
};

#endif /* SP_IFACE_H */
