"""The jobs API at /api/v1/jobs: the schedule with last runs, run now, retry.

Staff token or staff session; jobs.view_jobs to read, jobs.run_jobs to act
(checked in the selector and services). Mounted in api/main.py with
`api.add_router("/jobs", "quietshelf.jobs.api.router")`.
"""

from __future__ import annotations

import datetime as dt

from ninja import Router, Schema, Status

from quietshelf.core.api_auth import staff_auth
from quietshelf.core.schemas import ErrorDetail, ErrorOut  # noqa: F401  (one error shape)
from quietshelf.jobs import selectors, services
from quietshelf.jobs.models import JobRun


class RunOut(Schema):
    id: int
    job: str
    slot: str
    for_date: dt.date
    trigger: str
    state: str
    attempt: int
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    result_count: int | None
    error: str


class JobOut(Schema):
    name: str
    description: str
    schedule: str
    next_start: dt.datetime | None
    last_run: RunOut | None


class JobsOut(Schema):
    jobs: list[JobOut]
    failures: list[RunOut]
    queue_length: int | None
    workers: list[str]


ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _run(run: JobRun | None) -> dict | None:
    if run is None:
        return None
    return {
        f: getattr(run, f)
        for f in (
            "id job slot for_date trigger state attempt started_at finished_at result_count error"
        ).split()
    }


def build_router() -> Router:
    """A fresh router (a ninja router belongs to one API; tests mount their own)."""
    router = Router(tags=["jobs"], auth=staff_auth)

    @router.get("", response={200: JobsOut, **ERRORS}, summary="Scheduled jobs and their runs")
    def jobs(request):
        data = selectors.overview(actor=request.auth)
        return {
            "jobs": [
                {
                    "name": row.spec.name,
                    "description": row.spec.description,
                    "schedule": str(row.spec.schedule),
                    "next_start": row.next_start,
                    "last_run": _run(row.last),
                }
                for row in data.rows
            ],
            "failures": [_run(run) for run in data.failures],
            "queue_length": data.queue_length,
            "workers": [w.worker for w in data.workers],
        }

    @router.post("/{name}/run", response={202: RunOut, **ERRORS}, summary="Run a job now")
    def run_now(request, name: str):
        return Status(202, _run(services.run_now(actor=request.auth, job=name)))

    @router.post("/runs/{run_id}/retry", response={202: RunOut, **ERRORS}, summary="Retry a run")
    def retry(request, run_id: int):
        return Status(202, _run(services.retry_run(actor=request.auth, run_id=run_id)))

    return router


router = build_router()
