/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Kinesis API facts shared by spate-dataplane and spate-control (header-only, STYLE.md §2):
 * the operation table, the error table, the API limits of ../shared/reference/kinesis-api.md
 * §5 in one place, and the ValidationException message builder both processes use so that
 * their texts agree byte for byte.
 */
#ifndef SPATE_KINESIS_H
#define SPATE_KINESIS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* X-Amz-Target prefix of every operation. */
#define SP_KINESIS_TARGET_PREFIX "Kinesis_20131202."
#define SP_KINESIS_CONTENT_TYPE_JSON "application/x-amz-json-1.1"
#define SP_KINESIS_CONTENT_TYPE_CBOR "application/x-amz-cbor-1.1" /* Java SDKs, KCL (§1.4) */

/* ---- Limits (reference §5; every one enforced, none trusted) ---- */
#define SP_K_RECORD_MAX_BYTES_DEFAULT (1024u * 1024u)  /* data + partition key */
#define SP_K_RECORD_MAX_BYTES_LIMIT (10u * 1024u * 1024u) /* stream setting ceiling */
#define SP_K_PUT_RECORDS_MAX_ENTRIES 500u
#define SP_K_PUT_RECORDS_MAX_BYTES (5u * 1024u * 1024u) /* classic: data + keys */
/* A stream whose record limit is above the default takes PutRecords of up to 10 MiB. */
#define SP_K_PUT_RECORDS_MAX_BYTES_LARGE (10u * 1024u * 1024u)
#define SP_K_PARTITION_KEY_MAX_CHARS 256u
#define SP_K_PARTITION_KEY_MIN_CHARS 1u
#define SP_K_STREAM_NAME_MAX_CHARS 128u
#define SP_K_STREAM_ARN_MAX_CHARS 2048u
#define SP_K_SHARD_ID_MAX_CHARS 128u
#define SP_K_SHARD_ITERATOR_MAX_CHARS 512u
#define SP_K_HASH_KEY_MAX_DIGITS 39u	 /* pattern 0|([1-9]\d{0,38}) */
#define SP_K_SEQNO_MAX_DIGITS 129u	 /* pattern 0|([1-9]\d{0,128}) */
#define SP_K_GET_RECORDS_MAX_RECORDS 10000u
#define SP_K_GET_RECORDS_MAX_BYTES (10u * 1024u * 1024u)
#define SP_K_ITERATOR_LIFETIME_MS 300000u
#define SP_K_NEXT_TOKEN_LIFETIME_MS 300000u
#define SP_K_RETENTION_HOURS_DEFAULT 24
#define SP_K_RETENTION_HOURS_MIN 24
#define SP_K_RETENTION_HOURS_MAX 8760
#define SP_K_SIGV4_SKEW_MS (5u * 60u * 1000u)
/* Largest request body the HTTP layer accepts (reference §1.7: allow >= 16 MiB). */
#define SP_K_HTTP_BODY_MAX_BYTES (16u * 1024u * 1024u)
/* Tags (reference §2.1, §3.4, §5): per stream, and the model's bounds of one request. */
#define SP_K_TAGS_PER_STREAM_MAX  50u
#define SP_K_TAG_KEY_MAX_CHARS    128u
#define SP_K_TAG_VALUE_MAX_CHARS  256u
#define SP_K_TAG_MAP_MAX_ENTRIES  200u /* Tags maps (CreateStream, AddTags, TagResource) */
#define SP_K_TAG_KEYS_MAX_ENTRIES 50u  /* TagKeys lists (RemoveTags, UntagResource) */
/* Enhanced fan-out consumers (reference §2.1, §3.6, §5). */
#define SP_K_CONSUMER_NAME_MAX_CHARS 128u
#define SP_K_CONSUMER_ARN_MAX_CHARS 2048u
#define SP_K_CONSUMERS_PER_STREAM_MAX 20u /* registered (any status), per stream */
#define SP_K_CONSUMERS_CREATING_MAX 5u	   /* CREATING at once, per stream */
#define SP_K_LIST_CONSUMERS_MAX_DEFAULT 100u /* ListStreamConsumers MaxResults: default, cap */
/* DescribeLimits: on-demand streams per account (reference §5: 50 by default). */
#define SP_K_ON_DEMAND_STREAMS_MAX 50u

/*
 * Shard-level metrics of enhanced monitoring (reference §3.5), as bits of the catalog's
 * streams.shard_metrics. The bit order is the model's enum order, which is also the order
 * replies list them in; "ALL" is every bit.
 */
#define SP_K_METRIC_INCOMING_BYTES            (1u << 0)
#define SP_K_METRIC_INCOMING_RECORDS          (1u << 1)
#define SP_K_METRIC_OUTGOING_BYTES            (1u << 2)
#define SP_K_METRIC_OUTGOING_RECORDS          (1u << 3)
#define SP_K_METRIC_WRITE_THROUGHPUT_EXCEEDED (1u << 4)
#define SP_K_METRIC_READ_THROUGHPUT_EXCEEDED  (1u << 5)
#define SP_K_METRIC_ITERATOR_AGE              (1u << 6)
#define SP_K_METRIC_COUNT                     7u
#define SP_K_METRIC_ALL                       ((1u << SP_K_METRIC_COUNT) - 1u)

