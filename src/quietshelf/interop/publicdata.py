"""What may leave through OAI-PMH and SRU: the public record, nothing more (PRV-PUB-1).

The rule is the public catalogue's: every record the OPAC shows is public
(the catalogue has no suppression flag yet; when it gets one, public_records()
is the one place to apply it). From the stored MARC we drop what describes
the library's own copies and business rather than the work: local 9XX
fields (Koha's 952 carries barcodes, prices, due dates and checkout
counts), local notes (59X), item information (876-878), acquisition and
action notes (541, 561, 583, which can name donors and staff) and the
non-public note of 852 ($x). Circulation state is never exported.
"""

from __future__ import annotations

import re

from django.db.models import QuerySet

from quietshelf.catalog.marc import json_to_marcxml
from quietshelf.catalog.models import BibRecord

PRIVATE_TAGS = frozenset({"541", "561", "583", "876", "877", "878"})
PRIVATE_SUBFIELDS = {"852": frozenset({"x"})}
# XML 1.0 cannot carry most C0 controls even as character references.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Columns the OAI-PMH and SRU responses read (never the whole row).
RECORD_COLUMNS = (
    "id",
    "title",
    "subtitle",
    "contributors",
    "subjects",
    "isbns",
    "issns",
    "publisher",
    "year",
    "language",
    "format",
    "notes",
    "updated_at",
)


def public_records() -> QuerySet[BibRecord]:
    """Every record the public catalogue shows."""
    return BibRecord.objects.all()


def _is_private(tag: str) -> bool:
    return tag in PRIVATE_TAGS or tag.startswith("9") or tag.startswith("59")


def public_marc_json(marc_json: dict) -> dict:
    """The MARC-in-JSON without local and non-public fields and subfields."""
    fields = []
    for entry in marc_json.get("fields") or []:
        if not isinstance(entry, dict) or len(entry) != 1:
            fields.append(entry)  # malformed: record_from_json reports it
            continue
        ((tag, body),) = entry.items()
        if _is_private(str(tag)):
            continue
        drop = PRIVATE_SUBFIELDS.get(str(tag))
        if drop and isinstance(body, dict):
            subfields = [
                sf
                for sf in body.get("subfields") or []
                if not (isinstance(sf, dict) and set(sf) & drop)
            ]
            entry = {tag: {**body, "subfields": subfields}}
        fields.append(entry)
    return {"leader": marc_json.get("leader") or "", "fields": fields}


def public_marcxml(marc_json: dict) -> str:
    """One MARCXML <record xmlns="http://www.loc.gov/MARC21/slim"> of the public MARC.

    Raises ValueError when the stored MARC is malformed.
    """
    return json_to_marcxml(public_marc_json(marc_json), namespace=True)


def xml_text(value) -> str:
    """Text escaped for XML element content and attribute values."""
    text = _XML_ILLEGAL.sub("", str(value))
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _strings(value) -> list[str]:
    out: list[str] = []
    for entry in value or []:
        if isinstance(entry, dict):
            text = str(entry.get("name") or entry.get("value") or "")
        else:
            text = str(entry)
        text = " ".join(text.split())
        if text and text not in out:
            out.append(text)
    return out


def dublin_core(row: dict, *, format_labels: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """Simple Dublin Core elements of a record, as (element, value) pairs in DC order.

    ``row`` holds the RECORD_COLUMNS. Only the public descriptive columns are
    used; nothing about copies.
    """
    out: list[tuple[str, str]] = []
    title = " ".join(str(row.get("title") or "").split())
    subtitle = " ".join(str(row.get("subtitle") or "").split())
    if title:
        out.append(("title", f"{title} : {subtitle}" if subtitle else title))
    for c in row.get("contributors") or []:
        if not isinstance(c, dict) or not c.get("name"):
            continue
        tag = str(c.get("tag") or "")
        element = "creator" if tag.startswith("1") else "contributor"
        out.append((element, " ".join(str(c["name"]).split())))
    out.extend(("subject", s) for s in _strings(row.get("subjects")))
    out.extend(("description", s) for s in _strings(row.get("notes"))[:10])
    if row.get("publisher"):
        out.append(("publisher", " ".join(str(row["publisher"]).split())))
    if row.get("year"):
        out.append(("date", str(row["year"])))
    fmt = row.get("format") or ""
    if fmt:
        out.append(("type", (format_labels or {}).get(fmt, fmt)))
    for scheme, key in (("isbn", "isbns"), ("issn", "issns")):
        for ident in row.get(key) or []:
            if isinstance(ident, dict) and ident.get("valid") and ident.get("normalized"):
                out.append(("identifier", f"urn:{scheme}:{ident['normalized']}"))
    if row.get("language"):
        out.append(("language", str(row["language"])))
    return out
