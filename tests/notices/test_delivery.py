"""Delivery over a real SMTP server on loopback (aiosmtpd) and an SMS gateway (CIR-5)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from quietshelf.notices import services
from quietshelf.notices.models import Notice, NoticeDailyCount
from quietshelf.patrons.models import ContactPoint
from tests.notices.conftest import TODAY, free_port, point_django_at


def _queue_one(reader, loan, **kw):
    p = reader(**kw)
    loan(p, TODAY + dt.timedelta(days=3))
    assert services.queue_due_soon_notices(today=TODAY) == 1
    return p


def test_delivered_over_smtp_with_a_stable_message_id_and_one_connection_cir5(smtp, reader, loan):
    for _ in range(5):
        reader_ = reader()
        loan(reader_, TODAY + dt.timedelta(days=3))
    services.queue_due_soon_notices(today=TODAY)
    assert services.deliver_queued_notices() == 5
    assert len(smtp.messages) == 5
    assert len(smtp.sessions) == 1  # one connection for the batch
    ids = {f"<notice-{n.pk}@fjordvik.example>" for n in Notice.objects.all()}
    assert set(smtp.ids()) == ids
    assert all(n.state == "sent" and n.data is None for n in Notice.objects.all())
    assert services.deliver_queued_notices() == 0
    assert len(smtp.messages) == 5


def test_refused_message_fails_visibly_and_is_not_sent_again_cir5(smtp, reader, loan):
    _queue_one(reader, loan)
    smtp.mode = "refuse"
    assert services.deliver_queued_notices() == 0
    notice = Notice.objects.get()
    assert notice.state == "failed"
    assert notice.last_error == "SMTP 550: DataError"
    assert "@" not in notice.last_error
    smtp.mode = "accept"
    assert services.deliver_queued_notices() == 0
    assert smtp.messages == []


def test_server_down_retries_with_back_off_then_sends_once_cir5(settings, reader, loan):
    from aiosmtpd.controller import Controller

    from tests.notices.conftest import Inbox

    port = free_port()  # nobody listens here yet
    point_django_at(settings, port)
    _queue_one(reader, loan)
    assert services.deliver_queued_notices() == 0
    notice = Notice.objects.get()
    assert (notice.state, notice.attempts) == ("queued", 1)
    assert notice.last_error == "SMTP connection refused"
    assert notice.next_attempt_at > timezone.now() + dt.timedelta(seconds=50)
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert services.deliver_queued_notices() == 0  # not due again yet
        with time_machine.travel(timezone.now() + dt.timedelta(seconds=61), tick=True):
            assert services.deliver_queued_notices() == 1
        assert services.deliver_queued_notices() == 0
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    assert Notice.objects.get().state == "sent"


def test_dropped_connection_is_retried_without_a_duplicate_cir5(smtp, reader, loan):
    _queue_one(reader, loan)
    smtp.mode = "drop"
    assert services.deliver_queued_notices() == 0
    notice = Notice.objects.get()
    assert notice.state == "queued" and notice.attempts == 1
    assert "closed the connection" in notice.last_error
    smtp.mode = "accept"
    with time_machine.travel(timezone.now() + dt.timedelta(hours=1), tick=True):
        assert services.deliver_queued_notices() == 1
        assert services.deliver_queued_notices() == 0
    assert len(smtp.messages) == 1


def test_back_off_grows_and_gives_up_after_max_attempts_cir5(settings, reader, loan):
    point_django_at(settings, free_port())
    _queue_one(reader, loan)
    waits = []
    moment = timezone.now()
    for _ in range(4):
        with time_machine.travel(moment, tick=False):
            services.deliver_queued_notices()
        notice = Notice.objects.get()
        if notice.state == "queued":
            waits.append((notice.next_attempt_at - moment).total_seconds())
            moment = notice.next_attempt_at + dt.timedelta(seconds=1)
    assert waits == [60, 120, 240]
    assert (notice.state, notice.attempts) == ("failed", 4)


def test_no_email_falls_back_to_sms_cir5(sms_gateway, reader, loan):
    p = reader(email="", phone="+47 912 34 567")
    loan(p, TODAY + dt.timedelta(days=3))
    services.queue_due_soon_notices(today=TODAY)
    assert services.deliver_queued_notices() == 1
    [(payload, auth)] = sms_gateway.received
    assert payload["to"] == "+4791234567"
    assert payload["text"].startswith("You have 1 item due on 5 March.")
    assert auth == "Bearer test-token"
    # the channel is recorded in the day's count only, not on the patron's row (PRV-NOT-1)
    assert NoticeDailyCount.objects.get().channel == "sms"
    assert Notice.objects.get().channel == ""


def test_no_usable_address_is_listed_for_staff_cir5(reader, loan):
    _queue_one(reader, loan, email="")
    assert services.deliver_queued_notices() == 0
    notice = Notice.objects.get()
    assert notice.state == "undeliverable"
    assert notice.last_error == "no usable e-mail address or phone number"


def test_address_with_a_newline_is_never_put_in_a_header_sec_xss_1(smtp, reader, loan):
    """Header injection: a stored address with CR/LF (e.g. from an old import) is not used."""
    p = _queue_one(reader, loan, email="")
    ContactPoint.objects.create(
        subject=p.subject,
        patron=p,
        kind="email",
        value="ada@fjordvik.example\r\nBcc: everyone@elsewhere.example",
    )
    assert services.deliver_queued_notices() == 0
    assert smtp.messages == []
    assert Notice.objects.get().state == "undeliverable"


def test_subject_template_cannot_add_headers_sec_xss_1(smtp, reader, loan):
    from quietshelf.notices.models import NoticeTemplate

    NoticeTemplate.objects.create(  # as if saved long ago; rendering still flattens it
        notice_type="due_soon",
        language="en",
        channel="email",
        subject="Due soon\nBcc: everyone@elsewhere.example",
        body="You have {{ count }} items due.",
    )
    _queue_one(reader, loan)
    assert services.deliver_queued_notices() == 1
    [(rcpts, message)] = smtp.messages
    assert len(rcpts) == 1
    assert message["Bcc"] is None
    assert message["Subject"] == "Due soon Bcc: everyone@elsewhere.example"


@pytest.mark.parametrize(
    ("status", "hang", "state", "error"),
    [
        (500, 0, "queued", "SMS gateway HTTP 500"),
        (200, 3, "queued", "SMS gateway time-out"),
        (400, 0, "failed", "SMS gateway HTTP 400"),
    ],
)
def test_sms_gateway_500_or_time_out_is_retried_and_400_fails_cir5(
    sms_gateway, reader, loan, status, hang, state, error
):
    p = reader(email="", phone="+47 912 34 567", notification_channel="sms")
    loan(p, TODAY + dt.timedelta(days=3))
    services.queue_due_soon_notices(today=TODAY)
    sms_gateway.status, sms_gateway.hang = status, hang
    assert services.deliver_queued_notices() == 0
    notice = Notice.objects.get()
    assert (notice.state, notice.last_error) == (state, error)
    assert sms_gateway.received == []


def test_file_sms_gateway_writes_one_private_file_per_message_prv_log_1(settings, tmp_path):
    from quietshelf.notices.channels import FileSmsGateway

    settings.QUIETSHELF_OUTGOING_DIR = tmp_path / "outgoing"
    gateway = FileSmsGateway()
    gateway.send(to="+4791234567", text="Hello", message_id="n1")
    gateway.send(to="+4791234568", text="Hei", message_id="n2")
    files = sorted((tmp_path / "outgoing").iterdir())
    assert len(files) == 2 and all("4791234567" not in f.name for f in files)
    assert {f.stat().st_mode & 0o777 for f in files} == {0o600}
    assert (tmp_path / "outgoing").stat().st_mode & 0o777 == 0o700
    texts = sorted(f.read_text() for f in files)
    assert texts[0] == "To: +4791234567\nReference: n1\n\nHello\n"


def test_norwegian_text_arrives_intact_over_smtp_cir5(smtp, reader, loan):
    from email.header import decode_header, make_header

    p = reader(preferred_language="nb")
    loan(p, TODAY - dt.timedelta(days=8))
    services.queue_overdue_notices(today=TODAY)
    assert services.deliver_queued_notices() == 1
    [(rcpts, message)] = smtp.messages
    assert str(make_header(decode_header(message["Subject"]))) == "Andre påminnelse: lån på overtid"
    assert "Du har 1 lån som skulle vært levert 22. februar." in smtp.bodies()[0]
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "text/plain"


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_the_scheduled_delivery_drains_the_queue_in_one_run_cir5(
    smtp, settings, reader, loan, monkeypatch
):
    """CIR-5: the deliver-notices job (no limit, a time budget, QUIETSHELF_NOTICE_DELIVERY_
    THREADS threads with their own connections) sends batch after batch until nothing is
    left, each notice once; a spent budget stops it before it claims anything."""
    from quietshelf.jobs import registry

    settings.QUIETSHELF_NOTICE_DELIVERY_THREADS = 3
    monkeypatch.setattr(services.delivery, "BATCH", 2)  # several batches from a handful of notices
    for _ in range(11):
        loan(reader(), TODAY + dt.timedelta(days=2))
    assert services.queue_due_soon_notices(today=TODAY) == 11
    spec = registry.get("deliver-notices")
    assert spec.kwargs == {"limit": None, "seconds": 50, "threads": None}
    assert services.deliver_queued_notices(limit=None, seconds=0) == 0
    assert set(Notice.objects.values_list("state", flat=True)) == {"queued"}
    assert services.deliver_queued_notices(**spec.kwargs) == 11
    ids = smtp.ids()
    assert len(ids) == len(set(ids)) == 11
    assert set(Notice.objects.values_list("state", flat=True)) == {"sent"}
    assert NoticeDailyCount.objects.get().count == 11


def test_postgresql_delivery_commits_without_waiting_for_disk_then_resets_cir5(
    smtp, reader, loan, monkeypatch
):
    """CIR-5: on PostgreSQL the acceptances are committed with synchronous_commit off while
    a run delivers (a killed worker loses nothing), and the connection gets its setting back
    afterwards, so the next job on it commits as usual."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL setting; SQLite's WAL commits never wait for the disk")

    def show() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    seen = []
    real = services._mark_accepted
    # delivery.py calls it (it lives in claims.py; the package re-exports it)
    monkeypatch.setattr(
        services.delivery, "_mark_accepted", lambda *a, **k: seen.append(show()) or real(*a, **k)
    )
    _queue_one(reader, loan)
    before = show()
    assert services.deliver_queued_notices() == 1
    assert seen == ["off"]
    assert show() == before == "on"
