#!/usr/bin/env bash
# Install every build, run and test dependency of Spate from Debian 12's apt.
# Idempotent: packages already present are left alone, and apt-get update runs
# only when something is missing. Must run as root (or through sudo).
set -euo pipefail

PKGS=(
	# build
	build-essential meson ninja-build pkg-config clang libclang-rt-14-dev
	# libraries (pkg-config names in meson.build)
	dpdk dpdk-dev libdpdk-dev libssl-dev libjansson-dev liburing-dev libnuma-dev
	libsqlite3-dev libcmocka-dev libpcap-dev zlib1g-dev
	# HTTP/2 (libnghttp2: the API's h2 sessions; nghttp2-client: h2load for the benchmark)
	libnghttp2-dev nghttp2-client curl python3-h2
	# the openssl command (tools/setup/dev-ca.sh, tls_test)
	openssl
	# a TLS scanner run against the HTTPS port (tests/integration/test_api_tls.py)
	testssl.sh
	# hugepages
	libhugetlbfs-bin
	# dev network and tests
	iproute2 iputils-ping iputils-arping nftables hping3 fio procps
	python3 python3-pytest python3-boto3 awscli
	# CBOR request bodies in tests/integration/test_api_cbor.py and tools/bench/api_h2.py
	python3-cbor2
)

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} == 0)); then
	echo "install-deps: all ${#PKGS[@]} packages present"
	exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
	SUDO="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
