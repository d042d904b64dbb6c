/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Base64 for Kinesis record Data (RFC 4648 §4: the standard alphabet, '=' padding).
 *
 * The decoder is strict the way AWS and kinesalite are: the length must be a multiple of 4,
 * every character must come from A-Z a-z 0-9 + /, '=' may appear only as one or two trailing
 * pads, and the unused low bits of the last data character must be zero (the canonical form,
 * so that decode then encode gives the input back). The empty string is valid (0 bytes).
 * When an input fails, the reported error is the one kinesalite reports first (length, then
 * the leftmost bad character, then the last character); see docs/internals/b64.md.
 *
 * Kernels: scalar always; AVX2 and AVX-512 (F+BW) when the CPU has them, chosen once by
 * sp_b64_select() (or SPATE_B64=scalar|avx2|avx512) after a self-test against the scalar
 * code. Call sp_b64_select() on the main lcore before the workers start; the coding functions
 * select lazily if nobody did, and afterwards only read the choice (safe on any lcore). No
 * function allocates: every buffer is the caller's.
 */
#ifndef SP_B64_H
#define SP_B64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spate/compiler.h>

/*
 * Bytes of the input value quoted in an error message (sp_b64_error_message): a longer value
 * is cut there (at a UTF-8 character boundary), so that a bad 10 MiB Data field does not
 * produce a 10 MiB reply. AWS and kinesalite quote the whole value; Spate's replies differ
 * from theirs only for values longer than this.
 */
#define SP_B64_MSG_VALUE_MAX 1024u
/* A message buffer of this size always holds the whole message and its NUL. */
#define SP_B64_MSG_MAX (SP_B64_MSG_VALUE_MAX + 160u)

enum sp_b64_status {
	SP_B64_OK = 0,
	SP_B64_BAD_LENGTH, /* length not a multiple of 4 */
	SP_B64_BAD_CHAR,   /* a character outside the alphabet, or '=' followed by a non-'=' */
	SP_B64_BAD_LAST,   /* non-canonical last data character, or more than two pads */
};

/* What was wrong with an input, as sp_b64_decode() and sp_b64_validate() report it. */
struct sp_b64_error {
	enum sp_b64_status status;
	/*
	 * BAD_CHAR: byte offset of the reported character. BAD_LAST: byte offset of the last
	 * data character whose unused bits are set, or of the first pad of a run of 3 or more.
	 * BAD_LENGTH: the input length in bytes.
	 */
	size_t pos;
	/* BAD_CHAR: the first byte of the reported character; 0 otherwise. */
	char c;
	/* BAD_CHAR: bytes of the reported character (1 for ASCII, up to 4 for UTF-8). */
	uint8_t c_len;
	/*
	 * BAD_LENGTH: the length the message reports, in UTF-16 code units as Java's and
	 * JavaScript's String.length count it (equal to the byte length for ASCII input).
	 */
	size_t found_len;
};

enum sp_b64_kernel {
	SP_B64_SCALAR = 0,
	SP_B64_AVX2,
	SP_B64_AVX512,
	SP_B64_KERNEL_COUNT,
};

/* 4 * ceil(n / 3): the encoded length of n bytes. */
size_t sp_b64_encoded_len(size_t n);

/* Encode n bytes into out (sp_b64_encoded_len(n) bytes, no NUL). Returns the bytes written. */
size_t sp_b64_encode(const uint8_t *in, size_t n, char *out);

/* Upper bound of decoded bytes for an input of len chars (len / 4 * 3). */
size_t sp_b64_decoded_max(size_t len);

/*
 * Strict decode of len chars into out, which holds sp_b64_decoded_max(len) bytes. Returns 0
 * and the decoded length in *out_len, or -EINVAL with the first error in *err (the order AWS
 * and kinesalite report). On error the contents of out are unspecified. in may be NULL when
 * len is 0; err may be NULL when only the verdict matters (the diagnosis is then skipped).
 */
int sp_b64_decode(const char *in, size_t len, uint8_t *out, size_t *out_len,
		  struct sp_b64_error *err) SP_MUST_CHECK;

