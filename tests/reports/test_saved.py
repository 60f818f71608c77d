"""Saved reports (RPT-1): each staff member keeps their own list of reports with
grouping and range; nobody sees or deletes another's."""

from __future__ import annotations

import pytest

from quietshelf.accounts.testing import make_staff, signed_in_client
from quietshelf.reports.models import SavedReport

pytestmark = pytest.mark.django_db(databases="__all__")


def test_save_list_open_and_delete_a_report_rpt_1(circ, reader):
    client = signed_in_client(reader)
    params = {"from": "2026-01-01", "to": "2026-03-31", "period": "month", "by": "item_type"}
    r = client.post("/staff/reports/circulation/save/", {**params, "name": "  Quarter  by type "})
    assert r.status_code == 302
    saved = SavedReport.objects.get()
    assert saved.name == "Quarter by type" and saved.owner_id == reader.pk
    assert saved.params["by"] == ["item_type"] and saved.params["from"] == "2026-01-01"
    index = client.get("/staff/reports/").content.decode()
    assert "Quarter by type" in index
    link = "/staff/reports/circulation/?from=2026-01-01&amp;to=2026-03-31&amp;period=month"
    assert link + "&amp;by=item_type" in index

    other = signed_in_client(make_staff("other-reader", roles=["report-reader"]))
    assert "Quarter by type" not in other.get("/staff/reports/").content.decode()
    assert other.post(f"/staff/reports/saved/{saved.pk}/delete/").status_code == 404
    assert SavedReport.objects.exists()
    assert client.post(f"/staff/reports/saved/{saved.pk}/delete/").status_code == 302
    assert not SavedReport.objects.exists()


def test_saving_needs_a_name_and_valid_parameters_rpt_1(circ, reader):
    client = signed_in_client(reader)
    client.post("/staff/reports/circulation/save/", {"name": "   "})
    client.post("/staff/reports/circulation/save/", {"name": "x", "by": "patron"})
    assert not SavedReport.objects.exists()
