#!/usr/bin/env bash
# Runs the Autobahn|Testsuite against the testees in autobahn/server and
# autobahn/client, then judges every report with autobahn/check.
# See autobahn/README.md.
#
# Runner: the wstest executable named by $WSTEST when set, else Docker
# (image $AUTOBAHN_IMAGE, default crossbario/autobahn-testsuite) when its
# engine answers. $AUTOBAHN_SUITES picks suites (default: all, in order):
#
#   server             fuzzingclient vs `server -compress`           config/fuzzingclient.json
#   server-stream      fuzzingclient vs `server -compress -stream`   config/fuzzingclient-stream.json
#   server-nocompress  fuzzingclient vs `server`                     config/fuzzingclient-nocompress.json
#   client             fuzzingserver vs `client -compress`           config/fuzzingserver.json
#   client-nocompress  fuzzingserver vs `client`                     config/fuzzingserver-nocompress.json
#
# The -nocompress suites exclude 12.* and 13.* (permessage-deflate cases,
# UNIMPLEMENTED without compression); the others exclude nothing.
# Reports go to autobahn/reports/<suite>/.
#
# Exit status: 0 when every case of every suite is OK; 1 when a case is not
# OK or a step failed; 2 when no runner is available (nothing was tested).
set -uo pipefail

ALL_SUITES="server server-stream server-nocompress client client-nocompress"
SUITES=${AUTOBAHN_SUITES:-$ALL_SUITES}
IMAGE=${AUTOBAHN_IMAGE:-crossbario/autobahn-testsuite}
HOST=127.0.0.1
PORT=9001 # the configs name ws://127.0.0.1:9001

say() { echo "autobahn: $*" >&2; }
norun() {
	say "$*"
	say "NOTHING WAS TESTED (exit 2)."
	exit 2
}

