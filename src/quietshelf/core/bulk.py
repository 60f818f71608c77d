"""Bulk inserts: many rows in as few statements as the database allows (#14).

One engine for every bulk writer (the MARC import, patron loads, the audit
log's many-entries API), where Django's bulk_create costs too much: it keeps
SQLite at 999 parameters per statement and prepares every value field by
field, about twice the time for the same rows (PERF-CAT-1).

- PostgreSQL: COPY … FROM STDIN, one stream instead of a parse, bind and
  execute per row in a server that shares the machine's cores with the
  writer. With ``returning``, the ids are taken from the table's sequence
  first, in one statement.
- SQLite: ``insert_rows`` uses executemany (one prepared statement);
  ``insert_model_rows`` a multi-row INSERT … RETURNING id, as many rows per
  statement as SQLite's parameter limit allows.

Only quoted names from the models (or a caller's own fixed table name) go
into the statement text; every value travels as a parameter or as COPY data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import DatabaseError, connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model
from django.utils import timezone

# SQLite's limit when the driver cannot say (older builds); PostgreSQL takes 65,535
_SQLITE_DEFAULT_LIMIT = 999
_POSTGRES_LIMIT = 30_000
_MAX_ROWS_PER_STATEMENT = 1000


def param_limit(conn: BaseDatabaseWrapper) -> int:
    """How many parameters one statement may carry on this connection."""
    if conn.vendor == "sqlite":
        try:
            import sqlite3

            conn.ensure_connection()
            return conn.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        except (AttributeError, DatabaseError):
            return _SQLITE_DEFAULT_LIMIT
    return _POSTGRES_LIMIT


def insert_rows(
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]] | Sequence[str],
    *,
    using: str = "default",
) -> None:
    """INSERT rows of values as the database stores them into ``table`` (unquoted names).

    A row is a tuple of values in the order of ``columns``. On PostgreSQL a
    row may instead be one line already in COPY text format (ending in a
    new line): a load that encodes its rows in another process builds that
    text once there. No statement is sent for no rows.
    """
    if not rows:
        return
    conn = connections[using]
    qn = conn.ops.quote_name
    head = f"{qn(table)} ({', '.join(qn(c) for c in columns)})"
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            raw = cursor.cursor  # psycopg's own cursor: Django's wrapper has no copy()
            with raw.copy(f"COPY {head} FROM STDIN") as copy:
                if isinstance(rows[0], str):
                    copy.write("".join(rows))  # type: ignore[arg-type]
                else:
                    write = copy.write_row
                    for row in rows:
                        write(row)
            return
        marks = ", ".join(["%s"] * len(columns))
        cursor.executemany(f"INSERT INTO {head} VALUES ({marks})", rows)  # noqa: S608


def insert_model_rows(
    model: type[Model],
    rows: Sequence[dict[str, Any]],
    *,
    returning: bool = False,
    using: str | None = None,
) -> list[int]:
    """Insert rows (dicts by field attname) of ``model``; their new ids when ``returning``.

    Every concrete column but the primary key is written: a field missing
    from the rows gets its default, prepared by the field itself (so a
    column added to the model later still works), auto_now / auto_now_add
    fields the time of this call. The keys of ``rows[0]`` say which fields
    the rows give; their values go in as given (JSON fields are encoded), so
    they must already be what the database stores. The ids come back in the
    order of ``rows``; without ``returning`` the list is empty.
    """
    if not rows:
        return []
    conn = connections[using or router.db_for_write(model)]
    if not conn.features.can_return_rows_from_bulk_insert:
        objs = model._default_manager.using(conn.alias).bulk_create([model(**r) for r in rows])
        return [o.pk for o in objs] if returning else []
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    plan = _plan(fields, rows[0], conn)
    if conn.vendor == "postgresql":
        return _copy_model_rows(conn, model, fields, plan, rows, returning=returning)
    ops = conn.ops
    qn = ops.quote_name
    columns = ", ".join(qn(f.column) for f in fields)
    one_row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    per_statement = max(1, min(_MAX_ROWS_PER_STATEMENT, param_limit(conn) // len(fields)))
    adapt_json = ops.adapt_json_value
    returning_sql = f" RETURNING {qn(meta.pk.column)}" if returning else ""
    ids: list[int] = []
    with conn.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            params: list = []
            for row in chunk:
                for name, how, constant in plan:
                    if how == "raw":
                        params.append(row[name])
                    elif how == "json":
                        params.append(adapt_json(row[name], None))
                    else:
                        params.append(constant)
            values = ", ".join([one_row] * len(chunk))
            sql = f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES {values}{returning_sql}"  # noqa: S608
            cursor.execute(sql, params)
            if returning:
                ids.extend(r[0] for r in cursor.fetchall())
    return ids


# (attname, how, constant): "raw" the row's value, "json" the row's value encoded,
# "const" one value for every row (a default or the time of the insert)
_Plan = list[tuple[str, str, Any]]


def _plan(fields: list[Field], first: dict[str, Any], conn: BaseDatabaseWrapper) -> _Plan:
    now = conn.ops.adapt_datetimefield_value(timezone.now())
    plan: _Plan = []
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            plan.append((f.attname, "const", now))
        elif f.attname in first:
            plan.append(
                (f.attname, "json" if f.get_internal_type() == "JSONField" else "raw", None)
            )
        else:
            plan.append((f.attname, "const", f.get_db_prep_save(f.get_default(), conn)))
    return plan


def _copy_model_rows(
    conn: BaseDatabaseWrapper,
    model: type[Model],
    fields: list[Field],
    plan: _Plan,
    rows: Sequence[dict[str, Any]],
    *,
    returning: bool,
) -> list[int]:
    """PostgreSQL: COPY the rows in; with ``returning``, ids from the sequence first."""
    meta = model._meta
    qn = conn.ops.quote_name
    dumps = json.dumps
    columns = [f.column for f in fields]
    ids: list[int] = []
    with conn.cursor() as cursor:
        if returning:
            # One statement for all the ids; values are parameters.
            cursor.execute(
                "SELECT nextval(s) FROM (SELECT pg_get_serial_sequence(%s, %s)::regclass AS s) q, "
                "generate_series(1, %s)",
                [qn(meta.db_table), meta.pk.column, len(rows)],
            )
            ids = sorted(r[0] for r in cursor.fetchall())
            columns.insert(0, meta.pk.column)
        sql = f"COPY {qn(meta.db_table)} ({', '.join(qn(c) for c in columns)}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            write = copy.write_row
            for i, row in enumerate(rows):
                values = [ids[i]] if returning else []
                for name, how, constant in plan:
                    if how == "raw":
                        values.append(row[name])
                    elif how == "json":
                        values.append(dumps(row[name]))
                    else:
                        values.append(constant)
                write(values)
    return ids


__all__ = ["insert_model_rows", "insert_rows", "param_limit"]
