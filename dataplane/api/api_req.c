/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The request decoders of api_req.h: PutRecord, PutRecords, GetShardIterator, GetRecords.
 * Each operation is a table of member rules in kinesalite's order (validations/<op>.js:
 * the order type failures are looked for and validation items are listed), and one pass of
 * the scanner fills a value slot per known member (last duplicate wins, null clears it).
 * Then, over the slots in table order: the first type failure (SerializationException,
 * "Message"), else every constraint failure (ValidationException, "message", at most
 * SP_KVALID_MAX_ITEMS). PutRecords checks each entry when its object closes (types, then a
 * count of constraint failures without rendering), so a body past 500 entries needs no more
 * memory than the 500 kept ones plus the first failing entries after them.
 * Messages are only rendered on the refusal path (cold functions); an accepted request costs
 * the scan, the base64 validation of each Data and a few comparisons per member.
 * Java regex semantics for the patterns (AWS validates with Java): whole-string matches;
 * in the ARN pattern '.' excludes line terminators and \S only ASCII white space.
 * Runs on worker lcores, per request; no allocation, no global state.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <spate/assert.h>

#include "api_req.h"
#include "api_req_src.h"
#include "b64.h"

/* Member types of the service model that the four operations use. */
enum req_type { REQ_STRING, REQ_BLOB, REQ_INTEGER, REQ_TIMESTAMP, REQ_LIST, REQ_STRUCT };

/* Checks of a rule, applied in this order (kinesalite's order within a member). */
#define REQ_NOT_NULL (1u << 0)
#define REQ_VAL_MIN (1u << 1)
#define REQ_VAL_MAX (1u << 2)
#define REQ_PATTERN (1u << 3)
#define REQ_LEN_MIN (1u << 4)
#define REQ_LEN_MAX (1u << 5)
#define REQ_ENUM (1u << 6)

/* Longest path in a message: "records.500.member.explicitHashKey". */
#define REQ_PATH_MAX 64u
/*
 * Bytes of a value quoted in a validation item: a longer string is cut there (at a character
 * boundary), the Records list after the entries that fit (then ", ..."). AWS quotes values
 * whole; cutting them keeps every item of a message inside SP_KVALID_MSG_BYTES, the way the
 * b64 component cuts Data in its messages (same bound).
 */
#define REQ_VALUE_MAX (SP_B64_MSG_VALUE_MAX + 3u) /* two quotes and the NUL */
/* Longest constraint text: the enum set. */
#define REQ_CONSTRAINT_MAX 160u

/* The class AWS names for a JSON number in type errors. */
#define REQ_NUMBER_CLASS "class com.amazon.coral.value.json.numbers.TruncatingBigNumber"
/* Ours (no capture exists): a CBOR byte string where no Blob is expected. */
#define REQ_BYTES_CLASS "class java.nio.HeapByteBuffer"

/* What AWS calls a Timestamp member in type errors. */
#define REQ_EPOCH_MS "milliseconds since epoch"

/* How kinesalite renders a PutRecords entry inside the Records list value. */
#define REQ_ENTRY_STR "com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@c965e310"

#define REQ_NAME_RE "[a-zA-Z0-9_.-]+"
#define REQ_HASH_RE "0|([1-9]\\d{0,38})"
#define REQ_SEQ_RE "0|([1-9]\\d{0,128})"
#define REQ_ARN_RE "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+"
#define REQ_ITER_ENUM                                                                      \
	"[AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON]"

/* Digits after the first of the hash-key and sequence-number patterns. */
#define REQ_HASH_MORE_DIGITS 38u
#define REQ_SEQ_MORE_DIGITS 128u
/* ":" + 12 digits + ":stream/" in the ARN pattern. */
#define REQ_ARN_ACCOUNT_PART 21u

struct req_rule {
	const char *name; /* member name in the body */
	const char *path; /* in messages: the name with its first letter lower-cased */
	uint8_t name_len;
	uint8_t type;
	uint8_t checks;
	bool (*match)(const char *s, size_t len); /* REQ_PATTERN or REQ_ENUM */
	const char *match_text; /* the pattern or the enum set, as AWS prints them */
	uint32_t len_min;
	uint32_t len_max;
	int32_t val_min;
	int32_t val_max;
};

/* The refusal path's workspace (on the stack only when a request fails validation). */
struct req_vctx {
	struct sp_kvalid kv;
	char path[REQ_PATH_MAX];
	char value[REQ_VALUE_MAX];
};

/* ---- Patterns (whole-string, Java regex semantics) ---- */

static bool
req_pat_name(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-')) {
			return false;
		}
	}
	return len > 0;
}

/* 0|([1-9]\d{0,more}) */
static bool
req_pat_decimal(const char *s, size_t len, size_t more)
{
	if (len == 0 || len > more + 1 || s[0] < '0' || s[0] > '9') {
		return false;
	}
	if (s[0] == '0') {
		return len == 1;
	}
	for (size_t i = 1; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return false;
		}
	}
	return true;
}

static bool
req_pat_hash(const char *s, size_t len)
{
	return req_pat_decimal(s, len, REQ_HASH_MORE_DIGITS);
}

static bool
req_pat_seq(const char *s, size_t len)
{
	return req_pat_decimal(s, len, REQ_SEQ_MORE_DIGITS);
}

/* Java's line terminators ('.' does not match them): \n \r U+0085 U+2028 U+2029. */
static size_t
req_line_term(const char *s, size_t len, size_t from)
{
	const uint8_t *u = (const uint8_t *)s;

	for (size_t i = from; i < len; i++) {
		if (u[i] == '\n' || u[i] == '\r' ||
		    (u[i] == 0xc2 && i + 1 < len && u[i + 1] == 0x85) ||
		    (u[i] == 0xe2 && i + 2 < len && u[i + 1] == 0x80 &&
		     (u[i + 2] == 0xa8 || u[i + 2] == 0xa9))) {
			return i;
		}
	}
	return len;
}

/* Java's \s: [ \t\n\x0B\f\r]. */
static inline bool
req_is_jspace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/*
 * arn:aws.*:kinesis:.*:\d{12}:stream/\S+ : both .* spans are free of line terminators, so
 * everything before the account part is; the earliest ":kinesis:" leaves the most room, and
 * the \S+ tail must run to the end without white space.
 */
