/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CBOR (RFC 8949) for the Kinesis API's application/x-amz-cbor-1.1 bodies (docs/internals/
 * cbor.md). Two halves, no allocation, no recursion, no DPDK:
 *
 *   reader  a pull reader over one buffer: every call returns the next data item's head (and a
 *           string's contents), and every byte it passes over is checked for well-formedness
 *           (RFC 8949 §3 and Appendix C: all eight major types, definite and indefinite
 *           lengths, reserved additional information 28-30, break only inside an indefinite
 *           item, two-byte simple values below 32, every length against the bytes left).
 *           Text strings are also checked for valid UTF-8 (§5.3.1). Definite strings are
 *           slices of the input; indefinite strings are joined into a scratch arena the caller
 *           gives once per buffer. Nesting past SP_CBOR_DEPTH_MAX is refused.
 *   writer  preferred serialization (§4.1: shortest heads, shortest exact float) into a
 *           caller buffer; a write that does not fit marks the writer, and sp_cbor_w_finish()
 *           then returns -ENOSPC.
 *
 * Everything here runs on worker lcores, per request, and keeps no state between calls.
 */
#ifndef SP_CBOR_H
#define SP_CBOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include <spate/compiler.h>

/*
 * Deepest nesting of arrays and maps the reader accepts: the outermost container is at depth
 * 1. The Kinesis requests use 3 (PutRecords: map, Records array, entry map); the bound only
 * limits what a skipped unknown member may hold. Tags do not nest (a chain of tags is read
 * one by one), so they need no bound but the input's length.
 */
#define SP_CBOR_DEPTH_MAX 128u

/* Major types (RFC 8949 §3.1). */
enum sp_cbor_major {
	SP_CBOR_MAJOR_UINT = 0,
	SP_CBOR_MAJOR_NINT = 1,
	SP_CBOR_MAJOR_BYTES = 2,
	SP_CBOR_MAJOR_TEXT = 3,
	SP_CBOR_MAJOR_ARRAY = 4,
	SP_CBOR_MAJOR_MAP = 5,
	SP_CBOR_MAJOR_TAG = 6,
	SP_CBOR_MAJOR_SIMPLE = 7,
};

/* What a data item is, as sp_cbor_next() reports it. */
enum sp_cbor_type {
	SP_CBOR_UINT = 0, /* u */
	SP_CBOR_NINT,     /* the value -1 - u */
	SP_CBOR_BYTES,    /* ptr, u bytes */
	SP_CBOR_TEXT,     /* ptr, u bytes of valid UTF-8 */
	SP_CBOR_ARRAY,    /* u items follow (indef: until the break) */
	SP_CBOR_MAP,      /* u pairs follow (indef: until the break) */
	SP_CBOR_TAG,      /* tag number u; the tagged item comes next */
	SP_CBOR_SIMPLE,   /* an unassigned simple value u (0-19, 32-255) */
	SP_CBOR_FALSE,
	SP_CBOR_TRUE,
	SP_CBOR_NULL,
	SP_CBOR_UNDEFINED,
	SP_CBOR_FLOAT, /* f; width fbits (16, 32, 64) and the encoded bits in u */
	SP_CBOR_TYPE_COUNT,
};

struct sp_cbor_item {
	const uint8_t *ptr; /* BYTES, TEXT: contents, in the input or the scratch arena */
	uint64_t u;
	double f;      /* FLOAT only (unset for the other types) */
	uint8_t type;  /* enum sp_cbor_type */
	uint8_t indef; /* ARRAY, MAP: indefinite length; BYTES, TEXT: joined from chunks */
	uint8_t fbits; /* FLOAT: 16, 32 or 64 */
};

/* One open array or map. */
struct sp_cbor_level {
	uint64_t left; /* items still to come (a map counts keys and values); indefinite: 0 */
	uint8_t map;
	uint8_t indef;
	uint8_t odd; /* indefinite map: a key was read, its value is still to come */
};

