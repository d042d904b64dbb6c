/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/cbor: every example of RFC 8949 Appendix A decoded (values checked)
 * and re-encoded to the same bytes (the indefinite strings, which the reader joins, compared by
 * contents); the writer's preferred serialization of integers and floats from values; the
 * malformed inputs of RFC 8949 Appendix F (truncated heads and strings, short definite
 * containers, reserved additional information 28-30, two-byte simple values below 32, bad
 * chunks, break outside an indefinite item or inside a definite one or a tag, odd indefinite
 * maps, indefinite integers and tags) with their error codes; oversized lengths; nesting at and
 * past SP_CBOR_DEPTH_MAX; invalid UTF-8; the scratch arena bound; trailing bytes; writer
 * overflow and unclosed indefinite items.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sp_test.h"

#include "cbor.h"
#include "cbor_walk.h"

#define HEX_MAX 256u

static size_t
unhex(const char *h, uint8_t *out)
{
	size_t n = 0;

	while (h[0] != '\0' && h[1] != '\0') {
		unsigned v;

		if (h[0] == ' ') {
			h++;
			continue;
		}
		SP_VERIFY(sscanf(h, "%2x", &v) == 1);
		SP_VERIFY(n < HEX_MAX);
		out[n++] = (uint8_t)v;
		h += 2;
	}
	return n;
}

/* Decode hex whole, check it, and re-encode it; returns the re-encoded length. */
static int
reencode_hex(const char *hex, uint8_t *in, size_t *in_len, uint8_t *out)
{
	uint8_t scratch[HEX_MAX];
	struct sp_cbor_w w;
	int rc;

	*in_len = unhex(hex, in);
	sp_cbor_w_init(&w, out, HEX_MAX);
	rc = walk_reencode(in, *in_len, scratch, sizeof(scratch), &w, NULL, 0);
	if (rc < 0) {
		return rc;
	}
	return (int)sp_cbor_w_finish(&w);
}

/* RFC 8949 Appendix A, every example whose encoding is the preferred one: same bytes back. */
static const char *const g_appendix_a[] = {
	"00", "01", "0a", "17", "1818", "1819", "1864", "1903e8", "1a000f4240",
	"1b000000e8d4a51000", "1bffffffffffffffff", "c249010000000000000000",
	"3bffffffffffffffff", "c349010000000000000000", "20", "29", "3863", "3903e7",
	"f90000", "f98000", "f93c00", "fb3ff199999999999a", "f93e00", "f97bff", "fa47c35000",
	"fa7f7fffff", "fb7e37e43c8800759c", "f90001", "f90400", "f9c400", "fbc010666666666666",
	"f97c00", "f97e00", "f9fc00", "fa7f800000", "fa7fc00000", "faff800000",
	"fb7ff0000000000000", "fb7ff8000000000000", "fbfff0000000000000", "f4", "f5", "f6", "f7",
	"f0", "f8ff", "c074323031332d30332d32315432303a30343a30305a", "c11a514b67b0",
	"c1fb41d452d9ec200000", "d74401020304", "d818456449455446",
	"d82076687474703a2f2f7777772e6578616d706c652e636f6d", "40", "4401020304", "60", "6161",
	"6449455446", "62225c", "62c3bc", "63e6b0b4", "64f0908591", "80", "83010203",
	"8301820203820405",
	"98190102030405060708090a0b0c0d0e0f101112131415161718181819", "a0", "a201020304",
	"a26161016162820203", "826161a161626163", "a56161614161626142616361436164614461656145",
	"9fff", "9f018202039f0405ffff", "9f01820203820405ff", "83018202039f0405ff",
	"83019f0203ff820405", "9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff",
	"bf61610161629f0203ffff", "826161bf61626163ff", "bf6346756ef563416d7421ff",
};

