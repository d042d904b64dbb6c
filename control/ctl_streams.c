/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Kinesis control operations: CreateStream, DeleteStream, DescribeStream,
 * DescribeStreamSummary, ListStreams, ListShards, Increase/DecreaseStreamRetentionPeriod,
 * UpdateMaxRecordSize, the tag operations (stream and resource), Enable/DisableEnhancedMonitoring,
 * DescribeLimits, the resharding operations, UpdateStreamMode and Start/StopStreamEncryption
 * (KeyIds resolved against the operator's key file), run against the catalog, plus the
 * stream lifecycle driven by the dataplane's "applied" acknowledgements.
 *
 * A request goes through the checks of reference §1.7 in order: the body must be a JSON object
 * (step 6, SerializationException without a message); member types, first failure only, in the
 * operation's member order (step 10, SerializationException, key "Message"); constraints, every
 * failure up to ten, same order (step 11, ValidationException); then the operation itself
 * (step 12). The member order is kinesalite's for the members it knows, then the model's for
 * the rest; docs/internals/control-ops.md lists it per operation with every text.
 *
 * Invariants: every call fills exactly one reply; error replies carry no body; messages are
 * valid UTF-8 (cut at a character boundary when long); timestamps are written by hand as plain
 * decimals (seconds with a millisecond fraction), never in exponent form; pagination tokens are
 * sealed with HMAC-SHA256 under the catalog's token key and expire after
 * SP_K_NEXT_TOKEN_LIFETIME_MS. Runs on spate-control's single thread; allocation is fine here
 * (control plane, not the per-request dataplane path).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <spate/assert.h>
#include <spate/keyfile.h>

#include "catalog.h"
#include "ctl_balance.h"
#include "ctl_log.h"
#include "ctl_reshard.h"
#include "ctl_streams.h"

/* ---- Replies ---------------------------------------------------------------------------- */

/* The body of replies without output; never freed. */
static char g_kin_empty[] = "";

/* Length of the longest prefix of s[0..len) that does not end inside a UTF-8 sequence. */
static size_t
kin_utf8_cut(const char *s, size_t len)
{
	size_t i = len;
	size_t back = 0;

	while (i > 0 && back < 4 && ((uint8_t)s[i - 1] & 0xC0) == 0x80) {
		i--;
		back++;
	}
	if (i == 0) {
		return 0;
	}
	uint8_t lead = (uint8_t)s[i - 1];
	size_t need = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;

	SP_ASSERT(need >= 1 && need <= 4);
	return len - (i - 1) >= need ? len : i - 1;
}

SP_PRINTF(3, 4)
static void
kin_error(struct sp_ctl_kreply *out, enum sp_kerr err, const char *fmt, ...)
{
	va_list ap;
	int k;

	SP_VERIFY(err > SP_KERR_NONE && err < SP_KERR_COUNT);
	out->err = err;
	out->status = sp_kerr_table[err].status;
	out->message_upper = err == SP_KERR_SERIALIZATION;
	va_start(ap, fmt);
	k = vsnprintf(out->message, sizeof(out->message), fmt, ap);
	va_end(ap);
	size_t n = k < 0 ? 0 : SP_MIN((size_t)k, sizeof(out->message) - 1);

	out->message[kin_utf8_cut(out->message, n)] = '\0';
	SP_ASSERT(strlen(out->message) < sizeof(out->message));
}

/* An InternalFailure for a catalog error rc; returns rc. */
static int
kin_internal(struct sp_ctl_kreply *out, int rc)
{
	SP_VERIFY(rc < 0);
	SP_CTL_ERR("kinesis: catalog error: %s", strerror(-rc));
	kin_error(out, SP_KERR_INTERNAL_FAILURE, "%s", "");
	return rc;
}

static void
kin_not_found(struct sp_ctl_kreply *out, const struct sp_ctl_kctx *ctx, const char *name)
{
	kin_error(out, SP_KERR_RESOURCE_NOT_FOUND, "Stream %s under account %s not found.", name,
		  ctx->account);
}

/* The account's open shards plus n new ones would pass the shard limit (AWS's text). */
static void
kin_shard_limit_error(struct sp_ctl_kreply *out, const struct sp_ctl_kctx *ctx, int64_t open,
		      int64_t n)
{
	kin_error(out, SP_KERR_LIMIT_EXCEEDED,
		  "This request would exceed the shard limit for the account %s in %s. Current "
		  "shard count for the account: %lld. Limit: %u. Number of additional shards that "
		  "would have resulted from this request: %lld. Refer to the AWS Service Limits "
		  "page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for "
		  "current limits and how to request higher limits.",
		  ctx->account, ctx->region, (long long)open, ctx->shard_limit, (long long)n);
}

/* Only an ACTIVE stream changes (ResourceInUse otherwise, kinesalite's text); false: out is
 * filled. */
static bool
kin_active(const struct sp_ctl_kctx *ctx, const struct sp_cat_stream_row *row,
	   struct sp_ctl_kreply *out)
{
	if (strcmp(row->status, "ACTIVE") != 0) {
		kin_error(out, SP_KERR_RESOURCE_IN_USE,
			  "Stream %s under account %s not ACTIVE, instead in state %s", row->name,
			  ctx->account, row->status);
		return false;
	}
	return true;
}

/* ---- JSON output ------------------------------------------------------------------------ */

/* A growing text buffer; after a failed allocation it only remembers that it failed. */
struct kbuf {
	char *p;
	size_t len;
	size_t cap;
	bool oom;
};

static void
kb_put(struct kbuf *b, const char *s, size_t n)
{
	if (b->oom) {
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = SP_MAX(b->cap * 2, b->len + n + 1);
		char *p = realloc(b->p, SP_MAX(cap, (size_t)256));

		if (p == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = SP_MAX(cap, (size_t)256);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	SP_ASSERT(b->len < b->cap);
}

static void
kb_raw(struct kbuf *b, const char *s)
{
	kb_put(b, s, strlen(s));
}

SP_PRINTF(2, 3)
static void
kb_fmt(struct kbuf *b, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	SP_VERIFY(k >= 0 && (size_t)k < sizeof(tmp)); /* only short numbers go through here */
	kb_put(b, tmp, (size_t)k);
}

/* s (valid UTF-8) as a JSON string. */
static void
kb_str(struct kbuf *b, const char *s)
{
	const char *run = s;

	kb_put(b, "\"", 1);
	for (; *s != '\0'; s++) {
		uint8_t c = (uint8_t)*s;

		if (c >= 0x20 && c != '"' && c != '\\') {
			continue;
		}
		kb_put(b, run, (size_t)(s - run));
		if (c == '"' || c == '\\') {
			char esc[2] = {'\\', (char)c};

			kb_put(b, esc, 2);
		} else {
			kb_fmt(b, "\\u%04x", c);
		}
		run = s + 1;
	}
	kb_put(b, run, (size_t)(s - run));
	kb_put(b, "\"", 1);
}

/* A timestamp: epoch seconds with the millisecond fraction, plain decimal ("1572297168.0"). */
static void
kb_ts(struct kbuf *b, int64_t ms)
{
	int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	int64_t frac = ms - sec * 1000;
	char digits[4];

	SP_ASSERT(frac >= 0 && frac < 1000);
	snprintf(digits, sizeof(digits), "%03lld", (long long)frac);
	size_t n = 3;

	while (n > 1 && digits[n - 1] == '0') {
		n--;
	}
	digits[n] = '\0';
	kb_fmt(b, "%lld.%s", (long long)sec, digits);
}

/* ---- Request members -------------------------------------------------------------------- */

enum ktype { KT_STRING, KT_INTEGER, KT_BOOLEAN, KT_TIMESTAMP, KT_MAP, KT_STRUCT, KT_LIST };
enum kpat { KP_NONE, KP_NAME, KP_ARN, KP_HASH, KP_RESOURCE_ARN, KP_CONSUMER_ARN };

/* Every member any of the operations reads. */
enum kmid {
	KM_STREAM_NAME,
	KM_STREAM_ARN,
	KM_SHARD_COUNT,
	KM_MODE_DETAILS,
	KM_STREAM_MODE,
	KM_TAGS,
	KM_WARM,
	KM_MAX_RECORD_KIB,
	KM_ENFORCE,
	KM_LIMIT,
	KM_EXCL_SHARD,
	KM_EXCL_STREAM,
	KM_NEXT_TOKEN,
	KM_MAX_RESULTS,
	KM_CREATION_TS,
	KM_SHARD_FILTER,
	KM_FILTER_TYPE,
	KM_FILTER_SHARD,
	KM_FILTER_TS,
	KM_RETENTION,
	/* resharding */
	KM_NEW_HASH,
	KM_SHARD_TO_SPLIT,
	KM_SHARD_TO_MERGE,
	KM_ADJ_SHARD,
	KM_SCALING_TYPE,
	KM_TARGET,
	/* tags, enhanced monitoring */
	KM_TAG_KEYS,
	KM_EXCL_TAG_KEY,
	KM_TAG_LIMIT,
	KM_RESOURCE_ARN,
	KM_METRICS,
	/* stream encryption */
	KM_ENCRYPTION_TYPE,
	KM_KEY_ID,
	/* enhanced fan-out consumers */
	KM_CONSUMER_NAME,
	KM_CONSUMER_ARN,
	KM_COUNT,
};

#define KF_NOT_NULL 0x01u	/* Member must not be null */
#define KF_NOT_NULL_PROV 0x02u	/* ... unless StreamModeDetails says ON_DEMAND */
#define KF_MIN 0x04u		/* value >= min */
#define KF_MAX 0x08u		/* value <= max */
#define KF_LEN_MIN 0x10u	/* length >= len_min */
#define KF_LEN_MAX 0x20u	/* length <= len_max */
#define KF_TAG_LENGTHS 0x40u	/* map keys 1..128 and values 0..256 characters */
#define KF_TAG_KEY_ITEMS 0x80u	/* KT_LIST: every item 1..128 characters */

struct kmember {
	enum kmid id;
	const char *key;  /* JSON member name */
	const char *path; /* name in ValidationException texts */
	enum ktype type;
	unsigned flags;
	int64_t min;
	int64_t max;
	int64_t len_min;
	int64_t len_max;
	enum kpat pat;
	const char *const *enums;    /* NULL-terminated allowed values (KT_LIST: of each item) */
	const struct kmember *kids;  /* KT_STRUCT: members, ended by a NULL key */
};

/* A decoded member: present (not absent, not null) and its value by type. */
struct kval {
	bool present;
	const char *s;
	size_t len;
	int64_t i; /* integers (floored, Integer-clamped) and timestamps (ms) */
	bool b;
	json_t *j; /* maps and structures */
};

struct kreq {
	struct kval m[KM_COUNT];
};

static const char *const g_kin_modes[] = {"PROVISIONED", "ON_DEMAND", NULL};
/* Order fixed: a filter's number is its index + 1 (tokens carry it). */
static const char *const g_kin_filters[] = {"AFTER_SHARD_ID", "AT_TRIM_HORIZON",
					    "FROM_TRIM_HORIZON", "AT_LATEST",
					    "AT_TIMESTAMP", "FROM_TIMESTAMP", NULL};
enum kfilter {
	KFL_NONE = 0,
	KFL_AFTER_SHARD_ID,
	KFL_AT_TRIM_HORIZON,
	KFL_FROM_TRIM_HORIZON,
	KFL_AT_LATEST,
	KFL_AT_TIMESTAMP,
	KFL_FROM_TIMESTAMP,
};

#define KIN_NAME_RE "[a-zA-Z0-9_.-]+"
#define KIN_ARN_RE "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+"
#define KIN_HASH_RE "0|([1-9]\\d{0,38})"
#define KIN_RESOURCE_ARN_RE "arn:aws.*:kinesis:.*:\\d{12}:.*stream/\\S+"
#define KIN_CONSUMER_ARN_RE                                                                \
	"^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/"           \
	"[a-zA-Z0-9_.-]+:[0-9]+"

#define KIN_NAMELIKE(id_, key_, path_, flags_)                                             \
	{                                                                                  \
		.id = (id_), .key = (key_), .path = (path_), .type = KT_STRING,            \
		.flags = (flags_) | KF_LEN_MIN | KF_LEN_MAX, .len_min = 1,                 \
		.len_max = SP_K_STREAM_NAME_MAX_CHARS, .pat = KP_NAME,                     \
	}
#define KIN_STREAM_NAME KIN_NAMELIKE(KM_STREAM_NAME, "StreamName", "streamName", 0)
#define KIN_STREAM_ARN                                                                     \
	{                                                                                  \
		.id = KM_STREAM_ARN, .key = "StreamARN", .path = "streamARN",              \
		.type = KT_STRING, .flags = KF_LEN_MIN | KF_LEN_MAX, .len_min = 1,         \
		.len_max = SP_K_STREAM_ARN_MAX_CHARS, .pat = KP_ARN,                       \
	}
#define KIN_INT(id_, key_, path_, flags_, min_, max_)                                      \
	{                                                                                  \
		.id = (id_), .key = (key_), .path = (path_), .type = KT_INTEGER,           \
		.flags = (flags_), .min = (min_), .max = (max_),                           \
	}
#define KIN_NEXT_TOKEN                                                                     \
	{                                                                                  \
		.id = KM_NEXT_TOKEN, .key = "NextToken", .path = "nextToken",              \
		.type = KT_STRING, .flags = KF_LEN_MIN | KF_LEN_MAX, .len_min = 1,         \
		.len_max = 1048576,                                                        \
	}
#define KIN_END {.key = NULL}

/* Tags maps: AddTagsToStream, TagResource (CreateStream's is optional). */
#define KIN_TAGS(flags_)                                                                           \
	{                                                                                          \
		.id = KM_TAGS, .key = "Tags", .path = "tags", .type = KT_MAP,                      \
		.flags = (flags_) | KF_LEN_MIN | KF_LEN_MAX | KF_TAG_LENGTHS, .len_min = 1,        \
		.len_max = SP_K_TAG_MAP_MAX_ENTRIES,                                               \
	}
#define KIN_TAG_KEYS                                                                               \
	{                                                                                          \
		.id = KM_TAG_KEYS, .key = "TagKeys", .path = "tagKeys", .type = KT_LIST,           \
		.flags = KF_NOT_NULL | KF_LEN_MIN | KF_LEN_MAX | KF_TAG_KEY_ITEMS, .len_min = 1,   \
		.len_max = SP_K_TAG_KEYS_MAX_ENTRIES,                                              \
	}
#define KIN_RESOURCE_ARN                                                                           \
	{                                                                                          \
		.id = KM_RESOURCE_ARN, .key = "ResourceARN", .path = "resourceARN",                \
		.type = KT_STRING, .flags = KF_NOT_NULL | KF_LEN_MIN | KF_LEN_MAX, .len_min = 1,   \
		.len_max = SP_K_STREAM_ARN_MAX_CHARS, .pat = KP_RESOURCE_ARN,                      \
	}

static const struct kmember g_kin_mode_kids[] = {
	{.id = KM_STREAM_MODE, .key = "StreamMode", .path = "streamMode", .type = KT_STRING,
	 .flags = KF_NOT_NULL, .enums = g_kin_modes},
	KIN_END,
};

static const struct kmember g_kin_filter_kids[] = {
	{.id = KM_FILTER_TYPE, .key = "Type", .path = "type", .type = KT_STRING,
	 .flags = KF_NOT_NULL, .enums = g_kin_filters},
	KIN_NAMELIKE(KM_FILTER_SHARD, "ShardId", "shardId", 0),
	{.id = KM_FILTER_TS, .key = "Timestamp", .path = "timestamp", .type = KT_TIMESTAMP},
	KIN_END,
};

static const struct kmember g_kin_create[] = {
	KIN_INT(KM_SHARD_COUNT, "ShardCount", "shardCount", KF_NOT_NULL_PROV | KF_MIN | KF_MAX, 1,
		100000),
	KIN_NAMELIKE(KM_STREAM_NAME, "StreamName", "streamName", KF_NOT_NULL),
	{.id = KM_MODE_DETAILS, .key = "StreamModeDetails", .path = "streamModeDetails",
	 .type = KT_STRUCT, .kids = g_kin_mode_kids},
	KIN_TAGS(0),
	KIN_INT(KM_WARM, "WarmThroughputMiBps", "warmThroughputMiBps", KF_MIN, 0, 0),
	KIN_INT(KM_MAX_RECORD_KIB, "MaxRecordSizeInKiB", "maxRecordSizeInKiB", KF_MIN | KF_MAX,
		SP_CTL_K_MAX_RECORD_KIB_MIN, SP_CTL_K_MAX_RECORD_KIB_MAX),
	KIN_END,
};

static const struct kmember g_kin_delete[] = {
	KIN_STREAM_NAME,
	{.id = KM_ENFORCE, .key = "EnforceConsumerDeletion", .path = "enforceConsumerDeletion",
	 .type = KT_BOOLEAN},
	KIN_STREAM_ARN,
	KIN_END,
};

static const struct kmember g_kin_describe[] = {
	KIN_INT(KM_LIMIT, "Limit", "limit", KF_MIN | KF_MAX, 1, 10000),
	KIN_NAMELIKE(KM_EXCL_SHARD, "ExclusiveStartShardId", "exclusiveStartShardId", 0),
	KIN_STREAM_NAME,
	KIN_STREAM_ARN,
	KIN_END,
};

static const struct kmember g_kin_summary[] = {
	KIN_STREAM_NAME,
	KIN_STREAM_ARN,
	KIN_END,
};

static const struct kmember g_kin_list_streams[] = {
	KIN_INT(KM_LIMIT, "Limit", "limit", KF_MIN | KF_MAX, 1, 10000),
	KIN_NAMELIKE(KM_EXCL_STREAM, "ExclusiveStartStreamName", "exclusiveStartStreamName", 0),
	KIN_NEXT_TOKEN,
	KIN_END,
};

static const struct kmember g_kin_list_shards[] = {
	KIN_NAMELIKE(KM_EXCL_SHARD, "ExclusiveStartShardId", "exclusiveStartShardId", 0),
	KIN_INT(KM_MAX_RESULTS, "MaxResults", "maxResults", KF_MIN | KF_MAX, 1, 10000),
	KIN_NEXT_TOKEN,
	{.id = KM_CREATION_TS, .key = "StreamCreationTimestamp",
	 .path = "streamCreationTimestamp", .type = KT_TIMESTAMP},
	KIN_STREAM_NAME,
	{.id = KM_SHARD_FILTER, .key = "ShardFilter", .path = "shardFilter", .type = KT_STRUCT,
	 .kids = g_kin_filter_kids},
	KIN_STREAM_ARN,
	KIN_END,
};

/* Increase/DecreaseStreamRetentionPeriod: no range in the model (the limits are step 12's). */
static const struct kmember g_kin_retention[] = {
	KIN_INT(KM_RETENTION, "RetentionPeriodHours", "retentionPeriodHours", KF_NOT_NULL, 0, 0),
	KIN_STREAM_NAME,
	KIN_STREAM_ARN,
	KIN_END,
};

/*
 * UpdateMaxRecordSize: the model's members in its order (kinesalite lacks the operation), then
 * StreamName, which the model lacks but the selector takes as for every other operation.
 */
static const struct kmember g_kin_max_record[] = {
	KIN_STREAM_ARN,
	KIN_INT(KM_MAX_RECORD_KIB, "MaxRecordSizeInKiB", "maxRecordSizeInKiB",
		KF_NOT_NULL | KF_MIN | KF_MAX, SP_CTL_K_MAX_RECORD_KIB_MIN,
		SP_CTL_K_MAX_RECORD_KIB_MAX),
	KIN_STREAM_NAME,
	KIN_END,
};

/* The model's MetricsName enum, in its order. */
static const char *const g_kin_metrics[] = {
	"IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords",
	"WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded",
	"IteratorAgeMilliseconds", "ALL", NULL,
};

/* AddTagsToStream: kinesalite's Tags, StreamName; then the model's StreamARN. */
static const struct kmember g_kin_add_tags[] = {
	KIN_TAGS(KF_NOT_NULL),
	KIN_STREAM_NAME,
	KIN_STREAM_ARN,
	KIN_END,
};

/* RemoveTagsFromStream: kinesalite's TagKeys, StreamName; then StreamARN. */
static const struct kmember g_kin_remove_tags[] = {
	KIN_TAG_KEYS,
	KIN_STREAM_NAME,
	KIN_STREAM_ARN,
	KIN_END,
};

/* ListTagsForStream: kinesalite's Limit, ExclusiveStartTagKey, StreamName; then StreamARN. */
static const struct kmember g_kin_list_tags[] = {
	KIN_INT(KM_TAG_LIMIT, "Limit", "limit", KF_MIN | KF_MAX, 1, SP_K_TAGS_PER_STREAM_MAX),
	{.id = KM_EXCL_TAG_KEY, .key = "ExclusiveStartTagKey", .path = "exclusiveStartTagKey",
	 .type = KT_STRING, .flags = KF_LEN_MIN | KF_LEN_MAX, .len_min = 1,
	 .len_max = SP_K_TAG_KEY_MAX_CHARS},
	KIN_STREAM_NAME,
	KIN_STREAM_ARN,
	KIN_END,
};

/* TagResource, UntagResource, ListTagsForResource: the model's members in its order. */
static const struct kmember g_kin_tag_resource[] = {
	KIN_TAGS(KF_NOT_NULL),
	KIN_RESOURCE_ARN,
	KIN_END,
};

static const struct kmember g_kin_untag_resource[] = {
	KIN_TAG_KEYS,
	KIN_RESOURCE_ARN,
	KIN_END,
};

static const struct kmember g_kin_list_tags_resource[] = {
	KIN_RESOURCE_ARN,
	KIN_END,
};

/* Enable/DisableEnhancedMonitoring (not in kinesalite): the model's order. */
static const struct kmember g_kin_monitoring[] = {
	KIN_STREAM_NAME,
	{.id = KM_METRICS, .key = "ShardLevelMetrics", .path = "shardLevelMetrics",
	 .type = KT_LIST, .flags = KF_NOT_NULL | KF_LEN_MIN | KF_LEN_MAX, .len_min = 1,
	 .len_max = SP_K_METRIC_COUNT, .enums = g_kin_metrics},
	KIN_STREAM_ARN,
	KIN_END,
};

/* DescribeLimits has no input members; the body must still be a JSON object. */
static const struct kmember g_kin_no_members[] = {
	KIN_END,
};

/* UpdateStreamMode (not in kinesalite): the model's members in its order, then StreamName. */
static const struct kmember g_kin_update_mode[] = {
	{.id = KM_STREAM_ARN, .key = "StreamARN", .path = "streamARN", .type = KT_STRING,
	 .flags = KF_NOT_NULL | KF_LEN_MIN | KF_LEN_MAX, .len_min = 1,
	 .len_max = SP_K_STREAM_ARN_MAX_CHARS, .pat = KP_ARN},
	{.id = KM_MODE_DETAILS, .key = "StreamModeDetails", .path = "streamModeDetails",
	 .type = KT_STRUCT, .flags = KF_NOT_NULL, .kids = g_kin_mode_kids},
	KIN_INT(KM_WARM, "WarmThroughputMiBps", "warmThroughputMiBps", KF_MIN, 0, 0),
	KIN_STREAM_NAME,
	KIN_END,
};

/*
 * Start/StopStreamEncryption (not in kinesalite): the model's members in its order. The
 * model's EncryptionType enum has NONE too; step 12 refuses it.
 */
static const char *const g_kin_encryption_types[] = {"NONE", "KMS", NULL};

static const struct kmember g_kin_encryption[] = {
	KIN_STREAM_NAME,
	{.id = KM_ENCRYPTION_TYPE, .key = "EncryptionType", .path = "encryptionType",
	 .type = KT_STRING, .flags = KF_NOT_NULL, .enums = g_kin_encryption_types},
	{.id = KM_KEY_ID, .key = "KeyId", .path = "keyId", .type = KT_STRING,
	 .flags = KF_NOT_NULL | KF_LEN_MIN | KF_LEN_MAX, .len_min = 1,
	 .len_max = SP_CTL_K_KEY_ID_MAX_CHARS},
	KIN_STREAM_ARN,
	KIN_END,
};

/* Resharding: kinesalite's members in its order, then StreamARN (the model's selector). */
static const char *const g_kin_scaling[] = {"UNIFORM_SCALING", NULL};

static const struct kmember g_kin_split[] = {
	{.id = KM_NEW_HASH, .key = "NewStartingHashKey", .path = "newStartingHashKey",
	 .type = KT_STRING, .flags = KF_NOT_NULL, .pat = KP_HASH},
	KIN_STREAM_NAME,
	KIN_NAMELIKE(KM_SHARD_TO_SPLIT, "ShardToSplit", "shardToSplit", KF_NOT_NULL),
	KIN_STREAM_ARN,
	KIN_END,
};

static const struct kmember g_kin_merge[] = {
	KIN_NAMELIKE(KM_SHARD_TO_MERGE, "ShardToMerge", "shardToMerge", KF_NOT_NULL),
	KIN_NAMELIKE(KM_ADJ_SHARD, "AdjacentShardToMerge", "adjacentShardToMerge", KF_NOT_NULL),
	KIN_STREAM_NAME,
	KIN_STREAM_ARN,
	KIN_END,
};

static const struct kmember g_kin_scale[] = {
	{.id = KM_SCALING_TYPE, .key = "ScalingType", .path = "scalingType", .type = KT_STRING,
	 .flags = KF_NOT_NULL, .enums = g_kin_scaling},
	KIN_STREAM_NAME,
	KIN_INT(KM_TARGET, "TargetShardCount", "targetShardCount", KF_NOT_NULL | KF_MIN | KF_MAX,
		1, 100000),
	KIN_STREAM_ARN,
	KIN_END,
};

/* Enhanced fan-out consumers (not in kinesalite): the model's members in its order. */
#define KIN_CONSUMER_NAME(flags_)                                                                  \
	KIN_NAMELIKE(KM_CONSUMER_NAME, "ConsumerName", "consumerName", flags_)
#define KIN_STREAM_ARN_REQ                                                                         \
	{                                                                                          \
		.id = KM_STREAM_ARN, .key = "StreamARN", .path = "streamARN", .type = KT_STRING,   \
		.flags = KF_NOT_NULL | KF_LEN_MIN | KF_LEN_MAX, .len_min = 1,                      \
		.len_max = SP_K_STREAM_ARN_MAX_CHARS, .pat = KP_ARN,                               \
	}

static const struct kmember g_kin_register_consumer[] = {
	KIN_STREAM_ARN_REQ,
	KIN_CONSUMER_NAME(KF_NOT_NULL),
	KIN_TAGS(0),
	KIN_END,
};

/* DeregisterStreamConsumer, DescribeStreamConsumer. */
static const struct kmember g_kin_consumer_sel[] = {
	KIN_STREAM_ARN,
	KIN_CONSUMER_NAME(0),
	{.id = KM_CONSUMER_ARN, .key = "ConsumerARN", .path = "consumerARN", .type = KT_STRING,
	 .flags = KF_LEN_MIN | KF_LEN_MAX, .len_min = 1, .len_max = SP_K_CONSUMER_ARN_MAX_CHARS,
	 .pat = KP_CONSUMER_ARN},
	KIN_END,
};

static const struct kmember g_kin_list_consumers[] = {
	KIN_STREAM_ARN_REQ,
	KIN_NEXT_TOKEN,
	KIN_INT(KM_MAX_RESULTS, "MaxResults", "maxResults", KF_MIN | KF_MAX, 1, 10000),
	{.id = KM_CREATION_TS, .key = "StreamCreationTimestamp",
	 .path = "streamCreationTimestamp", .type = KT_TIMESTAMP},
	KIN_END,
};

/* ---- Step 10: member types (SerializationException) ------------------------------------ */

#define KIN_FROM_BOOL "class java.lang.Boolean can not be converted to "
#define KIN_FROM_NUM "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be " \
		     "converted to "
#define KIN_FROM_STR "class java.lang.String can not be converted to "
#define KIN_LIST_TEXT "Start of list found where not expected"
#define KIN_OBJ_TEXT "Start of structure or map found where not expected."

static const char *
kin_type_target(enum ktype t)
{
	switch (t) {
	case KT_STRING:
		return "an String";
	case KT_INTEGER:
		return "an Integer";
	case KT_BOOLEAN:
		return "an Boolean";
	default:
		return "milliseconds since epoch";
	}
}

/* The scalar conversion error of value v for a scalar type t, or false if v fits. */
static bool
kin_scalar_error(enum ktype t, const json_t *v, struct sp_ctl_kreply *out)
{
	const char *to = kin_type_target(t);

	SP_ASSERT(t != KT_MAP && t != KT_STRUCT);
	if (json_is_array(v)) {
		kin_error(out, SP_KERR_SERIALIZATION, "%s", KIN_LIST_TEXT);
	} else if (json_is_object(v)) {
		kin_error(out, SP_KERR_SERIALIZATION, "%s", KIN_OBJ_TEXT);
	} else if (json_is_boolean(v) && t != KT_BOOLEAN) {
		kin_error(out, SP_KERR_SERIALIZATION, "%s%s", KIN_FROM_BOOL, to);
	} else if (json_is_number(v) && (t == KT_STRING || t == KT_BOOLEAN)) {
		kin_error(out, SP_KERR_SERIALIZATION, "%s%s", KIN_FROM_NUM, to);
	} else if (json_is_string(v) && t == KT_BOOLEAN) {
		char up[SP_CTL_K_MSG_MAX_BYTES];
		size_t n = SP_MIN(json_string_length(v), sizeof(up) - 1);

		/* ASCII upper-casing; the text is cut below at a character boundary. */
		for (size_t i = 0; i < n; i++) {
			char c = json_string_value(v)[i];

			up[i] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
		}
		up[n] = '\0';
		kin_error(out, SP_KERR_SERIALIZATION, "'%s' can not be converted to an Boolean",
			  up);
	} else if (json_is_string(v) && t != KT_STRING) {
		kin_error(out, SP_KERR_SERIALIZATION, "%s%s", KIN_FROM_STR, to);
	} else {
		return false;
	}
	return true;
}

/* JSON number to an Integer member: floored, clamped at 2^31 - 1 as AWS does. */
static int64_t
kin_integer(double d)
{
	double f = floor(d);

	if (f > 2147483647.0) {
		return 2147483647;
	}
	if (f < -9.2e18) {
		return INT64_MIN;
	}
	return (int64_t)f;
}

/* JSON number of epoch seconds to milliseconds. */
static int64_t
kin_timestamp_ms(double sec)
{
	double ms = sec * 1000.0;

	if (ms > 9.2e18) {
		return INT64_MAX;
	}
	if (ms < -9.2e18) {
		return INT64_MIN;
	}
	return llround(ms);
}

static bool kin_decode(const struct kmember *ms, json_t *obj, struct kreq *r,
		       struct sp_ctl_kreply *out);

static bool
kin_decode_map(json_t *v, struct sp_ctl_kreply *out)
{
	const char *k;
	json_t *x;

	if (json_is_array(v)) {
		kin_error(out, SP_KERR_SERIALIZATION, "%s", KIN_LIST_TEXT);
		return false;
	}
	if (!json_is_object(v)) {
		kin_error(out, SP_KERR_SERIALIZATION, "%s", "Expected map or null");
		return false;
	}
	json_object_foreach(v, k, x) {
		if (!json_is_null(x) && kin_scalar_error(KT_STRING, x, out)) {
			return false;
		}
	}
	SP_ASSERT(out->err == SP_KERR_NONE);
	return true;
}

/* A list of strings (null items are kept, and fail the item constraints of step 11). */
static bool
kin_decode_list(json_t *v, struct sp_ctl_kreply *out)
{
	size_t i;
	json_t *x;

	if (json_is_object(v)) {
		kin_error(out, SP_KERR_SERIALIZATION, "%s", KIN_OBJ_TEXT);
		return false;
	}
	if (!json_is_array(v)) {
		kin_error(out, SP_KERR_SERIALIZATION, "%s", "Expected list or null");
		return false;
	}
	json_array_foreach(v, i, x)
	{
		if (!json_is_null(x) && kin_scalar_error(KT_STRING, x, out)) {
			return false;
		}
	}
	SP_ASSERT(out->err == SP_KERR_NONE);
	return true;
}

/* Type-check one present member and store its value. */
static bool
kin_decode_one(const struct kmember *m, json_t *v, struct kreq *r, struct sp_ctl_kreply *out)
{
	struct kval *kv = &r->m[m->id];

	SP_ASSERT(m->id < KM_COUNT);
	if (m->type == KT_MAP) {
		if (!kin_decode_map(v, out)) {
			return false;
		}
	} else if (m->type == KT_LIST) {
		if (!kin_decode_list(v, out)) {
			return false;
		}
	} else if (m->type == KT_STRUCT) {
		if (json_is_array(v) || !json_is_object(v)) {
			kin_error(out, SP_KERR_SERIALIZATION, "%s",
				  json_is_array(v) ? KIN_LIST_TEXT : "Expected null");
			return false;
		}
		if (!kin_decode(m->kids, v, r, out)) {
			return false;
		}
	} else if (kin_scalar_error(m->type, v, out)) {
		return false;
	}
	kv->present = true;
	kv->j = v;
	if (m->type == KT_STRING) {
		kv->s = json_string_value(v);
		kv->len = json_string_length(v);
	} else if (m->type == KT_INTEGER) {
		kv->i = kin_integer(json_number_value(v));
	} else if (m->type == KT_TIMESTAMP) {
		kv->i = kin_timestamp_ms(json_number_value(v));
	} else if (m->type == KT_BOOLEAN) {
		kv->b = json_is_true(v);
	}
	return true;
}

/* Members in table order; absent and null members stay absent (reference §1.1). */
static bool
kin_decode(const struct kmember *ms, json_t *obj, struct kreq *r, struct sp_ctl_kreply *out)
{
	SP_VERIFY(ms != NULL && json_is_object(obj));
	for (const struct kmember *m = ms; m->key != NULL; m++) {
		json_t *v = json_object_get(obj, m->key);

		if (v != NULL && !json_is_null(v) && !kin_decode_one(m, v, r, out)) {
			return false;
		}
	}
	SP_ASSERT(out->err == SP_KERR_NONE);
	return true;
}

/* ---- Step 11: constraints (ValidationException) ----------------------------------------- */

/* Length as Java and JavaScript count it: UTF-16 code units of valid UTF-8. */
static int64_t
kin_u16len(const char *s, size_t len)
{
	int64_t n = 0;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = (uint8_t)s[i];

		if ((c & 0xC0) != 0x80) {
			n += c >= 0xF0 ? 2 : 1;
		}
	}
	SP_ASSERT(n >= 0 && (size_t)n <= len);
	return n;
}

static bool
kin_name_ok(const char *s, size_t len)
{
	SP_ASSERT(s != NULL || len == 0);
	if (len == 0) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-')) {
			return false;
		}
	}
	return true;
}

