"""The MARC importer: files in, records and items out, never aborting on one bad record.

It commits in batches of BATCH_SIZE records: a batch is one transaction, and
when a batch fails in the database it is run again one record per
transaction, so a bad record never leaves half a record behind and never
takes the others down with it.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Q

from quietshelf.catalog.marc.extract import looks_unimarc
from quietshelf.catalog.marc.holdings import (
    merge_map,
    validate_map,
)
from quietshelf.catalog.marc.reader import NotMarc, read_marc
from quietshelf.catalog.models import (
    RecordIdentifier,
)
from quietshelf.catalog.services.marc_input import UNIMARC_REASON, _prepare, _Prepared
from quietshelf.catalog.services.writer import _Codes, _write_batch
from quietshelf.core.errors import Conflict, InvalidInput, NotFound

BATCH_SIZE = 500
MATCH_SCHEMES = ("001+003", "035", "isbn", "issn")
# --- results ------------------------------------------------------------------


class ImportProblem(NamedTuple):
    """A record (or one of its items) that could not be taken as it was."""

    source: str
    position: int  # 1-based index of the record in its file
    reason: str
    offset: int | None = None  # byte offset in the file, when known

    def __str__(self) -> str:
        if self.position == 0:  # the whole source
            return f"{self.source}: {self.reason}"
        where = f"record {self.position}"
        if self.offset is not None:
            where += f" (byte {self.offset})"
        return f"{self.source}: {where}: {self.reason}"


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    items: int = 0
    skipped: int = 0
    errors: list[ImportProblem] = field(default_factory=list)
    warnings: list[ImportProblem] = field(default_factory=list)
    records_read: int = 0
    dry_run: bool = False
    record_ids: list[int] = field(default_factory=list)  # created or updated (not in dry run)

    def line(self) -> str:
        head = "would import" if self.dry_run else "imported"
        return (
            f"{head} {self.created + self.updated} records: created {self.created}, "
            f"updated {self.updated}, items {self.items}, skipped {self.skipped}, "
            f"errors {len(self.errors)}"
        )


def _find_matches(batch: list[_Prepared], match_on: list[str]) -> None:
    """Set match_id on each prepared record without one (one query for the batch).

    A record is matched by the first scheme in ``match_on`` for which it has a
    value; when no stored record has that value, it is created. (Trying a
    looser scheme after a stricter one missed would merge different records
    that happen to share, say, an ISBN.)
    """
    wanted: dict[str, set[str]] = {}
    keys: list[tuple[str, list[str]] | None] = []
    for p in batch:
        if p.match_id is not None:
            keys.append(None)
            continue
        chosen = None
        for scheme in match_on:
            values = [v for s, v in p.identifiers if s == scheme]
            if values:
                chosen = (scheme, values)
                wanted.setdefault(scheme, set()).update(values)
                break
        keys.append(chosen)
    if not wanted:
        return
    query = Q()
    for scheme, values in wanted.items():
        query |= Q(scheme=scheme, value__in=list(values))
    hits: dict[tuple[str, str], int] = {}
    for scheme, value, rid in (
        RecordIdentifier.objects.filter(query)
        .order_by("record_id")
        .values_list("scheme", "value", "record_id")
    ):
        hits.setdefault((scheme, value), rid)
    for p, key in zip(batch, keys, strict=True):
        if key is None:
            continue
        scheme, values = key
        for v in values:
            if (scheme, v) in hits:
                p.match_id = hits[(scheme, v)]
                break


# --- the importer ------------------------------------------------------------------------

Source = str | os.PathLike | BinaryIO | tuple[str, BinaryIO] | tuple[str, bytes]


def load_holdings_map(path: str | os.PathLike) -> dict:
    """A holdings map from a JSON file (merged over the default); ValueError when unusable."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise ValueError(f"cannot read the holdings map {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"the holdings map {path} is not valid JSON: {exc.msg} (line {exc.lineno})"
        ) from None
    validate_map(data)
    return data


def _open_source(source: Source) -> tuple[str, BinaryIO, bool]:
    """(name, binary stream, close it?) for a path, a file object, or (name, file/bytes)."""
    if isinstance(source, tuple):
        name, obj = source
        if isinstance(obj, bytes | bytearray):
            return str(name), io.BytesIO(obj), True
        return str(name), obj, False
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        return str(path), open(path, "rb"), True  # noqa: SIM115
    name = getattr(source, "name", None) or "upload"
    return str(name), source, False


