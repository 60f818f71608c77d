"""Reads shared by the desk pages and the API (authorisation applied here)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db.models import Count, Q, Sum

from quietshelf.circulation.models import OPEN_HOLD, Fee, FeeTransaction, Hold, HoldStatus, Loan
from quietshelf.circulation.services import _is_patron_self, _require, find_rule
from quietshelf.core import clock, money
from quietshelf.core.errors import NotFound


def patron_loans(*, actor, patron_id):
    """The patron's open loans, soonest due first."""
    if not _is_patron_self(actor, patron_id):
        _require(actor, "circulation.checkout", acting_for=patron_id)
    return list(
        Loan.objects.filter(patron_id=patron_id, returned_at__isnull=True)
        .select_related("item", "item__record", "item__branch")
        .order_by("due_at")
    )


def patron_loan(*, actor, patron_id, loan_id) -> Loan | None:
    """One open loan of this patron (None for a bad id or someone else's loan)."""
    if not _is_patron_self(actor, patron_id):
        _require(actor, "circulation.checkout")
    try:
        lid = uuid.UUID(str(loan_id))
    except (ValueError, TypeError):
        return None
    return (
        Loan.objects.filter(pk=lid, patron_id=patron_id)
        .select_related("item", "item__record")
        .first()
    )


def patron_fee(*, actor, patron_id, fee_id) -> Fee | None:
    """One fee of this patron (None for a bad id or someone else's fee)."""
    if not _is_patron_self(actor, patron_id):
        _require(actor, "circulation.manage_fees")
    try:
        fid = uuid.UUID(str(fee_id))
    except (ValueError, TypeError):
        return None
    return Fee.objects.filter(pk=fid, patron_id=patron_id).first()


def patron_payments(*, actor, patron_id, limit: int = 20) -> list[FeeTransaction]:
    """The patron's recent payments, newest first, for refunds at the desk."""
    _require(actor, "circulation.manage_fees")
    return list(
        FeeTransaction.objects.filter(fee__patron_id=patron_id, kind="payment")
        .select_related("fee")
        .order_by("-at")[:limit]
    )


def payment_lines(*, actor, patron_id, tx_ids) -> list[FeeTransaction]:
    """The payment transactions of a receipt (only this patron's)."""
    _require(actor, "circulation.manage_fees")
    ids = []
    for t in tx_ids or []:
        try:
            ids.append(uuid.UUID(str(t)))
        except (ValueError, TypeError):
            continue
    return list(
        FeeTransaction.objects.filter(pk__in=ids, fee__patron_id=patron_id, kind="payment")
        .select_related("fee", "fee__record")
        .order_by("at")
    )


@dataclass
class FeeLine:
    fee: Fee
    balance_minor: int


def patron_fees(*, actor, patron_id) -> list[FeeLine]:
    """Unresolved fees with their balances (one query for fees, one for sums)."""
    if not _is_patron_self(actor, patron_id):
        _require(actor, "circulation.manage_fees", acting_for=patron_id)
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


def slip_hold(*, actor, hold_id) -> Hold | None:
    """A hold for its slip: title, copy, pickup branch, shelf date (no patron data)."""
    _require(actor, "circulation.checkout")
    try:
        hid = uuid.UUID(str(hold_id))
    except (ValueError, TypeError):
        return None
    return (
        Hold.objects.filter(pk=hid)
        .select_related("record", "item", "pickup_branch", "item__location")
        .first()
    )


def slip_transit(*, actor, item_id):
    """The item's latest transit for its routing slip: from, to, sent, for a hold or not."""
    from quietshelf.circulation.models import Transit

    _require(actor, "circulation.checkout")
    return (
        Transit.objects.filter(item_id=item_id)
        .select_related("item", "item__record", "from_branch", "to_branch")
        .order_by("-sent_at", "-pk")  # sent_at is a day (PRV-HIST-5): the latest row
        .first()
    )


