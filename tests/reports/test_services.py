"""Reports against the database (RPT-1, PRV-AGG-1): real loans written by the
circulation services, grouped by period, branch, item type and patron group;
the publication form; the facts a report reads hold no patron."""

from __future__ import annotations

import datetime as dt
import random

import pytest
import time_machine
from django.utils import timezone

from quietshelf.catalog.models import Item
from quietshelf.circulation import services as circ_services
from quietshelf.core.csvfile import csv_response
from quietshelf.core.errors import InvalidInput, PermissionDenied
from quietshelf.patrons.models import Patron
from quietshelf.reports import services
from quietshelf.reports.models import Publication

pytestmark = pytest.mark.django_db(databases="__all__")

D = dt.date


def _at(day: dt.date, hour=12):
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def _run(actor, slug, **params):
    req = services.parse_request(slug, params, today=D(2026, 6, 30))
    return services.run_report(actor=actor, request=req)


def _rows(result):
    return {r.keys: r.values for r in result.table.rows}


def test_circulation_report_counts_real_loans_by_month_branch_and_type_rpt_1(
    circ, item, patron, reader
):
    north_book, south_laptop = item(), item(branch="south", item_type="laptop")
    borrower = patron()
    with time_machine.travel(_at(D(2026, 1, 10)), tick=False):
        circ_services.checkout(
            actor=None, item_barcode=north_book.barcode, patron_id=borrower.pk,
            branch_id=circ["north"].pk,
        )  # fmt: skip
        loan = circ_services.checkout(
            actor=None, item_barcode=south_laptop.barcode, patron_id=borrower.pk,
            branch_id=circ["south"].pk,
        ).loan  # fmt: skip
    with time_machine.travel(_at(D(2026, 2, 3)), tick=False):
        circ_services.renew(actor=None, loan_id=loan.pk)
        circ_services.checkin(
            actor=None, item_barcode=north_book.barcode, branch_id=circ["north"].pk
        )

    result = _run(
        reader, "circulation", **{"from": "2026-01-01", "to": "2026-02-28", "period": "month",
        "by": ["branch", "item_type"]},
    )  # fmt: skip
    assert result.table.measures[:3] == ("checkout", "renewal", "checkin")
    assert _rows(result) == {
        ("2026-01", "North", "Book"): [1, 0, 0, 0, 0],
        ("2026-01", "South", "Laptop"): [1, 0, 0, 0, 0],
        ("2026-02", "North", "Book"): [0, 0, 1, 0, 0],
        ("2026-02", "South", "Laptop"): [0, 1, 0, 0, 0],
    }
    assert result.table.grand_total().values == [2, 1, 1, 0, 0]
    assert result.header[:3] == ["Month", "Branch", "Item type"]

    # RPT-1: the marks kept on the item and on the patron, not on any loan
    assert Item.objects.get(pk=north_book.pk).last_activity_on == D(2026, 2, 3)
    assert Patron.objects.get(pk=borrower.pk).last_active_month == D(2026, 2, 1)


def test_circulation_report_by_patron_group_format_and_week_rpt_1(circ, facts, reader):
    facts("checkout", D(2026, 3, 2), 4, group="adult")
    facts("checkout", D(2026, 3, 4), 2, group="child")
    facts("checkout", D(2026, 3, 9), 1, group=None)
    facts("hold_placed", D(2026, 3, 9), 3)
    result = _run(
        reader, "circulation", **{"from": "2026-03-01", "to": "2026-03-15", "period": "week",
        "by": "patron_group"},
    )  # fmt: skip
    assert _rows(result) == {
        ("2026-W10", "Adult"): [4, 0, 0, 0, 0],
        ("2026-W10", "Child"): [2, 0, 0, 0, 0],
        ("2026-W11", "—"): [1, 0, 0, 0, 0],
        ("2026-W11", "Adult"): [0, 0, 0, 3, 0],
    }
    by_format = _rows(_run(reader, "circulation", **{"from": "2026-03-01", "to": "2026-03-15",
                           "period": "none", "by": "format"}))  # fmt: skip
    assert by_format == {("—",): [7, 0, 0, 3, 0]}  # the facts above have no record


def test_whole_range_without_grouping_is_one_total_rpt_1(circ, facts, reader):
    facts("checkout", D(2026, 5, 1), 3)
    facts("checkout", D(2026, 4, 30), 5)  # outside the range
    result = _run(reader, "circulation", **{"from": "2026-05-01", "to": "2026-05-31",
                  "period": "none", "by": ""})  # fmt: skip
    assert result.table.grand_total().values[0] == 3


def test_a_line_has_every_period_of_the_range_rpt_1(circ, facts, reader):
    facts("checkout", D(2026, 2, 10), 6)
    result = _run(reader, "circulation", **{"from": "2026-01-01", "to": "2026-04-30",
                  "period": "month", "by": ""})  # fmt: skip
    assert [r.keys[0] for r in result.table.rows] == ["2026-01", "2026-02", "2026-03", "2026-04"]
    charts = services.charts(result)
    assert charts.line is not None and len(charts.line.dots) == 4
    assert charts.bars is None


def test_bad_input_is_refused_with_a_clear_error_rpt_1(circ, reader):
    cases = [
        ({"from": "2026-03-01", "to": "2026-01-01"}, "invalid_range"),
        ({"from": "1926-01-01", "to": "2026-01-01"}, "range_too_long"),
        ({"by": "patron_name"}, "unknown_grouping"),
        ({"period": "fortnight"}, "unknown_grouping"),
        ({"form": "publication", "k": "1"}, "invalid_k"),
        ({"form": "publication", "epsilon": "0"}, "invalid_epsilon"),
        ({"form": "publication", "epsilon": "-2"}, "invalid_epsilon"),
        ({"form": "raw"}, "invalid_form"),
    ]
    for params, code in cases:
        with pytest.raises(InvalidInput) as exc:
            services.parse_request("circulation", params)
        assert exc.value.code == code, params
    with pytest.raises(InvalidInput) as exc:
        services.parse_request("fees", {"form": "publication", "epsilon": "1"})
    assert exc.value.code == "invalid_epsilon"


