/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The stream-encryption key file (include/spate/keyfile.h): parser, KeyId normalization and
 * lookups. Shared by spate-control and spate-dataplane, so it uses libc and OpenSSL's SHA-256
 * only (no jansson, no DPDK, no logging: errors are returned as text in sp_keyfile.err).
 *
 * Invariants: a loaded sp_keyfile holds 0..SP_KEYFILE_MAX_KEYS keys with distinct, normalized
 * ids of printable ASCII; a failed load leaves none (the keys read so far are wiped). Messages
 * name lines and ids, never key bytes. Runs at start-up, on whichever thread loads it; the
 * loaded structure is read-only afterwards, so any thread may look keys up.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <spate/assert.h>
#include <spate/hex.h>
#include <spate/keyfile.h>

SP_STATIC_ASSERT(SP_KEYFILE_FP_BYTES <= SHA256_DIGEST_LENGTH, "fingerprint is a SHA-256 prefix");

static bool
keyfile_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Printable ASCII without blanks: what a key id may hold. */
static bool
keyfile_id_char(char c)
{
	return c > ' ' && c < 0x7f;
}

/* s[0..n) starts with p. */
static bool
keyfile_prefix(const char *s, size_t n, const char *p)
{
	size_t k = strlen(p);

	return n >= k && memcmp(s, p, k) == 0;
}

/*
 * The id part of a KMS ARN: "arn:aws[-x]:kms:<region>:<12 digits>:" then key/ or alias/.
 * Returns where the resource starts (with its alias/ kept), or -1 when s is not such an ARN.
 * A key id has no '/': "key/alias/x" is no key ARN.
 */
static long
keyfile_arn_resource(const char *s)
{
	size_t n = strlen(s);
	size_t i;

	if (!keyfile_prefix(s, n, "arn:aws")) {
		return -1;
	}
	i = 7;
	while (i < n && s[i] != ':' && (s[i] == '-' || (s[i] >= 'a' && s[i] <= 'z'))) {
		i++;
	}
	if (i > 7 && s[7] != '-') {
		return -1; /* "arn:awsx:" is no partition; "arn:aws-cn:" is */
	}
	if (!keyfile_prefix(s + i, n - i, ":kms:")) {
		return -1;
	}
	i += 5;
	while (i < n &&
	       (s[i] == '-' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9'))) {
		i++;
	}
	if (i >= n || s[i] != ':') {
		return -1;
	}
	i++;
	for (size_t d = 0; d < 12; d++, i++) {
		if (i >= n || s[i] < '0' || s[i] > '9') {
			return -1;
		}
	}
	if (i >= n || s[i] != ':') {
		return -1;
	}
	i++;
	if (keyfile_prefix(s + i, n - i, "key/") && n - i > 4 && strchr(s + i + 4, '/') == NULL) {
		return (long)(i + 4);
	}
	if (keyfile_prefix(s + i, n - i, "alias/") && n - i > 6) {
		return (long)i;
	}
	return -1;
}

int
sp_keyfile_normalize(const char *key_id, char *out, size_t cap)
{
	long at;
	size_t n;

	SP_VERIFY(key_id != NULL && out != NULL && cap > 0);
	at = keyfile_arn_resource(key_id);
	if (at < 0) {
		at = 0;
	}
	n = strlen(key_id + at);
	if (n + 1 > cap) {
		out[0] = '\0';
		return -ENAMETOOLONG;
	}
	memcpy(out, key_id + at, n + 1);
	SP_ASSERT(strlen(out) == n);
	return (int)n;
}

const struct sp_key *
sp_keyfile_find(const struct sp_keyfile *kf, const char *key_id)
{
	char id[SP_KEYFILE_ID_MAX_BYTES + 1];

	SP_VERIFY(kf != NULL && key_id != NULL);
	if (sp_keyfile_normalize(key_id, id, sizeof(id)) <= 0) {
		return NULL; /* too long (or empty) for any id of a file */
	}
	for (size_t i = 0; i < kf->n; i++) {
		if (strcmp(kf->keys[i].id, id) == 0) {
			return &kf->keys[i];
		}
	}
	return NULL;
}

const struct sp_key *
sp_keyfile_find_fp(const struct sp_keyfile *kf, const uint8_t fp[SP_KEYFILE_FP_BYTES])
{
	SP_VERIFY(kf != NULL && fp != NULL);
	for (size_t i = 0; i < kf->n; i++) {
		if (memcmp(kf->keys[i].fp, fp, SP_KEYFILE_FP_BYTES) == 0) {
			return &kf->keys[i];
		}
	}
	return NULL;
}

void
sp_keyfile_fp_hex(const struct sp_key *k, char out[2 * SP_KEYFILE_FP_BYTES + 1])
{
	static const char digits[] = "0123456789abcdef";

	SP_VERIFY(k != NULL && out != NULL);
	for (size_t i = 0; i < SP_KEYFILE_FP_BYTES; i++) {
		out[2 * i] = digits[k->fp[i] >> 4];
		out[2 * i + 1] = digits[k->fp[i] & 0xf];
	}
	out[2 * SP_KEYFILE_FP_BYTES] = '\0';
}

void
sp_keyfile_clear(struct sp_keyfile *kf)
{
	SP_VERIFY(kf != NULL);
	OPENSSL_cleanse(kf->keys, sizeof(kf->keys));
	kf->n = 0;
	kf->err[0] = '\0';
}

SP_PRINTF(3, 4)
static int
keyfile_fail(struct sp_keyfile *kf, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n;

	sp_keyfile_clear(kf);
	n = snprintf(kf->err, sizeof(kf->err), "line %u: ", line);
	SP_VERIFY(n > 0 && (size_t)n < sizeof(kf->err));
	va_start(ap, fmt);
	vsnprintf(kf->err + n, sizeof(kf->err) - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* One line (no newline) holding "<id> <hex>", blanks trimmed; adds the key to kf. */
/* An id of exactly 64 hex digits: most likely a key written in the id's place. */
static bool
keyfile_looks_like_key(const char *id, size_t n)
{
	if (n != 2 * SP_KEYFILE_KEY_BYTES) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)id[i])) {
			return false;
		}
	}
	return true;
}

