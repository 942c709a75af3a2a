#!/usr/bin/env bash
# setup.sh installs what the interop tests need on a Debian machine, run as
# root: the Debian package chromium (only when /usr/bin/chromium is missing)
# and, through npm ci, the ws version pinned in package-lock.json. It is
# idempotent: a second run installs nothing new. Node 20+ and npm must exist.
set -euo pipefail

cd "$(dirname "$0")"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "interop/setup.sh: node and npm are required (Node 20 or later)" >&2
	exit 1
fi

if [ ! -x /usr/bin/chromium ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y chromium
fi

# npm ci installs node_modules exactly as package-lock.json says; skip it
# when the pinned ws is already there.
want=$(node -p 'require("./package-lock.json").packages["node_modules/ws"].version')
have=$(node -p 'try { require("./node_modules/ws/package.json").version } catch (e) { "" }')
if [ "$want" != "$have" ]; then
	npm ci --no-audit --no-fund
fi

/usr/bin/chromium --version
node --version
node -e 'console.log("ws " + require("ws/package.json").version)'
