"""quietshelf audit-verify: seal pending entries, then check the whole chain and its signatures."""

from __future__ import annotations

from django.core.management.base import CommandError

from quietshelf.core.commands import QuietshelfCommand
from quietshelf.privacy import audit


class Command(QuietshelfCommand):
    help = "Verify the audit log's hash chain and signed checkpoints; name the first broken entry."

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-seal", action="store_true", help="only verify; do not seal pending entries"
        )
        parser.add_argument(
            "--checkpoint", action="store_true", help="sign a checkpoint at the head now"
        )

    def handle(self, *args, no_seal: bool, checkpoint: bool, **options):
        if not no_seal:
            sealed = audit.seal(checkpoint=checkpoint)
            if sealed:
                self.stdout.write(f"sealed {sealed} pending entries")
        result = audit.verify()
        if not result.ok:
            raise CommandError(result.line(), returncode=1)
        self.stdout.write(result.line())
