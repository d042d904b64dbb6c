/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for sealed segments (nvme/segment.c's sealing rules, nvme/seal.c's AES-256-GCM):
 * records sealed on append read back byte-exact after opening, and none of their key or data
 * bytes is in the image in clear; the header carries the flag and the key's fingerprint; a
 * wrong key, a flipped ciphertext byte or a changed authenticated field (CRC made right again,
 * so only the tag can tell) fail to open; the writer refuses a clear record in a sealed
 * segment, a sealed one in a clear segment and a sealer of another key; the scanner stops at a
 * clear frame in a sealed segment; shard keys differ per shard and stream and are stable.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../sp_test.h"

#include "crc32c.h"
#include "le.h"
#include "seal.h"
#include "segment.h"

#define BLOCK 4096u
#define CAP   (64u * BLOCK)
#define SHARD 5u
#define TAG   0x4321u
#define NREC  200u

static const uint8_t k_master[SP_SEAL_KEY_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
static const uint8_t k_other[SP_SEAL_KEY_BYTES] = {42};

static sp_u128
mk_seq(uint64_t counter)
{
	struct sp_seqno_fields f = {
	    .epoch = 3, .node = 0, .counter = counter, .stream_tag = TAG, .shard_index = SHARD};

	return sp_seqno_pack(&f);
}

struct fixture {
	struct sp_seal seal;
	struct sp_seg_sealer sealer;
	uint8_t shard_key[SP_SEAL_KEY_BYTES];
	uint8_t *buf;
	uint8_t keys[NREC][16];
	uint8_t data[NREC][300];
	uint32_t data_len[NREC];
	uint64_t off[NREC];
};

static void
fx_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(sp_seal_init(&f->seal), 0);
	assert_int_equal(
	    sp_seal_shard_key(k_master, "orders", 6, 1700000000000, SHARD, f->shard_key), 0);
	assert_int_equal(sp_seal_key(&f->seal, f->shard_key), 0);
	f->sealer.seal = sp_seal_seal;
	f->sealer.ctx = &f->seal;
	assert_int_equal(sp_seal_fingerprint(k_master, f->sealer.key_fp), 0);
	f->buf = aligned_alloc(BLOCK, CAP);
	assert_non_null(f->buf);
	for (unsigned i = 0; i < NREC; i++) {
		/* a recognisable clear text: "SECRET" in every key and record */
		memset(f->keys[i], 'k', sizeof(f->keys[i]));
		memcpy(f->keys[i], "SECRET", 6);
		f->data_len[i] = 7u + (i * 37u) % 290u;
		for (uint32_t b = 0; b < f->data_len[i]; b++) {
			f->data[i][b] = (uint8_t)(i * 7 + b);
		}
		memcpy(f->data[i], "SECRET!", 7);
	}
}

static void
fx_fini(struct fixture *f)
{
	sp_seal_fini(&f->seal);
	free(f->buf);
}

static struct sp_seg_hdr
mk_hdr(const struct fixture *f, bool sealed)
{
	struct sp_seg_hdr h = {.version = SP_SEG_VERSION,
			       .block_size = BLOCK,
			       .shard_index = SHARD,
			       .stream_tag = TAG,
			       .first_seq = mk_seq(0),
			       .created_ms = 1700000000000ull,
			       .flags = sealed ? SP_SEG_F_SEALED : 0};

	if (sealed) {
		memcpy(h.key_fp, f->sealer.key_fp, sizeof(h.key_fp));
	}
	return h;
}

static struct sp_seg_rec
mk_rec(struct fixture *f, unsigned i, const struct sp_seg_sealer *sealer)
{
	return (struct sp_seg_rec){.seq = mk_seq(i + 1),
				   .arrival_ms = 1700000000000ull + i,
				   .key = f->keys[i],
				   .key_len = sizeof(f->keys[i]),
				   .data = f->data[i],
				   .data_len = f->data_len[i],
				   .sealer = sealer};
}

/* A sealed segment of NREC records in f->buf; returns its end. */
static uint64_t
write_sealed(struct fixture *f)
{
	struct sp_seg_hdr h = mk_hdr(f, true);
	struct sp_seg_writer w;

	assert_int_equal(sp_seg_writer_init(&w, f->buf, CAP, &h), 0);
	for (unsigned i = 0; i < NREC; i++) {
		struct sp_seg_rec r = mk_rec(f, i, &f->sealer);

		f->off[i] = sp_seg_writer_end(&w);
		assert_int_equal(sp_seg_append(&w, &r), 0);
		assert_int_equal(sp_seg_writer_end(&w) - f->off[i],
				 sp_seg_frame_bytes_as(r.key_len, r.data_len, true));
	}
	return sp_seg_writer_end(&w);
}

