/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ethdev configuration for every served port. Runs on the main lcore at start and at shutdown.
 *
 * RSS is requested only when the port reports hash support (dev_info.flow_type_rss_offloads),
 * with the symmetric Toeplitz key of net/rss.c at the port's key size (both directions of a
 * flow land on one queue) and a redirection table programmed round-robin, so that the NIC's
 * choice equals sp_rss_owner_ipv4(); it counts as on only when the port then confirms a hash
 * configuration. DPDK 22.11's net_tap advertises hash types but applies them only through
 * rte_flow, which it disables on kernels without the multiq qdisc (as here); for a tap the
 * kernel spreads flows over the queues by its own, stable, per-flow hash. On ports without
 * RSS (memif) a flow's owner comes from sp_rss_owner_ipv4() (docs/internals/rss.md).
 *
 * Checksum offloads are used where offered: IPv4 header checksum on tx, checksum flags on rx.
 */
#include <string.h>

#include <rte_ethdev.h>
#include <rte_log.h>

#include <spate/assert.h>
#include <spate/err.h>

#include "port.h"
#include "rss.h"

#define RTE_LOGTYPE_SPATE RTE_LOGTYPE_USER1


static int
port_find(const char *vdev, uint16_t *port_id, char *name, size_t name_len)
{
	const char *comma = strchr(vdev, ',');
	size_t n = comma != NULL ? (size_t)(comma - vdev) : strlen(vdev);

	if (n == 0 || n >= name_len) {
		return -EINVAL;
	}
	memcpy(name, vdev, n);
	name[n] = '\0';
	return rte_eth_dev_get_port_by_name(name, port_id);
}

static void
port_fill_addr(struct sp_iface *ifc, uint32_t addr_be, uint8_t prefix_len)
{
	uint32_t mask = prefix_len == 32 ? 0xffffffffu : ~(0xffffffffu >> prefix_len);

	ifc->ipv4 = addr_be;
	ifc->prefix_len = prefix_len;
	ifc->ipv4_mask = rte_cpu_to_be_32(mask);
	ifc->ipv4_bcast = prefix_len >= 31 ? 0xffffffffu : (addr_be | ~ifc->ipv4_mask);
}

static int
port_configure(struct sp_iface *ifc, const struct rte_eth_dev_info *info, uint16_t nb_queues)
{
	/* The symmetric key (net/rss.c), at the port's key size: 40 bytes, 52 on i40e/ice. */
	static uint8_t key[SP_RSS_KEY_MAX_LEN];
	struct rte_eth_conf conf;
	uint64_t rss_hf =
	    info->flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);

	memset(&conf, 0, sizeof(conf));
	if (rss_hf != 0 && nb_queues > 1) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
		if (info->hash_key_size >= SP_RSS_KEY_MIN_LEN &&
		    info->hash_key_size <= SP_RSS_KEY_MAX_LEN) {
			sp_rss_sym_key_fill(key, info->hash_key_size);
			conf.rx_adv_conf.rss_conf.rss_key = key;
			conf.rx_adv_conf.rss_conf.rss_key_len = info->hash_key_size;
		}
		ifc->rss = true;
	}
	if (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
		ifc->tx_ipv4_cksum = true;
	}
	if (info->rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) {
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
		ifc->rx_ipv4_cksum = true;
	}
	/*
	 * net_tap's TCP "offload" is a software checksum in the PMD that gets multi-segment
	 * frames wrong (observed: the kernel drops every copy of such a segment, and the
	 * connection stalls). Computing it ourselves costs the same CPU, so decline it there.
	 */
	if ((info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_CKSUM) &&
	    strcmp(info->driver_name, "net_tap") != 0) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
		ifc->tx_tcp_cksum = true;
	}
	if (info->rx_offload_capa & RTE_ETH_RX_OFFLOAD_TCP_CKSUM) {
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
		ifc->rx_tcp_cksum = true;
	}
	if (info->tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
		ifc->tx_multiseg = true;
	}
	return rte_eth_dev_configure(ifc->port_id, nb_queues, nb_queues, &conf);
}

/*
 * Program the redirection table round-robin (queue = entry % nb_queues), explicitly: driver
 * defaults differ, and software steering (sp_rss_owner_ipv4) must agree with the NIC.
 */
static int
port_program_reta(const struct sp_iface *ifc, const struct rte_eth_dev_info *info,
		  uint16_t nb_queues)
{
	struct rte_eth_rss_reta_entry64 conf[RTE_ETH_RSS_RETA_SIZE_512 / RTE_ETH_RETA_GROUP_SIZE];
	uint16_t reta[RTE_ETH_RSS_RETA_SIZE_512];
	uint16_t size = info->reta_size;
	int rc;

	if (size == 0 || size > RTE_ETH_RSS_RETA_SIZE_512) {
		return -ENOTSUP;
	}
	rc = sp_rss_reta_fill(reta, size, nb_queues);
	if (rc != 0) {
		return rc;
	}
	memset(conf, 0, sizeof(conf));
	for (uint16_t i = 0; i < size; i++) {
		conf[i / RTE_ETH_RETA_GROUP_SIZE].mask |= 1ULL << (i % RTE_ETH_RETA_GROUP_SIZE);
		conf[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE] = reta[i];
	}
	return rte_eth_dev_rss_reta_update(ifc->port_id, conf, size);
}

