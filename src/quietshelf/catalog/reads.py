"""Catalogue reads shaped for the API and the staff pages (dicts matching the
schemas in catalog/schemas.py), built on catalog.selectors.

Each function runs a fixed, small number of queries whatever the size of the
answer (tests assert it). Unknown ids raise core.errors.NotFound.
"""

from __future__ import annotations

from django.db.models import Count, Q

from quietshelf.catalog import selectors
from quietshelf.catalog.models import BibRecord, Branch, Item, ItemStatus, ItemType
from quietshelf.core.errors import NotFound


def _valid_isbns(isbns) -> list[str]:
    out = []
    for entry in isbns or []:
        if isinstance(entry, dict) and entry.get("valid") and entry.get("normalized"):
            out.append(entry["normalized"])
    return out


def item_row(item: Item, *, staff: bool = False) -> dict:
    row = {
        "id": item.pk,
        "record_id": item.record_id,
        "barcode": item.barcode,
        "call_number": item.call_number,
        "branch": item.branch.code,
        "branch_name": item.branch.name,
        "location": item.location.code if item.location_id else None,
        "location_name": item.location.name if item.location_id else None,
        "item_type": item.item_type.code,
        "status": item.status,
        "available": item.status == ItemStatus.AVAILABLE,
        "public_note": item.public_note,
    }
    if staff:
        row.update(price_minor=item.price_minor, currency=item.currency, staff_note=item.staff_note)
    return row


def record_summaries(record_ids: list[int]) -> list[dict]:
    """Summaries of these records in the given order, with item counts: one query."""
    if not record_ids:
        return []
    rows = (
        BibRecord.objects.filter(pk__in=record_ids)
        .annotate(
            n_items=Count("items"),
            n_available=Count("items", filter=Q(items__status=ItemStatus.AVAILABLE)),
        )
        .only("id", "title", "subtitle", "responsibility", "year", "language", "format", "isbns")
    )
    by_id = {r.pk: r for r in rows}
    out = []
    for rid in record_ids:
        r = by_id.get(rid)
        if r is None:
            continue
        out.append(
            {
                "id": r.pk,
                "title": r.title,
                "subtitle": r.subtitle,
                "responsibility": r.responsibility,
                "year": r.year,
                "language": r.language,
                "format": r.format,
                "isbns": _valid_isbns(r.isbns),
                "items": r.n_items,
                "available": r.n_available,
            }
        )
    return out


def record_get(*, record_id: int) -> BibRecord:
    return selectors.record_get(record_id)


def record_detail(*, record_id: int) -> dict:
    """A record with its items and availability per branch: two queries."""
    record = selectors.record_get(record_id)
    holdings = selectors.items_for_record(record.pk)
    return {
        "id": record.pk,
        "control_number": record.control_number,
        "control_source": record.control_source,
        "title": record.title,
        "subtitle": record.subtitle,
        "responsibility": record.responsibility,
        "contributors": record.contributors or [],
        "subjects": record.subjects or [],
        "isbns": record.isbns or [],
        "issns": record.issns or [],
        "publisher": record.publisher,
        "publication_place": record.publication_place,
        "year": record.year,
        "language": record.language,
        "format": record.format,
        "edition": record.edition,
        "series": record.series or [],
        "notes": record.notes or [],
        "links": record.links or [],
        "items": [item_row(i) for i in holdings],
        "availability": [
            {
                "branch": b.branch_code,
                "branch_name": b.branch_name,
                "available": b.available,
                "total": b.total,
            }
            for b in holdings.by_branch
        ],
    }


def record_marc(*, record_id: int):
    """The whole MARC of a record as a pymarc Record."""
    return selectors.record_marc(selectors.record_get(record_id))


def item_list(*, record_id: int, staff: bool = False) -> list[dict]:
    if not BibRecord.objects.filter(pk=record_id).exists():
        raise NotFound(f"No record with id {record_id}.", code="record_not_found")
    return [item_row(i, staff=staff) for i in selectors.items_for_record(record_id)]


def item_detail(*, item_id: int, staff: bool = False) -> dict:
    return item_row(selectors.item_get(item_id), staff=staff)


def branch_list() -> list[Branch]:
    return list(selectors.branch_list())


def branch_get(*, branch_id: int) -> Branch:
    branch = Branch.objects.filter(pk=branch_id).first()
    if branch is None:
        raise NotFound(f"There is no branch {branch_id}.", code="branch_not_found")
    return branch


def item_type_list() -> list[ItemType]:
    return list(selectors.item_type_list())


def item_type_get(*, item_type_id: int) -> ItemType:
    item_type = ItemType.objects.filter(pk=item_type_id).first()
    if item_type is None:
        raise NotFound(f"There is no item type {item_type_id}.", code="item_type_not_found")
    return item_type


def lookup_record_ids(term: str, *, limit: int = 50) -> list[int]:
    """Records matching a barcode, an ISBN/ISSN or a control number exactly (staff look-up)."""
    from stdnum import isbn as stdisbn
    from stdnum import issn as stdissn

    term = term.strip()
    if not term or len(term) > 64:
        return []
    ids: list[int] = []
    ids += Item.objects.filter(barcode=term).values_list("record_id", flat=True)[:limit]
    compact = term.replace("-", "").replace(" ", "")
    identifiers = []
    if stdisbn.is_valid(compact):
        identifiers.append(("isbn", stdisbn.to_isbn13(compact)))
    if stdissn.is_valid(compact):
        identifiers.append(("issn", stdissn.format(compact)))
    identifier_q = Q(scheme="035", value=term)
    for scheme, value in identifiers:
        identifier_q |= Q(scheme=scheme, value=value)
    from quietshelf.catalog.models import RecordIdentifier

    ids += RecordIdentifier.objects.filter(identifier_q).values_list("record_id", flat=True)[:limit]
    ids += BibRecord.objects.filter(control_number=term).values_list("id", flat=True)[:limit]
    seen: dict[int, None] = {}
    for rid in ids:
        seen.setdefault(rid, None)
    return list(seen)[:limit]
