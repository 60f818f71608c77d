"""Pure rules about patrons: minors, contact validation, staff-note warnings, automatic blocks.

Nothing here touches the database; services and pages call these.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email as django_validate_email
from stdnum import luhn
from stdnum.no import fodselsnummer

from quietshelf.core import clock
from quietshelf.core.dates import parse_date as clean_date
from quietshelf.core.errors import InvalidInput

# --- minors (PRV-MNR-1) -------------------------------------------------------------

GUARDIAN_ACCESS_RULES = ("none", "by_law")


def minor_age() -> int:
    return int(getattr(settings, "QUIETSHELF_MINOR_AGE", 18))


def guardian_access_rule() -> str:
    """ "none": a guardian sees nothing of a minor's account; "by_law": what the law grants."""
    rule = getattr(settings, "QUIETSHELF_GUARDIAN_ACCESS", "none")
    return rule if rule in GUARDIAN_ACCESS_RULES else "none"


def needs_guardian_consent(date_of_birth, *, today: dt.date | None = None) -> bool:
    """PRV-MNR-1: under QUIETSHELF_MINOR_CONSENT_AGE (0: never) registration waits for a
    guardian's consent."""
    limit = int(getattr(settings, "QUIETSHELF_MINOR_CONSENT_AGE", 0) or 0)
    return limit > 0 and is_minor(date_of_birth, today=today, age=limit)


def age_on(date_of_birth: dt.date, today: dt.date) -> int:
    years = today.year - date_of_birth.year
    if (today.month, today.day) < (date_of_birth.month, date_of_birth.day):
        years -= 1
    return years


def is_minor(date_of_birth, *, today: dt.date | None = None, age: int | None = None) -> bool:
    """True when a date of birth is known and the person is under the configured age."""
    if not isinstance(date_of_birth, dt.date):
        return False  # unknown, erased or unreadable: not marked as a minor
    today = today or clock.today()
    return age_on(date_of_birth, today) < (minor_age() if age is None else age)


# --- contact points -----------------------------------------------------------------

_PHONE_ALLOWED = re.compile(r"^\+?[0-9 ().\-]+$")


def clean_email(value: str) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput("Enter an e-mail address.", code="invalid_email")
    if len(value) > 254:
        raise InvalidInput("An e-mail address has at most 254 characters.", code="invalid_email")
    try:
        django_validate_email(value)
    except ValidationError:
        raise InvalidInput(
            "This is not a valid e-mail address (it should look like name@example.org).",
            code="invalid_email",
        ) from None
    return value


def clean_phone(value: str) -> str:
    """Digits, optionally a leading +; spaces, dots, dashes and brackets are dropped."""
    value = (value or "").strip()
    if not value:
        raise InvalidInput("Enter a phone number.", code="invalid_phone")
    if not _PHONE_ALLOWED.match(value) or value.count("+") > 1:
        raise InvalidInput(
            "A phone number may only hold digits, spaces, dashes, brackets and a leading +.",
            code="invalid_phone",
        )
    digits = "".join(ch for ch in value if ch.isdigit())
    if not 5 <= len(digits) <= 15:
        raise InvalidInput(
            "A phone number has between 5 and 15 digits (e.g. +47 912 34 567).",
            code="invalid_phone",
        )
    return ("+" if value.startswith("+") else "") + digits


def clean_address(value: str) -> str:
    value = "\n".join(line.strip() for line in (value or "").strip().splitlines() if line.strip())
    if not value:
        raise InvalidInput("Enter an address.", code="invalid_address")
    if len(value) > 500:
        raise InvalidInput("An address has at most 500 characters.", code="invalid_address")
    return value


def clean_contact(kind: str, value: str) -> str:
    if kind == "email":
        return clean_email(value)
    if kind == "phone":
        return clean_phone(value)
    if kind == "address":
        return clean_address(value)
    raise InvalidInput(f"Unknown contact kind {kind!r}.", code="invalid_contact")


# --- staff notes (PAT-2) -------------------------------------------------------------