static bool
req_pat_arn(const char *s, size_t len)
{
	size_t lt, tail_min = 0, k = 7;
	const char *kin;

	if (len < 7 || memcmp(s, "arn:aws", 7) != 0) {
		return false;
	}
	lt = req_line_term(s, len, 7);
	for (size_t i = 0; i < len; i++) {
		if (req_is_jspace(s[i])) {
			tail_min = i + 1;
		}
	}
	kin = memmem(s + k, len - k, ":kinesis:", 9);
	if (kin == NULL) {
		return false;
	}
	for (size_t j = (size_t)(kin - s) + 9; j <= lt && j + REQ_ARN_ACCOUNT_PART < len; j++) {
		size_t d = 1;

		if (s[j] != ':' || j + REQ_ARN_ACCOUNT_PART < tail_min) {
			continue;
		}
		while (d <= 12 && s[j + d] >= '0' && s[j + d] <= '9') {
			d++;
		}
		if (d == 13 && memcmp(s + j + 13, ":stream/", 8) == 0) {
			return true;
		}
	}
	return false;
}

static const char *const req_iter_names[SP_API_ITER_COUNT] = {
	[SP_API_ITER_AFTER_SEQUENCE_NUMBER] = "AFTER_SEQUENCE_NUMBER",
	[SP_API_ITER_LATEST] = "LATEST",
	[SP_API_ITER_AT_TIMESTAMP] = "AT_TIMESTAMP",
	[SP_API_ITER_AT_SEQUENCE_NUMBER] = "AT_SEQUENCE_NUMBER",
	[SP_API_ITER_TRIM_HORIZON] = "TRIM_HORIZON",
};

const char *
sp_api_iter_type_name(enum sp_api_iter_type t)
{
	return (unsigned)t < SP_API_ITER_COUNT ? req_iter_names[t] : "?";
}

/* The iterator type named s[0..len), or SP_API_ITER_COUNT. */
static enum sp_api_iter_type
req_iter_lookup(const char *s, size_t len)
{
	for (unsigned t = 0; t < SP_API_ITER_COUNT; t++) {
		if (strlen(req_iter_names[t]) == len && memcmp(req_iter_names[t], s, len) == 0) {
			return (enum sp_api_iter_type)t;
		}
	}
	return SP_API_ITER_COUNT;
}

static bool
req_pat_iter(const char *s, size_t len)
{
	return req_iter_lookup(s, len) != SP_API_ITER_COUNT;
}

/* ---- Rules, in kinesalite's member order per operation ---- */

#define REQ_RULE_NAME                                                                      \
	{                                                                                  \
		.name = "StreamName", .path = "streamName", .name_len = 10,                 \
		.type = REQ_STRING, .checks = REQ_PATTERN | REQ_LEN_MIN | REQ_LEN_MAX,      \
		.match = req_pat_name, .match_text = REQ_NAME_RE, .len_min = 1,             \
		.len_max = SP_K_STREAM_NAME_MAX_CHARS,                                      \
	}
#define REQ_RULE_ARN                                                                       \
	{                                                                                  \
		.name = "StreamARN", .path = "streamARN", .name_len = 9, .type = REQ_STRING, \
		.checks = REQ_PATTERN | REQ_LEN_MIN | REQ_LEN_MAX, .match = req_pat_arn,   \
		.match_text = REQ_ARN_RE, .len_min = 1,                                     \
		.len_max = SP_K_STREAM_ARN_MAX_CHARS,                                       \
	}
#define REQ_RULE_KEY                                                                       \
	{                                                                                  \
		.name = "PartitionKey", .path = "partitionKey", .name_len = 12,             \
		.type = REQ_STRING, .checks = REQ_NOT_NULL | REQ_LEN_MIN | REQ_LEN_MAX,     \
		.len_min = SP_K_PARTITION_KEY_MIN_CHARS,                                    \
		.len_max = SP_K_PARTITION_KEY_MAX_CHARS,                                    \
	}
#define REQ_RULE_EHK                                                                       \
	{                                                                                  \
		.name = "ExplicitHashKey", .path = "explicitHashKey", .name_len = 15,       \
		.type = REQ_STRING, .checks = REQ_PATTERN, .match = req_pat_hash,           \
		.match_text = REQ_HASH_RE,                                                  \
	}
#define REQ_RULE_DATA                                                                      \
	{                                                                                  \
		.name = "Data", .path = "data", .name_len = 4, .type = REQ_BLOB,            \
		.checks = REQ_NOT_NULL | REQ_LEN_MAX, .len_max = SP_API_REQ_DATA_MAX,       \
	}

enum { PR_SEQ, PR_KEY, PR_EHK, PR_DATA, PR_NAME, PR_ARN, PR_COUNT };
static const struct req_rule req_put_record_rules[PR_COUNT] = {
	[PR_SEQ] = { .name = "SequenceNumberForOrdering", .path = "sequenceNumberForOrdering",
		     .name_len = 25, .type = REQ_STRING, .checks = REQ_PATTERN,
		     .match = req_pat_seq, .match_text = REQ_SEQ_RE },
	[PR_KEY] = REQ_RULE_KEY,
	[PR_EHK] = REQ_RULE_EHK,
	[PR_DATA] = REQ_RULE_DATA,
	[PR_NAME] = REQ_RULE_NAME,
	[PR_ARN] = REQ_RULE_ARN,
};

enum { PE_KEY, PE_EHK, PE_DATA, PE_COUNT };
static const struct req_rule req_entry_rules[PE_COUNT] = {
	[PE_KEY] = REQ_RULE_KEY,
	[PE_EHK] = REQ_RULE_EHK,
	[PE_DATA] = REQ_RULE_DATA,
};

enum { PS_RECORDS, PS_NAME, PS_ARN, PS_COUNT };
static const struct req_rule req_put_records_rules[PS_COUNT] = {
	[PS_RECORDS] = { .name = "Records", .path = "records", .name_len = 7, .type = REQ_LIST,
			 .checks = REQ_NOT_NULL | REQ_LEN_MIN | REQ_LEN_MAX, .len_min = 1,
			 .len_max = SP_K_PUT_RECORDS_MAX_ENTRIES },
	[PS_NAME] = REQ_RULE_NAME,
	[PS_ARN] = REQ_RULE_ARN,
};

