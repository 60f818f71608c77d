"""PERF-CIRC-1/2/3 end to end: restore a state, serve it, drive it over HTTP, report.

1. makes a throw-away PostgreSQL database pair (main and key store), restores a
   circulation state into it with bench/circ/generate.py (5,000+ open loans,
   3,000+ holds, barcodes into CSV files);
2. starts `quietshelf serve --processes N --threads T` as its own process
   tree in production mode (as behind a TLS proxy on this host);
3. drives it with bench/circ/driver.py: a random check-out/check-in mix with
   think time at 1, 8 and 20 clients (2.5 transactions/s offered per client:
   50/s at 20, PERF-CIRC-1), then closed loops (no think time) at 8 and 20
   clients (PERF-CIRC-2), one after another on the same state;
4. PERF-CIRC-3 over HTTP: one client checks out and back in the same items
   for a patron with 1,000 open loans and 50 holds and for one with none;
5. prints every figure beside its target and the peers' figures, writes them
   as JSON, stops the server and drops the databases (--keep keeps them).

    python bench/circ/run.py                       # about 10 minutes
    python bench/circ/run.py --seconds 30 --processes 4 --threads 4
    python bench/circ/run.py --clients "" --closed 20 --seconds 20 --perf-circ3-rounds 0 \
        --shapes 2x10,3x2,4x2                  # server shapes, one state
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

import driver  # noqa: E402 - after the path is set

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgres://postgres@127.0.0.1:5432/{name}"
PER_CLIENT_RATE = 2.5  # transactions/s offered by one client with think time (50/s at 20)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_databases(name: str, *, create: bool) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        for db in (name, f"{name}_keystore"):
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            if create:
                conn.execute(f'CREATE DATABASE "{db}"')


def server_env(home: Path, db_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIETSHELF_")}
    env |= {
        "QUIETSHELF_HOME": str(home),
        "DATABASE_URL": db_url,
        "QUIETSHELF_ENV": "production",
        "QUIETSHELF_SECRET_KEY": secrets.token_urlsafe(60),
        "QUIETSHELF_ALLOWED_HOSTS": "127.0.0.1",
        "QUIETSHELF_SECURE_COOKIES": "true",
        "QUIETSHELF_HSTS_SECONDS": "86400",
    }
    return env


def start_server(env: dict, port: int, processes: int, threads: int, log: Path):
    qs = str(Path(sys.executable).parent / "quietshelf")
    cmd = [qs, "serve", "--port", str(port), "--threads", str(threads)]
    cmd += ["--processes", str(processes)]
    out = open(log, "w")  # noqa: SIM115 - closed with the server
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    end = time.monotonic() + 120
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"the server stopped: see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, out
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the server did not start within 120 s")


def stop_server(proc, out) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    out.close()


def server_cpu_seconds(pid: int) -> float:
    """CPU time of the server's parent and children so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(x) for x in (task / "children").read_text().split()]
    except OSError:
        return float("nan")
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def busy() -> float:
    """CPU-seconds the whole machine has been busy (all cores, Linux /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def perf_circ3(url: str, data_dir: Path, token: str, meta: dict, rounds: int) -> dict:
    """Same items, one client: the busy patron's check-outs against the empty patron's."""
    with open(data_dir / "perf_circ3.csv", newline="") as f:
        items = [(r["barcode"], int(r["branch_id"])) for r in csv.DictReader(f)]
    client = driver.Client(url, token)
    patrons = {"empty": meta["empty_patron"]["barcode"], "busy": meta["busy_patron"]["barcode"]}
    times: dict[str, list[float]] = {"empty": [], "busy": []}
    errors: dict[str, int] = {}
    done = 0
    for barcode, branch in items:
        if done >= rounds:
            break
        ok = True
        for who in ("empty", "busy") if done % 2 == 0 else ("busy", "empty"):
            body = {"item_barcode": barcode, "patron_barcode": patrons[who], "branch_id": branch}
            status, answer, ms = client.post(driver.CHECKOUT, body)
            if status != 201:
                code = f"{who} {status} {(answer.get('error') or {}).get('code')}"
                errors[code] = errors.get(code, 0) + 1
                ok = False
                break
            _, back, _ = client.post(driver.CHECKIN, {"item_barcode": barcode, "branch_id": branch})
            if back.get("route") != "shelve":
                ok = False  # trapped for a hold: not on the shelf for the next check-out
            times[who].append(ms)
            if not ok:
                break
        done += 1 if ok else 0
    n = min(len(times["empty"]), len(times["busy"]))
    empty, busy = times["empty"][:n], times["busy"][:n]
    return {
        "pairs": n,
        "empty_ms": driver.stats(empty),
        "busy_ms": driver.stats(busy),
        "ratio_p50": round(statistics.median(busy) / statistics.median(empty), 2) if n else None,
        "ratio_p95": round(driver.pct(busy, 0.95) / driver.pct(empty, 0.95), 2) if n else None,
        "errors": errors,
    }


def main() -> None:  # noqa: PLR0915 - a linear script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from yardstick import print_yardstick

    print_yardstick()  # the machine's speed in the same run as the figures (#14)
    # a SIGTERM (a timeout, a kill) runs the clean-up below too: the instance folder
    # holds a master key, a secret key and an API token
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # 3 x 2: fewer threads per process fight less over the GIL, and a third process
    # runs while the others wait on PostgreSQL (closed loop, 20 clients, 23 Nov 2026:
    # 3x2 190, 4x2 183, 3x4 183, 2x10 176, 4x4 174, 2x4 160 tx/s; --shapes to retry)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=60, help="measured seconds per stage")
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--clients", default="1,8,20", help="think-time stages")
    parser.add_argument("--closed", default="8,20", help="closed-loop stages")
    parser.add_argument("--perf-circ3-rounds", type=int, default=100)
    parser.add_argument("--patrons", type=int, default=3000)
    parser.add_argument("--loans", type=int, default=5000)
    parser.add_argument("--holds", type=int, default=3000)
    parser.add_argument(
        "--shapes",
        help="server shapes to try one after another on the same state, e.g. 2x10,3x4,4x2 "
        "(processes x threads; overrides --processes/--threads)",
    )
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep databases and files")
    args = parser.parse_args()

    name = f"qs_bench_circhttp_{os.getpid()}"
    home = Path(tempfile.mkdtemp(prefix="qs-bench-circ-http-"))
    data_dir = home / "data"
    db_url = PG_URL.format(name=name)
    pg_databases(name, create=True)
    proc = out = None
    try:
        gen_env = {k: v for k, v in os.environ.items() if not k.startswith("QUIETSHELF_")}
        gen_env |= {
            "QUIETSHELF_HOME": str(home),
            "DATABASE_URL": db_url,
            "QUIETSHELF_ENV": "development",
        }
        print(f"restoring the state into {name} ...", flush=True)
        subprocess.run(
            [sys.executable, str(HERE / "generate.py"), "--out", str(data_dir),
             "--patrons", str(args.patrons), "--loans", str(args.loans),
             "--holds", str(args.holds)],
            env=gen_env, check=True,
        )  # fmt: skip
        meta = json.loads((data_dir / "meta.json").read_text())
        stages = []
        data = driver.Data.load(data_dir)
        shapes = [(args.processes, args.threads)]
        if args.shapes:
            shapes = [tuple(int(x) for x in sh.split("x")) for sh in args.shapes.split(",")]
        for processes, threads in shapes:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            proc, out = start_server(
                server_env(home, db_url), port, processes, threads, home / "serve.log"
            )
            # every process loads its code and caches on its first requests
            asyncio.run(
                driver.run_stage(
                    url, data, driver.Stage("warm-up", 2 * processes, 10, 0, None), seed=99
                )
            )
            plan = [(int(c), "think") for c in args.clients.split(",") if c]
            plan += [(int(c), "closed") for c in args.closed.split(",") if c]
            for n, (clients, mode) in enumerate(plan, start=1):
                rate = None if mode == "closed" else clients * PER_CLIENT_RATE
                label = f"{clients} client{'s' if clients > 1 else ''}, " + (
                    "closed loop" if mode == "closed" else "think time"
                )
                stage = driver.Stage(label, clients, args.seconds, args.warmup, rate)
                load0, t0 = os.getloadavg()[0], time.monotonic()
                cpu0, drv0, busy0 = server_cpu_seconds(proc.pid), time.process_time(), busy()
                asyncio.run(driver.run_stage(url, data, stage, seed=n))
                cpu = server_cpu_seconds(proc.pid) - cpu0
                drv, wall = time.process_time() - drv0, time.monotonic() - t0
                result = driver.as_dict(stage)
                result["shape"] = f"{processes}x{threads}"
                result["load_avg"] = [round(load0, 1), round(os.getloadavg()[0], 1)]
                result["server_cpu_share"] = round(cpu / wall, 2)
                result["driver_cpu_share"] = round(drv / wall, 2)
                result["machine_cpu_share"] = round((busy() - busy0) / wall, 2)
                stages.append(result)
                print(
                    driver.summary_line(stage),
                    f" load {load0:.1f}  {processes}x{threads}  srv {cpu / wall:.2f}"
                    f"  drv {drv / wall:.2f}  all {result['machine_cpu_share']:.2f}",
                    flush=True,
                )
            if (processes, threads) != shapes[-1]:
                stop_server(proc, out)
                proc = out = None
        circ3 = perf_circ3(url, data_dir, data.token, meta, args.perf_circ3_rounds)
    finally:
        if proc is not None:
            stop_server(proc, out)
        if not args.keep:
            pg_databases(name, create=False)
            # the folder holds a master key, a secret key and an API token
            shutil.rmtree(home, ignore_errors=True)

    print()
    print(
        f"state: {meta['open_loans']:,} open loans, {meta['holds']:,} holds, "
        f"{meta['patrons']:,} patrons, {meta['items']:,} items on {meta['records']:,} records "
        f"(restored in {meta['seconds']:.0f} s); server: quietshelf serve "
        + ", ".join(f"--processes {p} --threads {t}" for p, t in shapes)
        + f", PostgreSQL; {os.cpu_count()} CPUs, "
        "load generator on the same machine"
    )
    print(driver.HEADER + "   load  srv-cpu drv-cpu all-cpu shape")
    for s in stages:
        co, ci = s["checkout_ms"], s["checkin_ms"]
        offered = f"{s['offered_rate']:5.1f}/s" if s["offered_rate"] else " closed"
        print(
            f"{s['name']:<22} {s['clients']:>3} {offered:>8} {s['tx_per_s']:7.1f} "
            f"{co['p50']:6.1f} {co['p95']:6.1f} {co['p99']:6.1f}   "
            f"{ci['p50']:6.1f} {ci['p95']:6.1f} {ci['p99']:6.1f} "
            f"{co['n'] + ci['n']:>6} {sum(s['errors'].values()):>5}   "
            f"{s['load_avg'][0]:4.1f}  {s['server_cpu_share']:4.2f}    "
            f"{s['driver_cpu_share']:4.2f}    {s['machine_cpu_share']:4.2f} {s['shape']}"
        )
        if s["errors"]:
            print(f"{'':<24}errors: {json.dumps(s['errors'])}")
    print(
        "(latencies in ms; srv-cpu, drv-cpu: CPU-seconds the server and this load generator"
        f" used per second; all-cpu: the whole machine's, of {os.cpu_count()} cores)"
    )
    print(driver.TARGETS)
    print(
        f"PERF-CIRC-3 over HTTP, {circ3['pairs']} check-outs each: patron with "
        f"{meta['busy_patron']['loans']:,} loans and {meta['busy_patron']['holds']} holds "
        f"p50 {circ3['busy_ms']['p50']} / p95 {circ3['busy_ms']['p95']} ms; patron with none "
        f"p50 {circ3['empty_ms']['p50']} / p95 {circ3['empty_ms']['p95']} ms; ratio p50 "
        f"{circ3['ratio_p50']}x, p95 {circ3['ratio_p95']}x (target <= 1.5x; Koha bugs "
        "30004/31735: seconds)"
    )
    if circ3["errors"]:
        print(f"PERF-CIRC-3 errors: {circ3['errors']}")
    figures = {
        "meta": meta,
        "shapes": [f"{p}x{t}" for p, t in shapes],
        "stages": stages,
        "perf_circ3": circ3,
    }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    if args.keep:
        print(f"kept: databases {name}, {name}_keystore; files in {home}")


if __name__ == "__main__":
    main()