/* Reader state: one per buffer, on the caller's stack. Fields are private to the reader. */
struct sp_cbor_rd {
	const uint8_t *p;   /* next byte */
	const uint8_t *end; /* one past the last byte */
	uint8_t *out;       /* next free byte of the scratch arena */
	uint8_t *out_end;
	uint32_t depth; /* containers open */
	bool tagged;    /* a tag was read: its item is next (it counts once in its container) */
	bool top_done;  /* the top-level item has been read completely */
	struct sp_cbor_level lv[SP_CBOR_DEPTH_MAX];
};

/*
 * Start reading buf[0..len), which must hold exactly one data item (sp_cbor_finish checks no
 * byte follows it). scratch receives indefinite strings joined; scratch_cap >= len always
 * suffices (joined contents are shorter than their chunks), and 0 is fine for input without
 * indefinite strings. Returns 0, or -EFBIG when len does not fit 32 bits.
 */
SP_MUST_CHECK int sp_cbor_rd_init(struct sp_cbor_rd *rd, const uint8_t *buf, size_t len,
				  uint8_t *scratch, size_t scratch_cap);

/*
 * The reads below return a negative errno when the input is not well-formed there:
 *   -EINVAL  ill-formed (reserved additional information, a break where none may be, a
 *            misplaced chunk, a two-byte simple value below 32, invalid UTF-8 in a text
 *            string, an odd indefinite map), or an item after the top-level one;
 *   -EMSGSIZE a length or count longer than the bytes left (truncated input included);
 *   -E2BIG   nesting deeper than SP_CBOR_DEPTH_MAX;
 *   -ENOSPC  an indefinite string that does not fit the scratch arena left.
 * After an error the reader must not be used again.
 */

/*
 * The next data item of the container open last (or the top-level item): 1 with *it filled
 * (an ARRAY or MAP opens a level: its items come next), 0 when that container ended (its
 * break, if any, consumed; the level closed) or, at the top level, when the item is complete.
 */
SP_MUST_CHECK int sp_cbor_next(struct sp_cbor_rd *rd, struct sp_cbor_item *it);

/*
 * Skip the item whose head sp_cbor_next() just gave in *it: a container's whole contents, a
 * tag's item; nothing for the other types. Every skipped byte is checked. 0 or an error.
 */
SP_MUST_CHECK int sp_cbor_skip(struct sp_cbor_rd *rd, const struct sp_cbor_item *it);

/* Read and skip the next item whole. 1, 0 (container ended, as sp_cbor_next), or an error. */
SP_MUST_CHECK int sp_cbor_skip_next(struct sp_cbor_rd *rd);

/* After the top-level item: no byte may remain. 0, or -EINVAL. */
SP_MUST_CHECK int sp_cbor_finish(const struct sp_cbor_rd *rd);

/* Check a whole buffer: exactly one well-formed item. 0 or the reader's error. */
SP_MUST_CHECK int sp_cbor_check(const uint8_t *buf, size_t len, uint8_t *scratch,
				size_t scratch_cap);

/* IEEE 754 half-precision bits to a double (exact, NaN payloads kept). */
double sp_cbor_half_to_double(uint16_t h);

/*
 * Length of the leading valid UTF-8 of s[0..len) (RFC 3629: no overlong forms, no surrogates,
 * nothing past U+10FFFF): len when it is all valid.
 */
size_t sp_cbor_utf8_valid_prefix(const uint8_t *s, size_t len);

/* s[0..len) is valid UTF-8; ASCII (keys, names, base64, ids) is checked a word at a time. */
static inline bool
sp_cbor_utf8_ok(const uint8_t *s, size_t len)
{
	uint64_t acc = 0, w;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, s + i, 8);
		acc |= w;
	}
	for (; i < len; i++) {
		acc |= s[i];
	}
	if (SP_LIKELY((acc & 0x8080808080808080ull) == 0)) {
		return true;
	}
	return sp_cbor_utf8_valid_prefix(s, len) == len;
}

/* ---- Writer ---- */

/*
 * Indefinite items the writer keeps open at once: the reader's depth bound, so that whatever
 * the reader accepts can be written back.
 */
#define SP_CBOR_W_INDEF_MAX SP_CBOR_DEPTH_MAX

struct sp_cbor_w {
	uint8_t *buf;
	size_t cap;
	size_t len;
	uint32_t open; /* indefinite containers and strings not yet closed by a break */
	bool overflow; /* a write did not fit: sp_cbor_w_finish() fails */
};

