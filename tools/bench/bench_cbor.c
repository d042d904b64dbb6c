/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_cbor: the CBOR request decoders of dataplane/api against the JSON ones, in the same
 * run, on the body the appliance sees most: a PutRecords of 500 records of 100 bytes with
 * 16-byte partition keys. The JSON body is bench_json's (base64 Data); the CBOR body holds the
 * same records the way the Java SDK sends them (indefinite-length maps and array, Data as a
 * byte string). Rows:
 *   json decode        sp_api_req_put_records (scan, members, base64 validation, checks)
 *   json decode+data   decode, then every Data decoded into one arena
 *   cbor check         the CBOR reader alone: the whole body checked (sp_cbor_check)
 *   cbor decode        sp_api_cbor_put_records (same members and checks; Data is raw)
 *   cbor decode+data   decode, then every Data copied into one arena
 * then the ratios (CBOR over JSON, records/s), and the response writers both ways (PutRecords
 * reply for 500 records, GetRecords reply of 500 records of 100 bytes).
 * Each row is the best of BENCH_REPS runs of about the given milliseconds of this thread's CPU
 * time (CLOCK_THREAD_CPUTIME_ID: other load on a shared machine does not count).
 *
 *   bench_cbor [MS_PER_RUN]        (default 200)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_rate.h"
#include "api_cbor.h"
#include "api_req.h"
#include "b64.h"
#include "cbor.h"

#define BENCH_RECORDS    500u
#define BENCH_DATA_BYTES 100u
#define BENCH_KEY_BYTES  16u
#define BENCH_REPS       5u
#define BENCH_BATCH      16u
#define BENCH_BODY_MAX   (256u * 1024u)

static char g_json[BENCH_BODY_MAX];
static size_t g_json_len;
static uint8_t g_cbor[BENCH_BODY_MAX];
static size_t g_cbor_len;
static char g_scratch[BENCH_BODY_MAX];
static uint8_t g_arena[BENCH_RECORDS * BENCH_DATA_BYTES + 16];
static char g_out[BENCH_BODY_MAX];
static struct sp_api_req_put_records g_req;
static struct sp_api_req_err g_err;
static volatile size_t g_sink;

static void
record_data(unsigned i, uint8_t *data)
{
	for (unsigned b = 0; b < BENCH_DATA_BYTES; b++) {
		data[b] = (uint8_t)(i * 31u + b * 7u);
	}
}

/* The same 500 records as JSON (bench_json's body) and as the Java SDK's CBOR. */
static void
build_bodies(void)
{
	uint8_t data[BENCH_DATA_BYTES];
	char key[BENCH_KEY_BYTES + 1];
	struct sp_cbor_w w;
	size_t n = 0;

	n += (size_t)snprintf(g_json, sizeof(g_json), "{\"Records\":[");
	sp_cbor_w_init(&w, g_cbor, sizeof(g_cbor));
	sp_cbor_w_indef(&w, SP_CBOR_MAJOR_MAP);
	sp_cbor_w_text(&w, "Records", 7);
	sp_cbor_w_indef(&w, SP_CBOR_MAJOR_ARRAY);
	for (unsigned i = 0; i < BENCH_RECORDS; i++) {
		record_data(i, data);
		snprintf(key, sizeof(key), "partition-%06u", i);
		n += (size_t)snprintf(g_json + n, sizeof(g_json) - n, "%s{\"Data\":\"",
				      i ? "," : "");
		n += sp_b64_encode(data, sizeof(data), g_json + n);
		n += (size_t)snprintf(g_json + n, sizeof(g_json) - n, "\",\"PartitionKey\":\"%s\"}",
				      key);
		sp_cbor_w_indef(&w, SP_CBOR_MAJOR_MAP);
		sp_cbor_w_text(&w, "Data", 4);
		sp_cbor_w_bytes(&w, data, sizeof(data));
		sp_cbor_w_text(&w, "PartitionKey", 12);
		sp_cbor_w_text(&w, key, BENCH_KEY_BYTES);
		sp_cbor_w_break(&w);
	}
	n += (size_t)snprintf(g_json + n, sizeof(g_json) - n, "],\"StreamName\":\"bench-stream\"}");
	g_json_len = n;
	sp_cbor_w_break(&w);
	sp_cbor_w_text(&w, "StreamName", 10);
	sp_cbor_w_text(&w, "bench-stream", 12);
	sp_cbor_w_break(&w);
	if (sp_cbor_w_finish(&w) < 0) {
		abort();
	}
	g_cbor_len = w.len;
}

enum bench_row {
	ROW_JSON_DECODE,
	ROW_JSON_DATA,
	ROW_CBOR_CHECK,
	ROW_CBOR_DECODE,
	ROW_CBOR_DATA,
	ROW_COUNT,
};

static const char *const bench_row_names[ROW_COUNT] = {
    "json decode", "json decode+data", "cbor check", "cbor decode", "cbor decode+data",
};