static int
keyfile_entry(struct sp_keyfile *kf, unsigned line, const char *s, size_t n)
{
	size_t id_end = 0, hex_at, hex_end;
	char id[SP_KEYFILE_ID_MAX_BYTES + 1];
	struct sp_key *k;

	while (id_end < n && !keyfile_blank(s[id_end])) {
		id_end++;
	}
	hex_at = id_end;
	while (hex_at < n && keyfile_blank(s[hex_at])) {
		hex_at++;
	}
	hex_end = hex_at;
	while (hex_end < n && !keyfile_blank(s[hex_end])) {
		hex_end++;
	}
	if (hex_at == n || hex_end != n) {
		return keyfile_fail(kf, line, "expected \"<key-id> <64 hex digits>\"");
	}
	if (id_end > SP_KEYFILE_ID_MAX_BYTES) {
		return keyfile_fail(kf, line, "key id longer than %d characters",
				    SP_KEYFILE_ID_MAX_BYTES);
	}
	for (size_t i = 0; i < id_end; i++) {
		if (!keyfile_id_char(s[i])) {
			return keyfile_fail(kf, line,
					    "key id has a character that is not "
					    "printable ASCII");
		}
	}
	memcpy(id, s, id_end);
	id[id_end] = '\0';
	if (keyfile_looks_like_key(id, id_end)) {
		/* a line the wrong way round: the id is a key, and no message may show it */
		return keyfile_fail(kf, line,
				    "the key id is 64 hex digits, like a key: is the line "
				    "\"<key-id> <64 hex digits>\"?");
	}
	if (hex_end - hex_at != 2 * SP_KEYFILE_KEY_BYTES) {
		return keyfile_fail(
		    kf, line, "key of %s must be %d hex digits (256 bits), not %zu characters", id,
		    2 * SP_KEYFILE_KEY_BYTES, hex_end - hex_at);
	}
	if (kf->n == SP_KEYFILE_MAX_KEYS) {
		return keyfile_fail(kf, line, "more than %d keys", SP_KEYFILE_MAX_KEYS);
	}
	char norm[SP_KEYFILE_ID_MAX_BYTES + 1];

	if (sp_keyfile_normalize(id, norm, sizeof(norm)) <= 0) {
		return keyfile_fail(kf, line, "bad key id %s", id);
	}
	if (sp_keyfile_find(kf, norm) != NULL) {
		return keyfile_fail(kf, line, "duplicate key id %s", norm);
	}
	k = &kf->keys[kf->n];
	if (sp_hex_decode(s + hex_at, k->key, SP_KEYFILE_KEY_BYTES) != 0) {
		return keyfile_fail(kf, line, "key of %s has a character that is not a hex digit",
				    norm);
	}
	memcpy(k->id, norm, sizeof(k->id));
	uint8_t md[SHA256_DIGEST_LENGTH];

	SP_VERIFY(SHA256(k->key, SP_KEYFILE_KEY_BYTES, md) != NULL);
	memcpy(k->fp, md, SP_KEYFILE_FP_BYTES);
	OPENSSL_cleanse(md, sizeof(md));
	kf->n++;
	SP_ASSERT(sp_keyfile_find(kf, k->id) == k);
	return 0;
}

