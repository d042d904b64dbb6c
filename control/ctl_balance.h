/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shard placement by measured load.
 *
 * ctl_balance.c (no catalog, no sockets): the load sample kept from the dataplane's per-shard
 * counters, the choice of a worker for a new shard, and the balance planner.
 * ctl_move.c (the catalog side): `shard_move`'s checks and transaction, the worker figures
 * read from the catalog, and a balance run (planned from the latest sample, performed as
 * moves, optionally every balance_interval_s).
 *
 * The load of a shard is records/s + bytes/s / SP_CTL_LOAD_BYTES_PER_RECORD over the interval
 * between the last two samples. A worker's cost has a part per record (parse, hash, sequence
 * number, index, the reply) and a part per byte (copy, checksum, store write); weighing 1 KiB
 * like one record puts a shard of small records and a shard of large ones on one scale, and it
 * is the ratio of Kinesis's own per-shard limits (1000 records/s, 1 MiB/s): a shard at its full
 * AWS capacity in either dimension scores about 1000.
 */
#ifndef SPATE_CONTROL_CTL_BALANCE_H
#define SPATE_CONTROL_CTL_BALANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <spate/compiler.h>
#include <spate/kinesis.h>

struct sp_cat;
struct sp_ctl_kctx;

/* Bytes that weigh as much as one record in a shard's load. */
#define SP_CTL_LOAD_BYTES_PER_RECORD 1024.0

/* Rates are taken over at least this long (a shorter interval keeps the previous rates). */
#define SP_CTL_LOAD_MIN_INTERVAL_MS 1000

/* shard_balance: moves per run by default, and at most. */
#define SP_CTL_BALANCE_MAX_MOVES_DEFAULT 8u
#define SP_CTL_BALANCE_MAX_MOVES 256u

/*
 * Automatic balancing (balance_interval_s > 0) runs when the most loaded worker carries more
 * than SP_CTL_BALANCE_RATIO times the least loaded one's load and the difference is at least
 * SP_CTL_BALANCE_MIN_SPREAD (a Kinesis shard's full write capacity in load units): smaller
 * differences are not worth a move.
 */
#define SP_CTL_BALANCE_RATIO 1.5
#define SP_CTL_BALANCE_MIN_SPREAD 1000.0
#define SP_CTL_BALANCE_INTERVAL_MAX_S 86400u

/* The measured load: what the last two samples of the dataplane's shard counters tell. */
struct sp_ctl_load {
	json_t *prev;	/* "stream/index" -> [records, bytes, ms] of the latest sample */
	json_t *rates;	/* "stream/index" -> [records_per_s, bytes_per_s], open shards only */
	int64_t at_ms;	/* when the rates were computed (sp_ctl_load_sample's now_ms); 0: never */
	uint64_t samples; /* samples taken */
};

/* Free what l holds (l itself is the caller's). */
void sp_ctl_load_fini(struct sp_ctl_load *l);

/*
 * Take one sample: `dataplane` is the "dataplane" object of a stats message, whose
 * api.shards rows are {"stream","shard","open","records","bytes",..} with counters since the
 * ring was created. now_ms is any millisecond clock that only grows. Each open shard seen in
 * this sample and in the previous one, at least SP_CTL_LOAD_MIN_INTERVAL_MS earlier and with
 * counters that did not go back (a restarted dataplane), gets its rates; the rates of every
 * other shard are dropped, but a sample too soon after the previous one changes nothing.
 * Returns 0 or -ENOMEM.
 */
SP_MUST_CHECK int sp_ctl_load_sample(struct sp_ctl_load *l, const json_t *dataplane,
				     int64_t now_ms);

/* A shard's rates; false (and zeros) when unknown or l is NULL. */
bool sp_ctl_load_rates(const struct sp_ctl_load *l, const char *stream, int64_t index,
		       double *records_per_s, double *bytes_per_s);

/* A shard's load (records/s + bytes/s / SP_CTL_LOAD_BYTES_PER_RECORD); 0 when unknown. */
double sp_ctl_load_of(const struct sp_ctl_load *l, const char *stream, int64_t index);

/*
 * The worker for a new shard among [0, n): the least load, then the fewest open shards, then
 * the lowest index. The chosen worker's load grows by `expected` (what the new shard is
 * expected to carry) and its count by one, so a run of picks spreads. With all loads equal
 * (no sample yet) this is the fewest-open-shards choice.
 */
unsigned sp_ctl_owner_pick(double *loads, int64_t *counts, unsigned n, double expected);

