"""Second factors: TOTP codes (django_otp.oath.TOTP), recovery codes, QR codes.

No cryptography of our own: TOTP codes are computed and compared by
django-otp's RFC 6238 implementation; the secret comes from `secrets` and is
stored encrypted (StaffTOTPDevice.key); recovery codes are 10 random base-32
characters (50 bits) stored as SHA-256, each usable once; WebAuthn is
py_webauthn (accounts/webauthn.py).
"""

from __future__ import annotations

import base64
import secrets
import time
from urllib.parse import quote, urlencode

import segno
from django.conf import settings
from django_otp.oath import TOTP

RECOVERY_CODE_COUNT = 10
_B32 = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I, O, 0, 1


def new_totp_secret() -> str:
    """A 160-bit secret as hex (RFC 4226 recommends 160 bits)."""
    return secrets.token_hex(20)


def secret_base32(hex_key: str) -> str:
    """The secret as authenticator apps want it typed (base-32, no padding)."""
    return base64.b32encode(bytes.fromhex(hex_key)).decode().rstrip("=")


def totp_uri(hex_key: str, *, account: str) -> str:
    issuer = settings.OTP_TOTP_ISSUER
    label = quote(f"{issuer}:{account}")
    query = urlencode({"secret": secret_base32(hex_key), "issuer": issuer, "digits": 6})
    return f"otpauth://totp/{label}?{query}"


def qr_svg(data: str) -> str:
    """An inline SVG QR code, made on the server (no script, no external service)."""
    return segno.make(data, error="m").svg_inline(scale=5, dark="#000", light="#fff")


def totp_code(hex_key: str, *, at: float | None = None, step: int = 30, digits: int = 6) -> str:
    """The code an authenticator shows at time `at` (used by tests and the demo)."""
    totp = TOTP(bytes.fromhex(hex_key), step=step, digits=digits)
    totp.time = time.time() if at is None else at
    return f"{totp.token():0{digits}d}"


def _as_int(token) -> int | None:
    text = "".join(str(token or "").split())
    if not text.isdigit() or len(text) > 10:
        return None
    return int(text)


def totp_check(device, token) -> bool:
    """True if `token` is valid for the device now; never accepts a time step twice."""
    value = _as_int(token)
    if value is None or len(str(token).strip()) != device.digits:
        return False
    key = device.key
    if not isinstance(key, str) or len(key) % 2:
        return False  # erased or unreadable secret
    totp = TOTP(bytes.fromhex(key), step=device.step, digits=device.digits)
    totp.time = time.time()
    if not totp.verify(value, tolerance=device.tolerance, min_t=device.last_t + 1):
        return False
    device.last_t = totp.t()
    return True


def totp_verify(device, token) -> bool:
    """Check and remember the used time step (replay protection)."""
    if not totp_check(device, token):
        return False
    device.save(update_fields=["last_t"])
    return True


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_B32) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def looks_like_recovery_code(token: str) -> bool:
    text = "".join(ch for ch in str(token or "") if ch.isalnum())
    return len(text) == 10 and not text.isdigit()