def hold_standing(hold: Hold) -> tuple[int | None, bool]:
    """(queue position, whether a copy can fill it from the shelf now): a hold whose
    position is within the copies available waits for a pull, not for a return (CIR-3)."""
    from quietshelf.catalog.models import Item, ItemStatus

    position = queue_position(hold)
    items = Item.objects.filter(record_id=hold.record_id, status=ItemStatus.AVAILABLE)
    if hold.item_level and hold.item_id:
        items = items.filter(pk=hold.item_id)
    available = items.count()
    return position, bool(position is not None and position <= available)


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
        _require(actor, "circulation.checkout", acting_for=patron_id)
    rows = [e.data for e in ReadingHistoryEntry.objects.filter(patron_id=patron_id)]
    rows = [r for r in rows if isinstance(r, dict)]
    return sorted(rows, key=lambda r: (r.get("returned", ""), r.get("borrowed", "")), reverse=True)


def format_money(amount: int, currency: str) -> str:
    """In the active language's number format ("70,00 NOK" in Norwegian)."""
    return money.format_money(amount, currency)


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


# --- the patron's self-service pages (patrons/portal/circulation_views.py) -------------------


@dataclass
class LoanLine:
    loan: Loan
    overdue: bool
    renewals_left: int | None  # None: the rule is gone (renewal decides then)


def patron_loan_lines(*, actor, patron_id) -> list[LoanLine]:
    """patron_loans with overdue marks and renewals left (rules from the cached matrix)."""
    from quietshelf.circulation.services import _all_rules

    loans = patron_loans(actor=actor, patron_id=patron_id)
    rules = {r.pk: r for r in _all_rules()}
    now = clock.now()
    out = []
    for loan in loans:
        rule = rules.get(loan.rule_id)
        left = max(0, rule.renewals_allowed - loan.renewals) if rule is not None else None
        out.append(LoanLine(loan=loan, overdue=loan.due_at < now, renewals_left=left))
    return out


def patron_fee_history(*, actor, patron_id, limit: int = 100) -> list[FeeTransaction]:
    """The patron's ledger lines (charges, payments, waivers, refunds), newest first.

    The staff member who wrote a line and its reason stay out (staff data and free text).
    """
    if not _is_patron_self(actor, patron_id):
        _require(actor, "circulation.manage_fees", acting_for=patron_id)
    return list(
        FeeTransaction.objects.filter(fee__patron_id=patron_id)
        .select_related("fee")
        .defer("reason")
        .order_by("-at", "-id")[:limit]
    )


@dataclass
class PatronSummary:
    loans: int
    overdue: int
    holds: int
    ready: int
    balance_minor: int


def patron_summary(*, actor, patron_id) -> PatronSummary:
    """Counts for the My account home page: four small queries, no titles."""
    if not _is_patron_self(actor, patron_id):
        _require(actor, "circulation.checkout", acting_for=patron_id)
    now = clock.now()
    loans = Loan.objects.filter(patron_id=patron_id, returned_at__isnull=True).aggregate(
        n=Count("id"), late=Count("id", filter=Q(due_at__lt=now))
    )
    holds = Hold.objects.filter(patron_id=patron_id, status__in=OPEN_HOLD).aggregate(
        n=Count("id"), ready=Count("id", filter=Q(status=HoldStatus.ON_SHELF))
    )
    balance = (
        FeeTransaction.objects.filter(
            fee__patron_id=patron_id, fee__resolved_at__isnull=True
        ).aggregate(s=Sum("amount_minor"))["s"]
        or 0
    )
    return PatronSummary(
        loans=loans["n"],
        overdue=loans["late"],
        holds=holds["n"],
        ready=holds["ready"],
        balance_minor=balance,
    )


def pickup_branches() -> list:
    """Branches a patron may choose for pickup (every branch of the instance)."""
    from quietshelf.catalog.models import Branch

    return list(Branch.objects.order_by("name"))


def holdable_record(record_id):
    """The title a hold form names, or None (only public fields are read)."""
    from quietshelf.catalog.models import BibRecord

    try:
        return BibRecord.objects.filter(pk=int(record_id)).first()
    except (ValueError, TypeError):
        return None


def rule_list(*, actor) -> list:
    """Every loan rule (the matrix is small), most general first."""
    from quietshelf.circulation.models import LoanRule

    _require(actor, "circulation.manage_rules")
    return list(LoanRule.objects.order_by("branch_id", "item_type_id", "patron_group_id", "id"))


