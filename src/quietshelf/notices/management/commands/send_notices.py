"""quietshelf send-notices [--date YYYY-MM-DD] [--dry-run]: queue and send notices.

Queues due-soon, overdue, hold-ready, expiring-card and fee notices (each
idempotent: running twice sends nothing twice), delivers what is queued and
reduces sent notices to counts (PRV-NOT-1). For cron until the worker
schedules it. The summary line carries counts only.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from quietshelf.core import clock
from quietshelf.core.commands import QuietshelfCommand, UsageError
from quietshelf.notices import services

JOBS = (
    ("due soon", services.queue_due_soon_notices),
    ("overdue", services.queue_overdue_notices),
    ("hold ready", services.queue_hold_ready_notices),
    ("expiring card", services.queue_expiring_card_notices),
    ("fees", services.queue_fee_notices),
)


class _DryRun(Exception):
    pass


class Command(QuietshelfCommand):
    help = "Queue the day's notices, send what is queued and reduce sent notices to counts."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="queue as of this day (YYYY-MM-DD; default today)")
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be queued; send nothing"
        )

    def handle(self, *args, date=None, dry_run=False, **options):
        if date:
            try:
                today = dt.date.fromisoformat(date)
            except ValueError:
                raise UsageError(f"not a date (YYYY-MM-DD): {date[:40]}") from None
        else:
            today = clock.today()
        queued = {}
        try:
            with transaction.atomic():
                for label, job in JOBS:
                    queued[label] = job(today=today)
                if dry_run:
                    raise _DryRun
        except _DryRun:
            parts = ", ".join(f"{n} {label}" for label, n in queued.items())
            self.stdout.write(f"send-notices {today} (dry run): would queue {parts}; sent nothing")
            return
        sent = 0
        bar = self.progress(unit="notice", desc="sending")
        while True:
            taken, n = services.deliver_round(limit=500)
            bar.update(n)
            sent += n
            if taken == 0:
                break
        bar.close()
        reduced = services.reduce_notice_history(today=today)
        parts = ", ".join(f"{n} {label}" for label, n in queued.items())
        self.stdout.write(
            f"send-notices {today}: queued {parts}; sent {sent}; reduced {reduced} to counts"
        )
