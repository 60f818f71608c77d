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


class _TcpProxy:
    """A TCP relay to PostgreSQL that can be cut and restored, as a restart does.

    Real sockets on asyncio in a thread of its own; ``cut()`` closes the
    listener and every relayed connection, ``restore()`` listens again.
    """

    def __init__(self, target_port: int):
        import asyncio
        import threading

        self.target_port = target_port
        self.port = _free_port()
        self.loop = asyncio.new_event_loop()
        self.server = None
        self.writers: set = set()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def _call(self, coro):
        import asyncio

        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    async def _pipe(self, reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _client(self, reader, writer):
        import asyncio

        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _start(self):
        import asyncio

        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)

    async def _stop(self):
        self.server.close()
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()
        await self.server.wait_closed()

    def restore(self):
        self._call(self._start())

    def cut(self):
        self._call(self._stop())


@pytest.mark.django_db(transaction=True)
def test_a_postgresql_restart_gives_503_then_the_app_recovers_sec_err_1(settings, tmp_path):
    """While PostgreSQL is away (the relay to it cut) every request is 503 with
    Retry-After, never 500; once it is back, the same process answers 200 again."""
    from quietshelf.catalog import services
    from tests.catalog.marcbuild import make_record

    db = settings.DATABASES["default"]
    if not db["ENGINE"].endswith("postgresql"):
        pytest.skip("needs PostgreSQL (DATABASE_URL)")
    record = services.record_create_from_marc(marc=make_record("Restart", control="RS1"))
    proxy = _TcpProxy(int(db.get("PORT") or 5432))
    proxy.restore()
    port = _free_port()
    user = db.get("USER") or "postgres"
    env = {
        **{k: v for k, v in os.environ.items() if k != "QUIETSHELF_KEYSTORE_URL"},
        "DJANGO_SETTINGS_MODULE": "quietshelf.config.settings",
        "QUIETSHELF_ENV": "test",
        "QUIETSHELF_HOME": str(tmp_path),
        # the test database (its key store is "<name>_keystore", beside it)
        "DATABASE_URL": f"postgres://{user}@127.0.0.1:{proxy.port}/{db['NAME']}",
    }
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", SERVE, str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and status != 200:
            try:
                status = _ask(f"{base}/api/v1/records/{record.pk}")[0]
            except OSError:
                time.sleep(0.3)
        assert status == 200
        proxy.cut()
        answers = [_ask(f"{base}{path}") for path in (f"/api/v1/records/{record.pk}",) * 3]
        answers.append(_ask(f"{base}/api/v1/health"))
        for status, headers, body in answers:
            assert status == 503, body[:300]
            assert headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
            assert json.loads(body)["error"]["code"] == "database_unavailable"
        proxy.restore()
        statuses = [_ask(f"{base}/api/v1/records/{record.pk}")[0] for _ in range(3)]
        assert statuses[-1] == 200 and 500 not in statuses, statuses
        assert _ask(f"{base}/api/v1/health")[0] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        proxy.cut()
        proxy.loop.call_soon_threadsafe(proxy.loop.stop)
