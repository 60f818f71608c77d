"""The one staff-page gate every app uses (accounts/decorators.py; SEC-ACC-1)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpResponse
from django.test import RequestFactory

from quietshelf.accounts.decorators import staff_page
from quietshelf.accounts.testing import make_staff
from quietshelf.core.errors import NotFound, PermissionDenied

pytestmark = pytest.mark.django_db

OFFICE = "privacy.view_privacy_office"  # reaches personal data: MFA and training gates


def _ok(request):
    return HttpResponse("ok")


def _get(user):
    request = RequestFactory().get("/staff/somewhere/?x=1")
    request.user = user
    return request


def test_signed_out_is_sent_to_sign_in_with_next_sec_acc_1():
    for view in (staff_page(_ok), staff_page(perm=OFFICE)(_ok)):
        r = view(_get(AnonymousUser()))
        assert r.status_code == 302
        assert r["Location"].startswith("/staff/login/?next=/staff/somewhere/")


def test_not_staff_is_403_sec_acc_1():
    user = make_staff("gate-not-staff", roles=["privacy-officer"])
    user.is_staff = False
    for view in (staff_page(_ok), staff_page(perm=OFFICE)(_ok)):
        with pytest.raises(DjangoPermissionDenied):
            view(_get(user))


def test_staff_reach_a_page_without_a_permission_sec_acc_1():
    assert staff_page(_ok)(_get(make_staff("gate-plain"))).content == b"ok"


@pytest.mark.parametrize(
    ("roles", "trained", "mfa", "allowed"),
    [
        (["privacy-officer"], True, True, True),
        (["circulation-desk"], True, True, False),  # no role holds it
        (["privacy-officer"], True, False, False),  # MFA gate
        (["privacy-officer"], False, True, False),  # training gate
    ],
)
def test_permission_goes_through_roles_mfa_and_training_sec_acc_1(roles, trained, mfa, allowed):
    user = make_staff(f"gate-{roles[0]}-{trained}-{mfa}", roles=roles, trained=trained, mfa=mfa)
    view = staff_page(perm=OFFICE)(_ok)
    if allowed:
        assert view(_get(user)).content == b"ok"
    else:
        with pytest.raises(DjangoPermissionDenied):
            view(_get(user))


def test_domain_denial_is_403_and_not_found_is_404_sec_acc_1():
    user = make_staff("gate-errors")

    @staff_page
    def denies(request):
        raise PermissionDenied("no")

    @staff_page
    def misses(request):
        raise NotFound("unknown or out of scope")

    with pytest.raises(DjangoPermissionDenied):
        denies(_get(user))
    with pytest.raises(Http404):
        misses(_get(user))


def test_unknown_permission_fails_at_import_time():
    with pytest.raises(ValueError, match="unknown permission"):
        staff_page(perm="jobs.no_such_thing")
