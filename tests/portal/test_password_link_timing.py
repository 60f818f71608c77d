"""SEC-AUTH-1: "forgot my password" answers in the same time whether or not a mail goes out.

Over real HTTP (the live server) to a real SMTP server (aiosmtpd) that takes
two seconds to accept each message: the mail is sent after the response, so
neither answer waits for it, and both take about as long.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import re
import socket
import time
import urllib.parse
import urllib.request

import pytest
from aiosmtpd.controller import Controller

from .conftest import _Inbox

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

SMTP_DELAY = 2.0  # long beside a busy machine's slowest answer, so load cannot pass for it


class _SlowInbox(_Inbox):
    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        await asyncio.sleep(SMTP_DELAY)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_smtp(settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = _SlowInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield inbox
    finally:
        controller.stop()


def _ask(base: str, identifier: str) -> float:
    """Seconds from sending the form to having the whole answer."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/account/password/forgot/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "identifier": identifier})
    started = time.perf_counter()
    with opener.open(base + "/account/password/forgot/", data.encode(), timeout=10) as answer:
        assert answer.status == 200
        answer.read()
    return time.perf_counter() - started


def test_link_request_takes_the_same_time_with_or_without_a_mail_sec_auth_1(
    live_server, patron, slow_smtp
):
    # Three on each side (each known one sends a mail; five an hour are allowed): the
    # fastest of three is what a timing attacker would compare, and a busy machine's
    # slow answer does not decide the test.
    known = [_ask(live_server.url, "230099990001") for _ in range(3)]
    unknown = [_ask(live_server.url, "no-such-card-000") for _ in range(3)]
    # The mails did go, afterwards: about SMTP_DELAY each, after the answers.
    rcpt, _message, _raw = slow_smtp.wait_for(3, timeout=40)
    assert rcpt == ["ada.holm@example.org"]
    assert min(known) < SMTP_DELAY / 2, known  # the answers do not wait for their mails
    assert abs(min(known) - min(unknown)) < SMTP_DELAY / 4, (known, unknown)
