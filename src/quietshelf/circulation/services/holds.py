"""Holds (CIR-3): place, cancel, suspend, the hold shelf's expiry."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import transaction

from quietshelf.catalog.models import BibRecord, Item
from quietshelf.circulation.models import (
    OPEN_HOLD,
    EventKind,
    Hold,
    HoldStatus,
    Loan,
    Transit,
)
from quietshelf.circulation.policy import (
    CirculationRefused,
    Refusal,
)
from quietshelf.circulation.policy import refuse as _refuse
from quietshelf.circulation.selectors import branch_by_id as _branch
from quietshelf.circulation.selectors import find_rule
from quietshelf.circulation.selectors import require_permission as _require
from quietshelf.circulation.services._base import (
    _event,
    _local_date,
    _lock_item_by_pk,
    _locked_item,
    _now,
    _patron,
    _patron_refusals,
)
from quietshelf.circulation.services.routing import (
    _route,
)
from quietshelf.core import clock
from quietshelf.core.errors import Conflict, InvalidInput, NotFound
from quietshelf.privacy.retention import coarsen


def _close_hold(hold: Hold, status: str, now, *, item: Item | None = None) -> None:
    """Close a hold and de-identify it in the same transaction (PRV-HIST-1)."""
    group_id = hold.patron_group_id
    hold.status = status
    # PRV-HIST-5: the closed hold keeps only coarse times
    hold.closed_at = coarsen(now)
    hold.placed_at = coarsen(hold.placed_at)
    hold.patron = None
    hold.suspended_until = None
    hold.save(update_fields=["status", "closed_at", "placed_at", "patron", "suspended_until"])
    kind = EventKind.HOLD_FILLED if status == HoldStatus.FILLED else EventKind.HOLD_CANCELLED
    _event(
        kind,
        item=item,
        record_id=hold.record_id,
        branch_id=hold.pickup_branch_id,
        patron_group_id=group_id,
        day=_local_date(now),
    )


@transaction.atomic(durable=True)
def hold_place(
    *, actor, patron_id, record_id, pickup_branch_id, item_barcode: str | None = None
) -> Hold:
    """A title-level hold (any copy) or, with item_barcode, an item-level hold."""
    pickup = _branch(pickup_branch_id)
    _require(actor, "circulation.checkout", branch_id=pickup.pk, patron_id=patron_id)
    patron = _patron(patron_id, lock=True)
    now = _now()
    today = _local_date(now)
    item = None
    if item_barcode:
        item = _locked_item(item_barcode)
        record_id = item.record_id
    try:
        record = BibRecord.objects.get(pk=int(record_id))
    except (BibRecord.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such title.", code="record_not_found") from None
    items = list(Item.objects.filter(record=record).select_related("item_type"))
    if not items:
        raise Conflict("This title has no copies to hold.", code="no_items")
    refusals = _patron_refusals(patron, today)
    if refusals:
        _refuse([Refusal(r.code, r.template, False, r.params) for r in refusals])
    if Hold.objects.filter(patron=patron, record=record, status__in=OPEN_HOLD).exists():
        raise Conflict("The patron already has a hold on this title.", code="duplicate_hold")
    on_loan_here = Loan.objects.filter(patron=patron, returned_at__isnull=True, item__record=record)
    if item is not None:
        on_loan_here = on_loan_here.filter(item=item)
    if on_loan_here.exists():
        raise Conflict("The patron has this on loan already.", code="hold_on_own_loan")
    sample = item or next((i for i in items if i.item_type.circulates), items[0])
    rule, _ = find_rule(
        patron_group_id=patron.group_id, item_type_id=sample.item_type_id, branch_id=pickup.pk
    )
    if not rule.holds_allowed:
        raise CirculationRefused(
            "Holds are not allowed for this patron group and item type.",
            code="holds_not_allowed",
            details={"refusals": ["holds_not_allowed"], "overridable": False},
        )
    if rule.hold_limit is not None:
        open_holds = Hold.objects.filter(patron=patron, status__in=OPEN_HOLD).count()
        if open_holds >= rule.hold_limit:
            raise CirculationRefused(
                f"The patron has the most holds allowed ({rule.hold_limit}).",
                code="hold_limit",
                details={"refusals": ["hold_limit"], "overridable": False},
            )
    hold = Hold.objects.create(
        record=record,
        item=item,
        item_level=item is not None,
        patron=patron,
        patron_group_id=patron.group_id,
        pickup_branch=pickup,
        placed_at=now,
    )
    _event(
        EventKind.HOLD_PLACED,
        item=item,
        record_id=record.pk,
        branch_id=pickup.pk,
        patron_group_id=patron.group_id,
        day=today,
    )
    return hold


def _locked_hold(hold_id) -> Hold:
    try:
        hid = uuid.UUID(str(hold_id))
    except (ValueError, TypeError):
        raise NotFound("No such hold.", code="hold_not_found") from None
    item_id = Hold.objects.filter(pk=hid).values_list("item_id", flat=True).first()
    if item_id is not None:
        _lock_item_by_pk(item_id)  # lock order: item first
    hold = Hold.objects.select_for_update().filter(pk=hid).first()
    if hold is None:
        raise NotFound("No such hold.", code="hold_not_found")
    return hold


@transaction.atomic(durable=True)
def hold_cancel(*, actor, hold_id) -> Hold:
    """Cancel by the patron (Actor.patron) or staff; a trapped copy is routed on."""
    return hold_cancel_in_transaction(actor=actor, hold_id=hold_id)


def hold_cancel_in_transaction(*, actor, hold_id) -> Hold:
    """hold_cancel as a step of the caller's own durable transaction, which it does not
    open (the privacy office's erasure cancels the patron's open holds with it, #14)."""
    hold = _locked_hold(hold_id)
    if hold.status not in OPEN_HOLD:
        raise Conflict("This hold is no longer open.", code="hold_closed")
    _require(
        actor, "circulation.checkout", branch_id=hold.pickup_branch_id, patron_id=hold.patron_id
    )
    now = _now()
    trapped = hold.item if hold.status in ("in_transit", "on_shelf") else None
    was_shelf = hold.status == HoldStatus.ON_SHELF
    if not hold.item_level:
        hold.item = None
    _close_hold(hold, HoldStatus.CANCELLED, now)
    if trapped is not None:
        item = _lock_item_by_pk(trapped.pk)
        if was_shelf:
            _route(item, hold.pickup_branch, now)
        else:
            # still travelling: re-route once it arrives (check-in there routes it)
            Transit.objects.filter(item=item, received_at__isnull=True).update(hold=None)
    return hold


@transaction.atomic(durable=True)
def hold_suspend(*, actor, hold_id, until: dt.date | None) -> Hold:
    """Suspend a waiting hold until a date (it keeps its place), or resume it (until=None)."""
    hold = _locked_hold(hold_id)
    _require(
        actor, "circulation.checkout", branch_id=hold.pickup_branch_id, patron_id=hold.patron_id
    )
    if hold.status != HoldStatus.WAITING:
        raise Conflict("Only a waiting hold can be suspended.", code="hold_not_waiting")
    if until is not None and until < clock.today():
        raise InvalidInput("Suspend until a date in the future.", code="invalid_date")
    hold.suspended_until = until
    hold.save(update_fields=["suspended_until"])
    return hold


@transaction.atomic(durable=True)
def expire_hold_shelf(*, today: dt.date | None = None) -> int:
    """Holds left on the shelf past their expiry date expire; their copies are routed on."""
    today = today or clock.today()
    now = _now()
    n = 0
    for hold_id in list(
        Hold.objects.filter(status=HoldStatus.ON_SHELF, shelf_expires_on__lt=today).values_list(
            "pk", flat=True
        )
    ):
        hold = _locked_hold(hold_id)
        if hold.status != HoldStatus.ON_SHELF:
            continue
        item = hold.item
        if not hold.item_level:
            hold.item = None
        _close_hold(hold, HoldStatus.EXPIRED, now)
        if item is not None:
            _route(_lock_item_by_pk(item.pk), hold.pickup_branch, now)
        n += 1
    return n


# --- fees ----------------------------------------------------------------------------------