/* The whole of s[0..len) matches 0|([1-9]\d{0,38}) (a hash key: at most 39 digits). */
static bool
kin_hash_ok(const char *s, size_t len)
{
	if (len == 1 && s[0] == '0') {
		return true;
	}
	if (len == 0 || len > 39 || s[0] < '1' || s[0] > '9') {
		return false;
	}
	for (size_t i = 1; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return false;
		}
	}
	return true;
}

/* Decode one UTF-8 character at s (valid UTF-8); returns its byte length. */
static size_t
kin_utf8_next(const uint8_t *s, uint32_t *cp)
{
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] < 0xE0) {
		*cp = (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F);
		return 2;
	}
	if (s[0] < 0xF0) {
		*cp = (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
		return 3;
	}
	*cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 |
	      (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
	return 4;
}

/* JavaScript's \s set (what \S excludes). */
static bool
kin_js_space(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0xA0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
	       c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

/* JavaScript's line terminators (what . excludes). */
static bool
kin_js_line_end(uint32_t c)
{
	return c == 0x0A || c == 0x0D || c == 0x2028 || c == 0x2029;
}

/* s[from..to) has no line terminator and, if need != NULL, contains need. */
static bool
kin_dot_run(const char *s, size_t from, size_t to, const char *need)
{
	const uint8_t *u = (const uint8_t *)s;
	size_t nl = need != NULL ? strlen(need) : 0;
	bool found = need == NULL;
	uint32_t cp;

	for (size_t i = from; i < to;) {
		if (!found && i + nl <= to && memcmp(s + i, need, nl) == 0) {
			found = true;
		}
		i += kin_utf8_next(u + i, &cp);
		if (kin_js_line_end(cp)) {
			return false;
		}
	}
	return found;
}

/*
 * Match the whole of s against KIN_ARN_RE. On success *name_at is where the stream name
 * starts: after the first ":<12 digits>:stream/" that makes the pattern match.
 */
static bool
kin_arn_match(const char *s, size_t len, size_t *name_at)
{
	static const char head[] = "arn:aws";
	const size_t tail = 1 + 12 + 8; /* ":" digits ":stream/" */

	SP_ASSERT(s != NULL && name_at != NULL);
	if (len < sizeof(head) - 1 || memcmp(s, head, sizeof(head) - 1) != 0) {
		return false;
	}
	for (size_t p = sizeof(head) - 1; p + tail < len; p++) {
		size_t d = 0;

		if (s[p] != ':' || memcmp(s + p + 13, ":stream/", 8) != 0) {
			continue;
		}
		while (d < 12 && s[p + 1 + d] >= '0' && s[p + 1 + d] <= '9') {
			d++;
		}
		if (d != 12 || !kin_dot_run(s, sizeof(head) - 1, p, ":kinesis:")) {
			continue;
		}
		bool ok = true;
		uint32_t cp;

		for (size_t i = p + tail; ok && i < len;) {
			i += kin_utf8_next((const uint8_t *)s + i, &cp);
			ok = !kin_js_space(cp);
		}
		if (ok) {
			*name_at = p + tail;
			SP_ASSERT(*name_at < len);
			return true;
		}
	}
	return false;
}

/* s[from..len) is one or more characters, none of them a JavaScript space (\\S+). */
static bool
kin_no_space_run(const char *s, size_t from, size_t len)
{
	uint32_t cp;

	for (size_t i = from; i < len;) {
		i += kin_utf8_next((const uint8_t *)s + i, &cp);
		if (kin_js_space(cp)) {
			return false;
		}
	}
	return from < len;
}

/*
 * Match the whole of s against KIN_RESOURCE_ARN_RE (a stream or consumer ARN). As
 * kin_arn_match(), but any run without line terminators may come before "stream/".
 */
static bool
kin_resource_arn_ok(const char *s, size_t len)
{
	static const char head[] = "arn:aws";
	const size_t hl = sizeof(head) - 1;

	SP_ASSERT(s != NULL);
	if (len < hl || memcmp(s, head, hl) != 0) {
		return false;
	}
	for (size_t p = hl; p + 14 <= len; p++) {
		size_t d = 0;

		while (d < 12 && s[p + 1 + d] >= '0' && s[p + 1 + d] <= '9') {
			d++;
		}
		if (s[p] != ':' || d != 12 || s[p + 13] != ':' ||
		    !kin_dot_run(s, hl, p, ":kinesis:")) {
			continue;
		}
		/* Each "stream/" reachable through a run without line terminators. */
		uint32_t cp = 0;

		for (size_t q = p + 14; q + 7 < len && !kin_js_line_end(cp);) {
			if (memcmp(s + q, "stream/", 7) == 0 && kin_no_space_run(s, q + 7, len)) {
				return true;
			}
			q += kin_utf8_next((const uint8_t *)s + q, &cp);
		}
	}
	return false;
}

/* Where the parts of a consumer ARN are: <stream ARN>/consumer/<name>:<digits>. */
struct kin_carn {
	size_t stream_arn_len; /* s[0..stream_arn_len) is the stream's ARN */
	size_t stream_at;      /* the stream name: s[stream_at..stream_arn_len) */
	size_t name_at;	       /* the consumer name: s[name_at..name_end) */
	size_t name_end;
};

/* s[from..to) is one or more characters of [a-zA-Z0-9_.-]. */
static bool
kin_name_run(const char *s, size_t from, size_t to)
{
	return to > from && kin_name_ok(s + from, to - from);
}

/*
 * Match the whole of s against KIN_CONSUMER_ARN_RE. Names hold neither '/' nor ':', so the
 * tail is read from the end: digits after the last ':', the consumer name back to "/consumer/",
 * the stream name back to "stream/"; what is left must match arn:aws.*:kinesis:.*:\d{12}:.*
 * (as kin_resource_arn_ok()). On success, fills *p when it is not NULL.
 */
static bool
kin_consumer_arn_match(const char *s, size_t len, struct kin_carn *p)
{
	static const char head[] = "arn:aws";
	const size_t hl = sizeof(head) - 1;
	const char *colon;
	size_t c, slash, st, i;

	if (s == NULL || len < hl || memcmp(s, head, hl) != 0) {
		return false;
	}
	colon = memrchr(s, ':', len);
	if (colon == NULL) {
		return false;
	}
	c = (size_t)(colon - s);
	for (i = c + 1; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
	}
	if (i != len || c + 1 == len) {
		return false;
	}
	const char *sl = memrchr(s, '/', c);

	slash = sl != NULL ? (size_t)(sl - s) : 0;
	if (sl == NULL || !kin_name_run(s, slash + 1, c) || slash < 9 ||
	    memcmp(s + slash - 9, "/consumer", 9) != 0) {
		return false;
	}
	const char *sl2 = memrchr(s, '/', slash - 9);

	st = sl2 != NULL ? (size_t)(sl2 - s) : 0;
	if (sl2 == NULL || !kin_name_run(s, st + 1, slash - 9) || st < hl + 6 ||
	    memcmp(s + st - 6, "stream", 6) != 0) {
		return false;
	}
	/* the head: a ":<12 digits>:" after ":kinesis:", no line terminators up to "stream/" */
	for (size_t q = hl; q + 14 <= st - 6; q++) {
		size_t d = 0;

		while (d < 12 && s[q + 1 + d] >= '0' && s[q + 1 + d] <= '9') {
			d++;
		}
		if (s[q] != ':' || d != 12 || s[q + 13] != ':' ||
		    !kin_dot_run(s, hl, q, ":kinesis:") || !kin_dot_run(s, q + 14, st - 6, NULL)) {
			continue;
		}
		if (p != NULL) {
			*p = (struct kin_carn){.stream_arn_len = slash - 9,
					       .stream_at = st + 1,
					       .name_at = slash + 1,
					       .name_end = c};
		}
		return true;
	}
	return false;
}

/* "'<s>'" cut to fit cap, at a character boundary. */
static void
kin_quote(char *buf, size_t cap, const char *s, size_t len)
{
	size_t room = cap - 3;
	size_t n = kin_utf8_cut(s, SP_MIN(len, room));

	SP_VERIFY(cap >= 4);
	buf[0] = '\'';
	memcpy(buf + 1, s, n);
	buf[n + 1] = '\'';
	buf[n + 2] = '\0';
}

/* A map as Java prints it: '{k=v, k2=v2}' (null values print as null). */
static void
kin_quote_map(char *buf, size_t cap, json_t *map)
{
	struct kbuf b = {0};
	const char *k;
	json_t *v;
	bool first = true;

	SP_ASSERT(json_is_object(map) && cap >= 8);
	kb_put(&b, "{", 1);
	json_object_foreach(map, k, v) {
		kb_raw(&b, first ? "" : ", ");
		kb_raw(&b, k);
		kb_put(&b, "=", 1);
		kb_raw(&b, json_is_string(v) ? json_string_value(v) : "null");
		first = false;
	}
	kb_put(&b, "}", 1);
	if (b.oom) {
		snprintf(buf, cap, "'{}'");
	} else {
		kin_quote(buf, cap, b.p, b.len);
	}
	free(b.p);
}

/* A list as Java prints it: '[a, b]'. */
static void
kin_quote_list(char *buf, size_t cap, json_t *list)
{
	struct kbuf b = {0};
	size_t i;
	json_t *x;

	SP_ASSERT(json_is_array(list) && cap >= 8);
	kb_put(&b, "[", 1);
	json_array_foreach(list, i, x)
	{
		kb_raw(&b, i == 0 ? "" : ", ");
		kb_raw(&b, json_is_string(x) ? json_string_value(x) : "null");
	}
	kb_put(&b, "]", 1);
	if (b.oom) {
		snprintf(buf, cap, "'[]'");
	} else {
		kin_quote(buf, cap, b.p, b.len);
	}
	free(b.p);
}

static void
kin_render(const struct kmember *m, const struct kval *v, char *buf, size_t cap)
{
	if (!v->present) {
		snprintf(buf, cap, "null");
	} else if (m->type == KT_STRING) {
		kin_quote(buf, cap, v->s, v->len);
	} else if (m->type == KT_MAP) {
		kin_quote_map(buf, cap, v->j);
	} else if (m->type == KT_LIST) {
		kin_quote_list(buf, cap, v->j);
	} else {
		snprintf(buf, cap, "'%lld'", (long long)v->i);
	}
}

static int64_t
kin_length(const struct kmember *m, const struct kval *v)
{
	if (m->type == KT_LIST) {
		return (int64_t)json_array_size(v->j);
	}
	return m->type == KT_MAP ? (int64_t)json_object_size(v->j) : kin_u16len(v->s, v->len);
}

static bool
kin_enum_ok(const char *const *set, const char *s)
{
	for (; *set != NULL; set++) {
		if (strcmp(*set, s) == 0) {
			return true;
		}
	}
	return false;
}

static void
kin_enum_text(const char *const *set, char *buf, size_t cap)
{
	size_t n = (size_t)snprintf(buf, cap, "Member must satisfy enum value set: [");

	SP_ASSERT(set != NULL && set[0] != NULL && n < cap);
	for (const char *const *e = set; *e != NULL && n < cap; e++) {
		n += (size_t)snprintf(buf + n, cap - n, "%s%s", e == set ? "" : ", ", *e);
	}
	if (n < cap) {
		snprintf(buf + n, cap - n, "]");
	}
}

/* Map keys 1..128 characters, values 0..256 (reference §1.8). */
static void
kin_tag_lengths(const struct kval *v, const char *val, const char *path, struct sp_kvalid *kv)
{
	bool keys_ok = true;
	bool vals_ok = true;
	const char *k;
	json_t *x;

	SP_ASSERT(v->present && json_is_object(v->j));
	json_object_foreach(v->j, k, x) {
		int64_t kl = kin_u16len(k, strlen(k));

		keys_ok = keys_ok && kl >= 1 && kl <= 128;
		if (json_is_string(x)) {
			vals_ok = vals_ok &&
				  kin_u16len(json_string_value(x), json_string_length(x)) <= 256;
		}
	}
	if (!keys_ok) {
		sp_kvalid_add(kv, val, path,
			      "Map keys must satisfy constraint: [Member must have length less "
			      "than or equal to 128, Member must have length greater than or "
			      "equal to 1]");
	}
	if (!vals_ok) {
		sp_kvalid_add(kv, val, path,
			      "Map value must satisfy constraint: [Member must have length less "
			      "than or equal to 256, Member must have length greater than or "
			      "equal to 0]");
	}
}

/* The constraints on each item of a list: tag-key lengths, or an enum (reference §1.8). */
static void
kin_list_items(const struct kmember *m, const struct kval *v, const char *val, const char *path,
	       struct sp_kvalid *kv)
{
	bool lengths_ok = true;
	bool enum_ok = true;
	size_t i;
	json_t *x;

	SP_ASSERT(m->type == KT_LIST && json_is_array(v->j));
	json_array_foreach(v->j, i, x)
	{
		int64_t n = json_is_string(x)
				? kin_u16len(json_string_value(x), json_string_length(x))
				: -1;

		lengths_ok = lengths_ok && n >= 1 && n <= (int64_t)SP_K_TAG_KEY_MAX_CHARS;
		enum_ok = enum_ok && (m->enums == NULL ||
				      (n >= 0 && kin_enum_ok(m->enums, json_string_value(x))));
	}
	if ((m->flags & KF_TAG_KEY_ITEMS) != 0 && !lengths_ok) {
		sp_kvalid_add(
		    kv, val, path,
		    "Member must satisfy constraint: [Member must have length less than or "
		    "equal to 128, Member must have length greater than or equal to 1]");
	}
	if (m->enums != NULL && !enum_ok) {
		char set[512];
		char c[600];

		kin_enum_text(m->enums, set, sizeof(set));
		snprintf(c, sizeof(c), "Member must satisfy constraint: [%s]", set);
		sp_kvalid_add(kv, val, path, c);
	}
}

static void kin_validate(const struct kmember *ms, const struct kreq *r, const char *prefix,
			 bool on_demand, struct sp_kvalid *kv);

/* The checks of one present member, in kinesalite's order. */
static void
kin_validate_value(const struct kmember *m, const struct kreq *r, const char *path,
		   bool on_demand, struct sp_kvalid *kv)
{
	const struct kval *v = &r->m[m->id];
	char val[SP_KVALID_MSG_BYTES];
	char c[256];

	SP_ASSERT(v->present);
	kin_render(m, v, val, sizeof(val));
	if ((m->flags & KF_MIN) != 0 && v->i < m->min) {
		snprintf(c, sizeof(c), "Member must have value greater than or equal to %lld",
			 (long long)m->min);
		sp_kvalid_add(kv, val, path, c);
	}
	if ((m->flags & KF_MAX) != 0 && v->i > m->max) {
		snprintf(c, sizeof(c), "Member must have value less than or equal to %lld",
			 (long long)m->max);
		sp_kvalid_add(kv, val, path, c);
	}
	if ((m->pat == KP_NAME && !kin_name_ok(v->s, v->len)) ||
	    (m->pat == KP_ARN && !kin_arn_match(v->s, v->len, &(size_t){0})) ||
	    (m->pat == KP_HASH && !kin_hash_ok(v->s, v->len))) {
		snprintf(c, sizeof(c), "Member must satisfy regular expression pattern: %s",
			 m->pat == KP_NAME  ? KIN_NAME_RE
			 : m->pat == KP_ARN ? KIN_ARN_RE
					    : KIN_HASH_RE);
		sp_kvalid_add(kv, val, path, c);
	}
	if (m->pat == KP_CONSUMER_ARN && !kin_consumer_arn_match(v->s, v->len, NULL)) {
		sp_kvalid_add(
		    kv, val, path,
		    "Member must satisfy regular expression pattern: " KIN_CONSUMER_ARN_RE);
	}
	if (m->pat == KP_RESOURCE_ARN && !kin_resource_arn_ok(v->s, v->len)) {
		sp_kvalid_add(
		    kv, val, path,
		    "Member must satisfy regular expression pattern: " KIN_RESOURCE_ARN_RE);
	}
	if ((m->flags & KF_LEN_MIN) != 0 && kin_length(m, v) < m->len_min) {
		snprintf(c, sizeof(c), "Member must have length greater than or equal to %lld",
			 (long long)m->len_min);
		sp_kvalid_add(kv, val, path, c);
	}
	if ((m->flags & KF_LEN_MAX) != 0 && kin_length(m, v) > m->len_max) {
		snprintf(c, sizeof(c), "Member must have length less than or equal to %lld",
			 (long long)m->len_max);
		sp_kvalid_add(kv, val, path, c);
	}
	if (m->enums != NULL && m->type == KT_STRING && !kin_enum_ok(m->enums, v->s)) {
		kin_enum_text(m->enums, c, sizeof(c));
		sp_kvalid_add(kv, val, path, c);
	}
	if ((m->flags & KF_TAG_LENGTHS) != 0) {
		kin_tag_lengths(v, val, path, kv);
	}
	if (m->type == KT_LIST) {
		kin_list_items(m, v, val, path, kv);
	}
	if (m->type == KT_STRUCT) {
		char prefix[128];

		snprintf(prefix, sizeof(prefix), "%s.", path);
		kin_validate(m->kids, r, prefix, on_demand, kv);
	}
}

static void
kin_validate(const struct kmember *ms, const struct kreq *r, const char *prefix, bool on_demand,
	     struct sp_kvalid *kv)
{
	SP_VERIFY(ms != NULL && prefix != NULL);
	for (const struct kmember *m = ms; m->key != NULL; m++) {
		char path[160];
		bool must = (m->flags & KF_NOT_NULL) != 0 ||
			    ((m->flags & KF_NOT_NULL_PROV) != 0 && !on_demand);

		snprintf(path, sizeof(path), "%s%s", prefix, m->path);
		if (!r->m[m->id].present) {
			if (must) {
				sp_kvalid_add(kv, "null", path, "Member must not be null");
			}
			continue;
		}
		kin_validate_value(m, r, path, on_demand, kv);
	}
}

static bool
kin_on_demand(const struct kreq *r)
{
	const struct kval *v = &r->m[KM_STREAM_MODE];

	return v->present && strcmp(v->s, "ON_DEMAND") == 0;
}

static bool
kin_check(const struct kmember *ms, const struct kreq *r, struct sp_ctl_kreply *out)
{
	struct sp_kvalid *kv = malloc(sizeof(*kv));

	if (kv == NULL) {
		kin_internal(out, -ENOMEM);
		return false;
	}
	sp_kvalid_init(kv);
	kin_validate(ms, r, "", kin_on_demand(r), kv);
	bool ok = kv->n == 0;

	if (!ok) {
		char msg[SP_CTL_K_MSG_MAX_BYTES];

		sp_kvalid_message(kv, msg, sizeof(msg));
		kin_error(out, SP_KERR_VALIDATION, "%s", msg);
	}
	free(kv);
	return ok;
}

/* ---- Pagination tokens ------------------------------------------------------------------ */

#define KTOK_VERSION 1u
#define KTOK_TAG_BYTES 16u
#define KTOK_STR_MAX SP_K_STREAM_NAME_MAX_CHARS
/* version, kind, issued, created, filter, filter_ms, three strings with a length byte, tag */
#define KTOK_RAW_MAX (1u + 1u + 8u + 8u + 1u + 8u + 3u * (1u + KTOK_STR_MAX) + KTOK_TAG_BYTES)
#define KTOK_CHARS_MAX ((KTOK_RAW_MAX * 4u + 2u) / 3u)

enum ktok_kind { KTOK_SHARDS = 1, KTOK_STREAMS = 2, KTOK_CONSUMERS = 3 };

/* What a token stands for: where the next page starts, and what to list. */
struct ktoken {
	uint8_t kind;
	uint8_t filter; /* enum kfilter */
	int64_t issued_ms;
	int64_t created_ms; /* the stream incarnation (ListShards) */
	int64_t filter_ms;
	char stream[KTOK_STR_MAX + 1];
	char after[KTOK_STR_MAX + 1];	     /* last id or name returned */
	char filter_shard[KTOK_STR_MAX + 1]; /* AFTER_SHARD_ID's ShardId */
};

static const char g_kin_b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* base64url without padding. */
static size_t
kin_b64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t k = SP_MIN(n - i, (size_t)3);

		v |= k > 1 ? (uint32_t)in[i + 1] << 8 : 0;
		v |= k > 2 ? in[i + 2] : 0;
		for (size_t j = 0; j <= k; j++) {
			out[o++] = g_kin_b64[(v >> (18 - 6 * j)) & 0x3F];
		}
	}
	out[o] = '\0';
	SP_ASSERT(o <= KTOK_CHARS_MAX);
	return o;
}

