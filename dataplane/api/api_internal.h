/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to dataplane/api/: the main lcore's global state and the worker's service state.
 */
#ifndef SP_API_INTERNAL_H
#define SP_API_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <rte_spinlock.h>

#include <spate/compiler.h>
#include <spate/kinesis.h>
#include <spate/limits.h>

#include "api.h"
#include "api_cat.h"
#include "api_xcore.h"
#include "../tls/tls.h"

struct rte_ring;
struct rte_rcu_qsbr;
struct rte_memzone;
struct sp_tls_ctx;

#define SP_API_RETIRE_MAX       64u   /* snapshots waiting for their grace period */
#define SP_API_RING_REG_MAX     8192u /* shard rings alive at once */
#define SP_API_CTL_INFLIGHT_MAX 1024u /* forwarded control operations awaiting an answer */
#define SP_API_TLS_RETIRE_MAX   8u    /* replaced TLS contexts waiting for their grace period */
#define SP_API_TLS_ERR_BYTES    256u  /* the last reload error, for the status */

/* One shard ring in the main lcore's registry. */
/* How often the main lcore looks for drained rings of closed shards. */
#define SP_API_DRAIN_CHECK_MS 50u

struct sp_api_ringent {
	char stream[SP_K_STREAM_NAME_MAX_CHARS + 1];
	uint32_t tag;
	uint32_t index;
	uint64_t seen_version; /* last snapshot build that still had this shard */
	const struct rte_memzone *mz;
	struct sp_shard_ring *ring;
};

struct sp_api_retired {
	struct sp_api_cat *cat;
	uint64_t token; /* rte_rcu_qsbr_start() after it was replaced */
	uint32_t nrings;
	struct sp_api_ringent *rings; /* registry entries to free with it (malloc'd array) */
};

/* One consumer-and-shard's subscriber claim (api_sub.c: the 5-second rule). */
#define SP_API_SUB_CLAIMS 8192u
struct sp_api_sub_claim {
	rte_spinlock_t lock;
	uint32_t gen;	   /* 0: never claimed */
	uint64_t key;	   /* hash of the consumer ARN and shard; 0: free */
	uint64_t since_ms; /* when the subscriber in force began */
};

struct sp_api_global {
	struct sp_api_conf conf;
	char credentials_file[SP_PATH_MAX_BYTES];
	char key_file[SP_PATH_MAX_BYTES];
	char data_dir[SP_PATH_MAX_BYTES];
	char store_devices[SP_PATH_MAX_BYTES];
	char account_id[SP_API_ACCOUNT_BYTES];
	unsigned nb_workers;
	int socket;

	struct sp_api_cat *cat; /* published snapshot: workers load it with acquire */
	struct rte_rcu_qsbr *qsbr;
	struct sp_api_retired retired[SP_API_RETIRE_MAX];
	uint32_t nretired;

	struct sp_api_ringent *ringreg; /* SP_API_RING_REG_MAX entries */
	uint32_t nrings;
	uint64_t ring_seq; /* memzone names */

	struct rte_ring *put[SP_MAX_WORKERS][SP_MAX_WORKERS];      /* [src][dst] */
	struct rte_ring *put_done[SP_MAX_WORKERS][SP_MAX_WORKERS]; /* [dst][src] */
	struct rte_ring *cold[SP_MAX_WORKERS][SP_MAX_WORKERS];      /* [src][dst] */
	struct rte_ring *cold_done[SP_MAX_WORKERS][SP_MAX_WORKERS]; /* [dst][src] */
	struct rte_ring *ctl[SP_MAX_WORKERS];                      /* worker -> main */
	struct rte_ring *ctl_done[SP_MAX_WORKERS];                 /* main -> worker */

	/* Forwarded control operations awaiting kresp, by id % SP_API_CTL_INFLIGHT_MAX. */
	struct sp_api_xctl *inflight[SP_API_CTL_INFLIGHT_MAX];
	uint64_t next_ctl_id;

