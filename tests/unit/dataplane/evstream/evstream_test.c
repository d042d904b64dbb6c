/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/evstream (encoder, decoder, SubscribeToShard messages):
 *   - known answers: AWS's public event-stream test vectors (their lengths and CRCs, the
 *     messages rebuilt here from the specification), and a message with every header type
 *     written out byte by byte from the specification, its CRCs from an independent CRC
 *     (zlib's when built with it, a bit-at-a-time one otherwise);
 *   - round trips of random messages, payload by segments and in place;
 *   - every encoder error (and that nothing is written past the capacity), every decoder
 *     status with its offset and values, every prefix (SP_AGAIN), every single-bit flip;
 *   - the Kinesis messages: headers, exact JSON, parsed back with jansson, filling an event
 *     until a record does not fit and still closing it with the largest closing part.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#if SP_TEST_ZLIB
#include <zlib.h>
#endif

#include "../../sp_test.h"

#include <spate/err.h>
#include <spate/kinesis.h>

#include "b64.h"
#include "evstream.h"

#define BUF_CAP    8192u
#define RT_ROUNDS  3000u
#define GUARD_BYTE 0xa5u

static uint64_t g_rng = 0x1234567887654321ull;
static uint8_t g_buf[BUF_CAP];

static uint64_t
rng_next(void)
{
	g_rng ^= g_rng << 13;
	g_rng ^= g_rng >> 7;
	g_rng ^= g_rng << 17;
	return g_rng;
}

/* An independent CRC-32 for expected bytes: zlib's, or the bit-at-a-time definition. */
static uint32_t
ref_crc(const uint8_t *p, size_t n)
{
#if SP_TEST_ZLIB
	return (uint32_t)crc32(0, p, (uInt)n);
#else
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++) {
			c = (c >> 1) ^ ((c & 1u) ? 0xedb88320u : 0u);
		}
	}
	return ~c;
#endif
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Rewrite both CRCs of the message in m[0..n) (n = its total_len) from ref_crc. */
static void
fix_crcs(uint8_t *m, size_t n)
{
	wr32(m + 8, ref_crc(m, 8));
	wr32(m + n - 4, ref_crc(m, n - 4));
}

/* A byte-built expected message: append helpers. */
struct exp {
	uint8_t b[1024];
	size_t n;
};

static void
exp_put(struct exp *x, const void *p, size_t n)
{
	memcpy(x->b + x->n, p, n);
	x->n += n;
}

static void
exp_u8(struct exp *x, uint8_t v)
{
	x->b[x->n++] = v;
}

static void
exp_hdr(struct exp *x, const char *name, uint8_t type)
{
	exp_u8(x, (uint8_t)strlen(name));
	exp_put(x, name, strlen(name));
	exp_u8(x, type);
}

/* Finish an expected message whose headers are x->b[12..hend), payload after it. */
static void
exp_finish(struct exp *x, size_t hend)
{
	wr32(x->b, (uint32_t)(x->n + 4));
	wr32(x->b + 4, (uint32_t)(hend - 12));
	wr32(x->b + 8, ref_crc(x->b, 8));
	wr32(x->b + x->n, ref_crc(x->b, x->n));
	x->n += 4;
}

/* ---- known answers ---- */

static const char k_foo[] = "{'foo':'bar'}";

static void
test_aws_vectors(void **state)
{
	struct sp_evs_enc e;
	ssize_t n;

	(void)state;
	/* empty_message: 00000010 00000000 05c248eb 7d98c8ff */
	{
		static const uint8_t want[] = {0,    0,    0,    16,   0,    0,    0,    0,
					       0x05, 0xc2, 0x48, 0xeb, 0x7d, 0x98, 0xc8, 0xff};

		sp_evs_enc_begin(&e, g_buf, sizeof(g_buf));
		n = sp_evs_enc_finish(&e);
		assert_int_equal(n, sizeof(want));
		assert_memory_equal(g_buf, want, sizeof(want));
	}
	/* payload_no_headers: total 29, prelude CRC 0xfd528c5a, message CRC 0xc3653936 */
	sp_evs_enc_begin(&e, g_buf, sizeof(g_buf));
	sp_evs_payload(&e, k_foo, 13);
	assert_int_equal(sp_evs_enc_finish(&e), 29);
	assert_int_equal(rd32(g_buf + 4), 0);
	assert_int_equal(rd32(g_buf + 8), 0xfd528c5au);
	assert_int_equal(rd32(g_buf + 25), 0xc3653936u);
	/* int32_header: event-type = 40972; total 45, headers 16, 0x41c424b8, 0x36f480a0 */
	sp_evs_enc_begin(&e, g_buf, sizeof(g_buf));
	sp_evs_hdr_i32(&e, "event-type", 10, 40972);
	sp_evs_payload(&e, k_foo, 13);
	assert_int_equal(sp_evs_enc_finish(&e), 45);
	assert_int_equal(rd32(g_buf + 4), 16);
	assert_int_equal(rd32(g_buf + 8), 0x41c424b8u);
	assert_int_equal(rd32(g_buf + 41), 0x36f480a0u);
	/* payload_one_str_header: content-type = application/json; 61, 32, 0x07fd8396, 0x8d9c08b1
	 */
	sp_evs_enc_begin(&e, g_buf, sizeof(g_buf));
	sp_evs_hdr_cstr(&e, "content-type", "application/json");
	sp_evs_payload(&e, k_foo, 13);
	assert_int_equal(sp_evs_enc_finish(&e), 61);
	assert_int_equal(rd32(g_buf + 4), 32);
	assert_int_equal(rd32(g_buf + 8), 0x07fd8396u);
	assert_int_equal(rd32(g_buf + 57), 0x8d9c08b1u);
	/*
	 * all_headers (aws-sdk-go): total 204, headers 175, prelude CRC 263087306. Its message
	 * CRC (3758045736) is not checked: the vector's binary file is not at hand, and the
	 * decoded description does not pin every value byte (docs/internals/evstream.md).
	 */
	{
		static const uint8_t uuid[16] = {0, 1, 2,  3,  4,  5,  6,  7,
						 8, 9, 10, 11, 12, 13, 14, 15};

		sp_evs_enc_begin(&e, g_buf, sizeof(g_buf));
		sp_evs_hdr_i32(&e, "event-type", 10, 40972);
		sp_evs_hdr_cstr(&e, "content-type", "application/json");
		sp_evs_hdr_bool(&e, "bool false", 10, false);
		sp_evs_hdr_bool(&e, "bool true", 9, true);
		sp_evs_hdr_byte(&e, "byte", 4, (int8_t)-49);
		sp_evs_hdr_bytes(&e, "byte buf", 8, "I'm a little teapot!", 20);
		sp_evs_hdr_timestamp(&e, "timestamp", 9, 8675309);
		sp_evs_hdr_i16(&e, "int16", 5, 42);
		sp_evs_hdr_i64(&e, "int64", 5, 42424242);
		sp_evs_hdr_uuid(&e, "uuid", 4, uuid);
		sp_evs_payload(&e, k_foo, 13);
		assert_int_equal(sp_evs_enc_finish(&e), 204);
		assert_int_equal(rd32(g_buf + 4), 175);
		assert_int_equal(rd32(g_buf + 8), 263087306u);
	}
}

