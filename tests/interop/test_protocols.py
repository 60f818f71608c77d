"""Pure tests of the OAI-PMH argument rules and the CQL grammar (no database) (INT-3)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from quietshelf.interop.oai.protocol import (
    Harvest,
    OAIError,
    decode_token,
    encode_token,
    parse_datestamp,
    parse_request,
)
from quietshelf.interop.sru.cql import Boolean, Search, SortKey, parse
from quietshelf.interop.sru.diagnostics import Diagnostic


def test_until_is_inclusive_in_both_granularities_int_3():
    assert parse_datestamp("2030-01-10", "until", until=True) == dt.datetime(
        2030, 1, 11, tzinfo=dt.UTC
    )
    assert parse_datestamp("2030-01-10T10:00:00Z", "until", until=True) == dt.datetime(
        2030, 1, 10, 10, 0, 1, tzinfo=dt.UTC
    )


@pytest.mark.parametrize("value", ["2030-1-10", "2030-01-10T10:00Z", "2030-01-10 10:00:00", "x"])
def test_dates_in_the_wrong_granularity_are_bad_arguments_int_3(value):
    with pytest.raises(OAIError) as err:
        parse_datestamp(value, "from")
    assert err.value.code == "badArgument"


def test_token_round_trip_keeps_the_cursor_int_3(settings):
    harvest = Harvest(
        "ListRecords", "marc21", "branch:MAIN",
        dt.datetime(2030, 1, 1, tzinfo=dt.UTC), None, after_id=41, cursor=100, total=250,
    )  # fmt: skip
    assert decode_token(encode_token(harvest), verb="ListRecords", max_age_days=1) == harvest
    request = parse_request(
        [("verb", "ListRecords"), ("resumptionToken", encode_token(harvest))], max_age_days=1
    )
    assert request.harvest == harvest


def test_a_token_signed_with_another_key_is_refused_int_3(settings):
    token = encode_token(Harvest("ListRecords", "oai_dc"))
    settings.SECRET_KEY = "another-instance-entirely-" + "x" * 40
    with pytest.raises(OAIError) as err:
        decode_token(token, verb="ListRecords", max_age_days=1)
    assert err.value.code == "badResumptionToken"


@hypothesis_settings(deadline=None)  # a shared, busy machine: time is not the property
@given(st.text(max_size=200))
def test_any_text_is_a_query_or_a_diagnostic_never_a_crash_int_3(text):
    try:
        parse(text, max_chars=500)
    except Diagnostic as diag:
        assert diag.number in {10, 12, 13, 27, 38, 39, 46, 80}


def test_booleans_are_left_associative_with_parentheses_int_3():
    q = parse("a or b and (c not d) sortby dc.title/sort.descending", max_chars=500)
    assert q.root == Boolean(
        "and",
        Boolean("or", Search("cql.serverchoice", "=", "a"), Search("cql.serverchoice", "=", "b")),
        Boolean("not", Search("cql.serverchoice", "=", "c"), Search("cql.serverchoice", "=", "d")),
    )
    assert q.sort == (SortKey("dc.title", True),)


def test_quoted_terms_keep_escaped_quotes_int_3():
    q = parse(r'dc.title = "the \"blue\" note"', max_chars=500)
    assert q.root == Search("dc.title", "=", 'the "blue" note')
