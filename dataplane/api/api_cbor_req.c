/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The CBOR request decoders (api_req.h, sp_api_cbor_*): the CBOR half of a decoder source
 * (api_req_src.h) over the reader of dataplane/cbor, and the four entry points. The decoders
 * themselves, their member tables, order of checks and texts are api_req.c's, shared with JSON.
 *
 * How CBOR items read as the JSON kinds the decoders check (docs/internals/cbor.md):
 *   text string        string (indefinite ones joined into the scratch arena)
 *   byte string        its own kind: Data takes it raw; elsewhere a type failure
 *   unsigned/negative  number, its value kept (clamped to int64); floats truncated toward zero
 *   integer, float     (NaN as 0); Limit then clamps to int32, Timestamp reads epoch millis
 *   true, false        the booleans
 *   null, undefined    null (the member is ignored)
 *   array, map         list, structure
 *   tags               dropped: the tagged item is what counts (tag 1 on a Timestamp included)
 *   other simple       the body is refused (SerializationException without a message)
 * Map keys are text strings; a member with any other key is skipped whole.
 * Runs on worker lcores, per request; no allocation, no global state.
 */
#include <errno.h>
#include <string.h>

#include <spate/assert.h>

#include "api_cbor.h"
#include "api_req.h"
#include "api_req_src.h"
#include "cbor.h"

/* The next item: the array element _elem read, or a new one. 1, or negative (never 0). */
static int
cbor_take(struct sp_api_cbor_src *cb, struct sp_cbor_item *it)
{
	int rc;

	if (cb->has_pending) {
		cb->has_pending = false;
		*it = cb->pending;
		return 1;
	}
	rc = sp_cbor_next(&cb->rd, it);
	/* callers ask only where a value must come: after a key, or after _elem said so */
	return rc == 0 ? -EINVAL : rc;
}

int
sp_api_cbor_src_open(struct sp_api_cbor_src *cb, const char *body, size_t len, char *scratch,
		     size_t scratch_cap)
{
	struct sp_cbor_item it;
	int rc;

	SP_VERIFY(cb != NULL);
	if (len > UINT32_MAX) {
		return -EFBIG;
	}
	if (scratch_cap < len) {
		return -ENOSPC; /* the same contract as the JSON scanner's */
	}
	cb->has_pending = false;
	rc = sp_cbor_rd_init(&cb->rd, (const uint8_t *)body, len, (uint8_t *)scratch, scratch_cap);
	SP_VERIFY(rc == 0);
	rc = sp_cbor_next(&cb->rd, &it);
	if (rc != 1 || it.type != SP_CBOR_MAP) {
		return -EINVAL; /* not one CBOR map (a tagged map is not one either) */
	}
	SP_ASSERT(cb->rd.depth == 1);
	return 0;
}

int
sp_api_cbor_src_member(struct sp_api_cbor_src *cb, struct sp_api_json_str *key)
{
	struct sp_cbor_item it;

	SP_ASSERT(!cb->has_pending);
	for (;;) {
		int rc = sp_cbor_next(&cb->rd, &it);

		if (rc <= 0) {
			return rc;
		}
		if (it.type == SP_CBOR_TEXT) {
			*key = (struct sp_api_json_str){.ptr = (const char *)it.ptr,
							.len = (uint32_t)it.u,
							.escaped = it.indef};
			return 1;
		}
		/* a key that is no text string: the member is skipped, key and value */
		rc = sp_cbor_skip(&cb->rd, &it);
		rc = rc < 0 ? rc : sp_cbor_skip_next(&cb->rd);
		if (rc < 0) {
			return rc;
		}
		SP_ASSERT(rc == 1);
	}
}

int
sp_api_cbor_src_elem(struct sp_api_cbor_src *cb)
{
	int rc;

	SP_ASSERT(!cb->has_pending);
	rc = sp_cbor_next(&cb->rd, &cb->pending);
	cb->has_pending = rc == 1;
	return rc;
}

int64_t
sp_api_cbor_num_i64(const struct sp_cbor_item *it)
{
	if (it->type == SP_CBOR_UINT) {
		return it->u > INT64_MAX ? INT64_MAX : (int64_t)it->u;
	}
	if (it->type == SP_CBOR_NINT) {
		return it->u > INT64_MAX ? INT64_MIN : -1 - (int64_t)it->u;
	}
	SP_ASSERT(it->type == SP_CBOR_FLOAT);
	if (it->f != it->f) {
		return 0;
	}
	if (it->f >= 0x1p63) {
		return INT64_MAX;
	}
	if (it->f <= -0x1p63) {
		return INT64_MIN;
	}
	return (int64_t)it->f;
}

