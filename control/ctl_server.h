/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket (<run_dir>/control.sock): operators and spatectl speak newline-delimited
 * JSON-RPC here. Bounds from include/spate/limits.h: SP_CTL_MAX_CLIENTS clients,
 * SP_CTL_MAX_LINE_BYTES per request line, SP_CTL_MAX_OUTBUF_BYTES of queued replies per client.
 */
#ifndef SPATE_CONTROL_CTL_SERVER_H
#define SPATE_CONTROL_CTL_SERVER_H

#include <spate/compiler.h>

struct sp_ctl_ctx;
struct sp_ctl_loop;
struct sp_ctl_server;

/* Listen at path (mode 0660). Returns 0 or -errno. */
SP_MUST_CHECK int sp_ctl_server_open(struct sp_ctl_loop *loop, struct sp_ctl_ctx *ctx,
				     const char *path, struct sp_ctl_server **out);

/* After each loop batch: resume throttled clients, free closed ones. */
void sp_ctl_server_service(struct sp_ctl_server *srv);

/* Close every client (their pending requests are detached), the socket, and unlink it. */
void sp_ctl_server_close(struct sp_ctl_server *srv);

#endif /* SPATE_CONTROL_CTL_SERVER_H */
