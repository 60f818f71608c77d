"""The MARC reader and extraction, without the database (CAT-1, SEC-UP-1)."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymarc import Field, Indicators, Subfield

from quietshelf.catalog.marc import NotMarc, read_marc
from quietshelf.catalog.marc.extract import extract, normalize_isbn, trim
from quietshelf.catalog.marc.holdings import DEFAULT_HOLDINGS_MAP, holdings_items, parse_price
from quietshelf.catalog.marc.reader import check_marc8_escapes
from quietshelf.catalog.marc.records import (
    RecordTooLong,
    record_from_json,
    record_to_iso2709,
    record_to_json,
)
from tests.catalog.marcbuild import iso, make_record, marc8_record_bytes


def _read(data: bytes, **kw):
    return list(read_marc(io.BytesIO(data), **kw))


def test_reads_every_record_with_position_and_offset_cat1():
    data = iso(make_record("One", control="1"), make_record("Two", control="2"))
    results = _read(data)
    assert [r.position for r in results] == [1, 2]
    assert results[0].offset == 0
    assert results[1].offset == len(iso(make_record("One", control="1")))
    assert all(r.ok for r in results)


def test_truncated_file_reports_the_last_record_and_keeps_the_others_cat1():
    data = iso(make_record("One", control="1"), make_record("Two", control="2"))
    results = _read(data[:-40])
    assert results[0].ok
    assert not results[1].ok and "truncated" in results[1].error


def test_bad_leader_length_is_reported_and_reading_resumes_cat1():
    good = iso(make_record("Good", control="9"))
    bad = b"12x45" + iso(make_record("Bad", control="8"))[5:]
    results = _read(bad + good)
    assert not results[0].ok and "bad leader" in results[0].error
    assert results[1].ok and results[1].record["245"]["a"].startswith("Good")


def test_bad_directory_is_reported_cat1():
    data = bytearray(iso(make_record("Broken directory")))
    data[24 + 3 : 24 + 7] = b"12ab"  # first directory entry's length
    results = _read(bytes(data))
    assert len(results) == 1 and not results[0].ok
    assert "directory" in results[0].error


def test_bad_marc8_escape_is_an_error_cat1():
    assert check_marc8_escapes(b"abc\x1bZdef")
    assert check_marc8_escapes(b"abc\x1b(Bdef") is None
    results = _read(marc8_record_bytes(b"Bad \x1bZescape"))
    assert not results[0].ok and "MARC-8 escape" in results[0].error


def test_marc8_is_decoded_cat1():
    # ANSEL combining acute (0xE2) before the letter: "Caf\xe2e" is "Café".
    results = _read(marc8_record_bytes(b"Caf\xe2e"))
    assert results[0].ok
    assert results[0].record["245"]["a"] == "Café"


def test_leader_that_lies_about_utf8_is_read_as_utf8_cat1():
    data = marc8_record_bytes("Blåbærsyltetøy".encode())  # leader/09 blank, bytes UTF-8
    result = _read(data)[0]
    assert result.ok and result.record["245"]["a"] == "Blåbærsyltetøy"
    assert any("UTF-8" in w for w in result.warnings)


def test_leader_that_lies_about_marc8_is_read_as_marc8_cat1():
    data = bytearray(marc8_record_bytes(b"Caf\xe2e \xe2a \xe2o \xe2i"))
    data[9:10] = b"a"  # claims UTF-8; the bytes are MARC-8
    result = _read(bytes(data))[0]
    assert result.ok and result.record["245"]["a"].startswith("Café á")


def test_record_of_99999_bytes_is_read_cat1():
    rec = make_record("Big")
    size = len(record_to_iso2709(rec))
    need = 99_999 - size
    chunks = []
    while need > 0:
        n = min(need - 5, 9_000)  # each 500 field costs n + 5 bytes and 12 in the directory
        n -= 12
        if n <= 0:
            break
        chunks.append(n)
        need -= n + 5 + 12
    for n in chunks:
        rec.add_field(
            Field(tag="500", indicators=Indicators(" ", " "), subfields=[Subfield("a", "x" * n)])
        )
    data = record_to_iso2709(rec)
    pad = 99_999 - len(data)
    rec.get_fields("500")[-1].subfields[0] = Subfield("a", "x" * (chunks[-1] + pad))
    data = record_to_iso2709(rec)
    assert len(data) == 99_999
    result = _read(data)[0]
    assert result.ok
    rec.add_field(Field(tag="500", indicators=Indicators(" ", " "), subfields=[Subfield("a", "y")]))
    with pytest.raises(RecordTooLong):
        record_to_iso2709(rec)


def test_not_marc_is_refused_sec_up_1():
    with pytest.raises(NotMarc):
        _read(b"Hello, this is a letter and not a catalogue.\n")
    with pytest.raises(NotMarc):
        _read(b"")


XML_BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<collection xmlns="http://www.loc.gov/MARC21/slim"><record><leader>00000nam a2200000 a 4500</leader>
<datafield tag="245" ind1="0" ind2="0"><subfield code="a">&lol3;</subfield></datafield>
</record></collection>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<collection xmlns="http://www.loc.gov/MARC21/slim"><record><leader>00000nam a2200000 a 4500</leader>
<datafield tag="245" ind1="0" ind2="0"><subfield code="a">&xxe;</subfield></datafield>
</record></collection>"""

