"""Reads shared by the desk pages and the API (authorisation applied here)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, Sum
from django.utils import timezone

from quietshelf.circulation import policy
from quietshelf.circulation.models import OPEN_HOLD, Fee, FeeTransaction, Hold, HoldStatus, Loan
from quietshelf.circulation.services import _is_patron_self, _require, find_rule
from quietshelf.core import clock


def patron_balance_and_overdue(patron_id, today: dt.date) -> tuple[int, int]:
    """(unresolved fee balance in minor units, number of overdue open loans): two queries."""
    balance = (
        FeeTransaction.objects.filter(
            fee__patron_id=patron_id, fee__resolved_at__isnull=True
        ).aggregate(s=Sum("amount_minor"))["s"]
        or 0
    )
    start_of_today = timezone.make_aware(dt.datetime.combine(today, dt.time()))
    overdue = Loan.objects.filter(
        patron_id=patron_id, returned_at__isnull=True, due_at__lt=start_of_today
    ).count()
    return balance, overdue


def patron_loans(*, actor, patron_id):
    """The patron's open loans, soonest due first."""
    if not _is_patron_self(actor, patron_id):
        _require(actor, "circulation.checkout")
    return list(
        Loan.objects.filter(patron_id=patron_id, returned_at__isnull=True)
        .select_related("item", "item__record", "item__branch")
        .order_by("due_at")
    )


@dataclass
class FeeLine:
    fee: Fee
    balance_minor: int


def patron_fees(*, actor, patron_id) -> list[FeeLine]:
    """Unresolved fees with their balances (one query for fees, one for sums)."""
    if not _is_patron_self(actor, patron_id):
        _require(actor, "circulation.manage_fees")
    fees = list(
        Fee.objects.filter(patron_id=patron_id, resolved_at__isnull=True)
        .select_related("record", "item", "branch")
        .order_by("created_at")
    )
    sums = dict(
        FeeTransaction.objects.filter(fee__in=[f.pk for f in fees])
        .values("fee_id")
        .annotate(s=Sum("amount_minor"))
        .values_list("fee_id", "s")
    )
    return [FeeLine(f, sums.get(f.pk, 0)) for f in fees]


def queue_position(hold: Hold, *, today: dt.date | None = None) -> int | None:
    """1-based place among waiting holds on the title (suspended ones keep theirs, uncounted)."""
    if hold.status != HoldStatus.WAITING:
        return None
    today = today or clock.today()
    ahead = (
        Hold.objects.filter(record_id=hold.record_id, status=HoldStatus.WAITING)
        .filter(Q(placed_at__lt=hold.placed_at) | Q(placed_at=hold.placed_at, id__lt=hold.id))
        .filter(Q(suspended_until__isnull=True) | Q(suspended_until__lt=today))
        .count()
    )
    return ahead + 1


def patron_holds(*, actor, patron_id) -> list[tuple[Hold, int | None]]:
    if not _is_patron_self(actor, patron_id):
        _require(actor, "circulation.checkout")
    holds = list(
        Hold.objects.filter(patron_id=patron_id, status__in=OPEN_HOLD)
        .select_related("record", "pickup_branch")
        .order_by("placed_at")
    )
    return [(h, queue_position(h)) for h in holds]


@dataclass
class RuleExplanation:
    rule_id: int
    why: str
    loan_period: int
    period_unit: str
    renewals_allowed: int


def explain(*, patron_group_id, item_type_id, branch_id) -> RuleExplanation:
    """Which loan rule applies and why (CIR-1 explainer; NoLoanRule when none)."""
    rule, choice = find_rule(
        patron_group_id=patron_group_id, item_type_id=item_type_id, branch_id=branch_id
    )
    return RuleExplanation(
        rule_id=rule.pk,
        why=choice.why,
        loan_period=rule.loan_period,
        period_unit=rule.period_unit,
        renewals_allowed=rule.renewals_allowed,
    )


def reading_history(*, actor, patron_id) -> list[dict]:
    """The patron's own reading history, newest return first (decrypted under their key)."""
    from quietshelf.circulation.models import ReadingHistoryEntry

    if not _is_patron_self(actor, patron_id):
        _require(actor, "circulation.checkout")
    rows = [e.data for e in ReadingHistoryEntry.objects.filter(patron_id=patron_id)]
    rows = [r for r in rows if isinstance(r, dict)]
    return sorted(rows, key=lambda r: (r.get("returned", ""), r.get("borrowed", "")), reverse=True)


def format_money(amount: int, currency: str) -> str:
    return policy.format_minor(amount, currency)


def hold_shelf(*, actor, branch_id) -> list[Hold]:
    """Holds waiting on this branch's hold shelf, soonest expiry first (no patron data)."""
    _require(actor, "circulation.checkout", branch_id=branch_id)
    return list(
        Hold.objects.filter(pickup_branch_id=branch_id, status=HoldStatus.ON_SHELF)
        .select_related("record", "item")
        .order_by("shelf_expires_on", "placed_at")
    )


def pick_list(*, actor, branch_id, limit: int = 200) -> list:
    """Available copies at this branch that a waiting hold could take: pull them and check
    them in to trap them (one query; items, not patrons)."""
    from quietshelf.catalog.models import Item, ItemStatus

    _require(actor, "circulation.checkout", branch_id=branch_id)
    today = clock.today()
    waiting = Hold.objects.filter(status=HoldStatus.WAITING).filter(
        Q(suspended_until__isnull=True) | Q(suspended_until__lt=today)
    )
    return list(
        Item.objects.filter(
            branch_id=branch_id,
            status=ItemStatus.AVAILABLE,
            item_type__circulates=True,
        )
        .filter(
            Q(record_id__in=waiting.filter(item_level=False).values("record_id"))
            | Q(pk__in=waiting.filter(item_level=True).values("item_id"))
        )
        .select_related("record")
        .order_by("call_number", "barcode")[:limit]
    )
