/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * End-to-end test of the spate-control binary (path in argv[1]) in a temporary directory:
 * start-up files, the control socket, a fake dataplane on the channel (hello, config,
 * stats_req, stats), a dataplane that disconnects, and a clean SIGTERM shutdown that removes
 * the sockets and the pid file. The Kinesis part: config carries epoch, account and region;
 * kreq gets exactly one kresp (catalog push first when the catalog changed); applied moves
 * the lifecycle on and pushes the next snapshot; bad Kinesis settings stop the start. An
 * operator's stream_quota_set reaches the connected dataplane as a catalog push, and so does
 * a Kinesis operation run through the `kinesis` method (a SplitShard driven to its end by
 * applied; reshards refused while no dataplane is connected, read-only operations served).
 * --key-file: keys_list shows ids and fingerprints (and no key file without it), a bad key
 * file stops the start. shard_move through the socket reaches the fake dataplane as a push
 * (test_shard_move_dp).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

static const char *g_bin;
static char g_dir[64];
static char g_run[128];
static char g_data[128];
static pid_t g_pid;
static char g_keys[64]; /* a key file for setup_keys, "" for none */
static bool g_balance;	/* setup_balance: --balance-interval-s 1 */

#define E2E_KEY "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static void
path_in(char *out, size_t cap, const char *dir, const char *file)
{
	int n = snprintf(out, cap, "%s/%s", dir, file);

	assert_true(n > 0 && (size_t)n < cap);
}

static bool
exists(const char *dir, const char *file)
{
	char p[256];
	struct stat st;

	path_in(p, sizeof(p), dir, file);
	return stat(p, &st) == 0;
}

