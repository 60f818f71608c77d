"""CIR-5, real `quietshelf worker` processes: two workers at once run a slot once; a
worker killed (SIGKILL) in the middle of a run is taken over by the next worker to
start, which sends nothing twice and loses nothing; SIGTERM stops cleanly."""

from __future__ import annotations

import datetime as dt
import signal
import uuid

import pytest
from django.utils import timezone

from quietshelf.jobs import queue
from quietshelf.jobs.models import JobRun, RunState
from tests.jobs.conftest import REDIS_URL, call_count, sent_rows, wait_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

DAY = dt.date(2026, 11, 23)


def _queued_run(slot="2026-11-23") -> JobRun:
    now = timezone.now()
    return JobRun.objects.create(
        job="test-effects", slot=slot, for_date=DAY, created_at=now, queued_at=now
    )


@pytest.fixture
def redis_queue():
    name = f"qs-test-{uuid.uuid4().hex[:8]}"
    huey = queue.build_huey(name=name, redis_url=REDIS_URL)
    yield name, huey
    huey.storage.flush_all()


@pytest.fixture
def sqlite_queue(tmp_path):
    path = tmp_path / "jobs-queue.sqlite3"
    name = f"qs-test-{uuid.uuid4().hex[:8]}"
    return name, queue.build_huey(name=name, filename=path), path


def test_cir5_two_workers_on_one_redis_queue_run_a_slot_once(workers, redis_queue):
    """The same slot handed to the queue four times, two worker processes with two
    threads each: one run, each effect once."""
    name, huey = redis_queue
    env = {
        "QUIETSHELF_REDIS_URL": REDIS_URL,
        "QUIETSHELF_JOBS_QUEUE": name,
        "QS_TEST_JOB_PAUSE": "0.3",
    }
    run = _queued_run()
    first = workers.start("--workers", "2", **env)
    second = workers.start("--workers", "2", **env)
    for _ in range(4):
        queue.enqueue_run("test-effects", run.slot, huey=huey)
    wait_for(lambda: huey.pending_count() == 0, what="both workers to drain the queue")
    run = wait_for(
        lambda: JobRun.objects.filter(pk=run.pk, state=RunState.SUCCEEDED).first(),
        what="the run to finish",
    )
    assert call_count() == 1
    assert sorted(n for _day, n in sent_rows()) == [0, 1, 2, 3]
    assert run.attempt == 1
    assert first.poll() is None and second.poll() is None


@pytest.mark.parametrize("storage", ["sqlite", "redis"])
def test_cir5_killed_worker_is_taken_over_nothing_twice_nothing_lost(
    workers, storage, redis_queue, sqlite_queue
):
    if storage == "redis":
        name, huey = redis_queue
        env = {"QUIETSHELF_REDIS_URL": REDIS_URL, "QUIETSHELF_JOBS_QUEUE": name}
    else:
        name, huey, path = sqlite_queue
        env = {"QUIETSHELF_JOBS_FILE": path, "QUIETSHELF_JOBS_QUEUE": name}
    env.update({"QS_TEST_JOB_STEPS": "8", "QS_TEST_JOB_PAUSE": "0.4"})
    run = _queued_run()
    queue.enqueue_run("test-effects", run.slot, huey=huey)
    doomed = workers.start("--workers", "1", **env)
    wait_for(lambda: len(sent_rows()) >= 2, what="the first effects")
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    run.refresh_from_db()
    assert run.state == RunState.RUNNING and run.worker.endswith(f":{doomed.pid}")
    cut_short = len(sent_rows())
    assert 2 <= cut_short < 8

    heir = workers.start("--workers", "1", **env)
    run = wait_for(
        lambda: JobRun.objects.filter(pk=run.pk, state=RunState.SUCCEEDED).first(),
        what="the taken-over run to finish",
    )
    assert run.attempt == 2 and run.worker.endswith(f":{heir.pid}")
    assert run.result_count == 8 - cut_short  # the second run sent only what was left
    sent = [n for _day, n in sent_rows()]
    assert sorted(sent) == list(range(8))  # each once, none lost
    assert call_count() == 2


def test_cir5_sigterm_lets_the_running_job_finish(workers, sqlite_queue):
    name, huey, path = sqlite_queue
    env = {
        "QUIETSHELF_JOBS_FILE": path,
        "QUIETSHELF_JOBS_QUEUE": name,
        "QS_TEST_JOB_STEPS": "5",
        "QS_TEST_JOB_PAUSE": "0.3",
    }
    run = _queued_run()
    queue.enqueue_run("test-effects", run.slot, huey=huey)
    proc = workers.start(**env)
    wait_for(lambda: len(sent_rows()) >= 1, what="the job to start")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    run.refresh_from_db()
    assert run.state == RunState.SUCCEEDED
    assert len(sent_rows()) == 5
    assert any("Worker stopped." in line for line in proc.lines)
