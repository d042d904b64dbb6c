/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for api_cbor_json.c, the CBOR <-> JSON translation of control-operation
 * bodies (main lcore) and SubscribeToShard's request (worker lcores); the CBOR side comes from
 * the client and is untrusted. Every input is used three ways:
 *   1. as a CBOR request body, translated to JSON;
 *   2. as a JSON answer body (arbitrary bytes), translated to CBOR;
 *   3. as a program for a JSON generator (objects, arrays, the timestamp members, numbers with
 *      fractions, exponents and past 64 bits, escaped strings and keys), translated to CBOR.
 * Each translation runs with exact-size buffers (ASan sees one byte past the input, the
 * scratch or the output) and is checked:
 *   - its verdict equals a model walk of the input with the project's own reader or scanner
 *     (the first error in input order: ill-formed, not one map/object, an unassigned simple
 *     value, nesting past the JSON writer's 32 levels or the CBOR writer's 128, a number past
 *     63 characters); output bounded by SP_API_CBOR_TO_JSON_MAX / SP_API_JSON_TO_CBOR_MAX
 *     never gives -ENOSPC;
 *   - the output, read back with the other side's reader in lockstep with the input, holds the
 *     same members in the same order with the values cbor.md §6 promises: texts and keys equal,
 *     byte strings as their base64, integers clamped to int64, floats exact, timestamps exact
 *     milliseconds (JSON "sss.mmm" <-> tag 1 + integer), tags dropped, non-text keys skipped;
 *   - an output buffer of exactly the length succeeds with the same bytes; one byte shorter,
 *     and half, give -ENOSPC;
 *   - a JSON that this code wrote is a fixed point: JSON -> CBOR -> JSON gives the same bytes,
 *     and so does CBOR -> JSON -> CBOR from a CBOR it wrote.
 * Any disagreement aborts (SP_VERIFY). docs/internals/cbor.md §7.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spate/assert.h>

#include "api_cbor.h"
#include "api_json.h"
#include "b64.h"
#include "cbor.h"

#define FZ_GEN_CAP       16384u /* generated JSON text */
#define FZ_GEN_DEPTH     40u    /* past both writers' depths, so that their refusals are seen */
#define FZ_NUM_MAX       63u    /* longest number text the JSON-to-CBOR direction converts */
#define FZ_TAG_EPOCH     1u
#define FZ_TS_KEYS_COUNT 4u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The Kinesis timestamp members (kinesis-api.md §1.4; cbor.md §6), stated independently. */
static const char *const g_ts_keys[FZ_TS_KEYS_COUNT] = {
    "Timestamp",
    "StreamCreationTimestamp",
    "ConsumerCreationTimestamp",
    "ApproximateArrivalTimestamp",
};

static bool
fz_ts_key(const void *k, size_t len)
{
	for (unsigned i = 0; i < FZ_TS_KEYS_COUNT; i++) {
		if (strlen(g_ts_keys[i]) == len && memcmp(g_ts_keys[i], k, len) == 0) {
			return true;
		}
	}
	return false;
}

static void *
fz_alloc(size_t n)
{
	void *p = malloc(n > 0 ? n : 1);

	SP_VERIFY(p != NULL);
	return p;
}

static void *
fz_dup(const void *p, size_t n)
{
	void *q = fz_alloc(n);

	if (n > 0) {
		memcpy(q, p, n);
	}
	return q;
}

/*
 * One translation with exact-size buffers: in (len), scratch (len, the least allowed) and out
 * (cap). *out receives the output when it succeeds and out is not NULL (the caller frees).
 */
static ssize_t
fz_translate(bool to_json, const void *in, size_t len, size_t cap, char **out)
{
	char *src = fz_dup(in, len);
	char *scratch = fz_alloc(len);
	char *o = fz_alloc(cap);
	ssize_t n = to_json ? sp_api_cbor_to_json(src, len, scratch, len, o, cap)
			    : sp_api_json_to_cbor(src, len, scratch, len, o, cap);

	SP_VERIFY(n < 0 || (size_t)n <= cap);
	free(src);
	free(scratch);
	if (n >= 0 && out != NULL) {
		*out = o;
	} else {
		free(o);
	}
	return n;
}

