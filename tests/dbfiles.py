"""Reading a SQLite test database's raw bytes, for the at-rest tests (PRV-ENC-1).

The bytes are read by a child process, never by this one: closing any file
descriptor on a database file drops every POSIX lock this process holds on it,
SQLite's included. Another process (a worker started by a test) could then think
it was the last user, checkpoint and delete the WAL and shared-memory files from
under the live server's open connection, and every later test would fail with
"disk I/O error".
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from django.db import connections


def sqlite_file_bytes(alias: str = "default") -> bytes:
    conn = connections[alias]
    with conn.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    name = str(conn.settings_dict["NAME"])
    files = [name + sfx for sfx in ("", "-wal", "-journal") if Path(name + sfx).exists()]
    return subprocess.run(["cat", *files], check=True, capture_output=True, timeout=60).stdout  # noqa: S603, S607
