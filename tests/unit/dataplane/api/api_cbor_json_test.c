/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for api_cbor_json.c, the CBOR <-> JSON translation of control-operation bodies
 * and SubscribeToShard's request. CBOR requests are built with the writer the way the Java
 * SDK encodes them (indefinite maps, tag 1 + epoch milliseconds) and their JSON compared with
 * jansson against the expected object; timestamps are checked as exact text. Then bodies
 * JSON cannot hold or that are not one map, the output bounds on worst-case inputs, every
 * short output buffer (-ENOSPC, nothing written past it), and answers from JSON to CBOR read
 * back with the reader and translated back to the same JSON.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <spate/assert.h>

#include "../../sp_test.h"

#include "api_cbor.h"
#include "cbor.h"

#define BUF 65536u

static uint8_t g_in[BUF];
static char g_scratch[BUF];
static char g_out[4u * BUF];

static void
w_text(struct sp_cbor_w *w, const char *s)
{
	sp_cbor_w_text(w, s, strlen(s));
}

/* The JSON of a CBOR body, or the error; the JSON must parse as an object equal to want. */
static void
check_json(const uint8_t *in, size_t len, const char *want)
{
	ssize_t n = sp_api_cbor_to_json((const char *)in, len, g_scratch, sizeof(g_scratch), g_out,
					sizeof(g_out));
	json_error_t e;
	json_t *got, *exp;

	if (n <= 0) {
		fail_msg("translation failed: %zd", n);
	}
	got = json_loadb(g_out, (size_t)n, 0, &e);
	if (got == NULL) {
		fail_msg("not JSON: %.*s (%s)", (int)n, g_out, e.text);
	}
	exp = json_loads(want, 0, &e);
	assert_non_null(got);
	assert_non_null(exp);
	if (!json_equal(got, exp)) {
		fail_msg("got %.*s want %s", (int)n, g_out, want);
	}
	json_decref(got);
	json_decref(exp);
}

/* A ListShards request as the Java SDK sends it, with every kind of value around it. */
static void
test_request(void **state)
{
	struct sp_cbor_w w;
	ssize_t n;

	(void)state;
	sp_cbor_w_init(&w, g_in, sizeof(g_in));
	sp_cbor_w_indef(&w, SP_CBOR_MAJOR_MAP);
	w_text(&w, "StreamName");
	w_text(&w, "s1");
	w_text(&w, "ShardFilter");
	sp_cbor_w_indef(&w, SP_CBOR_MAJOR_MAP);
	w_text(&w, "Type");
	w_text(&w, "AT_TIMESTAMP");
	w_text(&w, "Timestamp");
	sp_cbor_w_tag(&w, SP_API_CBOR_TAG_EPOCH);
	sp_cbor_w_uint(&w, UINT64_C(1700000000123));
	sp_cbor_w_break(&w);
	w_text(&w, "StreamCreationTimestamp"); /* untagged: still milliseconds */
	sp_cbor_w_int(&w, -1500);
	w_text(&w, "MaxResults");
	sp_cbor_w_float(&w, 3.0);
	sp_cbor_w_uint(&w, 7); /* a key that is no text: skipped with its value */
	sp_cbor_w_map(&w, 1);
	w_text(&w, "a");
	w_text(&w, "b");
	w_text(&w, "Tags");
	sp_cbor_w_map(&w, 2);
	sp_cbor_w_indef(&w, SP_CBOR_MAJOR_TEXT); /* a key in chunks */
	w_text(&w, "k\"");
	w_text(&w, "1");
	sp_cbor_w_break(&w);
	w_text(&w, "v\n");
	w_text(&w, "Timestamp"); /* a tag named so: its text value stays text */
	w_text(&w, "x");
	w_text(&w, "L");
	sp_cbor_w_indef(&w, SP_CBOR_MAJOR_ARRAY);
	sp_cbor_w_bool(&w, true);
	sp_cbor_w_bool(&w, false);
	sp_cbor_w_null(&w);
	sp_cbor_w_undefined(&w);
	sp_cbor_w_float(&w, -0.5);
	sp_cbor_w_uint(&w, UINT64_MAX);                     /* clamped to int64 */
	sp_cbor_w_head(&w, SP_CBOR_MAJOR_NINT, UINT64_MAX); /* -2^64: clamped */
	sp_cbor_w_bytes(&w, "\x01\x02\xff", 3);
	sp_cbor_w_tag(&w, 55799);
	w_text(&w, "tagged");
	sp_cbor_w_array(&w, 0);
	sp_cbor_w_break(&w);
	sp_cbor_w_break(&w);
	n = sp_cbor_w_finish(&w);
	assert_true(n > 0);
	check_json(g_in, (size_t)n,
		   "{\"StreamName\":\"s1\",\"ShardFilter\":{\"Type\":\"AT_TIMESTAMP\","
		   "\"Timestamp\":1700000000.123},\"StreamCreationTimestamp\":-1.5,"
		   "\"MaxResults\":3,\"Tags\":{\"k\\\"1\":\"v\\n\",\"Timestamp\":\"x\"},"
		   "\"L\":[true,false,null,null,-0.5,9223372036854775807,"
		   "-9223372036854775808,\"AQL/\",\"tagged\",[]]}");
	/* the timestamp as exact text, not a binary float's digits */
	assert_non_null(strstr(g_out, "\"Timestamp\":1700000000.123}"));
	assert_non_null(strstr(g_out, "\"StreamCreationTimestamp\":-1.500"));
}