/* A number item as the documented int64: clamped, floats truncated toward zero, NaN 0. */
static int64_t
fz_i64(const struct sp_cbor_item *it)
{
	switch (it->type) {
	case SP_CBOR_UINT:
		return it->u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)it->u;
	case SP_CBOR_NINT:
		return it->u > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)it->u - 1;
	default:
		SP_VERIFY(it->type == SP_CBOR_FLOAT);
		if (isnan(it->f)) {
			return 0;
		}
		if (it->f >= 0x1p63) {
			return INT64_MAX;
		}
		return it->f <= -0x1p63 ? INT64_MIN : (int64_t)it->f;
	}
}

/* A number's text: optional '-', then digits only. */
static bool
fz_integer_text(const struct sp_api_json_str *s)
{
	uint32_t i = s->len > 0 && s->ptr[0] == '-';

	if (i == s->len) {
		return false;
	}
	for (; i < s->len; i++) {
		if (s->ptr[i] < '0' || s->ptr[i] > '9') {
			return false;
		}
	}
	return true;
}

/* A number's text NUL-terminated, for strtod and friends. */
static void
fz_num_text(const struct sp_api_json_str *s, char *t, size_t cap)
{
	SP_VERIFY(s->len < cap);
	memcpy(t, s->ptr, s->len);
	t[s->len] = '\0';
}

/* A timestamp's JSON text: -?digits '.' three digits, whose milliseconds are ms exactly. */
static void
fz_check_ts_text(const struct sp_api_json_str *s, int64_t ms)
{
	SP_VERIFY(s->len >= 5 && s->ptr[s->len - 4] == '.');
	SP_VERIFY(sp_api_json_num_ms(s) == ms);
}

/* A CBOR number item against the JSON number text written for it. */
static void
fz_check_num_to_json(const struct sp_cbor_item *it, const struct sp_api_json_str *s, bool ts)
{
	char t[FZ_NUM_MAX + 1];
	int64_t v = fz_i64(it);

	fz_num_text(s, t, sizeof(t));
	if (ts) {
		fz_check_ts_text(s, v);
		return;
	}
	if (it->type != SP_CBOR_FLOAT || !isfinite(it->f)) {
		long long got;

		SP_VERIFY(fz_integer_text(s));
		errno = 0;
		got = strtoll(t, NULL, 10);
		SP_VERIFY(errno == 0 && got == v);
		return;
	}
	/* a finite float: its text reads back as the same double (the sign of zero aside) */
	SP_VERIFY(strtod(t, NULL) == it->f);
}

/* A CBOR scalar item (tags dropped) against the JSON value the scanner read for it. */
static void
fz_check_to_json(const struct sp_cbor_item *it, int k, const struct sp_api_json_str *s, bool ts)
{
	switch (it->type) {
	case SP_CBOR_UINT:
	case SP_CBOR_NINT:
	case SP_CBOR_FLOAT:
		SP_VERIFY(k == SP_API_JSON_NUMBER);
		fz_check_num_to_json(it, s, ts);
		return;
	case SP_CBOR_BYTES: {
		uint8_t *raw = fz_alloc(sp_b64_decoded_max(s->len));
		size_t n = 0;

		SP_VERIFY(k == SP_API_JSON_STRING && s->len == sp_b64_encoded_len(it->u));
		SP_VERIFY(sp_b64_decode(s->ptr, s->len, raw, &n, NULL) == 0 && n == it->u);
		SP_VERIFY(n == 0 || memcmp(raw, it->ptr, n) == 0);
		free(raw);
		return;
	}
	case SP_CBOR_TEXT:
		SP_VERIFY(k == SP_API_JSON_STRING && s->len == it->u);
		SP_VERIFY(it->u == 0 || memcmp(s->ptr, it->ptr, it->u) == 0);
		return;
	case SP_CBOR_FALSE:
		SP_VERIFY(k == SP_API_JSON_FALSE);
		return;
	case SP_CBOR_TRUE:
		SP_VERIFY(k == SP_API_JSON_TRUE);
		return;
	default:
		SP_VERIFY(it->type == SP_CBOR_NULL || it->type == SP_CBOR_UNDEFINED);
		SP_VERIFY(k == SP_API_JSON_NULL);
		return;
	}
}

