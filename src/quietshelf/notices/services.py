"""Notice use cases: queue, deliver, reduce (CIR-5, PRV-NOT-1), templates and retries.

Queueing (the queue_* jobs) is idempotent through Notice.dedupe_key: one row
per patron and occasion; a second run finds the key taken and inserts
nothing. Delivery claims its work with one conditional UPDATE
(state queued -> sending, stamped with the worker's id), so two workers never
take the same notice. Right after the server accepts a message, one UPDATE
records it on that row (`accepted`, two columns without an index); a worker
killed after the server's acceptance but before that UPDATE leaves a
"sending" claim that is put back in the queue after
QUIETSHELF_NOTICE_CLAIM_TIMEOUT_SECONDS, and that one message then goes a
second time with the same Message-ID (at least once, never lost; the window
is one message wide). A claim that timed out with `accepted` set is not sent
again: it becomes sent. A live worker keeps its claim fresh while it works
through a batch (_Claim): before each message it re-stamps the rest of its
batch whenever the stamp is a quarter of the timeout old, and skips any notice
it no longer holds, so a slow server never lets another run take back a
notice that is still being sent.

Without the notification-history consent, at the end of each batch one
transaction turns the accepted rows into bare markers and adds them to
NoticeDailyCount (PRV-NOT-1): no content, channel, time of sending or attempt
count is left on a row about the patron.

Every job here is run by the scheduler (jobs app) or `quietshelf send-notices`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Sum
from django.utils import timezone

from quietshelf.accounts.authz import branch_scope, require
from quietshelf.core import clock
from quietshelf.core.csvfile import CSV_MEDIA_TYPE
from quietshelf.core.errors import Conflict, InvalidInput, NotFound
from quietshelf.core.ids import as_uuid
from quietshelf.notices import conf, defaults, policy, sandbox
from quietshelf.notices.channels import DeliveryError, EmailChannel, sms_gateway
from quietshelf.notices.models import (
    Notice,
    NoticeDailyCount,
    NoticeState,
    NoticeTemplate,
    NoticeType,
    StaffMailAddress,
)
from quietshelf.privacy import audit, consent
from quietshelf.privacy.fields import open_sealed, sealed

log = logging.getLogger("quietshelf.notices")

TITLES_SCOPE = "notice_titles"
HISTORY_SCOPE = "notification_history"
CHUNK = 1000
BATCH = 200
# A restricted patron (PRV-DSR-5: data kept, not used) gets no notices; only a privacy
# notice (for example that the restriction will be lifted) may reach them.
NOTIFIABLE = ("active",)
PRIVACY_NOTIFIABLE = ("active", "restricted")


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time()))


def _chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --- queueing ------------------------------------------------------------------------


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


def _common() -> dict:
    return {"library": conf.library_name(), "account_url": f"{conf.site_url()}/account/"}


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


# --- templates ------------------------------------------------------------------------


def _template_text(notice_type: str, language: str, channel: str, overrides: dict):
    row = overrides.get((notice_type, language, channel))
    if row is not None:
        return row
    return defaults.DEFAULTS[(notice_type, language, channel)]


def _overrides() -> dict:
    return {
        (t.notice_type, t.language, t.channel): (t.subject, t.body)
        for t in NoticeTemplate.objects.all()
    }


DATE_VARIABLES = ("due_date", "expires_on", "expiry_date")


def _revive(data: dict) -> dict:
    """Dates travel as ISO strings in the encrypted JSON; templates get dates back."""
    out = dict(data)
    for key in DATE_VARIABLES:
        if isinstance(out.get(key), str):
            try:
                out[key] = dt.date.fromisoformat(out[key])
            except ValueError:
                out[key] = None
    if isinstance(out.get("due_dates"), list):
        days = []
        for value in out["due_dates"]:
            try:
                days.append(dt.date.fromisoformat(value))
            except (TypeError, ValueError):
                continue
        out["due_dates"] = days
    return out


def render_notice(notice_type: str, language: str, channel: str, data: dict, overrides=None):
    """(subject, body) of a notice; a library template that fails falls back to the built-in."""
    overrides = _overrides() if overrides is None else overrides
    context = {**_common(), **_revive(data or {})}
    allowed = set(defaults.variables_for(notice_type))
    context = {k: v for k, v in context.items() if k in allowed}
    subject, body = _template_text(notice_type, language, channel, overrides)
    try:
        return (
            policy.one_line(
                sandbox.render(
                    subject,
                    context,
                    language=language,
                    limit=sandbox.limit_for(channel, "subject"),
                )
            ),
            sandbox.render(
                body, context, language=language, limit=sandbox.limit_for(channel)
            ).strip()
            + "\n",
        )
    except Exception as exc:  # noqa: BLE001 - checked at save time; never lose a notice over it
        # The sandbox's own messages name the rule broken; any other error's text
        # could quote the patron's values, so only its class is logged.
        reason = exc.message if isinstance(exc, sandbox.TemplateProblem) else ""
        log.error(
            "notice template %s/%s/%s failed; built-in used (%s: %s)",
            notice_type,
            language,
            channel,
            type(exc).__name__,
            reason,
        )
        subject, body = defaults.DEFAULTS[(notice_type, language, channel)]
        return (
            policy.one_line(sandbox.render(subject, context, language=language)),
            sandbox.render(body, context, language=language).strip() + "\n",
        )


def _check_template(notice_type, language, channel, subject, body) -> tuple[str, str]:
    if (notice_type, language, channel) not in defaults.DEFAULTS:
        raise sandbox.TemplateProblem("Unknown notice type, language or channel.")
    sample = defaults.sample(notice_type)
    rendered_subject = ""
    if channel == "email":
        if not subject.strip():
            raise sandbox.TemplateProblem(
                "An e-mail needs a subject.", details={"field": "subject"}
            )
        rendered_subject = sandbox.check(
            subject, variables=sample, language=language, field="subject"
        )
    rendered_body = sandbox.check(
        body, variables=sample, language=language, field="body", limit=sandbox.limit_for(channel)
    )
    if not rendered_body.strip():
        raise sandbox.TemplateProblem("The text renders empty.", details={"field": "body"})
    return policy.one_line(rendered_subject), rendered_body


def template_preview(
    *, notice_type: str, language: str, channel: str, subject: str, body: str
) -> tuple[str, str]:
    """The sample rendering of a draft, or TemplateProblem (no saving)."""
    return _check_template(notice_type, language, channel, subject or "", body or "")


@transaction.atomic(durable=True)
def template_save(
    *, actor, notice_type: str, language: str, channel: str, subject: str, body: str
) -> NoticeTemplate:
    """Create or replace the library's template (SEC-TPL-1: checked in the sandbox first)."""
    require(actor, "notices.manage_templates")
    subject = (subject or "").replace("\r\n", "\n")
    body = (body or "").replace("\r\n", "\n")
    _check_template(notice_type, language, channel, subject, body)
    template, _created = NoticeTemplate.objects.update_or_create(
        notice_type=notice_type,
        language=language,
        channel=channel,
        defaults={"subject": subject if channel == "email" else "", "body": body},
    )
    audit.record(actor=actor, action="changed", obj=template, reason="notice_template_saved")
    return template


