"""Streaming MARC readers that never abort a batch.

``read_marc(stream)`` yields one ``ReadResult`` per record found: either a
pymarc ``Record`` or the reason it could not be read, with its 1-based
position and byte offset. Memory stays flat: ISO 2709 is read one record at a
time from the file handle, MARCXML with lxml's iterparse, clearing each
element once read.

Encodings: ISO 2709 leader/09 says MARC-8 (blank) or UTF-8 ('a'), and real
files lie about it. We try what the leader declares and fall back: a record
declared MARC-8 whose bytes are valid UTF-8 (and not plain ASCII) is read as
UTF-8; a record declared UTF-8 whose bytes are not valid UTF-8 is read as
MARC-8 when it looks like MARC-8, else as UTF-8 with the bad bytes replaced
by U+FFFD. Each fallback is reported as a warning on the record.

XML safety (SEC-UP-1): a document with a DOCTYPE (where entity bombs and
external entities live) is refused before parsing, and the parser itself
runs with entities unresolved, no DTD loading and no network.
"""

from __future__ import annotations

import codecs
import logging
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from pymarc import Field, Indicators, Leader, Record, Subfield, marc8_mapping
from pymarc.marc8 import MARC8ToUnicode

from quietshelf.catalog.marc.records import SUBFIELD_CODES, is_control_tag, strip_xml_illegal

# pymarc logs field contents on odd indicators; we report per record instead.
logging.getLogger("pymarc").setLevel(logging.ERROR)

MAX_RECORD_BYTES = 99_999
RECORD_TERMINATOR = b"\x1d"
FIELD_TERMINATOR = b"\x1e"
SUBFIELD_DELIMITER = b"\x1f"


@dataclass
class ReadResult:
    position: int  # 1-based index of the record in its source
    offset: int | None  # byte offset in the source (ISO 2709), None for XML
    record: Record | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    raw_length: int | None = None
    marc_json: dict | None = None  # MARC-in-JSON of record, when the decoder built it

    @property
    def ok(self) -> bool:
        return self.record is not None


class NotMarc(ValueError):
    """The whole source is not MARC (or is unsafe XML): nothing can be read from it."""


_PACKED = {
    b"\x1f\x8b": "a gzip-compressed file: unpack it first (gunzip)",
    b"PK\x03\x04": "a ZIP archive: unpack it first",
    b"BZh": "a bzip2-compressed file: unpack it first (bunzip2)",
    b"\xfd7zXZ": "an xz-compressed file: unpack it first (unxz)",
    b"%PDF": "a PDF document",
}
_NEXT_LEADER = re.compile(rb"\x1d[\r\n]*\d{5}[^\x1d]{7}\d{5}")


