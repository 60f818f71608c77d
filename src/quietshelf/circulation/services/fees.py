"""Fees and fines (CIR-4): charges, payments, waivers, refunds; the ledger is never edited."""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_noop

from quietshelf.catalog.models import Item
from quietshelf.circulation import policy, retention
from quietshelf.circulation.models import (
    Fee,
    FeeTransaction,
    FeeType,
    Loan,
)
from quietshelf.circulation.selectors import branch_by_id as _branch
from quietshelf.circulation.selectors import calendar_for
from quietshelf.circulation.selectors import require_permission as _require
from quietshelf.circulation.services._base import (
    _for_update,
    _local_date,
    _lock_item_by_pk,
    _locked_item,
    _now,
    _patron,
    _staff,
)
from quietshelf.circulation.services.history import (
    _deidentify_delay_days,
)
from quietshelf.core import clock
from quietshelf.core.errors import InvalidInput, NotFound
from quietshelf.privacy import audit
from quietshelf.privacy.retention import coarse_values


def _charge(
    *,
    patron,
    fee_type: str,
    amount: int,
    branch_id,
    item=None,
    loan=None,
    by=None,
    now=None,
    reason: str = "",
) -> Fee:
    now = now or _now()
    fee = Fee.objects.create(
        subject_id=patron.subject_id if patron else None,
        patron=patron,
        type=fee_type,
        branch_id=branch_id,
        item=item,
        record_id=item.record_id if item else None,
        loan=loan,
        original_minor=amount,
        currency=getattr(settings, "QUIETSHELF_CURRENCY", "NOK"),
        created_at=now,
    )
    FeeTransaction.objects.create(
        fee=fee,
        subject_id=fee.subject_id,
        kind="charge",
        amount_minor=amount,
        reason=reason or None,
        by=by,
        at=now,
    )
    return fee


def _fine_due(loan: Loan, item: Item, today: dt.date) -> int:
    """The whole overdue fine of a loan as of `today` (owning branch's calendar)."""
    rule = loan.rule
    if rule is None or not rule.fine_per_day_minor:
        return 0
    due_day = _local_date(loan.due_at)
    if today <= due_day:
        return 0
    terms = policy.FineTerms(
        per_day_minor=rule.fine_per_day_minor,
        grace_days=rule.grace_days,
        max_minor=rule.max_fine_minor,
        open_days_only=rule.fines_open_days_only,
    )
    owning = calendar_for(item.branch_id, since=due_day)
    return policy.overdue_fine(due=due_day, returned=today, terms=terms, calendar=owning)


_LOOK_UP = object()


def _accrue_fine(
    loan: Loan, item: Item, today, now, *, by=None, fee=_LOOK_UP
) -> tuple[int, Fee | None]:
    """Bring the loan's overdue fee up to the fine due today: one fee per loan, and
    each increase is a new charge line (the ledger is never edited)."""
    fine = _fine_due(loan, item, today)
    if fee is _LOOK_UP:
        fee = _for_update(Fee.objects.filter(loan=loan, type=FeeType.OVERDUE)).first()
    if not fine or loan.patron_id is None:
        return fine, fee
    if fee is None:
        fee = _charge(
            patron=loan.patron,
            fee_type=FeeType.OVERDUE,
            amount=fine,
            branch_id=item.branch_id,
            item=item,
            loan=loan,
            by=by,
            now=now,
        )
        return fine, fee
    charged = (
        FeeTransaction.objects.filter(fee=fee, kind="charge").aggregate(s=Sum("amount_minor"))["s"]
        or 0
    )
    if fine > charged:
        _tx(by, fee, "charge", fine - charged)
    return fine, fee


