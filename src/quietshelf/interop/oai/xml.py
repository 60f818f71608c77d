"""OAI-PMH 2.0 responses as text. Every value goes through xml_text (SEC-XSS-1).

Written as strings rather than a tree: a page of 100 MARCXML records is
most of a response, and the catalogue's MARCXML writer already gives text
(PERF-OAI-1). The tests validate every kind of response against the
OAI-PMH, MARC21slim and oai_dc schemas.
"""

from __future__ import annotations

from quietshelf.interop.publicdata import xml_text

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"
MARC_NS = "http://www.loc.gov/MARC21/slim"
IDENTIFIER_NS = "http://www.openarchives.org/OAI/2.0/oai-identifier"

METADATA_FORMATS = {
    "oai_dc": ("http://www.openarchives.org/OAI/2.0/oai_dc.xsd", OAI_DC_NS),
    "marc21": ("http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd", MARC_NS),
}


def envelope(*, response_date: str, base_url: str, request_args: dict | None, body: str) -> str:
    """The OAI-PMH element around a response body; request_args None leaves them out
    (after badVerb and badArgument, as the protocol asks)."""
    attrs = "".join(
        f' {name}="{xml_text(value)}"' for name, value in sorted((request_args or {}).items())
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<OAI-PMH xmlns="{OAI_NS}" xmlns:xsi="{XSI_NS}" '
        f'xsi:schemaLocation="{OAI_NS} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">'
        f"<responseDate>{response_date}</responseDate>"
        f"<request{attrs}>{xml_text(base_url)}</request>"
        f"{body}</OAI-PMH>\n"
    )


def error(code: str, message: str) -> str:
    return f'<error code="{code}">{xml_text(message)}</error>'


def identify(
    *,
    name: str,
    base_url: str,
    admin_email: str,
    earliest: str,
    repository_id: str,
    sample_id: str,
) -> str:
    return (
        "<Identify>"
        f"<repositoryName>{xml_text(name)}</repositoryName>"
        f"<baseURL>{xml_text(base_url)}</baseURL>"
        "<protocolVersion>2.0</protocolVersion>"
        f"<adminEmail>{xml_text(admin_email)}</adminEmail>"
        f"<earliestDatestamp>{earliest}</earliestDatestamp>"
        "<deletedRecord>persistent</deletedRecord>"
        "<granularity>YYYY-MM-DDThh:mm:ssZ</granularity>"
        "<description>"
        f'<oai-identifier xmlns="{IDENTIFIER_NS}" xmlns:xsi="{XSI_NS}" '
        f'xsi:schemaLocation="{IDENTIFIER_NS} '
        'http://www.openarchives.org/OAI/2.0/oai-identifier.xsd">'
        "<scheme>oai</scheme>"
        f"<repositoryIdentifier>{xml_text(repository_id)}</repositoryIdentifier>"
        "<delimiter>:</delimiter>"
        f"<sampleIdentifier>{xml_text(sample_id)}</sampleIdentifier>"
        "</oai-identifier></description>"
        "</Identify>"
    )


def metadata_formats(prefixes: list[str]) -> str:
    parts = ["<ListMetadataFormats>"]
    for prefix in prefixes:
        schema, namespace = METADATA_FORMATS[prefix]
        parts.append(
            f"<metadataFormat><metadataPrefix>{prefix}</metadataPrefix>"
            f"<schema>{schema}</schema><metadataNamespace>{namespace}</metadataNamespace>"
            "</metadataFormat>"
        )
    parts.append("</ListMetadataFormats>")
    return "".join(parts)


def list_sets(sets) -> str:
    parts = ["<ListSets>"]
    for s in sets:
        parts.append(
            f"<set><setSpec>{xml_text(s.spec)}</setSpec><setName>{xml_text(s.name)}</setName></set>"
        )
    parts.append("</ListSets>")
    return "".join(parts)


def header(identifier: str, datestamp: str, sets: list[str], deleted: bool) -> str:
    status = ' status="deleted"' if deleted else ""
    specs = "".join(f"<setSpec>{xml_text(s)}</setSpec>" for s in sets)
    return (
        f"<header{status}><identifier>{xml_text(identifier)}</identifier>"
        f"<datestamp>{datestamp}</datestamp>{specs}</header>"
    )


def oai_dc(elements: list[tuple[str, str]]) -> str:
    body = "".join(f"<dc:{name}>{xml_text(value)}</dc:{name}>" for name, value in elements)
    return (
        f'<oai_dc:dc xmlns:oai_dc="{OAI_DC_NS}" xmlns:dc="{DC_NS}" xmlns:xsi="{XSI_NS}" '
        f'xsi:schemaLocation="{OAI_DC_NS} http://www.openarchives.org/OAI/2.0/oai_dc.xsd">'
        f"{body}</oai_dc:dc>"
    )


def record(header_xml: str, metadata_xml: str | None) -> str:
    if metadata_xml is None:
        return f"<record>{header_xml}</record>"
    return f"<record>{header_xml}<metadata>{metadata_xml}</metadata></record>"


def resumption_token(token: str, *, cursor: int, total: int | None, expires: str | None) -> str:
    attrs = f' cursor="{cursor}"'
    if total is not None:
        attrs += f' completeListSize="{total}"'
    if token and expires:
        attrs += f' expirationDate="{expires}"'
    if not token:
        return f"<resumptionToken{attrs}/>"
    return f"<resumptionToken{attrs}>{xml_text(token)}</resumptionToken>"
