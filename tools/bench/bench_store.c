/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_store: the store's write path (nvme/store.c) on io_uring, as a worker drives it: L shard
 * logs (1, 4, 16) in one store file, records of S data bytes (100 B, 1 KiB, 10 KiB; keys of
 * 16..32 bytes) appended BATCH at a time per log, then one sp_store_poll (which submits one
 * DSYNC write per log with records waiting: the group commit) and a look at each log's durable
 * watermark. -EAGAIN from an append means "buffer full or a rollover waiting": poll and retry.
 * fio runs beside it on the same file in the same run: sequential O_DIRECT O_DSYNC writes of
 * the store's average write size at queue depth L, the nearest plain-disk equivalent. A
 * program, never a test: it prints figures and never judges them.
 *
 *   bench_store [--quick] [--sparse] [--block B] [--yield] [SECONDS [DIR]]
 *                  SECONDS per case (default 2); DIR for the scratch file (default /var/tmp,
 *                  an O_DIRECT-capable file system); --quick: 0.2 s per case, a smaller file;
 *                  --sparse: see below; --block B: the store's block (and fio's bs rounding)
 *                  instead of the file's direct-I/O alignment, e.g. 4096 for a 4 KiB-sector
 *                  disk or file-system block; --yield: sched_yield() when a round took no
 *                  record, instead of spinning on poll as the dataplane does (on a machine
 *                  with few CPUs the spinner competes with the kernel work that completes
 *                  a DSYNC write, as bench_io's -y shows).
 *   [--mem LIST]   where the write buffers live, a comma-separated list run back to back per
 *                  case in the order given (fio once per case): heap (default; aligned_alloc, 4 KiB
 * pages, each pinned by every write), huge (one MAP_HUGETLB 2 MiB-page region, as the dataplane's
 * memzones), huge-fixed (that region registered as the ring's arena, so writes go as WRITE_FIXED:
 * the last column counts them).
 *   [--logs N] [--data B]  only the cases with N logs, with B data bytes.
 *
 * Per case: records/s and MB/s of frames, from the first append until every record is durable
 * (the drain is counted); writes/s; records per write (the group-commit factor); stall, the
 * share of the time in which no log took a record (disk-bound when high, CPU-bound when low);
 * w time, a write's mean time from submit to the poll that collects it, and in fl, the share
 * of each log's time with a write in flight (a seam shim in front of io_uring times them: below
 * 100 % the store, not the disk, left the log idle);
 * ack latency, from the append of every SAMPLE_EVERY-th record of a log to the first poll that
 * sees the log's durable watermark cover it (mean, p99). Saturated, that latency is mostly
 * queueing in the write buffer (about its size over the bandwidth), so each case runs again
 * offering PACED_PCT % of the records/s it reached, paced per log, for the latency below
 * saturation. Then fio's MB/s, writes/s and latency (submit to completion), and our
 * saturated frame MB/s over fio's MB/s.
 *
 * The file is written and synced once at start, so neither side pays for block allocation;
 * before each case its superblock and segment headers are zeroed, so recovery formats a fresh
 * store. With --sparse, each run (ours and fio's) gets a new sparse file instead, made with
 * ftruncate as the dataplane makes its store file: the first pass over it pays for block
 * allocation and, on ext4, sub-block direct writes into holes take the inode exclusively. The store
 * is configured as the dataplane configures a worker's (io_uring depth 256, no registered arena,
 * its sparse-index strides, 64 MiB segments; --quick: 16 MiB). A 4 GiB file leaves 16 logs room to
 * roll over for a few seconds at 1 GB/s; a case that runs out of segments stops early and says so.
 * The scratch file is removed at the end.
 *
 *   bench_store --recover [GIB] [DIR]
 *                  start-up time instead: a sparse store file of GIB GiB (default 4) in DIR,
 *                  64 MiB segments, 4 KiB block, filled through the store by up to 64 logs
 *                  (at least four segments each; even logs 100 B records, odd ones 1 KiB) until
 *                  90 % of the segments are open, closed, then timed from opening the ring to
 *                  the end of sp_store_recover: cold (page cache dropped, although the store's
 *                  O_DIRECT reads bypass it), again (warm), and once more after the superblock
 *                  and every segment header are zeroed and a store formatted on it: an empty
 *                  store, whose recovery reads only the headers (the fixed cost per segment).
 *                  read ms is the time spent waiting for recovery's reads, issued one at a
 *                  time; the rest of it is CPU (CRC32C, frame checks, sparse indexes).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/mman.h> /* MAP_HUGE_2MB */

#include "bench_file.h"
#include "io_uring.h"
#include "spate/assert.h"
#include "spate/compiler.h"
#include "spate/seqno.h"
#include "store.h"

