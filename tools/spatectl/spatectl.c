/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * spatectl: the operator's client of spate-control's control socket. It sends one JSON-RPC
 * request line, waits (bounded by --timeout) for the reply line, and renders the result as
 * tables or, with --json, as pretty-printed JSON. It holds no knowledge of the methods beyond
 * how to draw status and catalog: `spatectl methods` asks the server (rpc_get_methods), and
 * `spatectl call` reaches any method.
 *
 * Exit status: 0 ok, 1 the server answered with an error, 2 usage, 3 no answer (cannot
 * connect, timeout, connection closed, reply not JSON-RPC).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <spate/chan_proto.h>
#include <spate/compiler.h>
#include <spate/limits.h>

#include "spate_version.h"

#define SPATECTL_EXIT_OK 0
#define SPATECTL_EXIT_RPC 1
#define SPATECTL_EXIT_USAGE 2
#define SPATECTL_EXIT_CONN 3

#define SPATECTL_MAX_REPLY_BYTES (64 * 1024 * 1024) /* a catalog can be large */
#define SPATECTL_MAX_COLS 12			    /* columns of one table */
#define SPATECTL_CELL_BYTES 64			    /* longest cell shown */

#define SPATECTL_MAX_REMOVE 64 /* --remove KEY, repeated */

struct spatectl {
	char sock_path[SP_PATH_MAX_BYTES];
	bool json;
	int timeout_ms;
	int interval_ms; /* shards: between the two samples of the rates; 0 = one sample */
	bool wait;       /* split, merge, scale: until the stream is ACTIVE again */
	bool dry_run;    /* balance: plan only */
	long max_moves;  /* balance: at most this many moves; -1: the server's default */
	int n_remove;    /* tags --remove */
	const char *remove[SPATECTL_MAX_REMOVE];
};

static void
spatectl_usage(FILE *out)
{
	fprintf(out,
		"usage: spatectl [--socket PATH | --name NAME] [--json] [--timeout SEC]\n"
		"                [--interval SEC] [--wait] [--remove KEY]... [--dry-run]\n"
		"                [--max-moves N] COMMAND [ARGS]\n"
		"commands:\n"
		"  status                 both processes: pids, lcores, ports, queues, counters\n"
		"  methods | help [NAME]  the methods the control socket serves\n"
		"  ping                   liveness check\n"
		"  catalog                streams and shards of the catalog snapshot\n"
		"  keys                   encryption keys: id and fingerprint, never the key\n"
		"  call METHOD [PARAMS]   any method; PARAMS is a JSON object\n"
		"stream administration (Kinesis operations through the `kinesis` method):\n"
		"  streams                name, status, mode, open shards, retention, encryption,\n"
		"                         created\n"
		"  shards STREAM          shards: hash range, parents, open/closed, owner worker,\n"
		"                         past owners, records, rates over --interval SEC\n"
		"                         (default 1)\n"
		"  split STREAM SHARD [HASHKEY]  split a shard (default key: its range's middle)\n"
		"  merge STREAM SHARD ADJACENT   merge two adjacent open shards\n"
		"  scale STREAM N         UpdateShardCount to N (uniform scaling)\n"
		"  retention STREAM HOURS set the retention period (increase or decrease)\n"
		"  tags STREAM [KEY=VALUE ...] [--remove KEY ...]\n"
		"                         add/remove tags, then list them\n"
		"  consumers [STREAM]     enhanced fan-out consumers (all streams, or STREAM's):\n"
		"                         stream, name, status, created, ARN\n"
		"workers (shard_move, shard_balance):\n"
		"  move STREAM SHARD WORKER  move an open shard to dataplane worker WORKER\n"
		"  balance [--dry-run] [--max-moves N]\n"
		"                         move shards from the most to the least loaded workers\n"
		"                         (measured load; shard counts while nothing is measured)\n"
		"  SHARD is a ShardId or its number (7 = shardId-000000000007). --wait on split,\n"
		"  merge and scale polls until the stream is ACTIVE again (at most 60 s).\n"
		"socket: --socket, else $SPATE_CTL_SOCKET, else "
		"${SPATE_RUN_BASE:-/run/spate}/NAME/" SP_CTL_SOCK_NAME " (NAME: --name, default "
		"spate)\n"
		"exit: 0 ok, 1 error reply, 2 usage, 3 cannot connect or no reply\n");
}

static long long
spatectl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
spatectl_connect(const struct spatectl *sc)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(sc->sock_path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "spatectl: socket path too long: %s\n", sc->sock_path);
		return -1;
	}
	memcpy(sa.sun_path, sc->sock_path, strlen(sc->sock_path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "spatectl: cannot connect to %s: %s\n", sc->sock_path,
			strerror(errno));
		if (fd >= 0) {
			close(fd);
		}
		return -1;
	}
	return fd;
}

static bool
spatectl_send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return false;
		}
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* Read one line (the reply) before the deadline. Returns a malloc'd string or NULL. */
static char *
spatectl_read_line(int fd, long long deadline_ms)
{
	size_t cap = 4096;
	size_t len = 0;
	char *buf = malloc(cap);

	while (buf != NULL) {
		long long left = deadline_ms - spatectl_now_ms();
		struct pollfd pfd = {.fd = fd, .events = POLLIN};

		if (left <= 0) {
			fprintf(stderr, "spatectl: no reply within the timeout\n");
			break;
		}
		int rc = poll(&pfd, 1, (int)left);

		if (rc < 0 && errno == EINTR) {
			continue;
		}
		if (rc <= 0) {
			continue; /* the deadline check above ends it */
		}
		if (len + 1 >= cap) {
			char *nb = cap < SPATECTL_MAX_REPLY_BYTES ? realloc(buf, cap * 2) : NULL;

			if (nb == NULL) {
				fprintf(stderr, "spatectl: reply too large\n");
				break;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t n = recv(fd, buf + len, cap - len - 1, 0);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			fprintf(stderr, "spatectl: connection closed before a reply\n");
			break;
		}
		char *nl = memchr(buf + len, '\n', (size_t)n);

		len += (size_t)n;
		if (nl != NULL) {
			*nl = '\0';
			return buf;
		}
	}
	free(buf);
	return NULL;
}

/*
 * One request. On success *result holds the result (new reference) and 0 is returned;
 * otherwise the exit status to use, the error already printed.
 */
static int
spatectl_call(const struct spatectl *sc, const char *method, json_t *params, json_t **result)
{
	json_t *req = json_pack("{s:s,s:i,s:s,s:o}", "jsonrpc", "2.0", "id", 1, "method", method,
				"params", params != NULL ? json_incref(params) : json_object());
	char *line = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
	int fd;
	int rc = SPATECTL_EXIT_CONN;

	*result = NULL;
	json_decref(req);
	if (line == NULL) {
		fprintf(stderr, "spatectl: out of memory\n");
		return SPATECTL_EXIT_CONN;
	}
	fd = spatectl_connect(sc);
	if (fd < 0) {
		free(line);
		return SPATECTL_EXIT_CONN;
	}
	long long deadline = spatectl_now_ms() + sc->timeout_ms;
	char *reply = NULL;

	if (spatectl_send_all(fd, line, strlen(line)) && spatectl_send_all(fd, "\n", 1)) {
		reply = spatectl_read_line(fd, deadline);
	} else {
		fprintf(stderr, "spatectl: sending the request: %s\n", strerror(errno));
	}
	free(line);
	close(fd);
	if (reply == NULL) {
		return SPATECTL_EXIT_CONN;
	}
	json_error_t jerr;
	json_t *msg = json_loads(reply, 0, &jerr);
	json_t *err = json_object_get(msg, "error");
	json_t *res = json_object_get(msg, "result");

	if (json_is_object(err)) {
		const char *m = json_string_value(json_object_get(err, "message"));

		fprintf(stderr, "spatectl: %s: error %lld: %s\n", method,
			(long long)json_integer_value(json_object_get(err, "code")),
			m != NULL ? m : "(no message)");
		rc = SPATECTL_EXIT_RPC;
	} else if (res != NULL) {
		*result = json_incref(res);
		rc = SPATECTL_EXIT_OK;
	} else {
		fprintf(stderr, "spatectl: malformed reply: %.200s\n", reply);
	}
	json_decref(msg);
	free(reply);
	return rc;
}

static void
spatectl_print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);

	if (s != NULL) {
		printf("%s\n", s);
		free(s);
	}
}

