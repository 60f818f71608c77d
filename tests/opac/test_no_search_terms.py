"""A search with no searchable term answers "no search terms", not every record (CAT-4);
control characters are never echoed back into the page."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.catalog.search_helpers import make_record

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.parametrize("q", ["***", "(((", "title:", "\u200b", "!?;.", "\u200b\u200d"])
def test_query_without_searchable_terms_says_so_cat4(client, q):
    make_record(title="Fjorden om natten")
    r = client.get("/", {"q": q})
    html = r.content.decode()
    assert "No search terms" in html
    assert "Fjorden om natten" not in html


def test_api_search_without_terms_is_a_clear_400_cat4(client):
    make_record(title="Fjorden om natten")
    r = client.get("/api/v1/search", {"q": "((("})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "no_search_terms"


def test_empty_query_still_browses_and_words_still_find_cat4(client):
    make_record(title="Fjorden om natten")
    assert "Fjorden om natten" in client.get("/", {"q": ""}).content.decode()
    assert "Fjorden om natten" in client.get("/", {"q": "fjorden***"}).content.decode()


def test_control_characters_are_not_echoed_into_the_search_box_cat4(client):
    html = client.get("/", {"q": "fjord\x00\x07en"}).content.decode()
    assert "\x00" not in html and "\x07" not in html
    assert 'value="fjorden"' in html


def test_no_search_terms_in_norwegian_cat4(client):
    html = client.get("/", {"q": "***"}, HTTP_ACCEPT_LANGUAGE="nb").content.decode()
    assert "Ingen søkeord" in html
