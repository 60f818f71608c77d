"""The staff circulation desk at /staff/desk/: made for a barcode scanner and the keyboard.

Every scan is a plain POST form with one autofocused field (a scanner types
the barcode and Enter), so the desk works without JavaScript. Card numbers
and item barcodes never appear in a URL (SEC-URL-1): the current patron and
desk branch are kept in the staff session. Thin views: one service or
selector each; domain errors become messages on the page.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from quietshelf.accounts.authz import has_perm
from quietshelf.accounts.decorators import staff_page
from quietshelf.catalog.models import Branch, ItemStatus
from quietshelf.circulation import policy, selectors, services
from quietshelf.core.errors import DomainError

PATRON = "desk_patron"
BRANCH = "desk_branch"
RECEIPT = "desk_receipt"
REFUSED = "desk_refused"
LAST = "desk_last_answer"


def _error_text(exc: DomainError) -> str:
    """A service's message in the reader's language: the services keep English and mark
    their messages (gettext_noop), refusals carry their template and values."""
    refusals = getattr(exc, "refusals", None)
    if not refusals:
        if exc.code == "overpayment" and "balance_minor" in exc.details:
            owed = policy.format_minor(exc.details["balance_minor"], settings.QUIETSHELF_CURRENCY)
            return _("That is more than is owed (%(owed)s).") % {"owed": owed}
        return _(exc.message)
    texts = []
    for r in refusals:
        params = dict(r.params)
        if "code" in params:  # an item status: its label in the reader's language
            params["status"] = str(ItemStatus(params["code"]).label).lower()
        texts.append(_(r.template) % params if params else _(r.template))
    if exc.details.get("overridable"):
        texts.append(_(services.OVERRIDE_HINT))
    return " ".join(texts)


def _routing_text(result) -> str:
    if not result.template:
        return result.message
    return _(result.template) % result.params if result.params else _(result.template)


def _branch_id(request) -> int | None:
    bid = request.session.get(BRANCH)
    if bid and Branch.objects.filter(pk=bid).exists():
        return bid
    first = Branch.objects.order_by("name").values_list("pk", flat=True).first()
    if first:
        request.session[BRANCH] = first
    return first


def _context(request, **extra):
    bid = _branch_id(request)
    ctx = {
        "branches": Branch.objects.order_by("name"),
        "branch_id": bid,
        "can_override": has_perm(request.user, "circulation.override", branch_id=bid),
        **extra,
    }
    return ctx


@staff_page
@require_GET
def desk(request):
    """Start: choose the desk branch, scan a patron card, or check items in."""
    ctx = _context(request)
    pid = request.session.get(PATRON)
    if pid:
        return redirect("circulation_desk:patron")
    return render(request, "circulation/desk.html", ctx)


@staff_page
@require_POST
def set_branch(request):
    try:
        bid = int(request.POST.get("branch_id", ""))
    except ValueError:
        bid = None
    if bid and Branch.objects.filter(pk=bid).exists():
        request.session[BRANCH] = bid
    return redirect("circulation_desk:desk")


@staff_page
@require_POST
def scan_patron(request):
    from quietshelf.patrons.selectors import patron_by_card_barcode, patron_get

    card = (request.POST.get("card") or "").strip()[:64]
    patron = patron_by_card_barcode(card) if card else None
    if patron is None:
        messages.error(request, _("No patron has this card number."))
        return redirect("circulation_desk:desk")
    patron_get(actor=request.user, patron_id=patron.pk)  # scope check and "viewed" entry
    request.session[PATRON] = str(patron.pk)
    request.session[RECEIPT] = []
    request.session.pop(REFUSED, None)
    return redirect("circulation_desk:patron")


def _current_patron(request):
    from quietshelf.patrons.selectors import patron_get

    pid = request.session.get(PATRON)
    if not pid:
        return None
    try:
        return patron_get(actor=request.user, patron_id=uuid.UUID(pid), audited=False)
    except DomainError:
        request.session.pop(PATRON, None)
        return None


@staff_page
@require_GET
def patron(request):
    """The patron at the desk: warnings, scan items, loans (renew), fees (pay)."""
    from quietshelf.patrons import policy as patron_policy
    from quietshelf.patrons.models import Block

    p = _current_patron(request)
    if p is None:
        return redirect("circulation_desk:desk")
    blocks = patron_policy.effective_blocks(
        p, list(Block.objects.filter(patron=p, lifted_at__isnull=True))
    )
    loans = selectors.patron_loans(actor=request.user, patron_id=p.pk)
    fees = (
        selectors.patron_fees(actor=request.user, patron_id=p.pk)
        if has_perm(request.user, "circulation.manage_fees")
        else []
    )
    ctx = _context(
        request,
        p=p,
        blocks=blocks,
        loans=loans,
        fees=[(f, policy.format_minor(f.balance_minor, f.fee.currency)) for f in fees],
        balance=policy.format_minor(
            sum(f.balance_minor for f in fees), settings.QUIETSHELF_CURRENCY
        )
        if fees
        else "",
        last=request.session.pop(LAST, None),
        receipt_count=len(request.session.get(RECEIPT, [])),
    )
    return render(request, "circulation/patron.html", ctx)


def _queued(request) -> bool:
    """A scan sent by the desk's scan queue (desk.js): it wants one answer fragment."""
    return request.headers.get("X-Desk-Queue") == "1"


