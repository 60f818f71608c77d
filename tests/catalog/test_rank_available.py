"""Equal relevance: a record with a copy on the shelf ranks before one without (CAT-4).
PostgreSQL ranks with the availability flag at hand; SQLite's FTS5 path does not read it
(left as it is: see docs/desk.md)."""

from __future__ import annotations

import pytest

from quietshelf.catalog.search import SearchQuery, search
from tests.catalog.search_helpers import add_item, make_record

pytestmark = pytest.mark.django_db


def test_available_copies_rank_first_for_the_same_relevance_cat4(is_postgres):
    if not is_postgres:
        pytest.skip("SQLite's FTS5 ranking does not read availability")
    with_copy = make_record(title="Tidevann og tang")
    add_item(with_copy, branch_code="RANK1", status="available")
    without = make_record(title="Tidevann og tang")  # newer id, no copies
    ids = search(SearchQuery(text="tidevann")).record_ids
    assert ids.index(with_copy.pk) < ids.index(without.pk)
