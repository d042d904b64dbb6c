/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for dataplane/chan/chan_client.c over an in-memory transport: hello on connect,
 * snapshots applied, stats requests answered with their seq, bad and unknown messages counted,
 * over-long lines and peer loss answered by disconnect and backoff. No EAL needed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <spate/chan_proto.h>
#include <spate/limits.h>

#include "../sp_test.h"

#include "chan/chan.h"

struct mem_tr {
	int connect_rc;	 /* what connect() returns */
	char *to_client; /* bytes the fake control sends */
	size_t to_len, to_off;
	bool eof;
	char sent[65536]; /* bytes the client sent */
	size_t sent_len;
	unsigned connects, closes;
};

static int
mt_connect(void *ctx)
{
	struct mem_tr *t = ctx;

	t->connects++;
	return t->connect_rc;
}

static ssize_t
mt_send(void *ctx, const void *buf, size_t len)
{
	struct mem_tr *t = ctx;
	size_t n = SP_MIN(len, sizeof(t->sent) - t->sent_len);

	memcpy(t->sent + t->sent_len, buf, n);
	t->sent_len += n;
	return n == 0 ? -EAGAIN : (ssize_t)n;
}

static ssize_t
mt_recv(void *ctx, void *buf, size_t len)
{
	struct mem_tr *t = ctx;
	size_t n = SP_MIN(len, t->to_len - t->to_off);

	if (n == 0) {
		return t->eof ? 0 : -EAGAIN;
	}
	memcpy(buf, t->to_client + t->to_off, n);
	t->to_off += n;
	return (ssize_t)n;
}

static void
mt_close(void *ctx)
{
	struct mem_tr *t = ctx;

	t->closes++;
}

static const struct sp_chan_transport_ops mt_ops = {
	.connect = mt_connect,
	.send = mt_send,
	.recv = mt_recv,
	.close = mt_close,
};

static void
mt_feed(struct mem_tr *t, const char *text)
{
	size_t n = strlen(text);

	t->to_client = realloc(t->to_client, t->to_len + n);
	assert_non_null(t->to_client);
	memcpy(t->to_client + t->to_len, text, n);
	t->to_len += n;
}

static unsigned g_stats_calls;

static json_t *
fake_stats(void *arg)
{
	(void)arg;
	g_stats_calls++;
	return json_pack("{s:i}", "answer", 42);
}

/* The i-th line the client sent, parsed. */
static json_t *
sent_line(struct mem_tr *t, unsigned i)
{
	size_t start = 0;

	for (size_t p = 0; p < t->sent_len; p++) {
		if (t->sent[p] == '\n') {
			if (i == 0) {
				return json_loadb(t->sent + start, p - start, 0, NULL);
			}
			i--;
			start = p + 1;
		}
	}
	return NULL;
}

static void
test_hello_config_stats(void **state)
{
	struct sp_chan_client c;
	struct mem_tr t;
	json_t *m;

	(void)state;
	memset(&t, 0, sizeof(t));
	assert_int_equal(sp_chan_client_init(&c, (struct sp_chan_transport){&mt_ops, &t}, "inst",
					     1234, fake_stats, NULL),
			 0);
	sp_chan_client_poll(&c, 0);
	assert_true(c.connected);
	m = sent_line(&t, 0);
	assert_non_null(m);
	assert_string_equal(json_string_value(json_object_get(m, "msg")), SP_CHAN_MSG_HELLO);
	assert_int_equal(json_integer_value(json_object_get(m, "proto")), SP_CHAN_PROTO_VERSION);
	assert_int_equal(json_integer_value(json_object_get(m, "pid")), 1234);
	assert_string_equal(json_string_value(json_object_get(m, "name")), "inst");
	json_decref(m);

	/* A config split across two reads, then a stats request. */
	mt_feed(&t, "{\"msg\":\"config\",\"proto\":1,\"catalog_version\":7,\"cat");
	sp_chan_client_poll(&c, 1);
	assert_false(c.configured);
	mt_feed(&t, "alog\":{}}\n{\"msg\":\"stats_req\",\"seq\":99}\n");
	sp_chan_client_poll(&c, 2);
	assert_true(c.configured);
	assert_int_equal(c.catalog_version, 7);
	assert_int_equal(g_stats_calls, 1);
	m = sent_line(&t, 1);
	assert_non_null(m);
	assert_string_equal(json_string_value(json_object_get(m, "msg")), SP_CHAN_MSG_STATS);
	assert_int_equal(json_integer_value(json_object_get(m, "seq")), 99);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(m, "dataplane"), "answer")), 42);
	json_decref(m);

	/* A newer catalog, an unknown message, garbage, a config with the wrong proto. */
	mt_feed(&t, "{\"msg\":\"catalog\",\"catalog_version\":8}\n{\"msg\":\"future\"}\nnot json\n"
		    "{\"msg\":\"config\",\"proto\":2,\"catalog_version\":100}\n[1]\n");
	sp_chan_client_poll(&c, 3);
	assert_int_equal(c.catalog_version, 8);
	assert_int_equal(c.msgs_unknown, 1);
	assert_int_equal(c.msgs_bad, 3);
	assert_true(c.connected);
	sp_chan_client_fini(&c);
	free(t.to_client);
}

