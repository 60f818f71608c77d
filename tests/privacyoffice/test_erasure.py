"""Erasure doors (PRV-DSR-4): My account request, staff page, API route, `erase-patron`.

Exceptions are shown before anything happens; a loan out is refused with the
reason; unpaid fees wait or are kept per QUIETSHELF_ERASURE_UNRESOLVED_FEES;
erasing twice says when it was erased. Erasure goes through the kernel: the
data key is gone, rows deleted, card numbers retired.
"""

from __future__ import annotations

import io
import json
import time

import pytest
from django.core.management import call_command
from django.test import Client

from quietshelf.accounts.testing import signed_in_client
from quietshelf.core.commands import UsageError
from quietshelf.core.errors import PermissionDenied
from quietshelf.patrons import auth as patron_auth
from quietshelf.patrons.models import Patron, RetiredIdentifier
from quietshelf.patrons.services import barcode_digest
from quietshelf.privacy import keys
from quietshelf.privacy.fields import is_unavailable
from quietshelf.privacy.models import AuditEntry
from quietshelf.privacyoffice import selectors, services
from quietshelf.privacyoffice.errors import AlreadyErased, AlreadyRequested, ErasureRefused
from quietshelf.privacyoffice.models import RequestCase

pytestmark = pytest.mark.django_db(databases="__all__")
API = "/api/v1/privacy-office"


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


PASSWORD = "a-long-passphrase-7"  # noqa: S105 - a fictional patron's test password


def patron_client(patron, password=PASSWORD):
    """A browser session signed in to My account (the portal's own sign-in)."""
    patron.set_password(password)
    patron.save(update_fields=["password_hash"])
    client = Client()
    session = client.session
    now = int(time.time())
    session[patron_auth.SESSION_PATRON] = str(patron.pk)
    session[patron_auth.SESSION_STARTED] = now
    session[patron_auth.SESSION_SEEN] = now
    session[patron_auth.SESSION_HASH] = patron_auth.session_hash(patron)
    session.save()
    return client


# --- the service -----------------------------------------------------------------------------


def test_erasure_shreds_key_deletes_rows_and_retires_card_prv_dsr_4(patron, officer, settings):
    settings.QUIETSHELF_PROCESSORS = [{"name": "Hosting AS", "purpose": "servers"}]
    p = patron(barcode="PO-ERASE-1")
    subject = p.subject_id
    result = services.patron_erasure_execute(actor=officer, patron_id=p.pk, reason="patron_request")
    assert not Patron.objects.filter(pk=p.pk).exists()
    keys.key_cache.clear()
    assert keys.data_key(subject) is None
    assert RetiredIdentifier.objects.filter(digest=barcode_digest("PO-ERASE-1")).exists()
    case = RequestCase.objects.get(pk=result.case_id)
    assert case.status == "done" and case.recipients_told == ["Hosting AS"]
    assert result.recipients == ["Hosting AS"]
    assert AuditEntry.objects.filter(
        action="erased", object_type="patrons.patron", object_id=str(p.pk)
    ).exists()


def test_erasing_twice_says_already_erased_with_the_date_prv_dsr_4(patron, officer):
    p = patron()
    services.patron_erasure_execute(actor=officer, patron_id=p.pk, reason="duplicate")
    with pytest.raises(AlreadyErased) as exc:
        services.patron_erasure_execute(actor=officer, patron_id=p.pk, reason="duplicate")
    assert "already erased on" in exc.value.message


def test_loan_out_refuses_erasure_with_the_reason_prv_dsr_4(patron, item, lend, officer):
    p = patron()
    lend(p, item())
    with pytest.raises(ErasureRefused) as exc:
        services.patron_erasure_execute(actor=officer, patron_id=p.pk, reason="patron_request")
    assert "still on loan" in exc.value.message
    assert exc.value.details == {"exceptions": ["open_loans"]}
    assert Patron.objects.filter(pk=p.pk).exists()
    assert keys.data_key(p.subject_id) is not None


