"""The base for every quietshelf CLI command.

Bad arguments give one line on stderr and exit status 2; long jobs use
progress() and end with a summary line.
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm


class UsageError(CommandError):
    """Bad input from the operator: one line, exit status 2."""

    def __init__(self, message: str):
        super().__init__(message, returncode=2)


class QuietshelfCommand(BaseCommand):
    requires_system_checks: list = []

    def progress(self, iterable=None, *, total=None, unit="rec", desc=""):
        # A bar on a terminal, a count line every so often in logs.
        return tqdm(
            iterable,
            total=total,
            unit=unit,
            desc=desc,
            file=sys.stderr,
            disable=None,
            mininterval=0.5 if sys.stderr.isatty() else 10,
        )
