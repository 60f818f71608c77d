"""Every permission the system knows (the table authz and roles both read).

Kept apart from authz so that roles, which authz asks, reads the table without importing
authz back (no cycle inside accounts: docs/dev/architecture.md, #14). Importable as
``authz.PERMISSIONS`` as before.
"""

from __future__ import annotations

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


def reaches_personal_data(perm: str) -> bool:
    return PERMISSIONS.get(perm, ("", True))[1]
