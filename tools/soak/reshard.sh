#!/usr/bin/env bash
# Long live-resharding run (not part of CI): tests/integration/test_reshard_live.py with OPS
# random SplitShard / MergeShards / UpdateShardCount operations under load instead of CI's 10,
# and beside them SPATE_RESHARD_MOVES (default 20) moves of open shards between the workers,
# both variants (plain, and spate-control SIGKILLed during operations), then each variant's
# one-line summary ("reshard-live: ..." with records acked and read, operations done, kills,
# seconds) and the verdict.
#
#   tools/soak/reshard.sh [OPS]
#
# OPS defaults to 50 (a few seconds each). Bounded: the run gets SOAK_DEADLINE_S (default
# 3600 s), then it is stopped and its instance removed. SPATE_RESHARD_PRODUCERS,
# SPATE_RESHARD_SEED and SPATE_RESHARD_MAX_OPEN (default here 12) pass through to the test;
# SPATE_BUILD_DIR as for tools/spate-dev. Instance SOAK_NAME (default spt-soak-rs). The full
# pytest output (with the operation logs) stays in a log file whose path is printed at the end.
set -euo pipefail
REPO=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
OPS=${1:-50}
DEADLINE=${SOAK_DEADLINE_S:-3600}
NAME=${SOAK_NAME:-spt-soak-rs}
DEV="$REPO/tools/spate-dev"
PY=/usr/bin/python3
LOG=$(mktemp "${TMPDIR:-/tmp}/reshard.XXXXXX.log")

if ! [[ "$OPS" =~ ^[1-9][0-9]*$ ]]; then
	echo "OPS must be a number >= 1" >&2
	exit 2
fi

# the module fixture purges the instance itself; this covers a run stopped by the deadline
cleanup() { bash "$DEV" down --name "$NAME" --purge >/dev/null 2>&1 || true; }
trap cleanup EXIT

# 3 GiB of hugepages: a 50-operation run made 201 shards (at most 12 open) in it.
rc=0
(cd "$REPO/tests/integration" &&
	SPATE_RESHARD_OPS=$OPS SPATE_RESHARD_NAME=$NAME \
		SPATE_RESHARD_MOVES=${SPATE_RESHARD_MOVES:-20} \
		SPATE_RESHARD_MAX_OPEN=${SPATE_RESHARD_MAX_OPEN:-12} \
		SPATE_RESHARD_MEM_MB=${SPATE_RESHARD_MEM_MB:-3072} \
		timeout --kill-after=30 "$DEADLINE" \
		"$PY" -m pytest -q -s -p no:cacheprovider test_reshard_live.py::test_reshard_live \
		test_reshard_live.py::test_reshard_live_control_kill) \
	>"$LOG" 2>&1 || rc=$?
if ! grep '^reshard-live:' "$LOG"; then
	echo "reshard-live: no summary (exit $rc$( ((rc == 124)) && echo ", deadline ${DEADLINE}s"))"
fi
tail -n 1 "$LOG"
echo "log: $LOG"
exit "$rc"
