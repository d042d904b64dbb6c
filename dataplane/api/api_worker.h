/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to dataplane/api/: one worker's API service — connections, buffers, requests.
 */
#ifndef SP_API_WORKER_H
#define SP_API_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <spate/kinesis.h>
#include <spate/seqno.h>

#include "../core/lathist.h"
#include "../http/http.h"
#include "../sigv4/sigv4.h"
#include "api_buf.h"
#include "api_cbor.h"
#include "api_internal.h"
#include "api_req.h"
#include "../shard/shard_ring.h"
#include "seal.h"
#include "store.h"

struct rte_mbuf;
struct rte_mempool;
struct sp_tcb;
struct sp_sigv4;
struct sp_io_uring;
struct sp_api_h2;
struct sp_tls_conn;

#define SP_API_SMALL_BUF_BYTES (256u * 1024u)
#define SP_API_SWEEP_PER_POLL  64u   /* connections checked for timeouts per poll */
#define SP_API_RESUME_PER_POLL 16u   /* waiting connections retried per poll */
#define SP_API_MSG_BYTES       9216u /* an error message (SigV4 texts echo the header) */
#define SP_API_CORS_BYTES      4096u /* a preflight answer's echoed request headers and method */
/* A response's fixed part: status line and headers. */
#define SP_API_RESP_HEAD_BYTES 1024u
/* Largest request body: a 10 MiB record's base64 and its JSON fit (reference §1.7). */
#define SP_API_BODY_MAX_BYTES SP_K_HTTP_BODY_MAX_BYTES
/*
 * A big buffer: the response head, the body, and after it the JSON scanner's arena for
 * unescaped strings, which can be as long as the body (docs/DESIGN.md, "The Kinesis API
 * service"). Allocated from the heap at start: pages are touched only when a request is
 * that large.
 */
#define SP_API_BIG_BUF_BYTES (SP_API_RESP_HEAD_BYTES + 2u * SP_API_BODY_MAX_BYTES)

/*
 * Per-shard write quota state on the shard's owner: a one-second window (records and bytes
 * accepted in the current second). Direct-mapped by (stream tag, shard index); a collision
 * restarts the window, which can only let a little more through, never refuse wrongly.
 */
#define SP_API_QUOTA_SLOTS 4096u
struct sp_api_quota {
	uint64_t key; /* tag << 32 | shard index, +1 (0: empty) */
	uint64_t sec;
	uint64_t bytes;
	uint32_t records;
};

/* Owner side of one shard's log (api_store.c), indexed by the log's slot in the store. */
/* A sealed ring this worker still has to drain (api_reshard.c); at most this many at once. */
#define SP_API_DRAIN_MAX 256u
struct sp_api_drain {
	uint32_t tag;
	uint32_t index;
};

struct sp_api_feed {
	struct sp_shard_ring *ring; /* NULL: not attached by this worker */
	struct sp_slog *log;
	sp_u128 fed;      /* the next ring record to feed is the first >= this */
	sp_u128 fed_last; /* the last record fed */
	sp_u128 shown;    /* durable watermark published to the ring's gate */
	uint64_t pending; /* frame bytes appended to the ring, not yet fed to the log */
	bool listed;
	bool at_tip; /* the last feed reached the ring's tip */
	uint32_t next;
	/* sealing (api_seal.c): whose records these are, and the shard key made last */
	char stream[SP_K_STREAM_NAME_MAX_CHARS + 1];
	uint16_t stream_len;
	int64_t created_ms;
	uint32_t index;
	uint16_t keyed; /* the key-file slot shard_key was made from; 0: none yet */
	uint8_t shard_key[SP_SEAL_KEY_BYTES];
	struct sp_seg_sealer sealer;
};

enum sp_api_conn_state {
	SP_API_CONN_FREE = 0,
	SP_API_CONN_READ,     /* parsing requests (idle, head or body) */
	SP_API_CONN_WAIT_BUF, /* head parsed, no body buffer free: retried from the poll */
	SP_API_CONN_ASYNC,    /* a request waits on other lcores (puts, control) */
	SP_API_CONN_SEND,     /* response bytes wait for send-buffer space */
	SP_API_CONN_CLOSING,  /* FIN sent or reset: waiting for closed() */
	SP_API_CONN_H2,	      /* an HTTP/2 connection: its streams are exchanges (api_h2.c) */
	SP_API_CONN_STREAM,   /* HTTP/1.1 streamed answer (events) between two chunks */
};

