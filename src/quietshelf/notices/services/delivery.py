"""Delivering claimed notices by e-mail or text (CIR-5): routes, rendering, sending."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings

from quietshelf.core import clock
from quietshelf.core.csvfile import CSV_MEDIA_TYPE
from quietshelf.core.ids import as_uuid
from quietshelf.notices import conf, policy
from quietshelf.notices.channels import DeliveryError, EmailChannel, sms_gateway
from quietshelf.notices.models import (
    Notice,
    NoticeState,
    StaffMailAddress,
)
from quietshelf.notices.services.claims import (
    _Claim,
    _claim,
    _Claimed,
    _failed,
    _finish,
    _mark_accepted,
    _settle,
    _worker_id,
    requeue_stale_claims,
)
from quietshelf.notices.services.staff_mail import render_staff_report
from quietshelf.notices.services.templates import _overrides, render_notice
from quietshelf.privacy.fields import open_sealed

BATCH = 200


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


def _attachments(notice) -> list | None:
    data = notice.data
    if not conf.staff_report_attachments() or not data.get("csv"):
        return None
    return [(str(data.get("filename") or "report.csv"), str(data["csv"]), CSV_MEDIA_TYPE)]
