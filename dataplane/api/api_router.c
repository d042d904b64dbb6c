/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The router: one complete HTTP request in, exactly one answer out (now or later). Checks in
 * the order the reference documents for AWS (../shared/reference/kinesis-api.md §1.7):
 * method and CORS, the operation named by X-Amz-Target, an empty body, the Content-Type, a body
 * that is not a JSON object (CBOR: one CBOR map), an unknown operation, then SigV4 — and only
 * then the operation's own decoding and validation. Data operations run on this worker; control
 * operations go to spate-control through the main lcore. A request whose Content-Type is
 * application/x-amz-cbor-1.1 sets c->req.cbor: the data operations decode it with the CBOR
 * decoders and answer with the CBOR writers, errors included; control operations are
 * translated on the main lcore (api_main.c); SubscribeToShard's small request is translated to
 * JSON here (docs/internals/cbor.md). Runs on the connection's worker.
 */
#include <string.h>

#include <spate/assert.h>
#include <spate/err.h>

#include "../sigv4/sigv4.h"
#include "api_cbor.h"
#include "api_json.h"
#include "api_worker.h"

#define ROUTER_MAX_HEADERS 128u /* headers handed to SigV4 (the parser's bound is lower) */

static const char router_xml_denied[] =
    "<AccessDeniedException>\n"
    "  <Message>Unable to determine service/operation name to be authorized</Message>\n"
    "</AccessDeniedException>\n";

static bool
router_eq(const char *a, size_t alen, const char *lit)
{
	size_t n = strlen(lit);

	return alen == n && memcmp(a, lit, n) == 0;
}

/* What the Content-Type names: one of the two the API serves, or neither. */
enum router_ctype {
	ROUTER_CTYPE_OTHER = 0,
	ROUTER_CTYPE_JSON, /* application/x-amz-json-1.1 */
	ROUTER_CTYPE_CBOR, /* application/x-amz-cbor-1.1 */
};

/* Content-Type: the media type before ';', spaces trimmed (reference §1.1). */
static enum router_ctype
router_ctype(const struct sp_http_req *h)
{
	const char *v;
	size_t len;

	if (!sp_http_header(h, SP_HTTP_H_CONTENT_TYPE, &v, &len)) {
		return ROUTER_CTYPE_OTHER;
	}
	for (size_t i = 0; i < len; i++) {
		if (v[i] == ';') {
			len = i;
			break;
		}
	}
	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t')) {
		len--;
	}
	while (len > 0 && (v[0] == ' ' || v[0] == '\t')) {
		v++;
		len--;
	}
	if (router_eq(v, len, SP_KINESIS_CONTENT_TYPE_JSON)) {
		return ROUTER_CTYPE_JSON;
	}
	return router_eq(v, len, SP_KINESIS_CONTENT_TYPE_CBOR) ? ROUTER_CTYPE_CBOR
							       : ROUTER_CTYPE_OTHER;
}

/*
 * X-Amz-Target: "Kinesis_20131202.<Op>". Returns the op, SP_KOP_UNKNOWN for a well-formed
 * target naming no known operation; *service_op says whether it had the Service.Operation form.
 */
static enum sp_kop
router_target(const struct sp_http_req *h, bool *service_op)
{
	const char *v;
	size_t len;
	size_t plen = sizeof(SP_KINESIS_TARGET_PREFIX) - 1;

	*service_op = false;
	if (!sp_http_header(h, SP_HTTP_H_X_AMZ_TARGET, &v, &len)) {
		return SP_KOP_UNKNOWN;
	}
	*service_op = memchr(v, '.', len) != NULL;
	if (len <= plen || memcmp(v, SP_KINESIS_TARGET_PREFIX, plen) != 0) {
		return SP_KOP_UNKNOWN;
	}
	return sp_kop_lookup(v + plen, len - plen);
}

/*
 * Step 6 of the check order: the body is one valid JSON object, or for CBOR one well-formed
 * CBOR map (a tagged map is not one). The scratch arena is the connection buffer after the
 * body (the buffer was sized for both).
 */
static bool
router_is_object(struct sp_api_conn *c, const char *body, uint32_t len)
{
	struct sp_api_json js;
	char *scratch = (char *)body + len;
	size_t cap = c->buf.cap - SP_API_RESP_HEAD_BYTES - len;

	if (c->req.cbor) {
		struct sp_cbor_rd rd;
		struct sp_cbor_item it;

		return sp_cbor_rd_init(&rd, (const uint8_t *)body, len, (uint8_t *)scratch, cap) ==
			   0 &&
		       sp_cbor_next(&rd, &it) == 1 && it.type == SP_CBOR_MAP &&
		       sp_cbor_skip(&rd, &it) == 0 && sp_cbor_finish(&rd) == 0;
	}
	if (sp_api_json_init(&js, body, len, scratch, cap) != 0 ||
	    sp_api_json_peek(&js) != SP_API_JSON_OBJECT) {
		return false;
	}
	return sp_api_json_skip(&js) == 0 && sp_api_json_finish(&js) == 0;
}