/* Every header type, expected bytes written out from the specification. */
static void
test_every_type_by_hand(void **state)
{
	static const uint8_t uuid[16] = {0xde, 0xad, 0xbe, 0xef, 1, 2,  3,  4,
					 5,    6,    7,    8,    9, 10, 11, 12};
	struct exp x = {.n = 12};
	struct sp_evs_enc e;
	size_t hend;
	ssize_t n;

	(void)state;
	exp_hdr(&x, "t", 0);
	exp_hdr(&x, "f", 1);
	exp_hdr(&x, "b", 2);
	exp_u8(&x, 0x80); /* -128 */
	exp_hdr(&x, "s", 3);
	exp_put(&x, "\xff\xfe", 2); /* -2 */
	exp_hdr(&x, "i", 4);
	exp_put(&x, "\x7f\xff\xff\xff", 4);
	exp_hdr(&x, "l", 5);
	exp_put(&x, "\x80\x00\x00\x00\x00\x00\x00\x01", 8); /* INT64_MIN + 1 */
	exp_hdr(&x, "bytes", 6);
	exp_put(&x, "\x00\x03\x00\x01\xff", 5);
	exp_hdr(&x, ":content-type", 7);
	exp_put(&x,
		"\x00\x10"
		"application/json",
		18);
	exp_hdr(&x, "ts", 8);
	exp_put(&x, "\x00\x00\x01\x8c\x38\xcf\x37\x51", 8); /* 1701760153425 ms */
	exp_hdr(&x, "id", 9);
	exp_put(&x, uuid, 16);
	exp_hdr(&x, "empty", 7);
	exp_put(&x, "\x00\x00", 2);
	hend = x.n;
	exp_put(&x, "payload\0bytes", 13);
	exp_finish(&x, hend);

	sp_evs_enc_begin(&e, g_buf, sizeof(g_buf));
	sp_evs_hdr_bool(&e, "t", 1, true);
	sp_evs_hdr_bool(&e, "f", 1, false);
	sp_evs_hdr_byte(&e, "b", 1, INT8_MIN);
	sp_evs_hdr_i16(&e, "s", 1, -2);
	sp_evs_hdr_i32(&e, "i", 1, INT32_MAX);
	sp_evs_hdr_i64(&e, "l", 1, INT64_MIN + 1);
	sp_evs_hdr_bytes(&e, "bytes", 5, "\x00\x01\xff", 3);
	sp_evs_hdr_cstr(&e, ":content-type", "application/json");
	sp_evs_hdr_timestamp(&e, "ts", 2, 1701760153425);
	sp_evs_hdr_uuid(&e, "id", 2, uuid);
	sp_evs_hdr_str(&e, "empty", 5, NULL, 0);
	sp_evs_payload(&e, "payload", 7);
	sp_evs_payload(&e, "\0bytes", 6);
	n = sp_evs_enc_finish(&e);
	assert_int_equal(n, x.n);
	assert_memory_equal(g_buf, x.b, x.n);
}

/* ---- round trips ---- */

struct rt_hdr {
	char name[16];
	uint8_t name_len;
	enum sp_evs_type type;
	int64_t i;
	uint8_t val[64];
	uint16_t len;
};

