"""One function per SIP2 message: parse the request's fields, call a service, answer.

Every action is the circulation (or patrons) service called with a
TerminalActor: blocks, limits, holds, fees, de-identification on return and
the audit log work as at the desk. The actor carries only the permissions
the message needs, and only when the terminal account allows the message;
patron-scoped services refuse any patron but the one this session
authenticated (SEC-ACC-1).

Handlers run in the server's thread pool (never on the event loop); each
service call is its own transaction, and the reply is sent after it has
committed.

What a reply says about a patron (PRV-NOT-1, docs/sip2.md): the name as the
terminal account says (full, first name, none), never an address, e-mail
address or phone number; item lists carry barcodes, titles only for a
terminal allowed them; nothing at all beyond "valid patron: N" for an
unknown card, and nothing beyond "valid patron: Y, PIN: N" for a wrong PIN.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from quietshelf.accounts.authz import TerminalActor
from quietshelf.catalog.models import Branch, Item, ItemStatus
from quietshelf.circulation import selectors as circ_selectors
from quietshelf.circulation import services as circ
from quietshelf.circulation.models import OPEN_HOLD, Hold, HoldStatus, Loan
from quietshelf.core import clock
from quietshelf.core.errors import DomainError
from quietshelf.patrons import policy as patron_policy
from quietshelf.patrons import services as patron_services
from quietshelf.patrons.models import Block, Patron, PatronStatus
from quietshelf.sip2 import services
from quietshelf.sip2.models import PatronName, Terminal
from quietshelf.sip2.protocol import fields as F
from quietshelf.sip2.protocol.codec import Message, count4, flag, money, sip_datetime

log = logging.getLogger("quietshelf.sip2")

# What each message may do through the services (and nothing else).
MESSAGE_PERMISSIONS: dict[str, frozenset[str]] = {
    "23": frozenset({"circulation.checkout"}),
    "63": frozenset({"circulation.checkout", "circulation.manage_fees"}),
    "11": frozenset({"circulation.checkout"}),
    "09": frozenset({"circulation.checkout"}),
    "29": frozenset({"circulation.checkout"}),
    "65": frozenset({"circulation.checkout"}),
    "17": frozenset(),
    "37": frozenset({"circulation.manage_fees"}),
    "15": frozenset({"circulation.checkout"}),
    "35": frozenset(),
    "01": frozenset({"patrons.manage_block"}),
}
MAX_LIST_ITEMS = 50
TERMINAL_RECHECK_SECONDS = 2.0
_AMOUNT = re.compile(r"^\s*(\d{1,9})(?:[.,](\d{1,2}))?\s*$")


@dataclass
class Session:
    """One terminal connection: who logged in, which patron it authenticated."""

    peer_ip: str = ""
    terminal: Terminal | None = None
    patron_id: str | None = None
    patron_card: str | None = None
    language: str = ""
    last_reply: bytes | None = None
    terminal_checked: float = 0.0


@dataclass
class Reply:
    command: str
    fixed: list[str]
    fields: list[tuple[str, object]] = field(default_factory=list)
    close: bool = False  # close the connection after sending (or instead, with no command)


# --- helpers --------------------------------------------------------------------------------


def _now_text() -> str:
    return sip_datetime(timezone.localtime(clock.now()))


def _due_text(moment: dt.datetime | None) -> str:
    return sip_datetime(timezone.localtime(moment)) if moment else ""


def _institution(session: Session, msg: Message | None = None) -> str:
    terminal = session.terminal
    if terminal is not None:
        return terminal.institution_id or terminal.branch.code
    return msg.get("AO") if msg else ""


def _language(session: Session, msg: Message) -> str:
    code = msg.fixed.get("language", "")
    lang = F.LANGUAGES.get(code)
    if lang:
        session.language = lang
    return session.language or settings.LANGUAGE_CODE.split("-")[0]


def _language_code(lang: str) -> str:
    return F.LANGUAGE_CODES.get(lang, "000")


def _actor(session: Session, command: str) -> TerminalActor:
    terminal = session.terminal
    perms = MESSAGE_PERMISSIONS.get(command, frozenset()) if terminal else frozenset()
    return TerminalActor.for_terminal(
        terminal.pk if terminal else "", permissions=perms, patron_id=session.patron_id
    )


def _error_text(exc: DomainError) -> str:
    """A refusal in the terminal's language (the services mark their templates)."""
    refusals = getattr(exc, "refusals", None)
    if refusals:
        return " ".join(_(r.template) % r.params if r.params else _(r.template) for r in refusals)
    return _(exc.message)