#define FIO          "/usr/bin/fio"
#define BATCH        64u        /* records appended per log between two polls */
#define PACED_PCT    50         /* the paced run offers this share of the saturated records/s */
#define SAMPLE_EVERY 64u        /* every 64th record of a log is timed until it is durable */
#define PEND_CAP     4096u      /* timed records awaiting their ack, per log (a power of two) */
#define LAT_CAP      (1u << 20) /* ack-latency samples kept per case */
#define MAX_LOGS     64u        /* with --recover; the write cases use up to WRITE_LOGS */
#define WRITE_LOGS   16u
#define KEY_MIN      16u
#define KEY_MAX      32u
#define DATA_MAX     10240u
#define TAG          7u            /* stream tag of every log; shard index = log number */
#define STORE_DEPTH  256u          /* io_uring SQ entries, as the dataplane's worker */
#define SEG_BYTES    (64ull << 20) /* the dataplane's default (seg_mb) */
#define FILE_BYTES   (4ull << 30)
#define QUICK_SEG    (16ull << 20)
#define QUICK_FILE   (512ull << 20)
#define QUICK_SECS   0.2
#define DRAIN_NS     (30ull * 1000000000ull) /* a drain longer than this is an I/O failure */
#define WBUF_ALIGN   SP_SEG_BLOCK_MAX
#define WBUF_BYTES   ((SP_STORE_WBUF_MIN + WBUF_ALIGN - 1) / WBUF_ALIGN * WBUF_ALIGN)
#define HDR_ZERO     4096u /* bytes zeroed at each header: any logical block up to 4 KiB */
#define REC_GIB      4u    /* --recover: default store size */
#define REC_GIB_MAX  1024u
#define REC_BLOCK    4096u      /* the dataplane's store block */
#define REC_FILL_PCT 90u        /* fill until this share of the segments has been opened */
#define REC_SEGS_LOG 4u         /* at least this many segments per log: room to roll over */
#define HUGE_BYTES   (2u << 20) /* --mem huge: 2 MiB pages, as the dataplane's memzones */
#define ARENA_MAX    (1u << 30) /* io_uring's limit on one registered buffer */

/* Where the logs' write buffers (and recovery's scratch) live: --mem. */
enum mem {
	MEM_HEAP,       /* aligned_alloc: 4 KiB pages, each pinned per write */
	MEM_HUGE,       /* one MAP_HUGETLB 2 MiB-page region, not registered */
	MEM_HUGE_FIXED, /* the same region registered as the ring's arena: WRITE_FIXED */
	MEM_N,
};

/* the huge region is registered whole: WRITE_LOGS buffers and the scratch, rounded up */
SP_STATIC_ASSERT((WRITE_LOGS + 1) * WBUF_BYTES + HUGE_BYTES <= ARENA_MAX, "arena too large");

static const char *const g_mem_names[MEM_N] = {"heap", "huge", "huge-fixed"};

struct pend {
	sp_u128 seq;
	uint64_t t_ns;
};

struct blog {
	struct sp_slog *l;
	uint64_t counter; /* records appended */
	uint32_t head, tail;
	uint64_t unsampled; /* samples skipped: the pending ring was full */
	struct pend pend[PEND_CAP];
};

/* A pass-through seam in front of io_uring that times each log's write, submit to collection. */
struct shim {
	struct sp_io inner;
	uint64_t t_sub[MAX_LOGS]; /* a log has at most one write in flight */
	uint64_t write_ns;        /* sum over the logs' writes */
	uint64_t writes;
	/* recovery's requests: one at a time, so submit to completion is its I/O wait */
	uint64_t t_rec;
	uint64_t rec_ns;
	uint64_t rec_ios;
};

struct bench {
	struct shim shim;
	const char *path;
	uint64_t size;
	uint64_t seg_bytes;
	double secs;
	bool sparse; /* --sparse: a fresh sparse file per run, as the dataplane creates its own */
	uint32_t block; /* --block: the store's block; 0 = the file's direct-I/O alignment */
	bool yield;     /* --yield: sched_yield() after a round in which no log took a record */
	uint32_t recover_gib; /* --recover GIB: recovery times; 0: the write cases */
	uint8_t *wbufs;       /* nbufs write buffers, then recovery's scratch: heap or huge */
	uint8_t *heap;        /* aligned_alloc'd buffers */
	uint8_t *huge;        /* the MAP_HUGETLB region, or NULL when none could be mapped */
	size_t huge_len;
	enum mem mem;          /* the current case's memory */
	unsigned mems;         /* --mem: bit per enum mem to run each case with */
	enum mem order[MEM_N]; /* --mem: the order given, to rotate it between runs */
	unsigned n_order;
	unsigned only_logs; /* --logs N: only the cases with N logs; 0: all */
	uint32_t only_data; /* --data B: only the cases with B data bytes; 0: all */
	unsigned nbufs;     /* WRITE_LOGS, or MAX_LOGS with --recover (about 10 MiB each) */
	uint8_t *data;      /* key and data bytes of every record */
	uint64_t *lat;
	uint64_t nlat;
	struct blog *logs;
};

struct result {
	double secs;
	uint64_t recs, frame_bytes, writes, write_bytes, unsampled;
	double write_us; /* mean write time, submit to the poll that collects it */
	double inflight; /* share of each log's time with a write in flight, mean over logs */
	double mean_us, p99_us;
	double stall;              /* share of the appending time with every log refusing records */
	uint64_t submitted, fixed; /* the ring's requests, and how many went as READ/WRITE_FIXED */
	uint32_t block;
	bool full; /* no free segment: the case stopped early */
};

