"""Reads of the privacy office, with the actor's access applied here.

`erasure_preview` is what every erasure door shows first (PRV-DSR-4): the
exceptions in plain words, blocking ones first, and the recipients in the
processor register who are to be told.
"""

from __future__ import annotations

import datetime as dt
import importlib
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Sum

from quietshelf.accounts import authz
from quietshelf.circulation.models import OPEN_HOLD, Fee, FeeTransaction, Hold, Loan
from quietshelf.circulation.selectors import format_money
from quietshelf.core import clock
from quietshelf.patrons.access import audited_denials, check_patron, is_trusted
from quietshelf.patrons.errors import PatronNotFound
from quietshelf.patrons.models import Patron
from quietshelf.privacy.models import AuditEntry
from quietshelf.privacyoffice import canary, policy
from quietshelf.privacyoffice.errors import AlreadyErased, CaseNotFound
from quietshelf.privacyoffice.models import (
    BreachIncident,
    CanaryStatement,
    CaseStatus,
    DisclosureEntry,
    GovernmentRequest,
    RequestCase,
)

CASES = "privacyoffice.manage_cases"


def parse_id(value, error=PatronNotFound, message: str = "No such patron.") -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise error(message) from None


def erased_on(patron_id: uuid.UUID) -> dt.datetime | None:
    """When this patron id was erased (from the audit log), or None."""
    entry = (
        AuditEntry.objects.filter(
            object_type="patrons.patron", object_id=str(patron_id), action="erased"
        )
        .order_by("seq")
        .first()
    )
    return entry.at if entry else None


def missing_patron_error(patron_id: uuid.UUID) -> Exception:
    """'Already erased' (with the date) for an erased id, else 'no such patron'."""
    when = erased_on(patron_id)
    if when is not None:
        return AlreadyErased(
            f"This patron was already erased on {when.date().isoformat()}.",
            details={"erased_on": when.date().isoformat()},
        )
    return PatronNotFound("No such patron.")


def recipients() -> list[str]:
    """Processors in the register who receive personal data: to be told of an erasure."""
    return [str(p.get("name", "")) for p in settings.QUIETSHELF_PROCESSORS if p.get("name")]


def _providers():
    out = []
    for path in settings.QUIETSHELF_ERASURE_EXCEPTION_PROVIDERS:
        module, _sep, attr = path.partition(":") if ":" in path else path.rpartition(".")
        out.append(getattr(importlib.import_module(module), attr))
    return out


def _patron_categories() -> set[str]:
    """The retention categories that hold patron data (from the inventory)."""
    from quietshelf.privacy import inventory

    return {i.decl.retention for i in inventory.items() if "patron" in i.subjects}


def legal_hold_exceptions(patron: Patron) -> list[policy.ErasureException]:
    """The built-in exception provider for legal holds (on by default, PRV-DSR-4)."""
    from quietshelf.privacy import retention

    return policy.legal_hold_exceptions(
        person_held=retention.is_held(patron.subject_id),
        held_categories=retention.held_rules(),
        patron_categories=_patron_categories(),
    )


def erasure_exceptions_for(patron: Patron) -> list[policy.ErasureException]:
    """The exceptions for one patron row (no access check: callers did it)."""
    unresolved = Fee.objects.filter(patron_id=patron.pk, resolved_at__isnull=True)
    owed = (
        FeeTransaction.objects.filter(fee__in=unresolved).aggregate(s=Sum("amount_minor"))["s"] or 0
    )
    fee_rule = settings.QUIETSHELF_RETENTION.get("fee", {})
    found = policy.erasure_exceptions(
        open_loans=Loan.objects.filter(patron_id=patron.pk, returned_at__isnull=True).count(),
        unresolved_fees=unresolved.count(),
        unresolved_minor=owed,
        money_text=format_money(owed, settings.QUIETSHELF_CURRENCY),
        open_holds=Hold.objects.filter(patron_id=patron.pk, status__in=OPEN_HOLD).count(),
        settled_fees=Fee.objects.filter(patron_id=patron.pk, resolved_at__isnull=False).count(),
        fee_retention_days=fee_rule.get("days"),
        fee_rule=settings.QUIETSHELF_ERASURE_UNRESOLVED_FEES,
    )
    # Built in: legal holds (PRV-RET-2); then the configured seam (a do-not-contact record...).
    found.extend(legal_hold_exceptions(patron))
    for provider in _providers():
        found.extend(provider(patron))
    found.sort(key=lambda e: not e.blocking)
    return found