static void
rt_encode_hdr(struct sp_evs_enc *e, const struct rt_hdr *h)
{
	switch (h->type) {
	case SP_EVS_TRUE:
	case SP_EVS_FALSE:
		sp_evs_hdr_bool(e, h->name, h->name_len, h->type == SP_EVS_TRUE);
		break;
	case SP_EVS_BYTE:
		sp_evs_hdr_byte(e, h->name, h->name_len, (int8_t)h->i);
		break;
	case SP_EVS_INT16:
		sp_evs_hdr_i16(e, h->name, h->name_len, (int16_t)h->i);
		break;
	case SP_EVS_INT32:
		sp_evs_hdr_i32(e, h->name, h->name_len, (int32_t)h->i);
		break;
	case SP_EVS_INT64:
		sp_evs_hdr_i64(e, h->name, h->name_len, h->i);
		break;
	case SP_EVS_TIMESTAMP:
		sp_evs_hdr_timestamp(e, h->name, h->name_len, h->i);
		break;
	case SP_EVS_BYTES:
		sp_evs_hdr_bytes(e, h->name, h->name_len, h->val, h->len);
		break;
	case SP_EVS_STRING:
		sp_evs_hdr_str(e, h->name, h->name_len, (const char *)h->val, h->len);
		break;
	case SP_EVS_UUID:
		sp_evs_hdr_uuid(e, h->name, h->name_len, h->val);
		break;
	default:
		fail();
	}
}

static void
rt_check_hdr(const struct rt_hdr *want, const struct sp_evs_hdr *got)
{
	assert_int_equal(got->name_len, want->name_len);
	assert_memory_equal(got->name, want->name, want->name_len);
	assert_int_equal(got->type, want->type);
	switch (want->type) {
	case SP_EVS_TRUE:
	case SP_EVS_FALSE:
		assert_int_equal(got->v.b, want->type == SP_EVS_TRUE);
		break;
	case SP_EVS_BYTE:
		assert_int_equal(got->v.i, (int8_t)want->i);
		break;
	case SP_EVS_INT16:
		assert_int_equal(got->v.i, (int16_t)want->i);
		break;
	case SP_EVS_INT32:
		assert_int_equal(got->v.i, (int32_t)want->i);
		break;
	case SP_EVS_INT64:
	case SP_EVS_TIMESTAMP:
		assert_true(got->v.i == want->i);
		break;
	case SP_EVS_BYTES:
	case SP_EVS_STRING:
		assert_int_equal(got->v.s.len, want->len);
		if (want->len != 0) {
			assert_memory_equal(got->v.s.p, want->val, want->len);
		}
		break;
	case SP_EVS_UUID:
		assert_memory_equal(got->v.uuid, want->val, 16);
		break;
	default:
		fail();
	}
}

/* A random header of any type; the name starts with a letter of its own (distinct names). */
static void
rt_random_hdr(struct rt_hdr *x, unsigned i)
{
	x->name_len = (uint8_t)(1 + rng_next() % 15);
	for (unsigned k = 0; k < x->name_len; k++) {
		x->name[k] = (char)('a' + rng_next() % 26);
	}
	x->name[0] = (char)('A' + i);
	x->type = (enum sp_evs_type)(rng_next() % SP_EVS_TYPE_COUNT);
	x->i = (int64_t)rng_next();
	x->len = (uint16_t)(x->type == SP_EVS_UUID ? 16 : rng_next() % 65);
	for (unsigned k = 0; k < sizeof(x->val); k++) {
		x->val[k] = (uint8_t)rng_next();
	}
}

static void
test_round_trip_random(void **state)
{
	static struct rt_hdr hs[12];
	static uint8_t payload[3000];

	(void)state;
	for (unsigned r = 0; r < RT_ROUNDS; r++) {
		unsigned nh = (unsigned)(rng_next() % 13), nseg = (unsigned)(rng_next() % 5);
		size_t plen = (size_t)(rng_next() % (r % 4 == 0 ? sizeof(payload) : 40));
		struct sp_evs_seg segs[4];
		struct sp_evs_enc e;
		struct sp_evs_msg m;
		struct sp_evs_err err;
		struct sp_evs_hdr h;
		uint32_t pos = 0;
		ssize_t n;
		size_t at = 0;

		for (unsigned i = 0; i < nh; i++) {
			rt_random_hdr(&hs[i], i);
		}
		for (size_t k = 0; k < plen; k++) {
			payload[k] = (uint8_t)rng_next();
		}
		sp_evs_enc_begin(&e, g_buf, sizeof(g_buf));
		for (unsigned i = 0; i < nh; i++) {
			rt_encode_hdr(&e, &hs[i]);
		}
		/* the payload as nseg segments (the last takes the rest), or in place */
		if (nseg == 0) {
			size_t room;
			uint8_t *p = sp_evs_payload_room(&e, &room);

			assert_true(room >= plen);
			memcpy(p, payload, plen);
			sp_evs_payload_commit(&e, plen);
		} else {
			for (unsigned s = 0; s < nseg; s++) {
				size_t k = s + 1 == nseg ? plen - at : rng_next() % (plen - at + 1);

				segs[s] = (struct sp_evs_seg){.p = payload + at, .n = k};
				at += k;
			}
			sp_evs_payload_segs(&e, segs, nseg);
		}
		n = sp_evs_enc_finish(&e);
		assert_true(n > 0);
		assert_int_equal(sp_evs_decode(g_buf, (size_t)n, 0, &m, &err), n);
		assert_int_equal(err.status, SP_EVS_OK);
		assert_int_equal(m.nheaders, nh);
		assert_int_equal(m.payload_len, plen);
		if (plen != 0) {
			assert_memory_equal(m.payload, payload, plen);
		}
		for (unsigned i = 0; i < nh; i++) {
			assert_int_equal(sp_evs_hdr_next(&m, &pos, &h), 1);
			rt_check_hdr(&hs[i], &h);
			assert_true(sp_evs_hdr_find(&m, hs[i].name, hs[i].name_len, &h));
			rt_check_hdr(&hs[i], &h);
		}
		assert_int_equal(sp_evs_hdr_next(&m, &pos, &h), 0);
		/* a message followed by more bytes decodes the same, and only its own length */
		assert_int_equal(sp_evs_decode(g_buf, sizeof(g_buf), (uint32_t)n, &m, NULL), n);
	}
}

