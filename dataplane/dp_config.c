/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Configuration parsing for spate-dataplane. Owns the key table generated from
 * include/spate/config_keys.def: each key is declared once with its type, default and bounds,
 * and one generic setter per type fills the struct field through offsetof (STYLE.md §12).
 * Runs on the main lcore before EAL starts; never on a worker.
 */
#include "dp_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spate/assert.h>

enum cfg_type {
	CFG_STR,
	CFG_UINT,
	CFG_BOOL,
	CFG_IDLE,
	CFG_STEER,
};

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t offset;
	size_t size;
	const char *def;
	uint64_t min;
	uint64_t max;
	const char *doc;
};

#define CFG_T_STR  CFG_STR
#define CFG_T_UINT CFG_UINT
#define CFG_T_BOOL CFG_BOOL
#define CFG_T_IDLE CFG_IDLE
#define CFG_T_STEER CFG_STEER

static const struct cfg_key cfg_keys[] = {
#define SP_CFG_KEY(n, t, field, d, mn, mx, doc_)                                                   \
	{#n,                                                                                       \
	 CFG_T_##t,                                                                                \
	 offsetof(struct sp_dp_config, field),                                                     \
	 sizeof(((struct sp_dp_config *)0)->field),                                                \
	 d,                                                                                        \
	 mn,                                                                                       \
	 mx,                                                                                       \
	 doc_},
#include <spate/config_keys.def>
#undef SP_CFG_KEY
};

#define CFG_LINE_MAX 1024 /* longest config-file line */

static const struct cfg_key *
cfg_find(const char *key)
{
	for (size_t i = 0; i < SP_ARRAY_SIZE(cfg_keys); i++) {
		if (strcmp(cfg_keys[i].name, key) == 0) {
			return &cfg_keys[i];
		}
	}
	return NULL;
}

