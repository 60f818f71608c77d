"""quietshelf privacy-audit [--format markdown|json] [--strict]: the privacy self-audit."""

from __future__ import annotations

from django.core.management.base import CommandError

from quietshelf.core.commands import QuietshelfCommand
from quietshelf.privacyoffice import selfaudit


class Command(QuietshelfCommand):
    help = (
        "Check the live configuration and data against the privacy requirements (PRV-AUD-1). "
        "Read-only, safe in production. --strict exits 1 when a check fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["markdown", "json"], default="markdown")
        parser.add_argument("--strict", action="store_true", help="exit 1 on any failure")

    def handle(self, *args, format: str, strict: bool, **options):  # noqa: A002
        report = selfaudit.run()
        self.stdout.write(report.as_json() if format == "json" else report.as_markdown())
        if strict and report.failures:
            raise CommandError(
                f"{report.failures} privacy check(s) failed (score {report.score}/100)",
                returncode=1,
            )
