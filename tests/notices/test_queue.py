"""Queueing notices (CIR-5): grouped per patron, idempotent, minimal (PRV-NOT-1)."""

from __future__ import annotations

import datetime as dt

from django.core import mail

from quietshelf.circulation import services as circ_services
from quietshelf.circulation.models import Hold
from quietshelf.notices import services
from quietshelf.notices.models import Notice
from tests.factories import BibRecordFactory
from tests.notices.conftest import TODAY


def test_due_soon_groups_per_patron_and_due_day_and_runs_twice_without_duplicates_cir5(
    reader, loan
):
    ada, bo = reader(), reader()
    due = TODAY + dt.timedelta(days=3)
    loan(ada, due)
    loan(ada, due)
    loan(bo, due)
    loan(bo, TODAY + dt.timedelta(days=10))  # outside the window
    assert services.queue_due_soon_notices(today=TODAY) == 2
    assert services.queue_due_soon_notices(today=TODAY) == 0
    notices = {n.patron_id: n for n in Notice.objects.filter(notice_type="due_soon")}
    assert notices[ada.pk].data["count"] == 2
    assert notices[bo.pk].data["count"] == 1
    # the next day the same due date is still in the window: still nothing twice
    assert services.queue_due_soon_notices(today=TODAY + dt.timedelta(days=1)) == 0


def test_overdue_first_second_third_at_their_intervals_each_once_cir5(reader, loan):
    ada = reader()
    due = TODAY - dt.timedelta(days=1)
    loan(ada, due)
    assert services.queue_overdue_notices(today=TODAY - dt.timedelta(days=1)) == 0
    assert services.queue_overdue_notices(today=TODAY) == 1
    assert services.queue_overdue_notices(today=TODAY + dt.timedelta(days=3)) == 0
    assert services.queue_overdue_notices(today=TODAY + dt.timedelta(days=7)) == 1
    assert services.queue_overdue_notices(today=TODAY + dt.timedelta(days=7)) == 0
    assert services.queue_overdue_notices(today=TODAY + dt.timedelta(days=14)) == 1
    assert services.queue_overdue_notices(today=TODAY + dt.timedelta(days=40)) == 0
    levels = sorted(Notice.objects.filter(notice_type="overdue").values_list("level", flat=True))
    assert levels == [1, 2, 3]


def test_overdue_catch_up_sends_only_the_latest_level_cir5(reader, loan):
    """A run missed for weeks: one third notice, not three at once."""
    ada = reader()
    loan(ada, TODAY - dt.timedelta(days=20))
    assert services.queue_overdue_notices(today=TODAY) == 1
    assert Notice.objects.get().level == 3


def test_patron_who_wants_no_notices_gets_none_cir5(reader, loan):
    ada = reader(notification_channel="none")
    loan(ada, TODAY + dt.timedelta(days=2))
    assert services.queue_due_soon_notices(today=TODAY) == 0


def test_hold_ready_expiring_card_and_fee_notices_are_idempotent_cir5(circ, reader):
    ada, bo = reader(), reader(expiry_date=TODAY + dt.timedelta(days=10))
    Hold.objects.create(
        record=BibRecordFactory(),
        patron=ada,
        pickup_branch=circ["north"],
        status="on_shelf",
        placed_at=dt.datetime(2026, 2, 1, tzinfo=dt.UTC),
        shelf_expires_on=TODAY + dt.timedelta(days=7),
    )
    circ_services.fee_charge(
        actor=None, patron_id=ada.pk, fee_type="manual", amount=4500, branch_id=circ["north"].pk
    )
    for _ in range(2):
        counts = [
            services.queue_hold_ready_notices(today=TODAY),
            services.queue_expiring_card_notices(today=TODAY),
            services.queue_fee_notices(today=TODAY),
        ]
        if _ == 0:
            assert counts == [1, 1, 1]
        else:
            assert counts == [0, 0, 0]
    fee = Notice.objects.get(notice_type="fee")
    assert fee.data["count"] == 1 and "45.00" in fee.data["amount"]
    assert Notice.objects.get(notice_type="expiring_card").patron_id == bo.pk