/* One open container of a lockstep walk. */
struct fz_level {
	bool map;
	bool want_key;
	bool ts; /* map: the value coming is a timestamp member's */
};

/* The JSON side of a CBOR-to-JSON walk: the scanner over the output, or nothing (model only). */
struct fz_json_side {
	struct sp_api_json js;
	bool on;
};

static void
fz_json_open(struct fz_json_side *j, bool map)
{
	if (j->on) {
		SP_VERIFY(sp_api_json_peek(&j->js) ==
			  (map ? SP_API_JSON_OBJECT : SP_API_JSON_ARRAY));
		SP_VERIFY((map ? sp_api_json_obj_enter(&j->js) : sp_api_json_arr_enter(&j->js)) ==
			  0);
	}
}

/* One item of the CBOR-to-JSON walk after its tags; a container pushes a level. */
static int
fz_req_value(struct fz_json_side *j, const struct sp_cbor_item *it, bool ts, struct fz_level *lv,
	     uint32_t *depth)
{
	struct sp_api_json_str s;

	SP_VERIFY(it->type != SP_CBOR_TAG); /* dropped before */
	if (it->type == SP_CBOR_SIMPLE) {
		return -EINVAL; /* JSON has nothing for it */
	}
	if (it->type == SP_CBOR_MAP || it->type == SP_CBOR_ARRAY) {
		bool map = it->type == SP_CBOR_MAP;

		if (*depth >= SP_API_JW_DEPTH_MAX) {
			return -E2BIG;
		}
		lv[(*depth)++] = (struct fz_level){.map = map, .want_key = map};
		fz_json_open(j, map);
		return 0;
	}
	if (j->on) {
		fz_check_to_json(it, sp_api_json_value(&j->js, &s), &s, ts);
	}
	return 0;
}

/* A map key of the CBOR-to-JSON walk: a text opens the member, others skip it (with its value). */
static int
fz_req_key(struct sp_cbor_rd *rd, struct fz_json_side *j, const struct sp_cbor_item *it,
	   struct fz_level *l)
{
	struct sp_api_json_str key;
	int rc;

	if (it->type != SP_CBOR_TEXT) {
		/* nothing of it in the JSON */
		rc = sp_cbor_skip(rd, it);
		rc = rc < 0 ? rc : sp_cbor_skip_next(rd);
		SP_VERIFY(rc != 0);
		return rc < 0 ? rc : 0;
	}
	SP_VERIFY(!j->on || (sp_api_json_obj_next(&j->js, &key) == 1 && key.len == it->u &&
			     (it->u == 0 || memcmp(key.ptr, it->ptr, it->u) == 0)));
	l->ts = fz_ts_key(it->ptr, it->u);
	l->want_key = false;
	return 0;
}

/*
 * The verdict of translating cbor to JSON, walked with the CBOR reader; with json, the JSON
 * is read in lockstep and must hold exactly what the CBOR does (the verdict must then be 0).
 */
