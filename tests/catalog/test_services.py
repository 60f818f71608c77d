"""Catalogue services and selectors (CAT-1, CAT-2)."""

from __future__ import annotations

import pytest

from quietshelf.catalog import selectors, services
from quietshelf.catalog.marc.records import record_to_json, record_to_marcxml
from quietshelf.catalog.models import BibRecord, Branch, Item, ItemType, RecordIdentifier
from quietshelf.core.errors import Conflict, InvalidInput, NotFound
from tests.catalog.marcbuild import iso, make_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def codes():
    services.branch_create(code="SENTRUM", name="Sentrum")
    services.branch_create(code="HAVN", name="Havn")
    services.item_type_create(code="BOOK", name="Book")


def test_create_from_iso2709_marcxml_json_and_record_cat1():
    r1 = services.record_create_from_marc(marc=iso(make_record("Iso", control="C1")))
    xml = record_to_marcxml(make_record("Xml", control="C2"), namespace=True)
    r2 = services.record_create_from_marc(marc=xml)
    r3 = services.record_create_from_marc(marc=record_to_json(make_record("Json", control="C3")))
    r4 = services.record_create_from_marc(marc=make_record("Obj", control="C4"))
    assert [r.title for r in (r1, r2, r3, r4)] == ["Iso", "Xml", "Json", "Obj"]
    assert RecordIdentifier.objects.filter(scheme="001+003", value="(QSTEST)C2").exists()


def test_create_from_marc_with_items_cat2():
    rec = make_record("With items", items=[{"p": "B100", "a": "SENTRUM", "y": "BOOK"}])
    record = services.record_create_from_marc(marc=rec)
    assert [i.barcode for i in selectors.items_for_record(record.pk)] == ["B100"]


def test_create_from_marc_refuses_garbage_and_authority_records():
    with pytest.raises(InvalidInput) as exc:
        services.record_create_from_marc(marc=b"not marc at all")
    assert exc.value.code == "invalid_marc"
    with pytest.raises(InvalidInput) as exc:
        services.record_create_from_marc(marc=make_record(leader="00000nz  a2200000n  4500"))
    assert exc.value.code == "not_bibliographic"
    assert not BibRecord.objects.exists()


def test_update_from_marc_replaces_columns_and_identifiers_cat1():
    record = services.record_create_from_marc(marc=make_record("Before", isbn="0306406152"))
    services.record_update_from_marc(record_id=record.pk, marc=make_record("After", control="Z9"))
    record.refresh_from_db()
    assert record.title == "After" and record.isbns == []
    assert set(record.identifiers.values_list("value", flat=True)) == {"(QSTEST)Z9"}
    with pytest.raises(NotFound):
        services.record_update_from_marc(record_id=99999, marc=make_record())


def test_core_field_edits_are_written_into_the_marc_cat1():
    record = services.record_create_from_marc(marc=make_record("Old title"))
    services.record_update_core_fields(
        record_id=record.pk,
        title="Ny tittel på boka",
        subtitle="en roman",
        responsibility="Tove Nordvik",
        publisher="Fjellbok forlag",
        publication_place="Tromsø",
        year=2021,
        language="nno",
        edition="2. utg.",
    )
    record.refresh_from_db()
    assert (record.title, record.subtitle, record.responsibility) == (
        "Ny tittel på boka", "en roman", "Tove Nordvik",
    )  # fmt: skip
    assert (record.publisher, record.publication_place, record.year) == (
        "Fjellbok forlag",
        "Tromsø",
        2021,
    )
    assert (record.language, record.edition) == ("nno", "2. utg.")
    marc = selectors.record_marc(record)
    assert marc["245"]["a"] == "Ny tittel på boka :" and marc["245"]["b"] == "en roman /"
    assert marc["008"].data[7:11] == "2021" and marc["008"].data[35:38] == "nno"
    assert marc["250"]["a"] == "2. utg."
    # Other fields survive the edit.
    assert marc["100"]["a"] == "Nordvik, Tove,"


def test_core_field_edit_validation():
    record = services.record_create_from_marc(marc=make_record("T"))
    with pytest.raises(InvalidInput):
        services.record_update_core_fields(record_id=record.pk, title="  ")
    with pytest.raises(InvalidInput):
        services.record_update_core_fields(record_id=record.pk, year="soon")
    with pytest.raises(InvalidInput):
        services.record_update_core_fields(record_id=record.pk, language="norsk")
    with pytest.raises(NotFound):
        services.record_update_core_fields(record_id=424242, title="x")


