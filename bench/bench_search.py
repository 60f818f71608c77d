"""PERF-CAT-2: keyword search at 1M records, top 20 with facets.

Generates synthetic records straight into the tables (bulk SQL, not through
MARC import: that is PERF-CAT-1), indexes them with the real index code
(catalog.search.documents + the backend's bulk insert), then runs a fixed mix
of rare, mid-frequency, very common and two-term queries:

- through the search service (catalog.search.search: count + top 20 by
  relevance + all facets), and
- on the bare engine (the same MATCH / tsquery, ranked, LIMIT 20, no count,
  no facets),

printing median and p95 for each. Figures are printed, never asserted.

    python bench/bench_search.py                  # 1,000,000 records, SQLite
    python bench/bench_search.py --records 100000 # a quick run
    python bench/bench_search.py --records 200000 --pg  # throw-away databases
"""

from __future__ import annotations

import argparse
import atexit
import itertools
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pgtemp import run_on_throwaway_postgres  # a sibling module: scripts run as files

REPO = Path(__file__).resolve().parent.parent

RARE = ["quillwort", "zymurgy", "xerophyte", "vellichor", "petrichor"]  # ~ 5 to 50 records each
MID = ["jazz", "norway", "glacier"]  # ~ 1 %
COMMON = ["history", "music"]  # ~ 30 % and 20 %
QUERIES = [
    *RARE,
    *MID,
    *COMMON,
    "jazz norway",
    "history music",
    "history jazz",
    "glacier history",
    "title:jazz",
    "jazz*",
]
FORMATS = ["book"] * 70 + ["video"] * 8 + ["music"] * 8 + ["serial"] * 6 + ["map", "score", "audio"]
LANGS = ["nor"] * 50 + ["eng"] * 30 + ["swe", "dan", "ger", "fre", "nep", "sme"] * 3


def setup_django(home: str | None, keep: bool = False) -> None:
    if home:
        os.environ["QUIETSHELF_HOME"] = home
    elif "QUIETSHELF_HOME" not in os.environ:
        # a fresh folder holds ~800 MB at 1M records: removed at exit unless --keep
        fresh = tempfile.mkdtemp(prefix="qs-bench-search-")
        os.environ["QUIETSHELF_HOME"] = fresh
        if keep:
            print(f"keeping the instance in {fresh} (reuse it with --home)", file=sys.stderr)
        else:
            atexit.register(shutil.rmtree, fresh, ignore_errors=True)
    os.environ.setdefault("QUIETSHELF_ENV", "test")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quietshelf.config.settings")
    sys.path.append(str(REPO / "src"))
    import django

    django.setup()


def vocabulary(rng: random.Random, size: int) -> list[str]:
    letters = "abcdefghijklmnoprstuvy"
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(4, 9))))
    return sorted(words)