static bool
contains(const uint8_t *p, size_t n, const char *s)
{
	size_t m = strlen(s);

	for (size_t i = 0; i + m <= n; i++) {
		if (memcmp(p + i, s, m) == 0) {
			return true;
		}
	}
	return false;
}

struct open_ctx {
	struct fixture *f;
	unsigned i;
	int bad;
};

static int
visit_open(void *arg, const struct sp_seg_rec *rin, uint64_t off)
{
	struct open_ctx *v = arg;
	struct fixture *f = v->f;
	struct sp_seg_rec r = *rin;
	unsigned i = v->i++;

	assert_int_equal(off, f->off[i]);
	assert_non_null(r.tag);
	assert_int_equal(sp_seg_rec_open(&r, sp_seal_open, &f->seal), 0);
	assert_null(r.tag);
	assert_int_equal(r.key_len, sizeof(f->keys[i]));
	assert_memory_equal(r.key, f->keys[i], r.key_len);
	assert_int_equal(r.data_len, f->data_len[i]);
	assert_memory_equal(r.data, f->data[i], r.data_len);
	return 0;
}

static void
test_round_trip(void **state)
{
	struct fixture f;
	struct sp_seg_hdr h;
	struct sp_seg_scan s;
	struct open_ctx v = {.f = &f};
	uint64_t end;

	(void)state;
	fx_init(&f);
	end = write_sealed(&f);
	assert_int_equal(sp_seg_hdr_decode(f.buf, BLOCK, &h), 0);
	assert_int_equal(h.flags, SP_SEG_F_SEALED);
	assert_memory_equal(h.key_fp, f.sealer.key_fp, SP_SEG_KEY_FP_BYTES);
	/* at rest: no key or data byte pattern of the clear text */
	assert_false(contains(f.buf, end, "SECRET"));
	assert_int_equal(sp_seg_scan_all(&s, f.buf, end, NULL, visit_open, &v), 0);
	assert_int_equal(v.i, NREC);
	assert_int_equal(s.stop, SP_SEG_STOP_CLEAN);
	fx_fini(&f);
}

/* Make frame i's CRC right again after a change (only the tag can then tell). */
static void
fix_crc(struct fixture *f, unsigned i)
{
	uint8_t *p = f->buf + f->off[i];
	uint32_t flen = sp_le_ld32(p);

	sp_le_st32(p + 4, sp_crc32c(sp_crc32c(0, p, 4), p + 8, flen - 8));
}

static int
open_at(struct fixture *f, unsigned i, struct sp_seal *with)
{
	struct sp_seg_rec r;
	long m = sp_seg_frame_decode(f->buf + f->off[i], CAP - f->off[i], &r);

	assert_true(m > 0);
	return sp_seg_rec_open(&r, sp_seal_open, with);
}

static void
test_tamper(void **state)
{
	struct fixture f;
	struct sp_seal other;
	uint8_t key[SP_SEAL_KEY_BYTES];

	(void)state;
	fx_init(&f);
	(void)write_sealed(&f);
	/* another master key, and the right master for another shard: both fail */
	assert_int_equal(sp_seal_init(&other), 0);
	assert_int_equal(sp_seal_shard_key(k_other, "orders", 6, 1700000000000, SHARD, key), 0);
	assert_int_equal(sp_seal_key(&other, key), 0);
	assert_int_equal(open_at(&f, 3, &other), -EBADMSG);
	assert_int_equal(sp_seal_shard_key(k_master, "orders", 6, 1700000000000, SHARD + 1, key),
			 0);
	assert_int_equal(sp_seal_key(&other, key), 0);
	assert_int_equal(open_at(&f, 4, &other), -EBADMSG);
	sp_seal_fini(&other);
	/* a flipped data byte, CRC fixed */
	f.buf[f.off[10] + 34 + 16 + 4 + 2] ^= 0x01;
	fix_crc(&f, 10);
	assert_int_equal(open_at(&f, 10, &f.seal), -EBADMSG);
	/* a changed arrival time (authenticated, not sealed), CRC fixed */
	f.buf[f.off[11] + 24] ^= 0x80;
	fix_crc(&f, 11);
	assert_int_equal(open_at(&f, 11, &f.seal), -EBADMSG);
	/* a flipped tag byte */
	f.buf[f.off[13] + sp_le_ld32(f.buf + f.off[13]) - 1] ^= 0x40;
	fix_crc(&f, 13);
	assert_int_equal(open_at(&f, 13, &f.seal), -EBADMSG);
	/* the neighbours still open */
	assert_int_equal(open_at(&f, 12, &f.seal), 0);
	assert_int_equal(open_at(&f, 14, &f.seal), 0);
	fx_fini(&f);
}

