"""MARC arriving over HTTP: one record in a request body, or a file upload.

Used by the API and the staff upload page alike. Uploads are size-checked
against QUIETSHELF_MAX_UPLOAD_BYTES and type-checked by their first bytes
before anything is parsed; MARCXML goes through the catalogue's safe reader
(no DOCTYPE, no entities: SEC-UP-1). Nothing uploaded is stored as a file.
"""

from __future__ import annotations

import io
import json
from itertools import islice

import pydantic
from django.core.files.uploadhandler import FileUploadHandler
from ninja.errors import ValidationError

from quietshelf.core.errors import InvalidInput

MARC_CONTENT_TYPES = {
    "application/marc": "iso2709",
    "application/octet-stream": "iso2709",
    "application/marcxml+xml": "marcxml",
    "application/xml": "marcxml",
    "text/xml": "marcxml",
}


class NotMarc(InvalidInput):
    code = "not_marc"


class BadMarc(InvalidInput):
    code = "bad_marc"


class UploadTooLarge(InvalidInput):
    code = "too_large"
    status_hint = 413


def _json_body(request):
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("The request body is not valid JSON.", code="bad_request") from None


def _is_json(request) -> bool:
    return request.content_type in {"application/json", "text/json"}


def core_fields_from_request(request, fmt):
    """The core-field edit in a JSON body (a RecordCoreIn), or None when the body is MARC."""
    from quietshelf.catalog.schemas import RecordCoreIn

    if fmt or not _is_json(request):
        return None
    data = _json_body(request)
    if isinstance(data, dict) and "marcxml" in data:
        return None
    if not isinstance(data, dict):
        raise ValidationError(
            [{"loc": ["body"], "msg": "expected a JSON object", "type": "dict_type"}]
        )
    try:
        return RecordCoreIn.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ValidationError(
            [
                {"loc": ["body", *err["loc"]], "msg": err["msg"], "type": err["type"]}
                for err in exc.errors(include_url=False)
            ]
        ) from None


class UnsupportedMediaType(InvalidInput):
    code = "unsupported_media_type"
    status_hint = 415


FORM_TYPES = {"multipart/form-data", "application/x-www-form-urlencoded"}


def _body_and_format(request, fmt) -> tuple[bytes, str]:
    if request.content_type in FORM_TYPES:
        raise UnsupportedMediaType(
            "Send the MARC record itself as the request body (application/marc, "
            "application/marcxml+xml, or JSON with 'marcxml'); upload files to POST /imports."
        )
    if _is_json(request) and not fmt:
        data = _json_body(request)
        marcxml = data.get("marcxml") if isinstance(data, dict) else None
        if not isinstance(marcxml, str) or not marcxml.strip():
            raise ValidationError(
                [
                    {
                        "loc": ["body", "marcxml"],
                        "msg": "a MARCXML string is required",
                        "type": "missing",
                    }
                ]
            )
        return marcxml.encode("utf-8", "replace"), "marcxml"
    return request.body, fmt or MARC_CONTENT_TYPES.get(request.content_type, "auto")


def record_from_request(request, fmt):
    """The one pymarc record in the request body; BadMarc/NotMarc (400) otherwise."""
    from quietshelf.catalog.marc import reader

    body, fmt = _body_and_format(request, fmt)
    if not body.strip():
        raise BadMarc("The request body is empty: send one MARC record.")
    try:
        results = list(islice(reader.read_marc(io.BytesIO(body), format=fmt), 2))
    except reader.NotMarc as exc:
        raise NotMarc(f"Not a MARC record: {exc}.") from None
    except (ValueError, UnicodeError) as exc:
        raise BadMarc(f"The MARC record could not be read: {exc}") from None
    if not results:
        raise BadMarc("No MARC record found in the request body.")
    if len(results) > 1:
        raise BadMarc("Send one record per request; to load a file of records use POST /imports.")
    result = results[0]
    if not result.ok:
        raise BadMarc(f"The MARC record could not be read: {result.error}")
    return result.record


def check_upload(upload, *, max_bytes: int) -> str:
    """Size and type of an uploaded MARC file; returns 'iso2709' or 'marcxml'."""
    from quietshelf.catalog.marc import reader

    if upload.size is not None and upload.size > max_bytes:
        raise UploadTooLarge(
            f"The file is {upload.size:,} bytes; the limit is {max_bytes:,} bytes."
        )
    upload.seek(0)
    head = upload.read(4096)
    upload.seek(0)
    if not head:
        raise NotMarc("The file is empty.")
    kind = reader.sniff_format(head)
    if kind == "unknown":
        raise NotMarc("This is not a MARC file: expected ISO 2709 (.mrc) or MARCXML.")
    return kind


def import_upload(*, actor, upload, max_bytes: int, dry_run: bool = False):
    """Check an uploaded file and import it; returns the service's ImportSummary."""
    from quietshelf.catalog import services

    check_upload(upload, max_bytes=max_bytes)
    name = (upload.name or "upload")[-100:]
    return services.import_marc(actor=actor, sources=[(name, upload)], dry_run=dry_run)


MAX_REPORTED = 1000


def _problem(p) -> dict:
    return {"source": p.source, "position": p.position, "offset": p.offset, "reason": p.reason}


def summary_dict(summary) -> dict:
    """An ImportSummary as JSON-ready data (problem lists capped at MAX_REPORTED)."""
    return {
        "created": summary.created,
        "updated": summary.updated,
        "items": summary.items,
        "skipped": summary.skipped,
        "records_read": summary.records_read,
        "dry_run": summary.dry_run,
        "errors": [_problem(p) for p in summary.errors[:MAX_REPORTED]],
        "errors_total": len(summary.errors),
        "warnings": [_problem(p) for p in summary.warnings[:MAX_REPORTED]],
        "warnings_total": len(summary.warnings),
    }


class SizeLimitedUploadHandler(FileUploadHandler):
    """Refuses an upload once it passes max_bytes, while it streams in.

    Put first in request.upload_handlers before the body is read: a huge
    upload is stopped at the limit instead of filling the temporary folder.
    """

    def __init__(self, request=None, *, max_bytes: int):
        super().__init__(request)
        self.max_bytes = max_bytes
        self.received = 0

    def _too_large(self) -> UploadTooLarge:
        return UploadTooLarge(f"The upload is larger than the limit of {self.max_bytes:,} bytes.")

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        # Leave room for the multipart envelope and the other form fields.
        if content_length and content_length > self.max_bytes + 64 * 1024:
            raise self._too_large()
        return None

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            raise self._too_large()
        return raw_data

    def file_complete(self, file_size):
        return None


def limit_uploads(request, *, max_bytes: int) -> None:
    """Install the size cap on this request (before anything reads its body)."""
    if request.method in {"POST", "PUT", "PATCH"} and (request.content_type or "").startswith(
        "multipart/"
    ):
        request.upload_handlers.insert(0, SizeLimitedUploadHandler(request, max_bytes=max_bytes))
