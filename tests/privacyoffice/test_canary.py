"""The warrant canary (PRV-GOV-2): signed with the key-store Ed25519 key, published at
/privacy/canary with signature and public key, verifiable with openssl, stale in plain words."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from quietshelf.accounts.testing import signed_in_client
from quietshelf.core import clock
from quietshelf.core.commands import UsageError
from quietshelf.core.errors import InvalidInput, PermissionDenied
from quietshelf.privacy.models import AuditEntry, WrappedSecret
from quietshelf.privacyoffice import canary, selectors, services
from quietshelf.privacyoffice.models import CanaryStatement

pytestmark = pytest.mark.django_db(databases="__all__")


def test_sign_stores_a_verifiable_statement_with_key_in_key_store_prv_gov_2(officer):
    st = services.canary_sign(actor=officer, valid_days=90)
    assert st.valid_until == clock.today() + dt.timedelta(days=90)
    assert canary.signature_valid(
        text=st.text, signature_hex=st.signature, public_hex=st.public_key
    )
    assert not canary.signature_valid(
        text=st.text.replace("has not", "has"), signature_hex=st.signature, public_hex=st.public_key
    )
    assert WrappedSecret.objects.using("keystore").filter(name="canary-signing-key").exists()
    assert AuditEntry.objects.filter(action="canary_signed").count() == 1
    view = selectors.canary_current()
    assert view.signature_ok and not view.stale


@pytest.mark.parametrize("days", [0, 3650])
def test_validity_of_zero_or_ten_years_is_refused_prv_gov_2(days, officer):
    with pytest.raises(InvalidInput):
        services.canary_sign(actor=officer, valid_days=days)
    assert not CanaryStatement.objects.exists()


def test_signing_needs_the_permission_prv_gov_2(desk):
    with pytest.raises(PermissionDenied):
        services.canary_sign(actor=desk, valid_days=30)


def test_page_shows_statement_signature_and_key_then_stale_prv_gov_2(lib):
    page = Client().get("/privacy/canary/")
    assert page.status_code == 200 and "There is no statement" in page.content.decode()
    services.canary_sign(actor=None, valid_days=30)
    text = Client().get("/privacy/canary/").content.decode()
    assert "Current: valid until" in text and "BEGIN PUBLIC KEY" in text and "Stale" not in text
    services.canary_sign(actor=None, valid_days=30, today=clock.today() - dt.timedelta(days=40))
    text = Client().get("/privacy/canary/").content.decode()
    assert "Stale." in text and "has not been renewed" in text


def test_stock_openssl_verifies_the_published_files_prv_gov_2(lib, tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    services.canary_sign(actor=None, valid_days=30)
    client = Client()
    for name in ("canary.txt", "canary.sig", "canary.pub"):
        response = client.get(f"/privacy/{name}")
        assert response.status_code == 200
        (tmp_path / name).write_bytes(response.content)
    cmd = [
        "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(tmp_path / "canary.pub"),
        "-rawin", "-in", str(tmp_path / "canary.txt"), "-sigfile", str(tmp_path / "canary.sig"),
    ]  # fmt: skip
    ok = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    assert ok.returncode == 0 and "Verified Successfully" in ok.stdout
    (tmp_path / "canary.txt").write_text(
        (tmp_path / "canary.txt").read_text().replace("has not", "has")
    )
    bad = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    assert bad.returncode != 0


def test_cli_sign_and_verify_and_bad_validity_prv_gov_2(lib):
    out = io.StringIO()
    with pytest.raises(CommandError, match="no warrant canary"):
        call_command("canary", "verify", stdout=out)
    with pytest.raises(UsageError, match="at least 1 day"):
        call_command("canary", "sign", "--valid-days", "0", stdout=out)
    with pytest.raises(UsageError, match="at most 366"):
        call_command("canary", "sign", "--valid-days", "3650", stdout=out)
    call_command("canary", "sign", "--valid-days", "14", stdout=out)
    call_command("canary", "verify", stdout=out)
    assert "canary valid: signature good" in out.getvalue()
    st = CanaryStatement.objects.get()
    st.text = st.text.replace("has not", "has")
    st.save()
    with pytest.raises(CommandError, match="does NOT match"):
        call_command("canary", "verify", stdout=out)


def test_cli_verify_says_stale_prv_gov_2(lib):
    services.canary_sign(actor=None, valid_days=5, today=clock.today() - dt.timedelta(days=9))
    with pytest.raises(CommandError, match="STALE") as exc:
        call_command("canary", "verify", stdout=io.StringIO())
    assert exc.value.returncode == 1


def test_api_read_is_public_and_sign_needs_permission_prv_gov_2(officer, desk):
    r = Client().get("/api/v1/privacy-office/canary")
    assert r.status_code == 404 and r.json()["error"]["code"] == "no_canary"
    r = signed_in_client(desk).post(
        "/api/v1/privacy-office/canary", {"valid_days": 30}, "application/json"
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
    api = signed_in_client(officer)
    r = api.post("/api/v1/privacy-office/canary", {"valid_days": 0}, "application/json")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_validity"
    r = api.post("/api/v1/privacy-office/canary", {"valid_days": 60}, "application/json")
    assert r.status_code == 201, r.content
    body = Client().get("/api/v1/privacy-office/canary").json()
    assert body["signature_valid"] and not body["stale"]
    assert canary.signature_valid(
        text=body["text"], signature_hex=body["signature_hex"], public_hex=body["public_key_hex"]
    )


def test_staff_canary_page_signs_and_shows_form_errors_prv_gov_2(officer):
    client = signed_in_client(officer)
    r = client.post("/staff/privacy-office/canary/", {"valid_days": "3650"})
    assert r.status_code == 400 and "at most 366 days" in r.content.decode()
    r = client.post("/staff/privacy-office/canary/", {"valid_days": "90"})
    assert r.status_code == 302 and CanaryStatement.objects.count() == 1


def test_python_m_verifier_checks_files_without_an_instance_prv_gov_2(lib, tmp_path):
    import subprocess
    import sys

    services.canary_sign(actor=None, valid_days=30)
    client = Client()
    paths = []
    for name in ("canary.txt", "canary.sig", "canary.pub"):
        (tmp_path / name).write_bytes(client.get(f"/privacy/{name}").content)
        paths.append(str(tmp_path / name))
    cmd = [sys.executable, "-m", "quietshelf.privacyoffice.verify_canary", *paths]
    env = {"PATH": "/usr/bin:/bin"}  # no Django settings, no database
    ok = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    assert ok.returncode == 0 and "good signature" in ok.stdout
    (tmp_path / "canary.txt").write_text((tmp_path / "canary.txt").read_text() + "x")
    bad = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    assert bad.returncode == 1 and "BAD" in bad.stderr
    missing = subprocess.run(cmd[:-1], capture_output=True, text=True, env=env, check=False)  # noqa: S603
    assert missing.returncode == 2 and "usage" in missing.stderr


def test_verifier_says_stale_after_valid_until_prv_gov_2(lib):
    from quietshelf.privacyoffice import verify_canary

    st = services.canary_sign(actor=None, valid_days=10)
    pem = canary.public_key_pem(st.public_key).encode()
    sig = bytes.fromhex(st.signature)
    later = st.valid_until + dt.timedelta(days=1)
    assert verify_canary.check(st.text.encode(), sig, pem, today=st.valid_until)[0] == 0
    code, message = verify_canary.check(st.text.encode(), sig, pem, today=later)
    assert code == 1 and message.startswith("STALE")
