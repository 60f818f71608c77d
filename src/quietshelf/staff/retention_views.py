"""The Retention page (/staff/retention/): the schedule, the runs, legal holds (PRV-RET-1/2).

For the privacy officer (privacy.view_privacy_office, with its MFA and
training gates). Thin: each POST calls one kernel service; the schedule and
the counts come from privacy.retention, the next run from the jobs registry.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from quietshelf.accounts.decorators import staff_page
from quietshelf.core.errors import DomainError
from quietshelf.jobs import registry
from quietshelf.patrons import selectors as patron_selectors
from quietshelf.privacy import retention
from quietshelf.staff.retention_forms import LegalHoldForm, RetentionDaysForm

privacy_office = staff_page(perm="privacy.view_privacy_office")


def _next_run():
    spec = registry.get(retention.JOB)
    if spec is None or not spec.schedule.enabled:
        return None
    return spec.schedule.next_start(timezone.localtime())


def _context(request, *, hold_form=None, errors=None):
    rules = retention.schedule()
    last = retention.last_run(dry_run=False)
    dry = retention.last_run(dry_run=True)
    return {
        "rules": [r for r in rules.values() if r.days is not None],
        "kept_rules": [r for r in rules.values() if r.days is None],
        "last": last,
        "last_rows": sorted((last.results if last else {}).items()),
        "dry": dry,
        "dry_rows": sorted((dry.results if dry else {}).items()),
        "next_run": _next_run(),
        "holds": list(retention.active_holds()),
        "hold_form": hold_form or LegalHoldForm(rules=[r.key for r in rules.values()]),
        "errors": errors or {},
    }


@privacy_office
def retention_page(request):
    return render(request, "staff/retention.html", _context(request))


@privacy_office
@require_POST
def retention_days(request):
    form = RetentionDaysForm(request.POST)
    errors = {}
    if form.is_valid():
        try:
            retention.retention_set(
                actor=request.user, key=form.cleaned_data["rule"], days=form.cleaned_data["days"]
            )
        except DomainError as exc:
            errors[form.cleaned_data["rule"]] = exc.message
        else:
            messages.success(request, _("The retention period was changed."))
            return redirect("staff:retention")
    else:
        errors[request.POST.get("rule", "")] = _("Give a whole number of days.")
    return render(request, "staff/retention.html", _context(request, errors=errors), status=400)


@privacy_office
@require_POST
def retention_dry_run(request):
    try:
        retention.run(dry_run=True, actor=request.user)
    except retention.RetentionLocked:
        messages.error(request, _("A retention run is in progress; count again later."))
    else:
        messages.success(request, _("Counted what the next run would do."))
    return redirect("staff:retention")


@privacy_office
@require_POST
def legal_hold_place(request):
    rules = list(retention.schedule())
    form = LegalHoldForm(request.POST, rules=rules)
    if form.is_valid():
        subject_id = None
        card = (form.cleaned_data.get("card") or "").strip()
        if card:
            patron = patron_selectors.patron_by_card_barcode(card)
            if patron is None:
                form.add_error("card", _("No patron has this card number."))
            else:
                subject_id = patron.subject_id
        if form.is_valid():
            try:
                retention.legal_hold_place(
                    actor=request.user,
                    case_reference=form.cleaned_data["case_reference"],
                    subject_id=subject_id,
                    rule_key=form.cleaned_data.get("rule") or "",
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("The legal hold was placed."))
                return redirect("staff:retention")
    return render(request, "staff/retention.html", _context(request, hold_form=form), status=400)


@privacy_office
@require_POST
def legal_hold_release(request, hold_id):
    try:
        retention.legal_hold_release(actor=request.user, hold_id=hold_id)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The legal hold was released."))
    return redirect("staff:retention")
