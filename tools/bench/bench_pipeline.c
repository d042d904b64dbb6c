/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_pipeline: one worker's in-process Kinesis request pipeline, stage by stage, on one core,
 * in records/s. Every stage runs the server's own code: sp_http_parse over the wire bytes fed
 * in 1448-byte slices as TCP delivers them, the PutRecords decoder (which the router runs at
 * its step 6 in place of a separate JSON-object scan), sp_sigv4_verify, sp_md5_batch, routing
 * on a catalog snapshot built by sp_api_cat_build, sp_b64_decode per record (as
 * put_serve_run), sp_shard_ring_append per shard run, and the answer through the JSON and
 * HTTP writers (as put_finish_batch). Grouping calls the server's sp_api_put_order() (what
 * put_group() of api_put.c runs). Left out as too small to matter per record: the stream ARN
 * and record-size checks of api_put.c, get_fit()
 * of api_get.c, and the x-amzn-RequestId
 * generator (the head goes through sp_http_resp_* rather than conn_write_head's snprintf).
 * GetRecords: the request path, sp_shard_iter_decode, sp_shard_ring_read of 10000 records, the
 * JSON/base64 encode, sp_shard_iter_encode of the next iterator (as api_get.c).
 *
 * Timing: thread CPU time (on a shared machine the wall clock also counts other processes),
 * split between stages by TSC share; see struct bench_result.
 *
 * The input is built once: a PutRecords request of 500 records (100 random bytes of Data,
 * partition keys of 16-32 random characters) with the headers boto3 sends, signed here with
 * OpenSSL HMAC under the credentials the verifier loads. Correctness is checked, timing never
 * is: the exit status is 1 only when the verifier refuses a request, a parse or decode fails,
 * routing disagrees with OpenSSL MD5, or what comes out of the rings differs from what went in.
 * Baselines measured in the same run: SHA256() of the body (the floor of SigV4: the body must
 * be hashed), jansson json_loadb of the same body, OpenSSL MD5() per key, EVP_DecodeBlock and
 * EVP_EncodeBlock per record.
 *
 * Single-threaded; the clock and the memory are the bench's, so it needs no EAL or hugepages.
 *
 *   bench_pipeline [--seconds S] [--cpu N]     (default 2 s per measurement, no pinning)
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/md5.h>
#include <openssl/sha.h>

#include <spate/assert.h>
#include <spate/compiler.h>
#include <spate/kinesis.h>
#include <spate/seqno.h>

#include "api_cat.h"
#include "api_json.h"
#include "api_req.h"
#include "b64.h"
#include "http.h"
#include "md5.h"
#include "shard_iter.h"
#include "shard_ring.h"
#include "sigv4.h"

#define BENCH_RECORDS SP_K_PUT_RECORDS_MAX_ENTRIES /* records per PutRecords */
#define BENCH_DATA_BYTES 100u
#define BENCH_KEY_MIN 16u
#define BENCH_KEY_MAX 32u
#define BENCH_B64_BYTES (4u * ((BENCH_DATA_BYTES + 2u) / 3u))
#define BENCH_SHARDS 4u
#define BENCH_MSS 1448u		       /* TCP payload of a 1500-byte frame with timestamps */
#define BENCH_RESP_HEAD_BYTES 1024u    /* what the server keeps before a body for the head */
#define BENCH_CONN_BUF_BYTES (256u * 1024u) /* the server's small connection buffer */
#define BENCH_BIG_BUF_BYTES SP_K_HTTP_BODY_MAX_BYTES /* its big one (GetRecords answers) */
#define BENCH_BODY_CAP (128u * 1024u)  /* the PutRecords body (about 92 KB) */
#define BENCH_WIRE_CAP (BENCH_BODY_CAP + 4096u)
#define BENCH_RING_BYTES (32u * 1024u * 1024u) /* per shard: ~190k records of this size */
#define BENCH_TRIM_EVERY 64u	       /* put iterations between ring fill checks (untimed) */
#define BENCH_GET_RECORDS SP_K_GET_RECORDS_MAX_RECORDS
#define BENCH_WARMUP 20u	       /* iterations before each measurement */
#define BENCH_ITER_MAX 100000000u      /* a bound on any measurement loop */
#define BENCH_SECONDS_MAX 3600.0

#define BENCH_HOST "127.0.0.1:4567"
#define BENCH_REGION "us-east-1"
#define BENCH_AKID "AKIASPATEBENCH000001"
#define BENCH_SECRET "benchSecret/Key+0123456789abcdefGHIJKLmnop"
#define BENCH_ACCOUNT "123456789012"
#define BENCH_STREAM "bench"
#define BENCH_CREATED_MS 1
#define BENCH_EPOCH 7u
#define BENCH_SIGNED "amz-sdk-invocation-id;amz-sdk-request;content-type;host;x-amz-date;" \
		     "x-amz-target"
#define BENCH_UA "Boto3/1.34.144 md/Botocore#1.34.144 ua/2.0 os/linux#6.1.0 " \
		 "md/arch#x86_64 lang/python#3.11.2 md/pyimpl#CPython cfg/retry-mode#legacy " \
		 "Botocore/1.34.144"

/* A correctness failure: say what and stop with status 1 (timing never fails the run). */
#define BENCH_CHECK(cond, what)                                                             \
	do {                                                                                \
		if (SP_UNLIKELY(!(cond))) {                                                 \
			bench_fail(__LINE__, (what));                                       \
		}                                                                           \
	} while (0)

enum bench_put_stage {
	PS_HTTP,
	PS_DECODE,
	PS_SIGV4,
	PS_MD5,
	PS_ROUTE,
	PS_GROUP,
	PS_B64,
	PS_APPEND,
	PS_RESP,
	PS_COUNT,
};

enum bench_get_stage {
	GS_REQ,
	GS_ITER,
	GS_READ,
	GS_ENCODE,
	GS_RESP,
	GS_COUNT,
};

enum bench_base {
	BASE_NONE = 0,
	BASE_SHA256,
	BASE_JANSSON,
	BASE_MD5,
	BASE_B64DEC,
	BASE_B64ENC,
	/* pieces of the server's answer stages, timed alone (a breakdown, not a baseline) */
	BASE_SHARD_ID,
	BASE_U128,
	BASE_JW_PUT_OK,
	BASE_SP_B64ENC,
	BASE_JW_EPOCH,
	BASE_COUNT,
};

struct bench_stage_desc {
	const char *name;
	const char *code;
	enum bench_base base;
};

static const struct bench_stage_desc bench_put_desc[PS_COUNT] = {
	[PS_HTTP] = {"http parse", "sp_http_parse, 1448-B slices", BASE_NONE},
	[PS_DECODE] = {"decode", "sp_api_req_put_records (step 6)", BASE_JANSSON},
	[PS_SIGV4] = {"sigv4", "sp_sigv4_verify", BASE_SHA256},
	[PS_MD5] = {"md5", "sp_md5_batch, 500 keys", BASE_MD5},
	[PS_ROUTE] = {"route", "sp_api_cat_stream + _stream_route", BASE_NONE},
	[PS_GROUP] = {"group", "sp_api_put_order (put_group)", BASE_NONE},
	[PS_B64] = {"base64", "sp_b64_decode per record", BASE_B64DEC},
	[PS_APPEND] = {"ring append", "sp_shard_ring_append per shard", BASE_NONE},
	[PS_RESP] = {"response", "sp_api_jw_put_records_* + http", BASE_NONE},
};

static const struct bench_stage_desc bench_get_desc[GS_COUNT] = {
	[GS_REQ] = {"request", "http + json check + sigv4 + decode", BASE_NONE},
	[GS_ITER] = {"iterator", "sp_shard_iter_decode + _encode", BASE_NONE},
	[GS_READ] = {"ring read", "sp_shard_ring_read, 10000 recs", BASE_NONE},
	[GS_ENCODE] = {"json+base64", "sp_api_jw_get_records_*", BASE_B64ENC},
	[GS_RESP] = {"response", "read_intact + http head", BASE_NONE},
};

static const char *const bench_base_names[BASE_COUNT] = {
	[BASE_NONE] = "",
	[BASE_SHA256] = "SHA256(body)",
	[BASE_JANSSON] = "json_loadb",
	[BASE_MD5] = "MD5()",
	[BASE_B64DEC] = "EVP_DecodeBlock",
	[BASE_B64ENC] = "EVP_EncodeBlock",
	[BASE_SHARD_ID] = "sp_api_format_shard_id",
	[BASE_U128] = "sp_u128_format",
	[BASE_JW_PUT_OK] = "sp_api_jw_put_records_ok",
	[BASE_SP_B64ENC] = "sp_b64_encode",
	[BASE_JW_EPOCH] = "sp_api_jw_epoch_ms",
};

/* One server connection's parser and buffer, laid out as api_conn.c lays them out. */
struct bench_conn {
	struct sp_http_req http;
	char head[SP_HTTP_HEAD_MAX_BYTES];
	char *buf; /* BENCH_RESP_HEAD_BYTES, then the body, then the decoder's scratch arena */
	size_t cap;
	const char *wire; /* the request as the client sends it */
	size_t wire_len;
	size_t body_len; /* what the parser must find */
	char resp_head[BENCH_RESP_HEAD_BYTES];
	size_t resp_len; /* JSON answer at buf + BENCH_RESP_HEAD_BYTES */
};

/* The PutRecords path's per-request state (what sp_api_op_put keeps on its stack). */
struct bench_put {
	struct sp_api_req_put_records pr;
	struct sp_api_req_err err;
	struct sp_md5_key keys[BENCH_RECORDS];
	struct sp_md5_digest dig[BENCH_RECORDS];
	const struct sp_api_shard *route[BENCH_RECORDS];
	uint64_t order[BENCH_RECORDS];	      /* owner << 48 | shard << 16 | position, sorted */
	struct sp_shard_rec_in in[BENCH_RECORDS]; /* grouped order */
	sp_u128 seqs[BENCH_RECORDS];		  /* grouped order */
	uint16_t pos[BENCH_RECORDS];		  /* request position -> grouped position */
	uint8_t *scratch;			  /* decoded Data (the owner's api->scratch) */
};

struct bench_get {
	struct sp_api_req_get_records req;
	struct sp_api_req_err err;
	struct sp_shard_iter it;
	struct sp_shard_read_res res;
	const struct sp_api_stream *st;
	const struct sp_api_shard *sh;
	struct sp_shard_rec_view views[BENCH_GET_RECORDS];
	unsigned n;
};

struct bench {
	/* input, built once */
	uint8_t data[BENCH_RECORDS][BENCH_DATA_BYTES];
	char key[BENCH_RECORDS][BENCH_KEY_MAX + 1];
	size_t key_len[BENCH_RECORDS];
	char b64[BENCH_RECORDS][BENCH_B64_BYTES + 1];
	char body[BENCH_BODY_CAP];
	size_t body_len;
	char put_wire[BENCH_WIRE_CAP];
	char get_wire[8192];
	char invocation[40];
	int64_t now_s;
	uint64_t now_ms;

	/* the server side */
	struct sp_sigv4_keys *keys;
	struct sp_sigv4 *sv;
	struct sp_shard_iter_mac *mac;
	struct sp_api_cat *cat;
	struct sp_shard_ring *rings[BENCH_SHARDS];
	void *ring_mem[BENCH_SHARDS];
	struct bench_conn put_conn;
	struct bench_conn get_conn;
	struct bench_put put;
	struct bench_get get;
	char scratch_json[BENCH_BODY_CAP];
	uint8_t scratch_bin[BENCH_RECORDS * BENCH_B64_BYTES];
	uint64_t rng;
};

/*
 * Two passes per operation. The stage pass reads the TSC between stages (cheap: no syscall)
 * for each stage's share, and the thread's CPU time around the whole pass for the total. The
 * end-to-end pass reads no clock inside the loop. CPU time, not wall time, is the measure of
 * "per core": on a shared machine the wall clock also counts the time other processes ran.
 */
struct bench_result {
	uint64_t iters;
	uint64_t tsc[PS_COUNT]; /* ticks per stage (PS_* or GS_*), summed over iters */
	uint64_t cpu_ns;	/* thread CPU time of the stage pass, trims excluded */
	uint64_t e2e_iters;
	uint64_t e2e_cpu_ns;	/* thread CPU time of the end-to-end pass, trims excluded */
	uint64_t e2e_wall_ns;
};

static volatile uint64_t g_sink;

SP_COLD SP_NORETURN static void
bench_fail(int line, const char *what)
{
	fprintf(stderr, "bench_pipeline: correctness check failed (line %d): %s\n", line, what);
	exit(1);
}

static uint64_t
bench_clock_ns(clockid_t id)
{
	struct timespec ts;

	SP_VERIFY(clock_gettime(id, &ts) == 0);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t
bench_wall_ns(void)
{
	return bench_clock_ns(CLOCK_MONOTONIC);
}

static uint64_t
bench_cpu_ns(void)
{
	return bench_clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

static inline uint64_t
bench_tick(void)
{
#if defined(__x86_64__)
	return __rdtsc();
#else
	return bench_wall_ns();
#endif
}

/* Charge the ticks since *t to stage st (no-op when acc is NULL: the end-to-end pass). */
static inline void
bench_lap(uint64_t *acc, unsigned st, uint64_t *t)
{
	uint64_t now;

	if (acc == NULL) {
		return;
	}
	now = bench_tick();
	acc[st] += now - *t;
	*t = now;
}

/* xorshift64*: reproducible input, no secrecy needed. */
static uint64_t
bench_rand(struct bench *b)
{
	uint64_t x = b->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	b->rng = x;
	return x * UINT64_C(0x2545F4914F6CDD1D);
}

/* ---- Input: records, body, signed requests ---- */

static void
bench_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static void
bench_hmac(const void *key, size_t klen, const char *msg, uint8_t out[SHA256_DIGEST_LENGTH])
{
	unsigned int len = 0;

	SP_VERIFY(HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out,
		       &len) != NULL);
	SP_VERIFY(len == SHA256_DIGEST_LENGTH);
}

/* The SigV4 signature of sts, computed the way the SDKs compute it (OpenSSL HMAC). */
static void
bench_signature(const char *date8, const char *sts, char sig[2 * SHA256_DIGEST_LENGTH + 1])
{
	char k0[sizeof(BENCH_SECRET) + 4];
	uint8_t a[SHA256_DIGEST_LENGTH], c[SHA256_DIGEST_LENGTH];

	snprintf(k0, sizeof(k0), "AWS4%s", BENCH_SECRET);
	bench_hmac(k0, strlen(k0), date8, a);
	bench_hmac(a, sizeof(a), BENCH_REGION, c);
	bench_hmac(c, sizeof(c), SP_SIGV4_SERVICE, a);
	bench_hmac(a, sizeof(a), "aws4_request", c);
	bench_hmac(c, sizeof(c), sts, a);
	bench_hex(a, sizeof(a), sig);
}

/* Canonical request, string to sign and signature of a POST / with boto3's signed headers. */
static void
bench_sign(const struct bench *b, const char *op, const char *body, size_t len,
	   const char *stamp, const char *date8, char sig[2 * SHA256_DIGEST_LENGTH + 1])
{
	char creq[2048], sts[512], body_hex[2 * SHA256_DIGEST_LENGTH + 1];
	char creq_hex[2 * SHA256_DIGEST_LENGTH + 1];
	uint8_t d[SHA256_DIGEST_LENGTH];
	int n;

	SHA256((const unsigned char *)body, len, d);
	bench_hex(d, sizeof(d), body_hex);
	n = snprintf(creq, sizeof(creq),
		     "POST\n/\n\n"
		     "amz-sdk-invocation-id:%s\n"
		     "amz-sdk-request:attempt=1\n"
		     "content-type:%s\n"
		     "host:%s\n"
		     "x-amz-date:%s\n"
		     "x-amz-target:%s%s\n"
		     "\n%s\n%s",
		     b->invocation, SP_KINESIS_CONTENT_TYPE_JSON, BENCH_HOST, stamp,
		     SP_KINESIS_TARGET_PREFIX, op, BENCH_SIGNED, body_hex);
	SP_VERIFY(n > 0 && (size_t)n < sizeof(creq));
	SHA256((const unsigned char *)creq, (size_t)n, d);
	bench_hex(d, sizeof(d), creq_hex);
	n = snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", stamp,
		     date8, BENCH_REGION, SP_SIGV4_SERVICE, creq_hex);
	SP_VERIFY(n > 0 && (size_t)n < sizeof(sts));
	bench_signature(date8, sts, sig);
}

/* The whole request as boto3 sends it (http.client puts Host and Accept-Encoding first). */
static size_t
bench_request(const struct bench *b, const char *op, const char *body, size_t len, char *out,
	      size_t cap)
{
	char stamp[20], date8[12], sig[2 * SHA256_DIGEST_LENGTH + 1];
	time_t t = (time_t)b->now_s;
	struct tm tm;
	int n;

	SP_VERIFY(gmtime_r(&t, &tm) != NULL);
	SP_VERIFY(strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) == 16);
	SP_VERIFY(strftime(date8, sizeof(date8), "%Y%m%d", &tm) == 8);
	bench_sign(b, op, body, len, stamp, date8, sig);
	n = snprintf(out, cap,
		     "POST / HTTP/1.1\r\n"
		     "Host: %s\r\n"
		     "Accept-Encoding: identity\r\n"
		     "X-Amz-Target: %s%s\r\n"
		     "Content-Type: %s\r\n"
		     "User-Agent: %s\r\n"
		     "X-Amz-Date: %s\r\n"
		     "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
		     "SignedHeaders=%s, Signature=%s\r\n"
		     "amz-sdk-invocation-id: %s\r\n"
		     "amz-sdk-request: attempt=1\r\n"
		     "Content-Length: %zu\r\n"
		     "\r\n",
		     BENCH_HOST, SP_KINESIS_TARGET_PREFIX, op, SP_KINESIS_CONTENT_TYPE_JSON,
		     BENCH_UA, stamp, BENCH_AKID, date8, BENCH_REGION, SP_SIGV4_SERVICE,
		     BENCH_SIGNED, sig, b->invocation, len);
	SP_VERIFY(n > 0 && (size_t)n + len <= cap);
	memcpy(out + n, body, len);
	return (size_t)n + len;
}

