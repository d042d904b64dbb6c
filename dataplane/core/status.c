/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane's status report: lcores, ports with ethdev and per-queue counters, and every
 * counter of include/spate/counters.def per worker and summed. Built with jansson on the main
 * lcore when spate-control asks over the channel; reads worker counters without stopping them
 * (each is a single aligned 64-bit word, so a read never tears, though a report is not an
 * atomic snapshot across counters). Read-only: building a report changes no state.
 */
#include <time.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>

#include <spate/assert.h>

#include "spate_version.h"

#include "../api/api.h"

#include "../dp.h"
#include "intr_gate.h"
#include "../net/arp.h"
#include "../tcp/tcp_internal.h"

uint64_t
sp_dp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static json_t *
status_counters(const struct sp_counters *c)
{
	json_t *o = json_object();

	for (unsigned i = 0; i < SP_CNT__COUNT; i++) {
		json_object_set_new(o, sp_counter_name(i),
				    json_integer((json_int_t)sp_counter_get(c, i)));
	}
	return o;
}

static json_t *
status_lcores(const struct sp_dp *dp)
{
	json_t *a = json_array();

	json_array_append_new(a, json_pack("{s:i, s:i, s:s}", "lcore", (int)dp->main_lcore, "cpu",
					   (int)rte_lcore_to_cpu_id((int)dp->main_lcore), "role",
					   "main"));
	for (unsigned w = 0; w < dp->nb_workers; w++) {
		const struct sp_lcore *lc = &dp->lcores[w];
		uint64_t busy = lc->cnt.busy_cycles, idle = lc->cnt.idle_cycles;
		double pct = busy + idle == 0 ? 0.0 : 100.0 * (double)busy / (double)(busy + idle);

		json_array_append_new(a, json_pack("{s:i, s:i, s:s, s:i, s:I, s:I, s:I, s:f}",
						   "lcore", (int)lc->lcore_id, "cpu",
						   (int)rte_lcore_to_cpu_id((int)lc->lcore_id),
						   "role", "worker", "worker", (int)w, "polls",
						   (json_int_t)lc->cnt.polls, "polls_busy",
						   (json_int_t)lc->cnt.polls_busy, "sleeps",
						   (json_int_t)lc->cnt.sleeps, "busy_pct", pct));
	}
	return a;
}

static json_t *
status_port(const struct sp_dp *dp, unsigned i)
{
	const struct sp_iface *ifc = &dp->ifaces[i];
	struct rte_eth_stats st;
	struct rte_eth_link link;
	char mac[RTE_ETHER_ADDR_FMT_SIZE];
	json_t *queues = json_array();
	json_t *p;

	memset(&st, 0, sizeof(st));
	memset(&link, 0, sizeof(link));
	(void)rte_eth_stats_get(ifc->port_id, &st);
	(void)rte_eth_link_get_nowait(ifc->port_id, &link);
	rte_ether_format_addr(mac, sizeof(mac), &ifc->mac);
	for (unsigned w = 0; w < dp->nb_workers; w++) {
		const struct sp_queue_counters *q = &dp->lcores[w].qcnt[i];

		json_array_append_new(queues, json_pack("{s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I}",
							"queue", (int)dp->lcores[w].queue, "lcore",
							(int)dp->lcores[w].lcore_id, "worker",
							(int)w, "rx_pkts", (json_int_t)q->rx_pkts,
							"rx_bytes", (json_int_t)q->rx_bytes,
							"tx_pkts", (json_int_t)q->tx_pkts,
							"tx_bytes", (json_int_t)q->tx_bytes,
							"tx_drops", (json_int_t)q->tx_drops));
	}
	p = json_pack("{s:i, s:s, s:s, s:s, s:s, s:i, s:b, s:b}", "port", (int)ifc->port_id,
		      "name", ifc->name, "mac", mac, "ipv4", ifc->ipv4_text, "link",
		      link.link_status ? "up" : "down", "speed_mbps", (int)link.link_speed, "rss",
		      ifc->rss, "steering", ifc->steer);
	SP_VERIFY(p != NULL);
	json_object_set_new(p, "offloads",
			    json_pack("{s:b, s:b}", "tx_ipv4_cksum", ifc->tx_ipv4_cksum,
				      "rx_ipv4_cksum", ifc->rx_ipv4_cksum));
	json_object_set_new(
	    p, "stats",
	    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "ipackets",
		      (json_int_t)st.ipackets, "opackets", (json_int_t)st.opackets, "ibytes",
		      (json_int_t)st.ibytes, "obytes", (json_int_t)st.obytes, "imissed",
		      (json_int_t)st.imissed, "ierrors", (json_int_t)st.ierrors, "oerrors",
		      (json_int_t)st.oerrors, "rx_nombuf", (json_int_t)st.rx_nombuf));
	json_object_set_new(p, "queues", queues);
	return p;
}

