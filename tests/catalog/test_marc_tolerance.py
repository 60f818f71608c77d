"""MARC that never breaks a peer's reader and never stores garbage silently (CAT-1, SEC-UP-1).

Every test record here is made by the test itself (pymarc or raw bytes):
MARCXML validity with counted repairs, character-set detection, and
tolerance at least equal to yaz-marcdump's.
"""

from __future__ import annotations

import codecs
import gzip
import io
import random
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from lxml import etree
from pymarc import Field, Indicators, Subfield

from quietshelf.catalog import services
from quietshelf.catalog.export import export_records
from quietshelf.catalog.marc import read_marc
from quietshelf.catalog.marc.records import MARCXML_NS, record_to_marcxml
from quietshelf.catalog.models import BibRecord, Item
from tests.catalog.marcbuild import bib_fields, iso, make_record, raw_record
from tests.conftest import SHARED_DATA, shared_data_missing

XSD = SHARED_DATA / "xsd" / "MARC21slim.xsd"


@pytest.fixture(scope="module")
def marc_schema():
    if not XSD.is_file():
        shared_data_missing("xsd/MARC21slim.xsd")
    return etree.XMLSchema(etree.parse(str(XSD)))


def _read(data: bytes):
    return list(read_marc(io.BytesIO(data)))


def _broken_records():
    """Records with everything the schema refuses, as an API client or old import may store."""
    bad = make_record("Broken indicators", control="BAD1")
    bad.add_field(Field(tag="500", indicators=Indicators("#", "-"), subfields=[Subfield("a", "x")]))
    bad.add_field(
        Field(tag="246", indicators=Indicators("\x14", " "), subfields=[Subfield("\x14", "ctl")])
    )
    bad.add_field(Field(tag="650", indicators=Indicators(" ", "0"), subfields=[]))
    bad.add_field(Field(tag="0 2", indicators=Indicators(" ", " "), subfields=[Subfield("a", "y")]))
    bad.add_field(Field(tag="700", indicators=Indicators("1", " "), subfields=[Subfield(" ", "z")]))
    bad.add_field(
        Field(tag="520", indicators=Indicators(" ", " "), subfields=[Subfield("a", "v\x0bt\x01")])
    )
    blank_type = make_record("No record type", control="BAD2", leader="00000n  a2200000 i 4500")
    return [bad, blank_type, make_record("A good one", control="GOOD1")]


# --- 1. valid MARCXML always ------------------------------------------------------


@pytest.mark.django_db
def test_marcxml_export_of_a_broken_catalogue_is_valid_and_repairs_counted_cat1(marc_schema):
    ids = [services.record_create_from_marc(marc=r).pk for r in _broken_records()]
    out = io.BytesIO()
    result = export_records(out, format="marcxml")
    doc = etree.fromstring(out.getvalue(), parser=etree.XMLParser(resolve_entities=False))
    assert marc_schema.validate(doc), str(marc_schema.error_log)[:500]
    assert result.written == 3 and result.repaired_records == 2
    repairs = [text for rid, text in result.repairs if rid == ids[0]]
    for expected in (
        "field 500: indicator 1 '#' written as blank",
        "field 500: indicator 2 '-' written as blank",
        "field 246: indicator 1 '\\x14' written as blank",
        "field 246: subfield code '\\x14' written as '?'",
        "field 650 without subfields left out",
        "field with impossible tag '0 2' left out",
        "field 700: subfield code ' ' written as '?'",
        "field 520: 2 character(s) XML cannot hold removed",
    ):
        assert expected in repairs, repairs
    assert [t for rid, t in result.repairs if rid == ids[1]] == [
        "leader/06 ' ' written as 'a' (the schema needs a record type)"
    ]
    # The text of a subfield with a bad code is kept, under '?'.
    ns = {"m": MARCXML_NS}
    assert doc.xpath("//m:datafield[@tag='700']/m:subfield[@code='?']/text()", namespaces=ns) == [
        "z"
    ]
    # ...and the stored record's report says what an export will repair.
    report = BibRecord.objects.get(pk=ids[0]).import_report
    assert "MARCXML export: field with impossible tag '0 2' left out" in report