def test_unpaid_fee_waits_by_default_and_is_kept_when_configured_prv_dsr_4(
    patron, charge, officer, settings
):
    p = patron()
    fee = charge(p, 2500)
    with pytest.raises(ErasureRefused) as exc:
        services.patron_erasure_execute(actor=officer, patron_id=p.pk, reason="patron_request")
    assert "unpaid fees" in exc.value.message
    settings.QUIETSHELF_ERASURE_UNRESOLVED_FEES = "keep"
    result = services.patron_erasure_execute(actor=officer, patron_id=p.pk, reason="patron_request")
    assert [e.code for e in result.kept] == ["unresolved_fees"]
    fee.refresh_from_db()
    assert fee.patron_id is None and fee.resolved_at is None  # kept, without the account


def test_open_hold_is_cancelled_on_erasure_prv_dsr_4(patron, item, officer):
    from quietshelf.circulation import services as circ
    from quietshelf.circulation.models import Hold

    p = patron()
    it = item()
    hold = circ.hold_place(
        actor=None, patron_id=p.pk, record_id=it.record_id, pickup_branch_id=it.branch_id
    )
    result = services.patron_erasure_execute(actor=officer, patron_id=p.pk, reason="patron_request")
    assert result.holds_cancelled == 1
    hold = Hold.objects.get(pk=hold.pk)
    assert hold.status == "cancelled" and hold.patron_id is None


def test_staff_without_the_permission_is_refused_and_audited_prv_dsr_4(patron, cataloguer):
    p = patron()
    with pytest.raises(PermissionDenied):
        services.patron_erasure_execute(actor=cataloguer, patron_id=p.pk, reason="duplicate")
    assert Patron.objects.filter(pk=p.pk).exists()
    assert AuditEntry.objects.filter(action="denied", object_id=str(p.pk)).exists()


def test_unknown_reason_is_a_clear_error_prv_dsr_4(patron, officer):
    from quietshelf.core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        services.patron_erasure_execute(actor=officer, patron_id=patron().pk, reason="x@y.z")


# --- the API ---------------------------------------------------------------------------------


def test_api_preview_then_erase_then_erase_again_prv_dsr_4(patron, item, lend, officer):
    api = signed_in_client(officer)
    p = patron()
    loan = lend(p, item())
    r = api.get(f"{API}/patrons/{p.pk}/erasure")
    assert r.status_code == 200 and r.json()["blocked"] is True
    assert r.json()["exceptions"][0]["code"] == "open_loans"
    r = api.post(f"{API}/patrons/{p.pk}/erase", {"reason": "patron_request"}, "application/json")
    err = assert_error(r, 409, "erasure_refused")
    assert "still on loan" in err["message"]
    from quietshelf.circulation import services as circ

    circ.checkin(actor=None, item_barcode=loan.loan.item.barcode, branch_id=loan.loan.branch_id)
    r = api.post(f"{API}/patrons/{p.pk}/erase", {"reason": "patron_request"}, "application/json")
    assert r.status_code == 200, r.content
    assert r.json()["erased"] is True
    r = api.post(f"{API}/patrons/{p.pk}/erase", {"reason": "patron_request"}, "application/json")
    assert_error(r, 409, "already_erased")
    assert_error(api.get(f"{API}/patrons/{p.pk}/erasure"), 409, "already_erased")


def test_api_erase_denied_without_permission_and_bad_input_prv_dsr_4(patron, desk):
    api = signed_in_client(desk)
    p = patron()
    r = api.post(f"{API}/patrons/{p.pk}/erase", {"reason": "duplicate"}, "application/json")
    assert_error(r, 403, "permission_denied")
    r = api.post(f"{API}/patrons/{p.pk}/erase", {"reason": "because"}, "application/json")
    assert_error(r, 400, "invalid_reason")
    assert_error(
        api.post(f"{API}/patrons/not-a-uuid/erase", {}, "application/json"), 422, "invalid_input"
    )
    assert Client().get(f"{API}/patrons/{p.pk}/erasure").status_code == 401


# --- the CLI ---------------------------------------------------------------------------------