def _name_for(terminal: Terminal, patron: Patron) -> str | None:
    if terminal.patron_name == PatronName.NONE:
        return None
    given = patron.given_name if isinstance(patron.given_name, str) else ""
    if terminal.patron_name == PatronName.FIRST:
        return given or None
    return patron.display_name


def _title(item: Item) -> str:
    return item.record.title if item.record_id else ""


@dataclass
class PatronState:
    """What the patron-status fields need: blocks in force and counts."""

    denied: bool
    card_lost: bool
    too_many_overdue: bool
    excessive_fines: bool
    balance_minor: int


def _patron_state(patron: Patron) -> PatronState:
    today = clock.today()
    blocks = list(Block.objects.filter(patron=patron, lifted_at__isnull=True))
    effective = patron_policy.effective_blocks(patron, blocks, today=today)
    codes = {b.code for b in effective}
    balance, _overdue = circ.balance_and_overdue(patron.pk, today)
    return PatronState(
        denied=patron.status != PatronStatus.ACTIVE or bool(effective),
        card_lost="lost_card" in codes,
        too_many_overdue="overdue" in codes,
        excessive_fines="debt" in codes,
        balance_minor=balance,
    )


def _status_field(state: PatronState | None) -> str:
    if state is None:
        return "YYYY" + " " * 10
    flags = {
        "charge_denied": state.denied,
        "renewal_denied": state.denied,
        "recall_denied": state.denied,
        "hold_denied": state.denied,
        "card_lost": state.card_lost,
        "too_many_overdue": state.too_many_overdue,
        "excessive_fines": state.excessive_fines,
    }
    return "".join("Y" if flags.get(name) else " " for name in F.PATRON_STATUS_POSITIONS)


# --- patron authentication ------------------------------------------------------------------


@dataclass
class Who:
    """The outcome of identifying the patron named in a message."""

    patron: Patron | None
    outcome: str  # services.PinOutcome value, or "ok_no_pin", "no_card"
    pin_checked: bool = False

    @property
    def ok(self) -> bool:
        return self.patron is not None and self.outcome in (services.PinOutcome.OK, "ok_no_pin")


def _identify(session: Session, msg: Message) -> Who:
    """The patron of AA, authenticated by AD (PIN) unless the terminal needs no PIN.

    The session remembers the patron it authenticated; a message for another
    card needs that card's PIN again (SEC-ACC-1).
    """
    terminal = session.terminal
    card = msg.get("AA").strip()
    if not card:
        return Who(None, "no_card")
    if session.patron_card == card and session.patron_id and not msg.get("AD"):
        patron = Patron.objects.filter(pk=session.patron_id).first()
        if patron is not None:
            return Who(patron, services.PinOutcome.OK)
    if msg.has("AD") and msg.get("AD") != "":
        check = services.check_card_pin(terminal=terminal, card=card, pin=msg.get("AD"))
        who = Who(check.patron, check.outcome, pin_checked=True)
    elif terminal.require_pin:
        patron = services.patron_by_card(card)
        who = Who(patron, "pin_required" if patron else services.PinOutcome.UNKNOWN_CARD)
    else:
        patron = services.patron_by_card(card)
        who = Who(patron, "ok_no_pin" if patron else services.PinOutcome.UNKNOWN_CARD)
    if who.ok:
        session.patron_id = str(who.patron.pk)
        session.patron_card = card
    elif session.patron_card == card:
        session.patron_id = session.patron_card = None
    return who