/* Returns the decoded length, or -1 on a character outside the alphabet or a bad length. */
static long
kin_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;

	SP_ASSERT(in != NULL && out != NULL);
	if (n % 4 == 1) {
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const char *p = memchr(g_kin_b64, in[i], sizeof(g_kin_b64) - 1);

		if (p == NULL || in[i] == '\0') {
			return -1;
		}
		acc = acc << 6 | (uint32_t)(p - g_kin_b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap) {
				return -1;
			}
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	SP_ASSERT(o <= cap && o <= n);
	return (long)o;
}

static void
kin_put64(uint8_t *p, int64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v = (int64_t)((uint64_t)v >> 8);
	}
}

static int64_t
kin_get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++) {
		v = v << 8 | p[i];
	}
	return (int64_t)v;
}

static size_t
kin_put_str(uint8_t *p, const char *s)
{
	size_t n = strlen(s);

	SP_VERIFY(n <= KTOK_STR_MAX);
	p[0] = (uint8_t)n;
	memcpy(p + 1, s, n);
	return n + 1;
}

static void
kin_tag(const uint8_t *key, const uint8_t *data, size_t n, uint8_t *tag)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	const uint8_t *rc = HMAC(EVP_sha256(), key, SP_CAT_TOKEN_KEY_BYTES, data, n, md, &mdlen);

	SP_VERIFY(rc != NULL && mdlen >= KTOK_TAG_BYTES);
	memcpy(tag, md, KTOK_TAG_BYTES);
}

/* Seal t into out (KTOK_CHARS_MAX + 1 bytes). */
static void
kin_token_seal(const uint8_t *key, const struct ktoken *t, char *out)
{
	uint8_t raw[KTOK_RAW_MAX];
	size_t n = 0;

	SP_VERIFY(t->kind == KTOK_SHARDS || t->kind == KTOK_STREAMS || t->kind == KTOK_CONSUMERS);
	raw[n++] = KTOK_VERSION;
	raw[n++] = t->kind;
	kin_put64(raw + n, t->issued_ms);
	kin_put64(raw + n + 8, t->created_ms);
	raw[n + 16] = t->filter;
	kin_put64(raw + n + 17, t->filter_ms);
	n += 25;
	n += kin_put_str(raw + n, t->stream);
	n += kin_put_str(raw + n, t->after);
	n += kin_put_str(raw + n, t->filter_shard);
	kin_tag(key, raw, n, raw + n);
	n += KTOK_TAG_BYTES;
	SP_VERIFY(n <= sizeof(raw));
	kin_b64_encode(raw, n, out);
}

static bool
kin_get_str(const uint8_t *raw, size_t end, size_t *at, char *out)
{
	size_t n;

	if (*at >= end) {
		return false;
	}
	n = raw[*at];
	if (n > KTOK_STR_MAX || *at + 1 + n > end) {
		return false;
	}
	memcpy(out, raw + *at + 1, n);
	out[n] = '\0';
	*at += 1 + n;
	return memchr(out, '\0', n) == NULL;
}

