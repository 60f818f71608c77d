"""Circulation: check-out/check-in service latency vs bare SQL, and PERF-CIRC-3.

In a fresh instance (QUIETSHELF_HOME from scripts/bench.sh, SQLite unless
--pg): one branch, one rule, fictional titles and patrons. Then:

1. check-out and check-in through the services (`circulation.services`),
   p50/p95 per call, against the bare SQL of the same reads and writes in one
   transaction, the statements the service sends written by hand (item and
   patron FOR UPDATE, blocks, fee balance and overdue count, holds, loan
   counts, loan insert, item update, the two availability updates of the
   search index, statistics event; check-in: item, loan with its fee check,
   reading-history consent, loan update, event, next hold, item, availability).
   Rules and calendars are cached by the service and read by neither side.
   The ratio service/bare is what the issue asks to be <= 3.
2. PERF-CIRC-3: check-out time for a patron with 1,000 open loans and 50
   holds against a patron with none (the issue asks ≤ 1.5x).

Figures are printed, never asserted.

    python bench/bench_circulation.py             # 300 cycles, SQLite
    python bench/bench_circulation.py --pg        # PostgreSQL (throw-away database)
    python bench/bench_circulation.py --cycles 1000
"""

# ruff: noqa: S608 - the bare SQL is built from constant table names, values are parameters
from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from pgtemp import run_on_throwaway_postgres  # a sibling module: scripts run as files

REPO = Path(__file__).resolve().parent.parent


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def fmt(values: list[float]) -> str:
    return f"p50 {statistics.median(values):.2f} ms, p95 {pct(values, 0.95):.2f} ms"


def main() -> None:
    from yardstick import print_yardstick

    print_yardstick()  # the machine's speed in the same run as the figures (#14)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=300)
    parser.add_argument("--busy-loans", type=int, default=1000)
    parser.add_argument("--busy-holds", type=int, default=50)
    parser.add_argument("--pg", action="store_true", help="on PostgreSQL (throw-away databases)")
    parser.add_argument(
        "--no-analyze", action="store_true", help="measure before planner statistics exist"
    )
    args = parser.parse_args()
    if args.pg:
        run_on_throwaway_postgres("qs_bench_circ", lambda: run(args))
    else:
        run(args)


