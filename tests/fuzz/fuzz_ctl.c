/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for control-socket lines: arbitrary bytes go through the line buffer
 * (control/ctl_buf.c) in fuzzer-chosen chunk sizes and each line through the JSON-RPC
 * dispatcher (control/ctl_dispatch.c, ctl_methods.c), exactly as ctl_server.c drives them,
 * with a context attached to no socket, no dataplane and an in-memory catalog.
 *
 * Invariants checked: every non-blank line and every over-long line gets exactly one reply,
 * at once (nothing here is asynchronous); every reply is one line of valid JSON holding
 * "jsonrpc":"2.0", an "id", and exactly one of "result" / "error" (an integer code and a
 * string message); no request stays pending.
 *
 * Input layout: byte 0 picks the state (bit 0: startup or runtime) and byte 1 the chunk size
 * (1..256) of the feeds; the rest is the stream. Build with clang -fsanitize=fuzzer, or define
 * SP_FUZZ_MAIN for a plain driver that runs the files named on the command line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <spate/assert.h>
#include <spate/err.h>
#include <spate/limits.h>

#include "catalog.h"
#include "ctl.h"
#include "ctl_buf.h"
#include "ctl_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_out {
	uint64_t replies;
};

static void
fuzz_check_reply(void *arg, const char *line, size_t len)
{
	struct fuzz_out *out = arg;
	json_error_t jerr;

	SP_VERIFY(len > 0 && line[len - 1] == '\n');
	SP_VERIFY(memchr(line, '\n', len - 1) == NULL);
	json_t *r = json_loadb(line, len - 1, 0, &jerr);

	SP_VERIFY(json_is_object(r));
	SP_VERIFY(strcmp(json_string_value(json_object_get(r, "jsonrpc")), "2.0") == 0);
	SP_VERIFY(json_object_get(r, "id") != NULL);
	json_t *res = json_object_get(r, "result");
	json_t *err = json_object_get(r, "error");

	SP_VERIFY((res == NULL) != (err == NULL));
	if (err != NULL) {
		SP_VERIFY(json_is_integer(json_object_get(err, "code")));
		SP_VERIFY(json_is_string(json_object_get(err, "message")));
	}
	json_decref(r);
	out->replies++;
}

static struct sp_cat *
fuzz_catalog(void)
{
	static struct sp_cat *cat;
	static bool tried;

	if (!tried) {
		tried = true;
		sp_ctl_log_set_level(SP_CTL_LOG_ERR);
		if (sp_cat_open(":memory:", &cat) != 0) {
			cat = NULL;
		}
	}
	return cat;
}

static void
fuzz_drain(struct sp_ctl_linebuf *lb, struct sp_ctl_session *s, struct fuzz_out *out,
	   uint64_t *expected)
{
	const char *line;
	size_t len;
	int rc;

	while ((rc = sp_ctl_linebuf_next(lb, &line, &len)) != SP_AGAIN) {
		if (rc == -EMSGSIZE) {
			sp_ctl_session_error(s, SP_CTL_E_INVALID_REQUEST, "request line too long");
			(*expected)++;
		} else {
			SP_VERIFY(rc == 0);
			SP_VERIFY(len < SP_CTL_MAX_LINE_BYTES);
			*expected += (uint64_t)sp_ctl_dispatch_line(s, line, len);
		}
		SP_VERIFY(out->replies == *expected);
		SP_VERIFY(s->n_pending == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sp_ctl_linebuf lb;
	static bool lb_ready;
	struct sp_ctl_ctx ctx;
	struct sp_ctl_session s;
	struct fuzz_out out = {0};
	uint64_t expected = 0;

	if (size < 2) {
		return 0;
	}
	if (!lb_ready) {
		SP_VERIFY(sp_ctl_linebuf_init(&lb, SP_CTL_MAX_LINE_BYTES) == 0);
		lb_ready = true;
	}
	lb.head = lb.tail = lb.scanned = 0;
	lb.discarding = false;
	memset(&ctx, 0, sizeof(ctx));
	ctx.state = (data[0] & 1) ? SP_CTL_RUNTIME : SP_CTL_STARTUP;
	ctx.cat = fuzz_catalog();
	ctx.name = "fuzz";
	ctx.pid = 1;
	ctx.start_ms = sp_ctl_now_ms();
	size_t chunk = (size_t)data[1] + 1;

	data += 2;
	size -= 2;
	sp_ctl_session_init(&s, &ctx, fuzz_check_reply, &out);
	while (size > 0) {
		size_t n = sp_ctl_linebuf_feed(&lb, data, SP_MIN(chunk, size));

		SP_VERIFY(n > 0);
		data += n;
		size -= n;
		fuzz_drain(&lb, &s, &out, &expected);
	}
	sp_ctl_session_fini(&s);
	return 0;
}

#ifdef SP_FUZZ_MAIN
int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		static uint8_t buf[1 << 20];

		if (f == NULL) {
			perror(argv[i]);
			return 1;
		}
		size_t n = fread(buf, 1, sizeof(buf), f);

		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
	}
	return 0;
}
#endif
