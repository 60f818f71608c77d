"""The circulation API at /api/v1/circulation (self-check machines and integrations).

Staff token or staff session; permissions are checked in the services.
Errors have the standard shape {"error": {"code", "message"}}; a refusal is
409 with details.refusals (the codes) and details.overridable.
"""

from __future__ import annotations

import contextlib
import uuid

from ninja import Query, Router, Status

from quietshelf.circulation import policy, selectors, services
from quietshelf.circulation import schemas as s
from quietshelf.core.api_auth import staff_auth
from quietshelf.core.csvfile import csv_response
from quietshelf.core.errors import InvalidInput, NotFound

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
    return Status(
        201,
        {
            "loan_id": r.loan.pk,
            "item_barcode": r.item.barcode,
            "title": r.item.record.title,
            "due_at": r.due_at,
            "rule_id": r.rule_id,
            "rule_why": r.rule_why,
            "overridden": r.overridden,
            "hold_filled": r.hold_filled,
        },
    )


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
    selectors.require_permission(request.auth, "circulation.checkout", branch_id=body.branch_id)
    with _no_rule_is_404():
        e = selectors.explain(
            patron_group_id=body.patron_group_id,
            item_type_id=body.item_type_id,
            branch_id=body.branch_id,
        )
    return e.__dict__


@contextlib.contextmanager
def _no_rule_is_404():
    """Asking which rule applies to a cell no rule covers: that rule is not found (404)."""
    try:
        yield
    except policy.NoLoanRule as exc:
        raise NotFound(exc.message, code=exc.code, details=exc.details) from None


# --- loan rules and calendars (CIR-1): circulation.manage_rules, checked by the services ----

_RULE_NOT_NULL = (
    "loan_period",
    "period_unit",
    "renewals_allowed",
    "holds_allowed",
    "fine_per_day_minor",
    "grace_days",
    "fines_open_days_only",
    "lost_fee_policy",
    "lost_default_minor",
    "processing_fee_minor",
    "note",
)


def _rule_values(body: s.RuleFields) -> dict:
    """The fields the caller sent; null only where it means "no limit"."""
    values = body.model_dump(exclude_unset=True)
    for key in ("patron_group_id", "item_type_id", "branch_id"):
        values.pop(key, None)
    nulls = sorted(k for k in _RULE_NOT_NULL if k in values and values[k] is None)
    if nulls:
        raise InvalidInput(
            f"These fields cannot be null: {', '.join(nulls)}.",
            code="null_not_allowed",
            details={"fields": nulls},
        )
    return values


def _rule(rule) -> dict:
    return {name: getattr(rule, name) for name in s.RuleOut.model_fields}


@router.get("/rules", response={200: list[s.RuleOut], **ERRORS})
def rules_list(request):
    """The loan-rule matrix (CIR-1): one rule per cell, null dimensions are wildcards."""
    return [_rule(r) for r in selectors.rule_list(actor=request.auth)]


@router.post("/rules", response={201: s.RuleOut, **ERRORS})
def rule_create(request, body: s.RuleIn):
    """A rule for a new cell; a cell that has one already is 409 rule_exists (use PUT)."""
    rule = services.rule_create(
        actor=request.auth,
        patron_group_id=body.patron_group_id,
        item_type_id=body.item_type_id,
        branch_id=body.branch_id,
        **_rule_values(body),
    )
    return Status(201, _rule(rule))


_ID_OR_EMPTY = r"^\s*[0-9]{0,9}\s*$"  # an id, or empty for "any"


