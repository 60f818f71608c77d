"""Counting a page's or a route's own database queries (Rule 9).

A signed-in patron's session row is written again when the idle clock passes a whole
minute (patrons.auth keeps seen-times to the minute, PRV-HIST-5). Whether a request
does that depends on the wall clock, not on the page, so the session table's queries
are left out of the figure a test compares.
"""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

SESSION_TABLE = "django_session"


def own_queries(client, url: str) -> int:
    """GET url (expecting 200) and return how many queries it made, sessions aside."""
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    return sum(1 for q in ctx.captured_queries if SESSION_TABLE not in q["sql"])
