"""Search statistics in aggregate only (PRV-SEP-1): the public catalogue counts
each new search per day and the texts that found nothing; the report shows the
counts and only the texts used by at least k searches."""

from __future__ import annotations

import pytest
from django.test import Client

from quietshelf.accounts.testing import signed_in_client
from quietshelf.catalog.search import SearchQuery, SearchResult, index_records
from quietshelf.core import clock
from quietshelf.reports import searchstats
from quietshelf.reports.models import SearchDailyCount, ZeroResultTerm
from tests.factories import BibRecordFactory

pytestmark = pytest.mark.django_db(databases="__all__")


def test_public_searches_are_counted_per_day_with_no_trail_prv_sep_1(circ):
    record = BibRecordFactory(title="Lighthouse keeping for beginners")
    index_records([record.pk])
    visitor = Client()
    assert visitor.get("/", {"q": "lighthouse"}).status_code == 200
    assert visitor.get("/", {"q": "lighthouse", "page": "2"}).status_code == 200  # not new
    for _ in range(6):
        visitor.get("/", {"q": "  Zebra   Manuals "})
    visitor.get("/", {"q": "my neighbour's name"})
    row = SearchDailyCount.objects.get()
    assert (row.day, row.searches, row.zero_results) == (clock.today(), 8, 7)
    terms = dict(ZeroResultTerm.objects.values_list("term", "count"))
    assert terms == {"zebra manuals": 6, "my neighbour's name": 1}
    # nothing about the visitor: the tables have no session, address or time of day
    for model in (SearchDailyCount, ZeroResultTerm):
        names = {f.name for f in model._meta.get_fields()}
        assert not names & {"session", "ip", "patron", "at", "created_at", "user"}
    assert "sessionid" not in visitor.cookies


def test_search_report_shows_counts_and_only_common_zero_result_texts_prv_sep_1(circ, reader):
    for _ in range(5):
        searchstats.count_search(_Q("Zebra manuals"), _R(0))
    searchstats.count_search(_Q("Anna Example-Person"), _R(0))
    searchstats.count_search(_Q("lighthouse"), _R(3))
    client = signed_in_client(reader)
    today = clock.today().isoformat()
    r = client.get("/staff/reports/search/", {"from": today, "to": today, "period": "day"})
    assert r.status_code == 200
    body = r.content.decode()
    assert "zebra manuals" in body
    assert "anna example-person" not in body  # one search: under k, never shown
    table = r.content.decode()[body.find('id="zero-terms"') :]
    assert '<td class="num">1</td>' in table  # counted among the rarer texts
    api = client.get("/api/v1/reports/search", {"from": today, "to": today, "period": "day"})
    assert api.json()["rows"][0]["values"] == [7, 6]


def test_old_zero_result_texts_go_after_their_retention_prv_sep_1(circ, settings):
    import datetime as dt

    settings.QUIETSHELF_SEARCH_TERMS_DAYS = 30
    ZeroResultTerm.objects.create(day=clock.today() - dt.timedelta(days=31), term="old", count=9)
    ZeroResultTerm.objects.create(day=clock.today() - dt.timedelta(days=29), term="new", count=9)
    searchstats.count_search(_Q("x"), _R(1))
    assert set(ZeroResultTerm.objects.values_list("term", flat=True)) == {"new"}


def _Q(text):
    return SearchQuery(text=text)


def _R(total):
    return SearchResult(total=total, record_ids=[], facets={}, page=1, page_size=20)