static bool
router_auth(struct sp_api_conn *c, const char *body, uint32_t len)
{
	struct sp_api *api = c->api;
	struct sp_sigv4_header hdrs[ROUTER_MAX_HEADERS];
	struct sp_sigv4_request rq;
	struct sp_sigv4_result res;
	unsigned n = sp_http_header_count(&c->http);
	enum sp_kerr kerr;

	if (api->sigv4 == NULL) {
		sp_api_respond_error(c, SP_KERR_UNRECOGNIZED_CLIENT,
				     "The security token included in the request is invalid.",
				     false);
		return false;
	}
	n = SP_MIN(n, ROUTER_MAX_HEADERS);
	for (unsigned i = 0; i < n; i++) {
		sp_http_header_at(&c->http, i, &hdrs[i].name, &hdrs[i].name_len, &hdrs[i].value,
				  &hdrs[i].value_len);
	}
	if (c->owner != NULL && c->ps->auth_len > 0 && n < ROUTER_MAX_HEADERS) {
		/* HTTP/2: clients sign :authority, which reached the parser as Host */
		hdrs[n].name = ":authority";
		hdrs[n].name_len = sizeof(":authority") - 1;
		hdrs[n].value = c->ps->auth;
		hdrs[n].value_len = c->ps->auth_len;
		n++;
	}
	memset(&rq, 0, sizeof(rq));
	sp_http_method(&c->http, &rq.method, &rq.method_len);
	sp_http_target(&c->http, &rq.target, &rq.target_len);
	rq.headers = hdrs;
	rq.n_headers = n;
	rq.body = body;
	rq.body_len = len;
	rq.now_ms = sp_api_now_ms(api);
	kerr = sp_sigv4_verify(api->sigv4, &rq, &res, api->msg, sizeof(api->msg));
	if (kerr != SP_KERR_NONE) {
		sp_api_respond_error(c, kerr, api->msg, false);
		return false;
	}
	SP_VERIFY(strlen(res.account) < sizeof(c->req.account));
	memcpy(c->req.account, res.account, strlen(res.account) + 1);
	SP_VERIFY(res.region_len < sizeof(c->req.region)); /* SP_SIGV4_REGION_MAX + 1 */
	memcpy(c->req.region, res.region, res.region_len);
	c->req.region[res.region_len] = '\0';
	return true;
}

/*
 * SubscribeToShard's request in CBOR: translated to JSON in place for api_sub.c's decoder.
 * In the buffer: the CBOR body, the reader's scratch (as long), then the JSON, which moves to
 * the body's place so that its own scratch (the decoder's) is again the buffer after it.
 * false after answering (the body translates to no JSON object that fits).
 */
static bool
router_sub_json(struct sp_api_conn *c, const char **body, uint32_t *len)
{
	char *p = c->buf.p + SP_API_RESP_HEAD_BYTES;
	size_t room = c->buf.cap - SP_API_RESP_HEAD_BYTES;
	ssize_t n;

	SP_VERIFY(*body == p && room >= 2u * (size_t)*len);
	n = sp_api_cbor_to_json(p, *len, p + *len, *len, p + 2u * *len, room - 2u * *len);
	if (n < 0 || (size_t)n > room / 2u) {
		/* not one CBOR map (checked at step 6, but for what JSON cannot hold), too big */
		sp_api_respond_error(c, SP_KERR_SERIALIZATION, NULL, false);
		return false;
	}
	memmove(p, p + 2u * *len, (size_t)n);
	*len = (uint32_t)n;
	return true;
}

static void
router_data_op(struct sp_api_conn *c, enum sp_kop op, const char *body, uint32_t len)
{
	const struct sp_api_cat *cat = sp_api_cat_current(c->api->g);

	if (cat == NULL) {
		sp_api_respond_error(c, SP_KERR_SERVICE_UNAVAILABLE,
				     "The catalog is not loaded yet; retry.", false);
		return;
	}
	switch (op) {
	case SP_KOP_PUT_RECORD:
	case SP_KOP_PUT_RECORDS:
		sp_api_op_put(c, cat);
		break;
	case SP_KOP_GET_SHARD_ITERATOR:
		sp_api_op_get_iterator(c, cat, body, len);
		break;
	case SP_KOP_GET_RECORDS:
		sp_api_op_get_records(c, cat, body, len);
		break;
	case SP_KOP_SUBSCRIBE_TO_SHARD:
		if (!c->req.cbor || router_sub_json(c, &body, &len)) {
			sp_api_op_subscribe(c, cat, body, len);
		}
		break;
	default:
		SP_VERIFY(false);
	}
}

