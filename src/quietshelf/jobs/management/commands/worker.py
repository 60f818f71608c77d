"""quietshelf worker: runs queued and scheduled jobs (huey consumer, threads).

Storage: SQLite in the instance folder (jobs.sqlite3) by default, Redis when
QUIETSHELF_REDIS_URL is set. Run one beside `quietshelf serve` (docs/jobs.md
has systemd units); with Redis, several workers on several hosts may share
the queue. SIGTERM and Ctrl-C let running jobs finish, then stop; a job cut
short by SIGKILL or a crash is taken over by the next worker to start.
"""

from __future__ import annotations

import logging
import sys

from quietshelf.core.commands import QuietshelfCommand, UsageError

MAX_THREADS = 64


def _log_to_console(verbosity: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    huey_log = logging.getLogger("huey")
    if not huey_log.handlers:
        huey_log.addHandler(handler)
    # huey names tasks and their arguments: job names and slots, nothing personal.
    huey_log.setLevel(logging.INFO if verbosity >= 2 else logging.WARNING)
    huey_log.propagate = False


class Command(QuietshelfCommand):
    help = (
        "Run queued and scheduled jobs: fines, hold expiry, notices, audit sealing "
        "(SQLite queue in the instance folder, or Redis with QUIETSHELF_REDIS_URL)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--workers", type=int, default=2, help="jobs run at once (threads), default 2"
        )

    def handle(self, *args, workers: int, verbosity: int = 1, **options):
        if not 1 <= workers <= MAX_THREADS:
            raise UsageError(f"--workers must be between 1 and {MAX_THREADS}, not {workers}")
        from django.core.exceptions import ImproperlyConfigured
        from django.db import DatabaseError

        from quietshelf.jobs import queue, registry, services
        from quietshelf.jobs.consumer import GracefulConsumer

        try:
            registry.jobs()
        except ImproperlyConfigured as exc:
            raise UsageError(str(exc)) from None
        from quietshelf.privacy.keys import MasterKeyError, startup_check

        try:
            startup_check()
        except MasterKeyError as exc:
            raise UsageError(str(exc)) from None
        except DatabaseError:
            raise UsageError(
                "the database is not ready (unreachable or not migrated): run quietshelf migrate"
            ) from None
        huey = queue.get_huey()
        try:
            waiting = huey.pending_count()
        except Exception as exc:  # noqa: BLE001 - Redis down, bad URL, unwritable file
            raise UsageError(
                f"cannot open the job queue ({huey.qs_storage}): {type(exc).__name__}"
            ) from None
        _log_to_console(verbosity)
        me = services.worker_id()
        self.stdout.write(
            f"Worker {me}: {workers} thread(s), queue {huey.qs_storage}, {waiting} waiting "
            "(Ctrl-C to stop)"
        )
        self.stdout.flush()
        # Catch up at once instead of at the next minute: due slots, and runs
        # a killed worker left behind.
        for name, slot in services.tick(worker=me, storage=huey.qs_storage):
            queue.enqueue_run(name, slot, huey=huey)
        consumer = GracefulConsumer(
            huey, workers=workers, periodic=True, worker_type="thread", check_worker_health=True
        )
        consumer.run()
        self.stdout.write("Worker stopped.")