static int
connect_to(const char *file)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	path_in(sa.sun_path, sizeof(sa.sun_path), g_run, file);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void
send_str(int fd, const char *s)
{
	assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Read one JSON line within 5 s; NULL on EOF. Bytes after the newline are kept for later. */
static json_t *
read_msg(int fd)
{
	static char buf[1 << 16];
	static size_t len;
	static int buf_fd = -1;
	json_error_t jerr;

	if (buf_fd != fd) {
		len = 0;
		buf_fd = fd;
	}
	for (;;) {
		char *nl = memchr(buf, '\n', len);

		if (nl != NULL) {
			size_t n = (size_t)(nl - buf);
			json_t *j = json_loadb(buf, n, 0, &jerr);

			memmove(buf, nl + 1, len - n - 1);
			len -= n + 1;
			assert_non_null(j);
			return j;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};

		assert_int_equal(poll(&p, 1, 5000), 1);
		ssize_t r = recv(fd, buf + len, sizeof(buf) - len, 0);

		if (r <= 0) {
			return NULL;
		}
		len += (size_t)r;
	}
}

/*
 * The next channel message but load samples: spate-control asks for one every 5 s
 * (chan_server.c), which a slow run may meet in the middle of an exchange; unanswered, it is
 * asked again at the next sweep.
 */
static json_t *
read_dp(int fd)
{
	for (;;) {
		json_t *m = read_msg(fd);
		const char *type = json_string_value(json_object_get(m, "msg"));

		if (type == NULL || strcmp(type, "stats_req") != 0) {
			return m;
		}
		json_decref(m);
	}
}

/*
 * The next message must be tls_keys (it follows every config): a 160-hex-digit current key,
 * previous as expected (NULL: none), control's default period. Returns the current key's text
 * (the caller frees it).
 */
static char *
read_tls_keys(int fd, const char *previous)
{
	json_t *m = read_dp(fd);
	const char *cur = json_string_value(json_object_get(m, "current"));
	char *out;

	assert_non_null(m);
	assert_string_equal(json_string_value(json_object_get(m, "msg")), "tls_keys");
	assert_non_null(cur);
	assert_int_equal(strlen(cur), 160);
	assert_int_equal(json_integer_value(json_object_get(m, "rotate_s")), 3600);
	if (previous == NULL) {
		assert_null(json_object_get(m, "previous"));
	} else {
		assert_string_equal(json_string_value(json_object_get(m, "previous")), previous);
	}
	out = strdup(cur);
	assert_non_null(out);
	json_decref(m);
	return out;
}

static json_t *
rpc(const char *line)
{
	int fd = connect_to("control.sock");

	send_str(fd, line);
	json_t *r = read_msg(fd);

	close(fd);
	assert_non_null(r);
	return r;
}

static int
setup(void **state)
{
	char sock[256];

	(void)state;
	snprintf(g_dir, sizeof(g_dir), "/tmp/sp_e2e_test.XXXXXX");
	assert_non_null(mkdtemp(g_dir));
	path_in(g_run, sizeof(g_run), g_dir, "run/x");
	path_in(g_data, sizeof(g_data), g_dir, "data");
	g_pid = fork();
	assert_true(g_pid >= 0);
	if (g_pid == 0) {
		if (g_keys[0] != '\0') {
			execl(g_bin, g_bin, "--data-dir", g_data, "--run-dir", g_run, "--name",
			      "e2e", "--key-file", g_keys, (char *)NULL);
		}
		if (g_balance) {
			execl(g_bin, g_bin, "--data-dir", g_data, "--run-dir", g_run, "--name",
			      "e2e", "--balance-interval-s", "1", (char *)NULL);
		}
		execl(g_bin, g_bin, "--data-dir", g_data, "--run-dir", g_run, "--name", "e2e",
		      (char *)NULL);
		_exit(127);
	}
	path_in(sock, sizeof(sock), g_run, "control.sock");
	for (int i = 0; i < 200; i++) {
		if (access(sock, F_OK) == 0) {
			return 0;
		}
		usleep(25000);
	}
	fail_msg("spate-control did not create %s", sock);
	return -1;
}

static void
rm(const char *dir, const char *file)
{
	char p[256];

	path_in(p, sizeof(p), dir, file);
	(void)unlink(p);
}

static int
teardown(void **state)
{
	(void)state;
	if (g_pid > 0) {
		int status = 0;

		/* A clean stop, even after a dataplane came and went (ASan checks leaks). */
		kill(g_pid, SIGTERM);
		assert_int_equal(waitpid(g_pid, &status, 0), g_pid);
		g_pid = 0;
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	rm(g_run, "control.sock");
	rm(g_run, "chan.sock");
	rm(g_run, "control.pid");
	rm(g_data, "catalog.db");
	rm(g_data, "catalog.db-wal");
	rm(g_data, "catalog.db-shm");
	rmdir(g_data);
	char p[256];

	rmdir(g_run);
	path_in(p, sizeof(p), g_dir, "run");
	rmdir(p);
	rmdir(g_dir);
	return 0;
}

static void
test_lifecycle(void **state)
{
	int status;

	(void)state;
	assert_true(exists(g_run, "control.pid"));
	assert_true(exists(g_run, "chan.sock"));
	assert_true(exists(g_data, "catalog.db"));
	json_t *r = rpc("{\"id\":1,\"method\":\"ping\"}\n");

	assert_true(json_is_true(json_object_get(json_object_get(r, "result"), "pong")));
	json_decref(r);
	r = rpc("{\"id\":2,\"method\":\"status\"}\n");
	json_t *ctl = json_object_get(json_object_get(r, "result"), "control");

	assert_int_equal(json_integer_value(json_object_get(ctl, "pid")), g_pid);
	assert_string_equal(json_string_value(json_object_get(ctl, "name")), "e2e");
	json_decref(r);

	assert_int_equal(kill(g_pid, SIGTERM), 0);
	assert_int_equal(waitpid(g_pid, &status, 0), g_pid);
	g_pid = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_false(exists(g_run, "control.pid"));
	assert_false(exists(g_run, "control.sock"));
	assert_false(exists(g_run, "chan.sock"));
}

static void
test_fake_dataplane(void **state)
{
	(void)state;
	int dp = connect_to("chan.sock");

	send_str(dp, "{\"msg\":\"hello\",\"proto\":1,\"pid\":4242,\"name\":\"e2e\"}\n");
	json_t *cfg = read_msg(dp);

	assert_string_equal(json_string_value(json_object_get(cfg, "msg")), "config");
	assert_int_equal(json_integer_value(json_object_get(cfg, "proto")), 1);
	assert_int_equal(json_integer_value(json_object_get(cfg, "catalog_version")), 1);
	assert_true(json_is_array(json_object_get(json_object_get(cfg, "catalog"), "streams")));
	json_decref(cfg);
	char *key1 = read_tls_keys(dp, NULL);
	struct stat kst;
	char kpath[256];

	path_in(kpath, sizeof(kpath), g_data, "tls_tickets");
	assert_int_equal(stat(kpath, &kst), 0);
	assert_int_equal(kst.st_mode & 0777, 0600);
	send_str(dp, "{\"msg\":\"from_the_future\"}\n");

	/* A second dataplane is turned away while the first is live. */
	int dp2 = connect_to("chan.sock");

	assert_null(read_msg(dp2));
	close(dp2);

	/* status: control asks, the fake dataplane answers. */
	int c = connect_to("control.sock");

	send_str(c, "{\"id\":\"s\",\"method\":\"status\"}\n");
	json_t *req = read_msg(dp);

	assert_string_equal(json_string_value(json_object_get(req, "msg")), "stats_req");
	json_int_t seq = json_integer_value(json_object_get(req, "seq"));
	char line[256];

	json_decref(req);
	snprintf(line, sizeof(line),
		 "{\"msg\":\"stats\",\"seq\":%lld,\"dataplane\":{\"pid\":4242,\"uptime_s\":3}}\n",
		 (long long)seq);
	send_str(dp, line);
	json_t *r = read_msg(c);
	json_t *res = json_object_get(r, "result");
	json_t *d = json_object_get(res, "dataplane");

	assert_true(json_is_true(json_object_get(d, "connected")));
	assert_int_equal(json_integer_value(json_object_get(d, "pid")), 4242);
	json_t *ctl = json_object_get(res, "control");

	assert_int_equal(json_integer_value(json_object_get(ctl, "chan_unknown_msgs")), 1);
	json_t *tt = json_object_get(ctl, "tls_tickets");

	assert_int_equal(json_integer_value(json_object_get(tt, "rotate_s")), 3600);
	assert_int_equal(json_integer_value(json_object_get(tt, "rotations")), 0);
	assert_true(json_integer_value(json_object_get(tt, "rotated_at")) > 1700000000);
	assert_null(json_object_get(tt, "current")); /* never the keys */
	json_decref(r);

	/* A status pending when the dataplane leaves finishes with connected:false. */
	send_str(c, "{\"id\":\"t\",\"method\":\"status\"}\n");
	req = read_msg(dp);
	assert_string_equal(json_string_value(json_object_get(req, "msg")), "stats_req");
	json_decref(req);
	close(dp);
	r = read_msg(c);
	d = json_object_get(json_object_get(r, "result"), "dataplane");
	assert_true(json_is_false(json_object_get(d, "connected")));
	json_decref(r);
	close(c);

	/* The dataplane can come back. */
	dp = connect_to("chan.sock");
	send_str(dp, "{\"msg\":\"hello\",\"proto\":1,\"pid\":4243,\"name\":\"e2e\"}\n");
	cfg = read_msg(dp);
	assert_string_equal(json_string_value(json_object_get(cfg, "msg")), "config");
	json_decref(cfg);
	/* the same ticket keys; a rotation sends new ones with the old as previous */
	char *key2 = read_tls_keys(dp, NULL);

	assert_string_equal(key2, key1);
	r = rpc("{\"id\":1,\"method\":\"tls_ticket_rotate\"}\n");
	assert_true(json_is_true(json_object_get(json_object_get(r, "result"), "sent")));
	json_decref(r);
	free(key2);
	key2 = read_tls_keys(dp, key1);
	assert_string_not_equal(key2, key1);
	free(key1);
	free(key2);
	close(dp);
}

/* Send a kreq for op with body (a JSON text, escaped here). */
static void
send_kreq(int fd, long long id, const char *op, const char *body)
{
	json_t *m = json_pack("{s:s,s:I,s:s,s:s,s:s,s:s}", "msg", "kreq", "id", (json_int_t)id,
			      "op", op, "account", "123456789012", "region", "us-east-1", "body",
			      body);
	char *text = json_dumps(m, JSON_COMPACT);
	char line[4096];

	assert_non_null(text);
	snprintf(line, sizeof(line), "%s\n", text);
	send_str(fd, line);
	free(text);
	json_decref(m);
}

/* The next message must be a kresp for id with this status and type; returns it. */
static json_t *
read_kresp(int fd, long long id, int status, const char *type)
{
	json_t *r = read_dp(fd);

	assert_non_null(r);
	assert_string_equal(json_string_value(json_object_get(r, "msg")), "kresp");
	assert_int_equal(json_integer_value(json_object_get(r, "id")), id);
	assert_int_equal(json_integer_value(json_object_get(r, "status")), status);
	assert_string_equal(json_string_value(json_object_get(r, "type")), type);
	assert_true(json_is_string(json_object_get(r, "body")));
	return r;
}

/* The next message must be a catalog push; returns its version and the first stream. */
static json_int_t
read_catalog(int fd, const char *status)
{
	json_t *c = read_dp(fd);

	assert_non_null(c);
	assert_string_equal(json_string_value(json_object_get(c, "msg")), "catalog");
	json_int_t v = json_integer_value(json_object_get(c, "catalog_version"));
	json_t *cat = json_object_get(c, "catalog");

	assert_int_equal(json_integer_value(json_object_get(cat, "catalog_version")), v);
	json_t *st = json_array_get(json_object_get(cat, "streams"), 0);

	if (status == NULL) {
		assert_null(st);
	} else {
		assert_string_equal(json_string_value(json_object_get(st, "status")), status);
		json_t *sh = json_array_get(json_object_get(st, "shards"), 1);

		assert_int_equal(json_integer_value(json_object_get(sh, "owner_lcore")), 1);
		assert_int_equal(json_integer_value(json_object_get(sh, "index")), 1);
	}
	json_decref(c);
	return v;
}

static void
send_applied(int fd, json_int_t v)
{
	char line[128];

	snprintf(line, sizeof(line), "{\"msg\":\"applied\",\"catalog_version\":%lld}\n",
		 (long long)v);
	send_str(fd, line);
}

static json_int_t
hello(int dp, int pid, json_int_t epoch)
{
	char line[256];

	snprintf(line, sizeof(line),
		 "{\"msg\":\"hello\",\"proto\":1,\"pid\":%d,\"name\":\"e2e\",\"workers\":2}\n",
		 pid);
	send_str(dp, line);
	json_t *cfg = read_dp(dp);

	assert_string_equal(json_string_value(json_object_get(cfg, "msg")), "config");
	assert_int_equal(json_integer_value(json_object_get(cfg, "epoch")), epoch);
	assert_string_equal(json_string_value(json_object_get(cfg, "account")), "123456789012");
	assert_string_equal(json_string_value(json_object_get(cfg, "region")), "us-east-1");
	json_int_t v = json_integer_value(json_object_get(cfg, "catalog_version"));

	json_decref(cfg);
	free(read_tls_keys(dp, NULL));
	return v;
}

static void
test_kinesis_channel(void **state)
{
	(void)state;
	int dp = connect_to("chan.sock");
	json_int_t v = hello(dp, 5000, 1);
	json_t *r;

	send_applied(dp, v); /* nothing to move: no push */
	send_kreq(dp, 1, "CreateStream", "{\"StreamName\":\"e2e\",\"ShardCount\":2}");
	json_int_t v1 = read_catalog(dp, "CREATING");

	assert_true(v1 > v);
	r = read_kresp(dp, 1, 200, "");
	assert_string_equal(json_string_value(json_object_get(r, "body")), "");
	json_decref(r);

	/* The dataplane applies it: the stream turns ACTIVE and the next snapshot comes. */
	send_applied(dp, v1);
	json_int_t v2 = read_catalog(dp, "ACTIVE");

	assert_int_equal(v2, v1 + 1);
	send_applied(dp, v2); /* changes nothing: the next message is the kresp below */
	send_kreq(dp, 2, "DescribeStream", "{\"StreamName\":\"e2e\"}");
	r = read_kresp(dp, 2, 200, "");
	json_error_t jerr;
	json_t *body = json_loads(json_string_value(json_object_get(r, "body")), 0, &jerr);
	json_t *sd = json_object_get(body, "StreamDescription");

	assert_string_equal(json_string_value(json_object_get(sd, "StreamStatus")), "ACTIVE");
	assert_int_equal(json_array_size(json_object_get(sd, "Shards")), 2);
	json_decref(body);
	json_decref(r);

	/* Errors: type, message and message key travel; the body stays empty. */
	send_kreq(dp, 3, "CreateStream", "{\"StreamName\":true}");
	r = read_kresp(dp, 3, 400, "SerializationException");
	assert_string_equal(json_string_value(json_object_get(r, "message_key")), "Message");
	assert_string_equal(json_string_value(json_object_get(r, "message")),
			    "class java.lang.Boolean can not be converted to an String");
	json_decref(r);
	send_kreq(dp, 4, "DeleteStream", "{\"StreamName\":\"nope\"}");
	r = read_kresp(dp, 4, 400, "ResourceNotFoundException");
	assert_string_equal(json_string_value(json_object_get(r, "message_key")), "message");
	assert_string_equal(json_string_value(json_object_get(r, "message")),
			    "Stream nope under account 123456789012 not found.");
	json_decref(r);
	send_kreq(dp, 5, "PutRecord", "{}");
	json_decref(read_kresp(dp, 5, 400, "UnknownOperationException"));
	send_str(dp, "{\"msg\":\"kreq\",\"id\":6}\n");
	json_decref(read_kresp(dp, 6, 400, "UnknownOperationException"));

	/* DeleteStream: push (DELETING) before kresp, then applied removes it. */
	send_kreq(dp, 7, "DeleteStream", "{\"StreamName\":\"e2e\"}");
	json_int_t v3 = read_catalog(dp, "DELETING");

	json_decref(read_kresp(dp, 7, 200, ""));
	send_applied(dp, v3);
	read_catalog(dp, NULL);
	close(dp);

	/* A new hello is a new boot epoch. */
	dp = connect_to("chan.sock");
	hello(dp, 5001, 2);
	close(dp);
}

/*
 * stream_quota_set over the control socket: the connected dataplane receives a catalog message
 * with the new quotas before the caller's reply; errors change and push nothing.
 */
static void
test_quota_push(void **state)
{
	(void)state;
	int dp = connect_to("chan.sock");
	json_int_t v = hello(dp, 5100, 1);

	send_kreq(dp, 1, "CreateStream", "{\"StreamName\":\"q\",\"ShardCount\":2}");
	v = read_catalog(dp, "CREATING");
	json_decref(read_kresp(dp, 1, 200, ""));
	send_applied(dp, v);
	v = read_catalog(dp, "ACTIVE");
	send_applied(dp, v); /* changes nothing: no push */

	json_t *r = rpc("{\"id\":1,\"method\":\"stream_quota_set\",\"params\":"
			"{\"stream\":\"q\",\"records_per_s\":5,\"bytes_per_s\":0}}\n");
	json_t *res = json_object_get(r, "result");

	assert_non_null(res);
	assert_true(json_is_true(json_object_get(res, "changed")));
	assert_true(json_is_true(json_object_get(res, "pushed")));
	assert_int_equal(json_integer_value(json_object_get(res, "catalog_version")), v + 1);
	json_decref(r);

	json_t *c = read_msg(dp);

	assert_non_null(c);
	assert_string_equal(json_string_value(json_object_get(c, "msg")), "catalog");
	assert_int_equal(json_integer_value(json_object_get(c, "catalog_version")), v + 1);
	json_t *st = json_array_get(json_object_get(json_object_get(c, "catalog"), "streams"), 0);

	assert_string_equal(json_string_value(json_object_get(st, "name")), "q");
	assert_string_equal(json_string_value(json_object_get(st, "status")), "ACTIVE");
	assert_int_equal(json_integer_value(json_object_get(st, "quota_records_per_s")), 5);
	assert_int_equal(json_integer_value(json_object_get(st, "quota_bytes_per_s")), 0);
	json_decref(c);

	/* Applying it moves nothing; unknown stream and bad params push nothing either. */
	send_applied(dp, v + 1);
	r = rpc("{\"id\":2,\"method\":\"stream_quota_set\",\"params\":"
		"{\"stream\":\"nope\",\"records_per_s\":5,\"bytes_per_s\":0}}\n");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "error"), "code")),
			 -32003);
	json_decref(r);
	r = rpc("{\"id\":3,\"method\":\"stream_quota_set\",\"params\":"
		"{\"stream\":\"q\",\"records_per_s\":-5,\"bytes_per_s\":0}}\n");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "error"), "code")),
			 -32602);
	json_decref(r);
	/* The next message on the channel is this kresp: nothing was pushed meanwhile. */
	send_kreq(dp, 2, "DescribeStreamSummary", "{\"StreamName\":\"q\"}");
	json_decref(read_kresp(dp, 2, 200, ""));
	close(dp);
}