static void
test_appendix_a_roundtrip(void **state)
{
	uint8_t in[HEX_MAX], out[HEX_MAX];

	(void)state;
	for (size_t i = 0; i < SP_ARRAY_SIZE(g_appendix_a); i++) {
		size_t in_len;
		int n = reencode_hex(g_appendix_a[i], in, &in_len, out);

		if (n != (int)in_len || memcmp(in, out, in_len) != 0) {
			fail_msg("Appendix A %s: re-encoded %d bytes differ", g_appendix_a[i], n);
		}
	}
}

/* The one item of hex (top-level scalar). */
static struct sp_cbor_item
one(const char *hex)
{
	static uint8_t buf[HEX_MAX];
	struct sp_cbor_item it;
	struct sp_cbor_rd rd;
	size_t n = unhex(hex, buf);

	assert_int_equal(sp_cbor_rd_init(&rd, buf, n, NULL, 0), 0);
	assert_int_equal(sp_cbor_next(&rd, &it), 1);
	if (it.type == SP_CBOR_TAG) {
		assert_int_equal(sp_cbor_next(&rd, &it), 1);
	}
	assert_int_equal(sp_cbor_next(&rd, &(struct sp_cbor_item){0}), 0);
	assert_int_equal(sp_cbor_finish(&rd), 0);
	return it;
}

static void
test_appendix_a_values(void **state)
{
	struct sp_cbor_item it;

	(void)state;
	it = one("1bffffffffffffffff");
	assert_int_equal(it.type, SP_CBOR_UINT);
	assert_true(it.u == UINT64_MAX);
	it = one("3bffffffffffffffff"); /* -18446744073709551616 */
	assert_int_equal(it.type, SP_CBOR_NINT);
	assert_true(it.u == UINT64_MAX);
	it = one("3903e7");
	assert_int_equal(it.type, SP_CBOR_NINT);
	assert_int_equal(it.u, 999); /* -1000 */
	assert_true(one("fb3ff199999999999a").f == 1.1);
	assert_true(one("f97bff").f == 65504.0);
	assert_true(one("fa47c35000").f == 100000.0);
	assert_true(one("fa7f7fffff").f == 3.4028234663852886e+38);
	assert_true(one("fb7e37e43c8800759c").f == 1.0e+300);
	assert_true(one("f90001").f == 5.960464477539063e-8);
	assert_true(one("f90400").f == 0.00006103515625);
	assert_true(one("f9c400").f == -4.0);
	assert_true(one("fbc010666666666666").f == -4.1);
	assert_true(isinf(one("f97c00").f) && one("f97c00").f > 0);
	assert_true(isinf(one("f9fc00").f) && one("f9fc00").f < 0);
	assert_true(isnan(one("f97e00").f) && isnan(one("fa7fc00000").f) &&
		    isnan(one("fb7ff8000000000000").f));
	assert_true(signbit(one("f98000").f) && one("f98000").f == 0.0);
	it = one("f97e00");
	assert_int_equal(it.fbits, 16);
	assert_int_equal(it.u, 0x7e00);
	it = one("c11a514b67b0"); /* 1(1363896240): the tag's item */
	assert_int_equal(it.type, SP_CBOR_UINT);
	assert_int_equal(it.u, 1363896240u);
	assert_true(one("c1fb41d452d9ec200000").f == 1363896240.5);
	it = one("64f0908591");
	assert_int_equal(it.type, SP_CBOR_TEXT);
	assert_int_equal(it.u, 4);
	assert_memory_equal(it.ptr, "\xf0\x90\x85\x91", 4);
	assert_int_equal(one("f0").type, SP_CBOR_SIMPLE);
	assert_int_equal(one("f0").u, 16);
	assert_int_equal(one("f8ff").u, 255);
	assert_int_equal(one("f7").type, SP_CBOR_UNDEFINED);
	assert_int_equal(one("f6").type, SP_CBOR_NULL);
}

