"""Catalogue state changes: records from MARC, core-field edits, items, branches, import.

Every function is keyword-only and typed, runs in one transaction and keeps
the search index in step inside that same transaction (index_records /
remove_records). The importer commits in batches of BATCH_SIZE records: a
batch is one transaction, and when a batch fails in the database it is run
again one record per transaction, so a bad record never leaves half a
record behind and never takes the others down with it.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from pymarc import Field, Indicators, Record, Subfield

from quietshelf.catalog import hooks, search
from quietshelf.catalog.marc.extract import extract, looks_unimarc
from quietshelf.catalog.marc.holdings import (
    HoldingItem,
    clean_code,
    content_key,
    generated_barcode,
    holdings_items,
    legacy_barcode,
    merge_map,
    record_key,
    validate_map,
)
from quietshelf.catalog.marc.reader import NotMarc, decode_iso2709, read_marc, strip_nul
from quietshelf.catalog.marc.records import marcxml_repairs, record_from_json, record_to_json
from quietshelf.catalog.models import (
    BibRecord,
    Branch,
    Item,
    ItemStatus,
    ItemType,
    RecordIdentifier,
    ShelvingLocation,
)
from quietshelf.core.errors import Conflict, InvalidInput, NotFound

BATCH_SIZE = 500
MATCH_SCHEMES = ("001+003", "035", "isbn", "issn")
_COLUMN_FIELDS = [
    "control_number", "control_source", "leader", "marc_json", "title", "subtitle",
    "responsibility", "sort_title", "contributors", "subjects", "isbns", "issns", "publisher",
    "publication_place", "year", "language", "format", "edition", "series", "notes", "links",
    "updated_at",
]  # fmt: skip
_IN_CIRCULATION = {ItemStatus.ON_LOAN, ItemStatus.ON_HOLD_SHELF, ItemStatus.IN_TRANSIT}


# --- results ------------------------------------------------------------------


class ImportProblem(NamedTuple):
    """A record (or one of its items) that could not be taken as it was."""

    source: str
    position: int  # 1-based index of the record in its file
    reason: str
    offset: int | None = None  # byte offset in the file, when known

    def __str__(self) -> str:
        if self.position == 0:  # the whole source
            return f"{self.source}: {self.reason}"
        where = f"record {self.position}"
        if self.offset is not None:
            where += f" (byte {self.offset})"
        return f"{self.source}: {where}: {self.reason}"


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    items: int = 0
    skipped: int = 0
    errors: list[ImportProblem] = field(default_factory=list)
    warnings: list[ImportProblem] = field(default_factory=list)
    records_read: int = 0
    dry_run: bool = False
    record_ids: list[int] = field(default_factory=list)  # created or updated (not in dry run)

    def line(self) -> str:
        head = "would import" if self.dry_run else "imported"
        return (
            f"{head} {self.created + self.updated} records: created {self.created}, "
            f"updated {self.updated}, items {self.items}, skipped {self.skipped}, "
            f"errors {len(self.errors)}"
        )


# --- parsing input ---------------------------------------------------------


def parse_marc_input(marc: Any) -> Record:
    """One pymarc Record from a Record, MARC-in-JSON (dict or text), ISO 2709 or MARCXML."""
    if isinstance(marc, Record):
        strip_nul(marc)
        return marc
    if isinstance(marc, dict):
        try:
            record = record_from_json(marc)
            strip_nul(record)
            return record
        except ValueError as exc:
            raise InvalidInput(f"Not valid MARC-in-JSON: {exc}", code="invalid_marc") from None
    if isinstance(marc, str):
        stripped = marc.lstrip()
        if stripped.startswith("{"):
            try:
                return parse_marc_input(json.loads(stripped))
            except json.JSONDecodeError:
                raise InvalidInput("Not valid MARC-in-JSON.", code="invalid_marc") from None
        marc = marc.encode("utf-8")
    if isinstance(marc, bytes | bytearray):
        data = bytes(marc)
        try:
            results = read_marc(io.BytesIO(data))
            first = next(iter(results), None)
        except NotMarc as exc:
            raise InvalidInput(str(exc), code="invalid_marc") from None
        if first is None:
            raise InvalidInput("No MARC record found.", code="invalid_marc")
        if first.error:
            raise InvalidInput(f"Unreadable MARC record: {first.error}", code="invalid_marc")
        return first.record
    raise InvalidInput("Unsupported MARC input.", code="invalid_marc")


@dataclass
class _Prepared:
    source: str
    position: int
    offset: int | None
    record: Record
    columns: dict
    identifiers: list[tuple[str, str]]
    holdings: list[HoldingItem]
    match_id: int | None = None
    warnings: list[str] = field(default_factory=list)


UNIMARC_REASON = (
    "UNIMARC, not MARC 21 (title in 200, no 245): convert it to MARC 21 first "
    "(e.g. yaz-marcconv or MarcEdit)"
)


def _prepare(
    record: Record,
    *,
    mapping: dict,
    source="",
    position=1,
    offset=None,
    marc_json=None,
    warnings: Iterable[str] = (),
) -> _Prepared:
    ex = extract(record)
    if not ex.is_bibliographic:
        raise InvalidInput(
            f"not bibliographic (leader/06 '{ex.columns['leader'][6]}'): "
            "authority and holdings records are not supported yet",
            code="not_bibliographic",
        )
    if looks_unimarc(record):
        raise InvalidInput(UNIMARC_REASON, code="unimarc")
    columns = ex.columns
    # The reader's quick decoder hands over the MARC-in-JSON it built on the way.
    columns["marc_json"] = marc_json or record_to_json(record)
    columns["leader"] = columns["marc_json"]["leader"]
    # The record's own report: what reading it repaired or guessed, and what a
    # MARCXML export will have to repair (never silent, CAT-1).
    columns["import_report"] = [
        *warnings,
        *(f"MARCXML export: {text}" for text in marcxml_repairs(record)),
    ][:100]
    _clip(columns)
    return _Prepared(
        source=source,
        position=position,
        offset=offset,
        record=record,
        columns=columns,
        identifiers=ex.identifiers,
        holdings=holdings_items(record, mapping, material=columns["format"]),
    )


def _clip(columns: dict) -> None:
    columns["sort_title"] = columns["sort_title"][:255]
    columns["control_number"] = columns["control_number"][:64]
    columns["control_source"] = columns["control_source"][:64]
    columns["language"] = columns["language"][:3]


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


def _find_matches(batch: list[_Prepared], match_on: list[str]) -> None:
    """Set match_id on each prepared record without one (one query for the batch).

    A record is matched by the first scheme in ``match_on`` for which it has a
    value; when no stored record has that value, it is created. (Trying a
    looser scheme after a stricter one missed would merge different records
    that happen to share, say, an ISBN.)
    """
    wanted: dict[str, set[str]] = {}
    keys: list[tuple[str, list[str]] | None] = []
    for p in batch:
        if p.match_id is not None:
            keys.append(None)
            continue
        chosen = None
        for scheme in match_on:
            values = [v for s, v in p.identifiers if s == scheme]
            if values:
                chosen = (scheme, values)
                wanted.setdefault(scheme, set()).update(values)
                break
        keys.append(chosen)
    if not wanted:
        return
    query = Q()
    for scheme, values in wanted.items():
        query |= Q(scheme=scheme, value__in=list(values))
    hits: dict[tuple[str, str], int] = {}
    for scheme, value, rid in (
        RecordIdentifier.objects.filter(query)
        .order_by("record_id")
        .values_list("scheme", "value", "record_id")
    ):
        hits.setdefault((scheme, value), rid)
    for p, key in zip(batch, keys, strict=True):
        if key is None:
            continue
        scheme, values = key
        for v in values:
            if (scheme, v) in hits:
                p.match_id = hits[(scheme, v)]
                break


def _param_limit() -> int:
    if connection.vendor == "sqlite":
        try:
            import sqlite3

            connection.ensure_connection()
            return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        except (AttributeError, DatabaseError):
            return 999
    return 30_000


def _insert_records(rows: list[dict]) -> list[int]:
    """Insert records, their ids in the order of ``rows``."""
    return _insert_rows(BibRecord, rows, returning=True)


def _insert_rows(model, rows: list[dict], *, returning: bool = False) -> list[int]:
    """Insert rows (dicts by field attname) in as few statements as the database allows.

    PostgreSQL: one COPY (ids taken first from the table's sequence in one
    statement when they are wanted), so no statement text is built or parsed
    per row. SQLite: multi-row INSERT … RETURNING id (Django's bulk_create keeps
    SQLite at 999 parameters and prepares every value field by field: about
    twice the time for the same rows).

    Every concrete column is written: those not given get the field's default,
    prepared by the field itself, so a column added to the model later still works.
    Returns the new ids when ``returning`` (else an empty list)."""
    if not rows:
        return []
    if not connection.features.can_return_rows_from_bulk_insert:
        objs = model.objects.bulk_create([model(**r) for r in rows])
        return [o.pk for o in objs] if returning else []
    ops = connection.ops
    qn = ops.quote_name
    postgres = connection.vendor == "postgresql"
    now = ops.adapt_datetimefield_value(timezone.now())
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    plan = []  # (attname, how, constant)
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            plan.append((f.attname, "const", now))
        elif f.attname in rows[0]:
            plan.append(
                (f.attname, "json" if f.get_internal_type() == "JSONField" else "raw", None)
            )
        else:
            plan.append((f.attname, "const", f.get_db_prep_save(f.get_default(), connection)))
    if postgres:
        return _copy_rows(meta, fields, plan, rows, returning=returning)
    columns = ", ".join(qn(f.column) for f in fields)
    one_row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    per_statement = max(1, min(1000, _param_limit() // len(fields)))
    adapt_json = ops.adapt_json_value
    returning_sql = f" RETURNING {qn(meta.pk.column)}" if returning else ""
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            params: list = []
            for row in chunk:
                for name, how, constant in plan:
                    if how == "raw":
                        params.append(row[name])
                    elif how == "json":
                        params.append(adapt_json(row[name], None))
                    else:
                        params.append(constant)
            values = ", ".join([one_row] * len(chunk))
            # Only quoted model names go into the text; every value is a parameter.
            sql = f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES {values}{returning_sql}"  # noqa: S608
            cursor.execute(sql, params)
            if returning:
                ids.extend(r[0] for r in cursor.fetchall())
    return ids


def _copy_rows(meta, fields, plan, rows: list[dict], *, returning: bool) -> list[int]:
    """PostgreSQL: COPY the rows in; with ``returning``, ids from the sequence first."""
    qn = connection.ops.quote_name
    dumps = json.dumps
    columns = [f.column for f in fields]
    ids: list[int] = []
    with connection.cursor() as cursor:
        if returning:
            # One statement for all the ids; values are parameters.
            cursor.execute(
                "SELECT nextval(s) FROM (SELECT pg_get_serial_sequence(%s, %s)::regclass AS s) q, "
                "generate_series(1, %s)",
                [qn(meta.db_table), meta.pk.column, len(rows)],
            )
            ids = sorted(r[0] for r in cursor.fetchall())
            columns.insert(0, meta.pk.column)
        # Only quoted model names go into the statement; the rows travel as COPY data.
        sql = f"COPY {qn(meta.db_table)} ({', '.join(qn(c) for c in columns)}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            write = copy.write_row
            for i, row in enumerate(rows):
                values = [ids[i]] if returning else []
                for name, how, constant in plan:
                    if how == "raw":
                        values.append(row[name])
                    elif how == "json":
                        values.append(dumps(row[name]))
                    else:
                        values.append(constant)
                write(values)
    return ids


def _insert_identifiers(rows: list[tuple[int, str, str]]) -> None:
    """Plain executemany (COPY on PostgreSQL): identifiers are many and simple."""
    if not rows:
        return
    qn = connection.ops.quote_name
    table = qn(RecordIdentifier._meta.db_table)
    columns = ", ".join(qn(c) for c in ("record_id", "scheme", "value"))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        # Only quoted model names go into the text; the values are parameters.
        sql = f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s)"  # noqa: S608
        cursor.executemany(sql, rows)


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
            _insert_rows(Item, new_items)
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


# --- records ---------------------------------------------------------------------


@transaction.atomic
def record_create_from_marc(
    *, actor=None, marc: Any, holdings_map: dict | None = None
) -> BibRecord:
    """Create a record (and items from its 952/852 holdings) from one MARC record."""
    mapping = merge_map(holdings_map)
    prepared = _prepare(parse_marc_input(marc), mapping=mapping)
    res = _write_batch([prepared], codes=_Codes(mapping), seen_barcodes=set(), strict_items=True)
    return BibRecord.objects.get(pk=res.created[0])


@transaction.atomic
def record_update_from_marc(
    *, actor=None, record_id: int, marc: Any, holdings_map: dict | None = None
) -> BibRecord:
    """Replace a record's MARC (columns and identifiers rebuilt; new holdings become items)."""
    _lock_record(record_id)
    mapping = merge_map(holdings_map)
    prepared = _prepare(parse_marc_input(marc), mapping=mapping)
    prepared.match_id = record_id
    _write_batch([prepared], codes=_Codes(mapping), seen_barcodes=set(), strict_items=True)
    return BibRecord.objects.get(pk=record_id)


