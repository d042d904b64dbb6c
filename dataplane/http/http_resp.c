/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HTTP/1.1 response heads (RFC 9112 §4 status line, RFC 9110 §5.6.7 IMF-fixdate). It owns no
 * state beyond the caller's struct sp_http_resp: bytes go straight into the caller's buffer,
 * appended in call order, and the first failure sticks so that a caller may check once at
 * sp_http_resp_end(). Invariant: len <= cap, and the buffer never holds a partial field (a
 * field that does not fit is not written at all). Runs on any lcore; no allocation, no
 * locale, no time zone and no syscall (the date is computed from epoch seconds).
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <spate/assert.h>

#include "http.h"
#include "http_internal.h"

/* Years an IMF-fixdate can show (4DIGIT): 0000-01-01T00:00:00Z .. 9999-12-31T23:59:59Z. */
#define RESP_EPOCH_MIN INT64_C(-62167219200)
#define RESP_EPOCH_MAX INT64_C(253402300799)
#define RESP_DAY_S 86400
#define RESP_U64_DIGITS 20u

const char *
sp_http_reason(unsigned status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large"; /* RFC 9110 §15.5.14 (was "Payload Too Large") */
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large"; /* RFC 6585 §5 */
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "";
	}
}

/* ---- IMF-fixdate ---- */

/*
 * Proleptic Gregorian date of a day count from 1970-01-01. Counting from 0000-03-01 puts the
 * leap day at the end of each year and the irregular century years at the end of each
 * 400-year era (146097 days), so every step is a plain division.
 */
static void
resp_civil(int64_t days, int64_t *year, unsigned *month, unsigned *mday)
{
	int64_t z = days + 719468; /* days from 0000-03-01 to 1970-01-01 */
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	uint32_t doe = (uint32_t)(z - era * 146097);			       /* 0..146096 */
	uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
	uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);	       /* 0..365 */
	uint32_t mp = (5 * doy + 2) / 153;				       /* 0 = March */

	SP_VERIFY(doe <= 146096 && yoe <= 399 && doy <= 365 && mp <= 11);
	*mday = doy - (153 * mp + 2) / 5 + 1;
	*month = mp < 10 ? mp + 3 : mp - 9;
	*year = era * 400 + (int64_t)yoe + (*month <= 2 ? 1 : 0);
	SP_ASSERT(*mday >= 1 && *mday <= 31 && *month >= 1 && *month <= 12);
}

