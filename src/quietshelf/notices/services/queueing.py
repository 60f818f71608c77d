"""Queueing notices (CIR-5): the queue_* jobs, the desk's receipt, privacy notices.

Idempotent through Notice.dedupe_key: one row per patron and occasion; a second run
finds the key taken and inserts nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from quietshelf.accounts.authz import require
from quietshelf.core import clock
from quietshelf.core.errors import InvalidInput, NotFound
from quietshelf.notices import conf, policy
from quietshelf.notices.models import (
    Notice,
    NoticeType,
)
from quietshelf.notices.services.common import (
    CHUNK,
    HISTORY_SCOPE,
    NOTIFIABLE,
    PRIVACY_NOTIFIABLE,
    TITLES_SCOPE,
    _chunks,
    _start_of,
)
from quietshelf.privacy import audit, consent
from quietshelf.privacy.fields import sealed


def _patron_facts(patron_ids, statuses=NOTIFIABLE) -> dict:
    """{patron id: (subject id, channel)} for patrons who may get notices at all."""
    from quietshelf.patrons.models import Patron

    facts = {}
    for chunk in _chunks(list(patron_ids)):
        rows = (
            Patron.objects.filter(pk__in=chunk, status__in=statuses)
            .exclude(notification_channel="none")
            .values_list("pk", "subject_id")
        )
        facts.update({pk: subject_id for pk, subject_id in rows})
    return facts


def _consented(subject_ids, scope: str) -> set:
    from quietshelf.privacy.models import ConsentRecord

    found: set = set()
    for chunk in _chunks(list(subject_ids)):
        found.update(
            ConsentRecord.objects.filter(
                subject_id__in=chunk, scope=scope, withdrawn_at__isnull=True
            ).values_list("subject_id", flat=True)
        )
    return found


class _NoticeWriter:
    """Inserts queued notices as one prepared INSERT for many rows (queueing at 100k).

    Each row is what Notice.save() would write: the template values sealed through
    the privacy kernel under the patron's data key with the field's own associated
    data ("table|column|row id"), the other columns as Django's backend stores them.
    ON CONFLICT DO NOTHING on the dedupe key keeps queueing idempotent when two runs
    race (the rows they both built are written once)."""

    VARIABLE = (
        "id",
        "subject_id",
        "patron_id",
        "notice_type",
        "level",
        "dedupe_key",
        "ref_date",
        "ref_id",
        "data",
        "has_titles",
        "kept",
        "next_attempt_at",
        "created_at",
    )

    def __init__(self):
        from django.db import connections, router

        self.conn = conn = connections[router.db_for_write(Notice)]
        fields = Notice._meta.concrete_fields
        by_name = {f.attname: (i, f) for i, f in enumerate(fields)}
        # the columns every new notice has alike, in the form the backend stores them
        self.template = [f.get_db_prep_save(f.get_default(), conn) for f in fields]
        self.variable = [by_name[a] for a in self.VARIABLE if a != "data"]
        self.data_pos, self.data = by_name["data"]
        q = conn.ops.quote_name
        self.sql = (
            f"INSERT INTO {q(Notice._meta.db_table)} "  # noqa: S608 - names from the model, values are parameters
            f"({', '.join(q(f.column) for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))}) "
            f"ON CONFLICT ({q('dedupe_key')}) DO NOTHING"
        )

    def row(self, spec: dict, key) -> list:
        spec["id"] = pk = uuid.uuid4()
        row = self.template.copy()
        conn = self.conn
        for i, field in self.variable:
            row[i] = field.get_db_prep_save(spec[field.attname], conn)
        row[self.data_pos] = sealed(self.data, key, pk, spec["data"])
        return row

    def write(self, rows: list) -> int:
        # one transaction for the chunk (in autocommit each row would commit on its own)
        with transaction.atomic(using=self.conn.alias), self.conn.cursor() as cursor:
            cursor.executemany(self.sql, rows)
            return max(cursor.rowcount, 0)


def _insert(rows: list[dict]) -> int:
    """Insert what is not queued yet; a taken dedupe_key means already queued (idempotent)."""
    from quietshelf.patrons.selectors import warm_keys
    from quietshelf.privacy import keys

    writer = None
    inserted = 0
    for chunk in _chunks(rows):
        dedupe = [n["dedupe_key"] for n in chunk]
        taken = set(
            Notice.objects.filter(dedupe_key__in=dedupe).values_list("dedupe_key", flat=True)
        )
        fresh = [n for n in chunk if n["dedupe_key"] not in taken]
        if not fresh:
            continue
        warm_keys({n["subject_id"] for n in fresh})
        writer = writer or _NoticeWriter()
        sealed_rows = []
        for spec in fresh:
            key = keys.data_key(spec["subject_id"])
            if key is not None:  # a patron forgotten meanwhile gets no notice
                sealed_rows.append(writer.row(spec, key))
        # a concurrent run may have won some keys: the count is of our own rows
        inserted += writer.write(sealed_rows) if sealed_rows else 0
    return inserted


def _build(
    groups: dict,
    notice_type: str,
    *,
    today: dt.date,
    key,
    ref_date=None,
    ref_id=None,
    level=None,
    with_titles: bool = True,
    statuses=NOTIFIABLE,
) -> list[dict]:
    """Notice rows for `groups` {(patron id, group key): {"data": ..., "titles": [...]}}."""
    facts = _patron_facts({pid for pid, _g in groups}, statuses)
    titles_ok = conf.titles_allowed() and with_titles
    with_title = _consented(set(facts.values()), TITLES_SCOPE) if titles_ok else set()
    kept = _consented(set(facts.values()), HISTORY_SCOPE)
    now = clock.now()
    rows = []
    for (pid, group), spec in groups.items():
        subject_id = facts.get(pid)
        if subject_id is None:
            continue
        data = {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in spec["data"].items()}
        show = subject_id in with_title and bool(spec.get("titles"))
        data["titles"] = sorted(t for t in spec.get("titles", ()) if t) if show else []
        rows.append(
            {
                "subject_id": subject_id,
                "patron_id": pid,
                "notice_type": notice_type,
                "level": level(group) if level else 0,
                "dedupe_key": key(pid, group),
                "ref_date": ref_date(group) if ref_date else None,
                "ref_id": ref_id(group) if ref_id else None,
                "data": data,
                "has_titles": show,
                "kept": subject_id in kept,
                "next_attempt_at": now,
                "created_at": now,
            }
        )
    return rows


def _loan_groups(loans, *, level_of=None) -> dict:
    """Open loans grouped per patron and due date (one notice lists the count)."""
    from quietshelf.catalog.models import BibRecord

    groups: dict = {}
    record_ids = set()
    for _loan_id, patron_id, due_at, record_id in loans:
        due = timezone.localdate(due_at)
        level = level_of(due) if level_of else 0
        if level_of and not level:
            continue
        group = (due, level)
        spec = groups.setdefault((patron_id, group), {"data": {}, "records": []})
        spec["records"].append(record_id)
        record_ids.add(record_id)
    titles = {}
    if conf.titles_allowed():
        for chunk in _chunks(list(record_ids)):
            titles.update(BibRecord.objects.filter(pk__in=chunk).values_list("pk", "title"))
    for (_pid, (due, level)), spec in groups.items():
        spec["data"] = {"count": len(spec["records"]), "due_date": due, "level": level}
        spec["titles"] = [titles.get(r, "") for r in spec.pop("records")]
    return groups


def _per_patron(loans, size: int | None = None) -> Iterable[list]:
    """Open loans in slices of about `size`, never splitting a patron (memory stays flat)."""
    size = size or CHUNK
    rows = loans.order_by("patron_id", "pk").values_list(
        "pk", "patron_id", "due_at", "item__record_id"
    )
    chunk: list = []
    for row in rows.iterator(chunk_size=size):
        if len(chunk) >= size and row[1] != chunk[-1][1]:
            yield chunk
            chunk = []
        chunk.append(row)
    if chunk:
        yield chunk


def queue_due_soon_notices(*, today: dt.date | None = None) -> int:
    """Courtesy notices for loans due in the next QUIETSHELF_NOTICE_DUE_SOON_DAYS days."""
    from quietshelf.circulation.models import Loan

    today = today or clock.today()
    days = conf.due_soon_days()
    if days <= 0:
        return 0
    loans = Loan.objects.filter(
        returned_at__isnull=True,
        patron__isnull=False,
        due_at__gte=_start_of(today + dt.timedelta(days=1)),
        due_at__lt=_start_of(today + dt.timedelta(days=days + 1)),
    )
    queued = 0
    for chunk in _per_patron(loans):
        rows = _build(
            _loan_groups(chunk),
            NoticeType.DUE_SOON,
            today=today,
            key=lambda pid, g: policy.due_soon_key(pid, g[0]),
            ref_date=lambda g: g[0],
        )
        queued += _insert(rows)
    return queued


def queue_overdue_notices(*, today: dt.date | None = None) -> int:
    """First, second and third overdue notices (QUIETSHELF_NOTICE_OVERDUE_DAYS after due).

    A loan that passed two intervals since the last run gets only the latest
    notice; each (patron, due date, level) is sent once.
    """
    from quietshelf.circulation.models import Loan

    today = today or clock.today()
    days = conf.overdue_days()
    loans = Loan.objects.filter(
        returned_at__isnull=True,
        patron__isnull=False,
        due_at__lt=_start_of(today - dt.timedelta(days=days[0] - 1)),
    )
    queued = 0
    for chunk in _per_patron(loans):
        groups = _loan_groups(
            chunk, level_of=lambda due: policy.overdue_level(due=due, today=today, days=days)
        )
        rows = _build(
            groups,
            NoticeType.OVERDUE,
            today=today,
            key=lambda pid, g: policy.overdue_key(pid, g[0], g[1]),
            ref_date=lambda g: g[0],
            level=lambda g: g[1],
        )
        queued += _insert(rows)
    return queued


def queue_hold_ready_notices(*, today: dt.date | None = None) -> int:
    """One notice per hold on the hold shelf that has not had one."""
    from quietshelf.catalog.models import Branch
    from quietshelf.circulation.models import Hold

    today = today or clock.today()
    holds = list(
        Hold.objects.filter(status="on_shelf", patron__isnull=False).values_list(
            "pk", "patron_id", "pickup_branch_id", "shelf_expires_on", "record__title"
        )
    )
    branches = dict(Branch.objects.values_list("pk", "name"))
    groups = {
        (patron_id, hold_id): {
            "data": {"pickup_branch": branches.get(branch_id, ""), "expires_on": expires},
            "titles": [title],
        }
        for hold_id, patron_id, branch_id, expires, title in holds
    }
    rows = _build(
        groups,
        NoticeType.HOLD_READY,
        today=today,
        key=lambda pid, hold_id: policy.hold_ready_key(hold_id),
        ref_id=lambda hold_id: hold_id,
    )
    return _insert(rows)


def queue_expiring_card_notices(*, today: dt.date | None = None) -> int:
    """Patrons whose account expires within QUIETSHELF_NOTICE_CARD_EXPIRY_DAYS days."""
    from quietshelf.patrons.models import Patron

    today = today or clock.today()
    days = conf.card_expiry_days()
    if days <= 0:
        return 0
    patrons = Patron.objects.filter(
        expiry_date__gte=today, expiry_date__lte=today + dt.timedelta(days=days)
    ).values_list("pk", "expiry_date")
    groups = {(pid, expiry): {"data": {"expiry_date": expiry}} for pid, expiry in patrons}
    rows = _build(
        groups,
        NoticeType.EXPIRING_CARD,
        today=today,
        key=lambda pid, expiry: policy.expiring_card_key(pid, expiry),
        ref_date=lambda expiry: expiry,
        with_titles=False,
    )
    return _insert(rows)


def queue_fee_notices(*, today: dt.date | None = None) -> int:
    """Patrons with unpaid fees: one notice per patron each time a new fee day comes up."""
    from quietshelf.circulation.models import Fee, FeeTransaction
    from quietshelf.circulation.policy import format_minor

    today = today or clock.today()
    fees = Fee.objects.filter(resolved_at__isnull=True, patron__isnull=False).values_list(
        "pk", "patron_id", "created_at", "currency"
    )
    per_patron: dict = defaultdict(list)
    for fee_id, patron_id, created_at, currency in fees:
        per_patron[patron_id].append((fee_id, timezone.localdate(created_at), currency))
    balances: dict = defaultdict(int)
    fee_ids = [f[0] for rows in per_patron.values() for f in rows]
    for chunk in _chunks(fee_ids):
        for patron_id, currency, total in (
            FeeTransaction.objects.filter(fee_id__in=chunk)
            .values_list("fee__patron_id", "fee__currency")
            .annotate(total=Sum("amount_minor"))
        ):
            balances[(patron_id, currency)] += total or 0
    groups = {}
    for patron_id, rows in per_patron.items():
        owed = {c: balances[(patron_id, c)] for c in {r[2] for r in rows}}
        owed = {c: a for c, a in owed.items() if a > 0}
        if not owed:
            continue
        latest = max(r[1] for r in rows)
        amount = ", ".join(format_minor(a, c) for c, a in sorted(owed.items()))
        groups[(patron_id, latest)] = {"data": {"count": len(rows), "amount": amount}}
    rows = _build(
        groups,
        NoticeType.FEE,
        today=today,
        key=lambda pid, latest: policy.fee_key(pid, latest),
        ref_date=lambda latest: latest,
        with_titles=False,
    )
    return _insert(rows)


@transaction.atomic(durable=True)
def send_checkout_receipt(*, actor, patron_id, loan_ids) -> Notice | None:
    """An e-mail (or text) receipt for loans just made at the desk: a count and due dates only.

    Queued like any notice (the worker sends it); the same loans never give two receipts.
    None when the patron wants no notices.
    """
    from quietshelf.circulation.models import Loan
    from quietshelf.patrons.models import Patron

    try:
        patron = Patron.objects.get(pk=patron_id)
    except (Patron.DoesNotExist, ValueError, TypeError, ValidationError):
        raise NotFound("No such patron.") from None
    require(actor, "circulation.checkout", branch_id=patron.home_branch_id)
    try:
        ids = sorted({uuid.UUID(str(i)) for i in loan_ids})
    except ValueError:
        raise InvalidInput("Not a loan id.", code="invalid_loan") from None
    loans = list(
        Loan.objects.filter(pk__in=ids, patron=patron, returned_at__isnull=True).values_list(
            "pk", "due_at"
        )
    )
    if not ids or len(loans) != len(ids):
        raise InvalidInput("These are not open loans of this patron.", code="invalid_loan")
    if patron.notification_channel == "none" or patron.status not in NOTIFIABLE:
        return None
    digest = hashlib.sha256(",".join(str(i) for i in ids).encode()).hexdigest()[:32]
    dues = sorted({timezone.localdate(due).isoformat() for _pk, due in loans})
    now = clock.now()
    notice, created = Notice.objects.get_or_create(
        dedupe_key=f"receipt:{patron.pk}:{digest}",
        defaults={
            "subject": patron.subject,
            "patron": patron,
            "notice_type": NoticeType.RECEIPT,
            "ref_date": clock.today(),
            "data": {"count": len(ids), "due_dates": dues},
            "kept": consent.has_consent(subject_id=patron.subject_id, scope=HISTORY_SCOPE),
            "next_attempt_at": now,
            "created_at": now,
        },
    )
    if created:
        audit.record(actor=actor, action="created", obj=notice, reason="checkout_receipt")
    return notice


def queue_privacy_notices(*, patron_ids, key: str, headline: str, message: str) -> int:
    """A privacy notice (breach, disclosure) with a text the privacy office reviewed, to each
    patron who can get notices; idempotent per `key` and patron. Returns how many were queued."""
    today = clock.today()
    groups = {
        (pid, key): {"data": {"headline": headline, "message": message}} for pid in patron_ids
    }
    rows = _build(
        groups,
        NoticeType.PRIVACY,
        today=today,
        key=lambda pid, k: f"privacy:{k}:{pid}"[:160],
        ref_date=lambda _k: today,
        with_titles=False,
        statuses=PRIVACY_NOTIFIABLE,
    )
    return _insert(rows)
