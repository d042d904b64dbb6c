/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A worker's storage (api_store.h). The worker owns one store file (<data_dir>/store-<w>.spate)
 * on its own io_uring; every shard it owns gets a log in it on the first append. Records reach
 * the log from the ring, not from the request: put_serve_run appends to the ring (which numbers
 * them) and lists the shard here; each poll feeds listed shards' new ring records into their
 * logs (the write buffer copy is the only one), lets the store submit one write per log and
 * collect completions, then raises each ring's visible gate to its log's durable watermark and
 * releases the PutRecord(s) messages whose records are all durable.
 *
 * The poll loop never waits on the disk: submissions and completions are polled (nvme/io.h).
 * Opening and recovering the store happen at boot, on the main lcore, before the worker runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_log.h>
#include <rte_ring.h>

#include <openssl/crypto.h>

#include <spate/assert.h>
#include <spate/err.h>

#include "../shard/shard_ring.h"
#include "api_internal.h"
#include "api_store.h"
#include "api_worker.h"
#include "io_uring.h"
#include "store.h"

#define RTE_LOGTYPE_SPATE RTE_LOGTYPE_USER1

#define STORE_DEPTH       256u    /* io_uring SQ entries per worker */
#define STORE_INDEX_CAP   256u    /* sparse-index entries per segment */
#define STORE_INDEX_RECS  64u     /* an entry at least every 64 records ... */
#define STORE_INDEX_BYTES 262144u /* ... or 256 KiB */
#define FEED_VIEWS        64u     /* ring records read per step */
#define STORE_BLOCK_MIN   4096u   /* the store's block, whatever the file's alignment */
#define FEED_BUDGET       4096u   /* records fed per log per poll */
#define FEED_NONE         UINT32_MAX

uint64_t
sp_api_store_wbuf_bytes(void)
{
	return (SP_STORE_WBUF_MIN + SP_API_WBUF_ALIGN - 1) / SP_API_WBUF_ALIGN * SP_API_WBUF_ALIGN;
}

uint64_t
sp_api_store_wbuf_off(uint64_t ring_bytes)
{
	return (ring_bytes + SP_API_WBUF_ALIGN - 1) / SP_API_WBUF_ALIGN * SP_API_WBUF_ALIGN;
}

uint8_t *
sp_api_store_wbuf(void *ring_mem, uint64_t ring_bytes)
{
	return (uint8_t *)ring_mem + sp_api_store_wbuf_off(ring_bytes);
}

/* ---- boot ---- */

static int
store_mkdirs(const char *dir)
{
	char p[SP_PATH_MAX_BYTES];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(p)) {
		return -ENAMETOOLONG;
	}
	memcpy(p, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (p[i] == '/' || p[i] == '\0') {
			char c = p[i];

			p[i] = '\0';
			if (mkdir(p, 0700) != 0 && errno != EEXIST) {
				return -errno;
			}
			p[i] = c;
		}
	}
	return 0;
}

/*
 * Create the file if missing and make it at least bytes long (sparse), then make its name and
 * size durable (fsync of the file and of its directory): records acknowledged later through
 * DSYNC writes must not be lost with a directory entry a power cut took back. Boot only.
 */
static int
store_file(const char *dir, const char *path, uint64_t bytes)
{
	struct stat sb;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	int dfd, rc = 0;

	if (fd < 0) {
		return -errno;
	}
	if (fstat(fd, &sb) != 0) {
		rc = -errno;
	} else if ((uint64_t)sb.st_size < bytes && ftruncate(fd, (off_t)bytes) != 0) {
		rc = -errno;
	} else if (fsync(fd) != 0) {
		rc = -errno;
	}
	close(fd);
	dfd = rc == 0 ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (rc == 0 && (dfd < 0 || fsync(dfd) != 0)) {
		rc = -errno;
	}
	if (dfd >= 0) {
		close(dfd);
	}
	return rc;
}

