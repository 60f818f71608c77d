"""Where a copy goes once it is in our hands: shelf, hold shelf or transit (CIR-3)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils.translation import gettext_noop

from quietshelf.catalog.models import Branch, Item, ItemStatus
from quietshelf.circulation import policy
from quietshelf.circulation.models import (
    Hold,
    HoldStatus,
    Transit,
)
from quietshelf.circulation.selectors import calendar_for
from quietshelf.circulation.services._base import (
    _for_update,
    _local_date,
    _set_item_status,
)


@dataclass
class CheckinResult:
    item: Item
    loan_closed: bool
    route: str  # "shelve", "hold_shelf", "transit"
    to_branch: Branch | None
    message: str  # English; pages show gettext(template) % params
    fine_minor: int = 0
    fee_id: uuid.UUID | None = None
    hold_id: uuid.UUID | None = None
    shelf_expires_on: dt.date | None = None
    overdue: bool = False
    template: str = ""
    params: dict = field(default_factory=dict)


def _routing(template: str, **params) -> dict:
    """The routing message in English plus what a page needs to translate it."""
    return {"message": template % params, "template": template, "params": params}


def _next_hold(item: Item, today: dt.date) -> Hold | None:
    qs = (
        Hold.objects.filter(record_id=item.record_id, status=HoldStatus.WAITING)
        .filter(Q(item_level=False) | Q(item=item))
        .filter(Q(suspended_until__isnull=True) | Q(suspended_until__lt=today))
        .order_by("placed_at", "id")
    )
    if connection.features.has_select_for_update_skip_locked:
        qs = qs.select_for_update(skip_locked=True)
    else:
        qs = qs.select_for_update()
    return qs.first()


def _shelf_expiry(pickup_branch_id, today: dt.date) -> dt.date:
    days = int(getattr(settings, "QUIETSHELF_HOLD_SHELF_DAYS", 7))
    target = today + dt.timedelta(days=days)
    try:
        return calendar_for(pickup_branch_id, since=target).next_open_day(target)
    except policy.CalendarClosed:
        return target


def _route(item: Item, at_branch: Branch, now: dt.datetime, *, trap: bool = True) -> CheckinResult:
    """Where an item goes now that it is back in our hands at `at_branch`.

    trap=False (the desk's confirm step): a hold that would take the copy is only named;
    the copy stays here, available, until hold_trap() confirms."""
    today = _local_date(now)
    # an open transit ends here (received) or is replaced by a new one
    if item.status == ItemStatus.IN_TRANSIT:
        Transit.objects.filter(item=item, received_at__isnull=True).update(received_at=now)
    hold = _next_hold(item, today)
    if hold is not None and not trap:
        _set_item_status(item, ItemStatus.AVAILABLE)
        return CheckinResult(
            item=item,
            loan_closed=False,
            route="hold_waiting",
            to_branch=hold.pickup_branch,
            hold_id=hold.pk,
            **_routing(
                gettext_noop("A hold waits for this title (pickup at %(branch)s): confirm it."),
                branch=hold.pickup_branch.name,
            ),
        )
    if hold is not None:
        hold.item = item
        if hold.pickup_branch_id == at_branch.pk:
            return _onto_hold_shelf(
                item,
                hold,
                at_branch,
                today,
                gettext_noop("Put on the hold shelf until %(date)s."),
                also_save=("item",),
            )
        hold.status = HoldStatus.IN_TRANSIT
        hold.save(update_fields=["item", "status"])
        return _send_to_pickup(
            item, hold, at_branch, now, gettext_noop("Hold: send to %(branch)s (pickup).")
        )
    if item.branch_id != at_branch.pk:
        Transit.objects.create(
            item=item, from_branch=at_branch, to_branch_id=item.branch_id, sent_at=now
        )
        _set_item_status(item, ItemStatus.IN_TRANSIT)
        return CheckinResult(
            item=item,
            loan_closed=False,
            route="transit",
            to_branch=item.branch,
            **_routing(gettext_noop("Send home to %(branch)s."), branch=item.branch.name),
        )
    _set_item_status(item, ItemStatus.AVAILABLE)
    return CheckinResult(
        item=item,
        loan_closed=False,
        route="shelve",
        to_branch=at_branch,
        **_routing(gettext_noop("Shelve.")),
    )


def _arrived_for_hold(item: Item, at_branch: Branch, now) -> CheckinResult | None:
    """An item in transit for a hold: at the pickup branch it goes onto the hold shelf;
    scanned anywhere else it is sent on to the pickup branch (the hold keeps it)."""
    hold = (
        _for_update(Hold.objects.select_related("pickup_branch"))
        .filter(item=item, status=HoldStatus.IN_TRANSIT)
        .first()
    )
    if hold is None:
        return None
    today = _local_date(now)
    Transit.objects.filter(item=item, received_at__isnull=True).update(received_at=now)
    if hold.pickup_branch_id != at_branch.pk:
        return _send_to_pickup(
            item, hold, at_branch, now, gettext_noop("Hold: send on to %(branch)s (pickup).")
        )
    return _onto_hold_shelf(
        item, hold, at_branch, today, gettext_noop("Arrived for a hold: hold shelf until %(date)s.")
    )


def _onto_hold_shelf(
    item: Item, hold: Hold, at_branch: Branch, today: dt.date, template: str, *, also_save=()
) -> CheckinResult:
    """The copy goes onto this branch's hold shelf for `hold` until its expiry date
    (`template` names the date); `also_save`: fields of the hold the caller changed."""
    hold.status = HoldStatus.ON_SHELF
    hold.shelf_expires_on = _shelf_expiry(at_branch.pk, today)
    hold.save(update_fields=[*also_save, "status", "shelf_expires_on"])
    _set_item_status(item, ItemStatus.ON_HOLD_SHELF)
    return CheckinResult(
        item=item,
        loan_closed=False,
        route="hold_shelf",
        to_branch=at_branch,
        hold_id=hold.pk,
        shelf_expires_on=hold.shelf_expires_on,
        **_routing(template, date=f"{hold.shelf_expires_on:%Y-%m-%d}"),
    )


def _send_to_pickup(
    item: Item, hold: Hold, at_branch: Branch, now: dt.datetime, template: str
) -> CheckinResult:
    """The copy travels from `at_branch` to the hold's pickup branch (`template` names it)."""
    Transit.objects.create(
        item=item, from_branch=at_branch, to_branch=hold.pickup_branch, hold=hold, sent_at=now
    )
    _set_item_status(item, ItemStatus.IN_TRANSIT)  # already so when sent on
    return CheckinResult(
        item=item,
        loan_closed=False,
        route="transit",
        to_branch=hold.pickup_branch,
        hold_id=hold.pk,
        **_routing(template, branch=hold.pickup_branch.name),
    )
