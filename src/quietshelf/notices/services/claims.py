"""Claiming queued notices and recording what became of them (CIR-5).

Delivery claims its work with one conditional UPDATE (state queued -> sending, stamped
with the worker's id), so two workers never take the same notice; see the package's
docstring for what a worker killed mid-batch leaves behind."""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
import uuid

from django.db import transaction
from django.db.models import F

from quietshelf.core import clock
from quietshelf.core.ids import as_uuid
from quietshelf.notices import conf, policy
from quietshelf.notices.channels import DeliveryError
from quietshelf.notices.models import (
    Notice,
    NoticeState,
)
from quietshelf.notices.services.common import log
from quietshelf.notices.services.history import _count
from quietshelf.privacy.fields import open_sealed


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
