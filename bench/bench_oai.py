"""PERF-OAI-1: OAI-PMH ListRecords pages of 100 in marc21 and SRU searchRetrieve of 20
marcxml records at 100k records, beside the public search of the same terms.

Records are real-shaped MARC (bench/gen_marc.py: the demo catalogue's
records as templates) brought in by the real importer. The harvest takes
every page of a full ListRecords through Django's request handling (URL
routing, middleware, view, provider) and prints p50/p95 per page and the
process's resident memory every 100 pages (it must stay flat). Then each
query runs as SRU searchRetrieve (maximumRecords=20, marcxml) and as the
public search page (/?q=, 20 results) in the same run. Figures are
printed, never asserted. Run it under flock /tmp/bench.lock.

    python bench/bench_oai.py                   # 100,000 records, SQLite
    python bench/bench_oai.py --records 20000   # a quick run
    python bench/bench_oai.py --pg              # on a throw-away PostgreSQL database
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
# (public search words, the same as CQL)
QUERIES = [
    ("lantern", "lantern"),
    ("fjord", "cql.anywhere = fjord"),
    ("title:glacier", "dc.title = glacier"),
    ("history music", "history and music"),
    ("jazz", "jazz"),
    ("winter harbour", 'dc.title all "winter harbour"'),
    ("lighthouse", "lighthouse"),
    ("subject:jazz", "dc.subject = jazz"),
]


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def p95(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(0.95 * (len(values) - 1))))]


def setup(records: int, keep: bool = False) -> None:
    if "QUIETSHELF_HOME" not in os.environ:
        # a fresh folder holds ~650 MB at 100k records and a secret key: removed at exit
        # unless --keep (then reuse it with QUIETSHELF_HOME=<folder>)
        fresh = tempfile.mkdtemp(prefix="qs-bench-oai-")
        os.environ["QUIETSHELF_HOME"] = fresh
        if keep:
            print(f"keeping the instance in {fresh}", file=sys.stderr)
        else:
            atexit.register(shutil.rmtree, fresh, ignore_errors=True)
    os.environ.setdefault("QUIETSHELF_ENV", "test")
    os.environ["QUIETSHELF_SEARCH_RATE_PER_MINUTE"] = "0"  # measure the work, not the limit
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quietshelf.config.settings")
    sys.path.insert(0, str(REPO / "src"))
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from bench.gen_marc import generate
    from quietshelf.catalog import services
    from quietshelf.catalog.models import BibRecord

    if BibRecord.objects.count() >= records:
        # QUIETSHELF_HOME=<an earlier run's folder>: measure again without reloading
        print(f"reusing {BibRecord.objects.count():,} records", file=sys.stderr, flush=True)
        return

    path = Path(os.environ["QUIETSHELF_HOME"]) / "bench.mrc"
    t0 = time.perf_counter()
    generate(records, path)
    summary = services.import_marc(sources=[path], match_on=[])
    print(
        f"loaded {summary.created:,} records in {time.perf_counter() - t0:.0f} s",
        file=sys.stderr,
        flush=True,
    )


def harvest(client) -> None:
    from lxml import etree

    ns = {"o": "http://www.openarchives.org/OAI/2.0/"}
    args = {"verb": "ListRecords", "metadataPrefix": "marc21"}
    times, cpu, rss, count, pages = [], [], [], 0, 0
    started = time.perf_counter()
    while True:
        c0 = time.process_time()
        t0 = time.perf_counter()
        response = client.get("/oai?" + urlencode(args))
        body = response.content
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        tree = etree.fromstring(body)
        count += len(tree.findall("o:ListRecords/o:record", ns))
        pages += 1
        if pages % 100 == 1:
            rss.append(_rss_mb())
        token = tree.find(".//o:resumptionToken", ns)
        if token is None or not token.text:
            break
        args = {"verb": "ListRecords", "resumptionToken": token.text}
    wall = time.perf_counter() - started
    print(
        f"OAI ListRecords marc21, 100 a page: {count:,} records in {pages} pages, {wall:.1f} s; "
        f"page p50 {statistics.median(times):.1f} ms, p95 {p95(times):.1f} ms, "
        f"max {max(times):.1f} ms (PERF-OAI-1: p95 <= 200 ms; FOLIO: 604 ms)"
    )
    # CPU time of this process (SQLite runs in it): the cost apart from what
    # other jobs on a shared machine take.
    print(f"  page CPU p50 {statistics.median(cpu):.1f} ms, p95 {p95(cpu):.1f} ms")
    print("  RSS every 100 pages (MB): " + " ".join(f"{r:.0f}" for r in rss))


def searches(client, rounds: int) -> None:
    sru_times: dict[str, list[float]] = {}
    opac_times: dict[str, list[float]] = {}
    for words, cql in QUERIES:
        sru_url = "/sru?" + urlencode(
            {"version": "1.2", "operation": "searchRetrieve", "query": cql,
             "maximumRecords": "20", "recordSchema": "marcxml"}
        )  # fmt: skip
        opac_url = "/?" + urlencode({"q": words})
        for url in (sru_url, opac_url):  # warm
            assert client.get(url).status_code == 200
        for _ in range(rounds):
            t0 = time.perf_counter()
            client.get(sru_url)
            sru_times.setdefault(cql, []).append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            client.get(opac_url)
            opac_times.setdefault(words, []).append((time.perf_counter() - t0) * 1000)
    print(f"{'query (SRU CQL | public search)':<58} {'SRU p50/p95 ms':>16} {'OPAC p50/p95 ms':>16}")
    all_sru, all_opac = [], []
    for words, cql in QUERIES:
        s, o = sru_times[cql], opac_times[words]
        all_sru += s
        all_opac += o
        label = f"{cql} | {words}"
        print(
            f"{label:<58} {statistics.median(s):7.1f}/{p95(s):7.1f} "
            f"{statistics.median(o):7.1f}/{p95(o):7.1f}"
        )
    print(
        f"SRU searchRetrieve, 20 marcxml: p95 {p95(all_sru):.1f} ms over all queries "
        f"(PERF-OAI-1: <= 50 ms); public search page, 20 results: p95 {p95(all_opac):.1f} ms"
    )


def main() -> None:
    from yardstick import print_yardstick

    print_yardstick()  # the machine's speed in the same run as the figures (#14)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--pg", action="store_true", help="a throw-away PostgreSQL database")
    parser.add_argument("--keep", action="store_true", help="keep a fresh instance folder")
    args = parser.parse_args()
    if args.pg:
        sys.path.insert(0, str(REPO / "bench"))
        from pgtemp import run_on_throwaway_postgres

        run_on_throwaway_postgres("qs_bench_oai", lambda: run(args))
    else:
        run(args)


def run(args) -> None:
    setup(args.records, keep=args.keep)
    from django.db import connection
    from django.test import Client

    client = Client()
    print(
        f"database: {connection.vendor}; QUIETSHELF_HOME={os.environ['QUIETSHELF_HOME']}; "
        f"load average {os.getloadavg()}"
    )
    harvest(client)
    searches(client, args.rounds)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
