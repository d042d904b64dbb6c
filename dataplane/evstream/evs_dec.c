/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The event-stream decoder (evstream.h): one message at the front of a buffer, checked in
 * this order so that what is reported is the first thing that went wrong on the wire:
 *   1. total_len >= 16 and within the caller's bound; headers_len <= total_len - 16;
 *   2. prelude_crc (before any length is trusted to find more bytes);
 *   3. the whole message present (else SP_AGAIN), then message_crc: corruption anywhere in
 *      headers or payload shows as a CRC error rather than as whatever it decodes to;
 *   4. each header: name_len >= 1, name and type byte inside the headers, type <= 9, value
 *      (and its u16 length) inside the headers. The headers must fill headers_len exactly,
 *      which this walk implies: the next header starts where the last value ended.
 * Header names are not checked for UTF-8 or for duplicates (a client takes the first; see
 * docs/internals/evstream.md). Runs anywhere; reads only [buf, buf + total_len).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <spate/assert.h>
#include <spate/err.h>

#include "crc32.h"
#include "evstream.h"

/* Value bytes after the type byte, by type; 0xff: a u16 length then that many bytes. */
#define EVS_VAR 0xffu
static const uint8_t k_evs_value_len[SP_EVS_TYPE_COUNT] = {
    [SP_EVS_TRUE] = 0,        [SP_EVS_FALSE] = 0,
    [SP_EVS_BYTE] = 1,        [SP_EVS_INT16] = 2,
    [SP_EVS_INT32] = 4,       [SP_EVS_INT64] = 8,
    [SP_EVS_BYTES] = EVS_VAR, [SP_EVS_STRING] = EVS_VAR,
    [SP_EVS_TIMESTAMP] = 8,   [SP_EVS_UUID] = SP_EVS_UUID_BYTES,
};

static inline uint16_t
evs_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
evs_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
evs_rd64(const uint8_t *p)
{
	return (uint64_t)evs_rd32(p) << 32 | evs_rd32(p + 4);
}

static int
evs_bad(struct sp_evs_err *err, enum sp_evs_status st, uint32_t offset, uint32_t got, uint32_t want)
{
	if (err != NULL) {
		err->status = st;
		err->offset = offset;
		err->got = got;
		err->want = want;
	}
	return -EBADMSG;
}

/* The value of a header whose bounds were checked: p is its first byte. */
static void
evs_value(struct sp_evs_hdr *h, const uint8_t *p)
{
	switch (h->type) {
	case SP_EVS_TRUE:
	case SP_EVS_FALSE:
		h->v.b = h->type == SP_EVS_TRUE;
		break;
	case SP_EVS_BYTE:
		h->v.i = (int8_t)p[0];
		break;
	case SP_EVS_INT16:
		h->v.i = (int16_t)evs_rd16(p);
		break;
	case SP_EVS_INT32:
		h->v.i = (int32_t)evs_rd32(p);
		break;
	case SP_EVS_INT64:
	case SP_EVS_TIMESTAMP:
		h->v.i = (int64_t)evs_rd64(p);
		break;
	case SP_EVS_BYTES:
	case SP_EVS_STRING:
		h->v.s.len = evs_rd16(p);
		h->v.s.p = p + 2;
		break;
	case SP_EVS_UUID:
		h->v.uuid = p;
		break;
	default:
		SP_VERIFY(false);
	}
}

/*
 * The header at hdrs[*pos] (hdrs holds len bytes): 1 with it in *h and *pos past it, 0 at the
 * end, -EBADMSG with *err (offsets relative to hdrs) when it does not fit or has no type.
 */
static int
evs_hdr_parse(const uint8_t *hdrs, uint32_t len, uint32_t *pos, struct sp_evs_hdr *h,
	      struct sp_evs_err *err)
{
	uint32_t at = *pos, left = len - at, vlen;
	const uint8_t *p = hdrs + at;
	uint8_t nl, type;

	SP_VERIFY(at <= len);
	if (left == 0) {
		return 0;
	}
	nl = p[0];
	if (nl == 0) {
		return evs_bad(err, SP_EVS_E_NAME_EMPTY, at, 0, left);
	}
	if ((uint32_t)nl + 2 > left) {
		return evs_bad(err, SP_EVS_E_NAME_TRUNC, at, nl, left);
	}
	type = p[1 + nl];
	if (type >= SP_EVS_TYPE_COUNT) {
		return evs_bad(err, SP_EVS_E_TYPE, at + 1 + nl, type, SP_EVS_TYPE_COUNT - 1);
	}
	left -= 2u + nl;
	vlen = k_evs_value_len[type];
	if (vlen == EVS_VAR) {
		vlen = left >= 2 ? 2u + evs_rd16(p + 2 + nl) : 2u;
	}
	if (vlen > left) {
		return evs_bad(err, SP_EVS_E_VALUE_TRUNC, at + 2 + nl, vlen, left);
	}
	h->name = (const char *)p + 1;
	h->name_len = nl;
	h->type = (enum sp_evs_type)type;
	evs_value(h, p + 2 + nl);
	*pos = at + 2 + nl + vlen;
	return 1;
}

int
sp_evs_decode(const void *buf, size_t len, uint32_t max_total, struct sp_evs_msg *m,
	      struct sp_evs_err *err)
{
	const uint8_t *p = buf;
	uint32_t total, hl, crc, s, pos = 0, n = 0;
	struct sp_evs_hdr h;
	int rc;