/* ---- encoder errors ---- */

static ssize_t
build_sample(void *buf, size_t cap)
{
	struct sp_evs_enc e;

	sp_evs_enc_begin(&e, buf, cap);
	sp_evs_hdr_cstr(&e, ":message-type", "event");
	sp_evs_hdr_i64(&e, "n", 1, 7);
	sp_evs_payload(&e, "0123456789", 10);
	sp_evs_payload(&e, "abc", 3);
	return sp_evs_enc_finish(&e);
}

static void
test_enc_nospace(void **state)
{
	ssize_t full = build_sample(g_buf, sizeof(g_buf));

	(void)state;
	assert_true(full > 0);
	for (size_t cap = 0; cap < (size_t)full; cap++) {
		uint8_t *b = malloc(cap + 64);

		memset(b, GUARD_BYTE, cap + 64);
		assert_int_equal(build_sample(cap != 0 ? b : NULL, cap), -ENOSPC);
		for (size_t k = cap; k < cap + 64; k++) {
			assert_int_equal(b[k], GUARD_BYTE);
		}
		free(b);
	}
	assert_int_equal(build_sample(g_buf, (size_t)full), full);
}

static void
test_enc_invalid(void **state)
{
	char name[300];
	static char big[SP_EVS_VALUE_MAX + 1];
	struct sp_evs_enc e;
	size_t room;

	(void)state;
	memset(name, 'n', sizeof(name));
	/* empty name, name too long; 255 is fine */
	sp_evs_enc_begin(&e, g_buf, sizeof(g_buf));
	sp_evs_hdr_bool(&e, name, 0, true);
	assert_int_equal(sp_evs_enc_finish(&e), -EINVAL);
	sp_evs_enc_begin(&e, g_buf, sizeof(g_buf));
	sp_evs_hdr_bool(&e, name, SP_EVS_NAME_MAX + 1, true);
	assert_int_equal(sp_evs_enc_finish(&e), -EINVAL);
	sp_evs_enc_begin(&e, g_buf, sizeof(g_buf));
	sp_evs_hdr_bool(&e, name, SP_EVS_NAME_MAX, true);
	assert_int_equal(sp_evs_enc_finish(&e), SP_EVS_MIN_BYTES + 2 + SP_EVS_NAME_MAX);
	/* values: 32767 fine, 32768 not */
	{
		static uint8_t b[SP_EVS_VALUE_MAX + 64];

		sp_evs_enc_begin(&e, b, sizeof(b));
		sp_evs_hdr_str(&e, "v", 1, big, SP_EVS_VALUE_MAX);
		assert_int_equal(sp_evs_enc_finish(&e), SP_EVS_MIN_BYTES + 5 + SP_EVS_VALUE_MAX);
		sp_evs_enc_begin(&e, b, sizeof(b));
		sp_evs_hdr_bytes(&e, "v", 1, big, SP_EVS_VALUE_MAX + 1);
		assert_int_equal(sp_evs_enc_finish(&e), -EINVAL);
	}
	/* a header after the payload started; the error sticks over later good calls */
	sp_evs_enc_begin(&e, g_buf, sizeof(g_buf));
	sp_evs_payload(&e, "x", 1);
	sp_evs_hdr_i32(&e, "late", 4, 1);
	sp_evs_payload(&e, "y", 1);
	assert_int_equal(sp_evs_enc_finish(&e), -EINVAL);
	assert_null(sp_evs_payload_room(&e, &room));
	assert_int_equal(room, 0);
	sp_evs_enc_begin(&e, g_buf, sizeof(g_buf));
	(void)sp_evs_payload_room(&e, &room);
	sp_evs_hdr_i32(&e, "late", 4, 1);
	assert_int_equal(sp_evs_enc_finish(&e), -EINVAL);
	/* a duplicate name */
	sp_evs_enc_begin(&e, g_buf, sizeof(g_buf));
	sp_evs_hdr_i32(&e, "dup", 3, 1);
	sp_evs_hdr_i32(&e, "dupe", 4, 1);
	sp_evs_hdr_str(&e, "dup", 3, "x", 1);
	assert_int_equal(sp_evs_enc_finish(&e), -EEXIST);
	/* committing more than the room, and a caller-reported error */
	sp_evs_enc_begin(&e, g_buf, 100);
	(void)sp_evs_payload_room(&e, &room);
	assert_int_equal(room, 100 - SP_EVS_MIN_BYTES);
	sp_evs_payload_commit(&e, room + 1);
	assert_int_equal(sp_evs_enc_finish(&e), -ENOSPC);
	sp_evs_enc_begin(&e, g_buf, 100);
	sp_evs_enc_fail(&e, -E2BIG);
	sp_evs_enc_fail(&e, -EINVAL);
	assert_int_equal(sp_evs_enc_finish(&e), -E2BIG);
}

