"""Catalogue data: bibliographic records, items, branches, locations, item types.

The full MARC record is kept as MARC-in-JSON (lossless for leader, control
fields, indicators and subfields, and free of ISO 2709's 99,999-byte limit);
the columns beside it are extracted from it for search and display and are
rebuilt whenever the record changes.
"""

from __future__ import annotations

from django.db import models

from quietshelf.privacy.fields import CoarseDateTimeField
from quietshelf.privacy.inventory import personal


class Branch(models.Model):
    """A place that holds items and serves patrons."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "branches"

    class Privacy:  # reviewed: no personal data
        not_personal = {"code": "branch code", "name": "branch name"}

    def __str__(self) -> str:
        return self.name


class ShelvingLocation(models.Model):
    """Where on the shelves an item lives (e.g. Children's, Reference)."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]

    class Privacy:  # reviewed: no personal data
        not_personal = {"code": "location code", "name": "location name"}

    def __str__(self) -> str:
        return self.name


class ItemType(models.Model):
    """Book, DVD, laptop…: drives loan rules; some types never circulate."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    circulates = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    class Privacy:  # reviewed: no personal data
        not_personal = {"code": "item type code", "name": "item type name"}

    def __str__(self) -> str:
        return self.name


class MaterialFormat(models.TextChoices):
    BOOK = "book", "Book"
    SERIAL = "serial", "Journal or serial"
    MUSIC_SCORE = "score", "Music score"
    SOUND_RECORDING = "music", "Music recording"
    SPOKEN_RECORDING = "audio", "Spoken recording"
    MAP = "map", "Map"
    VIDEO = "video", "Film or video"
    IMAGE = "image", "Picture"
    COMPUTER_FILE = "computer", "Computer file"
    KIT = "kit", "Kit"
    MANUSCRIPT = "manuscript", "Manuscript"
    OBJECT = "object", "Object"
    OTHER = "other", "Other"


class BibRecord(models.Model):
    """A bibliographic record: the work as published, with its MARC kept whole."""

    control_number = models.CharField(max_length=64, blank=True, db_index=True)  # 001
    control_source = models.CharField(max_length=64, blank=True)  # 003
    leader = models.CharField(max_length=24)
    marc_json = models.JSONField()  # MARC-in-JSON of the whole record

    title = models.TextField(blank=True)
    subtitle = models.TextField(blank=True)
    responsibility = models.TextField(blank=True)  # 245 $c
    sort_title = models.CharField(max_length=255, blank=True, db_index=True)
    # [{"name", "role", "tag"}]; persons named in metadata: CAT-3 data subjects.
    contributors = models.JSONField(default=list, blank=True)
    subjects = models.JSONField(default=list, blank=True)
    # [{"value": as given, "normalized": "978…" or "", "valid": bool, "qualifier": ""}]
    isbns = models.JSONField(default=list, blank=True)
    issns = models.JSONField(default=list, blank=True)
    publisher = models.TextField(blank=True)
    publication_place = models.TextField(blank=True)
    year = models.IntegerField(null=True, blank=True, db_index=True)
    language = models.CharField(max_length=3, blank=True, db_index=True)
    format = models.CharField(
        max_length=16, choices=MaterialFormat.choices, default=MaterialFormat.OTHER, db_index=True
    )
    edition = models.TextField(blank=True)
    series = models.JSONField(default=list, blank=True)
    notes = models.JSONField(default=list, blank=True)
    links = models.JSONField(default=list, blank=True)  # [{"url", "text"}]
    # What the last import or MARC update repaired or guessed in this record, and
    # what a MARCXML export has to repair (CAT-1): ["field 245: ...", ...].
    import_report = models.JSONField(default=list, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["control_number", "control_source"])]

    class Privacy:
        # Persons named in published metadata (CAT-3): public, not encrypted.
        subject = "author"
        fields = {
            name: personal(
                category="bibliographic",
                risk="low",
                purpose="describing works as published (catalogue)",
                legal_basis="legitimate_interest",
                source="the published work and library catalogue records",
                retention="bibliographic",
                readers=("public",),
            )
            for name in ("contributors", "responsibility", "marc_json", "subjects")
        }
        not_personal = {
            name: "bibliographic metadata about the work, not a person"
            for name in (
                "control_number",
                "control_source",
                "leader",
                "title",
                "subtitle",
                "sort_title",
                "isbns",
                "issns",
                "publisher",
                "publication_place",
                "language",
                "edition",
                "series",
                "notes",
                "links",
                "import_report",
            )
        }

    def __str__(self) -> str:
        return self.title or f"record {self.pk}"


class IdentifierScheme(models.TextChoices):
    CONTROL = "001+003", "Control number and source"
    SYSTEM = "035", "System control number"
    ISBN = "isbn", "ISBN"
    ISSN = "issn", "ISSN"


class RecordIdentifier(models.Model):
    """A normalised identifier of a record, for matching on import and look-up.

    Only valid ISBN/ISSN are stored here; invalid ones stay on the record,
    flagged, and are never used to match.
    """

    record = models.ForeignKey(BibRecord, on_delete=models.CASCADE, related_name="identifiers")
    scheme = models.CharField(max_length=8, choices=IdentifierScheme.choices)
    value = models.CharField(max_length=255)

    class Meta:
        indexes = [models.Index(fields=["scheme", "value"])]
        constraints = [
            models.UniqueConstraint(
                fields=["record", "scheme", "value"], name="uniq_record_identifier"
            )
        ]

    def __str__(self) -> str:
        return f"{self.scheme}:{self.value}"

    class Privacy:  # reviewed: no personal data
        not_personal = {"value": "ISBN, ISSN or control number of a record"}


class ItemStatus(models.TextChoices):
    AVAILABLE = "available", "Available"
    ON_LOAN = "on_loan", "On loan"
    IN_TRANSIT = "in_transit", "In transit"
    ON_HOLD_SHELF = "on_hold_shelf", "On hold shelf"
    LOST = "lost", "Lost"
    MISSING = "missing", "Missing"
    WITHDRAWN = "withdrawn", "Withdrawn"
    IN_PROCESSING = "in_processing", "In processing"
    DAMAGED = "damaged", "Damaged"


class Item(models.Model):
    """One physical copy with a barcode."""

    record = models.ForeignKey(BibRecord, on_delete=models.CASCADE, related_name="items")
    barcode = models.CharField(max_length=64, unique=True)
    call_number = models.CharField(max_length=255, blank=True)
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="items")
    location = models.ForeignKey(
        ShelvingLocation, on_delete=models.PROTECT, null=True, blank=True, related_name="items"
    )
    item_type = models.ForeignKey(ItemType, on_delete=models.PROTECT, related_name="items")
    status = models.CharField(
        max_length=16, choices=ItemStatus.choices, default=ItemStatus.AVAILABLE, db_index=True
    )
    price_minor = models.BigIntegerField(null=True, blank=True)  # replacement price, minor units
    currency = models.CharField(max_length=3, default="NOK")
    public_note = models.TextField(blank=True)
    staff_note = models.TextField(blank=True)
    # The day of its last check-out, renewal or check-in (written by circulation),
    # for weeding and never-circulated reports without keeping any loan (RPT-1).
    last_activity_on = models.DateField(null=True, blank=True)
    # Both to the day only (PRV-HIST-5): check-out and check-in change the copy's
    # status, and an exact time here would be the reader's check-in second; a copy
    # catalogued for a reader's request would carry the second of that request.
    created_at = CoarseDateTimeField(auto_now_add=True)
    updated_at = CoarseDateTimeField(auto_now=True)

    class Meta:
        ordering = ["branch__name", "call_number", "barcode"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price_minor__isnull=True) | models.Q(price_minor__gte=0),
                name="item_price_not_negative",
            )
        ]

    class Privacy:
        subject = "patron"
        fields = {
            # staff are told not to name people here, but free text can.
            "staff_note": personal(
                category="free_text",
                risk="low",
                purpose="notes about the copy for staff",
                legal_basis="legitimate_interest",
                source="staff",
                retention="bibliographic",
                readers=("staff",),
            ),
        }
        not_personal = {
            "barcode": "the item's barcode (a thing, not a person)",
            "call_number": "shelf mark",
            "currency": "currency code",
            "public_note": "public note about the copy",
            "last_activity_on": "the day the copy last circulated (no borrower)",
        }

    def __str__(self) -> str:
        return self.barcode
