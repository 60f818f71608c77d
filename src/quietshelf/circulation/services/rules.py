"""Loan rules, branch calendars and closed periods (CIR-1)."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone

from quietshelf.accounts.authz import require
from quietshelf.circulation import policy, selectors
from quietshelf.circulation.models import (
    BranchCalendar,
    ClosedPeriod,
    LoanRule,
)
from quietshelf.circulation.selectors import branch_by_id as _branch
from quietshelf.core import clock
from quietshelf.core.errors import Conflict, InvalidInput, NotFound
from quietshelf.privacy import audit

_RULE_FIELDS = (
    "loan_period",
    "period_unit",
    "renewals_allowed",
    "renewal_period",
    "no_renewal_before_days",
    "max_loans",
    "max_loans_per_type",
    "holds_allowed",
    "hold_limit",
    "fine_per_day_minor",
    "grace_days",
    "max_fine_minor",
    "fines_open_days_only",
    "lost_fee_policy",
    "lost_default_minor",
    "processing_fee_minor",
    "note",
)


@transaction.atomic(durable=True)
def rule_save(
    *, actor, patron_group_id=None, item_type_id=None, branch_id=None, **values
) -> LoanRule:
    """Create or update the rule of one matrix cell (None dimensions are wildcards)."""
    return _rule_save(
        actor=actor,
        patron_group_id=patron_group_id,
        item_type_id=item_type_id,
        branch_id=branch_id,
        **values,
    )


def rule_create(
    *, actor, patron_group_id=None, item_type_id=None, branch_id=None, **values
) -> LoanRule:
    """A rule for a new cell of the matrix (CIR-1): every dimension named must exist
    (404 dimension_not_found), and a cell that has a rule already is 409 rule_exists
    (change it with rule_save), also when another request made it a moment ago."""
    ids = {
        "patron_group_id": patron_group_id,
        "item_type_id": item_type_id,
        "branch_id": branch_id,
    }
    try:
        with transaction.atomic(durable=True):
            require(actor, "circulation.manage_rules")
            missing = selectors.missing_dimensions(**ids)
            if missing:
                raise NotFound(
                    f"Nothing has this id: {', '.join(missing)}.",
                    code="dimension_not_found",
                    details={"fields": missing},
                )
            existing = selectors.rule_for_cell(**ids)
            if existing is not None:
                raise Conflict(
                    "This cell of the matrix has a rule already; change it with PUT.",
                    code="rule_exists",
                    details={"rule_id": existing.pk},
                )
            return _rule_save(actor=actor, **ids, **values)
    except IntegrityError:  # another request made the same cell at the same moment
        raise Conflict("This cell of the matrix has a rule already.", code="rule_exists") from None


def _rule_save(
    *, actor, patron_group_id=None, item_type_id=None, branch_id=None, **values
) -> LoanRule:
    """rule_save inside the caller's transaction."""
    require(actor, "circulation.manage_rules")
    unknown = set(values) - set(_RULE_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown rule fields: {', '.join(sorted(unknown))}.")
    for name in (
        "loan_period",
        "renewal_period",
        "max_loans",
        "max_loans_per_type",
        "hold_limit",
        "fine_per_day_minor",
        "grace_days",
        "max_fine_minor",
        "lost_default_minor",
        "processing_fee_minor",
        "renewals_allowed",
        "no_renewal_before_days",
    ):
        value = values.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise InvalidInput(f"{name.replace('_', ' ')} must be a whole number, 0 or more.")
    if values.get("loan_period") == 0:
        raise InvalidInput("The loan period must be more than zero.", code="invalid_period")
    if values.get("period_unit", "days") not in ("days", "hours"):
        raise InvalidInput("The loan period is in days or hours.")
    rule = LoanRule.objects.filter(
        patron_group_id=patron_group_id, item_type_id=item_type_id, branch_id=branch_id
    ).first() or LoanRule(
        patron_group_id=patron_group_id, item_type_id=item_type_id, branch_id=branch_id
    )
    for name, value in values.items():
        setattr(rule, name, value)
    rule.save()
    audit.record(actor=actor, action="changed", obj=rule)
    return rule


@transaction.atomic(durable=True)
def calendar_save(
    *, actor, branch_id, closed_weekdays=(), opens=None, closes=None
) -> BranchCalendar:
    require(actor, "circulation.manage_rules", branch_id=branch_id)
    branch = _branch(branch_id)
    # Times with an offset are kept as the branch's wall-clock time (same on every engine).
    zone, today = timezone.get_current_timezone(), clock.today()
    opens = policy.wall_clock_time(opens, today=today, zone=zone)
    closes = policy.wall_clock_time(closes, today=today, zone=zone)
    policy.make_calendar(closed_weekdays=closed_weekdays, opens=opens, closes=closes)
    cal, _ = BranchCalendar.objects.update_or_create(
        branch=branch,
        defaults={
            "closed_weekdays": sorted({int(d) for d in closed_weekdays}),
            "opens": opens,
            "closes": closes,
        },
    )
    # Opening days move due dates and fines: who changed them is on record (PRV-ACC-1).
    audit.record(actor=actor, action="changed", obj=cal)
    return cal


@transaction.atomic(durable=True)
def closed_period_add(*, actor, branch_id, first: dt.date, last: dt.date | None = None, note=""):
    require(actor, "circulation.manage_rules", branch_id=branch_id)
    branch = _branch(branch_id)
    last = last or first
    if last < first:
        raise InvalidInput("A closed period ends before it starts.", code="invalid_period")
    period = ClosedPeriod.objects.create(branch=branch, first=first, last=last, note=note[:200])
    audit.record(actor=actor, action="created", obj=period)
    return period


# --- patron checks -----------------------------------------------------------------------
