/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/md5: every kernel this CPU supports against the RFC 1321 test
 * suite and against OpenSSL (EVP) for every key length 0..512 in batches of every size 1..40,
 * random keys and alignments, keys that end at an unmapped page, the selection rules, and the
 * digest-to-hash-key conversion used for shard routing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../sp_test.h"

#include "md5.h"

#define MAX_LEN 512u
#define MAX_BATCH 40u
/* Past the largest vector group (64 lanes) and into a second, partial one. */
#define BIG_BATCH 140u
/* Random keys go past SP_MD5_VEC_MAX_LEN so the scalar fallback of the vector kernels runs. */
#define RAND_MAX_LEN (SP_MD5_VEC_MAX_LEN + 200u)
#define RAND_ROUNDS 300u

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static uint64_t
rng_next(void)
{
	g_rng ^= g_rng << 13;
	g_rng ^= g_rng >> 7;
	g_rng ^= g_rng << 17;
	return g_rng;
}

static void
ref_md5(const void *data, size_t len, struct sp_md5_digest *out)
{
	unsigned int n = 0;

	assert_int_equal(EVP_Digest(len != 0 ? data : "", len, out->b, &n, EVP_md5(), NULL), 1);
	assert_int_equal(n, SP_MD5_DIGEST_LEN);
}

static void
hex16(const struct sp_md5_digest *d, char hex[33])
{
	static const char digits[] = "0123456789abcdef";
	unsigned i;

	for (i = 0; i < 16; i++) {
		hex[2 * i] = digits[d->b[i] >> 4];
		hex[2 * i + 1] = digits[d->b[i] & 15];
	}
	hex[32] = '\0';
}

/* Runs first: SPATE_MD5 decides the first selection; selection is idempotent. */
static void
test_select_env(void **state)
{
	(void)state;
	assert_int_equal(setenv("SPATE_MD5", "scalar", 1), 0);
	assert_int_equal(sp_md5_select(), SP_MD5_SCALAR);
	assert_int_equal(sp_md5_kernel_active(), SP_MD5_SCALAR);
	assert_int_equal(setenv("SPATE_MD5", "avx2", 1), 0);
	assert_int_equal(sp_md5_select(), SP_MD5_SCALAR);
	assert_int_equal(unsetenv("SPATE_MD5"), 0);
}

static void
test_force_and_names(void **state)
{
	unsigned k;

	(void)state;
	assert_string_equal(sp_md5_kernel_name(SP_MD5_SCALAR), "scalar");
	assert_string_equal(sp_md5_kernel_name(SP_MD5_AVX2), "avx2");
	assert_string_equal(sp_md5_kernel_name(SP_MD5_AVX512), "avx512");
	assert_string_equal(sp_md5_kernel_name(SP_MD5_KERNEL_COUNT), "?");
	assert_int_equal(sp_md5_force(SP_MD5_KERNEL_COUNT), -EINVAL);
	assert_true(sp_md5_kernel_supported(SP_MD5_SCALAR));
	/* AVX-512 here means AVX2 too. */
	if (sp_md5_kernel_supported(SP_MD5_AVX512)) {
		assert_true(sp_md5_kernel_supported(SP_MD5_AVX2));
	}
	for (k = 0; k < SP_MD5_KERNEL_COUNT; k++) {
		bool sup = sp_md5_kernel_supported((enum sp_md5_kernel)k);

		fprintf(stderr, "md5 kernel %s: %s\n", sp_md5_kernel_name((enum sp_md5_kernel)k),
			sup ? "supported" : "not supported");
		if (sup) {
			assert_int_equal(sp_md5_self_test((enum sp_md5_kernel)k), 0);
			assert_int_equal(sp_md5_force((enum sp_md5_kernel)k), 0);
			assert_int_equal(sp_md5_kernel_active(), k);
			assert_non_null(sp_md5_kernel_fn((enum sp_md5_kernel)k));
		} else {
			assert_int_equal(sp_md5_force((enum sp_md5_kernel)k), -ENOTSUP);
			assert_null(sp_md5_kernel_fn((enum sp_md5_kernel)k));
		}
	}
	assert_int_equal(sp_md5_force(SP_MD5_SCALAR), 0);
}