static ssize_t
to_json(const uint8_t *in, size_t len)
{
	return sp_api_cbor_to_json((const char *)in, len, g_scratch, sizeof(g_scratch), g_out,
				   sizeof(g_out));
}

/* What is no CBOR map, or what JSON cannot hold. */
static void
test_refused(void **state)
{
	uint8_t deep[2u * SP_API_JW_DEPTH_MAX + 1u];

	(void)state;
	assert_int_equal(to_json((const uint8_t *)"\x80", 1), -EINVAL);     /* an array */
	assert_int_equal(to_json((const uint8_t *)"\xc1\xa0", 2), -EINVAL); /* a tagged map */
	assert_int_equal(to_json((const uint8_t *)"\xa0\x00", 2), -EINVAL); /* a byte after */
	assert_true(to_json((const uint8_t *)"\xa1\x61"
					     "a",
			    3) < 0); /* truncated */
	assert_int_equal(to_json((const uint8_t *)"\xa1\x61"
						  "a\xf0",
				 4),
			 -EINVAL); /* simple 16 */
	assert_true(to_json((const uint8_t *)"", 0) < 0);
	assert_int_equal(sp_api_cbor_to_json("\xa0", 1, g_scratch, 0, g_out, sizeof(g_out)),
			 -ENOSPC); /* scratch shorter than the body */
	/* maps nested past the JSON writer's depth */
	for (unsigned i = 0; i < SP_API_JW_DEPTH_MAX; i++) {
		deep[2 * i] = 0xa1; /* {"": ... } */
		deep[2 * i + 1] = 0x60;
	}
	deep[2u * SP_API_JW_DEPTH_MAX] = 0xa0; /* the innermost value: {} */
	assert_int_equal(to_json(deep, sizeof(deep)), -E2BIG);
	/* one level less is fine */
	assert_true(to_json(deep + 2, sizeof(deep) - 2u) > 0);
}

/* Every output shorter than needed: -ENOSPC and no byte past it; the bound holds. */
static void
test_bounds(void **state)
{
	struct sp_cbor_w w;
	ssize_t n, full;

	(void)state;
	/* the worst ratio: half floats with the longest digits, and one-byte values */
	sp_cbor_w_init(&w, g_in, 4096);
	sp_cbor_w_indef(&w, SP_CBOR_MAJOR_MAP);
	w_text(&w, "a");
	sp_cbor_w_indef(&w, SP_CBOR_MAJOR_ARRAY);
	for (unsigned i = 0; i < 300; i++) {
		sp_cbor_w_float_bits(&w, 16, i % 2 ? 0x0001 : 0x8155); /* subnormal halves */
		sp_cbor_w_bool(&w, false);
	}
	sp_cbor_w_break(&w);
	w_text(&w, "Timestamp");
	sp_cbor_w_uint(&w, 23);
	sp_cbor_w_break(&w);
	n = sp_cbor_w_finish(&w);
	assert_true(n > 0);
	full = to_json(g_in, (size_t)n);
	assert_true(full > 0 && (size_t)full <= SP_API_CBOR_TO_JSON_MAX(n));
	for (ssize_t cap = 0; cap < full; cap++) {
		memset(g_out, 0x5a, sizeof(g_out));
		assert_int_equal(sp_api_cbor_to_json((const char *)g_in, (size_t)n, g_scratch,
						     sizeof(g_scratch), g_out, (size_t)cap),
				 -ENOSPC);
		assert_int_equal((unsigned char)g_out[cap], 0x5a);
	}
}

