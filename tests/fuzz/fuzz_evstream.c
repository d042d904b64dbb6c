/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for dataplane/evstream. The first input byte picks a mode:
 *   0  decode the rest as it is (mostly CRC errors: the prelude and length checks);
 *   1  decode the rest with its CRCs repaired first, so that mutations reach the headers;
 *   2  read the rest as encoder calls (headers of every type, payload pieces, in-place
 *      writes, a capacity), encode, and decode the result: every header and the payload
 *      must come back, and -ENOSPC must mean the message is longer than the capacity.
 * Whatever decodes (modes 0 and 1) is encoded again from its decoded headers and payload and
 * must give the same bytes, unless a header breaks an encoder rule (a duplicate name, a value
 * over SP_EVS_VALUE_MAX, headers over SP_EVS_HEADERS_MAX), which must then be the error the
 * encoder reports. A decoder status must name a field inside the message. The input is
 * libFuzzer's exact-size copy and every buffer an exact-size heap block, so a read or write
 * one byte out is caught by ASan.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <spate/assert.h>
#include <spate/err.h>

#include "crc32.h"
#include "evstream.h"

/* Mode 2: most headers and payload pieces one input describes. */
#define FUZZ_EVS_OPS_MAX 64u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t
fuzz_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Encode one decoded header. */
static void
fuzz_put_hdr(struct sp_evs_enc *e, const struct sp_evs_hdr *h)
{
	switch (h->type) {
	case SP_EVS_TRUE:
	case SP_EVS_FALSE:
		sp_evs_hdr_bool(e, h->name, h->name_len, h->v.b);
		break;
	case SP_EVS_BYTE:
		sp_evs_hdr_byte(e, h->name, h->name_len, (int8_t)h->v.i);
		break;
	case SP_EVS_INT16:
		sp_evs_hdr_i16(e, h->name, h->name_len, (int16_t)h->v.i);
		break;
	case SP_EVS_INT32:
		sp_evs_hdr_i32(e, h->name, h->name_len, (int32_t)h->v.i);
		break;
	case SP_EVS_INT64:
		sp_evs_hdr_i64(e, h->name, h->name_len, h->v.i);
		break;
	case SP_EVS_TIMESTAMP:
		sp_evs_hdr_timestamp(e, h->name, h->name_len, h->v.i);
		break;
	case SP_EVS_BYTES:
		sp_evs_hdr_bytes(e, h->name, h->name_len, h->v.s.p, h->v.s.len);
		break;
	case SP_EVS_STRING:
		sp_evs_hdr_str(e, h->name, h->name_len, (const char *)h->v.s.p, h->v.s.len);
		break;
	case SP_EVS_UUID:
		sp_evs_hdr_uuid(e, h->name, h->name_len, h->v.uuid);
		break;
	default:
		SP_VERIFY(false);
	}
}

/* A decoded message encoded again: the same bytes, or the encoder rule it breaks. */
static void
fuzz_reencode(const uint8_t *msg, const struct sp_evs_msg *m)
{
	uint8_t *out = malloc(m->total_len);
	struct sp_evs_enc e;
	struct sp_evs_hdr h, first;
	uint32_t pos = 0, at;
	int want = 0;
	ssize_t n;

	SP_VERIFY(out != NULL);
	sp_evs_enc_begin(&e, out, m->total_len);
	for (at = 0; sp_evs_hdr_next(m, &pos, &h) == 1; at = pos) {
		if (want == 0 && (h.type == SP_EVS_BYTES || h.type == SP_EVS_STRING) &&
		    h.v.s.len > SP_EVS_VALUE_MAX) {
			want = -EINVAL;
		}
		/* a duplicate: the first header of that name is an earlier one */
		SP_VERIFY(sp_evs_hdr_find(m, h.name, h.name_len, &first));
		if (want == 0 && (const uint8_t *)first.name != m->headers + at + 1) {
			want = -EEXIST;
		}
		fuzz_put_hdr(&e, &h);
	}
	SP_VERIFY(pos == m->headers_len);
	if (want == 0 && m->headers_len > SP_EVS_HEADERS_MAX) {
		want = -EMSGSIZE;
	}
	sp_evs_payload(&e, m->payload, m->payload_len);
	n = sp_evs_enc_finish(&e);
	if (want != 0) {
		SP_VERIFY(n == want);
	} else {
		SP_VERIFY(n == (ssize_t)m->total_len);
		SP_VERIFY(memcmp(out, msg, m->total_len) == 0);
	}
	free(out);
}

