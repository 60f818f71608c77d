"""Password set/reset by a one-time e-mailed link, over real SMTP on loopback (PRV-AUTH-1)."""

from __future__ import annotations

import pytest
import time_machine

from quietshelf.core.errors import PermissionDenied
from quietshelf.patrons.auth import SESSION_PATRON
from quietshelf.portal import services
from quietshelf.portal.models import PasswordLink
from tests.factories import StaffUserFactory

from .conftest import PASSWORD, link_path, sign_in, trained_admin

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "amber-fjord-kettle-42"


def _ask_for_link(client, django_capture_on_commit_callbacks, identifier="230099990001"):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/account/password/forgot/", {"identifier": identifier})
    assert response.status_code == 200
    return response


def test_reset_link_by_real_smtp_single_use_prv_auth_1(
    client, patron, smtp_inbox, django_capture_on_commit_callbacks
):
    _ask_for_link(client, django_capture_on_commit_callbacks)
    rcpt, message, raw = smtp_inbox.wait_for(1)
    assert rcpt == ["ada.holm@example.org"]
    text = raw.decode("utf-8", "replace")
    # the link only: no password, no card number, no name
    assert "230099990001" not in text
    assert PASSWORD not in text
    assert str(patron.family_name) not in text
    path = link_path(message)
    # the token is stored hashed only
    token = path.rstrip("/").rsplit("/", 1)[1]
    assert not PasswordLink.objects.filter(token_hash=token).exists()

    landing = client.get(path)
    assert landing.status_code == 302
    assert landing["Location"] == "/account/password/new/"  # token leaves the URL at once
    form = client.get("/account/password/new/")
    assert form.status_code == 200
    done = client.post(
        "/account/password/new/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert done.status_code == 302 and done["Location"] == "/account/sign-in/"
    assert sign_in(client, "230099990001", PASSWORD).status_code == 400
    assert sign_in(client, "230099990001", NEW_PASSWORD).status_code == 302
    assert SESSION_PATRON in client.session

    # single use: the same link again is refused
    again = client.get(path)
    assert again.status_code == 404
    assert "expired or has been used" in again.content.decode()


def test_reset_link_expires_after_an_hour_prv_auth_1(
    client, patron, smtp_inbox, django_capture_on_commit_callbacks
):
    with time_machine.travel("2026-03-02 10:00:00+00:00", tick=False) as clock:
        _ask_for_link(client, django_capture_on_commit_callbacks)
        _, message, _ = smtp_inbox.wait_for(1)
        path = link_path(message)
        clock.shift(61 * 60)
        assert client.get(path).status_code == 404


def test_link_cannot_be_used_after_it_expires_mid_form_prv_auth_1(
    client, patron, smtp_inbox, django_capture_on_commit_callbacks
):
    with time_machine.travel("2026-03-02 10:00:00+00:00", tick=False) as clock:
        _ask_for_link(client, django_capture_on_commit_callbacks)
        _, message, _ = smtp_inbox.wait_for(1)
        assert client.get(link_path(message)).status_code == 302
        clock.shift(61 * 60)
        response = client.post(
            "/account/password/new/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
        )
        assert response.status_code == 404
    patron.refresh_from_db()
    assert patron.check_password(PASSWORD)


def test_weak_passwords_refused_at_reset_prv_auth_1(
    client, patron, smtp_inbox, django_capture_on_commit_callbacks
):
    _ask_for_link(client, django_capture_on_commit_callbacks)
    _, message, _ = smtp_inbox.wait_for(1)
    client.get(link_path(message))
    for weak in ("short1", "password123", "12345678901"):
        response = client.post("/account/password/new/", {"password1": weak, "password2": weak})
        assert response.status_code == 200
        assert 'class="errorlist"' in response.content.decode()
    patron.refresh_from_db()
    assert patron.check_password(PASSWORD)


def test_unknown_identifier_gets_same_answer_and_no_mail_prv_auth_1(
    client, patron, smtp_inbox, django_capture_on_commit_callbacks
):
    known = _ask_for_link(client, django_capture_on_commit_callbacks, "230099990001")
    unknown = _ask_for_link(client, django_capture_on_commit_callbacks, "nobody@example.invalid")
    assert known.content.decode().count("a link is on its way") == 1
    assert unknown.content.decode().count("a link is on its way") == 1
    smtp_inbox.wait_for(1)
    assert len(smtp_inbox.messages) == 1


def test_new_link_replaces_the_old_one(
    client, patron, smtp_inbox, django_capture_on_commit_callbacks
):
    _ask_for_link(client, django_capture_on_commit_callbacks)
    _ask_for_link(client, django_capture_on_commit_callbacks)
    first = link_path(smtp_inbox.wait_for(1)[1])
    second = link_path(smtp_inbox.wait_for(2)[1])
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 302


def test_reset_clears_lockout(
    client, patron, smtp_inbox, django_capture_on_commit_callbacks, settings
):
    from django.test import Client

    settings.QUIETSHELF_PATRON_LOCKOUT_FAILURES = 3
    attacker = Client(REMOTE_ADDR="198.51.100.7")
    for _ in range(3):
        sign_in(attacker, "230099990001", "wrong-guess-000x")
    assert sign_in(attacker, "230099990001").status_code == 429
    _ask_for_link(attacker, django_capture_on_commit_callbacks)
    attacker.get(link_path(smtp_inbox.wait_for(1)[1]))
    attacker.post("/account/password/new/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert sign_in(attacker, "230099990001", NEW_PASSWORD).status_code == 302


def test_staff_sends_link_but_never_sees_secret_prv_auth_1(
    patron, smtp_inbox, django_capture_on_commit_callbacks
):
    admin = trained_admin()
    with django_capture_on_commit_callbacks(execute=True):
        result = services.send_password_link(actor=admin, patron_id=patron.pk)
    assert result is None  # nothing comes back to the staff member
    rcpt, message, raw = smtp_inbox.wait_for(1)
    assert rcpt == ["ada.holm@example.org"]
    assert "230099990001" not in raw.decode("utf-8", "replace")
    link = PasswordLink.objects.get(patron=patron)
    assert link.sent_by_staff
    from quietshelf.privacy.models import AuditEntry

    assert AuditEntry.objects.filter(
        action="password_link_sent", object_id=str(patron.pk), actor_id=str(admin.pk)
    ).exists()


def test_staff_without_permission_cannot_send_link(patron):
    clerk = StaffUserFactory(username="no-rights-clerk")
    with pytest.raises(PermissionDenied):
        services.send_password_link(actor=clerk, patron_id=patron.pk)
    assert not PasswordLink.objects.exists()


def test_retention_purges_old_links_and_failures(client, patron, settings):
    """PRV-RET: password links and sign-in failures go after their retention rules."""
    import datetime as dt

    from quietshelf.portal.models import SignInFailure

    with time_machine.travel("2026-03-01 10:00:00+00:00", tick=False) as clock:
        services.password_link_request(identifier="230099990001")
        sign_in(client, "230099990001", "wrong-guess-000x")
        assert PasswordLink.objects.count() == 1 and SignInFailure.objects.count() == 1
        clock.shift(dt.timedelta(days=2))
        assert services.portal_purge_expired() == {"sign_in_failures": 1, "password_links": 0}
        clock.shift(dt.timedelta(days=6))
        assert services.portal_purge_expired() == {"sign_in_failures": 0, "password_links": 1}


def test_mail_failure_logged_without_address(
    patron, settings, caplog, django_capture_on_commit_callbacks
):
    """PRV-LOG-1: an SMTP failure is logged by patron id and error type, never the address."""
    import logging
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", closed_port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    with caplog.at_level(logging.INFO), django_capture_on_commit_callbacks(execute=True):
        services.password_link_request(identifier="230099990001")
    assert str(patron.pk) in caplog.text
    assert "ada.holm" not in caplog.text
    assert "230099990001" not in caplog.text


def test_link_uses_site_url_in_production_not_host_header(
    client, patron, settings, django_capture_on_commit_callbacks
):
    """A forged Host header cannot point a password link at another site."""
    from django.core import mail

    settings.PRODUCTION = True
    settings.QUIETSHELF_SITE_URL = "https://library.example.org"
    settings.ALLOWED_HOSTS = ["library.example.org", "evil.example"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/account/password/forgot/", {"identifier": "230099990001"}, HTTP_HOST="evil.example"
        )
    assert "https://library.example.org/account/password/link/" in mail.outbox[0].body
    assert "evil.example" not in mail.outbox[0].body
