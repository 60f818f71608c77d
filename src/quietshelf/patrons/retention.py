"""Patron erasure internals and the retention job's patron purge (PRV-RET-1/2, PRV-DSR-4).

`erase_rows(patron_ids)` is what erasing a patron does to the rows, one
patron (patron_erase) or a batch (the purge) alike, inside the caller's
transaction:

1. card numbers retired (SEC-ID-1) in one INSERT: their blind indexes go to
   RetiredIdentifier and are never issued again;
2. with QUIETSHELF_DO_NOT_CONTACT, the blind indexes of the patron's e-mail
   addresses and phone numbers are kept as a do-not-contact list (a keyed
   digest linked to no one);
3. the erase hooks of the apps above (circulation: open holds cancelled,
   loans and fees lose the patron and are coarsened; an unresolved fee stays
   as a financial record of its own);
4. the patron's rows deleted.

The data key goes through the kernel (forget_subject / forget_subjects):
every ciphertext, in backups too, becomes unreadable.

The purge step erases patrons past their date for erasure, and expired
accounts QUIETSHELF_PATRON_INACTIVITY_DAYS + the patron_account rule after
expiry; never one under a legal hold, with a loan out or an item waiting on
the hold shelf (counted as held or kept in the dry run).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.db.models import CharField, DateTimeField, F, Q, Value
from django.db.models.constants import OnConflict
from django.db.models.functions import Concat
from django.utils import timezone

from quietshelf.core.idlist import IdList, in_sql, referencing_pks
from quietshelf.patrons.models import Card, ContactKind, ContactPoint, Patron, RetiredIdentifier
from quietshelf.privacy.retention import Context, Step, register_step
from quietshelf.privacy.services import forget_subjects

_erase_hooks: list[Callable[[list], None]] = []


def register_erase_hook(hook: Callable[[list], None]) -> None:
    """`hook(patron_ids)` runs before the patrons' rows go, in the same transaction."""
    if hook not in _erase_hooks:
        _erase_hooks.append(hook)


def _retire(qs, kind) -> None:
    """INSERT INTO RetiredIdentifier (kind, digest, retired_at) SELECT … from `qs`, one
    statement: the digests never travel to Python and back; one already retired is left
    as it is (ON CONFLICT DO NOTHING / INSERT OR IGNORE)."""
    field = RetiredIdentifier._meta.get_field
    select = qs.annotate(
        _kind=kind, _at=Value(timezone.now(), output_field=DateTimeField())
    ).values_list("_kind", "_digest", "_at")
    sql, params = select.query.sql_with_params()
    qn = connection.ops.quote_name
    columns = ", ".join(qn(field(name).column) for name in ("kind", "digest", "retired_at"))
    insert = connection.ops.insert_statement(on_conflict=OnConflict.IGNORE)
    suffix = connection.ops.on_conflict_suffix_sql([], OnConflict.IGNORE, [], [])
    table = qn(RetiredIdentifier._meta.db_table)
    with connection.cursor() as cur:
        cur.execute(f"{insert} {table} ({columns}) {sql} {suffix}", params)  # noqa: S608


def erase_rows(patron_ids: list) -> int:
    """Retire cards, keep do-not-contact digests, run the hooks, delete the rows.

    Set-based over the batch: each statement carries the ids as one parameter on
    PostgreSQL (core.idlist), and none loads a row into Python.
    """
    if not patron_ids:
        return 0
    ids = IdList(patron_ids)
    _retire(
        Card.objects.filter(patron_id__in=ids)
        .exclude(barcode_index="")
        .annotate(_digest=F("barcode_index")),
        Value("card", output_field=CharField()),
    )
    if getattr(settings, "QUIETSHELF_DO_NOT_CONTACT", False):
        _retire(
            ContactPoint.objects.filter(
                patron_id__in=ids, kind__in=(ContactKind.EMAIL, ContactKind.PHONE)
            )
            .exclude(lookup_index="")
            .annotate(_digest=F("lookup_index")),
            Concat(Value("dnc_"), F("kind"), output_field=CharField()),
        )
    for hook in list(_erase_hooks):
        hook(patron_ids)
    # the cards' numbers are retired above: no delete signal per card row
    match, params = in_sql(ids, connection)
    qn = connection.ops.quote_name
    table, column = qn(Card._meta.db_table), qn(Card._meta.get_field("patron").column)
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {table} WHERE {column} IN {match}", params)  # noqa: S608
    return _delete_patrons(patron_ids, ids)


