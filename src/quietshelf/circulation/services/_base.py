"""What every circulation service shares: the clock, locked rows, patrons, item status, events.

Lock order everywhere: item, then loan, then hold, then fee.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_noop

from quietshelf.catalog.models import Item, ItemStatus
from quietshelf.catalog.search import refresh_availability
from quietshelf.circulation import compiled, policy
from quietshelf.circulation.models import (
    CirculationEvent,
    EventKind,
)
from quietshelf.circulation.policy import (
    Refusal,
)
from quietshelf.core import clock
from quietshelf.core.errors import NotFound
from quietshelf.patrons.errors import PatronNotFound  # one class for every app (#14)


class ItemNotFound(NotFound):
    code = "item_not_found"


def _now() -> dt.datetime:
    return clock.now()


def _local_date(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date()


def _staff(actor):
    return actor if getattr(actor, "is_authenticated", False) and hasattr(actor, "pk") else None


def _for_update(qs, **kw):
    """SELECT ... FOR UPDATE of the queried table only (joined rows stay unlocked)."""
    if connection.features.has_select_for_update_of:
        return qs.select_for_update(of=("self",), **kw)
    return qs.select_for_update(**kw)


def _locked_item(barcode: str, *, related=("item_type", "record", "branch")) -> Item:
    barcode = (barcode or "").strip()
    if not barcode or len(barcode) > 64:
        raise ItemNotFound(gettext_noop("Scan or type an item barcode."))
    item = _item_template(related).first(barcode)
    if item is None:
        raise ItemNotFound(
            gettext_noop("No item has this barcode."), details={"barcode_length": len(barcode)}
        )
    return item


_ITEM_TEMPLATES: dict = {}
_SENTINEL_BARCODE = "\x00qs-sentinel-barcode"
_SENTINEL_UUID = uuid.UUID("5e471ae1-0000-4000-8000-00000000c1c2")
_SENTINEL_MOMENT = dt.datetime(1901, 2, 3, 4, 5, 6, 789012, tzinfo=dt.UTC)
_SENTINEL_ID = -918273645


def _item_template(related) -> compiled.Template:
    """The item by barcode, locked (FOR UPDATE OF the item only), with `related`."""
    template = _ITEM_TEMPLATES.get(related)
    if template is None:
        template = _ITEM_TEMPLATES[related] = compiled.Template(
            f"circulation.locked_item.{'.'.join(related)}",
            lambda barcode: _for_update(_item_rows(related).filter(barcode=barcode)),
            (_SENTINEL_BARCODE,),
            (compiled.field_prep(Item, "barcode"),),
        )
    return template


def _item_rows(related=("item_type", "record", "branch")):
    # The record comes along for its title; its MARC (often kilobytes of JSON) is
    # loaded only if someone reads it.
    return Item.objects.select_related(*related).defer("record__marc_json")


def _lock_item_by_pk(item_id) -> Item:
    qs = _item_rows().filter(pk=item_id)
    if connection.features.has_select_for_update_of:
        return qs.select_for_update(of=("self",)).get()
    return qs.select_for_update().get()


def _patron(patron_id, *, lock: bool = False, annotate=None):
    from quietshelf.patrons.models import Patron

    try:
        pid = uuid.UUID(str(patron_id))
    except (ValueError, TypeError):
        raise PatronNotFound(gettext_noop("No such patron.")) from None
    qs = Patron.objects.select_related("group").filter(pk=pid)
    if annotate is not None:
        qs = annotate(qs)
    if lock:
        qs = (
            qs.select_for_update(of=("self",))
            if connection.features.has_select_for_update_of
            else qs.select_for_update()
        )
    patron = qs.first()
    if patron is None:
        raise PatronNotFound(gettext_noop("No such patron."))
    return patron


def _set_item_status(item: Item, status: str) -> None:
    if item.status != status:
        was_available = item.status == ItemStatus.AVAILABLE
        item.status = status
        item.save(update_fields=["status", "updated_at"])
        if was_available or status == ItemStatus.AVAILABLE:
            # The search document depends on the status only through "available"
            # (its availability facet): two small UPDATEs, not a rebuild.
            refresh_availability([item.record_id])


# Kinds of event that count as an item circulating (its last activity, RPT-1).
_ITEM_ACTIVITY = frozenset({EventKind.CHECKOUT, EventKind.CHECKIN, EventKind.RENEWAL})


def _event(kind: str, *, item: Item | None, branch_id, patron_group_id, day, record_id=None):
    if item is not None and kind in _ITEM_ACTIVITY and item.last_activity_on != day:
        # the item row is locked by the caller; at most one small UPDATE per item and day
        Item.objects.filter(pk=item.pk).update(last_activity_on=day)
        item.last_activity_on = day
    CirculationEvent.objects.create(
        kind=kind,
        day=day,
        item=item,
        record_id=record_id if record_id is not None else (item.record_id if item else None),
        item_type_id=item.item_type_id if item else None,
        branch_id=branch_id,
        patron_group_id=patron_group_id,
    )


# --- rules and calendars ----------------------------------------------------------------


def _patron_refusals(patron, today: dt.date) -> list[Refusal]:
    """Why this patron may not borrow today (policy.patron_refusals), blocks read here."""
    from quietshelf.patrons import policy as patron_policy
    from quietshelf.patrons.models import Block

    if getattr(patron, "circ_blocks", True):
        blocks = list(Block.objects.filter(patron=patron, lifted_at__isnull=True))
    else:
        blocks = []  # the patron row said no block is open
    return policy.patron_refusals(
        patron, patron_policy.effective_blocks(patron, blocks, today=today)
    )


class _LazyTemplate:
    """A compiled.Template made on first use (the patron model loads after this module)."""

    def __init__(self, make):
        self.make, self.template = make, None

    def first(self, *args):
        if self.template is None:
            self.template = self.make()
        return self.template.first(*args)
