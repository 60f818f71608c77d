"""Catalogue search on both engines (issue 3 item 8; SEC-SQL-1, SEC-DOS-1, PRV-SEP-1).

These run on whatever database the suite runs on: SQLite FTS5 locally and
PostgreSQL full text with DATABASE_URL set (make test runs both).
"""

from __future__ import annotations

import logging

import pytest
from django.db import connection, transaction

from quietshelf.catalog.models import BibRecord
from quietshelf.catalog.search import SearchQuery, index_records, remove_records, search
from quietshelf.catalog.search.query import QueryTooLong, parse
from tests.catalog.search_helpers import add_item, make_record

pytestmark = pytest.mark.django_db


def ids(text="", **kwargs):
    return search(SearchQuery(text=text, **kwargs)).record_ids


def test_keyword_search_finds_title_contributor_subject_and_note_words_cat_search():
    rec = make_record(
        title="Blue notes from Bergen",
        contributors=[{"name": "Ingrid Fjellstad", "role": "author", "tag": "100"}],
        subjects=["Improvisation (Music)"],
        notes=["Recorded live at the harbour"],
    )
    make_record(title="Something else entirely")
    for text in ("bergen", "fjellstad", "improvisation", "harbour", "BLUE Notes"):
        assert ids(text) == [rec.pk], text


def test_words_are_anded_by_default():
    both = make_record(title="Fjord jazz")
    make_record(title="Fjord walks")
    assert ids("fjord jazz") == [both.pk]


def test_ranking_puts_title_matches_before_note_matches():
    in_note = make_record(title="A history of boats", notes=["mentions saxophone once"])
    in_title = make_record(title="The saxophone")
    assert ids("saxophone")[0] == in_title.pk
    assert set(ids("saxophone")) == {in_note.pk, in_title.pk}


def test_fielded_search_title_author_subject():
    a = make_record(title="Winter", contributors=[{"name": "Summer Holm", "role": "aut"}])
    b = make_record(title="Summer", contributors=[{"name": "Winter Dahl", "role": "aut"}])
    c = make_record(title="Seasons", subjects=["Summer -- Poetry"])
    assert ids("title:summer") == [b.pk]
    assert ids("author:summer") == [a.pk]
    assert ids("subject:summer") == [c.pk]
    assert set(ids("summer")) == {a.pk, b.pk, c.pk}
    assert ids('title:"winter"') == [a.pk]


def test_isbn_search_normalises_hyphens_and_isbn10_isbn13():
    rec = make_record(
        title="Counted book",
        isbns=[{"value": "978-0-306-40615-7", "normalized": "9780306406157", "valid": True}],
    )
    bad = make_record(
        title="Badly numbered",
        isbns=[{"value": "978-0-306-40615-0", "normalized": "", "valid": False}],
    )
    for text in (
        "isbn:9780306406157",
        "isbn:978-0-306-40615-7",
        "isbn:0-306-40615-2",
        "isbn:0306406152",
        "978-0-306-40615-7",
        "0306406152",
    ):
        assert ids(text) == [rec.pk], text
    assert bad.pk not in ids("isbn:9780306406150")


def test_phrase_search_needs_the_words_together():
    together = make_record(title="Cold river song")
    apart = make_record(title="River of cold song")
    assert ids('"cold river"') == [together.pk]
    assert set(ids("cold river")) == {together.pk, apart.pk}


def test_prefix_search_and_short_prefix_is_a_word():
    rec = make_record(title="Jazzmen of Oslo")
    make_record(title="A b c")
    assert ids("jazz*") == [rec.pk]
    assert ids("oslo jaz*") == [rec.pk]
    # a one-letter prefix would expand to most of the index: it is the word "a"
    assert parse("a*").clauses[0].prefix is False


def test_diacritics_fold_both_ways():
    rec = make_record(
        title="Café Ærø og Søren", contributors=[{"name": "Łucja Dvořák", "role": "aut"}]
    )
    for text in ("cafe", "café", "CAFÉ", "aero", "ærø", "soren", "søren", "lucja", "dvorak"):
        assert ids(text) == [rec.pk], text