	if (len < SP_EVS_PRELUDE_BYTES) {
		return SP_AGAIN;
	}
	total = evs_rd32(p);
	hl = evs_rd32(p + 4);
	if (total < SP_EVS_MIN_BYTES) {
		return evs_bad(err, SP_EVS_E_TOTAL_SHORT, 0, total, SP_EVS_MIN_BYTES);
	}
	if (max_total != 0 && total > max_total) {
		return evs_bad(err, SP_EVS_E_TOTAL_BIG, 0, total, max_total);
	}
	if (hl > total - SP_EVS_MIN_BYTES) {
		return evs_bad(err, SP_EVS_E_HEADERS_LEN, 4, hl, total);
	}
	s = sp_crc32_update(sp_crc32_init(), p, 8);
	crc = evs_rd32(p + 8);
	if (crc != sp_crc32_final(s)) {
		return evs_bad(err, SP_EVS_E_PRELUDE_CRC, 8, crc, sp_crc32_final(s));
	}
	if (len < total) {
		return SP_AGAIN;
	}
	s = sp_crc32_update(s, p + 8, total - 8 - SP_EVS_TRAILER_BYTES);
	crc = evs_rd32(p + total - SP_EVS_TRAILER_BYTES);
	if (crc != sp_crc32_final(s)) {
		return evs_bad(err, SP_EVS_E_MESSAGE_CRC, total - SP_EVS_TRAILER_BYTES, crc,
			       sp_crc32_final(s));
	}
	while ((rc = evs_hdr_parse(p + SP_EVS_PRELUDE_BYTES, hl, &pos, &h, err)) == 1) {
		n++;
	}
	if (rc < 0) {
		if (err != NULL) {
			err->offset += SP_EVS_PRELUDE_BYTES;
		}
		return rc;
	}
	SP_VERIFY(pos == hl);
	m->total_len = total;
	m->headers_len = hl;
	m->payload_len = total - SP_EVS_MIN_BYTES - hl;
	m->nheaders = n;
	m->headers = p + SP_EVS_PRELUDE_BYTES;
	m->payload = p + SP_EVS_PRELUDE_BYTES + hl;
	if (err != NULL) {
		*err = (struct sp_evs_err){.status = SP_EVS_OK};
	}
	return (int)total;
}

int
sp_evs_hdr_next(const struct sp_evs_msg *m, uint32_t *pos, struct sp_evs_hdr *h)
{
	int rc = evs_hdr_parse(m->headers, m->headers_len, pos, h, NULL);

	SP_VERIFY(rc >= 0);
	return rc;
}

bool
sp_evs_hdr_find(const struct sp_evs_msg *m, const char *name, size_t name_len, struct sp_evs_hdr *h)
{
	uint32_t pos = 0;

	while (sp_evs_hdr_next(m, &pos, h) == 1) {
		if (h->name_len == name_len && memcmp(h->name, name, name_len) == 0) {
			return true;
		}
	}
	return false;
}

const char *
sp_evs_err_name(enum sp_evs_status s)
{
	static const char *const names[SP_EVS_STATUS_COUNT] = {
	    [SP_EVS_OK] = "OK",
	    [SP_EVS_E_TOTAL_SHORT] = "TOTAL_SHORT",
	    [SP_EVS_E_TOTAL_BIG] = "TOTAL_BIG",
	    [SP_EVS_E_HEADERS_LEN] = "HEADERS_LEN",
	    [SP_EVS_E_PRELUDE_CRC] = "PRELUDE_CRC",
	    [SP_EVS_E_MESSAGE_CRC] = "MESSAGE_CRC",
	    [SP_EVS_E_NAME_EMPTY] = "NAME_EMPTY",
	    [SP_EVS_E_NAME_TRUNC] = "NAME_TRUNC",
	    [SP_EVS_E_TYPE] = "TYPE",
	    [SP_EVS_E_VALUE_TRUNC] = "VALUE_TRUNC",
	};

	return (unsigned)s < SP_EVS_STATUS_COUNT ? names[s] : "?";
}

size_t
sp_evs_err_format(const struct sp_evs_err *e, char *buf, size_t cap)
{
	const char *fmt;
	int n;

	switch (e->status) {
	case SP_EVS_OK:
		n = snprintf(buf, cap, "no error");
		return n < 0 ? 0 : (size_t)n;
	case SP_EVS_E_TOTAL_SHORT:
		fmt = "total length below the minimum at offset %u: %u < %u";
		break;
	case SP_EVS_E_TOTAL_BIG:
		fmt = "total length above the bound at offset %u: %u > %u";
		break;
	case SP_EVS_E_HEADERS_LEN:
		fmt = "headers length too large for the message at offset %u: %u in a total of %u";
		break;
	case SP_EVS_E_PRELUDE_CRC:
		fmt = "prelude CRC mismatch at offset %u: message has 0x%08x, computed 0x%08x";
		break;
	case SP_EVS_E_MESSAGE_CRC:
		fmt = "message CRC mismatch at offset %u: message has 0x%08x, computed 0x%08x";
		break;
	case SP_EVS_E_NAME_EMPTY:
		fmt = "empty header name at offset %u (name length %u, %u header bytes left)";
		break;
	case SP_EVS_E_NAME_TRUNC:
		fmt = "header name and type past the headers at offset %u: name length %u, "
		      "%u header bytes left";
		break;
	case SP_EVS_E_TYPE:
		fmt = "unknown header value type at offset %u: %u (highest is %u)";
		break;
	case SP_EVS_E_VALUE_TRUNC:
		fmt = "header value past the headers at offset %u: %u bytes, %u left";
		break;
	default:
		fmt = "unknown decoder status at offset %u (%u, %u)";
		break;
	}
	n = snprintf(buf, cap, fmt, e->offset, e->got, e->want);
	return n < 0 ? 0 : (size_t)n;
}
