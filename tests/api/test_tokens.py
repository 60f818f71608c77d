"""API tokens: stored as a hash only, shown once, revocable (SEC-AUTH-1, SEC-ACC-1)."""

from __future__ import annotations

import hashlib
import io

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from quietshelf.api import services
from quietshelf.api.models import ApiToken
from tests.factories import StaffUserFactory

pytestmark = pytest.mark.django_db(databases="__all__")


def _create_token(username="cataloguer") -> str:
    out = io.StringIO()
    call_command("create_api_token", username=username, stdout=out)
    lines = dict(line.split(": ", 1) for line in out.getvalue().splitlines() if ": " in line)
    return lines["token"]


def test_create_api_token_prints_token_once_and_stores_only_its_hash(cataloguer):
    token = _create_token()
    assert token.startswith("qs_") and len(token) > 40
    row = ApiToken.objects.get()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    stored = " ".join(str(v) for v in ApiToken.objects.values().get().values())
    assert token not in stored and token[3:] not in stored
    assert row.owner == cataloguer and row.last_used is None and not row.revoked


def test_create_api_token_unknown_username_is_a_usage_error_exit_2():
    with pytest.raises(CommandError) as exc:
        call_command("create_api_token", username="nobody-here")
    assert exc.value.returncode == 2


def test_bearer_token_authenticates_writes_and_marks_last_used_by_day(cataloguer):
    token = _create_token()
    client = Client(headers={"Authorization": f"Bearer {token}"})
    with time_machine.travel("2030-05-17 10:00:00+00:00", tick=False):
        r = client.post(
            "/api/v1/branches", {"code": "MAIN", "name": "Main"}, content_type="application/json"
        )
    assert r.status_code == 201, r.content
    row = ApiToken.objects.get()
    assert str(row.last_used) == "2030-05-17"  # a day, not a moment


@pytest.mark.parametrize(
    "header",
    [
        "Bearer qs_not-a-real-token",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer " + "x" * 5000,
        "Bearer qs_\u00e6\u00f8\u00e5",
    ],
)
def test_bad_or_unknown_tokens_get_401_with_error_shape(cataloguer, header):
    client = Client(headers={"Authorization": header})
    r = client.post(
        "/api/v1/branches", {"code": "MAIN", "name": "Main"}, content_type="application/json"
    )
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
    assert r["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_and_disabled_owner_are_refused(cataloguer):
    token = _create_token()
    client = Client(headers={"Authorization": f"Bearer {token}"})
    body = {"code": "A1", "name": "A"}
    assert client.post("/api/v1/branches", body, content_type="application/json").status_code == 201
    call_command("revoke_api_token", token_id=ApiToken.objects.get().pk, stdout=io.StringIO())
    body = {"code": "A2", "name": "A"}
    assert client.post("/api/v1/branches", body, content_type="application/json").status_code == 401

    other = StaffUserFactory(username="leaver", is_superuser=True)
    token2 = services.api_token_create(actor=None, username="leaver").token
    other.is_active = False
    other.save()
    client2 = Client(headers={"Authorization": f"Bearer {token2}"})
    body = {"code": "A3", "name": "A"}
    assert (
        client2.post("/api/v1/branches", body, content_type="application/json").status_code == 401
    )


def test_staff_session_needs_csrf_token_for_api_writes_sec_csrf_1(cataloguer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(cataloguer)
    body = {"code": "S1", "name": "Session branch"}
    r = client.post("/api/v1/branches", body, content_type="application/json")
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    client.get("/staff/")  # a page with a form sets the CSRF cookie
    csrf = client.cookies["csrftoken"].value
    r = client.post(
        "/api/v1/branches", body, content_type="application/json", headers={"X-CSRFToken": csrf}
    )
    assert r.status_code == 201, r.content


def test_anonymous_write_is_401_not_a_csrf_403():
    r = Client(enforce_csrf_checks=True).post(
        "/api/v1/branches", {"code": "X", "name": "X"}, content_type="application/json"
    )
    assert r.status_code == 401


def test_token_auth_reads_roles_fresh_each_request_perf_circ2_sec_acc_1():
    """PERF-CIRC-2: token, owner, grants and training come in one statement per
    request, with nothing kept between requests: a revoked role or token, and a
    new training text not yet acknowledged, count from the very next request."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from quietshelf.accounts import services as account_services
    from quietshelf.accounts.models import RoleGrant, TrainingText
    from quietshelf.accounts.testing import make_staff

    admin = make_staff("fresh-admin", roles=["administrator"])
    token = services.api_token_create(actor=None, username="fresh-admin").token
    client = Client(headers={"Authorization": f"Bearer {token}"})

    def post(code):
        body = {"code": code, "name": code}
        return client.post("/api/v1/branches", body, content_type="application/json")

    with CaptureQueriesContext(connection) as queries:
        assert post("F1").status_code == 201
    token_reads = [q for q in queries if "api_apitoken" in q["sql"] and "SELECT" in q["sql"]]
    assert len(token_reads) == 1
    assert not [q for q in queries if "accounts_rolegrant" in q["sql"] and q not in token_reads]

    grant = RoleGrant.objects.get(user=admin)
    account_services.role_revoke(actor=None, grant_id=grant.pk)
    assert post("F2").status_code == 403

    make_staff("fresh-desk", roles=["circulation-desk"])
    desk_token = services.api_token_create(actor=None, username="fresh-desk").token
    desk = Client(headers={"Authorization": f"Bearer {desk_token}"})
    # circulation reaches patron data: it needs the current training acknowledged
    # (and a personal-data token, which this one is not: 403 either way, never 401)
    assert desk.post("/api/v1/circulation/checkin", {"item_barcode": "x", "branch_id": 1},
                     content_type="application/json").status_code == 403  # fmt: skip
    TrainingText.objects.create(version=99, title="New", body="New text")
    ApiToken.objects.filter(owner=admin).update(revoked=True)
    assert post("F3").status_code == 401
