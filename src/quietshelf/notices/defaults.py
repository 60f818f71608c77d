"""Built-in notice texts (used when a library has not written its own) and sample values.

Minimal by default (PRV-NOT-1): counts and dates, never a title, barcode or
credential; titles appear only when the library allows them and the patron
opted in (the `titles` list is empty otherwise). Plain text.
"""

from __future__ import annotations

import datetime as dt

COMMON_VARIABLES = ("library", "account_url")

# variables each notice type gets, besides COMMON_VARIABLES
VARIABLES = {
    "due_soon": ("count", "due_date", "titles"),
    "overdue": ("count", "due_date", "level", "titles"),
    "hold_ready": ("pickup_branch", "expires_on", "titles"),
    "expiring_card": ("expiry_date",),
    "fee": ("count", "amount"),
    "receipt": ("count", "due_dates"),
    "privacy": ("headline", "message"),
}

# the only values a {% for %} may go through (SEC-TPL-1): lists the notice itself builds
LIST_VARIABLES = ("titles", "due_dates")


def sample(notice_type: str) -> dict:
    """Values for previews and the save-time check (fictional)."""
    day = dt.date(2026, 3, 5)
    values = {
        "library": "Quietshelf Library",
        "account_url": "https://library.example/account/",
        "count": 2,
        "due_date": day,
        "level": 1,
        "titles": ["The Lighthouse Keeper's Garden", "Notes on Quiet Rooms"],
        "pickup_branch": "North",
        "expires_on": day,
        "expiry_date": day,
        "amount": "NOK 45.00",
        "due_dates": [day, dt.date(2026, 3, 19)],
        "headline": "A security incident at the library",
        "message": "On 3 March someone reached our patron register without permission.",
    }
    allowed = set(VARIABLES[notice_type]) | set(COMMON_VARIABLES)
    return {k: v for k, v in values.items() if k in allowed}


_DUES_EN = (
    '{% for d in due_dates %}{{ d|date:"j F" }}{% if not forloop.last %}, {% endif %}{% endfor %}'
)
_DUES_NB = (
    '{% for d in due_dates %}{{ d|date:"j. F" }}{% if not forloop.last %}, {% endif %}{% endfor %}'
)
_TITLES_EN = "{% if titles %}\n{% for t in titles %}- {{ t }}\n{% endfor %}{% endif %}"
_TITLES_NB = _TITLES_EN
_FOOT_EN = "\nSign in to see the details: {{ account_url }}\n\n{{ library }}\n"
_FOOT_NB = "\nLogg inn for å se detaljene: {{ account_url }}\n\n{{ library }}\n"

