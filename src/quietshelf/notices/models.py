"""Notices: templates, the outbox and the per-day counts left after reduction (PRV-NOT-1).

A Notice row is one message to one patron. It is queued with the template
variables only (counts, dates, titles when the patron opted in), encrypted
under the patron's key; the channel and address are chosen and the text is
rendered at delivery, so an address never rests in the outbox. After
delivery the variables go at once unless the patron opted in to notification
history (then the rendered subject and body are kept, encrypted, for the
retention period and shown in My account). The stripped row stays as a
marker while the thing it was about can still come round again (a loan
still overdue, a hold still on the shelf), so running a job twice never
sends anything twice; then it goes, and only NoticeDailyCount remains.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from quietshelf.privacy.fields import EncryptedJSONField, EncryptedTextField, SubjectField
from quietshelf.privacy.inventory import personal


class NoticeType(models.TextChoices):
    DUE_SOON = "due_soon", _("Due soon")
    OVERDUE = "overdue", _("Overdue")
    HOLD_READY = "hold_ready", _("Hold ready")
    EXPIRING_CARD = "expiring_card", _("Card expiring")
    FEE = "fee", _("Fees to pay")
    RECEIPT = "receipt", _("Loan receipt")
    PRIVACY = "privacy", _("Privacy notice")  # breach or disclosure notices (privacyoffice)
    # a scheduled report in its publication form, to a staff member (reports, RPT-1)
    STAFF_REPORT = "staff_report", _("Scheduled report")


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("Text message")


class NoticeLanguage(models.TextChoices):
    EN = "en", "English"
    NB = "nb", "Norsk bokmål"


class NoticeState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    UNDELIVERABLE = "undeliverable", _("No usable address")


def _p(category: str, risk: str, purpose: str, *, retention: str = "notice", **kw):
    kw.setdefault("legal_basis", "contract")
    kw.setdefault("source", "system")
    kw.setdefault("readers", ("circulation", "patron_manager", "privacy_office"))
    return personal(category=category, risk=risk, purpose=purpose, retention=retention, **kw)


class NoticeTemplate(models.Model):
    """A library's own text for one notice type, language and channel (SEC-TPL-1).

    No row: the built-in text (notices/defaults.py) is used. Rendered in the
    sandbox (notices/sandbox.py) with plain values only.
    """

    notice_type = models.CharField(max_length=16, choices=NoticeType.choices)
    language = models.CharField(max_length=2, choices=NoticeLanguage.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["notice_type", "language", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["notice_type", "language", "channel"], name="notices_template_unique"
            )
        ]

    class Privacy:  # reviewed: text written by staff with placeholders, about no one
        not_personal = {
            "notice_type": "enumeration",
            "subject": "template text with placeholders",
            "body": "template text with placeholders",
        }

    def __str__(self) -> str:
        return f"template {self.notice_type}/{self.language}/{self.channel}"


class Notice(models.Model):
    """One notice to one patron, from queued to sent (or failed), then reduced.

    Or to one staff member (`staff` set, `patron` empty): a scheduled report in its
    publication form (reports app). Its values are sealed under the staff member's
    key, its address is the one they gave for staff mail (StaffMailAddress), read at
    delivery like a patron's.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = SubjectField()
    patron = models.ForeignKey(
        "patrons.Patron", on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )
    staff = models.ForeignKey(
        "accounts.StaffUser", on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )
    notice_type = models.CharField(max_length=16, choices=NoticeType.choices)
    level = models.PositiveSmallIntegerField(default=0)  # 1..3 for overdue notices
    # what makes queueing idempotent: one row per patron and occasion
    dedupe_key = models.CharField(max_length=160, unique=True)
    # what the notice was about, to know when the marker may go
    ref_date = models.DateField(null=True, blank=True)
    ref_id = models.UUIDField(null=True, blank=True)
    data = EncryptedJSONField(null=True, blank=True)
    has_titles = models.BooleanField(default=False)
    kept = models.BooleanField(default=False)  # notification history consent at queue time
    state = models.CharField(max_length=16, choices=NoticeState.choices, default="queued")
    channel = models.CharField(max_length=8, choices=Channel.choices, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=64, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    subject_line = EncryptedTextField(null=True, blank=True)
    body = EncryptedTextField(null=True, blank=True)
    counted = models.BooleanField(default=False)  # content stripped, counted per day
    # the server (or gateway) took it: recorded per message, settled per batch (CIR-5)
    accepted = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="notices_due_work"),
            models.Index(fields=["patron", "sent_at"], name="notices_patron_sent"),
            models.Index(fields=["counted", "state"], name="notices_reduce"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(level__lte=3), name="notices_level_max3"),
            models.CheckConstraint(
                condition=Q(patron__isnull=False, staff__isnull=True)
                | Q(patron__isnull=True, staff__isnull=False),
                name="notices_one_recipient",
            ),
        ]

    class Privacy:
        subject = ("patron", "staff")
        fields = {
            "subject": _p("identifier", "low", "the key that encrypts the notice"),
            "patron": _p("identifier", "low", "whom the notice is for", subject="patron"),
            "staff": _p(
                "identifier",
                "low",
                "which staff member a scheduled report goes to",
                subject="staff",
                readers=("privacy_office",),
            ),
            "notice_type": _p("circulation", "low", "which notice it is"),
            "level": _p("circulation", "low", "first, second or third overdue notice"),
            "dedupe_key": _p(
                "circulation",
                "low",
                "never sending the same notice twice (ids and a date, no titles)",
            ),
            "ref_date": _p("circulation", "low", "the due date, expiry date or fee day"),
            "ref_id": _p("circulation", "low", "the hold a hold-ready notice is about"),
            "data": _p(
                "circulation",
                "medium",
                "what the notice says (counts and dates; titles only if you opted in), "
                "until it is sent",
            ),
            "has_titles": _p("preference", "low", "whether the notice names titles"),
            "kept": _p("preference", "low", "whether you asked to keep notification history"),
            "state": _p("circulation", "low", "whether the notice was sent"),
            "channel": _p("preference", "low", "e-mail or text message"),
            "attempts": _p("technical", "low", "delivery attempts"),
            "next_attempt_at": _p("technical", "low", "when delivery is tried again"),
            "claimed_at": _p("technical", "low", "when a worker took the notice"),
            "accepted": _p("technical", "low", "whether the mail server or gateway took it"),
            "last_error": _p("technical", "low", "why delivery failed (no addresses)"),
            "created_at": _p("circulation", "low", "when the notice was queued"),
            "sent_at": _p("circulation", "low", "when the notice was sent"),
            "subject_line": _p(
                "circulation",
                "medium",
                "your notification history, kept because you asked for it",
                retention="notice_history",
                legal_basis="consent",
                readers=("patron",),
            ),
            "body": _p(
                "circulation",
                "high",
                "your notification history, kept because you asked for it",
                retention="notice_history",
                legal_basis="consent",
                readers=("patron",),
            ),
        }
        not_personal = {
            "claimed_by": "a worker's process id",
            "counted": "whether the row was reduced to a count",
        }

    def __str__(self) -> str:
        return f"notice:{self.pk}"