@dataclass
class ErasurePreview:
    patron_id: uuid.UUID
    exceptions: list[policy.ErasureException]
    recipients: list[str]

    @property
    def blocked(self) -> bool:
        return policy.erasure_blocked(self.exceptions)


@audited_denials
def erasure_preview(*, actor, patron_id) -> ErasurePreview:
    """What erasing this patron would keep or wait for. Staff need patrons.view_patron."""
    pid = parse_id(patron_id)
    patron = Patron.objects.filter(pk=pid).first()
    if patron is None:
        raise missing_patron_error(pid)
    check_patron(actor, patron, "patrons.view_patron")
    return ErasurePreview(pid, erasure_exceptions_for(patron), recipients())


# --- request cases ------------------------------------------------------------------


@dataclass
class CaseRow:
    case: RequestCase
    urgency: str  # ok, soon, overdue
    days_left: int

    @property
    def days_overdue(self) -> int:
        return max(0, -self.days_left)


def require_cases(actor) -> None:
    if not is_trusted(actor):
        authz.require(actor, CASES)


def case_rows(*, actor, status: str = CaseStatus.OPEN, today: dt.date | None = None):
    """Cases by deadline (the dashboard); overdue ones are shown, never closed by this."""
    require_cases(actor)
    today = today or clock.today()
    qs = RequestCase.objects.order_by("due_on", "created_at")
    if status:
        qs = qs.filter(status=status)
    rows = []
    for case in qs[:500]:
        rows.append(
            CaseRow(
                case,
                policy.case_urgency(
                    due_on=case.due_on,
                    today=today,
                    remind_days=settings.QUIETSHELF_REQUEST_REMIND_DAYS,
                )
                if case.status == CaseStatus.OPEN
                else "ok",
                (case.due_on - today).days,
            )
        )
    return rows


def case_get(*, actor, case_id) -> RequestCase:
    require_cases(actor)
    cid = parse_id(case_id, CaseNotFound, "No such case.")
    case = RequestCase.objects.filter(pk=cid).first()
    if case is None:
        raise CaseNotFound("No such case.")
    return case


def own_open_case(*, patron_id, kind: str) -> RequestCase | None:
    """The patron's own open case of this kind (My account; trusted caller)."""
    return RequestCase.objects.filter(patron_id=patron_id, kind=kind, status="open").first()


def own_cases(*, patron_id) -> list[RequestCase]:
    return list(RequestCase.objects.filter(patron_id=patron_id).order_by("-created_at")[:50])


# --- the warrant canary -------------------------------------------------------------


@dataclass
class CanaryView:
    statement: CanaryStatement | None
    stale: bool
    signature_ok: bool
    public_key_pem: str

    @property
    def missing(self) -> bool:
        return self.statement is None


def canary_current(*, today: dt.date | None = None) -> CanaryView:
    """The newest statement, whether it has gone stale and whether its signature holds."""
    today = today or clock.today()
    statement = CanaryStatement.objects.order_by("-signed_at", "-id").first()
    if statement is None:
        return CanaryView(None, True, False, "")
    ok = canary.signature_valid(
        text=statement.text, signature_hex=statement.signature, public_hex=statement.public_key
    )
    return CanaryView(
        statement,
        policy.canary_stale(valid_until=statement.valid_until, today=today),
        ok,
        canary.public_key_pem(statement.public_key),
    )


