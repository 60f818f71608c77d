"""Staff patron API /api/v1/patrons (issue 5 item 13): scope, denials, error shape, SEC-URL-1."""

from __future__ import annotations

import pytest

from quietshelf.accounts.testing import signed_in_client
from quietshelf.api import services as token_services
from quietshelf.patrons.models import Block, Patron
from quietshelf.privacy.models import AuditEntry

pytestmark = pytest.mark.django_db

BASE = "/api/v1/patrons"


def post(client, url, data):
    return client.post(url, data=data, content_type="application/json")


def patch(client, url, data):
    return client.patch(url, data=data, content_type="application/json")


@pytest.fixture
def api(manager):
    return signed_in_client(manager)


@pytest.fixture
def north_api(north_desk):
    return signed_in_client(north_desk)


def assert_error(response, status, code=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    if code:
        assert body["error"]["code"] == code


def test_create_get_update_and_search(api, branches, groups):
    r = post(
        api,
        BASE,
        {
            "given_name": "Marit",
            "family_name": "Engen",
            "barcode": "API-0001",
            "email": "marit.engen@example.org",
            "home_branch": "NORTH",
            "group": "student",
            "identifiers": [{"type": "institutional_id", "value": "INST-9"}],
        },
    )
    assert r.status_code == 201, r.content
    body = r.json()
    pid = body["id"]
    assert body["cards"][0]["barcode"] == "API-0001" and body["home_branch"] == "NORTH"
    assert api.get(f"{BASE}/{pid}").json()["contacts"][0]["value"] == "marit.engen@example.org"
    r = patch(api, f"{BASE}/{pid}", {"family_name": "Engen-Dahl", "phone": "+47 22 33 44 55"})
    assert r.status_code == 200 and r.json()["family_name"] == "Engen-Dahl"
    r = post(api, f"{BASE}/search", {"query": "API-0001"})
    assert [p["id"] for p in r.json()] == [pid]
    r = post(api, f"{BASE}/search", {"query": "marit.engen@example.org", "kind": "email"})
    assert [p["id"] for p in r.json()] == [pid]
    r = post(api, f"{BASE}/search", {"query": "inst-9", "kind": "identifier"})
    assert [p["id"] for p in r.json()] == [pid]


def test_duplicate_barcode_is_409_and_bad_input_422(api, new_patron):
    new_patron(barcode="DUPE-1")
    r = post(api, BASE, {"given_name": "A", "barcode": "dupe1"})
    assert_error(r, 409, "duplicate_barcode")
    assert_error(post(api, BASE, {"given_name": "A"}), 400, "missing_required")
    assert_error(post(api, BASE, {"given_name": "A", "barcode": "B1", "email": "nope"}), 400)
    assert_error(post(api, BASE, {"given_name": "A", "barcode": "B1", "status": "x"}), 422)
    assert not Patron.objects.filter(cards__isnull=True).exists()  # nothing half-written


def test_blocks_notes_cards_and_overrides(api, new_patron):
    p = new_patron(barcode="BLK-1")
    r = post(api, f"{BASE}/{p.pk}/blocks", {"reason_code": "manual", "comment": "<b>x</b>"})
    assert r.status_code == 201
    bid = r.json()["id"]
    r = post(api, f"{BASE}/{p.pk}/overrides", {"reason": "desk decision", "block_id": bid})
    assert r.status_code == 201
    r = post(api, f"{BASE}/{p.pk}/blocks/{bid}/lift", {"reason": "settled"})
    assert r.status_code == 200 and r.json()["lifted_at"]
    history = api.get(f"{BASE}/{p.pk}/blocks").json()
    assert len(history) == 1 and history[0]["in_force"] is False
    assert Block.objects.get().lift_reason == "settled"
    r = post(api, f"{BASE}/{p.pk}/notes", {"text": "Told us about his cancer treatment"})
    assert_error(r, 409, "note_needs_confirmation")
    r = post(api, f"{BASE}/{p.pk}/notes", {"text": "Told us about it", "confirmed": True})
    assert r.status_code == 201
    r = post(api, f"{BASE}/{p.pk}/cards", {"barcode": "BLK-2"})
    assert r.status_code == 201
    assert_error(post(api, f"{BASE}/{p.pk}/cards", {"barcode": "BLK-1"}), 409)


def test_other_branch_is_404_with_audit_on_every_route(north_api, north_desk, new_patron):
    theirs = new_patron("south")
    block = Block.objects.create(patron=theirs, subject_id=theirs.subject_id, reason_code="manual")
    routes = [
        ("get", f"{BASE}/{theirs.pk}", None),
        ("patch", f"{BASE}/{theirs.pk}", {"given_name": "X"}),
        ("get", f"{BASE}/{theirs.pk}/blocks", None),
        ("post", f"{BASE}/{theirs.pk}/blocks", {"reason_code": "manual"}),
        ("post", f"{BASE}/{theirs.pk}/blocks/{block.pk}/lift", {"reason": "x"}),
        ("post", f"{BASE}/{theirs.pk}/notes", {"text": "x"}),
        ("post", f"{BASE}/{theirs.pk}/cards", {"barcode": "NEW-X"}),
        ("post", f"{BASE}/{theirs.pk}/overrides", {"reason": "x", "code": "manual"}),
    ]
    for method, url, data in routes:
        if method == "get":
            r = north_api.get(url)
        elif method == "patch":
            r = patch(north_api, url, data)
        else:
            r = post(north_api, url, data)
        assert_error(r, 404)
    denied = AuditEntry.objects.filter(action="denied", object_id=str(theirs.pk))
    assert denied.count() == len(routes)
    assert set(denied.values_list("actor_id", flat=True)) == {str(north_desk.pk)}
    assert post(north_api, f"{BASE}/search", {"query": theirs.family_name}).json() == []


def test_token_without_patron_permission_is_403_SEC_ACC_1(staff_factory, new_patron):
    p = new_patron()
    staff_factory("tokcat", roles=("cataloguer",))
    from quietshelf.accounts.models import StaffUser

    user = StaffUser.objects.filter(is_superuser=False).order_by("-created_at").first()
    token = token_services.api_token_create(actor=None, username=user.username).token
    client = pytest.importorskip("django.test").Client(headers={"Authorization": f"Bearer {token}"})
    assert_error(client.get(f"{BASE}/{p.pk}"), 403)
    assert_error(post(client, f"{BASE}/search", {"query": "x"}), 403)
    assert_error(post(client, BASE, {"given_name": "A", "barcode": "T1"}), 403)
    assert_error(post(client, f"{BASE}/loads", {"mapping": {}, "rows": []}), 403)


def test_anonymous_is_401(new_patron, client):
    p = new_patron()
    assert_error(client.get(f"{BASE}/{p.pk}"), 401)
    assert_error(post(client, f"{BASE}/search", {"query": "x"}), 401)


def test_load_through_the_api_INT_3(api, branches, groups):
    mapping = {
        "match_type": "institutional_id",
        "columns": {"id": "identifier:institutional_id", "name": "name", "mail": "email"},
        "default_branch": "NORTH",
    }
    rows = [
        {"id": "U1", "name": "Lunde, Herdis", "mail": "herdis@example.org"},
        {"id": "U2", "name": '=HYPERLINK("http://x")', "mail": ""},
        {"id": "U3", "name": "Odd Vang", "mail": "bad address"},
    ]
    r = post(api, f"{BASE}/loads", {"mapping": mapping, "rows": rows, "dry_run": True})
    assert r.status_code == 200 and r.json()["created"] == 1 and r.json()["errors"] == 2
    assert not Patron.objects.exists()
    r = post(api, f"{BASE}/loads", {"mapping": mapping, "rows": rows})
    body = r.json()
    assert body["created"] == 1
    assert [x["status"] for x in body["results"]] == ["created", "error", "error"]
    assert "formula" in body["results"][1]["message"]
    p = Patron.objects.get()
    assert (p.given_name, p.family_name, p.home_branch.code) == ("Herdis", "Lunde", "NORTH")
    assert_error(post(api, f"{BASE}/loads", {"mapping": {"columns": {}}, "rows": []}), 400)


def test_openapi_documents_patron_routes(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/patrons/search" in schema["paths"]
    assert "/api/v1/patrons/{patron_id}" in schema["paths"]


def _token_client(token):
    from django.test import Client

    return Client(headers={"Authorization": f"Bearer {token}"})


def test_token_reaches_patron_data_only_with_personal_data_and_its_roles_item_13(
    staff_factory, new_patron
):
    """Issue 5 item 13, PRV-ACC-2, SEC-ACC-1: tokens are scoped by role, and reach patron
    data only when made with --personal-data for an owner with a second factor."""
    from quietshelf.accounts.testing import add_totp
    from quietshelf.core.errors import InvalidInput

    p = new_patron()
    user = staff_factory("tokpm", roles=("patron-manager", "cataloguer"))

    # without personal data: the patron manager's token is refused patron records
    plain = token_services.api_token_create(actor=None, username=user.username).token
    assert_error(_token_client(plain).get(f"{BASE}/{p.pk}"), 403)

    # personal data needs an enrolled second factor
    with pytest.raises(InvalidInput, match="second factor"):
        token_services.api_token_create(actor=None, username=user.username, personal_data=True)
    add_totp(user)
    full = token_services.api_token_create(
        actor=None, username=user.username, personal_data=True
    ).token
    response = _token_client(full).get(f"{BASE}/{p.pk}")
    assert response.status_code == 200, response.content
    assert AuditEntry.objects.filter(action="viewed", actor_id=str(user.pk)).exists()

    # scoped to the cataloguer role: no patron data, even with personal data allowed
    cataloguing = token_services.api_token_create(
        actor=None, username=user.username, role_codes=["cataloguer"], personal_data=True
    ).token
    assert_error(_token_client(cataloguing).get(f"{BASE}/{p.pk}"), 403)

    # a role the owner does not hold cannot be put on a token
    with pytest.raises(InvalidInput, match="does not hold"):
        token_services.api_token_create(
            actor=None, username=user.username, role_codes=["privacy-officer"]
        )
