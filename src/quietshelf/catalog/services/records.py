"""Records: create or replace from MARC, edit the core fields, delete."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from pymarc import Field, Indicators, Record, Subfield

from quietshelf.catalog import hooks, search
from quietshelf.catalog.marc.holdings import (
    merge_map,
)
from quietshelf.catalog.marc.records import record_from_json
from quietshelf.catalog.models import (
    BibRecord,
    ItemStatus,
)
from quietshelf.catalog.services.marc_input import _prepare, parse_marc_input
from quietshelf.catalog.services.writer import _Codes, _write_batch
from quietshelf.core.errors import Conflict, InvalidInput, NotFound

_IN_CIRCULATION = {ItemStatus.ON_LOAN, ItemStatus.ON_HOLD_SHELF, ItemStatus.IN_TRANSIT}
# --- records ---------------------------------------------------------------------


@transaction.atomic(durable=True)
def record_create_from_marc(
    *, actor=None, marc: Any, holdings_map: dict | None = None
) -> BibRecord:
    """Create a record (and items from its 952/852 holdings) from one MARC record."""
    mapping = merge_map(holdings_map)
    prepared = _prepare(parse_marc_input(marc), mapping=mapping)
    res = _write_batch([prepared], codes=_Codes(mapping), seen_barcodes=set(), strict_items=True)
    return BibRecord.objects.get(pk=res.created[0])


@transaction.atomic(durable=True)
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


@transaction.atomic(durable=True)
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


@transaction.atomic(durable=True)
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
