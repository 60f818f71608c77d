"""A MARC record as lines for display, for the public and the staff record pages alike.

In the catalogue (and not in opac/selectors.py, where it was) so that the staff pages do not
import the public face (docs/dev/architecture.md, #14).
"""

from __future__ import annotations


def marc_lines(record) -> list[dict]:
    """The MARC record (a catalog BibRecord) as lines for display: tag, indicators,
    subfields."""
    data = record.marc_json if isinstance(record.marc_json, dict) else {}
    lines = [{"tag": "LDR", "ind": "", "subfields": [], "value": data.get("leader", record.leader)}]
    for entry in data.get("fields") or []:
        if not isinstance(entry, dict):
            continue
        for tag, body in entry.items():
            if isinstance(body, dict):
                subfields = [
                    (code, value)
                    for sub in body.get("subfields") or []
                    if isinstance(sub, dict)
                    for code, value in sub.items()
                ]
                ind = f"{body.get('ind1', ' ')}{body.get('ind2', ' ')}".replace(" ", "_")
                lines.append({"tag": tag, "ind": ind, "subfields": subfields, "value": ""})
            else:
                lines.append({"tag": tag, "ind": "", "subfields": [], "value": str(body)})
    return lines
