"""The audit log (PRV-ACC-1): who looked at, exported, changed or erased what, by id only.

Services call `record(...)` inside their own transaction, so the entry
commits or rolls back with the action. Entries are appended with a sequence
number only; `seal()` (run after commit, by `quietshelf audit-verify` and by
a periodic job) chains them in order: each sealed entry gets its position,
the SHA-256 of the previous entry and its own SHA-256 over a canonical form.
No audited transaction waits for a chain head. Every
QUIETSHELF_AUDIT_CHECKPOINT_EVERY entries the sealer signs the head with
the instance's Ed25519 key (kept wrapped in the key store).

`verify()` walks the chain and names the first modified, deleted, inserted
or reordered entry.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.db import IntegrityError, connection, connections, router, transaction
from django.utils import timezone

from quietshelf.core import bulk
from quietshelf.privacy import keys
from quietshelf.privacy.models import ActorType, AuditChainHead, AuditCheckpoint, AuditEntry

GENESIS = "0" * 64
ACTION_RE = re.compile(r"^[a-z][a-z_]{2,39}$")
COMMON_ACTIONS = (
    "viewed",
    "exported",
    "changed",
    "created",
    "overridden",
    "erased",
    "consent_given",
    "consent_withdrawn",
    "policy_published",
    "policy_acknowledged",
)
_PERSONAL_LOOKING = re.compile(r"@|\d{6,}")

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("qs_request_id", default="")


@dataclass(frozen=True)
class Actor:
    """Who did it: a staff member, the patron themself, a system job or a SIP2 terminal."""

    type: str
    id: str = ""

    @classmethod
    def staff(cls, user) -> Actor:
        return cls(ActorType.STAFF, str(user.pk))

    @classmethod
    def patron(cls, patron_id) -> Actor:
        return cls(ActorType.PATRON, str(patron_id))

    @classmethod
    def system(cls, job: str = "") -> Actor:
        return cls(ActorType.SYSTEM, job)

    @classmethod
    def terminal(cls, terminal_id) -> Actor:
        return cls(ActorType.TERMINAL, str(terminal_id))


def as_actor(actor) -> Actor:
    if actor is None:
        return Actor.system()
    if isinstance(actor, Actor):
        return actor
    if getattr(actor, "is_authenticated", False) and hasattr(actor, "pk"):
        return Actor.staff(actor)
    if getattr(actor, "is_anonymous", False):
        return Actor(ActorType.ANONYMOUS, "")
    raise TypeError(f"not an actor: {type(actor).__name__}")


def looks_personal(text: str) -> bool:
    """Whether a reason or note holds what looks like a personal value (an e-mail
    address, a card or phone number): such text never goes into the audit log."""
    return bool(_PERSONAL_LOOKING.search(text or ""))


def entry_values(*, actor, action: str, object_type: str, reason: str = "") -> dict:
    """The checked fields of an entry but its time and object id (the same for many).

    Raises ValueError for an action that is not a lower-case word, an entry
    without an object type, or a reason that is long or looks personal.
    A bulk writer that builds its rows elsewhere (patron loads) starts from these.
    """
    if not ACTION_RE.match(action):
        raise ValueError(f"audit action {action!r} must be a lower-case word like 'viewed'")
    if not object_type:
        raise ValueError("an audit entry needs an object (obj=… or object_type=…)")
    reason = (reason or "").strip()
    if len(reason) > 200 or looks_personal(reason):
        raise ValueError(
            "an audit reason is a short code or sentence without personal values "
            "(no e-mail addresses, card or phone numbers)"
        )
    who = as_actor(actor)
    return {
        "actor_type": who.type,
        "actor_id": who.id,
        "action": action,
        "object_type": object_type,
        "reason": reason,
        "request_id": request_id_var.get(),
    }


def record(
    *,
    actor,
    action: str,
    obj=None,
    object_type: str = "",
    object_id=None,
    reason: str = "",
) -> AuditEntry:
    """Append one entry in the caller's transaction. Ids only; `reason` is a short code."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = obj.pk
    values = entry_values(actor=actor, action=action, object_type=object_type, reason=reason)
    entry = AuditEntry.objects.create(
        at=timezone.now(),
        object_id="" if object_id is None else str(object_id),
        **values,
    )
    after_entries_committed()
    return entry


