"""The catalogue API router, mounted at /api/v1/ by quietshelf.api.main.

Reads of the public catalogue need no login; every write needs a staff token
(or a staff session with its CSRF token) and the matching permission. The
handlers only parse, call one service or selector, and shape the answer.
"""

from __future__ import annotations

import re
from typing import Literal

from django.conf import settings
from django.http import HttpResponse
from ninja import Field, File, Path, Query, Router, Schema, Status
from ninja.files import UploadedFile

from quietshelf.catalog import reads as catalog_reads
from quietshelf.catalog import schemas as s
from quietshelf.catalog import services, uploads
from quietshelf.catalog.schemas import MAX_ID
from quietshelf.catalog.search import FACETS, SearchQuery, ratelimit
from quietshelf.catalog.search import search as run_search
from quietshelf.core.api_auth import require_perm, staff_auth
from quietshelf.core.errors import InvalidInput

router = Router(tags=["catalogue"])
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

Id = Path(..., ge=1, le=MAX_ID)
ERRORS = {400: s.ErrorOut, 404: s.ErrorOut, 422: s.ErrorOut}
WRITE_ERRORS = {**ERRORS, 401: s.ErrorOut, 403: s.ErrorOut, 409: s.ErrorOut}
MARC_ERRORS = {**WRITE_ERRORS, 413: s.ErrorOut, 415: s.ErrorOut}


def _services():
    return services


def _selectors():
    return catalog_reads


# --- search --------------------------------------------------------------------
class SearchParams(Schema):
    q: str = Field("", max_length=10_000)
    format: list[str] = []
    language: list[str] = []
    era: list[str] = []
    branch: list[str] = []
    available: list[str] = []
    sort: Literal["relevance", "title", "year", "-year"] = "relevance"
    page: int = Field(1, ge=1, le=10_000)
    page_size: int = Field(20, ge=1, le=100)


@router.get(
    "/search", response={200: s.SearchOut, 400: s.ErrorOut, 422: s.ErrorOut, 429: s.ErrorOut}
)
def search(request, params: Query[SearchParams]):
    """Keyword search with facets. Public, rate-limited per client (SEC-DOS-1)."""

    ratelimit.check(request)
    filters = {
        name: values
        for name in FACETS
        if (values := [_clean(v)[:100] for v in getattr(params, name, []) if _clean(v)][:20])
    }
    result = run_search(
        SearchQuery(
            text=_clean(params.q),
            filters=filters,
            sort=params.sort,
            page=params.page,
            page_size=params.page_size,
        )
    )
    return {
        "total": result.total,
        "page": result.page,
        "page_size": result.page_size,
        "results": _selectors().record_summaries(result.record_ids),
        "truncated_query": result.truncated_query,
        "facets": {
            name: [
                {"value": f.value, "label": str(f.label), "count": f.count, "selected": f.selected}
                for f in values
            ]
            for name, values in result.facets.items()
        },
    }


# --- records -------------------------------------------------------------------
MARC_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/marc": {"schema": {"type": "string", "format": "binary"}},
            "application/marcxml+xml": {"schema": {"type": "string"}},
            "application/json": {"schema": s.MarcXmlIn.json_schema()},
            # also taken (catalog/uploads.py); any other type is 415 (api/media.py)
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "application/xml": {"schema": {"type": "string"}},
            "text/xml": {"schema": {"type": "string"}},
        },
    }
}


@router.get("/records/{record_id}", response={200: s.RecordDetail, **ERRORS})
def record_get(request, record_id: int = Id):
    """A record with its items and availability per branch. Public."""
    return _selectors().record_detail(record_id=record_id)


