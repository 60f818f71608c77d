"""quietshelf circulation-daily [--date YYYY-MM-DD]: the daily circulation jobs.

Brings overdue fines of loans still out up to date (CIR-4), expires holds left
on the hold shelf (CIR-3), de-identifies loans closed longer than
QUIETSHELF_LOAN_DEIDENTIFY_DAYS (PRV-HIST-1) and deletes expired last-borrower
escrow rows (PRV-HIST-4). Safe to run more than once a day. The jobs issue
schedules it; until then, cron.
"""

from __future__ import annotations

import datetime as dt

from quietshelf.circulation import services
from quietshelf.core import clock
from quietshelf.core.commands import QuietshelfCommand, UsageError


class Command(QuietshelfCommand):
    help = "Run the daily circulation jobs: fines, hold-shelf expiry, de-identification, escrow."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="run as of this day (YYYY-MM-DD; default today)")

    def handle(self, *args, date=None, **options):
        if date:
            try:
                today = dt.date.fromisoformat(date)
            except ValueError:
                raise UsageError(f"not a date (YYYY-MM-DD): {date[:40]}") from None
        else:
            today = clock.today()
        fines = services.charge_overdue_fines(today=today)
        expired = services.expire_hold_shelf(today=today)
        deidentified = services.deidentify_closed_loans(today=today)
        purged = services.purge_escrow(today=today)
        self.stdout.write(
            f"circulation-daily {today}: {fines} fines brought up to date, "
            f"{expired} holds expired on the shelf, {deidentified} loans de-identified, "
            f"{purged} escrow rows deleted"
        )
