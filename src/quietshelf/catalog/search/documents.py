"""What goes into the index for one record: weighted text fields and facet values.

The text comes from the columns the MARC import extracts, plus every 880
field (original-script data) read from the full MARC record and filed under
the field it is linked to (880 $6 245-01 → title, 100/700 → author, 6XX →
subject, the rest → other).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from quietshelf.catalog.search.text import fold, tokens

ERA_BEFORE_1900 = "pre1900"
TEXT_FIELDS = ("title", "author", "subject", "ident", "rest")

# Keys of dict-shaped values whose text is worth indexing.
_TEXT_KEYS = ("name", "value", "heading", "term", "title", "text", "display", "label")
_SKIP_880_SUBFIELDS = {"6", "8", "0", "1", "2", "3", "4", "5", "w", "x", "z"}


@dataclass
class IndexDoc:
    record_id: int
    text: dict[str, list[str]] = field(default_factory=dict)  # TEXT_FIELDS -> tokens
    format: str = ""
    language: str = ""
    year: int | None = None
    era: str = ""
    available: bool = False
    sort_title: str = ""
    branches: dict[int, bool] = field(default_factory=dict)  # branch id -> any available


def era_of(year: int | None) -> str:
    if year is None:
        return ""
    if year < 1900:
        return ERA_BEFORE_1900
    return str(year - year % 10)


def _texts(value) -> Iterable[str]:
    """Flatten strings, lists and dicts (as the extracted JSON columns hold)."""
    if value is None:
        return
    if isinstance(value, str):
        if value:
            yield value
    elif isinstance(value, dict):
        picked = False
        for key in _TEXT_KEYS:
            v = value.get(key)
            if isinstance(v, str) and v:
                picked = True
                yield v
        if not picked:
            for v in value.values():
                if isinstance(v, str):
                    yield v
                elif isinstance(v, list):
                    yield from _texts(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _texts(v)


def _identifier_tokens(values) -> list[str]:
    """Valid ISBNs as 13 and 10 digits, valid ISSNs compact; invalid ones are not indexed."""
    from stdnum import isbn as stdisbn

    out: list[str] = []
    for entry in values or []:
        if not isinstance(entry, dict) or not entry.get("valid"):
            continue
        norm = str(entry.get("normalized") or "").replace("-", "").upper()
        if not norm:
            continue
        out.append(norm.lower())
        if len(norm) == 13 and norm.startswith("978"):
            try:
                out.append(stdisbn.to_isbn10(norm).lower())
            except Exception:  # noqa: BLE001,S110 - a 979 ISBN has no 10-digit form
                pass
        elif len(norm) == 10:
            try:
                out.append(stdisbn.to_isbn13(norm).lower())
            except Exception:  # noqa: BLE001,S110
                pass
    return out


def _field_of_880(linked_tag: str) -> str:
    if linked_tag in {"245", "246", "130", "240", "242", "243", "210", "222"}:
        return "title"
    if linked_tag[:1] in {"1", "7"} and linked_tag[1:] in {"00", "10", "11"}:
        return "author"
    if linked_tag.startswith("6"):
        return "subject"
    return "rest"


def original_script_text(marc_json) -> dict[str, list[str]]:
    """The 880 fields of a MARC-in-JSON record, filed by the tag each one links to."""
    out: dict[str, list[str]] = {}
    if not isinstance(marc_json, dict):
        return out
    for entry in marc_json.get("fields") or []:
        if not isinstance(entry, dict) or "880" not in entry:
            continue
        body = entry["880"]
        if not isinstance(body, dict):
            continue
        linked = ""
        parts: list[str] = []
        for sub in body.get("subfields") or []:
            if not isinstance(sub, dict):
                continue
            for code, value in sub.items():
                if code == "6" and isinstance(value, str):
                    linked = value[:3]
                elif code not in _SKIP_880_SUBFIELDS and isinstance(value, str):
                    parts.append(value)
        if parts:
            out.setdefault(_field_of_880(linked), []).extend(parts)
    return out


def build_doc(row: dict, items: list[tuple[int, str]]) -> IndexDoc:
    """row: BibRecord values; items: (branch_id, status) of its items."""
    extra = original_script_text(row.get("marc_json"))
    title = [row.get("title") or "", row.get("subtitle") or "", *extra.get("title", [])]
    author = [
        *(
            c.get("name", "") if isinstance(c, dict) else str(c)
            for c in row.get("contributors") or []
        ),
        row.get("responsibility") or "",
        *extra.get("author", []),
    ]
    subject = [*_texts(row.get("subjects")), *extra.get("subject", [])]
    ident = _identifier_tokens(row.get("isbns")) + _identifier_tokens(row.get("issns"))
    if row.get("control_number"):
        ident.append(row["control_number"])
    rest = [
        *_texts(row.get("series")),
        *_texts(row.get("notes")),
        row.get("publisher") or "",
        row.get("edition") or "",
        *extra.get("rest", []),
    ]
    text = {
        "title": tokens(" ".join(title)),
        "author": tokens(" ".join(author)),
        "subject": tokens(" ".join(subject)),
        "ident": tokens(" ".join(ident)),
        "rest": tokens(" ".join(rest)),
    }
    branches: dict[int, bool] = {}
    for branch_id, status in items:
        branches[branch_id] = branches.get(branch_id, False) or status == "available"
    year = row.get("year")
    sort_title = row.get("sort_title") or row.get("title") or ""
    return IndexDoc(
        record_id=row["id"],
        text=text,
        format=row.get("format") or "",
        language=(row.get("language") or "")[:3],
        year=year,
        era=era_of(year),
        available=any(branches.values()),
        sort_title=fold(sort_title)[:200],
        branches=branches,
    )