/* The result of a `kinesis` call that must succeed at the RPC level. */
static json_t *
kin_rpc(const char *op, const char *body, int status, const char *type)
{
	char line[1024];

	snprintf(line, sizeof(line),
		 "{\"id\":7,\"method\":\"kinesis\",\"params\":{\"op\":\"%s\",\"body\":%s}}\n", op,
		 body);
	json_t *r = rpc(line);
	json_t *res = json_incref(json_object_get(r, "result"));

	json_decref(r);
	assert_non_null(res);
	assert_int_equal(json_integer_value(json_object_get(res, "status")), status);
	assert_string_equal(json_string_value(json_object_get(res, "type")), type);
	return res;
}

static json_int_t
rpc_error_code(const char *line)
{
	json_t *r = rpc(line);
	json_int_t code = json_integer_value(json_object_get(json_object_get(r, "error"), "code"));

	json_decref(r);
	return code;
}

/*
 * The `kinesis` method: read-only operations run with no dataplane, reshards and CreateStream
 * are refused (-32000); with one connected, CreateStream and SplitShard push their snapshots on
 * the channel before the reply and the split finishes through applied alone, as from HTTP.
 */
static void
test_kinesis_method(void **state)
{
	(void)state;
	json_t *res = kin_rpc("ListStreams", "{}", 200, "");

	assert_int_equal(
	    json_array_size(json_object_get(json_object_get(res, "body"), "StreamNames")), 0);
	json_decref(res);
	assert_int_equal(rpc_error_code("{\"id\":1,\"method\":\"kinesis\",\"params\":{\"op\":"
					"\"SplitShard\",\"body\":{}}}\n"),
			 -32000);
	assert_int_equal(rpc_error_code("{\"id\":1,\"method\":\"kinesis\",\"params\":{\"op\":"
					"\"CreateStream\",\"body\":{}}}\n"),
			 -32000);
	/* Data operations, unknown ones and a body that is not an object are bad params. */
	assert_int_equal(rpc_error_code("{\"id\":1,\"method\":\"kinesis\",\"params\":{\"op\":"
					"\"PutRecord\",\"body\":{}}}\n"),
			 -32602);
	assert_int_equal(rpc_error_code("{\"id\":1,\"method\":\"kinesis\",\"params\":{\"op\":"
					"\"ListStreams\",\"body\":[]}}\n"),
			 -32602);
	assert_int_equal(rpc_error_code("{\"id\":1,\"method\":\"kinesis\",\"params\":{}}\n"),
			 -32602);
}

