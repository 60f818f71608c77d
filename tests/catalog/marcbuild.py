"""Small builders for MARC test records (all invented)."""

from __future__ import annotations

from pymarc import Field, Indicators, Record, Subfield

from quietshelf.catalog.marc.records import record_to_iso2709


def make_record(
    title="A made-up title",
    *,
    control="T0001",
    source="QSTEST",
    leader="00000nam a2200000 i 4500",
    isbn=None,
    items=(),
    extra=(),
) -> Record:
    rec = Record(force_utf8=True, to_unicode=True)
    rec.leader = leader
    if control:
        rec.add_field(Field(tag="001", data=control))
    if source:
        rec.add_field(Field(tag="003", data=source))
    rec.add_field(Field(tag="008", data="240101s2020    no            000 1 nob d"))
    if isbn:
        rec.add_field(
            Field(tag="020", indicators=Indicators(" ", " "), subfields=[Subfield("a", isbn)])
        )
    rec.add_field(
        Field(
            tag="100",
            indicators=Indicators("1", " "),
            subfields=[Subfield("a", "Nordvik, Tove,"), Subfield("e", "author.")],
        )
    )
    rec.add_field(
        Field(
            tag="245",
            indicators=Indicators("1", "0"),
            subfields=[Subfield("a", title + " /"), Subfield("c", "Tove Nordvik.")],
        )
    )
    for item in items:
        rec.add_field(
            Field(
                tag="952",
                indicators=Indicators(" ", " "),
                subfields=[Subfield(code, value) for code, value in item.items()],
            )
        )
    for f in extra:
        rec.add_field(f)
    return rec


def iso(*records: Record) -> bytes:
    return b"".join(record_to_iso2709(r) for r in records)


def marc8_record_bytes(text_bytes: bytes, *, control=b"M0001") -> bytes:
    """A hand-built ISO 2709 record in MARC-8 (leader/09 blank) with 245 $a = text_bytes."""
    fields = [
        (b"001", control + b"\x1e"),
        (b"245", b"10\x1fa" + text_bytes + b"\x1e"),
    ]
    directory = b""
    body = b""
    for tag, data in fields:
        directory += tag + b"%04d%05d" % (len(data), len(body))
        body += data
    directory += b"\x1e"
    body += b"\x1d"
    base = 24 + len(directory)
    length = base + len(body)
    leader = b"%05dnam  22%05d   4500" % (length, base)
    return leader + directory + body


def raw_record(
    fields: list[tuple[bytes, bytes]],
    *,
    coding: bytes = b" ",
    leader_tail: bytes = b"4500",
    record_type: bytes = b"a",
) -> bytes:
    """A hand-built ISO 2709 record from (tag, field bytes without terminator) pairs.

    Nothing is checked or encoded: the bytes go in as given, so tests can make
    records in any character set, with bad indicators, codes or leaders.
    """
    directory = b""
    body = b""
    for tag, data in fields:
        data += b"\x1e"
        directory += tag + b"%04d%05d" % (len(data), len(body))
        body += data
    directory += b"\x1e"
    body += b"\x1d"
    base = 24 + len(directory)
    length = base + len(body)
    leader = b"%05dn%sm %s22%05d   %s" % (length, record_type, coding, base, leader_tail)
    return leader + directory + body


def bib_fields(title: bytes, *, author: bytes = b"", publisher: bytes = b"", control=b"R1"):
    """Typical fields of a book record with the given (already encoded) texts."""
    fields = [(b"001", control), (b"003", b"QSTEST")]
    if author:
        fields.append((b"100", b"1 \x1fa" + author))
    fields.append((b"245", b"10\x1fa" + title))
    if publisher:
        fields.append((b"260", b"  \x1fb" + publisher))
    return fields
