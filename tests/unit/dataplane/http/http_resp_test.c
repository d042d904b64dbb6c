/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/http/http_resp.c: the reason-phrase table, exact response heads,
 * -ENOSPC at every buffer size short of the full head (exact-size heap buffers, so ASan sees
 * any write past the end, and the buffer never holds a partial field), -EINVAL for names
 * and values that could split a response, sticky errors, and the IMF-fixdate formatter
 * against RFC 9110's example, fixed dates (leap days, century years, the range ends) and
 * glibc's gmtime_r() over random instants from year 0000 to 9999.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../sp_test.h"

#include "http.h"

#define EPOCH_MIN INT64_C(-62167219200) /* 0000-01-01T00:00:00Z */
#define EPOCH_MAX INT64_C(253402300799) /* 9999-12-31T23:59:59Z */
#define RANDOM_DATES 200000u

static uint64_t g_rng = 0x243f6a8885a308d3ull;

static uint64_t
rng_next(void)
{
	g_rng ^= g_rng << 13;
	g_rng ^= g_rng >> 7;
	g_rng ^= g_rng << 17;
	return g_rng;
}

static void
test_reasons(void **state)
{
	static const struct {
		unsigned status;
		const char *reason;
	} table[] = {
		{100, "Continue"},
		{200, "OK"},
		{400, "Bad Request"},
		{403, "Forbidden"},
		{404, "Not Found"},
		{408, "Request Timeout"},
		{411, "Length Required"},
		{413, "Content Too Large"},
		{414, "URI Too Long"},
		{431, "Request Header Fields Too Large"},
		{500, "Internal Server Error"},
		{501, "Not Implemented"},
		{503, "Service Unavailable"},
		{505, "HTTP Version Not Supported"},
	};

	(void)state;
	for (size_t i = 0; i < SP_ARRAY_SIZE(table); i++) {
		assert_string_equal(sp_http_reason(table[i].status), table[i].reason);
	}
	assert_string_equal(sp_http_reason(299), "");
	assert_string_equal(sp_http_reason(0), "");
	assert_string_equal(sp_http_reason(1000), "");
}

/* The full head the server writes for a reply, byte for byte. */
static int
write_reply(struct sp_http_resp *r, char *buf, size_t cap)
{
	sp_http_resp_init(r, buf, cap);
	(void)sp_http_resp_status(r, 413);
	(void)sp_http_resp_header_str(r, "x-amzn-RequestId", "a-b-c");
	(void)sp_http_resp_header(r, "Content-Type", 12, "application/x-amz-json-1.1", 26);
	(void)sp_http_resp_content_length(r, 12345);
	(void)sp_http_resp_date(r, 784111777);
	(void)sp_http_resp_header(r, "X-Empty", 7, NULL, 0);
	(void)sp_http_resp_close(r);
	return sp_http_resp_end(r);
}

static const char g_reply[] = "HTTP/1.1 413 Content Too Large\r\n"
			      "x-amzn-RequestId: a-b-c\r\n"
			      "Content-Type: application/x-amz-json-1.1\r\n"
			      "Content-Length: 12345\r\n"
			      "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
			      "X-Empty: \r\n"
			      "Connection: close\r\n"
			      "\r\n";