@pytest.mark.django_db
def test_export_marc_command_reports_each_repair_cat1(tmp_path, capsys):
    for r in _broken_records():
        services.record_create_from_marc(marc=r)
    path = tmp_path / "out.xml"
    call_command("export_marc", "--format", "marcxml", "--output", str(path))
    err = capsys.readouterr().err
    assert "repaired: record " in err and "indicator 1 '#' written as blank" in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("exported 3 records (marcxml), repaired 9 things in 2 records")


@pytest.mark.django_db
def test_marc_api_answers_valid_marcxml_for_a_broken_record_cat1(client, marc_schema):
    record = services.record_create_from_marc(marc=_broken_records()[0])
    response = client.get(f"/api/v1/records/{record.pk}/marc?format=marcxml")
    assert response.status_code == 200
    assert marc_schema.validate(etree.fromstring(response.content)), str(marc_schema.error_log)
    assert int(response["X-MARCXML-Repairs"]) == 8


@pytest.mark.django_db
def test_import_repairs_control_bytes_and_keeps_them_in_the_record_report_cat1(marc_schema):
    data = raw_record(
        [
            *bib_fields(b"Control bytes"),
            (b"246", b"\x14 \x1f\x14Odd code\x1fbfine"),  # 0x14 indicator and code
            (b"500", "Ð".encode() + b" \x1faNon-ASCII indicator"),
            (b"520", b"  \x1faTab\tand bell\x07"),
        ],
        coding=b"a",
    )
    summary = services.import_marc(sources=[("ctl.mrc", data)])
    assert summary.created == 1
    record = BibRecord.objects.get()
    f246 = next(f for f in record.marc_json["fields"] if "246" in f)["246"]
    assert f246["ind1"] == " " and f246["subfields"] == [{"?": "Odd code"}, {"b": "fine"}]
    f520 = next(f for f in record.marc_json["fields"] if "520" in f)["520"]
    assert f520["subfields"] == [{"a": "Tab\tand bell"}]
    report = record.import_report
    assert "field 246: bad subfield code '\\x14' replaced by '?'" in report
    assert "field 500: indicator 1 'Ð' (not ASCII) replaced by blank" in report
    assert "field 520: 1 control character(s) removed (XML cannot hold them)" in report
    assert len(summary.warnings) == len([r for r in report if not r.startswith("MARCXML")])
    assert all(w.position == 1 for w in summary.warnings)
    out = io.BytesIO()
    export_records(out, format="marcxml")
    assert marc_schema.validate(etree.fromstring(out.getvalue()))


# --- 2. character sets -----------------------------------------------------------

CYRILLIC = ("Война и мир", "Толстой, Лев Николаевич", "Москва : Художественная литература")
WESTERN = ("Café à Paris : histoire d'un été", "Dupré, Hélène", "Société des études françaises")
NORDIC = ("Økonomi og språk i Sør-Trøndelag", "Bjørnstad, Åse", "Universitetsforlaget")


@pytest.mark.parametrize(
    ("codec", "texts", "names"),
    [
        ("cp1251", CYRILLIC, {"Windows-1251"}),
        ("iso8859_5", CYRILLIC, {"ISO-8859-5"}),
        ("cp1252", WESTERN, {"Windows-1252", "ISO-8859-1", "ISO-8859-15"}),
        ("latin_1", NORDIC, {"Windows-1252", "ISO-8859-1", "ISO-8859-15"}),
    ],
)
@pytest.mark.parametrize("coding", [b" ", b"a"])
def test_single_byte_sets_are_detected_and_named_never_garbage_cat1(codec, texts, names, coding):
    title, author, publisher = (t.encode(codec) for t in texts)
    data = raw_record(bib_fields(title, author=author, publisher=publisher), coding=coding)
    result = _read(data)[0]
    assert result.ok, result.error
    assert result.record["245"]["a"] == texts[0]
    assert result.record["100"]["a"] == texts[1]
    (warning,) = [w for w in result.warnings if "detected" in w]
    declared = "UTF-8" if coding == b"a" else "MARC-8"
    assert warning.startswith(f"leader/09 says {declared} but the bytes are neither")
    assert warning.split("read as ")[1].removesuffix(" (detected)") in names


def test_bytes_no_character_set_explains_are_refused_with_a_reason_cat1():
    rng = random.Random(18)
    noise = bytes(rng.choice([*range(0x80, 0xA0), 0xDB, 0xDC, 0xDD, 0xFF]) for _ in range(60))
    result = _read(raw_record(bib_fields(noise)))[0]
    assert not result.ok
    assert "no single-byte character set was recognised with confidence" in result.error