/* RFC 1321 appendix A.5, through sp_md5_batch with each kernel forced, as one batch. */
static void
test_rfc1321(void **state)
{
	static const char *const msg[] = {
		"",
		"a",
		"abc",
		"message digest",
		"abcdefghijklmnopqrstuvwxyz",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
		"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
	};
	static const char *const want[] = {
		"d41d8cd98f00b204e9800998ecf8427e", "0cc175b9c0f1b6a831c399e269772661",
		"900150983cd24fb0d6963f7d28e17f72", "f96b697d7cb7938d525a2f31aaf161d0",
		"c3fcd3d76192e4007dfb496cca67e13b", "d174ab98d277d9f5a5611c2c9f419d9f",
		"57edf4a22be3c955ac49da2e2107b67a",
	};
	struct sp_md5_key keys[SP_ARRAY_SIZE(msg)];
	struct sp_md5_digest out[SP_ARRAY_SIZE(msg)];
	char hex[33];
	unsigned k;
	size_t i;

	(void)state;
	for (i = 0; i < SP_ARRAY_SIZE(msg); i++) {
		keys[i].data = msg[i];
		keys[i].len = strlen(msg[i]);
		sp_md5_one(msg[i], strlen(msg[i]), &out[i]);
		hex16(&out[i], hex);
		assert_string_equal(hex, want[i]);
	}
	for (k = 0; k < SP_MD5_KERNEL_COUNT; k++) {
		if (!sp_md5_kernel_supported((enum sp_md5_kernel)k)) {
			continue;
		}
		assert_int_equal(sp_md5_force((enum sp_md5_kernel)k), 0);
		memset(out, 0, sizeof(out));
		sp_md5_batch(keys, SP_ARRAY_SIZE(msg), out);
		for (i = 0; i < SP_ARRAY_SIZE(msg); i++) {
			hex16(&out[i], hex);
			assert_string_equal(hex, want[i]);
		}
	}
}

/*
 * Kernel k against OpenSSL: for every batch size 1..MAX_BATCH and some larger ones around the
 * group sizes of the kernels (8, 16, 24, 32, 48, 64 lanes), the key lengths 0..MAX_LEN are
 * cut into batches of that size (so every length meets every lane position and partial group),
 * keys at shifting alignments. Digests past n must stay untouched.
 */
static void
check_kernel_lengths(sp_md5_batch_fn fn, const uint8_t *buf)
{
	static const size_t big[] = { 47, 48, 49, 63, 64, 65, 95, 96, 127, 128, 129, BIG_BATCH };
	struct sp_md5_key keys[BIG_BATCH];
	struct sp_md5_digest out[BIG_BATCH + 1];
	struct sp_md5_digest want;
	size_t b;
	size_t n;
	size_t start;
	size_t i;

	for (b = 0; b < MAX_BATCH + SP_ARRAY_SIZE(big); b++) {
		n = b < MAX_BATCH ? b + 1 : big[b - MAX_BATCH];
		for (start = 0; start <= MAX_LEN; start += n) {
			size_t cnt = SP_MIN(n, MAX_LEN + 1 - start);

			for (i = 0; i < cnt; i++) {
				keys[i].len = start + i;
				keys[i].data = buf + (start + i + n) % 64;
			}
			memset(out, 0xa5, sizeof(out));
			fn(keys, cnt, out);
			for (i = 0; i < cnt; i++) {
				ref_md5(keys[i].data, keys[i].len, &want);
				if (memcmp(&want, &out[i], sizeof(want)) != 0) {
					fail_msg("batch %zu: length %zu in lane %zu differs", cnt,
						 keys[i].len, i);
				}
			}
			for (i = 0; i < SP_MD5_DIGEST_LEN; i++) {
				assert_int_equal(out[cnt].b[i], 0xa5);
			}
		}
	}
}