def _answer_response(request, answer: dict):
    """The answer to one queued scan: an <li> naming the barcode and what happened."""
    response = render(request, "circulation/_answer.html", _context(request, a=answer))
    response["X-Desk-Answer"] = "1"
    return response


def _date(moment) -> str:
    return date_format(timezone.localtime(moment), "SHORT_DATE_FORMAT")


def _checkout_answer(request, p, barcode: str, reason: str) -> dict:
    """Lend one scanned item; the answer names the barcode whatever happens (CIR-2)."""
    from quietshelf.patrons.selectors import patron_by_card_barcode

    answer = {"barcode": barcode, "ok": False, "kind": "refused", "text": "", "why": ""}
    if not barcode:
        answer["text"] = _("Scan or type an item barcode.")
        return answer
    try:
        r = services.checkout(
            actor=request.user,
            item_barcode=barcode,
            patron_id=p.pk,
            branch_id=_branch_id(request),
            override_reason=reason or None,
        )
    except DomainError as exc:
        if exc.code == "item_not_found" and patron_by_card_barcode(barcode) is not None:
            answer["kind"] = "patron_card"
            answer["text"] = _(
                "This is a patron card, not an item. Finish with this patron (Done) first."
            )
            return answer
        answer["text"] = _error_text(exc)
        answer["overridable"] = bool(exc.details.get("overridable"))
        return answer
    answer["ok"] = True
    answer["title"] = r.item.record.title
    params = {"title": r.item.record.title, "due": _date(r.due_at)}
    if r.repeated:
        answer["kind"] = "repeat"
        answer["text"] = _("Already checked out to this patron: %(title)s, due %(due)s.") % params
        return answer
    answer["kind"] = "checkout"
    answer["text"] = _("Checked out: %(title)s, due %(due)s.") % params
    answer["why"] = r.rule_why
    answer["loan_id"] = str(r.loan.pk)
    return answer


@staff_page
@require_POST
def checkout(request):
    p = _current_patron(request)
    if p is None:
        if _queued(request):
            barcode = (request.POST.get("item") or "").strip()[:64]
            return _answer_response(
                request,
                {"barcode": barcode, "ok": False, "kind": "refused", "text": _("No patron.")},
            )
        return redirect("circulation_desk:desk")
    barcode = (request.POST.get("item") or "").strip()[:64]
    reason = (request.POST.get("override_reason") or "").strip()[:200]
    answer = _checkout_answer(request, p, barcode, reason)
    if answer.get("loan_id"):
        receipt = request.session.get(RECEIPT, [])
        receipt.append(answer.pop("loan_id"))
        request.session[RECEIPT] = receipt
    if _queued(request):
        return _answer_response(request, answer)
    # without JavaScript: the page after the redirect shows this answer
    request.session[LAST] = answer
    return redirect("circulation_desk:patron")


