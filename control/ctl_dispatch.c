/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * JSON-RPC 2.0 dispatch for the control socket: parse a line, check it is a request, find the
 * method, check the state mask, and run the handler; then deliver replies in request order.
 *
 * Every non-blank line becomes a struct sp_ctl_req queued on its session, rejected lines
 * included, so that each gets exactly one reply and replies leave in the order the lines
 * arrived even when a handler answers later (status waits for the dataplane). A request whose
 * session went away is detached: its reply is dropped and it is freed when answered.
 *
 * Differences from JSON-RPC 2.0, all documented in docs/control-socket.md: "jsonrpc" may be
 * omitted; a request without "id" is answered too (with "id":null), there are no
 * notifications; batches (arrays) are refused with -32600; params must be an object.
 *
 * Runs on spate-control's single thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <spate/assert.h>
#include <spate/err.h>

#include "ctl.h"

uint64_t
sp_ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void
sp_ctl_session_init(struct sp_ctl_session *s, struct sp_ctl_ctx *ctx, sp_ctl_out_fn out,
		    void *out_arg)
{
	SP_VERIFY(ctx != NULL && out != NULL);
	memset(s, 0, sizeof(*s));
	s->ctx = ctx;
	s->out = out;
	s->out_arg = out_arg;
	TAILQ_INIT(&s->pending);
}

static void
ctl_req_free(struct sp_ctl_req *req)
{
	json_decref(req->id);
	json_decref(req->params);
	free(req->reply);
	free(req);
}

void
sp_ctl_session_fini(struct sp_ctl_session *s)
{
	struct sp_ctl_req *req;

	while ((req = TAILQ_FIRST(&s->pending)) != NULL) {
		TAILQ_REMOVE(&s->pending, req, link);
		s->n_pending--;
		if (req->done) {
			ctl_req_free(req);
		} else {
			/* The handler still holds it; sp_ctl_reply() frees it. */
			req->session = NULL;
		}
	}
	SP_VERIFY(s->n_pending == 0);
	s->out = NULL;
}

/* Hand every answered request at the head of the queue to the transport. */
static void
ctl_session_drain(struct sp_ctl_session *s)
{
	struct sp_ctl_req *req;

	while ((req = TAILQ_FIRST(&s->pending)) != NULL && req->done) {
		TAILQ_REMOVE(&s->pending, req, link);
		SP_VERIFY(s->n_pending > 0);
		s->n_pending--;
		if (req->reply != NULL) {
			s->out(s->out_arg, req->reply, req->reply_len);
		}
		ctl_req_free(req);
	}
}

/*
 * Error messages may quote input (a method name, a parser's token): keep printable ASCII only,
 * so that truncation or odd bytes can never make the reply invalid JSON or UTF-8.
 */
static void
ctl_ascii(char *dst, size_t cap, const char *src)
{
	size_t i = 0;

	SP_VERIFY(cap > 0);
	for (; src[i] != '\0' && i + 1 < cap; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[i] = '\0';
}

int
sp_ctl_reply_line(json_t *id, json_t *result, int code, const char *msg, char **line,
		  size_t *len)
{
	json_t *o = json_object();
	int rc = -ENOMEM;

	*line = NULL;
	*len = 0;
	if (o == NULL) {
		return -ENOMEM;
	}
	json_object_set_new(o, "jsonrpc", json_string("2.0"));
	json_object_set(o, "id", id != NULL ? id : json_null());
	if (result != NULL) {
		json_object_set(o, "result", result);
	} else {
		char text[SP_CTL_MAX_ERRMSG_BYTES];

		ctl_ascii(text, sizeof(text), msg != NULL ? msg : "error");
		json_object_set_new(o, "error",
				    json_pack("{s:i,s:s}", "code", code, "message", text));
	}
	size_t n = json_dumpb(o, NULL, 0, JSON_COMPACT);

	if (n > 0) {
		char *buf = malloc(n + 1);

		if (buf != NULL && json_dumpb(o, buf, n, JSON_COMPACT) == n) {
			buf[n] = '\n';
			*line = buf;
			*len = n + 1;
			rc = 0;
		} else {
			free(buf);
		}
	}
	json_decref(o);
	return rc;
}

static void
ctl_complete(struct sp_ctl_req *req, json_t *result, int code, const char *msg)
{
	SP_VERIFY(!req->done);
	SP_VERIFY(req->reply == NULL);
	req->done = true;

	struct sp_ctl_session *s = req->session;

	if (s == NULL) {
		/* Detached: nobody to answer. */
		json_decref(result);
		ctl_req_free(req);
		return;
	}
	if (sp_ctl_reply_line(req->id, result, code, msg, &req->reply, &req->reply_len) != 0) {
		/* Out of memory even for the reply: try the smallest error we have. */
		int rc = sp_ctl_reply_line(req->id, NULL, SP_CTL_E_INTERNAL, "out of memory",
					   &req->reply, &req->reply_len);
		(void)rc;
	}
	json_decref(result);
	ctl_session_drain(s);
}

void
sp_ctl_reply(struct sp_ctl_req *req, json_t *result)
{
	if (result == NULL) {
		ctl_complete(req, NULL, SP_CTL_E_INTERNAL, "out of memory building the result");
		return;
	}
	ctl_complete(req, result, 0, NULL);
}

void
sp_ctl_error(struct sp_ctl_req *req, int code, const char *msg)
{
	SP_VERIFY(code != 0);
	ctl_complete(req, NULL, code, msg);
}

static struct sp_ctl_req *
ctl_req_new(struct sp_ctl_session *s)
{
	struct sp_ctl_req *req = calloc(1, sizeof(*req));

	if (req == NULL) {
		return NULL;
	}
	req->session = s;
	req->ctx = s->ctx;
	req->id = json_null();
	TAILQ_INSERT_TAIL(&s->pending, req, link);
	s->n_pending++;
	s->ctx->n_requests++;
	return req;
}

void
sp_ctl_session_error(struct sp_ctl_session *s, int code, const char *msg)
{
	struct sp_ctl_req *req = ctl_req_new(s);

	if (req == NULL) {
		return;
	}
	sp_ctl_error(req, code, msg);
}

static bool
ctl_line_blank(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
			return false;
		}
	}
	return true;
}