static int
fz_walk_request(const uint8_t *cbor, size_t len, const char *json, size_t jlen)
{
	struct fz_level lv[SP_API_JW_DEPTH_MAX];
	struct fz_json_side j = {.on = json != NULL};
	struct sp_cbor_item it;
	struct sp_cbor_rd rd;
	struct sp_api_json_str key;
	uint8_t *scr = fz_alloc(len);
	char *jscr = fz_alloc(jlen);
	uint32_t depth = 0;
	int rc;

	SP_VERIFY(sp_cbor_rd_init(&rd, cbor, len, scr, len) == 0);
	if (j.on) {
		SP_VERIFY(sp_api_json_init(&j.js, json, jlen, jscr, jlen) == 0);
	}
	rc = sp_cbor_next(&rd, &it);
	if (rc != 1 || it.type != SP_CBOR_MAP) {
		rc = rc < 0 ? rc : -EINVAL;
		goto out;
	}
	SP_VERIFY(fz_req_value(&j, &it, false, lv, &depth) == 0);
	while (depth > 0) {
		struct fz_level *l = &lv[depth - 1];
		bool ts = l->map && l->ts;

		rc = sp_cbor_next(&rd, &it);
		if (rc < 0) {
			goto out;
		}
		if (rc == 0) {
			SP_VERIFY(!j.on || (l->map ? sp_api_json_obj_next(&j.js, &key)
						   : sp_api_json_arr_next(&j.js)) == 0);
			depth--;
			continue;
		}
		if (l->map && l->want_key) {
			rc = fz_req_key(&rd, &j, &it, l);
			if (rc < 0) {
				goto out;
			}
			continue;
		}
		l->want_key = l->map;
		while (rc == 1 && it.type == SP_CBOR_TAG) {
			rc = sp_cbor_next(&rd, &it);
		}
		if (rc < 0) {
			goto out;
		}
		SP_VERIFY(rc == 1);
		SP_VERIFY(!j.on || l->map || sp_api_json_arr_next(&j.js) == 1);
		rc = fz_req_value(&j, &it, ts, lv, &depth);
		if (rc < 0) {
			goto out;
		}
	}
	rc = sp_cbor_finish(&rd);
	SP_VERIFY(!j.on || sp_api_json_finish(&j.js) == 0);
out:
	SP_VERIFY(!j.on || rc == 0);
	free(scr);
	free(jscr);
	return rc;
}

/* The CBOR side of a JSON-to-CBOR walk: the reader over the output, or nothing (model only). */
struct fz_cbor_side {
	struct sp_cbor_rd rd;
	bool on;
};

/* The next item of the CBOR output (its tag first when tagged). */
static void
fz_cbor_item(struct fz_cbor_side *c, struct sp_cbor_item *it)
{
	SP_VERIFY(sp_cbor_next(&c->rd, it) == 1);
}

/* A JSON number text against the CBOR number written for it. */
static void
fz_check_num_to_cbor(struct fz_cbor_side *c, const struct sp_api_json_str *s, bool ts)
{
	struct sp_cbor_item it;
	char t[FZ_NUM_MAX + 1];

	fz_cbor_item(c, &it);
	if (ts) {
		SP_VERIFY(it.type == SP_CBOR_TAG && it.u == FZ_TAG_EPOCH);
		fz_cbor_item(c, &it);
		SP_VERIFY(it.type == SP_CBOR_UINT || it.type == SP_CBOR_NINT);
		SP_VERIFY(fz_i64(&it) == sp_api_json_num_ms(s));
		SP_VERIFY(it.type == SP_CBOR_UINT || it.u <= (uint64_t)INT64_MAX);
		return;
	}
	fz_num_text(s, t, sizeof(t));
	errno = 0;
	if (fz_integer_text(s) && t[0] == '-') {
		long long v = strtoll(t, NULL, 10);

		if (errno == 0) {
			SP_VERIFY(it.type == (v < 0 ? SP_CBOR_NINT : SP_CBOR_UINT));
			SP_VERIFY(v < 0 ? it.u == (uint64_t)(-(v + 1)) : it.u == (uint64_t)v);
			return;
		}
	} else if (fz_integer_text(s)) {
		unsigned long long v = strtoull(t, NULL, 10);

		if (errno == 0) {
			SP_VERIFY(it.type == SP_CBOR_UINT && it.u == v);
			return;
		}
	}
	/* a fraction, an exponent, or past 64 bits: the same double, sign of zero included */
	SP_VERIFY(it.type == SP_CBOR_FLOAT);
	SP_VERIFY(memcmp(&(double){strtod(t, NULL)}, &it.f, sizeof(double)) == 0);
}

