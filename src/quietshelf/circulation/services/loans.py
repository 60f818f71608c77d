"""Check-out, check-in, renewal and loss of a loan (CIR-2): one transaction each.

CirculationEvent rows, written in the same transactions, keep the de-identified
facts for statistics (RPT-1).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_noop

from quietshelf.accounts.authz import require
from quietshelf.catalog.models import Item, ItemStatus
from quietshelf.circulation import compiled, policy, retention
from quietshelf.circulation.models import (
    OPEN_HOLD,
    EventKind,
    Fee,
    FeeTransaction,
    FeeType,
    Hold,
    HoldStatus,
    Loan,
)
from quietshelf.circulation.policy import (
    CirculationRefused,
    Refusal,
)
from quietshelf.circulation.policy import refuse as _refuse
from quietshelf.circulation.selectors import branch_by_id as _branch
from quietshelf.circulation.selectors import calendar_for, find_rule
from quietshelf.circulation.selectors import is_patron_self as _is_patron_self
from quietshelf.circulation.selectors import require_permission as _require
from quietshelf.circulation.services._base import (
    _SENTINEL_ID,
    _SENTINEL_MOMENT,
    _SENTINEL_UUID,
    PatronNotFound,
    _event,
    _for_update,
    _LazyTemplate,
    _local_date,
    _lock_item_by_pk,
    _locked_item,
    _now,
    _patron,
    _patron_refusals,
    _set_item_status,
    _staff,
)
from quietshelf.circulation.services.escrow import (
    _escrow_days,
    _escrow_keep,
)
from quietshelf.circulation.services.fees import (
    _accrue_fine,
    _charge,
    _release_closed_loan,
)
from quietshelf.circulation.services.history import (
    _deidentify_delay_days,
    _record_reading_history,
    _unlink_loan,
)
from quietshelf.circulation.services.holds import (
    _close_hold,
)
from quietshelf.circulation.services.routing import (
    CheckinResult,
    _arrived_for_hold,
    _route,
)
from quietshelf.core.errors import Conflict, DomainError, InvalidInput, NotFound
from quietshelf.privacy import audit


def _limit_subqueries(start_of_today: dt.datetime) -> dict:
    """Fee balance and overdue count of the outer patron row, as subqueries
    (overdue: due before the start of today, local time)."""
    from django.db.models import Subquery

    balance = (
        FeeTransaction.objects.filter(fee__patron_id=OuterRef("pk"), fee__resolved_at__isnull=True)
        .order_by()
        .values("fee__patron_id")
        .annotate(s=Sum("amount_minor"))
        .values("s")
    )
    overdue = (
        Loan.objects.filter(
            patron_id=OuterRef("pk"), returned_at__isnull=True, due_at__lt=start_of_today
        )
        .order_by()
        .values("patron_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return {"circ_balance": Subquery(balance), "circ_overdue": Subquery(overdue)}


def balance_and_overdue(patron_id, today: dt.date, *, patron=None) -> tuple[int, int]:
    """(unresolved fee balance in minor units, number of overdue open loans) in one query:
    the automatic block rules ask on every check-out, renewal and hold. A patron row
    that check-out read with them for the same day answers without a query."""
    from quietshelf.patrons.models import Patron

    known = getattr(patron, "_circ_limits", None)
    if known is not None and known[0] == today:
        return known[1], known[2]
    row = (
        Patron.objects.filter(pk=patron_id)
        .annotate(**_limit_subqueries(timezone.make_aware(dt.datetime.combine(today, dt.time()))))
        .values_list("circ_balance", "circ_overdue")
        .first()
    )
    if row is None:
        return 0, 0
    return row[0] or 0, row[1] or 0


def _checkout_patron_rows(pid, start_of_today):
    from django.db.models import Subquery

    from quietshelf.patrons.models import Block, Patron

    open_loans = Loan.objects.filter(patron_id=OuterRef("pk"), returned_at__isnull=True).order_by()
    counts = {
        "circ_blocks": Exists(
            Block.objects.filter(patron_id=OuterRef("pk"), lifted_at__isnull=True)
        ),
        "circ_loans": Subquery(open_loans.values("patron_id").annotate(n=Count("id")).values("n")),
        **_limit_subqueries(start_of_today),
    }
    return _for_update(Patron.objects.select_related("group").filter(pk=pid).annotate(**counts))


def _make_checkout_patron_template() -> compiled.Template:
    from quietshelf.patrons.models import Patron

    return compiled.Template(
        "circulation.checkout_patron",
        _checkout_patron_rows,
        (_SENTINEL_UUID, _SENTINEL_MOMENT),
        (compiled.field_prep(Patron, "id"), compiled.field_prep(Loan, "due_at")),
    )


_CHECKOUT_PATRON = _LazyTemplate(_make_checkout_patron_template)


def _checkout_patron(patron_id, *, today: dt.date):
    """The patron row locked, with what check-out counts read in the same statement:
    whether any block is open, the fee balance and overdue count (automatic blocks) and
    the open loans (PERF-CIRC-1: one round trip, not four). Loans of one item type,
    which needs a join to the items, are counted only when a rule limits them.
    The statement is compiled once per thread (compiled.Template)."""
    try:
        pid = uuid.UUID(str(patron_id))
    except (ValueError, TypeError):
        raise PatronNotFound(gettext_noop("No such patron.")) from None
    start_of_today = timezone.make_aware(dt.datetime.combine(today, dt.time()))
    patron = _CHECKOUT_PATRON.first(pid, start_of_today)
    if patron is None:
        raise PatronNotFound(gettext_noop("No such patron."))
    patron._circ_limits = (today, patron.circ_balance or 0, patron.circ_overdue or 0)
    return patron


# --- check-out ---------------------------------------------------------------------------


@dataclass
class CheckoutResult:
    loan: Loan
    item: Item
    due_at: dt.datetime
    rule_id: int
    rule_why: str
    overridden: list[str] = field(default_factory=list)
    hold_filled: bool = False
    repeated: bool = False  # the item was already lent to this patron today: no new loan


def _lent(
    kind: str,
    *,
    actor,
    loan: Loan,
    item: Item,
    patron,
    today: dt.date,
    branch_id,
    patron_group_id,
    audit_reason: str,
) -> None:
    """What a check-out and a renewal both leave behind: the patron active this month, the
    day's statistics event, and an "overridden" audit entry when a refusal was overridden
    (`audit_reason` is the cleaned reason, empty when nothing was)."""
    _mark_active(patron, today)
    _event(kind, item=item, branch_id=branch_id, patron_group_id=patron_group_id, day=today)
    if audit_reason:
        audit.record(actor=actor, action="overridden", obj=loan, reason=audit_reason)


def _mark_active(patron, today: dt.date) -> None:
    """The patron's last active month (RPT-1), written once a month at most. The patron
    row the check-out or renewal has just read tells whether this month is there already;
    only then is nothing sent (PERF-CIRC-2: a statement saved on nearly every check-out).
    The month only moves forward, so a row read as "this month" cannot be older in the
    database; the UPDATE still names the row only when the month changed."""
    from quietshelf.patrons.models import Patron

    month = today.replace(day=1)
    if patron.last_active_month == month:
        return
    Patron.objects.filter(pk=patron.pk).filter(
        Q(last_active_month__isnull=True) | ~Q(last_active_month=month)
    ).update(last_active_month=month)
    patron.last_active_month = month


def _clean_override(actor, reason, branch_id, codes) -> str:
    reason = (reason or "").strip()
    if not reason:
        return ""
    _require(actor, "circulation.override", branch_id=branch_id)
    text = f"{','.join(codes)}: {reason}"[:200]
    if audit.looks_personal(text):
        raise InvalidInput(
            gettext_noop(
                "An override reason must not hold card, phone numbers or e-mail addresses."
            ),
            code="reason_personal",
        )
    return text


@transaction.atomic(durable=True)
def desk_block_override(*, actor, patron_id, reason: str, branch_id) -> str:
    """Lend to a blocked patron during this visit (PAT-3): needs circulation.override and
    patrons.override_block, a reason; each manual block in force gets an override row and
    the patron's audit trail an "overridden" entry. Returns the cleaned reason."""
    from quietshelf.patrons import policy as patron_policy
    from quietshelf.patrons import services as patron_services
    from quietshelf.patrons.models import Block, BlockReason

    _require(actor, "circulation.override", branch_id=branch_id)
    require(actor, "patrons.override_block", branch_id=branch_id)
    reason = (reason or "").strip()[:200]
    if not reason:
        raise InvalidInput(gettext_noop("Give a reason for the override."), code="reason_required")
    _clean_override(actor, reason, branch_id, ["patron_blocked"])
    patron = _patron(patron_id)
    blocks = list(Block.objects.filter(patron=patron, lifted_at__isnull=True))
    for b in patron_policy.effective_blocks(patron, blocks):
        if b.block_id is not None or b.code in BlockReason.values:
            patron_services.block_override_in_transaction(
                actor=actor,
                patron_id=patron.pk,
                reason=reason,
                block_id=b.block_id,
                code="" if b.block_id else b.code,
            )
    audit.record(actor=actor, action="overridden", obj=patron, reason="desk visit")
    return reason


