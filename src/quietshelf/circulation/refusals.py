"""A service's refusal or error in its reader's language: one translator for every page.

The services keep English (the API's language) and mark their messages with
gettext_noop; a refusal (policy.Refusal) carries its template and values. Staff at the
desk read those, translated; the patron in My account reads the plainer PATRON_TEXTS by
code, the service's English being the fallback for a code without one (#14 item 6).
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from quietshelf.catalog.models import ItemStatus
from quietshelf.circulation import policy
from quietshelf.core import money
from quietshelf.core.errors import DomainError

# The patron reads these instead of the desk-oriented English of the services (by code).
PATRON_TEXTS = {
    "renewal_limit": gettext_lazy("You have renewed this loan as many times as allowed."),
    "hold_by_other": gettext_lazy(
        "Someone else is waiting for this title, so it cannot be renewed. "
        "Please return it by the due date."
    ),
    "too_soon": gettext_lazy(
        "It is too soon to renew this loan: renewing now would not give you more time."
    ),
    "patron_blocked": gettext_lazy("Your account is blocked. Please contact the library."),
    "patron_expired": gettext_lazy("Your library card has expired. Please contact the library."),
    "patron_restricted": gettext_lazy("Your account is restricted. Please contact the library."),
    "patron_pending": gettext_lazy("Your account is waiting for the library's approval."),
    "patron_closed": gettext_lazy("Your account is closed."),
    "loan_closed": gettext_lazy("This loan is already returned."),
    "loan_not_found": gettext_lazy("This loan is already returned."),
    "duplicate_hold": gettext_lazy("You already have a hold on this title."),
    "hold_on_own_loan": gettext_lazy("You have this title on loan already."),
    "holds_not_allowed": gettext_lazy("Holds are not allowed on this title for your card."),
    "hold_limit": gettext_lazy("You have as many holds as allowed."),
    "no_items": gettext_lazy("The library has no copies of this title to hold."),
    "record_not_found": gettext_lazy("This title is not in the catalogue."),
    "branch_not_found": gettext_lazy("Choose a branch from the list."),
    "hold_closed": gettext_lazy("This hold is no longer open."),
    "hold_not_waiting": gettext_lazy(
        "Only a hold that is still waiting can be suspended or resumed."
    ),
    "invalid_date": gettext_lazy("Choose a date after today."),
}


def refusal_text(exc: DomainError, *, reader: str = "staff") -> str:
    """The error's text for `reader`: "staff" (the desk pages) or "patron" (My account)."""
    if reader == "patron":
        codes = list((exc.details or {}).get("refusals") or []) or [exc.code]
        texts = []
        for code in codes:
            text = PATRON_TEXTS.get(code)
            if text is None:
                return exc.message
            if str(text) not in texts:
                texts.append(str(text))
        return " ".join(texts)
    refusals = getattr(exc, "refusals", None)
    if not refusals:
        if exc.code == "overpayment" and "balance_minor" in exc.details:
            owed = money.format_money(exc.details["balance_minor"], settings.QUIETSHELF_CURRENCY)
            return _("That is more than is owed (%(owed)s).") % {"owed": owed}
        return _(exc.message)
    texts = []
    for r in refusals:
        params = dict(r.params)
        if "code" in params:  # an item status: its label in the reader's language
            params["status"] = str(ItemStatus(params["code"]).label).lower()
        texts.append(_(r.template) % params if params else _(r.template))
    if exc.details.get("overridable"):
        texts.append(_(policy.OVERRIDE_HINT))
    return " ".join(texts)