/* Open a token of the given kind. Returns false when it is malformed or tampered with. */
static bool
kin_token_open(const uint8_t *key, const char *s, size_t len, uint8_t kind, struct ktoken *t)
{
	uint8_t raw[KTOK_RAW_MAX];
	uint8_t tag[KTOK_TAG_BYTES];
	long n = len <= KTOK_CHARS_MAX ? kin_b64_decode(s, len, raw, sizeof(raw)) : -1;
	size_t at = 27;

	if (n < (long)(27 + 3 + KTOK_TAG_BYTES)) {
		return false;
	}
	size_t end = (size_t)n - KTOK_TAG_BYTES;

	SP_ASSERT(end >= 30 && (size_t)n <= sizeof(raw));
	kin_tag(key, raw, end, tag);
	if (CRYPTO_memcmp(tag, raw + end, KTOK_TAG_BYTES) != 0) {
		return false;
	}
	memset(t, 0, sizeof(*t));
	t->kind = raw[1];
	t->issued_ms = kin_get64(raw + 2);
	t->created_ms = kin_get64(raw + 10);
	t->filter = raw[18];
	t->filter_ms = kin_get64(raw + 19);
	if (raw[0] != KTOK_VERSION || t->kind != kind || t->filter > KFL_FROM_TIMESTAMP ||
	    !kin_get_str(raw, end, &at, t->stream) || !kin_get_str(raw, end, &at, t->after) ||
	    !kin_get_str(raw, end, &at, t->filter_shard)) {
		return false;
	}
	return at == end;
}

/* Open a request's NextToken; on failure fill out and return false. */
static bool
kin_token_take(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kval *v,
	       uint8_t kind, struct ktoken *t, struct sp_ctl_kreply *out)
{
	SP_VERIFY(v->present);
	if (!kin_token_open(sp_cat_token_key(cat), v->s, v->len, kind, t)) {
		kin_error(out, SP_KERR_INVALID_ARGUMENT, "Invalid NextToken.");
		return false;
	}
	/* the test clock offset (0 outside tests) moves token expiry only */
	if (ctx->now_ms + sp_cat_clock_offset_ms(cat) - t->issued_ms >
	    (int64_t)SP_K_NEXT_TOKEN_LIFETIME_MS) {
		kin_error(out, SP_KERR_EXPIRED_NEXT_TOKEN,
			  "The NextToken has expired: it was issued more than %u seconds ago.",
			  SP_K_NEXT_TOKEN_LIFETIME_MS / 1000u);
		return false;
	}
	SP_ASSERT(t->kind == kind);
	return true;
}

/* ---- Stream selector -------------------------------------------------------------------- */

/*
 * Find the stream a request names by StreamName and/or StreamARN. On failure fill out
 * (InvalidArgument, ResourceNotFound or InternalFailure) and return false.
 */
static bool
kin_select(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
	   struct sp_cat_stream_row *row, struct sp_ctl_kreply *out)
{
	const struct kval *name = &r->m[KM_STREAM_NAME];
	const struct kval *arn = &r->m[KM_STREAM_ARN];
	size_t at = 0;
	const char *want;

	if (!name->present && !arn->present) {
		kin_error(out, SP_KERR_INVALID_ARGUMENT,
			  "Neither StreamName nor StreamARN was provided.");
		return false;
	}
	if (arn->present) {
		bool ok = kin_arn_match(arn->s, arn->len, &at);

		SP_VERIFY(ok); /* checked in step 11 */
	}
	if (name->present && arn->present && strcmp(name->s, arn->s + at) != 0) {
		kin_error(out, SP_KERR_INVALID_ARGUMENT,
			  "StreamName %s does not match the stream of StreamARN %s.", name->s,
			  arn->s);
		return false;
	}
	want = name->present ? name->s : arn->s + at;
	int rc = strlen(want) > SP_K_STREAM_NAME_MAX_CHARS ? -ENOENT
							   : sp_cat_stream_get(cat, want, row);

	if (rc == 0 && arn->present && strcmp(arn->s, row->arn) != 0) {
		rc = -ENOENT; /* same name, another region or account */
	}
	if (rc == -ENOENT) {
		kin_not_found(out, ctx, want);
	} else if (rc != 0) {
		kin_internal(out, rc);
	}
	return rc == 0;
}

/* ---- Output pieces ---------------------------------------------------------------------- */

static void
kb_mode(struct kbuf *b, const struct sp_cat_stream_row *st)
{
	kb_raw(b, "\"StreamModeDetails\":{\"StreamMode\":");
	kb_str(b, st->mode[0] != '\0' ? st->mode : "PROVISIONED");
	kb_raw(b, "}");
}

/* StreamName, StreamARN, StreamStatus, StreamModeDetails. */
static void
kb_stream_head(struct kbuf *b, const struct sp_cat_stream_row *st)
{
	kb_raw(b, "\"StreamName\":");
	kb_str(b, st->name);
	kb_raw(b, ",\"StreamARN\":");
	kb_str(b, st->arn);
	kb_raw(b, ",\"StreamStatus\":");
	kb_str(b, st->status);
	kb_raw(b, ",");
	kb_mode(b, st);
}

/* The metrics of bit set `bits` as a JSON array of names, in the model's order. */
static void
kb_metrics(struct kbuf *b, uint32_t bits)
{
	bool first = true;

	SP_ASSERT((bits & ~SP_K_METRIC_ALL) == 0);
	kb_raw(b, "[");
	for (unsigned i = 0; i < SP_K_METRIC_COUNT; i++) {
		if ((bits & (1u << i)) != 0) {
			kb_raw(b, first ? "" : ",");
			kb_str(b, sp_k_metric_names[i]);
			first = false;
		}
	}
	kb_raw(b, "]");
}

/* RetentionPeriodHours, StreamCreationTimestamp, EnhancedMonitoring, EncryptionType, KeyId. */
static void
kb_stream_tail(struct kbuf *b, const struct sp_cat_stream_row *st)
{
	kb_fmt(b, ",\"RetentionPeriodHours\":%lld", (long long)st->retention_hours);
	kb_raw(b, ",\"StreamCreationTimestamp\":");
	kb_ts(b, st->created_ms);
	kb_raw(b, ",\"EnhancedMonitoring\":[{\"ShardLevelMetrics\":");
	kb_metrics(b, st->shard_metrics);
	kb_raw(b, "}],\"EncryptionType\":");
	kb_str(b, st->encryption[0] != '\0' ? st->encryption : "NONE");
	if (st->key_id[0] != '\0') {
		kb_raw(b, ",\"KeyId\":");
		kb_str(b, st->key_id);
	}
}

static void
kb_shard(struct kbuf *b, const struct sp_cat_shard_row *sh)
{
	kb_raw(b, "{\"ShardId\":");
	kb_str(b, sh->shard_id);
	if (sh->parent_shard_id != NULL) {
		kb_raw(b, ",\"ParentShardId\":");
		kb_str(b, sh->parent_shard_id);
	}
	if (sh->adjacent_parent_shard_id != NULL) {
		kb_raw(b, ",\"AdjacentParentShardId\":");
		kb_str(b, sh->adjacent_parent_shard_id);
	}
	kb_raw(b, ",\"HashKeyRange\":{\"StartingHashKey\":");
	kb_str(b, sh->starting_hash_key != NULL ? sh->starting_hash_key : "0");
	kb_raw(b, ",\"EndingHashKey\":");
	kb_str(b, sh->ending_hash_key != NULL ? sh->ending_hash_key : "0");
	kb_raw(b, "},\"SequenceNumberRange\":{\"StartingSequenceNumber\":");
	kb_str(b, sh->starting_seq != NULL ? sh->starting_seq : "0");
	if (sh->ending_seq != NULL) {
		kb_raw(b, ",\"EndingSequenceNumber\":");
		kb_str(b, sh->ending_seq);
	}
	kb_raw(b, "}}");
}

/* Hand the built body to the reply (or turn an allocation failure into InternalFailure). */
static int
kin_body(struct sp_ctl_kreply *out, struct kbuf *b)
{
	if (b->oom || b->p == NULL) {
		free(b->p);
		return kin_internal(out, -ENOMEM);
	}
	SP_ASSERT(strlen(b->p) == b->len);
	out->body = b->p;
	out->body_len = b->len;
	return 0;
}

/* ---- Shard listing (DescribeStream, ListShards) ----------------------------------------- */

struct kin_list {
	const struct sp_ctl_kctx *ctx;
	const struct sp_cat_stream_row *st;
	struct kbuf *b;
	enum kfilter filter;
	int64_t filter_ms;
	const char *filter_shard;
	unsigned max; /* shards per page */
	unsigned n;   /* shards written */
	bool more;    /* a further shard matched */
	char last[KTOK_STR_MAX + 1];
};

static int64_t
kin_retention_ms(const struct sp_cat_stream_row *st)
{
	return st->retention_hours * 3600 * 1000;
}

/* Whether a listing with filter l includes shard sh (reference §3.1 ListShards). */
static bool
kin_shard_wanted(const struct kin_list *l, const struct sp_cat_shard_row *sh)
{
	bool open = sh->closed_ms < 0;
	int64_t trim = l->ctx->now_ms - kin_retention_ms(l->st);
	int64_t t;

	if (!open && sh->closed_ms < trim) {
		return false; /* expired: never listed */
	}
	switch (l->filter) {
	case KFL_AFTER_SHARD_ID:
		return strcmp(sh->shard_id, l->filter_shard) > 0;
	case KFL_AT_TRIM_HORIZON:
		/* A stream younger than its retention has its trim horizon at creation. */
		t = SP_MAX(trim, l->st->created_ms);
		return sh->created_ms <= t && (open || sh->closed_ms >= t);
	case KFL_AT_LATEST:
		return open;
	case KFL_AT_TIMESTAMP:
		t = SP_MAX(l->filter_ms, l->st->created_ms);
		return sh->created_ms <= t && (open || sh->closed_ms >= t);
	case KFL_FROM_TIMESTAMP:
		t = SP_MAX(l->filter_ms, trim);
		return open || sh->closed_ms >= t;
	default:
		return true;
	}
}

static int
kin_list_one(void *arg, const struct sp_cat_shard_row *sh)
{
	struct kin_list *l = arg;

	SP_ASSERT(l->n <= l->max);
	if (!kin_shard_wanted(l, sh)) {
		return 0;
	}
	if (l->n == l->max) {
		l->more = true;
		return 1;
	}
	kb_raw(l->b, l->n > 0 ? "," : "");
	kb_shard(l->b, sh);
	snprintf(l->last, sizeof(l->last), "%s", sh->shard_id);
	l->n++;
	return 0;
}

/* Write the shards of l->st after `after` as a JSON array. */
static int
kin_list_shards(struct sp_cat *cat, struct kin_list *l, const char *after)
{
	int rc;

	SP_VERIFY(l->max > 0 && l->st != NULL);
	kb_raw(l->b, "[");
	rc = sp_cat_shard_foreach(cat, l->st->name, after, kin_list_one, l);
	kb_raw(l->b, "]");
	return rc;
}

/* ---- Operations ------------------------------------------------------------------------- */

/* A page size: the request's value (validated >= 1), capped at cap, or cap when absent. */
static unsigned
kin_page(const struct kval *v, unsigned cap)
{
	SP_VERIFY(cap > 0);
	if (!v->present) {
		return cap;
	}
	SP_VERIFY(v->i >= 1);
	return v->i < (int64_t)cap ? (unsigned)v->i : cap;
}

struct kin_new_shard {
	char id[32];
	char start[SP_U128_DEC_MAX + 1];
	char end[SP_U128_DEC_MAX + 1];
	char seq[SP_U128_DEC_MAX + 1];
};

void
sp_ctl_kinesis_hash_range(uint32_t n, uint32_t i, sp_u128 *start, sp_u128 *end)
{
	const sp_u128 max = ~(sp_u128)0;
	sp_u128 step;

	SP_VERIFY(n > 0 && i < n);
	if (n == 1) {
		*start = 0;
		*end = max;
		return;
	}
	/* floor(2^128 / n) without 2^128: one more than floor(max / n) when n divides 2^128. */
	step = max / n + (max % n == n - 1 ? 1 : 0);
	*start = step * i;
	*end = i + 1 == n ? max : step * (i + 1) - 1;
	SP_ASSERT(*start <= *end);
}

/*
 * The owners of a new stream's n shards: each goes to the worker with the least measured load,
 * then the fewest open shards, then the lowest index (sp_ctl_owner_pick()), counting the shards
 * placed before it at the average load of an open shard. Without a sample (or on an empty
 * appliance) that is the fewest open shards: shard i of the first stream goes to i % workers.
 */
static int
kin_owners(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, uint32_t n, int *owners)
{
	double load[SP_CTL_MAX_WORKERS];
	int64_t count[SP_CTL_MAX_WORKERS];
	unsigned nw = SP_MIN(ctx->n_workers, SP_CTL_MAX_WORKERS);
	double mean = 0;
	int rc;

	SP_VERIFY(nw > 0);
	rc = sp_ctl_worker_loads(cat, ctx->load, NULL, nw, load, count, &mean);
	for (uint32_t i = 0; rc == 0 && i < n; i++) {
		owners[i] = (int)sp_ctl_owner_pick(load, count, nw, mean);
	}
	return rc;
}

/* Fill the n shards of a new stream: ids, hash ranges, starting sequence numbers, owners. */
static void
kin_fill_shards(uint32_t epoch, uint32_t tag, uint32_t n, const int *owners,
		struct sp_cat_shard *sh, struct kin_new_shard *txt)
{
	SP_VERIFY(n > 0);
	for (uint32_t i = 0; i < n; i++) {
		struct sp_seqno_fields f = {.epoch = epoch, .stream_tag = tag, .shard_index = i};
		sp_u128 start, end;

		sp_ctl_kinesis_hash_range(n, i, &start, &end);
		snprintf(txt[i].id, sizeof(txt[i].id), "shardId-%012u", i);
		sp_u128_format(start, txt[i].start);
		sp_u128_format(end, txt[i].end);
		sp_u128_format(sp_seqno_pack(&f), txt[i].seq);
		sh[i] = (struct sp_cat_shard){
			.shard_id = txt[i].id,
			.starting_hash_key = txt[i].start,
			.ending_hash_key = txt[i].end,
			.starting_seq = txt[i].seq,
			.owner_lcore = owners[i],
			.index = i,
		};
	}
	SP_ASSERT(strcmp(txt[n - 1].end, "340282366920938463463374607431768211455") == 0);
}

/* Tag helpers of the tag operations' section, which CreateStream's Tags share. */
static bool kin_create_tags_ok(const struct sp_ctl_kctx *ctx, const struct kreq *r,
			       struct sp_ctl_kreply *out);
static int kin_tags_array(json_t *map, struct sp_cat_tag **out, size_t *n);

/* Insert the new stream; the caller has checked names and quotas. */
static int
kin_create_insert(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
		  uint32_t n, struct sp_ctl_kreply *out)
{
	const char *name = r->m[KM_STREAM_NAME].s;
	struct sp_cat_shard *sh = calloc(n, sizeof(*sh));
	struct kin_new_shard *txt = calloc(n, sizeof(*txt));
	int *owners = calloc(n, sizeof(*owners));
	char arn[SP_CAT_ARN_MAX_BYTES];
	uint32_t epoch = 0;
	struct sp_cat_tag *tags = NULL;
	size_t n_tags = 0;
	int rc = sh == NULL || txt == NULL || owners == NULL ? -ENOMEM : sp_cat_epoch(cat, &epoch);

	if (rc == 0) {
		rc = kin_owners(cat, ctx, n, owners);
	}

	if (rc == 0) {
		rc = kin_tags_array(r->m[KM_TAGS].present ? r->m[KM_TAGS].j : NULL, &tags, &n_tags);
	}

	if (rc == 0) {
		uint32_t tag = sp_seqno_stream_tag(name, strlen(name), ctx->now_ms);
		const struct kval *kib = &r->m[KM_MAX_RECORD_KIB];
		struct sp_cat_stream st = {
			.name = name,
			.arn = arn,
			.status = "CREATING",
			.mode = kin_on_demand(r) ? "ON_DEMAND" : "PROVISIONED",
			.retention_hours = SP_K_RETENTION_HOURS_DEFAULT,
			.created_ms = ctx->now_ms,
			.encryption = "NONE",
			.max_record_bytes = kib->present ? kib->i * 1024 : 0,
			.tags = tags,
			.n_tags = n_tags,
		};

		snprintf(arn, sizeof(arn), "arn:aws:kinesis:%s:%s:stream/%s", ctx->region,
			 ctx->account, name);
		kin_fill_shards(epoch, tag, n, owners, sh, txt);
		rc = sp_cat_stream_insert(cat, &st, sh, n);
	}
	free(sh);
	free(txt);
	free(owners);
	free(tags);
	if (rc == -EEXIST) {
		kin_error(out, SP_KERR_RESOURCE_IN_USE,
			  "Stream %s under account %s already exists.", name, ctx->account);
		return 0;
	}
	if (rc != 0) {
		return kin_internal(out, rc);
	}
	out->catalog_changed = true;
	return 0;
}

static int
kin_create(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
	   struct sp_ctl_kreply *out)
{
	struct sp_cat_stream_row *row = malloc(sizeof(*row));
	const char *name = r->m[KM_STREAM_NAME].s;
	int64_t n = kin_on_demand(r) ? SP_CTL_K_ON_DEMAND_SHARDS : r->m[KM_SHARD_COUNT].i;
	int64_t open = 0, creating = 0;
	int rc = row == NULL ? -ENOMEM : sp_cat_stream_get(cat, name, row);

	free(row);
	SP_VERIFY(n >= 1);
	if (rc == 0) {
		kin_error(out, SP_KERR_RESOURCE_IN_USE,
			  "Stream %s under account %s already exists.", name, ctx->account);
		return 0;
	}
	rc = rc == -ENOENT ? sp_cat_quota_counts(cat, &open, &creating) : rc;
	if (rc != 0) {
		return kin_internal(out, rc);
	}
	if (open + n > (int64_t)ctx->shard_limit) {
		kin_shard_limit_error(out, ctx, open, n);
		return 0;
	}
	if (n > SP_CTL_K_SHARDS_PER_STREAM_MAX) {
		kin_error(out, SP_KERR_LIMIT_EXCEEDED,
			  "ShardCount %lld is above the limit of %u shards per stream.",
			  (long long)n, SP_CTL_K_SHARDS_PER_STREAM_MAX);
		return 0;
	}
	if (creating >= SP_CTL_K_CREATING_MAX) {
		kin_error(out, SP_KERR_LIMIT_EXCEEDED,
			  "The account %s in %s already has %u streams in CREATING state; wait "
			  "for one to become ACTIVE.",
			  ctx->account, ctx->region, SP_CTL_K_CREATING_MAX);
		return 0;
	}
	if (!kin_create_tags_ok(ctx, r, out)) {
		return 0;
	}
	return kin_create_insert(cat, ctx, r, (uint32_t)n, out);
}

static int
kin_delete(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
	   struct sp_ctl_kreply *out)
{
	struct sp_cat_stream_row row;
	int64_t before = 0, after = 0, consumers = 0;
	int rc;