/* An HTTP/2 stream's pseudo-header fields, kept until its request line can be written. */
#define SP_API_H2_METHOD_MAX 24u
#define SP_API_H2_PATH_MAX   1024u
#define SP_API_H2_AUTH_MAX   256u
struct sp_api_h2_pseudo {
	uint8_t method_len;
	uint16_t path_len;
	uint16_t auth_len;
	bool line_done;	     /* the request line (and host) went to the parser */
	bool chunked;	     /* no content-length: DATA frames go to the parser as chunks */
	bool has_length;     /* a content-length field was seen */
	bool failed;	     /* answered early (a refusal): the rest of the request is ignored */
	bool deferred;	     /* its DATA waits for send space (nghttp2_session_resume_data) */
	bool streaming;	     /* an answer of events (SubscribeToShard): DATA as they come */
	bool stream_end;     /* streaming: END_STREAM once what is queued has left */
	bool sub;	     /* in the worker's subscription table (api_sub.c) */
	bool head_pending;   /* HTTP/1.1 streaming: the head goes out with the first chunk */
	bool last_sent;	     /* HTTP/1.1 streaming: the last chunk (0) is queued */
	const char *stream_ctype; /* HTTP/1.1 streaming: the answer's Content-Type */
	bool fetching;	     /* sub: a read of the store is out (GetRecords' cold path) */
	char method[SP_API_H2_METHOD_MAX];
	char path[SP_API_H2_PATH_MAX];
	char auth[SP_API_H2_AUTH_MAX];
};

/* One in-flight request's context (lives in its connection). */
struct sp_api_req {
	struct sp_api_conn *conn;
	enum sp_kop op;
	uint32_t pending; /* cross-core messages not yet back */
	uint32_t nrecs;   /* PutRecord(s) entries */
	uint64_t now_ms;  /* wall clock at dispatch */
	bool cbor;        /* Content-Type application/x-amz-cbor-1.1: answers in CBOR */
	uint16_t stream_len;
	char stream[SP_K_STREAM_NAME_MAX_CHARS + 1];
	char account[16];
	char region[SP_SIGV4_REGION_MAX + 1];
	struct sp_api_xrec recs[SP_K_PUT_RECORDS_MAX_ENTRIES];
	uint32_t rec_shard[SP_K_PUT_RECORDS_MAX_ENTRIES]; /* shard index of each entry */
	uint32_t tag;	   /* the stream's incarnation the records were routed in */
	uint8_t reroutes;  /* rounds of records sent again after a reshard closed their shard */
	struct sp_api_xput xput[SP_MAX_WORKERS];
	struct sp_api_xctl xctl;
	struct sp_api_xcold xcold;
	uint32_t get_limit;    /* GetRecords: Limit */
	uint32_t get_json_cap; /* GetRecords from the store: answer bytes before the read area */
};

/*
 * One connection slot. An HTTP/1.1 connection is its own exchange: one request at a time, in
 * this slot. An HTTP/2 connection (state SP_API_CONN_H2) holds the session in h2, and each of
 * its streams takes a slot of its own as the exchange (owner set, tcb the connection's while
 * the stream is open): operations see the same struct either way.
 */
struct sp_api_conn {
	struct sp_api *api;
	struct sp_tcb *tcb; /* NULL once closed (an h2 exchange: once its stream is gone) */
	enum sp_api_conn_state state;
	uint32_t idx;
	struct rte_mbuf *in; /* received bytes not yet parsed (a chain) */
	uint32_t in_off;     /* bytes of in's first segment already parsed */
	struct sp_http_req http;
	struct sp_api_buf buf; /* body, then response */
	const char *out;       /* response bytes not yet handed to TCP */
	uint32_t out_len;
	bool close_after;       /* Connection: close, HTTP/1.0, or an error that ends it */
	bool peer_closed;       /* FIN received */
	bool sent_continue;     /* 100 Continue sent for this request */
	bool cors;              /* the request had an Origin header: CORS headers on the answer */
	const char *cors_extra; /* preflight headers (OPTIONS), NUL-terminated, or NULL */
	bool in_run;            /* inside conn_run(): a finished response must not recurse */
	uint64_t deadline_ms;
	struct sp_api_conn *next_wait; /* WAIT_BUF list */
	uint32_t nreq;		       /* requests served on this connection */
	/* HTTP/2 (api_h2.c) */
	struct sp_api_h2 *h2;	    /* the session: the connection's, or an exchange's owner's */
	struct sp_api_conn *owner;  /* an h2 exchange: its connection; NULL otherwise */
	int32_t stream_id;	    /* an h2 exchange: its stream */
	struct sp_api_h2_pseudo *ps; /* an h2 exchange: its pseudo-headers (api->h2_pseudo) */
	/* TLS (api_tls.c): the connection came in on tls_port; NULL on the cleartext port */
	struct sp_tls_conn *tls;
	struct rte_mbuf *tls_in; /* ciphertext received, not yet fed to the TLS layer (a chain) */
	uint32_t tls_in_off;     /* bytes of tls_in's first segment already fed */
	struct rte_mbuf *tls_pt; /* plaintext handed to sp_api_conn_tx, not yet encrypted */
	uint32_t tls_pt_off;
	uint32_t tls_pt_len;
	struct rte_mbuf *tls_ct; /* ciphertext waiting for TCP send space (mbufs linked by next) */
	struct rte_mbuf *tls_ct_tail;
	uint32_t tls_ct_len;
	uint8_t tls_alpn;  /* enum sp_tls_alpn, once the handshake is done */
	bool tls_up;       /* handshake completed (counted) */
	bool tls_fin;      /* TCP FIN received (peer_closed: no more plaintext) */
	bool tls_eof;      /* the TLS layer was told */
	bool tls_failed;   /* fatal error: the alert goes out, input is ignored, output dropped */
	bool tls_close;    /* close TCP once the queued ciphertext is handed over */
	bool tls_fin_sent; /* sp_tcp_close called */
	struct sp_api_req req;
};