/* Validate only (no output), with the same verdicts; *out_len = the decoded length. */
int sp_b64_validate(const char *in, size_t len, size_t *out_len,
		    struct sp_b64_error *err) SP_MUST_CHECK;

/*
 * The SerializationException message for err (kinesis-api.md §1.8), byte-exact:
 *   '<v>' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4
 *     bytes but found: <len>
 *   '<v>' can not be converted to a Blob: Invalid Base64 character: '<c>'
 *   '<v>' can not be converted to a Blob: Invalid last non-pad Base64 character dectected
 * (one line each; "dectected" sic). <v> is the input verbatim, cut at SP_B64_MSG_VALUE_MAX
 * bytes. Writes at most cap bytes including a NUL (cap 0: nothing) and returns the message
 * length written, without the NUL. Returns 0 for an err that is not an error.
 */
size_t sp_b64_error_message(const struct sp_b64_error *e, const char *in, size_t len, char *buf,
			    size_t cap);

/*
 * Choose the kernel: SPATE_B64 if set and usable, else the widest the CPU supports, each
 * accepted only after its self-test against the scalar code (a failure is logged to stderr
 * and the next kernel tried). Idempotent.
 */
void sp_b64_select(void);

/* Name of the kernel in use ("scalar", "avx2", "avx512"), selecting first if nobody did. */
const char *sp_b64_kernel_name(void);

/* Name of kernel k; "?" for anything else. */
const char *sp_b64_kernel_name_of(enum sp_b64_kernel k);

/* The kernel in use (selecting first if nobody did). */
enum sp_b64_kernel sp_b64_kernel_active(void);

/* Whether this CPU and build can run kernel k. */
bool sp_b64_kernel_supported(enum sp_b64_kernel k);

/*
 * Force a kernel (tests, benchmarks). Returns 0, -EINVAL for an unknown kernel, -ENOTSUP when
 * the CPU lacks it, -EIO when its self-test fails (the previous kernel stays).
 */
int sp_b64_force(enum sp_b64_kernel k) SP_MUST_CHECK;

/* Run kernel k's self-test: 0, -EIO, -ENOTSUP or -EINVAL. */
int sp_b64_self_test(enum sp_b64_kernel k) SP_MUST_CHECK;

/*
 * The public calls through one given kernel, same contracts (tests, fuzzers, benchmarks).
 * k must be supported (checked: SP_VERIFY).
 */
size_t sp_b64_encode_with(enum sp_b64_kernel k, const uint8_t *in, size_t n, char *out);
int sp_b64_decode_with(enum sp_b64_kernel k, const char *in, size_t len, uint8_t *out,
		       size_t *out_len, struct sp_b64_error *err) SP_MUST_CHECK;
int sp_b64_validate_with(enum sp_b64_kernel k, const char *in, size_t len, size_t *out_len,
			 struct sp_b64_error *err) SP_MUST_CHECK;

/*
 * The raw kernels. Decode and validate take len % 4 == 0 only, and return 0 (with the
 * decoded length) or -EINVAL without saying why: the public calls above then find the exact
 * error with the scalar diagnosis. Call the AVX ones only when sp_b64_kernel_supported().
 */
size_t sp_b64_encode_scalar(const uint8_t *in, size_t n, char *out);
int sp_b64_decode_scalar(const char *in, size_t len, uint8_t *out, size_t *out_len);
int sp_b64_validate_scalar(const char *in, size_t len, size_t *out_len);
size_t sp_b64_encode_avx2(const uint8_t *in, size_t n, char *out);
int sp_b64_decode_avx2(const char *in, size_t len, uint8_t *out, size_t *out_len);
int sp_b64_validate_avx2(const char *in, size_t len, size_t *out_len);
size_t sp_b64_encode_avx512(const uint8_t *in, size_t n, char *out);
int sp_b64_decode_avx512(const char *in, size_t len, uint8_t *out, size_t *out_len);
int sp_b64_validate_avx512(const char *in, size_t len, size_t *out_len);

#endif /* SP_B64_H */
