"""SEC-AUTH-1: wrong second-factor answers are counted per account in the database.

Before issue 13 the count lived in the pending session, so signing in again
with the password gave five more tries without end. Now TOTP codes, recovery
codes and security-key assertions all count, across sign-ins and devices;
the limit locks the second factor with a growing back-off, the account
holder is told by e-mail, and administrators see the lock.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from quietshelf.accounts import mfa, policy, services
from quietshelf.accounts.models import SecondFactorGuard
from quietshelf.accounts.testing import TEST_PASSWORD, add_totp, make_staff, signed_in_client
from quietshelf.privacy.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.QUIETSHELF_MFA_MAX_FAILURES = 10
    settings.QUIETSHELF_MFA_LOCK_SECONDS = 900
    settings.QUIETSHELF_MFA_LOCK_MAX_SECONDS = 86400


def _wrong(key: str) -> str:
    """A six-digit code that is not the one the authenticator shows now (nor next to it)."""
    near = {mfa.totp_code(key, at=time.time() + 30 * k) for k in (-2, -1, 0, 1, 2)}
    return next(f"{n:06d}" for n in range(1000000) if f"{n:06d}" not in near)


def _password_step(username: str) -> Client:
    client = Client()  # a new browser each time: the count cannot live in a session
    r = client.post("/staff/login/", {"username": username, "password": TEST_PASSWORD})
    assert r.status_code == 302 and r["Location"].endswith("/staff/accounts/verify/")
    return client


def test_five_sign_ins_of_five_wrong_codes_lock_the_second_factor_sec_auth_1(
    django_capture_on_commit_callbacks,
):
    user = make_staff("lock-me", roles=["administrator"])
    key = add_totp(user)
    services.second_factor_alert_email_set(actor=user, email="lock-me@example.org")
    wrong = _wrong(key)
    statuses = []
    with django_capture_on_commit_callbacks(execute=True):
        for _sign_in in range(5):
            client = _password_step("lock-me")
            for _try in range(5):
                statuses.append(client.post("/staff/accounts/verify/", {"code": wrong}).status_code)
    # "That code is not right." four times, then "sign in again" (the per-sign-in limit)
    assert statuses[:10] == [200, 200, 200, 200, 302, 200, 200, 200, 200, 429]
    assert statuses[10:] == [429] * 15  # locked from the tenth wrong code, whatever the session

    guard = SecondFactorGuard.objects.get(user=user)
    assert guard.locked_until > timezone.now() + dt.timedelta(minutes=14)

    # the right code is refused while locked, and nothing is signed in
    client = _password_step("lock-me")
    r = client.post("/staff/accounts/verify/", {"code": mfa.totp_code(key)})
    assert r.status_code == 429 and 'id="mfa-locked"' in r.content.decode()
    assert int(r["Retry-After"]) > 800
    assert client.get("/staff/").status_code == 302
    with pytest.raises(services.SecondFactorLocked):
        services.second_factor_verify(user=user, token=mfa.totp_code(key))

    # the account holder is told, once per lock, without the code or the password
    [message] = mail.outbox
    assert message.to == ["lock-me@example.org"]
    assert "locked" in message.subject and wrong not in message.body
    assert AuditEntry.objects.filter(action="locked", object_id=str(user.pk)).count() == 1


def test_the_lock_grows_with_each_lock_in_a_row_and_a_right_code_clears_it_sec_auth_1():
    user = make_staff("backoff")
    key = add_totp(user)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(10):
            assert services.second_factor_verify(user=user, token=_wrong(key)) is None
        first = SecondFactorGuard.objects.get(user=user).locked_until - timezone.now()
    with time_machine.travel(start + dt.timedelta(minutes=16), tick=False):
        for _ in range(10):
            assert services.second_factor_verify(user=user, token=_wrong(key)) is None
        second = SecondFactorGuard.objects.get(user=user).locked_until - timezone.now()
    assert first == dt.timedelta(minutes=15) and second == dt.timedelta(minutes=30)
    with time_machine.travel(start + dt.timedelta(minutes=47), tick=True):
        assert services.second_factor_verify(user=user, token=mfa.totp_code(key)) == "totp"
        guard = SecondFactorGuard.objects.get(user=user)
        assert (guard.failures, guard.locks, guard.locked_until) == (0, 0, None)


def test_recovery_codes_and_security_keys_count_and_are_refused_while_locked_sec_auth_1():
    user = make_staff("mixed")
    add_totp(user)
    codes = services.recovery_codes_regenerate(actor=user)
    for _ in range(5):
        assert services.second_factor_verify(user=user, token="ABCDE-FGHJK") is None
    for _ in range(5):
        services.second_factor_assertion(user=user, accepted=False)
    assert SecondFactorGuard.objects.get(user=user).locked_until is not None
    with pytest.raises(services.SecondFactorLocked):
        services.second_factor_verify(user=user, token=codes[0])
    with pytest.raises(services.SecondFactorLocked):
        services.second_factor_assertion(user=user, accepted=True)


def test_a_locked_security_key_sign_in_answers_429_with_retry_after_sec_auth_1():
    user = make_staff("key-locked")
    add_totp(user)
    for _ in range(10):
        services.second_factor_assertion(user=user, accepted=False)
    client = _password_step("key-locked")
    r = client.post("/staff/accounts/verify/key/options/")
    assert r.status_code == 429 and int(r["Retry-After"]) > 0
    assert set(r.json()) == {"error"}


def test_reauth_codes_count_too_sec_auth_1():
    user = make_staff("reauth-lock")
    key = add_totp(user)
    client = signed_in_client(user)
    for _ in range(4):
        client.post("/staff/accounts/reauth/", {"password": TEST_PASSWORD, "code": _wrong(key)})
    assert SecondFactorGuard.objects.get(user=user).failures == 4


def test_administrators_see_the_lock_and_can_lift_it_sec_auth_1():
    admin = make_staff("lock-admin", roles=["administrator"])
    user = make_staff("locked-member")
    add_totp(user)
    for _ in range(10):
        services.second_factor_assertion(user=user, accepted=False)
    client = signed_in_client(admin)
    listing = client.get("/staff/accounts/").content.decode()
    assert listing.count('class="mfa-locked"') == 1
    detail = client.get(f"/staff/accounts/staff/{user.pk}/").content.decode()
    assert 'id="mfa-lock"' in detail and "locked until" in detail
    r = client.post(f"/staff/accounts/staff/{user.pk}/second-factor/unlock/")
    assert r.status_code == 302
    assert SecondFactorGuard.objects.get(user=user).locked_until is None
    assert 'id="mfa-lock"' not in client.get(f"/staff/accounts/staff/{user.pk}/").content.decode()
    # someone without accounts.manage_staff cannot lift it
    other = make_staff("not-admin", roles=["circulation-desk"])
    r = signed_in_client(other).post(f"/staff/accounts/staff/{user.pk}/second-factor/unlock/")
    assert r.status_code == 403


def test_the_alert_address_is_set_on_my_security_and_stored_encrypted_sec_auth_1(
    is_postgres,
):
    user = make_staff("alerts")
    client = signed_in_client(user)
    r = client.post("/staff/accounts/security/alerts/", {"email": "alerts@example.org"})
    assert r.status_code == 302
    assert SecondFactorGuard.objects.get(user=user).alert_email == "alerts@example.org"
    raw = SecondFactorGuard.objects.filter(user=user).values_list("alert_email", flat=True)[0]
    assert b"alerts@example.org" not in bytes(raw)
    assert "alerts@example.org" in client.get("/staff/accounts/security/").content.decode()


def test_lock_seconds_double_up_to_the_cap_sec_auth_1():
    assert [policy.lock_seconds(locks_before=n, base=900, cap=86400) for n in range(8)] == [
        900,
        1800,
        3600,
        7200,
        14400,
        28800,
        57600,
        86400,
    ]
    assert policy.lock_seconds(locks_before=10_000, base=900, cap=86400) == 86400
    assert policy.lock_due(failures=10, max_failures=10)
    assert not policy.lock_due(failures=9, max_failures=10)


def test_a_session_has_five_wrong_codes_before_signing_in_again_issue_14_item_6():
    """#14 item 6: the per-session try limit is a rule in accounts.policy, not the view."""
    assert policy.MAX_CODE_TRIES == 5
    assert not policy.code_tries_spent(4)
    assert policy.code_tries_spent(5)