def record_many(*, actor, entries: Iterable[tuple[str, str, Any, str]]) -> int:
    """Append many entries in the caller's transaction, in one statement; how many.

    ``entries``: (action, object type, object id, reason) each, checked as
    `record` checks one; all get the same actor, request and time (they are
    one action's entries, e.g. a patron load's updated patrons). Sealed after
    commit like any other entry.
    """
    rows = []
    at = None
    checked: dict[tuple[str, str, str], dict] = {}
    for action, object_type, object_id, reason in entries:
        key = (action, object_type, reason)
        values = checked.get(key)
        if values is None:
            values = checked[key] = entry_values(
                actor=actor, action=action, object_type=object_type, reason=reason
            )
        if at is None:
            field = AuditEntry._meta.get_field("at")
            at = field.get_db_prep_save(
                timezone.now(), connections[router.db_for_write(AuditEntry)]
            )
        rows.append({**values, "at": at, "object_id": "" if object_id is None else str(object_id)})
    if not rows:
        return 0
    bulk.insert_model_rows(AuditEntry, rows)
    after_entries_committed()
    return len(rows)


def after_entries_committed() -> None:
    """Have the entries written in this transaction sealed after it commits.

    For writers that insert entries themselves (from `entry_values`), as
    `record` and `record_many` do for theirs.
    """
    transaction.on_commit(_seal_quietly)


_last_seal = 0.0


def _seal_quietly() -> None:
    """After commit: seal, at most once per QUIETSHELF_AUDIT_SEAL_SECONDS per process.

    Under load this amortises sealing over many transactions; entries left
    unsealed by a quiet spell are sealed by the next one, by the periodic job
    or by audit-verify.
    """
    global _last_seal
    interval = getattr(settings, "QUIETSHELF_AUDIT_SEAL_SECONDS", 1.0)
    now = time.monotonic()
    if now - _last_seal < interval:
        return
    _last_seal = now
    try:
        seal()
    except Exception:  # noqa: BLE001 - sealing is retried by audit-verify and the periodic job
        import logging

        logging.getLogger("quietshelf.privacy").exception("audit sealing failed; will retry")


def canonical(entry: AuditEntry, prev_hash: str) -> bytes:
    at = entry.at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    parts = [
        str(entry.seq),
        at,
        entry.actor_type,
        entry.actor_id,
        entry.action,
        entry.object_type,
        entry.object_id,
        entry.reason,
        entry.request_id,
        prev_hash,
    ]
    return "\x1f".join(p.replace("\x1f", " ") for p in parts).encode()


def entry_digest(entry: AuditEntry, prev_hash: str) -> str:
    return hashlib.sha256(canonical(entry, prev_hash)).hexdigest()


def _signing_key() -> Ed25519PrivateKey:
    seed = keys.instance_secret("audit-signing-key")
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_hex() -> str:
    return _signing_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def _checkpoint_message(chain_pos: int, entry_hash: str) -> bytes:
    return f"quietshelf-audit|{chain_pos}|{entry_hash}".encode()


def _head_for_update() -> AuditChainHead | None:
    qs = AuditChainHead.objects.filter(pk=1)
    if connection.features.has_select_for_update_skip_locked:
        head = qs.select_for_update(skip_locked=True).first()
        if head is None and not qs.exists():
            try:
                with transaction.atomic():
                    AuditChainHead.objects.create(pk=1)
            except IntegrityError:
                pass
            head = qs.select_for_update(skip_locked=True).first()
        return head  # None: another sealer holds it and will seal our entries
    head = qs.first()
    if head is None:
        head = AuditChainHead.objects.create(pk=1)
    return head


