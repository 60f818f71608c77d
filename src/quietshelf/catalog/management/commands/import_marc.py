"""quietshelf import-marc FILE...: load MARC21 records (ISO 2709 or MARCXML)."""

from __future__ import annotations

import os
import sys

from django.core.management.base import CommandError
from django.db import DatabaseError

from quietshelf.catalog import services
from quietshelf.core.commands import QuietshelfCommand, UsageError
from quietshelf.core.errors import DomainError

MAX_ERRORS_SHOWN = 200


class Command(QuietshelfCommand):
    help = (
        "Import MARC21 records from ISO 2709 (MARC-8 or UTF-8) or MARCXML files: creates or "
        "updates records, creates items from Koha 952 and MARC 852/876 holdings. A record that "
        "cannot be taken is reported with its position and reason and skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE", help="MARC files to import")
        parser.add_argument(
            "--dry-run", action="store_true", help="read and check everything, store nothing"
        )
        parser.add_argument(
            "--match",
            default=None,
            help="identifier schemes to match stored records on, in order "
            "(default from QUIETSHELF_IMPORT_MATCH: 001+003,035,isbn; 'none' never matches)",
        )
        parser.add_argument(
            "--holdings-map",
            metavar="FILE.json",
            help="JSON file overriding the holdings mapping (see docs/catalogue-import.md)",
        )
        parser.add_argument(
            "--format",
            choices=["auto", "iso2709", "marcxml"],
            default="auto",
            help="input format (default: detect from the file)",
        )

    def handle(self, *args, **options):
        files = options["files"]
        for path in files:
            if not os.path.exists(path):
                raise UsageError(f"no such file: {path}")
            if os.path.isdir(path):
                raise UsageError(f"is a directory, not a file: {path}")
            if not os.access(path, os.R_OK):
                raise UsageError(f"cannot read file: {path}")
        match_on = None
        if options["match"] is not None:
            text = options["match"].strip()
            match_on = [] if text.lower() == "none" else [m.strip() for m in text.split(",") if m]
            bad = [m for m in match_on if m not in services.MATCH_SCHEMES]
            if bad:
                raise UsageError(
                    f"--match: unknown scheme {bad[0]!r} (use {', '.join(services.MATCH_SCHEMES)})"
                )
        holdings_map = None
        if options["holdings_map"]:
            try:
                holdings_map = services.load_holdings_map(options["holdings_map"])
            except ValueError as exc:
                raise UsageError(f"--holdings-map: {exc}") from None
        with self.progress(desc="import", unit="rec") as bar:
            try:
                summary = services.import_marc(
                    actor=None,
                    sources=files,
                    dry_run=options["dry_run"],
                    match_on=match_on,
                    holdings_map=holdings_map,
                    progress=bar.update,
                    format=options["format"],
                )
            except DomainError as exc:
                raise UsageError(exc.message) from None
            except DatabaseError as exc:
                raise UsageError(f"database not ready ({exc}); run 'quietshelf migrate'") from None
        out = self.stdout
        imported = summary.created + summary.updated
        if not imported and summary.errors and all(p.position == 0 for p in summary.errors):
            # Nothing was MARC (random bytes, a gzip file, UNIMARC…): one line per file, exit 2.
            raise UsageError("; ".join(str(p) for p in summary.errors[:5]))
        for problem in summary.errors[:MAX_ERRORS_SHOWN]:
            sys.stderr.write(f"error: {problem}\n")
        if len(summary.errors) > MAX_ERRORS_SHOWN:
            sys.stderr.write(f"... and {len(summary.errors) - MAX_ERRORS_SHOWN} more errors\n")
        if summary.warnings and options["verbosity"] >= 2:
            for problem in summary.warnings[:MAX_ERRORS_SHOWN]:
                sys.stderr.write(f"warning: {problem}\n")
        line = summary.line()
        if summary.warnings:
            line += f" (warnings {len(summary.warnings)}; -v 2 lists them)"
        if summary.dry_run:
            line += " [dry run: nothing stored]"
        out.write(line)
        # Scripts need to tell "all taken" from "some rejected" from "nothing usable":
        # 0, 1 and 2 (the last is bad input, like a wrong argument).
        if summary.errors and imported == 0:
            raise UsageError(f"no record could be imported ({len(summary.errors)} errors above)")
        if summary.errors:
            raise CommandError(
                f"{len(summary.errors)} records were not imported (errors above)", returncode=1
            )
