/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The store (store.h, docs/internals/store.md): superblock, segment table, shard logs, group
 * commit, recovery and cold-read planning. Owned by one thread; the durable watermark is the
 * only field other threads read (a seqlock per log).
 *
 * Invariants, checked where cheap:
 *   - a segment belongs to at most one log; a log's chain is ordered by number, and every
 *     number in a segment is above every number in the segments before it;
 *   - a log has at most one write in flight; dur_end <= end for every segment;
 *   - the writer (struct sp_seg_writer) mirrors the log's tail segment while wopen.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <spate/assert.h>

#include "crc32c.h"
#include "le.h"
#include "store.h"

#define SB_MAGIC    0x54535053u /* "SPST" in file order */
#define SB_HDR_LEN  64u
#define SEG_NONE    UINT32_MAX
#define TAG_RECOVER (UINT64_C(1) << 63) /* completions of recovery's own requests */
#define TAG_READ    (UINT64_C(1) << 62) /* cold reads: the caller's tag below this bit */
#define TAG_FREE    (UINT64_C(1) << 61) /* freeing a segment: its number below this bit */
#define SEG_FREEING UINT32_MAX          /* store_seg.log while a segment is being freed */

/* Steps of freeing a segment: zero it, make that durable, then it is free. */
enum seg_fstep {
	FSTEP_NONE = 0,
	FSTEP_ZERO,  /* punch the segment out (reads as zeros) */
	FSTEP_FLUSH, /* make the punch durable */
	FSTEP_HDR,   /* no punching here: overwrite the header block instead (DSYNC) */
};
#define SUBMIT_MAX 64u                       /* writes handed to one submit call */
#define LOW52      ((UINT64_C(1) << 52) - 1) /* stream tag and shard index of a number */

struct store_seg {
	uint32_t log;      /* owner log slot + 1; 0 = free */
	uint32_t next;     /* next segment of the chain, SEG_NONE at the tail */
	sp_u128 first_seq; /* the header's */
	sp_u128 last_seq;  /* newest record, when records > 0 */
	sp_u128 dur_last;  /* newest durable record, when dur_end > block */
	uint64_t records;
	uint64_t end;     /* segment offset after the last frame */
	uint64_t dur_end; /* after the last durable frame */
	uint64_t max_ms;
	uint64_t created_ms;
	bool sealed; /* its header's SP_SEG_F_SEALED, with the key's fingerprint */
	uint8_t key_fp[SP_SEG_KEY_FP_BYTES];
	uint8_t fstep; /* enum seg_fstep: the step submitted or to submit */
	struct sp_seg_index idx;
};

struct sp_slog {
	struct sp_store *s;
	uint32_t slot;
	uint32_t tag;
	uint32_t index;
	uint32_t head; /* chain, SEG_NONE when empty */
	uint32_t tail;
	uint32_t nsegs;
	uint64_t records;
	uint64_t max_ms;
	sp_u128 first_seq;
	sp_u128 last_seq;
	bool any;
	/* writer */
	bool attached;
	bool wopen; /* w mirrors the tail segment */
	uint8_t *wbuf;
	size_t wcap;
	struct sp_seg_writer w;
	bool inflight;
	size_t pre_flushed; /* w.flushed before the write in flight */
	uint64_t fly_end;
	sp_u128 fly_last;
	uint32_t fly_seg;
	uint32_t fly_len;
	int err;
	uint32_t backoff;
	uint64_t retry_at;
	bool listed;
	bool dead; /* dropped (its stream was deleted): find() no longer sees it */
	bool detached; /* closed for appends, its write buffer handed back (sp_slog_detach) */
	uint32_t list_next;
	uint8_t *tail_block; /* recovery: the block holding the tail's end (malloc'd) */
	/* durable watermark: seqlock (even gen: stable) */
	_Atomic uint64_t dgen;
	_Atomic uint64_t dlo;
	_Atomic uint64_t dhi;
};

struct sp_store {
	struct sp_store_conf conf;
	uint32_t block;     /* the store's (superblock's) block */
	uint64_t seg_bytes; /* the store's */
	uint32_t nsegs;
	struct store_seg *segs;
	struct sp_seg_index_ent *ents; /* nsegs x index_cap */
	uint32_t alloc_cursor;
	uint32_t nfree;  /* segments with no log */
	uint32_t *freeq; /* segments whose next freeing step waits to be submitted */
	uint32_t nfreeq;
	unsigned free_inflight;
	uint8_t *zero_block;  /* one block of zeros (the header fallback) */
	struct sp_slog *logs; /* max_logs */
	uint32_t nlogs;
	uint32_t *hash; /* slot + 1, open addressing, hcap entries */
	uint32_t hcap;
	uint32_t hused;        /* entries set, stale ones of reused slots included */
	uint32_t reuse_cursor; /* where the next search for a retired slot starts */
	uint32_t list_head;    /* logs with work: unflushed records, a write in flight or a retry */
	unsigned inflight;
	unsigned reads_inflight;
	unsigned nrdone;
	struct sp_store_read_cpl rdone[SP_STORE_READS_MAX];
	uint64_t polls;
	struct sp_store_stats st;
};

/* ---- little helpers ---- */

static bool
all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != 0) {
			return false;
		}
	}
	return true;
}

static inline uint64_t
align_down(uint64_t x, uint64_t a)
{
	return x - x % a;
}

static inline uint64_t
align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

static inline uint64_t
seg_base(const struct sp_store *s, uint32_t seg)
{
	SP_ASSERT(seg < s->nsegs);
	return SP_STORE_SB_BYTES + (uint64_t)seg * s->seg_bytes;
}

static inline uint32_t
log_hash(uint32_t tag, uint32_t index)
{
	uint64_t k = ((uint64_t)tag << 32 | index) * UINT64_C(0x9e3779b97f4a7c15);

	return (uint32_t)(k >> 32);
}

/* ---- durable watermark ---- */

static void
log_publish(struct sp_slog *l, sp_u128 seq)
{
	uint64_t g = atomic_load_explicit(&l->dgen, memory_order_relaxed);

	atomic_store_explicit(&l->dgen, g + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&l->dlo, (uint64_t)seq, memory_order_relaxed);
	atomic_store_explicit(&l->dhi, (uint64_t)(seq >> 64), memory_order_relaxed);
	atomic_store_explicit(&l->dgen, g + 2, memory_order_release);
}