/* Indefinite strings come back joined (in the scratch arena): contents compared. */
static void
test_appendix_a_indefinite_strings(void **state)
{
	uint8_t in[HEX_MAX], scratch[HEX_MAX];
	struct sp_cbor_item it;
	struct sp_cbor_rd rd;
	size_t n;

	(void)state;
	n = unhex("5f42010243030405ff", in);
	assert_int_equal(sp_cbor_rd_init(&rd, in, n, scratch, sizeof(scratch)), 0);
	assert_int_equal(sp_cbor_next(&rd, &it), 1);
	assert_int_equal(it.type, SP_CBOR_BYTES);
	assert_int_equal(it.indef, 1);
	assert_int_equal(it.u, 5);
	assert_ptr_equal(it.ptr, scratch);
	assert_memory_equal(it.ptr, "\x01\x02\x03\x04\x05", 5);
	assert_int_equal(sp_cbor_finish(&rd), 0);

	n = unhex("7f657374726561646d696e67ff", in);
	assert_int_equal(sp_cbor_rd_init(&rd, in, n, scratch, sizeof(scratch)), 0);
	assert_int_equal(sp_cbor_next(&rd, &it), 1);
	assert_int_equal(it.type, SP_CBOR_TEXT);
	assert_int_equal(it.u, 9);
	assert_memory_equal(it.ptr, "streaming", 9);

	/* no chunk at all: an empty string; the scratch arena bound: -ENOSPC */
	n = unhex("7fff", in);
	assert_int_equal(sp_cbor_check(in, n, NULL, 0), 0);
	n = unhex("5f42010243030405ff", in);
	assert_int_equal(sp_cbor_check(in, n, scratch, 4), -ENOSPC);
	assert_int_equal(sp_cbor_check(in, n, scratch, 5), 0);
	/* a definite string stays a slice of the input */
	n = unhex("6449455446", in);
	assert_int_equal(sp_cbor_rd_init(&rd, in, n, NULL, 0), 0);
	assert_int_equal(sp_cbor_next(&rd, &it), 1);
	assert_ptr_equal(it.ptr, in + 1);
}

static void
test_writer_preferred(void **state)
{
	static const struct {
		double v;
		const char *hex;
	} fl[] = {
		{0.0, "f90000"},	   {-0.0, "f98000"},
		{1.0, "f93c00"},	   {1.1, "fb3ff199999999999a"},
		{1.5, "f93e00"},	   {65504.0, "f97bff"},
		{100000.0, "fa47c35000"},  {3.4028234663852886e+38, "fa7f7fffff"},
		{1.0e+300, "fb7e37e43c8800759c"}, {5.960464477539063e-8, "f90001"},
		{0.00006103515625, "f90400"}, {-4.0, "f9c400"},
		{-4.1, "fbc010666666666666"}, {INFINITY, "f97c00"},
		{NAN, "f97e00"},	   {-INFINITY, "f9fc00"},
		{65505.0, "fa477fe100"},   {1.0e-40, "fb37a16c262777579c"},
	};
	static const struct {
		int64_t v;
		const char *hex;
	} in[] = {
		{0, "00"},     {23, "17"},	 {24, "1818"},	     {255, "18ff"},
		{256, "190100"}, {65535, "19ffff"}, {65536, "1a00010000"}, {-1, "20"},
		{-24, "37"},   {-25, "3818"},	 {-1000, "3903e7"},
		{INT64_MIN, "3b7fffffffffffffff"}, {1000000000000, "1b000000e8d4a51000"},
	};
	uint8_t buf[16], want[16];
	struct sp_cbor_w w;

	(void)state;
	for (size_t i = 0; i < SP_ARRAY_SIZE(fl); i++) {
		size_t n = unhex(fl[i].hex, want);

		sp_cbor_w_init(&w, buf, sizeof(buf));
		sp_cbor_w_float(&w, fl[i].v);
		assert_int_equal(sp_cbor_w_finish(&w), n);
		if (memcmp(buf, want, n) != 0) {
			fail_msg("float %g: not %s", fl[i].v, fl[i].hex);
		}
	}
	for (size_t i = 0; i < SP_ARRAY_SIZE(in); i++) {
		size_t n = unhex(in[i].hex, want);

		sp_cbor_w_init(&w, buf, sizeof(buf));
		sp_cbor_w_int(&w, in[i].v);
		assert_int_equal(sp_cbor_w_finish(&w), n);
		assert_memory_equal(buf, want, n);
	}
}