_UNSET: Any = object()


@transaction.atomic
def record_update_core_fields(
    *,
    actor=None,
    record_id: int,
    title: str = _UNSET,
    subtitle: str = _UNSET,
    responsibility: str = _UNSET,
    publisher: str = _UNSET,
    publication_place: str = _UNSET,
    year: int | None = _UNSET,
    language: str = _UNSET,
    edition: str = _UNSET,
) -> BibRecord:
    """Edit the core descriptive fields; the edit is written into the MARC (so export shows it).

    Arguments left out are unchanged; an empty string clears the subfield.
    """
    record_obj = _lock_record(record_id)
    marc = record_from_json(record_obj.marc_json)
    if title is not _UNSET:
        title = _clean_text(title, "title", 2000)
        if not title:
            raise InvalidInput("A record needs a title.", code="title_required")
    if title is not _UNSET or subtitle is not _UNSET or responsibility is not _UNSET:
        _edit_245(
            marc,
            title=None if title is _UNSET else title,
            subtitle=None if subtitle is _UNSET else _clean_text(subtitle, "subtitle", 2000),
            responsibility=None
            if responsibility is _UNSET
            else _clean_text(responsibility, "responsibility", 2000),
        )
    if publisher is not _UNSET or publication_place is not _UNSET or year is not _UNSET:
        if year is not _UNSET and year is not None:
            try:
                year = int(year)
            except (TypeError, ValueError):
                raise InvalidInput("The year must be a number.", code="invalid_year") from None
            if not 0 < year < 3000:
                raise InvalidInput("The year must be between 1 and 2999.", code="invalid_year")
        _edit_publication(
            marc,
            publisher=None if publisher is _UNSET else _clean_text(publisher, "publisher", 500),
            place=None
            if publication_place is _UNSET
            else _clean_text(publication_place, "place", 500),
            year=year,
        )
    if language is not _UNSET:
        language = (language or "").strip().lower()
        if language and (len(language) != 3 or not language.isalpha() or not language.isascii()):
            raise InvalidInput(
                "The language must be a three-letter MARC code (e.g. nob, eng).",
                code="invalid_language",
            )
        _edit_008(marc, 35, language or "   ")
    if edition is not _UNSET:
        _edit_simple(marc, "250", "a", _clean_text(edition, "edition", 500))
    prepared = _prepare(marc, mapping=merge_map(None))
    prepared.holdings = []
    prepared.match_id = record_id
    _write_batch([prepared], codes=_Codes(merge_map(None)), seen_barcodes=set())
    return BibRecord.objects.get(pk=record_id)