int
sp_keyfile_parse(const char *text, size_t len, struct sp_keyfile *out)
{
	size_t at = 0;
	unsigned line = 0;

	SP_VERIFY(out != NULL && (text != NULL || len == 0));
	sp_keyfile_clear(out);
	while (at < len) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t end = nl != NULL ? (size_t)(nl - text) : len;
		size_t b = at, e = end;
		int rc = 0;

		line++;
		while (b < e && keyfile_blank(text[b])) {
			b++;
		}
		while (e > b && keyfile_blank(text[e - 1])) {
			e--;
		}
		if (b < e && text[b] != '#') {
			rc = memchr(text + b, '\0', e - b) != NULL
				 ? keyfile_fail(out, line, "NUL byte")
				 : keyfile_entry(out, line, text + b, e - b);
		}
		if (rc != 0) {
			return rc;
		}
		at = end + 1;
	}
	SP_ASSERT(out->n <= SP_KEYFILE_MAX_KEYS);
	return 0;
}

int
sp_keyfile_load(const char *path, struct sp_keyfile *out)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = 0;
	int fd;

	SP_VERIFY(path != NULL && out != NULL);
	sp_keyfile_clear(out);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(out->err, sizeof(out->err), "%s: %s", path, strerror(-rc));
		return rc;
	}
	buf = malloc(SP_KEYFILE_FILE_MAX_BYTES + 1);
	if (buf == NULL) {
		close(fd);
		snprintf(out->err, sizeof(out->err), "%s: out of memory", path);
		return -ENOMEM;
	}
	while (rc == 0 && len <= SP_KEYFILE_FILE_MAX_BYTES) {
		ssize_t k = read(fd, buf + len, SP_KEYFILE_FILE_MAX_BYTES + 1 - len);

		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k <= 0) {
			rc = k < 0 ? -errno : 1;
			break;
		}
		len += (size_t)k;
	}
	close(fd);
	if (rc < 0 || len > SP_KEYFILE_FILE_MAX_BYTES) {
		rc = rc < 0 ? rc : -EFBIG;
		snprintf(out->err, sizeof(out->err), "%s: %s", path,
			 rc == -EFBIG ? "longer than 1 MiB" : strerror(-rc));
	} else {
		rc = sp_keyfile_parse(buf, len, out);
	}
	OPENSSL_cleanse(buf, len);
	free(buf);
	return rc;
}
