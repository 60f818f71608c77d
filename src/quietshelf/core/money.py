"""Money on pages: the currency's major unit, read and written in the reader's locale.

The ledger keeps integer minor units (DESIGN rule 6); people think in kroner, not
øre. `parse_major` turns what a person types ("70", "70,00", "70.5", "1 200,50")
into minor units and refuses anything ambiguous ("7O", "70,5,0", "1,000" — no
thousands separators other than spaces, so "1,000" never means a thousand in one
language and one krone in another). `format_money` writes an amount with the
active language's decimal separator.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django.utils.formats import number_format
from django.utils.translation import gettext_noop

from quietshelf.core.errors import InvalidInput

# ISO 4217 currencies whose minor unit is not a hundredth (the rest have two digits)
_MINOR_DIGITS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0,
    "XPF": 0, "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip

MAX_MINOR = 10**12
_SPACES = re.compile(r"[\s\u00a0\u202f]")


def minor_digits(currency: str) -> int:
    return _MINOR_DIGITS.get((currency or "").upper(), 2)


def parse_major(text, currency: str) -> int:
    """A positive amount typed in the major unit -> minor units; InvalidInput otherwise."""
    digits = minor_digits(currency)
    value = _SPACES.sub("", str(text or ""))
    if digits:
        pattern = rf"^([0-9]{{1,13}})(?:[.,]([0-9]{{1,{digits}}})?)?$"
    else:
        pattern = r"^([0-9]{1,13})(?:[.,]0*)?$"
    m = re.match(pattern, value)
    if not m:
        if value.startswith("-"):
            raise InvalidInput(
                gettext_noop("The amount must be more than zero."), code="invalid_amount"
            )
        raise InvalidInput(
            gettext_noop("Write the amount like 70 or 70,50."),
            code="invalid_amount",
        )
    whole = int(m.group(1))
    frac = (m.group(2) or "") if digits else ""
    amount = whole * 10**digits + (int(frac.ljust(digits, "0")) if frac else 0)
    if amount <= 0:
        raise InvalidInput(
            gettext_noop("The amount must be more than zero."), code="invalid_amount"
        )
    if amount > MAX_MINOR:
        raise InvalidInput(gettext_noop("The amount is too large."), code="invalid_amount")
    return amount


def major_value(amount_minor: int, currency: str) -> str:
    """The amount for an input field, in the active locale, without grouping ("70,00")."""
    digits = minor_digits(currency)
    return number_format(Decimal(amount_minor).scaleb(-digits), decimal_pos=digits, use_l10n=True)


def format_money(amount_minor: int, currency: str) -> str:
    """'70.00 NOK' in English, '70,00 NOK' in Norwegian."""
    return f"{major_value(amount_minor, currency)} {currency}"


def parse_amount(value, *, label: str = "amount") -> int:
    """A positive whole number of minor units (øre, cents); anything else is a clear error."""
    if isinstance(value, bool):
        raise InvalidInput(
            f"The {label} must be a whole number of minor units.", code="invalid_amount"
        )
    if isinstance(value, int):
        amount = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        amount = int(value.strip())
    else:
        raise InvalidInput(
            f"The {label} must be a whole number of minor units (e.g. 2500 for 25.00), "
            "never a fraction.",
            code="invalid_amount",
        )
    if amount <= 0:
        raise InvalidInput(f"The {label} must be more than zero.", code="invalid_amount")
    if amount > 10**12:
        raise InvalidInput(f"The {label} is too large.", code="invalid_amount")
    return amount


def format_minor(amount: int, currency: str) -> str:
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    return f"{sign}{amount // 100}.{amount % 100:02d} {currency}"