/* A JSON scalar against the CBOR item(s) written for it. */
static void
fz_check_to_cbor(struct fz_cbor_side *c, int k, const struct sp_api_json_str *s, bool ts)
{
	struct sp_cbor_item it;

	if (k == SP_API_JSON_NUMBER) {
		fz_check_num_to_cbor(c, s, ts);
		return;
	}
	fz_cbor_item(c, &it);
	switch (k) {
	case SP_API_JSON_STRING:
		SP_VERIFY(it.type == SP_CBOR_TEXT && it.u == s->len);
		SP_VERIFY(s->len == 0 || memcmp(it.ptr, s->ptr, s->len) == 0);
		return;
	case SP_API_JSON_TRUE:
		SP_VERIFY(it.type == SP_CBOR_TRUE);
		return;
	case SP_API_JSON_FALSE:
		SP_VERIFY(it.type == SP_CBOR_FALSE);
		return;
	default:
		SP_VERIFY(k == SP_API_JSON_NULL && it.type == SP_CBOR_NULL);
		return;
	}
}

/* One JSON value of the JSON-to-CBOR walk; a container pushes a level (is_map, depth). */
static int
fz_ans_value(struct sp_api_json *js, struct fz_cbor_side *c, bool ts, bool *is_map, uint32_t *depth)
{
	struct sp_api_json_str s;
	struct sp_cbor_item it;
	int k = sp_api_json_peek(js);

	if (k == SP_API_JSON_OBJECT || k == SP_API_JSON_ARRAY) {
		bool map = k == SP_API_JSON_OBJECT;

		if (*depth >= SP_CBOR_W_INDEF_MAX) {
			return -E2BIG;
		}
		is_map[(*depth)++] = map;
		if (c->on) {
			fz_cbor_item(c, &it);
			SP_VERIFY(it.type == (map ? SP_CBOR_MAP : SP_CBOR_ARRAY) && it.indef);
		}
		return map ? sp_api_json_obj_enter(js) : sp_api_json_arr_enter(js);
	}
	if (k < 0) {
		return k;
	}
	k = sp_api_json_value(js, &s);
	if (k < 0) {
		return k;
	}
	if (k == SP_API_JSON_NUMBER && !ts && s.len > FZ_NUM_MAX) {
		return -ERANGE;
	}
	if (c->on) {
		fz_check_to_cbor(c, k, &s, ts);
	}
	return 0;
}

/*
 * The verdict of translating json to CBOR, walked with the scanner; with cbor, the CBOR is
 * read in lockstep and must hold exactly what the JSON does (the verdict must then be 0).
 */
