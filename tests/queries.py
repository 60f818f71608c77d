"""Counting a page's or a route's own database queries (Rule 9).

A signed-in patron's session row is written again when the idle clock passes a whole
minute (patrons.auth keeps seen-times to the minute, PRV-HIST-5). Whether a request
does that depends on the wall clock, not on the page, so the session table's queries
are left out of the figure a test compares, and with them the savepoint Django's
session save opens around its write (inside a test's transaction: SAVEPOINT, the
UPDATE, RELEASE SAVEPOINT).

Circulation's rules, calendars and branches are kept per process for
QUIETSHELF_CIRC_CONFIG_CACHE_SECONDS (30 s) and read again after that: a count taken
just after they expire has their queries, the one before it not. While counting, they
are kept for an hour; the first page a test counts after its own set-up fills them.
"""

from __future__ import annotations

import re

from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

SESSION_TABLE = "django_session"
_OPEN = re.compile(r'^\s*SAVEPOINT\s+"?([\w]+)"?', re.IGNORECASE)
_CLOSE = re.compile(r'^\s*(?:RELEASE|ROLLBACK TO)\s+SAVEPOINT\s+"?([\w]+)"?', re.IGNORECASE)


def without_session(statements: list[str]) -> list[str]:
    """The statements that are not the session's own: its table, and the savepoints
    whose only business was a session write."""
    session_savepoints: set[str] = set()
    stack: list[str] = []
    for sql in statements:
        if m := _OPEN.match(sql):
            stack.append(m.group(1))
        elif _CLOSE.match(sql):
            if stack:
                stack.pop()
        elif SESSION_TABLE in sql and stack:
            session_savepoints.add(stack[-1])
    kept = []
    for sql in statements:
        m = _OPEN.match(sql) or _CLOSE.match(sql)
        if SESSION_TABLE in sql or (m and m.group(1) in session_savepoints):
            continue
        kept.append(sql)
    return kept


def own_queries(client, url: str) -> int:
    """GET url (expecting 200) and return how many queries it made, sessions aside."""
    with (
        override_settings(QUIETSHELF_CIRC_CONFIG_CACHE_SECONDS=3600),
        CaptureQueriesContext(connection) as ctx,
    ):
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    return len(without_session([q["sql"] for q in ctx.captured_queries]))
