"""The reports' retention step: a closed staff account's saved reports go with it.

Runs just before the accounts' own "closed staff accounts" step (which would
delete them by cascade), so that the dry run counts them and the run records
them under their own category.
"""

from __future__ import annotations

from django.db.models import Q

from quietshelf.privacy.retention import Context, Step, ids_batch, register_step
from quietshelf.reports.models import SavedReport


def _of_closed_staff(ctx: Context):
    last_seen = Q(owner__last_login__lt=ctx.cutoff) | Q(
        owner__last_login__isnull=True, owner__created_at__lt=ctx.cutoff
    )
    return SavedReport.objects.filter(owner__is_active=False).filter(last_seen)


def _batch(ctx: Context) -> int:
    ids = ids_batch(_of_closed_staff(ctx), ctx)
    return SavedReport.objects.filter(pk__in=ids).delete()[0] if ids else 0


def install() -> None:
    register_step(
        Step(
            key="saved reports of closed staff accounts",
            rule="staff_account",
            action="deleted",
            why="their owner's account is closed and due for erasure",
            models=("reports.SavedReport",),
            count=lambda ctx: {"due": _of_closed_staff(ctx).count()},
            batch=_batch,
            order=79,
        )
    )
