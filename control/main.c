/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * spate-control: the control-plane process. Parses the command line, creates the run and data
 * directories, takes the pid-file lock (one spate-control per run directory), opens the
 * catalog, listens on the channel and control sockets, and runs the single-threaded epoll loop
 * until SIGINT or SIGTERM (read through a signalfd). On the way out it closes every client and
 * the dataplane connection and removes its sockets and pid file.
 *
 * Usage: spate-control --data-dir DIR --run-dir DIR [--name NAME] [--account ID]
 *                      [--region REGION] [--shard-limit N] [--key-file PATH]
 *                      [--balance-interval-s N] [--consumer-activate-ms N]
 *                      [--consumer-delete-ms N] [--test-services] [--verbose]
 * The Kinesis settings (account, region, shard limit) apply to the control operations the
 * dataplane forwards (ctl_streams.h). --key-file names the operator's stream-encryption keys
 * (include/spate/keyfile.h), loaded once at start (a bad file stops the start); without it
 * every StartStreamEncryption answers KMSNotFoundException. --test-services is to
 * spate-control what the dataplane's test_services key is to it (tools/spate-dev passes both or
 * neither): it allows the test-only method clock_offset_set. Production never sets it.
 * --balance-interval-s N (default 0, off) balances shards over the workers by measured load at
 * most every N seconds, when the loads are uneven (control/ctl_balance.h).
 * --consumer-activate-ms / --consumer-delete-ms (default 1000 each) are how long an enhanced
 * fan-out consumer stays CREATING after RegisterStreamConsumer and DELETING after
 * DeregisterStreamConsumer (docs/internals/consumers.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spate/assert.h>
#include <spate/chan_proto.h>
#include <spate/err.h>
#include <spate/keyfile.h>
#include <spate/limits.h>

#include "spate_version.h"

#include "catalog.h"
#include "chan_server.h"
#include "ctl.h"
#include "ctl_log.h"
#include "ctl_loop.h"
#include "ctl_server.h"
#include "ctl_streams.h"
#include "ctl_tickets.h"

#define SP_CTL_PID_FILE "control.pid"

struct ctl_main {
	const char *data_dir;
	const char *run_dir;
	const char *name;
	bool test_services; /* --test-services: allow clock_offset_set */
	const char *key_file; /* --key-file, or NULL */
	struct sp_keyfile keys;
	struct sp_chan_kconf kconf;
	char cat_path[SP_PATH_MAX_BYTES];
	char ctl_path[SP_PATH_MAX_BYTES];
	char chan_path[SP_PATH_MAX_BYTES];
	char pid_path[SP_PATH_MAX_BYTES];
	int pid_fd;
	struct sp_ctl_ev sig_ev;
	struct sp_ctl_loop loop;
	struct sp_ctl_ctx ctx;
	struct sp_cat *cat;
	struct sp_chan_server *chan;
	struct sp_ctl_server *srv;
	unsigned ticket_rotate_s; /* --tls-ticket-rotate-s */
	char tickets_path[SP_PATH_MAX_BYTES];
	struct sp_ctl_tickets tickets;
};

static void
ctl_usage(FILE *out)
{
	fprintf(out,
		"usage: spate-control --data-dir DIR --run-dir DIR [--name NAME] [--account ID]\n"
		"                     [--region REGION] [--shard-limit N] [--key-file PATH]\n"
		"                     [--balance-interval-s N] [--consumer-activate-ms N]\n"
		"                     [--consumer-delete-ms N] [--tls-ticket-rotate-s N]\n"
		"                     [--test-services] [--verbose]\n"
		"  --data-dir DIR     catalog directory (created if missing): DIR/" SP_CAT_FILE_NAME
		"\n"
		"  --run-dir DIR      sockets and pid file (created if missing): " SP_CTL_SOCK_NAME
		", " SP_CHAN_SOCK_NAME ", " SP_CTL_PID_FILE "\n"
		"  --name NAME        instance name, [a-z0-9-], default \"spate\"\n"
		"  --account ID       Kinesis account id, 12 digits, default "
		SP_CTL_K_ACCOUNT_DEFAULT "\n"
		"  --region REGION    Kinesis region, [a-z0-9-], default "
		SP_CTL_K_REGION_DEFAULT "\n"
		"  --shard-limit N    open shards allowed across all streams, default %u\n"
		"  --key-file PATH    stream-encryption keys, lines \"<key-id> <64 hex digits>\";\n"
		"                     none: StartStreamEncryption finds no key\n"
		"  --balance-interval-s N  move shards to even out the workers' measured load,\n"
		"                     at most every N s (0-%u), default 0: off\n"
		"  --consumer-activate-ms N  a registered consumer is CREATING this long (0-%u),\n"
		"                     default %u\n"
		"  --consumer-delete-ms N  a deregistered consumer is DELETING this long (0-%u),\n"
		"                     default %u\n"
		"  --tls-ticket-rotate-s N  TLS session-ticket keys (DIR/" SP_CTL_TICKETS_FILE_NAME
		") get a\n"
		"                     new current key every N s (%u-%u), default %u\n"
		"  --test-services    allow test-only methods (clock_offset_set); never in "
		"production\n"
		"  --verbose          debug logging\n"
		"  --version          print the version and exit\n",
		SP_CTL_K_SHARD_LIMIT_DEFAULT, SP_CTL_BALANCE_INTERVAL_MAX_S,
		SP_CTL_K_CONSUMER_DELAY_MS_MAX, SP_CTL_K_CONSUMER_DELAY_MS_DEFAULT,
		SP_CTL_K_CONSUMER_DELAY_MS_MAX, SP_CTL_K_CONSUMER_DELAY_MS_DEFAULT,
		SP_CTL_TICKET_ROTATE_S_MIN, SP_CTL_TICKET_ROTATE_S_MAX, SP_CTL_TICKET_ROTATE_S_DEF);
}

/* s is 1..max characters, all of them from set. */
static bool
ctl_chars_ok(const char *s, size_t max, const char *set)
{
	size_t n = strlen(s);

	if (n == 0 || n > max) {
		return false;
	}
	return strspn(s, set) == n;
}

/* The Kinesis settings: 12-digit account, [a-z0-9-] region, a shard limit in range. */
static int
ctl_kconf_check(struct ctl_main *m, const char *limit)
{
	char *end = NULL;
	unsigned long v;

	if (!ctl_chars_ok(m->kconf.account, 12, "0123456789") || strlen(m->kconf.account) != 12) {
		fprintf(stderr, "spate-control: --account must be 12 digits\n");
		return -EINVAL;
	}
	if (!ctl_chars_ok(m->kconf.region, SP_CTL_K_REGION_MAX_CHARS,
			  "abcdefghijklmnopqrstuvwxyz0123456789-")) {
		fprintf(stderr, "spate-control: --region must be 1-%u characters of [a-z0-9-]\n",
			SP_CTL_K_REGION_MAX_CHARS);
		return -EINVAL;
	}
	errno = 0;
	v = limit != NULL ? strtoul(limit, &end, 10) : SP_CTL_K_SHARD_LIMIT_DEFAULT;
	if (limit != NULL && (errno != 0 || end == limit || *end != '\0' || limit[0] == '-' ||
			      v < 1 || v > SP_CTL_K_SHARD_LIMIT_MAX)) {
		fprintf(stderr, "spate-control: --shard-limit must be 1-%u\n",
			SP_CTL_K_SHARD_LIMIT_MAX);
		return -EINVAL;
	}
	m->kconf.shard_limit = (unsigned)v;
	return 0;
}

/* --consumer-activate-ms, --consumer-delete-ms: 0 to SP_CTL_K_CONSUMER_DELAY_MS_MAX. */
static int
ctl_delay_check(const char *flag, const char *arg, unsigned *out)
{
	char *end = NULL;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' ||
	    v > SP_CTL_K_CONSUMER_DELAY_MS_MAX) {
		fprintf(stderr, "spate-control: --%s must be 0-%u\n", flag,
			SP_CTL_K_CONSUMER_DELAY_MS_MAX);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

/* --balance-interval-s: whole seconds, 0 (off) to SP_CTL_BALANCE_INTERVAL_MAX_S. */
static int
ctl_balance_check(struct ctl_main *m, const char *arg)
{
	char *end = NULL;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' ||
	    v > SP_CTL_BALANCE_INTERVAL_MAX_S) {
		fprintf(stderr, "spate-control: --balance-interval-s must be 0-%u\n",
			SP_CTL_BALANCE_INTERVAL_MAX_S);
		return -EINVAL;
	}
	m->ctx.balance_interval_s = (unsigned)v;
	return 0;
}

/* --tls-ticket-rotate-s: whole seconds, SP_CTL_TICKET_ROTATE_S_MIN..MAX. */
static int
ctl_rotate_check(struct ctl_main *m, const char *arg)
{
	char *end = NULL;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' ||
	    v < SP_CTL_TICKET_ROTATE_S_MIN || v > SP_CTL_TICKET_ROTATE_S_MAX) {
		fprintf(stderr, "spate-control: --tls-ticket-rotate-s must be %u-%u\n",
			SP_CTL_TICKET_ROTATE_S_MIN, SP_CTL_TICKET_ROTATE_S_MAX);
		return -EINVAL;
	}
	m->ticket_rotate_s = (unsigned)v;
	return 0;
}

