"""The privacy office API, mounted at /api/v1/privacy-office.

Staff token or staff session. Permissions and branch scope are checked in the
services and selectors (403 without the permission, 404 for a patron outside
the caller's branches, 409 for an erasure that an exception blocks or a
patron already erased). The canary is public to read.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from ninja import Router, Status

from quietshelf.core import clock
from quietshelf.core.api_auth import staff_auth
from quietshelf.core.errors import NotFound
from quietshelf.privacyoffice import policy, selectors, services
from quietshelf.privacyoffice import schemas as s

router = Router(tags=["privacy office"], auth=staff_auth)

ERRORS = {
    400: s.ErrorOut,
    401: s.ErrorOut,
    403: s.ErrorOut,
    404: s.ErrorOut,
    409: s.ErrorOut,
    422: s.ErrorOut,
}


def _exc(e: policy.ErasureException) -> dict:
    return {"code": e.code, "blocking": e.blocking, "message": e.message}


def _case(case, today=None) -> dict:
    today = today or clock.today()
    return {
        "id": case.pk,
        "kind": case.kind,
        "channel": case.channel,
        "status": case.status,
        "patron_id": case.patron_id,
        "received_on": case.received_on,
        "due_on": case.due_on,
        "urgency": policy.case_urgency(
            due_on=case.due_on, today=today, remind_days=settings.QUIETSHELF_REQUEST_REMIND_DAYS
        )
        if case.status == "open"
        else "ok",
        "identity_method": case.identity_method,
        "recipients_told": list(case.recipients_told or []),
    }


@router.get("/patrons/{patron_id}/erasure", response={200: s.ErasurePreviewOut, **ERRORS})
def erasure_preview(request, patron_id: uuid.UUID):
    """What erasing this patron would keep or wait for (PRV-DSR-4), blocking items first."""
    preview = selectors.erasure_preview(actor=request.auth, patron_id=patron_id)
    return {
        "patron_id": preview.patron_id,
        "blocked": preview.blocked,
        "exceptions": [_exc(e) for e in preview.exceptions],
        "recipients": preview.recipients,
    }


@router.post("/patrons/{patron_id}/erase", response={200: s.ErasureOut, **ERRORS})
def erase(request, patron_id: uuid.UUID, body: s.EraseIn):
    """Erase the patron; 409 with the reason while a loan is out or fees wait, or if erased."""
    result = services.patron_erasure_execute(
        actor=request.auth, patron_id=patron_id, reason=body.reason, case_id=body.case_id
    )
    return {
        "patron_id": result.patron_id,
        "case_id": result.case_id,
        "erased": True,
        "kept": [_exc(e) for e in result.kept],
        "recipients": result.recipients,
        "holds_cancelled": result.holds_cancelled,
    }


@router.get("/cases", response={200: list[s.CaseOut], **ERRORS})
def cases(request, status: str = "open"):
    """Cases by legal deadline; overdue ones are marked, never closed."""
    rows = selectors.case_rows(actor=request.auth, status="" if status == "all" else status)
    return [_case(r.case) for r in rows]


@router.post("/cases", response={201: s.CaseOut, **ERRORS})
def case_open(request, body: s.CaseIn):
    case = services.case_open(actor=request.auth, **body.dict())
    return Status(201, _case(case))


@router.get("/cases/{case_id}", response={200: s.CaseOut, **ERRORS})
def case_get(request, case_id: uuid.UUID):
    return _case(selectors.case_get(actor=request.auth, case_id=case_id))


@router.post("/cases/{case_id}/identity", response={200: s.CaseOut, **ERRORS})
def case_identity(request, case_id: uuid.UUID, body: s.IdentityIn):
    return _case(
        services.case_verify_identity(actor=request.auth, case_id=case_id, method=body.method)
    )


@router.post("/cases/{case_id}/close", response={200: s.CaseOut, **ERRORS})
def case_close(request, case_id: uuid.UUID, body: s.CloseIn):
    return _case(
        services.case_close(actor=request.auth, case_id=case_id, status=body.status, note=body.note)
    )


def _canary_out() -> dict:
    view = selectors.canary_current()
    if view.statement is None:
        raise NotFound("No warrant canary has been signed yet.", code="no_canary")
    st = view.statement
    return {
        "text": st.text,
        "signed_at": st.signed_at,
        "valid_until": st.valid_until,
        "stale": view.stale,
        "signature_valid": view.signature_ok,
        "signature_hex": st.signature,
        "public_key_hex": st.public_key,
        "public_key_pem": view.public_key_pem,
    }


@router.get("/canary", response={200: s.CanaryOut, 404: s.ErrorOut}, auth=None)
def canary(request):
    """The current warrant canary (public)."""
    return _canary_out()


@router.post("/canary", response={201: s.CanaryOut, **ERRORS})
def canary_sign(request, body: s.CanarySignIn):
    """Sign a new canary valid for 1 to 366 days."""
    services.canary_sign(actor=request.auth, valid_days=body.valid_days)
    return Status(201, _canary_out())


# --- government requests (PRV-GOV-1) ---------------------------------------------------


def _gov(req) -> dict:
    return {
        "id": req.pk,
        "kind": req.kind,
        "agency": req.agency,
        "status": req.status,
        "received_on": req.received_on,
        "checklist_complete": req.checklist_complete,
        "gag_until": req.gag_until,
        "gag_indefinite": req.gag_indefinite,
        "notify_due_on": req.notify_due_on,
        "patron_notified_on": req.patron_notified_on,
    }


@router.post("/government", response={201: s.GovRequestOut, **ERRORS})
def government_open(request, body: s.GovRequestIn):
    """Record a government or law-enforcement request as it arrived."""
    return Status(201, _gov(services.government_request_open(actor=request.auth, **body.dict())))


@router.get("/government/{request_id}", response={200: s.GovRequestOut, **ERRORS})
def government_get(request, request_id: uuid.UUID):
    return _gov(selectors.government_request_get(actor=request.auth, request_id=request_id))


@router.post("/government/{request_id}/checklist", response={200: s.GovRequestOut, **ERRORS})
def government_checklist(request, request_id: uuid.UUID, body: s.ChecklistIn):
    """The ALA checklist, each answer recorded."""
    req = services.government_checklist(actor=request.auth, request_id=request_id, **body.dict())
    return _gov(req)


@router.post("/government/{request_id}/release", response={200: list[s.DisclosureOut], **ERRORS})
def government_release(request, request_id: uuid.UUID, body: s.ReleaseIn):
    """Release (the authorised officer, with a second-factor code given now); 403 otherwise,
    and the refused attempt is audited."""
    entries = services.government_release(
        actor=request.auth, request_id=request_id, code=body.code, categories=body.categories
    )
    return [
        {"record_type": e.record_type, "record_id": e.record_id, "released_at": e.released_at}
        for e in entries
    ]


@router.get("/government/{request_id}/disclosures", response={200: list[s.DisclosureOut], **ERRORS})
def government_disclosures(request, request_id: uuid.UUID):
    """The disclosure log of one request: the exact records released (types and ids)."""
    entries = selectors.disclosure_log(actor=request.auth, request_id=request_id)
    return [
        {"record_type": e.record_type, "record_id": e.record_id, "released_at": e.released_at}
        for e in entries
    ]


# --- breach incidents (PRV-BRE-1) ------------------------------------------------------------


def _breach(view) -> dict:
    i = view.incident
    return {
        "id": i.pk,
        "title": i.title,
        "status": i.status,
        "discovered_at": i.discovered_at,
        "deadline": view.deadline,
        "hours_left": view.hours_left,
        "authority_notified_at": i.authority_notified_at,
        "affected": view.affected,
        "notice_reviewed": i.notice_reviewed_at is not None,
        "notices_queued": i.notices_queued,
    }


@router.post("/breaches", response={201: s.BreachOut, **ERRORS})
def breach_record(request, body: s.BreachIn):
    """Record an incident with its scope; the answer carries the affected count and clock."""
    incident = services.breach_record(actor=request.auth, **body.dict())
    return Status(201, _breach(selectors.breach_get(actor=request.auth, incident_id=incident.pk)))


@router.get("/breaches/{incident_id}", response={200: s.BreachOut, **ERRORS})
def breach_get(request, incident_id: uuid.UUID):
    return _breach(selectors.breach_get(actor=request.auth, incident_id=incident_id))


@router.post("/breaches/{incident_id}/notice", response={200: s.BreachOut, **ERRORS})
def breach_notice(request, incident_id: uuid.UUID, body: s.BreachNoticeIn):
    services.breach_review_notice(actor=request.auth, incident_id=incident_id, **body.dict())
    return _breach(selectors.breach_get(actor=request.auth, incident_id=incident_id))


@router.post("/breaches/{incident_id}/send", response={200: s.BreachSendOut, **ERRORS})
def breach_send(request, incident_id: uuid.UUID):
    """Queue the approved notice for every affected patron; "0 patrons" sends nothing."""
    result = services.breach_send_notices(actor=request.auth, incident_id=incident_id)
    message = (
        f"{result.queued} notices queued for {result.affected} affected patrons."
        if result.affected
        else "0 patrons: the scope matches nobody, nothing sent."
    )
    return {"affected": result.affected, "queued": result.queued, "message": message}


# --- restriction and objection (PRV-DSR-5, CAT-3) ----------------------------------------------


def _restriction(r) -> dict:
    return {"patron_id": r.patron_id, "restricted": r.lifted_at is None, "lift_on": r.lift_on}


@router.post("/patrons/{patron_id}/restriction", response={200: s.RestrictionOut, **ERRORS})
def restrict(request, patron_id: uuid.UUID):
    """Restrict the use of the patron's data (kept, not used)."""
    return _restriction(services.restriction_apply(actor=request.auth, patron_id=patron_id))


