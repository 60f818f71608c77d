"""Load driver for the circulation API: a random check-out / check-in mix over HTTP.

Standard library only (asyncio for the clients and their think time,
http.client with keep-alive connections for the requests, run in a thread
pool with one thread per client). Each client, in a loop, either checks out a
random shelved item to a random patron (by card barcode, as a self-check
machine scans it) or checks in a random item on loan, 50/50, and moves the
barcode between the two pools by the answer (an item trapped for a hold or
sent to another branch leaves the pools, as it leaves the shelf).

Think time: each client starts its next transaction on a schedule with
exponentially distributed gaps averaging `clients / offered_rate` seconds
(so 20 clients offer 50 transactions/s), sleeping for whatever the server
left of the gap; `--closed` gives no think time (the next request leaves as
soon as the answer arrives). Latency is measured by the client from sending
the request to reading the whole answer.

    python bench/circ/driver.py --url http://127.0.0.1:8000 --data DIR --clients 20
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import http.client
import json
import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

CHECKOUT = "/api/v1/circulation/checkout"
CHECKIN = "/api/v1/circulation/checkin"


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


class Pool:
    """A set with O(1) random removal, shared by the clients."""

    def __init__(self, rows):
        self.rows = list(rows)

    def take(self, rng: random.Random):
        if not self.rows:
            return None
        i = rng.randrange(len(self.rows))
        self.rows[i], self.rows[-1] = self.rows[-1], self.rows[i]
        return self.rows.pop()

    def put(self, row) -> None:
        self.rows.append(row)


@dataclass
class Data:
    patrons: list[str]
    shelf: Pool
    out: Pool
    token: str
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, folder: Path) -> Data:
        def rows(name):
            with open(folder / name, newline="") as f:
                return [(r["barcode"], int(r["branch_id"])) for r in csv.DictReader(f)]

        with open(folder / "patrons.csv", newline="") as f:
            patrons = [r["barcode"] for r in csv.DictReader(f)]
        return cls(
            patrons=patrons,
            shelf=Pool(rows("items_available.csv")),
            out=Pool(rows("items_on_loan.csv")),
            token=(folder / "token").read_text().strip(),
        )


class Client:
    """One desk or self-check machine: its own keep-alive connection."""

    def __init__(self, url: str, token: str):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            # what the TLS proxy in front of `quietshelf serve` adds
            "X-Forwarded-Proto": "https",
        }
        self.conn = None

    def post(self, path: str, body: dict) -> tuple[int, dict, float]:
        payload = json.dumps(body).encode()
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            t0 = time.perf_counter()
            try:
                self.conn.request("POST", path, payload, self.headers)
                resp = self.conn.getresponse()
                raw = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # the server closed an idle keep-alive connection: reconnect once
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                continue
            elapsed = (time.perf_counter() - t0) * 1000
            if resp.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            try:
                answer = json.loads(raw) if raw else {}
            except ValueError:
                answer = {"raw": raw[:200].decode("utf-8", "replace")}
            return resp.status, answer, elapsed
        raise RuntimeError("unreachable")


@dataclass
class Stage:
    name: str
    clients: int
    seconds: float
    warmup: float
    offered_rate: float | None  # None: closed loop
    latencies: dict = field(default_factory=lambda: {"checkout": [], "checkin": []})
    errors: dict = field(default_factory=dict)
    left_pools: dict = field(default_factory=dict)
    measured: int = 0
    window: float = 0.0

    @property
    def rate(self) -> float:
        return self.measured / self.window if self.window else 0.0


def _transaction(client: Client, data: Data, rng: random.Random, stage: Stage, record: bool):
    with data.lock:
        want_out = rng.random() < 0.5
        if want_out and not data.shelf.rows:
            want_out = False
        if not want_out and not data.out.rows:
            want_out = True
        row = (data.shelf if want_out else data.out).take(rng)
        patron = rng.choice(data.patrons)
    if row is None:
        return
    barcode, branch = row
    if want_out:
        body = {"item_barcode": barcode, "patron_barcode": patron, "branch_id": branch}
        status, answer, ms = client.post(CHECKOUT, body)
        ok = status == 201
    else:
        status, answer, ms = client.post(CHECKIN, {"item_barcode": barcode, "branch_id": branch})
        ok = status == 200
    op = "checkout" if want_out else "checkin"
    with data.lock:
        if ok and want_out:
            data.out.put(row)
        elif ok:
            route = answer.get("route")
            if route == "shelve":
                data.shelf.put(row)
            else:
                stage.left_pools[route] = stage.left_pools.get(route, 0) + 1
        if record:
            stage.latencies[op].append(ms)
            stage.measured += 1
            if not ok:
                code = (answer.get("error") or {}).get("code") or answer.get("raw", "")[:60]
                key = f"{op} {status} {code}"
                stage.errors[key] = stage.errors.get(key, 0) + 1


async def run_stage(url: str, data: Data, stage: Stage, seed: int = 1) -> Stage:
    loop = asyncio.get_running_loop()
    pool = ThreadPoolExecutor(max_workers=stage.clients)
    start = time.monotonic()
    measure_from = start + stage.warmup
    end = measure_from + stage.seconds

    async def one(n: int):
        rng = random.Random(seed * 1000 + n)  # noqa: S311 - load generation
        client = Client(url, data.token)
        gap = stage.clients / stage.offered_rate if stage.offered_rate else 0.0
        # spread the clients' first requests over one gap
        next_at = time.monotonic() + (rng.uniform(0, gap) if gap else 0.0)
        while True:
            if gap:
                delay = next_at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                next_at = max(next_at + rng.expovariate(1 / gap), time.monotonic() - gap)
            now = time.monotonic()
            if now >= end:
                break
            await loop.run_in_executor(
                pool, _transaction, client, data, rng, stage, now >= measure_from
            )
        if client.conn is not None:
            client.conn.close()

    await asyncio.gather(*(one(n) for n in range(stage.clients)))
    stage.window = min(time.monotonic(), end + 5) - measure_from
    pool.shutdown()
    return stage


def summary_line(stage: Stage) -> str:
    def trio(values):
        return f"{pct(values, 0.5):6.1f} {pct(values, 0.95):6.1f} {pct(values, 0.99):6.1f}"

    offered = f"{stage.offered_rate:5.1f}/s" if stage.offered_rate else " closed"
    errors = sum(stage.errors.values())
    return (
        f"{stage.name:<22} {stage.clients:>3} {offered:>8} {stage.rate:7.1f} "
        f"{trio(stage.latencies['checkout'])}   {trio(stage.latencies['checkin'])} "
        f"{len(stage.latencies['checkout']) + len(stage.latencies['checkin']):>6} {errors:>5}"
    )


HEADER = (
    f"{'stage':<22} {'cl':>3} {'offered':>8} {'tx/s':>7} "
    f"{'out p50':>6} {'p95':>6} {'p99':>6}   {'in p50':>6} {'p95':>6} {'p99':>6} "
    f"{'n':>6} {'err':>5}"
)

TARGETS = """\
targets and peers:
  PERF-CIRC-1  20 clients, think time, 50 tx/s offered: check-out p95 <= 100 ms,
               check-in p95 <= 80 ms, 0 errors
               (FOLIO Sunflower, 8 users: check-out p95 1,228 ms, check-in p95 636 ms;
               Koha's checkout function 341 ms)
  PERF-CIRC-2  closed loop: >= 150 transactions/s
               (FOLIO ~14.5/s at 75 users; Evergreen PINES' busiest minute ~9/s)"""


def stats(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50": round(pct(values, 0.5), 2),
        "p95": round(pct(values, 0.95), 2),
        "p99": round(pct(values, 0.99), 2),
        "mean": round(statistics.fmean(values), 2) if values else None,
    }


def as_dict(stage: Stage) -> dict:
    return {
        "name": stage.name,
        "clients": stage.clients,
        "offered_rate": stage.offered_rate,
        "tx_per_s": round(stage.rate, 1),
        "checkout_ms": stats(stage.latencies["checkout"]),
        "checkin_ms": stats(stage.latencies["checkin"]),
        "errors": stage.errors,
        "left_pools": stage.left_pools,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rate", type=float, default=50.0, help="offered tx/s (all clients)")
    parser.add_argument("--closed", action="store_true", help="no think time")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=5)
    args = parser.parse_args()
    data = Data.load(args.data)
    stage = Stage(
        name="closed loop" if args.closed else "think time",
        clients=args.clients,
        seconds=args.seconds,
        warmup=args.warmup,
        offered_rate=None if args.closed else args.rate,
    )
    asyncio.run(run_stage(args.url, data, stage))
    print(HEADER)
    print(summary_line(stage))
    if stage.errors:
        print("errors:", json.dumps(stage.errors))
    print(TARGETS)


if __name__ == "__main__":
    main()