@transaction.atomic(durable=True)
def template_reset(*, actor, notice_type: str, language: str, channel: str) -> bool:
    """Back to the built-in text."""
    require(actor, "notices.manage_templates")
    template = NoticeTemplate.objects.filter(
        notice_type=notice_type, language=language, channel=channel
    ).first()
    if template is None:
        return False
    audit.record(actor=actor, action="changed", obj=template, reason="notice_template_reset")
    template.delete()
    return True


# --- delivery -------------------------------------------------------------------------


def _worker_id() -> str:
    return (
        f"{socket.gethostname()[:30]}:{os.getpid()}:{threading.get_ident() % 100000}:"
        + (uuid.uuid4().hex[:8])
    )


def requeue_stale_claims(*, now: dt.datetime | None = None) -> int:
    """Claims older than the timeout belong to a worker that died.

    What the server had already accepted (recorded per message) was delivered: it
    becomes a sent notice that reduce_notice_history counts, and is never sent again.
    The rest goes back in the queue; returns how many."""
    now = now or clock.now()
    cutoff = now - dt.timedelta(seconds=conf.claim_timeout_seconds())
    stale = Notice.objects.filter(state=NoticeState.SENDING, claimed_at__lt=cutoff)
    stale.filter(accepted=True).update(
        state=NoticeState.SENT,
        data=None,
        has_titles=False,
        attempts=0,
        sent_at=None,
        last_error="",
        next_attempt_at=F("created_at"),
        claimed_by="",
        claimed_at=None,
    )
    return stale.filter(accepted=False).update(
        state=NoticeState.QUEUED, claimed_by="", claimed_at=None, next_attempt_at=now
    )


_SQL: dict = {}


