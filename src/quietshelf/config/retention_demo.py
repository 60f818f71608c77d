"""Data of every age for `quietshelf demo` (issue 15 item 8), so the first
`quietshelf retention --dry-run` (and the Retention page) shows each rule at work.

Made through the services, then dated back with plain updates (as the demo's
circulation dates loans back): expired patrons, one past the date for erasure,
one under a legal hold, one with an unpaid fee; paid fees, one from eight
years ago; an erased patron from last year; expired sessions; old sign-in
records; a withdrawn consent; a closed staff account; a revoked API token; old
password links; an old log file and an old backup. Every person is fictional.
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
    from quietshelf.accounts.models import StaffUser
    from quietshelf.api.models import ApiToken
    from quietshelf.catalog.models import Branch
    from quietshelf.circulation import services as circ
    from quietshelf.circulation.models import Fee, FeeTransaction
    from quietshelf.patrons import services as patrons
    from quietshelf.patrons.models import Patron
    from quietshelf.patrons.portal.models import PasswordLink
    from quietshelf.privacy import retention
    from quietshelf.privacy import services as privacy
    from quietshelf.privacy.models import ConsentRecord, Subject
    from quietshelf.privacy.search import search_name_tokens

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
    from quietshelf.patrons.portal.models import SignInFailure

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

    # an old log file and an old backup in their folders
    old = _days_ago(30).timestamp()
    log_dir = settings.LOG_DIR
    log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    log = log_dir / "requests-demo-old.log"
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