def run_cli(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("erase_patron", *args, stdout=out, stderr=err)
    return out.getvalue()


def test_cli_dry_run_shows_exceptions_then_erases_prv_dsr_4(patron, charge, settings):
    settings.QUIETSHELF_ERASURE_UNRESOLVED_FEES = "keep"
    p = patron()
    charge(p, 1200)
    out = run_cli(str(p.pk), "--reason", "account_expired", "--dry-run")
    assert "[kept]" in out and "financial record" in out and "nothing erased" in out
    assert Patron.objects.filter(pk=p.pk).exists()
    out = run_cli(str(p.pk), "--reason", "account_expired")
    assert f"erased patron {p.pk}" in out
    assert not Patron.objects.filter(pk=p.pk).exists()
    with pytest.raises(UsageError, match="already erased"):
        run_cli(str(p.pk), "--reason", "account_expired")


def test_cli_refuses_with_loan_out_exit_2_prv_dsr_4(patron, item, lend):
    p = patron()
    lend(p, item())
    with pytest.raises(UsageError, match="still on loan") as exc:
        run_cli(str(p.pk), "--reason", "patron_request")
    assert exc.value.returncode == 2


# --- My account and the staff page -------------------------------------------------------------


def test_patron_asks_in_my_account_and_sees_exceptions_first_prv_dsr_4(patron, item, lend):
    p = patron()
    lend(p, item())
    client = patron_client(p)
    page = client.get("/account/privacy/erase/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "still on loan" in text and text.index("still on loan") < text.index('name="password"')
    r = client.post("/account/privacy/erase/", {"password": "wrong-password-1"})
    assert r.status_code == 403 and not RequestCase.objects.filter(patron=p).exists()
    r = client.post("/account/privacy/erase/", {"password": "a-long-passphrase-7"})
    assert r.status_code == 302
    case = RequestCase.objects.get(patron=p)
    assert case.kind == "erasure" and case.identity_method == "signed_in"
    assert (case.due_on - case.received_on).days == 30
    with pytest.raises(AlreadyRequested):
        services.erasure_request_by_patron(patron_id=p.pk)
    assert "You asked on" in client.get("/account/privacy/erase/").content.decode()
    assert Patron.objects.filter(pk=p.pk).exists()  # staff act on it


def test_staff_page_erases_from_the_case_prv_dsr_4(patron, officer):
    p = patron()
    case = services.erasure_request_by_patron(patron_id=p.pk, details="Moving abroad, thanks")
    client = signed_in_client(officer)
    page = client.get(f"/staff/privacy-office/cases/{case.pk}/")
    assert page.status_code == 200 and "Erase for good" in page.content.decode()
    r = client.post(
        f"/staff/privacy-office/patrons/{p.pk}/erase/",
        {"reason": "patron_request", "confirm": "on", "case_id": str(case.pk)},
    )
    assert r.status_code == 200 and "The account is erased" in r.content.decode()
    case.refresh_from_db()
    assert case.status == "done" and case.patron_id is None
    keys.key_cache.clear()
    case = RequestCase.objects.get(pk=case.pk)
    assert is_unavailable(case.details)  # what was asked went with the patron's key
    r = client.get(f"/staff/privacy-office/patrons/{p.pk}/erase/")
    assert r.status_code == 409 and "already erased" in r.content.decode()


def test_staff_page_without_confirmation_or_with_loan_is_a_form_error_prv_dsr_4(
    patron, item, lend, officer, desk
):
    p = patron()
    client = signed_in_client(officer)
    r = client.post(f"/staff/privacy-office/patrons/{p.pk}/erase/", {"reason": "duplicate"})
    assert r.status_code == 400 and Patron.objects.filter(pk=p.pk).exists()
    lend(p, item())
    r = client.post(
        f"/staff/privacy-office/patrons/{p.pk}/erase/", {"reason": "duplicate", "confirm": "on"}
    )
    assert r.status_code == 409 and "still on loan" in r.content.decode()
    assert (
        signed_in_client(desk).get(f"/staff/privacy-office/patrons/{p.pk}/erase/").status_code
        == 403
    )


def test_preview_selector_lists_recipients_prv_3p_1(patron, settings):
    settings.QUIETSHELF_PROCESSORS = [{"name": "Mail Relay AS"}, {"purpose": "unnamed"}]
    preview = selectors.erasure_preview(actor=None, patron_id=patron().pk)
    assert preview.recipients == ["Mail Relay AS"] and not preview.blocked
    assert json.dumps([e.code for e in preview.exceptions]) == "[]"
