/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The sender's SACK scoreboard (RFC 6675 4): Update(), IsLost(), SetPipe() and NextSeg()
 * rules 1 and 3 over a fixed sorted array of SACKed ranges (tcp_sack.h). Invariant: ranges
 * are sorted, disjoint and never adjacent (touching ranges are merged), and all lie inside
 * [SND.UNA, SND.MAX]. Every operation is O(SP_SACK_SB_MAX). Runs on the owning worker.
 */
#include <string.h>

#include <spate/assert.h>
#include <spate/compiler.h>

#include "tcp_sack.h"
#include "tcp_seq.h"

static void
sack_remove(struct sp_sack_sb *sb, unsigned i, unsigned n)
{
	SP_VERIFY(i + n <= sb->nb);
	memmove(&sb->r[i], &sb->r[i + n], (sb->nb - i - n) * sizeof(sb->r[0]));
	sb->nb = (uint8_t)(sb->nb - n);
}

/* Merge [l, r) into the board. Returns the bytes that were not SACKed before. */
static uint32_t
sack_insert(struct sp_sack_sb *sb, uint32_t l, uint32_t r, uint8_t *dropped)
{
	uint32_t newly = r - l;
	unsigned i = 0, j;

	while (i < sb->nb && sp_seq_lt(sb->r[i].right, l)) {
		i++;
	}
	/* Ranges i..j-1 overlap or touch [l, r): they merge into one. */
	for (j = i; j < sb->nb && sp_seq_leq(sb->r[j].left, r); j++) {
		uint32_t ov_l = sp_seq_max(l, sb->r[j].left);
		uint32_t ov_r = sp_seq_min(r, sb->r[j].right);

		if (sp_seq_lt(ov_l, ov_r)) {
			newly -= ov_r - ov_l;
		}
	}
	if (j > i) {
		sb->r[i].left = sp_seq_min(l, sb->r[i].left);
		sb->r[i].right = sp_seq_max(r, sb->r[j - 1].right);
		sack_remove(sb, i + 1, j - i - 1);
		return newly;
	}
	if (sb->nb == SP_SACK_SB_MAX) {
		(*dropped)++;
		if (i == 0) {
			return 0; /* the newcomer is the lowest range: it is the one forgotten */
		}
		sack_remove(sb, 0, 1);
		i--;
	}
	memmove(&sb->r[i + 1], &sb->r[i], (sb->nb - i) * sizeof(sb->r[0]));
	sb->r[i].left = l;
	sb->r[i].right = r;
	sb->nb++;
	return newly;
}

void
sp_sack_sb_ack(struct sp_sack_sb *sb, uint32_t una)
{
	unsigned n = 0;

	while (n < sb->nb && sp_seq_leq(sb->r[n].right, una)) {
		n++;
	}
	sack_remove(sb, 0, n);
	if (sb->nb > 0 && sp_seq_lt(sb->r[0].left, una)) {
		sb->r[0].left = una;
	}
}

/*
 * RFC 2883 4: the first block is a D-SACK when it lies at or below the cumulative ACK, or
 * inside the second block. It reports a duplicate, not new data: never recorded.
 */
static bool
sack_is_dsack(const uint32_t (*blk)[2], unsigned nb, uint32_t una)
{
	if (sp_seq_leq(blk[0][1], una)) {
		return true;
	}
	return nb >= 2 && sp_seq_geq(blk[0][0], blk[1][0]) && sp_seq_leq(blk[0][1], blk[1][1]);
}

void
sp_sack_sb_update(struct sp_sack_sb *sb, const uint32_t (*blk)[2], unsigned nb, uint32_t una,
		  uint32_t snd_max, struct sp_sack_update *out)
{
	memset(out, 0, sizeof(*out));
	SP_VERIFY(nb <= SP_SACK_BLOCKS_IN_MAX);
	SP_VERIFY(sp_seq_leq(una, snd_max));
	sp_sack_sb_ack(sb, una);
	for (unsigned k = 0; k < nb; k++) {
		uint32_t l = blk[k][0], r = blk[k][1];

		if (k == 0 && sp_seq_lt(l, r) && sack_is_dsack(blk, nb, una)) {
			out->dsack = 1;
			continue;
		}
		/* Reversed, empty, or claiming bytes never sent: a broken or hostile peer. */
		if (!sp_seq_lt(l, r) || sp_seq_gt(r, snd_max) || sp_seq_leq(r, una)) {
			out->bad++;
			continue;
		}
		if (sp_seq_lt(l, una)) {
			l = una;
		}
		out->newly_sacked += sack_insert(sb, l, r, &out->dropped);
	}
	SP_ASSERT(sp_sack_sb_valid(sb, una, snd_max));
}

