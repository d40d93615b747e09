#!/usr/bin/env bash
# Builds the bootstraps (release profile, as `sam build` does) and runs the cold-start
# harness; prints its Markdown report. Extra arguments go to the harness (see --help).
#   usage: bench/cold-start.sh [--rounds 20] [--warm 100]
set -euo pipefail
if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
    sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"
    exit 0
fi
cd "$(dirname "$0")/.."
# The functions are built on their own so that no other crate's features leak into them.
functions=()
for crate in functions/*/; do functions+=(-p "$(basename "$crate")"); done
cargo build --quiet --release "${functions[@]}"
cargo build --quiet --release -p empty-function
cargo build --quiet --release -p store-calls
cargo build --quiet --release -p cold-start
target/release/cold-start --bin-dir target/release --events events "$@"