def _sql(name: str) -> tuple:
    """(connection, statement) for one of the delivery's hot statements, built once per
    database vendor from the model's own table and column names."""
    from django.db import connections, router

    conn = connections[router.db_for_write(Notice)]
    key = (name, conn.vendor)
    if key not in _SQL:
        q = conn.ops.quote_name
        t = q(Notice._meta.db_table)
        if name == "claim":
            # one statement: the oldest due notices, taken by this worker. On PostgreSQL
            # rows another worker is taking are skipped, not waited for.
            lock = " FOR UPDATE SKIP LOCKED" if conn.vendor == "postgresql" else ""
            _SQL[key] = (
                f"UPDATE {t} SET {q('state')} = %s, {q('claimed_by')} = %s, "  # noqa: S608 - names from the model, values are parameters
                f"{q('claimed_at')} = %s WHERE {q('id')} IN (SELECT {q('id')} FROM {t} "
                f"WHERE {q('state')} = %s AND {q('next_attempt_at')} <= %s "
                f"ORDER BY {q('next_attempt_at')} LIMIT %s{lock}) AND {q('state')} = %s "
                f"RETURNING {q('id')}, {q('subject_id')}, {q('patron_id')}, "
                f"{q('notice_type')}, {q('data')}, {q('kept')}, {q('attempts')}, "
                f"{q('staff_id')}"
            )
        elif name == "accepted":
            # columns without an index: the cheapest durable write there is per message
            _SQL[key] = (
                f"UPDATE {t} SET {q('accepted')} = %s, {q('channel')} = %s "  # noqa: S608 - names from the model, values are parameters
                f"WHERE {q('id')} = %s AND {q('claimed_by')} = %s AND {q('state')} = %s"
            )
        elif name == "settle":
            _SQL[key] = (
                f"UPDATE {t} SET {q('state')} = %s, {q('counted')} = %s, {q('channel')} = '', "  # noqa: S608 - names from the model, values are parameters
                f"{q('attempts')} = 0, {q('sent_at')} = NULL, {q('last_error')} = '', "
                f"{q('next_attempt_at')} = {q('created_at')}, {q('has_titles')} = %s, "
                f"{q('data')} = NULL, {q('claimed_by')} = '', {q('claimed_at')} = NULL "
                f"WHERE {q('claimed_by')} = %s AND {q('state')} = %s AND {q('accepted')} = %s "
                f"AND {q('kept')} = %s AND {q('id')} IN ({{ids}}) RETURNING {q('id')}"
            )
    return conn, _SQL[key]


class _Claimed:
    """A claimed notice as delivery needs it: plain values, its template values opened."""

    __slots__ = (
        "pk",
        "subject_id",
        "patron_id",
        "notice_type",
        "data",
        "kept",
        "attempts",
        "staff_id",
    )

    def __init__(
        self, pk, subject_id, patron_id, notice_type, sealed_data, kept, attempts, staff_id=None
    ):
        self.pk = as_uuid(pk)
        self.subject_id = as_uuid(subject_id)
        # a staff notice (a scheduled report) has a staff member instead of a patron
        self.patron_id = as_uuid(patron_id) if patron_id is not None else None
        self.staff_id = as_uuid(staff_id) if staff_id is not None else None
        self.notice_type = notice_type
        self.kept = bool(kept)
        self.attempts = attempts
        data = None
        if sealed_data is not None:
            data = open_sealed(_DATA_FIELD, self.subject_id, self.pk, sealed_data)
        self.data = data if isinstance(data, dict) else {}


_DATA_FIELD = Notice._meta.get_field("data")


def _claim(worker: str, now: dt.datetime, size: int) -> list[_Claimed]:
    """Take up to `size` due notices, the longest waiting first; [] when none is due.

    The claim is one conditional UPDATE (queued -> sending, stamped with the worker):
    of two workers racing for a row exactly one takes it (DESIGN Rules 3), and a
    worker never mistakes a lost race for an empty queue. It returns what delivery
    reads of each notice."""
    from quietshelf.patrons.selectors import warm_keys

    conn, sql = _sql("claim")
    stamp = conn.ops.adapt_datetimefield_value(now)
    with conn.cursor() as cursor:
        cursor.execute(
            sql,
            [
                NoticeState.SENDING,
                worker,
                stamp,
                NoticeState.QUEUED,
                stamp,
                int(size),
                NoticeState.QUEUED,
            ],
        )
        rows = cursor.fetchall()
    warm_keys({as_uuid(row[1]) for row in rows})
    return [_Claimed(*row) for row in rows]


class _Claim:
    """This worker's hold on the notices of one batch, kept fresh while it sends (CIR-5).

    requeue_stale_claims (in any other run) takes back claims older than the claim
    timeout, so a batch that takes longer than that to send would otherwise be sent a
    second time by the next run. Before each message the claim on the rest of the
    batch is re-stamped in one conditional UPDATE once the last stamp is a quarter of
    the timeout old; a notice whose row no longer matches (taken back, retried by
    staff) is skipped. A message therefore starts at most timeout/4 after its row was
    stamped, and only a single send lasting more than 3/4 of the timeout could overlap
    a take-over (the SMTP time-out is far below the default 900 s).
    """

    def __init__(self, worker: str, pks, *, stamped: float):
        self.worker = worker
        self.pending = set(pks)
        self.stamped = stamped
        self.every = conf.claim_timeout_seconds() / 4

    def holds(self, pk) -> bool:
        if pk not in self.pending:
            return False
        started = time.monotonic()
        if started - self.stamped >= self.every:
            mine = Notice.objects.filter(
                pk__in=self.pending, claimed_by=self.worker, state=NoticeState.SENDING
            )
            if mine.update(claimed_at=clock.now()) != len(self.pending):
                self.pending = set(mine.values_list("pk", flat=True))
            self.stamped = started
        return pk in self.pending

    def done(self, pk) -> None:
        self.pending.discard(pk)


