"""Public catalogue pages (issue 3 item 9; PRV-PUB-1, SEC-XSS-1, SEC-DOS-1)."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache

from tests.catalog.search_helpers import add_item, make_record

pytestmark = pytest.mark.django_db

XSS = "<script>alert(1)</script>"


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def hostile_record():
    record = make_record(
        title=f"{XSS} Hostile title",
        subtitle='"><img src=x onerror=alert(2)>',
        responsibility=XSS,
        contributors=[{"name": f"{XSS} Person", "role": "<b>aut</b>", "tag": "100"}],
        subjects=[f"{XSS} subject"],
        notes=[f"note {XSS}"],
        series=[f"series {XSS}"],
        publisher=XSS,
        links=[
            {"url": "javascript:alert(3)", "text": "bad link"},
            {"url": "data:text/html,<script>alert(4)</script>", "text": "data link"},
            {"url": "https://example.org/ebook?a=1&b=2", "text": f"{XSS} ebook"},
        ],
        marc_fields=[{"245": {"ind1": "1", "ind2": "0", "subfields": [{"a": XSS}]}}],
    )
    add_item(record, "XSS", "available", call_number=XSS, public_note=XSS)
    return record


def test_public_pages_set_no_cookie_prv_pub_1(client, hostile_record):
    for url, status in (
        ("/", 200),
        ("/?q=hostile", 200),
        ("/?q=hostile&format=book&lang=nb", 200),
        (f"/record/{hostile_record.pk}/", 200),
        (f"/record/{hostile_record.pk}/marc/", 200),
        ("/record/999999/", 404),
    ):
        response = client.get(url)
        assert response.status_code == status, url
        assert not response.cookies, url
        assert "Set-Cookie" not in response.headers, url
        body = response.content.decode()
        assert "csrfmiddlewaretoken" not in body
        # no third-party assets: every src/href is this site's own or a record's link
        for ref in re.findall(r'(?:src|href)="([^"]+)"', body):
            assert not ref.startswith("//"), ref
            if ref.startswith("http"):
                assert ref.startswith("https://example.org/"), ref


def test_hostile_marc_data_is_escaped_on_every_page_sec_xss_1(client, hostile_record):
    for url in (
        "/?q=hostile",
        f"/record/{hostile_record.pk}/",
        f"/record/{hostile_record.pk}/marc/",
    ):
        body = client.get(url).content.decode()
        assert XSS not in body, url
        assert "<img src=x" not in body, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body, url
    record_body = client.get(f"/record/{hostile_record.pk}/").content.decode()
    assert "javascript:" not in record_body
    assert "data:text/html" not in record_body
    assert 'href="https://example.org/ebook?a=1&amp;b=2" rel="nofollow noopener' in record_body


def test_csp_header_has_no_unsafe_inline(client):
    response = client.get("/")
    csp = response.headers.get("Content-Security-Policy", "")
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp


def test_search_page_shows_results_facets_and_paging(client):
    for i in range(23):
        make_record(title=f"Moose tale {i:02d}", format="book", language="nor", year=1990 + i)
    body = client.get("/", {"q": "moose"}).content.decode()
    assert "23 results" in body
    assert body.count('class="title"') == 20
    assert "?q=moose&amp;format=book" in body
    assert 'rel="next"' in body
    page2 = client.get("/", {"q": "moose", "page": "2"}).content.decode()
    assert page2.count('class="title"') == 3
    filtered = client.get("/", {"q": "moose", "era": "2010"}).content.decode()
    assert "3 results" in filtered
    assert "Remove filter: 2010s" in filtered


def test_record_page_shows_copies_per_branch(client):
    record = make_record(
        title="Copies here", contributors=[{"name": "Ola Nordmann", "role": "author"}]
    )
    add_item(record, "NORTH", "available", call_number="780.9 COP")
    add_item(record, "NORTH", "on_loan")
    add_item(record, "SOUTH", "on_loan")
    body = client.get(f"/record/{record.pk}/").content.decode()
    assert "North library: 1 of 2 available" in body
    assert "South library: 0 of 1 available" in body
    assert "780.9 COP" in body
    assert "Ola Nordmann" in body and "(author)" in body
    assert "On loan" in body


def test_unknown_record_is_a_404_page(client):
    assert client.get("/record/424242/").status_code == 404
    assert client.get("/record/424242/marc/").status_code == 404


def test_too_long_query_gets_a_clear_error_not_a_500(client, settings):
    settings.QUIETSHELF_SEARCH_MAX_QUERY_CHARS = 500
    response = client.get("/", {"q": "x" * 10_000})
    assert response.status_code == 400
    assert "too long" in response.content.decode()


@pytest.mark.parametrize("q", ['" OR 1=1 --', "NEAR(", "*", "title:", '"', "", "page"])
def test_odd_queries_and_parameters_never_500(client, q):
    response = client.get("/", {"q": q, "page": "-3", "sort": "evil;--", "format": "x" * 100})
    assert response.status_code == 200


def test_too_many_searches_get_429_sec_dos_1(client, settings, rate_window_start):
    settings.QUIETSHELF_SEARCH_RATE_PER_MINUTE = 3
    for _ in range(3):
        assert client.get("/", {"q": "anything"}).status_code == 200
    response = client.get("/", {"q": "anything"})
    assert response.status_code == 429
    assert "Too many searches" in response.content.decode()
    assert int(response.headers["Retry-After"]) > 0
    # another network is not affected
    assert client.get("/", {"q": "anything"}, REMOTE_ADDR="10.9.8.7").status_code == 200


def test_rate_limit_check_for_the_api_raises_rate_limited(rf, settings, rate_window_start):
    from quietshelf.catalog.search import ratelimit
    from quietshelf.core.errors import RateLimited

    settings.QUIETSHELF_SEARCH_RATE_PER_MINUTE = 1
    request = rf.get("/api/v1/search", REMOTE_ADDR="192.0.2.10")
    ratelimit.check(request)
    with pytest.raises(RateLimited):
        ratelimit.check(rf.get("/api/v1/search", REMOTE_ADDR="192.0.2.99"))  # same /24


def test_norwegian_from_parameter_and_from_browser_without_cookie(client):
    make_record(title="Elg")
    body = client.get("/", {"q": "elg", "lang": "nb"}).content.decode()
    assert "Søk i katalogen" in body
    assert '<html lang="nb">' in body
    body = client.get("/", {"q": "elg"}, HTTP_ACCEPT_LANGUAGE="nb-NO,nb;q=0.9").content.decode()
    assert "Søk i katalogen" in body
    response = client.get("/", {"q": "elg"}, HTTP_ACCEPT_LANGUAGE="en")
    assert "Search the catalogue" in response.content.decode()
    assert not response.cookies


def test_over_long_phrase_shows_the_shortened_notice_not_everything_sec_dos_1(client):
    """SEC-DOS-1: an over-long quoted phrase is cut, and the page says so."""
    make_record(title="Fjord jazz")
    make_record(title="Mountain walks")
    phrase = '"fjord jazz ' + " ".join(f"w{i}" for i in range(40)) + '"'
    body = client.get("/", {"q": phrase}).content.decode()
    assert "only the first ones were used" in body
    assert "Mountain walks" not in body


def test_contributor_roles_are_translated_on_the_page_codes_kept_as_data_cat_1(client):
    """CAT-1 / i18n: relator codes and terms are data; nb pages show Norwegian role names."""
    record = make_record(
        title="Roller i katalogen",
        contributors=[
            {"name": "Tove Nordvik", "role": "author", "tag": "100"},
            {"name": "Per Lund", "role": "edt", "tag": "700"},
            {"name": "Kari Bru", "role": "Illustrator.", "tag": "700"},
            {"name": "Ola Strand", "role": "performer, composer", "tag": "700"},
            {"name": "Eva Hagen", "role": "bokbinder", "tag": "700"},
        ],
    )
    body = client.get(f"/record/{record.pk}/", {"lang": "nb"}).content.decode()
    assert 'Tove Nordvik <span class="muted">(forfatter)</span>' in body
    assert "(redaktør)" in body and "(illustratør)" in body
    assert "(utøver, komponist)" in body
    assert "(bokbinder)" in body  # unknown terms are shown as given
    assert "(author)" not in body
    english = client.get(f"/record/{record.pk}/").content.decode()
    assert "(author)" in english and "(editor)" in english and "(illustrator)" in english
    record.refresh_from_db()
    assert [c["role"] for c in record.contributors][:2] == ["author", "edt"]  # data unchanged
