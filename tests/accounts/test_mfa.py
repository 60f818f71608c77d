"""PRV-ACC-2, SEC-AUTH-1: TOTP, recovery codes, sign-in with a second step, re-authentication."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from quietshelf.accounts import mfa, services, sessions
from quietshelf.accounts.models import RecoveryCode, StaffTOTPDevice
from quietshelf.accounts.testing import TEST_PASSWORD, add_totp, make_staff, signed_in_client
from quietshelf.core.errors import InvalidInput
from quietshelf.privacy.models import AuditEntry

pytestmark = pytest.mark.django_db


def _code(key: str, steps_ahead: int = 0) -> str:
    return mfa.totp_code(key, at=time.time() + 30 * steps_ahead)


def _sign_in(client, username, password=TEST_PASSWORD, next_url="/staff/"):
    return client.post(
        "/staff/login/", {"username": username, "password": password, "next": next_url}
    )


# --- TOTP and recovery codes ------------------------------------------------------------


def test_totp_code_computed_from_the_secret_is_accepted_once_prv_acc_2():
    user = make_staff("totp-user")
    key = add_totp(user)
    assert services.second_factor_verify(user=user, token="000000") in (None, "totp")
    code = _code(key)
    assert services.second_factor_verify(user=user, token=code) == "totp"
    # The same code (same time step) is never accepted twice.
    assert services.second_factor_verify(user=user, token=code) is None
    assert services.second_factor_verify(user=user, token="not-a-code") is None


def test_enrol_confirm_makes_recovery_codes_that_work_once():
    user = make_staff("enrol")
    device = services.totp_begin(actor=user)
    with pytest.raises(InvalidInput):
        services.totp_confirm(actor=user, device_id=device.pk, token="123")
    codes = services.totp_confirm(actor=user, device_id=device.pk, token=_code(device.key))
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = list(RecoveryCode.objects.filter(user=user).values_list("code_hash", flat=True))
    assert all(code not in " ".join(stored) for code in codes)
    assert services.second_factor_verify(user=user, token=codes[0].lower()) == "recovery"
    assert services.second_factor_verify(user=user, token=codes[0]) is None  # single use
    assert RecoveryCode.objects.filter(user=user, used_at__isnull=True).count() == 9
    again = services.recovery_codes_regenerate(actor=user)
    assert services.second_factor_verify(user=user, token=codes[1]) is None  # old set gone
    assert services.second_factor_verify(user=user, token=again[0]) == "recovery"
    reasons = set(AuditEntry.objects.filter(actor_id=str(user.pk)).values_list("reason", flat=True))
    assert {"mfa totp enrolled", "mfa recovery codes made", "mfa recovery code used"} <= reasons


@pytest.mark.django_db(transaction=True)
def test_totp_secret_and_codes_not_stored_in_clear_prv_enc_1(is_postgres):
    """PRV-ACC-2, PRV-ENC-1: the secret (hex, raw or base-32) is in no database file or dump."""
    user = make_staff("secret-keeper")
    key = add_totp(user)
    codes = services.recovery_codes_regenerate(actor=user)
    needles = [key.encode(), bytes.fromhex(key), mfa.secret_base32(key).encode()]
    needles += [c.encode() for c in codes] + [c.replace("-", "").encode() for c in codes]
    if is_postgres:
        if not Path("/usr/bin/pg_dump").exists():
            pytest.skip("pg_dump is not installed")
        s = connection.settings_dict
        cmd = ["/usr/bin/pg_dump", "-h", s.get("HOST") or "127.0.0.1"]
        cmd += ["-p", str(s.get("PORT") or 5432), "-U", s.get("USER") or "postgres"]
        cmd += ["--data-only", s["NAME"]]
        data = subprocess.run(cmd, check=True, capture_output=True, timeout=120).stdout
    else:
        from tests.dbfiles import sqlite_file_bytes

        data = sqlite_file_bytes("default")
    assert len(data) > 1000
    for needle in needles:
        assert needle not in data, needle
    assert StaffTOTPDevice.objects.get(user=user).key == key  # it still reads back


# --- sign-in flow ----------------------------------------------------------------------


def test_sign_in_with_totp_gives_a_verified_session_prv_acc_2():
    user = make_staff("two-step", roles=["patron-manager"])
    key = add_totp(user)
    client = Client()
    r = _sign_in(client, "two-step", next_url="/staff/accounts/security/")
    assert r.status_code == 302 and r["Location"] == "/staff/accounts/verify/"
    assert "_auth_user_id" not in client.session  # not signed in before the second step
    assert client.get("/staff/").status_code == 302
    r = client.post(
        "/staff/accounts/verify/", {"code": "000000" if _code(key) != "000000" else "1"}
    )
    assert r.status_code == 200 and b"not right" in r.content
    r = client.post("/staff/accounts/verify/", {"code": _code(key)})
    assert r.status_code == 302 and r["Location"] == "/staff/accounts/security/"
    assert client.session[sessions.MFA] is True
    page = client.get("/staff/accounts/security/")
    assert b"patrons.view_patron" in page.content  # usable now


def test_too_many_wrong_codes_restart_sign_in():
    user = make_staff("wrong-codes")
    add_totp(user)
    client = Client()
    _sign_in(client, "wrong-codes")
    for _ in range(5):
        r = client.post("/staff/accounts/verify/", {"code": "99999x"})
    assert r.status_code == 302 and r["Location"] == "/staff/login/"
    assert client.get("/staff/accounts/verify/").status_code == 302


def test_without_a_device_sign_in_works_but_personal_data_stays_closed():
    make_staff("fresh", roles=["patron-manager"])
    client = Client()
    r = _sign_in(client, "fresh")
    assert r.status_code == 302 and r["Location"] == "/staff/"
    page = client.get("/staff/accounts/security/").content.decode()
    assert 'id="mfa-needed"' in page
    assert "patrons.view_patron" not in page


def test_enrolment_through_the_pages_shows_qr_and_secret():
    user = make_staff("enrol-pages", roles=["patron-manager"])
    client = Client()
    _sign_in(client, "enrol-pages")
    r = client.post("/staff/accounts/security/totp/start/")
    assert r.status_code == 302 and r["Location"] == "/staff/accounts/security/totp/confirm/"
    page = client.get(r["Location"]).content.decode()
    assert "<svg" in page
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    device = StaffTOTPDevice.objects.get(user=user)
    assert mfa.secret_base32(device.key) == secret
    r = client.post("/staff/accounts/security/totp/confirm/", {"code": _code(device.key)})
    assert r.status_code == 200
    codes = re.findall(r"<code>([A-Z0-9]{5}-[A-Z0-9]{5})</code>", r.content.decode())
    assert len(codes) == 10
    assert client.session[sessions.MFA] is True


def test_reauth_required_before_changing_mfa_or_password_sec_auth_1():
    user = make_staff("reauth-me")
    key = add_totp(user)
    client = signed_in_client(user)
    session = client.session
    session[sessions.PASSWORD_AT] = session[sessions.FACTOR_AT] = time.time() - 3600
    session.save()
    for url in ["/staff/accounts/security/password/"]:
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith("/staff/accounts/reauth/")
    for url in ["/staff/accounts/security/totp/start/", "/staff/accounts/security/recovery-codes/"]:
        r = client.post(url)
        assert r.status_code == 302 and r["Location"].startswith("/staff/accounts/reauth/")
    # Password alone is not enough for an account with a second factor.
    r = client.post(
        "/staff/accounts/reauth/",
        {"password": TEST_PASSWORD, "code": "", "next": "/staff/accounts/security/password/"},
    )
    assert r.status_code == 200
    r = client.post(
        "/staff/accounts/reauth/",
        {
            "password": TEST_PASSWORD,
            "code": _code(key, 1),
            "next": "/staff/accounts/security/password/",
        },
    )
    assert r.status_code == 302 and r["Location"] == "/staff/accounts/security/password/"
    r = client.post(
        "/staff/accounts/security/password/",
        {"new_password": "a-new-long-passphrase-7", "repeat": "a-new-long-passphrase-7"},
    )
    assert r.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a-new-long-passphrase-7")
    assert client.get("/staff/accounts/security/").status_code == 200  # this session lives on


def test_reauth_refuses_external_next_sec_redir_1():
    user = make_staff("reauth-next")
    client = signed_in_client(user)
    r = client.post(
        "/staff/accounts/reauth/", {"password": TEST_PASSWORD, "next": "https://evil.example/"}
    )
    assert r.status_code == 302 and r["Location"] == "/staff/accounts/security/"


def test_weak_new_password_is_refused():
    user = make_staff("weak")
    client = signed_in_client(user)
    r = client.post(
        "/staff/accounts/security/password/", {"new_password": "password", "repeat": "password"}
    )
    assert r.status_code == 200 and b"errorlist" in r.content


def test_forms_need_csrf_sec_csrf_1():
    user = make_staff("csrf-user", roles=["administrator"])
    client = signed_in_client(user, client=Client(enforce_csrf_checks=True))
    for url in [
        "/staff/accounts/security/totp/start/",
        "/staff/accounts/training/",
        "/staff/accounts/new/",
        "/staff/accounts/roles/",
        f"/staff/accounts/staff/{user.pk}/active/",
    ]:
        assert client.post(url, {}).status_code == 403, url
    anon = Client(enforce_csrf_checks=True)
    assert anon.post("/staff/login/", {"username": "x", "password": "y"}).status_code == 403


def test_security_key_endpoints_need_reauth_and_refuse_bad_input_sec_auth_1():
    user = make_staff("key-user")
    key = add_totp(user)
    client = signed_in_client(user)
    session = client.session
    session[sessions.PASSWORD_AT] = session[sessions.FACTOR_AT] = time.time() - 3600
    session.save()
    r = client.post("/staff/accounts/security/keys/options/")
    assert r.status_code == 403 and "/staff/accounts/reauth/" in r.json()["redirect"]
    client = signed_in_client(user)
    r = client.post("/staff/accounts/security/keys/options/")
    assert r.status_code == 200 and "challenge" in r.json()
    for body in ["not json", "[]", '{"id": "x", "response": {}}']:
        r = client.post("/staff/accounts/security/keys/add/", body, content_type="application/json")
        assert r.status_code == 400, body
    # The second step refuses a garbage assertion without signing in.
    anon = Client()
    _sign_in(anon, "key-user")
    assert anon.post("/staff/accounts/verify/key/options/").status_code == 200
    r = anon.post("/staff/accounts/verify/key/", "{}", content_type="application/json")
    assert r.status_code == 400 and "_auth_user_id" not in anon.session
    r = anon.post("/staff/accounts/verify/", {"code": _code(key)})
    assert r.status_code == 302