@transaction.atomic
def record_delete(*, actor=None, record_id: int) -> None:
    """Delete a record and its items; refused while an item is on loan, in transit or on hold."""
    record_obj = _lock_record(record_id)
    if record_obj.items.filter(status__in=_IN_CIRCULATION).exists():
        raise Conflict(
            "The record has items on loan, in transit or on the hold shelf.",
            code="record_items_in_circulation",
        )
    branch_codes = sorted(set(record_obj.items.values_list("branch__code", flat=True)))
    hooks.record_deleted(record_obj, branch_codes)
    search.remove_records([record_id])
    record_obj.items.all().delete()
    record_obj.delete()


def _lock_record(record_id: int) -> BibRecord:
    try:
        return BibRecord.objects.select_for_update().get(pk=int(record_id))
    except (BibRecord.DoesNotExist, TypeError, ValueError):
        raise NotFound(f"No record with id {record_id}.", code="record_not_found") from None


def _clean_text(value, name: str, limit: int) -> str:
    text = " ".join(str(value or "").split())
    if len(text) > limit:
        raise InvalidInput(f"The {name} is too long (at most {limit} characters).", code="too_long")
    return text


def _edit_245(marc: Record, *, title, subtitle, responsibility) -> None:
    fields = marc.get_fields("245")
    if not fields:
        f = Field(tag="245", indicators=Indicators("0", "0"), subfields=[])
        marc.add_ordered_field(f)
    else:
        f = fields[0]
    old = {code: [sf.value for sf in f.subfields if sf.code == code] for code in "abcnp"}
    a = title if title is not None else " ".join(old["a"])
    n_p = [] if title is not None else [sf for sf in f.subfields if sf.code in "np"]
    b = subtitle if subtitle is not None else " ".join(old["b"])
    c = responsibility if responsibility is not None else " ".join(old["c"])
    a, b, c = (_strip_isbd(x) for x in (a, b, c))
    others = [sf for sf in f.subfields if sf.code not in "abcnp"]
    new: list[Subfield] = []
    tail_after_a = " :" if b else (" /" if c else ".")
    if n_p:
        new.append(Subfield("a", a + "."))
        for i, sf in enumerate(n_p):
            last = i == len(n_p) - 1
            new.append(Subfield(sf.code, _strip_isbd(sf.value) + (tail_after_a if last else ",")))
    else:
        new.append(Subfield("a", a + tail_after_a))
    if b:
        new.append(Subfield("b", b + (" /" if c else ".")))
    if c:
        new.append(Subfield("c", c + ("" if c.endswith(".") else ".")))
    # keep $h (medium) after $a and any other subfields at the end
    h = [sf for sf in others if sf.code == "h"]
    rest = [sf for sf in others if sf.code != "h"]
    f.subfields = new[:1] + h + new[1:] + rest
    if title is not None and f.indicator2 and f.indicator2.isdigit():
        # the old count of non-filing characters may not fit the new title
        f.indicator2 = "0"


