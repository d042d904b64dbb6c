/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Kernel choice for the batched MD5: the widest kernel the CPU supports (or the one SPATE_MD5
 * names), accepted only after it matches the scalar reference on a fixed set of keys, which the
 * scalar code itself must hash to the RFC 1321 test-suite digests first. Runs once, on the main
 * lcore at start-up (sp_md5_select) or on first use; afterwards the chosen function pointer is
 * only read, from any lcore.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "md5_internal.h"

/* Longest self-test key: three blocks, so that multi-block lanes of both widths are exercised. */
#define MD5_TEST_MAXLEN 140u
/* Keys per self-test batch: past two of the largest groups (64), so partial groups follow. */
#define MD5_TEST_BATCH 131u

struct md5_rfc_vector {
	const char *msg;
	const char *hex;
};

/* RFC 1321 appendix A.5. */
static const struct md5_rfc_vector md5_rfc_vectors[] = {
	{ "", "d41d8cd98f00b204e9800998ecf8427e" },
	{ "a", "0cc175b9c0f1b6a831c399e269772661" },
	{ "abc", "900150983cd24fb0d6963f7d28e17f72" },
	{ "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
	{ "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
	{ "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
	  "d174ab98d277d9f5a5611c2c9f419d9f" },
	{ "1234567890123456789012345678901234567890"
	  "1234567890123456789012345678901234567890",
	  "57edf4a22be3c955ac49da2e2107b67a" },
};

static const char *const md5_kernel_names[SP_MD5_KERNEL_COUNT] = {
	[SP_MD5_SCALAR] = "scalar",
	[SP_MD5_AVX2] = "avx2",
	[SP_MD5_AVX512] = "avx512",
};

static const sp_md5_batch_fn md5_kernel_fns[SP_MD5_KERNEL_COUNT] = {
	[SP_MD5_SCALAR] = sp_md5_batch_scalar,
	[SP_MD5_AVX2] = sp_md5_batch_avx2,
	[SP_MD5_AVX512] = sp_md5_batch_avx512,
};

static void md5_batch_lazy(const struct sp_md5_key *keys, size_t n, struct sp_md5_digest *out);

/* Written at selection only; read with relaxed atomics by sp_md5_batch on any lcore. */
static sp_md5_batch_fn g_md5_fn = md5_batch_lazy;
static enum sp_md5_kernel g_md5_kernel = SP_MD5_SCALAR;
static bool g_md5_selected;

const char *
sp_md5_kernel_name(enum sp_md5_kernel k)
{
	if ((unsigned)k >= SP_MD5_KERNEL_COUNT) {
		return "?";
	}
	return md5_kernel_names[k];
}

bool
sp_md5_kernel_supported(enum sp_md5_kernel k)
{
	switch (k) {
	case SP_MD5_SCALAR:
		return true;
#if defined(__x86_64__)
	case SP_MD5_AVX2:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx2");
	case SP_MD5_AVX512:
		__builtin_cpu_init();
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512f") &&
		       __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
#endif
	default:
		return false;
	}
}

sp_md5_batch_fn
sp_md5_kernel_fn(enum sp_md5_kernel k)
{
	if (!sp_md5_kernel_supported(k)) {
		return NULL;
	}
	return md5_kernel_fns[k];
}

static int
md5_hex_nibble(char c)
{
	return c <= '9' ? c - '0' : c - 'a' + 10;
}

/* The scalar reference against RFC 1321's own vectors: 0 or -EIO. */
static int
md5_test_scalar_rfc(void)
{
	struct sp_md5_digest d;
	size_t i;
	unsigned j;

	for (i = 0; i < SP_ARRAY_SIZE(md5_rfc_vectors); i++) {
		const struct md5_rfc_vector *v = &md5_rfc_vectors[i];

		SP_VERIFY(strlen(v->hex) == 2 * SP_MD5_DIGEST_LEN);
		sp_md5_one(v->msg, strlen(v->msg), &d);
		for (j = 0; j < SP_MD5_DIGEST_LEN; j++) {
			int byte = md5_hex_nibble(v->hex[2 * j]) << 4 |
				   md5_hex_nibble(v->hex[2 * j + 1]);

			if (d.b[j] != byte) {
				return -EIO;
			}
		}
	}
	return 0;
}

/*
 * Kernel fn against the scalar reference: keys of every length 0..MD5_TEST_MAXLEN at shifting
 * alignments, in batches of every size 1..MD5_TEST_BATCH cut from that list.
 */
static int
md5_test_against_scalar(sp_md5_batch_fn fn)
{
	static uint8_t buf[MD5_TEST_MAXLEN + 64];
	struct sp_md5_key keys[MD5_TEST_BATCH];
	struct sp_md5_digest got[MD5_TEST_BATCH];
	struct sp_md5_digest want;
	size_t n;
	size_t i;

	for (i = 0; i < sizeof(buf); i++) {
		buf[i] = (uint8_t)(i * 167 + 13);
	}
	for (n = 1; n <= MD5_TEST_BATCH; n++) {
		for (i = 0; i < n; i++) {
			size_t len = (i * 37 + n * 11) % (MD5_TEST_MAXLEN + 1);

			keys[i].data = buf + (i + n) % 64;
			keys[i].len = len;
		}
		fn(keys, n, got);
		for (i = 0; i < n; i++) {
			sp_md5_one(keys[i].data, keys[i].len, &want);
			if (memcmp(&want, &got[i], sizeof(want)) != 0) {
				return -EIO;
			}
		}
	}
	return 0;
}

int
sp_md5_self_test(enum sp_md5_kernel k)
{
	sp_md5_batch_fn fn = sp_md5_kernel_fn(k);

	if ((unsigned)k >= SP_MD5_KERNEL_COUNT) {
		return -EINVAL;
	}
	if (fn == NULL) {
		return -ENOTSUP;
	}
	if (md5_test_scalar_rfc() != 0) {
		return -EIO;
	}
	return md5_test_against_scalar(fn);
}

static void
md5_install(enum sp_md5_kernel k)
{
	SP_VERIFY((unsigned)k < SP_MD5_KERNEL_COUNT);
	SP_VERIFY(md5_kernel_fns[k] != NULL);
	g_md5_kernel = k;
	__atomic_store_n(&g_md5_fn, md5_kernel_fns[k], __ATOMIC_RELEASE);
	g_md5_selected = true;
}

int
sp_md5_force(enum sp_md5_kernel k)
{
	int rc;

	if ((unsigned)k >= SP_MD5_KERNEL_COUNT) {
		return -EINVAL;
	}
	rc = sp_md5_self_test(k);
	if (rc != 0) {
		return rc;
	}
	md5_install(k);
	return 0;
}

/* The kernel SPATE_MD5 names, or SP_MD5_KERNEL_COUNT when unset or unknown. */
static enum sp_md5_kernel
md5_env_kernel(void)
{
	const char *v = getenv("SPATE_MD5");
	unsigned k;

	if (v == NULL || v[0] == '\0') {
		return SP_MD5_KERNEL_COUNT;
	}
	for (k = 0; k < SP_MD5_KERNEL_COUNT; k++) {
		if (strcmp(v, md5_kernel_names[k]) == 0) {
			return (enum sp_md5_kernel)k;
		}
	}
	fprintf(stderr, "spate: md5: SPATE_MD5=%s is not scalar, avx2 or avx512; ignored\n", v);
	return SP_MD5_KERNEL_COUNT;
}

enum sp_md5_kernel
sp_md5_select(void)
{
	enum sp_md5_kernel want;
	int k;

	if (g_md5_selected) {
		return g_md5_kernel;
	}
	want = md5_env_kernel();
	if (want != SP_MD5_KERNEL_COUNT) {
		int rc = sp_md5_force(want);

		if (rc == 0) {
			return g_md5_kernel;
		}
		fprintf(stderr, "spate: md5: SPATE_MD5=%s unusable (%s); choosing from CPU flags\n",
			md5_kernel_names[want], strerror(-rc));
	}
	for (k = SP_MD5_KERNEL_COUNT - 1; k > SP_MD5_SCALAR; k--) {
		int rc;

		if (!sp_md5_kernel_supported((enum sp_md5_kernel)k)) {
			continue;
		}
		rc = sp_md5_force((enum sp_md5_kernel)k);
		if (rc == 0) {
			return g_md5_kernel;
		}
		fprintf(stderr, "spate: md5: %s kernel failed its self-test (%s); not used\n",
			md5_kernel_names[k], strerror(-rc));
	}
	/* The scalar code is the reference; if it fails RFC 1321 nothing can be trusted. */
	SP_VERIFY(md5_test_scalar_rfc() == 0);
	md5_install(SP_MD5_SCALAR);
	return g_md5_kernel;
}

enum sp_md5_kernel
sp_md5_kernel_active(void)
{
	return sp_md5_select();
}

static void
md5_batch_lazy(const struct sp_md5_key *keys, size_t n, struct sp_md5_digest *out)
{
	(void)sp_md5_select();
	SP_VERIFY(g_md5_fn != md5_batch_lazy);
	g_md5_fn(keys, n, out);
}

void
sp_md5_batch(const struct sp_md5_key *keys, size_t n, struct sp_md5_digest *out)
{
	sp_md5_batch_fn fn = __atomic_load_n(&g_md5_fn, __ATOMIC_ACQUIRE);

	fn(keys, n, out);
}
