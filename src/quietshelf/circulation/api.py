"""The circulation API at /api/v1/circulation (self-check machines and integrations).

Staff token or staff session; permissions are checked in the services.
Errors have the standard shape {"error": {"code", "message"}}; a refusal is
409 with details.refusals (the codes) and details.overridable.
"""

from __future__ import annotations

import uuid

from ninja import Router

from quietshelf.api.auth import staff_auth
from quietshelf.circulation import schemas as s
from quietshelf.circulation import selectors, services
from quietshelf.core.errors import InvalidInput

router = Router(tags=["circulation"], auth=staff_auth)

ERRORS = {
    400: s.ErrorOut,
    401: s.ErrorOut,
    403: s.ErrorOut,
    404: s.ErrorOut,
    409: s.ErrorOut,
    422: s.ErrorOut,
}


def _patron_id(body: s.CheckoutIn):
    if body.patron_id:
        return body.patron_id
    if body.patron_barcode:
        from quietshelf.patrons.selectors import patron_by_card_barcode

        patron = patron_by_card_barcode(body.patron_barcode)
        if patron is None:
            raise services.PatronNotFound("No patron has this card.")
        return patron.pk
    raise InvalidInput("Give patron_id or patron_barcode.", code="patron_required")


@router.post("/checkout", response={201: s.CheckoutOut, **ERRORS})
def checkout(request, body: s.CheckoutIn):
    r = services.checkout(
        actor=request.auth,
        item_barcode=body.item_barcode,
        patron_id=_patron_id(body),
        branch_id=body.branch_id,
        override_reason=body.override_reason,
    )
    return 201, {
        "loan_id": r.loan.pk,
        "item_barcode": r.item.barcode,
        "title": r.item.record.title,
        "due_at": r.due_at,
        "rule_id": r.rule_id,
        "rule_why": r.rule_why,
        "overridden": r.overridden,
        "hold_filled": r.hold_filled,
    }


@router.post("/checkin", response={200: s.CheckinOut, **ERRORS})
def checkin(request, body: s.CheckinIn):
    r = services.checkin(
        actor=request.auth, item_barcode=body.item_barcode, branch_id=body.branch_id
    )
    return {
        "item_barcode": r.item.barcode,
        "title": r.item.record.title,
        "loan_closed": r.loan_closed,
        "route": r.route,
        "to_branch": r.to_branch.code if r.to_branch else None,
        "message": r.message,
        "fine_minor": r.fine_minor,
        "fee_id": r.fee_id,
        "hold_id": r.hold_id,
        "shelf_expires_on": r.shelf_expires_on,
    }


@router.post("/renew", response={200: s.RenewOut, **ERRORS})
def renew(request, body: s.RenewIn):
    r = services.renew(
        actor=request.auth, loan_id=body.loan_id, override_reason=body.override_reason
    )
    return {"loan_id": r.loan.pk, "due_at": r.due_at, "renewals_left": r.renewals_left}


@router.post("/explain", response={200: s.ExplainOut, **ERRORS})
def explain(request, body: s.ExplainIn):
    """Which loan rule applies to a patron group, item type and branch, and why (CIR-1)."""
    services._require(request.auth, "circulation.checkout", branch_id=body.branch_id)
    e = selectors.explain(
        patron_group_id=body.patron_group_id,
        item_type_id=body.item_type_id,
        branch_id=body.branch_id,
    )
    return e.__dict__


@router.post("/holds", response={201: s.HoldOut, **ERRORS})
def place_hold(request, body: s.HoldIn):
    if body.record_id is None and not body.item_barcode:
        raise InvalidInput("Give record_id or item_barcode.", code="record_required")
    h = services.hold_place(
        actor=request.auth,
        patron_id=body.patron_id,
        record_id=body.record_id,
        pickup_branch_id=body.pickup_branch_id,
        item_barcode=body.item_barcode,
    )
    return 201, _hold(h)


def _hold(h) -> dict:
    return {
        "id": h.pk,
        "record_id": h.record_id,
        "status": h.status,
        "pickup_branch_id": h.pickup_branch_id,
        "queue_position": selectors.queue_position(h),
    }


@router.post("/holds/{hold_id}/cancel", response={200: s.HoldOut, **ERRORS})
def cancel_hold(request, hold_id: uuid.UUID):
    return _hold(services.hold_cancel(actor=request.auth, hold_id=hold_id))


