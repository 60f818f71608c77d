"""Collection, holds, fees, patrons and notices reports (RPT-1): counts and amounts
from de-identified data, made through the real services where there is one."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from quietshelf.circulation import services as circ_services
from quietshelf.notices.models import NoticeDailyCount
from quietshelf.reports import services

pytestmark = pytest.mark.django_db(databases="__all__")

D = dt.date


def _at(day: dt.date, hour=12):
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def _rows(actor, slug, **params):
    req = services.parse_request(slug, params, today=D(2026, 6, 30))
    result = services.run_report(actor=actor, request=req)
    return {r.keys: r.values for r in result.table.rows}, result


def test_collection_counts_items_and_never_circulated_rpt_1(circ, item, patron, reader):
    lent, _idle, _south = item(), item(), item(branch="south", item_type="laptop")
    circ_services.checkout(
        actor=None, item_barcode=lent.barcode, patron_id=patron().pk, branch_id=circ["north"].pk
    )
    rows, _ = _rows(reader, "collection", by=["branch", "item_type"])
    assert rows == {("North", "Book"): [2, 1], ("South", "Laptop"): [1, 1]}
    rows, _ = _rows(reader, "collection", by=["status", "age"])
    assert rows == {("Available", "under 1 year"): [2, 2], ("On loan", "under 1 year"): [1, 0]}


def test_collection_has_no_period_rpt_1(circ, reader):
    from quietshelf.core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        services.parse_request("collection", {"period": "month"})


def test_holds_placed_filled_soon_expired_and_cancelled_rpt_1(circ, item, patron, reader):
    a, b = item(), item()
    waiting, other = patron(), patron()
    with time_machine.travel(_at(D(2026, 3, 2)), tick=False):
        circ_services.checkout(
            actor=None, item_barcode=a.barcode, patron_id=other.pk, branch_id=circ["north"].pk
        )
        circ_services.hold_place(
            actor=None, patron_id=waiting.pk, record_id=a.record_id,
            pickup_branch_id=circ["north"].pk,
        )  # fmt: skip
        cancelled = circ_services.hold_place(
            actor=None, patron_id=waiting.pk, record_id=b.record_id,
            pickup_branch_id=circ["south"].pk,
        )  # fmt: skip
        circ_services.hold_cancel(actor=None, hold_id=cancelled.pk)
    with time_machine.travel(_at(D(2026, 3, 5)), tick=False):
        circ_services.checkin(actor=None, item_barcode=a.barcode, branch_id=circ["north"].pk)
        circ_services.checkout(
            actor=None, item_barcode=a.barcode, patron_id=waiting.pk, branch_id=circ["north"].pk
        )
    rows, _ = _rows(reader, "holds", **{"from": "2026-03-01", "to": "2026-03-31",
                    "period": "month", "by": "branch"})  # fmt: skip
    assert rows == {
        ("2026-03", "North"): [1, 1, 1, 0, 0, 0, 0],
        ("2026-03", "South"): [1, 0, 0, 0, 0, 0, 1],
    }


def test_fees_are_amounts_by_type_and_branch_rpt_1(circ, patron, reader):
    owing = patron()
    with time_machine.travel(_at(D(2026, 4, 10)), tick=False):
        fee = circ_services.fee_charge(
            actor=None, patron_id=owing.pk, fee_type="damage", amount=12000,
            branch_id=circ["north"].pk,
        )  # fmt: skip
        circ_services.fee_pay(actor=None, fee_id=fee.pk, amount=2000)
        circ_services.fee_waive(actor=None, fee_id=fee.pk, reason="goodwill", amount=10000)
    rows, result = _rows(reader, "fees", **{"from": "2026-04-01", "to": "2026-04-30",
                         "period": "none", "by": ["branch", "type"]})  # fmt: skip
    assert rows == {("North", "Damage"): [12000, 2000, 10000, 0]}
    # amounts are suppressed by how many ledger lines made them (1 < 5)
    pub = services.run_report(
        actor=reader,
        request=services.parse_request(
            "fees",
            {
                "from": "2026-04-01",
                "to": "2026-04-30",
                "period": "none",
                "by": "type",
                "form": "publication",
            },
        ),  # fmt: skip
    )
    assert services.display_rows(pub)[0][0]["cells"] == ["<5", "<5", "<5", "0"]


def test_patrons_report_counts_registrations_expiries_and_active_borrowers_rpt_1(
    circ, item, patron, reader
):
    with time_machine.travel(_at(D(2026, 2, 1)), tick=False):
        active = patron(expiry_date=D(2026, 5, 31))
        patron(group=circ["child"])
    with time_machine.travel(_at(D(2026, 4, 20)), tick=False):
        circ_services.checkout(
            actor=None, item_barcode=item().barcode, patron_id=active.pk,
            branch_id=circ["north"].pk,
        )  # fmt: skip
    rows, result = _rows(reader, "patrons", **{"from": "2026-01-01", "to": "2026-06-30",
                         "period": "none", "by": "group"})  # fmt: skip
    assert rows == {("Adult",): [1, 1, 1], ("Child",): [1, 0, 0]}
    assert result.header == ["Patron group", "Registered", "Expiring", "Active borrowers"]


def test_notices_report_reads_the_day_counts_rpt_1(circ, reader):
    NoticeDailyCount.objects.create(
        notice_type="overdue", channel="email", day=D(2026, 5, 3), outcome="sent", count=40
    )
    NoticeDailyCount.objects.create(
        notice_type="overdue", channel="sms", day=D(2026, 5, 4), outcome="failed", count=2
    )
    NoticeDailyCount.objects.create(
        notice_type="hold_ready", channel="email", day=D(2026, 6, 1), outcome="sent", count=9
    )
    rows, _ = _rows(reader, "notices", **{"from": "2026-05-01", "to": "2026-06-30",
                    "period": "month", "by": ["type", "channel"]})  # fmt: skip
    assert rows == {
        ("2026-05", "Overdue", "E-mail"): [40, 0, 0],
        ("2026-05", "Overdue", "Text message"): [0, 2, 0],
        ("2026-06", "Hold ready", "E-mail"): [9, 0, 0],
    }


def test_hold_queue_lengths_now_rpt_1(circ, item, patron, reader):
    busy, quiet = item(), item()
    for _ in range(3):
        circ_services.hold_place(
            actor=None, patron_id=patron().pk, record_id=busy.record_id,
            pickup_branch_id=circ["north"].pk,
        )  # fmt: skip
    circ_services.hold_place(
        actor=None, patron_id=patron().pk, record_id=quiet.record_id,
        pickup_branch_id=circ["south"].pk,
    )  # fmt: skip
    rows, result = _rows(reader, "hold-queues")
    assert rows == {("1",): [1, 1], ("2–4",): [1, 3]}
    assert result.table.grand_total().values == [2, 4]
