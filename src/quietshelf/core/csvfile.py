"""The project's one CSV writer (SEC-CSV-1).

Every CSV that Quietshelf writes — portal and API exports, patron-load
reports, statistics — goes through here, so that no cell can start like a
formula a spreadsheet would run. A spreadsheet treats a cell as a formula when
its first non-blank character is ``=``, ``+``, ``-`` or ``@`` (and some also
when it is the full-width ``＝``, ``＋``, ``－`` or ``＠``); a leading tab or
carriage return is used to smuggle those past naive checks. Such a cell is
written with a leading apostrophe, which every spreadsheet shows as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from django.http import HttpResponse

# First characters that make a spreadsheet evaluate a cell.
# The media type of every CSV the project writes: downloads and mail attachments alike.
CSV_MEDIA_TYPE = "text/csv"

FORMULA_STARTS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")


def is_formula_like(text: str) -> bool:
    """True if a spreadsheet could evaluate ``text`` as a formula."""
    stripped = text.lstrip(" \u00a0\u3000")
    return bool(text) and (text[0] in FORMULA_STARTS or stripped[:1] in FORMULA_STARTS)


def safe_cell(value: Any) -> str:
    """A value as CSV cell text that no spreadsheet runs as a formula.

    Numbers (int, float) are written as they are: a negative amount is data,
    not a formula, and it is never attacker-controlled text.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if is_formula_like(text):
        return "'" + text
    return text


def write_csv(out: TextIO, header: Iterable[Any] | None, rows: Iterable[Iterable[Any]]) -> int:
    """Write ``header`` (if any) and ``rows`` to ``out``; returns the number of data rows."""
    writer = csv.writer(out)
    if header is not None:
        writer.writerow([safe_cell(v) for v in header])
    count = 0
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
        count += 1
    return count


def csv_text(header: Iterable[Any] | None, rows: Iterable[Iterable[Any]]) -> str:
    """The whole CSV document as text (for small exports answered in one response)."""
    buffer = io.StringIO()
    write_csv(buffer, header, rows)
    return buffer.getvalue()


def csv_response(
    header: Iterable[Any] | None,
    rows: Iterable[Iterable[Any]],
    filename: str,
    *,
    no_store: bool = True,
) -> HttpResponse:
    """A CSV download (pages and API): the only place that answers ``text/csv``.

    It takes cells, never a finished text, so no caller can hand it a document
    that did not pass ``safe_cell``. Downloads are ``no-store`` by default: they
    may hold a patron's own data and must not sit in a shared cache.
    """
    from django.http import HttpResponse

    response = HttpResponse(csv_text(header, rows), content_type=f"{CSV_MEDIA_TYPE}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    if no_store:
        response["Cache-Control"] = "no-store"
    return response
