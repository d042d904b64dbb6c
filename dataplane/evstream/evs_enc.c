/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The event-stream encoder (evstream.h). One message is built front to back in the caller's
 * buffer: the prelude's 12 bytes are skipped at begin, headers and payload are appended
 * behind them, and finish writes the prelude and both CRCs. The CRCs are one running CRC-32
 * over the finished bytes: its state after the first 8 bytes gives prelude_crc, and the same
 * state continued over prelude_crc, headers and payload gives message_crc, so each byte is
 * read once (while still in cache from being written).
 *
 * Every append checks its bounds against the capacity minus the 4-byte trailer, so finish
 * always has room for it. The first error sticks (later calls do nothing) and finish returns
 * it. Sizes the specification puts on services (headers <= 128 KiB, payload <= 24 MiB) are
 * checked at finish. Runs on any lcore, per message; no allocation.
 */
#include <errno.h>
#include <string.h>

#include <spate/assert.h>

#include "crc32.h"
#include "evstream.h"

static inline void
evs_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
evs_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void
evs_be64(uint8_t *p, uint64_t v)
{
	evs_be32(p, (uint32_t)(v >> 32));
	evs_be32(p + 4, (uint32_t)v);
}

/* Bytes still free for headers or payload (the trailer's 4 kept back). */
static inline size_t
evs_free(const struct sp_evs_enc *e)
{
	return e->cap - SP_EVS_TRAILER_BYTES - e->len;
}

static inline void
evs_fail(struct sp_evs_enc *e, int err)
{
	SP_VERIFY(err < 0);
	if (e->err == 0) {
		e->err = err;
	}
}

void
sp_evs_enc_begin(struct sp_evs_enc *e, void *buf, size_t cap)
{
	SP_VERIFY(buf != NULL || cap == 0);
	e->buf = buf;
	e->cap = cap;
	e->len = SP_EVS_PRELUDE_BYTES;
	e->headers_end = SP_EVS_PRELUDE_BYTES;
	e->in_payload = false;
	e->err = 0;
	if (cap < SP_EVS_MIN_BYTES) {
		e->cap = 0;
		e->len = 0;
		e->err = -ENOSPC;
	}
}

void
sp_evs_enc_fail(struct sp_evs_enc *e, int err)
{
	evs_fail(e, err);
}

/* Whether the headers written so far already hold name (the specification forbids twice). */
static bool
evs_has_name(const struct sp_evs_enc *e, const char *name, size_t name_len)
{
	struct sp_evs_msg m = {
	    .headers_len = (uint32_t)(e->len - SP_EVS_PRELUDE_BYTES),
	    .headers = e->buf + SP_EVS_PRELUDE_BYTES,
	};
	struct sp_evs_hdr h;

	return sp_evs_hdr_find(&m, name, name_len, &h);
}

/*
 * Append a header's name and type and reserve its value of v_len bytes: returns where the
 * value goes, or NULL after recording the error.
 */
static uint8_t *
evs_hdr(struct sp_evs_enc *e, const char *name, size_t name_len, enum sp_evs_type type,
	size_t v_len)
{
	uint8_t *p;

	if (e->err != 0) {
		return NULL;
	}
	if (e->in_payload || name_len == 0 || name_len > SP_EVS_NAME_MAX) {
		evs_fail(e, -EINVAL);
		return NULL;
	}
	SP_VERIFY(name != NULL);
	if (2 + name_len + v_len > evs_free(e)) {
		evs_fail(e, -ENOSPC);
		return NULL;
	}
	if (evs_has_name(e, name, name_len)) {
		evs_fail(e, -EEXIST);
		return NULL;
	}
	p = e->buf + e->len;
	p[0] = (uint8_t)name_len;
	memcpy(p + 1, name, name_len);
	p[1 + name_len] = (uint8_t)type;
	e->len += 2 + name_len + v_len;
	return p + 2 + name_len;
}

void
sp_evs_hdr_bool(struct sp_evs_enc *e, const char *name, size_t name_len, bool v)
{
	(void)evs_hdr(e, name, name_len, v ? SP_EVS_TRUE : SP_EVS_FALSE, 0);
}

void
sp_evs_hdr_byte(struct sp_evs_enc *e, const char *name, size_t name_len, int8_t v)
{
	uint8_t *p = evs_hdr(e, name, name_len, SP_EVS_BYTE, 1);

	if (p != NULL) {
		p[0] = (uint8_t)v;
	}
}

void
sp_evs_hdr_i16(struct sp_evs_enc *e, const char *name, size_t name_len, int16_t v)
{
	uint8_t *p = evs_hdr(e, name, name_len, SP_EVS_INT16, 2);

	if (p != NULL) {
		evs_be16(p, (uint16_t)v);
	}
}

void
sp_evs_hdr_i32(struct sp_evs_enc *e, const char *name, size_t name_len, int32_t v)
{
	uint8_t *p = evs_hdr(e, name, name_len, SP_EVS_INT32, 4);

	if (p != NULL) {
		evs_be32(p, (uint32_t)v);
	}
}

void
sp_evs_hdr_i64(struct sp_evs_enc *e, const char *name, size_t name_len, int64_t v)
{
	uint8_t *p = evs_hdr(e, name, name_len, SP_EVS_INT64, 8);

	if (p != NULL) {
		evs_be64(p, (uint64_t)v);
	}
}