/* One SubscribeToShard stream (api_sub.c). */
#define SP_API_SUBS_MAX 256u /* per worker */
#define SP_API_SUB_NO_TIME UINT64_MAX
struct sp_api_sub {
	struct sp_api_conn *x; /* its exchange (an HTTP/2 stream) */
	uint32_t tag;	       /* stream incarnation and shard */
	uint32_t shard;
	uint16_t stream_len;
	char stream[SP_K_STREAM_NAME_MAX_CHARS + 1];
	sp_u128 pos;	      /* the next record to deliver is the first >= pos */
	uint64_t t_ms;	      /* or AT_TIMESTAMP t_ms, in the store (SP_API_SUB_NO_TIME: none) */
	sp_u128 last;	      /* ContinuationSequenceNumber so far (0: none yet) */
	uint64_t deadline_ms; /* five minutes after it began */
	uint64_t beat_ms;     /* the last event: a heartbeat goes a second after */
	uint64_t claim_key;   /* the consumer and shard's claim (g->sub_claims) */
	uint32_t claim_gen;
};

struct sp_api_counters {
	uint64_t conns_accepted;
	uint64_t conns_refused; /* no connection slot */
	uint64_t requests;
	uint64_t responses_2xx;
	uint64_t responses_4xx;
	uint64_t responses_5xx;
	uint64_t http_errors; /* malformed HTTP answered 4xx/5xx and closed */
	uint64_t timeouts_head;
	uint64_t timeouts_body;
	uint64_t timeouts_idle;
	uint64_t timeouts_send; /* HTTP/1.1 answers the client took nothing of for send_timeout */
	uint64_t buf_waits; /* a request waited for a body buffer */
	uint64_t mbuf_fail; /* a response waited for mbufs */
	uint64_t tx_body_ref_bytes;    /* answer bytes handed to TCP by reference (api_buf.h) */
	uint64_t tx_body_copied_bytes; /* answer bytes copied into mbufs */
	uint64_t buf_lent_waits;       /* subscription turns that waited for an unlent buffer */
	uint64_t records_in;
	uint64_t records_out;
	uint64_t xput_sent;
	uint64_t xput_served;
	uint64_t xput_ring_full;
	uint64_t ring_full;          /* records refused: shard ring full */
	uint64_t store_refused;      /* records refused: their log is failing or out of space */
	uint64_t ring_trims;         /* a full ring dropped its durable records */
	uint64_t ring_trimmed;       /* records dropped so (still in the store) */
	uint64_t ring_expired;       /* ring records dropped: older than their stream's retention */
	uint64_t store_logs_dropped; /* logs of deleted streams released */
	uint64_t store_attach_failed;
	uint64_t store_feed_waits;  /* feeds stopped for a write to complete */
	uint64_t store_feed_errors; /* feeds stopped by a store error (retried) */
	uint64_t cold_reads;        /* GetRecords served (or tried) from the store, as owner */
	uint64_t cold_records;
	uint64_t cold_busy; /* refused: too many reads in flight */
	uint64_t cold_errors;
	uint64_t sealed_records; /* records sealed on their way to the store (encrypted streams) */
	uint64_t opened_records; /* sealed records opened for GetRecords */
	uint64_t seal_errors;	 /* sealing or opening failed (a key missing, a tag wrong) */
	uint64_t kms_refused;	 /* records of an encrypted stream whose key this file lacks */
	uint64_t quota_refused; /* records refused: the stream's per-shard quota */
	uint64_t rings_sealed;	     /* shards closed by a reshard, sealed by their owner */
	uint64_t put_rerouted;	     /* records refused by a closed shard, routed again */
	uint64_t put_reroute_rounds; /* PutRecord(s) that routed records again */
	uint64_t shard_ends;	     /* GetRecords answers at a closed shard's end */
	uint64_t rings_drained;	     /* sealed rings handed over to the store, then freed */
	uint64_t moves_out;	     /* rings this worker handed to a shard's new owner */
	uint64_t put_waits;	     /* put messages that waited for a moved shard's ring */
	uint64_t cold_hops;	     /* cold reads passed on to the next store of a moved shard */
	uint64_t h2_sessions;	     /* connections that began with the HTTP/2 preface */
	uint64_t h2_streams;	     /* requests on them */
	uint64_t h2_refused;	     /* streams refused: no exchange slot or body buffer */
	uint64_t h2_goaways;	     /* sessions ended by our GOAWAY (protocol error, idle) */
	uint64_t h2_stream_resets;   /* streams the peer or we reset before their answer */
	uint64_t h2_fatal;	     /* sessions nghttp2 could not go on with */
	uint64_t subscriptions;	     /* SubscribeToShard streams begun */
	uint64_t sub_refused;	     /* refused: the consumer's shard had a subscriber < 5 s old */
	uint64_t sub_events;	     /* SubscribeToShardEvent messages */
	uint64_t sub_failed;	     /* subscriptions ended by an exception event */
	uint64_t sub_cold_events;    /* events of records read from the store */
	uint64_t sub_open;	     /* (status only: subscriptions open now) */
	uint64_t tls_accepted;       /* connections on tls_port */
	uint64_t tls_refused;        /* no context or no memory for the TLS state: reset */
	uint64_t tls_handshakes;     /* completed */
	uint64_t tls_hs_failed;      /* handshakes that ended in an error or the input's end */
	uint64_t tls_v12;            /* completed handshakes by version */
	uint64_t tls_v13;
	uint64_t tls_alpn_h2; /* completed handshakes by protocol (no ALPN counts as http/1.1) */
	uint64_t tls_alpn_http11;
	uint64_t tls_resumed;       /* from a session ticket */
	uint64_t tls_alerts_sent;   /* fatal alerts sent (handshake or record errors) */
	uint64_t tls_proto_refused; /* h2 without the preface, or the preface on http/1.1 */
	uint64_t tls_truncated;     /* input ended without close_notify mid-connection */
	uint64_t tls_close_notify;  /* close_notify received */
	uint64_t ops[SP_KOP_COUNT];
	uint64_t errors[SP_KERR_COUNT];
};

