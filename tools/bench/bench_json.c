/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_json: the hot-path JSON of dataplane/api against jansson on the body the appliance
 * sees most: a PutRecords of 500 records of 100 bytes (base64 Data, 16-byte partition keys,
 * about 182 bytes of JSON per record). Rows:
 *   scan         the scanner alone: the whole body validated and skipped (no output)
 *   decode       sp_api_req_put_records: scan, member matching, base64 validation of every
 *                Data, the constraint checks (the request a worker gets)
 *   decode+data  decode, then every Data decoded into one arena
 *   jansson      json_loadb + json_decref (the reference, and what the control plane uses)
 * plus the small requests (GetShardIterator, GetRecords) and the response writers
 * (PutRecords reply for 500 records, GetRecords reply of 500 records of 100 bytes).
 * Each row is the best of BENCH_REPS runs of about the given milliseconds of this thread's CPU
 * time (CLOCK_THREAD_CPUTIME_ID: other load on a shared machine does not count; on a quiet one
 * it is the wall time).
 *
 *   bench_json [MS_PER_RUN]        (default 200)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bench_rate.h"
#include "api_req.h"
#include "b64.h"

#define BENCH_RECORDS 500u
#define BENCH_DATA_BYTES 100u
#define BENCH_KEY_BYTES 16u
#define BENCH_REPS 5u
#define BENCH_BATCH 64u
#define BENCH_BODY_MAX (256u * 1024u)

static char g_body[BENCH_BODY_MAX];
static size_t g_len;
static char g_scratch[BENCH_BODY_MAX];
static uint8_t g_arena[BENCH_RECORDS * BENCH_DATA_BYTES + 16];
static char g_out[BENCH_BODY_MAX];
static struct sp_api_req_put_records g_req;
static struct sp_api_req_err g_err;
static volatile size_t g_sink;
static size_t g_out_len;

static void
build_body(void)
{
	uint8_t data[BENCH_DATA_BYTES];
	size_t n = 0;

	n += (size_t)snprintf(g_body, sizeof(g_body), "{\"Records\":[");
	for (unsigned i = 0; i < BENCH_RECORDS; i++) {
		for (unsigned b = 0; b < BENCH_DATA_BYTES; b++) {
			data[b] = (uint8_t)(i * 31u + b * 7u);
		}
		n += (size_t)snprintf(g_body + n, sizeof(g_body) - n, "%s{\"Data\":\"",
				      i ? "," : "");
		n += sp_b64_encode(data, sizeof(data), g_body + n);
		n += (size_t)snprintf(g_body + n, sizeof(g_body) - n,
				      "\",\"PartitionKey\":\"partition-%06u\"}", i);
	}
	n += (size_t)snprintf(g_body + n, sizeof(g_body) - n, "],\"StreamName\":\"bench-stream\"}");
	g_len = n;
}

enum bench_row { ROW_SCAN, ROW_DECODE, ROW_DATA, ROW_JANSSON, ROW_COUNT };

static const char *const bench_row_names[ROW_COUNT] = {
	"scan", "decode", "decode+data", "jansson",
};

static void
bench_once(enum bench_row row)
{
	struct sp_api_json js;
	json_t *t;

	switch (row) {
	case ROW_SCAN:
		if (sp_api_json_init(&js, g_body, g_len, g_scratch, sizeof(g_scratch)) != 0 ||
		    sp_api_json_skip(&js) != 0 || sp_api_json_finish(&js) != 0) {
			abort();
		}
		g_sink += (size_t)(js.p - g_body);
		break;
	case ROW_DECODE:
	case ROW_DATA:
		if (sp_api_req_put_records(g_body, g_len, g_scratch, sizeof(g_scratch), &g_req,
					   &g_err) != 0) {
			abort();
		}
		if (row == ROW_DATA &&
		    sp_api_req_put_records_data(&g_req, g_arena, sizeof(g_arena), NULL) != 0) {
			abort();
		}
		g_sink += g_req.n;
		break;
	default:
		t = json_loadb(g_body, g_len, 0, NULL);
		if (t == NULL) {
			abort();
		}
		g_sink += json_object_size(t);
		json_decref(t);
		break;
	}
}

/*
 * Best ns per call of fn over BENCH_REPS runs of about ms milliseconds each. The clock is read
 * every BENCH_BATCH calls: reading a thread's CPU clock is a system call, dearer than a small
 * request's decode.
 */
static double
bench_best(void (*fn)(unsigned), unsigned arg, double ms)
{
	return bench_best_ns(fn, arg, BENCH_REPS, BENCH_BATCH, ms);
}

static void
bench_row_fn(unsigned row)
{
	bench_once((enum bench_row)row);
}

static const char g_small_gsi[] = "{\"StreamName\":\"bench-stream\",\"ShardId\":\"shardId-"
				  "000000000003\",\"ShardIteratorType\":\"AT_SEQUENCE_NUMBER\","
				  "\"StartingSequenceNumber\":\"4960087168297933718756355554933260"
				  "9155523708941634633746\"}";