@router.post("/fees/{fee_id}/pay", response={200: s.FeeTxOut, **ERRORS})
def pay_fee(request, fee_id: uuid.UUID, body: s.PaymentIn):
    tx = services.fee_pay(actor=request.auth, fee_id=fee_id, amount=body.amount_minor)
    return {
        "fee_id": fee_id,
        "kind": tx.kind,
        "amount_minor": tx.amount_minor,
        "balance_minor": services.fee_balance(fee_id),
    }


# --- the patron's own loans, holds, fees and reading history (/circulation/me/…) -----------
# Authentication: the patron's web session (patrons.portal); no patron id in any route.


def _me_router() -> Router:
    from quietshelf.patrons.portal.api import patron_auth

    return Router(tags=["my account"], auth=patron_auth)


me_router = _me_router()


def _me(request):
    from quietshelf.privacy.audit import Actor

    return Actor.patron(request.auth.pk), request.auth.pk


@me_router.get("/loans", response={200: list[s.MyLoanOut], **ERRORS})
def my_loans(request):
    actor, pid = _me(request)
    return [
        {
            "loan_id": loan.pk,
            "title": loan.item.record.title,
            "item_barcode": loan.item.barcode,
            "due_at": loan.due_at,
            "renewals": loan.renewals,
        }
        for loan in selectors.patron_loans(actor=actor, patron_id=pid)
    ]


@me_router.post("/loans/{loan_id}/renew", response={200: s.RenewOut, **ERRORS})
def my_renew(request, loan_id: uuid.UUID):
    actor, _pid = _me(request)
    r = services.renew(actor=actor, loan_id=loan_id)
    return {"loan_id": r.loan.pk, "due_at": r.due_at, "renewals_left": r.renewals_left}


@me_router.get("/holds", response={200: list[s.HoldOut], **ERRORS})
def my_holds(request):
    actor, pid = _me(request)
    return [
        {
            "id": h.pk,
            "record_id": h.record_id,
            "status": h.status,
            "pickup_branch_id": h.pickup_branch_id,
            "queue_position": pos,
        }
        for h, pos in selectors.patron_holds(actor=actor, patron_id=pid)
    ]


@me_router.post("/holds", response={201: s.HoldOut, **ERRORS})
def my_place_hold(request, body: s.MyHoldIn):
    actor, pid = _me(request)
    h = services.hold_place(
        actor=actor, patron_id=pid, record_id=body.record_id, pickup_branch_id=body.pickup_branch_id
    )
    return 201, _hold(h)


@me_router.post("/holds/{hold_id}/cancel", response={200: s.HoldOut, **ERRORS})
def my_cancel_hold(request, hold_id: uuid.UUID):
    actor, _pid = _me(request)
    return _hold(services.hold_cancel(actor=actor, hold_id=hold_id))


@me_router.get("/fees", response={200: list[s.MyFeeOut], **ERRORS})
def my_fees(request):
    actor, pid = _me(request)
    return [
        {
            "fee_id": line.fee.pk,
            "type": line.fee.type,
            "title": line.fee.record.title if line.fee.record else None,
            "balance_minor": line.balance_minor,
            "currency": line.fee.currency,
        }
        for line in selectors.patron_fees(actor=actor, patron_id=pid)
    ]


@me_router.get("/reading-history", response={200: list[s.HistoryOut], **ERRORS})
def my_history(request, format: str = "json"):  # noqa: A002 - the query parameter's name
    actor, pid = _me(request)
    rows = selectors.reading_history(actor=actor, patron_id=pid)
    if format == "csv":
        import csv
        import io

        from django.http import HttpResponse

        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["title", "borrowed", "returned"])
        for r in rows:
            w.writerow([r.get("title", ""), r.get("borrowed", ""), r.get("returned", "")])
        response = HttpResponse(buf.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="reading-history.csv"'
        response["Cache-Control"] = "no-store"
        return response
    return [
        {
            "record_id": r.get("record_id"),
            "title": r.get("title", ""),
            "borrowed": r.get("borrowed"),
            "returned": r.get("returned"),
        }
        for r in rows
    ]


@me_router.delete("/reading-history", response={200: dict, **ERRORS})
def my_history_delete(request):
    actor, pid = _me(request)
    return {"deleted": services.reading_history_delete(actor=actor, patron_id=pid)}
