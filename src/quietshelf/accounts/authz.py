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
PERMISSIONS below.
"""

from __future__ import annotations

from dataclasses import dataclass

from quietshelf.core.errors import PermissionDenied
from quietshelf.privacy.audit import Actor

# Every permission the system knows, with what it allows. Those marked True
# reach patron personal data: they need MFA and acknowledged privacy training.
PERMISSIONS: dict[str, tuple[str, bool]] = {
    "catalog.view_staff": ("see staff-only catalogue data (staff notes)", False),
    "catalog.change_record": ("create, edit and delete bibliographic records", False),
    "catalog.change_item": ("create, edit and delete items", False),
    "catalog.import_records": ("import MARC files", False),
    "catalog.change_setup": ("edit branches, locations and item types", False),
    "patrons.view_patron": ("find and view patron records", True),
    "patrons.change_patron": ("register and edit patrons", True),
    "patrons.delete_patron": ("erase patron accounts", True),
    "patrons.add_note": ("write staff notes on patrons", True),
    "patrons.manage_block": ("add and lift blocks", True),
    "patrons.override_block": ("override a block for one transaction", True),
    "patrons.load_patrons": ("run patron loads from campus systems", True),
    "patrons.send_password_link": ("send a patron a password link", True),
    "circulation.checkout": ("check items out and in, renew", True),
    "circulation.override": ("override circulation limits with a reason", True),
    "circulation.manage_fees": ("add, waive and refund fees", True),
    "circulation.manage_rules": ("edit loan rules and calendars", False),
    "notices.manage_templates": ("edit notice templates", False),
    "notices.view_outbox": ("see queued and failed notices and retry them", True),
    "jobs.view_jobs": ("see scheduled jobs, their runs and failures", False),
    "jobs.run_jobs": ("run a job now or retry a failed run", False),
    "privacy.view_privacy_office": ("see the privacy office pages and the audit log", True),
    "privacy.manage_policy": ("publish privacy policy versions", False),
    "privacyoffice.manage_cases": ("handle requests from data subjects (cases)", True),
    "privacyoffice.release_records": (
        "release patron records to a government request (the authorised officer)",
        True,
    ),
    "privacyoffice.manage_canary": ("sign the warrant canary", False),
    "privacyoffice.manage_breaches": ("record breach incidents and notify patrons", True),
    "accounts.manage_staff": ("create staff accounts and grant roles", False),
    "reports.view_reports": ("see de-identified reports", False),
    "reports.view_personal_reports": (
        "run reports that list patrons (overdue lists, patrons owing fees); audited",
        True,
    ),
}


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


def reaches_personal_data(perm: str) -> bool:
    return PERMISSIONS.get(perm, ("", True))[1]


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