# (notice_type, language, channel) -> (subject, body)
DEFAULTS: dict[tuple[str, str, str], tuple[str, str]] = {
    ("due_soon", "en", "email"): (
        'Items due on {{ due_date|date:"j F" }}',
        'You have {{ count }} item{{ count|pluralize }} due on {{ due_date|date:"j F" }}.'
        + _TITLES_EN
        + _FOOT_EN,
    ),
    ("due_soon", "nb", "email"): (
        'Lån som skal leveres {{ due_date|date:"j. F" }}',
        'Du har {{ count }} lån som skal leveres {{ due_date|date:"j. F" }}.'
        + _TITLES_NB
        + _FOOT_NB,
    ),
    ("due_soon", "en", "sms"): (
        "",
        'You have {{ count }} item{{ count|pluralize }} due on {{ due_date|date:"j F" }}. '
        "Sign in to see the details. {{ library }}",
    ),
    ("due_soon", "nb", "sms"): (
        "",
        'Du har {{ count }} lån som skal leveres {{ due_date|date:"j. F" }}. '
        "Logg inn for å se detaljene. {{ library }}",
    ),
    ("overdue", "en", "email"): (
        "{% if level == 3 %}Final reminder: {% elif level == 2 %}Second reminder: {% endif %}"
        "overdue item{{ count|pluralize }}",
        "{% if level == 3 %}Final reminder. {% elif level == 2 %}Second reminder. {% endif %}"
        'You have {{ count }} item{{ count|pluralize }} that {{ count|pluralize:"was,were" }} '
        'due on {{ due_date|date:"j F" }}. Please return or renew '
        '{{ count|pluralize:"it,them" }}.' + _TITLES_EN + _FOOT_EN,
    ),
    ("overdue", "nb", "email"): (
        "{% if level == 3 %}Siste påminnelse: {% elif level == 2 %}Andre påminnelse: {% endif %}"
        "lån på overtid",
        "{% if level == 3 %}Siste påminnelse. {% elif level == 2 %}Andre påminnelse. {% endif %}"
        'Du har {{ count }} lån som skulle vært levert {{ due_date|date:"j. F" }}. '
        "Lever eller forny så snart du kan." + _TITLES_NB + _FOOT_NB,
    ),
    ("overdue", "en", "sms"): (
        "",
        "{% if level == 3 %}Final reminder: {% elif level == 2 %}Second reminder: {% endif %}"
        'You have {{ count }} item{{ count|pluralize }} that {{ count|pluralize:"was,were" }} '
        'due on {{ due_date|date:"j F" }}. Sign in to see the details. {{ library }}',
    ),
    ("overdue", "nb", "sms"): (
        "",
        "{% if level == 3 %}Siste påminnelse: {% elif level == 2 %}Andre påminnelse: {% endif %}"
        'Du har {{ count }} lån som skulle vært levert {{ due_date|date:"j. F" }}. '
        "Logg inn for å se detaljene. {{ library }}",
    ),
    ("hold_ready", "en", "email"): (
        "Ready to collect at {{ pickup_branch }}",
        "Something you asked for is ready to collect at {{ pickup_branch }}"
        '{% if expires_on %} until {{ expires_on|date:"j F" }}{% endif %}.' + _TITLES_EN + _FOOT_EN,
    ),
    ("hold_ready", "nb", "email"): (
        "Klar til henting på {{ pickup_branch }}",
        "Noe du har reservert er klart til henting på {{ pickup_branch }}"
        '{% if expires_on %} til og med {{ expires_on|date:"j. F" }}{% endif %}.'
        + _TITLES_NB
        + _FOOT_NB,
    ),
    ("hold_ready", "en", "sms"): (
        "",
        "Something you asked for is ready to collect at {{ pickup_branch }}"
        '{% if expires_on %} until {{ expires_on|date:"j F" }}{% endif %}. {{ library }}',
    ),
    ("hold_ready", "nb", "sms"): (
        "",
        "Noe du har reservert er klart til henting på {{ pickup_branch }}"
        '{% if expires_on %} til og med {{ expires_on|date:"j. F" }}{% endif %}. {{ library }}',
    ),
    ("expiring_card", "en", "email"): (
        "Your library card expires soon",
        'Your library card expires on {{ expiry_date|date:"j F Y" }}. '
        "Visit the library or sign in to renew it." + _FOOT_EN,
    ),
    ("expiring_card", "nb", "email"): (
        "Lånekortet ditt går snart ut",
        'Lånekortet ditt går ut {{ expiry_date|date:"j. F Y" }}. '
        "Kom innom biblioteket eller logg inn for å fornye det." + _FOOT_NB,
    ),
    ("expiring_card", "en", "sms"): (
        "",
        'Your library card expires on {{ expiry_date|date:"j F Y" }}. {{ library }}',
    ),
    ("expiring_card", "nb", "sms"): (
        "",
        'Lånekortet ditt går ut {{ expiry_date|date:"j. F Y" }}. {{ library }}',
    ),
    ("fee", "en", "email"): (
        "Fees to pay",
        "You have {{ count }} unpaid fee{{ count|pluralize }} at the library, "
        "{{ amount }} in all." + _FOOT_EN,
    ),
    ("fee", "nb", "email"): (
        "Gebyrer å betale",
        "Du har {{ count }} ubetalte gebyr{{ count|pluralize:',er' }} på biblioteket, "
        "{{ amount }} til sammen." + _FOOT_NB,
    ),
    ("fee", "en", "sms"): (
        "",
        "You have {{ count }} unpaid fee{{ count|pluralize }} at the library, {{ amount }} in "
        "all. Sign in to see the details. {{ library }}",
    ),
    ("fee", "nb", "sms"): (
        "",
        "Du har {{ count }} ubetalte gebyr{{ count|pluralize:',er' }} på biblioteket, "
        "{{ amount }} til sammen. Logg inn for å se detaljene. {{ library }}",
    ),
    ("receipt", "en", "email"): (
        "Your loans",
        "You borrowed {{ count }} item{{ count|pluralize }}. Due: " + _DUES_EN + "." + _FOOT_EN,
    ),
    ("receipt", "nb", "email"): (
        "Lånene dine",
        "Du lånte {{ count }} ting. Leveres: " + _DUES_NB + "." + _FOOT_NB,
    ),
    ("receipt", "en", "sms"): (
        "",
        "You borrowed {{ count }} item{{ count|pluralize }}. Due: " + _DUES_EN + ". {{ library }}",
    ),
    ("receipt", "nb", "sms"): (
        "",
        "Du lånte {{ count }} ting. Leveres: " + _DUES_NB + ". {{ library }}",
    ),
    # privacy notices (breach, disclosure): the reviewed text, written by the privacy office
    ("privacy", "en", "email"): ("{{ headline }}", "{{ message }}\n\n{{ library }}\n"),
    ("privacy", "nb", "email"): ("{{ headline }}", "{{ message }}\n\n{{ library }}\n"),
    ("privacy", "en", "sms"): (
        "",
        "{{ headline }}. Sign in or contact the library for what it means for you. {{ library }}",
    ),
    ("privacy", "nb", "sms"): (
        "",
        "{{ headline }}. Logg inn eller kontakt biblioteket for hva det betyr for deg. "
        "{{ library }}",
    ),
}


def variables_for(notice_type: str) -> tuple[str, ...]:
    return tuple(VARIABLES[notice_type]) + COMMON_VARIABLES