def _who_message(who: Who) -> str:
    texts = {
        services.PinOutcome.UNKNOWN_CARD: gettext_noop("Card not recognised. Ask at the desk."),
        services.PinOutcome.WRONG_PIN: gettext_noop("Wrong PIN."),
        services.PinOutcome.NO_PIN_SET: gettext_noop(
            "No PIN is set for this card: set one in My account on the library's website."
        ),
        services.PinOutcome.LOCKED: gettext_noop(
            "Too many wrong PINs. Try again later or ask at the desk."
        ),
        "pin_required": gettext_noop("Enter your PIN."),
        "no_card": gettext_noop("Scan your library card."),
    }
    return _(texts.get(who.outcome, gettext_noop("Ask at the desk.")))


def _not_allowed() -> str:
    return _("This machine cannot do that. Ask at the desk.")


# --- 93 / 99 / 97 -------------------------------------------------------------------------------


def login(session: Session, msg: Message) -> Reply:
    result = services.terminal_login(name=msg.get("CN"), password=msg.get("CO"), ip=session.peer_ip)
    if result.terminal is None:
        session.terminal = None
        return Reply("94", ["0"], close=result.locked)
    session.terminal = result.terminal
    session.terminal_checked = time.monotonic()
    session.patron_id = session.patron_card = None
    log.info("sip2 terminal %s logged in", result.terminal.pk)
    return Reply("94", ["1"])


def sc_status(session: Session, msg: Message) -> Reply:
    terminal = session.terminal
    allowed = terminal.allowed | F.ALWAYS_ALLOWED
    supported = "".join(flag(code in allowed) for code in F.SUPPORTED_ORDER)
    return Reply(
        "98",
        [
            "Y",  # online
            flag("09" in allowed),
            flag("11" in allowed),
            flag("29" in allowed),
            "N",  # status update
            "N",  # offline
            "010",  # timeout period, tenths of a second... 1.0 s is our budget for a sorter
            "003",  # retries allowed
            _now_text(),
            "2.00",
        ],
        [
            ("AO", _institution(session)),
            ("AM", terminal.branch.name),
            ("BX", supported),
            ("AN", terminal.name),
        ],
    )


# --- 23 / 63 / 35 / 01 --------------------------------------------------------------------------


def _patron_status_reply(session: Session, msg: Message, who: Who, lang: str) -> Reply:
    fields: list[tuple[str, object]] = [("AO", _institution(session, msg)), ("AA", msg.get("AA"))]
    fixed_tail = [_language_code(lang), _now_text()]
    if who.patron is None:
        # Unknown card (or locked): "valid patron: N" and nothing else.
        if who.outcome == services.PinOutcome.UNKNOWN_CARD:
            fields.append(("BL", "N"))
        if who.pin_checked or who.outcome == services.PinOutcome.LOCKED:
            fields.append(("CQ", "N"))
        fields.append(("AF", _who_message(who)))
        return Reply("24", [_status_field(None), *fixed_tail], fields)
    if not who.ok:
        fields += [("BL", "Y"), ("CQ", "N"), ("AF", _who_message(who))]
        return Reply("24", [_status_field(None), *fixed_tail], fields)
    state = _patron_state(who.patron)
    fields += [("AE", _name_for(session.terminal, who.patron)), ("BL", "Y")]
    if who.pin_checked or who.outcome == services.PinOutcome.OK:
        fields.append(("CQ", "Y"))
    fields += [
        ("BH", settings.QUIETSHELF_CURRENCY),
        ("BV", money(state.balance_minor)),
    ]
    return Reply("24", [_status_field(state), *fixed_tail], fields)


def patron_status(session: Session, msg: Message) -> Reply:
    lang = _language(session, msg)
    with translation.override(lang):
        who = _identify(session, msg)
        return _patron_status_reply(session, msg, who, lang)


def _list_range(msg: Message) -> tuple[int, int]:
    """BP/BQ (1-based, inclusive), at most MAX_LIST_ITEMS items."""
    try:
        start = max(1, int(msg.get("BP") or 1))
    except ValueError:
        start = 1
    try:
        end = int(msg.get("BQ") or start + MAX_LIST_ITEMS - 1)
    except ValueError:
        end = start + MAX_LIST_ITEMS - 1
    end = max(start, min(end, start + MAX_LIST_ITEMS - 1))
    return start, end


