/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Named bounds that cross process or subsystem boundaries (STYLE.md §11). Units are in the
 * names. Bounds private to one subsystem live in that subsystem's headers.
 */
#ifndef SPATE_LIMITS_H
#define SPATE_LIMITS_H

/* Dataplane shape. */
#define SP_MAX_WORKERS 16 /* worker lcores per dataplane */
#define SP_MAX_PORTS 4	  /* ethdev ports per dataplane */
#define SP_MAX_PORT_ADDRS 1 /* IPv4 addresses per port */

/* Control socket (operators, spatectl). */
#define SP_CTL_MAX_CLIENTS 32		   /* concurrent control-socket clients */
#define SP_CTL_MAX_LINE_BYTES (64 * 1024)	   /* one request line, newline included */
#define SP_CTL_MAX_OUTBUF_BYTES (4 * 1024 * 1024) /* queued replies per client */

/* Channel between spate-control and spate-dataplane. */
#define SP_CHAN_MAX_LINE_BYTES (4 * 1024 * 1024) /* one channel message, newline included */
#define SP_CHAN_STATS_TIMEOUT_MS 1000		 /* control waits this long for a stats reply */
#define SP_CHAN_SWEEP_MS 5000 /* control removes expired closed shards this often */

/* Names and paths. */
#define SP_NAME_MAX_BYTES 32 /* instance name: [a-z0-9-], used in paths and netns names */
#define SP_PATH_MAX_BYTES 256

#endif /* SPATE_LIMITS_H */