/* A JSON value as a table cell; missing or null renders "-". */
static const char *
spatectl_cell(json_t *v, char *buf, size_t cap)
{
	if (json_is_string(v)) {
		snprintf(buf, cap, "%s", json_string_value(v));
	} else if (json_is_integer(v)) {
		snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
	} else if (json_is_real(v)) {
		snprintf(buf, cap, "%.1f", json_real_value(v));
	} else if (json_is_boolean(v)) {
		snprintf(buf, cap, "%s", json_is_true(v) ? "yes" : "no");
	} else {
		snprintf(buf, cap, "-");
	}
	return buf;
}

/* A member that may be nested: "stats.ipackets". */
static json_t *
spatectl_get(json_t *obj, const char *path)
{
	char key[64];
	const char *dot;

	while ((dot = strchr(path, '.')) != NULL && obj != NULL) {
		size_t n = SP_MIN((size_t)(dot - path), sizeof(key) - 1);

		memcpy(key, path, n);
		key[n] = '\0';
		obj = json_object_get(obj, key);
		path = dot + 1;
	}
	return json_object_get(obj, path);
}

struct spatectl_col {
	const char *title;
	const char *path; /* member of each row object, dotted for nesting */
};

struct spatectl_table {
	const struct spatectl_col *cols;
	size_t n_cols;
	int width[SPATECTL_MAX_COLS];
	bool left[SPATECTL_MAX_COLS]; /* text columns align left, numbers right */
};

static void
spatectl_table_widen(struct spatectl_table *t, json_t *row)
{
	char cell[SPATECTL_CELL_BYTES];

	for (size_t c = 0; c < t->n_cols; c++) {
		json_t *v = spatectl_get(row, t->cols[c].path);
		int w = (int)strlen(spatectl_cell(v, cell, sizeof(cell)));

		t->width[c] = SP_MAX(t->width[c], w);
		t->left[c] = t->left[c] || json_is_string(v);
	}
}

static void
spatectl_table_row(const struct spatectl_table *t, json_t *row)
{
	char cell[SPATECTL_CELL_BYTES];

	for (size_t c = 0; c < t->n_cols; c++) {
		const char *s = row != NULL ? spatectl_cell(spatectl_get(row, t->cols[c].path),
							     cell, sizeof(cell))
					    : t->cols[c].title;

		printf(t->left[c] ? "  %-*s" : "  %*s", t->width[c], s);
	}
	printf("\n");
}

/* Print rows (an array of objects) under a title, one column per cols entry. */
static void
spatectl_table(const char *title, json_t *rows, const struct spatectl_col *cols, size_t n_cols)
{
	struct spatectl_table t = {.cols = cols, .n_cols = n_cols};
	size_t i;
	json_t *row;

	if (!json_is_array(rows) || json_array_size(rows) == 0) {
		return;
	}
	for (size_t c = 0; c < n_cols && c < SPATECTL_MAX_COLS; c++) {
		t.width[c] = (int)strlen(cols[c].title);
	}
	t.n_cols = SP_MIN(n_cols, (size_t)SPATECTL_MAX_COLS);
	json_array_foreach(rows, i, row) {
		spatectl_table_widen(&t, row);
	}
	printf("\n%s\n", title);
	spatectl_table_row(&t, NULL);
	json_array_foreach(rows, i, row) {
		spatectl_table_row(&t, row);
	}
}

static void
spatectl_kv(const char *key, json_t *v)
{
	char cell[SPATECTL_CELL_BYTES * 4];

	printf("  %-16s %s\n", key, spatectl_cell(v, cell, sizeof(cell)));
}

static void
spatectl_uptime(const char *key, json_t *v)
{
	char buf[32];

	if (!json_is_integer(v)) {
		spatectl_kv(key, v);
		return;
	}
	long long s = (long long)json_integer_value(v);

	if (s >= 86400) {
		snprintf(buf, sizeof(buf), "%lldd%02lldh%02lldm%02llds", s / 86400, s / 3600 % 24,
			 s / 60 % 60, s % 60);
	} else if (s >= 3600) {
		snprintf(buf, sizeof(buf), "%lldh%02lldm%02llds", s / 3600, s / 60 % 60, s % 60);
	} else if (s >= 60) {
		snprintf(buf, sizeof(buf), "%lldm%02llds", s / 60, s % 60);
	} else {
		snprintf(buf, sizeof(buf), "%llds", s);
	}
	printf("  %-16s %s\n", key, buf);
}

static const struct spatectl_col g_spatectl_lcore_cols[] = {
	{"LCORE", "lcore"}, {"CPU", "cpu"}, {"ROLE", "role"},
	{"WORKER", "worker"}, {"POLLS", "polls"}, {"BUSY%", "busy_pct"},
};

static const struct spatectl_col g_spatectl_port_cols[] = {
	{"PORT", "port"},	    {"NAME", "name"},		 {"MAC", "mac"},
	{"IPV4", "ipv4"},	    {"LINK", "link"},		 {"RSS", "rss"},
	{"STEER", "steering"},	    {"RX_PKTS", "stats.ipackets"}, {"TX_PKTS", "stats.opackets"},
	{"IMISSED", "stats.imissed"}, {"IERRORS", "stats.ierrors"},
};

static const struct spatectl_col g_spatectl_queue_cols[] = {
	{"PORT", "port"},	  {"QUEUE", "queue"},	    {"LCORE", "lcore"},
	{"RX_PKTS", "rx_pkts"}, {"RX_BYTES", "rx_bytes"}, {"TX_PKTS", "tx_pkts"},
	{"TX_BYTES", "tx_bytes"}, {"TX_DROPS", "tx_drops"},
};

/* Queue rows with their port number added, for one flat table. */
static json_t *
spatectl_queue_rows(json_t *ports)
{
	json_t *rows = json_array();
	size_t i;
	size_t j;
	json_t *port;
	json_t *q;

	json_array_foreach(ports, i, port) {
		json_array_foreach(json_object_get(port, "queues"), j, q) {
			json_t *row = json_is_object(q) ? json_copy(q) : json_object();

			json_object_set(row, "port", json_object_get(port, "port"));
			json_array_append_new(rows, row);
		}
	}
	return rows;
}

static void
spatectl_counters(json_t *counters)
{
	const char *name;
	json_t *v;
	bool any = false;

	if (!json_is_object(counters)) {
		return;
	}
	json_object_foreach(counters, name, v) {
		if (json_is_integer(v) && json_integer_value(v) == 0) {
			continue;
		}
		if (!any) {
			printf("\ncounters (summed over workers, non-zero)\n");
			any = true;
		}
		spatectl_kv(name, v);
	}
}

