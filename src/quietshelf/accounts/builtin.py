"""The built-in roles (least privilege; docs/roles.md) and the first training text.

Used by the data migration 0004 and by tests; changing a set here needs a new
migration calling `sync_builtin_roles`.
"""

from __future__ import annotations

BUILTIN_ROLES: dict[str, tuple[str, str, list[str]]] = {
    "circulation-desk": (
        "Circulation desk",
        "Lends and returns, registers and helps patrons at the desk.",
        [
            "catalog.view_staff",
            "patrons.view_patron",
            "patrons.change_patron",
            "patrons.add_note",
            "patrons.manage_block",
            "patrons.send_password_link",
            "circulation.checkout",
            "circulation.manage_fees",
            "notices.view_outbox",
            "reports.view_reports",
            "reports.view_personal_reports",
        ],
    ),
    "desk-supervisor": (
        "Desk supervisor",
        "Everything the circulation desk does, and overrides blocks and limits with a reason.",
        [
            "catalog.view_staff",
            "patrons.view_patron",
            "patrons.change_patron",
            "patrons.add_note",
            "patrons.manage_block",
            "patrons.override_block",
            "patrons.send_password_link",
            "circulation.checkout",
            "circulation.override",
            "circulation.manage_fees",
            "notices.view_outbox",
            "reports.view_reports",
            "reports.view_personal_reports",
        ],
    ),
    "cataloguer": (
        "Cataloguer",
        "Describes and imports records and items. No patron data.",
        [
            "catalog.view_staff",
            "catalog.change_record",
            "catalog.change_item",
            "catalog.import_records",
        ],
    ),
    "patron-manager": (
        "Patron manager",
        "Looks after patron records: loads, blocks, overrides, erasure.",
        [
            "patrons.view_patron",
            "patrons.change_patron",
            "patrons.delete_patron",
            "patrons.add_note",
            "patrons.manage_block",
            "patrons.override_block",
            "patrons.load_patrons",
            "patrons.send_password_link",
            "circulation.override",
            "notices.view_outbox",
            "reports.view_reports",
            "reports.view_personal_reports",
        ],
    ),
    "privacy-officer": (
        "Privacy officer",
        "Runs the privacy office: audit log, policies, requests from data subjects.",
        [
            "privacy.view_privacy_office",
            "privacy.manage_policy",
            "patrons.view_patron",
            "patrons.delete_patron",
            "reports.view_reports",
            "privacyoffice.manage_cases",
            "privacyoffice.manage_canary",
            "privacyoffice.manage_breaches",
        ],
    ),
    "authorised-officer": (
        "Authorised officer",
        "Decides on government and law-enforcement requests and alone may release records.",
        [
            "privacy.view_privacy_office",
            "patrons.view_patron",
            "privacyoffice.manage_cases",
            "privacyoffice.release_records",
        ],
    ),
    "administrator": (
        "Administrator",
        "Staff accounts, roles, branches, loan rules, notice templates and jobs. No patron data.",
        [
            "accounts.manage_staff",
            "catalog.change_setup",
            "circulation.manage_rules",
            "notices.manage_templates",
            "jobs.view_jobs",
            "jobs.run_jobs",
            "reports.view_reports",
        ],
    ),
    "report-reader": (
        "Report reader",
        "Reads de-identified reports. No patron data.",
        ["reports.view_reports"],
    ),
}

TRAINING_V1_TITLE = "Handling patron data at the library"
TRAINING_V1_BODY = """\
Patron records tell what people read, where they live and how to reach them.
Before you can open them, please read and confirm the following.

1. Look up a patron only to serve that patron or to do a task your role
   needs. Every look-up, search and change is written to the audit log, and
   the patron can see which role looked at their record and when.
2. Never tell anyone what a patron borrows or has borrowed, not family, not
   colleagues, not the police without the formal request the privacy officer
   handles.
3. Write notes about the library matter only. Never note health, religion,
   politics, sexuality, ethnicity, union membership or criminal records, nor
   identity numbers or payment card numbers.
4. Keep your password and second factor to yourself; sign out when you leave
   the desk. Report a lost phone or security key at once.
5. Send any request from a patron to see, correct or erase their data to the
   privacy officer.
"""


def sync_builtin_roles(Role) -> None:
    for code, (name, description, perms) in BUILTIN_ROLES.items():
        Role.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "description": description,
                "builtin": True,
                "permissions": sorted(perms),
            },
        )
