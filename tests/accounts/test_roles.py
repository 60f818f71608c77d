"""SEC-ACC-1, PRV-ACC-2, PRV-ACC-3: roles on the organisation tree, least privilege, gates."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from quietshelf.accounts import authz, roles, services
from quietshelf.accounts.builtin import BUILTIN_ROLES
from quietshelf.accounts.models import OrgUnit, Role, TrainingText
from quietshelf.accounts.testing import make_staff
from quietshelf.core.errors import Conflict, InvalidInput, PermissionDenied
from quietshelf.privacy.models import AuditEntry
from tests.factories import BranchFactory

pytestmark = pytest.mark.django_db

PERSONAL = [p for p in authz.PERMISSIONS if authz.reaches_personal_data(p)]


@pytest.fixture
def tree():
    """Consortium → two libraries → branches (north, south under A; east under B)."""
    north, south, east = (
        BranchFactory(code="NORTH", name="North"),
        BranchFactory(code="SOUTH", name="South"),
        BranchFactory(code="EAST", name="East"),
    )
    root = services.org_unit_create(actor=None, kind="consortium", code="ALL", name="All")
    lib_a = services.org_unit_create(actor=None, kind="library", code="A", name="A", parent=root)
    lib_b = services.org_unit_create(actor=None, kind="library", code="B", name="B", parent=root)
    units = {
        "root": root,
        "a": lib_a,
        "b": lib_b,
        "north": services.org_unit_create(
            actor=None, kind="branch", code="N", name="N", parent=lib_a, branch=north
        ),
        "south": services.org_unit_create(
            actor=None, kind="branch", code="S", name="S", parent=lib_a, branch=south
        ),
        "east": services.org_unit_create(
            actor=None, kind="branch", code="E", name="E", parent=lib_b, branch=east
        ),
    }
    return units, {"north": north.pk, "south": south.pk, "east": east.pk}


def test_builtin_roles_exist_and_only_some_reach_personal_data_sec_acc_1():
    codes = set(Role.objects.filter(builtin=True).values_list("code", flat=True))
    assert codes == set(BUILTIN_ROLES)
    for code in ("cataloguer", "administrator", "report-reader"):
        perms = Role.objects.get(code=code).permissions
        assert not any(authz.reaches_personal_data(p) for p in perms), code
    assert TrainingText.objects.filter(version=1).exists()


def test_grant_on_library_covers_its_branches_only(tree):
    units, b = tree
    desk = make_staff("desk-a", roles=["circulation-desk"], org_unit=units["a"])
    assert authz.branch_scope(desk, "patrons.view_patron") == {b["north"], b["south"]}
    assert authz.has_perm(desk, "patrons.view_patron", branch_id=b["north"])
    assert not authz.has_perm(desk, "patrons.view_patron", branch_id=b["east"])
    assert authz.has_perm(desk, "patrons.view_patron")  # somewhere
    assert authz.branch_scope(desk, "patrons.delete_patron") == set()


def test_grant_on_branch_and_on_root(tree):
    units, b = tree
    east_desk = make_staff("desk-e", roles=["circulation-desk"], org_unit=units["east"])
    assert authz.branch_scope(east_desk, "circulation.checkout") == {b["east"]}
    everywhere = make_staff("pm-all", roles=["patron-manager"], org_unit=units["root"])
    assert authz.branch_scope(everywhere, "patrons.view_patron") is None
    assert authz.has_perm(everywhere, "patrons.view_patron", branch_id=b["east"])


def test_role_without_patron_permission_reaches_nothing_personal_sec_acc_1(tree):
    units, b = tree
    for code in ("cataloguer", "administrator", "report-reader"):
        user = make_staff(f"no-patrons-{code}", roles=[code], org_unit=units["root"])
        for perm in PERSONAL:
            assert not authz.has_perm(user, perm), (code, perm)
            assert authz.branch_scope(user, perm) == set(), (code, perm)
            with pytest.raises(PermissionDenied):
                authz.require(user, perm, branch_id=b["north"])


def test_no_roles_means_nothing():
    user = make_staff("nobody")
    assert all(not authz.has_perm(user, p) for p in authz.PERMISSIONS)


def test_training_gate_prv_acc_3(tree):
    units, _ = tree
    user = make_staff(
        "untrained", roles=["circulation-desk"], org_unit=units["root"], trained=False
    )
    assert not authz.has_perm(user, "patrons.view_patron")
    assert authz.branch_scope(user, "patrons.view_patron") == set()
    assert authz.has_perm(user, "catalog.view_staff")  # not personal: no gate
    assert roles.gate_failure(user, "patrons.view_patron") == "training"
    services.training_acknowledge(actor=user, version=1)
    assert authz.has_perm(user, "patrons.view_patron")
    # A new version of the text: permissions close until acknowledged again.
    services.training_publish(actor=None, title="Revised", body="Read again.")
    roles.forget(user)
    assert not authz.has_perm(user, "patrons.view_patron")
    services.training_acknowledge(actor=user, version=2)
    assert authz.has_perm(user, "patrons.view_patron")
    assert AuditEntry.objects.filter(action="acknowledged", actor_id=str(user.pk)).count() == 2


def test_stale_training_version_is_refused():
    user = make_staff("stale", trained=False)
    services.training_publish(actor=None, title="Two", body="Second text")
    with pytest.raises(InvalidInput):
        services.training_acknowledge(actor=user, version=1)


def test_mfa_gate_prv_acc_2(tree):
    units, _ = tree
    user = make_staff("nomfa", roles=["patron-manager", "administrator"], mfa=False)
    assert not authz.has_perm(user, "patrons.view_patron")
    assert not authz.has_perm(user, "accounts.manage_staff")  # administering needs MFA too
    assert authz.has_perm(user, "catalog.change_setup")  # not personal, not administering
    assert roles.gate_failure(user, "patrons.view_patron") == "mfa"
    user.mfa_verified = True
    assert authz.has_perm(user, "patrons.view_patron")


def test_superuser_is_gated_for_personal_data():
    boss = make_staff("boss", superuser=True, trained=False, mfa=False)
    assert authz.has_perm(boss, "catalog.change_record")
    assert not authz.has_perm(boss, "patrons.view_patron")
    trained = make_staff("boss2", superuser=True)
    assert authz.branch_scope(trained, "patrons.view_patron") is None


def test_system_actor_and_inactive():
    assert authz.has_perm(None, "patrons.delete_patron")
    user = make_staff("gone", roles=["patron-manager"])
    user.is_active = False
    assert not authz.has_perm(user, "patrons.view_patron")
    with pytest.raises(ValueError):
        authz.has_perm(user, "patrons.no_such")


def test_resolution_is_cached_per_actor(tree):
    units, b = tree
    user = make_staff("cached", roles=["circulation-desk"], org_unit=units["a"])
    roles.forget(user)
    with CaptureQueriesContext(connection) as ctx:
        for _ in range(10):
            authz.has_perm(user, "patrons.view_patron", branch_id=b["north"])
            authz.branch_scope(user, "circulation.checkout")
    assert len(ctx.captured_queries) <= 4


def test_custom_role_and_duplicate_grant(tree):
    units, b = tree
    role = services.role_create(
        actor=None, name="Weekend desk", permissions=["circulation.checkout", "patrons.view_patron"]
    )
    assert not role.builtin
    user = make_staff("weekend")
    services.role_grant(actor=None, user=user, role=role, org_unit=units["south"])
    assert authz.branch_scope(user, "circulation.checkout") == {b["south"]}
    with pytest.raises(Conflict):
        services.role_grant(actor=None, user=user, role=role, org_unit=units["south"])
    with pytest.raises(InvalidInput):
        services.role_create(actor=None, name="Bad", permissions=["patrons.everything"])
    with pytest.raises(Conflict):
        services.role_create(actor=None, name="weekend desk", permissions=["circulation.checkout"])


def test_revoke_takes_effect(tree):
    units, _ = tree
    user = make_staff("revoked", roles=["circulation-desk"], org_unit=units["a"])
    grant = user.role_grants.get()
    services.role_revoke(actor=None, grant_id=grant.pk)
    roles.forget(user)
    assert not authz.has_perm(user, "patrons.view_patron")
    assert AuditEntry.objects.filter(action="deleted", object_type="accounts.rolegrant").exists()


def test_managing_needs_manage_staff(tree):
    units, _ = tree
    desk = make_staff("desk-x", roles=["circulation-desk"])
    target = make_staff("target")
    with pytest.raises(PermissionDenied):
        services.role_grant(actor=desk, user=target, role=services.role_get(code="administrator"))
    admin = make_staff("admin-x", roles=["administrator"])
    services.role_grant(actor=admin, user=target, role=services.role_get(code="cataloguer"))
    assert authz.has_perm(target, "catalog.change_record")


def test_org_tree_rules_and_branch_helper(tree):
    units, b = tree
    from quietshelf.accounts.selectors import branch_ids_under, org_tree

    assert branch_ids_under(units["root"]) == set(b.values())
    assert branch_ids_under(units["b"]) == {b["east"]}
    assert [u.code for _, u in org_tree()][:2] == ["ALL", "A"]
    with pytest.raises(InvalidInput):
        services.org_unit_create(actor=None, kind="library", code="X", name="X")  # second root
    with pytest.raises(InvalidInput):
        services.org_unit_create(
            actor=None, kind="library", code="Y", name="Y", parent=units["north"]
        )
    with pytest.raises(Conflict):
        services.org_unit_create(
            actor=None, kind="library", code="A", name="A", parent=units["root"]
        )


def test_tree_from_branches_is_idempotent():
    BranchFactory(code="ONE", name="One")
    BranchFactory(code="TWO", name="Two")
    root = services.org_tree_from_branches(actor=None)
    services.org_tree_from_branches(actor=None)
    assert OrgUnit.objects.filter(parent=root, kind="branch").count() == 2
    assert OrgUnit.objects.count() == 3


def test_django_has_perm_goes_through_roles():
    cataloguer = make_staff("cat-dj", roles=["cataloguer"], mfa=False, trained=False)
    assert cataloguer.has_perm("catalog.change_bibrecord")
    assert cataloguer.has_perm("catalog.view_bibrecord")
    assert not cataloguer.has_perm("catalog.change_branch")
    assert not cataloguer.has_perm("patrons.view_patron")