	if (!kin_select(cat, ctx, r, &row, out)) {
		return out->err == SP_KERR_INTERNAL_FAILURE ? -EIO : 0;
	}
	/* registered consumers hold a delete back unless they are to go with the stream */
	rc = sp_cat_consumer_count(cat, row.name, &consumers);
	if (rc != 0) {
		return kin_internal(out, rc);
	}
	if (consumers > 0 && !r->m[KM_ENFORCE].b) {
		kin_error(out, SP_KERR_RESOURCE_IN_USE,
			  "Stream %s under account %s has %lld registered consumer(s); deregister "
			  "them first, or set EnforceConsumerDeletion to delete them with the "
			  "stream.",
			  row.name, ctx->account, (long long)consumers);
		return 0;
	}
	rc = sp_cat_version(cat, &before);
	if (rc == 0) {
		rc = sp_cat_stream_mark_deleting(cat, row.name);
	}
	if (rc == 0) {
		rc = sp_cat_version(cat, &after);
	}
	if (rc == -ENOENT) {
		kin_not_found(out, ctx, row.name);
		return 0;
	}
	if (rc != 0) {
		return kin_internal(out, rc);
	}
	SP_ASSERT(after >= before);
	out->catalog_changed = after != before;
	return 0;
}

static int
kin_describe(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
	     struct sp_ctl_kreply *out)
{
	struct sp_cat_stream_row row;
	struct kbuf b = {0};
	const struct kval *lim = &r->m[KM_LIMIT];
	const struct kval *excl = &r->m[KM_EXCL_SHARD];
	struct kin_list l = {
		.ctx = ctx,
		.st = &row,
		.b = &b,
		.max = kin_page(lim, SP_CTL_K_DESCRIBE_LIMIT_DEFAULT),
	};
	int rc = 0;

	if (!kin_select(cat, ctx, r, &row, out)) {
		return out->err == SP_KERR_INTERNAL_FAILURE ? -EIO : 0;
	}
	SP_VERIFY(l.max >= 1);
	kb_raw(&b, "{\"StreamDescription\":{");
	kb_stream_head(&b, &row);
	kb_raw(&b, ",\"Shards\":");
	if (strcmp(row.status, "CREATING") == 0) {
		kb_raw(&b, "[]"); /* shards appear once the stream is ACTIVE (reference §2.6) */
	} else {
		rc = kin_list_shards(cat, &l, excl->present ? excl->s : NULL);
	}
	kb_raw(&b, l.more ? ",\"HasMoreShards\":true" : ",\"HasMoreShards\":false");
	kb_stream_tail(&b, &row);
	kb_raw(&b, "}}");
	if (rc != 0) {
		free(b.p);
		return kin_internal(out, rc);
	}
	return kin_body(out, &b);
}

static int
kin_summary(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
	    struct sp_ctl_kreply *out)
{
	struct sp_cat_stream_row row;
	struct kbuf b = {0};
	int64_t consumers = 0;
	int rc;

	if (!kin_select(cat, ctx, r, &row, out)) {
		return out->err == SP_KERR_INTERNAL_FAILURE ? -EIO : 0;
	}
	rc = sp_cat_consumer_count(cat, row.name, &consumers);
	if (rc != 0) {
		return kin_internal(out, rc);
	}
	SP_ASSERT(row.max_record_bytes > 0);
	kb_raw(&b, "{\"StreamDescriptionSummary\":{");
	kb_stream_head(&b, &row);
	kb_stream_tail(&b, &row);
	/* Shards are not shown while CREATING (reference §2.6), nor counted (kinesalite). */
	kb_fmt(&b, ",\"OpenShardCount\":%lld",
	       strcmp(row.status, "CREATING") == 0 ? 0LL : (long long)row.open_shards);
	kb_fmt(&b, ",\"ConsumerCount\":%lld", (long long)consumers);
	kb_fmt(&b, ",\"MaxRecordSizeInKiB\":%lld", (long long)(row.max_record_bytes / 1024));
	kb_raw(&b, "}}");
	return kin_body(out, &b);
}

struct kin_streams {
	struct kbuf names;
	struct kbuf sums;
	unsigned max;
	unsigned n;
	bool more;
	char last[SP_K_STREAM_NAME_MAX_CHARS + 1];
};

static int
kin_streams_one(void *arg, const struct sp_cat_stream_row *st)
{
	struct kin_streams *ls = arg;

	SP_ASSERT(ls->n <= ls->max);
	if (ls->n == ls->max) {
		ls->more = true;
		return 1;
	}
	kb_raw(&ls->names, ls->n > 0 ? "," : "");
	kb_str(&ls->names, st->name);
	kb_raw(&ls->sums, ls->n > 0 ? ",{" : "{");
	kb_stream_head(&ls->sums, st);
	kb_raw(&ls->sums, ",\"StreamCreationTimestamp\":");
	kb_ts(&ls->sums, st->created_ms);
	kb_raw(&ls->sums, "}");
	snprintf(ls->last, sizeof(ls->last), "%s", st->name);
	ls->n++;
	return 0;
}

static int
kin_list_streams_out(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, struct kin_streams *ls,
		     struct sp_ctl_kreply *out)
{
	struct kbuf b = {0};

	SP_VERIFY(ls->n <= ls->max);
	kb_raw(&b, "{\"StreamNames\":[");
	kb_raw(&b, ls->names.p != NULL ? ls->names.p : "");
	kb_raw(&b, ls->more ? "],\"HasMoreStreams\":true" : "],\"HasMoreStreams\":false");
	if (ls->more) {
		struct ktoken t = {.kind = KTOK_STREAMS,
				   .issued_ms = ctx->now_ms + sp_cat_clock_offset_ms(cat)};
		char tok[KTOK_CHARS_MAX + 1];

		snprintf(t.after, sizeof(t.after), "%s", ls->last);
		kin_token_seal(sp_cat_token_key(cat), &t, tok);
		kb_raw(&b, ",\"NextToken\":");
		kb_str(&b, tok);
	}
	kb_raw(&b, ",\"StreamSummaries\":[");
	kb_raw(&b, ls->sums.p != NULL ? ls->sums.p : "");
	kb_raw(&b, "]}");
	if (ls->names.oom || ls->sums.oom) {
		free(b.p);
		b = (struct kbuf){.oom = true};
	}
	SP_ASSERT(!ls->more || ls->n == ls->max);
	return kin_body(out, &b);
}

static int
kin_list_streams(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
		 struct sp_ctl_kreply *out)
{
	const struct kval *lim = &r->m[KM_LIMIT];
	struct kin_streams ls = {
		.max = kin_page(lim, SP_CTL_K_LIST_STREAMS_LIMIT_DEFAULT),
	};
	struct ktoken t;
	const char *after = NULL;
	int rc;

	if (r->m[KM_NEXT_TOKEN].present) {
		if (!kin_token_take(cat, ctx, &r->m[KM_NEXT_TOKEN], KTOK_STREAMS, &t, out)) {
			return 0;
		}
		after = t.after; /* the token's position wins over ExclusiveStartStreamName */
	} else if (r->m[KM_EXCL_STREAM].present) {
		after = r->m[KM_EXCL_STREAM].s;
	}
	SP_VERIFY(ls.max >= 1);
	rc = sp_cat_stream_foreach(cat, after, kin_streams_one, &ls);
	if (rc == 0) {
		rc = kin_list_streams_out(cat, ctx, &ls, out);
	} else {
		kin_internal(out, rc);
	}
	free(ls.names.p);
	free(ls.sums.p);
	return rc;
}

/* ListShards argument rules that need no catalog (InvalidArgumentException). */
static bool
kin_list_shards_args(const struct kreq *r, struct sp_ctl_kreply *out)
{
	static const struct {
		enum kmid id;
		const char *name;
	} conflicts[] = {
		{KM_STREAM_NAME, "StreamName"},
		{KM_STREAM_ARN, "StreamARN"},
		{KM_EXCL_SHARD, "ExclusiveStartShardId"},
		{KM_CREATION_TS, "StreamCreationTimestamp"},
	};
	const struct kval *type = &r->m[KM_FILTER_TYPE];

	if (r->m[KM_NEXT_TOKEN].present) {
		for (size_t i = 0; i < SP_ARRAY_SIZE(conflicts); i++) {
			if (r->m[conflicts[i].id].present) {
				kin_error(out, SP_KERR_INVALID_ARGUMENT,
					  "NextToken and %s cannot be provided together.",
					  conflicts[i].name);
				return false;
			}
		}
		return true; /* the token carries the filter; a ShardFilter is ignored */
	}
	if (!r->m[KM_STREAM_NAME].present && !r->m[KM_STREAM_ARN].present) {
		kin_error(out, SP_KERR_INVALID_ARGUMENT,
			  "Either NextToken or StreamName should be provided.");
		return false;
	}
	if (type->present && strcmp(type->s, "AFTER_SHARD_ID") == 0 &&
	    !r->m[KM_FILTER_SHARD].present) {
		kin_error(out, SP_KERR_INVALID_ARGUMENT,
			  "ShardFilter of type AFTER_SHARD_ID needs a ShardId.");
		return false;
	}
	if (type->present && strstr(type->s, "_TIMESTAMP") != NULL && !r->m[KM_FILTER_TS].present) {
		kin_error(out, SP_KERR_INVALID_ARGUMENT,
			  "ShardFilter of type %s needs a Timestamp.", type->s);
		return false;
	}
	return true;
}

/* Resolve the stream and the listing state of a ListShards call without a NextToken. */
static bool
kin_list_shards_fresh(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
		      struct sp_cat_stream_row *row, struct ktoken *t, struct sp_ctl_kreply *out)
{
	const struct kval *type = &r->m[KM_FILTER_TYPE];
	const struct kval *ts = &r->m[KM_CREATION_TS];

	if (!kin_select(cat, ctx, r, row, out)) {
		return false;
	}
	/* Second granularity: clients echo the timestamp they were shown. */
	if (ts->present && ts->i / 1000 != row->created_ms / 1000) {
		kin_not_found(out, ctx, row->name);
		return false;
	}
	memset(t, 0, sizeof(*t));
	for (unsigned i = 0; type->present && g_kin_filters[i] != NULL; i++) {
		if (strcmp(type->s, g_kin_filters[i]) == 0) {
			t->filter = (uint8_t)(i + 1);
		}
	}
	SP_ASSERT(!type->present || t->filter != KFL_NONE);
	t->filter_ms = r->m[KM_FILTER_TS].i;
	if (r->m[KM_FILTER_SHARD].present) {
		snprintf(t->filter_shard, sizeof(t->filter_shard), "%s", r->m[KM_FILTER_SHARD].s);
	}
	if (r->m[KM_EXCL_SHARD].present) {
		snprintf(t->after, sizeof(t->after), "%s", r->m[KM_EXCL_SHARD].s);
	}
	return true;
}

/* Resolve the stream and the listing state of a ListShards call with a NextToken. */
static bool
kin_list_shards_next(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
		     struct sp_cat_stream_row *row, struct ktoken *t, struct sp_ctl_kreply *out)
{
	int rc;

	if (!kin_token_take(cat, ctx, &r->m[KM_NEXT_TOKEN], KTOK_SHARDS, t, out)) {
		return false;
	}
	rc = sp_cat_stream_get(cat, t->stream, row);
	if (rc == 0 && row->created_ms != t->created_ms) {
		rc = -ENOENT; /* deleted and created again since the token was issued */
	}
	if (rc == -ENOENT) {
		kin_not_found(out, ctx, t->stream);
	} else if (rc != 0) {
		kin_internal(out, rc);
	}
	SP_ASSERT(t->kind == KTOK_SHARDS);
	return rc == 0;
}

static int
kin_list_shards_out(struct sp_cat *cat, struct kin_list *l, struct ktoken *t,
		    struct sp_ctl_kreply *out)
{
	int rc;

	SP_VERIFY(l->b->len == 0);
	kb_raw(l->b, "{\"Shards\":");
	rc = l->max == 0 ? (kb_raw(l->b, "[]"), 0)
			 : kin_list_shards(cat, l, t->after[0] != '\0' ? t->after : NULL);
	if (rc != 0) {
		free(l->b->p);
		return kin_internal(out, rc);
	}
	if (l->more) {
		char tok[KTOK_CHARS_MAX + 1];

		t->kind = KTOK_SHARDS;
		t->issued_ms = l->ctx->now_ms + sp_cat_clock_offset_ms(cat);
		t->created_ms = l->st->created_ms;
		snprintf(t->stream, sizeof(t->stream), "%s", l->st->name);
		snprintf(t->after, sizeof(t->after), "%s", l->last);
		kin_token_seal(sp_cat_token_key(cat), t, tok);
		kb_raw(l->b, ",\"NextToken\":");
		kb_str(l->b, tok);
	}
	kb_raw(l->b, "}");
	SP_ASSERT(l->n <= l->max);
	return kin_body(out, l->b);
}

static int
kin_list_shards_op(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
		   struct sp_ctl_kreply *out)
{
	struct sp_cat_stream_row row;
	struct ktoken t;
	struct kbuf b = {0};
	const struct kval *mr = &r->m[KM_MAX_RESULTS];
	struct kin_list l = {
		.ctx = ctx,
		.st = &row,
		.b = &b,
		.max = kin_page(mr, SP_CTL_K_LIST_SHARDS_MAX_DEFAULT),
	};
	bool ok = kin_list_shards_args(r, out) &&
		  (r->m[KM_NEXT_TOKEN].present ? kin_list_shards_next(cat, ctx, r, &row, &t, out)
					       : kin_list_shards_fresh(cat, ctx, r, &row, &t, out));

	if (!ok) {
		return out->err == SP_KERR_INTERNAL_FAILURE ? -EIO : 0;
	}
	if (strcmp(row.status, "CREATING") == 0) {
		/* As DescribeStream: shards appear once the stream is ACTIVE (kinesalite). */
		l.max = 0;
	}
	l.filter = (enum kfilter)t.filter;
	l.filter_ms = t.filter_ms;
	l.filter_shard = t.filter_shard;
	return kin_list_shards_out(cat, &l, &t, out);
}

/*
 * Increase (increase == true) or DecreaseStreamRetentionPeriod. Checks after the selector, in
 * kinesalite's order (the range before the stream's state and current value), then ours:
 * below 24 h, above 8760 h, not ACTIVE, the wrong direction. An equal value succeeds without
 * a catalog change.
 */
static int
kin_retention(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
	      bool increase, struct sp_ctl_kreply *out)
{
	struct sp_cat_stream_row row;
	int64_t h = r->m[KM_RETENTION].i;
	int rc;

	SP_VERIFY(r->m[KM_RETENTION].present); /* not null: checked in step 11 */
	if (!kin_select(cat, ctx, r, &row, out)) {
		return out->err == SP_KERR_INTERNAL_FAILURE ? -EIO : 0;
	}
	if (h < SP_K_RETENTION_HOURS_MIN) {
		kin_error(out, SP_KERR_INVALID_ARGUMENT,
			  "Minimum allowed retention period is %d hours. Requested retention "
			  "period (%lld hours) is too short.",
			  SP_K_RETENTION_HOURS_MIN, (long long)h);
		return 0;
	}
	if (h > SP_K_RETENTION_HOURS_MAX) {
		kin_error(out, SP_KERR_INVALID_ARGUMENT,
			  "Maximum allowed retention period is %d hours. Requested retention "
			  "period (%lld hours) is too long.",
			  SP_K_RETENTION_HOURS_MAX, (long long)h);
		return 0;
	}
	if (!kin_active(ctx, &row, out)) {
		return 0;
	}
	if (increase ? h < row.retention_hours : h > row.retention_hours) {
		kin_error(out, SP_KERR_INVALID_ARGUMENT,
			  "Requested retention period (%lld hours) for stream %s can not be %s "
			  "than existing retention period (%lld hours). Use %sRetentionPeriod API.",
			  (long long)h, row.name, increase ? "shorter" : "longer",
			  (long long)row.retention_hours, increase ? "Decrease" : "Increase");
		return 0;
	}
	rc = sp_cat_stream_set_retention(cat, row.name, h);
	if (rc == -ENOENT) {
		kin_not_found(out, ctx, row.name);
		return 0;
	}
	if (rc < 0) {
		return kin_internal(out, rc);
	}
	SP_ASSERT(rc == 1 || h == row.retention_hours);
	out->catalog_changed = rc == 1;
	return 0;
}

static int
kin_increase_retention(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
		       struct sp_ctl_kreply *out)
{
	return kin_retention(cat, ctx, r, true, out);
}

static int
kin_decrease_retention(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
		       struct sp_ctl_kreply *out)
{
	return kin_retention(cat, ctx, r, false, out);
}

/*
 * UpdateMaxRecordSize. The range was checked in step 11; then the selector, the state (only an
 * ACTIVE stream changes, in the retention operations' words) and the change itself. An equal
 * value succeeds without a catalog change. The dataplane takes the new limit from the next
 * snapshot.
 */
static int
kin_max_record(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
	       struct sp_ctl_kreply *out)
{
	struct sp_cat_stream_row row;
	int64_t kib = r->m[KM_MAX_RECORD_KIB].i;
	int rc;

	SP_VERIFY(r->m[KM_MAX_RECORD_KIB].present); /* not null: checked in step 11 */
	SP_VERIFY(kib >= SP_CTL_K_MAX_RECORD_KIB_MIN && kib <= SP_CTL_K_MAX_RECORD_KIB_MAX);
	if (!kin_select(cat, ctx, r, &row, out)) {
		return out->err == SP_KERR_INTERNAL_FAILURE ? -EIO : 0;
	}
	if (!kin_active(ctx, &row, out)) {
		return 0;
	}
	rc = sp_cat_stream_set_max_record(cat, row.name, kib * 1024);
	if (rc == -ENOENT) {
		kin_not_found(out, ctx, row.name);
		return 0;
	}
	if (rc < 0) {
		return kin_internal(out, rc);
	}
	SP_ASSERT(rc == 1 || kib * 1024 == row.max_record_bytes);
	out->catalog_changed = rc == 1;
	return 0;
}

/* ---- Tags ------------------------------------------------------------------------------- */

/*
 * Tag writes commit without a catalog_version bump: the dataplane's snapshot has no tags, so
 * nothing it holds changes, and a bump would only push it an identical snapshot.
 */

#define KIN_TAG_CHARS_STREAM                                                                       \
	"Some tags contain invalid characters. Valid characters: Unicode letters, digits, "        \
	"white space, _ . / = + - % @."
#define KIN_TAG_CHARS_RESOURCE                                                                     \
	"Some tags contain invalid characters. Valid characters: Unicode letters, digits, "        \
	"white space, _ . : / = + - @."
#define KIN_TAG_ILLEGAL_TAIL                                                                       \
	"because some tags contained illegal characters. The allowed characters are Unicode "      \
	"letters, white-spaces, '_',',','/','=','+','-','@'."

/* The two tag families: stream tags (AddTagsToStream...) and resource tags (TagResource...). */
enum ktagset { KTS_STREAM, KTS_RESOURCE };

/*
 * Whether code point cp may appear in a tag. kinesalite's set: \w, a space, the family's
 * punctuation, and as "Unicode letters" U+00C0..U+1FFF and U+2C00..U+D7FF (so nothing outside
 * the BMP, which its UTF-16 regex sees as surrogates).
 */
static bool
kin_tag_char_ok(uint32_t cp, enum ktagset set)
{
	const char *punct = set == KTS_STREAM ? "_ ./=+-@%" : "_ .:/=+-@";

	if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9')) {
		return true;
	}
	if (cp < 0x80) {
		return cp != 0 && strchr(punct, (int)cp) != NULL;
	}
	return (cp >= 0xC0 && cp <= 0x1FFF) || (cp >= 0x2C00 && cp <= 0xD7FF);
}