static void
test_writer_rules(void **state)
{
	struct fixture f;
	struct sp_seg_hdr hs, hc;
	struct sp_seg_writer w;
	struct sp_seg_sealer wrong;
	struct sp_seg_rec r;

	(void)state;
	fx_init(&f);
	hs = mk_hdr(&f, true);
	hc = mk_hdr(&f, false);
	wrong = f.sealer;
	wrong.key_fp[0] ^= 1;
	assert_int_equal(sp_seg_writer_init(&w, f.buf, CAP, &hs), 0);
	r = mk_rec(&f, 0, NULL);
	assert_int_equal(sp_seg_append(&w, &r), -EINVAL);
	r = mk_rec(&f, 0, &wrong);
	assert_int_equal(sp_seg_append(&w, &r), -EINVAL);
	r = mk_rec(&f, 0, &f.sealer);
	assert_int_equal(sp_seg_append(&w, &r), 0);
	assert_int_equal(sp_seg_writer_init(&w, f.buf, CAP, &hc), 0);
	r = mk_rec(&f, 0, &f.sealer);
	assert_int_equal(sp_seg_append(&w, &r), -EINVAL);
	r = mk_rec(&f, 0, NULL);
	assert_int_equal(sp_seg_append(&w, &r), 0);
	/* an unknown header flag is refused both ways */
	hc.flags = 2;
	assert_int_equal(sp_seg_hdr_encode(f.buf, &hc), -EINVAL);
	hc.flags = 0;
	assert_int_equal(sp_seg_hdr_encode(f.buf, &hc), 0);
	sp_le_st32(f.buf + 20, 2);
	sp_le_st32(f.buf + 60, sp_crc32c(0, f.buf, 60));
	assert_int_equal(sp_seg_hdr_decode(f.buf, BLOCK, &hc), -EINVAL);
	/* a clear header with bytes in the fingerprint's place is refused */
	hc = mk_hdr(&f, false);
	assert_int_equal(sp_seg_hdr_encode(f.buf, &hc), 0);
	f.buf[48] = 1;
	sp_le_st32(f.buf + 60, sp_crc32c(0, f.buf, 60));
	assert_int_equal(sp_seg_hdr_decode(f.buf, BLOCK, &hc), -EINVAL);
	fx_fini(&f);
}

/* A clear frame copied into a sealed segment: the scan stops there, as at damage. */
static void
test_scan_mixed(void **state)
{
	struct fixture f;
	struct sp_seg_hdr hc;
	struct sp_seg_writer w;
	struct sp_seg_scan s;
	struct sp_seg_rec r;
	uint8_t *clear = aligned_alloc(BLOCK, CAP);
	uint64_t end;
	size_t flen;

	(void)state;
	assert_non_null(clear);
	fx_init(&f);
	end = write_sealed(&f);
	hc = mk_hdr(&f, false);
	assert_int_equal(sp_seg_writer_init(&w, clear, CAP, &hc), 0);
	r = mk_rec(&f, 0, NULL);
	r.seq = mk_seq(NREC + 1);
	r.arrival_ms += NREC;
	assert_int_equal(sp_seg_append(&w, &r), 0);
	flen = sp_seg_frame_bytes(r.key_len, r.data_len);
	memcpy(f.buf + end, clear + BLOCK, flen);
	assert_int_equal(sp_seg_scan_all(&s, f.buf, end + flen, NULL, NULL, NULL), 0);
	assert_int_equal(s.records, NREC);
	assert_int_equal(s.why, SP_SEG_WHY_SEALING);
	assert_int_equal(s.next_off, end);
	free(clear);
	fx_fini(&f);
}

static void
test_shard_keys(void **state)
{
	uint8_t a[SP_SEAL_KEY_BYTES], b[SP_SEAL_KEY_BYTES], fa[8], fb[8];

	(void)state;
	assert_int_equal(sp_seal_shard_key(k_master, "s", 1, 5, 1, a), 0);
	assert_int_equal(sp_seal_shard_key(k_master, "s", 1, 5, 1, b), 0);
	assert_memory_equal(a, b, sizeof(a));
	assert_int_equal(sp_seal_shard_key(k_master, "s", 1, 5, 2, b), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(sp_seal_shard_key(k_master, "s", 1, 6, 1, b), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(sp_seal_shard_key(k_master, "t", 1, 5, 1, b), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(sp_seal_shard_key(k_other, "s", 1, 5, 1, b), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(sp_seal_fingerprint(k_master, fa), 0);
	assert_int_equal(sp_seal_fingerprint(k_other, fb), 0);
	assert_memory_not_equal(fa, fb, sizeof(fa));
	assert_int_equal(sp_seal_shard_key(k_master, "x", 129, 5, 1, b), -EIO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),   cmocka_unit_test(test_tamper),
	    cmocka_unit_test(test_writer_rules), cmocka_unit_test(test_scan_mixed),
	    cmocka_unit_test(test_shard_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
