/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The load generator's Kinesis producer (loadgen.h, mode put): PutRecords over HTTP/1.1
 * keep-alive, SigV4-signed (sp_sigv4_sign_post), one request in flight per connection. The
 * body is built in the instance's scratch buffer and copied into mbufs; the answer is
 * gathered in the slot's buffer until its Content-Length is complete, then judged by its
 * status and FailedRecordCount. Nothing is retried: this measures and feeds readers, and a
 * record either was acknowledged (counted) or not.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <rte_mbuf.h>

#include <spate/assert.h>

#include "../b64/b64.h"
#include "../sigv4/sigv4.h"
#include "../tcp/tcp.h"
#include "../tcp/tcp_internal.h"
#include "loadgen_internal.h"

#define PUT_TARGET   "Kinesis_20131202.PutRecords"
#define PUT_CTYPE    "application/x-amz-json-1.1"
#define PUT_HEAD_MAX 1024
/* {"PartitionKey":"lg-w<10>-s<10>","Data":"<b64>"}, */
#define PUT_REC_FIXED 64u

int
sp_lg_put_check(const struct sp_loadgen_conf *conf)
{
	size_t per = PUT_REC_FIXED + sp_b64_encoded_len(conf->msg);

	if (conf->records == 0 || conf->records > 500 || conf->stream[0] == '\0' ||
	    conf->key.access_key_len == 0 || conf->key.secret_len == 0 ||
	    64 + strlen(conf->stream) + per * conf->records > SP_LOADGEN_BODY_MAX) {
		return -EINVAL;
	}
	return 0;
}

/* The body: the slot's next `records` records. Returns its length. */
static size_t
put_body(struct lg_slot *s)
{
	struct sp_loadgen *lg = s->lg;
	const struct sp_loadgen_conf *c = &lg->conf;
	uint32_t slot = (uint32_t)(s - lg->slots);
	char *p = lg->body, *end = lg->body + SP_LOADGEN_BODY_MAX;
	uint8_t data[SP_LOADGEN_MSG_MAX];

	p += snprintf(p, (size_t)(end - p), "{\"StreamName\":\"%s\",\"Records\":[", c->stream);
	for (uint32_t r = 0; r < c->records; r++) {
		int n = snprintf((char *)data, sizeof(data), "%u.%u.%llu", c->worker, slot,
				 (unsigned long long)s->seq++);

		SP_VERIFY(n > 0);
		if ((uint32_t)n < c->msg) {
			memset(data + n, '.', c->msg - (uint32_t)n);
		}
		p +=
		    snprintf(p, (size_t)(end - p), "%s{\"PartitionKey\":\"lg-w%u-s%u\",\"Data\":\"",
			     r == 0 ? "" : ",", c->worker, slot);
		SP_VERIFY(end - p > (ptrdiff_t)sp_b64_encoded_len(c->msg) + 8);
		p += sp_b64_encode(
		    data,
		    SP_MIN((uint32_t)n > c->msg ? (uint32_t)n : c->msg, (uint32_t)sizeof(data)), p);
		*p++ = '"';
		*p++ = '}';
	}
	SP_VERIFY(end - p > 2);
	*p++ = ']';
	*p++ = '}';
	return (size_t)(p - lg->body);
}

/* Copy len bytes into a chain of mbufs from pool; NULL when the pool is short. */
static struct rte_mbuf *
put_chain(struct rte_mempool *pool, const char *a, size_t alen, const char *b, size_t blen)
{
	uint32_t room = rte_pktmbuf_data_room_size(pool) - RTE_PKTMBUF_HEADROOM;
	struct rte_mbuf *head = NULL;
	size_t total = alen + blen, done = 0;

	while (done < total) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
		uint32_t n = (uint32_t)SP_MIN((size_t)room, total - done);
		char *dst;

		if (m == NULL) {
			rte_pktmbuf_free(head);
			return NULL;
		}
		dst = rte_pktmbuf_append(m, (uint16_t)n);
		for (uint32_t k = 0; k < n; k++, done++) {
			dst[k] = done < alen ? a[done] : b[done - alen];
		}
		/* chained once filled: rte_pktmbuf_chain adds the segment's length to the head's */
		if (head == NULL) {
			head = m;
		} else if (rte_pktmbuf_chain(head, m) != 0) {
			rte_pktmbuf_free(m);
			rte_pktmbuf_free(head);
			return NULL;
		}
	}
	return head;
}

