"""Items from holdings embedded in bibliographic records (Koha 952, MARC 852/876).

Pure: a pymarc record and a mapping in, a list of ``HoldingItem`` out. The
mapping says which subfield holds what; it can be overridden per import (a
dict, or a JSON file given to ``quietshelf import-marc --holdings-map``).

Items without a barcode get a generated one, ``QS<record id>-<n>``, where n
is the holdings field's ordinal in the record: re-importing the same record
finds the same item again instead of creating a copy.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from pymarc import Record

DEFAULT_HOLDINGS_MAP: dict = {
    # Koha's items field.
    "952": {
        "barcode": "p",
        "call_number": ["o"],
        "branch": ["a", "b"],  # home branch, else holding branch
        "item_type": ["y"],
        "location": ["c"],
        "price": ["g", "v"],  # purchase price, else replacement price
        "public_note": ["z"],
        "staff_note": ["x"],
        # Koha status columns: non-zero means the status.
        "status": {"1": "lost", "0": "withdrawn", "4": "damaged"},
    },
    # MARC holdings (location) field; 876 items linked by $8 or following it.
    "852": {
        "barcode": "p",
        "call_number": ["k", "h", "i", "m"],
        "branch": ["b", "a"],
        "item_type": [],
        "location": ["c"],
        "price": [],
        "public_note": ["z"],
        "staff_note": ["x"],
    },
    "876": {
        "barcode": "p",
        "price": ["c"],
        "public_note": ["z"],
        "staff_note": ["x"],
    },
    "default_branch": "MAIN",
    # Codes in the records -> branch codes of this library ({"MPL": "MAIN"}).
    "branch_map": {},
    # When set, a code that is neither mapped nor an existing branch goes to this
    # branch (and is reported) instead of becoming a new branch.
    "unknown_branch": None,
    # Item type when the field has none: by the record's format, else this.
    "default_item_type": "BOOK",
    "item_type_by_format": {
        "book": "BOOK",
        "serial": "SERIAL",
        "score": "SCORE",
        "music": "MUSIC",
        "audio": "AUDIOBOOK",
        "video": "VIDEO",
        "map": "MAP",
        "computer": "COMPUTER",
        "kit": "KIT",
        "image": "IMAGE",
        "manuscript": "MANUSCRIPT",
        "object": "OBJECT",
    },  # fmt: skip
    # Names for codes; a code not listed becomes its own name.
    "branch_names": {},
    "item_type_names": {},
    "location_names": {},
    # Item types that never circulate (e.g. reference).
    "non_circulating_item_types": ["REF"],
}


@dataclass
class HoldingItem:
    ordinal: int  # 1-based among the record's holdings fields
    barcode: str  # "" when the field had none (generated on save)
    call_number: str
    branch_code: str
    item_type_code: str
    location_code: str | None
    price_minor: int | None
    public_note: str
    staff_note: str
    status: str
    source_tag: str
    branch_source: str = ""  # the code in the record when it was not taken as a branch


# A code that can be a branch code: a letter, then letters, digits or "_" (Koha's
# MPL, a library's MAIN); free text ("Library has 4 copies."), numbers and phrases
# ("digital files not viewed") never become branches.
_BRANCH_CODE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{1,15}")


def plausible_branch_code(code: str) -> bool:
    return bool(_BRANCH_CODE_RE.fullmatch(code or ""))


def map_branch(raw: str, mapping: dict) -> tuple[str, str]:
    """(branch code, the record's code when it was set aside) for a raw holdings value."""
    default = clean_code(mapping.get("unknown_branch") or mapping.get("default_branch") or "")
    default = default or "MAIN"
    code = clean_code(raw)
    if not code:
        return clean_code(mapping.get("default_branch") or "MAIN") or "MAIN", ""
    branch_map = mapping.get("branch_map") or {}
    mapped = branch_map.get(code) or branch_map.get(raw.strip())
    if mapped:
        return clean_code(str(mapped)) or default, ""
    if plausible_branch_code(code):
        return code, ""
    return default, code


def merge_map(override: dict | None) -> dict:
    """The default map with ``override`` applied one level deep."""
    result = copy.deepcopy(DEFAULT_HOLDINGS_MAP)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key].update(value)
        else:
            result[key] = value
    return result


def validate_map(mapping: dict) -> None:
    if not isinstance(mapping, dict):
        raise ValueError("the holdings map must be a JSON object")
    for tag in ("952", "852", "876"):
        part = mapping.get(tag)
        if part is not None and not isinstance(part, dict):
            raise ValueError(f"holdings map: '{tag}' must be an object")


_CODE_RE = re.compile(r"[^A-Za-z0-9_.\-]+")


def clean_code(value: str) -> str:
    value = _CODE_RE.sub("-", value.strip()).strip("-")
    return value[:32]


