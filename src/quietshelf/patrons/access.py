"""Authorisation and audit helpers shared by services and selectors.

`actor` is a StaffUser (checked through accounts.authz), None (the system:
CLI, jobs) or a privacy.audit.Actor built by trusted code (the patron acting
on their own record through My account, self-registration); the last two
are not checked here: the code that builds them has already decided.

A staff member asking for a patron outside their branch scope gets "not
found" (404) and an audit entry "denied" is written in its own transaction,
so it stays even though the action fails. With no permission anywhere the
answer is PermissionDenied (403), audited the same way.
"""

from __future__ import annotations

import functools

from django.db import transaction

from quietshelf.accounts import authz
from quietshelf.core.errors import PermissionDenied
from quietshelf.patrons.errors import PatronNotFound
from quietshelf.privacy import audit
from quietshelf.privacy.audit import Actor

PATRON_TYPE = "patrons.patron"


def is_trusted(actor) -> bool:
    return actor is None or isinstance(actor, Actor)


def scope(actor, perm: str) -> set[int] | None:
    """Branch ids the actor may reach with `perm` (None: everywhere)."""
    if is_trusted(actor):
        return None
    return authz.branch_scope(actor, perm)


def require(actor, perm: str, *, branch_id: int | None = None) -> None:
    if not is_trusted(actor):
        authz.require(actor, perm, branch_id=branch_id)


class Denied(Exception):
    """Raised inside a transaction; turned into an audited 404/403 outside it."""

    def __init__(self, *, actor, patron_id, perm: str, forbidden: bool):
        super().__init__(perm)
        self.actor = actor
        self.patron_id = patron_id
        self.perm = perm
        self.forbidden = forbidden


def check_patron(actor, patron, perm: str) -> None:
    """Raise Denied unless `actor` holds `perm` at the patron's home branch."""
    if is_trusted(actor):
        return
    allowed = scope(actor, perm)
    if allowed is None:
        return
    if patron.home_branch_id is not None and patron.home_branch_id in allowed:
        return
    view_scope = authz.branch_scope(actor, "patrons.view_patron")
    visible = view_scope is None or (
        patron.home_branch_id is not None and patron.home_branch_id in view_scope
    )
    # Visible but not this permission: 403. Not visible at all: 404 (or 403 with no
    # patron permission anywhere, which reveals nothing about this patron).
    forbidden = visible or not view_scope
    raise Denied(actor=actor, patron_id=patron.pk, perm=perm, forbidden=forbidden)


def audited_denials(fn):
    """Outside the service's own transaction: record the denial, then answer 404/403."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Denied as exc:
            with transaction.atomic():
                audit.record(
                    actor=exc.actor,
                    action="denied",
                    object_type=PATRON_TYPE,
                    object_id=exc.patron_id,
                    reason=exc.perm,
                )
            if exc.forbidden:
                raise PermissionDenied(
                    "You do not have permission for this.", details={"permission": exc.perm}
                ) from None
            raise PatronNotFound("No such patron.") from None

    return wrapper
