"""Patron records (PAT-1, PAT-2, PAT-3, PRV-MIN-1, PRV-MNR-1, SEC-ID-1).

Every personal value is encrypted under the patron's own data key (one
privacy.Subject per patron; cards, identifiers, contact points, notes and
blocks share it) and found through blind indexes: card barcodes, identifiers
and e-mail addresses exactly, names through the kernel's token/prefix index
(privacy/search.py, scope "patron.name"). Only a name and one identifier (a
card or an identifier) are required; everything else is optional.

State changes go through services.py (authorisation and audit entries),
reads through selectors.py.
"""

from __future__ import annotations

import uuid

from django.contrib.auth.hashers import check_password, make_password
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from quietshelf.privacy.fields import (
    BlindIndexField,
    EncryptedDateField,
    EncryptedTextField,
    Sealed,
    SubjectField,
    blind_index,
    is_unavailable,
)
from quietshelf.privacy.inventory import personal

NAME_SCOPE = "patron.name"
READERS = ("circulation", "patron_manager", "privacy_office")


def _p(category: str, risk: str, purpose: str, *, source="the patron or library staff", **kw):
    kw.setdefault("legal_basis", "contract")
    kw.setdefault("retention", "patron_account")
    kw.setdefault("readers", READERS)
    return personal(category=category, risk=risk, purpose=purpose, source=source, **kw)


_SUBJECT = _p(
    "identifier",
    "low",
    "the key that encrypts this patron's data",
    source="system",
    readers=("system",),
)
_PATRON_FK = _p(
    "identifier", "low", "linking this row to its patron", source="system", readers=("system",)
)


class PatronGroup(models.Model):
    """A patron category (student, employee, temporary, walk-in, child…)."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    default_loan_period_days = models.PositiveIntegerField(null=True, blank=True)
    default_validity_days = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    class Privacy:  # reviewed: labels only
        not_personal = {"code": "group code", "name": "group label"}

    def __str__(self) -> str:
        return self.name


class PatronStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    PENDING = "pending", _("Pending approval")
    RESTRICTED = "restricted", _("Restricted")
    CLOSED = "closed", _("Closed")


class NotificationChannel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("Text message")
    POST = "post", _("Letter")
    NONE = "none", _("No notices")


class Language(models.TextChoices):
    EN = "en", "English"
    NB = "nb", "Norsk bokmål"


class Patron(models.Model):
    """A person registered to borrow."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = SubjectField(kind="patron")
    given_name = EncryptedTextField(_("given name"), blank=True, null=True)
    family_name = EncryptedTextField(_("family name"), blank=True, null=True)
    group = models.ForeignKey(
        PatronGroup, on_delete=models.PROTECT, null=True, blank=True, related_name="patrons"
    )
    home_branch = models.ForeignKey(
        "catalog.Branch", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=12, choices=PatronStatus.choices, default="active")
    expiry_date = models.DateField(_("expiry date"), null=True, blank=True)
    erase_after = models.DateField(_("date for erasure"), null=True, blank=True)
    preferred_language = models.CharField(max_length=8, choices=Language.choices, blank=True)
    notification_channel = models.CharField(
        max_length=8, choices=NotificationChannel.choices, default="email"
    )
    date_of_birth = EncryptedDateField(_("date of birth"), null=True, blank=True)
    # Web sign-in (Argon2id through Django's hashers); None: no password set.
    password_hash = models.CharField(max_length=200, null=True, blank=True)
    # SIP2 / self-check PIN (hashed); never for web sign-in.
    pin_hash = models.CharField(max_length=200, null=True, blank=True)
    last_login = models.DateTimeField(null=True, blank=True)
    # The first day of the month of the patron's last loan or renewal (RPT-1):
    # active-borrower counts come from this marker, not from kept loans.
    last_active_month = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["home_branch", "status"], name="patrons_branch_status")]

    class Privacy:
        subject = "patron"
        fields = {
            "subject": _SUBJECT,
            "given_name": _p("identity", "medium", "knowing who borrows and addressing them"),
            "family_name": _p("identity", "medium", "knowing who borrows and addressing them"),
            "group": _p("account", "low", "loan rules that depend on the patron category"),
            "home_branch": _p("account", "low", "which branch manages the account"),
            "status": _p("account", "low", "whether the account may borrow"),
            "expiry_date": _p("account", "low", "when the account must be renewed"),
            "erase_after": _p("account", "low", "when the account is erased"),
            "preferred_language": _p(
                "preference", "low", "writing to the patron in their language"
            ),
            "notification_channel": _p("preference", "low", "how notices are sent"),
            "date_of_birth": _p(
                "demographic",
                "high",
                "age-dependent rules (minors, PRV-MNR-1); optional",
            ),
            "password_hash": _p(
                "credential",
                "high",
                "signing in to My account (an Argon2id hash, never the password)",
                source="the patron",
                readers=("system",),
            ),
            "pin_hash": _p(
                "credential",
                "high",
                "self-check and SIP2 (a hash, never the PIN)",
                source="the patron",
                readers=("system",),
            ),
            "last_login": _p(
                "account", "low", "spotting unused accounts", source="system", readers=("system",)
            ),
            "last_active_month": _p(
                "account",
                "low",
                "counting active borrowers for library statistics (the month only)",
                source="system",
            ),
            "created_at": _p("account", "low", "since when the account exists", source="system"),
            "updated_at": _p("account", "low", "when the record last changed", source="system"),
        }
        not_personal: dict = {}

    def __str__(self) -> str:
        return f"patron:{self.pk}"

    @property
    def display_name(self) -> str:
        parts = [self.given_name, self.family_name]
        if any(is_unavailable(p) for p in parts):
            return next(p for p in parts if is_unavailable(p))
        return " ".join(p for p in parts if p) or "—"

    @property
    def sort_name(self) -> str:
        if self.family_name and self.given_name:
            return f"{self.family_name}, {self.given_name}"
        return self.display_name

    # -- web sign-in (the patron-portal uses these) --
    def set_password(self, raw_password: str | None) -> None:
        self.password_hash = make_password(raw_password) if raw_password else None

    def check_password(self, raw_password: str) -> bool:
        if not self.password_hash or not raw_password:
            return False
        return check_password(raw_password, self.password_hash)

    def set_pin(self, raw_pin: str | None) -> None:
        self.pin_hash = make_password(raw_pin) if raw_pin else None

    def check_pin(self, raw_pin: str) -> bool:
        return bool(self.pin_hash and raw_pin) and check_password(raw_pin, self.pin_hash)

    @property
    def active_card(self):
        cards = getattr(self, "_prefetched_objects_cache", {}).get("cards")
        if cards is not None:
            return next((c for c in cards if c.active), None)
        return self.cards.filter(active=True).first()


