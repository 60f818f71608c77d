"""quietshelf load-patrons FILE --mapping MAPPING.json: patrons from a campus system (INT-3)."""

from __future__ import annotations

import json
import os
import sys

from quietshelf.core.commands import QuietshelfCommand, UsageError
from quietshelf.core.errors import DomainError
from quietshelf.patrons import loads

MAX_ERRORS_SHOWN = 200


class Command(QuietshelfCommand):
    help = (
        "Load patrons from a CSV or JSON file with a saved field mapping: rows matched on an "
        "identifier update only the mapped fields, other rows create patrons. Each bad row is "
        "reported with its number and reason and skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="CSV (with a header) or JSON file")
        parser.add_argument("--format", choices=["auto", "csv", "json"], default="auto")
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--mapping", metavar="MAPPING.json", help="field mapping file")
        group.add_argument("--mapping-name", metavar="NAME", help="a mapping saved in Quietshelf")
        parser.add_argument(
            "--save-mapping",
            metavar="NAME",
            help="also save the --mapping file under this name (staff page: Patron loads)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check everything, store nothing"
        )
        parser.add_argument(
            "--report", metavar="REPORT.csv", help="write a per-row report (every row) as CSV"
        )

    def handle(self, *args, **options):
        path = options["file"]
        if not os.path.isfile(path):
            raise UsageError(f"no such file: {path}")
        if not os.access(path, os.R_OK):
            raise UsageError(f"cannot read file: {path}")
        fmt = options["format"]
        if fmt == "auto":
            ext = os.path.splitext(path)[1].lower()
            if ext not in (".csv", ".json", ".tsv", ".txt"):
                raise UsageError("cannot tell the format from the file name: use --format csv|json")
            fmt = "json" if ext == ".json" else "csv"
        mapping = self._mapping(options)
        keep_all = bool(options["report"])
        bar = self.progress(unit="row", desc="patrons")
        try:
            with open(path, "rb") as stream:
                report = loads.run_load(
                    actor=None,
                    stream=stream,
                    fmt=fmt,
                    mapping=mapping,
                    dry_run=options["dry_run"],
                    keep_all=keep_all,
                    progress=bar,
                    parallel=True,
                )
        except loads.LoadError as exc:
            raise UsageError(exc.message) from None
        finally:
            bar.close()
        shown = 0
        for result in report.results:
            if result.status == "error" and shown < MAX_ERRORS_SHOWN:
                self.stderr.write(f"row {result.number}: {result.message}")
                shown += 1
        if report.errors > shown:
            self.stderr.write(f"... and {report.errors - shown} more row errors")
        if options["report"]:
            with open(options["report"], "w", newline="", encoding="utf-8") as out:
                report.write_csv(out)
        self.stdout.write(report.summary())
        if report.errors:
            sys.exit(1)

    def _mapping(self, options) -> loads.Mapping:
        if options["mapping_name"]:
            try:
                return loads.mapping_for_load(actor=None, mapping_name=options["mapping_name"])
            except DomainError:
                raise UsageError(f"no saved mapping named {options['mapping_name']!r}") from None
        try:
            with open(options["mapping"], encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            raise UsageError(f"no such mapping file: {options['mapping']}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"the mapping file is not valid JSON: {exc}") from None
        try:
            mapping = loads.parse_mapping(data)
            if options["save_mapping"]:
                loads.mapping_save(actor=None, name=options["save_mapping"], data=data)
        except DomainError as exc:
            raise UsageError(exc.message) from None
        return mapping
