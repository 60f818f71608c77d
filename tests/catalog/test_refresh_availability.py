"""refresh_availability: the availability columns alone, as a full reindex would set them.

Check-out and check-in change only item statuses and call it instead of
rebuilding the document (PERF-CIRC-1); the facet must not drift from what
index_records writes.
"""

from __future__ import annotations

import pytest
from django.db import connection

from quietshelf.catalog.models import Item
from quietshelf.catalog.search import (
    SearchQuery,
    index_records,
    refresh_availability,
    search,
)
from tests.catalog.search_helpers import add_item, make_record

pytestmark = pytest.mark.django_db


def _flags(record_id):
    with connection.cursor() as cur:
        cur.execute("SELECT available FROM catalog_search WHERE record_id = %s", [record_id])
        rows = cur.fetchall()
        whole = bool(rows[0][0]) if rows else None
        cur.execute(
            "SELECT branch_id, available FROM catalog_search_branch WHERE record_id = %s",
            [record_id],
        )
        return whole, {b: bool(a) for b, a in cur.fetchall()}


@pytest.mark.parametrize(
    "statuses",
    [
        ("on_loan", "available"),
        ("on_loan", "on_loan"),
        ("available", "in_transit"),
        ("on_hold_shelf", "lost"),
        ("available", "available"),
    ],
)
def test_refresh_availability_matches_a_full_reindex_perf_circ1(statuses):
    """PERF-CIRC-1: after status changes the flags equal those a full reindex gives."""
    rec = make_record(title="Two copies")
    a = add_item(rec, "NORTH", "available")
    b = add_item(rec, "SOUTH", "on_loan")
    Item.objects.filter(pk=a.pk).update(status=statuses[0])
    Item.objects.filter(pk=b.pk).update(status=statuses[1])
    refresh_availability([rec.pk])
    refreshed = _flags(rec.pk)
    index_records([rec.pk])
    assert refreshed == _flags(rec.pk)
    assert refreshed[0] == ("available" in statuses)


def test_refresh_availability_is_what_search_filters_on_perf_circ1():
    """PERF-CIRC-1: the available facet follows a refresh without a reindex."""
    rec = make_record(title="Lonesome volume")
    item = add_item(rec, "MAIN", "available")
    Item.objects.filter(pk=item.pk).update(status="on_loan")
    refresh_availability([rec.pk])
    assert search(SearchQuery(text="lonesome", filters={"available": ["1"]})).record_ids == []
    Item.objects.filter(pk=item.pk).update(status="available")
    refresh_availability([rec.pk])
    assert search(SearchQuery(text="lonesome", filters={"available": ["1"]})).record_ids == [rec.pk]


def test_refresh_availability_indexes_a_record_without_a_document_perf_circ1():
    """PERF-CIRC-1: a record never indexed gets its whole document."""
    indexed = make_record(title="Already there")
    add_item(indexed, "MAIN", "available")
    fresh = make_record(index=False, title="Never indexed")
    Item.objects.create(record=fresh, barcode="RA-1", branch=indexed.items.get().branch,
                        item_type=indexed.items.get().item_type, status="on_loan")  # fmt: skip
    assert _flags(fresh.pk) == (None, {})
    refresh_availability([fresh.pk, indexed.pk])
    assert _flags(fresh.pk)[0] is False
    assert search(SearchQuery(text="never indexed")).record_ids == [fresh.pk]
