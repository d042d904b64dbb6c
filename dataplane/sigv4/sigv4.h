/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * AWS Signature Version 4 verification of Kinesis requests (../shared/reference/kinesis-api.md
 * §1.6, §1.7, §1.9), and the operator's credentials file it verifies against.
 *
 * Two halves:
 *   - the key table (sigv4_creds.c): parsed from an AWS-CLI-style INI file on the main lcore at
 *     boot or on reload, immutable afterwards and shared read-only by every worker;
 *   - the verifier (sigv4.c): one struct sp_sigv4 per worker lcore, created at init, holding a
 *     signing-key cache and scratch space, so that sp_sigv4_verify() neither allocates, locks
 *     nor makes a system call. The clock is a parameter.
 *
 * Every refusal is an AWS error type (enum sp_kerr) plus the exact message text AWS sends;
 * docs/internals/sigv4.md lists the checks in the order AWS makes them.
 */
#ifndef SP_SIGV4_H
#define SP_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spate/compiler.h>
#include <spate/kinesis.h>

/* ---- Credentials-file bounds ---- */
#define SP_SIGV4_MAX_KEYS 256u		/* profiles (access keys) per file */
#define SP_SIGV4_ACCESS_KEY_MAX 128u	/* AWS allows 16..128; we allow 1..128 of [A-Za-z0-9_] */
#define SP_SIGV4_SECRET_MAX 128u
#define SP_SIGV4_TOKEN_MAX 4096u	/* aws_session_token */
#define SP_SIGV4_PROFILE_MAX 64u
#define SP_SIGV4_ACCOUNT_LEN 12u	/* account_id: exactly 12 digits */
#define SP_SIGV4_LINE_MAX 4200u		/* bytes per line, without the line end */
#define SP_SIGV4_FILE_MAX_BYTES (1024u * 1024u)
#define SP_SIGV4_ERR_MAX 320u		/* a buffer this size holds every load error in full */

/* ---- Verifier bounds (each excess is refused, never truncated) ---- */
#define SP_SIGV4_REGION_MAX 32u		/* scope region: 1..32 of [a-z0-9-] */
#define SP_SIGV4_MAX_SIGNED_HEADERS 64u /* names in SignedHeaders */
#define SP_SIGV4_MAX_QUERY_PARAMS 64u
#define SP_SIGV4_QUERY_MAX_BYTES 8192u	/* raw query string */
#define SP_SIGV4_MAX_PATH_SEGMENTS 64u
#define SP_SIGV4_CACHE_SETS 32u		/* signing-key cache: sets x ways entries */
#define SP_SIGV4_CACHE_WAYS 4u
/*
 * A message buffer this size holds every refusal text in full as long as the Authorization
 * header (or the X-Amz-Credential parameter, which some texts echo) is at most 8 KiB; longer
 * texts are cut, never overflowed.
 */
#define SP_SIGV4_MSG_MAX (512u + 8192u)
/* Every request must be scoped to this service. */
#define SP_SIGV4_SERVICE "kinesis"

/* ---- Key table (sigv4_creds.c) ---- */

/* One access key: a [profile] of the credentials file. Strings are NUL-terminated. */
struct sp_sigv4_key {
	char access_key[SP_SIGV4_ACCESS_KEY_MAX + 1];
	char secret[SP_SIGV4_SECRET_MAX + 1];
	char account[SP_SIGV4_ACCOUNT_LEN + 1];
	char profile[SP_SIGV4_PROFILE_MAX + 1];
	const char *token;	/* aws_session_token, NULL when the profile has none */
	uint16_t access_key_len;
	uint16_t secret_len;
	uint16_t token_len;
	uint16_t profile_len;
	unsigned line;		/* line of the [profile] header */
};

/* The key table: immutable once built, read by any number of lcores. */
struct sp_sigv4_keys;

/*
 * Parse a credentials file held in memory (text[0..len), no NUL needed). default_account
 * (12 digits) applies to profiles without account_id. On success *out owns a new table;
 * free it with sp_sigv4_keys_free(). On failure returns -EINVAL (malformed: err holds
 * "line N: what", NUL-terminated, cut to err_cap) or -ENOMEM, and *out is NULL.
 * Boot or reload time only: allocates.
 */
int sp_sigv4_keys_parse(const char *text, size_t len, const char *default_account,
			struct sp_sigv4_keys **out, char *err, size_t err_cap) SP_MUST_CHECK;

/*
 * Read and parse the file at path. Errors as sp_sigv4_keys_parse(), with err prefixed by the
 * path, plus -errno of open/read and -EFBIG above SP_SIGV4_FILE_MAX_BYTES.
 */
int sp_sigv4_keys_load(const char *path, const char *default_account,
		       struct sp_sigv4_keys **out, char *err, size_t err_cap) SP_MUST_CHECK;

/* Wipe the secrets and free the table. NULL is a no-op. */
void sp_sigv4_keys_free(struct sp_sigv4_keys *keys);

/* Number of keys (1..SP_SIGV4_MAX_KEYS). */
unsigned sp_sigv4_keys_count(const struct sp_sigv4_keys *keys);

/* Key i (i < count). */
const struct sp_sigv4_key *sp_sigv4_keys_get(const struct sp_sigv4_keys *keys, unsigned i);

/* Index of the key whose access key id is akid[0..len), or -ENOENT. Does not allocate. */
int sp_sigv4_keys_find(const struct sp_sigv4_keys *keys, const char *akid, size_t len);

/* ---- Verifier (sigv4.c) ---- */