/* Worker w's device from the comma-separated list: it must exist and be a block device. */
static int
store_device(const char *list, unsigned w, char *path, size_t cap)
{
	const char *p = list;
	struct stat sb;
	size_t n;

	for (unsigned i = 0; i < w && p != NULL; i++) {
		p = strchr(p, ',');
		p = p != NULL ? p + 1 : NULL;
	}
	if (p == NULL || *p == '\0' || *p == ',') {
		RTE_LOG(ERR, SPATE, "store_devices: no device for worker %u\n", w);
		return -EINVAL;
	}
	n = strcspn(p, ",");
	if (n >= cap) {
		return -ENAMETOOLONG;
	}
	memcpy(path, p, n);
	path[n] = '\0';
	if (stat(path, &sb) != 0) {
		return -errno;
	}
	if (!S_ISBLK(sb.st_mode)) {
		RTE_LOG(ERR, SPATE, "store_devices: %s is not a block device\n", path);
		return -ENOTBLK;
	}
	return 0;
}

int
sp_api_store_open(struct sp_api *api)
{
	const struct sp_api_conf *conf = &api->g->conf;
	char path[SP_PATH_MAX_BYTES];
	const char *paths[1] = {path};
	struct sp_store_recovery rep;
	struct timespec t0, t1, rt;
	void *scratch = NULL;
	int rc;

	if (conf->data_dir == NULL || conf->data_dir[0] == '\0') {
		return 0;
	}
	rc = sp_api_seal_open(api);
	if (rc != 0) {
		return rc;
	}
	if (conf->store_devices != NULL && conf->store_devices[0] != '\0') {
		rc = store_device(conf->store_devices, api->worker, path, sizeof(path));
	} else if (snprintf(path, sizeof(path), "%s/store-%u.spate", conf->data_dir, api->worker) >=
		   (int)sizeof(path)) {
		rc = -ENAMETOOLONG;
	} else {
		rc = store_mkdirs(conf->data_dir);
		if (rc == 0) {
			rc = store_file(conf->data_dir, path, conf->store_bytes);
		}
	}
	if (rc != 0) {
		RTE_LOG(ERR, SPATE, "store %s: %s\n", path, sp_strerror(rc));
		return rc;
	}
	struct sp_io_uring_cfg uc = {.paths = paths, .n_files = 1, .depth = STORE_DEPTH};

	rc = sp_io_uring_create(&uc, &api->iou);
	if (rc != 0) {
		RTE_LOG(ERR, SPATE, "store %s: io_uring: %s\n", path, sp_strerror(rc));
		return rc;
	}
	api->feeds = calloc(SP_API_RING_REG_MAX, sizeof(*api->feeds));
	api->held_cap = api->g->nb_workers * conf->max_conns + 1;
	api->held = calloc(api->held_cap, sizeof(*api->held));
	scratch = aligned_alloc(SP_API_WBUF_ALIGN, sp_api_store_wbuf_bytes());
	if (api->feeds == NULL || api->held == NULL || scratch == NULL) {
		free(scratch);
		return -ENOMEM;
	}
	clock_gettime(CLOCK_REALTIME, &rt);
	struct sp_store_conf sc = {
	    .io = sp_io_uring_io(api->iou),
	    .file = 0,
	    .size = (uint64_t)sp_io_uring_size(api->iou, 0),
	    /* at least 4 KiB: ext4 serialises direct writes smaller than its block into
	     * unwritten space (bench_store --sparse: 4-10x slower with 512 B) */
	    .block = SP_MAX(sp_io_uring_block(api->iou, 0), STORE_BLOCK_MIN),
	    .seg_bytes = conf->seg_bytes,
	    .max_logs = SP_API_RING_REG_MAX,
	    .index_cap = STORE_INDEX_CAP,
	    .index_every_recs = STORE_INDEX_RECS,
	    .index_every_bytes = STORE_INDEX_BYTES,
	    .scratch = scratch,
	    .scratch_len = sp_api_store_wbuf_bytes(),
	    .now_ms = (uint64_t)rt.tv_sec * 1000u + (uint64_t)rt.tv_nsec / 1000000u,
	    .store_id = api->rng ^ (uint64_t)rt.tv_nsec,
	};

	api->feed_head = FEED_NONE;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = sp_store_create(&sc, &api->store);
	if (rc == 0) {
		rc = sp_store_recover(api->store, &rep);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	free(scratch);
	if (rc != 0) {
		RTE_LOG(ERR, SPATE, "store %s: %s\n", path, sp_strerror(rc));
		return rc;
	}
	RTE_LOG(INFO, SPATE,
		"store %s: %s, %u segments (%u used), %u shard logs, %llu records, %llu MiB "
		"verified in %lld ms; cut %u torn and %u corrupt tails (%llu bytes), %u bad "
		"headers, %u overlaps\n",
		path, rep.formatted ? "formatted" : "recovered", rep.segs, rep.segs_used, rep.logs,
		(unsigned long long)rep.records, (unsigned long long)(rep.bytes_scanned >> 20),
		(long long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000),
		rep.torn, rep.corrupt, (unsigned long long)rep.cut_bytes, rep.bad_headers,
		rep.overlaps);
	if (rep.torn + rep.corrupt > 0) {
		RTE_LOG(WARNING, SPATE,
			"store %s: %u tail(s) cut: records after the cut were never acknowledged "
			"(torn) or were damaged (corrupt)\n",
			path, rep.torn + rep.corrupt);
	}
	api->store_rep = rep;
	return 0;
}

void
sp_api_store_close(struct sp_api *api)
{
	/* the ring's teardown waits for requests in flight before the store's memory goes */
	sp_io_uring_destroy(api->iou);
	api->iou = NULL;
	sp_store_destroy(api->store);
	api->store = NULL;
	sp_api_seal_close(api);
	if (api->feeds != NULL) { /* they hold shard keys */
		OPENSSL_cleanse(api->feeds, (size_t)SP_API_RING_REG_MAX * sizeof(*api->feeds));
	}
	free(api->feeds);
	free(api->held);
}

/* ---- owner side ---- */

/* Take slot k off the feed list (rare: its log was retired and the slot given anew). */
static void
store_feed_unlink(struct sp_api *api, uint32_t k)
{
	for (uint32_t *link = &api->feed_head; *link != FEED_NONE; link = &api->feeds[*link].next) {
		if (*link == k) {
			*link = api->feeds[k].next;
			api->feeds[k].listed = false;
			return;
		}
	}
	SP_VERIFY(0); /* listed means on the list */
}

struct sp_slog *
sp_api_store_log(struct sp_api *api, const struct sp_api_stream *st, const struct sp_api_shard *sh,
		 uint64_t need, int *err)
{
	struct sp_slog *l;
	struct sp_api_feed *f;

	*err = 0;
	if (api->store == NULL) {
		return NULL;
	}
	l = sp_store_log_find(api->store, st->tag, sh->index);
	if (l == NULL || api->feeds[sp_slog_slot(l)].ring != sh->ring) {
		int rc =
		    sp_store_log_attach(api->store, st->tag, sh->index,
					sp_api_store_wbuf(sh->ring, api->g->conf.shard_ring_bytes),
					sp_api_store_wbuf_bytes(), &l);

		if (rc != 0) {
			api->cnt.store_attach_failed++;
			*err = rc;
			return NULL;
		}
		f = &api->feeds[sp_slog_slot(l)];
		if (f->listed) {
			store_feed_unlink(api, sp_slog_slot(l)); /* a retired log's slot, reused */
		}
		/* at the tip: nothing fed yet, nothing pending (a closed shard that never took a
		 * record drains at once) */
		/* the log starts at the ring's next number: what the ring holds already is a
		 * moved shard's earlier part, in its old owner's store */
		*f = (struct sp_api_feed){.ring = sh->ring,
					  .log = l,
					  .fed = sp_shard_ring_next_seq(sh->ring),
					  .next = FEED_NONE,
					  .at_tip = true};
		sp_api_seal_feed_init(f, st, sh->index);
	}
	/* what the ring holds for it but the log has not taken yet must fit as well */
	*err = sp_slog_state(l, need + api->feeds[sp_slog_slot(l)].pending,
			     sp_api_seal_fp(api, st));
	return l;
}

uint32_t
sp_api_store_fit(struct sp_api *api, const struct sp_slog *log, const struct sp_api_xrec *recs,
		 uint32_t n, const uint8_t *key_fp)
{
	uint64_t room, used;
	uint32_t k = 0;

	if (log == NULL) {
		return 0;
	}
	room = sp_slog_room(log, key_fp);
	used = api->feeds[sp_slog_slot(log)].pending;
	for (; k < n; k++) {
		used += sp_seg_frame_bytes_as((uint16_t)recs[k].key_len, recs[k].data_len,
					      key_fp != NULL);
		if (used > room) {
			break;
		}
	}
	return k;
}

void
sp_api_store_feed(struct sp_api *api, struct sp_slog *log, const struct sp_api_shard *sh,
		  uint64_t bytes)
{
	struct sp_api_feed *f = &api->feeds[sp_slog_slot(log)];

	SP_VERIFY(f->log == log && f->ring == sh->ring);
	f->pending += bytes;
	if (!f->listed) {
		f->listed = true;
		f->next = api->feed_head;
		api->feed_head = sp_slog_slot(log);
	}
}

void
sp_api_store_hold(struct sp_api *api, struct sp_api_xput *x)
{
	SP_VERIFY(api->nheld < api->held_cap && !x->held);
	x->held = true;
	api->held[api->nheld++] = x;
}

/* Feed f's new ring records to its log; true when it reached the ring's tip. */
static bool
store_feed_one(struct sp_api *api, struct sp_api_feed *f)
{
	struct sp_shard_rec_view v[FEED_VIEWS];
	uint32_t budget = FEED_BUDGET;

	while (budget > 0) {
		struct sp_shard_read_res res;
		struct sp_shard_pos pos = {.seq = f->fed};
		int n = sp_shard_ring_read_ungated(f->ring, &pos, FEED_VIEWS, UINT64_MAX, v, &res);

		if (n <= 0) {
			return n == 0;
		}
		for (int i = 0; i < n; i++) {
			struct sp_seg_rec r = {.seq = v[i].seq,
					       .arrival_ms = v[i].arrival_ms,
					       .key = v[i].key,
					       .key_len = v[i].key_len,
					       .data = v[i].data,
					       .data_len = v[i].data_len};
			int rc = sp_api_seal_for(api, f, v[i].flags, &r.sealer);

			if (rc == 0) {
				rc = sp_slog_append(f->log, &r);
			}

			if (rc != 0) {
				/* -EAGAIN: a write must complete first; anything else is retried
				 * too (the store refuses new records meanwhile) */
				api->cnt.store_feed_waits += rc == -EAGAIN;
				api->cnt.store_feed_errors += rc != -EAGAIN;
				return false;
			}
			f->fed = v[i].seq + 1;
			f->fed_last = v[i].seq;
			f->pending -=
			    SP_MIN(f->pending,
				   sp_seg_frame_bytes_as(r.key_len, r.data_len, r.sealer != NULL));
			api->cnt.sealed_records += r.sealer != NULL;
		}
		budget -= (uint32_t)SP_MIN((uint32_t)n, budget);
		if (res.at_tip) {
			return true;
		}
	}
	return false;
}

/* Every record x appended is durable (its logs' watermarks passed them). */
static bool
store_put_durable(struct sp_api *api, const struct sp_api_xput *x)
{
	uint32_t i = 0;

	while (i < x->n) {
		uint32_t shard = x->recs[i].shard_index, j = i;
		sp_u128 last = 0;

		for (; j < x->n && x->recs[j].shard_index == shard; j++) {
			if (x->recs[j].status == SP_API_XREC_OK) {
				last = x->recs[j].seq;
			}
		}
		if (last != 0) {
			const struct sp_slog *l = sp_store_log_find(api->store, x->tag, shard);

			/* no log: its stream was deleted meanwhile, nothing left to wait for */
			if (l != NULL && sp_slog_durable(l) < last) {
				return false;
			}
		}
		i = j;
	}
	return true;
}

/*
 * The shard f feeds is still in the snapshot in force, with the ring f holds: a ring is freed
 * one grace period after the snapshot that dropped it, so f must not touch it after that.
 */
static bool
store_feed_valid(const struct sp_api_cat *cat, const struct sp_api_feed *f)
{
	struct sp_slog_info info;
	const struct sp_api_stream *st;
	const struct sp_api_shard *sh;

	if (cat == NULL || f->ring == NULL) {
		return false;
	}
	sp_slog_info(f->log, &info);
	st = sp_api_cat_stream_by_tag(cat, info.stream_tag);
	sh = st != NULL ? sp_api_stream_shard(st, info.shard_index) : NULL;
	return sh != NULL && sh->ring == f->ring;
}

/*
 * One log per poll, round robin: a log whose stream or shard is gone is dropped (its segments
 * freed); otherwise segments (and ring records) older than the stream's retention period go.
 */
static unsigned
store_sweep(struct sp_api *api, const struct sp_api_cat *cat)
{
	uint32_t n = sp_store_nlogs(api->store);
	struct sp_slog *l;
	struct sp_api_feed *f;
	const struct sp_api_stream *st;
	struct sp_slog_info info;
	int64_t now, cutoff;
	unsigned work = 0;

	if (cat == NULL || n == 0) {
		return 0;
	}
	api->log_sweep = api->log_sweep + 1 < n ? api->log_sweep + 1 : 0;
	l = sp_store_log_at(api->store, api->log_sweep);
	if (sp_slog_dead(l)) {
		return 0;
	}
	f = &api->feeds[api->log_sweep];
	sp_slog_info(l, &info);
	st = sp_api_cat_stream_by_tag(cat, info.stream_tag);
	/* a stream gone, or a closed shard past its retention (control removed it) */
	if (st == NULL || !sp_api_cat_tag_has_shard(cat, info.stream_tag, info.shard_index)) {
		if (sp_slog_drop(l) == 0) { /* -EBUSY: a write in flight, next round */
			api->cnt.store_logs_dropped++;
			if (f->listed) {
				f->ring = NULL; /* the feed list lets go of it at its next pass */
			} else {
				memset(f, 0, sizeof(*f));
			}
			work++;
		}
		return work;
	}
	/* the test clock (clock_offset_set) moves "now" for retention as for iterators */
	now = (int64_t)sp_api_now_ms(api) + cat->iter.clock_offset_ms;
	cutoff = now - (int64_t)st->retention_ms;
	if (cutoff <= 0) {
		return 0;
	}
	work += sp_slog_expire(l, (uint64_t)cutoff);
	if (f->ring != NULL && store_feed_valid(cat, f)) {
		struct sp_shard_pos pos;
		sp_u128 d = sp_slog_durable(l);

		/* the ring's copies of expired records go too (only what the store has) */
		if (sp_shard_ring_seek_time(f->ring, (uint64_t)cutoff, &pos) == 0 && d != 0) {
			int64_t k = sp_shard_ring_trim(f->ring, SP_MIN(pos.seq, d + 1));

			api->cnt.ring_expired += k > 0 ? (uint64_t)k : 0;
			work += k > 0;
		}
	}
	return work;
}

unsigned
sp_api_store_poll(struct sp_api *api)
{
	const struct sp_api_cat *cat;
	unsigned work = 0;
	uint32_t *link;

	if (api->store == NULL) {
		return 0;
	}
	cat = sp_api_cat_current(api->g);
	link = &api->feed_head;
	while (*link != FEED_NONE) {
		struct sp_api_feed *f = &api->feeds[*link];

		if (!store_feed_valid(cat, f)) {
			/* its stream was deleted: stop feeding, let go of the ring */
			*link = f->next;
			memset(f, 0, sizeof(*f));
			continue;
		}
		f->at_tip = store_feed_one(api, f);
		link = &f->next;
	}
	work += store_sweep(api, cat);
	work += sp_store_poll(api->store);
	/* publish what is durable; drop shards with nothing left to do */
	link = &api->feed_head;
	while (*link != FEED_NONE) {
		struct sp_api_feed *f = &api->feeds[*link];
		sp_u128 d = sp_slog_durable(f->log);

		if (d > f->shown) {
			sp_shard_ring_set_visible(f->ring, d);
			sp_shard_ring_stamp(f->ring, sp_api_cycles(api));
			f->shown = d;
			work++;
		}
		if (f->at_tip && f->shown >= f->fed_last) {
			f->listed = false;
			*link = f->next;
			continue;
		}
		link = &f->next;
	}
	for (uint32_t i = 0; i < api->nheld;) {
		struct sp_api_xput *x = api->held[i];

		if (!store_put_durable(api, x)) {
			i++;
			continue;
		}
		api->held[i] = api->held[--api->nheld];
		x->held = false;
		sp_api_put_release(api, x);
		work++;
	}
	return work;
}

json_t *
sp_api_store_status_json(const struct sp_api_global *g)
{
	struct sp_store_stats t = {0};
	struct sp_api_counters c = {0};
	struct sp_store_recovery r = {0};
	json_t *o;

	if (g->data_dir[0] == '\0') {
		return json_null();
	}
	/* plain per-worker counters read from the main lcore: a snapshot, not a transaction */
	for (unsigned w = 0; w < g->nb_workers; w++) {
		const struct sp_api *api = g->workers[w];
		struct sp_store_stats st;

		if (api == NULL || api->store == NULL) {
			continue;
		}
		sp_store_stats(api->store, &st);
		t.appended += st.appended;
		t.appended_bytes += st.appended_bytes;
		t.writes += st.writes;
		t.write_bytes += st.write_bytes;
		t.write_errors += st.write_errors;
		t.segs_opened += st.segs_opened;
		t.segs_freed += st.segs_freed;
		t.free_errors += st.free_errors;
		t.no_space += st.no_space;
		t.busy += st.busy;
		t.reads += st.reads;
		t.read_bytes += st.read_bytes;
		c.ring_trims += api->cnt.ring_trims;
		c.ring_trimmed += api->cnt.ring_trimmed;
		c.ring_expired += api->cnt.ring_expired;
		c.store_logs_dropped += api->cnt.store_logs_dropped;
		c.store_refused += api->cnt.store_refused;
		c.store_feed_waits += api->cnt.store_feed_waits;
		c.store_feed_errors += api->cnt.store_feed_errors;
		c.cold_reads += api->cnt.cold_reads;
		c.cold_records += api->cnt.cold_records;
		c.cold_busy += api->cnt.cold_busy;
		c.cold_errors += api->cnt.cold_errors;
		c.sealed_records += api->cnt.sealed_records;
		c.opened_records += api->cnt.opened_records;
		c.seal_errors += api->cnt.seal_errors;
		c.kms_refused += api->cnt.kms_refused;
		r.records += api->store_rep.records;
		r.torn += api->store_rep.torn;
		r.corrupt += api->store_rep.corrupt;
		r.bad_headers += api->store_rep.bad_headers;
		r.overlaps += api->store_rep.overlaps;
		r.segs += api->store_rep.segs;
		r.segs_used += api->store_rep.segs_used;
	}
	o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "data_dir",
		      g->data_dir, "ack_mode", g->conf.durable ? "durable" : "memory", "appended",
		      (json_int_t)t.appended, "appended_bytes", (json_int_t)t.appended_bytes,
		      "writes", (json_int_t)t.writes, "write_bytes", (json_int_t)t.write_bytes,
		      "write_errors", (json_int_t)t.write_errors, "segments_opened",
		      (json_int_t)t.segs_opened, "no_space", (json_int_t)t.no_space, "busy",
		      (json_int_t)t.busy, "reads", (json_int_t)t.reads, "read_bytes",
		      (json_int_t)t.read_bytes);
	json_object_set_new(o, "segments_freed", json_integer((json_int_t)t.segs_freed));
	json_object_set_new(o, "free_errors", json_integer((json_int_t)t.free_errors));
	json_object_set_new(o, "ring_expired", json_integer((json_int_t)c.ring_expired));
	json_object_set_new(o, "logs_dropped", json_integer((json_int_t)c.store_logs_dropped));
	json_object_set_new(o, "sealing",
			    json_pack("{s:b, s:I, s:I, s:I, s:I}", "keys", g->enc_keys != NULL,
				      "sealed", (json_int_t)c.sealed_records, "opened",
				      (json_int_t)c.opened_records, "errors",
				      (json_int_t)c.seal_errors, "kms_refused",
				      (json_int_t)c.kms_refused));
	json_object_set_new(
	    o, "api",
	    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "ring_trims",
		      (json_int_t)c.ring_trims, "ring_trimmed", (json_int_t)c.ring_trimmed,
		      "refused", (json_int_t)c.store_refused, "feed_waits",
		      (json_int_t)c.store_feed_waits, "feed_errors",
		      (json_int_t)c.store_feed_errors, "cold_reads", (json_int_t)c.cold_reads,
		      "cold_records", (json_int_t)c.cold_records, "cold_busy",
		      (json_int_t)c.cold_busy, "cold_errors", (json_int_t)c.cold_errors));
	json_object_set_new(
	    o, "recovery",
	    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "records", (json_int_t)r.records,
		      "torn", (json_int_t)r.torn, "corrupt", (json_int_t)r.corrupt, "bad_headers",
		      (json_int_t)r.bad_headers, "overlaps", (json_int_t)r.overlaps, "segments",
		      (json_int_t)r.segs, "segments_used", (json_int_t)r.segs_used));
	return o;
}

