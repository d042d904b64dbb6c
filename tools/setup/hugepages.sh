#!/usr/bin/env bash
# Reserve 2 MiB hugepages for spate-dataplane and make sure hugetlbfs is mounted.
#
#   tools/setup/hugepages.sh [--pages N]
#
# Idempotent: mounts hugetlbfs at /dev/hugepages only when no hugetlbfs mount exists (this
# machine has no systemd to do it), and raises the 2 MiB pool to at least N pages through
# hugeadm (never lowers it). The default, 4096 pages (8 GiB), covers two dev instances at
# spate-dev's mem_mb (1536: mbuf pools plus 64 MiB shard rings) plus the integration tests'
# short-lived extra instances. Prints what it did.
# Must run as root.
set -euo pipefail

PAGES=4096
MNT=/dev/hugepages

usage() {
	echo "usage: $0 [--pages N]" >&2
	exit 2
}

while (($#)); do
	case "$1" in
	--pages)
		[[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]] || usage
		PAGES=$2
		shift 2
		;;
	--pages=*)
		PAGES=${1#--pages=}
		[[ "$PAGES" =~ ^[0-9]+$ ]] || usage
		shift
		;;
	-h | --help) usage ;;
	*) usage ;;
	esac
done

if [[ $(id -u) -ne 0 ]]; then
	echo "hugepages: must run as root" >&2
	exit 1
fi

# 1. hugetlbfs mount (any existing hugetlbfs mount with the 2 MiB page size will do for DPDK,
#    but we want the well-known path so `down` can clean files by name).
if awk -v m="$MNT" '$2 == m && $3 == "hugetlbfs" { f = 1 } END { exit !f }' /proc/mounts; then
	echo "hugepages: hugetlbfs already mounted at $MNT"
else
	mkdir -p "$MNT"
	mount -t hugetlbfs -o pagesize=2M nodev "$MNT"
	echo "hugepages: mounted hugetlbfs at $MNT"
fi

# 2. the 2 MiB pool.
nr_file=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
cur=$(cat "$nr_file")
if ((cur >= PAGES)); then
	echo "hugepages: pool already has $cur x 2 MiB pages (wanted >= $PAGES)"
else
	if command -v hugeadm >/dev/null 2>&1; then
		hugeadm --pool-pages-min "2MB:$PAGES"
	else
		echo "$PAGES" >"$nr_file"
	fi
	now=$(cat "$nr_file")
	if ((now < PAGES)); then
		echo "hugepages: asked for $PAGES x 2 MiB pages, kernel gave $now" \
			"(memory fragmented? try again or reboot)" >&2
		exit 1
	fi
	echo "hugepages: pool raised from $cur to $now x 2 MiB pages"
fi
free_pages=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages)
echo "hugepages: $free_pages of $(cat "$nr_file") pages free"
