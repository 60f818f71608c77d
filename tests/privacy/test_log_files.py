"""The instance's log files rotate, expire after 14 days and are 0600 (PRV-LOG-1, PRV-RET-1)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import stat
import subprocess
import sys
import time

import pytest
import time_machine
from django.utils import timezone

from quietshelf.core import logfiles
from quietshelf.privacy import retention


@pytest.fixture(autouse=True)
def _fresh_schedule():
    retention.reset_cache()
    yield
    retention.reset_cache()


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _line(handler, text: str) -> None:
    handler.handle(logging.makeLogRecord({"msg": text, "levelno": logging.INFO}))


def test_a_log_file_rotates_at_midnight_stays_0600_and_keeps_14_days_prv_log_1(tmp_path):
    logs = tmp_path / "logs"
    evening = dt.datetime(2026, 11, 30, 23, 59, 58, tzinfo=dt.UTC)
    logs.mkdir()
    (logs / "worker.log").touch(mode=0o644)  # an older file, made under a wider umask
    os.utime(logs / "worker.log", (evening.timestamp(), evening.timestamp()))
    with time_machine.travel(evening, tick=False):
        handler = logfiles.handler(logs / "worker.log", days=14)
        # sixteen days of older rotations lying about
        for n in range(1, 17):
            old = logs / f"worker.log.{(evening - dt.timedelta(days=n)):%Y-%m-%d}"
            old.write_text("old\n")
        _line(handler, "the last line of the 30th")
    assert _mode(logs / "worker.log") == 0o600
    with time_machine.travel(evening + dt.timedelta(seconds=4), tick=False):
        _line(handler, "the first line of the 1st")
    handler.close()
    rotated = logs / "worker.log.2026-11-30"
    assert rotated.read_text() == "the last line of the 30th\n"
    assert _mode(rotated) == 0o600 and _mode(logs / "worker.log") == 0o600
    assert (logs / "worker.log").read_text() == "the first line of the 1st\n"
    kept = sorted(p.name for p in logs.glob("worker.log.*"))
    assert len(kept) == 14 and kept[-1] == "worker.log.2026-11-30"
    assert "worker.log.2026-11-16" not in kept  # the oldest went at the rotation


def test_the_retention_job_deletes_log_files_older_than_14_days_prv_log_1(db, settings, tmp_path):
    settings.LOG_DIR = tmp_path
    rule = retention.schedule()["request_log"]
    assert (rule.days, rule.job) == (14, "retention")
    step = next(s for s in retention.steps() if s.key == "log files")
    assert step.rule == "request_log"
    now = time.time()
    files = {}
    for name, days in [
        ("worker.log", 0),
        ("worker.log.recent", 13),
        ("worker.log.old", 15),
        ("sip2.log.old", 40),
        ("notes.txt", 40),
    ]:
        path = tmp_path / name
        path.write_text("x\n")
        os.utime(path, (now - days * 86400, now - days * 86400))
        files[name] = path
    dry = retention.run(dry_run=True, only=["log files"]).reports[0]
    assert dry.due == 2 and files["worker.log.old"].exists()
    assert retention.run(only=["log files"]).reports[0].done == 2
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["notes.txt", "worker.log", "worker.log.recent"]
    # the next day the 13-day file is 14 days old, the day after it is gone
    later = timezone.localdate() + dt.timedelta(days=2)
    retention.run(today=later, only=["log files"])
    assert not files["worker.log.recent"].exists()


def test_the_demo_pumps_a_child_into_a_private_rotating_file_prv_log_1(tmp_path):
    child = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", "print('Worker started'); print('100% done')"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    thread = logfiles.pump(child.stdout, tmp_path / "logs" / "worker.log")
    child.wait(timeout=30)
    thread.join(timeout=30)
    log = tmp_path / "logs" / "worker.log"
    assert log.read_text() == "Worker started\n100% done\n"
    assert _mode(log) == 0o600 and _mode(log.parent) == 0o700


def test_quietshelf_log_file_adds_a_private_rotating_file_prv_log_1(tmp_path):
    env = dict(
        os.environ,
        QUIETSHELF_HOME=str(tmp_path),
        QUIETSHELF_LOG_FILE="worker.log",
        DJANGO_SETTINGS_MODULE="quietshelf.config.settings",
    )
    env.pop("DATABASE_URL", None)
    code = (
        "import django, logging; django.setup(); "
        "from django.conf import settings; "
        "logging.getLogger('quietshelf.jobs').warning('job %s failed', 'x'); "
        "h = logging.getLogger('quietshelf').handlers[-1]; "
        "print(type(h).__name__, h.when, h.backupCount, h.utc)"
    )
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["PrivateTimedRotatingFileHandler", "MIDNIGHT", "14", "True"]
    log = tmp_path / "logs" / "worker.log"
    assert log.read_text().endswith("WARNING quietshelf.jobs job x failed\n")
    assert _mode(log) == 0o600
    env["QUIETSHELF_LOG_FILE"] = "../elsewhere.log"
    bad = subprocess.run(  # noqa: S603
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode != 0 and "QUIETSHELF_LOG_FILE" in bad.stderr