enum { GS_SHARD, GS_TYPE, GS_SEQ, GS_NAME, GS_TS, GS_ARN, GS_COUNT };
static const struct req_rule req_get_shard_iterator_rules[GS_COUNT] = {
	[GS_SHARD] = { .name = "ShardId", .path = "shardId", .name_len = 7, .type = REQ_STRING,
		       .checks = REQ_NOT_NULL | REQ_PATTERN | REQ_LEN_MIN | REQ_LEN_MAX,
		       .match = req_pat_name, .match_text = REQ_NAME_RE, .len_min = 1,
		       .len_max = SP_K_SHARD_ID_MAX_CHARS },
	[GS_TYPE] = { .name = "ShardIteratorType", .path = "shardIteratorType", .name_len = 17,
		      .type = REQ_STRING, .checks = REQ_NOT_NULL | REQ_ENUM,
		      .match = req_pat_iter, .match_text = REQ_ITER_ENUM },
	[GS_SEQ] = { .name = "StartingSequenceNumber", .path = "startingSequenceNumber",
		     .name_len = 22, .type = REQ_STRING, .checks = REQ_PATTERN,
		     .match = req_pat_seq, .match_text = REQ_SEQ_RE },
	[GS_NAME] = REQ_RULE_NAME,
	[GS_TS] = { .name = "Timestamp", .path = "timestamp", .name_len = 9,
		    .type = REQ_TIMESTAMP },
	[GS_ARN] = REQ_RULE_ARN,
};

enum { GR_LIMIT, GR_ITER, GR_ARN, GR_COUNT };
static const struct req_rule req_get_records_rules[GR_COUNT] = {
	[GR_LIMIT] = { .name = "Limit", .path = "limit", .name_len = 5, .type = REQ_INTEGER,
		       .checks = REQ_VAL_MIN | REQ_VAL_MAX, .val_min = 1,
		       .val_max = SP_K_GET_RECORDS_MAX_RECORDS },
	[GR_ITER] = { .name = "ShardIterator", .path = "shardIterator", .name_len = 13,
		      .type = REQ_STRING, .checks = REQ_NOT_NULL | REQ_LEN_MIN | REQ_LEN_MAX,
		      .len_min = 1, .len_max = SP_K_SHARD_ITERATOR_MAX_CHARS },
	[GR_ARN] = REQ_RULE_ARN,
};

/* ---- Errors ---- */

static void
req_err_reset(struct sp_api_req_err *err)
{
	err->kerr = SP_KERR_NONE;
	err->has_msg = false;
	err->capital_m = false;
	err->msg_len = 0;
	err->msg[0] = '\0';
}

/* SerializationException; msg NULL: no message (the body is not a JSON object). */
static int
req_fail_serial(struct sp_api_req_err *err, const char *msg)
{
	err->kerr = SP_KERR_SERIALIZATION;
	err->capital_m = true;
	err->has_msg = msg != NULL;
	err->msg_len = 0;
	if (msg != NULL) {
		err->msg_len = SP_MIN(strlen(msg), sizeof(err->msg) - 1);
		memcpy(err->msg, msg, err->msg_len);
	}
	err->msg[err->msg_len] = '\0';
	return -EINVAL;
}

/* ---- Sources: the JSON scanner, or the CBOR reader (api_req_src.h) ---- */

/* Next member of the object entered last: 1 with its key, 0 at its end. */
static inline int
src_member(struct sp_api_req_src *src, struct sp_api_json_str *key)
{
	if (src->cb != NULL) {
		return sp_api_cbor_src_member(src->cb, key);
	}
	return sp_api_json_obj_next(&src->js, key);
}

/* 1 when the array entered last has another element, 0 at its end. */
static inline int
src_elem(struct sp_api_req_src *src)
{
	if (src->cb != NULL) {
		return sp_api_cbor_src_elem(src->cb);
	}
	return sp_api_json_arr_next(&src->js);
}

static inline int
src_skip(struct sp_api_req_src *src)
{
	if (src->cb != NULL) {
		return sp_api_cbor_src_skip(src->cb);
	}
	return sp_api_json_skip(&src->js);
}

/*
 * The next value into *v (kind, text; form 0 for JSON): an array or object whose kind's bit is
 * in enter is entered, any other skipped. Returns the kind, or a negative errno.
 */
static inline int
src_read(struct sp_api_req_src *src, struct sp_api_req_val *v, unsigned enter)
{
	int kind;

	if (src->cb != NULL) {
		return sp_api_cbor_src_read(src->cb, v, enter);
	}
	v->form = 0;
	v->num = 0;
	if (enter != 0) {
		kind = sp_api_json_peek(&src->js);
		if (kind == SP_API_JSON_OBJECT && (enter & SP_API_REQ_ENTER_OBJECT)) {
			v->s = (struct sp_api_json_str){NULL, 0, 0};
			return sp_api_json_obj_enter(&src->js) < 0 ? -EINVAL : kind;
		}
		if (kind == SP_API_JSON_ARRAY && (enter & SP_API_REQ_ENTER_ARRAY)) {
			v->s = (struct sp_api_json_str){NULL, 0, 0};
			return sp_api_json_arr_enter(&src->js) < 0 ? -EINVAL : kind;
		}
	}
	return sp_api_json_value(&src->js, &v->s);
}

/* ---- Scanning ---- */

static int
req_lookup(const struct req_rule *rules, unsigned n, const struct sp_api_json_str *key)
{
	for (unsigned i = 0; i < n; i++) {
		if (rules[i].name_len == key->len &&
		    memcmp(rules[i].name, key->ptr, key->len) == 0) {
			return (int)i;
		}
	}
	return -1;
}

/* One member's value into its slot: null clears it (kinesalite drops null members). */
static int
req_read_val(struct sp_api_req_src *src, struct sp_api_req_val *v)
{
	int kind = src_read(src, v, 0);

	if (kind < 0) {
		return kind;
	}
	v->kind = kind == SP_API_JSON_NULL ? SP_API_JSON_ABSENT : (uint8_t)kind;
	SP_ASSERT(v->form == 0 || v->kind == SP_API_JSON_NUMBER);
	return 0;
}

/* The rest of an entered object: known members into vals[], the others skipped. */
static int
req_scan_flat(struct sp_api_req_src *src, const struct req_rule *rules, unsigned n,
	      struct sp_api_req_val *vals)
{
	struct sp_api_json_str key;
	int rc;

	while ((rc = src_member(src, &key)) == 1) {
		int i = req_lookup(rules, n, &key);

		rc = i < 0 ? src_skip(src) : req_read_val(src, &vals[i]);
		if (rc < 0) {
			return rc;
		}
	}
	SP_ASSERT(rc <= 0);
	return rc;
}

