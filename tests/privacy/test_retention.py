"""The retention schedule and its engine (PRV-RET-1/2, PRV-INV-2).

One truth: the statement, the records of processing, the dry run and the job
read the same Rule objects, and every declared field's rule is enforced by a
scheduled job that has a step for the field's model.
"""

from __future__ import annotations

import copy
import datetime as dt
import fcntl
import io
import os
import subprocess
import sys

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.utils import timezone

from quietshelf.core.errors import InvalidInput
from quietshelf.jobs import registry
from quietshelf.privacy import audit, inventory, retention, selectors
from quietshelf.privacy.models import AuditEntry, RetentionRun

QS = [sys.executable, "-m", "quietshelf"]
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_schedule():
    retention.reset_cache()
    yield
    retention.reset_cache()


def test_defaults_follow_prv_ret_1():
    rules = retention.schedule()
    assert rules["loan"].days == 0
    assert rules["request_log"].days == 14
    assert rules["security_log"].days == 90
    assert rules["notice_history"].days == 30
    assert rules["patron_account"].days == 30
    assert rules["fee"].days == 7 * 365
    assert rules["backup"].days == 365


def test_every_declared_field_is_enforced_by_a_scheduled_job_prv_ret_1():
    """Walk the inventory: each field's rule names a job that is scheduled, and (for the
    retention job) a registered step that keeps the field's model."""
    rules = retention.schedule()
    scheduled = {spec.name for spec in registry.jobs() if spec.schedule.enabled}
    covered = {(s.rule, m) for s in retention.steps() for m in s.models}
    missing = []
    for item in inventory.items():
        rule = rules[item.decl.retention]
        if rule.days is None:
            assert rule.job is None
            continue
        where = f"{item.model_label}.{item.field} ({rule.key})"
        if rule.job not in scheduled:
            missing.append(f"{where}: job {rule.job!r} is not scheduled")
        elif rule.job == retention.JOB and (rule.key, item.model_label) not in covered:
            missing.append(f"{where}: no retention step keeps this model")
    assert missing == []
    # and every step's rule exists and is enforced by the retention job
    for step in retention.steps():
        assert rules[step.rule].job == retention.JOB, step.key


def test_the_walk_can_fail_prv_ret_1(monkeypatch):
    """Without the loans step, Loan.patron has no enforcing step."""
    saved = dict(retention._steps)
    retention._steps.pop("closed loans")
    try:
        covered = {(s.rule, m) for s in retention.steps() for m in s.models}
        assert ("loan", "circulation.Loan") not in covered
    finally:
        retention._steps.clear()
        retention._steps.update(saved)


def test_statement_and_report_show_the_periods_the_job_applies_prv_inv_2(db, client, settings):
    rules = copy.deepcopy(settings.QUIETSHELF_RETENTION)
    rules["session"]["days"] = 3
    settings.QUIETSHELF_RETENTION = rules
    rule = retention.schedule()["session"]
    text = client.get("/privacy/").content.decode()
    assert rule.text() in text and "3 days after" in text
    report = selectors.records_of_processing()
    assert any(rule.text() in a["retention"] for a in report["activities"])
    # the step applies the same period: a session expired 2 days ago is not due, 4 is
    now = timezone.now()
    Session.objects.create(
        session_key="a" * 32, session_data="x", expire_date=now - dt.timedelta(days=2)
    )
    Session.objects.create(
        session_key="b" * 32, session_data="x", expire_date=now - dt.timedelta(days=4)
    )
    result = retention.run(dry_run=True, only=["sessions"])
    assert result.reports[0].due == 1
    # statement rows for every inventory rule read the same objects
    st = selectors.statement()
    for group in st.groups:
        for row in group.rows:
            assert row.retention_text == retention.schedule()[row.retention].text()


def test_privacy_officer_changes_a_period_audited_prv_ret_1(db):
    rule = retention.retention_set(actor=None, key="session", days=5)
    assert rule.days == 5 and rule.source == "staff page"
    assert retention.schedule()["session"].days == 5
    entry = AuditEntry.objects.filter(object_type="privacy.retentionrule").get()
    assert entry.object_id == "session" and "5 days" in entry.reason
    with pytest.raises(InvalidInput) as exc:
        retention.retention_set(actor=None, key="fee", days=30)
    assert exc.value.code == "below_legal_minimum"
    for bad in (-1, "ten", ""):
        with pytest.raises(InvalidInput):
            retention.retention_set(actor=None, key="session", days=bad)