# --- government requests and the transparency report ------------------------------------


def gag_order_in_force(*, today: dt.date) -> bool:
    """A request not withdrawn or refused whose order forbids telling anyone stands."""
    from django.db.models import Q

    return (
        GovernmentRequest.objects.exclude(status__in=("withdrawn", "refused"))
        .filter(Q(gag_indefinite=True) | Q(gag_until__gte=today))
        .exists()
    )


def government_requests(*, actor) -> list[GovernmentRequest]:
    require_cases(actor)
    return list(GovernmentRequest.objects.order_by("-received_on", "-created_at")[:500])


def government_request_get(*, actor, request_id) -> GovernmentRequest:
    require_cases(actor)
    rid = parse_id(request_id, CaseNotFound, "No such request.")
    req = GovernmentRequest.objects.filter(pk=rid).first()
    if req is None:
        raise CaseNotFound("No such request.")
    return req


def disclosure_log(*, actor, request_id=None) -> list[DisclosureEntry]:
    require_cases(actor)
    qs = DisclosureEntry.objects.select_related("request").order_by("-released_at", "id")
    if request_id:
        qs = qs.filter(request_id=request_id)
    return list(qs[:2000])


@dataclass
class TransparencyYear:
    year: int
    received: int
    by_kind: dict[str, int]
    released: int
    refused: int
    withdrawn: int
    patrons_notified: int
    records_released: int


def transparency_report() -> list[TransparencyYear]:
    """Counts only, per calendar year (public: /privacy/transparency/)."""
    from django.db.models import Count
    from django.db.models.functions import ExtractYear

    years: dict[int, TransparencyYear] = {}
    rows = (
        GovernmentRequest.objects.annotate(y=ExtractYear("received_on"))
        .values("y", "kind", "status")
        .annotate(n=Count("id"))
    )
    for row in rows:
        year = years.setdefault(row["y"], TransparencyYear(row["y"], 0, {}, 0, 0, 0, 0, 0))
        year.received += row["n"]
        year.by_kind[row["kind"]] = year.by_kind.get(row["kind"], 0) + row["n"]
        if row["status"] == "released":
            year.released += row["n"]
        elif row["status"] == "refused":
            year.refused += row["n"]
        elif row["status"] == "withdrawn":
            year.withdrawn += row["n"]
    notified = (
        GovernmentRequest.objects.filter(patron_notified_on__isnull=False)
        .annotate(y=ExtractYear("received_on"))
        .values("y")
        .annotate(n=Count("id"))
    )
    for row in notified:
        if row["y"] in years:
            years[row["y"]].patrons_notified = row["n"]
    records = (
        DisclosureEntry.objects.annotate(y=ExtractYear("request__received_on"))
        .values("y")
        .annotate(n=Count("id"))
    )
    for row in records:
        if row["y"] in years:
            years[row["y"]].records_released = row["n"]
    return [years[y] for y in sorted(years, reverse=True)]


# --- breach incidents (PRV-BRE-1) ----------------------------------------------------------

BREACHES = "privacyoffice.manage_breaches"


def require_breaches(actor) -> None:
    if not is_trusted(actor):
        authz.require(actor, BREACHES)


def affected_patrons(incident: BreachIncident):
    """The patrons the incident's scope reaches, as a queryset (count it, or list its ids).

    Registered by the end of the window, at the scope's branches (all when none).
    A scope of only circulation or only financial data narrows it to patrons
    with a loan or a fee that overlaps the window.
    """
    from django.db.models import Q

    qs = Patron.objects.filter(created_at__lte=incident.window_end)
    branch_ids = [b.pk for b in incident.branches.all()]
    if branch_ids:
        qs = qs.filter(home_branch_id__in=branch_ids)
    categories = set(incident.data_categories or [])
    if categories == {"circulation"}:
        loans = Loan.objects.filter(checked_out_at__lte=incident.window_end).filter(
            Q(returned_at__isnull=True) | Q(returned_at__gte=incident.window_start)
        )
        qs = qs.filter(pk__in=loans.values("patron_id"))
    elif categories == {"financial"}:
        fees = Fee.objects.filter(created_at__lte=incident.window_end).filter(
            Q(resolved_at__isnull=True) | Q(resolved_at__gte=incident.window_start)
        )
        qs = qs.filter(pk__in=fees.values("patron_id"))
    return qs