def test_devanagari_and_880_original_script_are_searchable():
    rec = make_record(
        title="Nepali bhasa",
        marc_fields=[
            {"245": {"ind1": "1", "ind2": "0", "subfields": [{"6": "880-01"}, {"a": "Nepali"}]}},
            {
                "880": {
                    "ind1": "1",
                    "ind2": "0",
                    "subfields": [{"6": "245-01/(N"}, {"a": "नेपाली भाषाको इतिहास"}],
                }
            },
            {"880": {"ind1": "1", "ind2": " ", "subfields": [{"6": "100-02"}, {"a": "राम शर्मा"}]}},
        ],
    )
    make_record(title="Something English")
    assert ids("नेपाली") == [rec.pk]
    assert ids("भाषाको इतिहास") == [rec.pk]
    assert ids("title:इतिहास") == [rec.pk]
    assert ids("author:शर्मा") == [rec.pk]
    assert ids("शर्") == []  # whole words, not fragments split at vowel signs


def test_facet_counts_and_filters():
    b1 = make_record(title="Trolls one", format="book", language="nor", year=1995)
    make_record(title="Trolls two", format="book", language="eng", year=1850)
    v = make_record(title="Trolls three", format="video", language="nor", year=2021)
    add_item(b1, "MAIN", "available")
    add_item(v, "EAST", "on_loan")
    result = search(SearchQuery(text="trolls"))
    assert result.total == 3
    counts = {name: {f.value: f.count for f in values} for name, values in result.facets.items()}
    assert counts["format"] == {"book": 2, "video": 1}
    assert counts["language"] == {"nor": 2, "eng": 1}
    assert counts["era"] == {"1990": 1, "pre1900": 1, "2020": 1}
    assert counts["branch"] == {"MAIN": 1, "EAST": 1}
    assert counts["available"] == {"1": 1}

    assert ids("trolls", filters={"format": ["video"]}) == [v.pk]
    assert ids("trolls", filters={"branch": ["MAIN"]}) == [b1.pk]
    assert ids("trolls", filters={"available": ["1"]}) == [b1.pk]
    assert ids("trolls", filters={"era": ["1990", "2020"], "language": ["nor"]}, sort="year") == [
        b1.pk,
        v.pk,
    ]
    filtered = search(SearchQuery(text="trolls", filters={"language": ["nor"]}))
    assert {f.value: f.selected for f in filtered.facets["language"]} == {"nor": True}


def test_item_status_change_reindexed_changes_availability():
    rec = make_record(title="Lonely copy")
    item = add_item(rec, "MAIN", "available")
    assert ids("lonely", filters={"available": ["1"]}) == [rec.pk]
    item.status = "on_loan"
    item.save()
    index_records([rec.pk])
    assert ids("lonely", filters={"available": ["1"]}) == []


def test_sort_by_title_and_year_and_paging():
    recs = [make_record(title=f"Owl book {c}", year=2000 + i) for i, c in enumerate("CAEDB")]
    by_title = ids("owl", sort="title")
    assert [BibRecord.objects.get(pk=i).title[-1] for i in by_title] == list("ABCDE")
    assert ids("owl", sort="-year") == [r.pk for r in reversed(recs)]
    assert ids("owl", sort="year") == [r.pk for r in recs]
    page1 = search(SearchQuery(text="owl", sort="title", page=1, page_size=2))
    page3 = search(SearchQuery(text="owl", sort="title", page=3, page_size=2))
    assert page1.total == 5 and page1.pages == 3
    assert page1.record_ids == by_title[:2]
    assert page3.record_ids == by_title[4:]


def test_empty_query_browses_everything_by_title():
    b = make_record(title="Beta")
    a = make_record(title="Alpha")
    assert ids("") == [a.pk, b.pk]
    assert ids("   ") == [a.pk, b.pk]


@pytest.mark.parametrize(
    "text",
    [
        '" OR 1=1 --',
        "'; DROP TABLE catalog_bibrecord; --",
        "NEAR(",
        "NEAR(a b, 2)",
        "*",
        "**",
        "title:",
        "title:*",
        '"',
        '""',
        '"unbalanced',
        "a AND OR NOT b",
        "^x",
        "{title}: x",
        "col:x",
        "x:y:z",
        "-x",
        "(a) | (b) & !c <-> d",
        "\\",
        "'",
        "%",
        "_",
        "\x00",
        "a" * 400,
        " ".join(["w"] * 200),
        "ﷺ ﷽ \u202e reversed",
    ],
)
def test_hostile_queries_never_break_and_never_inject_sec_sql_1(text):
    from quietshelf.catalog.search import NoSearchTerms

    keep = make_record(title="Survivor of odd queries")
    try:
        result = search(SearchQuery(text=text))
    except NoSearchTerms:  # nothing searchable typed: a clear answer, not every record
        result = None
    assert result is None or result.total >= 0
    assert BibRecord.objects.filter(pk=keep.pk).exists()