@transaction.atomic(durable=True)
def checkout(
    *,
    actor,
    item_barcode: str,
    patron_id,
    branch_id,
    override_reason: str | None = None,
    override_only: frozenset[str] | None = None,
) -> CheckoutResult:
    """Lend an item (CIR-2). Every check runs; overridable refusals need a permitted reason
    (`override_only`: the refusal codes that reason may set aside; None: any overridable)."""
    _require(actor, "circulation.checkout", branch_id=branch_id, acting_for=patron_id)
    branch = _branch(branch_id)
    item = _locked_item(item_barcode)
    now = _now()
    today = _local_date(now)
    patron = _checkout_patron(patron_id, today=today)
    refusals: list[Refusal] = []

    refusals.extend(_patron_refusals(patron, today))
    # every open hold that matters here, in one query: the patron's on this
    # title, and anyone's on this copy
    holds = list(
        Hold.objects.filter(record_id=item.record_id, status__in=OPEN_HOLD).filter(
            Q(patron=patron) | Q(item=item)
        )
    )

    own_hold = None
    if item.status == ItemStatus.ON_LOAN:
        open_loan = Loan.objects.filter(item=item, returned_at__isnull=True).first()
        holder = open_loan.patron_id if open_loan else None
        if (
            holder == patron.pk
            and open_loan.renewals == 0
            and _local_date(open_loan.checked_out_at) == today
        ):
            # the same item scanned again for the same patron today (a double scan,
            # or a retried request): the loan it already made, nothing new
            return CheckoutResult(
                loan=open_loan,
                item=item,
                due_at=open_loan.due_at,
                rule_id=open_loan.rule_id or 0,
                rule_why="",
                repeated=True,
            )
        if holder == patron.pk:
            raise CirculationRefused(
                "The patron already has this item on loan; renew it instead.",
                code="already_on_loan_to_patron",
                details={"refusals": ["already_on_loan_to_patron"], "overridable": False},
            )
        refusals.append(
            Refusal(
                "item_on_loan",
                gettext_noop("The item is already on loan; check it in first."),
                False,
            )
        )
    elif item.status == ItemStatus.ON_HOLD_SHELF:
        own_hold = next(
            (h for h in holds if h.item_id == item.pk and h.status == HoldStatus.ON_SHELF), None
        )
        if own_hold is None or own_hold.patron_id != patron.pk:
            refusals.append(
                Refusal(
                    "held_for_other",
                    gettext_noop("The item is on the hold shelf for another patron."),
                    False,
                )
            )
            own_hold = None
    else:
        refusals += policy.item_refusals(
            item.status, status_label=item.get_status_display().lower(), circulates=True
        )
    if not item.item_type.circulates:
        refusals += policy.item_refusals("available", status_label="", circulates=False)

    rule, choice = find_rule(
        patron_group_id=patron.group_id, item_type_id=item.item_type_id, branch_id=branch.pk
    )

    if rule.max_loans is not None and (patron.circ_loans or 0) >= rule.max_loans:
        refusals.append(
            Refusal(
                "loan_limit",
                gettext_noop("The patron has the most loans allowed (%(max)s)."),
                params={"max": rule.max_loans},
            )
        )
    if (
        rule.max_loans_per_type is not None
        and Loan.objects.filter(
            patron=patron, returned_at__isnull=True, item__item_type_id=item.item_type_id
        ).count()
        >= rule.max_loans_per_type
    ):
        refusals.append(
            Refusal(
                "loan_limit_type",
                gettext_noop("The patron has the most loans of this item type allowed (%(max)s)."),
                params={"max": rule.max_loans_per_type},
            )
        )
    if own_hold is None and item.status == ItemStatus.AVAILABLE:
        others = [
            h
            for h in holds
            if h.item_level
            and h.item_id == item.pk
            and h.status == HoldStatus.WAITING
            and h.patron_id != patron.pk
            and (h.suspended_until is None or h.suspended_until < today)
        ]
        if others:
            refusals.append(
                Refusal("hold_by_other", gettext_noop("Another patron has a hold on this copy."))
            )

    overridden: list[str] = []
    audit_reason = ""
    if refusals:
        if (
            not override_reason
            or not all(r.overridable for r in refusals)
            or (override_only is not None and any(r.code not in override_only for r in refusals))
        ):
            _refuse(refusals)
        overridden = [r.code for r in refusals]
        audit_reason = _clean_override(actor, override_reason, branch.pk, overridden)

    calendar = calendar_for(branch.pk, since=today)
    due = policy.due_at(
        start=timezone.localtime(now),
        period=rule.loan_period,
        unit=rule.period_unit,
        calendar=calendar,
    )
    try:
        # no savepoint: an IntegrityError here ends this transaction as a Conflict
        loan = Loan.objects.create(
            item=item,
            patron=patron,
            patron_group_id=patron.group_id,
            branch=branch,
            rule=rule,
            checked_out_at=now,
            due_at=due,
            overridden=bool(overridden),
        )
    except IntegrityError:
        raise Conflict(gettext_noop("The item is already on loan."), code="item_on_loan") from None
    hold_filled = False
    if own_hold is None:
        # an available copy of a title the patron waits for fills that hold too
        # (a copy trapped for them elsewhere stays theirs)
        own_hold = next(
            (
                h
                for h in holds
                if h.patron_id == patron.pk
                and h.status == HoldStatus.WAITING
                and (not h.item_level or h.item_id == item.pk)
            ),
            None,
        )
    if own_hold is not None:
        _close_hold(own_hold, HoldStatus.FILLED, now, item=item)
        hold_filled = True
    _set_item_status(item, ItemStatus.ON_LOAN)
    _lent(
        EventKind.CHECKOUT,
        actor=actor,
        loan=loan,
        item=item,
        patron=patron,
        today=today,
        branch_id=branch.pk,
        patron_group_id=patron.group_id,
        audit_reason=audit_reason,
    )
    return CheckoutResult(
        loan=loan,
        item=item,
        due_at=due,
        rule_id=rule.pk,
        rule_why=choice.why,
        overridden=overridden,
        hold_filled=hold_filled,
    )


