#!/usr/bin/env bash
# setup.sh installs every real peer the tests start, on a Debian machine,
# as root: the Debian packages chromium, nats-server and redis-server (each
# only when its binary is missing) and the npm packages pinned in
# interop/package-lock.json. It is idempotent and takes about a second when
# there is nothing to do. `make test` runs it first; set WS_SKIP_SETUP=1 on
# a machine where you cannot be root and have installed the peers yourself
# (CI never sets it).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v nats-server >/dev/null 2>&1 || need+=(nats-server)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "scripts/setup.sh: missing ${need[*]}; install them as root (apt-get install -y ${need[*]}) or run this script as root" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q "${need[@]}"
fi

bash interop/setup.sh
nats-server --version
redis-server --version
