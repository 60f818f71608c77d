"""PERF-CAT-1: MARC import end to end (parse, store, index), 100k records.

Generates the records with bench/gen_marc.py (shapes of the real records),
then imports them with `quietshelf import-marc`'s service on SQLite and, when
the server answers, on PostgreSQL (127.0.0.1:5432, user postgres, a
throw-away database), each in a fresh instance in a subprocess. Prints
records/s, peak memory (max RSS) and RSS along the way (flat memory), beside
pymarc's bare parse rate of the same file and FOLIO's published figure
(about 44 records/s). Figures are printed, never asserted.

    python bench/bench_import.py                    # 100,000 records
    python bench/bench_import.py --records 20000    # quicker
    python bench/bench_import.py --records 20000 --db postgres --profile /tmp/pg.prof

On PostgreSQL it also prints the CPU time of the server process that served
the import's connection (read from /proc when the server is on this host),
so the client's and the server's shares of the work can be told apart.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FOLIO_RECORDS_PER_S = 44
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def _backend_cpu_seconds(pid: int | None) -> float | None:
    """utime + stime of a local PostgreSQL backend process (None when not readable)."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def worker(path: str, profile: str | None = None) -> None:
    """Runs in a subprocess with QUIETSHELF_HOME / DATABASE_URL set: migrate, import, report."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quietshelf.config.settings")
    sys.path.insert(0, str(REPO / "src"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db import connection

    from quietshelf.catalog import services

    backend_pid = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            backend_pid = cur.fetchone()[0]

    samples: list[tuple[int, float]] = []
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        if not samples or done - samples[-1][0] >= 10_000:
            samples.append((done, round(_rss_mb(), 1)))

    start_rss = _rss_mb()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    server0 = _backend_cpu_seconds(backend_pid)
    c0 = time.process_time()
    t0 = time.perf_counter()
    if profiler:
        profiler.enable()
    summary = services.import_marc(sources=[path], progress=progress, match_on=["001+003"])
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - c0
    server1 = _backend_cpu_seconds(backend_pid)
    server_cpu = None if server0 is None or server1 is None else round(server1 - server0, 2)
    if profiler:
        profiler.dump_stats(profile)
    print(
        json.dumps(
            {
                "records": summary.created + summary.updated,
                "items": summary.items,
                "errors": len(summary.errors),
                "seconds": round(elapsed, 2),
                "rate": round((summary.created + summary.updated) / elapsed, 1),
                "cpu_seconds": round(cpu, 2),
                "cpu_rate": round((summary.created + summary.updated) / cpu, 1),
                "server_cpu_seconds": server_cpu,
                "start_rss_mb": round(start_rss, 1),
                "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3, 1),
                "rss_along": samples,
            }
        )
    )


def bare_parse_rate(path: Path) -> tuple[float, float]:
    """pymarc's MARCReader over the file: (records/s by the clock, by CPU time)."""
    from pymarc import MARCReader

    t0, c0 = time.perf_counter(), time.process_time()
    n = 0
    with open(path, "rb") as fh:
        for rec in MARCReader(fh, to_unicode=True, force_utf8=True):
            n += rec is not None
    return n / (time.perf_counter() - t0), n / (time.process_time() - c0)


def postgres_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001
        return False


def run_db(
    label: str, path: Path, database_url: str | None, profile: str | None = None
) -> dict | None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["QUIETSHELF_HOME"] = tempfile.mkdtemp(prefix="qs-bench-import-")
    env["QUIETSHELF_ENV"] = env.get("QUIETSHELF_ENV", "test")
    if database_url:
        env["DATABASE_URL"] = database_url
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", str(path)]
            + (["--profile", profile] if profile else []),
            env=env,
            capture_output=True,
            text=True,
        )
    finally:
        shutil.rmtree(env["QUIETSHELF_HOME"], ignore_errors=True)
    if proc.returncode != 0:
        print(f"{label}: failed\n{proc.stderr[-2000:]}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def report(label: str, r: dict | None) -> None:
    if not r:
        return
    along = r["rss_along"][:: max(1, len(r["rss_along"]) // 6)]
    along_text = ", ".join(f"{n // 1000}k:{mb:.0f}" for n, mb in along)
    server = ""
    if r.get("server_cpu_seconds") is not None:
        server = (
            f"; server backend CPU {r['server_cpu_seconds']} s (client {r['cpu_seconds']} s, "
            f"together {r['records'] / max(0.01, r['cpu_seconds'] + r['server_cpu_seconds']):,.0f}"
            " records per CPU-second)"
        )
    print(
        f"{label}: {r['records']:,} records, {r['items']:,} items in {r['seconds']} s = "
        f"{r['rate']:,.0f} records/s (target >= 1,000); by this process's CPU time "
        f"{r['cpu_rate']:,.0f} records/s; max RSS {r['max_rss_mb']:.0f} MB; "
        f"RSS MB along the import: {along_text}{server}; "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )


def main() -> None:
    from yardstick import print_yardstick

    print_yardstick()  # the machine's speed in the same run as the figures (#14)
    parser = argparse.ArgumentParser(description="PERF-CAT-1 import benchmark")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--file", help="use this MARC file instead of generating one")
    parser.add_argument(
        "--db", choices=("both", "sqlite", "postgres"), default="both", help="which databases"
    )
    parser.add_argument("--no-postgres", action="store_true", help="the same as --db sqlite")
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="cProfile the import (not the migration) into FILE (FILE.sqlite / FILE.postgres)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.profile)
        return
    if args.no_postgres:
        args.db = "sqlite"
    sys.path.insert(0, str(REPO / "bench"))
    cleanup = None
    if args.file:
        path = Path(args.file)
    else:
        from gen_marc import generate

        cleanup = tempfile.mkdtemp(prefix="qs-bench-marc-")
        atexit.register(shutil.rmtree, cleanup, True)
        path = Path(cleanup) / "bench.mrc"
        t0 = time.perf_counter()
        generate(args.records, path)
        print(f"generated {args.records} records ({path.stat().st_size / 1e6:.1f} MB) "
              f"in {time.perf_counter() - t0:.1f} s")  # fmt: skip
    bare, bare_cpu = bare_parse_rate(path)
    print(
        f"pymarc bare parse: {bare:,.0f} records/s, {bare_cpu:,.0f} by CPU time (the limit); "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    print(f"FOLIO published: ~{FOLIO_RECORDS_PER_S} records/s")
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )

    def profile_for(db: str) -> str | None:
        return f"{args.profile}.{db}" if args.profile else None

    if args.db in ("both", "sqlite"):
        report("SQLite", run_db("SQLite", path, None, profile_for("sqlite")))
    if args.db in ("both", "postgres") and not postgres_reachable():
        print("PostgreSQL: not reachable on 127.0.0.1:5432, skipped")
    elif args.db in ("both", "postgres"):
        import psycopg

        name = f"qs_bench_import_{os.getpid()}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            report(
                "PostgreSQL",
                run_db(
                    "PostgreSQL",
                    path,
                    f"postgres://postgres@127.0.0.1:5432/{name}",
                    profile_for("postgres"),
                ),
            )
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
