"""Reports: the circulation report by month x branch x item type over a year of facts.

In a fresh instance (QUIETSHELF_HOME from scripts/bench.sh, SQLite unless
--pg): writes N de-identified circulation facts (a year, 20 branches, 12 item
types, 5 patron groups, five kinds) in bulk with one INSERT ... SELECT, then
times, in the same run and on the same data:

- the bare GROUP BY (month, branch, item type, kind) as raw SQL, and
- the circulation report through the service (`services.run_report`: the
  ORM query, ids to labels, the table with its margins), staff form and
  publication form (suppression, k = 5).

Each is run --repeat times; best and median are printed beside the targets
(RPT-1 benchmark: <= 2 s on PostgreSQL at 20M facts, <= 5 s on SQLite at 2M).
Figures are printed, never asserted.

    python bench/bench_reports.py                    # 2,000,000 facts on SQLite
    python bench/bench_reports.py --pg               # 20,000,000 facts on PostgreSQL
    python bench/bench_reports.py --facts 200000     # quicker
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pgtemp import run_on_throwaway_postgres  # a sibling module: scripts run as files

REPO = Path(__file__).resolve().parent.parent
BRANCHES, TYPES, GROUPS = 20, 12, 5


def main() -> None:
    from yardstick import print_yardstick

    print_yardstick()  # the machine's speed in the same run as the figures (#14)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--facts", type=int, default=None, help="default 2M (SQLite), 20M (--pg)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--pg",
        action="store_true",
        help="on PostgreSQL (127.0.0.1:5432, user postgres): throw-away databases, dropped after",
    )
    args = parser.parse_args()
    if args.facts is None:
        args.facts = 20_000_000 if args.pg else 2_000_000
    if args.pg:
        run_on_throwaway_postgres("qs_bench_reports", lambda: run(args))
    else:
        run(args)


def _generate(connection, n: int) -> None:
    from quietshelf.catalog.models import Branch, ItemType
    from quietshelf.patrons.models import PatronGroup

    branches = [
        Branch.objects.create(code=f"B{i}", name=f"Branch {i:02d}").pk for i in range(BRANCHES)
    ]
    types = [ItemType.objects.create(code=f"T{i}", name=f"Type {i:02d}").pk for i in range(TYPES)]
    groups = [
        PatronGroup.objects.get_or_create(code=f"g{i}", defaults={"name": f"Group {i}"})[0].pk
        for i in range(GROUPS)
    ]
    b0, t0, g0 = min(branches), min(types), min(groups)
    assert branches == list(range(b0, b0 + BRANCHES)) and types == list(range(t0, t0 + TYPES))
    kinds = "'checkout','checkin','renewal','checkout','checkin','hold_placed','hold_filled'"
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            # bulk load: no per-row foreign-key triggers (the ids above exist), as a
            # restore would; the checks are back on for everything after
            cur.execute("SET session_replication_role = replica")
            cur.execute(
                f"""
                INSERT INTO circulation_circulationevent
                    (kind, day, item_id, record_id, item_type_id, branch_id, patron_group_id)
                SELECT (ARRAY[{kinds}])[1 + (i % 7)],
                       date '2025-01-01' + ((i * 7919) % 365)::int,
                       NULL, NULL,
                       {t0} + ((i / 7) % {TYPES}),
                       {b0} + ((i / 84) % {BRANCHES}),
                       {g0} + ((i / 1680) % {GROUPS})
                FROM generate_series(0::bigint, {n - 1}) AS s(i)
                """  # noqa: S608 - numbers only
            )
            cur.execute("SET session_replication_role = DEFAULT")
            cur.execute("VACUUM ANALYZE circulation_circulationevent")
        else:
            step = 500_000
            for start in range(0, n, step):
                stop = min(n, start + step)
                cur.execute(
                    f"""
                    WITH RECURSIVE s(i) AS (SELECT {start} UNION ALL SELECT i + 1 FROM s
                                            WHERE i < {stop - 1})
                    INSERT INTO circulation_circulationevent
                        (kind, day, item_id, record_id, item_type_id, branch_id, patron_group_id)
                    SELECT json_extract('[{kinds.replace("'", '"')}]', '$[' || (i % 7) || ']'),
                           date('2025-01-01', '+' || ((i * 7919) % 365) || ' days'),
                           NULL, NULL,
                           {t0} + ((i / 7) % {TYPES}),
                           {b0} + ((i / 84) % {BRANCHES}),
                           {g0} + ((i / 1680) % {GROUPS})
                    FROM s
                    """  # noqa: S608 - numbers only
                )
            cur.execute("ANALYZE")


BARE = {
    "postgresql": """
        SELECT date_trunc('month', day)::date, branch_id, item_type_id, kind, count(*)
        FROM circulation_circulationevent WHERE day >= %s AND day <= %s
        GROUP BY 1, 2, 3, 4""",
    "sqlite": """
        SELECT strftime('%%Y-%%m', day), branch_id, item_type_id, kind, count(*)
        FROM circulation_circulationevent WHERE day >= %s AND day <= %s
        GROUP BY 1, 2, 3, 4""",
}


def _time(fn, repeat: int) -> tuple[float, float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times), out


def run(args) -> None:
    os.environ.setdefault("QUIETSHELF_ENV", "test")
    os.environ.setdefault("QUIETSHELF_HOME", tempfile.mkdtemp(prefix="qs-bench-reports-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quietshelf.config.settings")
    sys.path.insert(0, str(REPO / "src"))
    import django

    django.setup()
    import datetime as dt

    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    call_command("migrate", database="keystore", verbosity=0)
    from quietshelf.reports import services

    print(f"engine: {connection.vendor}; facts: {args.facts:,}")
    t = time.perf_counter()
    _generate(connection, args.facts)
    print(f"generated in {time.perf_counter() - t:.1f} s; load average {os.getloadavg()[0]:.2f}")
    start, end = dt.date(2025, 1, 1), dt.date(2025, 12, 31)

    def bare():
        with connection.cursor() as cur:
            cur.execute(BARE[connection.vendor], [start, end])
            return cur.fetchall()

    params = {"from": "2025-01-01", "to": "2025-12-31", "period": "month"}
    staff = services.parse_request("circulation", {**params, "by": ["branch", "item_type"]})
    pub = services.parse_request(
        "circulation", {**params, "by": ["branch", "item_type"], "form": "publication"}
    )
    best, median, rows = _time(bare, args.repeat)
    print(f"bare GROUP BY: {len(rows):,} groups; best {best:.2f} s, median {median:.2f} s")
    best, median, result = _time(
        lambda: services.run_report(actor=None, request=staff), args.repeat
    )
    target = 2.0 if connection.vendor == "postgresql" else 5.0
    print(
        f"circulation report month x branch x item type (staff form): {len(result.table.rows):,} "
        f"rows; best {best:.2f} s, median {median:.2f} s (target <= {target:.0f} s)"
    )
    best, median, result = _time(lambda: services.run_report(actor=None, request=pub), args.repeat)
    print(
        f"same, publication form (k = 5): best {best:.2f} s, median {median:.2f} s; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    from quietshelf.reports.rollup import rollup_circulation

    t = time.perf_counter()
    written = rollup_circulation(today=dt.date(2026, 1, 10))
    print(
        f"nightly rollup of the 12 closed months: {written:,} month counts in "
        f"{time.perf_counter() - t:.1f} s (once; then one month a night)"
    )
    best, median, result = _time(
        lambda: services.run_report(actor=None, request=staff), args.repeat
    )
    print(
        f"circulation report month x branch x item type from the month counts (staff form): "
        f"{len(result.table.rows):,} rows; best {best:.2f} s, median {median:.2f} s "
        f"(target <= {target:.0f} s)"
    )
    best, median, result = _time(lambda: services.run_report(actor=None, request=pub), args.repeat)
    print(
        f"same, publication form (k = 5): best {best:.2f} s, median {median:.2f} s; "
        f"load average {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
