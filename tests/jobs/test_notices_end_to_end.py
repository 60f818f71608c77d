"""CIR-5, PRV-NOT-1, PRV-LOG-1 end to end: a real `quietshelf worker` process runs the
schedule's notice jobs (queue_* first, then deliver-notices) against this test's
database, and a real SMTP server (aiosmtpd on 127.0.0.1) receives the messages.

One chain through the public interfaces only: rows for fictional patrons, the worker
started as an operator starts it (schedule from QUIETSHELF_JOBS_SCHEDULE, SMTP from
QUIETSHELF_SMTP_*, SMS through the demo's file gateway), then the staff "Run now"
button for every notice job, which must send nothing a second time, and the staff
jobs and outbox pages. Both queue storages: SQLite in a file and Redis.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from pathlib import Path

import pytest
from django.utils import timezone

from quietshelf.circulation import services as circ_services
from quietshelf.circulation.models import Hold
from quietshelf.jobs import queue, registry
from quietshelf.jobs.models import JobRun, RunState, Trigger
from quietshelf.notices.models import Notice, NoticeState
from tests.factories import BibRecordFactory
from tests.jobs.conftest import REDIS_URL, wait_for
from tests.notices.conftest import loan, smtp  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

# The notice jobs of the default schedule, in the order the scheduler hands them over.
NOTICE_JOBS = [
    "due-soon-notices",
    "overdue-notices",
    "fee-notices",
    "expiring-card-notices",
    "reduce-notice-history",
    "hold-ready-notices",
]
DELIVER = "deliver-notices"
# Everything else is switched off so that what reaches the SMTP server is exactly
# what these rows call for (the fines job would add fee notices of its own).
OTHER_JOBS_OFF = [
    "overdue-fines",
    "hold-shelf-expiry",
    "deidentify-loans",
    "escrow-purge",
    "prune-job-runs",
    "audit-seal",
    "audit-checkpoint",
    "outgoing-purge",
]
NIGHT_HOUR = 0


def _schedule() -> dict:
    schedule = {name: "off" for name in OTHER_JOBS_OFF}
    # The nightly notice jobs at 00:00 (same order as by default): whenever the test
    # runs, each one's latest slot is today, so they all pass the same `today`.
    for name in NOTICE_JOBS:
        if name != "hold-ready-notices":
            schedule[name] = "daily 00:00"
    for extra in ("test-effects", "test-fails", "test-missing"):
        schedule[extra] = "off"
    return schedule


def _run_day(settings) -> dt.date:
    """The library day the worker's nightly slots pass to the jobs (`today`)."""
    settings.QUIETSHELF_JOBS_NIGHT_HOUR = NIGHT_HOUR
    settings.QUIETSHELF_JOBS_SCHEDULE = _schedule()
    spec = registry.get("overdue-notices")
    return spec.schedule.latest(timezone.localtime()).day


def _d(day: dt.date) -> str:
    return f"{day.day} {day:%B}"


@pytest.fixture
def queue_env(request, tmp_path, worker_env):
    """The worker's queue (SQLite file or Redis), shared with this process's run-now."""
    storage = request.param
    name = f"qs-e2e-{uuid.uuid4().hex[:8]}"
    if storage == "redis":
        huey = queue.build_huey(name=name, redis_url=REDIS_URL)
        huey.storage.conn.ping()
        env = {"QUIETSHELF_REDIS_URL": REDIS_URL, "QUIETSHELF_JOBS_QUEUE": name}
    else:
        path = tmp_path / "e2e-queue.sqlite3"
        huey = queue.build_huey(name=name, filename=path)
        env = {"QUIETSHELF_JOBS_FILE": str(path), "QUIETSHELF_JOBS_QUEUE": name}
    queue.use(huey)
    yield env
    queue.use(None)
    if storage == "redis":
        huey.storage.flush_all()


