"""Staff-side retention steps (PRV-RET-1, PRV-LOG-1, SEC-SES-1), registered with the kernel.

- staff sessions whose Django session is gone (expired and deleted) go too;
- django-axes' sign-in records expire with the security-log rule (90 days);
- a closed (deactivated) staff account is erased the staff_account rule after
  its last sign-in: its key shredded, its rows deleted.
"""

from __future__ import annotations

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.sessions.models import Session
from django.db.models import Q

from quietshelf.accounts.models import StaffSession, StaffUser
from quietshelf.privacy.retention import Context, Step, ids_batch, register_step
from quietshelf.privacy.services import forget_subjects

AXES = (AccessAttempt, AccessFailureLog, AccessLog)


def _orphan_sessions():
    return StaffSession.objects.exclude(session_key__in=Session.objects.values("session_key"))


def _sessions_batch(ctx: Context) -> int:
    ids = ids_batch(_orphan_sessions(), ctx)
    return StaffSession.objects.filter(pk__in=ids).delete()[0] if ids else 0


def _axes_count(ctx: Context) -> dict:
    return {"due": sum(m.objects.filter(attempt_time__lt=ctx.cutoff).count() for m in AXES)}


def _axes_batch(ctx: Context) -> int:
    for model in AXES:
        ids = ids_batch(model.objects.filter(attempt_time__lt=ctx.cutoff), ctx)
        if ids:
            return model.objects.filter(pk__in=ids).delete()[0]
    return 0


def _closed_staff(ctx: Context):
    last_seen = Q(last_login__lt=ctx.cutoff) | Q(last_login__isnull=True, created_at__lt=ctx.cutoff)
    return (
        StaffUser.objects.filter(is_active=False)
        .filter(last_seen)
        .exclude(subject_id__in=ctx.held_subjects())
    )


def _staff_batch(ctx: Context) -> int:
    rows = list(_closed_staff(ctx).values_list("pk", "subject_id")[: ctx.batch_size])
    if not rows:
        return 0
    forget_subjects(subject_ids=[r[1] for r in rows])
    StaffUser.objects.filter(pk__in=[r[0] for r in rows]).delete()
    return len(rows)


def install() -> None:
    register_step(
        Step(
            key="staff sessions",
            rule="session",
            action="deleted",
            why="the staff member's session has ended and expired",
            models=("accounts.StaffSession",),
            count=lambda ctx: {"due": _orphan_sessions().count()},
            batch=_sessions_batch,
            order=11,
        )
    )
    register_step(
        Step(
            key="sign-in attempts",
            rule="security_log",
            action="deleted",
            why="a sign-in record (django-axes) older than the security-log rule",
            models=("axes.AccessAttempt", "axes.AccessFailureLog", "axes.AccessLog"),
            count=_axes_count,
            batch=_axes_batch,
            order=12,
        )
    )
    register_step(
        Step(
            key="closed staff accounts",
            rule="staff_account",
            action="erased",
            why="deactivated, and not signed in for longer than the staff-account rule",
            models=(
                "accounts.StaffUser",
                "accounts.RecoveryCode",
                "accounts.RoleGrant",
                "accounts.SecondFactorGuard",
                "accounts.StaffTOTPDevice",
                "accounts.TrainingAcknowledgement",
                "accounts.WebAuthnCredential",
                "accounts.StaffSession",
            ),
            count=lambda ctx: {"due": _closed_staff(ctx).count()},
            batch=_staff_batch,
            order=80,
        )
    )