/* Every leaf of obj as "prefix.key value" lines, objects descended into (non-zero only). */
static void
spatectl_tree(const char *prefix, json_t *obj, bool *any, const char *title)
{
	const char *name;
	json_t *v;
	char key[128], cell[SPATECTL_CELL_BYTES * 4];

	json_object_foreach(obj, name, v) {
		snprintf(key, sizeof(key), "%s%s%s", prefix, prefix[0] != '\0' ? "." : "", name);
		if (json_is_object(v)) {
			spatectl_tree(key, v, any, title);
			continue;
		}
		if ((json_is_integer(v) && json_integer_value(v) == 0) || json_is_null(v) ||
		    (json_is_string(v) && json_string_length(v) == 0)) {
			continue;
		}
		if (!*any) {
			printf("\n%s\n", title);
			*any = true;
		}
		printf("  %-28s %s\n", key, spatectl_cell(v, cell, sizeof(cell)));
	}
}

static void
spatectl_render_status(json_t *res)
{
	json_t *ctl = json_object_get(res, "control");
	json_t *dp = json_object_get(res, "dataplane");

	printf("control\n");
	spatectl_kv("name", json_object_get(ctl, "name"));
	spatectl_kv("pid", json_object_get(ctl, "pid"));
	spatectl_kv("version", json_object_get(ctl, "version"));
	spatectl_uptime("uptime", json_object_get(ctl, "uptime_s"));
	spatectl_kv("catalog version", json_object_get(ctl, "catalog_version"));
	spatectl_kv("streams", json_object_get(ctl, "streams"));
	spatectl_kv("clients", json_object_get(ctl, "clients"));

	printf("\ndataplane\n");
	if (!json_is_true(json_object_get(dp, "connected"))) {
		printf("  %-16s %s\n", "connected", "no");
		return;
	}
	if (json_is_false(json_object_get(dp, "responding"))) {
		printf("  %-16s %s\n", "connected", "yes, not responding to stats");
		return;
	}
	printf("  %-16s %s\n", "connected", "yes");
	spatectl_kv("pid", json_object_get(dp, "pid"));
	spatectl_kv("version", json_object_get(dp, "version"));
	spatectl_uptime("uptime", json_object_get(dp, "uptime_s"));
	spatectl_kv("idle policy", json_object_get(dp, "idle_policy"));
	spatectl_kv("catalog version", json_object_get(dp, "catalog_version"));

	json_t *ports = json_object_get(dp, "ports");
	json_t *queues = spatectl_queue_rows(ports);

	spatectl_table("lcores", json_object_get(dp, "lcores"), g_spatectl_lcore_cols,
		       SP_ARRAY_SIZE(g_spatectl_lcore_cols));
	spatectl_table("ports", ports, g_spatectl_port_cols, SP_ARRAY_SIZE(g_spatectl_port_cols));
	spatectl_table("queues", queues, g_spatectl_queue_cols,
		       SP_ARRAY_SIZE(g_spatectl_queue_cols));
	json_decref(queues);
	spatectl_counters(json_object_get(dp, "counters"));

	bool any = false;

	/* requests, HTTP/2, TLS, subscriptions (api_conn.c's "http" object) */
	spatectl_tree("", json_object_get(json_object_get(dp, "api"), "http"), &any,
		      "api (summed over workers, non-zero)");
}

static void
spatectl_render_methods(json_t *res, const char *only)
{
	size_t i;
	json_t *m;

	json_array_foreach(json_object_get(res, "methods"), i, m) {
		const char *name = json_string_value(json_object_get(m, "name"));
		const char *help = json_string_value(json_object_get(m, "help"));
		const char *params = json_string_value(json_object_get(m, "params"));

		if (only != NULL && (name == NULL || strcmp(name, only) != 0)) {
			continue;
		}
		printf("%-20s %-10s %s\n", name != NULL ? name : "-", params != NULL ? params : "-",
		       help != NULL ? help : "");
	}
}

static const struct spatectl_col g_spatectl_stream_cols[] = {
	{"STREAM", "name"},		    {"STATUS", "status"}, {"MODE", "mode"},
	{"RETENTION_H", "retention_hours"}, {"SHARDS", "n_shards"},
};

static void
spatectl_render_catalog(json_t *res)
{
	json_t *streams = json_object_get(res, "streams");
	json_t *rows = json_array();
	size_t i;
	json_t *s;

	printf("catalog version %lld, %zu streams\n",
	       (long long)json_integer_value(json_object_get(res, "catalog_version")),
	       json_array_size(streams));
	json_array_foreach(streams, i, s) {
		json_t *row = json_is_object(s) ? json_copy(s) : json_object();

		json_object_set_new(row, "n_shards",
				    json_integer((json_int_t)json_array_size(
					    json_object_get(s, "shards"))));
		json_array_append_new(rows, row);
	}
	spatectl_table("streams", rows, g_spatectl_stream_cols,
		       SP_ARRAY_SIZE(g_spatectl_stream_cols));
	json_decref(rows);
}

/* ---- Stream administration: each command runs Kinesis operations through `kinesis`. ---- */

#define SPATECTL_WAIT_MS      60000 /* --wait: how long a reshard may take */
#define SPATECTL_WAIT_POLL_MS 250   /* --wait: DescribeStreamSummary period */
#define SPATECTL_MAX_PAGES    1000  /* ListStreams/ListShards/ListTagsForStream pages */

/*
 * Run one Kinesis operation. On success (HTTP 200) *body holds the reply body (new reference,
 * json null when the operation has none) and 0 is returned; otherwise the exit status, the
 * Kinesis error already printed.
 */
static int
spatectl_kinesis(const struct spatectl *sc, const char *op, json_t *req, json_t **body)
{
	json_t *params = json_pack("{s:s,s:O}", "op", op, "body", req);
	json_t *res = NULL;
	int rc;

	*body = NULL;
	if (params == NULL) {
		fprintf(stderr, "spatectl: out of memory\n");
		return SPATECTL_EXIT_CONN;
	}
	rc = spatectl_call(sc, "kinesis", params, &res);
	json_decref(params);
	if (rc != 0) {
		return rc;
	}
	json_int_t status = json_integer_value(json_object_get(res, "status"));

	if (status != 200) {
		fprintf(stderr, "spatectl: %s: %s (HTTP %lld): %s\n", op,
			json_string_value(json_object_get(res, "type")), (long long)status,
			json_string_value(json_object_get(res, "message")));
		json_decref(res);
		return SPATECTL_EXIT_RPC;
	}
	*body = json_incref(json_object_get(res, "body"));
	if (*body == NULL) {
		*body = json_null();
	}
	json_decref(res);
	return 0;
}

/* "7" names shardId-000000000007; anything else is passed on as it is. */
static void
spatectl_shard_id(const char *arg, char *out, size_t cap)
{
	char *end;
	unsigned long v = strtoul(arg, &end, 10);

	if (arg[0] >= '0' && arg[0] <= '9' && *end == '\0' && v <= 0x7fffffffUL) {
		snprintf(out, cap, "shardId-%012lu", v);
	} else {
		snprintf(out, cap, "%s", arg);
	}
}

/* The number of "shardId-000000000007": "7" (what follows the last '-', zeros dropped). */
static const char *
spatectl_shard_num(const char *id)
{
	const char *dash = strrchr(id, '-');
	const char *n = dash != NULL ? dash + 1 : id;

	while (n[0] == '0' && n[1] != '\0') {
		n++;
	}
	return n;
}