bool
sp_lg_put_request(struct lg_slot *s)
{
	struct sp_loadgen *lg = s->lg;
	const struct sp_loadgen_conf *c = &lg->conf;
	char head[PUT_HEAD_MAX], auth[SP_SIGV4_AUTH_MAX], date[17];
	struct timespec ts;
	struct tm tm;
	size_t blen = put_body(s);
	struct rte_mbuf *m;
	int hlen;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	SP_VERIFY(strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm) == 16);
	SP_VERIFY(sp_sigv4_sign_post(&c->key, c->region, c->host, PUT_CTYPE, PUT_TARGET, date,
				     lg->body, blen, auth, sizeof(auth)) > 0);
	hlen = snprintf(head, sizeof(head),
			"POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: " PUT_CTYPE
			"\r\nX-Amz-Target: " PUT_TARGET "\r\nX-Amz-Date: %s\r\nAuthorization: %s"
			"\r\nContent-Length: %zu\r\n\r\n",
			c->host, date, auth, blen);
	SP_VERIFY(hlen > 0 && (size_t)hlen < sizeof(head));
	s->resp_len = 0;
	m = (size_t)hlen + blen <= sp_tcp_send_space(lg->tcp, s->tcb)
		? put_chain(lg->pool, head, (size_t)hlen, lg->body, blen)
		: NULL;
	if (m == NULL) {
		/* a fresh keep-alive connection has room for one request: the pool is dry */
		sp_tcp_abort(lg->tcp, s->tcb); /* counted by lg_closed */
		return false;
	}
	SP_VERIFY(sp_tcp_send(lg->tcp, s->tcb, m) == 0);
	return true;
}

/* The decimal after needle in [p, end), or -1. */
static long
put_number_after(const char *p, const char *end, const char *needle, bool icase)
{
	size_t n = strlen(needle);
	long v = -1;

	for (; p + n <= end; p++) {
		if ((icase ? strncasecmp(p, needle, n) : strncmp(p, needle, n)) == 0) {
			p += n;
			while (p < end && *p == ' ') {
				p++;
			}
			for (v = 0; p < end && *p >= '0' && *p <= '9' && v < 100000000; p++) {
				v = v * 10 + (*p - '0');
			}
			return v;
		}
	}
	return -1;
}

void
sp_lg_put_recv(struct lg_slot *s, struct rte_mbuf *chain)
{
	struct sp_loadgen *lg = s->lg;
	struct sp_lcore *lc = lg_lc(s->lg);
	uint32_t records = lg->conf.records;
	const char *hend;
	long clen, failed;
	int status;

	for (struct rte_mbuf *m = chain; m != NULL; m = m->next) {
		uint32_t n = SP_MIN((uint32_t)m->data_len, SP_LOADGEN_RESP_MAX - 1 - s->resp_len);

		memcpy(s->resp + s->resp_len, rte_pktmbuf_mtod(m, const char *), n);
		s->resp_len += n;
	}
	rte_pktmbuf_free(chain);
	s->resp[s->resp_len] = '\0';
	hend = strstr(s->resp, "\r\n\r\n");
	if (hend == NULL) {
		if (s->resp_len == SP_LOADGEN_RESP_MAX - 1) {
			sp_tcp_abort(lg->tcp, s->tcb); /* no head is this long: counted by closed */
		}
		return;
	}
	hend += 4;
	clen = put_number_after(s->resp, hend, "\r\ncontent-length:", true);
	if (clen < 0 || (size_t)(hend - s->resp) + (size_t)clen >= SP_LOADGEN_RESP_MAX) {
		sp_tcp_abort(lg->tcp, s->tcb); /* counted by lg_closed */
		return;
	}
	if (s->resp + s->resp_len < hend + clen) {
		return; /* more of the body to come */
	}
	status =
	    s->resp_len > 12 ? (int)put_number_after(s->resp, s->resp + 12, "HTTP/1.1", false) : -1;
	failed = status == 200
		     ? put_number_after(hend, hend + clen, "\"FailedRecordCount\":", false)
		     : -1;
	if (failed < 0 || failed > (long)records) {
		lc->cnt.lg_errors++;
		lc->cnt.lg_records_failed += records;
	} else {
		lc->cnt.lg_records_acked += records - (uint32_t)failed;
		lc->cnt.lg_records_failed += (uint64_t)failed;
		lc->cnt.lg_transactions++;
	}
	if (lg->conf.gap_ms != 0) {
		s->due = true; /* sp_loadgen_poll sends it */
		s->next_ms = lg->tcp->now_ms + lg->conf.gap_ms;
		return;
	}
	(void)sp_lg_put_request(s);
}