def generate(n: int, seed: int = 7) -> float:
    from django.db import connection, transaction

    from quietshelf.catalog.models import Branch
    from quietshelf.catalog.search.backends import get_backend
    from quietshelf.catalog.search.documents import build_doc

    rng = random.Random(seed)
    vocab = vocabulary(rng, 30_000)
    cum = list(itertools.accumulate(1 / (i + 1) for i in range(len(vocab))))  # Zipf-like
    surnames = vocabulary(rng, 5_000)
    subjects = [
        f"{a} {b}" for a, b in zip(vocabulary(rng, 2_000), vocabulary(rng, 2_000), strict=True)
    ]
    branches = [
        Branch.objects.get_or_create(code=f"B{i}", defaults={"name": f"Branch {i}"})[0].id
        for i in range(6)
    ]
    rare_every = {w: max(1, n // (5 * (k + 1) ** 2)) for k, w in enumerate(RARE)}
    backend = get_backend()
    vendor = connection.vendor
    started = time.perf_counter()
    batch = 5_000
    next_id = 1
    for start in range(0, n, batch):
        size = min(batch, n - start)
        rows = []
        for i in range(size):
            rid = next_id + i
            title_words = rng.choices(vocab, cum_weights=cum, k=rng.randint(2, 7))
            if rng.random() < 0.30:
                title_words.append("history")
            if rng.random() < 0.20:
                title_words.insert(0, "music")
            for w in MID:
                if rng.random() < 0.01:
                    title_words.append(w)
            for w, every in rare_every.items():
                if rid % every == 0 and rng.random() < 0.5:
                    title_words.append(w)
            rng.shuffle(title_words)
            rows.append(
                {
                    "id": rid,
                    "title": " ".join(title_words).capitalize(),
                    "subtitle": " ".join(rng.choices(vocab, cum_weights=cum, k=3))
                    if rng.random() < 0.3
                    else "",
                    "responsibility": "",
                    "sort_title": "",
                    "contributors": [
                        {
                            "name": f"{rng.choice(surnames).title()}, {rng.choice('ABCDEFGH')}.",
                            "role": "aut",
                        }
                        for _ in range(rng.randint(0, 2))
                    ],
                    "subjects": rng.sample(subjects, rng.randint(0, 3)),
                    "isbns": [],
                    "issns": [],
                    "publisher": rng.choice(surnames).title() + " forlag",
                    "year": rng.randint(1850, 2025) if rng.random() < 0.95 else None,
                    "language": rng.choice(LANGS),
                    "format": rng.choice(FORMATS),
                    "edition": "",
                    "series": [],
                    "notes": [" ".join(rng.choices(vocab, cum_weights=cum, k=12))]
                    if rng.random() < 0.3
                    else [],
                    "control_number": f"bench{rid}",
                    "marc_json": None,
                }
            )
        next_id += size
        with transaction.atomic(), connection.cursor() as cur:
            cur.executemany(
                "INSERT INTO catalog_bibrecord (id, control_number, control_source, leader, "
                "marc_json, title, subtitle, responsibility, sort_title, contributors, subjects, "
                "isbns, issns, publisher, publication_place, year, language, format, edition, "
                "series, notes, links, import_report, created_at, updated_at) VALUES (%s, %s, '', "
                "'00000nam a2200000 a 4500', '{}', %s, %s, '', '', %s, %s, '[]', '[]', %s, '', "
                "%s, %s, %s, '', '[]', %s, '[]', '[]', %s, %s)",
                [
                    (
                        r["id"],
                        r["control_number"],
                        r["title"],
                        r["subtitle"],
                        json.dumps(r["contributors"]),
                        json.dumps(r["subjects"]),
                        r["publisher"],
                        r["year"],
                        r["language"],
                        r["format"],
                        json.dumps(r["notes"]),
                        "2026-01-01 00:00:00+00:00",
                        "2026-01-01 00:00:00+00:00",
                    )
                    for r in rows
                ],
            )
            docs = []
            for r in rows:
                items = []
                if rng.random() < 0.4:
                    for _ in range(rng.randint(1, 3)):
                        items.append(
                            (rng.choice(branches), "available" if rng.random() < 0.6 else "on_loan")
                        )
                docs.append(build_doc(r, items))
            backend._insert(cur, docs)
        done = start + size
        if done % 100_000 == 0 or done == n:
            rate = done / (time.perf_counter() - started)
            print(f"  generated {done:,} records ({rate:,.0f}/s)", file=sys.stderr, flush=True)
    if vendor == "sqlite":
        with connection.cursor() as cur:
            cur.execute("INSERT INTO catalog_search_fts(catalog_search_fts) VALUES ('optimize')")
            cur.execute("ANALYZE")
    else:
        with connection.cursor() as cur:
            cur.execute(
                "SELECT setval(pg_get_serial_sequence('catalog_bibrecord', 'id'), %s)", [n + 1]
            )
            cur.execute("ANALYZE catalog_search")
            cur.execute("ANALYZE catalog_search_branch")
            cur.execute("ANALYZE catalog_bibrecord")
    return time.perf_counter() - started


def bare_engine(text: str):
    from django.db import connection

    from quietshelf.catalog.search.backends import get_backend
    from quietshelf.catalog.search.query import parse

    backend = get_backend()
    parsed = parse(text)
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute(
                "SELECT rowid FROM catalog_search_fts WHERE catalog_search_fts MATCH %s "
                "ORDER BY bm25(catalog_search_fts, 10.0, 5.0, 4.0, 3.0, 1.0) LIMIT 20",
                [backend.match_expression(parsed)],
            )
        else:
            literal = backend.tsquery_literal(parsed)
            cur.execute(
                "SELECT record_id FROM catalog_search WHERE doc @@ %s::tsquery "  # noqa: S608
                f"ORDER BY ts_rank_cd('{backend.RANK_WEIGHTS}', doc, %s::tsquery) DESC LIMIT 20",
                [literal, literal],
            )
        return cur.fetchall()


def service(text: str):
    from quietshelf.catalog.search import SearchQuery, search

    return search(SearchQuery(text=text, page_size=20))


def measure(fn, rounds: int, queries: list[str]) -> tuple[dict, dict]:
    """Wall and CPU milliseconds per query. CPU time is this process's own:
    on SQLite the engine's work too, so it shows the cost apart from what
    other jobs on a shared machine take (on PostgreSQL the server's work is
    in its own process and not in it)."""
    times: dict[str, list[float]] = {q: [] for q in queries}
    cpu: dict[str, list[float]] = {q: [] for q in queries}
    for q in queries:
        fn(q)  # warm
    for _ in range(rounds):
        for q in queries:
            c0 = time.process_time()
            t0 = time.perf_counter()
            fn(q)
            times[q].append((time.perf_counter() - t0) * 1000)
            cpu[q].append((time.process_time() - c0) * 1000)
    return times, cpu


def p95(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]


def main() -> None:
    from yardstick import print_yardstick

    print_yardstick()  # the machine's speed in the same run as the figures (#14)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--home", help="instance folder to reuse (default: a fresh temporary one)")
    parser.add_argument(
        "--query", action="append", help="run only this query of the mix (repeatable)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep a fresh instance folder (default: removed)"
    )
    parser.add_argument(
        "--pg",
        action="store_true",
        help="on PostgreSQL (127.0.0.1:5432, user postgres): throw-away databases, dropped after",
    )
    args = parser.parse_args()
    if args.pg:
        run_on_throwaway_postgres("qs_bench_search", lambda: run(args))
    else:
        run(args)


def run(args: argparse.Namespace) -> None:
    queries = args.query or QUERIES
    setup_django(args.home, keep=args.keep)
    home = os.environ["QUIETSHELF_HOME"]
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from quietshelf.catalog.models import BibRecord

    existing = BibRecord.objects.count()
    if existing == 0:
        print(
            f"generating {args.records:,} records on {connection.vendor} in {home}", file=sys.stderr
        )
        took = generate(args.records)
        print(f"generated and indexed in {took:.0f} s", file=sys.stderr)
    elif existing != args.records:
        sys.exit(f"{home} holds {existing:,} records, not {args.records:,}; use a fresh --home")
    from quietshelf.catalog.search import SearchQuery, search

    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nPERF-CAT-2 on {connection.vendor}, {args.records:,} records, {os.cpu_count()} cores")
    print(f"load average before: {load}")
    print(
        f"{'query':<18}{'matches':>9}{'service med':>13}{'p95':>8}{'cpu med':>9}"
        f"{'bare med':>10}{'p95':>8}"
    )
    svc, svc_cpu = measure(service, args.rounds, queries)
    bare, _ = measure(bare_engine, args.rounds, queries)
    all_svc: list[float] = []
    all_cpu: list[float] = []
    all_bare: list[float] = []
    for q in queries:
        total = search(SearchQuery(text=q)).total
        all_svc += svc[q]
        all_cpu += svc_cpu[q]
        all_bare += bare[q]
        print(
            f"{q:<18}{total:>9,}{statistics.median(svc[q]):>11.1f}ms{p95(svc[q]):>6.1f}ms"
            f"{statistics.median(svc_cpu[q]):>7.1f}ms"
            f"{statistics.median(bare[q]):>8.1f}ms{p95(bare[q]):>6.1f}ms"
        )
    print(
        f"{'ALL':<18}{'':>9}{statistics.median(all_svc):>11.1f}ms{p95(all_svc):>6.1f}ms"
        f"{statistics.median(all_cpu):>7.1f}ms"
        f"{statistics.median(all_bare):>8.1f}ms{p95(all_bare):>6.1f}ms"
    )
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average after: {load}")
    print("target: median <= 20 ms, p95 <= 150 ms (service, top 20 with facets)")


if __name__ == "__main__":
    main()
