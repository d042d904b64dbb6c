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

struct spatectl {
	char sock_path[SP_PATH_MAX_BYTES];
	bool json;
	int timeout_ms;
};

static void
spatectl_usage(FILE *out)
{
	fprintf(out,
		"usage: spatectl [--socket PATH | --name NAME] [--json] [--timeout SEC] COMMAND "
		"[ARGS]\n"
		"commands:\n"
		"  status                 both processes: pids, lcores, ports, queues, counters\n"
		"  methods | help [NAME]  the methods the control socket serves\n"
		"  ping                   liveness check\n"
		"  catalog                streams and shards of the catalog snapshot\n"
		"  call METHOD [PARAMS]   any method; PARAMS is a JSON object\n"
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
		{NULL, 0, NULL, 0},
	};
	struct spatectl sc = {.timeout_ms = 5000};
	const char *opt_socket = NULL;
	const char *name = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "s:n:jt:hV", opts, NULL)) != -1) {
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
		default:
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
