/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Port set-up: one ethdev per configured vdev, one rx/tx queue pair per worker, RSS where the
 * port reports it, checksum offloads where offered. Main lcore, before workers launch.
 */
#ifndef SP_PORT_H
#define SP_PORT_H

#include <stdint.h>

#include <spate/compiler.h>

#include "../dp_config.h"
#include "iface.h"

struct rte_mempool;

/*
 * Configure and start the port for vdev `vdev` (its name is the text before the first
 * comma) with `nb_queues` queue pairs; queue q's rx ring allocates from pools[q].
 * Fills *ifc. Returns 0 or a negative errno (logged).
 */
SP_MUST_CHECK int sp_port_setup(struct sp_iface *ifc, const char *vdev, const char *ipv4_prefix,
				uint16_t nb_queues, struct rte_mempool *const *pools,
				uint16_t rx_desc, uint16_t tx_desc);

/* Stop and close the port. */
void sp_port_close(const struct sp_iface *ifc);

#endif /* SP_PORT_H */
