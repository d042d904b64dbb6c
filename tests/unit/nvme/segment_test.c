/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for nvme/segment: header round trip and every header bit flip; random records
 * (0..64 KiB, a few up to 10 MiB) written through a small writer buffer (flush, compact,
 * rewrite of the last partial block) into a file image and read back byte-exact; a cut at
 * every byte of the last two records (truncated, and zero-filled as a disk shows it); a bit
 * flip at every byte of a small segment; writer limits; chunked scans equal whole ones;
 * resume after a scan; index lookups (with thinning) against a linear scan.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sp_test.h"

#include "segment.h"

#define BLOCK 4096u
#define SHARD 3u
#define TAG   0x12345u
#define T0_MS 1700000000000ull

struct trec {
	sp_u128 seq;
	uint64_t ms;
	uint8_t *key;
	uint8_t *data;
	uint32_t data_len;
	uint16_t key_len;
	uint64_t off; /* frame offset in the image */
	uint64_t end;
};

struct image {
	uint8_t *b;
	size_t len;
	size_t cap;
};

static uint64_t g_rng = 0x2545f4914f6cdd1dull;

static uint64_t
rng_next(void)
{
	g_rng ^= g_rng << 13;
	g_rng ^= g_rng >> 7;
	g_rng ^= g_rng << 17;
	return g_rng;
}

static sp_u128
mk_seq(uint64_t counter)
{
	struct sp_seqno_fields f = {
	    .epoch = 7, .node = 0, .counter = counter, .stream_tag = TAG, .shard_index = SHARD};

	return sp_seqno_pack(&f);
}

static struct sp_seg_hdr
mk_hdr(void)
{
	return (struct sp_seg_hdr){.version = SP_SEG_VERSION,
				   .block_size = BLOCK,
				   .shard_index = SHARD,
				   .stream_tag = TAG,
				   .first_seq = mk_seq(1),
				   .created_ms = T0_MS};
}

/* n records; data sizes up to max_data, and big ones (up to 10 MiB) with probability 1/big. */
static struct trec *
gen_records(unsigned n, uint32_t max_data, unsigned big)
{
	struct trec *r = calloc(n, sizeof(*r));
	uint64_t counter = 1, ms = T0_MS;

	assert_non_null(r);
	for (unsigned i = 0; i < n; i++) {
		counter += 1 + (rng_next() % 4 == 0 ? rng_next() % 1000 : 0);
		/* mostly forward, sometimes a small step back (allowed) */
		ms = ms + rng_next() % 50 - (rng_next() % 32 == 0 ? rng_next() % 500 : 0);
		r[i].seq = mk_seq(counter);
		r[i].ms = ms;
		r[i].key_len = (uint16_t)(rng_next() % (SP_SEG_KEY_MAX + 1));
		r[i].data_len = (uint32_t)(rng_next() % (max_data + 1));
		if (big != 0 && rng_next() % big == 0) {
			r[i].data_len = SP_SEG_DATA_MAX - (uint32_t)(rng_next() % 3 * 4097);
		}
		r[i].key = malloc(r[i].key_len + 1u);
		r[i].data = malloc(r[i].data_len + 1u);
		assert_true(r[i].key != NULL && r[i].data != NULL);
		for (unsigned k = 0; k < r[i].key_len; k++) {
			r[i].key[k] = (uint8_t)rng_next();
		}
		for (uint32_t k = 0; k < r[i].data_len; k += 8) {
			uint64_t v = rng_next();

			memcpy(r[i].data + k, &v, r[i].data_len - k < 8 ? r[i].data_len - k : 8);
		}
	}
	return r;
}

static void
free_records(struct trec *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		free(r[i].key);
		free(r[i].data);
	}
	free(r);
}

static void
img_write(struct image *img, uint64_t off, const uint8_t *p, size_t len)
{
	if (off + len > img->cap) {
		size_t cap = (off + len) * 2;

		img->b = realloc(img->b, cap);
		assert_non_null(img->b);
		memset(img->b + img->cap, 0xee, cap - img->cap); /* never read unless written */
		img->cap = cap;
	}
	memcpy(img->b + off, p, len);
	if (off + len > img->len) {
		img->len = off + len;
	}
}