static void
test_full_head(void **state)
{
	char buf[512];
	struct sp_http_resp r;
	int n;

	(void)state;
	n = write_reply(&r, buf, sizeof(buf));
	assert_int_equal(n, sizeof(g_reply) - 1);
	assert_memory_equal(buf, g_reply, (size_t)n);
	/* 100 Continue, a status outside the table (the SP before the empty reason stays) */
	sp_http_resp_init(&r, buf, sizeof(buf));
	assert_int_equal(sp_http_resp_status(&r, 100), 0);
	assert_int_equal(sp_http_resp_end(&r), 25);
	assert_memory_equal(buf, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	sp_http_resp_init(&r, buf, sizeof(buf));
	assert_int_equal(sp_http_resp_status(&r, 299), 0);
	assert_int_equal(sp_http_resp_content_length(&r, 0), 0);
	assert_int_equal(sp_http_resp_content_length(&r, UINT64_MAX), 0);
	n = sp_http_resp_end(&r);
	assert_int_equal(n, 15 + 19 + 38 + 2);
	assert_memory_equal(buf, "HTTP/1.1 299 \r\nContent-Length: 0\r\n"
				 "Content-Length: 18446744073709551615\r\n\r\n", (size_t)n);
}

/*
 * Every capacity up to the full head: -ENOSPC until it fits, no byte past cap, and what was
 * written is exactly the fields that fit before the first that did not (whole fields only).
 */
static void
test_no_space(void **state)
{
	size_t full = sizeof(g_reply) - 1;

	(void)state;
	for (size_t cap = 0; cap <= full; cap++) {
		char *buf = malloc(cap > 0 ? cap : 1);
		struct sp_http_resp r;
		int n = write_reply(&r, cap > 0 ? buf : NULL, cap);

		assert_int_equal(n, cap == full ? (int)full : -ENOSPC);
		assert_true(r.len <= cap);
		if (r.len > 0) {
			assert_memory_equal(buf, g_reply, r.len);
			assert_memory_equal(g_reply + r.len - 2, "\r\n", 2);
		}
		/* the largest field boundary within cap */
		for (size_t b = SP_MAX(r.len + 1, (size_t)2); b <= cap; b++) {
			assert_false(g_reply[b - 2] == '\r' && g_reply[b - 1] == '\n');
		}
		free(buf);
	}
}

static void
test_invalid_fields(void **state)
{
	static const struct {
		const char *name;
		const char *value;
	} bad[] = {
		{"X", "a\r\nInjected: 1"}, {"X", "a\nb"},  {"X", "a\rb"}, {"X", "\x01"},
		{"X", "\x7f"},		   {"", "v"},	   {"X Y", "v"},  {"X:", "v"},
		{"X\r\n", "v"},		   {"(X)", "v"},
	};
	char buf[256];
	struct sp_http_resp r;

	(void)state;
	for (size_t i = 0; i < SP_ARRAY_SIZE(bad); i++) {
		sp_http_resp_init(&r, buf, sizeof(buf));
		assert_int_equal(sp_http_resp_status(&r, 200), 0);
		assert_int_equal(sp_http_resp_header_str(&r, bad[i].name, bad[i].value), -EINVAL);
		assert_int_equal(r.len, 17); /* nothing of the bad field was written */
		/* sticky */
		assert_int_equal(sp_http_resp_close(&r), -EINVAL);
		assert_int_equal(sp_http_resp_end(&r), -EINVAL);
	}
	/* obs-text, SP and HTAB are valid value octets */
	sp_http_resp_init(&r, buf, sizeof(buf));
	assert_int_equal(sp_http_resp_status(&r, 200), 0);
	assert_int_equal(sp_http_resp_header_str(&r, "X-T", "caf\xc3\xa9 \tz"), 0);
	assert_int_equal(sp_http_resp_end(&r), 17 + 15 + 2);
	/* a date outside 0000..9999 */
	sp_http_resp_init(&r, buf, sizeof(buf));
	assert_int_equal(sp_http_resp_date(&r, EPOCH_MAX + 1), -EINVAL);
	assert_int_equal(r.len, 0);
	assert_int_equal(sp_http_resp_end(&r), -EINVAL);
}

static void
check_date(int64_t t, const char *want)
{
	char out[SP_HTTP_DATE_LEN + 1];

	memset(out, 'z', sizeof(out));
	assert_int_equal(sp_http_format_date(t, out, sizeof(out)), SP_HTTP_DATE_LEN);
	assert_string_equal(out, want);
}

static void
test_date_fixed(void **state)
{
	char out[64];

	(void)state;
	check_date(784111777, "Sun, 06 Nov 1994 08:49:37 GMT"); /* RFC 9110 §5.6.7 */
	check_date(0, "Thu, 01 Jan 1970 00:00:00 GMT");
	check_date(-1, "Wed, 31 Dec 1969 23:59:59 GMT");
	check_date(-86400, "Wed, 31 Dec 1969 00:00:00 GMT");
	check_date(-86401, "Tue, 30 Dec 1969 23:59:59 GMT");
	check_date(951782400, "Tue, 29 Feb 2000 00:00:00 GMT");
	check_date(951868800, "Wed, 01 Mar 2000 00:00:00 GMT");
	check_date(4107542400, "Mon, 01 Mar 2100 00:00:00 GMT"); /* 2100 is not a leap year */
	check_date(4107542399, "Sun, 28 Feb 2100 23:59:59 GMT");
	check_date(1709164800, "Thu, 29 Feb 2024 00:00:00 GMT");
	check_date(2147483647, "Tue, 19 Jan 2038 03:14:07 GMT");
	check_date(2147483648, "Tue, 19 Jan 2038 03:14:08 GMT");
	check_date(-2208988800, "Mon, 01 Jan 1900 00:00:00 GMT");
	check_date(EPOCH_MIN, "Sat, 01 Jan 0000 00:00:00 GMT");
	check_date(EPOCH_MAX, "Fri, 31 Dec 9999 23:59:59 GMT");
	assert_int_equal(sp_http_format_date(EPOCH_MIN - 1, out, sizeof(out)), -EINVAL);
	assert_int_equal(sp_http_format_date(EPOCH_MAX + 1, out, sizeof(out)), -EINVAL);
	assert_int_equal(sp_http_format_date(INT64_MIN, out, sizeof(out)), -EINVAL);
	assert_int_equal(sp_http_format_date(INT64_MAX, out, sizeof(out)), -EINVAL);
	assert_int_equal(sp_http_format_date(0, out, SP_HTTP_DATE_LEN), -ENOSPC);
	assert_int_equal(sp_http_format_date(0, NULL, 0), -ENOSPC);
}

/* Reference: glibc's gmtime_r() fields, printed with the same layout. */
static void
ref_date(int64_t t, char *out, size_t cap)
{
	static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t tt = (time_t)t;
	struct tm tm;

	assert_non_null(gmtime_r(&tt, &tm));
	snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d GMT", wd[tm.tm_wday], tm.tm_mday,
		 mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void
test_date_random(void **state)
{
	uint64_t span = (uint64_t)(EPOCH_MAX - EPOCH_MIN) + 1;
	char got[SP_HTTP_DATE_LEN + 1], want[64];

	(void)state;
	for (unsigned i = 0; i < RANDOM_DATES; i++) {
		int64_t t;

		if (i % 4 == 0) { /* near 1970, where the floor division matters */
			t = (int64_t)(rng_next() % 400000000u) - 200000000;
		} else {
			t = EPOCH_MIN + (int64_t)(rng_next() % span);
		}
		assert_int_equal(sp_http_format_date(t, got, sizeof(got)), SP_HTTP_DATE_LEN);
		ref_date(t, want, sizeof(want));
		assert_string_equal(got, want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reasons),
		cmocka_unit_test(test_full_head),
		cmocka_unit_test(test_no_space),
		cmocka_unit_test(test_invalid_fields),
		cmocka_unit_test(test_date_fixed),
		cmocka_unit_test(test_date_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
