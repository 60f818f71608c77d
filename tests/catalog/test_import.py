"""import_marc against the real test data and the bad-input list (CAT-1, CAT-2, SEC-UP-1)."""

from __future__ import annotations

import io
import json

import pytest
from pymarc import Field, Indicators, Subfield

from quietshelf.catalog import services
from quietshelf.catalog.models import BibRecord, Branch, Item, ItemType, RecordIdentifier
from quietshelf.catalog.sample import sample_marc_bytes
from tests.catalog.marcbuild import iso, make_record, marc8_record_bytes
from tests.conftest import MARC_DIR

pytestmark = pytest.mark.django_db

MARC_SUFFIXES = (".mrc", ".marc", ".xml")


def shared_marc_files() -> list[str]:
    """Every MARC file in the shared test data (edge/ and loc/ too), relative to MARC_DIR."""
    if not MARC_DIR.is_dir():
        return []
    return sorted(
        path.relative_to(MARC_DIR).as_posix()
        for path in MARC_DIR.rglob("*")
        if path.is_file() and path.name.lower().endswith(MARC_SUFFIXES)
    )


MARC_FILES = shared_marc_files()
DEDICATED = {"demo_catalogue_utf8.mrc"}  # big: its own test below checks it in detail

# file -> (records read, created, errors)
EXPECTED = {
    "jazz_1k.mrc": (1000, 1000, 0),
    "lul_fre_500.mrc": (500, 500, 0),
    "nepali.marc": (96, 96, 0),
    "sample_acq_order.mrc": (10, 10, 0),
    "auth-1066.mrc": (1066, 0, 1066),
    "concerto_enhanced_biblio_record_entry.xml": (344, 344, 0),
    "koha_misc4dev_marc21_biblios_with_952.mrc": (436, 436, 0),
    "test_data.utf8.mrc": (30, 30, 0),
}


@pytest.mark.parametrize("name", [n for n in MARC_FILES if n not in DEDICATED])
def test_every_shared_file_goes_through_without_aborting_cat1(marc_dir, name):
    path = marc_dir / name
    summary = services.import_marc(sources=[path], match_on=[])
    assert summary.records_read > 0
    assert summary.created + summary.skipped == summary.records_read
    if name in EXPECTED:
        read, created, errors = EXPECTED[name]
        assert (summary.records_read, summary.created, len(summary.errors)) == (
            read,
            created,
            errors,
        )
    assert BibRecord.objects.count() == summary.created
    if name == "auth-1066.mrc":
        assert all("not bibliographic" in e.reason for e in summary.errors)
        assert summary.errors[1].position == 2 and summary.errors[1].offset > 0


def test_shared_marc_files_are_found_by_globbing_cat1(marc_dir):
    """CAT-1: the file list comes from the folder, so a new shared file is tested too."""
    assert MARC_FILES == shared_marc_files()
    assert set(EXPECTED) | DEDICATED <= set(MARC_FILES)
    assert any(n.startswith("edge/") for n in MARC_FILES)
    assert any(n.startswith("loc/") for n in MARC_FILES)
    assert {n.rsplit(".", 1)[-1] for n in MARC_FILES} == {"mrc", "marc", "xml"}


def test_demo_catalogue_creates_records_and_items_cat1_cat2(marc_dir):
    summary = services.import_marc(sources=[marc_dir / "demo_catalogue_utf8.mrc"])
    assert (summary.created, summary.updated, summary.skipped, summary.errors) == (3063, 0, 0, [])
    # 379 records carry 870 Koha 952 items; 257 carry 270 852 holdings.
    assert summary.items == 870 + 270 == Item.objects.count()
    assert Branch.objects.exists() and ItemType.objects.exists()
    assert RecordIdentifier.objects.filter(scheme="001+003").count() == 3063 - 108
    # Re-import: matched on 001+003 / 035 / ISBN -> updated, nothing duplicated.
    again = services.import_marc(sources=[marc_dir / "demo_catalogue_utf8.mrc"])
    assert again.updated >= 2900
    assert BibRecord.objects.count() == 3063 + again.created


def test_koha_952_fields_become_items_cat2(marc_dir):
    summary = services.import_marc(sources=[marc_dir / "koha_misc4dev_marc21_biblios_with_952.mrc"])
    assert summary.items == Item.objects.count() > 900
    item = Item.objects.select_related("branch", "item_type").exclude(call_number="").first()
    assert item.branch.code and item.item_type.code


