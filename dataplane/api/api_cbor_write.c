/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The CBOR response writers of api_cbor.h, over the bounded writer of dataplane/cbor: every
 * write checks the room left, and a body that does not fit ends in -ENOSPC from
 * sp_cbor_w_finish, never in a write past cap. Keys are literals encoded once, head included
 * (CW_K_*: the head is 0x60 + length up to 23 bytes, 0x78 and the length beyond). The
 * per-record writers (PutRecords entries, GetRecords records) reserve a record's bytes once
 * and fill them in place when every text in it is valid UTF-8 (always, but for a corrupted
 * partition key), and go through the generic calls otherwise.
 * Runs on worker lcores, per response; no allocation, no global state.
 */
#include <errno.h>
#include <string.h>

#include <spate/assert.h>

#include "api_cbor.h"

/* Keys, encoded: head and text. */
#define CW_K_TYPE                                                                                  \
	"\x66"                                                                                     \
	"__type"
#define CW_K_MESSAGE                                                                               \
	"\x67"                                                                                     \
	"message"
#define CW_K_MESSAGE_CAP                                                                           \
	"\x67"                                                                                     \
	"Message"
#define CW_K_SHARD_ID                                                                              \
	"\x67"                                                                                     \
	"ShardId"
#define CW_K_SEQUENCE_NUMBER                                                                       \
	"\x6e"                                                                                     \
	"SequenceNumber"
#define CW_K_ENCRYPTION_TYPE                                                                       \
	"\x6e"                                                                                     \
	"EncryptionType"
#define CW_K_SHARD_ITERATOR                                                                        \
	"\x6d"                                                                                     \
	"ShardIterator"
#define CW_K_FAILED_RECORD_COUNT                                                                   \
	"\x71"                                                                                     \
	"FailedRecordCount"
#define CW_K_RECORDS                                                                               \
	"\x67"                                                                                     \
	"Records"
#define CW_K_ERROR_CODE                                                                            \
	"\x69"                                                                                     \
	"ErrorCode"
#define CW_K_ERROR_MESSAGE                                                                         \
	"\x6c"                                                                                     \
	"ErrorMessage"
#define CW_K_ARRIVAL                                                                               \
	"\x78\x1b"                                                                                 \
	"ApproximateArrivalTimestamp"
#define CW_K_DATA                                                                                  \
	"\x64"                                                                                     \
	"Data"
#define CW_K_PARTITION_KEY                                                                         \
	"\x6c"                                                                                     \
	"PartitionKey"
#define CW_K_PARENT_SHARDS                                                                         \
	"\x6c"                                                                                     \
	"ParentShards"
#define CW_K_HASH_KEY_RANGE                                                                        \
	"\x6c"                                                                                     \
	"HashKeyRange"
#define CW_K_STARTING_HASH_KEY                                                                     \
	"\x6f"                                                                                     \
	"StartingHashKey"
#define CW_K_ENDING_HASH_KEY                                                                       \
	"\x6d"                                                                                     \
	"EndingHashKey"
#define CW_K_NEXT_SHARD_ITERATOR                                                                   \
	"\x71"                                                                                     \
	"NextShardIterator"
#define CW_K_MILLIS_BEHIND_LATEST                                                                  \
	"\x72"                                                                                     \
	"MillisBehindLatest"
#define CW_K_CHILD_SHARDS                                                                          \
	"\x6b"                                                                                     \
	"ChildShards"

#define CW_LEN(lit) (sizeof(lit) - 1)
/* Write an encoded key. */
#define CW_KEY(w, k) sp_cbor_w_raw((w), (k), CW_LEN(k))

/* Copy an encoded key at p; the byte after it. */
static inline uint8_t *
cw_put_key(uint8_t *p, const char *k, size_t n)
{
	memcpy(p, k, n);
	return p + n;
}

/* A text string at p (its head included); the byte after it. */
static inline uint8_t *
cw_put_text(uint8_t *p, const char *s, size_t n)
{
	p = sp_cbor_head_put(p, SP_CBOR_MAJOR_TEXT, n);
	memcpy(p, s, n);
	return p + n;
}

/* Bytes of a text string of n bytes, head included. */
static inline size_t
cw_text_len(size_t n)
{
	return sp_cbor_head_len(n) + n;
}