static int
fz_walk_answer(const char *json, size_t len, const uint8_t *cbor, size_t clen)
{
	struct fz_cbor_side c = {.on = cbor != NULL};
	bool is_map[SP_CBOR_W_INDEF_MAX];
	struct sp_api_json js;
	struct sp_cbor_item it;
	char *scr = fz_alloc(len);
	uint32_t depth = 0;
	int rc = sp_api_json_init(&js, json, len, scr, len);

	if (c.on) {
		SP_VERIFY(sp_cbor_rd_init(&c.rd, cbor, clen, NULL, 0) == 0);
	}
	if (rc != 0) {
		goto out;
	}
	if (sp_api_json_peek(&js) != SP_API_JSON_OBJECT) {
		rc = -EINVAL;
		goto out;
	}
	rc = fz_ans_value(&js, &c, false, is_map, &depth);
	while (rc == 0 && depth > 0) {
		struct sp_api_json_str key = {NULL, 0, 0};

		rc =
		    is_map[depth - 1] ? sp_api_json_obj_next(&js, &key) : sp_api_json_arr_next(&js);
		if (rc < 0) {
			break;
		}
		if (rc == 0) {
			SP_VERIFY(!c.on || sp_cbor_next(&c.rd, &it) == 0);
			depth--;
			continue;
		}
		if (is_map[depth - 1] && c.on) {
			fz_cbor_item(&c, &it);
			SP_VERIFY(it.type == SP_CBOR_TEXT && it.u == key.len);
			SP_VERIFY(key.len == 0 || memcmp(it.ptr, key.ptr, key.len) == 0);
		}
		rc = fz_ans_value(&js, &c, is_map[depth - 1] && fz_ts_key(key.ptr, key.len), is_map,
				  &depth);
	}
	rc = rc == 0 ? sp_api_json_finish(&js) : rc;
	SP_VERIFY(!c.on || (sp_cbor_next(&c.rd, &it) == 0 && sp_cbor_finish(&c.rd) == 0));
out:
	SP_VERIFY(!c.on || rc == 0);
	free(scr);
	return rc;
}

/* Shorter outputs: exactly the length works and gives the same bytes; less is -ENOSPC. */
static void
fz_check_caps(bool to_json, const void *in, size_t len, const char *out, size_t n)
{
	char *again = NULL;

	SP_VERIFY(fz_translate(to_json, in, len, n, &again) == (ssize_t)n);
	SP_VERIFY(n == 0 || memcmp(again, out, n) == 0);
	free(again);
	if (n > 0) {
		SP_VERIFY(fz_translate(to_json, in, len, n - 1, NULL) == -ENOSPC);
		SP_VERIFY(fz_translate(to_json, in, len, n / 2, NULL) == -ENOSPC);
	}
}

/* A CBOR request to JSON, checked; the JSON (caller frees) or NULL with *rc_out. */
static char *
fz_request(const uint8_t *cbor, size_t len, size_t *jlen, ssize_t *rc_out)
{
	int want = fz_walk_request(cbor, len, NULL, 0);
	char *json = NULL;
	ssize_t n = fz_translate(true, cbor, len, SP_API_CBOR_TO_JSON_MAX(len), &json);

	SP_VERIFY(n != -ENOSPC); /* the bound always suffices */
	*rc_out = n;
	if (n < 0) {
		SP_VERIFY(n == want);
		return NULL;
	}
	SP_VERIFY(want == 0);
	SP_VERIFY(fz_walk_request(cbor, len, json, (size_t)n) == 0);
	fz_check_caps(true, cbor, len, json, (size_t)n);
	*jlen = (size_t)n;
	return json;
}

/* A JSON answer to CBOR, checked; the CBOR (caller frees) or NULL with *rc_out. */
static uint8_t *
fz_answer(const char *json, size_t len, size_t *clen, ssize_t *rc_out)
{
	int want = fz_walk_answer(json, len, NULL, 0);
	char *cbor = NULL;
	ssize_t n = fz_translate(false, json, len, SP_API_JSON_TO_CBOR_MAX(len), &cbor);

	SP_VERIFY(n != -ENOSPC);
	*rc_out = n;
	if (n < 0) {
		SP_VERIFY(n == want);
		return NULL;
	}
	SP_VERIFY(want == 0 && n > 0 && (uint8_t)cbor[0] == 0xbf); /* indefinite, as AWS */
	SP_VERIFY(sp_cbor_check((const uint8_t *)cbor, (size_t)n, NULL, 0) == 0);
	SP_VERIFY(fz_walk_answer(json, len, (const uint8_t *)cbor, (size_t)n) == 0);
	fz_check_caps(false, json, len, cbor, (size_t)n);
	*clen = (size_t)n;
	return (uint8_t *)cbor;
}

/*
 * From a JSON this code wrote (j1): to CBOR, back to JSON (the same bytes), and to CBOR again
 * (the same bytes as the first CBOR).
 */
