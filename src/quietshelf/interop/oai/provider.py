"""The OAI-PMH provider: one request's arguments in, the response document out.

Errors of the protocol are answers, not exceptions, and go out with HTTP 200
(OAI-PMH 2.0 section 3.6). Only public data leaves (publicdata.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from django.conf import settings
from django.utils import timezone

from quietshelf.catalog.models import MaterialFormat
from quietshelf.interop.oai import repository, xml
from quietshelf.interop.oai.protocol import (
    Harvest,
    OAIError,
    OAIRequest,
    datestamp,
    encode_token,
    parse_request,
    token_expiry,
)
from quietshelf.interop.publicdata import dublin_core, public_marcxml

log = logging.getLogger(__name__)
_EMAIL = re.compile(r"^\S+@(\S+\.)+\S+$")


def repository_id() -> str:
    return settings.QUIETSHELF_OAI_REPOSITORY_ID


def oai_identifier(record_id: int) -> str:
    return f"oai:{repository_id()}:{record_id}"


def record_id_of(identifier: str) -> int | None:
    prefix = f"oai:{repository_id()}:"
    if not identifier.startswith(prefix):
        return None
    rest = identifier[len(prefix) :]
    if not rest.isdigit() or len(rest) > 18:
        return None
    return int(rest)


def admin_email() -> str:
    configured = getattr(settings, "QUIETSHELF_OAI_ADMIN_EMAIL", "")
    for candidate in (configured, settings.DEFAULT_FROM_EMAIL):
        if candidate and _EMAIL.match(candidate):
            return candidate
    return f"library@{repository_id()}"


def respond(pairs: list[tuple[str, str]], *, base_url: str, now: dt.datetime | None = None) -> str:
    """The complete OAI-PMH response document for one request."""
    now = now or timezone.now()
    max_age = settings.QUIETSHELF_OAI_TOKEN_DAYS
    try:
        request = parse_request(pairs, max_age_days=max_age)
    except OAIError as exc:
        # After badVerb and badArgument the request element carries no arguments.
        echo = None
        if exc.code == "badResumptionToken":
            echo = dict(pairs)
        return xml.envelope(
            response_date=datestamp(now),
            base_url=base_url,
            request_args=echo,
            body=xml.error(exc.code, exc.message),
        )
    echo = {"verb": request.verb, **request.arguments}
    try:
        body = _dispatch(request, base_url=base_url, now=now)
    except OAIError as exc:
        body = xml.error(exc.code, exc.message)
    return xml.envelope(
        response_date=datestamp(now), base_url=base_url, request_args=echo, body=body
    )


def _dispatch(request: OAIRequest, *, base_url: str, now: dt.datetime) -> str:
    verb = request.verb
    if verb == "Identify":
        earliest = repository.earliest_datestamp()
        return xml.identify(
            name=settings.QUIETSHELF_OAI_REPOSITORY_NAME,
            base_url=base_url,
            admin_email=admin_email(),
            earliest=datestamp(earliest or now),
            repository_id=repository_id(),
            sample_id=oai_identifier(1),
        )
    if verb == "ListMetadataFormats":
        identifier = request.arguments.get("identifier")
        if identifier is None:
            return xml.metadata_formats(list(xml.METADATA_FORMATS))
        entry = _entry(identifier, columns=(*repository.RECORD_COLUMNS, "marc_json"))
        prefixes = list(xml.METADATA_FORMATS) if entry.deleted else _formats_of(entry)
        if not prefixes:
            raise OAIError("noMetadataFormats", "The record cannot be disseminated.")
        return xml.metadata_formats(prefixes)
    if verb == "ListSets":
        sets = repository.list_sets()
        if not sets:
            raise OAIError("noSetHierarchy", "This repository has no sets.")
        return xml.list_sets(sets)
    if verb == "GetRecord":
        prefix = request.arguments["metadataPrefix"]
        _check_prefix(prefix)
        entry = _entry(
            request.arguments["identifier"], columns=repository.columns_for("GetRecord", prefix)
        )
        metadata = None if entry.deleted else _metadata(entry, prefix)
        if not entry.deleted and metadata is None:
            raise OAIError("cannotDisseminateFormat", f"The record is not available as {prefix}.")
        head = xml.header(
            oai_identifier(entry.record_id), datestamp(entry.datestamp), entry.sets, entry.deleted
        )
        return f"<GetRecord>{xml.record(head, metadata)}</GetRecord>"
    return _list(request.harvest, now=now)


def _check_prefix(prefix: str) -> None:
    if prefix not in xml.METADATA_FORMATS:
        raise OAIError(
            "cannotDisseminateFormat",
            f"Unknown metadata format {prefix[:50]} (use oai_dc or marc21).",
        )


def _entry(identifier: str, *, columns: tuple[str, ...]) -> repository.Entry:
    record_id = record_id_of(identifier)
    entry = repository.get_entry(record_id, columns=columns) if record_id else None
    if entry is None:
        raise OAIError("idDoesNotExist", f"No record has the identifier {identifier[:200]}.")
    return entry


def _formats_of(entry: repository.Entry) -> list[str]:
    return [p for p in xml.METADATA_FORMATS if _metadata(entry, p) is not None]


_FORMAT_LABELS = {str(k): str(v) for k, v in MaterialFormat.choices}


def _metadata(entry: repository.Entry, prefix: str) -> str | None:
    """The record's metadata in a format; None when its stored MARC cannot be written."""
    row = entry.row or {}
    if prefix == "oai_dc":
        return xml.oai_dc(dublin_core(row, format_labels=_FORMAT_LABELS))
    try:
        return public_marcxml(row.get("marc_json") or {})
    except ValueError:
        log.warning("record %s: stored MARC cannot be written as MARCXML", entry.record_id)
        return None