/* Start on the body: its top-level object (map) entered, or SerializationException. */
static int
req_open(struct sp_api_req_src *src, const struct sp_api_req_body *b, struct sp_api_req_err *err)
{
	int rc;

	SP_VERIFY(err != NULL && b != NULL);
	req_err_reset(err);
	if (src->cb != NULL) {
		rc = sp_api_cbor_src_open(src->cb, b->body, b->len, b->scratch, b->scratch_cap);
		if (rc == -EINVAL) {
			return req_fail_serial(err, NULL);
		}
	} else {
		rc = sp_api_json_init(&src->js, b->body, b->len, b->scratch, b->scratch_cap);
		if (rc == 0 && sp_api_json_obj_enter(&src->js) < 0) {
			return req_fail_serial(err, NULL);
		}
	}
	if (rc < 0) {
		err->kerr = SP_KERR_INTERNAL_FAILURE;
		return rc;
	}
	return 0;
}

/* After the top-level object's scan (scan_rc): a syntax error or trailing bytes refuse. */
static int
req_close(struct sp_api_req_src *src, int scan_rc, struct sp_api_req_err *err)
{
	if (scan_rc < 0) {
		return req_fail_serial(err, NULL);
	}
	if (src->cb != NULL ? sp_api_cbor_src_close(src->cb) < 0
			    : sp_api_json_finish(&src->js) < 0) {
		return req_fail_serial(err, NULL);
	}
	SP_ASSERT(src->cb != NULL || src->js.p == src->js.end);
	return 0;
}

/* ---- Types (kinesis-api.md §1.8) ---- */

/* The text for a CBOR byte string where `type` is expected, or NULL (a Blob takes it). */
static const char *
req_type_text_bytes(uint8_t type)
{
	switch (type) {
	case REQ_STRING:
		return REQ_BYTES_CLASS " can not be converted to an String";
	case REQ_BLOB:
		return NULL;
	case REQ_INTEGER:
		return REQ_BYTES_CLASS " can not be converted to an Integer";
	case REQ_TIMESTAMP:
		return REQ_BYTES_CLASS " can not be converted to " REQ_EPOCH_MS;
	case REQ_LIST:
		return "Expected list or null";
	default:
		SP_ASSERT(type == REQ_STRUCT);
		return "Expected null";
	}
}

/* The SerializationException text for a value of `kind` where `type` is expected, or NULL. */
static const char *
req_type_text(uint8_t type, uint8_t kind)
{
	bool b = kind == SP_API_JSON_TRUE || kind == SP_API_JSON_FALSE;

	if (kind == SP_API_REQ_KIND_BYTES) {
		return req_type_text_bytes(type);
	}
	if (kind == SP_API_JSON_ARRAY) {
		return type == REQ_LIST ? NULL : "Start of list found where not expected";
	}
	if (kind == SP_API_JSON_OBJECT) {
		return type == REQ_STRUCT ? NULL
					  : "Start of structure or map found where not expected.";
	}
	switch (type) {
	case REQ_STRING:
		if (kind == SP_API_JSON_STRING) {
			return NULL;
		}
		return b ? "class java.lang.Boolean can not be converted to an String"
			 : REQ_NUMBER_CLASS " can not be converted to an String";
	case REQ_BLOB:
		if (kind == SP_API_JSON_STRING) {
			return NULL;
		}
		return b ? "class java.lang.Boolean can not be converted to a Blob"
			 : REQ_NUMBER_CLASS " can not be converted to a Blob";
	case REQ_INTEGER:
		if (kind == SP_API_JSON_NUMBER) {
			return NULL;
		}
		return b ? "class java.lang.Boolean can not be converted to an Integer"
			 : "class java.lang.String can not be converted to an Integer";
	case REQ_TIMESTAMP:
		if (kind == SP_API_JSON_NUMBER) {
			return NULL;
		}
		return b ? "class java.lang.Boolean can not be converted to " REQ_EPOCH_MS
			 : "class java.lang.String can not be converted to " REQ_EPOCH_MS;
	case REQ_LIST:
		return "Expected list or null";
	default:
		SP_ASSERT(type == REQ_STRUCT);
		return "Expected null";
	}
}

/* Data: strict base64 (the b64 component's verdicts and texts); the decoded length kept. */
static int
req_blob(struct sp_api_req_val *v, struct sp_api_req_err *err)
{
	struct sp_b64_error e;
	size_t n;

	if (v->kind == SP_API_REQ_KIND_BYTES) {
		v->num = v->s.len; /* raw bytes (CBOR): nothing to decode */
		return 0;
	}
	if (sp_b64_validate(v->s.ptr, v->s.len, &n, &e) == 0) {
		SP_ASSERT(n <= v->s.len);
		v->num = (int64_t)n;
		return 0;
	}
	err->kerr = SP_KERR_SERIALIZATION;
	err->capital_m = true;
	err->has_msg = true;
	err->msg_len = sp_b64_error_message(&e, v->s.ptr, v->s.len, err->msg, sizeof(err->msg));
	SP_VERIFY(err->msg_len > 0 && err->msg_len < sizeof(err->msg));
	return -EINVAL;
}

/* Type-check one slot and convert it (numbers, base64). 0, or -EINVAL with *err set. */
static int
req_type1(const struct req_rule *r, struct sp_api_req_val *v, struct sp_api_req_err *err)
{
	const char *text;

	if (v->kind == SP_API_JSON_ABSENT) {
		return 0;
	}
	text = req_type_text(r->type, v->kind);
	if (text != NULL) {
		return req_fail_serial(err, text);
	}
	switch (r->type) {
	case REQ_BLOB:
		return req_blob(v, err);
	case REQ_INTEGER:
		/* CBOR gives the value truncated to int64 already: clamped like JSON's */
		if (v->form & SP_API_REQ_FORM_NUM) {
			v->num = SP_MAX(SP_MIN(v->num, INT32_MAX), INT32_MIN);
		} else {
			v->num = sp_api_json_num_int32(&v->s);
		}
		break;
	case REQ_TIMESTAMP:
		/* CBOR: epoch milliseconds already (kinesis-api.md §1.4); JSON: seconds */
		if (!(v->form & SP_API_REQ_FORM_NUM)) {
			v->num = sp_api_json_num_ms(&v->s);
		}
		break;
	default:
		SP_ASSERT(r->type == REQ_STRING && v->kind == SP_API_JSON_STRING);
		break;
	}
	return 0;
}

/* The first type failure over the slots in rule order. */
static int
req_types(const struct req_rule *rules, unsigned n, struct sp_api_req_val *vals,
	  struct sp_api_req_err *err)
{
	for (unsigned i = 0; i < n; i++) {
		int rc = req_type1(&rules[i], &vals[i], err);

		if (rc < 0) {
			return rc;
		}
	}
	return 0;
}

/* ---- Constraints (kinesis-api.md §1.8, ValidationException) ---- */