def rule_by_id(*, actor, rule_id):
    from quietshelf.circulation.models import LoanRule

    _require(actor, "circulation.manage_rules")
    return LoanRule.objects.filter(pk=rule_id).first()


def rule_for_cell(*, patron_group_id, item_type_id, branch_id):
    from quietshelf.circulation.models import LoanRule

    return LoanRule.objects.filter(
        patron_group_id=patron_group_id, item_type_id=item_type_id, branch_id=branch_id
    ).first()


def missing_dimensions(*, patron_group_id=None, item_type_id=None, branch_id=None) -> list[str]:
    """Which of the given ids name nothing (so a rule never points at a missing row)."""
    from quietshelf.catalog.models import Branch, ItemType
    from quietshelf.patrons.models import PatronGroup

    out = []
    for name, model, pk in (
        ("patron_group_id", PatronGroup, patron_group_id),
        ("item_type_id", ItemType, item_type_id),
        ("branch_id", Branch, branch_id),
    ):
        if pk is not None and not model.objects.filter(pk=pk).exists():
            out.append(name)
    return out


@dataclass
class BranchCalendarView:
    branch_id: int
    closed_weekdays: list[int]
    opens: dt.time | None
    closes: dt.time | None
    closed_periods: list


def branch_calendar(*, actor, branch_id, since: dt.date | None = None) -> BranchCalendarView:
    """A branch's weekly closures, opening hours and closed periods ending on/after `since`."""
    from quietshelf.circulation.models import BranchCalendar, ClosedPeriod
    from quietshelf.circulation.services import _branch

    _require(actor, "circulation.manage_rules", branch_id=branch_id)
    branch = _branch(branch_id)
    since = since or clock.today()
    cal = BranchCalendar.objects.filter(branch=branch).first()
    return BranchCalendarView(
        branch_id=branch.pk,
        closed_weekdays=list(cal.closed_weekdays) if cal else [],
        opens=cal.opens if cal else None,
        closes=cal.closes if cal else None,
        closed_periods=list(ClosedPeriod.objects.filter(branch=branch, last__gte=since)),
    )


def explain_for(*, actor, patron_group_id, item_type_id, branch_id) -> RuleExplanation:
    """The explainer for desk staff (check-out at the branch) and rule managers alike."""
    from quietshelf.accounts.authz import has_perm

    if not (
        has_perm(actor, "circulation.manage_rules")
        or has_perm(actor, "circulation.checkout", branch_id=branch_id)
    ):
        _require(actor, "circulation.manage_rules")
    missing = missing_dimensions(
        patron_group_id=patron_group_id, item_type_id=item_type_id, branch_id=branch_id
    )
    if missing:
        raise NotFound(
            f"Nothing has this id: {', '.join(missing)}.",
            code="dimension_not_found",
            details={"fields": missing},
        )
    return explain(patron_group_id=patron_group_id, item_type_id=item_type_id, branch_id=branch_id)


def patron_holds_positioned(*, actor, patron_id) -> list[tuple[Hold, int | None]]:
    """The patron's open holds, each position counted by a subquery, by the same rule as
    queue_position (waiting holds on the title placed earlier, suspended ones skipped)."""
    from django.db.models import IntegerField, OuterRef, Subquery
    from django.db.models.functions import Coalesce

    if not _is_patron_self(actor, patron_id):
        _require(actor, "circulation.checkout", acting_for=patron_id)
    today = clock.today()
    ahead = (
        Hold.objects.filter(record_id=OuterRef("record_id"), status=HoldStatus.WAITING)
        .filter(
            Q(placed_at__lt=OuterRef("placed_at"))
            | Q(placed_at=OuterRef("placed_at"), id__lt=OuterRef("id"))
        )
        .filter(Q(suspended_until__isnull=True) | Q(suspended_until__lt=today))
        .order_by()
        .values("record_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    holds = (
        Hold.objects.filter(patron_id=patron_id, status__in=OPEN_HOLD)
        .select_related("record", "pickup_branch")
        .annotate(ahead=Coalesce(Subquery(ahead, output_field=IntegerField()), 0))
        .order_by("placed_at")
    )
    return [(h, h.ahead + 1 if h.status == HoldStatus.WAITING else None) for h in holds]