def _list(harvest: Harvest, *, now: dt.datetime) -> str:
    _check_prefix(harvest.prefix)
    if harvest.set_spec and not repository.has_sets():
        raise OAIError("noSetHierarchy", "This repository has no sets.")
    records = harvest.verb == "ListRecords"
    limit = max(1, settings.QUIETSHELF_OAI_PAGE_SIZE)
    columns = repository.columns_for(harvest.verb, harvest.prefix)
    page = repository.list_page(harvest, limit=limit, columns=columns)
    if page is None:
        raise OAIError("noRecordsMatch", f"There is no set {harvest.set_spec[:100]}.")
    entries, more, total = page
    if not entries:
        # Also a resumed harvest whose remaining records all left its date range.
        raise OAIError("noRecordsMatch", "No records match the request.")
    parts = [f"<{harvest.verb}>"]
    for entry in entries:
        head = xml.header(
            oai_identifier(entry.record_id), datestamp(entry.datestamp), entry.sets, entry.deleted
        )
        if not records:
            parts.append(head)
            continue
        metadata = None if entry.deleted else _metadata(entry, harvest.prefix)
        if metadata is None and not entry.deleted:
            continue  # unreadable stored MARC: logged, left out
        parts.append(xml.record(head, metadata))
    if more or harvest.cursor:
        token = ""
        if more:
            token = encode_token(
                Harvest(
                    verb=harvest.verb,
                    prefix=harvest.prefix,
                    set_spec=harvest.set_spec,
                    start=harvest.start,
                    end=harvest.end,
                    after_id=entries[-1].record_id,
                    cursor=harvest.cursor + len(entries),
                    total=total,
                )
            )
        expires = token_expiry(now, settings.QUIETSHELF_OAI_TOKEN_DAYS) if token else None
        parts.append(
            xml.resumption_token(token, cursor=harvest.cursor, total=total, expires=expires)
        )
    if len(parts) == 1 or (len(parts) == 2 and parts[1].startswith("<resumptionToken")):
        raise OAIError("noRecordsMatch", "No records match the request.")
    parts.append(f"</{harvest.verb}>")
    return "".join(parts)
