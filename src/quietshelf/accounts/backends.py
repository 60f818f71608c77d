"""Sign-in for staff: Django's ModelBackend, finding the account by its username's blind index.

The username is encrypted (accounts/models.py), so the model's USERNAME_FIELD
is not unique in the database; uniqueness lives on `username_index`. Naming
this backend in AUTHENTICATION_BACKENDS turns Django's auth.E003 into the
warning auth.W004, which settings silence for that reason.

`user.has_perm(perm)` (used by views and templates) answers through
accounts.authz (roles on the organisation tree, MFA and training gates;
docs/roles.md) for the permissions authz knows and for Django's catalogue
model permissions, mapped onto them (CATALOG_MAP). A Django model permission
given directly to an account (user_permissions, no page for it) still counts
through ModelBackend; roles are the way to grant.
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from django.contrib.auth.backends import ModelBackend


class StaffBackend(ModelBackend):
    """ModelBackend; StaffUser.objects.get_by_natural_key looks up the blind index."""

    def has_perm(self, user_obj, perm, obj=None):
        from quietshelf.accounts import authz

        if not getattr(user_obj, "is_active", False):
            return False
        if perm in authz.PERMISSIONS:
            return authz.has_perm(user_obj, perm) or super().has_perm(user_obj, perm, obj)
        mapped = catalog_permissions(perm)
        if mapped and any(authz.has_perm(user_obj, p) for p in mapped):
            return True
        return super().has_perm(user_obj, perm, obj)


_CATALOG_SETUP_MODELS = {"branch", "itemtype", "shelvinglocation", "location"}


def catalog_permissions(perm: str) -> tuple[str, ...]:
    """The authz permissions that stand for one of Django's catalogue model permissions."""
    app, _, codename = perm.partition(".")
    if app != "catalog" or "_" not in codename:
        return ()
    action, _, model = codename.partition("_")
    if action == "view":
        return (
            "catalog.view_staff",
            "catalog.change_record",
            "catalog.change_item",
            "catalog.import_records",
            "catalog.change_setup",
        )
    if action not in {"add", "change", "delete"}:
        return ()
    if model in _CATALOG_SETUP_MODELS:
        return ("catalog.change_setup",)
    if model == "item":
        return ("catalog.change_item",)
    if model in {"bibrecord", "record"}:
        return ("catalog.change_record", "catalog.import_records")
    return ()


class ThrottledBackend(AxesStandaloneBackend):
    """django-axes' lockout check, for sign-ins that come with a request.

    Every web sign-in passes its request; an authenticate() call without one
    (the test client's login(), a management command) has no address to
    count, so axes is skipped for it instead of raising.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
