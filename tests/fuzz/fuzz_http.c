/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for dataplane/http/http_parse.c. The first input byte picks the head
 * buffer size, the body limit and buffer, and whether the body buffer is given up front or
 * at SP_HTTP_HEAD_DONE; the rest is a byte stream of pipelined requests. It is parsed whole,
 * byte by byte (short inputs) and cut at points drawn from a hash of the input; each slice is
 * an exact-size heap copy and the head and body buffers are exact-size allocations, so ASan
 * sees any read or write past them. Every way must give the same verdicts, consumed counts and
 * request fields (folded into a 64-bit transcript hash), and consumed <= len on every call.
 * Each completed request is also checked for what the parser promises: token method and
 * names, values without CR/LF/NUL/leading or trailing OWS, body within its limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <spate/assert.h>

#include "http.h"

#define FUZZ_CUT_SETS 3u
#define FUZZ_CUTS_MAX 16u
#define FUZZ_BYTEWISE_MAX 512u /* byte-by-byte only for inputs up to this size */
#define FUZZ_CFGS 8u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_cfg {
	size_t head_cap;
	size_t body_max;
	size_t body_cap;
	bool lazy;
};

struct fuzz_run {
	const struct fuzz_cfg *cfg;
	struct sp_http_req h;
	char *head;
	char *body;
	uint64_t hash;
	size_t req_used; /* bytes consumed by the current request, over all calls */
	bool stopped;
};

static void
fuzz_mix(uint64_t *hash, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++) {
		*hash = (*hash ^ b[i]) * 0x100000001b3ull;
	}
	*hash = (*hash ^ n) * 0x100000001b3ull; /* lengths too: "ab","c" differs from "a","bc" */
}

static void
fuzz_mix_u64(uint64_t *hash, uint64_t v)
{
	fuzz_mix(hash, &v, sizeof(v));
}

static bool
fuzz_is_tchar(char c)
{
	return c > 0x20 && c < 0x7f && strchr("\"(),/:;<=>?@[\\]{}", c) == NULL;
}

/* What a completed request promises, and its fields into the transcript. */
static void
fuzz_request(struct fuzz_run *r)
{
	const struct sp_http_req *h = &r->h;
	const char *p, *v;
	size_t len, vlen;
	uint64_t flags;

	sp_http_method(h, &p, &len);
	SP_VERIFY(len > 0);
	for (size_t i = 0; i < len; i++) {
		SP_VERIFY(fuzz_is_tchar(p[i]));
	}
	fuzz_mix(&r->hash, p, len);
	sp_http_target(h, &p, &len);
	SP_VERIFY(len > 0 && memchr(p, ' ', len) == NULL);
	fuzz_mix(&r->hash, p, len);
	flags = (uint64_t)sp_http_version(h) << 8 | (uint64_t)sp_http_target_form(h) << 4 |
		(uint64_t)sp_http_keep_alive(h) << 2 | (uint64_t)sp_http_expects_continue(h) << 1 |
		(uint64_t)sp_http_is_chunked(h);
	fuzz_mix_u64(&r->hash, flags);
	SP_VERIFY(sp_http_header_count(h) <= SP_HTTP_MAX_HEADERS);
	for (unsigned i = 0; i < sp_http_header_count(h); i++) {
		sp_http_header_at(h, i, &p, &len, &v, &vlen);
		SP_VERIFY(len > 0);
		for (size_t k = 0; k < len; k++) {
			SP_VERIFY(fuzz_is_tchar(p[k]));
		}
		for (size_t k = 0; k < vlen; k++) {
			SP_VERIFY(v[k] != '\r' && v[k] != '\n' && v[k] != '\0');
		}
		SP_VERIFY(vlen == 0 || (v[0] != ' ' && v[0] != '\t' && v[vlen - 1] != ' ' &&
				   v[vlen - 1] != '\t'));
		fuzz_mix(&r->hash, p, len);
		fuzz_mix(&r->hash, v, vlen);
	}
	SP_VERIFY(sp_http_body_len(h) <= r->cfg->body_max);
	SP_VERIFY(sp_http_body_len(h) == 0 || sp_http_body(h) == r->body);
	fuzz_mix(&r->hash, sp_http_body(h), sp_http_body_len(h));
}

static bool
fuzz_event(struct fuzz_run *r, int rc)
{
	fuzz_mix_u64(&r->hash, (uint64_t)(int64_t)rc);
	fuzz_mix_u64(&r->hash, r->req_used);
	if (rc == SP_HTTP_HEAD_DONE) {
		SP_VERIFY(sp_http_state(&r->h) == SP_HTTP_STATE_BODY);
		fuzz_mix_u64(&r->hash, sp_http_body_hint(&r->h));
		if (r->cfg->lazy) {
			sp_http_set_body_buf(&r->h, r->body, r->cfg->body_cap);
		}
		return true;
	}
	if (rc == SP_HTTP_DONE) {
		SP_VERIFY(sp_http_state(&r->h) == SP_HTTP_STATE_DONE);
		fuzz_request(r);
		r->req_used = 0;
		sp_http_req_reset(&r->h);
		SP_VERIFY(sp_http_state(&r->h) == SP_HTTP_STATE_IDLE);
		SP_VERIFY(sp_http_header_count(&r->h) == 0 && sp_http_body(&r->h) == NULL);
		if (!r->cfg->lazy) {
			sp_http_set_body_buf(&r->h, r->body, r->cfg->body_cap);
		}
		return true;
	}
	SP_VERIFY(rc < 0 && rc != SP_AGAIN);
	SP_VERIFY(sp_http_state(&r->h) == SP_HTTP_STATE_ERROR);
	SP_VERIFY(sp_http_error_status(rc) >= 400 && sp_http_error_status(rc) <= 505);
	return false;
}

