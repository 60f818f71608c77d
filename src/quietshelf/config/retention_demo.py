"""Data of every age for `quietshelf demo` (issue 15 item 8), so the first
`quietshelf retention --dry-run` (and the Retention page) shows each rule at work.

Made through the services, then dated back with plain updates (as the demo's
circulation dates loans back): expired patrons, one past the date for erasure,
one under a legal hold, one with an unpaid fee; paid fees, one from eight
years ago; an erased patron from last year; expired sessions; old sign-in
records; a withdrawn consent; a closed staff account; a revoked API token; old
password links; an orphaned staff session and a closed account's saved report;
closed loans and a cancelled hold an earlier system kept with their borrower,
a sealed last borrower past its date; a closed privacy request, a refused
government order, a closed breach, a lifted restriction and old canary
statements; SIP2 sign-in failures; an old rotated log file and an old backup.
Only the audit log has nothing due (its entries cannot be dated back without
breaking the hash chain). Every person is fictional.
Safe to run twice (does nothing when the marker patron exists).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets

from django.conf import settings
from django.utils import timezone

MARKER = "Oldtimer"


def _days_ago(days: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days)


def create_aged_demo_data() -> dict[str, int]:
    from axes.models import AccessAttempt
    from django.contrib.sessions.models import Session

    from quietshelf.accounts import services as staff_services
    from quietshelf.accounts.models import StaffSession, StaffUser
    from quietshelf.api.models import ApiToken
    from quietshelf.catalog.models import Branch
    from quietshelf.circulation import services as circ
    from quietshelf.circulation.models import Fee, FeeTransaction
    from quietshelf.patrons import services as patrons
    from quietshelf.patrons.models import Patron
    from quietshelf.portal.models import PasswordLink
    from quietshelf.privacy import retention
    from quietshelf.privacy import services as privacy
    from quietshelf.privacy.models import ConsentRecord, Subject
    from quietshelf.privacy.search import search_name_tokens
    from quietshelf.reports.models import SavedReport
    from quietshelf.sip2.models import Sip2Failure

    if search_name_tokens(scope="patron.name", query=MARKER):
        return {}
    counts: dict[str, int] = {}
    branch = Branch.objects.order_by("pk").first()
    today = timezone.localdate()

    def person(n: int, **kw) -> Patron:
        return patrons.patron_register(
            actor=None,
            given_name=kw.pop("given", f"Gunnvor{n}"),
            family_name=kw.pop("family", MARKER),
            barcode=f"2399{n:08d}",
            home_branch=branch,
            **kw,
        )

    # patrons: expired long ago, past their date for erasure, held, with an unpaid fee
    for n, ago in enumerate((45, 120, 400, 800), start=1):
        p = person(n)
        Patron.objects.filter(pk=p.pk).update(expiry_date=today - dt.timedelta(days=ago))
    p = person(5, given="Eirik")
    Patron.objects.filter(pk=p.pk).update(erase_after=today - dt.timedelta(days=1))
    held = person(6, given="Liv")
    Patron.objects.filter(pk=held.pk).update(expiry_date=today - dt.timedelta(days=200))
    retention.legal_hold_place(actor=None, case_reference="DEMO-CASE-1", subject_id=held.subject_id)
    debtor = person(7, given="Tor")
    circ.fee_charge(
        actor=None, patron_id=debtor.pk, fee_type="damage", amount=12000, branch_id=branch.pk
    )
    Patron.objects.filter(pk=debtor.pk).update(expiry_date=today - dt.timedelta(days=90))
    counts["patrons"] = 7

    # fees: paid last month (the patron goes the night after), and eight years ago
    for n, ago in ((8, 30), (9, 8 * 365)):
        payer = person(n, given="Randi")
        fee = circ.fee_charge(
            actor=None, patron_id=payer.pk, fee_type="card", amount=5000, branch_id=branch.pk
        )
        circ.fee_pay(actor=None, fee_id=fee.pk, amount=5000)
        Fee.objects.filter(pk=fee.pk).update(created_at=_days_ago(ago), resolved_at=_days_ago(ago))
        FeeTransaction.objects.filter(fee_id=fee.pk).update(at=_days_ago(ago))
    counts["fees"] = 2

    # an erased patron from last year (their data subject stays until the rule)
    gone = person(10, given="Sverre")
    patrons.patron_erase(actor=None, patron_id=gone.pk, reason="demo")
    Subject.objects.filter(pk=gone.subject_id).update(forgotten_at=_days_ago(200))

    # a withdrawn consent from four years ago, and an old password link
    reader = person(11, given="Ase")
    Patron.objects.filter(pk=reader.pk).update(expiry_date=today + dt.timedelta(days=365))
    privacy.give_consent(subject_id=reader.subject_id, scope="reading_history")
    privacy.withdraw_consent(subject_id=reader.subject_id, scope="reading_history")
    ConsentRecord.objects.filter(subject_id=reader.subject_id).update(
        given_at=_days_ago(5 * 365), withdrawn_at=_days_ago(4 * 365)
    )
    PasswordLink.objects.create(
        patron=reader,
        token_hash=secrets.token_hex(32),
        purpose="reset",
        created_at=_days_ago(30),
        expires_at=_days_ago(29),
    )

    # yesterday's failed patron sign-ins (keyed digests, never the identifier or address)
    from quietshelf.portal.models import SignInFailure

    SignInFailure.objects.create(
        account_digest=secrets.token_hex(32), ip_digest=secrets.token_hex(32), at=_days_ago(2)
    )

    # sessions that expired days ago, and sign-in records from last season
    for n in range(3):
        Session.objects.create(
            session_key=secrets.token_hex(16), session_data="", expire_date=_days_ago(3 + n)
        )
    attempt = AccessAttempt.objects.create(
        user_agent="demo",
        ip_address="192.0.2.0",
        username="",
        http_accept="",
        path_info="/staff/login/",
        get_data="",
        post_data="",
        failures_since_start=1,
    )
    AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=_days_ago(120))

    # a closed staff account and a revoked API token
    staff_services.staff_create(actor=None, username="demo-former-clerk")
    former = StaffUser.objects.get(username="demo-former-clerk")
    staff_services.staff_set_active(actor=None, user=former, active=False)
    StaffUser.objects.filter(pk=former.pk).update(last_login=_days_ago(150))
    ApiToken.objects.create(
        owner=former,
        name="old integration",
        token_hash=secrets.token_hex(32),
        created=today - dt.timedelta(days=200),
        last_used=today - dt.timedelta(days=100),
        revoked=True,
    )

    # a staff session whose Django session is gone (signed out from another device)
    StaffSession.objects.create(user=former, session_key=secrets.token_hex(20))
    SavedReport.objects.create(
        owner=former,
        name="Loans per branch",
        report="loans",
        params={},
        created_at=_days_ago(300),
    )

    counts.update(_aged_circulation(person, branch, today))
    counts.update(_aged_privacy_office(person, branch, today, former))

    # SIP2 sign-in failures from two days ago (keyed digests, never the account or address)
    Sip2Failure.objects.create(
        kind="login", account_digest=secrets.token_hex(32), source="demo", at=_days_ago(2)
    )

    # an old rotated log file and an old backup in their folders
    old = _days_ago(30).timestamp()
    log_dir = settings.LOG_DIR
    log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    log = log_dir / f"worker.log.{_days_ago(30):%Y-%m-%d}"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("request ids and truncated addresses only\n")
    os.utime(log, (old, old))
    from quietshelf.privacy.backup import backup

    made = backup()
    aged = _days_ago(400).timestamp()
    for path in (made.path, made.path.with_name(made.path.name + ".manifest.json")):
        os.utime(path, (aged, aged))
    counts["other"] = 1
    return counts


def _aged_circulation(person, branch, today: dt.date) -> dict[str, int]:
    """Loans and holds an earlier system kept with their borrower (as an import of its
    history brings them), and a sealed last borrower past its week (PRV-HIST-2/4)."""
    from quietshelf.catalog.models import Item
    from quietshelf.circulation.models import Hold, LastBorrowerEscrow, Loan

    items = list(Item.objects.order_by("pk")[:3])
    if not items:
        return {}
    reader = person(12, given="Halvard")
    for n, copy in enumerate(items[:2]):
        Loan.objects.create(
            item=copy,
            patron=reader,
            branch=copy.branch,
            checked_out_at=_days_ago(60 + n),
            due_at=_days_ago(39 + n),
            returned_at=_days_ago(40 + n),
        )
    Hold.objects.create(
        record_id=items[0].record_id,
        patron=reader,
        pickup_branch=branch,
        status="cancelled",
        placed_at=_days_ago(50),
        closed_at=_days_ago(45),
    )
    LastBorrowerEscrow.objects.get_or_create(
        item=items[-1],
        defaults={"sealed": os.urandom(44), "expires_on": today - dt.timedelta(days=20)},
    )
    return {"loans": 2, "holds": 1, "escrow": 1}


def _aged_privacy_office(person, branch, today: dt.date, former) -> dict[str, int]:
    """A closed request, a refused government order, a closed breach, a lifted
    restriction and an old canary statement, all from years ago (PRV-RET-1)."""
    from quietshelf.privacyoffice import services as office
    from quietshelf.privacyoffice.models import (
        BreachIncident,
        CanaryStatement,
        GovernmentRequest,
        ProcessingRestriction,
        RequestCase,
    )

    years = _days_ago(4 * 365)
    asker = person(13, given="Signy")
    case = office.case_open(actor=None, kind="access", channel="letter", patron_id=asker.pk)
    office.case_close(actor=None, case_id=case.pk, status="done", note="answered by letter")
    RequestCase.objects.filter(pk=case.pk).update(closed_at=years)
    order = office.government_request_open(
        actor=None, kind="subpoena", agency="Demo District Court", patron_id=asker.pk
    )
    office.government_refuse(actor=None, request_id=order.pk, note="no court order")
    GovernmentRequest.objects.filter(pk=order.pk).update(decided_at=years)
    # lifting takes an announced day weeks ahead: the lifted restriction is written as such
    ProcessingRestriction.objects.create(
        patron=asker,
        previous_status=asker.status,
        started_at=years - dt.timedelta(days=60),
        lift_on=years.date(),
        lift_announced_at=years - dt.timedelta(days=30),
        lifted_at=years,
    )
    incident = office.breach_record(
        actor=None,
        title="Demo: a misdirected reminder",
        what_happened="A reminder went to the wrong address; it was deleted unread.",
        discovered_at=years,
        window_start=years,
        window_end=years,
        data_categories=["contact"],
    )
    BreachIncident.objects.filter(pk=incident.pk).update(status="closed", created_at=years)
    for valid_days, ago in ((90, 5 * 365), (90, 4 * 365)):
        statement = office.canary_sign(
            actor=None, valid_days=valid_days, today=today - dt.timedelta(days=ago)
        )
        CanaryStatement.objects.filter(pk=statement.pk).update(
            valid_until=today - dt.timedelta(days=ago - valid_days)
        )
    return {"privacy office": 5}