/* The `kinesis` method with a dataplane connected: see test_kinesis_method. */
static void
test_kinesis_method_dp(void **state)
{
	(void)state;
	int dp = connect_to("chan.sock");
	json_int_t v = hello(dp, 5200, 1);
	json_t *res = kin_rpc("CreateStream", "{\"StreamName\":\"k\",\"ShardCount\":2}", 200, "");
	assert_true(json_is_true(json_object_get(res, "pushed")));
	assert_true(json_is_true(json_object_get(res, "catalog_changed")));
	json_decref(res);
	v = read_catalog(dp, "CREATING");
	send_applied(dp, v);
	v = read_catalog(dp, "ACTIVE");
	send_applied(dp, v);

	/* A Kinesis error is a result, not an RPC error. */
	res = kin_rpc("DescribeStreamSummary", "{\"StreamName\":\"nope\"}", 400,
		      "ResourceNotFoundException");
	assert_true(json_is_null(json_object_get(res, "body")));
	assert_true(strlen(json_string_value(json_object_get(res, "message"))) > 0);
	json_decref(res);

	res = kin_rpc("SplitShard",
		      "{\"StreamName\":\"k\",\"ShardToSplit\":\"shardId-000000000000\","
		      "\"NewStartingHashKey\":\"1000\"}",
		      200, "");
	assert_true(json_is_true(json_object_get(res, "pushed")));
	json_decref(res);
	/* Each applied takes the next step and pushes it, until the stream is ACTIVE again. */
	char status[32] = "UPDATING";

	for (int i = 0; i < 10 && strcmp(status, "ACTIVE") != 0; i++) {
		json_t *c = read_dp(dp);

		assert_non_null(c);
		assert_string_equal(json_string_value(json_object_get(c, "msg")), "catalog");
		v = json_integer_value(json_object_get(c, "catalog_version"));
		json_t *cat = json_object_get(c, "catalog");
		json_t *st = json_array_get(json_object_get(cat, "streams"), 0);

		snprintf(status, sizeof(status), "%s",
			 json_string_value(json_object_get(st, "status")));
		json_decref(c);
		send_applied(dp, v);
	}
	assert_string_equal(status, "ACTIVE");
	res = kin_rpc("ListShards", "{\"StreamName\":\"k\"}", 200, "");
	json_t *shards = json_object_get(json_object_get(res, "body"), "Shards");

	assert_int_equal(json_array_size(shards), 4); /* the parent and its two children */
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(shards, 2), "ParentShardId")),
	    "shardId-000000000000");
	json_decref(res);
	close(dp);
}

