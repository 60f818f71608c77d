"""In/Out schemas of the catalogue API (pydantic through django-ninja).

Every number that reaches the database is bounded here, so a huge or
negative value is a 422, never an overflow deep in the driver.
"""

from __future__ import annotations

from typing import Annotated, Literal

from ninja import Schema
from pydantic import Field, StringConstraints

from quietshelf.catalog.models import ItemStatus
from quietshelf.core.schemas import (  # noqa: F401  (one error shape)
    JSON_INT,
    ErrorDetail,
    ErrorOut,
    JsonBool,
)

MAX_ID = 2**63 - 1
MAX_PRICE_MINOR = 10**12  # ten billion in major units: any real price fits

Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[\w.-]+$")
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Barcode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^\S+$")
]
Line = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Price = Annotated[int, Field(ge=0, le=MAX_PRICE_MINOR), JSON_INT]
StatusName = Literal[tuple(ItemStatus.values)]  # type: ignore[valid-type]


# --- branches and item types ------------------------------------------------
class BranchOut(Schema):
    id: int
    code: str
    name: str


class BranchIn(Schema):
    code: Code
    name: Name


class ItemTypeOut(Schema):
    id: int
    code: str
    name: str
    circulates: bool


class ItemTypeIn(Schema):
    code: Code
    name: Name
    circulates: JsonBool = True


# --- items -------------------------------------------------------------------
class ItemOut(Schema):
    """An item as the public sees it (no staff note, no price)."""

    id: int
    record_id: int
    barcode: str
    call_number: str
    branch: str  # code
    branch_name: str
    location: str | None  # code
    location_name: str | None
    item_type: str  # code
    status: str
    available: bool
    public_note: str


class ItemStaffOut(ItemOut):
    price_minor: int | None
    currency: str
    staff_note: str


class ItemIn(Schema):
    barcode: Barcode
    branch: Code
    item_type: Code
    call_number: Line = ""
    location: Code | None = None
    status: StatusName = "available"
    price_minor: Price | None = None
    public_note: Note = ""
    staff_note: Note = ""


class ItemPatch(Schema):
    """Only the fields sent change. location and price_minor may be null (none);
    the others are never null, and the OpenAPI description says so."""

    barcode: Barcode = None
    branch: Code = None
    item_type: Code = None
    call_number: Line = None
    location: Code | None = None
    status: StatusName = None
    price_minor: Price | None = None
    public_note: Note | None = None
    staff_note: Note | None = None


# --- records -----------------------------------------------------------------
class Availability(Schema):
    branch: str
    branch_name: str
    available: int
    total: int


class RecordSummary(Schema):
    id: int
    title: str
    subtitle: str
    responsibility: str
    year: int | None
    language: str
    format: str
    isbns: list[str]  # valid, normalised
    items: int
    available: int


class RecordDetail(Schema):
    id: int
    control_number: str
    control_source: str
    title: str
    subtitle: str
    responsibility: str
    contributors: list[dict]
    subjects: list
    isbns: list[dict]
    issns: list[dict]
    publisher: str
    publication_place: str
    year: int | None
    language: str
    format: str
    edition: str
    series: list
    notes: list
    links: list[dict]
    items: list[ItemOut]
    availability: list[Availability]


class RecordCoreIn(Schema):
    """The core fields staff may edit without writing MARC (PUT with JSON).

    Only the fields sent change; the service writes the edit into the MARC.
    """

    title: Title | None = None
    subtitle: Text = ""
    responsibility: Text = ""
    edition: Text = ""
    publisher: Text = ""
    publication_place: Text = ""
    year: Annotated[int, Field(ge=1, le=2999)] | None = None
    language: Annotated[
        str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^([a-z]{3})?$")
    ] = ""


class MarcXmlIn(Schema):
    marcxml: Annotated[str, StringConstraints(min_length=1, max_length=5_000_000)]


# --- search ------------------------------------------------------------------
class FacetValueOut(Schema):
    value: str
    label: str
    count: int
    selected: bool


class SearchOut(Schema):
    total: int
    page: int
    page_size: int
    results: list[RecordSummary]
    facets: dict[str, list[FacetValueOut]]
    truncated_query: bool = False  # the search had more words than are used; the rest were ignored


# --- imports -------------------------------------------------------------------
class ImportProblemOut(Schema):
    source: str
    position: int  # 1-based record number in the file; 0 = the file as a whole
    offset: int | None  # byte offset in an ISO 2709 file
    reason: str


class ImportSummaryOut(Schema):
    created: int
    updated: int
    items: int
    skipped: int
    records_read: int
    dry_run: bool
    errors: list[ImportProblemOut]  # at most MAX_REPORTED; errors_total counts them all
    errors_total: int
    warnings: list[ImportProblemOut]  # at most MAX_REPORTED
    warnings_total: int
