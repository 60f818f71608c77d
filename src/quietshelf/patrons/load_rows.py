"""Patron loads: the rows of new patrons, sealed before the database sees them.

A patron load (loads.py) reads, checks and encrypts rows, then writes them.
The first part is pure CPU: the CSV, ~12 HMACs for blind indexes and name
tokens, a data key wrapped under the master key, AES-GCM for every personal
value. `Encoder.encode` does it for a batch of checked rows, through the
privacy kernel (keys.new_data_keys, fields.encrypt_value with the field's own
"table|column|row id" associated data, the fields' blind indexes,
search.token_digests), and turns each new patron into ready-to-write rows:
COPY text lines on PostgreSQL, parameter tuples on SQLite. Nothing is
written here; a row that turns out to be an update or an error is dropped
with its rows (its data key is never stored).

`in_parallel` runs that part in a second process for a large load (the
2-core machine's other core, while this process and the database write): a
forked child continues the batch iterator and hands batches back through a
bounded queue. The child never uses a database connection (any attempt
raises); the keys it needs (master key ring, index keys) are loaded before
the fork.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import queue as queue_module
import uuid
from collections.abc import Iterator

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import connections, models, router
from django.utils import timezone

from quietshelf.core import bulk, clock
from quietshelf.core.errors import DomainError
from quietshelf.patrons import policy
from quietshelf.patrons.access import PATRON_TYPE
from quietshelf.patrons.models import (
    NAME_SCOPE,
    Card,
    ContactKind,
    ContactLabel,
    ContactPoint,
    Patron,
    PatronIdentifier,
    contact_index,
)
from quietshelf.privacy import audit, keys
from quietshelf.privacy.fields import EncryptedField, encrypt_value
from quietshelf.privacy.models import AuditEntry, DataKey, NameToken, Subject
from quietshelf.privacy.search import token_digests


class LoadError(DomainError):
    """The file or the mapping cannot be loaded at all (wrong header, bad JSON...).
    Here, under loads.py which re-exports it, so that the two modules form no cycle (#14)."""

    code = "load_error"


# the tables of a new patron, in the order they are written
TABLES = ("datakey", "subject", "patron", "card", "identifier", "contact", "token", "audit")
TOKEN = TABLES.index("token")
TOKEN_COLUMNS = ("digest", "subject_id", "scope")  # digest first: sorted lines are index order


# --- values as the database takes them ---------------------------------------------


def _pg_text(value) -> str:
    """One value in PostgreSQL's COPY text format."""
    kind = type(value)
    if kind is str:
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            value = (
                value.replace("\\", "\\\\")
                .replace("\t", "\\t")
                .replace("\n", "\\n")
                .replace("\r", "\\r")
            )
        return value
    if value is None:
        return "\\N"
    if kind is bytes:
        return "\\\\x" + value.hex()
    if kind is bool:
        return "t" if value else "f"
    if kind is int or kind is uuid.UUID:
        return str(value)
    if kind is dt.date or kind is dt.datetime:
        return value.isoformat()
    if isinstance(value, str):  # a choices member
        return _pg_text(str(value))
    raise TypeError(f"no COPY text form for {kind.__name__}")


def _sqlite_value(value):
    """One value as Django's SQLite backend stores it."""
    kind = type(value)
    if kind is uuid.UUID:
        return value.hex
    if kind is dt.date:
        return value.isoformat()
    if kind is not str and isinstance(value, str):  # a choices member
        return str(value)
    return value


def stamp_value(now: dt.datetime, vendor: str, ops) -> str:
    """A timestamp as written: ISO text for COPY, Django's SQLite form otherwise."""
    return now.isoformat() if vendor == "postgresql" else ops.adapt_datetimefield_value(now)


class _Table:
    """How one model's rows are built: its columns, defaults and encrypted fields."""

    def __init__(self, model, vendor: str, ops, now: dt.datetime):
        fields = [
            f
            for f in model._meta.concrete_fields
            if not (f.primary_key and getattr(f, "db_returning", False))
        ]
        self.pos = {f.attname: i for i, f in enumerate(fields)}
        self.pk = model._meta.pk.attname
        table = model._meta.db_table
        # the same associated data as EncryptedField: "table|column|row id"
        self.sealed = {
            f.attname: (f.to_bytes, f"{table}|{f.column}|")
            for f in fields
            if isinstance(f, EncryptedField)
        }
        stamp = stamp_value(now, vendor, ops)
        template, self.dynamic = [], []
        for i, f in enumerate(fields):
            if isinstance(f, models.DateTimeField) and (f.auto_now or f.auto_now_add):
                template.append(stamp)
            elif f.has_default() and callable(f.default):
                template.append(None)
                self.dynamic.append((i, f.attname, f.default))
            else:
                template.append(f.get_default())
        self.template = template
        self.text = vendor == "postgresql"

    def row(self, aead: AESGCM | None, values: dict):
        """The row: personal values encrypted under the subject's key, the rest as given."""
        out = self.template.copy()
        pos = self.pos
        for i, attname, make in self.dynamic:
            if attname not in values:
                out[i] = make()
        pk = values.get(self.pk)
        for attname, value in values.items():
            seal = self.sealed.get(attname)
            if seal is not None and value is not None:
                to_bytes, prefix = seal
                value = encrypt_value(aead, to_bytes(value), f"{prefix}{pk}".encode())
            out[pos[attname]] = value
        if self.text:
            return "\t".join(map(_pg_text, out)) + "\n"
        return tuple(map(_sqlite_value, out))


def table_columns(model) -> tuple[str, list[str]]:
    """(table, its columns) in the order _Table builds rows."""
    fields = [
        f
        for f in model._meta.concrete_fields
        if not (f.primary_key and getattr(f, "db_returning", False))
    ]
    return model._meta.db_table, [f.column for f in fields]


MODELS = {
    "datakey": DataKey,
    "subject": Subject,
    "patron": Patron,
    "card": Card,
    "identifier": PatronIdentifier,
    "contact": ContactPoint,
    "audit": AuditEntry,
}


def warm_keys() -> keys.MasterKeyRing:
    """Load every key a load's encoding uses, in this process (before a fork)."""
    from quietshelf.patrons import services

    services.identifier_digest("A1")
    services.barcode_digest("A1")
    contact_index(ContactKind.EMAIL, "a@example.org")
    contact_index(ContactKind.PHONE, "+4700000000")
    token_digests(NAME_SCOPE, "ab")
    return keys.ring()


class Encoder:
    """Turns checked rows (loads.RowPlan) into the sealed rows of new patrons."""

    def __init__(self, actor, mapping, lookups):
        conn = connections[router.db_for_write(Patron)]
        self.vendor = conn.vendor
        self.ops = conn.ops
        self.ring = warm_keys()
        self.audit_values = audit.entry_values(
            actor=actor, action="created", object_type=PATRON_TYPE, reason="load"
        )
        self.mapping = mapping
        self.lookups = lookups

    def encode(self, plans: list) -> None:
        """Set each plan's patron_id and sealed rows (one entry per table in TABLES)."""
        now = timezone.now()
        t = {name: _Table(model, self.vendor, self.ops, now) for name, model in MODELS.items()}
        text = self.vendor == "postgresql"
        lookups, mapping = self.lookups, self.mapping
        default_group = lookups["groups"].get(mapping.default_group)
        default_branch = lookups["branches"].get(mapping.default_branch)
        today = clock.today()
        ring = self.ring
        audit_values = dict(self.audit_values, at=stamp_value(now, self.vendor, self.ops))
        made = keys.new_data_keys([uuid.uuid4() for _ in plans], current=ring)
        for plan, data_key in zip(plans, made, strict=True):
            v = plan.values
            sid, aead = data_key.subject_id, data_key.key
            pid = uuid.uuid4()
            group = lookups["groups"].get(v.get("group")) or default_group
            expiry = policy.expiry_from_group(
                expiry=v.get("expiry_date") or None,
                validity_days=group.default_validity_days if group is not None else None,
                today=today,
            )
            branch = lookups["branches"].get(v.get("home_branch")) or default_branch
            patron = t["patron"].row(
                aead,
                {
                    "id": pid,
                    "subject_id": sid,
                    "given_name": v.get("given_name") or None,
                    "family_name": v.get("family_name") or None,
                    "group_id": group.pk if group else None,
                    "home_branch_id": branch.pk if branch else None,
                    "status": v.get("status") or "active",
                    "expiry_date": expiry,
                    "erase_after": v.get("erase_after") or None,
                    "preferred_language": v.get("preferred_language") or "",
                    "notification_channel": v.get("notification_channel") or "email",
                    "date_of_birth": v.get("date_of_birth") or None,
                },
            )
            cards = []
            if v.get("barcode"):
                cards.append(
                    t["card"].row(
                        aead,
                        {
                            "id": uuid.uuid4(),
                            "subject_id": sid,
                            "patron_id": pid,
                            "barcode": v["barcode"],
                            "barcode_index": plan.barcode_digest,
                            "active": True,
                        },
                    )
                )
            idents = []
            for target, value in v.items():
                if target.startswith("identifier:") and value:
                    id_type = target.split(":", 1)[1]
                    digest = (
                        plan.match_digest
                        if id_type == mapping.match_type and plan.match_digest
                        else PatronIdentifier._meta.get_field("value_index").digest(value)
                    )
                    idents.append(
                        t["identifier"].row(
                            aead,
                            {
                                "id": uuid.uuid4(),
                                "subject_id": sid,
                                "patron_id": pid,
                                "type": id_type,
                                "value": value,
                                "value_index": digest,
                            },
                        )
                    )
            contacts = []
            for kind in ("email", "phone", "address"):
                if v.get(kind):
                    contacts.append(
                        t["contact"].row(
                            aead,
                            {
                                "id": uuid.uuid4(),
                                "subject_id": sid,
                                "patron_id": pid,
                                "kind": kind,
                                "label": ContactLabel.MOBILE.value
                                if kind == ContactKind.PHONE
                                else "home",
                                "value": v[kind],
                                "lookup_index": contact_index(kind, v[kind]),
                                "preferred": True,
                            },
                        )
                    )
            name = f"{v.get('given_name') or ''} {v.get('family_name') or ''}"
            digests = token_digests(NAME_SCOPE, name)
            if text:
                tokens = [f"{d}\t{sid}\t{NAME_SCOPE}\n" for d in digests]
            else:
                sid_hex = sid.hex  # one string for all the tokens (pickled once)
                tokens = [(d, sid_hex, NAME_SCOPE) for d in digests]
            audit_row = t["audit"].row(None, dict(audit_values, object_id=str(pid)))
            plan.patron_id = pid
            plan.sealed = (
                t["datakey"].row(
                    None,
                    {
                        "subject_id": sid,
                        "kek_version": data_key.kek_version,
                        "wrapped": data_key.wrapped,
                    },
                ),
                t["subject"].row(None, {"id": sid, "kind": "patron"}),
                patron,
                cards,
                idents,
                contacts,
                tokens,
                audit_row,
            )


# --- writing sealed rows ------------------------------------------------------------


def write(plans: list) -> None:
    """Insert the sealed rows of `plans` (new patrons), data keys first in the key store.

    The key store is its own database, outside the batch's transaction: its
    keys commit first, so a failed batch can leave unused keys, never a
    patron without a key. The caller holds the batch's transaction.
    """
    from django.db import transaction

    if not plans:
        return
    columns = list(zip(*(p.sealed for p in plans), strict=True))
    for name, rows in zip(TABLES, columns, strict=True):
        if name in ("card", "identifier", "contact", "token"):
            rows = [r for per_patron in rows for r in per_patron]
        if not rows:
            continue
        if name == "token":
            rows.sort()  # by digest: the B-tree takes sorted keys far faster than random ones
            model = NameToken
        else:
            model = MODELS[name]
        conn = connections[router.db_for_write(model)]
        if name in SORT_BY and conn.vendor == "sqlite":
            at = _position(model, SORT_BY[name])
            rows.sort(key=lambda row: row[at])
        if name == "token":
            table, cols = NameToken._meta.db_table, list(TOKEN_COLUMNS)
        else:
            table, cols = table_columns(model)
        if name == "datakey":
            with transaction.atomic(using=conn.alias):
                bulk.insert_rows(table, cols, rows, using=conn.alias)
        else:
            bulk.insert_rows(table, cols, rows, using=conn.alias)


# SQLite: each table's rows in the order of its largest random-key index (the
# name tokens by digest above), so that index is filled page after page while
# a transaction's dirty pages outgrow the page cache
SORT_BY = {"card": "barcode_index", "identifier": "value_index", "contact": "lookup_index"}


def _position(model, attname: str) -> int:
    fields = [
        f
        for f in model._meta.concrete_fields
        if not (f.primary_key and getattr(f, "db_returning", False))
    ]
    return [f.attname for f in fields].index(attname)


# --- a second process ----------------------------------------------------------------

# batches done in this process before a child takes over (small loads never fork)
PARALLEL_AFTER = 2
# batches the child may run ahead (bounds the memory of both); a caller that
# writes several batches in one transaction asks for that many more, so the
# child keeps encoding while this process writes
QUEUE_DEPTH = 4


class _Failed:
    def __init__(self, message: str, load_error: bool):
        self.message = message
        self.load_error = load_error


def _no_database(*_args, **_kwargs):
    raise RuntimeError("the load's encoding process must not use the database")


def _child(batches: Iterator, out) -> None:
    # the parent's connections were copied by fork: using one would interleave
    # two processes on one socket or file lock
    for conn in connections.all():
        conn.execute_wrappers.append(_no_database)
    try:
        for item in batches:
            out.put(item)
        out.put(None)
    except LoadError as exc:
        out.put(_Failed(exc.message, True))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises
        out.put(_Failed(f"{type(exc).__name__}: {exc}", False))


def in_parallel(batches: Iterator, enabled: bool, depth: int = QUEUE_DEPTH) -> Iterator:
    """The items of `batches`; after PARALLEL_AFTER of them, produced by a forked child
    that may run up to `depth` items ahead."""
    if not enabled or not hasattr(os, "fork"):
        yield from batches
        return
    for _ in range(PARALLEL_AFTER):
        item = next(batches, None)
        if item is None:
            return
        yield item
    ctx = multiprocessing.get_context("fork")
    channel = ctx.Queue(maxsize=max(1, depth))
    child = ctx.Process(target=_child, args=(batches, channel), daemon=True)
    child.start()
    try:
        while True:
            try:
                item = channel.get(timeout=5)
            except queue_module.Empty:
                if not child.is_alive():
                    raise RuntimeError("the load's encoding process ended unexpectedly") from None
                continue
            if item is None:
                break
            if isinstance(item, _Failed):
                if item.load_error:
                    raise LoadError(item.message)
                raise RuntimeError(f"the load's encoding process failed: {item.message}")
            yield item
    finally:
        if child.is_alive() and child.exitcode is None:
            child.join(timeout=0.5)
            if child.is_alive():
                child.terminate()
        child.join()
        channel.close()
        channel.join_thread()
