"""SRU 1.2 and 2.0: explain and searchRetrieve over the public catalogue (INT-3).

One request's parameters in, one response document out. Errors are SRU
diagnostics inside a normal response (HTTP 200), as SRU clients expect;
only the rate limit (views.py) answers 429. Records are the public MARC
(publicdata.py) as MARCXML, or simple Dublin Core.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings

from quietshelf.catalog.models import MaterialFormat
from quietshelf.interop.publicdata import (
    RECORD_COLUMNS,
    dublin_core,
    public_marcxml,
    public_records,
    xml_text,
)
from quietshelf.interop.sru import cql, search
from quietshelf.interop.sru.diagnostics import Diagnostic

SRU12_NS = "http://www.loc.gov/zing/srw/"
DIAG12_NS = "http://www.loc.gov/zing/srw/diagnostic/"
SRU20_NS = "http://docs.oasis-open.org/ns/search-ws/sruResponse"
DIAG20_NS = "http://docs.oasis-open.org/ns/search-ws/diagnostic"
EXPLAIN_NS = "http://explain.z3950.org/dtd/2.0/"
MARCXML_SCHEMA = "info:srw/schema/1/marcxml-v1.1"
DC_SCHEMA = "info:srw/schema/1/dc-v1.1"
SCHEMAS = {
    "marcxml": MARCXML_SCHEMA,
    "marc21": MARCXML_SCHEMA,
    MARCXML_SCHEMA: MARCXML_SCHEMA,
    "info:srw/schema/1/marcxml-v1.2": MARCXML_SCHEMA,
    "http://www.loc.gov/marc21/slim": MARCXML_SCHEMA,
    "dc": DC_SCHEMA,
    DC_SCHEMA: DC_SCHEMA,
    "http://purl.org/dc/elements/1.1/": DC_SCHEMA,
}
DEFAULT_RECORDS = 10
KNOWN = {
    "operation", "version", "query", "queryType", "startRecord", "maximumRecords",
    "recordPacking", "recordXMLEscaping", "recordSchema", "sortKeys", "resultSetTTL",
    "recordXPath", "stylesheet", "extraRequestData", "httpAccept", "responseType",
}  # fmt: skip
SORT_PATHS = {
    "title": "title",
    "dc.title": "title",
    "bath.title": "title",
    "date": "date",
    "dc.date": "date",
}
_FORMAT_LABELS = {str(k): str(v) for k, v in MaterialFormat.choices}


@dataclass
class Answer:
    body: str
    status: int = 200


@dataclass
class _Result:
    total: int = 0
    records: list[str] = field(default_factory=list)  # recordData contents
    schema: str = MARCXML_SCHEMA
    start: int = 1
    next_position: int | None = None
    escaping: str = "xml"
    warnings: list[Diagnostic] = field(default_factory=list)


def respond(pairs: list[tuple[str, str]], *, base_url: str) -> Answer:
    params: dict[str, str] = {}
    repeated = None
    for key, value in pairs:
        if key in params and repeated is None:
            repeated = key
        params.setdefault(key, value)
    version = params.get("version") or ("1.2" if "operation" in params else "2.0")
    if version not in ("1.1", "1.2", "2.0"):
        return Answer(_explain_error(Diagnostic(5, "2.0"), "1.2"))
    v2 = version == "2.0"
    operation = params.get("operation") or ("searchRetrieve" if "query" in params else "explain")
    try:
        if repeated:
            raise Diagnostic(6, repeated, f"The parameter {repeated[:50]} is repeated")
        for key in params:
            if key not in KNOWN and not key.startswith("x-"):
                raise Diagnostic(8, key)
        if operation == "explain":
            return Answer(_explain(version, base_url))
        if operation != "searchRetrieve":
            raise Diagnostic(4, operation)
        result = _search_retrieve(params, v2=v2)
    except Diagnostic as diag:
        if operation == "explain":
            return Answer(_explain_error(diag, version))
        return Answer(_search_response(version, _Result(), [diag]))
    return Answer(_search_response(version, result, result.warnings))


def _int_param(params: dict, name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or len(raw) > 9:
        raise Diagnostic(6, name)
    return int(raw)


def _sort_keys(raw: str) -> list[tuple[str, bool]]:
    """SRU 1.1/1.2 sortKeys: "path,schema,ascending,caseSensitive,missingValue" ..."""
    keys = []
    for spec in raw.split():
        parts = spec.split(",")
        path = SORT_PATHS.get(parts[0].lower())
        if path is None:
            raise Diagnostic(88, parts[0])
        ascending = parts[2] if len(parts) > 2 and parts[2] else "1"
        if ascending not in ("0", "1"):
            raise Diagnostic(6, "sortKeys")
        keys.append((path, ascending == "0"))
    if len(keys) > 3:
        raise Diagnostic(6, "sortKeys", "At most three sort keys")
    return keys


def _search_retrieve(params: dict, *, v2: bool) -> _Result:
    if params.get("recordXPath"):
        raise Diagnostic(72)
    if params.get("stylesheet"):
        raise Diagnostic(110)
    if params.get("queryType", "cql") != "cql":
        raise Diagnostic(6, "queryType")
    query_text = params.get("query")
    if not query_text:
        raise Diagnostic(7, "query")
    schema = SCHEMAS.get((params.get("recordSchema") or "marcxml").lower())
    if schema is None:
        raise Diagnostic(66, params["recordSchema"])
    escaping_param = "recordXMLEscaping" if v2 else "recordPacking"
    escaping = params.get(escaping_param) or "xml"
    if escaping not in ("xml", "string"):
        raise Diagnostic(71, escaping)
    start = _int_param(params, "startRecord", 1)
    if start < 1:
        raise Diagnostic(6, "startRecord")
    wanted = _int_param(params, "maximumRecords", DEFAULT_RECORDS)
    cap = max(1, settings.QUIETSHELF_SRU_MAX_RECORDS)
    warnings = []
    if wanted > cap:
        warnings.append(Diagnostic(6, "maximumRecords", f"maximumRecords is capped at {cap}"))
        wanted = cap
    query = cql.parse(query_text, max_chars=settings.QUIETSHELF_SEARCH_MAX_QUERY_CHARS)
    sort = _sort_keys(params["sortKeys"]) if params.get("sortKeys") else []
    for key in query.sort:
        path = SORT_PATHS.get(key.index)
        if path is None:
            raise Diagnostic(88, key.index)
        sort.append((path, key.descending))
    hits = search.run(query, offset=start - 1, limit=wanted, sort=sort)
    if hits.total and start > hits.total:
        raise Diagnostic(61, str(start))
    if start - 1 > search.MAX_OFFSET:
        raise Diagnostic(61, str(start), f"Records beyond {search.MAX_OFFSET} cannot be paged to")
    records = _records(hits.record_ids, schema)
    next_position = start + len(hits.record_ids)
    return _Result(
        total=hits.total,
        records=records,
        schema=schema,
        start=start,
        next_position=next_position if next_position <= hits.total else None,
        escaping=escaping,
        warnings=warnings,
    )


def _records(record_ids: list[int], schema: str) -> list[str]:
    columns = (*RECORD_COLUMNS, "marc_json") if schema == MARCXML_SCHEMA else RECORD_COLUMNS
    rows = {r["id"]: r for r in public_records().filter(pk__in=record_ids).values(*columns)}
    out = []
    for rid in record_ids:
        row = rows.get(rid)
        if row is None:
            continue  # deleted between the search and this read
        if schema == MARCXML_SCHEMA:
            try:
                out.append(public_marcxml(row["marc_json"]))
            except ValueError:
                out.append(_dc(row))
        else:
            out.append(_dc(row))
    return out


def _dc(row: dict) -> str:
    elements = dublin_core(row, format_labels=_FORMAT_LABELS)
    body = "".join(f"<dc:{n}>{xml_text(v)}</dc:{n}>" for n, v in elements)
    return (
        '<srw_dc:dc xmlns:srw_dc="info:srw/schema/1/dc-schema" '
        f'xmlns:dc="http://purl.org/dc/elements/1.1/">{body}</srw_dc:dc>'
    )


def _diagnostics(diags: list[Diagnostic], v2: bool, prefix: str) -> str:
    if not diags:
        return ""
    ns = DIAG20_NS if v2 else DIAG12_NS
    parts = [f"<{prefix}:diagnostics>"]
    for d in diags:
        details = f"<diag:details>{xml_text(d.details)}</diag:details>" if d.details else ""
        parts.append(
            f'<diag:diagnostic xmlns:diag="{ns}"><diag:uri>{d.uri}</diag:uri>'
            f"{details}<diag:message>{xml_text(d.message)}</diag:message></diag:diagnostic>"
        )
    parts.append(f"</{prefix}:diagnostics>")
    return "".join(parts)


def _search_response(version: str, result: _Result, diags: list[Diagnostic]) -> str:
    v2 = version == "2.0"
    ns = SRU20_NS if v2 else SRU12_NS
    p = "sruResponse" if v2 else "zs"
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<{p}:searchRetrieveResponse xmlns:{p}="{ns}">',
        f"<{p}:version>{version}</{p}:version>",
        f"<{p}:numberOfRecords>{result.total}</{p}:numberOfRecords>",
    ]
    if result.records:
        parts.append(f"<{p}:records>")
        escaping_tag = "recordXMLEscaping" if v2 else "recordPacking"
        for i, data in enumerate(result.records):
            if result.escaping == "string":
                data = xml_text(data)
            parts.append(
                f"<{p}:record><{p}:recordSchema>{result.schema}</{p}:recordSchema>"
                f"<{p}:{escaping_tag}>{result.escaping}</{p}:{escaping_tag}>"
                f"<{p}:recordData>{data}</{p}:recordData>"
                f"<{p}:recordPosition>{result.start + i}</{p}:recordPosition></{p}:record>"
            )
        parts.append(f"</{p}:records>")
    if result.next_position:
        parts.append(f"<{p}:nextRecordPosition>{result.next_position}</{p}:nextRecordPosition>")
    parts.append(_diagnostics(diags, v2, p))
    parts.append(f"</{p}:searchRetrieveResponse>\n")
    return "".join(parts)


def _explain_error(diag: Diagnostic, version: str) -> str:
    v2 = version == "2.0"
    ns = SRU20_NS if v2 else SRU12_NS
    p = "sruResponse" if v2 else "zs"
    shown = version if version in ("1.1", "1.2", "2.0") else "1.2"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<{p}:explainResponse xmlns:{p}="{ns}"><{p}:version>{shown}</{p}:version>'
        f"{_diagnostics([diag], v2, p)}</{p}:explainResponse>\n"
    )


_INDEXES_SHOWN = [
    ("Anywhere", "cql", "anywhere"),
    ("Server's choice (anywhere)", "cql", "serverChoice"),
    ("Title", "dc", "title"),
    ("Creator", "dc", "creator"),
    ("Subject", "dc", "subject"),
    ("Identifier (ISBN, ISSN)", "dc", "identifier"),
    ("ISBN", "bath", "isbn"),
    ("ISSN", "bath", "issn"),
    ("Year of publication", "dc", "date"),
    ("Record id", "rec", "id"),
]


def _explain(version: str, base_url: str) -> str:
    v2 = version == "2.0"
    ns = SRU20_NS if v2 else SRU12_NS
    p = "sruResponse" if v2 else "zs"
    url = urlsplit(base_url)
    port = url.port or (443 if url.scheme == "https" else 80)
    indexes = "".join(
        f"<index><title>{xml_text(title)}</title>"
        f'<map><name set="{cset}">{name}</name></map></index>'
        for title, cset, name in _INDEXES_SHOWN
    )
    escaping_tag = "recordXMLEscaping" if v2 else "recordPacking"
    explain = (
        f'<explain xmlns="{EXPLAIN_NS}">'
        f'<serverInfo protocol="SRU" version="{version}" transport="{xml_text(url.scheme)}">'
        f"<host>{xml_text(url.hostname or '')}</host><port>{port}</port>"
        f"<database>{xml_text(url.path.lstrip('/'))}</database></serverInfo>"
        f"<databaseInfo><title>{xml_text(settings.QUIETSHELF_OAI_REPOSITORY_NAME)}</title>"
        "<description>The public catalogue: bibliographic records only.</description>"
        "</databaseInfo>"
        "<indexInfo>"
        '<set name="cql" identifier="info:srw/cql-context-set/1/cql-v1.2"/>'
        '<set name="dc" identifier="info:srw/cql-context-set/1/dc-v1.1"/>'
        '<set name="bath" identifier="http://zing.z3950.org/cql/bath/2.0/"/>'
        '<set name="rec" identifier="info:srw/cql-context-set/2/rec-1.1"/>'
        f"{indexes}</indexInfo>"
        "<schemaInfo>"
        f'<schema identifier="{MARCXML_SCHEMA}" name="marcxml" sort="true">'
        "<title>MARCXML</title></schema>"
        f'<schema identifier="{DC_SCHEMA}" name="dc" sort="true">'
        "<title>Dublin Core</title></schema>"
        "</schemaInfo>"
        "<configInfo>"
        f'<default type="numberOfRecords">{DEFAULT_RECORDS}</default>'
        f'<setting type="maximumRecords">{settings.QUIETSHELF_SRU_MAX_RECORDS}</setting>'
        '<supports type="relation">=</supports><supports type="relation">==</supports>'
        '<supports type="relation">all</supports><supports type="relation">any</supports>'
        '<supports type="relation">adj</supports><supports type="relation">&lt;</supports>'
        '<supports type="relation">&gt;</supports><supports type="relation">&lt;=</supports>'
        '<supports type="relation">&gt;=</supports>'
        '<supports type="booleanModifier">and</supports>'
        '<supports type="booleanModifier">or</supports>'
        '<supports type="booleanModifier">not</supports>'
        '<supports type="sort">title</supports><supports type="sort">date</supports>'
        "</configInfo></explain>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<{p}:explainResponse xmlns:{p}="{ns}"><{p}:version>{version}</{p}:version>'
        f"<{p}:record><{p}:recordSchema>http://explain.z3950.org/dtd/2.0/</{p}:recordSchema>"
        f"<{p}:{escaping_tag}>xml</{p}:{escaping_tag}>"
        f"<{p}:recordData>{explain}</{p}:recordData></{p}:record>"
        f"</{p}:explainResponse>\n"
    )