/* Every character of s (valid UTF-8) may appear in a tag of family set. */
static bool
kin_tag_text_ok(const char *s, enum ktagset set)
{
	uint32_t cp;

	SP_ASSERT(s != NULL);
	for (size_t i = 0; s[i] != '\0';) {
		i += kin_utf8_next((const uint8_t *)s + i, &cp);
		if (!kin_tag_char_ok(cp, set)) {
			return false;
		}
	}
	return true;
}

/* "aws:" in any case: reserved for AWS's own tags. */
static bool
kin_tag_reserved(const char *key)
{
	return strncasecmp(key, "aws:", 4) == 0;
}

/*
 * Step-12 rules for tags being added (map: Tags) or removed (list: TagKeys), in kinesalite's
 * order: characters, then '%' (stream tags), then the reserved prefix (added keys). `target`
 * names the stream or resource in the texts. On failure fill out and return false.
 */
static bool
kin_tags_rules(const struct sp_ctl_kctx *ctx, json_t *tags, enum ktagset set, const char *target,
	       struct sp_ctl_kreply *out)
{
	bool adding = json_is_object(tags);
	bool chars_ok = true, percent = false, reserved = false;
	const char *k;
	json_t *v;
	size_t i;

	SP_VERIFY(adding || json_is_array(tags));
	if (adding) {
		json_object_foreach(tags, k, v)
		{
			const char *val = json_is_string(v) ? json_string_value(v) : "";

			chars_ok = chars_ok && kin_tag_text_ok(k, set) && kin_tag_text_ok(val, set);
			percent = percent || strchr(k, '%') != NULL || strchr(val, '%') != NULL;
			reserved = reserved || kin_tag_reserved(k);
		}
	} else {
		json_array_foreach(tags, i, v)
		{
			SP_ASSERT(json_is_string(v)); /* step 11 refused null items */
			chars_ok = chars_ok && kin_tag_text_ok(json_string_value(v), set);
			percent = percent || strchr(json_string_value(v), '%') != NULL;
		}
	}
	if (!chars_ok) {
		kin_error(out, SP_KERR_INVALID_ARGUMENT, "%s",
			  set == KTS_STREAM ? KIN_TAG_CHARS_STREAM : KIN_TAG_CHARS_RESOURCE);
	} else if (percent) {
		SP_ASSERT(set == KTS_STREAM); /* not in the resource family's set */
		kin_error(out, SP_KERR_INVALID_ARGUMENT,
			  "Failed to %s stream %s under account %s %s",
			  adding ? "add tags to" : "remove tags from", target, ctx->account,
			  KIN_TAG_ILLEGAL_TAIL);
	} else if (reserved) {
		kin_error(out, SP_KERR_INVALID_ARGUMENT,
			  "Tag keys beginning with aws: are reserved for AWS use.");
	}
	return out->err == SP_KERR_NONE;
}

/* The too-many-tags text (reference §3.4: AWS's stale "10" for stream tags). */
static void
kin_tags_too_many(const struct sp_ctl_kctx *ctx, enum ktagset set, const char *target,
		  struct sp_ctl_kreply *out)
{
	if (set == KTS_STREAM) {
		kin_error(out, SP_KERR_INVALID_ARGUMENT,
			  "Failed to add tags to stream %s under account %s because a given stream "
			  "cannot have more than 10 tags associated with it.",
			  target, ctx->account);
	} else {
		kin_error(out, SP_KERR_INVALID_ARGUMENT,
			  "Failed to tag resource %s under account %s because a given resource "
			  "cannot have more than %u tags associated with it.",
			  target, ctx->account, SP_K_TAGS_PER_STREAM_MAX);
	}
}

/*
 * CreateStream's Tags, stored with the stream: the rules of AddTagsToStream, and at most
 * SP_K_TAGS_PER_STREAM_MAX of them (the map itself may hold 200).
 */
static bool
kin_create_tags_ok(const struct sp_ctl_kctx *ctx, const struct kreq *r, struct sp_ctl_kreply *out)
{
	const struct kval *tags = &r->m[KM_TAGS];
	const char *name = r->m[KM_STREAM_NAME].s;

	if (!tags->present || !kin_tags_rules(ctx, tags->j, KTS_STREAM, name, out)) {
		return out->err == SP_KERR_NONE;
	}
	if (json_object_size(tags->j) > SP_K_TAGS_PER_STREAM_MAX) {
		kin_tags_too_many(ctx, KTS_STREAM, name, out);
		return false;
	}
	return true;
}

/* The map's entries as catalog tags (null values become ""); *out is freed by the caller. */
static int
kin_tags_array(json_t *map, struct sp_cat_tag **out, size_t *n)
{
	const char *k;
	json_t *v;
	size_t i = 0;

	*n = 0;
	*out = NULL;
	if (map == NULL || json_object_size(map) == 0) {
		return 0;
	}
	*out = calloc(json_object_size(map), sizeof(**out));
	if (*out == NULL) {
		return -ENOMEM;
	}
	json_object_foreach(map, k, v)
	{
		(*out)[i].key = k;
		(*out)[i].value = json_is_string(v) ? json_string_value(v) : "";
		i++;
	}
	SP_ASSERT(i == json_object_size(map));
	*n = i;
	return 0;
}

/* Store the request's Tags on stream (already resolved); all rules of step 12. */
static int
kin_tags_add(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, json_t *map, enum ktagset set,
	     const char *stream, const char *target, struct sp_ctl_kreply *out)
{
	struct sp_cat_tag *tags;
	size_t n;
	int rc;

	SP_VERIFY(json_is_object(map));
	if (!kin_tags_rules(ctx, map, set, target, out)) {
		return 0;
	}
	rc = kin_tags_array(map, &tags, &n);
	if (rc == 0) {
		rc = sp_cat_tags_put(cat, stream, tags, n, SP_K_TAGS_PER_STREAM_MAX);
	}
	free(tags);
	if (rc == -E2BIG) {
		kin_tags_too_many(ctx, set, target, out);
		return 0;
	}
	if (rc == -ENOENT) {
		kin_not_found(out, ctx, stream);
		return 0;
	}
	return rc == 0 ? 0 : kin_internal(out, rc);
}

/* Remove the request's TagKeys from stream (already resolved). */
static int
kin_tags_remove(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, json_t *list, enum ktagset set,
		const char *stream, struct sp_ctl_kreply *out)
{
	size_t n = json_array_size(list);
	const char **keys;
	int rc;

	SP_VERIFY(json_is_array(list) && n >= 1);
	if (!kin_tags_rules(ctx, list, set, stream, out)) {
		return 0;
	}
	keys = calloc(n, sizeof(*keys));
	if (keys == NULL) {
		return kin_internal(out, -ENOMEM);
	}
	for (size_t i = 0; i < n; i++) {
		keys[i] = json_string_value(json_array_get(list, i));
	}
	rc = sp_cat_tags_remove(cat, stream, keys, n);
	free(keys);
	if (rc == -ENOENT) {
		kin_not_found(out, ctx, stream);
		return 0;
	}
	return rc == 0 ? 0 : kin_internal(out, rc);
}

static int
kin_add_tags(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
	     struct sp_ctl_kreply *out)
{
	struct sp_cat_stream_row row;

	SP_VERIFY(r->m[KM_TAGS].present); /* not null: checked in step 11 */
	if (!kin_select(cat, ctx, r, &row, out)) {
		return out->err == SP_KERR_INTERNAL_FAILURE ? -EIO : 0;
	}
	return kin_tags_add(cat, ctx, r->m[KM_TAGS].j, KTS_STREAM, row.name, row.name, out);
}

static int
kin_remove_tags(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
		struct sp_ctl_kreply *out)
{
	struct sp_cat_stream_row row;

	SP_VERIFY(r->m[KM_TAG_KEYS].present);
	if (!kin_select(cat, ctx, r, &row, out)) {
		return out->err == SP_KERR_INTERNAL_FAILURE ? -EIO : 0;
	}
	return kin_tags_remove(cat, ctx, r->m[KM_TAG_KEYS].j, KTS_STREAM, row.name, out);
}

struct kin_tag_list {
	struct kbuf *b;
	unsigned max; /* tags per page */
	unsigned n;   /* tags written */
	bool more;    /* a further tag followed */
};

static int
kin_tag_one(void *arg, const char *key, const char *value)
{
	struct kin_tag_list *l = arg;

	SP_ASSERT(l->n <= l->max);
	if (l->n == l->max) {
		l->more = true;
		return 1;
	}
	kb_raw(l->b, l->n > 0 ? ",{\"Key\":" : "{\"Key\":");
	kb_str(l->b, key);
	kb_raw(l->b, ",\"Value\":");
	kb_str(l->b, value);
	kb_raw(l->b, "}");
	l->n++;
	return 0;
}

/* ListTagsForStream: keys in order after ExclusiveStartTagKey; Limit defaults to 50. */
static int
kin_list_tags(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
	      struct sp_ctl_kreply *out)
{
	struct sp_cat_stream_row row;
	struct kbuf b = {0};
	const struct kval *excl = &r->m[KM_EXCL_TAG_KEY];
	struct kin_tag_list l = {.b = &b,
				 .max = kin_page(&r->m[KM_TAG_LIMIT], SP_K_TAGS_PER_STREAM_MAX)};
	int rc;

	if (!kin_select(cat, ctx, r, &row, out)) {
		return out->err == SP_KERR_INTERNAL_FAILURE ? -EIO : 0;
	}
	SP_VERIFY(l.max >= 1);
	kb_raw(&b, "{\"Tags\":[");
	rc = sp_cat_tags_foreach(cat, row.name, excl->present ? excl->s : NULL, kin_tag_one, &l);
	kb_raw(&b, l.more ? "],\"HasMoreTags\":true}" : "],\"HasMoreTags\":false}");
	if (rc != 0) {
		free(b.p);
		return kin_internal(out, rc);
	}
	return kin_body(out, &b);
}

/*
 * Find the stream a ResourceARN names. A consumer ARN (".../stream/<S>/consumer/<C>:<t>")
 * finds nothing: there are no consumers yet. On failure fill out and return false.
 */
static bool
kin_select_resource(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
		    struct sp_cat_stream_row *row, struct sp_ctl_kreply *out)
{
	const struct kval *arn = &r->m[KM_RESOURCE_ARN];
	size_t at = 0;
	bool stream_arn = kin_arn_match(arn->s, arn->len, &at);
	const char *name = arn->s + at;
	int rc;

	SP_VERIFY(arn->present);
	if (stream_arn && strstr(name, "/consumer/") != NULL) {
		kin_error(out, SP_KERR_RESOURCE_NOT_FOUND,
			  "Consumer %s under account %s not found.", arn->s, ctx->account);
		return false;
	}
	if (!stream_arn || !kin_name_ok(name, strlen(name)) ||
	    strlen(name) > SP_K_STREAM_NAME_MAX_CHARS) {
		kin_error(out, SP_KERR_RESOURCE_NOT_FOUND,
			  "Resource %s under account %s not found.", arn->s, ctx->account);
		return false;
	}
	rc = sp_cat_stream_get(cat, name, row);
	if (rc == 0 && strcmp(arn->s, row->arn) != 0) {
		rc = -ENOENT; /* same name, another region or account */
	}
	if (rc == -ENOENT) {
		kin_not_found(out, ctx, name);
	} else if (rc != 0) {
		kin_internal(out, rc);
	}
	return rc == 0;
}

static int
kin_tag_resource(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
		 struct sp_ctl_kreply *out)
{
	struct sp_cat_stream_row row;

	SP_VERIFY(r->m[KM_TAGS].present && r->m[KM_RESOURCE_ARN].present);
	if (!kin_select_resource(cat, ctx, r, &row, out)) {
		return out->err == SP_KERR_INTERNAL_FAILURE ? -EIO : 0;
	}
	return kin_tags_add(cat, ctx, r->m[KM_TAGS].j, KTS_RESOURCE, row.name,
			    r->m[KM_RESOURCE_ARN].s, out);
}

static int
kin_untag_resource(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
		   struct sp_ctl_kreply *out)
{
	struct sp_cat_stream_row row;

	SP_VERIFY(r->m[KM_TAG_KEYS].present && r->m[KM_RESOURCE_ARN].present);
	if (!kin_select_resource(cat, ctx, r, &row, out)) {
		return out->err == SP_KERR_INTERNAL_FAILURE ? -EIO : 0;
	}
	return kin_tags_remove(cat, ctx, r->m[KM_TAG_KEYS].j, KTS_RESOURCE, row.name, out);
}

/* ListTagsForResource: every tag (at most 50), in key order; no paging in the model. */
static int
kin_list_tags_resource(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
		       struct sp_ctl_kreply *out)
{
	struct sp_cat_stream_row row;
	struct kbuf b = {0};
	struct kin_tag_list l = {.b = &b, .max = UINT_MAX};
	int rc;

	const struct kval *arn = &r->m[KM_RESOURCE_ARN];
	struct sp_cat_consumer_row c;

	/* a consumer's tags (given to RegisterStreamConsumer) */
	if (kin_consumer_arn_match(arn->s, arn->len, NULL) &&
	    arn->len < SP_CAT_CONSUMER_ARN_MAX_BYTES &&
	    sp_cat_consumer_get_arn(cat, arn->s, &c) == 0) {
		kb_raw(&b, "{\"Tags\":[");
		rc = sp_cat_consumer_tags_foreach(cat, c.arn, kin_tag_one, &l);
		kb_raw(&b, "]}");
		if (rc != 0) {
			free(b.p);
			return kin_internal(out, rc);
		}
		return kin_body(out, &b);
	}
	if (!kin_select_resource(cat, ctx, r, &row, out)) {
		return out->err == SP_KERR_INTERNAL_FAILURE ? -EIO : 0;
	}
	kb_raw(&b, "{\"Tags\":[");
	rc = sp_cat_tags_foreach(cat, row.name, NULL, kin_tag_one, &l);
	kb_raw(&b, "]}");
	if (rc != 0) {
		free(b.p);
		return kin_internal(out, rc);
	}
	SP_ASSERT(!l.more);
	return kin_body(out, &b);
}

/* ---- Enhanced monitoring, limits -------------------------------------------------------- */

/* The bits a ShardLevelMetrics list names ("ALL": all seven). */
static uint32_t
kin_metric_bits(json_t *list)
{
	uint32_t bits = 0;
	size_t i;
	json_t *x;

	json_array_foreach(list, i, x)
	{
		const char *s = json_string_value(x);

		SP_VERIFY(s != NULL); /* step 11 checked every item against the enum */
		if (strcmp(s, "ALL") == 0) {
			bits |= SP_K_METRIC_ALL;
		}
		for (unsigned b = 0; b < SP_K_METRIC_COUNT; b++) {
			bits |= strcmp(s, sp_k_metric_names[b]) == 0 ? 1u << b : 0u;
		}
	}
	SP_ASSERT(bits != 0 && (bits & ~SP_K_METRIC_ALL) == 0);
	return bits;
}

/*
 * Enable (enable == true) or DisableEnhancedMonitoring. After the selector, only an ACTIVE
 * stream changes (the retention operations' text). The metrics are in the dataplane's
 * snapshot, which may count per-shard metrics only when enabled, so a change bumps
 * catalog_version and is pushed before the reply; an unchanged set bumps nothing.
 */
static int
kin_monitoring(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r, bool enable,
	       struct sp_ctl_kreply *out)
{
	struct sp_cat_stream_row row;
	struct kbuf b = {0};
	uint32_t bits = kin_metric_bits(r->m[KM_METRICS].j);
	uint32_t want;
	int rc;

	if (!kin_select(cat, ctx, r, &row, out)) {
		return out->err == SP_KERR_INTERNAL_FAILURE ? -EIO : 0;
	}
	if (!kin_active(ctx, &row, out)) {
		return 0;
	}
	want = enable ? row.shard_metrics | bits : row.shard_metrics & ~bits;
	rc = sp_cat_stream_set_metrics(cat, row.name, want);
	if (rc == -ENOENT) {
		kin_not_found(out, ctx, row.name);
		return 0;
	}
	if (rc < 0) {
		return kin_internal(out, rc);
	}
	SP_ASSERT(rc == 1 || want == row.shard_metrics);
	out->catalog_changed = rc == 1;
	kb_raw(&b, "{\"StreamName\":");
	kb_str(&b, row.name);
	kb_raw(&b, ",\"StreamARN\":");
	kb_str(&b, row.arn);
	kb_raw(&b, ",\"CurrentShardLevelMetrics\":");
	kb_metrics(&b, row.shard_metrics);
	kb_raw(&b, ",\"DesiredShardLevelMetrics\":");
	kb_metrics(&b, want);
	kb_raw(&b, "}");
	return kin_body(out, &b);
}

static int
kin_enable_monitoring(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
		      struct sp_ctl_kreply *out)
{
	return kin_monitoring(cat, ctx, r, true, out);
}

static int
kin_disable_monitoring(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
		       struct sp_ctl_kreply *out)
{
	return kin_monitoring(cat, ctx, r, false, out);
}

/* DescribeLimits: the configured shard limit and the account's figures. */
static int
kin_describe_limits(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
		    struct sp_ctl_kreply *out)
{
	struct kbuf b = {0};
	int64_t open = 0, creating = 0, on_demand = 0;
	int rc = sp_cat_quota_counts(cat, &open, &creating);

	(void)r;
	if (rc == 0) {
		rc = sp_cat_on_demand_count(cat, &on_demand);
	}
	if (rc != 0) {
		return kin_internal(out, rc);
	}
	SP_ASSERT(open >= 0 && on_demand >= 0);
	kb_fmt(&b, "{\"ShardLimit\":%u", ctx->shard_limit);
	kb_fmt(&b, ",\"OpenShardCount\":%lld", (long long)open);
	kb_fmt(&b, ",\"OnDemandStreamCount\":%lld", (long long)on_demand);
	kb_fmt(&b, ",\"OnDemandStreamCountLimit\":%u}", SP_K_ON_DEMAND_STREAMS_MAX);
	return kin_body(out, &b);
}

/* ---- Resharding (reference §3.2, §4; the state machine is ctl_reshard.c's) -------------- */

/* The stream name a request gives (StreamName, else the ARN's name part), for messages. */
static const char *
kin_given_name(const struct kreq *r)
{
	const struct kval *arn = &r->m[KM_STREAM_ARN];
	size_t at = 0;

	if (r->m[KM_STREAM_NAME].present) {
		return r->m[KM_STREAM_NAME].s;
	}
	if (arn->present && kin_arn_match(arn->s, arn->len, &at)) {
		return arn->s + at;
	}
	return "";
}

/* The index of a ShardToSplit/ShardToMerge as kinesalite reads it (a malformed one is not
 * found under the text given); false: out is filled. */
static bool
kin_shard_id(const struct sp_ctl_kctx *ctx, const char *stream, const char *given, int64_t *idx,
	     struct sp_ctl_kreply *out)
{
	if (sp_ctl_shard_index(given, idx) != 0) {
		kin_error(out, SP_KERR_RESOURCE_NOT_FOUND,
			  "Could not find shard %s in stream %s under account %s.", given, stream,
			  ctx->account);
		return false;
	}
	return true;
}

/*
 * Resolve a ShardToSplit/ShardToMerge the way kinesalite does: a malformed id is not found
 * under the text given; a well-formed one is looked up by index and not found under its
 * canonical id. False: out is filled.
 */
