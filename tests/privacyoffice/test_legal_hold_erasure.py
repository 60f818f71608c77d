"""Legal holds on erasure (PRV-DSR-4, PRV-RET-2): a built-in exception, on by default.

A patron under a legal hold (placed on /staff/retention/, privacy.models.LegalHold) is
shown the hold before anything happens, and the erasure waits: the CLI, the API, My
account and the service all refuse until the hold is released. A hold on a category
of records the erasure would destroy waits too; one on a category it leaves alone
(the audit log) does not.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from quietshelf.accounts.testing import signed_in_client
from quietshelf.core.commands import UsageError
from quietshelf.patrons.models import Patron
from quietshelf.privacy import retention
from quietshelf.privacyoffice import selectors, services
from quietshelf.privacyoffice.errors import ErasureRefused
from tests.privacyoffice.test_erasure import patron_client

pytestmark = pytest.mark.django_db(databases="__all__")
API = "/api/v1/privacy-office"


def run_cli(*args) -> str:
    out = io.StringIO()
    call_command("erase_patron", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_person_hold_is_shown_and_erasure_waits_cli_prv_dsr_4_prv_ret_2(patron, officer):
    p = patron()
    hold = retention.legal_hold_place(
        actor=officer, case_reference="TINGRETT-2026-118", subject_id=p.subject_id
    )
    out = io.StringIO()
    with pytest.raises(CommandError, match="would be refused") as dry:
        call_command(
            "erase_patron", str(p.pk), "--reason", "patron_request", "--dry-run", stdout=out
        )
    assert dry.value.returncode == 1
    assert "[BLOCKS] A legal hold covers this account's data" in out.getvalue()
    assert "TINGRETT" not in out.getvalue()  # the case reference is not shown
    with pytest.raises(UsageError, match="legal hold") as exc:
        run_cli(str(p.pk), "--reason", "patron_request")
    assert exc.value.returncode == 2
    assert Patron.objects.filter(pk=p.pk).exists()
    retention.legal_hold_release(actor=officer, hold_id=hold.pk)
    assert f"erased patron {p.pk}" in run_cli(str(p.pk), "--reason", "patron_request")
    assert not Patron.objects.filter(pk=p.pk).exists()


def test_person_hold_refused_by_api_and_shown_in_my_account_prv_dsr_4_prv_ret_2(patron, officer):
    p = patron()
    retention.legal_hold_place(actor=officer, case_reference="KRIPOS-7", subject_id=p.subject_id)
    api = signed_in_client(officer)
    r = api.get(f"{API}/patrons/{p.pk}/erasure")
    assert r.status_code == 200 and r.json()["blocked"] is True
    assert [e["code"] for e in r.json()["exceptions"]] == ["legal_hold"]
    r = api.post(f"{API}/patrons/{p.pk}/erase", {"reason": "patron_request"}, "application/json")
    assert r.status_code == 409 and r.json()["error"]["code"] == "erasure_refused"
    assert "legal hold" in r.json()["error"]["message"]
    page = patron_client(p).get("/account/privacy/erase/").content.decode()
    assert "A legal hold covers this account" in page and "KRIPOS" not in page
    assert page.index("legal hold") < page.index('name="password"')
    assert Patron.objects.filter(pk=p.pk).exists()


def test_category_hold_waits_only_for_what_it_covers_prv_dsr_4_prv_ret_2(patron, officer):
    p = patron()
    audit_hold = retention.legal_hold_place(
        actor=officer, case_reference="REVISJON-1", rule_key="audit_log"
    )
    assert selectors.erasure_preview(actor=officer, patron_id=p.pk).exceptions == []
    account_hold = retention.legal_hold_place(
        actor=officer, case_reference="TVIST-22", rule_key="patron_account"
    )
    preview = selectors.erasure_preview(actor=officer, patron_id=p.pk)
    assert preview.blocked and [e.code for e in preview.exceptions] == ["legal_hold"]
    with pytest.raises(ErasureRefused):
        services.patron_erasure_execute(actor=officer, patron_id=p.pk, reason="patron_request")
    retention.legal_hold_release(actor=officer, hold_id=account_hold.pk)
    services.patron_erasure_execute(actor=officer, patron_id=p.pk, reason="patron_request")
    assert not Patron.objects.filter(pk=p.pk).exists()
    assert retention.active_holds().filter(pk=audit_hold.pk).exists()  # untouched