/* A non-negative decimal below 2^128. */
static bool
spatectl_u128_parse(const char *s, unsigned __int128 *out)
{
	unsigned __int128 v = 0;
	const unsigned __int128 max = ~(unsigned __int128)0;

	if (s == NULL || *s == '\0' || strlen(s) > 39) {
		return false;
	}
	for (; *s != '\0'; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (*s < '0' || *s > '9' || v > (max - d) / 10) {
			return false;
		}
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static void
spatectl_u128_format(unsigned __int128 v, char *buf, size_t cap)
{
	char tmp[40];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + (unsigned)(v % 10));
		v /= 10;
	} while (v != 0);
	size_t i = 0;

	for (; i < n && i + 1 < cap; i++) {
		buf[i] = tmp[n - 1 - i];
	}
	buf[i] = '\0';
}

/* Every shard of a stream (ListShards, all pages), or NULL with the exit status in *rc. */
static json_t *
spatectl_list_shards(const struct spatectl *sc, const char *stream, int *rc)
{
	json_t *all = json_array();
	json_t *req = json_pack("{s:s}", "StreamName", stream);

	*rc = 0;
	for (int page = 0; page < SPATECTL_MAX_PAGES && req != NULL; page++) {
		json_t *body;

		*rc = spatectl_kinesis(sc, "ListShards", req, &body);
		json_decref(req);
		req = NULL;
		if (*rc != 0) {
			break;
		}
		json_array_extend(all, json_object_get(body, "Shards"));
		json_t *next = json_object_get(body, "NextToken");

		/* With a NextToken, ListShards refuses the StreamName. */
		if (json_is_string(next)) {
			req = json_pack("{s:O}", "NextToken", next);
		}
		json_decref(body);
	}
	json_decref(req);
	if (*rc != 0) {
		json_decref(all);
		return NULL;
	}
	return all;
}

/* A hash key cut to its first and last digits: 340282366920938463463374607431768211455. */
static void
spatectl_hash_abbrev(json_t *v, char *buf, size_t cap)
{
	const char *s = json_string_value(v);
	size_t n = s != NULL ? strlen(s) : 0;

	if (s == NULL) {
		snprintf(buf, cap, "-");
	} else if (n <= 12) {
		snprintf(buf, cap, "%s", s);
	} else {
		snprintf(buf, cap, "%.5s..%s", s, s + n - 5);
	}
}

/* Shard rows of the dataplane's status (dataplane.api.shards) and when they were sampled. */
static json_t *
spatectl_shard_sample(const struct spatectl *sc, long long *at_ms)
{
	json_t *res = NULL;

	if (spatectl_call(sc, "status", NULL, &res) != 0) {
		return NULL;
	}
	*at_ms = spatectl_now_ms();
	json_t *rows = json_incref(spatectl_get(res, "dataplane.api.shards"));

	json_decref(res);
	return rows;
}

static json_t *
spatectl_shard_find(json_t *rows, const char *stream, const char *shard)
{
	size_t i;
	json_t *r;

	json_array_foreach(rows, i, r)
	{
		const char *st = json_string_value(json_object_get(r, "stream"));
		const char *sh = json_string_value(json_object_get(r, "shard"));

		if (st != NULL && sh != NULL && strcmp(st, stream) == 0 && strcmp(sh, shard) == 0) {
			return r;
		}
	}
	return NULL;
}

static const struct spatectl_col g_spatectl_shard_cols[] = {
    {"SHARD", "shard"}, {"HASH_RANGE", "range"}, {"PARENTS", "parents"},
    {"STATE", "state"}, {"OWNER", "owner"},	 {"PAST", "past"},
    {"RECORDS", "records"}, {"REC/S", "records_per_s"}, {"MB/S", "mb_per_s"},
};

/* The catalog's shard objects of stream (catalog_get), or NULL when it cannot be read. */
static json_t *
spatectl_catalog_shards(const struct spatectl *sc, const char *stream)
{
	json_t *res = NULL;
	json_t *out = NULL;
	size_t i;
	json_t *st;

	if (spatectl_call(sc, "catalog_get", NULL, &res) != 0) {
		return NULL;
	}
	json_array_foreach(json_object_get(res, "streams"), i, st)
	{
		const char *name = json_string_value(json_object_get(st, "name"));

		if (name != NULL && strcmp(name, stream) == 0) {
			out = json_incref(json_object_get(st, "shards"));
		}
	}
	json_decref(res);
	return out;
}

/* The past owners of shard id among the catalog's shards: an array ([] when none). */
static json_t *
spatectl_past_owners(json_t *cat_shards, const char *id)
{
	size_t i;
	json_t *sh;

	json_array_foreach(cat_shards, i, sh)
	{
		const char *sid = json_string_value(json_object_get(sh, "shard_id"));
		json_t *past = json_object_get(sh, "past_owners");

		if (sid != NULL && strcmp(sid, id) == 0 && json_is_array(past)) {
			return json_copy(past);
		}
	}
	return json_array();
}

/* One row of `shards`: a ListShards entry with its figures in samples a (t0) and b (t1). */
static json_t *
spatectl_shard_row(json_t *sh, json_t *a, json_t *b, long long t0, long long t1)
{
	json_t *range = json_object_get(sh, "HashKeyRange");
	json_t *end = spatectl_get(sh, "SequenceNumberRange.EndingSequenceNumber");
	json_t *last = b != NULL ? b : a;
	json_t *row =
	    json_pack("{s:O,s:O,s:O,s:O?,s:O?,s:b}", "shard", json_object_get(sh, "ShardId"),
		      "starting_hash", json_object_get(range, "StartingHashKey"), "ending_hash",
		      json_object_get(range, "EndingHashKey"), "parent",
		      json_object_get(sh, "ParentShardId"), "adjacent_parent",
		      json_object_get(sh, "AdjacentParentShardId"), "open", !json_is_string(end));

	if (row == NULL) {
		return NULL;
	}
	json_object_set(row, "owner", a != NULL ? json_object_get(a, "owner") : json_null());
	json_object_set(row, "sealed", a != NULL ? json_object_get(a, "sealed") : json_null());
	json_object_set(row, "records",
			last != NULL ? json_object_get(last, "records") : json_null());
	json_object_set(row, "bytes", last != NULL ? json_object_get(last, "bytes") : json_null());
	if (a != NULL && b != NULL && t1 > t0) {
		double dt = (double)(t1 - t0) / 1000.0;
		double dr = (double)(json_integer_value(json_object_get(b, "records")) -
				     json_integer_value(json_object_get(a, "records")));
		double db = (double)(json_integer_value(json_object_get(b, "bytes")) -
				     json_integer_value(json_object_get(a, "bytes")));

		json_object_set_new(row, "records_per_s", json_real(dr / dt));
		json_object_set_new(row, "mb_per_s", json_real(db / dt / 1e6));
	} else {
		json_object_set_new(row, "records_per_s", json_null());
		json_object_set_new(row, "mb_per_s", json_null());
	}
	return row;
}

