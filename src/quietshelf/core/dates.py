"""Dates given as text by a form, the API or a file (YYYY-MM-DD), and date arithmetic
that the calendar makes awkward."""

from __future__ import annotations

import datetime as dt

from quietshelf.core.errors import InvalidInput


def parse_date(value, label: str) -> dt.date | None:
    """A date, or ISO YYYY-MM-DD text; "" or None gives None. Anything else is refused with
    a message naming the field (`label`), code invalid_date."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(
            f"The {label} must be a date (YYYY-MM-DD).", code="invalid_date"
        ) from None


def years_before(day: dt.date, years: int) -> dt.date:
    """The same day `years` earlier; 29 February becomes the 28th in a common year."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)
