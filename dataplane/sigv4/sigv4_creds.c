/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The credentials file and the key table built from it. The file is the AWS CLI's INI format
 * (`[profile]`, then `aws_access_key_id`, `aws_secret_access_key`, optional
 * `aws_session_token`) plus our optional `account_id`; docs/internals/sigv4.md gives the
 * grammar. Parsing is strict: anything the AWS CLI would read differently, or that looks like a
 * typo, refuses the whole file with the line number, because a half-loaded key table fails
 * later and silently.
 *
 * Invariants of a built table: 1..SP_SIGV4_MAX_KEYS keys; access key ids unique; every string
 * within its bound, NUL-terminated and free of whitespace; the open-addressing index holds
 * each key exactly once. The table is written only while it is built (main lcore, boot or
 * reload) and is read-only afterwards, from any lcore.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <spate/assert.h>

#include "sigv4.h"

/* Index slots: a power of two, at least twice SP_SIGV4_MAX_KEYS so probes stay short. */
#define SIGV4_KEY_SLOTS 512u
SP_STATIC_ASSERT(SIGV4_KEY_SLOTS >= 2 * SP_SIGV4_MAX_KEYS, "index too small");
SP_STATIC_ASSERT((SIGV4_KEY_SLOTS & (SIGV4_KEY_SLOTS - 1)) == 0, "slots not a power of 2");
SP_STATIC_ASSERT(SP_SIGV4_MAX_KEYS < UINT16_MAX, "index entries are 16 bits");

struct sp_sigv4_keys {
	unsigned n;
	uint16_t slot[SIGV4_KEY_SLOTS]; /* key index + 1; 0 is empty */
	struct sp_sigv4_key keys[SP_SIGV4_MAX_KEYS];
	size_t arena_used;
	size_t arena_cap;
	char arena[]; /* session tokens, NUL-terminated, back to back */
};

/* The keys a profile may hold, as bits of sigv4_ini.seen. */
enum sigv4_field {
	SIGV4_F_ID = 0,
	SIGV4_F_SECRET,
	SIGV4_F_TOKEN,
	SIGV4_F_ACCOUNT,
	SIGV4_F_COUNT,
};

static const char *const sigv4_field_names[SIGV4_F_COUNT] = {
	[SIGV4_F_ID] = "aws_access_key_id",
	[SIGV4_F_SECRET] = "aws_secret_access_key",
	[SIGV4_F_TOKEN] = "aws_session_token",
	[SIGV4_F_ACCOUNT] = "account_id",
};

/* Parser state over one file image. */
struct sigv4_ini {
	const char *text;
	size_t len;
	unsigned line;
	struct sp_sigv4_keys *keys;
	struct sp_sigv4_key *cur; /* the profile being filled, not yet in the index */
	unsigned seen;		  /* sigv4_field bits of cur */
	const char *default_account;
	char *err;
	size_t err_cap;
};

SP_PRINTF(3, 4)
static int
sigv4_ini_fail(struct sigv4_ini *ini, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int k;

	SP_VERIFY(ini != NULL && fmt != NULL);
	if (ini->err == NULL || ini->err_cap == 0) {
		return -EINVAL;
	}
	k = snprintf(ini->err, ini->err_cap, "line %u: ", line);
	if (k > 0 && (size_t)k < ini->err_cap) {
		va_start(ap, fmt);
		(void)vsnprintf(ini->err + k, ini->err_cap - (size_t)k, fmt, ap);
		va_end(ap);
	}
	SP_ASSERT(strlen(ini->err) < ini->err_cap);
	return -EINVAL;
}

/* FNV-1a of an access key id: the index hash. */
static uint32_t
sigv4_key_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	SP_VERIFY(s != NULL || len == 0);
	for (i = 0; i < len; i++) {
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	}
	SP_ASSERT(i == len);
	return h;
}

int
sp_sigv4_keys_find(const struct sp_sigv4_keys *keys, const char *akid, size_t len)
{
	uint32_t h;
	unsigned probe;

	SP_VERIFY(keys != NULL && keys->n <= SP_SIGV4_MAX_KEYS);
	if (len == 0 || len > SP_SIGV4_ACCESS_KEY_MAX) {
		return -ENOENT;
	}
	SP_VERIFY(akid != NULL);
	h = sigv4_key_hash(akid, len);
	/* Bounded: the table is never more than half full, so an empty slot ends the probe. */
	for (probe = 0; probe < SIGV4_KEY_SLOTS; probe++) {
		unsigned s = keys->slot[(h + probe) & (SIGV4_KEY_SLOTS - 1)];
		const struct sp_sigv4_key *k;

		if (s == 0) {
			return -ENOENT;
		}
		SP_ASSERT(s <= keys->n);
		k = &keys->keys[s - 1];
		if (k->access_key_len == len && memcmp(k->access_key, akid, len) == 0) {
			return (int)(s - 1);
		}
	}
	return -ENOENT;
}