static bool
kin_reshard_shard(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const char *stream,
		  const char *given, struct sp_ctl_shard_ref *f, struct sp_ctl_kreply *out)
{
	int64_t idx;
	int rc;

	if (!kin_shard_id(ctx, stream, given, &idx, out)) {
		return false;
	}
	rc = sp_ctl_shard_find(cat, stream, idx, f);
	if (rc < 0 && rc != -ENOENT) {
		kin_internal(out, rc);
		return false;
	}
	if (rc == -ENOENT) {
		kin_error(out, SP_KERR_RESOURCE_NOT_FOUND,
			  "Could not find shard shardId-%012lld in stream %s under account %s.",
			  (long long)f->index, stream, ctx->account);
		return false;
	}
	return true;
}

/* Capacity operations are for provisioned streams only (reference §3.2). */
static bool
kin_reshard_provisioned(const struct sp_ctl_kctx *ctx, const struct sp_cat_stream_row *row,
			struct sp_ctl_kreply *out)
{
	if (strcmp(row->mode, "ON_DEMAND") == 0) {
		kin_error(out, SP_KERR_VALIDATION,
			  "Stream %s under account %s is in ON_DEMAND mode: shard capacity is "
			  "managed by the service and cannot be changed by this operation.",
			  row->name, ctx->account);
		return false;
	}
	return true;
}

/* A closed shard was already split or merged. */
static void
kin_reshard_closed(const struct sp_ctl_kctx *ctx, const char *stream, const char *id,
		   const char *what, struct sp_ctl_kreply *out)
{
	kin_error(out, SP_KERR_RESOURCE_IN_USE,
		  "Shard %s in stream %s under account %s has already been merged or split, and "
		  "thus is not eligible for %s.",
		  id, stream, ctx->account, what);
}

/* The account's shard quota for `more` new open shards; false: out is filled. */
static bool
kin_reshard_quota(struct sp_cat *cat, const struct sp_ctl_kctx *ctx,
		  const struct sp_cat_stream_row *row, int64_t more, bool per_stream,
		  struct sp_ctl_kreply *out)
{
	int64_t open = 0, creating = 0;
	int rc = sp_cat_quota_counts(cat, &open, &creating);

	if (rc != 0) {
		kin_internal(out, rc);
		return false;
	}
	if (open + more > (int64_t)ctx->shard_limit) {
		kin_shard_limit_error(out, ctx, open, more);
		return false;
	}
	if (per_stream && row->open_shards + more > (int64_t)SP_CTL_K_SHARDS_PER_STREAM_MAX) {
		kin_error(out, SP_KERR_LIMIT_EXCEEDED,
			  "This request would take stream %s under account %s above %u open "
			  "shards.",
			  row->name, ctx->account, SP_CTL_K_SHARDS_PER_STREAM_MAX);
		return false;
	}
	return true;
}

/* Write the pending reshard; the stream goes UPDATING. */
static int
kin_reshard_begin(struct sp_cat *cat, const struct sp_ctl_kctx *ctx,
		  const struct sp_cat_stream_row *row, const char *op, const char *arg1,
		  const char *arg2, const char *event, struct sp_ctl_kreply *out)
{
	int rc = sp_cat_reshard_begin(cat, row->name, op, arg1, arg2, event, ctx->now_ms);

	if (rc == -EBUSY) {
		struct sp_cat_stream_row now;

		/* changed state since it was read: this thread is the only writer, so only a
		 * catalog edited under us gets here */
		rc = sp_cat_stream_get(cat, row->name, &now);
		if (rc == -ENOENT) {
			kin_not_found(out, ctx, row->name);
			return 0;
		}
		if (rc == 0) {
			(void)kin_active(ctx, &now, out);
			return 0;
		}
	}
	if (rc != 0) {
		return kin_internal(out, rc);
	}
	out->catalog_changed = true;
	return 0;
}

/* SplitShard: checks in kinesalite's order, then the pending reshard. */
static int
kin_split(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
	  struct sp_ctl_kreply *out)
{
	const char *given = r->m[KM_SHARD_TO_SPLIT].s;
	const char *key = r->m[KM_NEW_HASH].s;
	struct sp_cat_stream_row row;
	struct sp_ctl_shard_ref f;
	char start[SP_U128_DEC_MAX + 1], end[SP_U128_DEC_MAX + 1], idx[24];
	sp_u128 k = 0;

	SP_VERIFY(given != NULL && key != NULL); /* not null: checked in step 11 */
	if (!kin_shard_id(ctx, kin_given_name(r), given, &(int64_t){0}, out)) {
		return 0;
	}
	if (!kin_select(cat, ctx, r, &row, out) ||
	    !kin_reshard_shard(cat, ctx, row.name, given, &f, out)) {
		return out->err == SP_KERR_INTERNAL_FAILURE ? -EIO : 0;
	}
	if (!kin_reshard_provisioned(ctx, &row, out)) {
		return 0;
	}
	if (!f.open) {
		kin_reshard_closed(ctx, row.name, f.id, "splitting", out);
		return 0;
	}
	if (!kin_reshard_quota(cat, ctx, &row, 1, true, out)) {
		return out->err == SP_KERR_INTERNAL_FAILURE ? -EIO : 0;
	}
	/* the pattern allows 39 digits: above 2^128 - 1 is above every EndingHashKey */
	if (sp_u128_parse(key, strlen(key), &k) != 0 || f.start == ~(sp_u128)0 ||
	    k <= f.start + 1 || k >= f.end) {
		sp_u128_format(f.start, start);
		sp_u128_format(f.end, end);
		kin_error(out, SP_KERR_INVALID_ARGUMENT,
			  "NewStartingHashKey %s used in SplitShard() on shard %s in stream %s "
			  "under account %s is not both greater than one plus the shard's "
			  "StartingHashKey %s and less than the shard's EndingHashKey %s.",
			  key, f.id, row.name, ctx->account, start, end);
		return 0;
	}
	if (!kin_active(ctx, &row, out)) {
		return 0;
	}
	snprintf(idx, sizeof(idx), "%lld", (long long)f.index);
	return kin_reshard_begin(cat, ctx, &row, "split", idx, key, NULL, out);
}

/* MergeShards: ShardToMerge must end right before AdjacentShardToMerge starts. */
static int
kin_merge(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
	  struct sp_ctl_kreply *out)
{
	const char *given[2] = {r->m[KM_SHARD_TO_MERGE].s, r->m[KM_ADJ_SHARD].s};
	struct sp_cat_stream_row row;
	struct sp_ctl_shard_ref f[2];
	char a[24], b[24];

	for (int i = 0; i < 2; i++) {
		SP_VERIFY(given[i] != NULL);
		if (!kin_shard_id(ctx, kin_given_name(r), given[i], &(int64_t){0}, out)) {
			return 0;
		}
	}
	if (!kin_select(cat, ctx, r, &row, out) ||
	    !kin_reshard_shard(cat, ctx, row.name, given[0], &f[0], out) ||
	    !kin_reshard_shard(cat, ctx, row.name, given[1], &f[1], out)) {
		return out->err == SP_KERR_INTERNAL_FAILURE ? -EIO : 0;
	}
	if (!kin_reshard_provisioned(ctx, &row, out)) {
		return 0;
	}
	for (int i = 0; i < 2; i++) {
		if (!f[i].open) {
			kin_reshard_closed(ctx, row.name, f[i].id, "merging", out);
			return 0;
		}
	}
	if (f[0].end == ~(sp_u128)0 || f[0].end + 1 != f[1].start) {
		kin_error(out, SP_KERR_INVALID_ARGUMENT,
			  "Shards %s and %s in stream %s under account %s are not an adjacent "
			  "pair of shards eligible for merging",
			  f[0].id, f[1].id, row.name, ctx->account);
		return 0;
	}
	if (!kin_active(ctx, &row, out)) {
		return 0;
	}
	snprintf(a, sizeof(a), "%lld", (long long)f[0].index);
	snprintf(b, sizeof(b), "%lld", (long long)f[1].index);
	return kin_reshard_begin(cat, ctx, &row, "merge", a, b, NULL, out);
}

/* Rolling limit of UpdateShardCount calls per stream (reference §3.2). */
#define KIN_SCALE_PER_DAY 10
#define KIN_DAY_MS (24LL * 3600 * 1000)

/* UpdateShardCount (UNIFORM_SCALING): kinesalite's checks and texts, then AWS's limits. */
static int
kin_scale(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
	  struct sp_ctl_kreply *out)
{
	int64_t t = r->m[KM_TARGET].i, o, recent = 0;
	struct sp_cat_stream_row row;
	struct kbuf b = {0};
	char target[24];
	uint32_t splits;
	int rc;

	if (!kin_select(cat, ctx, r, &row, out)) {
		return out->err == SP_KERR_INTERNAL_FAILURE ? -EIO : 0;
	}
	if (!kin_reshard_provisioned(ctx, &row, out) || !kin_active(ctx, &row, out)) {
		return 0;
	}
	o = row.open_shards;
	if (t > (int64_t)ctx->shard_limit) {
		kin_error(out, SP_KERR_LIMIT_EXCEEDED,
			  "Target shard count or number of open shards cannot be greater than %u. "
			  "Current open shard count: %lld, Target shard count: %lld",
			  ctx->shard_limit, (long long)o, (long long)t);
		return 0;
	}
	if (t > o * 2) {
		kin_error(out, SP_KERR_LIMIT_EXCEEDED,
			  "UpdateShardCount cannot scale up over double your current open shard "
			  "count. Current open shard count: %lld, Target shard count: %lld",
			  (long long)o, (long long)t);
		return 0;
	}
	if (t * 2 < o) {
		kin_error(out, SP_KERR_LIMIT_EXCEEDED,
			  "UpdateShardCount cannot scale down below half your current open shard "
			  "count. Current open shard count: %lld, Target shard count: %lld",
			  (long long)o, (long long)t);
		return 0;
	}
	if (t > (int64_t)SP_CTL_K_SHARDS_PER_STREAM_MAX) {
		kin_error(out, SP_KERR_LIMIT_EXCEEDED,
			  "Target shard count %lld is above the limit of %u shards per stream.",
			  (long long)t, SP_CTL_K_SHARDS_PER_STREAM_MAX);
		return 0;
	}
	rc = sp_cat_event_count(cat, row.name, "scale", ctx->now_ms - KIN_DAY_MS, &recent);
	if (rc != 0) {
		return kin_internal(out, rc);
	}
	if (recent >= KIN_SCALE_PER_DAY) {
		kin_error(out, SP_KERR_LIMIT_EXCEEDED,
			  "Stream %s under account %s has already been scaled %d times in the last "
			  "24 hours, the most UpdateShardCount allows.",
			  row.name, ctx->account, KIN_SCALE_PER_DAY);
		return 0;
	}
	rc = sp_ctl_reshard_scale_splits(cat, &row, (uint32_t)t, &splits);
	if (rc != 0) {
		return kin_internal(out, rc);
	}
	/* the transient shards of the plan count toward the account's quota while it runs (the
	 * stream's own bound is on the target, checked above) */
	if (!kin_reshard_quota(cat, ctx, &row, splits, false, out)) {
		return out->err == SP_KERR_INTERNAL_FAILURE ? -EIO : 0;
	}
	snprintf(target, sizeof(target), "%lld", (long long)t);
	rc = kin_reshard_begin(cat, ctx, &row, "scale", target, "UNIFORM_SCALING", "scale", out);
	if (rc != 0 || out->err != SP_KERR_NONE) {
		return rc;
	}
	kb_raw(&b, "{\"StreamName\":");
	kb_str(&b, row.name);
	kb_raw(&b, ",\"StreamARN\":");
	kb_str(&b, row.arn);
	kb_fmt(&b, ",\"CurrentShardCount\":%lld,\"TargetShardCount\":%lld}", (long long)o,
	       (long long)t);
	return kin_body(out, &b);
}

/* Capacity-mode switches per stream in a rolling day (reference §3.2, §5). */
#define KIN_MODE_PER_DAY 2

/*
 * UpdateStreamMode: the switch itself is immediate here (AWS's is asynchronous; a client waits
 * for ACTIVE either way). The shards stay as they are: an ON_DEMAND stream starts from its
 * current capacity, and capacity operations are refused for it from now on.
 */
static int
kin_update_mode(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
		struct sp_ctl_kreply *out)
{
	const char *mode = r->m[KM_STREAM_MODE].s;
	struct sp_cat_stream_row row;
	int64_t recent = 0;
	int rc;

	SP_VERIFY(mode != NULL); /* not null: checked in step 11 */
	if (!kin_select(cat, ctx, r, &row, out)) {
		return out->err == SP_KERR_INTERNAL_FAILURE ? -EIO : 0;
	}
	if (!kin_active(ctx, &row, out)) {
		return 0;
	}
	if (r->m[KM_WARM].present && strcmp(mode, "ON_DEMAND") != 0) {
		kin_error(out, SP_KERR_INVALID_ARGUMENT,
			  "WarmThroughputMiBps can only be given when switching stream %s under "
			  "account %s to ON_DEMAND mode.",
			  row.name, ctx->account);
		return 0;
	}
	if (strcmp(row.mode[0] != '\0' ? row.mode : "PROVISIONED", mode) == 0) {
		kin_error(out, SP_KERR_INVALID_ARGUMENT,
			  "Stream %s under account %s is already in %s mode.", row.name,
			  ctx->account, mode);
		return 0;
	}
	rc = sp_cat_event_count(cat, row.name, "mode", ctx->now_ms - KIN_DAY_MS, &recent);
	if (rc != 0) {
		return kin_internal(out, rc);
	}
	if (recent >= KIN_MODE_PER_DAY) {
		kin_error(out, SP_KERR_LIMIT_EXCEEDED,
			  "Stream %s under account %s has already switched capacity mode %d times "
			  "in the last 24 hours, the most UpdateStreamMode allows.",
			  row.name, ctx->account, KIN_MODE_PER_DAY);
		return 0;
	}
	rc = sp_cat_stream_set_mode(cat, row.name, mode, ctx->now_ms);
	if (rc < 0) {
		return kin_internal(out, rc);
	}
	out->catalog_changed = rc > 0;
	return 0;
}

/* ---- Stream encryption (reference §3.5) ------------------------------------------------ */

/*
 * StartStreamEncryption's KeyId must name a key of the operator's key file (--key-file), in
 * any form sp_keyfile_find() normalizes: a key ARN, an alias ARN, a bare id or alias/<name>.
 * Otherwise KMSNotFoundException; both texts are Spate's (shaped like KMS's "Key '...' does
 * not exist"), one for a KeyId the file lacks, one for an appliance without a key file.
 * false: out is filled.
 */
static bool
kin_key_known(const struct sp_ctl_kctx *ctx, const char *key_id, struct sp_ctl_kreply *out)
{
	if (ctx->keys == NULL) {
		kin_error(out, SP_KERR_KMS_NOT_FOUND,
			  "Key '%s' does not exist: this Spate appliance has no key file "
			  "(spate-control --key-file), so no KeyId can be resolved.",
			  key_id);
		return false;
	}
	if (sp_keyfile_find(ctx->keys, key_id) == NULL) {
		kin_error(out, SP_KERR_KMS_NOT_FOUND,
			  "Key '%s' does not exist in the key file of this Spate appliance.",
			  key_id);
		return false;
	}
	return true;
}

/*
 * StartStreamEncryption (start == true) or StopStreamEncryption. After the selector, in order:
 * EncryptionType other than KMS (the model's enum also has NONE) -> InvalidArgumentException;
 * a stream that is not ACTIVE -> ResourceInUseException (the retention operations' text);
 * Start only: a KeyId the key file lacks -> KMSNotFoundException (Stop takes the same members,
 * validated the same way, but resolves nothing and need not name the current key); 25 changes
 * in the last 24 hours -> LimitExceededException (Spate's text, shaped like UpdateStreamMode's).
 *
 * Like UpdateStreamMode, the switch is immediate: AWS shows UPDATING for a while, but here the
 * dataplane only needs the new snapshot, which goes out before the reply (catalog_changed), so
 * the stream is ACTIVE with the new setting when the client hears back; records written from
 * then on are encrypted (or not). Start stores KMS and the KeyId as the client gave it, Stop
 * NONE and no KeyId. A request that changes nothing (Stop on an unencrypted stream, Start with
 * the key already set) succeeds without a bump or a stream event; every change records one.
 */
static int
kin_encryption(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
	       bool start, struct sp_ctl_kreply *out)
{
	const char *type = r->m[KM_ENCRYPTION_TYPE].s;
	const char *key_id = r->m[KM_KEY_ID].s;
	struct sp_cat_stream_row row;
	int64_t recent = 0;
	int rc;

	SP_VERIFY(type != NULL && key_id != NULL); /* not null: checked in step 11 */
	if (!kin_select(cat, ctx, r, &row, out)) {
		return out->err == SP_KERR_INTERNAL_FAILURE ? -EIO : 0;
	}
	if (strcmp(type, "KMS") != 0) {
		kin_error(out, SP_KERR_INVALID_ARGUMENT,
			  "EncryptionType %s is not valid for %s: KMS is the only valid "
			  "EncryptionType.",
			  type, start ? "StartStreamEncryption" : "StopStreamEncryption");
		return 0;
	}
	if (!kin_active(ctx, &row, out) || (start && !kin_key_known(ctx, key_id, out))) {
		return 0;
	}
	rc = sp_cat_event_count(cat, row.name, "encryption", ctx->now_ms - KIN_DAY_MS, &recent);
	if (rc != 0) {
		return kin_internal(out, rc);
	}
	if (recent >= SP_CTL_K_ENCRYPTION_PER_DAY) {
		kin_error(out, SP_KERR_LIMIT_EXCEEDED,
			  "Stream %s under account %s has already changed its encryption %d times "
			  "in the last 24 hours, the most StartStreamEncryption and "
			  "StopStreamEncryption allow.",
			  row.name, ctx->account, SP_CTL_K_ENCRYPTION_PER_DAY);
		return 0;
	}
	rc = sp_cat_stream_set_encryption(cat, row.name, start ? "KMS" : "NONE",
					  start ? key_id : "", ctx->now_ms);
	if (rc == -ENOENT) {
		kin_not_found(out, ctx, row.name);
		return 0;
	}
	if (rc < 0) {
		return kin_internal(out, rc);
	}
	SP_ASSERT(rc == 1 || rc == 0);
	out->catalog_changed = rc == 1;
	return 0;
}

static int
kin_start_encryption(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
		     struct sp_ctl_kreply *out)
{
	return kin_encryption(cat, ctx, r, true, out);
}

static int
kin_stop_encryption(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
		    struct sp_ctl_kreply *out)
{
	return kin_encryption(cat, ctx, r, false, out);
}

/* ---- Enhanced fan-out consumers (reference §3.6, §6.1) ---------------------------------- */

SP_STATIC_ASSERT(SP_K_CONSUMER_NAME_MAX_CHARS <= KTOK_STR_MAX, "a consumer name fits a token");

/* Take the consumer steps due now (a request sees what the timer would have done by now). */
static void
kin_consumers_due(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, struct sp_ctl_kreply *out)
{
	int rc = sp_cat_consumers_advance(cat, ctx->now_ms);

	if (rc > 0) {
		out->catalog_changed = true;
	} else if (rc < 0) {
		SP_CTL_ERR("kinesis: consumer lifecycle: %s", strerror(-rc));
	}
}