def _strip_isbd(text: str) -> str:
    return text.strip().rstrip(" /:;=,").rstrip(".").strip() if text else ""


def _edit_publication(marc: Record, *, publisher, place, year) -> None:
    f = None
    for candidate in marc.get_fields("264"):
        if candidate.indicator2 == "1":
            f = candidate
            break
    if f is None:
        found = marc.get_fields("260")
        f = found[0] if found else None
    if f is None:
        f = Field(tag="264", indicators=Indicators(" ", "1"), subfields=[])
        marc.add_ordered_field(f)
    cur = {code: " ".join(sf.value for sf in f.subfields if sf.code == code) for code in "abc"}
    a = place if place is not None else _strip_isbd(cur["a"])
    b = publisher if publisher is not None else _strip_isbd(cur["b"])
    if year is not _UNSET:
        c = "" if year is None else str(year)
    else:
        c = _strip_isbd(cur["c"])
    new = []
    if a:
        new.append(Subfield("a", a + (" :" if b else ("," if c else ""))))
    if b:
        new.append(Subfield("b", b + ("," if c else "")))
    if c:
        new.append(Subfield("c", c + "."))
    f.subfields = new + [sf for sf in f.subfields if sf.code not in "abc"]
    if year is not _UNSET:
        _edit_008(marc, 7, f"{year:04d}" if year else "    ")


