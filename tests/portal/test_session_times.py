"""The patron's session keeps times to the minute, never the second (PRV-HIST-5, SEC-SES-1)."""

from __future__ import annotations

import time_machine

from quietshelf.patrons.auth import SESSION_SEEN, SESSION_STARTED

from .conftest import sign_in


def test_session_times_are_whole_minutes_prv_hist_5(client, patron):
    with time_machine.travel("2026-03-02 10:00:37+00:00", tick=False) as clock:
        sign_in(client, "230099990001")
        started = client.session[SESSION_STARTED]
        assert started % 60 == 0 and client.session[SESSION_SEEN] % 60 == 0
        clock.shift(95)  # 10:02:12
        assert client.get("/account/").status_code == 200
        seen = client.session[SESSION_SEEN]
        assert seen % 60 == 0 and seen == started + 120


def test_query_counts_leave_out_the_once_a_minute_session_write_rule_9(client, patron):
    """Rule 9's query-count tests compare a page's own queries: the seen-time written
    when a whole minute has passed (PRV-HIST-5) is the session's, not the page's.
    Without tests/queries.py leaving it out, these counts differ by the write and the
    savepoint around it, and a test fails by when it ran (CI, 7 December)."""
    from django.db import connection
    from django.test import override_settings
    from django.test.utils import CaptureQueriesContext

    from tests.queries import own_queries, without_session

    with (
        time_machine.travel("2026-03-02 10:00:37+00:00", tick=False) as clock,
        override_settings(QUIETSHELF_CIRC_CONFIG_CACHE_SECONDS=3600),  # see tests/queries.py
    ):
        sign_in(client, "230099990001")
        own_queries(client, "/account/loans/")  # per-process caches warmed
        with CaptureQueriesContext(connection) as same_minute:
            assert client.get("/account/loans/").status_code == 200
        clock.shift(60)  # the next whole minute: the seen-time is written
        with CaptureQueriesContext(connection) as next_minute:
            assert client.get("/account/loans/").status_code == 200
        assert client.session[SESSION_SEEN] == client.session[SESSION_STARTED] + 60
    raw = [len(same_minute.captured_queries), len(next_minute.captured_queries)]
    assert raw[1] > raw[0]  # the write happened, so the test below means something
    own = [
        len(without_session([q["sql"] for q in ctx.captured_queries]))
        for ctx in (same_minute, next_minute)
    ]
    assert own[0] == own[1]