struct bad {
	const char *hex;
	int rc;
};

/* RFC 8949 Appendix F.1 (and a few more), with the error each gives. */
static const struct bad g_bad[] = {
	/* end of input in a head */
	{"18", -EMSGSIZE}, {"19", -EMSGSIZE}, {"1a", -EMSGSIZE}, {"1b", -EMSGSIZE},
	{"1901", -EMSGSIZE}, {"1a0102", -EMSGSIZE}, {"1b01020304050607", -EMSGSIZE},
	{"38", -EMSGSIZE}, {"58", -EMSGSIZE}, {"78", -EMSGSIZE}, {"98", -EMSGSIZE},
	{"9a01ff00", -EMSGSIZE}, {"b8", -EMSGSIZE}, {"d8", -EMSGSIZE}, {"f8", -EMSGSIZE},
	{"f900", -EMSGSIZE}, {"fa0000", -EMSGSIZE}, {"fb000000", -EMSGSIZE}, {"", -EMSGSIZE},
	/* definite strings with short data, oversized lengths */
	{"41", -EMSGSIZE}, {"61", -EMSGSIZE}, {"5affffffff00", -EMSGSIZE},
	{"5bffffffffffffffff010203", -EMSGSIZE}, {"7affffffff00", -EMSGSIZE},
	{"7b7fffffffffffffff010203", -EMSGSIZE},
	/* definite arrays and maps without enough items; counts past the input */
	{"81", -EMSGSIZE}, {"818181818181818181", -EMSGSIZE}, {"8200", -EMSGSIZE},
	{"a1", -EMSGSIZE}, {"a20102", -EMSGSIZE}, {"a100", -EMSGSIZE}, {"a2000000", -EMSGSIZE},
	{"9bffffffffffffffff00", -EMSGSIZE}, {"bb8000000000000000000000", -EMSGSIZE},
	/* a tag without its item */
	{"c0", -EMSGSIZE},
	/* indefinite strings, arrays and maps without their break */
	{"5f4100", -EMSGSIZE}, {"7f6100", -EMSGSIZE}, {"9f", -EMSGSIZE}, {"9f0102", -EMSGSIZE},
	{"bf", -EMSGSIZE}, {"bf01020102", -EMSGSIZE}, {"819f", -EMSGSIZE},
	{"9f8000", -EMSGSIZE}, {"9f9f9f9f9fffffffff", -EMSGSIZE},
	{"9f819f819f9fffffff", -EMSGSIZE},
	/* reserved additional information 28-30, in every major type */
	{"1c", -EINVAL}, {"1d", -EINVAL}, {"1e", -EINVAL}, {"3c", -EINVAL}, {"3d", -EINVAL},
	{"3e", -EINVAL}, {"5c", -EINVAL}, {"5d", -EINVAL}, {"5e", -EINVAL}, {"7c", -EINVAL},
	{"7d", -EINVAL}, {"7e", -EINVAL}, {"9c", -EINVAL}, {"9d", -EINVAL}, {"9e", -EINVAL},
	{"bc", -EINVAL}, {"bd", -EINVAL}, {"be", -EINVAL}, {"dc", -EINVAL}, {"dd", -EINVAL},
	{"de", -EINVAL}, {"fc", -EINVAL}, {"fd", -EINVAL}, {"fe", -EINVAL},
	/* two-byte simple values below 32 */
	{"f800", -EINVAL}, {"f801", -EINVAL}, {"f818", -EINVAL}, {"f81f", -EINVAL},
	/* chunks of the wrong type, or indefinite */
	{"5f00ff", -EINVAL}, {"5f21ff", -EINVAL}, {"5f6100ff", -EINVAL}, {"5f80ff", -EINVAL},
	{"5fa0ff", -EINVAL}, {"5fc000ff", -EINVAL}, {"5fe0ff", -EINVAL}, {"7f4100ff", -EINVAL},
	{"5f5f4100ffff", -EINVAL}, {"7f7f6100ffff", -EINVAL},
	/* a break outside an indefinite item, inside a definite one or after a tag */
	{"ff", -EINVAL}, {"81ff", -EINVAL}, {"8200ff", -EINVAL}, {"a1ff", -EMSGSIZE},
	{"a1ff00", -EINVAL}, {"a100ff", -EINVAL}, {"a20000ff", -EMSGSIZE}, {"9f81ff", -EINVAL},
	{"9f829f819f9fffffffff", -EINVAL}, {"9fc0ff", -EINVAL},
	/* a break after a map's key */
	{"bf00ff", -EINVAL}, {"bf000000ff", -EINVAL},
	/* indefinite integers and tags */
	{"1f", -EINVAL}, {"3f", -EINVAL}, {"df", -EINVAL},
	/* invalid UTF-8 text: lone continuation, overlong, surrogate, past U+10FFFF, cut */
	{"6180", -EINVAL}, {"62c0af", -EINVAL}, {"63eda080", -EINVAL}, {"64f4908080", -EINVAL},
	{"62e282", -EINVAL}, {"7f61c3ff", -EINVAL}, {"7f61c361bcff", -EINVAL},
	/* an item after the top-level one */
	{"0000", -EINVAL}, {"a0a0", -EINVAL},
};