static void
resp_2d(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

/* Exactly SP_HTTP_DATE_LEN bytes, no NUL. epoch_s must be within RESP_EPOCH_MIN..MAX. */
static void
resp_date29(int64_t epoch_s, char *out)
{
	static const char wday[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	int64_t days = epoch_s / RESP_DAY_S;
	int64_t sec = epoch_s % RESP_DAY_S;
	int64_t year;
	unsigned month, mday;

	SP_VERIFY(epoch_s >= RESP_EPOCH_MIN && epoch_s <= RESP_EPOCH_MAX);
	if (sec < 0) { /* floor, not truncation, before 1970 */
		sec += RESP_DAY_S;
		days--;
	}
	resp_civil(days, &year, &month, &mday);
	SP_VERIFY(year >= 0 && year <= 9999);
	memcpy(out, wday[((days % 7) + 7 + 4) % 7], 3); /* 1970-01-01 was a Thursday */
	memcpy(out + 3, ", ", 2);
	resp_2d(out + 5, mday);
	out[7] = ' ';
	memcpy(out + 8, mon[month - 1], 3);
	out[11] = ' ';
	resp_2d(out + 12, (unsigned)(year / 100));
	resp_2d(out + 14, (unsigned)(year % 100));
	out[16] = ' ';
	resp_2d(out + 17, (unsigned)(sec / 3600));
	out[19] = ':';
	resp_2d(out + 20, (unsigned)(sec / 60 % 60));
	out[22] = ':';
	resp_2d(out + 23, (unsigned)(sec % 60));
	memcpy(out + 25, " GMT", 4);
}

int
sp_http_format_date(int64_t epoch_s, char *out, size_t cap)
{
	SP_VERIFY(out != NULL || cap == 0);
	if (cap < SP_HTTP_DATE_LEN + 1) {
		return -ENOSPC;
	}
	if (epoch_s < RESP_EPOCH_MIN || epoch_s > RESP_EPOCH_MAX) {
		return -EINVAL;
	}
	resp_date29(epoch_s, out);
	out[SP_HTTP_DATE_LEN] = '\0';
	SP_ASSERT(strlen(out) == SP_HTTP_DATE_LEN);
	return (int)SP_HTTP_DATE_LEN;
}

/* ---- the writer ---- */

void
sp_http_resp_init(struct sp_http_resp *r, char *buf, size_t cap)
{
	SP_VERIFY(r != NULL);
	SP_VERIFY(buf != NULL || cap == 0);
	r->buf = buf;
	r->cap = cap;
	r->len = 0;
	r->err = 0;
}

/* Room for n more bytes, or NULL with the sticky error set. */
static char *
resp_reserve(struct sp_http_resp *r, size_t n)
{
	char *p;

	SP_VERIFY(r->len <= r->cap);
	if (r->err != 0) {
		return NULL;
	}
	if (n > r->cap - r->len) {
		r->err = -ENOSPC;
		return NULL;
	}
	p = r->buf + r->len;
	r->len += n;
	return p;
}

static size_t
resp_u64(char *out, uint64_t v)
{
	char tmp[RESP_U64_DIGITS];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	SP_VERIFY(n <= RESP_U64_DIGITS);
	for (size_t i = 0; i < n; i++) {
		out[i] = tmp[n - 1 - i];
	}
	return n;
}

int
sp_http_resp_status(struct sp_http_resp *r, unsigned status)
{
	const char *reason = sp_http_reason(status);
	size_t rlen = strlen(reason);
	char *p;

	SP_VERIFY(status >= 100 && status <= 599);
	SP_VERIFY(r->len == 0); /* the status line comes first */
	p = resp_reserve(r, 9 + 3 + 1 + rlen + 2);
	if (p == NULL) {
		return r->err;
	}
	memcpy(p, "HTTP/1.1 ", 9);
	p[9] = (char)('0' + status / 100);
	resp_2d(p + 10, status % 100);
	p[12] = ' '; /* kept even with an empty reason (RFC 9112 §4) */
	memcpy(p + 13, reason, rlen);
	memcpy(p + 13 + rlen, "\r\n", 2);
	return 0;
}

/* A field name is a token; a value is field-content only (no CR, LF, NUL or other CTL). */
static bool
resp_field_ok(const char *name, size_t name_len, const char *value, size_t value_len)
{
	if (name_len == 0) {
		return false;
	}
	for (size_t i = 0; i < name_len; i++) {
		if (!http_is_tchar((uint8_t)name[i])) {
			return false;
		}
	}
	for (size_t i = 0; i < value_len; i++) {
		if (!http_is_field_char((uint8_t)value[i])) {
			return false;
		}
	}
	return true;
}

int
sp_http_resp_header(struct sp_http_resp *r, const char *name, size_t name_len,
		    const char *value, size_t value_len)
{
	char *p;

	SP_VERIFY(name != NULL && (value != NULL || value_len == 0));
	SP_VERIFY(r->len <= r->cap);
	if (r->err != 0) {
		return r->err;
	}
	/* a value echoed from a request must not split the response (RFC 9112 §11.1) */
	if (!resp_field_ok(name, name_len, value, value_len)) {
		r->err = -EINVAL;
		return r->err;
	}
	p = resp_reserve(r, name_len + 2 + value_len + 2);
	if (p == NULL) {
		return r->err;
	}
	memcpy(p, name, name_len);
	memcpy(p + name_len, ": ", 2);
	if (value_len > 0) {
		memcpy(p + name_len + 2, value, value_len);
	}
	memcpy(p + name_len + 2 + value_len, "\r\n", 2);
	return 0;
}

int
sp_http_resp_header_str(struct sp_http_resp *r, const char *name, const char *value)
{
	SP_VERIFY(name != NULL && value != NULL);
	return sp_http_resp_header(r, name, strlen(name), value, strlen(value));
}

int
sp_http_resp_content_length(struct sp_http_resp *r, uint64_t len)
{
	char v[RESP_U64_DIGITS];
	size_t n = resp_u64(v, len);

	SP_VERIFY(n > 0 && n <= sizeof(v));
	return sp_http_resp_header(r, "Content-Length", 14, v, n);
}

int
sp_http_resp_date(struct sp_http_resp *r, int64_t epoch_s)
{
	char *p;

	SP_VERIFY(r->len <= r->cap);
	if (r->err == 0 && (epoch_s < RESP_EPOCH_MIN || epoch_s > RESP_EPOCH_MAX)) {
		r->err = -EINVAL;
	}
	p = resp_reserve(r, 6 + SP_HTTP_DATE_LEN + 2);
	if (p == NULL) {
		return r->err;
	}
	memcpy(p, "Date: ", 6);
	resp_date29(epoch_s, p + 6);
	memcpy(p + 6 + SP_HTTP_DATE_LEN, "\r\n", 2);
	return 0;
}

int
sp_http_resp_close(struct sp_http_resp *r)
{
	return sp_http_resp_header(r, "Connection", 10, "close", 5);
}

int
sp_http_resp_end(struct sp_http_resp *r)
{
	char *p;

	SP_VERIFY(r->len <= r->cap && r->len <= INT_MAX - 2);
	p = resp_reserve(r, 2);
	if (p == NULL) {
		return r->err;
	}
	memcpy(p, "\r\n", 2);
	return (int)r->len;
}