sp_u128
sp_slog_durable(const struct sp_slog *l)
{
	for (;;) {
		uint64_t g1 = atomic_load_explicit(&l->dgen, memory_order_acquire);
		uint64_t lo = atomic_load_explicit(&l->dlo, memory_order_relaxed);
		uint64_t hi = atomic_load_explicit(&l->dhi, memory_order_relaxed);

		atomic_thread_fence(memory_order_acquire);
		if ((g1 & 1) == 0 && atomic_load_explicit(&l->dgen, memory_order_relaxed) == g1) {
			return (sp_u128)hi << 64 | lo;
		}
	}
}

/* ---- create / destroy ---- */

static int
conf_check(const struct sp_store_conf *c)
{
	if (c->io.ops == NULL || c->io.ops->submit == NULL || c->io.ops->poll == NULL) {
		return -EINVAL;
	}
	if (c->block < SP_SEG_BLOCK_MIN || c->block > SP_SEG_BLOCK_MAX ||
	    (c->block & (c->block - 1)) != 0) {
		return -EINVAL;
	}
	if (c->seg_bytes < 4u * (uint64_t)SP_SEG_BLOCK_MAX ||
	    c->seg_bytes % SP_SEG_BLOCK_MAX != 0 || c->seg_bytes > (UINT64_C(1) << 40)) {
		return -EINVAL;
	}
	if (c->max_logs == 0 || c->max_logs > SP_STORE_MAX_LOGS || c->index_cap < 2 ||
	    c->index_every_recs == 0 || c->index_every_bytes == 0) {
		return -EINVAL;
	}
	if (c->scratch == NULL || (uintptr_t)c->scratch % SP_SEG_BLOCK_MAX != 0 ||
	    c->scratch_len % SP_SEG_BLOCK_MAX != 0 ||
	    c->scratch_len < SP_MIN((uint64_t)SP_STORE_WBUF_MIN, c->seg_bytes)) {
		return -EINVAL;
	}
	return 0;
}

int
sp_store_create(const struct sp_store_conf *conf, struct sp_store **out)
{
	struct sp_store *s;
	int rc = conf_check(conf);

	if (rc != 0) {
		return rc;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return -ENOMEM;
	}
	s->conf = *conf;
	s->hcap = 4;
	while (s->hcap < 2u * conf->max_logs) {
		s->hcap *= 2;
	}
	s->logs = calloc(conf->max_logs, sizeof(*s->logs));
	s->hash = calloc(s->hcap, sizeof(*s->hash));
	if (s->logs == NULL || s->hash == NULL) {
		sp_store_destroy(s);
		return -ENOMEM;
	}
	s->list_head = SEG_NONE;
	*out = s;
	return 0;
}

void
sp_store_destroy(struct sp_store *s)
{
	if (s == NULL) {
		return;
	}
	for (uint32_t i = 0; i < s->nlogs; i++) {
		free(s->logs[i].tail_block);
	}
	free(s->logs);
	free(s->hash);
	free(s->segs);
	free(s->ents);
	free(s->freeq);
	free(s->zero_block);
	free(s);
}

/* ---- logs ---- */

struct sp_slog *
sp_store_log_find(struct sp_store *s, uint32_t tag, uint32_t index)
{
	for (uint32_t h = log_hash(tag, index) & (s->hcap - 1);; h = (h + 1) & (s->hcap - 1)) {
		uint32_t v = s->hash[h];

		if (v == 0) {
			return NULL;
		}
		if (s->logs[v - 1].tag == tag && s->logs[v - 1].index == index &&
		    !s->logs[v - 1].dead) {
			return &s->logs[v - 1];
		}
	}
}

/* Rebuild the hash from the live logs: stale entries of retired (dead) logs go. */
static void
log_rehash(struct sp_store *s)
{
	memset(s->hash, 0, (size_t)s->hcap * sizeof(*s->hash));
	s->hused = 0;
	for (uint32_t i = 0; i < s->nlogs; i++) {
		uint32_t h;

		if (s->logs[i].dead) {
			continue;
		}
		h = log_hash(s->logs[i].tag, s->logs[i].index) & (s->hcap - 1);
		while (s->hash[h] != 0) {
			h = (h + 1) & (s->hcap - 1);
		}
		s->hash[h] = i + 1;
		s->hused++;
	}
}

/*
 * A slot for a new log: a fresh one, or that of a retired log with nothing left to do (streams
 * are created and deleted for as long as the process runs; max_logs bounds the live ones).
 */
static struct sp_slog *
log_slot(struct sp_store *s)
{
	if (s->nlogs < s->conf.max_logs) {
		return &s->logs[s->nlogs++];
	}
	for (uint32_t i = 0; i < s->nlogs; i++) {
		struct sp_slog *l = &s->logs[(s->reuse_cursor + i) % s->nlogs];

		if (l->dead && !l->listed && !l->inflight) {
			s->reuse_cursor = (l->slot + 1) % s->nlogs;
			s->st.logs_reused++;
			return l;
		}
	}
	return NULL;
}

static struct sp_slog *
log_new(struct sp_store *s, uint32_t tag, uint32_t index)
{
	struct sp_slog *l = log_slot(s);
	uint32_t slot, h;

	if (l == NULL) {
		return NULL;
	}
	slot = (uint32_t)(l - s->logs);
	memset(l, 0, sizeof(*l));
	l->s = s;
	l->slot = slot;
	l->tag = tag;
	l->index = index;
	l->head = l->tail = SEG_NONE;
	l->fly_seg = SEG_NONE;
	if (s->hused + 1 > s->hcap / 4 * 3) {
		log_rehash(s); /* l is not dead: it goes in too */
	} else {
		h = log_hash(tag, index) & (s->hcap - 1);
		while (s->hash[h] != 0) {
			h = (h + 1) & (s->hcap - 1);
		}
		s->hash[h] = slot + 1;
		s->hused++;
	}
	SP_VERIFY(sp_store_log_find(s, tag, index) == l);
	return l;
}

static void
log_list(struct sp_slog *l)
{
	if (!l->listed) {
		l->listed = true;
		l->list_next = l->s->list_head;
		l->s->list_head = l->slot;
	}
}

/* Link segment g (holding numbers above the chain's) at the tail of l's chain. */
static void
log_link_tail(struct sp_slog *l, uint32_t g)
{
	struct sp_store *s = l->s;

	s->segs[g].log = l->slot + 1;
	s->segs[g].next = SEG_NONE;
	if (l->tail == SEG_NONE) {
		l->head = g;
	} else {
		s->segs[l->tail].next = g;
	}
	l->tail = g;
	l->nsegs++;
}

/* ---- segments ---- */

