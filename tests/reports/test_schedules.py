"""Scheduled report mail (RPT-1, PRV-AGG-1): a staff member mails one of their saved
reports in its publication form, daily, weekly or monthly, to themselves or colleagues
who may read reports, through the notices outbox; lists with personal data never go."""

from __future__ import annotations

import datetime as dt

import pytest

from quietshelf.accounts.testing import make_staff, signed_in_client
from quietshelf.notices import services as notices
from quietshelf.notices.models import Notice, NoticeDailyCount, StaffMailAddress
from quietshelf.privacy.models import AuditEntry
from quietshelf.reports import policy, services
from quietshelf.reports.models import ReportSchedule, ReportScheduleRecipient, SavedReport
from tests.notices.conftest import smtp  # noqa: F401 - aiosmtpd on loopback

pytestmark = pytest.mark.django_db(databases="__all__")

FEB = {"from": "2026-02-01", "to": "2026-02-28", "period": "none", "by": "branch"}
CREATED = dt.date(2026, 2, 15)
RUN = dt.date(2026, 3, 1)  # the first of the month after CREATED: a monthly schedule's day


@pytest.fixture
def february(facts):
    """Check-outs in February: 12 at North, 3 at South (a small cell)."""
    facts("checkout", dt.date(2026, 2, 10), 12, branch="north")
    facts("checkout", dt.date(2026, 2, 11), 3, branch="south")
    facts("checkout", dt.date(2026, 3, 5), 40, branch="south")  # after the range


def _saved(actor, name="February by branch", params=None):
    req = services.parse_request("circulation", params or FEB, today=CREATED)
    return services.save_report(actor=actor, name=name, request=req)


def _schedule(actor, saved, **kw):
    kw.setdefault("frequency", "monthly")
    kw.setdefault("window", "last")
    return services.schedule_create(actor=actor, saved_id=saved.pk, today=CREATED, **kw)


def _line(text: str, start: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(start))


# --- policy ---------------------------------------------------------------------------------


def test_next_run_and_the_range_a_mail_covers_rpt_1():
    wed = dt.date(2026, 3, 4)
    assert policy.next_run_after("daily", wed) == dt.date(2026, 3, 5)
    assert policy.next_run_after("weekly", wed) == dt.date(2026, 3, 9)  # Monday
    assert policy.next_run_after("monthly", dt.date(2026, 12, 31)) == dt.date(2027, 1, 1)

    def rng(window, frequency, day):
        return policy.mail_range(
            window=window,
            frequency=frequency,
            run_day=day,
            saved_start=dt.date(2026, 1, 1),
            saved_end=dt.date(2026, 1, 31),
        )

    assert rng("last", "daily", wed) == (dt.date(2026, 3, 3), dt.date(2026, 3, 3))
    monday = dt.date(2026, 3, 9)
    assert rng("last", "weekly", monday) == (dt.date(2026, 3, 2), dt.date(2026, 3, 8))
    assert rng("last", "weekly", wed) == (dt.date(2026, 2, 23), dt.date(2026, 3, 1))
    assert rng("last", "monthly", RUN) == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert rng("rolling", "daily", wed) == (dt.date(2026, 2, 1), dt.date(2026, 3, 3))  # 31 days
    assert rng("saved", "weekly", wed) == (dt.date(2026, 1, 1), dt.date(2026, 1, 31))
    with pytest.raises(services.InvalidInput):
        policy.parse_frequency("hourly")
    with pytest.raises(services.InvalidInput):
        policy.parse_window("forever")


def test_text_table_aligns_keys_left_and_numbers_right_rpt_1():
    text = policy.text_table(["Branch", "Loans"], [["North", "12"], ["South", "<5"]], key_width=1)
    assert text.splitlines() == ["Branch  Loans", "------  -----", "North      12", "South      <5"]


# --- the page -------------------------------------------------------------------------------