class _Routes:
    """Notice settings and contact points of the patrons in one batch, read once."""

    def __init__(self, patron_ids):
        from quietshelf.patrons.models import ContactPoint, Patron
        from quietshelf.patrons.selectors import warm_keys

        self.patrons = {
            pk: _Recipient(channel, language)
            for pk, channel, language in Patron.objects.filter(pk__in=patron_ids).values_list(
                "pk", "notification_channel", "preferred_language"
            )
        }
        contacts = list(
            ContactPoint.objects.filter(patron_id__in=patron_ids, kind__in=("email", "phone"))
            .order_by("-preferred", "created_at")
            .values_list("pk", "subject_id", "patron_id", "kind", "value")
        )
        warm_keys({row[1] for row in contacts})
        value_field = ContactPoint._meta.get_field("value")
        self.contacts: dict = defaultdict(list)
        for pk, subject_id, patron_id, kind, value in contacts:
            self.contacts[(patron_id, kind)].append(open_sealed(value_field, subject_id, pk, value))

    def address(self, patron_id, channel: str) -> str | None:
        kind = "email" if channel == "email" else "phone"
        for value in self.contacts.get((patron_id, kind), ()):
            if channel == "email" and policy.usable_email(value):
                return value
            if channel == "sms":
                phone = policy.usable_phone(value)
                if phone:
                    return phone
        return None


class _StaffRoutes:
    """The staff mail addresses of the active staff members of one batch, read once."""

    def __init__(self, staff_ids):
        from quietshelf.patrons.selectors import warm_keys

        rows = list(
            StaffMailAddress.objects.filter(
                staff_id__in=staff_ids, staff__is_active=True
            ).values_list("pk", "subject_id", "staff_id", "email")
        )
        warm_keys({row[1] for row in rows})
        field = StaffMailAddress._meta.get_field("email")
        self.addresses = {
            as_uuid(staff_id): open_sealed(field, subject_id, as_uuid(pk), value)
            for pk, subject_id, staff_id, value in rows
        }

    def address(self, staff_id) -> str | None:
        value = self.addresses.get(staff_id)
        return value if policy.usable_email(value) else None


class _Recipient:
    __slots__ = ("notification_channel", "preferred_language")

    def __init__(self, channel: str, language: str):
        self.notification_channel = channel
        self.preferred_language = language


def _message_domain() -> str:
    domain = conf.mail_from().rpartition("@")[2] or "localhost"
    return policy.one_line(domain).replace(" ", "") or "localhost"


def _message_id(notice: _Claimed, domain: str | None = None) -> str:
    return f"<notice-{notice.pk}@{domain or _message_domain()}>"


def _finish(notice: _Claimed, worker: str, **changes) -> bool:
    """Write the outcome of a notice this worker still holds."""
    changes.setdefault("claimed_by", "")
    changes.setdefault("claimed_at", None)
    plain = {k: v for k, v in changes.items() if k not in ("subject_line", "body")}
    if "subject_line" in changes or "body" in changes:
        # encrypted values go through the model (sealed under the patron's key)
        row = Notice.objects.filter(pk=notice.pk, claimed_by=worker).first()
        if row is None:
            return False
        for k, v in changes.items():
            setattr(row, k, v)
        row.save(update_fields=list(changes))
        return True
    return bool(
        Notice.objects.filter(pk=notice.pk, claimed_by=worker, state=NoticeState.SENDING).update(
            **plain
        )
    )


def _mark_accepted(notice: _Claimed, worker: str, channel: str) -> bool:
    """The server took this notice (sent without kept history): record it at once.

    One statement per message, right after the server's acceptance, so a crash re-sends
    at most the one in flight (CIR-5). It writes two columns no index covers; the
    row is settled (stripped and counted) with the rest of its batch in _settle."""
    conn, sql = _sql("accepted")
    with conn.cursor() as cursor:
        cursor.execute(
            sql,
            [
                True,
                channel,
                Notice._meta.pk.get_db_prep_value(notice.pk, conn),
                worker,
                NoticeState.SENDING,
            ],
        )
        return cursor.rowcount == 1


def _settle(worker: str, accepted: dict) -> int:
    """The accepted notices of one batch {pk: (notice type, channel)} become sent
    markers, counted per type, channel and day (PRV-NOT-1), in one transaction.

    The row is emptied (no content, channel, time of sending or attempts) and counted
    once: only rows this worker still holds match, so a batch already settled by
    requeue_stale_claims (the worker was thought dead) is not counted twice."""
    if not accepted:
        return 0
    conn, sql = _sql("settle")
    prep = Notice._meta.pk.get_db_prep_value
    pks = list(accepted)
    now = clock.now()
    with transaction.atomic(using=conn.alias), conn.cursor() as cursor:
        cursor.execute(
            sql.format(ids=", ".join(["%s"] * len(pks))),
            [NoticeState.SENT, True, False, worker, NoticeState.SENDING, True, False]
            + [prep(pk, conn) for pk in pks],
        )
        settled = [as_uuid(row[0]) for row in cursor.fetchall()]
        _count(
            [
                (accepted[pk][0], accepted[pk][1], NoticeState.SENT, now, now)
                for pk in settled
                if pk in accepted
            ]
        )
    return len(settled)