/* Nesting the Kinesis shapes reach: top map, list, entry map. */
#define CW_DEPTH_LIST 2u

/* Text that may not be valid UTF-8: each invalid byte becomes U+FFFD (EF BF BD). */
static void
cw_text(struct sp_cbor_w *w, const char *s, size_t n)
{
	static const uint8_t repl[3] = {0xef, 0xbf, 0xbd};
	const uint8_t *u = (const uint8_t *)s;
	size_t out = 0, i = 0;

	if (SP_LIKELY(sp_cbor_utf8_ok(u, n))) {
		sp_cbor_w_text(w, s, n);
		return;
	}
	/* the length first: valid runs as they are, 3 bytes per invalid byte */
	while (i < n) {
		size_t run = sp_cbor_utf8_valid_prefix(u + i, n - i);

		out += run;
		i += run;
		if (i < n) {
			out += sizeof(repl);
			i++;
		}
	}
	sp_cbor_w_head(w, SP_CBOR_MAJOR_TEXT, out);
	for (i = 0; i < n;) {
		size_t run = sp_cbor_utf8_valid_prefix(u + i, n - i);

		sp_cbor_w_raw(w, u + i, run);
		i += run;
		if (i < n) {
			sp_cbor_w_raw(w, repl, sizeof(repl));
			i++;
		}
	}
	SP_ASSERT(i == n);
}

static ssize_t
cw_done(const struct sp_cbor_w *w)
{
	return sp_cbor_w_finish(w);
}

ssize_t
sp_api_cbor_write_error(char *buf, size_t cap, enum sp_kerr kerr, const char *msg, size_t msg_len,
			bool capital_m)
{
	struct sp_cbor_w w;
	const char *type;

	SP_VERIFY(kerr > SP_KERR_NONE && kerr < SP_KERR_COUNT);
	type = sp_kerr_table[kerr].type;
	sp_cbor_w_init(&w, (uint8_t *)buf, cap);
	sp_cbor_w_map(&w, msg != NULL ? 2 : 1);
	CW_KEY(&w, CW_K_TYPE);
	sp_cbor_w_text(&w, type, strlen(type));
	if (msg != NULL) {
		if (capital_m) {
			CW_KEY(&w, CW_K_MESSAGE_CAP);
		} else {
			CW_KEY(&w, CW_K_MESSAGE);
		}
		cw_text(&w, msg, msg_len);
	}
	return cw_done(&w);
}

ssize_t
sp_api_cbor_write_put_record(char *buf, size_t cap, const char *shard_id, size_t shard_len,
			     const char *seq, size_t seq_len, bool kms)
{
	struct sp_cbor_w w;

	SP_ASSERT(shard_id != NULL && seq != NULL);
	sp_cbor_w_init(&w, (uint8_t *)buf, cap);
	sp_cbor_w_indef(&w, SP_CBOR_MAJOR_MAP);
	CW_KEY(&w, CW_K_SHARD_ID);
	cw_text(&w, shard_id, shard_len);
	CW_KEY(&w, CW_K_SEQUENCE_NUMBER);
	cw_text(&w, seq, seq_len);
	CW_KEY(&w, CW_K_ENCRYPTION_TYPE);
	sp_cbor_w_text(&w, kms ? "KMS" : "NONE", kms ? 3 : 4);
	sp_cbor_w_break(&w);
	return cw_done(&w);
}

ssize_t
sp_api_cbor_write_shard_iterator(char *buf, size_t cap, const char *it, size_t it_len)
{
	struct sp_cbor_w w;

	SP_ASSERT(it != NULL);
	sp_cbor_w_init(&w, (uint8_t *)buf, cap);
	sp_cbor_w_indef(&w, SP_CBOR_MAJOR_MAP);
	CW_KEY(&w, CW_K_SHARD_ITERATOR);
	cw_text(&w, it, it_len);
	sp_cbor_w_break(&w);
	return cw_done(&w);
}

void
sp_api_cw_put_records_begin(struct sp_cbor_w *w, uint32_t failed)
{
	SP_VERIFY(w->open == 0);
	sp_cbor_w_indef(w, SP_CBOR_MAJOR_MAP);
	CW_KEY(w, CW_K_FAILED_RECORD_COUNT);
	sp_cbor_w_uint(w, failed);
	CW_KEY(w, CW_K_RECORDS);
	sp_cbor_w_indef(w, SP_CBOR_MAJOR_ARRAY);
}

