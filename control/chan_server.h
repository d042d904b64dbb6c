/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control's side of the dataplane channel (<run_dir>/chan.sock), protocol in
 * include/spate/chan_proto.h. One dataplane at a time; it may connect, leave and come back at
 * any moment. Installs itself as the context's dp_stats hook so that `status` can ask the
 * dataplane for its live stats, as its dp_catalog hook so that control-socket methods that
 * change the catalog push it (ctl_admin.c), and as its dp_kctx hook so that the `kinesis`
 * method runs with the channel's Kinesis settings and the dataplane's worker count; serves the
 * Kinesis control operations the dataplane forwards (kreq/kresp, applied, catalog pushes;
 * ctl_streams.h).
 */
#ifndef SPATE_CONTROL_CHAN_SERVER_H
#define SPATE_CONTROL_CHAN_SERVER_H

#include <stdbool.h>

#include <spate/compiler.h>

struct sp_ctl_ctx;
struct sp_ctl_loop;
struct sp_chan_server;

/* Kinesis settings of the channel (spate-control's command line). */
struct sp_chan_kconf {
	const char *account;  /* 12 digits; used when a kreq names no valid account */
	const char *region;   /* [a-z0-9-]{1,32}; likewise */
	unsigned shard_limit; /* open shards allowed across all streams */
	unsigned consumer_activate_ms; /* a new consumer's CREATING time */
	unsigned consumer_delete_ms;   /* a deregistered consumer's DELETING time */
};

/*
 * Listen at path (mode 0660). kconf is copied. Returns 0, -EINVAL (bad account or region) or
 * -errno.
 */
SP_MUST_CHECK int sp_chan_server_open(struct sp_ctl_loop *loop, struct sp_ctl_ctx *ctx,
				      const char *path, const struct sp_chan_kconf *kconf,
				      struct sp_chan_server **out);

/* After each loop batch: free a closed connection. */
void sp_chan_server_service(struct sp_chan_server *srv);

/* True while a dataplane that said hello is connected. */
bool sp_chan_server_connected(const struct sp_chan_server *srv);

/* Drop the dataplane (waiting status requests finish with connected:false), unlink. */
void sp_chan_server_close(struct sp_chan_server *srv);

#endif /* SPATE_CONTROL_CHAN_SERVER_H */