/* The `shards` table: ranges abbreviated, parents by number, open/closed. */
static void
spatectl_shards_print(const char *stream, json_t *rows, bool figures)
{
	json_t *trows = json_array();
	size_t i;
	json_t *sh;

	json_array_foreach(rows, i, sh)
	{
		json_t *r = json_copy(sh);
		char lo[32];
		char hi[32];
		char buf[96];
		const char *p = json_string_value(json_object_get(sh, "parent"));
		const char *q = json_string_value(json_object_get(sh, "adjacent_parent"));
		bool open = json_is_true(json_object_get(sh, "open"));

		spatectl_hash_abbrev(json_object_get(sh, "starting_hash"), lo, sizeof(lo));
		spatectl_hash_abbrev(json_object_get(sh, "ending_hash"), hi, sizeof(hi));
		snprintf(buf, sizeof(buf), "%s-%s", lo, hi);
		json_object_set_new(r, "range", json_string(buf));
		/* shardId-000000000007 reads as its number in a parents column */
		snprintf(buf, sizeof(buf), "%s%s%s", p != NULL ? spatectl_shard_num(p) : "-",
			 q != NULL ? "+" : "", q != NULL ? spatectl_shard_num(q) : "");
		json_object_set_new(r, "parents", json_string(buf));
		json_object_set_new(r, "state", json_string(open ? "open" : "closed"));
		/* past owners "0,2"; "-" when none */
		size_t k;
		json_t *w;
		size_t n = 0;

		buf[0] = '\0';
		json_array_foreach(json_object_get(sh, "past_owners"), k, w)
		{
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%lld", k > 0 ? "," : "",
					      (long long)json_integer_value(w));
			n = SP_MIN(n, sizeof(buf) - 1);
		}
		json_object_set_new(r, "past", json_string(n > 0 ? buf : "-"));
		json_array_append_new(trows, r);
	}
	printf("stream %s: %zu shards%s\n", stream, json_array_size(rows),
	       figures ? "" : " (no dataplane figures)");
	spatectl_table("shards", trows, g_spatectl_shard_cols,
		       SP_ARRAY_SIZE(g_spatectl_shard_cols));
	json_decref(trows);
}

/* `shards STREAM`: ListShards joined with two samples of the dataplane's shard figures. */
static int
spatectl_cmd_shards(const struct spatectl *sc, const char *stream)
{
	int rc;
	json_t *shards = spatectl_list_shards(sc, stream, &rc);
	long long t0 = 0;
	long long t1 = 0;
	json_t *s0 = NULL;
	json_t *s1 = NULL;
	size_t i;
	json_t *sh;

	if (shards == NULL) {
		return rc;
	}
	json_t *cat = spatectl_catalog_shards(sc, stream);

	s0 = spatectl_shard_sample(sc, &t0);
	if (s0 != NULL && sc->interval_ms > 0) {
		struct timespec ts = {.tv_sec = sc->interval_ms / 1000,
				      .tv_nsec = (long)(sc->interval_ms % 1000) * 1000000L};

		nanosleep(&ts, NULL);
		s1 = spatectl_shard_sample(sc, &t1);
	}
	json_t *rows = json_array();

	json_array_foreach(shards, i, sh)
	{
		const char *id = json_string_value(json_object_get(sh, "ShardId"));

		if (id == NULL) {
			continue;
		}
		json_t *row = spatectl_shard_row(sh, spatectl_shard_find(s0, stream, id),
						 spatectl_shard_find(s1, stream, id), t0, t1);

		if (row != NULL) {
			json_object_set_new(row, "past_owners", spatectl_past_owners(cat, id));
		}
		json_array_append_new(rows, row);
	}
	if (sc->json) {
		spatectl_print_json(rows);
	} else {
		spatectl_shards_print(stream, rows, s0 != NULL);
	}
	json_decref(rows);
	json_decref(shards);
	json_decref(cat);
	json_decref(s0);
	json_decref(s1);
	return 0;
}

static const struct spatectl_col g_spatectl_streams_cols[] = {
    {"STREAM", "StreamName"},
    {"STATUS", "StreamStatus"},
    {"MODE", "StreamModeDetails.StreamMode"},
    {"OPEN_SHARDS", "OpenShardCount"},
    {"RETENTION_H", "RetentionPeriodHours"},
    {"ENCRYPTION", "EncryptionType"},
    {"CREATED", "created"},
};

/* `streams`: ListStreams (all pages), then DescribeStreamSummary of each. */
static int
spatectl_cmd_streams(const struct spatectl *sc)
{
	json_t *names = json_array();
	json_t *req = json_object();
	json_t *rows = json_array();
	int rc = 0;
	size_t i;
	json_t *n;

	for (int page = 0; page < SPATECTL_MAX_PAGES && req != NULL; page++) {
		json_t *body;

		rc = spatectl_kinesis(sc, "ListStreams", req, &body);
		json_decref(req);
		req = NULL;
		if (rc != 0) {
			break;
		}
		json_array_extend(names, json_object_get(body, "StreamNames"));
		if (json_is_true(json_object_get(body, "HasMoreStreams")) &&
		    json_is_string(json_object_get(body, "NextToken"))) {
			req = json_pack("{s:O}", "NextToken", json_object_get(body, "NextToken"));
		}
		json_decref(body);
	}
	json_decref(req);
	json_array_foreach(names, i, n)
	{
		json_t *body;

		if (rc != 0) {
			break;
		}
		req = json_pack("{s:O}", "StreamName", n);
		rc = spatectl_kinesis(sc, "DescribeStreamSummary", req, &body);
		json_decref(req);
		if (rc == SPATECTL_EXIT_RPC) {
			rc = 0; /* deleted meanwhile: leave it out */
			continue;
		}
		json_t *sum = json_object_get(body, "StreamDescriptionSummary");

		if (json_is_object(sum)) {
			json_array_append(rows, sum);
		}
		json_decref(body);
	}
	if (rc == 0 && sc->json) {
		spatectl_print_json(rows);
	} else if (rc == 0) {
		json_array_foreach(rows, i, n)
		{
			json_t *ts = json_object_get(n, "StreamCreationTimestamp");
			time_t t = (time_t)json_number_value(ts);
			struct tm tm;
			char buf[32] = "-";

			if (json_is_number(ts) && gmtime_r(&t, &tm) != NULL) {
				strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
			}
			json_object_set_new(n, "created", json_string(buf));
		}
		printf("%zu streams\n", json_array_size(rows));
		spatectl_table("streams", rows, g_spatectl_streams_cols,
			       SP_ARRAY_SIZE(g_spatectl_streams_cols));
	}
	json_decref(rows);
	json_decref(names);
	return rc;
}

static const struct spatectl_col g_spatectl_consumer_cols[] = {
    {"STREAM", "stream"},
    {"CONSUMER", "name"},
    {"STATUS", "status"},
    {"CREATED", "created"},
    {"ARN", "arn"},
};

/*
 * `consumers [STREAM]`: the catalog snapshot's consumers (catalog_get), every stream's or one
 * stream's, in stream and name order. --json prints the snapshot's objects as they are.
 */
static int
spatectl_cmd_consumers(const struct spatectl *sc, const char *stream)
{
	json_t *res = NULL;
	json_t *rows = json_array();
	size_t i;
	json_t *c;
	int rc = rows != NULL ? spatectl_call(sc, "catalog_get", NULL, &res) : SPATECTL_EXIT_RPC;

	if (rc != 0) {
		json_decref(rows);
		return rc;
	}
	json_array_foreach(json_object_get(res, "consumers"), i, c)
	{
		const char *st = json_string_value(json_object_get(c, "stream"));

		if (stream == NULL || (st != NULL && strcmp(st, stream) == 0)) {
			json_array_append(rows, c);
		}
	}
	if (sc->json) {
		spatectl_print_json(rows);
	} else {
		json_array_foreach(rows, i, c)
		{
			json_t *ms = json_object_get(c, "created_ms");
			time_t t = (time_t)(json_integer_value(ms) / 1000);
			struct tm tm;
			char buf[32] = "-";

			if (json_is_integer(ms) && gmtime_r(&t, &tm) != NULL) {
				strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
			}
			json_object_set_new(c, "created", json_string(buf));
		}
		printf("%zu consumers\n", json_array_size(rows));
		spatectl_table("consumers", rows, g_spatectl_consumer_cols,
			       SP_ARRAY_SIZE(g_spatectl_consumer_cols));
	}
	json_decref(rows);
	json_decref(res);
	return 0;
}

