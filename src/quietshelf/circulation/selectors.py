"""Reads shared by the desk pages and the API (authorisation applied here).

Also what the services read through them: who may act (require_permission), and the
rules, calendars and branches every check-out reads, cached per process (find_rule,
calendar_for, branch_by_id; config_changed forgets them).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.utils.translation import gettext_noop

from quietshelf.accounts.authz import TerminalActor, require, terminal_acts_for
from quietshelf.catalog.models import Branch
from quietshelf.circulation import policy
from quietshelf.circulation.models import (
    OPEN_HOLD,
    BranchCalendar,
    ClosedPeriod,
    Fee,
    FeeTransaction,
    Hold,
    HoldStatus,
    Loan,
    LoanRule,
)
from quietshelf.core import clock, money
from quietshelf.core.errors import NotFound, PermissionDenied
from quietshelf.privacy.audit import Actor


def is_patron_self(actor, patron_id) -> bool:
    return isinstance(actor, Actor) and actor.type == "patron" and actor.id == str(patron_id)


def require_permission(
    actor, perm: str, *, branch_id=None, patron_id=None, acting_for=None
) -> None:
    """`patron_id`: the patron may do this themself; `acting_for`: the patron concerned,
    which a SIP2 terminal must have authenticated (SEC-ACC-1)."""
    if isinstance(actor, TerminalActor):
        for pid in (patron_id, acting_for):
            if pid is not None and not terminal_acts_for(actor, pid):
                raise PermissionDenied(
                    "This terminal acts only for the patron it authenticated.",
                    details={"permission": perm},
                )
        require(actor, perm, branch_id=branch_id)
        return
    if patron_id is not None and is_patron_self(actor, patron_id):
        return
    if isinstance(actor, Actor):
        raise PermissionDenied("You do not have permission for this.", details={"permission": perm})
    require(actor, perm, branch_id=branch_id)


# --- rules, calendars and branches (cached) ---------------------------------------

# Rules, calendars and branches change rarely and are read by every check-out:
# each process keeps them for QUIETSHELF_CIRC_CONFIG_CACHE_SECONDS (default 30),
# and forgets them at once when it saves one itself (signals in hooks.py).
_config_cache: dict = {}
CLOSED_PERIODS_BACK_DAYS = 800


def config_changed(**_kwargs) -> None:
    _config_cache.clear()


def _cached(key, loader):
    ttl = float(getattr(settings, "QUIETSHELF_CIRC_CONFIG_CACHE_SECONDS", 30))
    now = time.monotonic()
    hit = _config_cache.get(key)
    if hit is not None and now - hit[0] < ttl:
        return hit[1]
    value = loader()
    if ttl > 0:
        _config_cache[key] = (now, value)
    return value


def all_rules() -> list[LoanRule]:
    return _cached("rules", lambda: list(LoanRule.objects.all()))


def rule_keys(rules=None) -> list[policy.RuleKey]:
    rules = all_rules() if rules is None else rules
    return [policy.RuleKey(r.pk, r.patron_group_id, r.item_type_id, r.branch_id) for r in rules]


def find_rule(*, patron_group_id, item_type_id, branch_id) -> tuple[LoanRule, policy.RuleChoice]:
    """The rule for this cell and why (the matrix is small and cached)."""
    rules = all_rules()
    choice = policy.explain_rule(
        rule_keys(rules),
        patron_group_id=patron_group_id,
        item_type_id=item_type_id,
        branch_id=branch_id,
    )
    return next(r for r in rules if r.pk == choice.rule_id), choice


def _load_calendar(branch_id, since: dt.date):
    cal = BranchCalendar.objects.filter(branch_id=branch_id).first()
    ranges = list(
        ClosedPeriod.objects.filter(branch_id=branch_id, last__gte=since).values_list(
            "first", "last"
        )
    )
    return (
        cal.closed_weekdays if cal else (),
        cal.opens if cal else None,
        cal.closes if cal else None,
        ranges,
    )


def calendar_for(branch_id, *, since: dt.date) -> policy.Calendar:
    """The branch's calendar (closed periods ending on or after `since`)."""
    floor = clock.today() - dt.timedelta(days=CLOSED_PERIODS_BACK_DAYS)
    if since >= floor:
        weekdays, opens, closes, ranges = _cached(
            ("calendar", branch_id, floor), lambda: _load_calendar(branch_id, floor)
        )
        ranges = [(a, b) for a, b in ranges if b >= since]
    else:
        weekdays, opens, closes, ranges = _load_calendar(branch_id, since)
    return policy.make_calendar(
        closed_weekdays=weekdays, closed_ranges=ranges, opens=opens, closes=closes
    )


def branch_by_id(branch_id) -> Branch:
    try:
        bid = int(branch_id)
    except (ValueError, TypeError):
        raise NotFound(gettext_noop("No such branch."), code="branch_not_found") from None
    branch = _cached(("branch", bid), lambda: Branch.objects.filter(pk=bid).first())
    if branch is None:
        _config_cache.pop(("branch", bid), None)
        raise NotFound(gettext_noop("No such branch."), code="branch_not_found")
    return branch


def patron_loans(*, actor, patron_id):
    """The patron's open loans, soonest due first."""
    if not is_patron_self(actor, patron_id):
        require_permission(actor, "circulation.checkout", acting_for=patron_id)
    return list(
        Loan.objects.filter(patron_id=patron_id, returned_at__isnull=True)
        .select_related("item", "item__record", "item__branch")
        .order_by("due_at")
    )


