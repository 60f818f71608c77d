"""One MARC record in, ready to write: parsing input and preparing the columns."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pymarc import Record

from quietshelf.catalog.marc.extract import extract, looks_unimarc
from quietshelf.catalog.marc.holdings import (
    HoldingItem,
    holdings_items,
)
from quietshelf.catalog.marc.reader import NotMarc, read_marc, strip_nul
from quietshelf.catalog.marc.records import marcxml_repairs, record_from_json, record_to_json
from quietshelf.core.errors import InvalidInput

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
