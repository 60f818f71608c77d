"""MARC21 in and out: streaming readers, field extraction, holdings, writers."""

from quietshelf.catalog.marc.reader import NotMarc, ReadResult, read_marc
from quietshelf.catalog.marc.records import (
    RecordTooLong,
    json_to_marcxml,
    record_from_json,
    record_to_iso2709,
    record_to_json,
    record_to_marcxml,
)

__all__ = [
    "NotMarc",
    "ReadResult",
    "RecordTooLong",
    "json_to_marcxml",
    "read_marc",
    "record_from_json",
    "record_to_iso2709",
    "record_to_json",
    "record_to_marcxml",
]
