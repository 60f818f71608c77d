"""API requests through the real WSGI application (quietshelf.config.wsgi), not the test
client's handler: a bearer-token write works without cookies and sets none, and a
session-cookie write still needs its CSRF token (SEC-AUTH-1, SEC-CSRF-1).

These once also pinned a second, shorter middleware chain for bearer requests
(api/fastpath.py); it was removed by #14 item 5, its paired PERF-CIRC-2 runs being
in docs/performance.md.
"""

from __future__ import annotations

import io
import json

import pytest
from django.conf import settings
from django.core import signals
from django.db import close_old_connections
from django.test import Client

from quietshelf.api import services as token_services

pytestmark = pytest.mark.django_db(databases="__all__")


def _wsgi(path, body, headers):
    from quietshelf.config.wsgi import application

    payload = json.dumps(body).encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "testserver",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(payload)),
        "wsgi.input": io.BytesIO(payload),
        "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    } | headers
    seen = []
    # as the test client does: the test database connection stays open
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        result = application(environ, lambda status, hdrs, exc=None: seen.append((status, hdrs)))
        content = b"".join(result)
        result.close()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    status, hdrs = seen[0]
    return int(status.split()[0]), dict(hdrs), json.loads(content or b"{}"), environ


def test_bearer_api_write_without_cookies_sec_auth_1(cataloguer):
    """SEC-AUTH-1: a bearer request without cookies works, gets the protective headers,
    and nothing sets a cookie on it."""
    token = token_services.api_token_create(actor=None, username="cataloguer").token
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    status, hdrs, answer, environ = _wsgi(
        "/api/v1/branches", {"code": "FP1", "name": "Fast"}, headers
    )
    assert status == 201, answer
    assert hdrs["Cache-Control"] == "no-store"
    assert hdrs["X-Frame-Options"] and hdrs["X-Request-Id"]
    assert "Set-Cookie" not in hdrs
    # a wrong token is a 401 with the error shape
    status, _, answer, _ = _wsgi(
        "/api/v1/branches", {"code": "FP2", "name": "x"}, {"HTTP_AUTHORIZATION": "Bearer qs_nope"}
    )
    assert status == 401 and answer["error"]["code"]


def test_cookie_api_write_without_csrf_token_refused_sec_csrf_1(cataloguer):
    """SEC-CSRF-1: a request with a session cookie and no CSRF token is refused, with or
    without a (bad) bearer token."""
    client = Client()
    client.force_login(cataloguer)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    for extra in ({}, {"HTTP_AUTHORIZATION": "Bearer qs_not_a_token"}):
        headers = {"HTTP_COOKIE": cookie} | extra
        status, _, answer, environ = _wsgi(
            "/api/v1/branches", {"code": "CK1", "name": "x"}, headers
        )
        assert status == 403 and answer["error"]["code"] == "forbidden"