	bool configured;
	uint32_t epoch;
	char account[SP_API_ACCOUNT_BYTES];
	char region[SP_API_REGION_BYTES];

	struct sp_sigv4_keys *keys; /* credentials, read-only after boot */
	struct sp_keyfile *enc_keys; /* stream-encryption keys, read-only after boot (or NULL) */
	struct sp_api *workers[SP_MAX_WORKERS];

	/* Counters (main lcore). */
	uint64_t snapshots_applied;
	uint64_t snapshots_bad;
	uint64_t rings_created;
	uint64_t rings_failed;
	uint64_t rings_freed;
	uint64_t rings_skipped;  /* closed shards first seen closed: no ring (store) */
	uint64_t drain_rebuilds; /* snapshots built again to let drained rings go */
	uint64_t builds;	 /* snapshot builds: marks which rings a build still names */
	uint64_t drain_check_ms;
	uint64_t applied_wait;	  /* published, not acknowledged yet: a move's handover runs */
	uint64_t applied_delayed; /* the last version whose acknowledgement waited */
	uint64_t applied_delays;  /* versions whose acknowledgement waited for a handover */
	json_t *last_catalog; /* the catalog in force, as sent: built again without drained rings */
	uint64_t ctl_forwarded;
	uint64_t ctl_answered;
	uint64_t ctl_unavailable;
	uint64_t ctl_timeouts;
	struct sp_api_sub_claim sub_claims[SP_API_SUB_CLAIMS]; /* shared by the workers */

	/* TLS (api_tls.c): the context in force (workers load it with acquire at accept) */
	struct sp_tls_ctx *tls_ctx;
	struct {
		struct sp_tls_ctx *ctx;
		uint64_t token; /* rte_rcu_qsbr_start() after it was replaced */
	} tls_retired[SP_API_TLS_RETIRE_MAX];
	uint32_t ntls_retired;
	/* ticket keys: drawn at start, then control's (tls_keys); reloads keep them */
	uint8_t tls_ticket_key[SP_TLS_TICKET_KEY_LEN];
	uint8_t tls_ticket_prev[SP_TLS_TICKET_KEY_LEN]; /* valid when tls_ticket_has_prev */
	bool tls_ticket_has_prev;
	bool tls_ticket_from_ctl;     /* a tls_keys message arrived */
	uint32_t tls_ticket_lifetime_s; /* control's rotation period */
	uint64_t tls_ticket_updates;  /* tls_keys messages that changed the keys */
	uint64_t tls_ticket_bad;      /* tls_keys messages refused */
	char tls_cert[SP_PATH_MAX_BYTES];
	char tls_key[SP_PATH_MAX_BYTES];
	uint64_t tls_generation; /* contexts published: 1 at start, +1 per reload */
	uint64_t tls_reloads;
	uint64_t tls_reload_failed;
	char tls_last_error[SP_API_TLS_ERR_BYTES];
};

/* Load the snapshot in force (workers, between quiescent states). */
static inline const struct sp_api_cat *
sp_api_cat_current(const struct sp_api_global *g)
{
	return __atomic_load_n(&g->cat, __ATOMIC_ACQUIRE);
}

/* Credentials (api_auth.c): load at boot; a missing file leaves g->keys NULL (all refused). */
SP_MUST_CHECK int sp_api_auth_load(struct sp_api_global *g);
void sp_api_auth_free(struct sp_api_global *g);

/* TLS (api_tls.c), main lcore: the first context at boot (0 when TLS is off), the end. */
SP_MUST_CHECK int sp_api_tls_global_init(struct sp_api_global *g);
void sp_api_tls_global_fini(struct sp_api_global *g);
/* Drop replaced contexts no worker can still be loading. */
void sp_api_tls_reclaim(struct sp_api_global *g);

/* Answer a control operation on the main lcore (no spate-control needed, or none reachable). */
void sp_api_ctl_fail(struct sp_api_xctl *x, enum sp_kerr kerr, const char *message);

#endif /* SP_API_INTERNAL_H */
