/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * spate-dataplane: the DPDK primary process. Owns start-up and ordered shutdown:
 *   config (embedded defaults < --config file < --set flags) -> EAL (always --no-pci unless
 *   configured otherwise; --vdev per port; --lcores map) -> per-worker mempools -> ports ->
 *   worker launch -> ready file -> service loop on the main lcore (control channel) until
 *   SIGINT/SIGTERM -> workers stop -> ports close -> files removed -> EAL cleanup.
 * The main lcore is the service core: it never touches packets.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_random.h>
#include <rte_ring.h>

#include <spate/assert.h>
#include <spate/chan_proto.h>
#include <spate/err.h>

#include "spate_version.h"

#include "dp.h"
#include "api/api.h"
#include "app/loadgen.h"
#include "app/testsvc.h"
#include "core/intr_gate.h"
#include "core/pktio_fault.h"
#include "net/arp.h"
#include "net/port.h"
#include "net/vdev_socket.h"
#include "sigv4/sigv4.h"
#include "net/rss.h"
#include "net/steer.h"
#include "tcp/tcp_stack.h"

#define RTE_LOGTYPE_SPATE RTE_LOGTYPE_USER1

#define DP_EAL_ARGS_MAX         64   /* EAL argv entries we build, extra args included */
#define DP_SERVICE_TICK_US      1000 /* service-loop period on the main lcore */
#define DP_MBUF_CACHE           256  /* per-lcore mempool cache */
#define DP_WORKER_TIMERSLACK_NS 1000
#define DP_CLONE_MBUFS                                                                             \
	16383 /* indirect mbufs per worker: payload slices in flight */ /* idle sleeps are short;  \
									   keep the kernel's slack \
									   short */

static volatile sig_atomic_t g_stop;
static struct sp_dp g_dp;

void
sp_panic_context(FILE *out)
{
	fprintf(out, "spate-dataplane: lcore %u, instance %s\n", rte_lcore_id(), g_dp.cfg.name);
}

static void
dp_on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void
dp_usage(FILE *out)
{
	fprintf(out,
		"usage: spate-dataplane [--config FILE] [--set KEY=VALUE]... [-- EAL_ARGS...]\n"
		"       spate-dataplane --keys | --version | --help\n"
		"Configuration keys (defaults are the embedded configuration):\n");
	for (size_t i = 0; i < sp_cfg_key_count(); i++) {
		fprintf(out, "  %-24s %s (default \"%s\")\n", sp_cfg_key_name(i), sp_cfg_key_doc(i),
			sp_cfg_key_default(i));
	}
}

/* Parse the command line into dp->cfg. Returns 0, 1 to exit successfully, or -errno. */
static int
dp_parse_args(struct sp_dp *dp, int argc, char **argv, int *eal_extra_idx)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},         {"keys", no_argument, NULL, 'k'},
	    {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
	};
	const char *config = NULL;
	char err[512];
	int c, rc;

	sp_cfg_defaults(&dp->cfg);
	/* First pass finds --config so that --set overrides the file whatever the order. */
	while ((c = getopt_long(argc, argv, "+c:s:hkV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 's':
			break;
		case 'h':
		case 'k':
			dp_usage(stdout);
			return 1;
		case 'V':
			printf("spate-dataplane %s\n", SPATE_VERSION);
			return 1;
		default:
			dp_usage(stderr);
			return -EINVAL;
		}
	}
	*eal_extra_idx = optind;
	if (config != NULL) {
		rc = sp_cfg_load_file(&dp->cfg, config, err, sizeof(err));
		if (rc != 0) {
			fprintf(stderr, "spate-dataplane: %s\n", err);
			return rc;
		}
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "+c:s:hkV", opts, NULL)) != -1) {
		if (c == 's') {
			rc = sp_cfg_set_kv(&dp->cfg, optarg, err, sizeof(err));
			if (rc != 0) {
				fprintf(stderr, "spate-dataplane: --set %s\n", err);
				return rc;
			}
		}
	}
	rc = sp_cfg_validate(&dp->cfg, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "spate-dataplane: %s\n", err);
	}
	return rc;
}

/* Default --lcores map: main lcore on the first allowed CPU, workers round-robin after it. */
static void
dp_default_lcores(const struct sp_dp_config *cfg, char *buf, size_t len)
{
	cpu_set_t set;
	int cpus[CPU_SETSIZE];
	int ncpu = 0;
	size_t off = 0;

	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		for (int i = 0; i < CPU_SETSIZE; i++) {
			if (CPU_ISSET(i, &set)) {
				cpus[ncpu++] = i;
			}
		}
	}
	if (ncpu == 0) {
		cpus[ncpu++] = 0;
	}
	off += (size_t)snprintf(buf + off, len - off, "0@%d", cpus[0]);
	for (unsigned w = 0; w < cfg->workers && off < len; w++) {
		off += (size_t)snprintf(buf + off, len - off, ",%u@%d", w + 1,
					cpus[(w + 1) % (unsigned)ncpu]);
	}
}

