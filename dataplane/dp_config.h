/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * spate-dataplane configuration: one struct filled from the key table in
 * include/spate/config_keys.def (embedded defaults, then a config file, then --set flags).
 * Read once at start on the main lcore; immutable afterwards. No DPDK dependency, so the
 * parser is unit-tested and fuzzed without EAL.
 */
#ifndef SP_DP_CONFIG_H
#define SP_DP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spate/compiler.h>
#include <spate/limits.h>

enum sp_idle_policy {
	SP_IDLE_SPIN = 0,  /* production: poll without pause */
	SP_IDLE_SLEEP = 1, /* dev/test: back off and sleep when polls find nothing */
};

/* Software flow steering (net/steer.h). */
enum sp_steer_mode {
	SP_STEER_AUTO = 0, /* on for ports whose RSS is unconfirmed, when workers > 1 */
	SP_STEER_ON = 1,   /* on for every port when workers > 1 (RSS or not) */
	SP_STEER_OFF = 2,  /* each queue's frames stay on the worker polling it */
};

struct sp_dp_config {
	char name[SP_PATH_MAX_BYTES];
	char run_dir[SP_PATH_MAX_BYTES];
	char chan_socket[SP_PATH_MAX_BYTES];
	uint64_t workers;
	char lcores[SP_PATH_MAX_BYTES];
	char file_prefix[SP_PATH_MAX_BYTES];
	uint64_t mem_mb;
	bool no_pci;
	bool huge;
	bool huge_unlink;
	char port_vdev[SP_MAX_PORTS][SP_PATH_MAX_BYTES];
	char port_ipv4[SP_MAX_PORTS][SP_PATH_MAX_BYTES];
	enum sp_idle_policy idle;
	uint64_t idle_polls_before_sleep;
	uint64_t idle_sleep_max_us;
	enum sp_steer_mode steering;
	uint64_t rx_desc;
	uint64_t tx_desc;
	uint64_t tcp_max_conns;
	uint64_t tcp_rcv_buf;
	uint64_t tcp_snd_buf;
	uint64_t tcp_syn_backlog;
	uint64_t tcp_reass_segs;
	uint64_t tcp_mbufs;
	uint64_t tcp_keepalive_idle_s;
	uint64_t tcp_keepalive_intvl_s;
	uint64_t tcp_keepalive_probes;
	uint64_t tcp_syn_retries;
	uint64_t arp_cache_entries;
	uint64_t arp_reachable_ms;
	uint64_t arp_probes;
	bool test_services;
	char loadgen_target[32];
	char loadgen_mode[8];
	uint64_t loadgen_port;
	uint64_t loadgen_conns;
	uint64_t loadgen_msg;
	char loadgen_stream[129];
	uint64_t loadgen_records;
	uint64_t loadgen_gap_ms;
	char loadgen_credentials[SP_PATH_MAX_BYTES];
	char loadgen_region[32];
	bool api;
	uint64_t api_port;
	uint64_t api_max_conns;
	uint64_t api_small_bufs;
	uint64_t api_big_bufs;
	bool api_tx_zero_copy;
	bool api_bufs_hugepages;
	uint64_t api_head_timeout_ms;
	uint64_t api_body_timeout_ms;
	uint64_t api_idle_timeout_ms;
	uint64_t api_send_timeout_ms;
	uint64_t api_ctl_timeout_ms;
	uint64_t shard_ring_mb;
	char data_dir[SP_PATH_MAX_BYTES];
	char store_devices[SP_PATH_MAX_BYTES];
	char ack_mode[16];
	uint64_t store_mb;
	uint64_t seg_mb;
	char credentials_file[SP_PATH_MAX_BYTES];
	char key_file[SP_PATH_MAX_BYTES];
	uint64_t tls_port;
	char tls_cert[SP_PATH_MAX_BYTES];
	char tls_key[SP_PATH_MAX_BYTES];
	char account_id[SP_PATH_MAX_BYTES];
	uint64_t fault_loss_ppm;
	uint64_t fault_dup_ppm;
	uint64_t fault_reorder_ppm;
	uint64_t fault_corrupt_ppm;
	uint64_t fault_delay_us;
	uint64_t fault_jitter_us;
	uint64_t fault_seed;
	uint64_t log_level;
};

/* Fill *cfg with the embedded defaults. Returns 0 (the defaults are verified to parse). */
void sp_cfg_defaults(struct sp_dp_config *cfg);

/*
 * Set one key from its text value. Returns 0, -ENOENT for an unknown key, -EINVAL for a value
 * that does not parse, -ERANGE for a number outside [min, max], -ENAMETOOLONG for a string too
 * long. On error *cfg is unchanged and errbuf (if not NULL) holds a message.
 */
SP_MUST_CHECK int sp_cfg_set(struct sp_dp_config *cfg, const char *key, const char *value,
			     char *errbuf, size_t errlen);

/* Parse "key=value" (as given to --set). Same errors as sp_cfg_set, -EINVAL without '='. */
SP_MUST_CHECK int sp_cfg_set_kv(struct sp_dp_config *cfg, const char *kv, char *errbuf,
				size_t errlen);

/*
 * Apply a config file's text: `key = value` lines, '#' comments, blank lines. Stops at the
 * first bad line; errbuf then names the line number. Returns 0 or a negative errno.
 */
SP_MUST_CHECK int sp_cfg_parse_text(struct sp_dp_config *cfg, const char *text, size_t len,
				    char *errbuf, size_t errlen);

/* Read and apply a config file. Returns 0 or a negative errno (errbuf says why). */
SP_MUST_CHECK int sp_cfg_load_file(struct sp_dp_config *cfg, const char *path, char *errbuf,
				   size_t errlen);

/* Cross-key checks after all sources are applied (ports have addresses, ...). */
SP_MUST_CHECK int sp_cfg_validate(const struct sp_dp_config *cfg, char *errbuf, size_t errlen);

/*
 * Parse "a.b.c.d/len" into a network-order address and prefix length (1..32).
 * Returns 0 or -EINVAL.
 */
SP_MUST_CHECK int sp_cfg_parse_ipv4_prefix(const char *text, uint32_t *addr_be,
					   uint8_t *prefix_len);

/* Number of config keys, and key i's name and doc (for `--help` and docs/config.md). */
size_t sp_cfg_key_count(void);
const char *sp_cfg_key_name(size_t i);
const char *sp_cfg_key_doc(size_t i);
const char *sp_cfg_key_default(size_t i);

#endif /* SP_DP_CONFIG_H */