static void
seg_reset(struct sp_store *s, uint32_t g)
{
	struct store_seg *sg = &s->segs[g];
	struct sp_seg_index_ent *ent = &s->ents[(size_t)g * s->conf.index_cap];

	memset(sg, 0, sizeof(*sg));
	sg->next = SEG_NONE;
	sp_seg_index_init(&sg->idx, ent, s->conf.index_cap, s->conf.index_every_recs,
			  s->conf.index_every_bytes);
}

static uint32_t
seg_alloc(struct sp_store *s)
{
	for (uint32_t i = 0; i < s->nsegs; i++) {
		uint32_t g = (s->alloc_cursor + i) % s->nsegs;

		if (s->segs[g].log == 0) {
			SP_VERIFY(s->nfree > 0);
			s->nfree--;
			s->alloc_cursor = (g + 1) % s->nsegs;
			seg_reset(s, g);
			return g;
		}
	}
	return SEG_NONE;
}

/* ---- attach and append ---- */

int
sp_store_log_attach(struct sp_store *s, uint32_t tag, uint32_t index, void *wbuf, size_t wbuf_len,
		    struct sp_slog **out)
{
	struct sp_slog *l = sp_store_log_find(s, tag, index);

	if (wbuf == NULL || (uintptr_t)wbuf % s->block != 0 || wbuf_len % s->block != 0 ||
	    wbuf_len < 2u * s->block || s->segs == NULL) {
		return -EINVAL;
	}
	if (l == NULL) {
		l = log_new(s, tag, index);
		if (l == NULL) {
			return -ENOSPC;
		}
	}
	if (l->attached) {
		return -EEXIST;
	}
	if (l->detached) {
		return -EPERM; /* its shard was closed: never appended again */
	}
	l->attached = true;
	l->wbuf = wbuf;
	l->wcap = wbuf_len;
	if (l->tail != SEG_NONE && l->tail_block != NULL) {
		const struct store_seg *sg = &s->segs[l->tail];
		struct sp_seg_hdr h = {.version = SP_SEG_VERSION,
				       .block_size = s->block,
				       .shard_index = index,
				       .stream_tag = tag,
				       .first_seq = sg->first_seq,
				       .created_ms = sg->created_ms,
				       .flags = sg->sealed ? SP_SEG_F_SEALED : 0u};
		sp_u128 next = sg->records > 0 ? sg->last_seq + 1 : sg->first_seq;

		memcpy(h.key_fp, sg->key_fp, sizeof(h.key_fp));

		/* continue the newest segment when a frame still fits after its end */
		if (sg->end + SP_SEG_FRAME_FIXED < s->seg_bytes) {
			memcpy(l->wbuf, l->tail_block, s->block);
			SP_VERIFY(sp_seg_writer_resume(&l->w, l->wbuf, l->wcap, &h, sg->end, next,
						       sg->max_ms) == 0);
			l->wopen = true;
		}
	}
	free(l->tail_block);
	l->tail_block = NULL;
	*out = l;
	return 0;
}

static int
log_open_seg(struct sp_slog *l, const struct sp_seg_rec *r)
{
	struct sp_store *s = l->s;
	uint32_t g = seg_alloc(s);
	struct sp_seg_hdr h = {.version = SP_SEG_VERSION,
			       .block_size = s->block,
			       .shard_index = l->index,
			       .stream_tag = l->tag,
			       .first_seq = r->seq,
			       .created_ms = r->arrival_ms,
			       .flags = r->sealer != NULL ? SP_SEG_F_SEALED : 0u};

	if (r->sealer != NULL) {
		memcpy(h.key_fp, r->sealer->key_fp, sizeof(h.key_fp));
	}
	if (g == SEG_NONE) {
		s->st.no_space++;
		return -ENOSPC;
	}
	if (l->any && r->seq <= l->last_seq) {
		return -ERANGE;
	}
	if (sp_seg_writer_init(&l->w, l->wbuf, l->wcap, &h) != 0) {
		return -EINVAL;
	}
	s->segs[g].first_seq = r->seq;
	s->segs[g].created_ms = r->arrival_ms;
	s->segs[g].sealed = r->sealer != NULL;
	memcpy(s->segs[g].key_fp, h.key_fp, sizeof(h.key_fp));
	s->segs[g].end = s->block;
	s->segs[g].dur_end = s->block;
	log_link_tail(l, g);
	l->wopen = true;
	s->st.segs_opened++;
	return 0;
}

/* Whether records sealed with key_fp (NULL: clear) may go into the writer's segment. */
static bool
writer_takes(const struct sp_seg_writer *w, const uint8_t *key_fp)
{
	if (key_fp == NULL || !w->sealed) {
		return key_fp == NULL && !w->sealed;
	}
	return memcmp(key_fp, w->key_fp, SP_SEG_KEY_FP_BYTES) == 0;
}

/* The same for the log's open tail segment (false when none is open). */
static bool
log_tail_takes(const struct sp_slog *l, const uint8_t *key_fp)
{
	return l->wopen && writer_takes(&l->w, key_fp);
}

static inline int
log_busy(struct sp_slog *l)
{
	l->s->st.busy++;
	log_list(l);
	return -EAGAIN;
}

int
sp_slog_append(struct sp_slog *l, const struct sp_seg_rec *r)
{
	struct sp_store *s = l->s;
	size_t flen = sp_seg_frame_bytes_as(r->key_len, r->data_len, r->sealer != NULL);
	struct store_seg *sg;
	uint64_t off;
	int rc;

	if (l->detached) {
		return -EPIPE; /* closed for good */
	}
	SP_VERIFY(l->attached);
	if (l->dead) {
		return -ENOENT;
	}
	if (l->err != 0) {
		return l->err;
	}
	if (r->key_len > SP_SEG_KEY_MAX || r->data_len > SP_SEG_DATA_MAX ||
	    flen + s->block > s->seg_bytes || flen + s->block > l->wcap) {
		return -EMSGSIZE;
	}
	/* checked before a segment is opened for it, whose header takes its number */
	if (((uint64_t)r->seq & LOW52) !=
	    ((uint64_t)(l->tag & SP_SEQNO_TAG_MAX) << 32 | l->index)) {
		return -EINVAL;
	}
	if (l->any && r->seq <= l->last_seq) {
		return -ERANGE;
	}
	if (l->wopen && (l->w.buf_off + l->w.used + flen > s->seg_bytes ||
			 !writer_takes(&l->w, r->sealer != NULL ? r->sealer->key_fp : NULL))) {
		/* the tail is full, or sealed with another key than this record's (or not at
		 * all): it is closed once its last write is durable; a new segment takes it.
		 * With none free the tail stays open (its room still counts for its kind). */
		if (s->nfree == 0) {
			s->st.no_space++;
			return -ENOSPC;
		}
		if (l->inflight || l->w.flushed < l->w.used) {
			return log_busy(l);
		}
		l->wopen = false;
	}
	if (!l->wopen) {
		rc = log_open_seg(l, r);
		if (rc != 0) {
			return rc;
		}
	}
	off = l->w.buf_off + l->w.used;
	rc = sp_seg_append(&l->w, r);
	if (rc == -ENOBUFS) {
		if (l->inflight || l->w.flushed < l->w.used) {
			return log_busy(l);
		}
		sp_seg_writer_compact(&l->w);
		off = l->w.buf_off + l->w.used;
		rc = sp_seg_append(&l->w, r);
	}
	if (rc != 0) {
		return rc;
	}
	sg = &s->segs[l->tail];
	SP_VERIFY(sg->end == off && sg->log == l->slot + 1);
	sg->end = off + flen;
	sg->last_seq = r->seq;
	sg->records++;
	sg->max_ms = SP_MAX(sg->max_ms, r->arrival_ms);
	sp_seg_index_add(&sg->idx, r->seq, sg->max_ms, off);
	if (!l->any) {
		l->first_seq = r->seq;
		l->any = true;
	}
	l->last_seq = r->seq;
	l->records++;
	l->max_ms = SP_MAX(l->max_ms, r->arrival_ms);
	s->st.appended++;
	s->st.appended_bytes += flen;
	log_list(l);
	return 0;
}

