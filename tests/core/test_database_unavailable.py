"""While the database is unreachable every request answers 503 with Retry-After (issue 18).

The app runs in its own process under waitress, pointed at a PostgreSQL
that is not there (a closed port on this machine), and is asked over real
HTTP. Nothing is mocked: the driver's own connection failure travels
through the middleware, the API's error mapping and Django's handler500.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from quietshelf.core.views import RETRY_AFTER_SECONDS

SERVE = """
import os, sys
import django
django.setup()
from waitress import serve
from quietshelf.config.wsgi import application
serve(application, host="127.0.0.1", port=int(sys.argv[1]), threads=2)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app_without_database(tmp_path_factory):
    dead = _free_port()  # nothing listens here: connection refused, as while PostgreSQL restarts
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "QUIETSHELF_KEYSTORE_URL"},
        "DJANGO_SETTINGS_MODULE": "quietshelf.config.settings",
        "QUIETSHELF_ENV": "test",
        "QUIETSHELF_HOME": str(tmp_path_factory.mktemp("instance")),
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{dead}/quietshelf_away",
    }
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", SERVE, str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the app did not start")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)


def _ask(url: str, *, method="GET", data: bytes | None = None, headers=None):
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", "/api/v1/health", {}),
        ("GET", "/api/v1/records/1", {}),
        ("GET", "/api/v1/search?q=fjord", {}),
        ("POST", "/api/v1/records", {"Authorization": "Bearer qs_not_checked_without_db"}),
        ("GET", "/api/v1/circulation/me/loans", {"Cookie": "{session}=" + "a" * 32}),
    ],
)
def test_api_answers_503_with_retry_after_while_the_database_is_away_sec_err_1(
    app_without_database, method, path, headers
):
    from django.conf import settings

    headers = {k: v.replace("{session}", settings.SESSION_COOKIE_NAME) for k, v in headers.items()}
    status, response_headers, body = _ask(
        app_without_database + path,
        method=method,
        data=b"{}" if method == "POST" else None,
        headers={"Content-Type": "application/json", **headers},
    )
    assert status == 503, body[:300]
    assert response_headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    error = json.loads(body)["error"]
    assert error["code"] == "database_unavailable" and "try again" in error["message"]


def test_pages_answer_503_with_retry_after_while_the_database_is_away_sec_err_1(
    app_without_database,
):
    status, headers, body = _ask(app_without_database + "/privacy/")
    assert status == 503 and headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert b"try again" in body and b"Traceback" not in body


@pytest.mark.django_db
def test_health_says_the_database_answers_when_it_does_sec_err_1(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