def seal(*, limit: int = 50_000, checkpoint: bool = False) -> int:
    """Chain unsealed entries in sequence order; returns how many were sealed."""
    with transaction.atomic():
        head = _head_for_update()
        if head is None:
            return 0
        pending = list(AuditEntry.objects.filter(chain_pos__isnull=True).order_by("seq")[:limit])
        pos, prev = head.chain_pos, head.entry_hash
        start = pos
        for entry in pending:
            pos += 1
            entry.chain_pos = pos
            entry.prev_hash = prev
            entry.entry_hash = prev = entry_digest(entry, prev)
        if pending:
            _write_chain(pending)
            head.chain_pos, head.entry_hash = pos, prev
            head.save(update_fields=["chain_pos", "entry_hash"])
        every = max(1, settings.QUIETSHELF_AUDIT_CHECKPOINT_EVERY)
        if pos > 0 and (checkpoint or pos // every > start // every):
            if not AuditCheckpoint.objects.filter(chain_pos=pos).exists():
                signature = _signing_key().sign(_checkpoint_message(pos, prev))
                AuditCheckpoint.objects.create(
                    chain_pos=pos,
                    entry_hash=prev,
                    signed_at=timezone.now(),
                    signature=signature.hex(),
                    public_key=public_key_hex(),
                )
        return len(pending)


def _write_chain(rows: list[AuditEntry]) -> None:
    """Fill the chain columns of many entries with few statements."""
    table = connection.ops.quote_name(AuditEntry._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} AS a SET chain_pos = v.pos, prev_hash = v.prev, "  # noqa: S608
                "entry_hash = v.h FROM unnest(%s::bigint[], %s::bigint[], %s::text[], "
                "%s::text[]) AS v(seq, pos, prev, h) WHERE a.seq = v.seq",
                [
                    [r.seq for r in rows],
                    [r.chain_pos for r in rows],
                    [r.prev_hash for r in rows],
                    [r.entry_hash for r in rows],
                ],
            )
        else:
            cursor.executemany(
                f"UPDATE {table} SET chain_pos = %s, prev_hash = %s, entry_hash = %s "  # noqa: S608
                "WHERE seq = %s",
                [(r.chain_pos, r.prev_hash, r.entry_hash, r.seq) for r in rows],
            )


@dataclass
class VerifyResult:
    ok: bool
    entries: int
    checkpoints: int
    unsealed: int
    problem: str = ""  # "modified", "deleted", "inserted", "reordered", "checkpoint"
    seq: int | None = None
    chain_pos: int | None = None
    message: str = ""

    def line(self) -> str:
        if self.ok:
            return (
                f"audit log intact: {self.entries} entries chained, "
                f"{self.checkpoints} signed checkpoints valid, {self.unsealed} not yet sealed"
            )
        return f"audit log BROKEN: {self.message}"