def test_query_over_the_size_limit_is_refused_with_a_clear_message(settings):
    settings.QUIETSHELF_SEARCH_MAX_QUERY_CHARS = 500
    with pytest.raises(QueryTooLong) as err:
        search(SearchQuery(text="x" * 10_000))
    assert "500" in err.value.message


def test_pathological_query_is_capped_sec_dos_1():
    parsed = parse(" ".join(f"w{i}" for i in range(100)))
    assert sum(len(c.words) for c in parsed.clauses) <= 24
    assert parsed.truncated


def test_index_changes_in_the_same_transaction_rolled_back_create_leaves_no_row():
    marker = "Quokkaprovenance"

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        rec = make_record(title=marker)
        assert ids(marker.lower()) == [rec.pk]  # visible inside the transaction
        raise Boom
    assert ids(marker.lower()) == []
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM catalog_search WHERE record_id = %s", [rec.pk])
        assert cur.fetchone()[0] == 0


def test_remove_records_takes_them_out():
    rec = make_record(title="Ephemeral pamphlet")
    remove_records([rec.pk])
    assert ids("ephemeral") == []


def test_search_terms_are_not_logged_prv_sep_1(caplog, client):
    make_record(title="Secretive topic")
    caplog.set_level(logging.DEBUG)
    search(SearchQuery(text="secretiveterm"))
    client.get("/", {"q": "secretiveterm"})
    assert "secretiveterm" not in caplog.text


def test_reindex_command_rebuilds_the_index(capsys):
    from django.core.management import call_command

    rec = make_record(title="Rebuilt record", index=False)
    assert ids("rebuilt") == []
    call_command("reindex")
    assert ids("rebuilt") == [rec.pk]
    assert "reindexed" in capsys.readouterr().out


def test_very_common_word_ranks_a_sample_and_marks_facets_approximate(monkeypatch, is_postgres):
    """PERF-CAT-2: past LARGE_RESULT matches ranking and facets use a sample.

    SQLite still counts the total exactly; PostgreSQL gives its planner's
    estimate, flagged as such.
    """
    from quietshelf.catalog.search import backends

    monkeypatch.setattr(backends, "LARGE_RESULT", 3)
    monkeypatch.setattr(backends, "FACET_EXACT", 3)
    monkeypatch.setattr(backends, "FACET_SAMPLE", 3)
    recs = [make_record(title=f"Common word {i}", format="book", year=1990) for i in range(5)]
    result = search(SearchQuery(text="common", page_size=2))
    assert result.approximate_facets
    assert len(result.record_ids) == 2
    assert set(result.record_ids) <= {r.pk for r in recs}
    if is_postgres:
        assert result.total_approximate and result.total >= 4
    else:
        assert result.total == 5 and not result.total_approximate
        assert {f.value: f.count for f in result.facets["format"]} == {"book": 5}
        filtered = search(SearchQuery(text="common", filters={"format": ["book"]}))
        assert filtered.total == 5
    browse = search(SearchQuery(text=""))
    assert browse.total == 5 and browse.approximate_facets
    assert search(SearchQuery(text="common", sort="title")).record_ids[0] == recs[0].pk
    small = search(SearchQuery(text="common 3"))
    assert small.total == 1 and not small.approximate_facets


def test_reindex_command_rejects_bad_ids_with_exit_status_2():
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError) as err:
        call_command("reindex", "twelve")
    assert err.value.returncode == 2


def test_reindex_of_given_ids_drops_vanished_ones(capsys):
    from django.core.management import call_command

    kept = make_record(title="Kept volume")
    gone = make_record(title="Gone volume")
    BibRecord.objects.filter(pk=gone.pk).delete()
    call_command("reindex", str(kept.pk), str(gone.pk))
    assert ids("volume") == [kept.pk]
    assert "1 not found" in capsys.readouterr().out