def test_schedule_page_creates_lists_and_deletes_a_schedule_rpt_1(circ, reader):
    saved = _saved(reader)
    make_staff("director-1", roles=["report-reader"])
    client = signed_in_client(reader)
    page = client.get("/staff/reports/schedules/")
    assert page.status_code == 200
    assert "February by branch" in page.content.decode()
    assert 'id="no-address"' in page.content.decode()
    r = client.post("/staff/reports/schedules/address/", {"email": "reader.one@fjordvik.example"})
    assert r.status_code == 302
    assert notices.staff_mail_address(actor=reader) == "reader.one@fjordvik.example"
    r = client.post(
        "/staff/reports/schedules/",
        {
            "saved": str(saved.pk),
            "frequency": "weekly",
            "window": "rolling",
            "language": "nb",
            "include_me": "on",
            "others": "director-1",
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    schedule = ReportSchedule.objects.get()
    assert (schedule.frequency, schedule.window, schedule.language) == ("weekly", "rolling", "nb")
    assert schedule.next_run_on.weekday() == 0  # a Monday
    assert ReportScheduleRecipient.objects.filter(schedule=schedule).count() == 2
    text = client.get("/staff/reports/schedules/").content.decode()
    assert "director-1" in text and "1 has given no address" in text
    assert AuditEntry.objects.filter(action="created", object_id=str(schedule.pk)).exists()
    # nobody else deletes it; its owner does
    other = signed_in_client(make_staff("other-reader", roles=["report-reader"]))
    assert other.post(f"/staff/reports/schedules/{schedule.pk}/delete/").status_code == 404
    assert client.post(f"/staff/reports/schedules/{schedule.pk}/delete/").status_code == 302
    assert not ReportSchedule.objects.exists()
    assert SavedReport.objects.filter(pk=saved.pk).exists()


def test_schedule_page_in_norwegian_rpt_1(circ, reader):
    _saved(reader)
    text = (
        signed_in_client(reader)
        .get("/staff/reports/schedules/", HTTP_ACCEPT_LANGUAGE="nb")
        .content.decode()
    )
    assert "Rapporter på e-post" in text
    assert "Din adresse for rapporter på e-post" in text
    assert "Månedlig (den 1.)" in text


def test_bad_input_gets_a_readable_form_error_rpt_1(circ, reader):
    saved = _saved(reader)
    client = signed_in_client(reader)
    base = {"saved": str(saved.pk), "frequency": "daily", "window": "last", "language": "en"}
    base["include_me"] = "on"
    unknown = client.post("/staff/reports/schedules/", {**base, "saved": "not-a-saved-report"})
    assert unknown.status_code == 400
    assert "Select a valid choice" in unknown.content.decode()
    hourly = client.post("/staff/reports/schedules/", {**base, "frequency": "hourly"})
    assert hourly.status_code == 400
    assert "Select a valid choice" in hourly.content.decode()
    nobody = client.post("/staff/reports/schedules/", {**base, "others": "no-such-colleague"})
    assert nobody.status_code == 400
    assert "No staff account called" in nobody.content.decode()
    cataloguer = make_staff("cat-1", roles=["cataloguer"])  # may not read reports
    refused = client.post("/staff/reports/schedules/", {**base, "others": str(cataloguer.username)})
    assert refused.status_code == 400
    none = client.post("/staff/reports/schedules/", {**base, "include_me": ""})
    assert none.status_code == 400 and "at least one recipient" in none.content.decode()
    address = client.post("/staff/reports/schedules/address/", {"email": "not an address"})
    assert address.status_code == 400
    assert not ReportSchedule.objects.exists()
    assert not StaffMailAddress.objects.exists()


def test_a_report_reader_cannot_schedule_a_personal_data_report_prv_acc_1(circ, reader):
    """A list that names patrons never leaves the staff pages by mail: refused (403) and
    audited, even from the staff member's own saved list."""
    from django.utils import timezone

    overdue = SavedReport.objects.create(
        owner=reader, name="Overdue to phone", report="overdue", created_at=timezone.now()
    )
    client = signed_in_client(reader)
    r = client.post(
        "/staff/reports/schedules/",
        {
            "saved": str(overdue.pk),
            "frequency": "daily",
            "window": "last",
            "language": "en",
            "include_me": "on",
        },
    )
    assert r.status_code == 403
    assert "never sent by e-mail" in r.content.decode()
    assert not ReportSchedule.objects.exists()
    assert AuditEntry.objects.filter(
        action="denied", object_type="reports.personal_report", object_id="overdue"
    ).exists()


# --- the job and the outbox -----------------------------------------------------------------


def test_the_job_queues_the_publication_form_for_the_staff_member_rpt_1_prv_agg_1(
    circ, reader, february
):
    saved = _saved(reader)
    colleague = make_staff("director-2", roles=["report-reader"])
    schedule = _schedule(reader, saved, recipients=["director-2"])
    assert schedule.next_run_on == RUN
    assert services.queue_scheduled_reports(today=RUN - dt.timedelta(days=1)) == 0
    assert services.queue_scheduled_reports(today=RUN) == 2
    mine = Notice.objects.get(staff=reader)
    assert mine.patron_id is None and mine.notice_type == "staff_report"
    assert mine.subject_id == reader.subject_id
    assert Notice.objects.filter(staff=colleague).exists()
    table = mine.data["table"]
    assert "<5" in _line(table, "South") and "3" not in _line(table, "South")
    assert mine.data["range"] == "2026-02-01 – 2026-02-28"  # last month, not the March rush
    assert "<5" in mine.data["csv"]
    schedule.refresh_from_db()
    assert (schedule.last_run_on, schedule.next_run_on) == (RUN, dt.date(2026, 4, 1))
    # a second run of the day sends nothing more
    assert services.queue_scheduled_reports(today=RUN) == 0
    assert Notice.objects.count() == 2


def test_a_recipient_who_lost_the_permission_gets_nothing_rpt_1(circ, reader, february):
    saved = _saved(reader)
    colleague = make_staff("director-3", roles=["report-reader"])
    _schedule(reader, saved, recipients=["director-3"], include_me=False)
    colleague.is_active = False
    colleague.save()
    assert services.queue_scheduled_reports(today=RUN) == 0
    assert not Notice.objects.exists()


def test_delivered_over_smtp_with_the_small_cell_suppressed_prv_agg_1(
    circ,
    reader,
    february,
    smtp,  # noqa: F811
    settings,
):
    settings.DEFAULT_FROM_EMAIL = "library@fjordvik.example"
    settings.QUIETSHELF_LIBRARY_NAME = "Fjordvik Library"
    notices.staff_mail_address_set(actor=reader, email="reader.one@fjordvik.example")
    _schedule(reader, _saved(reader))
    assert services.queue_scheduled_reports(today=RUN) == 1
    assert notices.deliver_queued_notices() == 1
    [(to, message)] = smtp.messages
    assert to == ["reader.one@fjordvik.example"]
    assert message.get_content_type() == "multipart/mixed"
    assert "February by branch" in message["Subject"]
    text_part, csv_part = message.get_payload()
    body = text_part.get_payload(decode=True).decode()
    south = _line(body, "South")
    assert "<5" in south and "3" not in south
    assert "12" not in _line(body, "North")  # hidden too, or South could be worked out
    assert "Fjordvik Library" in body and "/staff/reports/schedules/" in body
    assert csv_part.get_filename().endswith("-publication.csv")
    csv = csv_part.get_payload(decode=True).decode()
    assert "South,<5" in csv.replace("\r\n", "\n")
    notice = Notice.objects.get()
    assert notice.state == "sent" and notice.data is None  # nothing kept (PRV-NOT-1)
    assert NoticeDailyCount.objects.get(notice_type="staff_report").count == 1


def test_without_an_address_the_mail_is_undeliverable_not_lost_rpt_1(
    circ,
    reader,
    february,
    smtp,  # noqa: F811
):
    _schedule(reader, _saved(reader))
    assert services.queue_scheduled_reports(today=RUN) == 1
    assert notices.deliver_queued_notices() == 0
    notice = Notice.objects.get()
    assert notice.state == "undeliverable"
    assert "staff mail" in notice.last_error
    assert smtp.messages == []
    # the outbox shows it without a patron link, and it can be tried again once the
    # staff member has given an address
    desk = signed_in_client(make_staff("desk-1", roles=["circulation-desk"]))
    outbox = desk.get("/staff/notices/")
    assert outbox.status_code == 200 and "A staff member" in outbox.content.decode()
    notices.staff_mail_address_set(actor=reader, email="reader.one@fjordvik.example")
    assert desk.post(f"/staff/notices/{notice.pk}/retry/").status_code == 302
    assert notices.deliver_queued_notices() == 1
    assert len(smtp.messages) == 1


def test_schedules_of_a_closed_staff_account_go_with_its_saved_reports_prv_ret_1(circ):
    from django.utils import timezone

    from quietshelf.privacy import retention

    days = retention.schedule()["staff_account"].days
    gone = make_staff("left-long-ago", roles=["report-reader"])
    here = make_staff("still-here", roles=["report-reader"])
    gone_schedule = _schedule(gone, _saved(gone))
    here_schedule = _schedule(here, _saved(here), recipients=["left-long-ago"])
    notices.staff_mail_address_set(actor=gone, email="gone@fjordvik.example")
    gone.is_active = False
    gone.last_login = timezone.now() - dt.timedelta(days=days + 3)
    gone.save()
    key = "saved reports of closed staff accounts"
    assert retention.run(dry_run=True, only=[key]).reports[0].due == 5
    retention.run(only=[key])
    assert list(ReportSchedule.objects.values_list("pk", flat=True)) == [here_schedule.pk]
    assert not ReportSchedule.objects.filter(pk=gone_schedule.pk).exists()
    assert list(
        ReportScheduleRecipient.objects.filter(schedule=here_schedule).values_list(
            "staff_id", flat=True
        )
    ) == [here.pk]
    assert not StaffMailAddress.objects.exists()