# --- check-in ------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def declare_lost(*, actor, loan_id) -> Fee | None:
    """The patron lost the item: the loan ends, the item is lost, the lost-item fee
    (item price or the rule's default, plus the processing fee) is charged."""
    try:
        lid = uuid.UUID(str(loan_id))
    except (ValueError, TypeError):
        raise NotFound(gettext_noop("No such loan."), code="loan_not_found") from None
    item_id = Loan.objects.filter(pk=lid).values_list("item_id", flat=True).first()
    if item_id is None:
        raise NotFound(gettext_noop("No such loan."), code="loan_not_found")
    item = _lock_item_by_pk(item_id)
    loan = _for_update(Loan.objects.select_related("patron", "rule")).filter(pk=lid).first()
    if loan is None or loan.returned_at is not None or loan.patron is None:
        raise Conflict(gettext_noop("This loan is closed."), code="loan_closed")
    _require(actor, "circulation.manage_fees", branch_id=item.branch_id)
    now = _now()
    _accrue_fine(loan, item, _local_date(now), now, by=_staff(actor))
    rule = loan.rule
    amount = 0
    if rule is not None:
        amount = policy.lost_fee(
            policy=rule.lost_fee_policy,
            item_price_minor=item.price_minor,
            default_minor=rule.lost_default_minor,
        )
        amount += rule.processing_fee_minor
    fee = None
    if amount > 0:
        fee = _charge(
            patron=loan.patron,
            fee_type=FeeType.LOST,
            amount=amount,
            branch_id=item.branch_id,
            item=item,
            loan=loan,
            by=_staff(actor),
            now=now,
        )
    loan.returned_at = now
    loan.save(update_fields=["returned_at"])
    _release_closed_loan(loan.pk)
    _set_item_status(item, ItemStatus.LOST)
    audit.record(actor=actor, action="changed", obj=loan, reason="declared lost")
    return fee