/* --wait: poll until the stream is ACTIVE again; returns the exit status. */
static int
spatectl_wait_active(const struct spatectl *sc, const char *stream)
{
	long long deadline = spatectl_now_ms() + SPATECTL_WAIT_MS;
	json_t *req = json_pack("{s:s}", "StreamName", stream);
	int rc = SPATECTL_EXIT_CONN;

	while (req != NULL) {
		json_t *body;

		rc = spatectl_kinesis(sc, "DescribeStreamSummary", req, &body);
		if (rc != 0) {
			break;
		}
		const char *st =
		    json_string_value(spatectl_get(body, "StreamDescriptionSummary.StreamStatus"));
		bool active = st != NULL && strcmp(st, "ACTIVE") == 0;

		json_decref(body);
		if (active) {
			break;
		}
		if (spatectl_now_ms() >= deadline) {
			fprintf(stderr, "spatectl: %s not ACTIVE after %d s\n", stream,
				SPATECTL_WAIT_MS / 1000);
			rc = SPATECTL_EXIT_CONN;
			break;
		}
		struct timespec ts = {.tv_sec = 0, .tv_nsec = SPATECTL_WAIT_POLL_MS * 1000000L};

		nanosleep(&ts, NULL);
	}
	json_decref(req);
	return rc;
}

/* Run op with req (reference taken); then --wait, then a one-line or JSON report. */
static int
spatectl_reshard(const struct spatectl *sc, const char *op, const char *stream, json_t *req)
{
	json_t *body = NULL;
	int rc = req != NULL ? spatectl_kinesis(sc, op, req, &body) : SPATECTL_EXIT_CONN;

	json_decref(req);
	json_decref(body);
	if (rc == 0 && sc->wait) {
		rc = spatectl_wait_active(sc, stream);
	}
	if (rc == 0) {
		if (sc->json) {
			json_t *o = json_pack("{s:s,s:s,s:b}", "op", op, "stream", stream, "waited",
					      sc->wait);

			spatectl_print_json(o);
			json_decref(o);
		} else {
			printf("%s %s: %s\n", op, stream,
			       sc->wait ? "done, stream ACTIVE" : "started (stream UPDATING)");
		}
	}
	return rc;
}

/* `split STREAM SHARD [HASHKEY]`: the default key halves the shard's hash range. */
static int
spatectl_cmd_split(const struct spatectl *sc, const char *stream, const char *shard_arg,
		   const char *key_arg)
{
	char shard[64];
	char key[48];
	int rc = 0;

	spatectl_shard_id(shard_arg, shard, sizeof(shard));
	if (key_arg != NULL) {
		snprintf(key, sizeof(key), "%s", key_arg);
	} else {
		json_t *shards = spatectl_list_shards(sc, stream, &rc);
		json_t *found = NULL;
		size_t i;
		json_t *sh;
		unsigned __int128 lo;
		unsigned __int128 hi;

		if (shards == NULL) {
			return rc;
		}
		json_array_foreach(shards, i, sh)
		{
			const char *id = json_string_value(json_object_get(sh, "ShardId"));

			if (id != NULL && strcmp(id, shard) == 0) {
				found = sh;
			}
		}
		if (found == NULL ||
		    !spatectl_u128_parse(
			json_string_value(spatectl_get(found, "HashKeyRange.StartingHashKey")),
			&lo) ||
		    !spatectl_u128_parse(
			json_string_value(spatectl_get(found, "HashKeyRange.EndingHashKey")),
			&hi) ||
		    hi <= lo) {
			fprintf(stderr, "spatectl: %s: no shard %s with a range to halve\n", stream,
				shard);
			json_decref(shards);
			return SPATECTL_EXIT_RPC;
		}
		/* The child on the right starts past the middle: both halves are non-empty. */
		spatectl_u128_format(lo + (hi - lo) / 2 + 1, key, sizeof(key));
		json_decref(shards);
	}
	return spatectl_reshard(sc, "SplitShard", stream,
				json_pack("{s:s,s:s,s:s}", "StreamName", stream, "ShardToSplit",
					  shard, "NewStartingHashKey", key));
}

/* `retention STREAM HOURS`: Increase or Decrease, whichever moves it there. */
static int
spatectl_cmd_retention(const struct spatectl *sc, const char *stream, long hours)
{
	json_t *req = json_pack("{s:s}", "StreamName", stream);
	json_t *body = NULL;
	int rc = spatectl_kinesis(sc, "DescribeStreamSummary", req, &body);

	json_decref(req);
	if (rc != 0) {
		return rc;
	}
	json_int_t cur =
	    json_integer_value(spatectl_get(body, "StreamDescriptionSummary.RetentionPeriodHours"));

	json_decref(body);
	const char *op =
	    hours >= (long)cur ? "IncreaseStreamRetentionPeriod" : "DecreaseStreamRetentionPeriod";

	req =
	    json_pack("{s:s,s:I}", "StreamName", stream, "RetentionPeriodHours", (json_int_t)hours);
	rc = spatectl_kinesis(sc, op, req, &body);
	json_decref(req);
	json_decref(body);
	if (rc == 0) {
		if (sc->json) {
			json_t *o = json_pack("{s:s,s:I,s:I}", "stream", stream, "previous_hours",
					      cur, "retention_hours", (json_int_t)hours);

			spatectl_print_json(o);
			json_decref(o);
		} else {
			printf("%s: retention %lld -> %ld hours\n", stream, (long long)cur, hours);
		}
	}
	return rc;
}

static const struct spatectl_col g_spatectl_tag_cols[] = {
    {"KEY", "Key"},
    {"VALUE", "Value"},
};

