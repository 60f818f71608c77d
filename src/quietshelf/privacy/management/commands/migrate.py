"""`quietshelf migrate`: Django's migrate, for the main database and the key store.

In development it first creates the master key file (0600) when there is
none; production never creates one. After migrating it checks the master
key against the key store (a wrong key stops here, with one clear line).
In the test environment the test runner migrates each database itself.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import DEFAULT_DB_ALIAS

from quietshelf.privacy import keys


class Command(DjangoMigrate):
    help = "Create or update the database tables (main database and key store)."

    def handle(self, *args, **options):
        database = options.get("database") or DEFAULT_DB_ALIAS
        if database != DEFAULT_DB_ALIAS or settings.QUIETSHELF_ENV == "test":
            return super().handle(*args, **options)
        try:
            if not settings.PRODUCTION and keys.create_key_file():
                self.stdout.write(f"Created the master key file {keys.key_file_path()} (0600).")
            keys.load_master_keys()
        except keys.MasterKeyError as exc:
            raise CommandError(str(exc), returncode=2) from None
        ensure_keystore_database()
        super().handle(*args, **{**options, "database": keys.KEYSTORE_DB})
        _private_sqlite_file(keys.KEYSTORE_DB)
        super().handle(*args, **options)
        try:
            keys.reset_caches()
            keys.startup_check()
        except keys.MasterKeyError as exc:
            raise CommandError(str(exc), returncode=2) from None


def ensure_keystore_database() -> None:
    """On PostgreSQL, create the key store's database beside the main one when it is missing."""
    from django.db import connections
    from django.db.utils import OperationalError

    store = connections[keys.KEYSTORE_DB]
    if store.vendor != "postgresql":
        return
    try:
        store.ensure_connection()
        return
    except OperationalError as exc:
        if "does not exist" not in str(exc):
            raise CommandError(f"cannot reach the key store database: {exc}") from None
    main = connections[DEFAULT_DB_ALIAS]
    name = store.settings_dict["NAME"]
    with main.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {main.ops.quote_name(name)}")
    store.close()


def _private_sqlite_file(alias: str) -> None:
    """The key store file is for the app's user only (it holds wrapped keys)."""
    import os
    from pathlib import Path

    from django.db import connections

    conn = connections[alias]
    if conn.vendor != "sqlite":
        return
    for suffix in ("", "-wal", "-shm"):
        path = Path(str(conn.settings_dict["NAME"]) + suffix)
        if path.exists():
            os.chmod(path, 0o600)
