"""Encrypted backups that expire, and a restore that keeps erased patrons erased
(PRV-ENC-3, PRV-RET-3).

A backup is one file, `quietshelf-YYYYmmddTHHMMSSZ.qsbackup`:

    b"QSBACKUP1\\n" | manifest length (4 bytes, big-endian) | manifest (JSON)
    | nonce (12) | AES-256-GCM(tar of the main database and the key store) + tag

The key is derived with HKDF-SHA256 from the current master key version and a
random salt (both named in the manifest); the manifest is the associated data,
so it cannot be changed without the file failing to open. The same manifest is
written beside the file (`.manifest.json`) for the operator; it holds no
personal data. SQLite databases are copied with SQLite's online backup API;
PostgreSQL ones with `pg_dump --format=custom`.

Erasure tombstones. Every crypto-shredding (privacy.services.forget_subject[s])
appends the subject's id to `erasures.tombstones` in the instance folder. A
restore, after unpacking, forgets every subject named there again: its data
key is deleted from the restored key store and the registered hooks delete
its rows. So a patron erased after the backup was made stays erased, and none
of their fields decrypts. Tombstones are kept as long as the backup rule.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import os
import shutil
import sqlite3
import struct
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import connections
from django.utils import timezone

from quietshelf.core.errors import DomainError
from quietshelf.privacy import keys
from quietshelf.privacy.tombstones import (  # noqa: F401  (the journal's names, as before)
    prune_tombstones,
    read_tombstones,
    record_tombstones,
    tombstone_path,
)

MAGIC = b"QSBACKUP1\n"
FORMAT = 1
KEYSTORE = keys.KEYSTORE_DB


class BackupError(DomainError):
    code = "backup_error"


# --- restore hooks: the apps above delete rows of re-forgotten subjects ----------------

_restore_hooks: list[Callable[[list], None]] = []


def register_restore_hook(hook: Callable[[list], None]) -> None:
    """`hook(subject_ids)`: delete the rows of these (re-forgotten) subjects after a restore."""
    if hook not in _restore_hooks:
        _restore_hooks.append(hook)


# --- crypto --------------------------------------------------------------------------


def _key(version: int, salt: bytes) -> AESGCM:
    ring = keys.load_master_keys()
    master = ring.keys.get(version)
    if master is None:
        raise BackupError(
            f"this backup was made under master key version {version}, which this instance "
            "does not hold: it was made under another master key"
        )
    raw = HKDF(algorithm=SHA256(), length=32, salt=salt, info=b"qs-backup|v1").derive(master)
    return AESGCM(raw)


# --- dumping -------------------------------------------------------------------------


def _sqlite_copy(alias: str, target: Path) -> None:
    conn = connections[alias]
    conn.ensure_connection()
    dest = sqlite3.connect(target)
    try:
        conn.connection.backup(dest)
    finally:
        dest.close()


def _pg_env(alias: str) -> tuple[list[str], dict]:
    db = settings.DATABASES[alias]
    name = connections[alias].settings_dict["NAME"]
    args = ["--host", str(db.get("HOST") or "localhost"), "--port", str(db.get("PORT") or 5432)]
    if db.get("USER"):
        args += ["--username", str(db["USER"])]
    env = {**os.environ}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return [*args, "--dbname", name], env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (Debian: postgresql-client)")
    return found


def _pg_dump(alias: str, target: Path) -> None:
    args, env = _pg_env(alias)
    out = subprocess.run(  # noqa: S603 - a found program, arguments from settings
        [_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(target), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode:
        raise BackupError(f"pg_dump failed: {out.stderr.strip().splitlines()[-1:]}")


def _dump(alias: str, folder: Path) -> str:
    vendor = connections[alias].vendor
    name = f"{alias}.{'sqlite3' if vendor == 'sqlite' else 'pgdump'}"
    if vendor == "sqlite":
        _sqlite_copy(alias, folder / name)
    elif vendor == "postgresql":
        _pg_dump(alias, folder / name)
    else:
        raise BackupError(f"cannot back up a {vendor} database")
    return name


@dataclass
class BackupResult:
    path: Path
    manifest: dict


def _counts() -> dict:
    from quietshelf.privacy.models import DataKey, Subject

    return {
        "subjects": Subject.objects.count(),
        "data_keys": DataKey.objects.using(KEYSTORE).count(),
    }


def backup(*, folder: Path | None = None) -> BackupResult:
    """Write one encrypted backup file (and its manifest) into the backup folder."""
    folder = Path(folder or settings.QUIETSHELF_BACKUP_DIR)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = timezone.now().astimezone(dt.UTC)
    ring = keys.load_master_keys()
    version = ring.current_version
    salt = os.urandom(16)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        work = Path(tmp)
        names = [_dump("default", work), _dump(KEYSTORE, work)]
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for name in names:
                tar.add(work / name, arcname=name)
        plain = buf.getvalue()
    nonce = os.urandom(12)
    manifest = {
        "format": FORMAT,
        "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "engine": connections["default"].vendor,
        "files": names,
        "master_key_version": version,
        "salt": base64.b64encode(salt).decode(),
        "cipher": "AES-256-GCM, key HKDF-SHA256(master key, salt)",
        "plaintext_bytes": len(plain),
        "payload_bytes": len(plain) + 16,
        "counts": _counts(),
        "tombstones_at_backup": len(read_tombstones()),
    }
    head = json.dumps(manifest, sort_keys=True).encode()
    sealed = _key(version, salt).encrypt(nonce, plain, MAGIC + head)
    path = folder / f"quietshelf-{now.strftime('%Y%m%dT%H%M%S%fZ')}.qsbackup"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(MAGIC + struct.pack(">I", len(head)) + head + nonce + sealed)
    side = path.with_name(path.name + ".manifest.json")
    fd = os.open(side, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(manifest, handle, indent=2, sort_keys=True)
    return BackupResult(path=path, manifest=manifest)


# --- restoring -----------------------------------------------------------------------


def open_backup(path: Path) -> tuple[dict, bytes]:
    """The manifest and the decrypted payload; BackupError naming what is wrong."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror}") from None
    if not data.startswith(MAGIC):
        raise BackupError(f"{path} is not a Quietshelf backup")
    try:
        (length,) = struct.unpack(">I", data[len(MAGIC) : len(MAGIC) + 4])
        start = len(MAGIC) + 4
        head = data[start : start + length]
        manifest = json.loads(head)
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ValueError
    except (struct.error, ValueError):
        raise BackupError(f"{path} is truncated or damaged (its manifest does not read)") from None
    body = data[start + length :]
    if len(body) < 12 + int(manifest.get("payload_bytes", 0)):
        raise BackupError(f"{path} is truncated")
    try:
        salt = base64.b64decode(manifest["salt"])
        aead = _key(int(manifest["master_key_version"]), salt)
        plain = aead.decrypt(body[:12], body[12:], MAGIC + head)
    except InvalidTag:
        raise BackupError(
            f"{path} does not open: it was made under another master key, or it was altered"
        ) from None
    except (KeyError, ValueError, TypeError):
        raise BackupError(f"{path} is damaged (its manifest is incomplete)") from None
    return manifest, plain