unsigned
sp_sigv4_keys_count(const struct sp_sigv4_keys *keys)
{
	SP_VERIFY(keys != NULL);
	SP_VERIFY(keys->n <= SP_SIGV4_MAX_KEYS);
	return keys->n;
}

const struct sp_sigv4_key *
sp_sigv4_keys_get(const struct sp_sigv4_keys *keys, unsigned i)
{
	SP_VERIFY(keys != NULL);
	SP_VERIFY(i < keys->n);
	return &keys->keys[i];
}

void
sp_sigv4_keys_free(struct sp_sigv4_keys *keys)
{
	if (keys == NULL) {
		return;
	}
	SP_VERIFY(keys->n <= SP_SIGV4_MAX_KEYS);
	SP_VERIFY(keys->arena_used <= keys->arena_cap);
	OPENSSL_cleanse(keys, sizeof(*keys) + keys->arena_cap);
	free(keys);
}

static bool
sigv4_is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Trim spaces and tabs at both ends of [*p, *p + *n). */
static void
sigv4_trim(const char **p, size_t *n)
{
	SP_VERIFY(p != NULL && n != NULL);
	while (*n > 0 && sigv4_is_space((*p)[0])) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && sigv4_is_space((*p)[*n - 1])) {
		(*n)--;
	}
	SP_ASSERT(*n == 0 || !sigv4_is_space((*p)[0]));
}

/* Whether every byte of s[0..n) is accepted by ok(). */
static bool
sigv4_all(const char *s, size_t n, bool (*ok)(char))
{
	size_t i;

	SP_VERIFY(ok != NULL);
	for (i = 0; i < n; i++) {
		if (!ok(s[i])) {
			return false;
		}
	}
	SP_ASSERT(i == n);
	return true;
}