/* 500 records of random Data and keys; the body as botocore serialises it. */
static void
bench_make_input(struct bench *b)
{
	static const char alnum[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	size_t n = 0;
	int w;

	w = snprintf(b->body, sizeof(b->body), "{\"Records\":[");
	SP_VERIFY(w > 0);
	n = (size_t)w;
	for (unsigned i = 0; i < BENCH_RECORDS; i++) {
		b->key_len[i] = BENCH_KEY_MIN + bench_rand(b) % (BENCH_KEY_MAX - BENCH_KEY_MIN + 1);
		for (size_t k = 0; k < b->key_len[i]; k++) {
			b->key[i][k] = alnum[bench_rand(b) % (sizeof(alnum) - 1)];
		}
		b->key[i][b->key_len[i]] = '\0';
		for (unsigned k = 0; k < BENCH_DATA_BYTES; k++) {
			b->data[i][k] = (uint8_t)bench_rand(b);
		}
		SP_VERIFY(EVP_EncodeBlock((unsigned char *)b->b64[i], b->data[i],
					  BENCH_DATA_BYTES) == (int)BENCH_B64_BYTES);
		w = snprintf(b->body + n, sizeof(b->body) - n,
			     "%s{\"Data\":\"%s\",\"PartitionKey\":\"%s\"}", i > 0 ? "," : "",
			     b->b64[i], b->key[i]);
		SP_VERIFY(w > 0 && (size_t)w < sizeof(b->body) - n);
		n += (size_t)w;
	}
	w = snprintf(b->body + n, sizeof(b->body) - n, "],\"StreamName\":\"%s\"}", BENCH_STREAM);
	SP_VERIFY(w > 0 && (size_t)w < sizeof(b->body) - n);
	b->body_len = n + (size_t)w;
	snprintf(b->invocation, sizeof(b->invocation), "%08x-%04x-4%03x-%04x-%012llx",
		 (unsigned)bench_rand(b), (unsigned)bench_rand(b) & 0xffff,
		 (unsigned)bench_rand(b) & 0xfff, ((unsigned)bench_rand(b) & 0x3fff) | 0x8000,
		 (unsigned long long)(bench_rand(b) & UINT64_C(0xffffffffffff)));
}

/* ---- Server side set-up (init time: allocation allowed) ---- */

/*
 * Cache-line-aligned, zeroed memory: every page touched now, as hugepage memzones and mempool
 * buffers are resident, so that no page fault lands in a timed loop.
 */
static void *
bench_alloc(size_t bytes)
{
	size_t n = (bytes + SP_CACHE_LINE - 1) & ~(size_t)(SP_CACHE_LINE - 1);
	void *p = aligned_alloc(SP_CACHE_LINE, n); /* C11: n a multiple of the alignment */

	SP_VERIFY(p != NULL && n >= bytes);
	memset(p, 0, n);
	return p;
}

static struct sp_shard_ring *
bench_ring_fn(void *arg, const struct sp_api_stream *st, const struct sp_api_shard *sh)
{
	struct bench *b = arg;
	struct sp_shard_ring_conf conf = {
	    .id = {.epoch = BENCH_EPOCH, .node = 0, .stream_tag = st->tag,
		   .shard_index = sh->index},
	    .first_counter = 0,
	    .max_record_bytes = st->max_record_bytes,
	};
	struct sp_shard_ring *ring = NULL;
	void *mem;

	SP_VERIFY(sh->index < BENCH_SHARDS && b->rings[sh->index] == NULL);
	SP_STATIC_ASSERT(SP_SHARD_RING_ALIGN <= SP_CACHE_LINE, "bench_alloc aligns enough");
	mem = bench_alloc(BENCH_RING_BYTES);
	if (sp_shard_ring_init(mem, BENCH_RING_BYTES, &conf, &ring) != 0) {
		free(mem);
		return NULL;
	}
	SP_VERIFY(sp_shard_ring_seq(ring, 0) == sh->starting_seq);
	b->ring_mem[sh->index] = mem;
	b->rings[sh->index] = ring;
	return ring;
}

/*
 * Whether the catalog builder takes the ShardId form spate-control stores and clients send
 * ("shardId-" and 12 digits). If not, say so and use the unpadded form, so that the pipeline
 * can still be measured.
 */
static bool
bench_padded_ids_ok(void)
{
	char id[SP_API_SHARD_ID_BYTES];
	uint32_t idx = UINT32_MAX;
	size_t len = sp_api_format_shard_id(3, id);

	if (sp_api_parse_shard_id(id, len, &idx) == 0 && idx == 3) {
		return true;
	}
	fprintf(stderr, "bench_pipeline: WARNING: sp_api_parse_shard_id refuses \"%s\" (the form "
		"sp_api_format_shard_id writes); the catalog uses \"shardId-N\" instead\n", id);
	return false;
}

/* A catalog like spate-control's: one ACTIVE stream, 4 shards tiling 0..2^128-1, lcore 0. */
static void
bench_make_catalog(struct bench *b)
{
	uint32_t tag = sp_seqno_stream_tag(BENCH_STREAM, strlen(BENCH_STREAM), BENCH_CREATED_MS);
	char text[4096], lo[SP_U128_DEC_MAX + 1], hi[SP_U128_DEC_MAX + 1], seq[SP_U128_DEC_MAX + 1];
	size_t n = 0;
	json_error_t je;
	json_t *cat;
	int w;

	bool padded = bench_padded_ids_ok();

	w = snprintf(text, sizeof(text),
		     "{\"streams\":[{\"name\":\"%s\",\"status\":\"ACTIVE\",\"created_ms\":%d,"
		     "\"shards\":[", BENCH_STREAM, BENCH_CREATED_MS);
	n = (size_t)w;
	for (uint32_t i = 0; i < BENCH_SHARDS; i++) {
		struct sp_seqno_fields f = {.epoch = BENCH_EPOCH, .node = 0, .counter = 0,
					    .stream_tag = tag, .shard_index = i};
		char id[SP_API_SHARD_ID_BYTES];

		if (padded) {
			sp_api_format_shard_id(i, id);
		} else {
			snprintf(id, sizeof(id), "shardId-%u", i);
		}
		sp_u128_format((sp_u128)i << 126, lo);
		sp_u128_format(((sp_u128)i << 126) + (((sp_u128)1 << 126) - 1), hi);
		sp_u128_format(sp_seqno_pack(&f), seq);
		w = snprintf(text + n, sizeof(text) - n,
			     "%s{\"shard_id\":\"%s\",\"starting_hash_key\":\"%s\","
			     "\"ending_hash_key\":\"%s\",\"starting_seq\":\"%s\","
			     "\"owner_lcore\":0}", i > 0 ? "," : "", id, lo, hi, seq);
		SP_VERIFY(w > 0 && (size_t)w < sizeof(text) - n);
		n += (size_t)w;
	}
	w = snprintf(text + n, sizeof(text) - n, "]}]}");
	SP_VERIFY(w > 0 && (size_t)w < sizeof(text) - n);
	cat = json_loads(text, 0, &je);
	SP_VERIFY(cat != NULL);
	SP_VERIFY(sp_api_cat_build(cat, 1, BENCH_EPOCH, BENCH_ACCOUNT, BENCH_REGION, NULL,
				   bench_ring_fn, b, &b->cat) == 0);
	json_decref(cat);
	for (uint32_t i = 0; i < BENCH_SHARDS; i++) {
		BENCH_CHECK(b->rings[i] != NULL, "shard ring set-up");
	}
}

static void
bench_conn_init(struct bench_conn *c, size_t cap, const char *wire, size_t wire_len,
		size_t body_len)
{
	c->buf = bench_alloc(cap);
	c->cap = cap;
	c->wire = wire;
	c->wire_len = wire_len;
	c->body_len = body_len;
	SP_VERIFY(2 * body_len + BENCH_RESP_HEAD_BYTES <= cap);
	sp_http_req_init(&c->http, c->head, sizeof(c->head), SP_K_HTTP_BODY_MAX_BYTES);
}

static void
bench_server_init(struct bench *b)
{
	char creds[512], err[SP_SIGV4_ERR_MAX];
	struct sp_sigv4_config sc = {.region = NULL};
	uint8_t key[SP_SHARD_ITER_KEY_BYTES];
	int n;

	n = snprintf(creds, sizeof(creds),
		     "[bench]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
		     "account_id = %s\n", BENCH_AKID, BENCH_SECRET, BENCH_ACCOUNT);
	SP_VERIFY(n > 0 && (size_t)n < sizeof(creds));
	if (sp_sigv4_keys_parse(creds, (size_t)n, BENCH_ACCOUNT, &b->keys, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_pipeline: credentials: %s\n", err);
		exit(1);
	}
	sc.keys = b->keys;
	SP_VERIFY(sp_sigv4_create(&sc, &b->sv) == 0);
	for (unsigned i = 0; i < sizeof(key); i++) {
		key[i] = (uint8_t)bench_rand(b);
	}
	SP_VERIFY(sp_shard_iter_mac_create(key, &b->mac) == 0);
	bench_make_catalog(b);
	b->put.scratch = bench_alloc(BENCH_RECORDS * BENCH_DATA_BYTES * 2);
	sp_md5_select();
	sp_b64_select();
}

/* ---- Stages shared by both operations ---- */

/* Feed the wire bytes in MSS slices, as the connection's receive path does. */
static int
bench_http(struct bench_conn *c)
{
	size_t off = 0;

	if (sp_http_state(&c->http) != SP_HTTP_STATE_IDLE) {
		sp_http_req_reset(&c->http);
	}
	while (off < c->wire_len) {
		size_t seg = SP_MIN(c->wire_len - off, (size_t)BENCH_MSS);
		const char *p = c->wire + off;

		off += seg;
		while (seg > 0) {
			size_t used = 0;
			int rc = sp_http_parse(&c->http, p, seg, &used);

			SP_VERIFY(used <= seg);
			p += used;
			seg -= used;
			if (rc == SP_HTTP_HEAD_DONE) {
				/* conn_take_buffer: the body, then as much again for the scanner */
				sp_http_set_body_buf(&c->http, c->buf + BENCH_RESP_HEAD_BYTES,
						     (c->cap - BENCH_RESP_HEAD_BYTES) / 2);
			} else if (rc == SP_HTTP_DONE) {
				return seg == 0 && off == c->wire_len ? 0 : -EPROTO;
			} else if (rc != SP_AGAIN) {
				return rc;
			}
		}
	}
	return -EPROTO; /* the request never completed */
}

/* api_router.c step 6: the body is one valid JSON object (scratch after the body). */
static bool
bench_is_object(struct bench_conn *c)
{
	const char *body = sp_http_body(&c->http);
	size_t len = sp_http_body_len(&c->http);
	struct sp_api_json js;

	if (sp_api_json_init(&js, body, len, (char *)body + len,
			     c->cap - BENCH_RESP_HEAD_BYTES - len) != 0 ||
	    sp_api_json_peek(&js) != SP_API_JSON_OBJECT) {
		return false;
	}
	return sp_api_json_skip(&js) == 0 && sp_api_json_finish(&js) == 0;
}

/* router_auth: the parsed request handed to the verifier. */
static enum sp_kerr
bench_sigv4(struct bench *b, struct bench_conn *c, char *msg, size_t msg_cap)
{
	struct sp_sigv4_header hdrs[SP_HTTP_MAX_HEADERS];
	struct sp_sigv4_request rq;
	struct sp_sigv4_result res;
	unsigned n = sp_http_header_count(&c->http);

	SP_VERIFY(n <= SP_HTTP_MAX_HEADERS);
	for (unsigned i = 0; i < n; i++) {
		sp_http_header_at(&c->http, i, &hdrs[i].name, &hdrs[i].name_len, &hdrs[i].value,
				  &hdrs[i].value_len);
	}
	memset(&rq, 0, sizeof(rq));
	sp_http_method(&c->http, &rq.method, &rq.method_len);
	sp_http_target(&c->http, &rq.target, &rq.target_len);
	rq.headers = hdrs;
	rq.n_headers = n;
	rq.body = sp_http_body(&c->http);
	rq.body_len = sp_http_body_len(&c->http);
	rq.now_ms = b->now_ms + 1500; /* the request left the client 1.5 s ago */
	return sp_sigv4_verify(b->sv, &rq, &res, msg, msg_cap);
}

/* conn_write_head's fields, through the HTTP writer. Returns the head's length. */
static size_t
bench_resp_head(struct bench *b, struct bench_conn *c, size_t body_len)
{
	struct sp_http_resp r;
	int n;

	sp_http_resp_init(&r, c->resp_head, sizeof(c->resp_head));
	(void)sp_http_resp_status(&r, 200);
	(void)sp_http_resp_header_str(&r, "x-amzn-RequestId", b->invocation);
	(void)sp_http_resp_header_str(&r, "Content-Type", SP_KINESIS_CONTENT_TYPE_JSON);
	(void)sp_http_resp_content_length(&r, body_len);
	(void)sp_http_resp_date(&r, b->now_s);
	n = sp_http_resp_end(&r);
	BENCH_CHECK(n > 0, "response head");
	return (size_t)n;
}

/* ---- PutRecords ---- */


/* Decode and validate: what sp_api_put_decode does at the router's step 6. */
static bool
put_decode(struct bench_put *p, struct bench_conn *c)
{
	const char *body = sp_http_body(&c->http);
	size_t len = sp_http_body_len(&c->http);

	if (sp_api_req_put_records(body, len, (char *)body + len,
				   c->cap - BENCH_RESP_HEAD_BYTES - len, &p->pr, &p->err) != 0) {
		return false;
	}
	return p->pr.n == BENCH_RECORDS && (p->pr.has & SP_API_REQ_HAS_STREAM_NAME) != 0;
}

static void
put_md5(struct bench_put *p)
{
	for (uint32_t i = 0; i < p->pr.n; i++) {
		p->keys[i] = (struct sp_md5_key){.data = p->pr.rec[i].key.ptr,
						 .len = p->pr.rec[i].key.len};
	}
	sp_md5_batch(p->keys, p->pr.n, p->dig);
}

/* sp_api_resolve_stream's lookup, then put_route's per-record routing. */
static bool
put_route(struct bench *b, struct bench_put *p)
{
	const struct sp_api_stream *st =
	    sp_api_cat_stream(b->cat, p->pr.stream_name.ptr, p->pr.stream_name.len);

	if (st == NULL || st->status != SP_API_ACTIVE) {
		return false;
	}
	for (uint32_t i = 0; i < p->pr.n; i++) {
		p->route[i] = sp_api_stream_route(st, sp_md5_hashkey_u128(&p->dig[i]));
		if (p->route[i] == NULL || p->route[i]->ring == NULL) {
			return false;
		}
	}
	return true;
}

/* put_group: the server's ordering by (owner, shard, request position). */
static void
put_group(struct bench_put *p)
{
	sp_api_put_order(p->order, p->route, p->pr.n);
	for (uint32_t g = 0; g < p->pr.n; g++) {
		p->pos[p->order[g] & 0xffff] = (uint16_t)g;
	}
}

/* put_serve_run's decode: each record's base64 into the owner's scratch. */
static bool
put_b64(struct bench_put *p)
{
	size_t off = 0;

	for (uint32_t g = 0; g < p->pr.n; g++) {
		const struct sp_api_req_record *r = &p->pr.rec[p->order[g] & 0xffff];
		struct sp_b64_error e;
		size_t out_len = 0;

		if (sp_b64_decode(r->data.ptr, r->data.len, p->scratch + off, &out_len, &e) != 0 ||
		    out_len != r->data_len) {
			return false;
		}
		p->in[g] = (struct sp_shard_rec_in){.key = r->key.ptr, .data = p->scratch + off,
						    .data_len = r->data_len,
						    .key_len = (uint16_t)r->key.len};
		off += out_len;
	}
	return true;
}

/* One sp_shard_ring_append per run of one shard (one publication each). */
static bool
put_append(struct bench *b, struct bench_put *p)
{
	uint32_t from = 0;

	while (from < p->pr.n) {
		const struct sp_api_shard *sh = p->route[p->order[from] & 0xffff];
		uint32_t to = from + 1;
		int rc;

		while (to < p->pr.n && p->route[p->order[to] & 0xffff] == sh) {
			to++;
		}
		rc = sp_shard_ring_append(sh->ring, p->in + from, to - from, b->now_ms,
					  p->seqs + from);
		if (rc != (int)(to - from)) {
			return false;
		}
		from = to;
	}
	return true;
}

/* put_finish_batch: entries in request order, then the head. */
static void
put_respond(struct bench *b, struct bench_put *p, struct bench_conn *c)
{
	char seq[SP_U128_DEC_MAX + 1];
	struct sp_api_shard_ids ids;
	struct sp_api_jw w;
	ssize_t n;

	sp_api_shard_ids_init(&ids);
	sp_api_jw_init(&w, c->buf + BENCH_RESP_HEAD_BYTES, c->cap - BENCH_RESP_HEAD_BYTES);
	sp_api_jw_put_records_begin(&w, 0);
	for (uint32_t k = 0; k < p->pr.n; k++) {
		uint16_t g = p->pos[k];
		size_t id_len;
		const char *id = sp_api_shard_ids_get(&ids, p->route[k]->index, &id_len);

		sp_api_jw_put_records_ok(&w, id, id_len, seq, sp_u128_format(p->seqs[g], seq));
	}
	sp_api_jw_put_records_end(&w, false);
	n = sp_api_jw_finish(&w);
	BENCH_CHECK(n > 0, "PutRecords answer did not fit");
	c->resp_len = (size_t)n;
	g_sink += bench_resp_head(b, c, c->resp_len);
}

/* One PutRecords through every stage; acc NULL: no per-stage clock reads. */
static void
put_iteration(struct bench *b, uint64_t *acc)
{
	struct bench_conn *c = &b->put_conn;
	struct bench_put *p = &b->put;
	char msg[SP_SIGV4_MSG_MAX];
	uint64_t t = acc != NULL ? bench_tick() : 0;

	BENCH_CHECK(bench_http(c) == 0 && sp_http_body_len(&c->http) == c->body_len,
		    "HTTP parse of the PutRecords request");
	bench_lap(acc, PS_HTTP, &t);
	/* PutRecord(s) decode at the router's step 6 (sp_api_put_decode): no separate scan */
	BENCH_CHECK(put_decode(p, c), "PutRecords decode");
	bench_lap(acc, PS_DECODE, &t);
	if (bench_sigv4(b, c, msg, sizeof(msg)) != SP_KERR_NONE) {
		bench_fail(__LINE__, msg);
	}
	bench_lap(acc, PS_SIGV4, &t);
	put_md5(p);
	bench_lap(acc, PS_MD5, &t);
	BENCH_CHECK(put_route(b, p), "routing");
	bench_lap(acc, PS_ROUTE, &t);
	put_group(p);
	bench_lap(acc, PS_GROUP, &t);
	BENCH_CHECK(put_b64(p), "base64 decode");
	bench_lap(acc, PS_B64, &t);
	BENCH_CHECK(put_append(b, p), "ring append refused records");
	bench_lap(acc, PS_APPEND, &t);
	put_respond(b, p, c);
	bench_lap(acc, PS_RESP, &t);
}

/* Untimed: drop every record of every ring once a ring is half full. */
static void
bench_trim(struct bench *b, bool always)
{
	for (unsigned i = 0; i < BENCH_SHARDS; i++) {
		struct sp_shard_ring_info info;

		sp_shard_ring_info(b->rings[i], &info);
		if (always || info.used_bytes > info.capacity / 2) {
			BENCH_CHECK(sp_shard_ring_trim(b->rings[i], info.tip_seq + 1) >= 0, "trim");
		}
	}
}

/* ---- Checks after one PutRecords (untimed) ---- */

/* Routing against OpenSSL MD5: shard i holds [i, i + 1) * 2^126, so the top two bits. */
static unsigned
bench_expected_shard(const struct bench *b, unsigned k)
{
	uint8_t d[MD5_DIGEST_LENGTH];

	MD5((const unsigned char *)b->key[k], b->key_len[k], d);
	return d[0] >> 6;
}

static void
put_check_ring(struct bench *b, unsigned k, sp_u128 seq)
{
	const struct sp_api_shard *sh = b->put.route[k];
	struct sp_shard_rec_view v;
	struct sp_shard_read_res res;
	struct sp_shard_pos pos;

	BENCH_CHECK(sp_shard_ring_seek_seq(sh->ring, seq, false, &pos) == 0, "seek");
	BENCH_CHECK(sp_shard_ring_read(sh->ring, &pos, 1, UINT64_MAX, &v, &res) == 1, "read back");
	BENCH_CHECK(v.seq == seq && v.data_len == BENCH_DATA_BYTES &&
			    v.key_len == b->key_len[k] &&
			    memcmp(v.data, b->data[k], BENCH_DATA_BYTES) == 0 &&
			    memcmp(v.key, b->key[k], b->key_len[k]) == 0,
		    "record read back differs from the record sent");
}

static void
put_check(struct bench *b)
{
	struct bench_conn *c = &b->put_conn;
	json_t *resp, *recs;
	json_error_t je;

	for (unsigned k = 0; k < BENCH_RECORDS; k++) {
		BENCH_CHECK(b->put.route[k]->index == bench_expected_shard(b, k),
			    "routing differs from OpenSSL MD5");
		put_check_ring(b, k, b->put.seqs[b->put.pos[k]]);
	}
	resp = json_loadb(c->buf + BENCH_RESP_HEAD_BYTES, c->resp_len, 0, &je);
	BENCH_CHECK(resp != NULL, "PutRecords answer is not JSON");
	recs = json_object_get(resp, "Records");
	BENCH_CHECK(json_integer_value(json_object_get(resp, "FailedRecordCount")) == 0 &&
			    json_array_size(recs) == BENCH_RECORDS,
		    "PutRecords answer: counts");
	for (unsigned k = 0; k < BENCH_RECORDS; k++) {
		json_t *e = json_array_get(recs, k);
		const char *id = json_string_value(json_object_get(e, "ShardId"));
		const char *sn = json_string_value(json_object_get(e, "SequenceNumber"));
		char want_id[SP_API_SHARD_ID_BYTES], want_sn[SP_U128_DEC_MAX + 1];

		snprintf(want_id, sizeof(want_id), "shardId-%012u", bench_expected_shard(b, k));
		sp_u128_format(b->put.seqs[b->put.pos[k]], want_sn);
		BENCH_CHECK(id != NULL && sn != NULL && strcmp(id, want_id) == 0 &&
				    strcmp(sn, want_sn) == 0,
			    "PutRecords answer: entry");
	}
	json_decref(resp);
}

/* ---- GetRecords ---- */

/* Fill shard 0 with >= 10000 records through the PutRecords pipeline; sign a GetRecords. */
static void
get_setup(struct bench *b)
{
	const struct sp_api_stream *st = sp_api_cat_stream(b->cat, BENCH_STREAM,
							   strlen(BENCH_STREAM));
	struct sp_shard_iter it = {.issued_ms = b->now_ms, .kind = SP_SHARD_ITER_AT};
	char token[SP_SHARD_ITER_MAX_CHARS + 1], body[SP_SHARD_ITER_MAX_CHARS + 64];
	struct sp_shard_ring_info info;
	struct sp_shard_pos start;
	uint64_t first;
	size_t wire_len;
	int n;

	SP_VERIFY(st != NULL);
	bench_trim(b, true);
	BENCH_CHECK(sp_shard_ring_latest(b->rings[0], &start) == 0, "latest");
	sp_shard_ring_info(b->rings[0], &info);
	first = info.next_counter;
	for (unsigned i = 0; i < BENCH_ITER_MAX; i++) {
		sp_shard_ring_info(b->rings[0], &info);
		if (info.next_counter - first >= BENCH_GET_RECORDS) {
			break;
		}
		put_iteration(b, NULL);
	}
	it.seq = start.seq;
	it.stream_tag = st->tag;
	it.shard_index = 0;
	it.name_len = (uint8_t)st->name_len;
	memcpy(it.name, st->name, st->name_len + 1u);
	n = sp_shard_iter_encode(b->mac, &it, token, sizeof(token));
	BENCH_CHECK(n > 0, "iterator encode");
	n = snprintf(body, sizeof(body), "{\"ShardIterator\":\"%s\",\"Limit\":%u}", token,
		     BENCH_GET_RECORDS);
	SP_VERIFY(n > 0 && (size_t)n < sizeof(body));
	wire_len = bench_request(b, "GetRecords", body, (size_t)n, b->get_wire,
				 sizeof(b->get_wire));
	bench_conn_init(&b->get_conn, BENCH_BIG_BUF_BYTES, b->get_wire, wire_len, (size_t)n);
}

static bool
get_decode(struct bench_get *g, struct bench_conn *c)
{
	const char *body = sp_http_body(&c->http);
	size_t len = sp_http_body_len(&c->http);

	return sp_api_req_get_records(body, len, (char *)body + len,
				      c->cap - BENCH_RESP_HEAD_BYTES - len, &g->req, &g->err) == 0;
}

/* sp_api_op_get_records: stream and shard of the iterator, then one ring read. */
static bool
get_read(struct bench *b, struct bench_get *g, struct bench_conn *c)
{
	size_t cap = c->cap - BENCH_RESP_HEAD_BYTES;
	uint64_t max_bytes = SP_MIN((uint64_t)SP_K_GET_RECORDS_MAX_BYTES, cap * 3 / 4);
	unsigned want = (unsigned)SP_MIN((uint32_t)g->req.limit, SP_K_GET_RECORDS_MAX_RECORDS);
	struct sp_shard_pos pos;
	int n;

	g->st = sp_api_cat_stream(b->cat, g->it.name, g->it.name_len);
	g->sh = g->st != NULL && g->st->tag == g->it.stream_tag
		    ? sp_api_stream_shard(g->st, g->it.shard_index)
		    : NULL;
	if (g->sh == NULL || g->sh->ring == NULL) {
		return false;
	}
	pos.seq = g->it.kind == SP_SHARD_ITER_AFTER ? g->it.seq + 1 : g->it.seq;
	n = sp_shard_ring_read(g->sh->ring, &pos, want, max_bytes, g->views, &g->res);
	g->n = n > 0 ? (unsigned)n : 0;
	return n == (int)BENCH_GET_RECORDS;
}

/* get_answer: the records, the next iterator (get_seal), the tail. */
static void
get_encode(struct bench *b, struct bench_get *g, struct bench_conn *c, uint64_t *acc,
	   uint64_t *t)
{
	char seq[SP_U128_DEC_MAX + 1], it[SP_K_SHARD_ITERATOR_MAX_CHARS + 1];
	struct sp_shard_iter next = {.issued_ms = b->now_ms + 1500, .kind = SP_SHARD_ITER_AT};
	struct sp_api_jw w;
	ssize_t n;
	int itn;

	sp_api_jw_init(&w, c->buf + BENCH_RESP_HEAD_BYTES, c->cap - BENCH_RESP_HEAD_BYTES);
	sp_api_jw_get_records_begin(&w);
	for (unsigned i = 0; i < g->n; i++) {
		const struct sp_shard_rec_view *v = &g->views[i];
		struct sp_api_jw_record r = {
		    .seq = seq,
		    .seq_len = sp_u128_format(v->seq, seq),
		    .arrival_ms = (int64_t)v->arrival_ms,
		    .data = v->data,
		    .data_len = v->data_len,
		    .key = (const char *)v->key,
		    .key_len = v->key_len,
		    .encryption = "NONE",
		};

		sp_api_jw_get_records_record(&w, &r);
	}
	bench_lap(acc, GS_ENCODE, t);
	next.seq = g->views[g->n - 1].seq + 1;
	next.stream_tag = g->st->tag;
	next.shard_index = g->sh->index;
	next.name_len = (uint8_t)g->st->name_len;
	memcpy(next.name, g->st->name, g->st->name_len + 1u);
	itn = sp_shard_iter_encode(b->mac, &next, it, sizeof(it));
	BENCH_CHECK(itn > 0, "iterator encode");
	bench_lap(acc, GS_ITER, t);
	sp_api_jw_get_records_end(&w, it, (size_t)itn, g->res.millis_behind, NULL, 0);
	n = sp_api_jw_finish(&w);
	BENCH_CHECK(n > 0, "GetRecords answer did not fit");
	c->resp_len = (size_t)n;
	bench_lap(acc, GS_ENCODE, t);
}

static void
get_iteration(struct bench *b, uint64_t *acc)
{
	struct bench_conn *c = &b->get_conn;
	struct bench_get *g = &b->get;
	char msg[SP_SIGV4_MSG_MAX];
	uint64_t t = acc != NULL ? bench_tick() : 0;

	BENCH_CHECK(bench_http(c) == 0 && sp_http_body_len(&c->http) == c->body_len,
		    "HTTP parse of the GetRecords request");
	BENCH_CHECK(bench_is_object(c), "the body is not one JSON object");
	if (bench_sigv4(b, c, msg, sizeof(msg)) != SP_KERR_NONE) {
		bench_fail(__LINE__, msg);
	}
	BENCH_CHECK(get_decode(g, c), "GetRecords decode");
	bench_lap(acc, GS_REQ, &t);
	BENCH_CHECK(sp_shard_iter_decode(b->mac, g->req.shard_iterator.ptr,
					 g->req.shard_iterator.len, b->now_ms + 1500, &g->it) == 0,
		    "iterator decode");
	bench_lap(acc, GS_ITER, &t);
	BENCH_CHECK(get_read(b, g, c), "ring read: not 10000 records");
	bench_lap(acc, GS_READ, &t);
	get_encode(b, g, c, acc, &t);
	BENCH_CHECK(sp_shard_ring_read_intact(g->sh->ring, &g->res), "read overrun by a trim");
	g_sink += bench_resp_head(b, c, c->resp_len);
	bench_lap(acc, GS_RESP, &t);
}

/* Record i of shard 0 is the (i mod m)-th shard-0 record of the request (OpenSSL MD5). */
static void
get_check_record(const struct bench *b, json_t *e, const unsigned *idx, unsigned m, unsigned i)
{
	const char *key = json_string_value(json_object_get(e, "PartitionKey"));
	const char *data = json_string_value(json_object_get(e, "Data"));
	const char *sn = json_string_value(json_object_get(e, "SequenceNumber"));
	char want_sn[SP_U128_DEC_MAX + 1];
	unsigned k = idx[i % m];

	sp_u128_format(b->get.views[i].seq, want_sn);
	BENCH_CHECK(key != NULL && data != NULL && sn != NULL && strcmp(key, b->key[k]) == 0 &&
			    strcmp(data, b->b64[k]) == 0 && strcmp(sn, want_sn) == 0,
		    "GetRecords answer: a record differs from the one put");
}

static void
get_check(struct bench *b)
{
	struct bench_conn *c = &b->get_conn;
	unsigned idx[BENCH_RECORDS], m = 0;
	struct sp_shard_iter it;
	json_t *resp, *recs;
	const char *next;
	json_error_t je;

	for (unsigned k = 0; k < BENCH_RECORDS; k++) {
		if (bench_expected_shard(b, k) == 0) {
			idx[m++] = k;
		}
	}
	BENCH_CHECK(m > 0, "no key of the request routes to shard 0");
	resp = json_loadb(c->buf + BENCH_RESP_HEAD_BYTES, c->resp_len, 0, &je);
	BENCH_CHECK(resp != NULL, "GetRecords answer is not JSON");
	recs = json_object_get(resp, "Records");
	BENCH_CHECK(json_array_size(recs) == BENCH_GET_RECORDS, "GetRecords answer: count");
	for (unsigned i = 0; i < BENCH_GET_RECORDS; i++) {
		get_check_record(b, json_array_get(recs, i), idx, m, i);
	}
	next = json_string_value(json_object_get(resp, "NextShardIterator"));
	BENCH_CHECK(next != NULL &&
			    sp_shard_iter_decode(b->mac, next, strlen(next), b->now_ms, &it) == 0 &&
			    it.seq == b->get.views[BENCH_GET_RECORDS - 1].seq + 1,
		    "GetRecords answer: NextShardIterator");
	json_decref(resp);
}

/* ---- Measurement ---- */

typedef void (*bench_iter_fn)(struct bench *b, uint64_t *acc);

/* Trim when due; returns the CPU time it took, which the caller leaves out. */
static uint64_t
bench_maybe_trim(struct bench *b, bool trim, uint64_t iters)
{
	uint64_t t0;

	if (!trim || iters % BENCH_TRIM_EVERY != 0) {
		return 0;
	}
	t0 = bench_cpu_ns();
	bench_trim(b, false);
	return bench_cpu_ns() - t0;
}

/* The stage pass, then the end-to-end pass, each for about `seconds` of wall time. */
static void
bench_measure(struct bench *b, bench_iter_fn fn, bool trim, double seconds,
	      struct bench_result *r)
{
	uint64_t limit = (uint64_t)(seconds * 1e9), start, cpu0, skip = 0;

	memset(r, 0, sizeof(*r));
	for (unsigned i = 0; i < BENCH_WARMUP; i++) {
		fn(b, NULL);
	}
	start = bench_wall_ns();
	cpu0 = bench_cpu_ns();
	while (r->iters < BENCH_ITER_MAX && bench_wall_ns() - start < limit) {
		fn(b, r->tsc);
		r->iters++;
		skip += bench_maybe_trim(b, trim, r->iters);
	}
	r->cpu_ns = bench_cpu_ns() - cpu0 - skip;
	skip = 0;
	start = bench_wall_ns();
	cpu0 = bench_cpu_ns();
	while (r->e2e_iters < BENCH_ITER_MAX && bench_wall_ns() - start < limit) {
		fn(b, NULL);
		r->e2e_iters++;
		skip += bench_maybe_trim(b, trim, r->e2e_iters);
	}
	r->e2e_cpu_ns = bench_cpu_ns() - cpu0 - skip;
	r->e2e_wall_ns = bench_wall_ns() - start;
	SP_VERIFY(r->iters > 0 && r->e2e_iters > 0);
}

/* A piece of an answer stage alone, 500 times (what the stage does per record). */
static void
bench_part_pass(struct bench *b, enum bench_base k)
{
	char seq[SP_U128_DEC_MAX + 1], id[SP_API_SHARD_ID_BYTES];
	size_t seq_len = sp_u128_format(b->put.seqs[0], seq);
	struct sp_api_jw w;

	sp_api_jw_init(&w, b->scratch_json, sizeof(b->scratch_json));
	if (k == BASE_JW_PUT_OK) {
		sp_api_jw_put_records_begin(&w, 0); /* _ok writes inside the Records array */
	} else {
		sp_api_jw_arr_begin(&w);
	}
	for (unsigned i = 0; i < BENCH_RECORDS; i++) {
		switch (k) {
		case BASE_SHARD_ID:
			g_sink += sp_api_format_shard_id(i & (BENCH_SHARDS - 1), id);
			break;
		case BASE_U128:
			g_sink += sp_u128_format(b->put.seqs[i], seq);
			break;
		case BASE_JW_PUT_OK:
			sp_api_jw_put_records_ok(&w, "shardId-000000000001", 20, seq, seq_len);
			break;
		case BASE_SP_B64ENC:
			g_sink += sp_b64_encode(b->data[i], BENCH_DATA_BYTES, b->scratch_json);
			break;
		case BASE_JW_EPOCH:
			sp_api_jw_epoch_ms(&w, (int64_t)b->now_ms + i);
			break;
		default:
			SP_VERIFY(false);
		}
	}
	if (k == BASE_JW_PUT_OK) {
		sp_api_jw_put_records_end(&w, false);
	} else {
		sp_api_jw_arr_end(&w);
	}
	BENCH_CHECK(k == BASE_SHARD_ID || k == BASE_U128 || k == BASE_SP_B64ENC ||
			    sp_api_jw_finish(&w) > 0,
		    "writer overflow");
}

/* One baseline pass over the request's 500 records. */
static void
bench_base_pass(struct bench *b, enum bench_base k)
{
	uint8_t d[SHA256_DIGEST_LENGTH];
	json_error_t je;
	json_t *j;

	switch (k) {
	case BASE_SHA256:
		SHA256((const unsigned char *)b->body, b->body_len, d);
		g_sink += d[0];
		break;
	case BASE_JANSSON:
		j = json_loadb(b->body, b->body_len, 0, &je);
		BENCH_CHECK(j != NULL, "jansson refused the body");
		json_decref(j);
		break;
	case BASE_MD5:
		for (unsigned i = 0; i < BENCH_RECORDS; i++) {
			MD5((const unsigned char *)b->key[i], b->key_len[i], d);
			g_sink += d[0];
		}
		break;
	case BASE_B64DEC:
		for (unsigned i = 0; i < BENCH_RECORDS; i++) {
			const unsigned char *in = (const unsigned char *)b->b64[i];

			BENCH_CHECK(EVP_DecodeBlock(b->scratch_bin, in, BENCH_B64_BYTES) >=
					    (int)BENCH_DATA_BYTES,
				    "EVP_DecodeBlock");
		}
		break;
	case BASE_B64ENC:
		for (unsigned i = 0; i < BENCH_RECORDS; i++) {
			g_sink += (uint64_t)EVP_EncodeBlock((unsigned char *)b->scratch_json,
							    b->data[i], BENCH_DATA_BYTES);
		}
		break;
	default:
		bench_part_pass(b, k);
		break;
	}
}

static double
bench_base_ns(struct bench *b, enum bench_base k, double seconds)
{
	uint64_t limit = (uint64_t)(seconds * 1e9), start, cpu0, iters = 0;

	SP_VERIFY(k > BASE_NONE && k < BASE_COUNT);
	bench_base_pass(b, k);
	start = bench_wall_ns();
	cpu0 = bench_cpu_ns();
	do {
		bench_base_pass(b, k);
		iters++;
	} while (bench_wall_ns() - start < limit && iters < BENCH_ITER_MAX);
	return (double)(bench_cpu_ns() - cpu0) / ((double)iters * BENCH_RECORDS);
}

static void
bench_print(const char *title, const struct bench_stage_desc *desc, unsigned nst,
	    const struct bench_result *r, unsigned recs_per_iter, const double *base)
{
	double recs = (double)r->iters * recs_per_iter, ticks = 0, ns = (double)r->cpu_ns;
	double e2e_recs = (double)r->e2e_iters * recs_per_iter;

	SP_VERIFY(nst <= PS_COUNT && recs > 0);
	for (unsigned s = 0; s < nst; s++) {
		ticks += (double)r->tsc[s];
	}
	SP_VERIFY(ticks > 0);
	printf("\n%s: %llu requests of %u records; CPU ns per record, split by TSC share\n",
	       title, (unsigned long long)r->iters, recs_per_iter);
	printf("  %-12s %8s %6s  %-36s %8s  %s\n", "stage", "ns/rec", "share", "server code",
	       "base", "baseline (ns/rec)");
	for (unsigned s = 0; s < nst; s++) {
		double share = (double)r->tsc[s] / ticks;

		printf("  %-12s %8.2f %5.1f%%  %-36s", desc[s].name, share * ns / recs,
		       100.0 * share, desc[s].code);
		if (desc[s].base != BASE_NONE) {
			printf(" %8.2f  %s", base[desc[s].base], bench_base_names[desc[s].base]);
		}
		printf("\n");
	}
	printf("  %-12s %8.2f %5.1f%%  (stage pass: %.2f M records/s)\n", "total", ns / recs,
	       100.0, recs / ns * 1e3);
	printf("  end to end, no clock in the loop: %llu requests, %.2f CPU ns/record\n"
	       "    (%.2f wall ns/record: the process had %.0f%% of a core)\n",
	       (unsigned long long)r->e2e_iters, (double)r->e2e_cpu_ns / e2e_recs,
	       (double)r->e2e_wall_ns / e2e_recs,
	       100.0 * (double)r->e2e_cpu_ns / (double)r->e2e_wall_ns);
}

static double
bench_rate(const struct bench_result *r, unsigned recs_per_iter)
{
	return (double)r->e2e_iters * recs_per_iter / (double)r->e2e_cpu_ns * 1e3;
}

/* ---- main ---- */

static int
bench_args(int argc, char **argv, double *seconds, int *cpu)
{
	for (int i = 1; i < argc; i++) {
		char *end = NULL;

		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			*seconds = strtod(argv[++i], &end);
			if (*end != '\0' || !(*seconds > 0 && *seconds <= BENCH_SECONDS_MAX)) {
				return -EINVAL;
			}
		} else if (strcmp(argv[i], "--cpu") == 0 && i + 1 < argc) {
			long v = strtol(argv[++i], &end, 10);

			if (*end != '\0' || v < 0 || v >= CPU_SETSIZE) {
				return -EINVAL;
			}
			*cpu = (int)v;
		} else {
			return -EINVAL;
		}
	}
	return 0;
}

static void
bench_pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0) {
		return;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0) {
		fprintf(stderr, "bench_pipeline: cannot pin to cpu %d; running unpinned\n", cpu);
	}
}

