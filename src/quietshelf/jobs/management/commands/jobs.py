"""quietshelf jobs: the schedule and each job's last run."""

from __future__ import annotations

from quietshelf.core.commands import QuietshelfCommand


class Command(QuietshelfCommand):
    help = "List the scheduled jobs with their schedule and last run."

    def handle(self, *args, **options):
        from quietshelf.jobs import selectors

        data = selectors.overview(actor=None)
        width = max(len(row.spec.name) for row in data.rows)
        for row in data.rows:
            last = row.last
            if last is None:
                shown = "never run"
            else:
                shown = f"{last.state} {last.slot}"
                if last.result_count is not None:
                    shown += f": {last.result_count}"
                if last.error:
                    shown += f" ({last.error})"
            self.stdout.write(f"{row.spec.name:<{width}}  {str(row.spec.schedule):<16}  {shown}")
        queued = "unavailable" if data.queue_length is None else data.queue_length
        self.stdout.write(f"Queue: {data.storage}; waiting tasks: {queued}")
        if not data.workers:
            self.stdout.write("No worker seen in the last 3 minutes: run quietshelf worker.")
