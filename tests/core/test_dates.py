"""core.dates.parse_date: the one reading of a typed date (SEC-ERR-1: a clear error)."""

from __future__ import annotations

import datetime as dt

import pytest

from quietshelf.core.dates import parse_date
from quietshelf.core.errors import InvalidInput


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("2026-12-07", dt.date(2026, 12, 7)),
        (dt.date(2025, 1, 2), dt.date(2025, 1, 2)),
    ],
)
def test_parse_date_reads_iso_dates_and_nothing_sec_err_1(value, expected):
    assert parse_date(value, "date") == expected


@pytest.mark.parametrize("value", ["07.12.2026", "2026-13-01", "tomorrow"])
def test_parse_date_refuses_other_text_naming_the_field_sec_err_1(value):
    with pytest.raises(InvalidInput) as caught:
        parse_date(value, "date of erasure")
    assert caught.value.code == "invalid_date"
    assert "date of erasure" in str(caught.value.message)