def sniff_format(head: bytes) -> str:
    """'marcxml', 'iso2709' or 'unknown' from the first bytes of a source."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<")):
        return "marcxml"  # UTF-16
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<"):
        return "marcxml"
    if len(head) >= 24 and head[:5].isdigit() and head[12:17].isdigit():
        return "iso2709"
    if _NEXT_LEADER.search(head):
        return "iso2709"  # a damaged first leader, but a real one after the first record
    return "unknown"


def not_marc_reason(head: bytes) -> str:
    """One line saying what a source that is not MARC seems to be."""
    if not head:
        return "the file is empty"
    for magic, what in _PACKED.items():
        if head.startswith(magic):
            return f"not a MARC file: {what}"
    return "not a MARC file (neither ISO 2709 nor MARCXML)"


def read_marc(stream: BinaryIO, *, format: str = "auto") -> Iterator[ReadResult]:  # noqa: A002
    """Yield a ReadResult per record; raise NotMarc when the source is not MARC at all."""
    if format not in {"auto", "iso2709", "marcxml"}:
        raise ValueError(f"unknown format {format!r}")
    head = _peek(stream, 4096)
    if format == "auto":
        format = sniff_format(head)  # noqa: A001
        if format == "unknown":
            raise NotMarc(not_marc_reason(head))
    if format == "marcxml":
        yield from read_marcxml(stream)
    else:
        yield from read_iso2709(stream)


def _peek(stream: BinaryIO, n: int) -> bytes:
    """Up to n bytes from the current position, leaving the position where it was."""
    seekable = getattr(stream, "seekable", None)
    if seekable is None or seekable():
        pos = stream.tell()
        data = stream.read(n)
        stream.seek(pos)
        return data
    return stream.peek(n)[:n] if hasattr(stream, "peek") else b""


# --- ISO 2709 ---------------------------------------------------------------


def read_iso2709(stream: BinaryIO) -> Iterator[ReadResult]:
    position = 0
    offset = 0
    pending = b""
    while True:
        head = pending + stream.read(max(0, 5 - len(pending)))
        pending = b""
        if not head:
            return
        # Tolerate newlines or padding between records.
        stripped = head.lstrip(b"\r\n\x00 \x1a")
        if len(stripped) < len(head):
            offset += len(head) - len(stripped)
            pending = stripped
            if not pending and not _has_more(stream):
                return
            continue
        position += 1
        start = offset
        if len(head) < 5 or not head.isdigit():
            # Not a record length: skip to the next record terminator and go on.
            rest, found = _read_until_terminator(stream)
            offset += len(head) + len(rest)
            if len(head) < 5 and not rest:
                yield ReadResult(
                    position, start, error="truncated file: trailing bytes are not a record"
                )
                return
            reason = "bad leader: the record length is not five digits"
            if not found:
                reason += "; no record terminator before the end of the file"
            yield ReadResult(position, start, error=reason, raw_length=len(head) + len(rest))
            continue
        length = int(head)
        if length < 25:
            rest, _found = _read_until_terminator(stream)
            offset += 5 + len(rest)
            yield _read_despite_length(head + rest, length, position=position, offset=start)
            continue
        body = stream.read(length - 5)
        chunk = head + body
        if len(chunk) < length:
            yield ReadResult(
                position,
                start,
                error=f"truncated record: leader says {length} bytes, file ends after {len(chunk)}",
                raw_length=len(chunk),
            )
            return
        if not chunk.endswith(RECORD_TERMINATOR):
            # The length lies: find the real terminator, report, and resynchronise.
            idx = chunk.find(RECORD_TERMINATOR)
            if idx >= 0:
                pending = chunk[idx + 1 :]
                offset += idx + 1
                chunk = chunk[: idx + 1]
            else:
                rest, _found = _read_until_terminator(stream)
                chunk += rest
                offset += len(chunk)
            yield _read_despite_length(chunk, length, position=position, offset=start)
            continue
        offset += length
        yield decode_iso2709(chunk, position=position, offset=start)


def _read_despite_length(chunk: bytes, length: int, *, position: int, offset: int) -> ReadResult:
    """A record whose leader length is wrong: read it to its terminator when its
    directory holds together (as yaz does), else say truly what is wrong."""
    if not chunk.endswith(RECORD_TERMINATOR):
        return ReadResult(
            position,
            offset,
            error=f"truncated record: no record terminator before the end of the file "
            f"({len(chunk):,} bytes)",
            raw_length=len(chunk),
        )
    if len(chunk) > MAX_RECORD_BYTES:
        return ReadResult(
            position,
            offset,
            error=f"record of {len(chunk):,} bytes, over ISO 2709's 99,999-byte limit: its leader "
            "and directory cannot describe it (export it as MARCXML from the source system)",
            raw_length=len(chunk),
        )
    result = decode_iso2709(chunk, position=position, offset=offset)
    if result.ok:
        result.warnings.insert(
            0,
            f"the leader says {length} bytes but the record ends at byte {len(chunk)}: "
            "read to its record terminator",
        )
    else:
        result.error = (
            f"the leader says {length} bytes but the record terminator is at byte "
            f"{len(chunk)}, and the record cannot be read: {result.error}"
        )
    return result


def _has_more(stream: BinaryIO) -> bool:
    if hasattr(stream, "peek"):
        try:
            return bool(stream.peek(1))
        except (OSError, ValueError):
            return True
    return True


def _read_until_terminator(stream: BinaryIO, *, limit: int = 10 * MAX_RECORD_BYTES):
    buf = bytearray()
    while len(buf) < limit:
        block = stream.read1(8192) if hasattr(stream, "read1") else stream.read(8192)
        if not block:
            return bytes(buf), False
        idx = block.find(RECORD_TERMINATOR)
        if idx >= 0:
            buf += block[: idx + 1]
            extra = block[idx + 1 :]
            if extra:
                _push_back(stream, extra)
            return bytes(buf), True
        buf += block
    return bytes(buf), False


def _push_back(stream: BinaryIO, data: bytes) -> None:
    pos = stream.tell()
    stream.seek(pos - len(data))


_MARC8_FINALS = {
    0x42, 0x45, 0x31, 0x32, 0x33, 0x34, 0x4E, 0x51, 0x53, 0x62, 0x67, 0x70, 0x73,
}  # fmt: skip


def check_marc8_escapes(data: bytes) -> str | None:
    """The first bad MARC-8 escape sequence in ``data``, or None."""
    i = data.find(b"\x1b")
    while i >= 0:
        nxt = data[i + 1 : i + 2]
        if not nxt:
            return f"bad MARC-8 escape: ESC at the end of a field (byte {i})"
        if nxt in (b"g", b"b", b"p", b"s"):
            j = i + 2
        elif nxt in (b"(", b",", b")", b"-", b"$"):
            j = i + 2
            if nxt == b"$" and data[j : j + 1] in (b",", b"(", b")", b"-"):
                j += 1
            final = data[j : j + 1]
            if final == b"!" and data[j + 1 : j + 2] == b"E":
                j += 1
                final = b"E"
            if not final or final[0] not in _MARC8_FINALS:
                return f"bad MARC-8 escape sequence {data[i : j + 1]!r} (byte {i})"
            j += 1
        else:
            return f"bad MARC-8 escape sequence {data[i : i + 2]!r} (byte {i})"
        i = data.find(b"\x1b", j)
    return None


_ANSEL = marc8_mapping.CODESETS[0x45]
_ANSEL_DEFINED = frozenset(k for k in _ANSEL if k >= 0x80)
_ANSEL_COMBINING = frozenset(k for k, (_u, combining) in _ANSEL.items() if combining and k >= 0x80)
_HIGH_BYTES = bytes(range(0x80, 0x100))
_HIGH_RUN = re.compile(rb"[\x80-\xff]+")
_BASE_AFTER_COMBINING = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

# The single-byte sets we look for when a record's bytes fit neither MARC-8 nor
# UTF-8 (the common ones in old European and Cyrillic catalogues).
SINGLE_BYTE_CANDIDATES = ["cp1251", "cp1252", "latin_1", "iso8859_5", "koi8_r", "iso8859_15"]
# charset-normalizer's "mess" ratio (0 = clean text, 1 = noise) above which a
# guess is not trusted, and the least share of non-ASCII bytes it must explain.
GUESS_MAX_CHAOS = 0.1
MIN_GUESS_BYTES = 4
_CODEC_NAMES = {
    "cp1251": "Windows-1251", "cp1252": "Windows-1252", "latin_1": "ISO-8859-1",
    "iso8859_1": "ISO-8859-1", "iso8859_5": "ISO-8859-5", "koi8_r": "KOI8-R",
    "iso8859_15": "ISO-8859-15",
}  # fmt: skip


def marc8_misfits(body: bytes) -> tuple[int, int]:
    """(bytes that cannot be MARC-8, bytes undefined in ANSEL) in a record body without escapes.

    MARC-8 (ANSEL) puts a combining mark *before* its base letter and leaves
    0x80-0xA0, 0xC9-0xDF and a few others undefined. Text in a single-byte
    set read as MARC-8 shows up as undefined bytes, long stacks of combining
    marks, or combining marks before a space or punctuation.
    """
    misfits = undefined = 0
    for m in _HIGH_RUN.finditer(body):
        run = m.group()
        combining = 0
        for byte in run:
            if byte not in _ANSEL_DEFINED:
                undefined += 1
                combining = 0
            elif byte in _ANSEL_COMBINING:
                combining += 1
                if combining > 2:
                    misfits += 1
            else:
                combining = 0
        if combining:
            nxt = body[m.end() : m.end() + 1]
            if not nxt or nxt[0] not in _BASE_AFTER_COMBINING:
                misfits += 1
    return misfits + undefined, undefined


def _misfit(misfits: int, undefined: int, body: bytes) -> bool:
    """Too many misfits for MARC-8? One stray mark is a cataloguing slip (a combining
    grave typed as an apostrophe), not another character set; an undefined byte,
    which no MARC-8 writer emits, weighs double."""
    score = misfits + undefined
    high = _high_count(body)
    if score < 2 or high < MIN_GUESS_BYTES:  # too little to tell: read as declared
        return False
    return score >= 0.2 * high


def _high_count(body: bytes) -> int:
    return len(body) - len(body.translate(None, _HIGH_BYTES))


def guess_single_byte(body: bytes) -> str | None:
    """A single-byte character set for ``body`` when charset-normalizer is confident, else None.

    Only the text of the fields with non-ASCII bytes is looked at (tags,
    indicators and subfield codes would read as noise), and only when there
    are at least MIN_GUESS_BYTES non-ASCII bytes to judge by.
    """
    from charset_normalizer import from_bytes

    if _high_count(body) < MIN_GUESS_BYTES:
        return None
    values = []
    for fld in body.split(FIELD_TERMINATOR):
        if fld.isascii():
            continue
        parts = fld.split(SUBFIELD_DELIMITER)
        if len(parts) > 1:
            values.extend(p[1:] for p in parts[1:])
        else:
            values.append(fld)
    best = from_bytes(
        b" ".join(values), cp_isolation=SINGLE_BYTE_CANDIDATES, threshold=0.5, explain=False
    ).best()
    if best is None or best.chaos > GUESS_MAX_CHAOS:
        return None
    return best.encoding


def codec_name(codec: str) -> str:
    return _CODEC_NAMES.get(codec, codec)


def _decode_choice(chunk: bytes, declared_utf8: bool) -> tuple[str, str | None]:
    """(codec, warning) for a record's bytes: 'utf-8', 'utf-8-replace', 'marc-8', a
    single-byte codec, or 'refuse' (the warning is then the reason)."""
    body = chunk[24:]
    if body.isascii():
        # Plain ASCII reads the same either way, unless MARC-8 escapes switch sets.
        return ("marc-8" if b"\x1b" in body and not declared_utf8 else "utf-8"), None
    try:
        body.decode("utf-8")
        valid_utf8 = True
    except UnicodeDecodeError:
        valid_utf8 = False
    if valid_utf8:
        if declared_utf8:
            return "utf-8", None
        return "utf-8", "leader/09 says MARC-8 but the bytes are UTF-8: read as UTF-8"
    declared = "UTF-8" if declared_utf8 else "MARC-8"
    if b"\x1b" in body:  # escape sequences: MARC-8 for sure
        if declared_utf8:
            return "marc-8", "leader/09 says UTF-8 but the bytes are not UTF-8: read as MARC-8"
        return "marc-8", None
    misfits, undefined = marc8_misfits(body)
    if not _misfit(misfits, undefined, body):
        if not declared_utf8:
            return "marc-8", None
        if _looks_marc8(body):
            return "marc-8", "leader/09 says UTF-8 but the bytes are not UTF-8: read as MARC-8"
    guess = guess_single_byte(body)
    if guess:
        return guess, (
            f"leader/09 says {declared} but the bytes are neither UTF-8 nor MARC-8: "
            f"read as {codec_name(guess)} (detected)"
        )
    if declared_utf8:
        return "utf-8-replace", "invalid UTF-8 bytes replaced with U+FFFD"
    return "refuse", (
        "the bytes are neither MARC-8 (as leader/09 says) nor UTF-8, and no single-byte "
        "character set was recognised with confidence: record refused"
    )


_UTF8_MULTI = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def _looks_marc8(body: bytes) -> bool:
    """True when few of the high bytes form UTF-8 sequences (so MARC-8 is likelier)."""
    high = sum(1 for b in body if b >= 0x80)
    in_utf8 = sum(len(m.group()) for m in _UTF8_MULTI.finditer(body))
    return in_utf8 < high / 2


_CONTROL_BYTES = re.compile(rb"[\x00-\x1f\x7f]")
_LEADER_FREE = (5, 6, 7, 8, 9, 17, 18, 19)  # positions a reader may blank without harm


def _repair_leader(leader: bytes, warnings_out: list[str]) -> str | None:
    """The leader as text, non-ASCII or control bytes outside the numbers repaired; None
    when the record length or base address is not digits (then it cannot be read)."""
    if leader.isascii() and not _CONTROL_BYTES.search(leader):
        return leader.decode("ascii")
    chars = list(leader.decode("latin-1"))
    bad_tail = False
    for pos, ch in enumerate(chars):
        if ch.isascii() and ch.isprintable():
            continue
        if pos in _LEADER_FREE:
            warnings_out.append(f"leader/{pos:02d} byte 0x{ord(ch):02x} replaced by blank")
            chars[pos] = " "
        elif pos in (10, 11):
            chars[pos] = "2"
            bad_tail = True
        elif pos >= 20:
            bad_tail = True
        else:
            return None
    if bad_tail:
        warnings_out.append("leader/10-11 or 20-23 held junk: written as '22' and '4500'")
        chars[10:12] = ["2", "2"]
        chars[20:24] = list("4500")
    return "".join(chars)


def decode_iso2709(chunk: bytes, *, position: int = 1, offset: int | None = 0) -> ReadResult:
    """Decode one ISO 2709 record (its bytes including the terminator)."""
    result = ReadResult(position, offset, raw_length=len(chunk))
    leader_text = _repair_leader(chunk[:24], result.warnings)
    if leader_text is None:
        result.error = "bad leader: the record length or base address holds non-ASCII bytes"
        return result
    base_text = leader_text[12:17]
    if not base_text.isdigit():
        result.error = "bad leader: the base address of data is not five digits"
        return result
    base = int(base_text)
    if base < 25 or base > len(chunk) - 1 or chunk[base - 1 : base] != FIELD_TERMINATOR:
        result.error = "bad leader or directory: the base address does not end the directory"
        return result
    directory = chunk[24 : base - 1]
    if len(directory) % 12 != 0:
        result.error = "bad directory: its length is not a multiple of 12"
        return result
    data = chunk[base:]
    for i in range(0, len(directory), 12):
        entry = directory[i : i + 12]
        if not entry[3:].isdigit():
            result.error = f"bad directory: entry {i // 12 + 1} ({entry!r}) is not numeric"
            return result
        flen, foff = int(entry[3:7]), int(entry[7:12])
        if foff + flen > len(data) or flen == 0:
            result.error = f"bad directory: entry {i // 12 + 1} points outside the record"
            return result
    declared_utf8 = leader_text[9] == "a"
    codec, warning = _decode_choice(chunk, declared_utf8)
    if codec == "refuse":
        result.error = warning
        return result
    if codec == "marc-8":
        problem = check_marc8_escapes(data)
        if problem:
            result.error = problem
            return result
        _misfits, undefined = marc8_misfits(data) if b"\x1b" not in data else (0, 0)
        if undefined:
            result.warnings.append(f"{undefined} byte(s) not defined in MARC-8 read as spaces")
    if warning:
        result.warnings.append(warning)
    result.record, result.marc_json = _decode_fields(
        leader_text, directory, data, codec, result.warnings
    )
    return result


_MARC8_DROPPED = re.compile(rb"[\x00-\x1a\x1c-\x1f]")


def _marc8(raw: bytes, tag: str = "", removed: dict[str, int] | None = None) -> str:
    # A new converter per subfield: MARC-8 escapes do not carry across subfields.
    # pymarc drops C0 control bytes without a word; count them (escape excepted).
    if removed is not None and _MARC8_DROPPED.search(raw):
        key = tag if b"\x00" not in raw else "NUL"
        removed[key] = removed.get(key, 0) + len(_MARC8_DROPPED.findall(raw))
    return MARC8ToUnicode(quiet=True).translate(raw)


def _decode_fields(
    leader_text: str, directory: bytes, data: bytes, codec: str, notes: list[str]
) -> tuple[Record, dict]:
    """A pymarc Record and its MARC-in-JSON from a checked directory and data.

    Decodes each field once (MARC-8 per subfield, as its escapes need) and
    builds pymarc objects directly. Repairs, each noted: non-ASCII or control
    bytes in indicators become blanks, a missing or extra indicator is padded
    or dropped, empty subfields are dropped, a subfield code that is not
    printable ASCII becomes its ASCII letter (é -> e) or '?', and characters
    XML and PostgreSQL cannot hold (NUL, other C0 controls) are removed.
    """
    record = Record(to_unicode=True, force_utf8=True)
    record.leader = Leader(leader_text)  # as given (the constructor would rewrite 10-11, 20-23)
    fields = record.fields
    json_fields: list[dict] = []
    marc8 = codec == "marc-8"
    errors = "replace" if codec == "utf-8-replace" else "strict"
    text_codec = "utf-8" if codec in ("utf-8", "utf-8-replace", "marc-8") else codec
    removed: dict[str, int] = {}
    for i in range(0, len(directory), 12):
        tag = directory[i : i + 3].decode("ascii", "replace")
        flen = int(directory[i + 3 : i + 7])
        foff = int(directory[i + 7 : i + 12])
        raw = data[foff : foff + flen]
        if raw.endswith(FIELD_TERMINATOR):
            raw = raw[:-1]
        if tag < "010" and tag.isdigit():
            text = _marc8(raw, tag, removed) if marc8 else raw.decode(text_codec, errors)
            text = _clean_text(text, tag, removed)
            fields.append(Field(tag=tag, data=text))
            json_fields.append({tag: text})
            continue
        if marc8:
            bparts = raw.split(SUBFIELD_DELIMITER)
            parts = [bparts[0].decode("latin-1")]
            for bp in bparts[1:]:
                parts.append(bp[:1].decode("latin-1") + _marc8(bp[1:], tag, removed) if bp else "")
        else:
            parts = raw.decode(text_codec, errors).split("\x1f")
        ind = _indicators(parts[0], tag, notes)
        subfields = []
        json_subfields = []
        for part in parts[1:]:
            if not part:
                notes.append(f"field {tag}: empty subfield (no code, no text) removed")
                continue
            code = part[0]
            value = part[1:]
            if code not in SUBFIELD_CODES:
                code = _repair_code(code, tag, notes)
            if not value.isprintable():
                value = _clean_text(value, tag, removed)
            subfields.append(Subfield(code, value))
            json_subfields.append({code: value})
        fields.append(Field(tag=tag, indicators=Indicators(ind[0], ind[1]), subfields=subfields))
        json_fields.append({tag: {"ind1": ind[0], "ind2": ind[1], "subfields": json_subfields}})
    for tag, count in removed.items():
        if tag == "NUL":
            notes.append("NUL characters removed (no database can store them in text)")
        else:
            notes.append(
                f"field {tag}: {count} control character(s) removed (XML cannot hold them)"
            )
    return record, {"leader": leader_text[:9] + "a" + leader_text[10:], "fields": json_fields}


def _clean_text(text: str, tag: str, removed: dict[str, int]) -> str:
    if text.isprintable():
        return text
    cleaned = strip_xml_illegal(text)
    if len(cleaned) != len(text):
        nul = text.count("\x00")
        if nul:
            removed["NUL"] = removed.get("NUL", 0) + nul
        if len(text) - len(cleaned) > nul:
            removed[tag] = removed.get(tag, 0) + len(text) - len(cleaned) - nul
    return cleaned


def _indicators(ind: str, tag: str, notes: list[str]) -> str:
    if len(ind) == 2 and ind.isascii() and ind.isprintable():
        return ind
    if len(ind) != 2:
        notes.append(f"field {tag}: {len(ind)} indicator(s) instead of 2: padded or cut")
        ind = ind[:2].ljust(2)
    out = ""
    for n, ch in enumerate(ind, start=1):
        if not (ch.isascii() and ch.isprintable()):
            notes.append(f"field {tag}: indicator {n} {ch!r} (not ASCII) replaced by blank")
            ch = " "
        out += ch
    return out


def _repair_code(code: str, tag: str, notes: list[str]) -> str:
    ascii_code = unicodedata.normalize("NFKD", code).encode("ascii", "ignore").decode("ascii")
    fixed = ascii_code[:1] if ascii_code[:1] and ascii_code[:1] in SUBFIELD_CODES else "?"
    notes.append(f"field {tag}: bad subfield code {code!r} replaced by {fixed!r}")
    return fixed


def strip_nul(record: Record) -> bool:
    changed = False
    for f in record.fields:
        if f.control_field:
            if f.data and "\x00" in f.data:
                f.data = f.data.replace("\x00", "")
                changed = True
            continue
        for i, sf in enumerate(f.subfields):
            if "\x00" in sf.value or "\x00" in sf.code:
                f.subfields[i] = Subfield(
                    sf.code.replace("\x00", "") or " ", sf.value.replace("\x00", "")
                )
                changed = True
    return changed


# --- MARCXML ----------------------------------------------------------------

_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_PROLOG_NOISE = re.compile(rb"<!--.*?-->|<\?.*?\?>", re.DOTALL)
_ROOT_START = re.compile(rb"<[A-Za-z_]")
PROLOG_LIMIT = 1024 * 1024


def _check_prolog(head: bytes) -> None:
    """Refuse a DOCTYPE (entity bombs, external entities) anywhere before the root element."""
    text = _PROLOG_NOISE.sub(b"", head.replace(b"\x00", b""))
    root = _ROOT_START.search(text)
    prolog = text[: root.start()] if root else text
    if _DOCTYPE.search(prolog):
        raise NotMarc("MARCXML with a DOCTYPE or entity declarations is refused (SEC-UP-1)")
    if root is None and len(head) >= PROLOG_LIMIT:
        raise NotMarc("MARCXML prolog longer than 1 MB before the first element is refused")


_XML_DECL = re.compile(r"\A\s*<\?xml[^>]*\?>")
_XML_ENCODING = re.compile(rb"\A\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._:-]{1,40})[\"']")
WRAPPER = "quietshelf-wrapper"


def xml_encoding(head: bytes) -> str:
    """The encoding of an XML source from its byte-order mark or declaration (UTF-8 else)."""
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if head.startswith(b"<\x00"):
        return "utf-16-le"
    if head.startswith(b"\x00<"):
        return "utf-16-be"
    m = _XML_ENCODING.match(head)
    if not m:
        return "utf-8"
    name = m.group(1).decode("ascii")
    try:
        codecs.lookup(name)
    except LookupError:
        raise NotMarc(f"MARCXML in an unknown character set {name!r}") from None
    return name


class _WrappedXml:
    """The XML source as UTF-8 without its declaration, inside one wrapper element.

    So a file of several <record> elements with no root (as some systems
    write) parses like a collection, and UTF-16 or another declared set is
    read like UTF-8. Bytes the declared set cannot decode raise UnicodeDecodeError.
    """

    def __init__(self, stream: BinaryIO, encoding: str):
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder(encoding)("strict")
        self._out = f"<{WRAPPER}>".encode()
        self._pending = ""
        self._started = False
        self._eof = False
        self._closed = False

    def read(self, n: int = -1) -> bytes:
        if not self._out and self._eof and not self._closed:
            # The closing tag in a read of its own: lxml reports a break in the
            # file only after the records read before it.
            self._closed = True
            return f"</{WRAPPER}>".encode()
        while not self._eof and (n < 0 or len(self._out) < n):
            chunk = self._stream.read(65536)
            final = not chunk
            self._out += self._head(self._decoder.decode(chunk, final=final), final).encode()
            self._eof = final
        if n < 0:
            n = len(self._out)
        # Stop after a record's end tag: records before a break are then never in
        # the same parser feed as the break (lxml would drop them with it).
        end = self._out.find(b"record>", 0, n)
        if end >= 0:
            n = end + len(b"record>")
        data, self._out = self._out[:n], self._out[n:]
        return data

    def _head(self, text: str, final: bool) -> str:
        if self._started:
            return text
        self._pending += text
        if not final and len(self._pending) < 4096 and "?>" not in self._pending:
            return ""
        self._started = True
        head = self._pending.lstrip("\ufeff")
        m = _XML_DECL.match(head)
        return head[m.end() :] if m else head


def read_marcxml(stream: BinaryIO) -> Iterator[ReadResult]:
    from lxml import etree

    raw_head = _peek(stream, PROLOG_LIMIT)
    encoding = xml_encoding(raw_head)
    if encoding.replace("-", "").replace("_", "").lower() not in ("utf8", "utf8sig", "ascii"):
        raw_head = raw_head.decode(encoding, "replace").encode("utf-8")
    _check_prolog(raw_head)
    parser_events = etree.iterparse(
        _WrappedXml(stream, encoding),
        events=("end",),
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        dtd_validation=False,
    )
    position = 0
    seen_root = False
    try:
        for _event, elem in parser_events:
            seen_root = True
            if elem.tag not in _MARC_RECORD_TAGS:
                # not a MARC record (e.g. an OAI-PMH <record> wrapping one): its
                # MARC record inside was taken already; free it too
                if isinstance(elem.tag, str) and _local(elem.tag) == "record":
                    elem.clear()
                continue
            position += 1
            result = ReadResult(position, None)
            try:
                result.record = _xml_to_record(elem, result.warnings)
            except ValueError as exc:
                result.error = str(exc)[:300]
            yield result
            elem.clear()
            while elem.getprevious() is not None:
                del elem.getparent()[0]
    except UnicodeDecodeError as exc:
        reason = f"bytes not valid in {encoding} (the rest of the file is skipped): {exc.reason}"
        if position == 0:
            raise NotMarc(f"MARCXML: {reason}"[:300]) from None
        yield ReadResult(position + 1, None, error=reason[:300])
        return
    except etree.XMLSyntaxError as exc:
        msg = str(exc)
        if "Entity" in msg or "entity" in msg:
            reason = f"XML entity refused: {msg}"
        else:
            reason = f"XML is not well-formed: {msg}"
        if not seen_root and position == 0:
            raise NotMarc(reason[:300]) from None
        yield ReadResult(
            position + 1, None, error=reason[:300] + " (the rest of the file is skipped)"
        )
        return
    if position == 0:
        raise NotMarc("no MARCXML <record> element found")


_MARC_RECORD_TAGS = {"record", "{http://www.loc.gov/MARC21/slim}record"}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _xml_to_record(elem, notes: list[str]) -> Record:
    record = Record(to_unicode=True, force_utf8=True)
    leader = None
    for child in elem:
        if not isinstance(child.tag, str):
            continue
        name = _local(child.tag)
        if name == "leader":
            leader = (child.text or "").ljust(24)[:24]
        elif name == "controlfield":
            tag = (child.get("tag") or "").strip()
            if len(tag) != 3:
                raise ValueError(f"controlfield with a bad tag {tag!r}")
            record.add_field(Field(tag=tag, data=child.text or ""))
        elif name == "datafield":
            tag = (child.get("tag") or "").strip()
            if len(tag) != 3:
                raise ValueError(f"datafield with a bad tag {tag!r}")
            ind = _indicators(
                (child.get("ind1") or " ")[:1] + (child.get("ind2") or " ")[:1], tag, notes
            )
            subfields = []
            for sf in child:
                if isinstance(sf.tag, str) and _local(sf.tag) == "subfield":
                    code = sf.get("code") or ""
                    if len(code) != 1 or code not in SUBFIELD_CODES:
                        code = _repair_code(code, tag, notes)
                    subfields.append(Subfield(code=code, value=sf.text or ""))
            if is_control_tag(tag):
                # A control tag written as a datafield: keep its text as data.
                record.add_field(Field(tag=tag, data="".join(s.value for s in subfields)))
            else:
                record.add_field(
                    Field(tag=tag, indicators=Indicators(ind[0], ind[1]), subfields=subfields)
                )
    if leader is None:
        raise ValueError("record without a leader")
    if not leader.isascii():
        notes.append("leader held non-ASCII characters: replaced by blanks")
        leader = "".join(c if c.isascii() else " " for c in leader)
    record.leader = leader
    return record
