"""Every circulation state change: one transaction each, the item row locked first.

checkout / checkin / renew (CIR-2), holds (CIR-3), fees (CIR-4), rules and
calendars (CIR-1), de-identification (PRV-HIST-1/2) and reading history
(PRV-HIST-3). Lock order everywhere: item, then loan, then hold, then fee.

Privacy on return: the check-in transaction removes the loan's patron link
(QUIETSHELF_LOAN_DEIDENTIFY_DAYS = 0, the default) unless a fee on the loan
is unresolved; the fee's resolution removes it later. `deidentify_closed_loans`
applies a configured delay. CirculationEvent rows, written in the same
transactions, keep the de-identified facts for statistics (RPT-1).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_noop

from quietshelf.accounts.authz import TerminalActor, require, terminal_acts_for
from quietshelf.catalog.models import BibRecord, Branch, Item, ItemStatus
from quietshelf.catalog.search import refresh_availability
from quietshelf.circulation import compiled, policy, retention
from quietshelf.circulation.models import (
    OPEN_HOLD,
    BranchCalendar,
    CirculationEvent,
    ClosedPeriod,
    EventKind,
    Fee,
    FeeTransaction,
    FeeType,
    Hold,
    HoldStatus,
    Loan,
    LoanRule,
    ReadingHistoryEntry,
    Transit,
)
from quietshelf.core import clock
from quietshelf.core.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from quietshelf.privacy import audit
from quietshelf.privacy.audit import Actor
from quietshelf.privacy.retention import coarse_values, coarsen, rule_days

READING_HISTORY = "reading_history"
OVERRIDABLE_STATUSES = {"lost", "missing", "damaged", "in_processing"}


class CirculationRefused(DomainError):
    """A failed check; details["refusals"] lists every code, "overridable" if staff may."""

    code = "circulation_refused"
    status_hint = 409


class ItemNotFound(NotFound):
    code = "item_not_found"


class PatronNotFound(NotFound):
    code = "patron_not_found"


# Messages stay English here (the API's language); gettext_noop marks them for the
# catalogue so a page can show gettext(template) % params in its reader's language.
OVERRIDE_HINT = gettext_noop("Staff with the override permission may lend anyway, with a reason.")


@dataclass(frozen=True)
class Refusal:
    code: str
    template: str  # English, %(name)s placeholders filled from params
    overridable: bool = True
    params: dict = field(default_factory=dict)

    @property
    def message(self) -> str:
        return self.template % self.params if self.params else self.template


def _refuse(refusals: list[Refusal]):
    first = refusals[0]
    overridable = all(r.overridable for r in refusals)
    message = " ".join(r.message for r in refusals)
    if overridable:
        message += " " + OVERRIDE_HINT
    exc = CirculationRefused(
        message,
        code=first.code,
        details={"refusals": [r.code for r in refusals], "overridable": overridable},
    )
    exc.refusals = tuple(refusals)  # for pages that translate; not part of the API body
    raise exc


# --- helpers ---------------------------------------------------------------------------


def _now() -> dt.datetime:
    return clock.now()


def _local_date(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date()


def _is_patron_self(actor, patron_id) -> bool:
    return isinstance(actor, Actor) and actor.type == "patron" and actor.id == str(patron_id)


def _require(actor, perm: str, *, branch_id=None, patron_id=None, acting_for=None) -> None:
    """`patron_id`: the patron may do this themself; `acting_for`: the patron concerned,
    which a SIP2 terminal must have authenticated (SEC-ACC-1)."""
    if isinstance(actor, TerminalActor):
        for pid in (patron_id, acting_for):
            if pid is not None and not terminal_acts_for(actor, pid):
                raise PermissionDenied(
                    "This terminal acts only for the patron it authenticated.",
                    details={"permission": perm},
                )
        require(actor, perm, branch_id=branch_id)
        return
    if patron_id is not None and _is_patron_self(actor, patron_id):
        return
    if isinstance(actor, Actor):
        raise PermissionDenied("You do not have permission for this.", details={"permission": perm})
    require(actor, perm, branch_id=branch_id)


def _staff(actor):
    return actor if getattr(actor, "is_authenticated", False) and hasattr(actor, "pk") else None


def _for_update(qs, **kw):
    """SELECT ... FOR UPDATE of the queried table only (joined rows stay unlocked)."""
    if connection.features.has_select_for_update_of:
        return qs.select_for_update(of=("self",), **kw)
    return qs.select_for_update(**kw)


def _locked_item(barcode: str, *, related=("item_type", "record", "branch")) -> Item:
    barcode = (barcode or "").strip()
    if not barcode or len(barcode) > 64:
        raise ItemNotFound(gettext_noop("Scan or type an item barcode."))
    item = _item_template(related).first(barcode)
    if item is None:
        raise ItemNotFound(
            gettext_noop("No item has this barcode."), details={"barcode_length": len(barcode)}
        )
    return item


_ITEM_TEMPLATES: dict = {}
_SENTINEL_BARCODE = "\x00qs-sentinel-barcode"
_SENTINEL_UUID = uuid.UUID("5e471ae1-0000-4000-8000-00000000c1c2")
_SENTINEL_MOMENT = dt.datetime(1901, 2, 3, 4, 5, 6, 789012, tzinfo=dt.UTC)
_SENTINEL_ID = -918273645


def _item_template(related) -> compiled.Template:
    """The item by barcode, locked (FOR UPDATE OF the item only), with `related`."""
    template = _ITEM_TEMPLATES.get(related)
    if template is None:
        template = _ITEM_TEMPLATES[related] = compiled.Template(
            f"circulation.locked_item.{'.'.join(related)}",
            lambda barcode: _for_update(_item_rows(related).filter(barcode=barcode)),
            (_SENTINEL_BARCODE,),
            (compiled.field_prep(Item, "barcode"),),
        )
    return template


def _item_rows(related=("item_type", "record", "branch")):
    # The record comes along for its title; its MARC (often kilobytes of JSON) is
    # loaded only if someone reads it.
    return Item.objects.select_related(*related).defer("record__marc_json")


def _lock_item_by_pk(item_id) -> Item:
    qs = _item_rows().filter(pk=item_id)
    if connection.features.has_select_for_update_of:
        return qs.select_for_update(of=("self",)).get()
    return qs.select_for_update().get()


def _patron(patron_id, *, lock: bool = False, annotate=None):
    from quietshelf.patrons.models import Patron

    try:
        pid = uuid.UUID(str(patron_id))
    except (ValueError, TypeError):
        raise PatronNotFound(gettext_noop("No such patron.")) from None
    qs = Patron.objects.select_related("group").filter(pk=pid)
    if annotate is not None:
        qs = annotate(qs)
    if lock:
        qs = (
            qs.select_for_update(of=("self",))
            if connection.features.has_select_for_update_of
            else qs.select_for_update()
        )
    patron = qs.first()
    if patron is None:
        raise PatronNotFound(gettext_noop("No such patron."))
    return patron


def _branch(branch_id) -> Branch:
    try:
        bid = int(branch_id)
    except (ValueError, TypeError):
        raise NotFound(gettext_noop("No such branch."), code="branch_not_found") from None
    branch = _cached(("branch", bid), lambda: Branch.objects.filter(pk=bid).first())
    if branch is None:
        _config_cache.pop(("branch", bid), None)
        raise NotFound(gettext_noop("No such branch."), code="branch_not_found")
    return branch


def _set_item_status(item: Item, status: str) -> None:
    if item.status != status:
        was_available = item.status == ItemStatus.AVAILABLE
        item.status = status
        item.save(update_fields=["status", "updated_at"])
        if was_available or status == ItemStatus.AVAILABLE:
            # The search document depends on the status only through "available"
            # (its availability facet): two small UPDATEs, not a rebuild.
            refresh_availability([item.record_id])


# Kinds of event that count as an item circulating (its last activity, RPT-1).
_ITEM_ACTIVITY = frozenset({EventKind.CHECKOUT, EventKind.CHECKIN, EventKind.RENEWAL})


def _event(kind: str, *, item: Item | None, branch_id, patron_group_id, day, record_id=None):
    if item is not None and kind in _ITEM_ACTIVITY and item.last_activity_on != day:
        # the item row is locked by the caller; at most one small UPDATE per item and day
        Item.objects.filter(pk=item.pk).update(last_activity_on=day)
        item.last_activity_on = day
    CirculationEvent.objects.create(
        kind=kind,
        day=day,
        item=item,
        record_id=record_id if record_id is not None else (item.record_id if item else None),
        item_type_id=item.item_type_id if item else None,
        branch_id=branch_id,
        patron_group_id=patron_group_id,
    )


# --- rules and calendars ----------------------------------------------------------------


# Rules, calendars and branches change rarely and are read by every check-out:
# each process keeps them for QUIETSHELF_CIRC_CONFIG_CACHE_SECONDS (default 30),
# and forgets them at once when it saves one itself (signals in hooks.py).
_config_cache: dict = {}
CLOSED_PERIODS_BACK_DAYS = 800


def config_changed(**_kwargs) -> None:
    _config_cache.clear()


def _cached(key, loader):
    ttl = float(getattr(settings, "QUIETSHELF_CIRC_CONFIG_CACHE_SECONDS", 30))
    now = time.monotonic()
    hit = _config_cache.get(key)
    if hit is not None and now - hit[0] < ttl:
        return hit[1]
    value = loader()
    if ttl > 0:
        _config_cache[key] = (now, value)
    return value


def _all_rules() -> list[LoanRule]:
    return _cached("rules", lambda: list(LoanRule.objects.all()))


def rule_keys(rules=None) -> list[policy.RuleKey]:
    rules = _all_rules() if rules is None else rules
    return [policy.RuleKey(r.pk, r.patron_group_id, r.item_type_id, r.branch_id) for r in rules]


def find_rule(*, patron_group_id, item_type_id, branch_id) -> tuple[LoanRule, policy.RuleChoice]:
    """The rule for this cell and why (the matrix is small and cached)."""
    rules = _all_rules()
    choice = policy.explain_rule(
        rule_keys(rules),
        patron_group_id=patron_group_id,
        item_type_id=item_type_id,
        branch_id=branch_id,
    )
    return next(r for r in rules if r.pk == choice.rule_id), choice


def _load_calendar(branch_id, since: dt.date):
    cal = BranchCalendar.objects.filter(branch_id=branch_id).first()
    ranges = list(
        ClosedPeriod.objects.filter(branch_id=branch_id, last__gte=since).values_list(
            "first", "last"
        )
    )
    return (
        cal.closed_weekdays if cal else (),
        cal.opens if cal else None,
        cal.closes if cal else None,
        ranges,
    )


def calendar_for(branch_id, *, since: dt.date) -> policy.Calendar:
    """The branch's calendar (closed periods ending on or after `since`)."""
    floor = clock.today() - dt.timedelta(days=CLOSED_PERIODS_BACK_DAYS)
    if since >= floor:
        weekdays, opens, closes, ranges = _cached(
            ("calendar", branch_id, floor), lambda: _load_calendar(branch_id, floor)
        )
        ranges = [(a, b) for a, b in ranges if b >= since]
    else:
        weekdays, opens, closes, ranges = _load_calendar(branch_id, since)
    return policy.make_calendar(
        closed_weekdays=weekdays, closed_ranges=ranges, opens=opens, closes=closes
    )