/* `tags STREAM [KEY=VALUE ...] [--remove KEY ...]`: change, then list the tags. */
static int
spatectl_cmd_tags(const struct spatectl *sc, const char *stream, int argc, char **argv)
{
	json_t *add = json_object();
	json_t *body = NULL;
	json_t *req;
	int rc = 0;

	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');

		if (eq == NULL || eq == argv[i]) {
			fprintf(stderr, "spatectl: tags take KEY=VALUE, not \"%s\"\n", argv[i]);
			json_decref(add);
			return SPATECTL_EXIT_USAGE;
		}
		char key[256];

		snprintf(key, sizeof(key), "%.*s", (int)(eq - argv[i]), argv[i]);
		json_object_set_new(add, key, json_string(eq + 1));
	}
	if (json_object_size(add) > 0) {
		req = json_pack("{s:s,s:O}", "StreamName", stream, "Tags", add);
		rc = spatectl_kinesis(sc, "AddTagsToStream", req, &body);
		json_decref(req);
		json_decref(body);
	}
	json_decref(add);
	if (rc == 0 && sc->n_remove > 0) {
		json_t *keys = json_array();

		for (int i = 0; i < sc->n_remove; i++) {
			json_array_append_new(keys, json_string(sc->remove[i]));
		}
		req = json_pack("{s:s,s:o}", "StreamName", stream, "TagKeys", keys);
		rc = spatectl_kinesis(sc, "RemoveTagsFromStream", req, &body);
		json_decref(req);
		json_decref(body);
	}
	json_t *tags = json_array();

	req = rc == 0 ? json_pack("{s:s}", "StreamName", stream) : NULL;
	for (int page = 0; page < SPATECTL_MAX_PAGES && req != NULL; page++) {
		rc = spatectl_kinesis(sc, "ListTagsForStream", req, &body);
		json_decref(req);
		req = NULL;
		if (rc != 0) {
			break;
		}
		json_t *t = json_object_get(body, "Tags");
		json_t *last = json_array_get(t, json_array_size(t) - 1);

		json_array_extend(tags, t);
		if (json_is_true(json_object_get(body, "HasMoreTags")) && last != NULL) {
			req = json_pack("{s:s,s:O}", "StreamName", stream, "ExclusiveStartTagKey",
					json_object_get(last, "Key"));
		}
		json_decref(body);
	}
	json_decref(req);
	if (rc == 0 && sc->json) {
		spatectl_print_json(tags);
	} else if (rc == 0) {
		printf("stream %s: %zu tags\n", stream, json_array_size(tags));
		spatectl_table("tags", tags, g_spatectl_tag_cols,
			       SP_ARRAY_SIZE(g_spatectl_tag_cols));
	}
	json_decref(tags);
	return rc;
}

/* A whole number in [min, max] from a command argument, or -1 after a usage message. */
static long
spatectl_num_arg(const char *what, const char *s, long min, long max)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "spatectl: %s must be a whole number from %ld to %ld\n", what, min,
			max);
		return -1;
	}
	return v;
}

/* `move STREAM SHARD WORKER`: shard_move. */
static int
spatectl_cmd_move(const struct spatectl *sc, const char *stream, const char *shard_arg,
		  long worker)
{
	char shard[64];
	json_t *res = NULL;
	json_t *params;
	int rc;

	spatectl_shard_id(shard_arg, shard, sizeof(shard));
	params = json_pack("{s:s,s:s,s:I}", "stream", stream, "shard", shard, "worker",
			   (json_int_t)worker);
	rc = spatectl_call(sc, "shard_move", params, &res);
	json_decref(params);
	if (rc != 0) {
		return rc;
	}
	if (sc->json) {
		spatectl_print_json(res);
	} else if (json_is_true(json_object_get(res, "moved"))) {
		printf("%s %s: moved from worker %lld to worker %lld (catalog version %lld)\n",
		       stream, json_string_value(json_object_get(res, "shard")),
		       (long long)json_integer_value(json_object_get(res, "from")),
		       (long long)json_integer_value(json_object_get(res, "to")),
		       (long long)json_integer_value(json_object_get(res, "catalog_version")));
	} else {
		printf("%s %s: already on worker %lld, nothing moved\n", stream,
		       json_string_value(json_object_get(res, "shard")),
		       (long long)json_integer_value(json_object_get(res, "to")));
	}
	json_decref(res);
	return 0;
}

static const struct spatectl_col g_spatectl_move_cols[] = {
    {"STREAM", "stream"}, {"SHARD", "shard"}, {"FROM", "from"}, {"TO", "to"}, {"LOAD", "load"},
};

static const struct spatectl_col g_spatectl_worker_cols[] = {
    {"WORKER", "worker"},
    {"SHARDS", "shards"},
    {"LOAD", "load"},
};

/* `balance [--dry-run] [--max-moves N]`: shard_balance. */
static int
spatectl_cmd_balance(const struct spatectl *sc)
{
	json_t *params = json_pack("{s:b}", "dry_run", sc->dry_run);
	json_t *res = NULL;
	int rc;

	if (params != NULL && sc->max_moves >= 0) {
		json_object_set_new(params, "max_moves", json_integer(sc->max_moves));
	}
	rc = spatectl_call(sc, "shard_balance", params, &res);
	json_decref(params);
	if (rc != 0) {
		return rc;
	}
	if (sc->json) {
		spatectl_print_json(res);
	} else {
		size_t n = json_array_size(json_object_get(res, "moves"));

		printf("%zu move%s%s\n", n, n == 1 ? "" : "s",
		       sc->dry_run ? " planned (dry run: nothing moved)" : "");
		spatectl_table("moves", json_object_get(res, "moves"), g_spatectl_move_cols,
			       SP_ARRAY_SIZE(g_spatectl_move_cols));
		spatectl_table(sc->dry_run ? "workers (after the planned moves)" : "workers",
			       json_object_get(res, "workers"), g_spatectl_worker_cols,
			       SP_ARRAY_SIZE(g_spatectl_worker_cols));
	}
	json_decref(res);
	return 0;
}

static int
spatectl_resolve_socket(struct spatectl *sc, const char *opt_socket, const char *name)
{
	const char *env = getenv("SPATE_CTL_SOCKET");
	const char *base = getenv("SPATE_RUN_BASE");
	int n;

	if (opt_socket != NULL) {
		n = snprintf(sc->sock_path, sizeof(sc->sock_path), "%s", opt_socket);
	} else if (env != NULL && env[0] != '\0') {
		n = snprintf(sc->sock_path, sizeof(sc->sock_path), "%s", env);
	} else {
		n = snprintf(sc->sock_path, sizeof(sc->sock_path), "%s/%s/%s",
			     base != NULL && base[0] != '\0' ? base : "/run/spate",
			     name != NULL ? name : "spate", SP_CTL_SOCK_NAME);
	}
	if (n < 0 || (size_t)n >= sizeof(sc->sock_path)) {
		fprintf(stderr, "spatectl: socket path too long\n");
		return -1;
	}
	return 0;
}

/* The stream administration commands; -1 when argv is none of them. */
static int
spatectl_run_admin(const struct spatectl *sc, int argc, char **argv)
{
	const char *cmd = argv[0];
	int rc = -1;

	if (strcmp(cmd, "streams") == 0 && argc == 1) {
		rc = spatectl_cmd_streams(sc);
	} else if (strcmp(cmd, "shards") == 0 && argc == 2) {
		rc = spatectl_cmd_shards(sc, argv[1]);
	} else if (strcmp(cmd, "split") == 0 && (argc == 3 || argc == 4)) {
		rc = spatectl_cmd_split(sc, argv[1], argv[2], argc == 4 ? argv[3] : NULL);
	} else if (strcmp(cmd, "merge") == 0 && argc == 4) {
		char a[64];
		char b[64];

		spatectl_shard_id(argv[2], a, sizeof(a));
		spatectl_shard_id(argv[3], b, sizeof(b));
		rc = spatectl_reshard(sc, "MergeShards", argv[1],
				      json_pack("{s:s,s:s,s:s}", "StreamName", argv[1],
						"ShardToMerge", a, "AdjacentShardToMerge", b));
	} else if (strcmp(cmd, "scale") == 0 && argc == 3) {
		long n = spatectl_num_arg("N", argv[2], 1, 100000);

		if (n < 0) {
			return SPATECTL_EXIT_USAGE;
		}
		rc = spatectl_reshard(sc, "UpdateShardCount", argv[1],
				      json_pack("{s:s,s:I,s:s}", "StreamName", argv[1],
						"TargetShardCount", (json_int_t)n, "ScalingType",
						"UNIFORM_SCALING"));
	} else if (strcmp(cmd, "retention") == 0 && argc == 3) {
		long h = spatectl_num_arg("HOURS", argv[2], 1, 1000000);

		if (h < 0) {
			return SPATECTL_EXIT_USAGE;
		}
		rc = spatectl_cmd_retention(sc, argv[1], h);
	} else if (strcmp(cmd, "tags") == 0 && argc >= 2) {
		rc = spatectl_cmd_tags(sc, argv[1], argc - 2, argv + 2);
	} else if (strcmp(cmd, "move") == 0 && argc == 4) {
		long w = spatectl_num_arg("WORKER", argv[3], 0, 1023);

		rc = w < 0 ? SPATECTL_EXIT_USAGE : spatectl_cmd_move(sc, argv[1], argv[2], w);
	} else if (strcmp(cmd, "balance") == 0 && argc == 1) {
		rc = spatectl_cmd_balance(sc);
	} else if (strcmp(cmd, "consumers") == 0 && argc <= 2) {
		rc = spatectl_cmd_consumers(sc, argc == 2 ? argv[1] : NULL);
	}
	return rc;
}