/* One open shard as the planner sees it. */
struct sp_ctl_bal_shard {
	double load;
	uint64_t past; /* bit w: worker w is a past owner (never a target) */
	int owner;     /* outside [0, workers): counted nowhere, never moved */
	bool movable;  /* false: counted, never moved (stream not ACTIVE, or still moving) */
};

struct sp_ctl_bal_move {
	size_t shard; /* index into the planner's shards */
	int from;
	int to;
	double load;
};

/*
 * Plan at most max_moves moves of shards[0..n) over `workers` workers (1..64), into
 * moves[0..max_moves). Each step looks at the most loaded worker and the least loaded one
 * (then the next pairs, while the first can move nothing): of the movable shards of the first
 * that may go to the second, the one whose move leaves the smallest max-min spread over all
 * workers (ties: the smallest gap left between the two) moves -- only if it narrows the gap
 * between the two, so the spread never grows and the plan ends. When every load is 0 the plan
 * balances shard counts instead: it moves the first movable shard while the two counts differ
 * by more than one. A shard moves at most once per plan. Returns the number of moves, or
 * -ENOMEM.
 */
SP_MUST_CHECK int sp_ctl_balance_plan(const struct sp_ctl_bal_shard *shards, size_t n,
				      unsigned workers, size_t max_moves,
				      struct sp_ctl_bal_move *moves);

/* ---- ctl_move.c: the catalog side ---- */

/*
 * Per worker in [0, n): the measured load (`load` may be NULL) and the number of open shards,
 * over every open shard but those of stream `except` (NULL: none). *mean (may be NULL) gets
 * the average load of those open shards (0 when none). Returns 0 or -EIO.
 */
SP_MUST_CHECK int sp_ctl_worker_loads(struct sp_cat *cat, const struct sp_ctl_load *load,
				      const char *except, unsigned n, double *loads,
				      int64_t *counts, double *mean);

/* Why a move was refused: an SP_CTL_E_* code and the operator's message. */
struct sp_ctl_move_err {
	int code;
	char msg[256];
};

/* A move as shard_move asks for it and reports it. */
struct sp_ctl_move {
	const char *stream;
	int64_t index;
	int to;
	/* out */
	char shard_id[SP_K_SHARD_ID_MAX_CHARS + 1];
	int from;
	bool moved;		 /* false: `to` already owns it, nothing changed */
	int64_t catalog_version; /* the move's, or the current one when nothing moved */
};

/*
 * shard_move's checks, in order (ctx gives the dataplane's workers, its applied version and
 * the time; n_workers 0 means no dataplane): stream exists, shard exists and is open, stream
 * ACTIVE, 0 <= to < workers, `to` not a past owner, no move of the shard the dataplane has not
 * applied yet; then `to` == owner (moved false) or the move's transaction. Pushes nothing.
 * Returns 0, or -1 with *err filled (a catalog failure is SP_CTL_E_INTERNAL).
 */
int sp_ctl_move_shard(struct sp_cat *cat, const struct sp_ctl_kctx *ctx, struct sp_ctl_move *mv,
		      struct sp_ctl_move_err *err);

/*
 * Plan a balance from the latest sample (ctx->load; without one every load is 0 and shard
 * counts are balanced) and, unless dry_run, perform each move as sp_ctl_move_shard() does.
 * *report gets {"moves":[{"stream","shard","from","to","load"}],
 * "workers":[{"worker","shards","load"}],"dry_run":b}, workers as the moves leave them.
 * Returns the number of moves performed (> 0: push the catalog), or a negative errno.
 */
SP_MUST_CHECK int sp_ctl_balance_run(struct sp_cat *cat, const struct sp_ctl_kctx *ctx,
				     bool dry_run, size_t max_moves, json_t **report);

/*
 * Automatic balancing after a sample: when interval_s > 0, at least interval_s after *last_ms
 * (updated when it runs), and the loads are uneven (SP_CTL_BALANCE_RATIO and
 * SP_CTL_BALANCE_MIN_SPREAD), run a balance of SP_CTL_BALANCE_MAX_MOVES_DEFAULT moves, each
 * logged. now_ms is the clock of *last_ms. Returns the moves performed (> 0: push) or a
 * negative errno.
 */
SP_MUST_CHECK int sp_ctl_balance_auto(struct sp_cat *cat, const struct sp_ctl_kctx *ctx,
				      unsigned interval_s, int64_t now_ms, int64_t *last_ms);

#endif /* SPATE_CONTROL_CTL_BALANCE_H */
