/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Dataplane side of the channel to spate-control (protocol: include/spate/chan_proto.h).
 *
 * Two layers. The transport seam (STYLE.md §15) moves bytes: connect, send, recv, close; the
 * real one is a non-blocking Unix stream socket (chan_unix.c), a simulator supplies its own.
 * The client (chan_client.c) speaks the protocol over it: hello on connect, applies config and
 * catalog snapshots, answers stats requests, reconnects with backoff when control goes away.
 * Only the main lcore runs it, from its service loop; it never blocks.
 */
#ifndef SP_CHAN_H
#define SP_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include <spate/compiler.h>

struct sp_chan_transport_ops {
	/* Start or finish connecting: 0 connected, -EAGAIN in progress, other -errno failed. */
	int (*connect)(void *ctx);
	/* Bytes written, -EAGAIN if none could be, other -errno on a broken connection. */
	ssize_t (*send)(void *ctx, const void *buf, size_t len);
	/* Bytes read, 0 at end of stream, -EAGAIN if none available, other -errno on error. */
	ssize_t (*recv)(void *ctx, void *buf, size_t len);
	void (*close)(void *ctx);
};

struct sp_chan_transport {
	const struct sp_chan_transport_ops *ops;
	void *ctx;
};

/* Unix-socket transport. */
struct sp_chan_unix {
	char path[108];
	int fd;
	bool connecting;
};
extern const struct sp_chan_transport_ops sp_chan_unix_ops;
void sp_chan_unix_init(struct sp_chan_unix *u, const char *path);

/* Builds the "dataplane" object of a stats reply; the client takes the reference. */
typedef json_t *(*sp_chan_stats_fn)(void *arg);

/*
 * What the dataplane does with control's messages beyond the channel's own bookkeeping (the
 * Kinesis API service, api_main.c). Every hook is optional and runs on the main lcore.
 */
struct sp_chan_hooks {
	void (*on_config)(void *arg, const json_t *msg);  /* config: epoch, account, catalog */
	void (*on_catalog)(void *arg, const json_t *msg); /* a newer catalog snapshot */
	void (*on_kresp)(void *arg, const json_t *msg);	  /* answer to a forwarded operation */
	void (*on_disconnect)(void *arg);		  /* pending kreqs will get no answer */
	void (*on_tls_reload)(void *arg, const json_t *msg); /* build and publish a TLS context */
	void (*on_tls_keys)(void *arg, const json_t *msg);   /* session-ticket keys: rekey */
	void *arg;
};

#define SP_CHAN_BACKOFF_MIN_MS 50
#define SP_CHAN_BACKOFF_MAX_MS 2000

struct sp_chan_client {
	struct sp_chan_transport tr;
	sp_chan_stats_fn stats_fn;
	void *stats_arg;
	char name[64];
	long pid;

	bool connected;
	uint64_t next_attempt_ms;
	uint64_t backoff_ms;

	char *in;  /* partial line received, SP_CHAN_MAX_LINE_BYTES */
	size_t in_len;
	char *out; /* bytes waiting to be sent, SP_CHAN_OUT_BYTES */
	size_t out_len;

	struct sp_chan_hooks hooks;
	unsigned workers; /* reported in hello */

	bool configured;	  /* a config snapshot arrived since start */
	uint64_t catalog_version; /* version of the snapshot in force */

	/* Counters, reported in the stats message. */
	uint64_t connects;
	uint64_t disconnects;
	uint64_t msgs_in;
	uint64_t msgs_out;
	uint64_t msgs_unknown;
	uint64_t msgs_bad;
};

#define SP_CHAN_OUT_BYTES (8 * 1024 * 1024) /* outgoing queue: a few stats replies */

/* Allocate buffers (boot time). Returns 0 or -ENOMEM. */
SP_MUST_CHECK int sp_chan_client_init(struct sp_chan_client *c, struct sp_chan_transport tr,
				      const char *name, long pid, sp_chan_stats_fn fn, void *arg);
void sp_chan_client_fini(struct sp_chan_client *c);

/* Do whatever I/O is possible without blocking; now_ms drives reconnection backoff. */
void sp_chan_client_poll(struct sp_chan_client *c, uint64_t now_ms);

/*
 * Forward a Kinesis control operation (body: the raw request body, any bytes). Returns 0,
 * -ENOTCONN without a configured connection, -EINVAL if the body cannot travel as a JSON string
 * (not UTF-8: the caller answers SerializationException itself) or -ENOBUFS when the output
 * queue is full.
 */
SP_MUST_CHECK int sp_chan_client_send_kreq(struct sp_chan_client *c, uint64_t id, const char *op,
					   const char *account, const char *region,
					   const char *body, size_t len);

/* Tell control the dataplane now serves catalog version v (drives CREATING -> ACTIVE). */
void sp_chan_client_send_applied(struct sp_chan_client *c, uint64_t version);

/* Handle one received line (no newline). Exposed for tests and the fuzzer. */
void sp_chan_client_handle_line(struct sp_chan_client *c, const char *line, size_t len);

#endif /* SP_CHAN_H */
