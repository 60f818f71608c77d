"""State changes of the metadata-exchange app: tombstones of deleted records."""

from __future__ import annotations

from django.utils import timezone

from quietshelf.interop.models import DeletedRecord


def tombstone_record(record, branch_codes: list[str]) -> DeletedRecord:
    """Keep a tombstone of a record being deleted (the catalogue's record_deleted hook).

    Runs inside the catalogue's record_delete transaction: the tombstone and
    the deletion commit or roll back together.
    """
    codes = " ".join(c for c in branch_codes if c and " " not in c)
    tombstone, _ = DeletedRecord.objects.update_or_create(
        record_id=record.pk,
        defaults={
            "deleted_at": timezone.now(),
            "format": record.format or "",
            "language": record.language or "",
            "branches": f" {codes} " if codes else "",
        },
    )
    return tombstone
