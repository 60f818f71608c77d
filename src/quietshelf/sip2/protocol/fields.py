"""The SIP2 2.00 messages Quietshelf understands: fixed fields and their widths.

Names follow the 3M specification. Variable fields are identified by their
two-letter ids (listed in FIELD_NAMES for docs and logs).
"""

from __future__ import annotations

from dataclasses import dataclass

DATE = 18  # YYYYMMDDZZZZHHMMSS


@dataclass(frozen=True)
class Spec:
    name: str
    response: str  # the response's command code ("" for none of its own)
    fixed: tuple[tuple[str, int], ...] = ()


REQUESTS: dict[str, Spec] = {
    "93": Spec("Login", "94", (("uid_algorithm", 1), ("pwd_algorithm", 1))),
    "99": Spec(
        "SC Status",
        "98",
        (("status_code", 1), ("max_print_width", 3), ("protocol_version", 4)),
    ),
    "23": Spec("Patron Status", "24", (("language", 3), ("transaction_date", DATE))),
    "63": Spec(
        "Patron Information",
        "64",
        (("language", 3), ("transaction_date", DATE), ("summary", 10)),
    ),
    "11": Spec(
        "Checkout",
        "12",
        (
            ("sc_renewal_policy", 1),
            ("no_block", 1),
            ("transaction_date", DATE),
            ("nb_due_date", DATE),
        ),
    ),
    "09": Spec(
        "Checkin",
        "10",
        (("no_block", 1), ("transaction_date", DATE), ("return_date", DATE)),
    ),
    "29": Spec(
        "Renew",
        "30",
        (
            ("third_party_allowed", 1),
            ("no_block", 1),
            ("transaction_date", DATE),
            ("nb_due_date", DATE),
        ),
    ),
    "65": Spec("Renew All", "66", (("transaction_date", DATE),)),
    "17": Spec("Item Information", "18", (("transaction_date", DATE),)),
    "37": Spec(
        "Fee Paid",
        "38",
        (
            ("transaction_date", DATE),
            ("fee_type", 2),
            ("payment_type", 2),
            ("currency_type", 3),
        ),
    ),
    "15": Spec("Hold", "16", (("hold_mode", 1), ("transaction_date", DATE))),
    "35": Spec("End Patron Session", "36", (("transaction_date", DATE),)),
    "01": Spec("Block Patron", "24", (("card_retained", 1), ("transaction_date", DATE))),
    "97": Spec("Request ACS Resend", ""),
}

# Responses, for the test client and the docs (the server formats them itself).
RESPONSES: dict[str, Spec] = {
    "94": Spec("Login Response", "", (("ok", 1),)),
    "98": Spec(
        "ACS Status",
        "",
        (
            ("online_status", 1),
            ("checkin_ok", 1),
            ("checkout_ok", 1),
            ("acs_renewal_policy", 1),
            ("status_update_ok", 1),
            ("offline_ok", 1),
            ("timeout_period", 3),
            ("retries_allowed", 3),
            ("date_time_sync", DATE),
            ("protocol_version", 4),
        ),
    ),
    "24": Spec(
        "Patron Status Response",
        "",
        (("patron_status", 14), ("language", 3), ("transaction_date", DATE)),
    ),
    "64": Spec(
        "Patron Information Response",
        "",
        (
            ("patron_status", 14),
            ("language", 3),
            ("transaction_date", DATE),
            ("hold_items_count", 4),
            ("overdue_items_count", 4),
            ("charged_items_count", 4),
            ("fine_items_count", 4),
            ("recall_items_count", 4),
            ("unavailable_holds_count", 4),
        ),
    ),
    "12": Spec(
        "Checkout Response",
        "",
        (
            ("ok", 1),
            ("renewal_ok", 1),
            ("magnetic_media", 1),
            ("desensitize", 1),
            ("transaction_date", DATE),
        ),
    ),
    "10": Spec(
        "Checkin Response",
        "",
        (
            ("ok", 1),
            ("resensitize", 1),
            ("magnetic_media", 1),
            ("alert", 1),
            ("transaction_date", DATE),
        ),
    ),
    "30": Spec(
        "Renew Response",
        "",
        (
            ("ok", 1),
            ("renewal_ok", 1),
            ("magnetic_media", 1),
            ("desensitize", 1),
            ("transaction_date", DATE),
        ),
    ),
    "66": Spec(
        "Renew All Response",
        "",
        (("ok", 1), ("renewed_count", 4), ("unrenewed_count", 4), ("transaction_date", DATE)),
    ),
    "18": Spec(
        "Item Information Response",
        "",
        (
            ("circulation_status", 2),
            ("security_marker", 2),
            ("fee_type", 2),
            ("transaction_date", DATE),
        ),
    ),
    "38": Spec("Fee Paid Response", "", (("payment_accepted", 1), ("transaction_date", DATE))),
    "16": Spec("Hold Response", "", (("ok", 1), ("available", 1), ("transaction_date", DATE))),
    "36": Spec("End Session Response", "", (("end_session", 1), ("transaction_date", DATE))),
    "96": Spec("Request SC Resend", ""),
}