def test_item_create_update_delete_cat2(codes):
    record = services.record_create_from_marc(marc=make_record("Items"))
    item = services.item_create(
        record_id=record.pk, barcode="0399001", branch_code="SENTRUM", item_type_code="BOOK",
        call_number="839.82 NOR", price_minor=24900, public_note="Signed",
    )  # fmt: skip
    assert item.status == "available" and item.price_minor == 24900
    item = services.item_update(item_id=item.pk, branch_code="HAVN", status="missing")
    assert item.branch.code == "HAVN" and item.status == "missing"
    holdings = selectors.items_for_record(record.pk)
    assert len(holdings) == 1 and holdings.by_branch[0].branch_code == "HAVN"
    assert holdings.by_branch[0].available == 0
    services.item_delete(item_id=item.pk)
    assert not Item.objects.exists()


def test_duplicate_barcode_is_a_conflict_cat2(codes):
    record = services.record_create_from_marc(marc=make_record("Dup"))
    services.item_create(
        record_id=record.pk, barcode="X1", branch_code="SENTRUM", item_type_code="BOOK"
    )
    with pytest.raises(Conflict) as exc:
        services.item_create(
            record_id=record.pk, barcode="X1", branch_code="HAVN", item_type_code="BOOK"
        )
    assert exc.value.code == "duplicate_barcode"
    other = services.item_create(
        record_id=record.pk, barcode="X2", branch_code="SENTRUM", item_type_code="BOOK"
    )
    with pytest.raises(Conflict) as exc:
        services.item_update(item_id=other.pk, barcode="X1")
    assert exc.value.code == "duplicate_barcode"


def test_item_input_is_checked_cat2(codes):
    record = services.record_create_from_marc(marc=make_record("Check"))
    base = dict(record_id=record.pk, barcode="Y1", branch_code="SENTRUM", item_type_code="BOOK")
    bads = [
        {"branch_code": "NOWHERE"}, {"item_type_code": "ZZ"}, {"barcode": "with space"},
        {"barcode": ""}, {"price_minor": -5}, {"status": "eaten"}, {"location_code": "NOPE"},
    ]  # fmt: skip
    for bad in bads:
        with pytest.raises(InvalidInput):
            services.item_create(**{**base, **bad})
    with pytest.raises(NotFound):
        services.item_create(**{**base, "record_id": 987654})
    item = services.item_create(**base)
    with pytest.raises(InvalidInput):
        services.item_update(item_id=item.pk, colour="red")


def test_record_delete_removes_items_but_not_while_on_loan_cat2(codes):
    record = services.record_create_from_marc(marc=make_record("Gone"))
    item = services.item_create(
        record_id=record.pk, barcode="D1", branch_code="SENTRUM", item_type_code="BOOK"
    )
    services.item_update(item_id=item.pk, status="on_loan")
    with pytest.raises(Conflict):
        services.record_delete(record_id=record.pk)
    services.item_update(item_id=item.pk, status="available")
    services.record_delete(record_id=record.pk)
    assert not BibRecord.objects.exists() and not Item.objects.exists()
    with pytest.raises(NotFound):
        services.record_delete(record_id=record.pk)


def test_branch_and_item_type_codes_are_unique():
    services.branch_create(code="A", name="A branch")
    with pytest.raises(Conflict):
        services.branch_create(code="A", name="Again")
    services.item_type_create(code="REF", name="Reference", circulates=False)
    assert ItemType.objects.get(code="REF").circulates is False
    with pytest.raises(InvalidInput):
        services.branch_create(code="has space", name="x")
    assert Branch.objects.count() == 1


def test_selectors_record_get_and_list_cat1():
    a = services.record_create_from_marc(marc=make_record("A", control="S1"))
    b = services.record_create_from_marc(marc=make_record("B", control="S2"))
    assert selectors.record_get(a.pk).title == "A"
    assert [r.title for r in selectors.record_list([b.pk, 0, a.pk])] == ["B", "A"]
    with pytest.raises(NotFound):
        selectors.record_get(0)
    assert selectors.record_marc(a)["245"]["a"] == "A /"


def test_items_for_record_is_one_query(codes, django_assert_num_queries):
    record = services.record_create_from_marc(
        marc=make_record("Q", items=[{"p": f"Q{i}", "a": "SENTRUM"} for i in range(5)])
    )
    with django_assert_num_queries(1):
        holdings = selectors.items_for_record(record.pk)
        assert holdings.by_branch[0].total == 5 and holdings.available == 5


def test_nul_in_marc_json_is_removed_not_a_database_error_cat1():
    data = record_to_json(make_record("Nul\x00led"))
    record = services.record_create_from_marc(marc=data)
    assert record.title == "Nulled"