@transaction.atomic(durable=True)
def charge_overdue_fines(*, today: dt.date | None = None) -> int:
    """Daily: bring the fines of still-overdue open loans up to date (CIR-4).

    The scheduling comes with the jobs issue. Returns the number of loans
    whose fee grew or was created.
    """
    today = today or clock.today()
    now = _now()
    start = timezone.make_aware(dt.datetime.combine(today, dt.time()))
    n = 0
    loans = Loan.objects.filter(
        returned_at__isnull=True,
        due_at__lt=start,
        patron__isnull=False,
        rule__fine_per_day_minor__gt=0,
    ).values_list("pk", "item_id")
    for loan_id, item_id in list(loans):
        item = _lock_item_by_pk(item_id)
        loan = _for_update(Loan.objects.select_related("patron", "rule")).filter(pk=loan_id).first()
        if loan is None or loan.returned_at is not None:
            continue
        before = (
            FeeTransaction.objects.filter(fee__loan=loan, kind="charge").aggregate(
                s=Sum("amount_minor")
            )["s"]
            or 0
        )
        fine, _fee = _accrue_fine(loan, item, today, now)
        if fine > before:
            n += 1
    return n


def fee_balance(fee_id) -> int:
    return FeeTransaction.objects.filter(fee_id=fee_id).aggregate(s=Sum("amount_minor"))["s"] or 0


def _locked_fee(fee_id) -> Fee:
    try:
        fid = uuid.UUID(str(fee_id))
    except (ValueError, TypeError):
        raise NotFound(gettext_noop("No such fee."), code="fee_not_found") from None
    fee = Fee.objects.select_for_update().filter(pk=fid).first()
    if fee is None:
        raise NotFound(gettext_noop("No such fee."), code="fee_not_found")
    return fee


def _release_closed_loan(loan_id) -> None:
    """A closed loan with no unresolved fee: its fees lose item, title and loan, and it
    loses its patron (now, or later by deidentify_closed_loans when a delay is set)."""
    if Fee.objects.filter(loan_id=loan_id, resolved_at__isnull=True).exists():
        return
    Fee.objects.filter(loan_id=loan_id).update(item=None, record=None, loan=None)
    if _deidentify_delay_days() == 0:
        Loan.objects.filter(pk=loan_id, returned_at__isnull=False).update(
            patron=None, **coarse_values(*retention.LOAN_TIMES)
        )


def _after_change(fee: Fee, balance: int, now) -> None:
    """Resolved at zero (reopened otherwise). A resolved fee keeps its item, title and
    loan only while the loan is still open (a later fine on it adds to the same fee)."""
    if balance == 0 and fee.resolved_at is None:
        fee.resolved_at = now
        loan_id = fee.loan_id
        if loan_id and Loan.objects.filter(pk=loan_id, returned_at__isnull=True).exists():
            fee.save(update_fields=["resolved_at"])
            return
        fee.item = None
        fee.record = None
        fee.loan = None
        fee.save(update_fields=["resolved_at", "item", "record", "loan"])
        if loan_id:
            _release_closed_loan(loan_id)
    elif balance != 0 and fee.resolved_at is not None:
        fee.resolved_at = None
        fee.save(update_fields=["resolved_at"])


def _tx(actor, fee: Fee, kind: str, amount: int, reason: str = "") -> FeeTransaction:
    now = _now()
    tx = FeeTransaction.objects.create(
        fee=fee,
        subject_id=fee.subject_id,
        kind=kind,
        amount_minor=amount,
        reason=reason or None,
        by=_staff(actor),
        at=now,
    )
    _after_change(fee, fee_balance(fee.pk), now)
    return tx


def _reason(reason) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give a reason.", code="reason_required")
    return reason[:500]


