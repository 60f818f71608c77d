"""The reports' retention step: a closed staff account's saved reports go with it, and
so do its report mail schedules, its place on colleagues' schedules and the address
it gave for report mail (notices.StaffMailAddress).

Runs just before the accounts' own "closed staff accounts" step (which would
delete them by cascade), so that the dry run counts them and the run records
them under their own category.
"""

from __future__ import annotations

from django.db.models import Q

from quietshelf.notices.models import StaffMailAddress
from quietshelf.privacy.retention import Context, Step, ids_batch, register_step
from quietshelf.reports.models import ReportSchedule, ReportScheduleRecipient, SavedReport


def _closed(ctx: Context, prefix: str) -> Q:
    return Q(**{f"{prefix}__is_active": False}) & (
        Q(**{f"{prefix}__last_login__lt": ctx.cutoff})
        | Q(**{f"{prefix}__last_login__isnull": True, f"{prefix}__created_at__lt": ctx.cutoff})
    )


def _of_closed_staff(ctx: Context):
    return SavedReport.objects.filter(_closed(ctx, "owner"))


def _schedules_of_closed_staff(ctx: Context):
    return ReportSchedule.objects.filter(_closed(ctx, "owner"))


def _recipients_closed(ctx: Context):
    return ReportScheduleRecipient.objects.filter(_closed(ctx, "staff"))


def _addresses_closed(ctx: Context):
    return StaffMailAddress.objects.filter(_closed(ctx, "staff"))


def _count(ctx: Context) -> dict:
    return {
        "due": _of_closed_staff(ctx).count()
        + _schedules_of_closed_staff(ctx).count()
        + _recipients_closed(ctx).count()
        + _addresses_closed(ctx).count()
    }


def _batch(ctx: Context) -> int:
    # the schedules first (a saved report's schedules would otherwise go uncounted)
    ids = ids_batch(_addresses_closed(ctx), ctx)
    if ids:
        return StaffMailAddress.objects.filter(pk__in=ids).delete()[0]
    ids = ids_batch(_recipients_closed(ctx), ctx)
    if ids:
        return ReportScheduleRecipient.objects.filter(pk__in=ids).delete()[0]
    ids = ids_batch(_schedules_of_closed_staff(ctx), ctx)
    if ids:
        ReportScheduleRecipient.objects.filter(schedule_id__in=ids).delete()
        return ReportSchedule.objects.filter(pk__in=ids).delete()[0]
    ids = ids_batch(_of_closed_staff(ctx), ctx)
    if not ids:
        return 0
    schedules = ReportSchedule.objects.filter(saved_id__in=ids)
    ReportScheduleRecipient.objects.filter(schedule__in=schedules).delete()
    schedules.delete()
    return SavedReport.objects.filter(pk__in=ids).delete()[0]


def install() -> None:
    register_step(
        Step(
            key="saved reports of closed staff accounts",
            rule="staff_account",
            action="deleted",
            why="their owner's account is closed and due for erasure (with their report mail "
            "schedules, their place on colleagues' schedules and their report mail address)",
            models=(
                "reports.SavedReport",
                "reports.ReportSchedule",
                "reports.ReportScheduleRecipient",
                "notices.StaffMailAddress",
            ),
            count=_count,
            batch=_batch,
            order=79,
        )
    )