static void
test_malformed(void **state)
{
	uint8_t in[HEX_MAX], scratch[HEX_MAX];

	(void)state;
	for (size_t i = 0; i < SP_ARRAY_SIZE(g_bad); i++) {
		size_t n = unhex(g_bad[i].hex, in);
		int rc = sp_cbor_check(n == 0 ? NULL : in, n, scratch, sizeof(scratch));

		if (rc != g_bad[i].rc) {
			fail_msg("'%s': %d, expected %d", g_bad[i].hex, rc, g_bad[i].rc);
		}
	}
}

/* Nesting: SP_CBOR_DEPTH_MAX arrays are fine, one more is -E2BIG (tags do not count). */
static void
test_depth(void **state)
{
	uint8_t buf[2 * SP_CBOR_DEPTH_MAX + 8];
	size_t n = 0;

	(void)state;
	for (unsigned i = 0; i < SP_CBOR_DEPTH_MAX; i++) {
		buf[n++] = 0x81;
	}
	buf[n++] = 0x00;
	assert_int_equal(sp_cbor_check(buf, n, NULL, 0), 0);
	buf[n - 1] = 0x81;
	buf[n++] = 0x00;
	assert_int_equal(sp_cbor_check(buf, n, NULL, 0), -E2BIG);
	/* the same with indefinite maps */
	n = 0;
	for (unsigned i = 0; i < SP_CBOR_DEPTH_MAX + 1; i++) {
		buf[n++] = 0xbf;
		buf[n++] = 0x00;
	}
	assert_int_equal(sp_cbor_check(buf, n, NULL, 0), -E2BIG);
	/* a long chain of tags is no nesting */
	n = 0;
	for (unsigned i = 0; i < SP_CBOR_DEPTH_MAX + 50; i++) {
		buf[n++] = 0xc1;
	}
	buf[n++] = 0x00;
	assert_int_equal(sp_cbor_check(buf, n, NULL, 0), 0);
}

