"""Thin huey tasks: names and slots in, services do the work.

`register(huey)` puts them on a given instance (the application's from
queue.get_huey(), or a test's own), so nothing is bound at import time.
"""

from __future__ import annotations

from django.db import close_old_connections
from huey import crontab

RUN_JOB = "quietshelf.run_job"
TICK = "quietshelf.tick"


def register(huey) -> None:
    from quietshelf.jobs import services

    @huey.task(name=RUN_JOB)
    def run_job(name: str, slot: str) -> None:
        # Worker threads live long: drop connections the database has closed.
        close_old_connections()
        try:
            services.run_job(name, slot=slot, worker=services.worker_id())
        finally:
            close_old_connections()

    # Every worker's scheduler enqueues this each minute; on Redis several
    # workers do, which is harmless: runs are claimed in the database. A tick
    # that waited in the queue more than 50 s is dropped, the next one does it.
    @huey.periodic_task(crontab(), name=TICK, expires=50)
    def tick() -> None:
        close_old_connections()
        try:
            for name, slot in services.tick(
                worker=services.worker_id(), storage=getattr(huey, "qs_storage", "")
            ):
                run_job(name, slot)
        finally:
            close_old_connections()

    huey.qs_run_job = run_job
    huey.qs_tick = tick
