"""Report pages: /staff/reports/ (staff, reports.view_reports) and /statistics/ (public).

Thin: parse the query into a report request, call one service, render. Bad
input (a range ending before it starts, an unknown grouping, k below 2, ε not
above 0) is shown as a form error with status 400, never a 500.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from quietshelf.accounts.authz import has_perm
from quietshelf.accounts.decorators import staff_page
from quietshelf.core.csvfile import csv_response
from quietshelf.core.errors import InvalidInput, NotFound, PermissionDenied
from quietshelf.reports import services
from quietshelf.reports.specs import PERIOD_LABELS, REPORTS

VIEW = "reports.view_reports"


def _csv_response(result) -> HttpResponse:
    return csv_response(result.header, services.csv_rows(result), services.csv_filename(result))


def _form_context(spec, data) -> dict:
    """What the report form shows: the choices and what was asked (echoed as typed)."""
    return {
        "spec": spec,
        "periods": [(p, PERIOD_LABELS[p]) for p in spec.periods],
        "dims": list(spec.dims.items()),
        "asked": {
            "from": (data.get("from") or "")[:10],
            "to": (data.get("to") or "")[:10],
            "period": data.get("period", spec.default_period or "none"),
            "by": data.getlist("by") if "by" in data else list(spec.default_groups),
            "form": data.get("form", "staff"),
            "k": (data.get("k") or "")[:6],
            "epsilon": (data.get("epsilon") or "")[:12],
        },
    }


@staff_page(perm=VIEW)
@require_GET
def index(request):
    return render(
        request,
        "reports/index.html",
        {
            "reports": list(REPORTS.values()),
            "personal": services.personal_titles().items()
            if has_perm(request.user, services.PERSONAL)
            else (),
            "publications": services.publications(actor=request.user),
            "saved": [
                (saved, services.saved_url_query(saved))
                for saved in services.saved_reports(actor=request.user)
            ],
        },
    )


@staff_page(perm=VIEW)
@require_GET
def report(request, slug: str):
    spec = services.get_spec(slug)
    context = _form_context(spec, request.GET)
    status = 200
    try:
        req = services.parse_request(slug, request.GET)
        result = services.run_report(actor=request.user, request=req)
    except InvalidInput as exc:
        context["error"] = exc.message
        status = 400
    else:
        rows, totals = services.display_rows(result)
        context.update(
            rows=rows,
            totals=totals,
            result=result,
            charts=services.charts(result),
            query=urlencode(req.params(), doseq=True),
        )
        if slug == "search":
            context["terms"], context["hidden_terms"] = services.search_terms(
                actor=request.user, request=req
            )
    return render(request, "reports/report.html", context, status=status)


@staff_page(perm=VIEW)
@require_GET
def report_csv(request, slug: str):
    try:
        req = services.parse_request(slug, request.GET)
    except InvalidInput as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    return _csv_response(services.run_report(actor=request.user, request=req))


@staff_page(perm=VIEW)
@require_POST
def publish(request, slug: str):
    back = reverse("staff_reports:report", args=[slug])
    try:
        req = services.parse_request(slug, request.POST)
        pub = services.publish(
            actor=request.user, request=req, public=request.POST.get("public") == "on"
        )
    except (InvalidInput, PermissionDenied) as exc:
        messages.error(request, exc.message)
        return redirect(back)
    if pub.public:
        messages.success(request, _("Published; it is on the public statistics page."))
    else:
        messages.success(request, _("Published for staff; it is not on the public page."))
    return redirect(f"{back}?{urlencode(pub.params, doseq=True)}")


@staff_page(perm=VIEW)
@require_POST
def save(request, slug: str):
    back = reverse("staff_reports:report", args=[slug])
    try:
        req = services.parse_request(slug, request.POST)
        services.save_report(actor=request.user, name=request.POST.get("name", ""), request=req)
    except InvalidInput as exc:
        messages.error(request, exc.message)
        return redirect(back)
    messages.success(request, _("Saved to your reports."))
    return redirect("staff_reports:index")


@staff_page(perm=VIEW)
@require_POST
def delete_saved(request, saved_id):
    services.delete_saved(actor=request.user, saved_id=saved_id)
    return redirect("staff_reports:index")


@staff_page(perm=VIEW)
@require_POST
def unpublish(request, publication_id):
    services.unpublish(actor=request.user, publication_id=publication_id)
    return redirect("staff_reports:index")


# --- weeding candidates (items only) ----------------------------------------------------


@staff_page(perm=VIEW)
@require_GET
def weeding(request):
    context = {"asked": request.GET}
    try:
        before = services.parse_before(request.GET)
    except InvalidInput as exc:
        context["error"] = exc.message
        return render(request, "reports/weeding.html", context, status=400)
    report = services.weeding(actor=request.user, before=before)
    context.update(report=report, before=before, query=urlencode({"before": before}))
    return render(request, "reports/weeding.html", context)


@staff_page(perm=VIEW)
@require_GET
def weeding_csv(request):
    try:
        before = services.parse_before(request.GET)
    except InvalidInput as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    report = services.weeding(actor=request.user, before=before)
    return csv_response(report.columns, report.rows, f"weeding-{before:%Y%m%d}.csv")


# --- reports with personal data (PRV-ACC-1: permission, audited per run) ----------------


@staff_page
@require_GET
def personal(request, slug: str):
    context = {"slug": slug, "title": services.personal_titles().get(slug), "asked": request.GET}
    try:
        filters = services.parse_personal(slug, request.GET)
    except InvalidInput as exc:
        context["error"] = exc.message
        return render(request, "reports/personal.html", context, status=400)
    report = services.run_personal(actor=request.user, slug=slug, filters=filters)
    context.update(report=report, query=urlencode(filters))
    return render(request, "reports/personal.html", context)


@staff_page
@require_GET
def personal_csv(request, slug: str):
    try:
        filters = services.parse_personal(slug, request.GET)
    except InvalidInput as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    report = services.run_personal(actor=request.user, slug=slug, filters=filters, download=True)
    return csv_response(report.columns, report.rows, f"{slug}.csv")


# --- public (PRV-AGG-1: the stored publication form only) ---------------------------------


@require_GET
def public_index(request):
    return render(
        request, "reports/public_index.html", {"publications": services.public_publications()}
    )


@require_GET
def public_report(request, slug: str):
    try:
        result = services.public_publication(slug)
    except NotFound:
        raise Http404 from None
    rows, totals = services.display_rows(result)
    return render(
        request,
        "reports/public_report.html",
        {
            "result": result,
            "rows": rows,
            "totals": totals,
            "charts": services.charts(result),
            "publication": result.publication,
        },
    )


@require_GET
def public_csv(request, slug: str):
    try:
        result = services.public_publication(slug)
    except NotFound:
        raise Http404 from None
    return _csv_response(result)


# --- scheduled report mail (RPT-1, PRV-AGG-1) ----------------------------------------------


def _schedule_page(request, form=None, address_form=None, status=200):
    from quietshelf.notices.services import staff_mail_address
    from quietshelf.reports.forms import MailAddressForm, ScheduleForm

    saved = services.saved_reports(actor=request.user)
    choices = [(str(s.pk), s.name) for s in saved]
    if form is None:
        lang = "nb" if (request.LANGUAGE_CODE or "").startswith("nb") else "en"
        form = ScheduleForm(saved_choices=choices, initial={"language": lang})
    if address_form is None:
        address_form = MailAddressForm(initial={"email": staff_mail_address(actor=request.user)})
    return render(
        request,
        "reports/schedules.html",
        {
            "form": form,
            "address_form": address_form,
            "has_address": bool(address_form.initial.get("email")),
            "schedules": services.schedules(actor=request.user),
            "to_me": services.schedules_to_me(actor=request.user),
            "has_saved": bool(choices),
        },
        status=status,
    )


@staff_page(perm=VIEW)
def schedules(request):
    """GET: the actor's schedules and the form; POST: schedule a saved report."""
    from quietshelf.reports.forms import ScheduleForm

    if request.method != "POST":
        return _schedule_page(request)
    choices = [(str(s.pk), s.name) for s in services.saved_reports(actor=request.user)]
    form = ScheduleForm(request.POST, saved_choices=choices)
    if not form.is_valid():
        return _schedule_page(request, form=form, status=400)
    try:
        services.schedule_create(
            actor=request.user,
            saved_id=form.cleaned_data["saved"],
            frequency=form.cleaned_data["frequency"],
            window=form.cleaned_data["window"],
            recipients=form.usernames(),
            include_me=form.cleaned_data["include_me"],
            language=form.cleaned_data["language"],
        )
    except (InvalidInput, NotFound, PermissionDenied) as exc:
        form.add_error(None, exc.message)
        status = 403 if isinstance(exc, PermissionDenied) else 400
        return _schedule_page(request, form=form, status=status)
    messages.success(request, _("Scheduled: the report will be mailed in its publication form."))
    return redirect("staff_reports:schedules")


@staff_page(perm=VIEW)
@require_POST
def schedule_address(request):
    from quietshelf.notices.services import staff_mail_address_set
    from quietshelf.reports.forms import MailAddressForm

    form = MailAddressForm(request.POST)
    if not form.is_valid():
        return _schedule_page(request, address_form=form, status=400)
    try:
        staff_mail_address_set(actor=request.user, email=form.cleaned_data["email"])
    except InvalidInput as exc:
        form.add_error("email", exc.message)
        return _schedule_page(request, address_form=form, status=400)
    messages.success(request, _("Your address for report mail is saved."))
    return redirect("staff_reports:schedules")


@staff_page(perm=VIEW)
@require_POST
def schedule_delete(request, schedule_id):
    services.schedule_delete(actor=request.user, schedule_id=schedule_id)
    return redirect("staff_reports:schedules")


@staff_page(perm=VIEW)
@require_POST
def schedule_leave(request, schedule_id):
    services.schedule_leave(actor=request.user, schedule_id=schedule_id)
    return redirect("staff_reports:schedules")
