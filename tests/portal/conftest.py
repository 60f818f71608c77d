"""Fixtures for the patron portal tests: fictional patrons with a web password."""

from __future__ import annotations

import itertools

import pytest

from quietshelf.patrons import services as patron_services

PASSWORD = "quiet-lantern-orchard-7"
_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _keep_audit_seal_clock():
    """time-machine also moves time.monotonic(); the audit sealer remembers its last run by
    that clock, so a seal during time travel would stop later sealing in this process.
    Put its memory back after each test."""
    from quietshelf.privacy import audit

    before = getattr(audit, "_last_seal", None)
    yield
    if before is not None:
        audit._last_seal = before


@pytest.fixture
def make_patron(db):
    def make(*, email: str | None = None, password: str | None = PASSWORD, **extra):
        n = next(_numbers)
        return patron_services.patron_register(
            actor=None,
            given_name=extra.pop("given_name", f"Tove{n}"),
            family_name=extra.pop("family_name", f"Lindqvist{n}"),
            barcode=extra.pop("barcode", f"2300{n:08d}"),
            email=email if email is not None else f"tove{n}@example.org",
            password=password,
            **extra,
        )

    return make


@pytest.fixture
def patron(make_patron):
    return make_patron(email="ada.holm@example.org", barcode="230099990001")


@pytest.fixture
def other_patron(make_patron):
    return make_patron(
        email="bo.strand@example.net",
        barcode="230099990002",
        given_name="Bo",
        family_name="Strandvik",
        phone="+47 912 34 567",
    )


def sign_in(client, identifier: str, password: str = PASSWORD, **extra):
    return client.post(
        "/account/sign-in/", {"identifier": identifier, "password": password, **extra}, **{}
    )


@pytest.fixture
def signed_in(client, patron):
    response = sign_in(client, "230099990001")
    assert response.status_code == 302, response.content[:500]
    return client


# --- a real SMTP server on loopback (aiosmtpd) -------------------------------------------


class _Inbox:
    def __init__(self):
        import threading

        self.messages: list = []
        self._cond = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        import email

        message = email.message_from_bytes(envelope.content)
        with self._cond:
            self.messages.append((list(envelope.rcpt_tos), message, envelope.content))
            self._cond.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int = 1, timeout: float = 15.0):
        with self._cond:
            self._cond.wait_for(lambda: len(self.messages) >= count, timeout=timeout)
        assert len(self.messages) >= count, "the SMTP server received no message"
        return self.messages[count - 1]


@pytest.fixture
def smtp_inbox(settings):
    """aiosmtpd listening on 127.0.0.1; Django's SMTP backend pointed at it."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield inbox
    finally:
        controller.stop()


def link_path(message) -> str:
    """The /account/password/link/... path from a received e-mail."""
    import re

    body = message.get_payload(decode=True).decode()
    match = re.search(r"https?://[^/\s]+(/account/password/link/[A-Za-z0-9_\-]+/)", body)
    assert match, body
    return match.group(1)


def trained_admin(username: str = "desk-admin"):
    """A superuser in an MFA-verified session who acknowledged the privacy training."""
    from quietshelf.accounts import services as account_services
    from tests.factories import StaffUserFactory

    admin = StaffUserFactory(username=username, is_superuser=True)
    admin.mfa_verified = True
    text = account_services.training_publish(actor=None, title="Training", body="Be careful.")
    account_services.training_acknowledge(actor=admin, version=text.version)
    return admin
