"""quietshelf privacy-report: records of processing (GDPR Art. 30) from the inventory."""

from __future__ import annotations

import json
from pathlib import Path

from quietshelf.core.commands import QuietshelfCommand, UsageError
from quietshelf.privacy import selectors


class Command(QuietshelfCommand):
    help = "Print the records of processing activities (Markdown or JSON), generated."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["markdown", "json"], default="markdown")
        parser.add_argument("--output", type=Path, default=None, help="write to this file")

    def handle(self, *args, format: str, output: Path | None, **options):  # noqa: A002
        data = selectors.records_of_processing()
        if format == "json":
            text = json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"
        else:
            text = selectors.records_markdown(data)
        if output is None:
            self.stdout.write(text, ending="")
            return
        if not output.parent.is_dir():
            raise UsageError(f"no such folder: {output.parent}")
        output.write_text(text)
        self.stdout.write(f"wrote the records of processing to {output}")
