"""Items: create, change, delete."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction

from quietshelf.catalog import search
from quietshelf.catalog.models import (
    Branch,
    Item,
    ItemStatus,
    ItemType,
    ShelvingLocation,
)
from quietshelf.catalog.services.records import _IN_CIRCULATION, _clean_text, _lock_record
from quietshelf.core.errors import Conflict, InvalidInput, NotFound

# --- items, branches, item types ----------------------------------------------------


def _clean_barcode(barcode: str) -> str:
    bc = str(barcode or "").strip()
    if not bc:
        raise InvalidInput("An item needs a barcode.", code="barcode_required")
    if len(bc) > 64 or any(c.isspace() or not c.isprintable() for c in bc):
        raise InvalidInput(
            "A barcode is at most 64 printable characters without spaces.", code="invalid_barcode"
        )
    return bc


def _code_id(model, code, *, what: str) -> int:
    try:
        return model.objects.values_list("pk", flat=True).get(code=str(code or "").strip())
    except model.DoesNotExist:
        raise InvalidInput(
            f"Unknown {what} {code!r}.", code=f"unknown_{what.replace(' ', '_')}"
        ) from None


def _item_values(fields: dict) -> dict:
    values: dict = {}
    if "barcode" in fields:
        values["barcode"] = _clean_barcode(fields["barcode"])
    if "call_number" in fields:
        values["call_number"] = _clean_text(fields["call_number"], "call number", 255)
    if "branch_code" in fields:
        values["branch_id"] = _code_id(Branch, fields["branch_code"], what="branch")
    if "item_type_code" in fields:
        values["item_type_id"] = _code_id(ItemType, fields["item_type_code"], what="item type")
    if "location_code" in fields:
        code = fields["location_code"]
        values["location_id"] = (
            _code_id(ShelvingLocation, code, what="location") if code not in (None, "") else None
        )
    if "status" in fields:
        if fields["status"] not in ItemStatus.values:
            raise InvalidInput(f"Unknown item status {fields['status']!r}.", code="invalid_status")
        values["status"] = fields["status"]
    if "price_minor" in fields:
        price = fields["price_minor"]
        if price is not None:
            try:
                price = int(price)
            except (TypeError, ValueError):
                raise InvalidInput(
                    "The price must be whole minor units.", code="invalid_price"
                ) from None
            if price < 0 or price >= 10**12:
                raise InvalidInput("The price must be zero or more.", code="invalid_price")
        values["price_minor"] = price
    for name in ("public_note", "staff_note"):
        if name in fields:
            values[name] = str(fields[name] or "").strip()[:4000]
    return values


def _duplicate_barcode(barcode: str) -> Conflict:
    return Conflict(f"The barcode {barcode!r} is already in use.", code="duplicate_barcode")


@transaction.atomic(durable=True)
def item_create(
    *,
    actor=None,
    record_id: int,
    barcode: str,
    branch_code: str,
    item_type_code: str,
    call_number: str = "",
    location_code: str | None = None,
    status: str = "available",
    price_minor: int | None = None,
    public_note: str = "",
    staff_note: str = "",
) -> Item:
    record_obj = _lock_record(record_id)
    values = _item_values(
        dict(
            barcode=barcode, branch_code=branch_code, item_type_code=item_type_code,
            call_number=call_number, location_code=location_code, status=status,
            price_minor=price_minor, public_note=public_note, staff_note=staff_note,
        )
    )  # fmt: skip
    if Item.objects.filter(barcode=values["barcode"]).exists():
        raise _duplicate_barcode(values["barcode"])
    try:
        with transaction.atomic():
            item = Item.objects.create(
                record=record_obj, currency=settings.QUIETSHELF_CURRENCY, **values
            )
    except IntegrityError:
        raise _duplicate_barcode(values["barcode"]) from None
    search.index_records([record_obj.pk])
    return item


_ITEM_FIELDS = {
    "barcode", "call_number", "branch_code", "item_type_code", "location_code", "status",
    "price_minor", "public_note", "staff_note",
}  # fmt: skip


@transaction.atomic(durable=True)
def item_update(*, actor=None, item_id: int, **fields) -> Item:
    """Change an item's fields (barcode, call_number, branch_code, item_type_code,
    location_code, status, price_minor, public_note, staff_note)."""
    unknown = set(fields) - _ITEM_FIELDS
    if unknown:
        raise InvalidInput(
            f"Unknown item field(s): {', '.join(sorted(unknown))}.", code="invalid_field"
        )
    item = _lock_item(item_id)
    values = _item_values(fields)
    if "barcode" in values and values["barcode"] != item.barcode:
        if Item.objects.filter(barcode=values["barcode"]).exclude(pk=item.pk).exists():
            raise _duplicate_barcode(values["barcode"])
    for name, value in values.items():
        setattr(item, name, value)
    try:
        with transaction.atomic():
            item.save()
    except IntegrityError:
        raise _duplicate_barcode(values.get("barcode", item.barcode)) from None
    search.index_records([item.record_id])
    return item


@transaction.atomic(durable=True)
def item_delete(*, actor=None, item_id: int) -> None:
    item = _lock_item(item_id)
    if item.status in _IN_CIRCULATION:
        raise Conflict(
            "The item is on loan, in transit or on the hold shelf.", code="item_in_circulation"
        )
    record_id = item.record_id
    item.delete()
    search.index_records([record_id])


def _lock_item(item_id: int) -> Item:
    try:
        return Item.objects.select_for_update().get(pk=int(item_id))
    except (Item.DoesNotExist, TypeError, ValueError):
        raise NotFound(f"No item with id {item_id}.", code="item_not_found") from None