static void
flush_to(struct sp_seg_writer *w, struct image *img)
{
	uint64_t off;
	size_t pos;
	uint32_t len;

	if (sp_seg_flush_range(w, &off, &pos, &len)) {
		assert_int_equal(off % BLOCK, 0);
		assert_int_equal(len % BLOCK, 0);
		img_write(img, off, w->buf + pos, len);
	}
}

static struct sp_seg_rec
as_rec(const struct trec *t)
{
	return (struct sp_seg_rec){.seq = t->seq,
				   .arrival_ms = t->ms,
				   .key = t->key,
				   .data = t->data,
				   .data_len = t->data_len,
				   .key_len = t->key_len};
}

/* Write recs through a writer buffer of bufcap bytes, flushing every few records. */
static void
append_all(struct sp_seg_writer *w, struct image *img, struct trec *recs, unsigned from, unsigned n)
{
	for (unsigned i = from; i < n; i++) {
		struct sp_seg_rec r = as_rec(&recs[i]);
		int rc;

		recs[i].off = sp_seg_writer_end(w);
		rc = sp_seg_append(w, &r);
		if (rc == -ENOBUFS) {
			flush_to(w, img);
			sp_seg_writer_compact(w);
			recs[i].off = sp_seg_writer_end(w);
			rc = sp_seg_append(w, &r);
		}
		assert_int_equal(rc, 0);
		recs[i].end = sp_seg_writer_end(w);
		if (rng_next() % 5 == 0) {
			flush_to(w, img);
		}
	}
	flush_to(w, img);
}

static void *
alloc_buf(size_t cap)
{
	void *p = aligned_alloc(BLOCK, cap);

	assert_non_null(p);
	return p;
}

static void
build_image(struct trec *recs, unsigned n, size_t bufcap, struct image *img)
{
	struct sp_seg_hdr h = mk_hdr();
	struct sp_seg_writer w;
	void *buf = alloc_buf(bufcap);

	memset(img, 0, sizeof(*img));
	assert_int_equal(sp_seg_writer_init(&w, buf, bufcap, &h), 0);
	append_all(&w, img, recs, 0, n);
	free(buf);
}

struct visit_ctx {
	const struct trec *recs;
	unsigned n;
	unsigned i;
};

static int
visit_cmp(void *arg, const struct sp_seg_rec *r, uint64_t off)
{
	struct visit_ctx *v = arg;
	const struct trec *t;

	assert_true(v->i < v->n);
	t = &v->recs[v->i++];
	assert_true(r->seq == t->seq);
	assert_int_equal(off, t->off);
	assert_int_equal(r->arrival_ms, t->ms);
	assert_int_equal(r->key_len, t->key_len);
	assert_int_equal(r->data_len, t->data_len);
	assert_memory_equal(r->key, t->key, t->key_len);
	if (t->data_len > 0) {
		assert_memory_equal(r->data, t->data, t->data_len);
	}
	return 0;
}

/* Scan img[0..len) and check: exactly `whole` records, byte-exact, prefix end and stop kind. */
static enum sp_seg_stop
scan_expect(const uint8_t *img, size_t len, const struct trec *recs, unsigned n, unsigned whole,
	    enum sp_seg_stop stop)
{
	struct visit_ctx v = {.recs = recs, .n = n};
	struct sp_seg_scan s;

	assert_int_equal(sp_seg_scan_all(&s, img, len, NULL, visit_cmp, &v), 0);
	assert_int_equal(s.records, whole);
	assert_int_equal(v.i, whole);
	assert_int_equal(s.next_off, whole == 0 ? BLOCK : recs[whole - 1].end);
	if (stop != SP_SEG_STOP_NONE) {
		assert_int_equal(s.stop, stop);
	}
	assert_true(s.stop != SP_SEG_STOP_NONE);
	return s.stop;
}