static const struct spatectl_col g_spatectl_key_cols[] = {
    {"KEY_ID", "id"},
    {"FINGERPRINT", "fingerprint"},
};

/* `keys`: the key file and its keys (keys_list). */
static void
spatectl_render_keys(json_t *res)
{
	json_t *file = json_object_get(res, "key_file");
	json_t *keys = json_object_get(res, "keys");

	printf("key file: %s\n", json_is_string(file) ? json_string_value(file) : "none");
	printf("%zu keys\n", json_array_size(keys));
	spatectl_table("keys", keys, g_spatectl_key_cols, SP_ARRAY_SIZE(g_spatectl_key_cols));
}

/* Run the command; returns the exit status. */
static int
spatectl_run(struct spatectl *sc, int argc, char **argv)
{
	const char *cmd = argv[0];
	json_t *res = NULL;
	json_t *params = NULL;
	int rc;

	if (strcmp(cmd, "status") == 0 && argc == 1) {
		rc = spatectl_call(sc, "status", NULL, &res);
		if (rc == 0) {
			sc->json ? spatectl_print_json(res) : spatectl_render_status(res);
		}
	} else if ((strcmp(cmd, "methods") == 0 || strcmp(cmd, "help") == 0) && argc <= 2) {
		rc = spatectl_call(sc, "rpc_get_methods", NULL, &res);
		if (rc == 0) {
			sc->json ? spatectl_print_json(res)
				 : spatectl_render_methods(res, argc == 2 ? argv[1] : NULL);
		}
	} else if (strcmp(cmd, "ping") == 0 && argc == 1) {
		rc = spatectl_call(sc, "ping", NULL, &res);
		if (rc == 0) {
			sc->json ? spatectl_print_json(res) : (void)printf("pong\n");
		}
	} else if (strcmp(cmd, "catalog") == 0 && argc == 1) {
		rc = spatectl_call(sc, "catalog_get", NULL, &res);
		if (rc == 0) {
			sc->json ? spatectl_print_json(res) : spatectl_render_catalog(res);
		}
	} else if (strcmp(cmd, "keys") == 0 && argc == 1) {
		rc = spatectl_call(sc, "keys_list", NULL, &res);
		if (rc == 0) {
			sc->json ? spatectl_print_json(res) : spatectl_render_keys(res);
		}
	} else if ((rc = spatectl_run_admin(sc, argc, argv)) != -1) {
		return rc;
	} else if (strcmp(cmd, "call") == 0 && (argc == 2 || argc == 3)) {
		if (argc == 3) {
			json_error_t jerr;

			params = json_loads(argv[2], 0, &jerr);
			if (!json_is_object(params)) {
				fprintf(stderr, "spatectl: PARAMS must be a JSON object: %s\n",
					params == NULL ? jerr.text : "not an object");
				json_decref(params);
				return SPATECTL_EXIT_USAGE;
			}
		}
		rc = spatectl_call(sc, argv[1], params, &res);
		if (rc == 0) {
			spatectl_print_json(res);
		}
	} else {
		spatectl_usage(stderr);
		return SPATECTL_EXIT_USAGE;
	}
	json_decref(params);
	json_decref(res);
	return rc;
}

/* The options of the stream administration commands; false after a usage message. */
static bool
spatectl_admin_opt(struct spatectl *sc, int c, const char *arg)
{
	char *end;
	double sec;

	switch (c) {
	case 'i':
		sec = strtod(arg, &end);
		if (*end != '\0' || end == arg || !(sec >= 0 && sec <= 60)) {
			fprintf(stderr, "spatectl: --interval takes seconds in [0, 60]\n");
			return false;
		}
		sc->interval_ms = (int)(sec * 1000);
		break;
	case 'w':
		sc->wait = true;
		break;
	case 'D':
		sc->dry_run = true;
		break;
	case 'M':
		sc->max_moves = spatectl_num_arg("--max-moves", arg, 0, 256);
		return sc->max_moves >= 0;
	case 'r':
		if (sc->n_remove == SPATECTL_MAX_REMOVE) {
			fprintf(stderr, "spatectl: at most %d --remove\n", SPATECTL_MAX_REMOVE);
			return false;
		}
		sc->remove[sc->n_remove++] = arg;
		break;
	default:
		return false;
	}
	return true;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"name", required_argument, NULL, 'n'},
		{"json", no_argument, NULL, 'j'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{"interval", required_argument, NULL, 'i'},
		{"wait", no_argument, NULL, 'w'},
		{"remove", required_argument, NULL, 'r'},
		{"dry-run", no_argument, NULL, 'D'},
		{"max-moves", required_argument, NULL, 'M'},
		{NULL, 0, NULL, 0},
	};
	struct spatectl sc = {.timeout_ms = 5000, .interval_ms = 1000, .max_moves = -1};
	const char *opt_socket = NULL;
	const char *name = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "s:n:jt:hVi:wr:DM:", opts, NULL)) != -1) {
		char *end;
		double sec;

		switch (c) {
		case 's':
			opt_socket = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'j':
			sc.json = true;
			break;
		case 't':
			sec = strtod(optarg, &end);
			if (*end != '\0' || end == optarg || !(sec > 0 && sec <= 3600)) {
				fprintf(stderr, "spatectl: --timeout takes seconds in (0, 3600]\n");
				return SPATECTL_EXIT_USAGE;
			}
			sc.timeout_ms = (int)(sec * 1000);
			sc.timeout_ms = SP_MAX(sc.timeout_ms, 1);
			break;
		case 'h':
			spatectl_usage(stdout);
			return SPATECTL_EXIT_OK;
		case 'V':
			printf("spatectl %s\n", SPATE_VERSION);
			return SPATECTL_EXIT_OK;
		default: /* --interval, --wait, --remove, --dry-run, --max-moves, or usage */
			if (spatectl_admin_opt(&sc, c, optarg)) {
				break;
			}
			spatectl_usage(stderr);
			return SPATECTL_EXIT_USAGE;
		}
	}
	if (opt_socket != NULL && name != NULL) {
		fprintf(stderr, "spatectl: --socket and --name exclude each other\n");
		return SPATECTL_EXIT_USAGE;
	}
	if (optind >= argc) {
		spatectl_usage(stderr);
		return SPATECTL_EXIT_USAGE;
	}
	if (spatectl_resolve_socket(&sc, opt_socket, name) != 0) {
		return SPATECTL_EXIT_USAGE;
	}
	return spatectl_run(&sc, argc - optind, argv + optind);
}
