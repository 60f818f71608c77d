"""The patron's own loans, holds, fees and reading history under /account/ (CIR-2/3/4,
PRV-HIST-3).

Thin, like the API at /api/v1/circulation/me: the same circulation selectors and
services, with the signed-in patron as actor (privacy.audit.Actor.patron). Ids of
loans and holds travel in POST bodies, never in URLs (SEC-URL-1); one that is not
the patron's own is "not found" (SEC-ACC-1), checked against the patron's own list
before any service runs. Service refusals become readable messages per loan or
hold, in the page's language (the services' own English text is the fallback).
"""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from quietshelf.circulation import refusals, selectors, services
from quietshelf.circulation.models import HoldStatus
from quietshelf.core.csvfile import csv_response
from quietshelf.core.errors import DomainError
from quietshelf.portal import forms
from quietshelf.portal import services as portal_services
from quietshelf.portal.views import patron_required
from quietshelf.privacy import consent
from quietshelf.privacy.audit import Actor

RENEW_RESULTS = "qs_renew_results"


def refusal_text(exc: DomainError) -> str:
    """Every reason a service gave, in the patron's language where we know the code."""
    return refusals.refusal_text(exc, reader="patron")


def _me(request) -> tuple[Actor, object]:
    return Actor.patron(request.patron.pk), request.patron.pk


# --- loans (CIR-2) ------------------------------------------------------------------------


@patron_required
@require_GET
def loans(request):
    actor, pid = _me(request)
    lines = selectors.patron_loan_lines(actor=actor, patron_id=pid)
    results = request.session.pop(RENEW_RESULTS, None) or {}
    summary = selectors.patron_summary(actor=actor, patron_id=pid)
    return render(
        request,
        "portal/loans.html",
        {
            "lines": [(line, results.get(str(line.loan.pk))) for line in lines],
            "balance": _money(summary.balance_minor) if summary.balance_minor else None,
        },
    )


@patron_required
@require_POST
def renew(request):
    """Renew one loan or all; each result is shown beside its loan (never a 500)."""
    actor, pid = _me(request)
    form = forms.RenewForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a loan to renew."))
        return redirect("account:loans")
    own = [line.loan.pk for line in selectors.patron_loan_lines(actor=actor, patron_id=pid)]
    if form.cleaned_data.get("loan"):
        if form.cleaned_data["loan"] not in own:
            raise Http404
        targets = [form.cleaned_data["loan"]]
    else:
        targets = own
    results: dict[str, tuple[str, str]] = {}
    renewed = 0
    for outcome in services.renew_all(actor=actor, loan_ids=targets):
        if outcome.error is not None:
            results[str(outcome.loan_id)] = ("error", refusal_text(outcome.error))
        else:
            renewed += 1
            due = timezone.localtime(outcome.result.due_at).date().isoformat()
            results[str(outcome.loan_id)] = (
                "success",
                _("Renewed: now due %(date)s.") % {"date": due},
            )
    request.session[RENEW_RESULTS] = results
    if len(targets) > 1 or not targets:
        messages.info(
            request,
            _("%(renewed)d of %(total)d loans renewed.")
            % {"renewed": renewed, "total": len(targets)},
        )
    return redirect("account:loans")


# --- holds (CIR-3) ------------------------------------------------------------------------


def _own_hold(actor, pid, hold_id):
    for hold, _pos in selectors.patron_holds_positioned(actor=actor, patron_id=pid):
        if hold.pk == hold_id:
            return hold
    raise Http404


@patron_required
@require_GET
def holds(request):
    actor, pid = _me(request)
    rows = selectors.patron_holds_positioned(actor=actor, patron_id=pid)
    return render(
        request,
        "portal/holds.html",
        {"rows": rows, "on_shelf": HoldStatus.ON_SHELF, "waiting": HoldStatus.WAITING},
    )


@patron_required
@require_POST
def hold_cancel(request):
    actor, pid = _me(request)
    form = forms.HoldChoiceForm(request.POST)
    if not form.is_valid():
        raise Http404
    hold = _own_hold(actor, pid, form.cleaned_data["hold"])
    try:
        services.hold_cancel(actor=actor, hold_id=hold.pk)
    except DomainError as exc:
        messages.error(request, refusal_text(exc))
    else:
        messages.success(request, _("Your hold is cancelled."))
    return redirect("account:holds")


@patron_required
@require_POST
def hold_suspend(request):
    """Suspend until a date (the hold keeps its place) or, with no date, resume."""
    actor, pid = _me(request)
    form = forms.SuspendForm(request.POST)
    if not form.is_valid():
        if "hold" in form.errors:
            raise Http404
        messages.error(request, _("Enter the date as YYYY-MM-DD."))
        return redirect("account:holds")
    hold = _own_hold(actor, pid, form.cleaned_data["hold"])
    until = form.cleaned_data.get("until")
    try:
        services.hold_suspend(actor=actor, hold_id=hold.pk, until=until)
    except DomainError as exc:
        messages.error(request, refusal_text(exc))
    else:
        if until:
            messages.success(
                request,
                _("Your hold is suspended until %(date)s. It keeps its place in the queue.")
                % {"date": until.isoformat()},
            )
        else:
            messages.success(request, _("Your hold is active again."))
    return redirect("account:holds")