def run(args) -> None:  # noqa: PLR0915 - a linear script
    os.environ.setdefault("QUIETSHELF_ENV", "test")
    if "QUIETSHELF_HOME" not in os.environ:
        # a folder of our own: removed at exit (it holds keys), never the caller's
        home = tempfile.mkdtemp(prefix="qs-bench-circ-")
        os.environ["QUIETSHELF_HOME"] = home
        atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quietshelf.config.settings")
    sys.path.insert(0, str(REPO / "src"))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    call_command("migrate", database="keystore", verbosity=0)
    from quietshelf.catalog.models import BibRecord, Branch, Item, ItemType
    from quietshelf.circulation import services
    from quietshelf.circulation.models import CirculationEvent, Hold, Loan
    from quietshelf.patrons import services as patron_services
    from quietshelf.patrons.models import PatronGroup

    branch = Branch.objects.get_or_create(code="MAIN", defaults={"name": "Main"})[0]
    itype = ItemType.objects.get_or_create(code="BOOK", defaults={"name": "Book"})[0]
    group = PatronGroup.objects.get_or_create(code="adult", defaults={"name": "Adult"})[0]
    services.rule_save(actor=None, loan_period=21, fine_per_day_minor=500, hold_limit=100)
    n_items = args.cycles * 2 + args.busy_loans + args.busy_holds + 10
    leader = "00000nam a2200000 a 4500"
    records = BibRecord.objects.bulk_create(
        [
            BibRecord(leader=leader, marc_json={"leader": leader, "fields": []}, title=f"Bench {i}")
            for i in range(n_items)
        ]
    )
    items = Item.objects.bulk_create(
        [
            Item(record=r, barcode=f"B{i:09d}", branch=branch, item_type=itype)
            for i, r in enumerate(records)
        ]
    )
    empty = patron_services.patron_register(
        actor=None, given_name="Una", family_name="Tom", barcode="P-EMPTY", group=group
    )
    busy = patron_services.patron_register(
        actor=None, given_name="Mange", family_name="Lan", barcode="P-BUSY", group=group
    )
    now = timezone.now()
    pool = iter(items)
    busy_items = [next(pool) for _ in range(args.busy_loans)]
    Loan.objects.bulk_create(
        [
            Loan(
                item=i, patron=busy, patron_group=group, branch=branch,
                checked_out_at=now, due_at=now + timezone.timedelta(days=21),
            )
            for i in busy_items
        ]
    )  # fmt: skip
    Item.objects.filter(pk__in=[i.pk for i in busy_items]).update(status="on_loan")
    Hold.objects.bulk_create(
        [
            Hold(record_id=next(pool).record_id, patron=busy, patron_group=group,
                 pickup_branch=branch, placed_at=now)
            for _ in range(args.busy_holds)
        ]
    )  # fmt: skip
    free = list(pool)
    from quietshelf.catalog.search import index_records

    record_ids = [r.pk for r in records]
    for start in range(0, len(record_ids), 1000):
        with transaction.atomic():
            index_records(record_ids[start : start + 1000])
    if connection.vendor == "postgresql" and not args.no_analyze:
        # planner statistics for the bulk-loaded tables, as autovacuum would give them
        with connection.cursor() as c:
            c.execute("ANALYZE")
    print(
        f"engine: {connection.vendor}; {len(items):,} items; busy patron: "
        f"{args.busy_loans:,} open loans, {args.busy_holds} holds; {args.cycles} cycles"
    )

    def service_cycle(item, patron):
        t0 = time.perf_counter()
        c0 = time.process_time()
        services.checkout(
            actor=None, item_barcode=item.barcode, patron_id=patron.pk, branch_id=branch.pk
        )
        t1 = time.perf_counter()
        c1 = time.process_time()
        services.checkin(actor=None, item_barcode=item.barcode, branch_id=branch.pk)
        t2 = time.perf_counter()
        c2 = time.process_time()
        return (t1 - t0) * 1000, (t2 - t1) * 1000, (c1 - c0) * 1000, (c2 - c1) * 1000

    q = connection.ops.quote_name
    loan_t, item_t, event_t = (
        Loan._meta.db_table,
        Item._meta.db_table,
        "circulation_circulationevent",
    )
    assert CirculationEvent._meta.db_table == event_t
    fu = " FOR UPDATE" if connection.features.has_select_for_update else ""
    uid = (lambda u: u.hex) if connection.vendor == "sqlite" else (lambda u: u)

    sk = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    avail_sql = [
        "UPDATE catalog_search_branch SET available = EXISTS (SELECT 1 FROM "
        f"{q(item_t)} i WHERE i.record_id = catalog_search_branch.record_id AND "
        "i.branch_id = catalog_search_branch.branch_id AND i.status = 'available') "
        "WHERE record_id IN (%s)",
        f"UPDATE catalog_search SET available = EXISTS (SELECT 1 FROM {q(item_t)} i "
        "WHERE i.record_id = catalog_search.record_id AND i.status = 'available') "
        "WHERE record_id IN (%s)",
    ]

    def bare_cycle(item, patron):
        """The statements the service sends, written by hand (rules and calendars are
        cached by the service, so neither side reads them per call)."""
        pid = uid(patron.pk)
        sid = uid(patron.subject_id)
        t0 = time.perf_counter()
        c0 = time.process_time()
        with transaction.atomic(), connection.cursor() as c:
            c.execute(
                "SELECT i.id, i.status, i.item_type_id, i.record_id, t.circulates, r.title "
                f"FROM {q(item_t)} i JOIN catalog_itemtype t ON t.id = i.item_type_id "
                f"JOIN catalog_bibrecord r ON r.id = i.record_id WHERE i.barcode = %s{fu}",
                [item.barcode],
            )
            iid, _status, type_id, rec, _circ, _title = c.fetchone()
            c.execute(
                f"SELECT id, status, group_id, expiry_date FROM patrons_patron WHERE id = %s{fu}",
                [pid],
            )
            c.fetchone()
            c.execute(
                "SELECT id FROM patrons_block WHERE patron_id = %s AND lifted_at IS NULL", [pid]
            )
            c.fetchall()
            c.execute(
                "SELECT (SELECT SUM(t.amount_minor) FROM circulation_feetransaction t "
                "JOIN circulation_fee f ON f.id = t.fee_id WHERE f.patron_id = %s "
                "AND f.resolved_at IS NULL), (SELECT COUNT(*) FROM circulation_loan "
                "WHERE patron_id = %s AND returned_at IS NULL AND due_at < %s)",
                [pid, pid, timezone.now()],
            )
            c.fetchone()
            c.execute(
                "SELECT id, item_id, patron_id, status FROM circulation_hold "
                "WHERE record_id = %s AND status IN ('waiting', 'in_transit', 'on_shelf') "
                "AND (patron_id = %s OR item_id = %s)",
                [rec, pid, iid],
            )
            c.fetchall()
            c.execute(
                f"SELECT COUNT(*), SUM(CASE WHEN it.item_type_id = %s THEN 1 ELSE 0 END) "
                f"FROM {q(loan_t)} l JOIN {q(item_t)} it ON it.id = l.item_id "
                "WHERE l.patron_id = %s AND l.returned_at IS NULL",
                [type_id, pid],
            )
            c.fetchone()
            lid = uid(uuid.uuid4())
            ts = timezone.now()
            c.execute(
                f"INSERT INTO {q(loan_t)} (id, item_id, patron_id, patron_group_id, branch_id, "
                "checked_out_at, due_at, renewals, overridden) VALUES (%s,%s,%s,%s,%s,%s,%s,0,%s)",
                [lid, iid, pid, group.pk, branch.pk, ts, ts, False],
            )
            c.execute(
                f"UPDATE {q(item_t)} SET status = 'on_loan', updated_at = %s WHERE id = %s",
                [ts, iid],
            )
            for sql in avail_sql:
                c.execute(sql, [rec])
            c.execute(
                f"INSERT INTO {q(event_t)} "
                "(kind, day, item_id, record_id, item_type_id, branch_id, patron_group_id) "
                "VALUES ('checkout', %s, %s, %s, %s, %s, %s)",
                [ts.date(), iid, rec, type_id, branch.pk, group.pk],
            )
        t1 = time.perf_counter()
        c1 = time.process_time()
        with transaction.atomic(), connection.cursor() as c:
            c.execute(
                "SELECT i.id, i.branch_id, i.record_id, r.title "
                f"FROM {q(item_t)} i JOIN catalog_bibrecord r ON r.id = i.record_id "
                f"WHERE i.barcode = %s{fu}",
                [item.barcode],
            )
            c.fetchone()
            c.execute(
                f"SELECT l.id, l.due_at, l.patron_id, EXISTS (SELECT 1 FROM circulation_fee f "
                f"WHERE f.loan_id = l.id) FROM {q(loan_t)} l "
                f"WHERE l.item_id = %s AND l.returned_at IS NULL{fu}",
                [iid],
            )
            c.fetchone()
            c.execute(
                "SELECT 1 FROM privacy_consentrecord WHERE scope = 'reading_history' "
                "AND subject_id = %s AND withdrawn_at IS NULL LIMIT 1",
                [sid],
            )
            c.fetchall()
            c.execute(
                f"UPDATE {q(loan_t)} SET returned_at = %s, return_branch_id = %s, patron_id = NULL "
                "WHERE id = %s",
                [ts, branch.pk, lid],
            )
            c.execute(
                f"INSERT INTO {q(event_t)} "
                "(kind, day, item_id, record_id, item_type_id, branch_id, patron_group_id) "
                "VALUES ('checkin', %s, %s, %s, %s, %s, %s)",
                [ts.date(), iid, rec, type_id, branch.pk, group.pk],
            )
            c.execute(
                "SELECT id FROM circulation_hold WHERE record_id = %s AND status = 'waiting' "
                "AND (item_level = %s OR item_id = %s) "
                f"ORDER BY placed_at, id LIMIT 1{sk}",
                [rec, False, iid],
            )
            c.fetchall()
            c.execute(
                f"UPDATE {q(item_t)} SET status = 'available', updated_at = %s WHERE id = %s",
                [ts, iid],
            )
            for sql in avail_sql:
                c.execute(sql, [rec])
        t2 = time.perf_counter()
        c2 = time.process_time()
        return (t1 - t0) * 1000, (t2 - t1) * 1000, (c1 - c0) * 1000, (c2 - c1) * 1000

    # warm-up (CPU: this process's CPU time per call, less sensitive to a busy machine)
    for it in free[:5]:
        service_cycle(it, empty)
        bare_cycle(it, empty)
    work = free[5 : 5 + args.cycles]
    svc_out, svc_in, bare_out, bare_in, busy_out = [], [], [], [], []
    cpu = {"svc_out": [], "svc_in": [], "bare_out": [], "bare_in": [], "busy_out": []}
    for it in work:
        o, i, co, ci = service_cycle(it, empty)
        svc_out.append(o)
        svc_in.append(i)
        cpu["svc_out"].append(co)
        cpu["svc_in"].append(ci)
        o, i, co, ci = bare_cycle(it, empty)
        bare_out.append(o)
        bare_in.append(i)
        cpu["bare_out"].append(co)
        cpu["bare_in"].append(ci)
        o, _i, co, _ci = service_cycle(it, busy)
        busy_out.append(o)
        cpu["busy_out"].append(co)

    so, si = statistics.median(svc_out), statistics.median(svc_in)
    bo, bi = statistics.median(bare_out), statistics.median(bare_in)
    print(f"service check-out: {fmt(svc_out)}")
    print(f"service check-in:  {fmt(svc_in)}")
    print(f"bare SQL check-out: {fmt(bare_out)}")
    print(f"bare SQL check-in:  {fmt(bare_in)}")
    print(
        f"ratio service/bare (p50): check-out {so / bo:.1f}x, check-in {si / bi:.1f}x (target <= 3)"
    )
    bz = statistics.median(busy_out)
    print(
        f"PERF-CIRC-3: check-out, patron with {args.busy_loans:,} loans "
        f"and {args.busy_holds} holds: "
        f"{fmt(busy_out)}; patron with none: p50 {so:.2f} ms; ratio {bz / so:.2f}x"
    )
    m = {k: statistics.median(v) for k, v in cpu.items()}
    print(
        "CPU time of this process, p50: service check-out "
        f"{m['svc_out']:.2f} ms / bare {m['bare_out']:.2f} ms = "
        f"{m['svc_out'] / m['bare_out']:.1f}x; "
        f"check-in {m['svc_in']:.2f} / {m['bare_in']:.2f} ms = {m['svc_in'] / m['bare_in']:.1f}x; "
        f"busy patron check-out {m['busy_out']:.2f} ms = {m['busy_out'] / m['svc_out']:.2f}x"
    )
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