/* The metric names, indexed by bit number. */
static const char *const sp_k_metric_names[SP_K_METRIC_COUNT] = {
	"IncomingBytes",
	"IncomingRecords",
	"OutgoingBytes",
	"OutgoingRecords",
	"WriteProvisionedThroughputExceeded",
	"ReadProvisionedThroughputExceeded",
	"IteratorAgeMilliseconds",
};

/* ---- Operations ---- */
enum sp_kop_where { SP_KOP_NONE = 0, SP_KOP_DATA, SP_KOP_CONTROL };

enum sp_kop {
#define SP_KOP(id, name, where) SP_KOP_##id,
#include <spate/kinesis_ops.def>
#undef SP_KOP
	SP_KOP_COUNT,
	SP_KOP_UNKNOWN = SP_KOP_COUNT,
};

struct sp_kop_info {
	const char *name;
	uint8_t name_len;
	enum sp_kop_where where;
};

static const struct sp_kop_info sp_kop_table[SP_KOP_COUNT] = {
#define SP_KOP(id, name, where) [SP_KOP_##id] = {name, sizeof(name) - 1, where},
#include <spate/kinesis_ops.def>
#undef SP_KOP
};

/* The operation named by name[0..len) (no prefix), or SP_KOP_UNKNOWN. */
static inline enum sp_kop
sp_kop_lookup(const char *name, size_t len)
{
	for (unsigned i = 0; i < SP_KOP_COUNT; i++) {
		const struct sp_kop_info *op = &sp_kop_table[i];

		if (op->name_len == len && memcmp(op->name, name, len) == 0) {
			return (enum sp_kop)i;
		}
	}
	return SP_KOP_UNKNOWN;
}

/* ---- Errors ---- */
enum sp_kerr {
	SP_KERR_NONE = 0,
#define SP_KERR(id, type, status) SP_KERR_##id,
#include <spate/kinesis_errors.def>
#undef SP_KERR
	SP_KERR_COUNT,
};

struct sp_kerr_info {
	const char *type;
	uint16_t status;
};

static const struct sp_kerr_info sp_kerr_table[SP_KERR_COUNT] = {
	[SP_KERR_NONE] = {"", 200},
#define SP_KERR(id, type, status) [SP_KERR_##id] = {type, status},
#include <spate/kinesis_errors.def>
#undef SP_KERR
};

/* ---- ValidationException texts (reference §1.8) ---- */
#define SP_KVALID_MAX_ITEMS 10u
#define SP_KVALID_MSG_BYTES 4096u

/*
 * Accumulates "Value <V> at '<path>' failed to satisfy constraint: <C>" items and renders
 * "N validation error(s) detected: a; b". Items beyond SP_KVALID_MAX_ITEMS are counted but not
 * rendered (AWS lists at most 10); text that does not fit is cut, never overflowed.
 */
struct sp_kvalid {
	unsigned n;
	size_t len;
	char items[SP_KVALID_MSG_BYTES];
};

static inline void
sp_kvalid_init(struct sp_kvalid *v)
{
	v->n = 0;
	v->len = 0;
	v->items[0] = '\0';
}

static inline void
sp_kvalid_append(struct sp_kvalid *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline void
sp_kvalid_append(struct sp_kvalid *v, const char *fmt, ...)
{
	va_list ap;
	size_t room = sizeof(v->items) - v->len;
	int k;

	if (room <= 1) {
		return;
	}
	va_start(ap, fmt);
	k = vsnprintf(v->items + v->len, room, fmt, ap);
	va_end(ap);
	if (k > 0) {
		v->len += (size_t)k < room ? (size_t)k : room - 1;
	}
}

/*
 * Add one item. value is rendered verbatim (pass "null" for an absent member, or an already
 * quoted 'text'); constraint is the "Member must ..." text.
 */
static inline void
sp_kvalid_add(struct sp_kvalid *v, const char *value, const char *path, const char *constraint)
{
	if (v->n < SP_KVALID_MAX_ITEMS) {
		sp_kvalid_append(v, "%sValue %s at '%s' failed to satisfy constraint: %s",
				 v->n ? "; " : "", value, path, constraint);
	}
	v->n++;
}

/* Render the message into buf (cap bytes, NUL-terminated). Returns its length. */
static inline size_t
sp_kvalid_message(const struct sp_kvalid *v, char *buf, size_t cap)
{
	unsigned shown = v->n < SP_KVALID_MAX_ITEMS ? v->n : SP_KVALID_MAX_ITEMS;
	int k = snprintf(buf, cap, "%u validation error%s detected: %s", shown,
			 shown == 1 ? "" : "s", v->items);

	if (k < 0) {
		buf[0] = '\0';
		return 0;
	}
	return (size_t)k < cap ? (size_t)k : cap - 1;
}

#endif /* SPATE_KINESIS_H */