@router.post(
    "/records",
    auth=staff_auth,
    response={201: s.RecordDetail, **MARC_ERRORS},
    openapi_extra=MARC_BODY_DOC,
)
def record_create(request, format: Literal["iso2709", "marcxml"] | None = None):  # noqa: A002
    """Create a record from one MARC record: ISO 2709 (`application/marc`), MARCXML
    (`application/marcxml+xml`), or JSON `{"marcxml": "..."}`; `?format=` overrides
    the content type."""
    require_perm(request, "catalog.add_bibrecord")
    marc = uploads.record_from_request(request, format)
    record_id = _services().record_create_from_marc(actor=request.auth, marc=marc)
    return Status(201, _selectors().record_detail(record_id=_id_of(record_id)))


@router.put(
    "/records/{record_id}",
    auth=staff_auth,
    response={200: s.RecordDetail, **MARC_ERRORS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                **MARC_BODY_DOC["requestBody"]["content"],
                "application/json": {
                    "schema": {"oneOf": [s.MarcXmlIn.json_schema(), s.RecordCoreIn.json_schema()]}
                },
            },
        }
    },
)
def record_update(
    request,
    record_id: int = Id,
    format: Literal["iso2709", "marcxml"] | None = None,  # noqa: A002
):
    """Replace a record's MARC (same bodies as create), or, with a JSON body of core
    fields (`title`, `subtitle`, ...), edit those fields only."""
    require_perm(request, "catalog.change_bibrecord")
    core = uploads.core_fields_from_request(request, format)
    if core is not None:
        _services().record_update_core_fields(
            actor=request.auth, record_id=record_id, **core.model_dump(exclude_unset=True)
        )
    else:
        marc = uploads.record_from_request(request, format)
        _services().record_update_from_marc(actor=request.auth, record_id=record_id, marc=marc)
    return _selectors().record_detail(record_id=record_id)


@router.delete("/records/{record_id}", auth=staff_auth, response={204: None, **WRITE_ERRORS})
def record_delete(request, record_id: int = Id):
    require_perm(request, "catalog.delete_bibrecord")
    _services().record_delete(actor=request.auth, record_id=record_id)
    return Status(204, None)


@router.get(
    "/records/{record_id}/marc",
    response={200: None, **ERRORS},
    openapi_extra={
        "responses": {
            "200": {
                "description": "The MARC record",
                "content": {
                    "application/marcxml+xml": {"schema": {"type": "string"}},
                    "application/marc": {"schema": {"type": "string", "format": "binary"}},
                },
            }
        }
    },
)
def record_marc(
    request,
    record_id: int = Id,
    format: Literal["marcxml", "iso2709"] = "marcxml",  # noqa: A002
):
    """The whole MARC record, as MARCXML (default) or ISO 2709 UTF-8. Public."""
    from quietshelf.catalog.marc import records as marc_records

    record = _selectors().record_marc(record_id=record_id)
    if format == "iso2709":
        try:
            data = marc_records.record_to_iso2709(record)
        except marc_records.RecordTooLong as exc:
            raise InvalidInput(
                "This record is too long for ISO 2709; ask for format=marcxml.",
                code="record_too_long",
            ) from exc
        response = HttpResponse(data, content_type="application/marc")
        response["Content-Disposition"] = f'attachment; filename="record-{record_id}.mrc"'
        return response
    repairs: list[str] = []
    xml = marc_records.record_to_marcxml(record, namespace=True, repairs=repairs)
    response = HttpResponse(xml, content_type="application/marcxml+xml; charset=utf-8")
    # Valid MARCXML always; what that took is counted, never silent (CAT-1).
    response["X-MARCXML-Repairs"] = str(len(repairs))
    return response


# --- items -----------------------------------------------------------------------
@router.get("/records/{record_id}/items", response={200: list[s.ItemOut], **ERRORS})
def item_list(request, record_id: int = Id):
    """The items of a record. Public."""
    return _selectors().item_list(record_id=record_id)


@router.get("/items/{item_id}", response={200: s.ItemOut, **ERRORS})
def item_get(request, item_id: int = Id):
    return _selectors().item_detail(item_id=item_id)