struct sp_api {
	struct sp_api_global *g;
	struct sp_lcore *lc;
	struct sp_tcp *tcp;
	struct rte_mempool *pool;
	unsigned worker;
	uint64_t sealed_version; /* snapshot whose closed shards this worker sealed */
	struct sp_api_drain drain[SP_API_DRAIN_MAX]; /* sealed rings not drained yet */
	uint32_t ndrain;
	uint64_t moved_version;			     /* snapshot this worker looked at for moves */
	struct sp_api_drain moving[SP_API_DRAIN_MAX]; /* rings to hand to their new owner */
	uint32_t nmoving;
	struct sp_api_xput **waiting; /* puts for shards whose ring is not handed over yet, FIFO */
	uint32_t nwaiting;
	uint32_t waiting_cap;
	int64_t wall_offset_ms; /* realtime minus the clock seam's milliseconds, at create */
	struct sp_sigv4 *sigv4; /* NULL without credentials: every request refused */

	struct sp_api_conn *conns;
	uint32_t nconns;
	uint32_t *free_conns; /* stack of indices */
	uint32_t nfree_conns;
	char *heads; /* nconns x SP_HTTP_HEAD_MAX_BYTES */
	uint32_t sweep_cursor;
	uint32_t *ctlwait; /* connections whose control message is still being released (FIFO) */
	uint32_t ctlwait_head;
	uint32_t nctlwait;

	struct sp_api_bufpool *bufs;   /* body/response buffers, lent to TCP by reference */
	bool tx_zero_copy;             /* answers leave as external-buffer mbufs (api_buf.h) */
	struct sp_api_conn *wait_head; /* connections waiting for a buffer, FIFO */
	struct sp_api_conn *wait_tail;

	struct sp_api_sub subs[SP_API_SUBS_MAX]; /* SubscribeToShard streams (api_sub.c) */
	uint32_t nsubs;

	/* HTTP/2 (api_h2.c): one session record per connection slot, callbacks shared */
	struct sp_api_h2 *h2s;		 /* nconns */
	struct sp_api_h2_pseudo *h2_pseudo; /* nconns: an exchange slot's pseudo-headers */
	void *h2_callbacks;		 /* nghttp2_session_callbacks */
	void *h2_option;		 /* nghttp2_option */

