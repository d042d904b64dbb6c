/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * struct sp_dp: the dataplane process as a whole, owned by the main lcore (main.c). Workers
 * see only their own struct sp_lcore and the read-only interfaces.
 */
#ifndef SP_DP_H
#define SP_DP_H

#include <stdint.h>

#include <jansson.h>

#include <spate/limits.h>

#include "chan/chan.h"
#include "core/lcore.h"
#include "dp_config.h"
#include "net/arp.h"
#include "net/iface.h"

struct rte_mempool;
struct sp_api_global;
struct sp_testsvc;
struct sp_pktio_fault;
struct sp_rss_ctx;
struct sp_steer;
struct sp_loadgen;
struct sp_intr_gate;

struct sp_dp {
	struct sp_dp_config cfg;
	uint64_t start_ms; /* CLOCK_MONOTONIC at start */
	unsigned main_lcore;

	unsigned nb_workers;
	struct sp_lcore *lcores; /* nb_workers entries, cache-aligned */
	struct rte_mempool *pools[SP_MAX_WORKERS];

	unsigned nb_ifaces;
	struct sp_iface ifaces[SP_MAX_PORTS];

	struct sp_testsvc *testsvc[SP_MAX_WORKERS];
	struct sp_loadgen *loadgen[SP_MAX_WORKERS];
	struct sp_pktio_fault *fault[SP_MAX_WORKERS];

	/* Software flow steering (net/steer.h); NULL when no port is steered. */
	struct sp_rss_ctx *flow_rss; /* the flow hash, with more than one worker */
	struct sp_steer *steer[SP_MAX_WORKERS];

	/* ARP confirmations shared between workers (net/arp.h), when there are several. */
	struct sp_arp_share arp_share[SP_MAX_WORKERS];

	/* The interrupt-thread gate (core/intr_gate.h); NULL when no port needs it. */
	struct sp_intr_gate *gate;

	struct sp_api_global *api; /* the Kinesis API service (NULL: config api=false) */

	struct sp_chan_unix chan_unix;
	struct sp_chan_client chan;
};

/* The "dataplane" object of a stats message (schema in docs/control-socket.md). */
json_t *sp_dp_status_json(void *dp);

/* CLOCK_MONOTONIC in milliseconds (main lcore, not the hot path). */
uint64_t sp_dp_now_ms(void);

#endif /* SP_DP_H */
