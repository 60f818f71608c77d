"""SIP2 framing, parsing and formatting: pure Python, no Django, no I/O.

A message is a two-digit command code, fixed-length fields, then variable
fields (a two-letter id, the value, "|"), optionally followed by the error
detection fields: AY (a sequence digit) and AZ (four hex digits of checksum),
and a carriage return (some terminals send CR LF).

The checksum is computed over the *bytes* in the terminal's character set,
so parsing starts from bytes: `parse(raw, charset="utf-8")`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from quietshelf.sip2.protocol import fields as spec

MAX_MESSAGE_BYTES = 64 * 1024

# Four hex digits by the standard; fewer accepted, as some clients drop leading zeros.
_TRAILER = re.compile(rb"(?:\|?AY([0-9])|)AZ([0-9A-Fa-f]{1,4})$")
_SEQ_ONLY = re.compile(rb"\|?AY([0-9])$")
_FIELD_ID = re.compile(r"^[A-Z][A-Z]$")


class ProtocolError(Exception):
    """A message that cannot be understood. `code` is a short, stable reason."""

    code = "malformed"

    def __init__(self, message: str, *, command: str = ""):
        super().__init__(message)
        self.command = command


class ChecksumError(ProtocolError):
    code = "checksum"


class UnknownCommand(ProtocolError):
    code = "unknown_command"


class TooLong(ProtocolError):
    code = "too_long"


@dataclass
class Message:
    """One parsed request (or response): fixed fields by name, variable fields by id."""

    command: str
    fixed: dict[str, str] = field(default_factory=dict)
    fields: dict[str, list[str]] = field(default_factory=dict)
    sequence: str | None = None  # the AY digit, when the terminal uses error detection
    checksummed: bool = False

    def get(self, field_id: str, default: str = "") -> str:
        values = self.fields.get(field_id)
        return values[0] if values else default

    def all(self, field_id: str) -> list[str]:
        return list(self.fields.get(field_id, ()))

    def has(self, field_id: str) -> bool:
        return field_id in self.fields


def checksum(data: bytes) -> str:
    """SIP2's checksum: the 16-bit two's complement of the byte sum, as four hex digits."""
    return f"{(-sum(data)) & 0xFFFF:04X}"


def strip_terminator(raw: bytes) -> bytes:
    """The message without its CR, CR LF or LF terminator (and no other change)."""
    if raw.endswith(b"\r\n"):
        return raw[:-2]
    if raw.endswith((b"\r", b"\n")):
        return raw[:-1]
    return raw


def parse(raw: bytes, *, charset: str = "utf-8", specs=None) -> Message:
    """Parse one request. Raises ChecksumError, UnknownCommand, TooLong or ProtocolError."""
    specs = spec.REQUESTS if specs is None else specs
    if len(raw) > MAX_MESSAGE_BYTES:
        raise TooLong(f"message longer than {MAX_MESSAGE_BYTES} bytes")
    body = strip_terminator(raw)
    # A terminal may send LF before the next message's start (CR LF split across reads).
    body = body.lstrip(b"\n")
    if len(body) < 2:
        raise ProtocolError("message shorter than a command code")
    command_bytes = body[:2]
    if not command_bytes.isdigit():
        raise UnknownCommand("the message does not start with a two-digit command")
    command = command_bytes.decode("ascii")
    sequence = None
    checksummed = False
    match = _TRAILER.search(body)
    if match:
        # The checksum covers everything up to and including "AZ".
        covered = body[: match.start(2)]
        if int(checksum(covered), 16) != int(match.group(2), 16):
            raise ChecksumError("checksum does not match", command=command)
        checksummed = True
        if match.group(1) is not None:
            sequence = match.group(1).decode("ascii")
        body = body[: match.start()]
    else:
        seq = _SEQ_ONLY.search(body)
        if seq:
            sequence = seq.group(1).decode("ascii")
            body = body[: seq.start()]
    if command not in specs:
        raise UnknownCommand(f"unknown command {command}", command=command)
    if b"\x00" in body or b"\r" in body:
        raise ProtocolError("control characters inside the message", command=command)
    try:
        text = body.decode(charset)
    except (UnicodeDecodeError, LookupError):
        raise ProtocolError(f"not valid {charset}", command=command) from None
    fixed_spec = specs[command].fixed
    width = sum(length for _, length in fixed_spec)
    rest = text[2:]
    if len(rest) < width:
        raise ProtocolError(
            f"{command}: {width} characters of fixed fields expected, {len(rest)} found",
            command=command,
        )
    fixed: dict[str, str] = {}
    pos = 0
    for name, length in fixed_spec:
        fixed[name] = rest[pos : pos + length]
        pos += length
    variable: dict[str, list[str]] = {}
    for part in rest[pos:].split("|"):
        if not part:
            continue
        field_id = part[:2]
        if not _FIELD_ID.match(field_id):
            raise ProtocolError(f"{command}: a variable field without an id", command=command)
        variable.setdefault(field_id, []).append(part[2:])
    return Message(
        command=command,
        fixed=fixed,
        fields=variable,
        sequence=sequence,
        checksummed=checksummed,
    )


def clean_value(value) -> str:
    """A field value that cannot break the framing: no "|", CR, LF or other controls."""
    text = "" if value is None else str(value)
    return "".join(" " if (ch == "|" or ord(ch) < 32 or ord(ch) == 127) else ch for ch in text)


def format_message(
    command: str,
    fixed: list[str] | tuple[str, ...] = (),
    fields: list[tuple[str, object]] | tuple = (),
    *,
    sequence: str | None = None,
    error_detection: bool = False,
    charset: str = "utf-8",
    terminator: bytes = b"\r",
) -> bytes:
    """Build one message as bytes: fixed fields as given, variable fields cleaned.

    With error_detection, AY (when a sequence digit is given) and AZ are added;
    the checksum covers the bytes in `charset`. Characters the charset cannot
    hold become "?" (an old cp850 kiosk still gets a readable screen message).
    """
    text = command + "".join(fixed)
    for field_id, value in fields:
        if value is None:
            continue
        text += f"{field_id}{clean_value(value)}|"
    data = text.encode(charset, errors="replace")
    if error_detection:
        if sequence is not None:
            data += b"AY" + sequence.encode("ascii")
        data += b"AZ"
        data += checksum(data).encode("ascii")
    return data + terminator


def sip_datetime(moment: dt.datetime | None) -> str:
    """SIP2's 18-character date: YYYYMMDD, four spaces (local time), HHMMSS."""
    if moment is None:
        return " " * 18
    return f"{moment:%Y%m%d}    {moment:%H%M%S}"


def parse_sip_datetime(value: str) -> dt.datetime | None:
    """The naive local datetime of an 18-character SIP2 date, or None if blank or bad."""
    value = (value or "").strip()
    if len(value) < 8:
        return None
    try:
        day = dt.datetime.strptime(value[:8], "%Y%m%d")  # noqa: DTZ007 - local by the standard
        if len(value) >= 14:
            t = dt.datetime.strptime(value[-6:], "%H%M%S")  # noqa: DTZ007
            return day.replace(hour=t.hour, minute=t.minute, second=t.second)
        return day
    except ValueError:
        return None


def flag(value: bool) -> str:
    return "Y" if value else "N"


def count4(n: int) -> str:
    """A four-digit count field (9999 at most)."""
    return f"{max(0, min(int(n), 9999)):04d}"


def money(minor: int, decimals: int = 2) -> str:
    """Minor units as the decimal text SIP2 fee amounts use ("12.50")."""
    sign = "-" if minor < 0 else ""
    minor = abs(int(minor))
    if decimals == 0:
        return f"{sign}{minor}"
    scale = 10**decimals
    return f"{sign}{minor // scale}.{minor % scale:0{decimals}d}"