def patron_information(session: Session, msg: Message) -> Reply:
    lang = _language(session, msg)
    with translation.override(lang):
        who = _identify(session, msg)
        if not who.ok:
            status = _patron_status_reply(session, msg, who, lang)
            counts = [count4(0)] * 6
            return Reply("64", [status.fixed[0], *status.fixed[1:], *counts], status.fields)
        patron = who.patron
        terminal = session.terminal
        actor = _actor(session, "63")
        state = _patron_state(patron)
        now = clock.now()
        loans = circ_selectors.patron_loans(actor=actor, patron_id=patron.pk)
        holds = list(
            Hold.objects.filter(patron_id=patron.pk, status__in=OPEN_HOLD)
            .select_related("record", "item")
            .order_by("placed_at")
        )
        fees = circ_selectors.patron_fees(actor=actor, patron_id=patron.pk)
        overdue = [loan for loan in loans if loan.due_at < now]
        ready = [h for h in holds if h.status == HoldStatus.ON_SHELF]
        waiting = [h for h in holds if h.status != HoldStatus.ON_SHELF]
        summary = msg.fixed.get("summary", "")
        wanted = summary.find("Y")
        which = F.SUMMARY_POSITIONS[wanted] if 0 <= wanted < len(F.SUMMARY_POSITIONS) else ""
        start, end = _list_range(msg)

        def item_text(item: Item | None, record=None) -> str:
            if item is None:
                title = record.title if (record is not None and terminal.send_titles) else ""
                return title or (f"title {record.pk}" if record is not None else "")
            if terminal.send_titles:
                return f"{item.barcode} {_title(item)}".strip()
            return item.barcode

        lists: list[tuple[str, object]] = []
        if which == "hold":
            lists = [("AS", item_text(h.item, h.record)) for h in ready]
        elif which == "overdue":
            lists = [("AT", item_text(loan.item)) for loan in overdue]
        elif which == "charged":
            lists = [("AU", item_text(loan.item)) for loan in loans]
        elif which == "fine":
            currency = settings.QUIETSHELF_CURRENCY
            lists = [
                ("AV", f"{line.fee.pk} {money(line.balance_minor)} {currency} {line.fee.type}")
                for line in fees
            ]
        elif which == "unavailable_hold":
            lists = [("CD", item_text(h.item, h.record)) for h in waiting]
        lists = lists[start - 1 : end]
        fixed = [
            _status_field(state),
            _language_code(lang),
            _now_text(),
            count4(len(ready)),
            count4(len(overdue)),
            count4(len(loans)),
            count4(len(fees)),
            count4(0),
            count4(len(waiting)),
        ]
        fields: list[tuple[str, object]] = [
            ("AO", _institution(session, msg)),
            ("AA", msg.get("AA")),
            ("AE", _name_for(terminal, patron)),
            ("BL", "Y"),
            ("CQ", "Y")
            if who.pin_checked or who.outcome == services.PinOutcome.OK
            else ("CQ", None),
            ("BH", settings.QUIETSHELF_CURRENCY),
            ("BV", money(state.balance_minor)),
            *lists,
        ]
        return Reply("64", fixed, fields)


def end_patron_session(session: Session, msg: Message) -> Reply:
    session.patron_id = session.patron_card = None
    return Reply(
        "36",
        ["Y", _now_text()],
        [("AO", _institution(session, msg)), ("AA", msg.get("AA"))],
    )


def block_patron(session: Session, msg: Message) -> Reply:
    """01: the machine kept a card (or reports misuse): a block on the card's patron.

    No PIN is needed (the machine may have swallowed the card); the answer is a
    Patron Status Response that reveals nothing beyond "valid patron".
    """
    lang = _language(session, msg)
    with translation.override(lang):
        card = msg.get("AA").strip()
        patron = services.patron_by_card(card) if card else None
        fields: list[tuple[str, object]] = [("AO", _institution(session, msg)), ("AA", card)]
        if patron is None:
            fields.append(("BL", "N"))
            return Reply("24", [_status_field(None), _language_code(lang), _now_text()], fields)
        actor = TerminalActor.for_terminal(
            session.terminal.pk,
            permissions=MESSAGE_PERMISSIONS["01"],
            patron_id=patron.pk,
        )
        reason = "lost_card" if msg.fixed.get("card_retained") == "Y" else "manual"
        patron_services.block_add(
            actor=actor,
            patron_id=patron.pk,
            reason_code=reason,
            comment=f"SIP2 terminal {session.terminal.name}: "
            + ("card retained" if reason == "lost_card" else "blocked by the machine"),
        )
        if session.patron_card == card:
            session.patron_id = session.patron_card = None
        fields += [("BL", "Y"), ("AF", _("This card is blocked. Please ask at the desk."))]
        return Reply(
            "24", [_status_field(_patron_state(patron)), _language_code(lang), _now_text()], fields
        )


