#!/usr/bin/env bash
# Long impaired-link TCP runs (not part of CI): for each impairment profile, bring up an
# instance with the impairment stage on (fault_* keys), move BYTES through the echo, sink and
# source test services from the kernel's TCP, verify every byte by SHA-256, and print
# seconds, rate and the retransmission counters.
#
#   tools/soak/tcp-impaired.sh [BYTES] [PROFILE...]
#
# BYTES defaults to 1 GiB (the issue's soak size); profiles: loss5 reorder25 dup2 corrupt01
# delay20 all (default: all of them). Bounded: each transfer has a deadline (SOAK_DEADLINE_S,
# default 7200 s); SOAK_WORKLOADS picks among sink source echo (default all three). Uses
# instance name spt-soak (SOAK_NAME) and removes it at the end.
set -euo pipefail
REPO=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
BYTES=${1:-1073741824}
shift || true
PROFILES=("$@")
((${#PROFILES[@]})) || PROFILES=(loss5 reorder25 dup2 corrupt01 delay20 all)
DEADLINE=${SOAK_DEADLINE_S:-7200}
NAME=${SOAK_NAME:-spt-soak} # another name lets two trees soak at once
DEV="$REPO/tools/spate-dev"
PY=/usr/bin/python3

profile_sets() {
	case "$1" in
	loss5) echo "fault_loss_ppm=50000" ;;
	reorder25) echo "fault_reorder_ppm=250000" ;;
	dup2) echo "fault_dup_ppm=20000" ;;
	corrupt01) echo "fault_corrupt_ppm=1000" ;;
	delay20) echo "fault_delay_us=20000 fault_jitter_us=10000" ;;
	all) echo "fault_loss_ppm=50000 fault_reorder_ppm=250000 fault_dup_ppm=20000" \
		"fault_corrupt_ppm=1000 fault_delay_us=20000 fault_jitter_us=10000" ;;
	*) echo "unknown profile $1" >&2; exit 2 ;;
	esac
}

cleanup() { bash "$DEV" down --name "$NAME" --purge >/dev/null 2>&1 || true; }
trap cleanup EXIT

for prof in "${PROFILES[@]}"; do
	sets=(--set test_services=true)
	for kv in $(profile_sets "$prof"); do sets+=(--set "$kv"); done
	cleanup
	out=$(bash "$DEV" up --name "$NAME" --workers 1 "${sets[@]}")
	ip=$(sed -n 's/^ipv4=//p' <<<"$out")
	for wl in ${SOAK_WORKLOADS:-sink source echo}; do
		res=$(bash "$DEV" exec "$NAME" -- timeout "$DEADLINE" "$PY" \
			"$REPO/tests/integration/tcp_client.py" "$wl" "$ip" "$BYTES" 2>&1 | tail -1) ||
			res="{\"ok\": false, \"error\": \"deadline or failure\"}"
		ctr=$(bash "$DEV" status --name "$NAME" --json | "$PY" -c '
import json, sys
c = json.load(sys.stdin)["dataplane"]["counters"]
print(" ".join("%s=%d" % (k, c[k]) for k in ("tcp_retrans_segs", "tcp_rto_timeouts",
      "tcp_fast_rexmits", "tcp_spurious_rexmits", "tcp_sack_recoveries", "tcp_sack_rexmits",
      "tcp_sack_lost_rexmits", "tcp_dsack_rcvd", "fault_drops", "fault_corrupts")))')
		echo "profile=$prof workload=$wl bytes=$BYTES result=$res $ctr"
	done
done