int
sp_port_setup(struct sp_iface *ifc, const char *vdev, const char *ipv4_prefix, uint16_t nb_queues,
	      struct rte_mempool *const *pools, uint16_t rx_desc, uint16_t tx_desc)
{
	struct rte_eth_dev_info info;
	char mac[RTE_ETHER_ADDR_FMT_SIZE];
	uint32_t addr;
	uint8_t plen;
	int rc;

	memset(ifc, 0, sizeof(*ifc));
	SP_VERIFY(nb_queues >= 1);
	rc = sp_cfg_parse_ipv4_prefix(ipv4_prefix, &addr, &plen);
	if (rc != 0) {
		RTE_LOG(ERR, SPATE, "port %s: bad address '%s'\n", vdev, ipv4_prefix);
		return rc;
	}
	port_fill_addr(ifc, addr, plen);
	snprintf(ifc->ipv4_text, sizeof(ifc->ipv4_text), "%s", ipv4_prefix);
	rc = port_find(vdev, &ifc->port_id, ifc->name, sizeof(ifc->name));
	if (rc != 0) {
		RTE_LOG(ERR, SPATE, "port %s: no such ethdev (vdev probe failed?)\n", vdev);
		return -ENODEV;
	}
	rc = rte_eth_dev_info_get(ifc->port_id, &info);
	if (rc != 0) {
		return rc;
	}
	/*
	 * net_memif (22.11) unmaps the shared regions on the interrupt thread when the peer
	 * leaves, without waiting for a worker inside a burst: the workers pass the
	 * interrupt-thread gate.
	 */
	ifc->intr_gate = strcmp(info.driver_name, "net_memif") == 0;
	if (info.max_rx_queues < nb_queues || info.max_tx_queues < nb_queues) {
		RTE_LOG(ERR, SPATE, "port %s: %u workers need %u queue pairs, port has %u/%u\n",
			ifc->name, nb_queues, nb_queues, info.max_rx_queues, info.max_tx_queues);
		return -ENOTSUP;
	}
	rc = port_configure(ifc, &info, nb_queues);
	if (rc != 0) {
		RTE_LOG(ERR, SPATE, "port %s: configure: %s\n", ifc->name, sp_strerror(rc));
		return rc;
	}
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(ifc->port_id, &rx_desc, &tx_desc);
	if (rc != 0) {
		return rc;
	}
	for (uint16_t q = 0; q < nb_queues; q++) {
		int socket = rte_eth_dev_socket_id(ifc->port_id);

		rc = rte_eth_rx_queue_setup(ifc->port_id, q, rx_desc, (unsigned)socket, NULL,
					    pools[q]);
		if (rc == 0) {
			rc = rte_eth_tx_queue_setup(ifc->port_id, q, tx_desc, (unsigned)socket,
						    NULL);
		}
		if (rc != 0) {
			RTE_LOG(ERR, SPATE, "port %s: queue %u: %s\n", ifc->name, q,
				sp_strerror(rc));
			return rc;
		}
	}
	rc = rte_eth_dev_start(ifc->port_id);
	if (rc != 0) {
		RTE_LOG(ERR, SPATE, "port %s: start: %s\n", ifc->name, sp_strerror(rc));
		return rc;
	}
	rc = rte_eth_macaddr_get(ifc->port_id, &ifc->mac);
	SP_VERIFY(rc == 0);
	SP_VERIFY(rte_is_unicast_ether_addr(&ifc->mac));
	if (ifc->rss) {
		struct rte_eth_rss_conf rss;

		memset(&rss, 0, sizeof(rss));
		if (rte_eth_dev_rss_hash_conf_get(ifc->port_id, &rss) != 0 || rss.rss_hf == 0) {
			RTE_LOG(INFO, SPATE,
				"port %s: RSS requested but not confirmed by the port\n",
				ifc->name);
			ifc->rss = false;
		} else if (port_program_reta(ifc, &info, nb_queues) != 0) {
			RTE_LOG(WARNING, SPATE,
				"port %s: cannot program a RETA matching software steering; "
				"steering in software\n",
				ifc->name);
			ifc->rss = false;
		}
	}
	/* Some PMDs start with the link down; ask for it up, ignore "not supported". */
	(void)rte_eth_dev_set_link_up(ifc->port_id);
	rte_ether_format_addr(mac, sizeof(mac), &ifc->mac);
	RTE_LOG(INFO, SPATE,
		"port %u (%s): mac %s, %s, %u queue pair(s), rss %s, tx ipv4 csum %s, "
		"rx csum %s\n",
		ifc->port_id, ifc->name, mac, ipv4_prefix, nb_queues, ifc->rss ? "on" : "off",
		ifc->tx_ipv4_cksum ? "offload" : "software",
		ifc->rx_ipv4_cksum ? "offload" : "software");
	return 0;
}

void
sp_port_close(const struct sp_iface *ifc)
{
	int rc = rte_eth_dev_stop(ifc->port_id);

	if (rc != 0) {
		RTE_LOG(WARNING, SPATE, "port %s: stop: %s\n", ifc->name, sp_strerror(rc));
	}
	rc = rte_eth_dev_close(ifc->port_id);
	if (rc != 0) {
		RTE_LOG(WARNING, SPATE, "port %s: close: %s\n", ifc->name, sp_strerror(rc));
	}
}