	uint8_t *tls_stage; /* plaintext gathered into one record (SP_API_TLS_RECORD bytes) */

	uint8_t *scratch; /* owner-side decode space for one hand-off (SP_API_BIG_BUF_BYTES) */
	char msg[SP_API_MSG_BYTES];
	char cors[SP_API_CORS_BYTES];     /* a preflight answer's echoed headers */
	struct sp_api_req_put_records pr; /* the request being decoded (500 entries) */
	/*
	 * A PutRecord(s) decoded by the router at step 6 (sp_api_put_decode) and consumed by
	 * sp_api_op_put in the same dispatch: put_conn says which request it belongs to.
	 */
	struct sp_api_req_put_record p1;
	struct sp_api_req_err put_err;
	int put_rc;
	const struct sp_api_conn *put_conn;
	struct sp_shard_rec_view views[SP_K_GET_RECORDS_MAX_RECORDS]; /* a GetRecords read */
	struct sp_shard_iter_mac *iter; /* iterator sealing, keyed from the snapshot (api_get.c) */
	uint64_t iter_gen;              /* the snapshot iter_gen iter is keyed for; 0: none yet */
	uint64_t rng;                   /* request ids */
	struct sp_api_quota quota[SP_API_QUOTA_SLOTS];

	/* storage (api_store.c); store NULL when the appliance runs without a data_dir */
	struct sp_io_uring *iou;
	struct sp_store *store;
	struct sp_store_recovery store_rep;
	struct sp_api_feed *feeds; /* SP_API_RING_REG_MAX */
	struct sp_seal seal;       /* AES-256-GCM contexts, re-keyed per shard (api_seal.c) */
	uint32_t cold_keyed_tag;   /* the shard key cold_key is for (tag, index, key slot) */
	uint32_t cold_keyed_index;
	int64_t cold_keyed_created;
	char cold_keyed_name[SP_K_STREAM_NAME_MAX_CHARS];
	uint16_t cold_keyed_name_len;
	uint16_t cold_keyed_slot;  /* 0: none */
	uint8_t cold_key[SP_SEAL_KEY_BYTES];
	uint32_t feed_head;        /* list of shards with records to feed or publish */
	uint32_t log_sweep;        /* the log the retention sweep looks at next */
	struct sp_api_xput **held; /* puts waiting for durability */
	uint32_t nheld;
	uint32_t held_cap;

	struct sp_api_counters cnt;
	/* SubscribeToShard: a record readable (committed, or durable) to its event queued, in us */
	struct sp_lathist sub_lat;
};

/* Wall clock in ms through the clock seam (never a syscall). */
uint64_t sp_api_now_ms(const struct sp_api *api);
/* The worker clock's cycle counter, and its cycles per microsecond (at least 1). */
uint64_t sp_api_cycles(const struct sp_api *api);
uint64_t sp_api_cycles_per_us(const struct sp_api *api);

/* Buffers. */
bool sp_api_buf_get(struct sp_api *api, bool big, struct sp_api_buf *out);
void sp_api_buf_put(struct sp_api *api, struct sp_api_buf *b);
/*
 * Room for need bytes of answer after the response head in c's buffer: true when it has it
 * already or now (swapped for a big buffer, the small one returned); false when no big
 * buffer is free or need exceeds one.
 */
bool sp_api_conn_room(struct sp_api_conn *c, size_t need);

/* Responses (api_conn.c): queue status + JSON body (may be empty) and start sending. */
void sp_api_respond(struct sp_api_conn *c, uint16_t status, const char *body, uint32_t len);
/* Any content type (the XML refusals of reference §1.7). */
void sp_api_respond_raw(struct sp_api_conn *c, uint16_t status, const char *ctype, const char *body,
			uint32_t len);
/*
 * An AWS error reply: {"__type","message"} with x-amzn-ErrorType. message may be NULL. A CBOR
 * request (c->req.cbor) gets the same map in CBOR (api_cbor.h) and the CBOR Content-Type.
 */
void sp_api_respond_error(struct sp_api_conn *c, enum sp_kerr kerr, const char *message,
			  bool message_key_upper);
/*
 * A success body in the request's encoding: sp_api_respond for JSON, the CBOR Content-Type
 * when the request was CBOR (the body was written by an api_cbor.h writer).
 */
static inline void
sp_api_respond_enc(struct sp_api_conn *c, uint16_t status, const char *body, uint32_t len)
{
	if (c->req.cbor) {
		sp_api_respond_raw(c, status, SP_KINESIS_CONTENT_TYPE_CBOR, body, len);
	} else {
		sp_api_respond(c, status, body, len);
	}
}