class Card(models.Model):
    """A library card. At most one active per patron; a barcode is never issued twice."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = SubjectField(kind="patron")
    patron = models.ForeignKey(Patron, on_delete=models.CASCADE, related_name="cards")
    barcode = EncryptedTextField(_("card number"))
    barcode_index = BlindIndexField(source="barcode", normalizer="barcode", unique=True)
    active = models.BooleanField(default=True)
    issued_at = models.DateTimeField(auto_now_add=True)
    replaced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-active", "-issued_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["patron"], condition=Q(active=True), name="patrons_one_active_card"
            )
        ]

    class Privacy:
        subject = "patron"
        fields = {
            "subject": _SUBJECT,
            "patron": _PATRON_FK,
            "barcode": _p("identifier", "medium", "identifying the patron at the desk"),
            "barcode_index": _p(
                "identifier",
                "low",
                "finding a card by its number without storing it in clear",
                source="derived from the card number",
                readers=("system",),
            ),
            "issued_at": _p("account", "low", "card history", source="system"),
            "replaced_at": _p("account", "low", "card history", source="system"),
        }
        not_personal = {"active": "whether this is the current card"}

    def __str__(self) -> str:
        return f"card:{self.pk}"


class RetiredIdentifier(models.Model):
    """SEC-ID-1: the blind index of every replaced or erased card number, never reissued."""

    kind = models.CharField(max_length=20, default="card")
    digest = models.CharField(max_length=64)
    retired_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "digest"], name="patrons_retired_unique")
        ]

    class Privacy:  # reviewed: keyed hashes no longer linked to any person
        not_personal = {
            "kind": "which kind of identifier",
            "digest": "HMAC of a retired card number, linked to no patron",
        }

    def __str__(self) -> str:
        return f"retired {self.kind}"


class IdentifierType(models.TextChoices):
    INSTITUTIONAL = "institutional_id", _("Institutional id")
    STUDENT = "student_number", _("Student number")
    EMPLOYEE = "employee_number", _("Employee number")
    OTHER = "other", _("Other")


class PatronIdentifier(models.Model):
    """An identifier from another system (campus id, student number); unique per type."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = SubjectField(kind="patron")
    patron = models.ForeignKey(Patron, on_delete=models.CASCADE, related_name="identifiers")
    type = models.CharField(max_length=32, choices=IdentifierType.choices)
    value = EncryptedTextField(_("identifier"))
    value_index = BlindIndexField(source="value", normalizer="identifier")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["type", "value_index"], name="patrons_identifier_unique"
            )
        ]

    class Privacy:
        subject = "patron"
        fields = {
            "subject": _SUBJECT,
            "patron": _PATRON_FK,
            "value": _p(
                "identifier",
                "medium",
                "matching the patron with the campus system",
                source="the campus system or library staff",
            ),
            "value_index": _p(
                "identifier",
                "low",
                "finding a patron by identifier without storing it in clear",
                source="derived from the identifier",
                readers=("system",),
            ),
            "created_at": _p("account", "low", "identifier history", source="system"),
        }
        not_personal = {"type": "an enumeration of identifier types"}

    def __str__(self) -> str:
        return f"identifier:{self.pk}"


