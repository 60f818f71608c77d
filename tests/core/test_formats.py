"""One date format per language (issue 17 item 7): ISO 8601 dates everywhere, numbers
still in each language's own format."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import formats, translation


@pytest.mark.parametrize("lang", ["en", "nb"])
def test_dates_are_iso_in_every_language(lang):
    day = dt.date(2027, 12, 7)
    with translation.override(lang):
        assert formats.date_format(day) == "2027-12-07"
        assert formats.date_format(day, "SHORT_DATE_FORMAT") == "2027-12-07"
        assert Template("{{ d }}").render(Context({"d": day})) == "2027-12-07"


def test_numbers_keep_the_language_decimal_separator():
    with translation.override("nb"):
        assert formats.number_format(Decimal("70.50"), 2, use_l10n=True) == "70,50"
    with translation.override("en"):
        assert formats.number_format(Decimal("70.50"), 2, use_l10n=True) == "70.50"