void
sp_api_cw_put_records_ok(struct sp_cbor_w *w, const char *shard_id, size_t shard_len,
			 const char *seq, size_t seq_len)
{
	uint8_t *p;

	SP_VERIFY(w->open == CW_DEPTH_LIST);
	SP_ASSERT(shard_id != NULL && seq != NULL);
	if (SP_LIKELY(sp_cbor_utf8_ok((const uint8_t *)seq, seq_len) &&
		      sp_cbor_utf8_ok((const uint8_t *)shard_id, shard_len))) {
		/* one piece: {"SequenceNumber":seq,"ShardId":shard_id} */
		p = sp_cbor_w_room(w, 1 + CW_LEN(CW_K_SEQUENCE_NUMBER) + cw_text_len(seq_len) +
					  CW_LEN(CW_K_SHARD_ID) + cw_text_len(shard_len));
		if (p != NULL) {
			*p++ = 0xa2; /* a map of 2 pairs */
			p = cw_put_key(p, CW_K_SEQUENCE_NUMBER, CW_LEN(CW_K_SEQUENCE_NUMBER));
			p = cw_put_text(p, seq, seq_len);
			p = cw_put_key(p, CW_K_SHARD_ID, CW_LEN(CW_K_SHARD_ID));
			p = cw_put_text(p, shard_id, shard_len);
			SP_ASSERT(p == w->buf + w->len);
		}
		return;
	}
	sp_cbor_w_map(w, 2);
	CW_KEY(w, CW_K_SEQUENCE_NUMBER);
	cw_text(w, seq, seq_len);
	CW_KEY(w, CW_K_SHARD_ID);
	cw_text(w, shard_id, shard_len);
}

void
sp_api_cw_put_records_fail(struct sp_cbor_w *w, const char *code, size_t code_len, const char *msg,
			   size_t msg_len)
{
	SP_VERIFY(w->open == CW_DEPTH_LIST);
	sp_cbor_w_map(w, 2);
	CW_KEY(w, CW_K_ERROR_CODE);
	cw_text(w, code, code_len);
	CW_KEY(w, CW_K_ERROR_MESSAGE);
	cw_text(w, msg, msg_len);
}

void
sp_api_cw_put_records_end(struct sp_cbor_w *w, bool kms)
{
	SP_VERIFY(w->open == CW_DEPTH_LIST);
	sp_cbor_w_break(w);
	CW_KEY(w, CW_K_ENCRYPTION_TYPE);
	sp_cbor_w_text(w, kms ? "KMS" : "NONE", kms ? 3 : 4);
	sp_cbor_w_break(w);
}

void
sp_api_cw_get_records_begin(struct sp_cbor_w *w)
{
	SP_VERIFY(w->open == 0);
	sp_cbor_w_indef(w, SP_CBOR_MAJOR_MAP);
	CW_KEY(w, CW_K_RECORDS);
	sp_cbor_w_indef(w, SP_CBOR_MAJOR_ARRAY);
}

/* A record without EncryptionType, texts valid: one piece, filled in place. */
static void
cw_record_fast(struct sp_cbor_w *w, const struct sp_api_jw_record *r)
{
	uint64_t ms = (uint64_t)r->arrival_ms;
	uint8_t *p = sp_cbor_w_room(
	    w, 1 + CW_LEN(CW_K_SEQUENCE_NUMBER) + cw_text_len(r->seq_len) + CW_LEN(CW_K_ARRIVAL) +
		   1 + sp_cbor_head_len(ms) + CW_LEN(CW_K_DATA) + sp_cbor_head_len(r->data_len) +
		   r->data_len + CW_LEN(CW_K_PARTITION_KEY) + cw_text_len(r->key_len));

	if (p == NULL) {
		return;
	}
	*p++ = 0xa4; /* a map of 4 pairs */
	p = cw_put_key(p, CW_K_SEQUENCE_NUMBER, CW_LEN(CW_K_SEQUENCE_NUMBER));
	p = cw_put_text(p, r->seq, r->seq_len);
	p = cw_put_key(p, CW_K_ARRIVAL, CW_LEN(CW_K_ARRIVAL));
	p = sp_cbor_head_put(p, SP_CBOR_MAJOR_TAG, SP_API_CBOR_TAG_EPOCH);
	p = sp_cbor_head_put(p, SP_CBOR_MAJOR_UINT, ms);
	p = cw_put_key(p, CW_K_DATA, CW_LEN(CW_K_DATA));
	p = sp_cbor_head_put(p, SP_CBOR_MAJOR_BYTES, r->data_len);
	if (r->data_len != 0) {
		memcpy(p, r->data, r->data_len);
	}
	p += r->data_len;
	p = cw_put_key(p, CW_K_PARTITION_KEY, CW_LEN(CW_K_PARTITION_KEY));
	p = cw_put_text(p, r->key, r->key_len);
	SP_ASSERT(p == w->buf + w->len);
}

