/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SYN cookies (RFC 4987 3.6): when the half-open connections of a worker reach
 * tcp_syn_backlog, a SYN gets a SYN-ACK whose ISN encodes everything needed to create the
 * connection when the final ACK arrives, and no state is kept. Layout of the ISN:
 *   bits 31..8  24-bit SipHash MAC over (4-tuple, peer ISN, time counter), secret key
 *   bits  7..3  low 5 bits of the time counter (now_ms >> 16: ~65.5 s periods)
 *   bits  2..0  index into a table of MSS values (the largest not above the peer's)
 * A cookie is accepted for the current and the previous period (66 to 131 s old at most).
 * Window scaling, SACK and timestamps are not negotiated on cookie connections (there is
 * no room to remember them): they work, with smaller windows. Cookies are checked only
 * while cookies were sent in the last two periods, so a random ACK cannot open a
 * connection on a worker that is not under a SYN flood. Runs on the owning worker.
 */
#include <string.h>

#include <spate/assert.h>

#include "tcp_internal.h"

#define COOKIE_PERIOD_SHIFT 16 /* ms -> ~65.5 s periods */

static const uint16_t cookie_mss[8] = {88, 536, 1200, 1220, 1300, 1400, 1440, 1460};

struct cookie_input {
	struct sp_tcp_key key;
	uint32_t peer_isn;
	uint32_t period;
};

static uint32_t
cookie_mac(const struct sp_tcp *tcp, const struct sp_tcp_key *key, uint32_t peer_isn,
	   uint32_t period)
{
	struct cookie_input in;

	memset(&in, 0, sizeof(in));
	in.key = *key;
	in.peer_isn = peer_isn;
	in.period = period;
	return (uint32_t)sp_siphash(tcp->cookie_key, &in, sizeof(in)) & 0xffffffu;
}

uint32_t
sp_tcp_cookie_make(struct sp_tcp *tcp, const struct sp_tcp_key *key, uint32_t peer_isn,
		   uint16_t peer_mss, uint16_t *mss_out)
{
	uint32_t period = (uint32_t)(tcp->now_ms >> COOKIE_PERIOD_SHIFT);
	uint32_t idx = 0;

	for (uint32_t i = 0; i < SP_ARRAY_SIZE(cookie_mss); i++) {
		if (cookie_mss[i] <= peer_mss) {
			idx = i;
		}
	}
	*mss_out = cookie_mss[idx];
	tcp->cookies_last_period = period;
	tcp->cookies_used = true;
	return cookie_mac(tcp, key, peer_isn, period) << 8 | (period & 0x1fu) << 3 | idx;
}

bool
sp_tcp_cookie_recent(const struct sp_tcp *tcp)
{
	uint32_t period = (uint32_t)(tcp->now_ms >> COOKIE_PERIOD_SHIFT);

	return tcp->cookies_used && period - tcp->cookies_last_period <= 1;
}

bool
sp_tcp_cookie_check(const struct sp_tcp *tcp, const struct sp_tcp_key *key, uint32_t cookie,
		    uint32_t peer_isn, uint16_t *mss_out)
{
	uint32_t now = (uint32_t)(tcp->now_ms >> COOKIE_PERIOD_SHIFT);

	for (uint32_t age = 0; age <= 1; age++) {
		uint32_t period = now - age;

		if (((cookie >> 3) & 0x1fu) != (period & 0x1fu)) {
			continue;
		}
		if ((cookie >> 8) == cookie_mac(tcp, key, peer_isn, period)) {
			*mss_out = cookie_mss[cookie & 7u];
			return true;
		}
	}
	return false;
}
