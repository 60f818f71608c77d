"""Money in the currency's major unit on pages (CIR-4): read and written per locale."""

from __future__ import annotations

import pytest
from django.utils import translation

from quietshelf.core import money
from quietshelf.core.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "minor"),
    [
        ("70", 7000),
        ("70,00", 7000),
        ("70.00", 7000),
        ("70,5", 7050),
        (" 1 200,50 ", 120050),
        ("1\u00a0200", 120000),
        ("0,01", 1),
        ("70,", 7000),
    ],
)
def test_parse_major_reads_what_people_type_cir4(text, minor):
    assert money.parse_major(text, "NOK") == minor


@pytest.mark.parametrize(
    "text", ["0", "0,00", "-5", "7O", "70,5,0", "1,000", "70,505", "", "abc", "1e3", "٧٠"]
)
def test_parse_major_refuses_bad_amounts_cir4(text):
    with pytest.raises(InvalidInput) as exc:
        money.parse_major(text, "NOK")
    assert exc.value.code == "invalid_amount"


def test_currencies_without_or_with_three_minor_digits_cir4():
    assert money.parse_major("500", "JPY") == 500
    with pytest.raises(InvalidInput):
        money.parse_major("500,5", "JPY")
    assert money.parse_major("1,250", "KWD") == 1250


def test_format_money_follows_the_language_cir4():
    with translation.override("en"):
        assert money.format_money(7000, "NOK") == "70.00 NOK"
        assert money.format_money(-2050, "NOK") == "-20.50 NOK"
    with translation.override("nb"):
        assert money.format_money(7000, "NOK") == "70,00 NOK"
        assert money.major_value(123456, "NOK") == "1234,56"
