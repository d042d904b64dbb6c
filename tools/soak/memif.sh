#!/usr/bin/env bash
# Long memif connect/disconnect run (not part of CI): tests/integration/test_memif.py with
# CYCLES dpdk-testpmd sessions instead of CI's 3. Each one connects to the dataplane's memif
# port, floods it for a few seconds and leaves, which unmaps the shared regions under the
# workers' polls (the race the interrupt-thread gate closes, docs/DESIGN.md). Prints one line
# per cycle, the gate's figures, and the verdict.
#
#   tools/soak/memif.sh [CYCLES]
#
# CYCLES defaults to 50 (about 6 s each). Bounded: the run gets SOAK_DEADLINE_S (default
# 1800 s), then it is stopped and its instance removed (the test's fixture removes it
# otherwise). SPATE_BUILD_DIR as for tools/spate-dev. The full pytest output stays in a log
# file whose path is printed at the end.
set -euo pipefail
REPO=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
CYCLES=${1:-50}
DEADLINE=${SOAK_DEADLINE_S:-1800}
DEV="$REPO/tools/spate-dev"
PY=/usr/bin/python3
LOG=$(mktemp "${TMPDIR:-/tmp}/memif.XXXXXX.log")

if ! [[ "$CYCLES" =~ ^[1-9][0-9]*$ ]]; then
	echo "CYCLES must be a number >= 1" >&2
	exit 2
fi

# the test's instance name (conftest fresh_name("m")); covers a run stopped by the deadline
cleanup() { bash "$DEV" down --name spt-itm --purge >/dev/null 2>&1 || true; }
trap cleanup EXIT

rc=0
(cd "$REPO/tests/integration" &&
	SPATE_MEMIF_CYCLES=$CYCLES timeout --kill-after=30 "$DEADLINE" \
		"$PY" -m pytest -q -s -p no:cacheprovider \
		test_memif.py::test_memif_frames_from_another_dpdk_process) >"$LOG" 2>&1 || rc=$?
grep -E '^(cycle [0-9]+:|intr_gate )' "$LOG" || true
echo "memif: $(grep -c '^cycle [0-9]*:' "$LOG") of $CYCLES cycles done (exit $rc$( ((rc == 124)) && echo ", deadline ${DEADLINE}s"))"
tail -n 1 "$LOG"
echo "log: $LOG"
exit "$rc"
