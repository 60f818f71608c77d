"""Extraction of the BibRecord columns (and identifiers) from a pymarc record.

Pure functions: a pymarc Record in, plain values out. The columns are always
rebuilt from the MARC, so the MARC stays the one source of truth.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from pymarc import Record
from stdnum import isbn as std_isbn
from stdnum import issn as std_issn
from stdnum.exceptions import ValidationError

# Trailing ISBD punctuation: " /", " :", " ;", " =", ",", and a full stop.
_TRAILING = re.compile(r"[\s/:;=,]+$")
_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_ISBN_CANDIDATE = re.compile(r"[0-9][0-9Xx\- ]{8,16}[0-9Xx]")
_ISSN_CANDIDATE = re.compile(r"\d{4}-?\d{3}[\dXx]")
_SAFE_URL = re.compile(r"^(https?|ftp)://", re.IGNORECASE)

ROLE_BY_RELATOR = {
    "aut": "author", "edt": "editor", "ill": "illustrator", "trl": "translator",
    "cmp": "composer", "prf": "performer", "cnd": "conductor", "nrt": "narrator",
    "pht": "photographer", "ctb": "contributor", "drt": "director", "lyr": "lyricist",
    "arr": "arranger", "voc": "vocalist", "itr": "instrumentalist", "pbl": "publisher",
    "aui": "author of introduction", "com": "compiler", "art": "artist", "sng": "singer",
}  # fmt: skip

SUBJECT_TAGS = {"600", "610", "611", "630", "647", "648", "650", "651", "653", "654", "655",
                "656", "657", "658", "662", "690", "691", "692", "693", "694", "695", "696",
                "697", "698", "699"}  # fmt: skip
CONTRIBUTOR_TAGS = {"100", "110", "111", "700", "710", "711", "720"}
SERIES_TAGS = {"440", "490", "800", "810", "811", "830"}
_NAME_CODES = {
    "100": "abcdq", "700": "abcdq", "110": "abcdn", "710": "abcdn", "111": "acdenq",
    "711": "acdenq", "720": "a",
}  # fmt: skip
_SUBDIVISION_CODES = set("vxyz")


@dataclass
class Extracted:
    """The BibRecord column values plus identifiers for matching."""

    columns: dict = field(default_factory=dict)
    identifiers: list[tuple[str, str]] = field(default_factory=list)  # (scheme, value)
    is_bibliographic: bool = True


_ABBREVIATIONS = {
    "ed", "eds", "utg", "jr", "sr", "co", "inc", "ltd", "etc", "vol", "no", "nr", "bd", "hft",
    "publ", "dept", "st", "dr", "mr", "mrs", "ms", "prof", "rev", "corp", "al", "ca", "pbk",
}  # fmt: skip


def trim(text: str) -> str:
    """Trim ISBD punctuation and spaces at the end (keep an abbreviation's or initial's stop)."""
    text = _TRAILING.sub("", " ".join(text.split()))
    if text.endswith(".") and not text.endswith(".."):
        last = text[:-1].rsplit(" ", 1)[-1].rsplit(".", 1)[-1].strip("([")
        if not (len(last) == 1 and last.isalpha()) and last.lower() not in _ABBREVIATIONS:
            text = text[:-1]
    return _TRAILING.sub("", text).strip()


def _join(field, codes: str, sep: str = " ") -> str:
    return sep.join(
        sf.value.strip() for sf in field.subfields if sf.code in codes and sf.value.strip()
    )


def sort_key(title: str, nonfiling: int = 0) -> str:
    text = title[nonfiling:] if 0 < nonfiling < len(title) else title
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"^[\W_]+", "", text)
    return " ".join(text.split())[:255]


def normalize_isbn(raw: str) -> tuple[str, str, bool, str]:
    """(value as given, ISBN-13 or '', valid, qualifier) for a 020 $a/$z text."""
    value = raw.strip()
    qualifier = ""
    m = re.search(r"\((.*?)\)", value)
    if m:
        qualifier = m.group(1).strip()
    candidate = _ISBN_CANDIDATE.search(value)
    number = candidate.group().strip() if candidate else value.split(" ")[0]
    if not qualifier and candidate:
        qualifier = trim(value[candidate.end() :].strip(" :;()"))
    try:
        compact = std_isbn.validate(number)
        return value, std_isbn.to_isbn13(compact), True, qualifier
    except (ValidationError, ValueError):
        return value, "", False, qualifier


def normalize_issn(raw: str) -> tuple[str, str, bool]:
    value = raw.strip()
    candidate = _ISSN_CANDIDATE.search(value)
    number = candidate.group() if candidate else value
    try:
        return value, std_issn.format(std_issn.validate(number)), True
    except (ValidationError, ValueError):
        return value, "", False


def normalize_035(value: str) -> str:
    value = "".join(value.split())
    m = re.match(r"^\((OCoLC)\)(?:ocm|ocn|on)?0*(\d+)$", value, re.IGNORECASE)
    if m:
        return f"(OCoLC){m.group(2)}"
    return value[:255]


def control_key(number: str, source: str) -> str:
    return f"({source.strip()}){number.strip()}"[:255]


MATERIAL_BY_TYPE = {
    "a": "book", "t": "book", "c": "score", "d": "score", "e": "map", "f": "map",
    "g": "video", "i": "audio", "j": "music", "k": "image", "m": "computer", "o": "kit",
    "p": "other", "r": "object",
}  # fmt: skip


def material_format(leader: str, f008: str) -> str:
    rtype = leader[6:7]
    level = leader[7:8]
    if rtype in ("a", "t"):
        if rtype == "a" and level in ("b", "i", "s"):
            return "serial"
        if rtype == "t":
            return "manuscript"
        return "book"
    if rtype == "g" and len(f008) > 33 and f008[33] in ("s", "t"):
        return "image"  # slides, transparencies
    return MATERIAL_BY_TYPE.get(rtype, "other")


# Notes kept for the public record: 59X are local (often a library's own
# codes, such as "1"), and 541 (acquisition source), 561 (ownership history)
# and 583 (action) with first indicator 0 are marked private by the cataloguer.
_PRIVATE_WHEN_IND1_0 = frozenset({"541", "561", "583"})


def _public_note(tag: str, indicator1: str | None) -> bool:
    """Is this 5XX note for the public (not a local 59X, not marked private)?"""
    if tag.startswith("59"):
        return False
    return not (tag in _PRIVATE_WHEN_IND1_0 and (indicator1 or "").strip() == "0")


_UNIMARC_100 = re.compile(r"^\d{8}[a-kux]")


def looks_unimarc(record: Record) -> bool:
    """A UNIMARC record (title in 200, coded data in 100 $a), not MARC 21?

    MARC 21 has no 200 field and its 100 is a personal name; UNIMARC has no
    245. Two signals beside the 200 title are needed, not one.
    """
    if record.get_fields("245"):
        return False
    f200 = [f for f in record.get_fields("200") if not f.control_field and f.get_subfields("a")]
    if not f200:
        return False
    coded = any(
        _UNIMARC_100.match(v)
        for f in record.get_fields("100")
        if not f.control_field
        for v in f.get_subfields("a")
    )
    leader = str(record.leader).ljust(24)
    return coded or leader[20:24] == "450 " or bool(record.get_fields("210", "214"))


def extract(record: Record) -> Extracted:
    out = Extracted()
    leader = str(record.leader).ljust(24)[:24]
    out.is_bibliographic = leader[6] not in ("z", "q", "u", "v", "x", "y")
    cols: dict = {"leader": leader}

    fields_by_tag: dict[str, list] = {}
    for f in record.fields:
        fields_by_tag.setdefault(f.tag, []).append(f)

    def first(tag):
        lst = fields_by_tag.get(tag)
        return lst[0] if lst else None

    f001, f003, f008 = first("001"), first("003"), first("008")
    number = (f001.data if f001 and f001.control_field else "").strip()
    source = (f003.data if f003 and f003.control_field else "").strip()
    data008 = f008.data if f008 and f008.control_field else ""
    cols["control_number"] = number[:64]
    cols["control_source"] = source[:64]

    # Title (245)
    f245 = first("245")
    title = subtitle = responsibility = ""
    nonfiling = 0
    if f245 is not None and not f245.control_field:
        title = trim(_join(f245, "anp"))
        subtitle = trim(_join(f245, "b"))
        responsibility = trim(_join(f245, "c"))
        if f245.indicator2 and f245.indicator2.isdigit():
            nonfiling = int(f245.indicator2)
    if not title:
        for tag in ("130", "240", "246", "210"):
            f = first(tag)
            if f is not None and not f.control_field:
                title = trim(_join(f, "anp"))
                if title:
                    break
    cols["title"] = title
    cols["subtitle"] = subtitle
    cols["responsibility"] = responsibility
    cols["sort_title"] = sort_key(title, nonfiling)

    contributors: list[dict] = []
    subjects: list[str] = []
    notes: list[str] = []
    series: list[str] = []
    links: list[dict] = []
    isbns: list[dict] = []
    issns: list[dict] = []
    identifiers: list[tuple[str, str]] = []
    publisher = place = edition = ""
    pub_year = ""
    lang041 = ""

    if number:
        identifiers.append(("001+003", control_key(number, source)))

    for f in record.fields:
        tag = f.tag
        if f.control_field:
            continue
        if tag == "880":
            # Original-script text: the search index reads it from marc_json
            # (catalog/search/documents.py), so it is not copied into columns.
            continue
        if tag in CONTRIBUTOR_TAGS:
            name = trim(_join(f, _NAME_CODES.get(tag, "a")))
            if name:
                contributors.append({"name": name, "role": _role(f, tag), "tag": tag})
        elif tag in SUBJECT_TAGS:
            subject = _subject(f)
            if subject and subject not in subjects:
                subjects.append(subject)
        elif tag == "020":
            for code in ("a", "z"):
                for raw in f.get_subfields(code):
                    value, norm, valid, qualifier = normalize_isbn(raw)
                    if not value:
                        continue
                    qualifier = qualifier or trim(" ".join(f.get_subfields("q")))
                    if code == "z":
                        valid, norm = False, ""
                        qualifier = qualifier or "cancelled/invalid"
                    isbns.append(
                        {"value": value, "normalized": norm, "valid": valid, "qualifier": qualifier}
                    )
                    if valid and ("isbn", norm) not in identifiers:
                        identifiers.append(("isbn", norm))
        elif tag == "022":
            for code in ("a", "y", "z"):
                for raw in f.get_subfields(code):
                    value, norm, valid = normalize_issn(raw)
                    if not value:
                        continue
                    if code != "a":
                        valid, norm = False, ""
                    issns.append(
                        {"value": value, "normalized": norm, "valid": valid, "qualifier": ""}
                    )
                    if valid and ("issn", norm) not in identifiers:
                        identifiers.append(("issn", norm))
        elif tag == "035":
            for raw in f.get_subfields("a"):
                key = normalize_035(raw)
                if key and ("035", key) not in identifiers:
                    identifiers.append(("035", key))
        elif tag == "041" and not lang041:
            codes = f.get_subfields("a")
            if codes:
                lang041 = codes[0].strip()[:3].lower()
        elif tag in ("260", "264"):
            if tag == "264" and f.indicator2 not in ("1", " "):
                continue
            if not publisher or (tag == "264" and f.indicator2 == "1" and not pub_year):
                publisher = (
                    trim(" ; ".join(trim(v) for v in f.get_subfields("b") if trim(v))) or publisher
                )
                place = trim(" ; ".join(trim(v) for v in f.get_subfields("a") if trim(v))) or place
                dates = " ".join(f.get_subfields("c"))
                m = _YEAR.search(dates)
                if m and not pub_year:
                    pub_year = m.group(1)
        elif tag == "250" and not edition:
            edition = trim(_join(f, "ab"))
        elif tag in SERIES_TAGS:
            text = trim(_join(f, "atnpv" if tag != "490" else "av", " "))
            if text and text not in series:
                series.append(text)
        elif tag.startswith("5") and tag.isdigit():
            if not _public_note(tag, f.indicator1):
                continue
            text = " ".join(
                sf.value.strip() for sf in f.subfields if sf.code.isalpha() and sf.value.strip()
            )
            if text:
                notes.append(text)
        elif tag == "856":
            text = trim(" ".join(f.get_subfields("y", "3", "z")))
            for url in f.get_subfields("u"):
                url = url.strip()
                if _SAFE_URL.match(url):
                    links.append({"url": url[:2000], "text": text or url[:200]})

    year = None
    if len(data008) >= 11 and data008[7:11].isdigit():
        year = int(data008[7:11])
        if year == 0 or year > 2999:
            year = None
    if year is None and pub_year:
        year = int(pub_year)
    language = ""
    if len(data008) >= 38:
        code = data008[35:38].lower()
        if code.isalpha() and code.isascii():
            language = code
    if not language and lang041.isalpha() and lang041.isascii() and len(lang041) == 3:
        language = lang041

    cols.update(
        contributors=contributors,
        subjects=subjects,
        isbns=isbns,
        issns=issns,
        publisher=publisher,
        publication_place=place,
        year=year,
        language=language,
        format=material_format(leader, data008),
        edition=edition,
        series=series,
        notes=notes,
        links=links,
    )
    out.columns = cols
    out.identifiers = identifiers
    return out


def _role(f, tag: str) -> str:
    roles = [trim(v) for v in f.get_subfields("e" if tag[1:] != "11" else "j") if trim(v)]
    if not roles:
        roles = [
            ROLE_BY_RELATOR.get(v.strip().lower(), v.strip())
            for v in f.get_subfields("4")
            if v.strip()
        ]
    if not roles and tag.startswith("1"):
        roles = ["author"]
    return ", ".join(roles)[:100]


def _subject(f) -> str:
    parts: list[str] = []
    head: list[str] = []
    for sf in f.subfields:
        if not sf.code.isalpha() or not sf.value.strip():
            continue
        if sf.code in _SUBDIVISION_CODES:
            parts.append(trim(sf.value))
        else:
            head.append(sf.value.strip())
    main = trim(" ".join(head))
    return " -- ".join([p for p in [main, *parts] if p])