def _failed(notice: _Claimed, worker: str, error: DeliveryError, now: dt.datetime) -> None:
    attempts = notice.attempts + 1
    if error.temporary and attempts < conf.max_attempts():
        delay = policy.backoff_seconds(
            attempts=attempts, base=conf.retry_base_seconds(), cap=conf.retry_max_seconds()
        )
        _finish(
            notice,
            worker,
            state=NoticeState.QUEUED,
            attempts=attempts,
            next_attempt_at=now + dt.timedelta(seconds=delay),
            last_error=error.message,
        )
    else:
        _finish(
            notice, worker, state=NoticeState.FAILED, attempts=attempts, last_error=error.message
        )
    log.warning("notice %s not delivered (attempt %s): %s", notice.pk, attempts, error.message)


def _deliver_batch(
    batch: list[_Claimed], worker: str, email: EmailChannel, sms, *, stamped: float
) -> int:
    accepted: dict = {}
    try:
        return _send_batch(batch, worker, email, sms, stamped=stamped, accepted=accepted)
    finally:
        _settle(worker, accepted)


def _ready(batch: list[_Claimed], worker: str, claim: _Claim, sms) -> Iterable[tuple]:
    """The notices of a batch this worker still holds, routed and rendered, one at a time:
    (notice, channel, address, subject, body). One without a usable address is recorded
    as undeliverable on the way."""
    routes = _Routes({n.patron_id for n in batch})
    overrides = _overrides()
    rendered: dict = {}
    default_language = policy.notice_language(settings.LANGUAGE_CODE[:2], "en")
    staff_routes = None
    for notice in batch:
        if not claim.holds(notice.pk):
            continue  # taken back or retried meanwhile: the other holder sends it
        claim.done(notice.pk)
        if notice.staff_id is not None:  # a scheduled report to a staff member
            if staff_routes is None:
                staff_routes = _StaffRoutes({n.staff_id for n in batch if n.staff_id})
            address = staff_routes.address(notice.staff_id)
            if address is None:
                _finish(
                    notice,
                    worker,
                    state=NoticeState.UNDELIVERABLE,
                    attempts=notice.attempts + 1,
                    last_error="no usable e-mail address for staff mail",
                )
                continue
            yield (notice, "email", address, *render_staff_report(notice.data))
            continue
        patron = routes.patrons.get(notice.patron_id)
        preferred = patron.notification_channel if patron else "none"
        route = None
        for channel in policy.channel_order(preferred, sms_available=sms is not None):
            address = routes.address(notice.patron_id, channel)
            if address:
                route = (channel, address)
                break
        if route is None:
            _finish(
                notice,
                worker,
                state=NoticeState.UNDELIVERABLE,
                attempts=notice.attempts + 1,
                last_error="no usable e-mail address or phone number"
                if preferred != "none"
                else "the patron asked for no notices",
            )
            continue
        channel, address = route
        language = policy.notice_language(patron.preferred_language, default_language)
        # many notices in a batch say the same thing (one item, same due date): render once
        key = (notice.notice_type, language, channel, json.dumps(notice.data, sort_keys=True))
        if key not in rendered:
            rendered[key] = render_notice(
                notice.notice_type, language, channel, notice.data, overrides
            )
        yield (notice, channel, address, *rendered[key])


def _send_batch(
    batch: list[_Claimed], worker: str, email: EmailChannel, sms, *, stamped: float, accepted: dict
) -> int:
    claim = _Claim(worker, [n.pk for n in batch], stamped=stamped)
    domain = _message_domain()
    sent = 0
    down: dict[str, DeliveryError] = {}
    ready = _ready(batch, worker, claim, sms)
    following = next(ready, None)
    while following is not None:
        # one ahead: the next e-mail's envelope can go with this one's text (one round trip)
        (notice, channel, address, subject, body), following = following, next(ready, None)
        now = clock.now()
        if channel in down:  # the server is unreachable: do not hammer it for every notice
            _failed(notice, worker, down[channel], now)
            continue
        try:
            if channel == "email":
                email.send(
                    to=address,
                    subject=subject,
                    body=body,
                    message_id=_message_id(notice, domain),
                    next_to=following[2] if following and following[1] == "email" else None,
                    attachments=_attachments(notice) if notice.staff_id is not None else None,
                )
            else:
                sms.send(to=address, text=body.strip(), message_id=str(notice.pk))
        except DeliveryError as error:
            if error.connection:
                down[channel] = error
            _failed(notice, worker, error, now)
            continue
        if not notice.kept:
            if _mark_accepted(notice, worker, channel):
                accepted[notice.pk] = (notice.notice_type, channel)
            sent += 1
            continue
        changes = {
            "state": NoticeState.SENT,
            "channel": channel,
            "attempts": notice.attempts + 1,
            "sent_at": clock.now(),
            "last_error": "",
            "data": None,  # delivered: what it said goes unless the patron keeps history
        }
        changes.update(subject_line=subject or "", body=body)
        _finish(notice, worker, **changes)
        sent += 1
    return sent


