"""Migrated instances for tests that run `quietshelf` in a subprocess (#14 item 8).

`quietshelf migrate` on an empty instance applies every migration of every app in a
new process: 10-15 s on a loaded two-core machine, and several command-line tests
start from a migrated instance. So each kind of instance is migrated once per test
session, with the same command and environment the test would have used, and each
test gets a copy: the instance folder's files as migrate left them (SQLite
databases, a master.key with its 0600 mode) and, on PostgreSQL, its main and key
store databases made with CREATE DATABASE ... TEMPLATE. The tests still run every
other command against a real instance of their own; only the waiting is shared.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

POSTGRES_SCHEMES = ("postgres://", "postgresql://")


def _split_pg(url: str) -> tuple[str, str]:
    """postgres://user@host:port/name -> (postgres://user@host:port, name)."""
    base, _, name = url.rpartition("/")
    return base, name


def _admin(base: str):
    import psycopg

    return psycopg.connect(f"{base}/postgres", autocommit=True)


class MigratedInstances:
    """One migrated template per environment; `copy_into(env)` gives a test its own copy."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.templates: dict[tuple, tuple[Path, str | None]] = {}
        self.template_databases: list[tuple[str, str]] = []

    @staticmethod
    def _kind(env: dict[str, str]) -> tuple:
        # What can change what migrate writes: the settings (QUIETSHELF_*, DJANGO_*) and
        # the database server; not the instance's own places, nor what pytest puts in
        # the environment per test (PYTEST_CURRENT_TEST).
        url = env.get("DATABASE_URL", "")
        server = _split_pg(url)[0] if url.startswith(POSTGRES_SCHEMES) else url
        settings = sorted(
            (k, v)
            for k, v in env.items()
            if k.startswith(("QUIETSHELF_", "DJANGO_")) and k != "QUIETSHELF_HOME"
        )
        return (*settings, ("database server", server))

    def _template(self, env: dict[str, str]) -> tuple[Path, str | None]:
        kind = self._kind(env)
        if kind in self.templates:
            return self.templates[kind]
        home = self.root / f"template-{len(self.templates)}"
        home.mkdir(parents=True)
        template_env = {**env, "QUIETSHELF_HOME": str(home)}
        database = None
        url = env.get("DATABASE_URL", "")
        if url.startswith(POSTGRES_SCHEMES):
            base, _ = _split_pg(url)
            database = f"qs_template_{uuid.uuid4().hex[:10]}"
            template_env["DATABASE_URL"] = f"{base}/{database}"
            with _admin(base) as admin:
                admin.execute(f"CREATE DATABASE {database}")
            self.template_databases += [(base, database), (base, f"{database}_keystore")]
        migrated = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "quietshelf", "migrate", "-v", "0"],
            env=template_env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert migrated.returncode == 0, migrated.stderr[-3000:]
        self.templates[kind] = (home, database)
        return home, database

    def template(self, env: dict[str, str]) -> Path:
        """The instance folder `quietshelf migrate` made, in env's settings, on an empty
        one: for tests of what migrate itself leaves there. Read it, never change it."""
        return self._template(env)[0]

    def copy_into(self, env: dict[str, str]) -> dict[str, str]:
        """Make env's QUIETSHELF_HOME (and, on PostgreSQL, env's DATABASE_URL database and
        its key store, which must not exist yet) a copy of a freshly migrated instance."""
        template_home, template_db = self._template(env)
        home = Path(env["QUIETSHELF_HOME"])
        # copytree keeps each file's mode: master.key and keystore.sqlite3 stay 0600
        shutil.copytree(template_home, home, dirs_exist_ok=True)
        if template_db:
            base, name = _split_pg(env["DATABASE_URL"])
            with _admin(base) as admin:
                for suffix in ("", "_keystore"):
                    admin.execute(f"CREATE DATABASE {name}{suffix} TEMPLATE {template_db}{suffix}")
        return env

    def close(self) -> None:
        for base, name in self.template_databases:
            with _admin(base) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@dataclass(frozen=True)
class DemoRun:
    """What `quietshelf demo` printed and the instance folder it made."""

    home: Path
    returncode: int
    stdout: str
    stderr: str


def demo_env(home: Path) -> dict[str, str]:
    """The environment `make demo` runs in: development, its own SQLite instance."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(QUIETSHELF_HOME=str(home), QUIETSHELF_ENV="development")
    return env


def run_demo(home: Path, *extra: str) -> DemoRun:
    """`quietshelf demo --no-serve` on `home` (made if missing). Migrating and loading the
    3,063 demo records takes 20-40 s on two cores, so tests that serve the demo start
    from a copy of one such instance (conftest: demo_instance, demo_copy)."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "quietshelf", "demo", "--no-serve", *extra],
        capture_output=True,
        text=True,
        env=demo_env(home),
        timeout=600,
    )
    return DemoRun(home, done.returncode, done.stdout, done.stderr)
