"""What circulation plugs into other apps at start-up (apps.ready).

- an automatic block rule for the patron register (PAT-3): fines over
  QUIETSHELF_FINE_BLOCK_LIMIT_MINOR, overdue loans at or over
  QUIETSHELF_OVERDUE_BLOCK_LIMIT (patrons.policy.register_block_rule);
- the consent scope "reading_history" (PRV-HIST-3): withdrawal erases at once.
"""

from __future__ import annotations


def fee_and_overdue_blocks(patron, today):
    from django.conf import settings

    from quietshelf.circulation import policy, services
    from quietshelf.patrons.policy import EffectiveBlock

    fine_limit = int(getattr(settings, "QUIETSHELF_FINE_BLOCK_LIMIT_MINOR", 0) or 0)
    overdue_limit = int(getattr(settings, "QUIETSHELF_OVERDUE_BLOCK_LIMIT", 0) or 0)
    if not fine_limit and not overdue_limit or getattr(patron, "pk", None) is None:
        return []
    balance, overdue = services.balance_and_overdue(patron.pk, today, patron=patron)
    out = []
    for code in policy.over_limits(
        balance_minor=balance,
        overdue_count=overdue,
        fine_limit_minor=fine_limit,
        overdue_limit=overdue_limit,
    ):
        label = "Unpaid fees over the limit" if code == "debt" else "Too many overdue loans"
        out.append(EffectiveBlock(code, label, True, None, None))
    return out


def record_panel(actor, patron):
    """Loans (overdue marked), holds (waiting for pickup), fees and a "check out" button on
    the staff patron record (CIR-2, PAT-3); None for staff who may not see loans."""
    from django.conf import settings

    from quietshelf.accounts.authz import has_perm
    from quietshelf.circulation import selectors
    from quietshelf.core import money

    if not has_perm(actor, "circulation.checkout"):
        return None
    fees = (
        selectors.patron_fees(actor=actor, patron_id=patron.pk)
        if has_perm(actor, "circulation.manage_fees")
        else []
    )
    holds = selectors.patron_holds_positioned(actor=actor, patron_id=patron.pk)
    return (
        "circulation/_record_panel.html",
        {
            "loans": selectors.patron_loan_lines(actor=actor, patron_id=patron.pk),
            "holds": holds,
            "ready": sum(1 for h, _pos in holds if h.status == "on_shelf"),
            "fees": [(f, money.format_money(f.balance_minor, f.fee.currency)) for f in fees],
            "balance": money.format_money(
                sum(f.balance_minor for f in fees), settings.QUIETSHELF_CURRENCY
            ),
        },
    )


def install() -> None:
    from quietshelf.circulation import retention
    from quietshelf.circulation.services import READING_HISTORY, erase_reading_history
    from quietshelf.patrons.policy import register_block_rule, register_record_panel
    from quietshelf.privacy import consent

    register_block_rule(fee_and_overdue_blocks)
    register_record_panel(record_panel)
    retention.install()  # its retention steps and the erasure hook (PRV-RET-1, PRV-HIST-5)
    _watch_config()
    consent.register_scope(
        READING_HISTORY,
        description="Keep a list of what I have borrowed (only I can read it)",
        on_withdraw=erase_reading_history,
    )


def _watch_config() -> None:
    """Forget the cached rules, calendars and branches when this process changes one."""
    from django.db.models.signals import post_delete, post_save

    from quietshelf.catalog.models import Branch
    from quietshelf.circulation.models import BranchCalendar, ClosedPeriod, LoanRule
    from quietshelf.circulation.services import config_changed

    for model in (LoanRule, BranchCalendar, ClosedPeriod, Branch):
        post_save.connect(
            config_changed, sender=model, dispatch_uid=f"circ-config-{model.__name__}"
        )
        post_delete.connect(
            config_changed, sender=model, dispatch_uid=f"circ-config-del-{model.__name__}"
        )