/* The interrupt-thread gate (intr_gate.h); its figures are written by the interrupt thread. */
static json_t *
status_gate(const struct sp_dp *dp)
{
	const struct sp_intr_gate *g = dp->gate;
	uint64_t rounds;

	if (g == NULL) {
		return json_pack("{s:b}", "enabled", false);
	}
	rounds = __atomic_load_n(&g->rounds, __ATOMIC_RELAXED);
	return json_pack("{s:b, s:i, s:I, s:I, s:I}", "enabled", true, "period_us",
			 (int)g->period_us, "rounds", (json_int_t)rounds, "close_wait_us_max",
			 (json_int_t)(__atomic_load_n(&g->close_wait_ns_max, __ATOMIC_RELAXED) /
				      1000u),
			 "close_wait_us_avg",
			 (json_int_t)(rounds == 0 ? 0
						  : __atomic_load_n(&g->close_wait_ns_sum,
								    __ATOMIC_RELAXED) /
							rounds / 1000u));
}

/*
 * Connections per TCP state over every worker. Reads TCB state words that workers write
 * (single bytes and words: never torn); a snapshot that may be a poll or two stale.
 */
static json_t *
status_tcp(const struct sp_dp *dp)
{
	uint64_t per_state[SP_TCP__NSTATES] = {0};
	json_t *states = json_object();
	json_t *o;
	uint64_t total = 0;

	for (unsigned w = 0; w < dp->nb_workers; w++) {
		const struct sp_tcp *tcp = dp->lcores[w].tcp;

		if (tcp == NULL) {
			continue;
		}
		for (uint32_t i = 0; i < tcp->conf.max_conns; i++) {
			enum sp_tcp_state s = tcp->tcbs[i].state;

			if (s != SP_TCP_CLOSED && (unsigned)s < SP_TCP__NSTATES) {
				per_state[s]++;
				total++;
			}
		}
	}
	for (unsigned s = 1; s < SP_TCP__NSTATES; s++) {
		json_object_set_new(states, sp_tcp_state_name((enum sp_tcp_state)s),
				    json_integer((json_int_t)per_state[s]));
	}
	o = json_pack("{s:I, s:o}", "conns", (json_int_t)total, "states", states);
	SP_VERIFY(o != NULL);
	return o;
}

/* ARP cache occupancy per worker (a racy read of each worker's gauge, like status_tcp). */
static json_t *
status_arp(const struct sp_dp *dp)
{
	json_t *a = json_array();

	for (unsigned w = 0; w < dp->nb_workers; w++) {
		const struct sp_arp *arp = dp->lcores[w].arp;

		if (arp != NULL) {
			json_array_append_new(a, json_pack("{s:i, s:I, s:I}", "worker", (int)w,
							   "entries", (json_int_t)sp_arp_count(arp),
							   "capacity",
							   (json_int_t)sp_arp_capacity(arp)));
		}
	}
	return a;
}

json_t *
sp_dp_status_json(void *arg)
{
	const struct sp_dp *dp = arg;
	struct sp_counters sum;
	json_t *o, *ports = json_array(), *workers = json_array();

	memset(&sum, 0, sizeof(sum));
	for (unsigned w = 0; w < dp->nb_workers; w++) {
		sp_counters_add(&sum, &dp->lcores[w].cnt);
		json_array_append_new(workers,
				      json_pack("{s:i, s:i, s:o}", "worker", (int)w, "lcore",
						(int)dp->lcores[w].lcore_id, "counters",
						status_counters(&dp->lcores[w].cnt)));
	}
	for (unsigned i = 0; i < dp->nb_ifaces; i++) {
		json_array_append_new(ports, status_port(dp, i));
	}
	o = json_pack("{s:I, s:s, s:s, s:I, s:s, s:I}", "pid", (json_int_t)dp->chan.pid, "name",
		      dp->cfg.name, "version", SPATE_VERSION, "uptime_s",
		      (json_int_t)((sp_dp_now_ms() - dp->start_ms) / 1000u), "idle_policy",
		      dp->cfg.idle == SP_IDLE_SPIN ? "spin" : "sleep", "catalog_version",
		      (json_int_t)dp->chan.catalog_version);
	SP_VERIFY(o != NULL);
	json_object_set_new(o, "lcores", status_lcores(dp));
	json_object_set_new(o, "ports", ports);
	json_object_set_new(o, "counters", status_counters(&sum));
	json_object_set_new(o, "workers", workers);
	json_object_set_new(o, "intr_gate", status_gate(dp));
	json_object_set_new(o, "tcp", status_tcp(dp));
	json_object_set_new(o, "arp", status_arp(dp));
	if (dp->api != NULL) {
		json_object_set_new(o, "api", sp_api_status_json(dp->api));
	}
	json_object_set_new(
	    o, "channel",
	    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "connects", (json_int_t)dp->chan.connects,
		      "disconnects", (json_int_t)dp->chan.disconnects, "msgs_in",
		      (json_int_t)dp->chan.msgs_in, "msgs_out", (json_int_t)dp->chan.msgs_out,
		      "msgs_unknown", (json_int_t)dp->chan.msgs_unknown, "msgs_bad",
		      (json_int_t)dp->chan.msgs_bad));
	return o;
}
