"""Keys: the versioned master key (KEK), per-subject data keys, index and signing keys.

The KEK never touches the database. It comes from QUIETSHELF_MASTER_KEY
("2:<base64>,1:<base64>"; a bare "<base64>" is version 1) or from the 0600
file INSTANCE_DIR/master.key (one "version:base64" per line). The highest
version wraps new keys; every listed version unwraps, so the app keeps
serving while `quietshelf rotate-keys` re-wraps.

Each data subject gets a random 256-bit data key, stored wrapped
(AES-256-GCM under the KEK, the subject id as associated data) in the key
store database, apart from the main tables. Unwrapped keys are kept in a
small per-process LRU cache with a time limit.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import stat
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from quietshelf.core.idlist import IdList
from quietshelf.core.ids import as_uuid

KEYSTORE_DB = "keystore"
_CHECK_LABEL = b"quietshelf master key check v1"


class MasterKeyError(ImproperlyConfigured):
    """The master key is missing, unsafe or not the one this instance was set up with."""


# --- the master key ring ------------------------------------------------------


_ciphers: dict[int, dict[int, AESGCM]] = {}


@dataclass(frozen=True)
class MasterKeyRing:
    keys: dict[int, bytes]  # version -> 32 bytes
    source: str  # "QUIETSHELF_MASTER_KEY" or the key file path

    @property
    def current_version(self) -> int:
        return max(self.keys)

    def check_value(self, version: int) -> str:
        """A key check value: proves which key this is without revealing it."""
        return hmac.new(self.keys[version], _CHECK_LABEL, hashlib.sha256).hexdigest()[:32]

    def cipher(self, version: int) -> AESGCM:
        cache = _ciphers.setdefault(id(self), {})
        aead = cache.get(version)
        if aead is None:
            aead = cache[version] = AESGCM(self.keys[version])
        return aead

    def wrap(self, secret: bytes, *, label: bytes, version: int | None = None) -> tuple[int, bytes]:
        version = self.current_version if version is None else version
        nonce = os.urandom(12)
        sealed = self.cipher(version).encrypt(nonce, secret, label)
        return version, nonce + sealed

    def unwrap(self, version: int, wrapped: bytes, *, label: bytes) -> bytes:
        key = self.keys.get(version)
        if key is None:
            raise MasterKeyError(
                f"a key is wrapped under master key version {version}, which "
                f"{self.source} does not hold; add that version back (see docs/privacy-model.md)"
            )
        wrapped = bytes(wrapped)
        return self.cipher(version).decrypt(wrapped[:12], wrapped[12:], label)


def parse_master_key(text: str, *, source: str) -> MasterKeyRing:
    """Parse "v:base64" items separated by commas or new lines."""
    keys: dict[int, bytes] = {}
    items = [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]
    if not items:
        raise MasterKeyError(f"{source} is empty: it must hold a base64-encoded 32-byte key")
    for item in items:
        if item.startswith("#"):
            continue
        version_text, sep, key_text = item.partition(":")
        if not sep:
            version_text, key_text = "1", item
        try:
            version = int(version_text)
        except ValueError:
            raise MasterKeyError(
                f"{source}: {version_text[:10]!r} is not a key version number"
            ) from None
        try:
            key = base64.b64decode(key_text, validate=True)
        except (binascii.Error, ValueError):
            raise MasterKeyError(f"{source}: key version {version} is not valid base64") from None
        if len(key) != 32:
            raise MasterKeyError(
                f"{source}: key version {version} is {len(key)} bytes; it must be 32 bytes "
                "(generate one with: python -c 'import os,base64;"
                "print(base64.b64encode(os.urandom(32)).decode())')"
            )
        if version < 1 or version in keys:
            raise MasterKeyError(f"{source}: key version {version} is invalid or repeated")
        keys[version] = key
    if not keys:
        raise MasterKeyError(f"{source} holds no key")
    return MasterKeyRing(keys=keys, source=source)


def key_file_path() -> Path:
    return Path(settings.QUIETSHELF_MASTER_KEY_FILE)


def check_key_file_mode(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise MasterKeyError(
            f"refusing to start: the master key file {path} has mode {mode:04o}, so other "
            f"users on this machine can read it; run: chmod 600 {path}"
        )


def new_key_line(version: int) -> str:
    return f"{version}:{base64.b64encode(secrets.token_bytes(32)).decode()}"


def create_key_file(path: Path | None = None) -> bool:
    """Create the development key file (0600) when there is none. True if created."""
    path = path or key_file_path()
    if settings.PRODUCTION:
        raise MasterKeyError(
            "production never creates a master key by itself: set QUIETSHELF_MASTER_KEY "
            f"or create {path} (mode 0600) yourself"
        )
    if settings.QUIETSHELF_MASTER_KEY or path.exists():
        return False
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(new_key_line(1) + "\n")
    return True


def add_key_file_version() -> int:
    """Prepend a new, higher key version to the key file; returns the new version."""
    path = key_file_path()
    if settings.QUIETSHELF_MASTER_KEY:
        raise MasterKeyError(
            "the master key comes from QUIETSHELF_MASTER_KEY: add the new version there "
            '("2:<new>,1:<old>") and restart, then run rotate-keys'
        )
    ring = load_master_keys()
    version = ring.current_version + 1
    text = path.read_text()
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(new_key_line(version) + "\n" + text)
    os.replace(tmp, path)
    reset_caches()
    return version


_ring: MasterKeyRing | None = None
_ring_lock = threading.Lock()
_verified = False


def load_master_keys() -> MasterKeyRing:
    """Read the master key ring (env first, then the key file), refusing unsafe files."""
    global _ring
    if _ring is not None:
        return _ring
    with _ring_lock:
        if _ring is not None:
            return _ring
        if settings.QUIETSHELF_MASTER_KEY:
            ring = parse_master_key(settings.QUIETSHELF_MASTER_KEY, source="QUIETSHELF_MASTER_KEY")
        else:
            path = key_file_path()
            if not path.exists():
                if settings.PRODUCTION:
                    raise MasterKeyError(
                        f"no master key: set QUIETSHELF_MASTER_KEY or create {path} (mode 0600)"
                    )
                if settings.QUIETSHELF_ENV == "test":
                    create_key_file(path)
                else:
                    raise MasterKeyError(
                        f"no master key at {path}: run 'quietshelf migrate' to create one "
                        "(development) or set QUIETSHELF_MASTER_KEY"
                    )
            check_key_file_mode(path)
            ring = parse_master_key(path.read_text(), source=str(path))
        _ring = ring
        return ring


def startup_check() -> None:
    """What the app checks before it serves: a key that is present, private and right.

    Raises MasterKeyError with one clear sentence. Needs the key store tables.
    """
    ring = load_master_keys()
    verify_ring_against_store(ring)


def verify_ring_against_store(ring: MasterKeyRing) -> None:
    """Compare key check values; record them for versions the store has not seen."""
    global _verified
    from quietshelf.privacy.models import DataKey, MasterKeyCheck

    known = {row.version: row.check_value for row in MasterKeyCheck.objects.using(KEYSTORE_DB)}
    for version in ring.keys:
        expected = known.get(version)
        if expected is None:
            MasterKeyCheck.objects.using(KEYSTORE_DB).get_or_create(
                version=version, defaults={"check_value": ring.check_value(version)}
            )
        elif not hmac.compare_digest(expected, ring.check_value(version)):
            raise MasterKeyError(
                f"wrong master key: version {version} from {ring.source} is not the key this "
                "instance's key store was created with; nothing can be decrypted with it"
            )
    used = set(
        DataKey.objects.using(KEYSTORE_DB).values_list("kek_version", flat=True).distinct()[:20]
    )
    missing = sorted(used - set(ring.keys))
    if missing:
        raise MasterKeyError(
            f"data keys are wrapped under master key version(s) {missing}, which "
            f"{ring.source} does not hold"
        )
    _verified = True


def ring() -> MasterKeyRing:
    current = load_master_keys()
    if not _verified:
        verify_ring_against_store(current)
    return current


# --- data keys -----------------------------------------------------------------


def _dk_label(subject_id: uuid.UUID) -> bytes:
    return b"qs-data-key|" + subject_id.bytes


class _KeyCache:
    """A small LRU of unwrapped data keys with a time limit (per process)."""

    def __init__(self):
        self._items: OrderedDict[uuid.UUID, tuple[float, AESGCM]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, subject_id: uuid.UUID) -> AESGCM | None:
        with self._lock:
            item = self._items.get(subject_id)
            if item is None:
                self.misses += 1
                return None
            stamp, key = item
            if time.monotonic() - stamp > settings.QUIETSHELF_KEY_CACHE_SECONDS:
                del self._items[subject_id]
                self.misses += 1
                return None
            self._items.move_to_end(subject_id)
            self.hits += 1
            return key

    def put(self, subject_id: uuid.UUID, key: AESGCM) -> None:
        with self._lock:
            self._items[subject_id] = (time.monotonic(), key)
            self._items.move_to_end(subject_id)
            while len(self._items) > settings.QUIETSHELF_KEY_CACHE_SIZE:
                self._items.popitem(last=False)

    def drop(self, subject_id: uuid.UUID) -> None:
        with self._lock:
            self._items.pop(subject_id, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


key_cache = _KeyCache()


def create_data_key(subject_id: uuid.UUID) -> None:
    """Make and store a wrapped data key (committed in the key store at once)."""
    from quietshelf.privacy.models import DataKey

    current = ring()
    raw = secrets.token_bytes(32)
    version, wrapped = current.wrap(raw, label=_dk_label(subject_id))
    DataKey.objects.using(KEYSTORE_DB).create(
        subject_id=subject_id, kek_version=version, wrapped=wrapped
    )
    key_cache.put(subject_id, AESGCM(raw))


class NewDataKey(NamedTuple):
    """A data key just made: what the key store keeps, and the key itself."""

    subject_id: uuid.UUID
    kek_version: int
    wrapped: bytes
    key: AESGCM


def new_data_keys(
    subject_ids: Iterable[uuid.UUID], *, current: MasterKeyRing | None = None
) -> list[NewDataKey]:
    """Make many subjects' data keys, wrapped under the master key, without storing them.

    The caller stores (subject_id, kek_version, wrapped) as DataKey rows in
    the key store before anything sealed with ``key`` commits (patron loads
    write them first). ``current``: a ring loaded earlier, for a process that
    must not touch the database (a load's encoding process); else ring().
    """
    current = ring() if current is None else current
    made = []
    for subject_id in subject_ids:
        raw = secrets.token_bytes(32)
        version, wrapped = current.wrap(raw, label=_dk_label(subject_id))
        made.append(NewDataKey(subject_id, version, wrapped, AESGCM(raw)))
    return made


def create_data_keys(subject_ids: list[uuid.UUID]) -> None:
    """Many at once (bulk imports, benchmarks)."""
    from quietshelf.privacy.models import DataKey

    rows = [
        DataKey(subject_id=k.subject_id, kek_version=k.kek_version, wrapped=k.wrapped)
        for k in new_data_keys(subject_ids)
    ]
    DataKey.objects.using(KEYSTORE_DB).bulk_create(rows, batch_size=2000)


def open_data_keys(subject_ids: Iterable[uuid.UUID]) -> None:
    """Unwrap many subjects' data keys with one key-store query, into the key cache.

    Their sealed values then open without a query each (lists of patrons,
    notice runs, reports). A key that is gone or does not open is skipped:
    reading a value of that subject reports it, as data_key() does.
    """
    from quietshelf.privacy.models import DataKey

    missing = [sid for sid in subject_ids if key_cache.get(sid) is None]
    if not missing:
        return
    current = ring()
    rows = (
        DataKey.objects.using(KEYSTORE_DB)
        .filter(subject_id__in=missing)
        .values_list("subject_id", "kek_version", "wrapped")
    )
    for sid, version, wrapped in rows:
        try:
            raw = current.unwrap(version, wrapped, label=_dk_label(sid))
        except (InvalidTag, MasterKeyError):
            continue  # data_key() reports it when the value is read
        key_cache.put(sid, AESGCM(raw))


def data_key(subject_id: uuid.UUID) -> AESGCM | None:
    """The subject's data key, or None when it was deleted (the subject is forgotten).

    Raises InvalidTag when the wrapped key does not open (wrong or altered).
    """
    from quietshelf.privacy.models import DataKey

    cached = key_cache.get(subject_id)
    if cached is not None:
        return cached
    row = (
        DataKey.objects.using(KEYSTORE_DB)
        .filter(subject_id=subject_id)
        .values_list("kek_version", "wrapped")
        .first()
    )
    if row is None:
        return None
    raw = ring().unwrap(row[0], row[1], label=_dk_label(subject_id))
    key = AESGCM(raw)
    key_cache.put(subject_id, key)
    return key


def delete_data_key(subject_id: uuid.UUID) -> bool:
    from quietshelf.privacy.models import DataKey

    key_cache.drop(subject_id)
    deleted, _ = DataKey.objects.using(KEYSTORE_DB).filter(subject_id=subject_id).delete()
    return deleted > 0


def delete_data_keys(subject_ids: list[uuid.UUID]) -> int:
    """Many at once (the retention job's patron purge): one DELETE in the key store."""
    from quietshelf.privacy.models import DataKey

    for subject_id in subject_ids:
        key_cache.drop(as_uuid(subject_id))
    found = DataKey.objects.using(KEYSTORE_DB).filter(subject_id__in=IdList(subject_ids))
    deleted, _ = found.delete()
    return deleted


# --- instance secrets: the blind-index root key and the audit signing key ----------


def _secret_label(name: str) -> bytes:
    return b"qs-secret|" + name.encode()


_secrets: dict[str, bytes] = {}


def instance_secret(name: str, *, generate=lambda: secrets.token_bytes(32)) -> bytes:
    """A named random secret kept wrapped by the KEK in the key store, made on first use."""
    from django.db import IntegrityError, transaction

    from quietshelf.privacy.models import WrappedSecret

    if name in _secrets:
        return _secrets[name]
    current = ring()
    row = WrappedSecret.objects.using(KEYSTORE_DB).filter(name=name).first()
    if row is None:
        value = generate()
        version, wrapped = current.wrap(value, label=_secret_label(name))
        try:
            with transaction.atomic(using=KEYSTORE_DB):
                WrappedSecret.objects.using(KEYSTORE_DB).create(
                    name=name, kek_version=version, wrapped=wrapped
                )
        except IntegrityError:
            row = WrappedSecret.objects.using(KEYSTORE_DB).get(name=name)
    if row is not None:
        try:
            value = current.unwrap(row.kek_version, row.wrapped, label=_secret_label(name))
        except InvalidTag:
            raise MasterKeyError(
                f"the key store's {name} does not open with the master key: wrong master key "
                "or an altered key store"
            ) from None
    _secrets[name] = value
    return value


def derived_key(purpose: str) -> bytes:
    """A 32-byte key for one purpose (e.g. one blind index), from the index root key."""
    root = instance_secret("blind-index-root")
    return HKDF(
        algorithm=SHA256(), length=32, salt=b"quietshelf", info=b"qs-bidx|" + purpose.encode()
    ).derive(root)


def reset_caches() -> None:
    """Forget everything cached (tests, key rotation in this process)."""
    global _ring, _verified
    _ring = None
    _ciphers.clear()
    _verified = False
    _secrets.clear()
    _derived_cache.clear()
    key_cache.clear()


_derived_cache: dict[str, bytes] = {}


def index_key(purpose: str) -> bytes:
    key = _derived_cache.get(purpose)
    if key is None:
        key = _derived_cache[purpose] = derived_key(purpose)
    return key


# --- rotation ----------------------------------------------------------------------


def rewrap_batch(rows: list[tuple[uuid.UUID | bytes, int, bytes]], current: MasterKeyRing) -> list:
    """Re-wrap (subject id or its 16 bytes, version, wrapped) rows under the current version."""
    out = []
    target = current.current_version
    for subject_id, version, wrapped in rows:
        raw_id = subject_id if isinstance(subject_id, bytes) else as_uuid(subject_id).bytes
        label = b"qs-data-key|" + raw_id
        raw = current.unwrap(version, wrapped, label=label)
        _, new = current.wrap(raw, label=label, version=target)
        out.append((subject_id, version, new))
    return out
