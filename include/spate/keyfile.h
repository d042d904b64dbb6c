/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The operator's stream-encryption key file, shared by spate-control (StartStreamEncryption
 * resolves a KeyId against it; `keys_list`) and spate-dataplane (encrypts records at rest).
 * Library sp_keyfile (common/keyfile.c, meson dependency `sp_keyfile_dep`): libc and
 * OpenSSL's SHA-256 only, no jansson, no DPDK.
 *
 * Format, one key per line:   <key-id> <64 hex digits>
 * The hex digits (either case) are the 256-bit key. Blank lines and lines whose first
 * non-blank character is `#` are ignored; leading and trailing blanks (spaces, tabs, a CR) are
 * too. Anything else fails the whole load with a message naming the line. A key id is 1 to
 * SP_KEYFILE_ID_MAX_BYTES printable ASCII characters without blanks, stored normalized
 * (sp_keyfile_normalize()); two lines with the same normalized id are an error.
 *
 * Key bytes never leave this structure through this API's messages: load errors name lines
 * and ids, never key material, and sp_keyfile_clear() wipes them.
 */
#ifndef SPATE_KEYFILE_H
#define SPATE_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#include <spate/compiler.h>

#define SP_KEYFILE_MAX_KEYS       256           /* keys in one file */
#define SP_KEYFILE_ID_MAX_BYTES   256           /* a normalized key id, without the NUL */
#define SP_KEYFILE_KEY_BYTES      32            /* AES-256 */
#define SP_KEYFILE_FP_BYTES       8             /* fingerprint: SHA-256(key)[0..8) */
#define SP_KEYFILE_FILE_MAX_BYTES (1024 * 1024) /* a longer file is refused */
#define SP_KEYFILE_ERR_BYTES      512           /* room for an id and why */

/* One key. */
struct sp_key {
	char id[SP_KEYFILE_ID_MAX_BYTES + 1]; /* normalized */
	uint8_t key[SP_KEYFILE_KEY_BYTES];
	uint8_t fp[SP_KEYFILE_FP_BYTES]; /* first 8 bytes of SHA-256 over key */
};

/* A loaded file (about 76 KiB: allocate it, or keep it static). */
struct sp_keyfile {
	size_t n;
	struct sp_key keys[SP_KEYFILE_MAX_KEYS]; /* in file order */
	char err[SP_KEYFILE_ERR_BYTES];          /* after a failed load: "line N: ..." or why */
};

/*
 * Load the key file at path into *out (cleared first). Returns 0; -EINVAL (a bad line, or too
 * many keys: out->err says which line and why; out holds no keys); -EFBIG (longer than
 * SP_KEYFILE_FILE_MAX_BYTES); or -errno of open/read (out->err says so too).
 */
SP_MUST_CHECK int sp_keyfile_load(const char *path, struct sp_keyfile *out);

/* The same from text[0..len) (tests, and the file's contents). Returns 0 or -EINVAL. */
SP_MUST_CHECK int sp_keyfile_parse(const char *text, size_t len, struct sp_keyfile *out);

/*
 * Normalize a KMS key id as Kinesis accepts one:
 *   arn:<partition>:kms:<region>:<account>:key/<id>   -> <id>
 *   arn:<partition>:kms:<region>:<account>:alias/<name> -> alias/<name>
 *   a bare key id (GUID) or alias/<name>                -> as it is
 * (partition `aws` or `aws-...`, region [a-z0-9-]*, account 12 digits). Writes the result
 * with its NUL into out[0..cap). Returns its length, or -ENAMETOOLONG when it does not fit.
 */
SP_MUST_CHECK int sp_keyfile_normalize(const char *key_id, char *out, size_t cap);

/* The key named by key_id in any accepted form (normalized first), or NULL. */
const struct sp_key *sp_keyfile_find(const struct sp_keyfile *kf, const char *key_id);

/* The key with this fingerprint, or NULL. */
const struct sp_key *sp_keyfile_find_fp(const struct sp_keyfile *kf,
					const uint8_t fp[SP_KEYFILE_FP_BYTES]);

/* The fingerprint as 16 lowercase hex digits and a NUL. */
void sp_keyfile_fp_hex(const struct sp_key *k, char out[2 * SP_KEYFILE_FP_BYTES + 1]);

/* Wipe every key (OPENSSL_cleanse) and empty kf. */
void sp_keyfile_clear(struct sp_keyfile *kf);

#endif /* SPATE_KEYFILE_H */
