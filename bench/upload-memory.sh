#!/usr/bin/env bash
# How much memory `supportzen serve` takes to receive one 10 MiB upload: starts the
# server (SQLite and its files directory in a temporary directory, a free port), asks it
# one cheap request so that its steady state is reached, reads its peak resident memory
# (VmHWM in /proc/PID/status), uploads a 10 MiB file with `supportzen attachments upload`
# (declare, then the multipart form to /files, streamed to disk), reads VmHWM again, and
# prints both and their difference. Linux only (/proc). Uses the debug build unless
# SUPPORTZEN names another binary.
#   usage: bench/upload-memory.sh [BYTES]   (default 10485760)
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
    sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"
    exit 0
fi
cd "$(dirname "$0")/.."
bytes=${1:-10485760}
binary=${SUPPORTZEN:-target/debug/supportzen}
if [ -z "${SUPPORTZEN:-}" ]; then cargo build -q -p supportzen; fi
work=$(mktemp -d)
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# A PNG signature, then random bytes: the upload's check reads only the first bytes.
python3 -c "import os, sys; open(sys.argv[1], 'wb').write(b'\x89PNG\r\n\x1a\n' + os.urandom(int(sys.argv[2]) - 8))" \
    "$work/upload.png" "$bytes"
"$binary" serve --listen 127.0.0.1:0 --store "sqlite:$work/store.db" --files "$work/files" \
    --agent-key "$work/agent-key.pem" >"$work/serve.out" 2>"$work/serve.log" &
server=$!
deadline=$((SECONDS + 30))
until grep -q '^listening on ' "$work/serve.out"; do
    if ! kill -0 "$server" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
        echo "the server did not start:" >&2; cat "$work/serve.log" >&2; exit 1
    fi
    sleep 0.05
done
url=$(sed -n 's/^listening on //p' "$work/serve.out")
"$binary" users put --email bench@example.com --secret bench-secret --store "sqlite:$work/store.db" >/dev/null
curl -sS -o /dev/null "$url/openapi.json"
peak() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$server/status"; }
before=$(peak)
id=$("$binary" attachments upload "$work/upload.png" --email bench@example.com --secret bench-secret --server "$url")
after=$(peak)
stored=$(find "$work/files" -type f -size "${bytes}c" | wc -l)
echo "uploaded $id: $bytes bytes, $stored file of that size stored"
echo "VmHWM before: $before kB, after: $after kB, difference: $((after - before)) kB"
