/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/api's JSON scanner and writer. The scanner is checked against
 * jansson (json_loadb, JSON_ALLOW_NUL) on hand-picked valid and invalid documents, on strings
 * that put every special byte at every offset around the 16-byte vector boundary, on the
 * depth bound at and past 2048, and on a few thousand seeded mutations; zero copy, scratch
 * use, number conversions and UTF-16 lengths are checked directly. The writer's output is
 * parsed back with jansson, its escaping and timestamp format are checked byte for byte, and
 * every buffer size below the needed one fails with -ENOSPC without writing past the end.
 * The one-piece record writers (PutRecords entries, GetRecords records, PutRecord) are
 * checked against a reference built byte by byte, on random records (strings to escape or
 * not, invalid UTF-8, timestamps of every range) at every capacity around the needed one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../sp_test.h"

#include "api_json.h"
#include "b64.h"

#define SCRATCH_BYTES (64u * 1024u)
#define MUTATION_ROUNDS 6000u
#define DEEP_MAX (SP_API_JSON_DEPTH_MAX + 2u)

static char g_scratch[SCRATCH_BYTES];
static uint64_t g_rng = 0x2545f4914f6cdd1dull;

static uint64_t
rng_next(void)
{
	g_rng ^= g_rng << 13;
	g_rng ^= g_rng >> 7;
	g_rng ^= g_rng << 17;
	return g_rng;
}

static json_t *walk_value(struct sp_api_json *js, int *rc);

static json_t *
walk_number(const struct sp_api_json_str *s)
{
	char buf[512];
	json_t *real;

	/* Past int64 or double range jansson refuses the document: any placeholder will do. */
	if (s->len >= sizeof(buf)) {
		return json_string("long number");
	}
	memcpy(buf, s->ptr, s->len);
	buf[s->len] = '\0';
	if (strpbrk(buf, ".eE") == NULL) {
		return json_integer(strtoll(buf, NULL, 10));
	}
	real = json_real(strtod(buf, NULL));
	return real != NULL ? real : json_string("infinite number");
}

