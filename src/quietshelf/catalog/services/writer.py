"""The batch writer: prepared records (and items from their holdings) into the database.

Shared by the importer and the one-record services; call it inside a transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db import router
from django.utils import timezone

from quietshelf.catalog import search
from quietshelf.catalog.marc.holdings import (
    HoldingItem,
    clean_code,
    content_key,
    generated_barcode,
    legacy_barcode,
    record_key,
)
from quietshelf.catalog.models import (
    BibRecord,
    Branch,
    Item,
    ItemType,
    RecordIdentifier,
    ShelvingLocation,
)
from quietshelf.catalog.services.marc_input import _Prepared
from quietshelf.core import bulk
from quietshelf.core.errors import Conflict, NotFound

_COLUMN_FIELDS = [
    "control_number", "control_source", "leader", "marc_json", "title", "subtitle",
    "responsibility", "sort_title", "contributors", "subjects", "isbns", "issns", "publisher",
    "publication_place", "year", "language", "format", "edition", "series", "notes", "links",
    "updated_at",
]  # fmt: skip
# --- code tables (branches, item types, locations) ---------------------------


class _Codes:
    """Resolves codes to ids, creating unknown ones (name = code unless mapped)."""

    def __init__(self, mapping: dict):
        self.mapping = mapping
        self.cache: dict[type, dict[str, int]] = {}

    def reset(self) -> None:
        self.cache = {}

    def ensure(self, model, codes: set[str], names: dict) -> dict[str, int]:
        known = self.cache.setdefault(model, {})
        missing = {c for c in codes if c and c not in known}
        if missing:
            for code, pk in model.objects.filter(code__in=missing).values_list("code", "pk"):
                known[code] = pk
            new = [c for c in missing if c not in known]
            if new:
                extra = {}
                if model is ItemType:
                    non_circ = set(self.mapping.get("non_circulating_item_types") or [])
                    extra = {c: {"circulates": c not in non_circ} for c in new}
                model.objects.bulk_create(
                    [
                        model(code=c, name=str(names.get(c) or c)[:200], **extra.get(c, {}))
                        for c in new
                    ],
                    ignore_conflicts=True,
                )
                for code, pk in model.objects.filter(code__in=new).values_list("code", "pk"):
                    known[code] = pk
        return known


# --- the batch writer ----------------------------------------------------------


@dataclass
class _BatchResult:
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    items: int = 0
    item_errors: list[tuple[_Prepared, str]] = field(default_factory=list)
    barcodes: set[str] = field(default_factory=set)  # of the items written
    # (record, code in the record, branch the item went to) for codes not taken as branches
    unknown_branches: list[tuple[_Prepared, str, str]] = field(default_factory=list)


def _insert_records(rows: list[dict]) -> list[int]:
    """Insert records, their ids in the order of ``rows``."""
    return bulk.insert_model_rows(BibRecord, rows, returning=True)


def _insert_identifiers(rows: list[tuple[int, str, str]]) -> None:
    """Plain executemany (COPY on PostgreSQL): identifiers are many and simple."""
    bulk.insert_rows(
        RecordIdentifier._meta.db_table,
        ("record_id", "scheme", "value"),
        rows,
        using=router.db_for_write(RecordIdentifier),
    )


def _write_batch(
    batch: list[_Prepared],
    *,
    codes: _Codes,
    seen_barcodes: set[str],
    strict_items: bool = False,
) -> _BatchResult:
    """Write prepared records (match_id set means update). Call inside a transaction."""
    result = _BatchResult()
    to_create = [p for p in batch if p.match_id is None]
    to_update = [p for p in batch if p.match_id is not None]

    new_ids = _insert_records([p.columns for p in to_create]) if to_create else []
    record_ids: dict[int, int] = {}
    for p, pk in zip(to_create, new_ids, strict=True):
        record_ids[id(p)] = pk
        result.created.append(pk)
    if to_update:
        existing = set(
            BibRecord.objects.filter(pk__in=[p.match_id for p in to_update]).values_list(
                "pk", flat=True
            )
        )
        missing = [p for p in to_update if p.match_id not in existing]
        if missing:
            raise NotFound(f"record {missing[0].match_id} not found", code="record_not_found")
        now = timezone.now()
        for p in to_update:
            # One UPDATE per record: much quicker than bulk_update's CASE per column.
            BibRecord.objects.filter(pk=p.match_id).update(**p.columns, updated_at=now)
            record_ids[id(p)] = p.match_id
            result.updated.append(p.match_id)
        RecordIdentifier.objects.filter(record_id__in=result.updated).delete()

    _insert_identifiers(
        [
            (record_ids[id(p)], scheme, value[:255])
            for p in batch
            for scheme, value in dict.fromkeys(p.identifiers)
        ]
    )

    # Items from embedded holdings.
    holdings = [(p, h) for p in batch for h in p.holdings]
    new_items: list[dict] = []
    if holdings:
        mapping = codes.mapping
        unknown = clean_code(mapping.get("unknown_branch") or "")
        if unknown:
            # only existing branches (and the mapped ones) take items; the rest go to
            # the unknown branch and are reported
            wanted = {h.branch_code for _, h in holdings} - {unknown}
            existing = set(Branch.objects.filter(code__in=wanted).values_list("code", flat=True))
            for _p, h in holdings:
                if h.branch_code != unknown and h.branch_code not in existing:
                    h.branch_source, h.branch_code = h.branch_code, unknown
        for p, h in holdings:
            if h.branch_source:
                result.unknown_branches.append((p, h.branch_source, h.branch_code))
        branches = codes.ensure(
            Branch, {h.branch_code for _, h in holdings}, mapping.get("branch_names") or {}
        )
        types = codes.ensure(
            ItemType, {h.item_type_code for _, h in holdings}, mapping.get("item_type_names") or {}
        )
        locations = codes.ensure(
            ShelvingLocation,
            {h.location_code for _, h in holdings if h.location_code},
            mapping.get("location_names") or {},
        )
        # Items without a barcode get one derived from the record (never from its
        # database id): the same after a killed and re-run import as after a clean one.
        planned: list[tuple[_Prepared, HoldingItem, str, int, tuple[str, ...]]] = []
        for p, h in holdings:
            rid = record_ids[id(p)]
            if h.barcode:
                planned.append((p, h, h.barcode, rid, ()))
                continue
            key = record_key(p.identifiers, p.columns["marc_json"])
            alternatives = (
                legacy_barcode(rid, h.ordinal),  # made by earlier versions: keep using it
                # when another record shares the key (two records with one ISBN)
                generated_barcode(key + "|" + content_key(p.columns["marc_json"]), h.ordinal),
            )
            planned.append((p, h, generated_barcode(key, h.ordinal), rid, alternatives))
        stored = {
            bc: (pk, rid)
            for bc, pk, rid in Item.objects.filter(
                barcode__in=[c for _, _, bc, _, alts in planned for c in (bc, *alts)]
            ).values_list("barcode", "pk", "record_id")
        }
        updated_items: list[Item] = []
        batch_barcodes: set[str] = set()
        owners: dict[str, int] = {}
        for p, h, bc, rid, alts in planned:
            if alts:
                legacy, shared = alts
                if stored.get(legacy, (0, None))[1] == rid:
                    bc = legacy
                elif (bc in stored and stored[bc][1] != rid) or owners.get(bc, rid) != rid:
                    bc = shared
            owners.setdefault(bc, rid)
            values = dict(
                call_number=h.call_number,
                branch_id=branches[h.branch_code],
                item_type_id=types[h.item_type_code],
                location_id=locations.get(h.location_code) if h.location_code else None,
                price_minor=h.price_minor,
                public_note=h.public_note,
                staff_note=h.staff_note,
            )
            if bc in stored:
                pk, owner = stored[bc]
                if owner == rid and bc not in batch_barcodes:
                    batch_barcodes.add(bc)
                    updated_items.append(Item(pk=pk, record_id=rid, barcode=bc, **values))
                    continue
                result.item_errors.append(
                    (p, f"duplicate barcode {bc!r}: already used by another item; item skipped")
                )
                continue
            if bc in batch_barcodes or bc in seen_barcodes:
                result.item_errors.append(
                    (p, f"duplicate barcode {bc!r} within the import; item skipped")
                )
                continue
            batch_barcodes.add(bc)
            new_items.append(
                dict(
                    record_id=rid,
                    barcode=bc,
                    status=h.status,
                    currency=settings.QUIETSHELF_CURRENCY,
                    **values,
                )
            )
        if strict_items and result.item_errors:
            raise Conflict(result.item_errors[0][1], code="duplicate_barcode")
        if new_items:
            bulk.insert_model_rows(Item, new_items)
        if updated_items:
            Item.objects.bulk_update(
                updated_items,
                ["call_number", "branch_id", "item_type_id", "location_id", "price_minor",
                 "public_note", "staff_note"],
                batch_size=1000,
            )  # fmt: skip
        result.barcodes = batch_barcodes
        result.items = len(new_items)

    # New records are indexed from the values just written (no read-back); updated
    # ones are read back, as they may have items from before.
    search.index_written_records(
        [{**p.columns, "id": record_ids[id(p)]} for p in to_create],
        [(i["record_id"], i["branch_id"], i["status"]) for i in new_items],
    )
    search.index_records(result.updated)
    return result