def test_facets_are_estimated_past_the_facet_sample_but_ranking_stays_exact(monkeypatch):
    from quietshelf.catalog.search import backends

    monkeypatch.setattr(backends, "FACET_EXACT", 2)
    monkeypatch.setattr(backends, "FACET_SAMPLE", 2)
    for i in range(3):
        make_record(title=f"Heron notes {i}", format="book")
    best = make_record(title="Heron")
    result = search(SearchQuery(text="heron"))
    assert result.total == 4
    assert result.record_ids[0] == best.pk
    assert result.approximate_facets
    assert {f.value: f.count for f in result.facets["format"]} == {"book": 4}


def test_a_search_over_the_time_limit_gets_a_clear_error_sec_dos_1(
    settings, is_postgres, monkeypatch
):
    from quietshelf.catalog.search.backends import SearchTooSlow

    for i in range(30):
        make_record(title=f"Slow lane {i}")
    if is_postgres:
        # A statement that cannot finish in 1 ms stands in for a heavy search.
        from quietshelf.catalog.search.backends import time_limit

        settings.QUIETSHELF_SEARCH_TIMEOUT_MS = 1
        with pytest.raises(SearchTooSlow), time_limit(), connection.cursor() as cur:
            cur.execute("SELECT pg_sleep(0.2)")
        settings.QUIETSHELF_SEARCH_TIMEOUT_MS = 3000
        assert ids("slow lane")  # the connection and transaction still work
        with connection.cursor() as cur:
            cur.execute("SHOW statement_timeout")
            assert cur.fetchone()[0] == "0"
        return
    from quietshelf.catalog.search import backends

    monkeypatch.setattr(backends, "PROGRESS_STEPS", 1)
    real = backends.time.monotonic
    calls = {"n": 0}

    def clock():
        # The first reading sets the deadline; every later one is an hour on.
        calls["n"] += 1
        return real() + (0 if calls["n"] == 1 else 3600)

    monkeypatch.setattr(backends.time, "monotonic", clock)
    settings.QUIETSHELF_SEARCH_TIMEOUT_MS = 1000
    with pytest.raises(SearchTooSlow) as err:
        search(SearchQuery(text="slow lane"))
    assert "too broad" in err.value.message
    monkeypatch.setattr(backends.time, "monotonic", real)
    assert ids("slow lane")


def test_paging_stops_where_the_ranked_sample_ends(monkeypatch):
    from quietshelf.catalog.search import backends

    monkeypatch.setattr(backends, "LARGE_RESULT", 4)
    for i in range(7):
        make_record(title=f"Plover {i}")
    result = search(SearchQuery(text="plover", page_size=2))
    assert result.pages == 2
    assert search(SearchQuery(text="plover", page_size=2, page=2)).record_ids


@pytest.mark.django_db
@pytest.mark.parametrize("param", ["q", "format", "era", "language", "branch"])
def test_control_characters_in_query_or_facets_are_harmless_sec_dos_1(client, param):
    """SEC-DOS-1 / SEC-SQL-1: a NUL byte in any search parameter is no 500."""
    response = client.get("/", {param: "jazz\x00"})
    assert response.status_code == 200


def test_over_long_phrase_is_cut_to_max_tokens_not_dropped_sec_dos_1():
    """SEC-DOS-1: a quoted phrase past MAX_TOKENS keeps its first words, flagged truncated."""
    from quietshelf.catalog.search.query import MAX_TOKENS

    words = [f"w{i}" for i in range(MAX_TOKENS + 6)]
    parsed = parse('"' + " ".join(words) + '"')
    assert parsed.truncated
    assert len(parsed.clauses) == 1
    assert parsed.clauses[0].words == tuple(words[:MAX_TOKENS])
    assert parsed.clauses[0].phrase
    # A phrase after other words gets the room that is left.
    parsed = parse('jazz "' + " ".join(words) + '"')
    assert [len(c.words) for c in parsed.clauses] == [1, MAX_TOKENS - 1]