static void
test_openssl_every_length(void **state)
{
	uint8_t *buf = malloc(MAX_LEN + 64);
	unsigned k;
	size_t i;

	(void)state;
	assert_non_null(buf);
	for (i = 0; i < MAX_LEN + 64; i++) {
		buf[i] = (uint8_t)rng_next();
	}
	for (k = 0; k < SP_MD5_KERNEL_COUNT; k++) {
		sp_md5_batch_fn fn = sp_md5_kernel_fn((enum sp_md5_kernel)k);

		if (fn == NULL) {
			continue;
		}
		fprintf(stderr, "md5: lengths 0..%u, batches 1..%u, kernel %s\n", MAX_LEN,
			MAX_BATCH, sp_md5_kernel_name((enum sp_md5_kernel)k));
		check_kernel_lengths(fn, buf);
		/* The same through the dispatch pointer. */
		assert_int_equal(sp_md5_force((enum sp_md5_kernel)k), 0);
		check_kernel_lengths(sp_md5_batch, buf);
	}
	free(buf);
}

/* Random batches: sizes 1..BIG_BATCH, lengths 0..RAND_MAX_LEN mixed, random alignment. */
static void
test_openssl_random(void **state)
{
	size_t cap = RAND_MAX_LEN + 64;
	uint8_t *buf = malloc(cap);
	struct sp_md5_key keys[BIG_BATCH];
	struct sp_md5_digest out[BIG_BATCH];
	struct sp_md5_digest want;
	unsigned r;
	unsigned k;
	size_t i;

	(void)state;
	assert_non_null(buf);
	for (r = 0; r < RAND_ROUNDS; r++) {
		size_t n = 1 + rng_next() % BIG_BATCH;

		for (i = 0; i < cap; i++) {
			buf[i] = (uint8_t)rng_next();
		}
		for (i = 0; i < n; i++) {
			uint64_t x = rng_next();
			/* Mostly short keys, as partition keys are; sometimes long ones. */
			size_t len = x % 4 != 0 ? (x >> 8) % 64 : (x >> 8) % (RAND_MAX_LEN + 1);

			keys[i].len = len;
			keys[i].data = buf + (x >> 32) % (cap - len + 1);
		}
		for (k = 0; k < SP_MD5_KERNEL_COUNT; k++) {
			sp_md5_batch_fn fn = sp_md5_kernel_fn((enum sp_md5_kernel)k);

			if (fn == NULL) {
				continue;
			}
			fn(keys, n, out);
			for (i = 0; i < n; i++) {
				ref_md5(keys[i].data, keys[i].len, &want);
				if (memcmp(&want, &out[i], sizeof(want)) != 0) {
					fail_msg("round %u kernel %s: key %zu of %zu (len %zu)",
						 r, sp_md5_kernel_name((enum sp_md5_kernel)k),
						 i, n, keys[i].len);
				}
			}
		}
	}
	free(buf);
}

/*
 * Keys that end exactly where an unmapped page begins, and keys that start at the beginning of
 * a page: a kernel reading past the key (or before it) faults here.
 */
