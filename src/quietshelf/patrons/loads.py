"""Patron loads from campus systems (INT-3): CSV or JSON, a saved field mapping.

A mapping names, for each source column (CSV header or JSON key), the patron
field it fills (TARGETS), the identifier type rows are matched on, and
defaults for group and branch::

    {"match_type": "institutional_id",
     "columns": {"StudentID": "identifier:institutional_id", "First": "given_name",
                 "Last": "family_name", "Mail": "email", "Card": "barcode"},
     "default_group": "student", "default_branch": "MAIN"}

A row whose identifier matches a patron updates only the mapped fields;
otherwise a patron is created (it needs a name). Rows are read, checked and
encrypted in batches of BATCH rows and written in batches of
rows_per_transaction() rows (BATCH on PostgreSQL, SQLITE_TX_ROWS on SQLite),
each written batch in one transaction; a bad row is reported with its
number and reason and skipped, never half-written. A cell that looks like a
spreadsheet formula (`=cmd|...`, `@SUM(...)`) is a row error: it is never
evaluated, never stored, and any report quotes it with a leading apostrophe.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db import connections, router, transaction
from django.utils import timezone

from quietshelf.catalog.models import Branch
from quietshelf.core import bulk
from quietshelf.core.csvfile import safe_cell, write_csv
from quietshelf.core.errors import DomainError, InvalidInput
from quietshelf.patrons import load_rows, policy, records, services
from quietshelf.patrons.access import PATRON_TYPE, require
from quietshelf.patrons.load_rows import LoadError
from quietshelf.patrons.models import (
    Card,
    IdentifierType,
    Language,
    NotificationChannel,
    Patron,
    PatronGroup,
    PatronIdentifier,
    PatronLoadMapping,
    PatronStatus,
    RetiredIdentifier,
)
from quietshelf.privacy import audit

BATCH = 500  # rows read, checked and encrypted together (handed between processes)
# Rows written in one transaction on SQLite. Every SQLite commit writes each
# page it dirtied to the WAL (and a checkpoint writes it again): with ~30
# random-key index entries per patron (blind indexes, name tokens, UUID keys)
# nearly every entry of a 500-row batch dirtied its own 4 KiB page once the
# indexes outgrew the page cache, so the cost per row grew with the tables.
# More rows per commit share those pages. PostgreSQL keeps BATCH.
SQLITE_TX_ROWS = 4000
MAX_CELL = 1000
MAX_ERRORS_KEPT = 10_000

SIMPLE_TARGETS = (
    "given_name",
    "family_name",
    "name",  # "Family, Given" or "Given Family"
    "barcode",
    "email",
    "phone",
    "address",
    "date_of_birth",
    "expiry_date",
    "erase_after",
    "group",
    "home_branch",
    "preferred_language",
    "notification_channel",
    "status",
)
TARGETS = SIMPLE_TARGETS + tuple(f"identifier:{t}" for t in IdentifierType.values)


class RowError(Exception):
    pass


# --- mappings -------------------------------------------------------------------------


@dataclass
class Mapping:
    columns: dict[str, str]
    match_type: str = "institutional_id"
    default_group: str = ""
    default_branch: str = ""
    name: str = ""

    @property
    def match_column(self) -> str | None:
        target = f"identifier:{self.match_type}"
        return next((c for c, t in self.columns.items() if t == target), None)

    def as_json(self) -> dict:
        return {
            "name": self.name,
            "match_type": self.match_type,
            "columns": self.columns,
            "default_group": self.default_group,
            "default_branch": self.default_branch,
        }


def parse_mapping(data) -> Mapping:
    if not isinstance(data, dict):
        raise LoadError("A mapping is a JSON object with 'columns' and 'match_type'.")
    columns = data.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise LoadError('The mapping needs \'columns\': {"source column": "patron field"}.')
    bad = [t for t in columns.values() if t not in TARGETS]
    if bad:
        raise LoadError(
            f"Unknown target field(s) in the mapping: {', '.join(map(str, bad[:5]))}. "
            f"Known: {', '.join(TARGETS)}."
        )
    targets = list(columns.values())
    dupes = sorted({t for t in targets if targets.count(t) > 1})
    if dupes:
        raise LoadError(f"More than one column maps to: {', '.join(dupes)}.")
    match_type = data.get("match_type") or "institutional_id"
    if match_type not in IdentifierType.values:
        raise LoadError(
            f"Unknown match_type {match_type!r}; one of {', '.join(IdentifierType.values)}."
        )
    mapping = Mapping(
        columns={str(k): str(v) for k, v in columns.items()},
        match_type=match_type,
        default_group=str(data.get("default_group") or ""),
        default_branch=str(data.get("default_branch") or ""),
        name=str(data.get("name") or ""),
    )
    if mapping.match_column is None:
        raise LoadError(
            f"The mapping must map a column to identifier:{match_type} (the match key)."
        )
    return mapping


def mapping_from_model(obj: PatronLoadMapping) -> Mapping:
    return parse_mapping(
        {
            "name": obj.name,
            "columns": obj.columns,
            "match_type": obj.match_type,
            "default_group": obj.default_group.code if obj.default_group else "",
            "default_branch": obj.default_branch.code if obj.default_branch else "",
        }
    )


def mapping_for_load(*, actor, mapping_name: str | None = None, mapping=None) -> Mapping:
    """The mapping a load uses: a saved one by name, or one given inline (the API).

    The one place that checks the permission to load and chooses the mapping, for the
    API and the staff page alike (#14 item 6).
    """
    require(actor, "patrons.load_patrons")
    if mapping_name:
        obj = PatronLoadMapping.objects.filter(name=mapping_name).first()
        if obj is None:
            raise InvalidInput("No saved mapping with that name.", code="unknown_mapping")
        return mapping_from_model(obj)
    if mapping is not None:
        return parse_mapping(mapping)
    raise InvalidInput("Send mapping_name or mapping.", code="mapping_required")


def may_load(actor) -> bool:
    """Whether the actor may load patrons (the staff page shows its form only then)."""
    try:
        require(actor, "patrons.load_patrons")
    except DomainError:
        return False
    return True


@transaction.atomic(durable=True)
def mapping_save(
    *, actor, name: str, data: dict, replaces: PatronLoadMapping | None = None
) -> PatronLoadMapping:
    """Save a mapping under `name`; `replaces` is the saved mapping it renames, deleted in
    the same transaction (a refused save leaves the old one as it was)."""
    require(actor, "patrons.load_patrons")
    mapping = parse_mapping(data)
    name = (name or mapping.name or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput("A mapping needs a name (at most 100 characters).")
    group = PatronGroup.objects.filter(code=mapping.default_group).first()
    if mapping.default_group and group is None:
        raise InvalidInput(f"Unknown patron group {mapping.default_group!r}.")
    branch = Branch.objects.filter(code=mapping.default_branch).first()
    if mapping.default_branch and branch is None:
        raise InvalidInput(f"Unknown branch {mapping.default_branch!r}.")
    if replaces is not None and replaces.name != name:
        PatronLoadMapping.objects.filter(pk=replaces.pk).delete()
    obj, _ = PatronLoadMapping.objects.update_or_create(
        name=name,
        defaults={
            "columns": mapping.columns,
            "match_type": mapping.match_type,
            "default_group": group,
            "default_branch": branch,
        },
    )
    return obj


# --- reading --------------------------------------------------------------------------


def looks_like_formula(value: str) -> bool:
    if not value:
        return False
    first = value[0]
    if first in ("=", "@", "\t", "\r"):
        return True
    if first in ("+", "-"):
        # "+47 912 34 567" is a phone number; "+cmd|..." and "-2+3" are not data
        rest = value[1:].strip()
        return not rest or not all(ch.isdigit() or ch in " ().-" for ch in rest)
    return False


def read_rows(stream, fmt: str, mapping: Mapping) -> Iterator[tuple[int, dict]]:
    """(row number, {column: text}) for each data row; LoadError for a bad file."""
    if fmt == "csv":
        yield from _read_csv(stream, mapping)
    elif fmt == "json":
        yield from _read_json(stream, mapping)
    else:
        raise LoadError(f"Unknown format {fmt!r} (csv or json).")


def _text_stream(stream):
    if isinstance(stream, io.TextIOBase):
        return stream
    return io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")


def _read_csv(stream, mapping: Mapping):
    text = _text_stream(stream)
    try:
        sample = text.read(8192)
    except UnicodeDecodeError:
        raise LoadError("The file is not UTF-8 text.") from None
    first_line = sample.split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count)
    if not first_line.count(delimiter):
        delimiter = ","
    rest = _lines(sample, text)
    reader = csv.reader(rest, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise LoadError("The file is empty.") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise LoadError(f"The header cannot be read: {exc}") from None
    header = [h.strip().lstrip("\ufeff") for h in header]
    missing = [c for c in mapping.columns if c not in header]
    if missing:
        raise LoadError(
            "The file's header lacks column(s) the mapping names: "
            + ", ".join(safe_cell(m) for m in missing[:10])
            + ". Header found: "
            + ", ".join(safe_cell(h) for h in header[:20])
        )
    width = len(header)
    number = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            number += 1
            yield number, {"__error__": f"the line cannot be read as CSV ({exc})"}
            continue
        number += 1
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != width:
            yield number, {"__error__": f"{len(cells)} cells where the header has {width}"}
            continue
        yield number, dict(zip(header, cells, strict=True))


def _lines(sample: str, text) -> Iterator[str]:
    """Lines (with their endings) from an already-read sample and the rest of the stream."""
    pending = sample
    while True:
        try:
            chunk = text.read(65536)
        except UnicodeDecodeError:
            raise LoadError("The file is not UTF-8 text.") from None
        pending += chunk
        parts = pending.split("\n")
        pending = parts.pop()
        for part in parts:
            yield part + "\n"
        if not chunk:
            break
    if pending:
        yield pending


def _read_json(stream, mapping: Mapping):
    text = _text_stream(stream)
    try:
        data = json.load(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LoadError(f"The file is not valid JSON: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("patrons"), list):
        data = data["patrons"]
    if not isinstance(data, list):
        raise LoadError('A JSON load is a list of objects (or {"patrons": [...]}).')
    for i, row in enumerate(data, start=1):
        if not isinstance(row, dict):
            yield i, {"__error__": "not a JSON object"}
            continue
        out = {}
        for key, value in row.items():
            if isinstance(value, dict | list):
                out[str(key)] = {"__nested__": True}
            else:
                out[str(key)] = "" if value is None else str(value)
        yield i, out


# --- one row ---------------------------------------------------------------------------


@dataclass
class RowPlan:
    number: int
    values: dict  # target -> cleaned value ("" clears an optional field)
    match_value: str
    # blind-index digests of the match value and card number, computed once
    match_digest: str = ""
    barcode_digest: str = ""
    # a new patron's id and sealed rows (load_rows.Encoder), written if the row creates one
    patron_id: uuid.UUID | None = None
    sealed: tuple | None = None


def _clean_row(number: int, row: dict, mapping: Mapping, lookups: dict) -> RowPlan:
    if "__error__" in row:
        raise RowError(row["__error__"])
    values: dict = {}
    for column, target in mapping.columns.items():
        if column not in row:
            continue  # JSON objects may leave keys out: field untouched
        raw = row[column]
        if isinstance(raw, dict):
            raise RowError(f"column {safe_cell(column)}: a nested value, not text")
        raw = raw.strip()
        if looks_like_formula(raw):
            raise RowError(
                f"column {safe_cell(column)}: looks like a spreadsheet formula; not loaded"
            )
        if len(raw) > MAX_CELL:
            raise RowError(f"column {safe_cell(column)}: longer than {MAX_CELL} characters")
        try:
            values[target] = _clean_value(target, raw, lookups)
        except DomainError as exc:
            raise RowError(f"column {safe_cell(column)}: {exc.message}") from None
    if "name" in values:
        given, family = _split_name(values.pop("name"))
        values.setdefault("given_name", given)
        values.setdefault("family_name", family)
    match_value = values.get(f"identifier:{mapping.match_type}", "")
    if not match_value:
        raise RowError(f"no value in the match column {safe_cell(mapping.match_column)}")
    return RowPlan(number, values, match_value)


def _split_name(text: str) -> tuple[str, str]:
    if "," in text:
        family, given = text.split(",", 1)
        return given.strip(), family.strip()
    parts = text.split()
    if len(parts) < 2:
        return text, ""
    return " ".join(parts[:-1]), parts[-1]


def _clean_value(target: str, raw: str, lookups: dict):
    if target in ("given_name", "family_name", "name"):
        return policy.clean_name(raw, target.replace("_", " "))
    if raw == "":
        return ""
    if target == "barcode":
        return records.clean_barcode(raw)
    if target in ("email", "phone", "address"):
        return policy.clean_contact(target, raw)
    if target == "date_of_birth":
        return policy.clean_date_of_birth(raw)
    if target in ("expiry_date", "erase_after"):
        return policy.clean_date(raw, target.replace("_", " "))
    if target == "group":
        if raw not in lookups["groups"]:
            raise InvalidInput(f"unknown patron group {safe_cell(raw)!r}")
        return raw
    if target == "home_branch":
        if raw not in lookups["branches"]:
            raise InvalidInput(f"unknown branch {safe_cell(raw)!r}")
        return raw
    if target == "preferred_language":
        return policy.clean_choice(raw, Language, "language")
    if target == "notification_channel":
        return policy.clean_choice(raw, NotificationChannel, "notification channel", "email")
    if target == "status":
        return policy.clean_choice(raw, PatronStatus, "status", "active")
    if target.startswith("identifier:"):
        return services.clean_identifier(target.split(":", 1)[1], raw)[1]
    raise InvalidInput(f"unknown target {target}")  # pragma: no cover - checked in the mapping


# --- the load ---------------------------------------------------------------------------


@dataclass
class RowResult:
    number: int
    status: str  # created, updated, unchanged, error
    message: str = ""
    patron_id: uuid.UUID | None = None


@dataclass
class LoadReport:
    dry_run: bool = False
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: int = 0
    results: list[RowResult] = field(default_factory=list)  # errors always; others if asked

    def add(self, result: RowResult, keep_all: bool) -> None:
        self.rows += 1
        if result.status == "error":
            self.errors += 1
        else:
            setattr(self, result.status, getattr(self, result.status) + 1)
        if (result.status == "error" and len(self.results) < MAX_ERRORS_KEPT) or keep_all:
            self.results.append(result)

    def summary(self) -> str:
        verb = "would be " if self.dry_run else ""
        return (
            f"{self.rows} rows: {self.created} {verb}created, {self.updated} {verb}updated, "
            f"{self.unchanged} unchanged, {self.errors} with errors"
            + (" (dry run: nothing stored)" if self.dry_run else "")
        )

    def as_json(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": self.errors,
            "results": [
                {
                    "row": r.number,
                    "status": r.status,
                    "message": r.message,
                    "patron_id": str(r.patron_id) if r.patron_id else None,
                }
                for r in self.results
            ],
        }

    def write_csv(self, out) -> None:
        write_csv(
            out,
            ["row", "status", "message", "patron_id"],
            ([r.number, r.status, r.message, r.patron_id] for r in self.results),
        )


def run_load(
    *,
    actor,
    stream,
    fmt: str,
    mapping: Mapping,
    dry_run: bool = False,
    keep_all: bool = False,
    progress=None,
    parallel: bool = False,
) -> LoadReport:
    """Load every row; batches of rows_per_transaction() rows, each in its own transaction.

    `parallel`: a large load reads, checks and encrypts its rows in a second
    process while this one writes (load_rows.in_parallel; the command line
    uses it; a web request does not fork).
    """
    require(actor, "patrons.load_patrons")
    lookups = {
        "groups": {g.code: g for g in PatronGroup.objects.all()},
        "branches": {b.code: b for b in Branch.objects.all()},
    }
    if mapping.default_group and mapping.default_group not in lookups["groups"]:
        raise LoadError(f"The mapping's default group {mapping.default_group!r} does not exist.")
    if mapping.default_branch and mapping.default_branch not in lookups["branches"]:
        raise LoadError(f"The mapping's default branch {mapping.default_branch!r} does not exist.")
    report = LoadReport(dry_run=dry_run)
    encoder = None if dry_run else load_rows.Encoder(actor, mapping, lookups)
    batches = _batches(stream, fmt, mapping, lookups, encoder)
    per_transaction = rows_per_transaction()
    with _load_page_cache(), _SeenRows() as seen:
        pending: list[RowPlan] = []
        pending_rows = 0
        # the encoding process runs a whole transaction's batches ahead
        depth = load_rows.QUEUE_DEPTH + -(-per_transaction // BATCH) - 1
        for read, errors, plans in load_rows.in_parallel(batches, parallel, depth):
            if progress is not None:
                progress.update(read)
            for result in errors:
                report.add(result, keep_all)
            pending.extend(seen.drop_repeats(plans, report, keep_all))
            pending_rows += read
            if pending_rows >= per_transaction:
                if pending:
                    _run_batch(actor, pending, mapping, lookups, report, dry_run, keep_all)
                pending, pending_rows = [], 0
        if pending:
            _run_batch(actor, pending, mapping, lookups, report, dry_run, keep_all)
    report.results.sort(key=lambda r: r.number)
    return report


def rows_per_transaction() -> int:
    """Rows written in one transaction: SQLITE_TX_ROWS on SQLite, else BATCH."""
    conn = connections[router.db_for_write(Patron)]
    return max(BATCH, SQLITE_TX_ROWS) if conn.vendor == "sqlite" else BATCH


# SQLite page cache while a load runs, in KiB. The blind indexes and name
# tokens are random keys: every row lands on another index page, and with
# SQLite's default 2 MB cache most of those are misses; 64 MB took a 30,000-row
# load from ~590 to ~930 rows/s. Restored when the load ends.
LOAD_CACHE_KIB = 65_536


@contextlib.contextmanager
def _load_page_cache():
    conn = connections[router.db_for_write(Patron)]
    if conn.vendor != "sqlite":
        yield
        return
    with conn.cursor() as cur:
        cur.execute("PRAGMA cache_size")
        before = cur.fetchone()[0]
        cur.execute(f"PRAGMA cache_size = -{int(LOAD_CACHE_KIB)}")
    try:
        yield
    finally:
        with conn.cursor() as cur:
            cur.execute(f"PRAGMA cache_size = {int(before)}")


def _batches(stream, fmt, mapping, lookups, encoder) -> Iterator[tuple]:
    """(rows read, row errors, checked rows) for every BATCH rows of the file.

    Pure CPU, no database (it may run in a second process): each row is
    cleaned, its match and card digests computed, and with an encoder the
    rows of a new patron sealed (used only if the row creates one).
    """
    plans: list[RowPlan] = []
    errors: list[RowResult] = []
    read = 0
    for number, row in read_rows(stream, fmt, mapping):
        read += 1
        try:
            plan = _clean_row(number, row, mapping, lookups)
            plan.match_digest = services.identifier_digest(plan.match_value)
            if plan.values.get("barcode"):
                plan.barcode_digest = records.barcode_digest(plan.values["barcode"])
            plans.append(plan)
        except RowError as exc:
            errors.append(RowResult(number, "error", str(exc)))
        if read >= BATCH:
            if encoder is not None:
                encoder.encode(plans)
            yield read, errors, plans
            plans, errors, read = [], [], 0
    if read:
        if encoder is not None:
            encoder.encode(plans)
        yield read, errors, plans


class _SeenRows:
    """The identifiers and card numbers already in the file, with their row numbers.

    Kept in a temporary table of the load's database connection, not in this
    process: 16 bytes of each digest (plenty to spot a repeat within one
    file) and the row number, so memory stays flat at any file size. Every
    row that passed its own checks is entered, whether it was then stored or
    not (as "the same identifier as row N" always meant). Dropped when the
    load ends; a temporary table is private to the connection.
    """

    TABLE = "quietshelf_patron_load_seen"

    def __enter__(self):
        self.conn = conn = connections[router.db_for_write(Patron)]
        blob = "bytea" if conn.vendor == "postgresql" else "BLOB"
        tail = "" if conn.vendor == "postgresql" else " WITHOUT ROWID"
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {self.TABLE}")
            cur.execute(
                f"CREATE TEMPORARY TABLE {self.TABLE} "
                f"(k {blob} PRIMARY KEY, n integer NOT NULL){tail}"
            )
        return self

    def __exit__(self, *exc):
        conn = self.conn
        if conn.in_atomic_block and conn.needs_rollback:
            return  # the rollback takes the table with it
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {self.TABLE}")

    def _earlier(self, wanted: list[bytes]) -> dict[bytes, int]:
        found: dict[bytes, int] = {}
        with self.conn.cursor() as cur:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                if self.conn.vendor == "postgresql":
                    cur.execute(f"SELECT k, n FROM {self.TABLE} WHERE k = ANY(%s)", [chunk])  # noqa: S608
                else:
                    marks = ", ".join(["%s"] * len(chunk))
                    cur.execute(f"SELECT k, n FROM {self.TABLE} WHERE k IN ({marks})", chunk)  # noqa: S608
                found.update((bytes(k), n) for k, n in cur.fetchall())
        return found

    def drop_repeats(self, plans: list[RowPlan], report: LoadReport, keep_all: bool) -> list:
        """The plans whose identifier and card number are new to the file; the rest reported."""
        if not plans:
            return plans
        keys_of = []
        for plan in plans:
            match = b"i" + bytes.fromhex(plan.match_digest)[:16]
            card = b"c" + bytes.fromhex(plan.barcode_digest)[:16] if plan.barcode_digest else None
            keys_of.append((match, card))
        seen = self._earlier([k for pair in keys_of for k in pair if k is not None])
        kept, new = [], {}
        for plan, (match, card) in zip(plans, keys_of, strict=True):
            first = seen.get(match)
            if first is not None:
                report.add(
                    RowResult(plan.number, "error", f"the same identifier as row {first}"), keep_all
                )
                continue
            seen[match] = new[match] = plan.number
            if card is not None:
                first = seen.get(card)
                if first is not None:
                    report.add(
                        RowResult(plan.number, "error", f"the same card number as row {first}"),
                        keep_all,
                    )
                    continue
                seen[card] = new[card] = plan.number
            kept.append(plan)
        if new:
            bulk.insert_rows(self.TABLE, ("k", "n"), list(new.items()), using=self.conn.alias)
        return kept


def _run_batch(actor, batch, mapping, lookups, report, dry_run, keep_all) -> None:
    digests = {p.match_digest or services.identifier_digest(p.match_value): p for p in batch}
    existing = {
        i.value_index: i.patron
        for i in PatronIdentifier.objects.filter(
            type=mapping.match_type, value_index__in=list(digests)
        ).select_related("patron")
    }
    # every identifier and card number a new row would take must be free
    other_ids = {}
    others_of: dict[int, list[tuple[str, str]]] = {}  # id(plan) -> its other identifiers
    barcodes = {}
    for p in batch:
        for target, value in p.values.items():
            if (
                target.startswith("identifier:")
                and value
                and target != f"identifier:{mapping.match_type}"
            ):
                key = (target.split(":", 1)[1], services.identifier_digest(value))
                other_ids[key] = p
                others_of.setdefault(id(p), []).append(key)
        if p.values.get("barcode"):
            barcodes[p.barcode_digest or records.barcode_digest(p.values["barcode"])] = p
    owners_of: dict[tuple[str, str], set] = {}
    for t, dd, pid in PatronIdentifier.objects.filter(
        value_index__in=[d for _, d in other_ids]
    ).values_list("type", "value_index", "patron_id"):
        owners_of.setdefault((t, dd), set()).add(pid)
    taken_cards = dict(
        Card.objects.filter(barcode_index__in=list(barcodes)).values_list(
            "barcode_index", "patron_id"
        )
    )
    retired = set(
        RetiredIdentifier.objects.filter(kind="card", digest__in=list(barcodes)).values_list(
            "digest", flat=True
        )
    )
    results: list[RowResult] = []
    creates: list[RowPlan] = []
    updates: list[tuple[RowPlan, Patron]] = []
    for d, plan in digests.items():
        patron = existing.get(d)
        try:
            for key in others_of.get(id(plan), ()):
                if other_ids[key] is not plan:
                    continue  # a later row of the batch with the same value took the entry
                owners = owners_of.get(key)
                if owners and (patron is None or owners != {patron.pk}):
                    raise RowError(f"identifier:{key[0]} belongs to another patron")
            if plan.values.get("barcode"):
                bd = plan.barcode_digest or records.barcode_digest(plan.values["barcode"])
                owner = taken_cards.get(bd)
                if (owner is not None and (patron is None or owner != patron.pk)) or (
                    bd in retired and owner is None
                ):
                    raise RowError("the card number is in use or was used before (SEC-ID-1)")
            if patron is None:
                if not (plan.values.get("given_name") or plan.values.get("family_name")):
                    raise RowError("a new patron needs a name")
                creates.append(plan)
            elif patron.status == "restricted":
                # PRV-DSR-5: the patron restricted the use of their data; it is kept as it is.
                raise RowError("the patron restricted the use of their data: not updated")
            else:
                updates.append((plan, patron))
        except RowError as exc:
            results.append(RowResult(plan.number, "error", str(exc)))
    if dry_run:
        for plan in creates:
            results.append(RowResult(plan.number, "created"))
        for plan, patron in updates:
            changed = _changes(plan, patron, mapping, lookups)
            status = "updated" if changed else "unchanged"
            results.append(RowResult(plan.number, status, ", ".join(changed), patron.pk))
    else:
        with transaction.atomic():
            load_rows.write(creates)
            results.extend(RowResult(p.number, "created", "", p.patron_id) for p in creates)
            audit_rows = []
            for plan, patron in updates:
                try:
                    with transaction.atomic():
                        changed = _apply_update(actor, plan, patron, mapping, lookups)
                except (RowError, DomainError) as exc:
                    message = exc.message if isinstance(exc, DomainError) else str(exc)
                    results.append(RowResult(plan.number, "error", message))
                    continue
                if changed:
                    reason = ("load:" + ",".join(changed))[:200]
                    audit_rows.append(("changed", PATRON_TYPE, patron.pk, reason))
                    results.append(RowResult(plan.number, "updated", ", ".join(changed), patron.pk))
                else:
                    results.append(RowResult(plan.number, "unchanged", "", patron.pk))
            # one entry per patron, inserted together
            audit.record_many(actor=actor, entries=audit_rows)
    for r in sorted(results, key=lambda r: r.number):
        report.add(r, keep_all)


def _changes(plan: RowPlan, patron: Patron, mapping, lookups) -> list[str]:
    changed = []
    v = plan.values
    for name in ("given_name", "family_name"):
        if name in v and (getattr(patron, name) or "") != v[name]:
            changed.append(name)
    for name in ("expiry_date", "erase_after", "date_of_birth"):
        if name in v and getattr(patron, name) != (v[name] or None):
            changed.append(name)
    for name in ("preferred_language", "notification_channel", "status"):
        if name in v and v[name] and getattr(patron, name) != v[name]:
            changed.append(name)
    if "group" in v and v["group"] and (patron.group.code if patron.group else "") != v["group"]:
        changed.append("group")
    if "home_branch" in v and v["home_branch"]:
        branch = lookups["branches"][v["home_branch"]]
        if patron.home_branch_id != branch.pk:
            changed.append("home_branch")
    for kind in ("email", "phone", "address"):
        if kind in v:
            current = patron.contacts.filter(kind=kind).order_by("-preferred", "created_at").first()
            if (current.value if current else "") != v[kind]:
                changed.append(kind)
    if v.get("barcode"):
        card = patron.cards.filter(active=True).first()
        if card is None or records.barcode_digest(v["barcode"]) != card.barcode_index:
            changed.append("barcode")
    for target, value in v.items():
        if target.startswith("identifier:") and value:
            id_type = target.split(":", 1)[1]
            if not patron.identifiers.filter(
                type=id_type, value_index=services.identifier_digest(value)
            ).exists():
                changed.append(target)
    return changed


def _apply_update(actor, plan: RowPlan, patron: Patron, mapping, lookups) -> list[str]:
    changed = _changes(plan, patron, mapping, lookups)
    if not changed:
        return []
    v = plan.values
    core = {}
    for name in changed:
        if name in services.PATRON_FIELDS:
            core[name] = v[name]
    given = core.get("given_name", patron.given_name)
    family = core.get("family_name", patron.family_name)
    if not given and not family:
        raise RowError("the name would become empty")
    for name, value in core.items():
        if name in ("given_name", "family_name"):
            setattr(patron, name, value or None)
        elif name == "group":
            patron.group = lookups["groups"][value]
        elif name == "home_branch":
            patron.home_branch = lookups["branches"][value]
        else:
            setattr(
                patron, name, value or (None if name.endswith(("date", "after", "birth")) else "")
            )
    if core:
        patron.save()
        if {"given_name", "family_name"} & set(core):
            records.index_name(patron)
    for kind in ("email", "phone", "address"):
        if kind in changed:
            records.set_contact(patron, kind, v[kind])
    if "barcode" in changed:
        now = timezone.now()
        for old in patron.cards.filter(active=True):
            old.active = False
            old.replaced_at = now
            old.save(update_fields=["active", "replaced_at"])
            records.retire_card(old)
        records.new_card(patron, v["barcode"])
    for target in changed:
        if target.startswith("identifier:"):
            id_type = target.split(":", 1)[1]
            patron.identifiers.filter(type=id_type).delete()
            services._new_identifier(patron, id_type, v[target])
    return changed


def rows_from_iterable(rows: Iterable[dict]) -> io.StringIO:
    """A JSON stream from a list of dicts (the API takes rows inline)."""
    return io.StringIO(json.dumps(list(rows)))