static void
fuzz_decode(const uint8_t *buf, size_t len)
{
	struct sp_evs_msg m;
	struct sp_evs_err err;
	char text[256];
	int rc = sp_evs_decode(buf, len, 0, &m, &err);

	if (rc > 0) {
		SP_VERIFY((size_t)rc <= len && (uint32_t)rc == m.total_len);
		SP_VERIFY(err.status == SP_EVS_OK);
		SP_VERIFY(m.total_len == SP_EVS_MIN_BYTES + m.headers_len + m.payload_len);
		fuzz_reencode(buf, &m);
		return;
	}
	if (rc == SP_AGAIN) {
		SP_VERIFY(len < SP_EVS_PRELUDE_BYTES || len < fuzz_rd32(buf));
		return;
	}
	SP_VERIFY(rc == -EBADMSG);
	SP_VERIFY(err.status > SP_EVS_OK && err.status < SP_EVS_STATUS_COUNT);
	SP_VERIFY(err.offset < len);
	if (err.status >= SP_EVS_E_MESSAGE_CRC) {
		SP_VERIFY(err.offset < fuzz_rd32(buf) && err.offset >= SP_EVS_PRELUDE_BYTES);
	}
	SP_VERIFY(sp_evs_err_format(&err, text, sizeof(text)) < sizeof(text));
}

/* Mode 1: the CRCs made right wherever the lengths allow, then decoded. */
static void
fuzz_repaired(const uint8_t *data, size_t size)
{
	uint8_t *b = malloc(size ? size : 1);
	uint32_t total;

	SP_VERIFY(b != NULL);
	memcpy(b, data, size);
	if (size >= SP_EVS_PRELUDE_BYTES) {
		fuzz_wr32(b + 8, sp_crc32(0, b, 8));
		total = fuzz_rd32(b);
		if (total >= SP_EVS_MIN_BYTES && total <= size) {
			fuzz_wr32(b + total - 4, sp_crc32(0, b, total - 4));
		}
	}
	fuzz_decode(b, size);
	free(b);
}

/* Mode 2's reader over the input. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static uint8_t
fuzz_byte(struct fuzz_in *in)
{
	uint8_t b = 0;

	if (in->n > 0) {
		b = *in->p++;
		in->n--;
	}
	return b;
}

/* Up to want bytes of the input (fewer at its end): the count, with *p pointing at them. */
static size_t
fuzz_take(struct fuzz_in *in, size_t want, const uint8_t **p)
{
	size_t k = want < in->n ? want : in->n;

	*p = in->p;
	in->p += k;
	in->n -= k;
	return k;
}

static int64_t
fuzz_int(struct fuzz_in *in)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++) {
		v = v << 8 | fuzz_byte(in);
	}
	return (int64_t)v;
}

struct fuzz_op {
	struct sp_evs_hdr h; /* a header (name_len != 0), or a payload piece */
	const uint8_t *piece;
	size_t piece_len;
	bool in_place;
};

/* Read one op: a header of any type, or a payload piece. */
static void
fuzz_read_op(struct fuzz_in *in, struct fuzz_op *o, char names[][4], unsigned i)
{
	uint8_t kind = fuzz_byte(in), len = fuzz_byte(in);
	const uint8_t *p;

	memset(o, 0, sizeof(*o));
	if (kind % 12 >= SP_EVS_TYPE_COUNT) {
		o->piece_len = fuzz_take(in, len, &o->piece);
		o->in_place = kind % 12 == 11;
		return;
	}
	/* distinct names of 2 or 3 bytes built from the op index */
	names[i][0] = (char)('A' + i % 26);
	names[i][1] = (char)('a' + i / 26);
	names[i][2] = '!';
	o->h.name = names[i];
	o->h.name_len = (uint8_t)(2 + len % 2);
	o->h.type = (enum sp_evs_type)(kind % 12);
	if (o->h.type == SP_EVS_BYTES || o->h.type == SP_EVS_STRING) {
		o->h.v.s.len = (uint16_t)fuzz_take(in, len, &p);
		o->h.v.s.p = p;
	} else if (o->h.type == SP_EVS_UUID) {
		SP_VERIFY(fuzz_take(in, 16, &o->h.v.uuid) <= 16);
		if (in->n == 0) {
			o->h.v.uuid = (const uint8_t *)"0123456789abcdef";
		}
	} else if (o->h.type <= SP_EVS_FALSE) {
		o->h.v.b = o->h.type == SP_EVS_TRUE;
	} else {
		int64_t v = fuzz_int(in);

		o->h.v.i = o->h.type == SP_EVS_BYTE    ? (int8_t)v
			   : o->h.type == SP_EVS_INT16 ? (int16_t)v
			   : o->h.type == SP_EVS_INT32 ? (int32_t)v
						       : v;
	}
}