struct fio_result {
	double mbps, iops, mean_us, p99_us;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t
wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Zero the superblock and every segment's header block: recovery then formats a new store. */
static int
wipe(const struct bench *b)
{
	static const uint8_t zero[HDR_ZERO];
	int fd = open(b->path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	int err = 0;
	for (uint64_t off = 0; off + HDR_ZERO <= b->size && err == 0;
	     off = off == 0 ? SP_STORE_SB_BYTES : off + b->seg_bytes) {
		if (pwrite(fd, zero, sizeof(zero), (off_t)off) != (ssize_t)sizeof(zero)) {
			err = errno != 0 ? -errno : -EIO;
		}
	}
	if (err == 0 && fdatasync(fd) != 0) {
		err = -errno;
	}
	close(fd);
	return err;
}

static int
shim_submit(void *ctx, const struct sp_io_req *reqs, unsigned n)
{
	struct shim *sh = ctx;
	uint64_t t = now_ns();
	int acc = sh->inner.ops->submit(sh->inner.ctx, reqs, n);
	for (int i = 0; i < acc; i++) {
		if (reqs[i].tag < MAX_LOGS) { /* recovery's own requests carry a high tag */
			sh->t_sub[reqs[i].tag] = t;
		} else {
			sh->t_rec = t;
		}
	}
	return acc;
}

static int
shim_poll(void *ctx, struct sp_io_cpl *cpls, unsigned n)
{
	struct shim *sh = ctx;
	int got = sh->inner.ops->poll(sh->inner.ctx, cpls, n);
	uint64_t t = got > 0 ? now_ns() : 0;
	for (int i = 0; i < got; i++) {
		if (cpls[i].tag < MAX_LOGS) {
			sh->write_ns += t - sh->t_sub[cpls[i].tag];
			sh->writes++;
		} else {
			sh->rec_ns += t - sh->t_rec;
			sh->rec_ios++;
		}
	}
	return got;
}

static const struct sp_io_ops g_shim_ops = {.submit = shim_submit, .poll = shim_poll};

/* A sparse file of b->size bytes, as the dataplane's store_file() makes (ftruncate). */
static int
sparse_file(const struct bench *b)
{
	(void)unlink(b->path);
	int fd = open(b->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		return -errno;
	}
	int err = ftruncate(fd, (off_t)b->size) != 0 ? -errno : 0;
	close(fd);
	return err;
}

/* Before each run: a store file that recovery will format. */
static int
fresh(const struct bench *b)
{
	return b->sparse ? sparse_file(b) : wipe(b);
}

/* The dataplane's store configuration on ring u, through the shim. */
static struct sp_store_conf
store_conf(struct bench *b, struct sp_io_uring *u)
{
	b->shim = (struct shim){.inner = sp_io_uring_io(u)};
	return (struct sp_store_conf){
	    .io = {.ops = &g_shim_ops, .ctx = &b->shim},
	    .file = 0,
	    .size = b->size,
	    .block = b->block != 0 ? b->block : sp_io_uring_block(u, 0),
	    .seg_bytes = b->seg_bytes,
	    .max_logs = MAX_LOGS,
	    .index_cap = 256, /* the dataplane's sparse-index settings */
	    .index_every_recs = 64,
	    .index_every_bytes = 262144,
	    .scratch = b->wbufs + (size_t)b->nbufs * WBUF_BYTES,
	    .scratch_len = WBUF_BYTES,
	    .now_ms = wall_ms(),
	    .store_id = now_ns(),
	};
}

/* Open the file on io_uring as the dataplane does, format a store on it, attach n_logs logs. */
static int
store_open(struct bench *b, unsigned n_logs, struct sp_io_uring **u, struct sp_store **s)
{
	const char *paths[] = {b->path};
	struct sp_io_uring_cfg uc = {.paths = paths, .n_files = 1, .depth = STORE_DEPTH};
	struct sp_store_recovery rep;
	if (b->mem == MEM_HUGE_FIXED) {
		uc.arena = b->huge;
		uc.arena_len = b->huge_len;
	}
	int err = sp_io_uring_create(&uc, u);
	if (err != 0) {
		return err;
	}
	struct sp_store_conf sc = store_conf(b, *u);
	err = sp_store_create(&sc, s);
	if (err == 0) {
		err = sp_store_recover(*s, &rep);
	}
	if (err == 0 && !rep.formatted) {
		err = -EEXIST; /* the wipe did not reach the superblock */
	}
	for (unsigned i = 0; i < n_logs && err == 0; i++) {
		struct blog *g = &b->logs[i];
		g->counter = g->unsampled = 0;
		g->head = g->tail = 0;
		err = sp_store_log_attach(*s, TAG, i, b->wbufs + (size_t)i * WBUF_BYTES, WBUF_BYTES,
					  &g->l);
	}
	return err;
}

/* Append up to n records of dlen data bytes to log i: the count; the first error ends it. */
static unsigned
append_batch(struct bench *b, unsigned i, unsigned n, uint32_t dlen, uint64_t ms, int *rc)
{
	struct blog *g = &b->logs[i];
	unsigned k;
	*rc = 0;
	for (k = 0; k < n && *rc == 0; k++) {
		struct sp_seqno_fields f = {
		    .epoch = 1, .counter = g->counter + 1, .stream_tag = TAG, .shard_index = i};
		struct sp_seg_rec r = {
		    .seq = sp_seqno_pack(&f),
		    .arrival_ms = ms,
		    .key = b->data + g->counter % 64,
		    .key_len = (uint16_t)(KEY_MIN + g->counter % (KEY_MAX - KEY_MIN + 1)),
		    .data = b->data + KEY_MAX + g->counter % 64,
		    .data_len = dlen,
		};
		bool timed = (g->counter + 1) % SAMPLE_EVERY == 0;
		uint64_t t = timed ? now_ns() : 0;
		*rc = sp_slog_append(g->l, &r);
		if (*rc != 0) {
			return k;
		}
		g->counter++;
		if (timed && g->tail - g->head == PEND_CAP) {
			g->unsampled++;
		} else if (timed) {
			g->pend[g->tail++ % PEND_CAP] = (struct pend){.seq = r.seq, .t_ns = t};
		}
	}
	return k;
}

/* Time every sampled record that each log's durable watermark now covers. */
static void
collect_acks(struct bench *b, unsigned n_logs)
{
	uint64_t t = now_ns();
	for (unsigned i = 0; i < n_logs; i++) {
		struct blog *g = &b->logs[i];
		if (g->head == g->tail) {
			continue;
		}
		sp_u128 d = sp_slog_durable(g->l);
		while (g->head != g->tail && g->pend[g->head % PEND_CAP].seq <= d) {
			if (b->nlat < LAT_CAP) {
				b->lat[b->nlat++] = t - g->pend[g->head % PEND_CAP].t_ns;
			}
			g->head++;
		}
	}
}

/* Records log i may append now: BATCH, or fewer to keep to rate records/s (when > 0). */
static unsigned
due(const struct bench *b, unsigned i, double rate, uint64_t elapsed_ns)
{
	uint64_t allowed = (uint64_t)(rate * (double)elapsed_ns / 1e9);
	if (rate <= 0) {
		return BATCH;
	}
	return allowed > b->logs[i].counter
		   ? (unsigned)SP_MIN((uint64_t)BATCH, allowed - b->logs[i].counter)
		   : 0;
}

/*
 * Append for b->secs, polling between batches, then drain. Returns 0 or an errno. rate: records
 * per second per log, 0 for as fast as the store takes them. A round in which no log took a
 * record (buffers full behind writes in flight) counts as stalled.
 */
static int
drive(struct bench *b, struct sp_store *s, unsigned n_logs, uint32_t dlen, double rate,
      struct result *res)
{
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(b->secs * 1e9), t = t0, stalled = 0;
	int err = 0;
	while (t < end && !res->full && err == 0) {
		uint64_t ms = wall_ms();
		unsigned got = 0;
		for (unsigned i = 0; i < n_logs && err == 0; i++) {
			int rc;
			got += append_batch(b, i, due(b, i, rate, t - t0), dlen, ms, &rc);
			if (rc == -ENOSPC) {
				res->full = true;
			} else if (rc != 0 && rc != -EAGAIN) {
				err = rc;
			}
		}
		(void)sp_store_poll(s);
		collect_acks(b, n_logs);
		uint64_t t1 = now_ns();
		stalled += got == 0 ? t1 - t : 0;
		if (got == 0 && b->yield) {
			sched_yield();
		}
		t = t1;
	}
	res->stall = (double)stalled / (double)(t - t0);
	while (err == 0 && !sp_store_idle(s)) {
		(void)sp_store_poll(s);
		collect_acks(b, n_logs);
		if (now_ns() - t > DRAIN_NS) {
			err = -ETIMEDOUT;
		}
	}
	res->secs = (double)(now_ns() - t0) / 1e9;
	return err;
}

static int
run_case(struct bench *b, unsigned n_logs, uint32_t dlen, double rate, struct result *res)
{
	struct sp_io_uring *u = NULL;
	struct sp_store *s = NULL;
	struct sp_store_stats st;
	int err = fresh(b);
	memset(res, 0, sizeof(*res));
	b->nlat = 0;
	if (err == 0) {
		err = store_open(b, n_logs, &u, &s);
	}
	if (err == 0) {
		res->block = b->block != 0 ? b->block : sp_io_uring_block(u, 0);
		err = drive(b, s, n_logs, dlen, rate, res);
	}
	if (u != NULL) {
		struct sp_io_uring_stats us;
		sp_io_uring_stats(u, &us);
		res->submitted = us.submitted;
		res->fixed = us.fixed;
	}
	if (s != NULL) {
		sp_store_stats(s, &st);
		res->recs = st.appended;
		res->frame_bytes = st.appended_bytes;
		res->writes = st.writes;
		res->write_bytes = st.write_bytes;
	}
	if (b->shim.writes > 0) {
		res->write_us = (double)b->shim.write_ns / (double)b->shim.writes / 1000.0;
		res->inflight = (double)b->shim.write_ns / 1e9 / res->secs / n_logs;
	}
	/* the ring's teardown waits for writes in flight before the store's memory goes */
	sp_io_uring_destroy(u);
	sp_store_destroy(s);
	for (unsigned i = 0; i < n_logs; i++) {
		res->unsampled += b->logs[i].unsampled;
	}
	if (b->nlat > 0) {
		double sum = 0;
		qsort(b->lat, b->nlat, sizeof(*b->lat), cmp_u64);
		for (uint64_t i = 0; i < b->nlat; i++) {
			sum += (double)b->lat[i];
		}
		res->mean_us = sum / (double)b->nlat / 1000.0;
		res->p99_us = (double)b->lat[(uint64_t)(0.99 * (double)(b->nlat - 1))] / 1000.0;
	}
	return err;
}

/* fio's nearest equivalent: sequential O_DSYNC O_DIRECT writes of bs at queue depth qd. */
static int
run_fio(const struct bench *b, unsigned qd, uint32_t bs, struct fio_result *res)
{
	char out[512], cmd[2048];
	snprintf(out, sizeof(out), "%s.fio.json", b->path);
	int len =
	    snprintf(cmd, sizeof(cmd),
		     FIO " --name=storeeq --filename=%s --size=%" PRIu64 " --bs=%u"
			 " --rw=write --direct=1 --ioengine=io_uring --sync=dsync --iodepth=%u"
			 " --time_based --runtime=%ums --lat_percentiles=1"
			 " --percentile_list=99 --output-format=json --output=%s"
			 " >/dev/null 2>&1",
		     b->path, b->size, bs, qd, (unsigned)(b->secs * 1000), out);
	if (len < 0 || (size_t)len >= sizeof(cmd)) {
		return -ENAMETOOLONG;
	}
	if (system(cmd) != 0) {
		unlink(out);
		return -EIO;
	}
	json_error_t jerr;
	json_t *root = json_load_file(out, 0, &jerr);
	unlink(out);
	if (root == NULL) {
		return -EINVAL;
	}
	json_t *w = json_object_get(json_array_get(json_object_get(root, "jobs"), 0), "write");
	json_t *lat = json_object_get(w, "lat_ns");
	json_t *p99 = json_object_get(json_object_get(lat, "percentile"), "99.000000");
	int err = p99 == NULL ? -EINVAL : 0;
	if (err == 0) {
		*res = (struct fio_result){
		    .mbps = (double)json_integer_value(json_object_get(w, "bw_bytes")) / 1e6,
		    .iops = json_number_value(json_object_get(w, "iops")),
		    .mean_us = json_number_value(json_object_get(lat, "mean")) / 1000.0,
		    .p99_us = (double)json_integer_value(p99) / 1000.0};
	}
	json_decref(root);
	return err;
}

static void
print_case(const struct bench *b, unsigned n_logs, uint32_t dlen, const struct result *r)
{
	double wr = r->writes > 0 ? (double)r->writes : 1.0;
	printf("%-10s %4u %6u %10.0f %8.1f %9.0f %9.1f %5.0f%% %7.0f %5.0f%% %9.0f %9.0f",
	       g_mem_names[b->mem], n_logs, dlen, (double)r->recs / r->secs,
	       (double)r->frame_bytes / r->secs / 1e6, (double)r->writes / r->secs,
	       (double)r->recs / wr, 100.0 * r->stall, r->write_us, 100.0 * r->inflight, r->mean_us,
	       r->p99_us);
}

/*
 * One case: ours, then fio with our average write size at queue depth n_logs. fio runs once per
 * case, after its first --mem; *fio_bs is 0 until then, and then the size it ran with.
 */
static int
bench_case(struct bench *b, unsigned n_logs, uint32_t dlen, bool have_fio, struct fio_result *f,
	   uint32_t *fio_bs)
{
	struct result r, h;
	int err = run_case(b, n_logs, dlen, 0, &r);
	if (err == 0) {
		/* the same at a steady PACED_PCT % of that rate: latency below saturation */
		err = run_case(b, n_logs, dlen,
			       PACED_PCT / 100.0 * (double)r.recs / r.secs / n_logs, &h);
	}
	if (err != 0) {
		fprintf(stderr, "bench_store: %u logs, %u B: %s\n", n_logs, dlen, strerror(-err));
		return err;
	}
	print_case(b, n_logs, dlen, &r);
	printf(" | %8.0f %8.0f", h.mean_us, h.p99_us);
	uint64_t avg = r.writes > 0 ? r.write_bytes / r.writes : r.block;
	uint32_t bs = (uint32_t)((avg + r.block - 1) / r.block * r.block);
	bool fio_ok = *fio_bs != 0;
	if (have_fio && *fio_bs == 0) {
		*fio_bs = bs;
		fio_ok = !(b->sparse && fresh(b) != 0) && run_fio(b, n_logs, bs, f) == 0;
		f->mbps = fio_ok ? f->mbps : 0;
	}
	if (!have_fio) {
		printf(" |   (fio not installed: " FIO ")");
	} else if (!fio_ok || f->mbps <= 0) {
		printf(" | %7u (fio failed)", *fio_bs);
	} else {
		printf(" | %7u %8.1f %8.0f %8.0f %8.0f | %4.0f%%", *fio_bs, f->mbps, f->iops,
		       f->mean_us, f->p99_us,
		       100.0 * (double)r.frame_bytes / r.secs / 1e6 / f->mbps);
	}
	printf(" | %5" PRIu64 "/%" PRIu64, r.fixed, r.submitted);
	if (r.full) {
		printf("  (store full: stopped at %.2f s)", r.secs);
	}
	if (r.unsampled + h.unsampled > 0) {
		printf("  (%" PRIu64 " samples skipped)", r.unsampled + h.unsampled);
	}
	printf("\n");
	/* a closed pipe (| head) ends the run here, so the scratch file is still removed */
	return fflush(stdout) == 0 ? 0 : -EPIPE;
}

/* A case once per --mem, back to back, so that the modes see the same disk and load. */
static int
bench_cases(struct bench *b, unsigned n_logs, uint32_t dlen, bool have_fio)
{
	struct fio_result f = {0};
	uint32_t fio_bs = 0;
	int err = 0;
	if ((b->only_logs != 0 && n_logs != b->only_logs) ||
	    (b->only_data != 0 && dlen != b->only_data)) {
		return 0;
	}
	for (unsigned k = 0; k < b->n_order && err == 0; k++) {
		b->mem = b->order[k];
		if ((b->mems & (1u << b->mem)) == 0) {
			continue; /* no hugepages */
		}
		b->wbufs = b->mem == MEM_HEAP ? b->heap : b->huge;
		err = bench_case(b, n_logs, dlen, have_fio, &f, &fio_bs);
	}
	return err;
}

/* --- --recover: start-up time of a large store --------------------------------------------- */

struct rec_fill {
	unsigned logs;
	uint64_t recs, frame_bytes, segs_opened;
	double secs;
};

/* Segments a store of b->size bytes holds (sp_store_recover's arithmetic). */
static uint64_t
rec_nsegs(const struct bench *b)
{
	return (b->size - SP_STORE_SB_BYTES) / b->seg_bytes;
}

/*
 * Fill a fresh sparse store file (as the dataplane creates it) through the store: n_logs logs,
 * even ones with records of 100 data bytes, odd ones 1 KiB, until REC_FILL_PCT % of the
 * segments have been opened; then drain and close it, as a stopped dataplane leaves it.
 */
static int
rec_fill(struct bench *b, unsigned n_logs, struct rec_fill *f)
{
	struct sp_io_uring *u = NULL;
	struct sp_store *s = NULL;
	struct sp_store_stats st = {0};
	uint64_t want = (rec_nsegs(b) * REC_FILL_PCT + 99) / 100, t0 = now_ns(), t;
	int err = sparse_file(b);
	if (err == 0) {
		err = store_open(b, n_logs, &u, &s);
	}
	while (err == 0 && st.segs_opened < want) {
		uint64_t ms = wall_ms();
		for (unsigned i = 0; i < n_logs && err == 0; i++) {
			int rc;
			(void)append_batch(b, i, BATCH, (i & 1) != 0 ? 1024 : 100, ms, &rc);
			err = rc == -EAGAIN ? 0 : rc;
		}
		(void)sp_store_poll(s);
		for (unsigned i = 0; i < n_logs; i++) {
			/* no ack latency here: drop the samples */
			b->logs[i].head = b->logs[i].tail;
		}
		sp_store_stats(s, &st);
	}
	t = now_ns();
	while (s != NULL && (err == 0 || err == -ENOSPC) && !sp_store_idle(s)) {
		(void)sp_store_poll(s);
		if (now_ns() - t > DRAIN_NS) {
			err = -ETIMEDOUT;
		}
	}
	if (s != NULL) {
		sp_store_stats(s, &st);
	}
	*f = (struct rec_fill){.logs = n_logs,
			       .recs = st.appended,
			       .frame_bytes = st.appended_bytes,
			       .segs_opened = st.segs_opened,
			       .secs = (double)(now_ns() - t0) / 1e9};
	sp_io_uring_destroy(u);
	sp_store_destroy(s);
	return err == -ENOSPC ? 0 : err; /* full before the mark: the store is as full as it gets */
}

/* Write back and drop the page cache: recovery then starts cold (O_DIRECT bypasses it anyway). */
static bool
rec_drop_caches(void)
{
	sync();
	FILE *f = fopen("/proc/sys/vm/drop_caches", "w");
	if (f == NULL) {
		return false;
	}
	bool ok = fputs("3\n", f) >= 0;
	return fclose(f) == 0 && ok;
}

/*
 * Open the ring, create the store and recover it, as the dataplane starts; time it and print a
 * row: what recovery found, its time, the time it waited for reads (one at a time) and the rate.
 */
static int
rec_time(struct bench *b, const char *what, bool cold)
{
	const char *paths[] = {b->path};
	struct sp_io_uring_cfg uc = {.paths = paths, .n_files = 1, .depth = STORE_DEPTH};
	struct sp_store_recovery rep = {0};
	struct sp_io_uring *u = NULL;
	struct sp_store *s = NULL;
	bool dropped = cold && rec_drop_caches();
	uint64_t t0 = now_ns();
	int err = sp_io_uring_create(&uc, &u);
	if (err == 0) {
		struct sp_store_conf sc = store_conf(b, u);
		err = sp_store_create(&sc, &s);
	}
	if (err == 0) {
		err = sp_store_recover(s, &rep);
	}
	double ms = (double)(now_ns() - t0) / 1e6;
	sp_io_uring_destroy(u);
	sp_store_destroy(s);
	if (err != 0) {
		fprintf(stderr, "bench_store: recovery (%s): %s\n", what, strerror(-err));
		return err;
	}
	double sec = ms / 1000.0;
	printf("%-12s %6u %6u %5u %11" PRIu64 " %8.2f %9.1f %9.1f %7" PRIu64
	       " %8.0f %10.0f %7.0f%s\n",
	       what, rep.segs, rep.segs_used, rep.logs, rep.records,
	       (double)rep.bytes_scanned / (1u << 30), ms, (double)b->shim.rec_ns / 1e6,
	       b->shim.rec_ios, (double)rep.bytes_scanned / 1e6 / sec, (double)rep.records / sec,
	       ms * 1000.0 / rep.segs,
	       cold ? (dropped ? " (page cache dropped)" : " (page cache NOT dropped)") : "");
	if (rep.formatted || rep.torn + rep.corrupt + rep.bad_headers + rep.overlaps > 0) {
		printf("  (formatted %d, torn %u, corrupt %u, bad headers %u, overlaps %u)\n",
		       rep.formatted, rep.torn, rep.corrupt, rep.bad_headers, rep.overlaps);
	}
	return fflush(stdout) == 0 ? 0 : -EPIPE;
}

/*
 * The --recover run: fill, then recover cold and warm; then the same file with the superblock
 * and every header zeroed, formatted once, recovered cold: only the per-segment header reads.
 */
static int
rec_run(struct bench *b)
{
	uint64_t nsegs = rec_nsegs(b);
	unsigned n_logs = (unsigned)SP_MIN((uint64_t)b->nbufs, nsegs / REC_SEGS_LOG);
	struct rec_fill f;
	double load[1] = {0};

	(void)getloadavg(load, 1);
	printf("store recovery on io_uring: %s, file %" PRIu64 " MiB (sparse), %" PRIu64
	       " segments of %" PRIu64
	       " MiB, block %u B, read window %u KiB, %u logs (even: 100 B records, odd: 1 KiB)"
	       ", filled to %u %% of the segments, load %.2f\n",
	       b->path, b->size >> 20, nsegs, b->seg_bytes >> 20, b->block,
	       (unsigned)(WBUF_BYTES >> 10), n_logs, REC_FILL_PCT, load[0]);
	int err = n_logs > 0 ? rec_fill(b, n_logs, &f) : -EINVAL;
	if (err != 0) {
		fprintf(stderr, "bench_store: fill: %s\n", strerror(-err));
		return err;
	}
	printf("fill: %" PRIu64 " records, %.2f GiB of frames, %" PRIu64
	       " segments opened, %.1f s (%.0f MB/s)\n",
	       f.recs, (double)f.frame_bytes / (1u << 30), f.segs_opened, f.secs,
	       (double)f.frame_bytes / 1e6 / f.secs);
	printf("%-12s %6s %6s %5s %11s %8s %9s %9s %7s %8s %10s %7s\n", "recovery", "segs", "used",
	       "logs", "records", "GiB read", "ms", "read ms", "reads", "MB/s", "rec/s", "us/seg");
	err = rec_time(b, "full, cold", true);
	if (err == 0) {
		err = rec_time(b, "full, warm", false);
	}
	if (err == 0) {
		err = wipe(b);
	}
	if (err == 0) {
		err = rec_time(b, "format", false);
	}
	if (err == 0) {
		err = rec_time(b, "empty, cold", true);
	}
	printf("(ms: ring open + sp_store_create + sp_store_recover; read ms: waiting for its "
	       "reads, issued one at a time; the rest is CPU: CRC32C, frame checks, indexes; "
	       "MB/s of bytes read and verified)\n");
	return err;
}

/*
 * --mem huge, huge-fixed: the write buffers and scratch in one region of 2 MiB pages, faulted in
 * now. Without free hugepages (HugePages_Free in /proc/meminfo) those modes are dropped.
 */
static void
huge_init(struct bench *b, size_t wb)
{
	size_t len = (wb + HUGE_BYTES - 1) / HUGE_BYTES * HUGE_BYTES;
	void *p =
	    mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED) {
		printf("--mem huge, huge-fixed skipped: mmap of %zu MiB in 2 MiB hugepages: %s "
		       "(see HugePages_Free in /proc/meminfo)\n",
		       len >> 20, strerror(errno));
		b->mems &= ~((1u << MEM_HUGE) | (1u << MEM_HUGE_FIXED));
		return;
	}
	b->huge = p;
	b->huge_len = len;
}

static int
bench_init(struct bench *b)
{
	b->nbufs = b->recover_gib != 0 ? MAX_LOGS : WRITE_LOGS;
	size_t wb = (size_t)(b->nbufs + 1) * WBUF_BYTES;
	b->heap = aligned_alloc(WBUF_ALIGN, wb);
	b->data = malloc(KEY_MAX + DATA_MAX + 128);
	b->lat = calloc(LAT_CAP, sizeof(*b->lat));
	b->logs = calloc(MAX_LOGS, sizeof(*b->logs));
	if (b->heap == NULL || b->data == NULL || b->lat == NULL || b->logs == NULL) {
		return -ENOMEM;
	}
	memset(b->heap, 0, wb);
	b->wbufs = b->heap;
	if (b->recover_gib == 0 && (b->mems & ~(1u << MEM_HEAP)) != 0) {
		huge_init(b, wb);
	}
	uint32_t x = 2463534242u; /* xorshift: record bytes that do not compress or repeat */
	for (size_t i = 0; i < KEY_MAX + DATA_MAX + 128; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		b->data[i] = (uint8_t)x;
	}
	return 0;
}

static void
bench_free(struct bench *b)
{
	free(b->heap);
	if (b->huge != NULL) {
		munmap(b->huge, b->huge_len);
	}
	free(b->data);
	free(b->lat);
	free(b->logs);
}

/* --recover: the dataplane's geometry on a GIB GiB file. */
static int
rec_args(struct bench *b)
{
	if (b->recover_gib > REC_GIB_MAX) {
		fprintf(stderr, "bench_store: GIB must be 1..%u\n", REC_GIB_MAX);
		return -EINVAL;
	}
	b->size = (uint64_t)b->recover_gib << 30;
	b->seg_bytes = SEG_BYTES;
	b->block = REC_BLOCK;
	return 0;
}

/* --mem LIST: comma-separated names of enum mem, each a bit of b->mems; false if one is unknown */
static bool
parse_mems(struct bench *b, const char *list)
{
	b->mems = 0;
	b->n_order = 0;
	for (const char *p = list; *p != '\0';) {
		size_t n = strcspn(p, ",");
		unsigned m = 0;
		while (m < MEM_N &&
		       !(strlen(g_mem_names[m]) == n && strncmp(p, g_mem_names[m], n) == 0)) {
			m++;
		}
		if (m == MEM_N) {
			return false;
		}
		if ((b->mems & (1u << m)) == 0) {
			b->order[b->n_order++] = (enum mem)m;
		}
		b->mems |= 1u << m;
		p += n + (p[n] == ',');
	}
	return b->mems != 0;
}

/*
 * [--quick] [--sparse] [--block B] [--yield] [--mem LIST] [--logs N] [--data B] [SECONDS [DIR]]
 * | --recover [GIB] [DIR]
 */
static int
parse_args(int argc, char **argv, struct bench *b, const char **dir)
{
	bool quick = false, secs_given = false;
	const char *posv[2] = {NULL, NULL};
	int pos = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--recover") == 0) {
			b->recover_gib = REC_GIB;
			if (i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9') {
				b->recover_gib = (uint32_t)strtoul(argv[++i], NULL, 10);
			}
			pos = b->recover_gib == 0 ? 3 : pos; /* 0 GiB: a usage error */
		} else if (strcmp(argv[i], "--quick") == 0) {
			quick = true;
		} else if (strcmp(argv[i], "--sparse") == 0) {
			b->sparse = true;
		} else if (strcmp(argv[i], "--yield") == 0) {
			b->yield = true;
		} else if (strcmp(argv[i], "--block") == 0 && i + 1 < argc) {
			b->block = (uint32_t)strtoul(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--mem") == 0 && i + 1 < argc) {
			pos = parse_mems(b, argv[++i]) ? pos : 3;
		} else if (strcmp(argv[i], "--logs") == 0 && i + 1 < argc) {
			b->only_logs = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
			b->only_data = (uint32_t)strtoul(argv[++i], NULL, 10);
		} else if (argv[i][0] != '-' && pos < 2) {
			posv[pos++] = argv[i];
		} else {
			pos = 3;
		}
	}
	if (pos > (b->recover_gib != 0 ? 1 : 2)) {
		fprintf(stderr, "usage: bench_store [--quick] [--sparse] [--block B] [--yield] "
				"[--mem heap|huge|huge-fixed[,...]] [--logs N] [--data B] "
				"[SECONDS [DIR]]\n       bench_store --recover [GIB] [DIR]\n");
		return -EINVAL;
	}
	if (b->recover_gib != 0) {
		*dir = posv[0] != NULL ? posv[0] : *dir;
		return rec_args(b);
	}
	if (posv[0] != NULL) {
		b->secs = strtod(posv[0], NULL);
		secs_given = true;
	}
	*dir = posv[1] != NULL ? posv[1] : *dir;
	if (quick) {
		b->size = QUICK_FILE;
		b->seg_bytes = QUICK_SEG;
		b->secs = secs_given ? b->secs : QUICK_SECS;
	}
	if (b->block != 0 && (b->block < 512 || b->block > 65536 || (b->block & (b->block - 1)))) {
		fprintf(stderr, "bench_store: B must be a power of two, 512..65536\n");
		return -EINVAL;
	}
	if (!(b->secs >= 0.05 && b->secs <= 600)) {
		fprintf(stderr, "bench_store: SECONDS must be 0.05..600\n");
		return -EINVAL;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const unsigned logs[] = {1, 4, 16};
	static const uint32_t sizes[] = {100, 1024, DATA_MAX};
	struct bench b = {.size = FILE_BYTES,
			  .seg_bytes = SEG_BYTES,
			  .secs = 2.0,
			  .mems = 1u << MEM_HEAP,
			  .n_order = 1};
	const char *dir = "/var/tmp";
	if (parse_args(argc, argv, &b, &dir) != 0) {
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	char path[512];
	snprintf(path, sizeof(path), "%s/spate-bench-store.%d", dir, (int)getpid());
	b.path = path;
	int err = bench_init(&b);
	if (err == 0 && b.recover_gib != 0) {
		err = rec_run(&b);
		unlink(path);
		bench_free(&b);
		return err == 0 ? 0 : 1;
	}
	if (err == 0) {
		err = b.sparse ? sparse_file(&b) : bench_file_layout(path, b.size);
	}
	if (err != 0) {
		fprintf(stderr, "bench_store: set up %s: %s\n", path, strerror(-err));
		unlink(path);
		bench_free(&b);
		return 1;
	}
	bool have_fio = access(FIO, X_OK) == 0;
	double load[1] = {0};
	(void)getloadavg(load, 1);
	printf("store write path on io_uring: %s, file %" PRIu64 " MiB (%s), segments %" PRIu64
	       " MiB, %.2f s per case, %u records per log per poll, every %uth record timed, "
	       "load %.2f\n",
	       dir, b.size >> 20, b.sparse ? "sparse, new per run" : "laid out", b.seg_bytes >> 20,
	       b.secs, BATCH, SAMPLE_EVERY, load[0]);
	if (b.block != 0) {
		printf("store block %u B (--block)\n", b.block);
	}
	if (b.yield) {
		printf("sched_yield() after a round that took no record (--yield)\n");
	}
	printf("fio: sequential O_DIRECT O_DSYNC writes of the store's mean write size (bs, "
	       "rounded to the block) at queue depth = logs, io_uring, same file\n");
	printf(
	    "%-10s %4s %6s %10s %8s %9s %9s %6s %7s %6s %9s %9s | %8s %8s | %7s %8s %8s %8s %8s | "
	    "%5s | %s\n",
	    "mem", "logs", "data", "rec/s", "MB/s", "writes/s", "rec/write", "stall", "w time",
	    "in fl", "ack mean", "ack p99", "50% mean", "50% p99", "fio bs", "fio MB/s", "fio w/s",
	    "lat mean", "lat p99", "ratio", "fixed/submitted");
	for (unsigned li = 0; li < SP_ARRAY_SIZE(logs) && err == 0; li++) {
		for (unsigned si = 0; si < SP_ARRAY_SIZE(sizes) && err == 0; si++) {
			err = bench_cases(&b, logs[li], sizes[si], have_fio);
		}
	}
	printf("(times in us; MB/s of frames: 38 B header + key + data; 50%%: ack latency when "
	       "offered half the saturated rate; ratio: our MB/s / fio's)\n");
	unlink(path);
	bench_free(&b);
	return err == 0 ? 0 : 1;
}