UNDECLARED_ENTITY = b"""<?xml version="1.0"?>
<collection xmlns="http://www.loc.gov/MARC21/slim"><record><leader>00000nam a2200000 a 4500</leader>
<datafield tag="245" ind1="0" ind2="0"><subfield code="a">&xxe;</subfield></datafield>
</record></collection>"""


@pytest.mark.parametrize("doc", [XML_BOMB, XXE], ids=["entity-bomb", "external-entity"])
def test_marcxml_with_entities_is_refused_sec_up_1(doc):
    with pytest.raises(NotMarc, match="DOCTYPE"):
        _read(doc)


def test_doctype_after_a_long_comment_is_still_refused_sec_up_1():
    doc = XML_BOMB.replace(b"<!DOCTYPE", b"<!--" + b"x" * 100_000 + b"-->\n<!DOCTYPE", 1)
    with pytest.raises(NotMarc, match="DOCTYPE"):
        _read(doc)


def test_marcxml_entity_reference_is_never_expanded_sec_up_1():
    try:
        results = _read(UNDECLARED_ENTITY)
    except NotMarc:
        return
    for r in results:
        assert not r.ok or "root:" not in str(r.record)


def test_marcxml_records_are_read_cat1():
    doc = b"""<?xml version="1.0" encoding="UTF-8"?>
<collection xmlns="http://www.loc.gov/MARC21/slim">
<record><leader>00000nam a2200000 a 4500</leader><controlfield tag="001">X1</controlfield>
<datafield tag="245" ind1="1" ind2="4"><subfield code="a">The &lt;script&gt; and the sea</subfield>
</datafield></record>
<record><controlfield tag="001">X2</controlfield></record>
</collection>"""
    results = _read(doc)
    assert results[0].ok and results[0].record["245"]["a"] == "The <script> and the sea"
    assert not results[1].ok and "leader" in results[1].error


def test_marcxml_broken_halfway_keeps_records_before_cat1():
    doc = b"""<collection xmlns="http://www.loc.gov/MARC21/slim">
<record><leader>00000nam a2200000 a 4500</leader><controlfield tag="001">X1</controlfield></record>
<record><leader>00000nam a2200000 a 4500</leader><controlfield tag="001">X2</controlfield"""
    results = _read(doc)
    assert results[0].ok
    assert not results[-1].ok and "not well-formed" in results[-1].error