@router.post(
    "/records/{record_id}/items", auth=staff_auth, response={201: s.ItemStaffOut, **WRITE_ERRORS}
)
def item_create(request, payload: s.ItemIn, record_id: int = Id):
    """Add an item; a barcode already in use is a 409 `duplicate_barcode`."""
    require_perm(request, "catalog.add_item")
    data = payload.model_dump()
    item_id = _services().item_create(
        actor=request.auth,
        record_id=record_id,
        barcode=data["barcode"],
        branch_code=data["branch"],
        item_type_code=data["item_type"],
        call_number=data["call_number"],
        location_code=data["location"],
        status=data["status"],
        price_minor=data["price_minor"],
        public_note=data["public_note"],
        staff_note=data["staff_note"],
    )
    return Status(201, _selectors().item_detail(item_id=_id_of(item_id), staff=True))


@router.patch("/items/{item_id}", auth=staff_auth, response={200: s.ItemStaffOut, **WRITE_ERRORS})
def item_update(request, payload: s.ItemPatch, item_id: int = Id):
    """Change some fields of an item; only the fields sent change."""
    require_perm(request, "catalog.change_item")
    fields = payload.model_dump(exclude_unset=True)
    renames = {"branch": "branch_code", "item_type": "item_type_code", "location": "location_code"}
    fields = {renames.get(k, k): v for k, v in fields.items()}
    for required in ("barcode", "branch_code", "item_type_code", "status"):
        if required in fields and fields[required] is None:
            raise InvalidInput(f"{required} cannot be empty", code="invalid_input")
    _services().item_update(actor=request.auth, item_id=item_id, **fields)
    return _selectors().item_detail(item_id=item_id, staff=True)


@router.delete("/items/{item_id}", auth=staff_auth, response={204: None, **WRITE_ERRORS})
def item_delete(request, item_id: int = Id):
    require_perm(request, "catalog.delete_item")
    _services().item_delete(actor=request.auth, item_id=item_id)
    return Status(204, None)


# --- branches and item types ------------------------------------------------------
@router.get("/branches", response=list[s.BranchOut])
def branch_list(request):
    return _selectors().branch_list()


@router.post("/branches", auth=staff_auth, response={201: s.BranchOut, **WRITE_ERRORS})
def branch_create(request, payload: s.BranchIn):
    require_perm(request, "catalog.add_branch")
    branch = _services().branch_create(actor=request.auth, code=payload.code, name=payload.name)
    return Status(201, _selectors().branch_get(branch_id=_id_of(branch)))


@router.get("/item-types", response=list[s.ItemTypeOut])
def item_type_list(request):
    return _selectors().item_type_list()


@router.post("/item-types", auth=staff_auth, response={201: s.ItemTypeOut, **WRITE_ERRORS})
def item_type_create(request, payload: s.ItemTypeIn):
    require_perm(request, "catalog.add_itemtype")
    item_type = _services().item_type_create(
        actor=request.auth, code=payload.code, name=payload.name, circulates=payload.circulates
    )
    return Status(201, _selectors().item_type_get(item_type_id=_id_of(item_type)))


# --- imports -------------------------------------------------------------------------
@router.post(
    "/imports", auth=staff_auth, response={200: s.ImportSummaryOut, **WRITE_ERRORS, 413: s.ErrorOut}
)
def import_file(request, file: File[UploadedFile], dry_run: bool = False):
    """Import a MARC file (ISO 2709 or MARCXML, multipart field `file`): creates or
    updates records and their items; returns the summary. Records it cannot take are
    listed with their position and reason; the rest still go in."""
    require_perm(request, "catalog.add_bibrecord")
    summary = uploads.import_upload(
        actor=request.auth,
        upload=file,
        dry_run=dry_run,
        max_bytes=settings.QUIETSHELF_MAX_UPLOAD_BYTES,
    )
    return uploads.summary_dict(summary)


def _clean(text: str) -> str:
    """Without control characters (PostgreSQL refuses NUL in text; none belongs in a query)."""
    return _CONTROL.sub(" ", text).strip()


def _id_of(obj) -> int:
    """Services may hand back an id or the object itself."""
    return obj if isinstance(obj, int) else obj.pk
