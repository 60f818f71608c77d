"""Run a benchmark on throw-away PostgreSQL databases (the main one and the key
store's), created on 127.0.0.1:5432 as user postgres and dropped afterwards."""

from __future__ import annotations

import os
from collections.abc import Callable

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def run_on_throwaway_postgres(prefix: str, run: Callable[[], None]) -> None:
    import psycopg

    name = f"{prefix}_{os.getpid()}"
    databases = (name, f"{name}_keystore")
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        for db in databases:
            conn.execute(f'CREATE DATABASE "{db}"')
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{name}"
    try:
        run()
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            for db in databases:
                conn.execute(f'DROP DATABASE IF EXISTS "{db}"')