def _edit_008(marc: Record, start: int, text: str) -> None:
    found = marc.get_fields("008")
    if found:
        f = found[0]
        data = f.data.ljust(40)
    else:
        data = " " * 40
        f = Field(tag="008", data=data)
        marc.add_ordered_field(f)
    f.data = data[:start] + text + data[start + len(text) :]


def _edit_simple(marc: Record, tag: str, code: str, value: str) -> None:
    found = marc.get_fields(tag)
    if found:
        f = found[0]
        others = [sf for sf in f.subfields if sf.code != code]
        f.subfields = ([Subfield(code, value)] if value else []) + others
        if not f.subfields:
            marc.remove_field(f)
    elif value:
        marc.add_ordered_field(
            Field(tag=tag, indicators=Indicators(" ", " "), subfields=[Subfield(code, value)])
        )


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


@transaction.atomic
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


@transaction.atomic
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


@transaction.atomic
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


def _create_coded(model, *, code: str, name: str, what: str, **extra):
    code = str(code or "").strip()
    if not code or len(code) > 32 or any(c.isspace() for c in code):
        raise InvalidInput(
            f"A {what} code is 1 to 32 characters without spaces.", code="invalid_code"
        )
    name = _clean_text(name, "name", 200) or code
    if model.objects.filter(code=code).exists():
        raise Conflict(
            f"The {what} code {code!r} is already in use.",
            code=f"duplicate_{what.replace(' ', '_')}",
        )
    try:
        with transaction.atomic():
            return model.objects.create(code=code, name=name, **extra)
    except IntegrityError:
        raise Conflict(
            f"The {what} code {code!r} is already in use.",
            code=f"duplicate_{what.replace(' ', '_')}",
        ) from None