/* A request id (RFC 4122 version 4 form) into out (SP_API_REQUEST_ID_BYTES with its NUL). */
#define SP_API_REQUEST_ID_BYTES 37u
void sp_api_request_id(struct sp_api *api, char *out);

/* The connection slot pool (api_conn.c): take (NULL when none) and give back. */
struct sp_api_conn *sp_api_conn_take(struct sp_api *api);
void sp_api_conn_free(struct sp_api_conn *c);
/* Copy len bytes at src (after hd_len bytes at hd) into a new mbuf chain; NULL: none free. */
struct rte_mbuf *sp_api_pack(struct sp_api *api, const void *hd, uint32_t hd_len,
			     const void *src, uint32_t len);
/*
 * len answer bytes at src for TCP: by reference (external-buffer mbufs holding b) when zero
 * copy is on, src lies in b and len is at least SP_API_REF_MIN_BYTES; else copied after hd
 * (hd_len bytes, a frame header, always copied). Counted in tx_body_ref/copied_bytes. NULL
 * when mbufs ran out.
 */
#define SP_API_REF_MIN_BYTES 256u
struct rte_mbuf *sp_api_pack_answer(struct sp_api *api, const struct sp_api_buf *b,
				    const void *hd, uint32_t hd_len, const char *src, uint32_t len);
/*
 * Make c's buffer one it may write into: when mbufs still reference it (an event of a
 * subscription in flight), swap it for a free buffer of the small class (its contents are not
 * kept). false when none is free: try again on a later poll.
 */
bool sp_api_conn_buf_writable(struct sp_api_conn *c);
/*
 * Drop n parsed bytes from the front of c's input chain and reopen the TCP window as much
 * (cleartext; a TLS connection reopens it as the ciphertext is fed).
 */
void sp_api_conn_consumed(struct sp_api_conn *c, uint32_t n);

/*
 * The transport shim: every byte a connection sends leaves through sp_api_conn_tx (a chain
 * of plaintext: 0 and taken, or a negative errno and not taken), within the room
 * sp_api_conn_tx_space reports (on TLS, less record overhead). sp_api_conn_pull makes more
 * received plaintext available in c->in (TLS: decrypts; cleartext: nothing to do) and returns
 * whether c->in holds any. sp_api_conn_close ends the connection after what is queued
 * (TLS: close_notify first).
 */
SP_MUST_CHECK int sp_api_conn_tx(struct sp_api_conn *c, struct rte_mbuf *chain);
uint32_t sp_api_conn_tx_space(struct sp_api_conn *c);
bool sp_api_conn_pull(struct sp_api_conn *c);
void sp_api_conn_close(struct sp_api_conn *c);

/*
 * TLS on the API's connections (api_tls.c). Worker side: accept (false: no context or no
 * memory), received ciphertext (false: the connection was aborted), the pieces of the shim above,
 * the sent/sweep pump and the release of a closed connection's TLS state.
 */
#define SP_API_TLS_RECORD 16384u /* plaintext per record written */
bool sp_api_tls_accept(struct sp_api_conn *c);
bool sp_api_tls_recv(struct sp_api_conn *c, struct rte_mbuf *chain);
bool sp_api_tls_pull(struct sp_api_conn *c);
void sp_api_tls_tx(struct sp_api_conn *c, struct rte_mbuf *chain);
uint32_t sp_api_tls_tx_space(struct sp_api_conn *c);
void sp_api_tls_pump(struct sp_api_conn *c);
void sp_api_tls_close(struct sp_api_conn *c);
void sp_api_tls_release(struct sp_api_conn *c);
/* The TLS counters of every worker (api.http.tls in the status). */
json_t *sp_api_tls_status_json(const struct sp_api_global *g);
/* Take a body buffer for c's parsed head (by its announced length); false when none is free. */
bool sp_api_conn_take_buffer(struct sp_api_conn *c);

/*
 * HTTP/2 (api_h2.c). sp_api_h2_start: the connection's parser matched the preface; false
 * when the session cannot be made (the caller answers 505 as before). The rest are the
 * connection's TCP events and the worker's sweep, and the answer of an exchange.
 */
int sp_api_h2_init(struct sp_api *api);
void sp_api_h2_fini(struct sp_api *api);
bool sp_api_h2_start(struct sp_api_conn *c);
void sp_api_h2_input(struct sp_api_conn *c);
void sp_api_h2_output(struct sp_api_conn *c);
void sp_api_h2_closed(struct sp_api_conn *c);
void sp_api_h2_sweep(struct sp_api_conn *c, uint64_t now_ms);
/* GOAWAY(NO_ERROR) now: the dataplane is stopping. */
void sp_api_h2_goaway(struct sp_api_conn *c);
void sp_api_h2_respond(struct sp_api_conn *x, uint16_t status, const char *ctype,
		       enum sp_kerr kerr, const char *body, uint32_t len);