@staff_page
@require_POST
def renew(request):
    p = _current_patron(request)
    if p is None:
        return redirect("circulation_desk:desk")
    try:
        r = services.renew(actor=request.user, loan_id=request.POST.get("loan_id", ""))
        messages.success(
            request,
            _("Renewed %(title)s (%(barcode)s), now due %(due)s.")
            % {
                "title": r.loan.item.record.title,
                "barcode": r.loan.item.barcode,
                "due": _date(r.due_at),
            },
        )
    except DomainError as exc:
        loan = selectors.patron_loan(
            actor=request.user, patron_id=p.pk, loan_id=request.POST.get("loan_id", "")
        )
        text = _error_text(exc)
        if loan is not None:  # every refusal names the item (CIR-2)
            text = _("%(title)s (%(barcode)s): %(why)s") % {
                "title": loan.item.record.title,
                "barcode": loan.item.barcode,
                "why": text,
            }
        messages.error(request, text)
    return redirect("circulation_desk:patron")


@staff_page
@require_POST
def pay(request):
    p = _current_patron(request)
    if p is None:
        return redirect("circulation_desk:desk")
    try:
        services.fee_pay(
            actor=request.user,
            fee_id=request.POST.get("fee_id", ""),
            amount=request.POST.get("amount_minor", ""),
        )
        messages.success(request, _("Payment recorded."))
    except DomainError as exc:
        messages.error(request, _error_text(exc))
    return redirect("circulation_desk:patron")


@staff_page
@require_POST
def done(request):
    """End the patron's visit: the receipt (titles and due dates only), then a clean desk."""
    from quietshelf.circulation.models import Loan

    ids = request.session.pop(RECEIPT, [])
    patron_id = request.session.pop(PATRON, None)
    request.session.pop(REFUSED, None)
    if request.POST.get("receipt") == "send" and patron_id and ids:
        return _send_receipt(request, patron_id, ids)
    loans = list(
        Loan.objects.filter(pk__in=ids, returned_at__isnull=True)
        .select_related("item__record", "branch")
        .order_by("due_at")
    )
    return render(request, "circulation/receipt.html", _context(request, loans=loans))


def _send_receipt(request, patron_id, ids):
    """The receipt by the patron's notice channel: a count and due dates, no titles."""
    from quietshelf.notices.services import send_checkout_receipt

    try:
        notice = send_checkout_receipt(actor=request.user, patron_id=patron_id, loan_ids=ids)
    except DomainError as exc:
        messages.error(request, _error_text(exc))
    else:
        if notice is None:
            messages.warning(request, _("This patron receives no notices: no receipt was sent."))
        else:
            messages.success(
                request, _("The receipt is on its way (number of items and due dates).")
            )
    return redirect("circulation_desk:desk")


@staff_page
@require_POST
def checkin(request):
    barcode = (request.POST.get("item") or "").strip()[:64]
    result = None
    answer = {"barcode": barcode, "ok": False, "kind": "checkin", "text": ""}
    try:
        result = services.checkin(
            actor=request.user, item_barcode=barcode, branch_id=_branch_id(request)
        )
    except DomainError as exc:
        answer["text"] = _error_text(exc)
        if not _queued(request):
            messages.error(request, _error_text(exc))
    ctx = {"result": result, "routing": _routing_text(result) if result else ""}
    if result is not None:
        if result.fine_minor:
            ctx["fine"] = policy.format_minor(result.fine_minor, settings.QUIETSHELF_CURRENCY)
        answer.update(ok=True, title=result.item.record.title, **ctx)
        answer["text"] = _("Checked in: %(title)s.") % {"title": result.item.record.title}
    if _queued(request):
        return _answer_response(request, answer)
    return render(request, "circulation/desk.html", _context(request, **ctx))