static void
fz_fixed_point(const char *j1, size_t n1)
{
	size_t c1_len = 0, c2_len = 0, n2 = 0;
	ssize_t rc;
	uint8_t *c1 = fz_answer(j1, n1, &c1_len, &rc);
	uint8_t *c2;
	char *j2;

	SP_VERIFY(c1 != NULL); /* at most 32 levels, numbers of 21 characters at most */
	j2 = fz_request(c1, c1_len, &n2, &rc);
	if (!(j2 != NULL && n2 == n1 && memcmp(j2, j1, n1) == 0)) {
		fprintf(stderr, "J1 %.*s\nJ2 %.*s\n", (int)n1, j1, (int)n2, j2);
	}
	SP_VERIFY(j2 != NULL && n2 == n1 && memcmp(j2, j1, n1) == 0);
	c2 = fz_answer(j2, n2, &c2_len, &rc);
	SP_VERIFY(c2 != NULL && c2_len == c1_len && memcmp(c2, c1, c1_len) == 0);
	free(c1);
	free(c2);
	free(j2);
}

/* A JSON answer (arbitrary or generated): to CBOR and, when it translates, the round trip. */
static void
fz_answer_round(const char *json, size_t len)
{
	size_t clen = 0, jlen = 0;
	ssize_t rc;
	uint8_t *cbor = fz_answer(json, len, &clen, &rc);
	char *j1;

	if (cbor == NULL) {
		return;
	}
	j1 = fz_request(cbor, clen, &jlen, &rc);
	/* only what the JSON writer cannot nest fails: it tracks 32 levels, CBOR's 128 */
	SP_VERIFY(j1 != NULL || rc == -E2BIG);
	if (j1 != NULL) {
		fz_fixed_point(j1, jlen);
	}
	free(cbor);
	free(j1);
}

/* ---- a JSON generator: the input's bytes choose the values ---- */

struct fz_gen {
	const uint8_t *p;
	const uint8_t *end;
	char *buf;
	size_t len;
	bool full;
};

static uint8_t
fz_byte(struct fz_gen *g)
{
	return g->p < g->end ? *g->p++ : 0; /* zeros end everything: "{}" */
}

static void
fz_put(struct fz_gen *g, const char *s, size_t n)
{
	if (n > FZ_GEN_CAP - g->len) {
		g->full = true;
		return;
	}
	memcpy(g->buf + g->len, s, n);
	g->len += n;
}

static void
fz_puts(struct fz_gen *g, const char *s)
{
	fz_put(g, s, strlen(s));
}

static void
fz_digits(struct fz_gen *g, unsigned n, bool lead_nonzero)
{
	for (unsigned i = 0; i < n; i++) {
		char d = (char)('0' + fz_byte(g) % 10);

		if (i == 0 && lead_nonzero && d == '0') {
			d = '1';
		}
		fz_put(g, &d, 1);
	}
}

/* A JSON number: sign, integer part (up to 70 digits), fraction, exponent. */
static void
fz_gen_number(struct fz_gen *g)
{
	uint8_t b = fz_byte(g);
	unsigned ni = b & 0x80 ? 1u + fz_byte(g) % 70u : 1u + (b >> 2) % 20u;

	if (b & 1) {
		fz_puts(g, "-");
	}
	if (b & 2) {
		fz_puts(g, "0");
	} else {
		fz_digits(g, ni, true);
	}
	b = fz_byte(g);
	if (b & 1) {
		fz_puts(g, ".");
		fz_digits(g, 1u + (b >> 1) % 20u, false);
	}
	if (b & 0x40) {
		static const char *const e[] = {"e", "E", "e+", "e-", "E-", "E+"};

		fz_puts(g, e[fz_byte(g) % 6u]);
		fz_digits(g, 1u + (b >> 2) % (b & 0x80 ? 22u : 4u), false);
	}
}

