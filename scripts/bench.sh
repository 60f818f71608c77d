#!/usr/bin/env bash
# Runs every benchmark under bench/; each prints its figures and the figure it compares with.
set -euo pipefail
cd "$(dirname "$0")/.."
export QUIETSHELF_ENV=test
for bench in bench/bench_*.py; do
  echo "=== $bench ==="
  QUIETSHELF_HOME="$(mktemp -d)" .venv/bin/python "$bench" "$@"
done