def parse_price(text: str) -> int | None:
    """'25.00', '199,-', 'NOK 120,50' → minor units; None when there is no number."""
    m = re.search(r"\d+(?:[.,]\d{1,2})?", text.replace(" ", ""))
    if not m:
        return None
    try:
        value = Decimal(m.group().replace(",", "."))
    except InvalidOperation:
        return None
    minor = int((value * 100).to_integral_value())
    return minor if 0 <= minor < 10**12 else None


def _first(field, codes) -> str:
    if isinstance(codes, str):
        codes = [codes]
    for code in codes or []:
        for value in field.get_subfields(code):
            if value.strip():
                return value.strip()
    return ""


def _joined(field, codes) -> str:
    return " ".join(v.strip() for c in codes or [] for v in field.get_subfields(c) if v.strip())


def holdings_items(record: Record, mapping: dict, *, material: str = "book") -> list[HoldingItem]:
    items: list[HoldingItem] = []
    fallback_type = (mapping.get("item_type_by_format") or {}).get(material) or mapping.get(
        "default_item_type", "BOOK"
    )
    ordinal = 0
    fields = record.fields
    for index, field in enumerate(fields):
        if field.control_field or field.tag not in ("952", "852"):
            continue
        ordinal += 1
        spec = mapping.get(field.tag) or {}
        if not spec:
            continue
        branch_code, branch_source = map_branch(_first(field, spec.get("branch")), mapping)
        base = dict(
            call_number=_joined(field, spec.get("call_number"))[:255],
            branch_code=branch_code,
            branch_source=branch_source,
            item_type_code=clean_code(_first(field, spec.get("item_type"))) or fallback_type,
            location_code=clean_code(_first(field, spec.get("location"))) or None,
            price_minor=parse_price(_first(field, spec.get("price"))),
            public_note=_joined(field, spec.get("public_note")),
            staff_note=_joined(field, spec.get("staff_note")),
            status="available",
            source_tag=field.tag,
        )
        for code, status in (spec.get("status") or {}).items():
            value = _first(field, [code])
            if value and value not in ("0", ""):
                base["status"] = status
                break
        barcode = _first(field, spec.get("barcode"))
        if field.tag == "852":
            linked = _items_876(fields, index, field, mapping.get("876") or {})
            if linked:
                for n, (bc, price, pub, staff) in enumerate(linked):
                    item = HoldingItem(ordinal=ordinal * 1000 + n, barcode=bc, **base)
                    if price is not None:
                        item.price_minor = price
                    item.public_note = " ".join(p for p in (item.public_note, pub) if p)
                    item.staff_note = " ".join(p for p in (item.staff_note, staff) if p)
                    items.append(item)
                continue
        items.append(HoldingItem(ordinal=ordinal, barcode=barcode[:64], **base))
    return items


def _items_876(fields, index, field852, spec) -> list[tuple[str, int | None, str, str]]:
    """876 fields for an 852: linked by $8 when present, else those that follow it."""
    link = (field852.get("8") or "").split(".")[0]
    out = []
    candidates = []
    if link:
        candidates = [
            f for f in fields
            if f.tag == "876" and not f.control_field and (f.get("8") or "").split(".")[0] == link
        ]  # fmt: skip
    else:
        for f in fields[index + 1 :]:
            if f.tag == "852":
                break
            if f.tag == "876" and not f.control_field and not f.get("8"):
                candidates.append(f)
    for f in candidates:
        out.append(
            (
                _first(f, spec.get("barcode", "p"))[:64],
                parse_price(_first(f, spec.get("price"))),
                _joined(f, spec.get("public_note")),
                _joined(f, spec.get("staff_note")),
            )
        )
    return out


HOLDINGS_TAGS = frozenset({"952", "852", "876"})
_KEY_SCHEMES = ("001+003", "035", "isbn", "issn")


def record_key(identifiers: list[tuple[str, str]], marc_json: dict) -> str:
    """What a record's generated barcodes derive from: its first identifier (control
    number, 035, ISBN, ISSN), else its bibliographic content (holdings left out).

    Derived from the file, never from database ids, so a killed and re-run
    import gives the same barcodes as a clean one.
    """
    for scheme in _KEY_SCHEMES:
        for s, value in identifiers:
            if s == scheme:
                return f"{scheme}:{value}"
    return "content:" + content_key(marc_json)


def content_key(marc_json: dict) -> str:
    """A digest of the record's MARC without its holdings fields."""
    body = {
        "leader": marc_json.get("leader", ""),
        "fields": [f for f in marc_json.get("fields", []) if next(iter(f)) not in HOLDINGS_TAGS],
    }
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def generated_barcode(key: str, ordinal: int) -> str:
    """QS + 12 base-32 characters of SHA-256 over ``key`` + '-' + the holdings field's ordinal."""
    digest = base64.b32encode(hashlib.sha256(key.encode("utf-8")).digest()).decode("ascii")
    return f"QS{digest[:12]}-{ordinal}"


def legacy_barcode(record_id: int, ordinal: int) -> str:
    """The barcode earlier versions generated (QS<record id>-n): still found on update."""
    return f"QS{record_id}-{ordinal}"
