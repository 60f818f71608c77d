"""Every circulation state change: one durable transaction each, the item row locked first.

checkout / checkin / renew (CIR-2, loans.py), holds (CIR-3, holds.py; where a copy goes
next, routing.py), fees (CIR-4, fees.py), rules and calendars (CIR-1, rules.py),
de-identification and reading history (PRV-HIST-1/2/3, history.py) and the last-borrower
escrow (PRV-HIST-4, escrow.py). Lock order everywhere: item, then loan, then hold, then fee.
Why a request may be refused lives in policy.py; the cached rules, calendars and branches
the services read live in selectors.py. This package names every public service, so
callers write `services.checkout(...)` whatever module it lives in.
"""

from quietshelf.circulation.policy import (
    OVERRIDABLE_STATUSES,
    OVERRIDE_HINT,
    PATRON_REFUSALS,
    CirculationRefused,
    Refusal,
)
from quietshelf.circulation.selectors import (
    CLOSED_PERIODS_BACK_DAYS,
    calendar_for,
    config_changed,
    find_rule,
    rule_keys,
)
from quietshelf.circulation.services._base import ItemNotFound, PatronNotFound
from quietshelf.circulation.services.escrow import escrow_open, purge_escrow
from quietshelf.circulation.services.fees import (
    charge_overdue_fines,
    fee_balance,
    fee_charge,
    fee_pay,
    fee_pay_patron,
    fee_refund,
    fee_waive,
)
from quietshelf.circulation.services.history import (
    READING_HISTORY,
    deidentify_closed_loans,
    erase_reading_history,
    reading_history_delete,
    reading_history_exported,
)
from quietshelf.circulation.services.holds import (
    expire_hold_shelf,
    hold_cancel,
    hold_cancel_in_transaction,
    hold_place,
    hold_suspend,
)
from quietshelf.circulation.services.loans import (
    CheckoutResult,
    RenewOutcome,
    RenewResult,
    balance_and_overdue,
    checkin,
    checkout,
    declare_lost,
    desk_block_override,
    hold_trap,
    renew,
    renew_all,
)
from quietshelf.circulation.services.routing import CheckinResult
from quietshelf.circulation.services.rules import (
    calendar_save,
    closed_period_add,
    rule_create,
    rule_save,
)

# services.Conflict: the module before the split had it in its namespace, and callers
# catch it there (tests/circulation/test_services.py)
from quietshelf.core.errors import Conflict

__all__ = [
    "Conflict",
    "CLOSED_PERIODS_BACK_DAYS",
    "OVERRIDABLE_STATUSES",
    "OVERRIDE_HINT",
    "PATRON_REFUSALS",
    "READING_HISTORY",
    "CheckinResult",
    "CheckoutResult",
    "CirculationRefused",
    "ItemNotFound",
    "PatronNotFound",
    "Refusal",
    "RenewOutcome",
    "RenewResult",
    "balance_and_overdue",
    "calendar_for",
    "calendar_save",
    "charge_overdue_fines",
    "checkin",
    "checkout",
    "closed_period_add",
    "config_changed",
    "declare_lost",
    "deidentify_closed_loans",
    "desk_block_override",
    "erase_reading_history",
    "escrow_open",
    "expire_hold_shelf",
    "fee_balance",
    "fee_charge",
    "fee_pay",
    "fee_pay_patron",
    "fee_refund",
    "fee_waive",
    "find_rule",
    "hold_cancel",
    "hold_cancel_in_transaction",
    "hold_place",
    "hold_suspend",
    "hold_trap",
    "purge_escrow",
    "reading_history_delete",
    "reading_history_exported",
    "renew",
    "renew_all",
    "rule_create",
    "rule_keys",
    "rule_save",
]