static bool
ctl_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= SP_NAME_MAX_BYTES) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
			return false;
		}
	}
	return true;
}

/* mkdir -p with mode 0755 for each missing component. */
static int
ctl_mkdirs(const char *path)
{
	char buf[SP_PATH_MAX_BYTES];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf)) {
		return -ENAMETOOLONG;
	}
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0') {
			continue;
		}
		char saved = buf[i];

		buf[i] = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
			return -errno;
		}
		buf[i] = saved;
	}
	struct stat st;

	if (stat(path, &st) != 0) {
		return -errno;
	}
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int
ctl_join(char *out, const char *dir, const char *file)
{
	int n = snprintf(out, SP_PATH_MAX_BYTES, "%s/%s", dir, file);

	return (n < 0 || n >= SP_PATH_MAX_BYTES) ? -ENAMETOOLONG : 0;
}

/* Lock and write the pid file: a second spate-control on the same run dir is refused. */
static int
ctl_pid_file(struct ctl_main *m)
{
	char buf[32];
	int fd = open(m->pid_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0) {
		SP_CTL_ERR("%s: %s", m->pid_path, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int err = errno;

		SP_CTL_ERR("%s is locked: another spate-control runs on this run dir", m->pid_path);
		close(fd);
		return -err;
	}
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

	if (ftruncate(fd, 0) != 0 || write(fd, buf, (size_t)n) != n) {
		int err = errno;

		SP_CTL_ERR("%s: write: %s", m->pid_path, strerror(err));
		close(fd);
		return -err;
	}
	m->pid_fd = fd;
	return 0;
}

static void
ctl_on_signal(struct sp_ctl_ev *ev, uint32_t events)
{
	struct signalfd_siginfo si;
	struct ctl_main *m = (struct ctl_main *)((char *)ev - offsetof(struct ctl_main, sig_ev));

	(void)events;
	while (read(ev->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		SP_CTL_INFO("signal %u received; shutting down", si.ssi_signo);
		m->loop.stop = true;
	}
}

static int
ctl_signals(struct ctl_main *m)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
		return -errno;
	}
	m->sig_ev.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (m->sig_ev.fd < 0) {
		return -errno;
	}
	m->sig_ev.fn = ctl_on_signal;
	return sp_ctl_loop_add(&m->loop, &m->sig_ev, EPOLLIN);
}

