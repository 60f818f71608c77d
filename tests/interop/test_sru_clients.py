"""Real SRU clients from Debian's yaz (zoomsh, yaz-client) against /sru (INT-3).

scripts/test.sh installs the yaz package (need_pkg yaz-marcdump yaz).
"""

from __future__ import annotations

import re
import subprocess

import pytest
from django.core.cache import cache

from quietshelf.catalog import services
from quietshelf.catalog.models import BibRecord
from quietshelf.catalog.search import SearchQuery, search


@pytest.fixture
def jazz(live_server, transactional_db, marc_dir):
    summary = services.import_marc(sources=[marc_dir / "jazz_1k.mrc"], match_on=[])
    assert summary.created == 1_000
    cache.clear()
    return f"{live_server.url}/sru"


def run(*args: str, stdin: str | None = None) -> str:
    out = subprocess.run(
        list(args), input=stdin, capture_output=True, text=True, timeout=60, check=False
    )
    return out.stdout + out.stderr


def public_search_ids(text: str) -> list[int]:
    """What the OPAC's search finds for the same words (the oracle)."""
    result = search(SearchQuery(text=text, sort="title", page_size=100))
    assert result.total <= 100
    return result.record_ids


def expected_hits(word: str) -> int:
    return len(public_search_ids(f"title:{word}"))


@pytest.mark.parametrize("version", ["1.2", "2.0"])
def test_zoomsh_searches_and_shows_marcxml_int_3(jazz, version):
    out = run(
        "zoomsh", "-e", "set sru get", f"set sru_version {version}", f"connect {jazz}",
        "search cql:dc.title = blue", "show 0 2", "quit",
    )  # fmt: skip
    hits = int(re.search(r": (\d+) hits", out).group(1))
    assert hits == expected_hits("blue") > 2
    assert out.count('<record xmlns="http://www.loc.gov/MARC21/slim">') == 2
    assert '<datafield tag="952"' not in out


def test_zoomsh_gets_dublin_core_and_diagnostics_int_3(jazz):
    out = run(
        "zoomsh", "set sru get", "set schema dc", f"connect {jazz}",
        'search cql:dc.title all "blue birdland"', "show 0 1", "quit",
    )  # fmt: skip
    assert ": 1 hits" in out and "<dc:title>Blue birdland</dc:title>" in out
    out = run("zoomsh", "set sru get", f"connect {jazz}", "search cql:nosuch.index = x", "quit")
    assert "Unsupported index (info:srw/diagnostic/1:16)" in out
    out = run("zoomsh", "set sru get", f"connect {jazz}", "search cql:(blue or green", "quit")
    assert "info:srw/diagnostic/1:13" in out
    out = run("zoomsh", "set sru get", f"connect {jazz}", "search cql:blue prox green", "quit")
    assert "Proximity not supported (info:srw/diagnostic/1:39)" in out


def test_yaz_client_finds_with_booleans_and_dates_int_3(jazz):
    query = "dc.title = blue and dc.date > 1990"
    out = run(
        "yaz-client",
        stdin=f"sru get 1.2\nopen {jazz}\nquerytype cql\nfind {query}\nshow 1\nquit\n",
    )
    ids = public_search_ids("title:blue")
    want = BibRecord.objects.filter(pk__in=ids, year__gt=1990).count()
    assert f"Number of hits: {want}" in out and want > 0
    assert "schema=info:srw/schema/1/marcxml-v1.1" in out
