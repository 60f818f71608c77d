"""Fixtures for the jobs tests: test-only jobs, their side-effect tables, huey queues
on SQLite and on Redis (127.0.0.1:6379), real consumers in threads and real
`quietshelf worker` processes pointed at the test databases."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection, connections

from quietshelf.jobs import queue, registry
from quietshelf.jobs.consumer import ThreadConsumer

# The circulation fixtures, for the tests that run the real fines and hold jobs.
from tests.circulation.conftest import _fresh_config_cache, circ, item, patron  # noqa: F401
from tests.jobs import testjobs

REPO_ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/0"

TEST_JOBS = [
    {"name": "test-effects", "callable": "tests.jobs.testjobs:effects", "schedule": "off"},
    {"name": "test-fails", "callable": "tests.jobs.testjobs:fails", "schedule": "off"},
    {"name": "test-missing", "callable": "tests.jobs.not_there:nothing", "schedule": "off"},
]


def _builtin_off() -> dict:
    names = [spec.name for spec in registry._defaults()]
    return {name: "off" for name in names}


@pytest.fixture
def test_jobs(settings):
    """Only the test jobs are scheduled (the built-in ones are switched off)."""
    settings.QUIETSHELF_JOBS_EXTRA = TEST_JOBS
    settings.QUIETSHELF_JOBS_SCHEDULE = _builtin_off()
    return settings


@pytest.fixture
def effect_tables(transactional_db):
    pk = (
        "id SERIAL PRIMARY KEY"
        if connection.vendor == "postgresql"
        else ("id INTEGER PRIMARY KEY AUTOINCREMENT")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS jobs_test_effect (day varchar(10), n integer, "
            "PRIMARY KEY (day, n))"
        )
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS jobs_test_sent ({pk}, day varchar(10), n integer, "
            "pid integer)"
        )
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS jobs_test_calls ({pk}, day varchar(10), pid integer)"
        )
    yield
    with connection.cursor() as cursor:
        for table in ("jobs_test_effect", "jobs_test_sent", "jobs_test_calls"):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")  # noqa: S608


def sent_rows() -> list[tuple[str, int]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT day, n FROM jobs_test_sent ORDER BY id")
        return [tuple(row) for row in cursor.fetchall()]


def call_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM jobs_test_calls")
        return cursor.fetchone()[0]


@pytest.fixture
def sqlite_huey(tmp_path):
    huey = queue.build_huey(name=f"qs-test-{uuid.uuid4().hex[:8]}", filename=tmp_path / "q.db")
    queue.use(huey)
    yield huey
    queue.use(None)


@pytest.fixture
def redis_huey():
    name = f"qs-test-{uuid.uuid4().hex[:8]}"
    huey = queue.build_huey(name=name, redis_url=REDIS_URL)
    try:
        huey.storage.conn.ping()
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"Redis at {REDIS_URL} is needed for this test: {exc}")
    queue.use(huey)
    yield huey
    queue.use(None)
    huey.storage.flush_all()
    keys = huey.storage.conn.keys(f"huey.*{name}*")
    if keys:
        huey.storage.conn.delete(*keys)


@pytest.fixture
def consumer():
    started = []

    def start(huey, workers=2):
        c = ThreadConsumer(huey, workers=workers, periodic=False, check_worker_health=False)
        c.start()
        started.append(c)
        return c

    yield start
    for c in started:
        c.stop(graceful=True)


def wait_for(predicate, timeout=30.0, every=0.1, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def worker_env(tmp_path, test_jobs, effect_tables, settings):
    """Environment for `quietshelf worker` processes that use this test's databases."""
    from quietshelf.privacy import keys

    keys.load_master_keys()
    home = tmp_path / "worker-home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIETSHELF_")}
    env.update(
        {
            "QUIETSHELF_ENV": "test",
            "QUIETSHELF_HOME": str(home),
            "QUIETSHELF_JOBS_EXTRA": json.dumps(TEST_JOBS),
            "QUIETSHELF_JOBS_SCHEDULE": json.dumps(_builtin_off()),
            "QUIETSHELF_JOBS_HEARTBEAT_SECONDS": "1",
            "QUIETSHELF_JOBS_STALE_SECONDS": "5",
            "QUIETSHELF_TIME_ZONE": settings.TIME_ZONE,
            "PYTHONPATH": str(REPO_ROOT),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if os.environ.get("QUIETSHELF_MASTER_KEY"):
        env["QUIETSHELF_MASTER_KEY"] = os.environ["QUIETSHELF_MASTER_KEY"]
    else:
        target = home / "master.key"
        shutil.copy(settings.QUIETSHELF_MASTER_KEY_FILE, target)
        target.chmod(0o600)
    main, store = connections["default"].settings_dict, connections["keystore"].settings_dict
    if connection.vendor == "postgresql":

        def url(d):
            auth = d["USER"] + (f":{d['PASSWORD']}" if d.get("PASSWORD") else "")
            return f"postgres://{auth}@{d['HOST'] or '127.0.0.1'}:{d['PORT'] or 5432}/{d['NAME']}"

        env["DATABASE_URL"] = url(main)
        env["QUIETSHELF_KEYSTORE_URL"] = url(store)
    else:
        # The worker's settings open <home>/quietshelf.sqlite3 with the project's
        # pragmas; SQLite follows the link to the test database (WAL included).
        (home / "quietshelf.sqlite3").symlink_to(main["NAME"])
        (home / "keystore.sqlite3").symlink_to(store["NAME"])
    return env


class Workers:
    def __init__(self, env):
        self.env = env
        self.procs: list[subprocess.Popen] = []

    def start(self, *args, **extra_env) -> subprocess.Popen:
        env = dict(self.env, **{k: str(v) for k, v in extra_env.items()})
        proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "quietshelf", "worker", *args],
            env=env,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines: list[str] = []
        proc.lines = lines
        threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
        self.procs.append(proc)
        wait_for(
            lambda: any("Worker " in line for line in lines) or proc.poll() is not None,
            what="the worker to start",
        )
        assert proc.poll() is None, "".join(lines)
        return proc

    def stop_all(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def workers(worker_env):
    pool = Workers(worker_env)
    yield pool
    pool.stop_all()


__all__ = ["testjobs", "wait_for", "sent_rows", "call_count"]
