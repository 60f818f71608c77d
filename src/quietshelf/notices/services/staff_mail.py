"""Staff mail: scheduled reports to staff members (RPT-1, PRV-AGG-1)."""

from __future__ import annotations

from django.db import transaction

from quietshelf.core import clock
from quietshelf.core.errors import InvalidInput
from quietshelf.notices import conf, policy
from quietshelf.notices.models import (
    Notice,
    NoticeType,
    StaffMailAddress,
)
from quietshelf.privacy import audit


def staff_mail_address(*, actor) -> str:
    """The actor's own address for staff mail ("" when none was given)."""
    row = StaffMailAddress.objects.filter(staff_id=actor.pk).first()
    value = row.email if row is not None else None
    return value if isinstance(value, str) and policy.usable_email(value) else ""


def staff_with_mail_address(staff_ids) -> set:
    """Which of these staff members gave an address for staff mail (ids only)."""
    return set(
        StaffMailAddress.objects.filter(staff_id__in=list(staff_ids)).values_list(
            "staff_id", flat=True
        )
    )


@transaction.atomic(durable=True)
def staff_mail_address_set(*, actor, email: str) -> str:
    """Set (or, empty, remove) the actor's own address for staff mail; audited by id."""
    value = (email or "").strip()
    if not value:
        StaffMailAddress.objects.filter(staff_id=actor.pk).delete()
        audit.record(actor=actor, action="changed", obj=actor, reason="staff mail address removed")
        return ""
    if not policy.usable_email(value):
        raise InvalidInput("That is not an e-mail address we can send to.", code="invalid_email")
    row = StaffMailAddress.objects.filter(staff_id=actor.pk).first()
    if row is None:
        row = StaffMailAddress(staff_id=actor.pk, subject_id=actor.subject_id)
    row.email = value
    row.updated_at = clock.now()
    row.save()
    audit.record(actor=actor, action="changed", obj=actor, reason="staff mail address set")
    return value


def queue_staff_report(*, staff, dedupe_key: str, data: dict) -> bool:
    """Queue a scheduled report for one staff member (in the caller's transaction).

    `data` is plain values only, sealed under the staff member's key until it is
    sent: title, name, range, k, language, the table as text, the CSV text and its
    file name, the staff page's address. The address is read at delivery. Returns
    False when this dedupe key was queued before (a second run sends nothing)."""
    now = clock.now()
    _notice, created = Notice.objects.get_or_create(
        dedupe_key=dedupe_key[:160],
        defaults={
            "subject_id": staff.subject_id,
            "staff_id": staff.pk,
            "notice_type": NoticeType.STAFF_REPORT,
            "ref_date": clock.today(),
            "data": data,
            "kept": False,
            "next_attempt_at": now,
            "created_at": now,
        },
    )
    return created


def render_staff_report(data: dict) -> tuple[str, str]:
    """(subject, body) of a scheduled report: the publication-form table as plain text
    and no more (PRV-NOT-1): what the report is, its range, the table, where to change
    the schedule. Built from our own reviewed text, not a library template."""
    from django.utils import translation
    from django.utils.translation import gettext as _

    data = data if isinstance(data, dict) else {}
    language = policy.notice_language(str(data.get("language") or ""), "en")
    with translation.override(language):
        title = policy.one_line(str(data.get("title") or _("Report")))
        name = policy.one_line(str(data.get("name") or ""))
        subject = policy.one_line(_("Scheduled report: %(name)s") % {"name": name or title})
        lines = [
            _("%(title)s, %(range)s, in its publication form.")
            % {"title": title, "range": data.get("range") or _("today")},
            _(
                "Numbers under %(k)s are shown as “<%(k)s”; “x” hides a number that a total "
                "could give away."
            )
            % {"k": data.get("k") or 5},
            "",
            str(data.get("table") or ""),
            "",
        ]
        if data.get("csv") and conf.staff_report_attachments():
            lines.append(_("The table is attached as a CSV file."))
        if data.get("url"):
            lines.append(_("The report and your schedules: %(url)s") % {"url": data["url"]})
        lines += ["", conf.library_name()]
    return subject, "\n".join(lines).strip() + "\n"
