"""quietshelf erase-patron PATRON_ID --reason R: erase a patron, exceptions shown first."""

from __future__ import annotations

from django.core.management.base import CommandError

from quietshelf.core.commands import QuietshelfCommand, UsageError
from quietshelf.core.errors import DomainError
from quietshelf.privacyoffice import policy, selectors, services


class Command(QuietshelfCommand):
    help = (
        "Erase a patron account (PRV-DSR-4). The exceptions are printed first; the erasure "
        "is refused while a loan is out or unpaid fees wait (QUIETSHELF_ERASURE_UNRESOLVED_FEES)."
    )

    def add_arguments(self, parser):
        parser.add_argument("patron_id", help="the patron's id (a UUID; never a card number)")
        parser.add_argument(
            "--reason", required=True, choices=sorted(policy.ERASURE_REASONS), help="why"
        )
        parser.add_argument("--case", default=None, help="the erasure request case it answers")
        parser.add_argument(
            "--dry-run", action="store_true", help="only show the exceptions; erase nothing"
        )

    def handle(self, *args, patron_id: str, reason: str, case, dry_run: bool, **options):
        try:
            preview = selectors.erasure_preview(actor=None, patron_id=patron_id)
        except DomainError as exc:
            raise UsageError(exc.message) from None
        for e in preview.exceptions:
            mark = "BLOCKS" if e.blocking else "kept"
            self.stdout.write(f"  [{mark}] {e.message}")
        if not preview.exceptions:
            self.stdout.write("  no exceptions: everything about the account is erased")
        if dry_run:
            self.stdout.write("dry run: nothing erased")
            if preview.blocked:
                raise CommandError("erasure would be refused", returncode=1)
            return
        try:
            result = services.patron_erasure_execute(
                actor=None, patron_id=patron_id, reason=reason, case_id=case
            )
        except DomainError as exc:
            raise UsageError(exc.message) from None
        told = ", ".join(result.recipients) or "none in the processor register"
        self.stdout.write(
            f"erased patron {result.patron_id} (case {result.case_id}); "
            f"{result.holds_cancelled} holds cancelled; recipients to tell: {told}"
        )
