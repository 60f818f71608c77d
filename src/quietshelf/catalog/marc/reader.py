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

import logging
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from pymarc import Field, Indicators, Leader, Record, Subfield
from pymarc.exceptions import PymarcException

from quietshelf.catalog.marc.records import is_control_tag

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


def sniff_format(head: bytes) -> str:
    """'marcxml', 'iso2709' or 'unknown' from the first bytes of a source."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<"):
        return "marcxml"
    if len(head) >= 24 and head[:5].isdigit():
        return "iso2709"
    if b"\x1e" in head and (b"\x1f" in head or b"\x1d" in head):
        return "iso2709"  # a damaged first leader, but MARC field separators

    return "unknown"


def read_marc(stream: BinaryIO, *, format: str = "auto") -> Iterator[ReadResult]:  # noqa: A002
    """Yield a ReadResult per record; raise NotMarc when the source is not MARC at all."""
    if format not in {"auto", "iso2709", "marcxml"}:
        raise ValueError(f"unknown format {format!r}")
    head = _peek(stream, 4096)
    if format == "auto":
        format = sniff_format(head)  # noqa: A001
        if format == "unknown":
            if not head:
                raise NotMarc("the file is empty")
            raise NotMarc("not a MARC file (neither ISO 2709 nor MARCXML)")
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
            yield ReadResult(
                position, start, error=f"bad leader: record length {length} is too short"
            )
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
            yield ReadResult(
                position,
                start,
                error="bad leader: the record length does not match the record terminator",
                raw_length=len(chunk),
            )
            continue
        offset += length
        yield decode_iso2709(chunk, position=position, offset=start)


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


def _decode_choice(chunk: bytes, declared_utf8: bool) -> tuple[bool, str | None]:
    """(read as UTF-8?, warning) for a record's bytes."""
    body = chunk[24:]
    if body.isascii():
        return declared_utf8, None
    try:
        body.decode("utf-8")
        valid_utf8 = True
    except UnicodeDecodeError:
        valid_utf8 = False
    if declared_utf8:
        if valid_utf8:
            return True, None
        if b"\x1b" in body or _looks_marc8(body):
            return False, "leader/09 says UTF-8 but the bytes are not UTF-8: read as MARC-8"
        return True, "invalid UTF-8 bytes replaced with U+FFFD"
    if valid_utf8:
        return True, "leader/09 says MARC-8 but the bytes are UTF-8: read as UTF-8"
    return False, None


_UTF8_MULTI = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def _looks_marc8(body: bytes) -> bool:
    """True when few of the high bytes form UTF-8 sequences (so MARC-8 is likelier)."""
    high = sum(1 for b in body if b >= 0x80)
    in_utf8 = sum(len(m.group()) for m in _UTF8_MULTI.finditer(body))
    return in_utf8 < high / 2


def decode_iso2709(chunk: bytes, *, position: int = 1, offset: int | None = 0) -> ReadResult:
    """Decode one ISO 2709 record (its bytes including the terminator)."""
    result = ReadResult(position, offset, raw_length=len(chunk))
    leader = chunk[:24]
    try:
        leader_text = leader.decode("ascii")
    except UnicodeDecodeError:
        result.error = "bad leader: it holds non-ASCII bytes"
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
        if foff + flen > len(data) - 1 + 1 or flen == 0:
            result.error = f"bad directory: entry {i // 12 + 1} points outside the record"
            return result
    declared_utf8 = leader_text[9] == "a"
    use_utf8, warning = _decode_choice(chunk, declared_utf8)
    if not use_utf8:
        problem = check_marc8_escapes(data)
        if problem:
            result.error = problem
            return result
    if warning:
        result.warnings.append(warning)
    has_nul = b"\x00" in data
    if use_utf8 and not has_nul:
        decoded = _decode_utf8(leader_text, directory, data)
        if decoded is not None:
            result.record, result.marc_json = decoded
            return result
    if not use_utf8 and declared_utf8:
        chunk = chunk[:9] + b" " + chunk[10:]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            record = Record(
                data=chunk,
                to_unicode=True,
                force_utf8=use_utf8,
                hide_utf8_warnings=True,
                utf8_handling="replace" if use_utf8 else "strict",
            )
        for w in caught:
            result.warnings.append(_warning_text(w.message))
    except (PymarcException, ValueError, IndexError, UnicodeError) as exc:
        result.error = f"unreadable record: {type(exc).__name__}: {exc}"[:300]
        return result
    if has_nul and strip_nul(record):
        result.warnings.append("NUL characters removed (no database can store them in text)")
    bad_codes = _fix_subfield_codes(record)
    if bad_codes:
        result.warnings.append(f"bad subfield code in field(s) {', '.join(sorted(bad_codes))}")
    result.record = record
    return result