def _checkin_loan_rows(item_id):
    return (
        _for_update(Loan.objects.select_related("rule"))
        .filter(item_id=item_id, returned_at__isnull=True)
        .annotate(
            fees_exist=Exists(Fee.objects.filter(loan=OuterRef("pk"))),
            patron_subject_id=F("patron__subject"),
        )
    )


# the open loan of an item, locked, compiled once per thread
_CHECKIN_LOAN = _LazyTemplate(
    lambda: compiled.Template(
        "circulation.checkin_loan",
        _checkin_loan_rows,
        (_SENTINEL_ID,),
        (compiled.field_prep(Loan, "item"),),
    )
)


@transaction.atomic(durable=True)
def checkin(*, actor, item_barcode: str, branch_id, trap: bool = True) -> CheckinResult:
    """Take an item back (CIR-2): close the loan, fine it, de-identify it, route the item
    (trap=False: a waiting hold is named, not filled, until hold_trap confirms it)."""
    _require(actor, "circulation.checkout", branch_id=branch_id)
    branch = _branch(branch_id)
    # the record for its title; type and branch are read only on the rare paths needing them
    item = _locked_item(item_barcode, related=("record",))
    now = _now()
    today = _local_date(now)
    loan = _CHECKIN_LOAN.first(item.pk)
    fine = 0
    fee = None
    overdue = False
    if loan is not None:
        loan.returned_at = now
        loan.return_branch = branch
        overdue = now > loan.due_at
        # Fees of a loan are only made under its item's lock, which we hold: most
        # loans have none, and then there is nothing to lock.
        loan_fees = list(_for_update(Fee.objects.filter(loan=loan))) if loan.fees_exist else []
        overdue_fee = next((f for f in loan_fees if f.type == FeeType.OVERDUE), None)
        fine, fee = _accrue_fine(loan, item, today, now, by=_staff(actor), fee=overdue_fee)
        _record_reading_history(loan, item, today)
        if loan.patron_id and _escrow_days():
            _escrow_keep(item, loan.patron_id, today)
        if not loan_fees and fee is None:
            # PRV-HIST-1: the link goes in this transaction (no fee holds it)
            if _deidentify_delay_days() == 0:
                _unlink_loan(loan)
            loan.save(
                update_fields=["returned_at", "return_branch", "patron", *retention.LOAN_TIMES]
            )
        else:
            loan.save(update_fields=["returned_at", "return_branch"])
            _release_closed_loan(loan.pk)  # goes now unless a fee is still open
        _event(
            EventKind.CHECKIN,
            item=item,
            branch_id=branch.pk,
            patron_group_id=loan.patron_group_id,
            day=today,
        )
    result = None
    if loan is None and item.status == ItemStatus.IN_TRANSIT:
        result = _arrived_for_hold(item, branch, now)
    if result is None:
        result = _route(item, branch, now, trap=trap)
    result.loan_closed = loan is not None
    result.fine_minor = fine
    result.fee_id = fee.pk if fee else None
    result.overdue = overdue
    if fine:
        amount = policy.format_minor(fine, settings.QUIETSHELF_CURRENCY)
        result.message += f" Overdue fine {amount}."
    return result


