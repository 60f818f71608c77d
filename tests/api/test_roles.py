"""The API's write routes follow the staff roles (SEC-ACC-1): a cataloguer may
catalogue but not set up branches; a desk role may not catalogue."""

from __future__ import annotations

import pytest
from django.test import Client

from quietshelf.accounts.testing import make_staff
from quietshelf.api import services as token_services
from quietshelf.catalog.models import BibRecord, Branch
from tests.api.conftest import make_marc

pytestmark = pytest.mark.django_db(databases="__all__")


def _client_for(username: str, roles: list[str]) -> Client:
    make_staff(username, roles=roles)
    token = token_services.api_token_create(actor=None, username=username).token
    return Client(headers={"Authorization": f"Bearer {token}"})


def test_cataloguer_role_may_create_records_but_not_branches():
    c = _client_for("role-cataloguer", ["cataloguer"])
    r = c.post("/api/v1/records", make_marc("By role").as_marc(), content_type="application/marc")
    assert r.status_code == 201, r.content
    r = c.post("/api/v1/branches", {"code": "B", "name": "B"}, content_type="application/json")
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert not Branch.objects.exists()


def test_administrator_role_may_set_up_branches():
    c = _client_for("role-admin", ["administrator"])
    r = c.post("/api/v1/branches", {"code": "B", "name": "B"}, content_type="application/json")
    assert r.status_code == 201, r.content


def test_circulation_desk_role_may_not_catalogue():
    c = _client_for("role-desk", ["circulation-desk"])
    r = c.post("/api/v1/records", make_marc("Nope").as_marc(), content_type="application/marc")
    assert r.status_code == 403
    assert not BibRecord.objects.exists()