def test_a_branch_reader_sees_only_their_branches_rpt_1(circ, facts, branch_unit):
    from quietshelf.accounts.testing import make_staff

    local = make_staff("north-reader", roles=["report-reader"], org_unit=branch_unit("north"))
    facts("checkout", D(2026, 5, 2), 3, branch="north")
    facts("checkout", D(2026, 5, 2), 8, branch="south")
    result = _run(local, "circulation", **{"from": "2026-05-01", "to": "2026-05-31",
                  "period": "none", "by": "branch"})  # fmt: skip
    assert _rows(result) == {("North",): [3, 0, 0, 0, 0]}


def test_a_staff_member_without_the_report_permission_is_refused_rpt_1(circ):
    from quietshelf.accounts.testing import make_staff

    cataloguer = make_staff("cat-no-reports", roles=["cataloguer"])
    with pytest.raises(PermissionDenied):
        _run(cataloguer, "circulation")


def test_publication_form_suppresses_small_cells_from_real_facts_prv_agg_1(circ, facts, reader):
    facts("checkout", D(2026, 5, 2), 12, branch="north", item_type="book")
    facts("checkout", D(2026, 5, 2), 2, branch="north", item_type="laptop")
    facts("checkout", D(2026, 5, 2), 9, branch="south", item_type="book")
    facts("checkout", D(2026, 5, 2), 7, branch="south", item_type="laptop")
    params = {"from": "2026-05-01", "to": "2026-05-31", "period": "none"}
    result = _run(reader, "circulation", **params, by=["branch", "item_type"], form="publication")
    rows, totals = services.display_rows(result)
    cells = {r["keys"]: r["cells"][0] for r in rows}
    assert cells[("North", "Laptop")] == "<5"
    assert cells[("North", "Book")] == "x"
    assert cells[("South", "Laptop")] == "x"
    # in a two-by-two table with its margins shown, the fourth cell follows from the
    # other three, so it is hidden as well
    assert cells[("South", "Book")] == "x"
    assert totals[-1]["cells"][0] == "30"
    assert {tuple(t["keys"]): t["cells"][0] for t in totals}[("North", "all")] == "14"
    text = csv_response(result.header, services.csv_rows(result), "r.csv").content.decode()
    assert "<5" in text and ",x," in text
    assert "Branch,Item type,Check-outs" in text.splitlines()[0]


def test_publication_with_noise_is_seeded_in_tests_prv_agg_1(circ, facts, reader):
    facts("checkout", D(2026, 5, 2), 50, branch="north")
    facts("checkout", D(2026, 5, 2), 60, branch="south")
    req = services.parse_request(
        "circulation",
        {"from": "2026-05-01", "to": "2026-05-31", "period": "none", "by": "branch",
         "form": "publication", "epsilon": "0.5"},
    )  # fmt: skip
    a = services.run_report(actor=reader, request=req, rng=random.Random(11))
    b = services.run_report(actor=reader, request=req, rng=random.Random(11))
    assert [r.values for r in a.table.rows] == [r.values for r in b.table.rows]
    assert a.table.epsilon == 0.5
    assert all(
        abs(v - t) < 40 for v, t in zip([r.values[0] for r in a.table.rows], [50, 60], strict=True)
    )


def test_publish_freezes_the_publication_form_and_audits_it_prv_agg_1(circ, facts):
    from quietshelf.accounts.testing import make_staff
    from quietshelf.privacy.models import AuditEntry

    director = make_staff("director-1", roles=["administrator"])
    facts("checkout", D(2026, 5, 2), 3, branch="north")
    facts("checkout", D(2026, 5, 2), 30, branch="south")
    req = services.parse_request(
        "circulation", {"from": "2026-05-01", "to": "2026-05-31", "period": "none", "by": "branch"}
    )
    pub = services.publish(actor=director, request=req, public=True)
    assert pub.public and pub.k == 5
    stored = services.public_publication("circulation")
    rows = {r.keys: services.cell_texts(stored, r) for r in stored.table.rows}
    assert rows[("North",)][0] == "<5"
    facts("checkout", D(2026, 5, 3), 100, branch="north")  # later facts do not change it
    again = services.public_publication("circulation")
    assert [r.values for r in again.table.rows] == [r.values for r in stored.table.rows]
    assert AuditEntry.objects.filter(action="published", object_id=str(pub.pk)).exists()
    # publishing again replaces the public one
    second = services.publish(actor=director, request=req, public=True)
    assert list(Publication.objects.filter(public=True)) == [second]


def test_a_branch_limited_reader_cannot_publish_prv_agg_1(circ, branch_unit):
    from quietshelf.accounts.testing import make_staff

    local = make_staff("south-reader", roles=["report-reader"], org_unit=branch_unit("south"))
    with pytest.raises(PermissionDenied):
        services.publish(
            actor=local, request=services.parse_request("circulation", {}), public=True
        )
    assert not Publication.objects.exists()


def test_circulation_facts_hold_no_patron_prv_hist_2():
    from quietshelf.circulation.models import CirculationEvent

    names = {f.name for f in CirculationEvent._meta.get_fields()}
    assert not {"patron", "loan", "patron_id"} & names
