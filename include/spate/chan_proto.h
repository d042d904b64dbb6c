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
 *     {"msg":"hello","proto":1,"pid":P,"name":"NAME","workers":N}
 *                                                              first line after connect; N is
 *                                                              the worker count (1 if absent)
 *     {"msg":"stats","seq":N,"dataplane":{...}}                answer to stats_req N
 *     {"msg":"kreq","id":ID,"op":"CreateStream","account":"123456789012",
 *      "region":"us-east-1","body":"<request body, a JSON string>"}
 *                                                              a forwarded Kinesis control
 *                                                              operation (SP_KOP_CONTROL)
 *     {"msg":"applied","catalog_version":V}                    snapshot V is in force
 *   control -> dataplane
 *     {"msg":"config","proto":1,"catalog_version":V,"catalog":{...},"epoch":E,
 *      "account":"123456789012","region":"us-east-1"}          answer to hello: the snapshot,
 *                                                              the boot epoch of this dataplane
 *                                                              (+1 per hello, persisted) and
 *                                                              the default account and region
 *     {"msg":"catalog","catalog_version":V,"catalog":{...}}    a newer snapshot, after every
 *                                                              catalog change
 *     {"msg":"kresp","id":ID,"status":200,"type":"","message":"","message_key":"message",
 *      "body":"<response body text>"}                          the answer to kreq ID
 *     {"msg":"stats_req","seq":N}                              ask for live status/counters
 *     {"msg":"tls_reload","cert":PATH,"key":PATH}              build a new TLS context from
 *                                                              these files (both optional:
 *                                                              the ones in force) and publish
 *                                                              it; no answer (the outcome is
 *                                                              in the stats: api.http.tls)
 *     {"msg":"tls_keys","current":HEX,"previous":HEX,"rotate_s":N}
 *                                                              session-ticket keys (160 hex
 *                                                              digits each; previous optional,
 *                                                              opens tickets only): after every
 *                                                              config and every rotation; the
 *                                                              dataplane rekeys its context
 *
 * kreq/kresp: exactly one kresp per kreq, with the kreq's id echoed. status is the HTTP
 * status; type the bare error type (sp_kerr_table) or "" on success; message "" when there is
 * none (then the error body is {"__type":T} alone); message_key "message" or "Message" (the
 * latter for SerializationException); body the success response body, "" for operations
 * without output and for every error. An op that is not a control operation is answered
 * UnknownOperationException (400). account and region name the caller (SigV4 scope); control
 * falls back to its defaults when they are missing or malformed. When a kreq changed the
 * catalog, its catalog message is sent before its kresp.
 *
 * applied/catalog: the dataplane says applied after installing each snapshot (config or
 * catalog). That moves streams on (CREATING -> ACTIVE, DELETING -> removed) and, if anything
 * changed, control pushes the next snapshot; the exchange stops when an applied changes
 * nothing. Details: docs/internals/control-ops.md.
 *
 * The "catalog" object: {"catalog_version":V,"streams":[{"name","arn","status","mode",
 * "retention_hours","created_ms","encryption","key_id","stream_tag","max_record_bytes",
 * "quota_records_per_s","quota_bytes_per_s","shards":[{"shard_id","index",
 * "starting_hash_key","ending_hash_key","parent_shard_id","adjacent_parent_shard_id",
 * "starting_seq","ending_seq","owner_lcore","past_owners"}]}]} (control/catalog.h). Streams by
 * name, shards by index; hash keys and sequence numbers are decimal strings; ending_seq is null
 * while open; owner_lcore is the worker that appends to the shard; "past_owners" (left out when
 * empty) lists, oldest ownership first and without duplicates, the workers that owned the shard
 * before a move (`shard_move`) and may still hold records of it in their own store, so reads
 * of older records can find them (asking their stores in that order, then the owner's); it
 * never contains owner_lcore, and a worker leaves the list once its records are past the
 * stream's retention (control sweeps every SP_CHAN_SWEEP_MS);
 * "encryption" is "KMS" or "NONE" and "key_id" the KeyId as StartStreamEncryption's client gave
 * it ("" when NONE), to resolve against the key file (config key key_file,
 * include/spate/keyfile.h).
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
#define SP_CHAN_MSG_KREQ "kreq"
#define SP_CHAN_MSG_KRESP "kresp"
#define SP_CHAN_MSG_APPLIED "applied"
#define SP_CHAN_MSG_TLS_RELOAD "tls_reload"
#define SP_CHAN_MSG_TLS_KEYS "tls_keys"

/* A session-ticket key: name 16, HMAC-SHA256 key 32, AES-256 key 32 (dataplane/tls/tls.h). */
#define SP_CHAN_TLS_TICKET_KEY_LEN 80

#endif /* SPATE_CHAN_PROTO_H */