static int
dp_build_eal_args(const struct sp_dp_config *cfg, int argc, char **argv, int extra_idx, char **eal,
		  char (*store)[SP_PATH_MAX_BYTES])
{
	int n = 0, s = 0;

#define EAL_ARG(str)                                                                               \
	do {                                                                                       \
		if (n >= DP_EAL_ARGS_MAX - 1) {                                                    \
			return -E2BIG;                                                             \
		}                                                                                  \
		eal[n++] = (str);                                                                  \
	} while (0)
#define EAL_FMT(...)                                                                               \
	do {                                                                                       \
		snprintf(store[s], SP_PATH_MAX_BYTES, __VA_ARGS__);                                \
		EAL_ARG(store[s]);                                                                 \
		s++;                                                                               \
	} while (0)

	EAL_ARG(argv[0]);
	EAL_ARG("--file-prefix");
	EAL_FMT("%s", cfg->file_prefix);
	EAL_ARG("-m");
	EAL_FMT("%lu", (unsigned long)cfg->mem_mb);
	EAL_ARG("--lcores");
	if (cfg->lcores[0] != '\0') {
		EAL_FMT("%s", cfg->lcores);
	} else {
		dp_default_lcores(cfg, store[s], SP_PATH_MAX_BYTES);
		EAL_ARG(store[s]);
		s++;
	}
	EAL_ARG("--main-lcore");
	EAL_ARG("0");
	EAL_ARG("--log-level");
	EAL_FMT("%lu", (unsigned long)cfg->log_level);
	if (cfg->no_pci) {
		EAL_ARG("--no-pci");
	}
	if (!cfg->huge) {
		EAL_ARG("--no-huge");
	} else if (cfg->huge_unlink) {
		EAL_ARG("--huge-unlink");
	}
	for (unsigned i = 0; i < SP_MAX_PORTS; i++) {
		if (cfg->port_vdev[i][0] != '\0') {
			EAL_ARG("--vdev");
			EAL_ARG((char *)cfg->port_vdev[i]);
		}
	}
	for (int i = extra_idx; i < argc; i++) {
		EAL_ARG(argv[i]);
	}
	eal[n] = NULL;
	return n;
#undef EAL_ARG
#undef EAL_FMT
}

static int
dp_write_file(const char *dir, const char *name, const char *text)
{
	char path[SP_PATH_MAX_BYTES * 2];
	FILE *f;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
		return -ENAMETOOLONG;
	}
	f = fopen(path, "w");
	if (f == NULL) {
		return -errno;
	}
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -errno;
}

static void
dp_remove_file(const char *dir, const char *name)
{
	char path[SP_PATH_MAX_BYTES * 2];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) < (int)sizeof(path)) {
		(void)unlink(path);
	}
}

/*
 * Per-worker mempool budget (STYLE.md §8), per port the worker serves:
 *   rx_desc      mbufs parked in its rx ring
 *   tx_desc      mbufs waiting in its tx ring until the driver frees them
 *   SP_TX_BUF    frames buffered before a tx burst
 *   SP_RX_BURST  frames in flight in one poll
 * plus the per-lcore cache (DP_MBUF_CACHE * 1.5, DPDK's cache can overshoot by half),
 * plus tcp_mbufs for data TCP holds: send queues until acknowledged, received data the upper
 * layer has not consumed, out-of-order segments. When that share runs out, rx allocation
 * fails (counted by the port as rx_nombuf) and TCP recovers by retransmission.
 * Plus, when steering may be on, a ring to each other worker (SP_STEER_RING_SIZE slots each):
 * frames handed off stay in the receiver's pool until their owner frees them.
 * Rounded up to 2^n - 1, the size a ring-backed mempool uses best.
 */
static unsigned
dp_pool_size(const struct sp_dp_config *cfg, unsigned nports)
{
	unsigned n =
	    nports * ((unsigned)cfg->rx_desc + (unsigned)cfg->tx_desc + SP_TX_BUF + SP_RX_BURST) +
	    DP_MBUF_CACHE * 3 / 2 + (unsigned)cfg->tcp_mbufs;
	unsigned p = 1;

	if (cfg->steering != SP_STEER_OFF && cfg->workers > 1) {
		n += ((unsigned)cfg->workers - 1) * SP_STEER_RING_SIZE;
	}

	while (p - 1 < n) {
		p <<= 1;
	}
	return p - 1;
}

/* The impairment stage between the worker and its ports, when a fault_* key is set. */
static int
dp_setup_fault(struct sp_dp *dp, struct sp_lcore *lc)
{
	struct sp_fault_conf fc = {
	    .loss_ppm = (uint32_t)dp->cfg.fault_loss_ppm,
	    .dup_ppm = (uint32_t)dp->cfg.fault_dup_ppm,
	    .reorder_ppm = (uint32_t)dp->cfg.fault_reorder_ppm,
	    .corrupt_ppm = (uint32_t)dp->cfg.fault_corrupt_ppm,
	    .delay_us = (uint32_t)dp->cfg.fault_delay_us,
	    .jitter_us = (uint32_t)dp->cfg.fault_jitter_us,
	    .seed = dp->cfg.fault_seed + lc->worker,
	};
	int rc;

	if (!sp_fault_active(&fc)) {
		return 0;
	}
	rc = sp_pktio_fault_create(&dp->fault[lc->worker], &lc->io, lc->io, &lc->clk, lc->pool,
				   &lc->cnt, &fc, (int)rte_lcore_to_socket_id(lc->lcore_id));
	if (rc == 0) {
		RTE_LOG(WARNING, SPATE,
			"worker %u: link impairment on (loss %u ppm, dup %u, reorder %u, "
			"corrupt %u, delay %u us +/- %u): a test configuration\n",
			lc->worker, fc.loss_ppm, fc.dup_ppm, fc.reorder_ppm, fc.corrupt_ppm,
			fc.delay_us, fc.jitter_us);
	}
	return rc;
}