void
sp_evs_hdr_timestamp(struct sp_evs_enc *e, const char *name, size_t name_len, int64_t epoch_ms)
{
	uint8_t *p = evs_hdr(e, name, name_len, SP_EVS_TIMESTAMP, 8);

	if (p != NULL) {
		evs_be64(p, (uint64_t)epoch_ms);
	}
}

void
sp_evs_hdr_uuid(struct sp_evs_enc *e, const char *name, size_t name_len,
		const uint8_t uuid[SP_EVS_UUID_BYTES])
{
	uint8_t *p = evs_hdr(e, name, name_len, SP_EVS_UUID, SP_EVS_UUID_BYTES);

	if (p != NULL) {
		memcpy(p, uuid, SP_EVS_UUID_BYTES);
	}
}

/* Bytes and string: a u16 length, then the value. */
static void
evs_hdr_var(struct sp_evs_enc *e, const char *name, size_t name_len, enum sp_evs_type type,
	    const void *v, size_t v_len)
{
	uint8_t *p;

	if (v_len > SP_EVS_VALUE_MAX) {
		evs_fail(e, -EINVAL);
		return;
	}
	SP_VERIFY(v != NULL || v_len == 0);
	p = evs_hdr(e, name, name_len, type, 2 + v_len);
	if (p != NULL) {
		evs_be16(p, (uint16_t)v_len);
		if (v_len != 0) {
			memcpy(p + 2, v, v_len);
		}
	}
}

void
sp_evs_hdr_bytes(struct sp_evs_enc *e, const char *name, size_t name_len, const void *v,
		 size_t v_len)
{
	evs_hdr_var(e, name, name_len, SP_EVS_BYTES, v, v_len);
}

void
sp_evs_hdr_str(struct sp_evs_enc *e, const char *name, size_t name_len, const char *v, size_t v_len)
{
	evs_hdr_var(e, name, name_len, SP_EVS_STRING, v, v_len);
}

void
sp_evs_hdr_cstr(struct sp_evs_enc *e, const char *name, const char *v)
{
	evs_hdr_var(e, name, strlen(name), SP_EVS_STRING, v, strlen(v));
}

/* Enter the payload: the headers end here. */
static inline void
evs_payload_start(struct sp_evs_enc *e)
{
	if (!e->in_payload) {
		e->in_payload = true;
		e->headers_end = e->len;
	}
}

void
sp_evs_payload(struct sp_evs_enc *e, const void *p, size_t n)
{
	if (e->err != 0) {
		return;
	}
	evs_payload_start(e);
	if (n > evs_free(e)) {
		evs_fail(e, -ENOSPC);
		return;
	}
	SP_VERIFY(p != NULL || n == 0);
	if (n != 0) {
		memcpy(e->buf + e->len, p, n);
		e->len += n;
	}
}

void
sp_evs_payload_segs(struct sp_evs_enc *e, const struct sp_evs_seg *segs, unsigned n)
{
	SP_VERIFY(segs != NULL || n == 0);
	for (unsigned i = 0; i < n && e->err == 0; i++) {
		sp_evs_payload(e, segs[i].p, segs[i].n);
	}
	if (e->err == 0) {
		evs_payload_start(e);
	}
}

uint8_t *
sp_evs_payload_room(struct sp_evs_enc *e, size_t *room)
{
	if (e->err != 0) {
		*room = 0;
		return NULL;
	}
	evs_payload_start(e);
	*room = evs_free(e);
	return e->buf + e->len;
}

void
sp_evs_payload_commit(struct sp_evs_enc *e, size_t n)
{
	if (e->err != 0) {
		return;
	}
	SP_VERIFY(e->in_payload);
	if (n > evs_free(e)) {
		evs_fail(e, -ENOSPC);
		return;
	}
	e->len += n;
}

ssize_t
sp_evs_enc_finish(struct sp_evs_enc *e)
{
	size_t headers_len, payload_len, total;
	uint32_t s;
	uint8_t *p;

	if (e->err != 0) {
		return e->err;
	}
	evs_payload_start(e);
	SP_VERIFY(e->len >= e->headers_end && e->headers_end >= SP_EVS_PRELUDE_BYTES);
	SP_VERIFY(e->len + SP_EVS_TRAILER_BYTES <= e->cap);
	headers_len = e->headers_end - SP_EVS_PRELUDE_BYTES;
	payload_len = e->len - e->headers_end;
	if (headers_len > SP_EVS_HEADERS_MAX || payload_len > SP_EVS_PAYLOAD_MAX) {
		evs_fail(e, -EMSGSIZE);
		return e->err;
	}
	total = e->len + SP_EVS_TRAILER_BYTES;
	p = e->buf;
	evs_be32(p, (uint32_t)total);
	evs_be32(p + 4, (uint32_t)headers_len);
	s = sp_crc32_update(sp_crc32_init(), p, 8);
	evs_be32(p + 8, sp_crc32_final(s));
	s = sp_crc32_update(s, p + 8, e->len - 8);
	evs_be32(p + e->len, sp_crc32_final(s));
	return (ssize_t)total;
}
