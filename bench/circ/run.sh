#!/usr/bin/env bash
# PERF-CIRC-1/2/3 end to end (bench/circ/run.py), then the service-vs-bare
# comparison on PostgreSQL (bench/bench_circulation.py). Needs PostgreSQL on
# 127.0.0.1:5432 (user postgres); makes and drops its own databases.
set -euo pipefail
cd "$(dirname "$0")/../.."
.venv/bin/python bench/circ/run.py "$@"
# bench_circulation.py makes its own instance folder and removes it at exit
QUIETSHELF_ENV=test .venv/bin/python bench/bench_circulation.py --pg