def _delete_patrons(patron_ids: list, ids: IdList) -> int:
    """Delete the patrons and what hangs off them in one statement per table.

    Django's collector builds each query from the ids again (most of the
    purge's time at 5,000 patrons a batch); the ids go into the SQL once here,
    as one array parameter on PostgreSQL (core.idlist). A table it cannot
    handle this way (rows of its own hang off it, or it has delete signals)
    goes through the collector, and so does everything when the patron model
    itself has delete signals.
    """
    from django.db.models import CASCADE, SET_NULL, signals

    def has_signals(model) -> bool:
        return signals.pre_delete.has_listeners(model) or signals.post_delete.has_listeners(model)

    def relations(model) -> list:
        # every reverse one-to-many, the hidden ones (related_name="+") included, as the
        # collector finds them
        return [
            f
            for f in model._meta.get_fields(include_hidden=True)
            if f.auto_created and not f.concrete and (f.one_to_many or f.one_to_one)
        ]

    def simple(model) -> bool:
        return not has_signals(model) and not relations(model)

    if has_signals(Patron):
        return Patron.objects.filter(pk__in=patron_ids).delete()[0]
    deleted = 0
    qn = connection.ops.quote_name
    pg = connection.vendor == "postgresql"
    step = len(patron_ids) if pg else 5000  # SQLite: within its variable limit
    for start in range(0, len(patron_ids), step):
        chunk = ids if pg else IdList(patron_ids[start : start + step])
        match, params = in_sql(chunk, connection)
        for rel in relations(Patron):
            model, column = rel.related_model, qn(rel.field.column)
            table = qn(model._meta.db_table)
            if rel.on_delete is SET_NULL:
                sql = f"UPDATE {table} SET {column} = NULL WHERE"  # noqa: S608
            elif rel.on_delete is CASCADE and simple(model):
                sql = f"DELETE FROM {table} WHERE"  # noqa: S608
            else:  # rows of its own hang off it, or it has signals: the collector
                model._base_manager.filter(**{f"{rel.field.name}__in": chunk}).delete()
                continue
            if pg:  # the rows by primary key, found with one index probe per patron
                pks = referencing_pks(model, rel.field.name, chunk)
                if not pks:
                    continue
                where, args = in_sql(pks, connection, model._meta.pk)
                sql = f"{sql} {qn(model._meta.pk.column)} IN {where}"
            else:
                sql, args = f"{sql} {column} IN {match}", params
            with connection.cursor() as cur:
                cur.execute(sql, args)
        with connection.cursor() as cur:
            table, pk = qn(Patron._meta.db_table), qn(Patron._meta.pk.column)
            cur.execute(f"DELETE FROM {table} WHERE {pk} IN {match}", params)  # noqa: S608
            deleted += cur.rowcount
    return deleted


def is_do_not_contact(kind: str, digest: str) -> bool:
    """Whether an e-mail or phone blind index belongs to an erased patron who asked so."""
    return RetiredIdentifier.objects.filter(kind=f"dnc_{kind}", digest=digest).exists()


# --- the purge step ------------------------------------------------------------------


def _candidates(ctx: Context):
    inactivity = int(getattr(settings, "QUIETSHELF_PATRON_INACTIVITY_DAYS", 0) or 0)
    expired_before = ctx.today - dt.timedelta(days=ctx.rule.days + inactivity)
    return Patron.objects.filter(Q(erase_after__lte=ctx.today) | Q(expiry_date__lt=expired_before))


_busy_rules: list[Callable[[], Q]] = []


def register_busy_rule(rule: Callable[[], Q]) -> None:
    """`rule()` gives a Q on Patron for accounts the purge must keep for now
    (circulation: an item out or waiting on the hold shelf)."""
    if rule not in _busy_rules:
        _busy_rules.append(rule)


def _busy() -> Q:
    q = Q(pk__in=[])
    for rule in _busy_rules:
        q |= rule()
    return q


def _due(ctx: Context):
    return _candidates(ctx).exclude(subject_id__in=ctx.held_subjects()).exclude(_busy())


def _count(ctx: Context) -> dict:
    candidates = _candidates(ctx)
    held = candidates.filter(subject_id__in=ctx.held_subjects()).count()
    kept = candidates.exclude(subject_id__in=ctx.held_subjects()).filter(_busy()).count()
    return {"due": _due(ctx).count(), "held": held, "kept": kept}


def _batch(ctx: Context) -> int:
    rows = list(_due(ctx).values_list("pk", "subject_id")[: ctx.batch_size])
    if not rows:
        return 0
    patron_ids = [r[0] for r in rows]
    subject_ids = [r[1] for r in rows]
    # The keys go first, through the kernel (their key-store DELETE commits at once: if
    # this batch then fails, its patrons are already unreadable and the next run erases
    # their rows); its handlers see the notices before the rows go.
    forget_subjects(subject_ids=subject_ids)
    erase_rows(patron_ids)
    return len(rows)


def erase_subjects(subject_ids: list) -> None:
    """After a restore: rows of patrons erased since the backup go again (PRV-RET-3)."""
    ids = list(Patron.objects.filter(subject_id__in=subject_ids).values_list("pk", flat=True))
    erase_rows(ids)


def install() -> None:
    from quietshelf.privacy.backup import register_restore_hook

    register_restore_hook(erase_subjects)
    register_step(
        Step(
            key="expired patrons",
            rule="patron_account",
            action="erased",
            why=(
                "past the date for erasure, or expired longer ago than the inactivity limit "
                "plus the rule: key shredded, rows deleted, cards retired"
            ),
            models=(
                "patrons.Patron",
                "patrons.Card",
                "patrons.ContactPoint",
                "patrons.PatronIdentifier",
                "patrons.ProxyLink",
                "patrons.StaffNote",
                "patrons.Block",
                "patrons.BlockOverride",
                "patron_portal.SsoLink",
            ),
            count=_count,
            batch=_batch,
            order=40,
        )
    )
