#!/usr/bin/env bash
# Realtime latency of `supportzen serve`: message written -> event delivered on the local
# WebSocket, with 200 sockets open (by default 180 customers' and 20 agents'), as
# p50/p90/p99/max, and a check that every socket got exactly the events it should.
# Builds the server and bench/realtime-latency with the release profile, starts the
# server on a fresh SQLite file (with --dynamodb: on a fresh table in DynamoDB Local, which
# it starts and stops), a fresh agent key and a free port, runs the benchmark, stops the
# server. Prints a Markdown table. Sends traffic to 127.0.0.1 only.
# Builds into CARGO_TARGET_DIR if it is set (else target/). Raises the open-files limit to
# the hard limit, since the benchmark and the server each hold one descriptor per socket.
#   usage: bench/realtime-latency.sh [--dynamodb] [OPTIONS]
#   OPTIONS go to the benchmark, e.g. --messages 2000 --rate 100, or
#   --customers 1800 --agent-sockets 200 for 2,000 sockets
#   (target/release/realtime-latency --help lists them).
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
    sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"
    exit 0
fi
cd "$(dirname "$0")/.."
store=sqlite
if [ "${1:-}" = "--dynamodb" ]; then
    store=dynamodb
    shift
fi

# Built one at a time, as bench/load-test builds the server, so neither changes the
# other's features.
cargo build --quiet --release -p supportzen
cargo build --quiet --release -p realtime-latency
release="${CARGO_TARGET_DIR:-target}/release"
bin="$release/supportzen"
# Each socket is a descriptor on both ends, and both processes start from this limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "open-files limit: $(ulimit -n)"
work=$(mktemp -d)
pids=()
stop() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap stop EXIT

if [ "$store" = dynamodb ]; then
    port=$(scripts/free-port)
    # Returns once it accepts connections (after a first-time npm install, if needed).
    pids+=("$(scripts/dynamodb-local --background "$port")")
    export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port"
    export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_EC2_METADATA_DISABLED=true
    unset AWS_PROFILE AWS_SESSION_TOKEN
    "$bin" table create --store dynamodb:bench >/dev/null
    store_url=dynamodb:bench
else
    store_url="sqlite:$work/realtime.db"
fi

# The benchmark's customers are created by their first request.
export TRUST_FIRST_REQUEST=true
SUPPORTZEN_AGENT_TOKEN=$("$bin" agents token --id bench-agent --name "Bench Agent" --agent-key "$work/agent-key.pem" 2>"$work/token.log") ||
    { cat "$work/token.log" >&2; exit 1; }
export SUPPORTZEN_AGENT_TOKEN
"$bin" serve --listen 127.0.0.1:0 --store "$store_url" --agent-key "$work/agent-key.pem" --files "$work/files" --messages-per-minute 100000 --new-accounts-per-hour 100000 >"$work/serve.out" 2>"$work/serve.log" &
pids+=($!)
for _ in $(seq 1 100); do grep -q "listening on" "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/^listening on //p' "$work/serve.out")
[ -n "$base" ] || { cat "$work/serve.log" >&2; echo "the server did not start" >&2; exit 1; }

echo "store: $store"
# Other work on the machine moves the tail: note how busy it was.
[ -r /proc/loadavg ] && echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
if ! "$release/realtime-latency" --url "$base" "$@"; then
    echo "the server's warnings and errors:" >&2
    grep -E '(WARN|ERROR)' "$work/serve.log" | tail -n 20 >&2 || true
    exit 1
fi
