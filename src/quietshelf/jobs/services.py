"""Running scheduled jobs: the scheduler's tick, claiming and recording runs.

Concurrency (DESIGN.md rule 3): a run is one JobRun row, unique on (job,
slot). The tick inserts the row (only one insert can win) and a worker moves
it from queued to running with a conditional UPDATE (only one can win), so
two workers, or two instances of the scheduler on one Redis, never run a
slot twice. While it runs, a heartbeat thread touches the row; a run whose
worker died (its process is gone, or its heartbeat stopped) is put back in
the queue by the next tick and runs again. The jobs themselves are
idempotent: each one brings its work up to date and claims each piece of it
(a notice, a fine day) in the database, so running again repeats nothing and
loses nothing (docs/jobs.md).

Logs carry job names, slots and counts only.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import secrets
import socket
import threading
import time

from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db.models import F
from django.utils import timezone

from quietshelf.accounts.authz import require
from quietshelf.core import clock
from quietshelf.core.errors import Conflict, DomainError, NotFound
from quietshelf.jobs import conf, queue, registry
from quietshelf.jobs.models import JobRun, RunState, Trigger, WorkerSeen
from quietshelf.privacy import audit

log = logging.getLogger("quietshelf.jobs")

_EMAIL = re.compile(r"\S+@\S+")
_NUMBER = re.compile(r"\d{6,}")
_PHONE = re.compile(r"\+?\d[\d ()./-]{5,}\d")
_QUOTED = re.compile(r"""(['"]).{1,200}?\1""")


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# Whose messages are written by us or by the system (domain errors, database,
# network, imports, the runtime), never by data: their first line is kept, masked. Any other
# exception's text can quote a value it choked on, a name say, so only its
# class is kept (PRV-LOG-1).
_TELLING = (DomainError, DatabaseError, OSError, ImportError, RuntimeError, registry.JobUnavailable)


def describe_error(exc: BaseException) -> str:
    """Exception class, and for system errors the first line of the message with
    anything that could be a personal value (quoted values, e-mail addresses,
    long numbers, phone numbers) masked."""
    if not isinstance(exc, _TELLING):
        return f"{type(exc).__name__} (message withheld: it may quote data)"
    lines = str(exc).strip().splitlines()
    first = lines[0] if lines else ""
    first = _PHONE.sub("…", _EMAIL.sub("…", _NUMBER.sub("…", _QUOTED.sub("'…'", first))))
    return f"{type(exc).__name__}: {first}".rstrip(": ")[:500]


# --- the scheduler ---------------------------------------------------------------------------


def tick(
    *, worker: str, storage: str = "", now: dt.datetime | None = None
) -> list[tuple[str, str]]:
    """Decide what is due: (job, slot) pairs the caller hands to the queue.

    Inserts a queued run for each job's latest slot that has none, retires
    older scheduled runs that never started, takes over runs whose worker
    died, and hands over again runs whose hand-over to the queue was lost.
    """
    now = now or clock.now()
    _seen(worker, storage, now)
    local = timezone.localtime(now)
    due: list[tuple[str, str]] = []
    latest = {}
    for spec in registry.jobs():
        slot = spec.schedule.latest(local)
        if slot is not None:
            latest[spec.name] = slot
    existing = set(
        JobRun.objects.filter(slot__in={s.key for s in latest.values()}).values_list("job", "slot")
    )
    for name, slot in latest.items():
        if (name, slot.key) in existing:
            continue
        if _insert_run(name, slot.key, slot.day, Trigger.SCHEDULE, now):
            due.append((name, slot.key))
            # A scheduled run that never started is covered by the newer slot.
            JobRun.objects.filter(
                job=name, trigger=Trigger.SCHEDULE, state=RunState.QUEUED
            ).exclude(slot=slot.key).update(
                state=RunState.SKIPPED, finished_at=now, error="a later run covers it"
            )
    due += _recover(now)
    return due


def _seen(worker: str, storage: str, now: dt.datetime) -> None:
    updated = WorkerSeen.objects.filter(worker=worker).update(seen_at=now)
    if not updated:
        try:
            with transaction.atomic():
                WorkerSeen.objects.create(
                    worker=worker, storage=storage[:200], started_at=now, seen_at=now
                )
        except IntegrityError:
            pass


def _insert_run(name: str, slot: str, day: dt.date, trigger: str, now: dt.datetime) -> bool:
    try:
        with transaction.atomic():
            JobRun.objects.create(
                job=name, slot=slot, for_date=day, trigger=trigger, created_at=now, queued_at=now
            )
    except IntegrityError:
        return False  # another scheduler inserted it first
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lost(run: JobRun, now: dt.datetime) -> bool:
    """Has the worker running this run gone away?

    On this host the process table says so at once; elsewhere (or for a run
    that hangs) the heartbeat going stale does.
    """
    stale = dt.timedelta(seconds=conf.stale_seconds())
    beat = run.heartbeat_at or run.started_at or run.queued_at
    host, _sep, pid = run.worker.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        return not _pid_alive(int(pid)) or beat < now - 10 * stale
    return beat < now - stale


def _recover(now: dt.datetime) -> list[tuple[str, str]]:
    due = []
    for run in JobRun.objects.filter(state=RunState.RUNNING):
        if not _lost(run, now):
            continue
        same = JobRun.objects.filter(
            pk=run.pk, state=RunState.RUNNING, worker=run.worker, heartbeat_at=run.heartbeat_at
        )
        newer = (
            run.trigger == Trigger.SCHEDULE
            and JobRun.objects.filter(job=run.job, trigger=Trigger.SCHEDULE, pk__gt=run.pk).exists()
        )
        if newer or run.attempt >= conf.max_attempts():
            why = "a later run covers it" if newer else f"gave up after {run.attempt} attempts"
            if same.update(
                state=RunState.FAILED,
                finished_at=now,
                error=f"WorkerLost: the worker {run.worker} stopped during the run; {why}",
            ):
                log.warning("job %s %s: worker %s lost; %s", run.job, run.slot, run.worker, why)
            continue
        if same.update(state=RunState.QUEUED, attempt=F("attempt") + 1, queued_at=now, worker=""):
            log.warning(
                "job %s %s: worker %s lost; run taken over (attempt %d)",
                run.job,
                run.slot,
                run.worker,
                run.attempt + 1,
            )
            due.append((run.job, run.slot))
    stale = now - dt.timedelta(seconds=conf.stale_seconds())
    for run in JobRun.objects.filter(state=RunState.QUEUED, queued_at__lt=stale):
        if JobRun.objects.filter(pk=run.pk, state=RunState.QUEUED, queued_at=run.queued_at).update(
            queued_at=now
        ):
            due.append((run.job, run.slot))
    return due


# --- running one job -------------------------------------------------------------------------


class _Heartbeat(threading.Thread):
    def __init__(self, run_id: int, worker: str):
        super().__init__(name=f"heartbeat-{run_id}", daemon=True)
        self.run_id, self.worker = run_id, worker
        self.done = threading.Event()

    def run(self) -> None:
        try:
            while not self.done.wait(conf.heartbeat_seconds()):
                try:
                    JobRun.objects.filter(
                        pk=self.run_id, state=RunState.RUNNING, worker=self.worker
                    ).update(heartbeat_at=clock.now())
                except Exception as exc:  # noqa: BLE001 - a locked database: try again next beat
                    log.debug("heartbeat of run %s: %s", self.run_id, type(exc).__name__)
        finally:
            connections.close_all()  # this thread's own connections

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=30)


def _claim(name: str, slot: str, worker: str) -> JobRun | None:
    now = clock.now()
    with transaction.atomic():
        claimed = JobRun.objects.filter(job=name, slot=slot, state=RunState.QUEUED).update(
            state=RunState.RUNNING,
            started_at=now,
            heartbeat_at=now,
            finished_at=None,
            worker=worker,
        )
    if claimed != 1:
        return None
    return JobRun.objects.get(job=name, slot=slot)


def run_job(name: str, *, slot: str, worker: str) -> JobRun | None:
    """Claim the queued run (name, slot), call the job, record the outcome.

    Returns the finished run, or None when it was not there to claim (another
    worker has it, it is done, or a later slot retired it). Not one
    transaction: the claim and the record commit on their own, around the
    job's own transactions, so a killed worker leaves a visible running row.
    """
    run = _claim(name, slot, worker)
    if run is None:
        log.debug("job %s %s: not queued (taken, done or retired)", name, slot)
        return None
    spec = registry.get(name)
    beat = _Heartbeat(run.pk, worker)
    beat.start()
    started = time.monotonic()
    count, error = None, ""
    try:
        if spec is None:
            raise registry.JobUnavailable(f"no job named {name} in the schedule")
        count = spec.call(today=run.for_date)
    except Exception as exc:  # noqa: BLE001 - a failed job is recorded; the worker goes on
        error = describe_error(exc)
    finally:
        beat.stop()
    seconds = time.monotonic() - started
    state = RunState.FAILED if error else RunState.SUCCEEDED
    kept = JobRun.objects.filter(pk=run.pk, state=RunState.RUNNING, worker=worker).update(
        state=state, finished_at=clock.now(), result_count=count, error=error
    )
    if not kept:
        log.warning("job %s %s: finished after another worker took it over", name, slot)
    elif error:
        log.warning("job %s %s: failed after %.1f s: %s", name, slot, seconds, error)
    else:
        shown = "done" if count is None else count
        log.info("job %s %s: %s (%.1f s)", name, slot, shown, seconds)
    run.refresh_from_db()
    return run


# --- staff and operator actions ---------------------------------------------------------


def _spec_or_404(job: str) -> registry.JobSpec:
    spec = registry.get(str(job or ""))
    if spec is None:
        raise NotFound("No such job.", code="job_not_found")
    return spec


def _manual_slot(now: dt.datetime, kind: str) -> str:
    return f"{kind}-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


@transaction.atomic(durable=True)
def run_now(*, actor, job: str) -> JobRun:
    """Queue a run of `job` outside its schedule (jobs are idempotent, so an extra
    run repeats nothing). A worker picks it up."""
    require(actor, "jobs.run_jobs")
    spec = _spec_or_404(job)
    now = clock.now()
    run = JobRun.objects.create(
        job=spec.name,
        slot=_manual_slot(now, "now"),
        for_date=timezone.localdate(now),
        trigger=Trigger.MANUAL,
        created_at=now,
        queued_at=now,
    )
    audit.record(actor=actor, action="created", obj=run, reason="job run requested")
    transaction.on_commit(lambda: queue.enqueue_run(run.job, run.slot))
    return run


@transaction.atomic(durable=True)
def retry_run(*, actor, run_id) -> JobRun:
    """Queue a failed run again (the same slot, the next attempt)."""
    require(actor, "jobs.run_jobs")
    try:
        pk = int(run_id)
    except (TypeError, ValueError):
        raise NotFound("No such run.", code="run_not_found") from None
    run = JobRun.objects.filter(pk=pk).first()
    if run is None:
        raise NotFound("No such run.", code="run_not_found")
    now = clock.now()
    moved = JobRun.objects.filter(pk=pk, state=RunState.FAILED).update(
        state=RunState.QUEUED, attempt=F("attempt") + 1, queued_at=now, worker=""
    )
    if not moved:
        raise Conflict("Only a failed run can be retried.", code="run_not_failed")
    audit.record(actor=actor, action="changed", obj=run, reason="job run retried")
    run.refresh_from_db()
    transaction.on_commit(lambda: queue.enqueue_run(run.job, run.slot))
    return run


def run_here(*, job: str, for_date: dt.date | None = None) -> JobRun:
    """Run `job` in this process now (quietshelf run-job), recorded like any run."""
    spec = _spec_or_404(job)
    now = clock.now()
    run = JobRun.objects.create(
        job=spec.name,
        slot=_manual_slot(now, "cli"),
        for_date=for_date or timezone.localdate(now),
        trigger=Trigger.CLI,
        created_at=now,
        queued_at=now,
    )
    done = run_job(run.job, slot=run.slot, worker=worker_id())
    if done is None:  # not possible unless someone else claimed a slot nobody else knows
        raise Conflict("The run was claimed elsewhere.", code="run_claimed")
    return done


def prune_runs(*, today: dt.date | None = None) -> int:
    """Delete finished run records and silent workers older than QUIETSHELF_JOBS_KEEP_DAYS."""
    today = today or clock.today()
    cutoff = timezone.make_aware(
        dt.datetime.combine(today - dt.timedelta(days=conf.keep_days()), dt.time())
    )
    n, _ = JobRun.objects.filter(
        state__in=[RunState.SUCCEEDED, RunState.FAILED, RunState.SKIPPED],
        created_at__lt=cutoff,
    ).delete()
    WorkerSeen.objects.filter(seen_at__lt=cutoff).delete()
    return n
