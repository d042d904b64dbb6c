/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for dataplane/cbor's reader and writer and dataplane/api's CBOR request
 * decoders. For every input:
 *   1. the reader's walk and sp_cbor_check agree (the same verdict, the same error); every
 *      string it gives lies inside the input or inside the scratch arena, which is exactly
 *      the input's length (ASan sees any overrun of that bound);
 *   2. a well-formed input re-encodes (the writer, preferred heads) into bytes that read back
 *      as the same items, and re-encoding those gives the same bytes again;
 *   3. each of the four decoders refuses an input that is not one well-formed map with a
 *      message-less SerializationException; an accepted request's slices lie inside the input
 *      or the scratch arena; PutRecords Data decodes into its arena (raw or base64);
 *   4. every refusal renders as a CBOR error body that the reader accepts.
 * Any disagreement aborts (SP_VERIFY).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <spate/assert.h>

#include "api_cbor.h"
#include "api_req.h"
#include "cbor.h"
#include "../unit/dataplane/cbor/cbor_walk.h"

#define FUZZ_EVENTS_MAX 16384u /* a 4096-byte input has at most 8192 items and ends */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct walk_ev g_ev1[FUZZ_EVENTS_MAX], g_ev2[FUZZ_EVENTS_MAX];
static struct sp_api_req_put_records g_prs;

static bool
inside(const void *p, size_t n, const void *base, size_t cap)
{
	const uint8_t *u = p, *b = base;

	return n == 0 || (u >= b && u + n <= b + cap);
}

static void
check_slice(const struct sp_api_json_str *s, const uint8_t *in, size_t len, const char *scratch)
{
	SP_VERIFY(inside(s->ptr, s->len, in, len) || inside(s->ptr, s->len, scratch, len));
	SP_VERIFY(s->escaped == 0 || s->len == 0 || inside(s->ptr, s->len, scratch, len));
}

static void
check_reader(const uint8_t *in, size_t len, uint8_t *scratch)
{
	size_t cap = 2 * len + 16;
	uint8_t *out = malloc(cap), *out2 = malloc(cap);
	struct sp_cbor_w w, w2;
	int n, n2, chk;

	SP_VERIFY(out != NULL && out2 != NULL);
	sp_cbor_w_init(&w, out, cap);
	n = walk_reencode(in, len, scratch, len, &w, g_ev1, FUZZ_EVENTS_MAX);
	chk = sp_cbor_check(in, len, scratch, len);
	SP_VERIFY(n < 0 ? chk == n : chk == 0);
	if (n >= 0) {
		ssize_t olen = sp_cbor_w_finish(&w), olen2;

		SP_VERIFY(n <= (int)FUZZ_EVENTS_MAX);
		for (int i = 0; i < n; i++) {
			if (g_ev1[i].type == SP_CBOR_BYTES || g_ev1[i].type == SP_CBOR_TEXT) {
				SP_VERIFY(inside(g_ev1[i].ptr, g_ev1[i].u, in, len) ||
					  inside(g_ev1[i].ptr, g_ev1[i].u, scratch, len));
			}
		}
		/* preferred heads are never longer than the input's; joined strings are shorter */
		SP_VERIFY(olen > 0 && (size_t)olen <= len);
		sp_cbor_w_init(&w2, out2, cap);
		n2 = walk_reencode(out, (size_t)olen, scratch, len, &w2, g_ev2, FUZZ_EVENTS_MAX);
		SP_VERIFY(n2 == n);
		olen2 = sp_cbor_w_finish(&w2);
		SP_VERIFY(olen2 == olen && memcmp(out, out2, (size_t)olen) == 0);
		/* g_ev1's strings may sit in scratch, rewritten by the second walk: walk again */
		n = walk_reencode(in, len, scratch, len, NULL, g_ev1, FUZZ_EVENTS_MAX);
		n2 = walk_reencode(out, (size_t)olen, out2, cap, NULL, g_ev2, FUZZ_EVENTS_MAX);
		SP_VERIFY(n == n2 && walk_same(g_ev1, g_ev2, (size_t)n));
	}
	free(out);
	free(out2);
}

