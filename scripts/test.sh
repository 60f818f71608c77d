#!/usr/bin/env bash
# Runs the suite on SQLite and on PostgreSQL (a throw-away database per run).
# Installs what the tests need that pip cannot: Debian's chromium, yaz and
# (when no server answers) PostgreSQL itself.
set -euo pipefail
cd "$(dirname "$0")/.."
which_db="${1:-all}"
BIN=.venv/bin

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=0
need_pkg() {  # need_pkg COMMAND PACKAGE
  if ! command -v "$1" >/dev/null 2>&1; then
    # Another apt-get (unattended upgrades, a second make test) may hold the
    # dpkg lock: wait for it up to 10 minutes instead of failing on dpkg's error.
    if [ "$apt_updated" = 0 ]; then
      as_root apt-get -o DPkg::Lock::Timeout=600 update -qq; apt_updated=1
    fi
    echo "installing Debian package $2 …"
    DEBIAN_FRONTEND=noninteractive as_root apt-get -o DPkg::Lock::Timeout=600 \
      install -y -qq "$2" >/dev/null
  fi
}
need_pkg chromium chromium
need_pkg yaz-marcdump yaz
need_pkg xmlsec1 xmlsec1   # SAML signatures (pysaml2), patron SSO tests

ensure_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return; fi
  need_pkg pg_ctlcluster postgresql
  need_pkg pg_isready postgresql-client
  echo "starting PostgreSQL …"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && return; sleep 1; done
  echo "PostgreSQL did not answer on 127.0.0.1:5432" >&2
  exit 1
}

export QUIETSHELF_ENV=test
export DJANGO_ALLOW_ASYNC_UNSAFE=true   # Playwright's sync API runs an event loop in the test thread
run_suite() {  # run_suite LABEL; pytest's exit 5 (no tests ran) fails like any other
  local label="$1"; shift
  echo "=== test suite on $label ==="
  # the slowest tests are listed at the end: where the 15-minute budget goes
  QUIETSHELF_HOME="$(mktemp -d)" "$BIN/pytest" -p no:cacheprovider --durations=25 "$@"
}

status=0
pg_url() { echo "postgres://postgres@127.0.0.1:5432/quietshelf_$(date +%s)_$$"; }
if [ "$which_db" = all ] && [ "${QUIETSHELF_TEST_SERIAL:-0}" != 1 ]; then
  # Both engines at once: each suite is one mostly single-threaded process, so on two
  # cores they take about as long together as the longer one alone. The PostgreSQL
  # suite prints as it goes; the SQLite suite's output follows it whole.
  # QUIETSHELF_TEST_SERIAL=1 runs them one after the other.
  ensure_postgres
  sqlite_log="$(mktemp -t quietshelf-sqlite-suite.XXXXXX)"
  echo "=== the SQLite suite runs beside the PostgreSQL one; its output follows ($sqlite_log) ==="
  run_suite SQLite >"$sqlite_log" 2>&1 &
  sqlite_pid=$!
  trap 'kill "$sqlite_pid" 2>/dev/null || true' INT TERM
  DATABASE_URL="$(pg_url)" run_suite PostgreSQL || status=$?
  sqlite_status=0
  wait "$sqlite_pid" || sqlite_status=$?
  cat "$sqlite_log"
  rm -f "$sqlite_log"
  echo "=== PostgreSQL suite: exit $status; SQLite suite: exit $sqlite_status ==="
  [ "$sqlite_status" = 0 ] || status=$sqlite_status
  exit $status
fi
if [ "$which_db" = all ] || [ "$which_db" = sqlite ]; then
  run_suite SQLite || status=$?
fi
if [ "$which_db" = all ] || [ "$which_db" = postgres ]; then
  ensure_postgres
  DATABASE_URL="$(pg_url)" run_suite PostgreSQL || status=$?
fi
exit $status