static void
fuzz_piece(struct fuzz_run *r, const uint8_t *src, size_t n)
{
	uint8_t *piece = malloc(n > 0 ? n : 1);
	size_t off = 0;

	SP_VERIFY(piece != NULL);
	memcpy(piece, src, n);
	do {
		size_t used = n + 1;
		int rc = sp_http_parse(&r->h, piece + off, n - off, &used);

		SP_VERIFY(used <= n - off);
		off += used;
		r->req_used += used;
		if (rc == SP_AGAIN) {
			SP_VERIFY(off == n);
			break;
		}
		if (!fuzz_event(r, rc)) {
			r->stopped = true;
			break;
		}
	} while (off < n);
	free(piece);
}

/*
 * Head and body buffers per configuration: exact-size heap blocks (ASan sees any access past
 * them), allocated on first use and kept, since a fresh megabyte per run dominates the cost.
 */
static void
fuzz_bufs(const struct fuzz_cfg *cfg, char **head, char **body)
{
	static const struct fuzz_cfg *owner[FUZZ_CFGS];
	static char *heads[FUZZ_CFGS], *bodies[FUZZ_CFGS];
	unsigned i = 0;

	while (i < FUZZ_CFGS && owner[i] != NULL && owner[i] != cfg) {
		i++;
	}
	SP_VERIFY(i < FUZZ_CFGS);
	if (owner[i] == NULL) {
		owner[i] = cfg;
		heads[i] = malloc(cfg->head_cap);
		bodies[i] = malloc(cfg->body_cap);
		SP_VERIFY(heads[i] != NULL && bodies[i] != NULL);
	}
	*head = heads[i];
	*body = bodies[i];
}

/* Transcript hash of the stream cut at cuts[0..ncuts) (ascending). */
static uint64_t
fuzz_run_cuts(const struct fuzz_cfg *cfg, const uint8_t *in, size_t n, const size_t *cuts,
	      size_t ncuts)
{
	struct fuzz_run r = {.cfg = cfg, .hash = 0xcbf29ce484222325ull};

	fuzz_bufs(cfg, &r.head, &r.body);
	sp_http_req_init(&r.h, r.head, cfg->head_cap, cfg->body_max);
	if (!cfg->lazy) {
		sp_http_set_body_buf(&r.h, r.body, cfg->body_cap);
	}
	for (size_t k = 0; k <= ncuts && !r.stopped; k++) {
		size_t a = k == 0 ? 0 : cuts[k - 1];
		size_t b = k == ncuts ? n : cuts[k];

		SP_VERIFY(a <= b && b <= n);
		fuzz_piece(&r, in + a, b - a);
	}
	fuzz_mix_u64(&r.hash, (uint64_t)sp_http_state(&r.h));
	fuzz_mix_u64(&r.hash, r.req_used);
	return r.hash;
}

/* Configuration from the first input byte. */
static const struct fuzz_cfg *
fuzz_pick(uint8_t b)
{
	static const struct fuzz_cfg cfgs[FUZZ_CFGS] = {
		{SP_HTTP_HEAD_MAX_BYTES, 1u << 20, 1u << 20, true},
		{SP_HTTP_HEAD_MAX_BYTES, 1u << 20, 1u << 20, false},
		{64, 16, 16, true},
		{64, 16, 16, false},
		{256, 4096, 64, true},
		{256, 4096, 64, false},
		{1024, 0, 1, true},
		{40, 100, 100, true},
	};

	return &cfgs[b % FUZZ_CFGS];
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fuzz_cfg *cfg;
	size_t cuts[FUZZ_CUTS_MAX];
	uint64_t whole, seed = 0xcbf29ce484222325ull;

	if (size == 0) {
		return 0;
	}
	cfg = fuzz_pick(data[0]);
	data++;
	size--;
	fuzz_mix(&seed, data, size);
	whole = fuzz_run_cuts(cfg, data, size, NULL, 0);
	for (unsigned set = 0; set < FUZZ_CUT_SETS && size > 1; set++) {
		size_t k = 1 + (size_t)(seed % FUZZ_CUTS_MAX), m = 0, prev = 0;

		for (size_t i = 0; i < k; i++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			/* ascending cuts: each a random step within the rest of the input */
			prev += 1 + (size_t)((seed >> 33) % ((size - prev) / (k - i) + 1));
			if (prev >= size) {
				break;
			}
			cuts[m++] = prev;
		}
		SP_VERIFY(fuzz_run_cuts(cfg, data, size, cuts, m) == whole);
	}
	if (size <= FUZZ_BYTEWISE_MAX && size > 1) {
		size_t *all = malloc((size - 1) * sizeof(*all));

		SP_VERIFY(all != NULL);
		for (size_t i = 1; i < size; i++) {
			all[i - 1] = i;
		}
		SP_VERIFY(fuzz_run_cuts(cfg, data, size, all, size - 1) == whole);
		free(all);
	}
	return 0;
}
