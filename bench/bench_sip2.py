"""PERF-SIP-1: SIP2 self-check sessions and a sorter over loopback, beside the services.

In a fresh instance (SQLite unless --pg): one branch, one rule, fictional
titles and patrons with a PIN, one terminal account per session. Then:

1. the same circulation services called directly in this process (check-out,
   item read, check-in), one after another: p50/p95 per call;
2. `quietshelf sip2` started as its own process; --sessions concurrent
   terminal sessions (default 50), each logged in and its patron
   authenticated with card + PIN (not timed), then --rounds rounds of
   Checkout (11), Item Information (17) and Checkin (09) for its own items:
   p50/p95/p99 per message as the terminal sees it, and errors (a refusal, a
   missing or malformed reply); the issue asks p95 <= 100 ms and 0 errors;
3. a sorter: one connection sending check-ins back to back for --sorter items
   on loan: p99 (the issue asks <= 250 ms; FOLIO's edge-sip2 takes >= 4 s).

The server's per-terminal rate limit is raised for the run (it is a safety
valve, not what is measured: a real kiosk sends a message a second or so).
Figures are printed with the load average, never asserted.

    python bench/bench_sip2.py                     # SQLite
    python bench/bench_sip2.py --pg                # PostgreSQL (throw-away databases)
    python bench/bench_sip2.py --sessions 50 --rounds 20 --sorter 300
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from pgtemp import run_on_throwaway_postgres  # a sibling module: scripts run as files

REPO = Path(__file__).resolve().parent.parent
PIN = "4826"
PASSWORD = "bench-terminal-password"  # noqa: S105 - a throw-away bench instance
NOW = "20260101    120000"


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def fmt(values: list[float]) -> str:
    if not values:
        return "no samples"
    return (
        f"p50 {statistics.median(values):.1f} ms, p95 {pct(values, 0.95):.1f} ms, "
        f"p99 {pct(values, 0.99):.1f} ms (n={len(values)})"
    )


def main() -> None:
    from yardstick import print_yardstick

    print_yardstick()  # the machine's speed in the same run as the figures (#14)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--sorter", type=int, default=300)
    parser.add_argument("--threads", type=int, default=8, help="the server's database threads")
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="seconds a session waits between messages, ±50%% at random (a patron scanning "
        "the next item); 0: back to back, which measures the server's saturation instead",
    )
    parser.add_argument("--pg", action="store_true", help="on PostgreSQL (throw-away databases)")
    args = parser.parse_args()
    if args.pg:
        run_on_throwaway_postgres("qs_bench_sip2", lambda: run(args))
    else:
        run(args)


class Client:
    """A minimal SIP2 terminal: error detection on, one message at a time."""

    def __init__(self, port: int):
        self.port = port
        self.seq = 0

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def close(self) -> None:
        self.writer.close()

    async def call(self, command: str, fixed: list[str], fields: list[tuple[str, str]]):
        from quietshelf.sip2.protocol import codec
        from quietshelf.sip2.protocol.fields import RESPONSES

        raw = codec.format_message(
            command, fixed, fields, sequence=str(self.seq % 10), error_detection=True
        )
        self.seq += 1
        t0 = time.perf_counter()
        self.writer.write(raw)
        await self.writer.drain()
        reply = await self.reader.readuntil(b"\r")
        ms = (time.perf_counter() - t0) * 1000
        return codec.parse(reply, specs=RESPONSES), ms


def run(args) -> None:  # noqa: PLR0915 - a linear script
    os.environ.setdefault("QUIETSHELF_ENV", "test")
    os.environ.setdefault("QUIETSHELF_HOME", tempfile.mkdtemp(prefix="qs-bench-sip2-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quietshelf.config.settings")
    sys.path.insert(0, str(REPO / "src"))
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection, connections

    call_command("migrate", verbosity=0)
    call_command("migrate", database="keystore", verbosity=0)
    from quietshelf.catalog.models import BibRecord, Branch, Item, ItemType
    from quietshelf.circulation import services
    from quietshelf.patrons import services as patron_services
    from quietshelf.patrons.models import Patron, PatronGroup
    from quietshelf.privacy import keys
    from quietshelf.sip2.models import Terminal

    keys.startup_check()
    branch = Branch.objects.get_or_create(code="MAIN", defaults={"name": "Main"})[0]
    itype = ItemType.objects.get_or_create(code="BOOK", defaults={"name": "Book"})[0]
    group = PatronGroup.objects.get_or_create(code="adult", defaults={"name": "Adult"})[0]
    services.rule_save(actor=None, loan_period=21, fine_per_day_minor=500, max_loans=1000)
    per_session = args.rounds
    n_items = args.sessions * (per_session + 1) + args.sorter + 200
    leader = "00000nam a2200000 a 4500"
    records = BibRecord.objects.bulk_create(
        [
            BibRecord(leader=leader, marc_json={"leader": leader, "fields": []}, title=f"Bench {i}")
            for i in range(n_items)
        ]
    )
    items = Item.objects.bulk_create(
        [
            Item(record=r, barcode=f"S{i:09d}", branch=branch, item_type=itype)
            for i, r in enumerate(records)
        ]
    )
    pin_hash = make_password(PIN)
    terminal_hash = make_password(PASSWORD)
    patrons = []
    for n in range(args.sessions + 1):
        p = patron_services.patron_register(
            actor=None,
            given_name=f"Bench{n}",
            family_name="Reader",
            barcode=f"P{n:08d}",
            group=group,
            home_branch=branch,
        )
        patrons.append(p)
    Patron.objects.filter(pk__in=[p.pk for p in patrons]).update(pin_hash=pin_hash)
    Terminal.objects.bulk_create(
        [
            Terminal(name=f"kiosk{n}", branch=branch, password_hash=terminal_hash)
            for n in range(args.sessions)
        ]
        + [
            Terminal(
                name="sorter",
                branch=branch,
                password_hash=terminal_hash,
                allowed_messages="09,17",
                require_pin=False,
            )
        ]
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as c:
            c.execute("ANALYZE")
    pool = iter(items)
    # one more item per session for an untimed warm-up round
    session_items = [[next(pool) for _ in range(per_session + 1)] for _ in range(args.sessions)]
    sorter_items = [next(pool) for _ in range(args.sorter)]
    spare = list(pool)
    print(
        f"engine: {connection.vendor}; {len(items):,} items; {args.sessions} sessions x "
        f"{args.rounds} rounds of 11/17/09, {args.think:g} s (±50%) between messages; "
        f"sorter: {args.sorter} check-ins back to back; server threads {args.threads}"
    )

    # 1. the services called directly, one after another
    direct = {"checkout": [], "item": [], "checkin": []}
    baseline_patron = patrons[-1]
    for item in spare[:150]:
        t0 = time.perf_counter()
        services.checkout(
            actor=None, item_barcode=item.barcode, patron_id=baseline_patron.pk, branch_id=branch.pk
        )
        t1 = time.perf_counter()
        Item.objects.select_related("record", "branch").get(barcode=item.barcode)
        t2 = time.perf_counter()
        services.checkin(actor=None, item_barcode=item.barcode, branch_id=branch.pk)
        t3 = time.perf_counter()
        direct["checkout"].append((t1 - t0) * 1000)
        direct["item"].append((t2 - t1) * 1000)
        direct["checkin"].append((t3 - t2) * 1000)

    # the sorter's items go on loan now (through the services, as at the desk)
    for item in sorter_items:
        services.checkout(
            actor=None, item_barcode=item.barcode, patron_id=baseline_patron.pk, branch_id=branch.pk
        )
    connections.close_all()

    # 2. the server, as its own process
    env = dict(os.environ, QUIETSHELF_SIP2_RATE_PER_SECOND="100000", PYTHONUNBUFFERED="1")
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "quietshelf", "sip2", "--port", "0", "--threads", str(args.threads)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(server.stdout), daemon=True).start()
    port = 0
    deadline = time.monotonic() + 120
    while not port and time.monotonic() < deadline:
        for line in lines:
            m = re.search(r"listening on [^ ]+:(\d+)", line)
            if m:
                port = int(m.group(1))
        if server.poll() is not None:
            raise SystemExit("the SIP2 server did not start:\n" + "".join(lines))
        time.sleep(0.05)
    try:
        sip = asyncio.run(_sessions(port, args, patrons, session_items))
        sorter = asyncio.run(_sorter(port, sorter_items))
    finally:
        server.terminate()
        server.wait(timeout=60)

    load = os.getloadavg()
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 cores, shared)")
    print("services called directly (one at a time):")
    for name, values in direct.items():
        print(f"  {name:<9} {fmt(values)}")
    print(f"SIP2, {args.sessions} concurrent sessions (as each terminal sees it):")
    for name in ("checkout", "item", "checkin"):
        print(f"  {name:<9} {fmt(sip['lat'][name])}")
    every = sip["lat"]["checkout"] + sip["lat"]["item"] + sip["lat"]["checkin"]
    rate = len(every) / sip["wall"]
    print(f"  all       {fmt(every)}; errors {sip['errors']}; wall {sip['wall']:.1f} s, "
          f"{rate:.0f} messages/s; set-up (logins, PINs) {sip['setup']:.1f} s")  # fmt: skip
    print(f"sorter, check-in bursts on one connection: {fmt(sorter['lat'])}; "
          f"errors {sorter['errors']}")  # fmt: skip


async def _sessions(port: int, args, patrons, session_items) -> dict:
    import random

    rng = random.Random(19)  # noqa: S311 - pacing, not security

    async def think() -> None:
        if args.think > 0:
            await asyncio.sleep(args.think * rng.uniform(0.5, 1.5))

    lat: dict[str, list[float]] = {"checkout": [], "item": [], "checkin": []}
    errors = 0
    t_setup = time.perf_counter()
    clients = []

    async def start(n: int) -> Client:
        c = Client(port)
        await c.open()
        reply, _ = await c.call("93", ["0", "0"], [("CN", f"kiosk{n}"), ("CO", PASSWORD)])
        assert reply.fixed["ok"] == "1"
        reply, _ = await c.call(
            "23", ["001", NOW], [("AO", "MAIN"), ("AA", f"P{n:08d}"), ("AD", PIN)]
        )
        assert reply.get("CQ") == "Y", reply
        return c

    clients = await asyncio.gather(*(start(n) for n in range(args.sessions)))

    async def work(n: int, c: Client, items, record: bool = True) -> None:
        nonlocal errors
        card = f"P{n:08d}"
        for item in items:
            if record:
                await think()
            reply, ms = await c.call(
                "11", ["N", "N", NOW, " " * 18],
                [("AO", "MAIN"), ("AA", card), ("AB", item.barcode)],
            )  # fmt: skip
            errors += reply.fixed["ok"] != "1"
            if record:
                lat["checkout"].append(ms)
            if record:
                await think()
            reply, ms = await c.call("17", [NOW], [("AO", "MAIN"), ("AB", item.barcode)])
            errors += reply.fixed["circulation_status"] != "04"
            if record:
                lat["item"].append(ms)
            if record:
                await think()
            reply, ms = await c.call(
                "09", ["N", NOW, NOW], [("AP", "MAIN"), ("AO", "MAIN"), ("AB", item.barcode)]
            )
            errors += reply.fixed["ok"] != "1"
            if record:
                lat["checkin"].append(ms)

    # warm-up, untimed: every server thread has run each statement once
    await asyncio.gather(
        *(work(n, c, session_items[n][:1], record=False) for n, c in enumerate(clients))
    )
    setup = time.perf_counter() - t_setup
    t0 = time.perf_counter()
    results = await asyncio.gather(
        *(work(n, c, session_items[n][1:]) for n, c in enumerate(clients)),
        return_exceptions=True,
    )
    wall = time.perf_counter() - t0
    errors += sum(1 for r in results if isinstance(r, Exception))
    for c in clients:
        await c.close()
    return {"lat": lat, "errors": errors, "wall": wall, "setup": setup}


async def _sorter(port: int, items) -> dict:
    c = Client(port)
    await c.open()
    reply, _ = await c.call("93", ["0", "0"], [("CN", "sorter"), ("CO", PASSWORD)])
    assert reply.fixed["ok"] == "1"
    lat, errors = [], 0
    for item in items:
        reply, ms = await c.call(
            "09", ["N", NOW, NOW], [("AP", "MAIN"), ("AO", "MAIN"), ("AB", item.barcode)]
        )
        lat.append(ms)
        errors += reply.fixed["ok"] != "1"
    await c.close()
    return {"lat": lat, "errors": errors}


if __name__ == "__main__":
    main()