def deliver_queued_notices(
    *, limit: int | None = 500, seconds: float | None = None, threads: int | None = 1
) -> int:
    """Send queued notices that are due; returns how many were sent.

    Stops when nothing due is left, `limit` notices were taken (None: no limit) or
    `seconds` have passed (the scheduled job: the next minute's run goes on where
    this one stopped). One SMTP connection serves every batch of a run. `threads`
    (None: QUIETSHELF_NOTICE_DELIVERY_THREADS) deliver side by side, each with its
    own database and SMTP connections. Safe to run in several workers and processes
    at once (each notice is claimed by one).
    """
    threads = conf.delivery_threads() if threads is None else max(1, int(threads))
    if threads == 1:
        return deliver_round(limit=limit, seconds=seconds)[1]
    share = None if limit is None else -(-max(0, int(limit)) // threads)
    sent: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        from django.db import connections

        try:
            sent.append(deliver_round(limit=share, seconds=seconds)[1])
        except BaseException as exc:  # noqa: BLE001 - raised again in the calling thread
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=run, name=f"deliver-{i}") for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    return sum(sent)


def deliver_round(*, limit: int | None = 500, seconds: float | None = None) -> tuple[int, int]:
    """(notices taken, notices sent): what `send-notices` loops on until nothing is taken."""
    requeue_stale_claims(now=clock.now())
    worker = _worker_id()
    email = EmailChannel()
    sms = sms_gateway()
    taken = sent = 0
    remaining = None if limit is None else max(0, int(limit))
    until = None if seconds is None else time.monotonic() + seconds
    _commit_without_waiting_for_disk(True)
    try:
        while remaining is None or remaining > 0:
            if until is not None and time.monotonic() >= until:
                break
            stamped = time.monotonic()
            size = BATCH if remaining is None else min(BATCH, remaining)
            batch = _claim(worker, clock.now(), size)
            if not batch:
                break
            if remaining is not None:
                remaining -= len(batch)
            taken += len(batch)
            try:
                sent += _deliver_batch(batch, worker, email, sms, stamped=stamped)
            finally:
                # anything this worker still holds and the server did not take (an
                # unexpected error) goes back at once
                Notice.objects.filter(
                    pk__in=[n.pk for n in batch],
                    claimed_by=worker,
                    state=NoticeState.SENDING,
                    accepted=False,
                ).update(state=NoticeState.QUEUED, claimed_by="", claimed_at=None)
    finally:
        email.close()
        _commit_without_waiting_for_disk(False)
    return taken, sent


def _commit_without_waiting_for_disk(on: bool) -> None:
    """PostgreSQL: this run's commits return before the WAL reaches the disk
    (synchronous_commit off for this connection while it delivers; back after).

    Each acceptance is committed on its own, and waiting for the disk each time made
    delivery wait on the disk, not the mail server (about 550 a second here). A worker
    killed at any moment loses nothing this way: its commits are already in the server.
    Only a crash of PostgreSQL itself can lose the last fraction of a second of them
    (wal_writer_delay, 200 ms by default, three times at most); those notices stay
    claimed and are sent once more after the claim timeout, with the same Message-ID:
    at least once, as for a worker killed between a message and its record. SQLite
    (WAL, synchronous=NORMAL) already commits without waiting for the disk."""
    from django.db import connections, router

    conn = connections[router.db_for_write(Notice)]
    if conn.vendor != "postgresql":
        return
    with conn.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off" if on else "RESET synchronous_commit")


# --- staff: the outbox ----------------------------------------------------------------


@transaction.atomic(durable=True)
def notice_retry(*, actor, notice_id) -> Notice:
    """Put a failed or undeliverable notice back in the queue (after fixing a contact point)."""
    try:
        # the patron is an outer join now (a staff notice has none): lock the notice only
        notice = (
            Notice.objects.select_for_update(of=("self",))
            .select_related("patron")
            .get(pk=notice_id)
        )
    except (Notice.DoesNotExist, ValueError, TypeError, ValidationError):
        raise NotFound("No such notice.") from None
    # a staff notice (scheduled report) belongs to no branch: library-wide outbox only
    branch_id = notice.patron.home_branch_id if notice.patron_id else None
    require(actor, "notices.view_outbox", branch_id=branch_id)
    scope = branch_scope(actor, "notices.view_outbox")
    if scope is not None and (branch_id is None or branch_id not in scope):
        raise NotFound("No such notice.")
    if notice.state not in (NoticeState.FAILED, NoticeState.UNDELIVERABLE):
        raise Conflict("Only failed or undeliverable notices can be retried.", code="not_failed")
    if notice.counted:
        raise Conflict("This notice is too old to send again.", code="notice_reduced")
    notice.state = NoticeState.QUEUED
    notice.attempts = 0
    notice.next_attempt_at = clock.now()
    notice.last_error = ""
    notice.save(update_fields=["state", "attempts", "next_attempt_at", "last_error"])
    audit.record(actor=actor, action="changed", obj=notice, reason="notice_retry")
    return notice