void
sp_api_cw_get_records_record(struct sp_cbor_w *w, const struct sp_api_jw_record *r)
{
	SP_VERIFY(w->open == CW_DEPTH_LIST);
	SP_ASSERT(r->seq != NULL && r->key != NULL && (r->data != NULL || r->data_len == 0));
	if (SP_LIKELY(r->encryption == NULL && r->arrival_ms >= 0 &&
		      sp_cbor_utf8_ok((const uint8_t *)r->seq, r->seq_len) &&
		      sp_cbor_utf8_ok((const uint8_t *)r->key, r->key_len))) {
		cw_record_fast(w, r);
		return;
	}
	sp_cbor_w_map(w, r->encryption != NULL ? 5 : 4);
	CW_KEY(w, CW_K_SEQUENCE_NUMBER);
	cw_text(w, r->seq, r->seq_len);
	CW_KEY(w, CW_K_ARRIVAL);
	sp_cbor_w_tag(w, SP_API_CBOR_TAG_EPOCH);
	sp_cbor_w_int(w, r->arrival_ms);
	CW_KEY(w, CW_K_DATA);
	sp_cbor_w_bytes(w, r->data, r->data_len);
	CW_KEY(w, CW_K_PARTITION_KEY);
	cw_text(w, r->key, r->key_len);
	if (r->encryption != NULL) {
		CW_KEY(w, CW_K_ENCRYPTION_TYPE);
		cw_text(w, r->encryption, strlen(r->encryption));
	}
}

static void
cw_child(struct sp_cbor_w *w, const struct sp_api_jw_child *c)
{
	SP_VERIFY(c->nparents <= 2);
	sp_cbor_w_map(w, 3);
	CW_KEY(w, CW_K_SHARD_ID);
	cw_text(w, c->shard_id, strlen(c->shard_id));
	CW_KEY(w, CW_K_PARENT_SHARDS);
	sp_cbor_w_array(w, c->nparents);
	for (unsigned i = 0; i < c->nparents; i++) {
		cw_text(w, c->parents[i], strlen(c->parents[i]));
	}
	CW_KEY(w, CW_K_HASH_KEY_RANGE);
	sp_cbor_w_map(w, 2);
	CW_KEY(w, CW_K_STARTING_HASH_KEY);
	cw_text(w, c->start_hash, strlen(c->start_hash));
	CW_KEY(w, CW_K_ENDING_HASH_KEY);
	cw_text(w, c->end_hash, strlen(c->end_hash));
}

void
sp_api_cw_get_records_end(struct sp_cbor_w *w, const char *next, size_t next_len,
			  uint64_t millis_behind, const struct sp_api_jw_child *children,
			  unsigned nchildren)
{
	SP_VERIFY(w->open == CW_DEPTH_LIST);
	SP_VERIFY(children != NULL || nchildren == 0);
	sp_cbor_w_break(w);
	if (next != NULL) {
		CW_KEY(w, CW_K_NEXT_SHARD_ITERATOR);
		cw_text(w, next, next_len);
	}
	CW_KEY(w, CW_K_MILLIS_BEHIND_LATEST);
	sp_cbor_w_uint(w, millis_behind);
	if (nchildren != 0) {
		CW_KEY(w, CW_K_CHILD_SHARDS);
		sp_cbor_w_array(w, nchildren);
		for (unsigned i = 0; i < nchildren; i++) {
			cw_child(w, &children[i]);
		}
	}
	sp_cbor_w_break(w);
}