/* The value as a validation item quotes it: null, 'text', or a blob's buffer description. */
static const char *
req_value_text(const struct req_rule *r, const struct sp_api_req_val *v, char *buf, size_t cap)
{
	size_t n;

	SP_ASSERT(cap >= 64);
	if (v->kind == SP_API_JSON_ABSENT) {
		return "null";
	}
	if (r->type == REQ_BLOB) {
		snprintf(buf, cap, "'java.nio.HeapByteBuffer[pos=0 lim=%lld cap=%lld]'",
			 (long long)v->num, (long long)v->num);
	} else if (r->type == REQ_INTEGER) {
		snprintf(buf, cap, "'%lld'", (long long)v->num);
	} else {
		/* Cut to fit; a NUL inside the value ends it early (sp_kvalid takes C strings). */
		n = SP_MIN((size_t)v->s.len, cap - 3);
		while (n < v->s.len && n > 0 && ((uint8_t)v->s.ptr[n] & 0xc0) == 0x80) {
			n--;
		}
		buf[0] = '\'';
		memcpy(buf + 1, v->s.ptr, n);
		buf[n + 1] = '\'';
		buf[n + 2] = '\0';
	}
	return buf;
}

/* One failed check: counted always, rendered when vc is given. */
static unsigned
req_item(struct req_vctx *vc, const struct req_rule *r, const struct sp_api_req_val *v,
	 const char *prefix, const char *fmt, ...) SP_PRINTF(5, 6);

static unsigned
req_item(struct req_vctx *vc, const struct req_rule *r, const struct sp_api_req_val *v,
	 const char *prefix, const char *fmt, ...)
{
	char constraint[REQ_CONSTRAINT_MAX];
	va_list ap;

	if (vc == NULL || vc->kv.n >= SP_KVALID_MAX_ITEMS) {
		return 1;
	}
	va_start(ap, fmt);
	vsnprintf(constraint, sizeof(constraint), fmt, ap);
	va_end(ap);
	snprintf(vc->path, sizeof(vc->path), "%s%s", prefix, r->path);
	sp_kvalid_add(&vc->kv, req_value_text(r, v, vc->value, sizeof(vc->value)), vc->path,
		      constraint);
	return 1;
}

/* Length as the model counts it: UTF-16 units of a string, decoded bytes of a blob. */
static uint64_t
req_len(const struct req_rule *r, const struct sp_api_req_val *v)
{
	if (r->type == REQ_BLOB) {
		return (uint64_t)v->num;
	}
	/* ASCII is most keys and names: one unit per byte, no scan of the non-ASCII rule. */
	return sp_api_json_utf16_len(v->s.ptr, v->s.len);
}

/* Every failed check of one member (each counted; rendered when vc is given). */
static unsigned
req_check(const struct req_rule *r, const struct sp_api_req_val *v, const char *prefix,
	  struct req_vctx *vc)
{
	unsigned fails = 0;
	uint64_t len = 0;

	if (v->kind == SP_API_JSON_ABSENT) {
		return (r->checks & REQ_NOT_NULL) != 0 &&
		       req_item(vc, r, v, prefix, "Member must not be null");
	}
	if ((r->checks & REQ_VAL_MIN) && v->num < r->val_min) {
		fails += req_item(vc, r, v, prefix,
				  "Member must have value greater than or equal to %d", r->val_min);
	}
	if ((r->checks & REQ_VAL_MAX) && v->num > r->val_max) {
		fails += req_item(vc, r, v, prefix,
				  "Member must have value less than or equal to %d", r->val_max);
	}
	if ((r->checks & REQ_PATTERN) && !r->match(v->s.ptr, v->s.len)) {
		fails += req_item(vc, r, v, prefix, "Member must satisfy regular expression "
				  "pattern: %s", r->match_text);
	}
	if (r->checks & (REQ_LEN_MIN | REQ_LEN_MAX)) {
		len = req_len(r, v);
	}
	if ((r->checks & REQ_LEN_MIN) && len < r->len_min) {
		fails += req_item(vc, r, v, prefix,
				  "Member must have length greater than or equal to "
				  "%u", r->len_min);
	}
	if ((r->checks & REQ_LEN_MAX) && len > r->len_max) {
		fails += req_item(vc, r, v, prefix,
				  "Member must have length less than or equal to %u", r->len_max);
	}
	if ((r->checks & REQ_ENUM) && !r->match(v->s.ptr, v->s.len)) {
		fails += req_item(vc, r, v, prefix, "Member must satisfy enum value set: %s",
				  r->match_text);
	}
	return fails;
}

static unsigned
req_check_all(const struct req_rule *rules, unsigned n, const struct sp_api_req_val *vals,
	      const char *prefix, struct req_vctx *vc)
{
	unsigned fails = 0;

	for (unsigned i = 0; i < n; i++) {
		fails += req_check(&rules[i], &vals[i], prefix, vc);
	}
	return fails;
}

/* ValidationException from the items gathered in vc. */
static int
req_fail_valid(const struct req_vctx *vc, struct sp_api_req_err *err)
{
	SP_VERIFY(vc->kv.n > 0);
	err->kerr = SP_KERR_VALIDATION;
	err->capital_m = false;
	err->has_msg = true;
	err->msg_len = sp_kvalid_message(&vc->kv, err->msg, sizeof(err->msg));
	SP_ASSERT(err->msg_len < sizeof(err->msg));
	return -EINVAL;
}

/* Render the failures of a flat request (cold: only refused requests get here). */
static SP_COLD int
req_refuse_flat(const struct req_rule *rules, unsigned n, const struct sp_api_req_val *vals,
		struct sp_api_req_err *err)
{
	struct req_vctx vc;

	sp_kvalid_init(&vc.kv);
	req_check_all(rules, n, vals, "", &vc);
	return req_fail_valid(&vc, err);
}

/* Scan, type-check and validate a flat request into vals[] (PutRecord, Get*). */
static int
req_flat(struct sp_api_req_src *src, const struct sp_api_req_body *b,
	 const struct req_rule *rules, unsigned n, struct sp_api_req_val *vals,
	 struct sp_api_req_err *err)
{
	int rc;

	memset(vals, 0, n * sizeof(*vals));
	rc = req_open(src, b, err);
	if (rc < 0) {
		return rc;
	}
	rc = req_close(src, req_scan_flat(src, rules, n, vals), err);
	if (rc < 0) {
		return rc;
	}
	rc = req_types(rules, n, vals, err);
	if (rc < 0) {
		return rc;
	}
	if (req_check_all(rules, n, vals, "", NULL) != 0) {
		return req_refuse_flat(rules, n, vals, err);
	}
	SP_ASSERT(err->kerr == SP_KERR_NONE);
	return 0;
}