# The order of the 16 Y/N positions of BX (supported messages) in 98.
SUPPORTED_ORDER: tuple[str, ...] = (
    "23",  # patron status request
    "11",  # checkout
    "09",  # checkin
    "01",  # block patron
    "99",  # SC/ACS status
    "97",  # request SC/ACS resend
    "93",  # login
    "63",  # patron information
    "35",  # end patron session
    "37",  # fee paid
    "17",  # item information
    "19",  # item status update (not supported)
    "25",  # patron enable (not supported)
    "15",  # hold
    "29",  # renew
    "65",  # renew all
)

# Messages a terminal account may be allowed; Login, SC Status and Resend are always allowed.
ALWAYS_ALLOWED = frozenset({"93", "99", "97"})
GRANTABLE: tuple[str, ...] = ("23", "63", "11", "09", "29", "65", "17", "37", "15", "35", "01")

# Item circulation status (18).
CIRC_OTHER = "01"
CIRC_AVAILABLE = "03"
CIRC_CHARGED = "04"
CIRC_IN_PROCESS = "06"
CIRC_ON_HOLD_SHELF = "08"
CIRC_IN_TRANSIT = "10"
CIRC_CLAIMED_RETURNED = "11"
CIRC_LOST = "12"
CIRC_MISSING = "13"

# Patron status (14 positions, "Y" = denied/true, space = no).
PATRON_STATUS_POSITIONS: tuple[str, ...] = (
    "charge_denied",
    "renewal_denied",
    "recall_denied",
    "hold_denied",
    "card_lost",
    "too_many_charged",
    "too_many_overdue",
    "too_many_renewals",
    "too_many_claims_returned",
    "too_many_lost",
    "excessive_fines",
    "excessive_fees",
    "recall_overdue",
    "too_many_billed",
)

# Summary (63): which item list the terminal asks for; one "Y" position.
SUMMARY_POSITIONS: tuple[str, ...] = (
    "hold",
    "overdue",
    "charged",
    "fine",
    "recall",
    "unavailable_hold",
)

# Checkin alert types (CV).
ALERT_HOLD_HERE = "01"
ALERT_HOLD_ELSEWHERE = "02"
ALERT_SEND_HOME = "04"
ALERT_OTHER = "99"

# Language codes (fixed field "language").
LANGUAGES = {"001": "en", "012": "nb"}
LANGUAGE_CODES = {value: key for key, value in LANGUAGES.items()}

FIELD_NAMES: dict[str, str] = {
    "AA": "patron identifier",
    "AB": "item identifier",
    "AC": "terminal password",
    "AD": "patron password (PIN)",
    "AE": "personal name",
    "AF": "screen message",
    "AG": "print line",
    "AH": "due date",
    "AJ": "title identifier",
    "AL": "blocked card message",
    "AM": "library name",
    "AN": "terminal location",
    "AO": "institution id",
    "AP": "current location",
    "AQ": "permanent location",
    "AS": "hold items",
    "AT": "overdue items",
    "AU": "charged items",
    "AV": "fine items",
    "AY": "sequence number",
    "AZ": "checksum",
    "BD": "home address",
    "BE": "e-mail address",
    "BF": "home phone number",
    "BG": "owner",
    "BH": "currency type",
    "BK": "transaction id",
    "BL": "valid patron",
    "BM": "renewed items",
    "BN": "unrenewed items",
    "BO": "fee acknowledged",
    "BP": "start item",
    "BQ": "end item",
    "BR": "queue position",
    "BS": "pickup location",
    "BT": "fee type",
    "BU": "recall items",
    "BV": "fee amount",
    "BW": "expiration date",
    "BX": "supported messages",
    "BY": "hold type",
    "BZ": "hold items limit",
    "CA": "overdue items limit",
    "CB": "charged items limit",
    "CD": "unavailable hold items",
    "CF": "hold queue length",
    "CG": "fee identifier",
    "CH": "item properties",
    "CI": "security inhibit",
    "CJ": "recall date",
    "CK": "media type",
    "CL": "sort bin",
    "CM": "hold pickup date",
    "CN": "login user id",
    "CO": "login password",
    "CP": "location code",
    "CQ": "valid patron password",
    "CV": "alert type",
}