/* ---- releasing segments ---- */

static void
seg_release(struct sp_store *s, uint32_t g)
{
	struct store_seg *sg = &s->segs[g];

	SP_VERIFY(sg->log != 0 && sg->log != SEG_FREEING && s->nfreeq < s->nsegs);
	sg->log = SEG_FREEING;
	sg->next = SEG_NONE;
	sg->fstep = FSTEP_ZERO;
	s->freeq[s->nfreeq++] = g;
}

unsigned
sp_slog_expire(struct sp_slog *l, uint64_t t_ms)
{
	struct sp_store *s = l->s;
	unsigned n = 0;

	while (l->head != SEG_NONE) {
		uint32_t g = l->head;
		struct store_seg *sg = &s->segs[g];

		if (sg->records == 0 || sg->max_ms >= t_ms) {
			break; /* the oldest segment still holds a record inside the period */
		}
		if (g == l->tail) {
			if (l->inflight || (l->wopen && l->w.flushed < l->w.used)) {
				break; /* its newest records are on their way to the disk */
			}
			l->wopen = false;
			l->tail = SEG_NONE;
		}
		l->head = sg->next;
		l->nsegs--;
		l->records -= sg->records;
		seg_release(s, g);
		n++;
	}
	if (l->head != SEG_NONE && s->segs[l->head].records > 0) {
		l->first_seq = s->segs[l->head].idx.ent[0].seq;
	}
	return n;
}

int
sp_slog_detach(struct sp_slog *l)
{
	SP_VERIFY(l->attached);
	if (l->inflight || l->err != 0 || (l->wopen && l->w.flushed < l->w.used)) {
		return -EBUSY; /* something still goes to the disk from the buffer */
	}
	/* the writer no longer mirrors the tail: nothing reads or writes the buffer again */
	l->wopen = false;
	l->attached = false;
	l->detached = true;
	l->wbuf = NULL;
	l->wcap = 0;
	return 0;
}

int
sp_slog_drop(struct sp_slog *l)
{
	struct sp_store *s = l->s;

	if (l->inflight) {
		return -EBUSY;
	}
	while (l->head != SEG_NONE) {
		uint32_t g = l->head;

		l->head = s->segs[g].next;
		seg_release(s, g);
	}
	l->tail = SEG_NONE;
	l->nsegs = 0;
	l->records = 0;
	l->wopen = false;
	l->w.flushed = l->w.used; /* nothing of it will be written */
	l->err = 0;
	l->dead = true;
	return 0;
}

uint32_t
sp_store_nlogs(const struct sp_store *s)
{
	return s->nlogs;
}

struct sp_slog *
sp_store_log_at(struct sp_store *s, uint32_t slot)
{
	SP_VERIFY(slot < s->nlogs);
	return &s->logs[slot];
}

bool
sp_slog_dead(const struct sp_slog *l)
{
	return l->dead;
}

/* Build the request for segment g's next freeing step. */
static void
free_req(struct sp_store *s, uint32_t g, struct sp_io_req *r)
{
	const struct store_seg *sg = &s->segs[g];

	*r = (struct sp_io_req){.file = s->conf.file, .tag = TAG_FREE | g};
	switch (sg->fstep) {
	case FSTEP_ZERO:
		r->op = SP_IO_ZERO;
		r->offset = seg_base(s, g);
		r->len = (uint32_t)SP_MIN(s->seg_bytes, (uint64_t)1 << 30);
		break;
	case FSTEP_FLUSH:
		r->op = SP_IO_FLUSH;
		break;
	default:
		SP_VERIFY(sg->fstep == FSTEP_HDR);
		r->op = SP_IO_WRITE;
		r->flags = SP_IO_F_DSYNC;
		r->offset = seg_base(s, g);
		r->buf = s->zero_block;
		r->len = s->block;
		break;
	}
}

static unsigned
free_submit(struct sp_store *s)
{
	unsigned done = 0;

	while (done < s->nfreeq) {
		struct sp_io_req r;

		free_req(s, s->freeq[done], &r);
		if (s->conf.io.ops->submit(s->conf.io.ctx, &r, 1) != 1) {
			break; /* queue full: next poll */
		}
		s->free_inflight++;
		done++;
	}
	memmove(s->freeq, s->freeq + done, (s->nfreeq - done) * sizeof(*s->freeq));
	s->nfreeq -= done;
	return done;
}

static void
free_complete(struct sp_store *s, uint32_t g, int32_t res)
{
	struct store_seg *sg = &s->segs[g];

	SP_VERIFY(g < s->nsegs && sg->log == SEG_FREEING && s->free_inflight > 0);
	s->free_inflight--;
	switch (sg->fstep) {
	case FSTEP_ZERO:
		/* no hole punching on this file system or device: clear the header instead */
		sg->fstep = res == 0 ? FSTEP_FLUSH : FSTEP_HDR;
		break;
	case FSTEP_FLUSH:
	case FSTEP_HDR:
		if ((sg->fstep == FSTEP_FLUSH && res == 0) ||
		    (sg->fstep == FSTEP_HDR && res == (int32_t)s->block)) {
			seg_reset(s, g);
			s->nfree++;
			s->st.segs_freed++;
			return;
		}
		s->st.free_errors++; /* the same step again */
		break;
	default:
		SP_VERIFY(0);
	}
	s->freeq[s->nfreeq++] = g;
}