/* The shard's log lets go of the write buffer in sh's ring once all it took is durable. */
static int
store_let_go(struct sp_api *api, const struct sp_api_stream *st, const struct sp_api_shard *sh)
{
	struct sp_slog *l;
	struct sp_api_feed *f;
	int rc;

	l = sp_store_log_find(api->store, st->tag, sh->index);
	f = l != NULL ? &api->feeds[sp_slog_slot(l)] : NULL;
	if (f == NULL || f->ring != sh->ring) {
		return 0; /* nothing of this ring went to a log: its buffer is not in use */
	}
	if (f->listed || !f->at_tip || f->shown < f->fed_last) {
		return -EBUSY; /* records still on their way to the disk */
	}
	rc = sp_slog_detach(l);
	if (rc == 0) {
		f->ring = NULL; /* the write buffer in the ring's memory is no longer the log's */
	}
	return rc;
}

int
sp_api_store_release(struct sp_api *api, const struct sp_api_stream *st,
		     const struct sp_api_shard *sh)
{
	SP_VERIFY(!sh->open && sh->ring != NULL && sp_shard_ring_sealed(sh->ring));
	if (api->store == NULL) {
		return -ENOTSUP; /* the ring is the only copy of its records */
	}
	return store_let_go(api, st, sh);
}

int
sp_api_store_hand_over(struct sp_api *api, const struct sp_api_stream *st,
		       const struct sp_api_shard *sh)
{
	SP_VERIFY(sh->ring != NULL && sh->owner != api->worker);
	if (api->store == NULL) {
		return 0; /* nothing of it is this worker's but the ring, which stays */
	}
	return store_let_go(api, st, sh) == 0 ? 0 : -EBUSY;
}
