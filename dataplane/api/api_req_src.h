/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to the request decoders (api_req.c, api_cbor_req.c): where a decoder's values come
 * from. api_req.c holds the decoders themselves (member tables, kinesalite's order of checks,
 * every message) and walks a body through the five operations below; the JSON scanner
 * (api_json.h) and the CBOR reader (api_cbor_req.c over dataplane/cbor) each provide them, so
 * both encodings fill the same structs with the same checks and texts.
 */
#ifndef SP_API_REQ_SRC_H
#define SP_API_REQ_SRC_H

#include <stdbool.h>
#include <stdint.h>

#include <spate/compiler.h>

#include "api_json.h"
#include "api_req.h"
#include "cbor.h"

/*
 * A value's kind is an enum sp_api_json_kind, or one that only CBOR has: a byte string (Data's
 * natural form; anywhere else a type failure).
 */
#define SP_API_REQ_KIND_BYTES (SP_API_JSON_OBJECT + 1)

/* Value forms (struct sp_api_req_val.form). */
#define SP_API_REQ_FORM_NUM 1u /* NUMBER: num holds the value already (CBOR), s is empty */

/* A member's value as scanned: its kind, its text, and what the type check converted. */
struct sp_api_req_val {
	struct sp_api_json_str s; /* STRING: text; BYTES: the bytes; JSON NUMBER: its text */
	int64_t num;              /* INTEGER: clamped value; TIMESTAMP: ms; BLOB: decoded bytes */
	uint8_t kind;             /* enum sp_api_json_kind or SP_API_REQ_KIND_BYTES */
	uint8_t form;             /* SP_API_REQ_FORM_* */
};

/* The CBOR half of a source (api_cbor_req.c). */
struct sp_api_cbor_src {
	struct sp_cbor_rd rd;
	struct sp_cbor_item pending; /* an array element's head, read by _elem */
	bool has_pending;
};

/* One body being decoded: JSON when cb is NULL. */
struct sp_api_req_src {
	struct sp_api_json js;
	struct sp_api_cbor_src *cb;
};

/* What sp_api_cbor_src_read enters instead of skipping. */
#define SP_API_REQ_ENTER_ARRAY  (1u << SP_API_JSON_ARRAY)
#define SP_API_REQ_ENTER_OBJECT (1u << SP_API_JSON_OBJECT)

/*
 * The CBOR source, each the counterpart of a JSON scanner call (negative: not well-formed):
 *   open    start on body[0..len), whose one item must be a map (-EINVAL otherwise; -ENOSPC
 *           when scratch_cap < len, -EFBIG when len does not fit 32 bits);
 *   member  the next member of the map entered last: 1 with its key (text keys only: members
 *           with other keys are skipped), 0 when the map ended;
 *   elem    1 when the array entered last has another element (its head read), 0 at its end;
 *   read    the next value into *v: tags dropped (tag 1 included: a number is a number),
 *           arrays and maps entered when their kind's bit is in enter, else skipped whole;
 *           the kind is returned (-EINVAL for an unassigned simple value);
 *   skip    the next value, whole;
 *   close   after the top-level map: nothing may follow.
 */
SP_MUST_CHECK int sp_api_cbor_src_open(struct sp_api_cbor_src *cb, const char *body, size_t len,
				       char *scratch, size_t scratch_cap);
SP_MUST_CHECK int sp_api_cbor_src_member(struct sp_api_cbor_src *cb, struct sp_api_json_str *key);
SP_MUST_CHECK int sp_api_cbor_src_elem(struct sp_api_cbor_src *cb);
SP_MUST_CHECK int sp_api_cbor_src_read(struct sp_api_cbor_src *cb, struct sp_api_req_val *v,
				       unsigned enter);
SP_MUST_CHECK int sp_api_cbor_src_skip(struct sp_api_cbor_src *cb);
SP_MUST_CHECK int sp_api_cbor_src_close(struct sp_api_cbor_src *cb);

/* The body a decoder is given, as api_req.h's entry points take it. */
struct sp_api_req_body {
	const char *body;
	size_t len;
	char *scratch;
	size_t scratch_cap;
};

/*
 * The decoders (api_req.c) over a source: src->cb says which (NULL: JSON, else the CBOR
 * state to use); the source is opened on b here. Results as in api_req.h. The public JSON and
 * CBOR entry points are these with their source.
 */
SP_MUST_CHECK int sp_api_req_src_put_record(struct sp_api_req_src *src,
					    const struct sp_api_req_body *b,
					    struct sp_api_req_put_record *out,
					    struct sp_api_req_err *err);
SP_MUST_CHECK int sp_api_req_src_put_records(struct sp_api_req_src *src,
					     const struct sp_api_req_body *b,
					     struct sp_api_req_put_records *out,
					     struct sp_api_req_err *err);
SP_MUST_CHECK int sp_api_req_src_get_shard_iterator(struct sp_api_req_src *src,
						    const struct sp_api_req_body *b,
						    struct sp_api_req_get_shard_iterator *out,
						    struct sp_api_req_err *err);
SP_MUST_CHECK int sp_api_req_src_get_records(struct sp_api_req_src *src,
					     const struct sp_api_req_body *b,
					     struct sp_api_req_get_records *out,
					     struct sp_api_req_err *err);

#endif /* SP_API_REQ_SRC_H */
