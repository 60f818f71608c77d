"""Staff pages. Every view requires a signed-in staff member (and, for
cataloguing, the matching catalogue permission).

Views are thin: a form shapes input, one service or selector does the work,
domain errors become form errors. Every POST is CSRF-protected by Django's
middleware; /staff/ responses carry Cache-Control: no-store (core middleware).
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from quietshelf.accounts.decorators import staff_page
from quietshelf.catalog import reads as catalog_reads
from quietshelf.catalog import selectors, services, uploads
from quietshelf.catalog.marc.display import marc_lines
from quietshelf.catalog.search import SearchQuery, search
from quietshelf.core.errors import Conflict, DomainError, InvalidInput
from quietshelf.staff import forms

MAX_ID = 2**63 - 1
PAGE_SIZE = 20


# --- access -----------------------------------------------------------------------


def staff_required(perm: str | None = None):
    """accounts.decorators.staff_page, and (when given) holding this Django-style
    catalogue permission (accounts/backends.py maps it); ids out of range are 404."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if perm and not request.user.has_perm(perm):
                raise PermissionDenied
            for name, value in kwargs.items():
                if name.endswith("_id") and not 0 < value <= MAX_ID:
                    raise Http404
            return view(request, *args, **kwargs)

        return staff_page(wrapper)

    return decorator


@staff_required()
def home(request):
    return render(request, "staff/home.html", {})


# --- finding records ------------------------------------------------------------


@staff_required("catalog.view_bibrecord")
def find(request):
    """Keyword search through the search service, or an exact look-up by
    barcode, ISBN/ISSN or control number (one hit goes straight to the record)."""
    find_form = forms.FindForm(request.GET or None)
    lookup_form = forms.LookupForm(request.GET or None)
    context = {"find_form": find_form, "lookup_form": lookup_form, "results": None}
    term = request.GET.get("lookup", "").strip()
    if term and lookup_form.is_valid():
        ids = catalog_reads.lookup_record_ids(lookup_form.cleaned_data["lookup"])
        if len(ids) == 1:
            return redirect("staff:record", record_id=ids[0])
        context.update(results=catalog_reads.record_summaries(ids), total=len(ids), lookup=True)
    elif request.GET.get("q", "").strip() and find_form.is_valid():
        page = find_form.cleaned_data.get("page") or 1
        try:
            result = search(
                SearchQuery(text=find_form.cleaned_data["q"], page=page, page_size=PAGE_SIZE)
            )
        except InvalidInput as exc:
            find_form.add_error("q", exc.message)
        else:
            context.update(
                results=catalog_reads.record_summaries(result.record_ids),
                total=result.total,
                page=result.page,
                pages=result.pages,
                q=find_form.cleaned_data["q"],
            )
    return render(request, "staff/find.html", context)


@staff_required("catalog.view_bibrecord")
def record(request, record_id: int):
    rec = selectors.record_get(record_id)
    holdings = selectors.items_for_record(rec.pk)
    context = {
        "record": rec,
        "holdings": holdings,
        "marc_lines": marc_lines(rec),
        "currency": settings.QUIETSHELF_CURRENCY,
        **_hold_form_context(request),
    }
    return render(request, "staff/record.html", context)


def _hold_form_context(request) -> dict:
    """What the "place a hold for a patron" form needs (CIR-3): staff who lend only."""
    from quietshelf.accounts.authz import has_perm
    from quietshelf.catalog.models import Branch
    from quietshelf.circulation.views import BRANCH, desk_patron

    if not has_perm(request.user, "circulation.checkout"):
        return {}
    return {
        "can_hold": True,
        "desk_patron": desk_patron(request),
        "pickup_branches": list(Branch.objects.order_by("name")),
        "pickup_default": request.session.get(BRANCH),
    }


@staff_required("catalog.change_bibrecord")
def record_edit(request, record_id: int):
    rec = selectors.record_get(record_id)
    if request.method == "POST":
        form = forms.RecordCoreForm(request.POST)
        if form.is_valid():
            try:
                services.record_update_core_fields(
                    actor=request.user, record_id=rec.pk, **form.cleaned_data
                )
            except InvalidInput as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("The record was saved."))
                return redirect("staff:record", record_id=rec.pk)
    else:
        form = forms.RecordCoreForm(
            initial={
                "title": rec.title,
                "subtitle": rec.subtitle,
                "responsibility": rec.responsibility,
                "edition": rec.edition,
                "publisher": rec.publisher,
                "publication_place": rec.publication_place,
                "year": rec.year,
                "language": rec.language,
            }
        )
    return render(request, "staff/record_edit.html", {"record": rec, "form": form})


# --- items ------------------------------------------------------------------------


def _item_form(data=None, initial=None):
    return forms.ItemForm(
        data,
        initial=initial,
        branches=selectors.branch_list(),
        item_types=selectors.item_type_list(),
        locations=selectors.location_list(),
    )