# --- reduction (PRV-NOT-1) -------------------------------------------------------------


def _count(rows) -> None:
    tally: dict = defaultdict(int)
    for notice_type, channel, state, sent_at, created_at in rows:
        day = timezone.localdate(sent_at or created_at)
        tally[(notice_type, channel or "", day, state)] += 1
    for (notice_type, channel, day, state), n in tally.items():
        row, _created = NoticeDailyCount.objects.select_for_update().get_or_create(
            notice_type=notice_type, channel=channel, day=day, outcome=state
        )
        NoticeDailyCount.objects.filter(pk=row.pk).update(count=F("count") + n)


def _strip(qs) -> int:
    """Reduce these notices to counts: content, channel, times and attempts gone, the row
    kept as a bare marker (what queueing needs to not send it again)."""
    total = 0
    while True:
        with transaction.atomic():
            rows = list(
                qs.filter(counted=False)
                .select_for_update()
                .values_list("pk", "notice_type", "channel", "state", "sent_at", "created_at")[
                    :CHUNK
                ]
            )
            if not rows:
                return total
            _count([r[1:] for r in rows])
            Notice.objects.filter(pk__in=[r[0] for r in rows]).update(
                data=None,
                subject_line=None,
                body=None,
                counted=True,
                kept=False,
                has_titles=False,
                channel="",
                sent_at=None,
                attempts=0,
                last_error="",
                next_attempt_at=F("created_at"),
            )
            total += len(rows)


def reduce_notice_history(*, today: dt.date | None = None) -> int:
    """Sent notices become a count per type and day (PRV-NOT-1); returns how many were reduced.

    Without the notification-history consent a sent notice is reduced at once
    (its content already went at delivery); with it, after the
    notice_history retention period. Failed and undeliverable ones after
    QUIETSHELF_NOTICE_FAILED_KEEP_DAYS. Markers (rows without content) are
    deleted once the occasion cannot come round again.
    """
    from quietshelf.circulation.models import Fee, Hold, Loan

    today = today or clock.today()
    now = clock.now()
    history_cutoff = now - dt.timedelta(days=conf.history_days())
    failed_cutoff = now - dt.timedelta(days=conf.failed_keep_days())
    # Sent without consent: counted at delivery (_settle); this catches the rows of a
    # worker that died before settling its batch (requeue_stale_claims made them sent),
    # and counted=False keeps anything from counting twice.
    reduced = _strip(Notice.objects.filter(state=NoticeState.SENT, kept=False))
    reduced += _strip(Notice.objects.filter(state=NoticeState.SENT, sent_at__lt=history_cutoff))
    reduced += _strip(
        Notice.objects.filter(
            state__in=(NoticeState.FAILED, NoticeState.UNDELIVERABLE), created_at__lt=failed_cutoff
        )
    )
    markers = Notice.objects.filter(counted=True)
    # markers left by an older version still said when and how the patron was told
    markers.filter(sent_at__isnull=False).update(
        channel="", sent_at=None, attempts=0, last_error="", next_attempt_at=F("created_at")
    )
    open_loan = Loan.objects.filter(
        patron_id=OuterRef("patron_id"), returned_at__isnull=True, due_at__date=OuterRef("ref_date")
    )
    on_shelf = Hold.objects.filter(pk=OuterRef("ref_id"), status="on_shelf")
    open_fee = Fee.objects.filter(
        patron_id=OuterRef("patron_id"),
        resolved_at__isnull=True,
        created_at__date=OuterRef("ref_date"),
    )
    markers.filter(
        notice_type__in=("due_soon", "expiring_card", "receipt"), ref_date__lt=today
    ).delete()
    markers.filter(notice_type="overdue").exclude(Exists(open_loan)).delete()
    markers.filter(notice_type="hold_ready").exclude(Exists(on_shelf)).delete()
    markers.filter(notice_type="fee").exclude(Exists(open_fee)).delete()
    # a scheduled report's marker: the schedule itself knows what it sent (reports app)
    markers.filter(notice_type=NoticeType.STAFF_REPORT, ref_date__lt=today).delete()
    return reduced


def forget_notice_history(subject_id) -> None:
    """Consent to notification history withdrawn: what was kept is reduced now."""
    _strip(Notice.objects.filter(subject_id=subject_id, state=NoticeState.SENT, kept=True))
    Notice.objects.filter(subject_id=subject_id, kept=True).update(kept=False)