static struct sp_api_json_str
req_str(const struct sp_api_req_val *v)
{
	struct sp_api_json_str none = { NULL, 0, 0 };

	return v->kind == SP_API_JSON_STRING ? v->s : none;
}

static uint32_t
req_has(const struct sp_api_req_val *v, uint32_t flag)
{
	return v->kind != SP_API_JSON_ABSENT ? flag : 0;
}

/* A record (PutRecord's, or a kept PutRecords entry) from its type-checked slots. */
static void
req_record(struct sp_api_req_record *rec, const struct sp_api_req_val *key,
	   const struct sp_api_req_val *ehk, const struct sp_api_req_val *data)
{
	bool raw = data->kind == SP_API_REQ_KIND_BYTES;

	rec->data = raw ? data->s : req_str(data);
	rec->data_raw = raw;
	rec->key = req_str(key);
	rec->ehk = req_str(ehk);
	rec->data_len = (uint32_t)data->num;
	rec->has = req_has(key, SP_API_REQ_HAS_KEY) | req_has(data, SP_API_REQ_HAS_DATA) |
		   req_has(ehk, SP_API_REQ_HAS_EHK);
	SP_ASSERT(data->num >= 0 && data->num <= UINT32_MAX);
}

int
sp_api_req_src_put_record(struct sp_api_req_src *src, const struct sp_api_req_body *b,
			  struct sp_api_req_put_record *out, struct sp_api_req_err *err)
{
	struct sp_api_req_val v[PR_COUNT];
	int rc;

	SP_VERIFY(out != NULL);
	rc = req_flat(src, b, req_put_record_rules, PR_COUNT, v, err);
	if (rc < 0) {
		return rc;
	}
	out->stream_name = req_str(&v[PR_NAME]);
	out->stream_arn = req_str(&v[PR_ARN]);
	out->seq_for_ordering = req_str(&v[PR_SEQ]);
	req_record(&out->rec, &v[PR_KEY], &v[PR_EHK], &v[PR_DATA]);
	out->has = req_has(&v[PR_NAME], SP_API_REQ_HAS_STREAM_NAME) |
		   req_has(&v[PR_ARN], SP_API_REQ_HAS_STREAM_ARN) |
		   req_has(&v[PR_SEQ], SP_API_REQ_HAS_SEQ);
	SP_ASSERT((out->rec.has & (SP_API_REQ_HAS_KEY | SP_API_REQ_HAS_DATA)) ==
		  (SP_API_REQ_HAS_KEY | SP_API_REQ_HAS_DATA));
	return 0;
}

int
sp_api_req_src_get_shard_iterator(struct sp_api_req_src *src, const struct sp_api_req_body *b,
				  struct sp_api_req_get_shard_iterator *out,
				  struct sp_api_req_err *err)
{
	struct sp_api_req_val v[GS_COUNT];
	int rc;

	SP_VERIFY(out != NULL);
	rc = req_flat(src, b, req_get_shard_iterator_rules, GS_COUNT, v, err);
	if (rc < 0) {
		return rc;
	}
	out->stream_name = req_str(&v[GS_NAME]);
	out->stream_arn = req_str(&v[GS_ARN]);
	out->shard_id = req_str(&v[GS_SHARD]);
	out->starting_seq = req_str(&v[GS_SEQ]);
	out->type = req_iter_lookup(v[GS_TYPE].s.ptr, v[GS_TYPE].s.len);
	out->timestamp_ms = v[GS_TS].num;
	out->has = req_has(&v[GS_NAME], SP_API_REQ_HAS_STREAM_NAME) |
		   req_has(&v[GS_ARN], SP_API_REQ_HAS_STREAM_ARN) |
		   req_has(&v[GS_SEQ], SP_API_REQ_HAS_SEQ) |
		   req_has(&v[GS_TS], SP_API_REQ_HAS_TIMESTAMP);
	SP_VERIFY(out->type < SP_API_ITER_COUNT);
	return 0;
}

int
sp_api_req_src_get_records(struct sp_api_req_src *src, const struct sp_api_req_body *b,
			   struct sp_api_req_get_records *out, struct sp_api_req_err *err)
{
	struct sp_api_req_val v[GR_COUNT];
	int rc;

	SP_VERIFY(out != NULL);
	rc = req_flat(src, b, req_get_records_rules, GR_COUNT, v, err);
	if (rc < 0) {
		return rc;
	}
	out->shard_iterator = req_str(&v[GR_ITER]);
	out->stream_arn = req_str(&v[GR_ARN]);
	out->has = req_has(&v[GR_LIMIT], SP_API_REQ_HAS_LIMIT) |
		   req_has(&v[GR_ARN], SP_API_REQ_HAS_STREAM_ARN);
	out->limit = (out->has & SP_API_REQ_HAS_LIMIT) ? (int32_t)v[GR_LIMIT].num
						       : (int32_t)SP_K_GET_RECORDS_MAX_RECORDS;
	SP_ASSERT(out->limit >= 1 && out->limit <= (int32_t)SP_K_GET_RECORDS_MAX_RECORDS);
	return 0;
}

/* ---- PutRecords ---- */

/* A failing entry past the kept ones: listed in the ValidationException after them. */
struct req_bad {
	uint32_t index;
	struct sp_api_req_val v[PE_COUNT];
};

struct req_put_ctx {
	struct sp_api_req_put_records *out;
	struct sp_api_req_err *err;
	uint32_t n;	     /* entries in the current Records array */
	uint8_t kind;	     /* Records' kind (its last occurrence) */
	bool type_failed;    /* *err holds the first type failure inside Records */
	bool entry_failed;   /* an entry fails a constraint */
	uint32_t nbad;
	struct req_bad bad[SP_KVALID_MAX_ITEMS];
};

/* A closed, type-checked entry: kept (first 500), or remembered if it fails past them. */
static void
req_put_keep(struct req_put_ctx *c, uint32_t idx, const struct sp_api_req_val *v)
{
	unsigned fails = req_check_all(req_entry_rules, PE_COUNT, v, "", NULL);

	c->entry_failed |= fails != 0;
	if (idx < SP_K_PUT_RECORDS_MAX_ENTRIES) {
		req_record(&c->out->rec[idx], &v[PE_KEY], &v[PE_EHK], &v[PE_DATA]);
		c->out->data_bytes += c->out->rec[idx].data_len;
	} else if (fails != 0 && c->nbad < SP_KVALID_MAX_ITEMS) {
		c->bad[c->nbad].index = idx;
		memcpy(c->bad[c->nbad].v, v, sizeof(c->bad[0].v));
		c->nbad++;
	}
	SP_ASSERT(c->nbad <= SP_KVALID_MAX_ITEMS);
}