def test_over_long_phrase_search_matches_its_first_words_not_the_whole_catalogue_sec_dos_1():
    """SEC-DOS-1 / CAT-SEARCH: the cut phrase still filters, and the result says it was cut."""
    from quietshelf.catalog.search.query import MAX_TOKENS

    title_words = [f"ord{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(MAX_TOKENS)]
    hit = make_record(title=" ".join(title_words))
    make_record(title="Something else entirely")
    make_record(title="Another unrelated book")
    text = '"' + " ".join([*title_words, "extra", "words", "beyond"]) + '"'
    result = search(SearchQuery(text=text))
    assert result.record_ids == [hit.pk]
    assert result.total == 1
    assert result.truncated_query


def test_browse_path_carries_the_truncated_flag_sec_dos_1():
    """SEC-DOS-1: an empty query left after capping still tells the page it was shortened."""
    from quietshelf.catalog.search.backends import get_backend
    from quietshelf.catalog.search.query import ParsedQuery

    make_record(title="Anything")
    backend = get_backend()
    result = backend.search(SearchQuery(text=""), ParsedQuery((), truncated=True))
    assert result.total == 1 and result.truncated_query
    result = backend.search(SearchQuery(text=""), ParsedQuery(()))
    assert not result.truncated_query


def test_api_search_exposes_truncated_query_sec_dos_1(client):
    """SEC-DOS-1: the API says when the search was shortened."""
    from django.core.cache import cache

    cache.clear()
    make_record(title="Fjord jazz")
    long_phrase = '"' + " ".join(f"w{i}" for i in range(40)) + '"'
    body = client.get("/api/v1/search", {"q": long_phrase}).json()
    assert body["truncated_query"] is True
    assert body["total"] == 0
    body = client.get("/api/v1/search", {"q": "fjord"}).json()
    assert body["truncated_query"] is False
    assert body["total"] == 1
    cache.clear()


def _facet_counts(result):
    return {name: {f.value: f.count for f in values} for name, values in result.facets.items()}


def test_facets_of_every_path_agree_branch_lists_and_availability_perf_cat_2():
    """PERF-CAT-2: facets read from the narrow facet values (SQLite) or the ranked
    rows (PostgreSQL) count a record once per branch it has copies in, and follow an
    in-place availability change."""
    a = make_record(title="Puffin one", format="book", language="nor", year=1995)
    b = make_record(title="Puffin two", format="score", language="eng", year=2001)
    make_record(title="Puffin three", format="book", language="nor", year=1850)
    add_item(a, "MAIN", "available")
    add_item(a, "EAST", "on_loan")
    add_item(b, "EAST", "available")
    expected = {
        "format": {"book": 2, "score": 1},
        "language": {"nor": 2, "eng": 1},
        "era": {"1990": 1, "2000": 1, "pre1900": 1},
        "branch": {"MAIN": 1, "EAST": 2},
        "available": {"1": 2},
    }
    # Relevance (the engine's own path on SQLite), title sort (an id set) and a filter.
    assert _facet_counts(search(SearchQuery(text="puffin"))) == expected
    assert _facet_counts(search(SearchQuery(text="puffin", sort="title"))) == expected
    filtered = search(SearchQuery(text="puffin", filters={"branch": ["EAST"]}))
    assert filtered.total == 2
    assert _facet_counts(filtered)["branch"] == {"MAIN": 1, "EAST": 2}
    assert _facet_counts(search(SearchQuery(text="")))["branch"] == {"MAIN": 1, "EAST": 2}
    # Availability refreshed in place (check-out / check-in) reaches the facet values.
    with connection.cursor() as cur:
        cur.execute("UPDATE catalog_search SET available = %s WHERE record_id = %s", [False, b.pk])
    assert _facet_counts(search(SearchQuery(text="puffin")))["available"] == {"1": 1}
    remove_records([a.pk])
    after = _facet_counts(search(SearchQuery(text="puffin")))
    assert after["branch"] == {"EAST": 1} and after["format"] == {"book": 1, "score": 1}


def test_unfiltered_relevance_search_matches_the_general_path_perf_cat_2(monkeypatch):
    """PERF-CAT-2: SQLite answers an unfiltered relevance search inside FTS5 (count,
    ORDER BY bm25 LIMIT, facet sample), PostgreSQL in one statement (page, count and
    grouped facets from the ranked matches); each must give what the general path
    gives: page, order, total, paging limit and (scaled) facets, below and above the
    limits, with and without a filter."""
    from quietshelf.catalog.search import backends

    backend = backends.get_backend()
    for i in range(7):
        make_record(
            title=f"Gannet {'gannet ' * (i % 3)}{i}", format=("book", "video")[i % 2], year=1990
        )
    make_record(title="Other bird", subjects=["Gannet colonies"], format="map")

    def both(**kwargs):
        query = SearchQuery(text="gannet", **kwargs)
        parsed = parse(query.text)
        first = backend.search(query, parsed)
        with monkeypatch.context() as m:
            m.setattr(type(backend), "ranks_in_engine", lambda self, filter_sql: False)
            second = backend.search(query, parsed)
        return first, second

    cases = [
        ({}, {}),
        ({"FACET_EXACT": 4, "FACET_SAMPLE": 3}, {"page_size": 3, "page": 2}),
        ({"LARGE_RESULT": 5, "FACET_EXACT": 4, "FACET_SAMPLE": 2}, {"page_size": 2}),
    ]
    for limits, kwargs in cases:
        for name, value in limits.items():
            monkeypatch.setattr(backends, name, value)
        first, second = both(**kwargs)
        assert first.total == second.total
        assert first.total == 8 or first.total_approximate  # PostgreSQL past LARGE_RESULT
        assert first.record_ids == second.record_ids
        assert first.reachable == second.reachable
        assert first.approximate_facets == second.approximate_facets == bool(limits)
        assert _facet_counts(first) == _facet_counts(second)
    videos = both(filters={"format": ["video"]})
    assert videos[0].record_ids == videos[1].record_ids and len(videos[0].record_ids) == 3
    assert _facet_counts(videos[0]) == _facet_counts(videos[1])


def test_facets_past_facet_exact_come_from_a_smaller_sample_perf_cat_2(monkeypatch, is_postgres):
    """PERF-CAT-2: up to FACET_EXACT matches facets are exact; beyond, FACET_SAMPLE
    matches are counted and scaled to the total ("about")."""
    from quietshelf.catalog.search import backends

    monkeypatch.setattr(backends, "FACET_EXACT", 6)
    monkeypatch.setattr(backends, "FACET_SAMPLE", 3)
    for i in range(6):
        make_record(title=f"Kittiwake {i}", format="book" if i < 3 else "video")
    exact = search(SearchQuery(text="kittiwake"))
    assert not exact.approximate_facets
    assert _facet_counts(exact)["format"] == {"book": 3, "video": 3}
    for i in range(6, 9):
        make_record(title=f"Kittiwake {i}", format="video")
    estimated = search(SearchQuery(text="kittiwake"))
    assert estimated.total == 9 and estimated.approximate_facets
    counts = _facet_counts(estimated)["format"]
    if is_postgres:
        # The ranked rows carry their values: FACET_EXACT of them are counted, scaled.
        assert 8 <= sum(counts.values()) <= 10 and counts != {"book": 3, "video": 6}
    else:
        # The first FACET_SAMPLE matches (records 0-2, all books), scaled by 3.
        assert counts == {"book": 9}


def test_sqlite_search_raises_the_page_cache_never_lowers_it_perf_cat_2(settings, is_postgres):
    """PERF-CAT-2: a SQLite search gives its connection a page cache of
    QUIETSHELF_SEARCH_SQLITE_CACHE_KIB (bm25 and facet look-ups hit it), never a
    smaller one than it has, and 0 leaves it alone."""
    if is_postgres:
        pytest.skip("a SQLite connection setting")
    make_record(title="Cormorant")

    def cache_size():
        with connection.cursor() as cur:
            cur.execute("PRAGMA cache_size")
            return cur.fetchone()[0]

    with connection.cursor() as cur:
        cur.execute("PRAGMA cache_size = -2000")
    settings.QUIETSHELF_SEARCH_SQLITE_CACHE_KIB = 0
    assert ids("cormorant") and cache_size() == -2000
    settings.QUIETSHELF_SEARCH_SQLITE_CACHE_KIB = 8192
    assert ids("cormorant") and cache_size() == -8192
    settings.QUIETSHELF_SEARCH_SQLITE_CACHE_KIB = 4096
    assert ids("cormorant") and cache_size() == -8192
