"""quietshelf export-marc: write the catalogue as ISO 2709 (UTF-8) or MARCXML, streaming."""

from __future__ import annotations

import datetime as dt
import os
import sys

from django.db import DatabaseError
from django.utils import timezone

from quietshelf.catalog.export import export_records
from quietshelf.core.commands import QuietshelfCommand, UsageError


class Command(QuietshelfCommand):
    help = (
        "Export MARC21 records as ISO 2709 in UTF-8 (leader/09 'a') or MARCXML. Records too "
        "long for ISO 2709 (over 99,999 bytes) are skipped and reported; MARCXML takes them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["iso2709", "marcxml"], default="iso2709")
        parser.add_argument("--output", "-o", default="-", help="file to write, or - for stdout")
        parser.add_argument("--ids", default=None, help="comma-separated record ids (default all)")
        parser.add_argument(
            "--since", default=None, help="only records changed on or after DATE (YYYY-MM-DD)"
        )

    def handle(self, *args, **options):
        ids = None
        if options["ids"]:
            try:
                ids = [int(x) for x in options["ids"].split(",") if x.strip()]
            except ValueError:
                raise UsageError("--ids must be comma-separated whole numbers") from None
            # Ids are 64-bit database keys: a bigger number would overflow the query.
            out_of_range = [x for x in ids if not 1 <= x <= 2**63 - 1]
            if out_of_range:
                raise UsageError(f"--ids: {out_of_range[0]} is not a record id (1 to {2**63 - 1})")
        since = None
        if options["since"]:
            try:
                day = dt.date.fromisoformat(options["since"])
            except ValueError:
                raise UsageError("--since must be a date as YYYY-MM-DD") from None
            since = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
        output = options["output"]
        if output != "-":
            parent = os.path.dirname(os.path.abspath(output))
            if not os.path.isdir(parent):
                raise UsageError(f"--output: no such directory: {parent}")
            try:
                stream = open(output, "wb")  # noqa: SIM115
            except OSError as exc:
                raise UsageError(f"--output: cannot write {output}: {exc.strerror}") from None
        else:
            stream = sys.stdout.buffer
        try:
            with self.progress(desc="export", unit="rec") as bar:
                result = export_records(
                    stream, format=options["format"], ids=ids, since=since, progress=bar.update
                )
        except DatabaseError as exc:
            raise UsageError(f"database not ready ({exc}); run 'quietshelf migrate'") from None
        finally:
            if output != "-":
                stream.close()
            else:
                stream.flush()
        for rid, reason in result.skipped[:200]:
            sys.stderr.write(f"skipped: record {rid}: {reason}\n")
        for rid, repair in result.repairs[:200]:
            sys.stderr.write(f"repaired: record {rid}: {repair}\n")
        if len(result.repairs) > 200:
            sys.stderr.write(f"... and {len(result.repairs) - 200} more repairs\n")
        line = f"exported {result.written} records ({options['format']})"
        if result.repairs:
            line += (
                f", repaired {len(result.repairs)} things in {result.repaired_records} records"
                " to keep the MARCXML valid (listed above)"
            )
        if result.skipped:
            line += f", skipped {len(result.skipped)} too long for ISO 2709 (use --format marcxml)"
        sys.stderr.write(line + "\n")
