/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TLS session-ticket keys, owned by spate-control (docs/internals/tls.md, "Session tickets").
 *
 * Control draws the keys (RAND_bytes), keeps them in <data_dir>/tls_tickets (mode 0600,
 * written to a temporary file, fsynced and renamed over the old one, so a crash leaves the old
 * keys or the new ones, never a mix), and hands them to the dataplane in a tls_keys channel
 * message after every config and after every rotation. Every rotate_s seconds the current key
 * is demoted to previous (decrypt only) and a new current key is drawn; a key therefore opens
 * tickets for two periods, and the dataplane gives tickets a lifetime of one period, so every
 * ticket it issued stays openable until it expires. A restart of either process keeps the keys
 * (and the time of the last rotation: a control that was down for more than a period catches
 * up at start).
 *
 * All on spate-control's single thread. Allocates only in sp_ctl_tickets_msg().
 */
#ifndef SPATE_CONTROL_CTL_TICKETS_H
#define SPATE_CONTROL_CTL_TICKETS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <spate/chan_proto.h>
#include <spate/compiler.h>
#include <spate/limits.h>

#define SP_CTL_TICKETS_FILE_NAME   "tls_tickets"
#define SP_CTL_TICKET_ROTATE_S_DEF 3600u   /* --tls-ticket-rotate-s default: an hour */
#define SP_CTL_TICKET_ROTATE_S_MIN 1u      /* tests rotate fast */
#define SP_CTL_TICKET_ROTATE_S_MAX 604800u /* a TLS 1.3 ticket lives 7 days at most (RFC 8446) */

struct sp_ctl_tickets {
	uint8_t cur[SP_CHAN_TLS_TICKET_KEY_LEN];  /* seals and opens tickets */
	uint8_t prev[SP_CHAN_TLS_TICKET_KEY_LEN]; /* opens only; valid when has_prev */
	bool has_prev;
	int64_t rotated_s;  /* CLOCK_REALTIME seconds when cur became current (persisted) */
	unsigned rotate_s;  /* the period */
	uint64_t rotations; /* since this process started */
	char path[SP_PATH_MAX_BYTES];
};

/*
 * Load the keys from path, or draw and write new ones when the file does not exist (or does
 * not parse: logged, the old tickets are lost, nothing else). Rotates at once when the file's
 * keys are a period old or more (two periods or more: both keys are stale, a fresh current key
 * and no previous). Returns 0 or a negative errno (no randomness, the file cannot be written).
 */
int sp_ctl_tickets_open(struct sp_ctl_tickets *t, const char *path, unsigned rotate_s,
			int64_t now_s) SP_MUST_CHECK;

/* Demote the current key, draw a new one and persist both. 0 or a negative errno (unchanged). */
int sp_ctl_tickets_rotate(struct sp_ctl_tickets *t, int64_t now_s) SP_MUST_CHECK;

/* Rotate when a period has passed since the last rotation. 1 rotated, 0 not due, or < 0. */
int sp_ctl_tickets_tick(struct sp_ctl_tickets *t, int64_t now_s) SP_MUST_CHECK;

/* The tls_keys channel message (include/spate/chan_proto.h); NULL when out of memory. */
json_t *sp_ctl_tickets_msg(const struct sp_ctl_tickets *t);

/* Wipe the keys from memory. */
void sp_ctl_tickets_clear(struct sp_ctl_tickets *t);

/* CLOCK_REALTIME seconds. */
int64_t sp_ctl_wall_s(void);

#endif /* SPATE_CONTROL_CTL_TICKETS_H */