static int
cfg_parse_uint(const char *value, uint64_t *out)
{
	char *end = NULL;

	if (value[0] < '0' || value[0] > '9') {
		return -EINVAL;
	}
	errno = 0;
	unsigned long long v = strtoull(value, &end, 10);
	if (errno != 0 || *end != '\0') {
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int
cfg_parse_bool(const char *value, bool *out)
{
	static const char *const yes[] = {"true", "1", "yes", "on"};
	static const char *const no[] = {"false", "0", "no", "off"};

	for (size_t i = 0; i < SP_ARRAY_SIZE(yes); i++) {
		if (strcmp(value, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(value, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int
cfg_parse_steer(const char *value, enum sp_steer_mode *out)
{
	static const char *const names[] = {"auto", "on", "off"}; /* enum order */

	for (size_t i = 0; i < SP_ARRAY_SIZE(names); i++) {
		if (strcmp(value, names[i]) == 0) {
			*out = (enum sp_steer_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

int
sp_cfg_set(struct sp_dp_config *cfg, const char *key, const char *value, char *errbuf,
	   size_t errlen)
{
	const struct cfg_key *k = cfg_find(key);
	char *field;
	int rc = 0;

	if (errbuf != NULL && errlen > 0) {
		errbuf[0] = '\0';
	}
	if (k == NULL) {
		if (errbuf != NULL) {
			snprintf(errbuf, errlen, "unknown config key '%s'", key);
		}
		return -ENOENT;
	}
	field = (char *)cfg + k->offset;
	switch (k->type) {
	case CFG_STR: {
		size_t n = strlen(value);
		if (n >= k->size) {
			rc = -ENAMETOOLONG;
			break;
		}
		memcpy(field, value, n + 1);
		break;
	}
	case CFG_UINT: {
		uint64_t v;
		SP_VERIFY(k->size == sizeof(uint64_t));
		rc = cfg_parse_uint(value, &v);
		if (rc == 0 && (v < k->min || v > k->max)) {
			rc = -ERANGE;
		}
		if (rc == 0) {
			memcpy(field, &v, sizeof(v));
		}
		break;
	}
	case CFG_BOOL: {
		bool b;
		SP_VERIFY(k->size == sizeof(bool));
		rc = cfg_parse_bool(value, &b);
		if (rc == 0) {
			memcpy(field, &b, sizeof(b));
		}
		break;
	}
	case CFG_IDLE: {
		enum sp_idle_policy p;
		SP_VERIFY(k->size == sizeof(enum sp_idle_policy));
		if (strcmp(value, "spin") == 0) {
			p = SP_IDLE_SPIN;
		} else if (strcmp(value, "sleep") == 0) {
			p = SP_IDLE_SLEEP;
		} else {
			rc = -EINVAL;
			break;
		}
		memcpy(field, &p, sizeof(p));
		break;
	}
	case CFG_STEER: {
		enum sp_steer_mode sm;
		SP_VERIFY(k->size == sizeof(enum sp_steer_mode));
		rc = cfg_parse_steer(value, &sm);
		if (rc == 0) {
			memcpy(field, &sm, sizeof(sm));
		}
		break;
	}
	default:
		SP_VERIFY(0);
	}
	if (rc != 0 && errbuf != NULL) {
		if (rc == -ERANGE) {
			snprintf(errbuf, errlen, "%s: %s is outside [%" PRIu64 ", %" PRIu64 "]",
				 key, value, k->min, k->max);
		} else if (rc == -ENAMETOOLONG) {
			snprintf(errbuf, errlen, "%s: value longer than %zu bytes", key,
				 k->size - 1);
		} else {
			snprintf(errbuf, errlen, "%s: cannot parse '%s'", key, value);
		}
	}
	return rc;
}

int
sp_cfg_set_kv(struct sp_dp_config *cfg, const char *kv, char *errbuf, size_t errlen)
{
	char key[CFG_LINE_MAX];
	const char *eq = strchr(kv, '=');
	size_t klen;

	if (eq == NULL || eq == kv) {
		if (errbuf != NULL) {
			snprintf(errbuf, errlen, "expected key=value, got '%s'", kv);
		}
		return -EINVAL;
	}
	klen = (size_t)(eq - kv);
	if (klen >= sizeof(key)) {
		if (errbuf != NULL) {
			snprintf(errbuf, errlen, "key too long");
		}
		return -EINVAL;
	}
	memcpy(key, kv, klen);
	key[klen] = '\0';
	return sp_cfg_set(cfg, key, eq + 1, errbuf, errlen);
}

void
sp_cfg_defaults(struct sp_dp_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < SP_ARRAY_SIZE(cfg_keys); i++) {
		int rc = sp_cfg_set(cfg, cfg_keys[i].name, cfg_keys[i].def, NULL, 0);
		/* An embedded default that does not parse is a programmer error. */
		SP_VERIFY(rc == 0);
	}
}

/* Trim leading and trailing blanks in place; returns the start. */
static char *
cfg_trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t') {
		s++;
	}
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) {
		end--;
	}
	*end = '\0';
	return s;
}

int
sp_cfg_parse_text(struct sp_dp_config *cfg, const char *text, size_t len, char *errbuf,
		  size_t errlen)
{
	char line[CFG_LINE_MAX];
	size_t pos = 0;
	unsigned lineno = 0;

	while (pos < len) {
		size_t start = pos;
		size_t n;
		char *k, *v, *eq, *hash;
		int rc;

		while (pos < len && text[pos] != '\n') {
			pos++;
		}
		n = pos - start;
		pos++; /* skip the newline (or step past the end) */
		lineno++;
		if (n >= sizeof(line)) {
			snprintf(errbuf, errlen, "line %u: longer than %d bytes", lineno,
				 CFG_LINE_MAX - 1);
			return -EINVAL;
		}
		memcpy(line, text + start, n);
		line[n] = '\0';
		if (memchr(line, '\0', n) != NULL) {
			snprintf(errbuf, errlen, "line %u: NUL byte", lineno);
			return -EINVAL;
		}
		hash = strchr(line, '#');
		if (hash != NULL) {
			*hash = '\0';
		}
		k = cfg_trim(line);
		if (*k == '\0') {
			continue;
		}
		eq = strchr(k, '=');
		if (eq == NULL) {
			snprintf(errbuf, errlen, "line %u: expected 'key = value'", lineno);
			return -EINVAL;
		}
		*eq = '\0';
		v = cfg_trim(eq + 1);
		k = cfg_trim(k);
		rc = sp_cfg_set(cfg, k, v, errbuf, errlen);
		if (rc != 0) {
			char msg[256];
			snprintf(msg, sizeof(msg), "%s", errbuf);
			snprintf(errbuf, errlen, "line %u: %s", lineno, msg);
			return rc;
		}
	}
	return 0;
}

#define CFG_FILE_MAX_BYTES (256 * 1024) /* config files are small; refuse anything larger */

int
sp_cfg_load_file(struct sp_dp_config *cfg, const char *path, char *errbuf, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;
	int rc;

	if (f == NULL) {
		rc = -errno;
		snprintf(errbuf, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	buf = malloc(CFG_FILE_MAX_BYTES + 1);
	if (buf == NULL) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, CFG_FILE_MAX_BYTES + 1, f);
	if (ferror(f)) {
		rc = -EIO;
		snprintf(errbuf, errlen, "%s: read error", path);
	} else if (n > CFG_FILE_MAX_BYTES) {
		rc = -EFBIG;
		snprintf(errbuf, errlen, "%s: larger than %d bytes", path, CFG_FILE_MAX_BYTES);
	} else {
		rc = sp_cfg_parse_text(cfg, buf, n, errbuf, errlen);
	}
	free(buf);
	fclose(f);
	return rc;
}

int
sp_cfg_parse_ipv4_prefix(const char *text, uint32_t *addr_be, uint8_t *prefix_len)
{
	char buf[32];
	const char *slash = strchr(text, '/');
	uint64_t len;
	struct in_addr a;
	size_t n;

	if (slash == NULL) {
		return -EINVAL;
	}
	n = (size_t)(slash - text);
	if (n == 0 || n >= sizeof(buf)) {
		return -EINVAL;
	}
	memcpy(buf, text, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1) {
		return -EINVAL;
	}
	if (cfg_parse_uint(slash + 1, &len) != 0 || len < 1 || len > 32) {
		return -EINVAL;
	}
	*addr_be = a.s_addr;
	*prefix_len = (uint8_t)len;
	return 0;
}

int
sp_cfg_validate(const struct sp_dp_config *cfg, char *errbuf, size_t errlen)
{
	unsigned nports = 0;

	for (unsigned i = 0; i < SP_MAX_PORTS; i++) {
		uint32_t a;
		uint8_t l;

		if (cfg->port_vdev[i][0] == '\0') {
			continue;
		}
		nports++;
		if (sp_cfg_parse_ipv4_prefix(cfg->port_ipv4[i], &a, &l) != 0) {
			snprintf(errbuf, errlen, "port%u_ipv4: '%s' is not a.b.c.d/len", i,
				 cfg->port_ipv4[i]);
			return -EINVAL;
		}
	}
	if (nports == 0) {
		snprintf(errbuf, errlen, "no port configured (set port0)");
		return -EINVAL;
	}
	if (cfg->name[0] == '\0' || cfg->file_prefix[0] == '\0' || cfg->run_dir[0] == '\0') {
		snprintf(errbuf, errlen, "name, file_prefix and run_dir must not be empty");
		return -EINVAL;
	}
	return 0;
}

size_t
sp_cfg_key_count(void)
{
	return SP_ARRAY_SIZE(cfg_keys);
}

const char *
sp_cfg_key_name(size_t i)
{
	SP_VERIFY(i < SP_ARRAY_SIZE(cfg_keys));
	return cfg_keys[i].name;
}

const char *
sp_cfg_key_doc(size_t i)
{
	SP_VERIFY(i < SP_ARRAY_SIZE(cfg_keys));
	return cfg_keys[i].doc;
}

const char *
sp_cfg_key_default(size_t i)
{
	SP_VERIFY(i < SP_ARRAY_SIZE(cfg_keys));
	return cfg_keys[i].def;
}