def _people(patron, loan, circ, day: dt.date) -> dict:  # noqa: F811
    """Fictional patrons, each of whom the notice jobs owe exactly one notice."""
    tag = uuid.uuid4().hex[:6]
    people, cards = {}, []

    def make(key, **kw):
        cards.append(f"29{uuid.uuid4().int % 10**10:010d}")
        people[key] = p = patron(
            given_name=f"Sigrun{key.capitalize()}",
            family_name=f"Haugland{tag}",
            barcode=cards[-1],
            **kw,
        )
        return p

    overdue = make("overdue", email=f"overdue-{tag}@fjordvik.example")
    secrets = []
    for title in ("Whispers of the Saltmarsh", "The Cartographer's Daughter"):
        made = loan(overdue, day - dt.timedelta(days=1), record=BibRecordFactory(title=title))
        secrets += [title, made.item.barcode]
    soon = make("soon", email=f"soon-{tag}@fjordvik.example", preferred_language="nb")
    made = loan(soon, day + dt.timedelta(days=2), record=BibRecordFactory(title="Brent Fyr"))
    secrets += ["Brent Fyr", made.item.barcode]
    hold = make("hold", email=f"hold-{tag}@fjordvik.example")
    Hold.objects.create(
        record=BibRecordFactory(title="A Harbour in Winter"),
        patron=hold,
        pickup_branch=circ["north"],
        status="on_shelf",
        placed_at=timezone.now() - dt.timedelta(days=3),
        shelf_expires_on=day + dt.timedelta(days=6),
    )
    secrets.append("A Harbour in Winter")
    make("card", email=f"card-{tag}@fjordvik.example", expiry_date=day + dt.timedelta(days=10))
    fee = make("fee", email=f"fee-{tag}@fjordvik.example")
    circ_services.fee_charge(
        actor=None, patron_id=fee.pk, fee_type="manual", amount=4500, branch_id=circ["north"].pk
    )
    # no e-mail address: the text message (the demo's file gateway) is the fallback
    sms = make("sms", phone="+4791234567")
    made = loan(sms, day - dt.timedelta(days=8), record=BibRecordFactory(title="Kelp and Cod"))
    secrets += ["Kelp and Cod", made.item.barcode]
    # no address at all: undeliverable, listed for staff
    nowhere = make("nowhere")
    made = loan(nowhere, day - dt.timedelta(days=1))
    secrets.append(made.item.barcode)
    secrets += cards
    for p in people.values():
        secrets += [p.given_name, p.family_name]
    return {"people": people, "secrets": secrets, "tag": tag}


def _emails_of(people) -> dict:
    from quietshelf.patrons.selectors import patron_preferred_contact

    return {
        key: patron_preferred_contact(p, "email")
        for key, p in people.items()
        if key not in ("sms", "nowhere")
    }


def _sms_lines(home: Path) -> list[dict]:
    """The demo gateway's text messages: one 0600 file each in <home>/outgoing/ (PRV-LOG-1)."""
    found = []
    for path in sorted((home / "outgoing").glob("*-sms-*.txt")):
        assert path.stat().st_mode & 0o777 == 0o600
        head, _blank, text = path.read_text(encoding="utf-8").partition("\n\n")
        fields = dict(line.split(": ", 1) for line in head.splitlines())
        found.append({"to": fields["To"], "reference": fields["Reference"], "text": text})
    return found


def _notices_settled() -> bool:
    return not Notice.objects.filter(state__in=[NoticeState.QUEUED, NoticeState.SENDING]).exists()


