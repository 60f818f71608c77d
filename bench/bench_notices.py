"""Notices: 100k overdue notices queued, rendered and handed to a local SMTP sink.

In a fresh instance (SQLite unless --pg): N/5 fictional patrons with an
e-mail address each and five overdue loans each on five different due dates
(so five notices each: first and second reminders). Then, timed:

1. `queue_overdue_notices` (grouping, dedupe keys, encrypted template values);
2. delivery as the scheduled `deliver-notices` job runs it (the same
   arguments: until nothing is left or 50 s have passed), run after run until
   one takes nothing: claim, read the contact points, render in the sandbox,
   send over SMTP (one connection per run, PIPELINING when the sink offers
   it) to a sink in another process on 127.0.0.1, record each acceptance,
   settle and count each batch.

Prints the seconds of each step, notices per second, the sink's count, and
the resident memory sampled every 10,000 notices plus the peak (the target:
≤ 60 s for 100k, memory flat). Figures are printed, never asserted.

    python bench/bench_notices.py                 # 100,000 notices, SQLite
    python bench/bench_notices.py --notices 20000
    python bench/bench_notices.py --pg            # PostgreSQL (throw-away databases)
    python bench/bench_notices.py --sink raw      # a minimal asyncio SMTP sink, no aiosmtpd
    python bench/bench_notices.py --notices 10000 --profile   # cProfile of the delivery only

The sink runs in its own process either way (it does not share the sender's
GIL). `aiosmtpd` (the default) is the same server the tests use; `raw` is a
bare asyncio responder that answers every command and counts messages, to
show how much of the time is the Python SMTP server on the same two cores.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path

from pgtemp import run_on_throwaway_postgres  # a sibling module: scripts run as files

REPO = Path(__file__).resolve().parent.parent

TARGET_SECONDS = 60


def rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def raw_sink(port: int, count, ready, stop, pipelining: bool = False) -> None:
    """The least an SMTP server can do: 220/250/354, read DATA to the final dot, count.

    With `pipelining` it advertises PIPELINING (RFC 2920); it answers commands in
    order either way, however many arrive in one read."""
    ehlo = (
        b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
        if pipelining
        else (b"250-sink\r\n250 8BITMIME\r\n")
    )
    import asyncio

    class Session(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport, self.buffer, self.in_data = transport, b"", False
            transport.write(b"220 sink ESMTP\r\n")

        def data_received(self, data):
            self.buffer += data
            while True:
                if self.in_data:
                    end = self.buffer.find(b"\r\n.\r\n")
                    if end < 0:
                        return
                    self.buffer, self.in_data = self.buffer[end + 5 :], False
                    with count.get_lock():
                        count.value += 1
                    self.transport.write(b"250 OK\r\n")
                    continue
                line, sep, rest = self.buffer.partition(b"\r\n")
                if not sep:
                    return
                self.buffer = rest
                verb = line[:4].upper()
                if verb == b"EHLO":
                    self.transport.write(ehlo)
                elif verb == b"DATA":
                    self.in_data = True
                    self.buffer = b"\r\n" + self.buffer  # a message may end right away
                    self.transport.write(b"354 go ahead\r\n")
                elif verb == b"QUIT":
                    self.transport.write(b"221 bye\r\n")
                    self.transport.close()
                    return
                else:
                    self.transport.write(b"250 OK\r\n")

    async def serve():
        server = await asyncio.get_running_loop().create_server(Session, "127.0.0.1", port)
        ready.set()
        async with server:
            await asyncio.get_running_loop().run_in_executor(None, stop.wait)

    asyncio.run(serve())


SMTP_SINK = "/usr/sbin/smtp-sink"


def postfix_sink(port: int, count, ready, stop) -> None:
    """Postfix's smtp-sink (Debian package postfix), the SMTP server Postfix's authors
    benchmark with: C, PIPELINING offered as Postfix offers it. It counts nothing for
    us: the bench counts from the database instead (count stays -1)."""
    import subprocess

    if not os.path.exists(SMTP_SINK):
        raise SystemExit(f"{SMTP_SINK} is missing: apt-get install postfix")
    user = ["-u", "nobody"] if os.getuid() == 0 else []
    proc = subprocess.Popen([SMTP_SINK, *user, f"127.0.0.1:{port}", "256"])  # noqa: S603
    count.value = -1
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    ready.set()
    stop.wait()
    proc.terminate()
    proc.wait(10)


def sink(port: int, count, ready, stop) -> None:
    """An SMTP server that accepts and counts (its own process, like a real relay)."""
    from aiosmtpd.controller import Controller

    class Counter:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            with count.get_lock():
                count.value += 1
            return "250 OK"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


def main() -> None:
    from yardstick import print_yardstick

    print_yardstick()  # the machine's speed in the same run as the figures (#14)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--notices", type=int, default=100_000)
    parser.add_argument("--pg", action="store_true", help="on PostgreSQL (throw-away databases)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="QUIETSHELF_NOTICE_DELIVERY_THREADS for the run (default: the product's, 2)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="delivering processes (forked after the queueing), each claiming its own batches",
    )
    parser.add_argument(
        "--sink",
        choices=("aiosmtpd", "raw", "raw-pipelining", "smtp-sink"),
        default="aiosmtpd",
        help="the local SMTP sink (raw-pipelining: the raw sink advertising PIPELINING; "
        "smtp-sink: Postfix's, from Debian's postfix package)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the queueing and the delivery (1 worker)"
    )
    args = parser.parse_args()
    if args.pg:
        run_on_throwaway_postgres("qs_bench_notices", lambda: run(args))
    else:
        run(args)


def run(args) -> None:  # noqa: PLR0915 - a linear script
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.setdefault("QUIETSHELF_ENV", "test")
    os.environ.setdefault("QUIETSHELF_HOME", tempfile.mkdtemp(prefix="qs-bench-notices-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quietshelf.config.settings")
    os.environ.update(
        QUIETSHELF_SMTP_HOST="127.0.0.1",
        QUIETSHELF_SMTP_PORT=str(port),
        QUIETSHELF_SMTP_STARTTLS="false",
        QUIETSHELF_SMS_GATEWAY="none",
        QUIETSHELF_MAIL_FROM="library@bench.example",
    )
    if args.threads is not None:
        os.environ["QUIETSHELF_NOTICE_DELIVERY_THREADS"] = str(args.threads)
    sys.path.insert(0, str(REPO / "src"))

    ctx = multiprocessing.get_context("fork")  # before Django: no connections to share
    count, ready, stop = ctx.Value("l", 0), ctx.Event(), ctx.Event()
    if args.sink == "aiosmtpd":
        target, extra = sink, ()
    elif args.sink == "smtp-sink":
        target, extra = postfix_sink, ()
    else:
        target, extra = raw_sink, (args.sink == "raw-pipelining",)
    server = ctx.Process(target=target, args=(port, count, ready, stop, *extra), daemon=True)
    server.start()
    if not ready.wait(30):
        raise SystemExit("the SMTP sink did not start")

    import django

    django.setup()
    import datetime as dt

    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    call_command("migrate", database="keystore", verbosity=0)
    from django.db.models import Q

    from quietshelf.catalog.models import BibRecord, Branch, Item, ItemType
    from quietshelf.circulation.models import Loan
    from quietshelf.notices import conf, services
    from quietshelf.notices.models import Notice
    from quietshelf.patrons.models import ContactPoint, Patron, PatronGroup
    from quietshelf.patrons.selectors import warm_keys
    from quietshelf.privacy.services import subjects_create_many

    per_patron = 5
    n_patrons = max(1, args.notices // per_patron)
    t0 = time.perf_counter()
    branch = Branch.objects.get_or_create(code="MAIN", defaults={"name": "Main"})[0]
    itype = ItemType.objects.get_or_create(code="BOOK", defaults={"name": "Book"})[0]
    group = PatronGroup.objects.get_or_create(code="adult", defaults={"name": "Adult"})[0]
    today = timezone.localdate()
    dues = [today - dt.timedelta(days=d) for d in (1, 2, 3, 8, 9)]
    leader = "00000nam a2200000 a 4500"
    step = 5000
    for start in range(0, n_patrons, step):
        size = min(step, n_patrons - start)
        subject_ids = subjects_create_many(kind="patron", count=size)
        patrons = Patron.objects.bulk_create(
            [Patron(subject_id=sid, group=group, home_branch=branch) for sid in subject_ids]
        )
        warm_keys(subject_ids)
        ContactPoint.objects.bulk_create(
            [
                ContactPoint(subject_id=p.subject_id, patron=p, kind="email",
                             value=f"reader{start + i}@bench.example", preferred=True)
                for i, p in enumerate(patrons)
            ]
        )  # fmt: skip
        records = BibRecord.objects.bulk_create(
            [
                BibRecord(leader=leader, marc_json={"leader": leader, "fields": []},
                          title=f"Bench title {start}-{i}")
                for i in range(size * per_patron)
            ]
        )  # fmt: skip
        items = Item.objects.bulk_create(
            [
                Item(record=r, barcode=f"N{start:07d}{i:06d}", branch=branch, item_type=itype,
                     status="on_loan")
                for i, r in enumerate(records)
            ]
        )  # fmt: skip
        loans = []
        for i, p in enumerate(patrons):
            for j, due in enumerate(dues):
                due_at = timezone.make_aware(dt.datetime.combine(due, dt.time(20)))
                loans.append(
                    Loan(item=items[i * per_patron + j], patron=p, patron_group=group,
                         branch=branch, checked_out_at=due_at - dt.timedelta(days=21),
                         due_at=due_at)
                )  # fmt: skip
        Loan.objects.bulk_create(loans, batch_size=2000)
    setup = time.perf_counter() - t0
    print(f"setup: {n_patrons:,} patrons, {n_patrons * per_patron:,} overdue loans "
          f"in {setup:.1f} s; rss {rss_mb():.0f} MB")  # fmt: skip

    engine = django.db.connection.vendor
    before = rss_mb()
    t1, c1 = time.perf_counter(), time.process_time()
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        queued = profiler.runcall(services.queue_overdue_notices, today=today)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    else:
        queued = services.queue_overdue_notices(today=today)
    t_queue, cpu_queue = time.perf_counter() - t1, time.process_time() - c1
    print(f"queue_overdue_notices: {queued:,} notices in {t_queue:.1f} s "
          f"({queued / t_queue:,.0f}/s, {cpu_queue:.1f} CPU-s); "
          f"rss {before:.0f} -> {rss_mb():.0f} MB")  # fmt: skip

    import threading

    samples = []
    sent = [0]
    lock = threading.Lock()

    from quietshelf.jobs import registry

    job = registry.get("deliver-notices")  # what the scheduled job runs, every minute

    def delivered() -> int:
        if count.value >= 0:
            return count.value
        # smtp-sink counts nothing: what the database says the server took
        return Notice.objects.filter(Q(state="sent") | Q(accepted=True)).count()

    def sample() -> None:
        # resident memory at every 10,000 messages the sink has received
        from django.db import connections

        try:
            while not finished.is_set():
                n = delivered()
                if n // 10_000 > len(samples):
                    samples.append((n, rss_mb(), time.perf_counter() - t2))
                finished.wait(0.05 if count.value >= 0 else 1.0)
        finally:
            connections.close_all()

    def deliver() -> None:
        from django.db import connections

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            while True:  # one scheduled run after another, until one sends nothing
                n = services.deliver_queued_notices(**job.kwargs)
                with lock:
                    sent[0] += n
                if n == 0:
                    return
        finally:
            finished.set()
            sampler.join()
            if (n := delivered()) // 10_000 > len(samples):
                samples.append((n, rss_mb(), time.perf_counter() - t2))
            connections.close_all()

    finished = threading.Event()
    t2 = time.perf_counter()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    c2 = time.process_time()
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(deliver)
        profiler.dump_stats(str(Path(tempfile.gettempdir()) / "bench_notices_delivery.prof"))
        stats = pstats.Stats(profiler).sort_stats("tottime")
        stats.print_stats(20)
        stats.sort_stats("cumulative").print_stats("quietshelf", 25)
    elif args.processes > 1:
        from django.db import connections

        connections.close_all()  # each child opens its own
        done = ctx.Value("l", 0)

        def child() -> None:
            deliver()
            with done.get_lock():
                done.value += sent[0]
            if samples:
                rss = ", ".join(f"{s // 1000}k {m:.0f} ({t:.0f} s)" for s, m, t in samples)
                print(f"  pid {os.getpid()}: rss while sending (MB): {rss}", flush=True)

        children = [ctx.Process(target=child) for _ in range(args.processes)]
        for c in children:
            c.start()
        for c in children:
            c.join()
        sent[0] = done.value
    else:
        deliver()  # in this thread (the run's own threads: QUIETSHELF_NOTICE_DELIVERY_THREADS)
    sent = sent[0]
    t_send = time.perf_counter() - t2
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    # this process's CPU, and that of the delivering children (the sink is still running)
    cpu_send = (time.process_time() - c2) + (
        children.ru_utime + children.ru_stime - children_before.ru_utime - children_before.ru_stime
    )
    # the floor: the same sink, one connection, a prebuilt message, nothing else
    import smtplib

    raw = b"From: library@bench.example\r\nTo: r@bench.example\r\nSubject: x\r\n\r\nx\r\n"
    floor_n = 5000
    with smtplib.SMTP("127.0.0.1", port) as session:
        t3 = time.perf_counter()
        for _ in range(floor_n):
            session.sendmail("library@bench.example", ["r@bench.example"], raw)
        floor = floor_n / (time.perf_counter() - t3)
    time.sleep(0.5)
    stop.set()
    server.join(10)
    left = Notice.objects.exclude(state="sent").count()
    print(f"deliver_queued_notices: {sent:,} sent in {t_send:.1f} s ({sent / t_send:,.0f}/s; "
          f"{cpu_send:.1f} CPU-s in the delivering process(es), "
          f"{1e6 * cpu_send / max(sent, 1):.0f} us a notice); "
          f"sink received {count.value - floor_n if count.value >= 0 else 'n/a'}; "
          f"not sent {left}")  # fmt: skip
    print(f"bare smtplib to the same sink: {floor:,.0f} messages/s "
          f"(100k would take {100_000 / floor:.0f} s for the SMTP dialogue alone)")  # fmt: skip
    print(
        "rss while sending (MB, seconds since the start): "
        + ", ".join(f"{s // 1000}k {m:.0f} ({t:.0f} s)" for s, m, t in samples)
    )
    total = t_queue + t_send
    print(
        f"RESULT {engine}, {conf.delivery_threads()} thread(s) x {args.processes} process(es), "
        f"{args.sink} sink: {queued:,} overdue "
        f"notices queued, rendered and handed to SMTP in "
        f"{total:.1f} s (queue {t_queue:.1f} + send {t_send:.1f}); target <= {TARGET_SECONDS} s; "
        f"peak rss {peak_mb():.0f} MB; load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