def breaches(*, actor) -> list[BreachIncident]:
    require_breaches(actor)
    return list(BreachIncident.objects.order_by("-discovered_at")[:200])


@dataclass
class BreachView:
    incident: BreachIncident
    affected: int
    hours_left: float
    deadline: dt.datetime

    @property
    def overdue(self) -> bool:
        return self.hours_left < 0 and self.incident.authority_notified_at is None


def breach_get(*, actor, incident_id) -> BreachView:
    from django.utils import timezone

    require_breaches(actor)
    iid = parse_id(incident_id, CaseNotFound, "No such incident.")
    incident = BreachIncident.objects.filter(pk=iid).prefetch_related("branches").first()
    if incident is None:
        raise CaseNotFound("No such incident.")
    return BreachView(
        incident,
        affected_patrons(incident).count(),
        policy.breach_hours_left(discovered_at=incident.discovered_at, now=timezone.now()),
        policy.breach_deadline(incident.discovered_at),
    )


# --- the public privacy page (PRV-INV-2, PRV-POL-1, PRV-CPL-1) --------------------------------

POLICY_SCOPE = "policy_changes"


def readers_text(codes) -> str:
    """Who can see a field, in words (never the internal role codes)."""
    from django.utils.translation import gettext as _

    words = {
        "circulation": _("staff at the lending desk"),
        "patron_manager": _("staff who look after patron records"),
        "privacy_office": _("the privacy officer"),
        "system": _("only the system, no person"),
        "patron": _("you"),
        "the person": _("you"),
    }
    out: list[str] = []
    for code in codes:
        text = words.get(code, _("library staff"))
        if text not in out:
            out.append(text)
    return ", ".join(out)


def _retention_words(rule) -> str:
    """A retention rule's period in the reader's language (privacy.retention.Rule.text)."""
    from django.utils.translation import gettext as _
    from django.utils.translation import ngettext

    if rule is None:
        return _("not set")
    after = _(rule.after) if rule.after else ""
    if rule.days is None:
        return _("kept %(after)s") % {"after": after}
    if rule.days == 0:
        return _("deleted as soon as %(after)s") % {"after": after}
    return ngettext("%(days)d day after %(after)s", "%(days)d days after %(after)s", rule.days) % {
        "days": rule.days,
        "after": after,
    }


def _translate_statement(st) -> None:
    """The inventory's words (purposes, labels, categories, bases, periods) are English
    msgids: shown in the reader's language (nb in privacyoffice's catalogue)."""
    from django.utils.translation import gettext as _

    from quietshelf.privacy import inventory

    labels = {
        f"{i.model_label}.{i.field}": (i.field_label, i.model_name) for i in inventory.items()
    }
    done: set[int] = set()
    for group in st.groups:
        group.title = _(group.title)
        for row in group.rows:
            if id(row) in done:
                continue  # a row shared by two subject groups is translated once
            done.add(id(row))
            row.readers_text = readers_text(row.readers)
            row.purpose = _(row.purpose)
            row.category_text = _(row.category_text)
            row.legal_basis_text = _(row.legal_basis_text)
            row.retention_text = _retention_words(st.retention.get(row.retention))
            if row.where in labels:
                label, model = labels[row.where]
                row.what = f"{_(label)} ({_(model)})"


