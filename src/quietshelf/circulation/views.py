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
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_GET, require_POST

from quietshelf.accounts.authz import has_perm
from quietshelf.accounts.decorators import staff_page
from quietshelf.catalog.models import Branch
from quietshelf.circulation import policy, selectors, services
from quietshelf.circulation.refusals import refusal_text
from quietshelf.core import money
from quietshelf.core.errors import DomainError, NotFound

PATRON = "desk_patron"
BRANCH = "desk_branch"
RECEIPT = "desk_receipt"
REFUSED = "desk_refused"
LAST = "desk_last_answer"
PAYMENT = "desk_last_payment"
OVERRIDE = "desk_block_override"


def _routing_text(result) -> str:
    if not result.template:
        return result.message
    return _(result.template) % result.params if result.params else _(result.template)


def _branch_id(request) -> int | None:
    from quietshelf.accounts.selectors import own_branch_id

    bid = request.session.get(BRANCH)
    if bid and Branch.objects.filter(pk=bid).exists():
        return bid
    # the staff member's own branch first, else the first by name
    first = own_branch_id(request.user) or (
        Branch.objects.order_by("name").values_list("pk", flat=True).first()
    )
    if first:
        request.session[BRANCH] = first
    return first


def _context(request, **extra):
    bid = _branch_id(request)
    branches = list(Branch.objects.order_by("name"))
    ctx = {
        "branches": branches,
        "branch_id": bid,
        "desk_branch": next((b.name for b in branches if b.pk == bid), ""),
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
    _start_visit(request, patron)
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


def _override_for(request, p) -> str:
    """The reason of this visit's block override, if one was made for this patron."""
    o = request.session.get(OVERRIDE) or {}
    return o.get("reason", "") if o.get("patron") == str(p.pk) else ""


@staff_page
@require_POST
def override(request):
    """Set the patron's blocks aside for this visit, with a reason (PAT-3, audited)."""
    p = _current_patron(request)
    if p is None:
        return redirect("circulation_desk:desk")
    try:
        reason = services.desk_block_override(
            actor=request.user,
            patron_id=p.pk,
            reason=request.POST.get("reason", ""),
            branch_id=_branch_id(request),
        )
    except DomainError as exc:
        messages.error(request, refusal_text(exc))
    else:
        request.session[OVERRIDE] = {"patron": str(p.pk), "reason": reason}
        messages.success(request, _("Blocks set aside for this visit."))
    return redirect("circulation_desk:patron")


@staff_page
@require_GET
def hold_slip(request, hold_id):
    """The slip to band a held item with: a pickup code, not the patron's name unless the
    library chose names (QUIETSHELF_HOLD_SLIP_NAMES; PRV-NOT-1). Prints alone."""
    from quietshelf.patrons.selectors import patron_get

    h = selectors.slip_hold(actor=request.user, hold_id=hold_id)
    if h is None:
        raise Http404
    name = ""
    if getattr(settings, "QUIETSHELF_HOLD_SLIP_NAMES", False) and h.patron_id:
        name = patron_get(actor=request.user, patron_id=h.patron_id).display_name
    return render(
        request,
        "circulation/slip_hold.html",
        _context(request, h=h, code=policy.pickup_code(h.pk), name=name),
    )


@staff_page
@require_GET
def transit_slip(request, item_id: int):
    t = selectors.slip_transit(actor=request.user, item_id=item_id)
    if t is None:
        raise Http404
    return render(request, "circulation/slip_transit.html", _context(request, t=t))


def desk_patron(request):
    """The patron being served at this staff member's desk, or None (for other staff pages,
    e.g. the catalogue record's "place a hold for" form)."""
    return _current_patron(request)


@staff_page
@require_POST
def hold(request):
    """A hold placed by staff (CIR-3): for the patron at the desk, or for a scanned card;
    title level, or item level with an item barcode; the queue position said plainly."""
    from quietshelf.patrons.selectors import patron_by_card_barcode, patron_get

    record_id = request.POST.get("record_id", "")
    back = redirect("staff:record", record_id=int(record_id)) if record_id.isdigit() else None
    card = (request.POST.get("card") or "").strip()[:64]
    p = None
    if card:
        found = patron_by_card_barcode(card)
        if found is not None:
            p = patron_get(actor=request.user, patron_id=found.pk)
    else:
        p = _current_patron(request)
    if p is None:
        messages.error(request, _("No patron has this card number."))
        return back or redirect("circulation_desk:desk")
    try:
        h = services.hold_place(
            actor=request.user,
            patron_id=p.pk,
            record_id=record_id,
            pickup_branch_id=request.POST.get("pickup_branch_id") or _branch_id(request),
            item_barcode=(request.POST.get("item") or "").strip()[:64] or None,
        )
    except DomainError as exc:
        messages.error(request, refusal_text(exc))
        return back or redirect("circulation_desk:patron")
    position, available = selectors.hold_standing(h)
    params = {"title": h.record.title, "branch": h.pickup_branch.name}
    if available:
        text = _(
            "Hold placed on %(title)s for pickup at %(branch)s: a copy is on the shelf, "
            "it is on the pick list now."
        )
    else:
        params["n"] = position
        text = _("Hold placed on %(title)s for pickup at %(branch)s: number %(n)s in the queue.")
    messages.success(request, text % params)
    return back or redirect("circulation_desk:patron")


@staff_page
@require_POST
def open_patron(request):
    """Bring a patron from their record to the desk (the id in the body, never the card)."""
    from quietshelf.patrons.selectors import patron_get

    try:
        p = patron_get(actor=request.user, patron_id=request.POST.get("patron_id", ""))
    except DomainError:
        messages.error(request, _("No such patron."))
        return redirect("circulation_desk:desk")
    _start_visit(request, p)
    return redirect("circulation_desk:patron")


def _start_visit(request, p) -> None:
    request.session[PATRON] = str(p.pk)
    request.session[RECEIPT] = []
    request.session.pop(REFUSED, None)
    request.session.pop(OVERRIDE, None)
    request.session.pop(PAYMENT, None)


@staff_page
@require_GET
def patron(request):
    """The patron at the desk: warnings, scan items, loans (renew), fees (pay)."""
    p = _current_patron(request)
    if p is None:
        return redirect("circulation_desk:desk")
    blocks = selectors.desk_blocks(p)
    overridden = _override_for(request, p)
    loans = selectors.patron_loan_lines(actor=request.user, patron_id=p.pk)
    holds = selectors.patron_holds_positioned(actor=request.user, patron_id=p.pk)
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
        fees=[
            (
                f,
                _money(f.balance_minor, f.fee.currency),
                money.major_value(f.balance_minor, f.fee.currency),
            )
            for f in fees
        ],
        balance=_money(sum(f.balance_minor for f in fees)) if fees else "",
        balance_value=money.major_value(
            sum(f.balance_minor for f in fees), settings.QUIETSHELF_CURRENCY
        ),
        payments=[
            (tx, _money(-tx.amount_minor, tx.fee.currency))
            for tx in selectors.patron_payments(actor=request.user, patron_id=p.pk)
        ]
        if has_perm(request.user, "circulation.manage_fees")
        else [],
        has_payment=bool(request.session.get(PAYMENT)),
        can_manage_fees=has_perm(request.user, "circulation.manage_fees"),
        last=request.session.pop(LAST, None),
        holds=[(h, pos, policy.pickup_code(h.pk)) for h, pos in holds],
        ready=sum(1 for h, _pos in holds if h.status == "on_shelf"),
        overdue=sum(1 for line in loans if line.overdue),
        blocked=bool(blocks) and not overridden,
        overridden=overridden,
        can_override_block=has_perm(
            request.user, "circulation.override", branch_id=_branch_id(request)
        )
        and has_perm(request.user, "patrons.override_block", branch_id=_branch_id(request)),
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
    visit_override = _override_for(request, p)
    try:
        r = services.checkout(
            actor=request.user,
            item_barcode=barcode,
            patron_id=p.pk,
            branch_id=_branch_id(request),
            override_reason=reason or visit_override or None,
            override_only=None if reason else services.PATRON_REFUSALS,
        )
    except DomainError as exc:
        if exc.code == "item_not_found" and patron_by_card_barcode(barcode) is not None:
            answer["kind"] = "patron_card"
            answer["text"] = _(
                "This is a patron card, not an item. Finish with this patron (Done) first."
            )
            return answer
        answer["text"] = refusal_text(exc)
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
        text = refusal_text(exc)
        if loan is not None:  # every refusal names the item (CIR-2)
            text = _("%(title)s (%(barcode)s): %(why)s") % {
                "title": loan.item.record.title,
                "barcode": loan.item.barcode,
                "why": text,
            }
        messages.error(request, text)
    return redirect("circulation_desk:patron")


def _money(amount_minor: int, currency: str | None = None) -> str:
    return money.format_money(amount_minor, currency or settings.QUIETSHELF_CURRENCY)


def _remember_payment(request, txs) -> None:
    request.session[PAYMENT] = [str(tx.pk) for tx in txs]


@staff_page
@require_POST
def pay(request):
    """Pay one fee, or all of them (fee_id "all"), in the major unit; a confirm step first
    repeats the amount as it was read (CIR-4)."""
    p = _current_patron(request)
    if p is None:
        return redirect("circulation_desk:desk")
    fee_id = request.POST.get("fee_id", "")
    currency = settings.QUIETSHELF_CURRENCY
    try:
        amount = money.parse_major(request.POST.get("amount", ""), currency)
        if request.POST.get("confirm") != "1":
            return render(
                request,
                "circulation/pay_confirm.html",
                _context(
                    request,
                    p=p,
                    fee_id=fee_id,
                    amount=money.major_value(amount, currency),
                    amount_text=_money(amount, currency),
                    fee=None
                    if fee_id == "all"
                    else selectors.patron_fee(actor=request.user, patron_id=p.pk, fee_id=fee_id),
                ),
            )
        if fee_id == "all":
            txs = services.fee_pay_patron(
                actor=request.user, patron_id=p.pk, amount=amount, branch_id=_branch_id(request)
            )
        else:
            if selectors.patron_fee(actor=request.user, patron_id=p.pk, fee_id=fee_id) is None:
                raise NotFound(gettext_noop("No such fee."), code="fee_not_found")
            txs = [services.fee_pay(actor=request.user, fee_id=fee_id, amount=amount)]
    except DomainError as exc:
        messages.error(request, refusal_text(exc))
        return redirect("circulation_desk:patron")
    _remember_payment(request, txs)
    messages.success(request, _("Payment of %(amount)s recorded.") % {"amount": _money(amount)})
    return redirect("circulation_desk:patron")


@staff_page
@require_POST
def fee_action(request):
    """Waive (with a reason), refund (amount and reason) or charge a damage fee (CIR-4)."""
    p = _current_patron(request)
    if p is None:
        return redirect("circulation_desk:desk")
    action = request.POST.get("action", "")
    fee_id = request.POST.get("fee_id", "")
    currency = settings.QUIETSHELF_CURRENCY
    reason = (request.POST.get("reason") or "").strip()[:500]
    try:
        if action == "damage":
            amount = money.parse_major(request.POST.get("amount", ""), currency)
            services.fee_charge(
                actor=request.user,
                patron_id=p.pk,
                fee_type="damage",
                amount=amount,
                branch_id=_branch_id(request),
                item_barcode=(request.POST.get("item") or "").strip()[:64] or None,
                reason=reason,
            )
            text = _("Damage fee of %(amount)s charged.") % {"amount": _money(amount)}
        else:
            if selectors.patron_fee(actor=request.user, patron_id=p.pk, fee_id=fee_id) is None:
                raise NotFound(gettext_noop("No such fee."), code="fee_not_found")
            if action == "waive":
                tx = services.fee_waive(actor=request.user, fee_id=fee_id, reason=reason)
                text = _("Waived %(amount)s.") % {"amount": _money(-tx.amount_minor)}
            elif action == "refund":
                amount = money.parse_major(request.POST.get("amount", ""), currency)
                services.fee_refund(actor=request.user, fee_id=fee_id, amount=amount, reason=reason)
                text = _("Refunded %(amount)s.") % {"amount": _money(amount)}
            else:
                raise NotFound(gettext_noop("No such fee."), code="fee_not_found")
    except DomainError as exc:
        messages.error(request, refusal_text(exc))
    else:
        messages.success(request, text)
    return redirect("circulation_desk:patron")


@staff_page
@require_POST
def declare_lost(request):
    p = _current_patron(request)
    if p is None:
        return redirect("circulation_desk:desk")
    loan = selectors.patron_loan(
        actor=request.user, patron_id=p.pk, loan_id=request.POST.get("loan_id", "")
    )
    try:
        if loan is None:
            raise NotFound(gettext_noop("No such loan."), code="loan_not_found")
        fee = services.declare_lost(actor=request.user, loan_id=loan.pk)
    except DomainError as exc:
        messages.error(request, refusal_text(exc))
    else:
        params = {"title": loan.item.record.title, "barcode": loan.item.barcode}
        if fee is not None:
            params["amount"] = _money(fee.original_minor, fee.currency)
            text = _("%(title)s (%(barcode)s) declared lost; %(amount)s charged.") % params
        else:
            text = _("%(title)s (%(barcode)s) declared lost.") % params
        messages.success(request, text)
    return redirect("circulation_desk:patron")


@staff_page
@require_GET
def payment_receipt(request):
    """The last payment's receipt: what was paid for, how much, what is still owed; no name."""
    p = _current_patron(request)
    if p is None:
        return redirect("circulation_desk:desk")
    lines = selectors.payment_lines(
        actor=request.user, patron_id=p.pk, tx_ids=request.session.get(PAYMENT, [])
    )
    fees = selectors.patron_fees(actor=request.user, patron_id=p.pk)
    return render(
        request,
        "circulation/payment_receipt.html",
        _context(
            request,
            lines=[(tx, _money(-tx.amount_minor, tx.fee.currency)) for tx in lines],
            total=_money(-sum(tx.amount_minor for tx in lines)),
            owed=_money(sum(f.balance_minor for f in fees)),
            when=timezone.localtime(lines[0].at) if lines else None,
        ),
    )


@staff_page
@require_POST
def done(request):
    """End the patron's visit: the receipt (titles and due dates only), then a clean desk."""
    ids = request.session.pop(RECEIPT, [])
    patron_id = request.session.pop(PATRON, None)
    request.session.pop(REFUSED, None)
    request.session.pop(OVERRIDE, None)
    request.session.pop(PAYMENT, None)
    if request.POST.get("receipt") == "send" and patron_id and ids:
        return _send_receipt(request, patron_id, ids)
    loans = selectors.receipt_loans(ids)
    return render(request, "circulation/receipt.html", _context(request, loans=loans))


def _send_receipt(request, patron_id, ids):
    """The receipt by the patron's notice channel: a count and due dates, no titles."""
    from quietshelf.circulation.receipts import send_checkout_receipt

    try:
        notice = send_checkout_receipt(actor=request.user, patron_id=patron_id, loan_ids=ids)
    except DomainError as exc:
        messages.error(request, refusal_text(exc))
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
    confirm_first = bool(getattr(settings, "QUIETSHELF_TRAP_CONFIRM", False))
    try:
        if request.POST.get("trap") == "1":  # the confirm step's answer
            result = services.hold_trap(
                actor=request.user, item_barcode=barcode, branch_id=_branch_id(request)
            )
        else:
            result = services.checkin(
                actor=request.user,
                item_barcode=barcode,
                branch_id=_branch_id(request),
                trap=not confirm_first,
            )
    except DomainError as exc:
        answer["text"] = refusal_text(exc)
        if not _queued(request):
            messages.error(request, refusal_text(exc))
    ctx = {"result": result, "routing": _routing_text(result) if result else ""}
    if result is not None:
        # what is still owed on the overdue fine, not what it came to (it may be paid)
        owed = services.fee_balance(result.fee_id) if result.fee_id else result.fine_minor
        if owed > 0:
            ctx["fine"] = _money(owed)
        answer.update(ok=True, title=result.item.record.title, **ctx)
        params = {"title": result.item.record.title}
        if request.POST.get("trap") == "1":
            answer["text"] = _("Set aside: %(title)s.") % params
        elif result.loan_closed:
            answer["text"] = _("Checked in: %(title)s.") % params
        else:
            answer["text"] = _("%(title)s was not on loan.") % params
    if _queued(request):
        return _answer_response(request, answer)
    return render(request, "circulation/desk.html", _context(request, **ctx))


@staff_page
@require_GET
def holds(request):
    """The hold shelf of the desk branch and the pick list (copies to pull for holds)."""
    bid = _branch_id(request)
    shelf = selectors.hold_shelf(actor=request.user, branch_id=bid)
    for h in shelf:  # shelved under a code, not a name (PRV-NOT-1)
        h.code = policy.pickup_code(h.pk)
    ctx = _context(
        request,
        shelf=shelf,
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
            explain_form.add_error(None, refusal_text(exc))
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
                rule_form.add_error(None, refusal_text(exc))
    rules = list(
        LoanRule.objects.select_related("patron_group", "item_type", "branch").order_by(
            "branch__name", "item_type__name", "patron_group__name"
        )
    )
    for r in rules:  # money in the major unit (CIR-4)
        r.fine_per_day = _money(r.fine_per_day_minor)
        r.max_fine = _money(r.max_fine_minor) if r.max_fine_minor is not None else ""
    ctx = _context(
        request,
        rules=rules,
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
            messages.error(request, refusal_text(exc))
    ctx = _context(
        request,
        calendars=BranchCalendar.objects.select_related("branch").order_by("branch__name"),
        periods=ClosedPeriod.objects.select_related("branch").order_by("first")[:200],
        cal_form=cal_form,
        period_form=period_form,
    )
    return render(request, "circulation/calendar.html", ctx)
