/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test helpers over dataplane/cbor (header-only, shared by cbor_test.c and fuzz_cbor.c):
 *   walk_reencode  read one whole item and write it back with the writer (heads in their
 *                  shortest form, floats bit-exact at their width, indefinite arrays and maps
 *                  kept indefinite, indefinite strings written as one definite string);
 *   walk_digest    a flat list of what the reader gives (type, value, string contents, float
 *                  bits, container ends), to compare two encodings of the same items.
 */
#ifndef SP_CBOR_WALK_H
#define SP_CBOR_WALK_H

#include <string.h>

#include <spate/assert.h>

#include "cbor.h"

/* One event of a walk: an item, or the end of a container (type SP_CBOR_TYPE_COUNT). */
struct walk_ev {
	uint8_t type;
	uint8_t indef; /* arrays and maps only: strings lose their chunking on re-encoding */
	uint8_t fbits;
	uint64_t u; /* strings: length */
	const uint8_t *ptr;
};

/* Write back one item the reader gave (heads shortest, floats bit-exact). */
static inline void
walk_write(struct sp_cbor_w *w, const struct sp_cbor_item *it)
{
	switch (it->type) {
	case SP_CBOR_UINT:
		sp_cbor_w_uint(w, it->u);
		break;
	case SP_CBOR_NINT:
		sp_cbor_w_head(w, SP_CBOR_MAJOR_NINT, it->u);
		break;
	case SP_CBOR_BYTES:
		sp_cbor_w_bytes(w, it->ptr, it->u);
		break;
	case SP_CBOR_TEXT:
		sp_cbor_w_text(w, (const char *)it->ptr, it->u);
		break;
	case SP_CBOR_ARRAY:
	case SP_CBOR_MAP:
		if (it->indef) {
			sp_cbor_w_indef(w, it->type == SP_CBOR_ARRAY ? SP_CBOR_MAJOR_ARRAY
								     : SP_CBOR_MAJOR_MAP);
		} else {
			sp_cbor_w_head(
			    w, it->type == SP_CBOR_ARRAY ? SP_CBOR_MAJOR_ARRAY : SP_CBOR_MAJOR_MAP,
			    it->u);
		}
		break;
	case SP_CBOR_TAG:
		sp_cbor_w_tag(w, it->u);
		break;
	case SP_CBOR_SIMPLE:
		sp_cbor_w_simple(w, (uint8_t)it->u);
		break;
	case SP_CBOR_FALSE:
	case SP_CBOR_TRUE:
		sp_cbor_w_bool(w, it->type == SP_CBOR_TRUE);
		break;
	case SP_CBOR_NULL:
		sp_cbor_w_null(w);
		break;
	case SP_CBOR_UNDEFINED:
		sp_cbor_w_undefined(w);
		break;
	default:
		SP_VERIFY(it->type == SP_CBOR_FLOAT);
		sp_cbor_w_float_bits(w, it->fbits, it->u);
		break;
	}
}

/*
 * Read the one item of buf and re-encode it into w; evs (when not NULL) gets up to max events.
 * Returns the number of events, or the reader's error.
 */
static inline int
walk_reencode(const uint8_t *buf, size_t len, uint8_t *scratch, size_t scratch_cap,
	      struct sp_cbor_w *w, struct walk_ev *evs, size_t max)
{
	uint8_t indef[SP_CBOR_DEPTH_MAX + 1];
	struct sp_cbor_rd rd;
	struct sp_cbor_item it;
	size_t n = 0;
	int rc = sp_cbor_rd_init(&rd, buf, len, scratch, scratch_cap);

	while (rc >= 0) {
		uint32_t depth = rd.depth;

		rc = sp_cbor_next(&rd, &it);
		if (rc < 0) {
			break;
		}
		if (rc == 0) {
			if (depth == 0) {
				rc = sp_cbor_finish(&rd);
				break;
			}
			SP_VERIFY(rd.depth == depth - 1);
			if (w != NULL && indef[depth]) {
				sp_cbor_w_break(w);
			}
			if (evs != NULL && n < max) {
				memset(&evs[n], 0, sizeof(evs[n]));
				evs[n].type = SP_CBOR_TYPE_COUNT;
			}
			n++;
			continue;
		}
		if (evs != NULL && n < max) {
			evs[n] = (struct walk_ev){
			    .type = it.type,
			    .indef =
				it.type == SP_CBOR_ARRAY || it.type == SP_CBOR_MAP ? it.indef : 0,
			    .fbits = it.fbits,
			    .u = it.u,
			    .ptr = it.ptr};
		}
		n++;
		if (w == NULL) {
			continue;
		}
		if (it.type == SP_CBOR_ARRAY || it.type == SP_CBOR_MAP) {
			SP_VERIFY(rd.depth == depth + 1);
			indef[rd.depth] = it.indef;
		}
		walk_write(w, &it);
	}
	return rc < 0 ? rc : (int)n;
}

/* The same events (string contents compared, not their addresses). */
static inline bool
walk_same(const struct walk_ev *a, const struct walk_ev *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (a[i].type != b[i].type || a[i].indef != b[i].indef ||
		    a[i].fbits != b[i].fbits || a[i].u != b[i].u) {
			return false;
		}
		if ((a[i].type == SP_CBOR_BYTES || a[i].type == SP_CBOR_TEXT) && a[i].u != 0 &&
		    memcmp(a[i].ptr, b[i].ptr, a[i].u) != 0) {
			return false;
		}
	}
	return true;
}

#endif /* SP_CBOR_WALK_H */