/* Encode ops into cap bytes; headers after the first piece make -EINVAL (checked). */
static ssize_t
fuzz_encode_ops(const struct fuzz_op *ops, unsigned nops, uint8_t *buf, size_t cap)
{
	struct sp_evs_enc e;

	sp_evs_enc_begin(&e, buf, cap);
	for (unsigned i = 0; i < nops; i++) {
		if (ops[i].h.name_len != 0) {
			fuzz_put_hdr(&e, &ops[i].h);
		} else if (ops[i].in_place) {
			size_t room;
			uint8_t *p = sp_evs_payload_room(&e, &room);

			if (p != NULL && room >= ops[i].piece_len) {
				memcpy(p, ops[i].piece, ops[i].piece_len);
			}
			sp_evs_payload_commit(&e, ops[i].piece_len);
		} else {
			struct sp_evs_seg seg = {ops[i].piece, ops[i].piece_len};

			sp_evs_payload_segs(&e, &seg, 1);
		}
	}
	return sp_evs_enc_finish(&e);
}

static void
fuzz_ops(const uint8_t *data, size_t size)
{
	static struct fuzz_op ops[FUZZ_EVS_OPS_MAX];
	static char names[FUZZ_EVS_OPS_MAX][4];
	struct fuzz_in in = {data, size};
	size_t cap = (size_t)fuzz_byte(&in) << 4 | fuzz_byte(&in),
	       full_cap = 3 * size + 24 * FUZZ_EVS_OPS_MAX + 16;
	unsigned nops = 0, nh = 0;
	bool late_hdr = false, in_payload = false;
	uint8_t *full = malloc(full_cap), *b = malloc(cap ? cap : 1);
	struct sp_evs_msg m;
	struct sp_evs_hdr h;
	uint32_t pos = 0, pl = 0;
	ssize_t n, nfull;

	SP_VERIFY(full != NULL && b != NULL);
	while (in.n > 0 && nops < FUZZ_EVS_OPS_MAX) {
		fuzz_read_op(&in, &ops[nops], names, nops);
		if (ops[nops].h.name_len != 0) {
			late_hdr |= in_payload;
			nh++;
		} else {
			in_payload = true;
			pl += (uint32_t)ops[nops].piece_len;
		}
		nops++;
	}
	/* with room to spare: succeeds unless a header came after the payload */
	nfull = fuzz_encode_ops(ops, nops, full, full_cap);
	if (late_hdr) {
		SP_VERIFY(nfull == -EINVAL);
		goto out;
	}
	SP_VERIFY(nfull > 0);
	SP_VERIFY(sp_evs_decode(full, (size_t)nfull, 0, &m, NULL) == nfull);
	SP_VERIFY(m.nheaders == nh && m.payload_len == pl);
	for (unsigned i = 0, at = 0; i < nops; i++) {
		if (ops[i].h.name_len == 0) {
			SP_VERIFY(memcmp(m.payload + at, ops[i].piece, ops[i].piece_len) == 0);
			at += (unsigned)ops[i].piece_len;
			continue;
		}
		SP_VERIFY(sp_evs_hdr_next(&m, &pos, &h) == 1);
		SP_VERIFY(h.type == ops[i].h.type && h.name_len == ops[i].h.name_len);
		SP_VERIFY(memcmp(h.name, ops[i].h.name, h.name_len) == 0);
		if (h.type == SP_EVS_BYTES || h.type == SP_EVS_STRING) {
			SP_VERIFY(h.v.s.len == ops[i].h.v.s.len);
			SP_VERIFY(memcmp(h.v.s.p, ops[i].h.v.s.p, h.v.s.len) == 0);
		} else if (h.type == SP_EVS_UUID) {
			SP_VERIFY(memcmp(h.v.uuid, ops[i].h.v.uuid, 16) == 0);
		} else if (h.type > SP_EVS_FALSE) {
			SP_VERIFY(h.v.i == ops[i].h.v.i);
		}
	}
	fuzz_reencode(full, &m);
	/* into cap bytes: the same message if it fits, -ENOSPC exactly when it does not */
	n = fuzz_encode_ops(ops, nops, cap ? b : NULL, cap);
	if ((size_t)nfull <= cap) {
		SP_VERIFY(n == nfull && memcmp(b, full, (size_t)n) == 0);
	} else {
		SP_VERIFY(n == -ENOSPC);
	}
out:
	free(full);
	free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	if (size == 0) {
		return 0;
	}
	switch (data[0] % 3) {
	case 0:
		/* an exact-size copy of the rest, so one byte past it is caught */
		copy = malloc(size - 1 ? size - 1 : 1);
		SP_VERIFY(copy != NULL);
		memcpy(copy, data + 1, size - 1);
		fuzz_decode(copy, size - 1);
		free(copy);
		break;
	case 1:
		fuzz_repaired(data + 1, size - 1);
		break;
	default:
		fuzz_ops(data + 1, size - 1);
		break;
	}
	return 0;
}