def test_extraction_of_columns_cat1():
    rec = make_record(
        "The  lighthouse of Fjordvik",
        isbn="0-306-40615-2 (pbk.)",
        extra=[
            Field(tag="245", indicators=Indicators("1", "4"), subfields=[Subfield("a", "ignored")]),
            Field(tag="041", indicators=Indicators("0", " "), subfields=[Subfield("a", "eng")]),
            Field(tag="250", indicators=Indicators(" ", " "), subfields=[Subfield("a", "2. utg.")]),
            Field(
                tag="264",
                indicators=Indicators(" ", "1"),
                subfields=[
                    Subfield("a", "Bergen :"),
                    Subfield("b", "Quietwater,"),
                    Subfield("c", "[2019]"),
                ],
            ),
            Field(
                tag="650",
                indicators=Indicators(" ", "0"),
                subfields=[
                    Subfield("a", "Lighthouses"),
                    Subfield("z", "Norway"),
                    Subfield("v", "Fiction."),
                ],
            ),
            Field(
                tag="700",
                indicators=Indicators("1", " "),
                subfields=[Subfield("a", "Berg, Ola,"), Subfield("4", "ill")],
            ),
            Field(
                tag="490",
                indicators=Indicators("1", " "),
                subfields=[Subfield("a", "Fyrserien ;"), Subfield("v", "3")],
            ),
            Field(tag="500", indicators=Indicators(" ", " "), subfields=[Subfield("a", "A note.")]),
            Field(
                tag="856",
                indicators=Indicators("4", "0"),
                subfields=[Subfield("u", "https://example.org/x"), Subfield("y", "Cover")],
            ),
            Field(
                tag="856",
                indicators=Indicators("4", "0"),
                subfields=[Subfield("u", "javascript:alert(1)")],
            ),
        ],
    )
    cols = extract(rec).columns
    assert cols["title"] == "The  lighthouse of Fjordvik".replace("  ", " ")
    assert cols["responsibility"] == "Tove Nordvik"
    assert cols["isbns"] == [
        {
            "value": "0-306-40615-2 (pbk.)",
            "normalized": "9780306406157",
            "valid": True,
            "qualifier": "pbk.",
        }
    ]
    assert cols["publisher"] == "Quietwater" and cols["publication_place"] == "Bergen"
    assert cols["year"] == 2020  # 008 wins over 264 $c
    assert cols["language"] == "nob"
    assert cols["edition"] == "2. utg."
    assert cols["subjects"] == ["Lighthouses -- Norway -- Fiction"]
    assert {"name": "Berg, Ola", "role": "illustrator", "tag": "700"} in cols["contributors"]
    assert {"name": "Nordvik, Tove", "role": "author", "tag": "100"} in cols["contributors"]
    assert cols["series"] == ["Fyrserien ; 3"]
    assert cols["notes"] == ["A note."]
    assert cols["links"] == [{"url": "https://example.org/x", "text": "Cover"}]
    assert cols["format"] == "book"
    ids = extract(rec).identifiers
    assert ("isbn", "9780306406157") in ids and ("001+003", "(QSTEST)T0001") in ids


def test_sort_title_skips_nonfiling_characters_cat1():
    rec = make_record("x", control=None)
    rec.remove_fields("245")
    rec.add_field(
        Field(
            tag="245",
            indicators=Indicators("1", "4"),
            subfields=[Subfield("a", "The Ærlig story.")],
        )
    )
    assert extract(rec).columns["sort_title"] == "ærlig story"


def test_invalid_isbn_is_kept_flagged_and_not_an_identifier_cat1():
    value, norm, valid, _q = normalize_isbn("9780306406150")
    assert (value, norm, valid) == ("9780306406150", "", False)
    ex = extract(make_record(isbn="9780306406150"))
    assert ex.columns["isbns"][0]["valid"] is False
    assert not [i for i in ex.identifiers if i[0] == "isbn"]


def test_format_from_leader_cat1():
    assert extract(make_record(leader="00000njm a2200000 a 4500")).columns["format"] == "music"
    assert extract(make_record(leader="00000nas a2200000 a 4500")).columns["format"] == "serial"
    assert extract(make_record(leader="00000ngm a2200000 a 4500")).columns["format"] == "video"
    assert not extract(make_record(leader="00000nz  a2200000 n 4500")).is_bibliographic


def test_trim_isbd_punctuation_cat1():
    assert trim("Sea and sky /") == "Sea and sky"
    assert trim("Oslo :") == "Oslo"
    assert trim("Blue Note,") == "Blue Note"
    assert trim("The end.") == "The end"
    assert trim("Hansen, A.") == "Hansen, A."
    assert trim("2. utg.") == "2. utg."


def test_json_round_trip_is_lossless_cat1():
    rec = make_record("Ørkenens sønner", items=[{"p": "123", "a": "SENTRUM"}])
    back = record_from_json(record_to_json(rec))
    assert [str(f) for f in back.fields] == [str(f) for f in rec.fields]


def test_holdings_from_952_cat2():
    rec = make_record(
        items=[
            {"a": "SENTRUM", "b": "HAVN", "o": "839.82 NOR", "p": "0399000100", "y": "BOOK",
             "c": "CHILD", "g": "249,50", "z": "Signed", "x": "Gift"},
            {"a": "HAVN", "1": "2"},
        ]
    )  # fmt: skip
    items = holdings_items(rec, DEFAULT_HOLDINGS_MAP)
    first, second = items
    assert (first.barcode, first.branch_code, first.item_type_code, first.location_code) == (
        "0399000100", "SENTRUM", "BOOK", "CHILD",
    )  # fmt: skip
    assert first.call_number == "839.82 NOR" and first.price_minor == 24950
    assert first.public_note == "Signed" and first.staff_note == "Gift"
    assert second.barcode == "" and second.status == "lost"