/* One well-formed map (what every decoder must at least see to accept). */
static bool
is_map(const uint8_t *in, size_t len, uint8_t *scratch)
{
	struct sp_cbor_rd rd;
	struct sp_cbor_item it;

	if (sp_cbor_check(in, len, scratch, len) != 0) {
		return false;
	}
	SP_VERIFY(sp_cbor_rd_init(&rd, in, len, scratch, len) == 0);
	return sp_cbor_next(&rd, &it) == 1 && it.type == SP_CBOR_MAP;
}

static void
check_refusal(int rc, const struct sp_api_req_err *err, bool map)
{
	char body[SP_API_REQ_MSG_MAX + 256];
	ssize_t n;

	if (rc == 0) {
		SP_VERIFY(map && err->kerr == SP_KERR_NONE);
		return;
	}
	SP_VERIFY(rc == -EINVAL);
	SP_VERIFY(err->kerr == SP_KERR_SERIALIZATION || err->kerr == SP_KERR_VALIDATION);
	SP_VERIFY(map || (err->kerr == SP_KERR_SERIALIZATION && !err->has_msg));
	n = sp_api_cbor_write_error(body, sizeof(body), err->kerr, err->has_msg ? err->msg : NULL,
				    err->msg_len, err->capital_m);
	SP_VERIFY(n > 0 && sp_cbor_check((const uint8_t *)body, (size_t)n, NULL, 0) == 0);
}

static void
check_record(const struct sp_api_req_record *r, const uint8_t *in, size_t len, const char *scratch)
{
	check_slice(&r->data, in, len, scratch);
	check_slice(&r->key, in, len, scratch);
	check_slice(&r->ehk, in, len, scratch);
	SP_VERIFY(!r->data_raw || r->data.len == r->data_len);
}

static void
check_decoders(const uint8_t *in, size_t len, char *scratch)
{
	const char *body = (const char *)in;
	bool map = is_map(in, len, (uint8_t *)scratch);
	struct sp_api_req_get_shard_iterator gsi;
	struct sp_api_req_put_record pr;
	struct sp_api_req_get_records gr;
	struct sp_api_req_err err;
	int rc;

	rc = sp_api_cbor_put_record(body, len, scratch, len, &pr, &err);
	check_refusal(rc, &err, map);
	if (rc == 0) {
		uint8_t *out = malloc(pr.rec.data.len + 3);

		check_record(&pr.rec, in, len, scratch);
		SP_VERIFY(out != NULL && sp_api_req_record_data(&pr.rec, out) == 0);
		free(out);
	}
	rc = sp_api_cbor_put_records(body, len, scratch, len, &g_prs, &err);
	check_refusal(rc, &err, map);
	if (rc == 0) {
		size_t cap = sp_api_req_put_records_arena_bytes(&g_prs);
		uint8_t *arena = malloc(cap);

		for (uint32_t i = 0; i < g_prs.n; i++) {
			check_record(&g_prs.rec[i], in, len, scratch);
		}
		SP_VERIFY(arena != NULL);
		SP_VERIFY(sp_api_req_put_records_data(&g_prs, arena, cap, NULL) == 0);
		free(arena);
	}
	rc = sp_api_cbor_get_shard_iterator(body, len, scratch, len, &gsi, &err);
	check_refusal(rc, &err, map);
	if (rc == 0) {
		check_slice(&gsi.shard_id, in, len, scratch);
		check_slice(&gsi.starting_seq, in, len, scratch);
		SP_VERIFY(gsi.type < SP_API_ITER_COUNT);
	}
	rc = sp_api_cbor_get_records(body, len, scratch, len, &gr, &err);
	check_refusal(rc, &err, map);
	if (rc == 0) {
		check_slice(&gr.shard_iterator, in, len, scratch);
		SP_VERIFY(gr.limit >= 1 && gr.limit <= (int32_t)SP_K_GET_RECORDS_MAX_RECORDS);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* exact-size copies: ASan reports any read past the input or write past the arena */
	uint8_t *in = malloc(size > 0 ? size : 1);
	char *scratch = malloc(size > 0 ? size : 1);

	SP_VERIFY(in != NULL && scratch != NULL);
	memcpy(in, data, size);
	check_reader(in, size, (uint8_t *)scratch);
	check_decoders(in, size, scratch);
	free(in);
	free(scratch);
	return 0;
}