def _decode_utf8(leader_text: str, directory: bytes, data: bytes) -> tuple[Record, dict] | None:
    """A quick decoder for UTF-8 records (the common case); None to let pymarc do it.

    Decodes each field once (not each subfield) and builds pymarc objects
    directly; falls back when a subfield code or an indicator is not ASCII.
    """
    record = Record(to_unicode=True, force_utf8=True)
    record.leader = Leader(leader_text)  # as given (the constructor would rewrite 10-11, 20-23)
    fields = record.fields
    # MARC-in-JSON built on the way (records.record_to_json would build the same).
    json_fields: list[dict] = []
    for i in range(0, len(directory), 12):
        tag = directory[i : i + 3].decode("ascii", "replace")
        flen = int(directory[i + 3 : i + 7])
        foff = int(directory[i + 7 : i + 12])
        raw = data[foff : foff + flen - 1]
        if tag < "010" and tag.isdigit():
            text = raw.decode("utf-8", "replace")
            fields.append(Field(tag=tag, data=text))
            json_fields.append({tag: text})
            continue
        parts = raw.decode("utf-8", "replace").split("\x1f")
        ind = parts[0]
        if not ind.isascii() or len(ind) > 2:
            return None
        subfields = []
        json_subfields = []
        for part in parts[1:]:
            if part:
                code = part[0]
                if not code.isascii() or not code.isprintable():
                    return None
                value = part[1:]
                subfields.append(Subfield(code, value))
                json_subfields.append({code: value})
        ind = ind.ljust(2)
        fields.append(Field(tag=tag, indicators=Indicators(ind[0], ind[1]), subfields=subfields))
        json_fields.append({tag: {"ind1": ind[0], "ind2": ind[1], "subfields": json_subfields}})
    return record, {"leader": leader_text[:9] + "a" + leader_text[10:], "fields": json_fields}


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


def _warning_text(message) -> str:
    name = type(message).__name__
    if name == "BadSubfieldCodeWarning":
        return "bad subfield code (not ASCII) replaced"
    return str(message)[:200]


def _fix_subfield_codes(record: Record) -> set[str]:
    """Subfield codes must be one printable ASCII character; note the fields that were not."""
    bad: set[str] = set()
    for f in record.fields:
        if f.control_field:
            continue
        for sf in f.subfields:
            if len(sf.code) != 1 or not sf.code.isascii() or not sf.code.isprintable():
                bad.add(f.tag)
    return bad


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


def read_marcxml(stream: BinaryIO) -> Iterator[ReadResult]:
    from lxml import etree

    _check_prolog(_peek(stream, PROLOG_LIMIT))
    parser_events = etree.iterparse(
        stream,
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
                result.record = _xml_to_record(elem)
            except ValueError as exc:
                result.error = str(exc)[:300]
            yield result
            elem.clear()
            while elem.getprevious() is not None:
                del elem.getparent()[0]
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


def _xml_to_record(elem) -> Record:
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
            ind1 = (child.get("ind1") or " ")[:1]
            ind2 = (child.get("ind2") or " ")[:1]
            subfields = []
            for sf in child:
                if isinstance(sf.tag, str) and _local(sf.tag) == "subfield":
                    subfields.append(
                        Subfield(code=(sf.get("code") or " ")[:1], value=sf.text or "")
                    )
            if is_control_tag(tag):
                # A control tag written as a datafield: keep its text as data.
                record.add_field(Field(tag=tag, data="".join(s.value for s in subfields)))
            else:
                record.add_field(
                    Field(tag=tag, indicators=Indicators(ind1, ind2), subfields=subfields)
                )
    if leader is None:
        raise ValueError("record without a leader")
    record.leader = leader
    return record
