"""The kernel's own retention steps: sessions, consents, forgotten subjects, log and backup files.

Registered at start-up (privacy/apps.py); the apps above register theirs the
same way (circulation/retention.py, patrons/retention.py, accounts/retention.py).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection, models

from quietshelf.privacy import audit, tombstones
from quietshelf.privacy.models import (
    AuditEntry,
    ConsentRecord,
    NameToken,
    PolicyAcknowledgement,
    Subject,
)
from quietshelf.privacy.retention import Context, Step, ids_batch, register_step

# --- sessions (SEC-SES-1): gone a day (the session rule) after they expire ------------


def _sessions(ctx: Context):
    return Session.objects.filter(expire_date__lt=ctx.cutoff)


def _sessions_batch(ctx: Context) -> int:
    keys = ids_batch(_sessions(ctx), ctx)
    return Session.objects.filter(pk__in=keys).delete()[0] if keys else 0


# --- consents: withdrawn ones, and acknowledgements of superseded policies ------------


def _consents(ctx: Context):
    return ConsentRecord.objects.filter(withdrawn_at__lt=ctx.cutoff)


def _acks(ctx: Context):
    return PolicyAcknowledgement.objects.filter(acknowledged_at__lt=ctx.cutoff)


def _consents_count(ctx: Context) -> dict:
    return {"due": _consents(ctx).count() + _acks(ctx).count()}


def _consents_batch(ctx: Context) -> int:
    ids = ids_batch(_consents(ctx), ctx)
    if ids:
        return ConsentRecord.objects.filter(pk__in=ids).delete()[0]
    ids = ids_batch(_acks(ctx), ctx)
    return PolicyAcknowledgement.objects.filter(pk__in=ids).delete()[0] if ids else 0


# --- forgotten subjects: the shredded person's last row goes after the staff rule -----


def _subjects(ctx: Context):
    qs = Subject.objects.filter(forgotten_at__lt=ctx.cutoff)
    # A row that still points at the subject with PROTECT (a legal hold, a kept record)
    # keeps it: found from the model graph, so a new app's table is covered too.
    with connection.cursor() as cur:
        tables = set(connection.introspection.table_names(cur))
    for rel in Subject._meta.get_fields(include_hidden=True):
        if not (rel.auto_created and not rel.concrete and (rel.one_to_many or rel.one_to_one)):
            continue
        if rel.related_model._meta.db_table not in tables:
            continue  # a model without a table (a tests-only model) holds no rows
        if rel.on_delete is models.PROTECT:
            refs = rel.related_model._base_manager.filter(**{f"{rel.field.name}__isnull": False})
            qs = qs.exclude(pk__in=refs.values(rel.field.attname))
    return qs


def _subjects_batch(ctx: Context) -> int:
    ids = ids_batch(_subjects(ctx), ctx)
    if not ids:
        return 0
    NameToken.objects.filter(subject_id__in=ids).delete()
    return Subject.objects.filter(pk__in=ids).delete()[0]


# --- the audit log: entries older than the rule, up to a signed checkpoint -----------


def _audit(ctx: Context):
    return AuditEntry.objects.filter(chain_pos__lte=audit.prunable_to(ctx.cutoff))


def _audit_batch(ctx: Context) -> int:
    ids = ids_batch(_audit(ctx).order_by("chain_pos"), ctx)
    # append-only for the application (AuditEntry.delete refuses); the rule ends it
    return AuditEntry.objects.filter(pk__in=ids).delete()[0] if ids else 0


# --- files: request logs (14 days) and backups (1 year) -------------------------------


def _old_files(folder: Path, ctx: Context, patterns: tuple[str, ...]) -> list[Path]:
    if not folder.is_dir():
        return []
    limit = ctx.cutoff.timestamp()
    out = []
    for pattern in patterns:
        for path in folder.glob(pattern):
            if path.is_file() and path.stat().st_mtime < limit:
                out.append(path)
    return sorted(set(out))


def _log_files(ctx: Context) -> list[Path]:
    return _old_files(Path(settings.LOG_DIR), ctx, ("*.log", "*.log.*"))


def backup_folder() -> Path:
    return Path(settings.QUIETSHELF_BACKUP_DIR)


def _backup_files(ctx: Context) -> list[Path]:
    files = _old_files(backup_folder(), ctx, ("*.qsbackup", "*.qsbackup.manifest.json"))
    # erasure tombstones older than any backup can be are no longer needed
    tombstones.prune_tombstones(ctx.cutoff)
    return files


def _files_step(finder):
    def count(ctx: Context) -> dict:
        return {"due": len(finder(ctx))}

    def batch(ctx: Context) -> int:
        files = finder(ctx)[: ctx.batch_size]
        for path in files:
            path.unlink(missing_ok=True)
        return len(files)

    return count, batch


def install() -> None:
    register_step(
        Step(
            key="sessions",
            rule="session",
            action="deleted",
            why="the session expired longer ago than the session rule",
            models=("sessions.Session",),
            count=lambda ctx: {"due": _sessions(ctx).count()},
            batch=_sessions_batch,
            order=10,
        )
    )
    register_step(
        Step(
            key="consents",
            rule="consent",
            action="deleted",
            why="consent withdrawn (or a policy acknowledged) longer ago than the consent rule",
            models=("privacy.ConsentRecord", "privacy.PolicyAcknowledgement"),
            count=_consents_count,
            batch=_consents_batch,
            order=60,
        )
    )
    register_step(
        Step(
            key="forgotten subjects",
            rule="staff_account",
            action="deleted",
            why="the person was erased (key shredded) longer ago than the rule",
            models=("privacy.Subject", "privacy.NameToken"),
            count=lambda ctx: {"due": _subjects(ctx).count()},
            batch=_subjects_batch,
            order=90,
        )
    )
    register_step(
        Step(
            key="audit log",
            rule="audit_log",
            action="deleted",
            why="entries older than the audit-log rule, up to a signed checkpoint",
            models=("privacy.AuditEntry",),
            count=lambda ctx: {"due": _audit(ctx).count()},
            batch=_audit_batch,
            order=97,
        )
    )
    count, batch = _files_step(_log_files)
    register_step(
        Step(
            key="log files",
            rule="request_log",
            action="deleted",
            why="a log file in the instance's logs folder older than the request-log rule",
            models=(),
            count=count,
            batch=batch,
            order=95,
        )
    )
    count, batch = _files_step(_backup_files)
    register_step(
        Step(
            key="backups",
            rule="backup",
            action="deleted",
            why="a backup in the backup folder older than the backup rule",
            models=(),
            count=count,
            batch=batch,
            order=96,
        )
    )