static bool
sigv4_is_idchar(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

static bool
sigv4_is_graph(char c)
{
	return c > ' ' && c < 0x7f;
}

static bool
sigv4_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
sigv4_is_profchar(char c)
{
	return sigv4_is_idchar(c) || (c != 0 && strchr("-.@+=,", c) != NULL);
}

/* Finish the current profile: completeness, default account, index entry. */
static int
sigv4_ini_commit(struct sigv4_ini *ini)
{
	struct sp_sigv4_key *k = ini->cur;
	struct sp_sigv4_keys *keys = ini->keys;
	uint32_t h;
	unsigned probe;

	SP_VERIFY(keys->n <= SP_SIGV4_MAX_KEYS);
	if (k == NULL) {
		return 0;
	}
	SP_VERIFY(keys->n < SP_SIGV4_MAX_KEYS && k == &keys->keys[keys->n]);
	if (!(ini->seen & (1u << SIGV4_F_ID)) || !(ini->seen & (1u << SIGV4_F_SECRET))) {
		return sigv4_ini_fail(ini, k->line, "profile '%s' has no %s", k->profile,
				      sigv4_field_names[(ini->seen & (1u << SIGV4_F_ID)) ?
							SIGV4_F_SECRET : SIGV4_F_ID]);
	}
	if (!(ini->seen & (1u << SIGV4_F_ACCOUNT))) {
		memcpy(k->account, ini->default_account, SP_SIGV4_ACCOUNT_LEN + 1);
	}
	/* The key id was checked against the index when its line was read: insert. */
	h = sigv4_key_hash(k->access_key, k->access_key_len);
	for (probe = 0; keys->slot[(h + probe) & (SIGV4_KEY_SLOTS - 1)] != 0; probe++) {
		SP_VERIFY(probe < SIGV4_KEY_SLOTS);
	}
	keys->slot[(h + probe) & (SIGV4_KEY_SLOTS - 1)] = (uint16_t)(keys->n + 1);
	keys->n++;
	ini->cur = NULL;
	ini->seen = 0;
	return 0;
}

/* A `[name]` line (already trimmed, brackets included). */
static int
sigv4_ini_section(struct sigv4_ini *ini, const char *s, size_t n)
{
	struct sp_sigv4_keys *keys = ini->keys;
	struct sp_sigv4_key *k;
	unsigned i;
	int rc;

	SP_VERIFY(n >= 1 && s[0] == '[');
	if (s[n - 1] != ']') {
		return sigv4_ini_fail(ini, ini->line, "section header without a closing ']'");
	}
	s++;
	n -= 2;
	sigv4_trim(&s, &n);
	if (n == 0 || n > SP_SIGV4_PROFILE_MAX || !sigv4_all(s, n, sigv4_is_profchar)) {
		return sigv4_ini_fail(ini, ini->line, "profile names are 1-%u characters of "
				      "A-Z a-z 0-9 _ - . @ + = ,", SP_SIGV4_PROFILE_MAX);
	}
	rc = sigv4_ini_commit(ini);
	if (rc != 0) {
		return rc;
	}
	for (i = 0; i < keys->n; i++) {
		if (keys->keys[i].profile_len == n && memcmp(keys->keys[i].profile, s, n) == 0) {
			return sigv4_ini_fail(ini, ini->line, "duplicate profile '%.*s' (line %u)",
					      (int)n, s, keys->keys[i].line);
		}
	}
	if (keys->n >= SP_SIGV4_MAX_KEYS) {
		return sigv4_ini_fail(ini, ini->line, "more than %u profiles", SP_SIGV4_MAX_KEYS);
	}
	k = &keys->keys[keys->n];
	memset(k, 0, sizeof(*k));
	memcpy(k->profile, s, n);
	k->profile_len = (uint16_t)n;
	k->line = ini->line;
	ini->cur = k;
	ini->seen = 0;
	SP_ASSERT(k->profile[n] == '\0');
	return 0;
}

/* The field named key[0..n), compared case-insensitively as the AWS CLI does; or COUNT. */
static enum sigv4_field
sigv4_ini_field(const char *key, size_t n)
{
	unsigned f;

	SP_VERIFY(key != NULL);
	for (f = 0; f < SIGV4_F_COUNT; f++) {
		if (strlen(sigv4_field_names[f]) == n &&
		    strncasecmp(sigv4_field_names[f], key, n) == 0) {
			return (enum sigv4_field)f;
		}
	}
	SP_ASSERT(f == SIGV4_F_COUNT);
	return SIGV4_F_COUNT;
}

/* Check and store the value v[0..n) (non-empty, printable, no whitespace) of field f. */
static int
sigv4_ini_value(struct sigv4_ini *ini, enum sigv4_field f, const char *v, size_t n)
{
	struct sp_sigv4_key *k = ini->cur;
	struct sp_sigv4_keys *keys = ini->keys;
	int idx;

	SP_VERIFY(k != NULL && n > 0);
	switch (f) {
	case SIGV4_F_ID:
		if (n > SP_SIGV4_ACCESS_KEY_MAX || !sigv4_all(v, n, sigv4_is_idchar)) {
			return sigv4_ini_fail(ini, ini->line,
					      "aws_access_key_id must be 1-%u characters of "
					      "A-Z a-z 0-9 _", SP_SIGV4_ACCESS_KEY_MAX);
		}
		idx = sp_sigv4_keys_find(keys, v, n);
		if (idx >= 0) {
			return sigv4_ini_fail(ini, ini->line, "access key %.*s is already used by "
					      "profile '%s' (line %u)", (int)n, v,
					      keys->keys[idx].profile, keys->keys[idx].line);
		}
		memcpy(k->access_key, v, n);
		k->access_key_len = (uint16_t)n;
		break;
	case SIGV4_F_SECRET:
		if (n > SP_SIGV4_SECRET_MAX) {
			return sigv4_ini_fail(ini, ini->line,
					      "aws_secret_access_key longer than %u characters",
					      SP_SIGV4_SECRET_MAX);
		}
		memcpy(k->secret, v, n);
		k->secret_len = (uint16_t)n;
		break;
	case SIGV4_F_TOKEN:
		if (n > SP_SIGV4_TOKEN_MAX) {
			return sigv4_ini_fail(ini, ini->line,
					      "aws_session_token longer than %u characters",
					      SP_SIGV4_TOKEN_MAX);
		}
		/* The arena holds the whole file, so every token of it fits. */
		SP_VERIFY(keys->arena_used + n + 1 <= keys->arena_cap);
		memcpy(keys->arena + keys->arena_used, v, n);
		k->token = keys->arena + keys->arena_used;
		k->token_len = (uint16_t)n;
		keys->arena_used += n + 1;
		break;
	default:
		SP_VERIFY(f == SIGV4_F_ACCOUNT);
		if (n != SP_SIGV4_ACCOUNT_LEN || !sigv4_all(v, n, sigv4_is_digit)) {
			return sigv4_ini_fail(ini, ini->line,
					      "account_id must be exactly %u digits",
					      SP_SIGV4_ACCOUNT_LEN);
		}
		memcpy(k->account, v, n);
		break;
	}
	ini->seen |= 1u << f;
	return 0;
}

/* A `key = value` (or `key: value`) line, already trimmed. */
static int
sigv4_ini_keyline(struct sigv4_ini *ini, const char *s, size_t n)
{
	const char *eq = memchr(s, '=', n);
	const char *colon = memchr(s, ':', n);
	const char *key = s;
	const char *v;
	size_t kn;
	size_t vn;
	enum sigv4_field f;

	SP_VERIFY(n > 0 && !sigv4_is_space(s[0]));
	if (eq == NULL || (colon != NULL && colon < eq)) {
		eq = colon;	/* configparser splits at the first '=' or ':' */
	}
	if (eq == NULL) {
		return sigv4_ini_fail(ini, ini->line, "expected '[profile]', 'key = value' or a "
				      "comment");
	}
	kn = (size_t)(eq - s);
	v = eq + 1;
	vn = n - kn - 1;
	sigv4_trim(&key, &kn);
	sigv4_trim(&v, &vn);
	if (ini->cur == NULL) {
		return sigv4_ini_fail(ini, ini->line, "key '%.*s' outside a [profile] section",
				      (int)SP_MIN(kn, 64u), key);
	}
	f = sigv4_ini_field(key, kn);
	if (f == SIGV4_F_COUNT) {
		return sigv4_ini_fail(ini, ini->line, "unknown key '%.*s' (known: "
				      "aws_access_key_id, aws_secret_access_key, "
				      "aws_session_token, account_id)", (int)SP_MIN(kn, 64u), key);
	}
	if (ini->seen & (1u << f)) {
		return sigv4_ini_fail(ini, ini->line, "duplicate %s in profile '%s'",
				      sigv4_field_names[f], ini->cur->profile);
	}
	if (vn == 0) {
		return sigv4_ini_fail(ini, ini->line, "empty %s", sigv4_field_names[f]);
	}
	if (memchr(v, ' ', vn) != NULL || memchr(v, '\t', vn) != NULL) {
		return sigv4_ini_fail(ini, ini->line, "%s contains whitespace (inline comments "
				      "are not supported)", sigv4_field_names[f]);
	}
	if (!sigv4_all(v, vn, sigv4_is_graph)) {
		return sigv4_ini_fail(ini, ini->line, "%s has a byte outside printable ASCII",
				      sigv4_field_names[f]);
	}
	return sigv4_ini_value(ini, f, v, vn);
}

/* One line, without its line end. */
static int
sigv4_ini_line(struct sigv4_ini *ini, const char *s, size_t n)
{
	bool indented;

	SP_VERIFY(ini != NULL && s != NULL);
	if (n > SP_SIGV4_LINE_MAX) {
		return sigv4_ini_fail(ini, ini->line, "longer than %u bytes", SP_SIGV4_LINE_MAX);
	}
	if (memchr(s, '\0', n) != NULL) {
		return sigv4_ini_fail(ini, ini->line, "NUL byte");
	}
	indented = n > 0 && sigv4_is_space(s[0]);
	sigv4_trim(&s, &n);
	if (n == 0 || s[0] == '#' || s[0] == ';') {
		return 0;
	}
	if (indented) {
		/* The AWS CLI would append it to the previous value: refuse rather than guess. */
		return sigv4_ini_fail(ini, ini->line, "indented line (a continuation line to the "
				      "AWS CLI; not supported)");
	}
	SP_ASSERT(!sigv4_is_space(s[0]));
	if (s[0] == '[') {
		return sigv4_ini_section(ini, s, n);
	}
	return sigv4_ini_keyline(ini, s, n);
}

static int
sigv4_ini_run(struct sigv4_ini *ini)
{
	size_t pos = 0;
	int rc;

	SP_VERIFY(ini->keys != NULL && ini->keys->n == 0);
	if (ini->len >= 3 && memcmp(ini->text, "\xef\xbb\xbf", 3) == 0) {
		pos = 3; /* UTF-8 byte order mark */
	}
	while (pos < ini->len) {
		const char *s = ini->text + pos;
		const char *nl = memchr(s, '\n', ini->len - pos);
		size_t n = nl != NULL ? (size_t)(nl - s) : ini->len - pos;

		pos += n + (nl != NULL);
		ini->line++;
		if (n > 0 && s[n - 1] == '\r') {
			n--;
		}
		rc = sigv4_ini_line(ini, s, n);
		if (rc != 0) {
			return rc;
		}
	}
	SP_VERIFY(pos == ini->len);
	rc = sigv4_ini_commit(ini);
	if (rc != 0) {
		return rc;
	}
	if (ini->keys->n == 0) {
		return sigv4_ini_fail(ini, SP_MAX(ini->line, 1u), "no profiles in the file");
	}
	return 0;
}

int
sp_sigv4_keys_parse(const char *text, size_t len, const char *default_account,
		    struct sp_sigv4_keys **out, char *err, size_t err_cap)
{
	struct sigv4_ini ini = { .text = text, .len = len, .err = err, .err_cap = err_cap };
	int rc;

	SP_VERIFY(out != NULL && (text != NULL || len == 0));
	*out = NULL;
	if (err != NULL && err_cap > 0) {
		err[0] = '\0';
	}
	if (default_account == NULL || strlen(default_account) != SP_SIGV4_ACCOUNT_LEN ||
	    !sigv4_all(default_account, SP_SIGV4_ACCOUNT_LEN, sigv4_is_digit)) {
		if (err != NULL && err_cap > 0) {
			(void)snprintf(err, err_cap, "default account id must be exactly %u digits",
				       SP_SIGV4_ACCOUNT_LEN);
		}
		return -EINVAL;
	}
	ini.default_account = default_account;
	ini.keys = calloc(1, sizeof(*ini.keys) + len + 1);
	if (ini.keys == NULL) {
		return -ENOMEM;
	}
	ini.keys->arena_cap = len + 1;
	rc = sigv4_ini_run(&ini);
	if (rc != 0) {
		sp_sigv4_keys_free(ini.keys);
		return rc;
	}
	SP_VERIFY(ini.keys->n >= 1 && ini.keys->n <= SP_SIGV4_MAX_KEYS);
	*out = ini.keys;
	return 0;
}

/* Read the whole file into a new buffer (*buf, *len). 0 or -errno / -EFBIG. */
static int
sigv4_read_file(const char *path, char **buf, size_t *len)
{
	struct stat st;
	size_t got = 0;
	int fd;
	int rc = 0;

	SP_VERIFY(path != NULL && buf != NULL && len != NULL);
	*buf = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
	} else if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
	} else if ((uint64_t)st.st_size > SP_SIGV4_FILE_MAX_BYTES) {
		rc = -EFBIG;
	} else if ((*buf = malloc((size_t)st.st_size + 1)) == NULL) {
		rc = -ENOMEM;
	}
	/* A file that grows while we read it is cut at its size when we looked. */
	while (rc == 0 && got < (size_t)st.st_size) {
		ssize_t k = read(fd, *buf + got, (size_t)st.st_size - got);

		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k <= 0) {
			rc = k < 0 ? -errno : 0;
			break;
		}
		got += (size_t)k;
	}
	(void)close(fd);
	if (rc != 0) {
		free(*buf);
		*buf = NULL;
		return rc;
	}
	SP_VERIFY(got <= SP_SIGV4_FILE_MAX_BYTES);
	*len = got;
	return 0;
}

int
sp_sigv4_keys_load(const char *path, const char *default_account, struct sp_sigv4_keys **out,
		   char *err, size_t err_cap)
{
	char why[SP_SIGV4_ERR_MAX];
	char *buf = NULL;
	size_t len = 0;
	int rc;

	SP_VERIFY(path != NULL && out != NULL);
	*out = NULL;
	why[0] = '\0';
	rc = sigv4_read_file(path, &buf, &len);
	if (rc == 0) {
		rc = sp_sigv4_keys_parse(buf, len, default_account, out, why, sizeof(why));
		OPENSSL_cleanse(buf, len);
		free(buf);
	} else if (rc == -EFBIG) {
		(void)snprintf(why, sizeof(why), "larger than %u bytes", SP_SIGV4_FILE_MAX_BYTES);
	} else if (rc == -EINVAL) {
		(void)snprintf(why, sizeof(why), "not a regular file");
	} else {
		(void)snprintf(why, sizeof(why), "%s", strerror(-rc));
	}
	if (rc != 0 && err != NULL && err_cap > 0) {
		(void)snprintf(err, err_cap, "%s: %s", path, why);
	}
	SP_ASSERT(rc != 0 || *out != NULL);
	return rc;
}