/* A JSON string: plain text, escapes, UTF-8, surrogate pairs, control characters, NUL. */
static void
fz_gen_string(struct fz_gen *g)
{
	static const char *const piece[] = {
	    "a",
	    "Z",
	    "0",
	    " ",
	    "\\n",
	    "\\\"",
	    "\\\\",
	    "\\/",
	    "\\u00e9",
	    "\xc3\xa9",
	    "\\u0000",
	    "\\u001f",
	    "\\ud83d\\ude00",
	    "\xf0\x9f\x98\x80",
	    "\\t",
	    "~",
	};
	unsigned n = fz_byte(g) % 9u;

	fz_puts(g, "\"");
	for (unsigned i = 0; i < n; i++) {
		fz_puts(g, piece[fz_byte(g) % (sizeof(piece) / sizeof(piece[0]))]);
	}
	fz_puts(g, "\"");
}

static void
fz_gen_value(struct fz_gen *g, unsigned depth)
{
	static const char *const keys[] = {
	    "\"Timestamp\"",
	    "\"StreamCreationTimestamp\"",
	    "\"ConsumerCreationTimestamp\"",
	    "\"ApproximateArrivalTimestamp\"",
	    "\"\\u0054imestamp\"", /* Timestamp, escaped */
	    "\"Timestamps\"",
	    "\"StreamName\"",
	    "\"MaxResults\"",
	    "\"Shards\"",
	    "\"\"",
	    "\"a\\\"b\"",
	    "\"\\u00e9\"",
	};
	uint8_t b = fz_byte(g);
	unsigned kind = depth >= FZ_GEN_DEPTH ? 2u + b % 4u : b % 6u;
	unsigned n = (b >> 3) % 5u;

	switch (kind) {
	case 0:
		fz_puts(g, "{");
		for (unsigned i = 0; i < n; i++) {
			fz_puts(g, i > 0 ? "," : "");
			fz_puts(g, keys[fz_byte(g) % (sizeof(keys) / sizeof(keys[0]))]);
			fz_puts(g, b & 4 ? " : " : ":");
			fz_gen_value(g, depth + 1);
		}
		fz_puts(g, "}");
		return;
	case 1:
		fz_puts(g, "[");
		for (unsigned i = 0; i < n; i++) {
			fz_puts(g, i > 0 ? "," : "");
			fz_gen_value(g, depth + 1);
		}
		fz_puts(g, "]");
		return;
	case 2:
	case 3:
		fz_gen_number(g);
		return;
	case 4:
		fz_gen_string(g);
		return;
	default:
		fz_puts(g, (const char *const[]){"true", "false", "null"}[(b >> 3) % 3u]);
		return;
	}
}

/* The top level is always an object (the only shape the answer direction translates). */
static size_t
fz_gen_json(const uint8_t *data, size_t size, char *buf)
{
	struct fz_gen g = {.p = data, .end = data + size, .buf = buf};
	unsigned n = fz_byte(&g) % 8u;

	fz_puts(&g, "{");
	for (unsigned i = 0; i < n && g.p < g.end; i++) {
		fz_puts(&g, i > 0 ? "," : "");
		fz_puts(&g, (const char *const[]){"\"Timestamp\":", "\"x\":"}[fz_byte(&g) & 1]);
		fz_gen_value(&g, 1);
	}
	fz_puts(&g, "}");
	return g.full ? 0 : g.len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t jlen = 0, glen;
	ssize_t rc;
	char *json = fz_request(data, size, &jlen, &rc);
	char *gen;

	/* 1. a CBOR request; what translates is the start of a fixed point */
	if (json != NULL) {
		fz_fixed_point(json, jlen);
		free(json);
	}
	/* 2. the bytes as a JSON answer */
	fz_answer_round((const char *)data, size);
	/* 3. a generated JSON answer */
	gen = fz_alloc(FZ_GEN_CAP);
	glen = fz_gen_json(data, size, gen);
	if (glen > 0) {
		fz_answer_round(gen, glen);
	}
	free(gen);
	return 0;
}