static void
test_enc_msgsize(void **state)
{
	size_t cap = SP_EVS_PAYLOAD_MAX + SP_EVS_HEADERS_MAX + 1024;
	uint8_t *b = calloc(1, cap);
	struct sp_evs_enc e;
	char name[8];
	unsigned i = 0;
	size_t room;

	(void)state;
	assert_non_null(b);
	/* payload: exactly the maximum is fine, one more byte is not */
	sp_evs_enc_begin(&e, b, cap);
	(void)sp_evs_payload_room(&e, &room);
	sp_evs_payload_commit(&e, SP_EVS_PAYLOAD_MAX);
	assert_int_equal(sp_evs_enc_finish(&e), SP_EVS_MIN_BYTES + SP_EVS_PAYLOAD_MAX);
	sp_evs_enc_begin(&e, b, cap);
	(void)sp_evs_payload_room(&e, &room);
	sp_evs_payload_commit(&e, SP_EVS_PAYLOAD_MAX + 1);
	assert_int_equal(sp_evs_enc_finish(&e), -EMSGSIZE);
	/* headers past 128 KiB: 8-byte names with 1000-byte values */
	sp_evs_enc_begin(&e, b, cap);
	while (e.len - SP_EVS_PRELUDE_BYTES <= SP_EVS_HEADERS_MAX) {
		snprintf(name, sizeof(name), "h%06u", i++);
		sp_evs_hdr_bytes(&e, name, 7, b + cap - 1000, 1000);
		assert_int_equal(e.err, 0);
	}
	assert_int_equal(sp_evs_enc_finish(&e), -EMSGSIZE);
	free(b);
}

/* ---- decoder ---- */

static void
expect_bad(const uint8_t *m, size_t n, uint32_t max_total, enum sp_evs_status st, uint32_t off,
	   uint32_t got, uint32_t want)
{
	struct sp_evs_msg msg;
	struct sp_evs_err err;

	assert_int_equal(sp_evs_decode(m, n, max_total, &msg, &err), -EBADMSG);
	if (err.status != st || err.offset != off || err.got != got || err.want != want) {
		fail_msg("want %s@%u (%u, %u), got %s@%u (%u, %u)", sp_evs_err_name(st), off, got,
			 want, sp_evs_err_name(err.status), err.offset, err.got, err.want);
	}
}

static void
test_dec_prelude_errors(void **state)
{
	uint8_t m[64];
	ssize_t n = build_sample(m, sizeof(m));
	uint32_t crc;

	(void)state;
	assert_true(n > 0);
	/* total_len below 16 */
	wr32(m, 15);
	expect_bad(m, (size_t)n, 0, SP_EVS_E_TOTAL_SHORT, 0, 15, 16);
	/* above the caller's bound (the real length is fine) */
	wr32(m, (uint32_t)n);
	expect_bad(m, (size_t)n, (uint32_t)n - 1, SP_EVS_E_TOTAL_BIG, 0, (uint32_t)n,
		   (uint32_t)n - 1);
	/* headers_len > total - 16 */
	wr32(m + 4, (uint32_t)n - 15);
	expect_bad(m, (size_t)n, 0, SP_EVS_E_HEADERS_LEN, 4, (uint32_t)n - 15, (uint32_t)n);
	/* prelude CRC */
	n = build_sample(m, sizeof(m));
	crc = rd32(m + 8);
	m[9] ^= 0x10;
	expect_bad(m, (size_t)n, 0, SP_EVS_E_PRELUDE_CRC, 8, crc ^ 0x100000u, crc);
	/* message CRC: a payload byte changed */
	n = build_sample(m, sizeof(m));
	crc = rd32(m + n - 4);
	m[n - 6] ^= 1;
	expect_bad(m, (size_t)n, 0, SP_EVS_E_MESSAGE_CRC, (uint32_t)n - 4, crc,
		   ref_crc(m, (size_t)n - 4));
}

/* A message whose headers are hb[0..hl) (CRCs made valid), then decoded for an error. */
static void
expect_hdr_bad(const void *hb, uint32_t hl, enum sp_evs_status st, uint32_t off, uint32_t got,
	       uint32_t want)
{
	uint8_t m[300];
	uint32_t n = 16 + hl + 2;

	wr32(m, n);
	wr32(m + 4, hl);
	memcpy(m + 12, hb, hl);
	memcpy(m + 12 + hl, "{}", 2);
	fix_crcs(m, n);
	expect_bad(m, n, 0, st, off, got, want);
}

static void
test_dec_header_errors(void **state)
{
	(void)state;
	/* name_len 0 */
	expect_hdr_bad("\x00", 1, SP_EVS_E_NAME_EMPTY, 12, 0, 1);
	/* second header's name runs out: "a" true, then name_len 5 with 3 bytes left */
	expect_hdr_bad("\x01"
		       "a\x00"
		       "\x05"
		       "bc",
		       6, SP_EVS_E_NAME_TRUNC, 15, 5, 3);
	/* name present but no type byte */
	expect_hdr_bad("\x02"
		       "ab",
		       3, SP_EVS_E_NAME_TRUNC, 12, 2, 3);
	/* type 10 */
	expect_hdr_bad("\x01"
		       "a\x0a",
		       3, SP_EVS_E_TYPE, 14, 10, 9);
	expect_hdr_bad("\x01"
		       "a\xff",
		       3, SP_EVS_E_TYPE, 14, 255, 9);
	/* fixed-size values cut short: int32 with 3 bytes, uuid with 15 */
	expect_hdr_bad("\x01"
		       "a\x04"
		       "\x00\x00\x00",
		       6, SP_EVS_E_VALUE_TRUNC, 15, 4, 3);
	expect_hdr_bad("\x01"
		       "a\x09"
		       "0123456789abcde",
		       18, SP_EVS_E_VALUE_TRUNC, 15, 16, 15);
	/* string: its u16 length cut, then a length past the end */
	expect_hdr_bad("\x01"
		       "a\x07"
		       "\x00",
		       4, SP_EVS_E_VALUE_TRUNC, 15, 2, 1);
	expect_hdr_bad("\x01"
		       "a\x06"
		       "\x00\x04"
		       "abc",
		       8, SP_EVS_E_VALUE_TRUNC, 15, 6, 5);
	expect_hdr_bad("\x01"
		       "a\x07"
		       "\xff\xff"
		       "abc",
		       8, SP_EVS_E_VALUE_TRUNC, 15, 65537, 5);
}

