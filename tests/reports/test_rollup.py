"""The nightly rollup of circulation events into month counts (RPT-1): reports over
whole months read the counts, the rest from the events, with the same answer."""

from __future__ import annotations

import datetime as dt

import pytest

from quietshelf.reports import rollup, services
from quietshelf.reports.models import CirculationMonth

pytestmark = pytest.mark.django_db(databases="__all__")

D = dt.date


def _table(actor, **params):
    req = services.parse_request("circulation", params, today=D(2026, 6, 30))
    result = services.run_report(actor=actor, request=req)
    return [(r.keys, r.values) for r in result.table.rows], result.table.grand_total().values


@pytest.fixture
def months(facts):
    facts("checkout", D(2026, 1, 15), 4, branch="north", group="adult")
    facts("checkout", D(2026, 1, 31), 2, branch="south", group="child")
    facts("renewal", D(2026, 2, 1), 3, branch="north")
    facts("checkin", D(2026, 2, 28), 5, branch="south", item_type="laptop")
    facts("checkout", D(2026, 3, 3), 7, branch="north")  # March is not closed yet


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-01-01", "to": "2026-03-31", "period": "month", "by": ["branch"]},
        {"from": "2026-01-10", "to": "2026-03-05", "period": "month", "by": ["item_type"]},
        {"from": "2026-01-01", "to": "2026-02-28", "period": "none", "by": ["patron_group"]},
        {"from": "2026-01-01", "to": "2026-12-31", "period": "year", "by": ["branch", "format"]},
        {"from": "2026-01-01", "to": "2026-03-31", "period": "week", "by": ["branch"]},
    ],
)
def test_reports_from_month_counts_equal_reports_from_events_rpt_1(months, reader, params):
    before = _table(reader, **params)
    assert rollup.rollup_circulation(today=D(2026, 3, 10)) > 0
    assert rollup.rolled_through() == D(2026, 2, 28)
    assert _table(reader, **params) == before


def test_rollup_counts_closed_months_once_rpt_1(months):
    assert rollup.rollup_circulation(today=D(2026, 3, 1)) > 0  # within the margin: Jan only
    assert rollup.rolled_through() == D(2026, 1, 31)
    rows = CirculationMonth.objects.count()
    assert rollup.rollup_circulation(today=D(2026, 3, 1)) == 0
    assert CirculationMonth.objects.count() == rows
    rollup.rollup_circulation(today=D(2026, 3, 10))
    assert rollup.rolled_through() == D(2026, 2, 28)
    jan = CirculationMonth.objects.filter(month=D(2026, 1, 1), kind="checkout")
    assert sum(jan.values_list("n", flat=True)) == 6


def test_the_rollup_reads_from_the_month_counts_rpt_1(months, reader):
    rollup.rollup_circulation(today=D(2026, 3, 10))
    # the events of the rolled months are not read again: remove them and the answer stays
    from quietshelf.circulation.models import CirculationEvent

    CirculationEvent.objects.filter(day__lt=D(2026, 3, 1)).delete()
    rows, total = _table(reader, **{"from": "2026-01-01", "to": "2026-03-31", "period": "month",
                                    "by": ""})  # fmt: skip
    assert total == [13, 3, 5, 0, 0]


def test_rollup_is_a_nightly_job_rpt_1():
    from quietshelf.jobs import registry

    spec = registry.get("reports-rollup")
    assert spec is not None and spec.target == "quietshelf.reports.rollup:rollup_circulation"


def test_nothing_to_roll_up_rpt_1(circ):
    assert rollup.rollup_circulation(today=D(2026, 3, 10)) == 0
    assert rollup.rolled_through() is None