def test_reimport_updates_instead_of_creating_cat1():
    first = services.import_marc(sources=[("a.mrc", iso(make_record("Old title", control="R1")))])
    assert first.created == 1
    second = services.import_marc(sources=[("a.mrc", iso(make_record("New title", control="R1")))])
    assert (second.created, second.updated) == (0, 1)
    assert BibRecord.objects.get().title == "New title"


def test_match_on_isbn_only_cat1():
    services.import_marc(sources=[("a", iso(make_record("One", control="A", isbn="0306406152")))])
    summary = services.import_marc(
        sources=[("b", iso(make_record("Two", control="B", isbn="978-0-306-40615-7")))],
        match_on=["isbn"],
    )
    assert summary.updated == 1 and BibRecord.objects.count() == 1


def test_same_record_twice_in_one_file_updates_cat1():
    data = iso(make_record("First", control="D1"), make_record("Second", control="D1"))
    summary = services.import_marc(sources=[("dup.mrc", data)])
    assert (summary.created, summary.updated) == (1, 1)


def test_bad_records_are_skipped_and_the_batch_goes_on_cat1():
    good1 = iso(make_record("Good one", control="G1"))
    bad_leader = b"12x45" + iso(make_record("Bad", control="G2"))[5:]
    bad_escape = marc8_record_bytes(b"Bad \x1bZ escape", control=b"G3")
    good2 = iso(make_record("Good two", control="G4"))
    truncated = iso(make_record("Cut", control="G5"))[:-30]
    data = good1 + bad_leader + bad_escape + good2 + truncated
    summary = services.import_marc(sources=[("mixed.mrc", data)])
    assert summary.created == 2 and summary.skipped == 3
    reasons = [(e.position, e.reason) for e in summary.errors]
    assert reasons[0][0] == 2 and "bad leader" in reasons[0][1]
    assert reasons[1][0] == 3 and "MARC-8 escape" in reasons[1][1]
    assert reasons[2][0] == 5 and "truncated" in reasons[2][1]
    assert summary.errors[1].offset == len(good1) + len(bad_leader)
    assert sorted(BibRecord.objects.values_list("title", flat=True)) == ["Good one", "Good two"]


def test_not_marc_file_is_an_error_not_a_crash_sec_up_1():
    summary = services.import_marc(
        sources=[
            ("letter.txt", b"Dear library,\nplease find attached.\n"),
            ("ok.mrc", sample_marc_bytes()),
        ]
    )
    assert (
        summary.errors[0].source == "letter.txt" and "not a MARC file" in summary.errors[0].reason
    )
    assert summary.created == 25


def test_xml_bomb_and_xxe_store_nothing_sec_up_1():
    from tests.catalog.test_marc_reader import XML_BOMB, XXE

    summary = services.import_marc(sources=[("bomb.xml", XML_BOMB), ("xxe.xml", XXE)])
    assert summary.created == 0 and len(summary.errors) == 2
    assert all("DOCTYPE" in e.reason for e in summary.errors)
    assert not BibRecord.objects.exists()


def test_record_of_99999_bytes_and_longer_marcxml_record_are_taken_cat1():
    rec = make_record("Very long record", control="L1")
    for _ in range(14):
        rec.add_field(
            Field(tag="500", indicators=Indicators(" ", " "), subfields=[Subfield("a", "z" * 8000)])
        )
    from quietshelf.catalog.marc.records import record_to_marcxml

    xml = (
        '<collection xmlns="http://www.loc.gov/MARC21/slim">'
        + record_to_marcxml(rec)
        + "</collection>"
    )
    summary = services.import_marc(sources=[("long.xml", xml.encode())])
    assert summary.created == 1
    assert len(BibRecord.objects.get().notes) == 14


def test_invalid_isbn_is_flagged_and_not_an_identifier_cat1():
    summary = services.import_marc(sources=[("i.mrc", iso(make_record(isbn="9780306406150")))])
    assert summary.created == 1
    record = BibRecord.objects.get()
    assert record.isbns[0] == {
        "value": "9780306406150",
        "normalized": "",
        "valid": False,
        "qualifier": "",
    }
    assert not RecordIdentifier.objects.filter(scheme="isbn").exists()


def test_duplicate_barcode_in_import_is_an_item_error_record_kept_cat2():
    a = make_record("One", control="B1", items=[{"p": "111", "a": "SENTRUM", "y": "BOOK"}])
    b = make_record(
        "Two", control="B2", items=[{"p": "111", "a": "SENTRUM"}, {"p": "222", "a": "HAVN"}]
    )
    summary = services.import_marc(sources=[("dup.mrc", iso(a, b))])
    assert summary.created == 2 and summary.items == 2
    assert len(summary.errors) == 1 and "duplicate barcode '111'" in summary.errors[0].reason
    assert summary.errors[0].position == 2
    assert set(Item.objects.values_list("barcode", flat=True)) == {"111", "222"}


