"""Pure circulation rules: plain values in, plain values out, `today`/`now` passed in, no ORM.

- select_rule / explain_rule: the loan-rule matrix (CIR-1) and its precedence;
- Calendar: closed days (single, ranges, weekly) and opening hours;
- due_at: the due moment of a loan or renewal, moved to when the branch is open;
- overdue_fine: days late counted on the owning branch's calendar;
- parse_amount: money in integer minor units only;
- fine/overdue limits for automatic blocks (PAT-3);
- refusals: why an item may not be lent, renewed or held (CIR-2/3), in English with
  gettext_noop templates that pages translate (circulation.refusals).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils.translation import gettext_noop

from quietshelf.core.errors import DomainError, InvalidInput
from quietshelf.core.money import format_minor, parse_amount  # noqa: F401  (names kept)

# How far the due-date search looks for an open day before giving up.
MAX_SEARCH_DAYS = 3 * 366


class NoLoanRule(DomainError):
    code = "no_loan_rule"


class CalendarClosed(DomainError):
    code = "calendar_all_closed"


# --- the rule matrix -----------------------------------------------------------------


@dataclass(frozen=True)
class RuleKey:
    """The dimensions of one rule; None is a wildcard."""

    id: int
    patron_group_id: int | None
    item_type_id: int | None
    branch_id: int | None


@dataclass(frozen=True)
class RuleChoice:
    rule_id: int
    why: str
    candidates: int


def _matches(rule: RuleKey, group_id, item_type_id, branch_id) -> bool:
    return (
        (rule.patron_group_id is None or rule.patron_group_id == group_id)
        and (rule.item_type_id is None or rule.item_type_id == item_type_id)
        and (rule.branch_id is None or rule.branch_id == branch_id)
    )


def _rank(rule: RuleKey) -> tuple[int, int, int, int]:
    """Most specific first; a tie goes to branch, then item type, then patron group."""
    b = rule.branch_id is not None
    t = rule.item_type_id is not None
    g = rule.patron_group_id is not None
    return (b + t + g, b, t, g)


def _describe(rule: RuleKey) -> str:
    parts = []
    for name, value in (
        ("branch", rule.branch_id),
        ("item type", rule.item_type_id),
        ("patron group", rule.patron_group_id),
    ):
        parts.append(f"{name} {value}" if value is not None else f"any {name}")
    return ", ".join(parts)


def explain_rule(rules, *, patron_group_id, item_type_id, branch_id) -> RuleChoice:
    """Which rule applies and why; NoLoanRule when none matches (never a default loan)."""
    matching = [r for r in rules if _matches(r, patron_group_id, item_type_id, branch_id)]
    if not matching:
        raise NoLoanRule(
            "No loan rule matches this patron group, item type and branch; "
            "add one under the loan rules before lending.",
            details={
                "patron_group_id": patron_group_id,
                "item_type_id": item_type_id,
                "branch_id": branch_id,
            },
        )
    best = max(matching, key=lambda r: (_rank(r), -r.id))
    n = _rank(best)[0]
    why = (
        f"rule {best.id} ({_describe(best)}) matched with {n} of 3 dimensions set; "
        f"{len(matching)} rule(s) matched, the most specific wins "
        "and ties go to branch, then item type, then patron group"
    )
    return RuleChoice(rule_id=best.id, why=why, candidates=len(matching))


def select_rule(rules, *, patron_group_id, item_type_id, branch_id) -> int:
    return explain_rule(
        rules, patron_group_id=patron_group_id, item_type_id=item_type_id, branch_id=branch_id
    ).rule_id


# --- calendars -------------------------------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    """When a branch is closed: ISO weekdays (1 = Monday), date ranges, opening hours."""

    closed_weekdays: frozenset[int] = frozenset()
    closed_ranges: tuple[tuple[dt.date, dt.date], ...] = ()
    opens: dt.time | None = None
    closes: dt.time | None = None

    def is_open(self, day: dt.date) -> bool:
        if day.isoweekday() in self.closed_weekdays:
            return False
        return not any(first <= day <= last for first, last in self.closed_ranges)

    def next_open_day(self, day: dt.date) -> dt.date:
        """`day` if open, else the first open day after it; CalendarClosed if there is none."""
        if len(self.closed_weekdays & set(range(1, 8))) == 7:
            raise CalendarClosed(
                "The branch calendar is closed on every weekday, so no due date can be found.",
            )
        for offset in range(MAX_SEARCH_DAYS + 1):
            candidate = day + dt.timedelta(days=offset)
            if self.is_open(candidate):
                return candidate
        raise CalendarClosed(
            f"The branch calendar has no open day within {MAX_SEARCH_DAYS} days of {day}.",
        )

    def open_days_between(self, after: dt.date, through: dt.date) -> int:
        """Open days d with after < d <= through."""
        n = 0
        day = after + dt.timedelta(days=1)
        while day <= through:
            if self.is_open(day):
                n += 1
            day += dt.timedelta(days=1)
        return n


ALWAYS_OPEN = Calendar()


def wall_clock_time(value: dt.time | None, *, today: dt.date, zone: dt.tzinfo) -> dt.time | None:
    """An opening hour as the branch's wall-clock time (naive), whatever zone it came in.

    "09:00:00+01:00" means 09:00 where UTC is 08:00; the branch keeps the time
    its clocks show on ``today`` (the offset of summer or winter time). A
    naive time is taken as the branch's own already.
    """
    if value is None or value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=None) if value is not None else None
    moment = dt.datetime.combine(today, value)  # keeps the offset
    return moment.astimezone(zone).time().replace(tzinfo=None)


def make_calendar(closed_weekdays=(), closed_ranges=(), opens=None, closes=None) -> Calendar:
    weekdays = frozenset(int(d) for d in closed_weekdays or ())
    bad = [d for d in weekdays if d < 1 or d > 7]
    if bad:
        raise InvalidInput("Weekdays are 1 (Monday) to 7 (Sunday).", code="invalid_weekday")
    ranges = []
    for first, last in closed_ranges:
        if last < first:
            raise InvalidInput("A closed period ends before it starts.", code="invalid_period")
        ranges.append((first, last))
    if (opens is None) != (closes is None) or (opens and closes and closes <= opens):
        raise InvalidInput("Opening hours need an opening and a later closing time.")
    return Calendar(weekdays, tuple(ranges), opens, closes)


# --- due dates -------------------------------------------------------------------------


def end_of_day(day: dt.date, tz) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=tz)


def due_at(*, start: dt.datetime, period: int, unit: str, calendar: Calendar) -> dt.datetime:
    """When a loan (or renewal) starting at `start` falls due.

    Day loans: due at the end of the day `period` days on, moved to the next
    open day. Hour loans: `start + period` hours; if that is on a closed day or
    outside opening hours it moves to the next opening time (with no opening
    hours, only closed days count).
    """
    if period <= 0:
        raise InvalidInput("A loan period must be positive.", code="invalid_period")
    tz = start.tzinfo
    if unit == "hours":
        # Elapsed hours, counted in UTC: adding to a local time would add wall-clock
        # hours, and a 3-hour loan on a night the clocks change would last 2 or 4.
        due = (start.astimezone(dt.UTC) + dt.timedelta(hours=period)).astimezone(tz)
        day = due.date()
        if calendar.opens is None:
            if calendar.is_open(day):
                return due
            return dt.datetime.combine(calendar.next_open_day(day), dt.time(0, 0), tzinfo=tz)
        t = due.timetz().replace(tzinfo=None)
        if calendar.is_open(day) and calendar.opens <= t <= calendar.closes:
            return due
        if calendar.is_open(day) and t < calendar.opens:
            return dt.datetime.combine(day, calendar.opens, tzinfo=tz)
        nxt = calendar.next_open_day(day + dt.timedelta(days=1))
        return dt.datetime.combine(nxt, calendar.opens, tzinfo=tz)
    day = calendar.next_open_day(start.date() + dt.timedelta(days=period))
    return end_of_day(day, tz)


# --- fines -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FineTerms:
    per_day_minor: int
    grace_days: int = 0
    max_minor: int | None = None
    open_days_only: bool = True


def days_late(*, due: dt.date, returned: dt.date, calendar: Calendar, open_days_only: bool) -> int:
    if returned <= due:
        return 0
    if open_days_only:
        return calendar.open_days_between(due, returned)
    return (returned - due).days


def overdue_fine(*, due: dt.date, returned: dt.date, terms: FineTerms, calendar: Calendar) -> int:
    """The fine in minor units. Within the grace period nothing; after it, every late day.

    `calendar` is the OWNING branch's calendar: a closed day there is not a
    day late when `open_days_only`.
    """
    late = days_late(
        due=due, returned=returned, calendar=calendar, open_days_only=terms.open_days_only
    )
    if late <= terms.grace_days or terms.per_day_minor <= 0:
        return 0
    amount = late * terms.per_day_minor
    if terms.max_minor is not None:
        amount = min(amount, terms.max_minor)
    return amount


def lost_fee(*, policy: str, item_price_minor: int | None, default_minor: int) -> int:
    if policy == "price" and item_price_minor:
        return item_price_minor
    return default_minor


# --- money ---------------------------------------------------------------------------

# Money is core's (DESIGN.md): parse_amount and format_minor live in core.money and
# stay importable from here for the fee services and their callers (#14 item 2).


# --- automatic blocks (PAT-3) ---------------------------------------------------------


def over_limits(
    *, balance_minor: int, overdue_count: int, fine_limit_minor: int, overdue_limit: int
) -> list[str]:
    """Automatic blocks that apply: "debt" over the fine limit, "overdue" over its limit."""
    out = []
    if fine_limit_minor and balance_minor >= fine_limit_minor:
        out.append("debt")
    if overdue_limit and overdue_count >= overdue_limit:
        out.append("overdue")
    return out


# --- refusals (CIR-2, CIR-3) -----------------------------------------------------------
# What may not be lent, renewed or held, and why. The services gather the facts (rows,
# blocks, limits); the decisions and their words are here.

OVERRIDABLE_STATUSES = {"lost", "missing", "damaged", "in_processing"}


class CirculationRefused(DomainError):
    """A failed check; details["refusals"] lists every code, "overridable" if staff may."""

    code = "circulation_refused"
    status_hint = 409


# Messages stay English here (the API's language); gettext_noop marks them for the
# catalogue so a page can show gettext(template) % params in its reader's language.
OVERRIDE_HINT = gettext_noop("Staff with the override permission may lend anyway, with a reason.")


@dataclass(frozen=True)
class Refusal:
    code: str
    template: str  # English, %(name)s placeholders filled from params
    overridable: bool = True
    params: dict = field(default_factory=dict)

    @property
    def message(self) -> str:
        return self.template % self.params if self.params else self.template


def refuse(refusals: list[Refusal]):
    """Raise CirculationRefused naming every refusal (the first one's code leads)."""
    first = refusals[0]
    overridable = all(r.overridable for r in refusals)
    message = " ".join(r.message for r in refusals)
    if overridable:
        message += " " + OVERRIDE_HINT
    exc = CirculationRefused(
        message,
        code=first.code,
        details={"refusals": [r.code for r in refusals], "overridable": overridable},
    )
    exc.refusals = tuple(refusals)  # for pages that translate; not part of the API body
    raise exc


# the refusals a desk override of the patron's blocks sets aside for one visit (PAT-3)
PATRON_REFUSALS = frozenset(
    {"patron_blocked", "patron_expired", "patron_restricted", "patron_pending"}
)


def patron_refusals(patron, blocks) -> list[Refusal]:
    """Why this patron may not borrow: the account's status and the `blocks` in force
    (patrons.policy.effective_blocks, manual and automatic)."""
    out: list[Refusal] = []
    if patron.status == "closed":
        out.append(Refusal("patron_closed", gettext_noop("The patron's account is closed."), False))
    elif patron.status == "pending":
        out.append(Refusal("patron_pending", gettext_noop("The patron's account awaits approval.")))
    elif patron.status == "restricted":
        out.append(
            Refusal("patron_restricted", gettext_noop("The patron's account is restricted."))
        )
    for b in blocks:
        if b.code == "expired":
            out.append(Refusal("patron_expired", gettext_noop("The patron's card has expired.")))
        else:
            text = gettext_noop("The patron is blocked (%(block)s).")
            out.append(Refusal("patron_blocked", text, params={"block": b.label}))
    return out


def item_refusals(status: str, *, status_label: str, circulates: bool) -> list[Refusal]:
    """Why an item may not be lent, by its status and its item type. On loan and on the
    hold shelf are the check-out's own: they depend on the loan and the holds."""
    out: list[Refusal] = []
    if status == "in_transit":
        text = gettext_noop("The item is in transit; check it in first.")
        out.append(Refusal("item_in_transit", text, False))
    elif status in OVERRIDABLE_STATUSES:
        text = gettext_noop("The item is marked %(status)s.")
        out.append(Refusal("item_status", text, params={"status": status_label, "code": status}))
    elif status != "available":
        text = gettext_noop("The item is %(status)s.")
        params = {"status": status_label, "code": status}
        out.append(Refusal("item_status", text, False, params=params))
    if not circulates:
        out.append(Refusal("not_circulating", gettext_noop("This item type is not for loan.")))
    return out


def renewal_refusal_reason(code: str, *, renewals_allowed: int, due: dt.date) -> Refusal | None:
    """The Refusal for a renewal_refusal() code ("" gives None)."""
    if code == "renewal_limit":
        return Refusal(
            "renewal_limit",
            gettext_noop("The loan was renewed the most times allowed (%(max)s)."),
            params={"max": renewals_allowed},
        )
    if code == "hold_by_other":
        return Refusal("hold_by_other", gettext_noop("Another patron is waiting for this title."))
    if code == "too_soon":
        return Refusal(
            "too_soon",
            gettext_noop("Too soon to renew: it is due %(due)s."),
            params={"due": due.isoformat()},
        )
    return None


# --- renewals ------------------------------------------------------------------------


def renewal_refusal(
    *,
    renewals_done: int,
    renewals_allowed: int,
    holds_by_others: int,
    days_to_due: int | None = None,
    no_renewal_before_days: int | None = None,
    extends: bool = True,
) -> str:
    """ "" when a renewal is allowed, else the reason code.

    "too_soon" (CIR-2): more than `no_renewal_before_days` before the due date, or
    a renewal that would not move the due date, so a renewal is never used up for
    nothing.
    """
    if renewals_done >= renewals_allowed:
        return "renewal_limit"
    if holds_by_others:
        return "hold_by_other"
    if (
        no_renewal_before_days is not None
        and days_to_due is not None
        and days_to_due > no_renewal_before_days
    ):
        return "too_soon"
    if not extends:
        return "too_soon"
    return ""


def renewal_extends(*, current_due: dt.datetime, new_due: dt.datetime, unit: str) -> bool:
    """Whether a renewal moves the due date: a later day for day loans, a later time for hours."""
    if unit == "hours":
        return new_due > current_due
    return new_due.date() > current_due.date()


# --- hold shelf ------------------------------------------------------------------------

_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32: no I, L, O, U


def pickup_code(hold_id) -> str:
    """A short code to shelve a held item under instead of the patron's name (PRV-NOT-1):
    five characters from the hold's random id, the same on the slip and the desk screen."""
    n = int(str(hold_id).replace("-", ""), 16)
    out = []
    for _ in range(5):
        n, r = divmod(n, 32)
        out.append(_CODE_ALPHABET[r])
    return "".join(out)
