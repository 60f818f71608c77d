"""INT-3 patron loads: CLI with a saved mapping, dry run, only mapped fields, bad CSVs."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import call_command

from quietshelf.core.commands import UsageError
from quietshelf.patrons import loads, selectors, services
from quietshelf.patrons.models import Patron, PatronLoadMapping
from quietshelf.privacy.models import AuditEntry

pytestmark = pytest.mark.django_db

MAPPING = {
    "match_type": "institutional_id",
    "columns": {
        "StudentID": "identifier:institutional_id",
        "First": "given_name",
        "Last": "family_name",
        "Mail": "email",
        "Card": "barcode",
        "Group": "group",
    },
    "default_branch": "NORTH",
}
HEADER = "StudentID,First,Last,Mail,Card,Group\n"


@pytest.fixture
def files(tmp_path, branches, groups):
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(MAPPING))

    def write(text: str, name: str = "p.csv"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    return str(mapping), write


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        call_command("load_patrons", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_load_creates_then_updates_only_mapped_fields_INT_3(files):
    mapping, write = files
    path = write(
        HEADER
        + "S1,Eirik,Solheim,eirik@example.org,C-001,student\n"
        + "S2,Hanne,Vold,hanne@example.org,C-002,employee\n"
    )
    code, out, _err = run(path, "--mapping", mapping, "--save-mapping", "campus")
    assert code == 0 and "2 created" in out
    eirik = selectors.patron_by_identifier("institutional_id", "S1")
    assert eirik.home_branch.code == "NORTH" and eirik.group.code == "student"
    assert selectors.patron_by_card_barcode("C-001") == eirik
    # staff add a phone (not mapped): a later load must not touch it
    services.patron_update_contact(actor=None, patron_id=eirik.pk, phone="+47 90 00 00 01")
    path = write(HEADER + "S1,Eirik,Solheim-Berg,eirik@example.org,C-001,student\n")
    code, out, _ = run(path, "--mapping-name", "campus")
    assert "1 updated" in out
    eirik.refresh_from_db()
    assert eirik.family_name == "Solheim-Berg"
    assert selectors.patron_preferred_contact(eirik, "phone") == "+4790000001"
    assert AuditEntry.objects.filter(object_id=str(eirik.pk), action="changed").exists()
    code, out, _ = run(path, "--mapping-name", "campus")
    assert "1 unchanged" in out
    # a JSON file without the Mail key leaves the e-mail alone
    path = write(json.dumps([{"StudentID": "S2", "Last": "Vold-Ås"}]), "p.json")
    code, out, _ = run(path, "--mapping-name", "campus")
    hanne = selectors.patron_by_identifier("institutional_id", "S2")
    assert hanne.family_name == "Vold-Ås"
    assert selectors.patron_preferred_contact(hanne, "email") == "hanne@example.org"


def test_dry_run_stores_nothing(files):
    mapping, write = files
    path = write(HEADER + "S1,Eirik,Solheim,eirik@example.org,C-001,student\n")
    code, out, _ = run(path, "--mapping", mapping, "--dry-run")
    assert code == 0 and "1 would be created" in out and "dry run" in out
    assert not Patron.objects.exists() and not PatronLoadMapping.objects.exists()


def test_wrong_header_is_one_clear_error(files):
    mapping, write = files
    path = write("Id,Firstname,Surname\nS1,A,B\n")
    with pytest.raises(UsageError, match="lacks column"):
        run(path, "--mapping", mapping)
    assert not Patron.objects.exists()


def test_bad_rows_and_formula_cells_are_row_errors(files, tmp_path):
    mapping, write = files
    path = write(
        HEADER
        + "S1,Eirik,Solheim,eirik@example.org,C-001,student\n"
        + "S2,Bad,Mail,not-an-email,C-002,student\n"
        + "S3,\"=cmd|' /C calc'!A0\",X,,C-003,student\n"
        + "S4,Too,Few\n"
        + "S5,Ukjent,Gruppe,,C-005,wizards\n"
        + ",No,Key,,C-006,student\n"
        + "S1,Same,Again,,C-007,student\n"
        + "S8,@SUM(A1),Y,,C-008,student\n"
    )
    report = tmp_path / "report.csv"
    code, out, err = run(path, "--mapping", mapping, "--report", str(report))
    assert code == 1
    assert "1 created" in out and "7 with errors" in out
    assert "row 3: column Mail" in err
    assert "row 4: column First: looks like a spreadsheet formula" in err
    assert "row 5: 3 cells where the header has 6" in err
    assert "row 6: column Group: unknown patron group" in err
    assert "row 7: no value in the match column" in err
    assert "row 8: the same identifier as row 2" in err
    assert Patron.objects.count() == 1
    rows = list(csv.reader(report.open(encoding="utf-8")))
    assert rows[0] == ["row", "status", "message", "patron_id"]
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "@", "+", "-")), cell
    # formula text was never stored anywhere
    for p in Patron.objects.all():
        assert not str(p.given_name).startswith("=")


def test_used_card_number_in_a_load_is_a_row_error_SEC_ID_1(files, new_patron):
    mapping, write = files
    p = new_patron(barcode="C-OLD")
    services.card_replace(actor=None, patron_id=p.pk, barcode="C-NEW")
    path = write(HEADER + "S1,A,B,,C-OLD,student\nS2,C,D,,C-NEW,student\n")
    code, out, err = run(path, "--mapping", mapping)
    assert "2 with errors" in out and "SEC-ID-1" in err


def test_bad_mapping_and_files_are_usage_errors(files, tmp_path):
    mapping, write = files
    path = write(HEADER)
    bad = tmp_path / "bad.json"
    bad.write_text('{"columns": {"A": "shoe_size"}}')
    with pytest.raises(UsageError, match="Unknown target"):
        run(path, "--mapping", str(bad))
    bad.write_text("{not json")
    with pytest.raises(UsageError, match="not valid JSON"):
        run(path, "--mapping", str(bad))
    with pytest.raises(UsageError, match="no such file"):
        run(str(tmp_path / "missing.csv"), "--mapping", mapping)
    with pytest.raises(UsageError, match="no saved mapping"):
        run(path, "--mapping-name", "nope")
    broken = write("[{", "b.json")
    with pytest.raises(UsageError, match="not valid JSON"):
        run(broken, "--mapping", mapping)


def test_load_report_csv_goes_through_the_core_writer_sec_csv_1():
    report = loads.LoadReport(
        results=[
            loads.RowResult(1, "error", "=1+1"),
            loads.RowResult(2, "error", "\uff1dHYPERLINK(1)"),
            loads.RowResult(3, "error", " @x"),
            loads.RowResult(4, "created", "plain"),
        ]
    )
    out = io.StringIO()
    report.write_csv(out)
    messages = [row[2] for row in csv.reader(io.StringIO(out.getvalue()))][1:]
    assert messages == ["'=1+1", "'\uff1dHYPERLINK(1)", "' @x", "plain"]
    assert loads.looks_like_formula("=cmd|' /C calc'!A0")
    assert not loads.looks_like_formula("+47 912 34 567")
    assert loads.looks_like_formula("+cmd")


def test_a_load_cannot_empty_the_name(files):
    mapping, write = files
    run(write(HEADER + "S1,Eirik,Solheim,,C-001,student\n"), "--mapping", mapping)
    code, out, err = run(write(HEADER + "S1,,,,C-001,student\n"), "--mapping", mapping)
    assert code == 1 and "the name would become empty" in err
    p = selectors.patron_by_identifier("institutional_id", "S1")
    assert (p.given_name, p.family_name) == ("Eirik", "Solheim")


def _many(n: int, repeat_at: dict | None = None) -> str:
    lines = [HEADER]
    for i in range(n):
        sid, card = f"S{i}", f"C-{i}"
        for j, (kind, earlier) in (repeat_at or {}).items():
            if i == j:
                sid, card = (f"S{earlier}", card) if kind == "id" else (sid, f"C-{earlier}")
        lines.append(f"{sid},Given{i},Family{i},u{i}@example.org,{card},student\n")
    return "".join(lines)


@pytest.mark.parametrize("parallel", [False, True])
def test_repeats_across_batches_name_the_earlier_row_INT_3(files, monkeypatch, parallel):
    """INT-3: a repeat in a later batch is found in the database (memory flat), not a set."""
    mapping, write = files
    monkeypatch.setattr(loads, "BATCH", 5)
    monkeypatch.setattr(loads.load_rows, "PARALLEL_AFTER", 1)
    # file row numbers are list index + 2 (the header is row 1)
    path = write(_many(23, {12: ("id", 1), 20: ("card", 3)}))
    with open(path, "rb") as fh:
        report = loads.run_load(
            actor=None, stream=fh, fmt="csv", mapping=loads.parse_mapping(MAPPING),
            parallel=parallel,
        )  # fmt: skip
    errors = {r.number: r.message for r in report.results if r.status == "error"}
    assert errors == {
        14: "the same identifier as row 3",
        22: "the same card number as row 5",
    }
    assert report.created == 21 and Patron.objects.count() == 21
    # every new patron: readable through the kernel, one audit entry, findable by name
    p = selectors.patron_by_identifier("institutional_id", "S17")
    assert (p.given_name, p.family_name) == ("Given17", "Family17")
    assert selectors.patron_by_card_barcode("C-17") == p
    assert selectors.patron_preferred_contact(p, "email") == "u17@example.org"
    assert AuditEntry.objects.filter(action="created", object_type="patrons.patron").count() == 21
    assert [
        x.pk for x in selectors.patron_search(actor=None, query="Given17 Family17", kind="name")
    ] == [p.pk]


def test_dry_run_finds_repeats_across_batches_INT_3(files, monkeypatch):
    """INT-3: a dry run stores nothing, yet reports a repeat from an earlier batch."""
    mapping, write = files
    monkeypatch.setattr(loads, "BATCH", 4)
    path = write(_many(10, {9: ("id", 0)}))
    with open(path, "rb") as fh:
        report = loads.run_load(
            actor=None, stream=fh, fmt="csv", mapping=loads.parse_mapping(MAPPING), dry_run=True
        )
    assert [(r.number, r.message) for r in report.results] == [(11, "the same identifier as row 2")]
    assert not Patron.objects.exists()


def test_parallel_load_reports_a_bad_header_INT_3(files, monkeypatch):
    """INT-3: with the encoding in a second process a bad file is still one clear error."""
    mapping, write = files
    monkeypatch.setattr(loads.load_rows, "PARALLEL_AFTER", 0)
    path = write("Id,Firstname,Surname\nS1,A,B\n")
    with open(path, "rb") as fh, pytest.raises(loads.LoadError, match="lacks column"):
        loads.run_load(
            actor=None, stream=fh, fmt="csv", mapping=loads.parse_mapping(MAPPING), parallel=True
        )


def test_a_transaction_takes_several_batches_all_or_nothing_INT_3(files, monkeypatch):
    """INT-3: rows are written rows_per_transaction() at a time (several read batches
    on SQLite, one on PostgreSQL), each in one transaction: a failure while writing
    one undoes all of its rows, never an earlier transaction's."""
    mapping, write = files
    monkeypatch.setattr(loads, "BATCH", 4)
    monkeypatch.setattr(loads, "SQLITE_TX_ROWS", 12)
    per = loads.rows_per_transaction()
    real_write = loads.load_rows.write
    written = []

    def failing_second_write(plans):
        written.append(len(plans))
        real_write(plans)
        if len(written) == 2:
            raise RuntimeError("disk full")

    monkeypatch.setattr(loads.load_rows, "write", failing_second_write)
    path = write(_many(30))
    with open(path, "rb") as fh, pytest.raises(RuntimeError, match="disk full"):
        loads.run_load(actor=None, stream=fh, fmt="csv", mapping=loads.parse_mapping(MAPPING))
    assert written == [per, per]
    assert Patron.objects.count() == per
    assert AuditEntry.objects.filter(action="created", object_type="patrons.patron").count() == per
    assert selectors.patron_by_identifier("institutional_id", f"S{per - 1}") is not None
    assert selectors.patron_by_identifier("institutional_id", f"S{per}") is None


