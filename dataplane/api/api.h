/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Kinesis API service of the dataplane: HTTP/1.1 on each worker's TCP stack, SigV4, the
 * four data operations served on the worker, control operations forwarded to spate-control
 * through the main lcore. Two halves:
 *   struct sp_api_global   the main lcore's: catalog snapshots (RCU), the shard-ring registry,
 *                          the rings between lcores, control-op forwarding over the channel;
 *   struct sp_api          one per worker: connections, buffers, cross-core hand-offs.
 * docs/internals/api.md walks a PutRecords and a GetRecords through these files.
 */
#ifndef SP_API_H
#define SP_API_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <spate/compiler.h>

struct sp_api;
struct sp_api_global;
struct sp_lcore;
struct sp_chan_client;

struct sp_api_conf {
	uint16_t port;       /* TCP port the API listens on (every interface) */
	uint32_t max_conns;  /* API connections per worker */
	uint32_t small_bufs; /* request/response buffers of SP_API_SMALL_BUF_BYTES per worker */
	uint32_t big_bufs;   /* buffers of SP_API_BIG_BUF_BYTES per worker */
	bool tx_zero_copy;   /* answers go to TCP by reference to these buffers (api_buf.h) */
	bool bufs_huge;      /* the buffers in hugepages of each worker's socket, not the heap */
	uint32_t head_timeout_ms;  /* first byte of a request to its last header line */
	uint32_t body_timeout_ms;  /* head to the last body byte */
	uint32_t idle_timeout_ms;  /* keep-alive connection with no request */
	uint32_t send_timeout_ms;  /* HTTP/1.1 answer making no progress (the client reads none) */
	uint32_t ctl_timeout_ms;   /* control operation without an answer from spate-control */
	uint32_t shard_ring_bytes; /* one shard's ring */
	const char *data_dir;      /* store files; NULL or empty: no storage */
	const char *store_devices; /* block devices instead (comma-separated, one per worker) */
	bool durable;              /* ack mode durable (needs data_dir) */
	uint64_t store_bytes;      /* each worker's store file */
	uint64_t seg_bytes;        /* segment size for a new store */
	const char *credentials_file;
	const char *key_file;   /* stream-encryption keys (api_seal.c); NULL or empty: none */
	const char *account_id; /* for keys without one (ARNs, messages) */
	uint16_t tls_port;      /* HTTPS on this port too (0: none; needs tls_cert and tls_key) */
	const char *tls_cert;   /* PEM certificate chain, leaf first; NULL or empty: no TLS */
	const char *tls_key;    /* PEM private key of the leaf */
};

/* Main lcore, boot: rings, RCU state, credentials. Returns 0 or a negative errno (logged). */
SP_MUST_CHECK int sp_api_global_create(struct sp_api_global **out, const struct sp_api_conf *conf,
				       unsigned nb_workers, int socket);
void sp_api_global_destroy(struct sp_api_global *g);

/* Main lcore, boot: a worker's API service (listens on conf->port of lc's TCP stack). */
SP_MUST_CHECK int sp_api_worker_create(struct sp_api_global *g, struct sp_lcore *lc);
void sp_api_worker_destroy(struct sp_api_global *g, unsigned worker);

/* Worker, every loop iteration: cross-core rings, waiting connections, timeouts, RCU. */
unsigned sp_api_worker_poll(struct sp_api *api);

/* Main lcore, every service tick: control replies, forwarding, snapshot reclamation. */
void sp_api_main_poll(struct sp_api_global *g, struct sp_chan_client *chan, uint64_t now_ms);

/* Channel events (main lcore), wired through the channel client's hooks. */
void sp_api_on_config(struct sp_api_global *g, const json_t *msg, struct sp_chan_client *chan);
void sp_api_on_catalog(struct sp_api_global *g, const json_t *msg, struct sp_chan_client *chan);
void sp_api_on_kresp(struct sp_api_global *g, const json_t *msg);
void sp_api_on_disconnect(struct sp_api_global *g);
/*
 * Control's tls_reload message: build a TLS context from the certificate and key files (the
 * message's "cert"/"key" when given, which then stay in force, else the configured ones) and
 * publish it to the workers; connections already open keep theirs. Failures are counted and
 * the last error is shown in the status (api.http.tls).
 */
void sp_api_on_tls_reload(struct sp_api_global *g, const json_t *msg);

/*
 * Control's tls_keys message: session-ticket keys (current, previous) and their rotation
 * period. The context in force is rebuilt with them (sp_tls_ctx_rekey: no file is read) and
 * published as a reload is; later reloads use them too. Main lcore.
 */
void sp_api_on_tls_keys(struct sp_api_global *g, const json_t *msg);

/* Status for spatectl (main lcore): catalog version in force, rings, forwarding counters. */
json_t *sp_api_status_json(const struct sp_api_global *g);

#endif /* SP_API_H */
