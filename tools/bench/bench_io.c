/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_io: sequential O_DIRECT writes through the storage seam's io_uring backend, one
 * RWF_DSYNC write per batch (a group commit: write, wait for it, next), beside fio doing the
 * same on the same file in the same run (ioengine=io_uring, direct=1, sync=dsync, iodepth=1).
 * Prints MB/s and per-batch latency p50/p99/p99.9 for 128 KiB..1 MiB batches, and our
 * bandwidth as a fraction of fio's. A program, never a test.
 *
 *   bench_io [-y] [DIR [MIB]]
 *                          -y: sched_yield() between polls instead of spinning (see below);
 *                          DIR: where the scratch file goes (default /tmp); MIB: bytes
 *                          written per run (default 64), each run also stops after 300 ms.
 *
 * Shared virtual disks vary from second to second, so each size runs ROUNDS times, ours and
 * fio's alternating, and each side's median round (by MB/s) is printed.
 *
 * Both sides overwrite a file laid out (written and synced) beforehand, so neither pays for
 * block allocation or unwritten-extent conversion: what is measured is data reaching stable
 * storage. Latency is submit to completion (fio's lat, not clat); for ours, also the time
 * spent inside submit() (the io_uring_enter of the batch) and how many submits slept in the
 * kernel (a voluntary context switch: the call blocked, as opposed to being preempted).
 * Busy-polls one CPU by default; on a machine with few CPUs the spinning competes with the
 * kernel workers that finish a DSYNC write, which -y shows.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_file.h"
#include "io_uring.h"
#include "spate/compiler.h"

#define RUN_MS    300 /* per run, whichever of this or MIB comes first */
#define ROUNDS    3   /* alternating runs per side and size; the median one is printed */
#define MAX_BATCH (1u << 20)
#define FIO       "/usr/bin/fio"

struct result {
	double mbps;
	double p50_us, p99_us, p999_us;
	double sub_p50_us, sub_p99_us; /* time inside submit(): ours only, 0 for fio */
	uint64_t batches;
	uint64_t slept; /* submits during which the thread slept (a voluntary context switch) */
};

static bool g_yield; /* -y */

static uint64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int
cmp_mbps(const void *a, const void *b)
{
	double x = ((const struct result *)a)->mbps, y = ((const struct result *)b)->mbps;
	return x < y ? -1 : x > y;
}

static double
pct(const uint64_t *sorted, uint64_t n, double p)
{
	uint64_t i = (uint64_t)(p / 100.0 * (double)n);
	return (double)sorted[i < n ? i : n - 1] / 1000.0;
}

/* One run through the backend: sequential DSYNC writes of bs, one per batch. */
static int
run_ours(const char *path, uint32_t bs, uint64_t size, uint8_t *buf, uint64_t *lat, uint64_t *sub,
	 struct result *res)
{
	const char *paths[] = {path};
	struct sp_io_uring_cfg cfg = {
	    .paths = paths, .n_files = 1, .depth = 8, .arena = buf, .arena_len = MAX_BATCH};
	struct sp_io_uring *u = NULL;
	int err = sp_io_uring_create(&cfg, &u);
	if (err != 0) {
		return err;
	}
	struct sp_io io = sp_io_uring_io(u);
	uint64_t n = 0, off = 0, slept = 0, t0 = now_ns(), t = t0;
	while (off + bs <= size && t - t0 < RUN_MS * 1000000ull) {
		struct sp_io_req r = {.op = SP_IO_WRITE,
				      .flags = SP_IO_F_DSYNC,
				      .offset = off,
				      .buf = buf,
				      .len = bs,
				      .tag = n};
		struct rusage ru0, ru1;
		getrusage(RUSAGE_THREAD, &ru0);
		uint64_t s = now_ns();
		if (io.ops->submit(io.ctx, &r, 1) != 1) {
			err = -EIO;
			break;
		}
		sub[n] = now_ns() - s;
		getrusage(RUSAGE_THREAD, &ru1);
		slept += ru1.ru_nvcsw != ru0.ru_nvcsw;
		struct sp_io_cpl c;
		while (io.ops->poll(io.ctx, &c, 1) == 0) {
			if (g_yield) {
				sched_yield();
			} /* else busy-poll, as the dataplane's loop does */
		}
		t = now_ns();
		if (c.res != (int32_t)bs) {
			err = c.res < 0 ? c.res : -EIO;
			break;
		}
		lat[n++] = t - s;
		off += bs;
	}
	sp_io_uring_destroy(u);
	if (err != 0 || n == 0) {
		return err != 0 ? err : -EIO;
	}
	qsort(lat, n, sizeof(*lat), cmp_u64);
	qsort(sub, n, sizeof(*sub), cmp_u64);
	*res = (struct result){.mbps = (double)off / ((double)(t - t0) / 1e9) / 1e6,
			       .p50_us = pct(lat, n, 50),
			       .p99_us = pct(lat, n, 99),
			       .p999_us = pct(lat, n, 99.9),
			       .sub_p50_us = pct(sub, n, 50),
			       .sub_p99_us = pct(sub, n, 99),
			       .batches = n,
			       .slept = slept};
	return 0;
}

static double
fio_pct(json_t *pcts, const char *key)
{
	return (double)json_integer_value(json_object_get(pcts, key)) / 1000.0;
}

/* The same workload through fio; its JSON report is read back with jansson. */
static int
run_fio(const char *path, const char *out, uint32_t bs, uint64_t size, struct result *res)
{
	char cmd[2048];
	int len =
	    snprintf(cmd, sizeof(cmd),
		     FIO " --name=seqdsync --filename=%s --size=%" PRIu64 " --bs=%u --rw=write"
			 " --direct=1 --ioengine=io_uring --sync=dsync --iodepth=1 --runtime=%ums"
			 " --lat_percentiles=1 --percentile_list=50:99:99.9 --output-format=json"
			 " --output=%s >/dev/null 2>&1",
		     path, size, bs, RUN_MS, out);
	if (len < 0 || (size_t)len >= sizeof(cmd)) {
		return -ENAMETOOLONG;
	}
	if (system(cmd) != 0) {
		return -EIO;
	}
	json_error_t jerr;
	json_t *root = json_load_file(out, 0, &jerr);
	unlink(out);
	if (root == NULL) {
		return -EINVAL;
	}
	json_t *w = json_object_get(json_array_get(json_object_get(root, "jobs"), 0), "write");
	json_t *pcts = json_object_get(json_object_get(w, "lat_ns"), "percentile");
	int err = pcts == NULL ? -EINVAL : 0;
	if (err == 0) {
		*res = (struct result){
		    .mbps = (double)json_integer_value(json_object_get(w, "bw_bytes")) / 1e6,
		    .p50_us = fio_pct(pcts, "50.000000"),
		    .p99_us = fio_pct(pcts, "99.000000"),
		    .p999_us = fio_pct(pcts, "99.900000"),
		    .batches = (uint64_t)json_integer_value(json_object_get(w, "total_ios"))};
	}
	json_decref(root);
	return err;
}

static void
print_row(const char *who, uint32_t bs, const struct result *r)
{
	printf("%-6s %5u KiB %9.1f %8" PRIu64 " %10.0f %10.0f %10.0f", who, bs >> 10, r->mbps,
	       r->batches, r->p50_us, r->p99_us, r->p999_us);
	if (r->sub_p50_us > 0) {
		printf(" %10.1f %10.1f %6" PRIu64, r->sub_p50_us, r->sub_p99_us, r->slept);
	}
	printf("\n");
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "-y") == 0) {
		g_yield = true;
		argc--;
		argv++;
	}
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	uint64_t size = (argc > 2 ? strtoull(argv[2], NULL, 10) : 64) << 20;
	if (size < MAX_BATCH || size > (8ull << 30)) {
		fprintf(stderr, "bench_io: MIB must be 1..8192\n");
		return 2;
	}
	char path[512], out[512];
	snprintf(path, sizeof(path), "%s/spate-bench-io.%d", dir, (int)getpid());
	snprintf(out, sizeof(out), "%s/spate-bench-io.%d.json", dir, (int)getpid());
	int err = bench_file_layout(path, size);
	if (err != 0) {
		fprintf(stderr, "bench_io: lay out %s: %s\n", path, strerror(-err));
		unlink(path);
		return 1;
	}
	uint8_t *buf = NULL;
	uint64_t cap = size / (128u << 10) + 1; /* batches per run, at most */
	uint64_t *lat = calloc(2 * cap, sizeof(uint64_t));
	if (posix_memalign((void **)&buf, 4096, MAX_BATCH) != 0 || lat == NULL) {
		unlink(path);
		return 1;
	}
	memset(buf, 0xa5, MAX_BATCH);
	int have_fio = access(FIO, X_OK) == 0;
	printf("sequential O_DIRECT writes, one RWF_DSYNC write per batch (queue depth 1), "
	       "%s, %" PRIu64 " MiB or %u ms per run, median of %u, poll: %s\n",
	       dir, size >> 20, RUN_MS, ROUNDS, g_yield ? "yield" : "spin");
	printf("%-6s %9s %9s %8s %10s %10s %10s %10s %10s %6s\n", "who", "batch", "MB/s", "batches",
	       "p50 us", "p99 us", "p99.9 us", "submit p50", "submit p99", "slept");
	int rc = 0;
	for (uint32_t bs = 128u << 10; bs <= MAX_BATCH && rc == 0; bs <<= 1) {
		struct result ours[ROUNDS], fio[ROUNDS];
		unsigned n_fio = 0;
		for (unsigned r = 0; r < ROUNDS; r++) {
			err = run_ours(path, bs, size, buf, lat, lat + cap, &ours[r]);
			if (err != 0) {
				fprintf(stderr, "bench_io: io_uring run: %s\n", strerror(-err));
				rc = 1;
				break;
			}
			if (have_fio && run_fio(path, out, bs, size, &fio[n_fio]) == 0) {
				n_fio++;
			}
		}
		if (rc != 0) {
			break;
		}
		qsort(ours, ROUNDS, sizeof(ours[0]), cmp_mbps);
		print_row("spate", bs, &ours[ROUNDS / 2]);
		if (n_fio == 0) {
			printf("fio    %s\n", have_fio ? "(failed)" : "(not installed: " FIO ")");
			continue;
		}
		qsort(fio, n_fio, sizeof(fio[0]), cmp_mbps);
		print_row("fio", bs, &fio[n_fio / 2]);
		printf("ratio  %5u KiB %8.0f%%\n", bs >> 10,
		       100.0 * ours[ROUNDS / 2].mbps / fio[n_fio / 2].mbps);
	}
	unlink(path);
	unlink(out);
	free(lat);
	free(buf);
	return rc;
}
