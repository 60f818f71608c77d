"""Privacy office pages under /staff/privacy-office/: cases by deadline, erasure, canary.

Thin: a form shapes the input, one service or selector does the work, domain
errors become form errors (and a 4xx status).
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from quietshelf.accounts.decorators import staff_page
from quietshelf.core.errors import DomainError
from quietshelf.privacyoffice import forms, selectors, services
from quietshelf.privacyoffice.models import CaseKind, CaseStatus

CASES = "privacyoffice.manage_cases"


@staff_page(perm=CASES)
def dashboard(request):
    show = request.GET.get("status", "open")
    if show not in CaseStatus.values and show != "all":
        show = "open"
    rows = selectors.case_rows(actor=request.user, status="" if show == "all" else show)
    return render(
        request,
        "privacyoffice/dashboard.html",
        {
            "rows": rows,
            "show": show,
            "statuses": CaseStatus.choices,
            "canary": selectors.canary_current(),
            "overdue": sum(1 for r in rows if r.urgency == "overdue"),
        },
    )


@staff_page(perm=CASES)
def case_new(request):
    initial = {}
    if request.GET.get("patron"):
        initial["patron_id"] = request.GET["patron"]
    form = forms.CaseOpenForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                case = services.case_open(actor=request.user, **data)
            except DomainError as exc:
                form.add_error(None, exc.message)
                status = exc.status_hint
            else:
                messages.success(request, _("The case is open."))
                return redirect("privacyoffice:case", case_id=case.pk)
        else:
            status = 400
    return render(request, "privacyoffice/case_new.html", {"form": form}, status=status)


@staff_page(perm=CASES)
def case_detail(request, case_id):
    case = selectors.case_get(actor=request.user, case_id=case_id)
    identity_form = forms.IdentityForm(prefix="id")
    close_form = forms.CloseForm(prefix="close")
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "identity":
                identity_form = forms.IdentityForm(request.POST, prefix="id")
                if identity_form.is_valid():
                    services.case_verify_identity(
                        actor=request.user, case_id=case.pk, **identity_form.cleaned_data
                    )
                    messages.success(request, _("Identity check recorded."))
                    return redirect("privacyoffice:case", case_id=case.pk)
            elif action == "close":
                close_form = forms.CloseForm(request.POST, prefix="close")
                if close_form.is_valid():
                    services.case_close(
                        actor=request.user, case_id=case.pk, **close_form.cleaned_data
                    )
                    messages.success(request, _("The case is closed."))
                    return redirect("privacyoffice:case", case_id=case.pk)
            status = 400
        except DomainError as exc:
            target = identity_form if action == "identity" else close_form
            target.add_error(None, exc.message)
            status = exc.status_hint
    preview = None
    if case.kind == CaseKind.ERASURE and case.patron_id and case.status == CaseStatus.OPEN:
        preview = selectors.erasure_preview(actor=request.user, patron_id=case.patron_id)
    return render(
        request,
        "privacyoffice/case_detail.html",
        {
            "case": case,
            "identity_form": identity_form,
            "close_form": close_form,
            "preview": preview,
            "erase_form": forms.EraseForm(initial={"reason": "patron_request"}),
        },
        status=status,
    )


@staff_page(perm="patrons.delete_patron")
def erase(request, patron_id):
    """Show the exceptions first; erase on a confirmed POST (PRV-DSR-4)."""
    case_id = request.POST.get("case_id") or request.GET.get("case") or ""
    form = forms.EraseForm(request.POST or None, initial={"reason": "patron_request"})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                result = services.patron_erasure_execute(
                    actor=request.user,
                    patron_id=patron_id,
                    reason=form.cleaned_data["reason"],
                    case_id=case_id or None,
                )
            except DomainError as exc:
                if exc.status_hint == 404:
                    raise
                form.add_error(None, exc.message)
                status = exc.status_hint
            else:
                return render(request, "privacyoffice/erased.html", {"result": result})
        else:
            status = 400
    try:
        preview = selectors.erasure_preview(actor=request.user, patron_id=patron_id)
    except DomainError as exc:
        if exc.status_hint == 404:
            raise
        return render(
            request, "privacyoffice/erase.html", {"gone": exc.message, "form": None}, status=409
        )
    return render(
        request,
        "privacyoffice/erase.html",
        {"preview": preview, "form": form, "case_id": case_id},
        status=status,
    )


@staff_page(perm="privacyoffice.manage_canary")
def canary_page(request):
    form = forms.CanarySignForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.canary_sign(actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                form.add_error("valid_days", exc.message)
                status = exc.status_hint
            else:
                messages.success(request, _("The canary is signed and published."))
                return redirect("privacyoffice:canary")
        else:
            status = 400
    return render(
        request,
        "privacyoffice/canary_sign.html",
        {"form": form, "canary": selectors.canary_current()},
        status=status,
    )


# --- government requests (PRV-GOV-1) ------------------------------------------------------


@staff_page(perm=CASES)
def government_list(request):
    form = forms.GovernmentRequestForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                req = services.government_request_open(actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                form.add_error(None, exc.message)
                status = exc.status_hint
            else:
                return redirect("privacyoffice:government", request_id=req.pk)
        else:
            status = 400
    return render(
        request,
        "privacyoffice/government_list.html",
        {"requests": selectors.government_requests(actor=request.user), "form": form},
        status=status,
    )


@staff_page(perm=CASES)
def government_detail(request, request_id):
    req = selectors.government_request_get(actor=request.user, request_id=request_id)
    checklist = forms.ChecklistForm(
        prefix="check",
        initial={
            "court_competent": req.court_competent,
            "good_cause": req.good_cause,
            "proper_form": req.proper_form,
            "scope_limited": req.scope_limited,
        },
    )
    release = forms.ReleaseForm(prefix="release")
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "checklist":
                checklist = forms.ChecklistForm(request.POST, prefix="check")
                if checklist.is_valid():
                    services.government_checklist(
                        actor=request.user, request_id=req.pk, **checklist.cleaned_data
                    )
                    return redirect("privacyoffice:government", request_id=req.pk)
            elif action == "release":
                release = forms.ReleaseForm(request.POST, prefix="release")
                if release.is_valid():
                    entries = services.government_release(
                        actor=request.user, request_id=req.pk, **release.cleaned_data
                    )
                    messages.success(
                        request, _("%(n)d records released and logged.") % {"n": len(entries)}
                    )
                    return redirect("privacyoffice:government", request_id=req.pk)
            elif action == "refuse":
                services.government_refuse(actor=request.user, request_id=req.pk)
                return redirect("privacyoffice:government", request_id=req.pk)
            elif action == "notified":
                services.government_patron_notified(actor=request.user, request_id=req.pk)
                return redirect("privacyoffice:government", request_id=req.pk)
            status = 400
        except DomainError as exc:
            (release if action == "release" else checklist).add_error(None, exc.message)
            status = exc.status_hint
    return render(
        request,
        "privacyoffice/government_detail.html",
        {
            "req": req,
            "checklist": checklist,
            "release": release,
            "log": selectors.disclosure_log(actor=request.user, request_id=req.pk),
        },
        status=status,
    )


@staff_page(perm="privacy.view_privacy_office")
def self_audit(request):
    """PRV-AUD-1 on a page: the same read-only report as `quietshelf privacy-audit`."""
    from quietshelf.privacyoffice import selfaudit

    return render(request, "privacyoffice/self_audit.html", {"report": selfaudit.run()})


# --- breach incidents (PRV-BRE-1) ------------------------------------------------------------

BREACHES = "privacyoffice.manage_breaches"


@staff_page(perm=BREACHES)
def breach_list(request):
    form = forms.BreachForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                incident = services.breach_record(actor=request.user, **form.service_kwargs())
            except DomainError as exc:
                form.add_error(None, exc.message)
                status = exc.status_hint
            else:
                return redirect("privacyoffice:breach", incident_id=incident.pk)
        else:
            status = 400
    return render(
        request,
        "privacyoffice/breach_list.html",
        {"incidents": selectors.breaches(actor=request.user), "form": form},
        status=status,
    )


@staff_page(perm=BREACHES)
def breach_detail(request, incident_id):
    view = selectors.breach_get(actor=request.user, incident_id=incident_id)
    incident = view.incident
    notice_form = forms.BreachNoticeForm(
        initial={"headline": incident.notice_headline, "text": incident.notice_text}
    )
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "notice":
                notice_form = forms.BreachNoticeForm(request.POST)
                if notice_form.is_valid():
                    services.breach_review_notice(
                        actor=request.user, incident_id=incident.pk, **notice_form.cleaned_data
                    )
                    return redirect("privacyoffice:breach", incident_id=incident.pk)
            elif action == "send":
                result = services.breach_send_notices(actor=request.user, incident_id=incident.pk)
                if result.affected:
                    messages.success(
                        request,
                        _("%(q)d notices queued for %(a)d affected patrons.")
                        % {"q": result.queued, "a": result.affected},
                    )
                else:
                    messages.info(request, _("0 patrons: the scope matches nobody, nothing sent."))
                return redirect("privacyoffice:breach", incident_id=incident.pk)
            elif action == "authority":
                services.breach_authority_notified(actor=request.user, incident_id=incident.pk)
                return redirect("privacyoffice:breach", incident_id=incident.pk)
            status = 400
        except DomainError as exc:
            notice_form.add_error(None, exc.message)
            status = exc.status_hint
    return render(
        request,
        "privacyoffice/breach_detail.html",
        {"v": view, "i": incident, "notice_form": notice_form},
        status=status,
    )