def _item_error(form, exc: DomainError) -> None:
    if exc.code == "duplicate_barcode":
        form.add_error("barcode", _("This barcode is already in use by another item."))
    elif exc.code in {"invalid_barcode", "barcode_required"}:
        form.add_error("barcode", exc.message)
    else:
        form.add_error(None, exc.message)


@staff_required("catalog.add_item")
def item_add(request, record_id: int):
    rec = selectors.record_get(record_id)
    if request.method == "POST":
        form = _item_form(request.POST)
        if form.is_valid():
            try:
                services.item_create(actor=request.user, record_id=rec.pk, **form.service_fields())
            except (Conflict, InvalidInput) as exc:
                _item_error(form, exc)
            else:
                messages.success(request, _("The item was added."))
                return redirect("staff:record", record_id=rec.pk)
    else:
        form = _item_form(initial={"status": "available"})
    context = {"record": rec, "form": form, "adding": True}
    return render(request, "staff/item_form.html", context)


@staff_required("catalog.change_item")
def item_edit(request, item_id: int):
    item = selectors.item_get(item_id)
    if request.method == "POST":
        form = _item_form(request.POST)
        if form.is_valid():
            try:
                services.item_update(actor=request.user, item_id=item.pk, **form.service_fields())
            except (Conflict, InvalidInput) as exc:
                _item_error(form, exc)
            else:
                messages.success(request, _("The item was saved."))
                return redirect("staff:record", record_id=item.record_id)
    else:
        form = _item_form(initial=forms.ItemForm.initial_from(item))
    context = {"record": item.record, "item": item, "form": form, "adding": False}
    return render(request, "staff/item_form.html", context)


# --- MARC upload --------------------------------------------------------------------


@csrf_exempt  # only so the size cap goes in before the CSRF check reads the body
def upload(request):
    """Upload a MARC file (size and type checked first) and show the import summary.

    The size cap is enforced while the upload streams in (SEC-UP-1); the CSRF
    check then runs as usual (csrf_protect on the inner view).
    """
    uploads.limit_uploads(request, max_bytes=settings.QUIETSHELF_MAX_UPLOAD_BYTES)
    try:
        return _upload(request)
    except uploads.UploadTooLarge as exc:
        user = request.user
        if not (user.is_authenticated and user.is_staff and user.has_perm("catalog.add_bibrecord")):
            raise PermissionDenied from None
        form = forms.UploadForm(data={}, files={})
        form.is_valid()
        form.errors["file"] = form.error_class([exc.message])
        context = {"form": form, "summary": None, "max_bytes": settings.QUIETSHELF_MAX_UPLOAD_BYTES}
        return render(request, "staff/upload.html", context, status=413)


@csrf_protect
@staff_required("catalog.add_bibrecord")
def _upload(request):
    summary = None
    if request.method == "POST":
        form = forms.UploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                result = uploads.import_upload(
                    actor=request.user,
                    upload=form.cleaned_data["file"],
                    dry_run=form.cleaned_data["dry_run"],
                    max_bytes=settings.QUIETSHELF_MAX_UPLOAD_BYTES,
                )
            except InvalidInput as exc:
                form.add_error("file", exc.message)
            else:
                summary = uploads.summary_dict(result)
                summary["record_ids"] = result.record_ids[:20]
    else:
        form = forms.UploadForm()
    context = {"form": form, "summary": summary, "max_bytes": settings.QUIETSHELF_MAX_UPLOAD_BYTES}
    return render(request, "staff/upload.html", context)


# --- branches and item types ----------------------------------------------------------


def _coded_page(request, *, form_class, create, perm, template, objects, created_message):
    if request.method == "POST":
        if not request.user.has_perm(perm):
            raise PermissionDenied
        form = form_class(request.POST)
        if form.is_valid():
            try:
                create(actor=request.user, **form.cleaned_data)
            except (Conflict, InvalidInput) as exc:
                form.add_error("code" if isinstance(exc, Conflict) else None, exc.message)
            else:
                messages.success(request, created_message)
                return redirect(request.path)
    else:
        form = form_class()
    return render(request, template, {"form": form, "objects": objects()})


@staff_required("catalog.view_branch")
def branches(request):
    return _coded_page(
        request,
        form_class=forms.CodedForm,
        create=services.branch_create,
        perm="catalog.add_branch",
        template="staff/branches.html",
        objects=selectors.branch_list,
        created_message=_("The branch was added."),
    )


@staff_required("catalog.view_itemtype")
def item_types(request):
    return _coded_page(
        request,
        form_class=forms.ItemTypeForm,
        create=services.item_type_create,
        perm="catalog.add_itemtype",
        template="staff/item_types.html",
        objects=selectors.item_type_list,
        created_message=_("The item type was added."),
    )
