"""Pure rules of the privacy office: plain values in and out, `today` passed in, no ORM."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

# --- erasure exceptions (PRV-DSR-4) ------------------------------------------------


@dataclass(frozen=True)
class ErasureException:
    """One thing that stops or outlives an erasure, in plain words.

    `blocking`: the erasure waits until it is resolved. Otherwise it is what
    is kept after the erasure, and why.
    """

    code: str
    blocking: bool
    message: str


ERASURE_REASONS = {
    "patron_request": "the patron asked for it",
    "account_expired": "the account expired and was not renewed",
    "duplicate": "a duplicate registration",
    "deceased": "the patron has died",
    "other": "another reason recorded in the case",
}


def erasure_exceptions(
    *,
    open_loans: int,
    unresolved_fees: int,
    unresolved_minor: int,
    money_text: str,
    open_holds: int,
    settled_fees: int,
    fee_retention_days: int | None,
    fee_rule: str,
) -> list[ErasureException]:
    """The exceptions for one account, blocking ones first.

    fee_rule: "wait" (erasure waits for unresolved fees) or "keep" (they stay
    as financial records without the rest of the account).
    """
    out: list[ErasureException] = []
    if open_loans:
        out.append(
            ErasureException(
                "open_loans",
                True,
                ngettext(
                    "%(n)d item is still on loan. It must be returned (or declared lost) "
                    "before the account can be erased.",
                    "%(n)d items are still on loan. They must be returned (or declared lost) "
                    "before the account can be erased.",
                    open_loans,
                )
                % {"n": open_loans},
            )
        )
    if unresolved_fees:
        if fee_rule == "wait":
            out.append(
                ErasureException(
                    "unresolved_fees",
                    True,
                    _(
                        "%(amount)s in unpaid fees. The library's rule is that erasure waits "
                        "until fees are paid or waived."
                    )
                    % {"amount": money_text},
                )
            )
        else:
            out.append(
                ErasureException(
                    "unresolved_fees",
                    False,
                    _(
                        "%(amount)s in unpaid fees are kept as a financial record, without "
                        "your name, contact details or what you borrowed."
                    )
                    % {"amount": money_text},
                )
            )
    if open_holds:
        out.append(
            ErasureException(
                "open_holds",
                False,
                ngettext(
                    "%(n)d hold will be cancelled.",
                    "%(n)d holds will be cancelled.",
                    open_holds,
                )
                % {"n": open_holds},
            )
        )
    if settled_fees:
        period = (
            _("as long as the law requires")
            if fee_retention_days is None
            else ngettext("for %(d)d day", "for %(d)d days", fee_retention_days)
            % {"d": fee_retention_days}
        )
        out.append(
            ErasureException(
                "financial_records",
                False,
                ngettext(
                    "%(n)d settled payment record is kept %(period)s, as accounting law "
                    "requires, without your name or what you borrowed.",
                    "%(n)d settled payment records are kept %(period)s, as accounting law "
                    "requires, without your name or what you borrowed.",
                    settled_fees,
                )
                % {"n": settled_fees, "period": period},
            )
        )
    out.sort(key=lambda e: not e.blocking)
    return out


# Retention categories a patron's erasure leaves alone: a legal hold on one of them does
# not stop it (the audit log keeps ids only; holds and published names are not the patron's).
ERASURE_LEAVES = frozenset({"audit_log", "legal_hold", "bibliographic", "staff_account"})


def legal_hold_exceptions(
    *, person_held: bool, held_categories: set[str], patron_categories: set[str]
) -> list[ErasureException]:
    """Legal holds (PRV-DSR-4, PRV-RET-2): a hold on the person, or on a category of
    records the erasure would destroy, makes the erasure wait until it is released.

    The case reference is not shown: a hold may belong to a matter the patron is not
    to be told about yet; that it exists is what the law lets the library say.
    """
    out: list[ErasureException] = []
    if person_held:
        out.append(
            ErasureException(
                "legal_hold",
                True,
                _(
                    "A legal hold covers this account's data: the library must keep it "
                    "until the hold is released. Erasure waits until then."
                ),
            )
        )
    covered = (held_categories & patron_categories) - ERASURE_LEAVES
    if covered and not person_held:
        out.append(
            ErasureException(
                "legal_hold",
                True,
                _(
                    "A legal hold covers a kind of record this account has: the library "
                    "must keep those records until the hold is released. Erasure waits "
                    "until then."
                ),
            )
        )
    return out


def erasure_blocked(exceptions: list[ErasureException]) -> bool:
    return any(e.blocking for e in exceptions)


# --- request cases (PRV-DSR-6) -------------------------------------------------------


def case_due_on(received_on: dt.date, *, deadline_days: int) -> dt.date:
    """The legal deadline: `deadline_days` calendar days after the request arrived."""
    return received_on + dt.timedelta(days=max(1, deadline_days))


def case_urgency(*, due_on: dt.date, today: dt.date, remind_days: int) -> str:
    """ "overdue" past the deadline, "soon" within the reminder window, else "ok"."""
    if today > due_on:
        return "overdue"
    if (due_on - today).days <= remind_days:
        return "soon"
    return "ok"


def remind_today(
    *, due_on: dt.date, today: dt.date, remind_days: int, last_reminded_on: dt.date | None
) -> bool:
    """One reminder a day for an open case that is due soon or overdue (never closed by this)."""
    if case_urgency(due_on=due_on, today=today, remind_days=remind_days) == "ok":
        return False
    return last_reminded_on != today


# --- the warrant canary (PRV-GOV-2) --------------------------------------------------

CANARY_MIN_DAYS = 1
CANARY_MAX_DAYS = 366


def canary_validity_error(valid_days) -> str | None:
    """Why a validity period is not acceptable, or None."""
    try:
        days = int(valid_days)
    except (TypeError, ValueError):
        return "The validity must be a whole number of days."
    if days < CANARY_MIN_DAYS:
        return "A canary must be valid for at least 1 day."
    if days > CANARY_MAX_DAYS:
        return (
            f"A canary may be valid for at most {CANARY_MAX_DAYS} days: a longer one "
            "could not go stale in time to warn anyone."
        )
    return None


def canary_text(*, controller: str, signed_on: dt.date, valid_until: dt.date) -> str:
    """The statement, in English (the signed text never depends on the reader's language)."""
    return (
        "Warrant canary\n"
        f"Library: {controller}\n"
        f"Date: {signed_on.isoformat()}\n"
        f"Valid until: {valid_until.isoformat()}\n"
        "\n"
        f"As of {signed_on.isoformat()}, {controller} has not received any search warrant, "
        "subpoena, national security letter, court order or other demand for patron records "
        "that forbids it to tell the people concerned or the public that it exists.\n"
        "\n"
        "If this statement is not renewed by the date above, or it is removed, assume that "
        "this may no longer be true.\n"
    )


def canary_stale(*, valid_until: dt.date, today: dt.date) -> bool:
    return today > valid_until


# --- government requests (PRV-GOV-1) -------------------------------------------------


def notify_due_on(
    *, today: dt.date, gag_until: dt.date | None, gag_indefinite: bool
) -> dt.date | None:
    """When the patron may be told of a release: at once, on the day the order ends, or
    not until someone records that an indefinite order has been lifted (None)."""
    if gag_indefinite:
        return None
    if gag_until is not None and gag_until > today:
        return gag_until
    return today


# --- breach incidents (PRV-BRE-1) ----------------------------------------------------

BREACH_HOURS = 72


def breach_deadline(discovered_at: dt.datetime) -> dt.datetime:
    """The supervisory authority must hear within 72 hours of discovery (GDPR Art. 33)."""
    return discovered_at + dt.timedelta(hours=BREACH_HOURS)


def breach_hours_left(*, discovered_at: dt.datetime, now: dt.datetime) -> float:
    """Hours left on the 72-hour clock (negative once past)."""
    return round((breach_deadline(discovered_at) - now).total_seconds() / 3600, 1)