@transaction.atomic(durable=True)
def hold_trap(*, actor, item_barcode: str, branch_id) -> CheckinResult:
    """The desk's confirm step (CIR-3): set a copy on the shelf aside for the next hold
    (hold shelf here, or a transit to the pickup branch); a copy no hold wants is shelved."""
    _require(actor, "circulation.checkout", branch_id=branch_id)
    branch = _branch(branch_id)
    item = _locked_item(item_barcode)
    if item.status != ItemStatus.AVAILABLE:
        raise Conflict(gettext_noop("The item is not on the shelf."), code="item_not_available")
    return _route(item, branch, _now())


# --- renewal -------------------------------------------------------------------------------


@dataclass
class RenewResult:
    loan: Loan
    due_at: dt.datetime
    renewals_left: int


@transaction.atomic(durable=True)
def renew(*, actor, loan_id, override_reason: str | None = None) -> RenewResult:
    return _renew(actor=actor, loan_id=loan_id, override_reason=override_reason)


@dataclass
class RenewOutcome:
    """One loan of renew_all: its RenewResult, or the DomainError that refused it."""

    loan_id: object
    result: RenewResult | None = None
    error: DomainError | None = None


@transaction.atomic(durable=True)
def renew_all(*, actor, loan_ids) -> list[RenewOutcome]:
    """Renew each of `loan_ids` in one transaction (the patron's "renew all", CIR-2).
    A refused loan does not stop the others: its outcome carries the error. A refusal
    is raised before renewal writes anything, so the transaction stays whole."""
    out = []
    for loan_id in loan_ids:
        try:
            out.append(RenewOutcome(loan_id, result=_renew(actor=actor, loan_id=loan_id)))
        except DomainError as exc:
            out.append(RenewOutcome(loan_id, error=exc))
    return out


