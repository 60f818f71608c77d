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
