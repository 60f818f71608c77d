"""Equal relevance: a record with a copy on the shelf ranks before one without (CAT-4),
on SQLite (FTS5, bm25) and PostgreSQL (ts_rank_cd) alike, in the unfiltered ranking inside
the engine and in the filtered path, also when equal scores run across a page's end."""

from __future__ import annotations

import pytest

from quietshelf.catalog.search import SearchQuery, search
from tests.catalog.search_helpers import add_item, make_record

pytestmark = pytest.mark.django_db


def test_available_copies_rank_first_for_the_same_relevance_cat4():
    with_copy = make_record(title="Tidevann og tang")
    add_item(with_copy, branch_code="RANK1", status="available")
    without = make_record(title="Tidevann og tang")  # newer id, no copies
    ids = search(SearchQuery(text="tidevann")).record_ids
    assert ids.index(with_copy.pk) < ids.index(without.pk)


def test_on_loan_copies_do_not_lift_a_record_and_relevance_still_comes_first_cat4():
    """Only a copy on the shelf counts; a better match without copies stays first."""
    best = make_record(title="Fjellvann, fjellvann")  # the word twice: the higher score
    on_shelf = make_record(title="Fjellvann i nord og sør")
    add_item(on_shelf, branch_code="RANK2", status="available")
    lent = make_record(title="Fjellvann i nord og sør")
    add_item(lent, branch_code="RANK2", status="on_loan")
    empty = make_record(title="Fjellvann i nord og sør")  # newest of the tied three
    ids = search(SearchQuery(text="fjellvann")).record_ids
    assert ids[0] == best.pk
    assert ids.index(on_shelf.pk) < ids.index(lent.pk)
    assert ids.index(on_shelf.pk) < ids.index(empty.pk)
    # among the records without a copy on the shelf, newest first as before
    assert ids.index(empty.pk) < ids.index(lent.pk)


@pytest.mark.parametrize("filtered", [False, True], ids=["unfiltered", "filtered"])
def test_a_tie_across_the_page_end_pulls_available_records_onto_page_one_cat4(filtered):
    """Five equal matches, page size two: the two with copies on the shelf are page one
    although they are the oldest (plain newest-first order would put them last)."""
    shelved = []
    for _ in range(2):
        record = make_record(title="Saltstraumen", language="nor")
        add_item(record, branch_code="RANK3", status="available")
        shelved.append(record.pk)
    others = [make_record(title="Saltstraumen", language="nor").pk for _ in range(3)]
    filters = {"language": ["nor"]} if filtered else {}
    first = search(SearchQuery(text="saltstraumen", page_size=2, filters=filters))
    assert first.total == 5
    assert sorted(first.record_ids) == sorted(shelved)
    second = search(SearchQuery(text="saltstraumen", page=2, page_size=2, filters=filters))
    third = search(SearchQuery(text="saltstraumen", page=3, page_size=2, filters=filters))
    assert second.record_ids + third.record_ids == sorted(others, reverse=True)
