"""The privacy office's records: requests from data subjects and the warrant canary.

A RequestCase is one request a person made about their data (PRV-DSR-3..6):
to see it, correct it, erase it, restrict or object to its use. What was
asked and the outcome note are encrypted under the patron's own key, so an
erased patron's case stays as an accountability record (kind, dates, who
checked identity and how, outcome) whose content reads "erased".

A CanaryStatement is one signed, dated warrant canary (PRV-GOV-2).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from quietshelf.privacy.fields import EncryptedTextField, SubjectField
from quietshelf.privacy.inventory import personal


def _p(category: str, risk: str, purpose: str, **kw):
    kw.setdefault("legal_basis", "legal_obligation")
    kw.setdefault("retention", "privacy_case")
    kw.setdefault("readers", ("privacy_office",))
    kw.setdefault("source", "system")
    return personal(category=category, risk=risk, purpose=purpose, **kw)


class CaseKind(models.TextChoices):
    ACCESS = "access", _("See my data")
    RECTIFICATION = "rectification", _("Correct my data")
    ERASURE = "erasure", _("Erase my account")
    RESTRICTION = "restriction", _("Restrict use of my data")
    OBJECTION = "objection", _("Object to a use of my data")
    COMPLAINT = "complaint", _("Complaint")


class CaseChannel(models.TextChoices):
    SELF_SERVICE = "self_service", _("My account")
    DESK = "desk", _("At the desk")
    LETTER = "letter", _("Letter")
    EMAIL = "email", _("E-mail")
    PHONE = "phone", _("Phone")
    STAFF = "staff", _("Staff action")


class CaseStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")
    REFUSED = "refused", _("Refused")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class IdentityMethod(models.TextChoices):
    """How a person proved who they are. Never the document itself (PRV-MIN-1)."""

    SIGNED_IN = "signed_in", _("Signed in to My account and gave the password again")
    DOCUMENT_SEEN = "document_seen", _("Photo identity document shown at the desk (not copied)")
    CARD_AND_PIN = "card_and_pin", _("Library card and PIN")
    KNOWN_CONTACT = "known_contact", _("Reply from the e-mail address or phone on record")
    OTHER = "other", _("Other (explained in the note)")


class RequestCase(models.Model):
    """One request from a data subject, with its legal deadline and outcome (PRV-DSR-6)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The patron's own subject (a new one for a person not in the register): what was
    # asked goes with that key when the person is erased.
    subject = SubjectField(kind="patron", null=True, blank=True, on_delete=models.SET_NULL)
    patron = models.ForeignKey(
        "patrons.Patron", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=CaseKind.choices)
    channel = models.CharField(max_length=16, choices=CaseChannel.choices)
    status = models.CharField(max_length=12, choices=CaseStatus.choices, default="open")
    details = EncryptedTextField(_("what was asked"), null=True, blank=True)
    received_on = models.DateField()
    due_on = models.DateField(db_index=True)
    identity_method = models.CharField(max_length=16, choices=IdentityMethod.choices, blank=True)
    identity_checked_by = models.ForeignKey(
        "accounts.StaffUser", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    identity_checked_at = models.DateTimeField(null=True, blank=True)
    outcome_note = EncryptedTextField(_("outcome"), null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        "accounts.StaffUser", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # For an objection: which processing it objects to.
    processing = models.CharField(max_length=16, blank=True)
    # Names of the processors (recipients) told of an erasure or correction.
    recipients_told = models.JSONField(default=list, blank=True)
    last_reminded_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_on", "created_at"]
        indexes = [models.Index(fields=["status", "due_on"], name="po_case_open_due")]

    class Privacy:
        subject = "patron"
        _staff = {"subject": "staff", "readers": ("privacy_office",)}
        fields = {
            "subject": _p("identifier", "low", "the key that encrypts what was asked"),
            "patron": _p("identifier", "medium", "whose request it is, while the account exists"),
            "details": _p(
                "free_text",
                "medium",
                "what the person asked for (for example which detail to correct)",
                source="the person or library staff",
            ),
            "received_on": _p("account", "low", "when the request arrived (the legal deadline)"),
            "due_on": _p("account", "low", "the legal deadline for the answer"),
            "identity_checked_by": _p("identifier", "low", "who checked identity", **_staff),
            "identity_checked_at": _p("account", "low", "when identity was checked"),
            "outcome_note": _p(
                "free_text", "medium", "what was done and why", source="library staff"
            ),
            "closed_at": _p("account", "low", "when the request was answered"),
            "closed_by": _p("identifier", "low", "who answered the request", **_staff),
            "created_at": _p("account", "low", "when the case was opened"),
        }
        not_personal = {
            "kind": "an enumeration of request kinds",
            "channel": "an enumeration of ways to ask",
            "identity_method": "an enumeration of ways to prove identity (never the document)",
            "recipients_told": "names of the library's processors (companies)",
            "processing": "an enumeration of kinds of processing objected to",
        }

    def __str__(self) -> str:
        return f"request case:{self.pk}"


class CanaryStatement(models.Model):
    """One dated warrant canary, signed with the instance's Ed25519 canary key (PRV-GOV-2).

    `text` is exactly the signed bytes (UTF-8); anyone can check the signature
    with the published public key and a stock tool (docs/privacy-office.md).
    """

    text = models.TextField()
    signed_at = models.DateTimeField()
    valid_until = models.DateField()
    signature = models.CharField(max_length=128)  # hex, 64 bytes
    public_key = models.CharField(max_length=64)  # hex, raw 32-byte Ed25519 key
    signed_by = models.ForeignKey(
        "accounts.StaffUser", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-signed_at", "-id"]

    class Privacy:
        subject = "staff"
        fields = {
            "signed_by": _p(
                "identifier",
                "low",
                "who signed the canary",
                legal_basis="legitimate_interest",
                retention="audit_log",
            ),
        }
        not_personal = {
            "text": "the public canary statement, about the library, no person",
            "signature": "an Ed25519 signature",
            "public_key": "the instance's canary public key",
        }

    def __str__(self) -> str:
        return f"canary {self.signed_at:%Y-%m-%d}"


class GovernmentRequestKind(models.TextChoices):
    SUBPOENA = "subpoena", _("Subpoena")
    SEARCH_WARRANT = "search_warrant", _("Search warrant")
    COURT_ORDER = "court_order", _("Court order")
    SECURITY_LETTER = "security_letter", _("National security letter")
    INFORMAL = "informal", _("Request without a court order")


class GovernmentRequestStatus(models.TextChoices):
    RECEIVED = "received", _("Received, under review")
    RELEASED = "released", _("Records released")
    REFUSED = "refused", _("Refused")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class GovernmentRequest(models.Model):
    """A government or law-enforcement request for patron records (PRV-GOV-1).

    The ALA checklist is four recorded answers; records are released only by
    the authorised officer with a fresh second factor, and each released row
    is listed in the disclosure log. The patron is told unless an order
    forbids it, and then on the day it ends (`notify_due_on`).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = SubjectField(kind="patron", null=True, blank=True, on_delete=models.SET_NULL)
    patron = models.ForeignKey(
        "patrons.Patron", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=16, choices=GovernmentRequestKind.choices)
    agency = models.CharField(_("requesting authority"), max_length=200)
    agency_reference = models.CharField(_("their reference"), max_length=100, blank=True)
    received_on = models.DateField()
    scope = EncryptedTextField(_("records the order names"), null=True, blank=True)
    court_competent = models.BooleanField(default=False)
    good_cause = models.BooleanField(default=False)
    proper_form = models.BooleanField(default=False)
    scope_limited = models.BooleanField(default=False)
    checklist_by = models.ForeignKey(
        "accounts.StaffUser", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    checklist_at = models.DateTimeField(null=True, blank=True)
    gag_until = models.DateField(null=True, blank=True)
    gag_indefinite = models.BooleanField(default=False)
    status = models.CharField(
        max_length=12, choices=GovernmentRequestStatus.choices, default="received"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        "accounts.StaffUser", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    notify_due_on = models.DateField(null=True, blank=True)
    patron_notified_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_on", "-created_at"]

    class Privacy:
        subject = "patron"
        _staff = {"subject": "staff", "readers": ("privacy_office",)}
        fields = {
            "subject": _p("identifier", "low", "the key that encrypts the order's scope"),
            "patron": _p("identifier", "high", "whose records a government request names"),
            "scope": _p(
                "free_text",
                "high",
                "which records the order asks for",
                source="the requesting authority",
            ),
            "received_on": _p("account", "low", "when the request arrived"),
            "checklist_by": _p("identifier", "low", "who reviewed the request", **_staff),
            "checklist_at": _p("account", "low", "when it was reviewed"),
            "decided_at": _p("account", "low", "when records were released or refused"),
            "decided_by": _p("identifier", "low", "the authorised officer who decided", **_staff),
            "notify_due_on": _p("account", "low", "when the patron may be told"),
            "patron_notified_on": _p("account", "low", "when the patron was told"),
            "created_at": _p("account", "low", "when the request was recorded"),
        }
        not_personal = {
            "kind": "an enumeration of order kinds",
            "agency": "the name of a public authority, not a person",
            "agency_reference": "the authority's case number",
            "status": "an enumeration",
        }

    def __str__(self) -> str:
        return f"government request:{self.pk}"

    @property
    def checklist_complete(self) -> bool:
        return self.court_competent and self.good_cause and self.proper_form and self.scope_limited


class DisclosureEntry(models.Model):
    """One record released to a third party (PRV-3P-1): its type and id, never its content."""

    request = models.ForeignKey(
        GovernmentRequest, on_delete=models.PROTECT, related_name="disclosures"
    )
    record_type = models.CharField(max_length=60)
    record_id = models.CharField(max_length=64)
    released_at = models.DateTimeField()
    released_by = models.ForeignKey(
        "accounts.StaffUser", on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["released_at", "id"]
        verbose_name_plural = "disclosure entries"

    class Privacy:
        subject = "patron"
        fields = {
            "record_id": _p("identifier", "medium", "which record was disclosed (the log)"),
            "released_at": _p("account", "low", "when it was disclosed"),
            "released_by": _p(
                "identifier",
                "low",
                "who disclosed it",
                subject="staff",
                readers=("privacy_office",),
            ),
        }
        not_personal = {"record_type": "a model label"}

    def __str__(self) -> str:
        return f"disclosure:{self.pk}"


class BreachStatus(models.TextChoices):
    OPEN = "open", _("Open")
    NOTIFIED = "notified", _("Patrons notified")
    CLOSED = "closed", _("Closed")


class BreachIncident(models.Model):
    """A personal-data breach (PRV-BRE-1): its scope, the 72-hour clock, the reviewed notice.

    Affected patrons are computed from the scope when needed, never stored as a
    list; only the counts are kept.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=200)
    what_happened = models.TextField()
    discovered_at = models.DateTimeField()
    data_categories = models.JSONField(default=list)
    branches = models.ManyToManyField("catalog.Branch", blank=True, related_name="+")
    systems = models.JSONField(default=list, blank=True)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    status = models.CharField(max_length=10, choices=BreachStatus.choices, default="open")
    authority_notified_at = models.DateTimeField(null=True, blank=True)
    notice_headline = models.CharField(max_length=200, blank=True)
    notice_text = models.TextField(blank=True)
    notice_reviewed_by = models.ForeignKey(
        "accounts.StaffUser", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    notice_reviewed_at = models.DateTimeField(null=True, blank=True)
    affected_count = models.PositiveIntegerField(null=True, blank=True)
    notices_queued = models.PositiveIntegerField(null=True, blank=True)
    notices_sent_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        "accounts.StaffUser", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-discovered_at"]

    class Privacy:
        subject = "staff"
        _staff = {"legal_basis": "legal_obligation", "retention": "privacy_case"}
        fields = {
            "notice_reviewed_by": _p("identifier", "low", "who approved the notice text", **_staff),
            "recorded_by": _p("identifier", "low", "who recorded the incident", **_staff),
        }
        not_personal = {
            "title": "a name for the incident, about systems, not people",
            "what_happened": "an account of the incident without personal values",
            "data_categories": "inventory data categories",
            "systems": "names of systems",
            "status": "an enumeration",
            "notice_headline": "the notice text sent to everyone affected alike",
            "notice_text": "the notice text sent to everyone affected alike",
        }

    def __str__(self) -> str:
        return f"breach:{self.pk}"


class ObjectedProcessing(models.TextChoices):
    LOADS = "loads", _("Updates from the campus or municipal register")
    NOTICES = "notices", _("Notices other than those a loan needs")
    STATISTICS = "statistics", _("De-identified statistics")
    ESCROW = "escrow", _("Keeping the last borrower of an item")
    AUTHOR_DISPLAY = "author_display", _("Display of an author's personal details (CAT-3)")
    OTHER = "other", _("Other (described in the case)")


class ProcessingRestriction(models.Model):
    """A patron restricted the use of their data (PRV-DSR-5): kept, not used.

    While it stands the patron's status is "restricted": circulation refuses new
    loans without an override, notices are not sent, patron loads do not
    overwrite the record. It is lifted only after the patron was told
    (`lift_on`, announced through a privacy notice).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patron = models.ForeignKey("patrons.Patron", on_delete=models.CASCADE, related_name="+")
    previous_status = models.CharField(max_length=12)
    started_at = models.DateTimeField()
    started_by = models.ForeignKey(
        "accounts.StaffUser", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    lift_on = models.DateField(null=True, blank=True)
    lift_announced_at = models.DateTimeField(null=True, blank=True)
    lifted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patron"],
                condition=models.Q(lifted_at__isnull=True),
                name="po_one_restriction_in_force",
            )
        ]

    class Privacy:
        subject = "patron"
        _pkw = {"legal_basis": "legal_obligation", "retention": "patron_account"}
        fields = {
            "patron": _p("identifier", "low", "whose data may not be used", **_pkw),
            "previous_status": _p("account", "low", "the status to restore", **_pkw),
            "started_at": _p("account", "low", "since when the data is not used", **_pkw),
            "started_by": _p("identifier", "low", "who recorded it", subject="staff", **_pkw),
            "lift_on": _p("account", "low", "when the patron was told it ends", **_pkw),
            "lift_announced_at": _p("account", "low", "when the patron was told", **_pkw),
            "lifted_at": _p("account", "low", "when it ended", **_pkw),
        }
        not_personal: dict = {}

    def __str__(self) -> str:
        return f"restriction:{self.pk}"