/* A move's reply (result or error) over the control socket. */
static json_t *
move_rpc(int shard, int worker)
{
	char line[256];

	snprintf(line, sizeof(line),
		 "{\"id\":1,\"method\":\"shard_move\",\"params\":{\"stream\":\"m\","
		 "\"shard\":%d,\"worker\":%d}}\n",
		 shard, worker);
	return rpc(line);
}

/*
 * shard_move and shard_balance over the control socket with a fake dataplane of two workers:
 * refused without a dataplane; a move pushes the snapshot (new owner, past_owners) before the
 * reply; "still moving" until the dataplane says applied; a past owner is refused; the balance
 * (dry) leaves the moved shard where it is and moves the other.
 */
static void
test_shard_move_dp(void **state)
{
	(void)state;
	json_t *r = move_rpc(0, 1);

	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "error"), "code")),
			 -32000);
	json_decref(r);
	int dp = connect_to("chan.sock");
	json_int_t v = hello(dp, 5300, 1);

	send_applied(dp, v);
	send_kreq(dp, 1, "CreateStream", "{\"StreamName\":\"m\",\"ShardCount\":2}");
	v = read_catalog(dp, "CREATING");
	json_decref(read_kresp(dp, 1, 200, ""));
	send_applied(dp, v);
	v = read_catalog(dp, "ACTIVE");
	send_applied(dp, v);

	/* shard 0: worker 0 -> 1; the dataplane has the new snapshot before the reply */
	r = move_rpc(0, 1);
	json_t *res = json_object_get(r, "result");

	assert_true(json_is_true(json_object_get(res, "moved")));
	assert_int_equal(json_integer_value(json_object_get(res, "from")), 0);
	assert_int_equal(json_integer_value(json_object_get(res, "to")), 1);
	assert_int_equal(json_integer_value(json_object_get(res, "catalog_version")), v + 1);
	json_decref(r);
	json_t *c = read_dp(dp);

	assert_string_equal(json_string_value(json_object_get(c, "msg")), "catalog");
	assert_int_equal(json_integer_value(json_object_get(c, "catalog_version")), v + 1);
	json_t *sh = json_array_get(
	    json_object_get(json_array_get(json_object_get(json_object_get(c, "catalog"),
							   "streams"),
					   0),
			    "shards"),
	    0);

	assert_int_equal(json_integer_value(json_object_get(sh, "owner_lcore")), 1);
	assert_int_equal(json_array_size(json_object_get(sh, "past_owners")), 1);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(sh, "past_owners"), 0)),
			 0);
	json_decref(c);

	/* not applied yet: still moving; worker 0 is a past owner whatever happens */
	r = move_rpc(0, 1);
	assert_string_equal(json_string_value(json_object_get(json_object_get(r, "error"),
							      "message")),
			    "shard shardId-000000000000 is still moving");
	json_decref(r);
	send_applied(dp, v + 1);
	r = move_rpc(0, 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "error"), "code")),
			 -32001);
	json_decref(r);
	r = move_rpc(0, 1);
	assert_true(json_is_false(json_object_get(json_object_get(r, "result"), "moved")));
	json_decref(r);

	/* both shards on worker 1 now: the balance would move shard 1, never shard 0 back */
	r = rpc("{\"id\":2,\"method\":\"shard_balance\",\"params\":{\"dry_run\":true}}\n");
	json_t *mv = json_object_get(json_object_get(r, "result"), "moves");

	assert_int_equal(json_array_size(mv), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(mv, 0), "shard")),
			    "shardId-000000000001");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(mv, 0), "to")), 0);
	json_decref(r);
	close(dp);
}

