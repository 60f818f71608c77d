"""quietshelf run-job NAME [--date YYYY-MM-DD]: run one job now, in this process."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import CommandError

from quietshelf.core.commands import QuietshelfCommand, UsageError


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--date must be YYYY-MM-DD, not {text!r}") from None


class Command(QuietshelfCommand):
    help = "Run one job now in this process (see quietshelf jobs for the names)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the job's name, e.g. overdue-fines")
        parser.add_argument("--date", help="the library day the job runs for (default today)")

    def handle(self, *args, name: str, date: str | None, **options):
        from quietshelf.jobs import registry, services

        for_date = _date(date) if date else None
        if registry.get(name) is None:
            names = ", ".join(spec.name for spec in registry.jobs())
            raise UsageError(f"no job named {name!r} (jobs: {names})")
        run = services.run_here(job=name, for_date=for_date)
        seconds = run.duration.total_seconds() if run.duration else 0.0
        if run.error:
            raise CommandError(f"job {run.job} {run.for_date} failed: {run.error}", returncode=1)
        shown = "done" if run.result_count is None else run.result_count
        self.stdout.write(f"job {run.job} {run.for_date}: {shown} ({seconds:.1f} s)")
