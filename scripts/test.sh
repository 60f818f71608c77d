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
if [ "$which_db" = all ] || [ "$which_db" = sqlite ]; then
  run_suite SQLite || status=$?
fi
if [ "$which_db" = all ] || [ "$which_db" = postgres ]; then
  ensure_postgres
  dbname="quietshelf_$(date +%s)_$$"
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/$dbname" run_suite PostgreSQL || status=$?
fi
exit $status