/* ---- poll: group commit ---- */

static bool
log_prepare(struct sp_slog *l, struct sp_io_req *req)
{
	struct sp_store *s = l->s;
	uint64_t off;
	size_t pos, before = l->w.flushed;
	uint32_t len;

	if (l->inflight || !l->wopen || (l->err != 0 && s->polls < l->retry_at)) {
		return false;
	}
	if (!sp_seg_flush_range(&l->w, &off, &pos, &len)) {
		return false;
	}
	l->pre_flushed = before;
	l->fly_end = l->w.buf_off + l->w.used;
	l->fly_seg = l->tail;
	l->fly_last = s->segs[l->tail].last_seq;
	l->fly_len = len;
	*req = (struct sp_io_req){.op = SP_IO_WRITE,
				  .flags = SP_IO_F_DSYNC,
				  .file = s->conf.file,
				  .offset = seg_base(s, l->tail) + off,
				  .buf = l->wbuf + pos,
				  .len = len,
				  .tag = l->slot};
	return true;
}

static void
log_complete(struct sp_slog *l, int32_t res)
{
	struct sp_store *s = l->s;
	struct store_seg *sg = &s->segs[l->fly_seg];

	SP_VERIFY(l->inflight && s->inflight > 0);
	l->inflight = false;
	s->inflight--;
	if (res == (int32_t)l->fly_len) {
		SP_VERIFY(l->fly_end >= sg->dur_end && l->fly_end <= sg->end);
		sg->dur_end = l->fly_end;
		sg->dur_last = l->fly_last;
		log_publish(l, l->fly_last);
		l->err = 0;
		l->backoff = 0;
		if (l->wopen && l->w.flushed == l->w.used && l->w.used > l->wcap / 2) {
			sp_seg_writer_compact(&l->w);
		}
		return;
	}
	/* failed (or short): write the same range again later; refuse new records meanwhile */
	s->st.write_errors++;
	/* a short direct write means the file system ran out of space part way */
	l->err = res < 0 ? res : -ENOSPC;
	l->w.flushed = l->pre_flushed;
	l->backoff =
	    l->backoff == 0 ? SP_STORE_RETRY_MIN : SP_MIN(2u * l->backoff, SP_STORE_RETRY_MAX);
	l->retry_at = s->polls + l->backoff;
	log_list(l);
}

unsigned
sp_store_poll(struct sp_store *s)
{
	struct sp_io_req reqs[SUBMIT_MAX];
	struct sp_slog *who[SUBMIT_MAX];
	struct sp_io_cpl cpl[64];
	uint32_t *link = &s->list_head;
	unsigned n = 0, work = 0;
	int got;

	s->polls++;
	while (*link != SEG_NONE) {
		struct sp_slog *l = &s->logs[*link];

		if (n < SUBMIT_MAX && log_prepare(l, &reqs[n])) {
			who[n++] = l; /* listed until its write completes */
		} else if (!l->inflight && l->err == 0 && l->w.flushed == l->w.used) {
			*link = l->list_next; /* nothing left to do */
			l->listed = false;
			continue;
		}
		link = &l->list_next;
	}
	if (n > 0) {
		int acc = s->conf.io.ops->submit(s->conf.io.ctx, reqs, n);

		SP_VERIFY(acc >= 0); /* requests built here are valid */
		for (unsigned i = 0; i < n; i++) {
			if (i < (unsigned)acc) {
				who[i]->inflight = true;
				s->inflight++;
				s->st.writes++;
				s->st.write_bytes += reqs[i].len;
			} else {
				who[i]->w.flushed = who[i]->pre_flushed; /* queue full: next poll */
			}
		}
		work += (unsigned)acc;
	}
	work += free_submit(s);
	got = s->conf.io.ops->poll(s->conf.io.ctx, cpl, SP_ARRAY_SIZE(cpl));
	SP_VERIFY(got >= 0);
	for (int i = 0; i < got; i++) {
		SP_VERIFY((cpl[i].tag & TAG_RECOVER) == 0);
		if (cpl[i].tag & TAG_FREE) {
			free_complete(s, (uint32_t)(cpl[i].tag & ~TAG_FREE), cpl[i].res);
			continue;
		}
		if (cpl[i].tag & TAG_READ) {
			SP_VERIFY(s->reads_inflight > 0 && s->nrdone < SP_STORE_READS_MAX);
			s->reads_inflight--;
			s->rdone[s->nrdone++] = (struct sp_store_read_cpl){
			    .tag = cpl[i].tag & ~TAG_READ, .res = cpl[i].res};
			continue;
		}
		SP_VERIFY(cpl[i].tag < s->nlogs);
		log_complete(&s->logs[cpl[i].tag], cpl[i].res);
	}
	return work + (unsigned)got;
}

bool
sp_store_idle(const struct sp_store *s)
{
	return s->inflight == 0 && s->reads_inflight == 0 && s->nrdone == 0 &&
	       s->list_head == SEG_NONE && s->nfreeq == 0 && s->free_inflight == 0;
}

int
sp_store_read(struct sp_store *s, const struct sp_slog_read *rd, void *buf, uint64_t tag)
{
	struct sp_io_req req = {.op = SP_IO_READ,
				.file = rd->file,
				.offset = rd->offset,
				.buf = buf,
				.len = rd->len,
				.tag = tag | TAG_READ};
	int rc;

	SP_VERIFY((tag & (TAG_READ | TAG_RECOVER)) == 0);
	if (s->reads_inflight + s->nrdone >= SP_STORE_READS_MAX) {
		return -EBUSY;
	}
	rc = s->conf.io.ops->submit(s->conf.io.ctx, &req, 1);
	if (rc <= 0) {
		return rc == 0 ? -EBUSY : rc;
	}
	s->reads_inflight++;
	s->st.reads++;
	s->st.read_bytes += rd->len;
	return 0;
}

unsigned
sp_store_read_done(struct sp_store *s, struct sp_store_read_cpl *out, unsigned max)
{
	unsigned n = SP_MIN(max, s->nrdone);

	memcpy(out, s->rdone, n * sizeof(*out));
	memmove(s->rdone, s->rdone + n, (s->nrdone - n) * sizeof(*out));
	s->nrdone -= n;
	return n;
}

void
sp_store_stats(const struct sp_store *s, struct sp_store_stats *out)
{
	*out = s->st;
}

uint32_t
sp_slog_slot(const struct sp_slog *l)
{
	return l->slot;
}

