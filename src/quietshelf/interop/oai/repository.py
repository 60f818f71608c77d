"""Reads behind the OAI-PMH provider: records, tombstones, sets, pages.

A List page is the next `limit` items in record-id order after the cursor,
merged from the live records and the tombstones (record ids are never
reused, so each id is one or the other). The id order is what makes tokens
stable: a record changed or deleted mid-harvest keeps its place.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Exists, Min, OuterRef, Q

from quietshelf.catalog.models import Branch, Item, MaterialFormat
from quietshelf.interop.models import DeletedRecord
from quietshelf.interop.oai.protocol import SET_SPEC, Harvest
from quietshelf.interop.publicdata import RECORD_COLUMNS, public_records


@dataclass
class Entry:
    """One item of a List response: a live record (row) or a tombstone (row None)."""

    record_id: int
    datestamp: dt.datetime
    deleted: bool
    sets: list[str] = field(default_factory=list)
    row: dict | None = None  # RECORD_COLUMNS (+ marc_json when asked)


@dataclass
class OAISet:
    spec: str
    name: str


def configured_sets() -> list[dict]:
    """The operator's extra sets (QUIETSHELF_OAI_SETS), the well-formed ones."""
    out = []
    for entry in getattr(settings, "QUIETSHELF_OAI_SETS", []) or []:
        if not isinstance(entry, dict):
            continue
        spec = str(entry.get("spec") or "")
        if not SET_SPEC.match(spec) or spec.split(":")[0] in ("format", "branch"):
            continue
        out.append(
            {
                "spec": spec,
                "name": str(entry.get("name") or spec),
                "format": [str(v) for v in entry.get("format") or []],
                "language": [str(v) for v in entry.get("language") or []],
                "branch": [str(v) for v in entry.get("branch") or []],
            }
        )
    return out


def list_sets() -> list[OAISet]:
    """Every set: format and its values in use, branch and each branch, the configured ones."""
    sets: list[OAISet] = []
    labels = dict(MaterialFormat.choices)
    formats = sorted(
        set(public_records().order_by().values_list("format", flat=True).distinct())
        | set(DeletedRecord.objects.exclude(format="").values_list("format", flat=True).distinct())
    )
    formats = [f for f in formats if f and SET_SPEC.match(f)]
    if formats:
        sets.append(OAISet("format", "Material format"))
        sets.extend(OAISet(f"format:{f}", str(labels.get(f, f))) for f in formats)
    branches = [(b.code, b.name) for b in Branch.objects.order_by("code") if SET_SPEC.match(b.code)]
    if branches:
        sets.append(OAISet("branch", "Branch holding a copy"))
        sets.extend(OAISet(f"branch:{code}", name) for code, name in branches)
    sets.extend(OAISet(s["spec"], s["name"]) for s in configured_sets())
    return sets


def has_sets() -> bool:
    return bool(list_sets())


def _branch_exists(codes: list[str] | None) -> Exists:
    items = Item.objects.filter(record_id=OuterRef("pk"))
    if codes is not None:
        items = items.filter(branch__code__in=codes)
    return Exists(items)


def _set_filters(spec: str) -> tuple[Q, Q] | None:
    """(filter on live records, filter on tombstones) for a set; None for no such set."""
    if not spec:
        return Q(), Q()
    if spec == "format":
        return Q(), ~Q(format="")
    if spec.startswith("format:"):
        value = spec.split(":", 1)[1]
        return Q(format=value), Q(format=value)
    if spec == "branch":
        return Q(_branch_exists(None)), ~Q(branches="")
    if spec.startswith("branch:"):
        code = spec.split(":", 1)[1]
        return Q(_branch_exists([code])), Q(branches__contains=f" {code} ")
    for s in configured_sets():
        if s["spec"] != spec:
            continue
        live, dead = Q(), Q()
        if s["format"]:
            live &= Q(format__in=s["format"])
            dead &= Q(format__in=s["format"])
        if s["language"]:
            live &= Q(language__in=s["language"])
            dead &= Q(language__in=s["language"])
        if s["branch"]:
            live &= Q(_branch_exists(s["branch"]))
            any_branch = Q(pk__in=[])
            for code in s["branch"]:
                any_branch |= Q(branches__contains=f" {code} ")
            dead &= any_branch
        return live, dead
    return None


