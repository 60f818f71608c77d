"""quietshelf backup: one AES-256-GCM file of the database and key store (PRV-ENC-3)."""

from __future__ import annotations

from pathlib import Path

from quietshelf.core.commands import QuietshelfCommand, UsageError
from quietshelf.privacy import backup


class Command(QuietshelfCommand):
    help = "Write an encrypted backup (database and key store) into the backup folder."

    def add_arguments(self, parser):
        parser.add_argument("--folder", help="where to write it (default QUIETSHELF_BACKUP_DIR)")

    def handle(self, *args, folder, **options):
        try:
            result = backup.backup(folder=Path(folder) if folder else None)
        except (backup.BackupError, OSError) as exc:
            raise UsageError(str(exc)) from None
        m = result.manifest
        self.stdout.write(
            f"backup written: {result.path} ({result.path.stat().st_size:,} bytes, "
            f"{m['counts']['subjects']:,} data subjects, master key v{m['master_key_version']})"
        )
