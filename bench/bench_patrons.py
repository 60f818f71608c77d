"""Patrons: load N CSV rows (rows/s, memory), then look-ups at N patrons (p95, selectors).

In a fresh instance (QUIETSHELF_HOME from scripts/bench.sh, SQLite unless
DATABASE_URL is set): writes a CSV of N fictional patrons, loads it with the
patron-load service (`quietshelf load-patrons`'s code path: rows read and
encrypted 500 at a time in a second process, written 4,000 rows per
transaction on SQLite and 500 on PostgreSQL), then times look-ups through
the selectors:

- by card barcode (`selectors.patron_by_card_barcode`, a blind-index look-up),
- by name prefix (`selectors.patron_search(kind="name")`, the token/prefix blind
  index, scoped and audited like a staff search).

Prints rows/s, peak RSS and RSS along the way (flat memory), p50/p95 of each
look-up. Figures are printed, never asserted.

    python bench/bench_patrons.py                  # 100,000 patrons
    python bench/bench_patrons.py --patrons 20000  # quicker
    python bench/bench_patrons.py --patrons 1000000  # the 1M figure (long: see docs)
    python bench/bench_patrons.py --pg               # on PostgreSQL
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pgtemp import run_on_throwaway_postgres  # a sibling module: scripts run as files

REPO = Path(__file__).resolve().parent.parent

SYLLABLES = [
    "al", "ber", "dal", "eid", "fjel", "gran", "haug", "is", "jor", "kvi", "lun", "mo",
    "nor", "ost", "rud", "sol", "tve", "ul", "vik", "ås", "bro", "stad", "heim", "lie",
]  # fmt: skip
GIVEN = ["Aud", "Brit", "Cato", "Dina", "Emil", "Frid", "Geir", "Hild", "Ivar", "Jorun", "Kai"]


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def family_name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def write_csv(path: Path, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)  # noqa: S311 - fictional benchmark data
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["sid", "given", "family", "mail", "phone", "card"])
        for i in range(n):
            w.writerow(
                [
                    f"U{i:08d}",
                    rng.choice(GIVEN),
                    family_name(rng),
                    f"u{i}@example.org",
                    f"+47 9{i % 10_000_000:07d}",
                    f"B{i:010d}",
                ]
            )


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def main() -> None:
    from yardstick import print_yardstick

    print_yardstick()  # the machine's speed in the same run as the figures (#14)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patrons", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=1000)
    parser.add_argument(
        "--pg",
        action="store_true",
        help="on PostgreSQL (127.0.0.1:5432, user postgres): throw-away databases, dropped after",
    )
    args = parser.parse_args()
    if args.pg:
        run_on_throwaway_postgres("qs_bench_patrons", lambda: run(args))
    else:
        run(args)


def run(args) -> None:
    os.environ.setdefault("QUIETSHELF_ENV", "test")
    os.environ.setdefault("QUIETSHELF_HOME", tempfile.mkdtemp(prefix="qs-bench-patrons-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quietshelf.config.settings")
    sys.path.insert(0, str(REPO / "src"))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    call_command("migrate", database="keystore", verbosity=0)
    from quietshelf.catalog.models import Branch
    from quietshelf.patrons import loads, selectors
    from quietshelf.patrons.models import PatronGroup

    Branch.objects.get_or_create(code="MAIN", defaults={"name": "Main"})
    PatronGroup.objects.get_or_create(code="student", defaults={"name": "Student"})
    workdir = Path(os.environ["QUIETSHELF_HOME"])
    path = workdir / "patrons.csv"
    write_csv(path, args.patrons)
    mapping = loads.parse_mapping(
        {
            "match_type": "institutional_id",
            "columns": {
                "sid": "identifier:institutional_id",
                "given": "given_name",
                "family": "family_name",
                "mail": "email",
                "phone": "phone",
                "card": "barcode",
            },
            "default_group": "student",
            "default_branch": "MAIN",
        }
    )
    samples: list[tuple[int, float]] = []

    class Progress:
        n = 0

        def update(self, k):
            before, self.n = self.n, self.n + k
            if self.n // 20_000 > before // 20_000:  # updated once per batch
                samples.append((self.n, round(_rss_mb(), 1)))

    print(f"engine: {connection.vendor}; patrons: {args.patrons:,}")
    t0, c0 = time.perf_counter(), time.process_time()
    with path.open("rb") as fh:
        report = loads.run_load(
            actor=None, stream=fh, fmt="csv", mapping=mapping, progress=Progress(), parallel=True
        )
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu, child_peak = child.ru_utime + child.ru_stime, child.ru_maxrss / 1e3
    print(f"load: {report.summary()}")
    print(
        f"load: {args.patrons / elapsed:,.0f} rows/s ({elapsed:.1f} s wall; "
        f"{args.patrons / cpu:,.0f} rows per CPU-second in this process); peak RSS {peak:.0f} MB; "
        f"RSS along the way {samples}; load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"load: encoding process {child_cpu:.1f} CPU-s, peak RSS {child_peak:.0f} MB; "
        f"{args.patrons / (cpu + child_cpu):,.0f} rows per CPU-second of both processes"
    )

    rng = random.Random(11)  # noqa: S311
    times = []
    for _ in range(args.lookups):
        i = rng.randrange(args.patrons)
        t = time.perf_counter()
        found = selectors.patron_by_card_barcode(f"B{i:010d}")
        times.append((time.perf_counter() - t) * 1000)
        assert found is not None
    print(
        f"barcode look-up: p50 {statistics.median(times):.2f} ms, p95 {pct(times, 0.95):.2f} ms "
        f"({args.lookups} look-ups)"
    )
    name_rng = random.Random(7)  # noqa: S311 - the same names as the file
    prefixes = []
    for _ in range(args.lookups):
        name_rng.choice(GIVEN)
        prefixes.append(family_name(name_rng)[:4])
    times, hits = [], []
    for prefix in prefixes[: args.lookups]:
        t = time.perf_counter()
        found = selectors.patron_search(actor=None, query=prefix, kind="name", limit=50)
        times.append((time.perf_counter() - t) * 1000)
        hits.append(len(found))
    print(
        f"name-prefix search (4 letters, first 50 hits): p50 {statistics.median(times):.1f} ms, "
        f"p95 {pct(times, 0.95):.1f} ms; median hits {statistics.median(hits):.0f}"
    )


if __name__ == "__main__":
    main()