def test_notices_are_minimal_no_title_barcode_or_name_by_default_prv_not_1(reader, loan):
    ada = reader(given_name="Astrid", family_name="Nygaard", barcode="230077770001")
    record = BibRecordFactory(title="The Secret Diary of Heron Point")
    first = loan(ada, TODAY + dt.timedelta(days=3), record=record)
    loan(ada, TODAY + dt.timedelta(days=3))
    services.queue_due_soon_notices(today=TODAY)
    assert services.deliver_queued_notices() == 1
    [message] = mail.outbox
    text = message.subject + message.body
    assert "You have 2 items due on 5 March." in message.body
    assert "Sign in to see the details" in message.body
    for secret in ("Heron Point", "230077770001", first.item.barcode, "Astrid", "Nygaard"):
        assert secret not in text
    assert services.queue_due_soon_notices(today=TODAY) == 0
    assert services.deliver_queued_notices() == 0
    assert len(mail.outbox) == 1


def test_titles_only_with_library_setting_and_patron_consent_prv_not_1(settings, reader, loan):
    from quietshelf.privacy.services import give_consent

    with_consent, without = reader(), reader()
    give_consent(subject_id=with_consent.subject_id, scope=services.TITLES_SCOPE)
    for p in (with_consent, without):
        loan(p, TODAY + dt.timedelta(days=2), record=BibRecordFactory(title="Tidewater Songs"))
    settings.QUIETSHELF_NOTICE_TITLES_ALLOWED = False
    services.queue_due_soon_notices(today=TODAY)
    services.deliver_queued_notices()
    assert not any("Tidewater" in m.body for m in mail.outbox)

    Notice.objects.all().delete()
    mail.outbox.clear()
    settings.QUIETSHELF_NOTICE_TITLES_ALLOWED = True
    services.queue_due_soon_notices(today=TODAY)
    services.deliver_queued_notices()
    bodies = {m.to[0]: m.body for m in mail.outbox}
    assert len(bodies) == 2
    from quietshelf.patrons.selectors import patron_preferred_contact

    assert "Tidewater Songs" in bodies[patron_preferred_contact(with_consent, "email")]
    assert "Tidewater Songs" not in bodies[patron_preferred_contact(without, "email")]


def test_withdrawing_title_consent_removes_titles_from_queued_notices_prv_not_1(
    settings, reader, loan
):
    from quietshelf.privacy.services import give_consent, withdraw_consent

    settings.QUIETSHELF_NOTICE_TITLES_ALLOWED = True
    ada = reader()
    give_consent(subject_id=ada.subject_id, scope=services.TITLES_SCOPE)
    loan(ada, TODAY + dt.timedelta(days=2), record=BibRecordFactory(title="Tidewater Songs"))
    services.queue_due_soon_notices(today=TODAY)
    assert Notice.objects.get().data["titles"] == ["Tidewater Songs"]
    withdraw_consent(subject_id=ada.subject_id, scope=services.TITLES_SCOPE)
    assert Notice.objects.get().data["titles"] == []


def test_norwegian_patron_gets_the_norwegian_text_cir5(reader, loan):
    ada = reader(preferred_language="nb")
    loan(ada, TODAY + dt.timedelta(days=3))
    services.queue_due_soon_notices(today=TODAY)
    services.deliver_queued_notices()
    assert "Du har 1 lån som skal leveres 5. mars." in mail.outbox[0].body


def test_notice_data_is_encrypted_at_rest_prv_not_1(settings, reader, loan):
    from django.db import connection

    settings.QUIETSHELF_NOTICE_TITLES_ALLOWED = True
    from quietshelf.privacy.services import give_consent

    ada = reader()
    give_consent(subject_id=ada.subject_id, scope=services.TITLES_SCOPE)
    loan(ada, TODAY + dt.timedelta(days=2), record=BibRecordFactory(title="Moorland Ledger"))
    services.queue_due_soon_notices(today=TODAY)
    with connection.cursor() as cur:
        cur.execute("SELECT data FROM notices_notice")
        raw = bytes(cur.fetchone()[0])
    assert b"Moorland" not in raw and b"count" not in raw


def test_queueing_in_slices_never_splits_a_patrons_loans_cir5(monkeypatch, reader, loan):
    monkeypatch.setattr(services.queueing, "CHUNK", 2)
    patrons = [reader() for _ in range(4)]
    for p in patrons:
        for _ in range(3):
            loan(p, TODAY + dt.timedelta(days=2))
    assert services.queue_due_soon_notices(today=TODAY) == 4
    assert sorted(n.data["count"] for n in Notice.objects.all()) == [3, 3, 3, 3]