def test_real_marc8_files_are_still_read_as_marc8_cat1(marc_dir):
    for name in ("jazz_1k.mrc", "lul_fre_500.mrc"):
        with open(marc_dir / name, "rb") as fh:
            results = list(read_marc(fh))
        assert all(r.ok for r in results)
        assert not [w for r in results for w in r.warnings if "detected" in w]


@pytest.mark.django_db
def test_pymarc_decoding_problems_are_counted_warnings_with_position_cat1():
    # 0x9a is not defined in MARC-8: pymarc writes a space and prints to stderr.
    good = raw_record(bib_fields(b"Fine", control=b"W1"))
    odd = raw_record(bib_fields(b"Caf\xe2e \x9a", control=b"W2"))
    summary = services.import_marc(sources=[("w.mrc", good + odd)], dry_run=True)
    assert [(w.position, w.reason) for w in summary.warnings] == [
        (2, "1 byte(s) not defined in MARC-8 read as spaces")
    ]


@pytest.mark.django_db
def test_cyrillic_import_stores_the_text_and_reports_the_guess_cat1():
    title, author, publisher = (t.encode("cp1251") for t in CYRILLIC)
    data = raw_record(bib_fields(title, author=author, publisher=publisher))
    summary = services.import_marc(sources=[("ru.mrc", data)])
    assert summary.created == 1 and summary.warnings[0].position == 1
    record = BibRecord.objects.get()
    assert record.title == "Война и мир"
    assert any("Windows-1251" in line for line in record.import_report)


# --- 3. tolerance --------------------------------------------------------------------


def test_junk_in_leader_20_23_is_read_with_a_warning_cat1():
    data = bytearray(raw_record(bib_fields(b"Leader junk")))
    data[22] = 0xC3
    result = _read(bytes(data))[0]
    assert result.ok and result.record["245"]["a"] == "Leader junk"
    assert any("20-23" in w for w in result.warnings)
    assert str(result.record.leader)[20:24] == "4500"


@pytest.mark.parametrize("delta", [-1, 1])
def test_record_length_off_by_one_is_read_and_the_next_record_too_cat1(delta):
    first = bytearray(raw_record(bib_fields(b"Off by one", control=b"L1")))
    first[:5] = b"%05d" % (len(first) + delta)
    second = raw_record(bib_fields(b"The next", control=b"L2"))
    results = _read(bytes(first) + second)
    assert [r.ok for r in results] == [True, True]
    assert results[1].record["245"]["a"] == "The next"
    assert "record ends at byte" in results[0].warnings[0]


def test_oversize_record_has_a_true_message_and_the_next_is_read_cat1():
    big = raw_record([*bib_fields(b"Huge", control=b"O1"), (b"500", b"  \x1fa" + b"x" * 9000)])
    # A system that wrote past ISO 2709's limit: 12 more fields its directory does not list.
    body = big[:-1] + (b"  \x1fa" + b"y" * 9000 + b"\x1e") * 12 + b"\x1d"
    body = b"99999" + body[5:]
    results = _read(body + raw_record(bib_fields(b"After", control=b"O2")))
    assert not results[0].ok
    assert "over ISO 2709's 99,999-byte limit" in results[0].error
    assert f"{len(body):,} bytes" in results[0].error
    assert results[1].ok and results[1].record["245"]["a"] == "After"


def _xml_records(n: int) -> list[str]:
    return [
        record_to_marcxml(make_record(f"Xml {i}", control=f"X{i}"), namespace=True)
        for i in range(n)
    ]


def test_marcxml_with_several_records_and_no_root_reads_them_all_cat1():
    doc = '<?xml version="1.0" encoding="UTF-8"?>\n' + "\n".join(_xml_records(7))
    results = _read(doc.encode())
    assert len(results) == 7 and all(r.ok for r in results)