static void
test_page_edges(void **state)
{
	long page = sysconf(_SC_PAGESIZE);
	struct sp_md5_key keys[MAX_BATCH];
	struct sp_md5_digest out[MAX_BATCH];
	struct sp_md5_digest want;
	uint8_t *map;
	uint8_t *end;
	unsigned k;
	size_t i;

	(void)state;
	map = mmap(NULL, 3 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		   -1, 0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(mprotect(map, (size_t)page, PROT_NONE), 0);
	assert_int_equal(mprotect(map + 2 * page, (size_t)page, PROT_NONE), 0);
	end = map + 2 * page;
	for (i = 0; i < (size_t)page; i++) {
		map[page + i] = (uint8_t)rng_next();
	}
	for (k = 0; k < SP_MD5_KERNEL_COUNT; k++) {
		sp_md5_batch_fn fn = sp_md5_kernel_fn((enum sp_md5_kernel)k);
		size_t base;

		if (fn == NULL) {
			continue;
		}
		for (base = 0; base + MAX_BATCH <= 200; base += MAX_BATCH) {
			for (i = 0; i < MAX_BATCH; i++) {
				size_t len = base + i;

				keys[i].len = len;
				keys[i].data = i % 2 == 0 ? end - len : map + page;
			}
			fn(keys, MAX_BATCH, out);
			for (i = 0; i < MAX_BATCH; i++) {
				ref_md5(keys[i].data, keys[i].len, &want);
				assert_memory_equal(&want, &out[i], sizeof(want));
			}
		}
	}
	assert_int_equal(munmap(map, 3 * (size_t)page), 0);
}

/* Empty batches and a NULL data pointer for an empty key, alone and in full vector groups. */
static void
test_empty(void **state)
{
	struct sp_md5_key key = { NULL, 0 };
	struct sp_md5_key many[BIG_BATCH];
	struct sp_md5_digest outs[BIG_BATCH];
	struct sp_md5_digest out;
	char hex[33];
	unsigned k;
	size_t i;

	(void)state;
	for (k = 0; k < SP_MD5_KERNEL_COUNT; k++) {
		sp_md5_batch_fn fn = sp_md5_kernel_fn((enum sp_md5_kernel)k);

		if (fn == NULL) {
			continue;
		}
		fn(NULL, 0, NULL);
		memset(&out, 0, sizeof(out));
		fn(&key, 1, &out);
		hex16(&out, hex);
		assert_string_equal(hex, "d41d8cd98f00b204e9800998ecf8427e");
		for (i = 0; i < BIG_BATCH; i++) {
			many[i] = key;
		}
		fn(many, BIG_BATCH, outs);
		for (i = 0; i < BIG_BATCH; i++) {
			assert_memory_equal(&outs[i], &out, sizeof(out));
		}
	}
}

/* The digest as a big-endian 128-bit integer: the Kinesis hash key. */
static void
test_hashkey(void **state)
{
	struct sp_md5_digest d;
	struct sp_md5_hashkey h;
	struct sp_md5_hashkey lo;
	struct sp_md5_hashkey hi;
	unsigned __int128 v;
	unsigned i;

	(void)state;
	sp_md5_one("", 0, &d);
	h = sp_md5_hashkey(&d);
	assert_true(h.hi == 0xd41d8cd98f00b204ull);
	assert_true(h.lo == 0xe9800998ecf8427eull);
	v = sp_md5_hashkey_u128(&d);
	assert_true((uint64_t)(v >> 64) == h.hi && (uint64_t)v == h.lo);

	for (i = 0; i < 16; i++) {
		d.b[i] = (uint8_t)i;
	}
	h = sp_md5_hashkey(&d);
	assert_true(h.hi == 0x0001020304050607ull);
	assert_true(h.lo == 0x08090a0b0c0d0e0full);

	/* MD5("a") = 0cc175b9..., so its hash key is below 2^124; all 0xff is the top. */
	sp_md5_one("a", 1, &d);
	lo = sp_md5_hashkey(&d);
	assert_true(sp_md5_hashkey_u128(&d) < ((unsigned __int128)1 << 124));
	memset(d.b, 0xff, sizeof(d.b));
	hi = sp_md5_hashkey(&d);
	assert_true(sp_md5_hashkey_u128(&d) == ~(unsigned __int128)0);
	assert_int_equal(sp_md5_hashkey_cmp(&lo, &hi), -1);
	assert_int_equal(sp_md5_hashkey_cmp(&hi, &lo), 1);
	assert_int_equal(sp_md5_hashkey_cmp(&hi, &hi), 0);
	/* Ordering is decided by hi first, then lo. */
	hi.hi = lo.hi;
	hi.lo = lo.lo + 1;
	assert_int_equal(sp_md5_hashkey_cmp(&lo, &hi), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_select_env),
		cmocka_unit_test(test_force_and_names),
		cmocka_unit_test(test_rfc1321),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_hashkey),
		cmocka_unit_test(test_page_edges),
		cmocka_unit_test(test_openssl_every_length),
		cmocka_unit_test(test_openssl_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