@pytest.mark.parametrize("queue_env", ["sqlite", "redis"], indirect=True)
def test_cir5_prv_not_1_worker_runs_the_notice_schedule_to_a_real_smtp_server_once(
    settings,
    queue_env,
    workers,
    worker_env,
    smtp,  # noqa: F811 - the fixture imported above
    patron,
    loan,  # noqa: F811
    circ,
):
    day = _run_day(settings)
    made = _people(patron, loan, circ, day)
    people, secrets = made["people"], made["secrets"]
    emails = _emails_of(people)
    home = Path(worker_env["QUIETSHELF_HOME"])
    env = {
        **queue_env,
        "QUIETSHELF_JOBS_SCHEDULE": json.dumps(_schedule()),
        "QUIETSHELF_JOBS_NIGHT_HOUR": str(NIGHT_HOUR),
        "QUIETSHELF_SMTP_HOST": "127.0.0.1",
        "QUIETSHELF_SMTP_PORT": str(smtp.port),
        "QUIETSHELF_SMTP_STARTTLS": "0",
        "QUIETSHELF_SMTP_SSL": "0",
        "QUIETSHELF_SMTP_TIMEOUT": "5",
        "QUIETSHELF_MAIL_FROM": "library@fjordvik.example",
        "QUIETSHELF_LIBRARY_NAME": "Fjordvik Library",
        "QUIETSHELF_SMS_GATEWAY": "file",
        "QUIETSHELF_NOTICE_DUE_SOON_DAYS": "3",
        "QUIETSHELF_NOTICE_OVERDUE_DAYS": "1,8,15",
        "QUIETSHELF_NOTICE_CARD_EXPIRY_DAYS": "14",
        "QUIETSHELF_LOG_LEVEL": "INFO",
    }
    # one thread: the scheduler's hand-over order (queue_* before deliver) is the run order
    proc = workers.start("--workers", "1", **env)

    # 1. the schedule's own runs: every notice job for its slot, then delivery
    wait_for(lambda: len(smtp.messages) >= 5, timeout=150, what="five e-mails at the server")
    wait_for(_notices_settled, timeout=60, what="the outbox to settle")
    wait_for(lambda: len(_sms_lines(home)) >= 1, timeout=30, what="the text message")
    for name in NOTICE_JOBS:
        run = JobRun.objects.filter(job=name, trigger=Trigger.SCHEDULE).first()
        assert run is not None, f"{name} was not scheduled"
        run = wait_for(
            lambda run=run: JobRun.objects.filter(pk=run.pk, state=RunState.SUCCEEDED).first(),
            what=f"{name} to succeed",
        )
        assert run.for_date == day
    delivered = JobRun.objects.filter(
        job=DELIVER, trigger=Trigger.SCHEDULE, state=RunState.SUCCEEDED
    )
    assert sum(r.result_count or 0 for r in delivered) == 6  # 5 e-mails and 1 text message
    assert not JobRun.objects.filter(state=RunState.FAILED).exists()

    # exactly the expected minimal messages, one to each address
    received = {tuple(to): message for to, message in smtp.messages}
    assert sorted(received) == sorted((address,) for address in emails.values())
    assert len(smtp.messages) == 5
    assert len(set(smtp.ids())) == 5
    texts = {}
    for key, address in emails.items():
        message = received[(address,)]
        body = message.get_payload(decode=True).decode()
        texts[key] = str(message["Subject"]) + "\n" + body
        assert message["From"] == "library@fjordvik.example"
        assert "Sign in" in body or "Logg inn" in body
    assert f"You have 2 items that were due on {_d(day - dt.timedelta(days=1))}." in texts[
        "overdue"
    ].replace("\n", " ")
    assert "Du har 1 lån som skal leveres" in texts["soon"]
    for text in texts.values():
        for secret in secrets:
            assert secret not in text, f"{secret!r} is in a notice"
    [sms_line] = _sms_lines(home)
    assert sms_line["to"] == "+4791234567"
    assert "Second reminder" in sms_line["text"]
    for secret in secrets:
        assert secret not in sms_line["text"]
    nowhere = Notice.objects.get(patron=people["nowhere"])
    assert nowhere.state == NoticeState.UNDELIVERABLE

    # without history consent nothing of what was sent is kept (PRV-NOT-1)
    sent = Notice.objects.filter(state=NoticeState.SENT)
    assert sent.count() == 6
    assert all(n.data is None and n.body is None and n.subject_line is None for n in sent)

    # 2. staff press "Run now" on every notice job and on delivery: nothing goes twice
    from quietshelf.accounts.testing import make_staff, signed_in_client

    admin = signed_in_client(make_staff(f"e2e-admin-{made['tag']}", roles=["administrator"]))
    before = JobRun.objects.count()
    for name in [*NOTICE_JOBS, DELIVER]:
        response = admin.post("/staff/jobs/run/", {"job": name})
        assert response.status_code == 302
    manual = JobRun.objects.filter(trigger=Trigger.MANUAL)
    assert manual.count() == len(NOTICE_JOBS) + 1 and JobRun.objects.count() >= before + 7
    wait_for(
        lambda: manual.filter(state=RunState.SUCCEEDED).count() == len(NOTICE_JOBS) + 1,
        timeout=120,
        what="the manual runs to finish",
    )
    for run in manual.exclude(job="reduce-notice-history"):
        assert run.result_count == 0, f"{run.job} found work a second time"
    assert len(smtp.messages) == 5
    assert len(_sms_lines(home)) == 1
    assert Notice.objects.filter(state=NoticeState.SENT).count() == 6

    # 3. the staff pages show the runs and the one notice that needs attention
    page = admin.get("/staff/jobs/").content.decode()
    for name in [*NOTICE_JOBS, DELIVER]:
        row = re.search(rf'<tr id="job-{name}">(.*?)</tr>', page, re.S)
        assert row and "succeeded" in row.group(1), name
    assert proc.pid and f":{proc.pid}" in page  # the worker is listed as running
    desk = signed_in_client(make_staff(f"e2e-desk-{made['tag']}", roles=["circulation-desk"]))
    outbox = desk.get("/staff/notices/").content.decode()
    assert 'data-count="undeliverable">1<' in outbox
    assert f'data-notice="{nowhere.pk}" data-state="undeliverable"' in outbox
    for page_text in (page, outbox):
        for secret in [*secrets, *emails.values(), "+4791234567", "91234567"]:
            assert secret not in page_text

    # 4. the worker's log: a one-line summary per run, nothing personal (PRV-LOG-1)
    workers.stop_all()
    log = "".join(proc.lines)
    assert re.search(rf"job overdue-notices {day.isoformat()}: 3 \(", log), log
    assert re.search(r"job deliver-notices \S+: 6 \(", log), log
    for secret in [*secrets, *emails.values(), "+4791234567", "91234567", "4791234567"]:
        assert secret not in log
    logs_dir = home / "logs"
    for path in logs_dir.glob("*") if logs_dir.exists() else []:
        text = path.read_text(errors="replace")
        for secret in [*secrets, *emails.values(), "4791234567"]:
            assert secret not in text, f"{secret!r} in {path.name}"


