"""The staff patron API, mounted at /api/v1/patrons.

Every route needs a staff token (or a staff session with its CSRF token).
Permissions and branch scope are checked in the services and selectors: a
token whose owner lacks the permission gets 403, a patron outside the
owner's branches 404 (and an audit entry for the denied attempt). Card
numbers and search terms travel in request bodies, never in URLs (SEC-URL-1).
"""

from __future__ import annotations

import datetime as dt
import uuid

from ninja import Router, Status

from quietshelf.core import clock
from quietshelf.core.api_auth import staff_auth
from quietshelf.core.errors import InvalidInput, NotFound
from quietshelf.patrons import loads, policy, selectors, services
from quietshelf.patrons import schemas as s

router = Router(tags=["patrons"], auth=staff_auth)

ERRORS = {
    400: s.ErrorOut,
    401: s.ErrorOut,
    403: s.ErrorOut,
    404: s.ErrorOut,
    409: s.ErrorOut,
    422: s.ErrorOut,
}


def _summary(patron) -> dict:
    card = patron.active_card
    return {
        "id": patron.pk,
        "name": str(patron.display_name),
        "group": patron.group.code if patron.group else None,
        "home_branch": patron.home_branch.code if patron.home_branch else None,
        "status": patron.status,
        "expiry_date": patron.expiry_date,
        "card": str(card.barcode) if card else None,
    }


def _detail(detail: selectors.PatronDetail) -> dict:
    p = detail.patron
    today = clock.today()
    dob = p.date_of_birth
    return {
        "id": p.pk,
        "given_name": p.given_name,
        "family_name": p.family_name,
        "group": p.group.code if p.group else None,
        "home_branch": p.home_branch.code if p.home_branch else None,
        "status": p.status,
        "expiry_date": p.expiry_date,
        "erase_after": p.erase_after,
        "preferred_language": p.preferred_language,
        "notification_channel": p.notification_channel,
        "date_of_birth": dob if isinstance(dob, dt.date) else None,
        "is_minor": detail.is_minor,
        "created_at": p.created_at,
        "cards": [
            {
                "id": c.pk,
                "barcode": str(c.barcode),
                "active": c.active,
                "issued_at": c.issued_at,
                "replaced_at": c.replaced_at,
            }
            for c in detail.cards
        ],
        "identifiers": [
            {"id": i.pk, "type": i.type, "value": str(i.value)} for i in detail.identifiers
        ],
        "contacts": [
            {
                "id": c.pk,
                "kind": c.kind,
                "label": c.label,
                "value": str(c.value),
                "preferred": c.preferred,
            }
            for c in detail.contacts
        ],
        "notes": [
            {
                "id": n.pk,
                "text": str(n.text),
                "created_at": n.created_at,
                "warning_confirmed": n.warning_confirmed,
            }
            for n in detail.notes
        ],
        "blocks": [_block(b, today) for b in detail.blocks],
        "effective_blocks": [
            {"code": e.code, "label": e.label, "automatic": e.automatic, "block_id": e.block_id}
            for e in detail.effective_blocks
        ],
    }


def _block(b, today) -> dict:
    return {
        "id": b.pk,
        "reason_code": b.reason_code,
        "comment": None if b.comment is None else str(b.comment),
        "expires_on": b.expires_on,
        "created_at": b.created_at,
        "lifted_at": b.lifted_at,
        "lift_reason": None if b.lift_reason is None else str(b.lift_reason),
        "in_force": policy.block_in_force(b, today),
    }


@router.post("/search", response={200: list[s.PatronSummary], **ERRORS})
def search(request, body: s.SearchIn):
    """Find patrons by card number, e-mail, identifier or name (terms in the body only)."""
    found = selectors.patron_search(
        actor=request.auth, query=body.query, kind=body.kind, limit=body.limit
    )
    return [_summary(p) for p in found]


@router.post("/loads", response={200: s.LoadOut, **ERRORS})
def load(request, body: s.LoadIn):
    """Patron load (INT-3): rows as JSON objects, with a saved mapping (`mapping_name`)
    or an inline one (`mapping`); `dry_run` checks without storing."""
    report = loads.run_load(
        actor=request.auth,
        stream=loads.rows_from_iterable(body.rows),
        fmt="json",
        mapping=loads.mapping_for_load(
            actor=request.auth, mapping_name=body.mapping_name, mapping=body.mapping
        ),
        dry_run=body.dry_run,
        keep_all=True,
    )
    return report.as_json()


