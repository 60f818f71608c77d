"""Privacy kernel benchmarks (issue 4): figures are printed, never asserted.

1. encrypt + decrypt cost per field (µs): the bare AES-256-GCM call and the
   model-field path (associated data, key from the cache, str <-> bytes);
2. creating subjects with their data keys (default 100,000);
3. `rotate-keys` over N data keys (default 1,000,000; target >= 20,000 keys/s);
4. blind-index look-up at N subjects (default 1,000,000): p50/p95 of
   HMAC + indexed SELECT (target p95 <= 2 ms);
5. on PostgreSQL: audited transactions from concurrent writers, with the
   chain sealed after commit (our design) against a chain head locked inside
   each transaction (at its start, and as its very last step).

Runs on SQLite and, when the server answers, on PostgreSQL (127.0.0.1:5432,
user postgres, throw-away databases), each in a fresh instance in a subprocess.

    python bench/bench_privacy.py                          # full size
    python bench/bench_privacy.py --keys 100000 --lookup-rows 100000 --subjects 20000
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"


def _setup():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quietshelf.config.settings")
    sys.path.insert(0, str(REPO / "src"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", database="keystore", verbosity=0)
    call_command("migrate", verbosity=0)


def _pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def bench_field(out: dict) -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from quietshelf.privacy import keys
    from quietshelf.privacy.fields import associated_data, decrypt_value, encrypt_value
    from quietshelf.privacy.services import subject_create

    key = AESGCM(secrets.token_bytes(32))
    value = b"Ingrid Testmann, Fiktivgata 12"
    ad = associated_data("patrons_patron", "name", uuid.uuid4())
    n = 50_000
    started = time.perf_counter()
    for _ in range(n):
        decrypt_value(key, encrypt_value(key, value, ad), ad)
    out["field_encrypt_decrypt_us"] = round((time.perf_counter() - started) / n * 1e6, 2)

    subject = subject_create(kind="patron")
    keys.data_key(subject.pk)  # warm the cache, as within a request
    started = time.perf_counter()
    for _ in range(n):
        k = keys.data_key(subject.pk)
        decrypt_value(k, encrypt_value(k, value, ad), ad)
    out["field_path_with_key_cache_us"] = round((time.perf_counter() - started) / n * 1e6, 2)
    keys.key_cache.clear()
    started = time.perf_counter()
    m = 2000
    for _ in range(m):
        keys.key_cache.clear()
        keys.data_key(subject.pk)
    out["data_key_unwrap_uncached_us"] = round((time.perf_counter() - started) / m * 1e6, 1)


def bench_subjects(out: dict, count: int) -> None:
    from quietshelf.privacy.services import subjects_create_many

    started = time.perf_counter()
    done = 0
    while done < count:
        batch = min(10_000, count - done)
        subjects_create_many(kind="patron", count=batch)
        done += batch
    elapsed = time.perf_counter() - started
    out["subjects_created"] = count
    out["subjects_per_s"] = round(count / elapsed)


def _bulk_keys(count: int) -> None:
    """Insert `count` wrapped data keys quickly (version 1 of the ring)."""
    from django.db import connections, transaction

    from quietshelf.privacy import keys
    from quietshelf.privacy.models import DataKey

    ring = keys.ring()
    conn = connections["keystore"]
    table = conn.ops.quote_name(DataKey._meta.db_table)
    sql = f"INSERT INTO {table} (subject_id, kek_version, wrapped) VALUES (%s, %s, %s)"  # noqa: S608
    field = DataKey._meta.get_field("subject_id")
    done = 0
    while done < count:
        batch = min(20_000, count - done)
        rows = []
        for _ in range(batch):
            sid = uuid.uuid4()
            version, wrapped = ring.wrap(secrets.token_bytes(32), label=b"qs-data-key|" + sid.bytes)
            rows.append((field.get_db_prep_value(sid, conn), version, wrapped))
        with transaction.atomic(using="keystore"), conn.cursor() as cursor:
            cursor.executemany(sql, rows)
        done += batch


def bench_rotate(out: dict, count: int) -> None:
    from django.conf import settings

    from quietshelf.privacy import keys
    from quietshelf.privacy.management.commands.rotate_keys import rotate
    from quietshelf.privacy.models import DataKey

    existing = DataKey.objects.using("keystore").count()
    started = time.perf_counter()
    _bulk_keys(max(0, count - existing))
    out["rotate_setup_s"] = round(time.perf_counter() - started, 1)
    total = DataKey.objects.using("keystore").count()
    old = keys.load_master_keys()
    settings.QUIETSHELF_MASTER_KEY = ",".join(
        [keys.new_key_line(old.current_version + 1)]
        + [
            f"{v}:{__import__('base64').b64encode(k).decode()}"
            for v, k in sorted(old.keys.items(), reverse=True)
        ]
    )
    keys.reset_caches()
    ring = keys.ring()
    started = time.perf_counter()
    done, _ = rotate(ring, batch=10000)
    elapsed = time.perf_counter() - started
    out["rotate_keys"] = done
    out["rotate_total_keys"] = total
    out["rotate_keys_per_s"] = round(done / elapsed)
    out["rotate_s"] = round(elapsed, 1)


def bench_lookup(out: dict, rows: int, queries: int = 2000) -> None:
    from django.db import connection, transaction

    from quietshelf.privacy.fields import blind_index

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_bidx (id bigint PRIMARY KEY, email_index varchar(64) NOT NULL)"
        )
    values = []
    started = time.perf_counter()
    done = 0
    while done < rows:
        batch = min(20_000, rows - done)
        params = []
        for i in range(done, done + batch):
            email = f"person{i}@example.org"
            params.append((i, blind_index(email, purpose="bench.email", kind="email")))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany("INSERT INTO bench_bidx (id, email_index) VALUES (%s, %s)", params)
        done += batch
    with connection.cursor() as cursor:
        cursor.execute("CREATE INDEX bench_bidx_email ON bench_bidx (email_index)")
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE bench_bidx")
    out["lookup_setup_s"] = round(time.perf_counter() - started, 1)
    import random

    rng = random.Random(7)
    values = [f"Person{rng.randrange(rows)}@Example.org" for _ in range(queries)]
    timings = []
    with connection.cursor() as cursor:
        for value in values:
            t0 = time.perf_counter()
            digest = blind_index(value, purpose="bench.email", kind="email")
            cursor.execute("SELECT id FROM bench_bidx WHERE email_index = %s", [digest])
            found = cursor.fetchall()
            timings.append((time.perf_counter() - t0) * 1000)
            assert len(found) == 1
    out["lookup_rows"] = rows
    out["lookup_p50_ms"] = round(statistics.median(timings), 3)
    out["lookup_p95_ms"] = round(_pct(timings, 0.95), 3)


def bench_audit_concurrency(out: dict, threads: int = 4, per_thread: int = 300) -> None:
    """PostgreSQL only: audited transactions per second from concurrent writers."""
    from django.db import connection, connections, transaction

    from quietshelf.privacy import audit
    from quietshelf.privacy.models import AuditChainHead, AuditEntry, Subject

    if connection.vendor != "postgresql":
        return
    subject = Subject.objects.create(kind="patron")

    def work():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(0.002)")  # the audited action itself

    def sealed_after_commit():
        with transaction.atomic():
            work()
            audit.record(actor=None, action="viewed", obj=subject)

    def head_lock(at_start: bool):
        def run():
            with transaction.atomic():
                if at_start:
                    head = AuditChainHead.objects.select_for_update().get(pk=1)
                work()
                entry = AuditEntry.objects.create(
                    at=__import__("django.utils.timezone").utils.timezone.now(),
                    actor_type="system",
                    action="viewed",
                    object_type="privacy.subject",
                    object_id=str(subject.pk),
                )
                if not at_start:
                    head = AuditChainHead.objects.select_for_update().get(pk=1)
                head.chain_pos += 1
                entry_hash = audit.entry_digest(entry, head.entry_hash)
                head.entry_hash = entry_hash
                head.save(update_fields=["chain_pos", "entry_hash"])

        return run

    variants = {
        "sealed_after_commit": sealed_after_commit,
        "head_lock_last_step": head_lock(False),
        "head_lock_at_start": head_lock(True),
    }
    audit.seal()
    AuditChainHead.objects.get_or_create(pk=1)
    for name, fn in variants.items():
        latencies: list[float] = []
        lock = threading.Lock()

        def runner(fn=fn, latencies=latencies, lock=lock):
            mine = []
            for _ in range(per_thread):
                t0 = time.perf_counter()
                fn()
                mine.append((time.perf_counter() - t0) * 1000)
            with lock:
                latencies.extend(mine)
            connections.close_all()

        pool = [threading.Thread(target=runner) for _ in range(threads)]
        started = time.perf_counter()
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        elapsed = time.perf_counter() - started
        out[f"audit_{name}_tx_per_s"] = round(threads * per_thread / elapsed)
        out[f"audit_{name}_p95_ms"] = round(_pct(latencies, 0.95), 1)
    started = time.perf_counter()
    sealed = audit.seal(limit=1_000_000)
    out["audit_seal_backlog_entries"] = sealed
    out["audit_seal_backlog_s"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    result = audit.verify()
    out["audit_verify_entries"] = result.entries
    out["audit_verify_s"] = round(time.perf_counter() - started, 2)


def worker(args) -> None:
    _setup()
    out: dict = {}
    bench_field(out)
    bench_subjects(out, args.subjects)
    bench_rotate(out, args.keys)
    bench_lookup(out, args.lookup_rows)
    bench_audit_concurrency(out)
    print("RESULT " + json.dumps(out), flush=True)


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001
        return False


def _run(label: str, env_extra: dict, argv: list[str]) -> dict:
    env = {**os.environ, **env_extra, "QUIETSHELF_ENV": "test"}
    env["QUIETSHELF_HOME"] = tempfile.mkdtemp(prefix="qs-bench-privacy-")
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    sys.stderr.write(proc.stderr[-3000:])
    raise SystemExit(f"{label}: the benchmark worker failed")


def main() -> None:
    from yardstick import print_yardstick

    print_yardstick()  # the machine's speed in the same run as the figures (#14)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--lookup-rows", type=int, default=1_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()
    if args.worker:
        worker(args)
        return
    argv = [
        "--subjects",
        str(args.subjects),
        "--keys",
        str(args.keys),
        "--lookup-rows",
        str(args.lookup_rows),
    ]
    results = {}
    if args.db in {"sqlite", "both"}:
        results["SQLite"] = _run("SQLite", {"DATABASE_URL": ""}, argv)
    if args.db in {"postgres", "both"}:
        if _pg_available():
            name = f"qs_bench_privacy_{os.getpid()}"
            url = f"postgres://postgres@127.0.0.1:5432/{name}"
            import psycopg

            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
                conn.execute(f'CREATE DATABASE "{name}_keystore"')
            try:
                results["PostgreSQL"] = _run("PostgreSQL", {"DATABASE_URL": url}, argv)
            finally:
                with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}_keystore" WITH (FORCE)')
        else:
            print("PostgreSQL did not answer on 127.0.0.1:5432: skipped")
    for label, out in results.items():
        print(f"--- {label} ---")
        for key, value in out.items():
            print(f"  {key:<40} {value}")
        print(
            f"  rotate-keys target >= 20,000 keys/s: {out['rotate_keys_per_s']:,}; "
            f"blind-index p95 target <= 2 ms: {out['lookup_p95_ms']} ms"
        )


if __name__ == "__main__":
    main()