uint64_t
sp_slog_room(const struct sp_slog *l, const uint8_t *key_fp)
{
	const struct sp_store *s = l->s;

	if (l->err != 0 || l->dead) {
		return 0;
	}
	if (s->nfree > 0) {
		return UINT64_MAX;
	}
	return log_tail_takes(l, key_fp) ? s->seg_bytes - (l->w.buf_off + l->w.used) : 0;
}

int
sp_slog_state(const struct sp_slog *l, uint64_t need, const uint8_t *key_fp)
{
	const struct sp_store *s = l->s;

	if (l->err != 0) {
		return l->err;
	}
	if (log_tail_takes(l, key_fp) && l->w.buf_off + l->w.used + need <= s->seg_bytes) {
		return 0;
	}
	return s->nfree > 0 ? 0 : -ENOSPC;
}

void
sp_slog_info(const struct sp_slog *l, struct sp_slog_info *out)
{
	*out = (struct sp_slog_info){.stream_tag = l->tag,
				     .shard_index = l->index,
				     .segs = l->nsegs,
				     .records = l->records,
				     .any = l->any,
				     .first_seq = l->first_seq,
				     .last_seq = l->last_seq,
				     .durable = sp_slog_durable(l),
				     .max_ms = l->max_ms,
				     .err = l->err,
				     .attached = l->attached};
}

/* ---- recovery ---- */

/* One request, waited for (recovery only: nothing else is in flight). */
static int
store_sync(struct sp_store *s, const struct sp_io_req *req)
{
	struct sp_io_req r = *req;
	struct sp_io_cpl c;
	int rc;

	SP_VERIFY(s->inflight == 0);
	r.tag = TAG_RECOVER;
	do {
		rc = s->conf.io.ops->submit(s->conf.io.ctx, &r, 1);
	} while (rc == 0);
	if (rc < 0) {
		return rc;
	}
	do {
		rc = s->conf.io.ops->poll(s->conf.io.ctx, &c, 1);
	} while (rc == 0);
	if (rc < 0) {
		return rc;
	}
	SP_VERIFY(c.tag == TAG_RECOVER);
	if (c.res < 0) {
		return c.res;
	}
	return c.res == (int32_t)r.len ? 0 : -EIO;
}

static int
store_rw(struct sp_store *s, enum sp_io_op op, uint64_t off, void *buf, uint32_t len)
{
	struct sp_io_req r = {.op = op,
			      .flags = op == SP_IO_WRITE ? SP_IO_F_DSYNC : 0,
			      .file = s->conf.file,
			      .offset = off,
			      .buf = buf,
			      .len = len};

	return store_sync(s, &r);
}

static void
sb_encode(uint8_t *p, uint32_t block, uint64_t seg_bytes, uint32_t nsegs, uint64_t id,
	  uint64_t now_ms)
{
	memset(p, 0, block);
	sp_le_st32(p + 0, SB_MAGIC);
	sp_le_st32(p + 4, SP_STORE_VERSION | SB_HDR_LEN << 16);
	sp_le_st32(p + 8, block);
	sp_le_st64(p + 16, seg_bytes);
	sp_le_st32(p + 24, nsegs);
	sp_le_st64(p + 32, id);
	sp_le_st64(p + 40, now_ms);
	sp_le_st32(p + 60, sp_crc32c(0, p, 60));
}

static int
sb_decode(const uint8_t *p, uint32_t *block, uint64_t *seg_bytes, uint32_t *nsegs)
{
	uint32_t ver = sp_le_ld32(p + 4);

	if (sp_le_ld32(p) != SB_MAGIC || sp_le_ld32(p + 60) != sp_crc32c(0, p, 60)) {
		return -EINVAL;
	}
	if ((ver & 0xffff) != SP_STORE_VERSION) {
		return -ENOTSUP;
	}
	if (ver >> 16 != SB_HDR_LEN || sp_le_ld32(p + 12) != 0 || sp_le_ld32(p + 28) != 0 ||
	    !all_zero(p + 48, 12)) {
		return -EINVAL;
	}
	*block = sp_le_ld32(p + 8);
	*seg_bytes = sp_le_ld64(p + 16);
	*nsegs = sp_le_ld32(p + 24);
	return 0;
}

static int
store_geometry(struct sp_store *s, struct sp_store_recovery *rep)
{
	uint8_t *buf = s->conf.scratch;
	uint32_t block = s->conf.block;
	int rc = store_rw(s, SP_IO_READ, 0, buf, block);

	if (rc != 0) {
		return rc;
	}
	if (all_zero(buf, block)) {
		uint64_t n = (s->conf.size - SP_STORE_SB_BYTES) / s->conf.seg_bytes;

		if (s->conf.size < SP_STORE_SB_BYTES + s->conf.seg_bytes) {
			return -EINVAL;
		}
		n = SP_MIN(n, (uint64_t)SP_STORE_MAX_SEGS);
		sb_encode(buf, block, s->conf.seg_bytes, (uint32_t)n, s->conf.store_id,
			  s->conf.now_ms);
		rc = store_rw(s, SP_IO_WRITE, 0, buf, block);
		if (rc != 0) {
			return rc;
		}
		rep->formatted = true;
	}
	rc = sb_decode(buf, &s->block, &s->seg_bytes, &s->nsegs);
	if (rc != 0) {
		return rc;
	}
	if (s->block < block || s->block > SP_SEG_BLOCK_MAX || (s->block & (s->block - 1)) != 0 ||
	    s->seg_bytes % SP_SEG_BLOCK_MAX != 0 ||
	    s->seg_bytes < 4u * (uint64_t)SP_SEG_BLOCK_MAX || s->nsegs == 0 ||
	    s->nsegs > SP_STORE_MAX_SEGS ||
	    SP_STORE_SB_BYTES + (uint64_t)s->nsegs * s->seg_bytes > s->conf.size ||
	    s->conf.scratch_len < SP_MIN((uint64_t)SP_STORE_WBUF_MIN, s->seg_bytes)) {
		return -EINVAL;
	}
	return 0;
}

/* 1 when segment g is all zero from off (block-aligned) to its end, 0 if not, or an errno. */
static int
recover_zero_tail(struct sp_store *s, uint32_t g, uint64_t off, struct sp_store_recovery *rep)
{
	uint64_t window = SP_MIN((uint64_t)s->conf.scratch_len, s->seg_bytes);

	while (off < s->seg_bytes) {
		uint64_t len = SP_MIN(window, s->seg_bytes - off);
		int rc =
		    store_rw(s, SP_IO_READ, seg_base(s, g) + off, s->conf.scratch, (uint32_t)len);

		if (rc != 0) {
			return rc;
		}
		rep->bytes_scanned += len;
		if (!all_zero(s->conf.scratch, (size_t)len)) {
			return 0;
		}
		off += len;
	}
	return 1;
}