def forget_patron_notices(subject_id) -> None:
    """The patron is erased (crypto-shredding): sent notices become counts, the rest go."""
    _strip(Notice.objects.filter(subject_id=subject_id, state=NoticeState.SENT))
    Notice.objects.filter(subject_id=subject_id).delete()


def forget_patrons_notices(subject_ids: list) -> None:
    """forget_patron_notices for a batch (the retention job's purge), set-based."""
    _strip(Notice.objects.filter(subject_id__in=subject_ids, state=NoticeState.SENT))
    Notice.objects.filter(subject_id__in=subject_ids).delete()


def forget_notice_titles(subject_id) -> None:
    """Consent to titles withdrawn: queued notices lose their titles before they go."""
    for notice in Notice.objects.filter(subject_id=subject_id, has_titles=True):
        data = notice.data if isinstance(notice.data, dict) else None
        if data is not None:
            data = {**data, "titles": []}
        notice.data = data
        notice.has_titles = False
        notice.save(update_fields=["data", "has_titles"])


# --- staff mail: scheduled reports (RPT-1, PRV-AGG-1) ----------------------------------


def staff_mail_address(*, actor) -> str:
    """The actor's own address for staff mail ("" when none was given)."""
    row = StaffMailAddress.objects.filter(staff_id=actor.pk).first()
    value = row.email if row is not None else None
    return value if isinstance(value, str) and policy.usable_email(value) else ""


def staff_with_mail_address(staff_ids) -> set:
    """Which of these staff members gave an address for staff mail (ids only)."""
    return set(
        StaffMailAddress.objects.filter(staff_id__in=list(staff_ids)).values_list(
            "staff_id", flat=True
        )
    )


@transaction.atomic(durable=True)
def staff_mail_address_set(*, actor, email: str) -> str:
    """Set (or, empty, remove) the actor's own address for staff mail; audited by id."""
    value = (email or "").strip()
    if not value:
        StaffMailAddress.objects.filter(staff_id=actor.pk).delete()
        audit.record(actor=actor, action="changed", obj=actor, reason="staff mail address removed")
        return ""
    if not policy.usable_email(value):
        raise InvalidInput("That is not an e-mail address we can send to.", code="invalid_email")
    row = StaffMailAddress.objects.filter(staff_id=actor.pk).first()
    if row is None:
        row = StaffMailAddress(staff_id=actor.pk, subject_id=actor.subject_id)
    row.email = value
    row.updated_at = clock.now()
    row.save()
    audit.record(actor=actor, action="changed", obj=actor, reason="staff mail address set")
    return value


def queue_staff_report(*, staff, dedupe_key: str, data: dict) -> bool:
    """Queue a scheduled report for one staff member (in the caller's transaction).

    `data` is plain values only, sealed under the staff member's key until it is
    sent: title, name, range, k, language, the table as text, the CSV text and its
    file name, the staff page's address. The address is read at delivery. Returns
    False when this dedupe key was queued before (a second run sends nothing)."""
    now = clock.now()
    _notice, created = Notice.objects.get_or_create(
        dedupe_key=dedupe_key[:160],
        defaults={
            "subject_id": staff.subject_id,
            "staff_id": staff.pk,
            "notice_type": NoticeType.STAFF_REPORT,
            "ref_date": clock.today(),
            "data": data,
            "kept": False,
            "next_attempt_at": now,
            "created_at": now,
        },
    )
    return created


def render_staff_report(data: dict) -> tuple[str, str]:
    """(subject, body) of a scheduled report: the publication-form table as plain text
    and no more (PRV-NOT-1): what the report is, its range, the table, where to change
    the schedule. Built from our own reviewed text, not a library template."""
    from django.utils import translation
    from django.utils.translation import gettext as _

    data = data if isinstance(data, dict) else {}
    language = policy.notice_language(str(data.get("language") or ""), "en")
    with translation.override(language):
        title = policy.one_line(str(data.get("title") or _("Report")))
        name = policy.one_line(str(data.get("name") or ""))
        subject = policy.one_line(_("Scheduled report: %(name)s") % {"name": name or title})
        lines = [
            _("%(title)s, %(range)s, in its publication form.")
            % {"title": title, "range": data.get("range") or _("today")},
            _(
                "Numbers under %(k)s are shown as “<%(k)s”; “x” hides a number that a total "
                "could give away."
            )
            % {"k": data.get("k") or 5},
            "",
            str(data.get("table") or ""),
            "",
        ]
        if data.get("csv") and conf.staff_report_attachments():
            lines.append(_("The table is attached as a CSV file."))
        if data.get("url"):
            lines.append(_("The report and your schedules: %(url)s") % {"url": data["url"]})
        lines += ["", conf.library_name()]
    return subject, "\n".join(lines).strip() + "\n"


def _attachments(notice) -> list | None:
    data = notice.data
    if not conf.staff_report_attachments() or not data.get("csv"):
        return None
    return [(str(data.get("filename") or "report.csv"), str(data["csv"]), CSV_MEDIA_TYPE)]