static void
bench_free(struct bench *b)
{
	sp_api_cat_free(b->cat);
	for (unsigned i = 0; i < BENCH_SHARDS; i++) {
		free(b->ring_mem[i]);
	}
	free(b->put_conn.buf);
	free(b->get_conn.buf);
	free(b->put.scratch);
	sp_shard_iter_mac_destroy(b->mac);
	sp_sigv4_destroy(b->sv);
	sp_sigv4_keys_free(b->keys);
	free(b);
}

/* Build everything, check one request of each kind end to end, then measure. */
static void
bench_run(struct bench *b, double seconds)
{
	struct bench_result put, get;
	double base[BASE_COUNT] = {0};
	size_t wire_len;
	struct sp_sigv4_stats ss;

	bench_make_input(b);
	bench_server_init(b);
	wire_len = bench_request(b, "PutRecords", b->body, b->body_len, b->put_wire,
				 sizeof(b->put_wire));
	bench_conn_init(&b->put_conn, BENCH_CONN_BUF_BYTES, b->put_wire, wire_len, b->body_len);
	printf("bench_pipeline: PutRecords of %u records x %u B (keys %u-%u chars), %u shards, "
	       "%.1f s per measurement\n", BENCH_RECORDS, BENCH_DATA_BYTES, BENCH_KEY_MIN,
	       BENCH_KEY_MAX, BENCH_SHARDS, seconds);
	printf("  request %zu B (body %zu B) in %zu segments of %u B; md5 %s, b64 %s\n", wire_len,
	       b->body_len, (wire_len + BENCH_MSS - 1) / BENCH_MSS, BENCH_MSS,
	       sp_md5_kernel_name(sp_md5_kernel_active()), sp_b64_kernel_name());
	put_iteration(b, NULL);
	put_check(b);
	bench_measure(b, put_iteration, true, seconds, &put);
	for (unsigned k = BASE_NONE + 1; k < BASE_COUNT; k++) {
		base[k] = bench_base_ns(b, (enum bench_base)k, SP_MAX(seconds / 4, 0.05));
	}
	get_setup(b);
	get_iteration(b, NULL);
	get_check(b);
	bench_measure(b, get_iteration, false, seconds, &get);
	sp_sigv4_stats(b->sv, &ss);
	printf("  checks passed: routing = OpenSSL MD5, records read back = records sent, "
	       "%llu signatures verified, 0 refused\n",
	       (unsigned long long)ss.verdicts[SP_KERR_NONE]);
	bench_print("PutRecords", bench_put_desc, PS_COUNT, &put, BENCH_RECORDS, base);
	printf("  inside response, alone (ns/rec): %s %.2f, %s %.2f, %s %.2f\n",
	       bench_base_names[BASE_SHARD_ID], base[BASE_SHARD_ID], bench_base_names[BASE_U128],
	       base[BASE_U128], bench_base_names[BASE_JW_PUT_OK], base[BASE_JW_PUT_OK]);
	bench_print("GetRecords", bench_get_desc, GS_COUNT, &get, BENCH_GET_RECORDS, base);
	printf("  inside json+base64, alone (ns/rec): %s %.2f, %s %.2f, %s %.2f\n",
	       bench_base_names[BASE_SP_B64ENC], base[BASE_SP_B64ENC], bench_base_names[BASE_U128],
	       base[BASE_U128], bench_base_names[BASE_JW_EPOCH], base[BASE_JW_EPOCH]);
	printf("\nPutRecords pipeline: %.2f M records/s per core (target 3.0)\n",
	       bench_rate(&put, BENCH_RECORDS));
	printf("GetRecords: %.2f M records/s per core\n", bench_rate(&get, BENCH_GET_RECORDS));
}

int
main(int argc, char **argv)
{
	double seconds = 2.0;
	int cpu = -1;
	struct bench *b;

	if (bench_args(argc, argv, &seconds, &cpu) != 0) {
		fprintf(stderr, "usage: bench_pipeline [--seconds S] [--cpu N]\n");
		return 2;
	}
	bench_pin(cpu);
	b = calloc(1, sizeof(*b));
	SP_VERIFY(b != NULL);
	b->rng = UINT64_C(0x9E3779B97F4A7C15);
	b->now_s = (int64_t)time(NULL);
	b->now_ms = (uint64_t)b->now_s * 1000u;
	bench_run(b, seconds);
	bench_free(b);
	return 0;
}