@pytest.mark.parametrize("queue_env", ["sqlite", "redis"], indirect=True)
def test_cir5_two_worker_processes_at_once_send_each_notice_once_over_smtp(
    settings,
    queue_env,
    workers,
    smtp,  # noqa: F811 - the fixture imported above
    patron,
    loan,  # noqa: F811
    circ,
):
    """Two `quietshelf worker` processes (two threads each) on one queue: both schedulers
    find the same slots due, and staff press "Run now" on delivery three times, so several
    deliveries run at once. Every patron gets exactly one message."""
    day = _run_day(settings)
    tag = uuid.uuid4().hex[:6]
    addresses = []
    for n in range(40):
        address = f"twice-{tag}-{n}@fjordvik.example"
        p = patron(given_name=f"Oddny{n}", family_name=f"Berget{tag}", email=address)
        loan(p, day - dt.timedelta(days=1))
        addresses.append(address)
    env = {
        **queue_env,
        "QUIETSHELF_JOBS_SCHEDULE": json.dumps(_schedule()),
        "QUIETSHELF_JOBS_NIGHT_HOUR": str(NIGHT_HOUR),
        "QUIETSHELF_SMTP_HOST": "127.0.0.1",
        "QUIETSHELF_SMTP_PORT": str(smtp.port),
        "QUIETSHELF_SMTP_STARTTLS": "0",
        "QUIETSHELF_SMTP_SSL": "0",
        "QUIETSHELF_SMS_GATEWAY": "none",
        "QUIETSHELF_NOTICE_OVERDUE_DAYS": "1,8,15",
    }
    first = workers.start("--workers", "2", **env)
    second = workers.start("--workers", "2", **env)
    wait_for(
        lambda: JobRun.objects.filter(
            job="overdue-notices", trigger=Trigger.SCHEDULE, state=RunState.SUCCEEDED
        ).exists(),
        timeout=60,
        what="the scheduled overdue-notices run",
    )
    assert JobRun.objects.filter(job="overdue-notices", trigger=Trigger.SCHEDULE).count() == 1

    from quietshelf.accounts.testing import make_staff, signed_in_client

    admin = signed_in_client(make_staff(f"e2e-twice-{tag}", roles=["administrator"]))
    for _ in range(3):
        assert admin.post("/staff/jobs/run/", {"job": DELIVER}).status_code == 302
    wait_for(lambda: len(smtp.messages) >= 40, timeout=120, what="forty e-mails")
    wait_for(_notices_settled, timeout=60, what="the outbox to settle")
    wait_for(
        lambda: not JobRun.objects.filter(state__in=[RunState.QUEUED, RunState.RUNNING]).exists(),
        timeout=90,
        what="every run to finish",
    )
    received = [to for tos, _message in smtp.messages for to in tos]
    assert sorted(received) == sorted(addresses)  # each exactly once
    assert len(set(smtp.ids())) == 40
    assert not JobRun.objects.filter(state=RunState.FAILED).exists()
    workers_seen = {run.worker.rpartition(":")[2] for run in JobRun.objects.exclude(worker="")}
    assert workers_seen <= {str(first.pid), str(second.pid)}
    assert first.poll() is None and second.poll() is None
