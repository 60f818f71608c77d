"""Report pages, CSV and API (RPT-1, PRV-AGG-1, SEC-CSV-1): staff report with
grouping, chart and CSV; bad input as a form error or a 4xx error body; the
public statistics page and anonymous API show the stored publication form only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from quietshelf.accounts.testing import make_staff, signed_in_client
from quietshelf.reports import services

pytestmark = pytest.mark.django_db(databases="__all__")

D = dt.date
RANGE = {"from": "2026-05-01", "to": "2026-06-30"}


@pytest.fixture
def data(facts):
    facts("checkout", D(2026, 5, 2), 12, branch="north")
    facts("checkout", D(2026, 6, 2), 2, branch="south")
    facts("renewal", D(2026, 6, 3), 7, branch="south")


def test_staff_report_page_shows_table_chart_and_csv_link_rpt_1(data, reader):
    client = signed_in_client(reader)
    r = client.get("/staff/reports/circulation/", {**RANGE, "period": "month", "by": "branch"})
    assert r.status_code == 200
    body = r.content.decode()
    assert 'id="report-table"' in body and "<svg" in body
    assert 'id="chart-line"' in body and 'id="chart-bars"' in body
    assert "/staff/reports/circulation/csv/?" in body
    assert "2026-05" in body and "North" in body
    assert r["Cache-Control"].startswith("no-store") or "no-store" in r["Cache-Control"]


def test_staff_report_page_bad_input_is_a_form_error_rpt_1(data, reader):
    client = signed_in_client(reader)
    for params in (
        {"from": "2026-06-01", "to": "2026-05-01"},
        {"from": "1920-01-01", "to": "2026-01-01"},
        {"by": "patron"},
        {"form": "publication", "k": "1"},
        {"form": "publication", "epsilon": "0"},
    ):
        r = client.get("/staff/reports/circulation/", params)
        assert r.status_code == 400, params
        assert 'id="report-error"' in r.content.decode()
    assert client.get("/staff/reports/nope/").status_code == 404


def test_csv_download_goes_through_the_formula_safe_writer_sec_csv_1(circ, facts, reader):
    circ["north"].name = "=HYPERLINK(1)"
    circ["north"].save()
    facts("checkout", D(2026, 5, 2), 3, branch="north")
    client = signed_in_client(reader)
    r = client.get("/staff/reports/circulation/csv/", {**RANGE, "period": "none", "by": "branch"})
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/csv")
    assert 'filename="circulation-20260501-20260630.csv"' in r["Content-Disposition"]
    lines = r.content.decode().splitlines()
    assert lines[0].startswith("Branch,Check-outs,Renewals")
    assert lines[1].startswith("'=HYPERLINK(1),3,")
    assert lines[-1].startswith("Total,3,")


def test_report_pages_need_the_report_permission_rpt_1(data):
    cataloguer = signed_in_client(make_staff("cat-pages", roles=["cataloguer"]))
    assert cataloguer.get("/staff/reports/").status_code == 403
    assert cataloguer.get("/staff/reports/circulation/csv/").status_code == 403
    assert Client().get("/staff/reports/circulation/").status_code == 302


def test_api_report_json_and_csv_rpt_1(data, reader, django_assert_max_num_queries):
    client = signed_in_client(reader)
    with django_assert_max_num_queries(12):
        r = client.get(
            "/api/v1/reports/circulation",
            {**RANGE, "period": "month", "by": ["branch", "item_type"]},
        )
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["dimensions"] == ["month", "branch", "item_type"]
    assert body["rows"][0] == {
        "keys": ["2026-05", "North", "Book"],
        "values": [12, 0, 0, 0, 0],
        "suppressed": None,
        "margin": None,
    }
    r = client.get("/api/v1/reports/circulation/csv", {**RANGE, "by": "branch"})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    assert client.get("/api/v1/reports").json()[0]["slug"] == "circulation"


def test_api_bad_input_is_a_4xx_error_body_rpt_1(data, reader):
    client = signed_in_client(reader)
    for params, code in (
        ({"from": "2026-06-01", "to": "2026-05-01"}, "invalid_range"),
        ({"by": "patron"}, "unknown_grouping"),
        ({"form": "publication", "k": "1"}, "invalid_k"),
        ({"form": "publication", "epsilon": "-1"}, "invalid_epsilon"),
    ):
        r = client.get("/api/v1/reports/circulation", params)
        assert r.status_code == 400, (params, r.content)
        assert r.json()["error"]["code"] == code
    r = client.get("/api/v1/reports/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "report_not_found"


def test_api_needs_a_report_reader_rpt_1(data):
    assert Client().get("/api/v1/reports/circulation").status_code == 401
    cataloguer = signed_in_client(make_staff("cat-api", roles=["cataloguer"]))
    r = cataloguer.get("/api/v1/reports/circulation")
    assert r.status_code == 403 and set(r.json()) == {"error"}


def test_publish_then_public_page_and_anonymous_api_show_the_publication_form_prv_agg_1(
    data, reader
):
    director = make_staff("director-pages", roles=["administrator"])
    client = signed_in_client(director)
    assert Client().get("/statistics/circulation/").status_code == 404
    r = client.post(
        "/staff/reports/circulation/publish/",
        {**RANGE, "period": "none", "by": "branch", "public": "on"},
    )
    assert r.status_code == 302
    anonymous = Client()
    page = anonymous.get("/statistics/")
    assert page.status_code == 200 and "/statistics/circulation/" in page.content.decode()
    page = anonymous.get("/statistics/circulation/")
    body = page.content.decode()
    assert page.status_code == 200
    assert "&lt;5" in body and "<svg" in body
    api = anonymous.get("/api/v1/statistics/circulation")
    assert api.status_code == 200
    table = api.json()
    assert table["form"] == "publication" and table["k"] == 5
    south = next(row for row in table["rows"] if row["keys"] == ["South"])
    assert south["values"][0] is None and south["suppressed"][0] == "<5"
    assert anonymous.get("/api/v1/statistics").json()[0]["report"] == "circulation"
    csv = anonymous.get("/statistics/circulation/csv/")
    assert csv.status_code == 200 and "<5" in csv.content.decode()
    # the public pages never run the report: no further facts show up
    assert anonymous.get("/api/v1/statistics/holds").status_code == 404


def test_unpublish_takes_it_off_the_public_page_prv_agg_1(data):
    director = make_staff("director-unpub", roles=["administrator"])
    req = services.parse_request("circulation", {"by": "branch"})
    pub = services.publish(actor=director, request=req, public=True)
    client = signed_in_client(director)
    assert client.post(f"/staff/reports/publications/{pub.pk}/unpublish/").status_code == 302
    assert Client().get("/statistics/circulation/").status_code == 404


def test_report_page_in_norwegian_bokmal_rpt_1(data, reader):
    client = signed_in_client(reader)
    r = client.get(
        "/staff/reports/circulation/",
        {**RANGE, "period": "month", "by": "branch", "lang": "nb"},
        HTTP_ACCEPT_LANGUAGE="nb",
    )
    body = r.content.decode()
    assert r.status_code == 200, body[-3000:]
    assert "Grupper etter" in body, (
        body[body.find("<main") :][:1500] and "Last ned CSV" in body and "Filial" in body
    )
    csv = client.get(
        "/staff/reports/circulation/csv/", {**RANGE, "by": "branch"}, HTTP_ACCEPT_LANGUAGE="nb"
    )
    assert csv.content.decode().startswith("Måned,Avdeling,Utlån")
