"""Item fields' branch codes (issue 17 item 11): junk codes never become branches; a map
says where codes go; unknown codes are reported."""

from __future__ import annotations

import pytest

from quietshelf.catalog import services
from quietshelf.catalog.marc.holdings import map_branch, merge_map, plausible_branch_code
from quietshelf.catalog.models import Branch, Item
from tests.catalog.marcbuild import iso, make_record


@pytest.mark.parametrize("code", ["MPL", "MAIN", "Fjord_1", "cpl"])
def test_plausible_codes(code):
    assert plausible_branch_code(code)


@pytest.mark.parametrize(
    "code",
    ["867509274", "Library-has-4-copies.", "digital-files-not-viewed-td12-20", "gwg-ei", "X", ""],
)
def test_junk_codes_are_not_branch_codes(code):
    assert not plausible_branch_code(code)


def test_map_branch_maps_keeps_or_sets_aside():
    m = merge_map({"branch_map": {"MPL": "MAIN"}, "default_branch": "MAIN"})
    assert map_branch("MPL", m) == ("MAIN", "")
    assert map_branch("FPL", m) == ("FPL", "")
    assert map_branch("Library has 4 copies.", m) == ("MAIN", "Library-has-4-copies.")
    assert map_branch("", m) == ("MAIN", "")
    strict = merge_map({"unknown_branch": "HQ"})
    assert map_branch("867509274", strict) == ("HQ", "867509274")


@pytest.mark.django_db
def test_import_never_makes_junk_branches_and_reports_them():
    data = iso(
        make_record("One", control="B1", items=[{"a": "Library has 4 copies.", "p": "BM-1"}]),
        make_record("Two", control="B2", items=[{"a": "867509274", "p": "BM-2"}]),
        make_record("Three", control="B3", items=[{"a": "FPL", "p": "BM-3"}]),
    )
    summary = services.import_marc(sources=[("t.mrc", data)], match_on=[])
    assert summary.items == 3
    codes = set(Branch.objects.values_list("code", flat=True))
    assert codes == {"MAIN", "FPL"}
    reasons = [w.reason for w in summary.warnings]
    assert any("'Library-has-4-copies.'" in r and "branch MAIN" in r for r in reasons)
    assert any("'867509274'" in r for r in reasons)


@pytest.mark.django_db
def test_unknown_branch_option_keeps_to_existing_branches():
    Branch.objects.create(code="MAIN", name="Fjordvik Main Library")
    Branch.objects.create(code="HAVN", name="Havnegata Branch")
    data = iso(
        make_record("One", control="C1", items=[{"a": "MPL", "p": "CM-1"}]),
        make_record("Two", control="C2", items=[{"a": "FPL", "p": "CM-2"}]),
        make_record("Three", control="C3", items=[{"a": "HAVN", "p": "CM-3"}]),
    )
    summary = services.import_marc(
        sources=[("t.mrc", data)],
        match_on=[],
        holdings_map={"branch_map": {"MPL": "HAVN"}, "unknown_branch": "MAIN"},
    )
    assert set(Branch.objects.values_list("code", flat=True)) == {"MAIN", "HAVN"}
    by_barcode = dict(Item.objects.values_list("barcode", "branch__code"))
    assert by_barcode == {"CM-1": "HAVN", "CM-2": "MAIN", "CM-3": "HAVN"}
    assert [w.reason for w in summary.warnings if "FPL" in w.reason]