static bool
is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != 0) {
			return false;
		}
	}
	return true;
}

static void
test_header(void **state)
{
	struct sp_seg_hdr h = mk_hdr(), g;
	uint8_t *b = alloc_buf(BLOCK);

	(void)state;
	assert_int_equal(sp_seg_hdr_encode(b, &h), 0);
	assert_int_equal(sp_seg_hdr_decode(b, BLOCK, &g), 0);
	assert_true(g.first_seq == h.first_seq);
	assert_int_equal(g.block_size, BLOCK);
	assert_int_equal(g.shard_index, SHARD);
	assert_int_equal(g.stream_tag, TAG);
	assert_int_equal(g.created_ms, T0_MS);
	assert_int_equal(sp_seg_hdr_decode(b, SP_SEG_HDR_BYTES - 1, &g), -EMSGSIZE);
	for (unsigned bit = 0; bit < SP_SEG_HDR_BYTES * 8; bit++) {
		b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_true(sp_seg_hdr_decode(b, BLOCK, &g) < 0);
		b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	h.block_size = 1000;
	assert_int_equal(sp_seg_hdr_encode(b, &h), -EINVAL);
	free(b);
}

static void
test_round_trip(void **state)
{
	enum { N = 400 };
	struct trec *recs = gen_records(N, 64 * 1024, 100);
	struct image img;

	(void)state;
	/* buffer: two of the largest frames plus a block, so big records need compaction */
	build_image(recs, N, (2 * (SP_SEG_FRAME_MAX + BLOCK) + BLOCK - 1) / BLOCK * BLOCK, &img);
	assert_int_equal(img.len % BLOCK, 0);
	{
		unsigned big = 0;

		for (unsigned i = 0; i < N; i++) {
			big += recs[i].data_len > 1024 * 1024;
		}
		printf("# %u records (%u over 1 MiB), %zu bytes\n", N, big, img.len);
		assert_true(big > 0);
	}
	(void)scan_expect(img.b, img.len, recs, N, N, SP_SEG_STOP_CLEAN);
	/* without the zero fill: the range ends on the last frame */
	(void)scan_expect(img.b, recs[N - 1].end, recs, N, N, SP_SEG_STOP_CLEAN);
	free(img.b);
	free_records(recs, N);
}

static void
test_torn_tail_every_cut(void **state)
{
	enum { N = 30 };
	struct trec *recs = gen_records(N, 700, 0);
	struct image img;
	uint8_t *copy;

	(void)state;
	build_image(recs, N, 4 * BLOCK, &img);
	copy = malloc(img.len + BLOCK);
	assert_non_null(copy);
	for (uint64_t cut = recs[N - 3].end; cut <= recs[N - 1].end; cut++) {
		unsigned whole = cut >= recs[N - 1].end   ? N
				 : cut >= recs[N - 2].end ? N - 1
							  : N - 2;
		bool boundary = cut == recs[whole - 1].end;
		size_t zlen = (size_t)((cut + BLOCK - 1) / BLOCK * BLOCK);

		/* truncated file */
		(void)scan_expect(img.b, (size_t)cut, recs, N, whole,
				  boundary ? SP_SEG_STOP_CLEAN : SP_SEG_STOP_TORN);
		/*
		 * The same cut as a disk shows it: zeros to the end of the block. When the
		 * record's missing bytes were zeros anyway (a zero data length), it survives.
		 */
		memcpy(copy, img.b, (size_t)cut);
		memset(copy + cut, 0, zlen + BLOCK - cut);
		if (!boundary && is_zero(img.b + cut, (size_t)(recs[whole].end - cut))) {
			whole++;
			boundary = true;
		}
		(void)scan_expect(copy, zlen + BLOCK, recs, N, whole,
				  boundary ? SP_SEG_STOP_CLEAN : SP_SEG_STOP_TORN);
	}
	free(copy);
	free(img.b);
	free_records(recs, N);
}

static void
test_bit_flips(void **state)
{
	enum { N = 12 };
	struct trec *recs = gen_records(N, 300, 0);
	struct image img;
	struct sp_seg_scan s;

	(void)state;
	build_image(recs, N, 4 * BLOCK, &img);
	for (size_t pos = 0; pos < img.len; pos++) {
		uint8_t bit = (uint8_t)(1u << (rng_next() % 8));
		unsigned whole = 0;

		while (whole < N && recs[whole].end <= pos) {
			whole++;
		}
		img.b[pos] ^= bit;
		if (pos < SP_SEG_HDR_BYTES) {
			assert_true(sp_seg_scan_all(&s, img.b, img.len, NULL, NULL, NULL) < 0);
		} else if (pos < BLOCK) {
			/* reserved header bytes: written zero, not covered */
			(void)scan_expect(img.b, img.len, recs, N, N, SP_SEG_STOP_CLEAN);
		} else {
			/* the flipped frame and everything after it are cut */
			assert_int_not_equal(
			    scan_expect(img.b, img.len, recs, N, whole, SP_SEG_STOP_NONE),
			    SP_SEG_STOP_CLEAN);
		}
		img.b[pos] ^= bit;
	}
	free(img.b);
	free_records(recs, N);
}

static void
test_corrupt_vs_torn(void **state)
{
	enum { N = 10 };
	struct trec *recs = gen_records(N, 200, 0);
	struct image img;
	struct sp_seg_scan s;

	(void)state;
	build_image(recs, N, 4 * BLOCK, &img);
	/* a data byte of record 4: later records verify, so this is damage inside the log */
	img.b[recs[4].end - 1] ^= 0x10;
	assert_int_equal(sp_seg_scan_all(&s, img.b, img.len, NULL, NULL, NULL), 0);
	assert_int_equal(s.records, 4);
	assert_int_equal(s.stop, SP_SEG_STOP_CORRUPT);
	assert_int_equal(s.why, SP_SEG_WHY_CRC);
	img.b[recs[4].end - 1] ^= 0x10;
	/* the last record's data: nothing after it, torn */
	img.b[recs[N - 1].end - 1] ^= 0x10;
	assert_int_equal(sp_seg_scan_all(&s, img.b, img.len, NULL, NULL, NULL), 0);
	assert_int_equal(s.records, N - 1);
	assert_int_equal(s.stop, SP_SEG_STOP_TORN);
	img.b[recs[N - 1].end - 1] ^= 0x10;
	/* a key length that puts the data length field past the frame (found by fuzzing) */
	{
		uint8_t save[4];
		uint16_t klen = 200;
		uint32_t flen = SP_SEG_FRAME_FIXED + 2;

		memcpy(save, img.b + recs[2].off, 4);
		memcpy(img.b + recs[2].off, &flen, 4);
		memcpy(img.b + recs[2].off + 32, &klen, 2);
		assert_int_equal(sp_seg_scan_all(&s, img.b, img.len, NULL, NULL, NULL), 0);
		assert_int_equal(s.records, 2);
		assert_int_equal(s.why, SP_SEG_WHY_LENGTH);
		memcpy(img.b + recs[2].off, save, 4);
		klen = recs[2].key_len;
		memcpy(img.b + recs[2].off + 32, &klen, 2);
	}
	/* garbage in the zero fill after the last record */
	img.b[img.len - 1] = 1;
	assert_int_equal(sp_seg_scan_all(&s, img.b, img.len, NULL, NULL, NULL), 0);
	assert_int_equal(s.records, N);
	assert_int_equal(s.stop, SP_SEG_STOP_TORN);
	assert_int_equal(s.why, SP_SEG_WHY_ZERO_DIRTY);
	free(img.b);
	free_records(recs, N);
}

static void
test_writer_limits(void **state)
{
	struct sp_seg_hdr h = mk_hdr();
	struct sp_seg_writer w;
	void *buf = alloc_buf(4 * BLOCK);
	uint8_t k[SP_SEG_KEY_MAX + 1] = {0};
	struct sp_seg_rec r = {.seq = mk_seq(5), .arrival_ms = T0_MS, .key = k, .key_len = 1};

	(void)state;
	assert_int_equal(sp_seg_writer_init(&w, buf, 4 * BLOCK + 1, &h), -EINVAL);
	assert_int_equal(sp_seg_writer_init(&w, buf, BLOCK, &h), -EINVAL);
	assert_int_equal(sp_seg_writer_init(&w, buf, 4 * BLOCK, &h), 0);
	r.key_len = SP_SEG_KEY_MAX + 1;
	assert_int_equal(sp_seg_append(&w, &r), -EINVAL);
	r.key_len = 1;
	r.data_len = SP_SEG_DATA_MAX + 1;
	assert_int_equal(sp_seg_append(&w, &r), -EINVAL);
	r.data_len = 0;
	r.seq = mk_seq(5) ^ 1u; /* another shard */
	assert_int_equal(sp_seg_append(&w, &r), -EINVAL);
	r.seq = 0; /* below first_seq (and another stream) */
	assert_int_equal(sp_seg_append(&w, &r), -EINVAL);
	r.seq = mk_seq(5);
	assert_int_equal(sp_seg_append(&w, &r), 0);
	assert_int_equal(sp_seg_append(&w, &r), -ERANGE); /* not above the last */
	r.seq = mk_seq(6);
	r.arrival_ms = T0_MS - SP_SEG_TIME_BACKSTEP_MS - 1;
	assert_int_equal(sp_seg_append(&w, &r), -ERANGE);
	r.arrival_ms = T0_MS - SP_SEG_TIME_BACKSTEP_MS;
	assert_int_equal(sp_seg_append(&w, &r), 0);
	r.seq = mk_seq(7);
	r.data_len = 3 * BLOCK; /* never fits this buffer */
	r.data = buf;
	assert_int_equal(sp_seg_append(&w, &r), -EMSGSIZE);
	r.data_len = 3 * BLOCK - 100; /* fits once compacted */
	assert_int_equal(sp_seg_append(&w, &r), -ENOBUFS);
	free(buf);
}

/* Chunked scans (final false, then more bytes) equal one scan of the whole image. */
static void
test_chunked_scan(void **state)
{
	enum { N = 300 };
	struct trec *recs = gen_records(N, 3000, 0);
	struct image img;
	struct visit_ctx v = {.recs = recs, .n = N};
	struct sp_seg_hdr h;
	struct sp_seg_scan s;

	(void)state;
	build_image(recs, N, 8 * BLOCK, &img);
	assert_int_equal(sp_seg_hdr_decode(img.b, img.len, &h), 0);
	sp_seg_scan_init(&s, &h, NULL, visit_cmp, &v);
	while (s.stop == SP_SEG_STOP_NONE) {
		/* a window starting at the next frame, of a random length */
		size_t win = 1 + (size_t)(rng_next() % (3 * BLOCK));
		uint64_t start = s.next_off;
		bool final = start + win >= img.len;

		if (final) {
			win = img.len - start;
		}
		(void)sp_seg_scan(&s, img.b + start, start, win, final);
	}
	assert_int_equal(s.stop, SP_SEG_STOP_CLEAN);
	assert_int_equal(s.records, N);
	assert_int_equal(s.next_off, recs[N - 1].end);
	free(img.b);
	free_records(recs, N);
}

/* Scan a segment, resume a writer at its valid end (cut mid-record), append, scan again. */
static void
test_resume(void **state)
{
	enum { N = 60, M = 40 };
	struct trec *recs = gen_records(N + M, 900, 0);
	struct image img;
	struct sp_seg_scan s;
	struct sp_seg_writer w;
	uint64_t cut;
	uint8_t *buf = alloc_buf(8 * BLOCK);

	(void)state;
	build_image(recs, N, 8 * BLOCK, &img);
	/* tear record N-1 in the middle: the image keeps garbage after the cut */
	cut = recs[N - 1].off + (recs[N - 1].end - recs[N - 1].off) / 2;
	memset(img.b + cut, 0xa5, (size_t)(recs[N - 1].end - cut));
	assert_int_equal(sp_seg_scan_all(&s, img.b, img.len, NULL, NULL, NULL), 0);
	assert_int_equal(s.records, N - 1);
	assert_int_equal(s.stop, SP_SEG_STOP_TORN);
	memcpy(buf, img.b + s.next_off / BLOCK * BLOCK, BLOCK);
	assert_int_equal(
	    sp_seg_writer_resume(&w, buf, 8 * BLOCK, &s.hdr, s.next_off, s.last_seq + 1, s.max_ms),
	    0);
	/* the torn record is lost; M new ones follow the N-1 survivors */
	free(recs[N - 1].key);
	free(recs[N - 1].data);
	memmove(&recs[N - 1], &recs[N], sizeof(*recs) * M);
	append_all(&w, &img, recs, N - 1, N - 1 + M);
	(void)scan_expect(img.b, img.len, recs, N - 1 + M, N - 1 + M, SP_SEG_STOP_NONE);
	free(buf);
	free(img.b);
	free_records(recs, N - 1 + M);
}

static void
test_index_lookups(void **state)
{
	enum { N = 5000, CAP = 16 };
	struct trec *recs = gen_records(N, 120, 0);
	struct sp_seg_index_ent ent[CAP];
	struct sp_seg_index idx;
	struct image img;
	struct sp_seg_scan s;
	uint64_t off, max_ms;

	(void)state;
	build_image(recs, N, 8 * BLOCK, &img);
	sp_seg_index_init(&idx, ent, CAP, 8, 4096);
	assert_int_equal(sp_seg_scan_all(&s, img.b, img.len, &idx, NULL, NULL), 0);
	assert_int_equal(s.records, N);
	assert_true(idx.n >= CAP / 2 && idx.n <= CAP);
	assert_true(idx.every_recs > 8); /* thinned */
	assert_int_equal(ent[0].off, BLOCK);
	for (unsigned q = 0; q < 3000; q++) {
		unsigned pick = (unsigned)(rng_next() % N);
		sp_u128 target = recs[pick].seq - (q % 3 == 0 ? 1 : 0) + (q % 7 == 0 ? 2 : 0);
		uint64_t t_ms = recs[pick].ms + rng_next() % 3 - 1;
		unsigned want = 0;
		uint64_t run = 0;
		int rc;

		if (q == 0) {
			target = mk_seq(0);
		} else if (q == 1) {
			target = recs[N - 1].seq + 1;
			t_ms = UINT64_MAX;
		}
		while (want < N && recs[want].seq < target) {
			want++;
		}
		off = sp_seg_index_seek_seq(&idx, target, BLOCK);
		rc = sp_seg_find_seq(img.b, 0, s.next_off, off, target, &off);
		if (want == N) {
			assert_int_equal(rc, -ENOENT);
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(off, recs[want].off);
		}
		for (want = 0; want < N; want++) {
			run = recs[want].ms > run ? recs[want].ms : run;
			if (run >= t_ms) {
				break;
			}
		}
		off = sp_seg_index_seek_time(&idx, t_ms, BLOCK, &max_ms);
		rc = sp_seg_find_time(img.b, 0, s.next_off, off, max_ms, t_ms, &off);
		if (want == N) {
			assert_int_equal(rc, -ENOENT);
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(off, recs[want].off);
		}
	}
	free(img.b);
	free_records(recs, N);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_header),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_torn_tail_every_cut),
	    cmocka_unit_test(test_bit_flips),
	    cmocka_unit_test(test_corrupt_vs_torn),
	    cmocka_unit_test(test_writer_limits),
	    cmocka_unit_test(test_chunked_scan),
	    cmocka_unit_test(test_resume),
	    cmocka_unit_test(test_index_lookups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
