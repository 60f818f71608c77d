"""Circulation: loan rules, calendars, loans, holds, transits, fees, reading history.

Privacy (PRV-HIST-1/2): a Loan or Hold links a patron to what they read only
while it is open. When it closes the patron link goes in the same transaction
(or after QUIETSHELF_LOAN_DEIDENTIFY_DAYS), unless a fee on it is unresolved;
CirculationEvent keeps the de-identified facts for statistics (item, item
type, branch, patron group, day). A resolved Fee loses its item, title and
loan. Reading history (opt-in) lives apart, encrypted under the patron's key.

State changes go through services.py; pure rules are in policy.py.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from quietshelf.privacy.fields import (
    CoarseDateTimeField,
    EncryptedJSONField,
    EncryptedTextField,
    SubjectField,
)
from quietshelf.privacy.inventory import personal


def _p(category: str, risk: str, purpose: str, *, retention: str, **kw):
    kw.setdefault("legal_basis", "contract")
    kw.setdefault("source", "system")
    kw.setdefault("readers", ("circulation", "privacy_office"))
    return personal(category=category, risk=risk, purpose=purpose, retention=retention, **kw)


_STAFF = {"subject": "staff", "readers": ("circulation", "privacy_office")}


class PeriodUnit(models.TextChoices):
    DAYS = "days", _("Days")
    HOURS = "hours", _("Hours")


class LostFeePolicy(models.TextChoices):
    ITEM_PRICE = "price", _("The item's price (or the default when it has none)")
    DEFAULT = "default", _("The default amount")


class LoanRule(models.Model):
    """One cell of the rule matrix (CIR-1): patron group x item type x branch.

    A null dimension is a wildcard. The most specific rule wins (most
    dimensions set); ties go to branch, then item type, then patron group
    (policy.select_rule). No matching rule means no loan.
    """

    patron_group = models.ForeignKey(
        "patrons.PatronGroup", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    item_type = models.ForeignKey(
        "catalog.ItemType", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    branch = models.ForeignKey(
        "catalog.Branch", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    loan_period = models.PositiveIntegerField(default=21)
    period_unit = models.CharField(max_length=5, choices=PeriodUnit.choices, default="days")
    renewals_allowed = models.PositiveIntegerField(default=2)
    renewal_period = models.PositiveIntegerField(null=True, blank=True)  # None: loan_period
    # "too soon": a renewal is refused more than this many days before the due date
    # (None: only when it would not move the due date at all)
    no_renewal_before_days = models.PositiveIntegerField(null=True, blank=True)
    max_loans = models.PositiveIntegerField(null=True, blank=True)  # None: no limit
    max_loans_per_type = models.PositiveIntegerField(null=True, blank=True)
    holds_allowed = models.BooleanField(default=True)
    hold_limit = models.PositiveIntegerField(null=True, blank=True)
    fine_per_day_minor = models.PositiveIntegerField(default=0)
    grace_days = models.PositiveIntegerField(default=0)
    max_fine_minor = models.PositiveIntegerField(null=True, blank=True)
    fines_open_days_only = models.BooleanField(default=True)
    lost_fee_policy = models.CharField(max_length=8, choices=LostFeePolicy.choices, default="price")
    lost_default_minor = models.PositiveIntegerField(default=0)
    processing_fee_minor = models.PositiveIntegerField(default=0)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["patron_group", "item_type", "branch"],
                name="circ_rule_unique_cell",
                nulls_distinct=False,
            ),
            models.CheckConstraint(condition=Q(loan_period__gt=0), name="circ_rule_period_pos"),
        ]

    class Privacy:  # reviewed: configuration only
        not_personal = {"period_unit": "enumeration", "note": "a label for the rule"}

    def __str__(self) -> str:
        return f"loan rule {self.pk}"


class BranchCalendar(models.Model):
    """Weekly closures and opening hours of a branch (none: open every day, all day)."""

    branch = models.OneToOneField("catalog.Branch", on_delete=models.CASCADE, related_name="+")
    # ISO weekdays 1 (Monday) .. 7 (Sunday) on which the branch is closed
    closed_weekdays = models.JSONField(default=list, blank=True)
    opens = models.TimeField(null=True, blank=True)
    closes = models.TimeField(null=True, blank=True)

    class Privacy:  # reviewed: configuration only
        not_personal = {"closed_weekdays": "weekday numbers"}

    def __str__(self) -> str:
        return f"calendar of branch {self.branch_id}"


class ClosedPeriod(models.Model):
    """A closed day (first == last) or range of days at a branch."""

    branch = models.ForeignKey("catalog.Branch", on_delete=models.CASCADE, related_name="+")
    first = models.DateField()
    last = models.DateField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["first"]
        constraints = [
            models.CheckConstraint(
                condition=Q(last__gte=models.F("first")), name="circ_closed_order"
            )
        ]
        indexes = [models.Index(fields=["branch", "last"])]

    class Privacy:  # reviewed: configuration only
        not_personal = {"note": "why the branch is closed (holiday)"}

    def __str__(self) -> str:
        return f"closed {self.first}..{self.last}"


class Loan(models.Model):
    """An item lent to a patron. `patron` is set only while the loan is open (or a fee is)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    item = models.ForeignKey("catalog.Item", on_delete=models.PROTECT, related_name="loans")
    patron = models.ForeignKey(
        "patrons.Patron", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    patron_group = models.ForeignKey(
        "patrons.PatronGroup", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    branch = models.ForeignKey("catalog.Branch", on_delete=models.PROTECT, related_name="+")
    rule = models.ForeignKey(LoanRule, on_delete=models.SET_NULL, null=True, related_name="+")
    checked_out_at = models.DateTimeField()
    due_at = models.DateTimeField()
    renewals = models.PositiveIntegerField(default=0)
    returned_at = models.DateTimeField(null=True, blank=True)
    return_branch = models.ForeignKey(
        "catalog.Branch", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    overridden = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item"], condition=Q(returned_at__isnull=True), name="circ_one_open_loan"
            )
        ]
        indexes = [
            models.Index(fields=["patron", "returned_at"], name="circ_loan_patron_open"),
            models.Index(fields=["returned_at"], name="circ_loan_returned"),
        ]

    class Privacy:
        subject = "patron"
        fields = {
            "patron": _p(
                "circulation",
                "high",
                "knowing who has the item while it is on loan (reveals reading)",
                retention="loan",
            ),
        }
        not_personal: dict = {}

    def __str__(self) -> str:
        return f"loan:{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.returned_at is None


class HoldStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    IN_TRANSIT = "in_transit", _("In transit to pickup")
    ON_SHELF = "on_shelf", _("On the hold shelf")
    FILLED = "filled", _("Filled")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")


OPEN_HOLD = ("waiting", "in_transit", "on_shelf")


class Hold(models.Model):
    """A request for a title (any copy) or one item (CIR-3). The patron goes when it closes."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    record = models.ForeignKey("catalog.BibRecord", on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(  # item-level hold, or the copy trapped for it
        "catalog.Item", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    item_level = models.BooleanField(default=False)
    patron = models.ForeignKey(
        "patrons.Patron", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    patron_group = models.ForeignKey(
        "patrons.PatronGroup", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    pickup_branch = models.ForeignKey("catalog.Branch", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=12, choices=HoldStatus.choices, default="waiting")
    placed_at = models.DateTimeField()
    suspended_until = models.DateField(null=True, blank=True)
    shelf_expires_on = models.DateField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["placed_at", "id"]
        indexes = [
            models.Index(fields=["record", "status", "placed_at"], name="circ_hold_queue"),
            models.Index(fields=["patron", "status"], name="circ_hold_patron"),
        ]

    class Privacy:
        subject = "patron"
        fields = {
            "patron": _p(
                "circulation",
                "high",
                "knowing who asked for the title while the hold is open (reveals reading)",
                retention="hold",
            ),
            "suspended_until": _p(
                "circulation", "low", "when the patron's hold resumes", retention="hold"
            ),
        }
        not_personal = {"status": "enumeration"}

    def __str__(self) -> str:
        return f"hold:{self.pk}"


class Transit(models.Model):
    """An item travelling between branches (home after a return elsewhere, or to a pickup)."""

    item = models.ForeignKey("catalog.Item", on_delete=models.CASCADE, related_name="+")
    from_branch = models.ForeignKey("catalog.Branch", on_delete=models.PROTECT, related_name="+")
    to_branch = models.ForeignKey("catalog.Branch", on_delete=models.PROTECT, related_name="+")
    hold = models.ForeignKey(
        Hold, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # To the day only (PRV-HIST-5): a transit starts at a check-in, and its exact
    # second would re-link the reader the loan no longer names.
    sent_at = CoarseDateTimeField()
    received_at = CoarseDateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item"], condition=Q(received_at__isnull=True), name="circ_one_open_transit"
            )
        ]

    class Privacy:  # reviewed: items and branches only (the hold's patron goes with the hold)
        not_personal: dict = {}

    def __str__(self) -> str:
        return f"transit:{self.pk}"


class EventKind(models.TextChoices):
    CHECKOUT = "checkout", _("Check-out")
    CHECKIN = "checkin", _("Check-in")
    RENEWAL = "renewal", _("Renewal")
    HOLD_PLACED = "hold_placed", _("Hold placed")
    HOLD_FILLED = "hold_filled", _("Hold filled")
    HOLD_CANCELLED = "hold_cancelled", _("Hold cancelled")


class CirculationEvent(models.Model):
    """A de-identified fact for statistics (RPT-1), written in the transaction it counts.

    Item, item type, branch, patron group and day only: never a patron, a
    loan or a time of day.
    """

    kind = models.CharField(max_length=16, choices=EventKind.choices)
    day = models.DateField()
    item = models.ForeignKey(
        "catalog.Item", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    record = models.ForeignKey(
        "catalog.BibRecord", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    item_type = models.ForeignKey(
        "catalog.ItemType", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    branch = models.ForeignKey(
        "catalog.Branch", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    patron_group = models.ForeignKey(
        "patrons.PatronGroup", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["day", "kind"], name="circ_event_day")]

    class Privacy:  # reviewed: de-identified (PRV-HIST-2)
        not_personal = {"kind": "enumeration"}

    def __str__(self) -> str:
        return f"{self.kind} {self.day}"


class FeeType(models.TextChoices):
    OVERDUE = "overdue", _("Overdue fine")
    LOST = "lost", _("Lost item")
    DAMAGE = "damage", _("Damage")
    CARD = "card", _("Card replacement")
    MANUAL = "manual", _("Other")


class Fee(models.Model):
    """A fee owed by a patron (CIR-4). The balance is the sum of its transactions.

    The item, title and loan are kept only while the fee is unresolved.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = SubjectField(kind="patron", null=True, blank=True, on_delete=models.SET_NULL)
    patron = models.ForeignKey(
        "patrons.Patron", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    type = models.CharField(max_length=8, choices=FeeType.choices)
    branch = models.ForeignKey("catalog.Branch", on_delete=models.PROTECT, related_name="+")
    item = models.ForeignKey(
        "catalog.Item", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    record = models.ForeignKey(
        "catalog.BibRecord", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    loan = models.ForeignKey(
        Loan, on_delete=models.SET_NULL, null=True, blank=True, related_name="fees"
    )
    original_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(original_minor__gt=0), name="circ_fee_positive")
        ]
        indexes = [models.Index(fields=["patron", "resolved_at"], name="circ_fee_patron_open")]

    class Privacy:
        subject = "patron"
        _fee = {"retention": "fee"}
        fields = {
            "subject": _p("identifier", "low", "the key that encrypts fee reasons", **_fee),
            "patron": _p("financial", "medium", "who owes the fee", **_fee),
            "type": _p("financial", "low", "what the fee is for", **_fee),
            "item": _p(
                "circulation", "high", "which item the fee is for, while unresolved", **_fee
            ),
            "record": _p(
                "circulation", "high", "which title the fee is for, while unresolved", **_fee
            ),
            "loan": _p(
                "circulation", "high", "the loan the fee came from, while unresolved", **_fee
            ),
            "original_minor": _p("financial", "low", "the amount charged", **_fee),
            "created_at": _p("financial", "low", "when the fee was charged", **_fee),
            "resolved_at": _p("financial", "low", "when the fee was settled", **_fee),
        }
        not_personal = {"currency": "currency code"}

    def __str__(self) -> str:
        return f"fee:{self.pk}"


class TransactionKind(models.TextChoices):
    CHARGE = "charge", _("Charge")
    PAYMENT = "payment", _("Payment")
    WAIVER = "waiver", _("Waiver")
    REFUND = "refund", _("Refund")


class FeeTransaction(models.Model):
    """One ledger line, never changed or deleted. amount_minor is signed: + owed, - settled."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = SubjectField(kind="patron", null=True, blank=True, on_delete=models.SET_NULL)
    fee = models.ForeignKey(Fee, on_delete=models.PROTECT, related_name="transactions")
    kind = models.CharField(max_length=8, choices=TransactionKind.choices)
    amount_minor = models.BigIntegerField()
    reason = EncryptedTextField(null=True, blank=True)
    by = models.ForeignKey(
        "accounts.StaffUser", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount_minor=0), name="circ_tx_not_zero")
        ]

    class Privacy:
        subject = "patron"
        fields = {
            "subject": _p("identifier", "low", "the key that encrypts the reason", retention="fee"),
            "amount_minor": _p("financial", "low", "the ledger line", retention="fee"),
            "reason": _p(
                "free_text",
                "medium",
                "why a fee was waived or refunded",
                retention="fee",
                source="library staff",
            ),
            "by": _p("identifier", "low", "who recorded it", retention="fee", **_STAFF),
            "at": _p("financial", "low", "when", retention="fee"),
        }
        not_personal = {"kind": "enumeration"}

    def __str__(self) -> str:
        return f"fee transaction:{self.pk}"

    # append-only (CIR-4): a line is written once and never changed or deleted
    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("fee ledger lines are never changed; add a new line")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("fee ledger lines are never deleted")


class ReadingHistoryEntry(models.Model):
    """One title a patron borrowed, kept only with their consent (PRV-HIST-3).

    Everything about the title and the dates is one encrypted value under the
    patron's own key; the row itself holds no item, title or time in clear.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subject = SubjectField(kind="patron")
    patron = models.ForeignKey("patrons.Patron", on_delete=models.CASCADE, related_name="+")
    data = EncryptedJSONField()

    class Privacy:
        subject = "patron"
        fields = {
            "subject": _p(
                "identifier",
                "low",
                "the key that encrypts the history",
                retention="reading_history",
                legal_basis="consent",
            ),
            "patron": _p(
                "circulation",
                "low",
                "whose history it is",
                retention="reading_history",
                legal_basis="consent",
            ),
            "data": _p(
                "circulation",
                "high",
                "a list of what you borrowed, kept because you asked for it",
                retention="reading_history",
                legal_basis="consent",
                source="the patron's loans",
                readers=("patron",),
            ),
        }
        not_personal: dict = {}

    def __str__(self) -> str:
        return f"reading history:{self.pk}"


class LastBorrowerEscrow(models.Model):
    """PRV-HIST-4 (off by default): who last returned an item, sealed for a short time.

    The patron id is encrypted under an instance escrow key (AES-256-GCM, the
    item id as associated data); only the privacy-officer role can open it
    (services.escrow_open, with a reason, audited on the patron). Expired rows
    are deleted by services.purge_escrow.
    """

    item = models.OneToOneField("catalog.Item", on_delete=models.CASCADE, related_name="+")
    sealed = models.BinaryField()
    expires_on = models.DateField(db_index=True)

    class Privacy:
        subject = "patron"
        fields = {
            "sealed": _p(
                "circulation",
                "high",
                "damage and loss claims: the last borrower, sealed, for a short time (optional)",
                retention="loan",
                legal_basis="legitimate_interest",
                readers=("privacy_office",),
            ),
            "expires_on": _p(
                "circulation", "low", "when the sealed last borrower is deleted", retention="loan"
            ),
        }
        not_personal: dict = {}

    def __str__(self) -> str:
        return f"escrow:{self.pk}"
