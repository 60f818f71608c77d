"""Reads for the public catalogue: only what the public may see (no staff notes)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from quietshelf.catalog.marc.display import marc_lines  # noqa: F401 - opac.views asks here
from quietshelf.catalog.models import BibRecord, Item, ItemStatus
from quietshelf.core.errors import NotFound

SAFE_LINK_SCHEMES = ("http://", "https://")


@dataclass
class BranchAvailability:
    name: str
    available: int = 0
    total: int = 0


@dataclass
class RecordSummary:
    record: BibRecord
    branches: list[BranchAvailability] = field(default_factory=list)
    original: dict = field(default_factory=dict)  # 880 title/authors in the original script

    @property
    def available(self) -> int:
        return sum(b.available for b in self.branches)

    @property
    def total(self) -> int:
        return sum(b.total for b in self.branches)


def branch_availability(record_ids: list[int]) -> dict[int, list[BranchAvailability]]:
    per_record: dict[int, OrderedDict[str, BranchAvailability]] = {}
    rows = (
        Item.objects.filter(record_id__in=record_ids)
        .order_by("branch__name")
        .values_list("record_id", "branch__name", "status")
    )
    for record_id, branch_name, status in rows:
        branches = per_record.setdefault(record_id, OrderedDict())
        entry = branches.setdefault(branch_name, BranchAvailability(branch_name))
        entry.total += 1
        if status == ItemStatus.AVAILABLE:
            entry.available += 1
    return {rid: list(b.values()) for rid, b in per_record.items()}


def record_summaries(record_ids: list[int]) -> list[RecordSummary]:
    """Records in the order given (ids of vanished records are skipped); two queries."""
    records = BibRecord.objects.in_bulk(record_ids)
    availability = branch_availability(list(records))
    return [
        RecordSummary(records[rid], availability.get(rid, []), original_script(records[rid]))
        for rid in record_ids
        if rid in records
    ]


def original_script(record: BibRecord) -> dict:
    """The title and authors as the record's 880 fields give them in their own script
    (Hebrew, Cyrillic, CJK …), shown beside the romanised ones; {} when there are none."""
    from quietshelf.catalog.search.documents import original_script_text

    texts = original_script_text(record.marc_json)
    title = " ".join(texts.get("title", [])[:2]).strip(" /:;,.=")
    authors = [a.strip(" /:;,.") for a in texts.get("author", [])[:3] if a.strip(" /:;,.")]
    if title == (record.title or "").strip(" /:;,.=") and not authors:
        return {}
    return {"title": title, "authors": authors} if title or authors else {}


_ISBN_TAIL = " :;/,=+"


def clean_identifier(value: str) -> str:
    """An ISBN/ISSN as people read it: without the ISBD punctuation MARC keeps (" :")."""
    return str(value or "").strip().rstrip(_ISBN_TAIL).strip()


def copy_details(record: BibRecord, items: list[Item]) -> tuple[dict, int]:
    """({item id: due date of its open loan}, number of open holds on the title): what a
    patron needs to judge the wait. No one's identity: dates and a count only."""
    from quietshelf.circulation.models import OPEN_HOLD, Hold, Loan

    due = dict(
        Loan.objects.filter(item__in=[i.pk for i in items], returned_at__isnull=True).values_list(
            "item_id", "due_at"
        )
    )
    holds = Hold.objects.filter(record=record, status__in=OPEN_HOLD).count()
    return due, holds


def public_record(record_id: int) -> BibRecord:
    try:
        return BibRecord.objects.get(pk=record_id)
    except BibRecord.DoesNotExist as exc:
        raise NotFound("No such record.") from exc


def public_items(record: BibRecord) -> list[Item]:
    return list(
        Item.objects.filter(record=record)
        .select_related("branch", "location")
        .only(
            "barcode",
            "call_number",
            "status",
            "public_note",
            "branch__name",
            "location__name",
        )
        .order_by("branch__name", "call_number", "barcode")
    )


def safe_links(record: BibRecord) -> list[dict]:
    """856 links with an http(s) address only: no javascript:, data: or file: URLs."""
    out = []
    for link in record.links or []:
        if not isinstance(link, dict):
            continue
        url = str(link.get("url") or "").strip()
        if url.lower().startswith(SAFE_LINK_SCHEMES) and len(url) < 2000:
            out.append({"url": url, "text": str(link.get("text") or "") or url})
    return out