@transaction.atomic(durable=True)
def fee_charge(
    *,
    actor,
    patron_id,
    fee_type: str,
    amount,
    branch_id,
    item_barcode: str | None = None,
    reason: str = "",
) -> Fee:
    """A manual, damage, lost or card fee."""
    _require(actor, "circulation.manage_fees", branch_id=branch_id)
    if fee_type not in FeeType.values:
        raise InvalidInput("Unknown fee type.", code="invalid_fee_type")
    amount = policy.parse_amount(amount)
    branch = _branch(branch_id)
    patron = _patron(patron_id)
    item = _locked_item(item_barcode) if item_barcode else None
    fee = _charge(
        patron=patron,
        fee_type=fee_type,
        amount=amount,
        branch_id=branch.pk,
        item=item,
        by=_staff(actor),
        reason=(reason or "").strip()[:500],
    )
    audit.record(actor=actor, action="created", obj=fee)
    return fee


@transaction.atomic(durable=True)
def fee_pay(*, actor, fee_id, amount) -> FeeTransaction:
    fee = _locked_fee(fee_id)
    _require(
        actor, "circulation.manage_fees", branch_id=fee.branch_id, acting_for=fee.patron_id or ""
    )
    amount = policy.parse_amount(amount)
    balance = fee_balance(fee.pk)
    if amount > balance:
        raise InvalidInput(
            f"That is more than is owed ({policy.format_minor(balance, fee.currency)}).",
            code="overpayment",
            details={"balance_minor": balance},
        )
    return _tx(actor, fee, "payment", -amount)


@transaction.atomic(durable=True)
def fee_waive(*, actor, fee_id, reason: str, amount=None) -> FeeTransaction:
    fee = _locked_fee(fee_id)
    _require(actor, "circulation.manage_fees", branch_id=fee.branch_id)
    reason = _reason(reason)
    balance = fee_balance(fee.pk)
    amount = balance if amount is None else policy.parse_amount(amount)
    if amount <= 0 or amount > balance:
        raise InvalidInput("A waiver can be at most what is owed.", code="overwaiver")
    tx = _tx(actor, fee, "waiver", -amount, reason)
    audit.record(actor=actor, action="changed", obj=fee, reason="fee waived")
    return tx


@transaction.atomic(durable=True)
def fee_refund(*, actor, fee_id, amount, reason: str) -> FeeTransaction:
    """Give back money paid; what is refunded is owed again unless waived."""
    fee = _locked_fee(fee_id)
    _require(actor, "circulation.manage_fees", branch_id=fee.branch_id)
    reason = _reason(reason)
    amount = policy.parse_amount(amount)
    agg = FeeTransaction.objects.filter(fee=fee).aggregate(
        paid=Sum("amount_minor", filter=Q(kind="payment")),
        refunded=Sum("amount_minor", filter=Q(kind="refund")),
    )
    refundable = -(agg["paid"] or 0) - (agg["refunded"] or 0)
    if amount > refundable:
        raise InvalidInput("A refund can be at most what was paid.", code="overrefund")
    tx = _tx(actor, fee, "refund", amount, reason)
    audit.record(actor=actor, action="changed", obj=fee, reason="fee refunded")
    return tx


@transaction.atomic(durable=True)
def fee_pay_patron(*, actor, patron_id, amount, branch_id) -> list[FeeTransaction]:
    """A payment at the desk spread over the patron's fees, oldest first."""
    _require(actor, "circulation.manage_fees", branch_id=branch_id, acting_for=patron_id)
    amount = policy.parse_amount(amount)
    patron = _patron(patron_id)
    fees = list(
        Fee.objects.select_for_update()
        .filter(patron=patron, resolved_at__isnull=True)
        .order_by("created_at")
    )
    balances = {f.pk: fee_balance(f.pk) for f in fees}
    total = sum(balances.values())
    if amount > total:
        raise InvalidInput(
            f"That is more than is owed ({total} minor units).",
            code="overpayment",
            details={"balance_minor": total},
        )
    out = []
    left = amount
    for fee in fees:
        part = min(left, balances[fee.pk])
        if part > 0:
            out.append(_tx(actor, fee, "payment", -part))
            left -= part
        if left == 0:
            break
    return out


# --- reading history (PRV-HIST-3) ---------------------------------------------------------------
