"""What the staff menu may offer: only the pages the signed-in staff member can open."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject


def _menu(user) -> dict[str, bool]:
    from quietshelf.accounts.roles import holds_ignoring_gates

    # Held before the MFA and training gates: the page itself then says what is missing.
    def held(*perms: str) -> bool:
        return any(holds_ignoring_gates(user, p) for p in perms)

    return {
        "desk": held("circulation.checkout", "circulation.manage_rules"),
        "patrons": held("patrons.view_patron"),
        "outbox": held("notices.view_outbox"),
        "notice_templates": held("notices.manage_templates"),
        "jobs": held("jobs.view_jobs"),
        "reports": held("reports.view_reports"),
        "privacy_office": held("privacy.view_privacy_office"),
        "sip2_terminals": held("accounts.manage_staff"),
    }


def staff_menu(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not getattr(user, "is_staff", False):
        return {}
    # Computed only when a page's menu asks (public pages never do).
    return {"staff_menu": SimpleLazyObject(lambda: _menu(user))}