@transaction.atomic
def branch_create(*, actor=None, code: str, name: str) -> Branch:
    return _create_coded(Branch, code=code, name=name, what="branch")


@transaction.atomic
def item_type_create(*, actor=None, code: str, name: str, circulates: bool = True) -> ItemType:
    return _create_coded(
        ItemType, code=code, name=name, what="item type", circulates=bool(circulates)
    )


@transaction.atomic
def location_create(*, actor=None, code: str, name: str) -> ShelvingLocation:
    return _create_coded(ShelvingLocation, code=code, name=name, what="location")


# --- the importer ------------------------------------------------------------------------

Source = str | os.PathLike | BinaryIO | tuple[str, BinaryIO] | tuple[str, bytes]


def load_holdings_map(path: str | os.PathLike) -> dict:
    """A holdings map from a JSON file (merged over the default); ValueError when unusable."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise ValueError(f"cannot read the holdings map {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"the holdings map {path} is not valid JSON: {exc.msg} (line {exc.lineno})"
        ) from None
    validate_map(data)
    return data


def _open_source(source: Source) -> tuple[str, BinaryIO, bool]:
    """(name, binary stream, close it?) for a path, a file object, or (name, file/bytes)."""
    if isinstance(source, tuple):
        name, obj = source
        if isinstance(obj, bytes | bytearray):
            return str(name), io.BytesIO(obj), True
        return str(name), obj, False
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        return str(path), open(path, "rb"), True  # noqa: SIM115
    name = getattr(source, "name", None) or "upload"
    return str(name), source, False


def import_marc(
    *,
    actor=None,
    sources: Iterable[Source],
    dry_run: bool = False,
    match_on: list[str] | None = None,
    holdings_map: dict | None = None,
    progress: Callable[[int], Any] | None = None,
    format: str = "auto",  # noqa: A002
    batch_size: int = BATCH_SIZE,
) -> ImportSummary:
    """Import MARC records from files: create or update, items from holdings, never abort.

    ``sources``: paths, binary file objects, or (name, file object or bytes).
    ``match_on``: identifier schemes tried in order (001+003, 035, isbn, issn).
    ``progress``: called with the number of records just processed.
    A source that cannot be opened or is not MARC is reported as an error
    (position 0) and the others still go through. Not wrapped in one
    transaction: each batch of ``batch_size`` records commits on its own.
    """
    match_on = list(settings.QUIETSHELF_IMPORT_MATCH if match_on is None else match_on)
    bad = [m for m in match_on if m not in MATCH_SCHEMES]
    if bad:
        raise InvalidInput(
            f"Unknown match scheme {bad[0]!r} (use {', '.join(MATCH_SCHEMES)}).",
            code="invalid_match",
        )
    mapping = merge_map(holdings_map)
    try:
        validate_map(mapping)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="invalid_holdings_map") from None
    summary = ImportSummary(dry_run=dry_run)
    state = _ImportState(summary=summary, codes=_Codes(mapping), dry_run=dry_run, progress=progress)

    for source in sources:
        try:
            name, stream, close = _open_source(source)
        except OSError as exc:
            summary.errors.append(
                ImportProblem(str(source), 0, f"cannot open: {exc.strerror or exc}")
            )
            continue
        try:
            batch: list[_Prepared] = []
            keys: set[tuple[str, str]] = set()
            first_readable = True
            for res in read_marc(stream, format=format):
                summary.records_read += 1
                for w in res.warnings:
                    summary.warnings.append(ImportProblem(name, res.position, w, res.offset))
                if res.error:
                    summary.errors.append(ImportProblem(name, res.position, res.error, res.offset))
                    summary.skipped += 1
                    state.tick()
                    continue
                if first_readable:
                    first_readable = False
                    if looks_unimarc(res.record):
                        # A UNIMARC file: one line for the file, not one per record.
                        summary.errors.append(
                            ImportProblem(name, 0, f"{UNIMARC_REASON}; the file is skipped")
                        )
                        summary.skipped += 1
                        break
                try:
                    prepared = _prepare(
                        res.record,
                        marc_json=res.marc_json,
                        mapping=mapping,
                        source=name,
                        position=res.position,
                        offset=res.offset,
                        warnings=res.warnings,
                    )
                except InvalidInput as exc:
                    summary.errors.append(
                        ImportProblem(name, res.position, exc.message, res.offset)
                    )
                    summary.skipped += 1
                    state.tick()
                    continue
                except Exception as exc:  # noqa: BLE001  (one odd record must not stop the batch)
                    summary.errors.append(
                        ImportProblem(
                            name,
                            res.position,
                            f"cannot extract: {type(exc).__name__}: {exc}"[:300],
                            res.offset,
                        )
                    )
                    summary.skipped += 1
                    state.tick()
                    continue
                own = set(prepared.identifiers)
                if own & keys:
                    # The same record twice in a batch: write the first, then match the second.
                    state.flush(batch, match_on)
                    batch, keys = [], set()
                batch.append(prepared)
                keys |= own
                if len(batch) >= batch_size:
                    state.flush(batch, match_on)
                    batch, keys = [], set()
            state.flush(batch, match_on)
        except NotMarc as exc:
            summary.errors.append(ImportProblem(name, 0, str(exc)))
        except OSError as exc:
            summary.errors.append(ImportProblem(name, 0, f"cannot read: {exc.strerror or exc}"))
        finally:
            if close:
                stream.close()
    return summary


@dataclass
class _ImportState:
    summary: ImportSummary
    codes: _Codes
    dry_run: bool
    progress: Callable[[int], Any] | None
    seen_barcodes: set[str] = field(default_factory=set)
    _pending_ticks: int = 0

    def tick(self, n: int = 1) -> None:
        self._pending_ticks += n
        if self.progress and self._pending_ticks >= 100:
            self.progress(self._pending_ticks)
            self._pending_ticks = 0

    def flush(self, batch: list[_Prepared], match_on: list[str]) -> None:
        if not batch:
            return
        try:
            self._run(batch, match_on)
        except (DatabaseError, NotFound, Conflict):
            # Something in the batch upset the database: one transaction per record.
            self.codes.reset()
            for p in batch:
                try:
                    self._run([p], match_on)
                except (DatabaseError, NotFound, Conflict) as exc:
                    self.codes.reset()
                    self.summary.errors.append(
                        ImportProblem(
                            p.source, p.position, f"not stored: {_db_reason(exc)}", p.offset
                        )
                    )
                    self.summary.skipped += 1
        self.tick(len(batch))
        if self.progress and self._pending_ticks:
            self.progress(self._pending_ticks)
            self._pending_ticks = 0

    def _run(self, batch: list[_Prepared], match_on: list[str]) -> None:
        for p in batch:
            p.match_id = None
        with transaction.atomic():
            _find_matches(batch, match_on)
            # seen_barcodes is only read here; it grows once the batch has committed.
            res = _write_batch(batch, codes=self.codes, seen_barcodes=self.seen_barcodes)
            if self.dry_run:
                transaction.set_rollback(True)
        if self.dry_run:
            self.codes.reset()
        if self.dry_run:
            # A real run finds earlier batches' barcodes in the database; a dry run
            # rolled them back, so it remembers them (memory grows with items only here).
            self.seen_barcodes |= res.barcodes
        s = self.summary
        s.created += len(res.created)
        s.updated += len(res.updated)
        s.items += res.items
        if not self.dry_run:
            s.record_ids.extend(res.created + res.updated)
            if len(s.record_ids) > 100_000:
                s.record_ids = s.record_ids[-100_000:]
        for p, reason in res.item_errors:
            s.errors.append(ImportProblem(p.source, p.position, reason, p.offset))
        seen: set[tuple[int, str]] = set()
        for p, code, branch in res.unknown_branches:
            if (id(p), code) in seen:  # one line per record and code
                continue
            seen.add((id(p), code))
            reason = (
                f"unknown branch code {code!r}: its items went to branch {branch} "
                "(say where it belongs with branch_map in --holdings-map)"
            )
            s.warnings.append(ImportProblem(p.source, p.position, reason, p.offset))


def _db_reason(exc: Exception) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return " ".join(text.split())[:200]


__all__ = [
    "ImportProblem",
    "ImportSummary",
    "branch_create",
    "decode_iso2709",
    "import_marc",
    "item_create",
    "item_delete",
    "item_type_create",
    "item_update",
    "load_holdings_map",
    "location_create",
    "parse_marc_input",
    "record_create_from_marc",
    "record_delete",
    "record_update_core_fields",
    "record_update_from_marc",
]