/* A walk through a nested map: next/skip, level ends, and where each item sits. */
static void
test_walk_and_skip(void **state)
{
	uint8_t in[HEX_MAX];
	struct sp_cbor_item it;
	struct sp_cbor_rd rd;
	/* {_ "a": [1, {_ "x": 2}], "b": 24(h'00'), "c": 3} */
	size_t n = unhex("bf 6161 82 01 bf 6178 02 ff 6162 d818 4100 6163 03 ff", in);

	(void)state;
	assert_int_equal(sp_cbor_rd_init(&rd, in, n, NULL, 0), 0);
	assert_int_equal(sp_cbor_next(&rd, &it), 1);
	assert_int_equal(it.type, SP_CBOR_MAP);
	assert_int_equal(it.indef, 1);
	assert_int_equal(sp_cbor_next(&rd, &it), 1); /* "a" */
	assert_int_equal(it.type, SP_CBOR_TEXT);
	assert_int_equal(sp_cbor_skip_next(&rd), 1); /* the array, whole */
	assert_int_equal(rd.depth, 1);
	assert_int_equal(sp_cbor_next(&rd, &it), 1); /* "b" */
	assert_int_equal(sp_cbor_next(&rd, &it), 1); /* tag 24 */
	assert_int_equal(it.type, SP_CBOR_TAG);
	assert_int_equal(it.u, 24);
	assert_int_equal(sp_cbor_skip(&rd, &it), 0); /* its item */
	assert_int_equal(sp_cbor_next(&rd, &it), 1); /* "c" */
	assert_int_equal(sp_cbor_next(&rd, &it), 1);
	assert_int_equal(it.u, 3);
	assert_int_equal(sp_cbor_next(&rd, &it), 0); /* the break */
	assert_int_equal(rd.depth, 0);
	assert_int_equal(sp_cbor_next(&rd, &it), 0);
	assert_int_equal(sp_cbor_finish(&rd), 0);
	/* finish refuses an unfinished walk */
	assert_int_equal(sp_cbor_rd_init(&rd, in, n, NULL, 0), 0);
	assert_int_equal(sp_cbor_next(&rd, &it), 1);
	assert_int_equal(sp_cbor_finish(&rd), -EINVAL);
}

static void
test_writer_bounds(void **state)
{
	uint8_t buf[8];
	struct sp_cbor_w w;

	(void)state;
	sp_cbor_w_init(&w, buf, sizeof(buf));
	sp_cbor_w_text(&w, "abcdefg", 7); /* 8 bytes: fits exactly */
	assert_int_equal(sp_cbor_w_finish(&w), 8);
	sp_cbor_w_init(&w, buf, sizeof(buf));
	sp_cbor_w_text(&w, "abcdefgh", 8);
	assert_int_equal(sp_cbor_w_finish(&w), -ENOSPC);
	sp_cbor_w_uint(&w, 0); /* sticky: a later write that would fit does not clear it */
	assert_int_equal(sp_cbor_w_finish(&w), -ENOSPC);
	sp_cbor_w_init(&w, buf, sizeof(buf));
	sp_cbor_w_indef(&w, SP_CBOR_MAJOR_MAP);
	assert_int_equal(sp_cbor_w_finish(&w), -EINVAL);
	sp_cbor_w_break(&w);
	assert_int_equal(sp_cbor_w_finish(&w), 2);
	assert_memory_equal(buf, "\xbf\xff", 2);
	sp_cbor_w_init(&w, NULL, 0);
	sp_cbor_w_null(&w);
	assert_int_equal(sp_cbor_w_finish(&w), -ENOSPC);
}

/* Every half-precision value converts exactly and the writer finds it again as a half. */
static void
test_half_all(void **state)
{
	(void)state;
	for (uint32_t h = 0; h < 0x10000; h++) {
		double d = sp_cbor_half_to_double((uint16_t)h);
		uint8_t buf[9];
		struct sp_cbor_w w;

		sp_cbor_w_init(&w, buf, sizeof(buf));
		sp_cbor_w_float(&w, d);
		assert_true(sp_cbor_w_finish(&w) == 3);
		if (d == d) {
			assert_int_equal((uint32_t)buf[1] << 8 | buf[2], h);
		} else {
			assert_int_equal((uint32_t)buf[1] << 8 | buf[2], 0x7e00);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_appendix_a_roundtrip),
		cmocka_unit_test(test_appendix_a_values),
		cmocka_unit_test(test_appendix_a_indefinite_strings),
		cmocka_unit_test(test_writer_preferred),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_walk_and_skip),
		cmocka_unit_test(test_writer_bounds),
		cmocka_unit_test(test_half_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
