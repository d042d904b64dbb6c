/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * spate-control's request layer: the JSON-RPC 2.0 dispatcher and its asynchronous requests.
 *
 * The dispatcher knows nothing about sockets. A transport (ctl_server.c for the Unix socket,
 * a unit test, the fuzzer) owns one struct sp_ctl_session per line stream, hands it complete
 * lines through sp_ctl_dispatch_line(), and receives the serialized replies, newline included,
 * through the session's output function, in request order.
 *
 * Each line becomes one struct sp_ctl_req. Its handler must eventually call exactly one of
 * sp_ctl_reply() / sp_ctl_error() (verified). A request may outlive its session: when the
 * transport destroys a session, its unfinished requests are detached, and their replies are
 * dropped when the handler completes them.
 *
 * All of this runs on spate-control's single thread.
 */
#ifndef SPATE_CONTROL_CTL_H
#define SPATE_CONTROL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <jansson.h>

#include <spate/compiler.h>

#include "ctl_balance.h"
#include "ctl_reshard.h"

/* State mask bits of ctl_methods.def: when a method may run. */
#define SP_CTL_STARTUP (1u << 0) /* catalog not yet open, sockets not yet all up */
#define SP_CTL_RUNTIME (1u << 1) /* fully started */

/* JSON-RPC 2.0 error codes (https://www.jsonrpc.org/specification section 5.1). */
#define SP_CTL_E_PARSE (-32700)		/* the line is not valid JSON */
#define SP_CTL_E_INVALID_REQUEST (-32600) /* valid JSON but not a request object, or too long */
#define SP_CTL_E_METHOD_NOT_FOUND (-32601) /* no such method */
#define SP_CTL_E_INVALID_PARAMS (-32602)	/* params not an object, or not accepted */
#define SP_CTL_E_INTERNAL (-32603)	/* spate-control failed (catalog error, no memory) */
/* Spate codes, in the implementation-defined server-error range. Stable: documented. */
#define SP_CTL_E_DP_NOT_CONNECTED (-32000) /* method needs the dataplane and none is connected */
#define SP_CTL_E_STATE (-32001)		/* method not allowed in the current state */
#define SP_CTL_E_BUSY (-32002)		/* too many clients; the connection is closed */
#define SP_CTL_E_NOT_FOUND (-32003)	/* params name something that does not exist (a stream) */

/* Longest error message in a reply; longer ones are cut. */
#define SP_CTL_MAX_ERRMSG_BYTES 256

/* Requests of one session that may wait for their reply at the same time. */
#define SP_CTL_MAX_PENDING_REQS 64

struct sp_cat;
struct sp_ctl_kctx;
struct sp_keyfile;
struct sp_ctl_req;
struct sp_ctl_tickets;

/*
 * Hook through which `status` asks the dataplane for its stats. Returns 0 when the request was
 * taken (the hook's owner later completes it through sp_ctl_status_finish()), or -ENOTCONN when
 * no dataplane is connected (the caller then completes it itself).
 */
typedef int (*sp_ctl_dp_stats_fn)(void *arg, struct sp_ctl_req *req);

/*
 * Hook through which a method that changed the catalog has the new snapshot pushed to the
 * dataplane, as the channel does after a Kinesis control operation. Returns true when a
 * dataplane is connected and the push went out (or is queued), false when none is connected:
 * it then gets the current snapshot with the config that answers its next hello.
 */
typedef bool (*sp_ctl_dp_catalog_fn)(void *arg);

/*
 * Hook through which the `kinesis` method learns what a Kinesis control operation runs
 * against (ctl_streams.h): it fills account, region, shard_limit and keys from spate-control's
 * settings, n_workers from the connected dataplane's hello (0 when none is connected), applied
 * (the catalog version the dataplane last applied) and load (the measured load); now_ms is left
 * to the caller. Returns true when a dataplane is connected. shard_move and shard_balance use
 * it too.
 */
typedef bool (*sp_ctl_dp_kctx_fn)(void *arg, struct sp_ctl_kctx *out);

/*
 * Hook through which `tls_reload` asks the dataplane to build and publish a new TLS context
 * from cert and key (NULL: the files in force). Returns true when the message went out (or is
 * queued), false when no dataplane is connected. The outcome shows in the dataplane's status.
 */
typedef bool (*sp_ctl_dp_tls_reload_fn)(void *arg, const char *cert, const char *key);

/*
 * Hook through which `tls_ticket_rotate` hands the dataplane the ticket keys in force
 * (ctx->tickets). Returns true when the message went out, false when no dataplane is connected
 * (it gets them after the config that answers its next hello).
 */
typedef bool (*sp_ctl_dp_tls_keys_fn)(void *arg);

/* Receives one serialized reply line, newline included. Must not destroy the session. */
typedef void (*sp_ctl_out_fn)(void *arg, const char *line, size_t len);