class ContactKind(models.TextChoices):
    EMAIL = "email", _("E-mail")
    PHONE = "phone", _("Phone")
    ADDRESS = "address", _("Address")


class ContactLabel(models.TextChoices):
    HOME = "home", _("Home")
    WORK = "work", _("Work")
    MOBILE = "mobile", _("Mobile")
    TERM = "term", _("Term-time")
    OTHER = "other", _("Other")


def contact_index(kind: str, value: str) -> str:
    """The blind index of an e-mail address or phone number ("" for addresses)."""
    if kind == ContactKind.EMAIL:
        return blind_index(value, purpose="patrons.contact.email", kind="email")
    if kind == ContactKind.PHONE:
        return blind_index(value, purpose="patrons.contact.phone", kind="phone")
    return ""


class ContactPoint(models.Model):
    """An e-mail address, phone number or postal address, with a label and a preferred flag."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = SubjectField(kind="patron")
    patron = models.ForeignKey(Patron, on_delete=models.CASCADE, related_name="contacts")
    kind = models.CharField(max_length=8, choices=ContactKind.choices)
    label = models.CharField(max_length=8, choices=ContactLabel.choices, default="home")
    value = EncryptedTextField(_("value"))
    lookup_index = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    preferred = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "-preferred", "created_at"]

    class Privacy:
        subject = "patron"
        fields = {
            "subject": _SUBJECT,
            "patron": _PATRON_FK,
            "value": _p("contact", "medium", "sending notices and reaching the patron"),
            "lookup_index": _p(
                "contact",
                "low",
                "finding a patron by e-mail (sign-in, search) without storing it in clear",
                source="derived from the e-mail address or phone number",
                readers=("system",),
            ),
            "created_at": _p("account", "low", "contact history", source="system"),
        }
        not_personal = {
            "kind": "e-mail, phone or address",
            "label": "an enumeration (home, work…)",
            "preferred": "which contact point is used first",
        }

    def __str__(self) -> str:
        return f"contact:{self.pk}"

    def save(self, *args, **kwargs):
        value = self.__dict__.get("value")
        if not isinstance(value, Sealed) and value is not None and not is_unavailable(value):
            self.lookup_index = contact_index(self.kind, value)
        super().save(*args, **kwargs)


class ProxyKind(models.TextChoices):
    PROXY = "proxy", _("May borrow on behalf of")
    GUARANTOR = "guarantor", _("Guarantor for")


class ProxyLink(models.Model):
    """`proxy` may act for `patron` (borrow on their behalf), or is their guarantor."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patron = models.ForeignKey(Patron, on_delete=models.CASCADE, related_name="proxy_links")
    proxy = models.ForeignKey(Patron, on_delete=models.CASCADE, related_name="acts_for")
    kind = models.CharField(max_length=10, choices=ProxyKind.choices, default="proxy")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patron", "proxy", "kind"], name="patrons_proxy_unique")
        ]

    class Privacy:
        subject = "patron"
        fields = {
            "patron": _PATRON_FK,
            "proxy": _p("identifier", "medium", "who may borrow for the patron, or guarantees"),
            "created_at": _p("account", "low", "since when the link exists", source="system"),
        }
        not_personal = {"kind": "proxy or guarantor"}

    def __str__(self) -> str:
        return f"proxy link:{self.pk}"


