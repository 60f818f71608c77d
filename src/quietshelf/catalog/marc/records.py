"""Conversions between pymarc records, MARC-in-JSON, ISO 2709 and MARCXML.

MARC-in-JSON (the shape of pymarc's ``Record.as_dict``) is what the database
keeps: lossless for the leader, control fields, indicators and subfields, and
free of ISO 2709's 99,999-byte limit.
"""

from __future__ import annotations

from xml.sax.saxutils import escape as _xml_escape
from xml.sax.saxutils import quoteattr as _xml_attr

from pymarc import Field, Indicators, Record, Subfield

MAX_ISO2709_RECORD = 99_999
MAX_ISO2709_FIELD = 9_999
MARCXML_NS = "http://www.loc.gov/MARC21/slim"


class RecordTooLong(ValueError):
    """The record cannot be written as ISO 2709 (record > 99,999 or field > 9,999 bytes)."""


def is_control_tag(tag: str) -> bool:
    return tag < "010" and tag.isdigit()


def record_to_json(record: Record) -> dict:
    """MARC-in-JSON of a pymarc record (leader/09 set to 'a': the text is Unicode)."""
    leader = str(record.leader)
    if len(leader) == 24:
        leader = leader[:9] + "a" + leader[10:]
    fields: list[dict] = []
    for field in record.fields:
        if field.control_field:
            fields.append({field.tag: field.data})
        else:
            fields.append(
                {
                    field.tag: {
                        "ind1": field.indicator1 or " ",
                        "ind2": field.indicator2 or " ",
                        "subfields": [{sf.code: sf.value} for sf in field.subfields],
                    }
                }
            )
    return {"leader": leader, "fields": fields}


def record_from_json(data: dict) -> Record:
    """A pymarc record from MARC-in-JSON; raises ValueError on a malformed document."""
    if not isinstance(data, dict) or not isinstance(data.get("fields", []), list):
        raise ValueError("MARC-in-JSON must be an object with 'leader' and 'fields'")
    record = Record(to_unicode=True, force_utf8=True)
    leader = data.get("leader") or ""
    if not isinstance(leader, str):
        raise ValueError("MARC-in-JSON leader must be a string")
    record.leader = leader.ljust(24)[:24] if leader else record.leader
    for entry in data.get("fields", []):
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ValueError("each MARC-in-JSON field must be an object with one tag")
        ((tag, value),) = entry.items()
        tag = str(tag)
        if len(tag) != 3:
            raise ValueError(f"bad tag {tag!r}")
        if isinstance(value, str):
            record.add_field(Field(tag=tag, data=value))
            continue
        if not isinstance(value, dict):
            raise ValueError(f"field {tag}: expected text or an object")
        subfields = []
        for sf in value.get("subfields", []):
            if not isinstance(sf, dict) or len(sf) != 1:
                raise ValueError(f"field {tag}: malformed subfield")
            ((code, text),) = sf.items()
            subfields.append(Subfield(code=str(code), value="" if text is None else str(text)))
        ind1 = str(value.get("ind1", " ") or " ")[:1]
        ind2 = str(value.get("ind2", " ") or " ")[:1]
        record.add_field(Field(tag=tag, indicators=Indicators(ind1, ind2), subfields=subfields))
    return record


def record_to_iso2709(record: Record) -> bytes:
    """ISO 2709 in UTF-8 (leader/09 'a'); RecordTooLong when it does not fit."""
    parts: list[bytes] = []
    directory: list[bytes] = []
    offset = 0
    for field in record.fields:
        if field.control_field:
            data = field.data.encode("utf-8") + b"\x1e"
        else:
            ind = ((field.indicator1 or " ")[:1] + (field.indicator2 or " ")[:1]).encode("utf-8")
            body = b"".join(
                b"\x1f" + sf.code.encode("utf-8") + sf.value.encode("utf-8")
                for sf in field.subfields
            )
            data = ind + body + b"\x1e"
        if len(data) > MAX_ISO2709_FIELD:
            raise RecordTooLong(f"field {field.tag} is {len(data)} bytes (ISO 2709 allows 9,999)")
        tag = field.tag if len(field.tag) == 3 else field.tag.rjust(3, "0")[:3]
        directory.append(f"{tag}{len(data):04d}{offset:05d}".encode("ascii", "replace"))
        parts.append(data)
        offset += len(data)
    dir_bytes = b"".join(directory) + b"\x1e"
    body = b"".join(parts) + b"\x1d"
    base = 24 + len(dir_bytes)
    length = base + len(body)
    if length > MAX_ISO2709_RECORD or offset > 99_999:
        raise RecordTooLong(f"record is {length} bytes (ISO 2709 allows 99,999)")
    leader = str(record.leader).ljust(24)[:24]
    leader = f"{length:05d}{leader[5:9]}a{leader[10:12]}{base:05d}{leader[17:20]}4500"
    # Leader/10-11 (indicator and subfield-code counts) are always "22" in MARC 21.
    leader = leader[:10] + "22" + leader[12:]
    return leader.encode("ascii", "replace") + dir_bytes + body


def record_to_marcxml(record: Record, *, namespace: bool = False) -> str:
    """One <record> element as text (escaped; characters illegal in XML 1.0 dropped)."""
    ns = f' xmlns="{MARCXML_NS}"' if namespace else ""
    out = [f"<record{ns}>", f"<leader>{_x(xml_leader(str(record.leader)))}</leader>"]
    # MARCXML's schema wants control fields before data fields.
    ordered = [f for f in record.fields if f.control_field]
    ordered += [f for f in record.fields if not f.control_field]
    for field in ordered:
        if field.control_field:
            out.append(f"<controlfield tag={_xml_attr(field.tag)}>{_x(field.data)}</controlfield>")
        else:
            out.append(
                f"<datafield tag={_xml_attr(field.tag)} ind1={_xml_attr(field.indicator1 or ' ')}"
                f" ind2={_xml_attr(field.indicator2 or ' ')}>"
            )
            for sf in field.subfields:
                out.append(f"<subfield code={_xml_attr(_x(sf.code))}>{_x(sf.value)}</subfield>")
            out.append("</datafield>")
    out.append("</record>")
    return "".join(out)


def xml_leader(leader: str) -> str:
    """The leader with its structural positions (lengths, 10-11, 20-23) in MARC 21 form."""
    lead = leader.ljust(24)[:24]
    length = lead[0:5] if lead[0:5].isdigit() else "00000"
    base = lead[12:17] if lead[12:17].isdigit() else "00000"
    return f"{length}{lead[5:9]}{lead[9] if lead[9] in ' a' else 'a'}22{base}{lead[17:20]}4500"


def _x(text: str) -> str:
    return _xml_escape(_strip_xml_illegal(text))


def _strip_xml_illegal(text: str) -> str:
    if text.isprintable() or not any(ord(c) < 0x20 for c in text):
        return text
    return "".join(c for c in text if ord(c) >= 0x20 or c in "\t\n\r")
