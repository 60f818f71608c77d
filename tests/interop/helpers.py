"""Records for the interop tests, made through the catalogue's own services."""

from __future__ import annotations

from pymarc import Field, Indicators, Subfield

from quietshelf.catalog import services
from tests.catalog.marcbuild import make_record

OAI_NS = {"o": "http://www.openarchives.org/OAI/2.0/"}
MARC_NS = {"m": "http://www.loc.gov/MARC21/slim"}
DC_NS = {"dc": "http://purl.org/dc/elements/1.1/"}


def subject(text: str) -> Field:
    return Field(tag="650", indicators=Indicators(" ", "0"), subfields=[Subfield("a", text)])


def create(
    title: str, *, control: str, branch: str | None = None, extra=(), year: int | None = None, **kw
):
    items = []
    if branch:
        items = [{"a": branch, "b": branch, "p": f"BC-{control}", "y": "BOOK", "g": "199.00"}]
    marc = make_record(title, control=control, items=items, extra=extra, **kw)
    if year is not None:
        marc["008"].data = f"240101s{year}    no            000 1 nob d"
    return services.record_create_from_marc(marc=marc)
