"""Staff patron pages under /staff/patrons/.

Thin views: a form shapes input, one service or selector does the work
(authorisation, branch scope and audit entries live there), domain errors
become form errors. Card numbers and search terms only travel in POST bodies
(SEC-URL-1): the find form posts, and one hit redirects to /staff/patrons/<uuid>/.
Every POST is CSRF-protected; /staff/ responses carry Cache-Control: no-store.
"""

from __future__ import annotations

import io

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from quietshelf.accounts.decorators import staff_page
from quietshelf.core.errors import DomainError, NotFound, PermissionDenied
from quietshelf.patrons import forms, loads, policy, selectors, services
from quietshelf.patrons.errors import NoteNeedsConfirmation
from quietshelf.patrons.models import PatronLoadMapping

# which form field a domain error code belongs to
FIELD_FOR_CODE = {
    "duplicate_barcode": "barcode",
    "invalid_barcode": "barcode",
    "duplicate_identifier": "identifier_value",
    "invalid_identifier": "identifier_value",
    "invalid_email": "email",
    "invalid_phone": "phone",
    "invalid_address": "address",
    "invalid_name": "given_name",
    "invalid_contact": "value",
    "invalid_note": "text",
    "note_needs_confirmation": "confirmed",
    "reason_required": "reason",
}


def _form_error(form, exc: DomainError, default_field: str | None = None) -> None:
    name = FIELD_FOR_CODE.get(exc.code, default_field)
    if name not in form.fields:
        name = None
    form.add_error(name, exc.message)


def _detail_context(request, patron_id, **extra):
    detail = selectors.patron_detail(actor=request.user, patron_id=patron_id)
    return {"d": detail, "p": detail.patron, **extra}


def _gate_text(user) -> str:
    """Why patron data is closed to someone whose role has it: the gate not passed yet."""
    from quietshelf.accounts import roles

    if not roles.holds_ignoring_gates(user, "patrons.view_patron"):
        return ""
    gate = roles.gate_failure(user, "patrons.view_patron")
    if gate == "mfa":
        return _(
            "Patron data opens only after you sign in with a second factor: set one up "
            "under My security, then sign out and in again."
        )
    if gate == "training":
        return _("Patron data opens once you have acknowledged the privacy training.")
    return ""


@staff_page
@require_http_methods(["GET", "POST"])
def find(request):
    form = forms.FindPatronForm(request.POST or None)
    results = None
    if request.method == "POST" and form.is_valid():
        try:
            results = selectors.patron_search(
                actor=request.user, query=form.cleaned_data["q"], kind=form.cleaned_data["kind"]
            )
        except PermissionDenied as exc:
            form.add_error("q", _gate_text(request.user) or exc.message)
        except DomainError as exc:
            _form_error(form, exc, "q")
        else:
            if len(results) == 1:
                return redirect("staff_patrons:patron", patron_id=results[0].pk)
    return render(request, "patrons/staff/find.html", {"form": form, "results": results})


@staff_page
def patron(request, patron_id):
    context = _detail_context(request, patron_id)
    # what other apps show on the record (circulation: loans, holds, fees, the desk link)
    context["panels"] = [
        panel
        for fn in policy.RECORD_PANELS
        if (panel := fn(request.user, context["p"])) is not None
    ]
    return render(request, "patrons/staff/patron.html", context)