static void
test_disconnect_and_backoff(void **state)
{
	struct sp_chan_client c;
	struct mem_tr t;

	(void)state;
	memset(&t, 0, sizeof(t));
	t.connect_rc = -ENOENT; /* control not running */
	assert_int_equal(sp_chan_client_init(&c, (struct sp_chan_transport){&mt_ops, &t}, "x", 1,
					     fake_stats, NULL),
			 0);
	sp_chan_client_poll(&c, 1000);
	assert_false(c.connected);
	assert_int_equal(t.connects, 1);
	sp_chan_client_poll(&c, 1000 + SP_CHAN_BACKOFF_MIN_MS - 1);
	assert_int_equal(t.connects, 1); /* still backing off */
	sp_chan_client_poll(&c, 1000 + SP_CHAN_BACKOFF_MIN_MS);
	assert_int_equal(t.connects, 2);
	/* The backoff doubles, bounded. */
	for (int i = 0; i < 20; i++) {
		sp_chan_client_poll(&c, 1000000u * (unsigned)(i + 1));
	}
	assert_int_equal(c.backoff_ms, SP_CHAN_BACKOFF_MAX_MS);

	/* Connected, then the peer closes: disconnect, and the backoff restarts small. */
	t.connect_rc = 0;
	sp_chan_client_poll(&c, 100000000);
	assert_true(c.connected);
	assert_int_equal(c.backoff_ms, SP_CHAN_BACKOFF_MIN_MS);
	t.eof = true;
	sp_chan_client_poll(&c, 100000001);
	assert_false(c.connected);
	assert_int_equal(c.disconnects, 1);
	sp_chan_client_fini(&c);
	free(t.to_client);
}

static void
test_oversize_line(void **state)
{
	struct sp_chan_client c;
	struct mem_tr t;
	char *big = malloc(SP_CHAN_MAX_LINE_BYTES + 2);

	(void)state;
	assert_non_null(big);
	memset(&t, 0, sizeof(t));
	memset(big, 'a', SP_CHAN_MAX_LINE_BYTES + 1);
	big[SP_CHAN_MAX_LINE_BYTES + 1] = '\0';
	assert_int_equal(sp_chan_client_init(&c, (struct sp_chan_transport){&mt_ops, &t}, "x", 1,
					     fake_stats, NULL),
			 0);
	sp_chan_client_poll(&c, 0);
	assert_true(c.connected);
	mt_feed(&t, big);
	for (int i = 0; i < 200 && c.connected; i++) {
		sp_chan_client_poll(&c, 1);
	}
	assert_false(c.connected);
	assert_int_equal(c.disconnects, 1);
	sp_chan_client_fini(&c);
	free(t.to_client);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_config_stats),
		cmocka_unit_test(test_disconnect_and_backoff),
		cmocka_unit_test(test_oversize_line),
	};
	return cmocka_run_group_tests_name("chan_client", tests, NULL, NULL);
}