/*
 * The rings through which workers share ARP confirmations (net/arp.h sp_arp_share), one per
 * ordered pair of workers, when there is more than one.
 */
static int
dp_setup_arp_share(struct sp_dp *dp)
{
	unsigned nw = dp->nb_workers;
	int socket = (int)rte_lcore_to_socket_id(dp->main_lcore);

	if (nw < 2) {
		return 0;
	}
	for (unsigned w = 0; w < nw; w++) {
		dp->arp_share[w].self = (uint16_t)w;
		dp->arp_share[w].nb_workers = (uint16_t)nw;
	}
	for (unsigned r = 0; r < nw; r++) {
		for (unsigned o = 0; o < nw; o++) {
			char name[RTE_RING_NAMESIZE];
			struct rte_ring *ring;

			if (r == o) {
				continue;
			}
			snprintf(name, sizeof(name), "sp_arp_%u_%u", r & 0xffu, o & 0xffu);
			ring = rte_ring_create_elem(name, SP_ARP_NOTE_BYTES, SP_ARP_SHARE_RING,
						    socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
			if (ring == NULL) {
				RTE_LOG(ERR, SPATE, "ring %s: %s\n", name, rte_strerror(rte_errno));
				return -ENOMEM;
			}
			dp->arp_share[r].out[o] = ring;
			dp->arp_share[o].in[r] = ring;
		}
	}
	return 0;
}

/* A worker's neighbour cache (before its TCP stack, which sends through it). */
static int
dp_setup_arp(struct sp_dp *dp, struct sp_lcore *lc)
{
	struct sp_arp_conf ac = {
	    .entries = (uint32_t)dp->cfg.arp_cache_entries,
	    .reachable_ms = (uint32_t)dp->cfg.arp_reachable_ms,
	    .probes = (uint32_t)dp->cfg.arp_probes,
	    .seed = rte_rand(),
	    .share = dp->nb_workers > 1 ? &dp->arp_share[lc->worker] : NULL,
	};
	int rc = sp_arp_create(&lc->arp, lc, &ac);

	if (rc != 0) {
		RTE_LOG(ERR, SPATE, "worker %u: ARP cache: %s\n", lc->worker, sp_strerror(rc));
	}
	return rc;
}

/* The producer's settings: stream, records, the first key of its credentials file. */
static int
dp_loadgen_put_conf(const struct sp_dp *dp, struct sp_loadgen_conf *lc)
{
	const struct sp_dp_config *cfg = &dp->cfg;
	struct sp_sigv4_keys *keys = NULL;
	const struct sp_sigv4_key *k;
	char err[256];
	int rc;

	if (cfg->loadgen_port == 0) {
		lc->port = rte_cpu_to_be_16((uint16_t)cfg->api_port);
	}
	lc->records = (uint32_t)cfg->loadgen_records;
	lc->gap_ms = (uint32_t)cfg->loadgen_gap_ms;
	snprintf(lc->stream, sizeof(lc->stream), "%s", cfg->loadgen_stream);
	snprintf(lc->host, sizeof(lc->host), "%s", cfg->loadgen_target);
	snprintf(lc->region, sizeof(lc->region), "%s", cfg->loadgen_region);
	rc = sp_sigv4_keys_load(cfg->loadgen_credentials, cfg->account_id, &keys, err, sizeof(err));
	if (rc != 0) {
		RTE_LOG(ERR, SPATE, "loadgen_credentials %s: %s\n", cfg->loadgen_credentials, err);
		return rc;
	}
	k = sp_sigv4_keys_get(keys, 0);
	lc->key = *k;
	lc->key.token = NULL; /* it points into the table freed below; no session token is sent */
	lc->key.token_len = 0;
	sp_sigv4_keys_free(keys);
	return 0;
}

/*
 * The load generator's settings (config loadgen_*): the target must lie on a port's subnet,
 * and the worker loop has one application poll, so the Kinesis API must be off.
 */
static int
dp_loadgen_conf(const struct sp_dp *dp, struct sp_loadgen_conf *lc)
{
	const struct sp_dp_config *cfg = &dp->cfg;
	struct in_addr a;
	unsigned i;

	memset(lc, 0, sizeof(*lc));
	if (cfg->api) {
		RTE_LOG(ERR, SPATE, "loadgen_target needs api=false\n");
		return -EINVAL;
	}
	if (inet_pton(AF_INET, cfg->loadgen_target, &a) != 1 ||
	    sp_loadgen_mode_parse(cfg->loadgen_mode, &lc->mode) != 0) {
		RTE_LOG(ERR, SPATE, "loadgen: bad target '%s' or mode '%s'\n", cfg->loadgen_target,
			cfg->loadgen_mode);
		return -EINVAL;
	}
	for (i = 0; i < dp->nb_ifaces; i++) {
		if (((a.s_addr ^ dp->ifaces[i].ipv4) & dp->ifaces[i].ipv4_mask) == 0) {
			break;
		}
	}
	if (i == dp->nb_ifaces) {
		RTE_LOG(ERR, SPATE, "loadgen: %s is on no port's subnet\n", cfg->loadgen_target);
		return -ENETUNREACH;
	}
	lc->ifidx = i;
	lc->target = a.s_addr;
	lc->port = rte_cpu_to_be_16(cfg->loadgen_port != 0        ? (uint16_t)cfg->loadgen_port
				    : lc->mode == SP_LOADGEN_BULK ? SP_TESTSVC_PORT_SINK
								  : SP_TESTSVC_PORT_ECHO);
	lc->conns = (uint32_t)cfg->loadgen_conns;
	lc->msg = (uint32_t)cfg->loadgen_msg;
	return lc->mode == SP_LOADGEN_PUT ? dp_loadgen_put_conf(dp, lc) : 0;
}

/* A worker's TCP stack and, when configured, the test services and load generator on it. */
static int
dp_setup_tcp(struct sp_dp *dp, struct sp_lcore *lc)
{
	struct sp_tcp_conf tc = {
	    .max_conns = (uint32_t)dp->cfg.tcp_max_conns,
	    .rcv_buf = (uint32_t)dp->cfg.tcp_rcv_buf,
	    .snd_buf = (uint32_t)dp->cfg.tcp_snd_buf,
	    .syn_backlog = (uint32_t)dp->cfg.tcp_syn_backlog,
	    .reass_segs = (uint32_t)dp->cfg.tcp_reass_segs,
	    .clone_mbufs = DP_CLONE_MBUFS,
	    .keepalive_idle_ms = (uint32_t)dp->cfg.tcp_keepalive_idle_s * 1000u,
	    .keepalive_intvl_ms = (uint32_t)dp->cfg.tcp_keepalive_intvl_s * 1000u,
	    .keepalive_probes = (uint32_t)dp->cfg.tcp_keepalive_probes,
	    .syn_retries = (uint32_t)dp->cfg.tcp_syn_retries,
	    .rss = dp->flow_rss,
	    .worker = (uint16_t)lc->worker,
	    .nb_workers = (uint16_t)dp->nb_workers,
	};
	int rc = sp_tcp_create(&lc->tcp, lc, &tc);

	if (rc != 0) {
		RTE_LOG(ERR, SPATE, "worker %u: TCP stack: %s\n", lc->worker, sp_strerror(rc));
		return rc;
	}
	if (dp->cfg.test_services) {
		rc = sp_testsvc_create(&dp->testsvc[lc->worker], lc->tcp, lc->pool,
				       (uint32_t)dp->cfg.tcp_max_conns,
				       (int)rte_lcore_to_socket_id(lc->lcore_id));
		if (rc != 0) {
			RTE_LOG(ERR, SPATE, "worker %u: test services: %s\n", lc->worker,
				sp_strerror(rc));
			return rc;
		}
	}
	if (dp->cfg.loadgen_target[0] != '\0') {
		struct sp_loadgen_conf lgc;

		rc = dp_loadgen_conf(dp, &lgc);
		lgc.worker = lc->worker;
		if (rc == 0) {
			rc = sp_loadgen_create(&dp->loadgen[lc->worker], lc->tcp, lc->pool, &lgc,
					       (int)rte_lcore_to_socket_id(lc->lcore_id));
		}
		if (rc != 0) {
			RTE_LOG(ERR, SPATE, "worker %u: load generator: %s\n", lc->worker,
				sp_strerror(rc));
			return rc;
		}
		lc->app_poll = sp_loadgen_poll;
		lc->app_ctx = dp->loadgen[lc->worker];
	}
	return 0;
}

/*
 * Software flow steering (net/steer.h): decide per port from the steering key and the port's
 * confirmed RSS; when any port is steered, build the shared hash context, one SPSC ring per
 * (receiver, owner) pair and each worker's struct sp_steer. Main lcore, before launch.
 */
static int
dp_setup_steer(struct sp_dp *dp)
{
	unsigned nw = dp->nb_workers, steered = 0;
	int socket = (int)rte_lcore_to_socket_id(dp->main_lcore);
	struct rte_ring *ring[SP_MAX_WORKERS][SP_MAX_WORKERS] = {{NULL}};
	int rc;

	for (unsigned i = 0; i < dp->nb_ifaces; i++) {
		struct sp_iface *ifc = &dp->ifaces[i];

		ifc->steer = nw > 1 && (dp->cfg.steering == SP_STEER_ON ||
					(dp->cfg.steering == SP_STEER_AUTO && !ifc->rss));
		steered += ifc->steer;
		RTE_LOG(INFO, SPATE, "port %s: software steering %s\n", ifc->name,
			ifc->steer ? "on" : "off");
	}
	if (nw > 1) {
		/* the flow hash: steering, and the source ports of active opens (net/rss.h) */
		dp->flow_rss =
		    rte_zmalloc_socket("sp_flow_rss", sizeof(*dp->flow_rss), SP_CACHE_LINE, socket);
		if (dp->flow_rss == NULL) {
			return -ENOMEM;
		}
		rc = sp_rss_ctx_init(dp->flow_rss, sp_rss_sym_key, sizeof(sp_rss_sym_key));
		SP_VERIFY(rc == 0 && dp->flow_rss->symmetric);
	}
	if (steered == 0) {
		return 0;
	}
	for (unsigned r = 0; r < nw; r++) {
		for (unsigned o = 0; o < nw; o++) {
			char name[RTE_RING_NAMESIZE];

			if (r == o) {
				continue;
			}
			snprintf(name, sizeof(name), "sp_steer_%u_%u", r & 0xffu, o & 0xffu);
			ring[r][o] = rte_ring_create(name, SP_STEER_RING_SIZE, socket,
						     RING_F_SP_ENQ | RING_F_SC_DEQ);
			if (ring[r][o] == NULL) {
				RTE_LOG(ERR, SPATE, "ring %s: %s\n", name, rte_strerror(rte_errno));
				return -ENOMEM;
			}
		}
	}
	for (unsigned w = 0; w < nw; w++) {
		struct sp_steer *st =
		    rte_zmalloc_socket("sp_steer", sizeof(*st), SP_CACHE_LINE, socket);

		if (st == NULL) {
			return -ENOMEM;
		}
		st->rss = dp->flow_rss;
		st->nb_workers = (uint16_t)nw;
		st->self = (uint16_t)w;
		for (unsigned o = 0; o < nw; o++) {
			st->out[o] = ring[w][o];
			st->in[o] = ring[o][w];
		}
		dp->steer[w] = st;
	}
	return 0;
}

/*
 * The interrupt-thread gate (core/intr_gate.h), when a port's PMD needs it. Allocated here;
 * started on the interrupt thread just before the workers launch.
 */
static int
dp_setup_gate(struct sp_dp *dp)
{
	bool need = false;

	for (unsigned i = 0; i < dp->nb_ifaces; i++) {
		need |= dp->ifaces[i].intr_gate;
	}
	if (!need) {
		return 0;
	}
	dp->gate = rte_zmalloc("sp_intr_gate", sizeof(*dp->gate), SP_CACHE_LINE);
	if (dp->gate == NULL) {
		return -ENOMEM;
	}
	sp_intr_gate_init(dp->gate, dp->nb_workers, SP_INTR_GATE_PERIOD_US);
	RTE_LOG(INFO, SPATE, "interrupt-thread gate on (period %u us)\n", dp->gate->period_us);
	return 0;
}

/* Free the steering rings (workers joined), with any frames still in them. */
static void
dp_steer_destroy(struct sp_dp *dp)
{
	for (unsigned w = 0; w < SP_MAX_WORKERS; w++) {
		struct sp_steer *st = dp->steer[w];
		void *m;

		if (st == NULL) {
			continue;
		}
		for (unsigned o = 0; o < st->nb_workers; o++) {
			if (st->out[o] == NULL) {
				continue;
			}
			while (rte_ring_dequeue(st->out[o], &m) == 0) {
				rte_pktmbuf_free(m);
			}
			rte_ring_free(st->out[o]);
		}
		rte_free(st);
		dp->steer[w] = NULL;
	}
	rte_free(dp->flow_rss);
	dp->flow_rss = NULL;
}

/* The Kinesis API's main-lcore half (rings, RCU, credentials) and the channel hooks. */
static void
dp_on_config(void *arg, const json_t *msg)
{
	struct sp_dp *dp = arg;

	sp_api_on_config(dp->api, msg, &dp->chan);
}

static void
dp_on_catalog(void *arg, const json_t *msg)
{
	struct sp_dp *dp = arg;

	sp_api_on_catalog(dp->api, msg, &dp->chan);
}

static void
dp_on_kresp(void *arg, const json_t *msg)
{
	struct sp_dp *dp = arg;

	sp_api_on_kresp(dp->api, msg);
}

static void
dp_on_disconnect(void *arg)
{
	struct sp_dp *dp = arg;

	sp_api_on_disconnect(dp->api);
}

static void
dp_on_tls_reload(void *arg, const json_t *msg)
{
	struct sp_dp *dp = arg;

	sp_api_on_tls_reload(dp->api, msg);
}

static void
dp_on_tls_keys(void *arg, const json_t *msg)
{
	struct sp_dp *dp = arg;

	sp_api_on_tls_keys(dp->api, msg);
}

/*
 * Whether API answers may leave as external-buffer mbufs over the API's buffers, and where
 * those live: the heap suits virtual devices (they read buf_addr); a port that is not one may
 * DMA, so the buffers go to hugepages, whose IO addresses it can use
 * (docs/internals/zerocopy.md). api_bufs_hugepages asks for hugepages regardless.
 */
static bool
dp_api_zero_copy(const struct sp_dp *dp, bool *huge)
{
	*huge = dp->cfg.api_bufs_hugepages;
	if (!dp->cfg.api_tx_zero_copy) {
		return false;
	}
	for (unsigned i = 0; i < dp->nb_ifaces && !*huge; i++) {
		struct rte_eth_dev_info info;
		const struct rte_bus *bus;

		if (rte_eth_dev_info_get(dp->ifaces[i].port_id, &info) != 0 ||
		    info.device == NULL || (bus = rte_dev_bus(info.device)) == NULL ||
		    strcmp(rte_bus_name(bus), "vdev") != 0) {
			RTE_LOG(NOTICE, SPATE,
				"api: buffers in hugepages: port %s is not a virtual device\n",
				dp->ifaces[i].name);
			*huge = true;
		}
	}
	return true;
}

static int
dp_setup_api_global(struct sp_dp *dp)
{
	bool ac_huge;
	bool ac_zero_copy = dp_api_zero_copy(dp, &ac_huge);
	struct sp_api_conf ac = {
	    .port = (uint16_t)dp->cfg.api_port,
	    .max_conns = (uint32_t)dp->cfg.api_max_conns,
	    .small_bufs = (uint32_t)dp->cfg.api_small_bufs,
	    .big_bufs = (uint32_t)dp->cfg.api_big_bufs,
	    .tx_zero_copy = ac_zero_copy,
	    .bufs_huge = ac_huge,
	    .head_timeout_ms = (uint32_t)dp->cfg.api_head_timeout_ms,
	    .body_timeout_ms = (uint32_t)dp->cfg.api_body_timeout_ms,
	    .idle_timeout_ms = (uint32_t)dp->cfg.api_idle_timeout_ms,
	    .send_timeout_ms = (uint32_t)dp->cfg.api_send_timeout_ms,
	    .ctl_timeout_ms = (uint32_t)dp->cfg.api_ctl_timeout_ms,
	    .shard_ring_bytes = (uint32_t)(dp->cfg.shard_ring_mb << 20),
	    .data_dir = dp->cfg.data_dir,
	    .store_devices = dp->cfg.store_devices,
	    .durable = strcmp(dp->cfg.ack_mode, "durable") == 0,
	    .store_bytes = dp->cfg.store_mb << 20,
	    .seg_bytes = dp->cfg.seg_mb << 20,
	    .credentials_file = dp->cfg.credentials_file,
	    .key_file = dp->cfg.key_file,
	    .tls_port = (uint16_t)dp->cfg.tls_port,
	    .tls_cert = dp->cfg.tls_cert,
	    .tls_key = dp->cfg.tls_key,
	    .account_id = dp->cfg.account_id,
	};
	int rc;

	if (!dp->cfg.api) {
		return 0;
	}
	if (strcmp(dp->cfg.ack_mode, "durable") != 0 && strcmp(dp->cfg.ack_mode, "memory") != 0) {
		RTE_LOG(ERR, SPATE, "ack_mode: durable or memory, not '%s'\n", dp->cfg.ack_mode);
		return -EINVAL;
	}
	if (ac.durable && dp->cfg.data_dir[0] == '\0') {
		RTE_LOG(ERR, SPATE, "ack_mode durable needs a data_dir\n");
		return -EINVAL;
	}
	rc = sp_api_global_create(&dp->api, &ac, dp->nb_workers,
				  (int)rte_lcore_to_socket_id(dp->main_lcore));
	if (rc != 0) {
		RTE_LOG(ERR, SPATE, "Kinesis API: %s\n", sp_strerror(rc));
		return rc;
	}
	dp->chan.workers = dp->nb_workers;
	dp->chan.hooks = (struct sp_chan_hooks){
	    .on_config = dp_on_config,
	    .on_catalog = dp_on_catalog,
	    .on_kresp = dp_on_kresp,
	    .on_tls_reload = dp_on_tls_reload,
	    .on_tls_keys = dp_on_tls_keys,
	    .on_disconnect = dp_on_disconnect,
	    .arg = dp,
	};
	return 0;
}

static int
dp_setup(struct sp_dp *dp)
{
	unsigned w = 0, lcore;
	unsigned nports = 0;
	int rc;

	dp->main_lcore = rte_get_main_lcore();
	dp->nb_workers = rte_lcore_count() - 1;
	if (dp->nb_workers != dp->cfg.workers) {
		RTE_LOG(ERR, SPATE, "lcores map gives %u workers, config asks for %lu\n",
			dp->nb_workers, (unsigned long)dp->cfg.workers);
		return -EINVAL;
	}
	for (unsigned i = 0; i < SP_MAX_PORTS; i++) {
		nports += dp->cfg.port_vdev[i][0] != '\0';
	}
	dp->lcores =
	    rte_zmalloc("sp_lcores", sizeof(struct sp_lcore) * dp->nb_workers, SP_CACHE_LINE);
	if (dp->lcores == NULL) {
		return -ENOMEM;
	}
	RTE_LCORE_FOREACH_WORKER(lcore)
	{
		char name[RTE_MEMPOOL_NAMESIZE];

		snprintf(name, sizeof(name), "sp_mbuf_w%u", w);
		dp->pools[w] = rte_pktmbuf_pool_create(name, dp_pool_size(&dp->cfg, nports),
						       DP_MBUF_CACHE, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
						       (int)rte_lcore_to_socket_id(lcore));
		if (dp->pools[w] == NULL) {
			RTE_LOG(ERR, SPATE, "mempool %s: %s\n", name, rte_strerror(rte_errno));
			return -ENOMEM;
		}
		w++;
	}
	for (unsigned i = 0; i < SP_MAX_PORTS; i++) {
		if (dp->cfg.port_vdev[i][0] == '\0') {
			continue;
		}
		rc = sp_port_setup(&dp->ifaces[dp->nb_ifaces], dp->cfg.port_vdev[i],
				   dp->cfg.port_ipv4[i], (uint16_t)dp->nb_workers, dp->pools,
				   (uint16_t)dp->cfg.rx_desc, (uint16_t)dp->cfg.tx_desc);
		if (rc != 0) {
			return rc;
		}
		dp->nb_ifaces++;
	}
	rc = dp_setup_steer(dp);
	if (rc != 0) {
		return rc;
	}
	rc = dp_setup_gate(dp);
	if (rc != 0) {
		return rc;
	}
	rc = dp_setup_arp_share(dp);
	if (rc != 0) {
		return rc;
	}
	rc = dp_setup_api_global(dp);
	if (rc != 0) {
		return rc;
	}
	w = 0;
	RTE_LCORE_FOREACH_WORKER(lcore)
	{
		struct sp_lcore *lc = &dp->lcores[w];

		lc->lcore_id = lcore;
		lc->worker = w;
		lc->queue = (uint16_t)w;
		lc->io.ops = &sp_pktio_dpdk_ops;
		lc->clk.ops = &sp_clock_tsc_ops;
		lc->nb_ifaces = dp->nb_ifaces;
		lc->ifaces = dp->ifaces;
		lc->pool = dp->pools[w];
		lc->steer = dp->steer[w];
		lc->gate = dp->gate;
		lc->idle = dp->cfg.idle;
		lc->idle_polls_before_sleep = (uint32_t)dp->cfg.idle_polls_before_sleep;
		lc->idle_sleep_max_us = (uint32_t)dp->cfg.idle_sleep_max_us;
		rc = dp_setup_fault(dp, lc);
		if (rc != 0) {
			return rc;
		}
		rc = dp_setup_arp(dp, lc);
		if (rc != 0) {
			return rc;
		}
		rc = dp_setup_tcp(dp, lc);
		if (rc != 0) {
			return rc;
		}
		if (dp->api != NULL) {
			rc = sp_api_worker_create(dp->api, lc);
			if (rc != 0) {
				RTE_LOG(ERR, SPATE, "worker %u: Kinesis API: %s\n", lc->worker,
					sp_strerror(rc));
				return rc;
			}
		}
		w++;
	}
	return 0;
}

static int
dp_worker_main(void *arg)
{
	struct sp_lcore *lc = arg;

	SP_VERIFY(lc->lcore_id == rte_lcore_id());
	if (lc->idle == SP_IDLE_SLEEP) {
		(void)prctl(PR_SET_TIMERSLACK, DP_WORKER_TIMERSLACK_NS);
	}
	RTE_LOG(INFO, SPATE, "worker %u on lcore %u (cpu %u), queue %u, idle %s\n", lc->worker,
		lc->lcore_id, rte_lcore_to_cpu_id((int)lc->lcore_id), lc->queue,
		lc->idle == SP_IDLE_SPIN ? "spin" : "sleep");
	sp_lcore_run(lc);
	return 0;
}

static void
dp_service_loop(struct sp_dp *dp)
{
	while (!g_stop) {
		struct timespec ts = {.tv_sec = 0, .tv_nsec = DP_SERVICE_TICK_US * 1000};

		uint64_t now = sp_dp_now_ms();

		sp_chan_client_poll(&dp->chan, now);
		if (dp->api != NULL) {
			sp_api_main_poll(dp->api, &dp->chan, now);
		}
		nanosleep(&ts, NULL);
	}
}

static void
dp_shutdown(struct sp_dp *dp)
{
	dp_remove_file(dp->cfg.run_dir, "dataplane.ready");
	for (unsigned w = 0; w < dp->nb_workers && dp->lcores != NULL; w++) {
		dp->lcores[w].stop = true;
	}
	rte_eal_mp_wait_lcore();
	for (unsigned w = 0; w < dp->nb_workers; w++) {
		sp_loadgen_stop(dp->loadgen[w]);
	}
	if (dp->gate != NULL) {
		sp_intr_gate_stop(dp->gate);
		rte_free(dp->gate);
		dp->gate = NULL;
	}
	/* Stacks first: their closed() callbacks reach the services, which go next. */
	for (unsigned w = 0; w < dp->nb_workers && dp->lcores != NULL; w++) {
		sp_tcp_destroy(dp->lcores[w].tcp);
		dp->lcores[w].tcp = NULL;
		if (dp->api != NULL) {
			sp_api_worker_destroy(dp->api, w);
		}
		sp_testsvc_destroy(dp->testsvc[w]);
		dp->testsvc[w] = NULL;
		sp_loadgen_destroy(dp->loadgen[w]);
		dp->loadgen[w] = NULL;
		sp_arp_destroy(dp->lcores[w].arp);
		dp->lcores[w].arp = NULL;
		sp_pktio_fault_destroy(dp->fault[w]);
		dp->fault[w] = NULL;
	}
	dp_steer_destroy(dp);
	for (unsigned w = 0; w < SP_MAX_WORKERS; w++) {
		for (unsigned o = 0; o < SP_MAX_WORKERS; o++) {
			rte_ring_free(dp->arp_share[w].out[o]);
			dp->arp_share[w].out[o] = NULL;
			dp->arp_share[o].in[w] = NULL;
		}
	}
	for (unsigned i = 0; i < dp->nb_ifaces; i++) {
		sp_port_close(&dp->ifaces[i]);
	}
	for (unsigned w = 0; w < SP_MAX_WORKERS; w++) {
		rte_mempool_free(dp->pools[w]);
	}
	rte_free(dp->lcores);
	sp_chan_client_fini(&dp->chan);
	sp_api_global_destroy(dp->api);
	dp->api = NULL;
	dp_remove_file(dp->cfg.run_dir, "dataplane.pid");
}

int
main(int argc, char **argv)
{
	static char store[DP_EAL_ARGS_MAX][SP_PATH_MAX_BYTES];
	char *eal[DP_EAL_ARGS_MAX];
	char pidtext[32];
	char chan_path[SP_PATH_MAX_BYTES * 2];
	struct sigaction sa;
	struct sp_dp *dp = &g_dp;
	int extra_idx = argc, neal, rc, exit_code = EXIT_FAILURE;
	unsigned lcore, w = 0;

	rc = dp_parse_args(dp, argc, argv, &extra_idx);
	if (rc != 0) {
		return rc > 0 ? EXIT_SUCCESS : 2;
	}
	dp->start_ms = sp_dp_now_ms();
	neal = dp_build_eal_args(&dp->cfg, argc, argv, extra_idx, eal, store);
	if (neal < 0) {
		fprintf(stderr, "spate-dataplane: too many EAL arguments\n");
		return 2;
	}
	if (mkdir(dp->cfg.run_dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "spate-dataplane: %s: %s\n", dp->cfg.run_dir, strerror(errno));
		return EXIT_FAILURE;
	}
	snprintf(pidtext, sizeof(pidtext), "%ld\n", (long)getpid());
	rc = dp_write_file(dp->cfg.run_dir, "dataplane.pid", pidtext);
	if (rc != 0) {
		fprintf(stderr, "spate-dataplane: pid file: %s\n", sp_strerror(rc));
		return EXIT_FAILURE;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = dp_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	for (unsigned i = 0; i < SP_MAX_PORTS; i++) {
		if (dp->cfg.port_vdev[i][0] == '\0') {
			continue;
		}
		rc = sp_vdev_clear_stale_socket(dp->cfg.port_vdev[i]);
		if (rc != 0) {
			fprintf(stderr, "spate-dataplane: port%u's socket: %s\n", i,
				rc > 0 ? "removed a stale one (no listener)" : sp_strerror(rc));
		}
	}
	fprintf(stderr, "spate-dataplane %s: EAL", SPATE_VERSION);
	for (int i = 1; i < neal; i++) {
		fprintf(stderr, " %s", eal[i]);
	}
	fprintf(stderr, "\n");
	if (rte_eal_init(neal, eal) < 0) {
		fprintf(stderr, "spate-dataplane: EAL init failed: %s\n", rte_strerror(rte_errno));
		dp_remove_file(dp->cfg.run_dir, "dataplane.pid");
		return EXIT_FAILURE;
	}

	if (dp->cfg.chan_socket[0] != '\0') {
		memcpy(chan_path, dp->cfg.chan_socket, sizeof(dp->cfg.chan_socket));
	} else {
		if (snprintf(chan_path, sizeof(chan_path), "%s/%s", dp->cfg.run_dir,
			     SP_CHAN_SOCK_NAME) >= (int)sizeof(chan_path)) {
			fprintf(stderr, "spate-dataplane: run_dir too long\n");
			return 2;
		}
	}
	sp_chan_unix_init(&dp->chan_unix, chan_path);
	rc = sp_chan_client_init(&dp->chan,
				 (struct sp_chan_transport){&sp_chan_unix_ops, &dp->chan_unix},
				 dp->cfg.name, (long)getpid(), sp_dp_status_json, dp);
	if (rc != 0) {
		goto out;
	}
	rc = dp_setup(dp);
	if (rc != 0) {
		RTE_LOG(ERR, SPATE, "set-up failed: %s\n", sp_strerror(rc));
		goto out;
	}
	if (dp->gate != NULL) {
		rc = sp_intr_gate_start(dp->gate);
		if (rc != 0) {
			RTE_LOG(ERR, SPATE, "interrupt-thread gate: %s\n", sp_strerror(rc));
			goto out;
		}
	}
	RTE_LCORE_FOREACH_WORKER(lcore)
	{
		rc = rte_eal_remote_launch(dp_worker_main, &dp->lcores[w], lcore);
		SP_VERIFY(rc == 0);
		w++;
	}
	rc = dp_write_file(dp->cfg.run_dir, "dataplane.ready", pidtext);
	if (rc != 0) {
		RTE_LOG(ERR, SPATE, "ready file: %s\n", sp_strerror(rc));
		goto out;
	}
	RTE_LOG(INFO, SPATE, "ready: %u worker(s), %u port(s), channel %s\n", dp->nb_workers,
		dp->nb_ifaces, chan_path);
	dp_service_loop(dp);
	RTE_LOG(INFO, SPATE, "signal received, shutting down\n");
	exit_code = EXIT_SUCCESS;
out:
	dp_shutdown(dp);
	rte_eal_cleanup();
	return exit_code;
}