/*
 * A streamed answer (events): sp_api_h2_stream_begin sends the head (200, ctype); then each
 * time x->out/out_len holds the next bytes, sp_api_h2_stream_push sends them as DATA;
 * sp_api_h2_stream_end ends the stream once they have left.
 */
void sp_api_h2_stream_begin(struct sp_api_conn *x, const char *ctype);
void sp_api_h2_stream_push(struct sp_api_conn *x);
void sp_api_h2_stream_end(struct sp_api_conn *x);
/*
 * The same for either protocol (api_conn.c): over HTTP/1.1 the answer is chunked, the head
 * going out with the first chunk. sp_api_conn_stream_push sends msg (len bytes, with
 * SP_API_STREAM_ROOM bytes free before it and 2 after) as the next piece of the answer.
 */
#define SP_API_STREAM_ROOM 512u
void sp_api_conn_stream_begin(struct sp_api_conn *x, const char *ctype);
void sp_api_conn_stream_push(struct sp_api_conn *x, char *msg, uint32_t len);
void sp_api_conn_stream_end(struct sp_api_conn *x);

/* SubscribeToShard (api_sub.c): the operation, the worker's poll, and a stream gone. */
void sp_api_op_subscribe(struct sp_api_conn *x, const struct sp_api_cat *cat, const char *body,
			 uint32_t len);
unsigned sp_api_sub_poll(struct sp_api *api);
void sp_api_sub_drop(struct sp_api_conn *x);
/*
 * A subscription reading the store goes through GetRecords' cold path, whose answers come
 * back here instead of as a response: sp_api_sub_deliver with the encoded payload (NULL: no
 * records, nothing to send) and the position after it (0: unchanged), sp_api_sub_error for a
 * refusal. sp_api_sub_cont: the ContinuationSequenceNumber of an event without records.
 */
static inline bool
sp_api_sub_mode(const struct sp_api_conn *c)
{
	return c->ps != NULL && c->ps->fetching;
}
void sp_api_sub_deliver(struct sp_api_conn *x, const char *payload, uint32_t len, sp_u128 last,
			sp_u128 next, bool end);
void sp_api_sub_error(struct sp_api_conn *x, enum sp_kerr kerr, const char *message);
sp_u128 sp_api_sub_cont(const struct sp_api_conn *x);

/* The router (api_router.c): a complete request in c->http / c->buf. */
void sp_api_dispatch(struct sp_api_conn *c);

/*
 * The stream name a request selects by StreamName and/or StreamARN (they must agree; one is
 * required). false after answering the error.
 */
bool sp_api_stream_selector(struct sp_api_conn *c, const struct sp_api_json_str *name,
			    const struct sp_api_json_str *arn, bool has_name, bool has_arn,
			    const char **out, size_t *out_len);

/* The stream a request names by StreamName and/or StreamARN; NULL after answering. */
const struct sp_api_stream *sp_api_resolve_stream(struct sp_api_conn *c,
						  const struct sp_api_cat *cat,
						  const struct sp_api_json_str *name,
						  const struct sp_api_json_str *arn, bool has_name,
						  bool has_arn);

/*
 * Step 6 of the check order for PutRecord(s), fused with their decoding (one scan of the body
 * instead of two): decode into c->api, and answer only what step 6 answers (the body is not
 * one JSON object: false after responding). A type or constraint failure is kept for
 * sp_api_op_put to answer after SigV4, where the reference orders it.
 */
bool sp_api_put_decode(struct sp_api_conn *c, const char *body, uint32_t len);

/* Operations. Each ends with exactly one sp_api_respond*() now or when its messages return. */
void sp_api_op_put(struct sp_api_conn *c, const struct sp_api_cat *cat); /* after _put_decode */
void sp_api_op_get_iterator(struct sp_api_conn *c, const struct sp_api_cat *cat, const char *body,
			    uint32_t len);
void sp_api_op_get_records(struct sp_api_conn *c, const struct sp_api_cat *cat, const char *body,
			   uint32_t len);
void sp_api_op_control(struct sp_api_conn *c, const char *body, uint32_t len);

/* Cross-core (api_put.c, api_ctlfwd.c): serve and complete messages; return work done. */
unsigned sp_api_put_poll(struct sp_api *api);
/* Cold reads (api_cold.c): requests from other workers, their answers, store completions. */
unsigned sp_api_cold_poll(struct sp_api *api);

/* GetRecords at the end of closed shard sh, which has nothing more: no next iterator,
 * ChildShards (api_get.c). */