/* Append "Name: value\r\n" of the request header hname, if present, as header out_name. */
static size_t
router_echo(const struct sp_http_req *h, const char *hname, const char *out_name, char *buf,
	    size_t cap)
{
	int i = sp_http_header_find(h, hname, strlen(hname), 0);
	const char *name, *value;
	size_t nlen, vlen;
	int n;

	if (i < 0) {
		return 0;
	}
	sp_http_header_at(h, (unsigned)i, &name, &nlen, &value, &vlen);
	n = snprintf(buf, cap, "%s: %.*s\r\n", out_name, (int)SP_MIN(vlen, (size_t)1024), value);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* OPTIONS with Origin (reference §1.1): 200, empty, the requested headers and method echoed. */
static void
router_preflight(struct sp_api_conn *c)
{
	struct sp_api *api = c->api;
	size_t n = 0;

	n += router_echo(&c->http, "access-control-request-headers", "Access-Control-Allow-Headers",
			 api->cors + n, sizeof(api->cors) - n);
	n += router_echo(&c->http, "access-control-request-method", "Access-Control-Allow-Methods",
			 api->cors + n, sizeof(api->cors) - n);
	n += (size_t)snprintf(api->cors + n, sizeof(api->cors) - n,
			      "Access-Control-Max-Age: 172800\r\n");
	SP_VERIFY(n < sizeof(api->cors));
	c->cors_extra = api->cors; /* read while the answer's head is written, right below */
	sp_api_respond_raw(c, 200, SP_KINESIS_CONTENT_TYPE_JSON, "", 0);
}

void
sp_api_dispatch(struct sp_api_conn *c)
{
	struct sp_http_req *h = &c->http;
	/* a request without a body took no buffer (the parser never asked for one) */
	const char *method, *body = c->buf.p != NULL ? c->buf.p + SP_API_RESP_HEAD_BYTES : NULL;
	size_t mlen;
	uint32_t len = (uint32_t)sp_http_body_len(h);
	const char *v;
	size_t vlen;
	bool service_op;
	enum sp_kop op;
	enum router_ctype ctype;

	sp_http_method(h, &method, &mlen);
	op = router_target(h, &service_op);
	ctype = router_ctype(h);
	c->req.op = op;
	/* errors from here on are CBOR for a CBOR request (the empty body's included, §1.7) */
	c->req.cbor = ctype == ROUTER_CTYPE_CBOR;
	c->cors = sp_http_header(h, SP_HTTP_H_ORIGIN, &v, &vlen);
	if (c->cors && router_eq(method, mlen, "OPTIONS")) {
		router_preflight(c);
		return;
	}
	if (!router_eq(method, mlen, "POST")) {
		sp_api_respond_raw(c, 403, "application/xml", router_xml_denied,
				   sizeof(router_xml_denied) - 1);
		return;
	}
	if (len == 0) {
		sp_api_respond_error(
		    c, op != SP_KOP_UNKNOWN ? SP_KERR_SERIALIZATION : SP_KERR_UNKNOWN_OPERATION,
		    NULL, false);
		return;
	}
	if (ctype == ROUTER_CTYPE_OTHER) {
		if (!service_op) {
			sp_api_respond_raw(c, 403, "application/xml", router_xml_denied,
					   sizeof(router_xml_denied) - 1);
		} else {
			sp_api_respond_raw(c, 404, "application/xml",
					   "<UnknownOperationException/>\n", 29);
		}
		return;
	}
	if (op == SP_KOP_PUT_RECORD || op == SP_KOP_PUT_RECORDS) {
		/* the hot operations decode here: one scan of the body, not two */
		if (!sp_api_put_decode(c, body, len)) {
			return;
		}
	} else if (!router_is_object(c, body, len)) {
		sp_api_respond_error(c, SP_KERR_SERIALIZATION, NULL, false);
		return;
	}
	if (op == SP_KOP_UNKNOWN || sp_kop_table[op].where == SP_KOP_NONE) {
		sp_api_respond_error(c, SP_KERR_UNKNOWN_OPERATION, NULL, false);
		return;
	}
	if (!router_auth(c, body, len)) {
		return;
	}
	c->api->cnt.ops[op]++;
	c->req.now_ms = sp_api_now_ms(c->api);
	if (sp_kop_table[op].where == SP_KOP_DATA) {
		router_data_op(c, op, body, len);
	} else {
		sp_api_op_control(c, body, len);
	}
}
