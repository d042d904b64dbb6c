#!/usr/bin/env bash
# Install the JavaScript parts of the integration tests from their lock files:
#   tests/integration/js/node_modules  - AWS SDK for JavaScript v3 (client-kinesis, HTTP/1.1 handler)
#   tools/kinesalite/node_modules      - kinesalite, the Kinesis emulator behind `--endpoint` runs
# Idempotent: a tree whose stamp matches its package-lock.json is left alone, so a second run
# costs nothing. Node.js and npm come from the machine (apt); nothing is installed globally.
# Usage: tools/setup/install-js.sh [--force]
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
FORCE=0
if [[ "${1:-}" == "--force" ]]; then
	FORCE=1
elif [[ $# -gt 0 ]]; then
	echo "usage: $0 [--force]" >&2
	exit 2
fi

for tool in node npm; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "install-js: $tool not found (tools/setup/install-deps.sh installs it)" >&2
		exit 1
	fi
done

NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
if ((NODE_MAJOR < 20)); then
	echo "install-js: node $(node --version) is too old: the AWS SDK v3 needs node >= 20" >&2
	exit 1
fi

# npm ci into one directory unless its stamp already records the same lock file.
install_dir() {
	local dir="$1" stamp sum
	stamp="$dir/node_modules/.spate-lock.sha256"
	sum="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
	if ((FORCE == 0)) && [[ -f "$stamp" ]] && [[ "$(cat "$stamp")" == "$sum" ]]; then
		echo "install-js: ${dir#"$REPO"/} up to date"
		return 0
	fi
	echo "install-js: npm ci in ${dir#"$REPO"/}"
	# --ignore-scripts: nothing here needs a build step (kinesalite runs in memory, so its
	# optional native leveldown is never loaded).
	(cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
	echo "$sum" >"$stamp"
}

install_dir "$REPO/tests/integration/js"
install_dir "$REPO/tools/kinesalite"
echo "install-js: done"
