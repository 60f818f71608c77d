#!/usr/bin/env bash
# Runs every benchmark under bench/; each prints its figures and the figure it compares with.
set -euo pipefail
cd "$(dirname "$0")/.."
export QUIETSHELF_ENV=test
# Each benchmark gets a fresh instance folder, removed afterwards (it holds a master
# key, a secret key and a database of up to a few hundred MB), also when one fails.
for bench in bench/bench_*.py; do
  echo "=== $bench ==="
  home="$(mktemp -d)"
  trap 'rm -rf "$home"' EXIT
  QUIETSHELF_HOME="$home" .venv/bin/python "$bench" "$@"
  rm -rf "$home"
done