def test_items_without_barcode_get_a_generated_one_and_keep_it_on_reimport_cat2():
    rec = make_record("No barcode", control="NB1", items=[{"a": "SENTRUM"}])
    services.import_marc(sources=[("nb.mrc", iso(rec))])
    item = Item.objects.get()
    # Derived from the record's control number, not its database id (deterministic).
    from quietshelf.catalog.marc.holdings import generated_barcode

    assert item.barcode == generated_barcode("001+003:(QSTEST)NB1", 1)
    assert item.barcode.startswith("QS") and item.barcode.endswith("-1")
    again = services.import_marc(sources=[("nb.mrc", iso(rec))])
    assert again.updated == 1 and again.errors == [] and Item.objects.count() == 1


def test_holdings_map_renames_branches_and_moves_subfields_cat2(tmp_path):
    rec = make_record("Mapped", control="M1", items=[{"a": "SEN", "9": "X-1", "y": "BK"}])
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"952": {"barcode": "9"}, "branch_names": {"SEN": "Sentrum"}}))
    mapping = services.load_holdings_map(path)
    summary = services.import_marc(sources=[("m.mrc", iso(rec))], holdings_map=mapping)
    assert summary.items == 1
    item = Item.objects.select_related("branch").get()
    assert item.barcode == "X-1" and item.branch.name == "Sentrum"


def test_dry_run_stores_nothing_cat1():
    summary = services.import_marc(sources=[("s.mrc", sample_marc_bytes())], dry_run=True)
    assert summary.created == 25 and summary.items > 0 and summary.dry_run
    assert (
        not BibRecord.objects.exists() and not Item.objects.exists() and not Branch.objects.exists()
    )
    assert summary.line().startswith("would import 25 records")


def test_file_objects_and_progress_are_accepted_cat1():
    ticks = []
    summary = services.import_marc(
        sources=[io.BytesIO(sample_marc_bytes())], progress=ticks.append, batch_size=10
    )
    assert summary.created == 25 and sum(ticks) == 25


def test_unknown_match_scheme_is_refused():
    from quietshelf.core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        services.import_marc(sources=[], match_on=["title"])


@pytest.mark.parametrize("dry_run", [False, True])
def test_duplicate_barcode_across_batches_is_reported_cat2(dry_run):
    a = make_record("One", control="X1", items=[{"p": "555", "a": "SENTRUM"}])
    b = make_record("Two", control="X2", items=[{"p": "555", "a": "SENTRUM"}])
    summary = services.import_marc(sources=[("x.mrc", iso(a, b))], batch_size=1, dry_run=dry_run)
    assert summary.created == 2 and summary.items == 1
    assert len(summary.errors) == 1 and "'555'" in summary.errors[0].reason


def _index_snapshot() -> dict[str, list[tuple]]:
    from django.db import connection

    from quietshelf.catalog.search.backends import get_backend

    out = {}
    with connection.cursor() as cur:
        for table, key in get_backend().table_keys():
            cur.execute(f"SELECT {key}, * FROM {table} ORDER BY 1")  # noqa: S608 - fixed names
            out[table] = [tuple(str(v) for v in row) for row in cur.fetchall()]
    return out


def test_import_indexes_new_records_as_a_reindex_would_perf_cat_1(marc_dir):
    """PERF-CAT-1 / CAT-1: the import indexes new records from the values it has just
    written instead of reading them back; every index row (text with its weights and
    positions, facets, branches, availability) must equal what index_records builds
    from the stored records. Files with 880 fields, items (952) and MARCXML."""
    from quietshelf.catalog.search import index_records

    names = ["nepali.marc", "koha_misc4dev_marc21_biblios_with_952.mrc", "test_data.utf8.mrc"]
    names += ["concerto_enhanced_biblio_record_entry.xml"]
    summary = services.import_marc(sources=[marc_dir / n for n in names], match_on=[])
    assert summary.created > 800 and Item.objects.exists()
    assert BibRecord.objects.filter(marc_json__icontains='"880"').exists()
    written = _index_snapshot()
    index_records(list(BibRecord.objects.values_list("pk", flat=True)))
    assert _index_snapshot() == written
    assert len(written["catalog_search"]) == summary.created
