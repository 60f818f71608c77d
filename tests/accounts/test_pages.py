"""Staff account pages: only accounts.manage_staff manages others (SEC-ACC-1), training page."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from quietshelf.accounts import authz, services
from quietshelf.accounts.builtin import BUILTIN_ROLES
from quietshelf.accounts.demo import create_demo_staff
from quietshelf.accounts.models import OrgUnit, Role, RoleGrant, StaffUser
from quietshelf.accounts.testing import make_staff, signed_in_client
from tests.factories import BranchFactory

pytestmark = pytest.mark.django_db

MANAGE_PAGES = [
    "/staff/accounts/",
    "/staff/accounts/new/",
    "/staff/accounts/roles/",
    "/staff/accounts/org/",
]


@pytest.fixture
def admin_client():
    return signed_in_client(make_staff("page-admin", roles=["administrator"]))


@pytest.mark.parametrize("role", ["circulation-desk", "cataloguer", "report-reader"])
def test_only_managers_reach_staff_pages_sec_acc_1(role):
    client = signed_in_client(make_staff(f"not-admin-{role}", roles=[role]))
    for url in MANAGE_PAGES:
        assert client.get(url).status_code == 403, url
    target = make_staff("someone")
    assert (
        client.post(f"/staff/accounts/staff/{target.pk}/active/", {"active": "0"}).status_code
        == 403
    )
    assert StaffUser.objects.get(pk=target.pk).is_active


def test_admin_without_mfa_is_sent_to_set_it_up():
    client = signed_in_client(make_staff("admin-nomfa", roles=["administrator"]), mfa=False)
    r = client.get("/staff/accounts/")
    assert r.status_code == 302 and r["Location"] == "/staff/accounts/security/"


def test_pages_need_sign_in():
    for url in MANAGE_PAGES + ["/staff/accounts/security/", "/staff/accounts/training/"]:
        r = Client().get(url)
        assert r.status_code == 302 and r["Location"].startswith("/staff/login/"), url


def test_create_staff_shows_password_once_and_grants_role(admin_client):
    root = services.root_unit()
    r = admin_client.post(
        "/staff/accounts/new/",
        {"username": "new-desk", "role": "circulation-desk", "org_unit": root.pk},
    )
    assert r.status_code == 200
    password = re.search(r'id="new-password">([^<]+)<', r.content.decode()).group(1)
    user = StaffUser.objects.get(username="new-desk")
    assert user.check_password(password)
    assert RoleGrant.objects.filter(user=user, role__code="circulation-desk").exists()
    dup = admin_client.post("/staff/accounts/new/", {"username": "new-desk"})
    assert dup.status_code == 200 and b"already exists" in dup.content
    listing = admin_client.get("/staff/accounts/").content.decode()
    assert "new-desk" in listing and password not in listing


def test_grant_and_revoke_on_the_page(admin_client):
    branch = BranchFactory(code="WEST", name="West")
    admin_client.post("/staff/accounts/org/", {"action": "from_branches"})
    unit = OrgUnit.objects.get(branch=branch)
    member = make_staff("member")
    url = f"/staff/accounts/staff/{member.pk}/"
    r = admin_client.post(url, {"role": "cataloguer", "org_unit": unit.pk})
    assert r.status_code == 302
    grant = RoleGrant.objects.get(user=member)
    assert "Cataloguer" in admin_client.get(url).content.decode()
    r = admin_client.post(f"{url}grants/{grant.pk}/revoke/")
    assert r.status_code == 302 and not RoleGrant.objects.filter(user=member).exists()


def test_custom_role_with_checkboxes(admin_client):
    r = admin_client.post(
        "/staff/accounts/roles/",
        {"name": "Stocktake", "permissions": ["catalog.change_item", "catalog.view_staff"]},
    )
    assert r.status_code == 302
    role = Role.objects.get(name="Stocktake")
    assert role.permissions == ["catalog.change_item", "catalog.view_staff"] and not role.builtin
    bad = admin_client.post("/staff/accounts/roles/", {"name": "Bad", "permissions": ["x.y"]})
    assert bad.status_code == 200 and not Role.objects.filter(name="Bad").exists()


def test_html_in_names_is_escaped(admin_client):
    admin_client.post(
        "/staff/accounts/roles/",
        {"name": "<script>alert(1)</script>", "permissions": ["catalog.view_staff"]},
    )
    page = admin_client.get("/staff/accounts/roles/").content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_training_page_acknowledge_prv_acc_3():
    user = make_staff("learner", roles=["circulation-desk"], trained=False)
    client = signed_in_client(user)
    page = client.get("/staff/accounts/training/").content.decode()
    assert 'name="version" value="1"' in page
    assert client.post("/staff/accounts/training/", {"version": "1"}).status_code == 302
    user.refresh_from_db()
    assert authz.has_perm(_fresh(user), "patrons.view_patron")
    assert "You acknowledged version 1" in client.get("/staff/accounts/training/").content.decode()


def _fresh(user):
    user = StaffUser.objects.get(pk=user.pk)
    user.mfa_verified = True
    return user


def test_demo_staff_one_per_role_with_own_passwords():
    BranchFactory(code="DEMO1", name="Demo one")
    rows = create_demo_staff()
    n = len(BUILTIN_ROLES)  # one account per built-in role (desk supervisor included)
    assert len(rows) == n and len({p for _, _, p in rows}) == n
    for username, _role, password in rows:
        assert StaffUser.objects.get(username=username).check_password(password)
    assert OrgUnit.objects.filter(kind="branch").count() == 1
    again = create_demo_staff()
    assert {p for _, _, p in again}.isdisjoint({p for _, _, p in rows})


def test_privacy_officer_publishes_a_new_training_version_prv_acc_3():
    officer = make_staff("officer-t", roles=["privacy-officer"])
    desk = make_staff("desk-t", roles=["circulation-desk"])
    client = signed_in_client(officer)
    r = client.post(
        "/staff/accounts/training/",
        {"action": "publish", "title": "Version two", "body": "New rules."},
    )
    assert r.status_code == 302
    assert not authz.has_perm(_fresh(desk), "patrons.view_patron")
    desk_client = signed_in_client(desk)
    r = desk_client.post(
        "/staff/accounts/training/",
        {"action": "publish", "title": "Mine", "body": "No."},
    )
    assert r.status_code == 403
