"""Privacy office at N patrons: breach scope and notices, erasure, the self-audit.

In a fresh instance (SQLite unless --pg): loads N fictional patrons with the
patron-load service (bench_patrons' file), then times

- a breach incident whose scope reaches everyone: the affected count, then
  queueing the reviewed privacy notice for all of them through the outbox;
- erasing patrons one by one through `patron_erasure_execute` (exceptions,
  case, kernel erasure): p50/p95 per erasure;
- `quietshelf privacy-audit`'s checks (selfaudit.run) once.

Figures are printed, never asserted.

    python bench/bench_privacyoffice.py                  # 20,000 patrons
    python bench/bench_privacyoffice.py --patrons 100000 --pg
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_patrons import pct, write_csv  # siblings: scripts run as files
from pgtemp import run_on_throwaway_postgres

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    from yardstick import print_yardstick

    print_yardstick()  # the machine's speed in the same run as the figures (#14)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patrons", type=int, default=20_000)
    parser.add_argument("--erasures", type=int, default=200)
    parser.add_argument("--pg", action="store_true", help="on a throw-away PostgreSQL database")
    args = parser.parse_args()
    if args.pg:
        run_on_throwaway_postgres("qs_bench_privacyoffice", lambda: run(args))
    else:
        run(args)


def run(args) -> None:
    os.environ.setdefault("QUIETSHELF_ENV", "test")
    os.environ.setdefault("QUIETSHELF_HOME", tempfile.mkdtemp(prefix="qs-bench-po-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quietshelf.config.settings")
    sys.path.insert(0, str(REPO / "src"))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    call_command("migrate", database="keystore", verbosity=0)
    from quietshelf.catalog.models import Branch
    from quietshelf.patrons import loads
    from quietshelf.patrons.models import Patron, PatronGroup
    from quietshelf.privacyoffice import selectors, selfaudit, services

    Branch.objects.get_or_create(code="MAIN", defaults={"name": "Main"})
    PatronGroup.objects.get_or_create(code="student", defaults={"name": "Student"})
    path = Path(os.environ["QUIETSHELF_HOME"]) / "patrons.csv"
    write_csv(path, args.patrons)
    mapping = loads.parse_mapping(
        {
            "match_type": "institutional_id",
            "columns": {
                "sid": "identifier:institutional_id",
                "given": "given_name",
                "family": "family_name",
                "mail": "email",
                "card": "barcode",
            },
            "default_group": "student",
            "default_branch": "MAIN",
        }
    )
    with path.open("rb") as fh:
        loads.run_load(actor=None, stream=fh, fmt="csv", mapping=mapping, parallel=True)
    print(f"engine: {connection.vendor}; patrons: {Patron.objects.count():,}")

    now = timezone.now()
    incident = services.breach_record(
        actor=None,
        title="Bench incident",
        what_happened="A benchmark.",
        discovered_at=now,
        window_start=now - dt.timedelta(days=1),
        window_end=now + dt.timedelta(minutes=1),
        data_categories=["identity", "contact"],
    )
    t = time.perf_counter()
    affected = selectors.breach_get(actor=None, incident_id=incident.pk).affected
    count_ms = (time.perf_counter() - t) * 1000
    services.breach_review_notice(
        actor=None, incident_id=incident.pk, headline="Bench", text="A benchmark notice."
    )
    t = time.perf_counter()
    result = services.breach_send_notices(actor=None, incident_id=incident.pk)
    send_s = time.perf_counter() - t
    print(
        f"breach: affected count {affected:,} in {count_ms:.0f} ms; {result.queued:,} notices "
        f"queued in {send_s:.1f} s ({result.queued / send_s:,.0f}/s); "
        f"load average {os.getloadavg()[0]:.1f}"
    )

    ids = list(Patron.objects.order_by("?").values_list("pk", flat=True)[: args.erasures])
    times = []
    for pid in ids:
        t = time.perf_counter()
        services.patron_erasure_execute(actor=None, patron_id=pid, reason="account_expired")
        times.append((time.perf_counter() - t) * 1000)
    print(
        f"erasure: {len(times)} one by one, p50 {statistics.median(times):.1f} ms, "
        f"p95 {pct(times, 0.95):.1f} ms; load average {os.getloadavg()[0]:.1f}"
    )

    t = time.perf_counter()
    report = selfaudit.run()
    print(
        f"privacy-audit: {len(report.findings)} checks in {time.perf_counter() - t:.1f} s "
        f"(score {report.score}); load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