# --- 11 / 09 / 29 / 65 --------------------------------------------------------------------------


def _item_fields(item: Item | None, barcode: str) -> list[tuple[str, object]]:
    return [("AB", barcode), ("AJ", _title(item) if item is not None else "")]


def checkout(session: Session, msg: Message) -> Reply:
    lang = _language(session, msg)
    barcode = msg.get("AB").strip()
    head = [("AO", _institution(session, msg)), ("AA", msg.get("AA"))]
    with translation.override(lang):
        who = _identify(session, msg)
        if not who.ok:
            return Reply(
                "12",
                ["0", "N", "U", "N", _now_text()],
                [*head, ("AB", barcode), ("AJ", ""), ("AF", _who_message(who))],
            )
        try:
            result = circ.checkout(
                actor=_actor(session, "11"),
                item_barcode=barcode,
                patron_id=who.patron.pk,
                branch_id=session.terminal.branch_id,
            )
        except DomainError as exc:
            # "already on loan to this patron" is a renewal for most kiosks' users:
            # SC renewal policy Y lets us renew it instead.
            if (
                exc.code == "already_on_loan_to_patron"
                and msg.fixed.get("sc_renewal_policy") == "Y"
                and "29" in session.terminal.allowed
            ):
                return _renew_for(session, msg, who.patron, barcode, reply_code="12")
            return Reply(
                "12",
                ["0", "N", "U", "N", _now_text()],
                [*head, *_item_fields(None, barcode), ("AF", _error_text(exc))],
            )
        if (
            result.repeated
            and msg.fixed.get("sc_renewal_policy") == "Y"
            and "29" in session.terminal.allowed
        ):
            # the desk answers a repeated scan with the loan already made (CIR-2); a kiosk
            # whose renewal policy is Y means a renewal by it
            return _renew_for(session, msg, who.patron, barcode, reply_code="12")
        return Reply(
            "12",
            ["1", "N", "N", "Y", _now_text()],
            [
                *head,
                *_item_fields(result.item, barcode),
                ("AH", _due_text(result.due_at)),
                (
                    "AF",
                    _("Due %(date)s.") % {"date": f"{timezone.localtime(result.due_at):%Y-%m-%d}"},
                ),
            ],
        )


def checkin(session: Session, msg: Message) -> Reply:
    """09: a return at a kiosk or a sorter. No patron is named or sent back."""
    lang = _language(session, msg)
    barcode = msg.get("AB").strip()
    head = [("AO", _institution(session, msg))]
    with translation.override(lang):
        try:
            result = circ.checkin(
                actor=_actor(session, "09"),
                item_barcode=barcode,
                branch_id=session.terminal.branch_id,
            )
        except DomainError as exc:
            return Reply(
                "10",
                ["0", "N", "U", "N", _now_text()],
                [*head, ("AB", barcode), ("AQ", ""), ("AF", _error_text(exc))],
            )
        item = result.item
        alert_type = None
        if result.route == "hold_shelf":
            alert_type = F.ALERT_HOLD_HERE
        elif result.route == "transit":
            alert_type = F.ALERT_HOLD_ELSEWHERE if result.hold_id else F.ALERT_SEND_HOME
        text = _(result.template) % result.params if result.template else result.message
        if result.fine_minor:
            text += " " + _("Overdue fine %(amount)s.") % {
                "amount": f"{money(result.fine_minor)} {settings.QUIETSHELF_CURRENCY}"
            }
        permanent = Branch.objects.filter(pk=item.branch_id).values_list("code", flat=True).first()
        return Reply(
            "10",
            ["1", "Y", "N", flag(alert_type is not None), _now_text()],
            [
                *head,
                ("AB", barcode),
                ("AQ", permanent or ""),
                ("AJ", _title(item)),
                ("CL", result.route),
                ("CV", alert_type),
                ("AF", text),
            ],
        )


