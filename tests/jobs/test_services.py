"""CIR-5: running scheduled jobs: one run per slot, failures recorded, retry, take-over.

Real database; the test-only jobs of tests/jobs/testjobs.py stand in for the
fines and notice jobs (which have their own tests)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connections

from quietshelf.accounts.testing import make_staff
from quietshelf.core.errors import Conflict, NotFound, PermissionDenied
from quietshelf.jobs import registry, services
from quietshelf.jobs.models import JobRun, RunState
from quietshelf.privacy.models import AuditEntry
from tests.jobs.conftest import call_count, sent_rows

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def _queued(job="test-effects", slot="2026-11-23", day=dt.date(2026, 11, 23)) -> JobRun:
    return JobRun.objects.create(job=job, slot=slot, for_date=day, created_at=NOW, queued_at=NOW)


def test_cir5_builtin_schedule_has_every_required_job(settings):
    """Fines, hold expiry, due-soon, overdue, hold-ready, expiring-card and fee notices,
    delivery, audit sealing: all scheduled; nightly ones after fines at the night hour."""
    settings.QUIETSHELF_JOBS_NIGHT_HOUR = 2
    specs = {spec.name: spec for spec in registry.jobs()}
    for name in [
        "overdue-fines",
        "hold-shelf-expiry",
        "due-soon-notices",
        "overdue-notices",
        "hold-ready-notices",
        "expiring-card-notices",
        "fee-notices",
        "deliver-notices",
        "audit-seal",
        "audit-checkpoint",
        "deidentify-loans",
        "escrow-purge",
        "reduce-notice-history",
    ]:
        assert specs[name].schedule.enabled, name
    assert str(specs["overdue-fines"].schedule) == "daily 02:00"
    fines, overdue = specs["overdue-fines"].schedule, specs["overdue-notices"].schedule
    assert (overdue.hour, overdue.minute) > (fines.hour, fines.minute)


def test_cir5_tick_queues_each_due_slot_once_even_from_two_schedulers(test_jobs):
    test_jobs.QUIETSHELF_JOBS_SCHEDULE = {
        **test_jobs.QUIETSHELF_JOBS_SCHEDULE,
        "test-effects": "daily 01:00",
    }
    first = services.tick(worker="host-a:1", now=NOW)
    second = services.tick(worker="host-b:2", now=NOW)
    assert first == [("test-effects", "2026-11-23")]
    assert second == []
    assert JobRun.objects.filter(job="test-effects").count() == 1


def test_cir5_run_job_records_count_and_claims_once(test_jobs, effect_tables, caplog):
    _queued()
    caplog.set_level("INFO", logger="quietshelf.jobs")
    run = services.run_job("test-effects", slot="2026-11-23", worker="me:1")
    assert run.state == RunState.SUCCEEDED and run.result_count == 4
    assert services.run_job("test-effects", slot="2026-11-23", worker="me:1") is None
    assert call_count() == 1
    assert "job test-effects 2026-11-23: 4 (" in caplog.text


def test_cir5_two_workers_at_once_on_one_slot_run_it_once(test_jobs, effect_tables, monkeypatch):
    """Eight threads (own database connections) race for the same queued slot."""
    monkeypatch.setenv("QS_TEST_JOB_PAUSE", "0.05")
    _queued()
    results, barrier = [], threading.Barrier(8)

    def race(i):
        barrier.wait()
        try:
            results.append(services.run_job("test-effects", slot="2026-11-23", worker=f"w:{i}"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len([r for r in results if r is not None]) == 1
    assert call_count() == 1
    assert len(sent_rows()) == 4


def test_cir5_failed_job_is_recorded_without_personal_values_and_retry_runs_it(
    test_jobs, monkeypatch
):
    admin = make_staff("jobs-admin-1", roles=["administrator"])
    _queued(job="test-fails")
    run = services.run_job("test-fails", slot="2026-11-23", worker="me:1")
    assert run.state == RunState.FAILED
    assert run.error.startswith("RuntimeError: could not reach the notice gateway")
    assert "23000000042" not in run.error
    monkeypatch.setenv("QS_TEST_JOB_FIXED", "1")
    again = services.retry_run(actor=admin, run_id=run.pk)
    assert (again.state, again.attempt) == (RunState.QUEUED, 2)
    done = services.run_job("test-fails", slot="2026-11-23", worker="me:1")
    assert (done.state, done.result_count, done.error) == (RunState.SUCCEEDED, 7, "")
    assert AuditEntry.objects.filter(object_type="jobs.jobrun", object_id=str(run.pk)).exists()
    with pytest.raises(Conflict):
        services.retry_run(actor=admin, run_id=run.pk)
    with pytest.raises(NotFound):
        services.retry_run(actor=admin, run_id="nope")


def test_cir5_job_whose_code_is_missing_fails_its_run_not_the_worker(test_jobs):
    _queued(job="test-missing")
    run = services.run_job("test-missing", slot="2026-11-23", worker="me:1")
    assert run.state == RunState.FAILED
    assert "cannot import tests.jobs.not_there:nothing" in run.error


def test_cir5_run_now_and_retry_need_run_jobs(test_jobs, sqlite_huey):
    reader = make_staff("jobs-reader-1", roles=["report-reader"])
    with pytest.raises(PermissionDenied):
        services.run_now(actor=reader, job="test-effects")
    admin = make_staff("jobs-admin-2", roles=["administrator"])
    with pytest.raises(NotFound):
        services.run_now(actor=admin, job="no-such-job")
    run = services.run_now(actor=admin, job="test-effects")
    assert run.state == RunState.QUEUED
    assert sqlite_huey.pending_count() == 1  # handed to the queue after commit


def test_cir5_run_left_by_a_dead_worker_is_taken_over(test_jobs, effect_tables):
    """A run whose worker process is gone goes back to the queue, attempt 2."""
    run = _queued()
    dead = services.worker_id().rsplit(":", 1)[0] + ":999999999"
    JobRun.objects.filter(pk=run.pk).update(
        state=RunState.RUNNING, worker=dead, started_at=NOW, heartbeat_at=NOW
    )
    due = services.tick(worker="me:1", now=NOW)
    assert due == [("test-effects", "2026-11-23")]
    run.refresh_from_db()
    assert (run.state, run.attempt) == (RunState.QUEUED, 2)


def test_cir5_run_on_a_silent_remote_worker_is_taken_over_after_the_stale_time(
    test_jobs, effect_tables
):
    run = _queued()
    JobRun.objects.filter(pk=run.pk).update(
        state=RunState.RUNNING, worker="elsewhere:42", started_at=NOW, heartbeat_at=NOW
    )
    assert services.tick(worker="me:1", now=NOW + dt.timedelta(seconds=60)) == []
    later = NOW + dt.timedelta(seconds=121)
    assert services.tick(worker="me:1", now=later) == [("test-effects", "2026-11-23")]


def test_cir5_run_that_keeps_killing_workers_is_given_up(test_jobs, effect_tables):
    run = _queued()
    JobRun.objects.filter(pk=run.pk).update(
        state=RunState.RUNNING, worker="elsewhere:42", heartbeat_at=NOW, attempt=3
    )
    assert services.tick(worker="me:1", now=NOW + dt.timedelta(hours=1)) == []
    run.refresh_from_db()
    assert run.state == RunState.FAILED and run.error.startswith("WorkerLost:")


def test_cir5_describe_error_masks_values_prv_log_1():
    """PRV-LOG-1: a system error keeps its first line with values masked; any other
    exception keeps only its class, since its text may quote the data it choked on."""
    from django.db import OperationalError

    from quietshelf.core.errors import InvalidInput

    text = services.describe_error(
        OperationalError("bad 'Kari Nordmann' kari@example.org 12345678 +47 912 34 567\nx")
    )
    assert text == "OperationalError: bad '…' … … …"
    assert services.describe_error(InvalidInput("No such branch.")) == (
        "InvalidInput: No such branch."
    )
    withheld = services.describe_error(ValueError("patron Kari Nordmann, phone 912 34 567"))
    assert withheld == "ValueError (message withheld: it may quote data)"
    assert "Kari" not in services.describe_error(KeyError("Kari Nordmann"))
    assert "Kari" not in services.describe_error(TypeError("Kari Nordmann is not a date"))


def test_cir5_prune_runs_deletes_old_records(test_jobs, settings):
    settings.QUIETSHELF_JOBS_KEEP_DAYS = 7
    old = _queued(slot="2026-11-01")
    JobRun.objects.filter(pk=old.pk).update(
        state=RunState.SUCCEEDED, created_at=NOW - dt.timedelta(days=8)
    )
    _queued(slot="2026-11-23")
    assert services.prune_runs(today=dt.date(2026, 11, 23)) == 1
    assert list(JobRun.objects.values_list("slot", flat=True)) == ["2026-11-23"]


def test_cir5_queued_run_whose_task_was_lost_is_handed_over_again(test_jobs):
    """A worker that died between taking the task and claiming the run loses nothing."""
    run = _queued()
    assert services.tick(worker="me:1", now=NOW + dt.timedelta(seconds=60)) == []
    later = NOW + dt.timedelta(seconds=121)
    assert services.tick(worker="me:1", now=later) == [("test-effects", "2026-11-23")]
    run.refresh_from_db()
    assert run.queued_at == later and run.state == RunState.QUEUED
    assert services.tick(worker="me:1", now=later + dt.timedelta(seconds=1)) == []


def test_cir5_older_scheduled_run_never_started_is_retired_by_the_next_slot(test_jobs):
    test_jobs.QUIETSHELF_JOBS_SCHEDULE = {
        **test_jobs.QUIETSHELF_JOBS_SCHEDULE,
        "test-effects": "daily 01:00",
    }
    old = _queued(slot="2026-11-22", day=dt.date(2026, 11, 22))
    assert services.tick(worker="me:1", now=NOW) == [("test-effects", "2026-11-23")]
    old.refresh_from_db()
    assert old.state == RunState.SKIPPED and old.error == "a later run covers it"
    assert services.run_job("test-effects", slot="2026-11-22", worker="me:1") is None