def patron_loan(*, actor, patron_id, loan_id) -> Loan | None:
    """One open loan of this patron (None for a bad id or someone else's loan)."""
    if not is_patron_self(actor, patron_id):
        require_permission(actor, "circulation.checkout")
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
    if not is_patron_self(actor, patron_id):
        require_permission(actor, "circulation.manage_fees")
    try:
        fid = uuid.UUID(str(fee_id))
    except (ValueError, TypeError):
        return None
    return Fee.objects.filter(pk=fid, patron_id=patron_id).first()


def patron_payments(*, actor, patron_id, limit: int = 20) -> list[FeeTransaction]:
    """The patron's recent payments, newest first, for refunds at the desk."""
    require_permission(actor, "circulation.manage_fees")
    return list(
        FeeTransaction.objects.filter(fee__patron_id=patron_id, kind="payment")
        .select_related("fee")
        .order_by("-at")[:limit]
    )


def payment_lines(*, actor, patron_id, tx_ids) -> list[FeeTransaction]:
    """The payment transactions of a receipt (only this patron's)."""
    require_permission(actor, "circulation.manage_fees")
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
    if not is_patron_self(actor, patron_id):
        require_permission(actor, "circulation.manage_fees", acting_for=patron_id)
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
    require_permission(actor, "circulation.checkout")
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

    require_permission(actor, "circulation.checkout")
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

    if not is_patron_self(actor, patron_id):
        require_permission(actor, "circulation.checkout", acting_for=patron_id)
    rows = [e.data for e in ReadingHistoryEntry.objects.filter(patron_id=patron_id)]
    rows = [r for r in rows if isinstance(r, dict)]
    return sorted(rows, key=lambda r: (r.get("returned", ""), r.get("borrowed", "")), reverse=True)


def format_money(amount: int, currency: str) -> str:
    """In the active language's number format ("70,00 NOK" in Norwegian)."""
    return money.format_money(amount, currency)


def hold_shelf(*, actor, branch_id) -> list[Hold]:
    """Holds waiting on this branch's hold shelf, soonest expiry first (no patron data)."""
    require_permission(actor, "circulation.checkout", branch_id=branch_id)
    return list(
        Hold.objects.filter(pickup_branch_id=branch_id, status=HoldStatus.ON_SHELF)
        .select_related("record", "item")
        .order_by("shelf_expires_on", "placed_at")
    )


def pick_list(*, actor, branch_id, limit: int = 200) -> list:
    """Available copies at this branch that a waiting hold could take: pull them and check
    them in to trap them (one query; items, not patrons)."""
    from quietshelf.catalog.models import Item, ItemStatus

    require_permission(actor, "circulation.checkout", branch_id=branch_id)
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


# --- the patron's self-service pages (portal/circulation_views.py) -------------------


@dataclass
class LoanLine:
    loan: Loan
    overdue: bool
    renewals_left: int | None  # None: the rule is gone (renewal decides then)


def patron_loan_lines(*, actor, patron_id) -> list[LoanLine]:
    """patron_loans with overdue marks and renewals left (rules from the cached matrix)."""
    loans = patron_loans(actor=actor, patron_id=patron_id)
    rules = {r.pk: r for r in all_rules()}
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
    if not is_patron_self(actor, patron_id):
        require_permission(actor, "circulation.manage_fees", acting_for=patron_id)
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
    if not is_patron_self(actor, patron_id):
        require_permission(actor, "circulation.checkout", acting_for=patron_id)
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

    require_permission(actor, "circulation.manage_rules")
    return list(LoanRule.objects.order_by("branch_id", "item_type_id", "patron_group_id", "id"))


def rule_by_id(*, actor, rule_id):
    from quietshelf.circulation.models import LoanRule

    require_permission(actor, "circulation.manage_rules")
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

    require_permission(actor, "circulation.manage_rules", branch_id=branch_id)
    branch = branch_by_id(branch_id)
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
        require_permission(actor, "circulation.manage_rules")
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

    if not is_patron_self(actor, patron_id):
        require_permission(actor, "circulation.checkout", acting_for=patron_id)
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


def desk_blocks(patron) -> list[tuple]:
    """What the desk shows as the patron's blocks (PAT-3): (effective block, its comment)
    for each manual and automatic block in force, and (None, status) for an account
    that is restricted, pending or closed. The desk page has checked the staff member."""
    from quietshelf.patrons import policy as patron_policy
    from quietshelf.patrons.models import Block

    open_blocks = list(Block.objects.filter(patron=patron, lifted_at__isnull=True))
    comments = {b.pk: b.comment for b in open_blocks}
    blocks = [
        (b, comments.get(b.block_id) or "")
        for b in patron_policy.effective_blocks(patron, open_blocks)
    ]
    if patron.status in ("restricted", "pending", "closed"):
        blocks.append((None, patron.get_status_display()))
    return blocks


def receipt_loans(loan_ids) -> list[Loan]:
    """The still-open loans of this visit's receipt (titles and due dates), soonest due
    first. The ids come from the staff member's own desk session."""
    return list(
        Loan.objects.filter(pk__in=loan_ids, returned_at__isnull=True)
        .select_related("item__record", "branch")
        .order_by("due_at")
    )