def _renew(*, actor, loan_id, override_reason: str | None = None) -> RenewResult:
    """renew inside the caller's transaction."""
    try:
        lid = uuid.UUID(str(loan_id))
    except (ValueError, TypeError):
        raise NotFound(gettext_noop("No such loan."), code="loan_not_found") from None
    item_id = Loan.objects.filter(pk=lid).values_list("item_id", flat=True).first()
    if item_id is None:
        raise NotFound(gettext_noop("No such loan."), code="loan_not_found")
    item = _lock_item_by_pk(item_id)
    loan = _for_update(Loan.objects.select_related("rule")).filter(pk=lid).first()
    if loan is None or loan.returned_at is not None or loan.patron_id is None:
        raise Conflict(gettext_noop("This loan is closed."), code="loan_closed")
    _require(actor, "circulation.checkout", branch_id=loan.branch_id, patron_id=loan.patron_id)
    patron = _patron(loan.patron_id)
    now = _now()
    today = _local_date(now)
    rule = loan.rule
    if rule is None:
        rule, _ = find_rule(
            patron_group_id=patron.group_id,
            item_type_id=item.item_type_id,
            branch_id=loan.branch_id,
        )
    others = (
        Hold.objects.filter(record_id=item.record_id, status=HoldStatus.WAITING)
        .filter(Q(item_level=False) | Q(item=item))
        .filter(Q(suspended_until__isnull=True) | Q(suspended_until__lt=today))
        .exclude(patron_id=patron.pk)
        .count()
    )
    refusals = _patron_refusals(patron, today)
    calendar = calendar_for(loan.branch_id, since=today)
    period = rule.renewal_period or rule.loan_period
    due = policy.due_at(
        start=timezone.localtime(now), period=period, unit=rule.period_unit, calendar=calendar
    )
    current_due = timezone.localtime(loan.due_at)
    code = policy.renewal_refusal(
        renewals_done=loan.renewals,
        renewals_allowed=rule.renewals_allowed,
        holds_by_others=others,
        days_to_due=(current_due.date() - today).days,
        no_renewal_before_days=rule.no_renewal_before_days,
        extends=policy.renewal_extends(current_due=current_due, new_due=due, unit=rule.period_unit),
    )
    refusal = policy.renewal_refusal_reason(
        code, renewals_allowed=rule.renewals_allowed, due=current_due.date()
    )
    if refusal is not None:
        refusals.append(refusal)
    audit_reason = ""
    if refusals:
        if not override_reason or _is_patron_self(actor, patron.pk):
            _refuse(refusals)
        audit_reason = _clean_override(
            actor, override_reason, loan.branch_id, [r.code for r in refusals]
        )
    loan.due_at = max(due, loan.due_at)
    loan.renewals += 1
    loan.save(update_fields=["due_at", "renewals"])
    _lent(
        EventKind.RENEWAL,
        actor=actor,
        loan=loan,
        item=item,
        patron=patron,
        today=today,
        branch_id=loan.branch_id,
        patron_group_id=loan.patron_group_id,
        audit_reason=audit_reason,
    )
    return RenewResult(
        loan=loan, due_at=loan.due_at, renewals_left=max(0, rule.renewals_allowed - loan.renewals)
    )


# --- de-identification ---------------------------------------------------------------------
