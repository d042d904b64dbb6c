/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP option parsing (RFC 9293 3.2): MSS (RFC 9293 3.7.1), window scale and timestamps
 * (RFC 7323), SACK-permitted and SACK blocks (RFC 2018). Options that only make sense on a
 * SYN (MSS, window scale, SACK-permitted) are ignored elsewhere (RFC 7323 2.2, RFC 2018 2).
 * Unknown options are skipped by their length. A malformed list (a length below 2 or past
 * the end, or a known option with the wrong length) makes the whole segment invalid.
 * Runs on the worker that received the segment; pure function of its input.
 */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>

#include <spate/assert.h>

#include "tcp_internal.h"

enum {
	OPT_EOL = 0,
	OPT_NOP = 1,
	OPT_MSS = 2,
	OPT_WS = 3,
	OPT_SACK_PERM = 4,
	OPT_SACK = 5,
	OPT_TS = 8,
};

static uint32_t
opt_be32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return rte_be_to_cpu_32(v);
}

static int
opt_one(uint8_t kind, const uint8_t *p, unsigned olen, bool syn, struct sp_tcp_opts *o)
{
	switch (kind) {
	case OPT_MSS:
		if (olen != 4) {
			return -EINVAL;
		}
		if (syn) {
			o->mss_ok = true;
			o->mss = (uint16_t)(p[2] << 8 | p[3]);
		}
		return 0;
	case OPT_WS:
		if (olen != 3) {
			return -EINVAL;
		}
		if (syn) {
			o->ws_ok = true;
			/* RFC 7323 2.3: a shift above 14 is used as 14. */
			o->wscale = p[2] > SP_TCP_WSCALE_MAX ? SP_TCP_WSCALE_MAX : p[2];
		}
		return 0;
	case OPT_SACK_PERM:
		if (olen != 2) {
			return -EINVAL;
		}
		o->sack_perm = o->sack_perm || syn;
		return 0;
	case OPT_TS:
		if (olen != 10) {
			return -EINVAL;
		}
		o->ts_present = true;
		o->ts_val = opt_be32(p + 2);
		o->ts_ecr = opt_be32(p + 6);
		return 0;
	case OPT_SACK:
		if (olen < 10 || (olen - 2) % 8 != 0) {
			return -EINVAL;
		}
		o->nb_sack = 0;
		for (unsigned off = 2; off < olen && o->nb_sack < SP_TCP_SACK_BLOCKS_MAX;
		     off += 8) {
			o->sack[o->nb_sack][0] = opt_be32(p + off);
			o->sack[o->nb_sack][1] = opt_be32(p + off + 4);
			o->nb_sack++;
		}
		return 0;
	default:
		return 0; /* unknown: skipped */
	}
}

int
sp_tcp_opts_parse(const uint8_t *p, unsigned len, bool syn, struct sp_tcp_opts *o)
{
	unsigned i = 0;

	memset(o, 0, sizeof(*o));
	SP_VERIFY(len <= SP_TCP_OPT_MAX_BYTES);
	while (i < len) {
		uint8_t kind = p[i];
		unsigned olen;
		int rc;

		if (kind == OPT_EOL) {
			break;
		}
		if (kind == OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= len) {
			return -EINVAL;
		}
		olen = p[i + 1];
		if (olen < 2 || i + olen > len) {
			return -EINVAL;
		}
		rc = opt_one(kind, p + i, olen, syn, o);
		if (rc != 0) {
			return rc;
		}
		i += olen;
	}
	return 0;
}