class StaffNote(models.Model):
    """A note written by staff (PAT-2: a warning before saving special-category data)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = SubjectField(kind="patron")
    patron = models.ForeignKey(Patron, on_delete=models.CASCADE, related_name="notes")
    text = EncryptedTextField(_("note"))
    author = models.ForeignKey(
        "accounts.StaffUser", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    warning_confirmed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    class Privacy:
        subject = "patron"
        fields = {
            "subject": _SUBJECT,
            "patron": _PATRON_FK,
            "text": _p(
                "free_text",
                "high",
                "things the desk needs to know about the account",
                source="library staff",
            ),
            "author": _p(
                "identifier",
                "low",
                "who wrote the note",
                source="system",
                subject="staff",
                readers=("patron_manager", "privacy_office"),
            ),
            "created_at": _p("account", "low", "when the note was written", source="system"),
        }
        not_personal = {"warning_confirmed": "whether a PAT-2 warning was confirmed"}

    def __str__(self) -> str:
        return f"note:{self.pk}"


class BlockReason(models.TextChoices):
    MANUAL = "manual", _("Manual block")
    LOST_CARD = "lost_card", _("Lost card")
    ADDRESS = "address", _("Address unknown")
    CONDUCT = "conduct", _("Conduct")
    DEBT = "debt", _("Unpaid fees")
    ADMIN = "admin", _("Administrative")
    # automatic (computed by policy.py, never stored as Block rows)
    EXPIRED = "expired", _("Card expired")


class Block(models.Model):
    """A manual block (PAT-3). Lifting keeps the row: the history stays."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = SubjectField(kind="patron")
    patron = models.ForeignKey(Patron, on_delete=models.CASCADE, related_name="blocks")
    reason_code = models.CharField(max_length=16, choices=BlockReason.choices)
    comment = EncryptedTextField(_("comment"), null=True, blank=True)
    expires_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        "accounts.StaffUser", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        "accounts.StaffUser", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    lift_reason = EncryptedTextField(_("reason for lifting"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    class Privacy:
        subject = "patron"
        _staff = {"subject": "staff", "source": "system", "readers": ("patron_manager",)}
        fields = {
            "subject": _SUBJECT,
            "patron": _PATRON_FK,
            "reason_code": _p("account", "medium", "why the account may not borrow"),
            "comment": _p("free_text", "high", "details of the block", source="library staff"),
            "expires_on": _p("account", "low", "when the block ends"),
            "created_at": _p("account", "low", "block history", source="system"),
            "created_by": _p("identifier", "low", "who set the block", **_staff),
            "lifted_at": _p("account", "low", "block history", source="system"),
            "lifted_by": _p("identifier", "low", "who lifted the block", **_staff),
            "lift_reason": _p("free_text", "medium", "why the block was lifted", source="staff"),
        }
        not_personal: dict = {}

    def __str__(self) -> str:
        return f"block:{self.pk}"

    @property
    def is_lifted(self) -> bool:
        return self.lifted_at is not None


class BlockOverride(models.Model):
    """A block set aside for one transaction by permitted staff, with a reason."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = SubjectField(kind="patron")
    patron = models.ForeignKey(Patron, on_delete=models.CASCADE, related_name="block_overrides")
    block = models.ForeignKey(
        Block, on_delete=models.CASCADE, null=True, blank=True, related_name="overrides"
    )
    reason_code = models.CharField(max_length=16, choices=BlockReason.choices)
    reason = EncryptedTextField(_("reason"))
    by = models.ForeignKey(
        "accounts.StaffUser", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]

    class Privacy:
        subject = "patron"
        fields = {
            "subject": _SUBJECT,
            "patron": _PATRON_FK,
            "block": _p("account", "low", "which block was overridden", source="system"),
            "reason_code": _p("account", "medium", "which kind of block was overridden"),
            "reason": _p("free_text", "medium", "why it was overridden", source="library staff"),
            "by": _p(
                "identifier",
                "low",
                "who overrode the block",
                subject="staff",
                source="system",
                readers=("patron_manager",),
            ),
            "at": _p("account", "low", "override history", source="system"),
        }
        not_personal: dict = {}

    def __str__(self) -> str:
        return f"override:{self.pk}"


class PatronLoadMapping(models.Model):
    """A saved field mapping for patron loads from a campus system (INT-3)."""

    name = models.CharField(max_length=100, unique=True)
    # {"source column or JSON key": "target field"}; targets in loads.TARGETS
    columns = models.JSONField(default=dict)
    # the identifier type used to match rows with existing patrons
    match_type = models.CharField(
        max_length=32, choices=IdentifierType.choices, default="institutional_id"
    )
    default_group = models.ForeignKey(
        PatronGroup, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    default_branch = models.ForeignKey(
        "catalog.Branch", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    class Privacy:  # reviewed: configuration only
        not_personal = {
            "name": "a label for the mapping",
            "columns": "column names and target field names",
            "match_type": "identifier type",
        }

    def __str__(self) -> str:
        return self.name
