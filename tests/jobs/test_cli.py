"""CIR-5, the operator's commands: quietshelf worker / jobs / run-job. Bad arguments
give one line and exit status 2; the Redis password is never printed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from quietshelf.jobs.models import JobRun, RunState
from tests.jobs.conftest import REPO_ROOT, sent_rows

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def qs(env, *args, **extra):
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "quietshelf", *args],
        env=dict(env, **extra),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (["worker", "--workers", "0"], "--workers must be between 1 and 64"),
        (["worker", "--workers", "many"], "invalid int value"),
        (["run-job"], "the following arguments are required: name"),
        (["run-job", "no-such-job"], "no job named 'no-such-job'"),
        (["run-job", "test-effects", "--date", "2026-02-30"], "--date must be YYYY-MM-DD"),
    ],
)
def test_cir5_bad_arguments_one_line_exit_2(worker_env, args, message):
    result = qs(worker_env, *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_cir5_worker_with_unreachable_redis_says_so_without_the_password(worker_env):
    result = qs(
        worker_env, "worker", QUIETSHELF_REDIS_URL="redis://jobs:hunter2-secret@127.0.0.1:1/0"
    )
    assert result.returncode == 2
    assert "cannot open the job queue (Redis redis://***@127.0.0.1:1/0" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1


def test_cir5_run_job_runs_now_for_a_given_day_and_jobs_lists_it(worker_env):
    result = qs(worker_env, "run-job", "test-effects", "--date", "2026-11-20")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("job test-effects 2026-11-20: 4 (")
    assert {day for day, _n in sent_rows()} == {"2026-11-20"}
    run = JobRun.objects.get(job="test-effects")
    assert run.state == RunState.SUCCEEDED and run.trigger == "cli"
    listing = qs(worker_env, "jobs")
    assert listing.returncode == 0, listing.stderr
    line = next(x for x in listing.stdout.splitlines() if x.startswith("test-effects"))
    assert "succeeded" in line and ": 4" in line


def test_cir5_run_job_failure_exits_1_with_the_error(worker_env):
    result = qs(worker_env, "run-job", "test-fails")
    assert result.returncode == 1
    assert "failed: RuntimeError: could not reach the notice gateway" in result.stderr
    assert "23000000042" not in result.stderr


@pytest.mark.parametrize(
    "variable,value,message",
    [
        ("QUIETSHELF_JOBS_SCHEDULE", '{"overdue-fines": "weekly"}', "not a schedule: 'weekly'"),
        ("QUIETSHELF_JOBS_SCHEDULE", '{"no-such": "off"}', "no job named 'no-such'"),
        ("QUIETSHELF_JOBS_SCHEDULE", "{not json", "must be JSON"),
        ("QUIETSHELF_JOBS_NIGHT_HOUR", "25", "must be 0..23"),
    ],
)
def test_cir5_worker_refuses_bad_job_settings_in_one_line(worker_env, variable, value, message):
    result = qs(worker_env, "worker", **{variable: value})
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