def test_grouped_transaction_reports_like_single_batches_INT_3(files, monkeypatch):
    """INT-3: the same report whether rows are written 4 or 12 to a transaction."""
    mapping, write = files
    monkeypatch.setattr(loads, "BATCH", 4)
    text = _many(26, {12: ("id", 1), 20: ("card", 3)})
    reports = []
    for per_transaction in (4, 12):
        monkeypatch.setattr(loads, "SQLITE_TX_ROWS", per_transaction)
        path = write(text, f"p{per_transaction}.csv")
        with open(path, "rb") as fh:
            report = loads.run_load(
                actor=None, stream=fh, fmt="csv", mapping=loads.parse_mapping(MAPPING),
                dry_run=True, keep_all=True,
            )  # fmt: skip
        reports.append([(r.number, r.status, r.message) for r in report.results])
    assert reports[0] == reports[1]
    assert (14, "error", "the same identifier as row 3") in reports[0]
    assert (22, "error", "the same card number as row 5") in reports[0]
    assert sum(1 for r in reports[0] if r[1] == "created") == 24


def test_another_patrons_identifier_is_a_row_error_INT_3(files, monkeypatch, tmp_path):
    """INT-3: a new row carrying a second identifier that another patron holds is
    reported, the other rows of its transaction are stored."""
    mapping, write = files
    monkeypatch.setattr(loads, "BATCH", 2)
    two_ids = dict(MAPPING, columns=dict(MAPPING["columns"], Emp="identifier:employee_number"))
    header = HEADER.rstrip("\n") + ",Emp\n"
    first = write(header + "S1,Ann,Berg,a@example.org,C-1,student,E1\n", "first.csv")
    with open(first, "rb") as fh:
        loads.run_load(actor=None, stream=fh, fmt="csv", mapping=loads.parse_mapping(two_ids))
    second = write(
        header
        + "S2,Bo,Dahl,b@example.org,C-2,student,E2\n"
        + "S3,Cy,Eek,c@example.org,C-3,student,E1\n"
        + "S4,Di,Fos,d@example.org,C-4,student,E4\n",
        "second.csv",
    )
    with open(second, "rb") as fh:
        report = loads.run_load(
            actor=None, stream=fh, fmt="csv", mapping=loads.parse_mapping(two_ids)
        )
    assert [(r.number, r.message) for r in report.results] == [
        (3, "identifier:employee_number belongs to another patron")
    ]
    assert report.created == 2 and Patron.objects.count() == 3