# Word stems per special category (GDPR Art. 9 and 10), English and Norwegian Bokmål.
# Each entry is a regular expression matched case-insensitively at a word start;
# documented in docs/patrons.md.
SPECIAL_CATEGORY_PATTERNS: dict[str, dict[str, list[str]]] = {
    "health": {
        "en": [
            r"health",
            r"medical",
            r"medicat\w*",
            r"diagnos\w*",
            r"illness",
            r"disease",
            r"disabilit\w*",
            r"disabled",
            r"pregnan\w*",
            r"depress\w*",
            r"anxiety",
            r"cancer",
            r"diabet\w*",
            r"epilep\w*",
            r"autis\w*",
            r"adhd",
            r"dementia",
            r"psychiatr\w*",
            r"mental(ly)? ill\w*",
            r"hiv",
            r"therapy",
            r"wheelchair",
            r"hospital\w*",
        ],
        "nb": [
            r"helse\w*",
            r"sykdom\w*",
            r"syk",
            r"sykemeld\w*",
            r"diagnose\w*",
            r"medisin\w*",
            r"psykisk\w*",
            r"psykiatri\w*",
            r"depresjon\w*",
            r"deprimert",
            r"angst",
            r"kreft",
            r"diabetes",
            r"epilepsi\w*",
            r"autis\w*",
            r"demens\w*",
            r"funksjonshem\w*",
            r"ufør\w*",
            r"gravid\w*",
            r"rullestol\w*",
            r"sykehus\w*",
        ],
    },
    "religion": {
        "en": [
            r"religio\w*",
            r"muslim\w*",
            r"christian\w*",
            r"jewish",
            r"jews?",
            r"hindu\w*",
            r"buddhis\w*",
            r"sikh\w*",
            r"atheis\w*",
            r"church\w*",
            r"mosque\w*",
            r"synagogue\w*",
        ],
        "nb": [
            r"religi\w*",
            r"muslim\w*",
            r"kristen",
            r"kristne",
            r"jøde\w*",
            r"jødisk\w*",
            r"hindu\w*",
            r"buddhis\w*",
            r"ateis\w*",
            r"kirke\w*",
            r"moské\w*",
            r"synagoge\w*",
        ],
    },
    "politics": {
        "en": [
            r"politic\w*",
            r"party member\w*",
            r"communis\w*",
            r"socialis\w*",
            r"fascis\w*",
            r"nazi\w*",
        ],
        "nb": [
            r"politisk\w*",
            r"politikk\w*",
            r"partimedlem\w*",
            r"kommunis\w*",
            r"sosialis\w*",
            r"fascis\w*",
            r"nazis\w*",
        ],
    },
    "sexuality": {
        "en": [
            r"sexual\w*",
            r"gay",
            r"lesbian\w*",
            r"bisexual\w*",
            r"homosexual\w*",
            r"transgender\w*",
            r"queer",
            r"lgbt\w*",
        ],
        "nb": [
            r"seksual\w*",
            r"seksuell\w*",
            r"homofil\w*",
            r"lesbisk\w*",
            r"bifil\w*",
            r"transperson\w*",
            r"skeiv\w*",
        ],
    },
    "ethnicity": {
        "en": [r"ethnic\w*", r"race", r"racial\w*", r"romani\w*", r"sami", r"refugee\w*"],
        "nb": [r"etnisk\w*", r"etnisitet\w*", r"rase", r"romani\w*", r"samisk\w*", r"flyktning\w*"],
    },
    "union": {
        "en": [r"trade union\w*", r"union member\w*", r"unionis\w*"],
        "nb": [r"fagforening\w*", r"fagorganiser\w*", r"lo-medlem\w*"],
    },
    "criminal": {
        "en": [
            r"criminal\w*",
            r"convict\w*",
            r"prison\w*",
            r"jail\w*",
            r"arrest\w*",
            r"police record",
            r"offender\w*",
            r"sentenced",
        ],
        "nb": [
            r"kriminel\w*",
            r"straffedøm\w*",
            r"straffet",
            r"dømt",
            r"fengsel\w*",
            r"soning\w*",
            r"arrestert\w*",
            r"politianmeld\w*",
            r"siktet",
        ],
    },
}

CATEGORY_LABELS = {
    "health": "health",
    "religion": "religion or belief",
    "politics": "political opinions",
    "sexuality": "sex life or sexual orientation",
    "ethnicity": "racial or ethnic origin",
    "union": "trade union membership",
    "criminal": "criminal convictions or offences",
    "national_id": "a national identity number (fødselsnummer)",
    "payment_card": "a payment card number",
}

_CATEGORY_RE = {
    category: re.compile(
        r"(?<![\w])(?:" + "|".join(p for lang in langs.values() for p in lang) + r")(?![\w])",
        re.IGNORECASE,
    )
    for category, langs in SPECIAL_CATEGORY_PATTERNS.items()
}
# 11 digits, optionally written as 6 + 5 with a space or dash (fødselsnummer / D-number).
_FNR_RE = re.compile(r"(?<!\d)(\d{6})[ \-]?(\d{5})(?!\d)")
# 13 to 19 digits in groups separated by single spaces or dashes (payment cards).
_CARD_RE = re.compile(r"(?<!\d)\d(?:[ \-]?\d){12,18}(?!\d)")