/* Check the request object and fill req; on failure answer it and return false. */
static bool
ctl_req_decode(struct sp_ctl_req *req, json_t *msg)
{
	char buf[160];

	if (!json_is_object(msg)) {
		sp_ctl_error(req, SP_CTL_E_INVALID_REQUEST,
			     json_is_array(msg) ? "batch requests are not supported"
						: "request must be a JSON object");
		return false;
	}
	json_t *id = json_object_get(msg, "id");

	if (id != NULL && !json_is_string(id) && !json_is_integer(id) && !json_is_real(id) &&
	    !json_is_null(id)) {
		sp_ctl_error(req, SP_CTL_E_INVALID_REQUEST, "id must be a string, number or null");
		return false;
	}
	if (id != NULL) {
		json_decref(req->id);
		req->id = json_incref(id);
	}
	json_t *ver = json_object_get(msg, "jsonrpc");

	if (ver != NULL && (!json_is_string(ver) || strcmp(json_string_value(ver), "2.0") != 0)) {
		sp_ctl_error(req, SP_CTL_E_INVALID_REQUEST, "jsonrpc must be \"2.0\"");
		return false;
	}
	json_t *method = json_object_get(msg, "method");

	if (!json_is_string(method)) {
		sp_ctl_error(req, SP_CTL_E_INVALID_REQUEST, "method must be a string");
		return false;
	}
	req->method = sp_ctl_method_find(json_string_value(method));
	if (req->method == NULL) {
		snprintf(buf, sizeof(buf), "method not found: %.100s", json_string_value(method));
		sp_ctl_error(req, SP_CTL_E_METHOD_NOT_FOUND, buf);
		return false;
	}
	json_t *params = json_object_get(msg, "params");

	if (params != NULL && !json_is_object(params) && !json_is_null(params)) {
		sp_ctl_error(req, SP_CTL_E_INVALID_PARAMS, "params must be an object");
		return false;
	}
	if (json_is_object(params) && json_object_size(params) > 0 &&
	    strcmp(req->method->params, "{}") == 0) {
		snprintf(buf, sizeof(buf), "%s takes no params", req->method->name);
		sp_ctl_error(req, SP_CTL_E_INVALID_PARAMS, buf);
		return false;
	}
	req->params = json_is_object(params) ? json_incref(params) : json_object();
	if (req->params == NULL) {
		sp_ctl_error(req, SP_CTL_E_INTERNAL, "out of memory");
		return false;
	}
	if ((req->method->state_mask & req->ctx->state) == 0) {
		snprintf(buf, sizeof(buf), "%s is not allowed while %s", req->method->name,
			 req->ctx->state == SP_CTL_STARTUP ? "starting" : "running");
		sp_ctl_error(req, SP_CTL_E_STATE, buf);
		return false;
	}
	return true;
}

int
sp_ctl_dispatch_line(struct sp_ctl_session *s, const char *line, size_t len)
{
	json_error_t jerr;

	SP_VERIFY(s->out != NULL);
	if (ctl_line_blank(line, len)) {
		return 0;
	}
	struct sp_ctl_req *req = ctl_req_new(s);

	if (req == NULL) {
		/* No memory for even the request: answer without one, in place. */
		char *reply;
		size_t rlen;

		if (sp_ctl_reply_line(NULL, NULL, SP_CTL_E_INTERNAL, "out of memory", &reply,
				      &rlen) == 0) {
			s->out(s->out_arg, reply, rlen);
			free(reply);
		}
		return 1;
	}
	json_t *msg = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);

	if (msg == NULL) {
		char buf[256];

		snprintf(buf, sizeof(buf), "parse error at byte %d: %s", jerr.position, jerr.text);
		sp_ctl_error(req, SP_CTL_E_PARSE, buf);
		return 1;
	}
	bool ok = ctl_req_decode(req, msg);

	json_decref(msg);
	if (ok) {
		req->method->handler(req);
	}
	return 1;
}