static void
test_dec_prefixes_and_flips(void **state)
{
	uint8_t m[64];
	ssize_t n = build_sample(m, sizeof(m));
	struct sp_evs_msg msg;

	(void)state;
	assert_true(n > 0);
	for (size_t k = 0; k < (size_t)n; k++) {
		assert_int_equal(sp_evs_decode(m, k, 0, &msg, NULL), SP_AGAIN);
	}
	assert_int_equal(sp_evs_decode(m, (size_t)n, 0, &msg, NULL), n);
	/* CRC-32 detects every single-bit error: no flip may decode */
	for (size_t bit = 0; bit < (size_t)n * 8; bit++) {
		int rc;

		m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		rc = sp_evs_decode(m, (size_t)n, 0, &msg, NULL);
		assert_true(rc == -EBADMSG || (rc == SP_AGAIN && bit < 32));
		m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_int_equal(sp_evs_decode(m, (size_t)n, 0, &msg, NULL), n);
}

static void
test_dec_err_text(void **state)
{
	struct sp_evs_err e = {SP_EVS_E_PRELUDE_CRC, 8, 0x12345678u, 0x9abcdef0u};
	char buf[160];
	size_t n;

	(void)state;
	n = sp_evs_err_format(&e, buf, sizeof(buf));
	assert_string_equal(buf, "prelude CRC mismatch at offset 8: message has 0x12345678, "
				 "computed 0x9abcdef0");
	assert_int_equal(n, strlen(buf));
	e = (struct sp_evs_err){SP_EVS_E_TYPE, 14, 10, 9};
	(void)sp_evs_err_format(&e, buf, sizeof(buf));
	assert_string_equal(buf, "unknown header value type at offset 14: 10 (highest is 9)");
	/* cut at the capacity, the full length still returned */
	assert_int_equal(sp_evs_err_format(&e, buf, 8),
			 strlen("unknown header value type at offset 14: 10 (highest is 9)"));
	assert_string_equal(buf, "unknown");
	for (int s = 0; s <= SP_EVS_STATUS_COUNT; s++) {
		e.status = (enum sp_evs_status)s;
		assert_true(sp_evs_err_format(&e, buf, sizeof(buf)) > 0);
		assert_non_null(sp_evs_err_name(e.status));
	}
	assert_string_equal(sp_evs_err_name(SP_EVS_E_VALUE_TRUNC), "VALUE_TRUNC");
	assert_string_equal(sp_evs_err_name(SP_EVS_STATUS_COUNT), "?");
}

/* ---- SubscribeToShard messages ---- */

/* Decode m and check its string header name == v. */
static void
expect_str_hdr(const struct sp_evs_msg *m, const char *name, const char *v)
{
	struct sp_evs_hdr h;

	if (!sp_evs_hdr_find(m, name, strlen(name), &h)) {
		fail_msg("no header %s", name);
	}
	assert_int_equal(h.type, SP_EVS_STRING);
	assert_int_equal(h.v.s.len, strlen(v));
	assert_memory_equal(h.v.s.p, v, strlen(v));
}

static void
decode_ok(const uint8_t *b, ssize_t n, struct sp_evs_msg *m)
{
	assert_true(n > 0);
	assert_int_equal(sp_evs_decode(b, (size_t)n, 0, m, NULL), n);
}

static void
test_initial_response(void **state)
{
	struct sp_evs_msg m;
	ssize_t n = sp_evs_write_initial_response(g_buf, sizeof(g_buf));

	(void)state;
	decode_ok(g_buf, n, &m);
	assert_int_equal(m.nheaders, 3);
	expect_str_hdr(&m, ":message-type", "event");
	expect_str_hdr(&m, ":event-type", "initial-response");
	expect_str_hdr(&m, ":content-type", "application/json");
	assert_int_equal(m.payload_len, 2);
	assert_memory_equal(m.payload, "{}", 2);
	for (size_t cap = 0; cap < (size_t)n; cap++) {
		assert_int_equal(sp_evs_write_initial_response(g_buf, cap), -ENOSPC);
	}
}

static void
test_sub_event_exact(void **state)
{
	static const char want[] =
	    "{\"Records\":[{\"SequenceNumber\":"
	    "\"49590338271490256608559692538361571095921575989136588898\","
	    "\"ApproximateArrivalTimestamp\":1701760153.593,\"Data\":\"aGVsbG8=\","
	    "\"PartitionKey\":\"pk-1\",\"EncryptionType\":\"NONE\"},"
	    "{\"SequenceNumber\":\"7\",\"ApproximateArrivalTimestamp\":0.001,\"Data\":\"\","
	    "\"PartitionKey\":\"a\\\"b\"}],"
	    "\"ContinuationSequenceNumber\":\"8\",\"MillisBehindLatest\":1234}";
	static const char want_end[] =
	    "{\"Records\":[],\"MillisBehindLatest\":0,\"ChildShards\":[{\"ShardId\":"
	    "\"shardId-000000000002\",\"ParentShards\":[\"shardId-000000000000\"],"
	    "\"HashKeyRange\":{\"StartingHashKey\":\"0\",\"EndingHashKey\":\"99\"}}]}";
	const char *seq1 = "49590338271490256608559692538361571095921575989136588898";
	struct sp_api_jw_record r1 = {
	    .seq = seq1,
	    .seq_len = strlen(seq1),
	    .arrival_ms = 1701760153593,
	    .data = (const uint8_t *)"hello",
	    .data_len = 5,
	    .key = "pk-1",
	    .key_len = 4,
	    .encryption = "NONE",
	};
	struct sp_api_jw_record r2 = {
	    .seq = "7", .seq_len = 1, .arrival_ms = 1, .key = "a\"b", .key_len = 3};
	struct sp_api_jw_child kid = {.shard_id = "shardId-000000000002",
				      .parents = {"shardId-000000000000"},
				      .nparents = 1,
				      .start_hash = "0",
				      .end_hash = "99"};
	struct sp_evs_sub s;
	struct sp_evs_msg m;
	ssize_t n;

	(void)state;
	sp_evs_sub_begin(&s, g_buf, sizeof(g_buf));
	assert_true(sp_evs_sub_record(&s, &r1));
	assert_true(sp_evs_sub_record(&s, &r2));
	n = sp_evs_sub_end(&s, "8", 1, 1234, NULL, 0);
	decode_ok(g_buf, n, &m);
	assert_int_equal(s.nrecords, 2);
	expect_str_hdr(&m, ":message-type", "event");
	expect_str_hdr(&m, ":event-type", "SubscribeToShardEvent");
	expect_str_hdr(&m, ":content-type", "application/json");
	assert_int_equal(m.payload_len, strlen(want));
	assert_memory_equal(m.payload, want, strlen(want));
	/* the shard's end: no continuation, the children instead */
	sp_evs_sub_begin(&s, g_buf, sizeof(g_buf));
	n = sp_evs_sub_end(&s, NULL, 0, 0, &kid, 1);
	decode_ok(g_buf, n, &m);
	assert_int_equal(m.payload_len, strlen(want_end));
	assert_memory_equal(m.payload, want_end, strlen(want_end));
}

/* The payload of a filled event parsed back: every record, the continuation, the children. */
static void
check_event_json(const struct sp_evs_msg *m, unsigned nrec, const uint8_t *data, uint32_t data_len,
		 const char *cont)
{
	json_error_t jerr;
	json_t *doc, *recs;

	/* MillisBehindLatest is above jansson's integers: read numbers as reals */
	doc = json_loadb((const char *)m->payload, m->payload_len, JSON_DECODE_INT_AS_REAL, &jerr);
	assert_non_null(doc);
	recs = json_object_get(doc, "Records");
	assert_int_equal(json_array_size(recs), nrec);
	for (unsigned i = 0; i < nrec; i++) {
		json_t *r = json_array_get(recs, i);
		const char *d = json_string_value(json_object_get(r, "Data"));
		uint8_t dec[2048];
		size_t dl;

		assert_int_equal(sp_b64_decode(d, strlen(d), dec, &dl, NULL), 0);
		assert_int_equal(dl, data_len);
		assert_memory_equal(dec, data, data_len);
		assert_int_equal(
		    strtoull(json_string_value(json_object_get(r, "SequenceNumber")), NULL, 10),
		    1000000 + i);
		assert_true(json_real_value(json_object_get(r, "ApproximateArrivalTimestamp")) ==
			    (1700000000000.0 + i) / 1000.0);
		assert_string_equal(json_string_value(json_object_get(r, "PartitionKey")),
				    "partition-key");
		assert_string_equal(json_string_value(json_object_get(r, "EncryptionType")),
				    "NONE");
	}
	assert_string_equal(json_string_value(json_object_get(doc, "ContinuationSequenceNumber")),
			    cont);
	assert_int_equal(json_array_size(json_object_get(doc, "ChildShards")), 2);
	json_decref(doc);
}

/* Fill an event with records of data_len bytes until one does not fit; check it back. */
static void
fill_event(size_t cap, uint32_t data_len)
{
	static uint8_t data[2048];
	char cont[SP_K_SEQNO_MAX_DIGITS + 1], ids[3][SP_K_SHARD_ID_MAX_CHARS + 1];
	char hash[SP_K_HASH_KEY_MAX_DIGITS + 1];
	struct sp_api_jw_child kids[2];
	uint8_t *b = malloc(cap);
	struct sp_evs_sub s;
	struct sp_evs_msg m;
	unsigned nrec = 0;
	ssize_t n;

	for (size_t i = 0; i < sizeof(data); i++) {
		data[i] = (uint8_t)rng_next();
	}
	memset(cont, '9', SP_K_SEQNO_MAX_DIGITS);
	cont[SP_K_SEQNO_MAX_DIGITS] = '\0';
	memset(hash, '9', SP_K_HASH_KEY_MAX_DIGITS);
	hash[SP_K_HASH_KEY_MAX_DIGITS] = '\0';
	for (int i = 0; i < 3; i++) {
		memset(ids[i], 'a' + i, SP_K_SHARD_ID_MAX_CHARS);
		ids[i][SP_K_SHARD_ID_MAX_CHARS] = '\0';
	}
	for (int i = 0; i < 2; i++) {
		kids[i] = (struct sp_api_jw_child){.shard_id = ids[2],
						   .parents = {ids[0], ids[1]},
						   .nparents = 2,
						   .start_hash = hash,
						   .end_hash = hash};
	}
	sp_evs_sub_begin(&s, b, cap);
	for (;;) {
		char seq[24];
		struct sp_api_jw_record r = {.seq = seq,
					     .arrival_ms = 1700000000000 + nrec,
					     .data = data,
					     .data_len = data_len,
					     .key = "partition-key",
					     .key_len = 13,
					     .encryption = "NONE"};

		r.seq_len = (size_t)snprintf(seq, sizeof(seq), "%u", 1000000 + nrec);
		if (!sp_evs_sub_record(&s, &r)) {
			break;
		}
		nrec++;
	}
	assert_int_equal(s.nrecords, nrec);
	/* the largest closing part still fits */
	n = sp_evs_sub_end(&s, cont, strlen(cont), UINT64_MAX, kids, 2);
	decode_ok(b, n, &m);
	assert_true((size_t)n <= cap);
	check_event_json(&m, nrec, data, data_len, cont);
	free(b);
}

static void
test_sub_event_fill(void **state)
{
	(void)state;
	/* room for the closing part only: no record goes in, the event still ends */
	{
		static const struct sp_api_jw_record r = {
		    .seq = "1", .seq_len = 1, .key = "k", .key_len = 1};
		uint8_t b[SP_EVS_SUB_END_MAX / 2];
		struct sp_evs_sub s;
		struct sp_evs_msg m;
		ssize_t n;

		sp_evs_sub_begin(&s, b, sizeof(b));
		assert_false(sp_evs_sub_record(&s, &r));
		n = sp_evs_sub_end(&s, "1", 1, 0, NULL, 0);
		decode_ok(b, n, &m);
		assert_int_equal(s.nrecords, 0);
		/* too small for the headers and an empty event: -ENOSPC, nothing past cap (ASan) */
		sp_evs_sub_begin(&s, b, 100);
		assert_false(sp_evs_sub_record(&s, &r));
		assert_int_equal(sp_evs_sub_end(&s, "1", 1, 0, NULL, 0), -ENOSPC);
	}
	fill_event(SP_EVS_SUB_END_MAX + 200, 100);
	fill_event(64 * 1024, 100);
	fill_event(128 * 1024, 1024);
	for (size_t cap = SP_EVS_SUB_END_MAX; cap < SP_EVS_SUB_END_MAX + 3000; cap += 97) {
		fill_event(cap, 1 + (uint32_t)(cap % 700));
	}
}

static void
test_exception_and_error(void **state)
{
	static char longmsg[SP_EVS_VALUE_MAX + 10];
	static uint8_t big[SP_EVS_VALUE_MAX + 256];
	struct sp_evs_msg m;
	struct sp_evs_hdr h;
	ssize_t n;

	(void)state;
	n = sp_evs_write_exception(g_buf, sizeof(g_buf), "ResourceInUseException",
				   "Another \"subscriber\" took over", 30);
	decode_ok(g_buf, n, &m);
	assert_int_equal(m.nheaders, 3);
	expect_str_hdr(&m, ":message-type", "exception");
	expect_str_hdr(&m, ":exception-type", "ResourceInUseException");
	expect_str_hdr(&m, ":content-type", "application/json");
	assert_int_equal(m.payload_len,
			 strlen("{\"message\":\"Another \\\"subscriber\\\" took over\"}"));
	assert_memory_equal(m.payload, "{\"message\":\"Another \\\"subscriber\\\" took over\"}",
			    m.payload_len);
	n = sp_evs_write_exception(g_buf, sizeof(g_buf), "X", "y", 1);
	assert_true(n > 0);
	for (size_t cap = 0; cap < (size_t)n; cap++) {
		assert_int_equal(sp_evs_write_exception(g_buf, cap, "X", "y", 1), -ENOSPC);
	}
	assert_int_equal(sp_evs_write_exception(g_buf, (size_t)n, "X", "y", 1), n);
	n = sp_evs_write_error(g_buf, sizeof(g_buf), "InternalFailure", "it broke", 8);
	decode_ok(g_buf, n, &m);
	assert_int_equal(m.nheaders, 3);
	expect_str_hdr(&m, ":message-type", "error");
	expect_str_hdr(&m, ":error-code", "InternalFailure");
	expect_str_hdr(&m, ":error-message", "it broke");
	assert_int_equal(m.payload_len, 0);
	/* a message longer than a header holds: cut before a 3-byte character it would split */
	memset(longmsg, 'x', sizeof(longmsg));
	memcpy(longmsg + SP_EVS_VALUE_MAX - 1, "\xe2\x82\xac", 3);
	n = sp_evs_write_error(big, sizeof(big), "E", longmsg, sizeof(longmsg));
	decode_ok(big, n, &m);
	assert_true(sp_evs_hdr_find(&m, ":error-message", 14, &h));
	assert_int_equal(h.v.s.len, SP_EVS_VALUE_MAX - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_aws_vectors),
	    cmocka_unit_test(test_every_type_by_hand),
	    cmocka_unit_test(test_round_trip_random),
	    cmocka_unit_test(test_enc_nospace),
	    cmocka_unit_test(test_enc_invalid),
	    cmocka_unit_test(test_enc_msgsize),
	    cmocka_unit_test(test_dec_prelude_errors),
	    cmocka_unit_test(test_dec_header_errors),
	    cmocka_unit_test(test_dec_prefixes_and_flips),
	    cmocka_unit_test(test_dec_err_text),
	    cmocka_unit_test(test_initial_response),
	    cmocka_unit_test(test_sub_event_exact),
	    cmocka_unit_test(test_sub_event_fill),
	    cmocka_unit_test(test_exception_and_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
