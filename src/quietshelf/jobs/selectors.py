"""Reads for the jobs page, the API and `quietshelf jobs`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Max
from django.utils import timezone

from quietshelf.accounts.authz import require
from quietshelf.core import clock
from quietshelf.jobs import queue, registry
from quietshelf.jobs.models import JobRun, RunState, WorkerSeen

RECENT_FAILURES = 20
WORKER_SILENT_AFTER = dt.timedelta(minutes=3)


@dataclass
class JobRow:
    spec: registry.JobSpec
    last: JobRun | None
    next_start: dt.datetime | None  # aware, library time zone


@dataclass
class Overview:
    rows: list[JobRow]
    failures: list[JobRun]
    active: list[JobRun]
    queue_length: int | None
    storage: str
    workers: list[WorkerSeen]


def overview(*, actor) -> Overview:
    """Every job with its schedule and last run, recent failures, the queue, live workers."""
    require(actor, "jobs.view_jobs")
    now = clock.now()
    local = timezone.localtime(now).replace(tzinfo=None)
    specs = registry.jobs()
    latest_ids = (
        JobRun.objects.filter(job__in=[s.name for s in specs])
        .values("job")
        .annotate(last=Max("id"))
        .values_list("last", flat=True)
    )
    last = {run.job: run for run in JobRun.objects.filter(pk__in=list(latest_ids))}
    rows = []
    for spec in specs:
        start = spec.schedule.next_start(local)
        rows.append(
            JobRow(
                spec=spec,
                last=last.get(spec.name),
                next_start=timezone.make_aware(start) if start else None,
            )
        )
    huey = queue.get_huey()
    return Overview(
        rows=rows,
        failures=list(
            JobRun.objects.filter(state=RunState.FAILED).order_by("-id")[:RECENT_FAILURES]
        ),
        active=list(
            JobRun.objects.filter(state__in=[RunState.QUEUED, RunState.RUNNING]).order_by("-id")[
                :50
            ]
        ),
        queue_length=queue.queue_length(huey),
        storage=huey.qs_storage,
        workers=list(WorkerSeen.objects.filter(seen_at__gte=now - WORKER_SILENT_AFTER)),
    )
