"""core.dates: the one reading of a typed date (SEC-ERR-1: a clear error), and years back."""

from __future__ import annotations

import datetime as dt

import pytest

from quietshelf.core.dates import parse_date, years_before
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


def test_years_before_keeps_the_day_and_moves_29_february_to_the_28th():
    """Ages (PRV-MNR-1) and the weeding list's default (three years ago) count whole years
    back; 29 February has no twin in a common year."""
    assert years_before(dt.date(2026, 12, 8), 16) == dt.date(2010, 12, 8)
    assert years_before(dt.date(2028, 2, 29), 3) == dt.date(2025, 2, 28)
    assert years_before(dt.date(2028, 2, 29), 4) == dt.date(2024, 2, 29)