/* What the handlers can see. One per process; tests and the fuzzer make their own. */
struct sp_ctl_ctx {
	unsigned state;		/* SP_CTL_STARTUP or SP_CTL_RUNTIME */
	struct sp_cat *cat;	/* NULL: catalog methods answer SP_CTL_E_INTERNAL */
	const struct sp_keyfile *keys; /* --key-file (read-only once loaded); NULL: none */
	const char *key_file;	       /* its path; NULL: none */
	const char *name;	/* instance name */
	const char *data_dir;
	const char *run_dir;
	pid_t pid;
	uint64_t start_ms;	/* CLOCK_MONOTONIC at start, for uptime */
	unsigned n_clients;	/* control-socket clients, kept by ctl_server.c */
	uint64_t chan_unknown_msgs; /* channel messages of unknown type, kept by chan_server.c */
	sp_ctl_dp_stats_fn dp_stats; /* NULL: never connected */
	sp_ctl_dp_catalog_fn dp_catalog; /* NULL: no channel (nothing to push to) */
	sp_ctl_dp_kctx_fn dp_kctx;       /* NULL: no channel (`kinesis` answers -32603) */
	sp_ctl_dp_tls_reload_fn dp_tls_reload; /* NULL: no channel */
	sp_ctl_dp_tls_keys_fn dp_tls_keys;     /* NULL: no channel */
	struct sp_ctl_tickets *tickets;        /* TLS ticket keys (ctl_tickets.h); NULL: none */
	void *dp_arg;                    /* argument of the dp_ hooks */
	uint64_t n_requests;	/* requests dispatched, all sessions */
	struct sp_ctl_od od;	/* on-demand capacity: bars and the previous sample */
	struct sp_ctl_load load; /* per-shard rates of the latest samples (chan_server.c) */
	unsigned balance_interval_s; /* automatic balancing at most this often; 0: off */
	int64_t balance_last_ms;     /* sp_ctl_now_ms() of the last automatic run; 0: none */
};

/* One line stream (a client connection, a test, the fuzzer). */
struct sp_ctl_session {
	struct sp_ctl_ctx *ctx;
	sp_ctl_out_fn out;
	void *out_arg;
	TAILQ_HEAD(, sp_ctl_req) pending; /* in arrival order; replies leave from the head */
	unsigned n_pending;		  /* requests in pending, answered or not */
};

/* A method of the table generated from include/spate/ctl_methods.def. */
struct sp_ctl_method {
	const char *name;
	unsigned state_mask;
	const char *params;
	const char *help;
	void (*handler)(struct sp_ctl_req *req);
};

/* One request. Handlers read it through the accessors below and may park it on a list. */
struct sp_ctl_req {
	TAILQ_ENTRY(sp_ctl_req) link;	   /* in session->pending */
	TAILQ_ENTRY(sp_ctl_req) wait_link; /* free for the handler's owner (e.g. stats waiters) */
	struct sp_ctl_session *session;	   /* NULL once detached */
	struct sp_ctl_ctx *ctx;
	const struct sp_ctl_method *method; /* NULL for requests rejected before dispatch */
	json_t *id;			   /* the request's id (json null if absent) */
	json_t *params;			   /* an object, never NULL once dispatched */
	char *reply;			   /* serialized reply line, once answered */
	size_t reply_len;
	bool done;
};

/*
 * Handlers, one per line of include/spate/ctl_methods.def: sp_ctl_m_<name>(). The read-only
 * ones live in ctl_methods.c, those that change state in ctl_admin.c.
 */
#define SP_CTL_METHOD(name, mask, params, help) void sp_ctl_m_##name(struct sp_ctl_req *req);
#include <spate/ctl_methods.def>
#undef SP_CTL_METHOD

/* Method table. */
size_t sp_ctl_method_count(void);
const struct sp_ctl_method *sp_ctl_method_at(size_t i);
const struct sp_ctl_method *sp_ctl_method_find(const char *name);

/* Sessions. fini detaches unanswered requests and frees answered ones. */
void sp_ctl_session_init(struct sp_ctl_session *s, struct sp_ctl_ctx *ctx, sp_ctl_out_fn out,
			 void *out_arg);
void sp_ctl_session_fini(struct sp_ctl_session *s);

/*
 * Parse and dispatch one line (without its newline). Blank lines are ignored and return 0;
 * any other line returns 1 and gets exactly one reply, now or later.
 */
int sp_ctl_dispatch_line(struct sp_ctl_session *s, const char *line, size_t len);

/* Queue an error reply not tied to a request line (e.g. the line was too long). */
void sp_ctl_session_error(struct sp_ctl_session *s, int code, const char *msg);

/*
 * Complete a request. reply takes the reference to result (NULL means the handler ran out of
 * memory and becomes SP_CTL_E_INTERNAL). Exactly one call per request; the request may be
 * freed before it returns.
 */
void sp_ctl_reply(struct sp_ctl_req *req, json_t *result);
void sp_ctl_error(struct sp_ctl_req *req, int code, const char *msg);

/* Finish a `status` request with the dataplane object (reference taken; see ctl_methods.c). */
void sp_ctl_status_finish(struct sp_ctl_req *req, json_t *dataplane);

/* Serialize one JSON-RPC reply line; the caller frees *line. Returns 0 or -ENOMEM. */
SP_MUST_CHECK int sp_ctl_reply_line(json_t *id, json_t *result, int code, const char *msg,
				    char **line, size_t *len);

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t sp_ctl_now_ms(void);

#endif /* SPATE_CONTROL_CTL_H */