def test_dry_run_changes_nothing_and_run_deletes_with_one_audit_entry_per_category_prv_ret_1(db):
    old = timezone.now() - dt.timedelta(days=3)
    Session.objects.create(session_key="c" * 32, session_data="x", expire_date=old)
    Session.objects.create(session_key="d" * 32, session_data="x", expire_date=timezone.now())
    out = io.StringIO()
    call_command("retention", "--dry-run", stdout=out)
    assert "sessions" in out.getvalue() and "would change 1 rows" in out.getvalue()
    assert Session.objects.count() == 2
    assert not AuditEntry.objects.filter(action="retention_applied").exists()
    out = io.StringIO()
    call_command("retention", "run", stdout=out)
    assert Session.objects.count() == 1
    assert out.getvalue().strip().splitlines()[-1].startswith("retention: changed 1 rows")
    entries = AuditEntry.objects.filter(action="retention_applied")
    assert list(entries.values_list("object_id", flat=True)) == ["sessions"]
    run = RetentionRun.objects.filter(dry_run=False).get()
    assert run.status == "done" and run.results["sessions"]["done"] == 1


def test_daily_job_is_scheduled_and_runs_the_engine_prv_ret_1(db):
    spec = registry.get("retention")
    assert spec is not None and spec.schedule.daily
    Session.objects.create(
        session_key="e" * 32, session_data="x", expire_date=timezone.now() - dt.timedelta(days=9)
    )
    assert spec.call(today=timezone.localdate()) == 1


def test_legal_hold_on_a_category_suspends_it_prv_ret_2(db):
    Session.objects.create(
        session_key="f" * 32, session_data="x", expire_date=timezone.now() - dt.timedelta(days=9)
    )
    hold = retention.legal_hold_place(actor=None, case_reference="CASE-2026-7", rule_key="session")
    result = retention.run(only=["sessions"])
    assert result.reports[0].held_rule and result.reports[0].held == 1
    assert Session.objects.count() == 1
    retention.legal_hold_release(actor=None, hold_id=hold.pk)
    retention.run(only=["sessions"])
    assert Session.objects.count() == 0
    with pytest.raises(InvalidInput):
        retention.legal_hold_place(actor=None, case_reference=" ", rule_key="session")


def test_run_while_another_holds_the_lock_exits_2_prv_ret_1(db, settings):
    """Another run (another process: its own lock holder) holds the lock: one line, status 2."""
    from django.core.management.base import CommandError
    from django.db import connection

    if connection.vendor == "postgresql":
        from django.db import connections

        other = connections.create_connection("default")  # another session
        with other.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", [retention._PG_LOCK])

        def release():
            with other.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", [retention._PG_LOCK])
            other.close()
    else:
        fd = os.open(settings.INSTANCE_DIR / "retention.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)

        def release():
            os.close(fd)

    try:
        with pytest.raises(CommandError) as exc:
            call_command("retention", "run", stdout=io.StringIO())
    finally:
        release()
    assert exc.value.returncode == 2
    assert "another retention run holds the lock" in str(exc.value)
    assert retention.run(only=["sessions"]).run.status == "done"  # released: it runs


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("QUIETSHELF_RETENTION_SESSION_DAYS", "-3", "must not be negative"),
        ("QUIETSHELF_RETENTION_CONSENT_DAYS", "a year", "whole number"),
        ("QUIETSHELF_RETENTION_FEE_DAYS", "365", "legal minimum"),
    ],
)
def test_bad_retention_settings_are_refused_at_start_up_prv_ret_1(name, value, words, tmp_path):
    env = {**os.environ, "QUIETSHELF_HOME": str(tmp_path), name: value}
    out = subprocess.run(
        QS + ["retention", "--dry-run"], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 2
    assert name in out.stderr and words in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_audit_log_pruned_to_a_checkpoint_still_verifies_prv_ret_1(db, settings):
    for n in range(6):
        audit.record(actor=None, action="viewed", object_type="x.y", object_id=n)
    audit.seal(checkpoint=True)
    for n in range(3):
        audit.record(actor=None, action="viewed", object_type="x.y", object_id=n)
    audit.seal()
    AuditEntry.objects.filter(chain_pos__lte=6).update(at=timezone.now() - dt.timedelta(days=800))
    result = retention.run(only=["audit log"])
    assert result.reports[0].done == 6
    assert not AuditEntry.objects.filter(chain_pos__lte=6).exists()
    audit.seal()
    assert audit.verify().ok, audit.verify().line()