static int
setup_balance(void **state)
{
	g_balance = true;
	return setup(state);
}

static int
teardown_balance(void **state)
{
	g_balance = false;
	return teardown(state);
}

/* Wait for the next load sample (every 5 s) and answer it with these shard rows. */
static void
answer_sample(int dp, long long recs0, long long recs1)
{
	struct pollfd p = {.fd = dp, .events = POLLIN};
	char line[1024];

	/* up to a sweep and then some: read_msg() alone waits 5 s, the sweep's period */
	(void)poll(&p, 1, 12000);
	json_t *req = read_msg(dp);

	assert_non_null(req);
	assert_string_equal(json_string_value(json_object_get(req, "msg")), "stats_req");
	snprintf(line, sizeof(line),
		 "{\"msg\":\"stats\",\"seq\":%lld,\"dataplane\":{\"api\":{\"shards\":["
		 "{\"stream\":\"l\",\"shard\":\"shardId-000000000000\",\"owner\":0,"
		 "\"open\":true,\"records\":%lld,\"bytes\":0},"
		 "{\"stream\":\"l\",\"shard\":\"shardId-000000000001\",\"owner\":0,"
		 "\"open\":true,\"records\":%lld,\"bytes\":0}]}}}\n",
		 (long long)json_integer_value(json_object_get(req, "seq")), recs0, recs1);
	json_decref(req);
	send_str(dp, line);
}