def _loan_for(patron: Patron, barcode: str) -> Loan | None:
    return (
        Loan.objects.filter(patron=patron, returned_at__isnull=True, item__barcode=barcode)
        .select_related("item", "item__record")
        .first()
    )


def _renew_for(
    session: Session, msg: Message, patron: Patron, barcode: str, *, reply_code: str = "30"
) -> Reply:
    head = [("AO", _institution(session, msg)), ("AA", msg.get("AA"))]
    loan = _loan_for(patron, barcode)
    if loan is None:
        return Reply(
            reply_code,
            ["0", "N", "U", "N", _now_text()],
            [*head, ("AB", barcode), ("AJ", ""), ("AF", _("You do not have this item on loan."))],
        )
    try:
        result = circ.renew(actor=_actor(session, "29"), loan_id=loan.pk)
    except DomainError as exc:
        return Reply(
            reply_code,
            ["0", "N", "U", "N", _now_text()],
            [*head, *_item_fields(loan.item, barcode), ("AF", _error_text(exc))],
        )
    return Reply(
        reply_code,
        ["1", "Y", "N", "Y", _now_text()],
        [
            *head,
            *_item_fields(loan.item, barcode),
            ("AH", _due_text(result.due_at)),
            (
                "AF",
                _("Renewed: due %(date)s.")
                % {"date": f"{timezone.localtime(result.due_at):%Y-%m-%d}"},
            ),
        ],
    )


def renew(session: Session, msg: Message) -> Reply:
    lang = _language(session, msg)
    barcode = msg.get("AB").strip()
    with translation.override(lang):
        who = _identify(session, msg)
        if not who.ok:
            return Reply(
                "30",
                ["0", "N", "U", "N", _now_text()],
                [
                    ("AO", _institution(session, msg)),
                    ("AA", msg.get("AA")),
                    ("AB", barcode),
                    ("AJ", ""),
                    ("AF", _who_message(who)),
                ],
            )
        return _renew_for(session, msg, who.patron, barcode)


def renew_all(session: Session, msg: Message) -> Reply:
    lang = _language(session, msg)
    with translation.override(lang):
        who = _identify(session, msg)
        head = [("AO", _institution(session, msg))]
        if not who.ok:
            return Reply(
                "66",
                ["0", count4(0), count4(0), _now_text()],
                [*head, ("AF", _who_message(who))],
            )
        actor = _actor(session, "65")
        renewed, unrenewed = [], []
        for loan in circ_selectors.patron_loans(actor=actor, patron_id=who.patron.pk):
            try:
                circ.renew(actor=actor, loan_id=loan.pk)
            except DomainError:
                unrenewed.append(loan.item.barcode)
            else:
                renewed.append(loan.item.barcode)
        return Reply(
            "66",
            ["1", count4(len(renewed)), count4(len(unrenewed)), _now_text()],
            [
                *head,
                *[("BM", b) for b in renewed[:MAX_LIST_ITEMS]],
                *[("BN", b) for b in unrenewed[:MAX_LIST_ITEMS]],
                (
                    "AF",
                    _("Renewed %(ok)s, not renewed %(not)s.")
                    % {"ok": len(renewed), "not": len(unrenewed)},
                ),
            ],
        )


# --- 17 -------------------------------------------------------------------------------------------

_CIRC_STATUS = {
    ItemStatus.AVAILABLE: F.CIRC_AVAILABLE,
    ItemStatus.ON_LOAN: F.CIRC_CHARGED,
    ItemStatus.IN_TRANSIT: F.CIRC_IN_TRANSIT,
    ItemStatus.ON_HOLD_SHELF: F.CIRC_ON_HOLD_SHELF,
    ItemStatus.LOST: F.CIRC_LOST,
    ItemStatus.MISSING: F.CIRC_MISSING,
    ItemStatus.IN_PROCESSING: F.CIRC_IN_PROCESS,
}