def _date_filters(field_name: str, harvest: Harvest) -> Q:
    q = Q()
    if harvest.start is not None:
        q &= Q(**{f"{field_name}__gte": harvest.start})
    if harvest.end is not None:
        q &= Q(**{f"{field_name}__lt": harvest.end})
    return q


def _record_sets(row: dict, branch_codes: set[str], extra: list[dict]) -> list[str]:
    sets = []
    if row.get("format") and SET_SPEC.match(row["format"]):
        sets.append(f"format:{row['format']}")
    sets.extend(f"branch:{c}" for c in sorted(branch_codes) if SET_SPEC.match(c))
    for s in extra:
        if s["format"] and row.get("format") not in s["format"]:
            continue
        if s["language"] and row.get("language") not in s["language"]:
            continue
        if s["branch"] and not branch_codes & set(s["branch"]):
            continue
        sets.append(s["spec"])
    return sets


def _branches_of(record_ids: list[int]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    rows = (
        Item.objects.filter(record_id__in=record_ids)
        .values_list("record_id", "branch__code")
        .distinct()
    )
    for rid, code in rows:
        out.setdefault(rid, set()).add(code)
    return out


def _tombstone_entry(t: DeletedRecord, extra: list[dict]) -> Entry:
    codes = set(t.branches.split())
    row = {"format": t.format, "language": t.language}
    return Entry(t.record_id, t.deleted_at, True, _record_sets(row, codes, extra))


def _live_entries(rows: list[dict], extra: list[dict]) -> list[Entry]:
    branches = _branches_of([r["id"] for r in rows]) if rows else {}
    return [
        Entry(
            r["id"],
            r["updated_at"],
            False,
            _record_sets(r, branches.get(r["id"], set()), extra),
            r,
        )
        for r in rows
    ]


# What a header needs (datestamp and the sets' format and language).
HEADER_COLUMNS = ("id", "format", "language", "updated_at")


def columns_for(verb: str, prefix: str) -> tuple[str, ...]:
    """The columns a response needs: fewer columns, less JSON to decode (PERF-OAI-1)."""
    if verb == "ListIdentifiers":
        return HEADER_COLUMNS
    if prefix == "marc21":
        return (*HEADER_COLUMNS, "marc_json")
    return RECORD_COLUMNS


def list_page(
    harvest: Harvest, *, limit: int, columns: tuple[str, ...]
) -> tuple[list[Entry], bool, int | None] | None:
    """The next page of a harvest: (entries, more follow, complete list size).

    None when the set does not exist. The size is counted on the first page
    only (a token carries it on).
    """
    filters = _set_filters(harvest.set_spec)
    if filters is None:
        return None
    live_q, dead_q = filters
    live = public_records().filter(live_q, _date_filters("updated_at", harvest))
    dead = DeletedRecord.objects.filter(dead_q, _date_filters("deleted_at", harvest))
    total = harvest.total
    if total is None:
        total = live.count() + dead.count()
    rows = list(live.filter(pk__gt=harvest.after_id).order_by("pk").values(*columns)[: limit + 1])
    tombs = list(dead.filter(record_id__gt=harvest.after_id).order_by("record_id")[: limit + 1])
    extra = configured_sets()
    entries = _live_entries(rows, extra) + [_tombstone_entry(t, extra) for t in tombs]
    entries.sort(key=lambda e: e.record_id)
    more = len(entries) > limit
    return entries[:limit], more, total


def get_entry(record_id: int, *, columns: tuple[str, ...]) -> Entry | None:
    rows = list(public_records().filter(pk=record_id).values(*columns))
    extra = configured_sets()
    if rows:
        return _live_entries(rows, extra)[0]
    tomb = DeletedRecord.objects.filter(record_id=record_id).first()
    if tomb is not None:
        return _tombstone_entry(tomb, extra)
    return None


def earliest_datestamp() -> dt.datetime | None:
    live = public_records().aggregate(m=Min("updated_at"))["m"]
    dead = DeletedRecord.objects.aggregate(m=Min("deleted_at"))["m"]
    found = [d for d in (live, dead) if d is not None]
    return min(found) if found else None