@dataclass(frozen=True)
class NoteWarning:
    code: str
    label: str


def note_warnings(text: str) -> list[NoteWarning]:
    """The PAT-2 warnings a staff note raises: special categories, national ids, card numbers."""
    text = text or ""
    found: list[str] = []
    for category, regex in _CATEGORY_RE.items():
        if regex.search(text):
            found.append(category)
    fnr_spans = []
    for m in _FNR_RE.finditer(text):
        if fodselsnummer.is_valid(m.group(1) + m.group(2)):
            fnr_spans.append(m.span())
    if fnr_spans:
        found.append("national_id")
    for m in _CARD_RE.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        inside_fnr = any(a <= m.start() and m.end() <= b for a, b in fnr_spans)
        if not inside_fnr and 13 <= len(digits) <= 19 and luhn.is_valid(digits):
            found.append("payment_card")
            break
    return [NoteWarning(code, CATEGORY_LABELS[code]) for code in found]


# --- blocks (PAT-3) -----------------------------------------------------------------


@dataclass(frozen=True)
class EffectiveBlock:
    """A block in force now: a manual Block row (block_id) or an automatic one (None)."""

    code: str
    label: str
    automatic: bool
    block_id: object = None
    expires_on: dt.date | None = None


# Circulation registers rules for fine and overdue limits here:
# fn(patron, today) -> list[EffectiveBlock]
AUTOMATIC_BLOCK_RULES: list[Callable] = []


def register_block_rule(rule: Callable) -> Callable:
    if rule not in AUTOMATIC_BLOCK_RULES:
        AUTOMATIC_BLOCK_RULES.append(rule)
    return rule


# Panels that higher layers add to the staff patron record (circulation: loans, holds,
# fees, a "check out" button): fn(actor, patron) -> (template name, context) or None
RECORD_PANELS: list[Callable] = []


def register_record_panel(panel: Callable) -> Callable:
    if panel not in RECORD_PANELS:
        RECORD_PANELS.append(panel)
    return panel


def expired_card_block(patron, today: dt.date) -> list[EffectiveBlock]:
    if patron.expiry_date is not None and patron.expiry_date < today:
        return [EffectiveBlock("expired", "Card expired", True, None, None)]
    return []


register_block_rule(expired_card_block)


def block_in_force(block, today: dt.date) -> bool:
    return block.lifted_at is None and (block.expires_on is None or block.expires_on >= today)


def effective_blocks(patron, blocks, *, today: dt.date | None = None) -> list[EffectiveBlock]:
    """Manual blocks in force (from `blocks`) plus every automatic rule's blocks."""
    from quietshelf.patrons.models import BlockReason

    today = today or clock.today()
    out = [
        EffectiveBlock(
            b.reason_code,
            str(BlockReason(b.reason_code).label),
            False,
            b.pk,
            b.expires_on,
        )
        for b in blocks
        if block_in_force(b, today)
    ]
    for rule in AUTOMATIC_BLOCK_RULES:
        out.extend(rule(patron, today))
    return out


def is_unavailable_date(value) -> bool:
    """True for an erased or unreadable encrypted value (shown as text, never a date)."""
    return value is not None and not isinstance(value, dt.date)


def expiry_from_group(
    *, expiry: dt.date | None, validity_days: int | None, today: dt.date
) -> dt.date | None:
    """A new patron's expiry date: the one given, else today plus their group's validity
    (none when the group sets none). Registration and patron loads both use it."""
    if expiry is None and validity_days:
        return today + dt.timedelta(days=validity_days)
    return expiry


# --- cleaning what a form, the API or a patron load gives (services and loads) ----------


MAX_NAME = 200


def clean_name(value, label: str) -> str:
    """A name part with its spaces collapsed; at most MAX_NAME characters."""
    value = " ".join(str(value or "").split())
    if len(value) > MAX_NAME:
        raise InvalidInput(f"The {label} has at most {MAX_NAME} characters.", code="invalid_name")
    return value


def clean_choice(value, choices, label: str, default=""):
    """One of a TextChoices' values ("" or None gives the default)."""
    if value in (None, ""):
        return default
    if value not in choices.values:
        raise InvalidInput(f"Unknown {label} {value!r}.", code=f"invalid_{label.replace(' ', '_')}")
    return value


def clean_date_of_birth(value):
    """A plausible date of birth: not in the future, not before 1880."""
    value = clean_date(value, "date of birth")
    if value is not None and (value > clock.today() or value.year < 1880):
        raise InvalidInput("The date of birth is not plausible.", code="invalid_date")
    return value