@patron_required
@require_http_methods(["GET", "POST"])
def hold_place(request, record_id: int):
    actor, pid = _me(request)
    record = selectors.holdable_record(record_id)
    if record is None:
        raise Http404
    branches = selectors.pickup_branches()
    home = request.patron.home_branch_id
    initial = {"pickup_branch": home} if home in {b.pk for b in branches} else {}
    form = forms.HoldPlaceForm(request.POST or None, initial=initial, branches=branches)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                hold = services.hold_place(
                    actor=actor,
                    patron_id=pid,
                    record_id=record.pk,
                    pickup_branch_id=form.cleaned_data["pickup_branch"],
                )
            except DomainError as exc:
                form.add_error(None, refusal_text(exc))
                status = 409 if exc.status_hint == 409 else 400
            else:
                position = selectors.queue_position(hold)
                if position:
                    messages.success(
                        request,
                        _("Your hold is placed. You are number %(n)d in the queue.")
                        % {"n": position},
                    )
                else:
                    messages.success(request, _("Your hold is placed."))
                return redirect("account:holds")
        else:
            status = 400
    return render(
        request,
        "portal/hold_place.html",
        {"form": form, "record": record},
        status=status,
    )


# --- fees (CIR-4) -------------------------------------------------------------------------


def _money(amount: int, currency: str | None = None) -> str:
    return selectors.format_money(amount, currency or settings.QUIETSHELF_CURRENCY)


@patron_required
@require_GET
def fees(request):
    actor, pid = _me(request)
    lines = selectors.patron_fees(actor=actor, patron_id=pid)
    history = selectors.patron_fee_history(actor=actor, patron_id=pid)
    total = sum(line.balance_minor for line in lines)
    currency = lines[0].fee.currency if lines else None
    return render(
        request,
        "portal/fees.html",
        {
            "lines": [(line, _money(line.balance_minor, line.fee.currency)) for line in lines],
            "total": _money(total, currency),
            "owing": total > 0,
            "history": [(tx, _money(tx.amount_minor, tx.fee.currency)) for tx in history],
        },
    )


# --- reading history (PRV-HIST-3, PRV-CON-1/2) --------------------------------------------


def _consented(request) -> bool:
    return consent.has_consent(subject_id=request.patron.subject_id, scope=services.READING_HISTORY)


@patron_required
@require_GET
def reading_history(request):
    actor, pid = _me(request)
    consented = _consented(request)
    rows = selectors.reading_history(actor=actor, patron_id=pid) if consented else []
    return render(
        request,
        "portal/reading_history.html",
        {"consented": consented, "rows": rows, "form": forms.HistoryDeleteForm()},
    )


def _history_rows(request) -> list[dict]:
    actor, pid = _me(request)
    return [
        {
            "record_id": r.get("record_id"),
            "title": r.get("title", ""),
            "borrowed": r.get("borrowed"),
            "returned": r.get("returned"),
        }
        for r in selectors.reading_history(actor=actor, patron_id=pid)
    ]


def _download(body: str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@patron_required
@require_GET
def reading_history_json(request):
    if not _consented(request):
        return redirect("account:reading_history")
    rows = _history_rows(request)
    portal_services.own_data_exported(patron=request.patron, fmt="reading history json")
    body = json.dumps({"reading_history": rows}, indent=2, ensure_ascii=False, default=str)
    return _download(body, "application/json; charset=utf-8", "reading-history.json")


@patron_required
@require_GET
def reading_history_csv(request):
    if not _consented(request):
        return redirect("account:reading_history")
    rows = _history_rows(request)
    portal_services.own_data_exported(patron=request.patron, fmt="reading history csv")
    return csv_response(
        ["title", "borrowed", "returned"],
        ([r["title"], r["borrowed"], r["returned"]] for r in rows),
        "reading-history.csv",
    )


@patron_required
@require_POST
def reading_history_delete(request):
    actor, pid = _me(request)
    form = forms.HistoryDeleteForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "portal/reading_history.html",
            {
                "consented": _consented(request),
                "rows": selectors.reading_history(actor=actor, patron_id=pid),
                "form": form,
            },
            status=400,
        )
    n = services.reading_history_delete(actor=actor, patron_id=pid)
    messages.success(request, _("Your reading history is deleted (%(n)d titles).") % {"n": n})
    return redirect(reverse("account:reading_history"))
