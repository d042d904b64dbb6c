/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The channel between spate-control (server) and spate-dataplane (client).
 *
 * Transport: a Unix stream socket, <run_dir>/chan.sock, one dataplane at a time. Framing:
 * newline-delimited JSON objects, each at most SP_CHAN_MAX_LINE_BYTES. Every message has a
 * "msg" member naming its type; the dataplane's hello carries "proto", and control refuses
 * (closes) a peer whose proto differs from SP_CHAN_PROTO_VERSION.
 *
 * Only the dataplane's main (service) lcore touches the channel; workers never do.
 *
 *   dataplane -> control
 *     {"msg":"hello","proto":1,"pid":P,"name":"NAME"}          first line after connect
 *     {"msg":"stats","seq":N,"dataplane":{...}}                answer to stats_req N
 *   control -> dataplane
 *     {"msg":"config","proto":1,"catalog_version":V,"catalog":{...}}
 *                                                              answer to hello: the snapshot
 *     {"msg":"catalog","catalog_version":V,"catalog":{...}}    a newer snapshot (later issues)
 *     {"msg":"stats_req","seq":N}                              ask for live status/counters
 *
 * The "dataplane" object of a stats message is documented in docs/control-socket.md; spatectl
 * renders it. Messages with an unknown "msg" are counted and ignored by both sides, so either
 * side may add message types without a version bump; changing a message's meaning bumps proto.
 */
#ifndef SPATE_CHAN_PROTO_H
#define SPATE_CHAN_PROTO_H

#define SP_CHAN_PROTO_VERSION 1

#define SP_CHAN_SOCK_NAME "chan.sock"
#define SP_CTL_SOCK_NAME "control.sock"

#define SP_CHAN_MSG_HELLO "hello"
#define SP_CHAN_MSG_CONFIG "config"
#define SP_CHAN_MSG_CATALOG "catalog"
#define SP_CHAN_MSG_STATS_REQ "stats_req"
#define SP_CHAN_MSG_STATS "stats"

#endif /* SPATE_CHAN_PROTO_H */