@staff_page
@require_http_methods(["GET", "POST"])
def register(request):
    form = forms.PatronRegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        id_type, id_value = data.pop("identifier_type"), data.pop("identifier_value")
        try:
            p = services.patron_register(
                actor=request.user,
                identifiers=[(id_type or "institutional_id", id_value)] if id_value else [],
                **data,
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Patron registered."))
            return redirect("staff_patrons:patron", patron_id=p.pk)
    return render(
        request, "patrons/staff/form.html", {"form": form, "title": _("Register a patron")}
    )


@staff_page
@require_http_methods(["GET", "POST"])
def edit(request, patron_id):
    p = selectors.patron_get(actor=request.user, patron_id=patron_id)
    initial = {
        "given_name": p.given_name,
        "family_name": p.family_name,
        "group": p.group.code if p.group else None,
        "home_branch": p.home_branch.code if p.home_branch else None,
        "status": p.status,
        "expiry_date": p.expiry_date,
        "erase_after": p.erase_after,
        "preferred_language": p.preferred_language,
        "notification_channel": p.notification_channel,
        "date_of_birth": p.date_of_birth
        if not policy.is_unavailable_date(p.date_of_birth)
        else None,
    }
    form = forms.PatronEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        changes = {k: v for k, v in form.cleaned_data.items() if k in form.changed_data}
        try:
            if changes:
                services.patron_update(actor=request.user, patron_id=p.pk, **changes)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("staff_patrons:patron", patron_id=p.pk)
    return render(
        request, "patrons/staff/form.html", {"form": form, "title": _("Edit patron"), "p": p}
    )


def _simple_form(request, patron_id, *, form_class, action, title, success, template=None):
    """GET shows the form beside the patron; POST runs `action(form.cleaned_data)`."""
    p = selectors.patron_get(
        actor=request.user, patron_id=patron_id, audited=request.method == "GET"
    )
    form = form_class(request.POST or None)
    extra = {}
    if request.method == "POST" and form.is_valid():
        try:
            action(p, form.cleaned_data)
        except NoteNeedsConfirmation as exc:
            extra["warnings"] = [
                policy.CATEGORY_LABELS.get(c, c) for c in exc.details.get("warnings", [])
            ]
            _form_error(form, exc)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, success)
            return redirect("staff_patrons:patron", patron_id=p.pk)
    if request.method == "POST" and "warnings" not in extra and form_class is forms.NoteForm:
        extra["warnings"] = [w.label for w in policy.note_warnings(request.POST.get("text", ""))]
    context = {"form": form, "title": title, "p": p, **extra}
    return render(request, template or "patrons/staff/form.html", context)


@staff_page
@require_http_methods(["GET", "POST"])
def replace_card(request, patron_id):
    return _simple_form(
        request,
        patron_id,
        form_class=forms.CardForm,
        action=lambda p, d: services.card_replace(
            actor=request.user, patron_id=p.pk, barcode=d["barcode"]
        ),
        title=_("Replace card"),
        success=_("New card issued; the old number is retired."),
    )


@staff_page
@require_http_methods(["GET", "POST"])
def add_contact(request, patron_id):
    return _simple_form(
        request,
        patron_id,
        form_class=forms.ContactForm,
        action=lambda p, d: services.contact_add(actor=request.user, patron_id=p.pk, **d),
        title=_("Add contact"),
        success=_("Contact added."),
    )


@staff_page
@require_POST
def remove_contact(request, patron_id, contact_id):
    selectors.patron_get(actor=request.user, patron_id=patron_id, audited=False)
    services.contact_remove(actor=request.user, contact_id=contact_id)
    messages.success(request, _("Contact removed."))
    return redirect("staff_patrons:patron", patron_id=patron_id)


@staff_page
@require_http_methods(["GET", "POST"])
def add_identifier(request, patron_id):
    return _simple_form(
        request,
        patron_id,
        form_class=forms.IdentifierForm,
        action=lambda p, d: services.identifier_add(actor=request.user, patron_id=p.pk, **d),
        title=_("Add identifier"),
        success=_("Identifier added."),
    )


@staff_page
@require_http_methods(["GET", "POST"])
def add_note(request, patron_id):
    return _simple_form(
        request,
        patron_id,
        form_class=forms.NoteForm,
        action=lambda p, d: services.note_add(
            actor=request.user, patron_id=p.pk, text=d["text"], confirmed=d["confirmed"]
        ),
        title=_("Add a note"),
        success=_("Note saved."),
        template="patrons/staff/note_form.html",
    )


@staff_page
@require_http_methods(["GET", "POST"])
def add_block(request, patron_id):
    return _simple_form(
        request,
        patron_id,
        form_class=forms.BlockForm,
        action=lambda p, d: services.block_add(actor=request.user, patron_id=p.pk, **d),
        title=_("Block the account"),
        success=_("Block added."),
    )


@staff_page
@require_http_methods(["GET", "POST"])
def lift_block(request, patron_id, block_id):
    def action(p, d):
        if not p.blocks.filter(pk=block_id).exists():
            raise NotFound("No such block.")
        services.block_lift(actor=request.user, block_id=block_id, reason=d["reason"])

    return _simple_form(
        request,
        patron_id,
        form_class=forms.LiftForm,
        action=action,
        title=_("Lift block"),
        success=_("Block lifted."),
    )


