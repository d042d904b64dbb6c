/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Kinesis control operations spate-control serves for the dataplane (CreateStream,
 * DeleteStream, DescribeStream, DescribeStreamSummary, ListStreams, ListShards,
 * IncreaseStreamRetentionPeriod, DecreaseStreamRetentionPeriod, UpdateMaxRecordSize, the six
 * tag operations, Enable/DisableEnhancedMonitoring, DescribeLimits, the resharding operations,
 * UpdateStreamMode, Start/StopStreamEncryption, the four enhanced fan-out consumer operations
 * Register/Deregister/DescribeStreamConsumer and ListStreamConsumers) and the
 * stream lifecycle the dataplane's acknowledgements drive. In-process and socket-free:
 * chan_server.c feeds it the kreq messages, the unit tests call it directly. Behaviour, texts
 * and check order: docs/internals/control-ops.md.
 */
#ifndef SPATE_CONTROL_CTL_STREAMS_H
#define SPATE_CONTROL_CTL_STREAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spate/compiler.h>
#include <spate/kinesis.h>
#include <spate/seqno.h>

struct sp_cat;
struct sp_ctl_load;
struct sp_keyfile;

/* Defaults of spate-control's Kinesis settings (command line: --account, --region, ...). */
#define SP_CTL_K_ACCOUNT_DEFAULT "123456789012"
#define SP_CTL_K_REGION_DEFAULT "us-east-1"
#define SP_CTL_K_SHARD_LIMIT_DEFAULT 500u
#define SP_CTL_K_SHARD_LIMIT_MAX 1000000u
#define SP_CTL_K_REGION_MAX_CHARS 32u

/* Fixed figures of the operations (reference §3.1, §5). */
#define SP_CTL_K_CREATING_MAX 5u		/* streams CREATING at once, per account */
#define SP_CTL_K_ON_DEMAND_SHARDS 4u		/* shards of a new ON_DEMAND stream */
#define SP_CTL_K_SHARDS_PER_STREAM_MAX 10000u	/* any one stream */
#define SP_CTL_K_DESCRIBE_LIMIT_DEFAULT 100u	/* DescribeStream Limit: default and cap */
#define SP_CTL_K_LIST_STREAMS_LIMIT_DEFAULT 100u /* ListStreams Limit: default and cap */
#define SP_CTL_K_LIST_SHARDS_MAX_DEFAULT 1000u	/* ListShards MaxResults: default and cap */
#define SP_CTL_K_MAX_RECORD_KIB_MIN 1024	/* MaxRecordSizeInKiB (CreateStream, */
#define SP_CTL_K_MAX_RECORD_KIB_MAX 10240	/* UpdateMaxRecordSize): the model's range */
#define SP_CTL_K_KEY_ID_MAX_CHARS 2048		/* Start/StopStreamEncryption KeyId (model) */
#define SP_CTL_K_ENCRYPTION_PER_DAY 25		/* encryption changes per stream, rolling 24 h */
/* Consumer lifecycle delays (spate-control --consumer-activate-ms, --consumer-delete-ms). */
#define SP_CTL_K_CONSUMER_DELAY_MS_DEFAULT 1000
#define SP_CTL_K_CONSUMER_DELAY_MS_MAX 3600000

/* Longest error message in a reply: a full ValidationException plus its prefix. */
#define SP_CTL_K_MSG_MAX_BYTES (SP_KVALID_MSG_BYTES + 512u)

/* What one operation runs against besides the catalog. */
struct sp_ctl_kctx {
	const char *account;  /* 12 digits: messages and new ARNs */
	const char *region;   /* new ARNs and messages */
	int64_t now_ms;	      /* wall clock, ms since the Unix epoch */
	unsigned n_workers;   /* dataplane workers, the owners new shards are given */
	unsigned shard_limit; /* open shards allowed across all streams */
	const struct sp_keyfile *keys; /* --key-file, for StartStreamEncryption; NULL: none */
	/* the measured load new shards are placed by (ctl_balance.h); NULL: none measured */
	const struct sp_ctl_load *load;
	int64_t applied; /* the catalog_version the dataplane last applied; 0: none yet */
	/* enhanced fan-out consumers: CREATING -> ACTIVE and DELETING -> gone after these */
	int64_t consumer_activate_ms;
	int64_t consumer_delete_ms;
};

/* The answer to one operation. */
struct sp_ctl_kreply {
	uint16_t status;		     /* HTTP status */
	enum sp_kerr err;		     /* SP_KERR_NONE on success */
	bool message_upper;		     /* the message key is "Message", not "message" */
	bool catalog_changed;		     /* push a new snapshot to the dataplane */
	char message[SP_CTL_K_MSG_MAX_BYTES]; /* valid UTF-8; "" when none */
	char *body;			     /* response JSON, NUL-terminated; "" for no output */
	size_t body_len;
};

/*
 * Run operation op on the request body (len bytes, a JSON object). Always fills *out, also for
 * errors (body ""), which sp_ctl_kreply_fini() must release. Returns 0, or -EIO/-ENOMEM when
 * the reply is an InternalFailure caused by that.
 */
SP_MUST_CHECK int sp_ctl_kinesis(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, enum sp_kop op,
				 const char *body, size_t len, struct sp_ctl_kreply *out);

void sp_ctl_kreply_fini(struct sp_ctl_kreply *r);

/*
 * The dataplane has applied catalog snapshot `version`: CREATING streams created at or before
 * it become ACTIVE, DELETING streams marked at or before it are removed, and reshards whose
 * last step it serves take their next step (ctl_reshard.c; ctx gives time and workers).
 * Returns the number of changes (> 0: catalog_version was bumped, push a snapshot), 0, or -EIO.
 */
SP_MUST_CHECK int sp_ctl_kinesis_applied(struct sp_cat *cat, const struct sp_ctl_kctx *ctx,
					 int64_t version);

/*
 * Hash range of shard i of a new n-shard stream (reference §2.2): step = floor(2^128 / n),
 * [i * step, (i + 1) * step - 1], the last shard ending at 2^128 - 1.
 */
void sp_ctl_kinesis_hash_range(uint32_t n, uint32_t i, sp_u128 *start, sp_u128 *end);

#endif /* SPATE_CONTROL_CTL_STREAMS_H */
