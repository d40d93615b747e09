#!/usr/bin/env bash
# Where a cold start's time goes: builds the bootstraps with symbols (the release profile,
# unstripped: Cargo.toml's `profiling` profile), records `perf` samples of the
# cold-start harness running them (init and the first invocation only: --warm 0), and
# prints, per bootstrap, the CPU time of one cold start by where it was spent (the
# kernel, the dynamic loader, libc, our binary's crates) and its hottest symbols.
#   usage: bench/cold-start-profile.sh [--rounds 40] [FUNCTION ...]   (default: live-chat agent-messages)
# Needs `perf` (Debian: linux-perf) and permission to use it (perf_event_paranoid <= 1,
# or root). Times include the process's exit, which the harness does not count.
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
    sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"
    exit 0
fi
cd "$(dirname "$0")/.."
rounds=40
if [ "${1:-}" = "--rounds" ]; then rounds=$2; shift 2; fi
functions=("$@")
[ ${#functions[@]} -gt 0 ] || functions=(live-chat agent-messages)
command -v perf >/dev/null || { echo "bench/cold-start-profile.sh needs perf (apt-get install linux-perf)" >&2; exit 1; }

packages=(-p empty-function -p store-calls)
only=()
for f in "${functions[@]}"; do
    # The harness's names are the binaries', but for unsubscribe's page (its GET).
    packages+=(-p "${f%-page}")
    only+=(--only "$f")
done
cargo build --quiet --profile profiling "${packages[@]}"
cargo build --quiet --release -p cold-start
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
perf record --quiet -F 20000 -o "$data/perf.data" -- \
    target/release/cold-start --bin-dir target/profiling --copies-in "$data/bin" \
    --events events --rounds "$rounds" --warm 0 "${only[@]}" >/dev/null
perf script -i "$data/perf.data" -F comm,pid,ip,sym,dso >"$data/samples.txt" 2>"$data/script.log"
python3 - "$data/samples.txt" empty-function store-calls "${functions[@]}" <<'PY'
import collections, re, sys
path, names = sys.argv[1], sys.argv[2:]
period_ms = 1000 / 20000
line_re = re.compile(r"\s*(\S+)\s+(\d+)\s+[0-9a-f]+\s+(.*?)\s+\(([^)]*)\)\s*$")
by_comm = collections.defaultdict(lambda: (collections.Counter(), collections.Counter(), set()))
# The kernel keeps a process's name to its first 15 bytes (conversation-re...).
by_short_name = {name[:15]: name for name in names}
for line in open(path):
    m = line_re.match(line)
    if not m:
        continue
    comm, pid, sym, dso = m.groups()
    comm = by_short_name.get(comm)
    if comm is None:
        continue
    where, symbols, pids = by_comm[comm]
    pids.add(pid)
    dso = dso.rsplit("/", 1)[-1]
    if dso.startswith("[kernel"):
        where["kernel"] += 1
        symbols["[k] " + sym] += 1
    elif dso == comm:
        name = re.sub(r"::h[0-9a-f]{16}$", "", sym).lstrip("<&*")
        where[re.split(r"::|<| ", name)[0]] += 1
        symbols[name[:90]] += 1
    else:
        where[dso] += 1
        symbols[f"[{dso}] {sym}"] += 1
if not by_comm:
    sys.exit(f"no samples of {', '.join(names)} in perf's output")
for comm in names:
    if comm not in by_comm:
        continue
    where, symbols, pids = by_comm[comm]
    runs = len(pids)
    total = sum(where.values()) * period_ms / runs
    print(f"\n## {comm}: {total:.2f} ms of CPU per cold start ({runs} processes)\n")
    print("| where | ms |\n|---|---:|")
    for key, n in where.most_common(12):
        print(f"| {key} | {n * period_ms / runs:.3f} |")
    print("\n| hottest symbols | ms |\n|---|---:|")
    for key, n in symbols.most_common(12):
        print(f"| `{key}` | {n * period_ms / runs:.3f} |")
PY