@staff_page
@require_GET
def holds(request):
    """The hold shelf of the desk branch and the pick list (copies to pull for holds)."""
    bid = _branch_id(request)
    ctx = _context(
        request,
        shelf=selectors.hold_shelf(actor=request.user, branch_id=bid),
        picks=selectors.pick_list(actor=request.user, branch_id=bid),
    )
    return render(request, "circulation/holds.html", ctx)


def _cell_ids(cd) -> dict:
    return {
        "patron_group_id": cd["patron_group"].pk if cd.get("patron_group") else None,
        "item_type_id": cd["item_type"].pk if cd.get("item_type") else None,
        "branch_id": cd["branch"].pk if cd.get("branch") else None,
    }


@staff_page
def rules(request):
    """The loan-rule matrix, the explainer ("which rule applies, and why") and a rule form."""
    from quietshelf.circulation import forms
    from quietshelf.circulation.models import LoanRule

    explain_form = forms.CellForm(request.GET or None, prefix="x")
    explanation = None
    if request.GET and explain_form.is_valid():
        ids = _cell_ids(explain_form.cleaned_data)
        try:
            explanation = selectors.explain(**ids)
        except DomainError as exc:
            explain_form.add_error(None, _error_text(exc))
    rule_form = forms.RuleForm(request.POST or None, prefix="r")
    if request.method == "POST":
        if not has_perm(request.user, "circulation.manage_rules"):
            raise DjangoPermissionDenied
        if rule_form.is_valid():
            cd = dict(rule_form.cleaned_data)
            ids = _cell_ids(cd)
            for key in ("patron_group", "item_type", "branch"):
                cd.pop(key)
            try:
                services.rule_save(actor=request.user, **ids, **cd)
                messages.success(request, _("Loan rule saved."))
                return redirect("circulation_desk:rules")
            except DomainError as exc:
                rule_form.add_error(None, _error_text(exc))
    ctx = _context(
        request,
        rules=LoanRule.objects.select_related("patron_group", "item_type", "branch").order_by(
            "branch__name", "item_type__name", "patron_group__name"
        ),
        explain_form=explain_form,
        explanation=explanation,
        rule_form=rule_form,
        can_manage=has_perm(request.user, "circulation.manage_rules"),
    )
    return render(request, "circulation/rules.html", ctx)


@staff_page
def calendar(request):
    from quietshelf.circulation import forms
    from quietshelf.circulation.models import BranchCalendar, ClosedPeriod

    cal_form = forms.CalendarForm(request.POST if "calendar" in request.POST else None)
    period_form = forms.ClosedPeriodForm(request.POST if "period" in request.POST else None)
    if request.method == "POST":
        try:
            if cal_form.is_bound and cal_form.is_valid():
                cd = cal_form.cleaned_data
                services.calendar_save(
                    actor=request.user,
                    branch_id=cd["branch"].pk,
                    closed_weekdays=cd["closed_weekdays"],
                    opens=cd["opens"],
                    closes=cd["closes"],
                )
                messages.success(request, _("Calendar saved."))
                return redirect("circulation_desk:calendar")
            if period_form.is_bound and period_form.is_valid():
                cd = period_form.cleaned_data
                services.closed_period_add(
                    actor=request.user,
                    branch_id=cd["branch"].pk,
                    first=cd["first"],
                    last=cd["last"],
                    note=cd["note"],
                )
                messages.success(request, _("Closed days added."))
                return redirect("circulation_desk:calendar")
        except DomainError as exc:
            messages.error(request, _error_text(exc))
    ctx = _context(
        request,
        calendars=BranchCalendar.objects.select_related("branch").order_by("branch__name"),
        periods=ClosedPeriod.objects.select_related("branch").order_by("first")[:200],
        cal_form=cal_form,
        period_form=period_form,
    )
    return render(request, "circulation/calendar.html", ctx)