static json_t *
walk_object(struct sp_api_json *js, int *rc)
{
	json_t *o = json_object();
	struct sp_api_json_str key;
	int r = 0;

	*rc = sp_api_json_obj_enter(js);
	while (*rc == 0 && (r = sp_api_json_obj_next(js, &key)) == 1) {
		json_t *v = walk_value(js, rc);

		if (v == NULL) {
			break;
		}
		json_object_setn_new_nocheck(o, key.ptr, key.len, v);
	}
	if (*rc == 0 && r < 0) {
		*rc = r;
	}
	if (*rc != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
walk_array(struct sp_api_json *js, int *rc)
{
	json_t *a = json_array();
	int r = 0;

	*rc = sp_api_json_arr_enter(js);
	while (*rc == 0 && (r = sp_api_json_arr_next(js)) == 1) {
		json_t *v = walk_value(js, rc);

		if (v == NULL) {
			break;
		}
		json_array_append_new(a, v);
	}
	if (*rc == 0 && r < 0) {
		*rc = r;
	}
	if (*rc != 0) {
		json_decref(a);
		return NULL;
	}
	return a;
}

/* The scanner's reading of the next value as a jansson tree (NULL and *rc < 0 on error). */
static json_t *
walk_value(struct sp_api_json *js, int *rc)
{
	struct sp_api_json_str s;
	int kind = sp_api_json_peek(js);

	if (kind == SP_API_JSON_OBJECT) {
		return walk_object(js, rc);
	}
	if (kind == SP_API_JSON_ARRAY) {
		return walk_array(js, rc);
	}
	kind = sp_api_json_value(js, &s);
	*rc = kind < 0 ? kind : 0;
	switch (kind) {
	case SP_API_JSON_STRING:
		return json_stringn_nocheck(s.ptr, s.len);
	case SP_API_JSON_NUMBER:
		return walk_number(&s);
	case SP_API_JSON_TRUE:
		return json_true();
	case SP_API_JSON_FALSE:
		return json_false();
	case SP_API_JSON_NULL:
		return json_null();
	default:
		return NULL;
	}
}

/* Scan a whole body as one object: the tree, or NULL with the error in *rc. */
static json_t *
scan_doc(const char *doc, size_t len, int *rc)
{
	struct sp_api_json js;
	json_t *t;

	*rc = sp_api_json_init(&js, doc, len, g_scratch, sizeof(g_scratch));
	assert_int_equal(*rc, 0);
	if (sp_api_json_peek(&js) != SP_API_JSON_OBJECT) {
		*rc = -EINVAL;
		return NULL;
	}
	t = walk_object(&js, rc);
	if (t != NULL && (*rc = sp_api_json_finish(&js)) != 0) {
		json_decref(t);
		t = NULL;
	}
	return t;
}

/* jansson's verdict on doc as an object; *code gets its error code when it refuses. */
static json_t *
ref_doc(const char *doc, size_t len, enum json_error_code *code)
{
	json_error_t e;
	json_t *t = json_loadb(doc, len, JSON_ALLOW_NUL, &e);

	*code = json_error_unknown;
	if (t == NULL) {
		*code = json_error_code(&e);
		return NULL;
	}
	if (!json_is_object(t)) {
		json_decref(t);
		*code = json_error_invalid_syntax;
		return NULL;
	}
	return t;
}

/*
 * The differential rule (fuzz_json's too): same verdict, same tree; the scanner may accept
 * what jansson refuses only for its implementation limits (int64 and double range, NUL in
 * keys), which are valid RFC 8259 and which AWS accepts.
 */
static void
check_agree(const char *doc, size_t len)
{
	enum json_error_code code;
	int rc;
	json_t *ref = ref_doc(doc, len, &code);
	json_t *got = scan_doc(doc, len, &rc);

	/* A raw NUL is never valid; jansson drops one after a literal or number ("[null\0]"). */
	if (memchr(doc, '\0', len) != NULL) {
		assert_null(got);
		json_decref(ref);
		return;
	}
	if (ref == NULL && got != NULL) {
		if (code != json_error_numeric_overflow && code != json_error_null_byte_in_key) {
			fprintf(stderr, "accepted, jansson refuses (%d): %.*s\n", (int)code,
				(int)SP_MIN(len, 200u), doc);
			fail();
		}
	} else if (ref != NULL && got == NULL) {
		fprintf(stderr, "refused (%d), jansson accepts: %.*s\n", rc, (int)SP_MIN(len, 200u),
			doc);
		fail();
	} else if (ref != NULL && !json_equal(ref, got)) {
		fprintf(stderr, "trees differ: %.*s\n", (int)SP_MIN(len, 200u), doc);
		fail();
	}
	json_decref(ref);
	json_decref(got);
}

static void
check_agree_str(const char *doc)
{
	check_agree(doc, strlen(doc));
}

static const char *const g_valid[] = {
	"{}",
	" \t\r\n{ \t\r\n} \t\r\n",
	"{\"a\":1}",
	"{\"a\":-0,\"b\":0.5,\"c\":-1.25e+10,\"d\":1E-3,\"e\":123456789012345}",
	"{\"a\":true,\"b\":false,\"c\":null}",
	"{\"a\":[],\"b\":{},\"c\":[[],[{}]],\"d\":[1,\"x\",null,true,{\"k\":[]}]}",
	"{\"\":\"\"}",
	"{\"esc\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}",
	"{\"u\":\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\"}",
	"{\"utf8\":\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf \xf4\x8f\xbf\xbf\"}",
	"{\"nul\":\"a\\u0000b\"}",
	"{\"dup\":1,\"dup\":2}",
	"{\"k\\u0065y\":\"v\"}",
	"{\"a\" : [ 1 , 2 ] , \"b\" : { \"c\" : \"d\" } }",
	"{\"del\":\"\x7f\"}",
	"{\"big\":12345678901234567890123}",
	"{\"huge\":1e999}",
	"{\"tiny\":1e-999}",
};

static const char *const g_invalid[] = {
	"",
	" ",
	"[]",
	"\"x\"",
	"1",
	"{",
	"}",
	"{\"a\"}",
	"{\"a\":}",
	"{\"a\":1,}",
	"{,}",
	"{,\"a\":1}",
	"{\"a\":1 \"b\":2}",
	"{\"a\":1}}",
	"{\"a\":1} x",
	"{\"a\":[1,]}",
	"{\"a\":[,1]}",
	"{\"a\":[1 2]}",
	"{a:1}",
	"{'a':1}",
	"{\"a\":01}",
	"{\"a\":-}",
	"{\"a\":1.}",
	"{\"a\":.5}",
	"{\"a\":1e}",
	"{\"a\":1e+}",
	"{\"a\":+1}",
	"{\"a\":0x10}",
	"{\"a\":NaN}",
	"{\"a\":tru}",
	"{\"a\":truex}",
	"{\"a\":nul}",
	"{\"a\":\"\\x\"}",
	"{\"a\":\"\\u12\"}",
	"{\"a\":\"\\u12G4\"}",
	"{\"a\":\"\\ud800\"}",
	"{\"a\":\"\\ud800x\"}",
	"{\"a\":\"\\ud800\\u0041\"}",
	"{\"a\":\"\\udc00\"}",
	"{\"a\":\"\\ud800\\ud800\"}",
	"{\"a\":\"tab\there\"}",
	"{\"a\":\"nl\nhere\"}",
	"{\"a\":\"\x80\"}",
	"{\"a\":\"\xc0\xaf\"}",
	"{\"a\":\"\xc1\xbf\"}",
	"{\"a\":\"\xe0\x80\xaf\"}",
	"{\"a\":\"\xed\xa0\x80\"}",
	"{\"a\":\"\xf4\x90\x80\x80\"}",
	"{\"a\":\"\xf5\x80\x80\x80\"}",
	"{\"a\":\"\xe2\x82\"}",
	"{\"a\":\"\xe2\x82",
	"{\"a\":\"unterminated",
	"\xef\xbb\xbf{}",
	"{\"a\":[}",
	"{\"a\":{]}",
	"{\"a\":{\"b\":1]}",
	"{\"a\":[1}",
};

static void
test_valid_docs(void **state)
{
	(void)state;
	for (size_t i = 0; i < SP_ARRAY_SIZE(g_valid); i++) {
		int rc;
		json_t *t = scan_doc(g_valid[i], strlen(g_valid[i]), &rc);

		if (t == NULL) {
			fprintf(stderr, "refused (%d): %s\n", rc, g_valid[i]);
		}
		assert_non_null(t);
		json_decref(t);
		check_agree_str(g_valid[i]);
	}
}

static void
test_invalid_docs(void **state)
{
	(void)state;
	for (size_t i = 0; i < SP_ARRAY_SIZE(g_invalid); i++) {
		size_t len = strlen(g_invalid[i]);
		int rc;
		json_t *t = scan_doc(g_invalid[i], len, &rc);

		if (t != NULL) {
			fprintf(stderr, "accepted: %s\n", g_invalid[i]);
		}
		assert_null(t);
		assert_true(rc == -EINVAL || rc == -E2BIG);
		check_agree_str(g_invalid[i]);
	}
	/* Raw NUL bytes, anywhere (jansson takes the last two). */
	check_agree("{\"a\":1}\0", 8);
	check_agree("{\"a\":\"\0\"}", 9);
	check_agree("{\"a\":null\0}", 11);
	check_agree("{\"a\":[1\0]}", 11);
}

static const char g_fill1[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop";
static const char g_fill2[] = "0123456789abcdefghij";
static const char g_fill3[] = "abcdefghijklmnopqrstuvwxyz0123456789ABCD";

/* Every special byte at every offset across two vector widths, inside keys and values. */
static void
test_vector_boundaries(void **state)
{
	static const char *const specials[] = {
		"\"", "\\", "\\n", "\\u00e9", "\x01", "\x1f", "\x7f", "\xc3\xa9", "\xe2\x82\xac",
		"\xf0\x9f\x98\x80", "\x80", "\xc3", "\xff", "\\ud83d\\ude00", "\\ud83d",
	};
	char doc[256];

	(void)state;
	for (size_t s = 0; s < SP_ARRAY_SIZE(specials); s++) {
		for (unsigned pre = 0; pre < 40; pre++) {
			for (unsigned post = 0; post < 20; post += 3) {
				int n = snprintf(doc, sizeof(doc),
						 "{\"k\":\"%.*s%s%.*s\",\"%.*s%s\":1}", (int)pre,
						 g_fill1, specials[s], (int)post, g_fill2,
						 (int)pre, g_fill3, specials[s]);

				assert_true(n > 0 && (size_t)n < sizeof(doc));
				check_agree(doc, (size_t)n);
			}
		}
	}
}

static void
test_zero_copy(void **state)
{
	const char *doc = "{\"plain\":\"abc\",\"esc\":\"a\\nb\",\"k\\u0065y\":\"\xc3\xa9\"}";
	struct sp_api_json js;
	struct sp_api_json_str key, v;

	(void)state;
	assert_int_equal(sp_api_json_init(&js, doc, strlen(doc), g_scratch, sizeof(g_scratch)), 0);
	assert_int_equal(sp_api_json_obj_enter(&js), 0);
	assert_int_equal(sp_api_json_obj_next(&js, &key), 1);
	assert_int_equal(key.escaped, 0);
	assert_ptr_equal(key.ptr, doc + 2);
	assert_int_equal(sp_api_json_value(&js, &v), SP_API_JSON_STRING);
	assert_int_equal(v.escaped, 0);
	assert_true(v.ptr > doc && v.ptr < doc + strlen(doc));
	assert_memory_equal(v.ptr, "abc", 3);
	assert_int_equal(sp_api_json_obj_next(&js, &key), 1);
	assert_int_equal(sp_api_json_value(&js, &v), SP_API_JSON_STRING);
	assert_int_equal(v.escaped, 1);
	assert_ptr_equal(v.ptr, g_scratch);
	assert_int_equal(v.len, 3);
	assert_memory_equal(v.ptr, "a\nb", 3);
	assert_int_equal(sp_api_json_obj_next(&js, &key), 1);
	assert_int_equal(key.escaped, 1);
	assert_int_equal(key.len, 3);
	assert_memory_equal(key.ptr, "key", 3);
	assert_ptr_equal(key.ptr, g_scratch + 3);
	assert_int_equal(sp_api_json_value(&js, &v), SP_API_JSON_STRING);
	assert_int_equal(v.len, 2);
	assert_int_equal(sp_api_json_obj_next(&js, &key), 0);
	assert_int_equal(sp_api_json_finish(&js), 0);
}

static void
test_scratch_and_size(void **state)
{
	struct sp_api_json js;
	char small[4];

	(void)state;
	assert_int_equal(sp_api_json_init(&js, "{\"a\":\"\\n\"}", 10, small, sizeof(small)),
			 -ENOSPC);
	assert_int_equal(sp_api_json_init(&js, "{}", 2, small, 2), 0);
	assert_int_equal(sp_api_json_init(&js, "", 0, NULL, 0), 0);
	assert_int_equal(sp_api_json_peek(&js), -EINVAL);
	/* The worst case for the arena: every byte of a value escaped. */
	{
		char doc[7 + 6 * 100 + 3];
		size_t n = 0;
		struct sp_api_json_str key, v;
		char exact[sizeof(doc)];

		memcpy(doc, "{\"a\":\"", 6);
		n = 6;
		for (unsigned i = 0; i < 100; i++) {
			memcpy(doc + n, "\\u00e9", 6);
			n += 6;
		}
		memcpy(doc + n, "\"}", 2);
		n += 2;
		assert_int_equal(sp_api_json_init(&js, doc, n, exact, n), 0);
		assert_int_equal(sp_api_json_obj_enter(&js), 0);
		assert_int_equal(sp_api_json_obj_next(&js, &key), 1);
		assert_int_equal(sp_api_json_value(&js, &v), SP_API_JSON_STRING);
		assert_int_equal(v.len, 200);
		assert_int_equal(sp_api_json_obj_next(&js, &key), 0);
		assert_int_equal(sp_api_json_finish(&js), 0);
	}
}

/* {"a": [[[...1...]]]} with `levels` values deep in all (the object is level 1). */
static size_t
deep_doc(char *buf, unsigned levels, bool scalar)
{
	size_t n = 0;
	unsigned arrays = levels - 1 - (scalar ? 1 : 0);

	memcpy(buf + n, "{\"a\":", 5);
	n += 5;
	memset(buf + n, '[', arrays);
	n += arrays;
	if (scalar) {
		buf[n++] = '1';
	}
	memset(buf + n, ']', arrays);
	n += arrays;
	buf[n++] = '}';
	return n;
}

static void
test_depth(void **state)
{
	static char buf[2 * DEEP_MAX + 16];
	int rc;

	(void)state;
	for (unsigned levels = SP_API_JSON_DEPTH_MAX - 1; levels <= SP_API_JSON_DEPTH_MAX + 1;
	     levels++) {
		for (int scalar = 0; scalar <= 1; scalar++) {
			size_t n = deep_doc(buf, levels, scalar);
			json_t *t = scan_doc(buf, n, &rc);

			if (levels <= SP_API_JSON_DEPTH_MAX) {
				assert_non_null(t);
			} else {
				assert_null(t);
				assert_int_equal(rc, -E2BIG);
			}
			json_decref(t);
			check_agree(buf, n);
		}
	}
}

static struct sp_api_json_str
num(const char *s)
{
	struct sp_api_json_str n = { s, (uint32_t)strlen(s), 0 };

	return n;
}

static void
test_numbers(void **state)
{
	(void)state;
	assert_int_equal(sp_api_json_num_int32(&(struct sp_api_json_str){ "0", 1, 0 }), 0);
	assert_int_equal(sp_api_json_num_int32(&(struct sp_api_json_str){ "-0", 2, 0 }), 0);
	struct {
		const char *text;
		int32_t i32;
		int64_t ms;
	} cases[] = {
		{ "10000", 10000, 10000000 },
		{ "10000.9", 10000, 10000900 },
		{ "-1.5", -1, -1500 },
		{ "2.9999999999999999999", 2, 2999 },
		{ "1e3", 1000, 1000000 },
		{ "1.5E1", 15, 15000 },
		{ "12345e-2", 123, 123450 },
		{ "0.0001", 0, 0 },
		{ "1e-999", 0, 0 },
		{ "2147483647", INT32_MAX, 2147483647000ll },
		{ "2147483648", INT32_MAX, 2147483648000ll },
		{ "-2147483648", INT32_MIN, -2147483648000ll },
		{ "-2147483649", INT32_MIN, -2147483649000ll },
		{ "1e999999999999999999", INT32_MAX, INT64_MAX },
		{ "-1e40", INT32_MIN, INT64_MIN },
		{ "1701760153.593", 1701760153, 1701760153593ll },
		{ "1701760153", 1701760153, 1701760153000ll },
		{ "1701760153.5939", 1701760153, 1701760153593ll },
		{ "0.00000000000000000000000000001e30", 10, 10000 },
		{ "000", 0, 0 },
		{ "9223372036854775.807", INT32_MAX, INT64_MAX },
		{ "9223372036854775.808", INT32_MAX, INT64_MAX },
		{ "9999999999999999.999", INT32_MAX, INT64_MAX },
		{ "-9223372036854775.808", INT32_MIN, INT64_MIN },
	};

	for (size_t i = 0; i < SP_ARRAY_SIZE(cases); i++) {
		struct sp_api_json_str s = num(cases[i].text);

		if (sp_api_json_num_int32(&s) != cases[i].i32 ||
		    sp_api_json_num_ms(&s) != cases[i].ms) {
			fprintf(stderr, "%s: %d %lld\n", cases[i].text, sp_api_json_num_int32(&s),
				(long long)sp_api_json_num_ms(&s));
		}
		assert_int_equal(sp_api_json_num_int32(&s), cases[i].i32);
		assert_true(sp_api_json_num_ms(&s) == cases[i].ms);
	}
}

static void
test_utf16_len(void **state)
{
	(void)state;
	assert_int_equal(sp_api_json_utf16_len("", 0), 0);
	assert_int_equal(sp_api_json_utf16_len("abc", 3), 3);
	assert_int_equal(sp_api_json_utf16_len("\xc3\xa9", 2), 1);
	assert_int_equal(sp_api_json_utf16_len("\xe2\x82\xac", 3), 1);
	assert_int_equal(sp_api_json_utf16_len("\xf0\x9f\x98\x80", 4), 2);
	assert_int_equal(sp_api_json_utf16_len("a\xf0\x9f\x98\x80z\xc3\xa9", 8), 5);
	{
		static const char e_acute[] = "\xc3\xa9";

		assert_int_equal(sp_api_json_utf8_len(e_acute, e_acute + 2), 2);
		assert_int_equal(sp_api_json_utf8_len(e_acute, e_acute + 1), 0);
		assert_int_equal(sp_api_json_utf8_len(e_acute + 2, e_acute + 3), 1); /* the NUL */
	}
}

/* Seeded mutations of the valid documents: flips, inserts, deletes, splices. */
static void
test_mutations(void **state)
{
	static const char alphabet[] = "{}[]:,\"\\ \n0123456789.eE+-tfnulrsaxu\x01\x7f\x80\xc3\xa9"
				       "\xed\xf0\xff";
	char doc[512];

	(void)state;
	for (unsigned r = 0; r < MUTATION_ROUNDS; r++) {
		const char *seed = g_valid[rng_next() % SP_ARRAY_SIZE(g_valid)];
		size_t n = strlen(seed);
		unsigned edits = 1 + (unsigned)(rng_next() % 4);

		memcpy(doc, seed, n);
		for (unsigned e = 0; e < edits && n + 2 < sizeof(doc); e++) {
			size_t at = n != 0 ? rng_next() % n : 0;
			char c = alphabet[rng_next() % (sizeof(alphabet) - 1)];

			switch (rng_next() % 3) {
			case 0:
				doc[at] = c;
				break;
			case 1:
				memmove(doc + at + 1, doc + at, n - at);
				doc[at] = c;
				n++;
				break;
			default:
				if (n > 0) {
					memmove(doc + at, doc + at + 1, n - at - 1);
					n--;
				}
				break;
			}
		}
		check_agree(doc, n);
	}
}

/* ---- Writer ---- */

static json_t *
parse_back(const char *buf, ssize_t len)
{
	json_error_t e;
	json_t *t;

	assert_true(len > 0);
	t = json_loadb(buf, (size_t)len, JSON_ALLOW_NUL, &e);
	if (t == NULL) {
		fprintf(stderr, "writer output does not parse (%s): %.*s\n", e.text, (int)len, buf);
	}
	assert_non_null(t);
	return t;
}

static void
test_write_errors(void **state)
{
	char buf[512];
	ssize_t n;

	(void)state;
	n = sp_api_json_write_error(buf, sizeof(buf), SP_KERR_SERIALIZATION, NULL, 0, true);
	assert_int_equal(n, strlen("{\"__type\":\"SerializationException\"}"));
	assert_memory_equal(buf, "{\"__type\":\"SerializationException\"}", (size_t)n);
	n = sp_api_json_write_error(buf, sizeof(buf), SP_KERR_SERIALIZATION, "x y", 3, true);
	assert_memory_equal(buf, "{\"__type\":\"SerializationException\",\"Message\":\"x y\"}",
			    (size_t)n);
	n = sp_api_json_write_error(buf, sizeof(buf), SP_KERR_RESOURCE_NOT_FOUND,
				    "Stream s under account 1 not found.", 35, false);
	assert_memory_equal(buf,
			    "{\"__type\":\"ResourceNotFoundException\",\"message\":\"Stream s "
			    "under account 1 not found.\"}",
			    (size_t)n);
	n = sp_api_json_write_error(buf, sizeof(buf), SP_KERR_INTERNAL_FAILURE, NULL, 0, false);
	assert_memory_equal(buf, "{\"__type\":\"InternalFailure\"}", (size_t)n);
	/* A message with everything that needs escaping. */
	{
		static const char msg[] = "q\" b\\ /\x01\x1f\b\f\n\r\t \x7f \xc3\xa9 \xff \xe2\x82";
		const char *want = "{\"__type\":\"ValidationException\",\"message\":\"q\\\" b\\\\ "
				   "/\\u0001\\u001f\\b\\f\\n\\r\\t \x7f \xc3\xa9 \\ufffd "
				   "\\ufffd\\ufffd\"}";
		json_t *t;

		n = sp_api_json_write_error(buf, sizeof(buf), SP_KERR_VALIDATION, msg,
					    sizeof(msg) - 1, false);
		assert_int_equal((size_t)n, strlen(want));
		assert_memory_equal(buf, want, (size_t)n);
		t = parse_back(buf, n);
		json_decref(t);
	}
	/* Message with a NUL byte: escaped, kept. */
	n = sp_api_json_write_error(buf, sizeof(buf), SP_KERR_VALIDATION, "a\0b", 3, false);
	assert_memory_equal(buf, "{\"__type\":\"ValidationException\",\"message\":\"a\\u0000b\"}",
			    (size_t)n);
}

static void
test_write_epoch(void **state)
{
	struct {
		int64_t ms;
		const char *want;
	} cases[] = {
		{ 1701760153593ll, "1701760153.593" },
		{ 1572297168000ll, "1572297168.000" },
		{ 5, "0.005" },
		{ 0, "0.000" },
		{ -1, "-0.001" },
		{ -1500, "-1.500" },
		{ INT64_MAX, "9223372036854775.807" },
		{ INT64_MIN, "-9223372036854775.808" },
		/* the ends of the thirteen-digit fast path (2001 to 2286) and just outside */
		{ 999999999999ll, "999999999.999" },
		{ 1000000000000ll, "1000000000.000" },
		{ 9999999999999ll, "9999999999.999" },
		{ 10000000000000ll, "10000000000.000" },
		{ 1000000000000000ll, "1000000000000.000" },
	};
	char buf[64];
	struct sp_api_jw w;

	(void)state;
	for (size_t i = 0; i < SP_ARRAY_SIZE(cases); i++) {
		sp_api_jw_init(&w, buf, sizeof(buf));
		sp_api_jw_epoch_ms(&w, cases[i].ms);
		assert_int_equal(sp_api_jw_finish(&w), (ssize_t)strlen(cases[i].want));
		assert_memory_equal(buf, cases[i].want, strlen(cases[i].want));
		/* And it reads back as the same milliseconds. */
		{
			struct sp_api_json_str s = { buf, (uint32_t)w.len, 0 };

			assert_true(sp_api_json_num_ms(&s) == cases[i].ms);
		}
	}
	sp_api_jw_init(&w, buf, sizeof(buf));
	sp_api_jw_arr_begin(&w);
	sp_api_jw_i64(&w, INT64_MIN);
	sp_api_jw_u64(&w, UINT64_MAX);
	sp_api_jw_bool(&w, true);
	sp_api_jw_raw(&w, "null", 4);
	sp_api_jw_arr_end(&w);
	assert_int_equal(sp_api_jw_finish(&w), 53);
	assert_memory_equal(buf, "[-9223372036854775808,18446744073709551615,true,null]", 53);
}

static void
test_write_shapes(void **state)
{
	static char buf[8192];
	struct sp_api_jw w;
	ssize_t n;

	(void)state;
	n = sp_api_json_write_put_record(buf, sizeof(buf), "shardId-000000000001", 20, "123", 3,
					 false);
	assert_memory_equal(buf, "{\"ShardId\":\"shardId-000000000001\",\"SequenceNumber\":\"123\","
			    "\"EncryptionType\":\"NONE\"}", (size_t)n);
	n = sp_api_json_write_put_record(buf, sizeof(buf), "shardId-000000000001", 20, "123", 3,
					 true);
	assert_int_equal(n, 80);
	assert_memory_equal(buf, "{\"ShardId\":\"shardId-000000000001\",\"SequenceNumber\":\"123\","
			    "\"EncryptionType\":\"KMS\"}", (size_t)n);
	n = sp_api_json_write_shard_iterator(buf, sizeof(buf), "AAAA/+==", 8);
	assert_memory_equal(buf, "{\"ShardIterator\":\"AAAA/+==\"}", (size_t)n);

	sp_api_jw_init(&w, buf, sizeof(buf));
	sp_api_jw_put_records_begin(&w, 1);
	sp_api_jw_put_records_ok(&w, "shardId-000000000000", 20, "1", 1);
	sp_api_jw_put_records_fail(&w, "InternalFailure", 15, "Internal Service Failure", 24);
	sp_api_jw_put_records_end(&w, false);
	n = sp_api_jw_finish(&w);
	assert_memory_equal(buf, "{\"FailedRecordCount\":1,\"Records\":[{\"SequenceNumber\":\"1\","
			    "\"ShardId\":\"shardId-000000000000\"},{\"ErrorCode\":"
			    "\"InternalFailure\",\"ErrorMessage\":\"Internal Service Failure\"}],"
			    "\"EncryptionType\":\"NONE\"}", (size_t)n);
	json_decref(parse_back(buf, n));
}

static void
test_write_get_records(void **state)
{
	static char buf[8192];
	static const uint8_t data[] = { 0, 1, 2, 0xfe, 0xff };
	struct sp_api_jw_child child = {
		"shardId-000000000002", { "shardId-000000000000", "shardId-000000000001" }, 2,
		"0", "340282366920938463463374607431768211455",
	};
	struct sp_api_jw_record rec = {
		"49600871682979337187563555549332609155523708941634633746", 56,
		1701760153593ll, data, sizeof(data), "k\xc3\xa9y", 4, "NONE",
	};
	struct sp_api_jw w;
	ssize_t n;
	json_t *t;

	(void)state;
	sp_api_jw_init(&w, buf, sizeof(buf));
	sp_api_jw_get_records_begin(&w);
	sp_api_jw_get_records_record(&w, &rec);
	rec.encryption = NULL;
	rec.data_len = 0;
	sp_api_jw_get_records_record(&w, &rec);
	sp_api_jw_get_records_end(&w, NULL, 0, 0, &child, 1);
	n = sp_api_jw_finish(&w);
	t = parse_back(buf, n);
	assert_int_equal(json_array_size(json_object_get(t, "Records")), 2);
	{
		json_t *r0 = json_array_get(json_object_get(t, "Records"), 0);
		json_t *r1 = json_array_get(json_object_get(t, "Records"), 1);

		assert_string_equal(json_string_value(json_object_get(r0, "Data")), "AAEC/v8=");
		assert_string_equal(json_string_value(json_object_get(r0, "PartitionKey")),
				    "k\xc3\xa9y");
		assert_true(json_real_value(json_object_get(r0, "ApproximateArrivalTimestamp")) ==
			    1701760153.593);
		assert_string_equal(json_string_value(json_object_get(r0, "EncryptionType")),
				    "NONE");
		assert_null(json_object_get(r1, "EncryptionType"));
		assert_string_equal(json_string_value(json_object_get(r1, "Data")), "");
	}
	assert_null(json_object_get(t, "NextShardIterator"));
	assert_int_equal(json_integer_value(json_object_get(t, "MillisBehindLatest")), 0);
	assert_string_equal(
		json_string_value(json_array_get(json_object_get(json_array_get(
			json_object_get(t, "ChildShards"), 0), "ParentShards"), 1)),
		"shardId-000000000001");
	json_decref(t);

	sp_api_jw_init(&w, buf, sizeof(buf));
	sp_api_jw_get_records_begin(&w);
	sp_api_jw_get_records_end(&w, "it", 2, 42, NULL, 0);
	n = sp_api_jw_finish(&w);
	assert_memory_equal(buf, "{\"Records\":[],\"NextShardIterator\":\"it\","
			    "\"MillisBehindLatest\":42}", (size_t)n);
}

/* Every capacity below the needed one: -ENOSPC, and not a byte past the capacity. */
static void
test_write_bounds(void **state)
{
	static const uint8_t data[40] = { 1, 2, 3 };
	char full[1024];
	char buf[1024 + 16];
	struct sp_api_jw_record rec = { "1", 1, 1000, data, sizeof(data), "key\n", 4, "NONE" };
	struct sp_api_jw w;
	ssize_t need;

	(void)state;
	for (size_t cap = 0; cap <= sizeof(full); cap++) {
		memset(buf, 0xa5, sizeof(buf));
		sp_api_jw_init(&w, buf, cap);
		sp_api_jw_get_records_begin(&w);
		sp_api_jw_get_records_record(&w, &rec);
		sp_api_jw_get_records_record(&w, &rec);
		sp_api_jw_get_records_end(&w, "n\x01", 2, 7, NULL, 0);
		need = sp_api_jw_finish(&w);
		for (size_t i = cap; i < sizeof(buf); i++) {
			assert_int_equal((uint8_t)buf[i], 0xa5);
		}
		if (need >= 0) {
			assert_true((size_t)need <= cap);
			json_decref(parse_back(buf, need));
			memcpy(full, buf, (size_t)need);
			/* The smallest capacity that fits gives the same bytes as a large one. */
			assert_true(cap == (size_t)need || memcmp(full, buf, (size_t)need) == 0);
			break;
		}
		assert_int_equal(need, -ENOSPC);
	}
	assert_int_equal(sp_api_json_write_error(buf, 10, SP_KERR_VALIDATION, "m", 1, false),
			 -ENOSPC);
	assert_int_equal(sp_api_json_write_put_record(buf, 0, "s", 1, "1", 1, false), -ENOSPC);
}

/* Writer strings read back through the scanner give the original bytes (valid UTF-8). */
static void
test_write_roundtrip(void **state)
{
	char src[64];
	char buf[512];
	struct sp_api_jw w;

	(void)state;
	for (unsigned r = 0; r < 2000; r++) {
		size_t n = rng_next() % sizeof(src);
		struct sp_api_json js;
		struct sp_api_json_str key, v;
		ssize_t len;

		for (size_t i = 0; i < n; i++) {
			src[i] = (char)(rng_next() % 0x80); /* ASCII, controls and NUL included */
		}
		sp_api_jw_init(&w, buf, sizeof(buf));
		sp_api_jw_obj_begin(&w);
		sp_api_jw_kstr(&w, "k", src, n);
		sp_api_jw_obj_end(&w);
		len = sp_api_jw_finish(&w);
		assert_true(len > 0);
		assert_int_equal(sp_api_json_init(&js, buf, (size_t)len, g_scratch,
						  sizeof(g_scratch)), 0);
		assert_int_equal(sp_api_json_obj_enter(&js), 0);
		assert_int_equal(sp_api_json_obj_next(&js, &key), 1);
		assert_int_equal(sp_api_json_value(&js, &v), SP_API_JSON_STRING);
		assert_int_equal(v.len, n);
		assert_memory_equal(v.ptr, src, n);
		assert_int_equal(sp_api_json_obj_next(&js, &key), 0);
		assert_int_equal(sp_api_json_finish(&js), 0);
	}
}

/* ---- Writer: the one-piece paths against a reference built byte by byte ---- */

#define REF_BYTES (64u * 1024u)
#define REF_RECORDS 8u
#define REF_ROUNDS 3000u

struct ref {
	char buf[REF_BYTES];
	size_t len;
};

static void
ref_put(struct ref *r, const char *s, size_t n)
{
	assert_true(n <= sizeof(r->buf) - r->len);
	memcpy(r->buf + r->len, s, n);
	r->len += n;
}

static void
ref_lit(struct ref *r, const char *s)
{
	ref_put(r, s, strlen(s));
}

/* The escaping api_json.h documents, one byte at a time. */
static void
ref_str(struct ref *r, const char *s, size_t len)
{
	ref_lit(r, "\"");
	for (size_t i = 0; i < len;) {
		uint8_t c = (uint8_t)s[i];
		char e[8];
		unsigned n = 1;

		if (c == '"' || c == '\\') {
			e[0] = '\\';
			e[1] = (char)c;
			ref_put(r, e, 2);
		} else if (c < 0x20) {
			const char *sh = c == '\b'   ? "\\b"
					 : c == '\f' ? "\\f"
					 : c == '\n' ? "\\n"
					 : c == '\r' ? "\\r"
					 : c == '\t' ? "\\t"
						     : NULL;

			if (sh != NULL) {
				ref_lit(r, sh);
			} else {
				snprintf(e, sizeof(e), "\\u%04x", c);
				ref_lit(r, e);
			}
		} else if (c < 0x80) {
			ref_put(r, s + i, 1);
		} else if ((n = sp_api_json_utf8_len(s + i, s + len)) != 0) {
			ref_put(r, s + i, n);
		} else {
			ref_lit(r, "\\ufffd");
			n = 1;
		}
		i += n;
	}
	ref_lit(r, "\"");
}

static void
ref_epoch(struct ref *r, int64_t ms)
{
	uint64_t a = ms < 0 ? 0 - (uint64_t)ms : (uint64_t)ms;
	char t[32];

	snprintf(t, sizeof(t), "%s%llu.%03llu", ms < 0 ? "-" : "", (unsigned long long)(a / 1000),
		 (unsigned long long)(a % 1000));
	ref_lit(r, t);
}

/* Random text: digits, printable ASCII, or anything with escapes and (in)valid UTF-8. */
static size_t
rnd_text(char *s, size_t max, unsigned kind)
{
	static const char odd[] = "\"\\\x01\x1f\n\t\b\x7f\xc3\xa9\xe2\x82\xac"
				  "\xf0\x9f\x98\x80\xff\xc3\xed";
	size_t n = rng_next() % (max + 1);

	for (size_t i = 0; i < n; i++) {
		if (kind == 0) {
			s[i] = (char)('0' + rng_next() % 10);
		} else if (kind == 1 || rng_next() % 8 != 0) {
			s[i] = (char)(0x20 + rng_next() % 0x60); /* 0x7f included */
			s[i] = s[i] == '"' || s[i] == '\\' ? 'q' : s[i];
		} else {
			s[i] = odd[rng_next() % (sizeof(odd) - 1)];
		}
	}
	/* one byte to escape at any offset, vector boundaries included */
	if (n > 0 && kind != 1 && rng_next() % 4 == 0) {
		s[rng_next() % n] = odd[rng_next() % (sizeof(odd) - 1)];
	}
	return n;
}

static int64_t
rnd_ms(void)
{
	static const int64_t edge[] = { 0, -1, 999, 1000, 999999999999ll, 1000000000000ll,
					9999999999999ll, 10000000000000ll, INT64_MAX, INT64_MIN };

	switch (rng_next() % 6) {
	case 0:
		return (int64_t)rng_next();
	case 1:
		return edge[rng_next() % SP_ARRAY_SIZE(edge)];
	case 2:
		return (int64_t)(rng_next() % 100000u) - 50000;
	default:
		return 1000000000000ll + (int64_t)(rng_next() % 9000000000000ull);
	}
}

struct rnd_rec {
	char seq[64], id[48], key[300], enc[16], msg[80];
	uint8_t data[200];
	size_t seq_len, id_len, key_len, msg_len, data_len;
	int64_t ms;
	bool fail, has_enc;
};

static void
rnd_rec(struct rnd_rec *x)
{
	size_t n;

	x->seq_len = rnd_text(x->seq, 56, rng_next() % 8 == 0 ? 2 : 0);
	x->id_len = rnd_text(x->id, 40, rng_next() % 8 == 0 ? 2 : 1);
	x->key_len = rnd_text(x->key, rng_next() % 4 == 0 ? 256 : 40, rng_next() % 3 == 0 ? 2 : 1);
	x->msg_len = rnd_text(x->msg, 70, 2);
	x->data_len = rng_next() % 160;
	for (size_t i = 0; i < x->data_len; i++) {
		x->data[i] = (uint8_t)rng_next();
	}
	x->ms = rnd_ms();
	x->fail = rng_next() % 5 == 0;
	x->has_enc = rng_next() % 3 != 0;
	n = rnd_text(x->enc, 12, rng_next() % 6 == 0 ? 2 : 1);
	x->enc[n] = '\0'; /* a NUL inside cuts it: strlen() is what the writer takes */
}

static void
ref_get_records(struct ref *r, const struct rnd_rec *x, unsigned n, const char *next,
		size_t next_len)
{
	char b64[SP_ARRAY_SIZE(x->data) * 2];

	r->len = 0;
	ref_lit(r, "{\"Records\":[");
	for (unsigned i = 0; i < n; i++) {
		ref_lit(r, i > 0 ? ",{\"SequenceNumber\":" : "{\"SequenceNumber\":");
		ref_str(r, x[i].seq, x[i].seq_len);
		ref_lit(r, ",\"ApproximateArrivalTimestamp\":");
		ref_epoch(r, x[i].ms);
		ref_lit(r, ",\"Data\":\"");
		ref_put(r, b64, sp_b64_encode(x[i].data, x[i].data_len, b64));
		ref_lit(r, "\",\"PartitionKey\":");
		ref_str(r, x[i].key, x[i].key_len);
		if (x[i].has_enc) {
			ref_lit(r, ",\"EncryptionType\":");
			ref_str(r, x[i].enc, strlen(x[i].enc));
		}
		ref_lit(r, "}");
	}
	ref_lit(r, "],\"NextShardIterator\":");
	ref_str(r, next, next_len);
	ref_lit(r, ",\"MillisBehindLatest\":7}");
}

static void
ref_put_records(struct ref *r, const struct rnd_rec *x, unsigned n)
{
	r->len = 0;
	ref_lit(r, "{\"FailedRecordCount\":3,\"Records\":[");
	for (unsigned i = 0; i < n; i++) {
		ref_lit(r, i > 0 ? ",{" : "{");
		ref_lit(r, x[i].fail ? "\"ErrorCode\":" : "\"SequenceNumber\":");
		ref_str(r, x[i].fail ? x[i].id : x[i].seq, x[i].fail ? x[i].id_len : x[i].seq_len);
		ref_lit(r, x[i].fail ? ",\"ErrorMessage\":" : ",\"ShardId\":");
		ref_str(r, x[i].fail ? x[i].msg : x[i].id, x[i].fail ? x[i].msg_len : x[i].id_len);
		ref_lit(r, "}");
	}
	ref_lit(r, "],\"EncryptionType\":\"NONE\"}");
}

static ssize_t
jw_get_records(char *buf, size_t cap, const struct rnd_rec *x, unsigned n, const char *next,
	       size_t next_len)
{
	struct sp_api_jw w;

	sp_api_jw_init(&w, buf, cap);
	sp_api_jw_get_records_begin(&w);
	for (unsigned i = 0; i < n; i++) {
		struct sp_api_jw_record rec = {
		    x[i].seq, x[i].seq_len, x[i].ms, x[i].data, x[i].data_len,
		    x[i].key, x[i].key_len, x[i].has_enc ? x[i].enc : NULL,
		};

		sp_api_jw_get_records_record(&w, &rec);
	}
	sp_api_jw_get_records_end(&w, next, next_len, 7, NULL, 0);
	return sp_api_jw_finish(&w);
}

static ssize_t
jw_put_records(char *buf, size_t cap, const struct rnd_rec *x, unsigned n)
{
	struct sp_api_jw w;

	sp_api_jw_init(&w, buf, cap);
	sp_api_jw_put_records_begin(&w, 3);
	for (unsigned i = 0; i < n; i++) {
		if (x[i].fail) {
			sp_api_jw_put_records_fail(&w, x[i].id, x[i].id_len, x[i].msg,
						   x[i].msg_len);
		} else {
			sp_api_jw_put_records_ok(&w, x[i].id, x[i].id_len, x[i].seq, x[i].seq_len);
		}
	}
	sp_api_jw_put_records_end(&w, false);
	return sp_api_jw_finish(&w);
}

/*
 * The body in a buffer of every interesting capacity: the exact size and its neighbours, the
 * sizes where the one-piece paths stop fitting, and random ones. It fits exactly when cap is
 * at least its length, with the same bytes; it never writes past cap.
 */
static void
check_caps(const struct ref *want, int shape, const struct rnd_rec *x, unsigned n, const char *next,
	   size_t next_len)
{
	static char buf[REF_BYTES + 64];
	size_t caps[] = { want->len, want->len - 1, want->len + 1, want->len + 31, want->len + 33,
			  want->len / 2, rng_next() % want->len, want->len + rng_next() % 64, 0 };

	for (size_t c = 0; c < SP_ARRAY_SIZE(caps); c++) {
		size_t cap = caps[c];
		ssize_t got;

		memset(buf, 0xa5, cap + 64);
		if (shape == 0) {
			got = jw_get_records(buf, cap, x, n, next, next_len);
		} else if (shape == 1) {
			got = jw_put_records(buf, cap, x, n);
		} else {
			got = sp_api_json_write_put_record(buf, cap, x->id, x->id_len, x->seq,
							   x->seq_len, false);
		}
		for (size_t i = cap; i < cap + 64; i++) {
			assert_int_equal((uint8_t)buf[i], 0xa5);
		}
		if (cap < want->len) {
			assert_int_equal(got, -ENOSPC);
			continue;
		}
		if (got != (ssize_t)want->len || memcmp(buf, want->buf, want->len) != 0) {
			fprintf(stderr, "cap %zu: got %zd bytes\n%.*s\nwant %zu\n%.*s\n", cap, got,
				(int)SP_MAX(got, 0), buf, want->len, (int)want->len, want->buf);
			fail();
		}
	}
}

static void
test_write_records_reference(void **state)
{
	static struct rnd_rec x[REF_RECORDS];
	static struct ref want;
	char next[80];

	(void)state;
	for (unsigned round = 0; round < REF_ROUNDS; round++) {
		unsigned n = (unsigned)(rng_next() % (REF_RECORDS + 1));
		size_t next_len = rnd_text(next, 70, 2);

		for (unsigned i = 0; i < n; i++) {
			rnd_rec(&x[i]);
		}
		ref_get_records(&want, x, n, next, next_len);
		check_caps(&want, 0, x, n, next, next_len);
		ref_put_records(&want, x, n);
		check_caps(&want, 1, x, n, NULL, 0);
		if (n > 0) {
			want.len = 0;
			ref_lit(&want, "{\"ShardId\":");
			ref_str(&want, x->id, x->id_len);
			ref_lit(&want, ",\"SequenceNumber\":");
			ref_str(&want, x->seq, x->seq_len);
			ref_lit(&want, ",\"EncryptionType\":\"NONE\"}");
			check_caps(&want, 2, x, 1, NULL, 0);
		}
	}
}

/* A string with one byte to escape at every offset, at every length around 8 and 16. */
static void
test_write_str_offsets(void **state)
{
	static const char odd[] = { '"', '\\', '\n', 0x01, 0x1f, (char)0x80, (char)0xc3, 0x7f };
	static char buf[256];
	static struct ref want;
	char src[48];
	struct sp_api_jw w;

	(void)state;
	for (size_t len = 0; len <= 40; len++) {
		for (size_t at = 0; at <= len; at++) {
			for (size_t k = 0; k < sizeof(odd); k++) {
				memset(src, 'a' + (int)(len % 26), sizeof(src));
				if (at < len) {
					src[at] = odd[k];
				}
				want.len = 0;
				ref_lit(&want, "[1,");
				ref_str(&want, src, len);
				ref_lit(&want, "]");
				sp_api_jw_init(&w, buf, sizeof(buf));
				sp_api_jw_arr_begin(&w);
				sp_api_jw_raw(&w, "1", 1);
				sp_api_jw_str(&w, src, len);
				sp_api_jw_arr_end(&w);
				assert_int_equal(sp_api_jw_finish(&w), (ssize_t)want.len);
				assert_memory_equal(buf, want.buf, want.len);
			}
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_docs),
		cmocka_unit_test(test_invalid_docs),
		cmocka_unit_test(test_vector_boundaries),
		cmocka_unit_test(test_zero_copy),
		cmocka_unit_test(test_scratch_and_size),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_utf16_len),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_write_errors),
		cmocka_unit_test(test_write_epoch),
		cmocka_unit_test(test_write_shapes),
		cmocka_unit_test(test_write_get_records),
		cmocka_unit_test(test_write_bounds),
		cmocka_unit_test(test_write_roundtrip),
		cmocka_unit_test(test_write_records_reference),
		cmocka_unit_test(test_write_str_offsets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