/*
 * The load sample and automatic balancing (--balance-interval-s 1) on the channel: two
 * samples 5 s apart give shard 0 some 2000 records/s and shard 1 half of it, both on worker 0
 * (shard 1 moved there by hand, so worker 1 is its past owner); the balance moves shard 0 to
 * worker 1 and pushes the catalog. About 10 s: the samples come every SP_CHAN_SWEEP_MS.
 */
static void
test_balance_dp(void **state)
{
	(void)state;
	int dp = connect_to("chan.sock");
	json_int_t v = hello(dp, 5400, 1);

	send_applied(dp, v);
	send_kreq(dp, 1, "CreateStream", "{\"StreamName\":\"l\",\"ShardCount\":2}");
	v = read_catalog(dp, "CREATING");
	json_decref(read_kresp(dp, 1, 200, ""));
	send_applied(dp, v);
	v = read_catalog(dp, "ACTIVE");
	send_applied(dp, v);
	json_decref(rpc("{\"id\":1,\"method\":\"shard_move\",\"params\":{\"stream\":\"l\","
			"\"shard\":1,\"worker\":0}}\n"));
	json_t *c = read_dp(dp);

	v = json_integer_value(json_object_get(c, "catalog_version"));
	json_decref(c);
	send_applied(dp, v);

	answer_sample(dp, 0, 0);
	answer_sample(dp, 10000, 5000); /* 5 s later */
	c = read_msg(dp);
	assert_string_equal(json_string_value(json_object_get(c, "msg")), "catalog");
	assert_int_equal(json_integer_value(json_object_get(c, "catalog_version")), v + 1);
	json_t *shards = json_object_get(
	    json_array_get(json_object_get(json_object_get(c, "catalog"), "streams"), 0),
	    "shards");

	assert_int_equal(json_integer_value(json_object_get(json_array_get(shards, 0),
							    "owner_lcore")),
			 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(shards, 1),
							    "owner_lcore")),
			 0);
	json_decref(c);
	close(dp);
}

