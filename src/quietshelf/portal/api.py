"""The patron's own record through the API: GET /api/v1/me (and /me/data).

Authentication is the patron's web session (the cookie set at
/account/sign-in/); without one the answer is 401. There is no patron id in
any route: a patron can only ever reach their own record. Read-only, so no
CSRF token is needed.
"""

from __future__ import annotations

import datetime as dt

from ninja import Router, Schema

from quietshelf.core.schemas import ErrorDetail, ErrorOut  # noqa: F401  (one error shape)
from quietshelf.patrons import mydata
from quietshelf.patrons.auth import patron_auth
from quietshelf.portal import selectors

router = Router(tags=["my account"])


class MyCardOut(Schema):
    barcode: str
    active: bool


class MyContactOut(Schema):
    kind: str
    label: str
    value: str
    preferred: bool


class ConsentOut(Schema):
    scope: str
    description: str
    given: bool


class MeOut(Schema):
    id: str
    given_name: str | None
    family_name: str | None
    status: str
    expiry_date: dt.date | None
    preferred_language: str
    notification_channel: str
    cards: list[MyCardOut]
    contacts: list[MyContactOut]
    consents: list[ConsentOut]


def _text(value) -> str | None:
    return None if value is None else str(value)


@router.get("/me", response={200: MeOut, 401: ErrorOut}, auth=patron_auth)
def me(request):
    """The signed-in patron's own record."""
    patron = request.auth
    return {
        "id": str(patron.pk),
        "given_name": _text(patron.given_name),
        "family_name": _text(patron.family_name),
        "status": patron.status,
        "expiry_date": patron.expiry_date,
        "preferred_language": patron.preferred_language,
        "notification_channel": patron.notification_channel,
        "cards": [
            {"barcode": str(c.barcode), "active": c.active}
            for c in selectors.own_cards(patron=patron)
        ],
        "contacts": [
            {"kind": c.kind, "label": c.label, "value": str(c.value), "preferred": c.preferred}
            for c in selectors.own_contacts(patron=patron)
        ],
        "consents": [
            {"scope": c["scope"], "description": c["description"], "given": c["given"]}
            for c in selectors.consents(patron=patron)
        ],
    }


@router.get("/me/data", response={200: dict, 401: ErrorOut}, auth=patron_auth)
def me_data(request):
    """Everything held about the signed-in patron, generated from the data inventory."""
    patron = request.auth
    held = mydata.everything_held(patron=patron, session_key=request.session.session_key)
    return mydata.as_json(patron=patron, held=held)
