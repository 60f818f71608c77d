"""SEC-SES-1: lockout by address and account (django-axes, no names in clear), session ends."""

from __future__ import annotations

import io
import logging
import time

import pytest
from axes.models import AccessAttempt
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client

from quietshelf.accounts import services, sessions
from quietshelf.accounts.models import StaffSession
from quietshelf.accounts.testing import TEST_PASSWORD, make_staff, signed_in_client

pytestmark = pytest.mark.django_db


def _post_login(client, username, password, ip):
    return client.post(
        "/staff/login/", {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_lockout_by_address_and_account_together_sec_ses_1(settings):
    settings.AXES_FAILURE_LIMIT = 5
    make_staff("Locked.Person")
    client = Client()
    for _ in range(5):
        r = _post_login(client, "Locked.Person", "wrong-password-1", "10.0.0.1")
    # Now locked from this address, even with the right password.
    r = _post_login(client, "Locked.Person", TEST_PASSWORD, "10.0.0.1")
    assert r.status_code == 429 and b"locked-out" in r.content
    assert "_auth_user_id" not in client.session
    # The same account from another network still signs in (axes keeps /24, PRV-LOG-1).
    other = Client()
    r = _post_login(other, "Locked.Person", TEST_PASSWORD, "10.0.1.2")
    assert r.status_code == 302 and other.session.get("_auth_user_id")
    # Another account from the locked address still signs in.
    make_staff("Neighbour")
    third = Client()
    r = _post_login(third, "Neighbour", TEST_PASSWORD, "10.0.0.1")
    assert r.status_code == 302
    # Recovery: an administrator clears the lockout.
    call_command("axes_reset", stdout=io.StringIO())
    r = _post_login(Client(), "Locked.Person", TEST_PASSWORD, "10.0.0.1")
    assert r.status_code == 302


def test_axes_stores_no_username_in_clear_sec_ses_1(settings, caplog):
    make_staff("Hedda.Clearname")
    client = Client()
    with caplog.at_level(logging.DEBUG):
        _post_login(client, "Hedda.Clearname", "wrong-password-2", "10.0.0.9")
    assert "AXES" in caplog.text  # axes did log …
    assert "hedda" not in caplog.text.lower() and "wrong-password" not in caplog.text  # … no name
    attempt = AccessAttempt.objects.get()
    row = " ".join(
        str(v) for v in AccessAttempt.objects.values_list("username", "get_data", "post_data").get()
    )
    assert "hedda" not in row.lower() and "wrong-password" not in row
    assert len(attempt.username) == 64  # a keyed digest
    # The same name typed differently counts on the same digest.
    _post_login(client, "HEDDA.CLEARNAME", "wrong-password-3", "10.0.0.9")
    assert AccessAttempt.objects.get().failures_since_start == 2


def test_new_session_id_at_sign_in():
    make_staff("cycler")
    client = Client()
    client.get("/staff/login/")
    before = client.cookies.get("sessionid")
    _post_login(client, "cycler", TEST_PASSWORD, "10.0.0.3")
    after = client.cookies["sessionid"].value
    assert before is None or before.value != after


def test_logout_ends_every_session_of_the_user_sec_ses_1():
    user = make_staff("two-browsers")
    first = Client()
    second = Client()
    _post_login(first, "two-browsers", TEST_PASSWORD, "10.0.0.4")
    _post_login(second, "two-browsers", TEST_PASSWORD, "10.0.0.5")
    assert StaffSession.objects.filter(user=user).count() == 2
    assert second.get("/staff/").status_code == 200
    first.post("/staff/logout/")
    assert second.get("/staff/").status_code == 302
    assert not StaffSession.objects.filter(user=user).exists()


def test_disable_ends_sessions_and_refuses_sign_in_sec_ses_1():
    admin = make_staff("admin-d", roles=["administrator"])
    user = make_staff("leaver-d")
    victim = Client()
    _post_login(victim, "leaver-d", TEST_PASSWORD, "10.0.0.6")
    key = victim.session.session_key
    assert victim.get("/staff/").status_code == 200
    manager = signed_in_client(admin)
    r = manager.post(f"/staff/accounts/staff/{user.pk}/active/", {"active": "0"})
    assert r.status_code == 302
    assert not Session.objects.filter(session_key=key).exists()
    assert victim.get("/staff/").status_code == 302
    again = _post_login(Client(), "leaver-d", TEST_PASSWORD, "10.0.0.6")
    assert again.status_code == 200  # the form again, not a redirect
    services.staff_set_active(actor=None, user=user, active=True)
    assert _post_login(Client(), "leaver-d", TEST_PASSWORD, "10.0.0.6").status_code == 302


def test_idle_timeout_ends_only_this_session_sec_ses_1():
    user = make_staff("idler")
    client = Client()
    other = Client()
    _post_login(client, "idler", TEST_PASSWORD, "10.0.0.7")
    _post_login(other, "idler", TEST_PASSWORD, "10.0.0.8")
    session = client.session
    session[sessions.SEEN] = time.time() - 31 * 60
    session.save()
    r = client.get("/staff/catalogue/")
    assert r.status_code == 302 and "idle=1" in r["Location"]
    assert client.get("/staff/").status_code == 302
    assert other.get("/staff/").status_code == 200
    assert StaffSession.objects.filter(user=user).count() == 1


def test_absolute_timeout_is_the_cookie_age(settings):
    assert settings.SESSION_COOKIE_AGE <= 12 * 3600
    assert settings.QUIETSHELF_SESSION_IDLE_SECONDS <= settings.SESSION_COOKIE_AGE


def test_axes_keeps_the_network_only_and_its_rows_expire_prv_log_1(settings):
    import datetime as dt

    from django.utils import timezone

    from quietshelf.privacy import retention

    make_staff("Ragna.Net")
    _post_login(Client(), "Ragna.Net", "wrong-password-4", "192.0.2.77")
    attempt = AccessAttempt.objects.get()
    assert attempt.ip_address == "192.0.2.0"
    assert retention.run(dry_run=True, only=["sign-in attempts"]).reports[0].due == 0
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(days=91))
    assert retention.run(only=["sign-in attempts"]).reports[0].done == 1
    assert not AccessAttempt.objects.exists()