@router.post(
    "/patrons/{patron_id}/restriction/announce-lift", response={200: s.RestrictionOut, **ERRORS}
)
def restriction_announce(request, patron_id: uuid.UUID, body: s.RestrictionLiftIn):
    """Tell the patron (a privacy notice) the day the restriction ends."""
    r = services.restriction_announce_lift(
        actor=request.auth, patron_id=patron_id, lift_on=body.lift_on
    )
    return _restriction(r)


@router.post("/patrons/{patron_id}/restriction/lift", response={200: s.RestrictionOut, **ERRORS})
def restriction_lift(request, patron_id: uuid.UUID):
    """Lift it; 400 until the patron was told and the announced day has come."""
    return _restriction(services.restriction_lift(actor=request.auth, patron_id=patron_id))


@router.post("/objections", response={201: s.CaseOut, **ERRORS})
def objection(request, body: s.ObjectionIn):
    """Record an objection with the processing it objects to (authors too: CAT-3)."""
    return Status(201, _case(services.objection_record(actor=request.auth, **body.dict())))


# --- minors (PRV-MNR-1) --------------------------------------------------------------------------


@router.post("/patrons/{minor_id}/guardian-consent", response={200: s.PatronStatusOut, **ERRORS})
def guardian_consent(request, minor_id: uuid.UUID, body: s.GuardianConsentIn):
    """Record a guardian's consent to a minor's registration; the account becomes active."""
    minor = services.guardian_consent(
        actor=request.auth, minor_id=minor_id, guardian_id=body.guardian_id
    )
    return {"patron_id": minor.pk, "status": minor.status}


@router.post("/guardian-requests", response={201: s.CaseOut, **ERRORS})
def guardian_request(request, body: s.GuardianRequestIn):
    """A guardian's request about a minor's record; 403 when the guardian rule says no."""
    return Status(201, _case(services.guardian_request_open(actor=request.auth, **body.dict())))