bool
sp_sack_is_sacked(const struct sp_sack_sb *sb, uint32_t seq)
{
	for (unsigned i = 0; i < sb->nb; i++) {
		if (sp_seq_in(seq, sb->r[i].left, sb->r[i].right)) {
			return true;
		}
	}
	return false;
}

bool
sp_sack_is_lost(const struct sp_sack_sb *sb, uint32_t seq, uint32_t smss, uint32_t dupthresh)
{
	uint32_t ranges = 0, bytes = 0;

	SP_VERIFY(dupthresh >= 1);
	for (unsigned i = sb->nb; i-- > 0;) {
		const struct sp_sack_range *x = &sb->r[i];

		if (sp_seq_leq(x->right, seq)) {
			break;
		}
		ranges++;
		bytes += x->right - sp_seq_max(x->left, seq + 1);
	}
	return ranges >= dupthresh || bytes > (dupthresh - 1) * smss;
}

/*
 * Within one hole (unSACKed bytes between two ranges) IsLost() has one answer: the SACKed
 * ranges and bytes above every byte of the hole are the same. So SetPipe() and NextSeg()
 * walk holes, not bytes.
 */
uint32_t
sp_sack_pipe(const struct sp_sack_sb *sb, uint32_t una, uint32_t snd_max, uint32_t hi_rxt,
	     uint32_t smss, uint32_t dupthresh)
{
	uint32_t pipe = 0, s = una;
	unsigned i = 0;

	SP_VERIFY(sp_seq_leq(una, snd_max));
	while (sp_seq_lt(s, snd_max)) {
		uint32_t e = i < sb->nb ? sb->r[i].left : snd_max;

		if (sp_seq_lt(s, e)) {
			if (!sp_sack_is_lost(sb, s, smss, dupthresh)) {
				pipe += e - s; /* (a) not lost: still in the network */
			}
			if (sp_seq_lt(s, hi_rxt)) {
				pipe += sp_seq_min(e, hi_rxt) - s; /* (b) retransmitted */
			}
		}
		if (i >= sb->nb) {
			break;
		}
		s = sb->r[i].right;
		i++;
	}
	return pipe;
}

bool
sp_sack_next_hole(const struct sp_sack_sb *sb, uint32_t una, uint32_t hi_rxt, uint32_t smss,
		  uint32_t dupthresh, bool need_lost, uint32_t *seq, uint32_t *end)
{
	uint32_t s = sp_seq_max(una, hi_rxt);

	SP_VERIFY(smss > 0);
	for (unsigned i = 0; i < sb->nb; i++) {
		const struct sp_sack_range *x = &sb->r[i];

		if (sp_seq_leq(x->left, s)) {
			s = sp_seq_max(s, x->right);
			continue;
		}
		/* [s, x->left) is a hole below SACKed data (rule 1.b / 3). */
		if (!need_lost || sp_sack_is_lost(sb, s, smss, dupthresh)) {
			*seq = s;
			*end = x->left - s > smss ? s + smss : x->left;
			return true;
		}
		return false; /* holes above are lost only if this one is: IsLost is monotone */
	}
	return false;
}

uint32_t
sp_sack_skip(const struct sp_sack_sb *sb, uint32_t seq)
{
	for (unsigned i = 0; i < sb->nb; i++) {
		if (sp_seq_in(seq, sb->r[i].left, sb->r[i].right)) {
			return sb->r[i].right;
		}
	}
	return seq;
}

uint32_t
sp_sack_next_sacked(const struct sp_sack_sb *sb, uint32_t seq, uint32_t limit)
{
	for (unsigned i = 0; i < sb->nb; i++) {
		if (sp_seq_gt(sb->r[i].left, seq)) {
			return sp_seq_min(sb->r[i].left, limit);
		}
	}
	return limit;
}

uint32_t
sp_sack_bytes_in(const struct sp_sack_sb *sb, uint32_t a, uint32_t b)
{
	uint32_t n = 0;

	for (unsigned i = 0; i < sb->nb && sp_seq_lt(a, b); i++) {
		uint32_t l = sp_seq_max(a, sb->r[i].left), r = sp_seq_min(b, sb->r[i].right);

		if (sp_seq_lt(l, r)) {
			n += r - l;
		}
	}
	return n;
}

bool
sp_sack_sb_valid(const struct sp_sack_sb *sb, uint32_t una, uint32_t snd_max)
{
	if (sb->nb > SP_SACK_SB_MAX) {
		return false;
	}
	for (unsigned i = 0; i < sb->nb; i++) {
		const struct sp_sack_range *x = &sb->r[i];

		if (!sp_seq_lt(x->left, x->right) || sp_seq_lt(x->left, una) ||
		    sp_seq_gt(x->right, snd_max)) {
			return false;
		}
		if (i > 0 && !sp_seq_lt(sb->r[i - 1].right, x->left)) {
			return false;
		}
	}
	return true;
}