/* One request header as received: names compare case-insensitively; repeats allowed. */
struct sp_sigv4_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* What the verifier needs of a request. Nothing is copied; nothing is kept after the call. */
struct sp_sigv4_request {
	const char *method;		/* as received, e.g. "POST" */
	size_t method_len;
	const char *target;		/* raw request-target: path and optional ?query */
	size_t target_len;
	const struct sp_sigv4_header *headers;
	unsigned n_headers;
	const void *body;		/* may be NULL when body_len is 0 */
	size_t body_len;
	const uint8_t *body_sha256;	/* optional: SHA-256 of the body if the caller has it */
	uint64_t now_ms;		/* wall clock, Unix epoch ms (before year 9999) */
};

/* Who signed a verified request. Pointers stay valid while the key table lives. */
struct sp_sigv4_result {
	unsigned key_index;		/* into the key table */
	const char *access_key;		/* NUL-terminated */
	const char *account;		/* 12 digits, NUL-terminated */
	const char *profile;
	char region[SP_SIGV4_REGION_MAX + 1]; /* from the credential scope, NUL-terminated */
	size_t region_len;
	int64_t request_time_s;		/* X-Amz-Date, Unix epoch seconds */
};

/* Counters of one verifier (read by the main lcore for telemetry; plain loads). */
struct sp_sigv4_stats {
	uint64_t verdicts[SP_KERR_COUNT]; /* [SP_KERR_NONE] = verified */
	uint64_t cache_hits;
	uint64_t cache_misses;
	uint64_t cache_evictions;
};

/*
 * Optional copy of the canonical request and string-to-sign of the next verifications that
 * get that far (diagnostics and tests; costs a memcpy per piece). Cut at the capacities;
 * *_len report the full lengths.
 */
struct sp_sigv4_trace {
	char *creq;
	size_t creq_cap;
	size_t creq_len;
	char *sts;
	size_t sts_cap;
	size_t sts_len;
};

struct sp_sigv4_config {
	const struct sp_sigv4_keys *keys; /* shared, read-only; must outlive the verifier */
	const char *region;		  /* NULL or "": any well-formed region is accepted */
};

/* The verifier of one worker lcore (opaque; about 70 KiB, mostly cache and scratch). */
struct sp_sigv4;

/* Bytes sp_sigv4_init() needs, for callers that place the verifier in their own memory. */
size_t sp_sigv4_footprint(void);

/* Initialise a verifier in mem (sp_sigv4_footprint() bytes, 64-byte aligned). 0 or -EINVAL. */
int sp_sigv4_init(struct sp_sigv4 *sv, const struct sp_sigv4_config *cfg) SP_MUST_CHECK;

/* Allocate and initialise a verifier (init time). 0, -EINVAL or -ENOMEM. */
int sp_sigv4_create(const struct sp_sigv4_config *cfg, struct sp_sigv4 **out) SP_MUST_CHECK;

/* Wipe the cached signing keys and free a verifier from sp_sigv4_create(). NULL: no-op. */
void sp_sigv4_destroy(struct sp_sigv4 *sv);

/* Wipe the cached signing keys of a verifier placed with sp_sigv4_init(). */
void sp_sigv4_fini(struct sp_sigv4 *sv);

/*
 * Switch to a reloaded key table (on the verifier's own lcore, between requests). The cache
 * is flushed; the old table may be freed once every verifier has switched.
 */
void sp_sigv4_set_keys(struct sp_sigv4 *sv, const struct sp_sigv4_keys *keys);

/* Attach (or with NULL detach) a trace of the canonical request and string-to-sign. */
void sp_sigv4_set_trace(struct sp_sigv4 *sv, struct sp_sigv4_trace *trace);

/* A copy of the verifier's counters. */
void sp_sigv4_stats(const struct sp_sigv4 *sv, struct sp_sigv4_stats *out);

/*
 * Verify the signature of req. Returns SP_KERR_NONE and fills *res when the request is signed
 * by a key of the table; otherwise returns the error type (MISSING_AUTH_TOKEN,
 * INCOMPLETE_SIGNATURE, INVALID_SIGNATURE or UNRECOGNIZED_CLIENT) and writes its message,
 * byte-exact and NUL-terminated, to msg (cut at msg_cap; SP_SIGV4_MSG_MAX is enough).
 * msg is "" on success. Worker hot path: no allocation, lock or system call.
 */
enum sp_kerr sp_sigv4_verify(struct sp_sigv4 *sv, const struct sp_sigv4_request *req,
			     struct sp_sigv4_result *res, char *msg, size_t msg_cap) SP_MUST_CHECK;

/*
 * Client side: sign a POST to "/" (no query) whose signed headers are exactly content-type,
 * host, x-amz-date and x-amz-target with the values given, and body, as the AWS SDKs do for
 * Kinesis. amz_date is "YYYYMMDDTHHMMSSZ". Writes the Authorization header's value,
 * NUL-terminated, to out; returns its length, -EINVAL (a malformed date or region) or
 * -ENAMETOOLONG (out or the header values too long; SP_SIGV4_AUTH_MAX is enough for out).
 * No allocation; derives the signing key on every call (four HMACs).
 */
#define SP_SIGV4_AUTH_MAX 512
int sp_sigv4_sign_post(const struct sp_sigv4_key *key, const char *region, const char *host,
		       const char *content_type, const char *amz_target, const char *amz_date,
		       const void *body, size_t body_len, char *out, size_t out_cap) SP_MUST_CHECK;

#endif /* SP_SIGV4_H */
