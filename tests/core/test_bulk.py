"""core.bulk: the one bulk-insert engine (MARC import, patron loads, audit log) (#14)."""

from __future__ import annotations

from django.db import connection

from quietshelf.catalog.models import ItemType
from quietshelf.core import bulk


def test_insert_model_rows_returns_ids_in_row_order_and_fills_defaults_issue_14(db):
    rows = [{"code": f"T{i}", "name": f"Type {i}"} for i in (3, 1, 2)]
    ids = bulk.insert_model_rows(ItemType, rows, returning=True)
    assert len(ids) == 3
    stored = {t.pk: t for t in ItemType.objects.filter(pk__in=ids)}
    # the n-th id is the n-th row's, and a field the rows leave out gets its default
    assert [stored[pk].code for pk in ids] == ["T3", "T1", "T2"]
    assert all(t.circulates is True for t in stored.values())


def test_insert_model_rows_without_returning_writes_every_row_issue_14(db):
    rows = [{"code": f"N{i}", "name": "n", "circulates": i % 2 == 0} for i in range(2500)]
    assert bulk.insert_model_rows(ItemType, rows) == []
    assert ItemType.objects.filter(code__startswith="N").count() == 2500
    assert ItemType.objects.filter(code__startswith="N", circulates=False).count() == 1250


def test_insert_rows_takes_tuples_and_no_rows_issue_14(db):
    table = ItemType._meta.db_table
    bulk.insert_rows(table, ("code", "name", "circulates"), [])
    bulk.insert_rows(table, ("code", "name", "circulates"), [("A1", "a", True), ("A2", "b", False)])
    assert dict(
        ItemType.objects.filter(code__in=["A1", "A2"]).values_list("code", "circulates")
    ) == {
        "A1": True,
        "A2": False,
    }
    if connection.vendor == "postgresql":
        # a load's encoding process hands over lines already in COPY text format
        bulk.insert_rows(table, ("code", "name", "circulates"), ["C1\tc\\tab\tt\n", "C2\td\tf\n"])
        assert ItemType.objects.get(code="C1").name == "c\tab"
        assert ItemType.objects.get(code="C2").circulates is False


def test_param_limit_is_what_the_database_takes_issue_14(db):
    limit = bulk.param_limit(connection)
    assert limit >= 999