static void
test_bad_kinesis_args(void **state)
{
	static const char *const bad[][2] = {
		{"--account", "12345"},
		{"--region", "US-EAST-1"},
		{"--shard-limit", "0"},
		{"--shard-limit", "12x"},
		{"--balance-interval-s", "86401"},
		{"--balance-interval-s", "-1"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int status = 0;
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			int devnull = open("/dev/null", O_WRONLY);

			dup2(devnull, 2);
			execl(g_bin, g_bin, "--data-dir", "/nonexistent/d", "--run-dir",
			      "/nonexistent/r", bad[i][0], bad[i][1], (char *)NULL);
			_exit(127);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 2);
	}
}

/* Write a key file of text at a new temporary path into g_keys. */
static void
write_keys(const char *text)
{
	snprintf(g_keys, sizeof(g_keys), "/tmp/sp_e2e_keys.XXXXXX");
	int fd = mkstemp(g_keys);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static int
setup_keys(void **state)
{
	write_keys("# e2e\nalias/aws/kinesis " E2E_KEY "\n");
	return setup(state);
}

static int
teardown_keys(void **state)
{
	int rc = teardown(state);

	(void)unlink(g_keys);
	g_keys[0] = '\0';
	return rc;
}

static void
test_keys_list(void **state)
{
	(void)state;
	json_t *r = rpc("{\"id\":1,\"method\":\"keys_list\"}\n");
	json_t *res = json_object_get(r, "result");
	json_t *k = json_array_get(json_object_get(res, "keys"), 0);

	assert_string_equal(json_string_value(json_object_get(res, "key_file")), g_keys);
	assert_int_equal(json_array_size(json_object_get(res, "keys")), 1);
	assert_string_equal(json_string_value(json_object_get(k, "id")), "alias/aws/kinesis");
	/* the first 8 bytes of SHA-256 over the key bytes 00..1f */
	assert_string_equal(json_string_value(json_object_get(k, "fingerprint")),
			    "630dcd2966c43366");
	assert_int_equal(json_object_size(k), 2);
	json_decref(r);
}

static void
test_no_keys_list(void **state)
{
	(void)state;
	json_t *r = rpc("{\"id\":1,\"method\":\"keys_list\"}\n");
	json_t *res = json_object_get(r, "result");

	assert_true(json_is_null(json_object_get(res, "key_file")));
	assert_int_equal(json_array_size(json_object_get(res, "keys")), 0);
	json_decref(r);
}

static void
test_bad_key_file(void **state)
{
	int status = 0;
	int pipefd[2];
	char err[4096];
	size_t n = 0;
	ssize_t k;

	(void)state;
	write_keys("alias/aws/kinesis " E2E_KEY "\nalias/x 00zz\n");
	assert_int_equal(pipe(pipefd), 0);
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], 2);
		execl(g_bin, g_bin, "--data-dir", "/tmp/sp_e2e_nokeys/d", "--run-dir",
		      "/tmp/sp_e2e_nokeys/r", "--key-file", g_keys, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	while (n < sizeof(err) - 1 && (k = read(pipefd[0], err + n, sizeof(err) - 1 - n)) > 0) {
		n += (size_t)k;
	}
	err[n] = '\0';
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_non_null(strstr(err, "line 2: key of alias/x must be 64 hex digits"));
	assert_null(strstr(err, E2E_KEY));
	(void)unlink(g_keys);
	g_keys[0] = '\0';
	(void)unlink("/tmp/sp_e2e_nokeys/r/control.pid");
	(void)rmdir("/tmp/sp_e2e_nokeys/r");
	(void)rmdir("/tmp/sp_e2e_nokeys/d");
	(void)rmdir("/tmp/sp_e2e_nokeys");
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fake_dataplane, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kinesis_channel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quota_push, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kinesis_method, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kinesis_method_dp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shard_move_dp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_balance_dp, setup_balance, teardown_balance),
		cmocka_unit_test(test_bad_kinesis_args),
		cmocka_unit_test_setup_teardown(test_keys_list, setup_keys, teardown_keys),
		cmocka_unit_test_setup_teardown(test_no_keys_list, setup, teardown),
		cmocka_unit_test(test_bad_key_file),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH_TO_SPATE_CONTROL\n", argv[0]);
		return 2;
	}
	g_bin = argv[1];
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