def _is_empty(alias: str) -> bool:
    conn = connections[alias]
    if conn.vendor == "sqlite":
        name = Path(conn.settings_dict["NAME"])
        if not name.exists() or name.stat().st_size == 0:
            return True
    with conn.cursor() as cur:
        tables = conn.introspection.table_names(cur)
    return not tables


def _sqlite_place(alias: str, source: Path) -> None:
    conn = connections[alias]
    target = Path(conn.settings_dict["NAME"])
    conn.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, target)
    os.chmod(target, 0o600)


def _pg_place(alias: str, source: Path) -> None:
    args, env = _pg_env(alias)
    out = subprocess.run(  # noqa: S603 - a found program, arguments from settings
        [_tool("pg_restore"), "--no-owner", "--exit-on-error", *args, str(source)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode:
        raise BackupError(f"pg_restore failed: {out.stderr.strip().splitlines()[-1:]}")


@dataclass
class RestoreResult:
    manifest: dict
    reforgotten: int
    since_backup: int


def restore(*, path: Path, tombstones: Path | None = None) -> RestoreResult:
    """Restore a backup into an empty instance, then re-apply the erasure tombstones."""
    manifest, plain = open_backup(path)  # every check before anything is touched
    engine = connections["default"].vendor
    if manifest.get("engine") != engine:
        raise BackupError(
            f"this backup is of a {manifest.get('engine')} instance; this one runs {engine}"
        )
    for alias in ("default", KEYSTORE):
        if not _is_empty(alias):
            raise BackupError(
                f"the {alias} database is not empty: restore only into an empty instance"
            )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with tarfile.open(fileobj=io.BytesIO(plain), mode="r:gz") as tar:
            tar.extractall(work, filter="data")
        for alias in ("default", KEYSTORE):
            name = next(n for n in manifest["files"] if n.startswith(f"{alias}."))
            if engine == "sqlite":
                _sqlite_place(alias, work / name)
            else:
                _pg_place(alias, work / name)
    keys.reset_caches()
    return reapply_tombstones(manifest, tombstones)


def reapply_tombstones(manifest: dict, tombstones: Path | None = None) -> RestoreResult:
    from quietshelf.privacy.models import Subject
    from quietshelf.privacy.services import forget_subjects

    rows = read_tombstones(tombstones)
    since = sum(1 for stamp, _sid in rows if stamp >= manifest.get("created_at", ""))
    ids = list({sid for _stamp, sid in rows})
    present = [
        str(s) for s in Subject.objects.filter(pk__in=ids).values_list("pk", flat=True).iterator()
    ]
    from django.db import transaction

    with transaction.atomic(durable=True):
        forget_subjects(subject_ids=present, record=False)
        for hook in list(_restore_hooks):
            hook(present)
    return RestoreResult(manifest=manifest, reforgotten=len(present), since_backup=since)
