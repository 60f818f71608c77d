"""Shared test fixtures: real databases, real browser, factories (tests/factories.py)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
MARC_DIR = SHARED_DATA / "marc"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def shared_data_missing(what: str) -> NoReturn:
    """A test needs ../shared/data/<what> (real MARC files, schemas) and it is not there.

    A clone without the data beside it skips such tests; under CI (CI=true) it is a
    failure instead, so a CI run never passes with the real-data tests left out (#14)."""
    message = f"../shared/data/{what} is not beside the repository"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: the shared test data must be there)", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def marc_dir() -> Path:
    if not MARC_DIR.is_dir():
        shared_data_missing("marc")
    return MARC_DIR


def _live_server_answers_without_nagle_delay() -> None:
    """The live server sends each answer's headers and body in two writes; a client that
    keeps the connection open (chromium, requests sessions in schemathesis and sickle)
    then waits for its own delayed ACK, about 40 ms, before the body comes. waitress,
    which serves production, sets TCP_NODELAY; the test server does the same, so a
    request costs what the application costs (#14 item 8: 3,800 schemathesis cases went
    from about 50 ms each to a few)."""
    import socket

    from django.core.servers.basehttp import ThreadedWSGIServer
    from django.test.testcases import LiveServerThread

    class NoDelayServer(ThreadedWSGIServer):
        def get_request(self):
            connection, address = super().get_request()
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return connection, address

    LiveServerThread.server_class = NoDelayServer


_live_server_answers_without_nagle_delay()


@pytest.fixture(autouse=True)
def _fast_password_hashes(settings):
    """Argon2id at small costs in the pytest process (tests/hashers.py; #14 item 8)."""
    from tests.hashers import FAST_ARGON2

    settings.PASSWORD_HASHERS = FAST_ARGON2


@pytest.fixture(scope="session")
def migrated_instances(tmp_path_factory):
    """Copies of an instance migrated once per session (tests/instances.py; #14 item 8)."""
    from tests.instances import MigratedInstances

    instances = MigratedInstances(tmp_path_factory.mktemp("migrated"))
    yield instances
    instances.close()


@pytest.fixture(scope="session")
def demo_instance(tmp_path_factory):
    """`quietshelf demo --no-serve` run once per session on its own SQLite instance
    (tests/instances.py: DemoRun). The demo always uses SQLite, so the PostgreSQL run
    skips the tests that need it."""
    from django.conf import settings

    from tests.instances import run_demo

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        pytest.skip("the demo uses its own SQLite instance; covered by the SQLite run")
    return run_demo(tmp_path_factory.mktemp("demo") / "instance")


@pytest.fixture
def demo_copy(demo_instance, tmp_path) -> Path:
    """A copy of the session's demo instance for a test that changes or serves it."""
    home = tmp_path / "demo-instance"
    shutil.copytree(demo_instance.home, home)  # keeps every file's 0600 / 0700 mode
    return home


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright (no downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture
def rate_window_start():
    """The search rate limit counts per clock minute (catalog.search.ratelimit, SEC-DOS-1):
    a test that fills the limit and expects the next search refused must not straddle
    a minute's end, or the count starts again. The clock moves back to this minute's
    first second and keeps ticking, so the test has the whole minute."""
    import time

    import time_machine

    now = time.time()
    with time_machine.travel(now - now % 60 + 1, tick=True):
        yield


@pytest.fixture
def is_postgres(settings) -> bool:
    return settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def pytest_configure(config):
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    # Database tests also get the privacy kernel's key store (a second database).
    from quietshelf.privacy.testing import add_keystore_to_db_tests

    add_keystore_to_db_tests(items)