class NoticeDailyCount(models.Model):
    """How many notices of a type went out (or failed) on a day: all that is left of them."""

    notice_type = models.CharField(max_length=16, choices=NoticeType.choices)
    channel = models.CharField(max_length=8, blank=True)
    day = models.DateField()
    outcome = models.CharField(max_length=16, choices=NoticeState.choices)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day", "notice_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["notice_type", "channel", "day", "outcome"], name="notices_count_unique"
            )
        ]

    class Privacy:  # reviewed: counts, about no one
        not_personal = {
            "notice_type": "enumeration",
            "channel": "enumeration",
            "outcome": "enumeration",
        }

    def __str__(self) -> str:
        return f"{self.count} {self.notice_type} {self.day}"


class StaffMailAddress(models.Model):
    """The address a staff member gave for staff mail (scheduled reports), under their key.

    Staff accounts hold no e-mail address (accounts.models); the only other one is
    the security-alert address, given for that purpose alone (PRV-INV-3), so
    report mail has its own, set by the staff member on the report schedules page.
    Read at delivery only; deleted with the account.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    staff = models.OneToOneField("accounts.StaffUser", on_delete=models.CASCADE, related_name="+")
    subject = SubjectField(kind="staff")
    email = EncryptedTextField()
    updated_at = models.DateTimeField()

    class Privacy:
        subject = "staff"
        fields = {
            "staff": personal(
                category="identifier",
                risk="low",
                purpose="whose address for staff mail it is",
                legal_basis="contract",
                source="system",
                retention="staff_account",
                readers=("system",),
            ),
            "subject": personal(
                category="identifier",
                risk="low",
                purpose="the key that encrypts the address",
                legal_basis="contract",
                source="system",
                retention="staff_account",
                readers=("system",),
            ),
            "email": personal(
                category="contact",
                risk="medium",
                purpose="sending the staff member the scheduled reports they asked for",
                legal_basis="contract",
                source="the staff member",
                retention="staff_account",
                readers=("system",),
            ),
            "updated_at": personal(
                category="account",
                risk="low",
                purpose="when the address was last set",
                legal_basis="contract",
                source="system",
                retention="staff_account",
                readers=("system",),
            ),
        }
        not_personal: dict = {}

    def __str__(self) -> str:
        return f"staff-mail-address:{self.pk}"