void sp_api_get_closed_end(struct sp_api_conn *c, const struct sp_api_cat *cat,
			   const struct sp_api_stream *st, const struct sp_api_shard *sh);

/* GetRecords answered with no records and an iterator at pos (by_time: a time) again. */
void sp_api_get_again(struct sp_api_conn *c, const struct sp_api_cat *cat,
		      const struct sp_api_stream *st, const struct sp_api_shard *sh, sp_u128 pos,
		      bool by_time);

/* Resharding (api_reshard.c): seal the rings of shards closed since the last snapshot seen. */
unsigned sp_api_reshard_poll(struct sp_api *api);

/*
 * Moving shards (api_move.c): hand the rings of shards this worker no longer owns to their
 * new owner once its part of their log is durable.
 */
unsigned sp_api_move_poll(struct sp_api *api);
/* Whether x carries records of a shard this worker owns whose ring is not handed over yet. */
bool sp_api_move_must_wait(const struct sp_api *api, const struct sp_api_stream *st,
			   const struct sp_api_xput *x);

/* Text of ChildShards entries (the writer keeps pointers into it). */
struct sp_api_child_text {
	char id[SP_API_SHARD_ID_BYTES];
	char parents[2][SP_API_SHARD_ID_BYTES];
	char start[SP_U128_DEC_MAX + 1];
	char end[SP_U128_DEC_MAX + 1];
};

/* The ChildShards of closed shard sh (at most two): entries into out, text into txt. */
unsigned sp_api_reshard_children(const struct sp_api_stream *st, const struct sp_api_shard *sh,
				 struct sp_api_child_text *txt, struct sp_api_jw_child *out);

/*
 * Whether records at pos may have left the ring (an earlier boot's, or trimmed): then only
 * the store can answer. ring_first receives the ring's oldest record's number (its trim
 * horizon).
 */
bool sp_api_cold_is(const struct sp_shard_ring *ring, sp_u128 pos, sp_u128 *ring_first);
/*
 * After a ring read at pos decided with the trim horizon checked: true when the ring trimmed
 * records at or after pos since (the read may have skipped them; the store has them).
 */
bool sp_api_cold_trimmed(const struct sp_shard_ring *ring, sp_u128 pos, sp_u128 checked);
/*
 * GetRecords at pos, older than sh's ring: start a read from the owner's store. false when it
 * did not start (no storage, or pos is in the ring's range): read the ring. true: answered now
 * or later.
 */
bool sp_api_cold_get(struct sp_api_conn *c, const struct sp_api_stream *st,
		     const struct sp_api_shard *sh, sp_u128 pos, uint32_t limit, sp_u128 *checked);
/* GetRecords from a time iterator, in the store (false: no storage; read the ring). */
bool sp_api_cold_get_time(struct sp_api_conn *c, const struct sp_api_stream *st,
			  const struct sp_api_shard *sh, uint64_t t_ms, uint32_t limit);
/* GetRecords from the first ring record that arrived at or after t. */
/* AT_TIMESTAMP t may find records the ring no longer has: resolve it in the store. */
bool sp_api_get_time_cold(const struct sp_api_shard *sh, uint64_t t);
void sp_api_get_at_time_ring(struct sp_api_conn *c, const struct sp_api_cat *cat,
			     const struct sp_api_stream *st, const struct sp_api_shard *sh,
			     uint64_t t, uint32_t limit);
/*
 * GetRecords answer from the ring at pos (api_get.c), also where a cold read found nothing
 * older than the ring.
 */
void sp_api_get_from_ring(struct sp_api_conn *c, const struct sp_api_cat *cat,
			  const struct sp_api_stream *st, const struct sp_api_shard *sh,
			  sp_u128 pos, uint32_t limit, sp_u128 checked);
/*
 * GetRecords answer from api->views[0..n) (cold records, maybe followed by ring records read
 * with res from ring), capped at cap bytes. false, with nothing sent, when ring records were
 * overrun meanwhile.
 */
bool sp_api_get_answer_views(struct sp_api_conn *c, const struct sp_api_cat *cat,
			     const struct sp_api_stream *st, const struct sp_api_shard *sh,
			     unsigned n, uint64_t millis_behind, size_t cap,
			     const struct sp_shard_ring *ring, const struct sp_shard_read_res *res);
void sp_api_get_no_shard(struct sp_api_conn *c, const char *stream, size_t slen, uint32_t idx);
/* Owner: x is served (and durable when that was asked): give it back to its sender. */
void sp_api_put_release(struct sp_api *api, struct sp_api_xput *x);
unsigned sp_api_ctl_poll(struct sp_api *api);

#endif /* SP_API_WORKER_H */
