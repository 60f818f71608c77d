"""quietshelf rotate-keys: re-wrap every data key under the newest master key version.

Only the wrapped keys change, never the data. The app keeps serving: it
unwraps with any version the master key still holds and wraps new keys with
the newest. Steps: add a new version ("2:<new>,1:<old>" in
QUIETSHELF_MASTER_KEY, or `--new-version` for the key file), restart the
app, run this, then remove the old version.
"""

from __future__ import annotations

import time

from django.db import connections, transaction

from quietshelf.core.commands import QuietshelfCommand, UsageError
from quietshelf.privacy import keys


class Command(QuietshelfCommand):
    help = "Re-wrap every data key under the newest master key version (keys only, never data)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--new-version",
            action="store_true",
            help="first add a new, random version to the master key file",
        )
        parser.add_argument("--batch", type=int, default=10000, help="keys per transaction")

    def handle(self, *args, new_version: bool, batch: int, **options):
        if batch < 1 or batch > 100_000:
            raise UsageError("--batch must be between 1 and 100000")
        try:
            if new_version:
                version = keys.add_key_file_version()
                self.stdout.write(f"Added master key version {version} to {keys.key_file_path()}.")
            keys.reset_caches()
            ring = keys.ring()
        except keys.MasterKeyError as exc:
            raise UsageError(str(exc)) from None
        started = time.perf_counter()
        done, secrets_done = rotate(ring, batch=batch, progress=self.progress)
        elapsed = time.perf_counter() - started
        rate = done / elapsed if elapsed > 0 else 0.0
        self.stdout.write(
            f"re-wrapped {done} data keys and {secrets_done} instance secrets under master key "
            f"version {ring.current_version} in {elapsed:.1f}s ({rate:,.0f} keys/s)"
        )


def rotate(ring: keys.MasterKeyRing, *, batch: int = 10000, progress=None) -> tuple[int, int]:
    from quietshelf.privacy.models import DataKey, WrappedSecret

    target = ring.current_version
    db = keys.KEYSTORE_DB
    conn = connections[db]
    total = DataKey.objects.using(db).exclude(kek_version=target).count()
    table = conn.ops.quote_name(DataKey._meta.db_table)
    sqlite = conn.vendor == "sqlite"
    # Walk the table in its physical order on SQLite (rowid: each batch rewrites
    # neighbouring pages, not 10,000 random ones) and in key order on PostgreSQL.
    # Rows already under the target version are skipped here: filtering on
    # kek_version in SQL let SQLite choose that index and sort every batch.
    order = "rowid" if sqlite else "subject_id"
    select = (
        f"SELECT {order}, subject_id, kek_version, wrapped FROM {table} "  # noqa: S608
        f"WHERE {order} > %s ORDER BY {order} LIMIT %s"
    )
    last = (
        -1
        if sqlite
        else DataKey._meta.get_field("subject_id").get_db_prep_value(
            "00000000-0000-0000-0000-000000000000", conn
        )
    )
    done = 0
    bar = progress(total=total, unit="key", desc="rotate-keys") if progress else None
    while True:
        with conn.cursor() as cursor:
            cursor.execute(select, [last, batch])
            fetched = cursor.fetchall()
        if not fetched:
            break
        last = fetched[-1][0]
        rows = [r for r in fetched if r[2] != target]
        if not rows:
            continue
        rewrapped = keys.rewrap_batch([(_id_bytes(r[1]), r[2], bytes(r[3])) for r in rows], ring)
        params = [
            (raw[0], new, old_version)
            for raw, (_sid, old_version, new) in zip(rows, rewrapped, strict=True)
        ]
        with transaction.atomic(using=db), conn.cursor() as cursor:
            if not sqlite:
                # one statement per batch, three array parameters: neither a round trip
                # per key nor a query with thousands of placeholders to parse
                cursor.execute(
                    f"UPDATE {table} AS k SET kek_version = %s, wrapped = v.w "  # noqa: S608
                    "FROM unnest(%s::uuid[], %s::bytea[], %s::integer[]) AS v(id, w, old) "
                    "WHERE k.subject_id = v.id AND k.kek_version = v.old",
                    [
                        target,
                        [p[0] for p in params],
                        [p[1] for p in params],
                        [p[2] for p in params],
                    ],
                )
            else:
                # SQLite: fill a temporary table, then one UPDATE … FROM joining on rowid
                cursor.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS qs_rewrap "
                    "(rid INTEGER PRIMARY KEY, w BLOB, old INTEGER)"
                )
                cursor.execute("DELETE FROM qs_rewrap")
                cursor.executemany(
                    "INSERT INTO qs_rewrap (rid, w, old) VALUES (%s, %s, %s)", params
                )
                cursor.execute(
                    f"UPDATE {table} SET kek_version = %s, wrapped = v.w "  # noqa: S608
                    "FROM qs_rewrap AS v "
                    f"WHERE {table}.rowid = v.rid AND {table}.kek_version = v.old",
                    [target],
                )
        done += len(rows)
        if bar is not None:
            bar.update(len(rows))
    if bar is not None:
        bar.close()
    secrets_done = 0
    for secret in WrappedSecret.objects.using(db).exclude(kek_version=target):
        label = b"qs-secret|" + secret.name.encode()
        raw = ring.unwrap(secret.kek_version, secret.wrapped, label=label)
        secret.kek_version, secret.wrapped = ring.wrap(raw, label=label)
        secret.save(update_fields=["kek_version", "wrapped"])
        secrets_done += 1
    return done, secrets_done


def _id_bytes(value) -> bytes:
    """The 16 bytes of a stored subject id (uuid on PostgreSQL, 32 hex digits on SQLite)."""
    if isinstance(value, str):
        return bytes.fromhex(value.replace("-", ""))
    return value.bytes
