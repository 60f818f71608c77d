"""PERF-RET-1: a retention run de-identifies 1,000,000 closed loans and purges 100,000
expired patrons (target: 60 s on PostgreSQL; FOLIO anonymises in hourly batches of 50,000).

In a fresh instance (SQLite unless --pg): N active patrons hold the closed
loans (returned last week, patron link still there, as with a 7-day delay),
M expired patrons (a card each, no loans) wait for the purge. Then, in the
same run:

1. the bare SQL of the same updates and deletes, in one transaction that is
   rolled back (the floor: no batches, no audit, no key store);
2. `quietshelf retention run`'s code (privacy.retention.run) on the two
   categories, in set-based batches of QUIETSHELF_RETENTION_BATCH.

Prints the machine's yardstick (bench/yardstick.py) first, then seconds,
rows/s, RSS along the way (flat memory), and a closing summary: yardstick,
load average before and after the timed part, the engine's figure beside the
bare SQL's, and the 60-second target met or not. Figures are printed, never
asserted. On a shared machine, run it under the benchmark lock:

    flock /tmp/bench.lock .venv/bin/python bench/bench_retention.py --pg  # PostgreSQL, full size
    flock /tmp/bench.lock .venv/bin/python bench/bench_retention.py       # SQLite, full size
    .venv/bin/python bench/bench_retention.py --pg --loans 100000 --patrons 10000 --active 2000
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import os
import resource
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from pgtemp import run_on_throwaway_postgres  # a sibling module: scripts run as files

REPO = Path(__file__).resolve().parent.parent
yard_line = ""  # the yardstick of this run, repeated in the summary


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def setup_data(n_loans: int, n_patrons: int, n_active: int) -> dict:
    from django.db import transaction
    from django.utils import timezone

    from quietshelf.catalog.models import BibRecord, Branch, Item, ItemType
    from quietshelf.circulation.models import Loan
    from quietshelf.patrons.models import Card, Patron
    from quietshelf.privacy.fields import blind_index
    from quietshelf.privacy.services import subjects_create_many

    t0 = time.perf_counter()
    branch = Branch.objects.create(code="B1", name="Bench")
    itype = ItemType.objects.create(code="BOOK", name="Book")
    leader = "00000nam a2200000 a 4500"
    record = BibRecord.objects.create(
        title="Bench title", leader=leader, marc_json={"leader": leader, "fields": []}
    )
    items = Item.objects.bulk_create(
        [
            Item(barcode=f"I{i:08d}", record=record, branch=branch, item_type=itype)
            for i in range(2000)
        ]
    )
    today = timezone.localdate()
    active = subjects_create_many(kind="patron", count=n_active)
    Patron.objects.bulk_create(
        [Patron(id=uuid.uuid4(), subject_id=s, home_branch=branch) for s in active],
        batch_size=5000,
    )
    active_ids = list(Patron.objects.values_list("pk", flat=True))
    expired_subjects = subjects_create_many(kind="patron", count=n_patrons)
    old = today - dt.timedelta(days=400)
    for start in range(0, n_patrons, 5000):
        chunk = expired_subjects[start : start + 5000]
        with transaction.atomic():
            patrons = Patron.objects.bulk_create(
                [
                    Patron(id=uuid.uuid4(), subject_id=s, home_branch=branch, expiry_date=old)
                    for s in chunk
                ]
            )
            Card.objects.bulk_create(
                [
                    Card(
                        id=uuid.uuid4(),
                        subject_id=p.subject_id,
                        patron=p,
                        barcode=f"C{start + k:010d}",
                        barcode_index=blind_index(
                            f"C{start + k:010d}", purpose="patrons.card", kind="barcode"
                        ),
                    )
                    for k, p in enumerate(patrons)
                ]
            )
    print(f"  patrons: {n_active:,} active, {n_patrons:,} expired (with cards)", flush=True)
    now = timezone.now()
    out_at = now - dt.timedelta(days=30)
    due_at = now - dt.timedelta(days=10)
    back = now - dt.timedelta(days=8)
    step = 20_000
    for start in range(0, n_loans, step):
        rows = [
            Loan(
                id=uuid.uuid4(),
                item=items[i % len(items)],
                patron_id=active_ids[i % len(active_ids)],
                branch=branch,
                checked_out_at=out_at + dt.timedelta(seconds=i % 86400),
                due_at=due_at,
                returned_at=back + dt.timedelta(seconds=i % 86400),
            )
            for i in range(start, min(n_loans, start + step))
        ]
        with transaction.atomic():
            Loan.objects.bulk_create(rows, batch_size=5000)
    print(
        f"  loans: {n_loans:,} closed, still linked; set-up {time.perf_counter() - t0:.0f} s",
        flush=True,
    )
    return {"expiry": old}


def bare_sql(cutoff_day: dt.date) -> tuple[float, float]:
    """The same updates and deletes as plain SQL, one transaction, rolled back.

    Returns (loans, patrons) seconds. On PostgreSQL the foreign-key checks are made
    immediate: the engine pays them at each batch's COMMIT, and a rolled-back
    transaction would otherwise never pay them (one check per deleted patron and
    referencing table: 18 of them), which made this floor look cheaper than it is.
    """
    from django.db import connection, transaction

    pg = connection.vendor == "postgresql"

    def day(col: str) -> str:
        if pg:
            return f"date_trunc('day', {col} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
        return f"strftime('%Y-%m-%d 00:00:00', {col})"

    expired = "SELECT id FROM patrons_patron WHERE expiry_date < %s"
    with transaction.atomic(), connection.cursor() as cur:
        if pg:
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        t0 = time.perf_counter()
        cur.execute(
            "UPDATE circulation_loan SET patron_id = NULL, "  # noqa: S608 - fixed SQL
            f"checked_out_at = {day('checked_out_at')}, due_at = {day('due_at')}, "
            f"returned_at = {day('returned_at')} "
            "WHERE patron_id IS NOT NULL AND returned_at IS NOT NULL"
        )
        t1 = time.perf_counter()
        cur.execute(
            "INSERT INTO patrons_retiredidentifier (kind, digest, retired_at) "  # noqa: S608
            f"SELECT 'card', barcode_index, %s FROM patrons_card WHERE patron_id IN ({expired})",
            [dt.datetime.now(dt.UTC), cutoff_day],
        )
        cur.execute(f"DELETE FROM patrons_card WHERE patron_id IN ({expired})", [cutoff_day])  # noqa: S608
        cur.execute(
            "UPDATE privacy_subject SET forgotten_at = %s WHERE id IN "  # noqa: S608
            "(SELECT subject_id FROM patrons_patron WHERE expiry_date < %s)",
            [dt.datetime.now(dt.UTC), cutoff_day],
        )
        cur.execute("DELETE FROM patrons_patron WHERE expiry_date < %s", [cutoff_day])
        t2 = time.perf_counter()
        transaction.set_rollback(True)
    return t1 - t0, t2 - t1


def settle() -> None:
    """Both timed parts start from the same clean tables. On PostgreSQL the bare SQL's
    rolled-back transaction leaves a dead version of every row it changed (a million
    loans) and their entries in every index of the table, which no retention run meets
    in production; VACUUM removes them, and ANALYZE gives both parts the same planner
    statistics. (SQLite's rollback restores the pages themselves.) Untimed."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        for table in ("circulation_loan", "patrons_patron", "patrons_card", "privacy_subject",
                      "patrons_retiredidentifier"):  # fmt: skip
            cur.execute(f"VACUUM (ANALYZE) {table}")  # noqa: S608 - fixed names
    print(f"  (untimed) VACUUM ANALYZE of the tables both parts write: "
          f"{time.perf_counter() - t0:.1f} s", flush=True)  # fmt: skip