static void
bench_once(unsigned row)
{
	int rc;

	switch ((enum bench_row)row) {
	case ROW_CBOR_CHECK:
		if (sp_cbor_check(g_cbor, g_cbor_len, (uint8_t *)g_scratch, sizeof(g_scratch)) !=
		    0) {
			abort();
		}
		g_sink += g_cbor_len;
		return;
	case ROW_JSON_DECODE:
	case ROW_JSON_DATA:
		rc = sp_api_req_put_records(g_json, g_json_len, g_scratch, sizeof(g_scratch),
					    &g_req, &g_err);
		break;
	default:
		rc = sp_api_cbor_put_records((const char *)g_cbor, g_cbor_len, g_scratch,
					     sizeof(g_scratch), &g_req, &g_err);
		break;
	}
	if (rc != 0 || g_req.n != BENCH_RECORDS) {
		abort();
	}
	if ((row == ROW_JSON_DATA || row == ROW_CBOR_DATA) &&
	    sp_api_req_put_records_data(&g_req, g_arena, sizeof(g_arena), NULL) != 0) {
		abort();
	}
	g_sink += g_req.n;
}

/* Best ns per call of fn over BENCH_REPS runs of about ms milliseconds each. */
static double
bench_best(void (*fn)(unsigned), unsigned arg, double ms)
{
	return bench_best_ns(fn, arg, BENCH_REPS, BENCH_BATCH, ms);
}

/* Writers: 0 JSON PutRecords reply, 1 CBOR's, 2 JSON GetRecords reply, 3 CBOR's. */
static void
bench_write(unsigned which)
{
	static const char seq[] = "49600871682979337187563555549332609155523708941634633746";
	struct sp_api_jw_record r = {seq,
				     sizeof(seq) - 1,
				     1701760153593ll,
				     g_arena,
				     BENCH_DATA_BYTES,
				     "partition-000001",
				     16,
				     NULL};
	struct sp_api_jw jw;
	struct sp_cbor_w cw;
	ssize_t n;

	sp_api_jw_init(&jw, g_out, sizeof(g_out));
	sp_cbor_w_init(&cw, (uint8_t *)g_out, sizeof(g_out));
	for (unsigned i = 0; i < BENCH_RECORDS; i++) {
		switch (which) {
		case 0:
			if (i == 0) {
				sp_api_jw_put_records_begin(&jw, 0);
			}
			sp_api_jw_put_records_ok(&jw, "shardId-000000000001", 20, seq,
						 sizeof(seq) - 1);
			break;
		case 1:
			if (i == 0) {
				sp_api_cw_put_records_begin(&cw, 0);
			}
			sp_api_cw_put_records_ok(&cw, "shardId-000000000001", 20, seq,
						 sizeof(seq) - 1);
			break;
		case 2:
			if (i == 0) {
				sp_api_jw_get_records_begin(&jw);
			}
			sp_api_jw_get_records_record(&jw, &r);
			break;
		default:
			if (i == 0) {
				sp_api_cw_get_records_begin(&cw);
			}
			sp_api_cw_get_records_record(&cw, &r);
			break;
		}
	}
	if (which == 0) {
		sp_api_jw_put_records_end(&jw, false);
	} else if (which == 1) {
		sp_api_cw_put_records_end(&cw, false);
	} else if (which == 2) {
		sp_api_jw_get_records_end(&jw, seq, sizeof(seq) - 1, 0, NULL, 0);
	} else {
		sp_api_cw_get_records_end(&cw, seq, sizeof(seq) - 1, 0, NULL, 0);
	}
	n = (which % 2) == 0 ? sp_api_jw_finish(&jw) : sp_cbor_w_finish(&cw);
	if (n <= 0) {
		abort();
	}
	g_sink += (size_t)n;
}

int
main(int argc, char **argv)
{
	static const char *const wnames[4] = {"PutRecords reply json", "PutRecords reply cbor",
					      "GetRecords reply json", "GetRecords reply cbor"};
	double ms = argc > 1 ? strtod(argv[1], NULL) : 200.0;
	double ns[ROW_COUNT];

	if (ms <= 0) {
		fprintf(stderr, "usage: bench_cbor [MS_PER_RUN]\n");
		return 2;
	}
	sp_b64_select();
	build_bodies();
	printf("PutRecords body: %u records of %u bytes: %zu bytes of JSON (%.1f per record), "
	       "%zu bytes of CBOR (%.1f per record)\n\n",
	       BENCH_RECORDS, BENCH_DATA_BYTES, g_json_len, (double)g_json_len / BENCH_RECORDS,
	       g_cbor_len, (double)g_cbor_len / BENCH_RECORDS);
	printf("%-18s %10s %10s %14s %12s\n", "", "us/body", "MB/s", "records/s", "ns/record");
	for (unsigned row = 0; row < ROW_COUNT; row++) {
		size_t len = row < ROW_CBOR_CHECK ? g_json_len : g_cbor_len;

		ns[row] = bench_best(bench_once, row, ms);
		printf("%-18s %10.1f %10.0f %14.0f %12.1f\n", bench_row_names[row], ns[row] / 1e3,
		       (double)len / ns[row] * 1e3, BENCH_RECORDS / ns[row] * 1e9,
		       ns[row] / BENCH_RECORDS);
	}
	printf("\ncbor/json records/s: decode %.2fx, decode+data %.2fx\n\n",
	       ns[ROW_JSON_DECODE] / ns[ROW_CBOR_DECODE], ns[ROW_JSON_DATA] / ns[ROW_CBOR_DATA]);
	for (unsigned i = 0; i < 4; i++) {
		double t = bench_best(bench_write, i, ms / 2);

		printf("%-24s %8.1f us, %6.1f ns/record\n", wnames[i], t / 1e3, t / BENCH_RECORDS);
	}
	return g_sink == 0;
}
