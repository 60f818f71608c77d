"""quietshelf restore FILE: into an empty instance; erased patrons stay erased (PRV-RET-3)."""

from __future__ import annotations

from pathlib import Path

from quietshelf.core.commands import QuietshelfCommand, UsageError
from quietshelf.privacy import backup


class Command(QuietshelfCommand):
    help = "Restore an encrypted backup into an empty instance, then re-apply erasures."

    def add_arguments(self, parser):
        parser.add_argument("file", help="a .qsbackup file")
        parser.add_argument(
            "--tombstones",
            help="the erasure tombstone file to re-apply (default: this instance's)",
        )

    def handle(self, *args, file, tombstones, **options):
        try:
            result = backup.restore(
                path=Path(file), tombstones=Path(tombstones) if tombstones else None
            )
        except (backup.BackupError, OSError) as exc:
            raise UsageError(str(exc)) from None
        self.stdout.write(
            f"restored the backup of {result.manifest['created_at']}; "
            f"{result.reforgotten:,} erased people forgotten again "
            f"({result.since_backup:,} erasures since the backup)"
        )
