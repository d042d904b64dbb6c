#!/usr/bin/env bash
# Long crash run for durable storage (not part of CI): tests/integration/test_store_crash.py
# with CYCLES kill -9 cycles under real clients instead of CI's 3, then its one-line summary
# ("store-crash: ..." with acked, unacked seen and lost, cycles, seed).
#
#   tools/soak/store-crash.sh [CYCLES]
#
# CYCLES defaults to 50 (about 10 s each). Bounded: the run gets SOAK_DEADLINE_S (default
# 1800 s), then it is stopped and its instance removed. SPATE_CRASH_PRODUCERS, SPATE_CRASH_SEED
# and SPATE_CRASH_COLD_READS pass through to the test; SPATE_BUILD_DIR as for tools/spate-dev.
# The full pytest output stays in a log file whose path is printed at the end.
set -euo pipefail
REPO=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
CYCLES=${1:-50}
DEADLINE=${SOAK_DEADLINE_S:-1800}
# the name the test's fresh_name("c") fixture gives its instance
NAME=spt-itc
DEV="$REPO/tools/spate-dev"
PY=/usr/bin/python3
LOG=$(mktemp "${TMPDIR:-/tmp}/store-crash.XXXXXX.log")

if ! [[ "$CYCLES" =~ ^[1-9][0-9]*$ ]]; then
	echo "CYCLES must be a number >= 1" >&2
	exit 2
fi

# the fixture purges the instance itself; this covers a run stopped by the deadline
cleanup() { bash "$DEV" down --name "$NAME" --purge >/dev/null 2>&1 || true; }
trap cleanup EXIT

rc=0
(cd "$REPO/tests/integration" &&
	SPATE_CRASH_CYCLES=$CYCLES timeout --kill-after=30 "$DEADLINE" \
		"$PY" -m pytest -q -s -p no:cacheprovider test_store_crash.py) >"$LOG" 2>&1 || rc=$?
if ! grep '^store-crash:' "$LOG"; then
	echo "store-crash: no summary (exit $rc$( ((rc == 124)) && echo ", deadline ${DEADLINE}s"))"
fi
tail -n 1 "$LOG"
echo "log: $LOG"
exit "$rc"
