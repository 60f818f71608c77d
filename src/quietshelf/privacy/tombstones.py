"""The erasure tombstone journal (PRV-RET-3): `erasures.tombstones` in the instance folder.

Every crypto-shredding (privacy.services.forget_subject[s]) appends the subject's id here;
a restore (privacy.backup) forgets every subject named here again. The journal sits apart
from backup.py so that services, which write it, do not import backup, which calls
services on a restore (no cycle inside the kernel: docs/dev/architecture.md, #14).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from django.conf import settings
from django.utils import timezone


def tombstone_path() -> Path:
    return Path(settings.INSTANCE_DIR) / "erasures.tombstones"


def record_tombstones(subject_ids) -> None:
    """Append erased subjects' ids (random UUIDs, no personal value) to the tombstone file."""
    if not subject_ids:
        return
    path = tombstone_path()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    stamp = timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    with os.fdopen(fd, "a") as handle:
        handle.writelines(f"{stamp} {sid}\n" for sid in subject_ids)


def read_tombstones(path: Path | None = None) -> list[tuple[str, str]]:
    path = path or tombstone_path()
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        stamp, _sep, sid = line.strip().partition(" ")
        if sid:
            out.append((stamp, sid))
    return out


def prune_tombstones(before: dt.datetime) -> int:
    """Drop tombstones older than the oldest backup can be (the backup rule)."""
    rows = read_tombstones()
    limit = before.strftime("%Y-%m-%dT%H:%M:%SZ")
    keep = [(s, i) for s, i in rows if s >= limit]
    if len(keep) != len(rows):
        tmp = tombstone_path().with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.writelines(f"{s} {i}\n" for s, i in keep)
        tmp.replace(tombstone_path())
    return len(rows) - len(keep)
