"""Pure rules for notices: plain values in and out, `today` passed in, no ORM."""

from __future__ import annotations

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

_SPACE = re.compile(r"\s+")
_PHONE = re.compile(r"^\+?[0-9]{5,15}$")


def overdue_level(*, due: dt.date, today: dt.date, days: tuple[int, ...]) -> int:
    """0 (not yet), or 1..3: the highest notice whose interval has passed since `due`."""
    late = (today - due).days
    level = 0
    for i, threshold in enumerate(days, start=1):
        if late >= threshold:
            level = i
    return level


def backoff_seconds(*, attempts: int, base: int, cap: int) -> int:
    """Exponential back-off after `attempts` failed tries: base, 2 base, 4 base … up to cap."""
    if attempts < 1:
        return 0
    return min(cap, base * 2 ** min(attempts - 1, 30))


def one_line(text: str, *, limit: int = 200) -> str:
    """A header value: CR, LF and other whitespace runs become one space (no header injection)."""
    return _SPACE.sub(" ", text or "").strip()[:limit]


def usable_email(value) -> bool:
    """An address we may put in a To header: one line, valid, no display name."""
    if not isinstance(value, str) or not value or value != value.strip():
        return False
    if any(ch in value for ch in '\r\n\t\0,;<>"') or len(value) > 254:
        return False
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def usable_phone(value) -> str | None:
    """The number in E.164-like form (digits, optional +), or None."""
    if not isinstance(value, str) or any(ch in value for ch in "\r\n\0"):
        return None
    digits = "".join(ch for ch in value if ch.isdigit() or ch == "+")
    return digits if _PHONE.match(digits) else None


def channel_order(preferred: str, *, sms_available: bool) -> list[str]:
    """The channels to try, preferred first (letters go by e-mail, else text message)."""
    if preferred == "none":
        return []
    order = ["sms", "email"] if preferred == "sms" else ["email", "sms"]
    return [c for c in order if c != "sms" or sms_available]


def notice_language(preferred: str, default: str) -> str:
    for lang in (preferred, default):
        if lang in ("en", "nb"):
            return lang
    return "en"


def due_soon_key(patron_id, due: dt.date) -> str:
    return f"due_soon:{patron_id}:{due.isoformat()}"


def overdue_key(patron_id, due: dt.date, level: int) -> str:
    return f"overdue:{level}:{patron_id}:{due.isoformat()}"


def hold_ready_key(hold_id) -> str:
    return f"hold_ready:{hold_id}"


def expiring_card_key(patron_id, expiry: dt.date) -> str:
    return f"expiring_card:{patron_id}:{expiry.isoformat()}"


def fee_key(patron_id, latest_fee_day: dt.date) -> str:
    return f"fee:{patron_id}:{latest_fee_day.isoformat()}"
