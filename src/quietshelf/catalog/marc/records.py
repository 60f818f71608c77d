"""Conversions between pymarc records, MARC-in-JSON, ISO 2709 and MARCXML.

MARC-in-JSON (the shape of pymarc's ``Record.as_dict``) is what the database
keeps: lossless for the leader, control fields, indicators and subfields, and
free of ISO 2709's 99,999-byte limit.
"""

from __future__ import annotations

import re
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


# MARC21slim.xsd's patterns (ASCII only: peers' readers expect it).
_XSD_CONTROL_TAG = re.compile(r"00[1-9A-Za-z]\Z")
_XSD_DATA_TAG = re.compile(
    r"(0[1-9A-Z][0-9A-Z]|0[1-9a-z][0-9a-z]|[1-9A-Z][0-9A-Z]{2}|[1-9a-z][0-9a-z]{2})\Z"
)
_XSD_INDICATOR = frozenset("0123456789abcdefghijklmnopqrstuvwxyz ")
SUBFIELD_CODES = frozenset(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!\"#$%&'()*+,-./:;<=>?{}_^`~[]\\"
)
# Characters XML 1.0 cannot hold (C0 controls but tab, LF, CR; surrogates; U+FFFE/F).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_LEADER_ALNUM = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def strip_xml_illegal(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold."""
    return _XML_ILLEGAL.sub("", text)


def marcxml_leader(leader: str) -> tuple[str, list[str]]:
    """The leader as MARC21slim.xsd accepts it, and the repairs that took.

    Structural positions (lengths, 10-11, 20-23) are written in MARC 21 form
    without comment; a position the schema refuses becomes a blank (leader/06,
    the type of record, which may not be blank, becomes 'a').
    """
    lead = strip_xml_illegal(leader).ljust(24)[:24]
    repairs: list[str] = []
    length = lead[0:5] if lead[0:5].isascii() and lead[0:5].isdigit() else "00000"
    base = lead[12:17] if lead[12:17].isascii() and lead[12:17].isdigit() else "00000"
    out = list(f"{length}{lead[5:9]}{lead[9] if lead[9] in ' a' else 'a'}22{base}{lead[17:20]}4500")
    for pos in (5, 7, 8, 17, 18, 19):
        if out[pos] != " " and out[pos] not in _LEADER_ALNUM:
            repairs.append(f"leader/{pos:02d} {out[pos]!r} written as blank")
            out[pos] = " "
    if out[6] not in _LEADER_ALNUM:
        repairs.append(f"leader/06 {out[6]!r} written as 'a' (the schema needs a record type)")
        out[6] = "a"
    return "".join(out), repairs


def marcxml_repairs(record: Record) -> list[str]:
    """What ``record_to_marcxml`` has to repair in ``record`` (empty when nothing).

    Walks the same repairs without building the XML (the importer asks this of
    every record).
    """
    repairs: list[str] = list(marcxml_leader(str(record.leader))[1])
    if not repairs and _needs_no_repair(record):
        return repairs
    for _part in _valid_fields(record, repairs.append):
        pass
    return repairs


_GOOD_TAGS: set[str] = set()  # tags already seen to match the schema's pattern


def _needs_no_repair(record: Record) -> bool:
    """A quick yes for the common record (no repair to make); no means "look closer"."""
    good_tags = _GOOD_TAGS
    indicators, codes = _XSD_INDICATOR, SUBFIELD_CODES
    for field in record.fields:
        tag = field.tag
        if tag not in good_tags:
            pattern = _XSD_CONTROL_TAG if field.control_field else _XSD_DATA_TAG
            if not pattern.match(tag):
                return False
            if len(good_tags) < 10_000:
                good_tags.add(tag)
        if field.control_field:
            if field.data and not field.data.isprintable():
                return False
            continue
        subfields = field.subfields
        if not subfields or field.indicator1 not in indicators:
            return False
        if field.indicator2 not in indicators:
            return False
        for sf in subfields:
            if sf.code not in codes or not sf.value.isprintable():
                return False
    return True


def json_to_marcxml(data: dict, *, namespace: bool = False) -> str:
    """``record_to_marcxml(record_from_json(data))`` without building pymarc objects.

    A harvest writes a hundred stored records a page (PERF-OAI-1), and most of
    them need no repair: those are written straight from the MARC-in-JSON. Any
    record that would need a repair, or is shaped unusually, goes the long way,
    so the text is the same in every case (a test compares the two over real
    records). Raises ValueError on malformed MARC-in-JSON, as record_from_json.
    """
    text = _json_to_marcxml_if_clean(data, namespace)
    if text is None:
        return record_to_marcxml(record_from_json(data), namespace=namespace)
    return text