_RULE_FIELDS = (
    "loan_period",
    "period_unit",
    "renewals_allowed",
    "renewal_period",
    "no_renewal_before_days",
    "max_loans",
    "max_loans_per_type",
    "holds_allowed",
    "hold_limit",
    "fine_per_day_minor",
    "grace_days",
    "max_fine_minor",
    "fines_open_days_only",
    "lost_fee_policy",
    "lost_default_minor",
    "processing_fee_minor",
    "note",
)


@transaction.atomic
def rule_save(
    *, actor, patron_group_id=None, item_type_id=None, branch_id=None, **values
) -> LoanRule:
    """Create or update the rule of one matrix cell (None dimensions are wildcards)."""
    require(actor, "circulation.manage_rules")
    unknown = set(values) - set(_RULE_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown rule fields: {', '.join(sorted(unknown))}.")
    for name in (
        "loan_period",
        "renewal_period",
        "max_loans",
        "max_loans_per_type",
        "hold_limit",
        "fine_per_day_minor",
        "grace_days",
        "max_fine_minor",
        "lost_default_minor",
        "processing_fee_minor",
        "renewals_allowed",
        "no_renewal_before_days",
    ):
        value = values.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise InvalidInput(f"{name.replace('_', ' ')} must be a whole number, 0 or more.")
    if values.get("loan_period") == 0:
        raise InvalidInput("The loan period must be more than zero.", code="invalid_period")
    if values.get("period_unit", "days") not in ("days", "hours"):
        raise InvalidInput("The loan period is in days or hours.")
    rule = LoanRule.objects.filter(
        patron_group_id=patron_group_id, item_type_id=item_type_id, branch_id=branch_id
    ).first() or LoanRule(
        patron_group_id=patron_group_id, item_type_id=item_type_id, branch_id=branch_id
    )
    for name, value in values.items():
        setattr(rule, name, value)
    rule.save()
    audit.record(actor=actor, action="changed", obj=rule)
    return rule


@transaction.atomic
def calendar_save(
    *, actor, branch_id, closed_weekdays=(), opens=None, closes=None
) -> BranchCalendar:
    require(actor, "circulation.manage_rules", branch_id=branch_id)
    branch = _branch(branch_id)
    # Times with an offset are kept as the branch's wall-clock time (same on every engine).
    zone, today = timezone.get_current_timezone(), clock.today()
    opens = policy.wall_clock_time(opens, today=today, zone=zone)
    closes = policy.wall_clock_time(closes, today=today, zone=zone)
    policy.make_calendar(closed_weekdays=closed_weekdays, opens=opens, closes=closes)
    cal, _ = BranchCalendar.objects.update_or_create(
        branch=branch,
        defaults={
            "closed_weekdays": sorted({int(d) for d in closed_weekdays}),
            "opens": opens,
            "closes": closes,
        },
    )
    # Opening days move due dates and fines: who changed them is on record (PRV-ACC-1).
    audit.record(actor=actor, action="changed", obj=cal)
    return cal


@transaction.atomic
def closed_period_add(*, actor, branch_id, first: dt.date, last: dt.date | None = None, note=""):
    require(actor, "circulation.manage_rules", branch_id=branch_id)
    branch = _branch(branch_id)
    last = last or first
    if last < first:
        raise InvalidInput("A closed period ends before it starts.", code="invalid_period")
    period = ClosedPeriod.objects.create(branch=branch, first=first, last=last, note=note[:200])
    audit.record(actor=actor, action="created", obj=period)
    return period


# --- patron checks -----------------------------------------------------------------------


def _patron_refusals(patron, today: dt.date) -> list[Refusal]:
    from quietshelf.patrons import policy as patron_policy
    from quietshelf.patrons.models import Block

    out: list[Refusal] = []
    if patron.status == "closed":
        out.append(Refusal("patron_closed", gettext_noop("The patron's account is closed."), False))
    elif patron.status == "pending":
        out.append(Refusal("patron_pending", gettext_noop("The patron's account awaits approval.")))
    elif patron.status == "restricted":
        out.append(
            Refusal("patron_restricted", gettext_noop("The patron's account is restricted."))
        )
    if getattr(patron, "circ_blocks", True):
        blocks = list(Block.objects.filter(patron=patron, lifted_at__isnull=True))
    else:
        blocks = []  # the patron row said no block is open
    for b in patron_policy.effective_blocks(patron, blocks, today=today):
        if b.code == "expired":
            out.append(Refusal("patron_expired", gettext_noop("The patron's card has expired.")))
        else:
            text = gettext_noop("The patron is blocked (%(block)s).")
            out.append(Refusal("patron_blocked", text, params={"block": b.label}))
    return out


def _limit_subqueries(start_of_today: dt.datetime) -> dict:
    """Fee balance and overdue count of the outer patron row, as subqueries
    (overdue: due before the start of today, local time)."""
    from django.db.models import Subquery

    balance = (
        FeeTransaction.objects.filter(fee__patron_id=OuterRef("pk"), fee__resolved_at__isnull=True)
        .order_by()
        .values("fee__patron_id")
        .annotate(s=Sum("amount_minor"))
        .values("s")
    )
    overdue = (
        Loan.objects.filter(
            patron_id=OuterRef("pk"), returned_at__isnull=True, due_at__lt=start_of_today
        )
        .order_by()
        .values("patron_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return {"circ_balance": Subquery(balance), "circ_overdue": Subquery(overdue)}


def balance_and_overdue(patron_id, today: dt.date, *, patron=None) -> tuple[int, int]:
    """(unresolved fee balance in minor units, number of overdue open loans) in one query:
    the automatic block rules ask on every check-out, renewal and hold. A patron row
    that check-out read with them for the same day answers without a query."""
    from quietshelf.patrons.models import Patron

    known = getattr(patron, "_circ_limits", None)
    if known is not None and known[0] == today:
        return known[1], known[2]
    row = (
        Patron.objects.filter(pk=patron_id)
        .annotate(**_limit_subqueries(timezone.make_aware(dt.datetime.combine(today, dt.time()))))
        .values_list("circ_balance", "circ_overdue")
        .first()
    )
    if row is None:
        return 0, 0
    return row[0] or 0, row[1] or 0


def _checkout_patron_rows(pid, start_of_today):
    from django.db.models import Subquery

    from quietshelf.patrons.models import Block, Patron

    open_loans = Loan.objects.filter(patron_id=OuterRef("pk"), returned_at__isnull=True).order_by()
    counts = {
        "circ_blocks": Exists(
            Block.objects.filter(patron_id=OuterRef("pk"), lifted_at__isnull=True)
        ),
        "circ_loans": Subquery(open_loans.values("patron_id").annotate(n=Count("id")).values("n")),
        **_limit_subqueries(start_of_today),
    }
    return _for_update(Patron.objects.select_related("group").filter(pk=pid).annotate(**counts))


class _LazyTemplate:
    """A compiled.Template made on first use (the patron model loads after this module)."""

    def __init__(self, make):
        self.make, self.template = make, None

    def first(self, *args):
        if self.template is None:
            self.template = self.make()
        return self.template.first(*args)


def _make_checkout_patron_template() -> compiled.Template:
    from quietshelf.patrons.models import Patron

    return compiled.Template(
        "circulation.checkout_patron",
        _checkout_patron_rows,
        (_SENTINEL_UUID, _SENTINEL_MOMENT),
        (compiled.field_prep(Patron, "id"), compiled.field_prep(Loan, "due_at")),
    )


_CHECKOUT_PATRON = _LazyTemplate(_make_checkout_patron_template)


def _checkout_patron(patron_id, *, today: dt.date):
    """The patron row locked, with what check-out counts read in the same statement:
    whether any block is open, the fee balance and overdue count (automatic blocks) and
    the open loans (PERF-CIRC-1: one round trip, not four). Loans of one item type,
    which needs a join to the items, are counted only when a rule limits them.
    The statement is compiled once per thread (compiled.Template)."""
    try:
        pid = uuid.UUID(str(patron_id))
    except (ValueError, TypeError):
        raise PatronNotFound(gettext_noop("No such patron.")) from None
    start_of_today = timezone.make_aware(dt.datetime.combine(today, dt.time()))
    patron = _CHECKOUT_PATRON.first(pid, start_of_today)
    if patron is None:
        raise PatronNotFound(gettext_noop("No such patron."))
    patron._circ_limits = (today, patron.circ_balance or 0, patron.circ_overdue or 0)
    return patron


# --- check-out ---------------------------------------------------------------------------


@dataclass
class CheckoutResult:
    loan: Loan
    item: Item
    due_at: dt.datetime
    rule_id: int
    rule_why: str
    overridden: list[str] = field(default_factory=list)
    hold_filled: bool = False
    repeated: bool = False  # the item was already lent to this patron today: no new loan


def _mark_active(patron, today: dt.date) -> None:
    """The patron's last active month (RPT-1). The UPDATE names the row only when the
    month changed, so the row is written once a month at most; it is always sent,
    so a check-out costs the same number of queries for every patron (PERF-CIRC-3)."""
    from quietshelf.patrons.models import Patron

    month = today.replace(day=1)
    Patron.objects.filter(pk=patron.pk).filter(
        Q(last_active_month__isnull=True) | ~Q(last_active_month=month)
    ).update(last_active_month=month)
    patron.last_active_month = month


def _clean_override(actor, reason, branch_id, codes) -> str:
    reason = (reason or "").strip()
    if not reason:
        return ""
    _require(actor, "circulation.override", branch_id=branch_id)
    text = f"{','.join(codes)}: {reason}"[:200]
    if audit._PERSONAL_LOOKING.search(text):
        raise InvalidInput(
            gettext_noop(
                "An override reason must not hold card, phone numbers or e-mail addresses."
            ),
            code="reason_personal",
        )
    return text


# the refusals a desk override of the patron's blocks sets aside for one visit (PAT-3)
PATRON_REFUSALS = frozenset(
    {"patron_blocked", "patron_expired", "patron_restricted", "patron_pending"}
)


@transaction.atomic
def desk_block_override(*, actor, patron_id, reason: str, branch_id) -> str:
    """Lend to a blocked patron during this visit (PAT-3): needs circulation.override and
    patrons.override_block, a reason; each manual block in force gets an override row and
    the patron's audit trail an "overridden" entry. Returns the cleaned reason."""
    from quietshelf.patrons import policy as patron_policy
    from quietshelf.patrons import services as patron_services
    from quietshelf.patrons.models import Block, BlockReason

    _require(actor, "circulation.override", branch_id=branch_id)
    require(actor, "patrons.override_block", branch_id=branch_id)
    reason = (reason or "").strip()[:200]
    if not reason:
        raise InvalidInput(gettext_noop("Give a reason for the override."), code="reason_required")
    _clean_override(actor, reason, branch_id, ["patron_blocked"])
    patron = _patron(patron_id)
    blocks = list(Block.objects.filter(patron=patron, lifted_at__isnull=True))
    for b in patron_policy.effective_blocks(patron, blocks):
        if b.block_id is not None or b.code in BlockReason.values:
            patron_services.block_override_in_transaction(
                actor=actor,
                patron_id=patron.pk,
                reason=reason,
                block_id=b.block_id,
                code="" if b.block_id else b.code,
            )
    audit.record(actor=actor, action="overridden", obj=patron, reason="desk visit")
    return reason


@transaction.atomic
def checkout(
    *,
    actor,
    item_barcode: str,
    patron_id,
    branch_id,
    override_reason: str | None = None,
    override_only: frozenset[str] | None = None,
) -> CheckoutResult:
    """Lend an item (CIR-2). Every check runs; overridable refusals need a permitted reason
    (`override_only`: the refusal codes that reason may set aside; None: any overridable)."""
    _require(actor, "circulation.checkout", branch_id=branch_id, acting_for=patron_id)
    branch = _branch(branch_id)
    item = _locked_item(item_barcode)
    now = _now()
    today = _local_date(now)
    patron = _checkout_patron(patron_id, today=today)
    refusals: list[Refusal] = []

    refusals.extend(_patron_refusals(patron, today))
    # every open hold that matters here, in one query: the patron's on this
    # title, and anyone's on this copy
    holds = list(
        Hold.objects.filter(record_id=item.record_id, status__in=OPEN_HOLD).filter(
            Q(patron=patron) | Q(item=item)
        )
    )

    own_hold = None
    if item.status == ItemStatus.ON_LOAN:
        open_loan = Loan.objects.filter(item=item, returned_at__isnull=True).first()
        holder = open_loan.patron_id if open_loan else None
        if (
            holder == patron.pk
            and open_loan.renewals == 0
            and _local_date(open_loan.checked_out_at) == today
        ):
            # the same item scanned again for the same patron today (a double scan,
            # or a retried request): the loan it already made, nothing new
            return CheckoutResult(
                loan=open_loan,
                item=item,
                due_at=open_loan.due_at,
                rule_id=open_loan.rule_id or 0,
                rule_why="",
                repeated=True,
            )
        if holder == patron.pk:
            raise CirculationRefused(
                "The patron already has this item on loan; renew it instead.",
                code="already_on_loan_to_patron",
                details={"refusals": ["already_on_loan_to_patron"], "overridable": False},
            )
        refusals.append(
            Refusal(
                "item_on_loan",
                gettext_noop("The item is already on loan; check it in first."),
                False,
            )
        )
    elif item.status == ItemStatus.ON_HOLD_SHELF:
        own_hold = next(
            (h for h in holds if h.item_id == item.pk and h.status == HoldStatus.ON_SHELF), None
        )
        if own_hold is None or own_hold.patron_id != patron.pk:
            refusals.append(
                Refusal(
                    "held_for_other",
                    gettext_noop("The item is on the hold shelf for another patron."),
                    False,
                )
            )
            own_hold = None
    elif item.status == ItemStatus.IN_TRANSIT:
        refusals.append(
            Refusal(
                "item_in_transit",
                gettext_noop("The item is in transit; check it in first."),
                False,
            )
        )
    elif item.status in OVERRIDABLE_STATUSES:
        refusals.append(
            Refusal(
                "item_status",
                gettext_noop("The item is marked %(status)s."),
                params={"status": item.get_status_display().lower(), "code": item.status},
            )
        )
    elif item.status != ItemStatus.AVAILABLE:
        refusals.append(
            Refusal(
                "item_status",
                gettext_noop("The item is %(status)s."),
                False,
                params={"status": item.get_status_display().lower(), "code": item.status},
            )
        )
    if not item.item_type.circulates:
        refusals.append(Refusal("not_circulating", gettext_noop("This item type is not for loan.")))

    rule, choice = find_rule(
        patron_group_id=patron.group_id, item_type_id=item.item_type_id, branch_id=branch.pk
    )

    if rule.max_loans is not None and (patron.circ_loans or 0) >= rule.max_loans:
        refusals.append(
            Refusal(
                "loan_limit",
                gettext_noop("The patron has the most loans allowed (%(max)s)."),
                params={"max": rule.max_loans},
            )
        )
    if (
        rule.max_loans_per_type is not None
        and Loan.objects.filter(
            patron=patron, returned_at__isnull=True, item__item_type_id=item.item_type_id
        ).count()
        >= rule.max_loans_per_type
    ):
        refusals.append(
            Refusal(
                "loan_limit_type",
                gettext_noop("The patron has the most loans of this item type allowed (%(max)s)."),
                params={"max": rule.max_loans_per_type},
            )
        )
    if own_hold is None and item.status == ItemStatus.AVAILABLE:
        others = [
            h
            for h in holds
            if h.item_level
            and h.item_id == item.pk
            and h.status == HoldStatus.WAITING
            and h.patron_id != patron.pk
            and (h.suspended_until is None or h.suspended_until < today)
        ]
        if others:
            refusals.append(
                Refusal("hold_by_other", gettext_noop("Another patron has a hold on this copy."))
            )

    overridden: list[str] = []
    audit_reason = ""
    if refusals:
        if (
            not override_reason
            or not all(r.overridable for r in refusals)
            or (override_only is not None and any(r.code not in override_only for r in refusals))
        ):
            _refuse(refusals)
        overridden = [r.code for r in refusals]
        audit_reason = _clean_override(actor, override_reason, branch.pk, overridden)

    calendar = calendar_for(branch.pk, since=today)
    due = policy.due_at(
        start=timezone.localtime(now),
        period=rule.loan_period,
        unit=rule.period_unit,
        calendar=calendar,
    )
    try:
        # no savepoint: an IntegrityError here ends this transaction as a Conflict
        loan = Loan.objects.create(
            item=item,
            patron=patron,
            patron_group_id=patron.group_id,
            branch=branch,
            rule=rule,
            checked_out_at=now,
            due_at=due,
            overridden=bool(overridden),
        )
    except IntegrityError:
        raise Conflict(gettext_noop("The item is already on loan."), code="item_on_loan") from None
    hold_filled = False
    if own_hold is None:
        # an available copy of a title the patron waits for fills that hold too
        # (a copy trapped for them elsewhere stays theirs)
        own_hold = next(
            (
                h
                for h in holds
                if h.patron_id == patron.pk
                and h.status == HoldStatus.WAITING
                and (not h.item_level or h.item_id == item.pk)
            ),
            None,
        )
    if own_hold is not None:
        _close_hold(own_hold, HoldStatus.FILLED, now, item=item)
        hold_filled = True
    _set_item_status(item, ItemStatus.ON_LOAN)
    _mark_active(patron, today)
    _event(
        EventKind.CHECKOUT,
        item=item,
        branch_id=branch.pk,
        patron_group_id=patron.group_id,
        day=today,
    )
    if overridden:
        audit.record(actor=actor, action="overridden", obj=loan, reason=audit_reason)
    return CheckoutResult(
        loan=loan,
        item=item,
        due_at=due,
        rule_id=rule.pk,
        rule_why=choice.why,
        overridden=overridden,
        hold_filled=hold_filled,
    )


# --- check-in ------------------------------------------------------------------------------


@dataclass
class CheckinResult:
    item: Item
    loan_closed: bool
    route: str  # "shelve", "hold_shelf", "transit"
    to_branch: Branch | None
    message: str  # English; pages show gettext(template) % params
    fine_minor: int = 0
    fee_id: uuid.UUID | None = None
    hold_id: uuid.UUID | None = None
    shelf_expires_on: dt.date | None = None
    overdue: bool = False
    template: str = ""
    params: dict = field(default_factory=dict)


def _routing(template: str, **params) -> dict:
    """The routing message in English plus what a page needs to translate it."""
    return {"message": template % params, "template": template, "params": params}


def _deidentify_delay_days() -> int:
    # the loan rule of the retention schedule (privacy.retention): one truth
    return max(0, rule_days("loan"))


def _unlink_loan(loan: Loan) -> None:
    """The loan loses its patron; what it keeps is coarsened (PRV-HIST-5)."""
    loan.patron = None
    for name in retention.LOAN_TIMES:
        setattr(loan, name, coarsen(getattr(loan, name)))


def _charge(
    *,
    patron,
    fee_type: str,
    amount: int,
    branch_id,
    item=None,
    loan=None,
    by=None,
    now=None,
    reason: str = "",
) -> Fee:
    now = now or _now()
    fee = Fee.objects.create(
        subject_id=patron.subject_id if patron else None,
        patron=patron,
        type=fee_type,
        branch_id=branch_id,
        item=item,
        record_id=item.record_id if item else None,
        loan=loan,
        original_minor=amount,
        currency=getattr(settings, "QUIETSHELF_CURRENCY", "NOK"),
        created_at=now,
    )
    FeeTransaction.objects.create(
        fee=fee,
        subject_id=fee.subject_id,
        kind="charge",
        amount_minor=amount,
        reason=reason or None,
        by=by,
        at=now,
    )
    return fee


def _next_hold(item: Item, today: dt.date) -> Hold | None:
    qs = (
        Hold.objects.filter(record_id=item.record_id, status=HoldStatus.WAITING)
        .filter(Q(item_level=False) | Q(item=item))
        .filter(Q(suspended_until__isnull=True) | Q(suspended_until__lt=today))
        .order_by("placed_at", "id")
    )
    if connection.features.has_select_for_update_skip_locked:
        qs = qs.select_for_update(skip_locked=True)
    else:
        qs = qs.select_for_update()
    return qs.first()


def _shelf_expiry(pickup_branch_id, today: dt.date) -> dt.date:
    days = int(getattr(settings, "QUIETSHELF_HOLD_SHELF_DAYS", 7))
    target = today + dt.timedelta(days=days)
    try:
        return calendar_for(pickup_branch_id, since=target).next_open_day(target)
    except policy.CalendarClosed:
        return target


def _route(item: Item, at_branch: Branch, now: dt.datetime, *, trap: bool = True) -> CheckinResult:
    """Where an item goes now that it is back in our hands at `at_branch`.

    trap=False (the desk's confirm step): a hold that would take the copy is only named;
    the copy stays here, available, until hold_trap() confirms."""
    today = _local_date(now)
    # an open transit ends here (received) or is replaced by a new one
    if item.status == ItemStatus.IN_TRANSIT:
        Transit.objects.filter(item=item, received_at__isnull=True).update(received_at=now)
    hold = _next_hold(item, today)
    if hold is not None and not trap:
        _set_item_status(item, ItemStatus.AVAILABLE)
        return CheckinResult(
            item=item,
            loan_closed=False,
            route="hold_waiting",
            to_branch=hold.pickup_branch,
            hold_id=hold.pk,
            **_routing(
                gettext_noop("A hold waits for this title (pickup at %(branch)s): confirm it."),
                branch=hold.pickup_branch.name,
            ),
        )
    if hold is not None:
        hold.item = item
        if hold.pickup_branch_id == at_branch.pk:
            hold.status = HoldStatus.ON_SHELF
            hold.shelf_expires_on = _shelf_expiry(at_branch.pk, today)
            hold.save(update_fields=["item", "status", "shelf_expires_on"])
            _set_item_status(item, ItemStatus.ON_HOLD_SHELF)
            return CheckinResult(
                item=item,
                loan_closed=False,
                route="hold_shelf",
                to_branch=at_branch,
                hold_id=hold.pk,
                shelf_expires_on=hold.shelf_expires_on,
                **_routing(
                    gettext_noop("Put on the hold shelf until %(date)s."),
                    date=f"{hold.shelf_expires_on:%Y-%m-%d}",
                ),
            )
        hold.status = HoldStatus.IN_TRANSIT
        hold.save(update_fields=["item", "status"])
        Transit.objects.create(
            item=item, from_branch=at_branch, to_branch=hold.pickup_branch, hold=hold, sent_at=now
        )
        _set_item_status(item, ItemStatus.IN_TRANSIT)
        return CheckinResult(
            item=item,
            loan_closed=False,
            route="transit",
            to_branch=hold.pickup_branch,
            hold_id=hold.pk,
            **_routing(
                gettext_noop("Hold: send to %(branch)s (pickup)."), branch=hold.pickup_branch.name
            ),
        )
    if item.branch_id != at_branch.pk:
        Transit.objects.create(
            item=item, from_branch=at_branch, to_branch_id=item.branch_id, sent_at=now
        )
        _set_item_status(item, ItemStatus.IN_TRANSIT)
        return CheckinResult(
            item=item,
            loan_closed=False,
            route="transit",
            to_branch=item.branch,
            **_routing(gettext_noop("Send home to %(branch)s."), branch=item.branch.name),
        )
    _set_item_status(item, ItemStatus.AVAILABLE)
    return CheckinResult(
        item=item,
        loan_closed=False,
        route="shelve",
        to_branch=at_branch,
        **_routing(gettext_noop("Shelve.")),
    )


def _arrived_for_hold(item: Item, at_branch: Branch, now) -> CheckinResult | None:
    """An item in transit for a hold: at the pickup branch it goes onto the hold shelf;
    scanned anywhere else it is sent on to the pickup branch (the hold keeps it)."""
    hold = (
        _for_update(Hold.objects.select_related("pickup_branch"))
        .filter(item=item, status=HoldStatus.IN_TRANSIT)
        .first()
    )
    if hold is None:
        return None
    today = _local_date(now)
    Transit.objects.filter(item=item, received_at__isnull=True).update(received_at=now)
    if hold.pickup_branch_id != at_branch.pk:
        Transit.objects.create(
            item=item, from_branch=at_branch, to_branch=hold.pickup_branch, hold=hold, sent_at=now
        )
        return CheckinResult(
            item=item,
            loan_closed=False,
            route="transit",
            to_branch=hold.pickup_branch,
            hold_id=hold.pk,
            **_routing(
                gettext_noop("Hold: send on to %(branch)s (pickup)."),
                branch=hold.pickup_branch.name,
            ),
        )
    hold.status = HoldStatus.ON_SHELF
    hold.shelf_expires_on = _shelf_expiry(at_branch.pk, today)
    hold.save(update_fields=["status", "shelf_expires_on"])
    _set_item_status(item, ItemStatus.ON_HOLD_SHELF)
    return CheckinResult(
        item=item,
        loan_closed=False,
        route="hold_shelf",
        to_branch=at_branch,
        hold_id=hold.pk,
        shelf_expires_on=hold.shelf_expires_on,
        **_routing(
            gettext_noop("Arrived for a hold: hold shelf until %(date)s."),
            date=f"{hold.shelf_expires_on:%Y-%m-%d}",
        ),
    )


def _record_reading_history(loan: Loan, item: Item, returned: dt.date) -> None:
    from quietshelf.privacy.consent import has_consent

    if loan.patron_id is None:
        return
    # check-in reads the patron's subject with the loan row (no Patron row needed)
    subject_id = getattr(loan, "patron_subject_id", None) or loan.patron.subject_id
    if subject_id is None or not has_consent(subject_id=subject_id, scope=READING_HISTORY):
        return
    ReadingHistoryEntry.objects.create(
        subject_id=subject_id,
        patron_id=loan.patron_id,
        data={
            "record_id": item.record_id,
            "title": item.record.title,
            "borrowed": _local_date(loan.checked_out_at).isoformat(),
            "returned": returned.isoformat(),
        },
    )


def _fine_due(loan: Loan, item: Item, today: dt.date) -> int:
    """The whole overdue fine of a loan as of `today` (owning branch's calendar)."""
    rule = loan.rule
    if rule is None or not rule.fine_per_day_minor:
        return 0
    due_day = _local_date(loan.due_at)
    if today <= due_day:
        return 0
    terms = policy.FineTerms(
        per_day_minor=rule.fine_per_day_minor,
        grace_days=rule.grace_days,
        max_minor=rule.max_fine_minor,
        open_days_only=rule.fines_open_days_only,
    )
    owning = calendar_for(item.branch_id, since=due_day)
    return policy.overdue_fine(due=due_day, returned=today, terms=terms, calendar=owning)


_LOOK_UP = object()


def _accrue_fine(
    loan: Loan, item: Item, today, now, *, by=None, fee=_LOOK_UP
) -> tuple[int, Fee | None]:
    """Bring the loan's overdue fee up to the fine due today: one fee per loan, and
    each increase is a new charge line (the ledger is never edited)."""
    fine = _fine_due(loan, item, today)
    if fee is _LOOK_UP:
        fee = _for_update(Fee.objects.filter(loan=loan, type=FeeType.OVERDUE)).first()
    if not fine or loan.patron_id is None:
        return fine, fee
    if fee is None:
        fee = _charge(
            patron=loan.patron,
            fee_type=FeeType.OVERDUE,
            amount=fine,
            branch_id=item.branch_id,
            item=item,
            loan=loan,
            by=by,
            now=now,
        )
        return fine, fee
    charged = (
        FeeTransaction.objects.filter(fee=fee, kind="charge").aggregate(s=Sum("amount_minor"))["s"]
        or 0
    )
    if fine > charged:
        _tx(by, fee, "charge", fine - charged)
    return fine, fee


@transaction.atomic
def charge_overdue_fines(*, today: dt.date | None = None) -> int:
    """Daily: bring the fines of still-overdue open loans up to date (CIR-4).

    The scheduling comes with the jobs issue. Returns the number of loans
    whose fee grew or was created.
    """
    today = today or clock.today()
    now = _now()
    start = timezone.make_aware(dt.datetime.combine(today, dt.time()))
    n = 0
    loans = Loan.objects.filter(
        returned_at__isnull=True,
        due_at__lt=start,
        patron__isnull=False,
        rule__fine_per_day_minor__gt=0,
    ).values_list("pk", "item_id")
    for loan_id, item_id in list(loans):
        item = _lock_item_by_pk(item_id)
        loan = _for_update(Loan.objects.select_related("patron", "rule")).filter(pk=loan_id).first()
        if loan is None or loan.returned_at is not None:
            continue
        before = (
            FeeTransaction.objects.filter(fee__loan=loan, kind="charge").aggregate(
                s=Sum("amount_minor")
            )["s"]
            or 0
        )
        fine, _fee = _accrue_fine(loan, item, today, now)
        if fine > before:
            n += 1
    return n


@transaction.atomic
def declare_lost(*, actor, loan_id) -> Fee | None:
    """The patron lost the item: the loan ends, the item is lost, the lost-item fee
    (item price or the rule's default, plus the processing fee) is charged."""
    try:
        lid = uuid.UUID(str(loan_id))
    except (ValueError, TypeError):
        raise NotFound(gettext_noop("No such loan."), code="loan_not_found") from None
    item_id = Loan.objects.filter(pk=lid).values_list("item_id", flat=True).first()
    if item_id is None:
        raise NotFound(gettext_noop("No such loan."), code="loan_not_found")
    item = _lock_item_by_pk(item_id)
    loan = _for_update(Loan.objects.select_related("patron", "rule")).filter(pk=lid).first()
    if loan is None or loan.returned_at is not None or loan.patron is None:
        raise Conflict(gettext_noop("This loan is closed."), code="loan_closed")
    _require(actor, "circulation.manage_fees", branch_id=item.branch_id)
    now = _now()
    _accrue_fine(loan, item, _local_date(now), now, by=_staff(actor))
    rule = loan.rule
    amount = 0
    if rule is not None:
        amount = policy.lost_fee(
            policy=rule.lost_fee_policy,
            item_price_minor=item.price_minor,
            default_minor=rule.lost_default_minor,
        )
        amount += rule.processing_fee_minor
    fee = None
    if amount > 0:
        fee = _charge(
            patron=loan.patron,
            fee_type=FeeType.LOST,
            amount=amount,
            branch_id=item.branch_id,
            item=item,
            loan=loan,
            by=_staff(actor),
            now=now,
        )
    loan.returned_at = now
    loan.save(update_fields=["returned_at"])
    _release_closed_loan(loan.pk)
    _set_item_status(item, ItemStatus.LOST)
    audit.record(actor=actor, action="changed", obj=loan, reason="declared lost")
    return fee


def _checkin_loan_rows(item_id):
    return (
        _for_update(Loan.objects.select_related("rule"))
        .filter(item_id=item_id, returned_at__isnull=True)
        .annotate(
            fees_exist=Exists(Fee.objects.filter(loan=OuterRef("pk"))),
            patron_subject_id=F("patron__subject"),
        )
    )


# the open loan of an item, locked, compiled once per thread
_CHECKIN_LOAN = _LazyTemplate(
    lambda: compiled.Template(
        "circulation.checkin_loan",
        _checkin_loan_rows,
        (_SENTINEL_ID,),
        (compiled.field_prep(Loan, "item"),),
    )
)


@transaction.atomic
def checkin(*, actor, item_barcode: str, branch_id, trap: bool = True) -> CheckinResult:
    """Take an item back (CIR-2): close the loan, fine it, de-identify it, route the item
    (trap=False: a waiting hold is named, not filled, until hold_trap confirms it)."""
    _require(actor, "circulation.checkout", branch_id=branch_id)
    branch = _branch(branch_id)
    # the record for its title; type and branch are read only on the rare paths needing them
    item = _locked_item(item_barcode, related=("record",))
    now = _now()
    today = _local_date(now)
    loan = _CHECKIN_LOAN.first(item.pk)
    fine = 0
    fee = None
    overdue = False
    if loan is not None:
        loan.returned_at = now
        loan.return_branch = branch
        overdue = now > loan.due_at
        # Fees of a loan are only made under its item's lock, which we hold: most
        # loans have none, and then there is nothing to lock.
        loan_fees = list(_for_update(Fee.objects.filter(loan=loan))) if loan.fees_exist else []
        overdue_fee = next((f for f in loan_fees if f.type == FeeType.OVERDUE), None)
        fine, fee = _accrue_fine(loan, item, today, now, by=_staff(actor), fee=overdue_fee)
        _record_reading_history(loan, item, today)
        if loan.patron_id and _escrow_days():
            _escrow_keep(item, loan.patron_id, today)
        if not loan_fees and fee is None:
            # PRV-HIST-1: the link goes in this transaction (no fee holds it)
            if _deidentify_delay_days() == 0:
                _unlink_loan(loan)
            loan.save(
                update_fields=["returned_at", "return_branch", "patron", *retention.LOAN_TIMES]
            )
        else:
            loan.save(update_fields=["returned_at", "return_branch"])
            _release_closed_loan(loan.pk)  # goes now unless a fee is still open
        _event(
            EventKind.CHECKIN,
            item=item,
            branch_id=branch.pk,
            patron_group_id=loan.patron_group_id,
            day=today,
        )
    result = None
    if loan is None and item.status == ItemStatus.IN_TRANSIT:
        result = _arrived_for_hold(item, branch, now)
    if result is None:
        result = _route(item, branch, now, trap=trap)
    result.loan_closed = loan is not None
    result.fine_minor = fine
    result.fee_id = fee.pk if fee else None
    result.overdue = overdue
    if fine:
        amount = policy.format_minor(fine, settings.QUIETSHELF_CURRENCY)
        result.message += f" Overdue fine {amount}."
    return result


@transaction.atomic
def hold_trap(*, actor, item_barcode: str, branch_id) -> CheckinResult:
    """The desk's confirm step (CIR-3): set a copy on the shelf aside for the next hold
    (hold shelf here, or a transit to the pickup branch); a copy no hold wants is shelved."""
    _require(actor, "circulation.checkout", branch_id=branch_id)
    branch = _branch(branch_id)
    item = _locked_item(item_barcode)
    if item.status != ItemStatus.AVAILABLE:
        raise Conflict(gettext_noop("The item is not on the shelf."), code="item_not_available")
    return _route(item, branch, _now())


# --- renewal -------------------------------------------------------------------------------


@dataclass
class RenewResult:
    loan: Loan
    due_at: dt.datetime
    renewals_left: int


@transaction.atomic
def renew(*, actor, loan_id, override_reason: str | None = None) -> RenewResult:
    try:
        lid = uuid.UUID(str(loan_id))
    except (ValueError, TypeError):
        raise NotFound(gettext_noop("No such loan."), code="loan_not_found") from None
    item_id = Loan.objects.filter(pk=lid).values_list("item_id", flat=True).first()
    if item_id is None:
        raise NotFound(gettext_noop("No such loan."), code="loan_not_found")
    item = _lock_item_by_pk(item_id)
    loan = _for_update(Loan.objects.select_related("rule")).filter(pk=lid).first()
    if loan is None or loan.returned_at is not None or loan.patron_id is None:
        raise Conflict(gettext_noop("This loan is closed."), code="loan_closed")
    _require(actor, "circulation.checkout", branch_id=loan.branch_id, patron_id=loan.patron_id)
    patron = _patron(loan.patron_id)
    now = _now()
    today = _local_date(now)
    rule = loan.rule
    if rule is None:
        rule, _ = find_rule(
            patron_group_id=patron.group_id,
            item_type_id=item.item_type_id,
            branch_id=loan.branch_id,
        )
    others = (
        Hold.objects.filter(record_id=item.record_id, status=HoldStatus.WAITING)
        .filter(Q(item_level=False) | Q(item=item))
        .filter(Q(suspended_until__isnull=True) | Q(suspended_until__lt=today))
        .exclude(patron_id=patron.pk)
        .count()
    )
    refusals = _patron_refusals(patron, today)
    calendar = calendar_for(loan.branch_id, since=today)
    period = rule.renewal_period or rule.loan_period
    due = policy.due_at(
        start=timezone.localtime(now), period=period, unit=rule.period_unit, calendar=calendar
    )
    current_due = timezone.localtime(loan.due_at)
    code = policy.renewal_refusal(
        renewals_done=loan.renewals,
        renewals_allowed=rule.renewals_allowed,
        holds_by_others=others,
        days_to_due=(current_due.date() - today).days,
        no_renewal_before_days=rule.no_renewal_before_days,
        extends=policy.renewal_extends(current_due=current_due, new_due=due, unit=rule.period_unit),
    )
    if code == "renewal_limit":
        refusals.append(
            Refusal(
                "renewal_limit",
                gettext_noop("The loan was renewed the most times allowed (%(max)s)."),
                params={"max": rule.renewals_allowed},
            )
        )
    elif code == "hold_by_other":
        refusals.append(
            Refusal("hold_by_other", gettext_noop("Another patron is waiting for this title."))
        )
    elif code == "too_soon":
        refusals.append(
            Refusal(
                "too_soon",
                gettext_noop("Too soon to renew: it is due %(due)s."),
                params={"due": current_due.date().isoformat()},
            )
        )
    audit_reason = ""
    if refusals:
        if not override_reason or _is_patron_self(actor, patron.pk):
            _refuse(refusals)
        audit_reason = _clean_override(
            actor, override_reason, loan.branch_id, [r.code for r in refusals]
        )
    loan.due_at = max(due, loan.due_at)
    loan.renewals += 1
    loan.save(update_fields=["due_at", "renewals"])
    _mark_active(patron, today)
    _event(
        EventKind.RENEWAL,
        item=item,
        branch_id=loan.branch_id,
        patron_group_id=loan.patron_group_id,
        day=today,
    )
    if audit_reason:
        audit.record(actor=actor, action="overridden", obj=loan, reason=audit_reason)
    return RenewResult(
        loan=loan, due_at=loan.due_at, renewals_left=max(0, rule.renewals_allowed - loan.renewals)
    )


# --- de-identification ---------------------------------------------------------------------


def _unresolved_fee_loans():
    return Fee.objects.filter(resolved_at__isnull=True, loan__isnull=False).values("loan_id")


@transaction.atomic
def deidentify_closed_loans(*, today: dt.date | None = None) -> int:
    """Remove the patron from loans closed at least QUIETSHELF_LOAN_DEIDENTIFY_DAYS ago.

    Loans with an unresolved fee keep it. Returns the number of loans changed.
    """
    today = today or clock.today()
    days = _deidentify_delay_days()
    cutoff_day = today - dt.timedelta(days=days)
    cutoff = timezone.make_aware(dt.datetime.combine(cutoff_day + dt.timedelta(days=1), dt.time()))
    return (
        Loan.objects.filter(returned_at__isnull=False, patron__isnull=False, returned_at__lt=cutoff)
        .exclude(pk__in=_unresolved_fee_loans())
        .update(patron=None, **coarse_values(*retention.LOAN_TIMES))
    )


# --- holds ---------------------------------------------------------------------------------


def _close_hold(hold: Hold, status: str, now, *, item: Item | None = None) -> None:
    """Close a hold and de-identify it in the same transaction (PRV-HIST-1)."""
    group_id = hold.patron_group_id
    hold.status = status
    # PRV-HIST-5: the closed hold keeps only coarse times
    hold.closed_at = coarsen(now)
    hold.placed_at = coarsen(hold.placed_at)
    hold.patron = None
    hold.suspended_until = None
    hold.save(update_fields=["status", "closed_at", "placed_at", "patron", "suspended_until"])
    kind = EventKind.HOLD_FILLED if status == HoldStatus.FILLED else EventKind.HOLD_CANCELLED
    _event(
        kind,
        item=item,
        record_id=hold.record_id,
        branch_id=hold.pickup_branch_id,
        patron_group_id=group_id,
        day=_local_date(now),
    )


@transaction.atomic
def hold_place(
    *, actor, patron_id, record_id, pickup_branch_id, item_barcode: str | None = None
) -> Hold:
    """A title-level hold (any copy) or, with item_barcode, an item-level hold."""
    pickup = _branch(pickup_branch_id)
    _require(actor, "circulation.checkout", branch_id=pickup.pk, patron_id=patron_id)
    patron = _patron(patron_id, lock=True)
    now = _now()
    today = _local_date(now)
    item = None
    if item_barcode:
        item = _locked_item(item_barcode)
        record_id = item.record_id
    try:
        record = BibRecord.objects.get(pk=int(record_id))
    except (BibRecord.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such title.", code="record_not_found") from None
    items = list(Item.objects.filter(record=record).select_related("item_type"))
    if not items:
        raise Conflict("This title has no copies to hold.", code="no_items")
    refusals = _patron_refusals(patron, today)
    if refusals:
        _refuse([Refusal(r.code, r.template, False, r.params) for r in refusals])
    if Hold.objects.filter(patron=patron, record=record, status__in=OPEN_HOLD).exists():
        raise Conflict("The patron already has a hold on this title.", code="duplicate_hold")
    on_loan_here = Loan.objects.filter(patron=patron, returned_at__isnull=True, item__record=record)
    if item is not None:
        on_loan_here = on_loan_here.filter(item=item)
    if on_loan_here.exists():
        raise Conflict("The patron has this on loan already.", code="hold_on_own_loan")
    sample = item or next((i for i in items if i.item_type.circulates), items[0])
    rule, _ = find_rule(
        patron_group_id=patron.group_id, item_type_id=sample.item_type_id, branch_id=pickup.pk
    )
    if not rule.holds_allowed:
        raise CirculationRefused(
            "Holds are not allowed for this patron group and item type.",
            code="holds_not_allowed",
            details={"refusals": ["holds_not_allowed"], "overridable": False},
        )
    if rule.hold_limit is not None:
        open_holds = Hold.objects.filter(patron=patron, status__in=OPEN_HOLD).count()
        if open_holds >= rule.hold_limit:
            raise CirculationRefused(
                f"The patron has the most holds allowed ({rule.hold_limit}).",
                code="hold_limit",
                details={"refusals": ["hold_limit"], "overridable": False},
            )
    hold = Hold.objects.create(
        record=record,
        item=item,
        item_level=item is not None,
        patron=patron,
        patron_group_id=patron.group_id,
        pickup_branch=pickup,
        placed_at=now,
    )
    _event(
        EventKind.HOLD_PLACED,
        item=item,
        record_id=record.pk,
        branch_id=pickup.pk,
        patron_group_id=patron.group_id,
        day=today,
    )
    return hold


def _locked_hold(hold_id) -> Hold:
    try:
        hid = uuid.UUID(str(hold_id))
    except (ValueError, TypeError):
        raise NotFound("No such hold.", code="hold_not_found") from None
    item_id = Hold.objects.filter(pk=hid).values_list("item_id", flat=True).first()
    if item_id is not None:
        _lock_item_by_pk(item_id)  # lock order: item first
    hold = Hold.objects.select_for_update().filter(pk=hid).first()
    if hold is None:
        raise NotFound("No such hold.", code="hold_not_found")
    return hold


@transaction.atomic
def hold_cancel(*, actor, hold_id) -> Hold:
    """Cancel by the patron (Actor.patron) or staff; a trapped copy is routed on."""
    hold = _locked_hold(hold_id)
    if hold.status not in OPEN_HOLD:
        raise Conflict("This hold is no longer open.", code="hold_closed")
    _require(
        actor, "circulation.checkout", branch_id=hold.pickup_branch_id, patron_id=hold.patron_id
    )
    now = _now()
    trapped = hold.item if hold.status in ("in_transit", "on_shelf") else None
    was_shelf = hold.status == HoldStatus.ON_SHELF
    if not hold.item_level:
        hold.item = None
    _close_hold(hold, HoldStatus.CANCELLED, now)
    if trapped is not None:
        item = _lock_item_by_pk(trapped.pk)
        if was_shelf:
            _route(item, hold.pickup_branch, now)
        else:
            # still travelling: re-route once it arrives (check-in there routes it)
            Transit.objects.filter(item=item, received_at__isnull=True).update(hold=None)
    return hold


@transaction.atomic
def hold_suspend(*, actor, hold_id, until: dt.date | None) -> Hold:
    """Suspend a waiting hold until a date (it keeps its place), or resume it (until=None)."""
    hold = _locked_hold(hold_id)
    _require(
        actor, "circulation.checkout", branch_id=hold.pickup_branch_id, patron_id=hold.patron_id
    )
    if hold.status != HoldStatus.WAITING:
        raise Conflict("Only a waiting hold can be suspended.", code="hold_not_waiting")
    if until is not None and until < clock.today():
        raise InvalidInput("Suspend until a date in the future.", code="invalid_date")
    hold.suspended_until = until
    hold.save(update_fields=["suspended_until"])
    return hold


@transaction.atomic
def expire_hold_shelf(*, today: dt.date | None = None) -> int:
    """Holds left on the shelf past their expiry date expire; their copies are routed on."""
    today = today or clock.today()
    now = _now()
    n = 0
    for hold_id in list(
        Hold.objects.filter(status=HoldStatus.ON_SHELF, shelf_expires_on__lt=today).values_list(
            "pk", flat=True
        )
    ):
        hold = _locked_hold(hold_id)
        if hold.status != HoldStatus.ON_SHELF:
            continue
        item = hold.item
        if not hold.item_level:
            hold.item = None
        _close_hold(hold, HoldStatus.EXPIRED, now)
        if item is not None:
            _route(_lock_item_by_pk(item.pk), hold.pickup_branch, now)
        n += 1
    return n


# --- fees ----------------------------------------------------------------------------------


def fee_balance(fee_id) -> int:
    return FeeTransaction.objects.filter(fee_id=fee_id).aggregate(s=Sum("amount_minor"))["s"] or 0


def _locked_fee(fee_id) -> Fee:
    try:
        fid = uuid.UUID(str(fee_id))
    except (ValueError, TypeError):
        raise NotFound(gettext_noop("No such fee."), code="fee_not_found") from None
    fee = Fee.objects.select_for_update().filter(pk=fid).first()
    if fee is None:
        raise NotFound(gettext_noop("No such fee."), code="fee_not_found")
    return fee


def _release_closed_loan(loan_id) -> None:
    """A closed loan with no unresolved fee: its fees lose item, title and loan, and it
    loses its patron (now, or later by deidentify_closed_loans when a delay is set)."""
    if Fee.objects.filter(loan_id=loan_id, resolved_at__isnull=True).exists():
        return
    Fee.objects.filter(loan_id=loan_id).update(item=None, record=None, loan=None)
    if _deidentify_delay_days() == 0:
        Loan.objects.filter(pk=loan_id, returned_at__isnull=False).update(
            patron=None, **coarse_values(*retention.LOAN_TIMES)
        )


def _after_change(fee: Fee, balance: int, now) -> None:
    """Resolved at zero (reopened otherwise). A resolved fee keeps its item, title and
    loan only while the loan is still open (a later fine on it adds to the same fee)."""
    if balance == 0 and fee.resolved_at is None:
        fee.resolved_at = now
        loan_id = fee.loan_id
        if loan_id and Loan.objects.filter(pk=loan_id, returned_at__isnull=True).exists():
            fee.save(update_fields=["resolved_at"])
            return
        fee.item = None
        fee.record = None
        fee.loan = None
        fee.save(update_fields=["resolved_at", "item", "record", "loan"])
        if loan_id:
            _release_closed_loan(loan_id)
    elif balance != 0 and fee.resolved_at is not None:
        fee.resolved_at = None
        fee.save(update_fields=["resolved_at"])


def _tx(actor, fee: Fee, kind: str, amount: int, reason: str = "") -> FeeTransaction:
    now = _now()
    tx = FeeTransaction.objects.create(
        fee=fee,
        subject_id=fee.subject_id,
        kind=kind,
        amount_minor=amount,
        reason=reason or None,
        by=_staff(actor),
        at=now,
    )
    _after_change(fee, fee_balance(fee.pk), now)
    return tx


def _reason(reason) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give a reason.", code="reason_required")
    return reason[:500]


@transaction.atomic
def fee_charge(
    *,
    actor,
    patron_id,
    fee_type: str,
    amount,
    branch_id,
    item_barcode: str | None = None,
    reason: str = "",
) -> Fee:
    """A manual, damage, lost or card fee."""
    _require(actor, "circulation.manage_fees", branch_id=branch_id)
    if fee_type not in FeeType.values:
        raise InvalidInput("Unknown fee type.", code="invalid_fee_type")
    amount = policy.parse_amount(amount)
    branch = _branch(branch_id)
    patron = _patron(patron_id)
    item = _locked_item(item_barcode) if item_barcode else None
    fee = _charge(
        patron=patron,
        fee_type=fee_type,
        amount=amount,
        branch_id=branch.pk,
        item=item,
        by=_staff(actor),
        reason=(reason or "").strip()[:500],
    )
    audit.record(actor=actor, action="created", obj=fee)
    return fee


@transaction.atomic
def fee_pay(*, actor, fee_id, amount) -> FeeTransaction:
    fee = _locked_fee(fee_id)
    _require(
        actor, "circulation.manage_fees", branch_id=fee.branch_id, acting_for=fee.patron_id or ""
    )
    amount = policy.parse_amount(amount)
    balance = fee_balance(fee.pk)
    if amount > balance:
        raise InvalidInput(
            f"That is more than is owed ({policy.format_minor(balance, fee.currency)}).",
            code="overpayment",
            details={"balance_minor": balance},
        )
    return _tx(actor, fee, "payment", -amount)


@transaction.atomic
def fee_waive(*, actor, fee_id, reason: str, amount=None) -> FeeTransaction:
    fee = _locked_fee(fee_id)
    _require(actor, "circulation.manage_fees", branch_id=fee.branch_id)
    reason = _reason(reason)
    balance = fee_balance(fee.pk)
    amount = balance if amount is None else policy.parse_amount(amount)
    if amount <= 0 or amount > balance:
        raise InvalidInput("A waiver can be at most what is owed.", code="overwaiver")
    tx = _tx(actor, fee, "waiver", -amount, reason)
    audit.record(actor=actor, action="changed", obj=fee, reason="fee waived")
    return tx


@transaction.atomic
def fee_refund(*, actor, fee_id, amount, reason: str) -> FeeTransaction:
    """Give back money paid; what is refunded is owed again unless waived."""
    fee = _locked_fee(fee_id)
    _require(actor, "circulation.manage_fees", branch_id=fee.branch_id)
    reason = _reason(reason)
    amount = policy.parse_amount(amount)
    agg = FeeTransaction.objects.filter(fee=fee).aggregate(
        paid=Sum("amount_minor", filter=Q(kind="payment")),
        refunded=Sum("amount_minor", filter=Q(kind="refund")),
    )
    refundable = -(agg["paid"] or 0) - (agg["refunded"] or 0)
    if amount > refundable:
        raise InvalidInput("A refund can be at most what was paid.", code="overrefund")
    tx = _tx(actor, fee, "refund", amount, reason)
    audit.record(actor=actor, action="changed", obj=fee, reason="fee refunded")
    return tx


@transaction.atomic
def fee_pay_patron(*, actor, patron_id, amount, branch_id) -> list[FeeTransaction]:
    """A payment at the desk spread over the patron's fees, oldest first."""
    _require(actor, "circulation.manage_fees", branch_id=branch_id, acting_for=patron_id)
    amount = policy.parse_amount(amount)
    patron = _patron(patron_id)
    fees = list(
        Fee.objects.select_for_update()
        .filter(patron=patron, resolved_at__isnull=True)
        .order_by("created_at")
    )
    balances = {f.pk: fee_balance(f.pk) for f in fees}
    total = sum(balances.values())
    if amount > total:
        raise InvalidInput(
            f"That is more than is owed ({total} minor units).",
            code="overpayment",
            details={"balance_minor": total},
        )
    out = []
    left = amount
    for fee in fees:
        part = min(left, balances[fee.pk])
        if part > 0:
            out.append(_tx(actor, fee, "payment", -part))
            left -= part
        if left == 0:
            break
    return out


# --- reading history (PRV-HIST-3) ---------------------------------------------------------------


def erase_reading_history(subject_id) -> None:
    """Consent withdrawn: the history goes at once (called by privacy.withdraw_consent)."""
    ReadingHistoryEntry.objects.filter(subject_id=subject_id).delete()


@transaction.atomic
def reading_history_delete(*, actor, patron_id) -> int:
    _require(actor, "circulation.checkout", patron_id=patron_id)
    patron = _patron(patron_id)
    n, _ = ReadingHistoryEntry.objects.filter(patron=patron).delete()
    return n


@transaction.atomic
def reading_history_exported(*, actor, patron_id, fmt: str) -> None:
    """Record that the reading history left the system as a download (PRV-ACC-1, SEC-CSV-1):
    the API's export writes the same `exported` entry as the portal's."""
    _require(actor, "circulation.checkout", patron_id=patron_id)
    patron = _patron(patron_id)
    audit.record(actor=actor, action="exported", obj=patron, reason=f"reading history {fmt}")


# --- last-borrower escrow (PRV-HIST-4, off by default) ------------------------------------------


def _escrow_cipher():
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from quietshelf.privacy import keys

    return AESGCM(keys.instance_secret("circulation-last-borrower-escrow"))


def _escrow_days() -> int:
    return max(0, int(getattr(settings, "QUIETSHELF_LAST_BORROWER_ESCROW_DAYS", 0) or 0))


def _escrow_keep(item: Item, patron_id, today: dt.date) -> None:
    import os

    from quietshelf.circulation.models import LastBorrowerEscrow

    nonce = os.urandom(12)
    sealed = nonce + _escrow_cipher().encrypt(
        nonce, uuid.UUID(str(patron_id)).bytes, f"escrow:{item.pk}".encode()
    )
    LastBorrowerEscrow.objects.update_or_create(
        item=item,
        defaults={"sealed": sealed, "expires_on": today + dt.timedelta(days=_escrow_days())},
    )


@transaction.atomic
def escrow_open(*, actor, item_barcode: str, reason: str):
    """The privacy officer opens the sealed last borrower of an item, with a reason.

    The audit entry names the patron (so they see it in My account), never the item.
    """
    from quietshelf.circulation.models import LastBorrowerEscrow
    from quietshelf.patrons.models import Patron

    require(actor, "privacy.view_privacy_office")
    if not (reason or "").strip():
        raise InvalidInput("Give a reason for opening the escrow.", code="reason_required")
    item = _locked_item(item_barcode)
    row = LastBorrowerEscrow.objects.filter(item=item, expires_on__gte=clock.today()).first()
    if row is None:
        raise NotFound("No last borrower is kept for this item.", code="escrow_not_found")
    blob = bytes(row.sealed)
    pid = uuid.UUID(
        bytes=_escrow_cipher().decrypt(blob[:12], blob[12:], f"escrow:{item.pk}".encode())
    )
    patron = Patron.objects.filter(pk=pid).first()
    if patron is None:
        raise NotFound("The last borrower's account no longer exists.", code="escrow_erased")
    audit.record(actor=actor, action="escrow_opened", obj=patron, reason="damage or loss claim")
    return patron


@transaction.atomic
def purge_escrow(*, today: dt.date | None = None) -> int:
    from quietshelf.circulation.models import LastBorrowerEscrow

    today = today or clock.today()
    n, _ = LastBorrowerEscrow.objects.filter(expires_on__lt=today).delete()
    return n
