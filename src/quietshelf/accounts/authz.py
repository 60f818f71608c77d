"""Who may do what, where: the one place services and selectors ask.

The contract (used by every app; the staff-accounts work fills in the
internals: roles granted on a part of the organisation tree, MFA and privacy
training gates):

- ``has_perm(actor, perm, *, branch_id=None) -> bool``
- ``require(actor, perm, *, branch_id=None) -> None`` raises
  core.errors.PermissionDenied
- ``branch_scope(actor, perm) -> set[int] | None``: the branch ids where the
  actor holds ``perm``; None means everywhere (a grant at the top of the
  tree); an empty set means nowhere. Selectors filter with it.

``actor`` is a StaffUser, or None for the system itself (CLI, jobs), which may
do everything. Permission names are "app.codename" strings listed in
PERMISSIONS (accounts/permissions.py, importable from here as before).
"""

from __future__ import annotations

from dataclasses import dataclass

from quietshelf.accounts.permissions import (  # noqa: F401  (both names, importable here as before)
    PERMISSIONS,
    reaches_personal_data,
)
from quietshelf.core.errors import PermissionDenied
from quietshelf.privacy.audit import Actor


@dataclass(frozen=True)
class TerminalActor(Actor):
    """A SIP2 terminal (self-check machine, sorter) acting through the services.

    Built by the SIP2 server for one message: `permissions` follow the
    messages the terminal account is allowed, and `patron_id` is the one
    patron the terminal authenticated in its session ("" for none). Services
    that act on a patron refuse any other patron (SEC-ACC-1); audit entries
    name the terminal (actor type "terminal").
    """

    permissions: frozenset = frozenset()
    patron_id: str = ""

    @classmethod
    def for_terminal(cls, terminal_id, *, permissions, patron_id=None) -> TerminalActor:
        return cls(
            "terminal",
            str(terminal_id),
            permissions=frozenset(permissions),
            patron_id="" if patron_id is None else str(patron_id),
        )


def terminal_acts_for(actor, patron_id) -> bool:
    """False when `actor` is a terminal and `patron_id` is not the patron it authenticated."""
    if not isinstance(actor, TerminalActor):
        return True
    return bool(actor.patron_id) and actor.patron_id == str(patron_id)


def has_perm(actor, perm: str, *, branch_id: int | None = None) -> bool:
    if perm not in PERMISSIONS:
        raise ValueError(f"unknown permission {perm!r}")
    if actor is None:
        return True
    if isinstance(actor, TerminalActor):
        # A terminal's rights are its account's messages, wherever the loan was made.
        return perm in actor.permissions
    if not getattr(actor, "is_active", False):
        return False
    from quietshelf.accounts import roles

    return roles.actor_has_perm(actor, perm, branch_id=branch_id)


def require(actor, perm: str, *, branch_id: int | None = None) -> None:
    if not has_perm(actor, perm, branch_id=branch_id):
        raise PermissionDenied("You do not have permission for this.", details={"permission": perm})


def branch_scope(actor, perm: str) -> set[int] | None:
    if perm not in PERMISSIONS:
        raise ValueError(f"unknown permission {perm!r}")
    if actor is None:
        return None
    if isinstance(actor, TerminalActor):
        return None if perm in actor.permissions else set()
    if not getattr(actor, "is_active", False):
        return set()
    from quietshelf.accounts import roles

    return roles.actor_branch_scope(actor, perm)
