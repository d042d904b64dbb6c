/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CBOR <-> JSON for the operations Spate does not decode in CBOR itself (api_cbor.h,
 * docs/internals/cbor.md "Wiring"): the control operations, which spate-control answers in
 * JSON, and SubscribeToShard's request. Both directions are streaming walks, the CBOR reader
 * against the JSON writer and the JSON scanner against the CBOR writer: no tree, no
 * allocation, no recursion, bounded by the input's length and the writers' depth.
 *
 * Values that are not plain JSON:
 *   timestamps  a number under a Kinesis timestamp member (ts_keys below) is epoch
 *               milliseconds in CBOR (tag 1 or none; floats truncated toward zero) and epoch
 *               seconds with a three-digit fraction in JSON, exactly (no binary floating point)
 *   blobs       a byte string goes to JSON as its base64 text (no control operation has a
 *               blob member; the JSON path's type check then sees a string)
 *   tags        dropped (the tagged item is what counts), as the data-operation decoders do
 * Runs on the main lcore (control operations) and on worker lcores (SubscribeToShard).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spate/assert.h>

#include "api_cbor.h"

/* Longest number text the JSON-to-CBOR walk converts (control writes far shorter ones). */
#define CJ_NUM_MAX 63u

/* Members whose numbers are timestamps (kinesis-api.md §1.4; the shapes of §3 and §4). */
static const char *const cj_ts_keys[] = {
    "Timestamp",                   /* ShardFilter, StartingPosition */
    "StreamCreationTimestamp",     /* ListShards, StreamDescription(Summary) */
    "ConsumerCreationTimestamp",   /* Consumer, ConsumerDescription */
    "ApproximateArrivalTimestamp", /* Record */
};

static bool
cj_ts_key(const char *k, size_t len)
{
	for (size_t i = 0; i < sizeof(cj_ts_keys) / sizeof(cj_ts_keys[0]); i++) {
		if (strlen(cj_ts_keys[i]) == len && memcmp(cj_ts_keys[i], k, len) == 0) {
			return true;
		}
	}
	return false;
}

/*
 * A number that is no timestamp: integers clamped to int64 (as the decoders do, and jansson
 * holds no more), finite floats to 17 digits. Negative zero is written 0: "%.17g" would give
 * "-0", which JSON reads as the integer 0 (jansson too), so the text would change on a round
 * trip through CBOR (an integral float is written as an integer, as 3.0 gives 3).
 */
static void
cj_num_json(struct sp_api_jw *w, const struct sp_cbor_item *it)
{
	char t[32];
	int n;

	if (it->type != SP_CBOR_FLOAT || !isfinite(it->f) || it->f == 0) {
		sp_api_jw_i64(w, sp_api_cbor_num_i64(it)); /* NaN and -0 are 0, infinities clamp */
		return;
	}
	n = snprintf(t, sizeof(t), "%.17g", it->f);
	SP_VERIFY(n > 0 && (size_t)n < sizeof(t));
	sp_api_jw_raw(w, t, (size_t)n);
}

/* One open container of the CBOR-to-JSON walk. */
struct cj_level {
	bool map;
	bool want_key; /* map: a key comes next */
	bool ts;       /* map: the value coming is a timestamp member's */
};

/* Write one value item (tags already dropped); a container opens a level. */
static int
cj_value(struct sp_api_jw *w, const struct sp_cbor_item *it, bool ts, struct cj_level *lv,
	 uint32_t *depth)
{
	switch (it->type) {
	case SP_CBOR_UINT:
	case SP_CBOR_NINT:
	case SP_CBOR_FLOAT:
		if (ts) {
			sp_api_jw_epoch_ms(w, sp_api_cbor_num_i64(it));
		} else {
			cj_num_json(w, it);
		}
		return 0;
	case SP_CBOR_BYTES:
		sp_api_jw_b64(w, it->ptr, (size_t)it->u);
		return 0;
	case SP_CBOR_TEXT:
		sp_api_jw_str(w, (const char *)it->ptr, (size_t)it->u);
		return 0;
	case SP_CBOR_FALSE:
	case SP_CBOR_TRUE:
		sp_api_jw_bool(w, it->type == SP_CBOR_TRUE);
		return 0;
	case SP_CBOR_NULL:
	case SP_CBOR_UNDEFINED:
		sp_api_jw_raw(w, "null", 4);
		return 0;
	case SP_CBOR_ARRAY:
	case SP_CBOR_MAP:
		if (*depth >= SP_API_JW_DEPTH_MAX) {
			return -E2BIG;
		}
		lv[*depth] = (struct cj_level){.map = it->type == SP_CBOR_MAP,
					       .want_key = it->type == SP_CBOR_MAP};
		(*depth)++;
		if (it->type == SP_CBOR_MAP) {
			sp_api_jw_obj_begin(w);
		} else {
			sp_api_jw_arr_begin(w);
		}
		return 0;
	default:
		return -EINVAL; /* an unassigned simple value: JSON has nothing for it */
	}
}

/* A map key: text opens the member; any other key is skipped with its value. */
static int
cj_key(struct sp_api_jw *w, struct sp_cbor_rd *rd, const struct sp_cbor_item *it,
       struct cj_level *l)
{
	int rc;

	if (it->type != SP_CBOR_TEXT) {
		rc = sp_cbor_skip(rd, it);
		rc = rc < 0 ? rc : sp_cbor_skip_next(rd);
		return rc < 0 ? rc : 0;
	}
	sp_api_jw_key(w, (const char *)it->ptr, (size_t)it->u);
	l->ts = cj_ts_key((const char *)it->ptr, (size_t)it->u);
	l->want_key = false;
	return 0;
}

ssize_t
sp_api_cbor_to_json(const char *cbor, size_t len, char *scratch, size_t scratch_cap, char *out,
		    size_t cap)
{
	struct sp_cbor_rd rd;
	struct sp_cbor_item it;
	struct cj_level lv[SP_API_JW_DEPTH_MAX];
	struct sp_api_jw w;
	uint32_t depth = 0;
	int rc;

	if (scratch_cap < len) {
		return -ENOSPC;
	}
	rc = sp_cbor_rd_init(&rd, (const uint8_t *)cbor, len, (uint8_t *)scratch, scratch_cap);
	if (rc != 0) {
		return rc;
	}
	rc = sp_cbor_next(&rd, &it);
	if (rc != 1 || it.type != SP_CBOR_MAP) {
		return rc < 0 ? rc : -EINVAL; /* not one CBOR map (nor a tagged one) */
	}
	sp_api_jw_init(&w, out, cap);
	SP_VERIFY(cj_value(&w, &it, false, lv, &depth) == 0);
	while (depth > 0) {
		struct cj_level *l = &lv[depth - 1];

		rc = sp_cbor_next(&rd, &it);
		if (rc < 0) {
			return rc;
		}
		if (rc == 0) {
			/* the container open last ended */
			if (l->map) {
				sp_api_jw_obj_end(&w);
			} else {
				sp_api_jw_arr_end(&w);
			}
			depth--;
			continue;
		}
		if (l->map && l->want_key) {
			rc = cj_key(&w, &rd, &it, l);
		} else {
			bool ts = l->map && l->ts;

			while (rc == 1 && it.type == SP_CBOR_TAG) {
				rc = sp_cbor_next(&rd, &it); /* a tag's item always follows it */
			}
			if (rc < 0) {
				return rc;
			}
			l->want_key = l->map;
			rc = cj_value(&w, &it, ts, lv, &depth);
		}
		if (rc < 0) {
			return rc;
		}
	}
	rc = sp_cbor_finish(&rd);
	if (rc != 0) {
		return rc;
	}
	return sp_api_jw_finish(&w);
}

/* A JSON number's text as CBOR: integers exact, others the shortest float holding them. */
static int
cj_num_cbor(struct sp_cbor_w *w, const struct sp_api_json_str *num, bool ts)
{
	char t[CJ_NUM_MAX + 1];
	char *end;
	bool integer = true;

	if (ts) {
		sp_cbor_w_tag(w, SP_API_CBOR_TAG_EPOCH);
		sp_cbor_w_int(w, sp_api_json_num_ms(num));
		return 0;
	}
	if (num->len > CJ_NUM_MAX) {
		return -ERANGE;
	}
	memcpy(t, num->ptr, num->len);
	t[num->len] = '\0';
	for (uint32_t i = 0; i < num->len; i++) {
		integer &= t[i] == '-' || (t[i] >= '0' && t[i] <= '9');
	}
	errno = 0;
	if (integer && t[0] == '-') {
		long long v = strtoll(t, &end, 10);

		if (errno == 0) {
			sp_cbor_w_int(w, v);
			return 0;
		}
	} else if (integer) {
		unsigned long long v = strtoull(t, &end, 10);

		if (errno == 0) {
			sp_cbor_w_uint(w, v);
			return 0;
		}
	}
	sp_cbor_w_float(w, strtod(t, &end)); /* a fraction, an exponent, or past 64 bits */
	return 0;
}

/* One JSON value at the scanner: a scalar written, a container entered (a level pushed). */
static int
cj_json_value(struct sp_api_json *js, struct sp_cbor_w *w, bool ts, bool *is_map, uint32_t *depth)
{
	struct sp_api_json_str s;
	int k = sp_api_json_peek(js);

	if (k == SP_API_JSON_OBJECT || k == SP_API_JSON_ARRAY) {
		if (*depth >= SP_CBOR_W_INDEF_MAX) {
			return -E2BIG;
		}
		is_map[(*depth)++] = k == SP_API_JSON_OBJECT;
		sp_cbor_w_indef(w,
				k == SP_API_JSON_OBJECT ? SP_CBOR_MAJOR_MAP : SP_CBOR_MAJOR_ARRAY);
		return k == SP_API_JSON_OBJECT ? sp_api_json_obj_enter(js)
					       : sp_api_json_arr_enter(js);
	}
	k = sp_api_json_value(js, &s);
	switch (k) {
	case SP_API_JSON_STRING:
		sp_cbor_w_text(w, s.ptr, s.len);
		return 0;
	case SP_API_JSON_NUMBER:
		return cj_num_cbor(w, &s, ts);
	case SP_API_JSON_TRUE:
	case SP_API_JSON_FALSE:
		sp_cbor_w_bool(w, k == SP_API_JSON_TRUE);
		return 0;
	case SP_API_JSON_NULL:
		sp_cbor_w_null(w);
		return 0;
	default:
		return k < 0 ? k : -EINVAL;
	}
}

ssize_t
sp_api_json_to_cbor(const char *json, size_t len, char *scratch, size_t scratch_cap, char *out,
		    size_t cap)
{
	struct sp_api_json js;
	struct sp_cbor_w w;
	bool is_map[SP_CBOR_W_INDEF_MAX];
	uint32_t depth = 0;
	int rc = sp_api_json_init(&js, json, len, scratch, scratch_cap);

	if (rc != 0) {
		return rc;
	}
	if (sp_api_json_peek(&js) != SP_API_JSON_OBJECT) {
		return -EINVAL;
	}
	sp_cbor_w_init(&w, (uint8_t *)out, cap);
	rc = cj_json_value(&js, &w, false, is_map, &depth);
	while (rc == 0 && depth > 0) {
		struct sp_api_json_str key = {NULL, 0, 0};
		bool ts = false;

		rc =
		    is_map[depth - 1] ? sp_api_json_obj_next(&js, &key) : sp_api_json_arr_next(&js);
		if (rc < 0) {
			break;
		}
		if (rc == 0) {
			sp_cbor_w_break(&w); /* the container open last closed */
			depth--;
			continue;
		}
		if (is_map[depth - 1]) {
			sp_cbor_w_text(&w, key.ptr, key.len);
			ts = cj_ts_key(key.ptr, key.len);
		}
		rc = cj_json_value(&js, &w, ts, is_map, &depth);
	}
	if (rc == 0) {
		rc = sp_api_json_finish(&js);
	}
	if (rc != 0) {
		return rc;
	}
	return sp_cbor_w_finish(&w);
}
