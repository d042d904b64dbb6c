/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/b64: RFC 4648 §10 vectors; every input length 0..300 of random
 * bytes round-tripped through every kernel this CPU supports, against OpenSSL's
 * EVP_EncodeBlock/EVP_DecodeBlock, in exact-size heap buffers (ASan sees any overrun) and
 * against PROT_NONE pages; every bad character at every position; pads in the middle;
 * non-canonical last characters; UTF-8 input (lengths in UTF-16 units); byte-exact messages
 * and their bounds; random strings against an independent model of kinesalite's checks; the
 * kernel selection rules.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../../sp_test.h"

#include "b64.h"

#define MAX_LEN 300u
#define ENC_MAX ((MAX_LEN + 2) / 3 * 4)
/* Every ASCII probe at every position up to this input length (bytes before encoding). */
#define ALL_PROBES_MAX 60u
#define RAND_ROUNDS 20000u
#define RAND_MAX_CHARS 80u

static uint64_t g_rng = 0x2545f4914f6cdd1dull;
static enum sp_b64_kernel g_kernels[SP_B64_KERNEL_COUNT];
static unsigned g_nkernels;

static uint64_t
rng_next(void)
{
	g_rng ^= g_rng << 13;
	g_rng ^= g_rng >> 7;
	g_rng ^= g_rng << 17;
	return g_rng;
}