def item_information(session: Session, msg: Message) -> Reply:
    """17: about the item only; never who has it or who waits for it."""
    lang = _language(session, msg)
    barcode = msg.get("AB").strip()
    with translation.override(lang):
        item = (
            Item.objects.select_related("record", "branch").filter(barcode=barcode).first()
            if barcode
            else None
        )
        if item is None:
            return Reply(
                "18",
                [F.CIRC_OTHER, "00", "01", _now_text()],
                [("AB", barcode), ("AJ", ""), ("AF", _("Item not recognised."))],
            )
        due = None
        if item.status == ItemStatus.ON_LOAN:
            due = (
                Loan.objects.filter(item=item, returned_at__isnull=True)
                .values_list("due_at", flat=True)
                .first()
            )
        queue = Hold.objects.filter(record_id=item.record_id, status=HoldStatus.WAITING).count()
        return Reply(
            "18",
            [_CIRC_STATUS.get(item.status, F.CIRC_OTHER), "00", "01", _now_text()],
            [
                ("CF", str(queue)),
                ("AH", _due_text(due) if due else None),
                ("AB", barcode),
                ("AJ", _title(item)),
                ("AQ", item.branch.code),
                ("AP", item.branch.code),
            ],
        )


# --- 37 -------------------------------------------------------------------------------------------


def _amount_minor(text: str) -> int | None:
    match = _AMOUNT.match(text or "")
    if not match:
        return None
    whole, frac = match.group(1), (match.group(2) or "").ljust(2, "0")
    return int(whole) * 100 + int(frac)


def fee_paid(session: Session, msg: Message) -> Reply:
    lang = _language(session, msg)
    head = [
        ("AO", _institution(session, msg)),
        ("AA", msg.get("AA")),
        ("BK", msg.get("BK") or None),
    ]
    with translation.override(lang):

        def refuse(text: str) -> Reply:
            return Reply("38", ["N", _now_text()], [*head, ("AF", text)])

        who = _identify(session, msg)
        if not who.ok:
            return refuse(_who_message(who))
        currency = msg.fixed.get("currency_type", "").strip().upper()
        if currency and currency != settings.QUIETSHELF_CURRENCY:
            return refuse(
                _("Payments here are in %(currency)s only.")
                % {"currency": settings.QUIETSHELF_CURRENCY}
            )
        amount = _amount_minor(msg.get("BV"))
        if not amount:
            return refuse(_("The amount is not valid."))
        actor = _actor(session, "37")
        fee_id = msg.get("CG").strip()
        try:
            if fee_id:
                try:
                    uuid.UUID(fee_id)
                except ValueError:
                    return refuse(_("No such fee."))
                circ.fee_pay(actor=actor, fee_id=fee_id, amount=amount)
            else:
                circ.fee_pay_patron(
                    actor=actor,
                    patron_id=who.patron.pk,
                    amount=amount,
                    branch_id=session.terminal.branch_id,
                )
        except DomainError as exc:
            if exc.code == "overpayment":
                return refuse(_("That is more than is owed."))
            if exc.code == "permission_denied":
                return refuse(_("No such fee."))
            return refuse(_error_text(exc))
        return Reply("38", ["Y", _now_text()], [*head, ("AF", _("Payment received. Thank you."))])


# --- 15 -------------------------------------------------------------------------------------------


