"""Catalogue reads shared by the public pages, the staff pages and the API."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db.models import QuerySet
from pymarc import Record

from quietshelf.catalog.marc.records import record_from_json
from quietshelf.catalog.models import (
    BibRecord,
    Branch,
    Item,
    ItemStatus,
    ItemType,
    ShelvingLocation,
)
from quietshelf.core.errors import NotFound


def record_get(record_id: int) -> BibRecord:
    """One record by id; NotFound (code record_not_found) when there is none."""
    try:
        return BibRecord.objects.get(pk=int(record_id))
    except (BibRecord.DoesNotExist, TypeError, ValueError):
        raise NotFound(f"No record with id {record_id}.", code="record_not_found") from None


def record_list(ids: Iterable[int]) -> list[BibRecord]:
    """Records in the order of ``ids`` (unknown ids left out); one query."""
    wanted = []
    for i in ids:
        try:
            wanted.append(int(i))
        except (TypeError, ValueError):
            continue
    found = BibRecord.objects.in_bulk(wanted)
    return [found[i] for i in wanted if i in found]


def record_marc(record: BibRecord) -> Record:
    """The record's full MARC as a pymarc Record."""
    return record_from_json(record.marc_json)


@dataclass
class BranchAvailability:
    branch_code: str
    branch_name: str
    total: int = 0
    available: int = 0


@dataclass
class RecordHoldings:
    """A record's items (iterate over it like a list) and availability per branch."""

    items: list[Item] = field(default_factory=list)
    by_branch: list[BranchAvailability] = field(default_factory=list)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    @property
    def available(self) -> int:
        return sum(b.available for b in self.by_branch)


def items_for_record(record_id: int) -> RecordHoldings:
    """The items of a record with their branch, location and type (one query),
    and per branch how many there are and how many are available."""
    items = list(
        Item.objects.filter(record_id=record_id)
        .select_related("branch", "location", "item_type")
        .order_by("branch__name", "call_number", "barcode")
    )
    branches: dict[int, BranchAvailability] = {}
    for item in items:
        b = branches.get(item.branch_id)
        if b is None:
            b = branches[item.branch_id] = BranchAvailability(item.branch.code, item.branch.name)
        b.total += 1
        if item.status == ItemStatus.AVAILABLE:
            b.available += 1
    return RecordHoldings(items=items, by_branch=list(branches.values()))


def item_get(item_id: int) -> Item:
    try:
        return Item.objects.select_related("record", "branch", "location", "item_type").get(
            pk=int(item_id)
        )
    except (Item.DoesNotExist, TypeError, ValueError):
        raise NotFound(f"No item with id {item_id}.", code="item_not_found") from None


def branch_list() -> QuerySet[Branch]:
    return Branch.objects.order_by("name")


def item_type_list() -> QuerySet[ItemType]:
    return ItemType.objects.order_by("name")


def location_list() -> QuerySet[ShelvingLocation]:
    return ShelvingLocation.objects.order_by("name")


def records_for_export(*, ids: Iterable[int] | None = None, since=None, chunk_size: int = 500):
    """(id, marc_json) of the records to export, streamed in id order."""
    qs = BibRecord.objects.order_by("pk")
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    if since is not None:
        qs = qs.filter(updated_at__gte=since)
    return qs.values_list("pk", "marc_json").iterator(chunk_size=chunk_size)
