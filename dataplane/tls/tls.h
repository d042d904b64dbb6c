/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TLS server side over Spate's userspace TCP stack (docs/internals/tls.md): OpenSSL 3 driven
 * through a BIO pair, so no kernel socket and no I/O inside the library.
 *
 * Two objects:
 *   - struct sp_tls_ctx: a server context (certificate chain, private key, TLS 1.2 and 1.3
 *     only, AEAD cipher suites, ALPN h2 then http/1.1, session-ticket keys). Immutable once
 *     built and reference-counted: a reload builds a new one and publishes it; connections
 *     opened on the old one keep it until they end.
 *   - struct sp_tls_conn: one connection. The caller feeds received ciphertext, reads
 *     plaintext, writes plaintext and takes the ciphertext to send (or has a sink receive it
 *     as it is made). Its buffers are fixed at
 *     creation (SP_TLS_RX_BUF, SP_TLS_TX_BUF plus OpenSSL's own record buffers), so a peer
 *     cannot make it grow.
 *
 * Allocation: sp_tls_ctx_*() and sp_tls_conn_new()/free() allocate (set-up and accept time).
 * In the steady state our code does not; OpenSSL 3.0 still allocates and frees small blocks
 * (40 bytes) inside each record it reads (TLS 1.3: one) or writes (three), plus its record
 * buffers per burst with SP_TLS_F_RELEASE_BUFFERS. tls_test counts them; docs/internals/tls.md
 * says what would remove them.
 *
 * Threads: a context may be shared by any number of lcores (it is read-only, and its session
 * cache is off: resumption is by stateless tickets only); a connection belongs to one lcore.
 */
#ifndef SP_TLS_H
#define SP_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <spate/compiler.h>

/* ---- Bounds ---- */
#define SP_TLS_RX_BUF            8192u  /* ciphertext fed but not yet consumed by OpenSSL */
#define SP_TLS_TX_BUF            17408u /* ciphertext produced, not yet taken: one full record */
#define SP_TLS_PEM_MAX           (1u << 20) /* certificate-chain or key file */
#define SP_TLS_CHAIN_MAX         8u         /* certificates in the chain, leaf included */
#define SP_TLS_ERR_MAX           256u  /* a buffer this size holds every set-up error in full */
#define SP_TLS_TICKET_KEY_LEN    80u   /* name 16 + HMAC-SHA256 key 32 + AES-256 key 32 */
#define SP_TLS_TICKET_LIFETIME_S 3600u /* default ticket lifetime: control's default rotation */
#define SP_TLS_TICKET_LIFETIME_MAX_S 604800u /* RFC 8446 §4.6.1: 7 days at most */

/* ---- Context ---- */

/*
 * Context flags.
 *   SP_TLS_F_NO_H2            offer only http/1.1 in ALPN (while h2 is not served);
 *   SP_TLS_F_RELEASE_BUFFERS  free OpenSSL's record buffers when idle: saves ~33 KiB per idle
 *                             connection, costs a malloc and a free per busy burst.
 */
#define SP_TLS_F_NO_H2           0x1u
#define SP_TLS_F_RELEASE_BUFFERS 0x2u

/*
 * Session-ticket keys as spate-control hands them out: current encrypts and decrypts;
 * previous (optional) only decrypts, and a ticket opened with it is replaced by a fresh one.
 * Each key is SP_TLS_TICKET_KEY_LEN bytes: a 16-byte key name, a 32-byte HMAC-SHA256 key and
 * a 32-byte AES-256-CBC key (the ticket layout of RFC 5077 §4, which OpenSSL uses).
 * A key seals tickets for one rotation period and opens them for two, so a ticket's lifetime
 * must not exceed the period: lifetime_s is the period (0: SP_TLS_TICKET_LIFETIME_S; at most
 * SP_TLS_TICKET_LIFETIME_MAX_S). OpenSSL refuses a ticket older than that (a full handshake).
 */
struct sp_tls_ticket_keys {
	const uint8_t *current;  /* SP_TLS_TICKET_KEY_LEN bytes */
	const uint8_t *previous; /* SP_TLS_TICKET_KEY_LEN bytes, or NULL */
	uint32_t lifetime_s;     /* tickets' lifetime, seconds; 0: SP_TLS_TICKET_LIFETIME_S */
};

/* What a context is built from. PEM text in memory (no NUL needed) or file paths. */
struct sp_tls_ctx_params {
	const char *chain_pem; /* leaf first, then intermediates */
	size_t chain_len;
	const char *key_pem; /* the leaf's private key (RSA >= 2048 bits or EC P-256/P-384) */
	size_t key_len;
	const char *chain_path;                   /* used when chain_pem is NULL */
	const char *key_path;                     /* used when key_pem is NULL */
	const struct sp_tls_ticket_keys *tickets; /* NULL: random keys private to this context */
	unsigned flags;                           /* SP_TLS_F_* */
};

struct sp_tls_ctx;

/*
 * Build a context. On success *out holds one reference. On failure returns -EINVAL (bad PEM,
 * key not matching the certificate, weak key, bad ticket keys: err says which), -ENOENT or
 * another -errno of reading a file, -EFBIG (file over SP_TLS_PEM_MAX), -ENOMEM; *out is NULL.
 * err (may be NULL) gets a NUL-terminated message cut to err_cap. Allocates.
 */
int sp_tls_ctx_new(const struct sp_tls_ctx_params *p, struct sp_tls_ctx **out, char *err,
		   size_t err_cap) SP_MUST_CHECK;

/*
 * A new context with old's certificate, key and flags and other ticket keys (rotation
 * without rereading files). Errors as sp_tls_ctx_new(). Allocates.
 */
int sp_tls_ctx_rekey(const struct sp_tls_ctx *old, const struct sp_tls_ticket_keys *tickets,
		     struct sp_tls_ctx **out, char *err, size_t err_cap) SP_MUST_CHECK;

/* Take one more reference (any thread). */
void sp_tls_ctx_get(struct sp_tls_ctx *ctx);

/* Drop a reference; the last one frees the context (any thread). NULL is a no-op. */
void sp_tls_ctx_put(struct sp_tls_ctx *ctx);

/* References held (for tests and counters). */
unsigned sp_tls_ctx_refs(const struct sp_tls_ctx *ctx);

/* ---- Connection ---- */

enum sp_tls_state {
	SP_TLS_HANDSHAKE = 0, /* handshake in progress */
	SP_TLS_OPEN,          /* application data both ways */
	SP_TLS_PEER_CLOSED,   /* peer's close_notify received: no more input */
	SP_TLS_CLOSING,       /* our close_notify queued (sp_tls_conn_shutdown) */
	SP_TLS_FAILED,        /* fatal error: send what sp_tls_conn_take() gives, then close */
};

enum sp_tls_alpn {
	SP_TLS_ALPN_PENDING = 0, /* handshake not finished */
	SP_TLS_ALPN_HTTP11,      /* "http/1.1" chosen, or no ALPN offered */
	SP_TLS_ALPN_H2,          /* "h2" chosen */
};

struct sp_tls_conn;

/*
 * A server connection on ctx (takes a reference to it, released by sp_tls_conn_free()).
 * Returns NULL on allocation failure. Accept time: allocates.
 */
struct sp_tls_conn *sp_tls_conn_new(struct sp_tls_ctx *ctx);

/* Free the connection without sending anything (the caller closes TCP). NULL is a no-op. */
void sp_tls_conn_free(struct sp_tls_conn *c);

/*
 * Give received ciphertext (any split: one byte at a time works). Returns the number of bytes
 * taken, which is less than len when SP_TLS_RX_BUF is full: call sp_tls_conn_read() (which
 * consumes input) and feed the rest. Returns -EPIPE after sp_tls_conn_eof() or in a
 * closed or failed state (the input is dropped).
 */
ssize_t sp_tls_conn_feed(struct sp_tls_conn *c, const void *buf, size_t len);

/* The peer's TCP FIN arrived: no more input will come. */
void sp_tls_conn_eof(struct sp_tls_conn *c);

/*
 * Drive the handshake. Returns 0 when it is complete, SP_AGAIN when it needs more input (or
 * output taken: check sp_tls_conn_pending()), -EPROTO on a fatal error (the alert, if any,
 * waits in the output: take and send it, then close), -EPIPE when the input ended first.
 */
int sp_tls_conn_handshake(struct sp_tls_conn *c) SP_MUST_CHECK;

/*
 * Read plaintext into buf[0..cap), driving the handshake first if needed. Returns the
 * number of bytes (> 0), 0 when the peer sent close_notify (clean end of input), SP_AGAIN
 * when there is nothing to read yet (feed more, or take output and retry), -EPROTO on a
 * fatal error (as sp_tls_conn_handshake()), -EPIPE when the input ended without close_notify
 * (a truncation: the last request may be incomplete).
 */
ssize_t sp_tls_conn_read(struct sp_tls_conn *c, void *buf, size_t cap) SP_MUST_CHECK;

/*
 * Encrypt plaintext. Returns the number of bytes taken (> 0; at most one record's worth may
 * be taken per call), SP_AGAIN when the output is full (take output and retry with the same
 * remaining bytes) or the handshake is not finished, -EPROTO on a fatal error, -EPIPE after
 * sp_tls_conn_shutdown().
 */
ssize_t sp_tls_conn_write(struct sp_tls_conn *c, const void *buf, size_t len) SP_MUST_CHECK;

/* Ciphertext waiting to be sent, in bytes (what the sink did not take). */
size_t sp_tls_conn_pending(const struct sp_tls_conn *c);

/* Copy up to cap bytes of ciphertext to send into buf and drop them. Returns the count. */
size_t sp_tls_conn_take(struct sp_tls_conn *c, void *buf, size_t cap);

/*
 * Where ciphertext goes as OpenSSL produces it (inside write, read, handshake, shutdown):
 * sink(arg, buf, len) copies up to len bytes into the caller's own buffers (mbufs) and
 * returns how many it took (0..len). What it does not take waits for sp_tls_conn_take()
 * (SP_TLS_TX_BUF at most, then writes return SP_AGAIN); the sink is called only when nothing
 * waits, so the bytes stay in order. Saves the copy through the buffer. NULL (the default):
 * everything waits for take. The sink must not call back into the connection.
 */
typedef size_t (*sp_tls_sink_fn)(void *arg, const void *buf, size_t len);
void sp_tls_conn_set_sink(struct sp_tls_conn *c, sp_tls_sink_fn sink, void *arg);

/*
 * Queue close_notify (once). Returns 0, SP_AGAIN when the output is full (take and retry),
 * -EPROTO in the failed state. Afterwards: take the output, then close TCP (we do not wait
 * for the peer's close_notify, as RFC 8446 §6.1 allows).
 */
int sp_tls_conn_shutdown(struct sp_tls_conn *c) SP_MUST_CHECK;

enum sp_tls_state sp_tls_conn_state(const struct sp_tls_conn *c);

/* Negotiated application protocol (SP_TLS_ALPN_PENDING until the handshake completes). */
enum sp_tls_alpn sp_tls_conn_alpn(const struct sp_tls_conn *c);

/* Negotiated version (0x0303 TLS 1.2, 0x0304 TLS 1.3), 0 before the handshake completes. */
int sp_tls_conn_version(const struct sp_tls_conn *c);

/* Whether the handshake resumed a session from a ticket. */
bool sp_tls_conn_resumed(const struct sp_tls_conn *c);

/* The last alert we sent (RFC 8446 §6 AlertDescription), or -1 if none. */
int sp_tls_conn_alert_sent(const struct sp_tls_conn *c);

/* The last alert the peer sent, or -1 if none. */
int sp_tls_conn_alert_received(const struct sp_tls_conn *c);

/* The context the connection was opened on (reloads do not change it). */
const struct sp_tls_ctx *sp_tls_conn_ctx(const struct sp_tls_conn *c);

#endif /* SP_TLS_H */