def engine(n_loans: int, n_patrons: int) -> tuple[float, float]:
    from django.test import override_settings

    from quietshelf.privacy import retention

    rss = [_rss_mb()]
    marks = []

    def progress(report):
        rss.append(_rss_mb())
        marks.append((report.key, report.done, round(rss[-1])))

    t0 = time.perf_counter()
    with override_settings(QUIETSHELF_LOAN_DEIDENTIFY_DAYS=7):
        loans = retention.run(only=["closed loans"], progress=progress)
    t_loans = time.perf_counter() - t0
    t1 = time.perf_counter()
    patrons = retention.run(only=["expired patrons"], progress=progress)
    t_patrons = time.perf_counter() - t1
    total = t_loans + t_patrons
    done_l = loans.reports[0].done
    done_p = patrons.reports[0].done
    print(
        f"  engine: {done_l:,} loans de-identified in {t_loans:.1f} s "
        f"({done_l / t_loans:,.0f}/s); {done_p:,} patrons erased in {t_patrons:.1f} s "
        f"({done_p / t_patrons:,.0f}/s); total {total:.1f} s (target 60 s)"
    )
    step = max(1, len(marks) // 8)
    print(f"  RSS MB along the way: {[m[2] for m in marks[::step]]}; peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")  # fmt: skip
    assert done_l == n_loans and done_p == n_patrons, (done_l, done_p)
    return t_loans, t_patrons


def run(args) -> None:
    os.environ.setdefault("QUIETSHELF_ENV", "test")
    if "QUIETSHELF_HOME" not in os.environ:
        # a fresh folder (the SQLite database: some 500 MB at full size, a master key):
        # removed at exit
        fresh = tempfile.mkdtemp(prefix="qs-bench-retention-")
        os.environ["QUIETSHELF_HOME"] = fresh
        atexit.register(shutil.rmtree, fresh, ignore_errors=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quietshelf.config.settings")
    sys.path.insert(0, str(REPO / "src"))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    call_command("migrate", database="keystore", verbosity=0)
    print(
        f"PERF-RET-1 on {connection.vendor}: {args.loans:,} closed loans, "
        f"{args.patrons:,} expired patrons (load average {_load()})",
        flush=True,
    )
    setup_data(args.loans, args.patrons, args.active)
    cutoff = timezone.localdate() - dt.timedelta(days=30)
    settle()
    load_before = _load()
    bare_l, bare_p = bare_sql(cutoff)
    print(
        f"  bare SQL, same updates and deletes, one transaction (rolled back): loans "
        f"{bare_l:.1f} s, patrons {bare_p:.1f} s, total {bare_l + bare_p:.1f} s",
        flush=True,
    )
    settle()
    eng_l, eng_p = engine(args.loans, args.patrons)
    total, bare = eng_l + eng_p, bare_l + bare_p
    full = args.loans >= 1_000_000 and args.patrons >= 100_000
    verdict = ("met" if total <= 60 else "NOT met") if full else "n/a (not the full size)"
    print(
        f"PERF-RET-1 summary ({connection.vendor}): {yard_line}\n"
        f"  load average before the timed part {load_before}; after {_load()}\n"
        f"  engine {total:.1f} s (loans {eng_l:.1f} s, patrons {eng_p:.1f} s) against bare SQL "
        f"{bare:.1f} s (loans {bare_l:.1f} s, patrons {bare_p:.1f} s): {total / bare:.2f}x bare\n"
        f"  target <= 60 s for 1,000,000 loans + 100,000 patrons (stated for PostgreSQL, "
        f"run on both engines), on {connection.vendor}: {verdict}"
    )


def main() -> None:
    from yardstick import line, print_yardstick

    global yard_line
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--loans", type=int, default=1_000_000)
    parser.add_argument("--patrons", type=int, default=100_000)
    parser.add_argument("--active", type=int, default=20_000)
    parser.add_argument("--pg", action="store_true", help="on throw-away PostgreSQL databases")
    args = parser.parse_args()
    yard_line = line(print_yardstick())  # the machine's speed in the same run (#14)
    if args.pg:
        run_on_throwaway_postgres("qs_bench_retention", lambda: run(args))
    else:
        run(args)


if __name__ == "__main__":
    main()