int
sp_api_cbor_src_read(struct sp_api_cbor_src *cb, struct sp_api_req_val *v, unsigned enter)
{
	struct sp_cbor_item it;
	int rc = cbor_take(cb, &it);

	while (rc == 1 && it.type == SP_CBOR_TAG) {
		rc = sp_cbor_next(&cb->rd, &it); /* a tag's item always follows it */
	}
	if (rc < 0) {
		return rc;
	}
	SP_ASSERT(rc == 1);
	v->s = (struct sp_api_json_str){NULL, 0, 0};
	v->num = 0;
	v->form = 0;
	switch (it.type) {
	case SP_CBOR_UINT:
	case SP_CBOR_NINT:
	case SP_CBOR_FLOAT:
		v->num = sp_api_cbor_num_i64(&it);
		v->form = SP_API_REQ_FORM_NUM;
		return SP_API_JSON_NUMBER;
	case SP_CBOR_BYTES:
	case SP_CBOR_TEXT:
		v->s = (struct sp_api_json_str){
		    .ptr = (const char *)it.ptr, .len = (uint32_t)it.u, .escaped = it.indef};
		return it.type == SP_CBOR_TEXT ? SP_API_JSON_STRING : SP_API_REQ_KIND_BYTES;
	case SP_CBOR_ARRAY:
	case SP_CBOR_MAP: {
		int kind = it.type == SP_CBOR_ARRAY ? SP_API_JSON_ARRAY : SP_API_JSON_OBJECT;

		if (enter & (1u << kind)) {
			return kind; /* its level stays open: its items come next */
		}
		rc = sp_cbor_skip(&cb->rd, &it);
		return rc < 0 ? rc : kind;
	}
	case SP_CBOR_FALSE:
		return SP_API_JSON_FALSE;
	case SP_CBOR_TRUE:
		return SP_API_JSON_TRUE;
	case SP_CBOR_NULL:
	case SP_CBOR_UNDEFINED:
		return SP_API_JSON_NULL;
	default:
		SP_ASSERT(it.type == SP_CBOR_SIMPLE);
		return -EINVAL; /* no member type takes an unassigned simple value */
	}
}

int
sp_api_cbor_src_skip(struct sp_api_cbor_src *cb)
{
	struct sp_cbor_item it;
	int rc = cbor_take(cb, &it);

	return rc < 0 ? rc : sp_cbor_skip(&cb->rd, &it);
}

int
sp_api_cbor_src_close(struct sp_api_cbor_src *cb)
{
	SP_ASSERT(!cb->has_pending);
	return sp_cbor_finish(&cb->rd);
}

/* ---- Entry points ---- */

int
sp_api_cbor_put_record(const char *body, size_t len, char *scratch, size_t scratch_cap,
		       struct sp_api_req_put_record *out, struct sp_api_req_err *err)
{
	struct sp_api_req_body b = {body, len, scratch, scratch_cap};
	struct sp_api_cbor_src cb;
	struct sp_api_req_src src = {.cb = &cb};

	return sp_api_req_src_put_record(&src, &b, out, err);
}

int
sp_api_cbor_put_records(const char *body, size_t len, char *scratch, size_t scratch_cap,
			struct sp_api_req_put_records *out, struct sp_api_req_err *err)
{
	struct sp_api_req_body b = {body, len, scratch, scratch_cap};
	struct sp_api_cbor_src cb;
	struct sp_api_req_src src = {.cb = &cb};

	return sp_api_req_src_put_records(&src, &b, out, err);
}

int
sp_api_cbor_get_shard_iterator(const char *body, size_t len, char *scratch, size_t scratch_cap,
			       struct sp_api_req_get_shard_iterator *out,
			       struct sp_api_req_err *err)
{
	struct sp_api_req_body b = {body, len, scratch, scratch_cap};
	struct sp_api_cbor_src cb;
	struct sp_api_req_src src = {.cb = &cb};

	return sp_api_req_src_get_shard_iterator(&src, &b, out, err);
}

int
sp_api_cbor_get_records(const char *body, size_t len, char *scratch, size_t scratch_cap,
			struct sp_api_req_get_records *out, struct sp_api_req_err *err)
{
	struct sp_api_req_body b = {body, len, scratch, scratch_cap};
	struct sp_api_cbor_src cb;
	struct sp_api_req_src src = {.cb = &cb};

	return sp_api_req_src_get_records(&src, &b, out, err);
}