# Resolve WSTEST before leaving the caller's directory.
WSTEST_BIN=
if [[ -n ${WSTEST:-} ]]; then
	WSTEST_BIN=$(command -v -- "$WSTEST") || norun "WSTEST=$WSTEST is not an executable"
	[[ $WSTEST_BIN == /* ]] || WSTEST_BIN=$PWD/$WSTEST_BIN
fi

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
AB=$PWD/autobahn

for s in $SUITES; do
	[[ " $ALL_SUITES " == *" $s "* ]] || norun "unknown suite '$s' in AUTOBAHN_SUITES (known: $ALL_SUITES)"
done

if [[ -n $WSTEST_BIN ]]; then
	RUNNER=local
	say "runner: $WSTEST_BIN"
elif command -v docker >/dev/null 2>&1; then
	if command -v timeout >/dev/null 2>&1; then
		engine() { timeout 30 docker info >/dev/null 2>&1; }
	else
		engine() { docker info >/dev/null 2>&1; }
	fi
	engine ||
		norun "the docker CLI is installed but no Docker engine answers ('docker info' fails), and WSTEST is not set: cannot run the Autobahn|Testsuite. Start a Docker engine, or set WSTEST to a wstest executable (pip install autobahntestsuite, Python 2)."
	RUNNER=docker
	say "runner: docker image $IMAGE"
	docker image inspect "$IMAGE" >/dev/null 2>&1 || docker pull "$IMAGE" ||
		norun "cannot pull the Docker image $IMAGE"
else
	norun "neither Docker nor WSTEST is available: cannot run the Autobahn|Testsuite. Install Docker (image $IMAGE), or set WSTEST to a wstest executable (pip install autobahntestsuite, Python 2)."
fi

BIN=$(mktemp -d "${TMPDIR:-/tmp}/autobahn.XXXXXX") || exit 1
BG_PID=
BG_CONTAINER=
stop_bg() {
	if [[ -n $BG_CONTAINER ]]; then
		docker rm -f "$BG_CONTAINER" >/dev/null 2>&1
		BG_CONTAINER=
	fi
	if [[ -n $BG_PID ]]; then
		kill "$BG_PID" 2>/dev/null
		wait "$BG_PID" 2>/dev/null
		BG_PID=
	fi
}
trap 'stop_bg; rm -rf "$BIN"' EXIT
trap 'exit 130' INT TERM

say "building the testees"
go build -o "$BIN/server" ./autobahn/server &&
	go build -o "$BIN/client" ./autobahn/client ||
	{
		say "build failed"
		exit 1
	}

port_open() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }

# wait_port SECONDS: wait until something listens on $PORT.
wait_port() {
	local i
	for ((i = 0; i < $1 * 10; i++)); do
		port_open && return 0
		sleep 0.1
	done
	return 1
}

# wstest MODE SPEC [CONTAINER]: runs wstest with autobahn/config/SPEC in
# autobahn/ (local) or / (Docker), so that the configs' ./reports/... land
# in autobahn/reports/. The process is wstest itself (or the docker CLI), so
# that a background run can be stopped by its pid.
wstest() {
	local mode=$1 spec=$2 name=${3:-}
	if [[ $RUNNER == docker ]]; then
		exec docker run --rm ${name:+--name "$name"} --net=host -w / \
			-v "$AB/config:/config:ro" -v "$AB/reports:/reports" \
			"$IMAGE" wstest -m "$mode" -s "/config/$spec"
	fi
	cd "$AB" && exec "$WSTEST_BIN" -m "$mode" -s "config/$spec"
}

# fresh_report SUITE: prepares autobahn/reports/SUITE and removes its old
# index.json, so that a run that writes none cannot pass on stale data.
fresh_report() {
	local dir=$AB/reports/$1
	mkdir -p "$dir" && rm -f "$dir/index.json" && [[ ! -e $dir/index.json ]]
}

PROBLEMS=()
REPORTS=()
problem() {
	say "$1: $2"
	PROBLEMS+=("$1: $2")
}

# server_suite SUITE SPEC SERVER-FLAGS...
server_suite() {
	local suite=$1 spec=$2
	shift 2
	say "=== $suite: wstest -m fuzzingclient ($spec) against server $*"
	REPORTS+=("autobahn/reports/$suite/index.json")
	fresh_report "$suite" || {
		problem "$suite" "cannot remove the old report"
		return
	}
	port_open && {
		problem "$suite" "port $PORT is already in use"
		return
	}
	"$BIN/server" -addr "$HOST:$PORT" "$@" &
	BG_PID=$!
	wait_port 10 || {
		problem "$suite" "the server testee did not start"
		stop_bg
		return
	}
	(wstest fuzzingclient "$spec") || problem "$suite" "wstest exited with status $?"
	kill -0 "$BG_PID" 2>/dev/null || problem "$suite" "the server testee died during the run"
	stop_bg
}

# client_suite SUITE SPEC CLIENT-FLAGS...
client_suite() {
	local suite=$1 spec=$2
	shift 2
	say "=== $suite: wstest -m fuzzingserver ($spec) against client $*"
	REPORTS+=("autobahn/reports/$suite/index.json")
	fresh_report "$suite" || {
		problem "$suite" "cannot remove the old report"
		return
	}
	port_open && {
		problem "$suite" "port $PORT is already in use"
		return
	}
	[[ $RUNNER == docker ]] && BG_CONTAINER=autobahn-fuzzingserver-$$
	(wstest fuzzingserver "$spec" "$BG_CONTAINER") &
	BG_PID=$!
	wait_port 60 || {
		problem "$suite" "the fuzzingserver did not start"
		stop_bg
		return
	}
	"$BIN/client" -url "ws://$HOST:$PORT" "$@" || problem "$suite" "the client testee failed (status $?)"
	stop_bg
}

for s in $SUITES; do
	case $s in
	server) server_suite server fuzzingclient.json -compress ;;
	server-stream) server_suite server-stream fuzzingclient-stream.json -compress -stream ;;
	server-nocompress) server_suite server-nocompress fuzzingclient-nocompress.json ;;
	client) client_suite client fuzzingserver.json -compress -agent rfc6455-websocket ;;
	client-nocompress) client_suite client-nocompress fuzzingserver-nocompress.json -agent rfc6455-websocket-nocompress ;;
	esac
done

say "=== judging ${#REPORTS[@]} report(s)"
go run ./autobahn/check "${REPORTS[@]}" || PROBLEMS+=("check: some case is not OK, or a report is missing or malformed (status $?)")

if ((${#PROBLEMS[@]} > 0)); then
	say "FAILED:"
	for p in "${PROBLEMS[@]}"; do say "  $p"; done
	exit 1
fi
say "every case of every suite is OK"