def my_data_page(*, patron, session_key: str | None) -> dict:
    """My data (PRV-DSR-1, PRV-INV-2): everything held about the patron, the patron's own
    record first, then what is held, then (folded away on the page) the kinds of data with
    nothing held; the privacy kernel's own bookkeeping after the library's data. The
    inventory's words are shown in the reader's language, the same words as the privacy
    page: purposes, labels, bases, the period from the rule the retention job applies, and
    who may see it in words (never the internal role codes)."""
    from django.utils.translation import gettext as _

    from quietshelf.patrons import mydata
    from quietshelf.privacy import inventory, retention

    held = mydata.everything_held(patron=patron, session_key=session_key)
    rules = retention.schedule()
    rule_of = {f"{i.model_label}.{i.field}": i.decl.retention for i in inventory.items()}
    for h in held:
        for f in h.fields:
            f.label = _(f.label)
            f.purpose = _(f.purpose)
            f.legal_basis = _(f.legal_basis)
            f.category_text = _(f.category_text)
            f.retention = _retention_words(rules.get(rule_of.get(f.key, "")))
            f.readers = [readers_text(f.readers)]
    own = sorted(
        (h for h in held if h.rows),
        key=lambda h: (
            h.label != "patrons.Patron",
            h.label.startswith(("privacy.", "sessions.")),
            h.name,
        ),
    )
    return {"held": own, "empty": [h for h in held if not h.rows]}


def privacy_page() -> dict:
    from quietshelf.privacy import selectors as privacy_selectors

    st = privacy_selectors.statement()
    _translate_statement(st)
    years = transparency_report()
    return {
        "s": st,
        "canary": canary_current(),
        "deadline_days": settings.QUIETSHELF_REQUEST_DEADLINE_DAYS,
        "authority": settings.QUIETSHELF_SUPERVISORY_AUTHORITY,
        "authority_url": settings.QUIETSHELF_SUPERVISORY_AUTHORITY_URL,
        "last_year": years[0] if years else None,
        "policy_scope": POLICY_SCOPE,
    }


# --- a guardian's view of a minor's record (PRV-MNR-1) ------------------------------------------


@dataclass
class GuardianMinor:
    patron: Patron
    held: list  # patrons.mydata.HeldModel with rows, the minor's record


@dataclass
class GuardianView:
    rule: str  # patrons.policy.GUARDIAN_ACCESS_RULES
    minors: list[GuardianMinor]


def guardian_view(*, guardian_id) -> GuardianView:
    """What a signed-in guardian sees of the minors they are linked to as guarantor.

    The configured rule decides, here and not in the page: "none" shows nothing;
    "by_law" shows each linked minor's record (generated from the inventory, as the
    minor's own My data page). An adult is nobody's minor, and a guardian who is a
    minor sees nothing. Each record shown is an audit entry "viewed" by the guardian.
    """
    from django.db import transaction

    from quietshelf.patrons import mydata
    from quietshelf.patrons import policy as patron_policy
    from quietshelf.patrons.models import ProxyKind, ProxyLink
    from quietshelf.privacy import audit
    from quietshelf.privacy.audit import Actor

    rule = patron_policy.guardian_access_rule()
    guardian = Patron.objects.filter(pk=guardian_id).first()
    if rule == "none" or guardian is None or patron_policy.is_minor(guardian.date_of_birth):
        return GuardianView(rule, [])
    links = ProxyLink.objects.filter(proxy=guardian, kind=ProxyKind.GUARANTOR).select_related(
        "patron"
    )
    today = clock.today()
    minors = [
        link.patron
        for link in links
        if patron_policy.is_minor(link.patron.date_of_birth, today=today)
        and link.patron.status != "closed"
    ]
    out = []
    with transaction.atomic():
        for minor in sorted(minors, key=lambda p: str(p.given_name)):
            held = [h for h in mydata.everything_held(patron=minor) if h.rows]
            audit.record(
                actor=Actor.patron(guardian.pk), action="viewed", obj=minor, reason="guardian"
            )
            out.append(GuardianMinor(minor, held))
    return GuardianView(rule, out)