@router.get("/rules/explain", response={200: s.ExplainOut, **ERRORS})
def rules_explain(
    request,
    patron_group: str = Query("", pattern=_ID_OR_EMPTY),
    item_type: str = Query("", pattern=_ID_OR_EMPTY),
    branch: str = Query("", pattern=_ID_OR_EMPTY),
):
    """Which rule applies to a patron group, item type and branch, and why; empty is "any"."""
    ids = {}
    for name, raw in (
        ("patron_group_id", patron_group),
        ("item_type_id", item_type),
        ("branch_id", branch),
    ):
        raw = (raw or "").strip()
        if not raw:
            ids[name] = None
        elif raw.isdigit() and len(raw) < 10:
            ids[name] = int(raw)
        else:
            raise InvalidInput(
                f"{name.removesuffix('_id').replace('_', ' ')} must be a whole number.",
                code="invalid_id",
            )
    with _no_rule_is_404():
        return selectors.explain_for(actor=request.auth, **ids).__dict__


@router.put("/rules/{rule_id}", response={200: s.RuleOut, **ERRORS})
def rule_update(request, rule_id: int, body: s.RuleFields):
    """Change the fields given; the others keep their values. The cell cannot change."""
    values = _rule_values(body)
    rule = selectors.rule_by_id(actor=request.auth, rule_id=rule_id)
    if rule is None:
        raise NotFound("No such loan rule.", code="rule_not_found")
    rule = services.rule_save(
        actor=request.auth,
        patron_group_id=rule.patron_group_id,
        item_type_id=rule.item_type_id,
        branch_id=rule.branch_id,
        **values,
    )
    return _rule(rule)


def _calendar(view) -> dict:
    return {
        "branch_id": view.branch_id,
        "closed_weekdays": view.closed_weekdays,
        "opens": view.opens,
        "closes": view.closes,
        "closed_periods": [_period(p) for p in view.closed_periods],
    }


def _period(p) -> dict:
    return {"id": p.pk, "branch_id": p.branch_id, "first": p.first, "last": p.last, "note": p.note}


@router.get("/calendars/{branch_id}", response={200: s.CalendarOut, **ERRORS})
def calendar_get(request, branch_id: int):
    """Weekly closures, opening hours and closed periods from today on."""
    return _calendar(selectors.branch_calendar(actor=request.auth, branch_id=branch_id))


@router.put("/calendars/{branch_id}", response={200: s.CalendarOut, **ERRORS})
def calendar_put(request, branch_id: int, body: s.CalendarIn):
    """Replace the weekly closures and opening hours (closed periods stay)."""
    services.calendar_save(
        actor=request.auth,
        branch_id=branch_id,
        closed_weekdays=body.closed_weekdays,
        opens=body.opens,
        closes=body.closes,
    )
    return _calendar(selectors.branch_calendar(actor=request.auth, branch_id=branch_id))


@router.post("/calendars/{branch_id}/closed-periods", response={201: s.ClosedPeriodOut, **ERRORS})
def closed_period_post(request, branch_id: int, body: s.ClosedPeriodIn):
    """A closed day (no "last") or range of days (a holiday)."""
    p = services.closed_period_add(
        actor=request.auth, branch_id=branch_id, first=body.first, last=body.last, note=body.note
    )
    return Status(201, _period(p))


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
    return Status(201, _hold(h))


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
# Authentication: the patron's web session (patrons.auth); no patron id in any route.


def _me_router() -> Router:
    from quietshelf.patrons.auth import patron_auth

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
        for h, pos in selectors.patron_holds_positioned(actor=actor, patron_id=pid)
    ]


@me_router.post("/holds", response={201: s.HoldOut, **ERRORS})
def my_place_hold(request, body: s.MyHoldIn):
    actor, pid = _me(request)
    h = services.hold_place(
        actor=actor, patron_id=pid, record_id=body.record_id, pickup_branch_id=body.pickup_branch_id
    )
    return Status(201, _hold(h))


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
        response = csv_response(
            ["title", "borrowed", "returned"],
            [[r.get("title", ""), r.get("borrowed", ""), r.get("returned", "")] for r in rows],
            "reading-history.csv",
        )
        services.reading_history_exported(actor=actor, patron_id=pid, fmt="csv")
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