def _json_to_marcxml_if_clean(data: dict, namespace: bool) -> str | None:
    """The MARCXML of a record that needs no repair; None for any other record."""
    if not isinstance(data, dict):
        return None
    leader = data.get("leader")
    entries = data.get("fields", [])
    if not leader or not isinstance(leader, str) or not isinstance(entries, list):
        return None
    leader, repairs = marcxml_leader(leader.ljust(24)[:24])
    if repairs:
        return None
    control: list[str] = []
    datafields: list[str] = []
    good_tags, indicators, codes = _GOOD_TAGS, _XSD_INDICATOR, SUBFIELD_CODES
    escape, attr = _xml_escape, _xml_attr
    for entry in entries:
        if not isinstance(entry, dict) or len(entry) != 1:
            return None
        ((tag, value),) = entry.items()
        if not isinstance(tag, str) or len(tag) != 3:
            return None
        if tag < "010" and tag.isdigit():
            if not isinstance(value, str) or (value and not value.isprintable()):
                return None
            if tag not in good_tags and not _XSD_CONTROL_TAG.match(tag):
                return None
            control.append(f'<controlfield tag="{tag}">{escape(value)}</controlfield>')
            continue
        if not isinstance(value, dict) or (tag not in good_tags and not _XSD_DATA_TAG.match(tag)):
            return None
        ind1 = value.get("ind1", " ") or " "
        ind2 = value.get("ind2", " ") or " "
        subfields = value.get("subfields", [])
        if (
            not isinstance(ind1, str)
            or not isinstance(ind2, str)
            or len(ind1) != 1
            or len(ind2) != 1
            or ind1 not in indicators
            or ind2 not in indicators
            or not isinstance(subfields, list)
            or not subfields
        ):
            return None
        datafields.append(f'<datafield tag="{tag}" ind1="{ind1}" ind2="{ind2}">')
        for sf in subfields:
            if not isinstance(sf, dict) or len(sf) != 1:
                return None
            ((code, text),) = sf.items()
            if not isinstance(text, str) or code not in codes or len(code) != 1:
                return None
            if not text.isprintable():
                return None
            datafields.append(f"<subfield code={attr(code)}>{escape(text)}</subfield>")
        datafields.append("</datafield>")
    ns = f' xmlns="{MARCXML_NS}"' if namespace else ""
    return "".join((f"<record{ns}><leader>{leader}</leader>", *control, *datafields, "</record>"))


def record_to_marcxml(
    record: Record, *, namespace: bool = False, repairs: list[str] | None = None
) -> str:
    """One <record> element as text, valid against MARC21slim.xsd whatever the record holds.

    Repairs, each appended to ``repairs`` when given (never silent): characters
    XML 1.0 cannot hold removed; indicators outside [0-9a-z ] written as
    blanks; subfield codes the schema refuses written as '?' (the text is
    kept), empty ones with no text left out; data fields without subfields
    and fields with impossible tags left out; leader positions as
    ``marcxml_leader`` says.
    """
    note = repairs.append if repairs is not None else (lambda _text: None)
    ns = f' xmlns="{MARCXML_NS}"' if namespace else ""
    leader, leader_repairs = marcxml_leader(str(record.leader))
    for text in leader_repairs:
        note(text)
    out = [f"<record{ns}>", f"<leader>{leader}</leader>"]
    for tag, data, inds, subfields in _valid_fields(record, note):
        if subfields is None:
            out.append(f'<controlfield tag="{tag}">{_xml_escape(data)}</controlfield>')
            continue
        out.append(f'<datafield tag="{tag}" ind1="{inds[0]}" ind2="{inds[1]}">')
        out.extend(
            f"<subfield code={_xml_attr(code)}>{_xml_escape(value)}</subfield>"
            for code, value in subfields
        )
        out.append("</datafield>")
    out.append("</record>")
    return "".join(out)


def _valid_fields(record: Record, note):
    """(tag, control data, indicators, [(code, text)] or None) as the schema accepts
    them, control fields first (as it wants); each repair passed to ``note``."""
    ordered = [f for f in record.fields if f.control_field]
    ordered += [f for f in record.fields if not f.control_field]
    for field in ordered:
        tag = field.tag
        if field.control_field:
            if not _XSD_CONTROL_TAG.match(tag):
                note(f"control field with impossible tag {tag!r} left out")
                continue
            yield tag, _text(field.data or "", tag, note), None, None
            continue
        if not _XSD_DATA_TAG.match(tag):
            note(f"field with impossible tag {tag!r} left out")
            continue
        inds = []
        for n, ind in ((1, field.indicator1), (2, field.indicator2)):
            ind = ind or " "
            if len(ind) != 1 or ind not in _XSD_INDICATOR:
                note(f"field {tag}: indicator {n} {ind!r} written as blank")
                ind = " "
            inds.append(ind)
        subfields = []
        for sf in field.subfields:
            code = sf.code
            value = _text(sf.value or "", tag, note)
            if len(code) != 1 or code not in SUBFIELD_CODES:
                if not value:
                    note(f"field {tag}: empty subfield with bad code {code!r} left out")
                    continue
                note(f"field {tag}: subfield code {code!r} written as '?'")
                code = "?"
            subfields.append((code, value))
        if not subfields:
            note(f"field {tag} without subfields left out")
            continue
        yield tag, None, inds, subfields


def _text(text: str, tag: str, note) -> str:
    if not text.isprintable():
        cleaned = _XML_ILLEGAL.sub("", text)
        if len(cleaned) != len(text):
            note(f"field {tag}: {len(text) - len(cleaned)} character(s) XML cannot hold removed")
            return cleaned
    return text