/* One element of Records. After the first type failure elements are only scanned. */
static int
req_put_entry(struct sp_api_req_src *src, struct req_put_ctx *c)
{
	struct sp_api_req_val v[PE_COUNT];
	struct sp_api_req_val other;
	uint32_t idx = c->n++;
	int kind, rc;

	memset(v, 0, sizeof(v));
	kind = rc = src_read(src, &other, SP_API_REQ_ENTER_OBJECT);
	if (kind == SP_API_JSON_OBJECT) {
		rc = req_scan_flat(src, req_entry_rules, PE_COUNT, v);
	}
	if (rc < 0) {
		return rc;
	}
	if (c->type_failed) {
		return 0;
	}
	/* A null entry reads as an entry without members (kinesis-api.md has no text for it). */
	if (kind != SP_API_JSON_OBJECT && kind != SP_API_JSON_NULL) {
		c->type_failed = true;
		req_fail_serial(c->err, req_type_text(REQ_STRUCT, (uint8_t)kind));
		return 0;
	}
	if (req_types(req_entry_rules, PE_COUNT, v, c->err) < 0) {
		c->type_failed = true;
		return 0;
	}
	req_put_keep(c, idx, v);
	return 0;
}

/* The Records member: a new occurrence replaces everything an earlier one gave. */
static int
req_put_records_list(struct sp_api_req_src *src, struct req_put_ctx *c)
{
	struct sp_api_req_val other;
	int rc;

	c->n = 0;
	c->type_failed = false;
	c->entry_failed = false;
	c->nbad = 0;
	c->out->data_bytes = 0;
	req_err_reset(c->err); /* a type failure of an earlier Records is gone with it */
	rc = src_read(src, &other, SP_API_REQ_ENTER_ARRAY);
	if (rc != SP_API_JSON_ARRAY) {
		c->kind = rc == SP_API_JSON_NULL ? SP_API_JSON_ABSENT : (uint8_t)rc;
		return rc < 0 ? rc : 0;
	}
	c->kind = SP_API_JSON_ARRAY;
	while ((rc = src_elem(src)) == 1) {
		rc = req_put_entry(src, c);
		if (rc < 0) {
			break;
		}
	}
	SP_ASSERT(rc <= 0);
	return rc;
}

/* The top-level members of a PutRecords body. */
static int
req_put_records_scan(struct sp_api_req_src *src, struct req_put_ctx *c,
		     struct sp_api_req_val *top)
{
	struct sp_api_json_str key;
	int rc;

	while ((rc = src_member(src, &key)) == 1) {
		int i = req_lookup(req_put_records_rules, PS_COUNT, &key);

		if (i == PS_RECORDS) {
			rc = req_put_records_list(src, c);
		} else {
			rc = i < 0 ? src_skip(src) : req_read_val(src, &top[i]);
		}
		if (rc < 0) {
			return rc;
		}
	}
	return rc;
}

/* The Records list value of a validation item: '[]' or '[<entry>, <entry>]', cut to cap. */
static void
req_records_value(char *buf, size_t cap, uint32_t n)
{
	const size_t entry = sizeof(REQ_ENTRY_STR) - 1;
	size_t len = 2;
	uint32_t i;

	memcpy(buf, "'[", 2);
	/* Room for this entry, its ", " and the ", ...]'" that may follow, and the NUL. */
	for (i = 0; i < n && len + 2 + entry + 8 <= cap; i++) {
		if (i > 0) {
			memcpy(buf + len, ", ", 2);
			len += 2;
		}
		memcpy(buf + len, REQ_ENTRY_STR, entry);
		len += entry;
	}
	if (i < n) {
		memcpy(buf + len, ", ...", 5);
		len += 5;
	}
	SP_ASSERT(len + 3 <= cap);
	memcpy(buf + len, "]'", 3);
}

/* The slots of a kept entry again, for rendering its failures. */
static void
req_entry_vals(const struct sp_api_req_record *r, struct sp_api_req_val *v)
{
	memset(v, 0, PE_COUNT * sizeof(*v));
	v[PE_KEY].s = r->key;
	v[PE_KEY].kind = (r->has & SP_API_REQ_HAS_KEY) ? SP_API_JSON_STRING : SP_API_JSON_ABSENT;
	v[PE_EHK].s = r->ehk;
	v[PE_EHK].kind = (r->has & SP_API_REQ_HAS_EHK) ? SP_API_JSON_STRING : SP_API_JSON_ABSENT;
	v[PE_DATA].s = r->data;
	v[PE_DATA].num = r->data_len;
	v[PE_DATA].kind = !(r->has & SP_API_REQ_HAS_DATA) ? SP_API_JSON_ABSENT
			  : r->data_raw			  ? SP_API_REQ_KIND_BYTES
							  : SP_API_JSON_STRING;
}

/* Records' own checks (not null, 1..500), then its entries' in order. */
static void
req_records_items(const struct req_put_ctx *c, struct req_vctx *vc)
{
	const struct sp_api_req_put_records *out = c->out;
	char prefix[REQ_PATH_MAX];
	struct sp_api_req_val v[PE_COUNT];

	if (c->kind == SP_API_JSON_ABSENT) {
		sp_kvalid_add(&vc->kv, "null", "records", "Member must not be null");
		return;
	}
	if (c->n < 1 || c->n > SP_K_PUT_RECORDS_MAX_ENTRIES) {
		req_records_value(vc->value, sizeof(vc->value), c->n);
		sp_kvalid_add(&vc->kv, vc->value, "records",
			      c->n < 1 ? "Member must have length greater than or equal to 1"
				       : "Member must have length less than or equal to 500");
	}
	for (uint32_t i = 0; c->entry_failed && i < SP_MIN(c->n, SP_K_PUT_RECORDS_MAX_ENTRIES) &&
			     vc->kv.n < SP_KVALID_MAX_ITEMS;
	     i++) {
		const struct sp_api_req_record *r = &out->rec[i];

		req_entry_vals(r, v);
		snprintf(prefix, sizeof(prefix), "records.%u.member.", i + 1);
		req_check_all(req_entry_rules, PE_COUNT, v, prefix, vc);
	}
	for (uint32_t b = 0; b < c->nbad && vc->kv.n < SP_KVALID_MAX_ITEMS; b++) {
		snprintf(prefix, sizeof(prefix), "records.%u.member.", c->bad[b].index + 1);
		req_check_all(req_entry_rules, PE_COUNT, c->bad[b].v, prefix, vc);
	}
}

