/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The sender's SACK scoreboard (RFC 6675 §3-4, RFC 2018, RFC 2883). Each TCB embeds one
 * struct sp_sack_sb: a small fixed, sorted array of disjoint SACKed ranges above SND.UNA,
 * merged on insert; no allocation, no DPDK. The functions are the RFC's Update(), IsLost(),
 * SetPipe() and the retransmission rules of NextSeg() (rules 1 and 3); rule 2 (new data) and
 * rule 4 (rescue) need the send queue and live in tcp_output.c. Touched only by the worker
 * that owns the connection.
 *
 * Sequence ranges are half-open [left, right); "hi_rxt" is the end (exclusive) of the highest
 * byte retransmitted in this recovery (RFC 6675 HighRxt + 1).
 */
#ifndef SP_TCP_SACK_H
#define SP_TCP_SACK_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Ranges remembered per connection. A receiver under 5 % loss with a 256 KiB window has
 * about 9 holes; beyond the bound the lowest range is forgotten, which only costs a needless
 * retransmission of data the receiver already holds (never a wrong "SACKed" mark).
 */
#define SP_SACK_SB_MAX        16
#define SP_SACK_BLOCKS_IN_MAX 4 /* blocks one ACK can carry (40 option bytes) */

struct sp_sack_range {
	uint32_t left;
	uint32_t right;
};

/* Per-connection scoreboard, embedded in the TCB. All-zero bytes are a valid empty board. */
struct sp_sack_sb {
	struct sp_sack_range r[SP_SACK_SB_MAX]; /* sorted, disjoint, non-adjacent */
	uint8_t nb;
};

/* What one ACK's SACK option did to the board (for counters and the DupAck rule). */
struct sp_sack_update {
	uint32_t newly_sacked; /* bytes not SACKed before */
	uint8_t dsack;         /* 1 if the first block was a D-SACK (RFC 2883 4) */
	uint8_t bad;           /* blocks ignored: empty, reversed, or beyond snd_max */
	uint8_t dropped;       /* ranges forgotten because the board was full */
};

static inline void
sp_sack_sb_reset(struct sp_sack_sb *sb)
{
	sb->nb = 0;
}

static inline bool
sp_sack_sb_empty(const struct sp_sack_sb *sb)
{
	return sb->nb == 0;
}

/* Right edge of the highest SACKed range; only meaningful when the board is not empty. */
static inline uint32_t
sp_sack_sb_high(const struct sp_sack_sb *sb)
{
	return sb->r[sb->nb - 1].right;
}

/*
 * RFC 6675 Update(): record the nb blocks blk[i] = {left, right} of one ACK whose cumulative
 * acknowledgment is una (already validated: una <= snd_max). Blocks are validated first: a
 * D-SACK first block (below una, or inside the second block) is counted and skipped; empty or
 * reversed blocks and blocks reaching beyond snd_max are ignored; blocks straddling una are
 * clipped to it. Also forgets everything below una.
 */
void sp_sack_sb_update(struct sp_sack_sb *sb, const uint32_t (*blk)[2], unsigned nb, uint32_t una,
		       uint32_t snd_max, struct sp_sack_update *out);

/* Forget ranges (or their parts) below una: the cumulative ACK moved. */
void sp_sack_sb_ack(struct sp_sack_sb *sb, uint32_t una);

/* Is seq (inside [una, snd_max)) covered by a SACKed range? */
bool sp_sack_is_sacked(const struct sp_sack_sb *sb, uint32_t seq);

/*
 * RFC 6675 IsLost(seq): dupthresh discontiguous SACKed ranges lie above seq, or more than
 * (dupthresh - 1) * smss SACKed bytes do.
 */
bool sp_sack_is_lost(const struct sp_sack_sb *sb, uint32_t seq, uint32_t smss, uint32_t dupthresh);

/*
 * RFC 6675 SetPipe(): bytes of [una, snd_max) not SACKed and not lost, plus bytes below
 * hi_rxt not SACKed (retransmitted and presumably still in the network).
 */
uint32_t sp_sack_pipe(const struct sp_sack_sb *sb, uint32_t una, uint32_t snd_max, uint32_t hi_rxt,
		      uint32_t smss, uint32_t dupthresh);

/*
 * NextSeg() rules 1 and 3 (RFC 6675 4): the first unSACKed byte S2 >= max(una, hi_rxt) that
 * lies below the highest SACKed byte and (need_lost) IsLost(S2). On success stores the range
 * [*seq, *end) of at most smss bytes, not reaching into SACKed data, and returns true.
 */
bool sp_sack_next_hole(const struct sp_sack_sb *sb, uint32_t una, uint32_t hi_rxt, uint32_t smss,
		       uint32_t dupthresh, bool need_lost, uint32_t *seq, uint32_t *end);

/* SACKed range containing seq: its right edge, or seq itself if seq is not SACKed. */
uint32_t sp_sack_skip(const struct sp_sack_sb *sb, uint32_t seq);

/* Left edge of the first SACKed range above seq, or limit if there is none below limit. */
uint32_t sp_sack_next_sacked(const struct sp_sack_sb *sb, uint32_t seq, uint32_t limit);

/* SACKed bytes inside [a, b). */
uint32_t sp_sack_bytes_in(const struct sp_sack_sb *sb, uint32_t a, uint32_t b);

/* Debug check: sorted, disjoint, non-empty ranges inside [una, snd_max]. */
bool sp_sack_sb_valid(const struct sp_sack_sb *sb, uint32_t una, uint32_t snd_max);

#endif /* SP_TCP_SACK_H */