@staff_page
@require_http_methods(["GET", "POST"])
def override(request, patron_id):
    return _simple_form(
        request,
        patron_id,
        form_class=forms.OverrideForm,
        action=lambda p, d: services.block_override(
            actor=request.user, patron_id=p.pk, reason=d["reason"], code=d["code"]
        ),
        title=_("Override a block once"),
        success=_("Override recorded."),
    )


@staff_page
@require_http_methods(["GET", "POST"])
def add_proxy(request, patron_id):
    def action(p, d):
        proxy = selectors.patron_by_card_barcode(d["barcode"])
        if proxy is None:
            raise DomainError(_("No patron has this card."), code="invalid_barcode")
        services.proxy_add(actor=request.user, patron_id=p.pk, proxy_id=proxy.pk, kind=d["kind"])

    return _simple_form(
        request,
        patron_id,
        form_class=forms.ProxyForm,
        action=action,
        title=_("Add proxy or guarantor"),
        success=_("Link added."),
    )


# --- loads ---------------------------------------------------------------------------


@staff_page
@require_http_methods(["GET", "POST"])
def load(request):
    if not loads.may_load(request.user):
        raise DjangoPermissionDenied
    form = forms.LoadForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            report = loads.run_load(
                actor=request.user,
                stream=io.BufferedReader(upload.file)
                if hasattr(upload.file, "readable")
                else upload,
                fmt=form.cleaned_data["format"],
                mapping=loads.mapping_for_load(
                    actor=request.user, mapping_name=form.cleaned_data["mapping"].name
                ),
                dry_run=form.cleaned_data["dry_run"],
                keep_all=False,
            )
        except DomainError as exc:
            form.add_error("file", exc.message)
    context = {"form": form, "report": report, "mappings": PatronLoadMapping.objects.all()}
    return render(request, "patrons/staff/load.html", context)


@staff_page
@require_http_methods(["GET", "POST"])
def mapping_edit(request, mapping_id=None):
    if not loads.may_load(request.user):
        raise DjangoPermissionDenied
    obj = None
    initial = {
        "columns": '{\n  "StudentID": "identifier:institutional_id",\n  "First": "given_name"\n}'
    }
    if mapping_id is not None:
        obj = PatronLoadMapping.objects.filter(pk=mapping_id).first()
        if obj is None:
            raise Http404
        import json

        initial = {
            "name": obj.name,
            "match_type": obj.match_type,
            "columns": json.dumps(obj.columns, indent=2, ensure_ascii=False),
            "default_group": obj.default_group.code if obj.default_group else None,
            "default_branch": obj.default_branch.code if obj.default_branch else None,
        }
    form = forms.MappingForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        data = {
            "columns": d["columns"],
            "match_type": d["match_type"],
            "default_group": d["default_group"].code if d["default_group"] else "",
            "default_branch": d["default_branch"].code if d["default_branch"] else "",
        }
        try:
            loads.mapping_save(actor=request.user, name=d["name"], data=data, replaces=obj)
        except DomainError as exc:
            form.add_error("columns", exc.message)
        else:
            messages.success(request, _("Mapping saved."))
            return redirect("staff_patrons:load")
    return render(
        request,
        "patrons/staff/form.html",
        {"form": form, "title": _("Field mapping"), "targets": loads.TARGETS},
    )


@staff_page
@require_POST
def send_password_link(request, patron_id):
    """Staff start a password (re)set; the link goes only to the patron (PRV-AUTH-1)."""
    from quietshelf.patrons.password_links import send_password_link as send_link

    try:
        send_link(actor=request.user, patron_id=patron_id)
    except (PermissionDenied, NotFound):
        raise
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("A link to set a password was sent to the patron."))
    return redirect("staff_patrons:patron", patron_id=patron_id)


@staff_page
@require_POST
def approve(request, patron_id):
    """Approve a self-registration that waits for staff (QUIETSHELF_SELF_REGISTRATION=pending)."""
    services.patron_update(actor=request.user, patron_id=patron_id, status="active")
    messages.success(request, _("Registration approved."))
    return redirect("staff_patrons:patron", patron_id=patron_id)
