"""quietshelf retention: apply the retention schedule (PRV-RET-1), or with --dry-run count it.

    quietshelf retention --dry-run     what would be de-identified, deleted or erased, and why
    quietshelf retention run           do it, in set-based batches, with progress

Another run holding the lock: one line, exit status 2.
"""

from __future__ import annotations

import datetime as dt

from quietshelf.core.commands import QuietshelfCommand, UsageError
from quietshelf.privacy import retention


class Command(QuietshelfCommand):
    help = "Apply the retention schedule (run), or show what it would do (--dry-run)."

    def add_arguments(self, parser):
        parser.add_argument("action", nargs="?", choices=["run"], help="run: apply it")
        parser.add_argument(
            "--dry-run", action="store_true", help="count only; change nothing (safe in production)"
        )
        parser.add_argument("--date", help="the library day to apply it for (YYYY-MM-DD)")
        parser.add_argument(
            "--only", action="append", help="a category or rule key (repeatable)", default=None
        )

    def handle(self, *args, action, dry_run: bool, date, only, **options):
        if bool(action) == dry_run:
            raise UsageError("say either 'run' or '--dry-run'")
        today = None
        if date:
            try:
                today = dt.date.fromisoformat(date)
            except ValueError:
                raise UsageError(f"--date: not a date (YYYY-MM-DD): {date!r}") from None
        known = {s.key for s in retention.steps()} | set(retention.schedule())
        for name in only or ():
            if name not in known:
                raise UsageError(f"--only: no retention category or rule {name!r}")
        bars: dict[str, object] = {}

        def progress(report: retention.StepReport) -> None:
            bar = bars.get(report.key)
            if bar is None:
                bar = bars[report.key] = self.progress(
                    total=report.due or None, unit="row", desc=report.key
                )
            bar.n = report.done
            bar.refresh()

        try:
            result = retention.run(
                today=today, dry_run=dry_run, only=only, progress=None if dry_run else progress
            )
        except retention.RetentionLocked as exc:
            raise UsageError(str(exc)) from None
        finally:
            for bar in bars.values():
                bar.close()
        for r in result.reports:
            if dry_run:
                line = f"{r.key:<26} {r.action:<16} would: {r.due:>9,}"
            else:
                line = f"{r.key:<26} {r.action:<16} done: {r.done:>9,}"
            extra = []
            if r.held:
                extra.append(f"held by legal hold: {r.held:,}")
            if r.held_rule:
                extra.append("the whole category is under a legal hold")
            if r.kept:
                extra.append(f"kept: {r.kept:,}")
            rule = retention.schedule()[r.rule]
            self.stdout.write(
                f"{line}  [{r.rule}: {rule.text()}] {r.why}"
                + (f" ({'; '.join(extra)})" if extra else "")
            )
        self.stdout.write(result.summary())
