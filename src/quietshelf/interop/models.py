"""Tombstones of deleted catalogue records, for OAI-PMH (deletedRecord persistent)."""

from __future__ import annotations

from django.db import models


class DeletedRecord(models.Model):
    """One deleted bibliographic record: its old id and when it went.

    Kept for ever (the repository declares deletedRecord "persistent"), so a
    harvester that comes back years later still learns of the deletion. The
    set memberships at deletion time are kept too, so a selective harvest
    of a set reports the deletions in that set. Record ids are never reused
    (SQLite AUTOINCREMENT, PostgreSQL sequences), so the id is the key.
    """

    record_id = models.BigIntegerField(unique=True)
    deleted_at = models.DateTimeField(db_index=True)
    format = models.CharField(max_length=16, blank=True)
    language = models.CharField(max_length=3, blank=True)
    # Branch codes that held copies, space-separated with a space at each end
    # (" MAIN WEST "), so a set filter is one LIKE.
    branches = models.TextField(blank=True)

    class Meta:
        ordering = ["record_id"]

    class Privacy:  # reviewed: no personal data
        not_personal = {
            "format": "material format code of the deleted record",
            "language": "language code of the deleted record",
            "branches": "branch codes that held copies",
        }

    def __str__(self) -> str:
        return f"deleted record {self.record_id}"
