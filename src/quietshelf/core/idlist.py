"""A batch of ids as one SQL parameter (PERF-RET-1, issue 15).

`Model.objects.filter(patron_id__in=IdList(ids))`, or `.update()` / `.delete()`
on it, selects the same rows as `patron_id__in=ids`. On PostgreSQL the ids
travel as one array literal (`IN (SELECT unnest(%s::uuid[]))`) instead of one
placeholder each: with 5,000 ids, Django prepared and psycopg quoted every value
for every statement, and PostgreSQL parsed 5,000 parameters each time, most of
a batch's time in the retention job's patron purge. On SQLite the ids stay
placeholders (as `__in` makes them), so a batch must stay within SQLite's
variable limit, as before.

`in_sql(ids, ...)` gives the same `IN (...)` right-hand side for a raw statement.
Only uuid and integer columns get the array: the text form of their values holds no
comma, quote or brace, so the literal needs no escaping (any other column gets
placeholders). Each value is checked as a UUID or an integer on the way.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.core.exceptions import EmptyResultSet
from django.db.models import Expression, Field, UUIDField

_UUID_TYPES = {"uuid"}
_INT_TYPES = {"integer", "bigint", "smallint"}


def _array_literal(ids: Iterable, field: Field, db_type: str) -> str | None:
    """`{id,id,…}` for a uuid or integer column; None for another type. A value that is
    not one already goes through the field (ValidationError, as `__in` gives)."""
    values = (i for i in ids if i is not None)
    if db_type in _UUID_TYPES:  # str() of a UUID is its canonical form
        text = (str(i if type(i) is uuid.UUID else field.to_python(i)) for i in values)
    elif db_type in _INT_TYPES:
        text = (str(i if type(i) is int else int(field.to_python(i))) for i in values)
    else:
        return None
    return "{" + ",".join(text) + "}"


def _db_type(field: Field, connection) -> str:
    # a foreign key's type is its target's ("uuid", "bigint" for an auto id …)
    return (field.db_type(connection) or "").split("(")[0].strip().lower()


def in_sql(ids, connection, field: Field | None = None) -> tuple[str, list]:
    """`(…)` for `column IN (…)`: one array parameter on PostgreSQL, placeholders elsewhere.

    `ids`: a list of ids, or an IdList (whose array literal is made once).
    `field`: the column's field (its type and how it stores a value); a UUID
    field when not given. Raises EmptyResultSet for no ids, as `__in` does.
    """
    if isinstance(ids, IdList):
        return ids.as_sql(None, connection)
    return IdList(ids, field).as_sql(None, connection)


class IdList(Expression):
    """The right-hand side of `__in` for a batch of ids (see the module docstring)."""

    def __init__(self, ids: Iterable, field: Field | None = None):
        super().__init__(output_field=field if field is not None else UUIDField())
        self.ids = list(ids)
        self._literals: dict[str, str | None] = {}

    def as_sql(self, compiler, connection):
        if not any(i is not None for i in self.ids):
            raise EmptyResultSet
        field = self.output_field
        if connection.vendor == "postgresql":
            db_type = _db_type(field, connection)
            if db_type not in self._literals:
                self._literals[db_type] = _array_literal(self.ids, field, db_type)
            literal = self._literals[db_type]
            if literal is not None:
                return f"(SELECT unnest(%s::{db_type}[]))", [literal]
        values = [field.get_db_prep_value(i, connection) for i in self.ids if i is not None]
        return "(" + ", ".join(["%s"] * len(values)) + ")", values


def referencing_pks(model, field_name: str, ids) -> list:
    """The primary keys of `model`'s rows whose `field_name` (a foreign key) is one of `ids`.

    On PostgreSQL one index probe per id (a lateral subquery the planner cannot
    flatten into a join): `column IN (the batch)` on a large table (a million
    loans) is planned as a scan of the whole table whenever the statistics say
    an id matches many rows, as they do for a column that names few patrons
    each many times, even when the batch's patrons have none (PERF-RET-1). Callers
    then change the rows found by primary key, usually none. Elsewhere a plain
    `IN` query (SQLite plans it as index look-ups).
    """
    from django.db import connections, router

    alias = router.db_for_write(model)
    connection = connections[alias]
    field = model._meta.get_field(field_name)
    if connection.vendor != "postgresql":
        found = model._base_manager.using(alias).filter(**{f"{field_name}__in": IdList(ids, field)})
        return list(found.values_list("pk", flat=True))
    try:
        match, params = in_sql(ids, connection, field)
    except EmptyResultSet:
        return []
    qn = connection.ops.quote_name
    table, pk, column = (
        qn(model._meta.db_table),
        qn(model._meta.pk.column),
        qn(field.column),
    )
    # match is "(SELECT unnest(%s::type[]))" for uuid and integer keys: the ids one by one
    source = match[1:-1] if match.startswith("(SELECT unnest(") else None
    if source is None:  # another key type: placeholders, planned as index look-ups
        sql = f"SELECT {pk} FROM {table} WHERE {column} IN {match}"  # noqa: S608
    else:
        sql = (
            f"SELECT r.pk FROM ({source}) AS b(v) CROSS JOIN LATERAL "  # noqa: S608
            f"(SELECT {pk} AS pk FROM {table} WHERE {column} = b.v OFFSET 0) AS r"
        )
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return [row[0] for row in cur.fetchall()]