def verify() -> VerifyResult:
    """Walk the sealed chain in order; name the first entry that breaks it."""
    rows = list(
        AuditEntry.objects.filter(chain_pos__isnull=False).order_by("chain_pos").iterator(2000)
    )
    unsealed = AuditEntry.objects.filter(chain_pos__isnull=True).count()
    by_hash = {row.entry_hash: row for row in rows}
    prev_hash, prev_pos = GENESIS, 0
    hashes_at: dict[int, str] = {}
    # The retention job prunes old entries only up to a signed checkpoint (PRV-RET-1):
    # the chain then starts from that checkpoint, whose signature is checked below.
    anchor_pos = 0
    if rows and rows[0].chain_pos > 1:
        anchor = AuditCheckpoint.objects.filter(chain_pos=rows[0].chain_pos - 1).first()
        if anchor is not None and anchor.entry_hash == rows[0].prev_hash:
            prev_hash, prev_pos = anchor.entry_hash, anchor.chain_pos
            hashes_at[anchor.chain_pos] = anchor.entry_hash
            anchor_pos = anchor.chain_pos

    def broken(kind, row, message):
        return VerifyResult(False, len(rows), 0, unsealed, kind, row.seq, row.chain_pos, message)

    for i, row in enumerate(rows):
        content_ok = entry_digest(row, row.prev_hash) == row.entry_hash
        link_ok = row.prev_hash == prev_hash
        pos_ok = row.chain_pos == prev_pos + 1
        if content_ok and link_ok and pos_ok:
            prev_hash, prev_pos = row.entry_hash, row.chain_pos
            hashes_at[row.chain_pos] = row.entry_hash
            continue
        linked = by_hash.get(row.prev_hash)
        if not link_ok and linked is not None and linked.chain_pos > row.chain_pos:
            return broken(
                "reordered",
                row,
                f"entry seq={row.seq} was moved: it sits at chain position {row.chain_pos} "
                f"but follows entry seq={linked.seq} (position {linked.chain_pos})",
            )
        nxt = rows[i + 1] if i + 1 < len(rows) else None
        if nxt is not None and nxt.prev_hash == prev_hash and nxt.prev_hash != row.entry_hash:
            return broken(
                "inserted",
                row,
                f"entry seq={row.seq} (chain position {row.chain_pos}) was inserted: "
                "the next entry links past it",
            )
        if not link_ok and linked is not None and linked.chain_pos < prev_pos:
            first = next(r for r in rows if r.chain_pos > linked.chain_pos)
            return broken(
                "inserted",
                first,
                f"entry seq={first.seq} (chain position {first.chain_pos}) was inserted: "
                f"entry seq={row.seq} links past it to seq={linked.seq}",
            )
        if not content_ok and link_ok:
            return broken(
                "modified",
                row,
                f"entry seq={row.seq} (chain position {row.chain_pos}) was modified: "
                "its content no longer matches its hash",
            )
        if not link_ok and pos_ok and linked is None and i > 0:
            before = rows[i - 1]
            return broken(
                "modified",
                before,
                f"entry seq={before.seq} (chain position {before.chain_pos}) was modified and "
                "its hash recomputed: the next entry no longer links to it",
            )
        if not link_ok and (not pos_ok or linked is None):
            return broken(
                "deleted",
                row,
                f"the entry at chain position {prev_pos + 1}, before seq={row.seq}, "
                "was deleted: the chain skips from there",
            )
        return broken(
            "modified",
            row,
            f"entry seq={row.seq} (chain position {row.chain_pos}) was modified",
        )

    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and head.chain_pos > prev_pos:
        return VerifyResult(
            False,
            len(rows),
            0,
            unsealed,
            "deleted",
            None,
            prev_pos + 1,
            f"the chain head says {head.chain_pos} entries but only {prev_pos} remain: "
            f"the last {head.chain_pos - prev_pos} were deleted",
        )
    expected_key = public_key_hex() if rows else ""
    checked = 0
    for cp in AuditCheckpoint.objects.order_by("chain_pos"):
        try:
            if cp.public_key != expected_key:
                raise InvalidSignature
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(cp.public_key)).verify(
                bytes.fromhex(cp.signature), _checkpoint_message(cp.chain_pos, cp.entry_hash)
            )
        except (InvalidSignature, ValueError):
            return VerifyResult(
                False,
                len(rows),
                checked,
                unsealed,
                "checkpoint",
                None,
                cp.chain_pos,
                f"the signed checkpoint at chain position {cp.chain_pos} has a bad signature",
            )
        if cp.chain_pos < anchor_pos:
            checked += 1  # its entries were pruned by the retention rule; the signature holds
            continue
        if hashes_at.get(cp.chain_pos) != cp.entry_hash:
            return VerifyResult(
                False,
                len(rows),
                checked,
                unsealed,
                "checkpoint",
                None,
                cp.chain_pos,
                f"entries up to chain position {cp.chain_pos} were rewritten: they no longer "
                "match the signed checkpoint there",
            )
        checked += 1
    return VerifyResult(True, len(rows), checked, unsealed)


def prunable_to(cutoff: dt.datetime) -> int:
    """The newest signed checkpoint position whose entry is older than `cutoff` (0: none).

    Entries up to there can go (the audit_log retention rule) and the chain
    still verifies from that checkpoint.
    """
    positions = (
        AuditEntry.objects.filter(chain_pos__isnull=False, at__lt=cutoff)
        .filter(chain_pos__in=AuditCheckpoint.objects.values("chain_pos"))
        .order_by("-chain_pos")
        .values_list("chain_pos", flat=True)
    )
    return positions.first() or 0