/* Bytes of a head with argument arg in its shortest form (§4.2.1). */
static inline size_t
sp_cbor_head_len(uint64_t arg)
{
	return arg < 24 ? 1 : arg <= 0xff ? 2 : arg <= 0xffff ? 3 : arg <= 0xffffffffu ? 5 : 9;
}

/* Write that head at p (sp_cbor_head_len(arg) bytes there); returns the byte after it. */
static inline uint8_t *
sp_cbor_head_put(uint8_t *p, enum sp_cbor_major major, uint64_t arg)
{
	size_t n = sp_cbor_head_len(arg);
	unsigned m = (unsigned)major << 5;

	if (n == 1) {
		p[0] = (uint8_t)(m | arg);
		return p + 1;
	}
	/* 2, 3, 5, 9 bytes: additional information 24, 25, 26, 27 */
	p[0] = (uint8_t)(m | (n == 2 ? 24u : n == 3 ? 25u : n == 5 ? 26u : 27u));
	for (size_t i = 1; i < n; i++) {
		p[i] = (uint8_t)(arg >> (8 * (n - 1 - i)));
	}
	return p + n;
}

/*
 * Reserve n bytes: where to write them, or NULL when they do not fit (the writer is then
 * marked, as by any write that does not fit).
 */
static inline uint8_t *
sp_cbor_w_room(struct sp_cbor_w *w, size_t n)
{
	uint8_t *p;

	if (w->overflow || w->cap - w->len < n) {
		w->overflow = true;
		return NULL;
	}
	p = w->buf + w->len;
	w->len += n;
	return p;
}

void sp_cbor_w_init(struct sp_cbor_w *w, uint8_t *buf, size_t cap);
/* A head: major type and argument in its shortest form (§4.2.1). */
void sp_cbor_w_head(struct sp_cbor_w *w, enum sp_cbor_major major, uint64_t arg);
void sp_cbor_w_uint(struct sp_cbor_w *w, uint64_t v);
void sp_cbor_w_int(struct sp_cbor_w *w, int64_t v);
void sp_cbor_w_bytes(struct sp_cbor_w *w, const void *p, size_t n);
/* Bytes already encoded (a head and text prepared once), appended as they are. */
void sp_cbor_w_raw(struct sp_cbor_w *w, const void *p, size_t n);
/* A text string: s[0..n) must be valid UTF-8 (the caller's duty; asserted in debug builds). */
void sp_cbor_w_text(struct sp_cbor_w *w, const char *s, size_t n);
void sp_cbor_w_array(struct sp_cbor_w *w, uint64_t n);
void sp_cbor_w_map(struct sp_cbor_w *w, uint64_t npairs);
/* Open an indefinite item of major type BYTES, TEXT, ARRAY or MAP; sp_cbor_w_break closes. */
void sp_cbor_w_indef(struct sp_cbor_w *w, enum sp_cbor_major major);
void sp_cbor_w_break(struct sp_cbor_w *w);
void sp_cbor_w_tag(struct sp_cbor_w *w, uint64_t tag);
/* A simple value 0-19 or 32-255 (20-23 are false, true, null, undefined). */
void sp_cbor_w_simple(struct sp_cbor_w *w, uint8_t v);
void sp_cbor_w_bool(struct sp_cbor_w *w, bool v);
void sp_cbor_w_null(struct sp_cbor_w *w);
void sp_cbor_w_undefined(struct sp_cbor_w *w);
/* The shortest of half, single, double that holds v exactly (NaN as the half 0x7e00). */
void sp_cbor_w_float(struct sp_cbor_w *w, double v);
/* A float of the given width (16, 32, 64) from its encoded bits, as read (bit-exact). */
void sp_cbor_w_float_bits(struct sp_cbor_w *w, unsigned fbits, uint64_t bits);
/* Bytes written so far, or -ENOSPC when something did not fit; -EINVAL if a break is missing. */
SP_MUST_CHECK ssize_t sp_cbor_w_finish(const struct sp_cbor_w *w);

#endif /* SP_CBOR_H */
