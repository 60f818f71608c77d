"""State changes of the privacy office: erasure, request cases, the warrant canary.

Every function is one durable transaction with its audit entry. Erasure goes
through the kernel by way of `patrons.services.patron_erase` (cards retired,
rows deleted, the data key shredded); this module decides whether it may
happen and records the case around it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from quietshelf.accounts import authz
from quietshelf.accounts import services as account_services
from quietshelf.circulation import services as circulation_services
from quietshelf.circulation.models import OPEN_HOLD, Hold
from quietshelf.core import clock
from quietshelf.core.dates import parse_date as _date
from quietshelf.core.errors import Conflict, InvalidInput, PermissionDenied
from quietshelf.patrons import policy as patron_policy
from quietshelf.patrons import services as patron_services
from quietshelf.patrons.access import audited_denials, check_patron, is_trusted
from quietshelf.patrons.models import Patron
from quietshelf.privacy import audit
from quietshelf.privacy.audit import Actor
from quietshelf.privacyoffice import canary, policy, selectors
from quietshelf.privacyoffice.errors import (
    AlreadyRequested,
    CaseClosed,
    CaseNotFound,
    ErasureRefused,
)
from quietshelf.privacyoffice.models import (
    BreachIncident,
    CanaryStatement,
    CaseChannel,
    CaseKind,
    CaseStatus,
    DisclosureEntry,
    GovernmentRequest,
    GovernmentRequestKind,
    GovernmentRequestStatus,
    IdentityMethod,
    ObjectedProcessing,
    ProcessingRestriction,
    RequestCase,
)

MAX_TEXT = 4000


def _staff(actor):
    return actor if getattr(actor, "is_authenticated", False) and hasattr(actor, "pk") else None


def _text(value, label: str) -> str:
    value = (value or "").strip()
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"The {label} has at most {MAX_TEXT} characters.", code="too_long")
    return value


def _choice(value, choices, label: str) -> str:
    if value not in choices.values:
        raise InvalidInput(f"Choose a {label}.", code=f"invalid_{label.replace(' ', '_')}")
    return value


def _due(received_on: dt.date) -> dt.date:
    return policy.case_due_on(received_on, deadline_days=settings.QUIETSHELF_REQUEST_DEADLINE_DAYS)


# --- erasure (PRV-DSR-4) --------------------------------------------------------------


@dataclass
class ErasureResult:
    patron_id: uuid.UUID
    case_id: uuid.UUID
    kept: list[policy.ErasureException] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    holds_cancelled: int = 0


@audited_denials
def patron_erasure_execute(*, actor, patron_id, reason: str, case_id=None) -> ErasureResult:
    """Erase a patron after checking the exceptions; refused (409) while one blocks.

    Open holds are cancelled first. A case records the erasure (the one given,
    or a new staff-action case) with the recipients to be told; the case keeps
    no personal value that outlives the patron's key.
    """
    if reason not in policy.ERASURE_REASONS:
        raise InvalidInput(
            "Choose a reason: " + ", ".join(policy.ERASURE_REASONS) + ".", code="invalid_reason"
        )
    pid = selectors.parse_id(patron_id)
    with transaction.atomic(durable=True):
        patron = Patron.objects.select_for_update().filter(pk=pid).first()
        if patron is None:
            raise selectors.missing_patron_error(pid)
        check_patron(actor, patron, "patrons.delete_patron")
        case = None
        if case_id:
            case = _locked_case(case_id)
            if case.kind != CaseKind.ERASURE or case.patron_id != patron.pk:
                raise InvalidInput(
                    "That case is not an erasure request from this patron.", code="wrong_case"
                )
            if case.status != CaseStatus.OPEN:
                raise CaseClosed("That case is already closed.")
        exceptions = selectors.erasure_exceptions_for(patron)
        blocking = [e for e in exceptions if e.blocking]
        if blocking:
            raise ErasureRefused(
                "Erasure refused: " + " ".join(e.message for e in blocking),
                details={"exceptions": [e.code for e in blocking]},
            )
        holds = list(
            Hold.objects.filter(patron_id=patron.pk, status__in=OPEN_HOLD).values_list(
                "pk", flat=True
            )
        )
        for hold_id in holds:
            circulation_services.hold_cancel_in_transaction(actor=None, hold_id=hold_id)
        told = selectors.recipients()
        now = timezone.now()
        if case is None:
            case = RequestCase.objects.create(
                subject_id=patron.subject_id,
                patron=patron,
                kind=CaseKind.ERASURE,
                channel=CaseChannel.STAFF,
                received_on=clock.today(),
                due_on=_due(clock.today()),
            )
        case.status = CaseStatus.DONE
        case.closed_at = now
        case.closed_by = _staff(actor)
        case.recipients_told = told
        case.save(update_fields=["status", "closed_at", "closed_by", "recipients_told"])
        audit.record(actor=actor, action="case_closed", obj=case, reason=f"erasure:{reason}")
        patron_services.patron_erase_in_transaction(actor=actor, patron_id=pid, reason=reason)
    return ErasureResult(
        patron_id=pid,
        case_id=case.pk,
        kept=[e for e in exceptions if not e.blocking],
        recipients=told,
        holds_cancelled=len(holds),
    )


def erasure_request_by_patron(*, patron_id, details: str = "") -> RequestCase:
    """The patron asks in My account (signed in, password given again by the caller)."""
    pid = selectors.parse_id(patron_id)
    with transaction.atomic(durable=True):
        patron = Patron.objects.select_for_update().filter(pk=pid).first()
        if patron is None:
            raise selectors.missing_patron_error(pid)
        if selectors.own_open_case(patron_id=pid, kind=CaseKind.ERASURE) is not None:
            raise AlreadyRequested(
                "You have already asked for your account to be erased; the library is handling it."
            )
        today = clock.today()
        case = RequestCase.objects.create(
            subject_id=patron.subject_id,
            patron=patron,
            kind=CaseKind.ERASURE,
            channel=CaseChannel.SELF_SERVICE,
            details=_text(details, "message") or None,
            received_on=today,
            due_on=_due(today),
            identity_method=IdentityMethod.SIGNED_IN,
            identity_checked_at=timezone.now(),
        )
        audit.record(actor=Actor.patron(pid), action="case_opened", obj=case, reason="erasure")
    return case


# --- request cases (PRV-DSR-3, PRV-DSR-6) ------------------------------------------------


def _locked_case(case_id) -> RequestCase:
    cid = selectors.parse_id(case_id, CaseNotFound, "No such case.")
    case = RequestCase.objects.select_for_update().filter(pk=cid).first()
    if case is None:
        raise CaseNotFound("No such case.")
    return case


@audited_denials
def case_open(
    *,
    actor,
    kind: str,
    channel: str,
    patron_id=None,
    details: str = "",
    received_on=None,
) -> RequestCase:
    """A request made outside self-service (letter, e-mail, desk), or a correction request.

    The deadline runs from the day it was received (QUIETSHELF_REQUEST_DEADLINE_DAYS).
    """
    selectors.require_cases(actor)
    kind = _choice(kind, CaseKind, "request kind")
    channel = _choice(channel, CaseChannel, "channel")
    received = _date(received_on, "date received") or clock.today()
    if received > clock.today():
        raise InvalidInput("A request cannot arrive in the future.", code="invalid_date")
    details = _text(details, "description")
    with transaction.atomic(durable=True):
        patron = None
        if patron_id:
            pid = selectors.parse_id(patron_id)
            patron = Patron.objects.filter(pk=pid).first()
            if patron is None:
                raise selectors.missing_patron_error(pid)
            check_patron(actor, patron, "patrons.view_patron")
        case = RequestCase.objects.create(
            subject_id=patron.subject_id if patron else None,
            patron=patron,
            kind=kind,
            channel=channel,
            details=details or None,
            received_on=received,
            due_on=_due(received),
        )
        audit.record(actor=actor, action="case_opened", obj=case, reason=kind)
    return case


def rectification_request_by_patron(*, patron_id, details: str) -> RequestCase:
    """PRV-DSR-3: anything but contact data is corrected by staff, on a case."""
    pid = selectors.parse_id(patron_id)
    details = _text(details, "description")
    if not details:
        raise InvalidInput("Say what is wrong and what it should be.", code="details_required")
    with transaction.atomic(durable=True):
        patron = Patron.objects.filter(pk=pid).first()
        if patron is None:
            raise selectors.missing_patron_error(pid)
        today = clock.today()
        case = RequestCase.objects.create(
            subject_id=patron.subject_id,
            patron=patron,
            kind=CaseKind.RECTIFICATION,
            channel=CaseChannel.SELF_SERVICE,
            details=details,
            received_on=today,
            due_on=_due(today),
            identity_method=IdentityMethod.SIGNED_IN,
            identity_checked_at=timezone.now(),
        )
        audit.record(
            actor=Actor.patron(pid), action="case_opened", obj=case, reason="rectification"
        )
    return case


def case_verify_identity(*, actor, case_id, method: str) -> RequestCase:
    """Record how identity was checked and by whom; never the document itself."""
    selectors.require_cases(actor)
    method = _choice(method, IdentityMethod, "identity check")
    with transaction.atomic(durable=True):
        case = _locked_case(case_id)
        if case.status != CaseStatus.OPEN:
            raise CaseClosed("That case is already closed.")
        case.identity_method = method
        case.identity_checked_by = _staff(actor)
        case.identity_checked_at = timezone.now()
        case.save(update_fields=["identity_method", "identity_checked_by", "identity_checked_at"])
        audit.record(actor=actor, action="identity_checked", obj=case, reason=method)
    return case


CLOSING = (CaseStatus.DONE, CaseStatus.REFUSED, CaseStatus.WITHDRAWN)


def case_close(*, actor, case_id, status: str, note: str = "") -> RequestCase:
    """Answer a case (done, refused, withdrawn) with an outcome note.

    An erasure case is closed as done only by the erasure itself. A correction
    marked done lists the recipients in the processor register to be told.
    """
    selectors.require_cases(actor)
    if status not in CLOSING:
        raise InvalidInput("Choose done, refused or withdrawn.", code="invalid_status")
    note = _text(note, "outcome")
    with transaction.atomic(durable=True):
        case = _locked_case(case_id)
        if case.status != CaseStatus.OPEN:
            raise CaseClosed("That case is already closed.")
        if case.kind == CaseKind.ERASURE and status == CaseStatus.DONE:
            raise InvalidInput(
                "An erasure request is done when the account is erased: use Erase.",
                code="use_erase",
            )
        if status == CaseStatus.REFUSED and not note:
            raise InvalidInput("Say why the request is refused.", code="note_required")
        case.status = status
        case.closed_at = timezone.now()
        case.closed_by = _staff(actor)
        fields = ["status", "closed_at", "closed_by"]
        if note and case.subject_id is not None:
            case.outcome_note = note
            fields.append("outcome_note")
        if status == CaseStatus.DONE and case.kind == CaseKind.RECTIFICATION:
            case.recipients_told = selectors.recipients()
            fields.append("recipients_told")
        case.save(update_fields=fields)
        audit.record(actor=actor, action="case_closed", obj=case, reason=f"{case.kind}:{status}")
    return case


def case_reminders(*, today: dt.date | None = None) -> int:
    """The daily job: mark open cases due soon or overdue as reminded (an audit entry each).

    Overdue cases stay open and on the dashboard: nothing here closes a case.
    """
    today = today or clock.today()
    count = 0
    with transaction.atomic(durable=True):
        for case in RequestCase.objects.select_for_update().filter(status=CaseStatus.OPEN):
            if policy.remind_today(
                due_on=case.due_on,
                today=today,
                remind_days=settings.QUIETSHELF_REQUEST_REMIND_DAYS,
                last_reminded_on=case.last_reminded_on,
            ):
                case.last_reminded_on = today
                case.save(update_fields=["last_reminded_on"])
                urgency = policy.case_urgency(
                    due_on=case.due_on,
                    today=today,
                    remind_days=settings.QUIETSHELF_REQUEST_REMIND_DAYS,
                )
                audit.record(actor=None, action="case_reminder", obj=case, reason=urgency)
                count += 1
        if count:
            transaction.on_commit(lambda: _mail_reminder(count))
    return count


def _mail_reminder(count: int) -> None:
    """Tell the privacy contact how many requests need attention: a count and a link only."""
    import logging

    from django.core.mail import send_mail

    contact = settings.QUIETSHELF_CONTROLLER.get("contact", "")
    if "@" not in contact:
        return
    try:
        send_mail(
            "Privacy requests near or past their deadline",
            f"{count} request(s) to data subjects are due soon or overdue.\n"
            f"See {settings.QUIETSHELF_SITE_URL}/staff/privacy-office/\n",
            settings.DEFAULT_FROM_EMAIL,
            [contact],
        )
    except OSError as exc:  # the dashboard still shows them; the next run mails again
        logging.getLogger("quietshelf.privacyoffice").warning(
            "privacy request reminder not sent: %s", type(exc).__name__
        )


# --- the warrant canary (PRV-GOV-2) -----------------------------------------------------


def canary_sign(*, actor, valid_days, today: dt.date | None = None) -> CanaryStatement:
    """Sign a new dated statement valid for 1..366 days with the canary key."""
    if not is_trusted(actor):
        authz.require(actor, "privacyoffice.manage_canary")
    problem = policy.canary_validity_error(valid_days)
    if problem:
        raise InvalidInput(problem, code="invalid_validity")
    today = today or clock.today()
    if selectors.gag_order_in_force(today=today):
        # The point of a canary: it is not renewed while a secret order stands.
        raise Conflict(
            "A request under a gag order stands: the canary must not be renewed.",
            code="gag_order_in_force",
        )
    valid_until = today + dt.timedelta(days=int(valid_days))
    text = policy.canary_text(
        controller=settings.QUIETSHELF_CONTROLLER["name"], signed_on=today, valid_until=valid_until
    )
    signature, public = canary.sign(text)
    with transaction.atomic(durable=True):
        statement = CanaryStatement.objects.create(
            text=text,
            signed_at=timezone.now(),
            valid_until=valid_until,
            signature=signature,
            public_key=public,
            signed_by=_staff(actor),
        )
        audit.record(actor=actor, action="canary_signed", obj=statement)
    return statement


# --- government and law-enforcement requests (PRV-GOV-1) --------------------------------------

RELEASE = "privacyoffice.release_records"
RELEASE_CATEGORIES = ("account", "loans", "holds", "fees")


def _locked_gov(request_id) -> GovernmentRequest:
    rid = selectors.parse_id(request_id, CaseNotFound, "No such request.")
    req = GovernmentRequest.objects.select_for_update().filter(pk=rid).first()
    if req is None:
        raise CaseNotFound("No such request.")
    return req


@audited_denials
def government_request_open(
    *,
    actor,
    kind: str,
    agency: str,
    received_on=None,
    agency_reference: str = "",
    patron_id=None,
    scope: str = "",
    gag_until=None,
    gag_indefinite: bool = False,
) -> GovernmentRequest:
    """Record a request as it arrived; nothing is released by recording it."""
    selectors.require_cases(actor)
    kind = _choice(kind, GovernmentRequestKind, "kind of order")
    agency = " ".join((agency or "").split())
    if not agency or len(agency) > 200:
        raise InvalidInput("Name the requesting authority.", code="agency_required")
    received = _date(received_on, "date received") or clock.today()
    if received > clock.today():
        raise InvalidInput("A request cannot arrive in the future.", code="invalid_date")
    gag = _date(gag_until, "end of the gag order")
    with transaction.atomic(durable=True):
        patron = None
        if patron_id:
            pid = selectors.parse_id(patron_id)
            patron = Patron.objects.filter(pk=pid).first()
            if patron is None:
                raise selectors.missing_patron_error(pid)
            check_patron(actor, patron, "patrons.view_patron")
        req = GovernmentRequest.objects.create(
            subject_id=patron.subject_id if patron else None,
            patron=patron,
            kind=kind,
            agency=agency,
            agency_reference=(agency_reference or "").strip()[:100],
            received_on=received,
            scope=_text(scope, "scope") or None,
            gag_until=gag,
            gag_indefinite=bool(gag_indefinite),
        )
        audit.record(actor=actor, action="gov_request_recorded", obj=req, reason=kind)
    return req


def government_checklist(
    *,
    actor,
    request_id,
    court_competent: bool,
    good_cause: bool,
    proper_form: bool,
    scope_limited: bool,
) -> GovernmentRequest:
    """Record the ALA checklist: court of competent jurisdiction, good cause, proper form,
    scope no wider than the order."""
    selectors.require_cases(actor)
    with transaction.atomic(durable=True):
        req = _locked_gov(request_id)
        if req.status != GovernmentRequestStatus.RECEIVED:
            raise CaseClosed("That request is already decided.")
        req.court_competent = bool(court_competent)
        req.good_cause = bool(good_cause)
        req.proper_form = bool(proper_form)
        req.scope_limited = bool(scope_limited)
        req.checklist_by = _staff(actor)
        req.checklist_at = timezone.now()
        req.save()
        audit.record(
            actor=actor,
            action="gov_checklist",
            obj=req,
            reason="complete" if req.checklist_complete else "incomplete",
        )
    return req


def _records_in_scope(patron_id, categories) -> list[tuple[str, str]]:
    from quietshelf.circulation.models import Fee, Loan
    from quietshelf.patrons.models import Card, ContactPoint, PatronIdentifier

    rows: list[tuple[str, str]] = []
    if "account" in categories:
        rows.append(("patrons.patron", str(patron_id)))
        for model in (Card, ContactPoint, PatronIdentifier):
            label = model._meta.label_lower
            rows += [
                (label, str(pk))
                for pk in model.objects.filter(patron_id=patron_id).values_list("pk", flat=True)
            ]
    if "loans" in categories:
        ids = Loan.objects.filter(patron_id=patron_id, returned_at__isnull=True)
        rows += [("circulation.loan", str(pk)) for pk in ids.values_list("pk", flat=True)]
    if "holds" in categories:
        ids = Hold.objects.filter(patron_id=patron_id, status__in=OPEN_HOLD)
        rows += [("circulation.hold", str(pk)) for pk in ids.values_list("pk", flat=True)]
    if "fees" in categories:
        ids = Fee.objects.filter(patron_id=patron_id)
        rows += [("circulation.fee", str(pk)) for pk in ids.values_list("pk", flat=True)]
    return rows


class ReleaseRefused(PermissionDenied):
    code = "release_refused"


def government_release(
    *, actor, request_id, code: str, categories: list[str] | tuple[str, ...]
) -> list[DisclosureEntry]:
    """Release the records in scope: the authorised officer only, with a fresh second factor.

    A refusal (no role, no fresh second factor) is audited and committed before
    the error is raised, so the attempt stays on record.
    """
    categories = [c for c in categories or () if c]
    unknown = set(categories) - set(RELEASE_CATEGORIES)
    if not categories or unknown:
        raise InvalidInput(
            "Choose what to release: " + ", ".join(RELEASE_CATEGORIES) + ".",
            code="invalid_categories",
        )
    staff = _staff(actor)
    refused = ""
    with transaction.atomic(durable=True):
        req = _locked_gov(request_id)
        if staff is None or not authz.has_perm(staff, RELEASE):
            refused = "no_authorised_officer_role"
        elif not account_services.second_factor_verify_in_transaction(user=staff, token=code or ""):
            refused = "no_fresh_second_factor"
        if refused:
            audit.record(actor=actor, action="gov_release_refused", obj=req, reason=refused)
        else:
            if req.status != GovernmentRequestStatus.RECEIVED:
                raise CaseClosed("That request is already decided.")
            if not req.checklist_complete:
                raise InvalidInput(
                    "The checklist is not complete: records are released only for an order "
                    "from a court of competent jurisdiction, showing good cause, in proper "
                    "form and no wider than the order.",
                    code="checklist_incomplete",
                )
            if req.patron_id is None:
                raise InvalidInput("The request names no patron.", code="no_patron")
            now = timezone.now()
            entries = DisclosureEntry.objects.bulk_create(
                [
                    DisclosureEntry(
                        request=req,
                        record_type=t,
                        record_id=i,
                        released_at=now,
                        released_by=staff,
                    )
                    for t, i in _records_in_scope(req.patron_id, categories)
                ]
            )
            req.status = GovernmentRequestStatus.RELEASED
            req.decided_at = now
            req.decided_by = staff
            req.notify_due_on = policy.notify_due_on(
                today=clock.today(), gag_until=req.gag_until, gag_indefinite=req.gag_indefinite
            )
            req.save()
            audit.record(actor=actor, action="disclosed", obj=req, reason=",".join(categories))
            audit.record(
                actor=actor,
                action="disclosed",
                object_type="patrons.patron",
                object_id=req.patron_id,
                reason="government request",
            )
    if refused:
        raise ReleaseRefused(
            "Only the authorised officer may release records, and only after giving a "
            "second-factor code now."
            if refused == "no_authorised_officer_role"
            else "The second-factor code is not right: give a fresh code from your authenticator.",
            details={"refused": refused},
        )
    return entries


def government_refuse(*, actor, request_id, note: str = "") -> GovernmentRequest:
    """Decline to release (for example: no court order)."""
    selectors.require_cases(actor)
    with transaction.atomic(durable=True):
        req = _locked_gov(request_id)
        if req.status != GovernmentRequestStatus.RECEIVED:
            raise CaseClosed("That request is already decided.")
        req.status = GovernmentRequestStatus.REFUSED
        req.decided_at = timezone.now()
        req.decided_by = _staff(actor)
        req.save()
        audit.record(actor=actor, action="gov_request_refused", obj=req)
    return req


def government_patron_notified(*, actor, request_id) -> GovernmentRequest:
    """Tell the patron of the release (a privacy notice through the outbox) and record it;
    refused while a gag order runs."""
    from quietshelf.notices import services as notice_services

    selectors.require_cases(actor)
    with transaction.atomic(durable=True):
        req = _locked_gov(request_id)
        if req.notify_due_on is None or req.notify_due_on > clock.today():
            raise InvalidInput(
                "An order still forbids telling the patron.", code="gag_order_in_force"
            )
        if req.patron_notified_on is not None:
            raise CaseClosed("The patron was already told.")
        if req.patron_id is not None:
            decided = req.decided_at.date().isoformat() if req.decided_at else ""
            notice_services.queue_privacy_notices(
                patron_ids=[req.patron_id],
                key=f"disclosure:{req.pk}",
                headline="The library gave information about you to an authority",
                message=(
                    f"On {decided} the library released information about your account to "
                    f"{req.agency}, as a {req.get_kind_display().lower()} required. The "
                    "library's privacy contact can tell you what was released and why."
                ),
            )
        req.patron_notified_on = clock.today()
        req.save(update_fields=["patron_notified_on"])
        audit.record(actor=actor, action="gov_patron_notified", obj=req)
    return req


def government_notice_reminders(*, today: dt.date | None = None) -> int:
    """Daily: released requests whose patron may now be told (the gag order ended today or
    earlier) and has not been: one audit entry each, and a count mailed to the privacy contact."""
    today = today or clock.today()
    due = list(
        GovernmentRequest.objects.filter(
            status=GovernmentRequestStatus.RELEASED,
            notify_due_on__lte=today,
            patron_notified_on__isnull=True,
        ).values_list("pk", flat=True)
    )
    with transaction.atomic(durable=True):
        for pk in due:
            audit.record(
                actor=None,
                action="gov_notice_due",
                object_type="privacyoffice.governmentrequest",
                object_id=pk,
            )
        if due:
            transaction.on_commit(lambda: _mail_reminder(len(due)))
    return len(due)


# --- breach incidents (PRV-BRE-1) ------------------------------------------------------------


def _aware(value, label: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value or ""))
        except ValueError:
            raise InvalidInput(
                f"The {label} must be a date and time (YYYY-MM-DDTHH:MM).", code="invalid_date"
            ) from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def breach_record(
    *,
    actor,
    title: str,
    what_happened: str,
    discovered_at,
    window_start,
    window_end,
    data_categories: list[str] | tuple[str, ...] = (),
    branch_ids: list[int] | tuple[int, ...] = (),
    systems: list[str] | tuple[str, ...] = (),
) -> BreachIncident:
    """Record an incident with its scope; the 72-hour clock starts at discovery."""
    from quietshelf.catalog.models import Branch
    from quietshelf.privacy.inventory import DATA_CATEGORIES

    selectors.require_breaches(actor)
    title = " ".join((title or "").split())
    if not title or len(title) > 200:
        raise InvalidInput("Give the incident a short name.", code="title_required")
    what = _text(what_happened, "description")
    if not what:
        raise InvalidInput("Say what happened.", code="description_required")
    categories = sorted(set(data_categories or ()))
    unknown = set(categories) - set(DATA_CATEGORIES)
    if not categories or unknown:
        raise InvalidInput(
            "Choose the data categories involved: " + ", ".join(DATA_CATEGORIES) + ".",
            code="invalid_categories",
        )
    discovered = _aware(discovered_at, "time of discovery")
    start, end = _aware(window_start, "start"), _aware(window_end, "end")
    if end < start:
        raise InvalidInput("The time window ends before it starts.", code="invalid_window")
    if discovered > timezone.now() + dt.timedelta(minutes=5):
        raise InvalidInput("An incident cannot be discovered in the future.", code="invalid_date")
    branches = list(Branch.objects.filter(pk__in=[int(b) for b in branch_ids or ()]))
    if len(branches) != len(set(branch_ids or ())):
        raise InvalidInput("Unknown branch in the scope.", code="invalid_branch")
    with transaction.atomic(durable=True):
        incident = BreachIncident.objects.create(
            title=title,
            what_happened=what,
            discovered_at=discovered,
            data_categories=categories,
            systems=[str(s).strip()[:100] for s in systems or () if str(s).strip()],
            window_start=start,
            window_end=end,
            recorded_by=_staff(actor),
        )
        incident.branches.set(branches)
        audit.record(actor=actor, action="breach_recorded", obj=incident)
    return incident


def breach_review_notice(*, actor, incident_id, headline: str, text: str) -> BreachIncident:
    """Approve the notice text: what happened, what data, what is being done, whom to contact."""
    selectors.require_breaches(actor)
    headline = " ".join((headline or "").split())
    text = _text(text, "notice")
    if not headline or len(headline) > 200 or not text:
        raise InvalidInput("The notice needs a headline and a text.", code="notice_required")
    with transaction.atomic(durable=True):
        incident = _locked_breach(incident_id)
        if incident.notices_sent_at is not None:
            raise CaseClosed("The notices were already sent.")
        incident.notice_headline = headline
        incident.notice_text = text
        incident.notice_reviewed_by = _staff(actor)
        incident.notice_reviewed_at = timezone.now()
        incident.save()
        audit.record(actor=actor, action="breach_notice_reviewed", obj=incident)
    return incident


def _locked_breach(incident_id) -> BreachIncident:
    iid = selectors.parse_id(incident_id, CaseNotFound, "No such incident.")
    incident = BreachIncident.objects.select_for_update().filter(pk=iid).first()
    if incident is None:
        raise CaseNotFound("No such incident.")
    return incident


@dataclass
class BreachSendResult:
    affected: int
    queued: int


def breach_send_notices(*, actor, incident_id) -> BreachSendResult:
    """Queue the reviewed notice through the notices outbox to every affected patron.

    A scope that reaches nobody sends nothing and says "0 patrons"; sending twice
    queues nothing new (the outbox is idempotent per incident and patron).
    """
    from quietshelf.notices import services as notice_services

    selectors.require_breaches(actor)
    with transaction.atomic(durable=True):
        incident = _locked_breach(incident_id)
        if not incident.notice_reviewed_at:
            raise InvalidInput(
                "Review and approve the notice text first.", code="notice_not_reviewed"
            )
        ids = list(selectors.affected_patrons(incident).values_list("pk", flat=True))
        queued = 0
        if ids:
            queued = notice_services.queue_privacy_notices(
                patron_ids=ids,
                key=f"breach:{incident.pk}",
                headline=incident.notice_headline,
                message=incident.notice_text,
            )
            incident.status = "notified"
            incident.notices_sent_at = timezone.now()
        incident.affected_count = len(ids)
        incident.notices_queued = (incident.notices_queued or 0) + queued
        incident.save()
        # the counts are on the incident; the reason stays a short code
        audit.record(
            actor=actor, action="breach_notices", obj=incident, reason="sent" if ids else "none"
        )
    return BreachSendResult(affected=len(ids), queued=queued)


def breach_authority_notified(*, actor, incident_id) -> BreachIncident:
    selectors.require_breaches(actor)
    with transaction.atomic(durable=True):
        incident = _locked_breach(incident_id)
        if incident.authority_notified_at is None:
            incident.authority_notified_at = timezone.now()
            incident.save(update_fields=["authority_notified_at"])
            audit.record(actor=actor, action="breach_authority_told", obj=incident)
    return incident


# --- restriction and objection (PRV-DSR-5, CAT-3) ----------------------------------------------

LIFT_NOTICE_DAYS = 1  # at least a day between telling the patron and lifting


def _patron_for_restriction(actor, patron_id) -> Patron:
    pid = selectors.parse_id(patron_id)
    patron = Patron.objects.select_for_update().filter(pk=pid).first()
    if patron is None:
        raise selectors.missing_patron_error(pid)
    check_patron(actor, patron, "patrons.view_patron")
    return patron


@audited_denials
def restriction_apply(*, actor, patron_id) -> ProcessingRestriction:
    """Keep the patron's data but stop using it: no notices, no loads, no loans without an
    override. Queued notices that are not privacy notices are withdrawn."""
    from quietshelf.notices.models import Notice

    selectors.require_cases(actor)
    with transaction.atomic(durable=True):
        patron = _patron_for_restriction(actor, patron_id)
        if ProcessingRestriction.objects.filter(patron=patron, lifted_at__isnull=True).exists():
            raise Conflict(
                "The use of this patron's data is already restricted.", code="restricted"
            )
        restriction = ProcessingRestriction.objects.create(
            patron=patron,
            previous_status=patron.status,
            started_at=timezone.now(),
            started_by=_staff(actor),
        )
        Patron.objects.filter(pk=patron.pk).update(status="restricted")
        Notice.objects.filter(patron=patron, state="queued").exclude(notice_type="privacy").delete()
        audit.record(actor=actor, action="restricted", obj=patron, reason="PRV-DSR-5")
    return restriction


@audited_denials
def restriction_announce_lift(*, actor, patron_id, lift_on) -> ProcessingRestriction:
    """Tell the patron (a privacy notice) that the restriction ends on `lift_on`."""
    from quietshelf.notices import services as notice_services

    selectors.require_cases(actor)
    day = _date(lift_on, "day it ends")
    if day is None or day < clock.today() + dt.timedelta(days=LIFT_NOTICE_DAYS):
        raise InvalidInput(
            "The patron must be told before the restriction ends: choose a later day.",
            code="too_soon",
        )
    with transaction.atomic(durable=True):
        patron = _patron_for_restriction(actor, patron_id)
        restriction = (
            ProcessingRestriction.objects.select_for_update()
            .filter(patron=patron, lifted_at__isnull=True)
            .first()
        )
        if restriction is None:
            raise InvalidInput("There is no restriction to lift.", code="not_restricted")
        restriction.lift_on = day
        restriction.lift_announced_at = timezone.now()
        restriction.save(update_fields=["lift_on", "lift_announced_at"])
        notice_services.queue_privacy_notices(
            patron_ids=[patron.pk],
            key=f"restriction-lift:{restriction.pk}:{day.isoformat()}",
            headline="The restriction on the use of your data ends",
            message=(
                f"You asked the library to restrict the use of your data. That restriction "
                f"ends on {day.isoformat()}. Contact the library before then if you object."
            ),
        )
        audit.record(actor=actor, action="restriction_lift_told", obj=patron)
    return restriction


@audited_denials
def restriction_lift(*, actor, patron_id) -> ProcessingRestriction:
    """End the restriction, only once the patron was told and the announced day has come."""
    selectors.require_cases(actor)
    with transaction.atomic(durable=True):
        patron = _patron_for_restriction(actor, patron_id)
        restriction = (
            ProcessingRestriction.objects.select_for_update()
            .filter(patron=patron, lifted_at__isnull=True)
            .first()
        )
        if restriction is None:
            raise InvalidInput("There is no restriction to lift.", code="not_restricted")
        if restriction.lift_on is None or restriction.lift_on > clock.today():
            raise InvalidInput(
                "The patron must be told first, and the day announced must have come.",
                code="patron_not_told",
            )
        restriction.lifted_at = timezone.now()
        restriction.save(update_fields=["lifted_at"])
        Patron.objects.filter(pk=patron.pk).update(status=restriction.previous_status)
        audit.record(actor=actor, action="unrestricted", obj=patron, reason="PRV-DSR-5")
    return restriction


def objection_record(
    *, actor, processing: str, channel: str, patron_id=None, details: str = ""
) -> RequestCase:
    """An objection (PRV-DSR-5), or an author's objection to display of personal details
    beyond the bibliographic record (CAT-3): a case naming the processing objected to."""
    processing = _choice(processing, ObjectedProcessing, "processing")
    case = case_open(
        actor=actor, kind=CaseKind.OBJECTION, channel=channel, patron_id=patron_id, details=details
    )
    with transaction.atomic(durable=True):
        RequestCase.objects.filter(pk=case.pk).update(processing=processing)
        case.processing = processing
        audit.record(actor=actor, action="objection", obj=case, reason=processing)
    return case


# --- notice of policy changes (PRV-POL-1) ----------------------------------------------------

POLICY_NOTICE_DAYS = 7  # a policy published in the last week is announced to subscribers


def policy_change_notices(*, today: dt.date | None = None) -> int:
    """Daily: tell subscribers (consent "policy_changes") of a policy version that came into
    force in the last week; once per version and patron (the outbox's dedupe key)."""
    from quietshelf.notices import services as notice_services
    from quietshelf.privacy.models import ConsentRecord, PolicyVersion

    today = today or clock.today()
    since = today - dt.timedelta(days=POLICY_NOTICE_DAYS)
    queued = 0
    for policy_version in PolicyVersion.objects.filter(
        effective_date__lte=today, effective_date__gte=since
    ).order_by("effective_date"):
        subjects = ConsentRecord.objects.filter(
            scope=selectors.POLICY_SCOPE, withdrawn_at__isnull=True
        ).values("subject_id")
        ids = list(Patron.objects.filter(subject_id__in=subjects).values_list("pk", flat=True))
        if not ids:
            continue
        summary = policy_version.summary_of_changes or "See the privacy page for the new text."
        queued += notice_services.queue_privacy_notices(
            patron_ids=ids,
            key=f"policy:{policy_version.version}",
            headline=f"Our privacy policy changed (version {policy_version.version})",
            message=(
                f"From {policy_version.effective_date.isoformat()} a new version of the "
                f"library's privacy policy applies. What changed: {summary}\n"
                f"{settings.QUIETSHELF_SITE_URL}/privacy/"
            ),
        )
    return queued


# --- minors (PRV-MNR-1) -----------------------------------------------------------------------


def _guardian_pair(actor, minor_id, guardian_id, perm: str) -> tuple[Patron, Patron]:
    minor = Patron.objects.select_for_update().filter(pk=selectors.parse_id(minor_id)).first()
    guardian = Patron.objects.filter(pk=selectors.parse_id(guardian_id)).first()
    if minor is None or guardian is None:
        raise selectors.PatronNotFound("No such patron.")
    check_patron(actor, minor, perm)
    if minor.pk == guardian.pk:
        raise InvalidInput("A patron cannot be their own guardian.", code="invalid_guardian")
    if patron_policy.is_minor(guardian.date_of_birth):
        raise InvalidInput("A guardian must be an adult.", code="invalid_guardian")
    return minor, guardian


@audited_denials
def guardian_consent(*, actor, minor_id, guardian_id) -> Patron:
    """The guardian consented to a minor's registration: linked as guarantor, account active."""
    from quietshelf.patrons.models import ProxyKind, ProxyLink

    with transaction.atomic(durable=True):
        minor, guardian = _guardian_pair(actor, minor_id, guardian_id, "patrons.change_patron")
        if minor.status != "pending" or not patron_policy.needs_guardian_consent(
            minor.date_of_birth
        ):
            raise InvalidInput(
                "This registration does not wait for a guardian's consent.", code="no_consent_due"
            )
        ProxyLink.objects.get_or_create(patron=minor, proxy=guardian, kind=ProxyKind.GUARANTOR)
        Patron.objects.filter(pk=minor.pk).update(status="active")
        audit.record(actor=actor, action="guardian_consent", obj=minor)
        minor.status = "active"
    return minor


@audited_denials
def guardian_request_open(*, actor, minor_id, guardian_id, kind: str, channel: str) -> RequestCase:
    """A guardian asks to see, correct or erase a minor's data: the configured rule decides.

    "none": refused (audited); "by_law": only for a minor, only by a guardian linked as
    guarantor, and the case says so.
    """
    from quietshelf.patrons.models import ProxyKind, ProxyLink

    selectors.require_cases(actor)
    kind = _choice(kind, CaseKind, "request kind")
    channel = _choice(channel, CaseChannel, "channel")
    refused = ""
    with transaction.atomic(durable=True):
        minor, guardian = _guardian_pair(actor, minor_id, guardian_id, "patrons.view_patron")
        if patron_policy.guardian_access_rule() == "none":
            refused = "guardian_rule_none"
        elif not patron_policy.is_minor(minor.date_of_birth):
            refused = "not_a_minor"
        elif not ProxyLink.objects.filter(
            patron=minor, proxy=guardian, kind=ProxyKind.GUARANTOR
        ).exists():
            refused = "not_the_guardian"
        if refused:
            audit.record(actor=actor, action="guardian_refused", obj=minor, reason=refused)
        else:
            today = clock.today()
            case = RequestCase.objects.create(
                subject_id=minor.subject_id,
                patron=minor,
                kind=kind,
                channel=channel,
                details="Made by the guardian on the minor's behalf (guardian access: by law).",
                received_on=today,
                due_on=_due(today),
            )
            audit.record(actor=actor, action="case_opened", obj=case, reason=f"guardian:{kind}")
    if refused:
        raise PermissionDenied(
            {
                "guardian_rule_none": "The library's rule gives guardians no access to a "
                "minor's record (QUIETSHELF_GUARDIAN_ACCESS=none).",
                "not_a_minor": "This patron is not a minor: a guardian has no access.",
                "not_the_guardian": "This person is not linked as the minor's guardian.",
            }[refused],
            code=refused,
        )
    return case
