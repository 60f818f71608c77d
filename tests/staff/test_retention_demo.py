"""`quietshelf demo` has data of every age: a first dry run shows each rule (PRV-RET-1)."""

from __future__ import annotations

import pytest

from quietshelf.config.retention_demo import create_aged_demo_data
from quietshelf.privacy import retention
from tests.factories import BranchFactory, ItemFactory

# the kernel's tests-only model points at privacy.Subject: its table must exist when the
# forgotten-subjects step looks for rows still pointing at a subject
from tests.privacy.conftest import _subject_record_table  # noqa: F401

# nothing is due here by design: audit entries cannot be dated back without breaking the
# hash chain, and the demo's entries are younger than the audit-log rule
AT_THE_EVENT = {"audit log"}
# Categories the demo has no aged rows of (none left: a new step adds its own aged rows
# to staff/retention_demo.py, or says here why it cannot)
NOT_YET_IN_THE_DEMO: set[str] = set()


@pytest.fixture(autouse=True)
def _fresh_schedule():
    retention.reset_cache()
    yield
    retention.reset_cache()


@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.usefixtures("_subject_record_table")
def test_first_dry_run_shows_every_category_prv_ret_1():
    branch = BranchFactory(code="DEMO1", name="Demo branch")
    for _ in range(3):  # the demo's catalogue has copies
        ItemFactory(branch=branch)
    assert create_aged_demo_data()
    assert create_aged_demo_data() == {}  # safe to run twice
    reports = {r.key: r for r in retention.run(dry_run=True).reports}
    empty = sorted(
        k for k, r in reports.items() if not r.due and k not in AT_THE_EVENT | NOT_YET_IN_THE_DEMO
    )
    assert empty == []
    for key in ("closed loans", "closed holds", "last-borrower escrow", "staff sessions"):
        assert reports[key].due >= 1, key
    patrons = reports["expired patrons"]
    assert patrons.due == 6 and patrons.held == 1  # the demo's legal hold
    result = retention.run()
    assert result.run.status == "done"
    again = {r.key: r for r in retention.run(dry_run=True).reports}
    assert again["expired patrons"].due == 0 and again["expired patrons"].held == 1
    assert not any(r.due for r in again.values() if r.key != "audit log")