/* ConsumerName, ConsumerARN, ConsumerStatus, ConsumerCreationTimestamp. */
static void
kb_consumer(struct kbuf *b, const struct sp_cat_consumer_row *c)
{
	kb_raw(b, "\"ConsumerName\":");
	kb_str(b, c->name);
	kb_raw(b, ",\"ConsumerARN\":");
	kb_str(b, c->arn);
	kb_raw(b, ",\"ConsumerStatus\":");
	kb_str(b, c->status);
	kb_raw(b, ",\"ConsumerCreationTimestamp\":");
	kb_ts(b, c->created_ms);
}

/* The stream's registered consumers block a write (AWS: ResourceInUse); false: out is filled. */
static bool
kin_consumer_stream_ok(const struct sp_ctl_kctx *ctx, const struct sp_cat_stream_row *row,
		       struct sp_ctl_kreply *out)
{
	/* a reshard leaves the stream readable, and consumers with it */
	if (strcmp(row->status, "ACTIVE") != 0 && strcmp(row->status, "UPDATING") != 0) {
		kin_error(out, SP_KERR_RESOURCE_IN_USE,
			  "Stream %s under account %s not ACTIVE, instead in state %s", row->name,
			  ctx->account, row->status);
		return false;
	}
	return true;
}

/* The catalog's answer to a registration, as the client hears it. */
static int
kin_register_result(int rc, const struct sp_ctl_kctx *ctx, const char *stream, const char *name,
		    struct sp_ctl_kreply *out)
{
	switch (rc) {
	case 0:
		return 0;
	case -ENOENT:
		kin_not_found(out, ctx, stream);
		return 0;
	case -EEXIST:
		kin_error(out, SP_KERR_RESOURCE_IN_USE,
			  "Consumer %s already exists for stream %s under account %s.", name,
			  stream, ctx->account);
		return 0;
	case -E2BIG:
		kin_error(out, SP_KERR_LIMIT_EXCEEDED,
			  "Stream %s under account %s already has %u registered consumers, the "
			  "most a stream may have.",
			  stream, ctx->account, SP_K_CONSUMERS_PER_STREAM_MAX);
		return 0;
	case -EBUSY:
		kin_error(out, SP_KERR_LIMIT_EXCEEDED,
			  "Stream %s under account %s already has %u consumers in CREATING state; "
			  "wait for one to become ACTIVE.",
			  stream, ctx->account, SP_K_CONSUMERS_CREATING_MAX);
		return 0;
	default:
		return kin_internal(out, rc);
	}
}

/*
 * RegisterStreamConsumer. After the selector: the stream ACTIVE (or UPDATING), the Tags'
 * characters (TagResource's family), at most SP_K_TAGS_PER_STREAM_MAX tags, then inside one
 * catalog transaction a name not taken, fewer than 20 consumers and fewer than 5 CREATING. The
 * ARN is <StreamARN>/consumer/<name>:<creation epoch seconds>.
 */
static int
kin_register_consumer(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
		      struct sp_ctl_kreply *out)
{
	const char *name = r->m[KM_CONSUMER_NAME].s;
	const struct kval *tags = &r->m[KM_TAGS];
	struct sp_cat_stream_row row;
	struct sp_cat_consumer_row got;
	char arn[SP_CAT_CONSUMER_ARN_MAX_BYTES];
	struct sp_cat_tag *tv = NULL;
	size_t n_tags = 0;
	int rc;

	SP_VERIFY(name != NULL && r->m[KM_STREAM_ARN].present); /* step 11 */
	if (!kin_select(cat, ctx, r, &row, out)) {
		return out->err == SP_KERR_INTERNAL_FAILURE ? -EIO : 0;
	}
	if (!kin_consumer_stream_ok(ctx, &row, out)) {
		return 0;
	}
	snprintf(arn, sizeof(arn), "%s/consumer/%s:%lld", row.arn, name,
		 (long long)(ctx->now_ms / 1000));
	if (tags->present && !kin_tags_rules(ctx, tags->j, KTS_RESOURCE, arn, out)) {
		return 0;
	}
	if (tags->present && json_object_size(tags->j) > SP_K_TAGS_PER_STREAM_MAX) {
		kin_tags_too_many(ctx, KTS_RESOURCE, arn, out);
		return 0;
	}
	rc = kin_tags_array(tags->present ? tags->j : NULL, &tv, &n_tags);
	if (rc == 0) {
		struct sp_cat_consumer c = {
		    .stream = row.name,
		    .name = name,
		    .arn = arn,
		    .created_ms = ctx->now_ms,
		    .due_ms = ctx->now_ms + SP_MAX(ctx->consumer_activate_ms, (int64_t)0),
		    .tags = tv,
		    .n_tags = n_tags,
		};

		rc = sp_cat_consumer_insert(cat, &c, SP_K_CONSUMERS_PER_STREAM_MAX,
					    SP_K_CONSUMERS_CREATING_MAX);
	}
	free(tv);
	if (rc != 0) {
		return kin_register_result(rc, ctx, row.name, name, out);
	}
	out->catalog_changed = true;
	rc = sp_cat_consumer_get_arn(cat, arn, &got);
	if (rc != 0) {
		return kin_internal(out, rc);
	}
	SP_ASSERT(strcmp(got.status, "CREATING") == 0 || ctx->consumer_activate_ms <= 0);
	struct kbuf b = {0};

	kb_raw(&b, "{\"Consumer\":{");
	kb_consumer(&b, &got);
	kb_raw(&b, "}}");
	return kin_body(out, &b);
}

/*
 * The consumer a Deregister/DescribeStreamConsumer names: ConsumerARN, or StreamARN plus
 * ConsumerName; members given beside the ARN must agree with it. False: out is filled
 * (InvalidArgument, ResourceNotFound or InternalFailure).
 */
static bool
kin_consumer_select(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
		    struct sp_cat_consumer_row *c, struct sp_ctl_kreply *out)
{
	const struct kval *sarn = &r->m[KM_STREAM_ARN];
	const struct kval *name = &r->m[KM_CONSUMER_NAME];
	const struct kval *carn = &r->m[KM_CONSUMER_ARN];
	struct sp_cat_stream_row row;
	struct kin_carn p;
	int rc;

	if (!carn->present && !(sarn->present && name->present)) {
		kin_error(out, SP_KERR_INVALID_ARGUMENT,
			  "Either ConsumerARN or both StreamARN and ConsumerName must be "
			  "provided.");
		return false;
	}
	if (!carn->present) {
		if (!kin_select(cat, ctx, r, &row, out)) {
			return false;
		}
		rc = sp_cat_consumer_get(cat, row.name, name->s, c);
		if (rc == -ENOENT) {
			kin_error(out, SP_KERR_RESOURCE_NOT_FOUND,
				  "Consumer %s of stream %s under account %s not found.", name->s,
				  row.name, ctx->account);
		} else if (rc != 0) {
			kin_internal(out, rc);
		}
		return rc == 0;
	}
	SP_VERIFY(kin_consumer_arn_match(carn->s, carn->len, &p)); /* step 11 */
	if (sarn->present && (sarn->len != p.stream_arn_len ||
			      memcmp(sarn->s, carn->s, p.stream_arn_len) != 0)) {
		kin_error(out, SP_KERR_INVALID_ARGUMENT,
			  "StreamARN %s does not match the stream of ConsumerARN %s.", sarn->s,
			  carn->s);
		return false;
	}
	if (name->present && (name->len != p.name_end - p.name_at ||
			      memcmp(name->s, carn->s + p.name_at, name->len) != 0)) {
		kin_error(out, SP_KERR_INVALID_ARGUMENT,
			  "ConsumerName %s does not match the consumer of ConsumerARN %s.",
			  name->s, carn->s);
		return false;
	}
	rc = carn->len >= SP_CAT_CONSUMER_ARN_MAX_BYTES ? -ENOENT
							: sp_cat_consumer_get_arn(cat, carn->s, c);
	if (rc == -ENOENT) {
		kin_error(out, SP_KERR_RESOURCE_NOT_FOUND,
			  "Consumer %s under account %s not found.", carn->s, ctx->account);
	} else if (rc != 0) {
		kin_internal(out, rc);
	}
	return rc == 0;
}

/* DeregisterStreamConsumer: DELETING now, gone after consumer_delete_ms; again: no change. */
static int
kin_deregister_consumer(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
			struct sp_ctl_kreply *out)
{
	struct sp_cat_consumer_row c;
	int rc;

	if (!kin_consumer_select(cat, ctx, r, &c, out)) {
		return out->err == SP_KERR_INTERNAL_FAILURE ? -EIO : 0;
	}
	int64_t due = ctx->now_ms + SP_MAX(ctx->consumer_delete_ms, (int64_t)0);

	rc = sp_cat_consumer_mark_deleting(cat, c.arn, due);
	if (rc == -ENOENT) {
		kin_error(out, SP_KERR_RESOURCE_NOT_FOUND,
			  "Consumer %s under account %s not found.", c.arn, ctx->account);
		return 0;
	}
	if (rc < 0) {
		return kin_internal(out, rc);
	}
	out->catalog_changed = out->catalog_changed || rc == 1;
	return 0;
}

static int
kin_describe_consumer(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
		      struct sp_ctl_kreply *out)
{
	struct sp_cat_consumer_row c;
	struct sp_cat_stream_row row;
	struct kbuf b = {0};
	int rc;

	if (!kin_consumer_select(cat, ctx, r, &c, out)) {
		return out->err == SP_KERR_INTERNAL_FAILURE ? -EIO : 0;
	}
	rc = sp_cat_stream_get(cat, c.stream, &row);
	if (rc != 0) {
		return kin_internal(out, rc == -ENOENT ? -EIO : rc); /* a consumer has a stream */
	}
	kb_raw(&b, "{\"ConsumerDescription\":{");
	kb_consumer(&b, &c);
	kb_raw(&b, ",\"StreamARN\":");
	kb_str(&b, row.arn);
	kb_raw(&b, "}}");
	return kin_body(out, &b);
}

struct kin_consumers {
	struct kbuf *b;
	unsigned max; /* consumers per page */
	unsigned n;   /* consumers written */
	bool more;    /* a further consumer followed */
	char last[KTOK_STR_MAX + 1];
};

static int
kin_consumers_one(void *arg, const struct sp_cat_consumer_row *c)
{
	struct kin_consumers *l = arg;

	SP_ASSERT(l->n <= l->max);
	if (l->n == l->max) {
		l->more = true;
		return 1;
	}
	kb_raw(l->b, l->n > 0 ? ",{" : "{");
	kb_consumer(l->b, c);
	kb_raw(l->b, "}");
	snprintf(l->last, sizeof(l->last), "%s", c->name);
	l->n++;
	return 0;
}

/*
 * ListStreamConsumers: every consumer of the stream (any status) in name order, MaxResults
 * (default and cap 100) a page. A NextToken carries the stream's incarnation and the last name
 * returned; it lives SP_K_NEXT_TOKEN_LIFETIME_MS and must come with the same StreamARN.
 */
static int
kin_list_consumers(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
		   struct sp_ctl_kreply *out)
{
	const struct kval *tok = &r->m[KM_NEXT_TOKEN];
	const struct kval *ts = &r->m[KM_CREATION_TS];
	struct sp_cat_stream_row row;
	struct ktoken t = {0};
	struct kbuf b = {0};
	struct kin_consumers l = {
		.b = &b,
		.max = kin_page(&r->m[KM_MAX_RESULTS], SP_K_LIST_CONSUMERS_MAX_DEFAULT),
	};
	int rc;

	if (tok->present && ts->present) {
		kin_error(out, SP_KERR_INVALID_ARGUMENT,
			  "NextToken and StreamCreationTimestamp cannot be provided together.");
		return 0;
	}
	if (!kin_select(cat, ctx, r, &row, out)) {
		return out->err == SP_KERR_INTERNAL_FAILURE ? -EIO : 0;
	}
	/* second granularity, as ListShards: clients echo the timestamp they were shown */
	if (ts->present && ts->i / 1000 != row.created_ms / 1000) {
		kin_not_found(out, ctx, row.name);
		return 0;
	}
	if (tok->present && !kin_token_take(cat, ctx, tok, KTOK_CONSUMERS, &t, out)) {
		return 0;
	}
	if (tok->present && strcmp(t.stream, row.name) != 0) {
		kin_error(out, SP_KERR_INVALID_ARGUMENT, "Invalid NextToken.");
		return 0;
	}
	if (tok->present && t.created_ms != row.created_ms) {
		kin_not_found(out, ctx, row.name); /* deleted and created again since */
		return 0;
	}
	SP_VERIFY(l.max >= 1);
	kb_raw(&b, "{\"Consumers\":[");
	rc = sp_cat_consumer_foreach(cat, row.name, tok->present ? t.after : NULL,
				     kin_consumers_one, &l);
	kb_raw(&b, "]");
	if (rc != 0) {
		free(b.p);
		return kin_internal(out, rc);
	}
	if (l.more) {
		char next[KTOK_CHARS_MAX + 1];
		struct ktoken nt = {.kind = KTOK_CONSUMERS,
				    .issued_ms = ctx->now_ms + sp_cat_clock_offset_ms(cat),
				    .created_ms = row.created_ms};

		snprintf(nt.stream, sizeof(nt.stream), "%s", row.name);
		snprintf(nt.after, sizeof(nt.after), "%s", l.last);
		kin_token_seal(sp_cat_token_key(cat), &nt, next);
		kb_raw(&b, ",\"NextToken\":");
		kb_str(&b, next);
	}
	kb_raw(&b, "}");
	SP_ASSERT(!l.more || l.n == l.max);
	return kin_body(out, &b);
}

/* ---- Entry points ----------------------------------------------------------------------- */

typedef int (*kin_op_fn)(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, const struct kreq *r,
			 struct sp_ctl_kreply *out);

struct kin_op {
	const struct kmember *members;
	kin_op_fn fn;
};

static const struct kin_op *
kin_op_find(enum sp_kop op)
{
	static const struct kin_op ops[SP_KOP_COUNT] = {
		[SP_KOP_CREATE_STREAM] = {g_kin_create, kin_create},
		[SP_KOP_DELETE_STREAM] = {g_kin_delete, kin_delete},
		[SP_KOP_DESCRIBE_STREAM] = {g_kin_describe, kin_describe},
		[SP_KOP_DESCRIBE_STREAM_SUMMARY] = {g_kin_summary, kin_summary},
		[SP_KOP_LIST_STREAMS] = {g_kin_list_streams, kin_list_streams},
		[SP_KOP_LIST_SHARDS] = {g_kin_list_shards, kin_list_shards_op},
		[SP_KOP_INCREASE_RETENTION] = {g_kin_retention, kin_increase_retention},
		[SP_KOP_DECREASE_RETENTION] = {g_kin_retention, kin_decrease_retention},
		[SP_KOP_UPDATE_MAX_RECORD_SIZE] = {g_kin_max_record, kin_max_record},
		[SP_KOP_SPLIT_SHARD] = {g_kin_split, kin_split},
		[SP_KOP_MERGE_SHARDS] = {g_kin_merge, kin_merge},
		[SP_KOP_UPDATE_SHARD_COUNT] = {g_kin_scale, kin_scale},
		[SP_KOP_UPDATE_STREAM_MODE] = {g_kin_update_mode, kin_update_mode},
		[SP_KOP_ADD_TAGS_TO_STREAM] = {g_kin_add_tags, kin_add_tags},
		[SP_KOP_REMOVE_TAGS_FROM_STREAM] = {g_kin_remove_tags, kin_remove_tags},
		[SP_KOP_LIST_TAGS_FOR_STREAM] = {g_kin_list_tags, kin_list_tags},
		[SP_KOP_TAG_RESOURCE] = {g_kin_tag_resource, kin_tag_resource},
		[SP_KOP_UNTAG_RESOURCE] = {g_kin_untag_resource, kin_untag_resource},
		[SP_KOP_LIST_TAGS_FOR_RESOURCE] = {g_kin_list_tags_resource,
						   kin_list_tags_resource},
		[SP_KOP_ENABLE_ENHANCED_MONITORING] = {g_kin_monitoring, kin_enable_monitoring},
		[SP_KOP_DISABLE_ENHANCED_MONITORING] = {g_kin_monitoring, kin_disable_monitoring},
		[SP_KOP_DESCRIBE_LIMITS] = {g_kin_no_members, kin_describe_limits},
		[SP_KOP_START_STREAM_ENCRYPTION] = {g_kin_encryption, kin_start_encryption},
		[SP_KOP_STOP_STREAM_ENCRYPTION] = {g_kin_encryption, kin_stop_encryption},
		[SP_KOP_REGISTER_STREAM_CONSUMER] = {g_kin_register_consumer,
						     kin_register_consumer},
		[SP_KOP_DEREGISTER_STREAM_CONSUMER] = {g_kin_consumer_sel, kin_deregister_consumer},
		[SP_KOP_DESCRIBE_STREAM_CONSUMER] = {g_kin_consumer_sel, kin_describe_consumer},
		[SP_KOP_LIST_STREAM_CONSUMERS] = {g_kin_list_consumers, kin_list_consumers},
	};

	if ((unsigned)op >= SP_KOP_COUNT || ops[op].fn == NULL) {
		return NULL;
	}
	SP_ASSERT(sp_kop_table[op].where == SP_KOP_CONTROL);
	return &ops[op];
}

int
sp_ctl_kinesis(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, enum sp_kop op,
	       const char *body, size_t len, struct sp_ctl_kreply *out)
{
	const struct kin_op *kop = kin_op_find(op);
	json_error_t jerr;
	json_t *req = NULL;
	struct kreq *r = NULL;
	int rc = 0;

	SP_VERIFY(cat != NULL && ctx != NULL && out != NULL);
	SP_VERIFY(body != NULL || len == 0);
	memset(out, 0, sizeof(*out));
	out->status = 200;
	if (kop == NULL) {
		kin_error(out, SP_KERR_UNKNOWN_OPERATION, "%s", "");
		goto done;
	}
	req = len > 0 ? json_loadb(body, len, JSON_DECODE_INT_AS_REAL, &jerr) : NULL;
	if (!json_is_object(req)) {
		kin_error(out, SP_KERR_SERIALIZATION, "%s", "");
		goto done;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		rc = kin_internal(out, -ENOMEM);
		goto done;
	}
	if (kin_decode(kop->members, req, r, out) && kin_check(kop->members, r, out)) {
		kin_consumers_due(cat, ctx, out);
		rc = kop->fn(cat, ctx, r, out);
	}
done:
	free(r);
	json_decref(req);
	if (out->body == NULL) {
		out->body = g_kin_empty;
		out->body_len = 0;
	}
	SP_ASSERT(out->err == SP_KERR_NONE || out->body_len == 0);
	return rc;
}

void
sp_ctl_kreply_fini(struct sp_ctl_kreply *r)
{
	if (r == NULL) {
		return;
	}
	if (r->body != g_kin_empty) {
		free(r->body);
	}
	r->body = g_kin_empty;
	r->body_len = 0;
}

int
sp_ctl_kinesis_applied(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, int64_t version)
{
	SP_VERIFY(cat != NULL && ctx != NULL);
	if (version < 0) {
		return 0;
	}
	int rc = sp_cat_apply_acked(cat, version);

	if (rc > 0) {
		SP_CTL_INFO("kinesis: dataplane applied catalog version %lld; %d stream(s) "
			    "moved on",
			    (long long)version, rc);
	}
	if (rc >= 0) {
		int steps = sp_ctl_reshard_advance(cat, ctx, version);

		/* what moved must still be pushed when a reshard step failed */
		rc = steps < 0 && rc == 0 ? steps : rc + SP_MAX(steps, 0);
	}
	return rc;
}
