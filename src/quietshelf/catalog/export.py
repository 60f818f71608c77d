"""Streaming export of stored records as ISO 2709 (UTF-8) or MARCXML."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import BinaryIO

from quietshelf.catalog.marc.records import (
    MARCXML_NS,
    RecordTooLong,
    record_from_json,
    record_to_iso2709,
    record_to_marcxml,
)


@dataclass
class ExportResult:
    written: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (record id, reason)
    # MARCXML: what had to be repaired to keep the file valid (record id, repair)
    repairs: list[tuple[int, str]] = field(default_factory=list)
    repaired_records: int = 0


def export_records(
    stream: BinaryIO,
    *,
    format: str = "iso2709",  # noqa: A002
    ids: Iterable[int] | None = None,
    since=None,
    progress: Callable[[int], object] | None = None,
    chunk_size: int = 500,
) -> ExportResult:
    from quietshelf.catalog.selectors import records_for_export

    if format not in ("iso2709", "marcxml"):
        raise ValueError(f"unknown export format {format!r}")
    result = ExportResult()
    xml = format == "marcxml"
    if xml:
        stream.write(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<collection xmlns="{MARCXML_NS}">\n'.encode()
        )
    pending = 0
    for rid, marc_json in records_for_export(ids=ids, since=since, chunk_size=chunk_size):
        try:
            record = record_from_json(marc_json)
            if xml:
                repairs: list[str] = []
                data = (record_to_marcxml(record, repairs=repairs) + "\n").encode("utf-8")
                if repairs:
                    result.repaired_records += 1
                    result.repairs.extend((rid, text) for text in repairs)
            else:
                data = record_to_iso2709(record)
        except RecordTooLong as exc:
            result.skipped.append((rid, str(exc)))
            continue
        except ValueError as exc:
            result.skipped.append((rid, f"stored MARC is malformed: {exc}"))
            continue
        stream.write(data)
        result.written += 1
        pending += 1
        if progress and pending >= 200:
            progress(pending)
            pending = 0
    if xml:
        stream.write(b"</collection>\n")
    if progress and pending:
        progress(pending)
    return result