def test_truncated_marcxml_keeps_every_complete_record_cat1():
    records = _xml_records(300)  # several parser feeds long
    doc = f'<collection xmlns="{MARCXML_NS}">' + "".join(records)
    cut = doc.encode()[: -len(records[-1]) // 2]
    results = _read(cut)
    assert [r.ok for r in results] == [True] * 299 + [False]
    assert "not well-formed" in results[-1].error


def test_utf16_marcxml_is_read_cat1():
    doc = '<?xml version="1.0" encoding="UTF-16"?>\n<collection>' + "".join(_xml_records(2))
    doc = doc.replace("Xml 1", "Blåbær 1") + "</collection>"
    for data in (codecs.BOM_UTF16_LE + doc.encode("utf-16-le"), doc.encode("utf-16")):
        results = _read(data)
        assert [r.record["245"]["a"] for r in results] == ["Xml 0 /", "Blåbær 1 /"]


def _unimarc() -> bytes:
    fields = [
        (b"001", b"U1"),
        (b"100", b"  \x1fa20050101d1999    m  y0frey50      ba"),
        (b"200", b"1 \x1faLe titre invent\xc3\xa9\x1ffMarie Exemple"),
        (b"210", b"  \x1faMilano\x1fcEditore finto\x1fd1999"),
    ]
    return raw_record(fields, coding=b"a", leader_tail=b"450 ")


@pytest.mark.django_db
def test_unimarc_is_recognised_and_refused_in_one_line_cat1():
    summary = services.import_marc(sources=[("uni.mrc", _unimarc() * 3)])
    assert summary.created == 0 and len(summary.errors) == 1
    assert summary.errors[0].position == 0 and "UNIMARC" in summary.errors[0].reason
    assert not BibRecord.objects.exists()


def _cli(*args):
    """Run a command in-process: (exit status, stdout, stderr lines)."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stderr
    sys.stderr = err
    try:
        call_command(*args, stdout=out)
        status = 0
    except CommandError as exc:
        status = exc.returncode
        err.write(f"{exc}\n")
    finally:
        sys.stderr = saved
    return status, out.getvalue(), err.getvalue().strip().splitlines()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("random.bin", lambda: random.Random(7).randbytes(20_000), "not a MARC file"),
        ("cat.mrc.gz", lambda: gzip.compress(iso(make_record("Z"))), "gzip-compressed"),
        ("uni.mrc", _unimarc, "UNIMARC"),
    ],
)
def test_bad_files_give_one_line_and_exit_2_cat1(tmp_path, name, make, reason):
    path = tmp_path / name
    path.write_bytes(make())
    status, out, err = _cli("import_marc", str(path))
    assert status == 2 and out == ""
    assert len(err) == 1 and reason in err[0] and name in err[0], err


@pytest.mark.django_db
def test_utf16_marcxml_file_is_imported_by_the_command_cat1(tmp_path):
    doc = "<collection>" + "".join(_xml_records(3)) + "</collection>"
    path = tmp_path / "utf16.xml"
    path.write_bytes(doc.encode("utf-16"))
    status, out, _err = _cli("import_marc", str(path))
    assert status == 0 and out.startswith("imported 3 records")


@pytest.mark.django_db
@pytest.mark.parametrize("ids", ["99999999999999999999", "0", "-5"])
def test_export_ids_out_of_range_one_line_exit_2_cat1(ids):
    status, _out, err = _cli("export_marc", f"--ids={ids}")
    assert status == 2 and len(err) == 1 and "--ids" in err[0], err


# --- 5. deterministic generated barcodes -----------------------------------------------


def _holdings_file(n: int) -> bytes:
    return iso(
        *[
            make_record(f"Item {i}", control=f"H{i}", items=[{"a": "SENTRUM"}, {"a": "HAVN"}])
            for i in range(n)
        ]
    )


def _barcodes() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for record__control_number, barcode in Item.objects.order_by("barcode").values_list(
        "record__control_number", "barcode"
    ):
        out.setdefault(record__control_number, []).append(barcode)
    return out


@pytest.mark.django_db(transaction=True)
def test_generated_barcodes_are_the_same_after_a_killed_and_rerun_import_cat2():
    data = _holdings_file(12)
    services.import_marc(sources=[("h.mrc", data)], batch_size=5)
    clean = _barcodes()
    BibRecord.objects.all().delete()
    # A killed run: the first batch committed, the second one's ids were taken and lost.
    services.import_marc(sources=[("h.mrc", data[: len(data) // 3])], batch_size=5)
    for _ in range(7):
        services.record_create_from_marc(marc=make_record("Lost", control=None)).delete()
    summary = services.import_marc(sources=[("h.mrc", data)], batch_size=5)
    assert summary.errors == []
    assert _barcodes() == clean and len(clean) == 12
    assert Item.objects.count() == 24
