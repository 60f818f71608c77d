"""Fixtures for the notice tests: loans, holds and fees for fictional patrons, and real
servers on loopback (aiosmtpd for SMTP, http.server for the SMS gateway)."""

from __future__ import annotations

import datetime as dt
import http.server
import itertools
import json
import socket
import threading

import pytest
from django.utils import timezone

from quietshelf.circulation.models import Loan
from tests.circulation.conftest import _fresh_config_cache, circ, item, patron  # noqa: F401

_n = itertools.count(1)
TODAY = dt.date(2026, 3, 2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def _notice_settings(settings, tmp_path):
    settings.QUIETSHELF_NOTICE_DUE_SOON_DAYS = 3
    settings.QUIETSHELF_NOTICE_OVERDUE_DAYS = [1, 8, 15]
    settings.QUIETSHELF_NOTICE_TITLES_ALLOWED = False
    settings.QUIETSHELF_NOTICE_RETRY_BASE_SECONDS = 60
    settings.QUIETSHELF_NOTICE_MAX_ATTEMPTS = 4
    settings.QUIETSHELF_SMS_GATEWAY = "none"
    settings.QUIETSHELF_LIBRARY_NAME = "Fjordvik Library"
    settings.DEFAULT_FROM_EMAIL = "library@fjordvik.example"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.LANGUAGE_CODE = "en"


def end_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(23, 59)))


@pytest.fixture
def loan(circ, item):  # noqa: F811
    """loan(patron, due_date, record=None): an open loan of a new item, due that day.

    Made as a row (not through the desk) so these tests do not depend on check-out rules.
    """

    def make(p, due: dt.date, record=None) -> Loan:
        it = item(record=record)
        return Loan.objects.create(
            item=it,
            patron=p,
            patron_group=p.group,
            branch=circ["north"],
            checked_out_at=end_of(due - dt.timedelta(days=21)),
            due_at=end_of(due),
        )

    return make


@pytest.fixture
def reader(patron):  # noqa: F811
    """A patron with an e-mail address (and optionally a phone)."""

    def make(**kw):
        n = next(_n)
        kw.setdefault("email", f"reader{n}@fjordvik.example")
        return patron(**kw)

    return make


# --- SMTP on loopback -------------------------------------------------------------------


class Inbox:
    """An aiosmtpd handler: accepts, refuses (550), defers (451) or drops the connection."""

    def __init__(self):
        self.mode = "accept"
        self.messages: list = []
        self.sessions = set()
        self._cond = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        import email

        if self.mode == "refuse":
            return "550 5.7.1 Message refused"
        if self.mode == "defer":
            return "451 4.3.0 Try again later"
        if self.mode == "drop":
            server.transport.close()
            return "421 4.3.2 Closing"
        message = email.message_from_bytes(envelope.content)
        with self._cond:
            self.messages.append((list(envelope.rcpt_tos), message))
            self.sessions.add(id(session))
            self._cond.notify_all()
        return "250 OK"

    def bodies(self) -> list[str]:
        return [m.get_payload(decode=True).decode() for _to, m in self.messages]

    def ids(self) -> list[str]:
        return [m["Message-ID"] for _to, m in self.messages]


def point_django_at(settings, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5


@pytest.fixture
def smtp(settings):
    """aiosmtpd on 127.0.0.1 (a free port) with Django's SMTP backend pointed at it."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.port = port
    inbox.controller = controller
    point_django_at(settings, port)
    try:
        yield inbox
    finally:
        controller.stop()


# --- an SMS gateway on loopback --------------------------------------------------------------


class Gateway:
    def __init__(self):
        self.status = 200
        self.hang = 0.0
        self.received: list = []


@pytest.fixture
def sms_gateway(settings):
    """http.server in a thread answering 200, 500 or hanging, as told."""
    gateway = Gateway()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server hook name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if gateway.hang:
                threading.Event().wait(gateway.hang)
            if gateway.status == 200:
                gateway.received.append((json.loads(body), self.headers.get("Authorization")))
            self.send_response(gateway.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.handle_error = lambda request, address: None  # a client that timed out hung up
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.QUIETSHELF_SMS_GATEWAY = "http"
    settings.QUIETSHELF_SMS_URL = f"http://127.0.0.1:{server.server_address[1]}/send"
    settings.QUIETSHELF_SMS_TOKEN = "test-token"
    settings.QUIETSHELF_SMS_TIMEOUT = 1
    gateway.url = settings.QUIETSHELF_SMS_URL
    try:
        yield gateway
    finally:
        server.shutdown()
        server.server_close()