def hold(session: Session, msg: Message) -> Reply:
    lang = _language(session, msg)
    barcode = msg.get("AB").strip()
    head = [("AO", _institution(session, msg)), ("AA", msg.get("AA"))]
    with translation.override(lang):

        def refuse(text: str) -> Reply:
            return Reply("16", ["0", "N", _now_text()], [*head, ("AF", text)])

        who = _identify(session, msg)
        if not who.ok:
            return refuse(_who_message(who))
        item = (
            Item.objects.filter(barcode=barcode).select_related("record").first()
            if barcode
            else None
        )
        if item is None:
            return refuse(_("Item not recognised."))
        actor = _actor(session, "15")
        mode = msg.fixed.get("hold_mode", "")
        if mode == "-":
            open_hold = Hold.objects.filter(
                patron=who.patron, record_id=item.record_id, status__in=OPEN_HOLD
            ).first()
            if open_hold is None:
                return refuse(_("You have no hold on this title."))
            try:
                circ.hold_cancel(actor=actor, hold_id=open_hold.pk)
            except DomainError as exc:
                return refuse(_error_text(exc))
            return Reply(
                "16",
                ["1", "N", _now_text()],
                [*head, ("AB", barcode), ("AJ", _title(item)), ("AF", _("Hold cancelled."))],
            )
        if mode != "+":
            return refuse(_not_allowed())
        pickup = session.terminal.branch
        if msg.get("BS"):
            pickup = Branch.objects.filter(code=msg.get("BS").strip()).first()
            if pickup is None:
                return refuse(_("Unknown pickup location."))
        try:
            placed = circ.hold_place(
                actor=actor,
                patron_id=who.patron.pk,
                record_id=item.record_id,
                pickup_branch_id=pickup.pk,
                item_barcode=barcode if msg.get("BY") == "3" else None,
            )
        except DomainError as exc:
            return refuse(_error_text(exc))
        position = circ_selectors.queue_position(placed)
        return Reply(
            "16",
            ["1", flag(item.status == ItemStatus.AVAILABLE), _now_text()],
            [
                ("BR", str(position) if position else None),
                ("BS", pickup.code),
                *head,
                ("AB", barcode),
                ("AJ", _title(item)),
                ("AF", _("Hold placed.")),
            ],
        )


# --- dispatch -------------------------------------------------------------------------------------

HANDLERS = {
    "99": sc_status,
    "23": patron_status,
    "63": patron_information,
    "11": checkout,
    "09": checkin,
    "29": renew,
    "65": renew_all,
    "17": item_information,
    "37": fee_paid,
    "15": hold,
    "35": end_patron_session,
    "01": block_patron,
}


def refused(session: Session, msg: Message) -> Reply:
    """A message this terminal account is not allowed: the message's own "no" answer."""
    with translation.override(_language(session, msg)):
        text = _not_allowed()
        now = _now_text()
        ao = ("AO", _institution(session, msg))
        aa = ("AA", msg.get("AA"))
        ab = ("AB", msg.get("AB"))
        no = {
            "23": Reply("24", [_status_field(None), "000", now], [ao, aa, ("AF", text)]),
            "63": Reply(
                "64", [_status_field(None), "000", now, *[count4(0)] * 6], [ao, aa, ("AF", text)]
            ),
            "01": Reply("24", [_status_field(None), "000", now], [ao, aa, ("AF", text)]),
            "11": Reply("12", ["0", "N", "U", "N", now], [ao, aa, ab, ("AJ", ""), ("AF", text)]),
            "09": Reply("10", ["0", "N", "U", "N", now], [ao, ab, ("AQ", ""), ("AF", text)]),
            "29": Reply("30", ["0", "N", "U", "N", now], [ao, aa, ab, ("AJ", ""), ("AF", text)]),
            "65": Reply("66", ["0", count4(0), count4(0), now], [ao, ("AF", text)]),
            "17": Reply("18", [F.CIRC_OTHER, "00", "01", now], [ab, ("AJ", ""), ("AF", text)]),
            "37": Reply("38", ["N", now], [ao, aa, ("AF", text)]),
            "15": Reply("16", ["0", "N", now], [ao, aa, ("AF", text)]),
            "35": Reply("36", ["N", now], [ao, aa, ("AF", text)]),
        }
        return no[msg.command]


def dispatch(session: Session, msg: Message) -> Reply:
    """The reply to one parsed message (93 first; then what the account allows)."""
    if msg.command == "93":
        return login(session, msg)
    if session.terminal is None:
        # Nothing but a login before a login: drop the connection.
        return Reply("", [], close=True)
    if time.monotonic() - session.terminal_checked > TERMINAL_RECHECK_SECONDS:
        # Changes by staff (disabled, messages, branch) apply within seconds.
        terminal = Terminal.objects.select_related("branch").filter(pk=session.terminal.pk).first()
        if terminal is None or not terminal.active:
            session.terminal = None
            return Reply("", [], close=True)
        session.terminal = terminal
        session.terminal_checked = time.monotonic()
    terminal = session.terminal
    if msg.command not in F.ALWAYS_ALLOWED and msg.command not in terminal.allowed:
        return refused(session, msg)
    return HANDLERS[msg.command](session, msg)