def import_marc(
    *,
    actor=None,
    sources: Iterable[Source],
    dry_run: bool = False,
    match_on: list[str] | None = None,
    holdings_map: dict | None = None,
    progress: Callable[[int], Any] | None = None,
    format: str = "auto",  # noqa: A002
    batch_size: int = BATCH_SIZE,
) -> ImportSummary:
    """Import MARC records from files: create or update, items from holdings, never abort.

    ``sources``: paths, binary file objects, or (name, file object or bytes).
    ``match_on``: identifier schemes tried in order (001+003, 035, isbn, issn).
    ``progress``: called with the number of records just processed.
    A source that cannot be opened or is not MARC is reported as an error
    (position 0) and the others still go through. Not wrapped in one
    transaction: each batch of ``batch_size`` records commits on its own.
    """
    match_on = list(settings.QUIETSHELF_IMPORT_MATCH if match_on is None else match_on)
    bad = [m for m in match_on if m not in MATCH_SCHEMES]
    if bad:
        raise InvalidInput(
            f"Unknown match scheme {bad[0]!r} (use {', '.join(MATCH_SCHEMES)}).",
            code="invalid_match",
        )
    mapping = merge_map(holdings_map)
    try:
        validate_map(mapping)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="invalid_holdings_map") from None
    summary = ImportSummary(dry_run=dry_run)
    state = _ImportState(summary=summary, codes=_Codes(mapping), dry_run=dry_run, progress=progress)

    for source in sources:
        try:
            name, stream, close = _open_source(source)
        except OSError as exc:
            summary.errors.append(
                ImportProblem(str(source), 0, f"cannot open: {exc.strerror or exc}")
            )
            continue
        try:
            batch: list[_Prepared] = []
            keys: set[tuple[str, str]] = set()
            first_readable = True
            for res in read_marc(stream, format=format):
                summary.records_read += 1
                for w in res.warnings:
                    summary.warnings.append(ImportProblem(name, res.position, w, res.offset))
                if res.error:
                    summary.errors.append(ImportProblem(name, res.position, res.error, res.offset))
                    summary.skipped += 1
                    state.tick()
                    continue
                if first_readable:
                    first_readable = False
                    if looks_unimarc(res.record):
                        # A UNIMARC file: one line for the file, not one per record.
                        summary.errors.append(
                            ImportProblem(name, 0, f"{UNIMARC_REASON}; the file is skipped")
                        )
                        summary.skipped += 1
                        break
                try:
                    prepared = _prepare(
                        res.record,
                        marc_json=res.marc_json,
                        mapping=mapping,
                        source=name,
                        position=res.position,
                        offset=res.offset,
                        warnings=res.warnings,
                    )
                except InvalidInput as exc:
                    summary.errors.append(
                        ImportProblem(name, res.position, exc.message, res.offset)
                    )
                    summary.skipped += 1
                    state.tick()
                    continue
                except Exception as exc:  # noqa: BLE001  (one odd record must not stop the batch)
                    summary.errors.append(
                        ImportProblem(
                            name,
                            res.position,
                            f"cannot extract: {type(exc).__name__}: {exc}"[:300],
                            res.offset,
                        )
                    )
                    summary.skipped += 1
                    state.tick()
                    continue
                own = set(prepared.identifiers)
                if own & keys:
                    # The same record twice in a batch: write the first, then match the second.
                    state.flush(batch, match_on)
                    batch, keys = [], set()
                batch.append(prepared)
                keys |= own
                if len(batch) >= batch_size:
                    state.flush(batch, match_on)
                    batch, keys = [], set()
            state.flush(batch, match_on)
        except NotMarc as exc:
            summary.errors.append(ImportProblem(name, 0, str(exc)))
        except OSError as exc:
            summary.errors.append(ImportProblem(name, 0, f"cannot read: {exc.strerror or exc}"))
        finally:
            if close:
                stream.close()
    return summary


@dataclass
class _ImportState:
    summary: ImportSummary
    codes: _Codes
    dry_run: bool
    progress: Callable[[int], Any] | None
    seen_barcodes: set[str] = field(default_factory=set)
    _pending_ticks: int = 0

    def tick(self, n: int = 1) -> None:
        self._pending_ticks += n
        if self.progress and self._pending_ticks >= 100:
            self.progress(self._pending_ticks)
            self._pending_ticks = 0

    def flush(self, batch: list[_Prepared], match_on: list[str]) -> None:
        if not batch:
            return
        try:
            self._run(batch, match_on)
        except (DatabaseError, NotFound, Conflict):
            # Something in the batch upset the database: one transaction per record.
            self.codes.reset()
            for p in batch:
                try:
                    self._run([p], match_on)
                except (DatabaseError, NotFound, Conflict) as exc:
                    self.codes.reset()
                    self.summary.errors.append(
                        ImportProblem(
                            p.source, p.position, f"not stored: {_db_reason(exc)}", p.offset
                        )
                    )
                    self.summary.skipped += 1
        self.tick(len(batch))
        if self.progress and self._pending_ticks:
            self.progress(self._pending_ticks)
            self._pending_ticks = 0

    def _run(self, batch: list[_Prepared], match_on: list[str]) -> None:
        for p in batch:
            p.match_id = None
        with transaction.atomic():
            _find_matches(batch, match_on)
            # seen_barcodes is only read here; it grows once the batch has committed.
            res = _write_batch(batch, codes=self.codes, seen_barcodes=self.seen_barcodes)
            if self.dry_run:
                transaction.set_rollback(True)
        if self.dry_run:
            self.codes.reset()
        if self.dry_run:
            # A real run finds earlier batches' barcodes in the database; a dry run
            # rolled them back, so it remembers them (memory grows with items only here).
            self.seen_barcodes |= res.barcodes
        s = self.summary
        s.created += len(res.created)
        s.updated += len(res.updated)
        s.items += res.items
        if not self.dry_run:
            s.record_ids.extend(res.created + res.updated)
            if len(s.record_ids) > 100_000:
                s.record_ids = s.record_ids[-100_000:]
        for p, reason in res.item_errors:
            s.errors.append(ImportProblem(p.source, p.position, reason, p.offset))
        seen: set[tuple[int, str]] = set()
        for p, code, branch in res.unknown_branches:
            if (id(p), code) in seen:  # one line per record and code
                continue
            seen.add((id(p), code))
            reason = (
                f"unknown branch code {code!r}: its items went to branch {branch} "
                "(say where it belongs with branch_map in --holdings-map)"
            )
            s.warnings.append(ImportProblem(p.source, p.position, reason, p.offset))


def _db_reason(exc: Exception) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return " ".join(text.split())[:200]