static SP_COLD int
req_refuse_put_records(const struct req_put_ctx *c, const struct sp_api_req_val *top,
		       struct sp_api_req_err *err)
{
	struct req_vctx vc;

	sp_kvalid_init(&vc.kv);
	req_records_items(c, &vc);
	req_check_all(req_put_records_rules + PS_NAME, PS_COUNT - PS_NAME, top + PS_NAME, "",
		      &vc);
	return req_fail_valid(&vc, err);
}

/* Types after the scan: Records (list, then its first failing entry), StreamName, StreamARN. */
static int
req_put_records_types(const struct req_put_ctx *c, struct sp_api_req_val *top,
		      struct sp_api_req_err *err)
{
	if (c->kind != SP_API_JSON_ABSENT && c->kind != SP_API_JSON_ARRAY) {
		return req_fail_serial(err, req_type_text(REQ_LIST, c->kind));
	}
	if (c->type_failed) {
		SP_ASSERT(err->kerr == SP_KERR_SERIALIZATION && err->has_msg);
		return -EINVAL;
	}
	return req_types(req_put_records_rules + PS_NAME, PS_COUNT - PS_NAME, top + PS_NAME, err);
}

int
sp_api_req_src_put_records(struct sp_api_req_src *src, const struct sp_api_req_body *b,
			   struct sp_api_req_put_records *out, struct sp_api_req_err *err)
{
	struct sp_api_req_val top[PS_COUNT];
	struct req_put_ctx c;
	int rc;

	SP_VERIFY(out != NULL);
	memset(top, 0, sizeof(top));
	c.out = out;
	c.err = err;
	c.n = 0;
	c.kind = SP_API_JSON_ABSENT;
	c.type_failed = false;
	c.entry_failed = false;
	c.nbad = 0;
	out->data_bytes = 0;
	rc = req_open(src, b, err);
	if (rc < 0) {
		return rc;
	}
	rc = req_close(src, req_put_records_scan(src, &c, top), err);
	if (rc < 0 || (rc = req_put_records_types(&c, top, err)) < 0) {
		return rc;
	}
	if (c.kind != SP_API_JSON_ARRAY || c.n < 1 || c.n > SP_K_PUT_RECORDS_MAX_ENTRIES ||
	    c.entry_failed ||
	    req_check_all(req_put_records_rules + PS_NAME, PS_COUNT - PS_NAME, top + PS_NAME, "",
			  NULL) != 0) {
		return req_refuse_put_records(&c, top, err);
	}
	out->n = c.n;
	out->stream_name = req_str(&top[PS_NAME]);
	out->stream_arn = req_str(&top[PS_ARN]);
	out->has = req_has(&top[PS_NAME], SP_API_REQ_HAS_STREAM_NAME) |
		   req_has(&top[PS_ARN], SP_API_REQ_HAS_STREAM_ARN);
	SP_ASSERT(err->kerr == SP_KERR_NONE);
	return 0;
}

/* ---- The JSON entry points (the CBOR ones are in api_cbor_req.c) ---- */

int
sp_api_req_put_record(const char *body, size_t len, char *scratch, size_t scratch_cap,
		      struct sp_api_req_put_record *out, struct sp_api_req_err *err)
{
	struct sp_api_req_body b = {body, len, scratch, scratch_cap};
	struct sp_api_req_src src = {.cb = NULL};

	return sp_api_req_src_put_record(&src, &b, out, err);
}

int
sp_api_req_put_records(const char *body, size_t len, char *scratch, size_t scratch_cap,
		       struct sp_api_req_put_records *out, struct sp_api_req_err *err)
{
	struct sp_api_req_body b = {body, len, scratch, scratch_cap};
	struct sp_api_req_src src = {.cb = NULL};

	return sp_api_req_src_put_records(&src, &b, out, err);
}

int
sp_api_req_get_shard_iterator(const char *body, size_t len, char *scratch, size_t scratch_cap,
			      struct sp_api_req_get_shard_iterator *out,
			      struct sp_api_req_err *err)
{
	struct sp_api_req_body b = {body, len, scratch, scratch_cap};
	struct sp_api_req_src src = {.cb = NULL};

	return sp_api_req_src_get_shard_iterator(&src, &b, out, err);
}

int
sp_api_req_get_records(const char *body, size_t len, char *scratch, size_t scratch_cap,
		       struct sp_api_req_get_records *out, struct sp_api_req_err *err)
{
	struct sp_api_req_body b = {body, len, scratch, scratch_cap};
	struct sp_api_req_src src = {.cb = NULL};

	return sp_api_req_src_get_records(&src, &b, out, err);
}

/* ---- Data ---- */

int
sp_api_req_record_data(const struct sp_api_req_record *rec, uint8_t *out)
{
	struct sp_b64_error e;
	size_t n = 0;

	SP_VERIFY(rec != NULL && (out != NULL || rec->data.len == 0));
	if (rec->data.len == 0) {
		return rec->data_len == 0 ? 0 : -EIO;
	}
	if (rec->data_raw) {
		/* CBOR byte string: the bytes as they came */
		if (rec->data.len != rec->data_len) {
			return -EIO;
		}
		memcpy(out, rec->data.ptr, rec->data_len);
		return 0;
	}
	if (sp_b64_decode(rec->data.ptr, rec->data.len, out, &n, &e) != 0 || n != rec->data_len) {
		return -EIO;
	}
	return 0;
}

size_t
sp_api_req_put_records_arena_bytes(const struct sp_api_req_put_records *r)
{
	/* A record's decode may write up to 2 bytes past its data (the padding of its last
	 * quantum); the next record's decode overwrites them, the last one needs the slack. */
	return (size_t)r->data_bytes + 2;
}

int
sp_api_req_put_records_data(const struct sp_api_req_put_records *r, uint8_t *arena, size_t cap,
			    uint32_t *off)
{
	size_t pos = 0;

	SP_VERIFY(r->n <= SP_K_PUT_RECORDS_MAX_ENTRIES);
	if (cap < sp_api_req_put_records_arena_bytes(r)) {
		return -ENOSPC;
	}
	for (uint32_t i = 0; i < r->n; i++) {
		int rc = sp_api_req_record_data(&r->rec[i], arena + pos);

		if (rc < 0) {
			return rc;
		}
		if (off != NULL) {
			off[i] = (uint32_t)pos;
		}
		pos += r->rec[i].data_len;
	}
	SP_ASSERT(pos == r->data_bytes);
	return 0;
}
