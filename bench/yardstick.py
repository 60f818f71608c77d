"""The machine's yardstick, printed by every benchmark in the same run as its figures.

Two machines "of this kind" differ by up to twice in speed, and a loaded one by
more; a figure means little without how fast this machine was at that minute.
Five bare measures, none of them Quietshelf code, take about two seconds:

- pymarc parsing ISO 2709 (the bundled fictional sample, repeated): records/s;
- one SQLite FTS5 MATCH over 50,000 short documents in memory: ms (median);
- the bare SQL of a check-out (a read of the item, an insert of the loan, an
  update of the item, one commit) on an in-memory SQLite: ms (median);
- a one-byte round trip to another process over loopback TCP: µs (median);
- `SELECT 1` on the PostgreSQL server at 127.0.0.1:5432, when one answers: µs (median).

The first three are the processor's speed; the last two are the kernel's (system
calls, waking another process), which the HTTP, SMTP and PostgreSQL figures pay on
every request and which a machine can be slow at while its processor is fast.

A benchmark prints the line first; docs/performance.md states a target as
met or not both absolutely and as the ratio to these figures.

    python bench/yardstick.py
"""

from __future__ import annotations

import io
import os
import random
import socket
import sqlite3
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _pymarc_rate(seconds: float = 0.7) -> float:
    sys.path.insert(0, str(REPO / "src"))
    from pymarc import MARCReader

    from quietshelf.catalog.sample import sample_marc_bytes

    data = sample_marc_bytes()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for record in MARCReader(io.BytesIO(data), to_unicode=True, force_utf8=True):
            if record is not None:
                count += 1
    return count / (time.perf_counter() - started)


def _fts5_ms(docs: int = 50_000, queries: int = 30) -> float:
    rng = random.Random(7)
    words = [f"w{n}" for n in range(5_000)]
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(body)")
    db.executemany(
        "INSERT INTO t(body) VALUES (?)",
        ((" ".join(rng.choices(words, k=12)),) for _ in range(docs)),
    )
    times = []
    for _ in range(queries):
        term = rng.choice(words)
        t0 = time.perf_counter()
        db.execute("SELECT rowid FROM t WHERE t MATCH ? ORDER BY rank LIMIT 20", (term,)).fetchall()
        times.append((time.perf_counter() - t0) * 1000)
    db.close()
    return statistics.median(times)


def _checkout_sql_ms(rounds: int = 300) -> float:
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, barcode TEXT UNIQUE, status TEXT)")
    db.execute(
        "CREATE TABLE loan (id INTEGER PRIMARY KEY, item_id INTEGER, patron_id INTEGER, "
        "due TEXT, renewals INTEGER)"
    )
    db.executemany(
        "INSERT INTO item(barcode, status) VALUES (?, 'available')",
        ((f"B{n}",) for n in range(10_000)),
    )
    times = []
    for n in range(rounds):
        t0 = time.perf_counter()
        db.execute("BEGIN")
        (item_id,) = db.execute("SELECT id FROM item WHERE barcode = ?", (f"B{n}",)).fetchone()
        db.execute(
            "INSERT INTO loan(item_id, patron_id, due, renewals) VALUES (?, ?, '2027-01-01', 0)",
            (item_id, n % 97),
        )
        db.execute("UPDATE item SET status = 'on_loan' WHERE id = ?", (item_id,))
        db.execute("COMMIT")
        times.append((time.perf_counter() - t0) * 1000)
    db.close()
    return statistics.median(times)


def _loopback_us(rounds: int = 2_000) -> float:
    """Median one-byte round trip to a forked echo process over 127.0.0.1 TCP."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    pid = os.fork()
    if pid == 0:  # the echo process
        try:
            conn, _ = listener.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while data := conn.recv(1):
                conn.sendall(data)
        finally:
            os._exit(0)
    listener.close()
    times = []
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(rounds):
            t0 = time.perf_counter()
            conn.sendall(b"x")
            conn.recv(1)
            times.append((time.perf_counter() - t0) * 1e6)
    os.waitpid(pid, 0)
    return statistics.median(times)


def _postgres_us(rounds: int = 500) -> float | None:
    """Median `SELECT 1` round trip to the local PostgreSQL server, or None without one."""
    try:
        import psycopg

        conn = psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=2)
    except Exception:  # no server here: the line says so
        return None
    times = []
    with conn:
        for _ in range(rounds):
            t0 = time.perf_counter()
            conn.execute("SELECT 1").fetchone()
            times.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(times)


def measure() -> dict[str, float]:
    return {
        "pymarc_records_per_s": _pymarc_rate(),
        "fts5_query_ms": _fts5_ms(),
        "checkout_sql_ms": _checkout_sql_ms(),
        "loopback_us": _loopback_us(),
        "postgres_us": _postgres_us(),
        "load_1min": os.getloadavg()[0],
    }


def line(figures: dict[str, float] | None = None) -> str:
    f = figures or measure()
    return (
        f"yardstick: pymarc parse {f['pymarc_records_per_s']:,.0f} records/s; "
        f"bare FTS5 query {f['fts5_query_ms']:.3f} ms; "
        f"bare check-out SQL {f['checkout_sql_ms']:.3f} ms; "
        f"loopback round trip {f['loopback_us']:.0f} us; "
        + (
            f"PostgreSQL SELECT 1 {f['postgres_us']:.0f} us; "
            if f.get("postgres_us") is not None
            else "PostgreSQL SELECT 1 n/a; "
        )
        + f"load {f['load_1min']:.2f}"
    )


def print_yardstick() -> dict[str, float]:
    """Measure and print the yardstick line; returns the figures for ratios."""
    figures = measure()
    print(line(figures), flush=True)
    return figures


if __name__ == "__main__":
    print_yardstick()