@router.post("", response={201: s.PatronOut, **ERRORS})
def create(request, body: s.PatronIn):
    """Register a patron: a name and a card number or identifier are required."""
    data = body.dict()
    patron = services.patron_register(
        actor=request.auth,
        identifiers=[(i["type"], i["value"]) for i in data.pop("identifiers")],
        **data,
    )
    return Status(201, _detail(selectors.patron_detail(actor=request.auth, patron_id=patron.pk)))


@router.get("/{patron_id}", response={200: s.PatronOut, **ERRORS})
def get(request, patron_id: uuid.UUID):
    return _detail(selectors.patron_detail(actor=request.auth, patron_id=patron_id))


@router.patch("/{patron_id}", response={200: s.PatronOut, **ERRORS})
def update(request, patron_id: uuid.UUID, body: s.PatronPatch):
    """Change only the fields sent; "" for e-mail, phone or address removes it."""
    data = body.dict(exclude_unset=True)
    contact = {k: data.pop(k) or "" for k in ("email", "phone", "address") if k in data}
    for key in ("given_name", "family_name", "group", "home_branch"):
        if key in data and data[key] is None:
            data[key] = ""
    if data:
        services.patron_update(actor=request.auth, patron_id=patron_id, **data)
    if contact:
        services.patron_update_contact(actor=request.auth, patron_id=patron_id, **contact)
    if not data and not contact:
        raise InvalidInput("Nothing to change.")
    return _detail(selectors.patron_detail(actor=request.auth, patron_id=patron_id))


@router.post("/{patron_id}/cards", response={201: s.CardOut, **ERRORS})
def replace_card(request, patron_id: uuid.UUID, body: s.CardIn):
    """Issue a new card; the current one is retired for good (SEC-ID-1); 409 for a used number."""
    card = services.card_replace(actor=request.auth, patron_id=patron_id, barcode=body.barcode)
    return Status(
        201,
        {
            "id": card.pk,
            "barcode": str(card.barcode),
            "active": card.active,
            "issued_at": card.issued_at,
            "replaced_at": None,
        },
    )


@router.post("/{patron_id}/notes", response={201: s.NoteOut, **ERRORS})
def add_note(request, patron_id: uuid.UUID, body: s.NoteIn):
    """A staff note. One that looks like special-category data answers 409
    `note_needs_confirmation` until sent again with `confirmed: true` (PAT-2)."""
    note = services.note_add(
        actor=request.auth, patron_id=patron_id, text=body.text, confirmed=body.confirmed
    )
    return Status(
        201,
        {
            "id": note.pk,
            "text": str(note.text),
            "created_at": note.created_at,
            "warning_confirmed": note.warning_confirmed,
        },
    )


@router.get("/{patron_id}/blocks", response={200: list[s.BlockOut], **ERRORS})
def blocks(request, patron_id: uuid.UUID):
    """Every block with its history (lifted ones too)."""
    _patron, rows, _effective = selectors.patron_blocks(actor=request.auth, patron_id=patron_id)
    today = clock.today()
    return [_block(b, today) for b in rows]


@router.post("/{patron_id}/blocks", response={201: s.BlockOut, **ERRORS})
def add_block(request, patron_id: uuid.UUID, body: s.BlockIn):
    block = services.block_add(
        actor=request.auth,
        patron_id=patron_id,
        reason_code=body.reason_code,
        comment=body.comment,
        expires_on=body.expires_on,
    )
    return Status(201, _block(block, clock.today()))


@router.post("/{patron_id}/blocks/{block_id}/lift", response={200: s.BlockOut, **ERRORS})
def lift_block(request, patron_id: uuid.UUID, block_id: uuid.UUID, body: s.LiftIn):
    _patron, rows, _e = selectors.patron_blocks(actor=request.auth, patron_id=patron_id)
    if not any(b.pk == block_id for b in rows):
        raise NotFound("No such block.")
    block = services.block_lift(actor=request.auth, block_id=block_id, reason=body.reason)
    return _block(block, clock.today())


@router.post("/{patron_id}/overrides", response={201: dict, **ERRORS})
def override(request, patron_id: uuid.UUID, body: s.OverrideIn):
    """Set a block aside once, with a reason (an audit entry "overridden")."""
    o = services.block_override(
        actor=request.auth,
        patron_id=patron_id,
        reason=body.reason,
        block_id=body.block_id,
        code=body.code,
    )
    return Status(201, {"id": str(o.pk), "reason_code": o.reason_code})