def test_holdings_from_852_and_876_cat2():
    rec = make_record(
        extra=[
            Field(
                tag="852",
                indicators=Indicators("0", " "),
                subfields=[
                    Subfield("a", "NO-0001"),
                    Subfield("b", "FJORD"),
                    Subfield("c", "REF"),
                    Subfield("h", "910"),
                    Subfield("i", "ABC"),
                ],
            ),
            Field(
                tag="876",
                indicators=Indicators(" ", " "),
                subfields=[Subfield("p", "B-1"), Subfield("c", "100")],
            ),
            Field(tag="876", indicators=Indicators(" ", " "), subfields=[Subfield("p", "B-2")]),
        ]
    )
    items = holdings_items(rec, DEFAULT_HOLDINGS_MAP)
    assert [i.barcode for i in items] == ["B-1", "B-2"]
    assert items[0].branch_code == "FJORD" and items[0].call_number == "910 ABC"
    assert items[0].price_minor == 10000


def test_parse_price_cat2():
    assert parse_price("25.00") == 2500
    assert parse_price("NOK 199,-") == 19900
    assert parse_price("free") is None


# Characters XML 1.0 can hold (the reader removes the others, with a warning).
_TEXT = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",),
        blacklist_characters="".join(chr(c) for c in range(0x20) if c not in (9, 10, 13))
        + "\ufffe\uffff",
    ),
    max_size=40,
)
_CODE = st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789")


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.tuples(_CODE, _TEXT), min_size=1, max_size=6),
    control=_TEXT,
    ind=st.tuples(st.sampled_from(" 0123456789"), st.sampled_from(" 0123456789")),
)
def test_iso2709_write_read_round_trip_any_text_cat1(values, control, ind):
    rec = make_record("Round", control=None)
    rec.add_field(Field(tag="005", data=control))
    rec.add_field(
        Field(tag="500", indicators=Indicators(*ind), subfields=[Subfield(c, v) for c, v in values])
    )
    result = _read(record_to_iso2709(rec))[0]
    assert result.ok
    assert record_to_json(result.record)["fields"] == record_to_json(rec)["fields"]
    assert result.marc_json == record_to_json(result.record)


def test_marcxml_inside_oai_pmh_wrappers_cat1():
    doc = b"""<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords>
<record><header><identifier>oai:x:1</identifier></header><metadata>
<marc:record xmlns:marc="http://www.loc.gov/MARC21/slim">
<marc:leader>00000nam a2200000 a 4500</marc:leader>
<marc:datafield tag="245" ind1="0" ind2="0"><marc:subfield code="a">Wrapped</marc:subfield>
</marc:datafield></marc:record></metadata></record></ListRecords></OAI-PMH>"""
    results = _read(doc)
    assert len(results) == 1 and results[0].ok
    assert results[0].record["245"]["a"] == "Wrapped"


def test_nul_characters_are_removed_with_a_warning_cat1():
    data = iso(make_record("Nul\x00 title"))
    result = _read(data)[0]
    assert result.ok and result.record["245"]["a"] == "Nul title /"
    assert any("NUL" in w for w in result.warnings)


def test_notes_are_public_notes_only_cat_1():
    """CAT-1: local 59X and private 541/561/583 (ind1 0) never reach the public notes."""

    def note(tag, ind1, text):
        return Field(tag=tag, indicators=Indicators(ind1, " "), subfields=[Subfield("a", text)])

    rec = make_record(
        extra=[
            note("500", " ", "Includes index."),
            note("590", " ", "1"),
            note("599", " ", "Local shelf code"),
            note("541", "0", "Bought from a private seller"),
            note("541", "1", "Gift of the town council"),
            note("561", "0", "Owned by a private family"),
            note("561", " ", "Ownership unknown"),
            note("583", "0", "Rebound by the bindery"),
            note("583", "1", "Digitised"),
        ]
    )
    assert extract(rec).columns["notes"] == [
        "Includes index.",
        "Gift of the town council",
        "Ownership unknown",
        "Digitised",
    ]
