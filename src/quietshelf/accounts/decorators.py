"""The one gate in front of every staff page (desk, patrons, notices, jobs, accounts).

    @staff_page                          signed-in staff
    @staff_page(perm="jobs.view_jobs")   ... holding this permission now

Not signed in: Django's redirect to the sign-in page with `next`. Signed in
but not staff, or (with `perm`) not holding it through accounts.authz.has_perm
(role and branch, MFA-verified session and acknowledged privacy training for
permissions that reach personal data): 403. Inside the view a domain
PermissionDenied becomes 403 and a NotFound 404, so an unknown id and one
outside the actor's scope look alike (rule 5 of DESIGN.md: pages map domain
errors once).
"""

from __future__ import annotations

import functools

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404

from quietshelf.accounts import authz
from quietshelf.core.errors import NotFound, PermissionDenied


def staff_page(view=None, *, perm: str | None = None):
    """Use bare (`@staff_page`) or with a permission (`@staff_page(perm=...)`)."""
    if perm is not None and perm not in authz.PERMISSIONS:
        raise ValueError(f"unknown permission {perm!r}")

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            user = request.user
            if not user.is_staff or (perm is not None and not authz.has_perm(user, perm)):
                raise DjangoPermissionDenied
            try:
                return view(request, *args, **kwargs)
            except PermissionDenied:
                raise DjangoPermissionDenied from None
            except NotFound:
                raise Http404 from None

        return login_required(wrapper)

    return decorator(view) if view is not None else decorator
