/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TLS session-ticket keys owned by spate-control (ctl_tickets.h): drawing, rotation, the file
 * that keeps them across restarts, and the channel message that hands them to the dataplane.
 *
 * The file is one JSON object, {"format":1,"rotated_at":S,"current":HEX,"previous":HEX}
 * (previous optional), mode 0600. It is replaced as a whole: written to <path>.tmp, fsynced,
 * renamed over <path>, and the directory fsynced, so after a crash the file holds either the
 * keys before the rotation or those after it.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <spate/assert.h>
#include <spate/err.h>
#include <spate/hex.h>

#include "ctl_log.h"
#include "ctl_tickets.h"

#define TICKETS_FORMAT    1
#define TICKETS_HEX_CHARS (2 * SP_CHAN_TLS_TICKET_KEY_LEN)
#define TICKETS_FILE_MAX  1024 /* the file is ~400 bytes; anything longer is not ours */

int64_t
sp_ctl_wall_s(void)
{
	struct timespec ts;

	SP_VERIFY(clock_gettime(CLOCK_REALTIME, &ts) == 0);
	return (int64_t)ts.tv_sec;
}

static void
tickets_hex(char out[TICKETS_HEX_CHARS + 1], const uint8_t *key)
{
	static const char digits[] = "0123456789abcdef";

	for (unsigned i = 0; i < SP_CHAN_TLS_TICKET_KEY_LEN; i++) {
		out[2 * i] = digits[key[i] >> 4];
		out[2 * i + 1] = digits[key[i] & 0xf];
	}
	out[TICKETS_HEX_CHARS] = '\0';
}

/* A key from a JSON string of exactly TICKETS_HEX_CHARS hex digits. */
static int
tickets_unhex(const json_t *v, uint8_t *key)
{
	if (!json_is_string(v) || json_string_length(v) != TICKETS_HEX_CHARS) {
		return -EINVAL;
	}
	return sp_hex_decode(json_string_value(v), key, SP_CHAN_TLS_TICKET_KEY_LEN);
}

/* The file's text (cur, prev, rotated_s); NULL when out of memory. The caller cleanses it. */
static char *
tickets_dump(const struct sp_ctl_tickets *t)
{
	char cur[TICKETS_HEX_CHARS + 1], prev[TICKETS_HEX_CHARS + 1];
	json_t *o;
	char *text;

	tickets_hex(cur, t->cur);
	o = json_pack("{s:i,s:I,s:s}", "format", TICKETS_FORMAT, "rotated_at",
		      (json_int_t)t->rotated_s, "current", cur);
	if (o != NULL && t->has_prev) {
		tickets_hex(prev, t->prev);
		if (json_object_set_new(o, "previous", json_string(prev)) != 0) {
			json_decref(o);
			o = NULL;
		}
		OPENSSL_cleanse(prev, sizeof(prev));
	}
	OPENSSL_cleanse(cur, sizeof(cur));
	text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o); /* jansson does not wipe the strings it held: see docs (not done) */
	return text;
}

static int
tickets_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return n < 0 ? -errno : -EIO;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsync the directory that holds path, so the rename survives a crash. */
static int
tickets_sync_dir(const char *path)
{
	char dir[SP_PATH_MAX_BYTES];
	int fd, rc = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	if (fsync(fd) != 0) {
		rc = -errno;
	}
	close(fd);
	return rc;
}

/* Replace the file with t's keys: temporary file, fsync, rename, fsync of the directory. */
static int
tickets_save(const struct sp_ctl_tickets *t)
{
	char tmp[SP_PATH_MAX_BYTES + 8];
	char *text = tickets_dump(t);
	int fd, rc;

	if (text == NULL) {
		return -ENOMEM;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", t->path);
	(void)unlink(tmp); /* a leftover of a crash between open and rename */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = -errno;
	} else {
		rc = fchmod(fd, 0600) != 0 ? -errno : 0; /* whatever the umask */
		if (rc == 0) {
			rc = tickets_write_all(fd, text, strlen(text));
		}
		if (rc == 0 && fsync(fd) != 0) {
			rc = -errno;
		}
		close(fd);
		if (rc == 0 && rename(tmp, t->path) != 0) {
			rc = -errno;
		}
		if (rc != 0) {
			(void)unlink(tmp);
		}
	}
	OPENSSL_cleanse(text, strlen(text));
	free(text);
	if (rc == 0) {
		rc = tickets_sync_dir(t->path);
	}
	if (rc != 0) {
		SP_CTL_ERR("ticket keys: writing %s: %s", t->path, sp_strerror(rc));
	}
	return rc;
}

/* Parse the file's text into t. 0, or -EINVAL when it is not a tickets file of ours. */
static int
tickets_parse(struct sp_ctl_tickets *t, const char *text, size_t len)
{
	json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *at = json_object_get(o, "rotated_at");
	json_t *prev = json_object_get(o, "previous");
	int rc = -EINVAL;

	if (json_is_object(o) &&
	    json_integer_value(json_object_get(o, "format")) == TICKETS_FORMAT &&
	    json_is_integer(at) && tickets_unhex(json_object_get(o, "current"), t->cur) == 0 &&
	    (prev == NULL || tickets_unhex(prev, t->prev) == 0)) {
		t->rotated_s = json_integer_value(at);
		t->has_prev = prev != NULL;
		rc = 0;
	}
	json_decref(o);
	return rc;
}

