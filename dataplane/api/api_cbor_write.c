/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The CBOR response writers of api_cbor.h, over the bounded writer of dataplane/cbor: every
 * write checks the room left, and a body that does not fit ends in -ENOSPC from
 * sp_cbor_w_finish, never in a write past cap. Keys are literals whose heads are one byte
 * (text of at most 23 bytes) or two (24-255), written through sp_cbor_w_text.
 * Runs on worker lcores, per response; no allocation, no global state.
 */
#include <errno.h>
#include <string.h>

#include <spate/assert.h>

#include "api_cbor.h"

/* A key literal: its text and length without the NUL. */
#define CW_KEY(w, lit) sp_cbor_w_text((w), (lit), sizeof(lit) - 1)

/* Nesting the Kinesis shapes reach: top map, list, entry map. */
#define CW_DEPTH_LIST 2u

/* Text that may not be valid UTF-8: each invalid byte becomes U+FFFD (EF BF BD). */
static void
cw_text(struct sp_cbor_w *w, const char *s, size_t n)
{
	static const uint8_t repl[3] = {0xef, 0xbf, 0xbd};
	const uint8_t *u = (const uint8_t *)s;
	size_t ok = sp_cbor_utf8_valid_prefix(u, n), out = 0, i = 0;

	if (ok == n) {
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
	CW_KEY(&w, "__type");
	sp_cbor_w_text(&w, type, strlen(type));
	if (msg != NULL) {
		if (capital_m) {
			CW_KEY(&w, "Message");
		} else {
			CW_KEY(&w, "message");
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
	CW_KEY(&w, "ShardId");
	cw_text(&w, shard_id, shard_len);
	CW_KEY(&w, "SequenceNumber");
	cw_text(&w, seq, seq_len);
	CW_KEY(&w, "EncryptionType");
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
	CW_KEY(&w, "ShardIterator");
	cw_text(&w, it, it_len);
	sp_cbor_w_break(&w);
	return cw_done(&w);
}

void
sp_api_cw_put_records_begin(struct sp_cbor_w *w, uint32_t failed)
{
	SP_VERIFY(w->open == 0);
	sp_cbor_w_indef(w, SP_CBOR_MAJOR_MAP);
	CW_KEY(w, "FailedRecordCount");
	sp_cbor_w_uint(w, failed);
	CW_KEY(w, "Records");
	sp_cbor_w_indef(w, SP_CBOR_MAJOR_ARRAY);
}

void
sp_api_cw_put_records_ok(struct sp_cbor_w *w, const char *shard_id, size_t shard_len,
			 const char *seq, size_t seq_len)
{
	SP_VERIFY(w->open == CW_DEPTH_LIST);
	SP_ASSERT(shard_id != NULL && seq != NULL);
	sp_cbor_w_map(w, 2);
	CW_KEY(w, "SequenceNumber");
	cw_text(w, seq, seq_len);
	CW_KEY(w, "ShardId");
	cw_text(w, shard_id, shard_len);
}

void
sp_api_cw_put_records_fail(struct sp_cbor_w *w, const char *code, size_t code_len, const char *msg,
			   size_t msg_len)
{
	SP_VERIFY(w->open == CW_DEPTH_LIST);
	sp_cbor_w_map(w, 2);
	CW_KEY(w, "ErrorCode");
	cw_text(w, code, code_len);
	CW_KEY(w, "ErrorMessage");
	cw_text(w, msg, msg_len);
}

void
sp_api_cw_put_records_end(struct sp_cbor_w *w, bool kms)
{
	SP_VERIFY(w->open == CW_DEPTH_LIST);
	sp_cbor_w_break(w);
	CW_KEY(w, "EncryptionType");
	sp_cbor_w_text(w, kms ? "KMS" : "NONE", kms ? 3 : 4);
	sp_cbor_w_break(w);
}

void
sp_api_cw_get_records_begin(struct sp_cbor_w *w)
{
	SP_VERIFY(w->open == 0);
	sp_cbor_w_indef(w, SP_CBOR_MAJOR_MAP);
	CW_KEY(w, "Records");
	sp_cbor_w_indef(w, SP_CBOR_MAJOR_ARRAY);
}

void
sp_api_cw_get_records_record(struct sp_cbor_w *w, const struct sp_api_jw_record *r)
{
	SP_VERIFY(w->open == CW_DEPTH_LIST);
	SP_ASSERT(r->seq != NULL && r->key != NULL && (r->data != NULL || r->data_len == 0));
	sp_cbor_w_map(w, r->encryption != NULL ? 5 : 4);
	CW_KEY(w, "SequenceNumber");
	cw_text(w, r->seq, r->seq_len);
	CW_KEY(w, "ApproximateArrivalTimestamp");
	sp_cbor_w_tag(w, SP_API_CBOR_TAG_EPOCH);
	sp_cbor_w_int(w, r->arrival_ms);
	CW_KEY(w, "Data");
	sp_cbor_w_bytes(w, r->data, r->data_len);
	CW_KEY(w, "PartitionKey");
	cw_text(w, r->key, r->key_len);
	if (r->encryption != NULL) {
		CW_KEY(w, "EncryptionType");
		cw_text(w, r->encryption, strlen(r->encryption));
	}
}

static void
cw_child(struct sp_cbor_w *w, const struct sp_api_jw_child *c)
{
	SP_VERIFY(c->nparents <= 2);
	sp_cbor_w_map(w, 3);
	CW_KEY(w, "ShardId");
	cw_text(w, c->shard_id, strlen(c->shard_id));
	CW_KEY(w, "ParentShards");
	sp_cbor_w_array(w, c->nparents);
	for (unsigned i = 0; i < c->nparents; i++) {
		cw_text(w, c->parents[i], strlen(c->parents[i]));
	}
	CW_KEY(w, "HashKeyRange");
	sp_cbor_w_map(w, 2);
	CW_KEY(w, "StartingHashKey");
	cw_text(w, c->start_hash, strlen(c->start_hash));
	CW_KEY(w, "EndingHashKey");
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
		CW_KEY(w, "NextShardIterator");
		cw_text(w, next, next_len);
	}
	CW_KEY(w, "MillisBehindLatest");
	sp_cbor_w_uint(w, millis_behind);
	if (nchildren != 0) {
		CW_KEY(w, "ChildShards");
		sp_cbor_w_array(w, nchildren);
		for (unsigned i = 0; i < nchildren; i++) {
			cw_child(w, &children[i]);
		}
	}
	sp_cbor_w_break(w);
}