/* A control answer to CBOR: read back, and translated back to the same JSON. */
static void
test_answer(void **state)
{
	static const char json[] =
	    "{\"StreamDescriptionSummary\":{\"StreamName\":\"s\\u00e9\",\"StreamStatus\":"
	    "\"ACTIVE\","
	    "\"RetentionPeriodHours\":24,\"StreamCreationTimestamp\":1700000000.5,"
	    "\"EnhancedMonitoring\":[{\"ShardLevelMetrics\":[]}],\"OpenShardCount\":2,"
	    "\"Ratio\":0.25,\"Big\":9223372036854775807,\"Neg\":-3,\"Huge\":1e300,"
	    "\"T\":true,\"F\":false,\"N\":null},"
	    "\"Consumers\":[{\"ConsumerCreationTimestamp\":1.25}]}";
	static uint8_t cbor[1024];
	struct sp_cbor_rd rd;
	struct sp_cbor_item it;
	char js[1024];
	ssize_t n, m;
	bool saw_ts = false;
	int rc;

	(void)state;
	n = sp_api_json_to_cbor(json, sizeof(json) - 1, js, sizeof(js), (char *)cbor, sizeof(cbor));
	assert_true(n > 0 && (size_t)n <= SP_API_JSON_TO_CBOR_MAX(sizeof(json) - 1));
	assert_int_equal(cbor[0], 0xbf); /* indefinite, as AWS answers */
	assert_int_equal(sp_cbor_check(cbor, (size_t)n, NULL, 0), 0);
	/* StreamCreationTimestamp: tag 1, integer milliseconds */
	assert_int_equal(sp_cbor_rd_init(&rd, cbor, (size_t)n, NULL, 0), 0);
	do {
		rc = sp_cbor_next(&rd, &it);
		if (rc == 1 && it.type == SP_CBOR_TEXT && it.u == 23 &&
		    memcmp(it.ptr, "StreamCreationTimestamp", 23) == 0) {
			assert_int_equal(sp_cbor_next(&rd, &it), 1);
			assert_int_equal(it.type, SP_CBOR_TAG);
			assert_int_equal(it.u, 1);
			assert_int_equal(sp_cbor_next(&rd, &it), 1);
			assert_int_equal(it.type, SP_CBOR_UINT);
			assert_int_equal(it.u, UINT64_C(1700000000500));
			saw_ts = true;
		}
	} while (rc >= 0 && rd.depth > 0);
	assert_int_equal(rc, 0);
	assert_true(saw_ts);
	/* and back: the same JSON document */
	memcpy(g_in, cbor, (size_t)n);
	check_json(g_in, (size_t)n, json);
	for (ssize_t cap = 0; cap < n; cap++) {
		memset(cbor, 0x5a, sizeof(cbor));
		m = sp_api_json_to_cbor(json, sizeof(json) - 1, js, sizeof(js), (char *)cbor,
					(size_t)cap);
		assert_int_equal(m, -ENOSPC);
		assert_int_equal(cbor[cap], 0x5a);
	}
	/* not one object, bad JSON, a number too long to convert */
	assert_int_equal(sp_api_json_to_cbor("[]", 2, js, sizeof(js), (char *)cbor, sizeof(cbor)),
			 -EINVAL);
	assert_true(sp_api_json_to_cbor("{\"a\":}", 6, js, sizeof(js), (char *)cbor, sizeof(cbor)) <
		    0);
	assert_true(sp_api_json_to_cbor("{} x", 4, js, sizeof(js), (char *)cbor, sizeof(cbor)) < 0);
	snprintf(js, sizeof(js), "{\"a\":1%070d}", 0);
	assert_int_equal(sp_api_json_to_cbor(js, strlen(js), g_scratch, sizeof(g_scratch),
					     (char *)cbor, sizeof(cbor)),
			 -ERANGE);
}

/*
 * A negative zero float is written 0, not "-0" (JSON reads that as the integer 0, so the text
 * changed on the way back through CBOR); the JSON is then a fixed point. Found by
 * fuzz_cbor_json.
 */
static void
test_negative_zero(void **state)
{
	static const char want[] = "{\"a\":0,\"b\":[0,0],\"c\":-0.5}";
	static uint8_t cbor[256];
	struct sp_cbor_w w;
	char js[256];
	ssize_t n, m;

	(void)state;
	sp_cbor_w_init(&w, g_in, sizeof(g_in));
	sp_cbor_w_indef(&w, SP_CBOR_MAJOR_MAP);
	w_text(&w, "a");
	sp_cbor_w_float_bits(&w, 16, 0x8000); /* -0.0 as a half */
	w_text(&w, "b");
	sp_cbor_w_array(&w, 2);
	sp_cbor_w_float_bits(&w, 64, UINT64_C(0x8000000000000000)); /* and as a double */
	sp_cbor_w_float(&w, 0.0);
	w_text(&w, "c");
	sp_cbor_w_float(&w, -0.5);
	sp_cbor_w_break(&w);
	n = sp_cbor_w_finish(&w);
	assert_true(n > 0);
	n = to_json(g_in, (size_t)n);
	assert_int_equal(n, sizeof(want) - 1);
	assert_memory_equal(g_out, want, sizeof(want) - 1);
	/* back to CBOR and to JSON again: the same text */
	m = sp_api_json_to_cbor(want, sizeof(want) - 1, js, sizeof(js), (char *)cbor, sizeof(cbor));
	assert_true(m > 0);
	memcpy(g_in, cbor, (size_t)m);
	n = to_json(g_in, (size_t)m);
	assert_int_equal(n, sizeof(want) - 1);
	assert_memory_equal(g_out, want, sizeof(want) - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request),       cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_bounds),        cmocka_unit_test(test_answer),
	    cmocka_unit_test(test_negative_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