static bool
in_alphabet(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* Bytes of the (well-formed) UTF-8 character led by c. */
static unsigned
utf8_len(uint8_t c)
{
	return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

/*
 * An independent model of kinesalite's Blob checks (validations/index.js), for well-formed
 * UTF-8: length % 4 in UTF-16 units; the leftmost match of /[^a-zA-Z0-9+\/=]|=[^=]/; then
 * decode and re-encode (OpenSSL here, Node's Buffer there) and compare with the input.
 */
static void
model(const char *in, size_t len, struct sp_b64_error *e)
{
	const uint8_t *p = (const uint8_t *)in;
	size_t units = 0;
	size_t pads = 0;
	size_t i;

	memset(e, 0, sizeof(*e));
	for (i = 0; i < len; i++) {
		units += (p[i] & 0xc0) != 0x80;
		units += p[i] >= 0xf0;
	}
	if (units % 4 != 0) {
		e->status = SP_B64_BAD_LENGTH;
		e->pos = len;
		e->found_len = units;
		return;
	}
	for (i = 0; i < len; i += utf8_len(p[i])) {
		if ((p[i] != '=' && !in_alphabet(p[i])) ||
		    (p[i] == '=' && i + 1 < len && p[i + 1] != '=')) {
			e->status = SP_B64_BAD_CHAR;
			e->pos = i;
			e->c = (char)p[i];
			e->c_len = (uint8_t)utf8_len(p[i]);
			return;
		}
	}
	while (pads < len && p[len - 1 - pads] == '=') {
		pads++;
	}
	if (pads >= 3) {
		e->status = SP_B64_BAD_LAST;
		e->pos = len - pads;
		return;
	}
	if (len > 0) {
		unsigned char *raw = malloc(len / 4 * 3 + 1);
		unsigned char *re = malloc(len + 1);
		int n = EVP_DecodeBlock(raw, p, (int)len);

		assert_int_equal(n, (int)(len / 4 * 3));
		assert_int_equal(EVP_EncodeBlock(re, raw, n - (int)pads), (int)len);
		if (memcmp(re, p, len) != 0) {
			e->status = SP_B64_BAD_LAST;
			e->pos = len - 1 - pads;
		}
		free(raw);
		free(re);
	}
}

static void
assert_err_equal(const struct sp_b64_error *got, const struct sp_b64_error *want)
{
	assert_int_equal(got->status, want->status);
	assert_int_equal(got->pos, want->pos);
	assert_int_equal(got->c, want->c);
	assert_int_equal(got->c_len, want->c_len);
	assert_int_equal(got->found_len, want->found_len);
}

/*
 * Decode and validate in (len chars, copied into an exact-size heap buffer) with kernel k and
 * check the verdict and error against the model; returns the decoded length (or 0).
 */
static size_t
check_kernel(enum sp_b64_kernel k, const char *in, size_t len, uint8_t *out)
{
	struct sp_b64_error want;
	struct sp_b64_error got;
	char *copy = malloc(len + 1);
	uint8_t *dst = malloc(sp_b64_decoded_max(len) + 1);
	size_t n = 99;
	size_t vn = 99;
	int rc;

	model(in, len, &want);
	memcpy(copy, in, len);
	memset(&got, 0x5a, sizeof(got));
	rc = sp_b64_decode_with(k, copy, len, dst, &n, &got);
	assert_int_equal(rc, want.status == SP_B64_OK ? 0 : -EINVAL);
	assert_err_equal(&got, &want);
	memset(&got, 0x5a, sizeof(got));
	assert_int_equal(sp_b64_validate_with(k, copy, len, &vn, &got), rc);
	assert_err_equal(&got, &want);
	assert_int_equal(vn, n);
	if (rc == 0 && out != NULL) {
		memcpy(out, dst, n);
	}
	free(copy);
	free(dst);
	return rc == 0 ? n : 0;
}

/* check_kernel for every supported kernel; the outputs must agree. */
static void
check_all(const char *in, size_t len)
{
	static uint8_t first[ENC_MAX];
	static uint8_t other[ENC_MAX];
	size_t n0 = 0;
	unsigned k;

	assert_true(len <= ENC_MAX);
	for (k = 0; k < g_nkernels; k++) {
		size_t n = check_kernel(g_kernels[k], in, len, k == 0 ? first : other);

		if (k == 0) {
			n0 = n;
			continue;
		}
		assert_int_equal(n, n0);
		assert_memory_equal(first, other, n);
	}
}

/* Runs first: SPATE_B64 decides the first selection; selection is idempotent. */
static void
test_select_env(void **state)
{
	(void)state;
	assert_int_equal(setenv("SPATE_B64", "scalar", 1), 0);
	sp_b64_select();
	assert_int_equal(sp_b64_kernel_active(), SP_B64_SCALAR);
	assert_string_equal(sp_b64_kernel_name(), "scalar");
	assert_int_equal(setenv("SPATE_B64", "avx2", 1), 0);
	sp_b64_select();
	assert_int_equal(sp_b64_kernel_active(), SP_B64_SCALAR);
	assert_int_equal(unsetenv("SPATE_B64"), 0);
}

static void
test_force_and_names(void **state)
{
	unsigned k;

	(void)state;
	assert_string_equal(sp_b64_kernel_name_of(SP_B64_SCALAR), "scalar");
	assert_string_equal(sp_b64_kernel_name_of(SP_B64_AVX2), "avx2");
	assert_string_equal(sp_b64_kernel_name_of(SP_B64_AVX512), "avx512");
	assert_string_equal(sp_b64_kernel_name_of(SP_B64_KERNEL_COUNT), "?");
	assert_int_equal(sp_b64_force(SP_B64_KERNEL_COUNT), -EINVAL);
	assert_int_equal(sp_b64_self_test(SP_B64_KERNEL_COUNT), -EINVAL);
	assert_true(sp_b64_kernel_supported(SP_B64_SCALAR));
	for (k = 0; k < SP_B64_KERNEL_COUNT; k++) {
		enum sp_b64_kernel kk = (enum sp_b64_kernel)k;

		if (!sp_b64_kernel_supported(kk)) {
			assert_int_equal(sp_b64_force(kk), -ENOTSUP);
			continue;
		}
		assert_int_equal(sp_b64_self_test(kk), 0);
		assert_int_equal(sp_b64_force(kk), 0);
		assert_int_equal(sp_b64_kernel_active(), kk);
		assert_string_equal(sp_b64_kernel_name(), sp_b64_kernel_name_of(kk));
	}
	printf("b64: kernels here:");
	for (k = 0; k < g_nkernels; k++) {
		printf(" %s", sp_b64_kernel_name_of(g_kernels[k]));
	}
	printf("\n");
}

static void
test_rfc4648_vectors(void **state)
{
	static const char *const raw[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
					   "Zm9vYmFy" };
	char out[16];
	uint8_t dec[16];
	unsigned k;
	size_t i;

	(void)state;
	for (k = 0; k < g_nkernels; k++) {
		for (i = 0; i < SP_ARRAY_SIZE(raw); i++) {
			size_t rl = strlen(raw[i]);
			size_t el = strlen(enc[i]);
			size_t n = 0;
			struct sp_b64_error err;

			assert_int_equal(sp_b64_encoded_len(rl), el);
			assert_int_equal(sp_b64_encode_with(g_kernels[k], (const uint8_t *)raw[i],
							    rl, out), el);
			assert_memory_equal(out, enc[i], el);
			assert_int_equal(sp_b64_decode_with(g_kernels[k], enc[i], el, dec, &n,
							    &err), 0);
			assert_int_equal(n, rl);
			assert_memory_equal(dec, raw[i], rl);
			assert_int_equal(err.status, SP_B64_OK);
		}
	}
}

/* The empty string is valid, and may be a NULL pointer. */
static void
test_empty(void **state)
{
	struct sp_b64_error err;
	size_t n = 7;

	(void)state;
	assert_int_equal(sp_b64_decode(NULL, 0, NULL, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(err.status, SP_B64_OK);
	assert_int_equal(sp_b64_validate("", 0, &n, NULL), 0);
	assert_int_equal(sp_b64_encode(NULL, 0, NULL), 0);
	assert_int_equal(sp_b64_decoded_max(0), 0);
	assert_int_equal(sp_b64_decoded_max(7), 3);
	assert_int_equal(sp_b64_decoded_max(8), 6);
	assert_int_equal(sp_b64_encoded_len(0), 0);
	assert_int_equal(sp_b64_encoded_len(1), 4);
	assert_int_equal(sp_b64_encoded_len(3), 4);
	assert_int_equal(sp_b64_encoded_len(4), 8);
}

/* One length through one kernel, in exact-size heap buffers, against OpenSSL. */
static void
roundtrip_one(enum sp_b64_kernel k, const uint8_t *raw, size_t n)
{
	size_t el = sp_b64_encoded_len(n);
	uint8_t *src = malloc(n + 1);
	char *enc = malloc(el + 1);
	unsigned char *ossl = malloc(el + 1);
	uint8_t *dec = malloc(sp_b64_decoded_max(el) + 1);
	unsigned char *odec = malloc(el + 1);
	struct sp_b64_error err;
	size_t dn = 0;
	size_t vn = 0;

	memcpy(src, raw, n);
	assert_int_equal(sp_b64_encode_with(k, src, n, enc), el);
	assert_int_equal(EVP_EncodeBlock(ossl, src, (int)n), (int)el);
	assert_memory_equal(enc, ossl, el);
	assert_int_equal(sp_b64_decode_with(k, enc, el, dec, &dn, &err), 0);
	assert_int_equal(dn, n);
	assert_memory_equal(dec, src, n);
	assert_int_equal(sp_b64_validate_with(k, enc, el, &vn, NULL), 0);
	assert_int_equal(vn, n);
	/* OpenSSL decodes pads as zero bytes: its first n bytes are the data. */
	assert_int_equal(EVP_DecodeBlock(odec, (const unsigned char *)enc, (int)el),
			 (int)(el / 4 * 3));
	assert_memory_equal(odec, dec, n);
	free(src);
	free(enc);
	free(ossl);
	free(dec);
	free(odec);
}

static void
test_roundtrip_all_lengths(void **state)
{
	static uint8_t raw[MAX_LEN + 4];
	unsigned k;
	size_t n;
	size_t i;

	(void)state;
	for (n = 0; n <= MAX_LEN; n++) {
		for (i = 0; i < n; i++) {
			raw[i] = (uint8_t)rng_next();
		}
		for (k = 0; k < g_nkernels; k++) {
			roundtrip_one(g_kernels[k], raw, n);
		}
	}
	/* Every byte value and the runs that give '+' and '/' (62 and 63). */
	for (i = 0; i < 256; i++) {
		raw[i] = (uint8_t)i;
	}
	for (k = 0; k < g_nkernels; k++) {
		roundtrip_one(g_kernels[k], raw, 256);
		memset(raw + 256, 0xff, 30);
		roundtrip_one(g_kernels[k], raw + 256, 30);
		memset(raw + 256, 0xfb, 30);
		roundtrip_one(g_kernels[k], raw + 256, 30);
	}
}

/* Inputs and outputs that end at a PROT_NONE page: no kernel may touch a byte past either. */
static void
test_page_edges(void **state)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint8_t *map = mmap(NULL, (size_t)pg * 4, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *a_end = map + pg;
	uint8_t *b_end = map + 3 * pg;
	unsigned k;
	size_t n;

	(void)state;
	assert_true(map != MAP_FAILED);
	assert_int_equal(mprotect(a_end, (size_t)pg, PROT_NONE), 0);
	assert_int_equal(mprotect(b_end, (size_t)pg, PROT_NONE), 0);
	for (n = 0; n <= MAX_LEN; n++) {
		size_t el = sp_b64_encoded_len(n);
		uint8_t *raw = a_end - n;
		char *enc = (char *)b_end - el;
		size_t i;

		for (i = 0; i < n; i++) {
			raw[i] = (uint8_t)rng_next();
		}
		for (k = 0; k < g_nkernels; k++) {
			uint8_t *dec = a_end - sp_b64_decoded_max(el);
			size_t dn = 0;
			struct sp_b64_error err;
			uint8_t keep[MAX_LEN];

			memcpy(keep, raw, n);
			assert_int_equal(sp_b64_encode_with(g_kernels[k], raw, n, enc), el);
			/* Decode in place of the raw bytes: the output ends at the page too. */
			assert_int_equal(sp_b64_decode_with(g_kernels[k], enc, el, dec, &dn, &err),
					 0);
			assert_int_equal(dn, n);
			memmove(a_end - n, dec, n);
			assert_memory_equal(a_end - n, keep, n);
		}
	}
	assert_int_equal(munmap(map, (size_t)pg * 4), 0);
}

/* Every position of every encoded length with bad characters (and '=') put there. */
static void
test_bad_char_positions(void **state)
{
	static const char few[] = { '*', ' ', '\0', '\n', '-', '_', '=', '.', '\x7f' };
	static uint8_t raw[MAX_LEN];
	static char enc[ENC_MAX];
	size_t n;
	size_t i;
	unsigned c;

	(void)state;
	for (n = 0; n <= MAX_LEN; n += n < ALL_PROBES_MAX ? 1 : 7) {
		size_t el;

		for (i = 0; i < n; i++) {
			raw[i] = (uint8_t)rng_next();
		}
		el = sp_b64_encode_scalar(raw, n, enc);
		for (i = 0; i < el; i++) {
			char keep = enc[i];

			for (c = 0; c < 128; c++) {
				bool rare = memchr(few, (int)c, sizeof(few)) == NULL;

				if ((n >= ALL_PROBES_MAX && rare) || in_alphabet((uint8_t)c)) {
					continue;
				}
				enc[i] = (char)c;
				check_all(enc, el);
			}
			enc[i] = keep;
		}
	}
}

static void
expect_err(const char *in, enum sp_b64_status st, size_t pos, char c)
{
	struct sp_b64_error err;
	size_t n = 0;
	unsigned k;

	for (k = 0; k < g_nkernels; k++) {
		int rc = sp_b64_validate_with(g_kernels[k], in, strlen(in), &n, &err);

		assert_int_equal(rc, st == SP_B64_OK ? 0 : -EINVAL);
		assert_int_equal(err.status, st);
		assert_int_equal(err.pos, pos);
		assert_int_equal(err.c, c);
	}
	check_all(in, strlen(in));
}

static void
test_pads_in_middle(void **state)
{
	(void)state;
	/* '=' followed by a non-'=' is reported as '=' itself (kinesalite's match[0][0]). */
	expect_err("AB==CD==", SP_B64_BAD_CHAR, 3, '=');
	expect_err("A=BC", SP_B64_BAD_CHAR, 1, '=');
	expect_err("AB=C", SP_B64_BAD_CHAR, 2, '=');
	expect_err("=AAA", SP_B64_BAD_CHAR, 0, '=');
	expect_err("AAAA=AAA", SP_B64_BAD_CHAR, 4, '=');
	expect_err("AAAA==AA", SP_B64_BAD_CHAR, 5, '=');
	/* A '=' before a bad character is found first, being leftmost. */
	expect_err("A=*A", SP_B64_BAD_CHAR, 1, '=');
	expect_err("A*=A", SP_B64_BAD_CHAR, 1, '*');
	/* The length comes before any character. */
	expect_err("A=*", SP_B64_BAD_LENGTH, 3, 0);
	expect_err("AAAAA", SP_B64_BAD_LENGTH, 5, 0);
	/* URL-safe characters are not base64 here. */
	expect_err("AB-_", SP_B64_BAD_CHAR, 2, '-');
	expect_err("AAAAAAA\n", SP_B64_BAD_CHAR, 7, '\n');
	/* A run of pads at the end is not a character error but a last-character one. */
	expect_err("====", SP_B64_BAD_LAST, 0, 0);
	expect_err("A===", SP_B64_BAD_LAST, 1, 0);
	expect_err("AAAA====", SP_B64_BAD_LAST, 4, 0);
	expect_err("AAA=====", SP_B64_BAD_LAST, 3, 0);
	expect_err("AAAAAAA=", SP_B64_OK, 0, 0);
	expect_err("AAAAAA==", SP_B64_OK, 0, 0);
}

/* Every character as the last data character before one pad and before two. */
static void
test_noncanonical_last(void **state)
{
	static const char alpha[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char one[] = "QUF?";
	char two[] = "QUJD0?==";
	unsigned v;

	(void)state;
	for (v = 0; v < 64; v++) {
		one[2] = alpha[v];
		one[3] = '=';
		expect_err(one, (v & 3) == 0 ? SP_B64_OK : SP_B64_BAD_LAST, (v & 3) == 0 ? 0 : 2,
			   0);
		two[5] = alpha[v];
		expect_err(two, (v & 15) == 0 ? SP_B64_OK : SP_B64_BAD_LAST,
			   (v & 15) == 0 ? 0 : 5, 0);
	}
	/* The first bad character wins over a bad last character. */
	expect_err("A*AAQB==", SP_B64_BAD_CHAR, 1, '*');
}

static void
expect_msg(const char *in, const char *want)
{
	struct sp_b64_error err;
	char buf[SP_B64_MSG_MAX];
	size_t n = 0;
	unsigned k;

	for (k = 0; k < g_nkernels; k++) {
		assert_int_equal(sp_b64_validate_with(g_kernels[k], in, strlen(in), &n, &err),
				 -EINVAL);
		assert_int_equal(sp_b64_error_message(&err, in, strlen(in), buf, sizeof(buf)),
				 strlen(want));
		assert_string_equal(buf, want);
	}
}

static void
test_messages(void **state)
{
	(void)state;
	expect_msg("abc", "'abc' can not be converted to a Blob: Base64 encoded length is "
			  "expected a multiple of 4 bytes but found: 3");
	expect_msg("abcd*", "'abcd*' can not be converted to a Blob: Base64 encoded length is "
			    "expected a multiple of 4 bytes but found: 5");
	expect_msg("ab*d", "'ab*d' can not be converted to a Blob: Invalid Base64 character: '*'");
	expect_msg("ab=d", "'ab=d' can not be converted to a Blob: Invalid Base64 character: '='");
	expect_msg("AB==", "'AB==' can not be converted to a Blob: Invalid last non-pad Base64 "
			   "character dectected");
	expect_msg("QUJ=", "'QUJ=' can not be converted to a Blob: Invalid last non-pad Base64 "
			   "character dectected");
	expect_msg("====", "'====' can not be converted to a Blob: Invalid last non-pad Base64 "
			   "character dectected");
	/* Non-ASCII: lengths in UTF-16 units, the whole character reported. */
	expect_msg("ab\xc3\xa9", "'ab\xc3\xa9' can not be converted to a Blob: Base64 encoded "
				 "length is expected a multiple of 4 bytes but found: 3");
	expect_msg("abc\xc3\xa9", "'abc\xc3\xa9' can not be converted to a Blob: Invalid Base64 "
				  "character: '\xc3\xa9'");
	expect_msg("ab\xe2\x82\xac", "'ab\xe2\x82\xac' can not be converted to a Blob: Base64 "
				     "encoded length is expected a multiple of 4 bytes but "
				     "found: 3");
	expect_msg("ab\xf0\x9f\x98\x80", "'ab\xf0\x9f\x98\x80' can not be converted to a Blob: "
					 "Invalid Base64 character: '\xf0\x9f\x98\x80'");
	expect_msg("abc\xf0\x9f\x98\x80", "'abc\xf0\x9f\x98\x80' can not be converted to a Blob: "
					  "Base64 encoded length is expected a multiple of 4 "
					  "bytes but found: 5");
}

/* The quoted value stops at SP_B64_MSG_VALUE_MAX bytes, on a character boundary. */
static void
test_message_bounds(void **state)
{
	static const char tail[] = "' can not be converted to a Blob: Base64 encoded length is "
				   "expected a multiple of 4 bytes but found: 2001";
	static char in[2001];
	static char buf[SP_B64_MSG_MAX];
	struct sp_b64_error err;
	size_t n = 0;
	size_t len;

	(void)state;
	memset(in, 'A', sizeof(in));
	assert_int_equal(sp_b64_validate(in, sizeof(in), &n, &err), -EINVAL);
	len = sp_b64_error_message(&err, in, sizeof(in), buf, sizeof(buf));
	assert_int_equal(len, 1 + SP_B64_MSG_VALUE_MAX + strlen(tail));
	assert_int_equal(buf[0], '\'');
	assert_memory_equal(buf + 1, in, SP_B64_MSG_VALUE_MAX);
	assert_string_equal(buf + 1 + SP_B64_MSG_VALUE_MAX, tail);
	/* A two-byte character across the cut is left out whole (2000 units: a character error). */
	in[SP_B64_MSG_VALUE_MAX - 1] = (char)0xc3;
	in[SP_B64_MSG_VALUE_MAX] = (char)0xa9;
	assert_int_equal(sp_b64_validate(in, sizeof(in), &n, &err), -EINVAL);
	assert_int_equal(err.status, SP_B64_BAD_CHAR);
	assert_int_equal(err.pos, SP_B64_MSG_VALUE_MAX - 1);
	assert_int_equal(err.c_len, 2);
	len = sp_b64_error_message(&err, in, sizeof(in), buf, sizeof(buf));
	assert_int_equal(buf[SP_B64_MSG_VALUE_MAX], '\'');
	assert_int_equal(len, strlen(buf));
	assert_string_equal(buf + SP_B64_MSG_VALUE_MAX, "' can not be converted to a Blob: "
							"Invalid Base64 character: '\xc3\xa9'");
	/* Small buffers: truncated and NUL-terminated; cap 0 writes nothing. */
	assert_int_equal(sp_b64_error_message(&err, in, sizeof(in), buf, 5), 4);
	assert_string_equal(buf, "'AAA");
	buf[0] = 'x';
	assert_int_equal(sp_b64_error_message(&err, in, sizeof(in), buf, 0), 0);
	assert_int_equal(buf[0], 'x');
	err.status = SP_B64_OK;
	assert_int_equal(sp_b64_error_message(&err, in, sizeof(in), buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
}

/* Random strings, mostly alphabet, some pads and bad bytes and UTF-8: kernels vs the model. */
static void
test_random_strings(void **state)
{
	static const char *const extra[] = { "=", "==", "*", "\xc3\xa9", "\xe2\x82\xac",
					     "\xf0\x9f\x98\x80", "\n", "-" };
	static const char alpha[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char s[RAND_MAX_CHARS + 8];
	unsigned r;

	(void)state;
	for (r = 0; r < RAND_ROUNDS; r++) {
		size_t want = (size_t)(rng_next() % (RAND_MAX_CHARS + 1));
		unsigned odds = (unsigned)(rng_next() % 200) + 1;
		size_t len = 0;
		size_t cut;

		while (len < want) {
			uint64_t x = rng_next();

			if (x % odds == 0) {
				const char *e = extra[(x >> 16) % SP_ARRAY_SIZE(extra)];

				memcpy(s + len, e, strlen(e));
				len += strlen(e);
			} else {
				s[len++] = alpha[(x >> 8) % 64];
			}
		}
		/* Often end in a valid-looking pad pattern (keeping the UTF-8 well-formed). */
		cut = len & ~(size_t)3;
		if (cut >= 4 && rng_next() % 3 == 0 &&
		    (cut == len || ((uint8_t)s[cut] & 0xc0) != 0x80) &&
		    ((uint8_t)s[cut - 1] | (uint8_t)s[cut - 2]) < 0x80) {
			len = cut;
			s[len - 1] = '=';
			if (rng_next() % 2 == 0) {
				s[len - 2] = '=';
			}
		}
		check_all(s, len);
	}
}

static int
setup_kernels(void **state)
{
	unsigned k;

	(void)state;
	for (k = 0; k < SP_B64_KERNEL_COUNT; k++) {
		if (sp_b64_kernel_supported((enum sp_b64_kernel)k)) {
			g_kernels[g_nkernels++] = (enum sp_b64_kernel)k;
		}
	}
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_select_env),
		cmocka_unit_test(test_force_and_names),
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_roundtrip_all_lengths),
		cmocka_unit_test(test_page_edges),
		cmocka_unit_test(test_bad_char_positions),
		cmocka_unit_test(test_pads_in_middle),
		cmocka_unit_test(test_noncanonical_last),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_message_bounds),
		cmocka_unit_test(test_random_strings),
	};

	return cmocka_run_group_tests(tests, setup_kernels, NULL);
}