static int
ctl_parse_args(struct ctl_main *m, int argc, char **argv)
{
	static const struct option opts[] = {
		{"data-dir", required_argument, NULL, 'd'},
		{"run-dir", required_argument, NULL, 'r'},
		{"name", required_argument, NULL, 'n'},
		{"account", required_argument, NULL, 'a'},
		{"region", required_argument, NULL, 'g'},
		{"shard-limit", required_argument, NULL, 'l'},
		{"key-file", required_argument, NULL, 'k'},
		{"balance-interval-s", required_argument, NULL, 'b'},
		{"consumer-activate-ms", required_argument, NULL, 'A'},
		{"consumer-delete-ms", required_argument, NULL, 'D'},
		{"tls-ticket-rotate-s", required_argument, NULL, 'T'},
		{"test-services", no_argument, NULL, 't'},
		{"verbose", no_argument, NULL, 'v'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *limit = NULL;
	const char *balance = NULL;
	int c;

	m->name = "spate";
	m->kconf.account = SP_CTL_K_ACCOUNT_DEFAULT;
	m->kconf.region = SP_CTL_K_REGION_DEFAULT;
	m->kconf.consumer_activate_ms = SP_CTL_K_CONSUMER_DELAY_MS_DEFAULT;
	m->kconf.consumer_delete_ms = SP_CTL_K_CONSUMER_DELAY_MS_DEFAULT;
	m->ticket_rotate_s = SP_CTL_TICKET_ROTATE_S_DEF;
	while ((c = getopt_long(argc, argv, "d:r:n:a:g:l:k:b:A:D:T:tvVh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			m->data_dir = optarg;
			break;
		case 'r':
			m->run_dir = optarg;
			break;
		case 'n':
			m->name = optarg;
			break;
		case 'a':
			m->kconf.account = optarg;
			break;
		case 'g':
			m->kconf.region = optarg;
			break;
		case 'l':
			limit = optarg;
			break;
		case 'k':
			m->key_file = optarg;
			break;
		case 'b':
			balance = optarg;
			break;
		case 'A':
			if (ctl_delay_check("consumer-activate-ms", optarg,
					    &m->kconf.consumer_activate_ms) != 0) {
				return -EINVAL;
			}
			break;
		case 'D':
			if (ctl_delay_check("consumer-delete-ms", optarg,
					    &m->kconf.consumer_delete_ms) != 0) {
				return -EINVAL;
			}
			break;
		case 'T':
			if (ctl_rotate_check(m, optarg) != 0) {
				return -EINVAL;
			}
			break;
		case 't':
			m->test_services = true;
			break;
		case 'v':
			sp_ctl_log_set_level(SP_CTL_LOG_DEBUG);
			break;
		case 'V':
			printf("spate-control %s\n", SPATE_VERSION);
			exit(0);
		case 'h':
			ctl_usage(stdout);
			exit(0);
		default:
			ctl_usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc || m->data_dir == NULL || m->run_dir == NULL) {
		ctl_usage(stderr);
		return -EINVAL;
	}
	if (!ctl_name_ok(m->name)) {
		fprintf(stderr, "spate-control: --name must be 1-%d characters of [a-z0-9-]\n",
			SP_NAME_MAX_BYTES - 1);
		return -EINVAL;
	}
	if (balance != NULL && ctl_balance_check(m, balance) != 0) {
		return -EINVAL;
	}
	return ctl_kconf_check(m, limit);
}

/* Load --key-file, if given, for StartStreamEncryption and keys_list; never logs key bytes. */
static int
ctl_keys(struct ctl_main *m)
{
	int rc;

	if (m->key_file == NULL) {
		SP_CTL_INFO("no --key-file: StartStreamEncryption answers KMSNotFoundException");
		return 0;
	}
	rc = sp_keyfile_load(m->key_file, &m->keys);
	if (rc != 0) {
		SP_CTL_ERR("key file %s: %s", m->key_file, m->keys.err);
		return rc;
	}
	m->ctx.keys = &m->keys;
	m->ctx.key_file = m->key_file;
	SP_CTL_INFO("key file %s: %zu key(s)", m->key_file, m->keys.n);
	return 0;
}

/* Everything up to a running loop; on failure the caller still runs ctl_shutdown(). */
static int
ctl_start(struct ctl_main *m)
{
	int rc;

	if ((rc = ctl_mkdirs(m->run_dir)) != 0 || (rc = ctl_mkdirs(m->data_dir)) != 0) {
		SP_CTL_ERR("creating directories %s, %s: %s", m->run_dir, m->data_dir,
			   sp_strerror(rc));
		return rc;
	}
	if ((rc = ctl_join(m->cat_path, m->data_dir, SP_CAT_FILE_NAME)) != 0 ||
	    (rc = ctl_join(m->ctl_path, m->run_dir, SP_CTL_SOCK_NAME)) != 0 ||
	    (rc = ctl_join(m->chan_path, m->run_dir, SP_CHAN_SOCK_NAME)) != 0 ||
	    (rc = ctl_join(m->pid_path, m->run_dir, SP_CTL_PID_FILE)) != 0 ||
	    (rc = ctl_join(m->tickets_path, m->data_dir, SP_CTL_TICKETS_FILE_NAME)) != 0) {
		SP_CTL_ERR("directory paths too long (max %d bytes)", SP_PATH_MAX_BYTES);
		return rc;
	}
	if ((rc = ctl_pid_file(m)) != 0) {
		return rc;
	}
	if ((rc = ctl_keys(m)) != 0) {
		return rc;
	}
	if ((rc = sp_ctl_loop_init(&m->loop)) != 0 || (rc = ctl_signals(m)) != 0) {
		SP_CTL_ERR("event loop: %s", sp_strerror(rc));
		return rc;
	}
	rc = sp_cat_open(m->cat_path, &m->cat);
	if (rc != 0) {
		SP_CTL_ERR("cannot open catalog %s: %s", m->cat_path, sp_strerror(rc));
		return rc;
	}
	m->ctx.cat = m->cat;
	rc = sp_ctl_tickets_open(&m->tickets, m->tickets_path, m->ticket_rotate_s, sp_ctl_wall_s());
	if (rc != 0) {
		SP_CTL_ERR("TLS ticket keys %s: %s", m->tickets_path, sp_strerror(rc));
		return rc;
	}
	m->ctx.tickets = &m->tickets;
	if (m->test_services) {
		sp_cat_clock_offset_allow(m->cat);
		SP_CTL_WARN("test services on: clock_offset_set is allowed (never in production)");
	}
	if ((rc = sp_chan_server_open(&m->loop, &m->ctx, m->chan_path, &m->kconf, &m->chan)) !=
	    0) {
		return rc;
	}
	if ((rc = sp_ctl_server_open(&m->loop, &m->ctx, m->ctl_path, &m->srv)) != 0) {
		return rc;
	}
	m->ctx.state = SP_CTL_RUNTIME;
	return 0;
}

static void
ctl_shutdown(struct ctl_main *m)
{
	sp_ctl_server_close(m->srv);
	sp_chan_server_close(m->chan);
	json_decref(m->ctx.od.last);
	m->ctx.od.last = NULL;
	sp_ctl_load_fini(&m->ctx.load);
	sp_cat_close(m->cat);
	m->ctx.tickets = NULL;
	sp_ctl_tickets_clear(&m->tickets);
	m->ctx.keys = NULL;
	sp_keyfile_clear(&m->keys);
	if (m->sig_ev.fd >= 0) {
		close(m->sig_ev.fd);
	}
	sp_ctl_loop_fini(&m->loop);
	if (m->pid_fd >= 0) {
		(void)unlink(m->pid_path);
		close(m->pid_fd);
	}
}

int
main(int argc, char **argv)
{
	static struct ctl_main m;
	int rc;

	m.pid_fd = -1;
	m.sig_ev.fd = -1;
	m.loop.epfd = -1;
	if (ctl_parse_args(&m, argc, argv) != 0) {
		return 2;
	}
	m.ctx.state = SP_CTL_STARTUP;
	m.ctx.name = m.name;
	m.ctx.data_dir = m.data_dir;
	m.ctx.run_dir = m.run_dir;
	m.ctx.pid = getpid();
	m.ctx.start_ms = sp_ctl_now_ms();
	m.ctx.od.split_records_per_s = SP_CTL_OD_RECORDS_PER_S_DEFAULT;
	m.ctx.od.split_bytes_per_s = SP_CTL_OD_BYTES_PER_S_DEFAULT;
	SP_CTL_INFO("spate-control %s starting: name %s, data dir %s, run dir %s, account %s, "
		    "region %s, shard limit %u, balance interval %u s (0: off), consumers CREATING "
		    "%u ms, DELETING %u ms, TLS ticket keys rotated every %u s",
		    SPATE_VERSION, m.name, m.data_dir, m.run_dir, m.kconf.account, m.kconf.region,
		    m.kconf.shard_limit, m.ctx.balance_interval_s, m.kconf.consumer_activate_ms,
		    m.kconf.consumer_delete_ms, m.ticket_rotate_s);
	rc = ctl_start(&m);
	if (rc == 0) {
		SP_CTL_INFO("ready");
	}
	while (rc == 0 && !m.loop.stop) {
		int n = sp_ctl_loop_run_once(&m.loop, -1);

		if (n < 0) {
			SP_CTL_ERR("epoll_wait: %s", sp_strerror(n));
			rc = n;
		}
		sp_chan_server_service(m.chan);
		sp_ctl_server_service(m.srv);
	}
	ctl_shutdown(&m);
	SP_CTL_INFO("stopped");
	return rc == 0 ? 0 : 1;
}