/* Scan segment g (header h) through the scratch window; fills the segment's record state. */
static int
recover_scan(struct sp_store *s, uint32_t g, const struct sp_seg_hdr *h, struct sp_seg_scan *sc,
	     struct sp_store_recovery *rep)
{
	struct store_seg *sg = &s->segs[g];
	uint8_t *buf = s->conf.scratch;
	uint64_t window = SP_MIN((uint64_t)s->conf.scratch_len, s->seg_bytes);

	sp_seg_scan_init(sc, h, &sg->idx, NULL, NULL);
	while (sc->stop == SP_SEG_STOP_NONE) {
		uint64_t pos = align_down(sc->next_off, s->block);
		uint64_t len = SP_MIN(window, s->seg_bytes - pos);
		int rc = store_rw(s, SP_IO_READ, seg_base(s, g) + pos, buf, (uint32_t)len);

		if (rc != 0) {
			return rc;
		}
		rep->bytes_scanned += len;
		(void)sp_seg_scan(sc, buf, pos, (size_t)len, pos + len == s->seg_bytes);
		if (sc->stop == SP_SEG_STOP_NONE && align_down(sc->next_off, s->block) == pos) {
			/* a window holds any frame: the scan waits at zero fill, all zero so far */
			int z = recover_zero_tail(s, g, pos + len, rep);

			if (z < 0) {
				return z;
			}
			sc->stop = z == 1 ? SP_SEG_STOP_CLEAN : SP_SEG_STOP_TORN;
			sc->why = z == 1 ? SP_SEG_OK : SP_SEG_WHY_ZERO_DIRTY;
		}
	}
	sg->first_seq = h->first_seq;
	sg->created_ms = h->created_ms;
	sg->sealed = (h->flags & SP_SEG_F_SEALED) != 0;
	memcpy(sg->key_fp, h->key_fp, sizeof(sg->key_fp));
	sg->records = sc->records;
	sg->last_seq = sc->last_seq;
	sg->dur_last = sc->last_seq;
	sg->max_ms = sc->max_ms;
	sg->end = sc->next_off;
	sg->dur_end = sc->next_off;
	return 0;
}

/* A cut at sg->end: rewrite its block as prefix + zero fill and zero the rest. */
static int
recover_cut(struct sp_store *s, uint32_t g, struct sp_store_recovery *rep)
{
	struct store_seg *sg = &s->segs[g];
	uint8_t *buf = s->conf.scratch;
	uint64_t pos = align_down(sg->end, s->block);
	uint64_t chunk = SP_MIN((uint64_t)s->conf.scratch_len, s->seg_bytes);
	int rc = store_rw(s, SP_IO_READ, seg_base(s, g) + pos, buf, s->block);

	if (rc != 0) {
		return rc;
	}
	memset(buf + (sg->end - pos), 0, s->block - (sg->end - pos));
	rc = store_rw(s, SP_IO_WRITE, seg_base(s, g) + pos, buf, s->block);
	if (rc != 0) {
		return rc;
	}
	memset(buf, 0, chunk);
	for (uint64_t off = pos + s->block; off < s->seg_bytes;) {
		uint64_t len = SP_MIN(chunk, s->seg_bytes - off);

		rc = store_rw(s, SP_IO_WRITE, seg_base(s, g) + off, buf, (uint32_t)len);
		if (rc != 0) {
			return rc;
		}
		off += len;
	}
	rep->cut_bytes += s->seg_bytes - sg->end;
	return 0;
}

/* Insert g into l's chain by first number; false when its numbers overlap a neighbour's. */
static bool
recover_link(struct sp_store *s, struct sp_slog *l, uint32_t g)
{
	struct store_seg *sg = &s->segs[g];
	uint32_t prev = SEG_NONE, cur = l->head;

	while (cur != SEG_NONE && s->segs[cur].first_seq < sg->first_seq) {
		prev = cur;
		cur = s->segs[cur].next;
	}
	if (prev != SEG_NONE && s->segs[prev].records > 0 &&
	    s->segs[prev].last_seq >= sg->first_seq) {
		return false;
	}
	if (cur != SEG_NONE && (s->segs[cur].first_seq == sg->first_seq ||
				(sg->records > 0 && sg->last_seq >= s->segs[cur].first_seq))) {
		return false;
	}
	sg->log = l->slot + 1;
	sg->next = cur;
	if (prev == SEG_NONE) {
		l->head = g;
	} else {
		s->segs[prev].next = g;
	}
	if (cur == SEG_NONE) {
		l->tail = g;
	}
	l->nsegs++;
	return true;
}

static int
recover_logs(struct sp_store *s, struct sp_store_recovery *rep)
{
	for (uint32_t i = 0; i < s->nlogs; i++) {
		struct sp_slog *l = &s->logs[i];
		struct store_seg *t;
		int rc;

		for (uint32_t g = l->head; g != SEG_NONE; g = s->segs[g].next) {
			const struct store_seg *sg = &s->segs[g];

			if (sg->records == 0) {
				continue;
			}
			if (!l->any) {
				l->first_seq =
				    sg->idx.ent[0].seq; /* the index starts at the first record */
				l->any = true;
			}
			l->last_seq = sg->last_seq;
			l->records += sg->records;
			l->max_ms = SP_MAX(l->max_ms, sg->max_ms);
		}
		if (l->any) {
			log_publish(l, l->last_seq);
		}
		rep->records += l->records;
		if (l->tail == SEG_NONE) {
			continue; /* every segment overlapped another */
		}
		/* the block holding the tail's end, for the writer to continue from */
		t = &s->segs[l->tail];
		l->tail_block = aligned_alloc(s->block, s->block);
		if (l->tail_block == NULL) {
			return -ENOMEM;
		}
		rc = store_rw(s, SP_IO_READ, seg_base(s, l->tail) + align_down(t->end, s->block),
			      s->conf.scratch, s->block);
		if (rc != 0) {
			return rc;
		}
		memcpy(l->tail_block, s->conf.scratch, s->block);
	}
	return 0;
}