/* Read the file. 0, -ENOENT when absent, -EINVAL when unreadable as ours, other -errno. */
static int
tickets_load(struct sp_ctl_tickets *t)
{
	char buf[TICKETS_FILE_MAX];
	struct stat st;
	ssize_t n;
	int fd, rc;

	fd = open(t->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		return -errno;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if ((st.st_mode & 077) != 0) {
		SP_CTL_WARN("ticket keys: %s was mode %03o; now 0600", t->path,
			    (unsigned)(st.st_mode & 0777));
		(void)fchmod(fd, 0600);
	}
	n = read(fd, buf, sizeof(buf));
	rc = n < 0 ? -errno : 0;
	close(fd);
	if (rc == 0) {
		rc = n > 0 && (size_t)n < sizeof(buf) ? tickets_parse(t, buf, (size_t)n) : -EINVAL;
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

static int
tickets_draw(uint8_t *key)
{
	return RAND_bytes(key, SP_CHAN_TLS_TICKET_KEY_LEN) == 1 ? 0 : -EIO;
}

/* Draw a current key into next (previous as set by the caller), persist it, adopt it. */
static int
tickets_commit(struct sp_ctl_tickets *t, struct sp_ctl_tickets *next, int64_t now_s)
{
	int rc;

	next->rotated_s = now_s;
	do {
		rc = tickets_draw(next->cur);
		/* key names must differ (the dataplane's context refuses equal ones) */
	} while (rc == 0 && next->has_prev && memcmp(next->cur, next->prev, 16) == 0);
	if (rc == 0) {
		rc = tickets_save(next);
	}
	if (rc == 0) {
		next->rotations++;
		*t = *next;
	}
	OPENSSL_cleanse(next, sizeof(*next));
	return rc;
}

int
sp_ctl_tickets_rotate(struct sp_ctl_tickets *t, int64_t now_s)
{
	struct sp_ctl_tickets next = *t;

	memcpy(next.prev, t->cur, sizeof(next.prev));
	next.has_prev = true;
	return tickets_commit(t, &next, now_s);
}

int
sp_ctl_tickets_tick(struct sp_ctl_tickets *t, int64_t now_s)
{
	struct sp_ctl_tickets next = *t;
	int rc;

	if (now_s - t->rotated_s < (int64_t)t->rotate_s) {
		OPENSSL_cleanse(&next, sizeof(next));
		return 0; /* also when the clock went back: the keys stay until a period passed */
	}
	if (now_s - t->rotated_s >= 2 * (int64_t)t->rotate_s) {
		/* the current key's tickets have all expired: nothing worth keeping */
		next.has_prev = false;
		OPENSSL_cleanse(next.prev, sizeof(next.prev));
	} else {
		memcpy(next.prev, t->cur, sizeof(next.prev));
		next.has_prev = true;
	}
	rc = tickets_commit(t, &next, now_s);
	return rc == 0 ? 1 : rc;
}

int
sp_ctl_tickets_open(struct sp_ctl_tickets *t, const char *path, unsigned rotate_s, int64_t now_s)
{
	int rc;

	SP_VERIFY(rotate_s >= SP_CTL_TICKET_ROTATE_S_MIN && rotate_s <= SP_CTL_TICKET_ROTATE_S_MAX);
	memset(t, 0, sizeof(*t));
	t->rotate_s = rotate_s;
	if (strlen(path) >= sizeof(t->path)) {
		return -ENAMETOOLONG;
	}
	snprintf(t->path, sizeof(t->path), "%s", path);
	rc = tickets_load(t);
	if (rc == 0) {
		rc = sp_ctl_tickets_tick(t, now_s);
		if (rc >= 0) {
			SP_CTL_INFO("ticket keys from %s (%s previous key)%s", path,
				    t->has_prev ? "with a" : "no",
				    rc > 0 ? "; rotated: a period had passed" : "");
		}
		return rc < 0 ? rc : 0;
	}
	if (rc != -ENOENT && rc != -EINVAL) {
		SP_CTL_ERR("ticket keys: %s: %s", path, sp_strerror(rc));
		return rc;
	}
	if (rc == -EINVAL) {
		SP_CTL_WARN("ticket keys: %s is not a tickets file; new keys (tickets are lost)",
			    path);
	}
	t->has_prev = false;
	t->rotated_s = now_s;
	rc = tickets_draw(t->cur);
	if (rc == 0) {
		rc = tickets_save(t);
	}
	if (rc == 0) {
		SP_CTL_INFO("ticket keys: new keys in %s", path);
	}
	return rc;
}

json_t *
sp_ctl_tickets_msg(const struct sp_ctl_tickets *t)
{
	char cur[TICKETS_HEX_CHARS + 1], prev[TICKETS_HEX_CHARS + 1];
	json_t *m;

	tickets_hex(cur, t->cur);
	m = json_pack("{s:s,s:s,s:I}", "msg", SP_CHAN_MSG_TLS_KEYS, "current", cur, "rotate_s",
		      (json_int_t)t->rotate_s);
	if (m != NULL && t->has_prev) {
		tickets_hex(prev, t->prev);
		if (json_object_set_new(m, "previous", json_string(prev)) != 0) {
			json_decref(m);
			m = NULL;
		}
		OPENSSL_cleanse(prev, sizeof(prev));
	}
	OPENSSL_cleanse(cur, sizeof(cur));
	return m;
}

void
sp_ctl_tickets_clear(struct sp_ctl_tickets *t)
{
	OPENSSL_cleanse(t->cur, sizeof(t->cur));
	OPENSSL_cleanse(t->prev, sizeof(t->prev));
	t->has_prev = false;
}