static const char g_small_gr[] = "{\"ShardIterator\":\"AAAAAAAAAAHsW8zCWf9164uy8Epue6WS3w6wmj4"
				 "a4USt+CNvxi+ewk6ZOCChBmHgsQ6K1wMYmK7QJwXKcRZMYNz9nEZpBsYEx9"
				 "d6zlDYzuJOWrdLiudiDNNcJk8lWCcSMFkw\",\"Limit\":1000}";

static void
bench_small(unsigned which)
{
	struct sp_api_req_get_shard_iterator gi;
	struct sp_api_req_get_records gr;

	if (which == 0) {
		if (sp_api_req_get_shard_iterator(g_small_gsi, sizeof(g_small_gsi) - 1, g_scratch,
						  sizeof(g_scratch), &gi, &g_err) != 0) {
			abort();
		}
		g_sink += gi.shard_id.len;
	} else {
		if (sp_api_req_get_records(g_small_gr, sizeof(g_small_gr) - 1, g_scratch,
					   sizeof(g_scratch), &gr, &g_err) != 0) {
			abort();
		}
		g_sink += (size_t)gr.limit;
	}
}

static void
bench_write(unsigned which)
{
	static const char seq[] = "49600871682979337187563555549332609155523708941634633746";
	struct sp_api_jw w;

	sp_api_jw_init(&w, g_out, sizeof(g_out));
	if (which == 0) {
		sp_api_jw_put_records_begin(&w, 0);
		for (unsigned i = 0; i < BENCH_RECORDS; i++) {
			sp_api_jw_put_records_ok(&w, "shardId-000000000001", 20, seq,
						 sizeof(seq) - 1);
		}
		sp_api_jw_put_records_end(&w, false);
	} else {
		struct sp_api_jw_record r = { seq, sizeof(seq) - 1, 1701760153593ll, g_arena,
					      BENCH_DATA_BYTES, "partition-000001", 16, NULL };

		sp_api_jw_get_records_begin(&w);
		for (unsigned i = 0; i < BENCH_RECORDS; i++) {
			r.data = g_arena + (size_t)i * BENCH_DATA_BYTES;
			sp_api_jw_get_records_record(&w, &r);
		}
		sp_api_jw_get_records_end(&w, "AAAAAAAAAAHsW8zCWf9164uy8Epue6WS3w6wmj4", 39, 0,
					  NULL, 0);
	}
	if (sp_api_jw_finish(&w) < 0) {
		abort();
	}
	g_out_len = w.len;
	g_sink += w.len;
}

int
main(int argc, char **argv)
{
	double ms = argc > 1 ? strtod(argv[1], NULL) : 200.0;
	double ns[ROW_COUNT];
	double t;

	if (ms <= 0) {
		fprintf(stderr, "usage: bench_json [MS_PER_RUN]\n");
		return 2;
	}
	sp_b64_select();
	build_body();
	printf("PutRecords body: %u records of %u bytes, %zu bytes of JSON (%.1f per record); "
	       "base64 kernel %s\n\n", BENCH_RECORDS, BENCH_DATA_BYTES, g_len,
	       (double)g_len / BENCH_RECORDS, sp_b64_kernel_name());
	printf("%-12s %12s %10s %14s %12s\n", "", "us/body", "MB/s", "records/s", "ns/record");
	for (unsigned r = 0; r < ROW_COUNT; r++) {
		ns[r] = bench_best(bench_row_fn, r, ms);
		printf("%-12s %12.1f %10.0f %14.0f %12.1f\n", bench_row_names[r], ns[r] / 1e3,
		       (double)g_len / ns[r] * 1e3, BENCH_RECORDS / ns[r] * 1e9,
		       ns[r] / BENCH_RECORDS);
	}
	printf("\ndecode is %.1fx jansson, scan %.1fx\n\n", ns[ROW_JANSSON] / ns[ROW_DECODE],
	       ns[ROW_JANSSON] / ns[ROW_SCAN]);
	printf("GetShardIterator decode  %8.0f ns/request (%zu bytes)\n",
	       bench_best(bench_small, 0, ms), sizeof(g_small_gsi) - 1);
	printf("GetRecords decode        %8.0f ns/request (%zu bytes)\n",
	       bench_best(bench_small, 1, ms), sizeof(g_small_gr) - 1);
	t = bench_best(bench_write, 0, ms);
	printf("PutRecords reply (500)   %8.1f us, %6zu bytes, %5.0f MB/s, %6.1f ns/record\n",
	       t / 1e3, g_out_len, (double)g_out_len / t * 1e3, t / BENCH_RECORDS);
	t = bench_best(bench_write, 1, ms);
	printf("GetRecords reply (500)   %8.1f us, %6zu bytes, %5.0f MB/s, %6.1f ns/record\n",
	       t / 1e3, g_out_len, (double)g_out_len / t * 1e3, t / BENCH_RECORDS);
	return 0;
}