int
sp_store_recover(struct sp_store *s, struct sp_store_recovery *rep)
{
	int rc;

	SP_VERIFY(s->segs == NULL && s->nlogs == 0);
	memset(rep, 0, sizeof(*rep));
	rc = store_geometry(s, rep);
	if (rc != 0) {
		return rc;
	}
	rep->segs = s->nsegs;
	s->segs = calloc(s->nsegs, sizeof(*s->segs));
	s->ents = calloc((size_t)s->nsegs * s->conf.index_cap, sizeof(*s->ents));
	s->freeq = calloc(s->nsegs, sizeof(*s->freeq));
	s->zero_block = aligned_alloc(s->block, s->block);
	if (s->segs == NULL || s->ents == NULL || s->freeq == NULL || s->zero_block == NULL) {
		return -ENOMEM;
	}
	memset(s->zero_block, 0, s->block);
	for (uint32_t g = 0; g < s->nsegs; g++) {
		uint8_t *buf = s->conf.scratch;
		struct sp_seg_hdr h;
		struct sp_seg_scan sc;
		struct sp_slog *l;

		seg_reset(s, g);
		rc = store_rw(s, SP_IO_READ, seg_base(s, g), buf, s->block);
		if (rc != 0) {
			return rc;
		}
		if (all_zero(buf, s->block)) {
			continue;
		}
		if (sp_seg_hdr_decode(buf, s->block, &h) != 0 || h.block_size != s->block) {
			rep->bad_headers++;
			continue;
		}
		rc = recover_scan(s, g, &h, &sc, rep);
		if (rc != 0) {
			return rc;
		}
		l = sp_store_log_find(s, h.stream_tag, h.shard_index);
		if (l == NULL && (l = log_new(s, h.stream_tag, h.shard_index)) == NULL) {
			return -ENOSPC;
		}
		if (!recover_link(s, l, g)) {
			rep->overlaps++;
			seg_reset(s, g);
			continue;
		}
		rep->segs_used++;
		if (sc.stop != SP_SEG_STOP_CLEAN) {
			rep->torn += sc.stop == SP_SEG_STOP_TORN;
			rep->corrupt += sc.stop == SP_SEG_STOP_CORRUPT;
			rc = recover_cut(s, g, rep);
			if (rc != 0) {
				return rc;
			}
		}
	}
	rep->logs = s->nlogs;
	for (uint32_t g = 0; g < s->nsegs; g++) {
		s->nfree += s->segs[g].log == 0;
	}
	return recover_logs(s, rep);
}

/* ---- cold reads ---- */

/* Point rd's window at frame offset off of its segment. */
static void
read_window(struct sp_slog_read *rd, uint64_t off, uint32_t block)
{
	uint64_t start = align_down(off, block);

	rd->offset = rd->base + start;
	rd->len = (uint32_t)SP_MIN((uint64_t)rd->max_len, align_up(rd->dur_end, block) - start);
	rd->seg_off = start;
	rd->from = off;
	rd->end = SP_MIN(rd->dur_end, start + rd->len);
}

static int
read_plan(const struct sp_slog *l, uint32_t g, uint64_t from, uint32_t max_len,
	  struct sp_slog_read *rd)
{
	const struct sp_store *s = l->s;
	const struct store_seg *sg = &s->segs[g];

	SP_VERIFY(max_len >= 2u * s->block && max_len % s->block == 0);
	SP_VERIFY(from >= s->block && from < sg->dur_end);
	rd->seg = g;
	rd->file = s->conf.file;
	rd->block = s->block;
	rd->base = seg_base(s, g);
	rd->dur_end = sg->dur_end;
	rd->max_len = max_len;
	rd->sealed = sg->sealed;
	memcpy(rd->key_fp, sg->key_fp, sizeof(rd->key_fp));
	read_window(rd, from, s->block);
	return 0;
}

int
sp_slog_read_plan(const struct sp_slog *l, sp_u128 seq, uint32_t max_len, struct sp_slog_read *rd)
{
	const struct sp_store *s = l->s;

	for (uint32_t g = l->head; g != SEG_NONE; g = s->segs[g].next) {
		const struct store_seg *sg = &s->segs[g];

		if (sg->dur_end > s->block && sg->dur_last >= seq) {
			memset(rd, 0, sizeof(*rd));
			rd->seq = seq;
			return read_plan(l, g, sp_seg_index_seek_seq(&sg->idx, seq, s->block),
					 max_len, rd);
		}
	}
	return -ENOENT;
}

int
sp_slog_read_plan_time(const struct sp_slog *l, uint64_t t_ms, uint32_t max_len,
		       struct sp_slog_read *rd)
{
	const struct sp_store *s = l->s;

	for (uint32_t g = l->head; g != SEG_NONE; g = s->segs[g].next) {
		const struct store_seg *sg = &s->segs[g];
		uint64_t max_ms = 0, from;

		/* max_ms covers appended records; the walk stops at the durable end */
		if (sg->dur_end > s->block && sg->max_ms >= t_ms) {
			from = sp_seg_index_seek_time(&sg->idx, t_ms, s->block, &max_ms);
			if (from >= sg->dur_end) {
				continue;
			}
			memset(rd, 0, sizeof(*rd));
			rd->by_time = true;
			rd->t_ms = t_ms;
			rd->max_ms = max_ms;
			return read_plan(l, g, from, max_len, rd);
		}
	}
	return -ENOENT;
}

int
sp_slog_read_walk(struct sp_slog_read *rd, const uint8_t *buf, struct sp_seg_rec *out, unsigned max,
		  sp_u128 *next_seq)
{
	uint64_t off = rd->from, max_ms = rd->max_ms;
	unsigned n = 0;

	SP_VERIFY(rd->end >= rd->seg_off && rd->from >= rd->seg_off && max > 0);
	*next_seq = rd->seq;
	while (off < rd->end) {
		struct sp_seg_rec r;
		long m =
		    sp_seg_frame_decode(buf + (off - rd->seg_off), (size_t)(rd->end - off), &r);

		if (m < 0) {
			return -EBADMSG;
		}
		if (m == 0) {
			break; /* runs past this read */
		}
		if (n == 0 &&
		    (rd->by_time ? SP_MAX(max_ms, r.arrival_ms) < rd->t_ms : r.seq < rd->seq)) {
			max_ms = SP_MAX(max_ms, r.arrival_ms);
			off += (uint64_t)m;
			continue;
		}
		out[n++] = r;
		*next_seq = r.seq + 1;
		off += (uint64_t)m;
		if (n == max) {
			break;
		}
	}
	if (n > 0) {
		return (int)n;
	}
	if (off >= rd->dur_end) {
		return -ENOENT; /* nothing durable at or after the target in this segment */
	}
	if (off == rd->from && rd->seg_off == align_down(off, rd->block)) {
		return -EMSGSIZE; /* the frame at from is longer than the window */
	}
	rd->max_ms = max_ms;
	read_window(rd, off, rd->block);
	return 0;
}
